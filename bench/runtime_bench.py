#!/usr/bin/env python3
"""Per runtime image: INIT -> READY, and the warm invoke round trip, with an empty handler.

Run it on a KVM host that boots Linux, or inside the testbox:

    tests/testbox/run --timeout 1800 -- python3 bench/runtime_bench.py [--invokes 1000] \
        [--lang-invokes 300] [--inits 3] [--runtimes provided,python,nodejs]

For each runtime, each of --inits runs boots ember-vmm with ember.lambda=1, the
real image build/runtimes/<name>.erofs (`make runtimes`) on /dev/vda and a
code image on /dev/vdb holding an empty handler:
  provided  the compiled static bootstrap tests/guests/lambda_fn.c, _HANDLER=empty
  python    app.py: def handler(event, context): return {}
  nodejs    app.js: exports.handler = async () => ({});
build/bin/gproto-drive sends INIT (timed to READY: the runtime's cold start,
from process start to its first /next), then INVOKEs of "{}" one after
another (each timed from INVOKE sent to RESULT received): --invokes for
provided, --lang-invokes (at least 200) for python and nodejs. Reported per
runtime: the median over the runs of INIT -> READY and of p50/p99. In the
testbox everything runs under QEMU's emulator, so absolute numbers are
pessimistic; compare runs of the same build.
"""
import argparse
import os
import statistics
import sys
import tempfile

import invoke_bench
from invoke_bench import BUILD, FN, mkfs

LAMBDA_NAME = {"provided": "provided.al2023", "python": "python3.12", "nodejs": "nodejs20.x"}
HANDLER = {"provided": "empty", "python": "app.handler", "nodejs": "app.handler"}
CODE = {
    "python": ("app.py", b"def handler(event, context):\n    return {}\n", 0o644),
    "nodejs": ("app.js", b"exports.handler = async () => ({});\n", 0o644),
}


def code_image(tmp, runtime):
    d = os.path.join(tmp, "code-" + runtime)
    os.makedirs(d)
    if runtime == "provided":
        name, mode = "bootstrap", 0o755
        with open(FN, "rb") as f:
            data = f.read()
    else:
        name, data, mode = CODE[runtime]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    os.chmod(os.path.join(d, name), mode)
    return mkfs(d, os.path.join(tmp, f"code-{runtime}.erofs"))


def one_run(runtime, root, code, sock, invokes):
    return invoke_bench.one_run(root, code, sock,
                                ["--runtime", LAMBDA_NAME[runtime], "--handler",
                                 HANDLER[runtime], "--bench", str(invokes)], runtime)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--invokes", type=int, default=1000, help="warm invokes per VM, provided")
    ap.add_argument("--lang-invokes", type=int, default=1000,
                    help="warm invokes per VM, python and nodejs (at least 200)")
    ap.add_argument("--inits", type=int, default=3, help="VMs booted per runtime (one INIT each)")
    ap.add_argument("--runtimes", default="provided,python,nodejs")
    a = ap.parse_args()
    if a.lang_invokes < 200 or a.invokes < 200:
        ap.error("measure at least 200 invokes: p99 needs them")
    runtimes = a.runtimes.split(",")
    for r in runtimes:
        if r not in LAMBDA_NAME:
            ap.error(f"unknown runtime {r}")
        if not os.path.exists(os.path.join(BUILD, "runtimes", f"{r}.erofs")):
            sys.exit(f"build/runtimes/{r}.erofs is missing: make runtimes")
    summary = []
    with tempfile.TemporaryDirectory(dir=os.path.join(BUILD, "tmp") if os.path.isdir(
            os.path.join(BUILD, "tmp")) else None) as tmp:
        for r in runtimes:
            root = os.path.join(BUILD, "runtimes", f"{r}.erofs")
            code = code_image(tmp, r)
            n = a.invokes if r == "provided" else a.lang_invokes
            inits, p50s, p99s = [], [], []
            for i in range(a.inits):
                sock = f"/tmp/ember-runtime-bench-{os.getpid()}-{r}-{i}.sock"
                init_us, b = one_run(r, root, code, sock, n)
                inits.append(init_us)
                p50s.append(b["p50_us"])
                p99s.append(b["p99_us"])
                print(f"{r} run {i}: init {init_us / 1000:.1f} ms, invoke p50 {b['p50_us']} us "
                      f"p99 {b['p99_us']} us max {b['max_us']} us (n={b['n']})", flush=True)
            summary.append(f"{r:8s} INIT->READY median {statistics.median(inits) / 1000:.1f} ms "
                           f"(min {min(inits) / 1000:.1f}, max {max(inits) / 1000:.1f}); warm "
                           f"invoke p50 {statistics.median(p50s)} us, p99 "
                           f"{statistics.median(p99s)} us (median over {a.inits} VMs x {n})")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
