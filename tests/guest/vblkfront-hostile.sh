# SPDX-License-Identifier: GPL-2.0
# vblkfront against what a hostile back-end writes on its rings, through
# the test hook debugfs vblkfront/ID/inject (the next response as a
# hostile back-end would write it), with real I/O on vpv-blkback:
#  - dup: a response repeated: ignored and counted, the request
#    completes once, its data right
#  - op / status: a response with another op or an unknown status:
#    that request fails (EIO) once, counted; the next I/O works
#  - prod: rsp_prod beyond what was issued: the device goes down
#    (Closing), the request in flight fails once, new I/O fails at
#    once, no hang; hot-unplug and unload stay clean
# Needs the harness's image files (lib.sh img) and vpv-blkback.
. /tests/lib.sh
V=/sys/kernel/debug/vblkfront/0
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vblkfront" insmod "$(mod vblkfront)"
G=$(guest_name)
I0=$(img_create h0 16M)
check "host device add vbd 0" host_ok device add "$G" vbd 0 --image "$I0"
check "disk appears" wait_until 60 blkdev 0
D=$(blkdev 0)
S=/sys/block/${D#/dev/}/device
dd if=/dev/urandom of=/tmp/blk bs=4k count=1 2>/dev/null
check "a 4 KiB block written" dd if=/tmp/blk of="$D" bs=4k seek=7 oflag=direct
rd() { dd if="$D" bs=4k skip=7 count=1 iflag=direct 2>/dev/null | cmp -s - /tmp/blk; }
check "and read back" rd

b0=$(cat $S/bogus_rsp)
e0=$(cat $S/errors)
r0=$(cat $S/reqs)
echo dup > $V/inject
check "dup: the read succeeds, its data right" rd
check "dup: counted in bogus_rsp ($b0 -> $(cat $S/bogus_rsp))" \
	test "$(cat $S/bogus_rsp)" -eq $((b0 + 1))
check "dup: completed once (reqs $r0 -> $(cat $S/reqs))" \
	test "$(cat $S/reqs)" -eq $((r0 + 1))
check "dup: no error ($(cat $S/errors))" test "$(cat $S/errors)" -eq "$e0"

for k in op status; do
	b0=$(cat $S/bogus_rsp)
	e0=$(cat $S/errors)
	echo $k > $V/inject
	check_fails "$k: that read fails" rd
	check "$k: counted in bogus_rsp ($b0 -> $(cat $S/bogus_rsp))" \
		test "$(cat $S/bogus_rsp)" -eq $((b0 + 1))
	check "$k: failed once (errors $e0 -> $(cat $S/errors))" \
		test "$(cat $S/errors)" -eq $((e0 + 1))
	check "$k: the next read works" rd
done
check "nothing in flight ($(cat $S/in_flight))" test "$(cat $S/in_flight)" = 0

b0=$(cat $S/bogus_rsp)
e0=$(cat $S/errors)
echo prod > $V/inject
check_fails "prod: the read in flight fails" rd
check "prod: the device is down (broken $(bfstat 0 broken))" \
	test "$(bfstat 0 broken)" = 1
closing() { [ "$(bfstat 0 state)" = 5 ]; }
check "prod: our state Closing ($(bfstat 0 state))" wait_until 20 closing
check "prod: counted in bogus_rsp ($b0 -> $(cat $S/bogus_rsp))" \
	test "$(cat $S/bogus_rsp)" -eq $((b0 + 1))
check "prod: failed once (errors $e0 -> $(cat $S/errors))" \
	test "$(cat $S/errors)" -eq $((e0 + 1))
check_fails "prod: new I/O fails" rd
check "prod: nothing in flight ($(cat $S/in_flight))" test "$(cat $S/in_flight)" = 0
host device remove "$G" vbd/0 > /dev/null
check "the disk goes on removal" wait_until 30 sh -c "! ls /sys/bus/vpv/devices/vbd-0/block/* >/dev/null 2>&1"
check "rmmod vblkfront" rmmod vblkfront
check "rmmod vhypercall" rmmod vhypercall
if [ "$PVKIT_KERNEL" = test ]; then
	kmemleak_check "kmemleak: no leak"
fi
done_testing
