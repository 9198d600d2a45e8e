# SPDX-License-Identifier: GPL-2.0
# Guest side of the PV MMU benchmark: vpv_mmutest in bench mode, PTE
# updates per second for lazy batches of 1, 8, 64 and 512 and for one
# hypercall per update.
. /tests/lib.sh
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vpvmmu" insmod "$(mod vpvmmu)"
check "insmod vpv_mmutest bench=1" insmod "$(mod vpv_mmutest)" tests=none bench=1
R=/sys/kernel/debug/vpv_mmutest/results
echo "PVKIT-BENCH-BEGIN"
sed "s/^/# /" $R
echo "PVKIT-BENCH-END"
rmmod vpv_mmutest
rmmod vpvmmu
rmmod vhypercall
done_testing
