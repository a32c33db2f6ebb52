#include "bpf/uprobe_multi.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace netlens {
namespace {

constexpr uint32_t kBpfLinkCreate = 28;
constexpr uint32_t kUprobeMultiReturn = 1;  // BPF_F_UPROBE_MULTI_RETURN

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

}  // namespace

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

}  // namespace netlens
