# SPDX-License-Identifier: GPL-2.0
# A hostile guest against the real host stub: vpv_hostile sends every
# malformed hypercall and scribbles over the shared region, then checks
# that the host still serves it.  After reloading the platform driver
# (a new session) vpv_selftest must pass too: the guest recovered.
# Skipped module tests stay "ok ... # SKIP reason" (forward_tap keeps
# the directive) and are counted below so the log says so.
. /tests/lib.sh
H=/sys/kernel/debug/vpv_hostile/results
R=/sys/kernel/debug/vpv_selftest/results

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vpv_hostile" insmod "$(mod vpv_hostile)"
if [ -r $H ]; then
	forward_tap $H
	skips=$(grep -c '^ok .*# SKIP' $H)
	[ "$skips" -gt 0 ] && echo "# vpv_hostile: $skips test(s) skipped"
else
	not_ok "vpv_hostile results present"
fi
check "rmmod vpv_hostile" rmmod vpv_hostile
check "rmmod vhypercall" rmmod vhypercall
check_fails "vhypercall gone from /proc/modules" loaded vhypercall

# renegotiation: the same guest, a fresh driver instance
check "insmod vhypercall again" insmod "$(mod vhypercall)"
check "insmod vpv_selftest after the hostile run" insmod "$(mod vpv_selftest)"
if [ -r $R ]; then
	forward_tap $R
else
	not_ok "vpv_selftest results present"
fi
check "rmmod vpv_selftest" rmmod vpv_selftest
check "rmmod vhypercall" rmmod vhypercall
done_testing
