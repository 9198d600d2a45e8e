# SPDX-License-Identifier: GPL-2.0
# The hypercall tests of hypercall.sh (vpv_selftest), PVKIT_HC_LOOPS
# times (default 3) in one boot, rotating spin_us so that the calls take
# every completion path: 0 sleeps for the interrupt on every call, 1
# races the host's completion with the WANT_IRQ cmpxchg on most calls,
# 20 is the default, with the stub polling its slots (hc_poll_us 50:
# the guest skips doorbells while it polls).  Meant for a one-vCPU guest (PVKIT_ONE_CPU=1:
# checked), where a hypercall once timed out.  PVKIT_HC_TIMEOUT_MS sets
# vhypercall's timeout_ms, to catch slow completions, not only lost ones.
. /tests/lib.sh
R=/sys/kernel/debug/vpv_selftest/results
S=/sys/kernel/debug/vhypercall/stats
P=/sys/module/vhypercall/parameters/spin_us
loops=${PVKIT_HC_LOOPS:-3}
stat() { awk -v k="$1" '$1 == k {print $2}' $S; }

if [ "${PVKIT_ONE_CPU:-0}" = 1 ]; then
	n=$(grep -c '^processor' /proc/cpuinfo)
	check "one online vCPU ($n)" test "$n" -eq 1
fi
check "insmod vhypercall" insmod "$(mod vhypercall)"
# a spare slot beyond one per vCPU: a timed-out call's slot is retired
# until the host answers, and the calls after it need another one
slots=$(awk '$1 == "nr_slots" {print $2}' /sys/kernel/debug/vhypercall/info)
cpus=$(grep -c '^processor' /proc/cpuinfo)
check "a spare hypercall slot ($slots slots, $cpus vCPUs)" \
	test "${slots:-0}" -gt "$cpus"
[ -n "$PVKIT_HC_TIMEOUT_MS" ] &&
	echo "$PVKIT_HC_TIMEOUT_MS" > /sys/module/vhypercall/parameters/timeout_ms
i=0
while [ $i -lt "$loops" ]; do
	i=$((i + 1))
	poll=0
	case $((i % 3)) in
	0) spin=20 poll=50 ;;
	1) spin=0 ;;
	*) spin=1 ;;
	esac
	echo $spin > $P
	r=$(host hc "$(guest_name)" poll_us $poll)
	echo "$r" | grep -q "\"hc_poll_us\":$poll" ||
		not_ok "round $i: stub polling $poll us: $r"
	sk0=$(stat doorbells_skipped)
	t0=$(stat timeouts)
	if ! insmod "$(mod vpv_selftest)" 2>/tmp/insmod.err || [ ! -r $R ]; then
		not_ok "round $i (spin_us $spin): insmod vpv_selftest"
		sed 's/^/# /' /tmp/insmod.err
		continue
	fi
	good=$(grep -c '^ok ' $R)
	bad=$(grep -c '^not ok ' $R)
	plan=$(sed -n 's/^1\.\.//p' $R)
	t1=$(stat timeouts)
	if [ "$bad" -eq 0 ] && [ "$good" -eq "${plan:-0}" ] &&
	   [ "$t1" -eq "$t0" ]; then
		ok "round $i (spin_us $spin, stub poll $poll us, $(($(stat doorbells_skipped) - sk0)) doorbells skipped): $good of $plan selftests"
	else
		not_ok "round $i (spin_us $spin): $good of ${plan:-?} ok, $bad not ok, $((t1 - t0)) timeouts"
		grep -v '^ok ' $R | sed 's/^/# /'
		dmesg | grep -i 'vhypercall' | tail -5 | sed 's/^/# /'
	fi
	rmmod vpv_selftest
	[ $poll = 0 ] || check "round $i: doorbells skipped while the stub polled" \
		test "$(stat doorbells_skipped)" -gt "$sk0"
done
host hc "$(guest_name)" poll_us 0 > /dev/null
echo 20 > $P
check "no hypercall timed out ($(stat timeouts))" test "$(stat timeouts)" -eq 0
check "no protocol error ($(stat protocol_errors))" \
	test "$(stat protocol_errors)" -eq 0
grep -E '^(hypercalls|spins|sleeps|polls|timeouts|hcall_irqs) ' $S |
	sed 's/^/# /'
check "rmmod vhypercall" rmmod vhypercall
done_testing
