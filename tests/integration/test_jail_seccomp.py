"""ember-vmm's seccomp filters (issue 19): what each thread role may and may not call.

seccomp-probe (tests/drivers/, a test-only program) puts on one role's filter
with the product's own code and BPF, makes one system call, and prints
"survived". A forbidden call must kill it with SIGSYS. Seccomp needs no KVM:
this runs on the host. The real VMM's filters are checked in test_jail.py
(/proc status of a jailed VM) and by every VM test, which run with them on.
"""
import os
import signal
import subprocess

import pytest

from api_client import BUILD, VMM

PROBE = os.path.join(BUILD, "bin", "seccomp-probe")

# (action, roles that may make the call)
CASES = [
    ("allowed", {"api", "vmm", "vcpu"}),
    ("open", {"api", "vmm"}),
    ("socket-unix", {"vmm"}),
    ("kvm-run", {"vcpu"}),
    ("execve", set()),
    ("fork", set()),
    ("thread", set()),
    ("socket-inet", set()),
    ("mmap-exec", set()),
    ("mprotect-exec", set()),
    ("kvm-create-vm", set()),
    ("kvm-set-regs", set()),
    ("ptrace", set()),
    ("kill-other", set()),
]


@pytest.mark.parametrize("role", ["api", "vmm", "vcpu"])
@pytest.mark.parametrize("action,allowed", CASES, ids=[c[0] for c in CASES])
def test_role_allows_only_its_calls(role, action, allowed):
    p = subprocess.run([PROBE, role, action], capture_output=True, text=True, timeout=30)
    if role in allowed:
        assert p.returncode == 0 and p.stdout.endswith("survived\n"), (p.returncode, p.stdout,
                                                                        p.stderr)
    else:
        assert p.returncode == -signal.SIGSYS, (p.returncode, p.stdout, p.stderr)
        assert "survived" not in p.stdout


def test_seccomp_level_0_says_so_loudly():
    p = subprocess.run([VMM, "--seccomp-level", "0", "--kernel", "/nonexistent"],
                       capture_output=True, text=True, timeout=30)
    assert "SECCOMP FILTERS ARE OFF" in p.stderr, p.stderr
    p = subprocess.run([VMM, "--no-seccomp", "--kernel", "/nonexistent"],
                       capture_output=True, text=True, timeout=30)
    assert "SECCOMP FILTERS ARE OFF" in p.stderr, p.stderr
    p = subprocess.run([VMM, "--kernel", "/nonexistent"], capture_output=True, text=True,
                       timeout=30)
    assert "SECCOMP" not in p.stderr, p.stderr
    p = subprocess.run([VMM, "--seccomp-level", "1", "--kernel", "/x"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1 and "--seccomp-level: '1' is not 0 (off) or 2 (on)" in p.stderr
