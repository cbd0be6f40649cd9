#!/usr/bin/env python3
"""What one move into a cgroup costs, the way each jailer path does it.

    python3 bench/cgroup_join.py [--runs 12] [--gap 0.3]

As root. Each sample is a fresh child process that moves itself into an
empty cgroup and times that one write(2):
  v1 cgroup.procs <pid>   the whole process (Firecracker's jailer, and
                          ember-jailer before it joined through `tasks`)
  v1 tasks 0              the calling thread only (ember-jailer on v1: it
                          is single-threaded there, vmm/jail/cgroup.c)
  v2 cgroup.procs <pid>   the whole process (ember-jailer on v2)
A whole-process move takes the kernel's global threadgroup lock for
writing, which waits out an RCU grace period unless that lock is already
held for dynamic changes (a hierarchy mounted with `favordynmods`, or a
move within the last grace period). Samples are --gap seconds apart, so
each move meets the lock idle, as a VM start on a quiet host does.

v1 is measured on the host's pids hierarchy when it has v1, else on a
named hierarchy of no controllers mounted for the run (the lock is global,
so any v1 hierarchy shows it; the kernel may keep such a hierarchy after
its unmount, so the testbox's throwaway L1 is the place for that), v2 on
/sys/fs/cgroup when that is cgroup2. Medians, min and max in ms.
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time


def one_move(path, value):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        data = str(os.getpid()) if value == "pid" else value
        fd = os.open(path, os.O_WRONLY)
        t = time.perf_counter()
        os.write(fd, data.encode())
        dt = time.perf_counter() - t
        os.write(w, repr(dt * 1e3).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    ms = float(os.read(r, 64))
    os.close(r)
    return ms


def series(label, mount, fname, value, runs, gap):
    d = os.path.join(mount, f"ember-join-bench-{os.getpid()}")
    os.mkdir(d)
    try:
        vals = []
        for _ in range(runs):
            vals.append(one_move(os.path.join(d, fname), value))
            time.sleep(gap)
    finally:
        os.rmdir(d)
    print(f"| {label} | {statistics.median(vals):.2f} | {min(vals):.2f} | {max(vals):.2f} |",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--gap", type=float, default=0.3)
    args = ap.parse_args()
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    mounted = not os.path.isdir("/sys/fs/cgroup/pids/") or v2
    if mounted:
        v1 = tempfile.mkdtemp(prefix="ember-join-v1-")
        subprocess.run(["mount", "-t", "cgroup", "-o", f"none,name=ember-join-{os.getpid()}",
                        "cgroup", v1], check=True)
    else:
        v1 = "/sys/fs/cgroup/pids"
    try:
        print(f"# {args.runs} moves each, {args.gap} s apart; kernel {os.uname().release}")
        print("| move | median ms | min | max |")
        print("|---|---|---|---|")
        for _ in range(2):  # interleaved: one round each, twice
            series("v1 cgroup.procs <pid>", v1, "cgroup.procs", "pid", args.runs, args.gap)
            series("v1 tasks 0", v1, "tasks", "0", args.runs, args.gap)
            if v2:
                series("v2 cgroup.procs <pid>", "/sys/fs/cgroup", "cgroup.procs", "pid",
                       args.runs, args.gap)
    finally:
        if mounted:
            subprocess.run(["umount", v1], check=True)
            os.rmdir(v1)


if __name__ == "__main__":
    main()
