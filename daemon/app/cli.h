// Command-line options of the netlens binary.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace netlens {

struct CliOptions {
  std::optional<std::string> config_path;      // --config FILE
  std::optional<std::string> listen;           // --listen ADDR:PORT (overrides the config)
  std::optional<std::string> log_level;        // --log-level LEVEL (overrides the config)
  std::optional<std::string> btf_path;         // --btf PATH: external kernel BTF
  std::optional<std::string> attach_mode;      // --attach-mode MODE (overrides the config)
  std::optional<std::string> accounting;       // --accounting kernel|events (overrides the config)
  std::optional<std::string> web_config_file;  // --web-config-file FILE (overrides the config)
  std::optional<std::string> check_config;     // --check-config FILE: validate and exit
  bool version = false;                        // --version
  bool help = false;                           // --help
};

// Bad command line; what() is a one-line message, the caller prints Usage().
class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

CliOptions ParseCli(int argc, const char* const* argv);
std::string Usage();

// Validates "HOST:PORT" or "[V6]:PORT"; throws CliError/ConfigError-style text via
// std::invalid_argument naming what is wrong.
void ValidateListenAddress(const std::string& listen);

}  // namespace netlens
