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
  // Said at start and at every reload, so that nobody waits for series that cannot come.
  if (config.http_requests.enabled())
    spdlog::warn(
        "http_requests: HTTP request metrics are not served by this version yet (issue 16: "
        "the parser and the kernel capture are built but not connected); the section is "
        "checked and has no effect");
  return config;
}

AggregatorSettings SettingsOf(const Config& config) {
  AggregatorSettings settings{config.level,           config.limits.series_per_family,
                              config.process_ttl,     config.closed_retention,
                              config.latency_buckets, config.labels};
  settings.labels.processes = config.limits.processes;
  return settings;
}

void ApplyLogLevel(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

void Reload(const CliOptions& cli, Config& current, TcpSource& tcp, SelfSource& self,
            TargetSelector& targets) {
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
