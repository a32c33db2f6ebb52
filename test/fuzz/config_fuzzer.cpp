// Fuzz target: the main YAML config (daemon/config/config.cpp, with its targets, filters and
// services sections). Contract: ParseConfig returns a validated Config or throws ConfigError whose
// message starts with the source name; any other exception (uncaught: abort), crash, leak or UB is
// a finding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const netlens::Config config = netlens::ParseConfig(text, "fuzz.yaml");
    // What validation promises the rest of the daemon.
    NETLENS_FUZZ_CHECK(config.latency_buckets.min < config.latency_buckets.max);
    NETLENS_FUZZ_CHECK(config.limits.series_per_family >= 2);
    NETLENS_FUZZ_CHECK(config.process_ttl.count() > 0 && config.closed_retention.count() > 0);
    NETLENS_FUZZ_CHECK(!config.web_config_file || !config.web_config_file->empty());
    for (const netlens::ServiceRule& rule : config.labels.services)
      NETLENS_FUZZ_CHECK(!rule.name.empty());
  } catch (const netlens::ConfigError& error) {
    NETLENS_FUZZ_CHECK(std::string_view(error.what()).starts_with("fuzz.yaml"));
  }
  return 0;
}
