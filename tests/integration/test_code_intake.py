"""Code intake runs in a process of its own (ember-intake, api/code/intake.h): emberd
never maps libarchive, an intake that dies or answers nonsense costs one upload a
clear ServiceException, never emberd, and the zip is read with no privileges left
(api/intake/confine.h). emberd runs on this host; nothing is invoked."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import uuid

import pytest

from emberd_host import EMBERD, ROLE, Emberd, code_sha256, make_zip, simple_zip


def name():
    return "fn-" + uuid.uuid4().hex[:10]


def create(b, fname, zip_bytes):
    return b.create_function(FunctionName=fname, Runtime="python3.12", Handler="app.h",
                             Role=ROLE, Code={"ZipFile": zip_bytes})


def mapped_files(pid):
    with open(f"/proc/{pid}/maps") as f:
        return {line.split()[-1] for line in f if "/" in line}


def test_emberd_never_maps_the_zip_reader():
    e = Emberd().start()
    try:
        b = e.boto3()
        good = simple_zip()
        assert create(b, name(), good)["CodeSha256"] == code_sha256(good)
        with pytest.raises(b.exceptions.InvalidParameterValueException):
            create(b, name(), make_zip({"../escape.txt": (b"x", 0o644)}))
        libs = mapped_files(e.proc.pid)
        assert not [p for p in libs if "libarchive" in p], sorted(libs)
        # The check can fail: emberd does map its other libraries.
        assert [p for p in libs if "libsqlite3" in p], sorted(libs)
        assert e.stop() == 0
    finally:
        e.cleanup()


class EmberdBesideIntake(Emberd):
    """emberd copied into a folder of its own, beside an ember-intake that is the
    given shell script: the one emberd runs is the one next to its binary."""

    def __init__(self, script):
        super().__init__()
        self.bindir = tempfile.mkdtemp(prefix="ember-intake-", dir="/tmp")
        self.emberd = os.path.join(self.bindir, "emberd")
        shutil.copy(EMBERD, self.emberd)
        intake = os.path.join(self.bindir, "ember-intake")
        with open(intake, "w") as f:
            f.write("#!/bin/sh\n" + script)
        os.chmod(intake, stat.S_IRWXU)

    def argv(self):
        return [self.emberd if a == EMBERD else a for a in super().argv()]

    def cleanup(self):
        super().cleanup()
        shutil.rmtree(self.bindir, ignore_errors=True)


@pytest.mark.parametrize("script,words", [
    ("kill -SEGV $$\n", "ember-intake was killed by signal 11"),
    ("cat >/dev/null; echo 'not json'\n", "ember-intake gave no result: not json"),
    ("cat >/dev/null; exit 3\n", "ember-intake exited with 3"),
])
def test_an_intake_that_fails_costs_one_upload(script, words):
    e = EmberdBesideIntake(script).start()
    try:
        b = e.boto3()
        fname = name()
        with pytest.raises(b.exceptions.ServiceException) as ei:
            create(b, fname, simple_zip())
        assert words in ei.value.response["Error"]["Message"]
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        # Nothing of the upload was kept, and emberd goes on serving.
        with pytest.raises(b.exceptions.ResourceNotFoundException):
            b.get_function(FunctionName=fname)
        assert b.list_functions()["Functions"] == []
        assert e.stop() == 0
    finally:
        e.cleanup()


INTAKE = os.path.join(os.path.dirname(EMBERD), "ember-intake")
# What the kernel says a process has, and whether it may make a user namespace
# (exit 159 = 128 + SIGSYS: the seccomp filter killed it), on one line: intake
# reports the last line of mkfs.erofs's stderr.
REPORT = """#!/bin/sh
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\t' ' ' | tr '\\n' ';' >&2
printf 'core %s nofile %s;' "$(ulimit -c)" "$(ulimit -n)" >&2
unshare --user true 2>/dev/null; printf 'unshare %s;' $? >&2
exit 1
"""


def intake(home, zip_bytes, path=None):
    env = dict(os.environ, PATH=path) if path else None
    p = subprocess.run([INTAKE, home, os.path.join(home, "img.erofs"), str(len(zip_bytes))],
                       input=zip_bytes, capture_output=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_the_zip_is_read_with_no_privileges_left(tmp_path):
    """ember-intake confines itself before it reads a byte of the zip, and
    mkfs.erofs, which it runs, inherits all of it. A stand-in mkfs.erofs earlier
    on PATH reports what the kernel says that process has."""
    home, fake = tmp_path / "home", tmp_path / "bin"
    home.mkdir()
    fake.mkdir()
    # Confined, the real intake still works: libarchive, the hash, mkfs.erofs.
    assert intake(str(home), simple_zip())["fault"] == "ok"
    assert (home / "img.erofs").stat().st_size > 0
    # A tree as deep as ZIP_PATH_MAX allows (500 folders) stays within its
    # INTAKE_NOFILE descriptors, in libarchive's walk and in mkfs.erofs.
    deep = "/".join(["d"] * 500) + "/f.py"
    assert intake(str(home), make_zip({deep: (b"x = 1\n", 0o644)}))["fault"] == "ok"
    (fake / "mkfs.erofs").write_text(REPORT)
    (fake / "mkfs.erofs").chmod(0o755)
    res = intake(str(home), simple_zip(), path=f"{fake}:/usr/sbin:/usr/bin:/sbin:/bin")
    assert res["fault"] == "service", res
    msg = res["msg"]
    for want in ("CapEff: 0000000000000000;", "NoNewPrivs: 1;", "Seccomp: 2;",
                 "core 0 nofile 256;", "unshare 159;"):
        assert want in msg, msg
    if os.geteuid() == 0:  # root can clear the bounding set, and does
        assert "CapBnd: 0000000000000000;" in msg, msg
