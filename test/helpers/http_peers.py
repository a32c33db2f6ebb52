#!/usr/bin/python3
"""The HTTP peers of nginx in the HTTP request tests (test/integration/http_requests_test.cpp).

  http_peers.py backend PORT      an HTTP/1.1 keep-alive server on 127.0.0.1:PORT; the status
                                  comes from the path: /b/ok 200, /b/created 201 (reads the
                                  request body), /b/missing 404, /b/fail 500, /b/slow 200 after 50 ms, /b/chunked 200 with
                                  a chunked body (3 chunks). Prints "listening"; serves until
                                  standard input's EOF.
  http_peers.py pipeline PORT PATH...
                                  one connection to 127.0.0.1:PORT, every PATH as a GET in ONE
                                  write (pipelined; the last with Connection: close), the
                                  responses read to EOF in reads of at most 512 bytes;
                                  prints "statuses=S,S,...".
  http_peers.py tls PORT PATH...  prints "ready", waits for a line on standard input, then GETs
                                  every PATH over one keep-alive TLS connection to
                                  127.0.0.1:PORT (no verification); prints "statuses=...".
"""
import http.client
import http.server
import re
import socket
import ssl
import sys
import threading
import time


class Backend(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunked(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in (b"a" * 100, b"b" * 2000, b"c" * 7):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/b/chunked":
            self.chunked()
        elif path == "/b/ok":
            self.answer(200, b"ok" * 50)
        elif path == "/b/slow":
            time.sleep(0.05)
            self.answer(200, b"slow")
        elif path == "/b/fail":
            self.answer(500, b"failed")
        else:
            self.answer(404, b"missing")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if self.path.split("?")[0] == "/b/created":
            self.answer(201, b"created %d" % length)
        else:
            self.answer(404, b"missing")


def backend(port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Backend)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("listening", flush=True)
    sys.stdin.read()
    server.shutdown()


def pipeline(port, paths):
    requests = b""
    for i, path in enumerate(paths):
        close = b"Connection: close\r\n" if i == len(paths) - 1 else b""
        requests += b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n" % (path.encode(), port, close)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(requests)  # one write: the requests are pipelined
        data = b""
        while True:
            # At most the 512 bytes the capture copies of a call: a read holding more than that
            # before a later response's head loses that response (a counted `truncated` parse
            # error, docs/metrics.md), and how many responses one large read gets depends on
            # timing. Several responses still share a read when they fit.
            chunk = sock.recv(512)
            if not chunk:
                break
            data += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)  # bodies do not end in a newline
    print("statuses=" + ",".join(s.decode() for s in statuses), flush=True)


def tls(port, paths):
    print("ready", flush=True)
    sys.stdin.readline()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
    statuses = []
    for path in paths:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        statuses.append(str(response.status))
    connection.close()
    print("statuses=" + ",".join(statuses), flush=True)


def main():
    mode = sys.argv[1]
    if mode == "backend":
        backend(int(sys.argv[2]))
    elif mode == "pipeline":
        pipeline(int(sys.argv[2]), sys.argv[3:])
    elif mode == "tls":
        tls(int(sys.argv[2]), sys.argv[3:])
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
