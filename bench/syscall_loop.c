// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* nl-bench-syscalls CALLS BATCHES
 *
 * Times BATCHES batches of CALLS getppid() system calls (through syscall(2), so libc
 * caches nothing) and prints "ns_per_call=MEDIAN min=MIN max=MAX" over the batches: the
 * price of the cheapest system call, for bench/ part syscall_tp (does an attached syscall
 * tracepoint slow every system call down?). Exit 0, or 2 on a bad command line. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCHES 1000

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long calls = argc == 3 ? strtol(argv[1], NULL, 10) : 0;
  long batches = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
  if (calls <= 0 || batches <= 0 || batches > MAX_BATCHES) {
    fprintf(stderr, "usage: nl-bench-syscalls CALLS BATCHES (BATCHES <= %d)\n", MAX_BATCHES);
    return 2;
  }
  static double per_call[MAX_BATCHES];
  for (long b = 0; b < batches; b++) {
    double t0 = now_ns();
    for (long i = 0; i < calls; i++) syscall(SYS_getppid);
    per_call[b] = (now_ns() - t0) / (double)calls;
  }
  qsort(per_call, (size_t)batches, sizeof(double), by_value);
  printf("ns_per_call=%.2f min=%.2f max=%.2f\n", per_call[batches / 2], per_call[0],
         per_call[batches - 1]);
  return 0;
}
