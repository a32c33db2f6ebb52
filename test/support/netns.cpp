#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "subprocess.h"
#include "system_error.h"

namespace netlens::test {

std::string FindProgram(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = std::string(path ? path : "") + ":/usr/sbin:/sbin:/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error(name + " not found (install iproute2)");
}

void RunOrThrow(std::vector<std::string> argv) {
  argv[0] = FindProgram(argv[0]);
  const Output output = Run(argv, std::chrono::seconds(20));
  if (output.status.Success()) return;
  std::string command;
  for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
  throw std::runtime_error(command + ": " + output.status.Describe() + ": " + output.out +
                           output.err);
}

NetworkNamespace::NetworkNamespace(const std::string& tag) {
  static std::atomic<int> serial{0};
  name_ = "nl-" + tag + "-" + std::to_string(getpid()) + "-" + std::to_string(serial++);
  RunOrThrow({"ip", "netns", "add", name_});
  try {
    Ip({"link", "set", "lo", "up"});
  } catch (...) {
    Run({FindProgram("ip"), "netns", "del", name_}, std::chrono::seconds(20));
    throw;
  }
}

NetworkNamespace::~NetworkNamespace() {
  Run({FindProgram("ip"), "netns", "del", name_},
      std::chrono::seconds(20));  // also removes its veth ends
}

void NetworkNamespace::Ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ip", "-n", name_};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOrThrow(argv);
}

EnterNetns::EnterNetns(const NetworkNamespace& netns)
    : original_(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
  if (!original_.valid()) ThrowErrno("open /proc/thread-self/ns/net");
  UniqueFd target(open(("/run/netns/" + netns.name()).c_str(), O_RDONLY | O_CLOEXEC));
  if (!target.valid()) ThrowErrno("open /run/netns/" + netns.name());
  if (setns(target.get(), CLONE_NEWNET) != 0) ThrowErrno("setns " + netns.name());
}

EnterNetns::~EnterNetns() { setns(original_.get(), CLONE_NEWNET); }

}  // namespace netlens::test
