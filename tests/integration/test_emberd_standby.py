"""emberd's standby VMMs (api/pool/standby.c) on this host, with the stand-in VMM as
ember-vmm (no KVM needed): once a version's snapshot is stored, one VMM for its next
restore is spawned ahead; a restore takes it and a new one is spawned; it is not counted
in the memory budget; it goes with its snapshot, its version, its keep-warm TTL or its
own death, and never costs an invocation. The state is read from emberd's own answers
(GET /ember/status, X-Ember-Start-Phases, the REPORT line) and its debug log lines."""
import base64
import json
import os
import queue
import re
import signal
import time
import uuid

import pytest

from emberd_host import StandinEmberd, make_zip

APP = {"app.py": (b"def handler(e, c):\n    return e\n", 0o644)}
ON_STANDBY = r"instance (\w+): on standby for "


def start(tmp_path, *extra):
    e = StandinEmberd(extra=list(extra))
    e.level = "debug"
    e.runtimes = StandinEmberd.runtimes_dir(tmp_path)
    return e.start()


@pytest.fixture
def emberd(tmp_path):
    e = start(tmp_path)
    try:
        yield e
        assert e.stop() == 0, "emberd did not stop cleanly on SIGTERM"
    finally:
        e.cleanup()


def create(e, tmp_path):
    name = "standby-" + uuid.uuid4().hex[:8]
    z = tmp_path / f"{name}.zip"
    z.write_bytes(make_zip(APP))
    r = e.ember("create", name, "--runtime", "python3.12", "--handler", "app.handler",
                "--code", str(z))
    assert r.returncode == 0, r.stderr
    return name


def invoke(e, name):
    """One invocation: (its start phases header or None, its REPORT line)."""
    st, h, body = e.http("POST", f"/2015-03-31/functions/{name}/invocations", body=b'{"k": 1}',
                         headers={"X-Amz-Log-Type": "Tail"})
    assert st == 200 and json.loads(body) == {"k": 1}, (st, body)
    tail = base64.b64decode(h["x-amz-log-result"]).decode()
    return h.get("x-ember-start-phases"), re.search(r"REPORT RequestId:.*", tail).group(0)


def lines(e, pattern, n, timeout=30):
    """Waits until emberd has logged n lines matching pattern; their matches."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in map(rx.search, e.log) if m]
        if len(found) >= n:
            return found
        try:
            line = e.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"{n} x {pattern!r}: only {len(found)} in {timeout} s; "
                                 f"log: {''.join(e.log)}")
        assert line is not None, f"emberd exited; log: {''.join(e.log)}"
        e.log.append(line)


def pools(e, name):
    st, _, body = e.http("GET", "/ember/status")
    assert st == 200
    return [p for p in json.loads(body)["Pools"] if p["FunctionName"] == name]


def gone(e, inst_id, why):
    lines(e, rf"instance {inst_id} gone \({re.escape(why)}", 1)


def test_a_restore_takes_the_standby_and_another_one_waits(emberd, tmp_path):
    name = create(emberd, tmp_path)
    phases, report = invoke(emberd, name)
    assert phases.startswith("cold ") and "Init Duration" in report, (phases, report)
    first = lines(emberd, ON_STANDBY, 1)[0].group(1)
    # Only the idle cold instance counts in the budget, not the standby.
    [p] = pools(emberd, name)
    assert (p["Standby"], p["Idle"], p["MemoryMiB"]) == (1, 1, 128 + 16), p
    st, _, body = emberd.http("DELETE", f"/ember/functions/{name}/instances")
    assert st == 200 and json.loads(body)["Stopped"] == 1
    lines(emberd, r"instance \w+ gone \(stopped on request", 1)
    [p] = pools(emberd, name)
    assert (p["Standby"], p["Idle"], p["MemoryMiB"]) == (1, 0, 0), p
    # The restore runs on it: its spawn was done ahead, and its clock starts now.
    phases, report = invoke(emberd, name)
    assert phases.startswith("restore standby spawn=0.00 "), phases
    assert "Restore Duration" in report, report
    second = lines(emberd, ON_STANDBY, 2)[1].group(1)
    assert second != first
    [p] = pools(emberd, name)
    assert (p["Standby"], p["Idle"], p["MemoryMiB"]) == (1, 1, 128 + 16), p


def test_the_standby_goes_with_its_snapshot_and_its_version(emberd, tmp_path):
    name = create(emberd, tmp_path)
    invoke(emberd, name)
    sb = lines(emberd, ON_STANDBY, 1)[0].group(1)
    st, _, _ = emberd.http("DELETE", f"/ember/functions/{name}/instances?snapshot=drop")
    assert st == 200
    gone(emberd, sb, "its snapshot was deleted on request")
    assert [p["Standby"] for p in pools(emberd, name)] == [0]
    phases, _ = invoke(emberd, name)
    assert phases.startswith("cold "), phases
    sb = lines(emberd, ON_STANDBY, 2)[1].group(1)
    # A new configuration is a new version: the old one's standby stops, and
    # the next invocation is a cold start of the new one.
    r = emberd.ember("update", name, "--memory", "256")
    assert r.returncode == 0, r.stderr
    gone(emberd, sb, "its version was replaced")
    phases, _ = invoke(emberd, name)
    assert phases.startswith("cold "), phases


def test_a_dead_standby_costs_no_invocation(emberd, tmp_path):
    name = create(emberd, tmp_path)
    invoke(emberd, name)
    sb = lines(emberd, ON_STANDBY, 1)[0].group(1)
    emberd.http("DELETE", f"/ember/functions/{name}/instances")
    with open(os.path.join(emberd.home, "run", sb, "pid")) as f:
        os.kill(int(f.read()), signal.SIGKILL)
    gone(emberd, sb, "ember-vmm was killed by signal 9")
    lines(emberd, r"instance \w+ gone \(stopped on request", 1)
    assert [(p["Standby"], p["Idle"]) for p in pools(emberd, name)] == [(0, 0)]
    # Restored all the same, on a VMM spawned for it; then a standby again.
    phases, report = invoke(emberd, name)
    assert phases.startswith("restore spawn=") and "Restore Duration" in report, phases
    lines(emberd, ON_STANDBY, 2)


def test_a_standby_is_kept_as_long_as_an_idle_instance(tmp_path):
    e = start(tmp_path, "--keep-warm", "1")
    try:
        name = create(e, tmp_path)
        invoke(e, name)
        sb = lines(e, ON_STANDBY, 1)[0].group(1)
        gone(e, sb, "kept on standby long enough")
        assert [p["Standby"] for p in pools(e, name)] == [0]
        assert e.stop() == 0
    finally:
        e.cleanup()


def test_no_standby_spawns_each_restore_on_demand(tmp_path):
    e = start(tmp_path, "--no-standby")
    try:
        name = create(e, tmp_path)
        invoke(e, name)
        lines(e, r"SnapStart: \S+: snapshot taken", 1)
        st, _, body = e.http("DELETE", f"/ember/functions/{name}/instances")
        assert st == 200 and json.loads(body)["Stopped"] == 1
        lines(e, r"instance \w+ gone \(stopped on request", 1)
        assert [p["Standby"] for p in pools(e, name)] == [0]
        phases, report = invoke(e, name)
        spawn = float(re.search(r"spawn=([\d.]+)", phases).group(1))
        assert phases.startswith("restore spawn=") and spawn > 0, phases
        assert not any(re.search(ON_STANDBY, x) for x in e.log), e.log
        assert e.stop() == 0
    finally:
        e.cleanup()
