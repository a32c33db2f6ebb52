#include "http/routes.h"

#include <algorithm>

namespace netlens::http {
namespace {

constexpr std::string_view kParam = "{}";
constexpr std::string_view kRest = "{...}";

// The segments after the leading '/': "/a/b/" -> {"a", "b", ""}.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  const auto all = [s](auto pred) { return std::all_of(s.begin(), s.end(), pred); };
  const auto any = [s](auto pred) { return std::any_of(s.begin(), s.end(), pred); };
  if (all(IsDigit)) return true;
  if (IsUuid(s)) return true;
  if (s.size() >= 8 && all(IsHex) && any(IsDigit)) return true;
  return s.size() >= 20 && any(IsDigit) && any(IsAlpha) &&
         all([](char c) { return IsDigit(c) || IsAlpha(c) || c == '-' || c == '_'; });
}

// "{name}" -> kParam, "{name...}" -> kRest, else "" (a literal).
std::string_view ParamKind(std::string_view segment) {
  if (segment.size() < 3 || segment.front() != '{' || segment.back() != '}') return {};
  const std::string_view name = segment.substr(1, segment.size() - 2);
  const bool rest = name.size() > 3 && name.substr(name.size() - 3) == "...";
  const std::string_view bare = rest ? name.substr(0, name.size() - 3) : name;
  const bool valid = !bare.empty() && std::all_of(bare.begin(), bare.end(), [](char c) {
    return IsAlpha(c) || IsDigit(c) || c == '_';
  });
  if (!valid) return {};
  return rest ? kRest : kParam;
}

}  // namespace

std::string RoutePatternError(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') return "a route pattern starts with '/'";
  if (pattern.find_first_of("?# \t") != std::string_view::npos) {
    return "a route pattern is a path: no query, fragment or white space";
  }
  const std::vector<std::string_view> segments = Segments(pattern);
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string_view segment = segments[i];
    const std::string_view kind = ParamKind(segment);
    if (kind.empty() && segment.find_first_of("{}") != std::string_view::npos) {
      return "'" + std::string(segment) +
             "': a parameter is a whole segment, {name} or {name...} (letters, digits, _)";
    }
    if (kind == kRest && i + 1 != segments.size()) {
      return "'" + std::string(segment) + "': {name...} must be the last segment";
    }
  }
  return {};
}

std::string HeuristicRoute(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::string(path);  // "", "*"
  std::string route;
  route.reserve(path.size());
  for (const std::string_view segment : Segments(path)) {
    route += '/';
    if (IsIdentifier(segment)) {
      route += "{id}";
    } else {
      route += segment;
    }
  }
  return route;
}

RouteTable::RouteTable(std::vector<std::string> patterns, uint32_t budget) : budget_(budget) {
  for (std::string& text : patterns) {
    Pattern pattern;
    for (const std::string_view segment : Segments(text)) {
      const std::string_view kind = ParamKind(segment);
      pattern.segments.emplace_back(kind.empty() ? segment : kind);
    }
    pattern.text = std::move(text);
    patterns_.push_back(std::move(pattern));
  }
}

std::string_view RouteTable::Route(std::string_view path) {
  if (!patterns_.empty() && !path.empty() && path.front() == '/') {
    const std::vector<std::string_view> segments = Segments(path);
    for (const Pattern& pattern : patterns_) {
      size_t i = 0;
      bool match = true;
      for (; i < pattern.segments.size(); ++i) {
        const std::string& want = pattern.segments[i];
        if (want == kRest) {
          // The rest after the slash before it, possibly empty ("/static/"), not "/static".
          match = i < segments.size();
          i = segments.size();
          break;
        }
        if (i >= segments.size() || (want == kParam ? segments[i].empty() : want != segments[i])) {
          match = false;
          break;
        }
      }
      if (match && i == segments.size()) return pattern.text;
    }
  }
  std::string route = HeuristicRoute(path);
  if (const auto it = routes_.find(route); it != routes_.end()) return *it;
  if (routes_.size() >= budget_) {
    ++overflow_;
    return kOverflowRoute;
  }
  return *routes_.insert(std::move(route)).first;
}

}  // namespace netlens::http
