// The one YAML document of a config file (config, web config). Reads the text with a bound that
// yaml-cpp's own LoadAll lacks: yaml-cpp 0.7 reports a stray ',' at the top level of a document
// (e.g. the file ",") as an empty document without consuming it, so LoadAll collects empty
// documents forever and runs out of memory (found by test/fuzz, corpus/*/regression-*).
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>

namespace netlens {

// The first document of `text` (a null node when the text has none). Throws ConfigError
// "SOURCE:LINE:COLUMN: message" on a YAML syntax error anywhere in the text (message from
// syntax_message), and when a second document follows ("---"), pointing at its first node.
YAML::Node LoadSingleDocument(
    const std::string& text, const std::string& source,
    const std::function<std::string(const YAML::Exception&)>& syntax_message);

}  // namespace netlens
