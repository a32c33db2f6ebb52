// Metadata labels: service rules, pod directory names, the process cache (bounds, pid reuse)
// and the label values ProcessLabels appends, over a proc root laid out in a temp dir.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "fake_proc.h"
#include "process/pod_directory.h"
#include "process/process_cache.h"
#include "process/process_labels.h"
#include "process/service_rules.h"

using namespace netlens;

namespace {

using testing::FakeProc;

// Kernel start time (boot-clock ns) of a process whose /proc stat shows `ticks`.
uint64_t StartNs(uint64_t ticks) { return ticks * (1000000000ull / sysconf(_SC_CLK_TCK)); }

}  // namespace

TEST_CASE("service rules: first match wins, every condition must hold") {
  const std::vector<ServiceRule> rules = {
      {.name = "web-tls", .comm = "nginx", .port = 443},
      {.name = "web", .comm = "nginx"},
      {.name = "db", .exe = "/usr/lib/postgresql/*/bin/postgres"},
      {.name = "checkout", .cgroup = "/kubepods.slice/*checkout*"},
      {.name = "redis", .port = 6379},
  };
  CHECK(MatchService(rules, "nginx", "/usr/sbin/nginx", "/", 443) == "web-tls");
  CHECK(MatchService(rules, "nginx", "/usr/sbin/nginx", "/", 80) == "web");
  CHECK(MatchService(rules, "postgres", "/usr/lib/postgresql/15/bin/postgres", "/", 5432) == "db");
  CHECK(MatchService(rules, "java", "", "/kubepods.slice/x/checkout-7/y.scope", 80) == "checkout");
  CHECK(MatchService(rules, "anything", "", "", 6379) == "redis");
  CHECK(MatchService(rules, "curl", "/usr/bin/curl", "/user.slice", 80) == "");
  CHECK(MatchService({{.name = "all"}}, "x", "", "", 0) == "all");
}

TEST_CASE("pod log directory names: namespace, pod name, uid") {
  auto pod = ParsePodDirectoryName("kube-system_coredns-5d78c9869d-abcde_8a1e2b3c-4d5e-6f70");
  REQUIRE(pod.has_value());
  CHECK(pod->first == "8a1e2b3c-4d5e-6f70");
  CHECK(pod->second.k8s_namespace == "kube-system");
  CHECK(pod->second.name == "coredns-5d78c9869d-abcde");
  CHECK_FALSE(ParsePodDirectoryName("no-underscores").has_value());
  CHECK_FALSE(ParsePodDirectoryName("one_underscore").has_value());
  CHECK_FALSE(ParsePodDirectoryName("_name_uid").has_value());
  CHECK_FALSE(ParsePodDirectoryName("ns_name_").has_value());
}

TEST_CASE("process cache: bounded, counted, and blind to a reused pid") {
  FakeProc proc;
  proc.AddProcess(10, "a", 100, "/system.slice/a.service", "/usr/bin/a");
  proc.AddProcess(11, "b", 200, "/system.slice/b.service", "/usr/bin/b");
  proc.AddProcess(12, "c", 300, "/system.slice/c.service", "/usr/bin/c");
  ProcessCache cache(2, std::chrono::seconds(60), proc.path());
  const auto t0 = ProcessCache::Clock::time_point{};
  CHECK(cache.Lookup(10, StartNs(100), t0).exe == "/usr/bin/a");
  CHECK(cache.Lookup(10, StartNs(100), t0).comm == "a");  // cached
  CHECK(cache.stats().misses == 1);
  CHECK(cache.Lookup(11, StartNs(200), t0).cgroup.systemd_unit == "b.service");
  CHECK(cache.Lookup(12, StartNs(300), t0).exe == "/usr/bin/c");  // evicts 10, least recent
  CHECK(cache.size() == 2);
  CHECK(cache.stats().evictions == 1);
  CHECK(cache.stats().misses == 3);
  // After the refresh interval the entry is read again.
  cache.Lookup(12, StartNs(300), t0 + std::chrono::seconds(61));
  CHECK(cache.stats().misses == 4);
  // pid 11 now belongs to a process that started later: not the one the kernel saw.
  proc.AddProcess(11, "intruder", 999, "/system.slice/x.service", "/usr/bin/x");
  const ProcessInfo& old_b = cache.Lookup(11, StartNs(200), t0 + std::chrono::seconds(120));
  CHECK(old_b.comm == "b");  // what was read while it ran
  CHECK(cache.Lookup(11, StartNs(999), t0).comm == "intruder");
  // Never seen and gone: unknown.
  CHECK(cache.Lookup(99, StartNs(1), t0).exe.empty());
}

TEST_CASE("process labels: names in order, values from metadata, rules and pods") {
  FakeProc proc;
  const std::string uid = "8a1e2b3c-4d5e-6f70-8192-a3b4c5d6e7f8";
  std::string uid_ = uid;
  std::replace(uid_.begin(), uid_.end(), '-', '_');
  const std::string id(64, 'a');
  proc.AddProcess(42, "java", 500,
                  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid_ +
                      ".slice/cri-containerd-" + id + ".scope",
                  "/opt/java/bin/java");
  const std::string pods = proc.Sub("pods");
  std::filesystem::create_directories(pods + "/shop_checkout-7f9_" + uid);
  LabelSettings settings{.exe = true,
                         .cgroup = false,
                         .netns = true,
                         .instance = true,
                         .instance_value = "node-1",
                         .pods_directory = pods,
                         .netns_directory = proc.Sub("netns"),
                         .services = {{.name = "checkout", .exe = "/opt/java/*", .port = 8080}}};
  ProcessLabels labels(settings, proc.path());
  REQUIRE(labels.names() == std::vector<std::string>{"exe", "container_id", "pod", "namespace",
                                                     "systemd_unit", "netns", "service",
                                                     "instance"});
  std::vector<std::string> values;
  labels.Append({42, StartNs(500), 4026531840u, 8080, "java"}, values, {});
  CHECK(values == std::vector<std::string>{"/opt/java/bin/java", id, "checkout-7f9", "shop", "",
                                           "4026531840", "checkout", "node-1"});
  values.clear();
  labels.Append({42, StartNs(500), 0, 9090, "java"}, values, {});  // other port: no service
  CHECK(values[5] == "");
  CHECK(values[6] == "");
  values.clear();
  labels.Append({0, 0, 0, 0, "[unknown]"}, values, {});  // no process
  CHECK(values == std::vector<std::string>{"", "", "", "", "", "", "", "node-1"});
  CHECK(ProcessLabels(
            LabelSettings{
                .container_id = false, .pod = false, .k8s_namespace = false, .systemd_unit = false},
            proc.path())
            .names()
            .empty());  // service: only with rules
}
