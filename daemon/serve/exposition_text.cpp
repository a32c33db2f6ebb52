#include "serve/exposition_text.h"

#include <prometheus/text_serializer.h>

#include <array>
#include <ostream>
#include <streambuf>

namespace netlens {
namespace {

// Collects writes in a fixed buffer and appends it to the string when full: one memcpy per
// 64 KiB, where writing to the string directly would cost a virtual call per character.
class StringAppendBuffer : public std::streambuf {
 public:
  explicit StringAppendBuffer(std::string& out) : out_(out) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }

 protected:
  int_type overflow(int_type ch) override {
    Flush();
    if (traits_type::eq_int_type(ch, traits_type::eof())) return traits_type::not_eof(ch);
    *pptr() = traits_type::to_char_type(ch);
    pbump(1);
    return ch;
  }

  int sync() override {
    Flush();
    return 0;
  }

 private:
  void Flush() {
    out_.append(pbase(), pptr() - pbase());
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }

  std::string& out_;
  std::array<char, 64 * 1024> buffer_;
};

}  // namespace

std::string SerializeExpositionText(const std::vector<prometheus::MetricFamily>& families,
                                    size_t expected_size) {
  std::string text;
  text.reserve(expected_size);
  StringAppendBuffer buffer(text);
  std::ostream out(&buffer);
  prometheus::TextSerializer().Serialize(out, families);
  out.flush();
  return text;
}

}  // namespace netlens
