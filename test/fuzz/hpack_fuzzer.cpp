// HPACK decoding (daemon/http2/hpack.cpp): one HpackDecoder fed a sequence of header blocks.
// Input: [table size pick] then records [length][bytes]: a length byte under 0xfe is a block of
// that many bytes (fewer at the end); 0xff is Forget(); 0xfe takes the next byte as a new
// SETTINGS_HEADER_TABLE_SIZE pick. Invariants: the table within its capacity, the capacity
// within the announced limit and kMaxTableBytes, at least 32 bytes an entry; fields within
// kMaxFieldBytes, unknown parts empty and only after a Forget(); a block returns kNone only if
// all its fields were known; an error leaves the decoder lost, a lost decoder delivers nothing.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "http2/hpack.h"

using netlens::http2::FieldKnown;
using netlens::http2::HpackDecoder;
using netlens::http2::HpackError;

namespace {

size_t TableSize(uint8_t pick) {
  // Edge sizes (0, under one entry, the default, the bound, above it) and the rest spread.
  static constexpr std::array<size_t, 8> kSizes = {0, 31, 32, 256, 4096, 16384, 65536, 1 << 20};
  if (pick < kSizes.size()) return kSizes[pick];
  return static_cast<size_t>(pick) * 257;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  HpackDecoder decoder;
  size_t limit = TableSize(static_cast<uint8_t>(input[0]));
  decoder.SetMaxTableSize(limit);
  input.remove_prefix(1);
  bool forgot = false;
  while (!input.empty()) {
    const auto length = static_cast<uint8_t>(input[0]);
    input.remove_prefix(1);
    if (length == 0xff) {
      decoder.Forget();
      forgot = true;
      NETLENS_FUZZ_CHECK(!decoder.lost() && decoder.table_entries() == 0);
      continue;
    }
    if (length == 0xfe) {
      if (input.empty()) break;
      limit = TableSize(static_cast<uint8_t>(input[0]));
      input.remove_prefix(1);
      decoder.SetMaxTableSize(limit);
      continue;
    }
    const std::string_view block = input.substr(0, std::min<size_t>(length, input.size()));
    input.remove_prefix(block.size());
    const bool was_lost = decoder.lost();
    size_t fields = 0;
    bool all_known = true;
    const HpackError error =
        decoder.Decode(block, [&](std::string_view name, std::string_view value, FieldKnown known) {
          ++fields;
          NETLENS_FUZZ_CHECK(name.size() <= HpackDecoder::kMaxFieldBytes);
          NETLENS_FUZZ_CHECK(value.size() <= HpackDecoder::kMaxFieldBytes);
          if (known != FieldKnown::kAll) {
            all_known = false;
            NETLENS_FUZZ_CHECK(forgot);
            NETLENS_FUZZ_CHECK(name.empty());
            if (known == FieldKnown::kNone) NETLENS_FUZZ_CHECK(value.empty());
          }
        });
    if (was_lost) NETLENS_FUZZ_CHECK(error == HpackError::kUnknownState && fields == 0);
    if (error == HpackError::kNone) NETLENS_FUZZ_CHECK(all_known);
    if (error != HpackError::kNone && error != HpackError::kUnknownState) {
      NETLENS_FUZZ_CHECK(decoder.lost());
    }
    if (!forgot) NETLENS_FUZZ_CHECK(!decoder.unknown_tail() && all_known);
    NETLENS_FUZZ_CHECK(decoder.table_capacity() <= std::min(limit, HpackDecoder::kMaxTableBytes));
    NETLENS_FUZZ_CHECK(decoder.table_bytes() <= decoder.table_capacity());
    NETLENS_FUZZ_CHECK(decoder.table_entries() * HpackDecoder::kEntryOverhead <=
                       decoder.table_bytes());
  }
  return 0;
}
