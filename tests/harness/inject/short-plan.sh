# SPDX-License-Identifier: GPL-2.0
# Harness self-test: plan 3, run 1 and pass it.
. /tests/lib.sh
plan 3
ok "only one"
