#!/usr/bin/env python3
"""emberd's own cost, on this host, against the stand-in VMM (no KVM, no guest).

    python3 bench/emberd_bench.py [--seconds 10] [--functions 100] [--per-function 2]

build/bin/standin-vmm plays ember-vmm and ember-init at once (tests/drivers/
standin_vmm.c): it answers INIT with READY and INVOKE with STATS + RESULT at
once. So what is measured is emberd: the Lambda API over loopback TCP
(evhttp), the invoker, the vsock framing, the log lines, and the stand-in's own
few microseconds per frame.

1. Warm invoke latency at concurrency 1: `wrk -t1 -c1 --latency` POSTing {} to
   one function's /invocations for --seconds (after a warm-up); p50, p99, and
   emberd's CPU time per invoke (/proc/PID/stat). Then the floor under it:
   GetFunctionConfiguration the same way, one HTTP exchange with emberd and no
   VMM behind it.
2. Throughput at concurrency 32: `wrk -t2 -c32` on the same function (32
   instances, warmed first); invokes/s.
3. Memory: a fresh emberd holding --functions functions with --per-function
   idle instances each (two concurrent invokes per function until every
   function has two instances); emberd's VmRSS and Pss.
Targets (issue 18): p50 <= 100 us, >= 10,000 invokes/s, RSS <= 16 MiB.
"""
import argparse
import base64
import collections
import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
EMBERD = os.path.join(BUILD, "bin", "emberd")
STANDIN = os.path.join(BUILD, "bin", "standin-vmm")
READY = re.compile(r"ready: Lambda API on unix:\S+ and http://127\.0\.0\.1:(\d+)")
QUEUED = re.compile(r"async: (\d+) events queued")
LUA = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


class Emberd:
    """emberd on home with the stand-in VMM (bench/async_bench.py uses it too):
    port, start_s (spawn to its ready line) and queued (the Event queue it
    loaded at start, if it said)."""

    def __init__(self, tmp, home, extra=()):
        self.home = home
        runtimes = os.path.join(tmp, "runtimes")
        if not os.path.isdir(runtimes):
            # The stand-in opens no image: empty files are enough.
            os.makedirs(runtimes)
            shutil.copy(os.path.join(REPO, "runtimes", "runtimes.json"), runtimes)
            for name in ("python", "nodejs", "provided"):
                open(os.path.join(runtimes, name + ".erofs"), "w").close()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [EMBERD, "--home", self.home, "--listen", "127.0.0.1:0", "--no-jail", "--vmm", STANDIN,
             "--kernel", "/dev/null", "--initrd", "/dev/null", "--runtimes", runtimes,
             "--memory-budget", str(1 << 30), "--keep-warm", "3600", "--log-level", "info",
             *extra], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        self.port, self.queued = None, None
        for line in self.proc.stderr:
            m = QUEUED.search(line)
            if m:
                self.queued = int(m.group(1))
            m = READY.search(line)
            if m:
                self.port = int(m.group(1))
                break
        self.start_s = time.monotonic() - t0
        if self.port is None:
            raise RuntimeError("emberd did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def call(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/json", **(headers or {})})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def create(self, name):
        body = json.dumps({"FunctionName": name, "Runtime": "python3.12",
                           "Handler": "app.handler", "Role": "arn:aws:iam::0:role/x",
                           "Code": {"ZipFile": base64.b64encode(zip_bytes()).decode()}})
        status, out = self.call("POST", "/2015-03-31/functions", body)
        assert status == 201, out

    def invoke(self, name):
        status, out = self.call("POST", f"/2015-03-31/functions/{name}/invocations", b"{}")
        assert status == 200, out

    def status(self):
        return json.loads(self.call("GET", "/ember/status")[1])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def wrk(port, name, threads, conns, seconds, script, route="invocations"):
    """wrk on a function's route: POST /invocations (script), or a GET."""
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency",
                          *(["-s", script] if script else []),
                          f"http://127.0.0.1:{port}/2015-03-31/functions/{name}/{route}"],
                         capture_output=True, text=True, check=True)
    text = out.stdout

    def us(label):
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"p50_us": us("50%"), "p99_us": us("99%"), "rps": rps,
            "requests": int(re.search(r"(\d+) requests in", text).group(1)),
            "non2xx": int(errors.group(1)) if errors else 0, "raw": text}


def cpu_s(pid):
    """(user, kernel): CPU seconds a process has used (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return tuple(int(fields[i]) / os.sysconf("SC_CLK_TCK") for i in (11, 12))


def mem_of(pid):
    """kB: VmRSS, its anonymous part, its file-backed part (code, shared libraries), Pss."""
    with open(f"/proc/{pid}/status") as f:
        st = f.read()
    with open(f"/proc/{pid}/smaps_rollup") as f:
        pss = int(re.search(r"Pss:\s+(\d+) kB", f.read()).group(1))
    return [int(re.search(rf"{k}:\s+(\d+) kB", st).group(1))
            for k in ("VmRSS", "RssAnon", "RssFile")] + [pss]


def rss_by_file(pid, top=8):
    """[(kB, mapping)]: where VmRSS lies, by mapped file ([heap], [anon], each
    shared library), the largest first; what a reader needs to see which part
    of emberd's RSS is its own and which its libraries'."""
    by = collections.Counter()
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                name = head[5] if len(head) > 5 else "[anon]"
            elif head[0] == "Rss:":
                by[os.path.basename(name)] += int(head[1])
    return [(kb, name) for name, kb in by.most_common(top)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--functions", type=int, default=100)
    ap.add_argument("--per-function", type=int, default=2)
    ap.add_argument("--json", help="also write the numbers here (bench/bench.py)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ember-bench-", dir="/tmp")
    script = os.path.join(tmp, "post.lua")
    with open(script, "w") as f:
        f.write(LUA)
    try:
        e = Emberd(tmp, os.path.join(tmp, "latency"))
        e.create("bench")
        e.invoke("bench")
        wrk(e.port, "bench", 1, 1, 2, script)  # warm-up
        cpu0 = cpu_s(e.proc.pid)
        lat = wrk(e.port, "bench", 1, 1, a.seconds, script)
        lat["emberd_user_us"], lat["emberd_kernel_us"] = (
            (b - a) / lat["requests"] * 1e6 for a, b in zip(cpu0, cpu_s(e.proc.pid)))
        # The floor under it: one HTTP exchange with emberd and no VMM behind it.
        hop = wrk(e.port, "bench", 1, 1, a.seconds, None, "configuration")
        wrk(e.port, "bench", 2, 32, 3, script)  # starts and warms 32 instances
        thr = wrk(e.port, "bench", 2, 32, a.seconds, script)
        inst = sum(p["Idle"] + p["Busy"] for p in e.status()["Pools"])
        e.stop()
        print(f"warm invoke, concurrency 1: p50 {lat['p50_us']:.0f} us, p99 {lat['p99_us']:.0f}"
              f" us, {lat['rps']:.0f}/s (non-2xx: {lat['non2xx']}); emberd's CPU "
              f"per invoke: {lat['emberd_user_us']:.0f} us user, {lat['emberd_kernel_us']:.0f} us "
              f"kernel")
        print(f"the floor, GetFunctionConfiguration (no VMM), concurrency 1: p50 "
              f"{hop['p50_us']:.0f} us, p99 {hop['p99_us']:.0f} us (non-2xx: {hop['non2xx']})")
        print(f"concurrency 32: {thr['rps']:.0f} invokes/s, p50 {thr['p50_us']:.0f} us, p99 "
              f"{thr['p99_us']:.0f} us, {inst} instances (non-2xx: {thr['non2xx']})")

        e = Emberd(tmp, os.path.join(tmp, "memory"))
        rss, anon, files, pss = mem_of(e.proc.pid)
        start_rss = rss
        print(f"memory: emberd at start, no function: VmRSS {rss / 1024:.1f} MiB (anonymous "
              f"{anon / 1024:.1f}, files {files / 1024:.1f}), Pss {pss / 1024:.1f} MiB")
        names = [f"fn{i:03d}" for i in range(a.functions)]
        for n in names:
            e.create(n)
        for _ in range(20):  # concurrent invokes until each function has enough instances
            have = {p["FunctionName"]: p["Idle"] + p["Busy"] for p in e.status()["Pools"]}
            short = [n for n in names if have.get(n, 0) < a.per_function]
            if not short:
                break
            ts = [threading.Thread(target=e.invoke, args=(n,)) for n in short
                  for _ in range(a.per_function)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        st = e.status()
        total = sum(p["Idle"] + p["Busy"] for p in st["Pools"])
        rss, anon, files, pss = mem_of(e.proc.pid)
        where = rss_by_file(e.proc.pid)
        e.stop()
        print(f"memory: {len(st['Pools'])} functions, {total} idle instances: emberd VmRSS "
              f"{rss / 1024:.1f} MiB (anonymous {anon / 1024:.1f}, files {files / 1024:.1f}), "
              f"Pss {pss / 1024:.1f} MiB; largest parts: "
              + ", ".join(f"{name} {kb / 1024:.1f}" for kb, name in where))
        if a.json:
            for r in (lat, thr, hop):
                r.pop("raw")
            with open(a.json, "w") as f:
                json.dump({"seconds": a.seconds, "tool": "wrk (warm-up run first, not counted)",
                           "vmm": "standin-vmm", "c1": lat, "c1_no_vmm": hop, "c32": thr, "functions": len(
                               st["Pools"]), "instances": total, "rss_kib": rss,
                           "pss_kib": pss, "start_rss_kib": start_rss,
                           "rss_largest": where}, f, indent=1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
