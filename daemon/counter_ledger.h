// Exact, monotonic counters from sources that come, go and move.
//
// A source is anything in a kernel map whose value only grows while it exists:
// a live connection, a totals entry, a closed connection handed over once.
// Each scrape the ledger adds the growth of every source since the last scrape
// to the series the source feeds, so a series never goes backwards. When a
// source vanishes (a connection closed and the kernel folded it into a totals
// entry), its last value is credited to the series it folds into, and the
// growth of that series' own sources pays the credit back first: the folded
// connection is not counted twice, and nothing is lost.
#pragma once

#include <algorithm>
#include <tuple>
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace netlens {

using SteadyClock = std::chrono::steady_clock;

// Where counts go: label values in the family's label order, and the pid the
// series belongs to (0: none), for expiry.
struct SeriesRef {
  std::vector<std::string> labels;
  uint32_t pid = 0;
  std::string comm;
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
    Counters value{};
    Counters credit{};  // counted through sources that have since vanished
    SteadyClock::time_point last_change{};
    size_t sources = 0;
  };

  // budget: most series, the overflow series included; keys beyond it are
  // summed into one series whose labels are all "other", first come first kept.
  CounterLedger(size_t label_count, size_t budget)
      : overflow_key_(SeriesKeyOf(std::vector<std::string>(label_count, "other"))),
        label_count_(label_count),
        budget_(budget) {}

  void BeginScrape() { ++generation_; }

  // A source's cumulative value now. `kind` groups sources for Sweep();
  // `fold` is where its value reappears once it vanishes (nullptr: nowhere).
  void Observe(const std::string& id, int kind, const SeriesRef& target, const SeriesRef* fold,
               const Counters& cumulative, SteadyClock::time_point now) {
    // Nothing counted yet and nowhere to count it: no series of zeros.
    if (cumulative == Counters{} && !sources_.count(id) &&
        !series_.count(SeriesKeyOf(target.labels)))
      return;
    auto [it, inserted] = sources_.try_emplace(id);
    Source& source = it->second;
    std::string wanted = SeriesKeyOf(target.labels);
    // A source whose labels change (an accepted connection passing from the
    // listener's process to its own) feeds the new series from now on; what
    // the old one counted stays there.
    if (inserted || wanted != source.target_key) {
      if (!inserted) Detach(source);
      source.kind = kind;
      source.target_key = std::move(wanted);
      std::tie(source.series, source.folded_from) = Resolve(target, now);
      ++series_.at(source.series).sources;
      if (!source.folded_from.empty()) ++folded_[source.folded_from];
    }
    source.generation = generation_;
    source.has_fold = fold != nullptr;
    if (fold) source.fold = *fold;
    Series& series = series_.at(source.series);
    bool changed = false;
    for (size_t i = 0; i < N; ++i) {
      uint64_t delta = cumulative[i] > source.last[i] ? cumulative[i] - source.last[i] : 0;
      const uint64_t repaid = std::min(delta, series.credit[i]);
      series.credit[i] -= repaid;
      delta -= repaid;
      series.value[i] += delta;
      changed |= delta != 0;
    }
    source.last = cumulative;
    if (changed) series.last_change = now;
  }

  // A source that ended and will not come back, its last value already observed.
  void Retire(const std::string& id) {
    auto it = sources_.find(id);
    if (it != sources_.end()) EraseSource(it);
  }

  // Sources of `kind` not observed this scrape: credit what they counted to the
  // series they fold into, and forget them.
  void Sweep(int kind, SteadyClock::time_point now) {
    for (auto it = sources_.begin(); it != sources_.end();) {
      const Source& source = it->second;
      if (source.kind != kind || source.generation == generation_) {
        ++it;
        continue;
      }
      if (source.has_fold) {
        Series& fold = series_.at(Resolve(source.fold, now).first);
        for (size_t i = 0; i < N; ++i) fold.credit[i] += source.last[i];
      }
      it = EraseSource(it);
    }
  }

  // Drops every series of (pid, comm) and the sources feeding them.
  void DropProcess(uint32_t pid, const std::string& comm) {
    auto belongs = [&](const Series& series) { return series.pid == pid && series.comm == comm; };
    for (auto it = sources_.begin(); it != sources_.end();) {
      it = belongs(series_.at(it->second.series)) ? EraseSource(it) : std::next(it);
    }
    std::erase_if(series_, [&](const auto& entry) {
      return entry.first != overflow_key_ && belongs(entry.second);
    });
  }

  // Drops series no source feeds any more and that did not change for `retention`.
  void ExpireIdle(SteadyClock::duration retention, SteadyClock::time_point now) {
    std::erase_if(series_, [&](const auto& entry) {
      return entry.first != overflow_key_ && entry.second.sources == 0 &&
             now - entry.second.last_change > retention;
    });
  }

  const std::unordered_map<std::string, Series>& series() const { return series_; }
  // Distinct keys whose counts currently go to the overflow series.
  size_t folded_keys() const { return folded_.size(); }
  void SetBudget(size_t budget) { budget_ = budget; }

 private:
  struct Source {
    int kind = 0;
    std::string target_key;  // the key its labels ask for
    std::string series;      // the key it feeds: target_key, or the overflow key
    std::string folded_from;  // the key it would have had, when over budget
    Counters last{};
    uint64_t generation = 0;
    bool has_fold = false;
    SeriesRef fold;
  };

  // {series key, key folded from or ""}. A key stays folded while a source uses it.
  std::pair<std::string, std::string> Resolve(const SeriesRef& ref, SteadyClock::time_point now) {
    std::string key = SeriesKeyOf(ref.labels);
    if (series_.count(key)) return {key, ""};
    const size_t regular = series_.size() - series_.count(overflow_key_);
    const bool fits = key == overflow_key_ || (!folded_.count(key) && regular + 1 < budget_);
    if (fits) {
      Series& series = series_[key];
      series.labels = ref.labels;
      series.pid = ref.pid;
      series.comm = ref.comm;
      series.last_change = now;
      return {key, ""};
    }
    Series& overflow = series_[overflow_key_];
    if (overflow.labels.empty()) overflow.labels.assign(label_count_, "other");
    return {overflow_key_, key};
  }

  void Detach(Source& source) {
    auto series = series_.find(source.series);
    if (series != series_.end() && series->second.sources > 0) --series->second.sources;
    if (!source.folded_from.empty() && --folded_[source.folded_from] == 0)
      folded_.erase(source.folded_from);
    source.folded_from.clear();
  }

  typename std::unordered_map<std::string, Source>::iterator EraseSource(
      typename std::unordered_map<std::string, Source>::iterator it) {
    Detach(it->second);
    return sources_.erase(it);
  }

  std::string overflow_key_;
  size_t label_count_;
  size_t budget_;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, Source> sources_;
  std::unordered_map<std::string, Series> series_;
  std::unordered_map<std::string, size_t> folded_;  // key -> sources folded under it
};

}  // namespace netlens
