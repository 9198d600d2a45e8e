# SPDX-License-Identifier: GPL-2.0
# Guest side of the network benchmark (tests/bench/run.py net): one
# guest, two NICs on two taps of the run's network namespace
# (tests/harness/netagent.py), measured one after the other, job by job:
#   vif     vnetfront on vpv-netback, pvtap0, 10.77.0.2 <-> 10.77.0.1
#   virtio  QEMU virtio-net-pci on a tap back-end (QEMU's own, no
#           vhost), pvtap1, 10.77.1.2 <-> 10.77.1.1
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
echo "# vif: $N, $(ethtool -i "$N" 2>/dev/null | head -n1); virtio: $V"

# name iperf3-options
JOBS="tx1 -P 1
tx4 -P 4
rx1 -P 1 -R
rx4 -P 4 -R"
# addr NIC: the host's end of NIC's tap
addr() { case $1 in vif) echo 10.77.0.1 ;; virtio) echo 10.77.1.1 ;; esac; }
r=1
while [ $r -le "$ROUNDS" ]; do
	# the NIC that goes first alternates: neither always gets the
	# quieter moment
	if [ $((r % 2)) = 1 ]; then nics="vif virtio"; else nics="virtio vif"; fi
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
check "host removes vif 0" host_ok device remove "$G" vif/0
done_testing
