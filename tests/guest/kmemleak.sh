# SPDX-License-Identifier: GPL-2.0
# The last script of a debug-kernel run with PVKIT_LEAK_AT_END: one
# kmemleak scan for every script before it that left its check here
# (lib.sh kmemleak_check).  An object they leaked is still unreferenced;
# the report's backtraces name where it was allocated.
. /tests/lib.sh
check "kmemleak available" test -w /sys/kernel/debug/kmemleak
check "kmemleak: no leak in the whole run" kmemleak_clean
done_testing
