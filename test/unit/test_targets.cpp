// Tests of the targets and filters config sections and of process/cgroup matching.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"
#include "config_error.h"
#include "targets/target_match.h"

namespace netlens {
namespace {

Config Parse(const std::string& yaml) { return ParseConfig(yaml, "t.yaml"); }

std::string ErrorOf(const std::string& yaml) { return ConfigErrorOf(Parse, yaml); }

TEST_CASE("targets and filters default to watching everything", "[targets]") {
  const Config config = DefaultConfig();
  CHECK(config.targets.empty());
  CHECK(config.filters.empty());
  CHECK(config.limits.target_processes == 16384);
  CHECK(config.limits.target_cgroups == 16384);
  CHECK(Parse("targets:\nfilters:\n").targets.empty());
  CHECK(Parse("targets:\n  include:\n  exclude:\n").targets.empty());
}

TEST_CASE("Every selector and filter kind is read", "[targets]") {
  const Config config = Parse(R"(targets:
  include:
    - pid: 42
    - comm: nginx
    - comm_regex: "^php-fpm"
    - exe: /usr/sbin/*
    - cgroup: /system.slice/*.service
    - unit: nginx.service
    - container: 0123456789ab
  exclude:
    - comm: sshd
filters:
  include:
    - local_port: 80
    - remote_port: 8000-8099
    - remote_cidr: 10.0.0.0/8
    - remote_cidr: "fd00::/8"
  exclude:
    - remote_cidr: 127.0.0.2
)");
  const auto& include = config.targets.include;
  REQUIRE(include.size() == 7);
  CHECK(include[0].kind == SelectorKind::kPid);
  CHECK(include[0].pid == 42);
  CHECK(include[1].kind == SelectorKind::kComm);
  CHECK(include[1].text == "nginx");
  CHECK(include[2].kind == SelectorKind::kCommRegex);
  CHECK(include[2].regex);
  CHECK(include[3].kind == SelectorKind::kExe);
  CHECK(include[4].kind == SelectorKind::kCgroup);
  CHECK(include[5].kind == SelectorKind::kUnit);
  CHECK(include[6].kind == SelectorKind::kContainer);
  REQUIRE(config.targets.exclude.size() == 1);
  CHECK(config.targets.exclude[0].text == "sshd");

  const auto& filters = config.filters.include;
  REQUIRE(filters.size() == 4);
  CHECK(filters[0].kind == FilterKind::kLocalPort);
  CHECK((filters[0].first_port == 80 && filters[0].last_port == 80));
  CHECK(filters[1].kind == FilterKind::kRemotePort);
  CHECK((filters[1].first_port == 8000 && filters[1].last_port == 8099));
  CHECK(filters[2].kind == FilterKind::kRemoteCidr);
  CHECK(filters[2].prefix_length == 96 + 8);
  const std::array<uint8_t, 16> ten = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 0};
  CHECK(filters[2].address == ten);
  CHECK(filters[3].prefix_length == 8);
  CHECK(filters[3].address[0] == 0xfd);
  REQUIRE(config.filters.exclude.size() == 1);
  CHECK(config.filters.exclude[0].prefix_length == 128);  // one address
}

TEST_CASE("Bad selectors and filters are errors at their place", "[targets]") {
  CHECK(ErrorOf("targets:\n  include:\n    - comm_regex: \"([a-z\"\n")
            .starts_with("t.yaml:3:19: 'comm_regex' is not a valid regular expression: '([a-z': "));
  CHECK(ErrorOf("targets:\n  include:\n    - com: nginx\n") ==
        "t.yaml:3:7: unknown selector 'com' in 'targets.include' (did you mean 'comm'?); valid: "
        "pid, comm, comm_regex, exe, cgroup, unit, container");
  CHECK(ErrorOf("targets:\n  inclde:\n    - comm: x\n") ==
        "t.yaml:2:3: unknown key 'inclde' in 'targets' (did you mean 'include'?); valid keys in "
        "'targets': include, exclude");
  CHECK(ErrorOf("targets:\n  include:\n    - comm: x\n      exe: /y\n") ==
        "t.yaml:3:7: 'targets.include' entries are maps of one selector (pid, comm, comm_regex, "
        "exe, cgroup, unit, container), e.g. '- comm: ...', got a map of 2 keys");
  CHECK(ErrorOf("targets:\n  include: nginx\n") ==
        "t.yaml:2:12: 'targets.include' must be a list, got 'nginx'");
  CHECK(ErrorOf("targets:\n  exclude:\n    - comm: abcdefghijklmnop\n") ==
        "t.yaml:3:13: 'comm' is at most 15 characters (the kernel cuts process names there), "
        "got 'abcdefghijklmnop' (16); use comm_regex for a prefix");
  CHECK(ErrorOf("targets:\n  include:\n    - pid: 0\n") ==
        "t.yaml:3:12: 'pid' must be a process id from 1 to 4194304, got '0'");
  CHECK(ErrorOf("targets:\n  include:\n    - exe: nginx\n") ==
        "t.yaml:3:12: 'exe' must be an absolute path or glob like /usr/sbin/*, got 'nginx'");
  CHECK(ErrorOf("targets:\n  include:\n    - unit: nginx\n")
            .starts_with("t.yaml:3:13: 'unit' must be a systemd unit name ending in .service"));
  CHECK(ErrorOf("targets:\n  include:\n    - container: abc\n")
            .starts_with("t.yaml:3:18: 'container' must be a container id or its prefix: 12 to 64 "
                         "lowercase hex"));
  CHECK(ErrorOf("filters:\n  include:\n    - remote_cidr: 10.0.0.1/8\n") ==
        "t.yaml:3:20: 'remote_cidr' has bits set beyond its /8 prefix, got '10.0.0.1/8'");
  CHECK(ErrorOf("filters:\n  include:\n    - remote_cidr: 10.0.0.0/33\n") ==
        "t.yaml:3:20: 'remote_cidr' needs a prefix length from 0 to 32, got '10.0.0.0/33'");
  CHECK(ErrorOf("filters:\n  exclude:\n    - remote_cidr: nonsense\n")
            .starts_with("t.yaml:3:20: 'remote_cidr' must be an IPv4 or IPv6 address"));
  CHECK(ErrorOf("filters:\n  include:\n    - remote_port: 90-80\n") ==
        "t.yaml:3:20: 'remote_port' must be a port (1 to 65535) or a range like 8000-8099, got "
        "'90-80'");
  CHECK(ErrorOf("filters:\n  include:\n    - local_prot: 80\n") ==
        "t.yaml:3:7: unknown filter 'local_prot' in 'filters.include' (did you mean "
        "'local_port'?); valid: local_port, remote_port, remote_cidr");
}

TEST_CASE("Processes match by pid, comm, regex, exe and cgroup, exclude wins", "[targets]") {
  const Config config = Parse(R"(targets:
  include:
    - pid: 7
    - comm: nginx
    - comm_regex: "^php-fpm"
    - exe: /opt/*/bin/app
    - unit: api.service
    - container: 3f2a1b4c5d6e
  exclude:
    - cgroup: /system.slice/sshd.service
)");
  const TargetsConfig& t = config.targets;
  const auto watched = [&](ProcessFacts facts) { return IsWatched(t, MatchProcess(t, facts)); };
  CHECK(watched({.pid = 7, .comm = "x"}));
  CHECK(watched({.pid = 8, .comm = "nginx"}));
  CHECK(watched({.pid = 8, .comm = "php-fpm8.2"}));
  CHECK_FALSE(watched({.pid = 8, .comm = "my-php-fpm"}));
  CHECK(watched({.pid = 8, .comm = "app", .exe = "/opt/shop/bin/app"}));
  CHECK_FALSE(watched({.pid = 8, .comm = "app", .exe = "/opt/shop/x/bin/app"}));  // * stops at /
  CHECK(watched({.pid = 8, .comm = "x", .cgroup = "/system.slice/api.service"}));
  CHECK(watched({.pid = 8, .comm = "x", .cgroup = "/system.slice/api.service/worker"}));
  CHECK_FALSE(watched({.pid = 8, .comm = "x", .cgroup = "/system.slice/api2.service"}));
  CHECK_FALSE(watched({.pid = 7, .comm = "nginx", .cgroup = "/system.slice/sshd.service/x"}));
  CHECK_FALSE(watched({.pid = 8, .comm = "x"}));
}

TEST_CASE("Container ids are found in the usual cgroup path shapes", "[targets]") {
  const Config config = Parse("targets:\n  include:\n    - container: 3f2a1b4c5d6e\n");
  const std::string id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708";
  REQUIRE(id.size() == 64);
  for (const std::string path :
       {"/system.slice/docker-" + id + ".scope", "/docker/" + id,
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/"
        "cri-containerd-" +
            id + ".scope",
        "/kubepods/besteffort/pod12-34/" + id, "/machine.slice/libpod-" + id + ".scope/container",
        "/kubepods.slice/kubepods-pod1.slice/crio-" + id + ".scope"}) {
    INFO(path);
    CHECK(MatchCgroupPath(config.targets, path) == NL_MATCH_INCLUDE);
  }
  CHECK(MatchCgroupPath(config.targets, "/system.slice/docker-3f2a1b4c5d6e.scope") == 0);
  CHECK(MatchCgroupPath(config.targets,
                        "/system.slice/docker-" + std::string(64, 'a') + ".scope") == 0);
}

TEST_CASE("Cgroup globs match a cgroup and everything below it", "[targets]") {
  const Config config = Parse("targets:\n  include:\n    - cgroup: /system.slice/*.service\n");
  CHECK(MatchCgroupPath(config.targets, "/system.slice/nginx.service") == NL_MATCH_INCLUDE);
  CHECK(MatchCgroupPath(config.targets, "/system.slice/nginx.service/a/b") == NL_MATCH_INCLUDE);
  CHECK(MatchCgroupPath(config.targets, "/system.slice/nginx.scope") == 0);
  CHECK(MatchCgroupPath(config.targets, "/") == 0);
  const Config root = Parse("targets:\n  include:\n    - cgroup: /\n");
  CHECK(MatchCgroupPath(root.targets, "/user.slice") == NL_MATCH_INCLUDE);
}

TEST_CASE("The cgroup v2 line of /proc/PID/cgroup", "[targets]") {
  CHECK(CgroupV2PathOf("0::/system.slice/nginx.service\n") == "/system.slice/nginx.service");
  CHECK(CgroupV2PathOf("12:pids:/docker/abc\n1:name=systemd:/docker/abc\n0::/docker/abc\n") ==
        "/docker/abc");
  CHECK_FALSE(CgroupV2PathOf("12:pids:/docker/abc\n1:name=systemd:/docker/abc\n"));
}

}  // namespace
}  // namespace netlens

namespace netlens {

TEST_CASE("targets: comm_regex is matched without backtracking, so no back-references",
          "[targets]") {
  // Found by test/fuzz: stacked quantifiers backtracked for minutes on a 15-character comm.
  const Config config = Parse("targets:\n  include:\n    - comm_regex: \"^(ng" +
                              std::string(60, '*') + "inx|php)[09-]*\"\n");
  REQUIRE(config.targets.include.size() == 1);
  const std::regex& regex = *config.targets.include[0].regex;
  // No match: the backtracking matcher tried every split of the g's among the stars.
  CHECK_FALSE(std::regex_search("ngggggggggggggx", regex));
  CHECK(std::regex_search("nginx: worker p", regex));
  CHECK(
      ErrorOf("targets:\n  include:\n    - comm_regex: \"(a)\\\\1\"\n")
          .starts_with("t.yaml:3:19: 'comm_regex' is not a valid regular expression: '(a)\\1': "));
}

}  // namespace netlens
