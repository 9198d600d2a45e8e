# SPDX-License-Identifier: GPL-2.0
"""The host side of a guest's network tests, in a network namespace.

A boot with a NetNamespace (vmtest.boot(netns=...)) runs vpv-host and
QEMU inside a namespace of its own, made for the run and deleted after
it: its taps (made persistent before the boot, so that vpv-host attaches
to them by name, 'device add GUEST vif ID --tap pvtapN') carry the host's
addresses HOST_ADDR(N)/24 there; nothing is routed anywhere else, so no
packet leaves the machine.

The host agent (vmtest.HostAgent) answers 'HOST net VERB ARGS...' with
NetHandler, one JSON line each ({"error": "net: ..."} on an error):

  ping ADDR COUNT [SIZE]   ping ADDR from the namespace: {"sent",
                           "received"}
  recv PORT                accept one TCP connection on PORT and read it
                           to its end (netpeer.py), in the background
  send ADDR PORT MIB       connect to ADDR:PORT and send MIB MiB of
                           random bytes, in the background
  result PORT [WAIT]       the transfer on PORT: {"bytes", "sha256",
                           "seconds"} once done (waiting up to WAIT s,
                           default 20), else {"pending": 1}
  iperf3 ADDR PORT         an iperf3 server on ADDR:PORT (a host address
                           of the run), started once, for the benchmark
  mtu TAP MTU              set a tap's MTU (68 .. 9000)
  stat TAP                 the tap's kernel counters: {"rx_packets",
                           "tx_packets", "rx_bytes", "tx_bytes",
                           "rx_dropped", "tx_dropped"}
  faults PID               minor page faults of PID, a vpv-netback
                           process: {"minflt"}

Addresses must be in the run's subnet, ports 1024 .. 65535, at most
MAX_MIB per transfer: a guest cannot make the host do anything but
talk to it.
"""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

NETPEER = Path(__file__).resolve().parent / "netpeer.py"
SUBNET = "10.77"              # the test's own private range, per tap
MAX_MIB = 1024                # 1 GiB: the longest transfer a test needs
TAP = re.compile(r"^pvtap[0-9]$")
ADDR = re.compile(r"^10\.77\.([0-9]{1,3})\.([0-9]{1,3})$")


def host_addr(n):
    """The host's address on tap pvtap<n>."""
    return f"{SUBNET}.{n}.1"


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def proc_stat(path):
    """(comm, the fields after it) of a /proc stat file; None if it is
    gone.  fields[1] is the parent's pid, [7] the minor page faults,
    [11] and [12] utime and stime in clock ticks."""
    try:
        with open(path) as f:
            st = f.read()
    except OSError:
        return None
    return st[st.index("(") + 1:st.rindex(")")], \
        st[st.rindex(")") + 2:].split()


class NetNamespace:
    """A network namespace for one run, with taps pvtap0 .. pvtap<n-1>.

    bridge: the taps join one Linux bridge, pvbr0, without addresses of
    their own (guests' NICs on them talk to each other, not the host).
    multi_queue: the numbers of the taps made multi-queue
    (IFF_MULTI_QUEUE: a QEMU tap back-end with 'queues=' attaches to
    them; vpv-netback, which opens one queue, cannot).
    """

    def __init__(self, name, taps=1, bridge=False, multi_queue=()):
        self.name = name
        self.taps = taps
        self.bridge = bridge
        self.multi_queue = set(multi_queue)

    def setup(self):
        ip("netns", "del", self.name, check=False)
        ip("netns", "add", self.name)
        # IPv4 only: with IPv6 the host kernel sends router
        # solicitations (70 bytes, backing off up to an hour) and DAD
        # and MLD frames on every tap, and one took the RX buffer that
        # net-hostile.sh's rx_persistent posts for an ARP reply
        subprocess.run(self.wrap(["sysctl", "-qw",
                                  "net.ipv6.conf.all.disable_ipv6=1",
                                  "net.ipv6.conf.default.disable_ipv6=1"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        ip("-n", self.name, "link", "set", "lo", "up")
        if self.bridge:
            ip("-n", self.name, "link", "add", "pvbr0", "type", "bridge")
            ip("-n", self.name, "link", "set", "pvbr0", "up")
        for n in range(self.taps):
            t = f"pvtap{n}"
            ip("-n", self.name, "tuntap", "add", "dev", t, "mode", "tap",
               *(["multi_queue"] if n in self.multi_queue else []))
            if self.bridge:
                ip("-n", self.name, "link", "set", t, "master", "pvbr0")
            else:
                ip("-n", self.name, "addr", "add", f"{host_addr(n)}/24",
                   "dev", t)
            ip("-n", self.name, "link", "set", t, "up")

    def teardown(self):
        ip("netns", "del", self.name, check=False)

    def wrap(self, cmd):
        """cmd run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *cmd]


def _int(s, lo, hi):
    v = int(s)
    if not lo <= v <= hi:
        raise ValueError(f"{s} not in {lo}..{hi}")
    return v


def _addr(s):
    m = ADDR.match(s)
    if not m or int(m.group(1)) > 255 or int(m.group(2)) > 255:
        raise ValueError(f"address {s!r} not in {SUBNET}.0.0/16")
    return s


class NetHandler:
    """The agent's 'net' verb for a boot in workdir inside ns."""

    def __init__(self, ns, workdir):
        self.ns = ns
        self.dir = Path(workdir) / "net"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.procs = []
        self.servers = set()

    def __call__(self, args):
        try:
            return json.dumps(self.verb(args))
        except (ValueError, IndexError, OSError,
                subprocess.SubprocessError) as e:
            return json.dumps({"error": f"net: {e}"})

    def _out(self, port):
        return self.dir / f"transfer-{port}.json"

    def _spawn(self, port, cmd):
        out = self._out(port)
        out.unlink(missing_ok=True)
        self.procs.append(subprocess.Popen(
            self.ns.wrap([sys.executable, str(NETPEER), *cmd, str(out)]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.dir / f"netpeer-{port}.log", "w")))
        return {"started": port}

    def verb(self, a):
        v = a[0]
        if v == "ping":
            n = _int(a[2], 1, 1000)
            size = _int(a[3], 0, 65000) if len(a) > 3 else 56
            p = subprocess.run(self.ns.wrap(
                ["ping", "-q", "-c", str(n), "-i", "0.2", "-W", "3",
                 "-s", str(size), _addr(a[1])]), text=True,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                timeout=60)
            m = re.search(r"(\d+) packets transmitted, (\d+) received",
                          p.stdout)
            if not m:
                raise ValueError(p.stdout.strip()[-200:])
            return {"sent": int(m.group(1)), "received": int(m.group(2))}
        if v == "recv":
            port = _int(a[1], 1024, 65535)
            ready = Path(str(self._out(port)) + ".ready")
            ready.unlink(missing_ok=True)
            r = self._spawn(port, ["recv", str(port)])
            # answered once it listens: a guest connecting at once was
            # refused while python started under load (net-hostile.sh)
            deadline = time.monotonic() + 15
            while not ready.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not ready.exists():
                raise ValueError(f"no listener on {port} after 15 s")
            return r
        if v == "send":
            port = _int(a[2], 1024, 65535)
            return self._spawn(port, ["send", _addr(a[1]), str(port),
                                      str(_int(a[3], 1, MAX_MIB))])
        if v == "result":
            out = self._out(_int(a[1], 1024, 65535))
            deadline = time.monotonic() + \
                (_int(a[2], 0, 25) if len(a) > 2 else 20)
            while not out.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            if not out.exists():
                return {"pending": 1}
            return json.loads(out.read_text())
        if v == "iperf3":
            key = (_addr(a[1]), _int(a[2], 1024, 65535))
            if key not in self.servers:
                self.servers.add(key)
                self.procs.append(subprocess.Popen(
                    self.ns.wrap(["iperf3", "-s", "-B", key[0], "-p",
                                  str(key[1])]),
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=open(self.dir / f"iperf3-{key[1]}.log", "a")))
                time.sleep(0.5)     # listening before the guest connects
            return {"iperf3": f"{key[0]}:{key[1]}"}
        if v == "mtu":
            if not TAP.match(a[1]):
                raise ValueError(f"no tap {a[1]!r}")
            ip("-n", self.ns.name, "link", "set", a[1], "mtu",
               str(_int(a[2], 68, 9000)))
            return {"mtu": int(a[2])}
        if v == "stat":
            if not TAP.match(a[1]):
                raise ValueError(f"no tap {a[1]!r}")
            p = ip("-n", self.ns.name, "-s", "-j", "link", "show", a[1])
            s = json.loads(p.stdout)[0]["stats64"]
            return {"rx_packets": s["rx"]["packets"],
                    "rx_bytes": s["rx"]["bytes"],
                    "rx_dropped": s["rx"]["dropped"],
                    "tx_packets": s["tx"]["packets"],
                    "tx_bytes": s["tx"]["bytes"],
                    "tx_dropped": s["tx"]["dropped"]}
        if v == "faults":
            # a back-end's minor page faults so far (net.sh: receiving
            # must not fault its buffers in again frame after frame)
            pid = _int(a[1], 1, 1 << 22)
            st = proc_stat(f"/proc/{pid}/stat")
            if not st or st[0] != "vpv-netback":
                raise ValueError(f"pid {pid} is not a vpv-netback")
            return {"minflt": int(st[1][7])}
        raise ValueError(f"unknown verb {v!r}")

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
