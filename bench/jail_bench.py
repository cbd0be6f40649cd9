#!/usr/bin/env python3
"""What the jail adds to a VM's start, on this host's /dev/kvm (PVM is enough).

    python3 bench/jail_bench.py [--runs 20] [--snapshot STATE,MEM] [--jail-arg ARG]...

As root. Interleaved, run by run, four ways to start one VM:
  restore         ember-vmm --restore STATE,MEM (cwd: a fresh folder)
  restore-jailed  ember-jailer --id ... -- --restore /state,/mem, with the two
                  files hard-linked into the jail as emberd does
  restore-jailed-netns  the same with --netns: an empty network namespace
                  made before the clock starts (ip netns add), as emberd
                  makes them ahead (api/pool/netns.c)
  cold            ember-vmm --kernel vmlinux --initrd initramfs.cpio
  cold-jailed     the same through the jailer, kernel and initramfs hard-linked
  standby         ember-vmm --api-sock, spawned ahead as emberd's standby VMMs
                  are; timed from PUT /snapshot/load once its API listens
  standby-jailed  the same through the jailer (the restore emberd does)
Each run is timed from this script's spawn (the exec of ember-vmm, or of
ember-jailer) to ember-vmm's debug line "guest may run N us after start",
which comes once every thread has its seccomp filter, just before the first
guest instruction; the VMM is then stopped (SIGKILL: the guest never runs far
on PVM). The jailer's cost is everything between: its exec, the cgroup
(this host: v1), rlimits, namespaces, pivot_root, the library bind mounts,
the device nodes, the privilege drop and the second exec. Jail directories
and cgroups are removed between runs (not timed). The snapshot defaults to
build/bench/host/{state,mem}, which bench/restore_host.py makes.
"""
import argparse
import http.client
import json
import math
import os
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from guest import INITRAMFS, VMLINUX  # noqa: E402

BUILD = os.path.join(REPO, "build")
VMM = os.path.join(BUILD, "bin", "ember-vmm")
JAILER = os.path.join(BUILD, "bin", "ember-jailer")
# On the snapshot's file system, so the hard links work (as under $EMBER_HOME).
BASE = os.path.join(BUILD, "bench", "jail")
UID = 10999
RUNNING = re.compile(rb"guest may run (\d+) us after start")
CGROUP_ROOTS = ["/sys/fs/cgroup", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory"]


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def until_running(argv, cwd, timeout, load=None):
    """Spawn -> the "guest may run" line: (wall ms, the VMM's own us). With load
    (api socket, body), a standby as emberd keeps: once the API listens, the
    clock starts and PUT /snapshot/load goes; own is ember-vmm's figure as it logs it."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    buf = b""
    try:
        while True:
            if load is not None and b"API listening on" in buf:
                t0 = time.monotonic()
                c = UnixHTTP(load[0])
                c.request("PUT", "/snapshot/load", body=json.dumps(load[1]),
                          headers={"Content-Type": "application/json"})
                r = c.getresponse()
                if r.status != 204:
                    raise RuntimeError(f"load: {r.status} {r.read()[:400]!r}")
                c.close()
                load = None
            ready, _, _ = select.select([p.stderr], [], [], max(0, t0 + timeout - time.monotonic()))
            if not ready:
                raise RuntimeError(f"timeout: {buf[-400:]!r}")
            chunk = os.read(p.stderr.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"exited {p.wait()}: {buf[-400:]!r}")
            buf += chunk
            m = RUNNING.search(buf)
            if m:
                return (time.monotonic() - t0) * 1e3, int(m.group(1)) / 1e3
    finally:
        p.kill()
        p.wait()


def jail_root(vm_id):
    return os.path.join(BASE, "ember-vmm", vm_id, "root")


def clean_jail(vm_id):
    shutil.rmtree(os.path.join(BASE, "ember-vmm", vm_id), ignore_errors=True)
    for root in CGROUP_ROOTS:
        d = os.path.join(root, "ember-vmm", vm_id)
        for _ in range(100):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


# As emberd runs it: ember-vmm linked into each jail, not copied (it is
# root's, 0755, and on the jails' file system here: build/).
JAIL_ARGS = ["--link-exec-file"]


def jailed(vm_id, files, vmm_args, jail_args=()):
    root = jail_root(vm_id)
    os.makedirs(root)
    for src, name in files:
        os.link(src, os.path.join(root, name))
    return [JAILER, "--id", vm_id, "--exec-file", VMM, "--uid", str(UID), "--gid", str(UID),
            "--chroot-base-dir", BASE, *JAIL_ARGS, *jail_args, "--", *vmm_args]


def netns(vm_id):
    """A new empty network namespace, made before the clock starts."""
    subprocess.run(["ip", "netns", "add", f"ember-jb-{vm_id}"], check=True)
    return f"/run/netns/ember-jb-{vm_id}"


def p99(v):
    v = sorted(v)
    return v[max(0, math.ceil(0.99 * len(v)) - 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--snapshot", default=f"{BUILD}/bench/host/state,{BUILD}/bench/host/mem")
    ap.add_argument("--jail-arg", action="append", default=[], metavar="ARG",
                    help="an extra jailer argument (repeatable), e.g. --jail-arg=--netns=PATH")
    args = ap.parse_args()
    JAIL_ARGS.extend(args.jail_arg)
    state, _, mem = args.snapshot.partition(",")
    for f in (state, mem, VMM, JAILER):
        if not os.path.exists(f):
            sys.exit(f"missing {f} (make; python3 bench/restore_host.py makes the snapshot)")
    # The snapshot's vsock socket is relative ("v.sock"): a fresh cwd per run;
    # jailed, ember-vmm runs in "/" and takes the path from the caller only
    # (--vsock-override, as emberd's load request does; vmm/snapshot/README.md).
    scratch = f"/tmp/ember-jail-bench-{os.getpid()}"
    shutil.rmtree(BASE, ignore_errors=True)
    # Private copies of the guest files on this file system, to hard-link from.
    os.makedirs(os.path.join(BASE, "files"))
    kernel, initrd = (os.path.join(BASE, "files", n) for n in ("vmlinux", "initramfs.cpio"))
    shutil.copy(VMLINUX, kernel)
    shutil.copy(INITRAMFS, initrd)
    # The snapshot too, readable by the VMs' group (emberd's part, README.md).
    for src, name in ((state, "state"), (mem, "mem")):
        shutil.copy(src, os.path.join(BASE, "files", name))
        os.chown(os.path.join(BASE, "files", name), 0, UID)
        os.chmod(os.path.join(BASE, "files", name), 0o640)
    state, mem = (os.path.join(BASE, "files", n) for n in ("state", "mem"))
    debug = ["--log-level", "debug"]
    kinds = {
        "restore": lambda i, d: ([VMM, "--restore", f"{state},{mem}", *debug], d),
        "restore-jailed": lambda i, d: (jailed(f"r{i}", [(state, "state"), (mem, "mem")],
                                               ["--restore", "/state,/mem",
                                                "--vsock-override", "/v.sock", *debug]), d),
        "restore-jailed-netns": lambda i, d: (jailed(
            f"n{i}", [(state, "state"), (mem, "mem")],
            ["--restore", "/state,/mem", "--vsock-override", "/v.sock", *debug],
            ["--netns", netns(f"n{i}")]), d),
        "cold": lambda i, d: ([VMM, "--kernel", kernel, "--initrd", initrd, *debug], d),
        "cold-jailed": lambda i, d: (jailed(f"c{i}", [(kernel, "vmlinux"),
                                                      (initrd, "initramfs.cpio")],
                                            ["--kernel", "/vmlinux", "--initrd",
                                             "/initramfs.cpio", *debug]), d),
    }
    # As emberd's standby VMMs (api/pool/standby.c): spawned ahead, the
    # restore timed from the load request on (vsock path from the caller).
    def body(st, mm, vs):
        return {"snapshot_path": st, "mem_backend": {"backend_type": "File", "backend_path": mm},
                "vsock_override": {"uds_path": vs}, "resume_vm": True}
    kinds["standby"] = lambda i, d: (
        [VMM, "--api-sock", "api.sock", *debug], d,
        (os.path.join(d, "api.sock"), body(state, mem, "v.sock")))
    kinds["standby-jailed"] = lambda i, d: (
        jailed(f"s{i}", [(state, "state"), (mem, "mem")], ["--api-sock", "/api.sock", *debug]),
        d, (os.path.join(jail_root(f"s{i}"), "api.sock"), body("/state", "/mem", "/v.sock")))
    res = {k: [] for k in kinds}
    for rnd in range(args.runs + 1):  # round 0 warms the page cache, not counted
        for kind, make in kinds.items():
            d = f"{scratch}/{kind}-{rnd}"
            os.makedirs(d)
            argv, cwd, *load = make(rnd, d)
            try:
                wall, own = until_running(argv, cwd, args.timeout, *load)
            finally:
                for prefix in "rncs":
                    clean_jail(f"{prefix}{rnd}")
                if os.path.exists(f"/run/netns/ember-jb-n{rnd}"):
                    subprocess.run(["ip", "netns", "del", f"ember-jb-n{rnd}"], check=True)
                shutil.rmtree(d, ignore_errors=True)
            print(f"{'warm' if rnd == 0 else rnd:>4} {kind:15s} spawn->running {wall:.2f} ms "
                  f"(main()->running {own:.2f} ms)", file=sys.stderr, flush=True)
            if rnd:
                res[kind].append((wall, own))
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(BASE, ignore_errors=True)

    print(f"# {args.runs} runs each (+1 warm-up), interleaved; this host ({os.uname().release}), "
          f"cgroup v{'2' if os.path.exists('/sys/fs/cgroup/cgroup.controllers') else '1'}, "
          f"jailer arguments {JAIL_ARGS}")
    print("| start | spawn (standby: load) -> guest may run (median, p99) | "
          "of which in ember-vmm's main() |")
    print("|---|---|---|")
    for kind, rows in res.items():
        wall = [r[0] for r in rows]
        own = [r[1] for r in rows]
        print(f"| {kind} | {statistics.median(wall):.2f} ms, {p99(wall):.2f} ms | "
              f"{statistics.median(own):.2f} ms |")
    for plain in ("restore", "cold", "standby"):
        a = statistics.median(r[0] for r in res[plain])
        b = statistics.median(r[0] for r in res[f"{plain}-jailed"])
        what = "restore on a standby VMM (emberd's)" if plain == "standby" else f"{plain} start"
        print(f"jail adds to a {what}: {b - a:.2f} ms (median against median)")
        if plain == "restore":
            b = statistics.median(r[0] for r in res["restore-jailed-netns"])
            print(f"jail adds to a restore start, its network namespace made ahead "
                  f"(emberd's spawns): {b - a:.2f} ms (median against median)")


if __name__ == "__main__":
    main()
