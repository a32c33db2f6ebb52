#include "deploy_support.h"

#include <linux/bpf.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "expect.h"
#include "exposition.h"
#include "ports.h"
#include "sides.h"
#include "test_outcome.h"

#ifndef NETLENS_BINARY
#error "NETLENS_BINARY must be defined by the build"
#endif

namespace netlens::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The Debian package of each program the tests run, for the message when one is missing.
const std::map<std::string, std::string> kPackageOf = {
    {"curl", "curl"},          {"openssl", "openssl"},         {"htpasswd", "apache2-utils"},
    {"setpriv", "util-linux"}, {"unshare", "util-linux"},      {"systemd-analyze", "systemd"},
    {"dpkg-deb", "dpkg"},      {"readelf", "binutils"},        {"cp", "coreutils"},
    {"env", "coreutils"},      {"dpkg-shlibdeps", "dpkg-dev"}, {"mknod", "coreutils"}};

}  // namespace

std::string SourceDir() { return NETLENS_SOURCE_DIR; }
std::string BuildDir() { return NETLENS_BUILD_DIR; }
std::string InstallPrefix() { return NETLENS_INSTALL_PREFIX; }
std::string InstallSbinDir() { return NETLENS_INSTALL_SBINDIR; }
std::string InstallSysconfDir() { return NETLENS_INSTALL_SYSCONFDIR; }
std::string InstallLibDir() { return NETLENS_INSTALL_LIBDIR; }

std::string Tool(const std::string& name) {
  if (name == "cmake") return NETLENS_CMAKE_COMMAND;
  if (name == "cpack") return NETLENS_CPACK_COMMAND;
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  path += ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  const auto package = kPackageOf.find(name);
  FAIL("program '" << name << "' not found; install the Debian package "
                   << (package != kPackageOf.end() ? package->second : name)
                   << " (scripts/install-deps.sh lists it)");
  return "";
}

std::string Join(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

Output RunOk(const std::vector<std::string>& argv) {
  Output output = Run(argv, 120s);
  INFO("$ " << Join(argv) << "\n" << output.out << output.err);
  REQUIRE_FALSE(output.timed_out);
  REQUIRE(output.status.Describe() == "exit code 0");
  return output;
}

void InstallInto(const std::string& destdir) {
  // DESTDIR comes from the environment of cmake --install.
  RunOk({Tool("env"), "DESTDIR=" + destdir, Tool("cmake"), "--install", BuildDir()});
}

std::vector<std::string> ListTree(const std::string& root) {
  std::vector<std::string> entries;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root)) {
    const std::string relative = entry.path().string().substr(root.size());
    if (entry.is_symlink()) {
      entries.push_back(relative + " -> " + fs::read_symlink(entry.path()).string());
    } else if (!entry.is_directory()) {
      entries.push_back(relative);
    }
  }
  std::sort(entries.begin(), entries.end());
  return entries;
}

Certificate MakeCertificate(const TempDir& dir, const std::string& name) {
  Certificate cert{dir.PathOf(name + ".crt"), dir.PathOf(name + ".key")};
  RunOk({Tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", cert.key_file, "-out", cert.cert_file,
         "-days", "2", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  return cert;
}

std::string BcryptHash(const std::string& user, const std::string& password) {
  // "user:$2y$10$...\n\n"
  const Output output = RunOk({Tool("htpasswd"), "-nbBC", "10", user, password});
  const size_t colon = output.out.find(':');
  const size_t end = output.out.find('\n');
  REQUIRE(colon != std::string::npos);
  REQUIRE(end != std::string::npos);
  return output.out.substr(colon + 1, end - colon - 1);
}

std::vector<ThreadPrivileges> ThreadsOf(pid_t pid) {
  std::vector<ThreadPrivileges> threads;
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  for (const fs::directory_entry& entry : fs::directory_iterator(task_dir)) {
    ThreadPrivileges thread;
    thread.tid = std::stoi(entry.path().filename().string());
    std::ifstream comm(entry.path() / "comm");
    std::getline(comm, thread.comm);
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);) {
      const auto hex = [&](const std::string& prefix, uint64_t& out) {
        if (line.rfind(prefix, 0) == 0) out = std::stoull(line.substr(prefix.size()), nullptr, 16);
      };
      hex("CapInh:", thread.inheritable);
      hex("CapPrm:", thread.permitted);
      hex("CapEff:", thread.effective);
      hex("CapBnd:", thread.bounding);
      hex("CapAmb:", thread.ambient);
      if (line.rfind("NoNewPrivs:", 0) == 0) thread.no_new_privs = std::stoi(line.substr(11));
    }
    threads.push_back(thread);
  }
  return threads;
}

std::string Describe(const ThreadPrivileges& t) {
  char text[256];
  std::snprintf(text, sizeof text,
                "thread %d (%s): CapInh %016llx CapPrm %016llx CapEff %016llx CapBnd %016llx "
                "CapAmb %016llx NoNewPrivs %d",
                t.tid, t.comm.c_str(), static_cast<unsigned long long>(t.inheritable),
                static_cast<unsigned long long>(t.permitted),
                static_cast<unsigned long long>(t.effective),
                static_cast<unsigned long long>(t.bounding),
                static_cast<unsigned long long>(t.ambient), t.no_new_privs);
  return text;
}

uint64_t ExpectedKeptCapabilities() {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none[2] = {};
    if (syscall(SYS_capset, &header, none) != 0) _exit(3);
    union bpf_attr attr {};
    attr.map_fd = static_cast<uint32_t>(-1);
    const long result = syscall(SYS_bpf, BPF_MAP_GET_NEXT_KEY, &attr, sizeof attr);
    if (result == 0) _exit(4);
    _exit(errno == EPERM ? 1 : errno == EBADF ? 0 : 5);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  INFO("probe exit code: 0 = EBADF, 1 = EPERM, other = unexpected");
  REQUIRE((WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1));
  return WEXITSTATUS(status) == 1 ? kCapBpfBit : 0;
}

void RequireExactTraffic(const std::function<Scrape()>& scrape, bool per_connection) {
  TrafficOptions options{
      .comm = UniqueComm(), .connections = 3, .rounds = 4, .request = 1000, .response = 20000};
  const TrafficReport report = RunTraffic(options);
  RequireHelperCalls(options, report);
  const Scrape scraped = scrape();
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    if (per_connection) {
      for (const TrafficConnection& connection : report.connections) {
        INFO("the connection from port " << connection.client_port);
        RequireTraffic(scraped, ConnectionLabels(side, options, report, connection),
                       side.per_connection);
      }
      RequireConnections(scraped, RemoteLabels(side, options, report), options.connections,
                         options.connections);
    } else {
      RequireTraffic(scraped, side.process, side.counts);
      RequireConnections(scraped, DirectionLabels(side), options.connections, options.connections);
    }
  }
}

}  // namespace netlens::test
