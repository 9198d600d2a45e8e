# SPDX-License-Identifier: GPL-2.0
# Without a host stub (no ivshmem device) vhypercall refuses to load
# with a clear message.
. /tests/lib.sh
check_fails "insmod vhypercall fails" insmod "$(mod vhypercall)"
check_fails "vhypercall not loaded" loaded vhypercall
check "kernel log says no pvkit host" sh -c 'dmesg | grep -q "no pvkit host found"'
done_testing
