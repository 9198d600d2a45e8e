# SPDX-License-Identifier: GPL-2.0
# Guest side of the network benchmark (tests/bench/run.py net): one
# guest, four NICs on four taps of the run's network namespace
# (tests/harness/netagent.py), measured one after the other, job by job:
#   vif        vnetfront on vpv-netback, pvtap0, 10.77.0.2 <-> 10.77.0.1,
#              a queue per vCPU (up to the 4 vpv-netback offers)
#   vif-1q     the same on pvtap2 (10.77.2.x), vpv-netback offering one
#              queue (--queues 1)
#   virtio-mq  QEMU virtio-net-pci with 4 queue pairs (mq=on) on a
#              multi-queue tap, pvtap3 (10.77.3.x): a queue per vCPU
#   virtio     QEMU virtio-net-pci on a tap back-end (QEMU's own, no
#              vhost; one queue pair, QEMU's default), pvtap1,
#              10.77.1.2 <-> 10.77.1.1
# The ratios are against virtio; vif against virtio-mq and vif-1q
# against virtio compare as many queues on either side.
# Jobs: iperf3 TCP guest -> host and host -> guest (-R), 1 and 4
# streams, RT seconds each (iperf3 servers run in the namespace, started
# through the agent), then request/response latency: ping every 2 ms,
# N_PING times (each round trip one request and one response; run.py
# takes p50/p99 of the per-packet times).  ROUNDS rounds, each running
# every job on both NICs, the NIC that goes first alternating from round
# to round (run.py reports each row's median).  Each measurement prints
# its output between '# net-out NIC JOB ROUND' and '# net-out-end'.
# pvkit-programs: iperf3 iputils-ping:ping ethtool
# pvkit-kmodules: virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net
. /tests/lib.sh
RT=${PVKIT_BENCH_RUNTIME:-8}
N_PING=${PVKIT_BENCH_PINGS:-2000}
ROUNDS=${PVKIT_BENCH_ROUNDS:-3}
G=$(guest_name)

bench_two_nics
check "host adds vif 1 on pvtap2, one queue" \
	host_ok device add "$G" vif 1 --tap pvtap2 --queues 1
check "vif 1's interface appears" wait_until 30 vif_netif 1
N1=$(vif_netif 1)
M=$(virtio_netif 52:54:00:77:03:02)
check "the multi-queue virtio-net interface ($M)" test -n "$M"
bench_nic_up "$N1" 2 vif-1q
bench_nic_up "$M" 3 virtio-mq
# queues per NIC: what each driver set up (RX queues in sysfs)
nq() { ls -d /sys/class/net/"$1"/queues/rx-* | wc -l; }
check "vif-1q has one queue" test "$(nq "$N1")" = 1
check "virtio-mq has as many queues as vif" test "$(nq "$M")" = "$(nq "$N")"
echo "# vif: $N, $(ethtool -i "$N" 2>/dev/null | head -n1), $(nq "$N") queues; vif-1q: $N1; virtio-mq: $M, $(nq "$M") queues; virtio: $V"

# name iperf3-options
JOBS="tx1 -P 1
tx4 -P 4
rx1 -P 1 -R
rx4 -P 4 -R"
# addr NIC: the host's end of NIC's tap
addr() {
	case $1 in
	vif) echo 10.77.0.1 ;;
	virtio) echo 10.77.1.1 ;;
	vif-1q) echo 10.77.2.1 ;;
	virtio-mq) echo 10.77.3.1 ;;
	esac
}
r=1
while [ $r -le "$ROUNDS" ]; do
	# the NIC that goes first alternates: neither always gets the
	# quieter moment
	if [ $((r % 2)) = 1 ]; then
		nics="vif vif-1q virtio-mq virtio"
	else
		nics="virtio virtio-mq vif-1q vif"
	fi
	echo "$JOBS" | while read -r name opts; do
		for nic in $nics; do
			# shellcheck disable=SC2086
			bench_out "$nic" "$name $r" iperf3 -c "$(addr $nic)" -p 5201 \
				-t "$RT" -O 1 -J $opts
		done
	done
	for nic in $nics; do
		bench_out "$nic" "rr $r" /usr/bin/ping -n -c "$N_PING" -i 0.002 -W 1 \
			"$(addr $nic)"
	done
	r=$((r + 1))
done
ethtool -S "$N" 2>/dev/null | sed 's/^/# vif stats: /'
# the back-end's side: its grant round trips ("time") and kept grants
dev_entry vif 0 | sed 's/.*"net":/# vif host: /'
check "host removes vif 1" host_ok device remove "$G" vif/1
check "host removes vif 0" host_ok device remove "$G" vif/0
done_testing
