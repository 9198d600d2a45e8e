# SPDX-License-Identifier: GPL-2.0
# Guest side of the hypercall benchmark: vpv_selftest in bench mode.
. /tests/lib.sh
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vpv_selftest bench=1" insmod "$(mod vpv_selftest)" tests=none bench=1
R=/sys/kernel/debug/vpv_selftest/results
echo "PVKIT-BENCH-BEGIN"
sed "s/^/# /" $R
echo "PVKIT-BENCH-END"
rmmod vpv_selftest
rmmod vhypercall
done_testing
