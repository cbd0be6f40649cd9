"""Firecracker's control API on ember-vmm, before InstanceStart (issue 6).

Validation needs no guest, so these tests run ember-vmm --api-sock on this
host directly (no KVM ioctl happens before InstanceStart). A real HTTP client
(http.client over the Unix socket) drives it. Anything that boots a guest is
in test_api_boot.py.
"""
import json
import os
import socket
import subprocess

import pytest

from api_client import (VMM, HostVmm, UnixHTTPConnection, call, check_example, doc_examples,
                        doc_routes, fault)
from guest import INITRAMFS, VMLINUX

EXIT_CONFIG = 1
METHODS = ("GET", "PUT", "PATCH", "POST", "DELETE")


@pytest.fixture
def vmm(tmp_path):
    v = HostVmm(tmp_path)
    yield v
    v.stop()


def subst(tmp_path):
    return {"@VMLINUX@": VMLINUX, "@INITRAMFS@": INITRAMFS, "@TMP@": str(tmp_path)}


@pytest.mark.quick
def test_doc_examples_before_start(vmm, tmp_path):
    """Every `api pre` example in vmm/api/API.md, in order, gives the documented answer."""
    examples = doc_examples("pre", subst(tmp_path))
    assert len(examples) >= 20
    for method, path, body, status, expected in examples:
        check_example(vmm.call(method, path, body), status, expected)
    assert vmm.alive()
    # The documented FlushMetrics wrote one line with the API counters.
    line = json.loads(open(tmp_path / "metrics.json").read().splitlines()[-1])
    assert line["api_requests"]["PUT /machine-config"] >= 4
    assert line["api_requests"]["errors"] >= 10


def test_doc_endpoint_table_matches_server(vmm):
    """Each documented method+path is routed; every other method on it is refused."""
    routes = doc_routes()
    assert len(routes) == 17
    paths = {p for _, p in routes}
    for path in paths:
        concrete = path.replace("{drive_id}", "x")
        documented = {m for m, p in routes if p == path}
        for method in METHODS:
            status, body, raw = vmm.call(method, concrete, "{}" if method != "GET" else None)
            msg = (body or {}).get("fault_message", "")
            if method in documented:
                assert "Invalid request method" not in msg, (method, path, msg)
            else:
                assert status == 400 and msg.startswith("Invalid request method"), \
                    (method, path, status, raw)


BAD_BODIES = [
    # (endpoint, body, text the fault_message must contain)
    ("PUT /machine-config", '{"vcpu_count": 1, "mem_size_mib": 128', "JSON"),
    ("PUT /machine-config", '[1, 2]', "object"),
    ("PUT /machine-config", '{"vcpu_count": true, "mem_size_mib": 128}', "vcpu_count"),
    ("PUT /machine-config", '{"vcpu_count": 0, "mem_size_mib": 128}', "vcpu_count"),
    ("PUT /machine-config", '{"vcpu_count": 1, "mem_size_mib": 16}', "mem_size_mib"),
    ("PUT /machine-config", '{"vcpu_count": 1, "mem_size_mib": 128, "smt": true}', "smt"),
    ("PUT /machine-config", '{"vcpu_count": 1, "mem_size_mib": 128, "x": 1}', "x"),
    ("PUT /machine-config", '{"mem_size_mib": 128}', "vcpu_count"),
    ("PATCH /machine-config", '{"vcpu_count": -1}', "vcpu_count"),
    ("PATCH /machine-config", '{"huge": 1}', "huge"),
    ("PUT /boot-source", '{}', "kernel_image_path"),
    ("PUT /boot-source", '{"kernel_image_path": 5}', "kernel_image_path"),
    ("PUT /boot-source", '{"kernel_image_path": "/k", "initrd": "/i"}', "initrd"),
    ("PUT /drives/a", '{"drive_id": "a", "path_on_host": "/x"}', "is_root_device"),
    ("PUT /drives/a", '{"drive_id": "a", "path_on_host": "/x", "is_root_device": "no"}',
     "is_root_device"),
    ("PUT /drives/a-b", '{"drive_id": "a-b", "path_on_host": "/x", "is_root_device": false}',
     "drive_id"),
    ("PUT /vsock", '{"uds_path": "/tmp/v"}', "guest_cid"),
    ("PUT /vsock", '{"guest_cid": 4294967295, "uds_path": "/tmp/v"}', "guest_cid"),
    ("PUT /vsock", '{"guest_cid": 3, "uds_path": "' + "u" * 200 + '"}', "uds_path"),
    ("PUT /entropy", '{"rate": 1}', "rate"),
    ("PUT /logger", '{"level": 3}', "level"),
    ("PUT /logger", '{"show_level": "yes"}', "show_level"),
    ("PUT /metrics", '{}', "metrics_path"),
    ("PUT /actions", '{}', "action_type"),
    ("PUT /actions", '{"action_type": "InstanceStart", "extra": 1}', "extra"),
    ("PATCH /vm", '{"state": "Paused"}', "before starting"),
    ("PUT /snapshot/create", '{"snapshot_path": "/s", "mem_file_path": "/m"}', "before starting"),
    ("PUT /snapshot/load", '{"snapshot_path": "/s"}', "mem_backend"),
    ("PUT /snapshot/load", '{"snapshot_path": "/s", "mem_backend": {"backend_type": "Uffd"}}',
     "backend_path"),
    ("PUT /machine-config", '{"vcpu_count": 1, "mem_size_mib": 128}\x00', "NUL"),
    ("PUT /machine-config", ' ', "JSON"),
    # Firecracker's checks of the request's shape, whatever the path.
    ("PUT /machine-config", '', "Empty PUT request."),
    ("PUT /nowhere", '', "Empty PUT request."),
    ("PATCH /machine-config", '', "Empty PATCH request."),
    ("PATCH /machine-config", '{}', "Empty PATCH request."),
    ("PATCH /machine-config", '{"vcpu_count": null, "huge_pages": null}', "Empty PATCH request."),
    ("PATCH /vm", '', "Empty PATCH request."),
    ("GET /machine-config", '{}', "GET request cannot have a body."),
    ("GET /nowhere", 'x', "GET request cannot have a body."),
    ("PUT /machine-config", '{"vcpu_count": 1, "mem_size_mib": 129, "huge_pages": "2M"}',
     "mem_size_mib"),
    ("PUT /machine-config", '{"vcpu_count": 1, "mem_size_mib": 130, "huge_pages": "2m"}',
     "huge_pages"),
]


@pytest.mark.quick
@pytest.mark.parametrize("endpoint,body,needle", BAD_BODIES,
                         ids=[f"{e} {b[:24]}" for e, b, _ in BAD_BODIES])
def test_bad_bodies_are_refused_precisely(vmm, endpoint, body, needle):
    method, path = endpoint.split(" ")
    msg = fault(vmm.call(method, path, body))
    assert needle in msg, msg
    assert vmm.alive()
    # The refused body changed nothing.
    status, cfg, _ = vmm.call("GET", "/machine-config")
    assert (status, cfg["vcpu_count"], cfg["mem_size_mib"], cfg["huge_pages"]) == \
        (200, 1, 128, "None")


def raw_exchange(sock, data):
    """Sends raw bytes on a fresh connection and reads until the server closes
    (or 10 s pass): the bytes of its answer."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    try:
        s.sendall(data)
    except OSError:
        pass  # the server may answer and close before taking all of it
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    s.close()
    return out


def test_body_over_the_limit_is_a_json_fault(vmm):
    """Over 51,200 bytes: 400 with Firecracker's message, as JSON."""
    body = '{"vcpu_count": 1, "mem_size_mib": 128' + " " * (51201 - 38) + "}"
    assert len(body) == 51201
    msg = fault(vmm.call("PUT", "/machine-config", body))
    assert msg == ("Request payload with size 51201 is larger than the limit of 51200 "
                   "allowed by server."), msg
    # The same through curl, as a Firecracker user would send it.
    p = subprocess.run(["curl", "-sS", "--unix-socket", vmm.sock, "-X", "PUT",
                        "-H", "Content-Type: application/json", "--data-binary", "@-",
                        "-w", "\\n%{http_code} %{content_type}", "http://localhost/machine-config"],
                       input=body.encode(), capture_output=True, timeout=30)
    raw, _, tail = p.stdout.decode().rpartition("\n")
    assert tail == "400 application/json", (tail, raw)
    assert json.loads(raw)["fault_message"] == msg
    # Exactly at the limit is read, and judged by the schema.
    assert vmm.call("PUT", "/machine-config", body[:38] + body[39:])[0] == 204
    # libevent's own ceiling (server.h): refused from the header alone, as HTML.
    reply = raw_exchange(vmm.sock, b"PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 1048577\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert vmm.alive()
    status, cfg, _ = vmm.call("GET", "/machine-config")
    assert (status, cfg["vcpu_count"]) == (200, 1)


def test_header_limits_are_json_faults(vmm):
    hdrs = {f"X-H{i}": "v" for i in range(40)}
    assert fault(vmm.call("GET", "/", headers=hdrs)).startswith("too many request headers: 4")
    msg = fault(vmm.call("GET", "/", headers={"X-Big": "a" * 9000}))
    assert "the limit is 8192" in msg, msg
    # Just under: served.
    assert vmm.call("GET", "/", headers={"X-Big": "a" * 7000})[0] == 200
    # Over libevent's own ceiling (64 KiB) evhttp answers by itself (server.h).
    reply = raw_exchange(vmm.sock, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply
    assert vmm.call("GET", "/")[0] == 200


# Every kind of refusal the server makes itself, as a client sends it.
REFUSALS = [
    ("GET", "/no-such-path", None, {}, "Invalid request method"),
    ("DELETE", "/machine-config", None, {}, "Invalid request method"),
    ("POST", "/actions", '{"action_type": "InstanceStart"}', {}, "Invalid request method"),
    ("PUT", "/balloon", "{}", {}, "not supported by ember-vmm"),
    ("PUT", "/machine-config", "{", {}, "JSON"),
    ("PUT", "/machine-config", "x" * 51201, {}, "larger than the limit"),
    ("GET", "/", None, {"X-Big": "a" * 9000}, "the limit is 8192"),
    ("GET", "/", None, {f"X-H{i}": "v" for i in range(33)}, "too many request headers"),
    ("GET", "/", "{}", {}, "GET request cannot have a body."),
    ("PATCH", "/vm", '{"state": "Paused"}', {}, "not supported before starting"),
    ("PUT", "/actions", '{"action_type": "SendCtrlAltDel"}', {}, "before starting"),
    ("PUT", "/actions", '{"action_type": "InstanceStart"}', {}, "InstanceStart failed"),
]


@pytest.mark.parametrize("method,path,body,headers,needle", REFUSALS,
                         ids=[f"{m} {p} {n}" for m, p, _, _, n in REFUSALS])
def test_every_refusal_is_json(vmm, method, path, body, headers, needle):
    """400, Content-Type application/json, a body of exactly {"fault_message"}."""
    conn = UnixHTTPConnection(vmm.sock)
    try:
        hdrs = dict(headers)
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        assert r.status == 400, (r.status, raw)
        assert r.getheader("Content-Type") == "application/json", r.getheaders()
        parsed = json.loads(raw)
        assert set(parsed) == {"fault_message"} and needle in parsed["fault_message"], parsed
    finally:
        conn.close()
    assert vmm.call("GET", "/")[0] == 200


API_TIMEOUT_S = 10  # vmm/api/server.c: an idle or half-sent request is dropped after this


def test_stalled_client_does_not_block_others(vmm):
    """A client that sends half a request holds nothing: others are served while
    it is still connected, and it is dropped after the API's timeout, unanswered."""
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(vmm.sock)
    stalled.sendall(b"PUT /machine-config HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"vcpu")
    for _ in range(20):
        assert vmm.call("GET", "/")[0] == 200
    # Still connected: a server that waited on the stalled client would have
    # served the others only after dropping it. (20 local requests take
    # milliseconds; the API's 10 s timeout is what this relies on.)
    stalled.setblocking(False)
    try:
        early = stalled.recv(4096)
    except BlockingIOError:
        early = None
    assert early is None, f"the stalled connection was answered or closed early: {early!r}"
    # Then it is closed, and nothing was ever sent on it. The deadline only
    # guards against a hang: three times the API's timeout.
    stalled.settimeout(3 * API_TIMEOUT_S)
    got = b""
    while True:
        chunk = stalled.recv(4096)
        if not chunk:
            break
        got += chunk
    stalled.close()
    assert got == b"", f"the stalled request was answered: {got!r}"
    assert vmm.alive()


def test_failed_instance_start_leaves_vm_configurable(vmm, tmp_path):
    not_a_kernel = tmp_path / "not-a-kernel"
    not_a_kernel.write_bytes(b"\x7fELF" + b"\0" * 200)
    assert vmm.call("PUT", "/boot-source", {"kernel_image_path": str(not_a_kernel)})[0] == 204
    msg = fault(vmm.call("PUT", "/actions", {"action_type": "InstanceStart"}))
    assert msg.startswith("InstanceStart failed:") and "not-a-kernel" in msg, msg
    assert vmm.call("GET", "/")[1]["state"] == "Not started"
    assert vmm.call("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})[0] == 204


def test_instance_start_without_boot_source(vmm):
    msg = fault(vmm.call("PUT", "/actions", {"action_type": "InstanceStart"}))
    assert "kernel" in msg, msg
    assert vmm.alive()


def test_drives_put_replaces_and_orders(vmm, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(b"\0" * 4096)
    for i, name in enumerate(("a", "b", "a")):
        assert vmm.call("PUT", f"/drives/{name}", {
            "drive_id": name, "path_on_host": str(tmp_path / name),
            "is_root_device": i == 2, "is_read_only": True})[0] == 204
    drives = vmm.call("GET", "/vm/config")[1]["drives"]
    assert [d["drive_id"] for d in drives] == ["a", "b"]
    assert drives[0]["is_root_device"] and not drives[1]["is_root_device"]
    msg = fault(vmm.call("PUT", "/drives/b", {"drive_id": "b", "path_on_host": str(tmp_path / "b"),
                                              "is_root_device": True, "is_read_only": True}))
    assert "root device" in msg


def test_logger_writes_firecracker_shaped_lines(vmm, tmp_path):
    log = tmp_path / "vmm.log"
    assert vmm.call("PUT", "/logger", {"log_path": str(log), "level": "Info",
                                       "show_level": True, "show_log_origin": True})[0] == 204
    fault(vmm.call("GET", "/no-such-path"))
    line = log.read_text().splitlines()[-1]
    assert "[ember-vmm:INFO:vmm/api/routes.c:" in line and "GET /no-such-path" in line, line
    assert "already configured" in fault(vmm.call("PUT", "/logger", {"level": "Debug"}))


def test_live_socket_is_refused_stale_socket_replaced(tmp_path):
    first = HostVmm(tmp_path)
    try:
        p = subprocess.run([VMM, "--api-sock", first.sock], capture_output=True, text=True,
                           timeout=10)
        assert p.returncode == EXIT_CONFIG and "in use" in p.stderr, p
        assert first.call("GET", "/")[0] == 200
    finally:
        first.proc.kill()
        first.proc.wait()
    assert os.path.exists(first.sock)  # SIGKILL left it behind: stale
    second = HostVmm(tmp_path)
    try:
        assert "replacing a stale socket" in second.err.decode()
        assert second.call("GET", "/")[0] == 200
    finally:
        second.stop()
    assert not os.path.exists(second.sock)


def test_socket_path_is_another_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    p = subprocess.run([VMM, "--api-sock", str(f)], capture_output=True, text=True, timeout=10)
    assert p.returncode == EXIT_CONFIG and "not a socket" in p.stderr, p
    assert f.read_text() == "x"


@pytest.mark.parametrize("argv,needle", [
    (["--no-api"], "nothing to boot"),
    (["--no-api", "--api-sock", "/tmp/x"], "contradict"),
    (["--config-file", "/nonexistent.json"], "/nonexistent.json"),
    (["--config-file", "/dev/null", "--kernel", "/k"], "one or the other"),
])
def test_command_line_errors(argv, needle):
    p = subprocess.run([VMM, *argv], capture_output=True, text=True, timeout=10)
    assert p.returncode == EXIT_CONFIG and needle in p.stderr, p
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr


@pytest.mark.parametrize("doc,needle", [
    ('{"boot-source": {"kernel_image_path": "/k"}, "machine-config": {"vcpu_count": 0, '
     '"mem_size_mib": 128}}', "machine-config.vcpu_count"),
    ('{"boot-source": {"kernel_image_path": "/k"}, "drives": [{"drive_id": "a", '
     '"path_on_host": "/x", "is_root_device": 1}]}', "drives[0].is_root_device"),
    ('{"boot-source": {}}', "boot-source.kernel_image_path"),
    ('{"boot-source": {"kernel_image_path": "/k"}, "balloon": {}}', "balloon"),
    ('{"boot-source": ', "JSON"),
])
def test_config_file_errors_name_the_field(tmp_path, doc, needle):
    f = tmp_path / "vm.json"
    f.write_text(doc)
    p = subprocess.run([VMM, "--config-file", str(f)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == EXIT_CONFIG and needle in p.stderr, p
