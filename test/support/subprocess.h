// Child processes for the integration tests: spawn, talk over pipes, wait with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "unique_fd.h"

namespace netlens::test {

using std::chrono::milliseconds;

// How a child ended.
struct ExitStatus {
  bool exited = false;  // exit() was called: code is valid
  int code = -1;
  int signal = 0;  // killed by this signal

  bool Success() const { return exited && code == 0; }
  std::string Describe() const;  // "exit code 2" or "killed by signal 9"
};

struct SpawnOptions {
  bool stdin_pipe = false;  // WriteStdin()/CloseStdin(); otherwise stdin_file or /dev/null
  std::string stdin_file;
  std::string output_file;  // if set, stdout and stderr are appended to it instead of piped
};

// What a child printed and how it ended.
struct Output {
  ExitStatus status;
  std::string out;
  std::string err;
  bool timed_out = false;  // the deadline passed; the child was killed
};

class Child {
 public:
  Child(std::vector<std::string> argv, const SpawnOptions& options);
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();  // kills and reaps a child still running

  pid_t pid() const { return pid_; }
  const std::string& command() const { return command_; }

  // The next line of standard output without its newline; nullopt at EOF. Throws on timeout.
  std::optional<std::string> ReadLine(milliseconds timeout);
  void WriteStdin(std::string_view text);
  void CloseStdin();
  void Signal(int signal) const;

  // The exit status if the child ends within timeout (it is then reaped).
  std::optional<ExitStatus> WaitFor(milliseconds timeout);
  ExitStatus Kill();  // SIGKILL and reap

  // Reads stdout and stderr to EOF and waits for the exit, killing the child at the deadline.
  // Output already consumed by ReadLine() is not repeated.
  Output Communicate(milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  UniqueFd stdin_;
  UniqueFd stdout_;
  UniqueFd stderr_;
  std::string stdout_buffer_;
  std::string command_;
};

// Runs argv to completion (stdin from stdin_file or /dev/null).
Output Run(std::vector<std::string> argv, milliseconds timeout, const std::string& stdin_file = "");

}  // namespace netlens::test
