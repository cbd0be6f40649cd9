"""Code intake runs in a process of its own (ember-intake, api/code/intake.h): emberd
never maps libarchive, and an intake that dies or answers nonsense costs one upload a
clear ServiceException, never emberd. emberd runs on this host; nothing is invoked."""
import os
import shutil
import stat
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
