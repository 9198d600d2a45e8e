# SPDX-License-Identifier: GPL-2.0
# Harness self-test: crash the kernel (NULL dereference through sysrq).
. /tests/lib.sh
plan 1
echo c > /proc/sysrq-trigger
ok "survived the crash"
