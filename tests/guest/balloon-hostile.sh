# SPDX-License-Identifier: GPL-2.0
# A hostile balloon against the real host stub: vpv_memhostile sends
# malformed VPV_HC_MEMORY_OP calls and checks each documented error and
# that a refused call changed nothing.  Afterwards the host's P2M must
# be as before (nothing leaked), the host must have counted the
# refusals, and the real balloon must still work.
. /tests/lib.sh
R=/sys/kernel/debug/vpv_memhostile/results

check "insmod vhypercall" insmod "$(mod vhypercall)"
G=$(guest_name)
inval0=$(hstat "$G" p2m_invalid_pages)
err0=$(hstat "$G" memop_errors)
check "host knows guest $G (p2m_invalid_pages ${inval0:-?}, memop_errors ${err0:-?})" \
	test -n "$inval0" -a -n "$err0"

check "insmod vpv_memhostile" insmod "$(mod vpv_memhostile)"
if [ -r $R ]; then
	forward_tap $R
	skips=$(grep -c '^ok .*# SKIP' $R)
	[ "$skips" -gt 0 ] && echo "# vpv_memhostile: $skips test(s) skipped"
else
	not_ok "vpv_memhostile results present"
fi
check "rmmod vpv_memhostile" rmmod vpv_memhostile

inval1=$(hstat "$G" p2m_invalid_pages)
err1=$(hstat "$G" memop_errors)
echo "# host: p2m_invalid_pages $inval0 -> $inval1, memop_errors $err0 -> $err1"
check "host P2M as before the hostile balloon ($inval0 invalid pages)" \
	test "$inval1" -eq "$inval0"
check "host counted the refused memory ops" test "$err1" -gt "$err0"

# the real balloon still works after the hostile one
check "insmod vballoon" insmod "$(mod vballoon)"
check "host sets target 256M" host_ok balloon "$G" 256M
want=65536
reached() { [ "$(vbstat balloon_pages)" -ge "$want" ]; }
check "balloon reaches $want pages" wait_until 60 reached
echo "# balloon $(vbstat balloon_pages) pages"
check "host hands the target back (auto)" host_ok balloon "$G" auto
check "rmmod vballoon" rmmod vballoon
check "rmmod vhypercall" rmmod vhypercall
done_testing
