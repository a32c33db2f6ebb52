// The running configuration: the file (or the embedded default) with the command line on top,
// what each part of netlens is given of it, and SIGHUP's reload, which keeps what only a
// restart can change (listen, http, kernel map sizes) and every counter.
#pragma once

#include <string>

#include "app/cli.h"
#include "config/config.h"
#include "http/http_source.h"
#include "nginx/nginx_source.h"
#include "self/self_source.h"
#include "targets/target_selector.h"
#include "tcp/aggregator.h"
#include "tcp/tcp_source.h"
#include "topology/topology_source.h"

namespace netlens {

Config LoadEffectiveConfig(const CliOptions& cli);
AggregatorSettings SettingsOf(const Config& config);
http::HttpSourceSettings HttpSettingsOf(const Config& config, const CliOptions& cli);
nginx::NginxSourceSettings NginxSettingsOf(const Config& config, const CliOptions& cli);
topology::TopologySettings TopologySettingsOf(const Config& config);
void ApplyLogLevel(const std::string& level);
// Reads the config again and applies it; an invalid file leaves `current` running (counted in
// netlens_config_reloads_total{result="failure"}). http: null when http_requests was off at
// start (turning it on needs a restart: the capture is loaded with privileges).
void Reload(const CliOptions& cli, Config& current, TcpSource& tcp, SelfSource& self,
            TargetSelector& targets, http::HttpSource* http);

}  // namespace netlens
