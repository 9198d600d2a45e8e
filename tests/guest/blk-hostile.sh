# SPDX-License-Identifier: GPL-2.0
# A hostile vbd front-end (tests/modules/blkhostile.c) on vbd 7 throws
# every malformed request class at vpv-blkback and checks each answer
# against abi/vpv_blkif.h; meanwhile vblkfront's vbd 0 in the same
# guest runs fio verify passes, which must all pass.  The stub (ASan
# in make test) must stay up; the harness fails the run on any
# sanitizer report.
# pvkit-programs: fio
. /tests/lib.sh
C=/sys/kernel/debug/vpv_blkhostile_ctl
FV="--verify=crc32c --verify_fatal=1 --do_verify=1"
hstate() { awk -v k="$1" '$1 == k {print $2}' $C/state; }
live7() { [ "$(hstate live)" = 1 ]; }
hconn() { vbd_entry "$1" | grep -q '"connected":true'; }

check "insmod vhypercall" insmod "$(mod vhypercall)"
# first: its probe takes vbd 7 and sends every other id on to vblkfront
check "insmod blkhostile devid=7" insmod "$(mod blkhostile)" devid=7
check "insmod vblkfront" insmod "$(mod vblkfront)"
G=$(guest_name)
I0=$(img_create h0 64M)
I7=$(img_create h7 64M)
check "host device add vbd 0" host_ok device add "$G" vbd 0 --image "$I0"
check "host device add vbd 7" host_ok device add "$G" vbd 7 --image "$I7"
check "vblkfront has vbd 0" wait_until 30 blkdev 0
D=$(blkdev 0)
need "$D" "vbd 0's disk"
check "blkhostile has vbd 7, Connected" wait_until 30 live7
check "vblkfront did not take vbd 7" sh -c "! ls /sys/bus/vpv/devices/vbd-7/block >/dev/null 2>&1"

# vbd 0: fio verify passes until the hostile tests are done
rm -f /tmp/h.done /tmp/v.done /tmp/v.fail
(n=0
while [ ! -e /tmp/h.done ] || [ $n -eq 0 ]; do
	n=$((n + 1))
	fio_ok v$n --filename="$D" $FV --rw=randwrite --bs=4k --iodepth=16 \
		--size=8M --offset=$(( (n % 6) * 8 ))M >/dev/null ||
		echo "pass $n" >> /tmp/v.fail
done
echo $n > /tmp/v.done) &
VP=$!

t0=$(date +%s)
check "the hostile tests ran" sh -c "echo all > $C/run"
t1=$(date +%s)
echo "# hostile tests: $((t1 - t0)) s"
forward_tap /sys/kernel/debug/vpv_blkhostile/results
touch /tmp/h.done
check "vbd 0's fio passes end" wait_until 120 test -e /tmp/v.done
[ -e /tmp/v.done ] && wait $VP
check "vbd 0 served checked data throughout ($(cat /tmp/v.done 2>/dev/null) fio verify passes, failed: $(cat /tmp/v.fail 2>/dev/null))" \
	test ! -e /tmp/v.fail
echo "# host: vbd 7 $(vbd_entry 7 | sed 's/.*"backend_state":"\([^"]*\)".*"blk":{\([^}]*\)}.*/\1 \2/')"
check "the host still answers" host_ok list
check "vbd 7's image still 64 MiB (no write out of range)" \
	test "$(img blocks h7 | jget size)" -eq 67108864
check "vbd 0 still Connected on the host" hconn 0
check "vbd 0 still verifies" fio_ok last --filename="$D" $FV --rw=randrw \
	--bs=64k --iodepth=8 --size=8M
check "host removes vbd 7" host_ok device remove "$G" vbd/7
check "host removes vbd 0" host_ok device remove "$G" vbd/0
gone() { ! blkdev 0 >/dev/null; }
check "vbd 0's disk is gone" wait_until 20 gone
check "rmmod vblkfront" rmmod vblkfront
check "rmmod blkhostile" rmmod blkhostile
check "rmmod vhypercall" rmmod vhypercall
done_testing
