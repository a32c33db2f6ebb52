#include "config/yaml_walk.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "config/config.h"

namespace netlens {
namespace {

std::string_view LineAt(std::string_view text, int line) {
  for (int i = 0; i < line; ++i) {
    const size_t next = text.find('\n');
    if (next == std::string_view::npos) return {};
    text.remove_prefix(next + 1);
  }
  return text.substr(0, text.find('\n'));
}

std::string SyntaxErrorMessage(std::string_view text, const YAML::Exception& error) {
  // yaml-cpp's complaints name the grammar rule, not the usual mistakes behind them.
  std::string message = "invalid YAML: " + error.msg;
  std::string_view line = LineAt(text, error.mark.line);
  const size_t indent_end = std::min(line.find_first_not_of(" \t"), line.size());
  if (line.substr(0, indent_end).find('\t') != std::string_view::npos) {
    message += " (indent with spaces; YAML does not allow tabs)";
  }
  line.remove_prefix(indent_end);
  // An unquoted [::1]:9750 starts a YAML list.
  if (line.starts_with("listen:") && line.find('[') != std::string_view::npos) {
    message += " (quote IPv6 addresses: listen: \"[::1]:9750\")";
  }
  return message;
}

// Where each document starts and where its first node is; builds nothing.
class DocumentMarks : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    start_ = mark;
    root_.reset();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Note(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Note(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Note(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Note(mark);
  }
  void OnMapEnd() override {}

  const YAML::Mark& start() const { return start_; }
  // The mark a Node built from this document has (YAML::Node::Mark()).
  YAML::Mark root() const { return root_.value_or(start_); }

 private:
  void Note(const YAML::Mark& mark) {
    if (!root_) root_ = mark;
  }
  YAML::Mark start_;
  std::optional<YAML::Mark> root_;
};

}  // namespace

std::string YamlPlace(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source;
  return source + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void FailAtMark(const std::string& source, const YAML::Mark& mark, const std::string& message) {
  throw ConfigError(YamlPlace(source, mark) + ": " + message);
}

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "an empty value";
  }
}

YAML::Node LoadSingleDocument(const std::string& text, const std::string& source) {
  try {
    // Every document is parsed, as LoadAll did, so a syntax error anywhere is reported.
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    DocumentMarks marks;
    int documents = 0;
    std::optional<YAML::Mark> second_root;
    int previous_start = -1;
    while (parser.HandleNextDocument(marks)) {
      ++documents;
      if (documents == 2) second_root = marks.root();
      // A document that starts where the previous one did consumed nothing: the parser is
      // stuck and would report it again forever.
      if (marks.start().pos == previous_start) break;
      previous_start = marks.start().pos;
    }
    if (second_root) {
      FailAtMark(source, *second_root, "a second YAML document ('---'); netlens reads only one");
    }
    return documents == 0 ? YAML::Node() : YAML::Load(text);
  } catch (const YAML::Exception& error) {
    FailAtMark(source, error.mark, SyntaxErrorMessage(text, error));
  }
}

std::string UnknownNameMessage(std::string_view kind, const std::string& name,
                               std::span<const std::string_view> valid, std::string_view where) {
  std::string message = "unknown " + std::string(kind) + " '" + name + "'" + std::string(where);
  if (std::string_view closest = ClosestName(name, valid); !closest.empty())
    message += " (did you mean '" + std::string(closest) + "'?)";
  return message;
}

YAML::Mark YamlField::mark() const {
  const bool value_is_elsewhere = value_.IsNull() && value_.Mark().line != key_.Mark().line;
  return value_is_elsewhere ? key_.Mark() : value_.Mark();
}

void YamlField::Fail(const std::string& message) const { FailAtMark(source_, mark(), message); }

void YamlField::FailExpected(std::string_view expectation) const {
  Fail("'" + path_ + "' must be " + std::string(expectation) + ", got " + DescribeNode(value_));
}

const std::string& YamlField::Scalar(std::string_view expectation) const {
  if (!value_.IsScalar()) FailExpected(expectation);
  return value_.Scalar();
}

const std::string& YamlField::NonEmptyScalar(std::string_view expectation) const {
  if (!value_.IsScalar() || value_.Scalar().empty()) FailExpected(expectation);
  return value_.Scalar();
}

bool YamlField::Boolean() const {
  const std::string& text = Scalar("true or false");
  if (text == "true") return true;
  if (text == "false") return false;
  FailExpected("true or false");
}

void ForEachKey(const std::string& source, const YAML::Node& node, const std::string& section,
                const YamlKeys& keys, const std::function<void(size_t, const YamlField&)>& visit,
                const std::function<bool(const YamlField&)>& ignore) {
  const std::string path_prefix = section.empty() ? "" : section + ".";
  const std::string in_section = section.empty() ? "" : " in '" + section + "'";
  std::map<std::string, int> first_line;
  for (const auto& key_value : node) {
    const YAML::Node& key = key_value.first;
    if (!key.IsScalar()) {
      FailAtMark(source, key.Mark(),
                 "keys must be plain names, got " + DescribeNode(key) + in_section);
    }
    const std::string& name = key.Scalar();
    // yaml-cpp keeps both entries of a repeated key; silently using one would hide a mistake.
    if (auto seen = first_line.find(name); seen != first_line.end()) {
      FailAtMark(source, key.Mark(),
                 "duplicate key '" + path_prefix + name + "' (first set on line " +
                     std::to_string(seen->second) + ")");
    }
    first_line[name] = key.Mark().line + 1;
    const YamlField field(source, path_prefix + name, key, key_value.second);
    if (ignore && ignore(field)) continue;
    if (std::find(keys.unsupported.begin(), keys.unsupported.end(), name) !=
        keys.unsupported.end()) {
      FailAtMark(source, key.Mark(),
                 "'" + path_prefix + name + "' is not supported by netlens; supported" +
                     in_section + ": " + JoinNames(keys.known));
    }
    const auto known = std::find(keys.known.begin(), keys.known.end(), name);
    if (known == keys.known.end()) {
      FailAtMark(source, key.Mark(),
                 UnknownNameMessage("key", name, keys.known, in_section) + "; valid keys" +
                     in_section + ": " + JoinNames(keys.known));
    }
    visit(known - keys.known.begin(), field);
  }
}

}  // namespace netlens
