"""virtio-vsock with Firecracker's hybrid host side in a real guest (issue 5).

The guest side is tests/guests/vsock_check.c (ember.run=, parameters on the
kernel command line, "vsockcheck: ..." lines on the console). The host side is
tests/integration/vsock_client.py, run with python3 where ember-vmm runs (in
the testbox, U is an L1 path). Every wait is on an event: a console line or a
process exit. A failure while a VM is up says what became of the VM: its exit
code (a guest death is exit 2) and the console's last lines; nothing is retried.
"""
import hashlib
import os
import queue
import re
import subprocess

import pytest

from guest import BASE_CMDLINE, BUILD, INITRAMFS, REPO, VMLINUX, VMM

CLIENT = os.path.join(REPO, "tests", "integration", "vsock_client.py")
EXIT_OK, EXIT_CONFIG = 0, 1
BOOT_TIMEOUT = 120
IO_TIMEOUT = 180
CID = 3
PORT = 5000
CONCURRENT = 100
# Bulk size each way: the testbox emulates everything, hardware KVM does not.
BULK_TESTBOX = 32 << 20
BULK_DIRECT = 100 << 20
BLOCK = bytes(((i * 131 + i // 256) & 0xFF) for i in range(65536))


def bulk_bytes(kvm):
    return BULK_TESTBOX if kvm.where == "testbox" else BULK_DIRECT


def pattern_sha256(n):
    h = hashlib.sha256()
    for off in range(0, n, len(BLOCK)):
        h.update(BLOCK[:min(len(BLOCK), n - off)])
    return h.hexdigest()


def uds(name):
    # /tmp of the machine ember-vmm runs on; short enough for sun_path.
    return f"/tmp/ember-vsock-{os.getpid()}-{name}.sock"


def spawn_vm(kvm, path, params):
    quirks = " noxsave" if kvm.where == "testbox" else ""
    cmd = f"{BASE_CMDLINE}{quirks} ember.run=/bin/vsock_check {params}"
    return kvm.spawn([VMM, "--kernel", VMLINUX, "--initrd", INITRAMFS, "--cmdline", cmd,
                      "--vsock", f"{CID},{path}"])


def vm_report(vm, grace=10):
    """What became of the VM: its exit code if it ended (given `grace` seconds
    to get there, as a client failure may be the VM dying) and the console's
    last lines."""
    vm.done.wait(grace)
    while True:
        try:
            chunk = vm.chunks.get_nowait()
        except queue.Empty:
            break
        if chunk is None:
            vm.chunks.put(None)  # a later wait() still sees the end
            break
        vm.text += chunk.decode(errors="replace")
    state = (f"the VMM exited with code {vm.returncode}" if vm.done.is_set()
             else "the VMM is still running")
    return f"{state}; the console's last lines:\n" + "\n".join(vm.text.splitlines()[-25:])


def client(kvm, *args, vm=None, timeout=IO_TIMEOUT):
    p = kvm.run(["python3", CLIENT, *[str(a) for a in args]], timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"client {args[0]} failed: {p.stdout}{p.stderr}" +
                             (f"\n{vm_report(vm)}" if vm is not None else ""))
    return p.stdout


def guest_done(vm):
    """Waits for the guest program's exit and the VM's; returns its status."""
    vm.wait_for("ember-init: /bin/vsock_check exited with status", BOOT_TIMEOUT)
    rc = vm.wait(BOOT_TIMEOUT)
    assert rc == EXIT_OK, vm_report(vm)
    m = re.search(r"exited with status (\d+)", vm.text)
    return int(m.group(1))


@pytest.fixture(scope="module")
def echo_vm(kvm):
    path = uds("echo")
    vm = spawn_vm(kvm, path, f"vsockcheck.mode=echo-server vsockcheck.port={PORT}")
    vm.wait_for(f"vsockcheck: listening port={PORT}", BOOT_TIMEOUT)
    yield vm, path
    vm.stop()


@pytest.mark.quick
def test_echo_host_to_guest(kvm, echo_vm):
    vm, path = echo_vm
    assert client(kvm, "echo", path, PORT, 1, 100000, vm=vm).strip() == "echo ok 1"


def test_many_concurrent_connections(kvm, echo_vm):
    vm, path = echo_vm
    out = client(kvm, "echo", path, PORT, CONCURRENT, 4096, vm=vm)
    assert out.strip() == f"echo ok {CONCURRENT}"


def test_host_peer_killed_mid_transfer(kvm, echo_vm):
    vm, path = echo_vm
    p = kvm.run(["python3", CLIENT, "die", path, str(PORT), str(16 << 20)], timeout=IO_TIMEOUT)
    assert p.returncode != 0 and "dying after" in p.stdout, p.stdout + p.stderr
    # The VMM and the guest go on: a new connection still echoes.
    assert client(kvm, "echo", path, PORT, 1, 100000, vm=vm).strip() == "echo ok 1"
    assert client(kvm, "echo", path, PORT, 4, 10000, vm=vm).strip() == "echo ok 4"
    assert not vm.done.is_set(), vm_report(vm, grace=0)


@pytest.mark.quick
def test_guest_to_host(kvm):
    path = uds("g2h")
    listener = kvm.spawn(["python3", CLIENT, "listen", path, str(PORT)])
    try:
        listener.wait_for("listening", 30)
        vm = spawn_vm(kvm, path, f"vsockcheck.mode=connect-host vsockcheck.port={PORT}")
        assert guest_done(vm) == 0, vm.text
        assert "vsockcheck: host said 'echo: hello from the guest'" in vm.text, vm.text
        listener.wait_for("guest said 'hello from the guest'", 30)
        assert listener.wait(30) == 0, listener.text
    finally:
        listener.stop()


def test_guest_to_host_without_listener(kvm):
    vm = spawn_vm(kvm, uds("nolisten"), f"vsockcheck.mode=connect-host vsockcheck.port={PORT}")
    assert guest_done(vm) == 1, vm.text
    assert "vsockcheck: connect to 2:" in vm.text, vm.text


def test_bulk_host_to_guest(kvm):
    n = bulk_bytes(kvm)
    path = uds("sink")
    vm = spawn_vm(kvm, path, f"vsockcheck.mode=sink vsockcheck.port={PORT}")
    try:
        vm.wait_for(f"vsockcheck: listening port={PORT}", BOOT_TIMEOUT)
        want = pattern_sha256(n)
        out = client(kvm, "send", path, PORT, n, vm=vm)
        assert out.strip() == f"sent bytes={n} sha256={want}"
        assert guest_done(vm) == 0, vm.text
        assert f"vsockcheck: sink bytes={n} sha256={want}" in vm.text, vm.text
    finally:
        vm.stop()


def test_bulk_guest_to_host(kvm):
    n = bulk_bytes(kvm)
    path = uds("source")
    vm = spawn_vm(kvm, path, f"vsockcheck.mode=source vsockcheck.port={PORT} vsockcheck.len={n}")
    try:
        vm.wait_for(f"vsockcheck: listening port={PORT}", BOOT_TIMEOUT)
        want = pattern_sha256(n)
        out = client(kvm, "recv", path, PORT, vm=vm)
        assert out.strip() == f"received bytes={n} sha256={want}"
        assert guest_done(vm) == 0, vm.text
        assert f"vsockcheck: source bytes={n} sha256={want}" in vm.text, vm.text
    finally:
        vm.stop()


def test_stale_socket_replaced_live_one_refused(kvm):
    path = uds("stale")
    assert client(kvm, "stale", path, 0).strip() == "stale"
    # A stale U is replaced; U is gone once the VMM exits.
    vm = spawn_vm(kvm, path, f"vsockcheck.mode=connect-host vsockcheck.port={PORT}")
    assert guest_done(vm) == 1, vm.text
    assert client(kvm, "exists", path, 0).strip() == "exists no"
    # A U someone listens on is refused: one error line, exit 1, U untouched.
    listener = kvm.spawn(["python3", CLIENT, "listen", path, str(PORT)])
    try:
        listener.wait_for("listening", 30)
        live = f"{path}_{PORT}"
        p = kvm.run([VMM, "--kernel", VMLINUX, "--vsock", f"{CID},{live}"], timeout=30)
        assert p.returncode == EXIT_CONFIG, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and "in use" in p.stderr, p.stderr
        assert client(kvm, "exists", live, 0).strip() == "exists yes"
    finally:
        listener.stop()


def test_bad_vsock_arguments(tmp_path):
    # No KVM needed: argument and socket errors come before the VM exists.
    regular = tmp_path / "file"
    regular.write_text("")
    for spec in ("2,/tmp/v.sock", "x,/tmp/v.sock", "3", "3,", "4294967295,/tmp/v.sock",
                 "3,/" + "p" * 96, f"3,{regular}", f"3,{tmp_path}/no/such/dir/v.sock"):
        p = subprocess.run([VMM, "--kernel", VMLINUX, "--vsock", spec], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == EXIT_CONFIG, (spec, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, (spec, p.stderr)
        assert "--vsock" in p.stderr, (spec, p.stderr)
    assert regular.exists()
