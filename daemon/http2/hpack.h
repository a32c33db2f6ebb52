// HPACK (RFC 7541) header block decoding for the HTTP/2 parser: one HpackDecoder per direction of
// a connection, fed that direction's complete header blocks (HEADERS + CONTINUATION payloads
// joined, padding and priority removed) strictly in order.
//
// Contract:
// - Decode() calls on_field(name, value, known) for each field in order; the views are valid only
//   during the call. It returns kNone, or the first error and stops there. Any error other than
//   kUnknownState leaves the decoder lost(): the table is no longer known and every later block
//   returns kUnknownState without a field, until Forget().
// - Forget() says a block of this direction was missed (watched mid-stream, bytes not copied): the
//   entries inserted before it become unknown. A field referring to one is still delivered, with
//   the unknown part empty and `known` saying which (FieldKnown), and its block returns
//   kUnknownState after decoding the rest. Entries inserted after Forget() are exact. It also
//   ends the lost state.
// - Memory is bounded: the table holds at most kMaxTableBytes (RFC entry sizes), a name or value
//   at most kMaxFieldBytes. No input crashes or is undefined behaviour (fuzzed: hpack_fuzzer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace netlens::http2 {

struct HeaderField {
  std::string name, value;
  friend bool operator==(const HeaderField&, const HeaderField&) = default;
};

enum class HpackError : uint8_t {
  kNone,
  kTruncated,      // the block ends inside a representation
  kBadIndex,       // index 0, or beyond the static and dynamic tables
  kBadHuffman,     // EOS inside a string, padding over 7 bits or not all ones
  kBadSizeUpdate,  // a size update after a field, or above the limit or kMaxTableBytes
  kTooLarge,       // an integer above 2^32 - 1, or a name or value over kMaxFieldBytes
  kUnknownState,   // lost, or a field referred to an entry from before Forget()
};
std::string_view HpackErrorName(HpackError error);

// RFC 7541 5.2's Huffman decoding of a whole string into `out`: kBadHuffman for EOS inside,
// padding over 7 bits or not all ones; kTooLarge past max_bytes (out is then cleared).
HpackError HuffmanDecode(std::string_view encoded, std::string& out, size_t max_bytes);

// What of a delivered field is known; the unknown part is passed empty.
enum class FieldKnown : uint8_t {
  kAll,
  kValueOnly,  // a literal whose name is an entry from before Forget()
  kNone,       // an indexed field naming an entry from before Forget()
};

class HpackDecoder {
 public:
  static constexpr size_t kMaxTableBytes = 65536;     // the largest table size honoured
  static constexpr size_t kMaxFieldBytes = 16384;     // a longer name or value is kTooLarge
  static constexpr size_t kDefaultTableBytes = 4096;  // SETTINGS_HEADER_TABLE_SIZE's initial value
  static constexpr size_t kEntryOverhead = 32;        // RFC 7541 4.1

  // on_field: callable as on_field(std::string_view name, std::string_view value, FieldKnown).
  template <class F>
  HpackError Decode(std::string_view block, F&& on_field) {
    using Fn = std::remove_reference_t<F>;
    static_assert(std::is_invocable_v<Fn&, std::string_view, std::string_view, FieldKnown>,
                  "on_field(std::string_view name, std::string_view value, FieldKnown known)");
    Sink sink{
        [](const void* context, std::string_view name, std::string_view value, FieldKnown known) {
          (*static_cast<Fn*>(const_cast<void*>(context)))(name, value, known);
        },
        std::addressof(on_field)};
    return DecodeBlock(block, sink);
  }

  // The SETTINGS_HEADER_TABLE_SIZE this decoder's side announced (acknowledged): the bound of
  // later size updates. A lower value than the table's shrinks it now, as the encoder must (as
  // nghttp2 does; the size update the encoder then owes is not required); a higher one changes
  // the table only through the encoder's size update (RFC 7541 4.2).
  void SetMaxTableSize(size_t bytes);
  void Forget();

  bool lost() const { return lost_; }
  // Whether entries from before Forget() may still be referred to (then an index beyond
  // table_entries() is unknown rather than an error).
  bool unknown_tail() const { return unknown_tail_; }
  // RFC sizes of the entries held; exact unless an entry's name is unknown (counted as empty).
  size_t table_bytes() const { return bytes_; }
  size_t table_entries() const { return entries_.size(); }
  size_t table_capacity() const { return capacity_; }  // the last size update's (or a bound)

 private:
  struct Sink {
    void (*call)(const void* context, std::string_view, std::string_view, FieldKnown);
    const void* context;
  };
  struct Entry {
    std::string name, value;
    bool name_known = true;
    size_t size() const { return name.size() + value.size() + kEntryOverhead; }
  };
  // A table lookup: static or dynamic, or an entry from before Forget().
  struct Lookup {
    std::string_view name, value;
    FieldKnown known = FieldKnown::kAll;
  };

  HpackError DecodeBlock(std::string_view block, const Sink& sink);
  HpackError Find(uint64_t index, Lookup& out) const;
  void EvictTo(size_t bytes);
  void NoteRoom();
  void ResizeTo(size_t capacity);

  std::deque<Entry> entries_;  // newest first: dynamic index 62 is entries_[0]
  size_t bytes_ = 0;
  size_t capacity_ = kDefaultTableBytes;
  size_t limit_ = kDefaultTableBytes;
  bool unknown_tail_ = false;
  bool lost_ = false;
  std::string name_buffer_, value_buffer_;  // Huffman-decoded strings, reused
};

}  // namespace netlens::http2
