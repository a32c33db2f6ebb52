// Every metric family netlens exposes, named once: the sources render these and the tests
// look for these (test/integration/metric_names.h). docs/metrics.md describes each.
#pragma once

#include <string_view>

namespace netlens::metric_name {

// TCP (tcp/)
inline constexpr std::string_view kTcpAcceptDurationSeconds = "netlens_tcp_accept_duration_seconds";
inline constexpr std::string_view kTcpConnectDurationSeconds =
    "netlens_tcp_connect_duration_seconds";
inline constexpr std::string_view kTcpConnectFailuresTotal = "netlens_tcp_connect_failures_total";
inline constexpr std::string_view kTcpConnectionDurationSeconds =
    "netlens_tcp_connection_duration_seconds";
inline constexpr std::string_view kTcpConnectionsClosedTotal =
    "netlens_tcp_connections_closed_total";
inline constexpr std::string_view kTcpConnectionsOpen = "netlens_tcp_connections_open";
inline constexpr std::string_view kTcpConnectionsOpenedTotal =
    "netlens_tcp_connections_opened_total";
inline constexpr std::string_view kTcpListenDropsTotal = "netlens_tcp_listen_drops_total";
inline constexpr std::string_view kTcpListenOverflowsTotal = "netlens_tcp_listen_overflows_total";
inline constexpr std::string_view kTcpReceiveCallsTotal = "netlens_tcp_receive_calls_total";
inline constexpr std::string_view kTcpReceivedBytesTotal = "netlens_tcp_received_bytes_total";
inline constexpr std::string_view kTcpResponseTimeSeconds = "netlens_tcp_response_time_seconds";
inline constexpr std::string_view kTcpRetransmitsTotal = "netlens_tcp_retransmits_total";
inline constexpr std::string_view kTcpRttSeconds = "netlens_tcp_rtt_seconds";
inline constexpr std::string_view kTcpSendCallsTotal = "netlens_tcp_send_calls_total";
inline constexpr std::string_view kTcpSentBytesTotal = "netlens_tcp_sent_bytes_total";
inline constexpr std::string_view kTcpStateTransitionsTotal = "netlens_tcp_state_transitions_total";

// TCP maps and process metadata (tcp/tcp_source.cpp)
inline constexpr std::string_view kKernelAdoptedConnectionsTotal =
    "netlens_kernel_adopted_connections_total";
inline constexpr std::string_view kKernelLateClosesTotal = "netlens_kernel_late_closes_total";
inline constexpr std::string_view kKernelOverflowsTotal = "netlens_kernel_overflows_total";
inline constexpr std::string_view kKernelStaleEntriesTotal = "netlens_kernel_stale_entries_total";
inline constexpr std::string_view kKernelUnreadFoldsTotal = "netlens_kernel_unread_folds_total";
inline constexpr std::string_view kKernelNestedStateChangesTotal =
    "netlens_kernel_nested_state_changes_total";
inline constexpr std::string_view kMapEntries = "netlens_map_entries";
inline constexpr std::string_view kMapMaxEntries = "netlens_map_max_entries";
inline constexpr std::string_view kProcessCacheEntries = "netlens_process_cache_entries";
inline constexpr std::string_view kProcessCacheEvictionsTotal =
    "netlens_process_cache_evictions_total";
inline constexpr std::string_view kProcessCacheMissesTotal = "netlens_process_cache_misses_total";
inline constexpr std::string_view kProcessCgroupListingsTotal =
    "netlens_process_cgroup_listings_total";

// self (self/)
inline constexpr std::string_view kBuildInfo = "netlens_build_info";
inline constexpr std::string_view kConfigReloadsTotal = "netlens_config_reloads_total";
inline constexpr std::string_view kHookAttachInfo = "netlens_hook_attach_info";
inline constexpr std::string_view kProgramAttached = "netlens_program_attached";
inline constexpr std::string_view kProgramMissedRunsTotal = "netlens_program_missed_runs_total";
inline constexpr std::string_view kProgramRunSecondsTotal = "netlens_program_run_seconds_total";
inline constexpr std::string_view kProgramRunsTotal = "netlens_program_runs_total";

// targets (targets/)
inline constexpr std::string_view kTargetDecisionsTotal = "netlens_target_decisions_total";
inline constexpr std::string_view kTargetIgnoredConnectionsTotal =
    "netlens_target_ignored_connections_total";
inline constexpr std::string_view kTargetMapFullTotal = "netlens_target_map_full_total";
inline constexpr std::string_view kTargetsCgroups = "netlens_targets_cgroups";
inline constexpr std::string_view kTargetsProcesses = "netlens_targets_processes";
inline constexpr std::string_view kTargetsWatchedProcesses = "netlens_targets_watched_processes";

// the scrape itself (metrics/source_registry.cpp)
inline constexpr std::string_view kScrapeDurationSeconds = "netlens_scrape_duration_seconds";
inline constexpr std::string_view kSeries = "netlens_series";
inline constexpr std::string_view kSeriesFolded = "netlens_series_folded";
inline constexpr std::string_view kSourceScrapeDurationSeconds =
    "netlens_source_scrape_duration_seconds";

// HTTP/1.x requests of the parsed processes (http/http_families.cpp): OpenTelemetry's HTTP
// semantic conventions in their Prometheus form, as Beyla exports them.
inline constexpr std::string_view kHttpServerRequestDurationSeconds =
    "http_server_request_duration_seconds";
inline constexpr std::string_view kHttpClientRequestDurationSeconds =
    "http_client_request_duration_seconds";
inline constexpr std::string_view kHttpServerRequestBodySizeBytes =
    "http_server_request_body_size_bytes";
inline constexpr std::string_view kHttpServerResponseBodySizeBytes =
    "http_server_response_body_size_bytes";
inline constexpr std::string_view kHttpClientRequestBodySizeBytes =
    "http_client_request_body_size_bytes";
inline constexpr std::string_view kHttpClientResponseBodySizeBytes =
    "http_client_response_body_size_bytes";
inline constexpr std::string_view kHttpServerTimeToFirstByteSeconds =
    "netlens_http_server_time_to_first_byte_seconds";
inline constexpr std::string_view kHttpClientTimeToFirstByteSeconds =
    "netlens_http_client_time_to_first_byte_seconds";
inline constexpr std::string_view kHttpParseErrorsTotal = "netlens_http_parse_errors_total";
inline constexpr std::string_view kHttpUnmatchedResponsesTotal =
    "netlens_http_unmatched_responses_total";
inline constexpr std::string_view kHttpUnansweredRequestsTotal =
    "netlens_http_unanswered_requests_total";
inline constexpr std::string_view kHttpPendingOverflowTotal = "netlens_http_pending_overflow_total";
inline constexpr std::string_view kHttpRouteOverflowTotal = "netlens_http_route_overflow_total";
inline constexpr std::string_view kHttpChunkFramingLostTotal =
    "netlens_http_chunk_framing_lost_total";

// MySQL requests (mysql/), in the manner of OpenTelemetry's database conventions
inline constexpr std::string_view kDbServerOperationDurationSeconds =
    "netlens_db_server_operation_duration_seconds";
inline constexpr std::string_view kDbClientOperationDurationSeconds =
    "netlens_db_client_operation_duration_seconds";
inline constexpr std::string_view kDbServerAffectedRowsTotal =
    "netlens_db_server_affected_rows_total";
inline constexpr std::string_view kDbClientAffectedRowsTotal =
    "netlens_db_client_affected_rows_total";
inline constexpr std::string_view kMysqlParserEventsTotal = "netlens_mysql_parser_events_total";

// gRPC calls (grpc/) in the manner of OpenTelemetry's RPC conventions, and the HTTP/2 parsing
inline constexpr std::string_view kRpcServerDurationSeconds = "netlens_rpc_server_duration_seconds";
inline constexpr std::string_view kRpcClientDurationSeconds = "netlens_rpc_client_duration_seconds";
inline constexpr std::string_view kHttp2ParserEventsTotal = "netlens_http2_parser_events_total";

// Service map (topology/): edges between workloads
inline constexpr std::string_view kServiceMapConnectionsOpenedTotal =
    "netlens_service_map_connections_opened_total";
inline constexpr std::string_view kServiceMapConnectFailuresTotal =
    "netlens_service_map_connect_failures_total";
inline constexpr std::string_view kServiceMapBytesTotal = "netlens_service_map_bytes_total";
inline constexpr std::string_view kServiceMapRetransmitsTotal =
    "netlens_service_map_retransmits_total";
inline constexpr std::string_view kServiceMapRequestsTotal = "netlens_service_map_requests_total";
inline constexpr std::string_view kServiceMapRequestErrorsTotal =
    "netlens_service_map_request_errors_total";
inline constexpr std::string_view kServiceMapRequestDurationSeconds =
    "netlens_service_map_request_duration_seconds";
inline constexpr std::string_view kServiceMapRequestsUnattributedTotal =
    "netlens_service_map_requests_unattributed_total";
inline constexpr std::string_view kServiceMapRequestConnections =
    "netlens_service_map_request_connections";
inline constexpr std::string_view kServiceMapRequestConnectionsDroppedTotal =
    "netlens_service_map_request_connections_dropped_total";
inline constexpr std::string_view kServiceMapEnds = "netlens_service_map_ends";
inline constexpr std::string_view kServiceMapEndsTotal = "netlens_service_map_ends_total";

// nginx request phases (nginx/)
inline constexpr std::string_view kNginxRequestDurationSeconds =
    "netlens_nginx_request_duration_seconds";
inline constexpr std::string_view kNginxRequestSizeBytesTotal =
    "netlens_nginx_request_size_bytes_total";
inline constexpr std::string_view kNginxResponseSizeBytesTotal =
    "netlens_nginx_response_size_bytes_total";
inline constexpr std::string_view kNginxUpstreamTriesTotal = "netlens_nginx_upstream_tries_total";
inline constexpr std::string_view kNginxUpstreamConnectDurationSeconds =
    "netlens_nginx_upstream_connect_duration_seconds";
inline constexpr std::string_view kNginxUpstreamHeaderDurationSeconds =
    "netlens_nginx_upstream_header_duration_seconds";
inline constexpr std::string_view kNginxUpstreamResponseDurationSeconds =
    "netlens_nginx_upstream_response_duration_seconds";
inline constexpr std::string_view kNginxUpstreamReceivedBytesTotal =
    "netlens_nginx_upstream_received_bytes_total";
inline constexpr std::string_view kNginxUpstreamSentBytesTotal =
    "netlens_nginx_upstream_sent_bytes_total";
inline constexpr std::string_view kNginxBinaries = "netlens_nginx_binaries";
inline constexpr std::string_view kNginxRequestsReadTotal = "netlens_nginx_requests_read_total";
inline constexpr std::string_view kNginxLostRequestsTotal = "netlens_nginx_lost_requests_total";
inline constexpr std::string_view kNginxRouteOverflowTotal = "netlens_nginx_route_overflow_total";
inline constexpr std::string_view kNginxUpstreamTriesNotCopiedTotal =
    "netlens_nginx_upstream_tries_not_copied_total";

}  // namespace netlens::metric_name
