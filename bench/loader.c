// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* nl-bench-loader OBJECT PROGRAM...
 *
 * Loads the eBPF object, but only the named programs, attaches each one to the
 * hook its SEC() names, prints "prog NAME ID" per program and then "ready", and
 * keeps them attached until standard input reaches EOF, SIGINT/SIGTERM, or
 * --max-seconds (default 3600) pass. Exit 0 after a clean detach, 1 on error. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROGS 32

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, fmt, args);
}

int main(int argc, char **argv) {
  long max_seconds = 3600;
  int first = 1;
  if (argc > 2 && strcmp(argv[1], "--max-seconds") == 0) {
    max_seconds = strtol(argv[2], NULL, 10);
    first = 3;
  }
  if (argc - first < 2 || argc - first - 1 > MAX_PROGS) {
    fprintf(stderr, "usage: %s [--max-seconds N] OBJECT PROGRAM...\n", argv[0]);
    return 2;
  }
  libbpf_set_print(print_libbpf);
  struct bpf_object *obj = bpf_object__open_file(argv[first], NULL);
  if (!obj) {
    fprintf(stderr, "nl-bench-loader: open %s: %s\n", argv[first], strerror(errno));
    return 1;
  }
  const char **names = (const char **)&argv[first + 1];
  int count = argc - first - 1;
  struct bpf_program *prog;
  bpf_object__for_each_program(prog, obj) {
    bool wanted = false;
    for (int i = 0; i < count; i++) wanted |= strcmp(bpf_program__name(prog), names[i]) == 0;
    bpf_program__set_autoload(prog, wanted);
  }
  for (int i = 0; i < count; i++) {
    if (!bpf_object__find_program_by_name(obj, names[i])) {
      fprintf(stderr, "nl-bench-loader: no program %s in %s\n", names[i], argv[first]);
      return 1;
    }
  }
  if (bpf_object__load(obj) != 0) {
    fprintf(stderr, "nl-bench-loader: load %s failed\n", argv[first]);
    return 1;
  }
  struct bpf_link *links[MAX_PROGS] = {0};
  for (int i = 0; i < count; i++) {
    prog = bpf_object__find_program_by_name(obj, names[i]);
    links[i] = bpf_program__attach(prog);
    if (!links[i]) {
      fprintf(stderr, "nl-bench-loader: attach %s: %s\n", names[i], strerror(errno));
      return 1;
    }
    struct bpf_prog_info info = {0};
    __u32 len = sizeof(info);
    bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len);
    printf("prog %s %u\n", names[i], info.id);
  }
  printf("ready\n");
  fflush(stdout);

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  time_t deadline = time(NULL) + max_seconds;
  char buf[256];
  while (!stop && time(NULL) < deadline) {
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    int n = poll(&pfd, 1, 500);
    if (n > 0) {
      ssize_t r = read(0, buf, sizeof(buf));
      if (r <= 0) break; /* EOF or error: done */
    }
  }
  for (int i = 0; i < count; i++) bpf_link__destroy(links[i]);
  bpf_object__close(obj);
  return 0;
}
