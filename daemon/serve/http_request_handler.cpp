// Routing, basic auth and content encoding of the HTTP endpoint (http_request_handler.h).
#include "serve/http_request_handler.h"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "config/web_config.h"
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

// The Prometheus text format, as prometheus-cpp's exposer labelled it.
constexpr const char* kExpositionType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextType = "text/plain; charset=utf-8";

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

HttpReply Text(int status, std::string body, bool close = false) {
  HttpReply reply;
  reply.status = status;
  reply.headers = {{"Content-Type", kTextType}};
  reply.body = std::move(body);
  reply.close = close;
  return reply;
}

HttpReply Unauthorized() {
  HttpReply reply = Text(401, "401 Unauthorized\n");
  reply.headers.emplace_back("WWW-Authenticate", "Basic realm=\"netlens\", charset=\"UTF-8\"");
  return reply;
}

}  // namespace

std::optional<std::string_view> FindHeader(const HttpRequest& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (EqualsIgnoringCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  while (!accept_encoding.empty()) {
    const size_t comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos ? "" : accept_encoding.substr(comma + 1);
    const size_t semicolon = item.find(';');
    const std::string_view coding = Trim(item.substr(0, semicolon));
    if (!EqualsIgnoringCase(coding, "gzip") && !EqualsIgnoringCase(coding, "x-gzip")) continue;
    if (semicolon == std::string_view::npos) return true;
    // "gzip;q=0" refuses it; any other weight accepts it.
    std::string_view weight = Trim(item.substr(semicolon + 1));
    if (!weight.starts_with("q=") && !weight.starts_with("Q=")) return true;
    weight.remove_prefix(2);
    return weight.find_first_not_of("0.") != std::string_view::npos;
  }
  return false;
}

std::string Gzip(std::string_view text) {
  z_stream stream{};
  constexpr int kGzipWindowBits = 15 + 16;  // +16: gzip header and trailer, not zlib's
  constexpr int kMemLevel = 8;
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, kMemLevel,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, text.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int result = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (result != Z_STREAM_END) throw std::runtime_error("gzip: deflate did not finish");
  return out;
}

RequestHandler::RequestHandler(const BasicAuthenticator* authenticator, MetricsSource metrics)
    : authenticator_(authenticator), metrics_(std::move(metrics)) {}

HttpReply RequestHandler::Respond(const HttpRequest& request) const {
  HttpReply reply = [&] {
    if (request.headers.size() > kMaxRequestHeaders) {
      return Text(400, "400 Bad Request: too many header lines\n", true);
    }
    // Before routing, so that every path, known or not, needs credentials.
    if (authenticator_ != nullptr && authenticator_->enabled()) {
      const std::optional<std::string_view> credentials = FindHeader(request, "Authorization");
      if (!credentials || !authenticator_->Check(*credentials)) {
        spdlog::debug("http: 401 for {} {} ({})", request.method, request.target,
                      credentials ? "wrong credentials" : "no credentials");
        return Unauthorized();
      }
    }
    if (request.method != "GET" && request.method != "HEAD") {
      HttpReply refused = Text(405, "405 Method Not Allowed\n");
      refused.headers.emplace_back("Allow", "GET, HEAD");
      return refused;
    }
    const std::string_view path =
        std::string_view(request.target)
            .substr(0, std::min(request.target.find('?'), request.target.size()));
    if (path == "/") {
      HttpReply landing;
      landing.headers = {{"Content-Type", "text/html; charset=utf-8"}};
      landing.body = kLandingPage;
      return landing;
    }
    if (path != "/metrics") return Text(404, "404 Not Found\n");
    std::optional<std::string> exposition = metrics_ ? metrics_() : std::nullopt;
    if (!exposition) return Text(503, "503 Service Unavailable: starting\n");
    HttpReply metrics;
    metrics.headers = {{"Content-Type", kExpositionType}};
    const std::optional<std::string_view> encodings = FindHeader(request, "Accept-Encoding");
    if (encodings && AcceptsGzip(*encodings)) {
      metrics.headers.emplace_back("Content-Encoding", "gzip");
      metrics.body = Gzip(*exposition);
    } else {
      metrics.body = std::move(*exposition);
    }
    return metrics;
  }();
  reply.content_length = reply.body.size();
  if (request.method == "HEAD") reply.body.clear();
  return reply;
}

}  // namespace netlens
