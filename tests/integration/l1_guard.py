"""What the suite does when the testbox's L1 dies under it.

Before every test that takes the `kvm` fixture, a dead L1 (QEMU gone: a
kernel panic in L1 ends it) is noted with what its console says
(tests/testbox/l1_death.py) and replaced by a fresh one, so the tests after
it run on a live L1 instead of each failing at its own deadline.

Each failed test is sorted into one of two lists: "affected", when an L1
died while its module ran (the test, or a module fixture it shares, lived in
that L1), or "failed" otherwise. At the end the lists and the deaths go to
$EMBER_L1_REPORT, which run_suite.py reads to decide whether the affected
tests run once more (only when every death was the emulator's own fault and
nothing failed on a live L1). The deaths are printed in the summary either way.

`--ember-only FILE` runs just the tests whose node ids FILE lists, one a line.
"""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "testbox"))
import l1_death  # noqa: E402


class L1Guard:
    def __init__(self):
        self.host = None        # the session's TestboxHost, once the kvm fixture made it
        self.boot = None        # makes a fresh, booted testbox.Testbox
        self.generation = 0     # how many L1s this session has booted, less one
        self.deaths = []        # one dict per L1 that died (l1_death.describe + test, generation)
        self.module_generation = {}  # module node id -> generation when its first test began
        self.affected, self.failed = [], []

    def attach(self, host, boot):
        self.host, self.boot = host, boot

    def _note_death(self, nodeid):
        """Notes the current L1's death once; returns whether it is dead."""
        if self.host is None or self.host.box.alive():
            return False
        if not self.deaths or self.deaths[-1]["generation"] != self.generation:
            death = l1_death.describe(self.host.box.console_log)
            death.update(test=nodeid, generation=self.generation)
            self.deaths.append(death)
        return True

    def before(self, item):
        module = item.nodeid.split("::")[0]
        if "kvm" in item.fixturenames and self._note_death(item.nodeid):
            self.host.box = self.boot()
            self.generation += 1
        self.module_generation.setdefault(module, self.generation)

    def after(self, item, report):
        if not report.failed:
            return
        module = item.nodeid.split("::")[0]
        died = self._note_death(item.nodeid) or any(
            d["generation"] >= self.module_generation.get(module, 0) for d in self.deaths)
        target = self.affected if died and "kvm" in item.fixturenames else self.failed
        if item.nodeid not in target:
            target.append(item.nodeid)

    def write(self, path):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"deaths": self.deaths, "affected": self.affected,
                       "failed": [n for n in self.failed if n not in self.affected]}, f, indent=1)
        os.replace(tmp, path)

    def summary(self, write_line):
        for d in self.deaths:
            kind = ("the emulator's fault (IRET #GP loop in the nested-guest run)"
                    if d["emulator_fault"] else "NOT a known emulator fault")
            write_line(f"L1 #{d['generation']} died during {d['test']}: {kind}")
            write_line("  " + (d["panic"] or d["console_tail"]).replace("\n", "\n  "))
            if d["functions"]:
                write_line("  call trace: " + " < ".join(d["functions"][:12]))
        if self.affected:
            write_line(f"{len(self.affected)} failed test(s) ran while an L1 died: "
                       + ", ".join(self.affected))


GUARD = L1Guard()


def addoption(parser):
    """For conftest's pytest_addoption (options must exist before plugins load)."""
    parser.addoption("--ember-only", metavar="FILE",
                     help="run only the tests whose node ids FILE lists (run_suite.py's re-run)")


class Plugin:
    """The hooks; conftest registers one instance."""

    def pytest_collection_modifyitems(self, config, items):
        only = config.getoption("--ember-only")
        if not only:
            return
        with open(only) as f:
            wanted = set(f.read().splitlines())
        config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in wanted])
        items[:] = [i for i in items if i.nodeid in wanted]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        GUARD.before(item)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        GUARD.after(item, outcome.get_result())

    def pytest_sessionfinish(self, session):
        path = os.environ.get("EMBER_L1_REPORT")
        if path:
            GUARD.write(path)

    def pytest_terminal_summary(self, terminalreporter):
        GUARD.summary(terminalreporter.write_line)
