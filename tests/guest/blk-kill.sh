# SPDX-License-Identifier: GPL-2.0
# vpv-blkback killed (-9, 'device kill GUEST vbd/0' through the agent)
# at random moments under I/O: the host restarts it, vblkfront
# reconnects and replays what was in flight, so nothing a user sees
# fails and no byte is lost.
#  - 10 kills during fio verify write runs (4k random QD32 on two jobs,
#    1M sequential): every run exits 0, err=0, its verify clean
#  - 4 kills during an ext4 write load (files written and copied): the
#    load completes, umount, e2fsck -fn clean, every file's checksum
#    right after a remount
# The run gives the stub --backend-max-crashes 100 (tests/run.py).
# pvkit-programs: fio e2fsprogs:mkfs.ext4 e2fsprogs:e2fsck
# pvkit-kmodules: crc16 mbcache jbd2 crc32c_generic ext4
. /tests/lib.sh
KILLS=${BLK_KILLS:-10}
FV="--verify=crc32c --verify_fatal=1 --do_verify=1"

# a random delay of 0.2 .. 0.9 s (plus the agent's round trip)
rsleep() { sleep "0.$(( $(od -An -N2 -tu2 /dev/urandom) % 8 + 2 ))"; }
bepid() { vbd_entry 0 | sed -n 's/.*"pid":\([0-9]*\).*/\1/p'; }
becrashes() { vbd_entry 0 | sed -n 's/.*"crashes":\([0-9]*\).*/\1/p'; }
connected() { [ "$(bfstat 0 state)" = 4 ] && vbd_entry 0 | grep -q '"connected":true'; }
dropc() { sync; echo 3 > /proc/sys/vm/drop_caches; }
kill_once() { be_kill_once vbd/0; }
# kill_during RCFILE MAX: kill at random moments until the job that
# writes RCFILE ends or MAX kills in all
kill_during() {
	while [ $kills -lt "$2" ] && [ ! -e "$1" ]; do
		rsleep
		[ -e "$1" ] || kill_once
	done
}

check "ext4 and its modules" kmods_load crc16 mbcache jbd2 crc32c_generic ext4
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vblkfront" insmod "$(mod vblkfront)"
G=$(guest_name)
I0=$(img_create k0 128M)
check "host device add vbd 0" host_ok device add "$G" vbd 0 --image "$I0"
check "vbd-0's disk appears" wait_until 30 blkdev 0
D=$(blkdev 0)
need "$D" "vbd 0's disk"
check "Connected" wait_until 30 connected
p0=$(bepid)
check "the back-end is a process (pid $p0)" test "${p0:-0}" -gt 0
c0=$(becrashes)
r0=$(bfstat 0 reconnects)

# 1. fio verify write runs with kills; a run that ends before the kills
# are done is followed by another (at most RUNS), each checked
RUNS=8
run=0
t0=$(date +%s)
while [ $kills -lt "$KILLS" ] && [ $run -lt $RUNS ]; do
	run=$((run + 1))
	k1=$kills
	# MB per job: 16 (the debug kernel's run asks for less: its
	# verify pass alone took 230 s at 16)
	mb=${BLK_KILL_MB:-16}
	case $run in
	2) job="--rw=write --bs=1M --iodepth=8 --size=$((mb * 3))M --offset=64M" ;;
	*) job="--rw=randwrite --bs=4k --iodepth=32 --numjobs=2 --size=${mb}M --offset_increment=16M" ;;
	esac
	rm -f /tmp/kf.rc
	(fio --name=kill$run --filename="$D" --ioengine=libaio --direct=1 --eta=never \
		$FV $job --output=/tmp/fio-kill$run.log; echo $? > /tmp/kf.rc) &
	fp=$!
	kill_during /tmp/kf.rc "$KILLS"
	check "run $run: fio ends" wait_until 120 test -e /tmp/kf.rc
	[ -e /tmp/kf.rc ] && wait $fp
	echo "# run $run ($job): $((kills - k1)) kills; $(grep -o 'err=[^,]*' /tmp/fio-kill$run.log | sort | uniq -c | tr '\n' ' ')"
	check "run $run: fio exit 0, verify clean" test "$(cat /tmp/kf.rc 2>/dev/null)" = 0
	check "run $run: fio saw no error" sh -c \
		"grep -q 'err= 0' /tmp/fio-kill$run.log && ! grep -q 'err= *[1-9]' /tmp/fio-kill$run.log"
done
t1=$(date +%s)
echo "# $kills kills in $run run(s), $((t1 - t0)) s; reconnects $r0 -> $(bfstat 0 reconnects), replayed $(bfstat 0 replayed), crashes $c0 -> $(becrashes)"
check "the back-end was killed $KILLS times during the runs ($kills)" test "$kills" -eq "$KILLS"
check "the host counted the crashes ($c0 -> $(becrashes))" \
	test "$(becrashes)" -ge $((c0 + kills))
check "the front-end reconnected after each ($r0 -> $(bfstat 0 reconnects))" \
	test "$(bfstat 0 reconnects)" -ge $((r0 + kills))
check "no request failed in the front-end (errors $(bfstat 0 errors))" \
	test "$(bfstat 0 errors)" = 0
check "no bogus response (bogus_rsp $(bfstat 0 bogus_rsp))" \
	test "$(bfstat 0 bogus_rsp)" = 0
check "Connected again" wait_until 30 connected

# 2. ext4 under a write load with kills
KILLS2=$((kills + ${BLK_FS_KILLS:-4}))
check "mkfs.ext4" mkfs.ext4 -q -F "$D"
mkdir -p /mnt
check "mount" mount -t ext4 "$D" /mnt
# load: 12 directories of a random file and its copy (1 to 3.75 MiB),
# then rewrites of them until the kills are done (/tmp/load.stop) or 48
# rounds: on a fast run the first 12 can end before the fourth kill
load() {
	i=0
	while [ $i -lt 12 ] || { [ ! -e /tmp/load.stop ] && [ $i -lt 48 ]; }; do
		w=/mnt/w$((i % 12))
		mkdir -p $w &&
		dd if=/dev/urandom of=$w/a bs=64k count=$((16 + i % 12 * 4)) 2>/dev/null &&
		cp $w/a $w/b && sync $w/b || return 1
		i=$((i + 1))
	done
	echo "# ext4 load: $i rounds"
	cp -r /mnt/w3 /mnt/copy && sync
}
rm -f /tmp/load.rc /tmp/load.stop
(load; echo $? > /tmp/load.rc) &
lp=$!
sleep 1
kill_during /tmp/load.rc "$KILLS2"
touch /tmp/load.stop
check "the ext4 load ends" wait_until 120 test -e /tmp/load.rc
[ -e /tmp/load.rc ] && wait $lp
check "the ext4 load succeeded" test "$(cat /tmp/load.rc 2>/dev/null)" = 0
check "$((KILLS2 - KILLS)) kills during it ($((kills - KILLS)))" test "$kills" -ge "$KILLS2"
(cd /mnt && find . -type f | sort | xargs sha256sum) > /tmp/fs.sum
check "copies equal their files" sh -c \
	"cd /mnt && for d in w*; do cmp -s \$d/a \$d/b || exit 1; done && cmp -s w3/a copy/a"
check "umount" umount /mnt
dropc
check "e2fsck -fn: clean" e2fsck -fn "$D"
check "remount" mount -t ext4 "$D" /mnt
check "every file's checksum ($(wc -l < /tmp/fs.sum) files)" \
	sh -c "cd /mnt && sha256sum -c -s /tmp/fs.sum"
check "umount" umount /mnt
check "no request failed (errors $(bfstat 0 errors))" test "$(bfstat 0 errors)" = 0

check "host removes vbd 0" host_ok device remove "$G" vbd/0
gone() { ! blkdev 0 >/dev/null; }
check "its disk is gone" wait_until 20 gone
check "rmmod vblkfront" rmmod vblkfront
check "rmmod vhypercall" rmmod vhypercall
done_testing
