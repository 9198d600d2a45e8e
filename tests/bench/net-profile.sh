# SPDX-License-Identifier: GPL-2.0
# Guest side of tests/bench/run.py net-profile: where the guest's time
# goes during the network benchmark's jobs, vnetfront against
# virtio-net in one boot (the NICs, taps and addresses of net.sh).  The
# kernel is booted with profile=4 (run.py): /proc/profile counts the
# kernel's timer ticks per 16 bytes of its text (kernel mode only; ticks
# in modules all land in the last bucket, shown as "(modules)").  Per
# job and NIC, between PVKIT-BENCH-BEGIN and -END:
#   prof-job JOB NIC MBIT       iperf3's receiver throughput
#   cpu CPU user U sys S softirq Q idle I   ticks of /proc/stat
#   irq NAME CPU0 CPU1          interrupts taken, over 100
#   prof SYMBOL TICKS           the 25 hottest kernel functions
#   prof-total TICKS
#   vif-job NAME DELTA ...      for vif only: the back-end's round trips
#                               to the core (map_calls map_us syncs
#                               sync_us, its "time" counters) and
#                               vnetfront's counters (ethtool -S) moved
# and the host snapshots its threads' CPU time before and after each
# ('HOST bench-np mark'; run.py prints the table).
# JOBS: "name:iperf3 options" words, ':' for ' ' (default rx1 and tx4).
# pvkit-programs: iperf3 iputils-ping:ping ethtool
# pvkit-kmodules: virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net
. /tests/lib.sh
RT=${PVKIT_BENCH_RUNTIME:-8}
JOBS=${PVKIT_BENCH_JOBS:-"rx1:-P:1:-R tx4:-P:4"}
G=$(guest_name)

check "a kernel booted with profile=" test -e /proc/profile
bench_two_nics

# The kernel's text symbols as "OFFSET NAME", offsets from _stext, in
# order.  Only the low 32 bits of an address are read: busybox awk's
# numbers are doubles, and the kernel's text lies within 4 GiB of
# _stext (nokaslr or not).
hex='function hex(s,  i, v) { v = 0; s = tolower(s);
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v }'
st=$(awk '$3 == "_stext" { print substr($1, 9) }' /proc/kallsyms)
awk -v st="$st" "$hex"'
	($2 == "t" || $2 == "T") && NF == 3 {
		o = hex(substr($1, 9)) - hex(st); if (o >= 0) print o, $3 }' \
	/proc/kallsyms | sort -n > /tmp/syms
check "the kernel's symbols ($(wc -l < /tmp/syms))" test -s /tmp/syms

# profile: /proc/profile's non-zero buckets, each named by the last
# symbol at or below it, the hottest first.  Word 0 is the profile's
# step, bucket i is word i + 1, 16 bytes of text each (profile=4).
profile() {
	od -An -tu4 -v /proc/profile |
		awk '{ for (i = 1; i <= NF; i++) {
			if ($i > 0 && w > 0) print (w - 1) * 16, $i; w++ } }' w=0 \
		> /tmp/buckets
	awk 'FNR == NR { a[n] = $1; nm[n] = $2; n++; next }
	{	if ($1 > a[n - 1] + 65536) { c["(modules)"] += $2; next }
		lo = 0; hi = n - 1
		while (lo < hi) {
			m = int((lo + hi + 1) / 2)
			if (a[m] <= $1) lo = m; else hi = m - 1
		}
		c[nm[lo]] += $2 }
	END { for (k in c) print k, c[k] }' /tmp/syms /tmp/buckets |
		sort -k2 -rn | head -n 25 | sed 's/^/prof /'
	awk '{ s += $2 } END { print "prof-total", s }' /tmp/buckets
}

# cpu_delta BEFORE AFTER: each CPU's ticks between two /proc/stat reads
cpu_delta() {
	paste "$1" "$2" | awk '{ n = NF / 2
		printf "cpu %s user %d sys %d softirq %d idle %d\n", $1,
			$(n + 2) - $2, $(n + 4) - $4, $(n + 8) - $8,
			$(n + 5) - $5 }'
}

# irq_delta BEFORE AFTER: interrupts taken on two CPUs, over 100
irq_delta() {
	paste -d'|' "$1" "$2" | awk -F'|' '{ split($1, a, " ")
		nb = split($2, b, " "); d0 = b[2] - a[2]; d1 = b[3] - a[3]
		if (a[2] ~ /^[0-9]+$/ && d0 + d1 > 100)
			printf "irq %s%s %d %d\n", a[1], b[nb], d0, d1 }'
}

addr() { case $1 in vif) echo 10.77.0.1 ;; virtio) echo 10.77.1.1 ;; esac; }

# VIF_KEYS: what vif_counts reads, the back-end's then vnetfront's
VIF_KEYS="map_calls map_us syncs sync_us tx_packets tx_persistent tx_kicks
rx_packets rx_gso rx_lend_full"
# vif_counts: one line of VIF_KEYS' values now (a missing one: 0)
vif_counts() {
	{
		dev_entry vif 0 | grep -o '"time":{[^}]*}' |
			tr -d '"{}' | sed 's/time://' | tr ',' '\n' | tr ':' ' '
		ethtool -S "$N" | awk '{ sub(":", "", $1); print $1, $2 }'
	} | awk -v keys="$VIF_KEYS" '{ v[$1] = $2 }
		END { n = split(keys, k, " ")
			for (i = 1; i <= n; i++) printf "%d ", v[k[i]] + 0
			print "" }'
}
# vif_delta BEFORE AFTER: "vif-job NAME DELTA ..." for each of VIF_KEYS
vif_delta() {
	echo "$VIF_KEYS $1 $2" | tr '\n' ' ' | awk '{ n = NF / 3
		for (i = 1; i <= n; i++)
			printf "vif-job %s %d\n", $i, $(2 * n + i) - $(n + i) }'
}
echo "PVKIT-BENCH-BEGIN"
for job in $JOBS; do
	name=${job%%:*}
	opts=$(echo "${job#*:}" | tr ':' ' ')
	for nic in vif virtio; do
		grep '^cpu[0-9]' /proc/stat > /tmp/st0
		cat /proc/interrupts > /tmp/i0
		echo > /proc/profile
		[ "$nic" = vif ] && c0=$(vif_counts)
		host bench-np mark "$name-$nic-a" > /dev/null
		# shellcheck disable=SC2086
		r=$(iperf3 -c "$(addr $nic)" -p 5201 -t "$RT" -O 1 $opts |
			awk '/receiver/ { v = $(NF - 2); u = $(NF - 1) }
			END { if (u ~ /^G/) v *= 1000; print v }')
		host bench-np mark "$name-$nic-b" > /dev/null
		[ "$nic" = vif ] && c1=$(vif_counts)
		grep '^cpu[0-9]' /proc/stat > /tmp/st1
		cat /proc/interrupts > /tmp/i1
		echo "# prof-job $name $nic $r"
		cpu_delta /tmp/st0 /tmp/st1 | sed 's/^/# /'
		irq_delta /tmp/i0 /tmp/i1 | sed 's/^/# /'
		profile | sed 's/^/# /'
		[ "$nic" = vif ] && vif_delta "$c0" "$c1" | sed 's/^/# /'
	done
done
echo "PVKIT-BENCH-END"
check "host removes vif 0" host_ok device remove "$G" vif/0
done_testing
