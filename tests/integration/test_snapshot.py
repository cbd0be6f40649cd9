"""Snapshots (issue 8): create a paused VM's snapshot, load it into fresh VMMs, clone it.

ember-vmm and the clients run where KVM is (the testbox here). The guest
tests/guests/snapstate keeps a counter in memory and a file in tmpfs and
answers on vsock port 5000; tests/guests/ticker shows progress on the
console. Clones each run in their own folder, so the snapshot's relative
vsock uds_path ("v.sock") is a different socket for each. Those folders are
local to the KVM host (/tmp there): Unix sockets cannot live on the 9p share
the testbox mounts the checkout from. Drives were given absolute paths, which
a state file may not choose on its own (vmm/snapshot/paths.h): their loads
name them in drive_overrides (test_snapshot_paths.py tests the rule).
"""
import json
import os
import pathlib
import shutil
import struct
import zlib

import pytest

from api_client import BUILD, CALL_TIMEOUT, VMM, curl, spawn_api_vmm
from guest import BASE_CMDLINE, INITRAMFS, REPO, VMLINUX

CLIENT = os.path.join(REPO, "tests", "integration", "vsock_client.py")
HANDLER = os.path.join(BUILD, "bin", "uffd-handler")
WAIT = 180
PORT = 5000
# How long a VM loaded paused must print nothing. A running clone prints its
# next tick within one tick (20 ms of guest time, well under a second even in
# the testbox), so this catches one that runs; a paused one stays silent however
# long we wait: the bound costs time, never correctness.
QUIET_S = 10


@pytest.fixture
def work(kvm, request):
    d = pathlib.Path(BUILD, "tests", "integration", "snapshot", request.node.name)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    yield d


def sock_for(d, name):
    return f"/tmp/ember-snap-{os.getpid()}-{d.name}-{name}.sock"


def local_dir(kvm, d, name):
    """A folder on the KVM host's own filesystem, for a VMM's cwd and sockets."""
    path = f"/tmp/ember-snap-{os.getpid()}-{d.name}/{name}"
    assert kvm.run(["mkdir", "-p", path], timeout=CALL_TIMEOUT).returncode == 0
    return pathlib.Path(path)


def boot(kvm, d, run, vsock=False, drive=None, track=False):
    """A VM configured through the API, running `run`; returns (vm, api socket)."""
    sock = sock_for(d, "orig")
    vm = spawn_api_vmm(kvm, sock, cwd=str(local_dir(kvm, d, "orig")))
    calls = [("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128,
                                  "track_dirty_pages": track}),
             ("/boot-source", {"kernel_image_path": VMLINUX, "initrd_path": INITRAMFS,
                               "boot_args": f"{BASE_CMDLINE} ember.run={run}"})]
    if vsock:
        calls.append(("/vsock", {"guest_cid": 3, "uds_path": "v.sock"}))
    if drive:
        calls.append(("/drives/data", {"drive_id": "data", "path_on_host": drive,
                                       "is_root_device": False, "is_read_only": True}))
    calls.append(("/actions", {"action_type": "InstanceStart"}))
    for path, body in calls:
        status, _, raw = curl(kvm, sock, "PUT", path, json.dumps(body))
        assert status == 204, (path, raw)
    return vm, sock


def snapshot(kvm, sock, d, name="", kind="Full"):
    assert curl(kvm, sock, "PATCH", "/vm", '{"state": "Paused"}')[0] == 204
    body = {"snapshot_path": str(d / f"state{name}"), "mem_file_path": str(d / f"mem{name}"),
            "snapshot_type": kind}
    status, parsed, raw = curl(kvm, sock, "PUT", "/snapshot/create", json.dumps(body))
    assert status == 204, raw
    return body["snapshot_path"], body["mem_file_path"]


def load(kvm, d, name, state, mem, resume=True, backend="File", **overrides):
    """A fresh ember-vmm in its own folder that loads the snapshot; returns (vm, sock,
    status, body). With backend "Uffd", mem is the page-fault handler's socket.
    overrides: vsock_override / drive_overrides, as the load request takes them."""
    sock = sock_for(d, name)
    vm = spawn_api_vmm(kvm, sock, cwd=str(local_dir(kvm, d, name)))
    body = {"snapshot_path": state, "mem_backend": {"backend_type": backend, "backend_path": mem},
            "resume_vm": resume, **overrides}
    status, parsed, raw = curl(kvm, sock, "PUT", "/snapshot/load", json.dumps(body))
    return vm, sock, status, parsed


def ask(kvm, d, name, *cmds):
    """Command lines to snapstate in the VM that runs in folder `name`."""
    uds = f"/tmp/ember-snap-{os.getpid()}-{d.name}/{name}/v.sock"
    p = kvm.run(["python3", CLIENT, "lines", uds, str(PORT), *cmds],
                timeout=CALL_TIMEOUT)
    assert p.returncode == 0, (p.stdout, p.stderr)
    return p.stdout.splitlines()


def ticks(text):
    """The complete "tick N" lines (a pause may split one across two processes)."""
    return [int(line.split()[1]) for line in text.splitlines(keepends=True)
            if line.startswith("tick ") and line.endswith("\n")]


@pytest.mark.quick
def test_paused_snapshot_resumes_where_it_stopped(kvm, work):
    vm, sock = boot(kvm, work, "/bin/ticker")
    try:
        vm.wait_for("tick 10", WAIT)
        state, mem = snapshot(kvm, sock, work)
    finally:
        vm.stop()
    vm.wait(WAIT)  # all its console output, up to the pause
    frozen = max(ticks(vm.text))
    # Loaded paused: nothing runs until PATCH /vm Resumed. The clone is a new
    # process, so any tick on its console would be the guest running.
    clone, csock, status, body = load(kvm, work, "clone", state, mem, resume=False)
    try:
        assert status == 204, body
        assert curl(kvm, csock, "GET", "/")[1]["state"] == "Paused"
        assert not clone.seen_within("tick ", QUIET_S), f"it ran while paused: {clone.text!r}"
        assert curl(kvm, csock, "PATCH", "/vm", '{"state": "Resumed"}')[0] == 204
        clone.wait_for(f"tick {frozen + 3}", WAIT)
        # The next tick, or the one after if the pause split a line in two.
        assert frozen < min(ticks(clone.text)) <= frozen + 2, clone.text[:200]
        # A loaded VM refuses boot configuration and a second load.
        status, body, _ = curl(kvm, csock, "PUT", "/machine-config",
                               '{"vcpu_count": 1, "mem_size_mib": 128}')
        assert status == 400 and "after starting" in body["fault_message"]
    finally:
        clone.stop()
    # The command line's --restore runs the same snapshot with no API.
    cli = kvm.spawn(["sh", "-c", f'exec "$0" --restore "$1,$2" 2>&1', VMM, state, mem])
    try:
        cli.wait_for(f"tick {frozen + 3}", WAIT)
    finally:
        cli.stop()


def test_uffd_backend_handler_serves_the_memory(kvm, work):
    """Firecracker's Uffd backend: the example handler (tools/uffd-handler) gets the
    regions and the userfaultfd, and fills every page the restored guest touches."""
    vm, sock = boot(kvm, work, "/bin/ticker")
    try:
        vm.wait_for("tick 5", WAIT)
        state, mem = snapshot(kvm, sock, work)
    finally:
        vm.stop()
    vm.wait(WAIT)
    frozen = max(ticks(vm.text))
    hsock = str(local_dir(kvm, work, "handler") / "uffd.sock")
    handler = kvm.spawn(["sh", "-c", 'exec "$0" "$@" 2>&1', HANDLER, hsock, mem])
    try:
        handler.wait_for("listening on", WAIT)
        clone, csock, status, body = load(kvm, work, "clone", state, hsock, resume=False,
                                          backend="Uffd")
        try:
            assert status == 204, body
            handler.wait_for("serving VMM", WAIT)
            assert not clone.seen_within("tick ", QUIET_S), f"ran while paused: {clone.text!r}"
            assert curl(kvm, csock, "PATCH", "/vm", '{"state": "Resumed"}')[0] == 204
            clone.wait_for(f"tick {frozen + 3}", WAIT)
            assert frozen < min(ticks(clone.text)) <= frozen + 2, clone.text[:200]
        finally:
            clone.stop()
        # The VMM is gone: the handler says how many faults it served, and ends.
        assert handler.wait(WAIT) == 0, handler.text
    finally:
        handler.stop()
    served = [line for line in handler.text.splitlines() if "served" in line]
    assert served and int(served[0].split()[2]) > 0, handler.text


def test_uffd_backend_without_a_handler_fails_the_load(kvm, work):
    vm, sock = boot(kvm, work, "/bin/ticker")
    try:
        vm.wait_for("tick 1", WAIT)
        state, _ = snapshot(kvm, sock, work)
    finally:
        vm.stop()
    nobody = str(local_dir(kvm, work, "handler") / "nobody.sock")
    clone, csock, status, body = load(kvm, work, "clone", state, nobody, backend="Uffd")
    try:
        assert status == 400 and nobody in body["fault_message"], body
        assert "no page-fault handler listening" in body["fault_message"], body
        # Firecracker's rule: a failed load ends the process.
        assert clone.wait(WAIT) == 1, clone.text
    finally:
        clone.stop()


def test_create_refuses_a_running_vm_and_diff(kvm, work):
    vm, sock = boot(kvm, work, "/bin/ticker")
    try:
        vm.wait_for("tick 1", WAIT)
        body = {"snapshot_path": str(work / "s"), "mem_file_path": str(work / "m")}
        status, parsed, _ = curl(kvm, sock, "PUT", "/snapshot/create", json.dumps(body))
        assert status == 400 and "paused" in parsed["fault_message"], parsed
        assert curl(kvm, sock, "PATCH", "/vm", '{"state": "Paused"}')[0] == 204
        body["snapshot_type"] = "Diff"  # without dirty-page tracking
        status, parsed, _ = curl(kvm, sock, "PUT", "/snapshot/create", json.dumps(body))
        assert status == 400 and "track_dirty_pages" in parsed["fault_message"], parsed
        assert not (work / "s").exists()
    finally:
        vm.stop()


def fix_crc(data):
    return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4]) & 0xFFFFFFFF)


def ticker_snapshot_in(kvm, d):
    """A paused ticker VM with a 1 MiB data drive, snapshotted into folder d."""
    drive = d / "data.img"
    drive.write_bytes(b"\0" * (1 << 20))
    vm, sock = boot(kvm, d, "/bin/ticker", drive=str(drive))
    try:
        vm.wait_for("tick 3", WAIT)
        state, mem = snapshot(kvm, sock, d)
    finally:
        vm.stop()
    return d, pathlib.Path(state), pathlib.Path(mem), drive


@pytest.fixture(scope="module")
def ticker_snapshot(kvm):
    """Shared by the refusal cases, which only read it (each writes its bad copy
    beside it under its own name)."""
    d = pathlib.Path(BUILD, "tests", "integration", "snapshot", "ticker-snapshot")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return ticker_snapshot_in(kvm, d)


def bad_copy(d, name, data):
    p = d / name
    p.write_bytes(data)
    return str(p)


def expect_refused(kvm, d, name, state_path, mem_path, needle, drive, configure_first=False):
    """A fresh ember-vmm refuses the load with needle in the message, and ends.
    The drive is named in drive_overrides: its path in the state file is
    absolute, which a load takes only from the caller."""
    sock = sock_for(d, name)
    vm = spawn_api_vmm(kvm, sock)
    try:
        if configure_first:
            assert curl(kvm, sock, "PUT", "/machine-config",
                        '{"vcpu_count": 1, "mem_size_mib": 128}')[0] == 204
        body = {"snapshot_path": state_path,
                "mem_backend": {"backend_type": "File", "backend_path": mem_path},
                "drive_overrides": [{"drive_id": "data", "path_on_host": str(drive)}]}
        status, parsed, raw = curl(kvm, sock, "PUT", "/snapshot/load", json.dumps(body))
        assert status == 400 and needle in parsed["fault_message"], (name, raw)
        if not configure_first:
            # Firecracker's rule: a failed load ends the process.
            assert vm.wait(WAIT) == 1, vm.text
    finally:
        vm.stop()


@pytest.mark.parametrize("case", ["crc", "truncated", "major", "minor", "mem_size",
                                  "configured_first"])
def test_load_refuses_bad_snapshots(kvm, ticker_snapshot, case):
    d, state, mem, drive = ticker_snapshot
    data = state.read_bytes()
    mem_path = str(mem)
    if case == "crc":
        bad = bytearray(data)
        bad[len(bad) // 2] ^= 0x40
        state_path, needle = bad_copy(d, "crc", bytes(bad)), "CRC"
    elif case == "truncated":
        state_path, needle = bad_copy(d, "trunc", data[:len(data) // 3]), "snapshot_path"
    elif case == "major":
        state_path, needle = bad_copy(d, "major", fix_crc(data[:8] + b"\x09\x00" + data[10:])), \
            "version"
    elif case == "minor":
        state_path, needle = bad_copy(d, "minor", fix_crc(data[:10] + b"\x07\x00" + data[12:])), \
            "version"
    elif case == "mem_size":
        state_path = str(state)
        mem_path = str(d / "short.mem")
        with open(mem_path, "wb") as f:
            f.truncate(64 << 20)
        needle = "MiB"
    else:
        state_path, needle = str(state), "unconfigured"
    expect_refused(kvm, d, case, state_path, mem_path, needle, drive,
                   configure_first=case == "configured_first")


def test_load_refuses_a_changed_drive(kvm, work):
    """Same path, new contents: a disk the guest never saw must be refused. This
    changes the drive under its snapshot, so it makes its own."""
    d, state, mem, drive = ticker_snapshot_in(kvm, work)
    drive.write_bytes(b"\1" * (1 << 20))
    expect_refused(kvm, d, "drive_changed", str(state), str(mem), "data", drive)


def test_clones_continue_and_diverge(kvm, work):
    """A counter in memory, a file in tmpfs and a listening vsock socket survive;
    10 clones one after another, then 5 at once, each from the same state."""
    vm, sock = boot(kvm, work, "/bin/snapstate", vsock=True)
    try:
        vm.wait_for("snapstate: ready", WAIT)
        assert ask(kvm, work, "orig", "inc", "inc", "inc") == [
            "counter=1 file=base+", "counter=2 file=base++", "counter=3 file=base+++"]
        state, mem = snapshot(kvm, sock, work)
    finally:
        vm.stop()
    for i in range(10):
        clone, csock, status, body = load(kvm, work, f"seq{i}", state, mem)
        try:
            assert status == 204, body
            # The connection from before the snapshot was reset; the listener lives on.
            assert ask(kvm, work, f"seq{i}", "get", "inc") == [
                "counter=3 file=base+++", "counter=4 file=base++++"]
        finally:
            clone.stop()
    clones = []
    try:
        for i in range(5):
            clone, csock, status, body = load(kvm, work, f"par{i}", state, mem)
            clones.append(clone)
            assert status == 204, body
        # Each clone's writes stay its own.
        for i in range(5):
            assert ask(kvm, work, f"par{i}", *["inc"] * (i + 1))[-1] == \
                f"counter={4 + i} file=base+++{'+' * (i + 1)}"
        for i in range(5):
            assert ask(kvm, work, f"par{i}", "get") == [
                f"counter={4 + i} file=base+++{'+' * (i + 1)}"]
    finally:
        for clone in clones:
            clone.stop()


def test_lambda_clones_draw_different_random_bytes(kvm, work):
    """After a restore, emberd's RESTORE reseeds the guest's CRNG before anything
    runs: two clones of one snapshot must not draw the same bytes."""
    from lambda_guest import DRIVE
    from test_lambda_init import busybox_root, fn_code

    quirks = " noxsave" if kvm.where == "testbox" else ""
    cmd = f"{BASE_CMDLINE}{quirks} ember.lambda=1"
    sock = sock_for(work, "orig")
    vm = kvm.spawn(["sh", "-c", 'cd "$1" && shift && exec "$0" "$@" 2>&1', VMM,
                    str(local_dir(kvm, work, "orig")), "--api-sock", sock, "--kernel", VMLINUX,
                    "--initrd", INITRAMFS, "--cmdline", cmd, "--mem-mib", "256", "--drive",
                    busybox_root() + ",ro", "--drive", fn_code() + ",ro", "--vsock", "3,v.sock"])

    def drive(name, *args):
        uds = f"/tmp/ember-snap-{os.getpid()}-{work.name}/{name}/v.sock"
        p = kvm.run([DRIVE, "--uds", uds, "--timeout", "120", *args], timeout=WAIT)
        assert p.returncode == 0, (p.stdout, p.stderr)
        return [json.loads(line) for line in p.stdout.splitlines()]

    try:
        vm.wait_for("listening on vsock port 1024", WAIT)
        assert any(m["type"] == "READY" for m in drive("orig", "--handler", "multi"))
        state, mem = snapshot(kvm, sock, work)
    finally:
        vm.stop()
    drawn = []
    drives = [{"drive_id": "vda", "path_on_host": busybox_root()},
              {"drive_id": "vdb", "path_on_host": fn_code()}]
    for i in range(2):
        clone, csock, status, body = load(kvm, work, f"rng{i}", state, mem,
                                          drive_overrides=drives)
        try:
            assert status == 204, body
            msgs = drive(f"rng{i}", "--no-init", "--restore", f"clone-{i}", "--payload", "rand",
                         "--invokes", "1")
            results = [m for m in msgs if m["type"] == "RESULT"]
            assert len(results) == 1, msgs
            drawn.append(results[0]["text"])
        finally:
            clone.stop()
    assert len(drawn[0]) == 34 and drawn[0] != drawn[1], drawn


def test_diff_chain_equals_full(kvm, work):
    """Base + Diff, merged with ember-snap-merge, is the Full snapshot of the same moment."""
    vm, sock = boot(kvm, work, "/bin/snapstate", vsock=True, track=True)
    # Memory files on the KVM host's own filesystem: merging needs SEEK_DATA holes.
    local = local_dir(kvm, work, "files")
    try:
        vm.wait_for("snapstate: ready", WAIT)
        assert ask(kvm, work, "orig", "inc") == ["counter=1 file=base+"]
        state_a, mem_a = snapshot(kvm, sock, local, "a")
        assert curl(kvm, sock, "PATCH", "/vm", '{"state": "Resumed"}')[0] == 204
        assert ask(kvm, work, "orig", "inc", "inc")[-1] == "counter=3 file=base+++"
        state_b, mem_b = snapshot(kvm, sock, local, "b", kind="Diff")
        state_c, mem_c = snapshot(kvm, sock, local, "c")
    finally:
        vm.stop()
    merged = str(local / "merged")
    base_sum = kvm.run(["sha256sum", mem_a], timeout=WAIT).stdout.split()[0]
    for argv in ([os.path.join(BUILD, "bin", "ember-snap-merge"), mem_a, mem_b, merged],
                 ["cmp", merged, mem_c]):
        p = kvm.run(argv, timeout=WAIT)
        assert p.returncode == 0, (argv, p.stdout, p.stderr)
    # The base is left as it was (clones may map it), and the merge never
    # writes over a file that exists.
    assert kvm.run(["sha256sum", mem_a], timeout=WAIT).stdout.split()[0] == base_sum
    p = kvm.run([os.path.join(BUILD, "bin", "ember-snap-merge"), mem_a, mem_b, merged],
                timeout=WAIT)
    assert p.returncode == 1 and "exists" in p.stderr, (p.stdout, p.stderr)
    # The Diff holds a small part of the guest's 128 MiB.
    du = kvm.run(["du", "-k", mem_b, mem_a], timeout=CALL_TIMEOUT).stdout.split()
    assert int(du[0]) * 4 < int(du[2]), du
    clone, csock, status, body = load(kvm, work, "merged", state_b, merged)
    try:
        assert status == 204, body
        assert ask(kvm, work, "merged", "get") == ["counter=3 file=base+++"]
    finally:
        clone.stop()
