"""A memory file truncated under a running clone stops that VM cleanly (issue 19).

A restored VM's memory is its memory file, mapped MAP_PRIVATE: pages the
guest has not written are still the file's. When the file shrinks, those
pages are gone. The guest touching one makes KVM_RUN fail (EFAULT);
ember-vmm touching one (a device reading a ring) raises SIGBUS. Either way
the VM must stop with its own exit code (4) and a clear line, and never hang.
Each clone gets its own copy of the memory file (on the KVM host's own
filesystem), so truncating it harms nobody else.
"""
import os
import pathlib
import shutil

import pytest

from api_client import BUILD, CALL_TIMEOUT
from test_snapshot import CLIENT, PORT, WAIT, boot, load, local_dir, snapshot

EXIT_GUEST_MEMORY = 4


@pytest.fixture
def work(kvm, request):
    d = pathlib.Path(BUILD, "tests", "integration", "hostile-memory", request.node.name)
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    yield d


def own_copy(kvm, d, mem):
    """The clone's own memory file, on the KVM host's filesystem."""
    path = str(local_dir(kvm, d, "files") / "mem")
    assert kvm.run(["cp", "--sparse=always", mem, path], timeout=WAIT).returncode == 0
    return path


def truncate(kvm, path):
    p = kvm.run(["truncate", "-s", "0", path], timeout=CALL_TIMEOUT)
    assert p.returncode == 0, p.stderr


def test_guest_touching_a_truncated_memory_file(kvm, work):
    vm, sock = boot(kvm, work, "/bin/ticker")
    try:
        vm.wait_for("tick 5", WAIT)
        state, mem = snapshot(kvm, sock, work)
    finally:
        vm.stop()
    mem = own_copy(kvm, work, mem)
    clone, _, status, body = load(kvm, work, "clone", state, mem)
    try:
        assert status == 204, body
        clone.wait_for("tick", WAIT)
        # The guest runs on (its timer, its ticks): it touches a lost page soon.
        truncate(kvm, mem)
        assert clone.wait(WAIT) == EXIT_GUEST_MEMORY, clone.text[-3000:]
        assert "guest memory cannot be read" in clone.text, clone.text[-3000:]
        assert "was truncated while this VM ran" in clone.text, clone.text[-3000:]
    finally:
        clone.stop()


def test_vmm_touching_a_truncated_memory_file(kvm, work):
    """Loaded paused, no vCPU runs: the vsock device is the one that reads a
    lost page (its rings), on a host connection; SIGBUS must stop the VM."""
    vm, sock = boot(kvm, work, "/bin/snapstate", vsock=True)
    try:
        vm.wait_for("snapstate: ready", WAIT)
        state, mem = snapshot(kvm, sock, work)
    finally:
        vm.stop()
    mem = own_copy(kvm, work, mem)
    clone, _, status, body = load(kvm, work, "clone", state, mem, resume=False)
    try:
        assert status == 204, body
        truncate(kvm, mem)
        uds = f"/tmp/ember-snap-{os.getpid()}-{work.name}/clone/v.sock"
        # The connection cannot succeed: the VM stops under it.
        kvm.run(["python3", CLIENT, "lines", uds, str(PORT), "get"], timeout=WAIT)
        assert clone.wait(WAIT) == EXIT_GUEST_MEMORY, clone.text[-3000:]
        assert "ember-vmm touched" in clone.text, clone.text[-3000:]
        assert "was truncated while this VM ran" in clone.text, clone.text[-3000:]
    finally:
        clone.stop()
