#include "serve/http_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstring>
#include <mutex>

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

constexpr const char* kRealm = "netlens";
constexpr int kFeatureTls = 2;  // mg_check_feature(): built with TLS support

// civetweb's callbacks get civetweb's user data (the CivetServer), not ours: what they need
// of the one HttpServer lives here, set before the server starts and cleared after it stops.
std::atomic<const BasicAuthenticator*> g_authenticator{nullptr};
std::atomic<ssl_ctx_st*> g_tls_context{nullptr};

// civetweb's messages while the server starts, so that a failure can say why.
std::mutex g_startup_mutex;
std::string g_startup_messages;
std::atomic<bool> g_starting{false};

void SendUnauthorized(mg_connection* connection) {
  constexpr const char* kBody = "401 Unauthorized\n";
  mg_printf(connection,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\""
            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n%s",
            kRealm, std::strlen(kBody), kBody);
}

// civetweb calls this before its own handlers, for every request: basic auth is checked here
// so that it covers every path (/, /metrics, and those that end in 404). "/" is answered
// here; the rest (/metrics) is left to the Exposer.
int BeginRequest(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  if (const BasicAuthenticator* auth = g_authenticator.load(); auth != nullptr) {
    const char* header = mg_get_header(connection, "Authorization");
    if (header == nullptr || !auth->Check(header)) {
      spdlog::debug("http: 401 for {} {} from {} ({})", request->request_method, request->local_uri,
                    request->remote_addr,
                    header == nullptr ? "no credentials" : "wrong credentials");
      SendUnauthorized(connection);
      return 401;
    }
  }
  if (std::strcmp(request->local_uri, "/") != 0) return 0;
  mg_printf(connection,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            std::strlen(kLandingPage), kLandingPage);
  return 200;
}

// A scrape's exposition (tens of MiB at connection level) is freed once the response is sent;
// glibc would keep those pages: hand them back, so that RSS follows the live series, not the
// largest scrape so far.
void EndRequest(const mg_connection* connection, int) {
  const mg_request_info* request = mg_get_request_info(connection);
  if (request != nullptr && std::strcmp(request->local_uri, "/metrics") == 0) malloc_trim(0);
}

int LogMessage(const mg_connection*, const char* message) {
  if (g_starting.load()) {
    std::lock_guard lock(g_startup_mutex);
    if (!g_startup_messages.empty()) g_startup_messages += "; ";
    g_startup_messages += message;
  }
  spdlog::warn("http: {}", message);
  return 1;
}

// Hands civetweb the context built from the web config. civetweb calls it once when it
// creates its context (*ssl_ctx null) and once when it frees it: returning 1 both times
// means "use this one" and "it is not yours to free" (the HttpServer owns it).
int ExternalSslContext(void** ssl_ctx, void*) {
  if (*ssl_ctx == nullptr) *ssl_ctx = g_tls_context.load();
  return *ssl_ctx != nullptr ? 1 : -1;
}

// civetweb takes numeric addresses only.
std::string CivetListen(const std::string& listen) {
  const std::string kLocalhost = "localhost:";
  if (listen.rfind(kLocalhost, 0) == 0) return "127.0.0.1:" + listen.substr(kLocalhost.size());
  return listen;
}

}  // namespace

HttpServer::HttpServer(const std::string& listen, const WebConfig& web) {
  static CivetCallbacks callbacks = [] {
    CivetCallbacks c{};
    c.begin_request = BeginRequest;
    c.end_request = EndRequest;
    c.log_message = LogMessage;
    c.external_ssl_ctx = ExternalSslContext;
    return c;
  }();
  const bool tls = web.tls.has_value();
  metrics_url_ = std::string(tls ? "https://" : "http://") + listen + "/metrics";
  if (tls) {
    if (mg_check_feature(kFeatureTls) == 0) {
      throw HttpError(web.source +
                      ": tls_server_config is set, but this civetweb library was built without "
                      "TLS support");
    }
    tls_context_ = web.tls_context ? web.tls_context : MakeTlsContext(*web.tls);
  }
  if (!web.basic_auth_users.empty()) {
    authenticator_ = std::make_shared<BasicAuthenticator>(web.basic_auth_users);
    if (!tls) {
      spdlog::warn(
          "{}: basic auth without tls_server_config: passwords cross the network in "
          "clear text",
          web.source);
    }
  }
  g_tls_context = tls_context_.get();
  g_authenticator = authenticator_.get();
  {
    std::lock_guard lock(g_startup_mutex);
    g_startup_messages.clear();
  }
  g_starting = true;
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", CivetListen(listen) + (tls ? "s" : ""),
                                 "num_threads", "2"},
        &callbacks);
  } catch (const std::exception& e) {
    g_starting = false;
    g_tls_context = nullptr;
    g_authenticator = nullptr;
    std::string messages;
    {
      std::lock_guard lock(g_startup_mutex);
      messages = g_startup_messages;
    }
    // civetweb loads OpenSSL with dlopen("libssl.so"), a name only libssl-dev provides;
    // the installed binary finds it through a private directory (see CMakeLists.txt).
    if (tls && (messages.find("libssl") != std::string::npos ||
                messages.find("libcrypto") != std::string::npos ||
                std::string(e.what()).find("SSL") != std::string::npos)) {
      throw HttpError("cannot serve HTTPS on " + listen + ": civetweb could not set up TLS (" +
                      messages + "; " + e.what() +
                      "). Debian's civetweb loads OpenSSL as libssl.so/libcrypto.so: install "
                      "libssl-dev, or use the packaged netlens, which ships those links");
    }
    throw HttpError("cannot listen on " + listen +
                    ": the address is in use or not available on this host (" + e.what() +
                    (messages.empty() ? "" : "; " + messages) + ")");
  }
  g_starting = false;
}

void HttpServer::ServeMetrics(std::weak_ptr<prometheus::Collectable> metrics) {
  exposer_->RegisterCollectable(metrics, "/metrics");
}

HttpServer::~HttpServer() {
  exposer_.reset();  // stops civetweb's threads before what they use goes away
  g_authenticator = nullptr;
  g_tls_context = nullptr;
}

}  // namespace netlens
