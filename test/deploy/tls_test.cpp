// TLS and basic auth on /metrics from a Prometheus-style web config file, checked with curl;
// web config errors as --check-config and start-up report them.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "deploy_support.h"
#include "exposition.h"

namespace netlens::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPassword = "correct horse battery";

struct CurlResult {
  std::string exit;  // "exit code 0"
  std::string http_code;
  std::string headers;
  std::string body;
  std::string err;
};

CurlResult Curl(const TempDir& dir, std::vector<std::string> options, const std::string& url) {
  const std::string headers = dir.PathOf("curl.headers");
  const std::string body = dir.PathOf("curl.body");
  std::filesystem::remove(headers);
  std::filesystem::remove(body);
  std::vector<std::string> argv = {Tool("curl"), "-sS", "--max-time", "20", "-D",
                                   headers,      "-o",  body,         "-w", "%{http_code}"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back(url);
  const Output output = Run(argv, 30s);
  return {output.status.Describe(), output.out, ReadFile(headers), ReadFile(body), output.err};
}

std::string WebConfig(const Certificate& cert, const std::string& hash) {
  return "tls_server_config:\n  cert_file: " + cert.cert_file + "\n  key_file: " + cert.key_file +
         "\nbasic_auth_users:\n  alice: " + hash + "\n";
}

TEST_CASE("TLS and basic auth: only HTTPS with alice's password gets the metrics", "[tls]") {
  TempDir files;
  const Certificate cert = MakeCertificate(files, "server");
  const std::string web_config =
      files.Write("web.yml", WebConfig(cert, BcryptHash("alice", kPassword)));
  const std::string credentials = std::string("alice:") + kPassword;
  const std::vector<std::string> trusted = {"--cacert", cert.cert_file};
  const auto https = [](uint16_t port, const std::string& path) {
    return "https://127.0.0.1:" + std::to_string(port) + path;
  };

  Daemon netlens({.aggregation = "process",
                  .extra_args = {"--web-config-file", web_config},
                  .serving = [&](uint16_t port) {
                    return Curl(files, {"--cacert", cert.cert_file, "-u", credentials},
                                "https://127.0.0.1:" + std::to_string(port) + "/metrics")
                               .http_code == "200";
                  }});
  INFO(netlens.Describe());
  const std::string metrics = https(netlens.port(), "/metrics");
  CHECK(netlens.Log().find("serving " + metrics) != std::string::npos);

  SECTION("the right password: 200 and exact counts") {
    RequireExactTraffic([&] {
      std::vector<std::string> options = trusted;
      options.insert(options.end(), {"-u", credentials});
      const CurlResult result = Curl(files, options, metrics);
      INFO(result.exit << " " << result.err);
      REQUIRE(result.exit == "exit code 0");
      REQUIRE(result.http_code == "200");
      return Scrape{result.body, ParseExposition(result.body), "curl " + metrics};
    });
    std::vector<std::string> options = trusted;
    options.insert(options.end(), {"-u", credentials});
    const CurlResult landing = Curl(files, options, https(netlens.port(), "/"));
    CHECK(landing.http_code == "200");
    CHECK(landing.body.find("href=\"/metrics\"") != std::string::npos);
  }
  SECTION("a wrong password, an unknown user, no credentials: 401 on every path") {
    for (const auto& [user_password, path] : std::vector<std::pair<std::string, std::string>>{
             {"alice:wrong", "/metrics"},
             {"bob:" + std::string(kPassword), "/metrics"},
             {"", "/metrics"},
             {"", "/"},
             {"alice:wrong", "/nothing-here"}}) {
      INFO("credentials '" << user_password << "' on " << path);
      std::vector<std::string> options = trusted;
      if (!user_password.empty()) options.insert(options.end(), {"-u", user_password});
      const CurlResult result = Curl(files, options, https(netlens.port(), path));
      CHECK(result.exit == "exit code 0");
      CHECK(result.http_code == "401");
      CHECK(
          result.headers.find("WWW-Authenticate: Basic realm=\"netlens\", charset=\"UTF-8\"\r\n") !=
          std::string::npos);
      CHECK(result.body == "401 Unauthorized\n");
    }
  }
  SECTION("plain HTTP on the TLS port gets no HTTP answer") {
    const CurlResult result =
        Curl(files, {"-u", credentials},
             "http://127.0.0.1:" + std::to_string(netlens.port()) + "/metrics");
    CHECK(result.exit == "exit code 52");
    CHECK(result.err == "curl: (52) Empty reply from server\n");
    CHECK(result.http_code == "000");
  }
  SECTION("the certificate is the configured one, and TLS 1.1 is refused") {
    // Without --cacert the self-signed certificate is not trusted.
    CHECK(Curl(files, {"-u", credentials}, metrics).exit == "exit code 60");
    std::vector<std::string> options = trusted;
    options.insert(options.end(), {"-u", credentials, "--tlsv1.0", "--tls-max", "1.1"});
    CHECK(Curl(files, options, metrics).exit == "exit code 35");
  }
  CHECK(netlens.Stop() == "exit code 0");
}

// netlens --check-config CONFIG, whose web_config_file is `web_config` (relative to CONFIG).
Output CheckConfig(const TempDir& dir, const std::string& web_config) {
  const std::string config =
      dir.Write("netlens.yaml", "aggregation: process\nweb_config_file: " + web_config + "\n");
  return Run({NETLENS_BINARY, "--check-config", config}, 20s);
}

TEST_CASE("TLS: --check-config reads the web config and its files, with FILE:LINE:COLUMN errors",
          "[tls][unprivileged]") {
  TempDir dir;
  const Certificate a = MakeCertificate(dir, "a");
  const Certificate b = MakeCertificate(dir, "b");
  const std::string hash = BcryptHash("alice", kPassword);
  const std::string web = dir.PathOf("web.yml");

  SECTION("valid, with paths relative to the files that name them") {
    dir.Write("web.yml",
              "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n"
              "basic_auth_users:\n  alice: " +
                  hash + "\n");
    const Output output = CheckConfig(dir, "web.yml");
    CHECK(output.status.Describe() == "exit code 0");
    CHECK(output.out == dir.PathOf("netlens.yaml") + ": OK (aggregation process)\n");
    CHECK(output.err == "");
  }
  SECTION("a key that is not the certificate's") {
    dir.Write("web.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: b.key\n");
    const Output output = CheckConfig(dir, "web.yml");
    CHECK(output.status.Describe() == "exit code 2");
    CHECK(output.err == web + ":3:13: key_file '" + b.key_file +
                            "' is not the key of the certificate in cert_file '" + a.cert_file +
                            "' (key values mismatch)\n");
  }
  SECTION("a certificate where the key should be") {
    dir.Write("web.yml", "tls_server_config:\n  cert_file: a.crt\n  key_file: a.crt\n");
    const Output output = CheckConfig(dir, "web.yml");
    CHECK(output.status.Describe() == "exit code 2");
    CHECK(output.err.rfind(
              web + ":3:13: key_file '" + a.cert_file + "' holds no usable PEM private key (", 0) ==
          0);
  }
  SECTION("a plain-text password") {
    dir.Write("web.yml", "basic_auth_users:\n  alice: hunter2\n");
    const Output output = CheckConfig(dir, "web.yml");
    CHECK(output.status.Describe() == "exit code 2");
    CHECK(output.err == web +
                            ":2:10: 'basic_auth_users.alice' must be a bcrypt hash ($2y$, $2b$ "
                            "or $2a$, cost 04-31, 60 characters), e.g. from `htpasswd -nBC 10 "
                            "alice`; plain-text passwords are not accepted\n");
  }
  SECTION("a missing web config file") {
    const Output output = CheckConfig(dir, "absent.yml");
    CHECK(output.status.Describe() == "exit code 2");
    CHECK(output.err == dir.PathOf("absent.yml") +
                            ": cannot read the web config file: No such file or directory\n");
  }
}

TEST_CASE("TLS: --web-config-file errors stop netlens before anything loads",
          "[tls][unprivileged]") {
  TempDir dir;
  const std::string web = dir.Write("web.yml", "tls_server_config:\n  cert_file: x.crt\n");
  const Output output = Run({NETLENS_BINARY, "--web-config-file", web}, 20s);
  CHECK(output.status.Describe() == "exit code 2");
  CHECK(output.err == "netlens: " + web +
                          ":1:1: 'tls_server_config' needs cert_file and key_file (missing: "
                          "key_file)\n");
}

TEST_CASE("TLS: the installed netlens serves HTTPS on a host without libssl-dev",
          "[tls][install]") {
  // "libssl.so" and "libcrypto.so" are links that only libssl-dev installs (the civetweb netlens
  // once used opened them). In a mount namespace whose library directory lacks them, the
  // installed binary must still serve HTTPS.
  TempDir install;
  InstallInto(install.path());
  TempDir files;
  const Certificate cert = MakeCertificate(files, "server");
  const std::string web_config =
      files.Write("web.yml", WebConfig(cert, BcryptHash("alice", kPassword)));
  const std::string libdir = InstallLibDir();
  const std::string upper = files.PathOf("upper");
  const std::string script =
      "set -e\n"
      "mkdir -p " +
      upper + " " + files.PathOf("work") +
      "\n"
      "mknod " +
      upper +
      "/libssl.so c 0 0\n"
      "mknod " +
      upper +
      "/libcrypto.so c 0 0\n"
      "mount -t overlay overlay -o lowerdir=" +
      libdir + ",upperdir=" + upper + ",workdir=" + files.PathOf("work") + " " + libdir +
      "\n"
      "test ! -e " +
      libdir + "/libssl.so && test ! -e " + libdir +
      "/libcrypto.so\n"
      "echo 'namespace: no libssl.so, no libcrypto.so in " +
      libdir +
      "'\n"
      "exec \"$0\" \"$@\"\n";
  const std::string credentials = std::string("alice:") + kPassword;
  Daemon netlens({.aggregation = "process",
                  .extra_args = {"--web-config-file", web_config},
                  .wrapper = {Tool("unshare"), "--mount", "--propagation", "private", Tool("sh"),
                              "-c", script},
                  .binary = install.path() + InstallSbinDir() + "/netlens",
                  .serving = [&](uint16_t port) {
                    return Curl(files, {"--cacert", cert.cert_file, "-u", credentials},
                                "https://127.0.0.1:" + std::to_string(port) + "/metrics")
                               .http_code == "200";
                  }});
  INFO(netlens.Describe());
  CHECK(netlens.Log().find("namespace: no libssl.so, no libcrypto.so in " + libdir) !=
        std::string::npos);
  const CurlResult result =
      Curl(files, {"--cacert", cert.cert_file, "-u", credentials},
           "https://127.0.0.1:" + std::to_string(netlens.port()) + "/metrics");
  CHECK(result.http_code == "200");
  CHECK(result.body.find("# TYPE netlens_build_info gauge") != std::string::npos);
  CHECK(netlens.Stop() == "exit code 0");
}

}  // namespace
}  // namespace netlens::test
