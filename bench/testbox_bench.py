#!/usr/bin/env python3
"""What the testbox costs: L1 boot, a no-op command round trip on a kept L1,
and one L2 boot (our kernel + ember-init under QEMU microvm with KVM) in L1.

usage: bench/testbox_bench.py [RUNS]   (default 10; medians are printed)
"""
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "testbox"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import testbox  # noqa: E402
from guest import QEMU_CMDLINE, INITRAMFS, VMLINUX  # noqa: E402

L2 = ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on",
      "-accel", "kvm", "-cpu", "host", "-m", "128", "-smp", "1", "-nodefaults",
      "-no-user-config", "-display", "none", "-no-reboot", "-kernel", VMLINUX,
      "-initrd", INITRAMFS, "-append", QEMU_CMDLINE + " noxsave", "-serial", "stdio"]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    boots = []
    for _ in range(3):
        box = testbox.Testbox(tempfile.mkdtemp(prefix="ember-bench-"), cpus=2)
        box.boot()
        boots.append(box.boot_seconds)
        box.stop()
    box = testbox.Testbox(tempfile.mkdtemp(prefix="ember-bench-"), cpus=2).boot()
    try:
        noop, l2 = [], []
        for _ in range(runs):
            t = time.monotonic()
            rc, _, _ = box.run(["true"])
            noop.append(time.monotonic() - t)
            assert rc == 0
        for _ in range(runs):
            t = time.monotonic()
            rc, out, _ = box.run(L2, timeout=120)
            l2.append(time.monotonic() - t)
            assert rc == 0 and b"ember-init: up" in out, out
    finally:
        box.stop()
    print(f"L1 boot to agent ready (2048 MiB, 2 vCPUs), median of {len(boots)}: "
          f"{statistics.median(boots):.2f} s (all: {', '.join(f'{b:.2f}' for b in boots)})")
    print(f"no-op command round trip on a kept L1, median of {runs}: "
          f"{statistics.median(noop) * 1000:.1f} ms")
    print(f"one L2 boot+poweroff under QEMU microvm -accel kvm in L1, median of {runs}: "
          f"{statistics.median(l2):.2f} s")


if __name__ == "__main__":
    main()
