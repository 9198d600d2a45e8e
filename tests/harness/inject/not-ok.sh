# SPDX-License-Identifier: GPL-2.0
# Harness self-test: one injected failure.
. /tests/lib.sh
plan 2
ok "fine"
not_ok "injected failure"
