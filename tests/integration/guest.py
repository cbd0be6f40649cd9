"""Helpers to boot the guest kernel + ember-init and read what it prints."""
import os
import re
import subprocess

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
# What every test runs: the build's ember-vmm and guest images, unless
# EMBER_VMM and EMBER_GUEST_DIR name others (make integration-san: the
# ASan+UBSan ember-vmm, and images whose ember-init has UBSan).
VMM = os.environ.get("EMBER_VMM") or os.path.join(BUILD, "bin", "ember-vmm")
GUEST = os.environ.get("EMBER_GUEST_DIR") or os.path.join(BUILD, "guest")
VMLINUX = os.path.join(GUEST, "vmlinux")
BZIMAGE = os.path.join(GUEST, "bzImage")
INITRAMFS = os.path.join(GUEST, "initramfs-test.cpio")  # with /bin test programs

# quiet: a full console log costs thousands of port exits (FACTS.md).
# reboot=k: ember-vmm takes an i8042 reset as a clean end, a triple fault as a crash.
# i8042.*: Firecracker's flags, the keyboard-only controller ember-vmm emulates.
# noreplace-smp: as in ember-vmm's default (lib/fcapi/config.h), a faster 1-vCPU boot.
BASE_CMDLINE = ("console=ttyS0 quiet panic=-1 reboot=k "
                "i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd noreplace-smp")
# QEMU's microvm machine has no i8042, so under QEMU the guest must triple-fault.
QEMU_CMDLINE = BASE_CMDLINE.replace("reboot=k", "reboot=t")

MARKER = re.compile(r"ember-init: up (\d+) us")


def qemu_tcg_argv(cmdline, cpus=1, mem_mib=256, kernel=VMLINUX):
    """QEMU's microvm machine under pure emulation: no KVM needed."""
    return ["qemu-system-x86_64", "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on,acpi=off",
            "-accel", "tcg", "-cpu", "max", "-m", str(mem_mib), "-smp", str(cpus),
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", kernel, "-initrd", INITRAMFS, "-append", cmdline,
            "-serial", "stdio"]


def boot_qemu_tcg(extra, cpus=1, mem_mib=256, timeout=120, kernel=VMLINUX):
    """Boots under QEMU TCG; returns (exit code, console text)."""
    p = subprocess.run(qemu_tcg_argv(f"{QEMU_CMDLINE} {extra}", cpus, mem_mib, kernel),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, errors="replace")
    return p.returncode, p.stdout + p.stderr


def probe_values(console):
    """The key=value lines ember.probe=1 prints."""
    return dict(re.findall(r"^(cpus|mem_kb|kernel)=(\S+)\s*$", console, re.M))


def init_uptime_us(console):
    m = MARKER.search(console)
    return int(m.group(1)) if m else None
