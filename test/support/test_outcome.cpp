#include "test_outcome.h"

#include <atomic>

namespace netlens::test {
namespace {
std::atomic<int> failed_assertions{0};
}  // namespace

void NoteFailedAssertion() { ++failed_assertions; }
int FailedAssertions() { return failed_assertions; }

}  // namespace netlens::test
