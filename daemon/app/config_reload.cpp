#include "app/config_reload.h"

#include <spdlog/spdlog.h>

namespace netlens {

// The config file (or the embedded default) with the command line on top.
Config LoadEffectiveConfig(const CliOptions& cli) {
  Config config = cli.config_path ? LoadConfigFile(*cli.config_path) : DefaultConfig();
  if (cli.listen) config.listen = *cli.listen;
  if (cli.log_level) config.log_level = *cli.log_level;
  if (cli.attach_mode) config.attach_mode = *cli.attach_mode;
  if (cli.accounting) config.accounting = *cli.accounting;
  if (cli.web_config_file) config.web_config_file = *cli.web_config_file;
  return config;
}

AggregatorSettings SettingsOf(const Config& config) {
  AggregatorSettings settings{config.level,           config.limits.series_per_family,
                              config.process_ttl,     config.closed_retention,
                              config.latency_buckets, config.labels};
  settings.labels.processes = config.limits.processes;
  return settings;
}

http::HttpSourceSettings HttpSettingsOf(const Config& config, const CliOptions& cli) {
  http::HttpSourceSettings settings;
  settings.requests = config.http_requests;
  settings.labels = SettingsOf(config).labels;
  settings.series_budget = config.limits.series_per_family;
  settings.latency_buckets = config.latency_buckets;
  settings.max_processes = config.limits.target_processes;
  settings.btf_path = cli.btf_path;
  settings.process_ttl = config.process_ttl;
  return settings;
}

nginx::NginxSourceSettings NginxSettingsOf(const Config& config, const CliOptions& cli) {
  nginx::NginxSourceSettings settings;
  settings.phases = config.nginx_phases;
  settings.series_budget = config.limits.series_per_family;
  settings.latency_buckets = config.latency_buckets;
  settings.max_processes = config.limits.target_processes;
  settings.btf_path = cli.btf_path;
  return settings;
}

topology::TopologySettings TopologySettingsOf(const Config& config) {
  topology::TopologySettings settings;
  settings.service_map = config.service_map;
  settings.labels = SettingsOf(config).labels;
  settings.series_budget = config.limits.series_per_family;
  settings.idle_retention = config.process_ttl;
  settings.latency_buckets = config.latency_buckets;
  return settings;
}

void ApplyLogLevel(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

void Reload(const CliOptions& cli, Config& current, TcpSource& tcp, SelfSource& self,
            TargetSelector& targets, http::HttpSource* http) {
  try {
    Config next = LoadEffectiveConfig(cli);
    if (next.listen != current.listen)
      spdlog::warn("reload: listen {} -> {} needs a restart; still on {}", current.listen,
                   next.listen, current.listen);
    if (next.http != current.http) spdlog::warn("reload: http.* changes only at restart");
    const Limits& a = current.limits;
    const Limits& b = next.limits;
    if (a.connections != b.connections || a.aggregates != b.aggregates ||
        a.closed_connections != b.closed_connections || a.listeners != b.listeners ||
        a.target_processes != b.target_processes || a.target_cgroups != b.target_cgroups)
      spdlog::warn("reload: kernel map sizes (limits.*) change only at restart");
    if (next.attach_mode != current.attach_mode || next.accounting != current.accounting)
      spdlog::warn("reload: attach_mode and accounting change only at restart");
    next.listen = current.listen;
    next.http = current.http;
    next.attach_mode = current.attach_mode;
    next.accounting = current.accounting;
    next.limits.connections = a.connections;
    next.limits.aggregates = a.aggregates;
    next.limits.closed_connections = a.closed_connections;
    next.limits.listeners = a.listeners;
    next.limits.target_processes = a.target_processes;
    next.limits.target_cgroups = a.target_cgroups;
    targets.Apply(next.targets, next.filters);
    tcp.Reconfigure(SettingsOf(next));
    if (http) {
      http->Reconfigure(HttpSettingsOf(next, cli));
    } else if (next.http_requests.enabled()) {
      spdlog::warn("reload: http_requests was off at start; turning it on needs a restart");
    }
    if (next.nginx_phases.enabled() != current.nginx_phases.enabled() ||
        next.nginx_phases.routes != current.nginx_phases.routes)
      spdlog::warn("reload: nginx_phases changes need a restart; still as at start");
    next.nginx_phases = current.nginx_phases;
    if (next.service_map != current.service_map)
      spdlog::warn("reload: service_map changes need a restart; still as at start");
    next.service_map = current.service_map;
    ApplyLogLevel(next.log_level);
    current = next;
    self.CountReload(true);
    spdlog::info("reloaded {}: aggregation {}", current.source, LevelName(current.level));
  } catch (const std::exception& e) {
    self.CountReload(false);
    spdlog::error("reload failed, keeping the running config: {}", e.what());
  }
}

}  // namespace netlens
