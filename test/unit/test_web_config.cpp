// Tests of the web config file (TLS, basic auth): the schema, every error message with its
// position, bcrypt verification through crypt(3), and the Authorization header.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config/web_config.h"
#include "config_error.h"

namespace netlens {
namespace {

// `htpasswd -nbBC 10 alice 'correct horse'` (apache2-utils) printed this $2y$ hash, and
// Python's crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)) this $2b$ one.
constexpr const char* kAliceHash = "$2y$10$JCTMILDdij6DZjaIh4uUOuueyAij9TSndpaSQu2iB3QdFu2cq1LWy";
constexpr const char* kBobHash = "$2b$04$YFoFUDWT9syh4Pt.bueZ3.mTcBGsbnXL2rJ95fIulmeu4.FfnLMla";

using Users = std::map<std::string, std::string>;

WebConfig Parse(const std::string& yaml) { return ParseWebConfig(yaml, "web.yml", "/etc/nl"); }

std::string ErrorOf(const std::string& yaml) { return ConfigErrorOf(Parse, yaml); }

TEST_CASE("web config: a full file", "[web_config]") {
  const WebConfig config = Parse(
      "tls_server_config:\n"
      "  cert_file: tls/server.crt\n"
      "  key_file: /keys/server.key\n"
      "  min_version: TLS13\n"
      "  max_version: TLS13\n"
      "  prefer_server_cipher_suites: false\n"
      "basic_auth_users:\n"
      "  alice: " +
      std::string(kAliceHash) +
      "\n"
      "  bob: '" +
      kBobHash + "'\n");
  REQUIRE(config.tls.has_value());
  CHECK(config.tls->cert_file == "/etc/nl/tls/server.crt");  // relative: to the file's directory
  CHECK(config.tls->key_file == "/keys/server.key");
  CHECK(TlsVersionName(config.tls->min_version) == "TLS13");
  CHECK(TlsVersionName(config.tls->max_version) == "TLS13");
  CHECK_FALSE(config.tls->prefer_server_cipher_suites);
  CHECK(config.tls->cert_file_at == "web.yml:2:14");
  CHECK(config.tls->key_file_at == "web.yml:3:13");
  CHECK(config.basic_auth_users.size() == 2);
  CHECK(config.basic_auth_users.at("alice") == kAliceHash);
  CHECK(config.basic_auth_users.at("bob") == kBobHash);
  CHECK(config.source == "web.yml");
}

TEST_CASE("web config: defaults and empty parts", "[web_config]") {
  SECTION("an empty file: plain HTTP, no auth") {
    const WebConfig config = Parse("# nothing yet\n");
    CHECK_FALSE(config.tls.has_value());
    CHECK(config.basic_auth_users.empty());
  }
  SECTION("empty sections") {
    const WebConfig config = Parse("tls_server_config:\nbasic_auth_users:\n");
    CHECK_FALSE(config.tls.has_value());
    CHECK(config.basic_auth_users.empty());
  }
  SECTION("TLS 1.2 at least, no maximum, server cipher preference") {
    const WebConfig config = Parse("tls_server_config:\n  cert_file: a\n  key_file: b\n");
    REQUIRE(config.tls.has_value());
    CHECK(TlsVersionName(config.tls->min_version) == "TLS12");
    CHECK(config.tls->max_version == 0);
    CHECK(config.tls->prefer_server_cipher_suites);
  }
  SECTION("client_auth_type NoClientCert is what netlens does anyway") {
    const WebConfig config = Parse(
        "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: NoClientCert\n");
    CHECK(config.tls.has_value());
  }
}

TEST_CASE("web config: every error names FILE:LINE:COLUMN", "[web_config]") {
  CHECK(ErrorOf("tls_server_config:\n  cert_file: a\n") ==
        "web.yml:1:1: 'tls_server_config' needs cert_file and key_file (missing: key_file)");
  CHECK(ErrorOf("tls_server_config:\n  min_version: TLS12\n") ==
        "web.yml:1:1: 'tls_server_config' needs cert_file and key_file (missing: cert_file, "
        "key_file)");
  CHECK(ErrorOf("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS1.2\n") ==
        "web.yml:4:16: 'tls_server_config.min_version' must be one of TLS10, TLS11, TLS12, "
        "TLS13, got 'TLS1.2' (did you mean 'TLS12'?)");
  CHECK(ErrorOf("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n"
                "  max_version: TLS12\n") ==
        "web.yml:5:16: 'tls_server_config.max_version' (TLS12) is below min_version (TLS13)");
  CHECK(ErrorOf("tls_server_config:\n  cert_fle: a\n") ==
        "web.yml:2:3: unknown key 'cert_fle' in 'tls_server_config' (did you mean 'cert_file'?); "
        "valid keys in 'tls_server_config': cert_file, key_file, min_version, max_version, "
        "prefer_server_cipher_suites");
  CHECK(ErrorOf("tls_server_config:\n  cert_file: a\n  key_file: b\n"
                "  client_auth_type: RequireAndVerifyClientCert\n") ==
        "web.yml:4:3: 'tls_server_config.client_auth_type' is not supported by netlens; "
        "supported in 'tls_server_config': cert_file, key_file, min_version, max_version, "
        "prefer_server_cipher_suites");
  CHECK(ErrorOf("http_server_config:\n  http2: false\n") ==
        "web.yml:1:1: 'http_server_config' is not supported by netlens; supported: "
        "tls_server_config, basic_auth_users");
  CHECK(ErrorOf("basic_auth_user:\n  alice: x\n") ==
        "web.yml:1:1: unknown key 'basic_auth_user' (did you mean 'basic_auth_users'?); valid "
        "keys: tls_server_config, basic_auth_users");
  CHECK(ErrorOf("basic_auth_users:\n  alice: hunter2\n") ==
        "web.yml:2:10: 'basic_auth_users.alice' must be a bcrypt hash ($2y$, $2b$ or $2a$, cost "
        "04-31, 60 characters), e.g. from `htpasswd -nBC 10 alice`; plain-text passwords are "
        "not accepted");
  CHECK(ErrorOf("basic_auth_users:\n  alice:\n") ==
        "web.yml:2:3: 'basic_auth_users.alice' must be a bcrypt hash, got an empty value");
  CHECK(ErrorOf("basic_auth_users:\n  a:b: " + std::string(kAliceHash) + "\n") ==
        "web.yml:2:3: user name 'a:b' contains ':', which basic auth cannot carry");
  CHECK(ErrorOf("basic_auth_users:\n  alice: " + std::string(kAliceHash) + "\n  alice: " +
                kBobHash + "\n") == "web.yml:3:3: duplicate user 'alice' (first set on line 2)");
  CHECK(ErrorOf("basic_auth_users:\n  - alice\n") ==
        "web.yml:2:3: 'basic_auth_users' must be a map of user: bcrypt-hash, got a list");
  CHECK(ErrorOf("tls_server_config: yes\n") ==
        "web.yml:1:20: 'tls_server_config' must be a map with cert_file and key_file, got 'yes'");
  CHECK(ErrorOf("tls_server_config:\n  cert_file: a\n  cert_file: b\n") ==
        "web.yml:3:3: duplicate key 'tls_server_config.cert_file' (first set on line 2)");
  CHECK(ErrorOf("- a\n") ==
        "web.yml:1:1: the top level must be a map with tls_server_config and/or "
        "basic_auth_users, got a list");
  CHECK(ErrorOf("a: [\n") == "web.yml:2:1: invalid YAML: end of sequence flow not found");
}

TEST_CASE("web config: bcrypt hashes", "[web_config]") {
  CHECK(IsBcryptHash(kAliceHash));
  CHECK(IsBcryptHash(kBobHash));
  std::string a_variant = kAliceHash;
  a_variant[2] = 'a';
  CHECK(IsBcryptHash(a_variant));
  CHECK_FALSE(IsBcryptHash(""));
  CHECK_FALSE(IsBcryptHash("$2x$10$JCTMILDdij6DZjaIh4uUOuueyAij9TSndpaSQu2iB3QdFu2cq1LWy"));
  CHECK_FALSE(IsBcryptHash("$2y$03$JCTMILDdij6DZjaIh4uUOuueyAij9TSndpaSQu2iB3QdFu2cq1LWy"));
  CHECK_FALSE(IsBcryptHash("$2y$32$JCTMILDdij6DZjaIh4uUOuueyAij9TSndpaSQu2iB3QdFu2cq1LWy"));
  CHECK_FALSE(IsBcryptHash("$2y$10$JCTMILDdij6DZjaIh4uUOuueyAij9TSndpaSQu2iB3QdFu2cq1LW"));
  CHECK_FALSE(IsBcryptHash("$2y$10$JCTMILDdij6DZjaIh4uUOuueyAij9TSndpaSQu2iB3QdFu2cq1LW!"));
  CHECK_FALSE(IsBcryptHash("$6$salt$0123456789012345678901234567890123456789012345678901"));
}

TEST_CASE("web config: passwords are checked with crypt(3)", "[web_config]") {
  const BasicAuthenticator auth(Users{{"alice", kAliceHash}, {"bob", kBobHash}});
  CHECK(auth.enabled());
  CHECK(auth.Verify("alice", "correct horse"));
  CHECK(auth.Verify("alice", "correct horse"));  // again: from the remembered digest
  CHECK_FALSE(auth.Verify("alice", "correct horsE"));
  CHECK_FALSE(auth.Verify("alice", ""));
  CHECK_FALSE(auth.Verify("alice", std::string("correct horse\0x", 15)));
  CHECK(auth.Verify("bob", "s3cret"));
  CHECK_FALSE(auth.Verify("bob", "correct horse"));  // alice's password is not bob's
  CHECK_FALSE(auth.Verify("carol", "correct horse"));
  CHECK_FALSE(auth.Verify("", ""));
  CHECK_FALSE(BasicAuthenticator(Users{}).enabled());
  CHECK_FALSE(BasicAuthenticator(Users{}).Verify("alice", "correct horse"));
}

TEST_CASE("web config: the Authorization header", "[web_config]") {
  const BasicAuthenticator auth(Users{{"alice", kAliceHash}});
  // base64("alice:correct horse")
  CHECK(auth.Check("Basic YWxpY2U6Y29ycmVjdCBob3JzZQ==") == std::optional<std::string>("alice"));
  CHECK(auth.Check("basic   YWxpY2U6Y29ycmVjdCBob3JzZQ==  ") ==
        std::optional<std::string>("alice"));
  CHECK_FALSE(auth.Check("Basic YWxpY2U6d3Jvbmc=").has_value());             // alice:wrong
  CHECK_FALSE(auth.Check("Basic YWxpY2U=").has_value());                     // alice (no colon)
  CHECK_FALSE(auth.Check("Basic YWxpY2U6Y29ycmVjdCBob3JzZQ=").has_value());  // bad padding
  CHECK_FALSE(auth.Check("Bearer YWxpY2U6Y29ycmVjdCBob3JzZQ==").has_value());
  CHECK_FALSE(auth.Check("BasicYWxpY2U6Y29ycmVjdCBob3JzZQ==").has_value());
  CHECK_FALSE(auth.Check("").has_value());
}

TEST_CASE("web config: base64 (RFC 4648 test vectors)", "[web_config]") {
  CHECK(DecodeBase64("") == std::optional<std::string>(""));
  CHECK(DecodeBase64("Zg==") == std::optional<std::string>("f"));
  CHECK(DecodeBase64("Zm8=") == std::optional<std::string>("fo"));
  CHECK(DecodeBase64("Zm9v") == std::optional<std::string>("foo"));
  CHECK(DecodeBase64("Zm9vYg==") == std::optional<std::string>("foob"));
  CHECK(DecodeBase64("Zm9vYmE=") == std::optional<std::string>("fooba"));
  CHECK(DecodeBase64("Zm9vYmFy") == std::optional<std::string>("foobar"));
  CHECK(DecodeBase64("+/+/") == std::optional<std::string>("\xfb\xff\xbf"));
  CHECK_FALSE(DecodeBase64("Zm9").has_value());
  CHECK_FALSE(DecodeBase64("Z===").has_value());
  CHECK_FALSE(DecodeBase64("Zg==Zm9v").has_value());
  CHECK_FALSE(DecodeBase64("Zm=v").has_value());
  CHECK_FALSE(DecodeBase64("Zm9v!A==").has_value());
}

TEST_CASE("web config: files", "[web_config]") {
  char pattern[] = "/tmp/netlens-webcfg.XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  const std::filesystem::path dir = pattern;
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  };

  SECTION("a missing web config file") {
    const std::string path = (dir / "absent.yml").string();
    try {
      LoadWebConfig(path);
      FAIL("loaded a missing file");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()) ==
            path + ": cannot read the web config file: No such file or directory");
    }
  }
  SECTION("relative certificate paths are taken against the web config file's directory") {
    const std::string path =
        write("web.yml", "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n");
    try {
      LoadWebConfig(path);
      FAIL("loaded a config whose certificate does not exist");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()) == path + ":2:14: cannot read cert_file '" +
                                             (dir / "c.pem").string() +
                                             "': No such file or directory");
    }
  }
  SECTION("a certificate file that holds no certificate") {
    write("c.pem", "not a certificate\n");
    const std::string path =
        write("web.yml", "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n");
    try {
      LoadWebConfig(path);
      FAIL("loaded a config whose certificate is not PEM");
    } catch (const ConfigError& error) {
      CHECK(std::string(error.what()) == path + ":2:14: cert_file '" + (dir / "c.pem").string() +
                                             "' holds no usable PEM certificate (no start line)");
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("web_config_file: the key of netlens.yaml", "[web_config]") {
  CHECK_FALSE(ParseConfig("", "t.yaml").web_config_file.has_value());
  CHECK(ParseConfig("web_config_file: /etc/netlens/web.yml\n", "t.yaml").web_config_file ==
        std::optional<std::string>("/etc/netlens/web.yml"));
  const auto error_of = [](const std::string& yaml) -> std::string {
    try {
      ParseConfig(yaml, "t.yaml");
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "accepted";
  };
  CHECK(error_of("web_config_file:\n") ==
        "t.yaml:1:1: 'web_config_file' must be a file path, got an empty value");
  CHECK(error_of("web_config_file: ''\n") ==
        "t.yaml:1:18: 'web_config_file' must be a file path, got ''");
  CHECK(error_of("web_config_file: [a]\n") ==
        "t.yaml:1:18: 'web_config_file' must be a file path, got a list");

  char pattern[] = "/tmp/netlens-webcfg.XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  const std::filesystem::path dir = pattern;
  SECTION("a relative path is taken against the config file's directory") {
    std::ofstream(dir / "netlens.yaml") << "web_config_file: tls/web.yml\n";
    CHECK(LoadConfigFile((dir / "netlens.yaml").string()).web_config_file ==
          std::optional<std::string>((dir / "tls/web.yml").string()));
  }
  SECTION("an absolute path is kept") {
    std::ofstream(dir / "netlens.yaml") << "web_config_file: /srv/web.yml\n";
    CHECK(LoadConfigFile((dir / "netlens.yaml").string()).web_config_file ==
          std::optional<std::string>("/srv/web.yml"));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace netlens
