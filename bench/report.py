"""bench/report.py: the tables, charts and RESULTS.md section of one `make bench` run.

write(out, res, results_md) takes what bench/bench.py measured (res: machine,
vmm_boot, starts, throughput, creation, density, emberd), writes gnuplot data
and PNG charts into out/, report.md there, and, if results_md is given, puts
the run's section at the top of its "make bench runs" and replaces its summary
table. Ratios are to QEMU microvm's exec -> init marker median of the same run.
"""
import os
import statistics
import subprocess

SUMMARY_BEGIN, SUMMARY_END = "<!-- bench:summary -->", "<!-- /bench:summary -->"
RUNS = "<!-- bench:runs -->"
MODES = ("cold", "restore", "warm")
# Rows of the starts table: the start kinds, and restores with no standby VMM.
ROWS = (("cold", "cold"), ("restore", "restore"), ("restore_ondemand", "restore, no standby"),
        ("warm", "warm"))


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def f(v, unit="ms", nd=1):
    return "n/a" if v is None else f"{v:.{nd}f}{(' ' + unit) if unit else ''}"


def ratio(a, b):
    return None if a is None or not b else a / b


def fr(v):
    return "n/a" if v is None else f"{v:.3f}×" if v < 0.1 else f"{v:.2f}×"


def boot_medians(vb):
    if not vb:
        return {}
    s = vb["samples"]
    return {vmm: {k: med([r[k] for r in rows]) for k in ("init_ms", "exit_ms", "rss_kib",
                                                         "own_rss_kib", "guest_ms")}
            for vmm, rows in s.items()}


def gnuplot(out, name, script):
    path = os.path.join(out, name + ".gp")
    with open(path, "w") as fh:
        fh.write(f"set terminal pngcairo size 900,540 noenhanced\nset output '{name}.png'\n")
        fh.write("set grid\nset key left top\n" + script)
    r = subprocess.run(["gnuplot", name + ".gp"], cwd=out, capture_output=True, text=True)
    if r.returncode != 0:
        # pngcairo is in gnuplot-nox? If not, the plain png terminal.
        with open(path) as fh:
            text = fh.read().replace("pngcairo", "png")
        with open(path, "w") as fh:
            fh.write(text)
        r = subprocess.run(["gnuplot", name + ".gp"], cwd=out, capture_output=True, text=True)
    return r.returncode == 0


def cdf_dat(out, name, values):
    v = sorted(values)
    with open(os.path.join(out, name), "w") as fh:
        for i, x in enumerate(v):
            fh.write(f"{x:.4f} {(i + 1) / len(v):.4f}\n")
    return bool(v)


def charts(out, res):
    made = []
    for rt, modes in res.get("starts", {}).items():
        plots = []
        for m in MODES:
            d = modes.get(m)
            if d is None:
                continue
            ms = [s["ms"] for s in d["samples"] if s["start"] == m and s["status"] == 200]
            if cdf_dat(out, f"cdf_{rt}_{m}.dat", ms):
                plots.append(f"'cdf_{rt}_{m}.dat' using 1:2 with steps lw 2 title '{m}'")
        if plots and gnuplot(out, f"cdf_{rt}", f"set title '{rt}: start latency CDF "
                             "(client round trip)'\nset logscale x\nset xlabel 'ms'\n"
                             "set ylabel 'fraction'\nset yrange [0:1]\nplot "
                             + ", ".join(plots) + "\n"):
            made.append(f"cdf_{rt}.png")
    vb = res.get("vmm_boot")
    if vb:
        plots = []
        for vmm, rows in vb["samples"].items():
            if cdf_dat(out, f"boot_{vmm}.dat", [r["init_ms"] for r in rows]):
                plots.append(f"'boot_{vmm}.dat' using 1:2 with steps lw 2 title '{vmm}'")
        if gnuplot(out, "boot", "set title 'VM boot: exec -> init marker CDF'\n"
                   "set xlabel 'ms'\nset ylabel 'fraction'\nplot " + ", ".join(plots) + "\n"):
            made.append("boot.png")
    th = res.get("throughput")
    if th:
        with open(os.path.join(out, "throughput.dat"), "w") as fh:
            for c, d in sorted(th.items(), key=lambda kv: int(kv[0])):
                s = d["summary"]
                fh.write(f"{c} {d['per_second']:.2f} {s['p50_ms'] or 0:.3f} "
                         f"{s['p99_ms'] or 0:.3f}\n")
        if gnuplot(out, "throughput", "set title 'warm invokes/s against concurrency "
                   "(provided)'\nset logscale x 2\nset xlabel 'concurrency'\n"
                   "set ylabel 'invokes/s'\nset y2label 'latency ms'\nset y2tics\n"
                   "set logscale y2\nplot 'throughput.dat' using 1:2 with linespoints lw 2 "
                   "title 'invokes/s', '' using 1:3 axes x1y2 with linespoints title 'p50 ms', "
                   "'' using 1:4 axes x1y2 with linespoints title 'p99 ms'\n"):
            made.append("throughput.png")
    dn = res.get("density")
    if dn:
        plots = []
        for rt, d in dn.items():
            if not d["pss_kib"]:
                continue
            with open(os.path.join(out, f"density_{rt}.dat"), "w") as fh:
                for i, k in enumerate(sorted(d["pss_kib"])):
                    fh.write(f"{i + 1} {k / 1024:.3f}\n")
            plots.append(f"'density_{rt}.dat' using 1:2 with linespoints lw 2 title '{rt}'")
        if plots and gnuplot(out, "density", "set title 'PSS per idle restored instance (128 MiB "
                   "function)'\nset xlabel 'instance (sorted)'\nset ylabel 'MiB'\n"
                   "set yrange [0:*]\nplot " + ", ".join(plots) + "\n"):
            made.append("density.png")
    return made


def section(out, res, made, rel):
    m = res["machine"]
    b = boot_medians(res.get("vmm_boot"))
    q = b.get("qemu-microvm", {}).get("init_ms")
    L = []
    where = ("the testbox (L1 Linux with nested KVM under QEMU TCG): every guest instruction "
             "is emulated, so **only ratios mean anything**; absolute times are 40-50× a "
             "hardware host's" if m["where"] == "testbox" else "hardware KVM, directly"
             if m["where"] == "direct" else "no VM at all: the stand-in VMM (a check of the "
             "tool, not a measurement of ember)")
    L.append(f"### {m['date_utc']} UTC — `make bench`, {m['where']}")
    L.append("")
    L.append(f"Where: {where}. Machine: {m['cpu']}, {m['cores']} cores, host kernel "
             f"{m['host_kernel']}, cgroup {m['cgroup']}, nested: {m['nested']}, /dev/kvm: "
             f"{m['kvm']}" + (f"; L1 kernel {m['l1']['kernel']}, {m['l1']['cpus']} vCPUs"
                              if m.get("l1") else "") + f". Load at start: "
             f"{' '.join(m['load_at_start'])}. Versions: " + "; ".join(
                 f"{k} {v}" for k, v in m["versions"].items() if k != "runtime images" and v)
             + "; runtime images: " + ", ".join(
                 f"{k} {v}" for pkgs in m["versions"].get("runtime images", {}).values()
                 for k, v in zip(pkgs[::2], pkgs[1::2]) if k in ("python3.11", "nodejs"))
             + f". Wall time {res['wall_s'] / 60:.1f} min. Every sample: `{rel}/`.")
    L.append("")
    if res.get("note"):
        L.append(f"**Note:** {res['note']}")
        L.append("")
    L.append("Method: clocks are CLOCK_MONOTONIC on the client side; warm-up runs are "
             "excluded (one per `ember bench` run, one boot per VMM); nothing else of ours "
             "ran in L1; the VMs are 1 vCPU, 128 MiB. Counts: "
             f"{res['counts']}.")
    L.append("")
    vb = res.get("vmm_boot") or {"runs": 0, "cmdline": "(not measured: --standin)"}
    L.append(f"**VM boot** (`bench/vmm_boot.py`, {vb['runs']} interleaved boots each, same "
             f"vmlinux, initramfs and command line `{vb['cmdline']}`):")
    L.append("")
    L.append("| VMM | exec → init marker p50 | guest uptime at init | exec → exit p50 | "
             "peak RSS | own RSS | init vs QEMU |")
    L.append("|---|---|---|---|---|---|---|")
    for vmm, s in b.items():
        L.append(f"| {vmm} | {f(s['init_ms'])} | {f(s['guest_ms'])} | {f(s['exit_ms'])} | "
                 f"{f(s['rss_kib'] and s['rss_kib'] / 1024, 'MiB')} | "
                 f"{f(s['own_rss_kib'] and s['own_rss_kib'] / 1024, 'MiB')} | "
                 f"{fr(ratio(s['init_ms'], q))} |")
    L.append("")
    L.append("**Function starts** through emberd's Lambda API (`ember bench`; cold with "
             "`--no-snapstart`, restore and warm with SnapStart, each restore on the standby "
             "VMM emberd spawned ahead; \"restore, no standby\" with `--no-standby`, each "
             "restore spawning its VMM; examples/ functions, 128 MiB). Phases: emberd's Init/Restore Duration (spawn to READY), the "
             "handler's Duration, and the rest (API, queueing, transport):")
    L.append("")
    L.append("| runtime | start | counted | p50 | p90 | p99 | init/restore p50 | handler p50 | "
             "rest p50 | p50 vs QEMU boot |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for rt, modes in res["starts"].items():
        for key, mode in ROWS:
            d = modes.get(key)
            if d is None:
                continue
            s = d["summary"]
            if "error" in d:
                L.append(f"| {rt} | {mode} | 0/{d['requests']} | failed: {d['error']} "
                         "| | | | | | |")
                continue
            rest = (None if s["p50_ms"] is None else s["p50_ms"] - (s["init_p50_ms"] or 0)
                    - (s["handler_p50_ms"] or 0))
            L.append(f"| {rt} | {mode} | {s['counted']}/{d['requests']} | {f(s['p50_ms'])} | "
                     f"{f(s['p90_ms'])} | {f(s['p99_ms'])} | "
                     f"{f(s['init_p50_ms']) if mode != 'warm' else '—'} | "
                     f"{f(s['handler_p50_ms'], nd=2)} | {f(rest) if mode != 'warm' else '—'} | "
                     f"{fr(ratio(s['p50_ms'], q))} |")
    L.append("")
    L += phases_table(res["starts"])
    th = res.get("throughput", {})
    L.append("**Throughput**, warm invokes of `provided` (`ember bench --mode warm -c C`):")
    L.append("")
    L.append("| concurrency | invokes/s | p50 | p90 | p99 | counted | throttled | failed |")
    L.append("|---|---|---|---|---|---|---|---|")
    for c, d in sorted(th.items(), key=lambda kv: int(kv[0])):
        s = d["summary"]
        if "error" in d:
            L.append(f"| {c} | failed: {d['error']} | | | | | | |")
            continue
        L.append(f"| {c} | {d['per_second']:.1f} | {f(s['p50_ms'])} | {f(s['p90_ms'])} | "
                 f"{f(s['p99_ms'])} | {s['counted']}/{d['requests']} | {s['throttled']} | "
                 f"{s['failed']} |")
    L.append("")
    L.append("**Creation rate**, restores of `provided` started C at a time "
             "(`ember bench --mode restore -c C`; restores/s over the rounds' wall time):")
    L.append("")
    L.append("| concurrency | restores/s | p50 | p99 | counted (others were served warm) |")
    L.append("|---|---|---|---|---|")
    for c, d in sorted(res.get("creation", {}).items(), key=lambda kv: int(kv[0])):
        s = d["summary"]
        if "error" in d:
            L.append(f"| {c} | failed: {d['error']} | | | |")
            continue
        L.append(f"| {c} | {d['per_second']:.2f} | {f(s['p50_ms'])} | {f(s['p99_ms'])} | "
                 f"{s['counted']}/{d['requests']} |")
    L.append("")
    L.append("**Density**: idle instances restored at once from one snapshot of a 128 MiB "
             "function; PSS of each ember-vmm (`/proc/PID/smaps_rollup`):")
    L.append("")
    L.append("| runtime | instances | PSS per instance p50 | min–max | MemAvailable drop per "
             "instance | fit the budget by accounting (MemorySize + 16 MiB) | fit by PSS |")
    L.append("|---|---|---|---|---|---|---|")
    for rt, d in res.get("density", {}).items():
        p = d["pss_kib"]
        per = d["pss_mib_median"]
        if "error" in d:
            L.append(f"| {rt} | 0 | failed: {d['error']} | | | | |")
            continue
        drop = d["mem_available_drop_kib_per_instance"]
        lo, hi = (min(p) / 1024, max(p) / 1024) if p else (None, None)
        L.append(f"| {rt} | {d['instances']} | {f(per, 'MiB', 2)} | "
                 f"{f(lo, '', 2)}–{f(hi, 'MiB', 2)} | {f(drop and drop / 1024, 'MiB', 2)} | "
                 f"{d['budget_mib'] // (128 + 16)} | "
                 f"{int(d['budget_mib'] / per) if per else 'n/a'} |")
    L.append("")
    e = res.get("emberd")
    if e:
        L.append(f"**emberd's own cost** on this host (`bench/emberd_bench.py`, the stand-in VMM "
                 f"of issue 18, {e['tool']}, {e['seconds']} s each): warm invoke at "
                 f"concurrency 1 p50 {e['c1']['p50_us']:.0f} µs, p99 {e['c1']['p99_us']:.0f} µs "
                 f"({e['c1']['rps']:.0f}/s)"
                 + (f", emberd's CPU {e['c1']['emberd_user_us']:.0f} µs user and "
                    f"{e['c1']['emberd_kernel_us']:.0f} µs kernel per invoke; the floor under "
                    f"it, GetFunctionConfiguration (one HTTP exchange, no VMM), p50 "
                    f"{e['c1_no_vmm']['p50_us']:.0f} µs" if "c1_no_vmm" in e else "")
                 + f"; at concurrency 32 {e['c32']['rps']:.0f} invokes/s; "
                 f"RSS {e['start_rss_kib'] / 1024:.1f} MiB at start, "
                 f"{e['rss_kib'] / 1024:.1f} MiB (PSS {e['pss_kib'] / 1024:.1f}) with "
                 f"{e['functions']} functions and {e['instances']} idle instances"
                 + (" (the largest parts: " + ", ".join(f"{n} {kb / 1024:.1f} MiB"
                                                     for kb, n in e["rss_largest"]) + ")"
                    if e.get("rss_largest") else "") + ".")
        L.append("")
    L += components_section(res.get("components"), "on this host")
    L += components_section(res.get("guest_components"), "where the VMs ran (L1 in the "
                            "testbox: only their ratios against QEMU mean anything)")
    L.append("**Targets** (issue 21):")
    L.append("")
    L.append("| target | this run | met |")
    L.append("|---|---|---|")
    for rt, modes in res["starts"].items():
        c = modes.get("cold", {}).get("summary", {}).get("p50_ms")
        for key, what in (("restore", ""), ("restore_ondemand", " (no standby)")):
            if key not in modes:
                continue
            v = ratio(modes[key].get("summary", {}).get("p50_ms"), c)
            L.append(f"| restore{what} ≤ 0.05× cold, {rt} | {fr(v)} | "
                     f"{'n/a' if v is None else 'yes' if v <= 0.05 else 'no'} |")
    ev = ratio(b.get("ember-vmm", {}).get("init_ms"), q)
    L.append(f"| VMM boot ≤ 0.5× QEMU microvm (exec → init) | {fr(ev)} | "
             f"{'n/a' if ev is None else 'yes' if ev <= 0.5 else 'no'} |")
    for rt, lim in (("provided", 2), ("python", 8)):
        per = res.get("density", {}).get(rt, {}).get("pss_mib_median")
        L.append(f"| PSS per idle restored instance ≤ {lim} MiB, {rt} | {f(per, 'MiB', 2)} | "
                 f"{'n/a' if per is None else 'yes' if per <= lim else 'no'} |")
    L.append("")
    if made:
        L.append("Charts: " + ", ".join(f"[{p}]({rel}/{p})" for p in made) + ".")
        L.append("")
    return "\n".join(L) + "\n"


def summary(res, rel):
    m = res["machine"]
    b = boot_medians(res.get("vmm_boot"))
    q = b.get("qemu-microvm", {}).get("init_ms")
    L = [SUMMARY_BEGIN,
         f"Latest `make bench`: {m['date_utc']} UTC, {m['where']}"
         + (" — **in the testbox only ratios mean anything** (every guest instruction is "
            "emulated; absolute times are 40-50× a hardware host's)" if m["where"] == "testbox"
            else "") + f". Medians of client round trips; ratios to QEMU microvm's exec → "
         f"init marker ({f(q)}) of the same run. Details: the newest section below and "
         f"`{rel}/`.", "",
         "| runtime | cold p50 | restore p50 | warm p50 | cold / QEMU | restore / QEMU | "
         "warm / QEMU | restore / cold |", "|---|---|---|---|---|---|---|---|"]
    for rt, modes in res["starts"].items():
        p = {k: modes.get(k, {}).get("summary", {}).get("p50_ms") for k in MODES}
        cell = {k: "failed" if "error" in modes.get(k, {}) else f(p[k]) for k in MODES}
        L.append(f"| {rt} | {cell['cold']} | {cell['restore']} | {cell['warm']} | "
                 f"{fr(ratio(p['cold'], q))} | {fr(ratio(p['restore'], q))} | "
                 f"{fr(ratio(p['warm'], q))} | {fr(ratio(p['restore'], p['cold']))} |")
    e = b.get("ember-vmm", {})
    L.append("| VM boot (ember-vmm, exec → init) | — | — | — | "
             f"{fr(ratio(e.get('init_ms'), q))}"
             f" ({f(e.get('init_ms'))}) | — | — | — |")
    L.append(SUMMARY_END)
    return "\n".join(L)


def components_section(comps, where):
    """The component benchmarks' own summaries, as they printed them."""
    if not comps:
        return []
    L = [f"**Component benchmarks** {where} (called by `make bench` as they are; "
         "each one's own summary, verbatim):", ""]
    for name, c in comps.items():
        state = "" if c["rc"] == 0 else f" — FAILED (exit {c['rc']})"
        L += [f"- {name}: `{c['command']}`{state}", "", "  ```"]
        L += [f"  {line}" for line in c["summary"]]
        L += ["  ```", ""]
    return L


def phases_table(starts):
    """Where emberd's spawn-to-READY went, p50 per phase (X-Ember-Start-Phases,
    api/pool/phases.h), for each runtime's cold and restore runs."""
    rows = []
    for rt, modes in starts.items():
        for key, mode in ROWS[:3]:
            ph = ((modes.get(key) or {}).get("summary") or {}).get("phases_p50_ms")
            if ph:
                rows.append(f"| {rt} | {mode} | {f(ph['spawn'])} | {f(ph['vm'])} | "
                            f"{f(ph['connect'])} | {f(ph['init'])} |")
    if not rows:
        return []
    return ["**Phases of a start**, p50 (emberd's own clock, from `X-Ember-Start-Phases`): "
            "spawn = exec until the VMM's API listens (restore only; with a standby VMM, "
            "what the restore still waited for it); vm = the boot "
            "(cold) or PUT /snapshot/load until the VM runs (restore); connect = vsock "
            "and its handshake; init = INIT or RESTORE until the runtime's READY.", "",
            "| runtime | start | spawn | vm | connect | init |", "|---|---|---|---|---|---|",
            *rows, ""]


def write(out, res, results_md):
    made = charts(out, res)
    rel = os.path.relpath(out, os.path.dirname(results_md) if results_md else out)
    sec = section(out, res, made, rel)
    with open(os.path.join(out, "report.md"), "w") as fh:
        fh.write(summary(res, ".") + "\n\n" + section(out, res, made, "."))
    if results_md is None:
        return
    with open(results_md) as fh:
        text = fh.read()
    a, z = text.index(SUMMARY_BEGIN), text.index(SUMMARY_END) + len(SUMMARY_END)
    text = text[:a] + summary(res, rel) + text[z:]
    i = text.index(RUNS) + len(RUNS)
    text = text[:i] + "\n\n" + sec.rstrip("\n") + text[i:]
    with open(results_md, "w") as fh:
        fh.write(text)
