# SPDX-License-Identifier: GPL-2.0
# Load/unload vhypercall 20 times: no kmemleak report, no IRQ left.
# (kmemleak reports a single unreferenced object: a leak per cycle shows
# after one; the cycles catch what only a reload path leaks.)
. /tests/lib.sh
check "kmemleak available" test -w /sys/kernel/debug/kmemleak
kmemleak_clear
fail=0
i=0
while [ $i -lt 20 ]; do
	insmod "$(mod vhypercall)" || { fail=1; break; }
	rmmod vhypercall || { fail=1; break; }
	i=$((i + 1))
done
check "20 load/unload cycles ($i done)" test $fail -eq 0
check_fails "no vhypercall IRQ left" grep -q vhypercall /proc/interrupts
# vballoon: load, inflate 64 MiB, unload (deflates) four times
check "insmod vhypercall" insmod "$(mod vhypercall)"
G=$(guest_name)
fail=0
i=0
while [ $i -lt 4 ]; do
	insmod "$(mod vballoon)" || { fail=1; break; }
	host_ok balloon "$G" 448M || { fail=1; break; }
	wait_until 30 sh -c "[ \$(awk '\$1 == \"balloon_pages\" {print \$2}' /sys/kernel/debug/vballoon/stats) -ge 16384 ]" ||
		{ fail=1; break; }
	rmmod vballoon || { fail=1; break; }
	i=$((i + 1))
done
check "4 vballoon inflate/unload cycles ($i done)" test $fail -eq 0
check "host P2M fully populated" test "$(hstat "$G" p2m_invalid_pages)" -eq 0
host_ok balloon "$G" auto
check "rmmod vhypercall" rmmod vhypercall
check "kmemleak finds no leak" kmemleak_clean
done_testing
