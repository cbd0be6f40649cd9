"""The runtime images (runtimes/) in real guests: what a Lambda user sees (issue 7).

Each runtime (python, nodejs, and provided with the static bootstrap
tests/guests/lambda_fn.c) boots in ember-vmm with ember.lambda=1: the real
image build/runtimes/<name>.erofs on /dev/vda, a code image made here on
/dev/vdb, ember-init as PID 1, and build/bin/gproto-drive as the host
(helpers in lambda_guest.py). A cold node start takes seconds in the testbox,
so each scenario group boots one VM per runtime and runs several invokes in
it: the main function (hello, a module beside the handler, 1 MiB echo,
exception, environment and context, filesystem and user, logs, exit
mid-invoke). Every init error and the other handler shapes need a VM each
(a guest takes one INIT): they are in test_runtime_shims.py.
"""
import json
import os

import pytest

from lambda_guest import (ARN, FN, FN_TIMEOUT_MS, INIT_ARGS, INVOKE_ARGS, LAMBDA_NAME, LOG_GROUP,
                          LOG_STREAM, RID, SBX_GID, SBX_UID, WORK, Vm, body, code_image, of,
                          runtime_image, wall_ms)

EROFS = 30  # errno: /var/task is a read-only erofs mount
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
CLIENT_CONTEXT = {"client": {"installation_id": "inst-1"}, "custom": {"k": "v"}, "env": {}}
COGNITO = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
CONTEXT_ARGS = ("--trace-id", TRACE, "--client-context", json.dumps(CLIENT_CONTEXT),
                "--cognito", json.dumps(COGNITO))

PY_APP = b'''import json
import os
import sys
import time

print("app: init", flush=True)


def explode(why):
    raise ValueError("boom " + why)


def handler(event, context):
    if not isinstance(event, dict):
        return event  # the echo
    op = event["op"]
    if op == "hello":
        return {"message": "Hello, %s!" % event["name"]}
    if op == "raise":
        explode(event["why"])
    if op == "exit":
        sys.exit(3)
    if op == "log":
        print("to stdout", context.aws_request_id)
        print("to stderr", context.aws_request_id, file=sys.stderr)
        return "logged"
    if op == "helper":
        import helper  # beside the handler: /var/task is first on sys.path
        return {"value": helper.VALUE, "path0": sys.path[0]}
    if op == "env":
        # The clock around the remaining time: deadline = clock + remaining.
        before = int(time.time() * 1000)
        remaining = context.get_remaining_time_in_millis()
        after = int(time.time() * 1000)
        cc, ident = context.client_context, context.identity
        return {"env": dict(os.environ), "ctx": {
            "remaining": remaining, "clock_before": before, "clock_after": after,
            "custom": cc.custom if cc else None,
            "installation_id": cc.client.installation_id if cc and cc.client else None,
            "identity_id": ident.cognito_identity_id if ident else None,
            "identity_pool": ident.cognito_identity_pool_id if ident else None,
            "request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "log_group": context.log_group_name,
            "log_stream": context.log_stream_name,
        }}
    if op == "fs":
        with open("/tmp/x", "w") as f:
            f.write("x")
        try:
            open("/var/task/x", "w")
            task_errno = 0
        except OSError as e:
            task_errno = e.errno
        return {"uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(),
                "tmp": open("/tmp/x").read(), "task_errno": task_errno, "cwd": os.getcwd()}
    raise KeyError(op)
'''

NODE_APP = b'''const fs = require('fs');

console.log('app: init');

function explode(why) {
  throw new TypeError('boom ' + why);
}

exports.handler = async (event, context) => {
  await new Promise((resolve) => setImmediate(resolve)); // a real async handler
  if (typeof event !== 'object') return event; // the echo
  switch (event.op) {
    case 'hello':
      return { message: `Hello, ${event.name}!` };
    case 'raise':
      return explode(event.why);
    case 'exit':
      process.exit(3);
    case 'log':
      console.log('to stdout', context.awsRequestId);
      process.stderr.write(`to stderr ${context.awsRequestId}\\n`);
      return 'logged';
    case 'helper':
      return { value: require('./helper').VALUE };
    case 'env': {
      // The clock around the remaining time: deadline = clock + remaining.
      const before = Date.now();
      const remaining = context.getRemainingTimeInMillis();
      const after = Date.now();
      const cc = context.clientContext, id = context.identity;
      return { env: process.env, ctx: {
        remaining, clock_before: before, clock_after: after,
        custom: cc ? cc.custom : null,
        installation_id: cc && cc.client ? cc.client.installation_id : null,
        identity_id: id ? id.cognitoIdentityId : null,
        identity_pool: id ? id.cognitoIdentityPoolId : null,
        request_id: context.awsRequestId,
        function_name: context.functionName,
        function_version: context.functionVersion,
        memory: context.memoryLimitInMB,
        arn: context.invokedFunctionArn,
        log_group: context.logGroupName,
        log_stream: context.logStreamName,
      } };
    }
    case 'fs': {
      fs.writeFileSync('/tmp/x', 'x');
      let taskErrno = 0;
      try {
        fs.writeFileSync('/var/task/x', 'x');
      } catch (e) {
        taskErrno = -e.errno;
      }
      return { uid: process.getuid(), gid: process.getgid(), euid: process.geteuid(),
               tmp: fs.readFileSync('/tmp/x', 'utf8'), task_errno: taskErrno, cwd: process.cwd() };
    }
    default:
      throw new Error(`unknown op ${event.op}`);
  }
};
'''

def function_code(runtime):
    """The main function's code image and its handler."""
    if runtime == "python":
        return code_image("rt-python", {"app.py": (PY_APP, 0o644),
                                        "helper.py": (b"VALUE = 42\n", 0o644)}), "app.handler"
    if runtime == "nodejs":
        return code_image("rt-nodejs", {"app.js": (NODE_APP, 0o644),
                                        "helper.js": (b"exports.VALUE = 42;\n", 0o644)}), \
            "app.handler"
    with open(FN, "rb") as f:  # payloads are commands, else echoed (see lambda_fn.c)
        return code_image("rt-provided", {"bootstrap": (f.read(), 0o755)}), "multi"


class Function:
    def __init__(self, runtime, vm, init_msgs):
        self.runtime, self.vm, self.init_msgs = runtime, vm, init_msgs

    def invoke(self, payload, n=1, extra=()):
        """n invokes of payload (str, or bytes written to a file): all frames.
        extra: more gproto-drive options (a trace id, a client context)."""
        args = ("--no-init", "--invokes", n, *INVOKE_ARGS, *extra)
        if isinstance(payload, bytes):
            p = os.path.join(WORK, f"payload-{self.runtime}.bin")
            with open(p, "wb") as f:
                f.write(payload)
            return self.vm.drive(*args, "--payload-file", p)
        return self.vm.drive(*args, "--payload", payload)

    def result(self, payload, extra=()):
        msgs = self.invoke(payload, extra=extra)
        res = of(msgs, "RESULT")
        assert len(res) == 1 and not of(msgs, "ERROR"), msgs
        return json.loads(body(res[0])), msgs


@pytest.fixture(scope="module", params=["python", "nodejs", "provided"])
def fn(request, kvm):
    runtime = request.param
    root = runtime_image(runtime)
    code, handler = function_code(runtime)
    vm = Vm(kvm, "rt-" + runtime, root, code)
    try:
        msgs = vm.drive("--runtime", LAMBDA_NAME[runtime], "--handler", handler, *INIT_ARGS)
        assert of(msgs, "READY"), (msgs, vm.proc.text)
        yield Function(runtime, vm, msgs)
    finally:
        vm.stop()


def op(command, **kw):
    return json.dumps(dict(op=command, **kw))


def test_init_ready_with_init_logs(fn):
    ready = of(fn.init_msgs, "READY")[0]
    assert ready["init_us"] > 0
    line = "lambda_fn: init" if fn.runtime == "provided" else "app: init"
    logs = [m for m in of(fn.init_msgs, "LOG") if m["text"].endswith(line)]
    assert logs and logs[0]["req_id"] == 0 and logs[0]["stream"] == 1, fn.init_msgs
    assert fn.init_msgs.index(logs[0]) < fn.init_msgs.index(ready)


def test_hello_world(fn):
    got, _ = fn.result(op("hello", name="world"))
    if fn.runtime == "provided":
        assert got == {"op": "hello", "name": "world"}  # lambda_fn echoes
    else:
        assert got == {"message": "Hello, world!"}


@pytest.mark.parametrize("fn", ["python", "nodejs"], indirect=True)
def test_module_beside_the_handler(fn):
    """The handler's own modules load from /var/task (LAMBDA_TASK_ROOT), which comes
    first on the module path. (provided's bootstrap is one static binary.)"""
    got, _ = fn.result(op("helper"))
    if fn.runtime == "python":
        assert got == {"value": 42, "path0": "/var/task"}
    else:
        assert got == {"value": 42}


def test_one_mib_payload_echoed(fn):
    # A JSON string: both json.dumps and JSON.stringify give back the same bytes.
    alphabet = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')
    payload = b'"' + bytes(alphabet[(i * 7 + i // 97) % len(alphabet)]
                           for i in range((1 << 20) - 2)) + b'"'
    msgs = fn.invoke(payload, n=2)
    res = of(msgs, "RESULT")
    assert len(res) == 2, [(m["type"], m.get("len"), m.get("text", "")[:200]) for m in msgs]
    assert all(body(r) == payload for r in res)


def test_exception(fn):
    msgs = fn.invoke("error" if fn.runtime == "provided" else op("raise", why="here"))
    e = of(msgs, "ERROR")
    assert len(e) == 1 and not of(msgs, "RESULT"), msgs
    err = json.loads(body(e[0]))
    if fn.runtime == "provided":  # lambda_fn's own error post
        assert e[0]["error_type"] == "Unhandled" and err == {"errorMessage": "boom",
                                                             "errorType": "Boom"}
        return
    if fn.runtime == "python":
        assert e[0]["error_type"] == "ValueError"
        assert set(err) == {"errorMessage", "errorType", "requestId", "stackTrace"}, err
        assert err["errorType"] == "ValueError" and err["errorMessage"] == "boom here"
        assert err["requestId"] == RID % 1
        # The trace starts in the user's handler, not in the runtime.
        assert all(isinstance(f, str) for f in err["stackTrace"]), err
        assert 'File "/var/task/app.py"' in err["stackTrace"][0], err
        assert "explode" in err["stackTrace"][-1] and "raise ValueError" in err["stackTrace"][-1]
        assert not any("/var/runtime" in f for f in err["stackTrace"]), err
        line = "[ERROR] ValueError: boom here"
    else:
        assert e[0]["error_type"] == "TypeError"
        assert set(err) == {"errorMessage", "errorType", "trace", "stackTrace"}, err
        assert err["errorType"] == "TypeError" and err["errorMessage"] == "boom here"
        assert err["stackTrace"] == err["trace"]
        assert all(isinstance(f, str) for f in err["stackTrace"]), err
        assert err["stackTrace"][0] == "TypeError: boom here"
        assert "explode (/var/task/app.js:" in err["stackTrace"][1], err
        line = "\tERROR\tInvoke Error \t{"
    logs = [m for m in of(msgs, "LOG") if line in m["text"]]
    assert logs and logs[0]["req_id"] == 1, msgs


def test_exit_mid_invoke_then_restart(fn):
    msgs = fn.invoke("exit" if fn.runtime == "provided" else op("exit"))
    e = of(msgs, "ERROR")
    assert len(e) == 1 and e[0]["error_type"] == "Runtime.ExitError", msgs
    err = json.loads(body(e[0]))
    assert err["errorType"] == "Runtime.ExitError"
    assert err["errorMessage"] == (f"RequestId: {RID % 1} Error: "
                                   "Runtime exited with error: exit status 3"), err
    # ember-init restarted the runtime (its init line may come before this
    # connection exists); the next invoke works.
    got, _ = fn.result(op("hello", name="again"))
    assert got in ({"message": "Hello, again!"}, {"op": "hello", "name": "again"})


def test_environment_and_context(fn):
    before = wall_ms(fn.vm.kvm)
    got, _ = fn.result("env" if fn.runtime == "provided" else op("env"), extra=CONTEXT_ARGS)
    after = wall_ms(fn.vm.kvm)
    env = got if fn.runtime == "provided" else got["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "my-fn"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == "us-east-1" and env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == ("multi" if fn.runtime == "provided" else "app.handler")
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == LOG_GROUP
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == LOG_STREAM
    assert env["TZ"] == ":UTC"
    assert env["MY_VAR"] == "hello"
    # The deadline gproto-drive sent is its clock at INVOKE + the timeout: within
    # [before, after] + the timeout, read on the same clock (no guest-host skew).
    sent = (before + FN_TIMEOUT_MS, after + FN_TIMEOUT_MS)
    if fn.runtime == "provided":  # lambda_fn reports a fixed list of variables
        assert "AWS_EXECUTION_ENV" not in env
        h = got["headers"]
        assert h["Lambda-Runtime-Aws-Request-Id"] == RID % 1
        assert h["Lambda-Runtime-Invoked-Function-Arn"] == ARN
        assert h["Lambda-Runtime-Trace-Id"] == TRACE
        assert json.loads(h["Lambda-Runtime-Client-Context"]) == CLIENT_CONTEXT
        assert json.loads(h["Lambda-Runtime-Cognito-Identity"]) == COGNITO
        assert sent[0] <= int(h["Lambda-Runtime-Deadline-Ms"]) <= sent[1], (sent, h)
        return
    assert env["SPACED"] == "a b=c"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_" + LAMBDA_NAME[fn.runtime]
    assert env["_X_AMZN_TRACE_ID"] == TRACE
    ctx = got["ctx"]
    assert ctx["request_id"] == RID % 1
    assert ctx["function_name"] == "my-fn" and ctx["function_version"] == "$LATEST"
    assert ctx["memory"] == "256"  # a string, as on Lambda
    assert ctx["arn"] == ARN
    assert ctx["log_group"] == LOG_GROUP and ctx["log_stream"] == LOG_STREAM
    assert (ctx["custom"], ctx["installation_id"]) == ({"k": "v"}, "inst-1"), ctx
    assert (ctx["identity_id"], ctx["identity_pool"]) == ("id-1", "pool-1"), ctx
    # The remaining time counts down to that deadline on the guest's clock: the
    # handler read its clock just before and after, so deadline - remaining lies
    # between those two readings.
    assert ctx["remaining"] > 0, ctx
    seen = (ctx["clock_before"] + ctx["remaining"], ctx["clock_after"] + ctx["remaining"])
    assert seen[0] <= sent[1] and sent[0] <= seen[1], (sent, seen)
    # The next invoke has no trace id, client context or identity: none leaks over.
    got, _ = fn.result(op("env"))
    assert "_X_AMZN_TRACE_ID" not in got["env"], got["env"]
    assert (got["ctx"]["custom"], got["ctx"]["installation_id"], got["ctx"]["identity_id"]) == \
        (None, None, None), got["ctx"]


def test_filesystem_and_user(fn):
    got, _ = fn.result("fs" if fn.runtime == "provided" else op("fs"))
    if fn.runtime == "provided":
        assert got == {"uid": SBX_UID, "gid": SBX_GID, "euid": SBX_UID, "tmp_ok": True,
                       "task_errno": EROFS, "cwd_task": True}, got
    else:
        assert got == {"uid": SBX_UID, "gid": SBX_GID, "euid": SBX_UID, "tmp": "x",
                       "task_errno": EROFS, "cwd": "/var/task"}, got


def test_stdout_and_stderr_are_logs_with_the_request_id(fn):
    msgs = fn.invoke("log" if fn.runtime == "provided" else op("log"))
    res = of(msgs, "RESULT")
    assert len(res) == 1 and res[0]["req_id"] == 1, msgs
    out = [m for m in of(msgs, "LOG") if "to stdout" in m["text"]]
    err = [m for m in of(msgs, "LOG") if "to stderr" in m["text"]]
    assert len(out) == 1 and len(err) == 1, msgs
    assert (out[0]["stream"], err[0]["stream"]) == (1, 2)
    assert out[0]["req_id"] == err[0]["req_id"] == 1
    assert out[0]["text"].endswith("to stdout " + RID % 1)
    assert err[0]["text"] == "to stderr " + RID % 1
    if fn.runtime == "nodejs":  # console.log's Lambda prefix: time, request id, level
        assert out[0]["text"].split("\t")[1:] == [RID % 1, "INFO", "to stdout " + RID % 1]
    # The function's lines are all sent before its result.
    assert msgs.index(out[0]) < msgs.index(res[0]) and msgs.index(err[0]) < msgs.index(res[0])
