#include "http/capture_source.h"

#include "metrics/metric_builder.h"

namespace netlens::http {

void CaptureSource::Collect(SourceOutput out) {
  using prometheus::MetricType;
  const CaptureStats stats = capture_.Stats();
  const auto d = [](uint64_t value) { return static_cast<double>(value); };

  MetricBuilder segments("netlens_http_capture_segments_total",
                         "Send/receive calls of HTTP connections handed to user space, by whether "
                         "their first bytes were copied (bytes) or the call had no user buffer "
                         "(length_only: sendfile, splice, io_uring).",
                         MetricType::Counter);
  segments.Add({"kind"}, {"bytes"}, d(stats.segments));
  segments.Add({"kind"}, {"length_only"}, d(stats.segments_no_buffer));
  out.families.push_back(segments.Take());

  MetricBuilder closes("netlens_http_capture_closes_total",
                       "HTTP connections whose close was handed to user space.",
                       MetricType::Counter);
  closes.Add({}, {}, d(stats.closes));
  out.families.push_back(closes.Take());

  MetricBuilder lost(
      "netlens_http_capture_lost_total",
      "What the HTTP capture lost, by reason: ring_full (records dropped), "
      "connections_full (calls of untracked connections), copy_failed (segments "
      "sent length only), process_stats_full (verdicts not counted per process), "
      "processes_full (processes the kernel could not watch at fork or exec), malformed "
      "(records user space could not read).",
      MetricType::Counter);
  lost.Add({"reason"}, {"ring_full"}, d(stats.lost_ring_full));
  lost.Add({"reason"}, {"connections_full"}, d(stats.lost_connections_full));
  lost.Add({"reason"}, {"copy_failed"}, d(stats.lost_copy_failed));
  lost.Add({"reason"}, {"process_stats_full"}, d(stats.lost_process_stats_full));
  lost.Add({"reason"}, {"processes_full"}, d(stats.lost_processes_full));
  lost.Add({"reason"}, {"malformed"}, d(stats.records_malformed));
  if (capture_.TlsEnabled()) {
    lost.Add({"reason"}, {"tls_no_connection"}, d(stats.tls_lost_no_connection));
    lost.Add({"reason"}, {"tls_calls_full"}, d(stats.tls_lost_calls_full));
    lost.Add({"reason"}, {"tls_ssl_full"}, d(stats.tls_lost_ssl_full));
  }
  out.families.push_back(lost.Take());

  MetricBuilder classified("netlens_http_connections_classified_total",
                           "TCP connections of watched processes classified by their first bytes: "
                           "http (captured), tls (encrypted: not captured), other, mysql and "
                           "http2 (captured, with http_requests.protocols listing them; http2 "
                           "counts TLS connections whose plaintext is HTTP/2 too).",
                           MetricType::Counter);
  classified.Add({"verdict"}, {"http"}, d(stats.verdict_http));
  classified.Add({"verdict"}, {"tls"}, d(stats.verdict_tls));
  classified.Add({"verdict"}, {"other"}, d(stats.verdict_other));
  if (capture_.MysqlEnabled()) classified.Add({"verdict"}, {"mysql"}, d(stats.verdict_mysql));
  if (capture_.Http2Enabled()) classified.Add({"verdict"}, {"http2"}, d(stats.verdict_http2));
  out.families.push_back(classified.Take());

  MetricBuilder hooks("netlens_http_capture_hooks_info",
                      "The hooks the HTTP capture takes send/receive calls from (1): "
                      "sock_length (sock:sock_{send,recv}_length, Linux >= 6.3) or syscalls "
                      "(syscalls:sys_exit_*: older kernels, or http_requests.capture_hooks).",
                      MetricType::Gauge);
  hooks.Add({"hooks"}, {CaptureHooksName(capture_.hooks())}, 1);
  out.families.push_back(hooks.Take());
  if (capture_.TlsEnabled()) CollectTls(stats, out);
}

void CaptureSource::CollectTls(const CaptureStats& stats, SourceOutput& out) {
  using prometheus::MetricType;
  const auto d = [](uint64_t value) { return static_cast<double>(value); };

  MetricBuilder segments("netlens_http_capture_tls_segments_total",
                         "Of netlens_http_capture_segments_total{kind=\"bytes\"}: the plaintext of "
                         "OpenSSL SSL_read/SSL_write calls of TLS connections.",
                         MetricType::Counter);
  segments.Add({}, {}, d(stats.tls_segments));
  out.families.push_back(segments.Take());

  MetricBuilder classified("netlens_http_tls_connections_classified_total",
                           "TLS connections of watched processes classified by their plaintext: "
                           "http (captured) or other (HTTP/2 included).",
                           MetricType::Counter);
  classified.Add({"verdict"}, {"http"}, d(stats.tls_verdict_http));
  classified.Add({"verdict"}, {"other"}, d(stats.tls_verdict_other));
  out.families.push_back(classified.Take());

  MetricBuilder attaches("netlens_http_tls_attach_total",
                         "Watched processes whose libssl got the capture's uprobes (attached), or "
                         "for which that failed (failed).",
                         MetricType::Counter);
  attaches.Add({"result"}, {"attached"}, d(stats.tls_attached));
  attaches.Add({"result"}, {"failed"}, d(stats.tls_attach_failed));
  out.families.push_back(attaches.Take());

  MetricBuilder processes("netlens_http_tls_processes",
                          "Watched processes by TLS capture state now: probed (uprobes on their "
                          "libssl or, linked statically, their executable), no_library (no "
                          "libssl.so mapped and no SSL_read/SSL_write in the executable: not "
                          "OpenSSL, or a stripped static build; looked for again at each update).",
                          MetricType::Gauge);
  processes.Add({"state"}, {"probed"}, d(stats.tls_processes_probed));
  processes.Add({"state"}, {"no_library"}, d(stats.tls_no_library));
  out.families.push_back(processes.Take());

  MetricBuilder files("netlens_http_tls_symbol_cache_files",
                      "Files (libssl, or executables checked for OpenSSL linked statically) whose "
                      "SSL_read/SSL_write offsets the TLS probes hold (bound 1,024).",
                      MetricType::Gauge);
  files.Add({}, {}, d(stats.tls_symbol_files));
  out.families.push_back(files.Take());
  MetricBuilder reads("netlens_http_tls_symbol_reads_total",
                      "ELF files read for their SSL_read/SSL_write symbols (symbol cache misses).",
                      MetricType::Counter);
  reads.Add({}, {}, d(stats.tls_symbol_reads));
  out.families.push_back(reads.Take());
  MetricBuilder resets("netlens_http_tls_symbol_cache_resets_total",
                       "Times the TLS probes' symbol cache reached its bound (1,024 files) and "
                       "was emptied: files are read again when next needed.",
                       MetricType::Counter);
  resets.Add({}, {}, d(stats.tls_symbol_cache_resets));
  out.families.push_back(resets.Take());
}

}  // namespace netlens::http
