# SPDX-License-Identifier: GPL-2.0
# A hostile vif front-end (tests/modules/nethostile.c) on vif 7, on
# pvtap1, puts a packet of each TX validation class of
# Documentation/netif.rst on its ring (classes 1 to 7: each slot
# answered once with the class's status, a good frame after each still
# answered 0; class P: the device goes Closing, then it reconnects) and
# floods its ring with good frames.  After each class the host's
# counters of vif 7 must have moved by exactly what the module sent:
# that class's counter by the packets refused, tx_packets by those
# accepted, no other class's counter.  Meanwhile vnetfront's vif 0 in
# the same guest, on pvtap0, moves TCP transfers to the host (sha256
# equal on both ends) and pings it.  rx_persistent: RX buffers under
# feature-persistent (kept mapped, a bad ref, one ref twice).  The stub
# (ASan in make test) must stay up; the harness fails the run on any
# sanitizer report.
# pvkit-programs: socat iputils-ping:ping
. /tests/lib.sh
C=/sys/kernel/debug/vpv_nethostile_ctl
R=/sys/kernel/debug/vpv_nethostile/results
G=$(guest_name)
MB=${NETH_MB:-4}
CLASSES="tx_malformed tx_not_offered tx_too_many_slots tx_bad_slot tx_bad_length tx_bad_offload tx_bad_grant"

haddr() { echo "10.77.$1.1"; }
gaddr() { echo "10.77.$1.2"; }
netif() {
	n=$(ls /sys/bus/vpv/devices/vif-"$1"/net 2>/dev/null | head -n1)
	[ -n "$n" ] && echo "$n"
}
carrier() { [ "$(cat /sys/class/net/"$1"/carrier 2>/dev/null)" = 1 ]; }
hstate() { awk -v k="$1" '$1 == k {print $2}' $C/state; }
live7() { [ "$(hstate live)" = 1 ]; }
# vif_json ID: this guest's vif ID in "device list" (one line)
vif_json() {
	host device list "$G" | sed 's/{"guest":/\n&/g' |
		grep "/device/vif/$1\"" | head -n1
}
conn() { vif_json "$1" | grep -q '"connected":true'; }
# vnet ID FIELD: one of the host's counters of vif ID
vnet() { vif_json "$1" | sed 's/.*"net":{//' | jget "$2"; }
# snap: the host's counters of vif 7 and the module's, in $S_*
snap() {
	j=$(vif_json 7 | sed 's/.*"net":{//')
	for c in $CLASSES tx_packets; do
		eval "S_$c=$(echo "$j" | jget $c)"
	done
	S_acc=$(hstate accepted)
	S_ref=$(hstate refused)
}
# moved COUNTER: its change since the last snap (in $O_*)
moved() { eval "echo \$((S_$1 - O_$1))"; }
keep() {
	for c in $CLASSES tx_packets acc ref; do
		eval "O_$c=\$S_$c"
	done
}
# counted CLASS [any]: after a run, vif 7's counters moved as the module's:
# CLASS by the packets refused, tx_packets by those accepted, no other
counted() {
	snap
	line=""
	for c in $CLASSES tx_packets; do
		line="$line $c+$(moved $c)"
	done
	echo "# vif 7:$line (module: refused +$(moved ref), accepted +$(moved acc))"
	[ "$(moved ref)" -gt 0 ] || [ "$1" = none ] || [ "$2" = any ] ||
		return 1
	for c in $CLASSES; do
		if [ "$c" = "$1" ]; then
			[ "$(moved $c)" = "$(moved ref)" ] || return 1
		else
			[ "$(moved $c)" = 0 ] || return 1
		fi
	done
	[ "$(moved tx_packets)" = "$(moved acc)" ]
}
# persistent RX buffers (rx_persistent): the host keeps vif 7's 4 mapped
pgrants4() { [ "$(vnet 7 persistent_grants)" = 4 ]; }
badgrant1() { [ "$(vnet 7 rx_bad_grant)" = $((RBG0 + 1)) ]; }
# run_class TESTS COUNTER [any]: run the module's TESTS, forward their
# results, check the host's counters (waiting for the last report)
run_class() {
	arm
	snap
	keep
	check "nethostile: $1 ran" sh -c "echo $1 > $C/run"
	forward_tap $R
	check "vif 7's counters: $2 by the refused, tx_packets by the accepted" \
		wait_until 10 counted "$2" "$3"
}
reconnected() { [ "$(hstate connects)" -gt "$1" ] && live7; }
# restart7: the host reconnects vif 7 (its keys read again)
restart7() {
	c0=$(hstate connects)
	host_ok device restart "$G" vif/7 || return 1
	wait_until 30 reconnected "$c0"
}
# same PORT SUMFILE: the host got MB MiB on PORT with that sha256
same() {
	i=0
	while [ $i -lt 30 ]; do
		r=$(HOST_TIMEOUT=30 host net result "$1" 20)
		case "$r" in *pending*) i=$((i + 1)) ;; *) break ;; esac
	done
	theirs=$(echo "$r" | jstr sha256)
	echo "# port $1: $(echo "$r" | jget bytes) bytes, sha256 $theirs"
	[ "$(echo "$r" | jget bytes)" = $((MB << 20)) ] &&
		[ "$(cut -d' ' -f1 "$2")" = "$theirs" ]
}
# send PORT: MB MiB of random bytes to the host (armed already); the
# local sha256 in /tmp/sum.PORT, socat's status in /tmp/rc.PORT
send() {
	rm -f /tmp/f."$1"
	mkfifo /tmp/f."$1"
	sha256sum < /tmp/f."$1" > /tmp/sum."$1" &
	s=$!
	dd if=/dev/urandom bs=1M count="$MB" 2>/dev/null | tee /tmp/f."$1" |
		socat -u - TCP:"$(haddr 0)":"$1",connect-timeout=10
	echo $? > /tmp/rc."$1"
	wait $s
}

kmemleak_clear
check "insmod vhypercall" insmod "$(mod vhypercall)"
# first: its probe takes vif 7 and sends every other id on to vnetfront
check "insmod nethostile devid=7" insmod "$(mod nethostile)" devid=7
check "insmod vnetfront" insmod "$(mod vnetfront)"
check "host adds vif 0 on pvtap0" host_ok device add "$G" vif 0 --tap pvtap0
check "host adds vif 7 on pvtap1" host_ok device add "$G" vif 7 --tap pvtap1
check "vif 0's interface appears" wait_until 30 netif 0
N0=$(netif 0)
need "$N0" "vif 0's interface"
check "$N0 up with $(gaddr 0)" sh -c "ip addr add $(gaddr 0)/24 dev $N0 && ip link set $N0 up"
check "$N0: carrier on" wait_until 30 carrier "$N0"
check "nethostile has vif 7, Connected" wait_until 30 live7
check "vnetfront did not take vif 7" sh -c "! ls /sys/bus/vpv/devices/vif-7/net >/dev/null 2>&1"
check "ping the host on pvtap0" ping -c 3 -W 3 "$(haddr 0)"
BE7=$(cat /sys/bus/vpv/devices/vif-7/otherend)
echo "# vif 7's back-end: $BE7"

# vif 0: transfers to the host, one after another, until the classes
# are done.  The agent's line is the foreground's: the sender asks for
# each port (/tmp/want), run_class arms it (the host's end accepts for
# 120 s only) and says so (/tmp/armed.PORT).
NPORT=5101
arm() {
	[ -e /tmp/want ] || return 0
	rm -f /tmp/want
	host_ok net recv "$NPORT" && touch /tmp/armed."$NPORT"
	NPORT=$((NPORT + 1))
}
sender() {
	p=5101
	while [ ! -e /tmp/h.done ] && [ $p -lt 5140 ]; do
		touch /tmp/want
		while [ ! -e /tmp/armed.$p ] && [ ! -e /tmp/h.done ]; do
			sleep 0.2
		done
		[ -e /tmp/armed.$p ] || break
		send $p
		p=$((p + 1))
	done
}
rm -f /tmp/h.done /tmp/want /tmp/armed.* /tmp/rc.* /tmp/sum.*
sender &
VP=$!
wait_until 5 test -e /tmp/want
arm

t0=$(date +%s)
run_class connected,good none
run_class malformed tx_malformed
run_class offered none
check "host turns feature-sg off" host_ok store write "$BE7/feature-sg" 0
check "host turns feature-csum off" host_ok store write "$BE7/feature-csum" 0
check "vif 7 reconnects (keys read again)" restart7
run_class not_offered tx_not_offered
check "host turns feature-sg on again" host_ok store write "$BE7/feature-sg" 1
check "host turns feature-csum on again" host_ok store write "$BE7/feature-csum" 1
check "vif 7 reconnects with the features back" restart7
run_class offered none
run_class too_many_slots tx_too_many_slots
run_class bad_slot tx_bad_slot
run_class bad_length tx_bad_length
run_class bad_offload tx_bad_offload
run_class bad_grant tx_bad_grant
# refused or not, as the back-end's one copy of the slot says
run_class double_fetch tx_bad_slot any
# RX with feature-persistent: buffers filled by the host's ARP replies,
# kept mapped, posted again; a bad ref answered alone, one ref twice
RBG0=$(vnet 7 rx_bad_grant)
run_class rx_persistent none
check "vif 7: 4 RX buffers kept mapped (persistent_grants)" wait_until 10 pgrants4
check "vif 7: rx_bad_grant +1 (the ref never granted)" wait_until 10 badgrant1

# class P: the device goes Closing, counted; the module reconnects
for t in chain_past_req_prod extras_past_req_prod req_prod_ahead; do
	arm
	pe0=$(vif_json 7 | jget protocol_errors)
	bpe0=$(hstat "$G" bus_protocol_errors)
	check "nethostile: $t ran" sh -c "echo $t > $C/run"
	forward_tap $R
	pe1=$(vif_json 7 | jget protocol_errors)
	bpe1=$(hstat "$G" bus_protocol_errors)
	echo "# $t: vif 7 protocol_errors $pe0 -> $pe1, guest bus_protocol_errors $bpe0 -> $bpe1"
	check "$t: vif 7's protocol_errors +1" test "$pe1" = $((pe0 + 1))
	check "$t: the guest's bus_protocol_errors +1" test "$bpe1" = $((bpe0 + 1))
	check "$t: vif 7 Connected again on the host" wait_until 10 conn 7
done
touch /tmp/h.done
t1=$(date +%s)
echo "# the classes: $((t1 - t0)) s"
check "vif 0's transfers end" wait_until 300 sh -c "! kill -0 $VP 2>/dev/null"
rm -f /tmp/want
wait $VP
n=0
for rc in /tmp/rc.51*; do
	[ -e "$rc" ] || continue
	p=${rc#/tmp/rc.}
	n=$((n + 1))
	check "vif 0 during the classes: $MB MiB to the host on port $p" \
		test "$(cat "$rc")" = 0
	check "port $p: the host's sha256 is ours" same "$p" /tmp/sum."$p"
done
check "vif 0 moved at least one transfer during the classes ($n)" test "$n" -ge 1

# the flood, with a transfer and pings on vif 0 meanwhile
tap0=$(host net stat pvtap1 | jget rx_packets)
host_ok net recv 5201
snap
keep
rm -f /tmp/rc.5201 /tmp/sum.5201
send 5201 &
SP=$!
ping -c 20 -i 0.2 -W 3 "$(haddr 0)" > /tmp/ping.out 2>&1 &
PP=$!
check "nethostile: flood ran" sh -c "echo flood,answered_once > $C/run"
forward_tap $R
check "vif 7's counters after the flood" wait_until 10 counted none
tap1=$(host net stat pvtap1 | jget rx_packets)
echo "# pvtap1 rx_packets $tap0 -> $tap1; tx_host_dropped $(vnet 7 tx_host_dropped)"
check "pvtap1 received the flood" test "$((tap1 - tap0))" -ge "$(moved acc)"
wait $PP
pr=$?
tail -n 2 /tmp/ping.out | sed 's/^/# /'
check "20 pings of vif 0 during the flood" test "$pr" = 0
wait $SP
check "vif 0 during the flood: $MB MiB to the host" test "$(cat /tmp/rc.5201)" = 0
check "vif 0 during the flood: sha256 equal" same 5201 /tmp/sum.5201

check "the host still answers" host_ok list
check "vif 0 still Connected on the host" conn 0
check "ping the host after all" ping -c 3 -W 3 "$(haddr 0)"
echo "# vif 7 at the end: $(vif_json 7 | sed 's/.*"net":\({[^}]*\)}.*/\1/')"
check "host removes vif 7" host_ok device remove "$G" vif/7
check "host removes vif 0" host_ok device remove "$G" vif/0
check "vif 0's interface goes" wait_until 30 sh -c "! ls /sys/bus/vpv/devices/vif-0/net >/dev/null 2>&1"
check "rmmod vnetfront" rmmod vnetfront
check "rmmod nethostile" rmmod nethostile
check "rmmod vhypercall" rmmod vhypercall
# the debug kernel: nothing of either front-end left unreferenced
if [ -w /sys/kernel/debug/kmemleak ]; then
	check "kmemleak: no leak" kmemleak_clean
fi
done_testing
