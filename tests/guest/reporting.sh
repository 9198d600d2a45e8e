# SPDX-License-Identifier: GPL-2.0
# Free page reporting (the UML /dev/anon point): memory the guest frees
# goes back to the host without ballooning.
. /tests/lib.sh
M=1048576
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vballoon" insmod "$(mod vballoon)"
check "page reporting registered" test "$(vbstat page_reporting)" -eq 1
G=$(guest_name)
sleep 3		# the first reports of what was free at load time
avail_mb=$(($(meminfo_kb MemAvailable) / 1024))
use=$((avail_mb - 48))
# the host's count before the memory is freed: on the debug kernel the
# reports can be done before a second agent round trip after dd ends
r0=$(hstat "$G" memop_reported_bytes)
# touch and free $use MiB; measure the file while it is still in use
dd if=/dev/zero of=/dev/null bs=${use}M count=1 2>/dev/null &
pid=$!
sleep 1
wait $pid
occ0=$(hstat "$G" ram_file_bytes)
echo "# freed ${use} MiB; file occupies $((occ0 / M)) MiB"
dropped() {
	occ=$(hstat "$G" ram_file_bytes)
	[ $((occ0 - occ)) -ge $((use * M / 2)) ]
}
check "host file occupancy falls by half the freed memory within 30 s" \
	wait_until 30 dropped
occ1=$(hstat "$G" ram_file_bytes)
r1=$(hstat "$G" memop_reported_bytes)
echo "# file $((occ1 / M)) MiB: $(((occ0 - occ1) / M)) MiB returned; host counted $(((r1 - r0) / M)) MiB reported"
check "host counted the reports" test "$r1" -gt "$r0"
check "guest counted the reports ($(vbstat reported_ranges) ranges)" \
	test "$(vbstat reported_ranges)" -gt 0
check "the reported memory is usable again" fill_mem $use
check "host P2M still fully populated" test "$(hstat "$G" p2m_invalid_pages)" -eq 0
check "rmmod vballoon" rmmod vballoon
check "rmmod vhypercall" rmmod vhypercall
done_testing
