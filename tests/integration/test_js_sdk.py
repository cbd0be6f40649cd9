"""The AWS SDK for JavaScript v3 (@aws-sdk/client-lambda, pinned in
tests/js/package-lock.json and installed by `make js-deps`) drives emberd
unchanged, with only the endpoint and dummy credentials set: create, get,
list, invoke with the log tail, update, a missing function, delete. The
function is real (Python, in a microVM); each answer is checked field by field."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO, skip_here_fail_in_ci
from emberd_host import make_zip
from emberd_kvm import EmberdVm

JS = os.path.join(REPO, "tests", "js")
SDK = os.path.join(JS, "node_modules", "@aws-sdk", "client-lambda")
HANDLER = b'''import os

def handler(event, context):
    print("js-sdk-test: invoked")
    return {"event": event, "greeting": os.environ["GREETING"],
            "request_id": context.aws_request_id, "memory": context.memory_limit_in_mb}
'''


@pytest.fixture(scope="module")
def emberd(kvm):
    if shutil.which("node") is None or not os.path.isdir(SDK):
        skip_here_fail_in_ci("needs node and tests/js/node_modules (make js-deps)")
    e = EmberdVm(kvm)
    yield e
    assert e.stop() == 0, e.proc.text[-4000:]


def test_the_javascript_sdk_v3_unchanged(emberd, tmp_path):
    zpath = tmp_path / "fn.zip"
    zpath.write_bytes(make_zip({"app.py": (HANDLER, 0o644)}))
    p = subprocess.run(["node", os.path.join(JS, "lambda_client.mjs"), emberd.endpoint, "js-fn",
                        str(zpath), "python3.12", "app.handler"],
                       capture_output=True, text=True, timeout=600, cwd=JS)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)

    c = out["create"]
    assert (c["FunctionName"], c["Runtime"], c["Handler"], c["MemorySize"], c["Timeout"]) == \
        ("js-fn", "python3.12", "app.handler", 128, 30), c
    assert c["FunctionArn"].endswith(":function:js-fn") and c["Version"] == "$LATEST", c
    assert c["Environment"]["Variables"] == {"GREETING": "hello from js"}, c
    assert c["CodeSize"] == zpath.stat().st_size and len(c["CodeSha256"]) == 44, c

    g = out["get"]
    assert g["Configuration"]["FunctionArn"] == c["FunctionArn"], g
    assert g["Configuration"]["CodeSha256"] == c["CodeSha256"], g
    assert [f["FunctionName"] for f in out["list"]["Functions"]] == ["js-fn"], out["list"]

    i = out["invoke"]
    assert i["StatusCode"] == 200 and i["FunctionError"] is None, i
    assert i["ExecutedVersion"] == "$LATEST", i
    body = json.loads(i["Payload"])
    assert body == {"event": {"from": "js"}, "greeting": "hello from js",
                    "request_id": i["RequestId"], "memory": "128"}, body
    assert "js-sdk-test: invoked" in i["Log"] and f"REPORT RequestId: {i['RequestId']}" in \
        i["Log"], i["Log"]

    u = out["update"]
    assert (u["MemorySize"], u["Description"]) == (256, "updated from js"), u
    m = out["missing"]
    assert (m["error"], m["status"]) == ("ResourceNotFoundException", 404), m
    assert "js-fn-missing" in m["message"], m
    assert out["delete"] == {"StatusCode": 204}, out["delete"]  # the SDK reports the status
