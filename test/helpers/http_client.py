#!/usr/bin/python3
"""HTTP, TLS and binary traffic of known bytes, for the HTTP capture tests
(test/integration/http_capture_test.cpp).

  http_client.py http PORT OUTDIR SPEC...   one connection per SPEC "PATH:WRITE-READ" to
                                            127.0.0.1:PORT, a Connection: close request for PATH
                                            sent with WRITE (write, send, writev, sendmsg; the
                                            vector calls split it after 10 bytes), the response
                                            read to EOF with READ (read, recv, readv, recvmsg;
                                            readv's first buffer has 1000 bytes). OUTDIR/connI.sent
                                            and connI.recv get the bytes.
  http_client.py pingpong ROUNDS http|binary [BODY [PAUSE]]
                                            a loopback connection to itself, per round a request
                                            and a response with a BODY-byte body (100), one call
                                            each; binary: as many bytes, starting with 0x00.
                                            Before round PAUSE: prints "paused", waits for a line
  http_client.py classify HEX               a loopback connection to itself whose first bytes
                                            are HEX, then 10 rounds of 64 zero bytes each way
  http_client.py nontcp                     HTTP requests over UDP and a Unix socket pair
  http_client.py tls PORT                   one TLS connection (no verification), a request, the
                                            response read to EOF.
  http_client.py tls-http PORT OUTDIR CONNS REQUESTS
                                            CONNS TLS connections (Python's ssl: SSL_write_ex and
                                            SSL_read_ex), REQUESTS keep-alive requests each for
                                            /r/SIZE (a SIZE-byte body), odd connections reading
                                            100 bytes a call (the rest served from OpenSSL's
                                            buffer, no socket call); OUTDIR/connI.sent and
                                            connI.recv get the plaintext bytes.
  http_client.py tls-membio PORT REQUESTS   one TLS connection through a memory BIO (no socket
                                            call inside the SSL calls), REQUESTS requests;
                                            calls=N counts the SSL calls that moved bytes.
  http_client.py tls-server PORT CERT KEY   (no "go") a TLS HTTP/1.1 server on 127.0.0.1:PORT,
                                            answering /r/SIZE with a SIZE-byte body; prints
                                            "listening", serves until standard input's EOF.

Prints "pid=N", waits for a line on standard input, runs, prints "conn=I local_port=P" per
connection, "calls=N" (send/receive calls that moved bytes) and "done", then waits for
standard input's EOF.
"""
import os
import socket
import ssl
import sys


def send_all(sock, data, how):
    calls = 0
    while data:
        if how == "write":
            n = os.write(sock.fileno(), data)
        elif how == "send":
            n = sock.send(data)
        elif how == "writev":
            n = os.writev(sock.fileno(), [data[:10], data[10:]])
        elif how == "sendmsg":
            n = sock.sendmsg([data[:10], data[10:]])
        else:
            raise SystemExit("unknown write method " + how)
        data = data[n:]
        calls += 1
    return calls


def read_to_eof(sock, how):
    received = bytearray()
    calls = 0
    while True:
        if how == "read":
            chunk = os.read(sock.fileno(), 65536)
        elif how == "recv":
            chunk = sock.recv(65536)
        elif how == "readv":
            first, rest = bytearray(1000), bytearray(64536)
            n = os.readv(sock.fileno(), [first, rest])
            chunk = bytes((first + rest)[:n])
        elif how == "recvmsg":
            chunk = sock.recvmsg(65536)[0]
        else:
            raise SystemExit("unknown read method " + how)
        if not chunk:
            return bytes(received), calls
        received += chunk
        calls += 1


def tls_response(size):
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"t" * size


def tls_request(path):
    return ("GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: nl-tls\r\n\r\n" % path).encode()


def read_response(recv):
    # One response with a Content-Length body, read exactly (keep-alive: nothing more comes).
    data = bytearray()
    while b"\r\n\r\n" not in data:
        chunk = recv(65536)
        if not chunk:
            raise SystemExit("EOF in a response head")
        data += chunk
    head = bytes(data[:data.index(b"\r\n\r\n") + 4])
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(data) < len(head) + length:
        chunk = recv(65536)
        if not chunk:
            raise SystemExit("EOF in a response body")
        data += chunk
    return bytes(data)


def tls_server(port, cert, key):
    import threading
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)

    def serve(raw):
        try:
            sock = context.wrap_socket(raw, server_side=True)
            data = bytearray()
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                while b"\r\n\r\n" in data:
                    end = data.index(b"\r\n\r\n") + 4
                    path = bytes(data[:end]).split(b" ")[1].decode()
                    del data[:end]
                    sock.sendall(tls_response(int(path.rsplit("/", 1)[1])))
        except (ssl.SSLError, OSError):
            pass
        finally:
            raw.close()

    def accept():
        while True:
            raw, _ = listener.accept()
            threading.Thread(target=serve, args=(raw,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    print("listening", flush=True)
    sys.stdin.read()


def main():
    mode = sys.argv[1]
    print("pid=%d" % os.getpid(), flush=True)
    if mode == "tls-server":
        tls_server(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    sys.stdin.readline()
    calls = 0
    if mode == "http":
        port, outdir = int(sys.argv[2]), sys.argv[3]
        for i, spec in enumerate(sys.argv[4:]):
            path, methods = spec.split(":")
            write, read = methods.split("-")
            sock = socket.create_connection(("127.0.0.1", port))
            print("conn=%d local_port=%d" % (i, sock.getsockname()[1]), flush=True)
            request = ("GET %s HTTP/1.1\r\nHost: localhost\r\nUser-Agent: nl-http-client/%d\r\n"
                       "Connection: close\r\n\r\n" % (path, i)).encode()
            calls += send_all(sock, request, write)
            response, n = read_to_eof(sock, read)
            calls += n
            sock.close()
            with open(os.path.join(outdir, "conn%d.sent" % i), "wb") as f:
                f.write(request)
            with open(os.path.join(outdir, "conn%d.recv" % i), "wb") as f:
                f.write(response)
    elif mode == "pingpong":
        # A loopback connection to itself: per round an HTTP request one way and a response the
        # other (or, with "binary", as many bytes starting with 0x00), one call each.
        rounds, binary = int(sys.argv[2]), sys.argv[3] == "binary"
        body = int(sys.argv[4]) if len(sys.argv) > 4 else 100
        request = b"GET /ping HTTP/1.1\r\nHost: localhost\r\nUser-Agent: nl\r\n\r\n"
        response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % body + b"p" * body
        if binary:
            request, response = bytes(len(request)), bytes(len(response))
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        print("conn=0 local_port=%d" % client.getsockname()[1], flush=True)
        pause = int(sys.argv[5]) if len(sys.argv) > 5 else -1
        for i in range(rounds):
            if i == pause:
                print("paused", flush=True)
                sys.stdin.readline()
            client.send(request)
            server.recv(len(request), socket.MSG_WAITALL)
            server.send(response)
            client.recv(len(response), socket.MSG_WAITALL)
            calls += 4
        client.close()
        server.close()
    elif mode == "classify":
        # A loopback connection to itself whose first bytes are HEX (client to server), then
        # 10 rounds of 64 zero bytes each way.
        first = bytes.fromhex(sys.argv[2])
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        client.send(first)
        server.recv(len(first), socket.MSG_WAITALL)
        for _ in range(10):
            for a, b in ((server, client), (client, server)):
                a.send(bytes(64))
                b.recv(64, socket.MSG_WAITALL)
        calls = 2 + 40
        client.close()
        server.close()
    elif mode == "nontcp":
        # HTTP requests over UDP and a Unix socket pair: not TCP, never looked at.
        request = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        left, right = socket.socketpair()
        for _ in range(10):
            sender.sendto(request, receiver.getsockname())
            receiver.recvfrom(len(request))
            left.send(request)
            right.recv(len(request), socket.MSG_WAITALL)
            calls += 4
    elif mode == "tls":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
        print("conn=0 local_port=%d" % raw.getsockname()[1], flush=True)
        sock = context.wrap_socket(raw, server_hostname="localhost")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
        sock.close()
    elif mode == "tls-http":
        port, outdir, conns, requests = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(
            sys.argv[5])
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        for i in range(conns):
            raw = socket.create_connection(("127.0.0.1", port))
            print("conn=%d local_port=%d" % (i, raw.getsockname()[1]), flush=True)
            sock = context.wrap_socket(raw, server_side=False, server_hostname="localhost")
            sent, received = bytearray(), bytearray()
            for j in range(requests):
                request = tls_request("/r/%d" % (1000 + 37 * (i * requests + j)))
                sock.sendall(request)
                sent += request
                received += read_response(
                    (lambda n: sock.recv(100)) if i % 2 else sock.recv)
            sock.close()
            with open(os.path.join(outdir, "conn%d.sent" % i), "wb") as f:
                f.write(sent)
            with open(os.path.join(outdir, "conn%d.recv" % i), "wb") as f:
                f.write(received)
    elif mode == "tls-membio":
        # SSLObject over memory BIOs: the library's calls never touch the socket, this script
        # moves the bytes.
        port, requests = int(sys.argv[2]), int(sys.argv[3])
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port))
        print("conn=0 local_port=%d" % raw.getsockname()[1], flush=True)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")

        def flush():
            data = outgoing.read()
            if data:
                raw.sendall(data)

        def pump():
            flush()
            chunk = raw.recv(65536)
            if not chunk:
                raise SystemExit("EOF")
            incoming.write(chunk)

        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pump()
        flush()
        ssl_calls = [0]

        def recv(n):
            while True:
                try:
                    data = tls.read(n)
                    ssl_calls[0] += 1 if data else 0
                    return data
                except ssl.SSLWantReadError:
                    pump()

        for j in range(requests):
            tls.write(tls_request("/r/%d" % (100 + j)))
            ssl_calls[0] += 1
            flush()
            read_response(recv)
        raw.close()
        calls = ssl_calls[0]
    else:
        raise SystemExit("unknown mode " + mode)
    print("calls=%d" % calls, flush=True)
    print("done", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
