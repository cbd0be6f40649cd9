#!/usr/bin/env python3
"""The vsock-load probe, N times under ember-vmm and QEMU microvm side by side: how often does the guest die?

    make stress STRESS_RUNS=20
    python3 tests/stress/vsock_load.py --runs 20          # boots a testbox if needed

The probe is the Lambda shape under load: a guest with 2 vCPUs, 256 MiB, two
read-only drives, an entropy device and vsock, running /bin/vsock_check as an
echo server. The host opens 50 connections at once and echoes 1 MiB on each,
then sends 100 one-byte pings on one more connection and waits for each
echo. The guest then exits and the VM ends. Runs alternate: ember-vmm
(hybrid vsock: its Unix socket and CONNECT) and QEMU microvm (vhost-vsock:
AF_VSOCK to the guest's CID), with the same kernel, initramfs and command
line, so both see the same L1 at the same time.

Each run ends as one of:
  ok     the client finished and the guest exited with status 0, VMM exit 0
  death  the VM ended before that (a crash, a triple fault), or ended badly
  hang   nothing happened for HANG_S seconds (the VMM is killed)
A death or hang prints the VMM's exit code and the console's last lines;
nothing is retried. The summary line per VMM is "<vmm>: D deaths, H hangs in
N runs"; the exit status is 0 when every run was ok, else 1. If the testbox
itself stops answering (its L1 hung: no line for STALL_S seconds), the
summary counts the runs done so far, the unfinished one as a hang, and says so.

Where: on a host whose KVM boots Linux it runs here; otherwise (this
project's PVM machines) it runs itself inside one testbox (tests/testbox/run),
where TESTBOX=1 is set.
"""
import argparse
import os
import selectors
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
VMM = os.path.join(BUILD, "bin", "ember-vmm")
VMLINUX = os.path.join(BUILD, "guest", "vmlinux")
INITRD = os.path.join(BUILD, "guest", "initramfs-test.cpio")
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "tests", "testbox"))

PORT = 5000
CONNS, SIZE, PINGS = 50, 1 << 20, 100
VCPUS = 2  # --vcpus: 1 tells SMP trouble (IPIs, TLB shootdowns) from the rest
VERBOSE = False  # --verbose: a line per phase of each run
BOOT_S, HANG_S = 120, 120  # a run takes ~3 s in the testbox
# The host gives up on the testbox after this long without a line from it: its
# L1 hung (seen after a QEMU guest hang), and only the runs so far count.
STALL_S = BOOT_S + 2 * HANG_S + 120
LAST_LINES = 25


def cmdline(reboot):
    from guest import BASE_CMDLINE
    quirk = " noxsave" if os.environ.get("TESTBOX") == "1" else ""
    base = BASE_CMDLINE.replace("reboot=k", f"reboot={reboot}")
    return (f"{base}{quirk} ember.run=/bin/vsock_check vsockcheck.mode=echo-server "
            f"vsockcheck.port={PORT} vsockcheck.count={CONNS + 1} vsockcheck.hash=0")


class Ember:
    name = "ember-vmm"

    def __init__(self, work, n):
        self.uds = os.path.join(work, f"e{n}.sock")

    def argv(self, drives):
        return [VMM, "--kernel", VMLINUX, "--initrd", INITRD, "--cmdline", cmdline("k"),
                "--mem-mib", "256", "--vcpus", str(VCPUS), "--drive", f"{drives[0]},ro",
                "--drive", f"{drives[1]},ro", "--vsock", f"3,{self.uds}"]

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(HANG_S)
        s.connect(self.uds)
        s.sendall(b"CONNECT %d\n" % PORT)
        line = b""
        while not line.endswith(b"\n"):
            c = s.recv(1)
            if not c:
                raise ConnectionError(f"EOF after {line!r} (no OK)")
            line += c
        if not line.startswith(b"OK "):
            raise ConnectionError(f"expected OK, got {line!r}")
        return s


class Qemu:
    name = "qemu-microvm"

    def __init__(self, work, n):
        self.cid = 100 + n  # a fresh CID: the last VM's may still be going away

    def argv(self, drives):
        argv = ["qemu-system-x86_64", "-M",
                "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off", "-accel", "kvm",
                "-cpu", "host", "-m", "256", "-smp", str(VCPUS), "-nodefaults", "-no-user-config",
                "-display", "none", "-no-reboot", "-kernel", VMLINUX, "-initrd", INITRD,
                "-append", cmdline("t"), "-serial", "stdio"]
        for i, d in enumerate(drives):
            argv += ["-drive", f"file={d},format=raw,if=none,id=d{i},readonly=on",
                     "-device", f"virtio-blk-device,drive=d{i}"]
        return argv + ["-object", "rng-random,filename=/dev/urandom,id=rng0",
                       "-device", "virtio-rng-device,rng=rng0",
                       "-device", f"vhost-vsock-device,guest-cid={self.cid}"]

    def connect(self):
        s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        s.settimeout(HANG_S)
        s.connect((self.cid, PORT))
        return s


class Console:
    """The VMM's output, read on a thread; waits are on its lines or its exit."""

    def __init__(self, proc):
        self.proc, self.text, self.cond = proc, "", threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):
            with self.cond:
                self.text += chunk.decode(errors="replace")
                self.cond.notify_all()
        self.proc.wait()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, needle, timeout):
        """True when needle shows up; False on exit or deadline."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while needle not in self.text:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return needle in self.text
                self.cond.wait(min(left, 1))
        return True

    def last_lines(self):
        return "\n".join("    " + l for l in self.text.splitlines()[-LAST_LINES:])


def echo_all(vmm):
    """CONNS connections at once, SIZE bytes each way on each."""
    socks = [vmm.connect() for _ in range(CONNS)]
    sel = selectors.DefaultSelector()
    state = {}
    for i, s in enumerate(socks):
        s.setblocking(False)
        state[s] = [bytes((i + j) & 0xFF for j in range(256)) * (SIZE // 256), 0, 0]
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    left = CONNS
    while left:
        events = sel.select(HANG_S)
        if not events:
            raise TimeoutError(f"echo: no progress in {HANG_S} s, {left} connections left")
        for key, ev in events:
            s = key.fileobj
            data, sent, got = state[s]
            if ev & selectors.EVENT_WRITE and sent < SIZE:
                sent += s.send(data[sent:sent + 65536])
                if sent == SIZE:
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError(f"echo: EOF after {got} of {SIZE} bytes")
                if chunk != data[got:got + len(chunk)]:
                    raise ValueError(f"echo: wrong bytes at {got}")
                got += len(chunk)
                if got == SIZE:
                    sel.unregister(s)
                    s.close()
                    left -= 1
            state[s] = [data, sent, got]


def pings(vmm):
    with vmm.connect() as s:
        for i in range(PINGS):
            s.sendall(b"p")
            if s.recv(1) != b"p":
                raise ConnectionError(f"ping {i}: no echo")


def phase(vmm, n, what):
    if VERBOSE:
        print(f"#   {vmm.name} run {n}: {what} at {time.monotonic():.1f}", flush=True)


def one_run(kind, work, n, drives):
    vmm = kind(work, n)
    proc = subprocess.Popen(vmm.argv(drives), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    con = Console(proc)
    t0 = time.monotonic()
    error = None
    try:
        if not con.wait_for(f"vsockcheck: listening port={PORT}", BOOT_S):
            error = "the guest never listened"
        else:
            phase(vmm, n, "listening")
            echo_all(vmm)
            phase(vmm, n, "echoed")
            pings(vmm)
            phase(vmm, n, "pinged")
            if not con.wait_for("ember-init: /bin/vsock_check exited with status 0", HANG_S):
                error = "no clean exit of the guest program"
    except (OSError, ValueError, TimeoutError) as e:
        error = f"client: {e}"
    try:
        rc = proc.wait(HANG_S if error is None else 10)
    except subprocess.TimeoutExpired:
        rc = None
    if rc is None:
        os.killpg(proc.pid, 9)
        proc.wait()
        verdict = "hang"
    elif error is None and rc == 0:
        verdict = "ok"
    else:
        verdict = "death"
    secs = time.monotonic() - t0
    line = f"{vmm.name:13} run {n:3}: {verdict:5} {secs:6.1f} s"
    if verdict != "ok":
        line += f"  exit {rc if rc is not None else 'none (killed)'}: {error}\n{con.last_lines()}"
    print(line, flush=True)
    if hasattr(vmm, "uds") and os.path.exists(vmm.uds):
        os.unlink(vmm.uds)
    return verdict


def main_here(runs):
    work = f"/tmp/ember-stress-{os.getpid()}"
    os.makedirs(work, exist_ok=True)
    drives = []
    for name in ("runtime", "code"):
        path = os.path.join(work, f"{name}.img")
        with open(path, "wb") as f:
            f.write(os.urandom(4 << 20))
        drives.append(path)
    counts = {k.name: {"ok": 0, "death": 0, "hang": 0} for k in (Ember, Qemu)}
    print(f"# vsock-load probe: {CONNS} x {SIZE >> 20} MiB echoed at once, then {PINGS} pings; "
          f"{VCPUS} vCPUs, 256 MiB, 2 drives, rng, vsock; {runs} runs each, alternating; where: "
          f"{'testbox' if os.environ.get('TESTBOX') == '1' else 'direct'}", flush=True)
    for n in range(runs):
        for kind in (Ember, Qemu):
            counts[kind.name][one_run(kind, work, n, drives)] += 1
    for name, c in counts.items():
        print(f"{name}: {c['death']} deaths, {c['hang']} hangs in {runs} runs", flush=True)
    return 0 if all(c["ok"] == runs for c in counts.values()) else 1


def main():
    global VCPUS, VERBOSE
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--vcpus", type=int, default=VCPUS, help="guest vCPUs (default 2)")
    ap.add_argument("--verbose", action="store_true", help="a line per phase of each run")
    ap.add_argument("--here", action="store_true", help="run where we are (KVM must boot Linux)")
    args = ap.parse_args()
    VCPUS, VERBOSE = args.vcpus, args.verbose
    if args.here or os.environ.get("TESTBOX") == "1":
        return main_here(args.runs)
    import testbox
    where, why = testbox.choose_kvm_host()
    if where == "direct":
        return main_here(args.runs)
    if where is None:
        sys.exit(f"no KVM to run on: {why}")
    # One L1 for every run, so the two VMMs share it.
    return in_testbox(args)


def in_testbox(args, argv=None):
    """Runs main_here in one testbox, passing its lines through; if L1 stops
    answering, ends it and sums up the runs that finished."""
    import queue
    argv = argv or [sys.executable, os.path.join(REPO, "tests", "testbox", "run"),
            "--timeout", str(600 + (STALL_S // 2) * 2 * args.runs), "--",
            "env", f"BUILD={os.environ.get('BUILD', 'build')}", "python3",
            os.path.abspath(__file__), "--here", "--runs", str(args.runs),
            "--vcpus", str(args.vcpus)] + (["--verbose"] if args.verbose else [])
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    lines = queue.Queue()

    def pump():
        for raw in iter(proc.stdout.readline, b""):
            lines.put(raw)
        lines.put(None)
    threading.Thread(target=pump, daemon=True).start()
    counts, summed, running = {}, False, f"{Ember.name} run 0"
    while True:
        try:
            raw = lines.get(timeout=STALL_S)
        except queue.Empty:
            os.killpg(proc.pid, 9)
            proc.wait()
            print(f"# the testbox stopped answering for {STALL_S} s (its L1 hung) during "
                  f"{running}: counted as a hang", flush=True)
            break
        if raw is None:
            break
        line = raw.decode(errors="replace")
        sys.stdout.write(line)
        sys.stdout.flush()
        words = line.split()
        if len(words) >= 4 and words[1] == "run" and words[3] in ("ok", "death", "hang"):
            counts.setdefault(words[0], {"ok": 0, "death": 0, "hang": 0})[words[3]] += 1
            other = Qemu.name if words[0] == Ember.name else Ember.name
            nxt = int(words[2].rstrip(":")) + (words[0] == Qemu.name)
            running = f"{other} run {nxt}"
        elif line.startswith(("ember-vmm:", "qemu-microvm:")) and "deaths" in line:
            summed = True
    if summed:
        return proc.wait()
    counts.setdefault(running.split()[0], {"ok": 0, "death": 0, "hang": 0})["hang"] += 1
    for name in (Ember.name, Qemu.name):
        c = counts.get(name, {"ok": 0, "death": 0, "hang": 0})
        print(f"{name}: {c['death']} deaths, {c['hang']} hangs in {sum(c.values())} runs "
              f"(the testbox ended early)", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
