// The OpenSSL uprobes of the HTTP capture's TLS part (issue 16): per watched process, the
// libssl it maps gets the capture's programs on SSL_read/SSL_write(_ex) (entry and return) and
// SSL_free, in links filtered to that process (uprobe_multi with a pid, Linux >= 6.6), so that
// a process not watched never hits a breakpoint (a uprobe hit costs microseconds).
//
// What it guarantees:
// - Attach(pid) finds the libssl.so* files in /proc/PID/maps, opened through /proc/PID/root
//   (a container's own library), and resolves the functions' file offsets once per distinct
//   file (device, inode; at most kMaxResolvedFiles remembered). A process mapping none is
//   probed in its executable (/proc/PID/exe) if that has SSL_read and SSL_write symbols
//   (.dynsym or .symtab: OpenSSL linked statically, not stripped); else it is kNoLibrary (no
//   OpenSSL, or a stripped static build). A library without the _ex functions (before 1.1.1)
//   gets SSL_read/SSL_write only.
// - Detach(pid) closes that process's links; the destructor closes all.
// - Needs no capability beyond what reading /proc/PID/maps and /proc/PID/root of the process
//   takes (CAP_SYS_PTRACE for another user's or a more privileged process): creating a
//   uprobe_multi link with a program fd already held is not privileged.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace netlens::http {

// The mapped files of a process whose name is libssl.so*: paths through /proc/PID/root.
std::vector<std::string> FindSslLibraries(uint32_t pid);

// File offsets of the named dynamic symbols of an ELF file (0 for one not found); throws
// std::runtime_error if the file is not a readable 64-bit ELF.
std::vector<uint64_t> SymbolFileOffsets(const std::string& path,
                                        const std::vector<std::string>& names);

class TlsProbes {
 public:
  struct Programs {
    int enter = -1, ret = -1, free = -1;  // program fds (loaded as uprobe_multi)
  };
  enum class Result { kAttached, kNoLibrary, kFailed };
  struct Outcome {
    Result result = Result::kFailed;
    std::string detail;  // the libraries attached, or why not
  };

  explicit TlsProbes(Programs programs) : programs_(programs) {}
  ~TlsProbes();
  TlsProbes(const TlsProbes&) = delete;
  TlsProbes& operator=(const TlsProbes&) = delete;

  Outcome Attach(uint32_t pid);
  void Detach(uint32_t pid);
  bool Attached(uint32_t pid) const { return links_.count(pid) != 0; }
  size_t Processes() const { return links_.size(); }
  // The per-file symbol cache: files held now, ELF files read (cache misses), and resets at
  // kMaxResolvedFiles (netlens_http_tls_symbol_cache_*).
  struct CacheStats {
    uint64_t files = 0, reads = 0, resets = 0;
  };
  CacheStats Cache() const { return {resolved_.size(), symbol_reads_, cache_resets_}; }
  std::vector<uint32_t> Pids() const;

 private:
  struct Functions {
    std::vector<uint64_t> offsets;  // SSL_read, SSL_write, SSL_read_ex, SSL_write_ex (0: absent)
    uint64_t free = 0;
  };
  const Functions& Resolve(const std::string& path, dev_t device, ino_t inode);
  // Whether the executable has SSL_read and SSL_write of its own (resolved, so cached).
  bool HasOwnSsl(const std::string& executable);
  static constexpr size_t kMaxResolvedFiles = 1024;

  Programs programs_;
  std::map<uint32_t, std::vector<int>> links_;             // pid -> link fds
  std::map<std::pair<dev_t, ino_t>, Functions> resolved_;  // per library file
  uint64_t symbol_reads_ = 0, cache_resets_ = 0;
};

}  // namespace netlens::http
