// Serves /metrics (prometheus-cpp Exposer on civetweb) and a landing page at /.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace netlens {

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpServer {
 public:
  // Binds `listen` ("HOST:PORT", "[V6]:PORT"); throws HttpError naming the address.
  // Binding comes first so a busy port fails before any eBPF program loads.
  explicit HttpServer(const std::string& listen);
  void ServeMetrics(std::weak_ptr<prometheus::Collectable> metrics);
  ~HttpServer();

 private:
  std::unique_ptr<prometheus::Exposer> exposer_;
};

}  // namespace netlens
