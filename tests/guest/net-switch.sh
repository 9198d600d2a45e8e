# SPDX-License-Identifier: GPL-2.0
# Guest <-> guest through the vif switch (Documentation/host-stub.rst,
# vpv-netswitch): run by two guests under one stub (tests/run.py's
# "net-switch"), "swa" and "swb" ($PVKIT_GUEST); each adds its own
# vif 0 --switch sw0 through the agent.  No tap, no host network: the
# segment is the switch's.  The two meet through the host's config
# store (host store write/read of /local/domain/0/pvkit-sw/KEY):
#  - ping both ways (10.78.0.1 and .2)
#  - SW_MB MiB each way at once over TCP, the receiver's sha256 equal to
#    the sender's (sent through the store)
#  - offloads off on the sender (TSO, GSO, checksums, SG): SW_OFF_MB MiB
#    each way, the same bytes
#  - MTU 9000 on vif 1 --switch sw1 --mtu 9000: unfragmented 8972-byte
#    pings both ways, SW_JUMBO_MB MiB each way
#  - swb kills its own vpv-netback SW_KILLS times while swa sends it
#    SW_KILL_MB MiB, and swa kills vpv-netswitch once meanwhile: the
#    transfer completes, sha256 equal
# pvkit-programs: socat ethtool iputils-ping:ping
. /tests/lib.sh
MB=${SW_MB:-256}
JMB=${SW_JUMBO_MB:-32}
# offloads off: the guests' stacks segment and checksum (slow under TCG)
OMB=${SW_OFF_MB:-32}
KMB=${SW_KILL_MB:-128}
KILLS=${SW_KILLS:-3}
G=$(guest_name)
case "$G" in
swa) ME=1 PEER=2 PG=swb ;;
*) ME=2 PEER=1 PG=swa ;;
esac
MEET=/local/domain/0/pvkit-sw

me() { echo "10.78.$1.$ME"; }
peer() { echo "10.78.$1.$PEER"; }
netif() { vif_netif "$1"; }
carrier() { if_carrier "$1"; }
# rep MB: MB MiB (a multiple of 8): /tmp/blk, 8 MiB of random bytes of
# this guest's own, repeated
rep() {
	i=0
	while [ $i -lt $(($1 / 8)) ]; do
		cat /tmp/blk
		i=$((i + 1))
	done
}
dd if=/dev/urandom of=/tmp/blk bs=1M count=8 2>/dev/null
# send N PORT MB: MB MiB to the peer's PORT on segment N (the listener
# may not be up yet: connect retried for a minute); its sha256 to the
# store as TAG-sum
send() {
	t=0
	while ! rep "$3" | socat -u - TCP:"$(peer "$1")":"$2",connect-timeout=5 \
			2>/tmp/send.err; do
		t=$((t + 1))
		# a refused connect fails at once; data sent means it was up
		[ $t -lt 30 ] || { cat /tmp/send.err; return 1; }
		sleep 2
	done
	put "$G-$2-sum" "$(rep "$3" | sha256sum | cut -d' ' -f1)"
}
# recv_bg PORT: receive on PORT in the background, its sha256 to
# /tmp/rsum-PORT, then /tmp/rdone-PORT
recv_bg() {
	rm -f /tmp/rsum-"$1" /tmp/rdone-"$1"
	(socat -u TCP-LISTEN:"$1",reuseaddr - | sha256sum | cut -d' ' -f1 \
		> /tmp/rsum-"$1"; touch /tmp/rdone-"$1") &
}
# received PORT: the transfer on PORT ended (waits 10 min)
received() {
	wait_until 600 test -e /tmp/rdone-"$1" || { echo "no end on $1"; return 1; }
}
# same PORT: what came on PORT has the sender's sha256
same() {
	received "$1" || return 1
	wait_until 120 has "$PG-$1-sum" || { echo "no sender sum"; return 1; }
	theirs=$(get "$PG-$1-sum")
	echo "# port $1: received sha256 $(cat /tmp/rsum-"$1"), sent $theirs"
	[ "$(cat /tmp/rsum-"$1")" = "$theirs" ]
}
# both N PORT MB: MB MiB each way at once on segment N
both() {
	recv_bg "$2"
	meet "listen-$2" || return 1
	t0=$(t_cs)
	send "$1" "$2" "$3" || return 1
	same "$2" || return 1
	echo "# $3 MiB each way: $(( ($(t_cs) - t0) / 100 )) s"
}
# the host's device list names the switch; switch list shows sw0
# running after one crash
dev_on_switch() { host device list "$G" | grep -q '"switch":"sw0"'; }
sw_crashed_once() {
	host switch list |
		grep -q '"name":"sw0","pid":[1-9][0-9]*,"state":"running","crashes":1,'
}
# no port of the switches saw a malformed frame (vpv-netback writes
# only what it checked)
sw_no_bad() {
	r=$(host switch list) || return 1
	echo "$r" | grep -q '"switches"' || return 1
	! echo "$r" | grep -q '"bad":[1-9]'
}
up() { ip addr add "$(me "$1")"/24 dev "$2" && ip link set "$2" up; }

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vnetfront" insmod "$(mod vnetfront)"
check "$G adds vif 0 on switch sw0" host_ok device add "$G" vif 0 --switch sw0
check "vif 0's interface appears" wait_until 30 netif 0
N0=$(netif 0)
need "$N0" "vif 0's interface"
check "$N0 up with $(me 0)" up 0 "$N0"
check "$N0: carrier on" wait_until 30 carrier "$N0"
check "device list names the switch" dev_on_switch
check "both guests up" meet up0
check "ping $PG through the switch" wait_until 60 /usr/bin/ping -c 2 -W 2 "$(peer 0)"
check "$MB MiB each way, sha256 equal" both 0 6001 "$MB"
host switch list | sed 's/^/# /'

# offloads off on the sender: the stack segments and checksums
check "offloads off" ethtool -K "$N0" tso off gso off tx off sg off
check "offloads off: $OMB MiB each way, sha256 equal" both 0 6002 "$OMB"
check "offloads back on" ethtool -K "$N0" tso on gso on tx on sg on

# MTU 9000 on vif 1, switch sw1
check "$G adds vif 1 on sw1, mtu 9000" host_ok device add "$G" vif 1 --switch sw1 --mtu 9000
check "vif 1's interface appears" wait_until 30 netif 1
N1=$(netif 1)
need "$N1" "vif 1's interface"
check "$N1 mtu 9000" ip link set "$N1" mtu 9000
check "$N1 up with $(me 1)" up 1 "$N1"
check "$N1: carrier on" wait_until 30 carrier "$N1"
check "both guests at mtu 9000" meet up1
check "unfragmented 8972-byte pings to $PG" wait_until 30 /usr/bin/ping -c 3 -W 3 -M do -s 8972 "$(peer 1)"
check "MTU 9000: $JMB MiB each way, sha256 equal" both 1 6011 "$JMB"

# kills during a transfer swa -> swb: swb's vpv-netback, and once
# vpv-netswitch (by swa)
killer() {
	while [ $kills -lt "$KILLS" ] && [ ! -e /tmp/kdone ]; do
		sleep "0.$(( $(od -An -N2 -tu2 /dev/urandom) % 8 + 2 ))"
		be_kill_once vif/0
		wait_until 30 carrier "$N0"
	done
	echo "$kills" > /tmp/kills
}
swkill() {
	sleep 3
	r=$(host switch kill sw0)
	echo "$r" > /tmp/swkill
}
rm -f /tmp/kdone /tmp/kills /tmp/swkill
if [ "$G" = swb ]; then
	recv_bg 6021
	check "swb listens for the kill run" meet listen-6021
	killer &
	kp=$!
	check "$KMB MiB from swa across $KILLS netback kills and a switch kill" received 6021
	touch /tmp/kdone
	wait $kp
	check "... sha256 equal" same 6021
	echo "# $(cat /tmp/kills) kills of swb's vpv-netback during the transfer"
	check "$KILLS kills landed ($(cat /tmp/kills))" test "$(cat /tmp/kills)" -eq "$KILLS"
	check "$N0: carrier on after the kills" wait_until 30 carrier "$N0"
else
	check "swb listens for the kill run" meet listen-6021
	swkill &
	sp=$!
	check "$KMB MiB to swb across its kills" send 0 6021 "$KMB"
	wait $sp
	echo "# $(cat /tmp/swkill)"
	check "vpv-netswitch was killed during it" grep -q '"killed":[1-9]' /tmp/swkill
	check "switch list: sw0 crashed once, runs" sw_crashed_once
fi
check "both done with the kill run" meet kills
check "ping $PG after the kills" wait_until 30 /usr/bin/ping -c 2 -W 2 "$(peer 0)"
check "no malformed frame reached the switches" sw_no_bad
host switch list | sed 's/^/# /'
# this guest's vifs as the host counted them (drops, segmentation)
for i in 0 1; do
	dev_entry vif $i | sed 's/.*"net":{\([^}]*\)}.*/# vif '$i': \1/'
done
check "both done" meet done
check "$G removes vif 1" host_ok device remove "$G" vif/1
check "$G removes vif 0" host_ok device remove "$G" vif/0
check "rmmod vnetfront" rmmod vnetfront
check "rmmod vhypercall" rmmod vhypercall
[ "$PVKIT_KERNEL" = test ] && kmemleak_check "kmemleak: no leak"
done_testing
