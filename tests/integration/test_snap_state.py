"""Snapshot state (vmm/snapshot/) against real KVM: save, restore into a fresh VM, save again.

build/bin/snap-roundtrip (tests/integration/snap_roundtrip.c) builds a VM with
the real vmm/core code, saves every vCPU's and the VM's state through a state
file, restores it into a second VM and checks that saving that VM gives the
same encoding (fields that move with time set aside, and checked not to run
backwards). It also checks that a restore onto other memory, or with a drive
file written since, is refused with a message naming it. It runs no guest
code, so besides the `kvm` fixture's host (hardware KVM or the testbox) it
also runs on this machine's /dev/kvm when that is PVM.
"""
import os
import re
import subprocess

import pytest

from conftest import BUILD, skip_here_fail_in_ci

ROUNDTRIP = os.path.join(BUILD, "bin", "snap-roundtrip")
OK = re.compile(r"^OK: (\d+) vCPUs, (\d+) MSRs, XSAVE (\d+) bytes, state file (\d+) bytes; "
                r"save median (\d+) us .*restore median (\d+) us", re.M)


def check(result, vcpus):
    assert result.returncode == 0, result.stdout + result.stderr
    m = OK.search(result.stdout)
    assert m, result.stdout
    assert int(m.group(1)) == vcpus
    assert int(m.group(2)) > 10          # TSC, kvmclock and KVM's list, at least
    assert int(m.group(3)) >= 4096
    # The refusals were logged as a user would read them.
    assert "mem_size_mib differs: 64 in the snapshot, 128 here" in result.stderr
    assert "disk.img differs: size 4 in the snapshot, size 8 here" in result.stderr


@pytest.fixture(scope="module")
def roundtrip():
    if not os.path.exists(ROUNDTRIP):
        pytest.fail(f"{ROUNDTRIP} is missing (make all)")
    return ROUNDTRIP


@pytest.mark.parametrize("vcpus", [1, 2, 4])
def test_state_round_trip_under_kvm(kvm, roundtrip, vcpus):
    check(kvm.run([roundtrip, str(vcpus), "64"], timeout=300), vcpus)


@pytest.mark.parametrize("vcpus", [1, 2])
def test_state_round_trip_on_this_host(roundtrip, vcpus):
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip_here_fail_in_ci("no usable /dev/kvm on this host")
    check(subprocess.run([roundtrip, str(vcpus), "64"], capture_output=True, text=True,
                         timeout=60), vcpus)
