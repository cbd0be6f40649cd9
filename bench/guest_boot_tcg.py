#!/usr/bin/env python3
"""Guest-side boot time under QEMU TCG: ember-init's uptime at start.

usage: bench/guest_boot_tcg.py [--runs N] [--compare OTHER_VMLINUX]

Boots build/guest/vmlinux + initramfs under `qemu-system-x86_64 -M microvm
-accel tcg` N times (default 10) and prints the median, min and max of the
`ember-init: up N us` marker, plus the image sizes. With --compare, runs of
the two kernels alternate, so both see the same machine load. Pure
emulation: use it to compare kernel configs, not as an absolute speed."""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "integration"))
from guest import BZIMAGE, INITRAMFS, VMLINUX, boot_qemu_tcg, init_uptime_us  # noqa: E402


def boot_us(kernel):
    rc, console = boot_qemu_tcg("", kernel=kernel)
    us = init_uptime_us(console)
    if rc != 0 or us is None:
        sys.exit(f"boot of {kernel} failed (rc {rc}):\n{console}")
    return us


def report(name, times):
    print(f"{name}: guest boot to ember-init (QEMU TCG, 1 vCPU, 256 MiB), {len(times)} runs: "
          f"median {statistics.median(times) / 1000:.1f} ms, "
          f"min {min(times) / 1000:.1f} ms, max {max(times) / 1000:.1f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--compare", help="another vmlinux, booted alternately")
    args = ap.parse_args()
    kernels = [VMLINUX] + ([args.compare] if args.compare else [])
    times = {k: [] for k in kernels}
    for _ in range(args.runs):
        for k in kernels:
            times[k].append(boot_us(k))
    for k in kernels:
        report(os.path.relpath(k), times[k])
    for path in kernels + [BZIMAGE, INITRAMFS]:
        print(f"{os.path.relpath(path)}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
