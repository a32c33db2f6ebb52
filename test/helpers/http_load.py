#!/usr/bin/python3
"""HTTP/1.1 requests of known count over one keep-alive connection, for the HTTP bounds tests
(test/integration/http_bounds_test.cpp).

  http_load.py PORT [--pipeline] SPEC...

One connection to 127.0.0.1:PORT (connect retried while refused: no byte moves before it is
accepted). A SPEC is a PATH, one GET request, or PATH*N, N requests, where "{i}" in PATH becomes
0..N-1 ("/r/page{i}*10000": 10,000 distinct paths). Requests go one at a time, each response
read before the next request; with --pipeline every request goes in one send() call (exit 1 if
it took more) before any response is read. Responses are read 512 bytes a call at most, so that
no read holds more than the capture copies of it (daemon/http/capture.h: 512 bytes).

Prints "requests=N", "writes=W" (send calls), "statuses=CODE:COUNT,..." and "done"; exits 1 on a
response it cannot parse (it needs Content-Length) or a connection closed early.
"""
import socket
import sys
import time


def expand(specs):
    paths = []
    for spec in specs:
        path, star, count = spec.rpartition("*")
        if not star or not count.isdigit():
            paths.append(spec)
            continue
        paths.extend(path.replace("{i}", str(i)) for i in range(int(count)))
    return paths


def connect(port):
    deadline = time.monotonic() + 10
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port))
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def fill(self):
        chunk = self.sock.recv(512)
        if not chunk:
            raise SystemExit("http_load: connection closed inside a response")
        self.buffer += chunk

    def response(self):
        """The status of the next response, its whole body consumed."""
        while b"\r\n\r\n" not in self.buffer:
            self.fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length is None:
            raise SystemExit("http_load: a response without Content-Length: " + lines[0])
        while len(self.buffer) < length:
            self.fill()
        self.buffer = self.buffer[length:]
        return status


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    port = int(args.pop(0))
    pipeline = args and args[0] == "--pipeline"
    if pipeline:
        args.pop(0)
    paths = expand(args)
    host = "127.0.0.1:%d" % port
    requests = [("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (p, host)).encode() for p in paths]
    sock = connect(port)
    reader = Reader(sock)
    statuses = {}
    writes = 0
    if pipeline:
        data = b"".join(requests)
        sent = sock.send(data)
        writes = 1
        if sent != len(data):
            raise SystemExit("http_load: the pipelined requests took more than one send()")
        for _ in requests:
            status = reader.response()
            statuses[status] = statuses.get(status, 0) + 1
    else:
        for request in requests:
            sock.sendall(request)
            writes += 1
            status = reader.response()
            statuses[status] = statuses.get(status, 0) + 1
    sock.close()
    print("requests=%d" % len(requests))
    print("writes=%d" % writes)
    print("statuses=" + ",".join("%d:%d" % kv for kv in sorted(statuses.items())))
    print("done")


if __name__ == "__main__":
    main()
