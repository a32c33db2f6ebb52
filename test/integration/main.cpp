// Entry point of the integration tests: they load eBPF programs, which needs root.
//
// Without root: exit 77 (ctest's SKIP_RETURN_CODE), unless CI=true, where missing privilege
// is a failure (exit 1). Listing tests and running only tests tagged [unprivileged] need no
// root. Every failed assertion is noted so that fixtures keep their files for debugging.
#define CATCH_CONFIG_RUNNER
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "test_outcome.h"

namespace netlens::test {
namespace {

constexpr int kSkip = 77;

struct FailureListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  bool assertionEnded(const Catch::AssertionStats& stats) override {
    if (!stats.assertionResult.isOk()) NoteFailedAssertion();
    return true;
  }
};

bool OnlyLists(const Catch::Config& config) {
  return config.showHelp() || config.listTests() || config.listTestNamesOnly() ||
         config.listTags() || config.listReporters();
}

bool NeedsRoot(const Catch::Config& config) {
  if (OnlyLists(config)) return false;
  auto selected =
      Catch::filterTests(Catch::getAllTestCasesSorted(config), config.testSpec(), config);
  for (const Catch::TestCase& test : selected) {
    const auto& tags = test.getTestCaseInfo().tags;
    if (std::find(tags.begin(), tags.end(), "unprivileged") == tags.end()) return true;
  }
  return false;
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

}  // namespace
}  // namespace netlens::test

using netlens::test::FailureListener;
CATCH_REGISTER_LISTENER(FailureListener)

int main(int argc, char** argv) {
  using namespace netlens::test;
  Catch::Session session;
  if (int status = session.applyCommandLine(argc, argv); status != 0) return status;
  if (NeedsRoot(session.config()) && geteuid() != 0) {
    if (InCi()) {
      std::cerr << "integration tests need root (CI=true: failing)\n";
      return 1;
    }
    std::cout << "SKIP: integration tests need root to load eBPF programs (run as root)\n";
    return kSkip;
  }
  signal(SIGPIPE, SIG_IGN);  // a child that exits early must not kill the test run
  return session.run();
}
