#include "http/process_watch.h"

#include "process/process_info.h"
#include "targets/target_match.h"

namespace netlens::http {

ProcessWatch::ProcessWatch(TargetsConfig selectors, size_t max_processes, std::string proc_root)
    : selectors_(std::move(selectors)),
      max_processes_(max_processes),
      proc_root_(std::move(proc_root)) {}

void ProcessWatch::SetSelectors(TargetsConfig selectors) {
  selectors_ = std::move(selectors);
  full_due_ = true;
}

std::set<std::string> ProcessWatch::KernelComms() const {
  std::set<std::string> comms;
  for (const ProcessSelector& selector : selectors_.include) {
    if (selector.kind == SelectorKind::kComm) comms.insert(selector.text);
  }
  return comms;
}

const std::set<uint32_t>& ProcessWatch::Scan(Clock::time_point now,
                                             const std::map<uint32_t, uint64_t>& kernel,
                                             uint64_t now_ns) {
  if (selectors_.include.empty()) {
    // Selects nothing (http_requests off after a reload): no /proc listing, none watched.
    judged_.clear();
    watched_.clear();
    over_limit_ = 0;
    full_due_ = true;
    return watched_;
  }
  const bool full = full_due_ || now - last_full_ >= kRejudgeInterval;
  if (full) {
    last_full_ = now;
    full_due_ = false;
  }
  std::map<uint32_t, Judged> judged;
  for (const uint32_t pid : ListProcessIds(proc_root_)) {
    auto known = judged_.find(pid);
    const auto added = kernel.find(pid);
    const bool stale = known == judged_.end() || full ||
                       (added != kernel.end() && added->second > known->second.at_ns);
    if (!stale) {
      judged.emplace(pid, known->second);
      continue;
    }
    const std::optional<ProcessInfo> info = ReadProcessInfo(pid, proc_root_);
    ++judgements_;
    if (!info) continue;  // gone since the listing
    judged.emplace(pid,
                   Judged{now_ns, IsWatched(selectors_, MatchProcess(selectors_, FactsOf(*info)))});
  }
  judged_ = std::move(judged);
  watched_.clear();
  over_limit_ = 0;
  for (const auto& [pid, verdict] : judged_) {
    if (!verdict.selected) continue;
    if (watched_.size() < max_processes_) {
      watched_.insert(pid);
    } else {
      ++over_limit_;
    }
  }
  return watched_;
}

}  // namespace netlens::http
