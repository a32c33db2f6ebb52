// Tests of the YAML configuration: defaults, every key, durations and every error message.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "config_error.h"

namespace netlens {
namespace {

using namespace std::chrono_literals;

Config Parse(const std::string& yaml) { return ParseConfig(yaml, "t.yaml"); }

std::string ErrorOf(const std::string& yaml) { return ConfigErrorOf(Parse, yaml); }

void RequireDefaultValues(const Config& config) {
  CHECK(config.listen == "127.0.0.1:9750");
  CHECK(config.level == Level::kRemote);
  CHECK(config.log_level == "info");
  CHECK(config.process_ttl == 300s);
  CHECK(config.closed_retention == 300s);
  CHECK(config.limits.connections == 65536);
  CHECK(config.limits.aggregates == 16384);
  CHECK(config.limits.closed_connections == 16384);
  CHECK(config.limits.listeners == 4096);
  CHECK(config.limits.series_per_family == 10000);
  CHECK(config.latency_buckets.min == 1us);
  CHECK(config.latency_buckets.max == 60s);
  CHECK(config.http.request_header_timeout == 5s);
  CHECK(config.http.request_timeout == 10s);
  CHECK(config.http.max_connections == 1024);
  CHECK(config.http.max_connections_per_peer == 128);
  CHECK(config.labels.pid);
}

void RequireSameSettings(const Config& a, const Config& b) {
  CHECK(a.listen == b.listen);
  CHECK(a.level == b.level);
  CHECK(a.log_level == b.log_level);
  CHECK(a.process_ttl == b.process_ttl);
  CHECK(a.closed_retention == b.closed_retention);
  CHECK(a.limits.connections == b.limits.connections);
  CHECK(a.limits.aggregates == b.limits.aggregates);
  CHECK(a.limits.closed_connections == b.limits.closed_connections);
  CHECK(a.limits.listeners == b.limits.listeners);
  CHECK(a.limits.series_per_family == b.limits.series_per_family);
  CHECK(a.latency_buckets.min == b.latency_buckets.min);
  CHECK(a.latency_buckets.max == b.latency_buckets.max);
  CHECK(a.http == b.http);
  CHECK(a.labels == b.labels);
}

// The repository's config/ directory, found from this file's path as the compiler saw it.
std::filesystem::path ConfigDir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "config";
}

std::string WithoutTrailingNewlines(std::string_view text) {
  return std::string(text.substr(0, text.find_last_not_of('\n') + 1));
}

// A file under the temporary directory, removed at the end of the test.
class TempFile {
 public:
  explicit TempFile(const std::string& contents)
      : path_(std::filesystem::temp_directory_path() /
              ("netlens-test-" + std::to_string(::getpid()) + ".yaml")) {
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST_CASE("Config defaults are the documented ones", "[config]") {
  const Config config;
  RequireDefaultValues(config);
  CHECK(config.source == "<embedded default>");
}

TEST_CASE("The embedded default configuration equals Config{}", "[config]") {
  SECTION("parsing the embedded text gives every default") {
    const Config parsed = ParseConfig(std::string(EmbeddedDefaultConfig()), "netlens.yaml");
    RequireSameSettings(parsed, Config{});
    CHECK(parsed.source == "netlens.yaml");
  }
  SECTION("DefaultConfig() is that configuration") {
    const Config config = DefaultConfig();
    RequireSameSettings(config, Config{});
    RequireDefaultValues(config);
    CHECK(config.source == "<embedded default>");
  }
  SECTION("the embedded text is config/netlens.yaml (the build is not stale)") {
    std::ifstream file(ConfigDir() / "netlens.yaml");
    REQUIRE(file);
    const std::string on_disk{std::istreambuf_iterator<char>(file), {}};
    CHECK(WithoutTrailingNewlines(EmbeddedDefaultConfig()) == WithoutTrailingNewlines(on_disk));
  }
  SECTION("it sets every key, so it documents every key") {
    for (std::string_view key :
         {"\nlisten: ", "\nlog_level: ", "\naggregation: ", "\nprocess_ttl: ",
          "\nclosed_connection_retention: ", "\nlimits:\n", "\n  connections: ", "\n  aggregates: ",
          "\n  closed_connections: ", "\n  listeners: ", "\n  series_per_family: ",
          "\nlatency_buckets:\n", "\n  min: ", "\n  max: ", "\nlabels:\n", "\n  pid: "}) {
      CAPTURE(key);
      CHECK(EmbeddedDefaultConfig().find(key) != std::string_view::npos);
    }
  }
}

TEST_CASE("An empty configuration means all defaults", "[config]") {
  for (const std::string yaml : {"", "\n\n", "# only a comment\n  # another\n", "---\n", "~\n"}) {
    CAPTURE(yaml);
    const Config config = Parse(yaml);
    RequireDefaultValues(config);
    CHECK(config.source == "t.yaml");
  }
  SECTION("an empty limits section keeps the default limits") {
    const Config config = Parse("limits:\n  # connections: 10\nlog_level: warn\n");
    RequireSameSettings(config, [] {
      Config expected;
      expected.log_level = "warn";
      return expected;
    }());
  }
}

TEST_CASE("Every key is read", "[config]") {
  const Config config = Parse(
      "listen: \"[::1]:9100\"\n"
      "log_level: debug\n"
      "aggregation: connection\n"
      "process_ttl: 90s\n"
      "closed_connection_retention: 1h30m\n"
      "limits:\n"
      "  connections: 1000\n"
      "  aggregates: 2000\n"
      "  closed_connections: 3000\n"
      "  listeners: 40\n"
      "  series_per_family: 500\n");
  CHECK(config.listen == "[::1]:9100");
  CHECK(config.log_level == "debug");
  CHECK(config.level == Level::kConnection);
  CHECK(config.process_ttl == 90s);
  CHECK(config.closed_retention == 5400s);
  CHECK(config.limits.connections == 1000);
  CHECK(config.limits.aggregates == 2000);
  CHECK(config.limits.closed_connections == 3000);
  CHECK(config.limits.listeners == 40);
  CHECK(config.limits.series_per_family == 500);
  CHECK(config.source == "t.yaml");

  SECTION("a key left out keeps its default") {
    const Config partial = Parse("limits:\n  listeners: 7\n");
    CHECK(partial.limits.listeners == 7);
    CHECK(partial.limits.connections == 65536);
    CHECK(partial.listen == "127.0.0.1:9750");
  }
  SECTION("flow style and quoted numbers are plain YAML") {
    const Config flow = Parse("{limits: {connections: '12'}, process_ttl: \"60\"}");
    CHECK(flow.limits.connections == 12);
    CHECK(flow.process_ttl == 60s);
  }
}

TEST_CASE("aggregation selects the level", "[config]") {
  CHECK(Parse("aggregation: process").level == Level::kProcess);
  CHECK(Parse("aggregation: remote").level == Level::kRemote);
  CHECK(Parse("aggregation: connection").level == Level::kConnection);
  CHECK(LevelName(Level::kProcess) == "process");
  CHECK(LevelName(Level::kRemote) == "remote");
  CHECK(LevelName(Level::kConnection) == "connection");
  CHECK(ErrorOf("aggregation: remotes") ==
        "t.yaml:1:14: 'aggregation' must be one of process, remote, connection, got 'remotes' "
        "(did you mean 'remote'?)");
  CHECK(ErrorOf("aggregation: pid") ==
        "t.yaml:1:14: 'aggregation' must be one of process, remote, connection, got 'pid'");
  CHECK(ErrorOf("aggregation: Remote") ==
        "t.yaml:1:14: 'aggregation' must be one of process, remote, connection, got 'Remote' "
        "(did you mean 'remote'?)");
}

TEST_CASE("log_level accepts the spdlog level names", "[config]") {
  for (std::string_view level : kLogLevelNames) {
    CHECK(Parse("log_level: " + std::string(level)).log_level == level);
  }
  CHECK(ErrorOf("log_level: warning") ==
        "t.yaml:1:12: 'log_level' must be one of trace, debug, info, warn, error, critical, off, "
        "got 'warning' (did you mean 'warn'?)");
  CHECK(ErrorOf("log_level: verbose") ==
        "t.yaml:1:12: 'log_level' must be one of trace, debug, info, warn, error, critical, off, "
        "got 'verbose'");
  CHECK(ErrorOf("log_level: crit") ==
        "t.yaml:1:12: 'log_level' must be one of trace, debug, info, warn, error, critical, off, "
        "got 'crit' (did you mean 'critical'?)");
  CHECK(ErrorOf("log_level: [info]") ==
        "t.yaml:1:12: 'log_level' must be one of trace, debug, info, warn, error, critical, off, "
        "got a list");
}

TEST_CASE("Durations are seconds or h/m/s strings", "[config]") {
  const std::vector<std::pair<std::string, std::chrono::seconds>> valid = {
      {"1", 1s},        {"300", 300s},       {"90s", 90s},        {"5m", 300s},   {"1h", 3600s},
      {"1h30m", 5400s}, {"1h30m15s", 5415s}, {"2h15s", 7215s},    {"1m30s", 90s}, {"0h1s", 1s},
      {"120m", 7200s},  {"8760h", 8760h},    {"31536000", 8760h}, {"007s", 7s},
  };
  for (const auto& [text, seconds] : valid) {
    CAPTURE(text);
    CHECK(Parse("process_ttl: " + text).process_ttl == seconds);
    CHECK(Parse("closed_connection_retention: " + text).closed_retention == seconds);
  }

  SECTION("malformed durations") {
    const std::string expected_prefix =
        "t.yaml:1:14: 'process_ttl' must be a duration in seconds or like 90s, 5m, 1h30m, got ";
    for (const std::string text : {"5 minutes", "1.5h", "5M", "1d", "m", "h1", "-5", "+5", "5ms",
                                   "30m1h", "1h1h", "1s1m", "5m'", "0x10"}) {
      CAPTURE(text);
      CHECK(ErrorOf("process_ttl: " + text) == expected_prefix + "'" + text + "'");
    }
    CHECK(ErrorOf("process_ttl: \"5m \"") == expected_prefix + "'5m '");
    CHECK(ErrorOf("process_ttl: ''") == expected_prefix + "''");
  }
  SECTION("zero") {
    CHECK(ErrorOf("process_ttl: 0") == "t.yaml:1:14: 'process_ttl' must be greater than 0, got 0");
    CHECK(ErrorOf("closed_connection_retention: 0h0m0s") ==
          "t.yaml:1:30: 'closed_connection_retention' must be greater than 0, got 0h0m0s");
  }
  SECTION("too long") {
    CHECK(ErrorOf("process_ttl: 8761h") ==
          "t.yaml:1:14: 'process_ttl' must be at most 8760h, got 8761h");
    CHECK(ErrorOf("process_ttl: 31536001") ==
          "t.yaml:1:14: 'process_ttl' must be at most 8760h, got 31536001");
    CHECK(ErrorOf("process_ttl: 99999999999999999999999h59m") ==
          "t.yaml:1:14: 'process_ttl' must be at most 8760h, got 99999999999999999999999h59m");
    CHECK(ErrorOf("process_ttl: 99999999999999999999999") ==
          "t.yaml:1:14: 'process_ttl' must be at most 8760h, got 99999999999999999999999");
  }
  SECTION("not a scalar") {
    CHECK(ErrorOf("process_ttl: {minutes: 5}") ==
          "t.yaml:1:14: 'process_ttl' must be a duration in seconds or like 90s, 5m, 1h30m, "
          "got a map");
  }
}

TEST_CASE("Limits are positive integers within their range", "[config]") {
  struct Range {
    std::string key;
    uint32_t min;
    uint32_t max;
    uint32_t Limits::*member;
  };
  const std::vector<Range> ranges = {
      {"connections", 1, 16777216, &Limits::connections},
      {"aggregates", 1, 16777216, &Limits::aggregates},
      {"closed_connections", 1, 16777216, &Limits::closed_connections},
      {"listeners", 1, 16777216, &Limits::listeners},
      {"series_per_family", 2, 1000000, &Limits::series_per_family},
      {"processes", 1, 16777216, &Limits::processes},
  };
  for (const Range& range : ranges) {
    CAPTURE(range.key);
    const std::string prefix = "limits:\n  " + range.key + ": ";
    const std::string at = "t.yaml:2:" + std::to_string(range.key.size() + 5) + ": 'limits." +
                           range.key + "' must be ";
    const std::string between =
        "between " + std::to_string(range.min) + " and " + std::to_string(range.max) + ", got ";

    CHECK(Parse(prefix + std::to_string(range.min)).limits.*range.member == range.min);
    CHECK(Parse(prefix + std::to_string(range.max)).limits.*range.member == range.max);
    CHECK(ErrorOf(prefix + std::to_string(range.min - 1)) ==
          at + between + std::to_string(range.min - 1));
    CHECK(ErrorOf(prefix + std::to_string(range.max + 1)) ==
          at + between + std::to_string(range.max + 1));
    CHECK(ErrorOf(prefix + "4294967296") == at + between + "4294967296");
    CHECK(ErrorOf(prefix + "99999999999999999999999") == at + between + "99999999999999999999999");
    for (const std::string text : {"lots", "-1", "1.5", "0x10", "1e3", "+5", "10k", "1_000"}) {
      CAPTURE(text);
      CHECK(ErrorOf(prefix + text) == at + "a positive integer, got '" + text + "'");
    }
    CHECK(ErrorOf(prefix + "[1]") == at + "a positive integer, got a list");
    CHECK(ErrorOf(prefix + "{a: 1}") == at + "a positive integer, got a map");
  }
  SECTION("the exact message of the common case") {
    CHECK(ErrorOf("limits:\n  connections: lots\n") ==
          "t.yaml:2:16: 'limits.connections' must be a positive integer, got 'lots'");
  }
  SECTION("limits must be a map") {
    CHECK(ErrorOf("limits: 5") == "t.yaml:1:9: 'limits' must be a map, got '5'");
    CHECK(ErrorOf("limits:\n  - connections: 5\n") ==
          "t.yaml:2:3: 'limits' must be a map, got a list");
  }
}

TEST_CASE("listen is checked like --listen", "[config]") {
  CHECK(Parse("listen: 0.0.0.0:80").listen == "0.0.0.0:80");
  CHECK(Parse("listen: \"[::]:9750\"").listen == "[::]:9750");
  CHECK(Parse("listen: localhost:9750").listen == "localhost:9750");
  CHECK(ErrorOf("listen: \"::1:80\"") ==
        "t.yaml:1:9: invalid listen address '::1:80': IPv6 addresses must be in brackets, "
        "e.g. [::1]:9750");
  CHECK(ErrorOf("log_level: info\nlisten:   127.0.0.1:0\n") ==
        "t.yaml:2:11: invalid listen address '127.0.0.1:0': port must be between 1 and 65535, "
        "got 0");
  CHECK(ErrorOf("listen: 9750") ==
        "t.yaml:1:9: invalid listen address '9750': missing ':PORT', e.g. 127.0.0.1:9750");
  CHECK(ErrorOf("listen: [\"::1\", 9750]") ==
        "t.yaml:1:9: 'listen' must be an address like \"127.0.0.1:9750\" or \"[::1]:9750\", "
        "got a list");
}

TEST_CASE("An empty value is an error that points at its key", "[config]") {
  CHECK(ErrorOf("log_level: info\nlisten:\naggregation: process\n") ==
        "t.yaml:2:1: 'listen' must be an address like \"127.0.0.1:9750\" or \"[::1]:9750\", "
        "got an empty value");
  CHECK(ErrorOf("limits:\n  connections:\n") ==
        "t.yaml:2:3: 'limits.connections' must be a positive integer, got an empty value");
  SECTION("an explicit null points at itself") {
    CHECK(ErrorOf("process_ttl: ~") ==
          "t.yaml:1:14: 'process_ttl' must be a duration in seconds or like 90s, 5m, 1h30m, "
          "got an empty value");
  }
  SECTION("a key without a colon is a key with an empty value") {
    CHECK(ErrorOf("log_level: info\naggregation\n") ==
          "t.yaml:2:1: 'aggregation' must be one of process, remote, connection, "
          "got an empty value");
  }
}

TEST_CASE("Unknown keys are named, with the valid ones and a suggestion", "[config]") {
  const std::string top_keys =
      "valid keys: listen, http, log_level, aggregation, attach_mode, accounting, process_ttl, "
      "closed_connection_retention, limits, latency_buckets, web_config_file, labels, metadata, "
      "services, targets, filters, http_requests, nginx_phases, service_map";
  const std::string limit_keys =
      "valid keys in 'limits': connections, aggregates, closed_connections, listeners, "
      "series_per_family, processes, target_processes, target_cgroups";
  CHECK(ErrorOf("limts:\n  connections: 5\n") ==
        "t.yaml:1:1: unknown key 'limts' (did you mean 'limits'?); " + top_keys);
  CHECK(ErrorOf("listen: \"127.0.0.1:9750\"\nlimits:\n  conections: 10\n") ==
        "t.yaml:3:3: unknown key 'conections' in 'limits' (did you mean 'connections'?); " +
            limit_keys);
  CHECK(ErrorOf("log_level: info\n  \nlsiten: x\n") ==
        "t.yaml:3:1: unknown key 'lsiten' (did you mean 'listen'?); " + top_keys);
  CHECK(ErrorOf("level: remote") == "t.yaml:1:1: unknown key 'level'; " + top_keys);
  CHECK(ErrorOf("closed_retention: 5m") ==
        "t.yaml:1:1: unknown key 'closed_retention'; " + top_keys);
  CHECK(ErrorOf("limits: {listeners: 1, maps: 2}") ==
        "t.yaml:1:24: unknown key 'maps' in 'limits'; " + limit_keys);
  CHECK(ErrorOf("Listen: x") ==
        "t.yaml:1:1: unknown key 'Listen' (did you mean 'listen'?); " + top_keys);
  SECTION("keys must be names") {
    CHECK(ErrorOf("? [a, b]\n: 1\n") == "t.yaml:1:3: keys must be plain names, got a list");
    CHECK(ErrorOf("limits:\n  ? {a: 1}\n  : 1\n") ==
          "t.yaml:2:5: keys must be plain names, got a map in 'limits'");
  }
}

TEST_CASE("Repeated keys are errors at the second one", "[config]") {
  CHECK(ErrorOf("listen: 10.0.0.1:1\nlog_level: info\nlisten: 10.0.0.2:2\n") ==
        "t.yaml:3:1: duplicate key 'listen' (first set on line 1)");
  CHECK(ErrorOf("limits:\n  listeners: 1\n  aggregates: 2\n  listeners: 3\n") ==
        "t.yaml:4:3: duplicate key 'limits.listeners' (first set on line 2)");
  CHECK(ErrorOf("{log_level: info, log_level: warn}") ==
        "t.yaml:1:19: duplicate key 'log_level' (first set on line 1)");
  CHECK(ErrorOf("limits: {}\nlimits: {}\n") ==
        "t.yaml:2:1: duplicate key 'limits' (first set on line 1)");
}

TEST_CASE("The document must be a single map", "[config]") {
  CHECK(ErrorOf("- listen: x\n") ==
        "t.yaml:1:1: the top level must be a map of settings (key: value lines), got a list");
  CHECK(ErrorOf("\n\nhello\n") ==
        "t.yaml:3:1: the top level must be a map of settings (key: value lines), got 'hello'");
  CHECK(ErrorOf("log_level: info\n---\nlog_level: warn\n") ==
        "t.yaml:3:1: a second YAML document ('---'); netlens reads only one");
}

TEST_CASE("YAML syntax errors keep yaml-cpp's position, 1-based", "[config]") {
  CHECK(ErrorOf("limits: [1,\n") == "t.yaml:2:1: invalid YAML: end of sequence flow not found");
  CHECK(ErrorOf("log_level: info\n  aggregation: process\n") ==
        "t.yaml:2:14: invalid YAML: illegal map value");
  CHECK(ErrorOf("listen: *address\n") ==
        "t.yaml:1:9: invalid YAML: the referenced anchor is not defined");
  SECTION("hints for the usual mistakes") {
    CHECK(ErrorOf("log_level: info\nlisten: [::1]:9750\n") ==
          "t.yaml:2:14: invalid YAML: end of map not found (quote IPv6 addresses: "
          "listen: \"[::1]:9750\")");
    CHECK(ErrorOf("\tlog_level: info\n") ==
          "t.yaml:1:11: invalid YAML: illegal map value (indent with spaces; YAML does not "
          "allow tabs)");
  }
}

TEST_CASE("LoadConfigFile reads a file and names it in errors", "[config]") {
  SECTION("a valid file") {
    const TempFile file("aggregation: process\n");
    const Config config = LoadConfigFile(file.path());
    CHECK(config.level == Level::kProcess);
    CHECK(config.source == file.path());
  }
  SECTION("errors start with the path") {
    const TempFile file("log_level: info\nlimits:\n  conections: 1\n");
    REQUIRE_THROWS_WITH(LoadConfigFile(file.path()),
                        Catch::StartsWith(file.path() + ":3:3: unknown key 'conections'"));
  }
  SECTION("unreadable files") {
    REQUIRE_THROWS_AS(LoadConfigFile("/nonexistent/netlens.yaml"), ConfigError);
    REQUIRE_THROWS_WITH(LoadConfigFile("/nonexistent/netlens.yaml"),
                        "/nonexistent/netlens.yaml: cannot read: No such file or directory");
    const std::string directory = std::filesystem::temp_directory_path().string();
    REQUIRE_THROWS_WITH(LoadConfigFile(directory), directory + ": cannot read: Is a directory");
  }
  SECTION("an empty file means all defaults") {
    const TempFile file("");
    RequireDefaultValues(LoadConfigFile(file.path()));
  }
}

TEST_CASE("The example configurations are valid", "[config]") {
  const std::filesystem::path examples = ConfigDir() / "examples";
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(examples)) {
    if (entry.path().extension() != ".yaml") continue;
    CAPTURE(entry.path().string());
    CHECK_NOTHROW(LoadConfigFile(entry.path().string()));
    ++count;
  }
  CHECK(count >= 2);

  SECTION("production listens on all IPv4 addresses with tighter limits") {
    const Config config = LoadConfigFile((examples / "production.yaml").string());
    CHECK(config.listen == "0.0.0.0:9750");
    CHECK(config.limits.connections < Config{}.limits.connections);
    CHECK(config.limits.series_per_family < Config{}.limits.series_per_family);
  }
  SECTION("the debugging example is at connection level") {
    const Config config = LoadConfigFile((examples / "dev-connection-debug.yaml").string());
    CHECK(config.level == Level::kConnection);
    CHECK(config.log_level == "debug");
  }
}

TEST_CASE("Error message helpers", "[config]") {
  const std::vector<std::string_view> names = {"listen", "limits", "log_level"};
  CHECK(JoinNames(names) == "listen, limits, log_level");
  CHECK(JoinNames(std::vector<std::string_view>{}) == "");
  CHECK(JoinNames(std::vector<std::string_view>{"one"}) == "one");

  CHECK(ClosestName("limits", names) == "limits");
  CHECK(ClosestName("limts", names) == "limits");   // deletion
  CHECK(ClosestName("lsiten", names) == "listen");  // transposition counts once
  CHECK(ClosestName("listenxx", names) == "listen");
  CHECK(ClosestName("log-level", names) == "log_level");
  CHECK(ClosestName("lisxxxx", names) == "");  // 3 edits: no suggestion
  SECTION("beyond 2 edits, abbreviations and extensions of 3+ characters") {
    CHECK(ClosestName("log", names) == "log_level");
    CHECK(ClosestName("listen_address", names) == "listen");
    CHECK(ClosestName("crit", kLogLevelNames) == "critical");
    CHECK(ClosestName("warning", kLogLevelNames) == "warn");
    CHECK(ClosestName("lo", std::vector<std::string_view>{"log_level"}) == "");
    CHECK(ClosestName("limits_max", names) == "limits");
  }
  CHECK(ClosestName("", names) == "");
  CHECK(ClosestName("anything", std::vector<std::string_view>{}) == "");
  // The first of equally close candidates wins, so tables list the common keys first.
  CHECK(ClosestName("limit", std::vector<std::string_view>{"limits", "limitz"}) == "limits");
}

TEST_CASE("latency_buckets: min and max durations down to nanoseconds", "[config]") {
  const Config config = Parse("latency_buckets:\n  min: 250us\n  max: 2m30s\n");
  CHECK(config.latency_buckets.min == 250us);
  CHECK(config.latency_buckets.max == 150s);
  const std::vector<std::pair<std::string, std::chrono::nanoseconds>> valid = {
      {"2ns", 2ns},     {"1500ns", 1500ns},     {"1us", 1us},
      {"250ms", 250ms}, {"1s500ms", 1500ms},    {"1m1ms1us1ns", 60s + 1ms + 1us + 1ns},
      {"30", 30s},      {"18m19s", 18min + 19s}};
  for (const auto& [text, nanos] : valid) {
    CAPTURE(text);
    CHECK(Parse("latency_buckets: {min: 1ns, max: " + text + "}").latency_buckets.max == nanos);
  }
  CHECK(Parse("latency_buckets: {min: 1ns}").latency_buckets.max == 60s);  // max keeps its default
  CHECK(Parse("latency_buckets:\n").latency_buckets.min == 1us);

  SECTION("errors point at the value") {
    const std::string expected =
        "t.yaml:1:24: 'latency_buckets.min' must be a duration like 1us, "
        "250ms, 60s, 2m, got ";
    for (const std::string text :
         {"1 ms", "1.5ms", "1msec", "1ms1s", "1us1us", "ms", "5MS", "-1us"}) {
      CAPTURE(text);
      CHECK(ErrorOf("latency_buckets: {min: '" + text + "'}") == expected + "'" + text + "'");
    }
    CHECK(ErrorOf("latency_buckets:\n  min: 0us\n") ==
          "t.yaml:2:8: 'latency_buckets.min' must be greater than 0, got 0us");
    CHECK(ErrorOf("latency_buckets:\n  max: 19m\n") ==
          "t.yaml:2:8: 'latency_buckets.max' must be at most 1099511627776ns (18m19.5s, the "
          "kernel's largest bucket), got 19m");
    CHECK(ErrorOf("latency_buckets:\n  min: 1s\n  max: 1s\n") ==
          "t.yaml:2:3: 'latency_buckets.min' (1000000000ns) must be below 'latency_buckets.max' "
          "(1000000000ns)");
    CHECK(ErrorOf("latency_buckets:\n  mid: 1s\n") ==
          "t.yaml:2:3: unknown key 'mid' in 'latency_buckets' (did you mean 'min'?); valid keys "
          "in 'latency_buckets': min, max");
    CHECK(ErrorOf("latency_buckets: 1s") ==
          "t.yaml:1:18: 'latency_buckets' must be a map with min and max, got '1s'");
  }
  SECTION("whole-second settings still refuse sub-second units") {
    CHECK(ErrorOf("process_ttl: 1500ms") ==
          "t.yaml:1:14: 'process_ttl' must be a duration in seconds or like 90s, 5m, 1h30m, got "
          "'1500ms'");
    CHECK(Parse("process_ttl: 2s").process_ttl == 2s);
  }
}

}  // namespace
}  // namespace netlens

TEST_CASE("attach_mode takes auto or one attach mode") {
  REQUIRE(netlens::ParseConfig("attach_mode: kprobe\n", "t.yaml").attach_mode == "kprobe");
  REQUIRE(netlens::ParseConfig("", "t.yaml").attach_mode == "auto");
  try {
    netlens::ParseConfig("attach_mode: kprobes\n", "t.yaml");
    FAIL("no error");
  } catch (const netlens::ConfigError& e) {
    REQUIRE(std::string(e.what()) ==
            "t.yaml:1:14: 'attach_mode' must be one of auto, tp_btf, tracepoint, fentry, kprobe, "
            "got 'kprobes' (did you mean 'kprobe'?)");
  }
}

TEST_CASE("accounting takes kernel or events") {
  REQUIRE(netlens::ParseConfig("", "t.yaml").accounting == "kernel");
  REQUIRE(netlens::ParseConfig("accounting: events\n", "t.yaml").accounting == "events");
  try {
    netlens::ParseConfig("accounting: event\n", "t.yaml");
    FAIL("no error");
  } catch (const netlens::ConfigError& e) {
    REQUIRE(std::string(e.what()) ==
            "t.yaml:1:13: 'accounting' must be one of kernel, events, got 'event' (did you mean "
            "'events'?)");
  }
}

namespace netlens {

TEST_CASE("labels, metadata and services rules", "[config]") {
  const Config config = ParseConfig(
      "labels:\n  exe: true\n  container_id: false\n  netns: true\n  instance: true\n"
      "metadata:\n  instance: web-1\n  pods_directory: /tmp/pods\n  refresh: 10s\n"
      "services:\n  - name: web\n    comm: nginx\n    port: 443\n"
      "  - name: db\n    cgroup: \"/system.slice/postgres*\"\n    exe: /usr/bin/*\n",
      "t.yaml");
  const LabelSettings& labels = config.labels;
  CHECK(labels.exe);
  CHECK_FALSE(labels.container_id);
  CHECK(labels.netns);
  CHECK(labels.instance);
  CHECK(labels.pod);  // untouched: default
  CHECK(labels.pid);  // the default: series per process
  CHECK_FALSE(ParseConfig("labels:\n  pid: false\n", "t.yaml").labels.pid);
  CHECK(ParseConfig("labels:\n  pid: true\n  exe: true\n", "t.yaml").labels.pid);
  CHECK(labels.instance_value == "web-1");
  CHECK(labels.pods_directory == "/tmp/pods");
  CHECK(labels.refresh == std::chrono::seconds(10));
  REQUIRE(labels.services.size() == 2);
  CHECK(labels.services[0] == ServiceRule{.name = "web", .comm = "nginx", .port = 443});
  CHECK(labels.services[1] ==
        ServiceRule{.name = "db", .exe = "/usr/bin/*", .cgroup = "/system.slice/postgres*"});

  CHECK(ErrorOf("labels:\n  exe: yes\n") ==
        "t.yaml:2:8: 'labels.exe' must be true or false, got 'yes'");
  CHECK(ErrorOf("labels:\n  pid: no\n") ==
        "t.yaml:2:8: 'labels.pid' must be true or false, got 'no'");
  CHECK(ErrorOf("labels:\n  pid:\n    - false\n").rfind("t.yaml:3:5: 'labels.pid' must be", 0) ==
        0);
  CHECK(ErrorOf("labels:\n  pids: false\n")
            .rfind("t.yaml:2:3: unknown key 'pids' in 'labels' (did you mean 'pid'?)", 0) == 0);
  CHECK(ErrorOf("labels:\n  pods: true\n")
            .rfind("t.yaml:2:3: unknown key 'pods' in 'labels' "
                   "(did you mean 'pod'?)",
                   0) == 0);
  CHECK(ErrorOf("services:\n  - comm: nginx\n") == "t.yaml:2:5: 'services[0]' needs a 'name'");
  CHECK(ErrorOf("services:\n  - name: web\n    port: 70000\n") ==
        "t.yaml:3:11: 'services[0].port' must be between 1 and 65535, got 70000");
  CHECK(ErrorOf("services: web\n") == "t.yaml:1:11: 'services' must be a list of rules, got 'web'");
  CHECK(ErrorOf("services:\n  - web\n") ==
        "t.yaml:2:5: 'services[0]' must be a map (name, comm, exe, cgroup, port), got 'web'");
}

}  // namespace netlens

namespace netlens {
namespace {

TEST_CASE("http: deadlines and connection bounds of the endpoint", "[config]") {
  SECTION("every key") {
    const Config config = Parse(
        "http:\n  request_header_timeout: 750ms\n  request_timeout: 2s\n"
        "  max_connections: 300\n  max_connections_per_peer: 20\n");
    CHECK(config.http.request_header_timeout == 750ms);
    CHECK(config.http.request_timeout == 2s);
    CHECK(config.http.max_connections == 300);
    CHECK(config.http.max_connections_per_peer == 20);
  }
  SECTION("a bound left at its default follows the one set below it") {
    const Config config = Parse("http:\n  request_timeout: 3s\n  max_connections: 10\n");
    CHECK(config.http.request_header_timeout == 3s);
    CHECK(config.http.max_connections_per_peer == 10);
  }
  SECTION("errors point at the value") {
    CHECK(ErrorOf("http:\n  request_timeout: 0s\n") ==
          "t.yaml:2:20: 'http.request_timeout' must be greater than 0, got 0s");
    CHECK(ErrorOf("http:\n  request_timeout: 2h\n") ==
          "t.yaml:2:20: 'http.request_timeout' must be at most 1h, got 2h");
    CHECK(ErrorOf("http:\n  request_header_timeout: 1500us\n") ==
          "t.yaml:2:27: 'http.request_header_timeout' must be whole milliseconds, got 1500us");
    CHECK(ErrorOf("http:\n  request_timeout: soon\n") ==
          "t.yaml:2:20: 'http.request_timeout' must be a duration like 500ms, 5s, 1m, got 'soon'");
    CHECK(ErrorOf("http:\n  request_header_timeout: 4s\n  request_timeout: 3s\n") ==
          "t.yaml:2:27: 'http.request_header_timeout' (4000ms) must not exceed "
          "'http.request_timeout' (3000ms)");
    CHECK(ErrorOf("http:\n  max_connections: 0\n") ==
          "t.yaml:2:20: 'http.max_connections' must be between 1 and 1048576, got 0");
    CHECK(ErrorOf("http:\n  max_connections: 10\n  max_connections_per_peer: 11\n") ==
          "t.yaml:3:29: 'http.max_connections_per_peer' (11) must not exceed "
          "'http.max_connections' (10)");
    CHECK(ErrorOf("http:\n  header_timeout: 1s\n") ==
          "t.yaml:2:3: unknown key 'header_timeout' in 'http'; valid keys in 'http': "
          "request_header_timeout, request_timeout, max_connections, max_connections_per_peer");
    CHECK(ErrorOf("http: 5s\n") == "t.yaml:1:7: 'http' must be a map, got '5s'");
  }
}

}  // namespace
}  // namespace netlens
