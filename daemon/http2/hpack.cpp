#include "http2/hpack.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>
#include <vector>

#include "http2/hpack_tables.h"

namespace netlens::http2 {

namespace {

// The Huffman decoder: a state machine over the code tree's 256 internal nodes, read 4 bits at a
// time (as nghttp2 does). A nibble completes at most one symbol: no code is shorter than 5 bits.
enum : uint8_t { kEmit = 1, kFail = 2, kAccept = 4 };
struct HuffmanStep {
  uint8_t next;    // the internal node reached
  uint8_t symbol;  // with kEmit
  uint8_t flags;   // kAccept: `next` is a valid end (all-ones path of at most 7 bits from a
                   // symbol boundary, RFC 7541 5.2)
};
struct HuffmanMachine {
  std::array<std::array<HuffmanStep, 16>, 256> steps{};
  bool ok = false;  // the tables built a complete code (always, unless hpack_tables.cpp broke)
};

HuffmanMachine BuildHuffmanMachine() {
  struct Node {
    int16_t child[2] = {-1, -1};
    int16_t symbol = -1;  // a leaf's
    int16_t state = -1;   // an internal node's number
    int16_t ones = 0;     // depth if the path from the root is all ones, else -1
  };
  HuffmanMachine machine;
  std::vector<Node> nodes(1);
  nodes[0].state = 0;
  int16_t states = 1;
  for (size_t symbol = 0; symbol < kHuffmanSymbols; ++symbol) {
    const HuffmanCode code = kHuffmanCodes[symbol];
    size_t node = 0;
    for (int bit = code.bits - 1; bit >= 0; --bit) {
      const int b = (code.code >> bit) & 1;
      if (nodes[node].symbol >= 0) return machine;  // not prefix-free
      if (nodes[node].child[b] < 0) {
        Node next;
        next.ones = (b == 1 && nodes[node].ones >= 0) ? nodes[node].ones + 1 : -1;
        if (bit == 0) {
          next.symbol = static_cast<int16_t>(symbol);
        } else {
          if (states == 256) return machine;
          next.state = states++;
        }
        nodes[node].child[b] = static_cast<int16_t>(nodes.size());
        nodes.push_back(next);
      } else if (bit == 0) {
        return machine;  // a code is a prefix of another
      }
      node = static_cast<size_t>(nodes[node].child[b]);
    }
  }
  if (states != 256) return machine;
  for (const Node& start : nodes) {
    if (start.state < 0) continue;
    for (int nibble = 0; nibble < 16; ++nibble) {
      HuffmanStep step{0, 0, 0};
      const Node* current = &start;
      for (int bit = 3; bit >= 0 && !(step.flags & kFail); --bit) {
        const int16_t child = current->child[(nibble >> bit) & 1];
        if (child < 0) return machine;  // incomplete code
        const Node& next = nodes[static_cast<size_t>(child)];
        if (next.symbol < 0) {
          current = &next;
        } else if (next.symbol == kHuffmanEos || (step.flags & kEmit)) {
          step.flags = kFail;  // EOS in a string is an error (5.2)
        } else {
          step.flags |= kEmit;
          step.symbol = static_cast<uint8_t>(next.symbol);
          current = &nodes[0];
        }
      }
      if (!(step.flags & kFail)) {
        step.next = static_cast<uint8_t>(current->state);
        if (current->ones >= 0 && current->ones <= 7) step.flags |= kAccept;
      }
      machine.steps[static_cast<size_t>(start.state)][static_cast<size_t>(nibble)] = step;
    }
  }
  machine.ok = true;
  return machine;
}

const HuffmanMachine& Machine() {
  static const HuffmanMachine machine = BuildHuffmanMachine();
  return machine;
}

// RFC 7541 5.1: an integer whose first byte is block[pos], with `prefix` bits of it. Values
// above 2^32 - 1, or more than 5 continuation bytes (leading zeros could go on forever), are
// kTooLarge.
HpackError DecodeInteger(std::string_view block, size_t& pos, int prefix, uint64_t& out) {
  if (pos >= block.size()) return HpackError::kTruncated;
  const uint64_t mask = (uint64_t{1} << prefix) - 1;
  uint64_t value = static_cast<uint8_t>(block[pos++]) & mask;
  if (value == mask) {
    for (int shift = 0;; shift += 7) {
      if (shift > 28) return HpackError::kTooLarge;
      if (pos >= block.size()) return HpackError::kTruncated;
      const auto byte = static_cast<uint8_t>(block[pos++]);
      value += uint64_t{byte & 0x7fu} << shift;
      if (value > std::numeric_limits<uint32_t>::max()) return HpackError::kTooLarge;
      if (!(byte & 0x80)) break;
    }
  }
  out = value;
  return HpackError::kNone;
}

// RFC 7541 5.2: a string literal at block[pos]; a raw one is viewed in place, a Huffman one is
// decoded into `buffer`.
HpackError DecodeString(std::string_view block, size_t& pos, std::string& buffer,
                        std::string_view& out) {
  if (pos >= block.size()) return HpackError::kTruncated;
  const bool huffman = static_cast<uint8_t>(block[pos]) & 0x80;
  uint64_t length = 0;
  if (HpackError error = DecodeInteger(block, pos, 7, length); error != HpackError::kNone) {
    return error;
  }
  if (!huffman && length > HpackDecoder::kMaxFieldBytes) return HpackError::kTooLarge;
  if (length > block.size() - pos) return HpackError::kTruncated;
  const std::string_view bytes = block.substr(pos, static_cast<size_t>(length));
  pos += bytes.size();
  if (!huffman) {
    out = bytes;
    return HpackError::kNone;
  }
  if (HpackError error = HuffmanDecode(bytes, buffer, HpackDecoder::kMaxFieldBytes);
      error != HpackError::kNone) {
    return error;
  }
  out = buffer;
  return HpackError::kNone;
}

}  // namespace

std::string_view HpackErrorName(HpackError error) {
  // In the enum's order.
  constexpr std::array<std::string_view, 7> kNames = {
      "none",      "truncated",    "bad_index", "bad_huffman", "bad_size_update",
      "too_large", "unknown_state"};
  const auto index = static_cast<size_t>(error);
  return index < kNames.size() ? kNames[index] : "?";
}

HpackError HuffmanDecode(std::string_view encoded, std::string& out, size_t max_bytes) {
  const HuffmanMachine& machine = Machine();
  out.clear();
  if (!machine.ok) return HpackError::kBadHuffman;
  // At most one symbol per 5 bits: the buffer is sized once, and `cap` reached means max_bytes.
  const size_t cap = std::min(max_bytes, encoded.size() / 5 * 8 + 8);
  out.resize(cap);
  size_t n = 0;
  uint8_t state = 0;
  bool accept = true;  // the empty string is valid
  for (const char c : encoded) {
    const auto byte = static_cast<uint8_t>(c);
    for (const uint8_t nibble :
         {static_cast<uint8_t>(byte >> 4), static_cast<uint8_t>(byte & 15)}) {
      const HuffmanStep step = machine.steps[state][nibble];
      if (step.flags & kFail) {
        out.clear();
        return HpackError::kBadHuffman;
      }
      if (step.flags & kEmit) {
        if (n >= cap) {
          out.clear();
          return HpackError::kTooLarge;
        }
        out[n++] = static_cast<char>(step.symbol);
      }
      state = step.next;
      accept = step.flags & kAccept;
    }
  }
  out.resize(n);
  if (!accept) {
    out.clear();
    return HpackError::kBadHuffman;
  }
  return HpackError::kNone;
}

void HpackDecoder::SetMaxTableSize(size_t bytes) {
  limit_ = bytes;
  if (capacity_ > bytes) ResizeTo(bytes);
}

void HpackDecoder::Forget() {
  entries_.clear();
  bytes_ = 0;
  // The missed block may have resized the table up to the announced limit: evicting by that
  // bound keeps every entry the encoder still has (and maybe some it has not).
  capacity_ = std::min(std::max(capacity_, limit_), kMaxTableBytes);
  unknown_tail_ = capacity_ >= kEntryOverhead;
  lost_ = false;
}

HpackError HpackDecoder::Find(uint64_t index, Lookup& out) const {
  if (index == 0) return HpackError::kBadIndex;
  if (index <= kStaticTableSize) {
    const StaticEntry& entry = kStaticTable[static_cast<size_t>(index - 1)];
    out = {entry.name, entry.value, FieldKnown::kAll};
    return HpackError::kNone;
  }
  const uint64_t dynamic = index - kStaticTableSize - 1;
  if (dynamic < entries_.size()) {
    const Entry& entry = entries_[static_cast<size_t>(dynamic)];
    out = {entry.name, entry.value, entry.name_known ? FieldKnown::kAll : FieldKnown::kValueOnly};
    return HpackError::kNone;
  }
  if (!unknown_tail_) return HpackError::kBadIndex;
  out = {{}, {}, FieldKnown::kNone};
  return HpackError::kNone;
}

void HpackDecoder::EvictTo(size_t bytes) {
  while (bytes_ > bytes) {
    bytes_ -= entries_.back().size();
    entries_.pop_back();
  }
}

void HpackDecoder::NoteRoom() {
  // bytes_ is a lower bound and capacity_ an upper one: less room than an entry's overhead here
  // means the encoder has none either, so nothing from before Forget() is left.
  if (capacity_ - bytes_ < kEntryOverhead) unknown_tail_ = false;
}

void HpackDecoder::ResizeTo(size_t capacity) {
  capacity_ = capacity;
  EvictTo(capacity);
  NoteRoom();
}

HpackError HpackDecoder::DecodeBlock(std::string_view block, const Sink& sink) {
  if (lost_) return HpackError::kUnknownState;
  HpackError error = HpackError::kNone;
  bool unknown = false;
  bool fields = false;  // a size update must come first (RFC 7541 4.2)
  size_t pos = 0;
  while (pos < block.size()) {
    const auto first = static_cast<uint8_t>(block[pos]);
    if (first & 0x80) {  // 6.1 indexed
      uint64_t index = 0;
      Lookup entry;
      if ((error = DecodeInteger(block, pos, 7, index)) != HpackError::kNone) break;
      if ((error = Find(index, entry)) != HpackError::kNone) break;
      fields = true;
      unknown |= entry.known != FieldKnown::kAll;
      sink.call(sink.context, entry.name, entry.value, entry.known);
      continue;
    }
    if ((first & 0xe0) == 0x20) {  // 6.3 dynamic table size update
      uint64_t size = 0;
      if ((error = DecodeInteger(block, pos, 5, size)) != HpackError::kNone) break;
      if (fields || size > limit_ || size > kMaxTableBytes) {
        error = HpackError::kBadSizeUpdate;
        break;
      }
      ResizeTo(static_cast<size_t>(size));
      continue;
    }
    // 6.2.1 with incremental indexing (01), 6.2.2 without (0000), 6.2.3 never indexed (0001).
    fields = true;
    const bool indexing = (first & 0xc0) == 0x40;
    uint64_t name_index = 0;
    if ((error = DecodeInteger(block, pos, indexing ? 6 : 4, name_index)) != HpackError::kNone) {
      break;
    }
    std::string_view name;
    FieldKnown known = FieldKnown::kAll;
    if (name_index == 0) {
      if ((error = DecodeString(block, pos, name_buffer_, name)) != HpackError::kNone) break;
    } else {
      Lookup entry;
      if ((error = Find(name_index, entry)) != HpackError::kNone) break;
      name = entry.name;
      if (entry.known != FieldKnown::kAll) known = FieldKnown::kValueOnly;
    }
    std::string_view value;
    if ((error = DecodeString(block, pos, value_buffer_, value)) != HpackError::kNone) break;
    unknown |= known != FieldKnown::kAll;
    if (!indexing) {
      sink.call(sink.context, name, value, known);
      continue;
    }
    // Copied before evicting: the name may be an entry's that the insertion evicts (4.4).
    Entry entry{std::string(name), std::string(value), known == FieldKnown::kAll};
    const size_t size = entry.size();
    if (size > capacity_) {
      // Empties the table (4.4), the encoder's too: its entry is at least as large.
      EvictTo(0);
      unknown_tail_ = false;
      sink.call(sink.context, entry.name, entry.value, known);
      continue;
    }
    EvictTo(capacity_ - size);
    entries_.push_front(std::move(entry));
    bytes_ += size;
    NoteRoom();
    sink.call(sink.context, entries_.front().name, entries_.front().value, known);
  }
  if (error != HpackError::kNone) {
    lost_ = true;
    entries_.clear();
    bytes_ = 0;
    return error;
  }
  return unknown ? HpackError::kUnknownState : HpackError::kNone;
}

}  // namespace netlens::http2
