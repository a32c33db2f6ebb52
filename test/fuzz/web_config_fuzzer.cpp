// Fuzz target: the web config file (TLS and basic auth; daemon/config/web_config.cpp), from its
// text. Certificate files are not read (LoadWebConfig does that), only the schema and the bcrypt
// hashes (IsBcryptHash asks crypt(3) at the cheapest cost). Contract: a WebConfig or ConfigError
// naming the source; TLS settings come with both files, basic-auth users with valid hashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/web_config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const netlens::WebConfig web = netlens::ParseWebConfig(text, "web.yml", "/etc/netlens");
    if (web.tls) {
      NETLENS_FUZZ_CHECK(!web.tls->cert_file.empty() && !web.tls->key_file.empty());
      NETLENS_FUZZ_CHECK(web.tls->max_version == 0 || web.tls->max_version >= web.tls->min_version);
    }
    for (const auto& [user, hash] : web.basic_auth_users) {
      NETLENS_FUZZ_CHECK(!user.empty() && user.find(':') == std::string::npos);
      NETLENS_FUZZ_CHECK(netlens::IsBcryptHash(hash));
    }
  } catch (const netlens::ConfigError& error) {
    NETLENS_FUZZ_CHECK(std::string_view(error.what()).starts_with("web.yml"));
  }
  return 0;
}
