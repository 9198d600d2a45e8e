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
# the counters moved: hypercalls were made and events came back
hc=$(awk '$1 == "hypercalls" {print $2}' $S)
ev=$(awk '$1 == "events_received" {print $2}' $S)
check "hypercall counter counted ($hc)" test "${hc:-0}" -gt 1000
check "event counter counted ($ev)" test "${ev:-0}" -gt 0
sed 's/^/# /' $S
check "rmmod vhypercall" rmmod vhypercall
done_testing
