# SPDX-License-Identifier: GPL-2.0
# vnetfront against what a hostile back-end writes on its rings, through
# the test hook debugfs vnetfront/ID/inject (Documentation/netfront.rst,
# "Hardening": the next response of a kind as a hostile back-end writes
# it), on real traffic with vpv-netback on pvtap0 (10.77.0.1 the host,
# 10.77.0.2 us; tests/harness/netagent.py):
#  - each word that spoils one response (rx-id, rx-dup, rx-status,
#    rx-flags, rx-size, rx-offset, rx-csum, rx-extra, tx-id, tx-dup,
#    tx-status), armed during the host's pings (rx-extra: during a TCP
#    transfer from the host, whose GSO packets carry extras): exactly
#    the counters netfront.rst names move, by one, no other error or
#    drop counter; then pings both ways and a TCP transfer with its
#    sha256 equal on both ends
#  - rx-prod and tx-prod (rsp_prod beyond what was posted): the device
#    goes Closing, carrier off, broken 1, no bogus packet counted; a
#    restart of the back-end leaves it Closing (netfront.rst); removal
#    and a new device bring traffic back
#  - removal, unload, and on the debug kernel kmemleak
# pvkit-programs: socat
. /tests/lib.sh
G=$(guest_name)
V=/sys/kernel/debug/vnetfront/0
HA=10.77.0.1
GA=10.77.0.2
MB=${NETH_MB:-1}

# kmemleak_check DESC: lib.sh's, or a plain check where it has none
command -v kmemleak_check >/dev/null 2>&1 ||
	kmemleak_check() { check "$1" kmemleak_clean; }

netif() { vif_netif 0; }
no_netif() { ! netif >/dev/null; }
# the bus device gone too (vnetfront's remove() done): a device of the
# same id added before that is refused by the bus (-EEXIST)
no_dev() { [ ! -e /sys/bus/vpv/devices/vif-0 ]; }
hgone() { ! dev_entry vif 0 >/dev/null; }
carrier() { if_carrier "$N"; }
no_carrier() { ! carrier; }
# nf KEY: one value of vnetfront's debugfs stats of vif 0
nf() { awk -v k="$1" '$1 == k {print $2; exit}' $V/stats 2>/dev/null; }
closing() { [ "$(nf state)" = 5 ]; }

# the counters a bogus answer, a drop or a failure moves
WATCH="rx_errors rx_dropped rx_bad_id rx_buf_errors rx_bad_slot
rx_bad_flags rx_bad_extra rx_too_many_slots rx_bad_length rx_bad_csum
rx_partial rx_grant_busy rx_broken rx_nomem rx_nogrant tx_errors
tx_dropped tx_dropped_reconnect tx_nogrant tx_rsp_einval
tx_rsp_eopnotsupp tx_rsp_e2big tx_rsp_eperm tx_bad_id tx_bad_status
tx_grant_busy tx_broken tx_timeouts broken tx_lingering reconnects"
snap() { cat $V/stats > "$1"; }
# moved A B: the watched counters that differ, "name+delta ..." sorted
moved() {
	for k in $WATCH; do
		a=$(awk -v k="$k" '$1 == k {print $2; exit}' "$1")
		b=$(awk -v k="$k" '$1 == k {print $2; exit}' "$2")
		[ "$a" = "$b" ] || echo "$k+$((b - a))"
	done | sort | tr '\n' ' ' | sed 's/ $//'
}

# the host's end of a transfer, once done
result() {
	i=0
	while [ $i -lt 10 ]; do
		r=$(HOST_TIMEOUT=30 host net result "$1" 20)
		case "$r" in *pending*) i=$((i + 1)) ;; *) echo "$r"; return 0 ;; esac
	done
	return 1
}
# same PORT SUMFILE: the host's end moved MB MiB with our sha256
same() {
	r=$(result "$1")
	theirs=$(echo "$r" | jstr sha256)
	[ "$(echo "$r" | jget bytes)" = $((MB << 20)) ] &&
		[ "$(cut -d' ' -f1 "$2")" = "$theirs" ]
}
to_host() {
	rm -f /tmp/f /tmp/sum
	mkfifo /tmp/f
	sha256sum < /tmp/f > /tmp/sum &
	sp=$!
	host_ok net recv "$1" || return 1
	sleep 0.3
	dd if=/dev/urandom bs=1M count="$MB" 2>/dev/null | tee /tmp/f |
		socat -u - TCP:$HA:"$1",connect-timeout=10 || return 1
	wait $sp
	same "$1" /tmp/sum
}
from_host() {
	rm -f /tmp/rsum
	socat -u TCP-LISTEN:"$1",reuseaddr - | sha256sum > /tmp/rsum &
	sp=$!
	sleep 0.3
	host_ok net send $GA "$1" "$MB" || return 1
	wait $sp
	same "$1" /tmp/rsum
}
# host_pings N: the host pings us N times, all answered
host_pings() {
	r=$(host net ping $GA "$1")
	[ "$(echo "$r" | jget received)" = "$1" ] || { echo "# $r"; return 1; }
}
# flows PORT: traffic both ways after an injection
flows() {
	check "$1: we ping the host" ping -c 2 -W 3 $HA
	check "$1: the host pings us" host_pings 3
	if [ "$2" = rx ]; then
		check "$1: $MB MiB from the host, sha256 equal" from_host "$3"
	else
		check "$1: $MB MiB to the host, sha256 equal" to_host "$3"
	fi
}
# new_vif: vif 0 added, its interface up with $GA, carrier on
new_vif() {
	check "host adds vif 0 on pvtap0" host_ok device add "$G" vif 0 --tap pvtap0
	check "vif 0's interface appears" wait_until 30 netif
	N=$(netif)
	need "$N" "vif 0's interface"
	check "$N up with $GA" sh -c "ip addr add $GA/24 dev $N && ip link set $N up"
	check "$N: carrier on" wait_until 30 carrier
	check "we ping the host" ping -c 3 -W 3 $HA
	check "the host pings us" host_pings 3
}

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vnetfront" insmod "$(mod vnetfront)"
new_vif
check "a transfer from the host before: sha256 equal" from_host 6000
check "a transfer to the host before: sha256 equal" to_host 6001

# hostile WORD DIR PORT EXPECT [EXPECT2]: arm WORD during light
# traffic; the watched counters that moved are EXPECT (or EXPECT2)
port=6010
hostile() {
	w=$1 dir=$2
	exp=$3 exp2=${4:-$3}
	snap /tmp/s0
	g0=$(nf rx_gso)
	echo "$w" > $V/inject
	if [ "$w" = rx-extra ]; then
		# GSO packets from the host: the extra of one of them
		from_host $port > /dev/null
		port=$((port + 1))
	else
		host net ping $GA 5 > /dev/null
	fi
	# not taken (no such answer came): cancelled, so the next word is alone
	echo none > $V/inject
	snap /tmp/s1
	m=$(moved /tmp/s0 /tmp/s1)
	[ "$w" = rx-extra ] && echo "# $w: rx_gso $g0 -> $(nf rx_gso)"
	check "$w: counted [$m] as [$exp]" \
		sh -c "[ '$m' = '$exp' ] || [ '$m' = '$exp2' ]"
	check "$w: carrier still on, not broken" sh -c "[ $(nf broken) = 0 ] && [ $(cat /sys/class/net/$N/carrier) = 1 ]"
	flows "$w" "$dir" $port
	port=$((port + 1))
}

hostile rx-id rx "rx_bad_id+1 rx_errors+1"
hostile rx-dup rx "rx_bad_id+1 rx_errors+1"
# a ping is one slot without flags: a buffer error; a packet with flags
# or of more slots: a bad slot
hostile rx-status rx "rx_buf_errors+1 rx_errors+1" "rx_bad_slot+1 rx_errors+1"
hostile rx-flags rx "rx_bad_flags+1 rx_errors+1"
hostile rx-size rx "rx_bad_slot+1 rx_errors+1"
hostile rx-offset rx "rx_bad_slot+1 rx_errors+1"
hostile rx-csum rx "rx_bad_csum+1 rx_errors+1"
hostile rx-extra rx "rx_bad_extra+1 rx_errors+1"
hostile tx-id tx "tx_bad_id+1"
hostile tx-dup tx "tx_bad_id+1"
hostile tx-status tx "tx_bad_status+1 tx_errors+1"
q=$(awk '$1 == "q0_tx_in_flight" {print $2}' $V/queues)
echo "# TX slots still in flight (one from tx-id): $q"
check "nothing rejected by the back-end meanwhile" \
	test "$(nf tx_rsp_einval)$(nf tx_rsp_eperm)$(nf tx_rsp_e2big)$(nf tx_rsp_eopnotsupp)" = 0000

# broken DIR: rx-prod or tx-prod during the host's pings
BOGUS="rx_bad_id rx_buf_errors rx_bad_slot rx_bad_flags rx_bad_extra
rx_too_many_slots rx_bad_length rx_bad_csum rx_partial tx_bad_id
tx_bad_status"
broken() {
	w=$1-prod
	snap /tmp/s0
	echo "$w" > $V/inject
	host net ping $GA 3 > /dev/null
	snap /tmp/s1
	check "$w: $1_broken counted ($(nf "$1"_broken))" test "$(nf "$1"_broken)" = 1
	check "$w: broken ($(nf broken))" test "$(nf broken)" = 1
	check "$w: carrier off" wait_until 10 no_carrier
	check "$w: our state Closing ($(nf state))" wait_until 20 closing
	m=$(WATCH=$BOGUS moved /tmp/s0 /tmp/s1)
	check "$w: no bogus packet counted [$m]" test -z "$m"
	echo "# $w: moved $(moved /tmp/s0 /tmp/s1)"
	check_fails "$w: we cannot ping the host" ping -c 1 -W 2 $HA
	# a new back-end process does not revive a device that broke the
	# protocol: it stays Closing until removed (netfront.rst)
	check "$w: host restarts vif/0" host_ok device restart "$G" vif/0
	sleep 3
	check "$w: still Closing after the restart ($(nf state))" closing
	check "$w: still no carrier" no_carrier
	check "$w: host removes vif/0" host_ok device remove "$G" vif/0
	check "$w: the interface goes" wait_until 30 no_netif
	# added again as soon as the host has let go, while the guest's
	# bus may still be removing the old device (its remove() waits
	# for TX grants the broken ring left mapped): the bus waits for it
	check "$w: the host has let go of vif/0" wait_until 30 hgone
	new_vif
	flows "$w" "$1" $port
	port=$((port + 1))
}
broken rx
broken tx

check "host removes vif/0" host_ok device remove "$G" vif/0
check "the interface goes" wait_until 30 no_netif
check "the bus device goes" wait_until 30 no_dev
check "rmmod vnetfront" rmmod vnetfront
check "rmmod vhypercall" rmmod vhypercall
if [ "$PVKIT_KERNEL" = test ]; then
	kmemleak_check "kmemleak: no leak"
fi
done_testing
