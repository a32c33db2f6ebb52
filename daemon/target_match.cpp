#include "target_match.h"

#include <fnmatch.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

namespace netlens {
namespace {

constexpr size_t kContainerIdLength = 64;

std::optional<std::string> ReadLine(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  if (!file || !std::getline(file, line)) return std::nullopt;
  return line;
}

bool Glob(const std::string& pattern, const std::string& text) {
  return fnmatch(pattern.c_str(), text.c_str(), FNM_PATHNAME) == 0;
}

// Container ids are 64 hex digits inside a cgroup directory name: docker-ID.scope,
// cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope, or ID itself (cgroupfs driver).
bool HasContainerId(std::string_view component, const std::string& id_prefix) {
  size_t run = 0;
  for (size_t i = 0; i <= component.size(); ++i) {
    const bool hex = i < component.size() && ((component[i] >= '0' && component[i] <= '9') ||
                                              (component[i] >= 'a' && component[i] <= 'f'));
    if (hex) {
      ++run;
      continue;
    }
    if (run == kContainerIdLength &&
        component.substr(i - run, id_prefix.size()) == std::string_view(id_prefix))
      return true;
    run = 0;
  }
  return false;
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
    case SelectorKind::kContainer:
      for (size_t start = 0; start < path.size();) {
        size_t end = path.find('/', start);
        if (end == std::string::npos) end = path.size();
        const std::string component = path.substr(start, end - start);
        if (selector.kind == SelectorKind::kUnit
                ? fnmatch(selector.text.c_str(), component.c_str(), 0) == 0
                : HasContainerId(component, selector.text))
          return true;
        start = end + 1;
      }
      return false;
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

std::optional<std::string> CgroupV2Root() {
  std::ifstream mounts("/proc/self/mounts");
  std::string device, dir, type, rest;
  while (mounts >> device >> dir >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return dir;
  }
  return std::nullopt;
}

std::optional<std::string> CgroupV2Path(const std::string& proc_pid_cgroup) {
  size_t start = 0;
  while (start < proc_pid_cgroup.size()) {
    size_t end = proc_pid_cgroup.find('\n', start);
    if (end == std::string::npos) end = proc_pid_cgroup.size();
    if (proc_pid_cgroup.compare(start, 3, "0::") == 0)
      return proc_pid_cgroup.substr(start + 3, end - start - 3);
    start = end + 1;
  }
  return std::nullopt;
}

ProcessFacts ReadProcessFacts(uint32_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/";
  ProcessFacts facts;
  facts.pid = pid;
  facts.comm = ReadLine(dir + "comm").value_or("");
  char exe[4096];
  const ssize_t length = readlink((dir + "exe").c_str(), exe, sizeof exe - 1);
  if (length > 0) facts.exe = std::string(exe, length);
  std::ifstream cgroup(dir + "cgroup");
  if (cgroup) facts.cgroup = CgroupV2Path(std::string(std::istreambuf_iterator<char>(cgroup), {}));
  return facts;
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
