#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Benchmarks (not tests): boot a guest under the plain (unsanitized)
vpv-host on the Debian kernel, run a guest bench script and print what
it measured between PVKIT-BENCH-BEGIN/END.

  python3 tests/bench/run.py hypercall
  python3 tests/bench/run.py blk --smp 2
  python3 tests/bench/run.py net --smp 2
  python3 tests/bench/run.py net-profile --smp 2
  python3 tests/bench/run.py overcommit [--scale]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
import vmtest  # noqa: E402
from netagent import proc_stat  # noqa: E402

HERE = Path(__file__).resolve().parent
MIB = 1 << 20


class BalloonBench:
    """Host side of tests/bench/balloon.sh: 'HOST bench-balloon KIND MiB'.

    Sets the target (vpv-ctl balloon for vballoon, QMP 'balloon' for
    virtio_balloon), polls every 2 ms until the host has the memory
    (vballoon: invalid P2M pages in the stub; virtio: QEMU's balloon
    size), then hands the memory back the same way and times that.
    """

    def __init__(self, wd, guest):
        self.ctl = Path(wd) / "run" / "ctl.sock"
        self.qmp = Path(wd) / "qmp.sock"
        self.guest = guest
        self.results = {}

    def stats(self):
        return vmtest.ctl_request(self.ctl, f"stats {self.guest}")[
            "guests"][0]

    def ram_path(self):
        """The guest's RAM as the stub names it (memfd: /proc/PID/fd/N)."""
        for g in vmtest.ctl_request(self.ctl, "list")["guests"]:
            if g["name"] == self.guest:
                return g["ram_path"]
        raise RuntimeError("guest not listed")

    def __call__(self, args):
        try:
            kind, size = args[0], int(args[1]) * MIB
            r = self.measure(kind, size)
            self.results[kind] = r
            # the curves stay on the host: the answer is one serial line
            return json.dumps({k: v for k, v in r.items()
                               if not k.endswith("_curve")})
        except (OSError, ValueError, KeyError, IndexError,
                RuntimeError) as e:
            return json.dumps({"error": f"bench-balloon: {e}"})

    def measure(self, kind, size):
        g = self.stats()
        ram = g["ram_pages"] * 4096
        if kind == "vballoon":
            def ballooned():
                return self.stats()["p2m_invalid_pages"] * 4096

            def target(v):
                vmtest.ctl_request(self.ctl, f"balloon {self.guest} "
                                   f"{v // MIB}M")
        else:
            def ballooned():
                return ram - vmtest.qmp_request(self.qmp, "query-balloon")[
                    "actual"]

            def target(v):
                vmtest.qmp_request(self.qmp, "balloon", {"value": v})
        occ0 = g["ram_file_bytes"]
        inflate = self.run(lambda: target(ram - size), ballooned,
                           lambda b: b >= size)
        occ1 = self.stats()["ram_file_bytes"]
        holes = file_holes(self.ram_path())
        time.sleep(1)
        occ2 = self.stats()["ram_file_bytes"]
        deflate = self.run(lambda: target(ram), ballooned,
                           lambda b: b <= 0)
        return {"size_mib": size // MIB,
                "inflate_s": round(inflate[0], 4),
                "inflate_active_s": round(inflate[1], 4),
                "deflate_s": round(deflate[0], 4),
                "deflate_active_s": round(deflate[1], 4),
                "file_before_mib": round(occ0 / MIB, 1),
                "file_at_target_mib": round(occ1 / MIB, 1),
                "file_1s_later_mib": round(occ2 / MIB, 1),
                "holes_mib": round(holes / MIB, 1),
                "unreclaimed_pages": self.stats()["memop_unreclaimed_pages"],
                "reclaimed_mib": round((occ0 - occ1) / MIB, 1),
                # [seconds from the command, MiB the host has]: every
                # change the 2 ms polls saw, for balloon.svg
                "inflate_curve": [[round(t, 4), round(b / MIB, 2)]
                                  for t, b in inflate[2]],
                "deflate_curve": [[round(t, 4), round(b / MIB, 2)]
                                  for t, b in deflate[2]]}

    @staticmethod
    def run(start, amount, done, timeout=120.0):
        """Seconds from start() until done(amount()), and from the first
        poll that saw amount() change until then: the rate without the
        wait for the guest to notice the new target."""
        initial = amount()
        t0 = time.monotonic()
        start()
        first = None
        curve = [(0.0, initial)]
        while True:
            a = amount()
            now = time.monotonic()
            if first is None and a != initial:
                first = now
            if a != curve[-1][1]:
                curve.append((now - t0, a))
            if done(a):
                break
            if now - t0 > timeout:
                raise RuntimeError("target not reached")
            time.sleep(0.002)
        # progress seen at the first poll: the rate's start is unknown
        # within one poll interval; count from the command instead
        return (now - t0, now - (first if first and first > t0 else t0),
                curve)


def guest_qemu_pid(ctl, guest):
    """The pid of guest's QEMU, from the stub's 'list'."""
    for g in vmtest.ctl_request(ctl, "list")["guests"]:
        if g["name"] == guest:
            return g["pid"]
    raise RuntimeError("guest not listed")


class HypercallBench:
    """Host side of tests/bench/hypercall.sh: 'HOST bench-hc VERB ARG'.

    place same|split|any: QEMU's threads on CPU 0 and the stub's
    hypercall and echo threads on CPU 0 (same), CPU 1 (split) or
    anywhere (any; QEMU too).  mark LABEL: a snapshot of the stub's
    counters and thread CPU times, for the CPU cost per call.
    """

    def __init__(self, wd, guest):
        self.ctl = Path(wd) / "run" / "ctl.sock"
        self.guest = guest
        self.marks = {}
        self.places = {}

    def qemu_pid(self):
        return guest_qemu_pid(self.ctl, self.guest)

    def place(self, how):
        ncpu = os.cpu_count() or 1
        qcpus = set(range(ncpu)) if how == "any" else {0}
        stub = {"any": "any", "same": "0", "split": str(min(1, ncpu - 1))}
        pid = self.qemu_pid()
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                os.sched_setaffinity(int(tid), qcpus)
            except OSError:
                pass
        r = vmtest.ctl_request(self.ctl, f"hc {self.guest} cpu {stub[how]}")
        self.places[how] = {"qemu_cpus": sorted(qcpus),
                            "stub_cpu": r.get("hc_cpu")}
        return r

    def mark(self, label):
        g = vmtest.ctl_request(self.ctl, f"stats {self.guest}")["guests"][0]
        keep = ("hc_thread_cpu_ns", "echo_thread_cpu_ns", "echoes",
                "hc_poll_ns", "doorbells", "hc_polls", "hc_poll_hits",
                "hc_last_cpu", "echo_last_cpu")
        m = {k: g.get(k, 0) for k in keep}
        m["nop"] = g["hypercalls"].get("nop", 0)
        m["t"] = time.monotonic()
        self.marks[label] = m
        return m

    def __call__(self, args):
        try:
            if args[0] == "place":
                return json.dumps(self.place(args[1]))
            if args[0] == "mark":
                return json.dumps(self.mark(args[1]))
            raise ValueError("unknown verb")
        except (OSError, ValueError, KeyError, IndexError,
                RuntimeError) as e:
            return json.dumps({"error": f"bench-hc: {e}"})

    def cpu_table(self):
        """Stub CPU per NOP and per echo, from each phase's bench_cpu."""
        print("stub CPU per call (bench_cpu: NOPs then echoes, nothing "
              "else)")
        print(f"{'phase':<16} {'ns CPU/NOP':>10} {'ns CPU/echo':>11} "
              f"{'poll ns/NOP':>11} {'doorbells/NOP':>13}")
        for label in self.marks:
            if not label.endswith("-a"):
                continue
            ph = label[:-2]
            a, b = self.marks[label], self.marks.get(ph + "-b")
            if not b:
                continue
            nops = max(b["nop"] - a["nop"], 1)
            echoes = max(b["echoes"] - a["echoes"], 1)
            print(f"{ph:<16} "
                  f"{(b['hc_thread_cpu_ns'] - a['hc_thread_cpu_ns']) / nops:>10.0f} "
                  f"{(b['echo_thread_cpu_ns'] - a['echo_thread_cpu_ns']) / echoes:>11.0f} "
                  f"{(b['hc_poll_ns'] - a['hc_poll_ns']) / nops:>11.0f} "
                  f"{(b['doorbells'] - a['doorbells']) / nops:>13.2f}")


def hypercall_table(lines):
    """Side by side: each phase's median, p99 and best per variant, and
    the ratios of medians."""
    phases, rows, ratios = [], {}, {}
    for line in lines:
        w = line.split()
        if len(w) < 3 or w[0] != "bench" or not w[1].endswith(":"):
            continue
        ph = w[1][:-1]
        if ph not in phases:
            phases.append(ph)
        if w[2] == "ratio" and len(w) >= 6:
            ratios.setdefault(w[3], {})[ph] = w[5]
        elif len(w) == 7 and w[3].isdigit():
            rows.setdefault(w[2], {})[ph] = w[3:6]
    if not phases:
        return
    print("median / p99 / best chunk, ns per operation")
    print(f"{'what':<16}" + "".join(f" {p:>22}" for p in phases))
    for what, per in rows.items():
        print(f"{what:<16}" + "".join(
            f" {'/'.join(per.get(p, ['-'] * 3)):>22}" for p in phases))
    print(f"{'ratio (medians)':<16}" + "".join(f" {p:>22}" for p in phases))
    for what, per in ratios.items():
        print(f"{what:<16}" + "".join(f" {per.get(p, '-'):>22}"
                                      for p in phases))
    echo = {p: rows.get("echo", {}).get(p) for p in phases}
    nop = {p: rows.get("nop_spin", {}).get(p) for p in phases}
    for p in phases:
        q = p.replace("poll50", "poll0")
        if p != q and nop[p] and echo.get(q):
            print(f"nop_spin({p}) / echo({q}) = "
                  f"{int(nop[p][0]) / int(echo[q][0]):.2f}")


class BlkBench:
    """Host side of tests/bench/blk.sh: three disks of the same guest on
    three image files of the same host file system, each prefilled with
    the same random bytes (reads read real blocks, not holes): vbd
    (vblkfront on vpv-blkback --direct), virtio-blk (aio=io_uring,
    cache=none) and vhost-user-blk (qemu-storage-daemon, io_uring,
    cache.direct).  vhost-user needs the guest RAM shared (the stub's
    memory-backend-file has share=on) and, in QEMU 7.2, host notifiers
    (ioeventfd), which TCG lacks: probe() boots QEMU with it first and
    keeps the error if it cannot run."""

    SIZE = 256 * MIB

    def __init__(self, wd, queues):
        self.wd = Path(wd)
        self.dir = self.wd / "bench-images"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.queues = queues
        self.sock = self.wd / "vhost-blk.sock"
        self.qsd = None
        self.vhost_error = None

    def images(self):
        first = self.dir / "vbd.img"
        with open(first, "wb") as f:
            for _ in range(self.SIZE // MIB):
                f.write(os.urandom(MIB))
            f.flush()
            os.fsync(f.fileno())
        for n in ("virtio.img", "vhost.img"):
            subprocess.run(["cp", "--sparse=never", str(first),
                            str(self.dir / n)], check=True)
        subprocess.run(["sync"], check=True)

    def start_qsd(self):
        self.sock.unlink(missing_ok=True)
        log = open(self.wd / "qsd.log", "wb")
        self.qsd = subprocess.Popen(
            ["qemu-storage-daemon", "--blockdev",
             f"driver=file,node-name=f0,filename={self.dir / 'vhost.img'},"
             f"cache.direct=on,aio=io_uring",
             "--blockdev", "driver=raw,node-name=d0,file=f0",
             "--export", f"type=vhost-user-blk,id=e0,node-name=d0,"
             f"addr.type=unix,addr.path={self.sock},writable=on,"
             f"num-queues={self.queues}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        for _ in range(100):
            if self.sock.exists():
                return True
            time.sleep(0.05)
        self.vhost_error = "qemu-storage-daemon did not create its socket"
        return False

    def stop_qsd(self):
        if self.qsd:
            self.qsd.terminate()
            try:
                self.qsd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.qsd.kill()
                self.qsd.wait()
            self.qsd = None

    def virtio_args(self):
        return ["-drive", f"file={self.dir / 'virtio.img'},if=none,id=vd0,"
                "format=raw,aio=io_uring,cache=none",
                "-device", f"virtio-blk-pci,drive=vd0,serial=pvkit-virtio,"
                f"num-queues={self.queues}"]

    def vhost_args(self):
        return ["-chardev", f"socket,id=vub0,path={self.sock}",
                "-device", f"vhost-user-blk-pci,chardev=vub0,"
                f"num-queues={self.queues}"]

    def env(self, vhost_ok, jobs=None, runtime=None):
        e = {"PVKIT_BENCH_VBD": str(self.dir / "vbd.img"),
             "PVKIT_BENCH_VHOST": "1" if vhost_ok else "0"}
        if jobs:
            e["PVKIT_BENCH_JOBS"] = jobs
        if runtime:
            e["PVKIT_BENCH_RUNTIME"] = str(runtime)
        return e


def blk_rows(results):
    """(disk, job) -> the figures of each fio JSON in the guest's output."""
    rows, cur, buf = {}, None, []
    for raw in results.splitlines():
        line = raw[2:] if raw.startswith("# ") else raw
        if line.startswith("fio-json "):
            cur, buf = tuple(line.split()[1:3]), []
        elif line == "fio-json-end" and cur:
            try:
                text = "\n".join(buf)
                j = json.loads(text[text.index("{"):])
                rows[cur] = fio_figures(j)
            except (ValueError, KeyError, IndexError) as e:
                rows[cur] = {"error": f"{e}"[:80]}
            cur = None
        elif cur:
            buf.append(line)
    return rows


def fio_figures(j):
    """IOPS, MiB/s, p50/p99 latency (us, submission to completion) of
    the group's reads or writes, whichever did I/O; fio's error."""
    job = j["jobs"][0]
    side = job["read"] if job["read"]["io_bytes"] else job["write"]
    pct = side["lat_ns"].get("percentile", {})
    return {"iops": side["iops"], "mibs": side["bw"] / 1024,
            "p50_us": pct.get("50.000000", 0) / 1000,
            "p99_us": pct.get("99.000000", 0) / 1000,
            "error": job.get("error", 0)}


def blk_table(rows, vhost_error):
    """The side-by-side table and the ratios against virtio-blk."""
    disks = []
    for d, _ in rows:
        if d not in disks:
            disks.append(d)
    jobs = []
    for _, jb in rows:
        if jb not in jobs:
            jobs.append(jb)
    print(f"{'job':<18} {'disk':<14} {'IOPS':>9} {'MiB/s':>8} "
          f"{'p50 us':>9} {'p99 us':>9} {'vs virtio':>9}")
    for jb in jobs:
        base = rows.get(("virtio", jb), {})
        for d in disks:
            r = rows.get((d, jb))
            if not r:
                continue
            if "iops" not in r or r.get("error"):
                print(f"{jb:<18} {d:<14} error {r.get('error')}")
                continue
            ratio = (f"{r['iops'] / base['iops']:.2f}x"
                     if base.get("iops") else "-")
            print(f"{jb:<18} {d:<14} {r['iops']:>9.0f} {r['mibs']:>8.1f} "
                  f"{r['p50_us']:>9.0f} {r['p99_us']:>9.0f} {ratio:>9}")
    if vhost_error:
        print(f"vhost-user-blk: not measured: {vhost_error}")


# where blk writes its plot and the figures behind it (next to the
# table in Documentation/benchmarks.rst)
BLK_FIGURES = vmtest.REPO / "Documentation" / "figures"


def blk_plot(rows, out_dir=BLK_FIGURES):
    """Documentation/figures/blk.svg: IOPS over virtio-blk's, per job
    and disk, from rows; blk.json keeps the rows the plot was made of."""
    import svgplot
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs, disks = [], []
    for d, jb in rows:
        jobs += [jb] if jb not in jobs else []
        disks += [d] if d not in disks and d != "virtio" else []
    vals = {}
    for (d, jb), r in rows.items():
        base = rows.get(("virtio", jb), {})
        if d != "virtio" and r.get("iops") and base.get("iops") \
                and not r.get("error"):
            vals[(jb, d)] = r["iops"] / base["iops"]
    svgplot.ratio_bars("IOPS against virtio-blk in the same run (1.0: equal)",
                       jobs, disks, vals, out_dir / "blk.svg",
                       xlabel="IOPS / virtio-blk IOPS")
    with open(out_dir / "blk.json", "w") as f:
        json.dump([{"disk": d, "job": jb, **r} for (d, jb), r in rows.items()],
                  f, indent=1)
    print(f"# plot: {out_dir / 'blk.svg'}")


def blk_bench(k, a, mods):
    """tests/bench/blk.sh in one guest with the three disks; vhost-user-blk
    only if a QEMU with it ran its guest's I/O (probe boot first)."""
    wd = Path(tempfile.mkdtemp(prefix="pvkit-bench-blk-"))
    bb = BlkBench(wd, a.smp)
    bb.images()
    vhost_ok = False
    try:
        if not a.no_vhost and bb.start_qsd():
            vhost_ok = vhost_probe(k, bb, wd / "probe")
        bb.stop_qsd()
        # a fresh daemon for the benchmark's QEMU
        vhost_ok = vhost_ok and bb.start_qsd()
        qargs = bb.virtio_args() + (bb.vhost_args() if vhost_ok else [])
        res = vmtest.run_guest(k, [HERE / "blk.sh"], wd, timeout=1800,
                               smp=a.smp, mem=a.mem, modules=mods,
                               env=bb.env(vhost_ok, a.jobs, a.runtime),
                               qemu_args=qargs)
    finally:
        bb.stop_qsd()
    print(f"# bench blk: kernel {k.image.name}, accel {vmtest.accel()}, "
          f"smp {a.smp}, {res.elapsed:.0f}s, logs in {wd}; load average "
          f"{os.getloadavg()[0]:.2f}")
    rows = blk_rows(res.results)
    blk_table(rows, bb.vhost_error)
    if figures(a):
        blk_plot(rows)
    vmtest.report(res)
    return 0 if res.failed == 0 else 1


NET_FIGURES = vmtest.REPO / "Documentation" / "figures"


def net_rows(results):
    """{(nic, job): [figures of each round, in order]}, figures being
    {"mbps": ..} or {"p50_us", "p99_us", "lost"} or {"error"}, from
    tests/bench/net.sh's '# net-out NIC JOB [ROUND]' blocks."""
    rows = {}
    cur, buf = None, []
    for line in results.splitlines():
        if line.startswith("# net-out-end"):
            if cur:
                rows.setdefault(cur, []).append(
                    net_figures(cur[1], "\n".join(buf)))
            cur, buf = None, []
        elif line.startswith("# net-out "):
            cur = tuple(line.split()[2:4])
        elif cur:
            buf.append(line[2:] if line.startswith("# ") else line)
    return rows


def net_figures(job, text):
    """One job's figures: iperf3 -J's receiver rate, or ping's times
    (rr, g2grr)."""
    if job.endswith("rr"):
        t = sorted(float(x) for x in
                   re.findall(r"time=([0-9.]+) ms", text))
        m = re.search(r"(\d+) packets transmitted, "
                      r"(\d+) received", text)
        if not t:
            return {"error": text.strip()[-200:]}
        return {"p50_us": t[len(t) // 2] * 1000,
                "p99_us": t[min(len(t) - 1, len(t) * 99 // 100)] * 1000,
                "lost": int(m.group(1)) - int(m.group(2)) if m else -1}
    try:
        j = json.loads(text[text.index("{"):])
        return {"mbps": j["end"]["sum_received"]["bits_per_second"] / 1e6,
                "retrans": j["end"].get("sum_sent", {}).get("retransmits",
                                                            0)}
    except (ValueError, KeyError) as e:
        return {"error": f"{e}: {text.strip()[-200:]}"}


# the figure a row is judged by: higher is better for throughput, lower
# for latency (the ratio is inverted for it: above 1 is better)
def net_key(job):
    return "p50_us" if job.endswith("rr") else "mbps"


def net_median(rounds, key):
    """The median of key over the rounds that have it (None: none)."""
    v = sorted(r[key] for r in rounds if key in r and r[key])
    return v[len(v) // 2] if v else None


def net_ratio(rows, jb, nic, base):
    """Row (nic, jb)'s median over row (base, jb)'s, or None: throughput
    ours over theirs, latency theirs over ours."""
    k = net_key(jb)
    ours = net_median(rows.get((nic, jb), []), k)
    theirs = net_median(rows.get((base, jb), []), k)
    if not ours or not theirs:
        return None
    return ours / theirs if k == "mbps" else theirs / ours


def net_ratios(rows):
    """{(job, nic): median ratio to virtio-net} for every NIC but virtio."""
    out = {}
    for (nic, jb) in rows:
        r = None if nic == "virtio" else net_ratio(rows, jb, nic, "virtio")
        if r is not None:
            out[(jb, nic)] = r
    return out


# net.sh's like-for-like pairs: as many queues on either side
NET_PAIRS = (("vif", "virtio-mq", "one queue per vCPU"),
             ("vif-1q", "virtio", "one queue"))


def net_table(rows):
    """Side by side, each row's median over the rounds and every round's
    figure, with the median's ratio to virtio-net (throughput: ours over
    theirs; latency: theirs over ours, so > 1 is better either way)."""
    jobs, nics = [], []
    for nic, jb in rows:
        jobs += [jb] if jb not in jobs else []
        nics += [nic] if nic not in nics and nic != "virtio" else []
    ratios = net_ratios(rows)
    print(f"{'job':<6} {'nic':<10} {'median':>9} {'p99 us':>8} "
          f"{'vs virtio':>9}  rounds (Mbit/s or p50 us)")
    for jb in jobs:
        k = net_key(jb)
        for nic in nics + ["virtio"]:
            rounds = rows.get((nic, jb))
            if rounds is None:
                continue
            errs = [r["error"] for r in rounds if "error" in r]
            med = net_median(rounds, k)
            each = " ".join(f"{r[k]:.0f}" if k in r else "err"
                            for r in rounds)
            p99 = net_median(rounds, "p99_us") if k == "p50_us" else None
            ratio = f"{ratios[(jb, nic)]:8.2f}x" if (jb, nic) in ratios \
                else f"{'':>9}"
            medt = f"{med:9.0f}" if med is not None else f"{'-':>9}"
            p99t = f"{p99:8.0f}" if p99 is not None else f"{'':>8}"
            print(f"{jb:<6} {nic:<10} {medt} {p99t} {ratio}  {each}")
            for e in errs:
                print(f"#   {jb} {nic} error: {e}")
    pairs = [p for p in NET_PAIRS if p[0] in nics and p[1] in nics +
             ["virtio"]]
    if not pairs:
        return
    print("like for like (medians' ratio): " + "; ".join(
        f"{a} / {b} ({what})" for a, b, what in pairs))
    for jb in jobs:
        print(f"{jb:<6} " + " ".join(
            f"{r:8.2f}x" if r is not None else f"{'-':>9}"
            for r in (net_ratio(rows, jb, a, b) for a, b, _ in pairs)))


def net_plot(rows, out_dir=NET_FIGURES, name="net"):
    """Documentation/figures/NAME.svg: each row's median against
    virtio-net's (above 1.0: better); NAME.json keeps every round."""
    import svgplot
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs, nics = [], []
    for nic, jb in rows:
        jobs += [jb] if jb not in jobs else []
        nics += [nic] if nic not in nics and nic != "virtio" else []
    svgplot.ratio_bars("Against virtio-net in the same run (1.0: equal, "
                       "above: better)", jobs, nics, net_ratios(rows),
                       out_dir / f"{name}.svg",
                       xlabel="throughput ours/virtio; latency virtio/ours")
    with open(out_dir / f"{name}.json", "w") as f:
        json.dump([{"nic": nic, "job": jb, "round": i + 1, **r}
                   for (nic, jb), rounds in rows.items()
                   for i, r in enumerate(rounds)], f, indent=1)
    print(f"# plot: {out_dir / (name + '.svg')}")


def figures(a):
    """Whether this run draws its plot into Documentation/figures
    (not with --no-plot: a quick look leaves the documented run's)."""
    if a.no_plot:
        print("# plot: not drawn (--no-plot)")
    return not a.no_plot


# net.sh's and net-profile.sh's virtio-net: QEMU's own tap back-end on
# the run's second tap (no vhost)
NET_VIRTIO_QEMU = ["-netdev", "tap,id=vn0,ifname=pvtap1,script=no,"
                   "downscript=no", "-device",
                   "virtio-net-pci,netdev=vn0,mac=52:54:00:77:01:02"]
# net.sh's virtio-mq: virtio-net with 4 queue pairs (vpv-netback's
# offer), on a multi-queue tap; vectors: one per queue, config, control
NET_VIRTIO_MQ_QEMU = ["-netdev", "tap,id=vn1,ifname=pvtap3,script=no,"
                      "downscript=no,queues=4", "-device",
                      "virtio-net-pci,netdev=vn1,mq=on,vectors=10,"
                      "mac=52:54:00:77:03:02"]


def net_bench(k, a, mods):
    """tests/bench/net.sh: vnetfront and virtio-net (QEMU's tap
    back-end) in one guest, each on a tap of the run's namespace."""
    wd = Path(tempfile.mkdtemp(prefix="pvkit-bench-net-"))
    qargs = NET_VIRTIO_QEMU + NET_VIRTIO_MQ_QEMU
    env = {}
    if a.runtime:
        env["PVKIT_BENCH_RUNTIME"] = str(a.runtime)
    if a.rounds:
        env["PVKIT_BENCH_ROUNDS"] = str(a.rounds)
    # four NICs, three rounds of 8 s jobs: about 11 minutes
    res = vmtest.run_guest(k, [HERE / "net.sh"], wd, timeout=1800,
                           smp=a.smp, mem=a.mem, modules=mods, env=env,
                           qemu_args=qargs, net_taps=4, net_mq_taps=(3,))
    print(f"# bench net: kernel {k.image.name}, accel {vmtest.accel()}, "
          f"smp {a.smp}, {res.elapsed:.0f}s, logs in {wd}; load average "
          f"{os.getloadavg()[0]:.2f}")
    rows = net_rows(res.results)
    net_table(rows)
    if figures(a):
        net_plot(rows)
    vmtest.report(res)
    return 0 if res.failed == 0 else 1


def thread_cpu(pid):
    """{tid: (name, CPU seconds)} of process pid's threads."""
    out = {}
    hz = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        st = proc_stat(f"/proc/{pid}/task/{tid}/stat")
        if st:
            out[int(tid)] = (st[0], (int(st[1][11]) + int(st[1][12])) / hz)
    return out


class NetProfileMarks:
    """Host side of tests/bench/net-profile.sh: 'HOST bench-np mark
    LABEL' snapshots the CPU time of QEMU's threads (named with
    debug-threads=on: the main loop, each vCPU) and of the vif's
    vpv-netback; table() prints each job's share of a CPU per thread
    between its LABEL-a and LABEL-b marks."""

    def __init__(self, wd, guest):
        self.ctl = Path(wd) / "run" / "ctl.sock"
        self.guest = guest
        self.marks = {}

    def pids(self):
        """QEMU's pid and those of the stub's vpv-netback children."""
        qemu = guest_qemu_pid(self.ctl, self.guest)
        stub = int(proc_stat(f"/proc/{qemu}/stat")[1][1])
        back = []
        for p in os.listdir("/proc"):
            st = p.isdigit() and proc_stat(f"/proc/{p}/stat")
            if st and st[0] == "vpv-netback" and int(st[1][1]) == stub:
                back.append(int(p))
        return qemu, back

    def mark(self, label):
        qemu, back = self.pids()
        cpu = {}
        for tid, (name, sec) in thread_cpu(qemu).items():
            key = "qemu main" if tid == qemu else f"qemu {name}"
            cpu[key] = cpu.get(key, 0) + sec
        for p in back:
            cpu["vpv-netback"] = cpu.get("vpv-netback", 0) + sum(
                sec for _, sec in thread_cpu(p).values())
        self.marks[label] = (time.monotonic(), cpu)
        return {"threads": len(cpu)}

    def __call__(self, args):
        try:
            if args[0] == "mark":
                return json.dumps(self.mark(args[1]))
            raise ValueError("unknown verb")
        except (OSError, ValueError, KeyError, IndexError, TypeError,
                RuntimeError) as e:
            return json.dumps({"error": f"bench-np: {e}"})

    def table(self):
        keys = sorted({k for _, c in self.marks.values() for k in c})
        keys = [k for k in keys if k.startswith("qemu main")] + \
            [k for k in keys if k.startswith("qemu CPU")] + \
            [k for k in keys if k == "vpv-netback"]
        print("host CPU per thread during each job (1.00: one CPU busy)")
        heads = [k[5:] if k.startswith("qemu ") else k for k in keys]
        print(f"{'job':<12} " + " ".join(f"{h:>12}" for h in heads))
        for label, (t0, a) in self.marks.items():
            if not label.endswith("-a") or label[:-2] + "-b" not in \
                    self.marks:
                continue
            t1, b = self.marks[label[:-2] + "-b"]
            print(f"{label[:-2]:<12} " + " ".join(
                f"{(b.get(k, 0) - a.get(k, 0)) / (t1 - t0):>12.2f}"
                for k in keys))


def net_profile_bench(k, a, mods):
    """tests/bench/net-profile.sh: the guest kernel's tick profile,
    its CPUs' ticks and interrupts per job and NIC (profile=4), and
    the host's CPU per QEMU thread and for vpv-netback."""
    wd = Path(tempfile.mkdtemp(prefix="pvkit-bench-np-"))
    env = {}
    if a.runtime:
        env["PVKIT_BENCH_RUNTIME"] = str(a.runtime)
    if a.jobs:
        env["PVKIT_BENCH_JOBS"] = a.jobs
    marks = NetProfileMarks(wd, k.name)
    res = vmtest.run_guest(k, [HERE / "net-profile.sh"], wd, timeout=900,
                           smp=a.smp, mem=a.mem, modules=mods, env=env,
                           qemu_args=NET_VIRTIO_QEMU +
                           ["-name", "pvkit,debug-threads=on"],
                           net_taps=2,
                           extra_append=" ".join(["profile=4", a.append]),
                           agent_handlers={"bench-np": marks})
    print(f"# bench net-profile: kernel {k.image.name}, accel "
          f"{vmtest.accel()}, smp {a.smp}, {res.elapsed:.0f}s, logs in "
          f"{wd}; load average {os.getloadavg()[0]:.2f}")
    print("\n".join(bench_lines(res.results)))
    marks.table()
    vmtest.report(res)
    return 0 if res.failed == 0 else 1


def net_g2g_bench(k, a, mods):
    """tests/bench/net-g2g.sh in two guests under one stub, "ga" and
    "gb": vnetfront through the stub's switch (vpv-netswitch) and
    virtio-net on two taps joined by a Linux bridge, in the run's
    network namespace; ga measures, gb serves."""
    wd = Path(tempfile.mkdtemp(prefix="pvkit-bench-g2g-"))
    env = {}
    if a.runtime:
        env["PVKIT_BENCH_RUNTIME"] = str(a.runtime)
    if a.rounds:
        env["PVKIT_BENCH_ROUNDS"] = str(a.rounds)
    script = [HERE / "net-g2g.sh"]
    specs = []
    for i, g in enumerate(("ga", "gb")):
        initrd = wd / f"initramfs-{g}.cpio.gz"
        vmtest.build_initramfs(initrd,
                               mods + vmtest.kernel_modules(k, script),
                               script, {"PVKIT_KERNEL": k.name,
                                        "PVKIT_GUEST": g, **env})
        # a MAC of its own per guest (QEMU's default is one for all)
        qargs = ("-netdev", f"tap,id=vn0,ifname=pvtap{i},script=no,"
                 "downscript=no", "-device",
                 f"virtio-net-pci,netdev=vn0,mac=52:54:00:12:35:{i + 1:02x}")
        specs.append(vmtest.GuestSpec(g, k.image, initrd, mem=a.mem,
                                      smp=a.smp, qemu_args=qargs))
    ns = vmtest.NetNamespace(f"pvkit-{wd.name}", 2, bridge=True)
    res = vmtest.boot_guests(specs, wd, timeout=1800, netns=ns)
    print(f"# bench net-g2g: kernel {k.image.name}, accel "
          f"{vmtest.accel()}, smp {a.smp}, {res[0].elapsed:.0f}s, logs in "
          f"{wd}; load average {os.getloadavg()[0]:.2f}")
    rows = net_rows(res[0].results)
    net_table(rows)
    if figures(a):
        net_plot(rows, name="net-g2g")
    for r in res:
        vmtest.report(r)
    return 0 if all(r.failed == 0 for r in res) else 1


def vhost_probe(k, bb, wd):
    """Boot a guest with only the vhost-user-blk disk and read 1 MiB from
    it (tests/bench/blk-probe.sh); False, with bb.vhost_error set to
    what QEMU or the guest said, if that fails."""
    res = vmtest.run_guest(k, [HERE / "blk-probe.sh"], wd, timeout=300,
                           smp=bb.queues, qemu_args=bb.vhost_args())
    if res.failed == 0 and res.passed > 0:
        return True
    log = res.stub_log + "\n" + (Path(bb.wd) / "qsd.log").read_text(
        errors="replace")
    why = [ln.strip() for ln in log.splitlines()
           if "vhost" in ln.lower() or "error" in ln.lower()]
    bb.vhost_error = "; ".join(why[-4:])[:400] or \
        f"the probe guest failed: {[p for p in res.problems][:2]}"
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", help="name of tests/bench/NAME.sh")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--mem", default="512M")
    ap.add_argument("--kernel", choices=("stock", "test"), default="stock")
    ap.add_argument("--load", action="store_true",
                    help="a busy loop pinned to the last CPU meanwhile")
    ap.add_argument("--places", default="split same",
                    help="hypercall: placements of the stub's threads")
    ap.add_argument("--polls", default="0 50",
                    help="hypercall: the stub's hc_poll_us values")
    ap.add_argument("--from-results", metavar="RESULTS_LOG",
                    help="blk, net, net-g2g, hypercall, pvmmu: the table "
                    "and plot again from a run's results.log (its logs "
                    "directory); balloon: the plot from a balloon.json")
    ap.add_argument("--jobs", default="",
                    help="blk: only these fio jobs (names, comma-separated); "
                    "net-profile: NAME:IPERF3-OPTIONS words, ':' for ' '")
    ap.add_argument("--no-plot", action="store_true",
                    help="blk, net, net-g2g, hypercall, pvmmu, balloon: "
                    "leave Documentation/figures as they are")
    ap.add_argument("--append", default="",
                    help="net-profile: more of the guest kernel's command "
                    "line (e.g. init_on_alloc=0)")
    ap.add_argument("--runtime", type=int, default=0,
                    help="blk, net: seconds per job (default 8); "
                    "overcommit: seconds per phase (default 50)")
    ap.add_argument("--rounds", type=int, default=0,
                    help="net, net-g2g: rounds of every job (default 3)")
    ap.add_argument("--no-vhost", action="store_true",
                    help="blk: leave vhost-user-blk out (quicker)")
    ap.add_argument("--scale", action="store_true",
                    help="overcommit: 8 guests under one stub instead")
    ap.add_argument("--policies", default="",
                    help="overcommit: only these (static,tau0,tau0.75,"
                    "shares2111)")
    a = ap.parse_args()
    if a.bench == "overcommit" and a.from_results:
        import overcommit_bench
        results = overcommit_bench.from_logs(a.from_results)
        overcommit_bench.oc_table(results)
        with open(overcommit_bench.FIGURES / "overcommit.json", "w") as f:
            json.dump(results, f)
        overcommit_bench.oc_plots(results)
        return 0
    if a.bench == "blk" and a.from_results:
        rows = blk_rows(Path(a.from_results).read_text(errors="replace"))
        blk_table(rows, None)
        blk_plot(rows)
        return 0
    if a.bench == "balloon" and a.from_results:
        balloon_plot(json.loads(Path(a.from_results).read_text()))
        return 0
    if a.bench in ("hypercall", "pvmmu") and a.from_results:
        lines = bench_lines(Path(a.from_results).read_text(errors="replace"))
        if a.bench == "hypercall":
            hypercall_table(lines)
            hypercall_plot(lines)
        else:
            pvmmu_plot(lines)
        return 0
    if a.bench in ("net", "net-g2g") and a.from_results:
        rows = net_rows(Path(a.from_results).read_text(errors="replace"))
        net_table(rows)
        net_plot(rows, name=a.bench)
        return 0
    os.environ["PVKIT_STUB"] = "plain"
    subprocess.run(["bash", str(vmtest.REPO / "tests/install-deps.sh")],
                   check=True)
    subprocess.run(["make", "-s", "-C", str(vmtest.REPO / "host-stub")],
                   check=True)
    k = vmtest.kernel(a.kernel)
    vmtest.build_modules(k)
    if a.bench == "blk":
        return blk_bench(k, a, sorted(k.modules.rglob("*.ko")))
    if a.bench == "net":
        return net_bench(k, a, sorted(k.modules.rglob("*.ko")))
    if a.bench == "net-profile":
        return net_profile_bench(k, a, sorted(k.modules.rglob("*.ko")))
    if a.bench == "net-g2g":
        return net_g2g_bench(k, a, sorted(k.modules.rglob("*.ko")))
    if a.bench == "overcommit":
        import overcommit_bench
        return overcommit_bench.overcommit_bench(
            k, a, sorted(k.modules.rglob("*.ko")))
    wd = tempfile.mkdtemp(prefix=f"pvkit-bench-{a.bench}-")
    kw = {}
    mods = sorted(k.modules.rglob("*.ko"))
    bb = hb = None
    env = {}
    if a.bench == "hypercall":
        hb = HypercallBench(wd, k.name)
        kw = {"agent_handlers": {"bench-hc": hb}}
        env = {"PVKIT_BENCH_PLACES": a.places, "PVKIT_BENCH_POLLS": a.polls}
    if a.bench == "balloon":
        bb = BalloonBench(wd, k.name)
        kw = {"agent_handlers": {"bench-balloon": bb},
              "qemu_args": ["-device", "virtio-balloon-pci,id=vb0",
                            "-qmp", f"unix:{wd}/qmp.sock,server=on,wait=off"]}
        mods += virtio_modules(k)
    load = None
    if a.load:
        cpu = str((os.cpu_count() or 1) - 1)
        load = subprocess.Popen(["taskset", "-c", cpu, "sh", "-c",
                                 "while :; do :; done"])
    try:
        res = vmtest.run_guest(k, [HERE / f"{a.bench}.sh"], wd, timeout=900,
                               smp=a.smp, mem=a.mem, modules=mods, env=env,
                               **kw)
    finally:
        if load:
            load.kill()
            load.wait()
    acc = vmtest.accel()
    print(f"# machine: load average {os.getloadavg()[0]:.2f}, "
          f"{'busy loop on the last CPU' if a.load else 'no added load'}")
    print(f"# bench {a.bench}: kernel {k.image.name}, accel {acc}, "
          f"smp {a.smp}, {res.elapsed:.0f}s, logs in {wd}")
    lines = bench_lines(res.results)
    print("\n".join(lines))
    if hb:
        hypercall_table(lines)
        hb.cpu_table()
        if figures(a):
            hypercall_plot(lines)
    if a.bench == "pvmmu" and figures(a):
        pvmmu_plot(lines)
    if bb:
        balloon_table(bb.results)
        if figures(a):
            balloon_plot(bb.results)
    vmtest.report(res)
    return 0 if res.failed == 0 else 1


# where the balloon, hypercall and pvmmu benchmarks write their plots
# and the figures behind them
FIGURES = vmtest.REPO / "Documentation" / "figures"


def steps(curve):
    """A curve of the changes the polls saw as steps: the amount holds
    until the poll that saw the next one (vballoon moves up to
    rate_pages, 128 MiB, at once)."""
    out = [tuple(curve[0])]
    for t, a in curve[1:]:
        out += [(t, out[-1][1]), (t, a)]
    return out


def balloon_plot(r, out_dir=FIGURES):
    """Documentation/figures/balloon.svg: MiB the host has over time
    since the target was set, vballoon against virtio_balloon;
    balloon.json: both drivers' results, curves included."""
    import svgplot
    names = {"vballoon": "vballoon", "virtio": "virtio_balloon"}
    series = [(names[k], steps(r[k]["inflate_curve"]))
              for k in ("vballoon", "virtio") if k in r]
    if not series:
        return
    size = next(iter(r.values()))["size_mib"]
    svgplot.lines(f"Balloon inflate of {size} MiB: memory back on the "
                  "host", series,
                  out_dir / "balloon.svg", "seconds since the new target",
                  "MiB ballooned (host's view)")
    with open(out_dir / "balloon.json", "w") as f:
        json.dump(r, f, indent=1)
    print(f"# plot: {out_dir / 'balloon.svg'}")


def bench_lines(results):
    """The benchmark's own lines of a results.log: those between
    PVKIT-BENCH-BEGIN and -END, without their '# '."""
    inside, lines = False, []
    for line in results.splitlines():
        if line.startswith("PVKIT-BENCH-BEGIN"):
            inside = True
        elif line.startswith("PVKIT-BENCH-END"):
            inside = False
        elif inside:
            lines.append(line[2:] if line.startswith("# ") else line)
    return lines


def hypercall_plot(lines, out_dir=FIGURES):
    """Documentation/figures/hypercall.svg: the median ns per NOP in a
    multicall of N NOPs, per phase, with one plain NOP (nop_spin) at
    N = 1 for comparison; hypercall.json: every phase's median, p99 and
    best per variant."""
    import svgplot
    rows = {}
    for line in lines:
        w = line.split()
        if len(w) == 7 and w[0] == "bench" and w[1].endswith(":") and \
                w[3].isdigit():
            rows.setdefault(w[1][:-1], {})[w[2]] = [int(x) for x in w[3:6]]
    series = []
    for ph, per in rows.items():
        mc = sorted((int(v[len("multicall_"):]), m[0])
                    for v, m in per.items() if v.startswith("multicall_"))
        if mc:
            series.append((ph, [(n, ns / n) for n, ns in mc]))
    if not series:
        return
    svgplot.lines("Multicall: ns per NOP by batch size (median)", series,
                  out_dir / "hypercall.svg", "NOPs per multicall",
                  "ns per NOP (median)", logx=True, logy=True)
    with open(out_dir / "hypercall.json", "w") as f:
        json.dump({"unit": "ns per operation: median, p99, best chunk",
                   "phases": rows}, f, indent=1)
    print(f"# plot: {out_dir / 'hypercall.svg'}")


def pvmmu_plot(lines, out_dir=FIGURES):
    """Documentation/figures/pvmmu.svg: PTE updates per second by lazy
    batch size, and one hypercall per update as a flat line;
    pvmmu.json: the table's rows."""
    import svgplot
    rows = {}
    for line in lines:
        # the module's own "# bench:" lines, behind pvmmu.sh's "# "
        w = line.lstrip("# ").split()
        if len(w) == 5 and w[0] == "bench:" and w[2].isdigit():
            rows[w[1]] = {"updates_per_s": int(w[2]),
                          "ns_per_update": int(w[3]),
                          "hcalls_per_update": float(w[4])}
    lazy = sorted((int(k[len("batch"):]), v["updates_per_s"])
                  for k, v in rows.items() if k.startswith("batch"))
    if not lazy:
        return
    series = [("lazy MMU, batch N", lazy)]
    if "unbatched" in rows:
        u = rows["unbatched"]["updates_per_s"]
        series.append(("one hypercall per update",
                       [(lazy[0][0], u), (lazy[-1][0], u)]))
    svgplot.lines("PV MMU: PTE updates per second by batch size "
                  "(best chunk)", series, out_dir / "pvmmu.svg",
                  "updates per batch", "updates per second",
                  logx=True, logy=True)
    with open(out_dir / "pvmmu.json", "w") as f:
        json.dump(rows, f, indent=1)
    print(f"# plot: {out_dir / 'pvmmu.svg'}")


def file_holes(path):
    """Bytes of holes in a file (SEEK_HOLE/SEEK_DATA)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return -1
    try:
        size = os.fstat(fd).st_size
        pos = holes = 0
        while pos < size:
            try:
                h = os.lseek(fd, pos, os.SEEK_HOLE)
            except OSError:
                break
            if h >= size:
                break
            try:
                d = os.lseek(fd, h, os.SEEK_DATA)
            except OSError:
                d = size
            holes += d - h
            pos = d
        return holes
    finally:
        os.close(fd)


def virtio_modules(k):
    """virtio_balloon and what it needs, from the kernel's own modules."""
    ver = k.image.name[len("vmlinuz-"):]
    d = Path(f"/lib/modules/{ver}/kernel/drivers/virtio")
    return [d / f"{m}.ko" for m in ("virtio_ring", "virtio",
                                    "virtio_pci_modern_dev",
                                    "virtio_pci_legacy_dev", "virtio_pci",
                                    "virtio_balloon")]


def balloon_table(r):
    v, o = r.get("vballoon"), r.get("virtio")
    if not v or not o:
        print("balloon: missing results", r)
        return
    size = v["size_mib"]
    print(f"balloon {size} MiB    {'vballoon':>10} {'virtio':>10} "
          f"{'ratio':>7}")

    def row(name, a, b, higher_better):
        ratio = (a / b if higher_better else b / a) if a and b else 0
        print(f"{name:<20} {a:>10.3f} {b:>10.3f} {ratio:>6.2f}x")
    row("inflate MiB/s", size / v["inflate_active_s"],
        size / o["inflate_active_s"], True)
    row("deflate MiB/s", size / v["deflate_active_s"],
        size / o["deflate_active_s"], True)
    row("time to target s", v["inflate_s"], o["inflate_s"], False)
    row("time to deflate s", v["deflate_s"], o["deflate_s"], False)
    row("host reclaimed MiB", v["reclaimed_mib"], o["reclaimed_mib"], True)
    row("holes in RAM file MiB", v["holes_mib"], o["holes_mib"], True)
    print("(ratio: how many times better vballoon is; rates count from "
          "the first progress the host saw)")


if __name__ == "__main__":
    sys.exit(main())
