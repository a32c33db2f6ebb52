#!/usr/bin/python3
"""Writes the seeds of the http2 fuzz target (test/fuzz/corpus/http2/) from the recorded gRPC
session (test/unit/http2_fixtures/grpc_session.txt), in the fuzzer's input encoding
(test/fuzz/http2_fuzzer.cpp, that of http_exchange_fuzzer.cpp): per segment
[control][copied length - 1][copied bytes][tail], control bit 0 the direction (1: write), bits
1-3 k for 4^k uncopied bytes (0: none), bit 7 a tail (the last min(16, uncopied) bytes), and
0x70 a close.

A segment copies at most 256 bytes and leaves 0 or 4^k uncopied, so one recorded call becomes
several segments of the same direction (a byte stream: the frames are the same), and a run of
n uncopied bytes becomes segments of one copied byte (the recording's own) and 4^k uncopied:
the call's length stays exact, so the framing does. The 100 KB call's large DATA payloads are
left uncopied after their first 16 bytes (their lengths, all the stitcher counts, are kept),
which keeps each seed far under 200 KB. Run: /usr/bin/python3 test/fuzz/corpus/make_http2_seeds.py
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
SESSION = os.path.join(ROOT, "test", "unit", "http2_fixtures", "grpc_session.txt")
OUT = os.path.join(HERE, "http2")
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CLOSE = b"\x70\x00"
LARGE_DATA = 4096  # DATA payloads above this are copied only in their first 16 bytes


def load():
    calls = []
    with open(SESSION) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            calls.append((line[0] == "W", bytes.fromhex(line[2:])))
    return calls


def elided(calls):
    """Per call, the [start, end) ranges (call offsets) of the large DATA payloads' bytes after
    their first 16: left uncopied. The frames are walked per direction across calls."""
    ranges = [[] for _ in calls]
    for write in (True, False):
        stream = b"".join(b for w, b in calls if w == write)
        starts, pos = [], 0
        for i, (w, b) in enumerate(calls):
            if w == write:
                starts.append((i, pos, pos + len(b)))
                pos += len(b)
        pos = len(PREFACE) if stream.startswith(PREFACE) else 0
        while pos + 9 <= len(stream):
            length = int.from_bytes(stream[pos:pos + 3], "big")
            if stream[pos + 3] == 0 and length > LARGE_DATA:  # DATA
                lo, hi = pos + 9 + 16, pos + 9 + length
                for i, s, e in starts:
                    if s < hi and lo < e:
                        ranges[i].append((max(lo, s) - s, min(hi, e) - s))
            pos += 9 + length
    return ranges


def segment(write, copied, shift=0, tail=b""):
    assert 1 <= len(copied) <= 256 and 0 <= shift <= 7
    control = (1 if write else 0) | (shift << 1) | (0x80 if tail else 0)
    return bytes([control, len(copied) - 1]) + copied + tail


def gap(write, data, start, end, tail_bytes):
    """Segments for data[start:end], not copied but for one byte before each 4^k run; the
    largest run last, with the call's tail when the gap ends the call."""
    out, n = [], end - start
    runs = []
    while n >= 5:
        k = max(k for k in range(1, 8) if 1 + 4**k <= n)
        runs.append(k)
        n -= 1 + 4**k
    pos = start
    if n:
        out.append(segment(write, data[pos:pos + n]))
        pos += n
    runs.sort()
    for j, k in enumerate(runs):
        run_end = pos + 1 + 4**k
        tail = b""
        if j == len(runs) - 1 and run_end == len(data) and tail_bytes:
            tail = data[run_end - min(tail_bytes, 4**k):run_end]
        out.append(segment(write, data[pos:pos + 1], k, tail))
        pos = run_end
    assert pos == end
    return out


def encode_call(write, data, uncopied=(), split=0, tail=0):
    """One call: copied everywhere but the `uncopied` ranges, cut at `split` (0: not cut)."""
    out, pos = [], 0
    cuts = sorted(set([0, len(data)] + ([split] if 0 < split < len(data) else [])))
    for lo, hi in sorted(uncopied):
        if lo > pos:
            out += copied(write, data, pos, lo, cuts)
        out += gap(write, data, lo, hi, tail)
        pos = hi
    if pos < len(data):
        out += copied(write, data, pos, len(data), cuts)
    return b"".join(out)


def copied(write, data, start, end, cuts):
    out, pos = [], start
    while pos < end:
        stop = min([end, pos + 256] + [c for c in cuts if c > pos])
        out.append(segment(write, data[pos:stop]))
        pos = stop
    return out


def session(calls, server=False, first=0, split=0, limit=None, tail=0):
    ranges = elided(calls)
    out = []
    for i in range(first, len(calls)):
        write, data = calls[i]
        if server:
            write = not write
        keep = ranges[i]
        if limit is not None and len(data) > limit:
            keep = [(limit, len(data))]
        out.append(encode_call(write, data, keep, split, tail))
    return b"".join(out) + CLOSE


def main():
    calls = load()
    # The fourth request's HEADERS (as test_http2_stitcher.cpp's mid-stream test picks it).
    requests, midstream = 0, 0
    for i, (write, data) in enumerate(calls):
        if write and data[3] == 1:
            requests += 1
            if requests == 4:
                midstream = i
                break
    seeds = {
        "grpc_session": session(calls),
        "grpc_session_server": session(calls, server=True),
        "grpc_session_copied_512_tail_16": session(calls, limit=512, tail=16),
        "grpc_session_copied_16": session(calls, limit=16),
        "grpc_session_midstream": session(calls, first=midstream),
        "grpc_session_split_1": session(calls, split=1),
        "grpc_session_split_9": session(calls, split=9),
        "grpc_session_split_40": session(calls, split=40),
    }
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds.items():
        assert len(data) < 200 * 1024, name
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
