# SPDX-License-Identifier: GPL-2.0
# UML-style copy-on-write disks, two guests at once (tests/run.py
# 'blk-cow': guests cowa and cowb run this script under one stub).
# Both attach the same read-only base image through their own overlay
# ('device add GUEST vbd 0 --image base --cow ovl-GUEST'):
#  - each reads the base's known pattern (and all of it: sha256)
#  - each writes its own data at the same offsets (a whole 1 MiB and
#    one 512-byte sector inside a 4 KiB block: the block's other
#    sectors are copied up from the base), waits for the other to have
#    written, and reads back its own data, not the other's
#  - after both detached: the base is byte for byte unchanged; the
#    overlay merged into a copy of the base (vpv-cow merge) holds the
#    guest's writes and the base elsewhere
#  - a base changed since the overlay was made (mtime) is refused
# The guests meet through the store (/pvkit-test/blkcow-GUEST = stage).
. /tests/lib.sh
MIB=1048576
# the base's size in MiB (more than 16: the writes are at 8 MiB and the
# merge check reads 16 .. BM); the debug kernel's run asks for less
BM=${BLK_COW_MB:-64}
G=$PVKIT_GUEST
case "$G" in
cowa) O=cowb ;;
*) O=cowa ;;
esac

dropc() { sync; echo 3 > /proc/sys/vm/drop_caches; }
gone() { ! blkdev 0 >/dev/null; }
dsha() {
	dd if="$1" bs=1M count="$2" skip="${3:-0}" 2>/dev/null |
		sha256sum | cut -c1-64
}
# stage N: tell the other guest we are at stage N; at_stage N: wait for
# the other guest to reach stage N
stage() { host_ok store write /pvkit-test/blkcow-$G "$1"; }
their_stage() { host store read /pvkit-test/blkcow-$O | jstr value; }
ge_stage() { [ "$(their_stage)" -ge "$1" ] 2>/dev/null; }
at_stage() { wait_until 180 ge_stage "$1"; }
base_there() { [ "$(img blocks base | jget size)" = $((BM * MIB)) ]; }

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vblkfront" insmod "$(mod vblkfront)"
if [ "$G" = cowa ]; then
	check "host creates the base ($BM MiB, pattern)" img create base ${BM}M pattern
	stage 1
else
	check "the other guest created the base" at_stage 1
	stage 1
fi
check "the base is there" base_there
B=$(img path base | jstr path)
OV=$(img path ovl-$G | jstr path)
S0=$(img_sha base)
check "host device add vbd 0 --image base --cow ovl-$G" \
	host_ok device add "$G" vbd 0 --image "$B" --cow "$OV"
check "vbd-0's disk appears" wait_until 30 blkdev 0
D=$(blkdev 0)
need "$D" "vbd 0's disk"
check "$BM MiB" test "$(cat /sys/block/${D#/dev/}/size)" -eq $((BM * 2048))
check "writable (ro = 0)" test "$(cat /sys/block/${D#/dev/}/ro)" = 0
ok_pat=1
for s in 0 1 7 8 4095 $((BM * 1024 - 1)) $((BM * 2048 - 1)); do
	pattern_ok "$D" $s || { ok_pat=0; echo "# sector $s: $(dd if=$D bs=512 skip=$s count=1 2>/dev/null | head -c 16)"; }
done
check "the base's pattern reads through the overlay" test $ok_pat = 1
check "the whole disk reads as the base (sha256)" test "$(dsha "$D" $BM)" = "$S0"

# the same offsets in both guests, different data
dd if=/dev/urandom of=/tmp/own bs=1M count=1 2>/dev/null
dd if=/dev/urandom of=/tmp/own512 bs=512 count=1 2>/dev/null
W=$(sha256sum /tmp/own | cut -c1-64)
W5=$(sha256sum /tmp/own512 | cut -c1-64)
check "writes 1 MiB at 8 MiB" dd if=/tmp/own of="$D" bs=1M seek=8 conv=fsync
check "writes sector 20003 (inside a 4 KiB block)" \
	dd if=/tmp/own512 of="$D" bs=512 seek=20003 conv=fsync
stage 2
check "the other guest wrote too" at_stage 2
dropc
check "reads back its own 1 MiB" test "$(dsha "$D" 1 8)" = "$W"
check "reads back its own sector" test "$(dd if="$D" bs=512 skip=20003 count=1 2>/dev/null | sha256sum | cut -c1-64)" = "$W5"
pats() { for s in "$@"; do pattern_ok "$D" $s || return 1; done; }
check "that block's other sectors: the base's (copied up)" \
	pats 20000 20001 20002 20004 20005 20006 20007
check "sectors 16383 and 18432 still the base's" pats 16383 18432
check "host device remove vbd/0" host_ok device remove "$G" vbd/0
check "its disk is gone" wait_until 20 gone
stage 3
check "the other guest detached too" at_stage 3

check "the base is byte for byte unchanged" test "$(img_sha base)" = "$S0"
check "vpv-cow info reads the overlay" img cow-info ovl-$G
check "vpv-cow merge ovl-$G base merged-$G" img merge ovl-$G base merged-$G
check "the merged image has its 1 MiB" test "$(img_sha merged-$G $((8 * MIB)) $MIB)" = "$W"
check "and its sector" test "$(img_sha merged-$G $((20003 * 512)) 512)" = "$W5"
check "and the base elsewhere (16 .. $BM MiB)" test \
	"$(img_sha merged-$G $((16 * MIB)) $(((BM - 16) * MIB)))" = \
	"$(img_sha base $((16 * MIB)) $(((BM - 16) * MIB)))"
check "and the base before 8 MiB" test \
	"$(img_sha merged-$G 0 $((8 * MIB)))" = "$(img_sha base 0 $((8 * MIB)))"
stage 4
check "the other guest merged" at_stage 4

# a changed base: the overlay names its size and mtime; refused
if [ "$G" = cowa ]; then
	check "host touches the base" img touch base
	stage 5
else
	check "the base was touched" at_stage 5
	stage 5
fi
r=$(host device add "$G" vbd 1 --image "$B" --cow "$OV")
echo "# add over a changed base: $r"
attached() { blkdev 1 >/dev/null; }
check "the add is refused: ESTALE" sh -c "echo '$r' | grep -q ESTALE"
sleep 5
check_fails "no disk appears for it" attached
host device remove "$G" vbd/1 >/dev/null
stage 6
check "the other guest is done" at_stage 6
check "rmmod vblkfront" rmmod vblkfront
check "rmmod vhypercall" rmmod vhypercall
done_testing
