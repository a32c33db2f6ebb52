#include "http/tls_probes.h"

#include <elf.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>

#include "ebpf/http/capture.h"

namespace netlens::http {
namespace {

// Not in the uapi headers netlens builds against (Linux 6.1's); the kernel's ABI since 6.6.
constexpr uint32_t kBpfLinkCreate = 28;
constexpr uint32_t kAttachUprobeMulti = 48;  // BPF_TRACE_UPROBE_MULTI
constexpr uint32_t kUprobeMultiReturn = 1;   // BPF_F_UPROBE_MULTI_RETURN

// union bpf_attr's link_create, as far as uprobe_multi goes.
struct UprobeMultiAttr {
  uint32_t prog_fd = 0;
  uint32_t target_fd = 0;
  uint32_t attach_type = 0;
  uint32_t flags = 0;
  uint64_t path = 0;
  uint64_t offsets = 0;
  uint64_t ref_ctr_offsets = 0;
  uint64_t cookies = 0;
  uint32_t cnt = 0;
  uint32_t uprobe_flags = 0;
  uint32_t pid = 0;
  uint32_t pad = 0;
};

// Returns the link fd, or -errno.
int CreateUprobeMultiLink(int prog_fd, const std::string& path,
                          const std::vector<uint64_t>& offsets,
                          const std::vector<uint64_t>& cookies, bool ret, uint32_t pid) {
  UprobeMultiAttr attr;
  attr.prog_fd = static_cast<uint32_t>(prog_fd);
  attr.attach_type = kAttachUprobeMulti;
  attr.path = reinterpret_cast<uint64_t>(path.c_str());
  attr.offsets = reinterpret_cast<uint64_t>(offsets.data());
  attr.cookies = cookies.empty() ? 0 : reinterpret_cast<uint64_t>(cookies.data());
  attr.cnt = static_cast<uint32_t>(offsets.size());
  attr.uprobe_flags = ret ? kUprobeMultiReturn : 0;
  attr.pid = pid;
  const long fd = syscall(__NR_bpf, kBpfLinkCreate, &attr, sizeof(attr));
  return fd >= 0 ? static_cast<int>(fd) : -errno;
}

std::string ReadWhole(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(file), {});
}

template <typename T>
T At(const std::string& image, uint64_t offset) {
  if (offset > image.size() || image.size() - offset < sizeof(T))
    throw std::runtime_error("truncated ELF file");
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(T));
  return value;
}

}  // namespace

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
  const std::string image = ReadWhole(path);
  const auto header = At<Elf64_Ehdr>(image, 0);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64)
    throw std::runtime_error(path + " is not a 64-bit ELF file");
  std::vector<uint64_t> offsets(names.size(), 0);
  for (uint16_t i = 0; i < header.e_shnum; ++i) {
    const auto section = At<Elf64_Shdr>(image, header.e_shoff + uint64_t{i} * header.e_shentsize);
    // .dynsym (a library's exports, or an executable's with -rdynamic), and .symtab (an
    // executable not stripped: OpenSSL linked statically).
    if ((section.sh_type != SHT_DYNSYM && section.sh_type != SHT_SYMTAB) || section.sh_entsize == 0)
      continue;
    const auto strings =
        At<Elf64_Shdr>(image, header.e_shoff + uint64_t{section.sh_link} * header.e_shentsize);
    for (uint64_t at = 0; at + section.sh_entsize <= section.sh_size; at += section.sh_entsize) {
      const auto symbol = At<Elf64_Sym>(image, section.sh_offset + at);
      if (ELF64_ST_TYPE(symbol.st_info) != STT_FUNC || symbol.st_shndx == SHN_UNDEF) continue;
      if (symbol.st_name >= strings.sh_size) continue;
      const char* name = image.data() + strings.sh_offset + symbol.st_name;
      const size_t max = strings.sh_size - symbol.st_name;
      const std::string_view symbol_name(name, strnlen(name, max));
      for (size_t n = 0; n < names.size(); ++n) {
        if (offsets[n] != 0 || symbol_name != names[n]) continue;
        // The address's file offset: through the loadable segment holding it.
        for (uint16_t p = 0; p < header.e_phnum; ++p) {
          const auto segment =
              At<Elf64_Phdr>(image, header.e_phoff + uint64_t{p} * header.e_phentsize);
          if (segment.p_type == PT_LOAD && symbol.st_value >= segment.p_vaddr &&
              symbol.st_value < segment.p_vaddr + segment.p_filesz)
            offsets[n] = symbol.st_value - segment.p_vaddr + segment.p_offset;
        }
      }
    }
  }
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
  if (resolved_.size() >= kMaxResolvedFiles) resolved_.clear();
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
