// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* nl-bench-traffic: loopback TCP load for bench/ (every loop bounded in count and time).
 *
 *   nl-bench-traffic remotes N [FIRST]
 *                                   N connections, each from its own source address
 *                                   127.0.X.Y (X = 1 + i / 250, Y = 1 + i % 250, i from FIRST,
 *                                   default 0, to FIRST + N - 1 <= 63749), one 64-byte request
 *                                   and echo each, then closed. Every address is one
 *                                   remote-level key of the server.
 *   nl-bench-traffic hold N         N connections from 127.0.0.1 kept open, one 64-byte
 *                                   request and echo each.
 *   nl-bench-traffic rate EPS SECS  paced ping-pong on 8 connections: EPS send/recv events
 *                                   per second (one exchange = client send, server recv,
 *                                   server send, client recv = 4 events) for SECS seconds.
 *   nl-bench-traffic synflood PPS SECS
 *                                   PPS connects per second to a listener whose accept queue
 *                                   is full, so their SYNs are dropped and retransmitted (the
 *                                   tcp:tcp_retransmit_skb hook); each socket closed after 3.5 s.
 *
 * The server side (remotes, hold, rate) is a forked child echo server on 127.0.0.1.
 * Output (stdout, "key=value"): port=P, then for hold/remotes "ready" once set up, after
 * which the program waits for EOF on standard input (at most --max-hold seconds, default
 * 600) before closing everything; rate and synflood print events=N seconds=S at the end.
 * Exit 0 on success, 1 with a message on stderr on error, 2 on a bad command line. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define RATE_CONNS 8
#define RATE_MSG 32

static long max_hold = 600;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nl-bench-traffic: ");
  vfprintf(stderr, fmt, ap);
  if (errno) fprintf(stderr, ": %s", strerror(errno));
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void raise_fd_limit(long need) {
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  rlim_t want = (rlim_t)need + 256;
  if (lim.rlim_cur >= want) return;
  if (lim.rlim_max < want) lim.rlim_max = want; /* needs root (CAP_SYS_RESOURCE) */
  lim.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &lim) != 0) die("setrlimit(RLIMIT_NOFILE, %ld)", (long)want);
}

static struct sockaddr_in addr4(uint32_t host_order_addr, uint16_t port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(host_order_addr);
  return a;
}

static int listen_on(int backlog, uint16_t *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = addr4(INADDR_LOOPBACK, 0);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) die("bind 127.0.0.1");
  if (listen(fd, backlog) != 0) die("listen");
  socklen_t len = sizeof(a);
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

static void write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("send");
    buf += w;
    n -= (size_t)w;
  }
}

static void read_all(int fd, char *buf, size_t n) {
  while (n > 0) {
    ssize_t r = recv(fd, buf, n, MSG_WAITALL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("recv");
    if (r == 0) die("recv: peer closed early");
    buf += r;
    n -= (size_t)r;
  }
}

/* Echo server in a child process: accepts on listen_fd, echoes what it reads, closes
 * on EOF. Exits when control_fd (the parent's end of a pipe) reaches EOF. */
static pid_t start_echo_server(int listen_fd, long max_conns, int *control_write) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) die("pipe");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid > 0) {
    close(pipefd[0]);
    close(listen_fd);
    *control_write = pipefd[1];
    return pid;
  }
  close(pipefd[1]);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_NAME, "nl-bench-server", 0, 0, 0);
  raise_fd_limit(max_conns);
  fcntl(listen_fd, F_SETFL, O_NONBLOCK);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listen_fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
  ev.data.fd = pipefd[0];
  epoll_ctl(ep, EPOLL_CTL_ADD, pipefd[0], &ev);
  static char buf[65536];
  struct epoll_event events[256];
  double deadline = now() + max_hold + 60;
  for (;;) {
    if (now() > deadline) _exit(1);
    int n = epoll_wait(ep, events, 256, 1000);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == pipefd[0]) _exit(0); /* parent closed its end (or died) */
      if (fd == listen_fd) {
        for (int k = 0; k < 1024; k++) {
          int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
          if (c < 0) break;
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      ssize_t r = recv(fd, buf, sizeof(buf), 0);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        close(fd); /* also leaves the epoll set */
        continue;
      }
      write_all(fd, buf, (size_t)r);
    }
  }
}

/* Blocks until standard input reaches EOF, at most max_hold seconds. */
static void hold(void) {
  printf("ready\n");
  fflush(stdout);
  double deadline = now() + max_hold;
  char buf[256];
  while (now() < deadline) {
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int n = poll(&p, 1, 500);
    if (n > 0 && read(0, buf, sizeof(buf)) <= 0) return;
  }
}

static void stop_server(pid_t pid, int control) {
  close(control);
  int status;
  waitpid(pid, &status, 0);
}

static int connect_to(uint16_t port, uint32_t source) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (source) {
    struct sockaddr_in s = addr4(source, 0);
    if (bind(fd, (struct sockaddr *)&s, sizeof(s)) != 0) die("bind source address");
  }
  struct sockaddr_in d = addr4(INADDR_LOOPBACK, port);
  if (connect(fd, (struct sockaddr *)&d, sizeof(d)) != 0) die("connect 127.0.0.1:%u", port);
  return fd;
}

static void exchange(int fd, size_t size) {
  char buf[MSG] = {0};
  write_all(fd, buf, size);
  read_all(fd, buf, size);
}

static int cmd_remotes(long first, long n) {
  if (first + n > 63750) die("remotes: at most 63750 addresses");
  uint16_t port;
  int lfd = listen_on(4096, &port);
  int control;
  pid_t server = start_echo_server(lfd, 1024, &control);
  printf("port=%u\n", port);
  fflush(stdout);
  for (long i = first; i < first + n; i++) {
    uint32_t source = (127u << 24) | ((uint32_t)(1 + i / 250) << 8) | (uint32_t)(1 + i % 250);
    int fd = connect_to(port, source);
    exchange(fd, MSG);
    close(fd);
  }
  hold();
  stop_server(server, control);
  return 0;
}

static int cmd_hold(long n) {
  raise_fd_limit(n);
  uint16_t port;
  int lfd = listen_on(4096, &port);
  int control;
  pid_t server = start_echo_server(lfd, n, &control);
  printf("port=%u\n", port);
  fflush(stdout);
  int *fds = calloc((size_t)n, sizeof(int));
  if (!fds) die("calloc");
  for (long i = 0; i < n; i++) {
    fds[i] = connect_to(port, 0);
    exchange(fds[i], MSG);
  }
  hold();
  for (long i = 0; i < n; i++) close(fds[i]);
  free(fds);
  stop_server(server, control);
  return 0;
}

static int cmd_rate(double eps, double seconds) {
  uint16_t port;
  int lfd = listen_on(64, &port);
  int control;
  pid_t server = start_echo_server(lfd, RATE_CONNS, &control);
  printf("port=%u\n", port);
  fflush(stdout);
  int fds[RATE_CONNS];
  for (int i = 0; i < RATE_CONNS; i++) {
    fds[i] = connect_to(port, 0);
    int one = 1;
    setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  char buf[RATE_MSG] = {0};
  double exchanges_per_s = eps / 4.0;
  double start = now(), end = start + seconds;
  unsigned long long done = 0;
  for (;;) {
    double t = now();
    if (t >= end) break;
    double due = (t - start) * exchanges_per_s;
    if ((double)done >= due) {
      double wait = ((double)done + 1 - due) / exchanges_per_s;
      if (wait > 0.002) wait = 0.002;
      struct timespec ts = {0, (long)(wait * 1e9)};
      nanosleep(&ts, NULL);
      continue;
    }
    int batch = (int)(due - (double)done);
    if (batch < 1) batch = 1;
    if (batch > RATE_CONNS) batch = RATE_CONNS;
    for (int i = 0; i < batch; i++) write_all(fds[i], buf, RATE_MSG);
    for (int i = 0; i < batch; i++) read_all(fds[i], buf, RATE_MSG);
    done += (unsigned long long)batch;
  }
  double elapsed = now() - start;
  for (int i = 0; i < RATE_CONNS; i++) close(fds[i]);
  stop_server(server, control);
  printf("events=%llu seconds=%.3f\n", done * 4, elapsed);
  return 0;
}

struct pending {
  int fd;
  double opened;
};

static int cmd_synflood(double pps, double seconds) {
  uint16_t port;
  int lfd = listen_on(0, &port); /* never accepted: after one connection the queue is full */
  printf("port=%u\n", port);
  fflush(stdout);
  const double keep = 3.5; /* SYN retransmits at ~1 s and ~3 s */
  size_t cap = (size_t)(pps * (keep + 1)) + 16;
  raise_fd_limit((long)cap);
  struct pending *ring = calloc(cap, sizeof(*ring));
  if (!ring) die("calloc");
  size_t head = 0, tail = 0, live = 0;
  unsigned long long opened = 0;
  double start = now(), end = start + seconds;
  struct sockaddr_in d = addr4(INADDR_LOOPBACK, port);
  for (;;) {
    double t = now();
    while (live > 0 && (t - ring[tail].opened > keep || t >= end)) {
      close(ring[tail].fd);
      tail = (tail + 1) % cap;
      live--;
    }
    if (t >= end) break;
    double due = (t - start) * pps;
    while ((double)opened < due && live < cap) {
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) die("socket");
      if (connect(fd, (struct sockaddr *)&d, sizeof(d)) != 0 && errno != EINPROGRESS) {
        die("connect");
      }
      errno = 0;
      ring[head] = (struct pending){fd, t};
      head = (head + 1) % cap;
      live++;
      opened++;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  close(lfd);
  free(ring);
  printf("events=%llu seconds=%.3f\n", opened, now() - start);
  return 0;
}

static double number(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (*s == 0 || *end != 0 || v < 0) {
    fprintf(stderr, "nl-bench-traffic: bad number '%s'\n", s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc > 2 && strcmp(argv[1], "--max-hold") == 0) {
    max_hold = (long)number(argv[2]);
    argv += 2;
    argc -= 2;
  }
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "remotes") == 0) {
    return cmd_remotes(argc == 4 ? (long)number(argv[3]) : 0, (long)number(argv[2]));
  }
  if (argc == 3 && strcmp(argv[1], "hold") == 0) return cmd_hold((long)number(argv[2]));
  if (argc == 4 && strcmp(argv[1], "rate") == 0) {
    return cmd_rate(number(argv[2]), number(argv[3]));
  }
  if (argc == 4 && strcmp(argv[1], "synflood") == 0) {
    return cmd_synflood(number(argv[2]), number(argv[3]));
  }
  fprintf(stderr,
          "usage: nl-bench-traffic [--max-hold S] remotes N [FIRST] | hold N | rate EPS SECONDS |"
          " synflood PPS SECONDS\n");
  return 2;
}
