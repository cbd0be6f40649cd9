"""ember-jailer on a cgroup v1 host (issue 19), on this host itself.

The testbox's L1 mounts cgroup v2, so the jail tests there never reach the
jailer's v1 path; this host has v1 (FACTS.md). No guest runs: ember-vmm waits
on its API socket, as emberd's standby VMMs do, which this host's KVM (PVM)
allows. What is checked is what a host operator sees: the VMM's cgroups, their
limits and tasks, its /proc status, and its API answering through the jail.
"""
import os
import shutil
import subprocess
import time

import pytest

from api_client import BUILD

JAILER = os.path.join(BUILD, "bin", "ember-jailer")
VMM = os.path.join(BUILD, "bin", "ember-vmm")
V1 = "/sys/fs/cgroup"
UID = 10998
PARENT = f"ember-v1-test-{os.getpid()}"

pytestmark = pytest.mark.skipif(
    os.path.exists(f"{V1}/cgroup.controllers") or not os.path.isdir(f"{V1}/pids"),
    reason="this host's cgroups are v2: the testbox's jail tests cover that")


@pytest.fixture
def jailed():
    """ember-jailer --id v1 ... -- --api-sock /api.sock, until the API listens."""
    base = f"/tmp/{PARENT}"
    os.makedirs(base, exist_ok=True)
    argv = [JAILER, "--id", "v1", "--exec-file", VMM, "--uid", str(UID), "--gid", str(UID),
            "--chroot-base-dir", base, "--parent-cgroup", PARENT, "--guest-mem-mib", "128",
            "--cgroup", "pids.max=40", "--", "--api-sock", "/api.sock"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    err = ""
    try:
        line = p.stderr.readline()  # ember-vmm's first line: its API listens
        err = line
        assert "API listening on /api.sock" in line, (line, p.poll())
        yield p, f"{base}/ember-vmm/v1/root"
    finally:
        p.kill()
        p.wait()
        err += p.stderr.read()
        p.stderr.close()
        for ctl in os.listdir(V1):
            for d in (f"{V1}/{ctl}/{PARENT}/v1", f"{V1}/{ctl}/{PARENT}"):
                deadline = time.monotonic() + 10
                while os.path.isdir(d):
                    try:
                        os.rmdir(d)
                    except OSError:  # (busy until the killed VMM is gone)
                        assert time.monotonic() < deadline, (d, err)
                        time.sleep(0.05)
        shutil.rmtree(base, ignore_errors=True)


def read(path):
    with open(path) as f:
        return f.read().strip()


def test_jailed_vmm_is_in_each_v1_controllers_cgroup_with_its_limits(jailed):
    p, root = jailed
    # The jailer became the VMM (one exec after another, one process).
    assert os.readlink(f"/proc/{p.pid}/exe").endswith("/ember-vmm")
    groups = {}
    for line in read(f"/proc/{p.pid}/cgroup").splitlines():
        _, ctls, path = line.split(":", 2)
        for ctl in ctls.split(","):
            groups[ctl] = path
    want = f"/{PARENT}/v1"
    assert groups.get("pids") == want and groups.get("memory") == want, groups
    assert read(f"{V1}/pids{want}/pids.max") == "40"
    # --guest-mem-mib 128 and the jailer's stated margin, in v1's file.
    assert int(read(f"{V1}/memory{want}/memory.limit_in_bytes")) > 128 << 20
    # Joined through `tasks`, which moves one thread: the jailer had only
    # one, and every thread the VMM started since was born inside.
    threads = {int(t) for t in os.listdir(f"/proc/{p.pid}/task")}
    for ctl in ("pids", "memory"):
        assert {int(t) for t in read(f"{V1}/{ctl}{want}/tasks").split()} == threads, ctl
        assert read(f"{V1}/{ctl}{want}/cgroup.procs").split() == [str(p.pid)], ctl
    st = dict(l.split(":", 1) for l in read(f"/proc/{p.pid}/status").splitlines())
    assert st["Uid"].split() == [str(UID)] * 4, st["Uid"]
    assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0, st
    # (Its seccomp filters come with the VM, before the guest's first
    # instruction: test_jail.py checks them where a guest can run.)
    assert st["NoNewPrivs"].strip() == "1", st
    # Its API answers through the jail's socket.
    out = subprocess.run(["curl", "-sS", "--unix-socket", f"{root}/api.sock",
                          "http://localhost/"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and '"state"' in out.stdout, (out.stdout, out.stderr)
