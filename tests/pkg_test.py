#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pvkit installed the way users install it (issue 15), run "pkg".

1. dpkg-buildpackage -us -uc -b in a copy of the tree builds pvkit-dkms
   and pvkit-host, writing nothing in the copy outside debian/ and what
   .gitignore covers; their contents (DKMS sources, programs, back-ends,
   man pages, the systemd unit); make install / make uninstall into a
   staging root.
2. In a Debian 12 root (debootstrap --variant=minbase bookworm, cached
   in /var/cache/pvkit by tests/pkg/make-root.sh, with the guest
   kernel's linux-image and linux-headers, dkms, kmod, udev), on an
   overlay so the cache stays clean: dpkg -i pvkit-dkms builds every
   guest module; dkms status says installed for the kernel; each module
   is where modprobe looks.
3. A guest of that kernel under the pvkit-host package's vpv-host, its
   userspace the harness's busybox plus the root's /lib/modules/KVER
   (modules.* and updates/, not the kernel's own 400 MB), kmod and
   systemd-udevd: tests/guest/pkg-autoload.sh (udev coldplug loads
   vhypercall, modprobe vballoon, a hot-plugged vloop loads vloopfront).

Standalone: python3 tests/pkg_test.py [--workdir DIR] --guest-lock
/tmp/pvkit-guest.lock (the lock taken for the guest's boot only: the
rest needs no guest); make test runs it from tests/run.py, which holds
the lock already.
"""

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "harness"))
import vmtest  # noqa: E402

REPO = vmtest.REPO
# every guest module pvkit-dkms must build and install (README's table);
# the test's own list, so that one missing from dkms.conf fails
GUEST_MODULES = ["vhypercall", "vballoon", "vpvmmu", "vloopfront",
                 "vblkfront", "vnetfront"]
# what pvkit-host must ship
HOST_FILES = ["usr/sbin/vpv-host", "usr/sbin/vpv-ctl", "usr/sbin/vpv-cow",
              "usr/lib/pvkit/vpv-vloopback", "usr/lib/pvkit/vpv-blkback",
              "usr/lib/pvkit/vpv-netback", "usr/lib/pvkit/vpv-netswitch",
              "usr/share/man/man8/vpv-host.8.gz",
              "usr/share/man/man8/vpv-ctl.8.gz",
              "lib/systemd/system/vpv-host.service"]
# the root's programs the guest runs, with their libraries
ROOT_PROGRAMS = ["/usr/bin/udevadm", "/usr/bin/kmod"]
# names under which they run (udevadm and kmod look at argv[0])
ROOT_LINKS = {"usr/lib/systemd/systemd-udevd": "/usr/bin/udevadm",
              "usr/sbin/modprobe": "/usr/bin/kmod",
              "usr/sbin/lsmod": "/usr/bin/kmod"}
# boot, coldplug and a hot-plug under TCG: 24 s measured
GUEST_TIMEOUT = 300
# standalone --guest-lock: the file flock()ed around the guest's boot
GUEST_LOCK = None


@contextlib.contextmanager
def guest_lock():
    """Hold GUEST_LOCK (if set) exclusively for the block."""
    if not GUEST_LOCK:
        yield
        return
    with open(GUEST_LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Checks:
    """ok / not ok lines, counted; run.py passes its Counter instead."""

    def __init__(self):
        self.passed = self.failed = 0

    def add(self, ok, name):
        print(f"{'ok' if ok else 'not ok'} - {name}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def log(self, line):
        print(line, flush=True)

    def add_result(self, res, prefix=""):
        for ok, tname in res.tests:
            self.add(ok, f"{prefix}{tname}")
        for tname in res.skipped:
            self.add(False, f"{prefix}{tname}: skipped")
        for p in res.problems:
            self.add(False, f"{prefix}{res.name}: {p}")


def sh(cmd, **kw):
    """Run cmd, its output captured; the CompletedProcess."""
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, **kw)


def check_cmd(c, name, cmd, **kw):
    """Count cmd's success as a check; its output's tail on failure."""
    p = sh(cmd, **kw)
    if p.returncode:
        c.log("# " + "\n# ".join(p.stdout[-2500:].splitlines()))
    c.add(p.returncode == 0, name)
    return p


def tree_files(top):
    return {str(p.relative_to(top)) for p in top.rglob("*")
            if p.is_file() or p.is_symlink()}


def copy_tree(dest):
    """The checkout's files (tracked and untracked, not ignored: what a
    release would hold, uncommitted changes included) into dest."""
    p = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co",
                        "--exclude-standard", "-z"], check=True,
                       stdout=subprocess.PIPE)
    names = [n for n in p.stdout.decode().split("\0")
             if n and (REPO / n).exists()]
    dest.mkdir(parents=True)
    tar = subprocess.Popen(["tar", "-C", str(REPO), "-c", "--null", "-T",
                            "-"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE)
    untar = subprocess.Popen(["tar", "-C", str(dest), "-x"],
                             stdin=tar.stdout)
    tar.stdout.close()
    tar.communicate("\0".join(names).encode())
    if untar.wait() or tar.returncode:
        raise RuntimeError("copying the tree failed")


def build_debs(c, work):
    """dpkg-buildpackage in a copy; the two .debs (or None)."""
    src = work / "src" / "pvkit"
    copy_tree(src)
    before = tree_files(src)
    t0 = time.monotonic()
    p = check_cmd(c, "pkg: dpkg-buildpackage -us -uc -b",
                  ["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src)
    c.log(f"# pkg: dpkg-buildpackage {time.monotonic() - t0:.0f}s")
    (work / "dpkg-buildpackage.log").write_text(p.stdout)
    # what the build left in the copy: only debian/ and ignored paths
    new = sorted(tree_files(src) - before)
    outside = [n for n in new if not n.startswith("debian/")]
    ign = subprocess.run(["git", "-C", str(REPO), "check-ignore",
                          "--no-index", "--stdin"], input="\n".join(outside),
                         stdout=subprocess.PIPE, text=True).stdout.split()
    stray = sorted(set(outside) - set(ign))
    if stray:
        c.log(f"# files the build wrote: {' '.join(stray[:20])}")
    c.add(not stray, "pkg: the build writes only in debian/ and ignored "
          f"build directories ({len(new)} files)")
    debs = {}
    for name in ("pvkit-dkms", "pvkit-host"):
        found = sorted(src.parent.glob(f"{name}_*.deb"))
        c.add(bool(found), f"pkg: {name} .deb built")
        debs[name] = found[-1] if found else None
    return src, debs


def deb_contents(c, debs, version):
    def files(deb):
        p = sh(["dpkg-deb", "-c", str(deb)])
        return {line.split()[-1].lstrip("./") for line in
                p.stdout.splitlines() if line}
    if debs["pvkit-dkms"]:
        f = files(debs["pvkit-dkms"])
        for want in ("dkms.conf", "Kbuild", "Makefile", "abi/vpv_abi.h",
                     "hypercall/Kbuild"):
            c.add(f"usr/src/pvkit-{version}/{want}" in f,
                  f"pkg: pvkit-dkms has /usr/src/pvkit-{version}/{want}")
        c.add(not any("/tests/" in x for x in f),
              "pkg: pvkit-dkms ships no test module")
    if debs["pvkit-host"]:
        f = files(debs["pvkit-host"])
        for want in HOST_FILES:
            c.add(want in f, f"pkg: pvkit-host has /{want}")
        post = sh(["dpkg-deb", "-I", str(debs["pvkit-host"]),
                   "postinst"]).stdout
        # dh_installsystemd --no-enable --no-start: enable only where it
        # was installed and enabled before (debian-installed), never a
        # start (deb-systemd-invoke)
        c.add("deb-systemd-helper debian-installed 'vpv-host.service'" in
              post and "deb-systemd-invoke" not in post,
              "pkg: vpv-host.service installed, neither enabled nor "
              "started")


def make_install(c, src, work):
    """make install / make uninstall into a staging root."""
    stage = work / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    args = [f"DESTDIR={stage}", "PREFIX=/usr"]
    p = check_cmd(c, "pkg: make install DESTDIR=... PREFIX=/usr",
                  ["make", "-s", "install", *args], cwd=src)
    if p.returncode:
        return
    kos = sorted(x.stem for x in stage.rglob("updates/pvkit/**/*.ko"))
    c.add(kos == sorted(GUEST_MODULES),
          f"pkg: make install: the guest modules ({' '.join(kos)})")
    alias = list(stage.glob("lib/modules/*/modules.alias"))
    c.add(bool(alias) and "vpv:vloop vloopfront" in alias[0].read_text(),
          "pkg: make install runs depmod (modules.alias)")
    for want in HOST_FILES:
        if want.startswith("usr/"):
            f = want[:-3] if want.endswith(".gz") else want
            c.add((stage / f).exists(), f"pkg: make install: /{f}")
    check_cmd(c, "pkg: make uninstall", ["make", "-s", "uninstall", *args],
              cwd=src)
    left = [str(x.relative_to(stage)) for x in stage.rglob("*")
            if x.is_file() and "/modules." not in f"/{x.name}"]
    c.add(not left, f"pkg: make uninstall leaves nothing ({' '.join(left)})")


def umount_under(path):
    """Unmount whatever a run that died left mounted below path (the
    overlay and its binds of /proc, /sys, /dev), deepest first: never
    rmtree into a bound /dev."""
    path = str(Path(path).resolve())
    with open("/proc/mounts") as f:
        mps = [line.split()[1] for line in f]
    for m in sorted((m for m in mps if m == path or
                     m.startswith(path + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", m])


def clean_dir(path):
    umount_under(path)
    shutil.rmtree(path, ignore_errors=True)


class Overlay:
    """The cached root under an overlay, with /proc, /sys, /dev bound:
    what dpkg -i does there goes to upper/, the cache stays clean."""

    def __init__(self, lower, work):
        self.lower, self.work = lower, work
        self.root = work / "root"
        self.mounts = []

    def __enter__(self):
        clean_dir(self.work)
        for d in ("upper", "ovwork", "root"):
            (self.work / d).mkdir(parents=True)
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={self.lower},upperdir={self.work}/upper,"
                        f"workdir={self.work}/ovwork", str(self.root)],
                       check=True)
        self.mounts.append(self.root)
        for m in ("proc", "sys", "dev"):
            subprocess.run(["mount", "--bind", f"/{m}",
                            str(self.root / m)], check=True)
            self.mounts.append(self.root / m)
        return self

    def __exit__(self, *exc):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", str(m)])

    def run(self, *cmd):
        return sh(["chroot", str(self.root), "env",
                   "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                   "DEBIAN_FRONTEND=noninteractive", *cmd])


def in_root(ov, path):
    """path (absolute, in the root) resolved inside the root."""
    p = ov.run("readlink", "-f", path)
    if p.returncode:
        raise RuntimeError(f"{path}: not in the root")
    return ov.root / p.stdout.strip().lstrip("/")


def guest_tree(ov, kver, out):
    """The root's files the guest needs, at their paths, into out."""
    shutil.rmtree(out, ignore_errors=True)
    files = list(ROOT_PROGRAMS)
    for prog in ROOT_PROGRAMS:
        ldd = ov.run("ldd", prog)
        for line in ldd.stdout.splitlines():
            m = vmtest.LDD_LIB.search(line) or vmtest.LDD_LOADER.match(line)
            if m and m.group(1) not in files:
                files.append(m.group(1))
    for f in files:
        dest = out / f.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(in_root(ov, f), dest)
    for link, target in ROOT_LINKS.items():
        (out / link).parent.mkdir(parents=True, exist_ok=True)
        (out / link).symlink_to(target)
    for d in ("usr/lib/udev/rules.d", "etc/udev"):
        shutil.copytree(ov.root / d, out / d, symlinks=True)
    (out / "etc").mkdir(exist_ok=True)
    for f in ("passwd", "group"):
        shutil.copy2(ov.root / "etc" / f, out / "etc" / f)
    mods = ov.root / "lib/modules" / kver
    dest = out / "lib/modules" / kver
    dest.mkdir(parents=True)
    for f in mods.glob("modules.*"):
        shutil.copy2(f, dest / f.name)
    shutil.copytree(mods / "updates", dest / "updates")


def dkms_and_boot(c, debs, work, k, version):
    kver = k.image.name[len("vmlinuz-"):]
    t0 = time.monotonic()
    p = sh(["bash", str(REPO / "tests/pkg/make-root.sh"), kver])
    (work / "make-root.log").write_text(p.stdout)
    c.add(p.returncode == 0, f"pkg: Debian root for {kver} (debootstrap, "
          "cached)")
    c.log(f"# pkg: root {time.monotonic() - t0:.0f}s")
    if p.returncode:
        c.log("# " + "\n# ".join(p.stdout[-2500:].splitlines()))
        return
    lower = Path(p.stdout.strip().splitlines()[-1])
    with Overlay(lower, work / "overlay") as ov:
        shutil.copy2(debs["pvkit-dkms"], ov.root / "tmp/pvkit-dkms.deb")
        t0 = time.monotonic()
        r = ov.run("dpkg", "-i", "/tmp/pvkit-dkms.deb")
        (work / "dpkg-i.log").write_text(r.stdout)
        if r.returncode:
            c.log("# " + "\n# ".join(r.stdout[-2500:].splitlines()))
        c.add(r.returncode == 0, "pkg: dpkg -i pvkit-dkms in the root")
        c.log(f"# pkg: dpkg -i (DKMS build) {time.monotonic() - t0:.0f}s")
        st = ov.run("dkms", "status").stdout
        c.log(f"# dkms status: {st.strip()}")
        c.add(f"pvkit/{version}, {kver}, x86_64: installed" in st,
              f"pkg: dkms status: pvkit/{version} installed for {kver}")
        for m in GUEST_MODULES:
            r = ov.run("modinfo", "-k", kver, "-n", m)
            c.add(r.stdout.strip() ==
                  f"/lib/modules/{kver}/updates/dkms/{m}.ko",
                  f"pkg: modinfo -k {kver} {m}: in updates/dkms")
        tree = work / "guest-tree"
        guest_tree(ov, kver, tree)
    host = work / "host-pkg"
    shutil.rmtree(host, ignore_errors=True)
    check_cmd(c, "pkg: dpkg -x pvkit-host",
              ["dpkg-deb", "-x", str(debs["pvkit-host"]), str(host)])
    env = dict(os.environ)
    env.pop("VPV_BACKEND_DIR", None)
    with guest_lock():
        res = vmtest.run_guest(k, [REPO / "tests/guest/pkg-autoload.sh"],
                               work / "guest", timeout=GUEST_TIMEOUT,
                               modules=[], tree=tree,
                               stub=host / "usr/sbin/vpv-host")
    res.name = "pkg-guest"
    c.add_result(res, "pkg: ")
    c.log(f"# pkg: guest {res.elapsed:.0f}s, logs in {work / 'guest'}")


def run(c, work):
    """The whole test, its results counted in c."""
    t0 = time.monotonic()
    work = Path(work)
    clean_dir(work)
    work.mkdir(parents=True)
    version = next(line.split('"')[1] for line in
                   (REPO / "dkms.conf").read_text().splitlines()
                   if line.startswith("PACKAGE_VERSION="))
    try:
        src, debs = build_debs(c, work)
        deb_contents(c, debs, version)
        make_install(c, src, work)
        if debs["pvkit-dkms"] and debs["pvkit-host"]:
            dkms_and_boot(c, debs, work, vmtest.kernel("stock"), version)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
        c.add(False, f"pkg: {e!r}")
    c.log(f"# pkg: {time.monotonic() - t0:.0f}s, logs in {work}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", default="/tmp/pvkit-test/pkg")
    ap.add_argument("--guest-lock", help="flock this file around the "
                    "guest's boot (not when the caller holds it)")
    a = ap.parse_args()
    global GUEST_LOCK
    GUEST_LOCK = a.guest_lock
    c = Checks()
    run(c, a.workdir)
    print(f"{c.passed} passed, {c.failed} failed, 0 skipped")
    return 0 if c.failed == 0 and c.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
