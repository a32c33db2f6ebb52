// How every YAML file netlens reads (config, web config, targets, filters, services) is loaded
// and walked, and how its errors are phrased: "SOURCE:LINE:COLUMN: message", with the key
// path, what was expected and what was found.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace netlens {

// "SOURCE:LINE:COLUMN" (1-based), or "SOURCE" when the mark has no position.
std::string YamlPlace(const std::string& source, const YAML::Mark& mark);

// Throws ConfigError("SOURCE:LINE:COLUMN: message").
[[noreturn]] void FailAtMark(const std::string& source, const YAML::Mark& mark,
                             const std::string& message);

// How a node of the wrong shape is named in "must be X, got Y": 'text', a list, a map or an
// empty value.
std::string DescribeNode(const YAML::Node& node);

// The text's one document (a null node when it is empty); a syntax error anywhere, with a hint
// for the usual mistakes behind it, or a second document is a ConfigError at its place. Read
// with a bound that yaml-cpp's own LoadAll lacks: yaml-cpp 0.7 reports a stray ',' at the top
// level of a document (e.g. the file ",") as an empty document without consuming it, so LoadAll
// collects empty documents forever and runs out of memory (found by test/fuzz,
// corpus/*/regression-*).
YAML::Node LoadSingleDocument(const std::string& text, const std::string& source);

// "unknown KIND 'name' WHERE (did you mean 'x'?); valid: a, b".
std::string UnknownNameMessage(std::string_view kind, const std::string& name,
                               std::span<const std::string_view> valid, std::string_view where);

// One "key: value" of a file, with what an error about it must say and point at.
class YamlField {
 public:
  YamlField(const std::string& source, std::string path, const YAML::Node& key,
            const YAML::Node& value)
      : source_(source), path_(std::move(path)), key_(key), value_(value) {}

  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }  // "limits.connections"
  const YAML::Node& key() const { return key_; }
  const YAML::Node& value() const { return value_; }

  // Points at the value. An empty value has no text of its own and yaml-cpp places it at the
  // next token, possibly lines below, so then the error points at its key.
  YAML::Mark mark() const;
  std::string At() const { return YamlPlace(source_, mark()); }
  [[noreturn]] void Fail(const std::string& message) const;
  [[noreturn]] void FailExpected(std::string_view expectation) const;
  // The value's text; a list, map or empty value is reported as not being `expectation`.
  const std::string& Scalar(std::string_view expectation) const;
  // The same, and the empty text is reported too.
  const std::string& NonEmptyScalar(std::string_view expectation) const;
  // `true` or `false`; anything else fails.
  bool Boolean() const;

 private:
  const std::string& source_;
  std::string path_;
  YAML::Node key_;
  YAML::Node value_;
};

// The keys a map may have: `known` are read; `unsupported` are named as keys netlens does not
// implement (clearer than "unknown", and safer than ignoring them).
struct YamlKeys {
  std::span<const std::string_view> known;
  std::span<const std::string_view> unsupported = {};
};

// Walks the map `node` of `section` ("" for the top level): rejects keys that are not plain
// names, repeated keys, unsupported and unknown keys (with a "did you mean"), and calls
// visit(index in keys.known, field) for each key in file order. A key for which
// `ignore(field)` is true is passed over before any check of its name.
void ForEachKey(const std::string& source, const YAML::Node& node, const std::string& section,
                const YamlKeys& keys, const std::function<void(size_t, const YamlField&)>& visit,
                const std::function<bool(const YamlField&)>& ignore = {});

}  // namespace netlens
