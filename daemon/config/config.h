// netlens configuration: the YAML schema, its defaults and its validation.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "http/http_config.h"
#include "nginx/nginx_config.h"
#include "targets/target_config.h"
#include "topology/service_map_config.h"

namespace netlens {

// How finely traffic series are broken down (see docs/metrics.md).
enum class Level {
  kProcess,     // pid, comm
  kRemote,      // + direction, family, remote_address, service_port
  kConnection,  // + full five-tuple
};

struct Limits {
  uint32_t connections = 65536;         // live connections tracked in the kernel (conns map)
  uint32_t aggregates = 16384;          // per-process/remote totals in the kernel (totals map)
  uint32_t closed_connections = 16384;  // closed connections awaiting a scrape (connection level)
  uint32_t listeners = 4096;            // listening ports remembered for accepted connections
  uint32_t series_per_family = 10000;   // series per metric family before folding into "other"
  uint32_t processes = 16384;           // processes whose metadata (labels) is cached
  uint32_t target_processes = 16384;    // processes judged by user space (targets: comm_regex, exe)
  uint32_t target_cgroups = 16384;      // cgroups listed for cgroup/unit/container selectors
};

// A `services` rule: every condition it gives must hold; the first rule that matches names
// the `service` label of a series.
struct ServiceRule {
  std::string name;
  std::string comm;    // exact process name; "" = any
  std::string exe;     // glob (fnmatch) on the executable path; "" = any
  std::string cgroup;  // glob (fnmatch) on the cgroup path; "" = any
  uint16_t port = 0;   // the service port of the series (docs/metrics.md); 0 = any
  bool operator==(const ServiceRule&) const = default;
};

// Labels from process metadata, each switchable (config `labels`, `metadata`, `services`),
// and the pid label itself.
struct LabelSettings {
  bool pid = true;  // off: processes with the same other labels (comm, ...) share one series
  bool exe = false;
  bool cgroup = false;
  bool container_id = true;
  bool pod = true;
  bool k8s_namespace = true;  // the `namespace` label
  bool systemd_unit = true;
  bool netns = false;
  bool netns_name = false;
  bool service = true;  // shown only when there are `services` rules
  bool instance = false;
  std::string instance_value;  // "" = this host's name
  std::string pods_directory = "/var/log/pods";
  std::string netns_directory = "/run/netns";
  std::chrono::seconds refresh{60};  // a process's metadata is read again after this long
  uint32_t processes = 16384;        // metadata cache bound, from limits.processes
  std::vector<ServiceRule> services;
  bool operator==(const LabelSettings&) const = default;
};

// The bucket bounds (le) of the latency histograms that /metrics shows; the kernel keeps
// fixed log2 buckets, finer and wider (docs/metrics.md).
struct LatencyBuckets {
  std::chrono::nanoseconds min{1'000};           // first bound: the smallest one >= min
  std::chrono::nanoseconds max{60'000'000'000};  // last bound: the smallest one >= max
};

// How the HTTP endpoint treats its clients (config `http`, daemon/serve/http_server.h): deadlines
// for slow or idle connections and bounds on how many one host and all hosts may hold.
struct HttpSettings {
  std::chrono::milliseconds request_header_timeout{5000};  // connect (or last response) to headers
  std::chrono::milliseconds request_timeout{10000};        // to the last byte of the response
  uint32_t max_connections = 1024;                         // open at once; beyond, closed at once
  uint32_t max_connections_per_peer = 128;                 // open at once from one client address
  bool operator==(const HttpSettings&) const = default;
};

struct Config {
  std::string listen = "127.0.0.1:9750";
  HttpSettings http;
  Level level = Level::kRemote;
  std::string log_level = "info";     // trace, debug, info, warn, error, critical, off
  std::string attach_mode = "auto";   // send/receive hooks: auto or one of kAttachModeNames
  std::string accounting = "kernel";  // kernel (socket counters) or events (per send/receive)
  Limits limits;
  LatencyBuckets latency_buckets;
  LabelSettings labels;
  std::chrono::seconds process_ttl{300};       // series of an exited process are kept this long
  std::chrono::seconds closed_retention{300};  // connection level: closed connections kept
  // TLS and basic auth of the HTTP endpoint (web_config.h); unset: plain HTTP, no auth.
  // A relative path in a config file is taken against that file's directory.
  std::optional<std::string> web_config_file;
  TargetsConfig targets;                      // which processes are watched (target_config.h)
  FiltersConfig filters;                      // which of their connections are watched
  http::HttpRequestsConfig http_requests;     // HTTP/1.x request metrics (http/http_config.h)
  nginx::NginxPhasesConfig nginx_phases;      // nginx's own request timers (nginx/nginx_config.h)
  topology::ServiceMapConfig service_map;     // edges between workloads (topology/)
  std::string source = "<embedded default>";  // where this config came from, for logs
};

// Every configuration error; what() is "SOURCE:LINE:COLUMN: message" whenever
// the error has a place in the file.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

Config ParseConfig(const std::string& yaml_text, const std::string& source_name);
Config LoadConfigFile(const std::string& path);
// The whole file; ConfigError "PATH: cannot read<what>: <strerror>" if it cannot be read.
std::string ReadConfigText(const std::string& path, const std::string& what);
Config DefaultConfig();
std::string_view EmbeddedDefaultConfig();
std::string_view LevelName(Level level);

// The accepted log_level values (spdlog's level names), least to most severe.
inline constexpr std::array<std::string_view, 7> kLogLevelNames = {
    "trace", "debug", "info", "warn", "error", "critical", "off"};

// The accepted attach_mode values; "auto" probes the kernel (docs/kernels.md).
inline constexpr std::array<std::string_view, 5> kAttachModeNames = {"auto", "tp_btf", "tracepoint",
                                                                     "fentry", "kprobe"};

// The accepted accounting values: kernel reads the kernel's per-socket TCP counters (nothing
// on the send/receive path), events counts every send and receive call (docs/metrics.md).
inline constexpr std::array<std::string_view, 2> kAccountingNames = {"kernel", "events"};

// Shared with the command-line parser so both phrase their errors alike.
// "a, b, c": for the list of valid keys or values in an error message.
std::string JoinNames(std::span<const std::string_view> names);
// The "did you mean" of error messages: the candidate closest to `word` if it is at most 2
// edits away (a transposition counts as one), else the first one that `word` abbreviates or
// extends ("crit", "warning"; the shorter of the two has 3+ characters), else empty.
std::string_view ClosestName(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace netlens
