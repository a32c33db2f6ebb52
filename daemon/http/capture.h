// The kernel capture of plaintext HTTP bytes (issue 16): loads ebpf/http/capture.bpf.c, owns its
// ring buffer and hands each watched process's HTTP connections to the parser as ordered
// segments and a close.
//
// What it guarantees:
// - Only processes named in SetWatchedProcesses() are looked at; only their TCP connections;
//   of those only the ones classified http (a request line or a status line at the start of a
//   call: the first of their calls that starts with one, so a connection open before start
//   is picked up at its next request) give segments. The watched set follows processes in
//   the kernel: a watched process's children are watched, a process that execs into a
//   SetWatchedComms() comm is watched, one that exits is not (ebpf/http/capture.bpf.c). TLS (a TLS
//   record header) and other connections (NL_HTTP_UNKNOWN_LIMIT calls that are neither) are counted
//   per verdict and process (VerdictsByProcess), and cost one map lookup per call from then on.
// - Per connection, segments come in the order they were written to the ring (one ring for
//   all CPUs): the order of the calls while one thread at a time uses the connection. Each has
//   the call's whole length and the first min(length, capture_bytes, first buffer) bytes;
//   calls without a user buffer (sendfile, splice, io_uring, sendmmsg/recvmmsg, 32-bit
//   callers) have length only (bytes empty). Then one close (TCP_CLOSE) per connection, keyed
//   with the pid that was first seen on it.
// - Bounded: the ring (ring_bytes), the connection table (connections), per-process verdict
//   counts (processes). Every loss is counted in Stats(): a full ring drops the record (a
//   segment or a close: the parser sees a gap only as a missing call), a full connection
//   table leaves a connection untracked, a failed copy gives a length-only segment.
// - Nothing wakes the daemon per event: Drain() empties the ring in a batch; StartDraining()
//   calls it on a timer; call it before a scrape too.
// - The calls come from one of two sets of hooks (CaptureHooks; auto: the first the kernel
//   has): sock:sock_send_length / sock_recv_length as BTF tracepoints (Linux >= 6.3), or the
//   exits of the read/write, readv/writev, recvfrom/sendto, recvmsg/sendmsg and sendfile
//   syscalls (syscalls:sys_exit_*, tracefs mounted; Linux >= 5.15), which miss io_uring,
//   sendmmsg/recvmmsg and splice and run for every such syscall of every process. Both need
//   x86-64 (the user buffer comes from the syscall's registers); Load() says what is missing.
// - TLS (options.tls): for watched processes that map OpenSSL's libssl.so*, the plaintext of
//   SSL_read/SSL_write and their _ex variants comes as the same segments and close, keyed by
//   the TCP connection the library's socket calls were seen on, with ConnectionKey::tls set;
//   the connection's encrypted bytes stay uncaptured (verdict tls). The plaintext is judged
//   like a connection's first bytes (http, or other: HTTP/2 after ALPN h2 too). A call whose
//   connection is not known (no socket call of that SSL* seen yet, a memory BIO) is counted,
//   never keyed by guess. SetWatchedProcesses attaches uprobes to each new watched process's
//   libssl, filtered to that process (tls_probes.h): unwatched processes pay nothing. Linux
//   >= 6.6 (uprobe_multi). OpenSSL linked statically is probed in the executable when its
//   SSL_read/SSL_write symbols are there (not stripped); stripped static builds and other TLS
//   libraries are not captured (counted as no library).
// - After Load() no capability is needed: SetWatchedProcesses and Drain use the map fds and
//   the ring's mapping (daemon/app/capabilities.h). With tls, attaching to a new process reads
//   its /proc/PID/maps and /proc/PID/root: CAP_SYS_PTRACE for another user's or a more
//   privileged process (DropCapabilities(keep_ptrace)); without it the process is counted as
//   attach failed.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http/segment.h"

struct bpf_link;
struct http_capture_bpf;
struct ring_buffer;

namespace netlens::http {

class TlsProbes;

// One end of a connection: an IPv6 address (IPv4 as ::ffff:a.b.c.d) and a host-order port.
struct Endpoint {
  std::array<uint8_t, 16> address{};
  uint16_t port = 0;
};

// A connection as one process sees it. pid, sk and generation name it (generation is the
// socket's cookie: a struct sock reused for a later connection has another one); the
// addresses are the connection's when it was first seen.
struct ConnectionKey {
  uint32_t pid = 0;
  uint64_t sk = 0;
  uint64_t generation = 0;
  uint16_t family = 0;  // AF_INET or AF_INET6
  Endpoint local, remote;
  std::string comm;    // the process's comm when the connection was first seen
  bool tls = false;    // the segments are the plaintext of SSL_read/SSL_write (not in equality)
  bool mysql = false;  // a MySQL connection (CaptureOptions::mysql), not HTTP (not in equality)
  bool http2 = false;  // an HTTP/2 connection (CaptureOptions::http2), TLS or not (ditto)

  bool operator==(const ConnectionKey& other) const {
    return pid == other.pid && sk == other.sk && generation == other.generation;
  }
};

struct ConnectionKeyHash {
  size_t operator()(const ConnectionKey& key) const {
    return std::hash<uint64_t>()(key.sk ^ (key.generation * 0x9e3779b97f4a7c15ull) ^ key.pid);
  }
};

// Where the capture's send and receive calls come from (docs/kernels.md).
enum class CaptureHooks {
  kAuto,               // sock length tracepoints where the kernel has them, else syscalls
  kSockTracepoints,    // tp_btf sock:sock_send_length / sock_recv_length (Linux >= 6.3)
  kSyscallTracepoints  // tracepoints syscalls:sys_exit_{read,write,...} (Linux >= 5.15)
};

// "auto", "sock_length", "syscalls": the config's words, and the self metric's label.
const char* CaptureHooksName(CaptureHooks hooks);

struct CaptureOptions {
  uint32_t capture_bytes = 512;         // bytes copied per call, 1..1024
  uint32_t ring_bytes = 4u << 20;       // a power of two, at least a page
  uint32_t connections = 65536;         // connections tracked at once (every verdict)
  uint32_t processes = 4096;            // watched processes; processes with verdict counts
  std::optional<std::string> btf_path;  // kernel BTF (default /sys/kernel/btf/vmlinux)
  bool tls = false;                     // also the plaintext of OpenSSL calls (Linux >= 6.6)
  bool mysql = false;                   // also MySQL connections (verdict mysql, key.mysql)
  bool http2 = false;                   // also HTTP/2 connections (verdict http2, key.http2)
  CaptureHooks hooks = CaptureHooks::kAuto;
};

// The kernel's counts since Load() (ebpf/http/capture.h, enum nl_http_stat).
struct CaptureStats {
  uint64_t segments = 0;                 // with bytes
  uint64_t segments_no_buffer = 0;       // length only: the call had no user buffer
  uint64_t lost_ring_full = 0;           // records (segments, closes) dropped: the ring was full
  uint64_t lost_connections_full = 0;    // calls of connections not tracked: table full
  uint64_t lost_copy_failed = 0;         // segments sent length only: reading the buffer failed
  uint64_t lost_process_stats_full = 0;  // verdicts not counted per process
  uint64_t lost_processes_full = 0;      // processes the kernel could not watch: table full
  uint64_t closes = 0;
  uint64_t verdict_http = 0, verdict_tls = 0, verdict_other = 0;  // connections classified
  uint64_t verdict_mysql = 0;
  uint64_t verdict_http2 = 0;      // plaintext and TLS
  uint64_t records_malformed = 0;  // user space: records shorter than they say (never expected)
  // TLS (options.tls).
  uint64_t tls_segments = 0;  // of segments: plaintext of SSL_read/SSL_write
  uint64_t tls_verdict_http = 0, tls_verdict_other = 0;  // TLS connections, by their plaintext
  uint64_t tls_lost_no_connection = 0;  // plaintext calls whose connection was not known
  uint64_t tls_lost_calls_full = 0;     // SSL calls not followed: too many threads inside one
  uint64_t tls_lost_ssl_full = 0;       // SSL objects not remembered: table full
  // User space: processes attached, attaches failed (not tried again while watched): counts;
  // watched processes probed now, and mapping no libssl now (tried again at each update).
  uint64_t tls_attached = 0, tls_attach_failed = 0;
  uint64_t tls_processes_probed = 0, tls_no_library = 0;
  // The symbol cache of the TLS probes: files held now; ELF files read; resets at its bound.
  uint64_t tls_symbol_files = 0, tls_symbol_reads = 0, tls_symbol_cache_resets = 0;
};

struct ProcessVerdicts {
  uint64_t http = 0, tls = 0, other = 0, mysql = 0, http2 = 0;  // connections classified
};

// Load failures; what() names the cause and the fix (libbpf's verifier message included).
class CaptureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Capture {
 public:
  using SegmentCallback = std::function<void(const ConnectionKey&, const Segment&)>;
  using CloseCallback = std::function<void(const ConnectionKey&, uint64_t ts_ns)>;

  // Loads and attaches; no process is watched yet. The callbacks run on the thread that
  // drains, one record at a time; a Segment's bytes live only during the call.
  static std::unique_ptr<Capture> Load(const CaptureOptions& options, SegmentCallback on_segment,
                                       CloseCallback on_close);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Makes the watched processes `tgids`, but for those the kernel added (at fork or exec,
  // see Watched()) after judged_at_ns (CLOCK_MONOTONIC): the caller has not judged those yet.
  // Connections already tracked stay until they close.
  void SetWatchedProcesses(const std::set<uint32_t>& tgids, uint64_t judged_at_ns = UINT64_MAX);
  // The watched processes: tgid -> when the kernel added it or saw it exec (CLOCK_MONOTONIC
  // ns), 0 for the ones the daemon wrote. The kernel adds the children of watched processes
  // and, at exec, processes whose new comm is one of SetWatchedComms().
  std::map<uint32_t, uint64_t> Watched() const;
  // The comms the kernel watches from exec on (at most NL_HTTP_COMMS, 15 bytes each).
  void SetWatchedComms(const std::set<std::string>& comms);
  // Hands every record in the ring to the callbacks now; returns how many. Thread-safe.
  size_t Drain();
  // A thread that calls Drain() every `period` until StopDraining() or destruction.
  void StartDraining(std::chrono::milliseconds period);
  void StopDraining();

  CaptureStats Stats() const;
  bool TlsEnabled() const { return tls_ != nullptr; }
  bool MysqlEnabled() const { return mysql_; }
  bool Http2Enabled() const { return http2_; }
  // The hooks Load() chose: kSockTracepoints or kSyscallTracepoints, never kAuto.
  CaptureHooks hooks() const { return hooks_; }
  std::map<uint32_t, ProcessVerdicts> VerdictsByProcess() const;
  // The kernel's run count and time of one of the programs (nl_http_send and nl_http_recv, or
  // nl_http_sys_exit; nl_http_state, nl_tls_enter, nl_tls_return, nl_tls_free); they grow while
  // kernel.bpf_stats_enabled=1.
  struct ProgramRuns {
    uint64_t count = 0, time_ns = 0;
  };
  ProgramRuns Runs(const std::string& program) const;

 private:
  Capture();
  static int OnRecord(void* self, void* data, size_t size);
  void AttachTls(const std::set<uint32_t>& tgids);

  http_capture_bpf* skel_ = nullptr;
  CaptureHooks hooks_ = CaptureHooks::kAuto;
  bool mysql_ = false;
  bool http2_ = false;
  std::vector<bpf_link*> syscall_links_;  // kSyscallTracepoints: nl_http_sys_exit's, one a syscall
  ring_buffer* ring_ = nullptr;
  SegmentCallback on_segment_;
  CloseCallback on_close_;
  std::mutex drain_mutex_;
  std::atomic<uint64_t> malformed_{0};
  std::mutex watched_mutex_;
  std::unique_ptr<TlsProbes> tls_;     // options.tls; under watched_mutex_
  std::set<uint32_t> tls_no_library_;  // watched, no libssl seen (tried again each update)
  std::set<uint32_t> tls_failed_;      // watched, attaching failed (not tried again)
  std::atomic<uint64_t> tls_attached_{0}, tls_no_library_count_{0}, tls_failed_count_{0};
  std::atomic<uint64_t> tls_probed_{0};
  std::atomic<uint64_t> tls_symbol_files_{0}, tls_symbol_reads_{0}, tls_symbol_cache_resets_{0};
  std::thread drainer_;
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace netlens::http
