#!/usr/bin/env python3
"""Start times per runtime through the Lambda API, in one testbox run (or on a KVM host).

    python3 bench/emberd_runtime_bench.py [--cold 5] [--restore 20] [--warm 50]

emberd runs where ember-vmm runs (the testbox's L1 on a host without hardware
KVM); boto3 on this host invokes the examples (hello-python, hello-nodejs,
hello-provided) through the forwarded port, and each sample is the client's
round trip, from the request to the whole response:
  cold     emberd --no-snapstart --keep-warm 0: every invoke boots a microVM
           and inits the runtime (REPORT: Init Duration)
  restore  emberd --keep-warm 0: the first invoke boots and snapshots; every
           later one restores that snapshot (REPORT: Restore Duration)
  warm     emberd --keep-warm 600: the same instance every time
Each sample's kind is checked against its REPORT line. Prints p50 and p99
(nearest rank) per runtime and kind, and restore/cold at p50 (targets: <= 0.05
for python and nodejs, <= 0.1 for provided). In the testbox everything is
emulated (FACTS.md): compare kinds and runtimes within one run only."""
import argparse
import json
import math
import os
import statistics
import sys
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "testbox"))
import conftest  # noqa: E402
import testbox  # noqa: E402
from emberd_kvm import EmberdVm, c_bootstrap, reports  # noqa: E402

EXAMPLES = os.path.join(REPO, "examples")
RUNTIMES = [  # label, Lambda runtime, handler, files
    ("python", "python3.12", "app.handler", lambda: {"app.py": (read("python/app.py"), 0o644)}),
    ("nodejs", "nodejs20.x", "index.handler",
     lambda: {"index.js": (read("nodejs/index.js"), 0o644)}),
    ("provided", "provided.al2023", "hello", lambda: {"bootstrap": (c_bootstrap(), 0o755)}),
]
TARGET = {"python": 0.05, "nodejs": 0.05, "provided": 0.1}


def read(path):
    with open(os.path.join(EXAMPLES, path), "rb") as f:
        return f.read()


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(0, math.ceil(p / 100 * len(xs)) - 1)]


def timed(e, name, expect):
    t = time.monotonic()
    status, ferr, body, log, _ = e.invoke(name, {"name": "bench"}, read_timeout=900)
    ms = (time.monotonic() - t) * 1000
    assert status == 200 and ferr is None, (body, log)
    rep = reports(log)[0]
    assert rep["start"] == expect, (expect, log)
    return ms, rep["init"] if rep["init"] is not None else rep["duration"]


def run_kind(kvm, kind, n):
    extra = {"cold": ["--no-snapstart", "--keep-warm", "0"], "restore": ["--keep-warm", "0"],
             "warm": ["--keep-warm", "600"]}[kind]
    e = EmberdVm(kvm, extra=["--memory-budget", "4096", *extra])
    out = {}
    try:
        for label, runtime, handler, files in RUNTIMES:
            name = f"bench-{label}"
            e.create(name, runtime, handler, files(), timeout=300)
            if kind != "cold":
                timed(e, name, "init")  # the boot (and the snapshot)
            expect = {"cold": "init", "restore": "restore", "warm": "warm"}[kind]
            out[label] = [timed(e, name, expect) for _ in range(n)]
            print(f"{kind:>7} {label:<9} " + " ".join(f"{ms:.0f}" for ms, _ in out[label]),
                  flush=True)
    finally:
        e.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", type=int, default=5)
    ap.add_argument("--restore", type=int, default=20)
    ap.add_argument("--warm", type=int, default=50)
    a = ap.parse_args()
    where, why = testbox.choose_kvm_host()
    if where is None:
        sys.exit(f"no KVM: {why}")
    box = None
    if where == "direct":
        kvm = conftest.DirectHost()
    else:
        box = testbox.Testbox(os.path.join(conftest.BUILD, "testbox", "emberd-bench"))
        box.boot()
        kvm = conftest.TestboxHost(box)
    print(f"KVM host: {where} ({why})", flush=True)
    try:
        res = {k: run_kind(kvm, k, n) for k, n in
               (("cold", a.cold), ("restore", a.restore), ("warm", a.warm))}
    finally:
        if box is not None:
            box.stop()
    print()
    print("| runtime | kind | n | client p50 ms | client p99 ms | REPORT p50 ms |")
    print("|---|---|---|---|---|---|")
    for label, *_ in RUNTIMES:
        for kind in ("cold", "restore", "warm"):
            s = res[kind][label]
            client = [ms for ms, _ in s]
            rep = [r for _, r in s]
            print(f"| {label} | {kind} | {len(s)} | {pct(client, 50):.1f} | {pct(client, 99):.1f}"
                  f" | {statistics.median(rep):.1f} |")
    print()
    for label, *_ in RUNTIMES:
        ratio = pct([ms for ms, _ in res["restore"][label]], 50) / \
            pct([ms for ms, _ in res["cold"][label]], 50)
        ok = "met" if ratio <= TARGET[label] else "NOT met"
        print(f"{label}: restore/cold at p50 = {ratio:.3f} (target <= {TARGET[label]}: {ok})")
    print(json.dumps({k: {lbl: [ms for ms, _ in v] for lbl, v in r.items()}
                      for k, r in res.items()}))


if __name__ == "__main__":
    sys.exit(main())
