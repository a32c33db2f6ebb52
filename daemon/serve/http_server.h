// Serves /metrics and a landing page at / over HTTP or HTTPS (web_config.h), on Boost.Beast/Asio:
// one event-loop thread holds every connection, so idle, slow or numerous clients cost a socket
// and a timer each, never a thread, and cannot delay a scrape. Deadlines and bounds come from
// the config's `http` section (config.h): a connection is closed when it has not sent its
// request headers within request_header_timeout (TLS handshake included) or not received its
// whole response within request_timeout; connections beyond max_connections, or beyond
// max_connections_per_peer from one address, are closed as soon as they are accepted.
// Requests are answered by RequestHandler (http_request_handler.h) on two worker threads, so
// that a slow scrape never stalls the event loop; with basic auth, requests whose credentials
// were not verified before (a bcrypt run each) are answered on a third, so that a flood of
// wrong passwords cannot delay a scraper whose password passed once.
#pragma once

#include <prometheus/collectable.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.h"
#include "config/web_config.h"

namespace netlens {

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpServer {
 public:
  // Binds `listen` ("HOST:PORT", "localhost:PORT", "[V6]:PORT") and starts serving; throws
  // HttpError naming the address. Binding comes first so a busy port fails before any eBPF
  // program loads. Until ServeMetrics, /metrics answers 503. With web.tls the port speaks only
  // HTTPS; with web.basic_auth_users every request needs a valid user and password (401).
  HttpServer(const std::string& listen, const WebConfig& web = {},
             const HttpSettings& settings = {});
  // Each scrape collects `metrics`, then the endpoint's own metrics (http_stats.h).
  void ServeMetrics(std::weak_ptr<prometheus::Collectable> metrics);
  // "https://127.0.0.1:9750/metrics", for logs and the service status.
  const std::string& metrics_url() const;
  ~HttpServer();  // stops the threads, then closes every connection

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netlens
