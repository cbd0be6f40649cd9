"""`make bench`'s driver (bench/bench.py) end to end without KVM: --standin makes emberd
drive the stand-in VMM (tests/drivers/standin_vmm.c) and leaves the VM boot part out.
Checks that the tool produces what its report is made of: the JSON of every
measurement with every sample, the machine description, the charts, the
component benchmarks' summaries and the report.
No timing is asserted."""
import json
import os
import subprocess
import sys

from emberd_host import BUILD, REPO


def test_bench_tool_writes_its_json_charts_and_report(tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, os.path.join(REPO, "bench", "bench.py"), "--standin",
                        "--quick", "--no-results", "--out", str(out)],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, BUILD=os.path.relpath(BUILD, REPO)))
    assert r.returncode == 0, r.stdout + r.stderr
    m = json.loads((out / "machine.json").read_text())
    for k in ("cpu", "cores", "host_kernel", "cgroup", "nested", "versions"):
        assert k in m, k
    assert m["versions"]["ember"]
    starts = json.loads((out / "starts.json").read_text())
    assert set(starts) == {"provided", "python", "nodejs"}
    for rt, modes in starts.items():
        assert set(modes) == {"cold", "restore", "restore_ondemand", "warm"}, rt
        for mode, d in modes.items():
            # Every sample is kept, and each is the start kind that was asked for:
            # restores on the standby VMM, except those of emberd --no-standby.
            assert d["requests"] == len(d["samples"]) > 0, (rt, mode)
            assert d["summary"]["counted"] == d["requests"], (rt, mode, d["summary"])
            assert {s["start"] for s in d["samples"]} == {mode.split("_")[0]}, (rt, mode)
            if mode.startswith("restore"):
                assert {s["standby"] for s in d["samples"]} == {mode == "restore"}, (rt, mode)
    th = json.loads((out / "throughput.json").read_text())
    assert set(th) == {"1", "8"} and all(d["per_second"] > 0 for d in th.values())
    cr = json.loads((out / "creation.json").read_text())
    assert set(cr) == {"1", "2"}
    dn = json.loads((out / "density.json").read_text())
    assert dn["provided"]["instances"] >= 1 and all(p > 0 for p in dn["provided"]["pss_kib"])
    em = json.loads((out / "emberd.json").read_text())
    assert em["c1"]["rps"] > 0 and em["rss_kib"] > 0
    for png in ("cdf_provided", "cdf_python", "cdf_nodejs", "throughput", "density"):
        assert (out / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    report = (out / "report.md").read_text()
    assert "<!-- bench:summary -->" in report and "| provided | cold |" in report
    assert "stand-in VMM" in report
    # Where each start went (emberd's X-Ember-Start-Phases), per runtime.
    assert "**Phases of a start**" in report and "| python | restore |" in report
    assert "| python | restore, no standby |" in report
    # The host-side component benchmarks ran, each as its own program.
    comps = json.loads((out / "components.json").read_text())
    assert set(comps) == {"control API", "restore, VMM side", "jail", "Event invocations"}
    for name, c in comps.items():
        assert c["rc"] == 0 and c["summary"], (name, c)
        assert f"- {name}: `python3 bench/" in report, name
    assert any("jail adds to a restore start" in l for l in comps["jail"]["summary"])
