#!/usr/bin/env python3
"""The VMM side of a snapshot restore, on this host's /dev/kvm (PVM is enough).

    python3 bench/restore_host.py [--runs 20] [--snapshot STATE,MEM]...

It measures `ember-vmm --restore STATE,MEM --log-level debug` (cwd: a fresh
folder under /tmp) up to its line "ready to run N us after start": exec, reading
and checking the state file, mapping the memory file (MAP_PRIVATE), creating
the VM, its devices and vCPUs, and setting vCPU, irqchip, clock and device
state from the snapshot, i.e. everything before the first KVM_RUN. Per run it
records
  main_ms   N from that line: ember-vmm's main() -> ready to run
  wall_ms   this script's spawn (exec) -> that line arriving on stderr
then stops the VMM (SIGTERM) before anything else, and prints median, p99
(nearest rank), min and max over --runs runs after one warm-up run, the
snapshots interleaved run by run.

Snapshots, by default both of:
  testbox  build/bench/snapstate.{state,mem}: snapstate (1 vCPU, 128 MiB, vsock
           "v.sock", booted and answering) as bench/snapshot_bench.py takes it in
           the testbox (L1's KVM: nested AMD SVM) and copies to the checkout.
           This host's PVM KVM refuses part of its vCPU state (the MSR list of
           AMD SVM in L1 is not PVM's), so it never reaches "ready to run": for
           it the script reports spawn -> the error line and -> exit instead,
           i.e. the restore up to the point of failure.
  host     build/bench/host/{state,mem}, made here first (--remake to redo):
           the same configuration (1 vCPU, 128 MiB, the guest vmlinux and
           initramfs, ember.run=/bin/snapstate, vsock 3 "v.sock") booted
           through the API, paused --pause-after seconds after InstanceStart
           (PVM cannot run an unmodified Linux far, FACTS.md) and snapshotted.
           Its vCPU state comes from this host's KVM, so it restores fully.
           Its guest is in early boot: the vsock device is not yet activated
           by the driver, so device restore has less to do than for a running
           guest's snapshot.
"""
import argparse
import math
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from api_client import VMM, call  # noqa: E402
from guest import BASE_CMDLINE, INITRAMFS, VMLINUX  # noqa: E402

BENCH = os.path.join(REPO, "build", "bench")
READY = re.compile(rb"ready to run (\d+) us after start")
ERROR = re.compile(rb"ember-vmm: error: (.*)")


def make_host_snapshot(d, pause_after):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    run = f"/tmp/ember-restore-host-{os.getpid()}-make"
    os.makedirs(run)
    sock = os.path.join(run, "api.sock")
    p = subprocess.Popen([VMM, "--api-sock", sock], cwd=run, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError("ember-vmm --api-sock never listened")
            time.sleep(0.001)
        for path, body in [("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                           ("/boot-source", {"kernel_image_path": VMLINUX,
                                             "initrd_path": INITRAMFS,
                                             "boot_args": f"{BASE_CMDLINE} "
                                                          "ember.run=/bin/snapstate"}),
                           ("/vsock", {"guest_cid": 3, "uds_path": "v.sock"}),
                           ("/actions", {"action_type": "InstanceStart"})]:
            status, _, raw = call(sock, "PUT", path, body)
            assert status == 204, (path, raw)
        time.sleep(pause_after)
        status, _, raw = call(sock, "PATCH", "/vm", {"state": "Paused"})
        assert status == 204, raw
        state, mem = os.path.join(d, "state"), os.path.join(d, "mem")
        status, _, raw = call(sock, "PUT", "/snapshot/create",
                              {"snapshot_path": state, "mem_file_path": mem})
        assert status == 204, raw
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        shutil.rmtree(run, ignore_errors=True)
    return state, mem


def one_restore(state, mem, n, timeout):
    d = f"/tmp/ember-restore-host-{os.getpid()}-{n}"
    os.makedirs(d)
    t0 = time.monotonic()
    p = subprocess.Popen([VMM, "--restore", f"{state},{mem}", "--log-level", "debug"], cwd=d,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    r = {"main_ms": None, "wall_ms": None, "error_ms": None, "exit_ms": None, "error": None}
    buf = b""
    fd = p.stderr.fileno()
    deadline = t0 + timeout
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                raise RuntimeError(f"timeout: {buf[-500:]!r}")
            chunk = os.read(fd, 65536)
            now = time.monotonic()
            if not chunk:
                p.wait()
                r["exit_ms"] = (time.monotonic() - t0) * 1e3
                break
            buf += chunk
            m = READY.search(buf)
            if m:
                r["wall_ms"] = (now - t0) * 1e3
                r["main_ms"] = int(m.group(1)) / 1e3
                break
            e = ERROR.search(buf)
            if e and r["error"] is None and b"\n" in buf[e.start():]:
                r["error_ms"] = (now - t0) * 1e3
                r["error"] = e.group(1).decode(errors="replace")
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
        shutil.rmtree(d, ignore_errors=True)
    if r["main_ms"] is None and r["error"] is None:
        raise RuntimeError(f"neither ready nor an error (exit {p.returncode}): {buf[-500:]!r}")
    return r


def p99(vals):
    v = sorted(vals)
    return v[max(0, math.ceil(0.99 * len(v)) - 1)]


def stats(vals):
    return (f"median {statistics.median(vals):.2f} ms, p99 {p99(vals):.2f} ms, "
            f"min {min(vals):.2f}, max {max(vals):.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--snapshot", action="append", metavar="STATE,MEM",
                    help="a snapshot to restore (repeatable; default: testbox and host)")
    ap.add_argument("--remake", action="store_true", help="make the host snapshot again")
    ap.add_argument("--pause-after", type=float, default=0.05,
                    help="host snapshot: seconds between InstanceStart and Paused")
    args = ap.parse_args()

    snaps = []
    if args.snapshot:
        for i, spec in enumerate(args.snapshot):
            state, _, mem = spec.partition(",")
            snaps.append((f"snap{i}", state, mem))
    else:
        tb = (os.path.join(BENCH, "snapstate.state"), os.path.join(BENCH, "snapstate.mem"))
        if os.path.exists(tb[0]) and os.path.exists(tb[1]):
            snaps.append(("testbox", *tb))
        else:
            print(f"# no testbox snapshot in {BENCH} (run bench/snapshot_bench.py in the "
                  "testbox first)")
        hs = os.path.join(BENCH, "host")
        if args.remake or not os.path.exists(os.path.join(hs, "mem")):
            make_host_snapshot(hs, args.pause_after)
        snaps.append(("host", os.path.join(hs, "state"), os.path.join(hs, "mem")))

    res = {name: [] for name, _, _ in snaps}
    n = 0
    for rnd in range(args.runs + 1):  # round 0: warm-up, not counted
        for name, state, mem in snaps:
            n += 1
            r = one_restore(state, mem, n, args.timeout)
            print(f"{'warm' if rnd == 0 else rnd:>4} {name:8s} " + " ".join(
                f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()),
                file=sys.stderr, flush=True)
            if rnd:
                res[name].append(r)

    print(f"# {args.runs} runs per snapshot (+1 warm-up), interleaved; this host "
          f"({os.uname().release}), ember-vmm {VMM}")
    for name, state, mem in snaps:
        rows = res[name]
        print(f"## {name}: {state} ({os.path.getsize(state)} B), {mem} "
              f"({os.path.getsize(mem) >> 20} MiB)")
        ok = [r for r in rows if r["main_ms"] is not None]
        bad = [r for r in rows if r["main_ms"] is None]
        if ok:
            print(f"main() -> ready to run: {stats([r['main_ms'] for r in ok])}")
            print(f"exec -> ready to run:   {stats([r['wall_ms'] for r in ok])}")
        if bad:
            print(f"failed {len(bad)} of {len(rows)}: {sorted({r['error'] for r in bad})}")
            print(f"exec -> error line:     {stats([r['error_ms'] for r in bad])}")
            print(f"exec -> exit:           {stats([r['exit_ms'] for r in bad])}")


if __name__ == "__main__":
    main()
