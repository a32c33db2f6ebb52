// GET / is a landing page that links to /metrics.
#include <catch2/catch.hpp>

#include "netlens_process.h"

namespace netlens::test {
namespace {

TEST_CASE("landing page: GET / links to /metrics", "[http]") {
  NetlensProcess netlens("process");
  HttpResponse response = netlens.Get("/");
  INFO("GET / from " << netlens.Describe() << ":\n" << response.headers << "\n\n" << response.body);
  REQUIRE(response.status == 200);
  bool links = response.body.find("href=\"/metrics\"") != std::string::npos ||
               response.body.find("href='/metrics'") != std::string::npos;
  REQUIRE(links);
}

}  // namespace
}  // namespace netlens::test
