"""The testbox: real KVM for tests on hosts whose /dev/kvm cannot boot Linux.

An L1 Linux with KVM runs under QEMU's emulator with AMD SVM. The checkout is
shared into L1 over 9p at the same absolute path, so commands use the same
paths in both places, and loopback ports are forwarded from host to L1.
Inside L1, testbox-agent (agent.c) runs commands sent over a forwarded port
and streams their output back.

A Testbox is used either for one command (boot, run, tear down) or kept for
many (`keep`): then its state (QEMU's pid, the control port, the logs) lives
in a folder that later launchers attach to.
"""
import ctypes
import json
import select
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
KERNEL = os.path.join(BUILD, "testbox", "bzImage")
INITRAMFS = os.path.join(BUILD, "testbox", "initramfs.cpio")
AGENT_PORT = 7000
# FACTS.md's recipe for nested KVM under the emulator.
L1_CPU = "EPYC,+svm,+npt"
L1_DEFAULT_MEM = 2048
L1_DISK_BYTES = 4 << 30  # sparse: what L1 writes to /disk, at most
READY = b"testbox-agent: ready"
TIMEOUT_EXIT = 124  # what timeout(1) returns


class TestboxError(RuntimeError):
    pass


def cpu_has_hw_virt():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l for l in f if l.startswith("flags")), "").split()
    except OSError:
        return False
    return "vmx" in flags or "svm" in flags


def kvm_is_pvm():
    # PVM runs only guests built with its own patches (FACTS.md).
    return os.path.exists("/sys/module/kvm_pvm")


def choose_kvm_host():
    """Returns ("direct" | "testbox" | None, reason)."""
    force = os.environ.get("EMBER_TESTBOX")
    direct_ok = os.path.exists("/dev/kvm") and cpu_has_hw_virt() and not kvm_is_pvm()
    if force == "1":
        return "testbox", "EMBER_TESTBOX=1"
    if direct_ok:
        return "direct", "this CPU has VMX/SVM and /dev/kvm"
    why = ("/dev/kvm is PVM" if kvm_is_pvm() else
           "no /dev/kvm" if not os.path.exists("/dev/kvm") else "the CPU has no VMX/SVM")
    if force == "0":
        return None, f"{why}, and EMBER_TESTBOX=0 forbids the testbox"
    return "testbox", f"{why}: using the testbox (nested KVM under QEMU TCG)"


def host_tsc_khz():
    """The host's TSC rate, which TCG's rdtsc runs at.

    L1 must not calibrate its TSC itself: under TCG on a loaded host the PIT
    calibration fails, tsc_khz stays 0, and then KVM in L1 never enters a
    guest (kvm_guest_time_update re-requests a clock update forever, so
    KVM_RUN spins with zero exits). tsc_early_khz= skips the calibration.
    tsc=reliable goes with it: TCG's TSC is the host's, synchronized across
    vCPUs, but L1's sync check fails under emulation and falls back to the
    jiffies clocksource, which makes every timing taken in L1 a multiple of
    4 ms."""
    try:
        log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        found = re.findall(r"tsc: (?:Refined TSC clocksource calibration|Detected): "
                           r"([0-9.]+) MHz", log)
        if found:
            return int(float(found[-1]) * 1000)
    except OSError:
        pass
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    return 2000000


def free_port():
    """A loopback port nobody listens on now (QEMU binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    # QEMU must not outlive a launcher that was killed outright.
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def make_disk(path):
    """L1's /disk: a sparse ext4 image on the host's disk, made empty at each boot.
    L1's /tmp is a tmpfs, so a file there is memory: what a test must see as
    disk-backed (a function filling its 512 MiB /tmp, whose disk file is
    charged to its VMM's memory cgroup while in memory) lives here instead."""
    if os.path.exists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.truncate(L1_DISK_BYTES)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-O", "^has_journal", "-E",
                    "lazy_itable_init=1,nodiscard", "-m", "0", path], check=True)


def qemu_argv(mem, cpus, forwards, ctl_port, console_sock, console_log, shell=False,
              monitor_sock=None, l1_cmdline="", disk=None):
    """The L1 command line: FACTS.md's recipe for nested SVM under TCG.
    l1_cmdline is appended to L1's kernel command line; disk, an image made
    by make_disk(), becomes L1's /disk."""
    # nolapic_timer: L1 ticks from the PIT, not its LAPIC timer. While an L2
    # vCPU ran flat out (test_hostile_console's flood), TCG's nested SVM lost
    # L1's LAPIC timer interrupt: L1 then took no timer interrupt at all
    # (LOC: 2431 in 62 s of uptime, where 250 Hz gives 15,500) until some
    # other interrupt came in, so no timer in L1 fired, ember-vmm's 1 s
    # console tick included, and the test waited 180 s for a log line that
    # was only written once a command from the host arrived. The flood
    # failed 8 of 26 runs that way; with the PIT, 0 of 30.
    append = (f"console=ttyS0 quiet panic=-1 reboot=t tsc_early_khz={host_tsc_khz()} tsc=reliable "
              "nolapic_timer "
              "ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off "
              f"testbox.share={REPO} testbox.port={AGENT_PORT}")
    if shell:
        append += " testbox.shell=1"
    if l1_cmdline:
        append += " " + l1_cmdline
    fwd = "".join(f",hostfwd=tcp:127.0.0.1:{h}-:{g}" for h, g in forwards)
    if ctl_port:
        fwd += f",hostfwd=tcp:127.0.0.1:{ctl_port}-:{AGENT_PORT}"
    argv = [
        "qemu-system-x86_64", "-accel", "tcg", "-cpu", L1_CPU,
        "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off",
        "-m", str(mem), "-smp", str(cpus),
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", KERNEL, "-initrd", INITRAMFS, "-append", append,
        "-fsdev", f"local,id=work,path={REPO},security_model=none",
        "-device", "virtio-9p-device,fsdev=work,mount_tag=work",
        "-fsdev", "local,id=hostusr,path=/usr,security_model=none,readonly=on",
        "-device", "virtio-9p-device,fsdev=hostusr,mount_tag=hostusr",
        "-fsdev", "local,id=hostetc,path=/etc,security_model=none,readonly=on",
        "-device", "virtio-9p-device,fsdev=hostetc,mount_tag=hostetc",
        "-netdev", f"user,id=n0,restrict=on{fwd}",
        "-device", "virtio-net-device,netdev=n0",
    ]
    if disk:
        # cache=unsafe: the image is scratch space, its flushes need not reach the platter.
        argv += ["-drive", f"id=disk,file={disk},format=raw,if=none,cache=unsafe",
                 "-device", "virtio-blk-device,drive=disk"]
    if monitor_sock:
        argv += ["-monitor", f"unix:{monitor_sock},server=on,wait=off"]
    if shell:
        argv += ["-serial", "mon:stdio"]
    else:
        argv += ["-chardev", f"socket,id=con,path={console_sock},server=off,logfile={console_log}",
                 "-serial", "chardev:con"]
    return argv


class Testbox:
    """One L1. Start it with boot(), or attach() to a kept one."""

    def __init__(self, statedir, mem=L1_DEFAULT_MEM, cpus=2, forwards=(), l1_cmdline=""):
        self.statedir = os.path.abspath(statedir)
        self.mem, self.cpus, self.forwards = mem, cpus, list(forwards)
        self.l1_cmdline = l1_cmdline
        self.proc = None
        self.ctl_port = None
        self.boot_seconds = None
        self.console_log = os.path.join(self.statedir, "console.log")
        self.monitor_sock = os.path.join(self.statedir, "monitor.sock")
        self.disk = os.path.join(self.statedir, "disk.img")

    # --- lifecycle -------------------------------------------------------
    def boot(self, timeout=300, keep=False):
        for path in (KERNEL, INITRAMFS):
            if not os.path.exists(path):
                raise TestboxError(f"{path} is missing: run 'make testbox'")
        os.makedirs(self.statedir, exist_ok=True)
        sock_path = os.path.join(self.statedir, "console.sock")
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sock_path)
        listener.listen(1)
        self.ctl_port = free_port()
        make_disk(self.disk)
        argv = qemu_argv(self.mem, self.cpus, self.forwards, self.ctl_port,
                         sock_path, self.console_log, monitor_sock=self.monitor_sock,
                         l1_cmdline=self.l1_cmdline, disk=self.disk)
        qemu_log = open(os.path.join(self.statedir, "qemu.log"), "wb")
        start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qemu_log,
                                     stderr=subprocess.STDOUT, cwd=REPO,
                                     preexec_fn=None if keep else _die_with_parent,
                                     start_new_session=keep)
        qemu_log.close()
        try:
            self._wait_ready(listener, start + timeout)
        except BaseException:
            self.stop()
            raise
        finally:
            listener.close()
        self.boot_seconds = time.monotonic() - start
        self._save_state()
        return self

    def _wait_ready(self, listener, deadline):
        """Reads the L1 console until the agent says it is listening."""
        listener.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            con, _ = listener.accept()
        except socket.timeout:
            raise TestboxError(f"QEMU did not start; see {self.statedir}/qemu.log")
        seen = b""
        with con:
            while READY not in seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TestboxError(f"L1 not ready in time; see {self.console_log}")
                con.settimeout(left)
                try:
                    chunk = con.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    raise TestboxError(f"L1 stopped while booting; see {self.console_log}")
                seen = seen[-4096:] + chunk
        # From here on the console goes to console.log only (QEMU's logfile=).

    def _save_state(self):
        state = {"pid": self.proc.pid, "ctl_port": self.ctl_port, "mem": self.mem,
                 "cpus": self.cpus, "forwards": self.forwards,
                 "boot_seconds": self.boot_seconds}
        tmp = os.path.join(self.statedir, "state.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, os.path.join(self.statedir, "state.json"))

    @classmethod
    def attach(cls, statedir):
        with open(os.path.join(statedir, "state.json")) as f:
            state = json.load(f)
        box = cls(statedir, state["mem"], state["cpus"], state["forwards"])
        box.ctl_port = state["ctl_port"]
        box.pid = state["pid"]
        box.boot_seconds = state["boot_seconds"]
        try:
            os.kill(box.pid, 0)
        except ProcessLookupError:
            raise TestboxError(f"the testbox in {statedir} is not running")
        return box

    def stop(self):
        pid = self.proc.pid if self.proc else getattr(self, "pid", None)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc:
            self.proc.wait()
        else:
            # Not our child: a pidfd becomes readable when it exits.
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                fd = None
            if fd is not None:
                select.select([fd], [], [], 10)
                os.close(fd)
        for name in ("state.json", "disk.img"):
            path = os.path.join(self.statedir, name)
            if os.path.exists(path):
                os.unlink(path)

    def alive(self):
        """Whether QEMU still runs (a panic in L1 ends it: panic=-1, -no-reboot)."""
        if self.proc:
            return self.proc.poll() is None
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def forward(self, guest_port, host_port=None):
        """Forwards a host loopback port to guest_port in L1, now. Returns it."""
        host_port = host_port or free_port()
        reply = self.monitor(f"hostfwd_add n0 tcp:127.0.0.1:{host_port}-:{guest_port}")
        if "error" in reply.lower() or "could not" in reply.lower():
            raise TestboxError(f"hostfwd_add: {reply.strip()}")
        self.forwards.append((host_port, guest_port))
        return host_port

    def monitor(self, command):
        """Runs one HMP command on QEMU's monitor and returns its reply."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.monitor_sock)
            s.settimeout(10)
            buf = b""
            while not buf.endswith(b"(qemu) "):
                buf += s.recv(4096)
            s.sendall(command.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"(qemu) "):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        text = buf.decode(errors="replace").replace("\r", "")
        return text.split("\n", 1)[1].rsplit("(qemu) ", 1)[0] if "\n" in text else text

    # --- commands --------------------------------------------------------
    def run(self, argv, cwd=None, env=None, timeout=None, out=None, err=None, started=None):
        """Runs argv in L1. Returns (exit status, stdout bytes, stderr bytes).

        out/err, if given, are called with each chunk as it arrives. On
        timeout the command's process group is killed and TIMEOUT_EXIT
        returned. started(sock), if given, gets the connection: shutting it
        down kills the command."""
        cwd = cwd or REPO
        env = env or {}
        fields = [cwd] + [f"{k}={v}" for k, v in env.items()] + [""] + list(argv)
        payload = b"".join(f.encode() + b"\0" for f in fields)
        deadline = None if timeout is None else time.monotonic() + timeout
        outs, errs = [], []
        try:
            s = socket.create_connection(("127.0.0.1", self.ctl_port))
        except OSError as e:
            raise TestboxError(f"cannot reach the testbox agent ({e}): L1 died? "
                               f"see {self.console_log}")
        with s:
            s.sendall(struct.pack("<I", len(payload)) + payload)
            started and started(s)
            reader = _Frames(s, deadline)
            while True:
                frame = reader.next()
                if frame is None:
                    if reader.timed_out:
                        return TIMEOUT_EXIT, b"".join(outs), b"".join(errs)
                    raise TestboxError("the testbox agent closed the connection "
                                       f"(L1 died? see {self.console_log})")
                kind, data = frame
                if kind == b"o":
                    outs.append(data)
                    out and out(data)
                elif kind == b"e":
                    errs.append(data)
                    err and err(data)
                elif kind == b"x":
                    return struct.unpack("<I", data)[0], b"".join(outs), b"".join(errs)


class _Frames:
    def __init__(self, sock, deadline):
        self.sock, self.deadline, self.buf, self.timed_out = sock, deadline, b"", False

    def _fill(self, n):
        while len(self.buf) < n:
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    self.timed_out = True
                    return False
                self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                self.timed_out = True
                return False
            except OSError:
                return False
            if not chunk:
                return False
            self.buf += chunk
        return True

    def next(self):
        if not self._fill(5):
            return None
        kind, length = self.buf[:1], struct.unpack("<I", self.buf[1:5])[0]
        if not self._fill(5 + length):
            return None
        data, self.buf = self.buf[5:5 + length], self.buf[5 + length:]
        return kind, data

