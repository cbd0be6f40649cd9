"""Runtime images (runtimes/, `make runtimes`) and their shims, without a VM.

Each test mounts build/runtimes/<name>.erofs read-only in a private mount and
PID namespace (unshare), mounts the function's code on /var/task, a tmpfs on
/tmp, proc and devtmpfs, and runs the bootstrap chrooted as the function user (uid 993,
sbx_user1051), as ember-init will in the guest. If this host cannot mount
erofs, the staging tree build/runtimes/<name>.root is bind-mounted read-only
instead. A small http.server in the test plays ember-init's Runtime API on
127.0.0.1. Needs root; skips (with the reason) when the images are not built.
"""
import json
import os
import queue
import random
import re
import shutil
import signal
import string
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
IMAGES = os.path.join(BUILD, "runtimes")
SBX_UID, SBX_GID = 993, 990
# Generous bounds: a regression (docs, locales, a dragged-in toolchain) shows up.
MAX_MB = {"provided": 40, "python": 80, "nodejs": 150}
WAIT = 60  # seconds for any one runtime step: cold node start on a loaded box
EROFS_MAGIC = 0xE0F5E1E2  # at byte 1024, little-endian


def image(name):
    path = os.path.join(IMAGES, f"{name}.erofs")
    if not os.path.exists(path):
        pytest.skip(f"{path} is not built (make runtimes)")
    if os.geteuid() != 0:
        pytest.skip("needs root: mount, unshare and chroot")
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is not installed")
    return path


# --- the Runtime API, as ember-init will serve it ---------------------------------

class RuntimeAPI:
    """Queues events for /next and collects what the runtime posts back."""

    def __init__(self):
        self.events = queue.Queue()
        self.posts = queue.Queue()  # (kind, request_id, body, headers)
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the shims use it
            # Headers and body go out in two writes: without this, Nagle plus
            # the client's delayed ACK add 40 ms to every reply.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def reply(self, status, body=b'{"status":"OK"}', headers=()):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404, b"{}")
                event = api.events.get()
                if event is None:  # shutting down
                    self.close_connection = True
                    return self.reply(500, b"{}")
                request_id, payload, headers = event
                self.reply(200, payload, [("Lambda-Runtime-Aws-Request-Id", request_id), *headers.items()])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                m = re.fullmatch(r"/2018-06-01/runtime/invocation/([^/]+)/(response|error)", self.path)
                if m:
                    api.posts.put((m.group(2), m.group(1), body, self.headers))
                elif self.path == "/2018-06-01/runtime/init/error":
                    api.posts.put(("init_error", None, body, self.headers))
                else:
                    return self.reply(404, b"{}")
                self.reply(202)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the runtime was killed mid-request: expected at the end of a test

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        for _ in range(4):
            self.events.put(None)
        self.server.shutdown()
        self.server.server_close()


class Runtime:
    """One runtime process in its chroot, and the Runtime API it talks to."""

    def __init__(self, name, code_dir, handler, env=None, argv=None):
        self.api = RuntimeAPI()
        self.mnt = tempfile.mkdtemp(prefix=f"ember-rt-{name}-")
        img, root = image(name), os.path.join(IMAGES, f"{name}.root")
        os.chmod(code_dir, 0o755)
        environ = {
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/27/[$LATEST]abc",
            "AWS_REGION": "us-east-1",
            "TZ": ":UTC",
            **(env or {}),
        }
        bootstrap = "/var/task/bootstrap" if name == "provided" else "/var/runtime/bootstrap"
        # The real image where the host kernel mounts erofs, else the staging tree.
        script = f"""set -e
mount -t erofs -o loop,ro '{img}' '{self.mnt}' 2>/dev/null ||
	{{ mount --bind '{root}' '{self.mnt}' && mount -o remount,bind,ro '{self.mnt}'; }}
mount --bind '{code_dir}' '{self.mnt}/var/task'
mount -o remount,bind,ro '{self.mnt}/var/task'
mount -t tmpfs -o mode=1777 tmpfs '{self.mnt}/tmp'
mount -t proc proc '{self.mnt}/proc'
mount -t devtmpfs devtmpfs '{self.mnt}/dev'
exec chroot --userspec={SBX_UID}:{SBX_GID} '{self.mnt}' "$@"
"""
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
             "sh", "-c", script, "sh", *(argv or [bootstrap])],
            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            # Its own process group: finish() kills the group, which takes the
            # namespace's init with it (the uid change in chroot cleared the
            # parent-death signal that --kill-child sets up).
            start_new_session=True)
        self.output = None

    def wait_post(self):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                return self.api.posts.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.api.posts.empty():
                    out, err = self.proc.communicate()
                    raise AssertionError(f"runtime exited {self.proc.returncode}:\n{out.decode()}\n{err.decode()}")
        raise AssertionError(f"no answer from the runtime in {WAIT} s")

    def invoke(self, payload, headers=None, request_id=None):
        request_id = request_id or "%032x" % random.getrandbits(128)
        hdrs = {"Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60000),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:012345678912:function:fn"}
        hdrs.update(headers or {})
        if isinstance(payload, (dict, list, str, int)):
            payload = json.dumps(payload).encode()
        self.api.events.put((request_id, payload, hdrs))
        kind, rid, body, resp_headers = self.wait_post()
        assert rid == request_id, (kind, rid, body)
        return kind, body, resp_headers

    def finish(self):
        """Stops the runtime; returns (exit code, stdout, stderr)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = self.proc.communicate(timeout=WAIT)
        self.api.close()
        os.rmdir(self.mnt)
        self.output = (self.proc.returncode, out.decode(), err.decode())
        return self.output


@pytest.fixture
def run(tmp_path):
    started = []

    def start(name, files, handler="", env=None, argv=None):
        code = tmp_path / "task"
        code.mkdir(exist_ok=True)
        for rel, text in files.items():
            p = code / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(p.parent, 0o755)
            p.write_text(text)
            os.chmod(p, 0o755 if rel == "bootstrap" else 0o644)
        rt = Runtime(name, str(code), handler, env, argv)
        started.append(rt)
        return rt

    yield start
    for rt in started:
        if rt.output is None:
            rt.finish()


def big_payload():
    # 1 MiB of JSON whose canonical form is itself in python and in node.
    rnd = random.Random(7)
    s = "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range((1 << 20) - 2))
    return json.dumps(s).encode()


# --- the images ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["provided", "python", "nodejs"])
def test_image_file(name):
    path = image(name)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(1024)
        assert int.from_bytes(f.read(4), "little") == EROFS_MAGIC
    assert size < MAX_MB[name] << 20, f"{name}.erofs is {size >> 20} MiB"
    if shutil.which("fsck.erofs"):
        r = subprocess.run(["fsck.erofs", path], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    versions = open(os.path.join(IMAGES, f"{name}.versions")).read()
    assert re.search(r"^busybox-static \S+$", versions, re.M)
    assert re.search(r"^ca-certificates \S+$", versions, re.M)
    want = {"provided": r"^curl 7\.", "python": r"^python3\.11 3\.11\.", "nodejs": r"^nodejs 18\."}[name]
    assert re.search(want, versions, re.M), versions
    # Install-only packages stay out (runtimes/exclude.packages).
    assert not re.search(r"^(dpkg|perl-base|debconf|tar) ", versions, re.M)


def test_runtime_table():
    # runtimes/runtimes.json: every Lambda name maps to an image with a recipe.
    table = json.load(open(os.path.join(REPO, "runtimes", "runtimes.json")))
    table.pop("_comment", None)
    for runtime, name in table.items():
        assert os.path.exists(os.path.join(REPO, "runtimes", name, "packages")), runtime
    for runtime in ("python3.12", "nodejs20.x", "provided", "provided.al2", "provided.al2023"):
        assert runtime in table
    assert {n for r, n in table.items() if r.startswith("python")} == {"python"}
    assert {n for r, n in table.items() if r.startswith("nodejs")} == {"nodejs"}


LAYOUT_CHECK = r"""
set -e
test -d /var/task && test -d /tmp && test -d /proc && test -d /sys && test -d /dev
test -d /var/runtime
test ! -e /usr/share/doc && test ! -e /usr/share/man && test ! -e /usr/share/locale
grep -q '^sbx_user1051:x:993:990:' /etc/passwd
grep -q 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt
id -u; id -un
touch /tmp/ok
! touch /etc/nope 2>/dev/null
! touch /var/task/nope 2>/dev/null
ls /bin/sh /bin/ls /usr/bin/env >/dev/null
case "$1" in
provided) curl --version | head -1 ;;
python) test -x /var/runtime/bootstrap
	python3 -c 'import ssl, sys; print(sys.version.split()[0], len(ssl.create_default_context().get_ca_certs()) > 100)' ;;
nodejs) test -x /var/runtime/bootstrap
	node -e 'console.log(process.versions.node, require("tls").rootCertificates.length > 100)' ;;
esac
echo layout-ok
"""


@pytest.mark.parametrize("name", ["provided", "python", "nodejs"])
def test_image_layout(run, name):
    rt = run(name, {"check.sh": LAYOUT_CHECK}, argv=["/bin/sh", "/var/task/check.sh", name])
    rt.proc.wait(timeout=WAIT)
    rc, out, err = rt.finish()
    assert rc == 0, out + err
    lines = out.split()
    assert lines[:2] == ["993", "sbx_user1051"], out
    assert out.rstrip().endswith("layout-ok")
    if name == "python":
        assert re.search(r"^3\.11\.\d+ True$", out, re.M), out
    if name == "nodejs":
        assert re.search(r"^18\.\d+\.\d+ true$", out, re.M), out


# --- provided: the function's own shell bootstrap, with busybox and curl ----------

PROVIDED_BOOTSTRAP = r"""#!/bin/sh
# The canonical custom-runtime loop: next, answer, repeat.
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
	HEADERS=$(mktemp); EVENT=$(mktemp)
	curl -sS -D "$HEADERS" -o "$EVENT" "$API/invocation/next"
	ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | cut -d: -f2 | tr -d ' \r\n')
	case "$_HANDLER" in
	echo) curl -sS -o /dev/null --data-binary @"$EVENT" "$API/invocation/$ID/response" ;;
	whoami) printf '{"uid": "%s", "event": %s}' "$(id -u)" "$(cat "$EVENT")" |
		curl -sS -o /dev/null --data-binary @- "$API/invocation/$ID/response" ;;
	esac
	rm -f "$HEADERS" "$EVENT"
done
"""


def test_provided_hello(run):
    rt = run("provided", {"bootstrap": PROVIDED_BOOTSTRAP}, "whoami")
    for i in range(2):
        kind, body, _ = rt.invoke({"n": i})
        assert kind == "response"
        assert json.loads(body) == {"uid": "993", "event": {"n": i}}


def test_provided_big_payload(run):
    rt = run("provided", {"bootstrap": PROVIDED_BOOTSTRAP}, "echo")
    payload = big_payload()
    kind, body, _ = rt.invoke(payload)
    assert kind == "response" and body == payload


# --- python -----------------------------------------------------------------------

PY_APP = '''
import os, sys
import helper  # a module beside the handler, found through LAMBDA_TASK_ROOT

def hello(event, context):
    print("hello log line")
    return {"message": "hello " + event["name"], "helper": helper.VALUE}

def echo(event, context):
    return event

def fail(event, context):
    raise ValueError("boom")

def context_info(event, context):
    cc, ident = context.client_context, context.identity
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "custom": cc.custom if cc else None,
        "installation_id": cc.client.installation_id if cc and cc.client else None,
        "identity_id": ident.cognito_identity_id if ident else None,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "uid": os.getuid(),
        "path0": sys.path[0],
    }
'''

PY_FILES = {"app.py": PY_APP, "helper.py": "VALUE = 42\n"}


def test_python_hello(run):
    rt = run("python", PY_FILES, "app.hello")
    for name in ("world", "again"):
        kind, body, _ = rt.invoke({"name": name})
        assert kind == "response"
        assert json.loads(body) == {"message": f"hello {name}", "helper": 42}
    _, out, _ = rt.finish()
    assert out.count("hello log line") == 2


def test_python_exception(run):
    rt = run("python", PY_FILES, "app.fail")
    kind, body, headers = rt.invoke({})
    assert kind == "error"
    err = json.loads(body)
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "boom"
    assert headers["Lambda-Runtime-Function-Error-Type"] == "ValueError"
    assert isinstance(err["stackTrace"], list) and all(isinstance(s, str) for s in err["stackTrace"])
    assert 'File "/var/task/app.py"' in err["stackTrace"][0] and "in fail" in err["stackTrace"][0]
    assert not any("/var/runtime" in s for s in err["stackTrace"])
    # The runtime survives a failed invoke.
    kind, _, _ = rt.invoke({})
    assert kind == "error"
    _, _, stderr = rt.finish()
    assert "[ERROR] ValueError: boom" in stderr


@pytest.mark.parametrize("files,handler,etype,message", [
    (PY_FILES, "nomodule.hello", "Runtime.ImportModuleError",
     "Unable to import module 'nomodule': No module named 'nomodule'"),
    ({"app.py": "import notinstalled\n"}, "app.hello", "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'notinstalled'"),
    (PY_FILES, "app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'"),
    (PY_FILES, "app", "Runtime.MalformedHandlerName", None),
    ({"app.py": "def f(:\n"}, "app.f", "Runtime.UserCodeSyntaxError", None),
])
def test_python_init_errors(run, files, handler, etype, message):
    rt = run("python", files, handler)
    kind, _, body, headers = rt.wait_post()
    assert kind == "init_error"
    err = json.loads(body)
    assert err["errorType"] == etype
    assert headers["Lambda-Runtime-Function-Error-Type"] == etype
    if message:
        assert err["errorMessage"] == message
    assert isinstance(err["stackTrace"], list)
    rt.proc.wait(timeout=WAIT)
    assert rt.proc.returncode == 1


def test_python_context_and_env(run):
    rt = run("python", PY_FILES, "app.context_info")
    cc = {"client": {"installation_id": "inst-1"}, "custom": {"k": "v"}, "env": {}}
    kind, body, _ = rt.invoke({}, {
        "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        "Lambda-Runtime-Client-Context": json.dumps(cc),
        "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "p"}),
    }, request_id="req-1")
    assert kind == "response"
    got = json.loads(body)
    assert 50000 < got.pop("remaining") <= 60000
    assert got == {
        "aws_request_id": "req-1", "function_name": "fn", "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:012345678912:function:fn",
        "memory_limit_in_mb": "128", "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2026/11/27/[$LATEST]abc", "custom": {"k": "v"}, "installation_id": "inst-1",
        "identity_id": "id-1",
        "trace": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        "uid": SBX_UID, "path0": "/var/task",
    }
    # The next invoke has no trace id and no client context: neither leaks over.
    kind, body, _ = rt.invoke({})
    got = json.loads(body)
    assert got["trace"] is None and got["custom"] is None and got["identity_id"] is None


def test_python_big_payload(run):
    rt = run("python", PY_FILES, "app.echo")
    payload = big_payload()
    kind, body, _ = rt.invoke(payload)
    assert kind == "response" and body == payload


# --- nodejs -----------------------------------------------------------------------

NODE_APP = r'''
const helper = require('./helper');
exports.hello = async (event, context) => {
  console.log('hello log line');
  return { message: 'hello ' + event.name, helper: helper.VALUE };
};
exports.echo = async (event) => event;
exports.fail = async () => { throw new TypeError('boom'); };
exports.callback = (event, context, callback) => {
  setTimeout(() => callback(null, { via: 'callback', n: event.n }), 1);
};
exports.callbackError = (event, context, callback) => callback(new Error('cb failed'));
exports.nested = { deeper: async () => 'nested' };
exports.contextInfo = async (event, context) => {
  const cc = context.clientContext, id = context.identity;
  return {
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(),
    custom: cc ? cc.custom : null,
    identityId: id ? id.cognitoIdentityId : null,
    trace: process.env._X_AMZN_TRACE_ID || null,
    uid: process.getuid(),
  };
};
'''

NODE_FILES = {"app.js": NODE_APP, "helper.js": "exports.VALUE = 42;\n"}


def test_nodejs_hello(run):
    rt = run("nodejs", NODE_FILES, "app.hello")
    for name in ("world", "again"):
        kind, body, _ = rt.invoke({"name": name}, request_id=f"id-{name}")
        assert kind == "response"
        assert json.loads(body) == {"message": f"hello {name}", "helper": 42}
    _, out, _ = rt.finish()
    assert re.search(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\tid-world\tINFO\thello log line$", out, re.M), out


def test_nodejs_exception(run):
    rt = run("nodejs", NODE_FILES, "app.fail")
    kind, body, headers = rt.invoke({})
    assert kind == "error"
    err = json.loads(body)
    assert err["errorType"] == "TypeError" and err["errorMessage"] == "boom"
    assert headers["Lambda-Runtime-Function-Error-Type"] == "TypeError"
    for key in ("trace", "stackTrace"):
        assert isinstance(err[key], list) and all(isinstance(s, str) for s in err[key])
    assert err["stackTrace"][0] == "TypeError: boom"
    assert any("/var/task/app.js" in s for s in err["stackTrace"])
    kind, _, _ = rt.invoke({})  # still serving
    assert kind == "error"


def test_nodejs_callback(run):
    rt = run("nodejs", NODE_FILES, "app.callback")
    kind, body, _ = rt.invoke({"n": 7})
    assert kind == "response" and json.loads(body) == {"via": "callback", "n": 7}
    rt.finish()
    rt = run("nodejs", NODE_FILES, "app.callbackError")
    kind, body, _ = rt.invoke({})
    assert kind == "error"
    err = json.loads(body)
    assert err["errorType"] == "Error" and err["errorMessage"] == "cb failed"


def test_nodejs_nested_handler(run):
    rt = run("nodejs", NODE_FILES, "app.nested.deeper")
    kind, body, _ = rt.invoke({})
    assert kind == "response" and json.loads(body) == "nested"


def test_nodejs_esm(run):
    files = {"lib/index.mjs": "import { VALUE } from './value.mjs';\n"
                              "export const handler = async (event) => ({ esm: true, value: VALUE, got: event });\n",
             "lib/value.mjs": "export const VALUE = 'v';\n"}
    rt = run("nodejs", files, "lib/index.handler")
    kind, body, _ = rt.invoke({"a": 1})
    assert kind == "response" and json.loads(body) == {"esm": True, "value": "v", "got": {"a": 1}}
    rt.finish()
    # .js in a "type": "module" package is an ES module too.
    files = {"index.js": "export const handler = async () => 'type-module';\n",
             "package.json": '{"type": "module"}\n'}
    rt = run("nodejs", files, "index.handler")
    kind, body, _ = rt.invoke({})
    assert kind == "response" and json.loads(body) == "type-module"


@pytest.mark.parametrize("files,handler,etype,message", [
    (NODE_FILES, "nomodule.handler", "Runtime.ImportModuleError", "Error: Cannot find module"),
    ({"app.js": "require('notinstalled');\n"}, "app.handler", "Runtime.ImportModuleError",
     "Error: Cannot find module 'notinstalled'"),
    (NODE_FILES, "app.nope", "Runtime.HandlerNotFound", "app.nope is undefined or not exported"),
    ({"app.js": "exports.x = 1;\n"}, "app.x", "Runtime.HandlerNotFound", "app.x is not a function"),
    (NODE_FILES, "app", "Runtime.MalformedHandlerName", "Bad handler app"),
    ({"app.js": "exports.f = (;\n"}, "app.f", "Runtime.UserCodeSyntaxError", "SyntaxError"),
])
def test_nodejs_init_errors(run, files, handler, etype, message):
    rt = run("nodejs", files, handler)
    kind, _, body, headers = rt.wait_post()
    assert kind == "init_error"
    err = json.loads(body)
    assert err["errorType"] == etype
    assert headers["Lambda-Runtime-Function-Error-Type"] == etype
    assert err["errorMessage"].startswith(message), err
    rt.proc.wait(timeout=WAIT)
    assert rt.proc.returncode == 1


def test_nodejs_context_and_env(run):
    rt = run("nodejs", NODE_FILES, "app.contextInfo")
    kind, body, _ = rt.invoke({}, {
        "Lambda-Runtime-Trace-Id": "Root=1-abc;Parent=def;Sampled=0",
        "Lambda-Runtime-Client-Context": json.dumps({"custom": {"k": "v"}}),
        "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id-1"}),
    }, request_id="req-1")
    assert kind == "response"
    got = json.loads(body)
    assert 50000 < got.pop("remaining") <= 60000
    assert got == {
        "awsRequestId": "req-1", "functionName": "fn", "functionVersion": "$LATEST",
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:012345678912:function:fn",
        "memoryLimitInMB": "128", "logGroupName": "/aws/lambda/fn",
        "logStreamName": "2026/11/27/[$LATEST]abc", "custom": {"k": "v"}, "identityId": "id-1",
        "trace": "Root=1-abc;Parent=def;Sampled=0", "uid": SBX_UID,
    }
    kind, body, _ = rt.invoke({})
    got = json.loads(body)
    assert got["trace"] is None and got["custom"] is None and got["identityId"] is None


def test_nodejs_big_payload(run):
    rt = run("nodejs", NODE_FILES, "app.echo")
    payload = big_payload()
    kind, body, _ = rt.invoke(payload)
    assert kind == "response" and body == payload
