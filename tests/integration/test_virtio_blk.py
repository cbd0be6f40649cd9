"""virtio-blk in a real guest (issue 5): data both ways, read-only drives, the end of the disk.

The guest side is tests/guests/blk_check.c, started with ember.run=; it reads
its parameters from the kernel command line and prints "blkcheck: ..." lines.
It goes through the guest kernel's block layer, which refuses a write to a
read-only disk and I/O past the end before ember-vmm sees a request; so
tests/guests/blk_raw.c plays a hostile driver that sends such requests to the
device itself, and the test checks the status byte ember-vmm answers with.
Disk images live under build/tests/integration so the testbox sees them.
"""
import os
import re
import subprocess

import pytest

from conftest import skip_here_fail_in_ci
from guest import BASE_CMDLINE, BUILD, INITRAMFS, REPO, VMLINUX, VMM

WORK = os.path.join(BUILD, "tests", "integration", "virtio_blk")
EXIT_OK, EXIT_CONFIG = 0, 1
BOOT_TIMEOUT = 120
DISK_BYTES = 4 << 20
PATTERN_BYTES = 1 << 20


def pattern(n, seed):
    # Same formula as blk_check.c: (i/512)*31 + (i%512)*7 + seed, mod 256.
    return bytes(((i // 512) * 31 + (i % 512) * 7 + seed) & 0xFF for i in range(n))


def disk(name, data=b"", size=DISK_BYTES):
    os.makedirs(WORK, exist_ok=True)
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(data)
        f.truncate(size)
    return path


def boot(kvm, drives, params, run="/bin/blk_check"):
    quirks = " noxsave" if kvm.where == "testbox" else ""
    cmd = f"{BASE_CMDLINE}{quirks} ember.run={run} {params}"
    argv = [VMM, "--kernel", VMLINUX, "--initrd", INITRAMFS, "--cmdline", cmd]
    for d in drives:
        argv += ["--drive", d]
    return kvm.run(argv, timeout=BOOT_TIMEOUT)


def status(p):
    m = re.search(r"ember-init: /bin/\w+ exited with status (\d+)", p.stdout)
    assert m is not None, p.stdout + p.stderr
    return int(m.group(1))


@pytest.mark.quick
def test_guest_writes_host_reads(kvm):
    path = disk("gw.img")
    p = boot(kvm, [path], f"blkcheck.mode=write blkcheck.len={PATTERN_BYTES} blkcheck.seed=5")
    assert p.returncode == EXIT_OK, p.stderr
    assert status(p) == 0, p.stdout
    assert f"blkcheck: size={DISK_BYTES} serial=vda" in p.stdout, p.stdout
    with open(path, "rb") as f:
        got = f.read()
    assert len(got) == DISK_BYTES
    assert got[:PATTERN_BYTES] == pattern(PATTERN_BYTES, 5)
    assert got[PATTERN_BYTES:] == bytes(DISK_BYTES - PATTERN_BYTES)


def test_host_writes_guest_reads_second_drive(kvm):
    first = disk("hw0.img")
    second = disk("hw1.img", pattern(PATTERN_BYTES, 9), size=2 << 20)
    p = boot(kvm, [first, second + ",ro"],
             f"blkcheck.dev=vdb blkcheck.mode=read blkcheck.len={PATTERN_BYTES} blkcheck.seed=9")
    assert p.returncode == EXIT_OK, p.stderr
    assert f"blkcheck: size={2 << 20} serial=vdb" in p.stdout, p.stdout
    assert f"blkcheck: verified {PATTERN_BYTES}" in p.stdout, p.stdout
    assert status(p) == 0


def test_read_only_drive_refuses_writes(kvm):
    data = pattern(PATTERN_BYTES, 3)
    path = disk("ro.img", data)
    p = boot(kvm, [path + ",ro"], "blkcheck.mode=ro")
    assert p.returncode == EXIT_OK, p.stderr
    assert re.search(r"blkcheck: ro (open|write) refused", p.stdout), p.stdout
    assert status(p) == 0, p.stdout
    with open(path, "rb") as f:
        assert f.read(PATTERN_BYTES) == data


def test_reads_past_the_end_fail_cleanly(kvm):
    path = disk("end.img", size=(1 << 20) + 512)  # not a multiple of 4 KiB
    p = boot(kvm, [path], "blkcheck.mode=info")
    assert p.returncode == EXIT_OK, p.stderr
    assert "blkcheck: at_end=0" in p.stdout, p.stdout
    assert status(p) == 0, p.stdout


# vmm/devices/virtio/blk.h
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2
RAW_EXPECTED = {
    # (drive, case): (status, "ok" for a read whose data must match, else None)
    ("vda", "read-sector-0"): (S_OK, "ok"),
    ("vda", "write-sector-0"): (S_IOERR, None),
    ("vda", "write-last-sector"): (S_IOERR, None),
    ("vda", "unknown-type"): (S_UNSUPP, None),
    ("vda", "read-after-refusals"): (S_OK, "ok"),
    ("vdb", "read-last-sector"): (S_OK, "ok"),
    ("vdb", "read-at-end"): (S_IOERR, None),
    ("vdb", "read-across-end"): (S_IOERR, None),
    ("vdb", "read-far-past-end"): (S_IOERR, None),
    ("vdb", "write-at-end"): (S_IOERR, None),
    ("vdb", "write-across-end"): (S_IOERR, None),
    ("vdb", "write-far-past-end"): (S_IOERR, None),
    ("vdb", "write-half-sector"): (S_IOERR, None),
    ("vdb", "write-sector-1"): (S_OK, None),
}


def test_device_refuses_raw_requests_the_kernel_would_stop(kvm):
    """A hostile driver (blk_raw) writes to a read-only drive and reads and
    writes past the end of a drive: ember-vmm answers IOERR (UNSUPP for an
    unknown type), the files stay as they were, and the device goes on
    serving good requests, whose effect the host sees."""
    ro_data = pattern(PATTERN_BYTES, 3)
    rw_size = (1 << 20) + 512  # 2049 sectors: the end is not a 4 KiB boundary
    rw_data = pattern(rw_size, 5)
    ro = disk("raw-ro.img", ro_data, size=PATTERN_BYTES)
    rw = disk("raw-rw.img", rw_data, size=rw_size)
    p = boot(kvm, [ro + ",ro", rw], "blkraw.ro=vda blkraw.rw=vdb blkraw.roseed=3 "
             "blkraw.rwseed=5", run="/bin/blk_raw")
    assert p.returncode == EXIT_OK, p.stderr + p.stdout
    assert "blkraw: done" in p.stdout, p.stdout
    assert status(p) == 0, p.stdout
    assert re.search(r"blkraw: vda window=0x\w+ ro_feature=1 capacity=2048\s*$", p.stdout, re.M), \
        p.stdout
    assert re.search(r"blkraw: vdb window=0x\w+ ro_feature=0 capacity=2049\s*$", p.stdout, re.M), \
        p.stdout
    got = {(dev, case): (int(st), data) for dev, case, st, data in
           re.findall(r"^blkraw: (vd[ab]) (\S+) status=(\d+)(?: data=(\w+))?\s*$", p.stdout,
                      re.M)}
    got = {k: (st, data or None) for k, (st, data) in got.items()}
    assert got == RAW_EXPECTED, p.stdout
    with open(ro, "rb") as f:
        assert f.read() == ro_data
    # Nothing past the end was written (the file did not grow); sector 1 was.
    with open(rw, "rb") as f:
        assert f.read() == rw_data[:512] + b"\xab" * 512 + rw_data[1024:]


def test_bad_drive_arguments():
    # No KVM needed: argument errors come before the VM exists.
    for args in (["--drive", "/nonexistent/disk.img"], ["--drive", disk("x.img") + ",bogus"],
                 ["--drive", ",ro"]):
        p = subprocess.run([VMM, "--kernel", VMLINUX, *args], capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == EXIT_CONFIG, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "--drive" in p.stderr


def test_drive_as_root(kvm, tmp_path):
    # An ext4 root holding ember-init and /bin/hello, and no initramfs at all.
    mkfs = "/usr/sbin/mkfs.ext4"
    if not os.path.exists(mkfs):
        skip_here_fail_in_ci("mkfs.ext4 (e2fsprogs) is not installed")
    root = tmp_path / "root"
    for d in ("dev", "proc", "sys", "tmp", "bin"):
        (root / d).mkdir(parents=True)
    if os.geteuid() == 0:
        os.mknod(root / "dev" / "console", 0o600 | 0o020000, os.makedev(5, 1))
    with open(os.path.join(BUILD, "bin", "ember-init"), "rb") as f:
        (root / "init").write_bytes(f.read())
    with open(os.path.join(BUILD, "bin", "guests", "hello"), "rb") as f:
        (root / "bin" / "hello").write_bytes(f.read())
    os.chmod(root / "init", 0o755)
    os.chmod(root / "bin" / "hello", 0o755)
    path = disk("root.img", size=16 << 20)
    subprocess.run([mkfs, "-q", "-F", "-d", str(root), path], check=True, capture_output=True)
    quirks = " noxsave" if kvm.where == "testbox" else ""
    cmd = f"{BASE_CMDLINE}{quirks} init=/init ember.run=/bin/hello"
    p = kvm.run([VMM, "--kernel", VMLINUX, "--cmdline", cmd, "--drive", path + ",root"],
                timeout=BOOT_TIMEOUT)
    assert p.returncode == EXIT_OK, p.stderr + p.stdout
    assert "hello from the guest" in p.stdout, p.stdout
    assert "ember-init: /bin/hello exited with status 3" in p.stdout, p.stdout
