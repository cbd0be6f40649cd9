#!/usr/bin/env python3
"""Guest command lines against each other: when does ember-init start? (issue 16)

Run it where KVM boots Linux (inside the testbox here):

    flock /work/testbox.lock tests/testbox/run --timeout 3000 -- \\
        python3 bench/cmdline_boot.py --runs 12 [--old-vmm PATH]

It boots ember-vmm (1 vCPU, 128 MiB, the product's vmlinux and initramfs,
copied to a tmpfs as bench/vmm_boot.py does) once per command line in turn,
--runs rounds, and reports for each the guest's own uptime when ember-init
starts (its "ember-init: up N us" line): the kernel's boot, free of the
VMM's setup and of how long the host took to spawn it; and the port I/O
exits of the VM's whole life, which the emulation's speed does not blur.
The command lines:

  +i8042      ember-vmm's default (CONFIG_DEFAULT_CMDLINE) as it was before
              issue 16, with Firecracker's i8042 flags
  -i8042      the same without them
  fc          Firecracker's usual boot_args (getting-started guide): no quiet,
              no i8042 flags
  fc+i8042    the same with the i8042 flags, so fc - fc+i8042 is their cost

--old-vmm PATH adds the fc and +i8042 boots of another ember-vmm binary (the
i8042 before issue 16), interleaved with the rest. In the testbox, " noxsave"
is appended to every command line, as in bench/vmm_boot.py.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmm_boot  # noqa: E402

I8042_FLAGS = "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
BASE = "console=ttyS0 reboot=k panic=1 quiet"
FC = "console=ttyS0 reboot=k panic=1 pci=off"
VARIANTS = {
    "+i8042": f"{BASE} {I8042_FLAGS} noreplace-smp",
    "-i8042": f"{BASE} noreplace-smp",
    "fc": FC,
    "fc+i8042": f"{FC} {I8042_FLAGS}",
}


def argv(vmm, kernel, initrd, cmdline):
    extra = " noxsave" if os.environ.get("TESTBOX") == "1" else ""
    return [vmm, "--kernel", kernel, "--initrd", initrd, "--mem-mib", "128", "--vcpus", "1",
            "--cmdline", cmdline + extra, "--log-level", "debug"]


def one_boot(a, timeout):
    """vmm_boot's boot, plus the port I/O exits ember-vmm counted over the
    VM's whole life (its debug line at exit): unlike a time, a count that the
    emulation's speed does not blur."""
    p = subprocess.Popen(a, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=timeout)
    m = vmm_boot.MARKER.search(out)
    io = re.search(rb"vCPU 0: \d+ exits \((\d+) port I/O", err)
    if p.returncode != 0 or m is None or io is None:
        raise RuntimeError(f"{a[0]}: exit {p.returncode}: {out[-500:]!r} {err[-500:]!r}")
    return {"guest_ms": int(m.group(1)) / 1e3, "io_exits": int(io.group(1))}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--old-vmm", help="another ember-vmm to boot fc and +i8042 with")
    ap.add_argument("--only", help="comma-separated command line names to boot")
    args = ap.parse_args()
    runs = {name: (vmm_boot.VMM, cmd) for name, cmd in VARIANTS.items()
            if args.only is None or name in args.only.split(",")}
    if args.old_vmm:
        runs["old: fc"] = (args.old_vmm, FC)
        runs["old: +i8042"] = (args.old_vmm, VARIANTS["+i8042"])
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    results = {name: [] for name in runs}
    exits = {name: [] for name in runs}
    with tempfile.TemporaryDirectory(prefix="ember-bench-", dir=shm) as tmp:
        kernel = shutil.copy(vmm_boot.VMLINUX, tmp)
        initrd = shutil.copy(vmm_boot.INITRD, tmp)
        for name, (vmm, cmd) in runs.items():  # warm-up, not counted
            one_boot(argv(vmm, kernel, initrd, cmd), args.timeout)
        names = list(runs)
        for i in range(args.runs):
            # Each round starts one command line later, so that none always
            # follows the same one (TCG's caches remember the previous boot).
            for name in names[i % len(names):] + names[:i % len(names)]:
                vmm, cmd = runs[name]
                r = one_boot(argv(vmm, kernel, initrd, cmd), args.timeout)
                results[name].append(r["guest_ms"])
                exits[name].append(r["io_exits"])
                print(f"{i:3d} {name:12s} guest_ms={r['guest_ms']:.1f} "
                      f"io_exits={r['io_exits']}", file=sys.stderr)
    where = "testbox (L1, nested KVM under TCG)" if os.environ.get("TESTBOX") else "direct"
    print(f"# {args.runs} interleaved boots each, 1 vCPU, 128 MiB, where: {where}")
    first = names[0]
    print(f"| command line | guest uptime at ember-init: median | min | max | "
          f"median of the paired differences to {first} | port I/O exits, whole VM |")
    print("|---|---|---|---|---|---|")
    for name, vals in results.items():
        diffs = [v - f for v, f in zip(vals, results[first])]
        print(f"| {name} | {statistics.median(vals):.0f} ms | {min(vals):.0f} ms | "
              f"{max(vals):.0f} ms | {statistics.median(diffs):+.0f} ms | "
              f"{statistics.median(exits[name]):.0f} |")
    for name, (vmm, cmd) in runs.items():
        print(f"# {name}: {vmm} --cmdline {cmd!r}")


if __name__ == "__main__":
    main()
