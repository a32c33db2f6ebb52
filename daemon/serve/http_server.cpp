// The HTTP endpoint on Boost.Beast/Asio (http_server.h): accepting within the connection
// bounds, per-connection deadlines, TLS, and handing parsed requests to RequestHandler.
#include "serve/http_server.h"

#include <malloc.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <optional>
#include <thread>

#include "serve/exposition_text.h"
#include "serve/http_connection_limits.h"
#include "serve/http_request_handler.h"
#include "serve/http_stats.h"

namespace netlens {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A TLS close_notify exchange after the last response gets this long.
constexpr auto kTlsShutdownTimeout = 1s;
// After accept() fails for want of file descriptors, wait before trying again (no busy loop).
constexpr auto kAcceptRetryDelay = 100ms;
// File descriptors besides the connections': kernel maps, programs, links, logs.
constexpr rlim_t kReservedDescriptors = 256;
// Threads that answer requests: a scrape in one leaves the other free.
constexpr int kWorkerThreads = 2;

// malloc_trim(0) walks every arena and madvises its free pages: about 12 % of netlens' CPU
// when run after every scrape of a large exposition (perf, soak). Once per interval keeps RSS
// following the live series all the same.
class TrimSchedule {
 public:
  static constexpr auto kInterval = 10s;
  bool Due(Clock::time_point now) {
    Clock::rep last = last_.load(std::memory_order_relaxed);
    if (last != 0 && now.time_since_epoch().count() - last < Clock::duration(kInterval).count())
      return false;
    return last_.compare_exchange_strong(last, now.time_since_epoch().count());
  }

 private:
  std::atomic<Clock::rep> last_{0};
};

// What every session uses; owned by the server, which outlives its sessions.
struct Shared {
  HttpSettings settings;
  HttpStats& stats;
  ConnectionLimits& limits;
  const RequestHandler& handler;
  asio::thread_pool& workers;
  // With basic auth: credentials not verified before cost a bcrypt run (~50 ms), so they are
  // checked on a thread of their own, where a flood of them cannot delay a known scraper.
  const BasicAuthenticator* authenticator = nullptr;
  asio::thread_pool* bcrypt_workers = nullptr;
  TrimSchedule trim;
};

// The client's address as one peer: IPv4-mapped IPv6 is the IPv4 host it maps.
std::string PeerOf(const tcp::endpoint& endpoint) {
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

bool IsHttpParseError(const beast::error_code& error) {
  return error.category() == http::make_error_code(http::error::bad_method).category() &&
         error != http::error::end_of_stream && error != http::error::partial_message;
}

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// One connection, from accept to close. Stream is beast::tcp_stream, or an ssl_stream over one.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(Shared& shared, Stream stream, std::string peer)
      : shared_(shared), stream_(std::move(stream)), peer_(std::move(peer)) {}
  ~Session() { Release(); }

  void Start() {
    SetDeadlines();
    if constexpr (kTls) {
      phase_ = HttpPhase::kTlsHandshake;
      Lowest().expires_at(header_deadline_);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code error) {
                                if (error) return self->Fail(error);
                                self->handshake_done_ = true;
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Gives the connection's slot back before the client can see the close, so that a client
  // that connects again at once finds it free (and the open gauge exact).
  void Release() {
    if (released_) return;
    released_ = true;
    shared_.limits.Release(peer_);
    shared_.stats.CountClosed();
  }

  // Deadlines of the next request run from now: the connection's start or the last response.
  void SetDeadlines() {
    const Clock::time_point now = Clock::now();
    header_deadline_ = now + shared_.settings.request_header_timeout;
    request_deadline_ = now + shared_.settings.request_timeout;
  }

  void ReadHeader() {
    phase_ = HttpPhase::kRequestHeader;
    parser_.emplace();
    parser_->header_limit(kMaxRequestHeaderBytes);
    parser_->body_limit(kMaxRequestBodyBytes);
    Lowest().expires_at(header_deadline_);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code error, size_t) {
                              if (error) return self->Fail(error);
                              if (self->parser_->is_done()) return self->Dispatch();
                              self->ReadBody();
                            });
  }

  void ReadBody() {
    phase_ = HttpPhase::kRequest;
    Lowest().expires_at(request_deadline_);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code error, size_t) {
                       if (error) return self->Fail(error);
                       self->Dispatch();
                     });
  }

  // Answers on a worker thread; the event loop goes on with other connections meanwhile.
  void Dispatch() {
    const auto& message = parser_->get();
    HttpRequest request = RequestOf(message);
    version_ = message.version();
    keep_alive_ = message.keep_alive();
    Lowest().expires_never();
    const std::optional<std::string_view> credentials = FindHeader(request, "Authorization");
    const bool needs_bcrypt = shared_.authenticator != nullptr && credentials &&
                              !shared_.authenticator->Remembered(*credentials);
    asio::thread_pool& workers = needs_bcrypt ? *shared_.bcrypt_workers : shared_.workers;
    asio::post(workers, [self = this->shared_from_this(), request = std::move(request)] {
      const Clock::time_point start = Clock::now();
      HttpReply reply;
      try {
        reply = self->shared_.handler.Respond(request);
      } catch (const std::exception& e) {
        spdlog::error("http: {} {}: {}", request.method, request.target, e.what());
        reply = HttpReply{500,
                          {{"Content-Type", "text/plain; charset=utf-8"}},
                          "500 Internal Server Error\n",
                          0,
                          true};
        reply.content_length = reply.body.size();
      }
      const Clock::duration took = Clock::now() - start;
      const bool scrape = PathOf(request.target) == "/metrics" && reply.status == 200;
      if (scrape) self->shared_.stats.CountScrape(reply.content_length, took);
      beast::tcp_stream& lowest = self->Lowest();
      asio::post(lowest.get_executor(), [self, reply = std::move(reply), took, scrape]() mutable {
        // netlens' own time to answer is not the client's: it extends the request deadline.
        self->request_deadline_ += took;
        self->Write(std::move(reply), scrape);
      });
    });
  }

  void Write(HttpReply reply, bool scrape) {
    response_ = {};
    response_.result(static_cast<unsigned>(reply.status));
    response_.version(version_);
    for (auto& [name, value] : reply.headers) response_.set(name, value);
    response_.content_length(reply.content_length);
    response_.body() = std::move(reply.body);
    response_.keep_alive(keep_alive_ && !reply.close);
    phase_ = HttpPhase::kResponseWrite;
    Lowest().expires_at(request_deadline_);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this(), scrape](beast::error_code error, size_t) {
                        if (scrape) {
                          // The exposition (tens of MiB at connection level) is freed now; hand
                          // its pages back so RSS follows the live series, not the largest scrape.
                          self->response_.body() = {};
                          if (self->shared_.trim.Due(Clock::now()))
                            asio::post(self->shared_.workers, [] { malloc_trim(0); });
                        }
                        if (error) return self->Fail(error);
                        ++self->responses_;
                        if (!self->response_.keep_alive()) return self->Close();
                        self->SetDeadlines();
                        self->ReadHeader();
                      });
  }

  void Fail(const beast::error_code& error) {
    if (error == beast::error::timeout) {
      // A kept-alive connection that sent nothing since its last response is idle, not slow:
      // it ends at the header deadline like any other, uncounted (Prometheus reconnects).
      const bool idle_keep_alive = phase_ == HttpPhase::kRequestHeader && responses_ > 0 &&
                                   !parser_->got_some() && buffer_.size() == 0;
      if (!idle_keep_alive) shared_.stats.CountTimedOut(phase_);
      Release();
      spdlog::debug("http: connection from {} {}", peer_,
                    idle_keep_alive ? "idle after its last response: closed" : "timed out");
      return;  // tcp_stream closed the socket
    }
    if (IsHttpParseError(error) && phase_ != HttpPhase::kResponseWrite) {
      spdlog::debug("http: 400 for a request from {}: {}", peer_, error.message());
      keep_alive_ = false;
      HttpReply reply{
          400, {{"Content-Type", "text/plain; charset=utf-8"}}, "400 Bad Request\n", 0, true};
      reply.content_length = reply.body.size();
      return Write(std::move(reply), false);
    }
    Close();
  }

  void Close() {
    Release();
    beast::error_code ignored;
    if constexpr (kTls) {
      if (handshake_done_ && !shutting_down_) {
        shutting_down_ = true;
        Lowest().expires_after(kTlsShutdownTimeout);
        stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
          beast::error_code ignored_too;
          self->Lowest().socket().close(ignored_too);
        });
        return;
      }
    }
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().socket().close(ignored);
  }

  Shared& shared_;
  Stream stream_;
  const std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool handshake_done_ = false;
  bool shutting_down_ = false;
  bool released_ = false;
  uint64_t responses_ = 0;  // written in full on this connection
  HttpPhase phase_ = HttpPhase::kRequestHeader;
  Clock::time_point header_deadline_, request_deadline_;
};

tcp::endpoint ParseListen(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  const auto port = static_cast<uint16_t>(std::stoul(listen.substr(colon + 1)));
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return tcp::endpoint(asio::ip::make_address(host), port);
}

// Room for max_connections sockets: the soft limit of file descriptors is often 1024.
void RaiseDescriptorLimit(uint32_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = max_connections + kReservedDescriptors;
  if (limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    spdlog::warn(
        "http: max_connections {} needs {} file descriptors, the limit is {}: "
        "connections beyond it wait in the listen queue",
        max_connections, wanted, limit.rlim_cur);
  }
}

}  // namespace

class HttpServer::Impl {
 public:
  Impl(const std::string& listen, const WebConfig& web, const HttpSettings& settings)
      : limits_(settings.max_connections, settings.max_connections_per_peer),
        handler_(nullptr, [this] { return Render(); }),
        shared_{settings, stats_, limits_, handler_, workers_, nullptr, nullptr, {}} {
    const bool tls = web.tls.has_value();
    metrics_url_ = std::string(tls ? "https://" : "http://") + listen + "/metrics";
    if (tls) {
      tls_context_ = web.tls_context ? web.tls_context : MakeTlsContext(*web.tls);
      SSL_CTX_up_ref(tls_context_.get());  // asio's context takes ownership of one reference
      ssl_.emplace(tls_context_.get());
    }
    if (!web.basic_auth_users.empty()) {
      authenticator_ = std::make_unique<BasicAuthenticator>(web.basic_auth_users);
      handler_ = RequestHandler(authenticator_.get(), [this] { return Render(); });
      bcrypt_workers_.emplace(1);
      shared_.authenticator = authenticator_.get();
      shared_.bcrypt_workers = &*bcrypt_workers_;
      if (!tls) {
        spdlog::warn(
            "{}: basic auth without tls_server_config: passwords cross the network in "
            "clear text",
            web.source);
      }
    }
    RaiseDescriptorLimit(settings.max_connections);
    beast::error_code error;
    tcp::endpoint endpoint;
    try {
      endpoint = ParseListen(listen);
    } catch (const std::exception& e) {
      throw HttpError("cannot listen on " + listen + ": not an address and port (" + e.what() +
                      ")");
    }
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      throw HttpError("cannot listen on " + listen +
                      ": the address is in use or not available on this host (" + error.message() +
                      ")");
    }
    Accept();
    io_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "netlens-http");
      // A handler that throws (e.g. no memory for a TLS session) costs that connection only.
      for (;;) {
        try {
          io_.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: {}", e.what());
        }
      }
    });
  }

  ~Impl() {
    asio::post(io_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    io_.stop();
    if (io_thread_.joinable()) io_thread_.join();
    workers_.join();
    if (bcrypt_workers_) bcrypt_workers_->join();
  }

  void ServeMetrics(std::weak_ptr<prometheus::Collectable> metrics) {
    std::lock_guard lock(metrics_mutex_);
    metrics_ = std::move(metrics);
  }

  const std::string& metrics_url() const { return metrics_url_; }

 private:
  std::optional<std::string> Render() {
    std::shared_ptr<prometheus::Collectable> metrics;
    {
      std::lock_guard lock(metrics_mutex_);
      metrics = metrics_.lock();
    }
    if (!metrics) return std::nullopt;
    std::vector<prometheus::MetricFamily> families = metrics->Collect();
    std::vector<prometheus::MetricFamily> own = stats_.Collect();
    families.insert(families.end(), std::make_move_iterator(own.begin()),
                    std::make_move_iterator(own.end()));
    // A quarter over the last scrape's size: series come and go between scrapes.
    const size_t last = last_exposition_size_.load(std::memory_order_relaxed);
    std::string text = SerializeExpositionText(families, last + last / 4);
    last_exposition_size_.store(text.size(), std::memory_order_relaxed);
    return text;
  }

  void Accept() {
    acceptor_.async_accept([this](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;  // shutting down
      if (error) return RetryAccept(error);
      OnAccepted(std::move(socket));
      Accept();
    });
  }

  void RetryAccept(const beast::error_code& error) {
    const Clock::time_point now = Clock::now();
    if (now - last_accept_warning_ > 10s) {
      spdlog::warn("http: accept failed: {}", error.message());
      last_accept_warning_ = now;
    }
    accept_retry_.expires_after(kAcceptRetryDelay);
    accept_retry_.async_wait([this](beast::error_code waited) {
      if (!waited) Accept();
    });
  }

  void OnAccepted(tcp::socket socket) {
    beast::error_code error;
    const tcp::endpoint remote = socket.remote_endpoint(error);
    if (error) return;  // already gone
    std::string peer = PeerOf(remote);
    const Admission admission = limits_.Admit(peer);
    if (admission != Admission::kAdmitted) {
      stats_.CountRejected(admission);
      spdlog::debug("http: connection from {} closed: {}", peer,
                    admission == Admission::kTotalLimit ? "max_connections reached"
                                                        : "max_connections_per_peer reached");
      socket.close(error);
      return;
    }
    stats_.CountAccepted();
    socket.set_option(tcp::no_delay(true), error);
    if (ssl_) {
      std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          shared_, beast::ssl_stream<beast::tcp_stream>(std::move(socket), *ssl_), std::move(peer))
          ->Start();
    } else {
      std::make_shared<Session<beast::tcp_stream>>(shared_, beast::tcp_stream(std::move(socket)),
                                                   std::move(peer))
          ->Start();
    }
  }

  // Declared before the event loop and the workers, whose sessions and tasks use them, so
  // that they are destroyed after those.
  std::string metrics_url_;
  std::shared_ptr<ssl_ctx_st> tls_context_;
  std::optional<asio::ssl::context> ssl_;
  std::unique_ptr<BasicAuthenticator> authenticator_;
  HttpStats stats_;
  ConnectionLimits limits_;
  RequestHandler handler_;
  std::mutex metrics_mutex_;
  std::weak_ptr<prometheus::Collectable> metrics_;
  std::atomic<size_t> last_exposition_size_{0};
  Shared shared_;  // refers to workers_, which it uses only once serving
  asio::thread_pool workers_{kWorkerThreads};
  std::optional<asio::thread_pool> bcrypt_workers_;  // with basic auth only
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  Clock::time_point last_accept_warning_{};
  std::thread io_thread_;
};

HttpServer::HttpServer(const std::string& listen, const WebConfig& web,
                       const HttpSettings& settings)
    : impl_(std::make_unique<Impl>(listen, web, settings)) {}

void HttpServer::ServeMetrics(std::weak_ptr<prometheus::Collectable> metrics) {
  impl_->ServeMetrics(std::move(metrics));
}

const std::string& HttpServer::metrics_url() const { return impl_->metrics_url(); }

HttpServer::~HttpServer() = default;

}  // namespace netlens
