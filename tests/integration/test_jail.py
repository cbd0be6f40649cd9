"""The jailer and the seccomp filters around a real VM (issue 19).

ember-jailer runs where KVM is (the testbox here, as root), with the guest's
kernel and initramfs hard-linked into each jail from one staging copy, as
emberd does. Everything the tests look at is what a host operator sees: the
VMM's /proc status, its cgroup's files, its root (/proc/PID/root: nsenter -m
cannot run a command there, since the jail holds no programs but the VMM),
and whether a VM over its memory limit dies.
"""
import json
import os
import shlex
import time

import pytest

from api_client import BUILD, CALL_TIMEOUT, curl
from guest import BASE_CMDLINE, INITRAMFS, REPO, VMLINUX

JAILER = os.path.join(BUILD, "bin", "ember-jailer")
HANDLER = os.path.join(BUILD, "bin", "uffd-handler")
VMM = os.path.join(BUILD, "bin", "ember-vmm")
CLIENT = os.path.join(REPO, "tests", "integration", "vsock_client.py")
WAIT = 180
MIB = 1 << 20
BASE = f"/tmp/ember-jail-{os.getpid()}"  # in L1: local, since sockets cannot live on 9p
STAGE = f"{BASE}/stage"
CGROUP = "/sys/fs/cgroup/ember-vmm"
GID = 10000  # one group for every VM, a uid for each (vmm/jail/README.md)


def sh(kvm, script, timeout=CALL_TIMEOUT):
    p = kvm.run(["sh", "-c", script], timeout=timeout)
    assert p.returncode == 0, (script, p.stdout, p.stderr)
    return p.stdout


@pytest.fixture(scope="module")
def staged(kvm):
    """One copy of the guest files on L1's own file system, to hard-link from."""
    sh(kvm, f"rm -rf {BASE} && mkdir -p {STAGE} && cp {VMLINUX} {STAGE}/vmlinux && "
            f"cp {INITRAMFS} {STAGE}/initramfs.cpio")
    yield STAGE
    sh(kvm, f"rm -rf {BASE}")


class Jail:
    """One VM's jail: its root, its cgroup, and the jailer started on it."""

    def __init__(self, kvm, vm_id, uid):
        self.kvm, self.id, self.uid = kvm, vm_id, uid
        self.root = f"{BASE}/ember-vmm/{vm_id}/root"
        self.cgroup = f"{CGROUP}/{vm_id}"
        self.vm = None
        sh(kvm, f"mkdir -p {self.root}")

    def link(self, src, name):
        """Places a file in the jail the way emberd does: a hard link."""
        sh(self.kvm, f"ln {shlex.quote(src)} {self.root}/{name}")

    def start(self, *vmm_args, jail_args=()):
        argv = [JAILER, "--id", self.id, "--exec-file", VMM, "--uid", str(self.uid),
                "--gid", str(GID), "--chroot-base-dir", BASE, *jail_args, "--",
                *vmm_args]
        self.vm = self.kvm.spawn(["sh", "-c", 'exec "$@" 2>&1', "sh", *argv])
        return self.vm

    def pid(self):
        """ember-vmm's pid: the one process of the VM's cgroup."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            procs = sh(self.kvm, f"cat {self.cgroup}/cgroup.procs 2>/dev/null || true").split()
            if procs:
                return int(procs[0])
            time.sleep(0.05)
        raise AssertionError(f"no process in {self.cgroup}")

    def wait_path(self, name):
        sh(self.kvm, f"i=0; while [ ! -e {self.root}/{name} ] && [ $i -lt 3000 ]; do "
                     f"sleep 0.05; i=$((i+1)); done; [ -e {self.root}/{name} ]", timeout=WAIT)

    def ask(self, *cmds):
        p = self.kvm.run(["python3", CLIENT, "lines", f"{self.root}/v.sock", "5000", *cmds],
                         timeout=CALL_TIMEOUT)
        assert p.returncode == 0, (p.stdout, p.stderr, self.vm.text if self.vm else "")
        return p.stdout.splitlines()

    def stop(self):
        if self.vm is not None:
            self.vm.stop()
            sh(self.kvm, f"for p in $(cat {self.cgroup}/cgroup.procs 2>/dev/null); do "
                         f"kill -9 $p; done; true")
            self.vm.wait(WAIT)
            self.vm = None
        # A cgroup goes once its last process has: emberd's cleanup, as here.
        sh(self.kvm, f"i=0; while [ -d {self.cgroup} ] && ! rmdir {self.cgroup} 2>/dev/null "
                     f"&& [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; [ ! -d {self.cgroup} ]")


def status(kvm, path):
    return dict(line.split(":", 1) for line in sh(kvm, f"cat {path}").splitlines() if ":" in line)


def boot_args(run):
    return ["--kernel", "/vmlinux", "--initrd", "/initramfs.cpio", "--mem-mib", "128",
            "--vsock", "3,/v.sock", "--cmdline", f"{BASE_CMDLINE} ember.run={run}"]


def test_jailed_vm_boots_answers_and_is_confined(kvm, staged):
    j = Jail(kvm, "boot", 10001)
    j.link(f"{staged}/vmlinux", "vmlinux")
    j.link(f"{staged}/initramfs.cpio", "initramfs.cpio")
    try:
        j.start(*boot_args("/bin/snapstate"),
                jail_args=("--guest-mem-mib", "128", "--cgroup", "cpu.max=200000 100000"))
        j.vm.wait_for("snapstate: ready", WAIT)
        j.wait_path("v.sock")
        assert j.ask("inc", "get") == ["counter=1 file=base+", "counter=1 file=base+"]
        pid = j.pid()

        # The process: unprivileged, no capabilities at all, no_new_privs, filtered.
        st = status(kvm, f"/proc/{pid}/status")
        assert st["Uid"].split() == ["10001"] * 4, st["Uid"]
        assert st["Gid"].split() == [str(GID)] * 4, st["Gid"]
        assert st["Groups"].strip() == ""
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(st[cap], 16) == 0, (cap, st[cap])
        assert st["NoNewPrivs"].strip() == "1"
        assert st["Seccomp"].strip() == "2"
        # Every thread (main, API-less here: main + vCPU) carries exactly its own filter.
        tasks = sh(kvm, f"ls /proc/{pid}/task").split()
        assert len(tasks) >= 2, tasks
        for t in tasks:
            ts = status(kvm, f"/proc/{pid}/task/{t}/status")
            assert ts["Seccomp"].strip() == "2", (t, ts["Name"])
            assert ts["Seccomp_filters"].strip() == "1", (t, ts["Name"])

        # The cgroup and its limits (cgroup v2 in L1).
        assert int(sh(kvm, f"cat {j.cgroup}/memory.max")) == (128 + 64) * MIB
        assert sh(kvm, f"cat {j.cgroup}/pids.max").strip() == "64"
        assert sh(kvm, f"cat {j.cgroup}/cpu.max").strip() == "200000 100000"
        # The rlimits the jailer set.
        limits = sh(kvm, f"cat /proc/{pid}/limits")
        assert [l for l in limits.splitlines() if l.startswith("Max open files")][0].split()[3:5] \
            == ["2048", "2048"]
        assert [l for l in limits.splitlines() if l.startswith("Max processes")][0].split()[2:4] \
            == ["64", "64"]

        # Its own namespaces: none shared with the host (pid: only with --new-pid-ns).
        for ns in ("mnt", "net", "ipc", "uts"):
            assert sh(kvm, f"readlink /proc/{pid}/ns/{ns}") != sh(kvm, f"readlink /proc/1/ns/{ns}")

        # Its root is the jail: the VM's files, the two devices, its libraries.
        view = f"/proc/{pid}/root"
        top = set(sh(kvm, f"ls -A {view}").split())
        assert top == {"ember-vmm", "vmlinux", "initramfs.cpio", "v.sock", "dev", "lib",
                       "lib64"}, top
        assert set(sh(kvm, f"ls -A {view}/dev").split()) <= {"kvm", "userfaultfd"}
        for host_path in (REPO, "/usr/bin", "/etc", "/tmp", "/proc/self", "/sys",
                          BASE, staged):
            assert kvm.run(["test", "-e", f"{view}{host_path}"]).returncode == 1, host_path
        # The libraries are read-only, even for root.
        assert kvm.run(["sh", "-c", f"echo x >> {view}/lib/x86_64-linux-gnu/libc.so.6"]
                       ).returncode != 0
        print(f"memory.peak of a jailed 128 MiB boot: "
              f"{int(sh(kvm, f'cat {j.cgroup}/memory.peak')) / MIB:.1f} MiB")
    finally:
        j.stop()


def test_vm_over_its_memory_limit_is_killed(kvm, staged):
    j = Jail(kvm, "oom", 10002)
    j.link(f"{staged}/vmlinux", "vmlinux")
    j.link(f"{staged}/initramfs.cpio", "initramfs.cpio")
    try:
        # A 128 MiB guest touches more than 24 MiB before its init runs.
        vm = j.start(*boot_args("/bin/snapstate"), jail_args=("--cgroup", "memory.max=24M"))
        rc = vm.wait(WAIT)
        j.vm = None
        assert rc in (-9, 137), (rc, vm.text)
        assert "snapstate: ready" not in vm.text
        events = dict(l.split() for l in sh(kvm, f"cat {j.cgroup}/memory.events").splitlines())
        assert int(events["oom_kill"]) >= 1, events
    finally:
        j.stop()


def test_snapshot_clones_in_jails_see_the_same_paths(kvm, staged):
    tmpl = Jail(kvm, "tmpl", 10003)
    tmpl.link(f"{staged}/vmlinux", "vmlinux")
    tmpl.link(f"{staged}/initramfs.cpio", "initramfs.cpio")
    clones = []
    try:
        tmpl.start("--api-sock", "/api.sock")
        tmpl.vm.wait_for("API listening on", WAIT)
        sock = f"{tmpl.root}/api.sock"
        for path, body in [("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                           ("/boot-source", {"kernel_image_path": "/vmlinux",
                                             "initrd_path": "/initramfs.cpio",
                                             "boot_args": f"{BASE_CMDLINE} "
                                                          "ember.run=/bin/snapstate"}),
                           ("/vsock", {"guest_cid": 3, "uds_path": "/v.sock"}),
                           ("/actions", {"action_type": "InstanceStart"})]:
            status_code, _, raw = curl(kvm, sock, "PUT", path, json.dumps(body))
            assert status_code == 204, (path, raw)
        tmpl.vm.wait_for("snapstate: ready", WAIT)
        tmpl.wait_path("v.sock")
        assert tmpl.ask("inc") == ["counter=1 file=base+"]
        assert curl(kvm, sock, "PATCH", "/vm", '{"state": "Paused"}')[0] == 204
        # Paths as the jailed VMM sees them: its own root.
        status_code, _, raw = curl(kvm, sock, "PUT", "/snapshot/create", json.dumps(
            {"snapshot_path": "/state", "mem_file_path": "/mem"}))
        assert status_code == 204, raw
        tmpl.stop()
        # emberd's part: the template's files become readable by the group of
        # all VMs (ember-vmm writes them 0600), then each clone gets links.
        sh(kvm, f"chmod 0640 {tmpl.root}/state {tmpl.root}/mem")

        for n, uid in (("c1", 10004), ("c2", 10005)):
            c = Jail(kvm, n, uid)
            clones.append(c)
            c.link(f"{tmpl.root}/state", "state")
            c.link(f"{tmpl.root}/mem", "mem")
            # Every clone: the same /state, /mem and /v.sock, no rewriting.
            # A state file may not choose host paths (snapshot/paths.h), so the
            # loader names the socket, as emberd does.
            c.start("--api-sock", "/api.sock")
            c.vm.wait_for("API listening on", WAIT)
            status_code, _, raw = curl(kvm, f"{c.root}/api.sock", "PUT", "/snapshot/load",
                                       json.dumps({"snapshot_path": "/state",
                                                   "mem_backend": {"backend_type": "File",
                                                                   "backend_path": "/mem"},
                                                   "vsock_override": {"uds_path": "/v.sock"},
                                                   "resume_vm": True}))
            assert status_code == 204, raw
            c.wait_path("v.sock")
        # A third clone takes its memory from a page-fault handler outside the
        # jail (the Uffd backend): its socket, too, is at the same jail path.
        c = Jail(kvm, "c3", 10006)
        clones.append(c)
        c.link(f"{tmpl.root}/state", "state")
        handler = kvm.spawn([HANDLER, f"{c.root}/uffd.sock", f"{tmpl.root}/mem"])
        c.wait_path("uffd.sock")
        sh(kvm, f"chmod 0666 {c.root}/uffd.sock")  # the VM's uid connects to it
        c.start("--api-sock", "/api.sock")
        c.vm.wait_for("API listening on", WAIT)
        status_code, _, raw = curl(kvm, f"{c.root}/api.sock", "PUT", "/snapshot/load", json.dumps(
            {"snapshot_path": "/state", "mem_backend": {"backend_type": "Uffd",
                                                        "backend_path": "/uffd.sock"},
             "vsock_override": {"uds_path": "/v.sock"}, "resume_vm": True}))
        assert status_code == 204, raw
        c.wait_path("v.sock")

        assert clones[0].ask("inc", "get") == ["counter=2 file=base++"] * 2
        assert clones[1].ask("get") == ["counter=1 file=base+"]
        assert clones[2].ask("inc") == ["counter=2 file=base++"]
        for c in clones:
            st = status(kvm, f"/proc/{c.pid()}/status")
            assert st["Seccomp"].strip() == "2" and int(st["CapEff"], 16) == 0
        clones[2].stop()
        assert handler.wait(WAIT) == 0, handler.text
        assert "served" in handler.text
    finally:
        for c in clones:
            c.stop()
        tmpl.stop()


def test_exec_file_is_copied_or_linked_when_asked_and_safe(kvm, staged):
    """The jail gets a copy of the exec file, root's, 0755, as Firecracker's
    jailer makes; with --link-exec-file, the file itself (a hard link: one
    copy of its pages for every VMM), but only when the VMM's uid can run it
    and nobody but root can change it, on the jail's file system."""
    # The jail's folder and the file in it are named after the exec file.
    linked, copied = f"{STAGE}/linked/ember-vmm", f"{STAGE}/group-writable/ember-vmm"
    for f, mode in ((linked, "0755"), (copied, "0775")):
        sh(kvm, f"mkdir -p {os.path.dirname(f)} && cp {VMM} {f} && chown 0:0 {f} && "
                f"chmod {mode} {f}")
    for exe, vm_id, flags, link in ((linked, "exec-linked", ["--link-exec-file"], True),
                                    (linked, "exec-default", [], False),
                                    (copied, "exec-copied", ["--link-exec-file"], False)):
        j = Jail(kvm, vm_id, 10003)
        try:
            # --help: the VMM runs in the jail and exits at once.
            p = kvm.run([JAILER, "--id", vm_id, "--exec-file", exe, "--uid", "10003",
                         "--gid", str(GID), "--chroot-base-dir", BASE, *flags, "--",
                         "--help"], timeout=CALL_TIMEOUT)
            assert p.returncode == 0, (p.stdout, p.stderr)
            src, dst = (sh(kvm, f"stat -c '%i %u %a' {f}").split()
                        for f in (exe, f"{j.root}/ember-vmm"))
            if link:
                assert dst == src, (vm_id, src, dst)
            else:
                assert dst[0] != src[0] and dst[1:] == ["0", "755"], (vm_id, src, dst)
        finally:
            j.stop()
