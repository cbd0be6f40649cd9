"""emberd's lifecycle on this host, without VMs (issue 20): the event queue survives
SIGTERM and SIGKILL (events are durable before their 202), a second emberd on a
home is refused, SIGHUP reopens --log-file, and `make install` lays out a tree
whose systemd unit passes `systemd-analyze verify`.

The stand-in for a VM here is none at all (--vmm /nonexistent): an event can
never run, so it stays queued; what runs events is test_emberd_async*.py."""
import http.client
import os
import pathlib
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading

import botocore.exceptions
import pytest

from emberd_host import BUILD, REPO, ROLE, Emberd, make_zip, simple_zip


@pytest.fixture
def home():
    h = tempfile.mkdtemp(prefix="ember-life-", dir="/tmp")
    yield h
    shutil.rmtree(h, ignore_errors=True)


def queued_at_start(e):
    m = e.wait_for(r"async: (\d+) events queued \((\d+) were running", 20)
    return int(m.group(1)), int(m.group(2))


def send_events(e, name, n):
    b = e.boto3()
    ids = []
    for i in range(n):
        r = b.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"i": %d}' % i)
        assert r["StatusCode"] == 202
        ids.append(r["ResponseMetadata"]["RequestId"])
    return ids


def test_queue_survives_sigterm_and_sigkill(home):
    e = Emberd(home=home, extra=["--async-retry-base", "10"]).start()
    try:
        assert queued_at_start(e) == (0, 0)
        e.boto3().create_function(FunctionName="q", Runtime="python3.12", Handler="app.h",
                                  Role=ROLE, Code={"ZipFile": simple_zip()})
        ids = send_events(e, "q", 5)
        assert len(set(ids)) == 5
        assert e.stop() == 0  # SIGTERM: drains and exits 0; the queue stays on disk
        e.start()
        assert queued_at_start(e) == (5, 0)
        send_events(e, "q", 2)
        e.kill()  # SIGKILL: every 202 was durable
        e.start()
        queued, running = queued_at_start(e)
        # An event the dispatcher was trying (and failing) to start may have
        # been marked running: it is queued again all the same.
        assert queued == 7 and running <= 4, (queued, running)
        # DeleteFunction drops its queue.
        e.boto3().delete_function(FunctionName="q")
        assert e.stop() == 0
        e.start()
        assert queued_at_start(e) == (0, 0)
    finally:
        e.kill()


def test_second_emberd_on_a_home_is_refused(home):
    e = Emberd(home=home).start()
    try:
        r = subprocess.run(Emberd(home=home).argv(), capture_output=True, text=True,
                           timeout=20)
        assert r.returncode == 1
        assert f"--home {home}: another emberd is using it" in r.stderr
        assert e.proc.poll() is None
    finally:
        assert e.stop() == 0


def test_sighup_reopens_the_log_file(home):
    log = os.path.join(home, "emberd.log")
    argv = Emberd(home=home, extra=["--log-file", log]).argv()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # tail -F follows the name across the rename: each line arrives as an event.
    tail = subprocess.Popen(["tail", "-F", "-n", "+1", log], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in tail.stdout], daemon=True).start()

    def wait_line(pattern):
        while True:
            line = lines.get(timeout=20)
            if re.search(pattern, line):
                return line
    try:
        wait_line(r"ready: Lambda API")
        os.rename(log, log + ".1")
        p.send_signal(signal.SIGHUP)
        wait_line(r"SIGHUP: reopened")
        with open(log) as f:
            assert "SIGHUP: reopened" in f.read()
        with open(log + ".1") as f:
            old = f.read()
        assert "ready: Lambda API" in old and "SIGHUP" not in old
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0
        assert p.stderr.read() == b""  # every line went to the file
    finally:
        tail.kill()
        if p.poll() is None:
            p.kill()
        p.wait()


def test_make_install_and_the_unit(tmp_path):
    """PREFIX and DESTDIR are honoured; the installed emberd finds its files; the
    unit verifies (a wrong ExecStart path is an error there)."""
    build = os.path.relpath(BUILD, REPO)
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", f"BUILD={build}", "install", f"DESTDIR={dest}",
                        "PREFIX=/usr"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    lib = dest / "usr/lib/ember"
    for rel in ("bin/emberd", "bin/ember", "bin/ember-vmm", "guest/vmlinux",
                "guest/initramfs.cpio", "runtimes/runtimes.json", "runtimes/python.erofs"):
        assert (lib / rel).is_file(), rel
    assert os.readlink(dest / "usr/bin/ember") == "../lib/ember/bin/ember"
    unit = (dest / "usr/lib/systemd/system/ember.service").read_text()
    assert "ExecStart=/usr/lib/ember/bin/emberd " in unit
    # Every instance is jailed by default: the jailer makes cgroups (so the
    # cgroup tree is writable and delegated) and device nodes the unit allows.
    assert "ProtectControlGroups=yes" not in unit and "Delegate=yes" in unit
    for dev in ("/dev/kvm rw", "/dev/userfaultfd rw"):
        assert f"DeviceAllow={dev}\n" in unit, dev
    # PREFIX alone: the unit's paths exist, so systemd-analyze can check them.
    prefix = tmp_path / "prefix"
    r = subprocess.run(["make", "-s", f"BUILD={build}", "install", f"PREFIX={prefix}"],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    unit_path = prefix / "lib/systemd/system/ember.service"
    v = subprocess.run(["systemd-analyze", "verify", str(unit_path)], capture_output=True,
                       text=True, timeout=60)
    assert v.returncode == 0 and v.stderr == "" and v.stdout == "", v.stdout + v.stderr
    # The installed emberd, through its link, finds its VM files next to itself.
    h = tempfile.mkdtemp(prefix="ember-inst-", dir="/tmp")
    try:
        p = subprocess.Popen([str(prefix / "bin/emberd"), "--home", h, "--listen",
                              "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if "ready: Lambda API" in line or "error" in line:
                break
        assert "ready: Lambda API" in line, line
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0
    finally:
        shutil.rmtree(h, ignore_errors=True)
    # The same unit with its binary missing fails the check.
    broken = unit_path.read_text().replace(f"ExecStart={prefix}/lib/ember/bin/emberd",
                                           "ExecStart=/nonexistent/emberd")
    unit_path.write_text(broken)
    v = subprocess.run(["systemd-analyze", "verify", str(unit_path)], capture_output=True,
                       text=True, timeout=60)
    assert v.returncode != 0



def fill(path):
    """Writes zeros into path until the file system is full."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
        try:
            os.fsync(f.fileno())
        except OSError:
            pass


def test_full_disk_gives_clear_errors_and_loses_nothing(tmp_path):
    """$EMBER_HOME on a small tmpfs that fills up: a code upload and an Event
    get clear errors (nothing half-written, no false 202), emberd keeps
    serving, and every event accepted before is still queued after a restart."""
    # A short path: a jailed instance's sockets must fit sun_path under it.
    h = pathlib.Path(tempfile.mkdtemp(prefix="ember-full-", dir="/tmp"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(h)], check=True)
    try:
        e = Emberd(home=str(h)).start()
        try:
            b = e.boto3()
            b.create_function(FunctionName="d", Runtime="python3.12", Handler="app.h",
                              Role=ROLE, Code={"ZipFile": simple_zip()})
            sha = b.get_function(FunctionName="d")["Configuration"]["CodeSha256"]
            send_events(e, "d", 3)
            filler = h / "filler"
            fill(filler)
            big = make_zip({"blob.bin": (os.urandom(8 << 20), 0o644),
                            "app.py": (b"def h(e, c):\n    return 1\n", 0o644)})
            try:
                b.update_function_code(FunctionName="d", ZipFile=big)
                raise AssertionError("a code upload onto a full disk succeeded")
            except botocore.exceptions.ClientError as ex:
                err = ex.response["Error"]
                print("code upload:", err)
                assert ex.response["ResponseMetadata"]["HTTPStatusCode"] >= 400
                assert "space" in err["Message"].lower(), err
            # The old code stands; the API still answers.
            assert b.get_function(FunctionName="d")["Configuration"]["CodeSha256"] == sha
            try:
                r = b.invoke(FunctionName="d", InvocationType="Event", Payload=b"{}")
                accepted_full = r["StatusCode"] == 202
            except botocore.exceptions.ClientError as ex:
                print("event on a full disk:", ex.response["Error"])
                assert ex.response["ResponseMetadata"]["HTTPStatusCode"] == 500
                assert "No space left on device" in ex.response["Error"]["Message"]
                accepted_full = False
            filler.unlink()
            send_events(e, "d", 1)
            assert e.stop() == 0
            e.start()
            assert queued_at_start(e)[0] == 4 + int(accepted_full)
        finally:
            e.kill()
    finally:
        subprocess.run(["umount", "-l", str(h)], check=False)
        h.rmdir()


def test_sigterm_drain_waits_then_answers_what_still_runs(home, tmp_path):
    """SIGTERM with an invocation running (here: its VM never gets ready):
    requests on open connections get 500 at once, the drain waits for
    --drain-timeout, the waiting caller gets 500 "emberd is stopping" (not a
    reset), and emberd exits 0."""
    fifo = tmp_path / "spawned"
    os.mkfifo(fifo)
    vmm = tmp_path / "never-ready-vmm"
    vmm.write_text(f"#!/bin/sh\necho spawned > {fifo}\nexec sleep 600\n")
    vmm.chmod(0o755)
    e = Emberd(home=home, extra=["--no-jail", "--vmm", str(vmm), "--drain-timeout", "2"]).start()
    try:
        e.boto3().create_function(FunctionName="slow", Runtime="python3.12", Handler="app.h",
                                  Role=ROLE, Code={"ZipFile": simple_zip()})
        keep = http.client.HTTPConnection("127.0.0.1", e.port, timeout=60)
        keep.request("GET", "/metrics")
        assert keep.getresponse().read()
        got = {}

        def invoke():
            c = http.client.HTTPConnection("127.0.0.1", e.port, timeout=60)
            c.request("POST", "/2015-03-31/functions/slow/invocations", body=b"{}")
            r = c.getresponse()
            got["status"], got["body"] = r.status, r.read()
        t = threading.Thread(target=invoke)
        t.start()
        with open(fifo) as f:  # blocks until emberd started the VM for it
            assert f.read() == "spawned\n"
        e.proc.send_signal(signal.SIGTERM)
        e.wait_for(r"signal 15: draining: no new requests or events; 1 invocations running", 10)
        keep.request("POST", "/2015-03-31/functions/slow/invocations", body=b"{}")
        r = keep.getresponse()
        assert r.status == 500 and b"emberd is stopping" in r.read()
        t.join(30)
        assert got["status"] == 500, got
        assert b"emberd is stopping: the invocation did not finish within the drain timeout" \
            in got["body"]
        e.wait_for(r"drain: 1 invocations still running after 2\.0 s", 10)
        assert e.proc.wait(30) == 0
    finally:
        e.kill()
