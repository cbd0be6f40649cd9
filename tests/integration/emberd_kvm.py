"""emberd where ember-vmm runs: in the testbox's L1 (or on this host when it has
hardware KVM), started through the `kvm` fixture, its Lambda API forwarded to a
host loopback port so that host-side clients (boto3, the AWS CLI, `ember`) reach
it. Its $EMBER_HOME is on L1's /tmp (a tmpfs): instance folders hold Unix
sockets, which the 9p-shared checkout cannot.

Every wait is on an event with a deadline: emberd's "ready" line, a client's
answer, a log line (`ember logs --follow`)."""
import base64
import json
import os
import re
import subprocess
import threading

from emberd_host import BUILD, EMBER, EMBERD, RUNTIMES, make_zip

READY = re.compile(r"ready: Lambda API on unix:\S+ and http://[\d.]+:(\d+)")
START_TIMEOUT = 120
REPORT = re.compile(r"REPORT RequestId: (\S+)\tDuration: ([\d.]+) ms\tBilled Duration: (\d+) ms\t"
                    r"Memory Size: (\d+) MB\tMax Memory Used: (\d+) MB\t"
                    r"(?:(Init|Restore) Duration: ([\d.]+) ms\t)?$", re.M)


class EmberdVm:
    """One emberd in L1 with its own home; argv extras per test group."""
    count = 0

    def __init__(self, kvm, extra=(), standby=False, home=None):
        EmberdVm.count += 1
        self.kvm = kvm
        tag = f"{os.getpid()}-{EmberdVm.count}"
        self.home = home or f"/tmp/ember-it-{tag}"
        self.pidfile = f"/tmp/ember-it-{tag}.pid"
        # In the testbox, QEMU's port forward arrives on L1's own address, not
        # on its loopback: emberd listens on all of L1's (which reaches nothing
        # but this host: restrict=on) and the guests get the testbox's XSAVE quirk.
        if kvm.where == "testbox":
            where = ["--listen", "0.0.0.0:0", "--listen-any", "--guest-args", "noxsave"]
        else:
            where = ["--listen", "127.0.0.1:0"]
        # Standby VMMs (emberd's default) only where a test asks for them: the
        # others count and kill instances by their folders, and a standby has one.
        argv = [EMBERD, "--home", self.home, "--runtimes", RUNTIMES, "--log-level", "debug",
                *where, *([] if standby else ["--no-standby"]), *extra]
        # stderr into stdout (the fixture streams stdout); the pid for a clean SIGTERM.
        self.proc = kvm.spawn(["/bin/sh", "-c", f'echo $$ > {self.pidfile}; exec "$@" 2>&1',
                               "sh", *argv])
        try:
            self.proc.wait_for("ready: Lambda API", START_TIMEOUT)
            self.port = kvm.forward(int(READY.search(self.proc.text).group(1)))
        except BaseException:
            self.proc.stop()
            raise
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def sh(self, script, timeout=60):
        """A shell command where emberd runs: (returncode, stdout)."""
        r = self.kvm.run(["/bin/sh", "-c", script], timeout=timeout)
        return r.returncode, r.stdout

    def stop(self):
        """SIGTERM: emberd stops every instance and exits 0."""
        self.sh(f"kill -TERM $(cat {self.pidfile})")
        rc = self.proc.wait(120)
        self.sh(f"rm -rf {self.home} {self.pidfile}")
        return rc

    def boto3(self, read_timeout=300):
        import boto3
        from botocore.config import Config
        return boto3.client("lambda", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="x", aws_secret_access_key="x",
                            config=Config(retries={"total_max_attempts": 1},
                                          read_timeout=read_timeout, connect_timeout=30,
                                          max_pool_connections=64))

    def ember(self, *args, timeout=300):
        return subprocess.run([EMBER, "--endpoint", self.endpoint, *args], capture_output=True,
                              text=True, timeout=timeout)

    def create(self, name, runtime, handler, files, memory=128, timeout=60, env=None):
        lam = self.boto3()
        kw = {"Environment": {"Variables": env}} if env else {}
        lam.create_function(FunctionName=name, Runtime=runtime, Handler=handler,
                            Role="arn:aws:iam::000000000000:role/ember-test",
                            Code={"ZipFile": make_zip(files)}, MemorySize=memory,
                            Timeout=timeout, **kw)
        return lam

    def invoke(self, name, payload, tail=True, read_timeout=300):
        """(status, function error or None, body bytes, log tail text, response)."""
        r = self.boto3(read_timeout).invoke(FunctionName=name, Payload=json.dumps(payload),
                                            LogType="Tail" if tail else "None")
        body = r["Payload"].read()
        log = base64.b64decode(r["LogResult"]).decode(errors="replace") if "LogResult" in r \
            else ""
        return r["StatusCode"], r.get("FunctionError"), body, log, r

    def status(self):
        r = self.ember("--json", "status")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def instances(self):
        """{instance id: ember-vmm pid} of every live instance (from their folders)."""
        rc, out = self.sh(f"cd {self.home}/run && for d in *; do [ -f $d/pid ] && "
                          "echo $d $(cat $d/pid); done")
        return {i: int(p) for i, p in (line.split() for line in out.splitlines())}

    def kill(self, inst_id, pid):
        """SIGKILLs one instance's ember-vmm; returns once emberd has seen it go."""
        assert self.sh(f"kill -9 {pid}")[0] == 0
        self.proc.wait_for(f"instance {inst_id} gone", 120)


class LogFollower:
    """`ember logs NAME --follow` on the host; wait() for a line, event-driven."""

    def __init__(self, emberd, name):
        self.p = subprocess.Popen([EMBER, "--endpoint", emberd.endpoint, "logs", name,
                                   "--follow"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append(line)
                self.cv.notify_all()
        with self.cv:
            self.lines.append(None)
            self.cv.notify_all()

    def wait_count(self, needle, n, timeout):
        """Waits until n lines contain needle; fails at the deadline or the end."""
        def count():
            return sum(needle in line for line in self.lines if line is not None)
        with self.cv:
            self.cv.wait_for(lambda: count() >= n or None in self.lines, timeout)
            assert count() >= n, (f"{count()} of {n} {needle!r} lines in {timeout}s: "
                                  f"{''.join(line for line in self.lines if line)}")

    def close(self):
        self.p.kill()
        self.p.wait()


def reports(log):
    """The REPORT lines of a log text, as dicts."""
    out = []
    for m in REPORT.finditer(log):
        out.append({"id": m.group(1), "duration": float(m.group(2)), "billed": int(m.group(3)),
                    "memory": int(m.group(4)), "used": int(m.group(5)),
                    "start": (m.group(6) or "warm").lower(),
                    "init": float(m.group(7)) if m.group(7) else None})
    return out


def c_bootstrap():
    """The provided example's static C bootstrap, built by make."""
    path = os.path.join(BUILD, "examples", "provided", "bootstrap")
    with open(path, "rb") as f:
        return f.read()
