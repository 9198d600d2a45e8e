# SPDX-License-Identifier: GPL-2.0
# pvkit-programs: stress-ng
# The OOM hold's backoff, then stress-ng's vm stressor against an
# inflated balloon under sustained pressure.
#
# First the driver's backoff, deterministically, through the debugfs
# "oom" file (it deflates exactly as the OOM notifier does): an OOM
# deflation soon after a hold ended must double the next hold.
#
# Then eight workers map, write and unmap 24 MiB more than the balloon
# leaves, over and over, for RUN_S seconds.  Between a worker's unmap
# and its next pages there is free memory, which the balloon (polling
# every 20 ms here) takes back toward its target whenever no OOM hold
# stops it, and the workers then need the OOM notifier again.  The run
# must complete with no OOM kill (the kernel's oom_kill counter in
# /proc/vmstat: stress-ng's exit code would hide a respawned worker, so
# --oomable too), the balloon must deflate through its OOM notifier,
# and the holds must follow the backoff: a hold starts only after the
# last one ended, and with a base of HOLD_MS doubling each time holds
# start at the earliest at 0, 3, 9, 21, 45 ... s, so T seconds see at
# most 1 + log2(T / base + 1) of them (3 in 16 s).  How often the
# pressure really comes back depends on how fast the guest runs (TCG on
# a loaded host: a few times in 16 s), so the count is printed, and
# PVKIT_OOM_QUIET_MS=0 (a fixed hold) gives the comparison.
. /tests/lib.sh
RUN_S=16
HOLD_MS=3000
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vballoon page_reporting=0 oom_hold_ms=$HOLD_MS" \
	insmod "$(mod vballoon)" page_reporting=0 oom_hold_ms=$HOLD_MS period_ms=20 \
	${PVKIT_OOM_QUIET_MS:+oom_quiet_ms=$PVKIT_OOM_QUIET_MS}
G=$(guest_name)
ram=$(hstat "$G" ram_pages)
check "host knows guest $G (${ram:-?} pages)" test -n "$ram"
ram_mb=$((ram / 256))

# leave 48 MiB
take=$(($(meminfo_kb MemAvailable) / 1024 - 48))
want=$((take * 256))
check "host sets target $((ram_mb - take))M" host_ok balloon "$G" $((ram_mb - take))M
reached() { [ "$(vbstat balloon_pages)" -ge "$want" ]; }
check "balloon reaches $take MiB" wait_until 60 reached

# The backoff in the driver, deterministically: the debugfs "oom" file
# deflates exactly as the OOM notifier does.  An OOM deflation soon
# after a hold ended must double the next hold: the balloon stays below
# its target 1.5 base holds later (a fixed hold re-inflates by then;
# a 3 s base leaves 1.5 s of margin either way for a slow TCG guest).
O=/sys/kernel/debug/vballoon/oom
lvl() { vbstat oom_hold_level; }
back() { [ "$(vbstat balloon_pages)" -ge "$want" ]; }
echo 256 > $O
bp=$(vbstat balloon_pages)
check "an OOM deflation holds at level 0 ($(lvl), $(vbstat oom_hold_ms) ms)" \
	test "$(lvl)" -eq 0 -a "$bp" -lt "$want"
check "the balloon re-inflates after the hold" wait_until 60 back
echo 256 > $O
check "an OOM deflation soon after the hold: level 1 ($(lvl), $(vbstat oom_hold_ms) ms)" \
	test "$(lvl)" -eq 1 -a "$(vbstat oom_hold_ms)" -eq $((2 * HOLD_MS))
usleep $((HOLD_MS * 1500))
bp=$(vbstat balloon_pages)
check "the doubled hold keeps the balloon below its target $((HOLD_MS * 3 / 2)) ms later" \
	test "$bp" -lt "$want"
check "and it re-inflates when the hold ends" wait_until 60 back

now() { cut -d. -f1 /proc/uptime; }
vmstat() { awk -v k="$1" '$1 == k {print $2}' /proc/vmstat; }
# max_holds T: holds that can start in T seconds with doubling holds
max_holds() {
	n=0; at=0; h=$HOLD_MS
	while [ "$at" -le $(($1 * 1000)) ]; do
		n=$((n + 1)); at=$((at + h)); h=$((h * 2))
	done
	echo $n
}
bytes=$(($(meminfo_kb MemAvailable) / 1024 + 24))
cd /tmp
oom0=$(vmstat oom_kill)
d0=$(vbstat oom_deflates)
h0=$(vbstat oom_holds)
t0=$(now)
check "stress-ng --vm 8 --vm-bytes ${bytes}M for ${RUN_S}s completes" \
	stress-ng --vm 8 --vm-bytes ${bytes}M --vm-method write64 --oomable \
	--timeout ${RUN_S}s
grep 'stress-ng' /tmp/check.out | tail -n 2 | sed 's/^/# /'
t=$(($(now) - t0))
oom1=$(vmstat oom_kill)
d1=$(vbstat oom_deflates)
h1=$(vbstat oom_holds)
holds=$((h1 - h0))
max=$(max_holds $((t + 1)))
echo "# ${t}s: OOM notifier deflated $((d1 - d0)) times in $holds holds (at most $max with the backoff); hold level $(vbstat oom_hold_level), next hold $(vbstat oom_hold_ms) ms"
check "no OOM kill ($oom0 -> $oom1)" test "$oom1" -eq "$oom0"
check "the balloon deflated through the OOM notifier ($((d1 - d0)) times)" \
	test "$((d1 - d0))" -gt 0
check "the OOM hold backed off ($holds holds <= $max in ${t}s)" \
	test "$holds" -le "$max"

host_ok balloon "$G" auto
check "rmmod vballoon" rmmod vballoon
check "host P2M fully populated after unload" test "$(hstat "$G" p2m_invalid_pages)" -eq 0
check "rmmod vhypercall" rmmod vhypercall
done_testing
