"""The testbox itself: an L1 with real KVM that runs our commands.

The launcher is exercised as a user would: tests/testbox/run for one-shot
commands (boot, run, tear down), and the session's kept L1 (the `kvm`
fixture) for the rest. When KVM tests run directly on hardware these still
test the testbox, which CI machines depend on."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from conftest import BUILD, REPO, skip_here_fail_in_ci

sys.path.insert(0, os.path.join(REPO, "tests", "testbox"))
import testbox  # noqa: E402

RUN = os.path.join(REPO, "tests", "testbox", "run")


@pytest.fixture
def state():
    """A fresh state folder for one launcher: its QEMU's command line names it (the
    console and monitor sockets live there), so pids_of(state) finds that L1 and
    no other, whoever else runs a testbox on this machine. Short, for sun_path."""
    for path in (testbox.KERNEL, testbox.INITRAMFS):
        if not os.path.exists(path):
            skip_here_fail_in_ci(f"{path} is missing (make testbox)")
    d = tempfile.mkdtemp(prefix="ember-tbt-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def pids_of(state):
    """Processes whose command line names the state folder: its L1, its launcher."""
    out = subprocess.run(["pgrep", "-f", state + "/"], capture_output=True, text=True).stdout
    return set(out.split())


def launch(*args, timeout=600):
    return subprocess.run([sys.executable, RUN, "--mem", "1024", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_one_shot_passing_and_failing_commands(state):
    ok = launch("--state", state, "--", "sh", "-c", "echo out; echo err >&2; exit 0")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "out\n"
    assert "err\n" in ok.stderr
    assert pids_of(state) == set()  # its L1 is gone
    bad = launch("--state", state, "--", "sh", "-c", "exit 7")
    assert bad.returncode == 7, bad.stderr
    assert pids_of(state) == set()


def test_hanging_command_times_out_and_l1_is_torn_down(state):
    start = time.monotonic()
    p = launch("--state", state, "--timeout", "5", "--", "sleep", "1000")
    assert p.returncode == 124, p.stderr
    assert "timed out" in p.stderr
    # The timeout ended it, not sleep: far less than 1000 s. (300 s leaves room
    # for L1's boot on a loaded host; it is no performance bound.)
    assert time.monotonic() - start < 300
    assert pids_of(state) == set()


def test_keep_attach_stop(state):
    assert launch("--state", state, "--keep").stdout.strip().splitlines()[-1] == state
    try:
        assert os.path.exists(os.path.join(state, "state.json"))
        # The kept L1 is found by its state folder (what the other tests rely on).
        assert pids_of(state), "no process names the kept L1's state folder"
        first = launch("--attach", state, "--", "cat", "/proc/sys/kernel/random/boot_id")
        second = launch("--attach", state, "--", "cat", "/proc/sys/kernel/random/boot_id")
        assert first.returncode == 0, first.stderr
        assert first.stdout == second.stdout  # one L1 boot served both
    finally:
        stop = launch("--stop", state)
    assert stop.returncode == 0, stop.stderr
    assert not os.path.exists(os.path.join(state, "state.json"))
    assert pids_of(state) == set()
    assert launch("--attach", state, "--", "true").returncode != 0


def test_l1_kvm_runs_a_guest(kvm):
    p = kvm.run([os.path.join(BUILD, "bin", "kvm-smoke")], timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "kvm-smoke: ok\n"


def test_share_is_readable_and_writable(kvm, tmp_path):
    # tmp_path is outside the checkout; use a folder inside it.
    folder = os.path.join(BUILD, "tmp")
    os.makedirs(folder, exist_ok=True)
    host_file = os.path.join(folder, f"from-host-{os.getpid()}")
    guest_file = os.path.join(folder, f"from-guest-{os.getpid()}")
    with open(host_file, "w") as f:
        f.write("written on the host\n")
    p = kvm.run(["sh", "-c", f"cat {host_file} && echo 'written in L1' > {guest_file}"],
                timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "written on the host\n"
    with open(guest_file) as f:
        assert f.read() == "written in L1\n"
    os.unlink(host_file)
    os.unlink(guest_file)


def test_forwarded_port_reaches_a_server_in_l1(kvm):
    # The server takes any free port where it runs and says which.
    server = kvm.spawn([sys.executable if kvm.where == "direct" else "python3", "-c",
                        SERVER, kvm.where])
    try:
        server.wait_for("\n", timeout=120)
        guest_port = int(re.search(r"listening on (\d+)\n", server.text).group(1))
        host_port = kvm.forward(guest_port)
        with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=60) as r:
            assert r.read().decode() == f"served from {kvm.where}\n"
        assert server.wait(60) == 0
    finally:
        server.stop()


# One HTTP request, answered from inside L1 (or the KVM host).
SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"served from {sys.argv[1]}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = http.server.HTTPServer(("0.0.0.0", 0), H)
print(f"listening on {srv.server_address[1]}", flush=True)
srv.handle_request()
"""


def test_guest_boots_under_qemu_kvm_on_the_kvm_host(kvm):
    """Our kernel + ember-init under a VMM with real KVM (QEMU microvm here;
    test_vmm_boot.py does the same with ember-vmm)."""
    from guest import QEMU_CMDLINE, INITRAMFS, VMLINUX, probe_values
    # The testbox's emulated SVM does not intercept XSETBV (FACTS.md).
    cmdline = f"{QEMU_CMDLINE} ember.probe=1" + (" noxsave" if kvm.where == "testbox" else "")
    p = kvm.run(["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on",
                 "-accel", "kvm", "-cpu", "host", "-m", "128", "-smp", "2",
                 "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                 "-kernel", VMLINUX, "-initrd", INITRAMFS, "-append", cmdline,
                 "-serial", "stdio"], timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ember-init: up " in p.stdout, p.stdout
    assert probe_values(p.stdout)["cpus"] == "2", p.stdout


def test_commands_get_only_stdio(kvm):
    """No descriptor of the runner leaks into the command (ls's own is 3)."""
    p = kvm.run(["ls", "/proc/self/fd"], timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0", "1", "2", "3"]
