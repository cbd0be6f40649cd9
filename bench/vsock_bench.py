#!/usr/bin/env python3
"""vsock host<->guest: ember-vmm's hybrid vsock against QEMU microvm's
vhost-vsock, in one run.

Run it on a KVM host that boots Linux, or inside the testbox:

    tests/testbox/run --timeout 1800 -- python3 bench/vsock_bench.py [--pings 2000] [--mib 32]

Each VMM boots the same guest running /bin/vsock_check as an echo server.
The host side reaches it as a user of that VMM would: ember-vmm through its
Unix socket (CONNECT <port>), QEMU through AF_VSOCK to the guest's CID (the
host kernel's vhost-vsock). Measured on one connection each:
  - 1-byte ping-pong round trips: p50 and p99;
  - host->guest: MIB MiB into the guest's sink (no hashing), until it closes;
  - guest->host: MIB MiB from the guest's source, read to the end;
  - echo: the host streams MIB MiB while a second thread reads the echo back,
    so both directions carry MIB MiB at the same time.
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
VMLINUX = os.path.join(BUILD, "guest", "vmlinux")
INITRD = os.path.join(BUILD, "guest", "initramfs-test.cpio")
PORT, CID = 5000, 3
UDS = f"/tmp/ember-vsock-bench-{os.getpid()}.sock"


def cmdline(reboot, mode):
    quirk = " noxsave" if os.environ.get("TESTBOX") == "1" else ""
    return (f"console=ttyS0 quiet panic=-1 reboot={reboot}{quirk} ember.run=/bin/vsock_check "
            f"vsockcheck.port={PORT} vsockcheck.hash=0 {mode}")


def ember_argv(mode):
    return [os.path.join(BUILD, "bin", "ember-vmm"), "--kernel", VMLINUX, "--initrd", INITRD,
            "--cmdline", cmdline("k", mode), "--mem-mib", "256", "--vsock", f"{CID},{UDS}"]


def qemu_argv(mode):
    return ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off",
            "-accel", "kvm", "-cpu", "host", "-m", "256", "-smp", "1", "-nodefaults",
            "-no-user-config", "-display", "none", "-no-reboot", "-kernel", VMLINUX,
            "-initrd", INITRD, "-append", cmdline("t", mode), "-serial", "stdio",
            "-device", f"vhost-vsock-device,guest-cid={CID}"]


def connect_ember():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(UDS)
    s.sendall(f"CONNECT {PORT}\n".encode())
    line = b""
    while not line.endswith(b"\n"):
        line += s.recv(1)
    assert line.startswith(b"OK "), line
    return s


def connect_qemu():
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.connect((CID, PORT))
    return s


def boot(argv):
    """Starts the VMM and waits for the guest's echo server to listen."""
    vm = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL)
    for line in vm.stdout:
        if b"vsockcheck: listening" in line:
            return vm
    sys.exit(f"{argv[0]}: the guest never listened (exit {vm.wait()})")


def ping_pong(s, n):
    rtts = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(b"x")
        if s.recv(1) != b"x":
            sys.exit("ping-pong: wrong echo")
        rtts.append(time.perf_counter() - t)
    rtts.sort()
    return rtts[len(rtts) // 2] * 1e6, rtts[int(len(rtts) * 0.99)] * 1e6


def echo_throughput(s, mib):
    total = mib << 20
    block = os.urandom(1 << 16)
    got = [0]

    def reader():
        while got[0] < total:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got[0] += len(chunk)
    t = time.perf_counter()
    r = threading.Thread(target=reader)
    r.start()
    for _ in range(total // len(block)):
        s.sendall(block)
    r.join()
    secs = time.perf_counter() - t
    if got[0] != total:
        sys.exit(f"echo throughput: {got[0]} of {total} bytes came back")
    return mib / secs


def host_to_guest(s, mib):
    """The guest's sink reads to EOF and closes: time until that close."""
    block = os.urandom(1 << 16)
    t = time.perf_counter()
    for _ in range((mib << 20) // len(block)):
        s.sendall(block)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    return mib / (time.perf_counter() - t)


def guest_to_host(s, mib):
    total, t = 0, time.perf_counter()
    while total < mib << 20:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    secs = time.perf_counter() - t
    if total != mib << 20:
        sys.exit(f"guest->host: {total} of {mib << 20} bytes arrived")
    return mib / secs


def with_vm(argv, connect, work):
    vm = boot(argv)
    try:
        with connect() as s:
            return work(s)
    finally:
        vm.send_signal(signal.SIGKILL)
        vm.wait()
        if os.path.exists(UDS):
            os.unlink(UDS)


def measure(name, argv, connect, args):
    echo = "vsockcheck.mode=echo-server"
    p50, p99, both = with_vm(argv(echo), connect,
                             lambda s: (*ping_pong(s, args.pings), echo_throughput(s, args.mib)))
    h2g = with_vm(argv("vsockcheck.mode=sink"), connect, lambda s: host_to_guest(s, args.mib))
    g2h = with_vm(argv(f"vsockcheck.mode=source vsockcheck.len={args.mib << 20}"), connect,
                  lambda s: guest_to_host(s, args.mib))
    return name, p50, p99, h2g, g2h, both


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pings", type=int, default=2000)
    ap.add_argument("--mib", type=int, default=32)
    args = ap.parse_args()
    rows = [measure("ember-vmm (hybrid vsock, user space)", ember_argv, connect_ember, args),
            measure("QEMU microvm (vhost-vsock, in the kernel)", qemu_argv, connect_qemu, args)]
    where = "testbox (L1, nested KVM under TCG)" if os.environ.get("TESTBOX") else "direct"
    print(f"# {args.pings} 1-byte round trips and {args.mib} MiB echoed each way, "
          f"1 vCPU, 256 MiB, where: {where}")
    print("| VMM | RTT p50 | RTT p99 | host->guest | guest->host | echo (both ways at once) |")
    print("|---|---|---|---|---|---|")
    for name, p50, p99, h2g, g2h, both in rows:
        print(f"| {name} | {p50:.0f} us | {p99:.0f} us | {h2g:.1f} MiB/s | {g2h:.1f} MiB/s "
              f"| {both:.1f} MiB/s |")


if __name__ == "__main__":
    main()
