#include "netlens_process.h"

#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "ports.h"
#include "test_outcome.h"

#ifndef NETLENS_BINARY
#error "NETLENS_BINARY must be defined by the build (the path of the netlens executable)"
#endif

namespace netlens::test {
namespace {

using namespace std::chrono_literals;
constexpr auto kStartTimeout = 20s;
// netlens must exit within 1 s of SIGTERM; 2 s leaves room for a busy machine. Under
// emulation (the kernel matrix boots a kernel with qemu TCG, ~10x slower) the test sets
// NETLENS_TEST_SLOWDOWN to scale it.
std::chrono::milliseconds StopTimeout() {
  const char* slowdown = std::getenv("NETLENS_TEST_SLOWDOWN");
  const int factor = slowdown ? std::max(1, std::atoi(slowdown)) : 1;
  return std::chrono::milliseconds(2000) * factor;
}

}  // namespace

std::string NetlensBinary() { return NETLENS_BINARY; }

std::string NetlensConfig(std::string_view listen, std::string_view aggregation) {
  return "listen: \"" + std::string(listen) + "\"\naggregation: " + std::string(aggregation) +
         "\nlog_level: debug\n";
}

NetlensProcess::NetlensProcess(std::string_view aggregation,
                               const std::vector<std::string>& extra_args,
                               std::string_view extra_config)
    : port_(FreeLoopbackPort()),
      log_path_(dir_.PathOf("netlens.log")),
      failures_at_start_(FailedAssertions()) {
  std::string listen = "127.0.0.1:" + std::to_string(port_);
  config_path_ =
      dir_.Write("netlens.yaml", NetlensConfig(listen, aggregation) + std::string(extra_config));
  argv_ = {NetlensBinary(), "--config", config_path_, "--listen", listen};
  argv_.insert(argv_.end(), extra_args.begin(), extra_args.end());
  // The kernel-matrix test runs every test once per attach mode.
  if (const char* mode = std::getenv("NETLENS_TEST_ATTACH_MODE"); mode && *mode) {
    argv_.push_back("--attach-mode");
    argv_.push_back(mode);
  }
  Start();
}

void NetlensProcess::Start() {
  child_ = std::make_unique<Child>(argv_, SpawnOptions{.output_file = log_path_});
  WaitUntilServing();
}

ExitStatus NetlensProcess::Kill() {
  const ExitStatus status = child_->Kill();
  child_.reset();
  return status;
}

NetlensProcess::~NetlensProcess() {
  try {
    Stop();
  } catch (const std::exception& error) {
    std::cerr << "stopping " << Describe() << ": " << error.what() << "\n";
  }
  if (FailedAssertions() != failures_at_start_) {
    dir_.Keep();
    std::cerr << "kept the files of the failed test in " << dir_.path() << "\n";
  }
}

std::string NetlensProcess::Log() const { return ReadFile(log_path_); }

std::string NetlensProcess::LogTail() const {
  constexpr size_t kLines = 150;
  std::string log = Log();
  size_t start = log.size();
  size_t lines = 0;
  while (start > 0 && !(log[start - 1] == '\n' && ++lines > kLines)) --start;
  return start == 0 ? log : "[...]\n" + log.substr(start);
}

std::string NetlensProcess::Describe() const {
  return "netlens on 127.0.0.1:" + std::to_string(port_) + " (log: " + log_path_ + ")";
}

HttpResponse NetlensProcess::Get(std::string_view path) const { return HttpGet(port_, path); }

Scrape NetlensProcess::ScrapeMetrics() const {
  return netlens::test::ScrapeMetrics(port_, Describe());
}

void NetlensProcess::WaitUntilServing() {
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  std::string last_error = "no attempt";
  for (;;) {
    if (auto status = child_->WaitFor(0ms)) {
      dir_.Keep();
      FAIL("netlens exited during start-up (" << status->Describe() << ")\n"
                                              << Describe() << ":\n"
                                              << LogTail());
    }
    try {
      HttpResponse response = Get("/metrics");
      if (response.status == 200) return;
      last_error = "status " + std::to_string(response.status);
    } catch (const HttpError& error) {
      last_error = error.what();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      child_->Kill();
      dir_.Keep();
      FAIL("netlens did not serve GET /metrics with 200 within 20 s (last: " << last_error << ")\n"
                                                                             << Describe() << ":\n"
                                                                             << LogTail());
    }
    std::this_thread::sleep_for(50ms);
  }
}

void NetlensProcess::Stop() {
  if (!child_) return;  // killed, not started again
  child_->Signal(SIGTERM);
  std::optional<ExitStatus> status = child_->WaitFor(StopTimeout());
  if (!status) {
    child_->Kill();
    FAIL_CHECK("netlens did not exit within " << StopTimeout().count() << " ms of SIGTERM\n"
                                              << Describe() << ":\n"
                                              << LogTail());
    return;
  }
  INFO(Describe() << ":\n" << LogTail());
  CHECK(status->Describe() == "exit code 0");
}

}  // namespace netlens::test
