// Fuzz target: /proc/PID/cgroup text and cgroup paths (daemon/process/process_info.cpp:
// CgroupPathOf, CgroupV2PathOf, ParseCgroupPath). process_cgroups.cpp has no text parser of its own
// (it lists the cgroup hierarchy and looks ids up in a BPF map) and names paths with these
// functions. Contract: paths picked out of the text are absolute and consistent between the
// functions; a container runtime is only ever named with a container id.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "process/process_info.h"

namespace {

void CheckInfo(const netlens::CgroupInfo& info) {
  NETLENS_FUZZ_CHECK(info.runtime.empty() || !info.container_id.empty());
  NETLENS_FUZZ_CHECK(info.qos_class.empty() || info.qos_class == "guaranteed" ||
                     info.qos_class == "burstable" || info.qos_class == "besteffort");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string path = netlens::CgroupPathOf(text);
  NETLENS_FUZZ_CHECK(path.empty() || path.front() == '/');
  const netlens::CgroupInfo info = netlens::ParseProcCgroup(text);
  NETLENS_FUZZ_CHECK(info.path == path);
  CheckInfo(info);
  const std::optional<std::string> v2 = netlens::CgroupV2PathOf(text);
  NETLENS_FUZZ_CHECK(!v2 || (!v2->empty() && v2->front() == '/'));
  // The path parser alone, on any text (the kernel's proc_cgroups ids name paths too).
  CheckInfo(netlens::ParseCgroupPath(text));
  return 0;
}
