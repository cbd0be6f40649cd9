#!/usr/bin/env python3
"""Control API benchmark (issue 6), on this host directly: no guest is needed.

    python3 bench/api_bench.py [--calls 1000] [--starts 50]

1. Latency: --calls requests of GET / and of PUT /machine-config on one
   keep-alive connection (Python's http.client over the Unix socket), before
   InstanceStart. Prints p50 and p99 in microseconds; the time includes the
   Python client's own work.
2. Exec to API ready: spawn ember-vmm --api-sock, then connect() in a loop
   until the socket accepts (a benchmark may spin; the product never does).
   Prints the median and p99 wall time from just before exec, and the
   VMM's CPU time at that moment (/proc/<pid>/task/*/schedstat, all threads).
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
VMM = os.path.join(REPO, "build", "bin", "ember-vmm")


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.unix_path)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def start(sock):
    t0 = time.perf_counter()
    proc = subprocess.Popen([VMM, "--api-sock", sock], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(sock)
            break
        except OSError:
            pass
        finally:
            s.close()
    wall = time.perf_counter() - t0
    cpu = 0
    for tid in os.listdir(f"/proc/{proc.pid}/task"):  # on-CPU ns of every thread
        with open(f"/proc/{proc.pid}/task/{tid}/schedstat") as f:
            cpu += int(f.read().split()[0]) / 1e9
    return proc, wall, cpu


def latency(sock, calls):
    conn = UnixConn(sock)
    body = json.dumps({"vcpu_count": 1, "mem_size_mib": 128})
    out = {}
    for name, method, path, data in (("GET /", "GET", "/", None),
                                     ("PUT /machine-config", "PUT", "/machine-config", body)):
        xs = []
        for _ in range(calls):
            t0 = time.perf_counter()
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            r = conn.getresponse()
            r.read()
            xs.append(time.perf_counter() - t0)
            assert r.status in (200, 204), r.status
        out[name] = xs
    conn.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--starts", type=int, default=50)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "api.sock")
        walls, cpus = [], []
        for _ in range(args.starts):
            proc, wall, cpu = start(sock)
            walls.append(wall)
            cpus.append(cpu)
            proc.terminate()
            proc.wait()
        proc, _, _ = start(sock)
        try:
            lat = latency(sock, args.calls)
        finally:
            proc.terminate()
            proc.wait()
    print(f"exec -> API socket accepting ({args.starts} starts): median "
          f"{statistics.median(walls) * 1e3:.2f} ms, p99 {pct(walls, 99) * 1e3:.2f} ms; "
          f"VMM CPU time then: median {statistics.median(cpus) * 1e3:.2f} ms")
    for name, xs in lat.items():
        print(f"{name}: {len(xs)} calls, p50 {pct(xs, 50) * 1e6:.0f} us, "
              f"p99 {pct(xs, 99) * 1e6:.0f} us")


if __name__ == "__main__":
    sys.exit(main())
