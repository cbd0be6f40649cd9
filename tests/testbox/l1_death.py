"""Why an L1 stopped: read off its console after QEMU exited.

L1 runs with panic=-1 and QEMU with -no-reboot, so a kernel panic in L1 ends
QEMU. The console shows the oops with raw addresses (the testbox kernel has
no kallsyms); they are named here with addr2line against build/testbox/vmlinux.

One death is known to be the emulator's, not ours: QEMU's TCG emulation of
SVM sometimes leaves L1's kernel in a state where the IRET that ends an
interrupt taken inside KVM's nested-guest run loop raises #GP, the #GP
handler's own IRET faults the same way, and the recursion runs into the stack
guard page ("Fatal exception in interrupt"). On hardware that IRET cannot
fault. It is recognised only by that exact shape: an interrupt inside
svm_vcpu_run, then the IRET/#GP loop.
"""
import os
import re
import subprocess

from testbox import BUILD

VMLINUX = os.path.join(BUILD, "testbox", "vmlinux")
# A call-trace frame, "[  105.95]  ? 0xffffffff81600a62", and the faulting RIP.
FRAME = re.compile(r"^\[\s*[\d.]+\]\s+(?:\? )?(?:0x)?(ffffffff[0-9a-f]{8})\s*$")
RIP = re.compile(r"RIP: [0-9a-f]{4}:(?:0x)?(ffffffff[0-9a-f]{8})")
# The IRET/#GP recursion, entered from an interrupt inside the nested-guest run.
EMULATOR_FAULT = ({"native_irq_return_iret", "exc_general_protection"},
                  {"__svm_vcpu_run", "svm_vcpu_enter_exit", "svm_vcpu_run"})


def symbolize(addrs, vmlinux=VMLINUX):
    """{address: function name} for the addresses, or {} without vmlinux/addr2line."""
    addrs = sorted(set(addrs))
    if not addrs or not os.path.exists(vmlinux):
        return {}
    try:
        out = subprocess.run(["addr2line", "-f", "-e", vmlinux, *addrs], capture_output=True,
                             text=True, timeout=60).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return dict(zip(addrs, out[0::2]))


def describe(console_log):
    """What the console says about the end: {"panic": first lines of the oops or
    panic ("" if none), "functions": named frames of the call trace, in order of
    first appearance, "emulator_fault": whether it is the TCG SVM fault above}."""
    try:
        with open(console_log, errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    start = min((i for i in (text.find("BUG:"), text.find("Oops"), text.find("Kernel panic"))
                 if i >= 0), default=-1)
    if start < 0:
        return {"panic": "", "functions": [], "emulator_fault": False,
                "console_tail": text[-2000:]}
    oops = text[start:]
    lines = oops.splitlines()
    addrs = ["0x" + m.group(1) for l in lines for m in (FRAME.match(l) or RIP.search(l),) if m]
    names = symbolize(addrs)
    functions = list(dict.fromkeys(names[a] for a in addrs if a in names))
    loop, entry = EMULATOR_FAULT
    fault = loop <= set(functions) and bool(entry & set(functions))
    head = [l for l in lines if not FRAME.match(l)]
    return {"panic": "\n".join(head[:8] + [l for l in head if "Kernel panic" in l][:1]),
            "functions": functions, "emulator_fault": fault, "console_tail": ""}
