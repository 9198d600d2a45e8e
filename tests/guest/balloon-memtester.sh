# SPDX-License-Identifier: GPL-2.0
# pvkit-programs: memtester
# memtester (Debian's) against the balloon: a memtester keeps testing a
# locked buffer while the balloon inflates around it and deflates again,
# twice (its data must survive whatever the balloon and
# compaction do beside it); then memory the balloon gave back is tested:
# with the balloon holding all but ~24 MiB, it deflates by 48 MiB and a
# 48 MiB memtester must lie at least half in returned pages.  memtester
# exits non-zero and prints FAILURE on any mismatch.
. /tests/lib.sh
M=1048576
# Stuck Address (always run), Random Value and Compare XOR: a full run
# takes minutes per 16 MiB under TCG; the compare tests need Random
# Value's fill, so bit 0 stays set.
export MEMTESTER_TEST_MASK=0x3
CYCLES=2
BUF_MB=16
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vballoon page_reporting=0" insmod "$(mod vballoon)" page_reporting=0
G=$(guest_name)
ram=$(hstat "$G" ram_pages)
check "host knows guest $G (${ram:-?} pages)" test -n "$ram"
ram_mb=$((ram / 256))

# memtester in a loop until told to stop; each run's status to rcs
cd /tmp
rm -f mt.stop mt.rcs mt.log
(
	while [ ! -e mt.stop ]; do
		memtester ${BUF_MB}M 1 > mt.out 2>&1
		echo $? >> mt.rcs
		grep -E 'FAILURE|got|Loop' mt.out | tr -d '\b' >> mt.log
	done
) &
mt=$!
started() { [ -s mt.rcs ] || grep -q locked mt.out 2>/dev/null; }
wait_until 60 started

reached() { [ "$(vbstat balloon_pages)" -ge "$want" ]; }
empty() { [ "$(vbstat balloon_pages)" -eq 0 ]; }
i=1
while [ $i -le $CYCLES ]; do
	take=$(($(meminfo_kb MemAvailable) / 1024 - 40))
	want=$((take * 256))
	host_ok balloon "$G" $((ram_mb - take))M
	check "cycle $i: balloon inflates to $take MiB around memtester" \
		wait_until 60 reached
	host_ok balloon "$G" auto
	check "cycle $i: balloon deflates to 0" wait_until 60 empty
	i=$((i + 1))
done
touch mt.stop
wait $mt
runs=$(grep -c . mt.rcs)
bad=$(grep -vc '^0$' mt.rcs)
echo "# memtester ${BUF_MB} MiB: $runs runs during $CYCLES cycles, $bad failed; $(vbstat migrations) balloon page migrations"
check "memtester ran during the cycles ($runs runs)" test "$runs" -ge 1
check "memtester found no corruption" test "$bad" -eq 0 -a \
	"$(grep -c FAILURE mt.log)" -eq 0
[ "$bad" -eq 0 ] || head -20 mt.log | sed 's/^/# /'

# returned memory: leave ~24 MiB, give back 48 MiB, test 48 MiB
take=$(($(meminfo_kb MemAvailable) / 1024 - 24))
want=$((take * 256))
host_ok balloon "$G" $((ram_mb - take))M
check "balloon takes all but 24 MiB ($take MiB)" wait_until 60 reached
want=$(((take - 48) * 256))
host_ok balloon "$G" $((ram_mb - take + 48))M
down() { [ "$(vbstat balloon_pages)" -le "$want" ]; }
check "balloon gives back 48 MiB" wait_until 60 down
occ0=$(hstat "$G" ram_file_bytes)
oom0=$(awk '$1 == "oom_kill" {print $2}' /proc/vmstat)
check "memtester 48M on memory the balloon returned" memtester 48M 1
occ1=$(hstat "$G" ram_file_bytes)
oom1=$(awk '$1 == "oom_kill" {print $2}' /proc/vmstat)
echo "# host RAM file grew by $(((occ1 - occ0) / M)) MiB while memtester ran (returned pages it touched)"
check "no OOM kill ($oom0 -> $oom1)" test "$oom1" -eq "$oom0"

host_ok balloon "$G" auto
check "rmmod vballoon" rmmod vballoon
check "host P2M fully populated after unload" test "$(hstat "$G" p2m_invalid_pages)" -eq 0
check "rmmod vhypercall" rmmod vhypercall
done_testing
