# SPDX-License-Identifier: GPL-2.0
# Hypercall platform against the real host stub: vpv_selftest runs the
# round-trip, multicall, event channel and hostile-input tests in the
# kernel and reports KTAP through debugfs.
. /tests/lib.sh
R=/sys/kernel/debug/vpv_selftest/results
S=/sys/kernel/debug/vhypercall/stats
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "debugfs stats present" test -r $S
check "insmod vpv_selftest" insmod "$(mod vpv_selftest)"
if [ -r $R ]; then
	forward_tap $R
else
	not_ok "vpv_selftest results present"
fi
check "rmmod vpv_selftest" rmmod vpv_selftest

# The calls again with the stub polling its slots (VPV_F_HC_POLL): the
# guest skips its doorbell while the stub says it polls.  The longest
# window (1000 us): on the debug kernel calls come more than 50 us
# apart, and the stub's adaptive polling would switch itself off.
stat() { awk -v k="$1" '$1 == k {print $2}' $S; }
# bench_cpu: 200 NOPs back to back, calls the poller must catch;
# evtchn_echo with 4 rounds: event doorbells while the stub polls
PT=nop,multicall,mc_error,memchk,evtchn_echo,bench_cpu
t0=$(cut -d' ' -f1 /proc/uptime)
r=$(host hc "$(guest_name)" poll_us 1000)
case "$r" in
*'"hc_poll_us":1000'*)
	sk0=$(stat doorbells_skipped)
	check "insmod vpv_selftest (stub polling)" \
		insmod "$(mod vpv_selftest)" tests=$PT iters=200 rounds=4
	if [ -r $R ]; then
		sed 's/^\(\(not \)\{0,1\}ok [0-9]* - \)/\1polling: /' $R > /tmp/poll.tap
		forward_tap /tmp/poll.tap
	fi
	rmmod vpv_selftest
	# On a loaded host (another guest beside this one) the stub's
	# poller may not run during those calls: more calls back to back
	# until it has been seen polling, at most 5 rounds of 2000.
	n=0
	while [ $(($(stat doorbells_skipped) - sk0)) -eq 0 ] && [ $n -lt 5 ]; do
		n=$((n + 1))
		insmod "$(mod vpv_selftest)" tests=bench_cpu iters=2000 &&
			rmmod vpv_selftest
	done
	sk=$(($(stat doorbells_skipped) - sk0))
	check "doorbells skipped while the stub polled ($sk, $n more rounds)" \
		test "$sk" -gt 0
	echo "# of them rung late (not done after spin_us): $(stat doorbells_late)"
	r=$(host hc "$(guest_name)" poll_us 0)
	hp=$(hstat "$(guest_name)" hc_polls)
	check "the stub polled ($hp episodes) and stopped" \
		test "${hp:-0}" -gt 0 -a -n "$(echo "$r" | grep '"hc_poll_us":0')"
	;;
*)
	not_ok "host hc poll_us 1000: $r"
	;;
esac
echo "# with the stub polling: $t0 -> $(cut -d' ' -f1 /proc/uptime) s"
# the counters moved: hypercalls were made and events came back
hc=$(awk '$1 == "hypercalls" {print $2}' $S)
ev=$(awk '$1 == "events_received" {print $2}' $S)
check "hypercall counter counted ($hc)" test "${hc:-0}" -gt 1000
check "event counter counted ($ev)" test "${ev:-0}" -gt 0
sed 's/^/# /' $S
check "rmmod vhypercall" rmmod vhypercall
done_testing
