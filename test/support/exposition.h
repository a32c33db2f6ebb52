// The Prometheus text exposition format (version 0.0.4): parsing and selecting samples.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace netlens::test {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
  std::string type = "untyped";  // from the family's "# TYPE" line
};

// Malformed exposition text; what() starts with "line N:".
class ExpositionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::vector<Sample> ParseExposition(std::string_view text);

// True if every label of subset is on the sample with the same value.
bool HasLabels(const Sample& sample, const Labels& subset);

// The samples named name that carry the labels of subset.
std::vector<const Sample*> Select(const std::vector<Sample>& samples, std::string_view name,
                                  const Labels& subset);

// The sum over Select(); 0 if nothing matches.
double Sum(const std::vector<Sample>& samples, std::string_view name, const Labels& subset);

// The value of the one sample Select() finds; throws ExpositionError if it finds 0 or more.
double ValueOfOne(const std::vector<Sample>& samples, std::string_view name, const Labels& subset);

// name{labels} and the sample as a line of the exposition format.
std::string FormatSeries(std::string_view name, const Labels& labels);
std::string Format(const Sample& sample);

}  // namespace netlens::test
