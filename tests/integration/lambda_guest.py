"""Helpers for tests that boot guests in Lambda mode (ember.lambda=1).

A guest gets a runtime image on /dev/vda and a code image on /dev/vdb (erofs,
read-only), and ember-init listens for the guest protocol on vsock port 1024.
The host side is build/bin/gproto-drive, run where ember-vmm runs (in the
testbox, an L1 path); it prints each guest frame as a JSON line, parsed here.
Every wait is on an event (a console line, a frame) with a deadline.
"""
import base64
import json
import os
import shutil
import subprocess

from conftest import skip_here_fail_in_ci
from guest import BASE_CMDLINE, BUILD, INITRAMFS, REPO, VMLINUX, VMM

DRIVE = os.path.join(BUILD, "bin", "gproto-drive")
FN = os.path.join(BUILD, "bin", "guests", "lambda_fn")
WORK = os.path.join(BUILD, "tests", "integration", "lambda_init")
RUNTIMES = os.path.join(BUILD, "runtimes")
PROVIDED = os.path.join(RUNTIMES, "provided.erofs")
BOOT_TIMEOUT = 180
IO_TIMEOUT = 240
CALL_TIMEOUT = 60
CID = 3

# The runtime images' Lambda names, and what the tests of the images send in INIT.
LAMBDA_NAME = {"python": "python3.12", "nodejs": "nodejs20.x", "provided": "provided.al2023"}
FN_TIMEOUT_MS = 60000
ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
LOG_GROUP = "/aws/lambda/my-fn"
LOG_STREAM = "2026/11/27/[$LATEST]0123456789abcdef0123456789abcdef"
SBX_UID, SBX_GID = 993, 990  # sbx_user1051 in the images' /etc/passwd, as on Lambda
RID = "8f5c2a4e-0000-4000-8000-%012x"  # gproto-drive's request ids, by req_id
INVOKE_ARGS = ("--fn-timeout", FN_TIMEOUT_MS, "--arn", ARN)  # the deadline, the invoked ARN
INIT_ARGS = (*INVOKE_ARGS, "--name", "my-fn", "--memory", "256",
             "--log-group", LOG_GROUP, "--log-stream", LOG_STREAM, "--env", "MY_VAR=hello",
             "--env", "SPACED=a b=c")


def mkfs(src, out):
    subprocess.run(["mkfs.erofs", "--quiet", "--all-root", out, src], check=True,
                   capture_output=True)
    return out


def runtime_image(runtime):
    """build/runtimes/<runtime>.erofs, which `make runtimes` (and `make test`) builds."""
    path = os.path.join(RUNTIMES, f"{runtime}.erofs")
    if not os.path.exists(path):
        skip_here_fail_in_ci(f"{path} is missing (make runtimes; make test builds it)")
    if shutil.which("mkfs.erofs") is None:
        skip_here_fail_in_ci("needs mkfs.erofs (erofs-utils) for the code image")
    return path


def wall_ms(kvm):
    """The wall clock, in ms, where ember-vmm and gproto-drive run (which sets the
    deadlines: its clock at INVOKE + the function's timeout)."""
    p = kvm.run(["python3", "-c", "import time; print(time.time_ns() // 1000000)"],
                timeout=CALL_TIMEOUT)
    assert p.returncode == 0, p.stderr
    return int(p.stdout)


def code_image(name, files, work=WORK):
    """files: {relative path: (bytes, mode)}; subdirectories are made."""
    d = os.path.join(work, "code-" + name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for rel, (data, mode) in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)
    return mkfs(d, os.path.join(work, f"code-{name}.erofs"))


def uds(name):
    return f"/tmp/ember-lambda-{os.getpid()}-{name}.sock"


class Vm:
    """ember-vmm booted in Lambda mode, its ember-init listening on vsock 1024."""

    def __init__(self, kvm, name, root, code, extra="", mem_mib=256):
        os.makedirs(WORK, exist_ok=True)
        self.kvm, self.path = kvm, uds(name)
        quirks = " noxsave" if kvm.where == "testbox" else ""
        cmd = f"{BASE_CMDLINE}{quirks} ember.lambda=1 {extra}"
        self.proc = kvm.spawn([VMM, "--kernel", VMLINUX, "--initrd", INITRAMFS, "--cmdline",
                               cmd, "--mem-mib", str(mem_mib), "--drive", root + ",ro",
                               "--drive", code + ",ro", "--vsock", f"{CID},{self.path}"])
        try:
            self.proc.wait_for("listening on vsock port 1024", BOOT_TIMEOUT)
        except BaseException:
            self.proc.stop()
            raise

    def drive(self, *args, rc=0):
        """Runs gproto-drive against this guest; returns its frames (dicts)."""
        p = self.kvm.run([DRIVE, "--uds", self.path, "--timeout", "120", *map(str, args)],
                         timeout=IO_TIMEOUT)
        assert p.returncode == rc, (p.returncode, p.stdout, p.stderr, self.proc.text)
        return [json.loads(line) for line in p.stdout.splitlines()]

    def stop(self):
        self.proc.stop()


def body(msg):
    return base64.b64decode(msg["b64"]) if "b64" in msg else msg["text"].encode()


def of(msgs, type_):
    return [m for m in msgs if m["type"] == type_]
