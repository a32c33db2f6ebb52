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

// NETLENS_TEST_HTTP_HOOKS (ctest's [syscalls] run of the HTTP tests): an http_requests section
// that does not name its capture hooks gets these.
std::string WithHttpHooks(std::string config) {
  const char* hooks = std::getenv("NETLENS_TEST_HTTP_HOOKS");
  const std::string section = "http_requests:\n";
  const size_t at = config.find(section);
  if (!hooks || !*hooks || at == std::string::npos ||
      config.find("capture_hooks:") != std::string::npos)
    return config;
  return config.insert(at + section.size(), "  capture_hooks: " + std::string(hooks) + "\n");
}

}  // namespace

std::string NetlensBinary() { return NETLENS_BINARY; }

bool PerEventAccounting() {
  const char* accounting = std::getenv("NETLENS_TEST_ACCOUNTING");
  return accounting && std::string_view(accounting) == "events";
}

std::string NetlensConfig(std::string_view listen, std::string_view aggregation) {
  return "listen: \"" + std::string(listen) + "\"\naggregation: " + std::string(aggregation) +
         "\nlog_level: debug\n";
}

NetlensProcess::NetlensProcess(NetlensOptions options)
    : options_(std::move(options)),
      port_(FreeLoopbackPort()),
      log_path_(dir_.PathOf("netlens.log")),
      failures_at_start_(FailedAssertions()) {
  const std::string listen = "127.0.0.1:" + std::to_string(port_);
  config_path_ = dir_.Write(
      "netlens.yaml",
      WithHttpHooks(NetlensConfig(listen, options_.aggregation) + options_.extra_config));
  argv_ = options_.wrapper;
  argv_.push_back(options_.binary.empty() ? NetlensBinary() : options_.binary);
  argv_.insert(argv_.end(), {"--config", config_path_, "--listen", listen});
  argv_.insert(argv_.end(), options_.extra_args.begin(), options_.extra_args.end());
  // The kernel-matrix test runs every test once per attach mode.
  if (const char* mode = std::getenv("NETLENS_TEST_ATTACH_MODE"); mode && *mode) {
    argv_.push_back("--attach-mode");
    argv_.push_back(mode);
  }
  if (const char* accounting = std::getenv("NETLENS_TEST_ACCOUNTING"); accounting && *accounting) {
    argv_.push_back("--accounting");
    argv_.push_back(accounting);
  }
  Start();
}

void NetlensProcess::Start() {
  child_ = std::make_unique<Child>(argv_, SpawnOptions{.output_file = log_path_});
  if (options_.wait) WaitUntilServing();
}

ExitStatus NetlensProcess::Kill() {
  const ExitStatus status = child_->Kill();
  child_.reset();
  return status;
}

NetlensProcess::NetlensProcess(std::string_view aggregation,
                               const std::vector<std::string>& extra_args,
                               std::string_view extra_config)
    : NetlensProcess(NetlensOptions{.aggregation = std::string(aggregation),
                                    .extra_config = std::string(extra_config),
                                    .extra_args = extra_args,
                                    .require_clean_stop = true}) {}

NetlensProcess::~NetlensProcess() {
  if (child_ && !child_->WaitFor(0ms)) {
    if (options_.require_clean_stop) {
      try {
        const std::string status = Stop();
        INFO(Describe() << ":\n" << LogTail());
        CHECK(status == "exit code 0");
      } catch (const std::exception& error) {
        std::cerr << "stopping " << Describe() << ": " << error.what() << "\n";
      }
    } else {
      child_->Kill();
    }
  }
  if (FailedAssertions() != failures_at_start_) {
    dir_.Keep();
    std::cerr << "kept the files of the failed test in " << dir_.path() << "\n";
  }
}

pid_t NetlensProcess::pid() const { return child_->pid(); }

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
  return "netlens (pid " + std::to_string(child_->pid()) +
         ") on 127.0.0.1:" + std::to_string(port_) + " (log: " + log_path_ + ")";
}

std::string NetlensProcess::Report() const {
  return Describe() + (child_ ? ", started as: " + child_->command() : "") + "\nlog:\n" + LogTail();
}

HttpResponse NetlensProcess::Get(std::string_view path) const { return HttpGet(port_, path); }

Scrape NetlensProcess::ScrapeMetrics() const {
  return netlens::test::ScrapeMetrics(port_, Describe());
}

void NetlensProcess::WaitUntilServing() {
  const auto serving = options_.serving ? options_.serving : [](uint16_t port) {
    try {
      return HttpGet(port, "/metrics").status == 200;
    } catch (const HttpError&) {
      return false;
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    if (auto status = child_->WaitFor(0ms)) {
      dir_.Keep();
      FAIL("netlens exited during start-up (" << status->Describe() << ")\n" << Report());
    }
    if (serving(port_)) return;
    if (std::chrono::steady_clock::now() >= deadline) {
      child_->Kill();
      dir_.Keep();
      FAIL("netlens did not serve within 20 s\n" << Report());
    }
    std::this_thread::sleep_for(50ms);
  }
}

std::string NetlensProcess::Stop() {
  if (!child_) return "not running";  // killed, not started again
  child_->Signal(SIGTERM);
  if (std::optional<ExitStatus> status = child_->WaitFor(StopTimeout())) return status->Describe();
  child_->Kill();
  return "timed out";
}

}  // namespace netlens::test
