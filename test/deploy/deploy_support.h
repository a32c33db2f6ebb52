// Helpers of the deployment tests: real commands (cmake --install, cpack, systemd-analyze, curl,
// openssl, htpasswd, setpriv), the netlens daemon started as a service would start it, and the
// privileges of its threads as /proc shows them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http_client.h"
#include "netlens_process.h"
#include "scrape.h"
#include "subprocess.h"
#include "temp_dir.h"
#include "traffic_run.h"

namespace netlens::test {

// Paths of this build (compile definitions of test/deploy/CMakeLists.txt).
std::string SourceDir();
std::string BuildDir();
std::string InstallPrefix();                // CMAKE_INSTALL_PREFIX, e.g. /usr
std::string InstallSbinDir();               // full paths: /usr/sbin
std::string InstallSysconfDir();            // /etc
std::string InstallLibDir();                // /usr/lib/x86_64-linux-gnu
std::string Tool(const std::string& name);  // the path CMake found for a program

// Runs argv (120 s at most) and fails the test with its output unless it exits 0.
Output RunOk(const std::vector<std::string>& argv);
// "cmd arg ...", for messages.
std::string Join(const std::vector<std::string>& argv);

// `cmake --install BUILD` into DESTDIR `destdir`.
void InstallInto(const std::string& destdir);
// Every file and symlink below `root`, as "/relative/path" or "/relative/path -> target",
// sorted; directories are left out.
std::vector<std::string> ListTree(const std::string& root);

// A self-signed certificate for 127.0.0.1 and localhost, made with openssl.
struct Certificate {
  std::string cert_file;
  std::string key_file;
};
Certificate MakeCertificate(const TempDir& dir, const std::string& name);
// The bcrypt hash of `password`, made with `htpasswd -nbBC 10` (apache2-utils).
std::string BcryptHash(const std::string& user, const std::string& password);

// The privileges of one thread, from /proc/PID/task/TID/status.
struct ThreadPrivileges {
  pid_t tid = 0;
  std::string comm;
  uint64_t inheritable = 0, permitted = 0, effective = 0, bounding = 0, ambient = 0;
  int no_new_privs = -1;
};
std::vector<ThreadPrivileges> ThreadsOf(pid_t pid);
std::string Describe(const ThreadPrivileges& thread);

// The capabilities netlens must keep after start-up on this kernel, found independently of
// netlens: a child process without any capability issues a bpf() command on a (bad) map fd.
// EPERM means the kernel checks kernel.unprivileged_bpf_disabled on every bpf() call, so
// reading maps needs CAP_BPF; EBADF means the fd alone is enough, so nothing is kept.
uint64_t ExpectedKeptCapabilities();

constexpr uint64_t kCapBpfBit = uint64_t{1} << 39;

// netlens started for one test: the one launcher (test/support/netlens_process.h). A deploy
// test's netlens still running at its end is killed, not required to stop cleanly.
using DaemonOptions = NetlensOptions;
using Daemon = NetlensProcess;

// Runs nl-traffic (a few connections of known sizes) and requires exactly its bytes, calls and
// connections in the scrape that `scrape` returns afterwards: per process, or per connection
// (with per_connection, for aggregation: connection).
void RequireExactTraffic(const std::function<Scrape()>& scrape, bool per_connection = false);

}  // namespace netlens::test
