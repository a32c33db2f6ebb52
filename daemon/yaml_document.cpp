#include "yaml_document.h"

#include <yaml-cpp/eventhandler.h>

#include <optional>
#include <sstream>

#include "yaml_errors.h"

namespace netlens {
namespace {

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

YAML::Node LoadSingleDocument(
    const std::string& text, const std::string& source,
    const std::function<std::string(const YAML::Exception&)>& syntax_message) {
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
    FailAtMark(source, error.mark, syntax_message(error));
  }
}

}  // namespace netlens
