"""Event invocations with real microVMs (issue 20): emberd runs where ember-vmm runs
(the testbox's L1 here); boto3 and `ember` stay on the host.

What is checked is what a Lambda user relies on: a 202 means the event runs (or
is recorded as failed); a function that always fails runs exactly three times
(Lambda's two retries) and then sits in the failed record with its error, and
`ember replay` runs it again; the request id is the same in every attempt; and a
SIGKILL of emberd while 100 events run loses none of them.

Retries are shortened with --async-retry-base (Lambda waits about 1 and 2
minutes). Every wait is on an event with a deadline: emberd's own log lines
(it runs with --log-level debug) and the function's log."""
import json
import queue
import re
import time

import pytest

from emberd_kvm import EmberdVm, LogFollower

PY_RT = "python3.12"
FAIL_PY = b'''def handler(event, context):
    print("attempt of", context.aws_request_id, flush=True)
    raise ValueError("always fails: %s" % event.get("n"))
'''
ASYNC_ARGS = ["--memory-budget", "1024", "--keep-warm", "30", "--async-retry-base", "0.2",
              "--async-concurrency", "4"]


class AsyncEmberd(EmberdVm):
    """EmberdVm with a chosen home, so that a second emberd finds the first one's
    state (EmberdVm makes a fresh one unless told)."""

    def __init__(self, kvm, extra=(), home=None):
        super().__init__(kvm, extra, home=home)

    def sigkill(self):
        assert self.sh(f"kill -KILL $(cat {self.pidfile})")[0] == 0
        self.proc.wait(60)

    def event(self, name, payload):
        """An Event invoke: (status, request id)."""
        r = self.boto3().invoke(FunctionName=name, InvocationType="Event",
                                Payload=json.dumps(payload))
        return r["StatusCode"], r["ResponseMetadata"]["RequestId"]

    def failed(self, name):
        r = self.ember("--json", "failed", name)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["FailedEvents"]


def wait_count(proc, pattern, n, timeout):
    """Waits until emberd's output holds n matches of pattern; returns them."""
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    proc.drain()
    while len(rx.findall(proc.text)) < n:
        left = deadline - time.monotonic()
        try:
            # Blocks until emberd writes more (or the deadline).
            chunk = proc.chunks.get(timeout=max(0, left))
        except queue.Empty:
            chunk = b""
        if chunk is None:
            proc.chunks.put(None)
            raise AssertionError(f"emberd exited: {proc.text[-3000:]}")
        proc.text += chunk.decode(errors="replace")
        if not chunk and time.monotonic() >= deadline:
            raise AssertionError(f"{len(rx.findall(proc.text))} of {n} {pattern!r} in "
                                 f"{timeout}s: {proc.text[-3000:]}")
    return rx.findall(proc.text)


@pytest.fixture(scope="module")
def emberd(kvm):
    e = AsyncEmberd(kvm, extra=ASYNC_ARGS)
    yield e
    rc = e.stop()
    print(e.proc.text)
    assert rc == 0, e.proc.text[-4000:]


def test_always_failing_event_runs_three_times_then_is_recorded_and_replays(emberd):
    name = "async-fails"
    emberd.create(name, PY_RT, "app.handler", {"app.py": (FAIL_PY, 0o644)})
    logs = LogFollower(emberd, name)
    try:
        status, rid = emberd.event(name, {"n": 7})
        assert status == 202
        emberd.proc.wait_for(f"event {rid} ({name}:$LATEST): RetriesExhausted after 3 "
                             "attempts: failed", 600)
        # Exactly three attempts, all with the request id the 202 carried.
        logs.wait_count(f"REPORT RequestId: {rid}", 3, 120)
        text = "".join(line for line in logs.lines if line)
        assert text.count(f"START RequestId: {rid}") == 3, text
        assert text.count(f"attempt of {rid}") == 3, text
        assert len(re.findall(r"START RequestId: ", text)) == 3, text
        # The failed record: the API (ember failed) and the JSON-lines file.
        (rec,) = emberd.failed(name)
        assert rec["requestId"] == rid and rec["attempts"] == 3
        assert rec["condition"] == "RetriesExhausted"
        assert rec["errorType"] == "ValueError", rec
        assert rec["errorMessage"] == "always fails: 7", rec
        assert rec["requestPayload"] == {"n": 7}
        rc, out = emberd.sh(f"cat {emberd.home}/failed/{name}/events.jsonl")
        assert rc == 0
        (line,) = out.splitlines()
        assert json.loads(line) == rec
        table = emberd.ember("failed", name)
        assert table.returncode == 0 and rid in table.stdout and "ValueError" in table.stdout
        # Replay: it runs again (three more attempts, same id) and lands again.
        r = emberd.ember("replay", name, str(rec["id"]))
        assert r.returncode == 0, r.stderr
        assert rid in r.stdout
        assert emberd.failed(name) == []
        logs.wait_count(f"REPORT RequestId: {rid}", 6, 600)
        emberd.proc.wait_for(f"event {rid} ({name}): replayed", 10)
        wait_count(emberd.proc, re.escape(f"event {rid} ({name}:$LATEST): RetriesExhausted"),
                   2, 600)
        (again,) = emberd.failed(name)
        assert again["requestId"] == rid and again["attempts"] == 3
        assert emberd.ember("replay", name, "999999").returncode == 1
    finally:
        logs.close()


def test_event_invoke_config_limits_retries(emberd):
    name = "async-fails-once"
    lam = emberd.create(name, PY_RT, "app.handler", {"app.py": (FAIL_PY, 0o644)})
    cfg = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                               MaximumEventAgeInSeconds=3600)
    assert cfg["MaximumRetryAttempts"] == 0 and cfg["MaximumEventAgeInSeconds"] == 3600
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumRetryAttempts"] == 0 and got["FunctionArn"].endswith(f":{name}:$LATEST")
    status, rid = emberd.event(name, {"n": 1})
    assert status == 202
    emberd.proc.wait_for(f"event {rid} ({name}:$LATEST): RetriesExhausted after 1 attempts", 600)
    (rec,) = emberd.failed(name)
    assert rec["attempts"] == 1 and rec["requestId"] == rid
    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_event_invoke_config(FunctionName=name)


def test_event_payload_limit(emberd):
    name = "async-fails"
    lam = emberd.boto3()
    with pytest.raises(lam.exceptions.ClientError) as ei:
        lam.invoke(FunctionName=name, InvocationType="Event",
                   Payload=b'"' + b"a" * (1 << 20) + b'"')
    assert ei.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


SLEEP_PY = b'''import time

def handler(event, context):
    print("sleeping", context.aws_request_id, flush=True)
    time.sleep(event["s"])
    return "slept"
'''


def test_event_whose_vm_dies_mid_run_runs_again(emberd):
    """An ember-vmm killed while it runs an event: that attempt fails (the VM
    died), the event is retried with the same request id on a new instance, and
    it completes; nothing lands in the failed record."""
    name = "async-killed"
    emberd.create(name, PY_RT, "app.handler", {"app.py": (SLEEP_PY, 0o644)})
    before = set(emberd.instances())
    logs = LogFollower(emberd, name)
    try:
        status, rid = emberd.event(name, {"s": 5})
        assert status == 202
        logs.wait_count(f"sleeping {rid}", 1, 300)
        mine = {i: p for i, p in emberd.instances().items() if i not in before}
        assert len(mine) == 1, mine
        emberd.kill(*next(iter(mine.items())))
        emberd.proc.wait_for(f"event {rid} ({name}): attempt 1 failed (Runtime.ExitError)", 120)
        emberd.proc.wait_for(f"event {rid} ({name}): done", 600)
        logs.wait_count(f"REPORT RequestId: {rid}", 2, 60)
        text = "".join(line for line in logs.lines if line)
        assert text.count(f"START RequestId: {rid}") == 2, text
        assert emberd.failed(name) == []
    finally:
        logs.close()
