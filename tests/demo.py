#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make demo: one guest on the Debian kernel under vpv-host.

Streams the guest's results (ttyS1) and, while the guest pauses, shows
the host side with vpv-ctl.  Exits non-zero if anything failed.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "harness"))
import vmtest  # noqa: E402

REPO = vmtest.REPO
CTL = REPO / "host-stub/build/vpv-ctl"
HOST = REPO / "host-stub/build/vpv-host"


def main():
    k = vmtest.stock_kernel()
    print(f"demo: building modules for {k.image.name}", flush=True)
    vmtest.build_modules(k)
    wd = Path(tempfile.mkdtemp(prefix="pvkit-demo-"))
    initrd = wd / "initramfs.cpio.gz"
    mods = sorted(k.modules.rglob("*.ko"))
    vmtest.build_initramfs(initrd, mods, [REPO / "tests/guest/demo.sh"],
                           {"PVKIT_KERNEL": "stock"})
    console, results, ctl = wd / "console.log", wd / "results.log", \
        wd / "ctl.sock"
    for f in (console, results):
        f.write_text("")
    acc = vmtest.accel()
    cmd = [str(HOST), "--name", "demo", "--kernel", str(k.image),
           "--initrd", str(initrd), "--append", vmtest.append_line(),
           "--mem", "512M", "--smp", "2", "--serial", str(console),
           "--serial2", str(results), "--run-dir", str(wd / "run"),
           "--ctl", str(ctl), "--accel", acc]
    agent_sock = wd / "agent.sock"
    cmd += [f"--qemu-arg={a}" for a in vmtest.agent_qemu_args(agent_sock)]
    agent = vmtest.HostAgent(agent_sock, ctl, wd / "agent.log")
    agent.start()
    print(f"demo: {' '.join(cmd)}", flush=True)
    proc = subprocess.Popen(cmd, start_new_session=True,
                            stdin=subprocess.DEVNULL)
    shown = 0
    deadline = time.monotonic() + 300
    ctl_env = dict(os.environ, VPV_CTL=str(ctl))
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            text = results.read_text(errors="replace")
            for line in text.splitlines(keepends=True)[shown:]:
                if line.endswith("\n"):
                    print(f"guest| {line}", end="", flush=True)
                    shown += 1
                    if "PVKIT-DEMO-PAUSE" in line:
                        for c in (["list"], ["stats", "demo"]):
                            print(f"host$ vpv-ctl {' '.join(c)}", flush=True)
                            subprocess.run([str(CTL), *c], env=ctl_env)
            time.sleep(0.2)
    finally:
        vmtest.kill_group(proc)
        agent.close()
    res = vmtest.BootResult("demo", console=console.read_text(
        errors="replace"), results=results.read_text(errors="replace"))
    res.exit_code = proc.returncode or 0
    vmtest.judge(res, use_host=False)
    for p in res.problems:
        print(f"demo: problem: {p}")
    print(f"demo: {res.passed} passed, {res.failed} failed "
          f"(accel {acc}, logs in {wd})")
    return 0 if res.failed == 0 and res.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
