"""A hostile guest may break its own devices, never the VMM (issue 5).

The guest program /bin/mmio_garbage writes thousands of random values to the
virtio-rng device's registers through /dev/mem (status walks, rings placed
anywhere, kicks, odd widths), then reads /dev/vda. ember-vmm must stay up, the
block device must still return the right bytes, and the VM must end cleanly.
"""
import os

import pytest

from guest import BASE_CMDLINE, BUILD, INITRAMFS, REPO, VMLINUX, VMM

WORK = os.path.join(BUILD, "tests", "integration")
# vmm/arch/x86_64/layout.h: slot i at LAYOUT_VIRTIO_MMIO_BASE + i * 4 KiB;
# with one drive, slot 0 is vda and slot 1 the entropy device.
RNG_WINDOW = 0xD0000000 + 1 * 0x1000


def vda_sum(data):
    total = 0
    for b in data[:65536]:
        total = (total * 31 + b) & 0xFFFFFFFF
    return f"{total:08x}"


@pytest.mark.quick
def test_garbage_in_device_registers_leaves_vmm_and_other_devices_working(kvm):
    os.makedirs(WORK, exist_ok=True)
    image = os.path.join(WORK, "hostile-vda.img")
    data = os.urandom(1 << 20)
    with open(image, "wb") as f:
        f.write(data)
    quirk = " noxsave" if kvm.where == "testbox" else ""
    cmdline = (f"{BASE_CMDLINE}{quirk} ember.run=/bin/mmio_garbage "
               f"mmiogarbage.addr={RNG_WINDOW:#x} mmiogarbage.rounds=20000")
    p = kvm.run([VMM, "--kernel", VMLINUX, "--initrd", INITRAMFS, "--cmdline", cmdline,
                 "--drive", f"{image},ro"], timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "mmio_garbage: wrote 20000 registers" in p.stdout, p.stdout
    assert f"mmio_garbage: vda sum={vda_sum(data)}" in p.stdout, p.stdout
    assert "ember-init: /bin/mmio_garbage exited with status 0" in p.stdout, p.stdout
