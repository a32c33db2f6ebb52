// HpackDecoder (daemon/http2/hpack.h): RFC 7541 Appendix C's examples byte for byte, the Huffman
// code over every octet, each malformed input's error, Forget() and the table's bounds.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http2/hpack.h"
#include "http2/hpack_tables.h"

namespace Catch {
template <>
struct StringMaker<netlens::http2::HeaderField> {
  static std::string convert(const netlens::http2::HeaderField& field) {
    return field.name + ": " + field.value;
  }
};
template <>
struct StringMaker<netlens::http2::HpackError> {
  static std::string convert(netlens::http2::HpackError error) {
    return std::string(netlens::http2::HpackErrorName(error));
  }
};
}  // namespace Catch

namespace {

using netlens::http2::FieldKnown;
using netlens::http2::HeaderField;
using netlens::http2::HpackDecoder;
using netlens::http2::HpackError;
using netlens::http2::HuffmanDecode;
using netlens::http2::kHuffmanCodes;
using Fields = std::vector<HeaderField>;

std::string Bytes(std::string_view hex) {
  std::string out;
  auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    if (hex[i] == ' ') {
      --i;
      continue;
    }
    out.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
  }
  return out;
}

struct Result {
  HpackError error;
  Fields fields;
  std::vector<FieldKnown> known;
};

Result Decode(HpackDecoder& decoder, std::string_view block) {
  Result result;
  result.error =
      decoder.Decode(block, [&](std::string_view name, std::string_view value, FieldKnown known) {
        result.fields.push_back({std::string(name), std::string(value)});
        result.known.push_back(known);
      });
  return result;
}

Result DecodeHex(HpackDecoder& decoder, std::string_view hex) {
  return Decode(decoder, Bytes(hex));
}

// A Huffman encoder from the tables (RFC 7541 5.2): codes most significant bit first, padded
// with the EOS prefix (ones).
std::string HuffmanEncode(std::string_view text) {
  std::string out;
  uint64_t bits = 0;
  int count = 0;
  for (const char c : text) {
    const auto& code = kHuffmanCodes[static_cast<uint8_t>(c)];
    bits = (bits << code.bits) | code.code;
    count += code.bits;
    while (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>(bits >> count));
    }
  }
  if (count > 0) out.push_back(static_cast<char>((bits << (8 - count)) | (0xffu >> count)));
  return out;
}

// RFC 7541 5.1: `value` with an N-bit prefix, the first byte's other bits `flags`.
std::string Integer(uint8_t flags, int prefix, uint64_t value) {
  std::string out;
  const uint64_t mask = (uint64_t{1} << prefix) - 1;
  if (value < mask) {
    out.push_back(static_cast<char>(flags | value));
    return out;
  }
  out.push_back(static_cast<char>(flags | mask));
  value -= mask;
  while (value >= 128) {
    out.push_back(static_cast<char>(0x80 | (value & 0x7f)));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
  return out;
}

std::string Raw(std::string_view text) { return Integer(0, 7, text.size()) + std::string(text); }

// A literal with incremental indexing and a new name, both raw.
std::string Indexed(std::string_view name, std::string_view value) {
  return "\x40" + Raw(name) + Raw(value);
}

const Fields kRequest1 = {
    {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}};
const Fields kRequest2 = {{":method", "GET"},
                          {":scheme", "http"},
                          {":path", "/"},
                          {":authority", "www.example.com"},
                          {"cache-control", "no-cache"}};
const Fields kRequest3 = {{":method", "GET"},
                          {":scheme", "https"},
                          {":path", "/index.html"},
                          {":authority", "www.example.com"},
                          {"custom-key", "custom-value"}};
const Fields kResponse1 = {{":status", "302"},
                           {"cache-control", "private"},
                           {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                           {"location", "https://www.example.com"}};
const Fields kResponse2 = {{":status", "307"},
                           {"cache-control", "private"},
                           {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                           {"location", "https://www.example.com"}};
const Fields kResponse3 = {
    {":status", "200"},
    {"cache-control", "private"},
    {"date", "Mon, 21 Oct 2013 20:13:22 GMT"},
    {"location", "https://www.example.com"},
    {"content-encoding", "gzip"},
    {"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"}};

// Each block of a sequence on one decoder: its fields, then the table's size and entry count.
struct Step {
  std::string_view hex;
  const Fields& fields;
  size_t bytes;
  size_t entries;
};
void CheckSequence(HpackDecoder& decoder, const std::vector<Step>& steps) {
  for (const Step& step : steps) {
    const Result result = DecodeHex(decoder, step.hex);
    CHECK(result.error == HpackError::kNone);
    CHECK(result.fields == step.fields);
    CHECK(decoder.table_bytes() == step.bytes);
    CHECK(decoder.table_entries() == step.entries);
  }
}

}  // namespace

TEST_CASE("hpack: RFC 7541 C.2 literal and indexed representations", "[hpack]") {
  // Each block on a fresh decoder: C.2.1 literal with indexing, C.2.2 without, C.2.3 never
  // indexed, C.2.4 indexed (static).
  struct Example {
    const char* hex;
    HeaderField field;
    size_t table_bytes, table_entries;
  };
  const Example kExamples[] = {
      {"400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
       {"custom-key", "custom-header"},
       55,
       1},
      {"040c 2f73 616d 706c 652f 7061 7468", {":path", "/sample/path"}, 0, 0},
      {"1008 7061 7373 776f 7264 0673 6563 7265 74", {"password", "secret"}, 0, 0},
      {"82", {":method", "GET"}, 0, 0},
  };
  for (const Example& example : kExamples) {
    INFO(example.hex);
    HpackDecoder decoder;
    const Result r = DecodeHex(decoder, example.hex);
    CHECK(r.error == HpackError::kNone);
    CHECK(r.fields == Fields{example.field});
    CHECK(r.known == std::vector<FieldKnown>{FieldKnown::kAll});
    CHECK(decoder.table_bytes() == example.table_bytes);
    CHECK(decoder.table_entries() == example.table_entries);
  }
}

TEST_CASE("hpack: RFC 7541 C.3 requests without Huffman", "[hpack]") {
  HpackDecoder decoder;
  CheckSequence(decoder,
                {{"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", kRequest1, 57, 1},
                 {"8286 84be 5808 6e6f 2d63 6163 6865", kRequest2, 110, 2},
                 {"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                  kRequest3, 164, 3}});
  // The table after C.3.3: [62] custom-key, [63] cache-control, [64] :authority.
  const Result r = DecodeHex(decoder, "bebf c0");
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"custom-key", "custom-value"},
                           {"cache-control", "no-cache"},
                           {":authority", "www.example.com"}});
  CHECK(DecodeHex(decoder, "c1").error == HpackError::kBadIndex);
}

TEST_CASE("hpack: RFC 7541 C.4 requests with Huffman", "[hpack]") {
  HpackDecoder decoder;
  CheckSequence(decoder, {{"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", kRequest1, 57, 1},
                          {"8286 84be 5886 a8eb 1064 9cbf", kRequest2, 110, 2},
                          {"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", kRequest3,
                           164, 3}});
}

TEST_CASE("hpack: RFC 7541 C.5 and C.6 responses, with eviction", "[hpack]") {
  // The same three responses without Huffman (C.5) and with (C.6), a 256-byte table.
  const std::vector<std::vector<std::string_view>> kEncodings = {
      {"4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 "
       "303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 "
       "6f6d",
       "4803 3330 37c1 c0bf",
       "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 "
       "5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 "
       "5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31"},
      {"4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b "
       "ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
       "4883 640e ffc1 c0bf",
       "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad "
       "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 "
       "65c0 03ed 4ee5 b106 3d50 07"},
  };
  for (const std::vector<std::string_view>& blocks : kEncodings) {
    INFO(blocks[1]);
    HpackDecoder decoder;
    decoder.SetMaxTableSize(256);
    CheckSequence(decoder, {{blocks[0], kResponse1, 222, 4},
                            {blocks[1], kResponse2, 222, 4},
                            {blocks[2], kResponse3, 215, 3}});
    // The table after the third: [62] set-cookie, [63] content-encoding, [64] date.
    const Result r = DecodeHex(decoder, "bebf c0");
    CHECK(r.fields == Fields{kResponse3[5], kResponse3[4], kResponse3[2]});
    CHECK(DecodeHex(decoder, "c1").error == HpackError::kBadIndex);
  }
}

TEST_CASE("hpack: Huffman round trip of every octet", "[hpack]") {
  // The test's encoder agrees with RFC 7541 C.4.1.
  CHECK(HuffmanEncode("www.example.com") == Bytes("f1e3 c2e5 f23a 6ba0 ab90 f4ff"));
  std::string all;
  std::string decoded;
  for (int octet = 0; octet < 256; ++octet) {
    const std::string one(1, static_cast<char>(octet));
    all += one;
    REQUIRE(HuffmanDecode(HuffmanEncode(one), decoded, 16) == HpackError::kNone);
    CHECK(decoded == one);
    const std::string three = one + one + one;
    REQUIRE(HuffmanDecode(HuffmanEncode(three), decoded, 16) == HpackError::kNone);
    CHECK(decoded == three);
  }
  for (const std::string& text : {all, std::string(all.rbegin(), all.rend())}) {
    REQUIRE(HuffmanDecode(HuffmanEncode(text), decoded, 4096) == HpackError::kNone);
    CHECK(decoded == text);
  }
  // And through a block: a never-indexed literal with both strings Huffman-coded.
  HpackDecoder decoder;
  const std::string name = HuffmanEncode("x-all-octets");
  const std::string value = HuffmanEncode(all);
  const std::string block =
      "\x10" + Integer(0x80, 7, name.size()) + name + Integer(0x80, 7, value.size()) + value;
  const Result r = Decode(decoder, block);
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"x-all-octets", all}});
  CHECK(HuffmanDecode("", decoded, 16) == HpackError::kNone);
  CHECK(decoded.empty());
}

TEST_CASE("hpack: malformed integers", "[hpack]") {
  HpackDecoder a;
  CHECK(DecodeHex(a, "ff").error == HpackError::kTruncated);  // prefix full, no continuation
  HpackDecoder b;
  CHECK(DecodeHex(b, "ff80").error == HpackError::kTruncated);  // continuation bit, then nothing
  HpackDecoder c;
  // 127 + 0x7f + 0x7f<<7 + 0x7f<<14 + 0x7f<<21 + 15<<28 = 2^32 + 126.
  CHECK(DecodeHex(c, "ffff ffff ff0f").error == HpackError::kTooLarge);
  HpackDecoder d;
  CHECK(DecodeHex(d, "ff80 8080 8080 00").error == HpackError::kTooLarge);  // 6 continuations
  HpackDecoder e;
  // 2^32 - 1 is an integer, but no index.
  CHECK(Decode(e, Integer(0x80, 7, 0xffffffffu)).error == HpackError::kBadIndex);
  HpackDecoder f;
  CHECK(Decode(f, Integer(0x80, 7, uint64_t{1} << 32)).error == HpackError::kTooLarge);
  HpackDecoder g;
  // A string length too: 2^32 + 126 in the 7-bit prefix after a new-name literal.
  CHECK(DecodeHex(g, "00ff ffff ffff 0f").error == HpackError::kTooLarge);
  // Leading zero continuations within 5 bytes are accepted.
  HpackDecoder h;
  const Result r = DecodeHex(h, "0f80 8000 00");  // without indexing, name 15 + 0, value ""
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"accept-charset", ""}});
}

TEST_CASE("hpack: malformed indices and strings", "[hpack]") {
  // Each block on a fresh decoder, and the error it gives.
  const std::pair<const char*, HpackError> kMalformed[] = {
      {"80", HpackError::kBadIndex},             // index 0
      {"be", HpackError::kBadIndex},             // a dynamic index, the table empty
      {"7e 0176", HpackError::kBadIndex},        // a literal naming that index
      {"00 0561", HpackError::kTruncated},       // a name of 5 bytes, 1 there
      {"00 0161", HpackError::kTruncated},       // the value missing
      {"00 0161 84ff", HpackError::kTruncated},  // a Huffman value of 4 bytes, 1 there
  };
  for (const auto& [hex, error] : kMalformed) {
    INFO(hex);
    HpackDecoder decoder;
    CHECK(DecodeHex(decoder, hex).error == error);
  }
  HpackDecoder last_static;
  Result r = DecodeHex(last_static, "bd");
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"www-authenticate", ""}});

  std::string decoded;
  CHECK(HuffmanDecode(Bytes("1f"), decoded, 16) == HpackError::kNone);  // 'a' 00011 + 111
  CHECK(decoded == "a");
  CHECK(HuffmanDecode(Bytes("ffff ffff"), decoded, 16) == HpackError::kBadHuffman);     // EOS
  CHECK(HuffmanDecode(Bytes("1fff ffff ff"), decoded, 16) == HpackError::kBadHuffman);  // a, EOS
  CHECK(HuffmanDecode(Bytes("1fff"), decoded, 16) == HpackError::kBadHuffman);  // 11 bits pad
  CHECK(HuffmanDecode(Bytes("ff"), decoded, 16) == HpackError::kBadHuffman);    // 8 bits pad
  CHECK(HuffmanDecode(Bytes("18"), decoded, 16) == HpackError::kBadHuffman);    // pad 000
  CHECK(HuffmanDecode(Bytes("1e"), decoded, 16) == HpackError::kBadHuffman);    // pad 110
  CHECK(decoded.empty());
  HpackDecoder eos;
  r = DecodeHex(eos, "8200 0161 84ff ffff ff");
  CHECK(r.error == HpackError::kBadHuffman);
  CHECK(r.fields == Fields{{":method", "GET"}});  // the fields before the error are delivered
  CHECK(eos.lost());
  HpackDecoder padding;
  CHECK(DecodeHex(padding, "00 0161 821f ff").error == HpackError::kBadHuffman);
  HpackDecoder huffman_name;
  CHECK(DecodeHex(huffman_name, "00 8118 0161").error == HpackError::kBadHuffman);
}

TEST_CASE("hpack: dynamic table size updates", "[hpack]") {
  HpackDecoder after_field;
  Result r = DecodeHex(after_field, "8220");
  CHECK(r.error == HpackError::kBadSizeUpdate);
  CHECK(r.fields.size() == 1);
  HpackDecoder after_literal;
  CHECK(DecodeHex(after_literal, "0001 6100 3f00").error == HpackError::kBadSizeUpdate);

  HpackDecoder above;
  CHECK(DecodeHex(above, "3fe2 1f").error == HpackError::kBadSizeUpdate);  // 4097 > 4096
  HpackDecoder at;
  CHECK(DecodeHex(at, "3fe1 1f").error == HpackError::kNone);  // 4096
  CHECK(at.table_capacity() == 4096);

  HpackDecoder raised;
  raised.SetMaxTableSize(1 << 20);
  CHECK(Decode(raised, Integer(0x20, 5, 65536)).error == HpackError::kNone);
  CHECK(raised.table_capacity() == HpackDecoder::kMaxTableBytes);
  CHECK(Decode(raised, Integer(0x20, 5, 65537)).error == HpackError::kBadSizeUpdate);

  // Several updates at the start (4.2), the last one rules; shrinking evicts the oldest.
  HpackDecoder shrink;
  REQUIRE(Decode(shrink, Indexed("a", "1") + Indexed("b", "2")).error == HpackError::kNone);
  CHECK(shrink.table_bytes() == 68);
  r = Decode(shrink, Integer(0x20, 5, 0) + Integer(0x20, 5, 40) + Bytes("82"));
  CHECK(r.error == HpackError::kNone);
  CHECK(shrink.table_entries() == 0);
  CHECK(shrink.table_capacity() == 40);
  r = Decode(shrink, Indexed("a", "1") + Indexed("b", "2"));
  CHECK(shrink.table_entries() == 1);
  CHECK(shrink.table_bytes() == 34);
  CHECK(Decode(shrink, Bytes("be")).fields == Fields{{"b", "2"}});
}

TEST_CASE("hpack: SetMaxTableSize lower than the table shrinks it", "[hpack]") {
  HpackDecoder decoder;
  REQUIRE(Decode(decoder, Indexed("a", "1") + Indexed("b", "2")).error == HpackError::kNone);
  decoder.SetMaxTableSize(40);
  CHECK(decoder.table_capacity() == 40);
  CHECK(decoder.table_entries() == 1);
  CHECK(Decode(decoder, Integer(0x20, 5, 41)).error == HpackError::kBadSizeUpdate);
}

TEST_CASE("hpack: oversized literals", "[hpack]") {
  const std::string max(HpackDecoder::kMaxFieldBytes, 'a');
  const std::string over(HpackDecoder::kMaxFieldBytes + 1, 'a');
  HpackDecoder fits;
  Result r = Decode(fits, std::string(1, '\0') + Raw("n") + Raw(max));
  CHECK(r.error == HpackError::kNone);
  REQUIRE(r.fields.size() == 1);
  CHECK(r.fields[0].value == max);
  HpackDecoder raw;
  CHECK(Decode(raw, std::string(1, '\0') + Raw("n") + Raw(over)).error == HpackError::kTooLarge);
  HpackDecoder raw_name;
  CHECK(Decode(raw_name, std::string(1, '\0') + Raw(over)).error == HpackError::kTooLarge);
  HpackDecoder declared;  // a length over the bound is kTooLarge before the bytes are there
  CHECK(Decode(declared, std::string(1, '\0') + Integer(0, 7, 1 << 20)).error ==
        HpackError::kTooLarge);
  HpackDecoder huffman;  // 16385 'a' Huffman-coded: 10241 bytes
  const std::string coded = HuffmanEncode(over);
  CHECK(Decode(huffman, std::string(1, '\0') + Raw("n") + Integer(0x80, 7, coded.size()) + coded)
            .error == HpackError::kTooLarge);
  HpackDecoder huffman_max;
  const std::string coded_max = HuffmanEncode(max);
  r = Decode(huffman_max,
             std::string(1, '\0') + Raw("n") + Integer(0x80, 7, coded_max.size()) + coded_max);
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"n", max}});
}

TEST_CASE("hpack: after an error the decoder is lost until Forget", "[hpack]") {
  HpackDecoder decoder;
  REQUIRE(Decode(decoder, Indexed("a", "1")).error == HpackError::kNone);
  CHECK(DecodeHex(decoder, "80").error == HpackError::kBadIndex);
  CHECK(decoder.lost());
  CHECK(decoder.table_entries() == 0);
  Result r = DecodeHex(decoder, "82");
  CHECK(r.error == HpackError::kUnknownState);
  CHECK(r.fields.empty());
  decoder.Forget();
  CHECK_FALSE(decoder.lost());
  r = DecodeHex(decoder, "82");
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{":method", "GET"}});
}

TEST_CASE("hpack: Forget makes older entries unknown, newer ones exact", "[hpack]") {
  HpackDecoder decoder;
  REQUIRE(DecodeHex(decoder, "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d").error ==
          HpackError::kNone);
  decoder.Forget();
  CHECK(decoder.table_entries() == 0);
  CHECK(decoder.table_bytes() == 0);
  CHECK(decoder.unknown_tail());

  // An old index: delivered unknown, the rest of the block still decoded.
  Result r = DecodeHex(decoder, "be 82");
  CHECK(r.error == HpackError::kUnknownState);
  CHECK(r.fields == Fields{{"", ""}, {":method", "GET"}});
  CHECK(r.known == std::vector<FieldKnown>{FieldKnown::kNone, FieldKnown::kAll});
  CHECK_FALSE(decoder.lost());

  // A new insertion is exact and indexable; the old ones move one index on and stay unknown.
  r = Decode(decoder, Indexed("x-new", "1") + Bytes("be"));
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"x-new", "1"}, {"x-new", "1"}});
  CHECK(decoder.table_bytes() == 38);
  r = DecodeHex(decoder, "bf");
  CHECK(r.error == HpackError::kUnknownState);
  CHECK(r.known == std::vector<FieldKnown>{FieldKnown::kNone});

  // A literal naming an old entry: the value is known; indexed, its entry's name stays unknown.
  r = DecodeHex(decoder, "7f00 0176");  // name index 63 (6-bit prefix full, then 0)
  CHECK(r.error == HpackError::kUnknownState);
  CHECK(r.fields == Fields{{"", "v"}});
  CHECK(r.known == std::vector<FieldKnown>{FieldKnown::kValueOnly});
  CHECK(decoder.table_entries() == 2);
  CHECK(decoder.table_bytes() == 38 + 33);  // the unknown name counted as empty
  r = DecodeHex(decoder, "bebf");
  CHECK(r.error == HpackError::kUnknownState);
  CHECK(r.fields == Fields{{"", "v"}, {"x-new", "1"}});
  CHECK(r.known == std::vector<FieldKnown>{FieldKnown::kValueOnly, FieldKnown::kAll});
}

TEST_CASE("hpack: after Forget a size update keeps the newer entries that fit", "[hpack]") {
  HpackDecoder decoder;
  decoder.Forget();
  REQUIRE(Decode(decoder, Indexed("a", "1") + Indexed("b", "2")).error == HpackError::kNone);
  CHECK(decoder.unknown_tail());
  // 100 holds both (68) and room for an old entry: still unknown beyond.
  Result r = Decode(decoder, Integer(0x20, 5, 100) + Bytes("bebf c0"));
  CHECK(r.error == HpackError::kUnknownState);
  CHECK(r.fields == Fields{{"b", "2"}, {"a", "1"}, {"", ""}});
  CHECK(decoder.table_entries() == 2);
  // 40 holds only the newest and no room for another: the rest is known to be gone.
  r = Decode(decoder, Integer(0x20, 5, 40) + Bytes("be"));
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"b", "2"}});
  CHECK_FALSE(decoder.unknown_tail());
  CHECK(DecodeHex(decoder, "bf").error == HpackError::kBadIndex);
}

TEST_CASE("hpack: after Forget a full table leaves no room for older entries", "[hpack]") {
  HpackDecoder decoder;
  decoder.Forget();
  CHECK(decoder.table_capacity() == 4096);
  // 4096 - (1 + 4037 + 32) = 26 < 32: nothing older fits beside it.
  REQUIRE(Decode(decoder, Indexed("a", std::string(4037, 'v'))).error == HpackError::kNone);
  CHECK_FALSE(decoder.unknown_tail());
  CHECK(DecodeHex(decoder, "bf").error == HpackError::kBadIndex);

  HpackDecoder zero;
  zero.SetMaxTableSize(0);
  zero.Forget();
  CHECK_FALSE(zero.unknown_tail());  // a table of 0 bytes had nothing to miss
  CHECK(DecodeHex(zero, "be").error == HpackError::kBadIndex);

  HpackDecoder raised;  // a missed block may have used the whole announced size
  raised.SetMaxTableSize(10000);
  raised.Forget();
  CHECK(raised.table_capacity() == 10000);
}

TEST_CASE("hpack: eviction per RFC 7541 4.4", "[hpack]") {
  // An entry larger than the table empties it and is not inserted.
  HpackDecoder decoder;
  decoder.SetMaxTableSize(100);
  REQUIRE(Decode(decoder, Indexed("a", "1")).error == HpackError::kNone);
  Result r = Decode(decoder, Indexed("big", std::string(100, 'x')));
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"big", std::string(100, 'x')}});
  CHECK(decoder.table_entries() == 0);
  CHECK(decoder.table_bytes() == 0);

  // A new entry naming the entry its insertion evicts keeps the name.
  HpackDecoder named;
  named.SetMaxTableSize(60);
  REQUIRE(Decode(named, Indexed("aaaa", "bbbb")).error == HpackError::kNone);
  r = Decode(named, Bytes("7e") + Raw(std::string(20, 'c')));
  CHECK(r.error == HpackError::kNone);
  CHECK(r.fields == Fields{{"aaaa", std::string(20, 'c')}});
  CHECK(named.table_entries() == 1);
  CHECK(named.table_bytes() == 56);
  CHECK(DecodeHex(named, "be").fields == Fields{{"aaaa", std::string(20, 'c')}});
}

TEST_CASE("hpack: the table never exceeds kMaxTableBytes", "[hpack]") {
  HpackDecoder decoder;
  decoder.SetMaxTableSize(1 << 24);
  REQUIRE(Decode(decoder, Integer(0x20, 5, HpackDecoder::kMaxTableBytes)).error ==
          HpackError::kNone);
  size_t most = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string name = "n" + std::to_string(i);
    const std::string value(static_cast<size_t>(i * 97 % HpackDecoder::kMaxFieldBytes), 'v');
    REQUIRE(Decode(decoder, Indexed(name, value)).error == HpackError::kNone);
    CHECK(decoder.table_bytes() <= HpackDecoder::kMaxTableBytes);
    most = std::max(most, decoder.table_bytes());
    // The newest is always index 62.
    const Result r = DecodeHex(decoder, "be");
    REQUIRE(r.fields.size() == 1);
    CHECK(r.fields[0].name == name);
  }
  CHECK(most > HpackDecoder::kMaxTableBytes - HpackDecoder::kMaxFieldBytes - 64);
  // Many small entries: at most kMaxTableBytes / 32 of them.
  for (int i = 0; i < 3000; ++i)
    REQUIRE(Decode(decoder, Indexed("", "")).error == HpackError::kNone);
  CHECK(decoder.table_entries() == HpackDecoder::kMaxTableBytes / 32);
  CHECK(decoder.table_bytes() == HpackDecoder::kMaxTableBytes);
}
