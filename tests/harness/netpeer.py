#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The host end of a guest's TCP transfer (tests/guest/net.sh), run by
the agent's 'net' verb inside the run's network namespace
(vmtest.NetHandler):

  netpeer.py recv PORT OUT          accept one connection on PORT, read
                                    it to its end
  netpeer.py send ADDR PORT MIB OUT connect to ADDR:PORT (retrying for
                                    30 s) and send MIB MiB of random
                                    bytes

Either writes its result to OUT as one JSON line once done: bytes moved,
their sha256, seconds, or an error.  Written to OUT.tmp and renamed, so
a reader never sees half of it.
"""

import hashlib
import json
import os
import socket
import sys
import time

CHUNK = 1 << 20     # a MiB per send/recv: few system calls, little memory
TIMEOUT = 120       # a stalled peer fails the transfer after this (s)


def finish(out, result):
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(result) + "\n")
    os.rename(tmp, out)


def recv(port, out):
    h = hashlib.sha256()
    n = 0
    with socket.create_server(("0.0.0.0", port), reuse_port=True) as srv:
        srv.settimeout(TIMEOUT)
        # listening: the agent answers the guest's 'recv' only now
        open(out + ".ready", "w").close()
        conn, peer = srv.accept()
    t0 = time.monotonic()
    with conn:
        conn.settimeout(TIMEOUT)
        while True:
            data = conn.recv(CHUNK)
            if not data:
                break
            h.update(data)
            n += len(data)
    return {"bytes": n, "sha256": h.hexdigest(), "peer": peer[0],
            "seconds": round(time.monotonic() - t0, 3)}


def send(addr, port, mib, out):
    h = hashlib.sha256()
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = socket.create_connection((addr, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    t0 = time.monotonic()
    with conn:
        conn.settimeout(TIMEOUT)
        for _ in range(mib):
            data = os.urandom(CHUNK)
            h.update(data)
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        # wait for the guest to close: every byte was read
        while conn.recv(4096):
            pass
    return {"bytes": mib * CHUNK, "sha256": h.hexdigest(),
            "seconds": round(time.monotonic() - t0, 3)}


def main():
    a = sys.argv[1:]
    out = a[-1]
    try:
        if a[0] == "recv" and len(a) == 3:
            r = recv(int(a[1]), out)
        elif a[0] == "send" and len(a) == 5:
            r = send(a[1], int(a[2]), int(a[3]), out)
        else:
            r = {"error": f"netpeer: bad arguments {a}"}
    except (OSError, ValueError) as e:
        r = {"error": f"netpeer: {e}"}
    finish(out, r)


if __name__ == "__main__":
    main()
