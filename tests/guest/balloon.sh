# SPDX-License-Identifier: GPL-2.0
# vballoon against the real host: a target of half the RAM is reached
# and the host really gets the ballooned memory back (its RAM file
# shrinks by the ballooned bytes, no punched page stays resident), with
# 4 KiB pages only (use_2m=0) and with 2 MiB extents; the memory comes
# back and is usable; allocating beyond what is left deflates instead of
# OOM-killing; unloading returns every page.
. /tests/lib.sh
M=1048576
check "insmod vhypercall" insmod "$(mod vhypercall)"
G=$(guest_name)
ram=$(hstat "$G" ram_pages)
# other scripts (the PV MMU's) provoke memop errors on purpose: count ours
err0=$(hstat "$G" memop_errors)
check "host knows guest $G (${ram:-?} pages)" test -n "$ram"
ram_mb=$((ram / 256))
avail_mb=$(($(meminfo_kb MemAvailable) / 1024))
want=$((ram / 2))
reached() { [ "$(vbstat balloon_pages)" -ge "$want" ]; }
empty() { [ "$(vbstat balloon_pages)" -eq 0 ]; }

# half_ram MODE: 1. balloon half the RAM, 2. hand it back
half_ram() {
	# touch all the memory the guest can spare so the RAM file is
	# populated (a page never touched costs the host nothing anyway)
	fill_mem $((avail_mb - 16))
	occ0=$(hstat "$G" ram_file_bytes)
	unrec0=$(hstat "$G" memop_unreclaimed_pages)
	echo "# $1: RAM ${ram_mb} MiB, available ${avail_mb} MiB, file occupies $((occ0 / M)) MiB"
	check "$1: host sets target $((ram_mb / 2))M" host_ok balloon "$G" $((ram_mb / 2))M
	check "$1: balloon reaches $want pages" wait_until 90 reached
	bp=$(vbstat balloon_pages)
	n2m=$(vbstat pages_2m)
	occ1=$(hstat "$G" ram_file_bytes)
	inval=$(hstat "$G" p2m_invalid_pages)
	unrec=$(($(hstat "$G" memop_unreclaimed_pages) - unrec0))
	freed=$((occ0 - occ1))
	echo "# $1: balloon $bp pages ($((bp / 256)) MiB, $n2m x 2M); file $((occ1 / M)) MiB: $((freed / M)) MiB freed; $unrec punched pages still resident"
	check "$1: host P2M has the ballooned pages invalid ($inval)" test "$inval" -eq "$bp"
	check "$1: host file occupancy fell by >= 90% of the ballooned bytes" \
		test $((freed * 10)) -ge $((bp * 4096 * 9))
	check "$1: every punched page left the host (unreclaimed $unrec)" \
		test "$unrec" -eq 0
	check "$1: host hands the target back (auto)" host_ok balloon "$G" auto
	check "$1: balloon deflates to 0" wait_until 60 empty
	check "$1: host P2M fully populated again" \
		test "$(hstat "$G" p2m_invalid_pages)" -eq 0
}

# no free page reporting here: it would return the freed pages itself
check "insmod vballoon use_2m=0 page_reporting=0" \
	insmod "$(mod vballoon)" use_2m=0 page_reporting=0
half_ram 4K
check "4K: no 2 MiB extent used" test "$n2m" -eq 0
check "rmmod vballoon (4K)" rmmod vballoon
check "insmod vballoon page_reporting=0" insmod "$(mod vballoon)" page_reporting=0
half_ram 2M
check "2M: 2 MiB extents used ($n2m)" test "$n2m" -gt 0
use=$((avail_mb - 48))
check "guest allocates and fills ${use} MiB after deflating" fill_mem $use

# 3. deflate on OOM: balloon all but 96 MiB of what the guest could
# spare, then allocate 64 MiB more than is left
take=$(($(meminfo_kb MemAvailable) / 1024 - 96))
check "host sets target $((ram_mb - take))M" host_ok balloon "$G" $((ram_mb - take))M
want=$((take * 256))
check "balloon reaches $want pages" wait_until 60 reached
oom0=$(awk '$1 == "oom_kill" {print $2}' /proc/vmstat)
big=$(($(meminfo_kb MemAvailable) / 1024 + 64))
check "a ${big} MiB allocation succeeds (more than is left)" \
	dd if=/dev/zero of=/dev/null bs=${big}M count=1
oom1=$(awk '$1 == "oom_kill" {print $2}' /proc/vmstat)
check "no OOM kill ($oom0 -> $oom1)" test "$oom1" -eq "$oom0"
check "vballoon deflated on OOM ($(vbstat oom_deflated_pages) pages)" \
	test "$(vbstat oom_deflated_pages)" -gt 0

# 4. unload returns every page
check "rmmod vballoon" rmmod vballoon
check "host P2M fully populated after unload" test "$(hstat "$G" p2m_invalid_pages)" -eq 0
check "host sees no memop errors" test "$(hstat "$G" memop_errors)" -eq "${err0:-0}"
host_ok balloon "$G" auto
check "rmmod vhypercall" rmmod vhypercall
done_testing
