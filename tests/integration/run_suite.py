"""make integration / integration-san: pytest, then another run of the tests that
an emulator fault in the testbox's L1 took down.

Usage: run_suite.py PYTEST-ARGS...

Under QEMU's emulator, L1's kernel sometimes dies of a fault the emulator
makes (tests/testbox/l1_death.py says which shape, and why hardware cannot
make it). The tests that were running in that L1 fail through no fault of
theirs. l1_guard.py lists them; they run again on a fresh L1 (at most
twice) only when:
  - every L1 death of the run was that emulator fault (any other death is
    the suite's failure), and
  - no test failed on a live L1 (those failures stand as they are).
The result is then the last re-run's. Everything is printed: the first run's
summary names each death and the tests it took.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
RERUNS = 2  # a re-run can meet the fault again; a third time fails the suite


def pytest(args, report):
    if os.path.exists(report):
        os.unlink(report)
    rc = subprocess.call([sys.executable, "-m", "pytest", *args],
                         env=dict(os.environ, EMBER_L1_REPORT=report))
    try:
        with open(report) as f:
            return rc, json.load(f)
    except (OSError, ValueError):
        return rc, None


def verdict(rc, rep):
    """None when the affected tests may run again; else why not (printed)."""
    if rc != 1 or rep is None or not rep["deaths"]:
        return ""  # passed, or failed with L1 alive throughout, or not a test failure
    if not all(d["emulator_fault"] for d in rep["deaths"]):
        return "an L1 died of something other than the known emulator fault: no re-run"
    if rep["failed"] or not rep["affected"]:
        return f"{len(rep['failed'])} test(s) failed on a live L1: no re-run"
    return None


def main(args):
    os.makedirs(os.path.join(BUILD, "testbox"), exist_ok=True)
    base = os.path.join(BUILD, "testbox", f"l1-report-{os.getpid()}")
    rc, rep = pytest(args, base + ".json")
    for attempt in range(1, RERUNS + 2):
        why = verdict(rc, rep)
        if why is not None:
            why and print(f"run_suite: {why}", flush=True)
            return rc
        if attempt > RERUNS:
            print(f"run_suite: L1 died in each of {RERUNS} re-runs: the suite fails", flush=True)
            return 1
        only = f"{base}.only{attempt}"
        with open(only, "w") as f:
            f.write("\n".join(rep["affected"]) + "\n")
        print(f"run_suite: L1 died {len(rep['deaths'])} time(s) of the emulator's fault; "
              f"re-run {attempt} of at most {RERUNS}: the {len(rep['affected'])} test(s) it "
              "took down, on a fresh L1", flush=True)
        rc, rep = pytest([*args, "--ember-only", only], f"{base}.rerun{attempt}.json")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
