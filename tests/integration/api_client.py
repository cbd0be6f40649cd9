"""A small Firecracker-API client over a Unix socket (Python's http.client), and an
ember-vmm launcher for the host: the API's validation needs no guest."""
import http.client
import json
import os
import re
import select
import socket
import subprocess
import time

from guest import BUILD, REPO, VMM


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def call(sock_path, method, path, body=None, headers=None):
    """One request on a fresh connection: (status, parsed JSON or None, raw body)."""
    conn = UnixHTTPConnection(sock_path)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return r.status, parsed, raw
    finally:
        conn.close()


def fault(resp):
    status, body, raw = resp
    assert status == 400, resp
    assert isinstance(body, dict) and set(body) == {"fault_message"}, resp
    return body["fault_message"]


class HostVmm:
    """ember-vmm --api-sock on this host, with stderr read line by line."""

    def __init__(self, tmpdir, *extra, sock=None):
        self.sock = sock or os.path.join(str(tmpdir), "api.sock")
        self.proc = subprocess.Popen([VMM, "--api-sock", self.sock, *extra],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.err = b""
        self.wait_log("API listening on", 10)

    def wait_log(self, needle, timeout):
        deadline = time.monotonic() + timeout
        while needle.encode() not in self.err:
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stderr], [], [], max(0, left))
            chunk = os.read(self.proc.stderr.fileno(), 65536) if r else b""
            if not chunk:
                raise AssertionError(f"no {needle!r} from ember-vmm: {self.err!r}")
            self.err += chunk
        return self.err.decode(errors="replace")

    def call(self, method, path, body=None, headers=None):
        return call(self.sock, method, path, body, headers)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        rc = self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc


DOC = os.path.join(REPO, "vmm", "api", "API.md")
BLOCK = re.compile(r"```api (pre|running)\n(.*?)```", re.S)


def doc_examples(kind, subst):
    """The doc's ```api <kind> blocks: (method, path, body or None, status, expected)."""
    text = open(DOC).read()
    out = []
    for m in BLOCK.finditer(text):
        if m.group(1) != kind:
            continue
        lines = [l for l in m.group(2).splitlines() if l.strip()]
        for k, v in subst.items():
            lines = [l.replace(k, v) for l in lines]
        method, path, *rest = lines[0].split(" ", 2)
        status, _, expected = lines[1].partition(" ")
        out.append((method, path, rest[0] if rest else None, int(status), expected))
    return out


def doc_routes():
    """The doc's endpoint table: (method, path) pairs."""
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", open(DOC).read(), re.M)
    return [(m, p) for m, p in rows]


def check_example(resp, status, expected):
    got_status, body, raw = resp
    assert got_status == status, (resp, expected)
    if not expected:
        return
    if status == 400:
        assert expected in fault(resp), (resp, expected)
    else:
        assert body == json.loads(expected), (resp, expected)


# --- where KVM is (the testbox here): curl --unix-socket and a spawned ember-vmm ---

CALL_TIMEOUT = 60
SPAWN_TIMEOUT = 120


def curl(kvm, sock, method, path, body=None):
    """(status, parsed JSON or None, raw body) of one curl call where ember-vmm runs."""
    argv = ["curl", "-sS", "--unix-socket", sock, "-X", method, "-w", "\\n%{http_code}",
            f"http://localhost{path}"]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", body]
    p = kvm.run(argv, timeout=CALL_TIMEOUT)
    assert p.returncode == 0, (argv, p.stderr)
    raw, _, code = p.stdout.rpartition("\n")
    try:
        parsed = json.loads(raw) if raw.strip() else None
    except ValueError:
        parsed = None
    return int(code), parsed, raw


def spawn_api_vmm(kvm, sock, *extra, cwd="/"):
    """ember-vmm --api-sock SOCK, stdout and stderr together, once it listens.
    cwd matters for relative paths in its config (a vsock uds_path)."""
    vm = kvm.spawn(["sh", "-c", 'cd "$1" && shift && exec "$0" --api-sock "$@" 2>&1', VMM,
                    cwd, sock, *extra])
    vm.wait_for("API listening on", SPAWN_TIMEOUT)
    return vm


