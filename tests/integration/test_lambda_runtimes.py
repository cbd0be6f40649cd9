"""The runtime images (runtimes/) in real guests: what a Lambda user sees (issue 7).

Each runtime (python, nodejs, and provided with the static bootstrap
tests/guests/lambda_fn.c) boots in ember-vmm with ember.lambda=1: the real
image build/runtimes/<name>.erofs on /dev/vda, a code image made here on
/dev/vdb, ember-init as PID 1, and build/bin/gproto-drive as the host
(helpers in lambda_guest.py). A cold node start takes seconds in the testbox,
so each scenario group boots one VM per runtime and runs several invokes in
it: the main function (hello, 1 MiB echo, exception, environment and
context, filesystem and user, logs, exit mid-invoke), init errors, and node's
ES module handler in callback style. The shims' finer points (every error
type, Decimal, nested handlers) are tested without a VM in
test_runtime_images.py.
"""
import json
import os
import shutil

import pytest

from lambda_guest import FN, RUNTIMES, WORK, Vm, body, code_image, of

LAMBDA_NAME = {"python": "python3.12", "nodejs": "nodejs20.x", "provided": "provided.al2023"}
FN_TIMEOUT_MS = 60000
CLOCK_SLACK_MS = 2000  # guest vs host wall clock (see test_environment_and_context)
ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
LOG_GROUP = "/aws/lambda/my-fn"
LOG_STREAM = "2026/11/27/[$LATEST]0123456789abcdef0123456789abcdef"
SBX_UID, SBX_GID = 993, 990  # sbx_user1051 in the images' /etc/passwd, as on Lambda
EROFS = 30  # errno: /var/task is a read-only erofs mount
RID = "8f5c2a4e-0000-4000-8000-%012x"  # gproto-drive's request ids, by req_id

PY_APP = b'''import json
import os
import sys

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
    if op == "env":
        return {"env": dict(os.environ), "ctx": {
            "request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
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
    case 'env':
      return { env: process.env, ctx: {
        request_id: context.awsRequestId,
        function_name: context.functionName,
        function_version: context.functionVersion,
        memory: context.memoryLimitInMB,
        arn: context.invokedFunctionArn,
        remaining: context.getRemainingTimeInMillis(),
        log_group: context.logGroupName,
        log_stream: context.logStreamName,
      } };
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

NODE_ESM = b'''// An ES module (.mjs) with a callback-style handler and a top-level await.
const loaded = await Promise.resolve('tla');

export const handler = (event, context, callback) => {
  setImmediate(() => {
    if (event.fail) callback(new RangeError('callback boom'));
    else callback(null, { style: 'callback', loaded, esm: typeof require === 'undefined',
                          id: context.awsRequestId, got: event });
  });
};
'''


def runtime_image(runtime):
    path = os.path.join(RUNTIMES, f"{runtime}.erofs")
    if not os.path.exists(path):
        pytest.skip(f"{path} is missing (make runtimes; make test builds it)")
    if shutil.which("mkfs.erofs") is None:
        pytest.skip("needs mkfs.erofs (erofs-utils) for the code image")
    return path


def function_code(runtime):
    """The main function's code image and its handler."""
    if runtime == "python":
        return code_image("rt-python", {"app.py": (PY_APP, 0o644)}), "app.handler"
    if runtime == "nodejs":
        return code_image("rt-nodejs", {"app.js": (NODE_APP, 0o644),
                                        "esm.mjs": (NODE_ESM, 0o644)}), "app.handler"
    with open(FN, "rb") as f:  # payloads are commands, else echoed (see lambda_fn.c)
        return code_image("rt-provided", {"bootstrap": (f.read(), 0o755)}), "multi"


INVOKE_ARGS = ("--fn-timeout", FN_TIMEOUT_MS, "--arn", ARN)  # the deadline, the invoked ARN
INIT_ARGS = (*INVOKE_ARGS, "--name", "my-fn", "--memory", "256",
             "--log-group", LOG_GROUP, "--log-stream", LOG_STREAM, "--env", "MY_VAR=hello",
             "--env", "SPACED=a b=c")


class Function:
    def __init__(self, runtime, vm, init_msgs):
        self.runtime, self.vm, self.init_msgs = runtime, vm, init_msgs

    def invoke(self, payload, n=1):
        """n invokes of payload (str, or bytes written to a file): all frames."""
        args = ("--no-init", "--invokes", n, *INVOKE_ARGS)
        if isinstance(payload, bytes):
            p = os.path.join(WORK, f"payload-{self.runtime}.bin")
            with open(p, "wb") as f:
                f.write(payload)
            return self.vm.drive(*args, "--payload-file", p)
        return self.vm.drive(*args, "--payload", payload)

    def result(self, payload):
        msgs = self.invoke(payload)
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
        assert 'File "/var/task/app.py"' in err["stackTrace"][0], err
        assert "explode" in err["stackTrace"][-1] and "raise ValueError" in err["stackTrace"][-1]
        line = "[ERROR] ValueError: boom here"
    else:
        assert e[0]["error_type"] == "TypeError"
        assert set(err) == {"errorMessage", "errorType", "trace", "stackTrace"}, err
        assert err["errorType"] == "TypeError" and err["errorMessage"] == "boom here"
        assert err["stackTrace"] == err["trace"]
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
    got, _ = fn.result("env" if fn.runtime == "provided" else op("env"))
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
    if fn.runtime == "provided":  # lambda_fn reports a fixed list of variables
        assert "AWS_EXECUTION_ENV" not in env
        h = got["headers"]
        assert h["Lambda-Runtime-Aws-Request-Id"] == RID % 1
        assert h["Lambda-Runtime-Invoked-Function-Arn"] == ARN
        return
    assert env["SPACED"] == "a b=c"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_" + LAMBDA_NAME[fn.runtime]
    ctx = got["ctx"]
    assert ctx["request_id"] == RID % 1
    assert ctx["function_name"] == "my-fn" and ctx["function_version"] == "$LATEST"
    assert ctx["memory"] == "256"  # a string, as on Lambda
    assert ctx["arn"] == ARN
    # The deadline is the host's clock at INVOKE + the timeout; the guest reads its
    # own clock (kvmclock's wall time from boot), which in the testbox (nested,
    # under an emulator) drifts by up to about a second from L1's.
    assert FN_TIMEOUT_MS - 30000 < ctx["remaining"] <= FN_TIMEOUT_MS + CLOCK_SLACK_MS, ctx
    assert ctx["log_group"] == LOG_GROUP and ctx["log_stream"] == LOG_STREAM


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


# --- init errors: one VM each ---

INIT_ERRORS = {
    ("python", "import"): ({"app.py": b"import no_such_module_xyz\n"}, "app.handler",
                           "Runtime.ImportModuleError",
                           "Unable to import module 'app': No module named 'no_such_module_xyz'"),
    ("python", "handler"): ({"app.py": PY_APP}, "app.nope", "Runtime.HandlerNotFound",
                            "Handler 'nope' missing on module 'app'"),
    ("nodejs", "import"): ({"app.js": b"require('no-such-module-xyz');\n"}, "app.handler",
                           "Runtime.ImportModuleError",
                           "Error: Cannot find module 'no-such-module-xyz'"),
    ("nodejs", "handler"): ({"app.js": NODE_APP}, "app.nope", "Runtime.HandlerNotFound",
                            "app.nope is undefined or not exported"),
}


@pytest.mark.parametrize("runtime,kind", list(INIT_ERRORS),
                         ids=[f"{r}-{k}" for r, k in INIT_ERRORS])
def test_init_error(kvm, runtime, kind):
    files, handler, etype, message = INIT_ERRORS[(runtime, kind)]
    root = runtime_image(runtime)
    code = code_image(f"rt-{runtime}-{kind}", {k: (v, 0o644) for k, v in files.items()})
    vm = Vm(kvm, f"rt-{runtime}-{kind}", root, code)
    try:
        msgs = vm.drive("--runtime", LAMBDA_NAME[runtime], "--handler", handler, *INIT_ARGS)
        e = of(msgs, "INIT_ERROR")
        assert len(e) == 1 and not of(msgs, "READY"), msgs
        assert e[0]["error_type"] == etype
        err = json.loads(body(e[0]))
        assert err["errorType"] == etype and err["errorMessage"].startswith(message), err
        assert isinstance(err["stackTrace"], list)
        if kind == "handler":
            return  # the retry below is ember-init's, the same for every init error
        # An invoke runs init again, which fails again: the invoke fails with it.
        msgs = vm.drive("--no-init", "--invokes", 1, *INVOKE_ARGS, "--payload",
                        op("hello", name="x"))
        e = of(msgs, "ERROR")
        assert len(e) == 1 and e[0]["error_type"] == etype, msgs
        assert json.loads(body(e[0]))["errorMessage"].startswith(message)
    finally:
        vm.stop()


# --- nodejs: an .mjs ES module with a callback-style handler ---

def test_nodejs_esm_callback_handler(kvm):
    root = runtime_image("nodejs")
    code, _ = function_code("nodejs")
    vm = Vm(kvm, "rt-nodejs-esm", root, code)
    try:
        msgs = vm.drive("--runtime", LAMBDA_NAME["nodejs"], "--handler", "esm.handler",
                        *INIT_ARGS)
        assert of(msgs, "READY"), (msgs, vm.proc.text)
        msgs = vm.drive("--no-init", "--invokes", 2, *INVOKE_ARGS, "--payload", '{"k":[1,2]}')
        res = of(msgs, "RESULT")
        assert [json.loads(body(r)) for r in res] == [
            {"style": "callback", "loaded": "tla", "esm": True, "id": RID % i,
             "got": {"k": [1, 2]}} for i in (1, 2)], msgs
        msgs = vm.drive("--no-init", "--invokes", 1, "--payload", '{"fail":true}')
        e = of(msgs, "ERROR")
        assert len(e) == 1 and e[0]["error_type"] == "RangeError", msgs
        err = json.loads(body(e[0]))
        assert err["errorMessage"] == "callback boom"
        assert err["stackTrace"][0] == "RangeError: callback boom"
        assert any("/var/task/esm.mjs:" in s for s in err["stackTrace"]), err
    finally:
        vm.stop()
