# SPDX-License-Identifier: GPL-2.0
# Hypercalls across host stalls.  The harness's "stall MS" verb stops
# vpv-host, then QEMU, for MS ms, and lets QEMU go on 0.3 s before
# vpv-host: a call is left waiting, and when the guest runs again its
# clock has jumped by MS while its host has not run yet.  With
# timeout_ms below MS, a call that slept timeout_ms in one piece timed
# out there ("state 0x80000001") although its host had had no time to
# answer; the wait now sleeps in slices that a jump cannot all end.
. /tests/lib.sh
S=/sys/kernel/debug/vhypercall/stats
P=/sys/module/vhypercall/parameters
stat() { awk -v k="$1" '$1 == k {print $2}' $S; }

check "insmod vhypercall" insmod "$(mod vhypercall)"
echo 2000 > $P/timeout_ms	# shorter than the 3 s stalls
echo 0 > $P/spin_us		# every call sleeps for its interrupt
rm -f /tmp/stop
(
	while [ ! -e /tmp/stop ]; do
		insmod "$(mod vpv_selftest)" tests=evtchn_exhaust >/dev/null 2>&1
		rmmod vpv_selftest 2>/dev/null
	done
) &
bg=$!
sleep 1
h0=$(stat hypercalls)
for i in 1 2; do
	check "host stalled for 3 s ($i)" host_ok stall 3000
	sleep 1
done
touch /tmp/stop
wait $bg
h1=$(stat hypercalls)
check "hypercalls went on through the stalls ($h0 -> $h1)" \
	test "${h1:-0}" -gt "${h0:-0}"
check "no hypercall timed out across the stalls ($(stat timeouts))" \
	test "$(stat timeouts)" -eq 0
echo 20 > $P/spin_us
echo 10000 > $P/timeout_ms
check "rmmod vhypercall" rmmod vhypercall
done_testing
