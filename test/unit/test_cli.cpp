// Tests of the command line: every option in both forms, every error message, Usage().
#include <algorithm>
#include <catch2/catch.hpp>
#include <initializer_list>
#include <string>
#include <vector>

#include "app/cli.h"

namespace netlens {
namespace {

CliOptions Parse(std::initializer_list<const char*> arguments) {
  std::vector<const char*> argv = {"netlens"};
  argv.insert(argv.end(), arguments);
  return ParseCli(static_cast<int>(argv.size()), argv.data());
}

// The message ParseCli throws for `arguments`, or a test failure if it accepts them.
std::string ErrorOf(std::initializer_list<const char*> arguments) {
  try {
    Parse(arguments);
  } catch (const CliError& error) {
    return error.what();
  }
  FAIL("accepted the command line");
  return "";
}

std::string ListenErrorOf(const std::string& listen) {
  try {
    ValidateListenAddress(listen);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  FAIL("accepted listen address " << listen);
  return "";
}

TEST_CASE("No arguments: nothing set", "[cli]") {
  const CliOptions options = Parse({});
  CHECK_FALSE(options.config_path);
  CHECK_FALSE(options.listen);
  CHECK_FALSE(options.log_level);
  CHECK_FALSE(options.btf_path);
  CHECK_FALSE(options.check_config);
  CHECK_FALSE(options.version);
  CHECK_FALSE(options.help);

  SECTION("argc 0 (no program name) is tolerated") { CHECK_FALSE(ParseCli(0, nullptr).help); }
}

TEST_CASE("Options with a value, separate or after '='", "[cli]") {
  SECTION("--opt value") {
    const CliOptions options =
        Parse({"--config", "/etc/netlens.yaml", "--listen", "0.0.0.0:9750", "--log-level", "debug",
               "--btf", "/boot/vmlinux.btf", "--check-config", "new.yaml"});
    CHECK(options.config_path == "/etc/netlens.yaml");
    CHECK(options.listen == "0.0.0.0:9750");
    CHECK(options.log_level == "debug");
    CHECK(options.btf_path == "/boot/vmlinux.btf");
    CHECK(options.check_config == "new.yaml");
    CHECK_FALSE(options.version);
    CHECK_FALSE(options.help);
  }
  SECTION("--opt=value") {
    const CliOptions options =
        Parse({"--config=/etc/netlens.yaml", "--listen=[::]:80", "--log-level=off",
               "--btf=/boot/vmlinux.btf", "--check-config=new.yaml"});
    CHECK(options.config_path == "/etc/netlens.yaml");
    CHECK(options.listen == "[::]:80");
    CHECK(options.log_level == "off");
    CHECK(options.btf_path == "/boot/vmlinux.btf");
    CHECK(options.check_config == "new.yaml");
  }
  SECTION("only the first '=' separates") {
    CHECK(Parse({"--config=a=b.yaml"}).config_path == "a=b.yaml");
  }
  SECTION("a lone '-' is a value, not an option") {
    CHECK(Parse({"--config", "-"}).config_path == "-");
  }
  SECTION("an option-like value needs the '=' form") {
    CHECK(Parse({"--config=--odd-name.yaml"}).config_path == "--odd-name.yaml");
  }
}

TEST_CASE("Flags", "[cli]") {
  CHECK(Parse({"--version"}).version);
  CHECK(Parse({"--help"}).help);
  CHECK(Parse({"-h"}).help);
  const CliOptions both = Parse({"--version", "--config", "x.yaml"});
  CHECK(both.version);
  CHECK(both.config_path == "x.yaml");
  CHECK_FALSE(both.help);
}

TEST_CASE("Every log level is accepted", "[cli]") {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    CHECK(Parse({"--log-level", level}).log_level == level);
  }
}

TEST_CASE("Command-line errors are one line and name the problem", "[cli]") {
  SECTION("unknown options, with the closest known one") {
    CHECK(ErrorOf({"--lisen", "x"}) == "unknown option '--lisen' (did you mean '--listen'?)");
    CHECK(ErrorOf({"--confg=x"}) == "unknown option '--confg' (did you mean '--config'?)");
    CHECK(ErrorOf({"-config", "x"}) == "unknown option '-config' (did you mean '--config'?)");
    CHECK(ErrorOf({"--loglevel", "x"}) ==
          "unknown option '--loglevel' (did you mean '--log-level'?)");
    CHECK(ErrorOf({"--check", "a.yaml"}) ==
          "unknown option '--check' (did you mean '--check-config'?)");
    CHECK(ErrorOf({"--verbose"}) == "unknown option '--verbose'");
    CHECK(ErrorOf({"-x"}) == "unknown option '-x'");
    CHECK(ErrorOf({"--"}) == "unknown option '--'");
    CHECK(ErrorOf({"--version", "--bogus"}) == "unknown option '--bogus'");
  }
  SECTION("missing values") {
    CHECK(ErrorOf({"--config"}) == "option '--config' requires a value (FILE)");
    CHECK(ErrorOf({"--config="}) == "option '--config' requires a value (FILE)");
    CHECK(ErrorOf({"--config", ""}) == "option '--config' requires a value (FILE)");
    CHECK(ErrorOf({"--listen", "--log-level", "info"}) ==
          "option '--listen' requires a value (ADDR:PORT)");
    CHECK(ErrorOf({"--btf", "-h"}) == "option '--btf' requires a value (PATH)");
    CHECK(ErrorOf({"--log-level"}) == "option '--log-level' requires a value (LEVEL)");
    CHECK(ErrorOf({"--check-config"}) == "option '--check-config' requires a value (FILE)");
  }
  SECTION("flags take no value") {
    CHECK(ErrorOf({"--version=1"}) == "option '--version' does not take a value");
    CHECK(ErrorOf({"--help=yes"}) == "option '--help' does not take a value");
    CHECK(ErrorOf({"-h=1"}) == "option '--help' does not take a value");
  }
  SECTION("an option given twice") {
    CHECK(ErrorOf({"--config", "a.yaml", "--config=b.yaml"}) ==
          "option '--config' given more than once");
    CHECK(ErrorOf({"-h", "--help"}) == "option '--help' given more than once");
  }
  SECTION("positional arguments") {
    CHECK(ErrorOf({"start"}) == "unexpected argument 'start'");
    CHECK(ErrorOf({"-"}) == "unexpected argument '-'");
    CHECK(ErrorOf({"/etc/netlens.yaml"}) ==
          "unexpected argument '/etc/netlens.yaml' (did you mean '--config /etc/netlens.yaml'?)");
    CHECK(ErrorOf({"--config", "a.yml", "b.yml"}) ==
          "unexpected argument 'b.yml' (did you mean '--config b.yml'?)");
  }
  SECTION("bad --listen") {
    CHECK(ErrorOf({"--listen", "::1:80"}) ==
          "--listen: invalid listen address '::1:80': IPv6 addresses must be in brackets, "
          "e.g. [::1]:9750");
    CHECK(ErrorOf({"--listen=:9750"}) ==
          "--listen: invalid listen address ':9750': missing host; use 0.0.0.0 or [::] to listen "
          "on all addresses");
  }
  SECTION("bad --log-level") {
    CHECK(ErrorOf({"--log-level", "warning"}) ==
          "--log-level: invalid level 'warning' (did you mean 'warn'?); valid levels: trace, "
          "debug, info, warn, error, critical, off");
    CHECK(ErrorOf({"--log-level=verbose"}) ==
          "--log-level: invalid level 'verbose'; valid levels: trace, debug, info, warn, error, "
          "critical, off");
    CHECK(ErrorOf({"--log-level=INFO"}) ==
          "--log-level: invalid level 'INFO'; valid levels: trace, debug, info, warn, error, "
          "critical, off");
  }
  SECTION("errors are CliError") {
    REQUIRE_THROWS_AS(Parse({"--nope"}), CliError);
    REQUIRE_THROWS_AS(Parse({"--listen", "x"}), CliError);
  }
}

TEST_CASE("ValidateListenAddress", "[cli][listen]") {
  SECTION("accepted") {
    for (const std::string listen :
         {"127.0.0.1:9750", "0.0.0.0:80", "[::1]:9750", "[::]:9750", "localhost:9750", "0.0.0.0:1",
          "0.0.0.0:65535", "[fe80::1:2]:9750", "[::ffff:10.0.0.1]:9750", "10.1.2.3:09750"}) {
      CAPTURE(listen);
      CHECK_NOTHROW(ValidateListenAddress(listen));
    }
  }
  SECTION("rejected, with the reason") {
    const std::string kHostRule =
        "host must be an IPv4 address, a bracketed IPv6 address or localhost, got ";
    const std::vector<std::pair<std::string, std::string>> rejected = {
        {"127.0.0.1", "missing ':PORT', e.g. 127.0.0.1:9750"},
        {"", "missing ':PORT', e.g. 127.0.0.1:9750"},
        {"[::1]", "missing ':PORT', e.g. [::1]:9750"},
        {"127.0.0.1:", "missing port after ':'"},
        {"127.0.0.1:0", "port must be between 1 and 65535, got 0"},
        {"127.0.0.1:65536", "port must be between 1 and 65535, got 65536"},
        {"127.0.0.1:99999999999", "port must be between 1 and 65535, got 99999999999"},
        {"127.0.0.1:http", "port must be a number between 1 and 65535, got 'http'"},
        {"127.0.0.1:-1", "port must be a number between 1 and 65535, got '-1'"},
        {"127.0.0.1:+80", "port must be a number between 1 and 65535, got '+80'"},
        {"127.0.0.1:80 ", "port must be a number between 1 and 65535, got '80 '"},
        {":9750", "missing host; use 0.0.0.0 or [::] to listen on all addresses"},
        {"[]:9750", "missing host; use 0.0.0.0 or [::] to listen on all addresses"},
        {"::1:80", "IPv6 addresses must be in brackets, e.g. [::1]:9750"},
        {":::9750", "IPv6 addresses must be in brackets, e.g. [::1]:9750"},
        {"[::1:80", "missing ']' after the IPv6 address"},
        {"[::1]80", "expected ':PORT' after ']'"},
        {"[::1]:", "missing port after ':'"},
        {"[127.0.0.1]:80", "'127.0.0.1' is not a valid IPv6 address"},
        {"[localhost]:80", "'localhost' is not a valid IPv6 address"},
        {"300.1.1.1:80", kHostRule + "'300.1.1.1'"},
        {"1.2.3:80", kHostRule + "'1.2.3'"},
        {"ho st:80", kHostRule + "'ho st'"},
        {"node-1.example.com:80", kHostRule + "'node-1.example.com'"},
        {"LOCALHOST:80", kHostRule + "'LOCALHOST'"},
        {"http://host:80", "expected HOST:PORT without a scheme, e.g. 127.0.0.1:9750"},
        {"0.0.0.0:9750/metrics", "port must be a number between 1 and 65535, got '9750/metrics'"},
    };
    for (const auto& [listen, reason] : rejected) {
      CAPTURE(listen);
      CHECK(ListenErrorOf(listen) == "invalid listen address '" + listen + "': " + reason);
    }
  }
}

TEST_CASE("Usage describes every option, the defaults and the exit codes", "[cli]") {
  const std::string usage = Usage();
  CHECK(usage.starts_with("Usage: netlens [OPTIONS]\n"));
  for (const char* synopsis :
       {"\n  --config FILE ", "\n  --listen ADDR:PORT ", "\n  --log-level LEVEL ",
        "\n  --accounting MODE ", "\n  --btf PATH ", "\n  --check-config FILE ", "\n  --version ",
        "\n  -h, --help "}) {
    CAPTURE(synopsis);
    CHECK(usage.find(synopsis) != std::string::npos);
  }
  CHECK(usage.find("built in: 127.0.0.1:9750)") != std::string::npos);
  CHECK(usage.find("built in: info)") != std::string::npos);
  CHECK(usage.find("one of trace, debug, info, warn, error, critical, off") != std::string::npos);
  CHECK(usage.find("\n  0  success\n") != std::string::npos);
  CHECK(usage.find("\n  1  runtime failure") != std::string::npos);
  CHECK(usage.find("\n  2  bad command line or configuration\n") != std::string::npos);

  SECTION("help texts start in one column and lines fit in 100 columns") {
    std::vector<size_t> help_columns;
    size_t line_start = 0;
    while (line_start < usage.size()) {
      const size_t line_end = usage.find('\n', line_start);
      const std::string line = usage.substr(line_start, line_end - line_start);
      CAPTURE(line);
      CHECK(line.size() <= 100);
      if (line.starts_with("  -")) {  // "  --opt VALUE   help"
        help_columns.push_back(line.find_first_not_of(' ', line.find("  ", 2)));
      } else if (line.starts_with("      ")) {  // continuation of the help above
        help_columns.push_back(line.find_first_not_of(' '));
      }
      line_start = line_end + 1;
    }
    REQUIRE(help_columns.size() == 15);  // 10 options, 5 of them on two lines
    CHECK(std::all_of(help_columns.begin(), help_columns.end(),
                      [&](size_t column) { return column == help_columns.front(); }));
  }
}

}  // namespace
}  // namespace netlens

TEST_CASE("the attach-mode option takes the modes of the config") {
  const char* ok[] = {"netlens", "--attach-mode", "fentry"};
  REQUIRE(netlens::ParseCli(3, ok).attach_mode == "fentry");
  const char* bad[] = {"netlens", "--attach-mode=kprobes"};
  REQUIRE_THROWS_WITH(netlens::ParseCli(2, bad),
                      Catch::Contains("invalid attach mode 'kprobes'; valid modes: auto, tp_btf"));
}

TEST_CASE("the accounting option takes kernel or events") {
  const char* ok[] = {"netlens", "--accounting", "events"};
  REQUIRE(netlens::ParseCli(3, ok).accounting == "events");
  const char* bad[] = {"netlens", "--accounting=event"};
  REQUIRE_THROWS_WITH(netlens::ParseCli(2, bad),
                      Catch::Contains("invalid accounting 'event'; valid values: kernel, events"));
}
