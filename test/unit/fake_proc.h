// A proc root laid out in a temp dir: the files of /proc/PID that ReadProcessInfo reads (stat,
// comm, cgroup, exe), for tests of what is read from /proc.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace netlens::testing {

class FakeProc {
 public:
  FakeProc() {
    char pattern[] = "/tmp/netlens-proc.XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    root_ = pattern;
  }
  ~FakeProc() { std::filesystem::remove_all(root_); }
  FakeProc(const FakeProc&) = delete;
  FakeProc& operator=(const FakeProc&) = delete;

  // Adds, or replaces, process pid.
  void AddProcess(uint32_t pid, const std::string& comm, uint64_t start_ticks = 1,
                  const std::string& cgroup = "/", const std::string& exe = "/usr/bin/true") {
    const auto dir = root_ / std::to_string(pid);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "stat") << pid << " (" << comm
                                << ") S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start_ticks
                                << " 0 0\n";
    std::ofstream(dir / "comm") << comm << "\n";
    std::ofstream(dir / "cgroup") << "0::" << cgroup << "\n";
    std::filesystem::create_symlink(exe, dir / "exe");
  }
  void RemoveProcess(uint32_t pid) { std::filesystem::remove_all(root_ / std::to_string(pid)); }
  std::string path() const { return root_.string(); }
  std::string Sub(const std::string& name) const {
    std::filesystem::create_directories(root_ / name);
    return (root_ / name).string();
  }

 private:
  std::filesystem::path root_;
};

}  // namespace netlens::testing
