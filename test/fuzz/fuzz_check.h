// What the fuzz targets assert beyond "no crash, leak or UB": a broken invariant aborts, which
// libFuzzer reports as a finding with the input that broke it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define NETLENS_FUZZ_CHECK(condition)                                                             \
  do {                                                                                            \
    if (!(condition)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)
