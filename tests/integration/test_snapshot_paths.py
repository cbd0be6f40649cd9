"""A state file may not choose host files (issue 19; vmm/snapshot/paths.h).

The snapshot: snapstate with a vsock device ("v.sock") and a drive
("data.img"), both given as relative paths, from a folder of its own. A path
from a state file is used only if it is relative and stays inside the
loading ember-vmm's working directory (which must not be "/"); otherwise the
load request must name the file: drive_overrides, vsock_override. Edited
state files (CRC recomputed, the drive's recorded size, inode and mtime set
to the target's, as an attacker would) must be refused before any host file
is opened or created. Folders are on the KVM host's own filesystem (/tmp
there), so hard links and Unix sockets work.
"""
import json
import os
import pathlib
import shutil
import struct
import zlib

import pytest

from api_client import BUILD, CALL_TIMEOUT, curl, spawn_api_vmm
from guest import BASE_CMDLINE, INITRAMFS, VMLINUX
from test_snapshot import CLIENT, PORT, WAIT, snapshot

EXIT_CONFIG = 1


def folder(kvm, name):
    path = f"/tmp/ember-snappaths-{os.getpid()}/{name}"
    assert kvm.run(["mkdir", "-p", path], timeout=CALL_TIMEOUT).returncode == 0
    return path


def ok(kvm, *argv):
    p = kvm.run(list(argv), timeout=WAIT)
    assert p.returncode == 0, (argv, p.stdout, p.stderr)
    return p.stdout


def ask(kvm, uds, *cmds):
    return ok(kvm, "python3", CLIENT, "lines", uds, str(PORT), *cmds).splitlines()


def file_id(kvm, path):
    """(size, inode, mtime_ns) of a file where ember-vmm runs."""
    out = ok(kvm, "python3", "-c", "import os,sys; s=os.stat(sys.argv[1]); "
             "print(s.st_size, s.st_ino, s.st_mtime_ns)", path)
    return tuple(int(v) for v in out.split())


def lstr(b):
    return struct.pack("<I", len(b)) + b


def edit_conf(data, drive_path=None, drive_id=None, uds=None):
    """The state file with its CONF section changed, lengths and CRC fixed."""
    def conf(p):
        vcpus, mem, nd = struct.unpack_from("<IQI", p, 0)
        out, r = bytearray(p[:16]), 16
        for _ in range(nd):
            fields = []
            for _ in range(2):  # id, path
                n = struct.unpack_from("<I", p, r)[0]
                fields.append(p[r + 4:r + 4 + n])
                r += 4 + n
            flags, ids = p[r:r + 2], struct.unpack_from("<QQQ", p, r + 2)
            r += 26
            if drive_path is not None:
                fields[1], ids = drive_path.encode(), drive_id
            out += lstr(fields[0]) + lstr(fields[1]) + flags + struct.pack("<QQQ", *ids)
        flags, cid = p[r:r + 2], p[r + 2:r + 6]
        n = struct.unpack_from("<I", p, r + 6)[0]
        path = p[r + 10:r + 10 + n]
        assert r + 10 + n == len(p)
        return bytes(out + flags + cid + lstr(uds.encode() if uds is not None else path))

    out, off = bytearray(data[:24]), 24
    while off < len(data) - 4:
        tag, version, length = struct.unpack_from("<4sIQ", data, off)
        payload = data[off + 16:off + 16 + length]
        if tag == b"CONF":
            payload = conf(payload)
        out += struct.pack("<4sIQ", tag, version, len(payload)) + payload
        off += 16 + length
    struct.pack_into("<Q", out, 16, len(out) + 4)
    return bytes(out) + struct.pack("<I", zlib.crc32(out) & 0xFFFFFFFF)


@pytest.fixture(scope="module")
def snap(kvm):
    d = pathlib.Path(BUILD, "tests", "integration", "snapshot-paths")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    orig = folder(kvm, "orig")
    ok(kvm, "truncate", "-s", "1M", f"{orig}/data.img")
    sock = f"{orig}/api.sock"
    vm = spawn_api_vmm(kvm, sock, cwd=orig)
    calls = [("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
             ("/boot-source", {"kernel_image_path": VMLINUX, "initrd_path": INITRAMFS,
                               "boot_args": f"{BASE_CMDLINE} ember.run=/bin/snapstate"}),
             ("/vsock", {"guest_cid": 3, "uds_path": "v.sock"}),
             ("/drives/data", {"drive_id": "data", "path_on_host": "data.img",
                               "is_root_device": False, "is_read_only": True}),
             ("/actions", {"action_type": "InstanceStart"})]
    try:
        for path, body in calls:
            status, _, raw = curl(kvm, sock, "PUT", path, json.dumps(body))
            assert status == 204, (path, raw)
        vm.wait_for("snapstate: ready", WAIT)
        state, mem = snapshot(kvm, sock, d)
    finally:
        vm.stop()
    # A file the attacker wants the guest to read, outside any VMM's folder.
    secret = f"{folder(kvm, 'elsewhere')}/secret.img"
    ok(kvm, "sh", "-c", f"head -c 1048576 /dev/urandom > {secret}")
    return d, pathlib.Path(state), mem, orig, secret


def load(kvm, cwd, name, state, mem, **extra):
    """A fresh ember-vmm running in cwd loads the snapshot: (vm, status, body)."""
    sock = f"{cwd.rstrip('/')}/{name}.api"
    vm = spawn_api_vmm(kvm, sock, cwd=cwd)
    body = {"snapshot_path": str(state), "mem_backend": {"backend_type": "File",
            "backend_path": mem}, "resume_vm": True, **extra}
    status, parsed, raw = curl(kvm, sock, "PUT", "/snapshot/load", json.dumps(body))
    return vm, status, parsed


def refused(kvm, vm, status, body, *needles):
    try:
        assert status == 400, body
        for n in needles:
            assert n in body["fault_message"], body
        assert vm.wait(WAIT) == EXIT_CONFIG, vm.text
    finally:
        vm.stop()


def test_relative_paths_inside_the_folder_are_taken(kvm, snap):
    d, state, mem, orig, _ = snap
    cwd = folder(kvm, "same")
    ok(kvm, "ln", f"{orig}/data.img", f"{cwd}/data.img")  # the very file, another folder
    vm, status, body = load(kvm, cwd, "clone", state, mem)
    try:
        assert status == 204, body
        assert ask(kvm, f"{cwd}/v.sock", "get") == ["counter=0 file=base"]
    finally:
        vm.stop()


@pytest.mark.parametrize("how", ["absolute", "escaping"])
def test_edited_drive_path_cannot_reach_a_host_file(kvm, snap, how):
    d, state, mem, _, secret = snap
    cwd = folder(kvm, f"edited-{how}")
    depth = cwd.count("/")
    path = secret if how == "absolute" else "../" * depth + secret.lstrip("/")
    edited = d / f"state-{how}"
    edited.write_bytes(edit_conf(state.read_bytes(), path, file_id(kvm, secret)))
    vm, status, body = load(kvm, cwd, "clone", edited, mem)
    why = "is absolute" if how == "absolute" else "leads outside"
    refused(kvm, vm, status, body, "drive 'data': path_on_host", why,
            "cannot choose host files", "drive_overrides")


def test_edited_vsock_path_cannot_place_a_socket(kvm, snap):
    d, state, mem, _, _ = snap
    cwd = folder(kvm, "edited-vsock")
    ok(kvm, "ln", f"{snap[3]}/data.img", f"{cwd}/data.img")
    target = f"{folder(kvm, 'elsewhere')}/planted.sock"
    edited = d / "state-vsock"
    edited.write_bytes(edit_conf(state.read_bytes(), uds=target))
    vm, status, body = load(kvm, cwd, "clone", edited, mem)
    refused(kvm, vm, status, body, "vsock uds_path", "is absolute", "vsock_override")
    assert ok(kvm, "sh", "-c", f"test -e {target} && echo yes || echo no").strip() == "no"
    # The caller's vsock_override wins over whatever the state file says.
    over = f"{cwd}/mine.sock"
    vm, status, body = load(kvm, cwd, "clone2", edited, mem, vsock_override={"uds_path": over})
    try:
        assert status == 204, body
        assert ask(kvm, over, "get") == ["counter=0 file=base"]
    finally:
        vm.stop()


def test_ember_vmm_in_root_takes_no_state_file_path(kvm, snap):
    _, state, mem, _, _ = snap
    vm, status, body = load(kvm, "/", f"tmp/ember-snappaths-{os.getpid()}-root", state, mem)
    refused(kvm, vm, status, body, "would resolve from \"/\"")


def test_overrides_give_each_clone_its_own_socket(kvm, snap):
    """emberd's case: many clones of one snapshot at once, each told its socket
    (and its drive, by absolute path) by the load request."""
    _, state, mem, orig, _ = snap
    cwd = folder(kvm, "many")
    vms = []
    try:
        for i in range(3):
            vm, status, body = load(
                kvm, cwd, f"c{i}", state, mem,
                vsock_override={"uds_path": f"{cwd}/c{i}.sock"},
                drive_overrides=[{"drive_id": "data", "path_on_host": f"{orig}/data.img"}])
            vms.append(vm)
            assert status == 204, body
        for i in range(3):
            assert ask(kvm, f"{cwd}/c{i}.sock", *["inc"] * (i + 1))[-1] == \
                f"counter={i + 1} file=base{'+' * (i + 1)}"
    finally:
        for vm in vms:
            vm.stop()


def test_overrides_must_name_what_the_snapshot_has(kvm, snap):
    _, state, mem, orig, _ = snap
    cwd = folder(kvm, "unknown")
    vm, status, body = load(kvm, cwd, "clone", state, mem,
                            drive_overrides=[{"drive_id": "nodisk", "path_on_host": "/x"}])
    refused(kvm, vm, status, body, "drive_overrides[0]", "no drive 'nodisk'")
    # An override is the snapshot's very file: another one is refused as before.
    other = f"{cwd}/other.img"
    ok(kvm, "truncate", "-s", "1M", other)
    vm, status, body = load(kvm, cwd, "clone2", state, mem,
                            drive_overrides=[{"drive_id": "data", "path_on_host": other}])
    refused(kvm, vm, status, body, "drive data's file", "differs")
