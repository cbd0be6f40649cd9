"""emberd's standby VMMs (api/pool/standby.c), with real microVMs (the testbox's L1
here): once a version's snapshot is stored, one jailed ember-vmm for its next restore
is spawned ahead; a restore takes it, and once that restore has served its first job
another is spawned; it is not counted in the memory budget; it goes with its snapshot,
its version, its keep-warm TTL or its own death, and never costs an invocation.

The state is read from what emberd says: GET /ember/status, X-Ember-Start-Phases, the
REPORT line and its debug log. The function is the provided example (a static C
bootstrap): the fastest start there is, so these tests stay short."""
import json
import re
import urllib.request

import pytest

from emberd_kvm import EmberdVm, c_bootstrap, reports
from test_emberd_async import wait_count

C_RT = "provided.al2023"
ON_STANDBY = r"instance (\w+): on standby for "
WAIT = 240  # a start in the testbox takes seconds; a deadline, not a timing


def start(kvm, *extra, standby=True):
    return EmberdVm(kvm, extra=["--memory-budget", "8192", "--keep-warm", "600", *extra],
                    standby=standby)


@pytest.fixture(scope="module")
def emberd(kvm):
    e = start(kvm)
    yield e
    rc = e.stop()
    print(e.proc.text)  # pytest shows it when a test failed
    assert rc == 0, e.proc.text[-4000:]


def create(e, name):
    e.create(name, C_RT, "hello", {"bootstrap": (c_bootstrap(), 0o755)})
    return name


def invoke(e, name):
    """One invocation: (its start phases header or None, its start kind from REPORT)."""
    status, ferr, body, log, resp = e.invoke(name, {"k": 1})
    assert status == 200 and ferr is None, (body, log)
    assert json.loads(body)["event"] == {"k": 1}, body
    return resp["ResponseMetadata"]["HTTPHeaders"].get("x-ember-start-phases"), \
        reports(log)[0]["start"]


def pool(e, name):
    [p] = [p for p in e.status()["Pools"] if p["FunctionName"] == name]
    return p


def stop_idle(e, name, drop=False):
    req = urllib.request.Request(f"{e.endpoint}/ember/functions/{name}/instances"
                                 + ("?snapshot=drop" if drop else ""), method="DELETE")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())["Stopped"]


def standbys(e, name, n):
    """The ids of the first n standbys of name's versions, once there are n."""
    return wait_count(e.proc, ON_STANDBY + re.escape(name) + "/", n, WAIT)


def gone(e, inst_id, why):
    wait_count(e.proc, rf"instance {inst_id} gone \({re.escape(why)}", 1, WAIT)


def test_a_restore_takes_the_standby_and_another_one_follows(emberd):
    name = create(emberd, "sb-take")
    phases, kind = invoke(emberd, name)
    assert phases.startswith("cold ") and kind == "init", phases
    first = standbys(emberd, name, 1)[0]
    # Only the idle cold instance counts in the budget, not the standby.
    p = pool(emberd, name)
    assert (p["Standby"], p["Idle"], p["MemoryMiB"]) == (1, 1, 128 + 16), p
    assert stop_idle(emberd, name) == 1
    wait_count(emberd.proc, r"instance \w+ gone \(stopped on request", 1, WAIT)
    p = pool(emberd, name)
    assert (p["Standby"], p["Idle"], p["MemoryMiB"]) == (1, 0, 0), p
    # The restore runs on it: its spawn was done ahead, and its clock starts
    # when it takes it.
    phases, kind = invoke(emberd, name)
    assert phases.startswith("restore standby spawn=0.00 ") and kind == "restore", phases
    # Its first job served, the next standby is spawned.
    second = standbys(emberd, name, 2)[1]
    assert second != first
    p = pool(emberd, name)
    assert (p["Standby"], p["Idle"], p["MemoryMiB"]) == (1, 1, 128 + 16), p


def test_the_standby_goes_with_its_snapshot_and_its_version(emberd):
    name = create(emberd, "sb-gone")
    invoke(emberd, name)
    sb = standbys(emberd, name, 1)[0]
    stop_idle(emberd, name, drop=True)
    gone(emberd, sb, "its snapshot was deleted on request")
    assert pool(emberd, name)["Standby"] == 0
    phases, _ = invoke(emberd, name)
    assert phases.startswith("cold "), phases
    sb = standbys(emberd, name, 2)[1]
    # A new configuration is a new version: the old one's standby stops, and
    # the next invocation is a cold start of the new one.
    r = emberd.ember("update", name, "--memory", "256")
    assert r.returncode == 0, r.stderr
    gone(emberd, sb, "its version was replaced")
    phases, _ = invoke(emberd, name)
    assert phases.startswith("cold "), phases


def test_a_dead_standby_costs_no_invocation(emberd):
    name = create(emberd, "sb-dead")
    invoke(emberd, name)
    sb = standbys(emberd, name, 1)[0]
    stop_idle(emberd, name)
    rc, pid = emberd.sh(f"cat {emberd.home}/run/{sb}/pid")
    assert rc == 0, pid
    emberd.kill(sb, int(pid))
    assert pool(emberd, name)["Standby"] == 0
    # Restored all the same, on a VMM spawned for it; then a standby again.
    phases, kind = invoke(emberd, name)
    assert phases.startswith("restore spawn=") and kind == "restore", phases
    standbys(emberd, name, 2)


def test_a_standby_is_kept_as_long_as_an_idle_instance(kvm):
    e = start(kvm, "--keep-warm", "2")
    try:
        name = create(e, "sb-ttl")
        invoke(e, name)
        sb = standbys(e, name, 1)[0]
        gone(e, sb, "kept on standby long enough")
        assert pool(e, name)["Standby"] == 0
    finally:
        rc = e.stop()
    assert rc == 0, e.proc.text[-4000:]


def test_no_standby_spawns_each_restore_on_demand(kvm):
    e = start(kvm, standby=False)
    try:
        name = create(e, "sb-none")
        invoke(e, name)
        wait_count(e.proc, r"SnapStart: \S+: snapshot taken", 1, WAIT)
        assert stop_idle(e, name) == 1
        wait_count(e.proc, r"instance \w+ gone \(stopped on request", 1, WAIT)
        assert pool(e, name)["Standby"] == 0
        phases, kind = invoke(e, name)
        spawn = float(re.search(r"spawn=([\d.]+)", phases).group(1))
        assert phases.startswith("restore spawn=") and spawn > 0 and kind == "restore", phases
        assert not re.search(ON_STANDBY, e.proc.text), e.proc.text[-3000:]
    finally:
        rc = e.stop()
    assert rc == 0, e.proc.text[-4000:]
