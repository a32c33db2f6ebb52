#!/usr/bin/python3
"""Independent decode of a recorded gRPC session (grpc_session.txt, made by record_grpc.py)
with Debian's python3-hyperframe + python3-hpack; a cross-check of what netlens's own
HTTP/2 parser should see.

  /usr/bin/python3 test/unit/http2_fixtures/check_grpc_session.py [grpc_session.txt]

Concatenates the W chunks (client -> server; the 24-byte preface skipped) and the R chunks
(server -> client), parses each direction's frames, decodes HEADERS/CONTINUATION with one
hpack Decoder per direction in order, and prints per stream :method, :path, :status,
grpc-status (trailers), request and response DATA bytes; then the counts per
(path, grpc-status) and per frame type. Exits 1 if the stream is malformed.
"""
import collections
import os
import sys

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, HeadersFrame)

PREFACE = bytes.fromhex("505249202a20485454502f322e300d0a0d0a534d0d0a0d0a")


def load(path):
    w, r = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            tag, hexdata = line.split(" ", 1)
            assert tag in ("W", "R"), line
            (w if tag == "W" else r).append(bytes.fromhex(hexdata))
    return b"".join(w), b"".join(r)


def frames(data):
    pos = 0
    while pos < len(data):
        if len(data) - pos < 9:
            raise ValueError("%d trailing bytes, not a frame header" % (len(data) - pos))
        frame, length = Frame.parse_frame_header(memoryview(data[pos:pos + 9]))
        if len(data) - pos - 9 < length:
            raise ValueError("frame at %d truncated" % pos)
        frame.parse_body(memoryview(data[pos + 9:pos + 9 + length]))
        yield frame
        pos += 9 + length


class Stream:
    def __init__(self, sid):
        self.sid = sid
        self.req_headers = {}
        self.resp_headers = {}
        self.trailers = {}
        self.req_data = 0
        self.resp_data = 0
        self.resp_header_blocks = 0


def decode_direction(data, streams, is_request, type_counts):
    decoder = hpack.Decoder()
    block, block_sid = b"", None
    for frame in frames(data):
        type_counts[("W" if is_request else "R", frame.type)] += 1
        if isinstance(frame, (HeadersFrame, ContinuationFrame)):
            if isinstance(frame, HeadersFrame):
                block, block_sid = b"", frame.stream_id
            block += frame.data
            if "END_HEADERS" in frame.flags:
                headers = {k.decode() if isinstance(k, bytes) else k:
                           v.decode() if isinstance(v, bytes) else v
                           for k, v in decoder.decode(block, raw=True)}
                s = streams.setdefault(block_sid, Stream(block_sid))
                if is_request:
                    s.req_headers.update(headers)
                else:
                    s.resp_header_blocks += 1
                    (s.resp_headers if s.resp_header_blocks == 1 and ":status" in headers
                     else s.trailers).update(headers)
        elif isinstance(frame, DataFrame):
            s = streams.setdefault(frame.stream_id, Stream(frame.stream_id))
            if is_request:
                s.req_data += len(frame.data)
            else:
                s.resp_data += len(frame.data)


def main(argv):
    path = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "grpc_session.txt")
    w, r = load(path)
    if not w.startswith(PREFACE):
        print("W side does not start with the HTTP/2 preface", file=sys.stderr)
        return 1
    streams, type_counts = {}, collections.Counter()
    decode_direction(w[len(PREFACE):], streams, True, type_counts)
    decode_direction(r, streams, False, type_counts)

    fmt = "%6s  %-6s  %-26s  %-7s  %-11s  %9s  %9s"
    print(fmt % ("stream", ":method", ":path", ":status", "grpc-status", "req DATA", "resp DATA"))
    counts = collections.Counter()
    for sid in sorted(streams):
        s = streams[sid]
        gs = s.trailers.get("grpc-status", s.resp_headers.get("grpc-status", "-"))
        p = s.req_headers.get(":path", "-")
        print(fmt % (sid, s.req_headers.get(":method", "-"), p,
                     s.resp_headers.get(":status", s.trailers.get(":status", "-")), gs,
                     s.req_data, s.resp_data))
        counts[(p, gs)] += 1
    print()
    print("counts per (path, grpc-status):")
    for (p, gs), n in sorted(counts.items()):
        print("  %-26s  %-3s  %d" % (p, gs, n))
    print()
    names = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS",
             5: "PUSH_PROMISE", 6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}
    print("frames: " + ", ".join("%s %s=%d" % (d, names.get(t, t), n)
                                 for (d, t), n in sorted(type_counts.items())))
    print("bytes: W %d (preface included), R %d" % (len(w), len(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
