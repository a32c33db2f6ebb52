#!/usr/bin/env python3
"""Holds idle and slow-header connections on an HTTP port and times scrapes (README.md)."""
import socket, sys, time, threading, argparse
p = argparse.ArgumentParser()
p.add_argument("port", type=int)
p.add_argument("--idle", type=int, default=200)
p.add_argument("--slow", type=int, default=50)
p.add_argument("--scrapes", type=int, default=20)
p.add_argument("--path", default="/metrics")
a = p.parse_args()
held, refused = [], 0
for i in range(a.idle):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect(("127.0.0.1", a.port))
        if i % 2: s.send(b"GET /metrics HTTP/1.1\r\n")
        held.append(s)
    except OSError:
        refused += 1
slow = []
for i in range(a.slow):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect(("127.0.0.1", a.port)); slow.append(s)
    except OSError:
        refused += 1
req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"
stop = False
def drip():
    i = 0
    while not stop:
        for s in slow:
            try: s.send(req[i % len(req):i % len(req) + 1])
            except OSError: pass
        i += 1; time.sleep(0.2)
t = threading.Thread(target=drip, daemon=True); t.start()
time.sleep(0.5)
lat = []
for i in range(a.scrapes):
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", a.port), timeout=15)
        s.send(b"GET " + a.path.encode() + b" HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            d = s.recv(65536)
            if not d: break
            data += d
        ok = data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n")[0]
        lat.append((time.monotonic() - t0, ok, len(data)))
    except OSError as e:
        lat.append((time.monotonic() - t0, False, str(e)))
stop = True
secs = sorted(x[0] for x in lat)
print(f"held idle={len(held)} slow={len(slow)} refused={refused}; scrapes ok={sum(1 for x in lat if x[1])}/{len(lat)}"
      f" latency min={secs[0]*1000:.1f}ms median={secs[len(secs)//2]*1000:.1f}ms max={secs[-1]*1000:.1f}ms")
