#!/usr/bin/env python3
"""`make bench`: ember's benchmark, one command, one run, one report (issue 21).

    python3 bench/bench.py [--quick] [--out DIR] [--no-results]

Where: directly on a host whose CPU has VMX/SVM (hardware KVM), else in the
testbox (tests/testbox/: an L1 Linux with nested KVM under QEMU TCG, where every
guest instruction is emulated, so only ratios between things measured in the
same run mean anything). Run it alone: `make bench` takes /work-style
`flock` on $EMBER_BENCH_LOCK (default /work/testbox.lock when it exists), so
one testbox runs at a time.

What it measures, each by calling the one tool that owns that loop:
  VM boot        bench/vmm_boot.py: ember-vmm against qemu-system-x86_64 -M
                 microvm -accel kvm, same kernel, initramfs and command line,
                 interleaved; exec -> init marker, exec -> exit, RSS
  starts         `ember bench` against emberd (Lambda API), per runtime
                 (provided, python, nodejs): cold (emberd --no-snapstart),
                 restore and warm (SnapStart on: each restore takes the
                 standby VMM spawned ahead), and restore on demand (emberd
                 --no-standby: each restore spawns its VMM); client round
                 trip, emberd's Init/Restore Duration and its phases, and the
                 handler's Duration
  throughput     `ember bench --mode warm -c C` on provided, C = 1, 8, 32, 128
  creation rate  `ember bench --mode restore -c C`: restores per second
  density        idle restored instances of one 128 MiB function: PSS of each
                 ember-vmm, and how many fit emberd's memory budget (emberd
                 --no-standby, so that only instances are counted)
  emberd's cost  bench/emberd_bench.py on this host with the stand-in VMM
  components     the component benchmarks that need no guest to boot, on this
                 host, called as they are and their summaries kept: the
                 control API (api_bench.py), the VMM side of a restore
                 (restore_host.py), what the jail adds to a start
                 (jail_bench.py), durable Event invocations (async_bench.py);
                 then those that boot guests, where the VMs run (L1 here),
                 with fewer runs than their defaults: virtio-blk and vsock
                 against QEMU (blk_bench.py, vsock_bench.py), the guest's
                 invoke path (invoke_bench.py), the runtime images
                 (runtime_bench.py), restore against boot and PSS at the VMM
                 level (snapshot_bench.py), guest command lines
                 (cmdline_boot.py). Left out: testbox_bench.py (what the
                 testbox itself costs) and guest_boot_tcg.py (kernel configs
                 under pure TCG): they measure the test machinery, not ember.

Writes bench/out/<UTC date-time>/ (machine.json, one JSON per measurement with
every sample, gnuplot .dat files and PNG charts) and, unless --no-results, a
dated section and the summary table in bench/RESULTS.md.
"""
import argparse
import datetime
import json
import os
import platform
import queue
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.path.join(REPO, os.environ.get("BUILD", "build"))
sys.path.insert(0, os.path.join(REPO, "tests", "testbox"))
import testbox  # noqa: E402

EMBERD = os.path.join(BUILD, "bin", "emberd")
EMBER = os.path.join(BUILD, "bin", "ember")
RUNTIMES_DIR = os.path.join(BUILD, "runtimes")
SCRATCH = os.path.join(BUILD, "bench-scratch")  # on the share: L1 writes, the host reads
READY = "ready: Lambda API"
DEADLINE = [float("inf")]  # --minutes: later measurements are skipped, the report still written
# name, runtime, handler, code folder
FUNCTIONS = [
    ("provided", "provided.al2023", "hello", os.path.join(BUILD, "examples", "provided")),
    ("python", "python3.12", "app.handler", os.path.join(REPO, "examples", "python")),
    ("nodejs", "nodejs20.x", "index.handler", os.path.join(REPO, "examples", "nodejs")),
]
# Runs per measurement. Cold starts of python and node take 10-25 s each in the
# testbox (TCG), so their cold counts are cut there to fit the 30 minute budget.
FULL = {"boots": 20, "restore": 50, "ondemand": 20, "warm": 50, "cold": {"provided": 50, "python": 6,
                                                        "nodejs": 4},
        "conc": [1, 8, 32, 128], "creation": [1, 4, 8], "density": 12}
HW = {"boots": 50, "restore": 100, "ondemand": 50, "warm": 200, "cold": {"provided": 100, "python": 50,
                                                         "nodejs": 50},
      "conc": [1, 8, 32, 128], "creation": [1, 4, 8, 16], "density": 50}
# A shorter testbox run, for when the 30 minutes are not there (say so in the report).
SMALL = {"boots": 8, "restore": 20, "ondemand": 10, "warm": 30, "cold": {"provided": 8, "python": 2,
                                                        "nodejs": 2},
         "conc": [1, 8, 32, 128], "creation": [1, 4], "density": 8}
QUICK = {"boots": 2, "restore": 3, "ondemand": 2, "warm": 5, "cold": {"provided": 2, "python": 1, "nodejs": 1},
         "conc": [1, 8], "creation": [1, 2], "density": 2}


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


class Host:
    """Runs commands where the VMs run: here (hardware KVM) or in L1 (the testbox)."""

    def __init__(self, where):
        self.where = where
        self.box = None
        if where == "testbox":
            self.box = testbox.Testbox(os.path.join(BUILD, "testbox", "bench"), mem=6144,
                                       cpus=2)
            self.box.boot()

    def stage_images(self):
        """In the testbox, the images go to L1's tmpfs first: the 9p share has no
        page cache, so every start would otherwise fetch them from the outer
        machine (vmm_boot.py does the same for its boots)."""
        self.images = {"kernel": os.path.join(BUILD, "guest", "vmlinux"),
                       "initrd": os.path.join(BUILD, "guest", "initramfs.cpio"),
                       "runtimes": RUNTIMES_DIR}
        if self.box is None:
            return
        d = "/dev/shm/ember-bench-images"
        self.check(["/bin/sh", "-c", f'rm -rf {d} && mkdir -p {d} && cp "$1" "$2" {d}/ && '
                    f'mkdir {d}/runtimes && cp "$3"/*.erofs "$3"/*.json {d}/runtimes/', "sh",
                    self.images["kernel"], self.images["initrd"], RUNTIMES_DIR])
        self.images = {"kernel": f"{d}/vmlinux", "initrd": f"{d}/initramfs.cpio",
                       "runtimes": f"{d}/runtimes"}

    def run(self, argv, timeout=600, env=None):
        env = dict(env or {}, BUILD=BUILD)
        env.update({k: v for k, v in os.environ.items() if k.startswith("EMBER_BENCH_")})
        if self.box is None:
            p = subprocess.run(argv, cwd=REPO, capture_output=True, timeout=timeout,
                               env=dict(os.environ, **env))
            return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(
                errors="replace")
        rc, out, err = self.box.run(argv, env=env, timeout=timeout)
        return rc, out.decode(errors="replace"), err.decode(errors="replace")

    def check(self, argv, timeout=600, env=None):
        rc, out, err = self.run(argv, timeout, env)
        if rc != 0:
            raise RuntimeError(f"{' '.join(argv[:4])}...: exit {rc}\n{out[-2000:]}{err[-2000:]}")
        return out

    def stop(self):
        if self.box is not None:
            self.box.stop()


class Emberd:
    """One emberd on the Host, its log in the output folder; stop() ends it."""

    def __init__(self, host, tag, snapstart, budget_mib, logdir, standin=None, extra=()):
        self.host, self.done, self.standin = host, threading.Event(), standin
        self.home = f"/tmp/ember-bench-{tag}"  # Unix sockets cannot live on the 9p share
        self.lines = queue.Queue()
        self.logf = open(os.path.join(logdir, f"emberd-{tag}.log"), "w")
        argv = [EMBERD, "--home", self.home, "--no-tcp", "--runtimes", host.images["runtimes"],
                "--kernel", host.images["kernel"], "--initrd", host.images["initrd"],
                "--memory-budget", str(budget_mib), "--keep-warm", "3600", "--log-level", "info"]
        argv += ([] if snapstart else ["--no-snapstart"]) + list(extra)
        argv += ["--guest-args", "noxsave"] if host.where == "testbox" else []
        if standin:  # --standin: the stand-in VMM plays VMM and guest; empty images
            swap = {host.images["runtimes"]: standin, host.images["kernel"]: "/dev/null",
                    host.images["initrd"]: "/dev/null"}
            argv = [swap.get(a, a) for a in argv]
            argv += ["--no-jail", "--vmm", os.path.join(BUILD, "bin", "standin-vmm")]
        script = f'rm -rf {self.home}; mkdir -p {self.home}; echo $$ > {self.home}.pid; exec "$@"'
        self.partial = b""

        def chunk(data):
            self.partial += data
            *whole, self.partial = self.partial.split(b"\n")
            for line in whole:
                text = line.decode(errors="replace")
                self.logf.write(text + "\n")
                self.lines.put(text)

        def body():
            try:
                if host.box is not None:
                    host.box.run(["/bin/sh", "-c", script, "sh"] + argv, out=chunk, err=chunk)
                else:
                    p = subprocess.Popen(["/bin/sh", "-c", script, "sh"] + argv,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                    for line in iter(p.stdout.readline, b""):
                        chunk(line)
                    p.wait()
            finally:
                self.lines.put(None)
                self.done.set()
        threading.Thread(target=body, daemon=True).start()
        deadline = time.monotonic() + 120
        while True:
            line = self.lines.get(timeout=max(1.0, deadline - time.monotonic()))
            if line is None:
                raise RuntimeError(f"emberd stopped; see {self.logf.name}")
            if READY in line:
                break
        threading.Thread(target=lambda: [None for _ in iter(self.lines.get, None)],
                         daemon=True).start()

    def create_functions(self):
        """FUNCTIONS, 128 MiB each (the stand-in runs any code: the python example)."""
        for name, runtime, handler, code in FUNCTIONS:
            self.ember("create", name, "--runtime", runtime, "--handler", handler, "--code",
                       code if not self.standin else os.path.join(REPO, "examples", "python"),
                       "--memory", "128", "--timeout", "60")

    def ember(self, *args, timeout=1500):
        return self.host.check([EMBER, "--home", self.home] + list(args), timeout=timeout)

    def stop(self):
        self.host.run(["/bin/sh", "-c", f"kill -TERM $(cat {self.home}.pid)"], timeout=60)
        self.done.wait(90)
        self.logf.close()


def bench_json(e, name, mode, n, c=1, warmup=1):
    """One `ember bench` run; its JSON (every sample) and its printed report. A
    run that fails (emberd could not restore, say) is recorded with its error,
    and the benchmark goes on: the report shows the failure."""
    path = os.path.join(SCRATCH, f"{name}-{mode}-n{n}-c{c}.json")
    try:
        if time.monotonic() > DEADLINE[0]:
            raise RuntimeError("skipped: the run's --minutes were up")
        text = e.ember("bench", name, "--mode", mode, "-n", str(n), "-c", str(c), "--warmup",
                       str(warmup), "--no-progress", "--json", path)
    except RuntimeError as ex:
        msg = str(ex).strip().splitlines()[-1]
        log(f"{name} {mode} c={c}: FAILED: {msg}")
        return {"function": name, "mode": mode, "requests": n, "concurrency": c,
                "error": msg, "per_second": 0, "samples": [],
                "summary": {k: None for k in ("p50_ms", "p90_ms", "p99_ms", "min_ms",
                                              "max_ms", "mean_ms", "init_p50_ms",
                                              "handler_p50_ms")} | {
                    "counted": 0, "other_start": 0, "throttled": 0, "failed": n}}
    with open(path) as f:
        d = json.load(f)
    d["report"] = text
    log(f"{name} {mode} c={c}: p50 {d['summary']['p50_ms']} ms, counted "
        f"{d['summary']['counted']}/{n}")
    return d


PSS_SNIPPET = r"""
import json, os, re, sys
rows = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        comm = open(f"/proc/{pid}/comm").read().strip()
        if not comm.startswith(sys.argv[1][:15]):  # comm: 15 bytes
            continue
        t = open(f"/proc/{pid}/smaps_rollup").read()
        row = {k: int(re.search(rf"^{k}:\s+(\d+) kB", t, re.M).group(1))
               for k in ("Rss", "Pss", "Private_Dirty")}
        row["pid"] = int(pid)
        rows.append(row)
    except (OSError, AttributeError):
        pass
mem = open("/proc/meminfo").read()
avail = int(re.search(r"MemAvailable:\s+(\d+)", mem).group(1))
print(json.dumps({"instances": rows, "mem_available_kib": avail}))
"""


def density(host, e, name, k):
    """k idle instances restored at once from one snapshot; PSS of each ember-vmm."""
    vmm = "standin-vmm" if e.standin else "ember-vmm"
    before = json.loads(host.check(["python3", "-c", PSS_SNIPPET, vmm]))
    run = bench_json(e, name, "restore", k, k)
    after = json.loads(host.check(["python3", "-c", PSS_SNIPPET, vmm]))
    st = json.loads(e.ember("--json", "status"))
    if "error" in run:
        return {"function": name, "requested": k, "instances": 0, "pss_kib": [],
                "pss_mib_median": None, "mem_available_drop_kib_per_instance": None,
                "budget_mib": 0, "error": run["error"], "restore_run": run}
    old = {r["pid"] for r in before["instances"]}
    pss = [r["Pss"] for r in after["instances"] if r["pid"] not in old]
    return {"function": name, "requested": k, "instances": len(pss), "pss_kib": pss,
            "pss_mib_median": statistics.median(pss) / 1024 if pss else None,
            "mem_available_drop_kib_per_instance":
                (before["mem_available_kib"] - after["mem_available_kib"]) / len(pss)
                if pss else None,
            "budget_mib": st["MemoryBudgetMiB"], "status": st, "restore_run": run}


def machine(host):
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                                  timeout=30).stdout.strip()
        except subprocess.SubprocessError:
            return ""
    cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
    flags = open("/proc/cpuinfo").read()
    m = {"date_utc": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S"),
         "where": host.where,
         "cpu": cpu.group(1) if cpu else platform.processor(), "cores": os.cpu_count(),
         "host_kernel": platform.release(),
         "cgroup": "v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "v1",
         "nested": host.where == "testbox" or " hypervisor" in flags,
         "kvm": "PVM (cannot boot Linux)" if testbox.kvm_is_pvm() else "hardware",
         "load_at_start": open("/proc/loadavg").read().split()[:3],
         "versions": {
             "ember": sh(f"git -C {REPO} describe --always --dirty"),
             "ember (CLI)": sh(f"{EMBER} --version"),
             "qemu": sh("qemu-system-x86_64 --version | head -1"),
             "gnuplot": sh("gnuplot --version"),
             "wrk": sh("wrk -v 2>&1 | head -1 | cut -d' ' -f1-2"),
             "python3 (driver)": platform.python_version(),
             "runtime images": {rt: open(os.path.join(RUNTIMES_DIR, f"{rt}.versions")).read(
             ).split() for rt in ("provided", "python", "nodejs")
                 if os.path.exists(os.path.join(RUNTIMES_DIR, f"{rt}.versions"))}}}
    if host.box is not None:
        m["l1"] = {"kernel": host.check(["uname", "-r"]).strip(),
                   "cpus": host.check(["nproc"]).strip(),
                   "mem_mib": host.box.mem if hasattr(host.box, "mem") else None,
                   "qemu_l1": "qemu-system-x86_64 -accel tcg -cpu EPYC,+svm,+npt"}
    for var, name in (("EMBER_BENCH_FIRECRACKER", "firecracker"),
                      ("EMBER_BENCH_CLOUD_HYPERVISOR", "cloud-hypervisor")):
        if os.environ.get(var):
            m["versions"][name] = sh(f"{os.environ[var]} --version | head -1")
    return m


# The component benchmarks (module docstring): name, script, arguments (full
# run, --quick). Host side: restore_host.py makes the snapshot jail_bench.py
# restores, so it goes first. Guest side: fewer runs than each script's
# default, to fit make bench's 30 minutes in the testbox.
HOST_COMPONENTS = [
    ("control API", "api_bench.py", ["--calls", "1000", "--starts", "50"],
     ["--calls", "200", "--starts", "5"]),
    ("restore, VMM side", "restore_host.py", ["--runs", "20"], ["--runs", "3"]),
    ("jail", "jail_bench.py", ["--runs", "20"], ["--runs", "3"]),
    ("Event invocations", "async_bench.py", ["--seconds", "10", "--recovery-events", "10000"],
     ["--seconds", "2", "--recovery-events", "500"])]
GUEST_COMPONENTS = [
    ("virtio-blk read, against QEMU microvm", "blk_bench.py", ["--runs", "3", "--mib", "64"],
     ["--runs", "1", "--mib", "16"]),
    ("vsock, against QEMU's vhost-vsock", "vsock_bench.py", ["--pings", "500", "--mib", "16"],
     ["--pings", "50", "--mib", "2"]),
    ("guest invoke path (ember-init, no runtime)", "invoke_bench.py",
     ["--invokes", "300", "--inits", "2"], ["--invokes", "20", "--inits", "1"]),
    ("runtime images: INIT to READY, warm invoke", "runtime_bench.py",
     ["--invokes", "300", "--lang-invokes", "200", "--inits", "1"],
     ["--invokes", "200", "--lang-invokes", "200", "--inits", "1", "--runtimes", "provided"]),
    ("snapshot: restore against boot, pages, PSS", "snapshot_bench.py",
     ["--runs", "5", "--clones", "10"], ["--runs", "1", "--clones", "2"]),
    ("guest command lines (ember-init's uptime)", "cmdline_boot.py", ["--runs", "3"],
     ["--runs", "1"]),
]


def components(quick, host=None):
    """Runs the component benchmarks, each as the program it is: the host-side
    ones here, or with a Host the guest-booting ones where the VMs run (L1 of
    this run's testbox). Returns {name: {"command", "rc", "summary": its last
    lines}}."""
    out = {}
    for name, script, full, short in GUEST_COMPONENTS if host else HOST_COMPONENTS:
        args = short if quick else full
        cmd = "python3 bench/" + " ".join([script, *args])
        if time.monotonic() > DEADLINE[0]:
            out[name] = {"command": cmd, "rc": None, "summary": ["skipped: --minutes were up"]}
            continue
        log(f"component: {name} ({script})")
        argv = [sys.executable if host is None else "python3",
                os.path.join(REPO, "bench", script), *args]
        try:
            if host is None:
                p = subprocess.run(argv, capture_output=True, text=True, timeout=1200,
                                   env=dict(os.environ, BUILD=BUILD))
                rc, stdout, stderr = p.returncode, p.stdout, p.stderr
            else:
                rc, stdout, stderr = host.run(argv, timeout=1200)
            text = stdout if rc == 0 else stdout + stderr
        except (subprocess.TimeoutExpired, testbox.TestboxError) as ex:
            rc, text = None, f"did not finish: {str(ex).strip()[-300:]}"
        out[name] = {"command": cmd, "rc": rc,
                     "summary": [l for l in text.strip().splitlines() if l.strip()][-30:]}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few runs of each (the test's)")
    ap.add_argument("--small", action="store_true", help="fewer runs (about 12 min in the "
                    "testbox)")
    ap.add_argument("--out", help="output folder (default bench/out/<date-time>)")
    ap.add_argument("--no-results", action="store_true", help="leave bench/RESULTS.md alone")
    ap.add_argument("--minutes", type=float, help="skip what would start after this many "
                    "minutes (the report says so)")
    ap.add_argument("--skip-host", action="store_true", help="no emberd_bench (stand-in)")
    ap.add_argument("--standin", action="store_true",
                    help="no KVM: emberd drives the stand-in VMM and the VM boot part is left "
                    "out (tests/integration/test_bench_tool.py checks the tool with it)")
    a = ap.parse_args()
    t_start = time.monotonic()
    if a.minutes:
        DEADLINE[0] = t_start + a.minutes * 60
    where, why = ("standin", "--standin") if a.standin else testbox.choose_kvm_host()
    if where is None:
        sys.exit(f"bench: no KVM to run microVMs on: {why}")
    n = QUICK if a.quick else SMALL if a.small else FULL if where == "testbox" else HW
    stamp = datetime.datetime.utcnow().strftime("%Y-%m-%d-%H%M")
    out = a.out or os.path.join(REPO, "bench", "out", stamp)
    os.makedirs(out, exist_ok=True)
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(SCRATCH)
    res = {"counts": n}

    def save(key, value):
        res[key] = value
        with open(os.path.join(out, f"{key}.json"), "w") as f:
            json.dump(value, f, indent=1)

    if not a.skip_host:
        log("emberd's own cost against the stand-in VMM (this host)")
        path = os.path.join(SCRATCH, "emberd.json")
        subprocess.run([sys.executable, os.path.join(REPO, "bench", "emberd_bench.py"),
                        "--seconds", "2" if a.quick else "5", "--functions",
                        "10" if a.quick else "100", "--json", path], check=True,
                       env=dict(os.environ, BUILD=BUILD), stdout=sys.stderr)
        save("emberd", json.load(open(path)))
        save("components", components(a.quick))
    log(f"KVM: {where} ({why})")
    host = Host(where)
    try:
        save("machine", machine(host))
        host.stage_images()
        standin = None
        if a.standin:
            standin = os.path.join(SCRATCH, "runtimes")
            os.makedirs(standin)
            shutil.copy(os.path.join(REPO, "runtimes", "runtimes.json"), standin)
            for rt in ("python", "nodejs", "provided"):
                open(os.path.join(standin, rt + ".erofs"), "w").close()
        else:
            log("VM boot: ember-vmm against QEMU microvm")
            path = os.path.join(SCRATCH, "vmm_boot.json")
            host.check(["python3", os.path.join(REPO, "bench", "vmm_boot.py"), "--runs",
                        str(n["boots"]), "--json", path], timeout=1200)
            save("vmm_boot", json.load(open(path)))

        starts = {}
        # First (the targets need it), SnapStart off: a cold start is boot + runtime
        # init, and no snapshot is taken.
        e = Emberd(host, "cold", False, 4096, out, standin)
        try:
            e.create_functions()
            for name, *_ in FUNCTIONS:
                starts[name] = {"cold": bench_json(e, name, "cold", n["cold"][name], warmup=0)}
        finally:
            e.stop()
        save("starts", starts)
        # SnapStart on: restore, warm, throughput, creation rate, density.
        e = Emberd(host, "snap", True, 4096, out, standin)
        try:
            e.create_functions()
            for name, *_ in FUNCTIONS:
                starts[name]["restore"] = bench_json(e, name, "restore", n["restore"])
                starts[name]["warm"] = bench_json(e, name, "warm", n["warm"])
            save("throughput", {str(c): bench_json(e, "provided", "warm", max(4 * c, 50), c)
                                for c in n["conc"]})
            save("creation", {str(c): bench_json(e, "provided", "restore", 2 * c, c)
                              for c in n["creation"]})
        finally:
            e.stop()
        save("starts", starts)
        # Restores with no standby VMM (each spawns its own: what a version's
        # first restore after its keep-warm TTL costs), and density, whose
        # process count must not include the standbys.
        e = Emberd(host, "ondemand", True, 4096, out, standin, ["--no-standby"])
        try:
            e.create_functions()
            for name, *_ in FUNCTIONS:
                starts[name]["restore_ondemand"] = bench_json(e, name, "restore",
                                                              n["ondemand"])
            dens = {}
            for name in ("provided", "python"):
                dens[name] = density(host, e, name, n["density"])
                # Stop them before the next function's set (one budget): its
                # settle step stops every idle instance, then one restores.
                bench_json(e, name, "restore", 1, warmup=0)
            save("density", dens)
        finally:
            e.stop()
        save("starts", starts)
        if not a.standin:
            save("guest_components", components(a.quick, host))
    except Exception as ex:  # what was measured is still reported, with the reason
        import traceback
        traceback.print_exc()
        res["note"] = f"the run stopped early: {str(ex).strip().splitlines()[-1]}"
        if "starts" not in res or "machine" not in res:
            raise
    finally:
        host.stop()
    res["wall_s"] = time.monotonic() - t_start
    import report  # noqa: E402  (bench/report.py: tables and charts)
    report.write(out, res, None if a.no_results else os.path.join(REPO, "bench",
                                                                    "RESULTS.md"))
    log(f"done in {res['wall_s'] / 60:.1f} min: {out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
