"""Draining with real microVMs (issue 20, and an issue 18 leftover): SIGTERM lets
running invocations (sync and Event) finish, keeps queued events on disk, and
exits 0; an update of $LATEST drains only $LATEST's instances, never a published
version's.

emberd runs in the testbox's L1; boto3 stays on the host. Waits are on log lines
(`ember logs --follow`, emberd's own output), each with a deadline."""
import base64
import http.client
import json
import threading

from emberd_kvm import LogFollower, reports
from test_emberd_async import PY_RT, AsyncEmberd, wait_count

SLEEPY_PY = b'''import os, time

calls = 0

def handler(event, context):
    global calls
    calls += 1
    print("sleeping", context.aws_request_id, flush=True)
    time.sleep(event.get("s", 0))
    return {"calls": calls, "x": os.environ.get("XV"), "id": context.aws_request_id}
'''
ARGS = ["--memory-budget", "1024", "--keep-warm", "600", "--async-concurrency", "1",
        "--drain-timeout", "300"]


def test_update_of_latest_keeps_published_versions_warm(kvm):
    e = AsyncEmberd(kvm, extra=ARGS)
    try:
        name = "versions-drain"
        lam = e.create(name, PY_RT, "app.handler", {"app.py": (SLEEPY_PY, 0o644)})
        assert lam.publish_version(FunctionName=name)["Version"] == "1"

        def invoke(qualifier, payload=None):
            r = lam.invoke(FunctionName=name, Qualifier=qualifier, LogType="Tail",
                           Payload=json.dumps(payload or {}))
            assert "FunctionError" not in r
            log = base64.b64decode(r["LogResult"]).decode(errors="replace")
            return json.loads(r["Payload"].read()), reports(log)[0]["start"]
        body, _ = invoke("1")
        body, start = invoke("1")
        assert body["calls"] == 2 and start == "warm"
        body, _ = invoke("$LATEST")
        assert body["x"] is None
        lam.update_function_configuration(FunctionName=name,
                                          Environment={"Variables": {"XV": "new"}})
        # $LATEST runs the new configuration on a new instance ...
        body, start = invoke("$LATEST")
        assert body["x"] == "new" and body["calls"] == 1 and start != "warm"
        # ... and version 1's instance was left alone: warm, its third call.
        body, start = invoke("1")
        assert body["calls"] == 3 and start == "warm" and body["x"] is None
    finally:
        rc = e.stop()
        print(e.proc.text[-3000:])
    assert rc == 0


def test_sigterm_lets_running_invocations_finish_and_keeps_the_queue(kvm):
    e = AsyncEmberd(kvm, extra=ARGS)
    home = e.home
    name = "drained"
    e.create(name, PY_RT, "app.handler", {"app.py": (SLEEPY_PY, 0o644)})
    logs = LogFollower(e, name)
    result = {}

    def sync_call():
        result["r"] = e.invoke(name, {"s": 4}, read_timeout=600)
    t = threading.Thread(target=sync_call)
    try:
        t.start()
        logs.wait_count("sleeping", 1, 300)
        # Three events: the dispatcher (one at a time) starts the first at once.
        # (the first sleeps long enough to keep the drain open for the checks below)
        ids = [e.event(name, {"s": 6})[1]] + [e.event(name, {"s": 1})[1] for _ in range(2)]
        e.proc.wait_for(f"POST /2015-03-31/functions/{name}/invocations -> 202 ({ids[2]})", 60)
        logs.wait_count(f"sleeping {ids[0]}", 1, 300)
        # A keep-alive connection opened before the SIGTERM ...
        conn = http.client.HTTPConnection("127.0.0.1", e.port, timeout=120)
        conn.request("GET", "/metrics")
        assert conn.getresponse().read() and True
        assert e.sh(f"kill -TERM $(cat {e.pidfile})")[0] == 0
        e.proc.wait_for("draining: no new requests or events", 60)
        # ... gets a 500 for its next request: emberd takes nothing new.
        conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=b"{}")
        refused = conn.getresponse()
        assert refused.status == 500
        assert refused.getheader("x-amzn-ErrorType", "").startswith("ServiceException")
        assert b"emberd is stopping" in refused.read()
        conn.close()
        rc = e.proc.wait(300)
        t.join(60)
    finally:
        logs.close()
    assert rc == 0, e.proc.text[-3000:]
    assert "drain: no invocation is running: exiting" in e.proc.text
    status, ferr, body, _, _ = result["r"]
    assert status == 200 and ferr is None and json.loads(body)["calls"] == 1
    assert f"event {ids[0]} ({name}): done" in e.proc.text
    assert f"event {ids[1]} ({name}): done" not in e.proc.text
    # The two that never started are still queued; a new emberd runs them.
    e2 = AsyncEmberd(kvm, extra=ARGS, home=home)
    try:
        assert "async: 2 events queued (0 were running" in e2.proc.text, e2.proc.text
        wait_count(e2.proc, rf"event ({ids[1]}|{ids[2]}) \({name}\): done", 2, 600)
    finally:
        rc = e2.stop()
    assert rc == 0
