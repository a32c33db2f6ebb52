#include "bpf_objects.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

namespace netlens::test {
namespace {

// The value of "key:\t<number>" in an fdinfo file, or 0.
uint32_t FdinfoValue(const std::filesystem::path& fdinfo, std::string_view key) {
  std::ifstream in(fdinfo);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(std::string(key) + ":", 0) == 0)
      return static_cast<uint32_t>(std::strtoul(line.c_str() + key.size() + 1, nullptr, 10));
  }
  return 0;
}

bool Exists(int (*get_fd_by_id)(uint32_t), uint32_t id) {
  const int fd = get_fd_by_id(id);
  if (fd < 0) return false;
  close(fd);
  return true;
}

}  // namespace

BpfObjects BpfObjectsOf(pid_t pid) {
  BpfObjects objects;
  const std::filesystem::path proc = "/proc/" + std::to_string(pid);
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(proc / "fd", error)) {
    const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
    if (error) continue;
    const std::filesystem::path fdinfo = proc / "fdinfo" / entry.path().filename();
    // Anonymous inodes named by the kernel: anon_inode:bpf-prog, bpf-map, bpf_link.
    if (target == "anon_inode:bpf-prog") {
      objects.programs.insert(FdinfoValue(fdinfo, "prog_id"));
    } else if (target == "anon_inode:bpf-map") {
      objects.maps.insert(FdinfoValue(fdinfo, "map_id"));
    } else if (target == "anon_inode:bpf_link") {
      objects.links.insert(FdinfoValue(fdinfo, "link_id"));
      if (const uint32_t program = FdinfoValue(fdinfo, "prog_id")) objects.programs.insert(program);
    }
  }
  objects.programs.erase(0);
  objects.maps.erase(0);
  objects.links.erase(0);
  return objects;
}

BpfObjects BpfObjectsOfAllBut(pid_t excluded) {
  BpfObjects all;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == excluded) continue;
    const BpfObjects objects = BpfObjectsOf(pid);
    all.programs.insert(objects.programs.begin(), objects.programs.end());
    all.maps.insert(objects.maps.begin(), objects.maps.end());
    all.links.insert(objects.links.begin(), objects.links.end());
  }
  return all;
}

std::map<uint32_t, std::string> LoadedPrograms() {
  std::map<uint32_t, std::string> programs;
  uint32_t id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) {
    const int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;  // unloaded meanwhile
    bpf_prog_info info{};
    uint32_t length = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &length) == 0) programs[id] = info.name;
    close(fd);
  }
  return programs;
}

bool ProgramExists(uint32_t id) { return Exists(bpf_prog_get_fd_by_id, id); }
bool MapExists(uint32_t id) { return Exists(bpf_map_get_fd_by_id, id); }
bool LinkExists(uint32_t id) { return Exists(bpf_link_get_fd_by_id, id); }

}  // namespace netlens::test
