"""emberd's Lambda API driven by real clients: Debian's AWS CLI and boto3, field by field.

emberd runs on this host in a temp $EMBER_HOME; nothing is invoked, so no VM (and no
KVM) is needed: --vmm points nowhere. Invoke itself is tested with real guests elsewhere.
"""
import base64
import json
import os
import re
import stat
import subprocess
import uuid

import pytest

from emberd_host import (AWS, ROLE, RUNTIMES, Emberd, EMBERD, code_sha256, make_zip,
                          simple_zip)

LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


@pytest.fixture(scope="module")
def emberd():
    e = Emberd().start()
    try:
        yield e
        assert e.stop() == 0, "emberd did not stop cleanly on SIGTERM"
    finally:
        e.cleanup()


def name():
    return "fn-" + uuid.uuid4().hex[:10]


def create(e, fname, zip_bytes=None, **kw):
    args = dict(FunctionName=fname, Runtime="python3.12", Handler="app.h", Role=ROLE,
                Code={"ZipFile": zip_bytes if zip_bytes is not None else simple_zip()})
    args.update(kw)
    return e.boto3().create_function(**args)


def bare(resp):
    """A boto3 answer without its ResponseMetadata (request id, date)."""
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def aws_error(stderr):
    """(code, message) from the AWS CLI's "An error occurred (Code) when calling ...: msg"."""
    m = re.search(r"An error occurred \((\w+)\) when calling the \w+ operation"
                  r"(?: \(reached max retries: \d+\))?: (.*)", stderr, re.S)
    assert m, f"not an AWS CLI service error: {stderr!r}"
    return m.group(1), m.group(2).strip()


def boto_error(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]


def fetch(url):
    """GET url with curl, as a user would fetch Code.Location: the body's bytes."""
    return subprocess.run(["curl", "-sf", url], check=True, capture_output=True).stdout


def check_config(c, fname, zip_bytes, memory=128, timeout=3, handler="app.h",
                 runtime="python3.12", version="$LATEST", env=None, description=""):
    assert c["FunctionName"] == fname
    assert c["FunctionArn"] == ARN + fname + ("" if version == "$LATEST" else f":{version}")
    assert c["Runtime"] == runtime
    assert c["Role"] == ROLE
    assert c["Handler"] == handler
    assert c["CodeSize"] == len(zip_bytes)
    assert c["CodeSha256"] == code_sha256(zip_bytes)
    assert c["Description"] == description
    assert c["Timeout"] == timeout
    assert c["MemorySize"] == memory
    assert LAST_MODIFIED.match(c["LastModified"]), c["LastModified"]
    assert c["Version"] == version
    if env:
        assert c["Environment"] == {"Variables": env}
    else:
        assert "Environment" not in c
    assert uuid.UUID(c["RevisionId"]).version == 4
    assert c["State"] == "Active"
    assert c["LastUpdateStatus"] == "Successful"
    assert c["PackageType"] == "Zip"
    assert c["Architectures"] == ["x86_64"]
    assert c["EphemeralStorage"] == {"Size": 512}
    assert c["TracingConfig"] == {"Mode": "PassThrough"}


def test_create_get_with_the_aws_cli(emberd, tmp_path):
    fname = name()
    z = simple_zip()
    (tmp_path / "f.zip").write_bytes(z)
    _, c, _ = emberd.aws("create-function", "--function-name", fname, "--runtime", "python3.12",
                         "--handler", "app.h", "--role", ROLE, "--zip-file",
                         f"fileb://{tmp_path / 'f.zip'}", "--memory-size", "256", "--timeout",
                         "30", "--description", "made by the CLI", "--environment",
                         "Variables={GREETING=hello,OTHER_VAR=x}")
    env = {"GREETING": "hello", "OTHER_VAR": "x"}
    check_config(c, fname, z, memory=256, timeout=30, env=env, description="made by the CLI")
    _, g, _ = emberd.aws("get-function", "--function-name", fname)
    assert g["Configuration"] == c
    assert g["Code"]["RepositoryType"] == "S3"
    assert "Concurrency" not in g
    # Code.Location is where the zip can be fetched, as uploaded (curl, as a
    # user would; the host is the one the client reached emberd at).
    loc = g["Code"]["Location"]
    assert loc == f"{emberd.endpoint}/ember/functions/{fname}/code?Qualifier=%24LATEST", loc
    assert fetch(loc) == z
    _, gc, _ = emberd.aws("get-function-configuration", "--function-name", fname)
    assert gc == c
    # The code image exists, is an EROFS image, and keeps the bootstrap
    # executable; the zip is kept beside it.
    images = sorted(os.listdir(os.path.join(emberd.home, "functions", fname, "code")))
    assert len(images) == 2 and images[0].endswith(".erofs") and images[1].endswith(".zip")
    assert images[0][:-len(".erofs")] == images[1][:-len(".zip")]
    out = tmp_path / "x"
    subprocess.run(["fsck.erofs", f"--extract={out}",
                    os.path.join(emberd.home, "functions", fname, "code", images[0])],
                   check=True, capture_output=True)
    assert stat.S_IMODE(os.stat(out / "bootstrap").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(out / "app.py").st_mode) == 0o644
    assert (out / "app.py").read_bytes() == b"def h(e, c):\n    return e\n"


def test_a_new_functions_runtime_is_staged_for_the_jails_off_the_loop(emberd):
    # The runtime image lives outside $EMBER_HOME: jailed VMs get a copy in
    # jail/files, made on a worker when the function is created, so its first
    # start does not copy on emberd's loop.
    fname = name()
    create(emberd, fname, Runtime="provided.al2023", Handler="x")
    image = os.path.join(RUNTIMES, "provided.erofs")
    m = emberd.wait_for(r"jail: " + re.escape(image) + r" staged as (\S+)", 60)
    staged = m.group(1)
    assert os.path.dirname(staged) == os.path.join(emberd.home, "jail", "files")
    assert os.path.getsize(staged) == os.path.getsize(image)
    assert stat.S_IMODE(os.stat(staged).st_mode) == 0o440


def test_names_in_paths(emberd):
    fname = name()
    create(emberd, fname)
    b = emberd.boto3()
    for form in (fname, f"000000000000:function:{fname}", f"{ARN}{fname}",
                 f"{ARN}{fname}:$LATEST", f"{fname}:$LATEST"):
        c = b.get_function_configuration(FunctionName=form)
        assert c["FunctionName"] == fname and c["Version"] == "$LATEST", form
    # The path qualifier and ?Qualifier must agree.
    with pytest.raises(b.exceptions.InvalidParameterValueException):
        b.get_function(FunctionName=f"{fname}:$LATEST", Qualifier="1")


def test_list_functions_paging(emberd):
    b = emberd.boto3()
    made = sorted(name() for _ in range(5))
    for f in made:
        create(emberd, f)
    seen, marker, pages = [], None, 0
    while True:
        kw = {"MaxItems": 2}
        if marker:
            kw["Marker"] = marker
        page = b.list_functions(**kw)
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        pages += 1
        marker = page.get("NextMarker")
        if not marker:
            break
    assert [f for f in seen if f in made] == made  # in name order, each once
    assert len(seen) == len(set(seen))
    assert pages >= 3
    # Debian's CLI (botocore 1.29) sends "GET /2015-03-31/functions/" and pages by itself.
    _, out, _ = emberd.aws("list-functions", "--page-size", "2")
    names = [f["FunctionName"] for f in out["Functions"]]
    assert [f for f in names if f in made] == made
    # Both spellings of the path answer the same.
    s1, _, b1 = emberd.http("GET", "/2015-03-31/functions")
    s2, _, b2 = emberd.http("GET", "/2015-03-31/functions/")
    assert s1 == s2 == 200
    assert json.loads(b1) == json.loads(b2)


def test_update_code_and_configuration(emberd):
    fname = name()
    b = emberd.boto3()
    first = create(emberd, fname, Environment={"Variables": {"KEEP": "1"}})
    z2 = make_zip({"bootstrap": (b"#!/bin/sh\necho two\n", 0o755)})
    c = b.update_function_code(FunctionName=fname, ZipFile=z2)
    check_config(c, fname, z2, env={"KEEP": "1"})
    assert c["RevisionId"] != first["RevisionId"]
    c2 = b.update_function_configuration(FunctionName=fname, MemorySize=1024, Timeout=60,
                                         Handler="other.h", Description="d2",
                                         Environment={"Variables": {"NEW_ONE": "v"}})
    check_config(c2, fname, z2, memory=1024, timeout=60, handler="other.h", description="d2",
                 env={"NEW_ONE": "v"})
    assert c2["RevisionId"] != c["RevisionId"]
    assert bare(b.get_function_configuration(FunctionName=fname)) == bare(c2)
    # An update names the revision it expects: a stale one is refused.
    with pytest.raises(b.exceptions.PreconditionFailedException):
        b.update_function_configuration(FunctionName=fname, MemorySize=512,
                                        RevisionId=c["RevisionId"])
    c3 = b.update_function_configuration(FunctionName=fname, MemorySize=512,
                                         RevisionId=c2["RevisionId"])
    assert c3["MemorySize"] == 512
    # Only the image $LATEST still names is kept, with its zip.
    images = os.listdir(os.path.join(emberd.home, "functions", fname, "code"))
    assert len(images) == 2
    assert fetch(b.get_function(FunctionName=fname)["Code"]["Location"]) == z2


def test_publish_and_versions(emberd):
    fname = name()
    b = emberd.boto3()
    z = simple_zip()
    create(emberd, fname, MemorySize=256)
    v1 = b.publish_version(FunctionName=fname, Description="first")
    check_config(v1, fname, z, memory=256, version="1", description="first")
    # Nothing changed: the same version again (Lambda's rule).
    assert b.publish_version(FunctionName=fname)["Version"] == "1"
    b.update_function_configuration(FunctionName=fname, MemorySize=512)
    _, v2, _ = emberd.aws("publish-version", "--function-name", fname)
    assert v2["Version"] == "2" and v2["MemorySize"] == 512
    versions = b.list_versions_by_function(FunctionName=fname)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in versions] == [f"{ARN}{fname}:$LATEST", f"{ARN}{fname}:1",
                                                   f"{ARN}{fname}:2"]
    # Paging through versions.
    p1 = b.list_versions_by_function(FunctionName=fname, MaxItems=2)
    assert [v["Version"] for v in p1["Versions"]] == ["$LATEST", "1"]
    p2 = b.list_versions_by_function(FunctionName=fname, MaxItems=2, Marker=p1["NextMarker"])
    assert [v["Version"] for v in p2["Versions"]] == ["2"]
    assert "NextMarker" not in p2
    # Each version's Code.Location serves its own code.
    b.update_function_code(FunctionName=fname, ZipFile=make_zip({"a": (b"new", 0o644)}))
    assert fetch(b.get_function(FunctionName=fname, Qualifier="1")["Code"]["Location"]) == z
    assert fetch(b.get_function(FunctionName=fname)["Code"]["Location"]) != z
    st, _, body = emberd.http("GET", f"/ember/functions/{fname}/code?Qualifier=7")
    assert st == 404 and b"Function not found" in body
    # Versions are immutable: version 1 keeps its memory.
    assert b.get_function(FunctionName=fname, Qualifier="1")["Configuration"]["MemorySize"] == 256
    assert b.get_function_configuration(FunctionName=f"{fname}:2")["MemorySize"] == 512
    with pytest.raises(b.exceptions.ResourceNotFoundException):
        b.get_function(FunctionName=fname, Qualifier="7")
    # CodeSha256 must match $LATEST's to publish.
    with pytest.raises(b.exceptions.InvalidParameterValueException):
        b.publish_version(FunctionName=fname, CodeSha256="AAAA")
    # ListFunctions with FunctionVersion=ALL lists every version.
    allv = [f for f in b.list_functions(FunctionVersion="ALL", MaxItems=50)["Functions"]
            if f["FunctionName"] == fname]
    assert [f["Version"] for f in allv] == ["$LATEST", "1", "2"]
    b.delete_function(FunctionName=fname, Qualifier="1")
    versions = b.list_versions_by_function(FunctionName=fname)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "2"]
    with pytest.raises(b.exceptions.InvalidParameterValueException) as ei:
        b.delete_function(FunctionName=fname, Qualifier="$LATEST")
    assert "cannot be deleted" in boto_error(ei)[1]


def test_concurrency_and_account_settings(emberd):
    fname = name()
    b = emberd.boto3()
    create(emberd, fname)
    before = b.get_account_settings()
    assert before["AccountLimit"] == {
        "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000,
        "CodeSizeZipped": 52428800, "ConcurrentExecutions": 1000,
        "UnreservedConcurrentExecutions": before["AccountLimit"]["UnreservedConcurrentExecutions"]}
    assert before["AccountUsage"]["FunctionCount"] >= 1
    assert before["AccountUsage"]["TotalCodeSize"] >= len(simple_zip())
    assert "ReservedConcurrentExecutions" not in b.get_function_concurrency(FunctionName=fname)
    _, put, _ = emberd.aws("put-function-concurrency", "--function-name", fname,
                           "--reserved-concurrent-executions", "5")
    assert put == {"ReservedConcurrentExecutions": 5}
    assert b.get_function_concurrency(FunctionName=fname)["ReservedConcurrentExecutions"] == 5
    assert b.get_function(FunctionName=fname)["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    after = b.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert after == before["AccountLimit"]["UnreservedConcurrentExecutions"] - 5
    # Lambda keeps 100 unreserved.
    with pytest.raises(b.exceptions.InvalidParameterValueException) as ei:
        b.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=901)
    assert "[100]" in boto_error(ei)[1]
    emberd.aws("delete-function-concurrency", "--function-name", fname)
    assert "ReservedConcurrentExecutions" not in b.get_function_concurrency(FunctionName=fname)
    b.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=0)
    assert b.get_function_concurrency(FunctionName=fname)["ReservedConcurrentExecutions"] == 0


def test_delete(emberd):
    fname = name()
    b = emberd.boto3()
    create(emberd, fname)
    code = os.path.join(emberd.home, "functions", fname, "code")
    assert len(os.listdir(code)) == 2  # the image and its zip
    emberd.aws("delete-function", "--function-name", fname)
    assert os.listdir(code) == []
    with pytest.raises(b.exceptions.ResourceNotFoundException):
        b.get_function(FunctionName=fname)
    assert fname not in [f["FunctionName"] for f in b.list_functions()["Functions"]]
    rc, _, err = emberd.aws("delete-function", "--function-name", fname, check=False)
    assert rc != 0 and aws_error(err)[0] == "ResourceNotFoundException"


# --- errors, as the clients show them ---

def test_missing_function(emberd):
    rc, _, err = emberd.aws("get-function", "--function-name", "no-such-fn", check=False)
    assert rc != 0
    assert aws_error(err) == ("ResourceNotFoundException",
                              f"Function not found: {ARN}no-such-fn")
    b = emberd.boto3()
    with pytest.raises(b.exceptions.ResourceNotFoundException) as ei:
        b.invoke(FunctionName="no-such-fn", Payload=b"{}")
    code, msg, meta = boto_error(ei)
    assert msg == f"Function not found: {ARN}no-such-fn:$LATEST"
    assert meta["HTTPStatusCode"] == 404
    assert uuid.UUID(meta["RequestId"])  # every answer carries x-amzn-RequestId
    assert meta["HTTPHeaders"]["x-amzn-errortype"] == "ResourceNotFoundException"


def test_duplicate_create(emberd):
    fname = name()
    create(emberd, fname)
    b = emberd.boto3()
    with pytest.raises(b.exceptions.ResourceConflictException) as ei:
        create(emberd, fname)
    assert boto_error(ei)[1] == f"Function already exist: {fname}"
    assert boto_error(ei)[2]["HTTPStatusCode"] == 409


@pytest.mark.parametrize("kw,words", [
    (dict(Runtime="cobol85"), "Value cobol85 at 'runtime' failed to satisfy constraint: Member "
                              "must satisfy enum value set: [python3.8,"),
    (dict(Handler="app handler"), "Value 'app handler' at 'handler' failed to satisfy constraint"),
    (dict(MemorySize=10241), "Value '10241' at 'memorySize' failed to satisfy constraint: Member "
                             "must have value less than or equal to 10240"),
    (dict(Timeout=901), "Value '901' at 'timeout' failed to satisfy constraint: Member must "
                        "have value less than or equal to 900"),
    (dict(Environment={"Variables": {"AWS_REGION": "x"}}), "Reserved keys used in this request"),
])
def test_bad_configuration(emberd, kw, words):
    b = emberd.boto3()
    fname = name()
    with pytest.raises(b.exceptions.InvalidParameterValueException) as ei:
        create(emberd, fname, **kw)
    code, msg, meta = boto_error(ei)
    assert words in msg
    assert meta["HTTPStatusCode"] == 400
    with pytest.raises(b.exceptions.ResourceNotFoundException):
        b.get_function(FunctionName=fname)


def test_bad_runtime_and_range_with_the_aws_cli(emberd, tmp_path):
    (tmp_path / "f.zip").write_bytes(simple_zip())
    common = ["--function-name", name(), "--handler", "app.h", "--role", ROLE,
              "--zip-file", f"fileb://{tmp_path / 'f.zip'}"]
    rc, _, err = emberd.aws("create-function", *common, "--runtime", "cobol85", check=False)
    assert rc != 0
    code, msg = aws_error(err)
    assert code == "InvalidParameterValueException"
    assert msg.startswith("Value cobol85 at 'runtime' failed to satisfy constraint")
    rc, _, err = emberd.aws("create-function", *common, "--runtime", "python3.12",
                            "--memory-size", "20000", check=False)
    assert aws_error(err)[0] == "InvalidParameterValueException"
    assert "'memorySize'" in aws_error(err)[1]
    rc, _, err = emberd.aws("create-function", *common, "--runtime", "python3.12",
                            "--timeout", "1000", check=False)
    assert aws_error(err)[0] == "InvalidParameterValueException"
    assert "'timeout'" in aws_error(err)[1]


@pytest.mark.parametrize("zip_bytes,words", [
    (b"PK\x03\x04 this is not a zip at all", "Could not unzip uploaded file. Please check your "
                                             "file, then try to upload again."),
    (make_zip({"../escape.txt": (b"x", 0o644)}), "'../escape.txt'"),
    (make_zip({"a/../../escape.txt": (b"x", 0o644)}), "'a/../../escape.txt'"),
    (make_zip({"/etc/evil": (b"x", 0o644)}), "'/etc/evil' has an absolute path"),
    (make_zip({"bootstrap": (b"x", 0o755)}, symlinks=[("lib/up", "../../etc")]),
     "'lib/up' is a symlink that points outside"),
])
def test_bad_zip(emberd, zip_bytes, words):
    b = emberd.boto3()
    fname = name()
    with pytest.raises(b.exceptions.InvalidParameterValueException) as ei:
        create(emberd, fname, zip_bytes=zip_bytes)
    assert words in boto_error(ei)[1]
    assert not os.path.exists(os.path.join(emberd.home, "escape.txt"))
    # The same refusal on update, and the function keeps its code.
    create(emberd, fname)
    before = b.get_function_configuration(FunctionName=fname)
    with pytest.raises(b.exceptions.InvalidParameterValueException) as ei:
        b.update_function_code(FunctionName=fname, ZipFile=zip_bytes)
    assert words in boto_error(ei)[1]
    assert bare(b.get_function_configuration(FunctionName=fname)) == bare(before)


def test_bad_zip_with_the_aws_cli(emberd, tmp_path):
    (tmp_path / "evil.zip").write_bytes(make_zip({"../escape.txt": (b"x", 0o644)}))
    rc, _, err = emberd.aws("create-function", "--function-name", name(), "--runtime",
                            "python3.12", "--handler", "app.h", "--role", ROLE, "--zip-file",
                            f"fileb://{tmp_path / 'evil.zip'}", check=False)
    assert rc != 0
    code, msg = aws_error(err)
    assert code == "InvalidParameterValueException"
    assert "Zip entry '../escape.txt'" in msg


def test_zipped_code_over_50_mb(emberd):
    b = emberd.boto3()
    big = make_zip({"blob": (os.urandom(52428800), 0o644)}, compress=False)
    assert len(big) > 52428800
    with pytest.raises(b.exceptions.ClientError) as ei:
        create(emberd, name(), zip_bytes=big)
    code, msg, meta = boto_error(ei)
    assert code == "RequestEntityTooLargeException"
    assert msg == "Zipped size must be smaller than 52428800 bytes"
    assert meta["HTTPStatusCode"] == 413


def test_malformed_json(emberd):
    status, hdrs, body = emberd.http("POST", "/2015-03-31/functions", body=b'{"FunctionName": ',
                                     headers={"Content-Type": "application/json"})
    assert status == 400
    assert hdrs["x-amzn-errortype"] == "InvalidRequestContentException"
    assert hdrs["content-type"] == "application/json"
    assert uuid.UUID(hdrs["x-amzn-requestid"])
    assert json.loads(body)["message"].startswith("Could not parse request body into json")
    # An Invoke payload that is not JSON, as the AWS CLI sends it.
    fname = name()
    create(emberd, fname)
    rc, _, err = emberd.aws("invoke", "--function-name", fname, "--payload", "{not json",
                            "--cli-binary-format", "raw-in-base64-out", "/dev/null", check=False)
    assert rc != 0
    code, msg = aws_error(err)
    assert code == "InvalidRequestContentException"
    assert msg.startswith("Could not parse request body into json")


def test_invoke_checks(emberd, tmp_path):
    fname = name()
    create(emberd, fname)
    b = emberd.boto3()
    # Over 6 MB: 413, with the body read (the client sees the answer, not a reset).
    with pytest.raises(b.exceptions.ClientError) as ei:
        b.invoke(FunctionName=fname, Payload=b'"' + b"a" * 6291456 + b'"')
    code, msg, meta = boto_error(ei)
    assert code == "RequestEntityTooLargeException"
    assert meta["HTTPStatusCode"] == 413
    assert msg == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
    big = tmp_path / "big.json"
    big.write_bytes(b'"' + b"a" * 6291456 + b'"')
    rc, _, err = emberd.aws("invoke", "--function-name", fname, "--payload", f"fileb://{big}",
                            str(tmp_path / "out"), check=False)
    assert rc != 0 and aws_error(err)[0] == "RequestEntityTooLargeException"
    # Event payloads are limited to 1 MB (the queue itself: test_emberd_async.py).
    with pytest.raises(b.exceptions.ClientError) as ei:
        b.invoke(FunctionName=fname, InvocationType="Event",
                 Payload=b'"' + b"a" * 1048576 + b'"')
    assert boto_error(ei)[:2] == ("RequestEntityTooLargeException",
                                  "Request must be smaller than 1048576 bytes for the "
                                  "InvokeFunction operation")
    # DryRun: the checks only, 204.
    r = b.invoke(FunctionName=fname, InvocationType="DryRun", Payload=b"{}")
    assert r["StatusCode"] == 204
    with pytest.raises(b.exceptions.ResourceNotFoundException) as ei:
        b.invoke(FunctionName=fname, Qualifier="5", Payload=b"{}")
    assert boto_error(ei)[1] == f"Function not found: {ARN}{fname}:5"


def test_unknown_route(emberd):
    status, hdrs, body = emberd.http("GET", "/2015-03-31/nothing-here")
    assert status == 404
    assert hdrs["x-amzn-errortype"] == "UnknownOperationException"
    assert json.loads(body)["Type"] == "User"
    status, hdrs, body = emberd.http("GET", "/2015-03-31/functions?Marker=%zz&x")
    assert status == 400
    assert hdrs["x-amzn-errortype"] == "InvalidParameterValueException"
    assert uuid.UUID(hdrs["x-amzn-requestid"])


def test_unix_socket(emberd):
    mode = os.stat(emberd.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    fname = name()
    create(emberd, fname)
    r = subprocess.run(["curl", "-sS", "--unix-socket", emberd.socket,
                        f"http://localhost/2015-03-31/functions/{fname}/configuration"],
                       capture_output=True, text=True, check=True)
    assert json.loads(r.stdout)["FunctionName"] == fname


def test_state_survives_a_restart():
    e = Emberd().start()
    try:
        b = e.boto3()
        fname = name()
        z = simple_zip()
        create(e, fname, MemorySize=256, Environment={"Variables": {"KEEP": "me"}})
        b.publish_version(FunctionName=fname)
        b.update_function_configuration(FunctionName=fname, MemorySize=512)
        b.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=3)
        latest = b.get_function_configuration(FunctionName=fname)
        v1 = b.get_function_configuration(FunctionName=fname, Qualifier="1")
        assert e.stop() == 0
        assert not os.path.exists(e.socket)  # removed on a clean stop
        # A zip whose image no version names (a crash between the two, say) is
        # swept at start; the ones in use are kept.
        code = os.path.join(e.home, "functions", fname, "code")
        stray = os.path.join(code, str(uuid.uuid4()) + ".zip")
        open(stray, "wb").write(b"PK")
        e.start()
        assert not os.path.exists(stray) and len(os.listdir(code)) == 2
        assert fetch(e.boto3().get_function(FunctionName=fname)["Code"]["Location"]) == z
        b = e.boto3()
        assert bare(b.get_function_configuration(FunctionName=fname)) == bare(latest)
        assert bare(b.get_function_configuration(FunctionName=fname, Qualifier="1")) == bare(v1)
        check_config(latest, fname, z, memory=512, env={"KEEP": "me"})
        assert b.get_function_concurrency(FunctionName=fname)["ReservedConcurrentExecutions"] == 3
        assert b.publish_version(FunctionName=fname)["Version"] == "2"
    finally:
        e.stop()
        e.cleanup()


def test_refuses_non_loopback_listen():
    e = Emberd(extra=["--listen", "0.0.0.0:0"])
    try:
        r = subprocess.run(e.argv(), capture_output=True, text=True, timeout=30)
        # The later --listen wins: a non-loopback address without --listen-any.
        assert r.returncode != 0
        assert "not a loopback address" in r.stderr
        assert not os.path.exists(os.path.join(e.home, "ember.sock"))
    finally:
        e.cleanup()


def test_one_emberd_per_home(emberd):
    second = Emberd(home=emberd.home)
    r = subprocess.run(second.argv(), capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "another emberd is using it" in r.stderr
    assert os.path.exists(emberd.socket)  # the first one's socket is untouched
