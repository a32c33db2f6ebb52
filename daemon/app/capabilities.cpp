#include "app/capabilities.h"

#include <dirent.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace netlens {
namespace {

// Not in every linux/capability.h that netlens builds against.
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

constexpr uint64_t Bit(int capability) { return uint64_t{1} << capability; }

struct CapSets {
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
};

void ToKernel(const CapSets& sets, __user_cap_data_struct (&data)[2]) {
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(sets.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(sets.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(sets.inheritable >> (32 * i));
  }
}

CapSets GetCapSets() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) {
    throw CapabilityError(std::string("capget: ") + std::strerror(errno));
  }
  CapSets sets;
  for (int i = 1; i >= 0; --i) {
    sets.effective = (sets.effective << 32) | data[i].effective;
    sets.permitted = (sets.permitted << 32) | data[i].permitted;
    sets.inheritable = (sets.inheritable << 32) | data[i].inheritable;
  }
  return sets;
}

void SetCapSets(const CapSets& sets) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  ToKernel(sets, data);
  if (syscall(SYS_capset, &header, data) != 0) {
    throw CapabilityError(std::string("capset: ") + std::strerror(errno));
  }
}

int LastCapability() {
  std::ifstream file("/proc/sys/kernel/cap_last_cap");
  int last = -1;
  if (file >> last && last >= 0 && last < 64) return last;
  // Older kernels: the highest capability the bounding set knows.
  for (last = 0; last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0;) ++last;
  return last;
}

// ---- one change, applied by every thread to itself -----------------------------------------

struct Target {
  __user_cap_data_struct data[2] = {};
  bool clear_bounding = false;
  int last_capability = 0;
};
Target g_target;
std::atomic<int> g_acknowledged{0};
std::atomic<int> g_first_error{0};

// Async-signal-safe: system calls only. Returns 0 or an errno value.
int ApplyToThisThread() noexcept {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  // The bounding set needs CAP_SETPCAP, which the capset below takes away.
  if (g_target.clear_bounding) {
    for (int cap = 0; cap <= g_target.last_capability; ++cap) {
      if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
        return errno;
      }
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return errno;
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capset, &header, g_target.data) != 0) return errno;
  return 0;
}

void OnDropSignal(int) {
  const int saved_errno = errno;
  if (const int error = ApplyToThisThread(); error != 0) {
    int none = 0;
    g_first_error.compare_exchange_strong(none, error);
  }
  g_acknowledged.fetch_add(1);
  errno = saved_errno;
}

std::vector<pid_t> ThreadIds() {
  std::vector<pid_t> ids;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr)
    throw CapabilityError(std::string("/proc/self/task: ") + std::strerror(errno));
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] >= '0' && entry->d_name[0] <= '9') ids.push_back(std::atoi(entry->d_name));
  }
  closedir(dir);
  return ids;
}

std::string ThreadName(pid_t tid) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/comm");
  std::string name;
  std::getline(file, name);
  return std::to_string(tid) + " (" + (name.empty() ? "?" : name) + ")";
}

// Signals every thread not in `done` and waits for each to change itself.
void ChangeOtherThreads(int signal, std::set<pid_t>& done) {
  using namespace std::chrono_literals;
  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  // Threads that a not-yet-changed thread creates meanwhile start with its old credentials:
  // list again until a listing shows no thread that has not been handled.
  for (int pass = 0; pass < 100; ++pass) {
    std::vector<pid_t> signalled;
    g_acknowledged = 0;
    for (pid_t tid : ThreadIds()) {
      if (tid == self || done.count(tid) != 0) continue;
      if (syscall(SYS_tgkill, getpid(), tid, signal) != 0) {
        if (errno == ESRCH) continue;  // it has just exited
        throw CapabilityError("cannot signal thread " + ThreadName(tid) + ": " +
                              std::strerror(errno));
      }
      signalled.push_back(tid);
      done.insert(tid);
    }
    if (signalled.empty()) return;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (g_acknowledged.load() < static_cast<int>(signalled.size())) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::string names;
        for (pid_t tid : signalled) names += " " + ThreadName(tid);
        throw CapabilityError("threads did not drop their capabilities within 5 s (signal " +
                              std::to_string(signal) + " blocked?):" + names);
      }
      std::this_thread::sleep_for(1ms);
    }
    if (const int error = g_first_error.load(); error != 0) {
      throw CapabilityError(std::string("a thread could not drop its capabilities: ") +
                            std::strerror(error));
    }
  }
  throw CapabilityError("threads kept appearing while capabilities were being dropped");
}

// The fields of /proc/self/task/TID/status that describe privileges.
struct ThreadPrivileges {
  uint64_t inheritable = 0, permitted = 0, effective = 0, bounding = 0, ambient = 0;
  int no_new_privs = -1;
};

ThreadPrivileges ReadThreadPrivileges(pid_t tid) {
  std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/status");
  ThreadPrivileges p;
  std::string line;
  while (std::getline(file, line)) {
    const auto hex = [&](const char* prefix, uint64_t& out) {
      if (line.rfind(prefix, 0) == 0)
        out = std::stoull(line.substr(std::strlen(prefix)), nullptr, 16);
    };
    hex("CapInh:", p.inheritable);
    hex("CapPrm:", p.permitted);
    hex("CapEff:", p.effective);
    hex("CapBnd:", p.bounding);
    hex("CapAmb:", p.ambient);
    if (line.rfind("NoNewPrivs:", 0) == 0) p.no_new_privs = std::stoi(line.substr(11));
  }
  return p;
}

std::string Hex(uint64_t value) {
  std::ostringstream out;
  out << "0x" << std::hex << value;
  return out.str();
}

}  // namespace

std::string CapabilityNames(uint64_t mask) {
  static constexpr std::array<const char*, 41> kNames = {"cap_chown",
                                                         "cap_dac_override",
                                                         "cap_dac_read_search",
                                                         "cap_fowner",
                                                         "cap_fsetid",
                                                         "cap_kill",
                                                         "cap_setgid",
                                                         "cap_setuid",
                                                         "cap_setpcap",
                                                         "cap_linux_immutable",
                                                         "cap_net_bind_service",
                                                         "cap_net_broadcast",
                                                         "cap_net_admin",
                                                         "cap_net_raw",
                                                         "cap_ipc_lock",
                                                         "cap_ipc_owner",
                                                         "cap_sys_module",
                                                         "cap_sys_rawio",
                                                         "cap_sys_chroot",
                                                         "cap_sys_ptrace",
                                                         "cap_sys_pacct",
                                                         "cap_sys_admin",
                                                         "cap_sys_boot",
                                                         "cap_sys_nice",
                                                         "cap_sys_resource",
                                                         "cap_sys_time",
                                                         "cap_sys_tty_config",
                                                         "cap_mknod",
                                                         "cap_lease",
                                                         "cap_audit_write",
                                                         "cap_audit_control",
                                                         "cap_setfcap",
                                                         "cap_mac_override",
                                                         "cap_mac_admin",
                                                         "cap_syslog",
                                                         "cap_wake_alarm",
                                                         "cap_block_suspend",
                                                         "cap_audit_read",
                                                         "cap_perfmon",
                                                         "cap_bpf",
                                                         "cap_checkpoint_restore"};
  std::string names;
  for (int cap = 0; cap < 64; ++cap) {
    if ((mask & Bit(cap)) == 0) continue;
    if (!names.empty()) names += ", ";
    names += cap < static_cast<int>(kNames.size()) ? kNames[cap] : "cap_" + std::to_string(cap);
  }
  return names.empty() ? "none" : names;
}

bool MapAccessNeedsCapability() {
  const CapSets saved = GetCapSets();
  CapSets probe = saved;
  probe.effective &= ~(Bit(kCapBpf) | Bit(CAP_SYS_ADMIN));
  SetCapSets(probe);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_fd = static_cast<uint32_t>(-1);
  const long result = syscall(SYS_bpf, BPF_MAP_GET_NEXT_KEY, &attr, sizeof attr);
  const int error = errno;
  SetCapSets(saved);
  return result != 0 && error == EPERM;
}

CapabilityDrop DropCapabilities(bool keep_ptrace) {
  const CapSets current = GetCapSets();
  const int last_capability = LastCapability();
  CapabilityDrop result;

  if (MapAccessNeedsCapability()) {
    // kernel.unprivileged_bpf_disabled applies to every bpf() call here (kernels before 6.5).
    const uint64_t wanted = last_capability >= kCapBpf ? Bit(kCapBpf) : Bit(CAP_SYS_ADMIN);
    result.kept = wanted & current.permitted;
    result.reason =
        "this kernel checks kernel.unprivileged_bpf_disabled on every bpf() call, "
        "map reads included";
  }
  if (keep_ptrace && (current.permitted & Bit(CAP_SYS_PTRACE))) {
    result.kept |= Bit(CAP_SYS_PTRACE);
    result.reason +=
        std::string(result.reason.empty() ? "" : "; ") +
        "CAP_SYS_PTRACE reads /proc/PID/exe for exe labels, rules and selectors, and "
        "/proc/PID/maps and root for http_requests.tls, and nginx workers' executables for "
        "nginx_phases";
  }
  ToKernel(CapSets{result.kept, result.kept, 0}, g_target.data);
  g_target.clear_bounding = (current.effective & Bit(CAP_SETPCAP)) != 0;
  g_target.last_capability = last_capability;
  g_acknowledged = 0;
  g_first_error = 0;

  const int signal = SIGRTMIN + 3;
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = OnDropSignal;
  action.sa_flags = SA_RESTART;
  sigfillset(&action.sa_mask);
  if (sigaction(signal, &action, &previous) != 0) {
    throw CapabilityError(std::string("sigaction: ") + std::strerror(errno));
  }
  std::set<pid_t> done;
  try {
    ChangeOtherThreads(signal, done);
    if (const int error = ApplyToThisThread(); error != 0) {
      throw CapabilityError(std::string("cannot drop capabilities: ") + std::strerror(error));
    }
    ChangeOtherThreads(signal, done);  // any thread created while this one still had them
  } catch (...) {
    sigaction(signal, &previous, nullptr);
    throw;
  }
  sigaction(signal, &previous, nullptr);

  // Read back what the kernel now says of every thread.
  const uint64_t expected_bounding =
      g_target.clear_bounding
          ? 0
          : ReadThreadPrivileges(static_cast<pid_t>(syscall(SYS_gettid))).bounding;
  for (pid_t tid : ThreadIds()) {
    const ThreadPrivileges p = ReadThreadPrivileges(tid);
    if (p.effective != result.kept || p.permitted != result.kept || p.inheritable != 0 ||
        p.ambient != 0 || p.bounding != expected_bounding || p.no_new_privs != 1) {
      throw CapabilityError("thread " + ThreadName(tid) + " still has CapEff " + Hex(p.effective) +
                            ", CapPrm " + Hex(p.permitted) + ", CapInh " + Hex(p.inheritable) +
                            ", CapAmb " + Hex(p.ambient) + ", CapBnd " + Hex(p.bounding) +
                            ", NoNewPrivs " + std::to_string(p.no_new_privs) +
                            "; expected CapEff = CapPrm = " + Hex(result.kept));
    }
    ++result.threads;
  }
  result.bounding_set_cleared = g_target.clear_bounding;
  return result;
}

bool ReadsExeOfOtherUsers(const Config& config) {
  const auto& rules = config.labels.services;
  auto is_exe = [](const ProcessSelector& s) { return s.kind == SelectorKind::kExe; };
  const auto& include = config.targets.include;
  const auto& exclude = config.targets.exclude;
  const auto& http = config.http_requests;
  const auto& http_include = http.processes.include;
  const auto& http_exclude = http.processes.exclude;
  return config.labels.exe ||
         std::any_of(rules.begin(), rules.end(), [](auto& r) { return !r.exe.empty(); }) ||
         std::any_of(include.begin(), include.end(), is_exe) ||
         std::any_of(exclude.begin(), exclude.end(), is_exe) || config.nginx_phases.enabled() ||
         (http.enabled() &&
          (http.tls || std::any_of(http_include.begin(), http_include.end(), is_exe) ||
           std::any_of(http_exclude.begin(), http_exclude.end(), is_exe)));
}

}  // namespace netlens
