# SPDX-License-Identifier: GPL-2.0
# Sourced by split.sh (its st/hval/G/D/H): the vpv bus.  vhypercall and
# vpv_splittest are loaded, vloopfront is not.  A vloop device added
# with no front-end loaded makes mdev load vloopfront by its alias;
# sysfs shows the device; a port's IRQ counts events and follows its
# affinity; one slow probe does not hold up another device; the
# helpers' error paths and dev_fatal reach the host's store.
BUS=/sys/bus/vpv
KV=$(uname -r)
NCPU=$(grep -c ^processor /proc/cpuinfo)
be() { echo /local/domain/0/backend/vloop/$D/$1; }
sysattr() { cat $BUS/devices/vloop-$1/$2 2>/dev/null; }
fe_state_is() { [ "$(hval $H/device/vloop/$1/state)" = "$2" ]; }
# err_starts N TEXT: the host reads error/device/vloop/N/error = TEXT...
err_starts() {
	case "$(hval $H/error/device/vloop/$1/error)" in
	"$2"*) return 0 ;;
	esac
	return 1
}
bus_connected() {
	[ "$(sysattr $1 state)" = Connected ] &&
		[ "$(sysattr $1 otherend_state)" = Connected ]
}

# modprobe's view of the modules: depmod writes modules.alias
mkdir -p /lib/modules/$KV
cp /modules/*.ko /lib/modules/$KV/
check "depmod: modules.alias has vpv:vloop" sh -c \
	"depmod -a && grep -q 'vpv:vloop' /lib/modules/$KV/modules.alias"
echo '$MODALIAS=.* 0:0 660 @modprobe "$MODALIAS"' > /etc/mdev.conf
mdev -df > /tmp/mdev.log 2>&1 &
MDEV=$!
sleep 1
check "no front-end loaded" sh -c "! grep -q '^vloopfront ' /proc/modules"
check "host adds vloop 3" host_ok device add "$G" vloop 3
check "mdev loads vloopfront (MODALIAS=vpv:vloop)" \
	wait_until 30 loaded vloopfront
check "vloop-3 Connected (sysfs state, otherend_state)" \
	wait_until 30 bus_connected 3
check "ls /sys/bus/vpv/devices: vloop-3 ($(ls $BUS/devices | tr '\n' ' '))" \
	sh -c "ls $BUS/devices | grep -qx vloop-3"
check "sysfs nodename" test "$(sysattr 3 nodename)" = "$H/device/vloop/3"
check "sysfs otherend" test "$(sysattr 3 otherend)" = "$(be 3)"
check "sysfs modalias" test "$(sysattr 3 modalias)" = vpv:vloop
check "sysfs devtype" test "$(sysattr 3 devtype)" = vloop
check "bound to vloopfront" \
	test "$(basename "$(readlink $BUS/devices/vloop-3/driver)")" = vloopfront
check "parent: the ivshmem PCI device (vendor 0x1af4)" \
	test "$(cat "$(readlink -f $BUS/devices/vloop-3)/../vendor")" = 0x1af4

# the event channel as a Linux IRQ
irqline() { grep " vloop-3\$" /proc/interrupts; }
irqcol() { irqline | awk -v c="$1" '{print $c}'; }
irqsum() { irqline | awk -v n="$NCPU" '{s = 0; for (i = 2; i <= n + 1; i++) s += $i; print s}'; }
V3=/sys/kernel/debug/vloopfront/3
check "vloop-3's IRQ in /proc/interrupts, chip vpv-evtchn" \
	sh -c "grep ' vloop-3\$' /proc/interrupts | grep -q vpv-evtchn"
IRQ=$(irqline | awk '{sub(":", "", $1); print $1}')
echo "# $(irqline)"
c0=$(irqsum)
check "run 2000 on vloop-3" sh -c "echo 2000 > $V3/run"
check "its IRQ counted events (${c0:-?} -> $(irqsum))" test "$(irqsum)" -gt "${c0:-0}"
last=$((NCPU - 1))
check "affinity to CPU$last" sh -c "echo $last > /proc/irq/$IRQ/smp_affinity_list"
check "effective affinity CPU$last" \
	test "$(cat /proc/irq/$IRQ/effective_affinity_list)" = "$last"
a=$(irqcol $((last + 2)))
check "run 2000 after the move" sh -c "echo 2000 > $V3/run"
check "all ok" test "$(cat $V3/results)" = "requests 2000 ok 2000 failed 0"
check "CPU$last counts them (${a:-?} -> $(irqcol $((last + 2))))" \
	test "$(irqcol $((last + 2)))" -gt "${a:-0}"
if [ "$NCPU" -ge 2 ]; then
	b=$(irqsum)
	a=$(irqcol 2)
	check "affinity back to CPU0" sh -c "echo 0 > /proc/irq/$IRQ/smp_affinity_list"
	check "run 2000 on CPU0" sh -c "echo 2000 > $V3/run"
	check "CPU0 counts them (${a:-?} -> $(irqcol 2))" \
		test "$(irqcol 2)" -gt "${a:-0}"
fi

# one slow probe (vloop-4: it waits until told, at most 120 s) does not
# hold up vloop-5
check "rmmod vloopfront (vloop-3 unbound)" rmmod vloopfront
check "vloop-3 told Closed" wait_until 10 fe_state_is 3 6
check "insmod vloopfront slow_probe_id=4" \
	insmod "$(mod vloopfront)" slow_probe_id=4 slow_probe_ms=120000
check "vloop-3 connects again" wait_until 30 bus_connected 3
check "host adds vloop 4" host_ok device add "$G" vloop 4
check "host adds vloop 5" host_ok device add "$G" vloop 5
t0=$(cut -d. -f1 /proc/uptime)
check "vloop-5 connects while vloop-4 probes" wait_until 60 bus_connected 5
t1=$(cut -d. -f1 /proc/uptime)
check "vloop-4 not connected yet ($((t1 - t0)) s)" test "$(sysattr 4 state)" != Connected
check "end vloop-4's probe" \
	sh -c "echo 1 > /sys/module/vloopfront/parameters/slow_probe_go"
check "vloop-4 connects after its probe" wait_until 40 bus_connected 4

# the helpers' error paths (vloop-4): documented errnos, nothing leaked;
# the ring's error is fatal: vloop-4 ends Closing, the host sees why
r=$(st helpers vloop-4)
echo "# helpers: $r"
check "helpers: bad ring sizes -EINVAL, long key -E2BIG, absolute key -EINVAL, no number -ERANGE, absent feature its default, a 2-page ring, short buffer -EOVERFLOW, grants all back" \
	test "$r" = "OK ring0 -22 ring17 -22 longkey -7 abskey -22 scan -34 feature 7 ring2 0 small -75 grants_back 1"
check "host reads error/device/vloop/4/error" err_starts 4 "22 granting a ring"
closing() {
	[ "$(sysattr $1 state)" = Closing ] &&
		[ "$(hval $H/device/vloop/$1/state)" = 5 ] &&
		[ "$(hval "$(be $1)"/state)" = 5 ]
}
check "vloop-4 ends Closing, its back-end too" wait_until 10 closing 4

# dev_fatal on a connected device (vloop-5): error in the store, torn
# down (its IRQ gone), and it stays Closing
check "dev_fatal on vloop-5" st_is "OK 5" fatal vloop-5
check "host reads error/device/vloop/5/error" err_starts 5 "5 test: fatal"
check "vloop-5 ends Closing, its back-end too" wait_until 10 closing 5
torn() { ! grep -q ' vloop-5$' /proc/interrupts; }
check "vloop-5 torn down (IRQ freed)" wait_until 10 torn
sleep 2
check "vloop-5 still Closing" closing 5
check "vloop-3 untouched" bus_connected 3

# removed and added again at once (vloop-5 first, whose front-end is
# Closing): the new device's add must wait for the old one's removal,
# which still holds the name in sysfs (it failed -EEXIST with sysfs's
# duplicate-name warning and never came back)
# (the host's removal may wait for a front-end that stays Closing: add
# again as soon as the host no longer has it)
hgone() { ! dev_entry vloop "$1" >/dev/null; }
readd() {
	host_ok device remove "$G" vloop/"$1" && wait_until 10 hgone "$1" &&
		host_ok device add "$G" vloop "$1"
}
check "vloop 5 removed and added again at once" readd 5
check "the new vloop-5 Connected" wait_until 20 bus_connected 5
readd3() {
	for n in 1 2 3 4 5; do
		readd 3 || return 1
	done
}
check "vloop 3 removed and added again at once, 5 times" readd3
# connected_or_tell N: vloop-N Connected within 20 s, else what the bus
# and the kernel's log say (printed under the failed check)
connected_or_tell() {
	wait_until 20 bus_connected "$1" && return 0
	echo "vloop-$1: state $(sysattr "$1" state), otherend $(sysattr "$1" otherend_state)"
	echo "bus: $(ls $BUS/devices | tr '\n' ' ')"
	dmesg | grep -E "vpv|vloop" | tail -n 40
	return 1
}
check "the new vloop-3 Connected" connected_or_tell 3
check "no device the bus could not add" sh -c '! dmesg | grep -q "cannot add"'
for i in 3 4 5; do
	check "host removes vloop/$i" host_ok device remove "$G" vloop/$i
done
empty() { [ -z "$(ls $BUS/devices)" ]; }
check "/sys/bus/vpv/devices empty" wait_until 20 empty
check "rmmod vloopfront (bus)" rmmod vloopfront
kill $MDEV 2>/dev/null
wait $MDEV 2>/dev/null
