# SPDX-License-Identifier: GPL-2.0
# Guest side of the balloon benchmark: the same guest and kernel balloon
# SIZE MiB first with vballoon, then with virtio_balloon.  The host side
# (tests/bench/run.py) sets the targets, times how long until the host
# has the memory (vballoon: its P2M; virtio: QEMU's balloon size) and
# measures the RAM file; this script prepares the guest between runs.
. /tests/lib.sh
SIZE=${PVKIT_BENCH_SIZE:-256}
HOST_TIMEOUT=300
fill() { fill_mem $(($(meminfo_kb MemAvailable) / 1024 - 16)); }
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vballoon page_reporting=0" insmod "$(mod vballoon)" page_reporting=0
fill
r=$(host bench-balloon vballoon "$SIZE")
echo "# vballoon $r"
check "vballoon measured" sh -c "echo '$r' | grep -q inflate_s"
check "rmmod vballoon" rmmod vballoon
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev \
	virtio_pci virtio_balloon; do
	check "insmod $m" insmod "$(mod $m)"
done
fill
r=$(host bench-balloon virtio "$SIZE")
echo "# virtio $r"
check "virtio_balloon measured" sh -c "echo '$r' | grep -q inflate_s"
done_testing
