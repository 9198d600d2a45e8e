# SPDX-License-Identifier: GPL-2.0
# Guest side of the hypercall benchmark (tests/bench/run.py hypercall):
# vpv_selftest's interleaved benchmark once per placement of the
# stub's threads and polling setting, each after a bench_cpu run that
# the host brackets with its thread CPU times.
# PVKIT_BENCH_PLACES (default "split same"), PVKIT_BENCH_POLLS
# (default "0 50", the stub's hc_poll_us), PVKIT_BENCH_ITERS.
. /tests/lib.sh
G=${PVKIT_KERNEL:-stock}
R=/sys/kernel/debug/vpv_selftest/results
iters=${PVKIT_BENCH_ITERS:-4000}
check "insmod vhypercall" insmod "$(mod vhypercall)"
echo "PVKIT-BENCH-BEGIN"
echo "# clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
for place in ${PVKIT_BENCH_PLACES:-split same}; do
	for poll in ${PVKIT_BENCH_POLLS:-0 50}; do
		ph="$place-poll$poll"
		host bench-hc place "$place" > /dev/null
		host hc "$G" poll_us "$poll" > /dev/null
		echo "# phase $ph"
		host bench-hc mark "$ph-a" > /dev/null
		insmod "$(mod vpv_selftest)" tests=bench_cpu iters=$iters
		host bench-hc mark "$ph-b" > /dev/null
		grep -q '^ok' $R && ok "$ph: bench_cpu" || not_ok "$ph: bench_cpu"
		rmmod vpv_selftest
		insmod "$(mod vpv_selftest)" tests=none bench=1 iters=$iters
		grep -q '^ok' $R && ok "$ph: bench" || not_ok "$ph: bench"
		sed -n "s/^# bench: /# bench $ph: /p" $R
		rmmod vpv_selftest
	done
done
host hc "$G" poll_us 0 > /dev/null
echo "PVKIT-BENCH-END"
grep -E '^(doorbells_skipped|echoes|hypercalls) ' /sys/kernel/debug/vhypercall/stats | sed 's/^/# /'
check "rmmod vhypercall" rmmod vhypercall
done_testing
