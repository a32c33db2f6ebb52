#include "process/process_cgroups.h"

#include <bpf/bpf.h>

#include "ebpf/process/process.h"

namespace netlens {
namespace {

constexpr auto kMinListingInterval = std::chrono::seconds(1);

}  // namespace

ProcessCgroups::ProcessCgroups(MapInfo map, CgroupDirectory& cgroups)
    : map_(std::move(map)), cgroups_(cgroups) {}

std::string ProcessCgroups::PathOf(uint32_t pid, uint64_t start_time) {
  nl_proc_key key{};
  key.pid = pid;
  key.start_time = start_time;
  uint64_t id = 0;
  if (map_.fd < 0 || bpf_map_lookup_elem(map_.fd, &key, &id) != 0) return "";
  const CgroupDirectory::Lookup lookup = cgroups_.Find(id, kMinListingInterval);
  listings_ += lookup.listed ? 1 : 0;
  listings_full_ += lookup.full ? 1 : 0;
  return lookup.path.value_or("");
}

}  // namespace netlens
