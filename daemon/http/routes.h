// The `http_route` label: a request path reduced to a bounded set of routes per service.
//
// 1. Configured patterns, first match in order. A pattern is a path of segments; a segment
//    `{name}` matches any one non-empty segment, a last segment `{name...}` matches the rest of
//    the path, possibly empty (`/static/{file...}` matches `/static/` and `/static/a/b.css`, not
//    `/static`). Other segments match literally. The route is the pattern as written.
// 2. Else the heuristic: each segment that looks like an identifier becomes `{id}`: decimal
//    numbers, UUIDs, hex strings of 8+ characters with a digit (words like `deadbeef` or
//    `facade` stay), and tokens of 20+ characters of [A-Za-z0-9_-] mixing letters and digits
//    (base64url ids, session tokens).
// 3. The budget: a service keeps at most `budget` distinct heuristic routes (configured
//    patterns do not count against it, they are bounded by the config); a path whose route is
//    not among them once the budget is full gets kOverflowRoute and is counted in
//    overflow_count(). Every request gets exactly one route, so sums over routes stay exact.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace netlens::http {

inline constexpr std::string_view kOverflowRoute = "/{overflow}";
inline constexpr uint32_t kDefaultRouteBudget = 200;

// Empty if `pattern` is a valid route pattern, else why not (for the config's error).
std::string RoutePatternError(std::string_view pattern);

// A path with its identifier segments collapsed (step 2).
std::string HeuristicRoute(std::string_view path);

class RouteTable {
 public:
  // patterns must be valid (RoutePatternError empty).
  explicit RouteTable(std::vector<std::string> patterns, uint32_t budget = kDefaultRouteBudget);

  std::string_view Route(std::string_view path);
  uint64_t overflow_count() const { return overflow_; }
  size_t heuristic_routes() const { return routes_.size(); }

 private:
  struct Pattern {
    std::string text;
    std::vector<std::string> segments;  // "{}" a one-segment parameter, "{...}" the rest
  };
  std::vector<Pattern> patterns_;
  uint32_t budget_;
  std::unordered_set<std::string> routes_;
  uint64_t overflow_ = 0;
};

}  // namespace netlens::http
