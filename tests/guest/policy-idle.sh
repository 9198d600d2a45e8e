# SPDX-License-Identifier: GPL-2.0
# Memory policy, the idle guest and checker.  Two 512 MiB guests share a
# 700 MiB budget; the stub sets their targets by min-funding revocation
# with the idle memory tax.  At tau = 0.75 the idle guest must give up
# clearly more than the active one; at tau = 0 they split evenly.
# The host samples each guest's activity itself (QEMU's referenced
# bits): its figure must tell idle from active, and with PVKIT_LIE=1
# this guest claims to be fully active (vballoon fake_active_ppm) and
# must be taxed all the same.
. /tests/lib.sh
M=1048576
check "insmod vhypercall" insmod "$(mod vhypercall)"
if [ "$PVKIT_LIE" = 1 ]; then
	check "insmod vballoon, lying: f = 1" \
		insmod "$(mod vballoon)" fake_active_ppm=1000000
else
	check "insmod vballoon" insmod "$(mod vballoon)"
fi
p0=$(hstat idle memop_polls)
budget=$(hoststat host_mem_pages)
overcommitted() { host stats | grep -q '"overcommitted":true'; }
check "the host is overcommitted (budget $((budget / 256)) MiB)" overcommitted
# (not "d": check() keeps its description there)
near() { nd=$(($1 - $2)); [ ${nd#-} -le "$3" ]; }
converged() {
	ti=$(hstat idle target_pages); bi=$(hstat idle balloon_pages_guest)
	ta=$(hstat active target_pages); ba=$(hstat active balloon_pages_guest)
	fa=$(hstat active active_ppm)
	[ -n "$ti" ] && [ -n "$ta" ] && [ -n "$fa" ] || return 1
	# the active guest's working set is hot, both balloons at target
	[ "$fa" -gt 300000 ] && near "$ti" "$bi" 512 && near "$ta" "$ba" 512
}
# the host's figures: the idle guest well below the active one.  Asked
# every 5 s only: each question runs a few processes here, which is
# activity the host sees.
# The active guest's latest sample must show it too, not only the
# average: that still carries the spike of writing the working set.
separated() {
	hi=$(hstat idle host_active_ppm); ha=$(hstat active host_active_ppm)
	hl=$(hstat active host_last_ppm)
	[ -n "$hi" ] && [ -n "$ha" ] && [ -n "$hl" ] &&
		[ "$hi" -lt 150000 ] && [ "$hl" -gt $((hi + 100000)) ] &&
		[ "$ha" -gt $((2 * hi)) ] && [ "$ha" -gt $((hi + 100000)) ]
}
wait_5s() {
	t=$1; shift
	while [ "$t" -gt 0 ] && ! "$@"; do sleep 5; t=$((t - 5)); done
	"$@"
}
check "host-measured activity separates idle from active" \
	wait_5s 180 separated
echo "# host: idle f=$(hstat idle host_active_ppm)ppm, active f=$(hstat active host_active_ppm)ppm; guests say idle $(hstat idle guest_active_ppm), active $(hstat active guest_active_ppm)"
if [ "$PVKIT_LIE" = 1 ]; then
	check "the lying guest claims f = 1" \
		test "$(hstat idle guest_active_ppm)" = 1000000
fi
# from one answer: the host's figure may change between two
taxed_on_host() {
	r=$(host stats idle | sed 's/.*"guests":\[//')
	p=$(echo "$r" | jget policy_active_ppm)
	[ -n "$p" ] && [ "$p" = "$(echo "$r" | jget host_active_ppm)" ]
}
check "the idle tax uses the host's figures" taxed_on_host
check "both balloons converge to the policy's targets" wait_until 120 converged
# Bounded in polls, not only in seconds: from its balloon's first poll
# the idle guest must have given its memory to the active one within
# 150 of them (one a second): the host's activity average needs a
# minute or so to tell idle from active (28 to 60 s here), the balloons
# then move at their inflate rate.
p1=$(hstat idle memop_polls)
check "... within 150 polls of the idle guest's first ($((p1 - p0)))" \
	test $((p1 - p0)) -le 150
# And stay put: the targets are recomputed every second from activity
# figures that move with every sample; the policy's deadband keeps
# them unless the split really changes, so over 60 s, sampled every
# 5 s, neither target may change more than once (a move and a move
# back is an oscillation), and the balloons follow them.
li=$(hstat idle target_pages); la=$(hstat active target_pages)
lo_i=$li; hi_i=$li; lo_a=$la; hi_a=$la
ci=0; ca=0; off=0
for s in 1 2 3 4 5 6 7 8 9 10 11 12; do
	sleep 5
	ti=$(hstat idle target_pages); ta=$(hstat active target_pages)
	[ "$ti" != "$li" ] && ci=$((ci + 1)); li=$ti
	[ "$ta" != "$la" ] && ca=$((ca + 1)); la=$ta
	[ "$ti" -lt "$lo_i" ] && lo_i=$ti; [ "$ti" -gt "$hi_i" ] && hi_i=$ti
	[ "$ta" -lt "$lo_a" ] && lo_a=$ta; [ "$ta" -gt "$hi_a" ] && hi_a=$ta
	converged || off=$((off + 1))
done
echo "# 60 s: idle target $lo_i..$hi_i pages ($ci changes), active $lo_a..$hi_a pages ($ca changes), $off of 12 samples off target"
check "targets stay put over 60 s (idle changed $ci, active $ca times)" \
	test "$ci" -le 1 -a "$ca" -le 1
# (after a change a balloon takes a sample or two to get there)
check "balloons stay at their targets over 60 s ($off of 12 samples off)" \
	test "$off" -le 2
mi=$(hstat idle target_mem_bytes)
ma=$(hstat active target_mem_bytes)
fi_=$(hstat idle policy_active_ppm)
fa=$(hstat active policy_active_ppm)
echo "# tau $PVKIT_TAU: idle f=${fi_}ppm target $((mi / M)) MiB; active f=${fa}ppm target $((ma / M)) MiB"
pop=$(hoststat populated_pages)
check "populated frames within the budget ($pop <= $budget)" \
	test "$pop" -le "$budget"
check "targets add up to the budget" near $(((mi + ma) / 4096)) "$budget" 512
if [ "$PVKIT_TAU" = 0 ]; then
	check "tau 0: idle and active get the same memory" \
		near "$mi" "$ma" $((8 * M))
else
	check "tau $PVKIT_TAU: the idle guest gives up >= 64 MiB more" \
		test $((ma - mi)) -ge $((64 * M))
fi
# tell the active guest we are done: a manual target of our full RAM
check "signal the active guest" host_ok balloon idle 512M
check "rmmod vballoon" rmmod vballoon
check "rmmod vhypercall" rmmod vhypercall
done_testing
