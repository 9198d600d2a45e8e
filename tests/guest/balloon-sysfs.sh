# SPDX-License-Identifier: GPL-2.0
# vballoon's sysfs files (/sys/devices/system/vballoon/vballoon0, laid
# out as Xen's xen_memory0): they exist read-only, follow the host's
# "vpv-ctl balloon GUEST SIZE" up and back down, and agree with the
# numbers in debugfs; unloading removes them.
. /tests/lib.sh
S=/sys/devices/system/vballoon/vballoon0
check "insmod vhypercall" insmod "$(mod vhypercall)"
G=$(guest_name)
ram=$(hstat "$G" ram_pages)
check "host knows guest $G (${ram:-?} pages)" test -n "$ram"
ram_mb=$((ram / 256))
check "insmod vballoon page_reporting=0" insmod "$(mod vballoon)" page_reporting=0
check "sysfs directory $S" test -d "$S"
for f in target_kb target info/current_kb info/pages_4k info/pages_2m \
	stats/inflated_pages_total stats/deflated_pages_total \
	stats/alloc_failures stats/hypercall_failures stats/polls \
	stats/oom_deflates stats/oom_deflated_pages stats/reported_ranges \
	stats/reported_bytes stats/report_failures stats/migrations \
	stats/migration_failures stats/reclaim_allocs stats/reclaim_limited \
	stats/slow_polls; do
	check "$f is a read-only number" \
		sh -c "[ \"\$(stat -c %a $S/$f)\" = 444 ] && grep -qx '[0-9][0-9]*' $S/$f"
done

sy() { cat "$S/$1"; }

# agree FIELD_SYSFS FIELD_DEBUGFS SCALE: sysfs value = debugfs value * SCALE
agree() {
	a=$(sy "$1")
	b=$(vbstat "$2")
	echo "$1=$a $2=$b"
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -eq $((b * $3)) ]
}

# the counters that do not move while the balloon is at its target
# (polls does, once a period, and slow_polls for the few polls after
# free memory ran out: compared as non-decreasing instead)
agree_all() {
	agree target_kb target_pages 4 || return 1
	agree target target_pages 4096 || return 1
	agree info/current_kb balloon_pages 4 || return 1
	agree info/pages_4k pages_4k 1 || return 1
	agree info/pages_2m pages_2m 1 || return 1
	for c in inflated_pages_total deflated_pages_total alloc_failures \
		hypercall_failures oom_deflates oom_deflated_pages \
		reported_ranges reported_bytes report_failures migrations \
		migration_failures reclaim_allocs reclaim_limited; do
		agree stats/$c $c 1 || return 1
	done
	for c in polls slow_polls; do
		p0=$(sy stats/$c)
		p1=$(vbstat $c)
		echo "$c sysfs $p0 debugfs $p1"
		[ "$p0" -le "$p1" ] || return 1
	done
}

settled() {
	sy_t=$(sy target_kb)
	[ "$sy_t" -eq "$1" ] && [ "$(sy info/current_kb)" -eq "$sy_t" ]
}

# set_size MIB: "vpv-ctl balloon GUEST MIBM"; want_kb is the balloon
# the host then asks for (its answer's target_pages, in KiB)
set_size() {
	r=$(host balloon "$G" "$1"M) || return 1
	case "$r" in *'"error"'*) echo "# $r"; return 1 ;; esac
	want_kb=$(($(echo "$r" | jget target_pages) * 4))
}

# leave the guest 3/4 of its RAM: a balloon of a quarter
set_size $((ram_mb * 3 / 4))
check "host sets the guest's size to $((ram_mb * 3 / 4))M (balloon $want_kb KiB)" \
	test "$want_kb" -gt 0
check "target_kb and current_kb reach $want_kb" wait_until 90 settled $want_kb
check "sysfs agrees with debugfs at $want_kb KiB" agree_all
inf=$(sy stats/inflated_pages_total)
check "stats/inflated_pages_total counts the inflation ($inf pages)" \
	test "$inf" -ge $((want_kb / 4))
old_kb=$want_kb
set_size $((ram_mb * 7 / 8))
check "host raises the guest's size to $((ram_mb * 7 / 8))M (balloon $want_kb KiB)" \
	test "$want_kb" -lt "$old_kb"
check "target_kb and current_kb follow down to $want_kb" wait_until 90 settled $want_kb
check "sysfs agrees with debugfs at $want_kb KiB" agree_all
check "stats/deflated_pages_total counts the deflation" \
	test "$(sy stats/deflated_pages_total)" -ge $(((old_kb - want_kb) / 4))
check "writing target_kb is refused" \
	sh -c "! echo 0 > $S/target_kb"
check "host hands the target back (auto)" host_ok balloon "$G" auto
check "current_kb back to 0" wait_until 60 settled 0
check "sysfs agrees with debugfs empty" agree_all
check "rmmod vballoon" rmmod vballoon
check "sysfs directory gone after unload" test ! -e "$S"
check "system/vballoon gone after unload" test ! -e /sys/devices/system/vballoon
check "insmod vballoon again (names free)" insmod "$(mod vballoon)" page_reporting=0
check "sysfs directory back" test -d "$S"
check "rmmod vballoon" rmmod vballoon
check "rmmod vhypercall" rmmod vhypercall
done_testing
