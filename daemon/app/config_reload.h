// The running configuration: the file (or the embedded default) with the command line on top,
// what each part of netlens is given of it, and SIGHUP's reload, which keeps what only a
// restart can change (listen, http, kernel map sizes) and every counter.
#pragma once

#include <string>

#include "app/cli.h"
#include "config/config.h"
#include "self/self_source.h"
#include "targets/target_selector.h"
#include "tcp/aggregator.h"
#include "tcp/tcp_source.h"

namespace netlens {

Config LoadEffectiveConfig(const CliOptions& cli);
AggregatorSettings SettingsOf(const Config& config);
void ApplyLogLevel(const std::string& level);
// Reads the config again and applies it; an invalid file leaves `current` running (counted in
// netlens_config_reloads_total{result="failure"}).
void Reload(const CliOptions& cli, Config& current, TcpSource& tcp, SelfSource& self,
            TargetSelector& targets);

}  // namespace netlens
