"""The runtime shims' finer points, against ember-init's real Runtime API (issue 7).

The language shims (runtimes/python/runtime/bootstrap, runtimes/nodejs/...)
and the provided image's curl talk to ember-init's Runtime API
(guest-init/runtime_api.c, which checks request ids and the 6 MB limit) in a
real guest, booted as in test_lambda_runtimes.py (helpers in lambda_guest.py):
the real image on /dev/vda, a code image made here on /dev/vdb, and
gproto-drive as the host. A guest takes one INIT, so every init error and
every handler shape here is a VM of its own; the main function's behaviour
(hello, errors, context, logs, 1 MiB) is in test_lambda_runtimes.py.
"""
import json
import os

import pytest

from lambda_guest import (INIT_ARGS, INVOKE_ARGS, LAMBDA_NAME, RID, SBX_UID, WORK, Vm, body,
                          code_image, of, runtime_image)

PY_APP = b'''def handler(event, context):
    return event
'''

NODE_APP = b'''exports.handler = async (event) => event;
'''

# (runtime, case): (code files, handler, errorType, how errorMessage starts)
INIT_ERRORS = {
    ("python", "no-module"): ({"app.py": PY_APP}, "nomodule.handler",
                              "Runtime.ImportModuleError",
                              "Unable to import module 'nomodule': No module named 'nomodule'"),
    ("python", "import"): ({"app.py": b"import no_such_module_xyz\n"}, "app.handler",
                           "Runtime.ImportModuleError",
                           "Unable to import module 'app': No module named 'no_such_module_xyz'"),
    ("python", "handler"): ({"app.py": PY_APP}, "app.nope", "Runtime.HandlerNotFound",
                            "Handler 'nope' missing on module 'app'"),
    ("python", "malformed"): ({"app.py": PY_APP}, "app", "Runtime.MalformedHandlerName",
                              "Bad handler 'app'"),
    ("python", "syntax"): ({"app.py": b"def f(:\n"}, "app.f", "Runtime.UserCodeSyntaxError",
                           "Syntax error in module 'app'"),
    ("nodejs", "no-module"): ({"app.js": NODE_APP}, "nomodule.handler",
                              "Runtime.ImportModuleError", "Error: Cannot find module"),
    ("nodejs", "import"): ({"app.js": b"require('no-such-module-xyz');\n"}, "app.handler",
                           "Runtime.ImportModuleError",
                           "Error: Cannot find module 'no-such-module-xyz'"),
    ("nodejs", "handler"): ({"app.js": NODE_APP}, "app.nope", "Runtime.HandlerNotFound",
                            "app.nope is undefined or not exported"),
    ("nodejs", "not-a-function"): ({"app.js": b"exports.x = 1;\n"}, "app.x",
                                   "Runtime.HandlerNotFound", "app.x is not a function"),
    ("nodejs", "malformed"): ({"app.js": NODE_APP}, "app", "Runtime.MalformedHandlerName",
                              "Bad handler app"),
    ("nodejs", "syntax"): ({"app.js": b"exports.f = (;\n"}, "app.f",
                           "Runtime.UserCodeSyntaxError", "SyntaxError"),
}


def start(kvm, name, runtime, files, handler):
    """A VM with runtime's image and a code image of files (mode 0644 unless named
    bootstrap); returns it and the frames of its INIT."""
    root = runtime_image(runtime)
    code = code_image(name, {k: (v, 0o755 if k == "bootstrap" else 0o644)
                             for k, v in files.items()})
    vm = Vm(kvm, name, root, code)
    try:
        return vm, vm.drive("--runtime", LAMBDA_NAME[runtime], "--handler", handler, *INIT_ARGS)
    except BaseException:
        vm.stop()
        raise


@pytest.mark.parametrize("runtime,case", list(INIT_ERRORS),
                         ids=[f"{r}-{c}" for r, c in INIT_ERRORS])
def test_init_error(kvm, runtime, case):
    """INIT_ERROR with Lambda's error type and message, the shim's log line about
    it in the init phase (req_id 0), and an invoke that runs init again, which
    fails again, so the invoke fails with it."""
    files, handler, etype, message = INIT_ERRORS[(runtime, case)]
    vm, msgs = start(kvm, f"shim-{runtime}-{case}", runtime, files, handler)
    try:
        e = of(msgs, "INIT_ERROR")
        assert len(e) == 1 and not of(msgs, "READY"), msgs
        assert e[0]["error_type"] == etype
        err = json.loads(body(e[0]))
        assert err["errorType"] == etype and err["errorMessage"].startswith(message), err
        assert isinstance(err["stackTrace"], list), err
        logged = {"python": f"[ERROR] {etype}: {err['errorMessage']}",
                  "nodejs": "\tERROR\tInit Error \t"}[runtime]
        assert any(logged in m["text"] and m["req_id"] == 0 for m in of(msgs, "LOG")), msgs
        msgs = vm.drive("--no-init", "--invokes", 1, *INVOKE_ARGS, "--payload", "{}")
        e = of(msgs, "ERROR")
        assert len(e) == 1 and e[0]["error_type"] == etype and not of(msgs, "RESULT"), msgs
        assert json.loads(body(e[0]))["errorMessage"].startswith(message)
    finally:
        vm.stop()


# --- nodejs: the other module kinds and handler shapes ---

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

# A .js file that is an ES module because its package.json says so, with a
# nested export ("mod/index.nested.deeper") in callback style.
NODE_TYPE_MODULE = b'''import { VALUE } from './value.js';

export const nested = {
  deeper: (event, context, callback) => {
    setTimeout(() => {
      if (event.fail) callback(new Error('cb failed'));
      else callback(null, { via: 'callback', value: VALUE, esm: typeof require === 'undefined',
                            n: event.n });
    }, 1);
  },
};
'''


def test_nodejs_mjs_callback_handler_with_top_level_await(kvm):
    vm, msgs = start(kvm, "shim-nodejs-mjs", "nodejs", {"esm.mjs": NODE_ESM}, "esm.handler")
    try:
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


def test_nodejs_type_module_package_and_nested_handler(kvm):
    files = {"mod/index.js": NODE_TYPE_MODULE, "mod/value.js": b"export const VALUE = 'v';\n",
             "mod/package.json": b'{"type": "module"}\n'}
    vm, msgs = start(kvm, "shim-nodejs-typemod", "nodejs", files, "mod/index.nested.deeper")
    try:
        assert of(msgs, "READY"), (msgs, vm.proc.text)
        msgs = vm.drive("--no-init", "--invokes", 1, *INVOKE_ARGS, "--payload", '{"n":7}')
        res = of(msgs, "RESULT")
        assert [json.loads(body(r)) for r in res] == [
            {"via": "callback", "value": "v", "esm": True, "n": 7}], msgs
        msgs = vm.drive("--no-init", "--invokes", 1, "--payload", '{"fail":true}')
        e = of(msgs, "ERROR")
        assert len(e) == 1 and e[0]["error_type"] == "Error", msgs
        assert json.loads(body(e[0]))["errorMessage"] == "cb failed"
    finally:
        vm.stop()


# --- provided: a shell bootstrap with the image's curl ---

PROVIDED_BOOTSTRAP = br"""#!/bin/sh
# The canonical custom-runtime loop, through files: next, answer, repeat.
set -eu
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
	HEADERS=$(mktemp); EVENT=$(mktemp)
	curl -sS -D "$HEADERS" -o "$EVENT" "$API/invocation/next"
	ID=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | cut -d: -f2 | tr -d ' \r\n')
	case "$(head -c 1 "$EVENT")" in
	'"') curl -sS -o /dev/null --data-binary @"$EVENT" "$API/invocation/$ID/response" ;;
	*) printf '{"uid": "%s", "event": %s}' "$(id -u)" "$(cat "$EVENT")" |
		curl -sS -o /dev/null --data-binary @- "$API/invocation/$ID/response" ;;
	esac
	rm -f "$HEADERS" "$EVENT"
done
"""


def test_provided_shell_bootstrap_with_curl(kvm):
    """The function's own bootstrap, run as the function user; a 1 MiB event goes
    through curl both ways unchanged."""
    vm, msgs = start(kvm, "shim-provided-sh", "provided", {"bootstrap": PROVIDED_BOOTSTRAP},
                     "whatever")
    try:
        assert of(msgs, "READY"), (msgs, vm.proc.text)
        msgs = vm.drive("--no-init", "--invokes", 1, *INVOKE_ARGS, "--payload", '{"n":1}')
        assert [json.loads(body(r)) for r in of(msgs, "RESULT")] == [
            {"uid": str(SBX_UID), "event": {"n": 1}}], msgs
        payload = b'"' + bytes(b"abcdefghij"[i % 10] for i in range((1 << 20) - 2)) + b'"'
        path = os.path.join(WORK, "shim-provided-payload.bin")  # where gproto-drive reads
        with open(path, "wb") as f:
            f.write(payload)
        msgs = vm.drive("--no-init", "--invokes", 2, *INVOKE_ARGS, "--payload-file", path)
        res = of(msgs, "RESULT")
        assert len(res) == 2 and all(body(r) == payload for r in res), \
            [(m["type"], m.get("len")) for m in msgs]
    finally:
        vm.stop()

