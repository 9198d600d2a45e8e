# SPDX-License-Identifier: GPL-2.0
# The split network device end to end (Documentation/netif.rst): a vif
# hot-plugged into this guest on a tap of the run's own network
# namespace (tests/harness/netagent.py: vpv-host runs in it, the host's
# addresses 10.77.N.1 on pvtapN; nothing leaves the machine):
#  - the interface appears, carrier on once Connected, the MAC the
#    host's store gives
#  - ping both ways; TCP transfers through socat, both ways at once
#    (the host sends, the guest sends it back, the host compares the
#    sha256): NET_MB MiB at MTU 1500 (vif 0), NET_JUMBO_MB at MTU 9000
#    (vif 1, --mtu 9000; pings of 8972 bytes unfragmented); and 16 MiB
#    each way hashed in the guest
#  - offloads off (TSO, GSO, checksums) move the same bytes (NET_OFF_MB
#    MiB each way); ethtool -S counters and the host's per-device
#    counters move as they should
#  - vpv-netback killed NET_KILLS times during one long transfer: the
#    interface stays up, the transfer completes, sha256 equal
#  - hot-unplug during traffic: the interface goes, the sender fails
#    cleanly; unload and reload of vnetfront; a vif added with --rate 2M
#    sends 8 MiB in 3 to 10 s, tx_rate_waits counted
# pvkit-programs: socat ethtool iputils-ping:ping
. /tests/lib.sh
MB=${NET_MB:-256}
# MTU 9000: the same paths with bigger frames; less, to keep the run short
JMB=${NET_JUMBO_MB:-64}
KILLS=${NET_KILLS:-5}
# the kill run: long enough to span the kills and their reconnects
KMB=${NET_KILL_MB:-384}
# offloads off: every segment and checksum in software, so less again
OMB=${NET_OFF_MB:-32}
G=$(guest_name)

haddr() { echo "10.77.$1.1"; }
gaddr() { echo "10.77.$1.2"; }
# netif ID: the interface of vif ID (none yet: empty, fails)
netif() { vif_netif "$1"; }
no_netif() { ! netif "$1" >/dev/null; }
carrier() { if_carrier "$1"; }
# estat IF NAME: one ethtool -S counter
estat() { ethtool -S "$1" | awk -v k="$2:" '$1 == k {print $2; exit}'; }
# result PORT: the host's end of a transfer, once done (waits 10 min)
result() {
	i=0
	while [ $i -lt 30 ]; do
		r=$(HOST_TIMEOUT=30 host net result "$1" 20)
		case "$r" in *pending*) i=$((i + 1)) ;; *) echo "$r"; return 0 ;; esac
	done
	return 1
}
# same PORT MB SUMFILE: the host's end of the transfer on PORT moved MB
# MiB with the sha256 that sha256sum wrote to SUMFILE here
same() {
	r=$(result "$1")
	theirs=$(echo "$r" | jstr sha256)
	echo "# port $1: $(echo "$r" | jget bytes) bytes in $(echo "$r" | sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p') s, sha256 $theirs"
	[ "$(echo "$r" | jget bytes)" = $(($2 << 20)) ] &&
		[ "$(cut -d' ' -f1 "$3")" = "$theirs" ]
}
# rep MB: MB MiB (a multiple of 8) of random bytes: /tmp/blk, 8 MiB from
# /dev/urandom, repeated (TCG: urandom gives 32 MiB/s, busybox's tee 7,
# cat 300; the network is faster than the first two)
rep() {
	i=0
	while [ $i -lt $(($1 / 8)) ]; do
		cat /tmp/blk
		i=$((i + 1))
	done
}
dd if=/dev/urandom of=/tmp/blk bs=1M count=8 2>/dev/null
# to_host N PORT MB: send MB MiB to the host on PORT; compare the sha256
to_host() {
	rep "$3" | sha256sum > /tmp/sum
	host_ok net recv "$2" || return 1
	sleep 0.5
	rep "$3" | socat -u - TCP:"$(haddr "$1")":"$2",connect-timeout=10 ||
		return 1
	same "$2" "$3" /tmp/sum
}
# echo_via N PORT MB: the host sends MB MiB of random bytes to this
# guest on PORT, which sends them straight back to the host on PORT+1
# (socat): both directions carry them at once, and the host compares
# what came back with what it sent, so no guest CPU goes into hashing
# (busybox's sha256sum does 17 MiB/s under TCG)
echo_via() {
	host_ok net recv $(($2 + 1)) || return 1
	socat -u TCP-LISTEN:"$2",reuseaddr \
		TCP:"$(haddr "$1")":$(($2 + 1)),connect-timeout=10 &
	sp=$!
	sleep 0.3
	host_ok net send "$(gaddr "$1")" "$2" "$3" || return 1
	wait $sp
	sent=$(result "$2")
	back=$(result $(($2 + 1)))
	echo "# sent $(echo "$sent" | jget bytes) bytes in $(echo "$sent" | sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p') s, sha256 $(echo "$sent" | jstr sha256)"
	echo "# back $(echo "$back" | jget bytes) bytes, sha256 $(echo "$back" | jstr sha256)"
	[ "$(echo "$back" | jget bytes)" = $(($3 << 20)) ] &&
		[ "$(echo "$back" | jstr sha256)" = "$(echo "$sent" | jstr sha256)" ]
}
# from_host N PORT MB [WAIT]: the host sends MB MiB; compare the two
# sha256.  With WAIT, the reader sleeps its first WAIT seconds with an
# 8 MiB socket buffer: the socket holds the stream's pages meanwhile,
# more than vnetfront lends a queue (rx_lend_max, half an RX fill), so
# later large packets are copied (rx_lend_full)
from_host() {
	rm -f /tmp/rsum
	socat -u TCP-LISTEN:"$2",reuseaddr${4:+,rcvbuf=8388608} - |
		{ sleep "${4:-0}"; sha256sum; } > /tmp/rsum &
	sp=$!
	sleep 0.3
	host_ok net send "$(gaddr "$1")" "$2" "$3" || return 1
	wait $sp
	same "$2" "$3" /tmp/rsum
}
host_pings() {
	r=$(host net ping "$(gaddr "$1")" 5 "${2:-56}")
	echo "# $r"
	[ "$(echo "$r" | jget received)" = 5 ]
}
# up ID: configure vif ID's interface
up() {
	ip addr add "$(gaddr "$1")"/24 dev "$2" && ip link set "$2" up
}

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vnetfront" insmod "$(mod vnetfront)"
check "host adds vif 0 on pvtap0" host_ok device add "$G" vif 0 --tap pvtap0
check "vif 0's interface appears" wait_until 30 netif 0
N0=$(netif 0)
need "$N0" "vif 0's interface"
check "$N0 up with $(gaddr 0)" up 0 "$N0"
check "$N0: carrier on" wait_until 30 carrier "$N0"
mac=$(host store read "$(cat /sys/bus/vpv/devices/vif-0/otherend)/mac" | jstr value)
echo "# $N0: $(cat /sys/class/net/"$N0"/address), the store's mac: $mac"
check "$N0 has the store's MAC" test "$(cat /sys/class/net/"$N0"/address)" = "$mac"
check "ping the host on pvtap0" ping -c 5 -W 3 "$(haddr 0)"
check "the host pings $N0" host_pings 0
tx0=$(estat "$N0" tx_packets)
# vpv-netback keeps its heap (netback_main.c): the frames' buffers fault
# in once, up to its peak of about 6 MiB (64 frames being read, the
# backlogs), not again batch after batch as when glibc gave the heap
# back (3495 faults for the 256 MiB; 1270 since)
nbpid=$(dev_entry vif 0 | jget pid)
f0=$(host net faults "${nbpid:-0}" | jget minflt)
check "$MB MiB host -> guest -> host, sha256 equal" echo_via 0 5001 "$MB"
f1=$(host net faults "${nbpid:-0}" | jget minflt)
check "vpv-netback: ${f0:-?} -> ${f1:-?} page faults for $MB MiB (< 2048)" \
	test -n "$f0" -a -n "$f1" -a $((${f1:-0} - ${f0:-0})) -lt 2048
check "16 MiB made by the guest to the host, sha256 equal" to_host 0 5005 16
check "16 MiB from the host hashed by the guest, sha256 equal" from_host 0 5006 16
tx1=$(estat "$N0" tx_packets)
echo "# ethtool -S $N0: tx_packets $tx0 -> $tx1"
check "ethtool -S tx_packets moved" test "${tx1:-0}" -gt "${tx0:-0}"
# the small packets (pings, ACKs) went in persistent TX buffers
# (feature-persistent-tx), which the host keeps mapped
tp=$(estat "$N0" tx_persistent)
check "ethtool -S tx_persistent moved (${tp:-0} packets)" test "${tp:-0}" -gt 0
lf0=$(estat "$N0" rx_lend_full)
check "raise net.core.rmem_max" sh -c 'echo 16777216 > /proc/sys/net/core/rmem_max'
check "8 MiB from the host to a reader that waits, sha256 equal" \
	from_host 0 5007 8 3
lf1=$(estat "$N0" rx_lend_full)
check "ethtool -S rx_lend_full moved (${lf0:-none} -> ${lf1:-none})" \
	test "${lf1:-0}" -gt "${lf0:-0}"
ethtool -S "$N0" | sed 's/^/# /'

# offloads off: the stack segments and checksums, the same bytes move
check "offloads off" ethtool -K "$N0" tso off gso off tx off sg off
check "offloads off: $OMB MiB to the host, sha256 equal" to_host 0 5003 "$OMB"
check "offloads off: $OMB MiB from the host, sha256 equal" from_host 0 5004 "$OMB"
check "offloads back on" ethtool -K "$N0" tso on gso on tx on sg on

# MTU 9000 on vif 1
check "host adds vif 1 on pvtap1, mtu 9000" host_ok device add "$G" vif 1 --tap pvtap1 --mtu 9000
check "host's pvtap1 mtu 9000" host_ok net mtu pvtap1 9000
check "vif 1's interface appears" wait_until 30 netif 1
N1=$(netif 1)
need "$N1" "vif 1's interface"
check "$N1 mtu 9000" ip link set "$N1" mtu 9000
check "$N1 up with $(gaddr 1)" up 1 "$N1"
check "$N1: carrier on" wait_until 30 carrier "$N1"
check "unfragmented 8972-byte pings to the host" /usr/bin/ping -c 3 -W 3 -M do -s 8972 "$(haddr 1)"
check "the host's 8972-byte pings" host_pings 1 8972
check "MTU 9000: $JMB MiB host -> guest -> host, sha256 equal" echo_via 1 5011 "$JMB"

# kills of vpv-netback during a long transfer
killer() {
	while [ $kills -lt "$KILLS" ] && [ ! -e /tmp/kdone ]; do
		sleep "0.$(( $(od -An -N2 -tu2 /dev/urandom) % 8 + 2 ))"
		be_kill_once vif/0
		# the next one after it reconnected
		wait_until 30 carrier "$N0"
	done
	echo "$kills" > /tmp/kills
}
rm -f /tmp/kdone /tmp/kills
killer &
kp=$!
check "$KMB MiB host -> guest -> host across back-end kills, sha256 equal" echo_via 0 5021 "$KMB"
touch /tmp/kdone
wait $kp
echo "# $(cat /tmp/kills) kills of vpv-netback during the transfer"
check "$KILLS kills landed during it ($(cat /tmp/kills))" test "$(cat /tmp/kills)" -eq "$KILLS"
check "$N0: carrier on after the kills" wait_until 30 carrier "$N0"
check "ping the host after the kills" ping -c 3 -W 3 "$(haddr 0)"

# hot-unplug during traffic
host_ok net recv 5031
(dd if=/dev/urandom bs=1M count=4096 2>/dev/null |
	socat -u - TCP:"$(haddr 0)":5031,connect-timeout=10,linger=0
	echo $? > /tmp/urc) &
sp=$!
sleep 2
check "host removes vif 0 during a transfer" host_ok device remove "$G" vif/0
check "vif 0's interface goes" wait_until 30 no_netif 0
kill $sp 2>/dev/null
killall -KILL socat 2>/dev/null
wait $sp 2>/dev/null
# tcp_to PORT: the guest's TCP sockets to PORT that are not closed yet
# (/proc/net/tcp: remote port in hex, then the state; 06 TIME_WAIT,
# 07 CLOSE do not send)
tcp_to() {
	awk -v p="$(printf '%04X' "$1")" 'NR > 1 { split($3, r, ":");
		if (r[2] == p && $4 != "06" && $4 != "07") n++ }
		END { print n + 0 }' /proc/net/tcp
}
# killed (busybox has killall, no pkill: "pkill socat" killed nothing),
# socat's socket is reset (linger=0), not left to send the megabytes in
# its buffer once vif 0 is back: they took the --rate check's link
# (8 MiB took 72-92 s instead of 4)
no_tcp_to() { [ "$(tcp_to "$1")" = 0 ]; }
check "no socket to the host's 5031 left sending" wait_until 10 no_tcp_to 5031
check "host removes vif 1" host_ok device remove "$G" vif/1
check "rmmod vnetfront" rmmod vnetfront
check "insmod vnetfront again" insmod "$(mod vnetfront)"
check "host adds vif 0 again, --rate 2M" host_ok device add "$G" vif 0 --tap pvtap0 --rate 2M
check "vif 0's interface appears again" wait_until 30 netif 0
N0=$(netif 0)
check "up again" up 0 "$N0"
check "carrier on again" wait_until 30 carrier "$N0"
check "ping the host again" ping -c 3 -W 3 "$(haddr 0)"
# the TX rate: 8 MiB at 2 MiB/s cannot take less than 4 s less one
# 50 ms period's credit; the guest waits, nothing is dropped
check "8 MiB to the host at --rate 2M, sha256 equal" to_host 0 5041 8
secs=$(result 5041 | sed -n 's/.*"seconds": *\([0-9]*\).*/\1/p')
waits=$(dev_entry vif 0 | jget tx_rate_waits)
echo "# 8 MiB at 2 MiB/s: ${secs:-?} s, tx_rate_waits $waits"
check "it took 3 s or more (${secs:-?} s)" test "${secs:-0}" -ge 3
# and not much more: the credit is spent on this transfer's bytes (a
# socket left sending beside it once made it 72-92 s)
check "it took 10 s or less (${secs:-?} s)" test "${secs:-99}" -le 10
check "the back-end made it wait ($waits)" test "${waits:-0}" -gt 0
check "host removes vif 0" host_ok device remove "$G" vif/0
check "rmmod vnetfront" rmmod vnetfront
check "rmmod vhypercall" rmmod vhypercall
[ "$PVKIT_KERNEL" = test ] && kmemleak_check "kmemleak: no leak"
done_testing
