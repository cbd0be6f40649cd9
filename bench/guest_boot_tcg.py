#!/usr/bin/env python3
"""Guest-side boot time under QEMU TCG: ember-init's uptime at start.

usage: bench/guest_boot_tcg.py [RUNS] [EXTRA_CMDLINE]

Boots build/guest/vmlinux + initramfs under `qemu-system-x86_64 -M microvm
-accel tcg` RUNS times (default 10) and prints the median, min and max of the
`ember-init: up N us` marker, plus the image sizes. Pure emulation: use it to
compare kernel configs with each other, not as an absolute speed."""
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "integration"))
from guest import BZIMAGE, INITRAMFS, VMLINUX, boot_qemu_tcg, init_uptime_us  # noqa: E402


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    extra = sys.argv[2] if len(sys.argv) > 2 else ""
    times = []
    for _ in range(runs):
        rc, console = boot_qemu_tcg(extra)
        us = init_uptime_us(console)
        if rc != 0 or us is None:
            sys.exit(f"boot failed (rc {rc}):\n{console}")
        times.append(us)
    print(f"guest boot to ember-init (QEMU TCG, 1 vCPU, 256 MiB), {runs} runs: "
          f"median {statistics.median(times) / 1000:.1f} ms, "
          f"min {min(times) / 1000:.1f} ms, max {max(times) / 1000:.1f} ms")
    for path in (VMLINUX, BZIMAGE, INITRAMFS):
        print(f"{os.path.basename(path)}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
