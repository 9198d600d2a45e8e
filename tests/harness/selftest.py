#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The harness's own tests: injected failures must fail the run.

Boots the stock kernel without a host (the fastest guest) with scripts
that pass, print 'not ok', oops the kernel, hang, or run short of their
plan, and checks the harness's verdict, its timing and that no QEMU is
left behind.  Prints TAP-style 'ok - ...' lines.
"""

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vmtest  # noqa: E402

INJ = Path(__file__).resolve().parent / "inject"
HANG_TIMEOUT = 25


def qemu_left(workdir):
    """True if a QEMU using this run's logs is still alive."""
    p = subprocess.run(["pgrep", "-f", f"file:{workdir}/console.log"],
                       stdout=subprocess.PIPE)
    return p.returncode == 0


def raises(fn, *args):
    try:
        fn(*args)
    except RuntimeError:
        return True
    return False


def program_checks(k, boot):
    """Debian programs in the guest: resolution on the host, then a
    boot running them (inject/programs.sh names memtester, stress-ng)."""
    out = []
    files = [str(f) for f in vmtest.program_files(["memtester"])]
    loader = any(Path(f).name.startswith("ld-linux") for f in files)
    libc = any(Path(f).name == "libc.so.6" for f in files)
    out.append((files[0] == "/usr/sbin/memtester" and loader and libc,
                f"memtester resolves from its package with libc and the "
                f"loader ({len(files)} files)"))
    n = len(vmtest.program_files(["stress-ng"]))
    out.append((n > 10, f"stress-ng brings its shared libraries ({n} files)"))
    out.append((raises(vmtest.program_files, ["pvkit-no-such-program"]),
                "an unknown program is an error"))
    out.append((raises(vmtest.program_files, ["memtester:stress-ng"]),
                "a program not in the named package is an error"))
    out.append((vmtest.script_programs([INJ / "programs.sh"]) ==
                ["memtester", "stress-ng", "iputils-ping:ping"],
                "a script's '# pvkit-programs:' line is read"))
    res, _ = boot("programs.sh")
    out.append((res.failed == 0 and res.passed == 5,
                f"the programs run in the guest ({res.passed} passed, "
                f"{res.failed} failed, {res.elapsed:.1f}s)"))
    return out


def image_checks(work):
    """The agent's 'img' verb (imgagent.py), on the host alone: files
    confined to the run's directory, the pattern fill, st_blocks, cmp,
    the kernel-module lines."""
    import json
    from imgagent import ImageHandler, pattern_sector
    h = ImageHandler(work / "images")

    def ask(*a):
        return json.loads(h(list(a)))
    out = []
    bad = [ask("create", n, "1M") for n in
           ("../x", "/etc/passwd", ".hidden", "a/b", "x" * 65, "")]
    out.append((all("error" in r for r in bad) and
                not (work / "x").exists(),
                "img: a name with a path, a leading dot or too long is "
                "refused"))
    out.append(("error" in ask("create", "big", "5G"),
                "img: a size over the cap is refused"))
    r = ask("create", "p", "1M", "pattern")
    data = (work / "images/p").read_bytes()
    out.append((r.get("size") == 1 << 20 and
                data[512 * 7:512 * 8] == pattern_sector(7) and
                data[:16] == b"000000000000000\n",
                "img: create ... pattern fills each sector with its number"))
    z = ask("create", "z", "64M")
    out.append((z.get("blocks") == 0 and
                ask("blocks", "p").get("blocks", 0) >= 2048,
                "img: blocks is st_blocks (sparse: 0; written: all)"))
    ask("create", "q", "1M", "pattern")
    with open(work / "images/q", "r+b") as f:
        f.seek(4097)
        f.write(b"x")
    c1, c2 = ask("cmp", "p", "q"), ask("cmp", "p", "p")
    out.append((c1 == {"equal": False, "first_diff": 4097} and
                c2["equal"] and
                ask("sha256", "p")["sha256"] !=
                ask("sha256", "q")["sha256"] and
                ask("sha256", "p", "0", "4096") ==
                ask("sha256", "q", "0", "4096"),
                "img: cmp and sha256 see a one-byte change"))
    sc = work / "k.sh"
    sc.write_text("# pvkit-kmodules: crc16 ext4\n")
    mods = vmtest.kernel_modules(vmtest.stock_kernel(), [sc])
    sc.write_text("# pvkit-kmodules: pvkit_no_such_module\n")
    out.append(([m.name for m in mods] == ["crc16.ko", "ext4.ko"] and
                raises(vmtest.kernel_modules, vmtest.stock_kernel(), [sc]),
                "a script's '# pvkit-kmodules:' line is resolved; an "
                "unknown module is an error"))
    return out


def main():
    k = vmtest.stock_kernel()
    results = []
    work = Path(tempfile.mkdtemp(prefix="pvkit-harness-"))

    def boot(script, timeout=120):
        wd = work / script
        res = vmtest.run_guest(k, [INJ / script], wd, timeout=timeout,
                               use_host=False, modules=[])
        return res, wd

    # The boots are independent: the hung guest sleeps through most of
    # its timeout, so it runs beside the others, two of which run at a
    # time (one per core).  Verdicts are collected in a fixed order.
    pool = ThreadPoolExecutor(max_workers=3)
    boots = {s: pool.submit(boot, s, HANG_TIMEOUT if s == "hang.sh" else 120)
             for s in ("hang.sh", "pass.sh", "not-ok.sh")}
    for s in ("oops.sh", "skip.sh", "short-plan.sh"):
        boots[s] = pool.submit(boot, s)
    programs = pool.submit(program_checks, k, boot)

    res, wd = boots["pass.sh"].result()
    results.append((res.failed == 0 and res.passed == 2,
                    f"a passing script passes ({res.passed} passed, "
                    f"{res.failed} failed, {res.elapsed:.1f}s)"))

    res, wd = boots["not-ok.sh"].result()
    results.append((res.failed >= 1 and res.passed == 1,
                    "an injected 'not ok' fails the run"))

    res, wd = boots["oops.sh"].result()
    oops = any("Oops" in p or "panic" in p or "BUG" in p
               for p in res.problems)
    results.append((res.failed >= 1 and oops,
                    f"an Oops fails the run ({len(res.problems)} problems)"))

    res, wd = boots["hang.sh"].result()
    in_time = res.elapsed < HANG_TIMEOUT + 10
    results.append((res.timed_out and res.failed >= 1 and in_time,
                    f"a hung guest fails within the timeout "
                    f"({res.elapsed:.1f}s for {HANG_TIMEOUT}s)"))
    results.append((not qemu_left(wd), "the hung guest's QEMU is killed"))

    res, wd = boots["skip.sh"].result()
    results.append((res.passed == 1 and len(res.skipped) == 1 and
                    res.failed == 0,
                    "a '# SKIP' result counts as skipped, not passed"))

    res, wd = boots["short-plan.sh"].result()
    results.append((res.failed >= 1, "a script short of its plan fails"))

    results += programs.result()
    results += image_checks(work)
    pool.shutdown()

    for ok, name in results:
        print(f"{'ok' if ok else 'not ok'} - {name}", flush=True)
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
