// The `http_requests` section of the config.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.h"
#include "config_error.h"

namespace netlens {
namespace {

std::string ErrorOf(const std::string& text) {
  return ConfigErrorOf([](const std::string& t) { ParseConfig(t, "t.yaml"); }, text);
}

TEST_CASE("http_requests: off by default, on for the selected processes", "[config][http]") {
  CHECK_FALSE(DefaultConfig().http_requests.enabled());
  CHECK_FALSE(ParseConfig("http_requests:\n", "t.yaml").http_requests.enabled());
  const Config config = ParseConfig(
      "http_requests:\n"
      "  processes:\n"
      "    include:\n"
      "      - comm: nginx\n"
      "      - comm_regex: '^python'\n"
      "    exclude:\n"
      "      - pid: 7\n"
      "  routes:\n"
      "    - service: web\n"
      "      patterns: ['/api/users/{id}', '/static/{file...}']\n"
      "  route_budget: 50\n"
      "  limits:\n"
      "    connections: 100\n"
      "    pending_requests: 8\n"
      "  capture_hooks: syscalls\n",
      "t.yaml");
  const http::HttpRequestsConfig& http = config.http_requests;
  CHECK(http.enabled());
  REQUIRE(http.processes.include.size() == 2);
  CHECK(http.processes.include[0].kind == SelectorKind::kComm);
  CHECK(http.processes.include[0].text == "nginx");
  CHECK(http.processes.include[1].kind == SelectorKind::kCommRegex);
  REQUIRE(http.processes.exclude.size() == 1);
  CHECK(http.processes.exclude[0].pid == 7);
  REQUIRE(http.routes.size() == 1);
  CHECK(http.routes[0].service == "web");
  CHECK(http.routes[0].patterns ==
        std::vector<std::string>{"/api/users/{id}", "/static/{file...}"});
  CHECK(http.route_budget == 50);
  CHECK(http.connections == 100);
  CHECK(http.pending_requests == 8);
  CHECK(http.capture_hooks == http::CaptureHooks::kSyscallTracepoints);
  CHECK(DefaultConfig().http_requests.capture_hooks == http::CaptureHooks::kAuto);
  CHECK(ParseConfig("http_requests:\n  capture_hooks: sock_length\n", "t.yaml")
            .http_requests.capture_hooks == http::CaptureHooks::kSockTracepoints);
  CHECK_FALSE(config.http_requests.mysql);
  CHECK(ParseConfig("http_requests:\n  protocols: [mysql, http]\n", "t.yaml").http_requests.mysql);
  CHECK_FALSE(ParseConfig("http_requests:\n  protocols: [http]\n", "t.yaml").http_requests.mysql);
  CHECK_FALSE(config.http_requests.http2);
  const http::HttpRequestsConfig both =
      ParseConfig("http_requests:\n  protocols: [http2, http]\n", "t.yaml").http_requests;
  CHECK(both.http2);
  CHECK_FALSE(both.mysql);
}

TEST_CASE("the example http.yaml is valid", "[config][http]") {
  const Config config = LoadConfigFile(std::string(NETLENS_HTTP_FIXTURES_DIR) +
                                       "/../../../config/examples/http.yaml");
  CHECK(config.http_requests.enabled());
  CHECK(config.http_requests.processes.include.size() == 5);
  CHECK(config.http_requests.mysql);
  CHECK(config.http_requests.routes.at(0).patterns.size() == 3);
}

TEST_CASE("http_requests errors name the place and the key path", "[config][http]") {
  CHECK(ErrorOf("http_requests:\n  route_budget: 0\n") ==
        "t.yaml:2:17: 'http_requests.route_budget' must be between 1 and 10000, got 0");
  CHECK(ErrorOf("http_requests:\n  limits:\n    pending: 3\n")
            .starts_with("t.yaml:3:5: unknown key 'pending' in 'http_requests.limits'"));
  CHECK(ErrorOf("http_requests:\n  processes:\n    include:\n      - cmm: x\n")
            .starts_with("t.yaml:4:9: "));
  CHECK(
      ErrorOf("http_requests:\n  processes:\n    includ: []\n").find("'http_requests.processes'") !=
      std::string::npos);
  CHECK(ErrorOf("http_requests:\n  routes:\n    - service: a\n      patterns: ['api/x']\n") ==
        "t.yaml:4:18: 'http_requests.routes[0].patterns[0]': a route pattern starts with '/', "
        "got 'api/x'");
  CHECK(ErrorOf("http_requests:\n  routes:\n    - patterns: []\n") ==
        "t.yaml:3:7: 'http_requests.routes[0]' needs a 'service'");
  CHECK(ErrorOf("http_requests:\n  routes:\n    - {service: a}\n    - {service: a}\n")
            .find("service 'a' is listed twice") != std::string::npos);
  CHECK(ErrorOf("http_requests: 3\n").starts_with("t.yaml:1:16: "));
  CHECK(ErrorOf("http_requests:\n  capture_hooks: kprobe\n") ==
        "t.yaml:2:18: 'http_requests.capture_hooks' must be one of auto, sock_length, syscalls, "
        "got 'kprobe'");
  CHECK(ErrorOf("http_requests:\n  protocols: [http, postgres]\n") ==
        "t.yaml:2:21: 'http_requests.protocols[1]' must be http, http2 or mysql, got 'postgres'");
  CHECK(ErrorOf("http_requests:\n  protocols: [http, http2, http2]\n") ==
        "t.yaml:2:28: 'http_requests.protocols[2]': 'http2' is listed twice");
  CHECK(ErrorOf("http_requests:\n  protocols: [mysql]\n") ==
        "t.yaml:2:14: 'http_requests.protocols' must list http (the section's own protocol)");
  CHECK(ErrorOf("http_requests:\n  protocols: [http, http]\n") ==
        "t.yaml:2:21: 'http_requests.protocols[1]': 'http' is listed twice");
  CHECK(ErrorOf("http_requests:\n  protocols: mysql\n").starts_with("t.yaml:2:14: "));
}

}  // namespace
}  // namespace netlens
