// The real netlens daemon, started for one test and stopped with SIGTERM at its end.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http_client.h"
#include "scrape.h"
#include "subprocess.h"
#include "temp_dir.h"

namespace netlens::test {

// The path of the netlens binary under test (compile definition NETLENS_BINARY).
std::string NetlensBinary();

// A configuration file's text: listen address, aggregation level, debug logging.
std::string NetlensConfig(std::string_view listen, std::string_view aggregation);

class NetlensProcess {
 public:
  // Starts netlens with a generated config (aggregation: process, remote or connection) and
  // --listen 127.0.0.1:<free port>, and waits (20 s at most) until GET /metrics returns 200.
  // Fails the test with the daemon log otherwise.
  // extra_config: YAML appended to the generated config (labels, services, limits, ...).
  explicit NetlensProcess(std::string_view aggregation,
                          const std::vector<std::string>& extra_args = {},
                          std::string_view extra_config = "");
  NetlensProcess(const NetlensProcess&) = delete;
  NetlensProcess& operator=(const NetlensProcess&) = delete;
  // SIGTERM; checks that netlens exits with status 0 within 2 s (the log is printed otherwise).
  ~NetlensProcess();

  uint16_t port() const { return port_; }
  const std::string& log_path() const { return log_path_; }
  std::string Log() const;
  std::string LogTail() const;   // the last 150 lines, for failure messages
  std::string Describe() const;  // "netlens on 127.0.0.1:PORT (log: PATH)"

  HttpResponse Get(std::string_view path) const;
  const std::string& config_path() const { return config_path_; }
  pid_t pid() const { return child_->pid(); }
  void Signal(int signal) const { child_->Signal(signal); }
  // SIGKILL, as an OOM kill or a crash would end it: netlens runs no cleanup. Start() again,
  // or the destructor has nothing to stop.
  ExitStatus Kill();
  // Starts netlens again with the same arguments (config, port) and waits until it serves.
  void Start();
  Scrape ScrapeMetrics() const;

 private:
  void WaitUntilServing();
  void Stop();

  TempDir dir_;
  std::vector<std::string> argv_;
  uint16_t port_ = 0;
  std::string log_path_;
  std::string config_path_;
  std::unique_ptr<Child> child_;
  int failures_at_start_ = 0;
};

}  // namespace netlens::test
