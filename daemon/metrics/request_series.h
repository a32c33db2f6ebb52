// The life of request series, shared by the request aggregators (HTTP, MySQL): the series
// budget, and the expiry of series whose process is gone.
//
// Budget (FindWithinBudget): at most max_series series, the "other" one included
// (limits.series_per_family, as the tcp families count it); once max_series - 1 keys have series
// of their own, a new key is summed into the "other" series, and remembered (up to
// kMaxFoldedKeysCounted) for netlens_series_folded.
//
// Expiry: a series whose process labels no live process has for `ttl` since then and since its
// last exchange, and that a scrape has shown since (MarkShownOrphans), is dropped; the folded
// "other" series stays. A series without a pid label stays while any process with its labels
// lives.
//
// Series maps: Key has `folded` and `process` (the labels); the value has `orphan`
// (OrphanState).
#pragma once

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace netlens {

// Beyond this many distinct folded keys netlens_series_folded stops growing (memory bound).
inline constexpr size_t kMaxFoldedKeysCounted = 10000;

// The series of `key`, made if the budget allows, else the series of `other` (the folded key).
template <typename SeriesMap, typename Key>
typename SeriesMap::iterator FindWithinBudget(SeriesMap& series, Key key, size_t max_series,
                                              std::set<Key>& folded_seen, Key other) {
  auto it = series.find(key);
  if (it != series.end()) return it;
  if (series.size() + 1 >= max_series) {
    if (folded_seen.size() < kMaxFoldedKeysCounted) folded_seen.insert(key);
    key = std::move(other);
  }
  return series.try_emplace(std::move(key)).first;
}

// The series of `key` within the budget, else its role's "other" series (a Key with folded and
// role only: the role picks the family), marked updated at now_ns for the expiry below.
template <typename SeriesMap, typename Key>
typename SeriesMap::mapped_type& SeriesWithinBudget(SeriesMap& series, Key key, size_t max_series,
                                                    std::set<Key>& folded_seen, uint64_t now_ns) {
  Key other;
  other.folded = true;
  other.role = key.role;
  const auto it = FindWithinBudget(series, std::move(key), max_series, folded_seen, other);
  it->second.orphan.updated_ns = now_ns;
  it->second.orphan.shown_orphan = false;
  return it->second;
}

using ProcessLabelSet = std::set<std::vector<std::pair<std::string, std::string>>>;

struct OrphanState {
  uint64_t updated_ns = 0;    // when the last exchange was added
  uint64_t orphan_ns = 0;     // since when no live process has the labels (0: one has)
  bool shown_orphan = false;  // a scrape showed it since
};

// Returns how many series were dropped.
template <typename SeriesMap>
size_t ExpireOrphanSeries(SeriesMap& series, const ProcessLabelSet& live, uint64_t ttl_ns,
                          uint64_t now_ns) {
  size_t dropped = 0;
  for (auto it = series.begin(); it != series.end();) {
    OrphanState& state = it->second.orphan;
    if (it->first.folded || live.count(it->first.process)) {
      state.orphan_ns = 0;
      state.shown_orphan = false;
      ++it;
      continue;
    }
    if (state.orphan_ns == 0) state.orphan_ns = now_ns;
    const uint64_t since = std::max(state.orphan_ns, state.updated_ns);
    if (!state.shown_orphan || now_ns < since || now_ns - since < ttl_ns) {
      ++it;
      continue;
    }
    it = series.erase(it);
    ++dropped;
  }
  return dropped;
}

// A scrape rendered the series: orphans may go from now on.
template <typename SeriesMap>
void MarkShownOrphans(SeriesMap& series) {
  for (auto& [key, value] : series) {
    if (value.orphan.orphan_ns != 0) value.orphan.shown_orphan = true;
  }
}

}  // namespace netlens
