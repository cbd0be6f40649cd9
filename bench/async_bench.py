#!/usr/bin/env python3
"""Event invocations through emberd, on this host, against the stand-in VMM.

    python3 bench/async_bench.py [--seconds 10] [--recovery-events 10000]

build/bin/standin-vmm plays ember-vmm and ember-init (tests/drivers/standin_vmm.c),
so what is measured is emberd: the Lambda API over loopback TCP, the durable
queue (one SQLite commit with synchronous=FULL per accepted event, on this
host's ext4 disk, not a tmpfs), and the dispatcher running the events.

1. Accept latency: `wrk -t1 -c1 --latency` POSTing {} with
   X-Amz-Invocation-Type: Event for --seconds; p50, p99 of the 202 (each
   answered after its fsync). The dispatcher runs the events meanwhile.
2. Accept throughput: `wrk -t2 -c32` the same way; events/s accepted (202s).
3. Recovery: --recovery-events events are queued for a function whose events
   cannot run (reserved concurrency 0: throttled, they wait), emberd is
   SIGKILLed, and a new emberd is started on the same home: the time from its
   spawn to its "ready" line, with every event loaded.
Targets (issue 20): p50 <= 1 ms, >= 2,000 events/s, recovery <= 1 s for 10,000.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading

import emberd_bench  # bench/emberd_bench.py: emberd on the stand-in VMM

LUA = ('wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = '
       '"application/json"\nwrk.headers["X-Amz-Invocation-Type"] = "Event"\n')


class Emberd(emberd_bench.Emberd):
    """emberd_bench's emberd on the stand-in, with a /metrics reader."""

    def metric(self, name):
        text = self.call("GET", "/metrics")[1].decode()
        return float(re.search(rf"^{name} (\S+)$", text, re.M).group(1))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(120)

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def wrk(port, name, threads, conns, seconds, script):
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency",
                          "-s", script, f"http://127.0.0.1:{port}/2015-03-31/functions/"
                          f"{name}/invocations"], capture_output=True, text=True, check=True)
    text = out.stdout

    def us(label):
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"p50_us": us("50%"), "p99_us": us("99%"), "rps": rps, "total": total,
            "non2xx": int(errors.group(1)) if errors else 0}


def fill(port, name, n, threads=8):
    """Sends exactly n events over keep-alive connections."""
    def one(count):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(count):
            c.request("POST", f"/2015-03-31/functions/{name}/invocations", body=b"{}",
                      headers={"X-Amz-Invocation-Type": "Event"})
            r = c.getresponse()
            r.read()
            assert r.status == 202
        c.close()
    ts = [threading.Thread(target=one, args=(n // threads + (i < n % threads),))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--recovery-events", type=int, default=10000)
    a = ap.parse_args()
    # On the disk, where a fsync is a real one (/tmp here is ext4 too, but be explicit).
    tmp = tempfile.mkdtemp(prefix="ember-async-bench-", dir=emberd_bench.BUILD)
    script = os.path.join(tmp, "event.lua")
    with open(script, "w") as f:
        f.write(LUA)
    try:
        e = Emberd(tmp, os.path.join(tmp, "a"))
        e.create("bench")
        wrk(e.port, "bench", 1, 1, 2, script)  # warm-up: instances started
        lat = wrk(e.port, "bench", 1, 1, a.seconds, script)
        thr = wrk(e.port, "bench", 2, 32, a.seconds, script)
        accepted = e.metric("ember_events_accepted_total")
        e.stop()
        print(f"accept latency (c=1): p50 {lat['p50_us']:.0f} us, p99 {lat['p99_us']:.0f} us "
              f"({lat['rps']:.0f}/s, non-2xx {lat['non2xx']})")
        print(f"accept throughput (c=32): {thr['rps']:.0f} events/s (non-2xx {thr['non2xx']}); "
              f"{accepted:.0f} accepted in all")
        # Recovery: a queue that cannot drain (reserved concurrency 0).
        home = os.path.join(tmp, "r")
        e = Emberd(tmp, home, extra=["--async-retry-base", "3600"])
        e.create("held")
        status, out = e.call("PUT", "/2017-10-31/functions/held/concurrency",
                             json.dumps({"ReservedConcurrentExecutions": 0}))
        assert status == 200, out
        fill(e.port, "held", a.recovery_events)
        depth = e.metric("ember_event_queue_depth") + e.metric("ember_event_running")
        e.kill()
        e2 = Emberd(tmp, home)
        print(f"recovery: {e2.queued} queued events (of {depth:.0f}) loaded; spawn to ready "
              f"{e2.start_s * 1000:.0f} ms")
        e2.kill()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
