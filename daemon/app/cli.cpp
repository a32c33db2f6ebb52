// Parses the command line against a table of options; Usage() is generated from the same table.
#include "app/cli.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace netlens {
namespace {

struct Option {
  std::string_view name;        // long name without "--"
  char short_name;              // '\0' when there is none
  std::string_view value_name;  // placeholder in Usage(); empty for flags, which take no value
  std::string help;             // '\n' starts a continuation line
  // Stores the (already non-empty) value; throws std::invalid_argument to reject it.
  void (*apply)(CliOptions& options, const std::string& value);
};

void ValidateLogLevel(const std::string& level) {
  if (std::find(kLogLevelNames.begin(), kLogLevelNames.end(), level) != kLogLevelNames.end()) {
    return;
  }
  std::string message = "invalid level '" + level + "'";
  if (std::string_view closest = ClosestName(level, kLogLevelNames); !closest.empty()) {
    message += " (did you mean '" + std::string(closest) + "'?)";
  }
  throw std::invalid_argument(message + "; valid levels: " + JoinNames(kLogLevelNames));
}

// Adding an option is one line here (plus its field in CliOptions).
const std::vector<Option>& Options() {
  static const Config kDefaults;
  static const std::vector<Option> kOptions = {
      {"config", '\0', "FILE", "read the configuration from FILE (default: the built-in one)",
       [](CliOptions& o, const std::string& v) { o.config_path = v; }},
      {"listen", '\0', "ADDR:PORT",
       "serve /metrics on ADDR:PORT, e.g. 0.0.0.0:9750 or [::]:9750\n"
       "(default: 'listen' of the configuration, built in: " +
           kDefaults.listen + ")",
       [](CliOptions& o, const std::string& v) {
         ValidateListenAddress(v);
         o.listen = v;
       }},
      {"log-level", '\0', "LEVEL",
       "one of " + JoinNames(kLogLevelNames) +
           "\n(default: 'log_level' of the configuration, built in: " + kDefaults.log_level + ")",
       [](CliOptions& o, const std::string& v) {
         ValidateLogLevel(v);
         o.log_level = v;
       }},
      {"attach-mode", '\0', "MODE",
       "how send/receive hooks attach: " + JoinNames(kAttachModeNames) +
           "\n(default: 'attach_mode' of the configuration, built in: " + kDefaults.attach_mode +
           ")",
       [](CliOptions& o, const std::string& v) {
         if (std::find(kAttachModeNames.begin(), kAttachModeNames.end(), v) ==
             kAttachModeNames.end())
           throw std::invalid_argument("invalid attach mode '" + v +
                                       "'; valid modes: " + JoinNames(kAttachModeNames));
         o.attach_mode = v;
       }},
      {"accounting", '\0', "MODE",
       "how traffic is counted: " + JoinNames(kAccountingNames) +
           "\n(default: 'accounting' of the configuration, built in: " + kDefaults.accounting + ")",
       [](CliOptions& o, const std::string& v) {
         if (std::find(kAccountingNames.begin(), kAccountingNames.end(), v) ==
             kAccountingNames.end())
           throw std::invalid_argument("invalid accounting '" + v +
                                       "'; valid values: " + JoinNames(kAccountingNames));
         o.accounting = v;
       }},
      {"btf", '\0', "PATH", "kernel BTF file, for kernels without /sys/kernel/btf/vmlinux",
       [](CliOptions& o, const std::string& v) { o.btf_path = v; }},
      {"web-config-file", '\0', "FILE",
       "TLS and basic auth for /metrics, a Prometheus-style web config file\n"
       "(default: 'web_config_file' of the configuration; none built in)",
       [](CliOptions& o, const std::string& v) { o.web_config_file = v; }},
      {"check-config", '\0', "FILE",
       "validate the configuration FILE and exit (0 if valid, 2 if not)",
       [](CliOptions& o, const std::string& v) { o.check_config = v; }},
      {"version", '\0', "", "print the version and exit",
       [](CliOptions& o, const std::string&) { o.version = true; }},
      {"help", 'h', "", "print this help and exit",
       [](CliOptions& o, const std::string&) { o.help = true; }},
  };
  return kOptions;
}

// How an option is named in messages: always its long form.
std::string LongForm(const Option& option) { return "--" + std::string(option.name); }

const Option* FindOption(std::string_view written) {
  for (const Option& option : Options()) {
    if (written == LongForm(option) ||
        (option.short_name != '\0' && written == std::string{'-', option.short_name})) {
      return &option;
    }
  }
  return nullptr;
}

[[noreturn]] void FailUnknownOption(std::string_view written) {
  std::vector<std::string> long_forms;
  for (const Option& option : Options()) long_forms.push_back(LongForm(option));
  const std::vector<std::string_view> candidates(long_forms.begin(), long_forms.end());
  std::string message = "unknown option '" + std::string(written) + "'";
  if (std::string_view closest = ClosestName(written, candidates); !closest.empty()) {
    message += " (did you mean '" + std::string(closest) + "'?)";
  }
  throw CliError(message);
}

[[noreturn]] void FailPositional(std::string_view argument) {
  std::string message = "unexpected argument '" + std::string(argument) + "'";
  if (argument.ends_with(".yaml") || argument.ends_with(".yml")) {
    message += " (did you mean '--config " + std::string(argument) + "'?)";
  }
  throw CliError(message);
}

bool LooksLikeOption(std::string_view argument) {
  return argument.size() > 1 && argument.front() == '-';
}

// Splits "host:port" / "[v6]:port"; the host must be checked by the caller.
struct HostPort {
  std::string_view host;
  std::string_view port;
  bool bracketed;
};

HostPort SplitListenAddress(std::string_view listen) {
  if (listen.find("://") != std::string_view::npos) {
    throw std::invalid_argument("expected HOST:PORT without a scheme, e.g. 127.0.0.1:9750");
  }
  if (listen.starts_with('[')) {
    const size_t close = listen.find(']');
    if (close == std::string_view::npos) {
      throw std::invalid_argument("missing ']' after the IPv6 address");
    }
    const std::string_view after = listen.substr(close + 1);
    if (after.empty()) throw std::invalid_argument("missing ':PORT', e.g. [::1]:9750");
    if (!after.starts_with(':')) throw std::invalid_argument("expected ':PORT' after ']'");
    return {listen.substr(1, close - 1), after.substr(1), true};
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    throw std::invalid_argument("missing ':PORT', e.g. 127.0.0.1:9750");
  }
  const std::string_view host = listen.substr(0, colon);
  if (host.find(':') != std::string_view::npos) {
    throw std::invalid_argument("IPv6 addresses must be in brackets, e.g. [::1]:9750");
  }
  return {host, listen.substr(colon + 1), false};
}

// Only literal addresses and "localhost": the HTTP server binds without resolving names.
void ValidateHost(std::string_view host, bool bracketed) {
  if (host.empty()) {
    throw std::invalid_argument("missing host; use 0.0.0.0 or [::] to listen on all addresses");
  }
  const std::string host_text(host);  // inet_pton needs a terminated string
  in6_addr address;
  if (bracketed) {
    if (inet_pton(AF_INET6, host_text.c_str(), &address) != 1) {
      throw std::invalid_argument("'" + host_text + "' is not a valid IPv6 address");
    }
  } else if (host != "localhost" && inet_pton(AF_INET, host_text.c_str(), &address) != 1) {
    throw std::invalid_argument(
        "host must be an IPv4 address, a bracketed IPv6 address or localhost, got '" + host_text +
        "'");
  }
}

void ValidatePort(std::string_view port) {
  if (port.empty()) throw std::invalid_argument("missing port after ':'");
  unsigned value = 0;
  const char* const end = port.data() + port.size();
  const auto [parsed_end, error] = std::from_chars(port.data(), end, value);
  if (parsed_end != end) {
    throw std::invalid_argument("port must be a number between 1 and 65535, got '" +
                                std::string(port) + "'");
  }
  if (error != std::errc() || value < 1 || value > 65535) {
    throw std::invalid_argument("port must be between 1 and 65535, got " + std::string(port));
  }
}

}  // namespace

void ValidateListenAddress(const std::string& listen) {
  try {
    const HostPort parts = SplitListenAddress(listen);
    ValidateHost(parts.host, parts.bracketed);
    ValidatePort(parts.port);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument("invalid listen address '" + listen + "': " + error.what());
  }
}

CliOptions ParseCli(int argc, const char* const* argv) {
  CliOptions options;
  std::vector<const Option*> seen;
  for (int i = 1; i < argc; ++i) {
    const std::string_view argument = argv[i];
    if (!LooksLikeOption(argument)) FailPositional(argument);

    const size_t equals = argument.find('=');
    const std::string_view written = argument.substr(0, equals);
    const Option* option = FindOption(written);
    if (option == nullptr) FailUnknownOption(written);
    const std::string name = LongForm(*option);
    if (std::find(seen.begin(), seen.end(), option) != seen.end()) {
      throw CliError("option '" + name + "' given more than once");
    }
    seen.push_back(option);

    std::string value;
    if (option->value_name.empty()) {
      if (equals != std::string_view::npos) {
        throw CliError("option '" + name + "' does not take a value");
      }
    } else if (equals != std::string_view::npos) {
      value = argument.substr(equals + 1);
    } else if (i + 1 < argc && !LooksLikeOption(argv[i + 1])) {
      value = argv[++i];
    }
    if (!option->value_name.empty() && value.empty()) {
      throw CliError("option '" + name + "' requires a value (" + std::string(option->value_name) +
                     ")");
    }

    try {
      option->apply(options, value);
    } catch (const std::invalid_argument& error) {
      throw CliError(name + ": " + error.what());
    }
  }
  return options;
}

std::string Usage() {
  std::vector<std::pair<std::string, const Option*>> rows;
  size_t width = 0;
  for (const Option& option : Options()) {
    std::string synopsis = LongForm(option);
    if (option.short_name != '\0') synopsis = std::string{'-', option.short_name} + ", " + synopsis;
    if (!option.value_name.empty()) synopsis += " " + std::string(option.value_name);
    width = std::max(width, synopsis.size());
    rows.emplace_back(std::move(synopsis), &option);
  }

  std::string usage =
      "Usage: netlens [OPTIONS]\n"
      "\n"
      "Exports per-process TCP traffic, observed with eBPF, as Prometheus metrics.\n"
      "\n"
      "Options (--opt VALUE and --opt=VALUE are the same):\n";
  const std::string help_indent(2 + width + 2, ' ');
  for (const auto& [synopsis, option] : rows) {
    usage += "  " + synopsis + std::string(width - synopsis.size() + 2, ' ');
    for (char c : option->help) usage += c == '\n' ? "\n" + help_indent : std::string(1, c);
    usage += "\n";
  }
  usage +=
      "\n"
      "Exit codes:\n"
      "  0  success\n"
      "  1  runtime failure (e.g. the eBPF programs cannot be loaded or the address bound)\n"
      "  2  bad command line or configuration\n";
  return usage;
}

}  // namespace netlens
