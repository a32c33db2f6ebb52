// A temporary directory for one test's files; removed at the end unless kept for debugging.
#pragma once

#include <string>
#include <string_view>

namespace netlens::test {

class TempDir {
 public:
  TempDir();  // ${TMPDIR:-/tmp}/netlens-it.XXXXXX
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  std::string PathOf(std::string_view name) const { return path_ + "/" + std::string(name); }
  // Writes name in the directory and returns its path.
  std::string Write(std::string_view name, std::string_view content) const;
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

// The whole content of a file; empty if it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace netlens::test
