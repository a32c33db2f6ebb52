// Exact, monotonic counters from sources that come, go and move.
//
// A source is anything in a kernel map whose value only grows while it exists:
// a live connection, a totals entry, a closed connection handed over once.
// Each scrape the ledger adds the growth of every source since the last scrape
// to the series the source feeds, so a series never goes backwards. When a
// source vanishes (a connection closed and the kernel folded it into a totals
// entry), its last value is credited to the key it folds into, and the growth
// of that key's fold-receiving sources (totals) pays the credit back first: the
// folded connection is not counted twice, and nothing is lost.
//
// Over the series budget the K busiest keys by recent traffic (a decaying sum of
// growth) keep series of their own and the rest feed one all-"other" series.
// Sums stay exact across moves: a demoted series' value goes into "other", a
// promoted key starts a fresh series from its growth since promotion, and the
// credit of vanished sources belongs to the key, whichever series it feeds.
// A folded key must carry twice the traffic of the quietest kept one to take
// its place, so keys near the boundary do not flap.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace netlens {

using SteadyClock = std::chrono::steady_clock;

// Where counts go: label values in the family's label order, and the process
// the series belongs to (pid 0: none), for expiry. A process is (pid,
// start_time): a key seen with a newer start time than its series belongs to a
// new process that reused the pid, and the old process's series ends there.
// A shared series (no pid label: labels.pid false) is fed by every process with
// its labels and belongs to none of them (pid and start_time 0): it outlives the
// sources of its processes, which vanish as they are forgotten, and is dropped
// by ExpireOrphans once none has fed it for a while.
struct SeriesRef {
  std::vector<std::string> labels;
  uint32_t pid = 0;
  std::string comm;
  uint64_t start_time = 0;
  bool shared = false;
};

std::string SeriesKeyOf(const std::vector<std::string>& labels);

template <size_t N>
class CounterLedger {
 public:
  using Counters = std::array<uint64_t, N>;
  struct Series {
    std::vector<std::string> labels;
    uint32_t pid = 0;
    std::string comm;
    uint64_t start_time = 0;
    bool shared = false;
    std::optional<SteadyClock::time_point> orphaned;  // shared: since when no source feeds it
    Counters value{};   // what the series exports; always 0 for a folded key
    Counters credit{};  // counted through sources that have since vanished
    SteadyClock::time_point last_change{};
    size_t sources = 0;
    double traffic = 0;    // recent growth, halving every kTrafficHalfLife: what top K ranks by
    uint64_t pending = 0;  // growth in this scrape, not yet in `traffic`
  };

  // budget: most series, the overflow series included. weights: the counters
  // whose growth ranks keys (empty: all).
  CounterLedger(size_t label_count, size_t budget, std::vector<size_t> weights = {})
      : overflow_key_(SeriesKeyOf(std::vector<std::string>(label_count, "other"))),
        label_count_(label_count),
        budget_(budget),
        weights_(std::move(weights)) {
    if (weights_.empty())
      for (size_t i = 0; i < N; ++i) weights_.push_back(i);
  }

  void BeginScrape() { ++generation_; }

  // A source's cumulative value now. `kind` groups sources for Sweep();
  // `fold` is where its value reappears once it vanishes (nullptr: nowhere).
  void Observe(const std::string& id, int kind, const SeriesRef& target, const SeriesRef* fold,
               const Counters& cumulative, SteadyClock::time_point now) {
    // Nothing counted yet and nowhere to count it: no series of zeros.
    if (cumulative == Counters{} && !sources_.count(id) && !Find(SeriesKeyOf(target.labels)))
      return;
    auto [it, inserted] = sources_.try_emplace(id);
    Source& source = it->second;
    std::string wanted = SeriesKeyOf(target.labels);
    // A source whose labels change (an accepted connection passing from the
    // listener's process to its own) feeds the new key from now on; what the
    // old one counted stays there.
    if (inserted || wanted != source.target_key || !source.alive) {
      if (!inserted) Detach(source);
      source.kind = kind;
      Series* entry = Admit(target, now);
      source.alive = entry != nullptr;
      source.target_key = std::move(wanted);
      if (entry) ++entry->sources;
    }
    source.generation = generation_;
    source.has_fold = fold != nullptr;
    if (fold) source.fold = *fold;
    const Counters previous = source.last;
    source.last = cumulative;
    // A source of a process whose pid a newer process took: its counts end with it.
    if (!source.alive) return;
    Series& entry = *Find(source.target_key);
    Series& series = IsKept(source.target_key) ? entry : Overflow();
    bool changed = false;
    for (size_t i = 0; i < N; ++i) {
      uint64_t delta = cumulative[i] > previous[i] ? cumulative[i] - previous[i] : 0;
      // Only the sources folds land in (no fold of their own: totals) pay credit back, so
      // a live connection's growth is not held back while a fold is still on its way.
      const uint64_t repaid = fold ? 0 : std::min(delta, entry.credit[i]);
      entry.credit[i] -= repaid;
      delta -= repaid;
      series.value[i] += delta;
      changed |= delta != 0;
    }
    for (size_t i : weights_)
      if (cumulative[i] > previous[i]) entry.pending += cumulative[i] - previous[i];
    if (changed) entry.last_change = series.last_change = now;
  }

  // A source that ended and will not come back, its last value already observed.
  void Retire(const std::string& id) {
    auto it = sources_.find(id);
    if (it != sources_.end()) EraseSource(it);
  }

  // Sources of `kind` not observed this scrape: credit what they counted to the
  // key they fold into, and forget them.
  void Sweep(int kind, SteadyClock::time_point now) {
    for (auto it = sources_.begin(); it != sources_.end();) {
      const Source& source = it->second;
      if (source.kind != kind || source.generation == generation_) {
        ++it;
        continue;
      }
      if (source.has_fold && source.alive) {
        if (Series* fold = Admit(source.fold, now)) {
          for (size_t i = 0; i < N; ++i) fold->credit[i] += source.last[i];
        }
      }
      it = EraseSource(it);
    }
  }

  // After every Observe and Sweep of a scrape: ranks the keys by recent traffic
  // and moves keys between their own series and "other" (top K, with hysteresis).
  void EndScrape(SteadyClock::time_point now) {
    // Decay by time, not per scrape: how often anyone scrapes must not change the ranking.
    const double decay = last_end_
                             ? std::exp2(-std::chrono::duration<double>(now - *last_end_).count() /
                                         std::chrono::duration<double>(kTrafficHalfLife).count())
                             : 1.0;
    last_end_ = now;
    std::vector<std::pair<double, std::string>> kept, folded;
    for (auto& [key, series] : series_) {
      series.traffic = series.traffic * decay + static_cast<double>(series.pending);
      series.pending = 0;
      if (series.sources > 0)
        series.orphaned.reset();
      else if (series.shared && !series.orphaned)
        series.orphaned = now;
      if (key != overflow_key_) kept.emplace_back(series.traffic, key);
    }
    for (auto it = folded_.begin(); it != folded_.end();) {
      Series& key = it->second;
      key.traffic = key.traffic * decay + static_cast<double>(key.pending);
      key.pending = 0;
      // Nothing feeds it and nothing is owed to it: forget it (bounded by the sources).
      if (key.sources == 0 && key.credit == Counters{}) {
        it = folded_.erase(it);
        continue;
      }
      folded.emplace_back(key.traffic, it->first);
      ++it;
    }
    if (folded.empty()) return;
    std::sort(folded.begin(), folded.end(), std::greater<>());
    std::sort(kept.begin(), kept.end());
    size_t next_folded = 0;
    for (; next_folded < folded.size() && kept_count() + 1 < budget_; ++next_folded)
      Promote(folded[next_folded].second);
    for (size_t next_kept = 0; next_folded < folded.size() && next_kept < kept.size();
         ++next_folded, ++next_kept) {
      constexpr double kHysteresis = 2;
      if (folded[next_folded].first <= kHysteresis * kept[next_kept].first) break;
      Demote(kept[next_kept].second);
      Promote(folded[next_folded].second);
    }
  }

  // Drops every series and key of the processes (pid, start_time) and the sources feeding
  // them; shared series belong to no process and stay, their sources vanish later. One pass over
  // each table whatever the number of processes: thousands of short-lived processes expire in the
  // same scrape (the soak test's churn), and a pass per process made that scrape quadratic (tens of
  // seconds for 3000 processes).
  void DropProcesses(const std::set<std::pair<uint32_t, uint64_t>>& processes) {
    std::unordered_set<std::string> keys;
    auto collect = [&](const auto& table) {
      for (const auto& [key, series] : table)
        if (key != overflow_key_ && !series.shared &&
            processes.count({series.pid, series.start_time}))
          keys.insert(key);
    };
    collect(series_);
    collect(folded_);
    if (keys.empty()) return;
    std::erase_if(sources_, [&](const auto& entry) {
      return entry.second.alive && keys.count(entry.second.target_key) != 0;
    });
    for (const std::string& key : keys) {
      series_.erase(key);
      folded_.erase(key);
    }
  }
  void DropProcess(uint32_t pid, uint64_t start_time) { DropProcesses({{pid, start_time}}); }

  // Drops keys no source feeds any more and that did not change for `retention`.
  // Shared keys are left to ExpireOrphans.
  void ExpireIdle(SteadyClock::duration retention, SteadyClock::time_point now) {
    auto idle = [&](const auto& entry) {
      return entry.first != overflow_key_ && !entry.second.shared && entry.second.sources == 0 &&
             now - entry.second.last_change > retention;
    };
    std::erase_if(series_, idle);
    std::erase_if(folded_, idle);
  }

  // Drops shared series that no source has fed for `retention`, counted from the
  // EndScrape that first found them without one (their last process forgotten,
  // their last connection closed). Until then a new source of the same labels
  // adds to the series where it stands.
  void ExpireOrphans(SteadyClock::duration retention, SteadyClock::time_point now) {
    std::erase_if(series_, [&](const auto& entry) {
      const Series& series = entry.second;
      return series.shared && series.sources == 0 && series.orphaned &&
             now - *series.orphaned > retention;
    });
  }

  // The exported series: kept keys and the overflow series.
  const std::unordered_map<std::string, Series>& series() const { return series_; }
  // Distinct keys whose counts currently go to the overflow series.
  size_t folded_keys() const {
    return std::count_if(folded_.begin(), folded_.end(),
                         [](const auto& entry) { return entry.second.sources > 0; });
  }
  void SetBudget(size_t budget) { budget_ = budget; }

 private:
  struct Source {
    int kind = 0;
    std::string target_key;  // the key its labels ask for (kept or folded)
    bool alive = true;       // false: its process's pid belongs to a newer process
    Counters last{};
    uint64_t generation = 0;
    bool has_fold = false;
    SeriesRef fold;
  };

  size_t kept_count() const { return series_.size() - series_.count(overflow_key_); }
  bool IsKept(const std::string& key) const { return series_.count(key) != 0; }

  Series* Find(const std::string& key) {
    if (auto it = series_.find(key); it != series_.end()) return &it->second;
    if (auto it = folded_.find(key); it != folded_.end()) return &it->second;
    return nullptr;
  }

  Series& Overflow() {
    Series& overflow = series_[overflow_key_];
    if (overflow.labels.empty()) overflow.labels.assign(label_count_, "other");
    return overflow;
  }

  // The key of ref, created kept while there is room and folded after; nullptr
  // when ref is of a process older than the one that now holds the key.
  Series* Admit(const SeriesRef& ref, SteadyClock::time_point now) {
    const std::string key = SeriesKeyOf(ref.labels);
    if (key == overflow_key_) return &Overflow();
    if (Series* existing = Find(key)) {
      if (existing->shared || existing->start_time == ref.start_time) return existing;
      if (ref.start_time < existing->start_time) return nullptr;
      DropKey(key, /*keep_sources=*/true);  // the pid was reused: the old series ends
    }
    const bool fits = kept_count() + 1 < budget_;
    Series& series = fits ? series_[key] : folded_[key];
    series.labels = ref.labels;
    series.pid = ref.shared ? 0 : ref.pid;
    series.comm = ref.comm;
    series.start_time = ref.shared ? 0 : ref.start_time;
    series.shared = ref.shared;
    series.last_change = now;
    if (!fits) Overflow();
    return &series;
  }

  // Ends a key: its series (not its counts already in "other") goes. Its
  // sources either go too or stay, counting nothing, until they vanish.
  void DropKey(const std::string& key, bool keep_sources) {
    for (auto it = sources_.begin(); it != sources_.end();) {
      if (it->second.target_key != key || !it->second.alive) {
        ++it;
      } else if (keep_sources) {
        it->second.alive = false;
        ++it;
      } else {
        it = sources_.erase(it);
      }
    }
    series_.erase(key);
    folded_.erase(key);
  }

  // Its value joins "other"; the key keeps its sources, credit and traffic.
  void Demote(const std::string& key) {
    auto node = series_.extract(key);
    Series& overflow = Overflow();
    for (size_t i = 0; i < N; ++i) overflow.value[i] += node.mapped().value[i];
    node.mapped().value = {};
    folded_.insert(std::move(node));
  }

  // A fresh series from zero: what it counted while folded stays in "other".
  void Promote(const std::string& key) { series_.insert(folded_.extract(key)); }

  void Detach(Source& source) {
    if (!source.alive) return;
    Series* entry = Find(source.target_key);
    if (entry && entry->sources > 0) --entry->sources;
  }

  typename std::unordered_map<std::string, Source>::iterator EraseSource(
      typename std::unordered_map<std::string, Source>::iterator it) {
    Detach(it->second);
    return sources_.erase(it);
  }

  static constexpr std::chrono::seconds kTrafficHalfLife{60};

  std::optional<SteadyClock::time_point> last_end_;
  std::string overflow_key_;
  size_t label_count_;
  size_t budget_;
  std::vector<size_t> weights_;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, Source> sources_;
  std::unordered_map<std::string, Series> series_;  // kept keys and the overflow series
  std::unordered_map<std::string, Series> folded_;  // keys over the budget, counted in "other"
};

}  // namespace netlens
