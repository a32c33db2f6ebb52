// The real netlens daemon, started for one test: the one launcher of the integration, deploy
// and fleet-facing tests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
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

// Whether the tests run netlens with `--accounting events` (NETLENS_TEST_ACCOUNTING=events:
// ctest runs the integration tests once per accounting); false: the default, kernel
// accounting, which has no call counts and no response times.
bool PerEventAccounting();

// A configuration file's text: listen address, aggregation level, debug logging.
std::string NetlensConfig(std::string_view listen, std::string_view aggregation);

struct NetlensOptions {
  std::string aggregation = "process";  // process, remote or connection
  std::string extra_config;             // YAML appended to the generated config
  std::vector<std::string> extra_args;  // after --config FILE --listen ADDR
  std::vector<std::string> wrapper;     // e.g. {"setpriv", ...} or {"env", "A=b"}: exec netlens
  std::string binary;                   // default: the netlens of the build tree
  // Whether netlens serves; default: GET http://127.0.0.1:PORT/metrics answers 200.
  std::function<bool(uint16_t port)> serving;
  bool wait = true;  // wait (20 s at most) until serving; fail the test with the log otherwise
  // At destruction, a netlens still running is stopped with SIGTERM and must exit 0 within
  // 2 s (true), or is killed (false: tests of failures and privileges that stop it themselves).
  bool require_clean_stop = false;
};

class NetlensProcess {
 public:
  // Starts netlens with a generated config (listen 127.0.0.1:<free port>, the aggregation,
  // debug logging, extra_config) and --listen on the same address. Under the kernel matrix,
  // NETLENS_TEST_ATTACH_MODE adds --attach-mode; NETLENS_TEST_HTTP_HOOKS sets the
  // http_requests section's capture_hooks where it names none.
  explicit NetlensProcess(NetlensOptions options);
  // The integration tests' form: waits until serving and requires a clean stop at the end.
  explicit NetlensProcess(std::string_view aggregation,
                          const std::vector<std::string>& extra_args = {},
                          std::string_view extra_config = "");
  NetlensProcess(const NetlensProcess&) = delete;
  NetlensProcess& operator=(const NetlensProcess&) = delete;
  // Stops or kills a netlens still running (require_clean_stop); keeps the files of a failed
  // test.
  ~NetlensProcess();

  pid_t pid() const;
  uint16_t port() const { return port_; }
  const TempDir& dir() const { return dir_; }
  TempDir& dir() { return dir_; }
  const std::string& log_path() const { return log_path_; }
  const std::string& config_path() const { return config_path_; }
  std::string Log() const;
  std::string LogTail() const;   // the last 150 lines, for failure messages
  std::string Describe() const;  // "netlens (pid N) on 127.0.0.1:PORT (log: PATH)"
  std::string Report() const;    // Describe(), the command line and the log's tail

  void WaitUntilServing();
  void Signal(int signal) const { child_->Signal(signal); }
  // SIGKILL, as an OOM kill or a crash would end it: netlens runs no cleanup. Start() again,
  // or the destructor has nothing to stop.
  ExitStatus Kill();
  // Starts netlens again with the same arguments (config, port); waits until it serves unless
  // options.wait is false.
  void Start();
  // SIGTERM, then the exit status ("exit code 0"; killed and "timed out" after 2 s).
  std::string Stop();
  HttpResponse Get(std::string_view path) const;
  Scrape ScrapeMetrics() const;  // plain HTTP

 private:
  NetlensOptions options_;
  TempDir dir_;
  std::vector<std::string> argv_;
  uint16_t port_ = 0;
  std::string log_path_;
  std::string config_path_;
  std::unique_ptr<Child> child_;
  int failures_at_start_ = 0;
};

}  // namespace netlens::test
