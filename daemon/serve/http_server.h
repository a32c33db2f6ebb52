// Serves /metrics (prometheus-cpp Exposer on civetweb) and a landing page at /, over HTTP or
// HTTPS, with optional basic auth on every path (web_config.h).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "config/web_config.h"

namespace netlens {

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpServer {
 public:
  // Binds `listen` ("HOST:PORT", "[V6]:PORT"); throws HttpError naming the address.
  // Binding comes first so a busy port fails before any eBPF program loads.
  // With web.tls the port speaks only HTTPS; with web.basic_auth_users every request needs
  // a valid user and password (401 otherwise). One HttpServer per process.
  explicit HttpServer(const std::string& listen, const WebConfig& web = {});
  void ServeMetrics(std::weak_ptr<prometheus::Collectable> metrics);
  // "https://127.0.0.1:9750/metrics", for logs and the service status.
  const std::string& metrics_url() const { return metrics_url_; }
  ~HttpServer();

 private:
  std::shared_ptr<ssl_ctx_st> tls_context_;
  std::shared_ptr<const BasicAuthenticator> authenticator_;
  // Declared after what its threads use, so it is destroyed (and stopped) first.
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string metrics_url_;
};

}  // namespace netlens
