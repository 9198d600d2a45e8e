# SPDX-License-Identifier: GPL-2.0
# Hypercalls across host stalls.  The harness's "stall MS" verb stops
# vpv-host, then QEMU, for MS ms, and lets QEMU go on 0.3 s before
# vpv-host: a call is left waiting, and when the guest runs again its
# clock has jumped by MS while its host has not run yet.  With
# timeout_ms below MS, a call that slept timeout_ms in one piece timed
# out there ("state 0x80000001") although its host had had no time to
# answer; the wait now sleeps in slices that a jump cannot all end.
# Last, a stall of vpv-host alone retires every slot (see below).
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

# Every slot retired: only vpv-host stops (4 s), the guest runs on with
# timeout_ms=1000.  vpv_selftest's 7 NOPs: the first two time out and
# retire both slots (one vCPU: its own and the spare); the later ones
# find every slot retired.  They used to fail at once with -EIO; now
# each rings and waits for the host, which on its return completes the
# two late NOPs, and the calls go on in the reclaimed slots.
echo 1000 > $P/timeout_ms
w0=$(stat slot_waits)
(host_ok stall 4000 stub; echo $? > /tmp/stall.rc) &
sleep 0.5
insmod "$(mod vpv_selftest)" tests=nop >/dev/null 2>&1
res=$(cat /sys/kernel/debug/vpv_selftest/results 2>/dev/null)
rmmod vpv_selftest 2>/dev/null
wait
nfail=$(echo "$res" | grep -c 'NOP(')
check "host-only stall done" test "$(cat /tmp/stall.rc)" -eq 0
check "calls found every slot retired ($w0 -> $(stat slot_waits))" \
	test "$(stat slot_waits)" -gt "${w0:-0}"
echo "$res" | grep 'NOP(' | sed 's/^/# /'
# a call reclaims the first retired slot it finds DONE: at least one
check "a retired slot handed back ($(stat slots_reclaimed))" \
	test "$(stat slots_reclaimed)" -ge 1
check "the NOPs after the host's return succeeded ($nfail of 7 failed)" \
	test "$nfail" -lt 7 -a -z "$(echo "$res" | grep 'NOP(0xffffffffffffffff)')"
insmod "$(mod vpv_selftest)" tests=nop >/dev/null 2>&1
res=$(cat /sys/kernel/debug/vpv_selftest/results 2>/dev/null)
rmmod vpv_selftest 2>/dev/null
all_ok() { echo "$res" | grep -q '^ok' && ! echo "$res" | grep -q '^not ok'; }
check "hypercalls work again" all_ok
echo 20 > $P/spin_us
echo 10000 > $P/timeout_ms
check "rmmod vhypercall" rmmod vhypercall
done_testing
