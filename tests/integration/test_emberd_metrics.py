"""GET /metrics with real microVMs (issue 20): the counts emberd exposes match what
the clients saw, and Debian's `promtool check metrics` accepts the text.

emberd runs where ember-vmm runs (the testbox's L1 here); boto3 and promtool
stay on the host and read /metrics through the forwarded port."""
import json
import re
import subprocess
import urllib.request

from emberd_kvm import EmberdVm

PY_RT = "python3.12"
APP = b'''def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"n": event.get("n")}
'''


def scrape(e):
    with urllib.request.urlopen(e.endpoint + "/metrics", timeout=60) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    return text


def value(text, series):
    """The sample of one series (name{labels} exactly as written), or None."""
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_metrics_match_what_clients_saw(kvm):
    e = EmberdVm(kvm, extra=["--memory-budget", "1024", "--keep-warm", "600",
                             "--async-retry-base", "0.2"])
    try:
        name = "metered"
        lam = e.create(name, PY_RT, "app.handler", {"app.py": (APP, 0o644)})
        before = scrape(e)
        assert value(before, f'ember_invocations_total{{function="{name}",outcome="ok"}}') \
            is None
        seen = {"ok": 0, "function_error": 0, "throttled": 0}
        for n in range(5):
            r = lam.invoke(FunctionName=name, Payload=json.dumps({"n": n}))
            assert r["StatusCode"] == 200 and "FunctionError" not in r
            seen["ok"] += 1
        for n in range(2):
            r = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": True}))
            assert r["FunctionError"] == "Unhandled"
            seen["function_error"] += 1
        # Reserved concurrency 0: every invoke is a 429.
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        for _ in range(3):
            try:
                lam.invoke(FunctionName=name, Payload=b"{}")
                raise AssertionError("not throttled")
            except lam.exceptions.TooManyRequestsException:
                seen["throttled"] += 1
        lam.delete_function_concurrency(FunctionName=name)
        # One Event that succeeds: it runs on the loop after its 202.
        r = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 9}')
        assert r["StatusCode"] == 202
        e.proc.wait_for(f"event {r['ResponseMetadata']['RequestId']} ({name}): done", 300)
        seen["ok"] += 1
        text = scrape(e)
        print(text)
        for outcome, n in seen.items():
            got = value(text, f'ember_invocations_total{{function="{name}",outcome="{outcome}"}}')
            assert got == n, (outcome, got, n)
        assert value(text, f'ember_invocation_errors_total{{function="{name}"}}') == 2
        assert value(text, f'ember_throttles_total{{function="{name}"}}') == 3
        ran = seen["ok"] + seen["function_error"]
        assert value(text, f'ember_invocation_duration_seconds_count{{function="{name}"}}') \
            == ran
        starts = sum(value(text, f'ember_starts_total{{kind="{k}"}}')
                     for k in ("warm", "cold", "restore"))
        assert starts == ran
        assert value(text, 'ember_starts_total{kind="cold"}') >= 1
        assert value(text, 'ember_start_duration_seconds_count{kind="cold"}') >= 1
        assert value(text, "ember_snapshots_taken_total") == 1
        assert value(text, "ember_snapshot_fallbacks_total") == 0
        idle = value(text, f'ember_instances{{function="{name}",state="idle"}}')
        busy = value(text, f'ember_instances{{function="{name}",state="busy"}}')
        assert idle >= 1 and busy == 0
        assert value(text, "ember_memory_budget_bytes") == 1024 * 1048576
        assert value(text, "ember_memory_budget_used_bytes") >= idle * (128 + 16) * 1048576
        assert value(text, "ember_event_queue_depth") == 0
        assert value(text, "ember_event_oldest_age_seconds") == 0
        assert value(text, "ember_events_accepted_total") == 1
        assert value(text, "ember_events_succeeded_total") == 1
        assert value(text, "ember_failed_events_total") == 0
    finally:
        rc = e.stop()
        print(e.proc.text[-3000:])
    assert rc == 0


def test_deleted_snapshot_falls_back_and_is_counted(kvm):
    """A snapshot file deleted under a pool: the next start is a cold boot, the
    invoke succeeds, and /metrics counts the fallback."""
    e = EmberdVm(kvm, extra=["--memory-budget", "1024", "--keep-warm", "600"])
    try:
        name = "snap-gone"
        lam = e.create(name, PY_RT, "app.handler", {"app.py": (APP, 0o644)})
        assert lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["StatusCode"] == 200
        text = scrape(e)
        assert value(text, "ember_snapshots_taken_total") == 1
        rc, out = e.sh(f"ls {e.home}/snapshots/{name}/*/*/mem && "
                       f"rm {e.home}/snapshots/{name}/*/*/mem")
        assert rc == 0, out
        (inst, pid), = e.instances().items()
        e.kill(inst, pid)
        r = lam.invoke(FunctionName=name, Payload=b'{"n": 2}', LogType="Tail")
        assert r["StatusCode"] == 200 and "FunctionError" not in r
        assert json.loads(r["Payload"].read()) == {"n": 2}
        text = scrape(e)
        assert value(text, "ember_snapshot_fallbacks_total") == 1
        assert value(text, 'ember_starts_total{kind="cold"}') == 2
        assert value(text, 'ember_starts_total{kind="restore"}') == 0
    finally:
        rc = e.stop()
        print(e.proc.text[-3000:])
    assert rc == 0
