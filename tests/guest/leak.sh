# SPDX-License-Identifier: GPL-2.0
# Load/unload vhypercall 50 times: no kmemleak report, no IRQ left.
. /tests/lib.sh
check "kmemleak available" test -w /sys/kernel/debug/kmemleak
kmemleak_clear
fail=0
i=0
while [ $i -lt 50 ]; do
	insmod "$(mod vhypercall)" || { fail=1; break; }
	rmmod vhypercall || { fail=1; break; }
	i=$((i + 1))
done
check "50 load/unload cycles ($i done)" test $fail -eq 0
check_fails "no vhypercall IRQ left" grep -q vhypercall /proc/interrupts
check "kmemleak finds no leak" kmemleak_clean
done_testing
