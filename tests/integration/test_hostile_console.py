"""A console nobody reads must not stop the VM (issue 19).

ember-vmm's stdout is a pipe into `sleep`, which never reads it; the guest
(/bin/flood) writes console lines as fast as it can. Once the pipe is full,
the UART's bounded ring drops whole lines and ember-vmm says so on stderr;
the vCPU never waits on the console. Pause, resume and SIGTERM must still
work: each is awaited with a deadline on its own event (the API's answer, the
exit line), never a sleep.
"""
import os

from api_client import CALL_TIMEOUT, VMM, curl
from guest import BASE_CMDLINE, INITRAMFS, VMLINUX

BOOT_TIMEOUT = 180
# Emulated: generous, but finite. The old behaviour hangs forever.
PROMPT = 60

# fd 3: what the test reads (stderr of ember-vmm and the shell's own lines);
# ember-vmm's stdout: the pipe into a reader that sleeps and never reads. Only
# when the test kills its sleep (to see why no line was dropped, on a failure)
# does it copy the console to fd 3.
WRAP = ('exec 3>&1; ( "$0" "$@" 2>&3 & echo "vmm-pid $!" >&3; wait $!; '
        'echo "vmm-exit $?" >&3 ) | { sleep 100000 & echo "sleep-pid $!" >&3; wait; '
        'echo "=== the console ===" >&3; head -c 65536 >&3; }')


def console_of(kvm, vm):
    """A failure's evidence: the busiest processes where the VM runs (something
    left running by an earlier test?), its timer interrupts against its uptime,
    then what the guest wrote, once the stalled reader is let go."""
    ps = kvm.run(["ps", "-eo", "pid,pcpu,etime,rss,args", "--sort=-pcpu"],
                 timeout=CALL_TIMEOUT).stdout
    ps = "\n".join(line[:160] for line in ps.splitlines()[:12])
    # A host whose timer interrupts stopped fires no timer, the console's tick
    # included (the testbox's L1 did, on its LAPIC timer: testbox.py).
    ticks = kvm.run(["sh", "-c", "grep -i 'timer' /proc/interrupts; cat /proc/uptime"],
                    timeout=CALL_TIMEOUT).stdout
    sleep = vm.drain().split("sleep-pid ")[1].split()[0]
    kvm.run(["kill", sleep], timeout=CALL_TIMEOUT)
    try:
        vm.wait_for("vmm-exit ", 10)
    except AssertionError:
        pass
    console = vm.drain().partition("=== the console ===")[2][-3000:]
    return f"{ps}\ntimer interrupts, uptime:\n{ticks}the guest's console:\n{console}"


def test_stalled_console_reader_stops_nothing(kvm):
    sock = f"/tmp/ember-console-{os.getpid()}.sock"
    quirk = " noxsave" if kvm.where == "testbox" else ""
    vm = kvm.spawn(["sh", "-c", WRAP, VMM, "--api-sock", sock, "--kernel", VMLINUX,
                    "--initrd", INITRAMFS, "--cmdline",
                    f"{BASE_CMDLINE}{quirk} ember.run=/bin/flood"])
    try:
        vm.wait_for("vmm-pid ", BOOT_TIMEOUT)
        pid = vm.text.split("vmm-pid ")[1].split()[0]
        # The pipe is full and the ring too: lines are being dropped, and counted.
        try:
            vm.wait_for("line(s) of guest output dropped", BOOT_TIMEOUT)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{console_of(kvm, vm)}") from None
        status, _, raw = curl(kvm, sock, "PATCH", "/vm", '{"state": "Paused"}')
        assert status == 204, raw
        assert curl(kvm, sock, "GET", "/")[1]["state"] == "Paused"
        assert curl(kvm, sock, "PATCH", "/vm", '{"state": "Resumed"}')[0] == 204
        assert kvm.run(["kill", "-TERM", pid], timeout=CALL_TIMEOUT).returncode == 0
        vm.wait_for("vmm-exit ", PROMPT)
        assert "vmm-exit 143" in vm.text, vm.text[-2000:]
        assert "stopping on signal 15" in vm.text, vm.text[-2000:]
        assert "were dropped in all" in vm.text, vm.text[-2000:]
    finally:
        vm.stop()
