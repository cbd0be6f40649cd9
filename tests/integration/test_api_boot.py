"""Firecracker's control API driving a real guest (issue 6).

ember-vmm runs where KVM is (the testbox here), and so does the client: plain
curl --unix-socket, as in Firecracker's getting-started guide. The guest runs
tests/guests/ticker ("tick N" every 20 ms), so a pause and a resume are
visible on the console. Every wait is on an event (a console line, an exit),
except where a test checks that something does NOT happen: then it reads
what arrives over a stated interval (Spawned.seen_within) and says why the
interval is long enough.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from api_client import (BUILD, CALL_TIMEOUT, VMM, check_example, curl, doc_examples,
                        spawn_api_vmm)
from guest import BASE_CMDLINE, INITRAMFS, REPO, VMLINUX

BOOT_TIMEOUT = 120
CLIENT = os.path.join(REPO, "tests", "integration", "vsock_client.py")
# A port the ticker guest does not listen on: its kernel answers a connection
# request with a reset, which ember-vmm passes on as EOF.
PROBE_PORT = 5000
# How long a paused VM must stay silent. A running guest answers the probe in
# one round trip (measured first, as a control); the interval is at least 4 of
# those, so a VM that kept running would be caught, and a paused VM is silent
# however long we wait: the bound costs time, never correctness.
QUIET_MIN_S = 10
TICKER_ARGS = f"{BASE_CMDLINE} ember.run=/bin/ticker"
# The boot_args of Firecracker's getting-started guide: no quiet, and none of
# the i8042.* flags (devices/i8042.h answers Linux's probes without them).
FC_BOOT_ARGS = "console=ttyS0 reboot=k panic=1 pci=off"


def ticks(text):
    return [int(n) for n in re.findall(r"^tick (\d+)\s*$", text, re.M)]


@pytest.fixture
def scratch(kvm, request):
    """A directory in the checkout (which L1 shares) and an L1-local socket path."""
    work = pathlib.Path(BUILD, "tests", "integration", "api_boot", request.node.name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sock = f"/tmp/ember-api-{os.getpid()}-{request.node.name}.sock"
    yield work, sock
    kvm.run(["rm", "-f", sock, sock + ".vsock"], timeout=CALL_TIMEOUT)


def probe(kvm, vsock_uds):
    """A vsock connection request the guest's kernel must answer (vsock_client probe)."""
    p = kvm.spawn(["python3", CLIENT, "probe", vsock_uds, str(PROBE_PORT)])
    p.wait_for("probe: sent", CALL_TIMEOUT)
    return p


def rootfs_image(tmp_path):
    img = tmp_path / "rootfs.ext4"
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img), "8M"], check=True)
    return str(img)


@pytest.mark.quick
def test_getting_started_with_curl(kvm, scratch):
    """Firecracker's getting-started sequence, then pause, resume and Ctrl-Alt-Del."""
    tmp_path, sock = scratch
    vsock_uds = sock + ".vsock"  # on the KVM host's /tmp: the share cannot hold sockets
    vm = spawn_api_vmm(kvm, sock)
    probes = []
    try:
        ok = [
            ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 128}),
            ("PUT", "/vsock", {"guest_cid": 3, "uds_path": vsock_uds}),
            ("PUT", "/boot-source", {"kernel_image_path": VMLINUX, "initrd_path": INITRAMFS,
                                     "boot_args": TICKER_ARGS}),
            ("PUT", "/drives/rootfs", {"drive_id": "rootfs",
                                       "path_on_host": rootfs_image(tmp_path),
                                       "is_root_device": True, "is_read_only": False}),
            ("PUT", "/metrics", {"metrics_path": str(tmp_path / "metrics.json")}),
            ("PUT", "/actions", {"action_type": "InstanceStart"}),
        ]
        for method, path, body in ok:
            status, parsed, raw = curl(kvm, sock, method, path, json.dumps(body))
            assert status == 204, (path, status, raw)
        vm.wait_for("tick 5", BOOT_TIMEOUT)
        assert curl(kvm, sock, "GET", "/")[1]["state"] == "Running"

        # The documented post-boot behaviour, example by example (pause included).
        for method, path, body, status, expected in doc_examples("running", {}):
            check_example(curl(kvm, sock, method, path, body), status, expected)

        # Paused means the guest does not run at all. Control: while it runs, its
        # kernel answers a vsock connection request at once.
        start = time.monotonic()
        probes.append(probe(kvm, vsock_uds))
        probes[-1].wait_for("probe: answered EOF", BOOT_TIMEOUT)
        quiet = max(QUIET_MIN_S, 4 * (time.monotonic() - start))

        assert curl(kvm, sock, "PATCH", "/vm", '{"state": "Paused"}')[0] == 204
        assert curl(kvm, sock, "GET", "/")[1]["state"] == "Paused"
        # The same request now goes unanswered, however long it waits...
        probes.append(probe(kvm, vsock_uds))
        assert not probes[-1].seen_within("probe: answered", quiet), \
            f"the paused guest answered a vsock request: {probes[-1].text!r}"
        # ... and the console stops: what the guest printed before the pause has
        # arrived by now (ember-vmm flushed it before answering the PATCH), and
        # nothing comes after it while API calls go on.
        frozen = max(ticks(vm.drain()))
        for _ in range(3):
            assert curl(kvm, sock, "GET", "/vm/config")[0] == 200
        assert not vm.seen_within(f"tick {frozen + 1}", quiet) and \
            max(ticks(vm.text)) == frozen, f"the guest ran while paused: {vm.text[-300:]!r}"

        # Resumed: the pending request is answered, and the ticks go on.
        assert curl(kvm, sock, "PATCH", "/vm", '{"state": "Resumed"}')[0] == 204
        probes[-1].wait_for("probe: answered EOF", BOOT_TIMEOUT)
        vm.wait_for(f"tick {frozen + 5}", BOOT_TIMEOUT)

        # Metrics carry the VM's counters.
        assert curl(kvm, sock, "PUT", "/actions", '{"action_type": "FlushMetrics"}')[0] == 204
        line = json.loads((tmp_path / "metrics.json").read_text().splitlines()[-1])
        assert line["vcpu"]["exits"] > 0 and line["boot_time_us"] > 0, line
        assert line["block"]["rootfs"]["read_ops"] > 0, line
        assert line["api_requests"]["PATCH /vm"] >= 4, line

        # PATCH /drives: a new backing file, and the guest sees its size.
        vm.wait_for("ticker: vda size 8388608", BOOT_TIMEOUT)
        bigger = tmp_path / "bigger.img"
        with open(bigger, "wb") as f:
            f.truncate(16 << 20)
        patch = {"drive_id": "rootfs", "path_on_host": str(bigger)}
        assert curl(kvm, sock, "PATCH", "/drives/rootfs", json.dumps(patch))[0] == 204
        vm.wait_for("ticker: vda size 16777216", BOOT_TIMEOUT)
        drives = curl(kvm, sock, "GET", "/vm/config")[1]["drives"]
        assert drives[0]["path_on_host"] == str(bigger)
        patch["path_on_host"] = str(tmp_path / "missing.img")
        status, body, _ = curl(kvm, sock, "PATCH", "/drives/rootfs", json.dumps(patch))
        assert status == 400 and "missing.img" in body["fault_message"], body

        assert curl(kvm, sock, "PUT", "/actions", '{"action_type": "SendCtrlAltDel"}')[0] == 204
        assert vm.wait(BOOT_TIMEOUT) == 0, vm.text
    except BaseException:
        # A failed API call alone does not say why ember-vmm went away.
        print("ember-vmm's output:\n" + vm.text)
        raise
    finally:
        for p in probes:
            p.stop()
        vm.stop()
    # The final flush on exit appended one more line.
    assert len((tmp_path / "metrics.json").read_text().splitlines()) >= 2


def test_config_file_boots_like_the_api(kvm, scratch):
    """The same configuration through --config-file (no API) and through the API."""
    tmp_path, sock = scratch
    args = f"{BASE_CMDLINE} ember.probe=1"
    cfg = {"boot-source": {"kernel_image_path": VMLINUX, "initrd_path": INITRAMFS,
                           "boot_args": args},
           "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
           "drives": [{"drive_id": "rootfs", "path_on_host": rootfs_image(tmp_path),
                       "is_root_device": False, "is_read_only": True}],
           "entropy": {}}
    path = tmp_path / "vm.json"
    path.write_text(json.dumps(cfg))
    by_file = kvm.run([VMM, "--config-file", str(path), "--no-api"], timeout=BOOT_TIMEOUT)
    assert by_file.returncode == 0, by_file.stderr

    vm = spawn_api_vmm(kvm, sock)
    try:
        for section in ("machine-config", "boot-source"):
            assert curl(kvm, sock, "PUT", f"/{section}", json.dumps(cfg[section]))[0] == 204
        assert curl(kvm, sock, "PUT", "/drives/rootfs", json.dumps(cfg["drives"][0]))[0] == 204
        assert curl(kvm, sock, "PUT", "/entropy", "{}")[0] == 204
        got = curl(kvm, sock, "GET", "/vm/config")[1]
        assert curl(kvm, sock, "PUT", "/actions", '{"action_type": "InstanceStart"}')[0] == 204
        assert vm.wait(BOOT_TIMEOUT) == 0, vm.text
    finally:
        vm.stop()
    # GET /vm/config shows what the file said (plus the defaults it left out).
    assert got["machine-config"].items() >= cfg["machine-config"].items()
    assert got["boot-source"] == cfg["boot-source"]
    assert [d.items() >= c.items() for d, c in zip(got["drives"], cfg["drives"])] == [True]
    probe = r"^(cpus|mem_kb|kernel)=(\S+)"
    assert re.findall(probe, by_file.stdout, re.M) == re.findall(probe, vm.text, re.M), \
        (by_file.stdout, vm.text)
    assert re.findall(probe, vm.text, re.M)


def test_firecracker_boot_args_reach_init_and_ctrl_alt_del(kvm, scratch):
    """Firecracker's usual boot_args: the guest's i8042 driver finds the keyboard and the
    mouse port, ember-init runs, and SendCtrlAltDel reboots the guest (exit 0)."""
    tmp_path, sock = scratch
    # noxsave: the testbox's emulated SVM does not intercept XSETBV (FACTS.md).
    quirks = " noxsave" if kvm.where == "testbox" else ""
    vm = spawn_api_vmm(kvm, sock)
    try:
        for method, path, body in [
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
            ("PUT", "/boot-source", {"kernel_image_path": VMLINUX, "initrd_path": INITRAMFS,
                                     "boot_args": f"{FC_BOOT_ARGS}{quirks} ember.run=/bin/ticker"}),
            ("PUT", "/actions", {"action_type": "InstanceStart"}),
        ]:
            status, _, raw = curl(kvm, sock, method, path, json.dumps(body))
            assert status == 204, (path, status, raw)
        vm.wait_for("ember-init: up", BOOT_TIMEOUT)
        vm.wait_for("tick 1", BOOT_TIMEOUT)
        # Linux probed both ports (no "i8042.noaux") and bound atkbd (no
        # "i8042.dumbkbd"): the keyboard that Ctrl-Alt-Del is typed on.
        vm.wait_for("serio: i8042 AUX port at 0x60,0x64 irq 12", BOOT_TIMEOUT)
        vm.wait_for("input: AT Translated Set 2 keyboard", BOOT_TIMEOUT)
        assert "Detected active multiplexing controller" not in vm.text
        # No metrics file was configured: a flush is a no-op, as in Firecracker.
        status, _, raw = curl(kvm, sock, "PUT", "/actions", '{"action_type": "FlushMetrics"}')
        assert status == 204, raw
        status, _, raw = curl(kvm, sock, "PUT", "/actions", '{"action_type": "SendCtrlAltDel"}')
        assert status == 204, raw
        assert vm.wait(BOOT_TIMEOUT) == 0, vm.text
        # The guest rebooted itself (reboot=k: the i8042 reset), not a crash or a kill.
        assert "reboot: Restarting system" in vm.text, vm.text[-2000:]
    except BaseException:
        print("ember-vmm's output:\n" + vm.text)
        raise
    finally:
        vm.stop()
