# SPDX-License-Identifier: GPL-2.0
# vblkfront's module parameters, each reload against the same image:
# what was negotiated shows in debugfs and sysfs, and fio verifies 4k
# random and 1M sequential writes with no request failed, for
#  - the defaults (persistent grants, 256 indirect segments, all queues)
#  - persistent=0 (bio pages granted per request, ended on completion)
#  - max_indirect_segs=0 (inline requests only: 11 segments, 44 KiB)
#  - max_queues=1 ring_order=0 (one ring of one page: 32 entries)
#  - persistent=0 max_indirect_segs=32 ring_order=4 (512 entries)
# and a back-end restarted with fewer segments than the requests it had
# in flight were cut for (feature-max-indirect-segments set to 0, then
# the back-end killed during 1M writes): their bios are submitted again,
# split for the new limits, and fio verifies.  Last, a stale q0-vector
# in the front-end's directory is removed at connect when vhypercall has
# no per-CPU vectors.
# Needs the harness's image files (lib.sh img) and vpv-blkback.
# pvkit-programs: fio
. /tests/lib.sh
FV="--verify=crc32c --verify_fatal=1 --do_verify=1"

check "insmod vhypercall" insmod "$(mod vhypercall)"
G=$(guest_name)
I0=$(img_create p0 64M)
check "host creates a 64 MiB image" test -n "$I0"

# the queues a default load gets: min(vCPUs, the back-end's 8)
NCPU=$(grep -c ^processor /proc/cpuinfo)
NQ=$((NCPU < 8 ? NCPU : 8))

# one PARAMS: load, add, check what was negotiated, fio, remove, unload
run() {
	name=$1 q=$2 ents=$3 pers=$4 ind=$5
	shift 5
	check "[$name] insmod vblkfront $*" insmod "$(mod vblkfront)" "$@"
	check "[$name] host device add vbd 0" host_ok device add "$G" vbd 0 --image "$I0"
	check "[$name] disk appears" wait_until 60 blkdev 0
	D=$(blkdev 0)
	S=/sys/block/${D#/dev/}/device
	check "[$name] queues $(bfstat 0 queues) (want $q)" test "$(bfstat 0 queues)" = "$q"
	check "[$name] ring_entries $(bfstat 0 ring_entries) (want $ents)" \
		test "$(bfstat 0 ring_entries)" = "$ents"
	check "[$name] persistent $(cat $S/persistent) (want $pers)" \
		test "$(cat $S/persistent)" = "$pers"
	check "[$name] indirect_segs $(cat $S/indirect_segs) (want $ind)" \
		test "$(cat $S/indirect_segs)" = "$ind"
	check "[$name] fio 4k randwrite QD16 x2 verify" fio_ok "$name-4k" \
		--filename="$D" $FV --rw=randwrite --bs=4k --iodepth=16 \
		--numjobs=2 --size=4M --offset_increment=8M
	check "[$name] fio 1M write QD4 verify" fio_ok "$name-1m" \
		--filename="$D" $FV --rw=write --bs=1M --iodepth=4 --size=16M \
		--offset=32M
	check "[$name] no request failed (errors $(cat $S/errors), reqs $(cat $S/reqs))" \
		sh -c "[ $(cat $S/errors) = 0 ] && [ $(cat $S/reqs) -gt 0 ]"
	check "[$name] no bogus response ($(cat $S/bogus_rsp))" test "$(cat $S/bogus_rsp)" = 0
	[ "$pers" = 1 ] && check "[$name] persistent grants pooled ($(bfstat 0 pgrants))" \
		test "$(bfstat 0 pgrants)" -gt 0
	host device remove "$G" vbd/0 > /dev/null
	check "[$name] disk gone" wait_until 30 sh -c "! ls /sys/bus/vpv/devices/vbd-0/block/* >/dev/null 2>&1"
	check "[$name] rmmod vblkfront" rmmod vblkfront
}

run default $NQ 128 1 256
run nopersist $NQ 128 0 256 persistent=0
run inline $NQ 128 1 0 max_indirect_segs=0
run onering 1 32 1 256 max_queues=1 ring_order=0
run big $NQ 512 0 32 persistent=0 max_indirect_segs=32 ring_order=4
# shrink: the next connection allows 11 segments, 1M requests are kept
check "[shrink] insmod vblkfront" insmod "$(mod vblkfront)"
check "[shrink] host device add vbd 0" host_ok device add "$G" vbd 0 --image "$I0"
check "[shrink] disk appears" wait_until 60 blkdev 0
D=$(blkdev 0)
BE=$(cat /sys/bus/vpv/devices/vbd-0/otherend)
check "[shrink] max_segments 256" test "$(cat /sys/block/${D#/dev/}/queue/max_segments)" = 256
rm -f /tmp/shrink.rc
# verified by a pattern holding each block's offset (%o): cheap to make,
# unlike crc32c, whose computing under TCG kept fio from having requests
# in flight most of the time
(fio_ok shrink --filename="$D" --verify=pattern --verify_pattern=%o \
	--verify_fatal=1 --do_verify=1 --rw=write --bs=1M --iodepth=8 \
	--size=48M --loops=16; echo $? > /tmp/shrink.rc) &
FP=$!
# kill until a restart found 1M requests in flight (at most 20 times)
shrunk() { [ "$(bfstat 0 resubmitted)" -gt 0 ]; }
up() { [ "$(bfstat 0 state)" = 4 ]; }
# busy S: requests in flight, looked at every 20 ms for S seconds (a
# 1M write takes a few ms now, and on one vCPU fio spends most of its
# time computing its verify headers: a look once a second saw none)
busy() {
	i=$(($1 * 50))
	while [ $i -gt 0 ]; do
		[ "$(bfstat 0 in_flight)" -gt 0 ] 2>/dev/null && return 0
		sleep 0.02
		i=$((i - 1))
	done
	return 1
}
check "[shrink] fio has 1M writes in flight" busy 60
check "[shrink] the back-end offers no indirect segments now" \
	host_ok store write "$BE/feature-max-indirect-segments" 0
k0=$(bfstat 0 kept)
n=0
while [ $n -lt 20 ] && ! shrunk && [ ! -e /tmp/shrink.rc ]; do
	busy 20 || continue
	host device kill "$G" vbd/0 > /dev/null
	n=$((n + 1))
	sleep 1
	wait_until 30 up
done
check "[shrink] fio ends" wait_until 180 test -e /tmp/shrink.rc
[ -e /tmp/shrink.rc ] && wait $FP
check "[shrink] fio exit 0, verify clean" test "$(cat /tmp/shrink.rc)" = 0
check "[shrink] reconnected ($(bfstat 0 reconnects))" test "$(bfstat 0 reconnects)" -ge 1
echo "# $n kills; kept $k0 -> $(bfstat 0 kept), resubmitted $(bfstat 0 resubmitted), replayed $(bfstat 0 replayed)"
check "[shrink] kept requests resubmitted as bios ($(bfstat 0 resubmitted))" \
	test "$(bfstat 0 resubmitted)" -gt 0
check "[shrink] max_segments now 11" test "$(cat /sys/block/${D#/dev/}/queue/max_segments)" = 11
check "[shrink] no request failed ($(bfstat 0 errors))" test "$(bfstat 0 errors)" = 0
host device remove "$G" vbd/0 > /dev/null
check "[shrink] disk gone" wait_until 30 sh -c "! ls /sys/bus/vpv/devices/vbd-0/block/* >/dev/null 2>&1"
check "[shrink] rmmod vblkfront" rmmod vblkfront
check "rmmod vhypercall" rmmod vhypercall

# stale: vhypercall without the per-CPU vectors (features_mask without
# bit 6), a q0-vector left in the front-end's directory (as an earlier
# instance with them would leave it): vblkfront removes it at connect,
# else the back-end would ring a vector no handler has and no answer
# would reach the guest
check "[stale] insmod vhypercall without per-CPU vectors" \
	insmod "$(mod vhypercall)" features_mask=0xffffffffffffffbf
check "[stale] host device add vbd 0 (no front-end yet)" host_ok device add "$G" vbd 0 --image "$I0"
FE=$(vbd_entry 0 | jstr frontend)
check "[stale] a stale q0-vector 3 in $FE" host_ok store write "$FE/q0-vector" 3
check "[stale] insmod vblkfront" insmod "$(mod vblkfront)"
check "[stale] disk appears" wait_until 60 blkdev 0
D=$(blkdev 0)
connected0() { [ "$(bfstat 0 state)" = 4 ]; }
check "[stale] Connected" wait_until 30 connected0
qv=$(host store read "$FE/q0-vector")
echo "# q0-vector after connect: $qv"
check "[stale] q0-vector removed" sh -c "echo '$qv' | grep -q error"
check "[stale] fio 4k randwrite QD4 verify (answers arrive)" fio_ok stale \
	--filename="$D" $FV --rw=randwrite --bs=4k --iodepth=4 --size=2M
check "[stale] no request failed ($(bfstat 0 errors))" test "$(bfstat 0 errors)" = 0
host device remove "$G" vbd/0 > /dev/null
check "[stale] disk gone" wait_until 30 sh -c "! ls /sys/bus/vpv/devices/vbd-0/block/* >/dev/null 2>&1"
check "[stale] rmmod vblkfront" rmmod vblkfront
check "rmmod vhypercall" rmmod vhypercall
done_testing
