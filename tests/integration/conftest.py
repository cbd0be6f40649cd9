"""Integration test harness: real guests under real KVM.

Tests that need KVM take the `kvm` fixture. It runs commands on a host whose
KVM boots Linux: this machine, when its CPU has VMX/SVM, or otherwise the
testbox (tests/testbox), an L1 Linux with nested KVM under QEMU's emulator,
booted once per test session. EMBER_TESTBOX=1 forces the testbox and
EMBER_TESTBOX=0 forbids it. Where no KVM can be had, such tests skip with a
reason, and in CI (CI=true or EMBER_REQUIRE_KVM=1) they fail instead: every
skip in this suite goes through skip_here_fail_in_ci(), so a run that checked
less than it should is never green there.

The checkout has the same absolute path in L1 as on the host, so a test
passes the same argv in both cases. Host-side clients reach servers in L1
through kvm.forward(guest_port), which returns a host loopback port.
"""
import itertools
import os
import queue
import socket
import subprocess
import sys
import threading
import time

import pytest

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "testbox"))
import testbox  # noqa: E402
import l1_guard  # noqa: E402

BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))


KVM_WHERE, KVM_REASON = testbox.choose_kvm_host()


def pytest_addoption(parser):
    l1_guard.addoption(parser)


def pytest_configure(config):
    config.pluginmanager.register(l1_guard.Plugin(), "ember-l1-guard")
    config.addinivalue_line(
        "markers", "quick: a representative subset (boot, exit codes, API, vsock, blk, rng, "
        "snapshot, hostile guest, Lambda) that make integration-san runs against the "
        "ASan+UBSan ember-vmm and the UBSan ember-init")


def pytest_report_header(config):
    return f"KVM tests run: {KVM_WHERE or 'nowhere'} ({KVM_REASON})"


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"KVM tests ran: {KVM_WHERE or 'nowhere'} ({KVM_REASON})")


def in_ci():
    """CI sets CI=true and EMBER_REQUIRE_KVM=1; either means "run everything"."""
    return os.environ.get("CI") == "true" or os.environ.get("EMBER_REQUIRE_KVM") == "1"


def skip_here_fail_in_ci(reason):
    """Skips the test with reason; in CI fails it with the same reason instead."""
    if in_ci():
        pytest.fail(f"in CI every test must run, but {reason}", pytrace=False)
    pytest.skip(reason)


class Spawned:
    """A command left running on the KVM host, whose stdout a test can wait on."""

    def __init__(self):
        self.chunks = queue.Queue()
        self.text = ""
        self.returncode = None
        self.done = threading.Event()

    def _finished(self, rc):
        self.returncode = rc
        self.done.set()
        self.chunks.put(None)

    def wait_for(self, needle, timeout):
        """Waits until stdout contains needle; fails on exit or deadline."""
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            left = deadline - time.monotonic()
            try:
                chunk = self.chunks.get(timeout=max(0, left))
            except queue.Empty:
                raise AssertionError(f"no {needle!r} in {timeout}s; output: {self.text!r}")
            if chunk is None:
                raise AssertionError(f"exited ({self.returncode}) before {needle!r}: "
                                     f"{self.text!r}")
            self.text += chunk.decode(errors="replace")

    def drain(self):
        """Adds what stdout delivered so far to self.text, without waiting."""
        while True:
            try:
                chunk = self.chunks.get_nowait()
            except queue.Empty:
                return self.text
            if chunk is None:
                self.chunks.put(None)  # a later wait_for still sees the end
                return self.text
            self.text += chunk.decode(errors="replace")

    def seen_within(self, needle, seconds):
        """Reads stdout for `seconds` of real time, or until needle shows up or the
        command ends; returns whether needle is in stdout. For checks that something
        does NOT happen over an interval: the answer is read, never assumed."""
        deadline = time.monotonic() + seconds
        while needle not in self.text:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                chunk = self.chunks.get(timeout=left)
            except queue.Empty:
                return False
            if chunk is None:
                self.chunks.put(None)  # a later wait_for still sees the end
                break
            self.text += chunk.decode(errors="replace")
        return needle in self.text

    def wait(self, timeout):
        """Waits for the exit; self.text then holds all of stdout."""
        if not self.done.wait(timeout):
            raise AssertionError(f"still running after {timeout}s")
        while True:
            chunk = self.chunks.get()
            if chunk is None:
                break
            self.text += chunk.decode(errors="replace")
        self.chunks.put(None)  # a later wait_for still sees the end
        return self.returncode


class DirectHost:
    where = "direct"

    def spawn(self, argv, env=None):
        sp = Spawned()
        proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})),
                                start_new_session=True)

        def pump():
            for chunk in iter(lambda: proc.stdout.read1(65536), b""):
                sp.chunks.put(chunk)
            sp._finished(proc.wait())
        threading.Thread(target=pump, daemon=True).start()
        sp.stop = lambda: os.killpg(proc.pid, 9) if proc.poll() is None else None
        return sp

    def run(self, argv, timeout=None, env=None):
        return subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env=dict(os.environ, **(env or {})))

    def forward(self, guest_port):
        return guest_port


class TestboxHost:
    where = "testbox"

    def __init__(self, box):
        self.box = box

    def run(self, argv, timeout=None, env=None):
        rc, out, err = self.box.run(argv, timeout=timeout, env=env)
        if rc == testbox.TIMEOUT_EXIT and timeout is not None:
            raise subprocess.TimeoutExpired(argv, timeout, out, err)
        return subprocess.CompletedProcess(argv, rc, out.decode(errors="replace"),
                                           err.decode(errors="replace"))

    def forward(self, guest_port):
        return self.box.forward(guest_port)

    def spawn(self, argv, env=None):
        sp = Spawned()
        conn = queue.Queue()

        def body():
            try:
                rc, _, _ = self.box.run(argv, env=env, out=sp.chunks.put, started=conn.put)
            except testbox.TestboxError as e:
                rc = None
                sp.chunks.put(f"\n[testbox: {e}]\n".encode())
                conn.put(None)  # unblocks the wait below if it never started
            sp._finished(rc)
        threading.Thread(target=body, daemon=True).start()
        sock = conn.get(timeout=30)

        def stop():
            if sock is not None and not sp.done.is_set():
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # it finished meanwhile
        sp.stop = stop
        return sp


@pytest.fixture(scope="session")
def kvm():
    if KVM_WHERE is None:
        skip_here_fail_in_ci(KVM_REASON)
    if KVM_WHERE == "direct":
        yield DirectHost()
        return
    for path in (testbox.KERNEL, testbox.INITRAMFS):
        if not os.path.exists(path):
            skip_here_fail_in_ci(f"{path} is missing (make testbox)")
    boots = itertools.count()

    def boot():
        # A fresh folder per L1: a dead one's console.log stays to be read.
        # One vCPU: TCG's nested SVM mishandles an interrupt that lands inside
        # KVM's guest-run loop (l1_death.py), and a second vCPU adds reschedule
        # IPIs there. With two, restored guests triple-faulted in about one run
        # of test_emberd_abuse.py in four; with one, in none of four (and the
        # module ran in 114 s, no slower).
        n = next(boots)
        name = f"session-{os.getpid()}" + (f"-{n}" if n else "")
        return testbox.Testbox(os.path.join(BUILD, "testbox", name), cpus=1).boot()
    try:
        host = TestboxHost(boot())
    except testbox.TestboxError as e:
        skip_here_fail_in_ci(f"the testbox did not boot: {e}")
    l1_guard.GUARD.attach(host, boot)
    try:
        yield host
    finally:
        host.box.stop()
