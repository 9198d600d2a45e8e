# SPDX-License-Identifier: GPL-2.0
# Guest side of the overcommit benchmark (tests/bench/run.py overcommit):
# one guest of several under one stub, running its phase schedule.
#
#   PVKIT_OC_SCHED     phases, one letter each: A active (stress-ng --vm
#                      with a working set of PVKIT_OC_VM_MB, --vm-keep),
#                      F file cache (write a PVKIT_OC_FILE_MB file on ext4
#                      on vbd 1, then read it back again and again), I idle
#   PVKIT_OC_PHASE_S   seconds per phase (all guests start phase 0
#                      together: the runner says "go" in the store once
#                      every guest is ready)
#   PVKIT_OC_BALLOON   1: load vballoon (the policy's targets apply)
#
# Every guest swaps on a vblkfront disk (vbd 0, PVKIT_OC_SWAP_MB, on the
# host with O_DIRECT so the host's page cache does not hold the swapped
# pages: they would be host memory outside the budget).  Per phase one
# line
#   # oc-phase G I KIND SECS OPS MB PSWPIN PSWPOUT PSI_US OOM
# with stress-ng's bogo ops (A), MiB moved (F), the /proc/vmstat
# pswpin/pswpout and oom_kill deltas and the /proc/pressure/memory
# "some" stall time (us) of the phase; run.py makes the table.
# pvkit-programs: stress-ng e2fsprogs:mkfs.ext4
# pvkit-kmodules: crc16 mbcache jbd2 crc32c_generic ext4
. /tests/lib.sh
SCHED=${PVKIT_OC_SCHED:-AIIF}
P=${PVKIT_OC_PHASE_S:-50}
VM=${PVKIT_OC_VM_MB:-128}
FILE=${PVKIT_OC_FILE_MB:-96}
SWAP=${PVKIT_OC_SWAP_MB:-256}
MEET=/local/domain/0/pvkit-oc
G=$(guest_name)

vmstat() { awk -v k="$1" '$1 == k {print $2}' /proc/vmstat; }
# the memory stall time so far (us), 0 without PSI
psi_us() {
	sed -n 's/^some .*total=\([0-9]*\).*/\1/p' /proc/pressure/memory \
		2>/dev/null || echo 0
}

case "$SCHED" in *F*) FILES=1 ;; *) FILES= ;; esac
if [ -n "$FILES" ]; then
	check "ext4 and its modules" kmods_load crc16 mbcache jbd2 \
		crc32c_generic ext4
fi
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vblkfront" insmod "$(mod vblkfront)"

S=$(img_create oc-swap-"$G" "$SWAP"M)
check "swap image" test -n "$S"
check "host device add vbd 0 (swap)" \
	host_ok device add "$G" vbd 0 --image "$S" --direct
check "vbd 0 appears" wait_until 60 blkdev 0
D=$(blkdev 0)
need "$D" "the swap disk"
check "mkswap $D" mkswap "$D"
check "swapon $D" swapon "$D"
# the balloon only once swap is on: the policy's first targets (every
# guest counted fully active until the host has sampled it) may take
# more than the guest has free, and before swap that is an OOM panic
if [ "$PVKIT_OC_BALLOON" = 1 ]; then
	check "insmod vballoon" insmod "$(mod vballoon)"
fi
if [ -n "$FILES" ]; then
	I=$(img_create oc-data-"$G" $((FILE * 2))M)
	check "host device add vbd 1 (data)" \
		host_ok device add "$G" vbd 1 --image "$I" --direct
	check "vbd 1 appears" wait_until 60 blkdev 1
	F=$(blkdev 1)
	need "$F" "the data disk"
	mkdir -p /mnt
	check "mkfs.ext4 $F" mkfs.ext4 -q -F "$F"
	check "mount $F" mount -t ext4 "$F" /mnt
fi
echo "# $G: $(meminfo_kb MemTotal) kB RAM, $(meminfo_kb MemAvailable) kB available, schedule $SCHED x ${P}s"
check "ready" host_ok store write "$MEET/ready-$G" 1
go() { [ "$(host store read "$MEET/go" | jstr value)" = 1 ]; }
check "the runner says go" wait_until 300 go

# file_phase END: write the file once, then read it until END (cs); MiB
# moved in $mb
file_phase() {
	mb=0
	rm -f /mnt/f
	dd if=/dev/urandom of=/mnt/f bs=1M count="$FILE" conv=fsync \
		2>/dev/null && mb=$FILE
	while [ "$(t_cs)" -lt "$1" ]; do
		dd if=/mnt/f of=/dev/null bs=1M 2>/dev/null || break
		mb=$((mb + FILE))
	done
}

t_start=$(t_cs)
i=0
oom_all=0
while [ $i -lt ${#SCHED} ]; do
	k=$(echo "$SCHED" | cut -c$((i + 1)))
	end=$((t_start + (i + 1) * P * 100))
	in0=$(vmstat pswpin); out0=$(vmstat pswpout)
	oom0=$(vmstat oom_kill); psi0=$(psi_us)
	t0=$(t_cs)
	ops=0
	mb=0
	case "$k" in
	A)
		left=$(((end - t0) / 100))
		[ "$left" -gt 1 ] || left=1
		rm -f /tmp/oc.yaml
		stress-ng --vm 1 --vm-bytes "$VM"M --vm-keep --timeout "$left"s \
			--metrics-brief --yaml /tmp/oc.yaml >/tmp/oc.log 2>&1
		ops=$(awk '$1 == "bogo-ops:" {print int($2); exit}' /tmp/oc.yaml \
			2>/dev/null)
		[ -n "$ops" ] || { ops=0; sed 's/^/# /' /tmp/oc.log | tail -5; }
		;;
	F)
		file_phase "$end"
		rm -f /mnt/f
		;;
	esac
	t1=$(t_cs)
	in1=$(vmstat pswpin); out1=$(vmstat pswpout)
	oom1=$(vmstat oom_kill); psi1=$(psi_us)
	echo "# oc-phase $G $i $k $(((t1 - t0) / 100)).$(((t1 - t0) % 100 / 10)) $ops $mb $((in1 - in0)) $((out1 - out0)) $((psi1 - psi0)) $((oom1 - oom0))"
	oom_all=$((oom_all + oom1 - oom0))
	# idle (and the rest of a phase that ended early) until the phase ends
	while [ "$(t_cs)" -lt "$end" ]; do sleep 1; done
	i=$((i + 1))
done
echo "# $G: swap used at the end $(($(meminfo_kb SwapTotal) - $(meminfo_kb SwapFree))) kB"
check "no OOM kill in the phases ($oom_all)" test "$oom_all" -eq 0
[ -z "$FILES" ] || check "umount" umount /mnt
# no swapoff: a guest left at 128 MiB cannot take back what it swapped
# out (its tmpfs root among it), and swapoff's OOM kill is no result of
# the phases
done_testing
