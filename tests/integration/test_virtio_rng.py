"""virtio-rng in a real guest (issue 5): /dev/hwrng is virtio's and yields bytes.

The guest side is tests/guests/rng_check.c, started with ember.run=.
"""
import os
import re

import pytest

from guest import BASE_CMDLINE, BUILD, INITRAMFS, REPO, VMLINUX, VMM

BOOT_TIMEOUT = 120


@pytest.mark.quick
def test_guest_reads_entropy(kvm):
    quirks = " noxsave" if kvm.where == "testbox" else ""
    cmd = f"{BASE_CMDLINE}{quirks} ember.run=/bin/rng_check"
    p = kvm.run([VMM, "--kernel", VMLINUX, "--initrd", INITRAMFS, "--cmdline", cmd],
                timeout=BOOT_TIMEOUT)
    assert p.returncode == 0, p.stderr
    m = re.search(r"rngcheck: current=(\S*) bytes=(\d+) distinct=(\d+)", p.stdout)
    assert m is not None, p.stdout
    assert m.group(1).startswith("virtio_rng"), p.stdout
    assert int(m.group(2)) == 4096 and int(m.group(3)) > 200, p.stdout
    assert "ember-init: /bin/rng_check exited with status 0" in p.stdout, p.stdout
