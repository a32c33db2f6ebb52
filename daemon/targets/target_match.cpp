#include "targets/target_match.h"

#include <fnmatch.h>

namespace netlens {
namespace {

constexpr size_t kContainerIdLength = 64;

bool Glob(const std::string& pattern, const std::string& text) {
  return fnmatch(pattern.c_str(), text.c_str(), FNM_PATHNAME) == 0;
}

bool SelectorMatchesCgroup(const ProcessSelector& selector, const std::string& path) {
  switch (selector.kind) {
    case SelectorKind::kCgroup:
      for (size_t end = path.size(); end != std::string::npos && end > 0;
           end = path.rfind('/', end - 1)) {
        if (Glob(selector.text, path.substr(0, end))) return true;
      }
      return Glob(selector.text, "/");
    case SelectorKind::kUnit:
      for (size_t start = 0; start < path.size();) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        const std::string component = path.substr(start, end - start);
        if (fnmatch(selector.text.c_str(), component.c_str(), 0) == 0) return true;
        start = end + 1;
      }
      return false;
    case SelectorKind::kContainer: {
      // The container id as the labels read it; only full (64 hex) ids, by their prefix.
      const std::string id = ParseCgroupPath(path).container_id;
      return id.size() == kContainerIdLength && id.starts_with(selector.text);
    }
    default:
      return false;
  }
}

bool SelectorMatches(const ProcessSelector& selector, const ProcessFacts& facts) {
  switch (selector.kind) {
    case SelectorKind::kPid:
      return facts.pid == selector.pid;
    case SelectorKind::kComm:
      return facts.comm == selector.text;
    case SelectorKind::kCommRegex:
      return std::regex_search(facts.comm, *selector.regex);
    case SelectorKind::kExe:
      return facts.exe && Glob(selector.text, *facts.exe);
    default:
      return facts.cgroup && SelectorMatchesCgroup(selector, *facts.cgroup);
  }
}

bool IsCgroupKind(SelectorKind kind) {
  return kind == SelectorKind::kCgroup || kind == SelectorKind::kUnit ||
         kind == SelectorKind::kContainer;
}

}  // namespace

ProcessFacts FactsOf(const ProcessInfo& info) {
  ProcessFacts facts;
  facts.pid = info.pid;
  facts.comm = info.comm;
  if (!info.exe.empty()) facts.exe = info.exe;
  facts.cgroup = info.cgroup_v2_path;
  return facts;
}

ProcessFacts ReadProcessFacts(uint32_t pid) {
  if (const std::optional<ProcessInfo> info = ReadProcessInfo(pid)) return FactsOf(*info);
  ProcessFacts gone;
  gone.pid = pid;
  return gone;
}

uint8_t MatchProcess(const TargetsConfig& targets, const ProcessFacts& facts) {
  uint8_t match = 0;
  for (const auto& selector : targets.include) {
    if (SelectorMatches(selector, facts)) match |= NL_MATCH_INCLUDE;
  }
  for (const auto& selector : targets.exclude) {
    if (SelectorMatches(selector, facts)) match |= NL_MATCH_EXCLUDE;
  }
  return match;
}

uint8_t MatchCgroupPath(const TargetsConfig& targets, const std::string& path) {
  uint8_t match = 0;
  for (const auto& selector : targets.include) {
    if (IsCgroupKind(selector.kind) && SelectorMatchesCgroup(selector, path))
      match |= NL_MATCH_INCLUDE;
  }
  for (const auto& selector : targets.exclude) {
    if (IsCgroupKind(selector.kind) && SelectorMatchesCgroup(selector, path))
      match |= NL_MATCH_EXCLUDE;
  }
  return match;
}

bool IsWatched(const TargetsConfig& targets, uint8_t match) {
  if (match & NL_MATCH_EXCLUDE) return false;
  return (match & NL_MATCH_INCLUDE) || targets.include.empty();
}

}  // namespace netlens
