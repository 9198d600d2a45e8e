# SPDX-License-Identifier: GPL-2.0
# Guest side of the block benchmark (tests/bench/run.py blk): the same
# fio jobs, one after the other on each disk, job by job (so a change in
# the host's load moves every disk's row, not one), on
#   vbd     vblkfront (persistent grants, a queue per vCPU) on vpv-blkback
#           --direct, image PVKIT_BENCH_VBD
#   virtio  QEMU virtio-blk-pci, aio=io_uring, cache=none (serial
#           pvkit-virtio)
#   vhost   vhost-user-blk-pci on qemu-storage-daemon (io_uring,
#           cache.direct), when QEMU could start it (PVKIT_BENCH_VHOST=1)
# then vbd again with persistent=0, with transient=0 (big requests
# copied through the persistent pages too), with max_queues=1, with
# vhypercall not negotiating the device doorbell and without the
# per-CPU vectors.  Each fio run
# prints its JSON between '# fio-json DISK JOB' and '# fio-json-end';
# run.py makes the table.
# pvkit-programs: fio
# pvkit-kmodules: virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
. /tests/lib.sh
RT=${PVKIT_BENCH_RUNTIME:-8}
# name rw bs iodepth numjobs
JOBS="randread4k-qd1 randread 4k 1 1
randread4k-qd32 randread 4k 32 1
randwrite4k-qd32 randwrite 4k 32 1
read1m-qd4 read 1M 4 1
write1m-qd4 write 1M 4 1
randread4k-qd16x2 randread 4k 16 2"
# the rows of the persistent-grant and queue-count variants
VJOBS="randread4k-qd32 randwrite4k-qd32 read1m-qd4 randread4k-qd16x2"
# run.py --jobs a,b: only those (a quick look at some rows)
if [ -n "$PVKIT_BENCH_JOBS" ]; then
	JOBS=$(echo "$JOBS" | while read -r name rest; do
		case ",$PVKIT_BENCH_JOBS," in *",$name,"*) echo "$name $rest" ;; esac
	done)
fi

# fio_json DISK DEV NAME RW BS QD NJ: one measurement, its JSON on ttyS1
fio_json() {
	echo "# fio-json $1 $3"
	fio --name="$3" --filename="$2" --ioengine=libaio --direct=1 --eta=never \
		--rw="$4" --bs="$5" --iodepth="$6" --numjobs="$7" \
		--group_reporting --time_based --runtime="$RT" --ramp_time=1 \
		--size=192M --lat_percentiles=1 \
		--output-format=json 2>&1 | sed 's/^/# /'
	echo "# fio-json-end"
}
serial() { cat /sys/block/"$1"/serial 2>/dev/null; }
vbd_add() {
	host_ok device add "$G" vbd 0 --image "$PVKIT_BENCH_VBD" --direct &&
		wait_until 30 blkdev 0 >/dev/null
}
vbd_del() {
	host_ok device remove "$G" vbd/0
	wait_until 20 sh -c '! ls /sys/bus/vpv/devices/vbd-0/block >/dev/null 2>&1'
}

check "virtio-blk modules" kmods_load virtio_ring virtio virtio_pci_modern_dev \
	virtio_pci_legacy_dev virtio_pci virtio_blk
check "insmod vhypercall" insmod "$(mod vhypercall)"
G=$(guest_name)
sleep 2
V=
H=
for b in /sys/block/vd*; do
	[ -e "$b" ] || continue
	n=${b##*/}
	if [ "$(serial $n)" = pvkit-virtio ]; then V=/dev/$n; else H=/dev/$n; fi
done
check "the virtio-blk disk ($V)" test -b "$V"
[ "$PVKIT_BENCH_VHOST" = 1 ] &&
	check "the vhost-user-blk disk ($H)" test -b "$H"
[ "$PVKIT_BENCH_VHOST" = 1 ] || H=
B=
if [ -f "$(mod vblkfront)" ] && [ -n "$PVKIT_BENCH_VBD" ]; then
	check "insmod vblkfront" insmod "$(mod vblkfront)"
	check "host adds vbd 0 --direct" vbd_add
	B=$(blkdev 0)
	echo "# vbd: $B, $(bfstat 0 queues) queues, persistent $(bfstat 0 persistent)"
	q=/sys/block/${B#/dev/}/queue
	echo "# vbd queue: max_sectors_kb $(cat $q/max_sectors_kb) max_hw_sectors_kb $(cat $q/max_hw_sectors_kb) max_segments $(cat $q/max_segments) max_segment_size $(cat $q/max_segment_size)"
fi
echo "# disks: vbd=${B:-none} virtio=$V vhost=${H:-none}"

# sectors per request of DISK since the last call, from /sys/block/*/stat;
# where vbd 0's time went in the back-end (cumulative, the host's
# "blk" "time" counters)
reqsize() {
	set -- $(cat /sys/block/"${1#/dev/}"/stat)
	echo "# $1 reads, $3 sectors; $5 writes, $7 sectors (cumulative)"
	echo "# vbd time: $(vbd_entry 0 | grep -o '"time":{[^}]*}')"
}
echo "$JOBS" | while read -r name rw bs qd nj; do
	[ -n "$B" ] && fio_json vbd "$B" "$name" "$rw" "$bs" "$qd" "$nj" &&
		reqsize "$B"
	fio_json virtio "$V" "$name" "$rw" "$bs" "$qd" "$nj"
	[ -n "$H" ] && fio_json vhost "$H" "$name" "$rw" "$bs" "$qd" "$nj"
done

# variants: persistent grants off; one queue; (VH: vhypercall's
# parameters, VJ: the jobs, default VJOBS)
variant() {
	label=$1; shift
	check "host removes vbd 0" vbd_del
	check "rmmod vblkfront" rmmod vblkfront
	if [ -n "$VH" ]; then
		check "rmmod vhypercall" rmmod vhypercall
		check "insmod vhypercall $VH" insmod "$(mod vhypercall)" $VH
	fi
	check "insmod vblkfront $*" insmod "$(mod vblkfront)" "$@"
	check "host adds vbd 0 again" vbd_add
	B=$(blkdev 0)
	echo "# $label: $B, $(bfstat 0 queues) queues, persistent $(bfstat 0 persistent)"
	echo "$JOBS" | while read -r name rw bs qd nj; do
		case " ${VJ:-$VJOBS} " in *" $name "*) ;; *) continue ;; esac
		fio_json "$label" "$B" "$name" "$rw" "$bs" "$qd" "$nj" &&
			reqsize "$B"
	done
}
if [ -n "$B" ]; then
	variant vbd-nopersist persistent=0
	variant vbd-copy transient=0
	variant vbd-1queue max_queues=1
	# the device doorbell (VPV_F_DEV_DOORBELL, bit 5) not negotiated:
	# the guest's events go through the stub's hypercall thread
	VH=features_mask=0xffffffffffffffdf \
		VJ="randread4k-qd1 randread4k-qd16x2 write1m-qd4" \
		variant vbd-evtchn
	# no per-CPU vectors (VPV_F_CPU_VECTORS, bit 6): every answer
	# interrupts the one CPU of VPV_VEC_EVTCHN
	VH=features_mask=0xffffffffffffffbf \
		VJ="randread4k-qd1 randread4k-qd16x2" \
		variant vbd-1vector
fi
done_testing
