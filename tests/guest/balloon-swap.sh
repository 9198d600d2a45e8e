# SPDX-License-Identifier: GPL-2.0
# Balloon-driven paging (issue 16, deliverable 1): a guest with swap on
# a vblkfront disk survives its balloon inflated to 80% of its RAM while
# stress-ng --vm keeps a verified working set larger than what the
# balloon leaves: the balloon pushes the workload out to swap instead of
# OOM-killing it, and when the host gives the memory back the workload
# pages back in.
#  - a 256 MiB image on the host as vbd 9, mkswap + swapon on /dev/pvdX
#  - stress-ng --vm 1 --vm-keep --verify on W MiB (W = MemAvailable
#    minus the balloon, plus 64 MiB, at least 64 MiB: on a 512 MiB
#    guest the balloon takes more than MemAvailable, so W is 64 MiB and
#    all of it has to fit beside the kernel and the initramfs), started
#    before the balloon inflates so that its pages are resident when
#    the balloon needs them
#  - the host sets the target: the balloon holds 80% of the guest's RAM;
#    it must get there within INFLATE_S seconds (within 1%: the 2 MiB
#    rounding of a fragmented guest), with no OOM kill and without the
#    OOM notifier (with swap the guest must page, not deflate), and the
#    guest must have swapped (pswpout, the workload's VmSwap)
#  - the host gives the memory back (the balloon deflates to 0); the
#    working set comes back in (pswpin moves, the workload's VmSwap
#    falls below an eighth of what it was)
#  - stress-ng then stops (SIGINT: a clean end) and must exit 0: its
#    --verify found every word as written, through swap out and in
# pvkit-programs: stress-ng util-linux:mkswap mount:swapon mount:swapoff
. /tests/lib.sh
INFLATE_S=${BSWAP_INFLATE_S:-90}
SWAP_MB=256
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vblkfront" insmod "$(mod vblkfront)"
check "insmod vballoon" insmod "$(mod vballoon)"
G=$(guest_name)
ram=$(hstat "$G" ram_pages)
check "host knows guest $G (${ram:-?} pages)" test -n "$ram"
need "$ram" "the guest's RAM size"
ram_mb=$((ram / 256))

vmstat() { awk -v k="$1" '$1 == k {print $2}' /proc/vmstat; }
# the swapped-out part of every process, KiB (VmSwap: swap entries in
# its page tables, so it falls as pages come back in, whatever stays
# in the swap cache)
vmswap_kb() { cat /proc/[0-9]*/status 2>/dev/null | awk '$1 == "VmSwap:" {s += $2} END {print s + 0}'; }

# 1. swap on a vblkfront disk
I=$(img_create swap ${SWAP_MB}M)
check "host creates a ${SWAP_MB} MiB image" test -n "$I"
# vbd 9: the scripts after this one in the same guest add their own
# vbd 0 (this one is removed at the end, and must be)
check "host device add vbd 9 --image" host_ok device add "$G" vbd 9 --image "$I"
check "vbd-9's disk appears" wait_until 30 blkdev 9
D=$(blkdev 9)
need "$D" "vbd 9's disk"
check "mkswap $D" mkswap "$D"
check "swapon $D" swapon "$D"
check "swap is on ($(meminfo_kb SwapTotal) KiB)" test "$(meminfo_kb SwapTotal)" -gt 0

# 2. the working set
bal=$((ram * 8 / 10))			# the balloon: 80% of the RAM
bal_mb=$((bal / 256))
left_mb=$(($(meminfo_kb MemAvailable) / 1024 - bal_mb))
W=$((left_mb + 64))
[ "$W" -ge 64 ] || W=64
echo "# RAM $ram_mb MiB, available $(($(meminfo_kb MemAvailable) / 1024)) MiB; a balloon of $bal_mb MiB leaves $left_mb MiB of it; working set $W MiB"
cd /tmp
oom0=$(vmstat oom_kill)
od0=$(vbstat oom_deflates)
out0=$(vmstat pswpout)
in0=$(vmstat pswpin)
af0=$(vbstat alloc_failures)
rm -f sng.out
stress-ng --vm 1 --vm-bytes ${W}M --vm-keep --vm-method move-inv --verify \
	--timeout 600s --metrics-brief > sng.out 2>&1 &
sng=$!
rss_kb() { cat /proc/[0-9]*/status 2>/dev/null | awk '$1 == "Name:" {n = $2} $1 == "VmRSS:" && n == "stress-ng-vm" {s += $2} END {print s + 0}'; }
populated() { [ "$(rss_kb)" -ge $((W * 1024 * 9 / 10)) ]; }
check "stress-ng maps its $W MiB" wait_until 60 populated

# 3. the balloon to 80%: the guest pages out
reached() { [ "$(vbstat balloon_pages)" -ge $((bal * 99 / 100)) ]; }
t0=$(t_cs)
check "host sets target $((ram_mb - bal_mb))M" host_ok balloon "$G" $((ram_mb - bal_mb))M
check "balloon reaches $bal pages (80%) within ${INFLATE_S}s" wait_until $INFLATE_S reached
t=$(($(t_cs) - t0))
bp=$(vbstat balloon_pages)
sw=$(vmswap_kb)
out1=$(vmstat pswpout)
echo "# balloon $bp pages ($((bp / 256)) MiB) after $((t / 100)).$((t / 10 % 10))s; pswpout +$((out1 - out0)), VmSwap $((sw / 1024)) MiB, alloc_failures +$(($(vbstat alloc_failures) - af0)), reclaim_allocs $(vbstat reclaim_allocs)"
av=$(($(meminfo_kb MemAvailable) / 1024))
check "the working set ($W MiB) exceeds what the balloon left (MemAvailable $av MiB)" \
	test "$W" -gt "$av"
check "the guest swapped out (pswpout +$((out1 - out0)))" test "$out1" -gt "$out0"
check "the workload is partly in swap (VmSwap $((sw / 1024)) MiB)" test "$sw" -gt 0
# the workload keeps running with 80% ballooned for a while
sleep 10
check "stress-ng still runs" kill -0 $sng
check "no OOM kill ($oom0 -> $(vmstat oom_kill))" test "$(vmstat oom_kill)" -eq "$oom0"
check "no OOM deflation (the guest paged instead: $(($(vbstat oom_deflates) - od0)))" \
	test "$(vbstat oom_deflates)" -eq "$od0"

# 4. the host gives the memory back: the working set pages back in
sw1=$(vmswap_kb)
in1=$(vmstat pswpin)
empty() { [ "$(vbstat balloon_pages)" -eq 0 ]; }
check "host sets the target back to the full RAM" host_ok balloon "$G" ${ram_mb}M
check "balloon deflates to 0" wait_until 60 empty
back() { [ "$(vmswap_kb)" -le $((sw1 / 8)) ]; }
check "the working set comes back in (VmSwap $((sw1 / 1024)) MiB -> <= $((sw1 / 8192)) MiB)" \
	wait_until 60 back
in2=$(vmstat pswpin)
echo "# after deflating: pswpin +$((in2 - in1)), VmSwap $(($(vmswap_kb) / 1024)) MiB"
check "pswpin moved (+$((in2 - in1)))" test "$in2" -gt "$in1"

# 5. stress-ng ends cleanly: every verify passed
kill -INT $sng
wait $sng
rc=$?
sed 's/^/# /' sng.out | tail -n 6
check "stress-ng --verify exits 0 ($rc)" test "$rc" -eq 0
check "stress-ng completed its run" grep -q 'successful run completed' sng.out
check "stress-ng reports no failure" sh -c "! grep -q ' fail: ' sng.out"
check "no OOM kill at all ($oom0 -> $(vmstat oom_kill))" test "$(vmstat oom_kill)" -eq "$oom0"

check "swapoff $D" swapoff "$D"
no_disk() { ! blkdev 9 >/dev/null; }
check "host removes vbd 9" host_ok device remove "$G" vbd/9
check "vbd-9's disk goes" wait_until 30 no_disk
host_ok balloon "$G" auto
check "rmmod vballoon" rmmod vballoon
check "host P2M fully populated after unload" test "$(hstat "$G" p2m_invalid_pages)" -eq 0
check "rmmod vblkfront" rmmod vblkfront
check "rmmod vhypercall" rmmod vhypercall
done_testing
