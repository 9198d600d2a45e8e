# SPDX-License-Identifier: GPL-2.0
# Harness self-test: Debian programs the script names below are in the
# guest with their shared libraries and the dynamic loader, and come
# before busybox's applets on PATH; a program of Debian's /bin that is a
# busybox applet too is there under /usr/bin (the init's busybox
# --install once replaced iputils' /bin/ping by its own).
# pvkit-programs: memtester stress-ng iputils-ping:ping
. /tests/lib.sh
plan 5
check "memtester runs (libc, the loader)" memtester 1M 1
check "stress-ng runs (all its libraries load)" stress-ng --version
check "stress-ng runs a stressor" stress-ng --cpu 1 --cpu-ops 10 --timeout 10s
check "the PATH finds Debian's memtester" test "$(command -v memtester)" = /usr/sbin/memtester
check "Debian's /bin/ping, not busybox's" sh -c '/usr/bin/ping -V | grep -q iputils'
