#include "topology/end_matcher.h"

#include <algorithm>
#include <cstring>

namespace netlens::topology {
namespace {

// Counters only grow: a record read before a later one (a refresh's stored values after a
// scrape's live read) never lowers them. A direction the pairing decided stays, and so does
// the five-tuple.
void Merge(nl_conn& into, const nl_conn& from) {
  const nl_traffic before = into.traffic;
  const uint8_t direction = into.direction;
  const nl_tuple tuple = into.tuple;  // final since ESTABLISHED; the index is keyed by it
  into = from;
  into.tuple = tuple;
  if (from.direction == NL_DIR_UNKNOWN) into.direction = direction;
  into.traffic.bytes_sent = std::max(before.bytes_sent, from.traffic.bytes_sent);
  into.traffic.bytes_received = std::max(before.bytes_received, from.traffic.bytes_received);
  into.traffic.send_calls = std::max(before.send_calls, from.traffic.send_calls);
  into.traffic.receive_calls = std::max(before.receive_calls, from.traffic.receive_calls);
  into.traffic.retransmits = std::max(before.retransmits, from.traffic.retransmits);
}

}  // namespace

size_t EndMatcher::TupleHash::operator()(const TupleKey& key) const {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a over the addresses and ports
  auto mix = [&](const uint8_t* bytes, size_t size) {
    for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ULL;
  };
  mix(key.local.data() + 12, 4);  // IPv4 (mapped): the last 4 bytes tell addresses apart
  mix(key.remote.data() + 12, 4);
  mix(reinterpret_cast<const uint8_t*>(&key.local_port), 2);
  mix(reinterpret_cast<const uint8_t*>(&key.remote_port), 2);
  return hash;
}

EndMatcher::TupleKey EndMatcher::KeyOf(const nl_tuple& tuple) {
  TupleKey key;
  std::memcpy(key.local.data(), tuple.local_addr, 16);
  std::memcpy(key.remote.data(), tuple.remote_addr, 16);
  key.local_port = tuple.local_port;
  key.remote_port = tuple.remote_port;
  return key;
}

EndMatcher::TupleKey EndMatcher::Reversed(const TupleKey& key) {
  return {.local = key.remote,
          .remote = key.local,
          .local_port = key.remote_port,
          .remote_port = key.local_port};
}

void EndMatcher::Record(uint64_t sock, const nl_conn& conn, bool closed, Clock::time_point now) {
  const EndId id{sock, conn.open_ns};
  auto [it, inserted] = ends_.try_emplace(id);
  End& end = it->second;
  if (inserted) {
    end.conn = conn;
    end.first_update = update_;
    end.first_seen = now;
    by_tuple_.emplace(KeyOf(conn.tuple), id);
    pending_.push_back(id);
    open_.insert(id);
  } else {
    if (end.closed) return;  // a closed end's record is final
    Merge(end.conn, conn);
  }
  end.last_update = update_;
  if (!closed) end.last_full = full_update_;
  changed_.push_back(id);
  if (closed) {
    end.closed = true;
    open_.erase(id);
    closed_.push_back(id);
  }
}

void EndMatcher::Match(const EndId& id, End& end) {
  const auto [first, last] = by_tuple_.equal_range(Reversed(KeyOf(end.conn.tuple)));
  for (auto it = first; it != last; ++it) {
    auto found = ends_.find(it->second);
    if (found == ends_.end() || found->first == id) continue;
    End& other = found->second;
    // One end connects, the other accepted; an unknown direction takes the other's opposite.
    const uint8_t mine = end.conn.direction, theirs = other.conn.direction;
    if (mine == theirs) continue;
    if (other.state == State::kPending) {
      end.state = other.state = State::kPaired;
      end.decided_update = other.decided_update = update_;
      end.partner = found->first;
      other.partner = id;
      if (end.conn.direction == NL_DIR_UNKNOWN)
        end.conn.direction = theirs == NL_DIR_ACTIVE ? NL_DIR_PASSIVE : NL_DIR_ACTIVE;
      if (other.conn.direction == NL_DIR_UNKNOWN)
        other.conn.direction = mine == NL_DIR_ACTIVE ? NL_DIR_PASSIVE : NL_DIR_ACTIVE;
      return;
    }
    // Its peer was already counted alone: an end of the same five-tuple that overlapped it
    // (open, or closed no earlier than the snapshot before) is that peer, seen late.
    const bool overlapped = !other.closed || other.last_update + 1 >= update_;
    if (other.state == State::kSingle && overlapped) {
      end.state = State::kLate;
      end.partner = found->first;
      ++late_pairs_;
      return;
    }
  }
}

bool EndMatcher::Expired(const End& end) const {
  return end.closed && end.state != State::kPending &&
         update_ - std::max(end.last_update, end.decided_update) >= kKeepClosedUpdates;
}

void EndMatcher::Erase(const EndId& id) {
  const auto found = ends_.find(id);
  if (found == ends_.end()) return;
  const auto [first, last] = by_tuple_.equal_range(KeyOf(found->second.conn.tuple));
  for (auto entry = first; entry != last; ++entry) {
    if (entry->second == id) {
      by_tuple_.erase(entry);
      break;
    }
  }
  open_.erase(id);
  ends_.erase(found);
}

void EndMatcher::Update(const KernelSnapshot& snapshot, Clock::time_point now, bool full) {
  ++update_;
  if (full) ++full_update_;
  for (const auto& [sock, conn] : snapshot.conns)
    if (conn.established) Record(sock, conn, /*closed=*/false, now);
  for (const auto& [key, conn] : snapshot.closed)
    if (conn.established) Record(key.sock, conn, /*closed=*/true, now);
  // Gone from tcp_conns with no closed record, in two snapshots running (one read that missed
  // it does not end it): counted with what was last read of it.
  for (auto it = open_.begin(); full && it != open_.end();) {
    End& end = ends_.at(*it);
    if (end.last_full + kVanishedUpdates > full_update_) {
      ++it;
      continue;
    }
    end.closed = true;
    ++vanished_;
    closed_.push_back(*it);
    it = open_.erase(it);
  }
  for (const EndId& id : pending_) {
    End& end = ends_.at(id);
    if (end.state == State::kPending) Match(id, end);
  }
  std::erase_if(pending_, [&](const EndId& id) {
    End& end = ends_.at(id);
    if (end.state != State::kPending) return true;
    if (update_ - end.first_update + 1 < kPairingSnapshots || now - end.first_seen < kPairingAge)
      return false;
    if (end.conn.direction == NL_DIR_UNKNOWN) {
      end.state = State::kSkipped;
      ++skipped_;
    } else {
      end.state = State::kSingle;
      end.decided_update = update_;
      changed_.push_back(id);
    }
    return true;
  });
  // A pair goes when both ends have; an end alone when it has.
  std::vector<EndId> gone;
  std::erase_if(closed_, [&](const EndId& id) {
    auto found = ends_.find(id);
    if (found == ends_.end()) return true;  // its pair went with its partner
    const End& end = found->second;
    if (!Expired(end)) return false;
    if (end.state == State::kPaired) {
      auto partner = ends_.find(end.partner);
      if (partner != ends_.end() && !Expired(partner->second)) return false;
      if (partner != ends_.end()) gone.push_back(end.partner);
    }
    gone.push_back(id);
    return true;
  });
  for (const EndId& id : gone) Erase(id);
}

std::vector<EdgeUnit> EndMatcher::TakeUnits(bool with_open) {
  std::vector<EdgeUnit> units;
  std::unordered_set<EndId, EndIdHash> shown;  // a single by its end, a pair by its server end
  auto add = [&](const EndId& id) {
    const auto found = ends_.find(id);
    if (found == ends_.end()) return;
    const End& end = found->second;
    const bool server = end.conn.direction == NL_DIR_PASSIVE;
    if (end.state == State::kSingle) {
      if (!shown.insert(id).second) return;
      units.push_back({.id = id,
                       .client = server ? nullptr : &end.conn,
                       .server = server ? &end.conn : nullptr});
    } else if (end.state == State::kPaired) {
      const auto partner = ends_.find(end.partner);
      if (partner == ends_.end()) return;  // pairs go together: cannot happen
      const auto& [server_id, server_end] = server ? *found : *partner;
      const End& client_end = server ? partner->second : end;
      if (!shown.insert(server_id).second) return;
      units.push_back({.id = server_id, .client = &client_end.conn, .server = &server_end.conn});
    }
  };
  for (const EndId& id : changed_) add(id);
  if (with_open)
    for (const EndId& id : open_) add(id);
  changed_.clear();
  return units;
}

}  // namespace netlens::topology
