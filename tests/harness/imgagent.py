# SPDX-License-Identifier: GPL-2.0
"""Image files for a run's block devices, served to the guest's scripts.

The host agent (vmtest.HostAgent) answers 'HOST img VERB ARGS...' with
ImageHandler: a guest script creates the disk images that it then hands
to the stub ('host device add GUEST vbd ID --image PATH'), and asks what
the host sees in them (hashes, allocated blocks, a byte range, two files
compared, a COW overlay merged).  Every file lives in one directory of
the run (WORKDIR/images): names are [A-Za-z0-9._-], 1 to 64 characters,
not starting with a dot; no paths, so a guest cannot name anything else.
Each answer is one JSON line; an error is {"error": "img: ..."}.

Verbs:
  create NAME SIZE [zero|pattern]   a new sparse file of SIZE bytes
                                    (K/M/G suffixes, at most MAX_SIZE);
                                    pattern: every 512-byte sector S
                                    holds 32 copies of '%015d\\n' % S
  path NAME                         {"path": the host path}
  blocks NAME                       {"size", "blocks": st_blocks (512 B)}
  sha256 NAME [OFF LEN]             of the file or of a byte range
  hex NAME OFF LEN                  up to 256 bytes as hex
  cmp A B                           {"equal", "first_diff" (-1: none)}
  rm NAME
  touch NAME                        its mtime set to now
  cow-info OVL                      vpv-cow info OVL --json
  merge OVL BASE OUT                vpv-cow merge OVL BASE OUT
"""

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VPV_COW = REPO / "host-stub/build/vpv-cow"
NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")
SIZE = re.compile(r"^([0-9]+)([KMG]?)$")
# sparse files cost no space until written; the cap keeps a guest from
# asking for more than the tests ever need (their images are <= 1 GiB)
MAX_SIZE = 4 << 30
HEX_MAX = 256
SECTOR = 512
# one sector's pattern line is 16 bytes: 15 digits and a newline
PATTERN_LINE = 16


def parse_size(s):
    """'64M' -> 67108864; ValueError if malformed or over MAX_SIZE."""
    m = SIZE.match(s)
    if not m:
        raise ValueError(f"bad size {s!r}")
    n = int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]
    if n > MAX_SIZE:
        raise ValueError(f"size {n} over {MAX_SIZE}")
    return n


def pattern_sector(s):
    """The bytes of sector s of a 'pattern' image."""
    return (b"%015d\n" % s) * (SECTOR // PATTERN_LINE)


def write_pattern(f, size):
    chunk = 2048          # sectors per write: 1 MiB
    for first in range(0, size // SECTOR, chunk):
        last = min(first + chunk, size // SECTOR)
        f.write(b"".join(pattern_sector(s) for s in range(first, last)))


def sha256_range(path, off=0, length=None):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(off)
        left = length
        while left is None or left > 0:
            n = 1 << 20 if left is None else min(1 << 20, left)
            data = f.read(n)
            if not data:
                break
            h.update(data)
            if left is not None:
                left -= len(data)
    return h.hexdigest()


def first_diff(a, b):
    """Offset of the first byte where files a and b differ (a length
    difference counts at the shorter one's end); -1 if equal."""
    off = 0
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                for i in range(min(len(x), len(y))):
                    if x[i] != y[i]:
                        return off + i
                return off + min(len(x), len(y))
            if not x:
                return -1
            off += len(x)


class ImageHandler:
    """The agent verb 'img' for one run (see the module's docstring)."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, name):
        if not NAME.match(name):
            raise ValueError(f"bad name {name!r}")
        return self.dir / name

    def __call__(self, args):
        try:
            if not args:
                raise ValueError("no verb")
            fn = getattr(self, "do_" + args[0].replace("-", "_"), None)
            if fn is None:
                raise ValueError(f"unknown verb {args[0]!r}")
            return json.dumps(fn(*args[1:]))
        except (OSError, ValueError, TypeError,
                subprocess.SubprocessError) as e:
            return json.dumps({"error": f"img: {e}"})

    def do_create(self, name, size, fill="zero"):
        p, n = self.path(name), parse_size(size)
        if fill not in ("zero", "pattern"):
            raise ValueError(f"bad fill {fill!r}")
        if n % SECTOR:
            raise ValueError("size not a multiple of 512")
        # written aside, then renamed: another guest waiting for the
        # file never sees it half filled
        tmp = self.dir / f".{name}.tmp"
        with open(tmp, "wb") as f:
            if fill == "pattern":
                write_pattern(f, n)
            f.truncate(n)
        os.replace(tmp, p)
        return {"path": str(p), **self.do_blocks(name)}

    def do_touch(self, name):
        """Set the file's mtime to now (a changed COW base)."""
        os.utime(self.path(name))
        return {"mtime_ns": os.stat(self.path(name)).st_mtime_ns}

    def do_path(self, name):
        return {"path": str(self.path(name))}

    def do_blocks(self, name):
        st = os.stat(self.path(name))
        return {"size": st.st_size, "blocks": st.st_blocks}

    def do_sha256(self, name, off="0", length=None):
        return {"sha256": sha256_range(self.path(name), int(off),
                                       None if length is None
                                       else int(length))}

    def do_hex(self, name, off, length):
        n = int(length)
        if not 0 < n <= HEX_MAX:
            raise ValueError(f"length over {HEX_MAX}")
        with open(self.path(name), "rb") as f:
            f.seek(int(off))
            return {"hex": f.read(n).hex()}

    def do_cmp(self, a, b):
        d = first_diff(self.path(a), self.path(b))
        return {"equal": d < 0, "first_diff": d}

    def do_rm(self, name):
        self.path(name).unlink()
        return {"removed": name}

    def cow(self, *args):
        p = subprocess.run([str(VPV_COW), *args], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=120)
        out = p.stdout.strip()
        if p.returncode != 0:
            raise ValueError(f"vpv-cow {args[0]} exited {p.returncode}: "
                             f"{out[-300:]}")
        return out

    def do_cow_info(self, ovl):
        return json.loads(self.cow("info", str(self.path(ovl)), "--json"))

    def do_merge(self, ovl, base, out):
        self.cow("merge", str(self.path(ovl)), str(self.path(base)),
                 str(self.path(out)))
        return {"merged": str(self.path(out)), **self.do_blocks(out)}
