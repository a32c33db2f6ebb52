#include "http/tls_probes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "bpf/uprobe_multi.h"
#include "ebpf/http/capture.h"
#include "process/elf_symbols.h"

namespace netlens::http {

std::vector<std::string> FindSslLibraries(uint32_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream maps(proc + "/maps");
  std::set<std::string> seen;
  std::vector<std::string> result;
  for (std::string line; std::getline(maps, line);) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string path = line.substr(slash);
    const size_t base = path.rfind('/') + 1;
    if (path.compare(base, 9, "libssl.so") != 0) continue;
    if (path.size() > 10 && path.compare(path.size() - 10, 10, " (deleted)") == 0) continue;
    if (seen.insert(path).second) result.push_back(proc + "/root" + path);
  }
  return result;
}

std::vector<uint64_t> SymbolFileOffsets(const std::string& path,
                                        const std::vector<std::string>& names) {
  const std::string image = ReadElfFile(path);
  std::vector<uint64_t> offsets;
  for (const std::optional<ElfSymbol>& symbol : FindElfSymbols(image, names, path))
    offsets.push_back(symbol && symbol->file_offset ? *symbol->file_offset : 0);
  return offsets;
}

TlsProbes::~TlsProbes() {
  for (auto& [pid, fds] : links_) {
    for (int fd : fds) close(fd);
  }
}

const TlsProbes::Functions& TlsProbes::Resolve(const std::string& path, dev_t device, ino_t inode) {
  const auto key = std::make_pair(device, inode);
  if (auto it = resolved_.find(key); it != resolved_.end()) return it->second;
  // Bounded: files seen once are resolved again after a reset (a host running many binaries).
  if (resolved_.size() >= kMaxResolvedFiles) {
    resolved_.clear();
    ++cache_resets_;
  }
  ++symbol_reads_;
  // The order of enum nl_ssl_function, then SSL_free.
  const auto offsets =
      SymbolFileOffsets(path, {"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex", "SSL_free"});
  Functions functions;
  functions.offsets.assign(offsets.begin(), offsets.begin() + 4);
  functions.free = offsets[4];
  return resolved_[key] = functions;
}

bool TlsProbes::HasOwnSsl(const std::string& executable) {
  struct stat st {};
  if (stat(executable.c_str(), &st) != 0) return false;
  try {
    const Functions& functions = Resolve(executable, st.st_dev, st.st_ino);
    return functions.offsets[NL_SSL_READ] != 0 && functions.offsets[NL_SSL_WRITE] != 0;
  } catch (const std::exception&) {
    return false;  // not an ELF file netlens can read: no OpenSSL of its own either
  }
}

TlsProbes::Outcome TlsProbes::Attach(uint32_t pid) {
  if (Attached(pid)) return {Result::kAttached, "already attached"};
  std::vector<std::string> libraries = FindSslLibraries(pid);
  if (libraries.empty()) {
    // OpenSSL linked statically: the executable's own SSL_read/SSL_write.
    const std::string executable = "/proc/" + std::to_string(pid) + "/exe";
    if (HasOwnSsl(executable)) libraries.push_back(executable);
  }
  if (libraries.empty())
    return {Result::kNoLibrary,
            "process " + std::to_string(pid) +
                " maps no libssl.so* and its executable has no SSL_read/SSL_write symbols (not "
                "OpenSSL, a stripped static build, or /proc/" +
                std::to_string(pid) + " not readable)"};
  std::vector<int> fds;
  std::string detail;
  const auto fail = [&](const std::string& why) {
    for (int fd : fds) close(fd);
    return Outcome{Result::kFailed, why};
  };
  for (const std::string& library : libraries) {
    struct stat st {};
    if (stat(library.c_str(), &st) != 0)
      return fail("cannot stat " + library + ": " + std::strerror(errno));
    const Functions* functions;
    try {
      functions = &Resolve(library, st.st_dev, st.st_ino);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    std::vector<uint64_t> offsets, cookies;
    for (uint64_t function = 0; function < functions->offsets.size(); ++function) {
      if (functions->offsets[function] == 0) continue;
      offsets.push_back(functions->offsets[function]);
      cookies.push_back(function);  // enum nl_ssl_function
    }
    if (functions->offsets[NL_SSL_READ] == 0 || functions->offsets[NL_SSL_WRITE] == 0)
      return fail(library + " has no SSL_read/SSL_write");
    for (const bool ret : {false, true}) {
      const int fd = CreateUprobeMultiLink(ret ? programs_.ret : programs_.enter, library, offsets,
                                           cookies, ret, pid);
      if (fd < 0)
        return fail("attaching to " + library + " for process " + std::to_string(pid) +
                    " failed: " + std::strerror(-fd) +
                    (fd == -EINVAL ? " (uprobe_multi needs Linux >= 6.6)" : ""));
      fds.push_back(fd);
    }
    if (functions->free != 0) {
      const int fd =
          CreateUprobeMultiLink(programs_.free, library, {functions->free}, {}, false, pid);
      if (fd < 0) return fail("attaching to SSL_free of " + library + ": " + std::strerror(-fd));
      fds.push_back(fd);
    }
    detail += (detail.empty() ? "" : ", ") + library;
  }
  links_[pid] = std::move(fds);
  return {Result::kAttached, detail};
}

std::vector<uint32_t> TlsProbes::Pids() const {
  std::vector<uint32_t> pids;
  for (const auto& [pid, fds] : links_) pids.push_back(pid);
  return pids;
}

void TlsProbes::Detach(uint32_t pid) {
  const auto it = links_.find(pid);
  if (it == links_.end()) return;
  for (int fd : it->second) close(fd);
  links_.erase(it);
}

}  // namespace netlens::http
