"""Integration test harness: real guests under real KVM.

Tests that need KVM take the `kvm` fixture. It runs commands on a host whose
KVM boots Linux: this machine, when its CPU has VMX/SVM, or otherwise the
testbox (tests/testbox), an L1 Linux with nested KVM under QEMU's emulator,
booted once per test session. EMBER_TESTBOX=1 forces the testbox and
EMBER_TESTBOX=0 forbids it. Where no KVM can be had, such tests skip with a
reason, and with EMBER_REQUIRE_KVM=1 (as in CI) they fail instead.

The checkout has the same absolute path in L1 as on the host, so a test
passes the same argv in both cases. Host-side clients reach servers in L1
through kvm.forward(guest_port), which returns a host loopback port.
"""
import os
import subprocess
import sys

import pytest

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "testbox"))
import testbox  # noqa: E402

BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))


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


KVM_WHERE, KVM_REASON = choose_kvm_host()


def pytest_report_header(config):
    return f"KVM tests run: {KVM_WHERE or 'nowhere'} ({KVM_REASON})"


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"KVM tests ran: {KVM_WHERE or 'nowhere'} ({KVM_REASON})")


def skip_or_fail(reason):
    if os.environ.get("EMBER_REQUIRE_KVM") == "1":
        pytest.fail(f"EMBER_REQUIRE_KVM=1 but {reason}", pytrace=False)
    pytest.skip(reason)


class DirectHost:
    where = "direct"

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


@pytest.fixture(scope="session")
def kvm():
    if KVM_WHERE is None:
        skip_or_fail(KVM_REASON)
    if KVM_WHERE == "direct":
        yield DirectHost()
        return
    for path in (testbox.KERNEL, testbox.INITRAMFS):
        if not os.path.exists(path):
            skip_or_fail(f"{path} is missing (make testbox)")
    box = testbox.Testbox(os.path.join(BUILD, "testbox", f"session-{os.getpid()}"))
    try:
        box.boot()
    except testbox.TestboxError as e:
        skip_or_fail(f"the testbox did not boot: {e}")
    try:
        yield TestboxHost(box)
    finally:
        box.stop()
