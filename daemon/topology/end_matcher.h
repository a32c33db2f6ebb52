// Pairs the two ends of a connection between processes on this host by the kernel's
// five-tuples: an active end's (local, remote) is the passive end's (remote, local), across
// network namespaces too (a veth pair keeps both addresses; NAT does not, and then each end is
// counted as talking to an address). Every end the tcp source's snapshots show (live in
// tcp_conns, closed in tcp_closed) becomes one of:
//
// - paired: both ends on this host; one unit, reported by the server end;
// - single: no end matched it within kPairingSnapshots snapshots and kPairingAge (its peer is
//   on another host, in a process netlens does not watch, or behind NAT); a unit of its own,
//   reported by this end;
// - late: matched to an end already counted as single (counted in late_pairs(), never twice);
// - skipped: an end whose direction is unknown (a connection open before netlens started,
//   per-event accounting) with no known partner: it cannot say which end serves.
//
// Pairing is immediate in practice: both ends of a connection exist at once, so one snapshot
// (its conns read, then its closed drain) nearly always shows both; the grace covers the
// microseconds between the two ends' entries. Bounded by the kernel's maps: an end is kept
// while the kernel holds it and, once closed and decided, for kKeepClosedUpdates more
// snapshots (where a late peer would show).
//
// Units() gives the units with an open end (every time) and those that changed in the last
// Update (an end closed, or the unit just decided): a closed unit once, with its final
// counters. Its source in the ledger then goes and its counts stay; it never comes back.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "bpf/kernel_snapshot.h"

namespace netlens::topology {

inline constexpr size_t kPairingSnapshots = 2;
inline constexpr std::chrono::seconds kPairingAge{1};
inline constexpr uint64_t kKeepClosedUpdates = 2;
inline constexpr uint64_t kVanishedUpdates = 2;

// One counted unit: a pair (both ends) or a single end (the other is nullptr).
struct EdgeUnit {
  std::pair<uint64_t, uint64_t> id;  // (sock, open_ns) of its server end, else its one end
  const nl_conn* client = nullptr;
  const nl_conn* server = nullptr;
  bool paired() const { return client && server; }
};

class EndMatcher {
 public:
  using Clock = std::chrono::steady_clock;

  // One snapshot: every established end in it is recorded (closed ones with their final
  // counters), new ends are paired, ends unpaired for the grace become single.
  // `full`: a whole snapshot (its conns show every open end); otherwise only closed ends
  // drained between snapshots (TcpSource::DrainClosed), which pair, decide and expire the same
  // way, so that closed ends are held for a second, not until the next refresh.
  void Update(const KernelSnapshot& snapshot, Clock::time_point now, bool full = true);
  // The decided units that changed since the last call and, `with_open`, every unit with an
  // open end, with their latest counters.
  std::vector<EdgeUnit> TakeUnits(bool with_open = true);

  uint64_t late_pairs() const { return late_pairs_; }
  uint64_t skipped() const { return skipped_; }
  // Ends that left tcp_conns without a tcp_closed record (absent from kVanishedUpdates
  // snapshots running; tcp_closed was full): counted with what was last read of them.
  uint64_t vanished() const { return vanished_; }
  size_t ends() const { return ends_.size(); }

 private:
  enum class State : uint8_t { kPending, kPaired, kSingle, kLate, kSkipped };
  struct End {
    nl_conn conn{};
    State state = State::kPending;
    std::pair<uint64_t, uint64_t> partner{};  // the other end, when paired or late
    uint64_t first_update = 0;                // the Update that first showed it
    Clock::time_point first_seen{};
    bool closed = false;
    uint64_t last_update = 0;     // the Update that last showed it
    uint64_t last_full = 0;       // the full Update that last showed it open
    uint64_t decided_update = 0;  // the Update that paired it or found it alone
  };
  // The five-tuple as seen from the end, both addresses and ports.
  struct TupleKey {
    std::array<uint8_t, 16> local{}, remote{};
    uint16_t local_port = 0, remote_port = 0;
    bool operator==(const TupleKey&) const = default;
  };
  struct TupleHash {
    size_t operator()(const TupleKey& key) const;
  };
  static TupleKey KeyOf(const nl_tuple& tuple);
  static TupleKey Reversed(const TupleKey& key);
  using EndId = std::pair<uint64_t, uint64_t>;  // (sock, open_ns)
  struct EndIdHash {
    size_t operator()(const EndId& id) const {
      return std::hash<uint64_t>()(id.first ^ (id.second * 0x9e3779b97f4a7c15ULL));
    }
  };

  void Record(uint64_t sock, const nl_conn& conn, bool closed, Clock::time_point now);
  void Match(const EndId& id, End& end);
  bool Expired(const End& end) const;
  void Erase(const EndId& id);

  // Each Update touches only what it must: the ends it showed or decided (changed_), the
  // undecided ones (pending_), the open ones (open_: which vanished), the closed ones
  // (closed_: which expire). ends_ holds them all.
  std::unordered_map<EndId, End, EndIdHash> ends_;
  std::unordered_multimap<TupleKey, EndId, TupleHash> by_tuple_;
  std::vector<EndId> changed_;
  std::vector<EndId> pending_;
  std::unordered_set<EndId, EndIdHash> open_;
  std::vector<EndId> closed_;
  uint64_t update_ = 0;
  uint64_t full_update_ = 0;
  uint64_t late_pairs_ = 0, skipped_ = 0, vanished_ = 0;
};

}  // namespace netlens::topology
