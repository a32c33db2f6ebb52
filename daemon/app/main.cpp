// netlens: per-process TCP traffic from eBPF, served to Prometheus.
#include <bpf/libbpf.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "app/cli.h"
#include "app/config_reload.h"
#include "bpf/tracer.h"
#include "config/config.h"
#include "http/http_source.h"
#include "metrics/source_registry.h"
#include "process/cgroup_directory.h"
#include "process/process_info.h"
#include "self/self_source.h"
#include "serve/http_server.h"
#include "targets/target_selector.h"
#include "tcp/tcp_source.h"
#include "topology/topology_source.h"
#include "version.h"
// Service integration (systemd notifications, privilege drop, TLS/basic auth config).
#include "app/capabilities.h"
#include "app/systemd_notify.h"
#include "config/web_config.h"

namespace netlens {
namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
// Between scrapes the maps are still read this often: closed connections are
// drained and exited processes expire even when nobody scrapes.
constexpr int kRefreshSeconds = 10;
constexpr long kDrainMilliseconds = 200;  // tcp_closed for the service map

std::string LibbpfVersion() {
  return std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version());
}

std::string KernelRelease() {
  utsname name{};
  return uname(&name) == 0 ? name.release : "unknown";
}

int Run(const CliOptions& cli) {
  // Signals are taken synchronously by the main thread (the loop below); block them before
  // anything else, so that none of the other threads receives one and a SIGTERM during start-up
  // waits for the loop (a clean exit 0) instead of killing a half-loaded daemon.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Config config;
  WebConfig web;
  try {
    config = LoadEffectiveConfig(cli);
    if (config.web_config_file) web = LoadWebConfig(*config.web_config_file);
  } catch (const std::exception& e) {
    std::cerr << "netlens: " << e.what() << "\n";
    systemd::NotifyStatus(std::string("failed: ") + e.what());
    return kExitUsage;
  }
  ApplyLogLevel(config.log_level);

  // Declared before the server so that they are destroyed after it: on an error after
  // ServeMetrics, no scrape in flight may outlive the tracer and selector it reads.
  std::unique_ptr<Tracer> tracer;
  std::unique_ptr<CgroupDirectory> cgroups;
  std::unique_ptr<TargetSelector> targets;
  std::unique_ptr<TcpSource> tcp;
  std::unique_ptr<SelfSource> self;
  std::unique_ptr<http::HttpSource> http_requests;
  std::unique_ptr<nginx::NginxSource> nginx_phases;
  std::unique_ptr<topology::TopologySource> service_map;
  try {
    auto server = std::make_unique<HttpServer>(config.listen, web, config.http);
    tracer = Tracer::Load(config.limits, cli.btf_path, config.attach_mode, config.accounting);
    cgroups = std::make_unique<CgroupDirectory>(CgroupV2Root(), config.limits.target_cgroups);
    targets = std::make_unique<TargetSelector>(*tracer, config.limits, *cgroups);
    targets->Apply(config.targets, config.filters);
    tcp = std::make_unique<TcpSource>(*tracer, SettingsOf(config), *cgroups);
    tcp->SetTargetSelector(targets.get());
    self = std::make_unique<SelfSource>(
        *tracer, BuildInfo{NETLENS_VERSION, LibbpfVersion(), KernelRelease()});
    // Loaded before privileges are dropped; off unless http_requests selects processes.
    if (config.http_requests.enabled())
      http_requests = http::HttpSource::Start(HttpSettingsOf(config, cli));
    // Likewise nginx_phases: one uprobe per nginx binary, once per request.
    if (config.nginx_phases.enabled())
      nginx_phases = nginx::NginxSource::Start(NginxSettingsOf(config, cli));
    // The service map reads the tcp source's snapshots; off unless service_map.enabled.
    if (config.service_map.enabled) {
      service_map = std::make_unique<topology::TopologySource>(TopologySettingsOf(config));
      tcp->SetSnapshotObserver(
          [map = service_map.get()](const KernelSnapshot& snapshot) { map->Observe(snapshot); },
          [map = service_map.get()](const auto& closed) { map->ObserveClosed(closed); });
      if (http_requests) {
        // Requests per edge: each exchange the HTTP source completes, and whose traffic it
        // parses (an exchange is counted once, by the server end where it is parsed).
        http_requests->SetExchangeObserver(
            [map = service_map.get()](const auto& exchange) { map->ObserveRequest(exchange); });
        service_map->SetParsedProcesses(
            [http = http_requests.get()](uint32_t pid) { return http->Parses(pid); });
      }
    }
    // The metric sources, in exposition order (docs/adding-a-source.md).
    auto registry = std::make_shared<SourceRegistry>();
    registry->Add(tcp.get());
    if (service_map) registry->Add(service_map.get());
    if (http_requests) registry->Add(http_requests.get());
    if (nginx_phases) registry->Add(nginx_phases.get());
    registry->Add(self.get());
    registry->Add(targets.get());
    tracer->Attach();  // the maps that steer the programs are written: from here on, counted
    server->ServeMetrics(registry);
    spdlog::info("netlens {} serving {} (aggregation {}, config {})", NETLENS_VERSION,
                 server->metrics_url(), LevelName(config.level), config.source);

    // ---- service integration: drop privileges, then tell systemd start-up is over ----
    const CapabilityDrop dropped = DropCapabilities(ReadsExeOfOtherUsers(config));
    spdlog::info(
        "capabilities dropped in all {} threads: kept {}{}; bounding set {}; "
        "no_new_privs set",
        dropped.threads, CapabilityNames(dropped.kept),
        dropped.reason.empty() ? "" : " (" + dropped.reason + ")",
        dropped.bounding_set_cleared ? "cleared" : "left as is (no CAP_SETPCAP)");
    const std::string status = "serving " + server->metrics_url() + " (aggregation " +
                               std::string(LevelName(config.level)) + ")";
    systemd::NotifyReady(status);
    // ---- end of service integration ----

    // The service map drains tcp_closed every 200 ms between the refreshes.
    const timespec tick =
        service_map ? timespec{0, kDrainMilliseconds * 1'000'000} : timespec{kRefreshSeconds, 0};
    auto next_refresh = std::chrono::steady_clock::now() + std::chrono::seconds(kRefreshSeconds);
    while (true) {
      siginfo_t info{};
      const int signal = sigtimedwait(&signals, &info, &tick);
      if (signal == SIGHUP) {
        systemd::NotifyReloading("reloading " + config.source);
        Reload(cli, config, *tcp, *self, *targets, http_requests.get());
        systemd::NotifyReady(status);
      } else if (signal == SIGTERM || signal == SIGINT) {
        // Detach at once; then leave without waiting for the HTTP server's
        // connections and threads to wind down, which the kernel tidies.
        systemd::NotifyStopping("stopping (signal " + std::to_string(signal) + ")");
        tracer->Detach();
        spdlog::info("signal {}: programs detached, exiting", signal);
        // Flushed, not shut down: the HTTP threads still run and may log until _Exit.
        spdlog::default_logger()->flush();
        std::_Exit(0);
      } else if (std::chrono::steady_clock::now() >= next_refresh) {
        tcp->Refresh();
        next_refresh = std::chrono::steady_clock::now() + std::chrono::seconds(kRefreshSeconds);
      } else {
        tcp->DrainClosed();
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    systemd::NotifyStatus(std::string("failed: ") + e.what());
    return kExitRuntime;
  }
  return 0;
}

}  // namespace
}  // namespace netlens

int main(int argc, char** argv) {
  using namespace netlens;
  // One malloc arena: the threads that allocate much (the HTTP workers, the refresh
  // loop) take turns under the collector's mutex, so more arenas buy no concurrency, only a
  // high-water mark each: at 10k connections at connection level, 78 MiB RSS vs 52 with one.
  mallopt(M_ARENA_MAX, 1);
  spdlog::set_default_logger(spdlog::stderr_color_mt("netlens"));  // stdout stays for answers
  CliOptions cli;
  try {
    cli = ParseCli(argc, argv);
  } catch (const CliError& e) {
    std::cerr << "netlens: " << e.what() << "\nRun 'netlens --help' for usage.\n";
    return kExitUsage;
  }
  if (cli.help) {
    std::cout << Usage();
    return 0;
  }
  if (cli.version) {
    std::cout << "netlens " << NETLENS_VERSION << " (libbpf " << LibbpfVersion() << ")\n";
    return 0;
  }
  if (cli.check_config) {
    try {
      const Config config = LoadConfigFile(*cli.check_config);
      if (config.web_config_file) LoadWebConfig(*config.web_config_file);  // TLS files too
      std::cout << *cli.check_config << ": OK (aggregation " << LevelName(config.level) << ")\n";
      return 0;
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      return kExitUsage;
    }
  }
  return Run(cli);
}
