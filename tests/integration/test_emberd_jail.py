"""emberd's instances in their jails (issue 19): every ember-vmm emberd starts runs
under ember-jailer unless --no-jail, with a uid of its own, no capabilities,
no_new_privs, its seccomp filters, and a cgroup whose memory limit is the
function's MemorySize plus a margin.

What is checked is what a host operator sees (/proc/<pid>/status, the cgroup's
files, the jail on disk, the snapshot files' owners and modes) and what a
Lambda user sees (results, start kinds, Lambda's error for an instance that
died). Timings in the testbox are emulated: the jailed against unjailed
restore times are printed, never asserted on."""
import json
import re
import statistics
import threading
import time

import pytest

from emberd_kvm import EmberdVm, c_bootstrap, reports

PY_RT, C_RT = "python3.12", "provided.al2023"
MIB = 1 << 20
UIDS = range(10001, 20000)  # emberd's default --jail-uids
GID = 10000
APP = b'''import os

def handler(event, context):
    if event.get("op") == "alloc":
        blob = b"\\x01" * (event["mib"] << 20)  # written, so every page is touched
        return {"len": len(blob)}
    return {"pid": os.getpid(), "uid": os.getuid()}
'''
FILES = {"app.py": (APP, 0o644)}


@pytest.fixture(scope="module")
def emberd(kvm):
    e = EmberdVm(kvm, extra=["--memory-budget", "8192", "--keep-warm", "600"])
    yield e
    rc = e.stop()
    print(e.proc.text)  # pytest shows it when a test failed
    assert rc == 0, e.proc.text[-4000:]


def ok(r):
    status, ferr, body, log, resp = r
    assert status == 200 and ferr is None, (body, log)
    return json.loads(body)


def new_instance(e, others):
    mine = {i: p for i, p in e.instances().items() if i not in others}
    assert len(mine) == 1, mine
    return next(iter(mine.items()))


def proc_status(e, pid):
    rc, out = e.sh(f"cat /proc/{pid}/status")
    assert rc == 0, out
    return {k: v.strip() for k, v in (l.split(":", 1) for l in out.splitlines() if ":" in l)}


def cgroup_of(e, pid):
    rc, out = e.sh(f"cat /proc/{pid}/cgroup")
    assert rc == 0 and out.startswith("0::/"), out  # cgroup v2 in L1
    return "/sys/fs/cgroup" + out.strip()[3:]


def read(e, path):
    rc, out = e.sh(f"cat {path}")
    assert rc == 0, (path, out)
    return out.strip()


def assert_confined(e, inst_id, pid, limit_mib):
    """The instance's VMM as the issue asks: unprivileged, filtered, limited."""
    st = proc_status(e, pid)
    uids = st["Uid"].split()
    assert len(set(uids)) == 1 and int(uids[0]) in UIDS, st["Uid"]
    assert st["Gid"].split() == [str(GID)] * 4, st["Gid"]
    assert st["Groups"] == "", st["Groups"]
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[cap], 16) == 0, (cap, st[cap])
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
    cg = cgroup_of(e, pid)
    assert cg.endswith("/" + inst_id), cg
    assert int(read(e, f"{cg}/memory.max")) == limit_mib * MIB
    assert read(e, f"{cg}/pids.max") == "64"
    # A CPU quota: its vCPU (one up to 1769 MB) and a quarter CPU for the VMM.
    assert read(e, f"{cg}/cpu.max") == "125000 100000"
    # Its root holds only its own files: nothing of the host, not emberd's home.
    view = f"/proc/{pid}/root"
    rc, top = e.sh(f"ls -A {view}")
    assert rc == 0 and {"runtime.img", "code.img", "vsock.sock", "api.sock"} <= \
        set(top.split()), top
    for host_path in (e.home, "/etc", "/usr/bin", "/proc/self"):
        assert e.sh(f"test -e {view}{host_path}")[0] == 1, host_path
    return int(uids[0]), cg


def test_jailed_function_serves_cold_and_restored(emberd):
    e = emberd
    e.create("jailed", PY_RT, "app.handler", FILES)
    others = set(e.instances())
    r = e.invoke("jailed", {})
    ok(r)
    assert reports(r[3])[0]["start"] == "init", r[3]
    inst, pid = new_instance(e, others)
    # MemorySize + 64 MiB, and MemorySize more for the snapshot's memory
    # file it wrote (charged to it; on L1's tmpfs for good).
    uid1, cg1 = assert_confined(e, inst, pid, 2 * 128 + 64)
    # The snapshot its first READY took: root's, read-only, readable by the VMs' group.
    e.proc.wait_for("SnapStart: jailed/", 300)
    assert "snapshot taken" in e.proc.text, e.proc.text[-3000:]
    rc, out = e.sh(f"stat -c '%u %g %a %h' {e.home}/snapshots/jailed/*/*/state "
                   f"{e.home}/snapshots/jailed/*/*/mem")
    assert rc == 0 and out.split("\n")[:2] == ["0 10000 440 1"] * 2, out
    # Its VMM dies: emberd removes the jail and the cgroup.
    e.kill(inst, pid)
    rc, out = e.sh(f"ls -A {e.home}/jail/ember-vmm; [ ! -e {cg1} ] || echo CGROUP")
    assert rc == 0 and out.strip() == "", out
    # The next instance restores the snapshot, in a jail of its own.
    others = set(e.instances())
    r = e.invoke("jailed", {})
    ok(r)
    assert reports(r[3])[0]["start"] == "restore", r[3]
    inst2, pid2 = new_instance(e, others)
    assert inst2 != inst
    assert_confined(e, inst2, pid2, 128 + 64)
    # A second one at the same time (the first is busy): another uid.
    others = set(e.instances())
    follow = []
    t = threading.Thread(target=lambda: follow.append(e.invoke("jailed", {})))
    t.start()
    r = e.invoke("jailed", {})
    t.join()
    ok(r), ok(follow[0])
    ids = {i: p for i, p in e.instances().items()}
    uids = {int(proc_status(e, p)["Uid"].split()[0]) for p in ids.values()}
    assert len(uids) == len(ids), (ids, uids)  # a uid per live instance
    # Every VMM runs one file: ember-vmm staged once, root's 0755, linked into
    # each jail by the jailer (so its pages are shared), not a copy in each.
    rc, out = e.sh("stat -L -c '%i %u %a' " + " ".join(f"/proc/{p}/exe" for p in ids.values())
                   + f" {e.home}/jail/files/*/ember-vmm")
    assert rc == 0 and len(set(out.splitlines())) == 1, out
    assert out.split()[1:3] == ["0", "755"], out


def netns_of(e, pid):
    rc, out = e.sh(f"stat -L -c %i /proc/{pid}/ns/net")
    assert rc == 0, out
    return int(out)


def netns_held_by_emberd(e):
    """The network namespaces emberd holds descriptors to, but its own: the
    ones it made ahead and has not handed out (api/pool/netns.c)."""
    # (ls says "No such file" of a descriptor closed while it lists them.)
    _, out = e.sh(f"ls -l /proc/$(cat {e.pidfile})/fd 2>/dev/null")
    return {int(m) for m in re.findall(r"net:\[(\d+)\]", out)} - {netns_of(e, 1)}


def test_each_vmm_gets_a_network_namespace_of_its_own_made_ahead(emberd):
    e = emberd
    e.create("netns", C_RT, "bootstrap", {"bootstrap": (c_bootstrap(), 0o755)})
    # emberd makes them while nothing waits (a thread of its own)...
    deadline = time.monotonic() + 60
    while len(ahead := netns_held_by_emberd(e)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(ahead) >= 2, f"emberd holds {len(ahead)} network namespace(s) made ahead"
    host = netns_of(e, 1)
    # ...and each VMM it spawns joins one of them: two at once, two namespaces.
    others = set(e.instances())
    done = []
    t = threading.Thread(target=lambda: done.append(e.invoke("netns", {})))
    t.start()
    ok(e.invoke("netns", {}))
    t.join()
    ok(done[0])
    mine = {i: p for i, p in e.instances().items() if i not in others}
    assert len(mine) == 2, mine
    spaces = {netns_of(e, p) for p in mine.values()}
    assert len(spaces) == 2 and host not in spaces, (spaces, host)
    assert spaces <= ahead, (spaces, ahead)
    # Handed out for good: emberd let go of each once its jailer had joined
    # it, so the VMM is all that is in it; nothing but a loopback device.
    assert not spaces & netns_held_by_emberd(e), spaces
    for pid in mine.values():
        rc, out = e.sh(f"nsenter --net=/proc/{pid}/ns/net ip -o link")
        assert rc == 0 and [l.split()[1] for l in out.splitlines()] == ["lo:"], out
    for i, p in mine.items():
        e.kill(i, p)


def test_vmm_over_its_memory_limit_is_killed_and_replaced(emberd):
    e = emberd
    e.create("hog", PY_RT, "app.handler", FILES, memory=256)
    others = set(e.instances())
    ok(e.invoke("hog", {}))  # cold, and snapshotted
    e.kill(*new_instance(e, others))  # (the template's cgroup holds the memory file)
    others = set(e.instances())
    r = e.invoke("hog", {})
    ok(r)
    assert reports(r[3])[0]["start"] == "restore", r[3]
    inst, pid = new_instance(e, others)
    assert_confined(e, inst, pid, 256 + 64)
    # The operator tightens its limit; the guest then touches more than that.
    cg = cgroup_of(e, pid)
    assert e.sh(f"echo {160 * MIB} > {cg}/memory.max")[0] == 0
    status, ferr, body, log, resp = e.invoke("hog", {"op": "alloc", "mib": 200})
    assert status == 200 and ferr == "Unhandled", body
    err = json.loads(body)
    assert err["errorType"] == "Runtime.ExitError", err
    assert "signal: killed" in err["errorMessage"], err
    assert "over its memory limit (its cgroup's memory.max, 160 MiB" in err["errorMessage"], err
    e.proc.wait_for(f"instance {inst} ended during an invocation", 60)  # emberd's log too
    assert "over its memory limit" in e.proc.text
    # Replaced: the next invocation gets a fresh instance (a restore).
    assert inst not in e.instances()
    r = e.invoke("hog", {})
    ok(r)
    assert reports(r[3])[0]["start"] in ("restore", "init"), r[3]


def restore_times(kvm, extra, n):
    """Init Duration of a cold start, and Restore Duration (spawn to READY) of n
    restores, of the provided example."""
    e = EmberdVm(kvm, extra=["--memory-budget", "8192", "--keep-warm", "0", *extra])
    try:
        e.create("clock", C_RT, "bootstrap", {"bootstrap": (c_bootstrap(), 0o755)})
        r = e.invoke("clock", {})  # cold: boots, snapshots
        ok(r)
        cold = reports(r[3])[0]["init"]
        e.proc.wait_for("SnapStart: clock/", 300)
        out = []
        for _ in range(n):
            r = e.invoke("clock", {})
            ok(r)
            rep = reports(r[3])[0]
            assert rep["start"] == "restore", r[3]
            out.append(rep["init"])
        return cold, out
    finally:
        rc = e.stop()
        assert rc == 0, e.proc.text[-3000:]


def test_jail_cost_on_a_restore(kvm):
    """Measured, not asserted (emulated time): jailed against --no-jail, one run."""
    n = 5
    cold_j, jailed = restore_times(kvm, [], n)
    cold_b, bare = restore_times(kvm, ["--no-jail"], n)
    print(f"\nrestore start through emberd ({kvm.where}), median of {n}: "
          f"jailed {statistics.median(jailed):.1f} ms {jailed}, "
          f"--no-jail {statistics.median(bare):.1f} ms {bare}; "
          f"one cold start: jailed {cold_j:.1f} ms, --no-jail {cold_b:.1f} ms")


def test_a_restarted_emberd_sweeps_the_jails_left_behind(kvm):
    e = EmberdVm(kvm, extra=["--keep-warm", "600", "--no-snapstart"])
    try:
        e.create("left", C_RT, "bootstrap", {"bootstrap": (c_bootstrap(), 0o755)})
        ok(e.invoke("left", {}))
        inst, pid = new_instance(e, set())
        cg = cgroup_of(e, pid)
        # emberd dies without cleaning up; its VM lives on in its jail.
        assert e.sh(f"kill -KILL $(cat {e.pidfile})")[0] == 0
        e.proc.wait(60)
        assert e.sh(f"test -d {cg} && test -d {e.home}/jail/ember-vmm/{inst}")[0] == 0
        alive = e.sh(f"grep -q '^State:.*[RSD]' /proc/{pid}/status")[0] == 0
    except BaseException:
        e.stop()
        raise
    # The next emberd of that home stops the VM and removes its jail and cgroup.
    e2 = EmberdVm(kvm, extra=["--home", e.home])
    try:
        if alive:
            assert f"stopping ember-vmm {pid}, left in its jail" in e2.proc.text, e2.proc.text
        rc, out = e2.sh(f"ls -A {e.home}/jail/ember-vmm; [ ! -e {cg} ] || echo CGROUP; "
                        f"[ ! -e /proc/{pid} ] || grep -q '^State:.*Z' /proc/{pid}/status || "
                        f"echo ALIVE")  # (a zombie until L1's init reaps it)
        assert rc == 0 and out.strip() == "", out
    finally:
        assert e2.stop() == 0
        e2.sh(f"rm -rf {e.home}")
