"""emberd's jail on a cgroup v1 host (issue 19), on this host itself.

The testbox's L1 mounts cgroup v2, so test_emberd_jail.py never meets v1; this
host has v1 (FACTS.md), where the memory limit lives in the memory
controller's own hierarchy under another name (memory.limit_in_bytes). A guest
cannot run here (PVM), so the VMM is the stand-in (tests/drivers/standin_vmm.c:
emberd's protocol with no guest); emberd, ember-jailer and the kernel's
cgroups are the real ones, and they are what this checks.
"""
import json
import os
import pathlib
import tempfile
import uuid

import pytest

from emberd_host import StandinEmberd, make_zip

V1 = "/sys/fs/cgroup"
MIB = 1 << 20
APP = {"app.py": (b"def handler(e, c):\n    return e\n", 0o644)}

pytestmark = pytest.mark.skipif(
    os.path.exists(f"{V1}/cgroup.controllers") or not os.path.isdir(f"{V1}/memory"),
    reason="this host's cgroups are v2: test_emberd_jail.py covers that in the testbox")


class JailedStandinEmberd(StandinEmberd):
    def argv(self):
        return [a for a in super().argv() if a != "--no-jail"] + ["--no-snapstart"]


@pytest.fixture
def emberd():
    e = JailedStandinEmberd()
    e.runtimes = StandinEmberd.runtimes_dir(pathlib.Path(tempfile.mkdtemp(prefix="ember-rt-")))
    e.start()
    try:
        yield e
    finally:
        e.stop()  # (SIGTERM: emberd stops its jailed VMMs; a kill would leave them)
        e.cleanup()


def read(path):
    with open(path) as f:
        return f.read().strip()


def test_jailed_instance_on_v1_has_its_memory_and_pids_limits(emberd, tmp_path):
    e = emberd
    z = tmp_path / "code.zip"
    z.write_bytes(make_zip(APP))
    name = "v1-" + uuid.uuid4().hex[:8]
    r = e.ember("create", name, "--runtime", "python3.12", "--handler", "app.handler",
                "--code", str(z), "--memory", "128")
    assert r.returncode == 0, r.stderr
    status, _, body = e.http("POST", f"/2015-03-31/functions/{name}/invocations",
                             body=b'{"v": 1}')
    assert status == 200 and json.loads(body) == {"v": 1}, (status, body, e.log)
    run = pathlib.Path(e.home, "run")
    (inst,) = [d for d in run.iterdir() if (d / "pid").exists()]
    pid = int((inst / "pid").read_text())
    groups = {}
    for line in read(f"/proc/{pid}/cgroup").splitlines():
        _, ctls, path = line.split(":", 2)
        for ctl in ctls.split(","):
            groups[ctl] = path
    for ctl in ("memory", "pids", "cpu"):
        assert groups.get(ctl, "").endswith("/" + inst.name), groups
    mem = f"{V1}/memory{groups['memory']}"
    # MemorySize and emberd's 64 MiB margin, in v1's file.
    assert int(read(f"{mem}/memory.limit_in_bytes")) == (128 + 64) * MIB
    assert read(f"{V1}/pids{groups['pids']}/pids.max") == "64"
    # Its one vCPU at full speed and a quarter of a CPU for the VMM's threads.
    cpu = f"{V1}/cpu{groups['cpu']}"
    assert (read(f"{cpu}/cpu.cfs_quota_us"), read(f"{cpu}/cpu.cfs_period_us")) == \
        ("125000", "100000")
    st = dict(l.split(":", 1) for l in read(f"/proc/{pid}/status").splitlines())
    assert int(st["Uid"].split()[0]) >= 10001 and int(st["CapEff"], 16) == 0, st
    assert os.stat(f"/proc/{pid}/ns/net").st_ino != os.stat("/proc/self/ns/net").st_ino
    # emberd stops its instances and removes their cgroups and its own, in
    # every hierarchy.
    assert e.stop() == 0, "".join(e.log)[-3000:]
    parent = os.path.dirname(groups["memory"])
    for ctl in ("memory", "pids", "cpu"):
        assert not os.path.exists(f"{V1}/{ctl}{parent}"), (ctl, parent)
