#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Soak: mixed load on two guests beside a hostile one, for a while.

One vpv-host runs three guests on the debug (test) kernel: two run the
mixed load in rounds (tests/guest/soak.sh: hypercall.sh, balloon.sh,
pvmmu.sh, split.sh: hypercalls, balloon up and down, PV MMU, store
traffic and a vloop device) and one runs tests/guest/hostile.sh in
rounds against them.  Every minute the stub's RSS and open file
descriptors are printed (/proc/<vpv-host pid>/status and fd/).  It
passes when every round of every script passed, no console shows a
kernel report (Oops, KASAN, BUG, WARNING, lockdep, ... as judged by the
harness), the stub shows no sanitizer report and exits cleanly, and
the stub's anonymous RSS and fd count stayed flat: the last sample no
more than the slack above the first one taken after a minute.  Not part
of 'make test' (it takes --minutes, 30 by default).  Prints
'N passed, N failed' last; exit status 0 only on a clean run.
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (tests/run.py: Counter, built_kernel, stage)

vmtest = run.vmtest
G = run.G

# Keep ASan's quarantine of freed blocks small so the sanitized stub's
# RSS reaches its plateau within the first minute (the default 256 MiB
# quarantine fills slowly and looks like a leak).
ASAN_OPTIONS = "detect_leaks=1:abort_on_error=0:quarantine_size_mb=8"
# slack over the first sample: allocator caches, the agent's sockets
RSS_SLACK_MB = 16
FD_SLACK = 4
# time the guests need past the deadline: boot, and the round running
# at the deadline finishing (a debug-kernel round takes minutes)
GRACE_S = 1200


def stub_pid(workdir):
    """The vpv-host of this soak: its command line names our config."""
    want = str(Path(workdir) / "guests.ini")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"vpv-host") and \
                want.encode() in argv:
            return int(d.name)
    return None


def sample(pid):
    """(VmRSS kB, RssAnon kB, open fds) of pid, or None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    kb = {}
    for line in status.splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "RssAnon"):
            kb[k] = int(v.split()[0])
    return kb.get("VmRSS", 0), kb.get("RssAnon", 0), fds


class Monitor(threading.Thread):
    """Print the stub's RSS and fds every interval until stopped."""

    def __init__(self, workdir, interval):
        super().__init__(daemon=True)
        self.workdir = workdir
        self.interval = interval
        self.samples = []          # (seconds, rss kB, anon kB, fds)
        self.stop = threading.Event()

    def run(self):
        t0 = time.monotonic()
        pid = None
        while not self.stop.wait(self.interval):
            pid = pid or stub_pid(self.workdir)
            s = sample(pid) if pid else None
            if s is None:
                continue
            t = time.monotonic() - t0
            self.samples.append((t, *s))
            print(f"# soak {t / 60:5.1f} min: vpv-host {pid} VmRSS "
                  f"{s[0] / 1024:.1f} MiB, RssAnon {s[1] / 1024:.1f} MiB, "
                  f"{s[2]} fds", flush=True)


def judge_flat(c, samples, rss_slack_mb, fd_slack):
    if len(samples) < 2:
        c.add(False, f"soak: {len(samples)} stub samples (need 2: "
                     f"run at least 2 minutes)")
        return
    _, _, anon0, fd0 = samples[0]
    _, _, anon1, fd1 = samples[-1]
    peak = max(s[2] for s in samples)
    c.add(anon1 <= anon0 + rss_slack_mb * 1024,
          f"soak: stub RssAnon flat ({anon0 / 1024:.1f} -> "
          f"{anon1 / 1024:.1f} MiB, peak {peak / 1024:.1f}, slack "
          f"{rss_slack_mb} MiB)")
    c.add(fd1 <= fd0 + fd_slack,
          f"soak: stub fd count flat ({fd0} -> {fd1}, max "
          f"{max(s[3] for s in samples)}, slack {fd_slack})")


def soak(c, a):
    run.stage(f"soak: {a.minutes} min on the {a.kernel} kernel")
    k = run.built_kernel(c, a.kernel, "soak")
    if not k:
        return
    wd = Path(a.workdir)
    wd.mkdir(parents=True, exist_ok=True)
    mods = sorted(k.modules.rglob("*.ko"))
    secs = int(a.minutes * 60)
    guests = [("load-a", {}), ("load-b", {}),
              ("hostile", {"PVKIT_SOAK_SCRIPTS": "hostile.sh"})]
    specs = []
    for g, env in guests:
        initrd = wd / f"initramfs-{g}.cpio.gz"
        vmtest.build_initramfs(initrd, mods, [G / "soak.sh"], {
            "PVKIT_KERNEL": k.name, "PVKIT_GUEST": g,
            "PVKIT_SOAK_SECONDS": str(secs), **env})
        specs.append(vmtest.GuestSpec(g, k.image, initrd))
    mon = Monitor(wd, a.interval)
    mon.start()
    os.environ.setdefault("ASAN_OPTIONS", ASAN_OPTIONS)
    results = vmtest.boot_guests(specs, wd, timeout=secs + GRACE_S)
    mon.stop.set()
    mon.join()
    for res in results:
        c.add_result(res, "soak/")
        rounds = res.results.count("# soak round ")
        print(f"# soak/{res.name}: {rounds} rounds, {res.passed} passed, "
              f"{res.failed} failed in {res.elapsed:.0f}s", flush=True)
    judge_flat(c, mon.samples, a.rss_slack_mb, a.fd_slack)
    print(f"# logs in {wd}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--kernel", choices=("test", "stock"), default="test",
                    help="test: the debug kernel (KASAN, lockdep, ...)")
    ap.add_argument("--interval", type=float, default=60,
                    help="seconds between stub samples")
    ap.add_argument("--rss-slack-mb", type=int, default=RSS_SLACK_MB)
    ap.add_argument("--fd-slack", type=int, default=FD_SLACK)
    ap.add_argument("--workdir", default=str(run.WORK / "soak"))
    a = ap.parse_args()
    t0 = time.monotonic()
    c = run.Counter()
    if run.build_host(c):
        soak(c, a)
    return c.summary(t0)


if __name__ == "__main__":
    sys.exit(main())
