// Whether assertions have failed so far, so that fixtures keep their files for debugging.
#pragma once

namespace netlens::test {

// Called by the Catch2 listener of integration/main.cpp for every failed assertion.
void NoteFailedAssertion();
// Failed assertions so far in this run.
int FailedAssertions();

}  // namespace netlens::test
