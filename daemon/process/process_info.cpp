#include "process/process_info.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace netlens {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}
bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool IsHexId(std::string_view text) {
  if (text.size() < 12) return false;
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// "pod1234_abcd..." or "pod1234-abcd..." -> "1234-abcd..."; "" if not a pod component.
std::string PodUidOf(std::string_view component) {
  if (!StartsWith(component, "pod") || component.size() < 3 + 32) return "";
  std::string uid(component.substr(3));
  for (char& c : uid) {
    if (c == '_') c = '-';
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-') return "";
  }
  return uid;
}

// Container scopes systemd creates for runtimes: "<prefix><id>.scope".
struct ScopePrefix {
  std::string_view prefix;
  std::string_view runtime;
};
constexpr std::array<ScopePrefix, 4> kContainerScopes = {{
    {"docker-", "docker"},
    {"cri-containerd-", "containerd"},
    {"crio-", "cri-o"},
    {"libpod-", "podman"},
}};

// cgroupfs parents of container ids: "/docker/<id>", "/libpod_parent/libpod-<id>".
std::string_view RuntimeOfParent(std::string_view parent) {
  if (parent == "docker") return "docker";
  if (parent == "crio") return "cri-o";
  return "";
}

// "kubepods-burstable-pod<uid>.slice" (systemd driver) -> qos and uid.
void ParseKubepodsSlice(std::string_view name, CgroupInfo& info) {
  std::string_view rest = name.substr(0, name.size() - std::string_view(".slice").size());
  if (!StartsWith(rest, "kubepods")) return;
  rest.remove_prefix(std::string_view("kubepods").size());
  if (info.qos_class.empty()) info.qos_class = "guaranteed";
  for (std::string_view qos : {"burstable", "besteffort"}) {
    if (StartsWith(rest, std::string("-") + std::string(qos))) {
      info.qos_class = std::string(qos);
      rest.remove_prefix(1 + qos.size());
    }
  }
  if (StartsWith(rest, "-")) {
    std::string uid = PodUidOf(rest.substr(1));
    if (!uid.empty()) info.pod_uid = uid;
  }
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// One line of /proc/PID/cgroup: hierarchy-ID:controller-list:path.
struct CgroupLine {
  std::string_view id, controllers, path;
  bool IsV2() const { return id == "0" && controllers.empty(); }
};

std::optional<CgroupLine> ParseCgroupLine(std::string_view line) {
  // The path itself may contain ':'.
  const size_t first_colon = line.find(':');
  if (first_colon == std::string_view::npos) return std::nullopt;
  const size_t second_colon = line.find(':', first_colon + 1);
  if (second_colon == std::string_view::npos) return std::nullopt;
  CgroupLine parsed{line.substr(0, first_colon),
                    line.substr(first_colon + 1, second_colon - first_colon - 1),
                    line.substr(second_colon + 1)};
  if (parsed.path.empty() || parsed.path[0] != '/') return std::nullopt;
  return parsed;
}

}  // namespace

std::optional<std::string> CgroupV2PathOf(std::string_view text) {
  for (std::string_view text_line : Split(text, '\n')) {
    const std::optional<CgroupLine> line = ParseCgroupLine(text_line);
    if (line && line->IsV2()) return std::string(line->path);
  }
  return std::nullopt;
}

std::optional<std::string> CgroupV2Root(const std::string& mounts_path) {
  std::ifstream mounts(mounts_path);
  std::string device, dir, type, rest;
  while (mounts >> device >> dir >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return dir;
  }
  return std::nullopt;
}

std::string CgroupPathOf(std::string_view text) {
  std::string v2, systemd, first;
  for (std::string_view text_line : Split(text, '\n')) {
    const std::optional<CgroupLine> line = ParseCgroupLine(text_line);
    if (!line) continue;
    if (line->IsV2()) {
      v2 = line->path;
    } else if (line->controllers == "name=systemd") {
      systemd = line->path;
    } else if (first.empty() && line->path != "/") {
      first = line->path;
    }
  }
  // Hybrid hosts have both; a v2 path of "/" there says nothing (no controller is on it).
  if (!v2.empty() && v2 != "/") return v2;
  if (!systemd.empty() && systemd != "/") return systemd;
  if (!first.empty()) return first;
  return !v2.empty() ? v2 : systemd;
}

CgroupInfo ParseCgroupPath(std::string_view path) {
  CgroupInfo info;
  info.path = path;
  std::string_view parent;
  bool in_kubepods = false;
  for (std::string_view component : Split(path, '/')) {
    if (component.empty()) continue;
    if (EndsWith(component, ".slice")) {
      info.systemd_slice = component;
      if (StartsWith(component, "kubepods")) {
        in_kubepods = true;
        ParseKubepodsSlice(component, info);
      }
    } else if (EndsWith(component, ".scope") || EndsWith(component, ".service")) {
      bool container = false;
      if (EndsWith(component, ".scope")) {
        const std::string_view name = component.substr(0, component.size() - 6);
        for (const ScopePrefix& scope : kContainerScopes) {
          if (StartsWith(name, scope.prefix) && IsHexId(name.substr(scope.prefix.size()))) {
            info.container_id = name.substr(scope.prefix.size());
            info.runtime = scope.runtime;
            container = true;
          }
        }
      }
      if (!container) info.systemd_unit = component;
    } else if (component == "kubepods") {
      in_kubepods = true;
      info.qos_class = "guaranteed";
    } else if (in_kubepods && (component == "burstable" || component == "besteffort")) {
      info.qos_class = component;
    } else if (in_kubepods && !PodUidOf(component).empty()) {
      info.pod_uid = PodUidOf(component);
    } else if (IsHexId(component) && component.size() == 64) {
      // cgroupfs driver: the container id (64 hex digits) is a directory of its own. Shorter
      // hex names are other things (sandboxes, ECS task ids).
      info.container_id = component;
      info.runtime = RuntimeOfParent(parent);
    } else if (StartsWith(component, "libpod-") && IsHexId(component.substr(7))) {
      info.container_id = component.substr(7);
      info.runtime = "podman";
    }
    parent = component;
  }
  if (!in_kubepods) info.qos_class.clear();
  return info;
}

CgroupInfo ParseProcCgroup(std::string_view text) { return ParseCgroupPath(CgroupPathOf(text)); }

std::optional<uint64_t> ParseStatStartTime(std::string_view stat) {
  // "pid (comm) state ppid ...": comm may hold anything, so count from the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // After ')' come fields 3 (state) onwards; starttime is field 22.
  int field = 2;
  size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    if (pos >= rest.size()) break;
    size_t end = rest.find_first_of(" \n", pos);
    if (end == std::string_view::npos) end = rest.size();
    if (++field == 22) {
      uint64_t value = 0;
      for (char c : rest.substr(pos, end - pos)) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<uint64_t>(c - '0');
      }
      return end > pos ? std::optional<uint64_t>(value) : std::nullopt;
    }
    pos = end;
  }
  return std::nullopt;
}

std::optional<ProcessInfo> ReadProcessInfo(uint32_t pid, const std::string& proc_root) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  const auto stat = ReadSmallFile(dir + "/stat");
  if (!stat) return std::nullopt;
  ProcessInfo info;
  info.pid = pid;
  info.start_time_ticks = ParseStatStartTime(*stat).value_or(0);
  if (auto comm = ReadSmallFile(dir + "/comm")) {
    if (!comm->empty() && comm->back() == '\n') comm->pop_back();
    info.comm = std::move(*comm);
  }
  std::array<char, 4096> exe{};
  const ssize_t length = readlink((dir + "/exe").c_str(), exe.data(), exe.size() - 1);
  if (length > 0) {
    info.exe.assign(exe.data(), static_cast<size_t>(length));
    // A replaced binary keeps running; its series keep the path it was started from.
    constexpr std::string_view kDeleted = " (deleted)";
    if (EndsWith(info.exe, kDeleted)) info.exe.resize(info.exe.size() - kDeleted.size());
  }
  if (auto cgroup = ReadSmallFile(dir + "/cgroup")) {
    info.cgroup = ParseProcCgroup(*cgroup);
    info.cgroup_v2_path = CgroupV2PathOf(*cgroup);
  }
  return info;
}

std::vector<uint32_t> ListProcessIds(const std::string& proc_root) {
  std::vector<uint32_t> pids;
  DIR* proc = opendir(proc_root.c_str());
  if (!proc) return pids;
  while (const dirent* entry = readdir(proc)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;  // not a process
    pids.push_back(static_cast<uint32_t>(std::strtoul(entry->d_name, nullptr, 10)));
  }
  closedir(proc);
  std::sort(pids.begin(), pids.end());
  return pids;
}

uint64_t ReadNetnsInode(uint32_t pid, const std::string& proc_root) {
  struct stat st {};
  const std::string path = proc_root + "/" + std::to_string(pid) + "/ns/net";
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

}  // namespace netlens
