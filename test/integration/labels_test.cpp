// Labels from process metadata (cgroup, service rules, network namespace) and the series
// budget under thousands of short-lived processes, against the real kernel and daemon.
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "expect.h"
#include "metric_names.h"
#include "netlens_process.h"
#include "system_error.h"
#include "unique_fd.h"

namespace netlens::test {
namespace {

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  file.flush();
  INFO("writing '" << text << "' to " << path);
  REQUIRE(file.good());
}

// The cgroup v2 hierarchy: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts.
std::string CgroupV2Root() {
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    struct statfs fs {};
    if (statfs(root, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return root;
  }
  FAIL("no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified");
  return "";
}

// This process's cgroup v2 path ("0::/path").
std::string OwnCgroupV2Path() {
  std::ifstream file("/proc/self/cgroup");
  for (std::string line; std::getline(file, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  FAIL("no cgroup v2 line in /proc/self/cgroup");
  return "";
}

// A cgroup the test creates; this process runs in it while alive, so children start in it.
class CgroupScope {
 public:
  explicit CgroupScope(const std::string& name)
      : root_(CgroupV2Root()), path_("/" + name), previous_(OwnCgroupV2Path()) {
    std::filesystem::create_directory(root_ + path_);
    WriteFile(root_ + path_ + "/cgroup.procs", std::to_string(getpid()));
  }
  ~CgroupScope() { std::ofstream(root_ + previous_ + "/cgroup.procs") << getpid(); }
  // Moves this process back; the cgroup is removed once its processes are gone.
  void Leave() { std::ofstream(root_ + previous_ + "/cgroup.procs") << getpid(); }
  void Remove() { rmdir((root_ + path_).c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string root_, path_, previous_;
};

uint64_t InodeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

// Both sides of nl-traffic carry the test cgroup and the service its rule names.
void RequireCheckoutLabels(const Scrape& scrape, const TrafficOptions& options,
                           const TrafficReport& report, const std::string& cgroup) {
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    Labels labels = side.process;
    labels["cgroup"] = cgroup;
    labels["service"] = "checkout";
    labels["systemd_unit"] = "";
    RequireTraffic(scrape, labels, side.counts);
  }
}

TEST_CASE("labels: a cgroup the test creates yields the cgroup and service labels", "[labels]") {
  const std::string comm = UniqueComm();
  const std::string cgroup_name = "netlens-it-" + comm;
  NetlensProcess netlens("process", {},
                         "labels:\n  cgroup: true\n  systemd_unit: true\n"
                         "services:\n"
                         "  - name: not-this-one\n    comm: " +
                             comm +
                             "\n    port: 1\n"
                             "  - name: checkout\n    cgroup: \"/netlens-it-*\"\n");
  TrafficOptions options{
      .comm = comm, .connections = 3, .rounds = 4, .request = 700, .response = 9000};
  CgroupScope cgroup(cgroup_name);
  HeldTraffic traffic(options);  // client and server start in the cgroup
  cgroup.Leave();
  const TrafficReport& report = traffic.report();

  RequireCheckoutLabels(netlens.ScrapeMetrics(), options, report, cgroup.path());
  traffic.Close();
  cgroup.Remove();
}

TEST_CASE("labels: processes that exit before the scrape keep their cgroup and service labels",
          "[labels][exited]") {
  const std::string comm = UniqueComm();
  NetlensProcess netlens("process", {},
                         "labels:\n  cgroup: true\n  systemd_unit: true\n"
                         "services:\n  - name: checkout\n    cgroup: \"/netlens-it-*\"\n");
  TrafficOptions options{
      .comm = comm, .connections = 2, .rounds = 3, .request = 300, .response = 5000};
  CgroupScope cgroup("netlens-it-" + comm);
  const TrafficReport report = RunTraffic(options);  // client and server start in the cgroup
  cgroup.Leave();
  // Both are gone: /proc has nothing to say about them, the kernel noted their cgroup.
  for (const pid_t pid : {report.client_pid, report.server_pid}) {
    INFO("pid " << pid);
    REQUIRE(access(("/proc/" + std::to_string(pid)).c_str(), F_OK) != 0);
  }

  RequireCheckoutLabels(netlens.ScrapeMetrics(), options, report, cgroup.path());
  cgroup.Remove();
}

// iproute2's ip (not necessarily on the test's PATH: it lives in sbin).
std::string IpBinary() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (access(path, X_OK) == 0) return path;
  }
  FAIL("no ip binary (iproute2; scripts/install-deps.sh installs it)");
  return "";
}

TEST_CASE("labels: a process in its own network namespace gets its netns label", "[labels]") {
  const std::string ip = IpBinary();
  const std::string comm = UniqueComm();
  const std::string name = "nlt-" + comm;
  REQUIRE(Run({ip, "netns", "add", name}, milliseconds(10000)).status.Success());
  struct NetnsCleanup {
    std::string ip, name;
    ~NetnsCleanup() { Run({ip, "netns", "delete", name}, milliseconds(10000)); }
  } cleanup{ip, name};
  REQUIRE(Run({ip, "netns", "exec", name, ip, "link", "set", "lo", "up"}, milliseconds(10000))
              .status.Success());

  NetlensProcess netlens("remote", {}, "labels:\n  netns: true\n  netns_name: true\n");
  TrafficOptions options{
      .comm = comm, .connections = 2, .rounds = 3, .request = 1234, .response = 4321};
  // setns() changes this thread's network namespace; children forked here start in it.
  UniqueFd original(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  UniqueFd target(open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(original.get() >= 0);
  REQUIRE(target.get() >= 0);
  REQUIRE(setns(target.get(), CLONE_NEWNET) == 0);
  std::optional<HeldTraffic> traffic;
  try {
    traffic.emplace(options);
  } catch (...) {
    setns(original.get(), CLONE_NEWNET);
    throw;
  }
  REQUIRE(setns(original.get(), CLONE_NEWNET) == 0);
  const TrafficReport& report = traffic->report();
  const uint64_t inode = InodeOf("/proc/" + std::to_string(report.client_pid) + "/ns/net");
  REQUIRE(inode == InodeOf("/run/netns/" + name));
  REQUIRE(inode != InodeOf("/proc/self/ns/net"));

  Scrape scrape = netlens.ScrapeMetrics();
  for (const Side& side : {ClientSide(options, report), ServerSide(options, report)}) {
    INFO("the " << side.role << " side of nl-traffic");
    Labels labels = RemoteLabels(side, options, report);
    labels["netns"] = std::to_string(inode);
    labels["netns_name"] = name;
    RequireTraffic(scrape, labels, side.counts);
  }
  traffic->Close();
}

// Runs nl-traffic so that its client gets `pid`, by setting the kernel's last pid just
// before the fork (other processes forking in between can take it: then it tries again).
std::optional<TrafficReport> RunTrafficAsPid(const TrafficOptions& options, pid_t pid) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    std::ofstream("/proc/sys/kernel/ns_last_pid") << pid - 1;
    TrafficReport report = RunTraffic(options);
    if (report.client_pid == pid) return report;
  }
  return std::nullopt;
}

TEST_CASE("labels: a reused pid starts a fresh series, the old process's counts are dropped",
          "[labels][pid_reuse]") {
  NetlensProcess netlens("process", {}, "process_ttl: 1h\n");
  TrafficOptions first{.comm = UniqueComm(), .connections = 2, .request = 1000, .response = 10};
  TrafficOptions second = first;
  second.connections = 3;
  second.request = 77;
  const TrafficReport report = RunTraffic(first);
  const Labels client = {{"pid", std::to_string(report.client_pid)}, {"comm", first.comm}};
  RequireTraffic(netlens.ScrapeMetrics(), client, ExpectedClientCounts(first));

  // The same pid and comm, another process (a later start time).
  const std::optional<TrafficReport> again = RunTrafficAsPid(second, report.client_pid);
  INFO("pid " << report.client_pid << " could not be had again");
  REQUIRE(again.has_value());
  RequireTraffic(netlens.ScrapeMetrics(), client, ExpectedClientCounts(second));
}

// Families whose series the budget bounds (state transitions and listen-queue counters are
// host-wide, without process labels).
bool IsBudgeted(const std::string& name) {
  return name.rfind("netlens_tcp_", 0) == 0 && name != metric::kTcpStateTransitionsTotal &&
         name.rfind("netlens_tcp_listen_", 0) != 0;
}

// The metric family of a sample (histogram samples carry _bucket, _sum, _count).
std::string FamilyOf(const Sample& sample) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s = suffix;
    if (sample.name.size() > s.size() &&
        sample.name.compare(sample.name.size() - s.size(), s.size(), s) == 0 &&
        sample.type == "histogram")
      return sample.name.substr(0, sample.name.size() - s.size());
  }
  return sample.name;
}

void RequireWithinBudget(const Scrape& scrape, size_t budget) {
  std::map<std::string, std::set<Labels>> series;    // what netlens_series counts
  std::map<std::string, std::set<Labels>> budgeted;  // keys: failures by reason are one
  for (const Sample& sample : scrape.samples) {
    if (!IsBudgeted(sample.name)) continue;
    Labels labels = sample.labels;
    labels.erase("le");
    series[FamilyOf(sample)].insert(labels);
    labels.erase("reason");
    budgeted[FamilyOf(sample)].insert(labels);
  }
  for (const auto& [family, labels] : budgeted) {
    INFO("family " << family << " has " << labels.size() << " keyed series");
    REQUIRE(labels.size() <= budget);
    RequireValue(scrape, metric::kSeries, {{"family", family}},
                 static_cast<double>(series[family].size()));
  }
}

// The number after "NAME=" in nl-burst's output.
uint64_t ReportedValue(const std::string& output, const std::string& name) {
  const std::string lines = "\n" + output;
  const size_t at = lines.find("\n" + name + "=");
  INFO("nl-burst's " << name);
  REQUIRE(at != std::string::npos);
  return std::stoull(lines.substr(at + name.size() + 2));
}

TEST_CASE("labels: 5,000 short-lived processes stay within the series budget, sums exact",
          "[labels][budget]") {
  constexpr size_t kBudget = 100;
  constexpr uint64_t kProcesses = 5000;
  constexpr uint64_t kBytes = 1000;
  const std::string comm = UniqueComm();
  // Only the burst is watched (a comm selector, judged in the kernel): no other traffic of the
  // host is in any series, so every family's sum over all its series is known exactly.
  NetlensProcess netlens(
      "remote", {},
      "process_ttl: 1h\nlimits:\n  series_per_family: " + std::to_string(kBudget) +
          "\n  aggregates: 65536\ntargets:\n  include:\n    - comm: " + comm + "\n");
  Child burst({NL_BURST_BINARY, "--comm", comm, "--processes", std::to_string(kProcesses),
               "--bytes", std::to_string(kBytes), "--parallel", "50", "--pause"},
              SpawnOptions{.stdin_pipe = true});
  const std::optional<std::string> port_line = burst.ReadLine(milliseconds(10000));
  REQUIRE(port_line.has_value());
  REQUIRE(port_line->rfind("port=", 0) == 0);
  const std::string port = port_line->substr(5);
  // After the first 50 clients the server's key has room: it is kept from its first bytes.
  REQUIRE(burst.ReadLine(milliseconds(30000)) == std::optional<std::string>("paused"));
  RequireWithinBudget(netlens.ScrapeMetrics(), kBudget);
  // Meanwhile as many unwatched connections come and go: sockets the kernel marks as ignored,
  // whose memory the watched burst's sockets reuse. None of it may show, nor hide ours.
  const std::string foreign_comm = UniqueComm();
  Child foreign({NL_BURST_BINARY, "--comm", foreign_comm, "--processes", std::to_string(kProcesses),
                 "--bytes", std::to_string(kBytes), "--parallel", "50"},
                SpawnOptions{});
  burst.WriteStdin("go\n");

  // Scrape while the processes come and go: every scrape within the budget.
  int scrapes = 0;
  while (!burst.WaitFor(milliseconds(300))) {
    RequireWithinBudget(netlens.ScrapeMetrics(), kBudget);
    ++scrapes;
  }
  const Output output = burst.Communicate(milliseconds(10000));
  INFO("nl-burst: " << output.out << output.err);
  REQUIRE(output.status.Success());
  const Output foreign_output = foreign.Communicate(milliseconds(60000));
  INFO("unwatched nl-burst: " << foreign_output.out << foreign_output.err);
  REQUIRE(foreign_output.status.Success());
  REQUIRE(ReportedValue(output.out, "received") == kProcesses * kBytes);
  const uint64_t receive_calls = ReportedValue(output.out, "receive_calls");

  // The last FINs and ACKs may still be on their way when the helpers are done: the kernel
  // closes every connection soon after (nothing else is watched, so "open" sums to 0 then).
  Scrape scrape = netlens.ScrapeMetrics();
  for (int wait = 0; wait < 100 && Sum(scrape.samples, metric::kTcpConnectionsOpen, {}) > 0;
       ++wait) {
    std::this_thread::sleep_for(milliseconds(100));
    scrape = netlens.ScrapeMetrics();
  }
  RequireWithinBudget(scrape, kBudget);
  INFO(scrapes << " scrapes during the burst");
  // On a failure, the kernel's own account of what it skipped or found stale.
  for (const Sample& sample : scrape.samples) {
    if (sample.name.rfind("netlens_kernel_", 0) == 0 ||
        sample.name == metric::kProgramMissedRunsTotal ||
        sample.name == metric::kTcpConnectionsOpen)
      if (sample.value != 0) {
        std::string labels;
        for (const auto& [name, value] : sample.labels) labels += name + "=" + value + " ";
        UNSCOPED_INFO(sample.name << " " << labels << sample.value);
      }
  }
  // Every family, summed over all its series (kept and "other"): exactly the burst. Each
  // client sends its bytes in one call; both ends of every connection open and close it.
  const std::map<std::string_view, double> totals = {
      {metric::kSentBytes, kProcesses * kBytes},
      {metric::kReceivedBytes, kProcesses * kBytes},
      {metric::kSendCalls, kProcesses},
      {metric::kReceiveCalls, static_cast<double>(receive_calls)},
      {metric::kConnectionsOpened, 2 * kProcesses},
      {metric::kConnectionsClosed, 2 * kProcesses},
  };
  for (const auto& [family, total] : totals) {
    INFO("family " << family);
    const bool calls = family == metric::kSendCalls || family == metric::kReceiveCalls;
    if (calls && !PerEventAccounting()) {
      REQUIRE(Select(scrape.samples, family, {}).empty());  // kernel accounting counts no calls
      continue;
    }
    REQUIRE(Sum(scrape.samples, family, {}) == total);
  }
  REQUIRE(Select(scrape.samples, metric::kConnectionsOpened, {{"comm", foreign_comm}}).empty());
  const Labels ours = {{"comm", comm}};
  // The server, kept from its first bytes, is the busiest key: never demoted, exact.
  RequireValue(scrape, metric::kReceivedBytes, {{"comm", comm}, {"direction", "passive"}},
               static_cast<double>(kProcesses * kBytes));
  RequireValue(scrape, metric::kConnectionsOpened, {{"comm", comm}, {"direction", "passive"}},
               kProcesses);
  // Folded keys: at least every client without a series of its own.
  const double kept_clients =
      static_cast<double>(Select(scrape.samples, metric::kSentBytes, ours).size());
  REQUIRE(kept_clients < kBudget);
  REQUIRE(ValueOfOne(scrape.samples, metric::kSeriesFolded,
                     {{"family", std::string(metric::kSentBytes)}}) >= kProcesses - kept_clients);
  // Ephemeral ports never become labels: every series of ours names the listening port.
  for (const Sample& sample : scrape.samples) {
    if (!HasLabels(sample, ours) || !sample.labels.count("service_port")) continue;
    INFO(Format(sample));
    REQUIRE(sample.labels.at("service_port") == port);
  }
}

}  // namespace
}  // namespace netlens::test
