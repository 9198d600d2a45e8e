# SPDX-License-Identifier: GPL-2.0
# Remove another guest while this one runs: "vpv-ctl guest remove"
# through the host agent.  The other guest (PVKIT_REMOVE, default
# "hostile") has finished its scripts and waits to be removed (init's
# PVKIT_STAY) after writing "ready" to /pvkit-test/NAME in the store.
# The stub must answer at once (it no longer waits for QEMU to exit),
# forget the guest, and its fd count must drop by exactly the fds the
# guest held, and stay there once QEMU is reaped (SIGKILL after 2 s if
# it ignores SIGTERM).  This guest's hypercalls keep working (the
# hypercall tests run again after this script); the harness checks the
# stub's log for sanitizer reports and for the reaped QEMU.
. /tests/lib.sh
V=${PVKIT_REMOVE:-hostile}
ready() { host store read "/pvkit-test/$V" | grep -q ready; }
# the stub's open fds, not counting activity samples in flight; the
# same figure twice in a row (the activity worker opens smaps and
# clear_refs for a few ms, which a single reading may catch)
stub_fds() {
	p=
	for t in 1 2 3 4 5; do
		r=$(host stats | sed 's/"guests":.*//')
		f=$(echo "$r" | jget fds)
		a=$(echo "$r" | jget activity_fds)
		[ -n "$f" ] && [ -n "$a" ] || continue
		v=$((f - a))
		[ "$v" = "$p" ] && break
		p=$v
	done
	echo "$p"
}
listed() { host list | grep -q "\"name\":\"$V\""; }
gone() { host stats "$V" | grep -q '"error"'; }
gone_again() { host guest remove "$V" | grep -q '"error"'; }
served() { host stats "$(guest_name)" | grep -q '"hypercalls"'; }

check "$V finished its scripts and waits to be removed" wait_until 500 ready
check "$V is listed" listed
gf=$(hstat "$V" fds)
f0=$(stub_fds)
echo "# stub fds ${f0:-?}, of them $V's ${gf:-?}"
check "the stub counts $V's fds" test "${gf:-0}" -gt 0
check "guest remove $V" host_ok guest remove "$V"
check_fails "$V no longer listed" listed
check "stats refuses $V" gone
want=$((${f0:-0} - ${gf:-0}))
fds_back() { [ "$(stub_fds)" = "$want" ]; }
check "stub fds down by $V's (${f0:-?} - ${gf:-?} = $want)" wait_until 10 fds_back
sleep 4		# past the SIGKILL deadline: QEMU is reaped by now
f1=$(stub_fds)
check "... and still so once its QEMU is gone (${f1:-?})" test "${f1:-x}" = "$want"
check "removing $V again: refused" gone_again
check "this guest is still served" served
done_testing
