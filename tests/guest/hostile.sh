# SPDX-License-Identifier: GPL-2.0
# A hostile guest against the real host stub: vpv_hostile sends every
# malformed hypercall and scribbles over the shared region, then checks
# that the host still serves it.  It also attacks the split-driver
# platform: bogus grant copies (also from and into the other guests'
# grants: pass their domids), oversized store requests, the store's
# limits, a watch event flood, and finally the store ring by hand,
# which leaves this guest's store broken until vhypercall is reloaded.
# After reloading the platform driver (a new session) vpv_selftest
# must pass and the store must work again: the guest recovered.
# Skipped module tests stay "ok ... # SKIP reason" (forward_tap keeps
# the directive) and are counted below so the log says so.
. /tests/lib.sh
H=/sys/kernel/debug/vpv_hostile/results
R=/sys/kernel/debug/vpv_selftest/results
S=/sys/kernel/debug/vpv_splittest/store

G=$(guest_name)
# every guest with a home in the store (vpv_hostile skips its own)
doms=$(host store ls /local/domain | sed -n 's/.*"children":\[\([^]]*\)\].*/\1/p' |
	tr -d '"')
echo "# guest $G; domids in the store: ${doms:-none}"
# other guests besides the host (0) and us: attack their grants while
# one of them runs a vloop device
others=$(echo "$doms" | tr ',' '\n' | grep -c .)
vloop_up() { host device list | grep -q '"type":"vloop"'; }
if [ "$others" -gt 2 ]; then
	wait_until 120 vloop_up && echo "# a vloop device is up"
	vms=8000
fi
pe0=$(hstat "$G" store_protocol_errors)
wd0=$(hstat "$G" store_watch_dropped)

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vpv_hostile" insmod "$(mod vpv_hostile)" ${doms:+victims=$doms} \
	${vms:+victim_ms=$vms}
if [ -r $H ]; then
	forward_tap $H
	skips=$(grep -c '^ok .*# SKIP' $H)
	[ "$skips" -gt 0 ] && echo "# vpv_hostile: $skips test(s) skipped"
else
	not_ok "vpv_hostile results present"
fi
pe1=$(hstat "$G" store_protocol_errors)
wd1=$(hstat "$G" store_watch_dropped)
check "host counted the store ring abuse (store_protocol_errors ${pe0:-?} -> ${pe1:-?})" \
	test "${pe1:-0}" -gt "${pe0:-0}"
check "host dropped watch events in the flood (store_watch_dropped ${wd0:-?} -> ${wd1:-?})" \
	test "${wd1:-0}" -gt "${wd0:-0}"
listed() { host list | grep -q "\"name\":\"$G\""; }
check "host still lists $G" listed
check "rmmod vpv_hostile" rmmod vpv_hostile
check "rmmod vhypercall" rmmod vhypercall
check_fails "vhypercall gone from /proc/modules" loaded vhypercall

# renegotiation: the same guest, a fresh driver instance
check "insmod vhypercall again" insmod "$(mod vhypercall)"
# the store reconnected: what vpv_hostile wrote before breaking it is there
check "insmod vpv_splittest (store access)" insmod "$(mod vpv_splittest)"
st() { echo "$*" > $S; cat $S; }
st_is() { want=$1; shift; r=$(st "$@"); [ "$r" = "$want" ] || { echo "# got: $r"; return 1; }; }
check "store read after the reload" st_is "OK r4w" read hostile/raw
check "store write after the reload" st_is OK write hostile/raw again
check "store read back" st_is "OK again" read hostile/raw
check "rmmod vpv_splittest" rmmod vpv_splittest
check "insmod vpv_selftest after the hostile run" insmod "$(mod vpv_selftest)"
if [ -r $R ]; then
	forward_tap $R
else
	not_ok "vpv_selftest results present"
fi
check "rmmod vpv_selftest" rmmod vpv_selftest
check "rmmod vhypercall" rmmod vhypercall
done_testing
