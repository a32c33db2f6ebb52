#include "scrape.h"

#include "http_client.h"

namespace netlens::test {

Scrape ScrapeMetrics(uint16_t port, const std::string& source) {
  HttpResponse response = HttpGet(port, "/metrics");
  if (response.status != 200) {
    throw HttpError("GET /metrics from " + source + ": status " + std::to_string(response.status) +
                    "\n" + response.body.substr(0, 2000));
  }
  Scrape scrape{.body = std::move(response.body), .samples = {}, .source = source};
  scrape.samples = ParseExposition(scrape.body);
  return scrape;
}

}  // namespace netlens::test
