#include "exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

namespace netlens::test {
namespace {

// Reads one line of samples or comments, left to right.
class LineParser {
 public:
  LineParser(std::string_view line, size_t number) : line_(line), number_(number) {}

  [[noreturn]] void Fail(const std::string& message) const {
    throw ExpositionError("line " + std::to_string(number_) + ": " + message + ": '" +
                          std::string(line_) + "'");
  }

  bool AtEnd() const { return pos_ >= line_.size(); }
  char Peek() const { return AtEnd() ? '\0' : line_[pos_]; }

  void SkipBlanks() {
    while (!AtEnd() && (line_[pos_] == ' ' || line_[pos_] == '\t')) ++pos_;
  }

  void Expect(char c) {
    if (Peek() != c) Fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  // [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; without ':' for label names.
  std::string Name(bool allow_colon) {
    size_t start = pos_;
    auto valid = [&](char c, bool first) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
             (allow_colon && c == ':') || (!first && c >= '0' && c <= '9');
    };
    while (!AtEnd() && valid(line_[pos_], pos_ == start)) ++pos_;
    if (pos_ == start) Fail("expected a name");
    return std::string(line_.substr(start, pos_ - start));
  }

  std::string Word() {
    size_t start = pos_;
    while (!AtEnd() && line_[pos_] != ' ' && line_[pos_] != '\t') ++pos_;
    return std::string(line_.substr(start, pos_ - start));
  }

  std::string Rest() {
    std::string rest(line_.substr(pos_));
    pos_ = line_.size();
    return rest;
  }

  // A quoted label value with the escapes \\, \" and \n.
  std::string QuotedValue() {
    Expect('"');
    std::string value;
    for (;;) {
      if (AtEnd()) Fail("unterminated label value");
      char c = line_[pos_++];
      if (c == '"') return value;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (AtEnd()) Fail("unterminated escape");
      char escaped = line_[pos_++];
      if (escaped == '\\' || escaped == '"') {
        value += escaped;
      } else if (escaped == 'n') {
        value += '\n';
      } else {
        Fail(std::string("invalid escape \\") + escaped);
      }
    }
  }

  Labels LabelSet() {
    Labels labels;
    Expect('{');
    for (;;) {
      SkipBlanks();
      if (Peek() == '}') break;
      std::string name = Name(false);
      SkipBlanks();
      Expect('=');
      SkipBlanks();
      if (!labels.emplace(name, QuotedValue()).second) Fail("duplicate label " + name);
      SkipBlanks();
      if (Peek() != ',') break;
      ++pos_;
    }
    SkipBlanks();
    Expect('}');
    return labels;
  }

  double Value() {
    std::string word = Word();
    std::string_view text = word;
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      Fail("invalid value '" + word + "'");
    }
    return value;
  }

 private:
  std::string_view line_;
  size_t number_;
  size_t pos_ = 0;
};

// The family a sample belongs to: histograms and summaries add suffixes to their name.
std::string TypeOf(const std::map<std::string, std::string>& types, const std::string& name) {
  if (auto it = types.find(name); it != types.end()) return it->second;
  for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      auto it = types.find(name.substr(0, name.size() - suffix.size()));
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) {
        return it->second;
      }
    }
  }
  return "untyped";
}

void ParseComment(LineParser& parser, std::map<std::string, std::string>& types) {
  parser.Expect('#');
  parser.SkipBlanks();
  std::string keyword = parser.Word();
  if (keyword != "HELP" && keyword != "TYPE") return;  // an ordinary comment
  parser.SkipBlanks();
  std::string name = parser.Name(true);
  if (keyword == "HELP") return;
  parser.SkipBlanks();
  std::string type = parser.Word();
  static const char* const kTypes[] = {"counter", "gauge", "histogram", "summary", "untyped"};
  if (std::find(std::begin(kTypes), std::end(kTypes), type) == std::end(kTypes)) {
    parser.Fail("unknown metric type '" + type + "'");
  }
  if (!types.emplace(name, type).second) parser.Fail("second TYPE line for " + name);
}

Sample ParseSample(LineParser& parser, const std::map<std::string, std::string>& types) {
  Sample sample;
  sample.name = parser.Name(true);
  parser.SkipBlanks();
  if (parser.Peek() == '{') sample.labels = parser.LabelSet();
  parser.SkipBlanks();
  sample.value = parser.Value();
  parser.SkipBlanks();
  if (!parser.AtEnd()) {
    std::string timestamp = parser.Rest();
    long long millis = 0;
    auto [end, ec] = std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), millis);
    if (ec != std::errc() || end != timestamp.data() + timestamp.size()) {
      parser.Fail("invalid timestamp '" + timestamp + "'");
    }
  }
  sample.type = TypeOf(types, sample.name);
  return sample;
}

std::string Escape(std::string_view value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    escaped += c == '\n' ? std::string("\\n") : std::string(1, c);
  }
  return escaped;
}

}  // namespace

std::vector<Sample> ParseExposition(std::string_view text) {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;
  size_t number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++number;
    LineParser parser(line, number);
    parser.SkipBlanks();
    if (parser.AtEnd()) continue;
    if (parser.Peek() == '#') {
      ParseComment(parser, types);
    } else {
      samples.push_back(ParseSample(parser, types));
    }
  }
  return samples;
}

bool HasLabels(const Sample& sample, const Labels& subset) {
  for (const auto& [name, value] : subset) {
    auto it = sample.labels.find(name);
    if (it == sample.labels.end() || it->second != value) return false;
  }
  return true;
}

std::vector<const Sample*> Select(const std::vector<Sample>& samples, std::string_view name,
                                  const Labels& subset) {
  std::vector<const Sample*> selected;
  for (const Sample& sample : samples) {
    if (sample.name == name && HasLabels(sample, subset)) selected.push_back(&sample);
  }
  return selected;
}

double Sum(const std::vector<Sample>& samples, std::string_view name, const Labels& subset) {
  double sum = 0;
  for (const Sample* sample : Select(samples, name, subset)) sum += sample->value;
  return sum;
}

double ValueOfOne(const std::vector<Sample>& samples, std::string_view name, const Labels& subset) {
  std::vector<const Sample*> selected = Select(samples, name, subset);
  if (selected.size() == 1) return selected.front()->value;
  std::string message = std::to_string(selected.size()) + " samples match " +
                        FormatSeries(name, subset) + ", expected exactly one";
  for (const Sample* sample : selected) message += "\n  " + Format(*sample);
  throw ExpositionError(message);
}

std::string FormatSeries(std::string_view name, const Labels& labels) {
  std::string text(name);
  if (labels.empty()) return text;
  text += '{';
  const char* separator = "";
  for (const auto& [label, value] : labels) {
    text += separator + label + "=\"" + Escape(value) + "\"";
    separator = ",";
  }
  return text + '}';
}

std::string Format(const Sample& sample) {
  std::ostringstream value;
  if (std::isnan(sample.value)) {
    value << "NaN";
  } else if (std::isinf(sample.value)) {
    value << (sample.value > 0 ? "+Inf" : "-Inf");
  } else {
    value.precision(17);
    value << sample.value;
  }
  return FormatSeries(sample.name, sample.labels) + " " + value.str();
}

}  // namespace netlens::test
