#!/usr/bin/env python3
"""virtio-blk sequential read throughput from the guest: ember-vmm against
QEMU microvm's virtio-blk, interleaved in one run.

Run it on a KVM host that boots Linux, or inside the testbox:

    tests/testbox/run --timeout 1800 -- python3 bench/blk_bench.py [--runs 5] [--mib 256]

Both VMMs boot the same vmlinux + initramfs with one raw drive of MIB MiB
(random bytes, so nothing is sparse; both VMMs read it through the host page
cache) and run /bin/blk_read, which reads
/dev/vda with O_DIRECT in 1 MiB requests. Prints the median MiB/s of each.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
VMLINUX = os.path.join(BUILD, "guest", "vmlinux")
INITRD = os.path.join(BUILD, "guest", "initramfs-test.cpio")
RESULT = re.compile(r"blk_read: (\d+) bytes in (\d+) us")


def cmdline(reboot):
    quirk = " noxsave" if os.environ.get("TESTBOX") == "1" else ""
    return f"console=ttyS0 quiet panic=-1 reboot={reboot}{quirk} ember.run=/bin/blk_read"


def ember(image):
    return [os.path.join(BUILD, "bin", "ember-vmm"), "--kernel", VMLINUX, "--initrd", INITRD,
            "--cmdline", cmdline("k"), "--mem-mib", "256", "--drive", f"{image},ro"]


def qemu(image):
    # acpi=off: QEMU then announces its virtio-mmio devices on the command line.
    return ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off",
            "-accel", "kvm", "-cpu", "host", "-m", "256", "-smp", "1", "-nodefaults",
            "-no-user-config", "-display", "none", "-no-reboot", "-kernel", VMLINUX,
            "-initrd", INITRD, "-append", cmdline("t"), "-serial", "stdio",
            "-drive", f"file={image},if=none,id=d0,format=raw,readonly=on",
            "-device", "virtio-blk-device,drive=d0"]


def mib_per_s(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    m = RESULT.search(out)
    if m is None:
        sys.exit(f"no result from {argv[0]}:\n{out}")
    return int(m.group(1)) / (1 << 20) / (int(m.group(2)) / 1e6)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mib", type=int, default=256)
    args = ap.parse_args()
    image = os.path.join("/tmp", f"ember-blk-bench-{os.getpid()}.img")
    with open(image, "wb") as f:
        for _ in range(args.mib):
            f.write(os.urandom(1 << 20))
    try:
        results = {"ember-vmm": [], "qemu-microvm": []}
        for _ in range(args.runs):
            results["ember-vmm"].append(mib_per_s(ember(image)))
            results["qemu-microvm"].append(mib_per_s(qemu(image)))
    finally:
        os.unlink(image)
    where = "testbox (L1, nested KVM under TCG)" if os.environ.get("TESTBOX") else "direct"
    print(f"# {args.runs} interleaved runs, {args.mib} MiB read with O_DIRECT, 1 MiB requests, "
          f"where: {where}")
    for name, v in results.items():
        print(f"{name}: median {statistics.median(v):.1f} MiB/s "
              f"(all: {', '.join(f'{x:.1f}' for x in v)})")


if __name__ == "__main__":
    main()
