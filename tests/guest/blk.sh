# SPDX-License-Identifier: GPL-2.0
# The split block device (issue 13) end to end: vblkfront.ko against
# vpv-blkback on image files the host agent creates (lib.sh img).
#  - hot-plug: /dev/pvdX appears for 'device add GUEST vbd 0 --image'
#  - ext4: mkfs, a file tree with checksums, umount, e2fsck -fn clean,
#    remount (caches dropped), contents checked; the host's image holds
#    what the guest's disk reads
#  - fio --verify=crc32c on the raw disk: 4k random and 1M sequential
#    writes, depth 1 and 32, two jobs (both CPUs, all queues), then a
#    verifying random read pass; at depth 1 the device doorbell carries
#    the requests, with two jobs the per-CPU vectors the answers
#  - discard frees the image's blocks on the host; write-zeroes reads
#    back zeros (and goes as WRITE_ZEROES, not as data)
#  - --ro: writes refused, the image unchanged
#  - resize seen by the guest; --sector-size 4096 (fio verify, 512-byte
#    direct I/O refused)
#  - hot-unplug during fio: fio ends, no hang; unload and reload, the
#    data still there
# pvkit-programs: fio e2fsprogs:mkfs.ext4 e2fsprogs:e2fsck util-linux:blkdiscard
# pvkit-kmodules: crc16 mbcache jbd2 crc32c_generic ext4
. /tests/lib.sh
MIB=1048576
FV="--verify=crc32c --verify_fatal=1 --do_verify=1"
# the debug kernel (KASAN, kmemleak, lockdep under TCG: about 15 ms a
# 4 KiB request) checks the same paths on a quarter of the data
K=1
[ "$PVKIT_KERNEL" != test ] || K=4

dsize() { cat /sys/block/"${1#/dev/}"/size; }
qattr() { cat /sys/block/"${1#/dev/}"/queue/"$2"; }
dropc() { sync; echo 3 > /proc/sys/vm/drop_caches; }
gone() { ! blkdev "$1" >/dev/null; }
# dsha DEV MIB [SKIP_MIB]: sha256 of MIB MiB of DEV (after SKIP_MIB)
dsha() {
	dd if="$1" bs=1M count="$2" skip="${3:-0}" 2>/dev/null |
		sha256sum | cut -c1-64
}

check "ext4 and its modules" kmods_load crc16 mbcache jbd2 crc32c_generic ext4
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vblkfront" insmod "$(mod vblkfront)"
G=$(guest_name)

# 1. hot-plug
I0=$(img_create d0 128M)
check "host creates a 128 MiB image" test -n "$I0"
check "host device add vbd 0 --image" host_ok device add "$G" vbd 0 --image "$I0"
check "vbd-0's disk appears" wait_until 30 blkdev 0
D=$(blkdev 0)
echo "# vbd 0: $D"
need "$D" "vbd 0's disk"
check "$D is a block device" test -b "$D"
check "capacity 128 MiB ($(dsize $D) sectors)" test "$(dsize $D)" -eq 262144
check "debugfs: Connected (state $(bfstat 0 state))" test "$(bfstat 0 state)" = 4
hconn() { vbd_entry "$1" | grep -q '"connected":true'; }
check "host: connected" hconn 0

# 2. ext4
mkdir -p /mnt
check "mkfs.ext4" mkfs.ext4 -q -F "$D"
check "mount" mount -t ext4 "$D" /mnt
tree() {
	for d in 1 2 3; do
		mkdir -p /mnt/d$d/sub || return 1
		for f in 1 2 3 4 5; do
			dd if=/dev/urandom of=/mnt/d$d/f$f bs=4k \
				count=$((d * f * 7)) 2>/dev/null || return 1
			echo "small $d $f" > /mnt/d$d/sub/s$f || return 1
		done
	done
	dd if=/dev/urandom of=/mnt/big bs=1M count=8 2>/dev/null || return 1
	(cd /mnt && find . -type f | sort | xargs sha256sum) > /tmp/tree.sum
}
check "a file tree written (16 files, 13 MiB)" tree
check "umount" umount /mnt
dropc
check "e2fsck -fn: clean" e2fsck -fn "$D"
check "remount" mount -t ext4 "$D" /mnt
check "contents checked ($(wc -l < /tmp/tree.sum) files)" \
	sh -c "cd /mnt && sha256sum -c -s /tmp/tree.sum"
check "umount again" umount /mnt
dropc
check "the host's image holds what the disk reads (first 32 MiB)" \
	test "$(dsha "$D" 32)" = "$(img_sha d0 0 $((32 * MIB)))"

# 3. fio with checked data; two jobs: both CPUs, all queues
check "vblkfront uses $(bfstat 0 queues) queues (2 vCPUs)" \
	test "$(bfstat 0 queues)" -ge 2
hreqs() { echo $(($(hblk 0 reads) + $(hblk 0 writes))); }
n0=$(hreqs) e0=$(hstat "$G" ev_from_guest)
check "fio 4k randwrite QD1 verify" fio_ok r4k1 --filename="$D" $FV \
	--rw=randwrite --bs=4k --iodepth=1 --size=$((4 / K))M
# at depth 1 every request notifies: the back-end's device doorbell
# (ABI 1.4) takes them, the core's event channel path hardly any
n=$(($(hreqs) - n0)) e=$(($(hstat "$G" ev_from_guest) - e0))
check "device doorbell: the core saw $e events for $n requests" \
	test $((e * 10)) -lt "$n"
# per-CPU vectors (ABI 1.5): queue q names the vector of CPU q, the CPU
# that submits on it; the back-end rings that vector with q's answers,
# which then interrupt CPU q, not the one CPU of the shared vector
FE=$(vbd_entry 0 | jstr frontend)
qvec() { host store read "$FE/q$1-vector" | jstr value; }
check "queues 0 and 1 name their CPUs' vectors ($(qvec 0), $(qvec 1))" \
	sh -c "[ '$(qvec 0)' = 3 ] && [ '$(qvec 1)' = 4 ]"
# irqs NAME [CPU]: the interrupts of NAME in /proc/interrupts (on CPU)
irqs() {
	awk -v n="$1" -v c="${2:--1}" 'NR == 1 {nc = NF}
		$NF == n {s = 0; for (i = 2; i <= nc + 1; i++)
			if (c < 0 || i == c + 2) s += $i; print s}' /proc/interrupts
}
c0=$(irqs vhypercall-cpu0 0) c1=$(irqs vhypercall-cpu1 1)
a0=$(irqs vhypercall-cpu0) a1=$(irqs vhypercall-cpu1)
s0=$(irqs vhypercall-evtchn)
check "fio 4k randwrite QD32 x2 jobs verify" fio_ok r4k32 --filename="$D" $FV \
	--rw=randwrite --bs=4k --iodepth=32 --numjobs=2 --size=$((8 / K))M \
	--offset_increment=8M --offset=16M
c0=$(($(irqs vhypercall-cpu0 0) - c0)) c1=$(($(irqs vhypercall-cpu1 1) - c1))
a0=$(($(irqs vhypercall-cpu0) - a0)) a1=$(($(irqs vhypercall-cpu1) - a1))
s0=$(($(irqs vhypercall-evtchn) - s0))
check "per-CPU vectors took the answers (CPU0 $c0, CPU1 $c1; shared $s0)" \
	test $((c0 + c1)) -gt $((s0 * 2))
check "each on its own CPU (CPU0 $c0 of $a0, CPU1 $c1 of $a1)" \
	sh -c "[ $c0 -eq $a0 ] && [ $c1 -eq $a1 ]"
check "fio 1M write QD1 verify" fio_ok s1m1 --filename="$D" $FV \
	--rw=write --bs=1M --iodepth=1 --size=$((16 / K))M --offset=32M
check "fio 1M write QD32 x2 jobs verify" fio_ok s1m32 --filename="$D" $FV \
	--rw=write --bs=1M --iodepth=32 --numjobs=2 --size=$((32 / K))M \
	--offset=48M --offset_increment=32M
check "fio 4k randread QD32: the data of the first pass verifies" \
	fio_ok r4k32 --filename="$D" $FV --verify_only \
	--rw=randwrite --bs=4k --iodepth=32 --numjobs=2 --size=$((8 / K))M \
	--offset_increment=8M --offset=16M
# the persistent pool cannot grow (debugfs pool_nomem: as when memory
# runs out while the guest swaps to this disk): requests go with their
# own pages granted (F_TRANSIENT) instead of waiting for memory that
# only their I/O would free; the data still verifies
PN=/sys/kernel/debug/vblkfront/0/pool_nomem
nd0=$(bfstat 0 nomem_direct)
check "the pool cannot grow (pool_nomem)" sh -c "echo 1 > $PN"
# (44 KiB: 11 segments, the most a request copies through the pool; 32
# of them want more pool pages than the 4 KiB jobs left.  Submitted 32
# at a time, so that they are in flight together: submitted one by one,
# none of the debug kernel's 23 went direct in one run)
check "fio 44k randwrite QD32 verify without pool memory" fio_ok nomem \
	--filename="$D" $FV --rw=randwrite --bs=44k --iodepth=32 \
	--iodepth_batch_submit=32 --size=$((4 / K))M --offset=112M
check "... requests went direct ($(($(bfstat 0 nomem_direct) - nd0)))" \
	test "$(bfstat 0 nomem_direct)" -gt "$nd0"
check "pool memory back" sh -c "echo 0 > $PN"
check "host counted reads and writes ($(hblk 0 reads) / $(hblk 0 writes))" \
	sh -c "[ $(hblk 0 reads) -gt 0 ] && [ $(hblk 0 writes) -gt 0 ]"
check "no request failed (front-end errors $(bfstat 0 errors), host $(hblk 0 errors))" \
	sh -c "[ '$(bfstat 0 errors)' = 0 ] && [ '$(hblk 0 errors)' = 0 ]"

# 4. discard frees the blocks on the host; write-zeroes reads zeros
check "discard offered (discard_max_bytes $(qattr $D discard_max_bytes))" \
	test "$(qattr $D discard_max_bytes)" -gt 0
b0=$(img_blocks d0)
check "blkdiscard 64 MiB" /usr/sbin/blkdiscard -o $((48 * MIB)) -l $((64 * MIB)) "$D"
b1=$(img_blocks d0)
echo "# image blocks (512 B): $b0 -> $b1"
# the 1 MiB jobs wrote 2 x 32/K MiB of that range
check "the host freed >= $((60 / K)) MiB of the image ($b0 -> $b1 blocks)" \
	test $((b0 - b1)) -ge $((60 / K * 2048))
check "host counted discards ($(hblk 0 discards))" test "$(hblk 0 discards)" -gt 0
dd if=/dev/urandom of=/tmp/r1m bs=1M count=1 2>/dev/null
dd if=/tmp/r1m of="$D" bs=1M seek=120 conv=fsync 2>/dev/null
dropc
check "1 MiB of random data at 120 MiB" test "$(dsha "$D" 1 120)" = \
	"$(sha256sum /tmp/r1m | cut -c1-64)"
wz0=$(hblk 0 write_zeroes)
check "write_zeroes offered (write_zeroes_max_bytes $(qattr $D write_zeroes_max_bytes))" \
	test "$(qattr $D write_zeroes_max_bytes)" -gt 0
check "blkdiscard -z 1 MiB at 120 MiB" /usr/sbin/blkdiscard -z -o $((120 * MIB)) -l $MIB "$D"
dropc
Z=$(dd if=/dev/zero bs=1M count=1 2>/dev/null | sha256sum | cut -c1-64)
check "it reads back zeros" test "$(dsha "$D" 1 120)" = "$Z"
check "the host's image has zeros there" test "$(img_sha d0 $((120 * MIB)) $MIB)" = "$Z"
check "it went as WRITE_ZEROES ($wz0 -> $(hblk 0 write_zeroes))" \
	test "$(hblk 0 write_zeroes)" -gt "${wz0:-0}"

# 5. read-only
I1=$(img_create d1 16M pattern)
s1=$(img_sha d1)
check "host device add vbd 1 --ro" host_ok device add "$G" vbd 1 --image "$I1" --ro
check "vbd-1's disk appears" wait_until 30 blkdev 1
R=$(blkdev 1)
check "$R is read-only (ro = $(cat /sys/block/${R#/dev/}/ro))" \
	test "$(cat /sys/block/${R#/dev/}/ro)" = 1
check "$R reads the image (sector 777's pattern)" pattern_ok "$R" 777
check_fails "a write to $R fails" dd if=/dev/zero of="$R" bs=4k count=1 conv=fsync
check_fails "a direct write to $R fails" fio --name=ro --filename="$R" \
	--ioengine=libaio --direct=1 --eta=never --rw=write --bs=4k --size=64k
check_fails "mkfs.ext4 on $R fails" mkfs.ext4 -q -F "$R"
check "the host's image is unchanged" test "$(img_sha d1)" = "$s1"

# 6. resize
check "host resizes vbd 0 to 192 MiB" host_ok device resize "$G" vbd/0 192M
big() { [ "$(dsize $D)" -eq 393216 ]; }
check "the guest sees 192 MiB ($(dsize $D) sectors)" wait_until 30 big
check "the host's image is 192 MiB" test "$(img blocks d0 | jget size)" -eq $((192 * MIB))
check "fio verify beyond the old end" fio_ok grow --filename="$D" $FV \
	--rw=randwrite --bs=64k --iodepth=8 --size=$((16 / K))M --offset=$((170 * MIB))

# 7. 4096-byte sectors
I2=$(img_create d2 64M)
check "host device add vbd 2 --sector-size 4096" host_ok device add "$G" vbd 2 \
	--image "$I2" --sector-size 4096
check "vbd-2's disk appears" wait_until 30 blkdev 2
F=$(blkdev 2)
check "logical_block_size 4096 ($(qattr $F logical_block_size))" \
	test "$(qattr $F logical_block_size)" = 4096
check "fio 4k randwrite QD16 verify on 4096-byte sectors" fio_ok s4k \
	--filename="$F" $FV --rw=randwrite --bs=4k --iodepth=16 --size=$((16 / K))M
check "fio 1M write verify on 4096-byte sectors" fio_ok s4k1m \
	--filename="$F" $FV --rw=write --bs=1M --iodepth=4 --size=$((16 / K))M --offset=16M
check_fails "a 512-byte direct write is refused" fio --name=s512 \
	--filename="$F" --ioengine=libaio --direct=1 --eta=never --rw=write --bs=512 --size=4k

# 8. hot-unplug during fio
I3=$(img_create d3 64M)
check "host device add vbd 3" host_ok device add "$G" vbd 3 --image "$I3"
check "vbd-3's disk appears" wait_until 30 blkdev 3
U=$(blkdev 3)
rm -f /tmp/unplug.rc
(fio --name=unplug --filename="$U" --ioengine=libaio --direct=1 --eta=never \
	--rw=randrw --bs=4k --iodepth=32 --numjobs=2 --size=32M \
	--time_based --runtime=60 --output=/tmp/fio-unplug.log
	echo $? > /tmp/unplug.rc) &
FP=$!
sleep 3
check "fio is running on vbd 3" test ! -e /tmp/unplug.rc
check "host removes vbd 3 during fio" host_ok device remove "$G" vbd/3
check "fio ends (no hang)" wait_until 45 test -e /tmp/unplug.rc
# a fio stuck in D state cannot be reaped: wait only for one that ended
[ -e /tmp/unplug.rc ] && wait $FP
echo "# fio after the unplug: $(grep -o 'err=[^,]*' /tmp/fio-unplug.log | head -2 | tr '\n' ' ')"
check "vbd-3's disk is gone" wait_until 20 gone 3
check "vbd 0 still serves (verify)" fio_ok after --filename="$D" $FV \
	--rw=randwrite --bs=4k --iodepth=8 --size=2M --offset=$((4 * MIB))

# 9. unplug the rest, unload, reload: the data is still there
dd if=/dev/urandom of=/tmp/m1 bs=1M count=1 2>/dev/null
dd if=/tmp/m1 of="$D" bs=1M seek=150 conv=fsync 2>/dev/null
M1=$(sha256sum /tmp/m1 | cut -c1-64)
for i in 0 1 2; do
	check "host removes vbd $i" host_ok device remove "$G" vbd/$i
	check "vbd-$i's disk is gone" wait_until 20 gone $i
done
check "rmmod vblkfront" rmmod vblkfront
check "insmod vblkfront again" insmod "$(mod vblkfront)"
check "host adds vbd 0 again" host_ok device add "$G" vbd 0 --image "$I0"
check "its disk appears" wait_until 30 blkdev 0
D=$(blkdev 0)
check "the data written before the reload reads back" test "$(dsha "$D" 1 150)" = "$M1"
check "host removes vbd 0" host_ok device remove "$G" vbd/0
check "its disk is gone" wait_until 20 gone 0
check "rmmod vblkfront" rmmod vblkfront
check "rmmod vhypercall" rmmod vhypercall
if [ "$PVKIT_KERNEL" = test ]; then
	check "kmemleak: no leak" kmemleak_clean
fi
done_testing
