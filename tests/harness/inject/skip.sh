# SPDX-License-Identifier: GPL-2.0
# Harness self-test: a skipped test is not a pass.
. /tests/lib.sh
plan 2
ok "runs"
ok "cannot run here # SKIP no such device"
