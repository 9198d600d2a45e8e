# SPDX-License-Identifier: GPL-2.0
# Guest side of the guest <-> guest network benchmark (tests/bench/run.py
# net-g2g): two guests under one stub, "ga" and "gb" ($PVKIT_GUEST),
# each with two NICs, measured one after the other, job by job:
#   vif     vnetfront on vpv-netback on a port of the stub's switch sw0
#           (vpv-netswitch), 10.78.0.1 <-> 10.78.0.2
#   virtio  QEMU virtio-net-pci on a tap back-end (QEMU's own, no
#           vhost), the two taps in one Linux bridge of the run's
#           network namespace, 10.79.0.1 <-> 10.79.0.2
# gb serves (iperf3 -s) and waits; ga measures: iperf3 TCP ga -> gb
# (g2g1: 1 stream, g2g4: 4 streams, RT seconds each), then ping every
# 2 ms, N_PING times (g2grr: p50/p99 of the round trips, each one
# request and one response crossing the switch or the bridge twice).
# ROUNDS rounds, the NIC that goes first alternating.  The two meet
# through the host's config store (/local/domain/0/pvkit-g2g/KEY).
# Output as tests/bench/net.sh's: '# net-out NIC JOB ROUND' ..
# '# net-out-end' (ga's results log).
# pvkit-programs: iperf3 iputils-ping:ping ethtool
# pvkit-kmodules: virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net
. /tests/lib.sh
RT=${PVKIT_BENCH_RUNTIME:-8}
N_PING=${PVKIT_BENCH_PINGS:-2000}
ROUNDS=${PVKIT_BENCH_ROUNDS:-3}
G=$(guest_name)
case "$G" in
ga) ME=1 PEER=2 PG=gb ;;
*) ME=2 PEER=1 PG=ga ;;
esac
MEET=/local/domain/0/pvkit-g2g

# addr NIC: the peer's address on NIC
addr() { case $1 in vif) echo "10.78.0.$PEER" ;; virtio) echo "10.79.0.$PEER" ;; esac; }

check "virtio-net modules" kmods_load virtio_ring virtio virtio_pci_modern_dev \
	virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vnetfront" insmod "$(mod vnetfront)"
check "host adds vif 0 on switch sw0" host_ok device add "$G" vif 0 --switch sw0
check "vif 0's interface appears" wait_until 30 vif_netif 0
N=$(vif_netif 0)
V=$(virtio_netif)
check "the virtio-net interface ($V)" test -n "$V"
ip addr add "10.78.0.$ME/24" dev "$N" && ip link set "$N" up
ip addr add "10.79.0.$ME/24" dev "$V" && ip link set "$V" up
check "$N: carrier on" wait_until 30 if_carrier "$N"
check "$V: carrier on" wait_until 30 if_carrier "$V"
check "both guests up" meet up
check "vif reaches the other guest" ping -c 3 -W 3 "$(addr vif)"
check "virtio reaches the other guest" ping -c 3 -W 3 "$(addr virtio)"
echo "# vif: $N, $(ethtool -i "$N" 2>/dev/null | head -n1); virtio: $V"

if [ "$ME" = 2 ]; then
	check "iperf3 server" iperf3 -s -D -p 5201
	check "serving" meet serving
	# ga's whole run: ROUNDS x (2 jobs x RT s + 2 x N_PING x 2 ms) x 2
	check "the other guest measured" meet measured 1800
else
	JOBS="g2g1 -P 1
g2g4 -P 4"
	check "the other guest serves" meet serving
	r=1
	while [ $r -le "$ROUNDS" ]; do
		if [ $((r % 2)) = 1 ]; then nics="vif virtio"; else nics="virtio vif"; fi
		echo "$JOBS" | while read -r name opts; do
			for nic in $nics; do
				# shellcheck disable=SC2086
				bench_out "$nic" "$name $r" iperf3 -c "$(addr $nic)" \
					-p 5201 -t "$RT" -O 1 -J $opts
			done
		done
		for nic in $nics; do
			bench_out "$nic" "g2grr $r" /usr/bin/ping -n -c "$N_PING" \
				-i 0.002 -W 1 "$(addr $nic)"
		done
		r=$((r + 1))
	done
	check "measured" meet measured
fi
ethtool -S "$N" 2>/dev/null | sed 's/^/# vif stats: /'
check "host removes vif 0" host_ok device remove "$G" vif/0
done_testing
