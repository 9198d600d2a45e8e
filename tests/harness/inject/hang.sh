# SPDX-License-Identifier: GPL-2.0
# Harness self-test: never finish.
. /tests/lib.sh
plan 1
while :; do sleep 1000; done
