#!/usr/bin/python3
"""The gRPC peer of netlens's gRPC tests (test/integration, bench, and the HTTP/2 fixture
recorder test/unit/http2_fixtures/record_grpc.py).

Built on Debian's python3-grpcio only: no generated protobuf code. The service
netlens.test.Echo is registered with a generic handler and no serializers, so every
request and response is raw bytes (a gRPC message is then just the 5-byte length prefix
plus those bytes on the wire).

  grpc_peer.py server --port P
        an insecure server on 127.0.0.1:P (P = 0 picks a free port), service
        netlens.test.Echo:
          Unary   unary-unary   returns the request bytes
          Fail    unary-unary   the request is an ASCII decimal status code; aborts with that
                                grpc.StatusCode and details "failing as asked"
          Stream  unary-stream  the request is an ASCII decimal n; yields n 10-byte messages
          Slow    unary-unary   sleeps 0.2 s, returns the request bytes
        Prints "ready PORT" (flushed) once listening, serves until standard input's EOF or
        SIGTERM, exits 0.

  grpc_peer.py client --port P [--plan default]
        ONE channel (one TCP connection; local subchannel pool, no retries, no keepalive
        pings, no BDP pings, no HTTP proxy) to 127.0.0.1:P; waits for it to be ready (this
        connects before the first RPC), then, each call awaited before the next:
          3 x Unary(b'hello')                    OK
          2 x Fail(b'5')                         NOT_FOUND (5)
          1 x Fail(b'3')                         INVALID_ARGUMENT (3)
          1 x Stream(b'5')                       OK, 5 messages of 10 bytes
          1 x Unary(100,000 bytes)               OK
          4 x Slow(b'slow<i>') concurrently      OK (futures, all awaited)
        Checks every result (echo equal, status code equal, 5 stream messages); exits 1 with
        a message on standard error if any differs.

  grpc_peer.py client --port P --plan small
        The default plan without the 100,000-byte call: every frame header of it within the
        first bytes of its socket call (netlens's capture copies 512 by default).

  grpc_peer.py client --port P --plan small --pause
        One Unary call first, then "connected" on standard output; the plan once a line comes
        on standard input (netlens started in between joins the connection mid-stream).

  grpc_peer.py client --port P --plan count --calls N
        N sequential Unary(b'hello') calls (for a benchmark).

  Both client plans print one JSON line on standard output:
    {"calls": [{"method": "/netlens.test.Echo/Unary", "code": 0, "seconds": 0.0012}, ...],
     "pid": PID}
  code is the numeric gRPC status; seconds is the duration the client measured
  (time.monotonic around the call; for the concurrent ones from start to result).

GRPC_PEER_TLS=DIR (cert.pem and key.pem, CN=localhost) makes both ends speak TLS.

Run with /usr/bin/python3 (Debian's grpc is not in a venv's path).
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

SERVICE = "netlens.test.Echo"
STREAM_MESSAGE_SIZE = 10
SLOW_SECONDS = 0.2

# Options that keep the client to exactly one TCP connection with nothing on it but the
# RPCs (and what HTTP/2 itself needs: SETTINGS, WINDOW_UPDATE, acks).
CLIENT_OPTIONS = [
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.enable_retries", 0),
    ("grpc.keepalive_time_ms", 2**31 - 1),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.bdp_probe", 0),
    ("grpc.enable_http_proxy", 0),
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
]

# The default plan: (method, request, expected status). "concurrent" marks the Slow calls,
# started together and awaited together.
DEFAULT_PLAN = (
    [("Unary", b"hello", grpc.StatusCode.OK, False)] * 3
    + [("Fail", b"5", grpc.StatusCode.NOT_FOUND, False)] * 2
    + [("Fail", b"3", grpc.StatusCode.INVALID_ARGUMENT, False)]
    + [("Stream", b"5", grpc.StatusCode.OK, False)]
    + [("Unary", bytes(i % 251 for i in range(100000)), grpc.StatusCode.OK, False)]
    + [("Slow", b"slow%d" % i, grpc.StatusCode.OK, True) for i in range(4)]
)

_CODES = {code.value[0]: code for code in grpc.StatusCode}


def path(method):
    return "/%s/%s" % (SERVICE, method)


# ---------------------------------------------------------------------------- server


def _unary(request, context):
    return request


def _fail(request, context):
    code = _CODES.get(int(request.decode("ascii")), grpc.StatusCode.UNKNOWN)
    context.abort(code, "failing as asked")


def _stream(request, context):
    for i in range(int(request.decode("ascii"))):
        yield (b"msg%07d" % i)[:STREAM_MESSAGE_SIZE]


def _slow(request, context):
    time.sleep(SLOW_SECONDS)
    return request


def make_server(port=0, workers=16):
    """Returns (server, bound port); the server is started."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {
        "Unary": grpc.unary_unary_rpc_method_handler(_unary),
        "Fail": grpc.unary_unary_rpc_method_handler(_fail),
        "Stream": grpc.unary_stream_rpc_method_handler(_stream),
        "Slow": grpc.unary_unary_rpc_method_handler(_slow),
    }),))
    tls = os.environ.get("GRPC_PEER_TLS")  # a directory with cert.pem and key.pem: TLS
    if tls:
        with open(os.path.join(tls, "key.pem"), "rb") as k, \
                open(os.path.join(tls, "cert.pem"), "rb") as c:
            credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
        bound = server.add_secure_port("127.0.0.1:%d" % port, credentials)
    else:
        bound = server.add_insecure_port("127.0.0.1:%d" % port)
    if bound == 0:
        raise RuntimeError("could not bind 127.0.0.1:%d" % port)
    server.start()
    return server, bound


def run_server(port):
    server, bound = make_server(port)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def watch_stdin():
        try:  # os.read, not sys.stdin: no buffer lock held at interpreter shutdown
            while os.read(0, 4096):
                pass
        except (OSError, ValueError):
            pass
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("ready %d" % bound, flush=True)
    while not done.wait(0.1):
        pass
    server.stop(0).wait(5)
    return 0


# ---------------------------------------------------------------------------- client


class Mismatch(Exception):
    pass


def _check(method, request, expected, code, result):
    if code != expected:
        raise Mismatch("%s: status %s, expected %s" % (method, code.name, expected.name))
    if expected != grpc.StatusCode.OK:
        return
    if method == "Stream":
        n = int(request.decode("ascii"))
        if len(result) != n or any(len(m) != STREAM_MESSAGE_SIZE for m in result):
            raise Mismatch("Stream: %d messages of sizes %s, expected %d of %d bytes"
                           % (len(result), [len(m) for m in result], n, STREAM_MESSAGE_SIZE))
    elif result != request:
        raise Mismatch("%s: response of %d bytes differs from the %d-byte request"
                       % (method, len(result), len(request)))


def run_plan(port, plan, ready_timeout=10, pause=False):
    """Runs plan over one channel; returns the list of call records. Raises Mismatch.
    pause: first one Unary call (not recorded), then "connected" on standard output, then
    the plan once a line comes on standard input (a connection netlens joins mid-stream)."""
    records = []
    tls = os.environ.get("GRPC_PEER_TLS")
    if tls:
        with open(os.path.join(tls, "cert.pem"), "rb") as c:
            credentials = grpc.ssl_channel_credentials(root_certificates=c.read())
        channel = grpc.secure_channel(
            "127.0.0.1:%d" % port, credentials,
            options=CLIENT_OPTIONS + [("grpc.ssl_target_name_override", "localhost")])
    else:
        channel = grpc.insecure_channel("127.0.0.1:%d" % port, options=CLIENT_OPTIONS)
    try:
        grpc.channel_ready_future(channel).result(timeout=ready_timeout)
        stubs = {
            "Unary": channel.unary_unary(path("Unary")),
            "Fail": channel.unary_unary(path("Fail")),
            "Stream": channel.unary_stream(path("Stream")),
            "Slow": channel.unary_unary(path("Slow")),
        }
        if pause:
            stubs["Unary"](b"hello", timeout=30)
            print("connected", flush=True)
            sys.stdin.readline()
        i = 0
        while i < len(plan):
            method, request, expected, concurrent = plan[i]
            if concurrent:
                group = []
                while i < len(plan) and plan[i][3]:
                    group.append(plan[i])
                    i += 1
                started = []
                for method, request, expected, _ in group:
                    started.append((time.monotonic(), stubs[method].future(request, timeout=30)))
                for (method, request, expected, _), (t0, fut) in zip(group, started):
                    try:
                        result, code = fut.result(), grpc.StatusCode.OK
                    except grpc.RpcError as e:
                        result, code = None, e.code()
                    seconds = time.monotonic() - t0
                    _check(method, request, expected, code, result)
                    records.append((method, code, seconds))
                continue
            t0 = time.monotonic()
            try:
                if method == "Stream":
                    result = list(stubs[method](request, timeout=30))
                else:
                    result = stubs[method](request, timeout=30)
                code = grpc.StatusCode.OK
            except grpc.RpcError as e:
                result, code = None, e.code()
            seconds = time.monotonic() - t0
            _check(method, request, expected, code, result)
            records.append((method, code, seconds))
            i += 1
    finally:
        channel.close()
    return records


def records_json(records):
    return json.dumps({
        "calls": [{"method": path(m), "code": c.value[0], "seconds": round(s, 6)}
                  for m, c, s in records],
        "pid": os.getpid(),
    })


def run_client(port, plan_name, calls, pause=False):
    if plan_name == "default":
        plan = DEFAULT_PLAN
    elif plan_name == "small":
        plan = [call for call in DEFAULT_PLAN if len(call[1]) < 1000]
    elif plan_name == "count":
        plan = [("Unary", b"hello", grpc.StatusCode.OK, False)] * calls
    else:
        print("unknown plan %r" % plan_name, file=sys.stderr)
        return 2
    try:
        records = run_plan(port, plan, pause=pause)
    except Mismatch as e:
        print("grpc_peer client: %s" % e, file=sys.stderr)
        return 1
    except grpc.FutureTimeoutError:
        print("grpc_peer client: channel not ready in 10 s", file=sys.stderr)
        return 1
    print(records_json(records), flush=True)
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description="gRPC test peer of netlens")
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("server")
    s.add_argument("--port", type=int, default=0)
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--plan", default="default", choices=("default", "small", "count"))
    c.add_argument("--calls", type=int, default=100)
    c.add_argument("--pause", action="store_true",
                   help="one call, print 'connected', wait for a line on stdin, then the plan")
    args = parser.parse_args(argv)
    if args.mode == "server":
        return run_server(args.port)
    return run_client(args.port, args.plan, args.calls, args.pause)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
