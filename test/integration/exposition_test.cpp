// The exposition-format parser of test/support, checked on its own (no root needed).
#include "exposition.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "metric_names.h"

namespace netlens::test {
namespace {

constexpr const char* kText =
    R"(# HELP netlens_tcp_sent_bytes_total Bytes sent, with a \\ and a\nnewline.
# TYPE netlens_tcp_sent_bytes_total counter
netlens_tcp_sent_bytes_total{pid="1",comm="a"} 35000
netlens_tcp_sent_bytes_total{pid="2",comm="a",} 5
netlens_tcp_sent_bytes_total{ pid = "3" , comm="quote\"back\\slash\nnl"} 1e+06 1700000000000
# a plain comment
# TYPE netlens_tcp_connections_open gauge
netlens_tcp_connections_open 0
# TYPE weird gauge
weird{kind="nan"} NaN
weird{kind="pinf"} +Inf
weird{kind="ninf"} -Inf
weird{} 2.5e-3
# TYPE latency histogram
latency_bucket{le="+Inf"} 4
latency_sum 1.5
latency_count 4
untyped_metric 7
)";

TEST_CASE("exposition parser: samples, labels, escapes and special values", "[unprivileged]") {
  std::vector<Sample> samples = ParseExposition(kText);
  REQUIRE(samples.size() == 12);

  REQUIRE(samples[0].name == metric::kTcpSentBytesTotal);
  REQUIRE(samples[0].labels == Labels{{"pid", "1"}, {"comm", "a"}});
  REQUIRE(samples[0].value == 35000);
  REQUIRE(samples[0].type == "counter");
  REQUIRE(samples[1].labels == Labels{{"pid", "2"}, {"comm", "a"}});
  REQUIRE(samples[2].labels.at("comm") == "quote\"back\\slash\nnl");
  REQUIRE(samples[2].value == 1000000);
  REQUIRE(samples[3].type == "gauge");
  REQUIRE(samples[3].labels.empty());
  REQUIRE(std::isnan(samples[4].value));
  REQUIRE(samples[5].value == INFINITY);
  REQUIRE(samples[6].value == -INFINITY);
  REQUIRE(samples[7].value == 0.0025);
  REQUIRE(samples[8].type == "histogram");
  REQUIRE(samples[8].labels.at("le") == "+Inf");
  REQUIRE(samples[9].type == "histogram");
  REQUIRE(samples[10].type == "histogram");
  REQUIRE(samples[11].type == "untyped");
}

TEST_CASE("exposition parser: selecting, summing, exactly one", "[unprivileged]") {
  std::vector<Sample> samples = ParseExposition(kText);
  const std::string sent = std::string(metric::kTcpSentBytesTotal);
  REQUIRE(Select(samples, sent, {{"comm", "a"}}).size() == 2);
  REQUIRE(Sum(samples, sent, {{"comm", "a"}}) == 35005);
  REQUIRE(Sum(samples, sent, {{"comm", "nobody"}}) == 0);
  REQUIRE(ValueOfOne(samples, sent, {{"pid", "2"}}) == 5);
  REQUIRE_THROWS_AS(ValueOfOne(samples, sent, {{"comm", "a"}}), ExpositionError);
  REQUIRE_THROWS_AS(ValueOfOne(samples, sent, {{"comm", "nobody"}}), ExpositionError);
}

TEST_CASE("exposition parser: formatting round-trips", "[unprivileged]") {
  std::vector<Sample> samples = ParseExposition(kText);
  std::string text;
  for (const Sample& sample : samples) text += Format(sample) + "\n";
  std::vector<Sample> again = ParseExposition(text);
  REQUIRE(again.size() == samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    INFO(Format(samples[i]));
    REQUIRE(again[i].name == samples[i].name);
    REQUIRE(again[i].labels == samples[i].labels);
    REQUIRE((again[i].value == samples[i].value ||
             (std::isnan(again[i].value) && std::isnan(samples[i].value))));
  }
}

TEST_CASE("exposition parser: malformed lines are errors with a line number", "[unprivileged]") {
  const char* bad = GENERATE("m{a=\"1\"", "m{a=1} 2", "m{a=\"1\",a=\"2\"} 3", "m 12abc",
                             "m{a=\"\\x\"} 1", "m", "1m 2", "# TYPE m countr", "m 1 notatime");
  INFO(bad);
  REQUIRE_THROWS_WITH(ParseExposition(std::string("ok 1\n") + bad),
                      Catch::Matchers::StartsWith("line 2:"));
}

}  // namespace
}  // namespace netlens::test
