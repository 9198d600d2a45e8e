# SPDX-License-Identifier: GPL-2.0
# Harness self-test: a script that passes.
. /tests/lib.sh
plan 2
check "busybox runs" true
check_fails "false fails" false
