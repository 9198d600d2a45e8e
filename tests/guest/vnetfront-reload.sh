# SPDX-License-Identifier: GPL-2.0
# vnetfront's lifecycle (issue 14: hot-unplug during traffic; unload and
# reload 50 times, no leak), with vpv-netback on pvtap0 (10.77.0.1 the
# host, 10.77.0.2 us; tests/harness/netagent.py):
#  - the host removes vif 0 during a TCP transfer to it: the interface
#    goes, the sender fails by itself (TCP gives up: tcp_retries2 3),
#    no WARNING, no "waiting for pvnN to become free"
#  - NETR_CYCLES (50) cycles of insmod vnetfront, device add, interface
#    up, one ping, device remove, rmmod
#  - nothing left behind: no vif-* line in /proc/interrupts and as many
#    lines as before, vhypercall's ports_open as before, the guest's
#    free grant references (vhypercall has no grant counter in debugfs:
#    vnetfront's gnttab_free, read at the same point, once connected and
#    pinged, before the unplug, in the first and in the last cycle)
#    equal; kmemleak on the debug kernel
# pvkit-programs: socat
. /tests/lib.sh
G=$(guest_name)
HA=10.77.0.1
GA=10.77.0.2
CYCLES=${NETR_CYCLES:-50}
V=/sys/kernel/debug/vnetfront/0

command -v kmemleak_check >/dev/null 2>&1 ||
	kmemleak_check() { check "$1" kmemleak_clean; }

netif() { vif_netif 0; }
no_netif() { ! netif >/dev/null; }
no_dev() { [ ! -e /sys/bus/vpv/devices/vif-0 ]; }
carrier() { if_carrier "$N"; }
nf() { awk -v k="$1" '$1 == k {print $2; exit}' $V/stats 2>/dev/null; }
vh() { awk -v k="$1" '$1 == k {print $2}' /sys/kernel/debug/vhypercall/stats; }
vif_irqs() { grep -c 'vif-' /proc/interrupts; }
irq_lines() { wc -l < /proc/interrupts; }
warnings() { dmesg | grep -c -e 'WARNING' -e 'to become free' -e 'BUG'; }
# poll TENTHS command...: every 0.1 s until it succeeds
poll() {
	t=$1; shift
	while [ "$t" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		t=$((t - 1))
	done
	"$@"
}
# stable KEY: vnetfront's KEY once two reads 0.5 s apart agree
stable() {
	a=$(nf "$1")
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.5
		b=$(nf "$1")
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$a"
}

check "insmod vhypercall" insmod "$(mod vhypercall)"
irq0=$(irq_lines)
ports0=$(vh ports_open)
w0=$(warnings)
echo "# before: /proc/interrupts $irq0 lines, ports_open $ports0"

# hot-unplug during a TCP transfer
check "insmod vnetfront" insmod "$(mod vnetfront)"
check "host adds vif 0 on pvtap0" host_ok device add "$G" vif 0 --tap pvtap0
check "vif 0's interface appears" wait_until 30 netif
N=$(netif)
need "$N" "vif 0's interface"
check "$N up with $GA" sh -c "ip addr add $GA/24 dev $N && ip link set $N up"
check "$N: carrier on" wait_until 30 carrier
check "we ping the host" ping -c 2 -W 3 $HA
gf0=$(stable gnttab_free)
echo "# up: gnttab_free $gf0, vif irqs $(vif_irqs), ports_open $(vh ports_open)"
r2=$(cat /proc/sys/net/ipv4/tcp_retries2)
# a TCP sender whose peer is unreachable gives up after a few seconds
echo 3 > /proc/sys/net/ipv4/tcp_retries2
check "host listens on 6100" host_ok net recv 6100
rm -f /tmp/urc
(dd if=/dev/urandom bs=64k count=16384 2>/dev/null |
	socat -u - TCP:$HA:6100,connect-timeout=10 2>/tmp/uerr
	echo $? > /tmp/urc) &
sending() { [ "$(cat /sys/class/net/"$N"/statistics/tx_bytes)" -gt 1048576 ]; }
check "the transfer is under way" poll 300 sending
check "host removes vif 0 during the transfer" host_ok device remove "$G" vif/0
check "the interface goes" wait_until 30 no_netif
check "the bus device goes" wait_until 30 no_dev
done_sending() { [ -s /tmp/urc ]; }
check "the sender fails by itself" wait_until 90 done_sending
echo "# sender: rc $(cat /tmp/urc 2>/dev/null) $(head -c 200 /tmp/uerr 2>/dev/null)"
check "the sender failed (rc $(cat /tmp/urc 2>/dev/null))" \
	sh -c '[ -s /tmp/urc ] && [ "$(cat /tmp/urc)" != 0 ]'
killall socat 2>/dev/null
wait
r=$(HOST_TIMEOUT=10 host net result 6100 1)
echo "# the host's end: $r"
echo "$r2" > /proc/sys/net/ipv4/tcp_retries2
check "no WARNING after the unplug" test "$(warnings)" = "$w0"
check "rmmod vnetfront after the unplug" rmmod vnetfront
check "no vif IRQ left after the unplug" test "$(vif_irqs)" = 0

# the cycles
cycle() {
	step=insmod
	insmod "$(mod vnetfront)" || return 1
	step="device add"
	host_ok device add "$G" vif 0 --tap pvtap0 || return 1
	step=netif
	poll 300 netif >/dev/null || return 1
	N=$(netif)
	step=up
	ip addr add $GA/24 dev "$N" && ip link set "$N" up || return 1
	step=carrier
	poll 300 carrier || return 1
	step=ping
	ping -c 1 -W 3 $HA >/dev/null || ping -c 1 -W 3 $HA >/dev/null ||
		return 1
	if [ "$1" = 1 ] || [ "$1" = "$CYCLES" ]; then
		gf=$(stable gnttab_free)
		eval "gf$1=$gf"
		echo "# cycle $1: $N, gnttab_free $gf, vif irqs $(vif_irqs), queues $(nf queues)"
	fi
	step="device remove"
	host_ok device remove "$G" vif/0 || return 1
	step=gone
	poll 300 no_dev || return 1
	step=rmmod
	rmmod vnetfront || return 1
}
i=1
bad=0
t0=$(t_cs)
while [ $i -le "$CYCLES" ]; do
	if ! cycle $i; then
		bad=$((bad + 1))
		echo "# cycle $i failed at $step"
		loaded vnetfront && { host device remove "$G" vif/0 >/dev/null
			poll 300 no_dev; rmmod vnetfront; }
	fi
	i=$((i + 1))
done
t1=$(t_cs)
echo "# $CYCLES cycles in $(((t1 - t0) / 100)).$(((t1 - t0) / 10 % 10)) s"
check "$CYCLES cycles of load, add, up, ping, remove, unload ($bad failed)" test $bad = 0
check "vnetfront unloaded" sh -c '! grep -q "^vnetfront " /proc/modules'
eval "ga=\$gf1 gb=\$gf$CYCLES"
check "free grant references: before the unplug $gf0, cycle 1 $ga, cycle $CYCLES $gb" \
	sh -c "[ -n '$gf0' ] && [ '$gf0' = '$ga' ] && [ '$ga' = '$gb' ]"
check "no vif IRQ left ($(vif_irqs))" test "$(vif_irqs)" = 0
check "/proc/interrupts: $irq0 lines before, $(irq_lines) after" \
	test "$(irq_lines)" = "$irq0"
check "vhypercall ports_open: $ports0 before, $(vh ports_open) after" \
	test "$(vh ports_open)" = "$ports0"
check "no WARNING" test "$(warnings)" = "$w0"
check "rmmod vhypercall" rmmod vhypercall
if [ "$PVKIT_KERNEL" = test ]; then
	kmemleak_check "kmemleak: no leak"
fi
done_testing
