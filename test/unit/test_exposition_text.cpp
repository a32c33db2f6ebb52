// The scrape's text is built in place (serve/exposition_text.h); it must be byte for byte what
// prometheus-cpp's own serializer gives, across the 64 KiB buffer's boundaries and whatever
// size was reserved.
#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>

#include "metrics/metric_builder.h"
#include "serve/exposition_text.h"

using namespace netlens;

namespace {

std::vector<prometheus::MetricFamily> Families(int series) {
  MetricBuilder family("netlens_test_bytes_total", "Bytes, for the test.",
                       prometheus::MetricType::Counter);
  for (int i = 0; i < series; ++i) {
    family.Add({"pid", "comm"}, {std::to_string(i), "a \"quoted\"\\name\n"},
               static_cast<double>(i) * 1.5e9);
  }
  std::vector<prometheus::MetricFamily> families;
  families.push_back(family.Take());
  return families;
}

}  // namespace

TEST_CASE("the exposition text is the text serializer's, byte for byte", "[exposition]") {
  for (int series : {0, 1, 1000, 20000}) {
    const std::vector<prometheus::MetricFamily> families = Families(series);
    const std::string expected = prometheus::TextSerializer().Serialize(families);
    if (series == 20000) REQUIRE(expected.size() > 4 * 64 * 1024);
    for (size_t reserve : {size_t{0}, expected.size() / 2, expected.size(), 2 * expected.size()}) {
      CAPTURE(series, reserve);
      CHECK(SerializeExpositionText(families, reserve) == expected);
    }
  }
}
