"""The ember CLI against a real emberd on this host (no VM: nothing is invoked).

Checks what a user sees: tables, --json, exit codes, errors on stderr, and that a
folder given to --code travels with its unix modes into the function's code image.
"""
import json
import os
import stat
import subprocess
import threading
import uuid

import pytest

from emberd_host import EMBER, Emberd


@pytest.fixture(scope="module")
def emberd():
    e = Emberd().start()
    try:
        yield e
        assert e.stop() == 0, "emberd did not stop cleanly on SIGTERM"
    finally:
        e.cleanup()


@pytest.fixture
def code_dir(tmp_path):
    d = tmp_path / "code"
    (d / "lib").mkdir(parents=True)
    (d / "bootstrap").write_text("#!/bin/sh\necho hi\n")
    os.chmod(d / "bootstrap", 0o755)
    (d / "lib" / "util.sh").write_text("x=1\n")
    os.chmod(d / "lib" / "util.sh", 0o640)
    os.symlink("lib/util.sh", d / "util-link")
    return d


def name():
    return "cli-" + uuid.uuid4().hex[:10]


def ok(r):
    assert r.returncode == 0, f"rc {r.returncode}: {r.stderr}"
    return r.stdout


def table(out):
    """A readable table as rows of cells (split on runs of two or more spaces)."""
    import re
    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines() if line.strip()]


def test_create_from_a_folder_keeps_modes(emberd, code_dir, tmp_path):
    fname = name()
    out = ok(emberd.ember("create", fname, "--runtime", "provided.al2023", "--handler", "none",
                          "--code", str(code_dir), "--memory", "256", "--timeout", "7",
                          "--env", "GREETING=hi there", "--env", "MODE=a=b"))
    rows = dict((r[0], r[1] if len(r) > 1 else "") for r in table(out)[1:] if r[0] != "Environment")
    assert rows["FunctionName"] == fname
    assert rows["Runtime"] == "provided.al2023"
    assert rows["MemorySize"] == "256 MB"
    assert rows["Timeout"] == "7 s"
    assert ["Environment", "GREETING=hi there"] in table(out)
    assert ["Environment", "MODE=a=b"] in table(out)
    # The image holds the folder as it was: modes, nesting, the symlink.
    code = os.path.join(emberd.home, "functions", fname, "code")
    [image] = [f for f in os.listdir(code) if f.endswith(".erofs")]  # beside it: the zip
    x = tmp_path / "x"
    subprocess.run(["fsck.erofs", f"--extract={x}", os.path.join(code, image)], check=True,
                   capture_output=True)
    assert stat.S_IMODE(os.stat(x / "bootstrap").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(x / "lib" / "util.sh").st_mode) == 0o640
    assert os.readlink(x / "util-link") == "lib/util.sh"
    assert (x / "bootstrap").read_text() == "#!/bin/sh\necho hi\n"


def test_create_from_a_zip_list_get_json(emberd, code_dir, tmp_path):
    fname = name()
    zpath = tmp_path / "f.zip"
    subprocess.run(["python3", "-m", "zipfile", "-c", str(zpath), "bootstrap"], cwd=code_dir,
                   check=True)
    ok(emberd.ember("create", fname, "--runtime", "python3.12", "--handler", "app.h",
                    "--code", str(zpath)))
    rows = table(ok(emberd.ember("list")))
    assert rows[0] == ["NAME", "RUNTIME", "MEMORY", "TIMEOUT", "CODE SIZE", "LAST MODIFIED"]
    mine = [r for r in rows if r[0] == fname]
    assert mine and mine[0][1:5] == ["python3.12", "128 MB", "3 s", str(zpath.stat().st_size)]
    listed = json.loads(ok(emberd.ember("list", "--json")))
    assert fname in [f["FunctionName"] for f in listed["Functions"]]
    got = json.loads(ok(emberd.ember("--json", "get", fname)))
    assert got["Configuration"]["FunctionName"] == fname
    assert got["Configuration"]["CodeSize"] == zpath.stat().st_size
    # The same over TCP with --endpoint.
    got2 = json.loads(ok(emberd.ember("get", fname, "--json", endpoint=True)))
    assert got2["Configuration"] == got["Configuration"]


def test_list_pages_through_everything(emberd, code_dir):
    made = sorted(name() for _ in range(3))
    for f in made:
        ok(emberd.ember("create", f, "--runtime", "python3.12", "--handler", "h", "--code",
                        str(code_dir)))
    # More functions than one page of 50 is not needed: the CLI follows NextMarker,
    # which the API test checks with small pages; here: every one is listed once.
    names = [r[0] for r in table(ok(emberd.ember("list")))[1:]]
    assert all(names.count(f) == 1 for f in made)


def test_update(emberd, code_dir):
    fname = name()
    ok(emberd.ember("create", fname, "--runtime", "python3.12", "--handler", "a.b", "--code",
                    str(code_dir), "--env", "OLD_VAR=1"))
    before = json.loads(ok(emberd.ember("get", fname, "--json")))["Configuration"]
    (code_dir / "bootstrap").write_text("#!/bin/sh\necho changed\n")
    out = ok(emberd.ember("update", fname, "--code", str(code_dir), "--memory", "512",
                          "--timeout", "20", "--handler", "c.d", "--env", "NEW_VAR=2"))
    assert "512 MB" in out and "20 s" in out
    after = json.loads(ok(emberd.ember("get", fname, "--json")))["Configuration"]
    assert after["CodeSha256"] != before["CodeSha256"]
    assert after["MemorySize"] == 512 and after["Timeout"] == 20 and after["Handler"] == "c.d"
    assert after["Environment"] == {"Variables": {"NEW_VAR": "2"}}
    r = emberd.ember("update", fname)
    assert r.returncode == 2 and "nothing to update" in r.stderr


def test_errors_go_to_stderr_with_exit_codes(emberd, code_dir):
    r = emberd.ember("get", "no-such-function")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("ember: ResourceNotFoundException: Function not found: ")
    r = emberd.ember("create", name(), "--runtime", "cobol85", "--handler", "h", "--code",
                     str(code_dir))
    assert r.returncode == 1
    assert "InvalidParameterValueException: Value cobol85 at 'runtime'" in r.stderr
    r = emberd.ember("create", name(), "--runtime", "python3.12")
    assert r.returncode == 2 and "required" in r.stderr
    r = emberd.ember("frobnicate")
    assert r.returncode == 2
    r = emberd.ember("invoke", "no-such-function", "{}")
    assert r.returncode == 1 and "ResourceNotFoundException" in r.stderr
    r = emberd.ember("invoke", "no-such-function", "{not json")
    assert r.returncode == 1
    r = emberd.ember("--home", "/nonexistent-ember-home", "list")
    assert r.returncode == 1 and "cannot reach emberd" in r.stderr


def test_delete(emberd, code_dir):
    fname = name()
    ok(emberd.ember("create", fname, "--runtime", "python3.12", "--handler", "h", "--code",
                    str(code_dir)))
    assert ok(emberd.ember("delete", fname)).strip() == f"deleted {fname}"
    r = emberd.ember("get", fname)
    assert r.returncode == 1 and "ResourceNotFoundException" in r.stderr
    r = emberd.ember("delete", fname)
    assert r.returncode == 1


def test_status(emberd):
    out = ok(emberd.ember("status"))
    assert table(out)[0] == ["FUNCTION", "VERSION", "STARTING", "IDLE", "BUSY", "DRAINING",
                             "STANDBY", "SNAPSHOT", "MEMORY"]
    assert "memory in use:" in out
    st = json.loads(ok(emberd.ember("status", "--json")))
    assert st["MemoryBudgetMiB"] > 0
    assert isinstance(st["Pools"], list)
    assert st["FunctionCount"] >= 0


def test_logs(emberd, code_dir):
    fname = name()
    ok(emberd.ember("create", fname, "--runtime", "python3.12", "--handler", "h", "--code",
                    str(code_dir)))
    # No log yet: nothing, and success.
    assert ok(emberd.ember("logs", fname)) == ""
    # What the invoker writes, the CLI reads back (the file is the invoker's; written
    # here as it would be).
    logdir = os.path.join(emberd.home, "logs", fname)
    os.makedirs(logdir)
    lines = "START RequestId: 1 Version: $LATEST\nhello\nEND RequestId: 1\n"
    with open(os.path.join(logdir, "current.log"), "w") as f:
        f.write(lines)
    assert ok(emberd.ember("logs", fname)) == lines
    assert ok(emberd.ember("logs", fname, "--tail", "16")) == lines[-16:]
    r = emberd.ember("logs", "no-such-function")
    assert r.returncode == 1 and "ResourceNotFoundException" in r.stderr


def test_logs_follow(emberd, code_dir):
    fname = name()
    ok(emberd.ember("create", fname, "--runtime", "python3.12", "--handler", "h", "--code",
                    str(code_dir)))
    logdir = os.path.join(emberd.home, "logs", fname)
    os.makedirs(logdir)
    path = os.path.join(logdir, "current.log")
    with open(path, "w") as f:
        f.write("first\n")
    p = subprocess.Popen([EMBER, "--home", emberd.home, "logs", fname, "--follow"],
                         stdout=subprocess.PIPE, text=True)
    try:
        got = []
        done = threading.Event()

        def reader():
            for line in p.stdout:
                got.append(line)
                if line == "second\n":
                    done.set()
        threading.Thread(target=reader, daemon=True).start()
        # Appended after the CLI is following: it arrives on the next answer. emberd
        # answers a follow request when the invoker reports a write, or after its
        # long-poll period (20 s) at the latest.
        with open(path, "a") as f:
            f.write("second\n")
        assert done.wait(45), f"the follower saw only {got}"
        assert got[:2] == ["first\n", "second\n"]
    finally:
        p.kill()
        p.wait()
