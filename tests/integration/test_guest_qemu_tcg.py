"""The guest kernel and ember-init boot, checked under QEMU's emulator.

This needs no KVM, so it runs everywhere; the same guest under ember-vmm and
KVM is tested in test_vmm_boot.py."""
import pytest

from guest import boot_qemu_tcg, init_uptime_us, probe_values


@pytest.mark.parametrize("cpus", [1, 2])
def test_probe_reports_cpus_memory_and_kernel(cpus):
    rc, console = boot_qemu_tcg("ember.probe=1", cpus=cpus, mem_mib=256)
    assert rc == 0, console
    assert init_uptime_us(console) is not None, console
    values = probe_values(console)
    assert values.get("cpus") == str(cpus), console
    # MemTotal is RAM minus what the kernel keeps for itself.
    assert 200 * 1024 < int(values["mem_kb"]) <= 256 * 1024, console
    assert values["kernel"].startswith("6.1."), console


def test_run_reports_exit_status():
    rc, console = boot_qemu_tcg("ember.run=/bin/hello")
    assert rc == 0, console
    assert "hello from the guest" in console
    assert "ember-init: /bin/hello exited with status 3" in console


def test_missing_program_is_reported():
    rc, console = boot_qemu_tcg("ember.run=/bin/nonexistent")
    assert rc == 0, console
    assert "exec /bin/nonexistent: No such file or directory" in console
    assert "exited with status 127" in console


def test_bad_option_is_reported_and_vm_ends():
    rc, console = boot_qemu_tcg("ember.prob=1")
    assert rc == 0, console
    assert "bad command line: unknown option ember.prob=1" in console
    assert "cpus=" not in console


def test_nothing_to_do_powers_off():
    rc, console = boot_qemu_tcg("")
    assert rc == 0, console
    assert init_uptime_us(console) is not None
    assert "cpus=" not in console
