// The web configuration file (TLS and basic auth on the HTTP endpoint), in the shape of
// Prometheus's web config (https://prometheus.io/docs/prometheus/latest/configuration/https/):
//
//   tls_server_config:
//     cert_file: server.crt      # relative paths: against the web config file's directory
//     key_file: server.key
//     min_version: TLS12         # TLS10, TLS11, TLS12 (default), TLS13
//     max_version: TLS13         # default: the highest the library supports
//     prefer_server_cipher_suites: true
//   basic_auth_users:
//     alice: $2y$10$...          # bcrypt hash, e.g. from `htpasswd -nBC 10 alice`
//
// Errors are ConfigError (config.h) with "FILE:LINE:COLUMN: message".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace netlens {

struct TlsServerConfig {
  std::string cert_file;  // resolved against the web config file's directory
  std::string key_file;
  int min_version = 0;  // OpenSSL protocol version constant (TLS1_2_VERSION, ...)
  int max_version = 0;  // 0: no maximum
  bool prefer_server_cipher_suites = true;  // Prometheus's default
  std::string cert_file_at;  // "FILE:LINE:COLUMN" of the value, for errors found when loading
  std::string key_file_at;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;                   // unset: plain HTTP
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash; empty: no auth
  std::string source;                                   // the file, for logs; empty: none given
  std::shared_ptr<ssl_ctx_st> tls_context;              // made by LoadWebConfig when tls is set
};

// Parses the text of a web config file; file paths are resolved against base_dir (unless
// absolute). Checks the schema and the hashes, not the certificate files.
WebConfig ParseWebConfig(const std::string& yaml_text, const std::string& source_name,
                         const std::string& base_dir);
// Reads and parses `path`, and with tls_server_config also reads the certificate and the key
// into tls_context, so that every mistake in the files shows at start and in --check-config.
WebConfig LoadWebConfig(const std::string& path);

// A server-side TLS context holding the certificate chain and the key of `tls`, with its
// protocol versions. Throws ConfigError "FILE:LINE:COLUMN: ..." pointing at cert_file or
// key_file when a file cannot be read, is not PEM, or the key does not match the certificate.
std::shared_ptr<ssl_ctx_st> MakeTlsContext(const TlsServerConfig& tls);

// "TLS12" for TLS1_2_VERSION.
std::string TlsVersionName(int version);

// Whether `hash` is a bcrypt hash that crypt(3) verifies: $2a$, $2b$ or $2y$, cost 04-31.
bool IsBcryptHash(std::string_view hash);

// Decodes standard base64 (RFC 4648, with padding); nullopt if `text` is not valid base64.
std::optional<std::string> DecodeBase64(std::string_view text);

// The user and password of an "Authorization: Basic ..." value; nullopt if it is not one.
std::optional<std::pair<std::string, std::string>> ParseBasicCredentials(std::string_view header);

// Checks "Authorization: Basic ..." values against basic_auth_users. Thread-safe.
// bcrypt is slow on purpose (~50 ms at cost 10), so credentials that passed are remembered
// (as a SHA-256 digest, never in clear) and later scrapes with them cost a hash lookup;
// an unknown user costs a bcrypt run too, so timing does not tell which users exist.
class BasicAuthenticator {
 public:
  explicit BasicAuthenticator(std::map<std::string, std::string> users);
  bool enabled() const { return !users_.empty(); }
  // `header` is the value of the Authorization header (nullptr or empty: none sent).
  // Returns the user name if the credentials are valid.
  std::optional<std::string> Check(std::string_view header) const;
  // The same for a user name and a password.
  bool Verify(const std::string& user, const std::string& password) const;
  // Whether `header` holds credentials that passed before, so that Check costs no bcrypt run:
  // the HTTP server answers those apart from requests that need one (a flood of wrong
  // passwords must not delay Prometheus's scrapes).
  bool Remembered(std::string_view header) const;

 private:
  // The digest under which verified credentials are remembered; empty if hashing failed.
  std::string Digest(const std::string& user, const std::string& password,
                     const std::string& hash) const;

  std::map<std::string, std::string> users_;
  mutable std::mutex mutex_;
  mutable std::unordered_set<std::string> verified_;  // SHA-256 of user, password, hash
};

}  // namespace netlens
