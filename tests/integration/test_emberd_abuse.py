"""Abuse from inside a jailed function, through emberd (issue 19), while a second
function keeps answering: a handler that never returns, a fork bomb, filling
/tmp, allocating past its memory, spinning every vCPU, flooding vsock with
connections, reaching for the device registers, flooding the console, flooding
the Runtime API with connections.

Each abuse gets the error a Lambda user would see (a timeout, the runtime's
error, or a clean answer saying what failed), and the host stays healthy: the
other function answers every invocation, emberd stays up, and the abusive
function serves again afterwards (its instance replaced where it had to be).
The other function's latency, unloaded and under each abuse, is printed, not
asserted on: time in the testbox is emulated."""
import json
import os
import statistics
import threading
import time

import pytest

from emberd_kvm import EmberdVm, c_bootstrap, reports

PY_RT, C_RT = "python3.12", "provided.al2023"
ABUSE = b'''import ctypes, errno, os, socket, sys, time

def handler(event, context):
    op = event.get("op")
    if op == "hang":
        while True:
            time.sleep(1)
    if op == "forkbomb":
        while True:
            try:
                os.fork()
            except OSError:
                pass
    if op == "fill_tmp":
        n = 0
        try:
            with open("/tmp/fill", "wb") as f:
                while True:
                    f.write(b"x" * (1 << 20))
                    f.flush()
                    n += 1
        except OSError as e:
            got = e.errno
        os.unlink("/tmp/fill")
        return {"errno": got, "mib": n}
    if op == "alloc":
        blob = b"\\x01" * (event["mib"] << 20)
        return {"len": len(blob)}
    if op == "spin":
        end = time.time() + event["s"]
        kids = []
        for _ in range(os.cpu_count() or 1):
            pid = os.fork()
            if pid == 0:
                while time.time() < end:
                    pass
                os._exit(0)
            kids.append(pid)
        while time.time() < end:
            pass
        for pid in kids:
            os.waitpid(pid, 0)
        return {"spun": event["s"], "cpus": os.cpu_count()}
    if op == "console":
        # The function runs unprivileged: the serial console is not its to
        # write (checked); what it can flood is its stdout, the log.
        try:
            open("/dev/console", "w").close()
            console = "writable"
        except OSError as e:
            console = errno.errorcode[e.errno]
        line = "flood " + "x" * 120 + "\\n"
        end = time.time() + event["s"]
        n = 0
        while time.time() < end:
            sys.stdout.write(line * 64)
            sys.stdout.flush()
            n += 64
        return {"lines": n, "console": console}
    if op == "vsock":
        # Connections to every port of the host and of other CIDs as fast as
        # it can: the host side has no listener there, so each is refused.
        end = time.time() + event["s"]
        n, errs = 0, {}
        while time.time() < end:
            for cid in (2, 1, 3, 4):
                s = None
                try:
                    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
                    s.settimeout(1)
                    s.connect((cid, 1024 + n % 60000))
                    s.sendall(b"x" * 65536)  # a flood of data, were it accepted
                    errs["connected"] = errs.get("connected", 0) + 1
                except OSError as e:
                    name = errno.errorcode.get(e.errno, str(e.errno))
                    errs[name] = errs.get(name, 0) + 1
                finally:
                    if s is not None:
                        s.close()
                n += 1
        return {"attempts": n, "errors": errs}
    if op == "mmio":
        # The device registers are reached through /dev/mem or port I/O:
        # neither is the function's to use (it runs unprivileged).
        got = {}
        try:
            open("/dev/mem", "r+b").close()
            got["devmem"] = "opened"
        except OSError as e:
            got["devmem"] = errno.errorcode[e.errno]
        libc = ctypes.CDLL(None, use_errno=True)
        got["iopl"] = "allowed" if libc.iopl(3) == 0 else errno.errorcode[ctypes.get_errno()]
        return got
    if op == "rapi":
        # Connections to the Runtime API (ember-init, PID 1, serves it) until
        # the function runs out of descriptors: PID 1 stops accepting at half
        # of its own limit, so the rest wait in its backlog, costing it nothing.
        host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
        held, errs = [], {}
        while len(held) < event["n"]:
            try:
                held.append(socket.create_connection((host, int(port)), timeout=5))
            except OSError as e:
                name = errno.errorcode.get(e.errno, str(e.errno))
                errs[name] = errs.get(name, 0) + 1
                break
        for c in held:
            c.close()
        return {"opened": len(held), "errors": errs}
    return {"ok": True}
'''
TIMEOUT_S = 30  # the abusive function's Lambda timeout
LATENCIES = {}  # what the module prints at its end


@pytest.fixture(scope="module")
def emberd(kvm):
    # In the testbox, a home on L1's disk: the abuser fills its 512 MiB /tmp
    # disk, whose file must be page cache the kernel can write back, as on a
    # host, not a tmpfs file that stays in its VMM's memory cgroup.
    home = f"/disk/ember-abuse-{os.getpid()}" if kvm.where == "testbox" else None
    e = EmberdVm(kvm, extra=["--memory-budget", "8192", "--keep-warm", "600"], home=home)
    e.create("abuser", PY_RT, "app.handler", {"app.py": (ABUSE, 0o644)}, timeout=TIMEOUT_S)
    e.create("steady", C_RT, "bootstrap", {"bootstrap": (c_bootstrap(), 0o755)})
    ok(e.invoke("abuser", {}))  # both warm (and snapshotted) before any abuse
    ok(e.invoke("steady", {}))
    # 40 unloaded answers, so that the ratios below rest on more than a few.
    LATENCIES["unloaded"] = Steady(e).run_for(40)
    yield e
    base = statistics.median(LATENCIES["unloaded"])
    for what, lat in LATENCIES.items():
        print(f"steady's latency {what}: median {statistics.median(lat):.0f} ms "
              f"({statistics.median(lat) / base:.2f}x unloaded), "
              f"max {max(lat):.0f} ms over {len(lat)} invocations")
    rc = e.stop()
    print(e.proc.text)
    assert rc == 0, e.proc.text[-4000:]


def ok(r):
    status, ferr, body, log, resp = r
    assert status == 200 and ferr is None, (body, log)
    return json.loads(body)


class Steady:
    """Invokes the steady function back to back on a thread; every answer must be right."""

    def __init__(self, e):
        self.e, self.lat, self.errors = e, [], []
        self.stop = threading.Event()

    def _loop(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                got = ok(self.e.invoke("steady", {"n": len(self.lat)}))
                assert got["event"] == {"n": len(self.lat)}, got
                self.lat.append((time.monotonic() - t0) * 1000)
            except Exception as exc:  # reported by the test that runs it
                self.errors.append(repr(exc))
                return

    def start(self):
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()
        return self

    def finish(self):
        self.stop.set()
        self.t.join(600)
        assert not self.t.is_alive(), "the steady function stopped answering"
        assert not self.errors, self.errors
        assert self.lat, "the steady function answered nothing"
        return self.lat

    def run_for(self, n):
        for _ in range(n):
            t0 = time.monotonic()
            ok(self.e.invoke("steady", {}))
            self.lat.append((time.monotonic() - t0) * 1000)
        return self.lat


def abuse(e, name, payload, fn="abuser"):
    """Invokes the abusive function while steady answers; returns its result."""
    steady = Steady(e).start()
    try:
        r = e.invoke(fn, payload)
    finally:
        LATENCIES[name] = steady.finish()
    assert e.status() is not None  # emberd itself answers
    return r


def function_error(r):
    status, ferr, body, log, resp = r
    assert status == 200 and ferr == "Unhandled", body
    return json.loads(body)


def serves_again(e):
    """The abusive function answers afterwards (on a fresh instance if needed)."""
    assert ok(e.invoke("abuser", {})) == {"ok": True}


def test_handler_that_never_returns(emberd):
    err = function_error(abuse(emberd, "hang", {"op": "hang"}))
    assert err["errorType"] == "Sandbox.Timedout", err
    assert f"Task timed out after {TIMEOUT_S}.00 seconds" in err["errorMessage"], err
    serves_again(emberd)


def test_fork_bomb(emberd):
    # The handler never returns: the deadline destroys the instance, unless
    # the guest's OOM killer ends the runtime first (ember-init caps the
    # function's processes with RLIMIT_NPROC, so forks fail rather than
    # multiply; test_guest_hardening.py checks the cap and the cleanup).
    err = function_error(abuse(emberd, "forkbomb", {"op": "forkbomb"}))
    assert err["errorType"] in ("Sandbox.Timedout", "Runtime.ExitError"), err
    serves_again(emberd)


def test_filling_tmp(emberd):
    # A function of its own, with time to write 512 MiB through the emulator
    # (the abuser's 30 s are not enough in the testbox).
    emberd.create("filler", PY_RT, "app.handler", {"app.py": (ABUSE, 0o644)}, timeout=300)
    status, ferr, body, log, _ = abuse(emberd, "fill_tmp", {"op": "fill_tmp"}, fn="filler")
    got = json.loads(body)
    print(f"\nfilling /tmp: {got}")
    # /tmp is a 512 MiB disk of the instance's own (Lambda's ephemeral
    # storage), not guest memory: a 128 MB function fills it to ENOSPC, less
    # the filesystem's own blocks, and goes on.
    assert ferr is None, got
    assert got["errno"] == 28 and 450 <= got["mib"] <= 512, got
    assert ok(emberd.invoke("filler", {})) == {"ok": True}
    # The full disk goes with its instance and its function.
    emberd.boto3().delete_function(FunctionName="filler")


def test_allocating_past_its_memory(emberd):
    r = abuse(emberd, "alloc", {"op": "alloc", "mib": 512})  # MemorySize is 128
    err = function_error(r)
    # Python refuses (MemoryError) or the guest's OOM killer ends the runtime.
    assert err["errorType"] in ("MemoryError", "Runtime.ExitError"), err
    serves_again(emberd)


def test_spinning_every_vcpu(emberd):
    got = ok(abuse(emberd, "spin", {"op": "spin", "s": 10}))
    assert got["spun"] == 10, got
    serves_again(emberd)


def test_flooding_vsock_with_connections_and_data(emberd):
    got = ok(abuse(emberd, "vsock", {"op": "vsock", "s": 10}))
    # Every connection was refused or reset: nothing listens for the guest.
    assert got["attempts"] > 0 and "connected" not in got["errors"], got
    serves_again(emberd)


def test_flooding_the_runtime_api_with_connections(emberd):
    # Up to 3000 held at once: past PID 1's cap (half its descriptors), and
    # past the function's own descriptor limit (then EMFILE, in the function).
    got = ok(abuse(emberd, "rapi", {"op": "rapi", "n": 3000}))
    print(f"\nRuntime API flood: {got}")
    assert got["opened"] > 100, got
    assert set(got["errors"]) <= {"EMFILE", "ENFILE"}, got
    # The runtime's own next /next and /response went through after it: PID 1
    # still serves the Runtime API, on this very instance.
    serves_again(emberd)


def test_garbage_to_the_device_registers_is_not_the_functions_to_write(emberd):
    # What a root guest writing garbage to every register does to ember-vmm
    # is test_hostile_guest.py's; a function cannot reach the registers at all.
    got = ok(abuse(emberd, "mmio", {"op": "mmio"}))
    assert got["devmem"] in ("EACCES", "ENOENT", "EPERM") and got["iopl"] == "EPERM", got
    serves_again(emberd)


LOG_RATE = 2048  # api/pool/pool_priv.h: POOL_LOG_RATE, a unit per short line
GUEST_QUEUE_LINES = ((1 << 20) + (64 << 10)) // 127  # ember-init's queue, the pipe


def test_flooding_the_console(emberd):
    e = emberd
    _, before = e.sh(f"cat {e.home}/logs/abuser/current.log* 2>/dev/null | grep -c '^flood '")
    got = ok(abuse(e, "console", {"op": "console", "s": 10}))
    assert got["lines"] > 0 and got["console"] == "EACCES", got
    # Nothing it wrote is lost: every line is in its log...
    _, after = e.sh(f"cat {e.home}/logs/abuser/current.log* | grep -c '^flood '")
    assert int(after) - int(before or 0) == got["lines"], (before, after, got)
    # ...and it could write only as fast as emberd reads a flooder's lines:
    # its budget for the 10 s, the second's worth saved up, and what the
    # guest's queues hold. (Unread, this flood wrote 172,928 lines here.)
    assert got["lines"] <= LOG_RATE * 11 + GUEST_QUEUE_LINES + 4096, got
    serves_again(e)
