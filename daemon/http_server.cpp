#include "http_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "version.h"

namespace netlens {
namespace {

constexpr const char* kLandingPage =
    "<!DOCTYPE html>\n<html><head><title>netlens</title></head><body>\n"
    "<h1>netlens " NETLENS_VERSION
    "</h1>\n"
    "<p>Per-process TCP traffic from eBPF.</p>\n"
    "<p><a href=\"/metrics\">Metrics</a></p>\n"
    "</body></html>\n";

// civetweb calls this before its own handlers: answer "/" here, leave the
// rest (/metrics) to the Exposer.
int BeginRequest(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  if (std::strcmp(request->local_uri, "/") != 0) return 0;
  mg_printf(connection,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            std::strlen(kLandingPage), kLandingPage);
  return 200;
}

int LogMessage(const mg_connection*, const char* message) {
  spdlog::warn("http: {}", message);
  return 1;
}

// civetweb takes numeric addresses only.
std::string CivetListen(const std::string& listen) {
  const std::string kLocalhost = "localhost:";
  if (listen.rfind(kLocalhost, 0) == 0) return "127.0.0.1:" + listen.substr(kLocalhost.size());
  return listen;
}

}  // namespace

HttpServer::HttpServer(const std::string& listen) {
  static CivetCallbacks callbacks = [] {
    CivetCallbacks c{};
    c.begin_request = BeginRequest;
    c.log_message = LogMessage;
    return c;
  }();
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", CivetListen(listen), "num_threads", "2"},
        &callbacks);
  } catch (const std::exception& e) {
    throw HttpError("cannot listen on " + listen +
                    ": the address is in use or not available on this host (" + e.what() + ")");
  }
}

void HttpServer::ServeMetrics(std::weak_ptr<prometheus::Collectable> metrics) {
  exposer_->RegisterCollectable(metrics, "/metrics");
}

HttpServer::~HttpServer() = default;

}  // namespace netlens
