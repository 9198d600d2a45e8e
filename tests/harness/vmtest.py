#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pvkit guest boot harness.

Builds an initramfs from busybox-static, the built modules and in-guest
test scripts, boots it under QEMU (through the host stub vpv-host, or
directly for tests that need no host), and judges the run from the two
serial ports: ttyS0 carries the kernel console, ttyS1 the TAP results of
the in-guest scripts.  A run fails on any 'not ok', a missing or short
plan, a kernel panic, Oops, WARNING, BUG, lockdep, KASAN or kmemleak
report, a sanitizer report from the stub, or a timeout.  Every boot has
a hard timeout, and the whole process group (stub and QEMU) is killed
whatever happens.
"""

import argparse
import fcntl
import glob
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from imgagent import ImageHandler  # noqa: E402
from netagent import NetHandler, NetNamespace  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GUEST_DIR = REPO / "tests" / "guest"
BUSYBOX = Path("/bin/busybox")

# Console lines that fail a run wherever they appear.
CONSOLE_PROBLEMS = [
    (re.compile(r"Kernel panic"), "kernel panic"),
    (re.compile(r"\bOops\b|general protection fault"), "Oops"),
    (re.compile(r"\bWARNING:"), "WARNING"),
    (re.compile(r"\bBUG:"), "BUG"),
    (re.compile(r"KASAN"), "KASAN report"),
    (re.compile(r"possible (circular|recursive) locking|"
                r"inconsistent lock state|lockdep"), "lockdep report"),
    (re.compile(r"unreferenced object 0x"), "kmemleak report"),
    (re.compile(r"INFO: task .* blocked for more than"), "hung task"),
    (re.compile(r"rcu: INFO: .* stall"), "RCU stall"),
    (re.compile(r"Call Trace:"), "call trace"),
]
STUB_PROBLEMS = [
    (re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer"), "ASan report"),
    (re.compile(r"runtime error:"), "UBSan report"),
]

TAP_LINE = re.compile(r"^(not ok|ok)\s+(\d+)\s*-?\s*(.*)$")
PLAN_LINE = re.compile(r"^1\.\.(\d+)")
SKIP = re.compile(r"#\s*SKIP\b", re.IGNORECASE)


def log(msg):
    print(f"vmtest: {msg}", file=sys.stderr, flush=True)


def kvm_usable():
    """True when /dev/kvm opens and can create a VM."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, 0xAE00) != 12:        # KVM_GET_API_VERSION
            return False
        vm = fcntl.ioctl(fd, 0xAE01, 0)          # KVM_CREATE_VM
        os.close(vm)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


ACCEL_CACHE = Path("/run/pvkit-accel")


def accel():
    """kvm if a Linux guest really boots under KVM here, else tcg.

    /dev/kvm opening and creating a VM is not enough: on some nested
    hosts KVM_RUN never makes progress.  The probe boots the stock
    kernel once under KVM with an empty test list and caches the answer
    in /run (cleared at reboot).
    """
    forced = os.environ.get("PVKIT_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced
    try:
        cached = ACCEL_CACHE.read_text().strip()
        if cached in ("kvm", "tcg"):
            return cached
    except OSError:
        pass
    answer = "tcg"
    if kvm_usable():
        with tempfile.TemporaryDirectory(prefix="pvkit-kvm-") as tmp:
            k = stock_kernel()
            initrd = Path(tmp) / "probe.cpio.gz"
            build_initramfs(initrd, [], [])
            os.environ["PVKIT_ACCEL"] = "kvm"
            try:
                res = boot("kvm-probe", k.image, initrd, tmp, timeout=30,
                           use_host=False)
            finally:
                del os.environ["PVKIT_ACCEL"]
            if "PVKIT-ALLDONE" in res.results:
                answer = "kvm"
    log(f"accelerator: {answer}")
    try:
        ACCEL_CACHE.write_text(answer + "\n")
    except OSError:
        pass
    return answer


# ---------------------------------------------------------------------
# Kernels and modules
# ---------------------------------------------------------------------

@dataclass
class Kernel:
    name: str          # "stock" or "test"
    image: Path        # bzImage / vmlinuz
    kdir: Path         # build tree for out-of-tree modules
    modules: Path      # directory with the built pvkit modules


def stock_kernel():
    images = sorted(glob.glob("/boot/vmlinuz-*-amd64"))
    if not images:
        raise RuntimeError("no Debian kernel in /boot (linux-image-amd64)")
    image = Path(images[-1])
    ver = image.name[len("vmlinuz-"):]
    kdir = Path(f"/usr/src/linux-headers-{ver}")
    if not kdir.is_dir():
        raise RuntimeError(f"missing {kdir} (linux-headers-amd64)")
    return Kernel("stock", image, kdir, REPO / "build" / "stock")


def test_kernel():
    out = subprocess.run(["bash", str(REPO / "tests/kernel/build-test-kernel.sh")],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    tree = Path(out.strip().splitlines()[-1])
    return Kernel("test", tree / "arch/x86/boot/bzImage", tree,
                  REPO / "build" / "test")


def kernel(name):
    return stock_kernel() if name == "stock" else test_kernel()


def build_modules(k):
    subprocess.run(["bash", str(REPO / "tests/build-modules.sh"), str(k.kdir),
                    str(k.modules)], check=True)
    return sorted(k.modules.rglob("*.ko"))


# ---------------------------------------------------------------------
# initramfs
# ---------------------------------------------------------------------

# A guest script names the Debian programs it runs on a line
#   # pvkit-programs: memtester stress-ng e2fsprogs:mkfs.ext4
# "PACKAGE:PROGRAM", or just "PROGRAM" when the package has its name.
# tests/install-deps.sh installs the packages; build_initramfs copies
# the programs with their shared libraries and the dynamic loader.
PROGRAMS_LINE = re.compile(r"^#\s*pvkit-programs:(.*)$", re.MULTILINE)
# the paths a program may have in a package's file list
PROGRAM_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin",
                "/usr/local/bin", "/usr/local/sbin")
# ldd lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)"
# and the loader's "/lib64/ld-linux-x86-64.so.2 (0x...)"
LDD_LIB = re.compile(r"=>\s*(/\S+)\s+\(0x")
LDD_LOADER = re.compile(r"^\s*(/\S+)\s+\(0x")
# guest PATH when programs are present: theirs before busybox's applets
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def script_programs(scripts):
    """The program specs named by the scripts' '# pvkit-programs:'."""
    out = []
    for s in scripts:
        for m in PROGRAMS_LINE.finditer(Path(s).read_text(errors="replace")):
            out += [w for w in m.group(1).split() if w not in out]
    return out


# A guest script names the kernel's own modules it loads (in load
# order: insmod does not resolve dependencies) on a line
#   # pvkit-kmodules: crc16 mbcache jbd2 crc32c_generic ext4
# The Debian kernel builds them as modules, the test kernel may have
# them built in: kernel_modules() copies those that are modules of the
# kernel booted and skips the built-in ones (lib.sh kmods_load loads
# what is there).
KMODULES_LINE = re.compile(r"^#\s*pvkit-kmodules:(.*)$", re.MULTILINE)


def module_dir(k):
    """/lib/modules/VERSION of kernel k (the test kernel's own install)."""
    if k.name == "stock":
        return Path("/lib/modules") / k.image.name[len("vmlinuz-"):]
    found = sorted((k.kdir.parent / "mods/lib/modules").glob("*"))
    if not found:
        raise RuntimeError(f"no modules installed for {k.kdir}")
    return found[-1]


def kernel_modules(k, scripts):
    """The .ko files of kernel k that the scripts' '# pvkit-kmodules:'
    lines name; a name neither a module nor built in is an error."""
    names = []
    for sc in scripts:
        for m in KMODULES_LINE.finditer(Path(sc).read_text(errors="replace")):
            names += [w for w in m.group(1).split() if w not in names]
    if not names:
        return []
    d = module_dir(k)

    def base(rel):
        return Path(rel).name.split(".ko")[0].replace("-", "_")
    mods = {base(line.split(":", 1)[0]): d / line.split(":", 1)[0]
            for line in (d / "modules.dep").read_text().splitlines()
            if ":" in line}
    builtin = {base(x) for x in (d / "modules.builtin").read_text().split()}
    out = []
    for n in names:
        if n in mods:
            out.append(mods[n])
        elif n not in builtin:
            raise RuntimeError(f"kernel module {n}: not in {d}")
    return out


def package_files(pkg):
    """dpkg -L PKG, or RuntimeError naming install-deps.sh."""
    p = subprocess.run(["dpkg-query", "-L", pkg], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"package {pkg} is not installed "
                           f"(run tests/install-deps.sh)")
    return p.stdout.split()


def resolve_program(spec):
    """'PKG:PROG' or 'PROG' or an absolute path -> the host file.

    A package's program is found in its dpkg file list (in a bin or
    sbin directory); a program given alone is first looked for in the
    package of the same name, then on a PATH with the sbin directories.
    """
    if spec.startswith("/"):
        path = Path(spec)
        if not path.is_file():
            raise RuntimeError(f"program {spec}: no such file")
        return path
    pkg, _, prog = spec.rpartition(":")
    if not pkg:
        prog = spec
        try:
            files = package_files(prog)
        except RuntimeError:
            found = shutil.which(prog, path=GUEST_PATH + ":" +
                                 os.environ.get("PATH", ""))
            if found:
                return Path(found)
            raise
    else:
        files = package_files(pkg)
    for f in files:
        if Path(f).name == prog and str(Path(f).parent) in PROGRAM_DIRS \
                and os.access(f, os.X_OK):
            return Path(f)
    raise RuntimeError(f"program {spec}: not in package {pkg or prog} "
                       f"(add the package to tests/install-deps.sh)")


def shared_libraries(binary):
    """The loader and every shared library binary needs (ldd), as host
    paths; [] for a static binary."""
    p = subprocess.run(["ldd", str(binary)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        if "not a dynamic executable" in p.stdout:
            return []
        raise RuntimeError(f"ldd {binary}: {p.stdout.strip()}")
    libs = []
    for line in p.stdout.splitlines():
        if "not found" in line:
            raise RuntimeError(f"ldd {binary}: {line.strip()}")
        m = LDD_LIB.search(line) or LDD_LOADER.match(line)
        if m and m.group(1) not in libs:
            libs.append(m.group(1))
    return [Path(x) for x in libs]


def program_files(specs):
    """Every host file that programs specs need in the guest, each at
    the path it has on the host (libraries where ldd found them)."""
    files = []
    for spec in specs:
        prog = resolve_program(spec)
        for f in [prog, *shared_libraries(prog)]:
            if f not in files:
                files.append(f)
    return files


def install_files(root, files):
    """Copy host files into root at their own paths (symlinks followed:
    the guest gets the file under the name the loader looks up)."""
    for f in files:
        dest = root / str(f).lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)


def build_initramfs(out, modules, scripts, env=None, programs=(), tree=None):
    """Write a gzip'ed newc cpio to out with busybox, modules, scripts,
    and the Debian programs the scripts name (script_programs) or
    programs lists, with their libraries; tree, a directory, is copied
    over the result last (symlinks kept: tests/pkg_test.py's files from
    a Debian root)."""
    programs = [*programs, *script_programs(scripts)]
    env = dict(env or {})
    if programs:
        env.setdefault("PATH", GUEST_PATH)
    with tempfile.TemporaryDirectory(prefix="pvkit-initrd-") as tmp:
        root = Path(tmp)
        for d in ("bin", "sbin", "dev", "proc", "sys", "tmp", "modules",
                  "tests", "etc", "root"):
            (root / d).mkdir()
        install_files(root, program_files(programs))
        # the init's 'busybox --install -s /bin' replaces what /bin
        # holds by its applets (iputils' /bin/ping by busybox's ping):
        # programs from /bin and /sbin go to /usr/bin and /usr/sbin.
        # Busybox's shell runs its own applet for a bare name whatever
        # PATH says, so a script calls such a program by that path
        # (/usr/bin/ping, /usr/sbin/blkdiscard)
        for d in ("bin", "sbin"):
            for f in list((root / d).iterdir()):
                (root / "usr" / d).mkdir(parents=True, exist_ok=True)
                f.rename(root / "usr" / d / f.name)
        shutil.copy2(BUSYBOX, root / "bin/busybox")
        (root / "bin/sh").symlink_to("busybox")
        shutil.copy2(GUEST_DIR / "init", root / "init")
        os.chmod(root / "init", 0o755)
        shutil.copy2(GUEST_DIR / "lib.sh", root / "tests/lib.sh")
        # every guest script, for scripts that run others (soak.sh)
        shutil.copytree(GUEST_DIR, root / "tests/guest",
                        ignore=shutil.ignore_patterns("init"))
        names = []
        for i, s in enumerate(scripts):
            name = f"{i:02d}-{Path(s).name}"
            shutil.copy2(s, root / "tests" / name)
            names.append(name)
        (root / "tests/list").write_text("\n".join(names) + "\n")
        for m in modules:
            shutil.copy2(m, root / "modules" / Path(m).name)
        lines = [f"export {k}='{v}'" for k, v in env.items()]
        (root / "tests/env").write_text("\n".join(lines) + "\n")
        if tree:
            shutil.copytree(tree, root, symlinks=True, dirs_exist_ok=True)
        files = subprocess.run("find . -print0 | LC_ALL=C sort -z",
                               shell=True, cwd=root, check=True,
                               stdout=subprocess.PIPE).stdout
        cpio = subprocess.run(["cpio", "--null", "-o", "-H", "newc",
                               "--owner=0:0", "--quiet"], cwd=root,
                              input=files, check=True,
                              stdout=subprocess.PIPE).stdout
    with gzip.open(out, "wb", compresslevel=1) as f:
        f.write(cpio)


# ---------------------------------------------------------------------
# Booting
# ---------------------------------------------------------------------

@dataclass
class BootResult:
    name: str
    console: str = ""
    results: str = ""
    stub_log: str = ""
    timed_out: bool = False
    elapsed: float = 0.0
    exit_code: int = 0
    tests: list = field(default_factory=list)      # (ok, name)
    skipped: list = field(default_factory=list)    # names: not passes
    problems: list = field(default_factory=list)   # run-level failures
    timings: list = field(default_factory=list)    # (script, guest s)

    @property
    def passed(self):
        return sum(1 for ok, _ in self.tests if ok)

    @property
    def failed(self):
        return sum(1 for ok, _ in self.tests if not ok) + len(self.problems)


def append_line(extra=""):
    # no_timer_check: on a loaded host a TCG guest can miss the IO-APIC
    # timer check at boot and panic ("IO-APIC + timer doesn't work"),
    # as cloud images on busy hypervisors do; the check proves nothing
    # about a virtual timer.
    return ("console=ttyS0,115200 loglevel=5 panic=-1 oops=panic "
            "panic_on_warn=0 nokaslr no_timer_check rdinit=/init " +
            extra).strip()


def stub_binary():
    san = REPO / "host-stub/build-san/vpv-host"
    plain = REPO / "host-stub/build/vpv-host"
    if os.environ.get("PVKIT_STUB") == "plain":
        return plain
    return san if san.exists() else plain


def boot(name, image, initrd, workdir, timeout=120, use_host=True,
         mem="512M", smp=2, qemu_args=(), extra_append="",
         host_args=(), agent_handlers=None, net_taps=0, net_mq_taps=(),
         stub=None):
    """Boot once; always kills everything it started.  stub: the
    vpv-host to run, the agent runs the vpv-ctl beside it (default
    stub_binary() and the build tree's; tests/pkg_test.py runs the
    pvkit-host package's).  net_taps > 0:
    vpv-host and QEMU run in a network namespace of the run's own with
    that many taps, and the agent serves 'net' (tests/harness/netagent.py);
    the taps numbered in net_mq_taps are multi-queue (for QEMU's
    'queues=')."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ns = net = None
    if net_taps:
        if not use_host:
            raise ValueError("net_taps needs the host stub")
        ns = NetNamespace(f"pvkit-{workdir.name}", net_taps,
                          multi_queue=net_mq_taps)
        ns.setup()
        net = NetHandler(ns, workdir)
        agent_handlers = {**(agent_handlers or {}), "net": net}
    console = workdir / "console.log"
    results = workdir / "results.log"
    stublog = workdir / "stub.log"
    for f in (console, results, stublog):
        f.write_text("")
    append = append_line(extra_append)
    acc = accel()
    if use_host:
        rundir = workdir / "run"
        shutil.rmtree(rundir, ignore_errors=True)
        cmd = [str(stub or stub_binary()), "--name", name, "--kernel", str(image),
               "--initrd", str(initrd), "--append", append, "--mem", mem,
               "--smp", str(smp), "--serial", str(console),
               "--serial2", str(results), "--run-dir", str(rundir),
               "--accel", acc, *host_args]
        agent_sock = workdir / "agent.sock"
        agent_sock.unlink(missing_ok=True)
        for a in [*agent_qemu_args(agent_sock), *qemu_args]:
            cmd.append(f"--qemu-arg={a}")
        if ns:
            cmd = ns.wrap(cmd)
        agent = HostAgent(agent_sock, rundir / "ctl.sock",
                          workdir / "agent.log",
                          {"img": image_handler(workdir),
                           **(agent_handlers or {})},
                          ctl_bin=Path(stub).parent / "vpv-ctl"
                          if stub else None)
        agent.start()
    else:
        agent = None
        cmd = ["qemu-system-x86_64", "-machine", f"q35,accel={acc}",
               "-cpu", "host" if acc == "kvm" else "max,la57=off",
               "-m", mem, "-smp", str(smp), "-kernel", str(image),
               "-initrd", str(initrd), "-append", append,
               "-display", "none", "-nodefaults", "-no-reboot",
               "-serial", f"file:{console}", "-serial", f"file:{results}",
               *qemu_args]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    res = BootResult(name)
    start = time.monotonic()
    with open(stublog, "wb") as so:
        proc = subprocess.Popen(cmd, stdout=so, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
        try:
            res.exit_code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            res.timed_out = True
        finally:
            kill_group(proc)
            if agent:
                agent.close()
            if net:
                net.close()
                ns.teardown()
    res.elapsed = time.monotonic() - start
    res.console = console.read_text(errors="replace")
    res.results = results.read_text(errors="replace")
    res.stub_log = stublog.read_text(errors="replace")
    judge(res, use_host)
    return res


class HostAgent(threading.Thread):
    """The guest's line to the host side of a test, on ttyS2.

    The guest writes 'HOST <vpv-ctl arguments>' and reads back one line:
    the stub's JSON answer to 'vpv-ctl --json <arguments>'.  Only
    vpv-ctl runs, so a guest script can ask the host for what it
    observes (RAM file occupancy, P2M, targets) and set balloon targets,
    nothing else; besides, the handlers a boot passes (boot() and
    boot_guests() always pass 'img': the run's image files, confined to
    its own directory, tests/harness/imgagent.py).
    """

    ALLOWED = {"list", "stats", "balloon", "p2m", "store", "device", "hc"}

    def __init__(self, sock_path, ctl_path, log_path, handlers=None,
                 allow=(), ctl_bin=None):
        super().__init__(daemon=True)
        # the vpv-ctl to run: the build tree's, or the one beside a
        # stub given to boot() (the pvkit-host package's)
        self.ctl_bin = str(ctl_bin or REPO / "host-stub/build/vpv-ctl")
        self.allowed = self.ALLOWED | set(allow)
        self.sock_path = str(sock_path)
        self.ctl_path = str(ctl_path)
        self.log = open(log_path, "w")
        self.stop = threading.Event()
        # extra verbs a benchmark serves: name -> fn(args) -> JSON line
        self.handlers = dict(handlers or {})

    def answer(self, line):
        words = line.split()
        if len(words) >= 2 and words[0] == "HOST" and \
                words[1] in self.handlers:
            return self.handlers[words[1]](words[2:])
        if len(words) < 2 or words[0] != "HOST" or \
                words[1] not in self.allowed:
            return '{"error":"agent: not allowed"}'
        # '--': the guest's words are the command, never vpv-ctl's
        # options (device add ... --image FILE)
        p = subprocess.run([self.ctl_bin, "--ctl",
                            self.ctl_path, "--json", "--", *words[1:]],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=20)
        out = " ".join(p.stdout.split("\n")).strip()
        return out or f'{{"error":"vpv-ctl exited {p.returncode}"}}'

    def run(self):
        sock = None
        while not self.stop.is_set() and sock is None:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(self.sock_path)
            except OSError:
                sock.close()
                sock = None
                time.sleep(0.1)
        if sock is None:
            return
        sock.settimeout(0.5)
        buf = b""
        with sock:
            while not self.stop.is_set():
                try:
                    data = sock.recv(4096)
                except socket.timeout:
                    continue
                except OSError as e:
                    print(f"# agent: socket closed: {e}", file=self.log,
                          flush=True)
                    return
                if not data:
                    print("# agent: the guest's end closed", file=self.log,
                          flush=True)
                    return
                buf += data
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode(errors="replace").strip("\r \x00")
                    if not line.startswith("HOST "):
                        continue
                    try:
                        reply = self.answer(line)
                    except Exception as e:  # noqa: BLE001
                        # any failure is this request's answer, logged;
                        # never the end of the agent's thread (the
                        # debug-kernel net run lost its agent once,
                        # silently, after a 'device remove')
                        reply = json.dumps(
                            {"error": f"agent: {type(e).__name__}: {e}"})
                    print(f"> {line}\n< {reply}", file=self.log, flush=True)
                    try:
                        sock.sendall(reply.encode() + b"\n")
                    except OSError:
                        return

    def close(self):
        self.stop.set()
        self.join(timeout=2)
        self.log.close()


def stall_handler(workdir):
    """An agent verb, 'HOST stall MS [stub]': stop the guest's host for MS ms.

    Models a host that did not run for a while (overload, a stopped
    VM): vpv-host is stopped first, so that the guest's next hypercall
    is left waiting, then QEMU; after MS both go on, QEMU 0.3 s before
    vpv-host, so the guest sees its clock jump by MS while its host is
    still stopped.  With 'stub', only vpv-host is stopped: the guest
    runs on and its calls time out.  Both belong to the boot in workdir
    (its run dir is on their command lines).
    """
    mark = f"{Path(workdir)}/run".encode()

    def pids(name):
        out = []
        for d in Path("/proc").iterdir():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if d.name.isdigit() and mark in cmd and \
                    Path(cmd.split(b"\0")[0].decode(errors="replace")).name \
                    .startswith(name):
                out.append(int(d.name))
        return out

    def signal_all(ps, sig):
        for p in ps:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass

    def stall(args):
        ms = int(args[0]) if args and args[0].isdigit() else 0
        stub_only = args[1:2] == ["stub"]
        stub, qemu = pids("vpv-host"), pids("qemu-system")
        if not stub or not qemu or not 0 < ms <= 60000:
            return '{"error":"stall: no host to stall or bad MS"}'
        if stub_only:
            qemu = []
        try:
            signal_all(stub, signal.SIGSTOP)
            if qemu:
                time.sleep(0.5)
                signal_all(qemu, signal.SIGSTOP)
            time.sleep(ms / 1000)
        finally:
            if qemu:
                signal_all(qemu, signal.SIGCONT)
                time.sleep(0.3)
            signal_all(stub, signal.SIGCONT)
        return f'{{"stalled_ms":{ms}}}'
    return stall


def image_handler(workdir):
    """The agent's 'img' verb (tests/harness/imgagent.py) for a boot in
    workdir: image files in workdir/images, emptied first."""
    d = Path(workdir) / "images"
    shutil.rmtree(d, ignore_errors=True)
    return ImageHandler(d)


def agent_qemu_args(sock_path):
    return ["-chardev", f"socket,id=agent,path={sock_path},server=on,wait=off",
            "-serial", "chardev:agent"]


@dataclass
class GuestSpec:
    name: str
    image: Path
    initrd: Path
    mem: str = "512M"
    smp: int = 2
    qemu_args: tuple = ()
    # vpv-ctl verbs this guest's agent runs besides HostAgent.ALLOWED
    # (e.g. "guest", for the guest that removes another)
    agent_allow: tuple = ()
    # the policy's shares of this guest (0: the stub's default)
    shares: int = 0


def boot_guests(specs, workdir, timeout=300, host_args=(), netns=None):
    """Boot several guests under one vpv-host (--config).

    Returns one BootResult per guest; problems of the stub itself (a
    sanitizer report, a non-zero exit, the timeout) are reported on
    every guest's result, so none of them can pass alone.  netns: a
    NetNamespace (not set up yet) in which the stub and its QEMUs run;
    set up here and always torn down.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = []
    for g in specs:
        for f in ("console", "results"):
            (workdir / f"{f}-{g.name}.log").write_text("")
        cfg += [f"[guest {g.name}]", f"kernel = {g.image}",
                f"initrd = {g.initrd}", f'append = "{append_line()}"',
                f"mem = {g.mem}", f"smp = {g.smp}",
                f"serial = {workdir}/console-{g.name}.log",
                f"serial2 = {workdir}/results-{g.name}.log"]
        if g.shares:
            cfg.append(f"shares = {g.shares}")
        agent_sock = workdir / f"agent-{g.name}.sock"
        agent_sock.unlink(missing_ok=True)
        cfg += [f"qemu_arg = {a}"
                for a in [*agent_qemu_args(agent_sock), *g.qemu_args]]
        cfg.append("")
    (workdir / "guests.ini").write_text("\n".join(cfg))
    rundir = workdir / "run"
    shutil.rmtree(rundir, ignore_errors=True)
    stublog = workdir / "stub.log"
    cmd = [str(stub_binary()), "--config", str(workdir / "guests.ini"),
           "--run-dir", str(rundir), "--accel", accel(), *host_args]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    # one image directory for all: guests may share a base image
    img = image_handler(workdir)
    agents = [HostAgent(workdir / f"agent-{g.name}.sock",
                        rundir / "ctl.sock", workdir / f"agent-{g.name}.log",
                        {"img": img}, allow=g.agent_allow)
              for g in specs]
    if netns:
        netns.setup()
        cmd = netns.wrap(cmd)
    for a in agents:
        a.start()
    start = time.monotonic()
    timed_out = False
    with open(stublog, "wb") as so:
        proc = subprocess.Popen(cmd, stdout=so, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            code = -1
        finally:
            kill_group(proc)
            for a in agents:
                a.close()
            if netns:
                netns.teardown()
    elapsed = time.monotonic() - start
    out = []
    for g in specs:
        res = BootResult(g.name, timed_out=timed_out, elapsed=elapsed,
                         exit_code=code)
        res.console = (workdir / f"console-{g.name}.log").read_text(
            errors="replace")
        res.results = (workdir / f"results-{g.name}.log").read_text(
            errors="replace")
        res.stub_log = stublog.read_text(errors="replace")
        judge(res, True)
        out.append(res)
    return out


def ctl_request(ctl_path, line):
    """One request on the stub's control socket; returns parsed JSON."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(str(ctl_path))
        c.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            data = c.recv(65536)
            if not data:
                break
            buf += data
    return json.loads(buf)


def qmp_request(qmp_path, execute, arguments=None):
    """One QMP command (new connection each time); returns 'return'."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(10)
        c.connect(str(qmp_path))
        f = c.makefile("rwb")
        json.loads(f.readline())                       # greeting
        for cmd in ({"execute": "qmp_capabilities"},
                    {"execute": execute, "arguments": arguments or {}}):
            f.write(json.dumps(cmd).encode() + b"\n")
            f.flush()
            while True:
                r = json.loads(f.readline())
                if "return" in r or "error" in r:
                    break                              # skip events
            if "error" in r:
                raise RuntimeError(f"QMP {execute}: {r['error']}")
        return r["return"]


def kill_group(proc):
    """SIGTERM the session, give it 3 s, then SIGKILL whatever is left."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure no member survives it
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return


def judge(res, use_host):
    """Fill res.tests and res.problems from the logs."""
    for line in res.console.splitlines():
        for rx, what in CONSOLE_PROBLEMS:
            if rx.search(line):
                res.problems.append(f"console: {what}: {line.strip()[:160]}")
                break
    if use_host:
        for line in res.stub_log.splitlines():
            for rx, what in STUB_PROBLEMS:
                if rx.search(line):
                    res.problems.append(f"stub: {what}: {line.strip()[:160]}")
                    break
    parse_results(res)
    if res.timed_out:
        res.problems.append(f"timeout after {res.elapsed:.0f}s")
    elif use_host and res.exit_code != 0:
        res.problems.append(f"host stub exited with {res.exit_code}")
    if "PVKIT-ALLDONE" not in res.results:
        res.problems.append("guest did not finish its scripts")


def parse_results(res):
    """TAP per script (PVKIT-BEGIN/END), KTAP per KUnit suite."""
    script = None
    seen = 0
    plan = None
    kunit = None
    up = 0.0
    for raw in res.results.splitlines():
        line = raw.rstrip("\r")
        if line.startswith("PVKIT-BEGIN "):
            script, seen, plan = line.split(" ", 1)[1], 0, None
            continue
        if line.startswith("PVKIT-END "):
            rc = line.rsplit("rc=", 1)[-1]
            m = re.search(r" up=([0-9.]+) ", line)
            if m:
                # guest seconds the script took (the first: with boot)
                res.timings.append((script, float(m.group(1)) - up))
                up = float(m.group(1))
            if plan is None:
                res.problems.append(f"{script}: no TAP plan")
            elif plan != seen:
                res.problems.append(f"{script}: planned {plan}, ran {seen}")
            if rc != "0":
                res.problems.append(f"{script}: exited rc={rc}")
            script = None
            continue
        if line.startswith("PVKIT-KUNIT-BEGIN "):
            kunit = {"suite": line.split(" ", 1)[1], "cases": 0,
                     "top": None}
            continue
        if line.startswith("PVKIT-KUNIT-END"):
            finish_kunit(res, kunit)
            kunit = None
            continue
        if kunit is not None:
            parse_ktap_line(res, kunit, line)
            continue
        if script is None:
            continue
        if line.startswith("Bail out!"):
            res.problems.append(f"{script}: {line}")
            continue
        m = PLAN_LINE.match(line)
        if m:
            plan = int(m.group(1))
            continue
        m = TAP_LINE.match(line)
        if m:
            seen += 1
            name = f"{res.name}/{script}: {m.group(3)}"
            if m.group(1) == "ok" and SKIP.search(m.group(3)):
                res.skipped.append(name)
            else:
                res.tests.append((m.group(1) == "ok", name))
    if script is not None:
        res.problems.append(f"{script}: did not end")


KTAP_CASE = re.compile(r"^(\s+)(not ok|ok)\s+\d+\s*-?\s*(\S.*)?$")
KTAP_TOP = re.compile(r"^(not ok|ok)\s+\d+\s*-?\s*(\S.*)?$")


def parse_ktap_line(res, kunit, line):
    m = KTAP_CASE.match(line)
    if m:
        # Direct test cases sit one level (4 spaces or a tab) deep;
        # parameterised cases are deeper and roll up into their parent.
        if m.group(1) in ("    ", "\t"):
            ok = m.group(2) == "ok"
            desc = (m.group(3) or "").strip()
            name = f"{res.name}/kunit/{kunit['suite']}: {desc}"
            kunit["cases"] += 1
            if ok and SKIP.search(desc):
                res.skipped.append(name)
            else:
                res.tests.append((ok, name))
        return
    m = KTAP_TOP.match(line)
    if m:
        kunit["top"] = m.group(1) == "ok"


def finish_kunit(res, kunit):
    if kunit["cases"] == 0:
        res.problems.append(f"kunit {kunit['suite']}: no test cases ran")
    if kunit["top"] is None:
        res.problems.append(f"kunit {kunit['suite']}: no suite result")
    elif not kunit["top"] and all(ok for ok, n in res.tests
                                  if f"/kunit/{kunit['suite']}:" in n):
        res.problems.append(f"kunit {kunit['suite']}: suite failed")


def run_guest(k, scripts, workdir, timeout=180, use_host=True, env=None,
              modules=None, tree=None, **kw):
    """Build an initramfs for kernel k with scripts (and tree, see
    build_initramfs) and boot it once."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    initrd = workdir / "initramfs.cpio.gz"
    mods = modules if modules is not None else sorted(k.modules.rglob("*.ko"))
    mods = [*mods, *kernel_modules(k, scripts)]
    env = dict(env or {})
    env.setdefault("PVKIT_KERNEL", k.name)
    build_initramfs(initrd, mods, scripts, env, tree=tree)
    return boot(f"{k.name}", k.image, initrd, workdir, timeout=timeout,
                use_host=use_host, **kw)


def report(res, verbose=False, out=sys.stdout):
    for ok, name in res.tests:
        if verbose or not ok:
            print(f"{'ok' if ok else 'not ok'} - {name}", file=out)
    for name in res.skipped:
        print(f"skip - {name}", file=out)
    for p in res.problems:
        print(f"not ok - {res.name}: {p}", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", choices=("stock", "test"), default="stock")
    ap.add_argument("--no-host", action="store_true",
                    help="boot without vpv-host (no pvkit device)")
    ap.add_argument("--timeout", type=int, default=180)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("scripts", nargs="+")
    a = ap.parse_args()
    k = kernel(a.kernel)
    if not a.no_build:
        build_modules(k)
    wd = a.workdir or tempfile.mkdtemp(prefix="pvkit-vm-")
    res = run_guest(k, [Path(s).resolve() for s in a.scripts], wd,
                    timeout=a.timeout, use_host=not a.no_host)
    report(res, verbose=a.verbose)
    print(f"logs in {wd} ({res.elapsed:.1f}s)", file=sys.stderr)
    print(f"{res.passed} passed, {res.failed} failed, "
          f"{len(res.skipped)} skipped")
    return 0 if res.failed == 0 and res.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
