"""Host side of the vsock tests: a client of ember-vmm's hybrid vsock socket U.

Runs where ember-vmm runs (in the testbox when the tests use it), as
`python3 vsock_client.py MODE U ...`. Prints one result line and exits 0, or
prints "error: ..." and exits 1. Modes:
  echo U PORT CONNS SIZE  CONNS connections at once to guest PORT, each sends
                          SIZE bytes and must get them back: "echo ok CONNS"
  listen U PORT           listen on U_PORT (guest -> host), print "listening",
                          answer one connection's line with "echo: <line>"
  send U PORT LEN         send LEN pattern bytes, half-close, wait for the
                          guest to close: "sent bytes=N sha256=HEX"
  recv U PORT             read to EOF: "received bytes=N sha256=HEX"
  die U PORT LEN          send LEN bytes without reading, then SIGKILL itself
  stale U 0               leave a socket file at U that nobody listens on
                          (what a VMM killed with SIGKILL leaves): "stale"
  exists U 0              "exists yes" or "exists no"
  lines U PORT LINE...    send each LINE, print the guest's one-line answer to each
  probe U PORT            ask for guest PORT, print "probe: sent", then wait (no
                          deadline) for the VMM's answer, which needs the guest's
                          kernel to run: "probe: answered OK <n>" if something
                          listens, "probe: answered EOF" if the guest reset it
The pattern matches tests/guests/vsock_check.c.
"""
import hashlib
import os
import selectors
import signal
import socket
import sys

BLOCK = bytes(((i * 131 + i // 256) & 0xFF) for i in range(65536))
TIMEOUT = 120


def connect(uds, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(uds)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise RuntimeError(f"EOF after {line!r} (no OK for port {port})")
        line += c
    if not line.startswith(b"OK "):
        raise RuntimeError(f"expected OK, got {line!r}")
    return s


def echo(uds, port, conns, size):
    # All connections are established first, so they are open at once.
    socks = [connect(uds, port) for _ in range(conns)]
    sel = selectors.DefaultSelector()
    state = {}
    for i, s in enumerate(socks):
        s.setblocking(False)
        payload = bytes((i + j) & 0xFF for j in range(size))
        state[s] = [payload, 0, bytearray()]
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    left = conns
    while left:
        events = sel.select(TIMEOUT)
        if not events:
            raise RuntimeError(f"{left} connections stalled")
        for key, mask in events:
            s = key.fileobj
            payload, off, got = state[s]
            if mask & selectors.EVENT_WRITE and off < len(payload):
                off += s.send(payload[off:off + 65536])
                state[s][1] = off
                if off == len(payload):
                    sel.modify(s, selectors.EVENT_READ)
            if mask & selectors.EVENT_READ:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError(f"EOF after {len(got)} of {size} bytes")
                got += chunk
                if len(got) >= size:
                    if bytes(got) != payload:
                        raise RuntimeError("echoed data differs")
                    sel.unregister(s)
                    s.close()
                    left -= 1
    print(f"echo ok {conns}", flush=True)


def listen(uds, port):
    path = f"{uds}_{port}"
    if os.path.exists(path):
        os.unlink(path)
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    ls.listen(1)
    ls.settimeout(TIMEOUT)
    print("listening", flush=True)
    s, _ = ls.accept()
    s.settimeout(TIMEOUT)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise RuntimeError(f"EOF after {line!r}")
        line += c
    s.sendall(b"echo: " + line)
    print(f"guest said {line.decode().strip()!r}", flush=True)
    s.recv(1)  # the guest closes
    s.close()
    os.unlink(path)


def send(uds, port, length):
    s = connect(uds, port)
    h = hashlib.sha256()
    sent = 0
    while sent < length:
        chunk = BLOCK[:min(len(BLOCK), length - sent)]
        s.sendall(chunk)
        h.update(chunk)
        sent += len(chunk)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    print(f"sent bytes={sent} sha256={h.hexdigest()}", flush=True)


def recv(uds, port):
    s = connect(uds, port)
    h = hashlib.sha256()
    n = 0
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
    print(f"received bytes={n} sha256={h.hexdigest()}", flush=True)


def die(uds, port, length):
    s = connect(uds, port)
    s.settimeout(5)
    sent = 0
    try:
        while sent < length:
            sent += s.send(BLOCK)
    except socket.timeout:
        pass  # the guest's echoes fill up since we never read: backpressure
    print(f"dying after {sent} bytes", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def stale(uds, _port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(uds)
    s.close()
    print("stale", flush=True)


def exists(uds, _port):
    print("exists " + ("yes" if os.path.lexists(uds) else "no"), flush=True)


def lines(uds, port, *cmds):
    s = connect(uds, port)
    f = s.makefile("rwb", buffering=0)
    for cmd in cmds:
        f.write(cmd.encode() + b"\n")
        answer = f.readline()
        if not answer.endswith(b"\n"):
            raise OSError(f"no answer to {cmd!r}")
        print(answer.decode().rstrip("\n"))
    s.close()


def probe(uds, port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(uds)
    s.sendall(b"CONNECT %d\n" % port)
    print("probe: sent", flush=True)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        line += c
    print("probe: answered " + (line.decode().strip() if line else "EOF"), flush=True)


def main(argv):
    mode, uds, port = argv[1], argv[2], int(argv[3])
    rest = argv[4:] if mode == "lines" else [int(a) for a in argv[4:]]
    try:
        modes = {"echo": echo, "listen": listen, "send": send, "recv": recv, "die": die,
                 "stale": stale, "exists": exists, "lines": lines, "probe": probe}
        modes[mode](uds, port, *rest)
    except (OSError, RuntimeError) as e:
        print(f"error: {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
