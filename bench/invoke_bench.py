#!/usr/bin/env python3
"""Warm invoke round trip host -> guest -> host, and INIT -> READY, through ember-init.

Run it on a KVM host that boots Linux, or inside the testbox:

    tests/testbox/run --timeout 1800 -- python3 bench/invoke_bench.py [--invokes 1000] [--inits 3]

Each run boots ember-vmm with ember.lambda=1, a busybox root image and a code
image holding the static `provided`-style bootstrap tests/guests/lambda_fn.c
with _HANDLER=empty (answers {} at once). build/bin/gproto-drive sends INIT
(timed to READY), then --invokes INVOKEs of "{}" one after another (each
timed from INVOKE sent to RESULT received) and reports p50/p99. In the testbox
everything runs under QEMU's emulator, so absolute numbers are pessimistic;
compare runs of the same build, and claim absolute numbers only from bare metal.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
VMM = os.path.join(BUILD, "bin", "ember-vmm")
DRIVE = os.path.join(BUILD, "bin", "gproto-drive")
FN = os.path.join(BUILD, "bin", "guests", "lambda_fn")
VMLINUX = os.path.join(BUILD, "guest", "vmlinux")
INITRD = os.path.join(BUILD, "guest", "initramfs.cpio")  # Lambda mode runs only ember-init


def mkfs(src, out):
    subprocess.run(["mkfs.erofs", "--quiet", "--all-root", out, src], check=True, capture_output=True)
    return out


def images(tmp):
    root = os.path.join(tmp, "root")
    for sub in ("bin", "var/task", "var/runtime", "tmp", "proc", "dev"):
        os.makedirs(os.path.join(root, sub))
    shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
    code = os.path.join(tmp, "code")
    os.makedirs(code)
    shutil.copy(FN, os.path.join(code, "bootstrap"))
    return mkfs(root, os.path.join(tmp, "root.erofs")), mkfs(code, os.path.join(tmp, "code.erofs"))


def one_run(root, code, sock, drive_args, label="guest"):
    """Boots one Lambda-mode VM with root and code images and runs gproto-drive with
    drive_args against it; returns (INIT -> READY in us, the BENCH line)."""
    quirk = " noxsave" if os.environ.get("TESTBOX") == "1" or os.path.exists("/testbox") else ""
    cmd = f"console=ttyS0 reboot=k panic=-1 quiet{quirk} ember.lambda=1"
    vm = subprocess.Popen([VMM, "--kernel", VMLINUX, "--initrd", INITRD, "--cmdline", cmd,
                           "--mem-mib", "256", "--drive", root + ",ro", "--drive", code + ",ro",
                           "--vsock", f"3,{sock}"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        for line in vm.stdout:  # wait for the listener: an event, not a sleep
            if "listening on vsock port 1024" in line:
                break
        else:
            sys.exit(f"{label}: the guest ended before listening")
        p = subprocess.run([DRIVE, "--uds", sock, *drive_args, "--timeout", "300"],
                           capture_output=True, text=True, timeout=3600)
        msgs = [json.loads(x) for x in p.stdout.splitlines()]
        ready = [m for m in msgs if m["type"] == "READY"]
        bench = [m for m in msgs if m["type"] == "BENCH"]
        if p.returncode != 0 or not ready or not bench:
            sys.exit(f"{label}: gproto-drive failed ({p.returncode}): {p.stdout} {p.stderr}")
        return ready[0]["init_us"], bench[0]
    finally:
        vm.kill()
        vm.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--invokes", type=int, default=1000)
    ap.add_argument("--inits", type=int, default=3, help="VMs booted (one INIT each)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.path.join(BUILD, "tmp") if os.path.isdir(
            os.path.join(BUILD, "tmp")) else None) as tmp:
        root, code = images(tmp)
        inits, p50s, p99s = [], [], []
        for i in range(a.inits):
            sock = f"/tmp/ember-invoke-bench-{os.getpid()}-{i}.sock"
            init_us, b = one_run(root, code, sock, ["--handler", "empty", "--bench", str(a.invokes)])
            inits.append(init_us)
            p50s.append(b["p50_us"])
            p99s.append(b["p99_us"])
            print(f"run {i}: init {init_us / 1000:.1f} ms, invoke p50 {b['p50_us']} us "
                  f"p99 {b['p99_us']} us max {b['max_us']} us (n={b['n']})", flush=True)
        print(f"INIT->READY median {statistics.median(inits) / 1000:.1f} ms; warm invoke "
              f"p50 {statistics.median(p50s)} us, p99 {statistics.median(p99s)} us "
              f"(median over {a.inits} VMs x {a.invokes} invokes)")


if __name__ == "__main__":
    main()
