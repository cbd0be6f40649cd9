#!/usr/bin/env python3
"""Snapshot benchmarks: restore vs cold boot to the first vsock reply, pages a
restored clone faults in, and PSS per idle clone.

Run it where KVM boots Linux: inside the testbox (or on hardware KVM):

    tests/testbox/run --mem 4096 --timeout 2400 -- python3 bench/snapshot_bench.py [--runs 20]

It first builds one snapshot of tests/guests/snapstate (1 vCPU, 128 MiB, vsock
CID 3 with the relative uds_path "v.sock"): ember-vmm --api-sock, configured
through the API in a folder under /tmp (Unix sockets cannot live on the
testbox's 9p share), waits for "snapstate: ready" on the console, then PATCH
/vm Paused and PUT /snapshot/create. The state and memory files stay in /tmp
(the local fs: tmpfs in the testbox), so clones map the memory file from the
page cache, as on a host with the snapshot cached.

Then, for --runs rounds, interleaved (one of each per round, after one warm-up
round that is not counted), each VMM in a fresh folder under /tmp:
  restore_exec  spawn `ember-vmm --restore STATE,MEM` -> the first answer of
                snapstate to "get" on vsock port 5000. The client spins: connect
                to ./v.sock, "CONNECT 5000", "get", retried at once on any failure.
  restore_load  `ember-vmm --api-sock S` is started and connected to first
                (not timed); timed: a raw HTTP PUT /snapshot/load (resume_vm
                true) on that connection -> the first answer (same spin).
                load_call is the PUT's own latency (request -> 204).
  cold          spawn ember-vmm --kernel vmlinux --initrd initramfs.cpio
                --cmdline "BASE_CMDLINE ember.run=/bin/snapstate" --vsock 3,v.sock
                --mem-mib 128 --vcpus 1 -> the first answer (same spin).
  pages         in each restore_exec clone, right after its first answer: the
                mappings of the memory file in /proc/PID/smaps, Rss (pages read
                in from the file or copied) and Anonymous (pages the guest wrote:
                copied on write), in 4 KiB pages.
It prints median and p99 (nearest rank) of each, and the ratio restore/cold.

Then PSS with --clones (50) idle clones of the one snapshot: all started with
--restore (each in its own folder), one answer from each, then Pss (and its
anon/file/shmem parts) from /proc/PID/smaps_rollup of each: mean and total;
then all are stopped.

Finally the snapshot is copied (sparse) to build/bench/snapstate.{state,mem}
(the shared checkout) for bench/restore_host.py.

Timings in the testbox are nested KVM under QEMU TCG: compare ratios from one
run, not absolute numbers (FACTS.md).
"""
import argparse
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from api_client import VMM, call  # noqa: E402
from guest import BASE_CMDLINE, INITRAMFS, VMLINUX  # noqa: E402

PORT = 5000
TESTBOX = os.environ.get("TESTBOX") == "1"


def cmdline():
    # As vmm_boot.py: in the testbox the guest needs noxsave (FACTS.md, XSAVE in L1).
    return f"{BASE_CMDLINE}{' noxsave' if TESTBOX else ''} ember.run=/bin/snapstate"


class Bench:
    def __init__(self, root):
        self.root = root
        self.n = 0
        self.procs = []

    def folder(self, name):
        self.n += 1
        d = os.path.join(self.root, f"{self.n:04d}-{name}")
        os.makedirs(d)
        return d

    def spawn(self, argv, cwd, stdout=subprocess.DEVNULL):
        err = open(os.path.join(cwd, "stderr"), "wb")
        p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout,
                             stderr=err, close_fds=True)
        err.close()
        p.folder = cwd
        self.procs.append(p)
        return p

    def stop(self, p, remove=True):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)
        if remove:
            shutil.rmtree(p.folder, ignore_errors=True)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p, remove=False)


def tail(p):
    try:
        with open(os.path.join(p.folder, "stderr"), "rb") as f:
            return f.read()[-600:].decode(errors="replace")
    except OSError:
        return ""


def first_reply(p, uds, timeout):
    """Spin: connect, CONNECT 5000, "get", until one answer line.
    (line, attempts, {failure kind: count})"""
    deadline = time.monotonic() + timeout
    attempts = 0
    fails = {}
    while True:
        attempts += 1
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(uds)
            s.settimeout(max(0.1, deadline - time.monotonic()))
            s.sendall(b"CONNECT %d\n" % PORT)
            buf = b""
            while b"\n" not in buf:
                c = s.recv(64)
                if not c:
                    raise ConnectionError("EOF")
                buf += c
            if not buf.startswith(b"OK "):
                raise ConnectionError(repr(buf))
            buf = buf.split(b"\n", 1)[1]
            s.sendall(b"get\n")
            while b"\n" not in buf:
                c = s.recv(256)
                if not c:
                    raise ConnectionError("EOF")
                buf += c
            return buf.split(b"\n", 1)[0].decode(), attempts, fails
        except (OSError, ConnectionError) as e:
            kind = type(e).__name__ + (f"({e})" if type(e) is ConnectionError else "")
            fails[kind] = fails.get(kind, 0) + 1
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError(f"no answer on {uds} after {attempts} attempts "
                                   f"(exit {p.poll()}): {tail(p)}")
        finally:
            s.close()


def raw_http(s, method, path, body):
    body = body.encode()
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
              f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
              .encode() + body)
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(4096)
        if not c:
            raise RuntimeError(f"EOF in HTTP response: {buf!r}")
        buf += c
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        c = s.recv(4096)
        if not c:
            break
        rest += c
    return status, rest


def wait_listening(p, sock, timeout):
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sock)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError(f"API {sock} never listened (exit {p.poll()}): {tail(p)}")
            time.sleep(0.001)


def mem_pages(pid, mem_path):
    """Rss and Anonymous of the memory file's mappings, in 4 KiB pages."""
    ino = str(os.stat(mem_path).st_ino)
    rss = anon = 0
    mine = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            if not fields[0].endswith(":"):  # a mapping's header line
                mine = len(fields) >= 6 and fields[4] == ino and fields[5] == mem_path
            elif mine and fields[0] == "Rss:":
                rss += int(fields[1])
            elif mine and fields[0] == "Anonymous:":
                anon += int(fields[1])
    return rss // 4, anon // 4


def rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, _, v = line.partition(":")
            if v.strip().endswith("kB"):
                out[k.strip()] = int(v.split()[0])
    return out


def make_snapshot(b, timeout):
    d = b.folder("orig")
    sock = os.path.join(d, "api.sock")
    con = open(os.path.join(d, "console"), "wb")
    p = b.spawn([VMM, "--api-sock", sock], d, stdout=con)
    con.close()
    wait_listening(p, sock, timeout).close()
    for path, body in [("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                       ("/boot-source", {"kernel_image_path": VMLINUX,
                                         "initrd_path": INITRAMFS,
                                         "boot_args": cmdline()}),
                       ("/vsock", {"guest_cid": 3, "uds_path": "v.sock"}),
                       ("/actions", {"action_type": "InstanceStart"})]:
        status, _, raw = call(sock, "PUT", path, body)
        assert status == 204, (path, raw)
    deadline = time.monotonic() + timeout
    while b"snapstate: ready" not in open(os.path.join(d, "console"), "rb").read():
        if time.monotonic() > deadline or p.poll() is not None:
            raise RuntimeError(f"snapstate never ready (exit {p.poll()}): {tail(p)}")
        time.sleep(0.05)
    line, _, _ = first_reply(p, os.path.join(d, "v.sock"), timeout)
    snap = os.path.join(b.root, "snap")
    os.makedirs(snap)
    state, mem = os.path.join(snap, "state"), os.path.join(snap, "mem")
    assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
    status, _, raw = call(sock, "PUT", "/snapshot/create",
                         {"snapshot_path": state, "mem_file_path": mem})
    assert status == 204, raw
    b.stop(p, remove=False)
    return state, mem, line


def run_restore_exec(b, state, mem, timeout):
    d = b.folder("exec")
    t0 = time.monotonic()
    p = b.spawn([VMM, "--restore", f"{state},{mem}"], d)
    line, attempts, fails = first_reply(p, os.path.join(d, "v.sock"), timeout)
    ms = (time.monotonic() - t0) * 1e3
    rss, anon = mem_pages(p.pid, mem)
    b.stop(p)
    return {"ms": ms, "attempts": attempts, "fails": fails, "rss_pages": rss, "anon_pages": anon, "line": line}


def run_restore_load(b, state, mem, timeout):
    d = b.folder("load")
    sock = os.path.join(d, "api.sock")
    p = b.spawn([VMM, "--api-sock", sock], d)
    s = wait_listening(p, sock, timeout)
    body = json.dumps({"snapshot_path": state,
                       "mem_backend": {"backend_type": "File", "backend_path": mem},
                       "resume_vm": True})
    t0 = time.monotonic()
    status, raw = raw_http(s, "PUT", "/snapshot/load", body)
    t1 = time.monotonic()
    if status != 204:
        raise RuntimeError(f"load: {status} {raw!r}: {tail(p)}")
    line, attempts, fails = first_reply(p, os.path.join(d, "v.sock"), timeout)
    ms = (time.monotonic() - t0) * 1e3
    s.close()
    b.stop(p)
    return {"ms": ms, "load_call_ms": (t1 - t0) * 1e3, "attempts": attempts, "fails": fails, "line": line}


def run_cold(b, timeout):
    d = b.folder("cold")
    t0 = time.monotonic()
    p = b.spawn([VMM, "--kernel", VMLINUX, "--initrd", INITRAMFS, "--cmdline", cmdline(),
                 "--mem-mib", "128", "--vcpus", "1", "--vsock", "3,v.sock"], d)
    line, attempts, fails = first_reply(p, os.path.join(d, "v.sock"), timeout)
    ms = (time.monotonic() - t0) * 1e3
    b.stop(p)
    return {"ms": ms, "attempts": attempts, "fails": fails, "line": line}


def p99(vals):
    v = sorted(vals)
    return v[max(0, math.ceil(0.99 * len(v)) - 1)]


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = int(v.split()[0])
    return out


def pss_clones(b, state, mem, n, timeout):
    avail = meminfo()["MemAvailable"] // 1024
    print(f"# {n} idle clones: MemAvailable before {avail} MiB", flush=True)
    clones = []
    try:
        t0 = time.monotonic()
        for i in range(n):
            d = b.folder(f"pss{i}")
            clones.append(b.spawn([VMM, "--restore", f"{state},{mem}"], d))
        for p in clones:
            first_reply(p, os.path.join(p.folder, "v.sock"), timeout)
        all_up = time.monotonic() - t0
        rows = [rollup(p.pid) for p in clones]
        pages = [mem_pages(p.pid, mem) for p in clones]
        after = meminfo()["MemAvailable"] // 1024
    finally:
        for p in clones:
            b.stop(p)
    return rows, pages, all_up, avail, after


def fs_type(path):
    best, kind = "", "?"
    with open("/proc/self/mounts") as f:
        for line in f:
            _, mnt, typ = line.split()[:3]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                best, kind = mnt, typ
    return f"{kind} ({best})"


def sparse_copy(src, dst):
    with open(src, "rb") as f, open(dst + ".tmp", "wb") as g:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            if chunk.count(0) == len(chunk):
                g.seek(len(chunk), os.SEEK_CUR)
            else:
                g.write(chunk)
        g.truncate()
    os.replace(dst + ".tmp", dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--clones", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=120, help="per VM, seconds")
    ap.add_argument("--copy-to", default=os.path.join(REPO, "build", "bench"),
                    help="where to copy the snapshot for restore_host.py ('' = don't)")
    args = ap.parse_args()

    root = f"/tmp/ember-snapbench-{os.getpid()}"
    os.makedirs(root)
    b = Bench(root)
    try:
        t = time.monotonic()
        state, mem, line = make_snapshot(b, args.timeout)
        print(f"# snapshot of snapstate in {time.monotonic() - t:.1f} s (answer before: "
              f"{line!r}); state {os.path.getsize(state)} B, mem "
              f"{os.path.getsize(mem) >> 20} MiB, "
              f"on {fs_type(mem)}",
              flush=True)
        res = {"restore_exec": [], "restore_load": [], "cold": []}
        kinds = [("restore_exec", lambda: run_restore_exec(b, state, mem, args.timeout)),
                 ("restore_load", lambda: run_restore_load(b, state, mem, args.timeout)),
                 ("cold", lambda: run_cold(b, args.timeout))]
        for name, fn in kinds:  # warm-up, not counted
            r = fn()
            print(f"warm {name:12s} {r}", file=sys.stderr, flush=True)
        for i in range(args.runs):
            for name, fn in kinds:
                r = fn()
                res[name].append(r)
                print(f"{i:3d} {name:12s} " + " ".join(
                    f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in r.items()), file=sys.stderr, flush=True)

        where = "testbox (L1: nested KVM under QEMU TCG)" if TESTBOX else "direct"
        print(f"# {args.runs} interleaved runs each (+1 warm-up), 1 vCPU, 128 MiB, where: {where}")
        print(f"# guest cmdline: {cmdline()}")
        print("| measure | median | p99 | min | max |")
        print("|---|---|---|---|---|")

        def row(label, vals, unit, fmt="{:.1f}"):
            f = lambda v: fmt.format(v)
            print(f"| {label} | {f(statistics.median(vals))} {unit} | {f(p99(vals))} {unit} | "
                  f"{f(min(vals))} {unit} | {f(max(vals))} {unit} |")

        row("restore (exec --restore) -> first reply", [r["ms"] for r in res["restore_exec"]], "ms")
        row("restore (PUT /snapshot/load) -> first reply",
            [r["ms"] for r in res["restore_load"]], "ms")
        row("  of which the PUT /snapshot/load call", [r["load_call_ms"] for r in
                                                      res["restore_load"]], "ms")
        row("cold boot (exec) -> first reply", [r["ms"] for r in res["cold"]], "ms")
        row("pages of the memory file resident after the first reply (Rss)",
            [r["rss_pages"] for r in res["restore_exec"]], "pages", "{:.0f}")
        row("  of which copied on write (Anonymous)",
            [r["anon_pages"] for r in res["restore_exec"]], "pages", "{:.0f}")
        for name in res:
            a = [r["attempts"] for r in res[name]]
            kinds = {}
            for r in res[name]:
                for k, v in r["fails"].items():
                    kinds[k] = kinds.get(k, 0) + v
            print(f"# client attempts ({name}): median {statistics.median(a)}, max {max(a)}; "
                  f"failed attempts by kind over all runs: {kinds}")
        cold = statistics.median([r["ms"] for r in res["cold"]])
        for name in ("restore_exec", "restore_load"):
            rm = statistics.median([r["ms"] for r in res[name]])
            print(f"ratio {name}/cold (medians): {rm / cold:.3f} (target <= 0.1)")
        lines = {r["line"] for rs in res.values() for r in rs}
        print(f"# answers seen: {sorted(lines)}", flush=True)

        if args.clones:
            rows, pages, up, before, after = pss_clones(b, state, mem, args.clones,
                                                        args.timeout)
            pss = [r["Pss"] for r in rows]
            print(f"# {args.clones} idle --restore clones, all answered {up:.1f} s after the "
                  f"first spawn; MemAvailable {before} -> {after} MiB "
                  f"({(before - after) / args.clones:.2f} MiB per clone)")
            print(f"PSS per clone: mean {statistics.mean(pss) / 1024:.2f} MiB (target <= 8 MiB), "
                  f"min {min(pss) / 1024:.2f}, max {max(pss) / 1024:.2f}; "
                  f"total {sum(pss) / 1024:.1f} MiB")
            for k in ("Rss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Anonymous"):
                if k in rows[0]:
                    print(f"  mean {k}: {statistics.mean(r[k] for r in rows) / 1024:.2f} MiB")
            print(f"  memory-file mapping per clone: mean Rss {statistics.mean(p[0] for p in pages):.0f}"
                  f" pages, mean Anonymous {statistics.mean(p[1] for p in pages):.0f} pages")
        if args.copy_to:
            os.makedirs(args.copy_to, exist_ok=True)
            shutil.copyfile(state, os.path.join(args.copy_to, "snapstate.state"))
            sparse_copy(mem, os.path.join(args.copy_to, "snapstate.mem"))
            print(f"# snapshot copied to {args.copy_to}/snapstate.{{state,mem}}")
    finally:
        b.stop_all()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
