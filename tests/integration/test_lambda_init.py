"""ember-init's Lambda mode in real guests (issue 7, guest half).

Helpers (Vm, gproto-drive, images) are in lambda_guest.py.

The guest boots with ember.lambda=1, a runtime image on /dev/vda and a code
image on /dev/vdb, both erofs images built here from files the test controls:
the root is busybox-static (never host libraries), the code is the static
bootstrap tests/guests/lambda_fn.c (its behaviour is picked by _HANDLER, see
that file). The host side is build/bin/gproto-drive, run where ember-vmm runs
(in the testbox, an L1 path); it prints each guest frame as a JSON line.
Every wait is on an event (a console line, a frame) with a deadline.
"""
import json
import os
import shutil

import pytest

from conftest import skip_here_fail_in_ci
from lambda_guest import FN, PROVIDED, WORK, Vm, body, code_image, mkfs, of

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "cat", "echo", "ls", "id", "mktemp", "grep", "cut", "tr", "sed", "head")

_images = {}


def busybox_root():
    """A runtime image: busybox and the mount points ember-init needs."""
    if "root" not in _images:
        if not os.path.exists(BUSYBOX) or shutil.which("mkfs.erofs") is None:
            skip_here_fail_in_ci("needs /bin/busybox (busybox-static) and mkfs.erofs "
                                 "(erofs-utils)")
        d = os.path.join(WORK, "root")
        shutil.rmtree(d, ignore_errors=True)
        for sub in ("bin", "var/task", "var/runtime", "tmp", "proc", "dev", "opt"):
            os.makedirs(os.path.join(d, sub))
        shutil.copy(BUSYBOX, os.path.join(d, "bin", "busybox"))
        for a in APPLETS:
            os.symlink("busybox", os.path.join(d, "bin", a))
        _images["root"] = mkfs(d, os.path.join(WORK, "root.erofs"))
    return _images["root"]


def fn_code():
    if "fn" not in _images:
        with open(FN, "rb") as f:
            _images["fn"] = code_image("fn", {"bootstrap": (f.read(), 0o755)})
    return _images["fn"]


@pytest.fixture(scope="module")
def multi_vm(kvm):
    vm = Vm(kvm, "multi", busybox_root(), fn_code())
    msgs = vm.drive("--handler", "multi", "--env", "MY_VAR=hello", "--env", "AWS_REGION=evil",
                    "--name", "my-fn", "--memory", "256")
    assert of(msgs, "READY"), msgs
    vm.init_msgs = msgs
    yield vm
    vm.stop()


def test_init_ready_and_init_logs(multi_vm):
    """What the bootstrap printed while it started came as LOG frames of the init
    phase (req_id 0), before READY: lambda_fn prints "lambda_fn: init" on stdout."""
    msgs = multi_vm.init_msgs
    ready = of(msgs, "READY")
    assert len(ready) == 1 and ready[0]["init_us"] > 0, msgs
    logs = of(msgs, "LOG")
    assert [(m["req_id"], m["stream"], m["text"]) for m in logs] == \
        [(0, 1, "lambda_fn: init")], msgs
    assert msgs.index(logs[0]) < msgs.index(ready[0])


def test_ping(multi_vm):
    msgs = multi_vm.drive("--no-init", "--ping")
    assert [m["req_id"] for m in of(msgs, "PONG")] == [77], msgs


def test_env_and_context_headers(multi_vm):
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", "env", "--trace-id",
                          "Root=1-abc;Parent=def;Sampled=0", "--client-context",
                          '{"custom":{"a":"b"}}')
    res = of(msgs, "RESULT")
    assert len(res) == 1, msgs
    got = json.loads(body(res[0]))
    assert got["AWS_LAMBDA_FUNCTION_NAME"] == "my-fn"
    assert got["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert got["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert got["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert got["_HANDLER"] == "multi"
    assert got["LAMBDA_TASK_ROOT"] == "/var/task"
    assert got["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert got["AWS_REGION"] == "us-east-1" and got["AWS_DEFAULT_REGION"] == "us-east-1"
    assert got["TZ"] == ":UTC" and got["LANG"] == "en_US.UTF-8"
    assert got["PATH"] == "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert got["LD_LIBRARY_PATH"].startswith("/var/lang/lib:/lib64:")
    assert got["MY_VAR"] == "hello"
    assert "AWS_EXECUTION_ENV" not in got  # provided runtimes have none
    h = got["headers"]
    assert h["Lambda-Runtime-Aws-Request-Id"].startswith("8f5c2a4e-")
    assert int(h["Lambda-Runtime-Deadline-Ms"]) > 0
    assert h["Lambda-Runtime-Trace-Id"] == "Root=1-abc;Parent=def;Sampled=0"
    assert h["Lambda-Runtime-Client-Context"] == '{"custom":{"a":"b"}}'
    assert "Lambda-Runtime-Cognito-Identity" not in h  # empty: omitted
    assert "Lambda-Runtime-Invoked-Function-Arn" not in h
    assert h["Content-Type"] == "application/json"
    stats = of(msgs, "STATS")
    # lambda_fn keeps an 8 MiB buffer, of which it touches the answer's pages.
    assert len(stats) == 1 and stats[0]["peak_mem_bytes"] >= 64 << 10, msgs
    assert msgs.index(stats[0]) < msgs.index(res[0])


def test_filesystem_and_user(multi_vm):
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", "fs")
    got = json.loads(body(of(msgs, "RESULT")[0]))
    assert got == {"uid": 993, "gid": 990, "euid": 993, "tmp_ok": True, "task_errno": 30,
                   "cwd_task": True}, got  # 30 = EROFS


def test_logs_carry_the_request_id(multi_vm):
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", "log")
    res = of(msgs, "RESULT")[0]
    logs = {(m["stream"], m["text"].split(" ")[0] + " " + m["text"].split(" ")[1]): m
            for m in of(msgs, "LOG") if m["text"].startswith("to ")}
    out, err = logs[(1, "to stdout")], logs[(2, "to stderr")]
    assert out["req_id"] == res["req_id"] == err["req_id"] == 1
    assert out["text"].endswith("-000000000001")


def test_function_error(multi_vm):
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", "error")
    e = of(msgs, "ERROR")
    assert len(e) == 1 and e[0]["error_type"] == "Unhandled", msgs
    assert json.loads(body(e[0])) == {"errorMessage": "boom", "errorType": "Boom"}


def test_exit_mid_invoke_then_restart(multi_vm):
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", "exit")
    e = of(msgs, "ERROR")
    assert len(e) == 1 and e[0]["error_type"] == "Runtime.ExitError", msgs
    got = json.loads(body(e[0]))
    assert got["errorType"] == "Runtime.ExitError"
    assert got["errorMessage"] == ("RequestId: 8f5c2a4e-0000-4000-8000-000000000001 Error: "
                                   "Runtime exited with error: exit status 3")
    # The bootstrap restarted; the next invoke works.
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", "fs")
    assert json.loads(body(of(msgs, "RESULT")[0]))["uid"] == 993, msgs


RID1 = "8f5c2a4e-0000-4000-8000-000000000001"  # gproto-drive's first request id


def platform_error(msgs, etype, message, type_="ERROR"):
    """The one ERROR (or INIT_ERROR) in msgs is ember-init's own, Lambda-shaped."""
    e = of(msgs, type_)
    assert len(e) == 1 and e[0]["error_type"] == etype, msgs
    assert json.loads(body(e[0])) == {"errorType": etype, "errorMessage": message}, msgs
    return e[0]


def ended_with_stats(msgs, end):
    """An invocation's last frames: STATS, then its ERROR/RESULT, same req_id."""
    stats = of(msgs, "STATS")
    assert len(stats) == 1 and stats[0]["req_id"] == end["req_id"] == 1, msgs
    assert msgs.index(stats[0]) < msgs.index(end), msgs


@pytest.mark.parametrize("payload,line,message", [
    ("kill", "lambda_fn: killing itself", "Runtime exited with error: signal: killed"),
    ("exit0", "lambda_fn: exiting with 0", "Runtime exited without providing a reason"),
])
def test_runtime_ends_mid_invoke_then_restarts(multi_vm, payload, line, message):
    """A runtime killed by a signal, or one that exits 0, in the middle of an
    invocation: that invocation fails with Runtime.ExitError (Lambda's text), and
    the runtime restarts at once: READY comes without an invoke to ask for it."""
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", payload)
    e = platform_error(msgs, "Runtime.ExitError", f"RequestId: {RID1} Error: {message}")
    ended_with_stats(msgs, e)
    # What it printed before dying belongs to the invocation and comes first.
    said = [m for m in of(msgs, "LOG") if m["text"] == line]
    assert len(said) == 1 and said[0]["req_id"] == 1, msgs
    assert msgs.index(said[0]) < msgs.index(e), msgs
    # --restore waits for READY before invoking (RESTORE itself only sets the
    # clock and adds entropy here): the fresh runtime's init is over by then.
    msgs = multi_vm.drive("--no-init", "--restore", "after-" + payload, "--invokes", 1,
                          "--payload", "fs")
    ready = of(msgs, "READY")
    assert ready and not of(msgs, "ERROR") and not of(msgs, "INIT_ERROR"), msgs
    assert not [m for m in of(msgs, "LOG") if m["req_id"] == 1 and "init" in m["text"]], msgs
    assert json.loads(body(of(msgs, "RESULT")[0]))["uid"] == 993, msgs


def test_function_cannot_use_init_io_port(multi_vm):
    """ember-init uses the boot-timer I/O port once; its permission must not
    reach the function (fork inherits it, execve and setuid keep it)."""
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", "ioport")
    got = json.loads(body(of(msgs, "RESULT")[0]))
    assert got == {"inb": "refused", "signal": 11, "ioperm_errno": 1}, got  # SIGSEGV, EPERM


def test_malformed_frame_closes_only_that_connection(multi_vm):
    junk = os.path.join(WORK, "junk.bin")
    with open(junk, "wb") as f:
        f.write(b"EMGP\x07" + bytes(40))
    msgs = multi_vm.drive("--raw", junk, rc=3)
    assert msgs[-1]["type"] == "CLOSED", msgs
    msgs = multi_vm.drive("--no-init", "--invokes", 1, "--payload", "fs")
    assert of(msgs, "RESULT"), msgs
    multi_vm.proc.wait_for("malformed frame from the host", 60)


@pytest.mark.quick
def test_one_mib_echo(kvm):
    vm = Vm(kvm, "echo", busybox_root(), fn_code())
    try:
        payload = bytes((i * 7 + i // 251) & 0xFF for i in range(1 << 20))
        p = os.path.join(WORK, "payload.bin")
        with open(p, "wb") as f:
            f.write(payload)
        msgs = vm.drive("--handler", "echo", "--invokes", 2, "--payload-file", p)
        res = of(msgs, "RESULT")
        assert len(res) == 2 and all(body(r) == payload for r in res), \
            [(m["type"], m.get("len")) for m in msgs]
    finally:
        vm.stop()


def test_init_error(kvm):
    vm = Vm(kvm, "initerr", busybox_root(), fn_code())
    try:
        msgs = vm.drive("--handler", "initerror")
        e = of(msgs, "INIT_ERROR")
        assert len(e) == 1 and e[0]["error_type"] == "InitBoom", msgs
        assert json.loads(body(e[0]))["errorMessage"] == "init failed"
        # An invoke re-runs init, which fails again: the invoke fails with it.
        msgs = vm.drive("--no-init", "--invokes", 1)
        e = of(msgs, "ERROR")
        assert len(e) == 1 and e[0]["error_type"] == "InitBoom", msgs
    finally:
        vm.stop()


@pytest.mark.parametrize("kind,files,message", [
    ("missing", {"README": (b"no bootstrap here\n", 0o644)},
     "Couldn't find valid bootstrap(s): [/var/task/bootstrap /var/runtime/bootstrap]"),
    ("not-executable", {"bootstrap": (b"#!/bin/sh\n", 0o644)},
     "fork/exec /var/task/bootstrap: permission denied"),
    ("not-a-program", {"bootstrap": (b"plain text, no #! line\n", 0o755)},
     "fork/exec /var/task/bootstrap: exec format error"),
])
def test_invalid_entrypoint(kvm, kind, files, message):
    """No bootstrap, or one that cannot be executed: INIT_ERROR
    Runtime.InvalidEntrypoint in Lambda's words. ember-init stays up, and each
    invoke tries init again and fails the same way, with its request id."""
    vm = Vm(kvm, f"entry-{kind}", busybox_root(), code_image(f"entry-{kind}", files))
    try:
        msgs = vm.drive("--handler", "x")
        assert not of(msgs, "READY"), msgs
        platform_error(msgs, "Runtime.InvalidEntrypoint", message, "INIT_ERROR")
        msgs = vm.drive("--no-init", "--ping", "--invokes", 1)
        assert of(msgs, "PONG"), msgs
        e = platform_error(msgs, "Runtime.InvalidEntrypoint",
                           f"RequestId: {RID1} Error: {message}")
        ended_with_stats(msgs, e)
        assert not of(msgs, "INIT_ERROR"), msgs
    finally:
        vm.stop()


@pytest.mark.parametrize("handler,message", [
    ("initexit", "Runtime exited with error: exit status 4"),
    ("initsegv", "Runtime exited with error: signal: segmentation fault"),
])
def test_runtime_dies_before_first_next(kvm, handler, message):
    """A runtime that ends before its first /next, without posting /init/error:
    INIT_ERROR Runtime.ExitError. No runtime runs until the next invoke, which
    runs init again (its output now belongs to that invocation) and fails with
    it, as an ERROR carrying the request id."""
    def starts(msgs):  # lambda_fn counts its starts in /tmp, which outlives it
        return [(m["text"], m["req_id"]) for m in of(msgs, "LOG")
                if m["text"].startswith("lambda_fn: start ")]

    vm = Vm(kvm, handler, busybox_root(), fn_code())
    try:
        msgs = vm.drive("--handler", handler)
        assert not of(msgs, "READY"), msgs
        e = platform_error(msgs, "Runtime.ExitError", message, "INIT_ERROR")
        assert starts(msgs) == [("lambda_fn: start 1", 0)], msgs
        # Start 2 is this invocation's (not a restart in between), and the only one.
        msgs = vm.drive("--no-init", "--invokes", 1)
        e = platform_error(msgs, "Runtime.ExitError", f"RequestId: {RID1} Error: {message}")
        ended_with_stats(msgs, e)
        assert not of(msgs, "INIT_ERROR"), msgs
        assert starts(msgs) == [("lambda_fn: start 2", 1)], msgs
        # Its output comes before its end.
        assert msgs.index([m for m in of(msgs, "LOG") if m["req_id"] == 1][-1]) < \
            msgs.index(e), msgs
    finally:
        vm.stop()


TUTORIAL = b"""#!/bin/sh
set -euo pipefail
# The custom runtime tutorial's bootstrap (AWS Lambda developer guide).
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"
while true
do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE"
done
"""
FUNCTION_SH = b"""function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="Echoing request: '$EVENT_DATA'"
  echo $RESPONSE
}
"""


def test_custom_runtime_tutorial_with_curl(kvm):
    if not os.path.exists(PROVIDED):
        skip_here_fail_in_ci(f"{PROVIDED} is missing (make runtimes)")
    code = code_image("tutorial", {"bootstrap": (TUTORIAL, 0o755),
                                   "function.sh": (FUNCTION_SH, 0o644)})
    vm = Vm(kvm, "tutorial", PROVIDED, code)
    try:
        msgs = vm.drive("--handler", "function.handler", "--invokes", 2, "--payload",
                        '{"key":"value"}')
        res = of(msgs, "RESULT")
        assert [body(r) for r in res] == [b"Echoing request: '{\"key\":\"value\"}'"] * 2, msgs
        assert any(m["text"] == '{"key":"value"}' and m["req_id"] == 1 for m in of(msgs, "LOG"))
    finally:
        vm.stop()


STATUS_BOOTSTRAP = b"""#!/bin/sh
# Probes the Runtime API's documented status codes with plain curl. A code that
# only comes back after the invoke has ended is printed by the next invoke.
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
while true; do
  H="$(mktemp)"
  EV=$(curl -sS -D "$H" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$H" | tr -d '[:space:]' | cut -d: -f2)
  if [ -f /tmp/prev ]; then cat /tmp/prev; rm /tmp/prev; fi
  if [ "$EV" = '"small"' ]; then
    echo "unknown-id=$(code -d '{}' "$API/invocation/not-a-request/response")"
    echo "no-such-path=$(code -d '{}' "$API/invocation/$ID/nonsense")"
    R1=$(code -d '"fine"' "$API/invocation/$ID/response")
    R2=$(code -d '"again"' "$API/invocation/$ID/response")
    printf 'response=%s\\ntwice=%s\\n' "$R1" "$R2" > /tmp/prev
  else
    head -c 7000000 /dev/zero | tr '\\0' a > /tmp/big
    echo "too-big=$(code --data-binary @/tmp/big "$API/invocation/$ID/response")" > /tmp/prev
  fi
done
"""


def test_runtime_api_status_codes(kvm):
    """202 for an answer, 400 for an unknown or finished request id, 404 for an unknown
    path, 413 (and Function.ResponseSizeTooLarge) for a response over 6 MB."""
    if not os.path.exists(PROVIDED):
        skip_here_fail_in_ci(f"{PROVIDED} is missing (make runtimes)")
    code = code_image("status", {"bootstrap": (STATUS_BOOTSTRAP, 0o755)})
    vm = Vm(kvm, "status", PROVIDED, code)
    try:
        msgs = vm.drive("--handler", "x", "--invokes", 2, "--payload", '"small"')
        assert [body(r) for r in of(msgs, "RESULT")] == [b'"fine"'] * 2, msgs
        logs = [m["text"] for m in of(msgs, "LOG")]
        for line in ("unknown-id=400", "no-such-path=404", "response=202", "twice=400"):
            assert line in logs, (line, logs)
        msgs = vm.drive("--no-init", "--invokes", 1, "--payload", '"big"')
        errors = of(msgs, "ERROR")
        assert len(errors) == 1 and errors[0]["error_type"] == "Function.ResponseSizeTooLarge", \
            msgs
        msgs = vm.drive("--no-init", "--invokes", 1, "--payload", '"small"')
        assert "too-big=413" in [m["text"] for m in of(msgs, "LOG")], msgs
    finally:
        vm.stop()
