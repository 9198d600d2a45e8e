#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Benchmarks (not tests): boot a guest under the plain (unsanitized)
vpv-host on the Debian kernel, run a guest bench script and print what
it measured between PVKIT-BENCH-BEGIN/END.

  python3 tests/bench/run.py hypercall
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
import vmtest  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", help="name of tests/bench/NAME.sh")
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--mem", default="512M")
    ap.add_argument("--kernel", choices=("stock", "test"), default="stock")
    a = ap.parse_args()
    os.environ["PVKIT_STUB"] = "plain"
    k = vmtest.kernel(a.kernel)
    vmtest.build_modules(k)
    wd = tempfile.mkdtemp(prefix=f"pvkit-bench-{a.bench}-")
    res = vmtest.run_guest(k, [HERE / f"{a.bench}.sh"], wd, timeout=900,
                           smp=a.smp, mem=a.mem)
    acc = vmtest.accel()
    print(f"# bench {a.bench}: kernel {k.image.name}, accel {acc}, "
          f"smp {a.smp}, {res.elapsed:.0f}s, logs in {wd}")
    inside = False
    for line in res.results.splitlines():
        if line.startswith("PVKIT-BENCH-BEGIN"):
            inside = True
        elif line.startswith("PVKIT-BENCH-END"):
            inside = False
        elif inside:
            print(line[2:] if line.startswith("# ") else line)
    vmtest.report(res)
    return 0 if res.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
