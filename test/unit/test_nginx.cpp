// nginx request phases in user space: the `nginx_phases` config, the build tables and how a
// binary is told to be a build, and the aggregation of the probe's records.
#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "config/config.h"
#include "config_error.h"
#include "nginx/nginx_aggregator.h"
#include "nginx/nginx_builds.h"
#include "process/elf_symbols.h"

namespace netlens {
namespace {

std::string ErrorOf(const std::string& text) {
  return ConfigErrorOf([](const std::string& t) { ParseConfig(t, "t.yaml"); }, text);
}

// The compiled-in Debian 12 table, as the config would give it.
std::string BuildYaml(const std::string& indent) {
  const std::string offsets =
      "request_connection: 8\nrequest_upstream_states: 80\nrequest_status: 648\n"
      "request_err_status: 1256\nrequest_start_sec: 960\nrequest_start_msec: 968\n"
      "request_length: 1248\nrequest_unparsed_uri: 1056\nrequest_method_name: 1072\n"
      "connection_sent: 72\nconnection_local_sockaddr: 160\narray_elts: 0\narray_nelts: 8\n"
      "upstream_state_size: 72\nupstream_state_status: 0\nupstream_state_response_time: 8\n"
      "upstream_state_connect_time: 16\nupstream_state_header_time: 24\n"
      "upstream_state_bytes_received: 48\nupstream_state_bytes_sent: 56\n"
      "upstream_state_peer: 64\nstr_len: 0\nstr_data: 8\ntime_sec: 0\ntime_msec: 8\n";
  std::string text = indent + "- version: \"1.25.0\"\n" + indent + "  signature: \"8,4,8,0111\"\n" +
                     indent + "  offsets:\n";
  for (size_t start = 0, end; (end = offsets.find('\n', start)) != std::string::npos;
       start = end + 1)
    text += indent + "    " + offsets.substr(start, end - start) + "\n";
  return text;
}

TEST_CASE("nginx_phases: off by default, on for the selected processes", "[config][nginx]") {
  CHECK_FALSE(DefaultConfig().nginx_phases.enabled());
  const Config config = ParseConfig(
      "nginx_phases:\n  processes:\n    include:\n      - comm: openresty\n"
      "  routes: ['/api/{id}']\n  route_budget: 20\n  builds:\n" +
          BuildYaml("    "),
      "t.yaml");
  CHECK(config.nginx_phases.enabled());
  CHECK(config.nginx_phases.routes == std::vector<std::string>{"/api/{id}"});
  CHECK(config.nginx_phases.route_budget == 20);
  REQUIRE(config.nginx_phases.builds.size() == 1);
  CHECK(config.nginx_phases.builds[0].version == "1.25.0");
  CHECK(config.nginx_phases.builds[0].offsets.request_err_status == 1256);
  CHECK(config.nginx_phases.builds[0].origin == "t.yaml:8:7");
}

TEST_CASE("nginx_phases: bad input is named with its place", "[config][nginx]") {
  CHECK(ErrorOf("nginx_phases:\n  route_budget: 0\n") ==
        "t.yaml:2:17: 'nginx_phases.route_budget' must be between 1 and 10000, got 0");
  CHECK(ErrorOf("nginx_phases:\n  routes: ['no-slash']\n") ==
        "t.yaml:2:12: 'nginx_phases.routes[0]': a route pattern starts with '/', got 'no-slash'");
  std::string missing = BuildYaml("  ");
  missing.erase(missing.find("    time_msec: 8\n"));
  CHECK(ErrorOf("nginx_phases:\n  builds:\n" + missing) ==
        "t.yaml:6:7: 'builds[0].offsets' lacks 'time_msec' (scripts/nginx/gen-offsets.sh writes "
        "every field)");
  std::string huge = BuildYaml("  ");
  huge.replace(huge.find("request_status: 648"), 19, "request_status: 99999");
  CHECK(ErrorOf("nginx_phases:\n  builds:\n" + huge).starts_with("t.yaml:8:23: "));
}

TEST_CASE("nginx_phases: a build's probe site, and its bad input named with its place",
          "[config][nginx]") {
  const std::string site =
      "      probe_site:\n        offset: 183\n        bytes: \"0f 84 d7 00 00 00\"\n"
      "        request_register: rbp\n";
  const Config config =
      ParseConfig("nginx_phases:\n  builds:\n" + BuildYaml("    ") + site, "t.yaml");
  REQUIRE(config.nginx_phases.builds.size() == 1);
  const auto& parsed = config.nginx_phases.builds[0].site;
  REQUIRE(parsed);
  CHECK(parsed->offset == 183);
  CHECK(parsed->bytes == std::string("\x0f\x84\xd7\x00\x00\x00", 6));
  CHECK(parsed->request == NL_NGINX_AT_SITE_RBP);
  CHECK_FALSE(ParseConfig("nginx_phases:\n  builds:\n" + BuildYaml("    "), "t.yaml")
                  .nginx_phases.builds[0]
                  .site);
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string text = site;
    text.replace(text.find(from), from.size(), to);
    return ErrorOf("nginx_phases:\n  builds:\n" + BuildYaml("    ") + text);
  };
  CHECK(with("rbp", "rax") ==
        "t.yaml:34:27: 'builds[0].probe_site.request_register' must be one of rbx, rbp, r12, r13, "
        "r14, r15; got 'rax'");
  CHECK(with("0f 84", "0f 8g") ==
        "t.yaml:33:16: 'builds[0].probe_site.bytes' must be bytes in hex separated by spaces, as "
        "\"0f 84\"; got '8g'");
  CHECK(with("        offset: 183\n", "") ==
        "t.yaml:32:9: 'builds[0].probe_site' needs offset, bytes and request_register");
}

TEST_CASE("nginx builds: the table compiled in, and a binary told by version and signature",
          "[nginx]") {
  const std::vector<nginx::NginxBuild>& known = nginx::KnownBuilds();
  REQUIRE(known.size() >= 1);
  CHECK(known[0].version == "1.22.1");
  CHECK(known[0].signature == "8,4,8,0011111111010111001111111111111111");
  CHECK(known[0].offsets.request_start_sec == 960);
  // Its probe site: the `je` of `if (!r->logged)`, r in rbp (objdump of /usr/sbin/nginx).
  REQUIRE(known[0].site);
  CHECK(known[0].site->offset == 0xb7);
  CHECK(known[0].site->bytes.substr(0, 2) == "\x0f\x84");
  CHECK(known[0].site->request == NL_NGINX_AT_SITE_RBP);
  using namespace std::string_literals;
  const std::string debian =
      "\x7f"
      "ELF...nginx/1.22.1\0...8,4,8,0011111111010111001111111111111111\0"s;
  CHECK(nginx::IdentifyBinary(debian, known).build == std::optional<size_t>(0));
  // Another signature (other configure options): the version is named, the build unknown.
  const std::string other = "nginx/1.22.1\0...8,4,8,0011111111010111001111111111111110\0"s;
  const nginx::BinaryIdentity identity = nginx::IdentifyBinary(other, known);
  CHECK_FALSE(identity.build);
  CHECK(identity.version == "1.22.1");
  CHECK(nginx::IdentifyBinary("no version here"s, known).version.empty());
}

TEST_CASE("ELF symbols: functions with their file offsets, objects in .bss without one",
          "[nginx][elf]") {
  // test/fuzz/corpus/elf_symbols/tiny-nginx.so (made as test/fuzz/elf_symbols_fuzzer.cpp says):
  // ngx_http_free_request at 0x2a1 in the first PT_LOAD (file offset = address), the pointer
  // ngx_cached_time at 0x13f8 in .bss, no SSL_read.
  const std::string image =
      ReadElfFile(std::string(NETLENS_FUZZ_CORPUS_DIR) + "/elf_symbols/tiny-nginx.so");
  const auto found =
      FindElfSymbols(image, {"ngx_http_free_request", "ngx_cached_time", "SSL_read"}, "tiny");
  REQUIRE(found.size() == 3);
  REQUIRE(found[0]);
  CHECK(found[0]->address == 0x2a1);
  CHECK(found[0]->file_offset == std::optional<uint64_t>(0x2a1));
  REQUIRE(found[1]);
  CHECK(found[1]->address == 0x13f8);
  CHECK_FALSE(found[1]->file_offset);
  CHECK_FALSE(found[2]);
  // Its strings make it Debian 12's build, as far as the table goes.
  CHECK(nginx::IdentifyBinary(image, nginx::KnownBuilds()).build == std::optional<size_t>(0));
  CHECK_THROWS_WITH(FindElfSymbols(image.substr(0, 100), {"x"}, "tiny"), "truncated ELF file");
  CHECK_THROWS_WITH(FindElfSymbols(std::string(64, 'x'), {"x"}, "junk"),
                    "junk is not a 64-bit ELF file");
}

nl_nginx_request Request(const char* method, const char* path, uint64_t status, uint64_t ms) {
  nl_nginx_request r{};
  r.local_family = 2;
  r.local_port = 8080;
  r.local_addr[0] = 127;
  r.local_addr[3] = 1;
  r.method_len = std::strlen(method);
  std::memcpy(r.method, method, r.method_len);
  r.path_len = std::strlen(path);
  std::memcpy(r.path, path, r.path_len);
  r.status = status;
  r.request_ms = ms;
  r.request_length = 100;
  r.bytes_sent = 200;
  return r;
}

TEST_CASE("nginx aggregator: per server, method, route and status; upstream tries; bounded",
          "[nginx]") {
  nginx::NginxAggregator aggregator({"/users/{id}"}, 5, 4);
  aggregator.Add(Request("GET", "/users/7?token=secret", 200, 12));
  aggregator.Add(Request("GET", "/users/8", 200, 3));
  nl_nginx_request proxied = Request("BREW", "/pot", 502, 1);
  proxied.tries = 6;  // more than the probe copies
  proxied.tries_copied[0].status = 502;
  proxied.tries_copied[0].connect_ms = NL_NGINX_NO_TIME;
  proxied.tries_copied[0].header_ms = NL_NGINX_NO_TIME;
  proxied.tries_copied[0].response_ms = 1;
  std::memcpy(proxied.tries_copied[0].peer, "10.0.0.1:80", 11);
  proxied.tries_copied[0].peer_len = 11;
  aggregator.Add(proxied);

  const auto& requests = aggregator.requests();
  REQUIRE(requests.size() == 2);
  const nginx::RequestKey users{
      .server = "127.0.0.1:8080", .method = "GET", .route = "/users/{id}", .status = 200};
  REQUIRE(requests.count(users) == 1);
  CHECK(requests.at(users).duration.sum_ns == 15'000'000);
  CHECK(requests.at(users).request_bytes == 200);
  const nginx::RequestKey pot{
      .server = "127.0.0.1:8080", .method = "_OTHER", .route = "/pot", .status = 502};
  CHECK(requests.count(pot) == 1);
  const nginx::UpstreamKey peer{
      .server = "127.0.0.1:8080", .upstream = "10.0.0.1:80", .status = "502"};
  REQUIRE(aggregator.upstreams().count(peer) == 1);
  const nginx::UpstreamSeries& tries = aggregator.upstreams().at(peer);
  CHECK(tries.tries == 1);
  // The other 3 tries copied had no peer and no status: nginx logs "-" for them.
  const nginx::UpstreamKey none{.server = "127.0.0.1:8080", .upstream = "none", .status = "none"};
  REQUIRE(aggregator.upstreams().count(none) == 1);
  CHECK(aggregator.upstreams().at(none).tries == 3);
  CHECK(tries.response.sum_ns == 1'000'000 + 0);
  CHECK(aggregator.tries_not_copied() == 2);

  // The budget: 4 series, "other" among them.
  aggregator.Add(Request("GET", "/a", 200, 1));
  aggregator.Add(Request("GET", "/b", 200, 1));
  aggregator.Add(Request("GET", "/c", 200, 1));
  CHECK(requests.size() == 4);
  nginx::RequestKey other{};
  other.folded = true;
  REQUIRE(requests.count(other) == 1);
  CHECK(requests.at(other).duration.sum_ns == 2'000'000);
  CHECK(aggregator.folded_request_keys() == 2);
}

}  // namespace
}  // namespace netlens
