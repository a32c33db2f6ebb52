// Parses the web config file (web_config.h) and builds what the HTTP server needs from it:
// an OpenSSL server context and a basic-auth checker over bcrypt hashes (libxcrypt's crypt_r).
#include "config/web_config.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "config/config.h"
#include "config/yaml_walk.h"

namespace netlens {
namespace {

// ---- positions and messages, as config.cpp phrases them -------------------------------------

[[noreturn]] void Fail(const std::string& source, const YAML::Mark& mark,
                       const std::string& message) {
  FailAtMark(source, mark, message);
}

using Entry = YamlField;

// Keys of Prometheus's web config that netlens does not implement: naming them as such is
// clearer than "unknown key", and silently ignoring e.g. client_auth_type would be unsafe.
constexpr std::array<std::string_view, 3> kUnsupportedTopKeys = {"http_server_config", "rate_limit",
                                                                 "tls_config"};
constexpr std::array<std::string_view, 8> kUnsupportedTlsKeys = {"cert",
                                                                 "key",
                                                                 "client_ca_file",
                                                                 "client_ca",
                                                                 "cipher_suites",
                                                                 "curve_preferences",
                                                                 "client_allowed_sans",
                                                                 "client_auth_type"};

// The shared walker (yaml_walk.h), by key name. client_auth_type: NoClientCert, the default,
// is what netlens does: it is accepted and ignored.
template <size_t N, size_t M, typename Visit>
void ForEachWebKey(const std::string& source, const YAML::Node& map, const std::string& section,
                   const std::array<std::string_view, N>& known,
                   const std::array<std::string_view, M>& unsupported, Visit visit) {
  ForEachKey(
      source, map, section, {known, unsupported},
      [&](size_t index, const Entry& entry) { visit(known[index], entry); },
      [](const Entry& entry) {
        return entry.key().Scalar() == "client_auth_type" && entry.value().IsScalar() &&
               entry.value().Scalar() == "NoClientCert";
      });
}

struct TlsVersion {
  std::string_view name;
  int version;
};
constexpr std::array<TlsVersion, 4> kTlsVersions = {{{"TLS10", TLS1_VERSION},
                                                     {"TLS11", TLS1_1_VERSION},
                                                     {"TLS12", TLS1_2_VERSION},
                                                     {"TLS13", TLS1_3_VERSION}}};

int ParseTlsVersion(const Entry& entry) {
  std::array<std::string_view, kTlsVersions.size()> names;
  std::transform(kTlsVersions.begin(), kTlsVersions.end(), names.begin(),
                 [](const TlsVersion& v) { return v.name; });
  const std::string expectation = "one of " + JoinNames(names);
  const std::string& text = entry.NonEmptyScalar(expectation);
  for (const TlsVersion& v : kTlsVersions) {
    if (text == v.name) return v.version;
  }
  std::string message = "'" + entry.path() + "' must be " + expectation + ", got '" + text + "'";
  if (std::string_view closest = ClosestName(text, names); !closest.empty()) {
    message += " (did you mean '" + std::string(closest) + "'?)";
  }
  entry.Fail(message);
}

bool ParseBool(const Entry& entry) {
  const std::string& text = entry.NonEmptyScalar("true or false");
  if (text == "true") return true;
  if (text == "false") return false;
  entry.FailExpected("true or false");
}

std::string ResolvePath(const std::string& path, const std::string& base_dir) {
  if (base_dir.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (std::filesystem::path(base_dir) / path).string();
}

std::optional<TlsServerConfig> ParseTls(const Entry& section, const std::string& base_dir) {
  if (section.value().IsNull()) return std::nullopt;  // "tls_server_config:" alone: plain HTTP
  if (!section.value().IsMap()) section.FailExpected("a map with cert_file and key_file");
  constexpr std::array<std::string_view, 5> kKeys = {"cert_file", "key_file", "min_version",
                                                     "max_version", "prefer_server_cipher_suites"};
  TlsServerConfig tls;
  tls.min_version = TLS1_2_VERSION;
  std::optional<Entry> max_entry;
  ForEachWebKey(section.source(), section.value(), section.path(), kKeys, kUnsupportedTlsKeys,
                [&](std::string_view name, const Entry& entry) {
                  if (name == "cert_file") {
                    tls.cert_file = ResolvePath(entry.NonEmptyScalar("a file path"), base_dir);
                    tls.cert_file_at = entry.At();
                  } else if (name == "key_file") {
                    tls.key_file = ResolvePath(entry.NonEmptyScalar("a file path"), base_dir);
                    tls.key_file_at = entry.At();
                  } else if (name == "min_version") {
                    tls.min_version = ParseTlsVersion(entry);
                  } else if (name == "max_version") {
                    tls.max_version = ParseTlsVersion(entry);
                    max_entry.emplace(entry);
                  } else {
                    tls.prefer_server_cipher_suites = ParseBool(entry);
                  }
                });
  std::vector<std::string_view> missing;
  if (tls.cert_file.empty()) missing.push_back("cert_file");
  if (tls.key_file.empty()) missing.push_back("key_file");
  if (!missing.empty()) {
    Fail(section.source(), section.key().Mark(),
         "'" + section.path() + "' needs cert_file and key_file (missing: " + JoinNames(missing) +
             ")");
  }
  if (max_entry && tls.max_version < tls.min_version) {
    max_entry->Fail("'" + max_entry->path() + "' (" + TlsVersionName(tls.max_version) +
                    ") is below min_version (" + TlsVersionName(tls.min_version) + ")");
  }
  return tls;
}

std::map<std::string, std::string> ParseUsers(const Entry& section) {
  std::map<std::string, std::string> users;
  if (section.value().IsNull()) return users;
  if (!section.value().IsMap()) section.FailExpected("a map of user: bcrypt-hash");
  std::map<std::string, int> first_line;
  for (const auto& key_value : section.value()) {
    const YAML::Node& key = key_value.first;
    if (!key.IsScalar() || key.Scalar().empty()) {
      Fail(section.source(), key.Mark(), "user names must be plain text, got " + DescribeNode(key));
    }
    const std::string& user = key.Scalar();
    if (user.find(':') != std::string::npos) {
      Fail(section.source(), key.Mark(),
           "user name '" + user + "' contains ':', which basic auth cannot carry");
    }
    if (auto seen = first_line.find(user); seen != first_line.end()) {
      Fail(
          section.source(), key.Mark(),
          "duplicate user '" + user + "' (first set on line " + std::to_string(seen->second) + ")");
    }
    first_line[user] = key.Mark().line + 1;
    const Entry entry(section.source(), section.path() + "." + user, key, key_value.second);
    const std::string& hash = entry.NonEmptyScalar("a bcrypt hash");
    if (!IsBcryptHash(hash)) {
      entry.Fail("'" + entry.path() +
                 "' must be a bcrypt hash ($2y$, $2b$ or $2a$, cost 04-31, 60 characters), "
                 "e.g. from `htpasswd -nBC 10 " +
                 user + "`; plain-text passwords are not accepted");
    }
    users.emplace(user, hash);
  }
  return users;
}

// ---- OpenSSL --------------------------------------------------------------------------------

// The first reason OpenSSL queued (the specific one; later entries like "PEM lib" name only
// the layer that passed it on), and clears the queue.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no details from OpenSSL";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "OpenSSL error " + std::to_string(code);
}

void RequireReadable(const std::string& path, const std::string& at, std::string_view key) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    throw ConfigError(at + ": cannot read " + std::string(key) + " '" + path +
                      "': " + std::strerror(errno));
  }
  std::fclose(file);
}

std::string Sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

// crypt(3) of `password` with the salt and cost of `hash` equals `hash`.
bool CryptMatches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();  // zeroed, as crypt_r requires on first use
  const char* result = crypt_r(password.c_str(), hash.c_str(), data.get());
  return result != nullptr && result[0] != '*' && std::strlen(result) == hash.size() &&
         CRYPTO_memcmp(result, hash.data(), hash.size()) == 0;
}

bool IsBcryptChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '/';
}

}  // namespace

std::string TlsVersionName(int version) {
  for (const TlsVersion& v : kTlsVersions) {
    if (v.version == version) return std::string(v.name);
  }
  return "TLS version " + std::to_string(version);
}

bool IsBcryptHash(std::string_view hash) {
  // $2y$10$ + 22 characters of salt + 31 of checksum.
  constexpr size_t kLength = 60;
  if (hash.size() != kLength ||
      !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))) {
    return false;
  }
  const std::string_view cost = hash.substr(4, 2);
  if (!std::isdigit(static_cast<unsigned char>(cost[0])) ||
      !std::isdigit(static_cast<unsigned char>(cost[1])) || hash[6] != '$') {
    return false;
  }
  const int rounds = (cost[0] - '0') * 10 + (cost[1] - '0');
  if (rounds < 4 || rounds > 31) return false;
  const std::string_view rest = hash.substr(7);
  if (!std::all_of(rest.begin(), rest.end(), IsBcryptChar)) return false;
  // Ask crypt(3) itself whether it takes this prefix and salt, at the cheapest cost (the
  // hash's own cost could take minutes): it answers with a string starting with '*' if not.
  const std::string probe =
      std::string(hash.substr(0, 4)) + "04$" + std::string(rest.substr(0, 22));
  auto data = std::make_unique<crypt_data>();
  const char* result = crypt_r("", probe.c_str(), data.get());
  return result != nullptr && result[0] != '*';
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int padding = 0;
    uint32_t bits = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=') {
        // Only the last one or two characters of the last group may be padding.
        if (!last || j < 2) return std::nullopt;
        ++padding;
        bits <<= 6;
        continue;
      }
      const int v = value(c);
      if (v < 0 || padding > 0) return std::nullopt;
      bits = (bits << 6) | static_cast<uint32_t>(v);
    }
    out += static_cast<char>((bits >> 16) & 0xff);
    if (padding < 2) out += static_cast<char>((bits >> 8) & 0xff);
    if (padding < 1) out += static_cast<char>(bits & 0xff);
  }
  return out;
}

WebConfig ParseWebConfig(const std::string& yaml_text, const std::string& source_name,
                         const std::string& base_dir) {
  WebConfig config;
  config.source = source_name;
  const YAML::Node root = LoadSingleDocument(yaml_text, source_name);
  if (root.IsNull()) return config;  // empty: plain HTTP, no auth (as Prometheus does)
  if (!root.IsMap()) {
    Fail(source_name, root.Mark(),
         "the top level must be a map with tls_server_config and/or basic_auth_users, got " +
             DescribeNode(root));
  }
  constexpr std::array<std::string_view, 2> kKeys = {"tls_server_config", "basic_auth_users"};
  ForEachWebKey(source_name, root, "", kKeys, kUnsupportedTopKeys,
                [&](std::string_view name, const Entry& entry) {
                  if (name == "tls_server_config") {
                    config.tls = ParseTls(entry, base_dir);
                  } else {
                    config.basic_auth_users = ParseUsers(entry);
                  }
                });
  return config;
}

WebConfig LoadWebConfig(const std::string& path) {
  const std::string text = ReadConfigText(path, " the web config file");
  WebConfig config = ParseWebConfig(text, path, std::filesystem::path(path).parent_path().string());
  if (config.tls) config.tls_context = MakeTlsContext(*config.tls);
  return config;
}

std::shared_ptr<ssl_ctx_st> MakeTlsContext(const TlsServerConfig& tls) {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> context(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (!context) throw ConfigError("cannot create a TLS context: " + OpenSslError());
  SSL_CTX* ctx = context.get();
  if (SSL_CTX_set_min_proto_version(ctx, tls.min_version) != 1 ||
      (tls.max_version != 0 && SSL_CTX_set_max_proto_version(ctx, tls.max_version) != 1)) {
    throw ConfigError("cannot set the TLS versions: " + OpenSslError());
  }
  uint64_t options = SSL_OP_NO_RENEGOTIATION;
  if (tls.prefer_server_cipher_suites) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  SSL_CTX_set_options(ctx, options);

  RequireReadable(tls.cert_file, tls.cert_file_at, "cert_file");
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    throw ConfigError(tls.cert_file_at + ": cert_file '" + tls.cert_file +
                      "' holds no usable PEM certificate (" + OpenSslError() + ")");
  }
  RequireReadable(tls.key_file, tls.key_file_at, "key_file");
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the key against the certificate loaded above as it loads it.
    const unsigned long code = ERR_peek_error();
    if (ERR_GET_LIB(code) == ERR_LIB_X509 && ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH) {
      throw ConfigError(tls.key_file_at + ": key_file '" + tls.key_file +
                        "' is not the key of the certificate in cert_file '" + tls.cert_file +
                        "' (" + OpenSslError() + ")");
    }
    throw ConfigError(tls.key_file_at + ": key_file '" + tls.key_file +
                      "' holds no usable PEM private key (" + OpenSslError() + ")");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    throw ConfigError(tls.key_file_at + ": key_file '" + tls.key_file +
                      "' is not the key of the certificate in cert_file '" + tls.cert_file + "' (" +
                      OpenSslError() + ")");
  }
  return context;
}

BasicAuthenticator::BasicAuthenticator(std::map<std::string, std::string> users)
    : users_(std::move(users)) {}

bool BasicAuthenticator::Verify(const std::string& user, const std::string& password) const {
  if (users_.empty() || password.find('\0') != std::string::npos) return false;
  const auto found = users_.find(user);
  // An unknown user is checked against a hash of a configured user's cost, so it takes as
  // long as a wrong password does; the result is then discarded.
  const std::string& hash = found != users_.end() ? found->second : users_.begin()->second;
  const std::string digest = Digest(user, password, hash);
  if (found != users_.end() && !digest.empty()) {
    std::lock_guard lock(mutex_);
    if (verified_.count(digest) != 0) return true;
  }
  const bool matches = CryptMatches(password, hash);
  if (found == users_.end() || !matches) return false;
  if (!digest.empty()) {
    constexpr size_t kMaxRemembered = 1024;
    std::lock_guard lock(mutex_);
    if (verified_.size() >= kMaxRemembered) verified_.clear();
    verified_.insert(digest);
  }
  return true;
}

std::string BasicAuthenticator::Digest(const std::string& user, const std::string& password,
                                       const std::string& hash) const {
  std::string key = user;
  key += '\0';
  key += password;
  key += '\0';
  key += hash;
  return Sha256(key);
}

bool BasicAuthenticator::Remembered(std::string_view header) const {
  const std::optional<std::pair<std::string, std::string>> credentials =
      ParseBasicCredentials(header);
  if (!credentials) return false;
  const auto found = users_.find(credentials->first);
  if (found == users_.end()) return false;
  const std::string digest = Digest(credentials->first, credentials->second, found->second);
  std::lock_guard lock(mutex_);
  return !digest.empty() && verified_.count(digest) != 0;
}

std::optional<std::string> BasicAuthenticator::Check(std::string_view header) const {
  const std::optional<std::pair<std::string, std::string>> credentials =
      ParseBasicCredentials(header);
  if (!credentials || !Verify(credentials->first, credentials->second)) return std::nullopt;
  return credentials->first;
}

std::optional<std::pair<std::string, std::string>> ParseBasicCredentials(std::string_view header) {
  constexpr std::string_view kScheme = "basic";
  if (header.size() <= kScheme.size() || header[kScheme.size()] != ' ') return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  std::string_view encoded = header.substr(kScheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  const std::optional<std::string> decoded = DecodeBase64(encoded);
  if (!decoded) return std::nullopt;
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

}  // namespace netlens
