#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""vpv-ctl's and vpv-host's command lines, as a user meets them (TAP).

Runs the real host-stub/build/vpv-ctl against a real
'vpv-host --no-qemu' (a guest whose QEMU never starts: every command
has a guest to talk about) and checks, for every command: --help
prints its usage to stdout and exits 0; bad invocations exit with the
documented code (Documentation/host-stub.rst, "vpv-ctl": 1 the host
answered an error, 2 usage, 3 no host) and say why in one line on
stderr; --json output parses as JSON, errors included, and without
--json the output is text.  About 2 s.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("PVKIT_HOST_BUILD", REPO / "host-stub/build"))
CTL = BUILD / "vpv-ctl"
HOST = BUILD / "vpv-host"
COMMANDS = ("list", "stats", "balloon", "p2m", "store", "device", "switch",
            "guest", "hc", "sharing")

n = 0
failed = 0


def ok(cond, name, detail=None):
    global n, failed
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {name}")
    if not cond:
        failed += 1
        for line in (detail or "").splitlines()[:12]:
            print(f"# {line}")
    return cond


def run(args, env=None, ctl=None):
    cmd = [str(CTL)] + (["--ctl", ctl] if ctl else []) + list(args)
    e = dict(os.environ)
    e.pop("VPV_CTL", None)
    e.update(env or {})
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=e, timeout=30)


def show(p):
    return f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"


def parses(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def start_host(rundir):
    """vpv-host --no-qemu with one 64 MiB guest 'g1'; its socket path."""
    log = open(rundir + ".log", "w")
    p = subprocess.Popen([str(HOST), "--no-qemu", "--run-dir", rundir,
                          "--name", "g1", "--kernel", "/dev/null",
                          "--mem", "64M"],
                         stdout=log, stderr=subprocess.STDOUT)
    sock = os.path.join(rundir, "ctl.sock")
    for _ in range(100):
        if os.path.exists(sock) and run(["list"], ctl=sock).returncode == 0:
            return p, sock
        if p.poll() is not None:
            break
        time.sleep(0.1)
    p.kill()
    p.wait()
    sys.exit(f"Bail out! vpv-host --no-qemu did not come up "
             f"(see {rundir}.log)")


def help_tests():
    p = run(["--help"])
    ok(p.returncode == 0 and p.stdout.startswith("usage: vpv-ctl") and
       not p.stderr, "vpv-ctl --help: usage on stdout, exit 0", show(p))
    missing = [c for c in COMMANDS if f"\n  {c} " not in p.stdout]
    ok(not missing, f"vpv-ctl --help lists every command (missing {missing})",
       show(p))
    ok("exit:" in p.stdout, "vpv-ctl --help states the exit codes", show(p))
    for c in COMMANDS:
        for args in ([c, "--help"], [c, "-h"], ["--help", c]):
            p = run(args)
            ok(p.returncode == 0 and
               p.stdout.startswith(f"usage: vpv-ctl [--json] {c}") and
               not p.stderr, f"vpv-ctl {' '.join(args)}: its usage, exit 0",
               show(p))
    # help needs no host and wins over the rest of the words
    p = run(["device", "add", "g1", "vbd", "0", "--help"])
    ok(p.returncode == 0 and "--image FILE" in p.stdout,
       "vpv-ctl device add ... --help: device's usage", show(p))
    # but a store value is the user's, "--help" included
    p = run(["store", "write", "/a", "--help"], ctl="/nonexistent/ctl.sock")
    ok(p.returncode == 3, "vpv-ctl store write PATH --help: a value, sent",
       show(p))
    h = subprocess.run([str(HOST), "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10)
    ok(h.returncode == 0 and h.stdout.startswith("usage: vpv-host") and
       "--name" in h.stdout, "vpv-host --help: usage on stdout, exit 0",
       show(h))
    h = subprocess.run([str(HOST), "--bogus"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10)
    ok(h.returncode != 0 and "bogus" in h.stderr,
       "vpv-host --bogus: exits non-zero naming the option", show(h))


# (arguments, exit code, what stderr must say); "SOCK" is the live
# socket, "FILE" a regular file that is no socket
BAD = [
    ([], 2, "no command"),
    (["frob"], 2, "unknown command 'frob'"),
    (["--bogus", "list"], 2, "unknown option '--bogus'"),
    (["--ctl"], 2, "'--ctl' needs an argument"),
    (["list", "g1"], 2, "list: too many arguments"),
    (["stats", "g1", "x"], 2, "stats: too many arguments"),
    (["balloon", "g1"], 2, "balloon: too few arguments"),
    (["p2m"], 2, "p2m: too few arguments"),
    (["store", "frob", "/"], 2, "store: unknown subcommand 'frob'"),
    (["store", "read"], 2, "store: too few arguments"),
    (["store", "read", "a b"], 2, "holds a space"),
    (["device"], 2, "device: too few arguments"),
    (["device", "frob", "g1"], 2, "device: unknown subcommand 'frob'"),
    (["device", "add", "g1", "vbd", "0", "--image", "/nonexistent/d/x"], 2,
     "/nonexistent/d/x: No such file or directory"),
    (["switch", "frob"], 2, "switch: unknown subcommand 'frob'"),
    (["guest", "frob", "g1"], 2, "guest: unknown subcommand 'frob'"),
    (["guest", "remove"], 2, "guest: too few arguments"),
    (["hc", "g1", "cpu"], 2, "hc: too few arguments"),
    (["sharing", "g1"] + ["0-1"] * 10, 2, "sharing: too many arguments"),
    # the host refuses
    (["balloon", "g1", "lots"], 1, "bad size"),
    (["balloon", "nosuch", "32M"], 1, "no such guest"),
    (["stats", "nosuch"], 1, "no such guest"),
    (["p2m", "nosuch"], 1, "no such guest"),
    (["p2m", "g1", "x-y"], 1, "error"),
    (["store", "read", "/no/such/key"], 1, "error"),
    (["device", "remove", "g1", "vbd/9"], 1, "error"),
    (["device", "add", "nosuch", "vloop", "0"], 1, "error"),
    (["switch", "kill", "nosuch"], 1, "error"),
    (["guest", "remove", "nosuch"], 1, "no such guest"),
    (["hc", "g1", "cpu", "99999"], 1, "error"),
    (["hc", "g1", "frob", "1"], 1, "error"),
    (["sharing", "nosuch"], 1, "no such guest"),
    (["sharing", "g1", "12"], 1, "error"),
    # no host to answer
    (["--ctl", "/nonexistent/ctl.sock", "list"], 3,
     "/nonexistent/ctl.sock: No such file or directory"),
    (["--ctl", "FILE", "stats"], 3, "Connection refused"),
]


def bad_tests(sock, plain):
    p = run(["list"], env={"VPV_CTL": ""})
    ok(p.returncode == 2 and "no control socket" in p.stderr,
       "no --ctl and no VPV_CTL: exit 2, says so", show(p))
    for args, code, why in BAD:
        args = [plain if a == "FILE" else a for a in args]
        ctl = None if "--ctl" in args else sock
        for js in (False, True):
            a = ["--json"] + args if js else args
            p = run(a, ctl=ctl)
            lines = p.stderr.splitlines()
            name = f"vpv-ctl {' '.join(a)}: exit {code}"
            good = p.returncode == code and len(lines) == 1 and \
                why in lines[0]
            if js:
                j = parses(p.stdout)
                good = good and isinstance(j, dict) and "error" in j
                name += ", a JSON error on stdout"
            else:
                good = good and not p.stdout
            ok(good, f"{name}, one line on stderr: {why}", show(p))


# read commands, then the ones that change something (g1 goes last)
GOOD = [
    ["list"], ["stats"], ["stats", "g1"], ["p2m", "g1"], ["p2m", "g1", "0-3"],
    ["store", "ls", "/"], ["store", "write", "/cli/key", "one", "two"],
    ["store", "read", "/cli/key"], ["store", "rm", "/cli/key"],
    ["device", "list"], ["device", "list", "g1"], ["switch", "list"],
    ["balloon", "g1", "32M"], ["balloon", "g1", "auto"],
    ["hc", "g1", "poll_us", "10"], ["hc", "g1", "poll_us", "0"],
    ["hc", "g1", "cpu", "0"], ["hc", "g1", "cpu", "any"],
    ["sharing", "--wait"], ["sharing", "--wait", "g1", "0-3", "0x10-0x1f"],
    ["sharing", "--peek"], ["sharing", "--peek", "g1"],
    ["device", "add", "g1", "vloop", "0"], ["device", "list", "g1"],
    ["device", "remove", "g1", "vloop/0"],
]


def good_tests(sock):
    for args in GOOD:
        # each as text, then as JSON; not the changes that cannot be
        # done twice (balloon, hc, store write can)
        if args[:2] in (["device", "add"], ["device", "remove"],
                        ["store", "rm"]):
            modes = (True,)
        else:
            modes = (False, True)
        for js in modes:
            a = ["--json"] + args if js else args
            p = run(a, ctl=sock)
            j = parses(p.stdout)
            name = f"vpv-ctl {' '.join(a)}: exit 0"
            if js:
                ok(p.returncode == 0 and isinstance(j, dict) and
                   "error" not in j and not p.stderr,
                   f"{name}, output parses as JSON", show(p))
            else:
                ok(p.returncode == 0 and j is None and not p.stderr,
                   f"{name}, text (not JSON)", show(p))
    p = run(["--json", "store", "read", "/cli/key"], ctl=sock)
    ok(p.returncode == 1, "store rm removed it (read: exit 1)", show(p))
    p = run(["--json", "guest", "remove", "g1"], ctl=sock)
    ok(p.returncode == 0 and isinstance(parses(p.stdout), dict),
       "vpv-ctl --json guest remove g1: exit 0, JSON", show(p))
    p = run(["--json", "list"], ctl=sock)
    j = parses(p.stdout)
    ok(p.returncode == 0 and j and j.get("guests") == [],
       "then --json list: no guest left", show(p))


def main():
    for b in (CTL, HOST):
        if not b.exists():
            sys.exit(f"Bail out! {b} not built (make -C host-stub)")
    with tempfile.TemporaryDirectory(prefix="pvkit-cli-") as tmp:
        plain = os.path.join(tmp, "plain")
        Path(plain).write_text("not a socket\n")
        help_tests()
        host, sock = start_host(os.path.join(tmp, "run"))
        try:
            bad_tests(sock, plain)
            good_tests(sock)
        finally:
            host.send_signal(signal.SIGTERM)
            try:
                rc = host.wait(timeout=10)
            except subprocess.TimeoutExpired:
                host.kill()
                rc = host.wait()
        ok(rc == 0, f"vpv-host --no-qemu exits 0 on SIGTERM ({rc})",
           Path(os.path.join(tmp, "run") + ".log").read_text())
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
