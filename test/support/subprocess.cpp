#include "subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

#include "system_error.h"

namespace netlens::test {
namespace {

using Clock = std::chrono::steady_clock;

UniqueFd OpenOrThrow(const std::string& path, int flags) {
  UniqueFd fd(open(path.c_str(), flags | O_CLOEXEC, 0644));
  if (!fd.valid()) ThrowErrno("open " + path);
  return fd;
}

struct Pipe {
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) ThrowErrno("pipe2");
    read.Reset(fds[0]);
    write.Reset(fds[1]);
  }
  UniqueFd read;
  UniqueFd write;
};

milliseconds Remaining(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : milliseconds(0);
}

// Appends what is readable on fd to into; closes fd at EOF.
void Drain(UniqueFd& fd, std::string& into) {
  char chunk[16384];
  ssize_t n = read(fd.get(), chunk, sizeof(chunk));
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    fd.Reset();
    return;
  }
  into.append(chunk, static_cast<size_t>(n));
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus result;
  if (WIFEXITED(status)) {
    result.exited = true;
    result.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (exited) return "exit code " + std::to_string(code);
  return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

Child::Child(std::vector<std::string> argv, const SpawnOptions& options) {
  for (const std::string& arg : argv) command_ += (command_.empty() ? "" : " ") + arg;
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);

  // The child's ends of its standard streams; the parent keeps the other ends of pipes.
  UniqueFd child_in, child_out, child_err;
  if (options.stdin_pipe) {
    Pipe in;
    child_in = std::move(in.read);
    stdin_ = std::move(in.write);
  } else {
    child_in = OpenOrThrow(options.stdin_file.empty() ? "/dev/null" : options.stdin_file, O_RDONLY);
  }
  if (options.output_file.empty()) {
    Pipe out, err;
    child_out = std::move(out.write);
    stdout_ = std::move(out.read);
    child_err = std::move(err.write);
    stderr_ = std::move(err.read);
  } else {
    child_out = OpenOrThrow(options.output_file, O_WRONLY | O_CREAT | O_APPEND);
    child_err = UniqueFd(fcntl(child_out.get(), F_DUPFD_CLOEXEC, 0));
  }
  Pipe exec_error;

  pid_ = fork();
  if (pid_ < 0) ThrowErrno("fork");
  if (pid_ == 0) {
    // Only async-signal-safe calls from here on; dup2() clears O_CLOEXEC on the copies.
    if (dup2(child_in.get(), 0) < 0 || dup2(child_out.get(), 1) < 0 ||
        dup2(child_err.get(), 2) < 0) {
      _exit(127);
    }
    execv(args[0], args.data());
    int error = errno;
    (void)!write(exec_error.write.get(), &error, sizeof(error));
    _exit(127);
  }
  child_in.Reset();
  child_out.Reset();
  child_err.Reset();
  exec_error.write.Reset();

  // exec() closes the write end (O_CLOEXEC): EOF means the program runs.
  int error = 0;
  ssize_t n = 0;
  do {
    n = read(exec_error.read.get(), &error, sizeof(error));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    Kill();
    throw std::runtime_error("cannot run " + command_ + ": " + std::strerror(error));
  }
}

Child::~Child() {
  stdin_.Reset();
  stdout_.Reset();
  stderr_.Reset();
  if (!status_) Kill();
}

std::optional<std::string> Child::ReadLine(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto pos = stdout_buffer_.find('\n'); pos != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, pos);
      stdout_buffer_.erase(0, pos + 1);
      return line;
    }
    if (!stdout_.valid()) {
      if (stdout_buffer_.empty()) return std::nullopt;
      return std::exchange(stdout_buffer_, {});
    }
    pollfd polled{.fd = stdout_.get(), .events = POLLIN, .revents = 0};
    int ready = poll(&polled, 1, static_cast<int>(Remaining(deadline).count()));
    if (ready < 0 && errno != EINTR) ThrowErrno("poll");
    if (ready == 0) {
      throw std::runtime_error("timed out after " + std::to_string(timeout.count()) +
                               " ms waiting for output of " + command_);
    }
    if (ready > 0) Drain(stdout_, stdout_buffer_);
  }
}

void Child::WriteStdin(std::string_view text) {
  if (!stdin_.valid()) throw std::logic_error("stdin of " + command_ + " is not a pipe");
  while (!text.empty()) {
    ssize_t n = write(stdin_.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("write to " + command_);
    text.remove_prefix(static_cast<size_t>(n));
  }
}

void Child::CloseStdin() { stdin_.Reset(); }

void Child::Signal(int signal) const {
  if (!status_) kill(pid_, signal);
}

std::optional<ExitStatus> Child::WaitFor(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!status_) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done < 0 && errno != EINTR) ThrowErrno("waitpid");
    if (done == pid_) {
      status_ = FromWaitStatus(status);
      break;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return status_;
}

ExitStatus Child::Kill() {
  if (!status_) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = FromWaitStatus(status);
  }
  return *status_;
}

Output Child::Communicate(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  Output output;
  output.out = std::exchange(stdout_buffer_, {});
  CloseStdin();
  while (stdout_.valid() || stderr_.valid()) {
    pollfd polled[2] = {{.fd = stdout_.get(), .events = POLLIN, .revents = 0},
                        {.fd = stderr_.get(), .events = POLLIN, .revents = 0}};
    int ready = poll(polled, 2, static_cast<int>(Remaining(deadline).count()));
    if (ready < 0 && errno != EINTR) ThrowErrno("poll");
    if (ready == 0) break;
    if (polled[0].revents != 0) Drain(stdout_, output.out);
    if (polled[1].revents != 0) Drain(stderr_, output.err);
  }
  if (auto status = WaitFor(Remaining(deadline))) {
    output.status = *status;
  } else {
    output.timed_out = true;
    output.status = Kill();
  }
  return output;
}

Output Run(std::vector<std::string> argv, milliseconds timeout, const std::string& stdin_file) {
  Child child(std::move(argv), SpawnOptions{.stdin_file = stdin_file});
  return child.Communicate(timeout);
}

}  // namespace netlens::test
