# SPDX-License-Identifier: GPL-2.0
# Memory policy, the idle guest and checker.  Two 512 MiB guests share a
# 700 MiB budget; the stub sets their targets by min-funding revocation
# with the idle memory tax.  At tau = 0.75 the idle guest must give up
# clearly more than the active one; at tau = 0 they split evenly.
. /tests/lib.sh
M=1048576
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vballoon" insmod "$(mod vballoon)"
budget=$(hoststat host_mem_pages)
overcommitted() { host stats | grep -q '"overcommitted":true'; }
check "the host is overcommitted (budget $((budget / 256)) MiB)" overcommitted
near() { d=$(($1 - $2)); [ ${d#-} -le "$3" ]; }
converged() {
	ti=$(hstat idle target_pages); bi=$(hstat idle balloon_pages_guest)
	ta=$(hstat active target_pages); ba=$(hstat active balloon_pages_guest)
	fa=$(hstat active active_ppm)
	[ -n "$ti" ] && [ -n "$ta" ] && [ -n "$fa" ] || return 1
	# the active guest's working set is hot, both balloons at target
	[ "$fa" -gt 300000 ] && near "$ti" "$bi" 512 && near "$ta" "$ba" 512
}
check "both balloons converge to the policy's targets" wait_until 120 converged
mi=$(hstat idle target_mem_bytes)
ma=$(hstat active target_mem_bytes)
fi_=$(hstat idle active_ppm)
fa=$(hstat active active_ppm)
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
