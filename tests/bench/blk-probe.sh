# SPDX-License-Identifier: GPL-2.0
# tests/bench/run.py blk, before the benchmark: does the vhost-user-blk
# disk (the only virtio disk of this boot) appear and read?  A read
# that QEMU cannot serve hangs: it runs in the background, given 30 s.
# pvkit-kmodules: virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
. /tests/lib.sh
check "virtio-blk modules" kmods_load virtio_ring virtio virtio_pci_modern_dev \
	virtio_pci_legacy_dev virtio_pci virtio_blk
vd() { ls /sys/block | grep -q '^vd'; }
check "a vhost-user-blk disk appears" wait_until 10 vd
d=/dev/$(ls /sys/block | grep '^vd' | head -n1)
(dd if="$d" of=/dev/null bs=1M count=1 && echo ok > /tmp/rd) >/dev/null 2>&1 &
check "1 MiB reads from it" wait_until 30 test -e /tmp/rd
done_testing
