// The http_route label: configured patterns, the identifier heuristic and the route budget.
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "http/routes.h"

namespace netlens::http {
namespace {

TEST_CASE("the heuristic collapses identifier segments to {id}", "[http][routes]") {
  CHECK(HeuristicRoute("/api/users/123") == "/api/users/{id}");
  CHECK(HeuristicRoute("/api/users/123/orders/9") == "/api/users/{id}/orders/{id}");
  CHECK(HeuristicRoute("/o/550e8400-e29b-41d4-a716-446655440000") == "/o/{id}");
  CHECK(HeuristicRoute("/commit/4f3a2b1c9d") == "/commit/{id}");
  CHECK(HeuristicRoute("/s/AbCdEfGh1234567890xyz_-") == "/s/{id}");
  // Not identifiers: words (hex letters only, too), short hex, long words without digits.
  CHECK(HeuristicRoute("/beef/deadbeef/facade") == "/beef/deadbeef/facade");
  CHECK(HeuristicRoute("/v1/abc123") == "/v1/abc123");
  CHECK(HeuristicRoute("/internationalization-guide") == "/internationalization-guide");
  CHECK(HeuristicRoute("/") == "/");
  CHECK(HeuristicRoute("/a//b/") == "/a//b/");
  CHECK(HeuristicRoute("") == "");
  CHECK(HeuristicRoute("*") == "*");
}

TEST_CASE("configured patterns come first, in order, and name the route", "[http][routes]") {
  RouteTable table(
      {"/api/users/{id}", "/api/users/{id}/avatar", "/static/{file...}", "/api/{rest...}"});
  CHECK(table.Route("/api/users/42") == "/api/users/{id}");
  CHECK(table.Route("/api/users/bob") == "/api/users/{id}");
  CHECK(table.Route("/api/users/bob/avatar") == "/api/users/{id}/avatar");
  CHECK(table.Route("/static/") == "/static/{file...}");
  CHECK(table.Route("/static/css/site.css") == "/static/{file...}");
  CHECK(table.Route("/api/users/") == "/api/{rest...}");  // {id} needs a non-empty segment
  CHECK(table.Route("/api/x/y") == "/api/{rest...}");
  CHECK(table.Route("/static") == "/static");  // the heuristic
  CHECK(table.Route("/other/7") == "/other/{id}");
  CHECK(table.heuristic_routes() == 2);
  CHECK(table.overflow_count() == 0);
}

TEST_CASE("route patterns are validated", "[http][routes]") {
  CHECK(RoutePatternError("/api/users/{id}").empty());
  CHECK(RoutePatternError("/files/{path...}").empty());
  CHECK(RoutePatternError("/").empty());
  CHECK_FALSE(RoutePatternError("api").empty());
  CHECK_FALSE(RoutePatternError("").empty());
  CHECK_FALSE(RoutePatternError("/a?b=1").empty());
  CHECK_FALSE(RoutePatternError("/a/{id").empty());
  CHECK_FALSE(RoutePatternError("/a/x{id}").empty());
  CHECK_FALSE(RoutePatternError("/a/{}").empty());
  CHECK_FALSE(RoutePatternError("/a/{rest...}/b").empty());
  CHECK_FALSE(RoutePatternError("/a/{na-me}").empty());
}

// Segments of letters only, so the heuristic keeps each path distinct.
std::string Letters(size_t n) {
  std::string out;
  do {
    out += static_cast<char>('a' + n % 26);
    n /= 26;
  } while (n != 0);
  return out;
}

TEST_CASE("10,000 distinct paths: at most budget routes plus overflow, counts exact",
          "[http][routes]") {
  RouteTable table({}, 200);
  std::map<std::string, uint64_t> counts;
  for (size_t i = 0; i < 10'000; ++i) ++counts[std::string(table.Route("/docs/" + Letters(i)))];
  // A path seen before keeps its route, over the budget too.
  CHECK(table.Route("/docs/" + Letters(7)) == "/docs/" + Letters(7));
  uint64_t total = 0;
  for (const auto& [route, n] : counts) total += n;
  CHECK(total == 10'000);
  CHECK(counts.size() == 201);
  CHECK(counts.at(std::string(kOverflowRoute)) == 9'800);
  CHECK(table.overflow_count() == 9'800);
  CHECK(table.heuristic_routes() == 200);
}

}  // namespace
}  // namespace netlens::http
