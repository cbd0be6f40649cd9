"""emberd on this host for the API and CLI tests: no VM is ever started (nothing is
invoked), so these tests need no KVM. Also: real clients (Debian's AWS CLI and boto3),
zips built in Python, and a raw HTTP client for what the SDKs would not send."""
import base64
import hashlib
import http.client
import io
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import zipfile

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
EMBERD = os.path.join(BUILD, "bin", "emberd")
EMBER = os.path.join(BUILD, "bin", "ember")
RUNTIMES = os.path.join(BUILD, "runtimes")
# Debian's AWS CLI (botocore 1.29), not a pyenv one earlier in PATH.
AWS = "/usr/bin/aws"
READY = re.compile(r"ready: Lambda API on unix:(\S+)(?: and http://(\S+))?")
ROLE = "arn:aws:iam::000000000000:role/ember-test"


class Emberd:
    """One emberd with its own $EMBER_HOME; start() waits for its "ready" line."""

    def __init__(self, home=None, extra=()):
        # /tmp, not pytest's tmp_path: the socket path must fit a sockaddr_un.
        self.home = home or tempfile.mkdtemp(prefix="ember-api-", dir="/tmp")
        self.extra = list(extra)
        self.proc = None
        self.lines = queue.Queue()
        self.log = []

    def argv(self):
        # EMBERD_PREFIX="valgrind -q --error-exitcode=9 --leak-check=full" runs the
        # suite under a checker; stop() then fails on any report (exit code 9).
        prefix = os.environ.get("EMBERD_PREFIX", "").split()
        return prefix + [EMBERD, "--home", self.home, "--listen", "127.0.0.1:0", "--no-snapstart",
                "--vmm", "/nonexistent/ember-vmm", "--runtimes", RUNTIMES,
                "--log-level", "debug"] + self.extra

    def start(self, timeout=20):
        self.lines = queue.Queue()
        self.log = []
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def pump(stream, sink):
            for line in iter(stream.readline, b""):
                sink.put(line.decode(errors="replace"))
            sink.put(None)
        threading.Thread(target=pump, args=(self.proc.stderr, self.lines), daemon=True).start()
        try:
            m = self.wait_for(READY, timeout)
        except AssertionError:
            self.kill()
            raise
        self.socket = m.group(1)
        self.endpoint = "http://" + m.group(2)
        self.port = int(m.group(2).rsplit(":", 1)[1])
        return self

    def wait_for(self, pattern, timeout):
        """The first stderr line matching pattern (a regex); fails on exit or deadline."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        for line in self.log:
            m = rx.search(line)
            if m:
                return m
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(f"emberd: no {rx.pattern!r} in {timeout}s; "
                                     f"log: {''.join(self.log)}")
            if line is None:
                raise AssertionError(f"emberd exited ({self.proc.wait()}) before "
                                     f"{rx.pattern!r}; log: {''.join(self.log)}")
            self.log.append(line)
            m = rx.search(line)
            if m:
                return m

    def stop(self, timeout=20):
        """SIGTERM, and emberd must exit cleanly (0) within timeout."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.home, ignore_errors=True)

    def env(self):
        """The environment for Debian's AWS CLI against this emberd."""
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("AWS_"):
                del env[k]
        env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
                   AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="",
                   AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                   AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard")
        return env

    def aws(self, *args, check=True, timeout=120):
        """aws lambda ARGS... --endpoint-url this: (returncode, parsed stdout or None, stderr)."""
        r = subprocess.run([AWS, "lambda", *args, "--endpoint-url", self.endpoint,
                            "--output", "json"], capture_output=True, text=True,
                           env=self.env(), timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"aws lambda {' '.join(args)}: rc {r.returncode}: {r.stderr}")
        out = json.loads(r.stdout) if r.stdout.strip() else None
        return r.returncode, out, r.stderr

    def boto3(self):
        import boto3
        from botocore.config import Config
        return boto3.client("lambda", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="x", aws_secret_access_key="x",
                            config=Config(retries={"total_max_attempts": 1},
                                          read_timeout=120))

    def http(self, method, path, body=None, headers=None, unix=False):
        """One raw request: (status, headers dict lower-cased, body bytes)."""
        if unix:
            conn = UnixHTTPConnection(self.socket)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def ember(self, *args, endpoint=False, input=None, timeout=120):
        """The ember CLI against this emberd (its socket, or --endpoint)."""
        argv = [EMBER] + (["--endpoint", self.endpoint] if endpoint else ["--home", self.home])
        return subprocess.run(argv + list(args), capture_output=True, text=True, input=input,
                              timeout=timeout)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def make_zip(files, symlinks=(), compress=True):
    """A zip as bytes: files {name: (data, mode)}, symlinks [(name, target)]."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = method
            z.writestr(info, data)
        for name, target in symlinks:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o120777) << 16
            z.writestr(info, target)
    return buf.getvalue()


BOOTSTRAP = b"#!/bin/sh\nwhile true; do sleep 1; done\n"


def simple_zip():
    return make_zip({"bootstrap": (BOOTSTRAP, 0o755), "app.py": (b"def h(e, c):\n    return e\n", 0o644)})


def code_sha256(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


STANDIN = os.path.join(BUILD, "bin", "standin-vmm")


class StandinEmberd(Emberd):
    """emberd with SnapStart on and the stand-in VMM (tests/drivers/standin_vmm.c) as its
    VMM, for the benchmark tool's tests only (behaviour tests use real VMs): it answers
    INIT and INVOKE and takes snapshots with no guest. runtimes_dir() makes the runtimes
    folder it reads (the stand-in opens no image)."""

    def argv(self):
        return [EMBERD, "--home", self.home, "--listen", "127.0.0.1:0", "--no-jail",
                "--vmm", STANDIN, "--kernel", "/dev/null", "--initrd", "/dev/null",
                "--runtimes", self.runtimes, "--memory-budget", "4096", "--keep-warm", "3600",
                "--log-level", "info"] + self.extra

    @staticmethod
    def runtimes_dir(path):
        with open(os.path.join(REPO, "runtimes", "runtimes.json")) as f:
            (path / "runtimes.json").write_text(f.read())
        for n in ("python", "nodejs", "provided"):
            (path / f"{n}.erofs").write_bytes(b"")
        return str(path)

