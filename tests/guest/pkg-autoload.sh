# SPDX-License-Identifier: GPL-2.0
# pvkit as installed from its Debian package (tests/pkg_test.py): the
# image has no module of the checkout (/modules is empty), only the
# Debian root's /lib/modules/$(uname -r) with what pvkit-dkms built
# there, its kmod and its udev.  systemd-udevd's coldplug (what
# systemd-udev-trigger.service does at boot) loads vhypercall from the
# ivshmem PCI IDs, modprobe loads vballoon from /lib/modules, and the
# hot-plugged vloop device loads vloopfront through its bus modalias
# vpv:vloop, a hot-plugged vbd vblkfront through vpv:vbd.  No insmod,
# no path to a .ko.
. /tests/lib.sh
K=/lib/modules/$(uname -r)
UDEVD=/usr/lib/systemd/systemd-udevd
UDEVADM=/usr/bin/udevadm
MODPROBE=/usr/sbin/modprobe

check "no module of the checkout in the image" \
	sh -c '! ls /modules/*.ko >/dev/null 2>&1'
check "pvkit-dkms's vhypercall.ko in $K/updates/dkms" \
	test -f $K/updates/dkms/vhypercall.ko
check "modules.alias maps the ivshmem PCI IDs to vhypercall" \
	grep -q '^alias pci:v00001AF4d00001110.* vhypercall$' $K/modules.alias
check "modules.alias maps vpv:vloop to vloopfront" \
	grep -q '^alias vpv:vloop vloopfront$' $K/modules.alias
check "modules.alias maps vpv:vbd to vblkfront" \
	grep -q '^alias vpv:vbd vblkfront$' $K/modules.alias
check "modules.alias maps vpv:vif to vnetfront" \
	grep -q '^alias vpv:vif vnetfront$' $K/modules.alias
check_fails "vhypercall not loaded before udev runs" loaded vhypercall

# udev as a Debian system starts it (/run is its database)
mkdir -p /run
mount -t tmpfs -o mode=0755 tmpfs /run
check "systemd-udevd --daemon starts" $UDEVD --daemon --resolve-names=never
check "udevadm trigger (subsystems)" $UDEVADM trigger --type=subsystems --action=add
check "udevadm trigger (devices)" $UDEVADM trigger --type=devices --action=add
$UDEVADM settle --timeout=120
check "vhypercall autoloaded from the ivshmem PCI IDs" wait_until 60 loaded vhypercall
bound() { ls -d /sys/bus/pci/drivers/vhypercall/0000:* >/dev/null 2>&1; }
check "vhypercall bound to the ivshmem device" wait_until 30 bound

check "modprobe vballoon" $MODPROBE vballoon
check "vballoon loaded" loaded vballoon
check "modprobe finds vballoon in $K/updates/dkms" \
	sh -c "$MODPROBE --show-depends vballoon | grep -q 'insmod $K/updates/dkms/vballoon.ko'"
# rmmod, not modprobe -r: that would take the unused vhypercall too
check "rmmod vballoon" rmmod vballoon
check "vhypercall stays loaded" loaded vhypercall

G=$(guest_name)
check "guest name from the host (${G:-?})" test -n "$G"
check_fails "vloopfront not loaded before the hot-plug" loaded vloopfront
check "host adds vloop 0" host_ok device add "$G" vloop 0
check "vloopfront autoloaded through vpv:vloop" wait_until 60 loaded vloopfront
vdev() { grep -l '^vpv:vloop$' /sys/bus/vpv/devices/*/modalias 2>/dev/null | head -n1; }
drv() { d=$(vdev) && [ "$(basename "$(readlink "${d%/modalias}/driver")")" = vloopfront ]; }
check "the vloop device's modalias is vpv:vloop, bound to vloopfront" wait_until 30 drv
conn() { host device list "$G" | grep -q '"type":"vloop","id":0,.*"connected":true'; }
check "vloop 0 connected (host's device list)" wait_until 30 conn
check "host removes vloop/0" host_ok device remove "$G" vloop/0

# a disk: vblkfront through vpv:vbd (a NIC would need a tap, made on the
# host outside a network namespace: its alias is checked above)
check_fails "vblkfront not loaded before the hot-plug" loaded vblkfront
I0=$(img_create p0 16M)
check "host adds vbd 0 (${I0:-no image})" host_ok device add "$G" vbd 0 --image "$I0"
check "vblkfront autoloaded through vpv:vbd" wait_until 60 loaded vblkfront
check "vbd 0's disk appears" wait_until 30 blkdev 0
check "host removes vbd/0" host_ok device remove "$G" vbd/0
echo "# modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
$UDEVADM control --exit 2>/dev/null
done_testing
