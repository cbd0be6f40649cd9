#!/usr/bin/python3
"""Which functions of its target files each fuzz harness reaches (make fuzz-coverage).

Usage: coverage.py BUILD HARNESS...  BUILD holds replay binaries built with
--coverage (tests/fuzz/rules.mk does that in $(BUILD)/fuzz-cov). For each
harness: its coverage counters are cleared, its corpus is replayed, and gcov
lists, per target file, the functions run and those never run. The target
files are the code the harness exists to test (TARGETS below).
"""
import glob
import os
import re
import subprocess
import sys

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))

TARGETS = {
    "api_http": ["vmm/api/server.c", "vmm/api/routes.c", "vmm/control.c", "vmm/metrics.c"],
    "api_schema": ["lib/fcapi/schema.c", "lib/fcapi/schema_config.c", "lib/fcapi/schema_ops.c",
                   "lib/fcapi/config.c"],
    "gproto": ["lib/gproto/gproto.c", "lib/gproto/gproto_reader.c"],
    "init_env": ["guest-init/cmdline.c", "guest-init/world.c"],
    "kernel_loader": ["vmm/arch/x86_64/loader.c", "vmm/arch/x86_64/elf.c",
                      "vmm/arch/x86_64/bzimage.c", "vmm/arch/x86_64/bootparams.c",
                      "vmm/util/filecopy.c"],
    "rapi": ["guest-init/runtime_api.c"],
    "snap_dev": ["vmm/devices/virtio/mmio_snap.c", "vmm/devices/serial.c", "vmm/devices/i8042.c",
                 "vmm/devices/virtio/blk.c", "vmm/devices/virtio/vsock/vsock.c",
                 "vmm/snapshot/dev.c"],
    "snap_reader": ["lib/snapfile/format.c", "vmm/snapshot/state.c",
                    "vmm/snapshot/config_state.c", "vmm/snapshot/vm_state.c",
                    "vmm/snapshot/vcpu_state.c"],
    "vblk": ["vmm/devices/virtio/blk.c"],
    "virtio_mmio": ["vmm/devices/virtio/mmio.c"],
    "virtq_pop": ["vmm/devices/virtio/queue.c"],
    "vsock_pkt": ["vmm/devices/virtio/vsock/packet.c", "vmm/devices/virtio/vsock/conn.c",
                  "vmm/devices/virtio/vsock/hybrid.c", "vmm/devices/virtio/vsock/vsock.c"],
    "vsock_host": ["vmm/devices/virtio/vsock/hybrid.c", "vmm/devices/virtio/vsock/conn.c",
                   "vmm/devices/virtio/vsock/vsock.c"],
}


def functions(objdir, src):
    """{function: lines-executed percent} of src, from gcov's function summary."""
    out = subprocess.run(["gcov", "-f", "-n", "-o", objdir, src], cwd=REPO,
                         capture_output=True, text=True).stdout
    found, name = {}, None
    for line in out.splitlines():
        m = re.match(r"Function '(.+)'", line)
        if m:
            name = m.group(1)
            continue
        m = re.match(r"Lines executed:([\d.]+)% of \d+", line)
        if m and name is not None:
            found[name] = float(m.group(1))
            name = None
        elif line.startswith("No executable lines") and name is not None:
            name = None
    return found


def main():
    build, harnesses = sys.argv[1], sys.argv[2:]
    obj = os.path.join(build, "obj", "san")
    ok = True
    for h in harnesses:
        for f in glob.glob(os.path.join(obj, "**", "*.gcda"), recursive=True):
            os.unlink(f)
        run = subprocess.run([os.path.join(build, "tests", "fuzz-replay", h),
                              os.path.join(REPO, "tests", "fuzz", "corpus", h)],
                             capture_output=True, text=True)
        print(f"== {h}: {run.stdout.strip() or run.stderr.strip()}")
        ok = ok and run.returncode == 0
        for src in TARGETS.get(h, []):
            fns = functions(os.path.join(obj, os.path.dirname(src)), src)
            hit = sorted(f for f, pct in fns.items() if pct > 0)
            missed = sorted(f for f, pct in fns.items() if pct == 0)
            print(f"  {src}: {len(hit)} of {len(fns)} functions")
            print(f"    reached: {', '.join(hit) or '-'}")
            if missed:
                print(f"    never:   {', '.join(missed)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
