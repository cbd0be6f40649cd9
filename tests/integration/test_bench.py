"""`ember bench` against a real emberd on this host, whose instances are the stand-in VMM
(tests/drivers/standin_vmm.c: it answers INIT and INVOKE and takes snapshots, with no
guest), so no KVM is needed. Checks what a user relies on, never a time: the run counts
the start kind it was asked for, the JSON carries every sample, the CSV one row each,
and the control route that forces restores and cold starts does what it says."""
import csv
import json
import uuid

import pytest

from emberd_host import StandinEmberd, make_zip

APP = {"app.py": (b"def handler(e, c):\n    return e\n", 0o644)}


@pytest.fixture(scope="module")
def emberd(tmp_path_factory):
    e = StandinEmberd()
    e.runtimes = StandinEmberd.runtimes_dir(tmp_path_factory.mktemp("runtimes"))
    e.start()
    try:
        yield e
        assert e.stop() == 0, "emberd did not stop cleanly on SIGTERM"
    finally:
        e.cleanup()


@pytest.fixture
def fn(emberd, tmp_path):
    name = "bench-" + uuid.uuid4().hex[:8]
    z = tmp_path / "code.zip"
    z.write_bytes(make_zip(APP))
    r = emberd.ember("create", name, "--runtime", "python3.12", "--handler", "app.handler",
                     "--code", str(z))
    assert r.returncode == 0, r.stderr
    return name


def bench(emberd, tmp_path, name, *args):
    out = tmp_path / "out.json"
    r = emberd.ember("bench", name, *args, "--json", str(out))
    assert r.returncode == 0, f"rc {r.returncode}: {r.stdout}{r.stderr}"
    return r.stdout, json.loads(out.read_text())


@pytest.mark.parametrize("mode", ["warm", "restore", "cold"])
def test_bench_counts_the_start_kind_it_was_asked_for(emberd, fn, tmp_path, mode):
    out, d = bench(emberd, tmp_path, fn, "--mode", mode, "-n", "12")
    assert d["mode"] == mode and d["function"] == fn and d["concurrency"] == 1
    assert len(d["samples"]) == 12
    # One at a time, every start is the kind asked for: the control route made it so.
    assert [s["start"] for s in d["samples"]] == [mode] * 12, d["samples"]
    assert all(s["status"] == 200 and s["ms"] > 0 for s in d["samples"])
    s = d["summary"]
    assert s["counted"] == 12 and s["failed"] == 0 and s["throttled"] == 0
    assert s["min_ms"] <= s["p50_ms"] <= s["p90_ms"] <= s["p99_ms"] <= s["max_ms"]
    if mode != "warm":
        assert all(x["init_ms"] >= 0 for x in d["samples"])  # REPORT's Init/Restore Duration
        # emberd's X-Ember-Start-Phases, per sample and as p50s: they add up to
        # the Init/Restore Duration. Only a restore has an API step (spawn), and
        # each of these took the standby VMM spawned ahead (emberd's default),
        # so that step is no more than what it still waited (0 if it listened).
        for x in d["samples"]:
            ph = x["phases_ms"]
            assert abs(sum(ph.values()) - x["init_ms"]) <= 0.05, x
            assert x["standby"] == (mode == "restore") and ph["vm"] > 0, x
            assert ph["spawn"] >= 0 if mode == "restore" else ph["spawn"] == 0, x
        assert s["standby_starts"] == (12 if mode == "restore" else 0), s
        assert set(s["phases_p50_ms"]) == {"spawn", "vm", "connect", "init"}, s
        assert "of which: spawn" in out, out
    else:
        assert all("phases_ms" not in x for x in d["samples"]), d["samples"]
        assert all(v is None for v in s["phases_p50_ms"].values()), s
    # What a user reads: the method, the percentiles and a histogram.
    assert f"{mode} starts, 12 requests" in out
    assert "CLOCK_MONOTONIC" in out and "warm-up" in out
    assert "p50" in out and "p99" in out and " ms | " in out


def test_bench_concurrency_and_csv(emberd, fn, tmp_path):
    out = tmp_path / "out.csv"
    r = emberd.ember("bench", fn, "-n", "40", "-c", "4", "--csv", str(out))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 40
    assert {row["status"] for row in rows} == {"200"}
    assert "concurrency 4" in r.stdout and "throughput:" in r.stdout


def test_bench_over_tcp_with_a_payload(emberd, fn, tmp_path):
    p = tmp_path / "payload.json"
    p.write_text('{"k": "v"}')
    r = emberd.ember("bench", fn, "-n", "3", "--payload", str(p), endpoint=True)
    assert r.returncode == 0, r.stderr
    assert "counted: 3" in r.stdout


def test_stop_idle_route(emberd, fn):
    assert emberd.ember("invoke", fn).returncode == 0
    st, _, body = emberd.http("DELETE", f"/ember/functions/{fn}/instances")
    assert st == 200 and json.loads(body)["Stopped"] >= 1
    st, _, body = emberd.http("DELETE", f"/ember/functions/{fn}/instances?snapshot=bogus")
    assert st == 400
    st, _, _ = emberd.http("DELETE", "/ember/functions/no-such-fn/instances")
    assert st == 404


def test_bench_usage_errors(emberd, fn):
    for args in (["--mode", "hot"], ["-n", "0"], ["-c", "0"], ["--json", "a", "--csv", "b"],
                 []):
        r = emberd.ember("bench", *([fn] if args else []), *args)
        assert r.returncode == 2, (args, r.stderr)
    r = emberd.ember("bench", "no-such-function", "-n", "1")
    assert r.returncode == 1 and "ResourceNotFound" in r.stderr
