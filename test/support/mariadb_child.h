// Debian's MariaDB server, started by a test: a fresh data directory (mariadb-install-db, root
// without a password), listening on 127.0.0.1:port only (no Unix socket clients are used), no
// TLS; ready once its error log says so; stopped with SIGTERM at the end.
#pragma once

#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "subprocess.h"
#include "temp_dir.h"

namespace netlens::test {

class MariadbChild {
 public:
  MariadbChild(const TempDir& dir, uint16_t port) {
    const std::string install =
        "/usr/bin/mariadb-install-db --no-defaults --datadir=" + dir.PathOf("mysql") +
        " --user=root --auth-root-authentication-method=normal "
        "--skip-test-db > " +
        dir.PathOf("install.log") + " 2>&1";
    REQUIRE(std::system(install.c_str()) == 0);
    child_.emplace(
        std::vector<std::string>{
            "/usr/sbin/mariadbd", "--no-defaults", "--datadir=" + dir.PathOf("mysql"),
            "--user=root", "--bind-address=127.0.0.1", "--port=" + std::to_string(port),
            "--socket=" + dir.PathOf("mysqld.sock"), "--pid-file=" + dir.PathOf("mysqld.pid"),
            "--log-error=" + dir.PathOf("mysqld.err"), "--innodb-buffer-pool-size=16M",
            "--skip-log-bin", "--skip-ssl"},
        SpawnOptions{.output_file = dir.PathOf("mysqld.out")});
    for (int i = 0; i < 300; ++i) {
      if (ReadFile(dir.PathOf("mysqld.err")).find("ready for connections") != std::string::npos)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("mariadbd did not get ready in 30 s:\n" << ReadFile(dir.PathOf("mysqld.err")));
  }
  ~MariadbChild() {
    child_->Signal(SIGTERM);
    if (!child_->WaitFor(std::chrono::milliseconds(20000))) child_->Kill();
  }
  MariadbChild(const MariadbChild&) = delete;
  MariadbChild& operator=(const MariadbChild&) = delete;

 private:
  std::optional<Child> child_;
};

}  // namespace netlens::test
