// The HTTP process watch (http/process_watch.h) over a proc root laid out in a temp dir: the
// selectors, what a scan reads again (new processes, the kernel's exec marks, every process
// once per kRejudgeInterval, all after new selectors), the bound, and no include selector.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "fake_proc.h"
#include "http/process_watch.h"

namespace netlens::http {
namespace {

using testing::FakeProc;
using Pids = std::set<uint32_t>;
using Kernel = std::map<uint32_t, uint64_t>;

ProcessSelector Comm(const std::string& comm) {
  return {.kind = SelectorKind::kComm, .text = comm};
}

TargetsConfig Include(std::initializer_list<std::string> comms) {
  TargetsConfig config;
  for (const std::string& comm : comms) config.include.push_back(Comm(comm));
  return config;
}

TEST_CASE("the process watch applies the selectors to a proc root, new ones at the next scan",
          "[http][process_watch]") {
  FakeProc proc;
  proc.AddProcess(100, "nginx");
  proc.AddProcess(101, "nginx");
  proc.AddProcess(200, "curl");
  proc.AddProcess(300, "bash");
  TargetsConfig selectors = Include({"nginx", "curl"});
  selectors.exclude.push_back({.kind = SelectorKind::kPid, .pid = 101});
  ProcessWatch watch(selectors, 100, proc.path());
  const auto now = ProcessWatch::Clock::now();
  CHECK(watch.Scan(now, {}, 1000) == Pids{100, 200});
  CHECK(watch.watched() == Pids{100, 200});
  CHECK(watch.judgements() == 4);
  CHECK(watch.over_limit() == 0);
  // New selectors: every process is judged again at the next scan.
  watch.SetSelectors(Include({"curl", "bash"}));
  CHECK(watch.Scan(now + std::chrono::seconds(1), {}, 2000) == Pids{200, 300});
  CHECK(watch.judgements() == 8);
}

TEST_CASE("between rejudgements a scan reads only new processes and those the kernel saw exec",
          "[http][process_watch]") {
  FakeProc proc;
  proc.AddProcess(100, "nginx");
  proc.AddProcess(300, "bash");
  ProcessWatch watch(Include({"nginx"}), 100, proc.path());
  const auto t0 = ProcessWatch::Clock::now();
  REQUIRE(watch.Scan(t0, {}, 1000) == Pids{100});
  REQUIRE(watch.judgements() == 2);

  // 300 becomes an nginx (an exec the kernel did not mark), 400 is new: only 400 is read.
  proc.AddProcess(300, "nginx");
  proc.AddProcess(400, "nginx");
  CHECK(watch.Scan(t0 + std::chrono::seconds(1), {}, 2000) == Pids{100, 400});
  CHECK(watch.judgements() == 3);
  // A kernel mark from before 300 was judged changes nothing; one from after has it read.
  CHECK(watch.Scan(t0 + std::chrono::seconds(2), {{300, 500}}, 3000) == Pids{100, 400});
  CHECK(watch.judgements() == 3);
  CHECK(watch.Scan(t0 + std::chrono::seconds(3), {{300, 2500}}, 4000) == Pids{100, 300, 400});
  CHECK(watch.judgements() == 4);

  // A process gone from /proc leaves at the next scan, unread; the others stay judged.
  proc.RemoveProcess(100);
  CHECK(watch.Scan(t0 + std::chrono::seconds(4), {}, 5000) == Pids{300, 400});
  CHECK(watch.judgements() == 4);
  // Once per kRejudgeInterval every process is read again: a comm changed unmarked counts.
  proc.AddProcess(400, "bash");
  CHECK(watch.Scan(t0 + std::chrono::seconds(5), {}, 6000) == Pids{300, 400});
  CHECK(watch.Scan(t0 + ProcessWatch::kRejudgeInterval, {}, 7000) == Pids{300});
  CHECK(watch.judgements() == 6);
}

TEST_CASE("the process watch watches at most max_processes, the rest over the limit",
          "[http][process_watch]") {
  FakeProc proc;
  for (const uint32_t pid : {10u, 20u, 30u, 40u}) proc.AddProcess(pid, "nginx");
  proc.AddProcess(50, "bash");
  ProcessWatch watch(Include({"nginx"}), 3, proc.path());
  CHECK(watch.Scan(ProcessWatch::Clock::now(), {}, 1000).size() == 3);
  CHECK(watch.over_limit() == 1);
}

TEST_CASE("without an include selector the watch watches nothing and reads nothing",
          "[http][process_watch]") {
  FakeProc proc;
  proc.AddProcess(100, "nginx");
  ProcessWatch watch(Include({"nginx"}), 1, proc.path());
  proc.AddProcess(101, "nginx");
  const auto t0 = ProcessWatch::Clock::now();
  REQUIRE(watch.Scan(t0, {}, 1000) == Pids{100});
  REQUIRE(watch.over_limit() == 1);
  // http_requests turned off by a reload: the kernel's processes are not kept either.
  watch.SetSelectors({});
  CHECK(watch.Scan(t0 + std::chrono::seconds(1), {{100, 0}, {101, 2000}}, 3000).empty());
  CHECK(watch.watched().empty());
  CHECK(watch.over_limit() == 0);
  CHECK(watch.judgements() == 2);
  // On again: judged afresh.
  watch.SetSelectors(Include({"nginx"}));
  CHECK(watch.Scan(t0 + std::chrono::seconds(2), {}, 4000) == Pids{100});
  CHECK(watch.judgements() == 4);
}

TEST_CASE("the kernel judges the comm include selectors at exec, nothing else",
          "[http][process_watch]") {
  TargetsConfig selectors = Include({"nginx", "curl"});
  selectors.include.push_back({.kind = SelectorKind::kCommRegex,
                               .text = "^py",
                               .regex = std::make_shared<const std::regex>("^py")});
  selectors.exclude.push_back(Comm("bash"));
  const ProcessWatch watch(selectors, 10, "/nonexistent-netlens-proc");
  CHECK(watch.KernelComms() == std::set<std::string>{"curl", "nginx"});
}

}  // namespace
}  // namespace netlens::http
