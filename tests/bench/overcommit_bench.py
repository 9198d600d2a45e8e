# SPDX-License-Identifier: GPL-2.0
"""The overcommit benchmark (tests/bench/run.py overcommit [--scale]):
static partitioning against overcommit with ballooning, under the
stub's memory policy, on the same workloads (tests/bench/overcommit.sh
in every guest), and the policy with 8 guests under one stub.

Each policy is one boot of all guests under one vpv-host; a sampler
thread asks the stub for 'stats' every second (populated pages per
guest and in total, balloon targets and sizes), starts the guests'
phases together (the store key 'go', once all are ready), tries
'sharing' (the page-sharing scan, when the build has it) and reads the
stub's CPU time and RSS from /proc.
"""

import json
import os
import threading
import time
from pathlib import Path

import vmtest

MIB = 1 << 20
PAGE = 4096
MEET = "/local/domain/0/pvkit-oc"
FIGURES = vmtest.REPO / "Documentation" / "figures"

# The experiment: 4 guests of 256 MiB, 1 vCPU each (2 host cores, TCG).
# 640 MiB of host memory for 1 GiB of guests: 62.5%, so static
# partitioning gives each 160 MiB, less than the active phase's working
# set (128 MiB of stress-ng plus the guest's own ~80 MiB: kernel and
# the initramfs's programs), while with two guests idle at the policy's
# floor (64 MiB each) the two busy ones can have their whole 256 MiB:
# 2 * 64 + 2 * 256 = 640.
OC_GUESTS = 4
OC_MEM_MIB = 256
OC_BUDGET_MIB = 640
# A active, F file cache, I idle: at any time one guest active, one
# reading its files, two idle, each guest's turn at a different time
OC_SCHED = ("AIIF", "IAFI", "FIAI", "IFIA")
OC_VM_MIB = 128         # stress-ng --vm-bytes
OC_FILE_MIB = 96        # the file phase's file: cached whole in 256 MiB
# fixed shares: the first guest is worth two of the others (ESX's
# shares; at tau = 0 the policy is pure proportional share)
OC_SHARES = (2, 1, 1, 1)
# name, guest RAM, balloon, shares, host arguments
OC_POLICIES = (
    ("static", OC_BUDGET_MIB // OC_GUESTS, False, None, ()),
    ("tau0", OC_MEM_MIB, True, None,
     ("--host-mem", f"{OC_BUDGET_MIB}M", "--idle-tax", "0")),
    ("tau0.75", OC_MEM_MIB, True, None,
     ("--host-mem", f"{OC_BUDGET_MIB}M", "--idle-tax", "0.75")),
    ("shares2111", OC_MEM_MIB, True, OC_SHARES,
     ("--host-mem", f"{OC_BUDGET_MIB}M", "--idle-tax", "0")),
)
# Scale: 8 guests of 192 MiB on 1 GiB (1.5 GiB of guests), tau 0.75;
# two pairs of guests active in turn, then all idle for the rest, so
# the targets move and must then settle
SC_GUESTS = 8
SC_MEM_MIB = 192
SC_BUDGET_MIB = 1024
SC_SCHED = ("AIIII", "AIIII", "IAIII", "IAIII") + ("IIIII",) * 4
# after settling, each target's max - min over the last SC_WINDOW_S
# must stay within SC_BOUND_MIB (a few of the policy's 2 MiB steps)
SC_WINDOW_S = 60
SC_BOUND_MIB = 8


def clk_tck():
    return os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    """utime + stime of pid (all its threads) in seconds, None if gone."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(f[11]) + int(f[12])) / clk_tck()


def proc_status_kb(pid, key):
    try:
        for ln in Path(f"/proc/{pid}/status").read_text().splitlines():
            if ln.startswith(key + ":"):
                return int(ln.split()[1])
    except OSError:
        pass
    return None


def find_stub(ini):
    """The vpv-host started with --config ini (its pid), or None."""
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"vpv-host") and str(ini).encode() in cmd:
            return int(d.name)
    return None


class Sampler(threading.Thread):
    """Once a second: the stub's stats (kept as samples), the 'go' of
    the guests' phases once all are ready, now and then the sharing
    scan, and the stub's and its back-ends' CPU and memory."""

    def __init__(self, wd, names):
        super().__init__(daemon=True)
        self.ctl = Path(wd) / "run" / "ctl.sock"
        self.ini = Path(wd) / "guests.ini"
        self.names = list(names)
        self.stop = threading.Event()
        self.t0 = time.monotonic()
        self.t_go = None
        self.samples = []       # (t since go or start, stats JSON)
        self.sharing = None     # the last answer, or the error
        self.sharing_ok = None
        self.stub_pid = None
        self.cpu = {}           # "stub" / guest name -> CPU seconds
        self.rss = {}           # "stub_anon_kb", "stub_rss_kb", ...
        self.be_pids = {}       # pid -> guest

    def req(self, line):
        return vmtest.ctl_request(self.ctl, line)

    def ready(self):
        for n in self.names:
            r = self.req(f"store read {MEET}/ready-{n}")
            if str(r.get("value", "")) != "1":
                return False
        return True

    def procs(self):
        if not self.stub_pid:
            self.stub_pid = find_stub(self.ini)
        if not self.stub_pid:
            return
        c = proc_cpu_s(self.stub_pid)
        if c is not None:
            self.cpu["stub"] = c
            self.rss["stub_rss_kb"] = proc_status_kb(self.stub_pid, "VmRSS")
            self.rss["stub_anon_kb"] = proc_status_kb(self.stub_pid,
                                                      "RssAnon")
            self.rss["stub_hwm_kb"] = max(
                self.rss.get("stub_hwm_kb") or 0,
                self.rss["stub_anon_kb"] or 0)
        try:
            devs = self.req("device list").get("devices", [])
        except (OSError, ValueError):
            devs = []
        for d in devs:
            if d.get("pid"):
                self.be_pids[d["pid"]] = d.get("guest")
        be_cpu, be_rss = {}, {}
        for pid, g in self.be_pids.items():
            c = proc_cpu_s(pid)
            if c is not None:
                self.cpu[f"be:{pid}"] = (g, c)
                be_rss[g] = be_rss.get(g, 0) + (proc_status_kb(pid, "VmRSS")
                                                or 0)
        for k, (g, c) in [(k, v) for k, v in self.cpu.items()
                          if k.startswith("be:")]:
            be_cpu[g] = be_cpu.get(g, 0.0) + c
        self.rss["backend_rss_kb"] = {**self.rss.get("backend_rss_kb", {}),
                                      **be_rss}
        self.cpu["backends"] = be_cpu

    def try_sharing(self):
        try:
            r = self.req("sharing")
        except (OSError, ValueError) as e:
            r = {"error": str(e)}
        self.sharing_ok = "error" not in r
        self.sharing = r

    def run(self):
        n = 0
        while not self.stop.wait(1.0):
            try:
                s = self.req("stats")
            except (OSError, ValueError):
                continue
            now = time.monotonic()
            if self.t_go is None:
                try:
                    if self.ready():
                        self.req(f"store write {MEET}/go 1")
                        self.t_go = now
                except (OSError, ValueError):
                    pass
            self.samples.append((round(now - self.t0, 2), s))
            if n % 5 == 0:
                self.procs()
            # the scan costs host CPU: every 30 s once the phases run
            if self.t_go is not None and n % 30 == 0 and \
                    self.sharing_ok is not False:
                self.try_sharing()
            n += 1

    def series(self):
        """[{t (s since go), host populated MiB, per guest dicts}]."""
        go = (self.t_go - self.t0) if self.t_go else 0.0
        out = []
        for t, s in self.samples:
            h = s.get("host", {})
            gs = {}
            for g in s.get("guests", []):
                ram = g.get("ram_pages", 0)
                gs[g.get("name")] = {
                    "pop": round(g.get("populated_pages", 0) * PAGE / MIB, 1),
                    "alloc": round((ram - g.get("target_pages", 0)) * PAGE
                                   / MIB, 1),
                    "balloon": round(g.get("balloon_pages_guest", 0) * PAGE
                                     / MIB, 1),
                    "act": (g.get("activity") or {}).get(
                        "policy_active_ppm")}
            out.append({"t": round(t - go, 1),
                        "pop": round(h.get("populated_pages", 0) * PAGE
                                     / MIB, 1),
                        "g": gs})
        return out


def phase_rows(text):
    """The '# oc-phase' lines of a guest's results."""
    rows = []
    for ln in text.splitlines():
        f = ln.split()
        if len(f) == 12 and f[:2] == ["#", "oc-phase"]:
            g, i, k = f[2], int(f[3]), f[4]
            secs, ops, mb, pin, pout, psi, oom = (
                float(f[5]), *(int(x) for x in f[6:12]))
            rows.append({"guest": g, "phase": i, "kind": k, "secs": secs,
                         "ops": ops, "mb": mb, "pswpin": pin,
                         "pswpout": pout, "psi_us": psi, "oom": oom})
    return rows


def sharing_cell(s):
    """The latest finished pass (vpv-ctl sharing --json): what sharing
    would save of what the guests had resident."""
    if not s or "error" in s:
        return "sharing scan: not available in this build"
    if not s.get("pass") or "saved_pages" not in s:
        return "sharing scan: no pass finished"
    scanned = s.get("scanned_pages", 0)
    saved = s["saved_pages"]
    pct = 100.0 * saved / scanned if scanned else 0.0
    return (f"{saved * PAGE / MIB:.0f} MiB of {scanned * PAGE / MIB:.0f} "
            f"resident ({pct:.0f} %; non-zero "
            f"{s.get('saved_nonzero_pages', 0) * PAGE / MIB:.0f} MiB)")


def summarize(name, rows, series, sampler_info):
    """One policy's figures from its phases and samples."""
    out = {"policy": name, "guests": {}}
    for r in rows:
        g = out["guests"].setdefault(r["guest"], {
            "vm_ops": 0, "vm_s": 0.0, "file_mb": 0, "file_s": 0.0,
            "psi_s": 0.0, "swap_mib": 0.0, "oom": 0})
        if r["kind"] == "A":
            g["vm_ops"] += r["ops"]
            g["vm_s"] += r["secs"]
        if r["kind"] == "F":
            g["file_mb"] += r["mb"]
            g["file_s"] += r["secs"]
        g["psi_s"] += r["psi_us"] / 1e6
        g["swap_mib"] += (r["pswpin"] + r["pswpout"]) * PAGE / MIB
        g["oom"] += r["oom"]
    for g in out["guests"].values():
        g["vm_ops_s"] = g["vm_ops"] / g["vm_s"] if g["vm_s"] else None
        g["file_mbs"] = g["file_mb"] / g["file_s"] if g["file_s"] else None
    # host memory from the phases' start on
    pops = [p["pop"] for p in series if p["t"] >= 0]
    out["host_peak_mib"] = max(pops) if pops else None
    out["host_mean_mib"] = sum(pops) / len(pops) if pops else None
    out.update(sampler_info)
    return out


def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def oc_table(results):
    """The side-by-side table: a column per policy."""
    pols = [r["policy"] for r in results]
    names = sorted({g for r in results for g in r["guests"]})
    rows = []

    def total(key, spec=".0f"):
        return [fmt(sum(g[key] for g in r["guests"].values()), spec)
                for r in results]

    for label, key, tkey, tlabel in (
            ("vm bogo ops/s", "vm_ops_s", "vm_ops",
             "vm bogo ops, all guests"),
            ("file MB/s", "file_mbs", "file_mb",
             "file MiB moved, all guests")):
        for g in names:
            rows.append((f"{g} {label}",
                         [fmt(r["guests"].get(g, {}).get(key), ".1f")
                          for r in results]))
        rows.append((tlabel, total(tkey)))
    rows.append(("memory stall (PSI some), s", total("psi_s", ".1f")))
    rows.append(("swapped in+out, MiB", total("swap_mib")))
    rows.append(("OOM kills",
                 [str(sum(g["oom"] for g in r["guests"].values()))
                  for r in results]))
    rows.append(("host memory peak, MiB",
                 [fmt(r["host_peak_mib"]) for r in results]))
    rows.append(("host memory mean, MiB",
                 [fmt(r["host_mean_mib"]) for r in results]))
    rows.append(("stub CPU s (+ back-ends)",
                 [fmt(r.get("stub_cpu_s"), ".1f") + " (+" +
                  fmt(r.get("backend_cpu_s"), ".1f") + ")"
                  for r in results]))
    w0 = max(len(r[0]) for r in rows)
    w = max([12] + [len(p) for p in pols] +
            [len(c) for _, cs in rows for c in cs])
    print(f"{'':{w0}}  " + "  ".join(f"{p:>{w}}" for p in pols))
    for label, cs in rows:
        print(f"{label:{w0}}  " + "  ".join(f"{c:>{w}}" for c in cs))
    for r in results:
        print(f"# {r['policy']}: {r.get('sharing_cell')}")


def oc_plots(results, out_dir=FIGURES, name="overcommit"):
    """host memory over time per policy (one plot) and each ballooning
    policy's per-guest allocations (RAM - balloon target) over time."""
    import svgplot
    series = [(r["policy"], [(p["t"], p["pop"]) for p in r["series"]
                             if p["t"] >= -5])
              for r in results if r["series"]]
    if series:
        svgplot.lines("Host memory used by the guests (populated frames)",
                      series, out_dir / f"{name}-host.svg",
                      "seconds since the phases started", "MiB")
        print(f"# plot: {out_dir / f'{name}-host.svg'}")
    for r in results:
        if not r["balloon"] or not r["series"]:
            continue
        gnames = sorted({g for p in r["series"] for g in p["g"]})
        ser = [(g, [(p["t"], p["g"][g]["alloc"]) for p in r["series"]
                    if g in p["g"] and p["t"] >= -5]) for g in gnames]
        path = out_dir / f"{name}-targets-{r['policy']}.svg"
        svgplot.lines(f"{r['policy']}: the policy's allocation per guest "
                      "(RAM - balloon target)", ser, path,
                      "seconds since the phases started", "MiB")
        print(f"# plot: {path}")


def run_policy(k, mods, wd, pol, names, scheds, phase_s, vm_mb, file_mb,
               timeout):
    name, mem, balloon, shares, host_args = pol
    # only the drivers the script loads: the initramfs is RAM the guest
    # keeps in its tmpfs root, so no test modules
    mods = [m for m in mods
            if m.stem in ("vhypercall", "vballoon", "vblkfront")]
    wd = Path(wd) / name
    wd.mkdir(parents=True, exist_ok=True)
    script = [Path(__file__).resolve().parent / "overcommit.sh"]
    specs = []
    for i, (g, sch) in enumerate(zip(names, scheds)):
        initrd = wd / f"initramfs-{g}.cpio.gz"
        vmtest.build_initramfs(initrd,
                               mods + vmtest.kernel_modules(k, script),
                               script, {
                                   "PVKIT_KERNEL": k.name, "PVKIT_GUEST": g,
                                   "PVKIT_OC_SCHED": sch,
                                   "PVKIT_OC_PHASE_S": str(phase_s),
                                   "PVKIT_OC_VM_MB": str(vm_mb),
                                   "PVKIT_OC_FILE_MB": str(file_mb),
                                   "PVKIT_OC_BALLOON": "1" if balloon
                                   else "0"})
        specs.append(vmtest.GuestSpec(g, k.image, initrd, mem=f"{mem}M",
                                      smp=1,
                                      shares=shares[i] if shares else 0))
    sampler = Sampler(wd, names)
    sampler.start()
    t0 = time.monotonic()
    try:
        res = vmtest.boot_guests(specs, wd, timeout=timeout,
                                 host_args=host_args)
    finally:
        sampler.stop.set()
        sampler.join()
    elapsed = time.monotonic() - t0
    rows = []
    for r in res:
        rows += phase_rows(r.results)
    series = sampler.series()
    be = sampler.cpu.get("backends", {})
    info = {"balloon": balloon, "mem_mib": mem, "host_args": list(host_args),
            "shares": list(shares) if shares else None,
            "elapsed_s": round(elapsed, 1),
            "stub_cpu_s": sampler.cpu.get("stub"),
            "backend_cpu_s": sum(be.values()) if be else None,
            "backend_cpu_per_guest": be,
            "rss": sampler.rss,
            "sharing": sampler.sharing,
            "sharing_cell": sharing_cell(sampler.sharing),
            "series": series, "phases": rows,
            "failed": sum(r.failed for r in res)}
    out = summarize(name, rows, series, info)
    print(f"# policy {name}: {elapsed:.0f}s, logs in {wd}", flush=True)
    for r in res:
        if r.failed:
            vmtest.report(r)
    return out


def overcommit_bench(k, a, mods):
    import tempfile
    wd = Path(tempfile.mkdtemp(prefix="pvkit-bench-oc-"))
    phase_s = a.runtime or 50
    if a.scale:
        return scale_bench(k, a, mods, wd, phase_s)
    names = [f"g{i}" for i in range(OC_GUESTS)]
    pols = [p for p in OC_POLICIES
            if not a.policies or p[0] in a.policies.split(",")]
    results = []
    for pol in pols:
        results.append(run_policy(k, mods, wd, pol, names, OC_SCHED,
                                  phase_s, OC_VM_MIB, OC_FILE_MIB,
                                  timeout=len(OC_SCHED[0]) * phase_s + 600))
    print(f"# bench overcommit: kernel {k.image.name}, accel "
          f"{vmtest.accel()}, {OC_GUESTS} x {OC_MEM_MIB} MiB, 1 vCPU each, "
          f"budget {OC_BUDGET_MIB} MiB, phases of {phase_s}s "
          f"{' '.join(OC_SCHED)}; logs in {wd}")
    oc_table(results)
    with open(wd / "overcommit.json", "w") as f:
        json.dump(results, f, indent=None)
    if not a.policies:
        with open(FIGURES / "overcommit.json", "w") as f:
            json.dump(results, f, indent=None)
    # a run of some policies only keeps its plots in its logs directory
    oc_plots(results, out_dir=wd if a.policies else FIGURES)
    return 0 if all(r["failed"] == 0 for r in results) else 1


def from_logs(path):
    """The results again from a run's logs directory (its
    overcommit.json and each policy's results-*.log) or from a saved
    overcommit.json: the phases re-read from the guests' logs when
    they are there."""
    path = Path(path)
    d = path if path.is_dir() else path.parent
    results = json.loads((d / "overcommit.json" if path.is_dir()
                          else path).read_text())
    out = []
    for r in results:
        logs = sorted((d / r["policy"]).glob("results-*.log"))
        if logs:
            rows = []
            for f in logs:
                rows += phase_rows(f.read_text(errors="replace"))
            r["phases"] = rows
        keep = {k: v for k, v in r.items()
                if k not in ("policy", "guests", "host_peak_mib",
                             "host_mean_mib")}
        out.append(summarize(r["policy"], r["phases"], r["series"], keep))
    return out


def converged(series, names, window=SC_WINDOW_S):
    """Each guest's allocation: max - min over the last window seconds
    of samples (MiB)."""
    if not series:
        return {}
    end = series[-1]["t"]
    out = {}
    for g in names:
        v = [p["g"][g]["alloc"] for p in series
             if g in p["g"] and p["t"] >= end - window]
        out[g] = (max(v) - min(v)) if v else None
    return out


def scale_bench(k, a, mods, wd, phase_s):
    names = [f"s{i}" for i in range(SC_GUESTS)]
    pol = ("scale", SC_MEM_MIB, True, None,
           ("--host-mem", f"{SC_BUDGET_MIB}M", "--idle-tax", "0.75"))
    r = run_policy(k, mods, wd, pol, names, SC_SCHED, phase_s, 96, 64,
                   timeout=len(SC_SCHED[0]) * phase_s + 900)
    # the samples from the phases' start on; the guests' ends (they
    # finish a few seconds apart) are not the policy's doing: the last
    # window ends at the last phase's end
    end = len(SC_SCHED[0]) * phase_s
    ser = [p for p in r["series"] if 0 <= p["t"] <= end]
    spread = converged(ser, names)
    print(f"# bench overcommit --scale: {SC_GUESTS} x {SC_MEM_MIB} MiB on "
          f"{SC_BUDGET_MIB} MiB, tau 0.75, phases of {phase_s}s; logs in "
          f"{wd}")
    print(f"{'guest':6} {'alloc MiB at end':>16} {'max-min last 60s':>17} "
          f"{'back-end CPU s':>14} {'back-end RSS MiB':>16}")
    be = r["backend_cpu_per_guest"] or {}
    bre = (r["rss"] or {}).get("backend_rss_kb", {})
    for g in names:
        last = ser[-1]["g"].get(g, {}).get("alloc") if ser else None
        print(f"{g:6} {fmt(last, '.0f'):>16} {fmt(spread.get(g), '.1f'):>17}"
              f" {fmt(be.get(g), '.2f'):>14} "
              f"{fmt((bre.get(g) or 0) / 1024, '.1f'):>16}")
    rss = r["rss"] or {}
    n = SC_GUESTS
    cpu = r["stub_cpu_s"] or 0
    rss_mib = (rss.get("stub_rss_kb") or 0) / 1024
    anon_mib = (rss.get("stub_anon_kb") or 0) / 1024
    print(f"# stub (vpv-host): CPU {cpu:.1f} s in {r['elapsed_s']:.0f} s = "
          f"{cpu / n:.2f} s per guest; RSS {rss_mib:.1f} MiB of which "
          f"anonymous {anon_mib:.1f} MiB = {anon_mib / n:.2f} MiB per guest")
    ok = all(v is not None and v <= SC_BOUND_MIB for v in spread.values())
    print(f"# converged: {'yes' if ok else 'NO'} (every allocation within "
          f"{SC_BOUND_MIB} MiB over the last {SC_WINDOW_S} s)")
    print(f"# host memory peak {fmt(r['host_peak_mib'])} MiB, mean "
          f"{fmt(r['host_mean_mib'])} MiB; {r['sharing_cell']}")
    with open(wd / "overcommit-scale.json", "w") as f:
        json.dump(r, f)
    with open(FIGURES / "overcommit-scale.json", "w") as f:
        json.dump(r, f)
    import svgplot
    ser_all = [(g, [(p["t"], p["g"][g]["alloc"]) for p in r["series"]
                    if g in p["g"] and p["t"] >= -5]) for g in names]
    svgplot.lines(f"{SC_GUESTS} guests, tau 0.75: allocation per guest "
                  "(RAM - balloon target)", ser_all,
                  FIGURES / "overcommit-scale.svg",
                  "seconds since the phases started", "MiB")
    print(f"# plot: {FIGURES / 'overcommit-scale.svg'}")
    return 0 if r["failed"] == 0 and ok else 1
