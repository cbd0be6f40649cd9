"""The guest kernel build: every fragment option survived, and the images are
what the VMMs expect. build.sh checks the merge too; this re-checks the
product of the build independently."""
import os
import re
import subprocess

import pytest

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))

KERNELS = [
    ("guest", ["microvm.fragment", "guest.fragment"]),
    ("testbox", ["microvm.fragment", "testbox-l1.fragment"]),
]


def wanted(fragments):
    want = {}
    for frag in fragments:
        with open(os.path.join(REPO, "kernel-config", frag)) as f:
            for line in f:
                m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
                n = re.match(r"^# (CONFIG_\w+) is not set$", line)
                if m:
                    want[m.group(1)] = m.group(2)
                elif n:
                    want[n.group(1)] = None
    return want


@pytest.mark.parametrize("outdir,fragments", KERNELS)
def test_fragment_survived_the_merge(outdir, fragments):
    with open(os.path.join(BUILD, outdir, "config")) as f:
        have = dict(re.findall(r"^(CONFIG_\w+)=(.*)$", f.read(), re.M))
    want = wanted(fragments)
    assert len(want) > 20
    wrong = {k: (v, have.get(k)) for k, v in want.items() if have.get(k) != v}
    assert wrong == {}


def test_no_modules_pci_or_acpi():
    with open(os.path.join(BUILD, "guest", "config")) as f:
        config = f.read()
    for opt in ("CONFIG_MODULES", "CONFIG_PCI", "CONFIG_ACPI"):
        assert not re.search(rf"^{opt}=", config, re.M), opt


def test_images_are_what_vmms_load():
    vmlinux = subprocess.run(["file", "-b", os.path.join(BUILD, "guest", "vmlinux")],
                             capture_output=True, text=True).stdout
    assert vmlinux.startswith("ELF 64-bit LSB executable, x86-64"), vmlinux
    bz = subprocess.run(["file", "-b", os.path.join(BUILD, "guest", "bzImage")],
                        capture_output=True, text=True).stdout
    assert "Linux kernel x86 boot executable bzImage" in bz, bz


def test_init_is_static():
    out = subprocess.run(["file", "-b", os.path.join(BUILD, "bin", "ember-init")],
                         capture_output=True, text=True).stdout
    assert "statically linked" in out, out


def test_initramfs_is_reproducible(tmp_path):
    spec = os.path.join(BUILD, "guest", "initramfs.spec")
    again = tmp_path / "again.cpio"
    subprocess.run([os.path.join(BUILD, "bin", "mkinitramfs"), spec, str(again)],
                   cwd=REPO, check=True)
    with open(os.path.join(BUILD, "guest", "initramfs.cpio"), "rb") as f:
        assert f.read() == again.read_bytes()


def test_kernel_build_is_cached():
    """A second make must not rebuild: the recipe finds the cached kernel."""
    out = subprocess.run(["./kernel-config/build.sh", "guest", str(os.path.join(BUILD, "guest")),
                          "kernel-config/microvm.fragment", "kernel-config/guest.fragment"],
                         cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "KERNEL" not in out.stdout, out.stdout
