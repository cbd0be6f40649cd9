#!/usr/bin/env python3
"""Boot benchmark: ember-vmm against QEMU's microvm machine (issue 4).

Run it on a KVM host that boots Linux: hardware KVM, or inside the testbox:

    tests/testbox/run --timeout 1800 -- python3 bench/vmm_boot.py [--runs 20]

(add `--l1-cmdline init_on_free=1` to the testbox to move TCG's cost of reusing
the previous guest's pages out of the boots; bench/RESULTS.md, session 6).

Both VMMs boot the same vmlinux, initramfs (the product's: ember-init alone)
and command line, with 1 vCPU and 128 MiB, interleaved (ember, qemu, ember, ...) so that both see the same state
of the machine. The two images are first copied to a tmpfs (/dev/shm), so both
VMMs read them from the page cache, as on a host that has booted them before.
(The testbox shares the checkout over 9p without a page cache for read(); every
boot there would otherwise fetch 11 MB from the outer machine, ~300 ms each.)
For each boot it records:
  init_ms   spawn -> the line "ember-init: up" on the console (wall clock, host side)
  guest_ms  the guest's own uptime when ember-init starts (from that line)
  boot_ms   ember-vmm's "guest booted in N us" (the boot-timer port), if ember-init
            writes it
  ready_ms  ember-vmm's main() -> "ready to run" (VM set up, kernel copied in)
  exit_ms   spawn -> process exit (the guest reboots right after ember-init)
  rss_kib   peak RSS of the VMM process (ru_maxrss)
and prints medians. ember-vmm also reports (at --log-level debug) its own RSS
without guest memory.

`--ready` measures, on any KVM host (PVM is enough), spawn -> ember-vmm's
"ready to run" line (memory mapped, kernel loaded, vCPUs set up), and the
same time from ember-vmm's main().
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
VMM = os.path.join(BUILD, "bin", "ember-vmm")
VMLINUX = os.path.join(BUILD, "guest", "vmlinux")
INITRD = os.path.join(BUILD, "guest", "initramfs.cpio")
MARKER = re.compile(rb"ember-init: up (\d+) us")


def cmdline(reboot):
    extra = " noxsave" if os.environ.get("TESTBOX") == "1" else ""
    # The i8042 flags and noreplace-smp as in ember-vmm's default command line.
    return (f"console=ttyS0 reboot={reboot} panic=-1 quiet "
            f"i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd noreplace-smp{extra}")


def ember_argv(mem, cpus):
    return [VMM, "--kernel", VMLINUX, "--initrd", INITRD, "--cmdline", cmdline("k"),
            "--mem-mib", str(mem), "--vcpus", str(cpus), "--log-level", "debug"]


def qemu_argv(mem, cpus):
    # reboot=t: microvm has no i8042; a triple fault resets, and -no-reboot exits.
    return ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off",
            "-accel", "kvm", "-cpu", "host", "-m", str(mem), "-smp", str(cpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", VMLINUX, "-initrd", INITRD, "-append", cmdline("t"), "-serial", "stdio"]


def firecracker_argv(mem, cpus, tmp):
    """EMBER_BENCH_FIRECRACKER=/path: Firecracker's way, a config file and no API
    socket; it exits on the guest's i8042 reset (reboot=k). Not run on the
    machines this was written on (no Firecracker binary there)."""
    cfg = os.path.join(tmp, "firecracker.json")
    with open(cfg, "w") as f:
        json.dump({"boot-source": {"kernel_image_path": VMLINUX, "initrd_path": INITRD,
                                   "boot_args": cmdline("k")},
                   "machine-config": {"vcpu_count": cpus, "mem_size_mib": mem},
                   "drives": []}, f)
    return [os.environ["EMBER_BENCH_FIRECRACKER"], "--no-api", "--config-file", cfg]


def cloud_hypervisor_argv(mem, cpus):
    """EMBER_BENCH_CLOUD_HYPERVISOR=/path: its command line; it reboots the guest
    instead of exiting, so it is stopped at the init marker (no exit time).
    Not run on the machines this was written on (no binary there)."""
    return [os.environ["EMBER_BENCH_CLOUD_HYPERVISOR"], "--kernel", VMLINUX, "--initramfs",
            INITRD, "--cmdline", cmdline("k"), "--cpus", f"boot={cpus}", "--memory",
            f"size={mem}M", "--serial", "tty", "--console", "off"]


def one_boot(argv, timeout, stop_at_marker=False):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    init_ms = guest_ms = None
    out = b""
    os.set_blocking(p.stdout.fileno(), True)
    for line in iter(p.stdout.readline, b""):
        out += line
        m = MARKER.search(line)
        if m and init_ms is None:
            init_ms = (time.monotonic() - t0) * 1e3
            guest_ms = int(m.group(1)) / 1e3
            if stop_at_marker:
                p.kill()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    exit_ms = (time.monotonic() - t0) * 1e3
    p.returncode = os.waitstatus_to_exitcode(status)
    boot = re.search(rb"guest booted in (\d+) us", err)
    ready_us = re.search(rb"ready to run (\d+) us", err)
    own = re.search(rb"own RSS (\d+) KiB", err)
    if init_ms is None:
        raise RuntimeError(f"{argv[0]}: no init marker (exit {p.returncode}): {out[-500:]!r} "
                           f"{err[-500:]!r}")
    return {"init_ms": init_ms, "guest_ms": guest_ms,
            "exit_ms": None if stop_at_marker else exit_ms,
            "boot_ms": int(boot.group(1)) / 1e3 if boot else None,
            "ready_ms": int(ready_us.group(1)) / 1e3 if ready_us else None,
            "rss_kib": ru.ru_maxrss, "own_rss_kib": int(own.group(1)) if own else None,
            "rc": p.returncode}


def median(rows, key):
    vals = [r[key] for r in rows if r[key] is not None]
    return statistics.median(vals) if vals else None


def fmt(v, unit):
    return "n/a" if v is None else f"{v:.1f} {unit}" if isinstance(v, float) else f"{v} {unit}"


def boots(args):
    runners = {"ember-vmm": ember_argv(args.mem, args.cpus),
               "qemu-microvm": qemu_argv(args.mem, args.cpus)}
    # Peers the user names, each with its own launch convention (left out otherwise).
    if os.environ.get("EMBER_BENCH_FIRECRACKER"):
        runners["firecracker"] = firecracker_argv(args.mem, args.cpus, os.path.dirname(VMLINUX))
    if os.environ.get("EMBER_BENCH_CLOUD_HYPERVISOR"):
        runners["cloud-hypervisor"] = cloud_hypervisor_argv(args.mem, args.cpus)
    stop = {"cloud-hypervisor"}
    results = {name: [] for name in runners}
    for name, argv in runners.items():  # warm-up, not counted
        one_boot(argv, args.timeout, name in stop)
    for i in range(args.runs):
        for name, argv in runners.items():
            r = one_boot(argv, args.timeout, name in stop)
            results[name].append(r)
            print(f"{i:3d} {name:13s} " + " ".join(
                f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()),
                file=sys.stderr)
    print(f"# {args.runs} interleaved boots each, {args.cpus} vCPU, {args.mem} MiB, "
          f"where: {'testbox (L1, nested KVM under TCG)' if os.environ.get('TESTBOX') else 'direct'}")
    print(f"# cmdline: {cmdline('k')} (qemu: reboot=t)")
    print("| VMM | spawn->init marker | guest uptime at init | ready | boot timer | spawn->exit | "
          "peak RSS | own RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        print(f"| {name} | {fmt(median(rows, 'init_ms'), 'ms')} | "
              f"{fmt(median(rows, 'guest_ms'), 'ms')} | {fmt(median(rows, 'ready_ms'), 'ms')} | "
              f"{fmt(median(rows, 'boot_ms'), 'ms')} | "
              f"{fmt(median(rows, 'exit_ms'), 'ms')} | {fmt(median(rows, 'rss_kib'), 'KiB')} | "
              f"{fmt(median(rows, 'own_rss_kib'), 'KiB')} |")
    e, q = median(results["ember-vmm"], "init_ms"), median(results["qemu-microvm"], "init_ms")
    print(f"ratio ember/qemu, spawn->init: {e / q:.2f}")
    # Each ember boot ran right before its QEMU boot; the median of those pairs'
    # ratios is less swayed by the machine drifting during the run.
    pairs = [a["init_ms"] / b["init_ms"]
             for a, b in zip(results["ember-vmm"], results["qemu-microvm"])]
    print(f"median of the {len(pairs)} paired ratios: {statistics.median(pairs):.2f}")
    return {"runs": args.runs, "warmup": 1, "vcpus": args.cpus, "mem_mib": args.mem,
            "cmdline": cmdline("k"), "clock": "CLOCK_MONOTONIC, host side (time.monotonic)",
            "order": "interleaved: ember-vmm, qemu-microvm, ember-vmm, ...",
            "samples": results}


def ready(args):
    """Spawn -> "ready to run" (VM set up, not yet running), then stop the VMM.

    posix_spawn (vfork + exec in glibc) starts ember-vmm with far less work
    between the clock read and the exec than subprocess.Popen, so "spawn"
    here is within about 0.1 ms of the exec."""
    wall, internal = [], []
    argv = ember_argv(args.mem, args.cpus)
    for _ in range(args.runs):
        rfd, wfd = os.pipe()
        null = os.open(os.devnull, os.O_RDWR)
        actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                   (os.POSIX_SPAWN_DUP2, wfd, 2)]
        t0 = time.monotonic()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        os.close(wfd)
        os.close(null)
        with os.fdopen(rfd, "rb") as err:
            for line in err:
                m = re.search(rb"ready to run (\d+) us", line)
                if m:
                    wall.append((time.monotonic() - t0) * 1e3)
                    internal.append(int(m.group(1)) / 1e3)
                    break
            os.kill(pid, signal.SIGTERM)
            err.read()
        os.waitpid(pid, 0)
    print(f"# {args.runs} runs, {args.cpus} vCPU, {args.mem} MiB, vmlinux + initramfs")
    print(f"spawn -> ready: median {statistics.median(wall):.2f} ms "
          f"(min {min(wall):.2f}, max {max(wall):.2f})")
    print(f"main() -> ready: median {statistics.median(internal):.2f} ms "
          f"(min {min(internal):.2f}, max {max(internal):.2f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--ready", action="store_true", help="measure exec -> ready to run")
    ap.add_argument("--json", help="also write every boot's numbers here (bench/bench.py)")
    args = ap.parse_args()
    global VMLINUX, INITRD
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="ember-bench-", dir=shm) as tmp:
        VMLINUX = shutil.copy(VMLINUX, tmp)
        INITRD = shutil.copy(INITRD, tmp)
        out = (ready if args.ready else boots)(args)
    if args.json and out is not None:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
