// Network namespaces made by a test (`ip netns add`), and entering one from the test thread.
#pragma once

#include <string>
#include <vector>

#include "unique_fd.h"

namespace netlens::test {

// A named network namespace with loopback up; deleted (`ip netns del`) when destroyed.
class NetworkNamespace {
 public:
  // The name is "nl-" + tag + the test's pid, unique among concurrent test runs.
  explicit NetworkNamespace(const std::string& tag);
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;
  ~NetworkNamespace();

  const std::string& name() const { return name_; }
  // Runs `ip -n NAME args...`; throws with ip's output if it fails.
  void Ip(const std::vector<std::string>& args) const;

 private:
  std::string name_;
};

// The path of a program from $PATH, /usr/sbin or /sbin (ip, tc, ss); throws if there is none.
std::string FindProgram(const std::string& name);

// Runs argv (argv[0] found with FindProgram) and throws with its output if it fails.
void RunOrThrow(std::vector<std::string> argv);

// Moves the calling thread into a network namespace until destroyed; processes it starts
// meanwhile (netlens, nl-traffic, ss) start there too.
class EnterNetns {
 public:
  explicit EnterNetns(const NetworkNamespace& netns);
  EnterNetns(const EnterNetns&) = delete;
  EnterNetns& operator=(const EnterNetns&) = delete;
  ~EnterNetns();

 private:
  UniqueFd original_;
};

}  // namespace netlens::test
