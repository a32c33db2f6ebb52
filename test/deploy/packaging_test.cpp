// Installation (cmake --install), the systemd unit (systemd-analyze verify) and the Debian
// package (cpack -G DEB, dpkg-deb). systemd is not PID 1 on a build host, so the unit is
// checked offline; tests/deploy/*_test.cpp run the daemon as the unit would.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>

#include "deploy_support.h"

namespace netlens::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::vector<std::string> ExpectedInstall() {
  std::vector<std::string> files = {InstallSbinDir() + "/netlens",
                                    InstallPrefix() + "/lib/systemd/system/netlens.service",
                                    InstallSysconfDir() + "/netlens/netlens.yaml"};
  std::sort(files.begin(), files.end());
  return files;
}

// The unit with the paths of this build's installation (the same text when the prefix is /usr).
std::string ExpectedUnit() {
  std::string unit = ReadFile(SourceDir() + "/deploy/systemd/netlens.service");
  const auto replace = [&](const std::string& from, const std::string& to) {
    for (size_t at = unit.find(from); at != std::string::npos;
         at = unit.find(from, at + to.size())) {
      unit.replace(at, from.size(), to);
    }
  };
  replace("/usr/sbin/netlens", InstallSbinDir() + "/netlens");
  replace("/etc/netlens/", InstallSysconfDir() + "/netlens/");
  return unit;
}

TEST_CASE("install: cmake --install puts exactly the binary, the unit and the config in place",
          "[install][unprivileged]") {
  TempDir destdir;
  InstallInto(destdir.path());
  CHECK(ListTree(destdir.path()) == ExpectedInstall());

  const std::string root = destdir.path();
  CHECK(ReadFile(root + InstallPrefix() + "/lib/systemd/system/netlens.service") == ExpectedUnit());
  CHECK(ReadFile(root + InstallSysconfDir() + "/netlens/netlens.yaml") ==
        ReadFile(SourceDir() + "/config/netlens.yaml"));

  // Nothing private to search: no run path.
  const Output dynamic = RunOk({Tool("readelf"), "-d", root + InstallSbinDir() + "/netlens"});
  CHECK(dynamic.out.find("(RPATH)") == std::string::npos);
  CHECK(dynamic.out.find("(RUNPATH)") == std::string::npos);

  const Output version = RunOk({root + InstallSbinDir() + "/netlens", "--version"});
  CHECK(version.out.rfind("netlens ", 0) == 0);
}

TEST_CASE("systemd unit: systemd-analyze verify finds nothing to report",
          "[install][unprivileged]") {
  // An offline root: the installed files, the host's own units (sysinit.target, ...) and the
  // kill of ExecReload, as verify checks that every command exists.
  TempDir root;
  InstallInto(root.path());
  RunOk({Tool("cp"), "-r", "/usr/lib/systemd/system/.", root.path() + "/usr/lib/systemd/system"});
  fs::create_directories(root.path() + "/bin");
  fs::copy_file("/bin/kill", root.path() + "/bin/kill");
  const Output output = Run(
      {Tool("systemd-analyze"), "verify", "--man=no", "--root=" + root.path(), "netlens.service"},
      120s);
  INFO(output.out << output.err);
  CHECK(output.status.Describe() == "exit code 0");
  // Unknown keys and bad values are warnings with exit code 0: no output at all is the pass.
  CHECK(output.out == "");
  CHECK(output.err == "");

  SECTION("and it would report a mistake") {
    std::string unit = ReadFile(root.path() + "/usr/lib/systemd/system/netlens.service");
    unit.replace(unit.find("MemoryDenyWriteExecute=yes"), 26, "MemoryDenyWriteExecute=maybe");
    root.Write("usr/lib/systemd/system/netlens.service", unit);
    const Output broken = Run(
        {Tool("systemd-analyze"), "verify", "--man=no", "--root=" + root.path(), "netlens.service"},
        120s);
    CHECK(broken.err.find("netlens.service:") != std::string::npos);
    CHECK(broken.err.find("Failed to parse boolean value, ignoring: maybe") != std::string::npos);
  }
}

TEST_CASE("systemd unit: Type=notify, the commands, restart, and what bounds the service",
          "[install][unprivileged]") {
  std::set<std::string> lines;
  std::istringstream unit(ReadFile(SourceDir() + "/deploy/systemd/netlens.service"));
  for (std::string line; std::getline(unit, line);) lines.insert(line);
  for (const char* expected :
       {"Type=notify", "ExecStart=/usr/sbin/netlens --config /etc/netlens/netlens.yaml",
        "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
        "CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE CAP_SETPCAP",
        "NoNewPrivileges=yes", "LimitMEMLOCK=infinity", "ProtectSystem=strict", "ProtectHome=yes",
        "PrivateTmp=yes", "ProtectKernelModules=yes", "ProtectControlGroups=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallArchitectures=native",
        "LockPersonality=yes", "MemoryDenyWriteExecute=yes", "WantedBy=multi-user.target"}) {
    INFO(expected);
    CHECK(lines.count(expected) == 1);
  }
  // Root with a bounding set, not a user with ambient capabilities (docs/deployment.md).
  for (const char* absent : {"User=", "DynamicUser=", "AmbientCapabilities=", "ProtectProc="}) {
    for (const std::string& line : lines) {
      INFO(line);
      CHECK(line.rfind(absent, 0) == std::string::npos);
    }
  }
}

// "name (>= version), other" -> {name, other}
std::set<std::string> PackageNames(const std::string& depends) {
  std::set<std::string> names;
  std::stringstream items(depends);
  for (std::string item; std::getline(items, item, ',');) {
    const size_t start = item.find_first_not_of(' ');
    const size_t end = item.find_first_of(" (", start);
    names.insert(item.substr(start, end - start));
  }
  return names;
}

TEST_CASE(
    "deb: cpack -G DEB builds a package with the installed files, the dependencies and "
    "the conffile",
    "[install][unprivileged]") {
  INFO("this build installs under "
       << InstallPrefix()
       << "; the .deb needs a build configured with "
          "CMAKE_INSTALL_PREFIX=/usr (a new build directory's default)");
  REQUIRE(InstallPrefix() == "/usr");
  TempDir out;
  RunOk({Tool("cpack"), "-G", "DEB", "--config", BuildDir() + "/CPackConfig.cmake", "-B",
         out.path()});
  std::vector<std::string> debs;
  for (const fs::directory_entry& entry : fs::directory_iterator(out.path())) {
    if (entry.path().extension() == ".deb") debs.push_back(entry.path().filename().string());
  }
  REQUIRE(debs.size() == 1);
  const std::string deb = out.PathOf(debs.front());
  const std::string version = RunOk({Tool("dpkg-deb"), "-f", deb, "Version"}).out;
  const std::string arch = RunOk({Tool("dpkg-deb"), "-f", deb, "Architecture"}).out;
  CHECK(debs.front() == "netlens_" + version.substr(0, version.size() - 1) + "_" +
                            arch.substr(0, arch.size() - 1) + ".deb");
  CHECK(RunOk({Tool("dpkg-deb"), "-f", deb, "Package"}).out == "netlens\n");

  // dpkg-deb -c: "-rwxr-xr-x root/root 123 2024-01-01 00:00 ./usr/sbin/netlens"
  std::vector<std::string> listed;
  std::istringstream contents(RunOk({Tool("dpkg-deb"), "-c", deb}).out);
  for (std::string line; std::getline(contents, line);) {
    if (line.empty() || line[0] == 'd') continue;  // directories
    const size_t path = line.find(" ./");
    REQUIRE(path != std::string::npos);
    listed.push_back(line.substr(path + 2));
  }
  std::sort(listed.begin(), listed.end());
  CHECK(listed == ExpectedInstall());  // what cmake --install puts in place, nothing else

  const std::string depends = RunOk({Tool("dpkg-deb"), "-f", deb, "Depends"}).out;
  INFO("Depends: " << depends);
  const std::set<std::string> names = PackageNames(depends.substr(0, depends.size() - 1));
  // dpkg-shlibdeps names what the binary links directly (Debian 12's spdlog package is
  // libspdlog1.10-fmt9; Boost.Beast/Asio are header-only).
  for (const char* package :
       {"libbpf1", "libprometheus-cpp-core1.0", "zlib1g", "libyaml-cpp0.7", "libspdlog1.10-fmt9",
        "libsystemd0", "libssl3", "libcrypt1", "libc6", "libstdc++6"}) {
    INFO(package);
    CHECK(names.count(package) == 1);
  }
  // The HTTP server is built in: no civetweb, no prometheus-cpp pull library, no libssl-dev.
  for (const char* package : {"libcivetweb1", "libprometheus-cpp-pull1.0", "libssl-dev"}) {
    INFO(package);
    CHECK(names.count(package) == 0);
  }

  CHECK(RunOk({Tool("dpkg-deb"), "-I", deb, "conffiles"}).out == "/etc/netlens/netlens.yaml\n");
  for (const char* script : {"postinst", "prerm", "postrm"}) {
    INFO(script);
    CHECK(RunOk({Tool("dpkg-deb"), "-I", deb, script}).out ==
          ReadFile(SourceDir() + "/deploy/debian/" + script));
  }
}

}  // namespace
}  // namespace netlens::test
