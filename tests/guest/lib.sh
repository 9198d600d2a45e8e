# SPDX-License-Identifier: GPL-2.0
# TAP helpers for in-guest test scripts.  Source it, call plan N, then
# ok/not_ok/check per test; output goes to stdout (ttyS1).
T_N=0

plan() { echo "1..$1"; }

# done_testing: trailing plan for scripts whose count is known at the end
done_testing() { echo "1..$T_N"; }

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }

not_ok() { T_N=$((T_N + 1)); echo "not ok $T_N - $*"; }

# the guest's uptime in centiseconds (/proc/uptime has two decimals)
t_cs() {
	read -r t_u _ </proc/uptime
	echo $((${t_u%.*} * 100 + 1${t_u#*.} - 100))
}

# after a check that took 5 s or more: a comment with its time, so the
# suite's slow steps show in the log (tests/run.py keeps comments)
t_slow() {
	t_d=$(($(t_cs) - $1))
	[ "$t_d" -lt 500 ] || echo "# slow: $((t_d / 100)).$((t_d / 10 % 10))s $2"
}

# check "description" command...: ok when the command succeeds
# (its variables are prefixed: the command may be a function of the
# caller's that sets d, t0, ... of its own)
check() {
	t_cd=$1; shift
	t_c0=$(t_cs)
	if "$@" >/tmp/check.out 2>&1; then
		ok "$t_cd"
	else
		not_ok "$t_cd"
		sed 's/^/# /' /tmp/check.out
	fi
	t_slow "$t_c0" "$t_cd"
}

# check_fails "description" command...: ok when the command fails
check_fails() {
	t_cd=$1; shift
	if "$@" >/tmp/check.out 2>&1; then
		not_ok "$t_cd (unexpectedly succeeded)"
	else
		ok "$t_cd"
	fi
}

# kunit_results SUITE: copy a KUnit suite's KTAP log for the harness
kunit_results() {
	echo "PVKIT-KUNIT-BEGIN $1"
	cat /sys/kernel/debug/kunit/"$1"/results
	echo "PVKIT-KUNIT-END $1"
}

# kmemleak_scan: print "ok" when a scan finds no leak (test kernel only)
kmemleak_clean() {
	f=/sys/kernel/debug/kmemleak
	[ -w $f ] || return 1
	echo scan > $f
	sleep 1
	echo scan > $f
	if [ -s $f ]; then
		head -40 $f | sed 's/^/# /'
		return 1
	fi
	return 0
}

# kmemleak_check DESC: the check DESC of kmemleak_clean, now; or, with
# PVKIT_LEAK_AT_END set (a debug-kernel run whose last script is
# kmemleak.sh: each scan costs 22 to 30 s there), a comment saying so,
# and that script's one scan covers this one's objects too (a leak stays
# unreferenced)
kmemleak_check() {
	if [ -n "$PVKIT_LEAK_AT_END" ]; then
		echo "# $1: left to the run's last script (kmemleak.sh)"
		return 0
	fi
	check "$1" kmemleak_clean
}

mod() { echo /modules/"$1".ko; }

# pvkit platform and driver modules in load order (present ones only)
PVKIT_MODULES="vhypercall vballoon vpvmmu vblkfront vnetfront"

loaded() { grep -q "^$1 " /proc/modules; }

# forward_tap FILE: re-number a module's KTAP results into this script
forward_tap() {
	n0=$T_N
	want=
	while IFS= read -r l; do
		case "$l" in
		"not ok "*) not_ok "$(echo "$l" | sed 's/^not ok [0-9]* *-* *//')" ;;
		"ok "*) ok "$(echo "$l" | sed 's/^ok [0-9]* *-* *//')" ;;
		1..*) want=${l#1..} ;;
		"#"*) echo "$l" ;;
		esac
	done < "$1"
	if [ -z "$want" ] || [ $((T_N - n0)) -ne "$want" ]; then
		not_ok "$1: plan ${want:-missing}, got $((T_N - n0)) results"
	fi
}

# kmemleak_clear: forget what boot left behind before a leak test
kmemleak_clear() {
	f=/sys/kernel/debug/kmemleak
	[ -w $f ] || return 0
	echo scan > $f
	echo clear > $f
}

# host ARGS...: run "vpv-ctl --json ARGS" on the host side through the
# harness's agent on ttyS2 and print its one-line JSON answer.
host() {
	[ -c /dev/ttyS2 ] || { echo '{"error":"no agent"}'; return 1; }
	exec 3<>/dev/ttyS2
	echo "HOST $*" >&3
	HOST_REPLY=
	read -r -t "${HOST_TIMEOUT:-30}" HOST_REPLY <&3
	exec 3>&-
	echo "$HOST_REPLY"
	[ -n "$HOST_REPLY" ]
}

# jget KEY: the first number stored under "KEY" in the JSON on stdin
jget() {
	sed -n "s/.*\"$1\":[ ]*\(-\{0,1\}[0-9][0-9]*\).*/\1/p" | head -n1
}

# host_ok ARGS...: like host, quiet, and fails on an error answer
host_ok() {
	r=$(host "$@") || return 1
	case "$r" in *'"error"'*) echo "# $r"; return 1 ;; esac
	return 0
}

# be_kill_once DEV: kill the back-end process of this guest's device DEV
# ("vbd/0") through the agent, if one runs that was not killed already
# (during a restart backoff none runs; or the last one is not reaped
# yet); counts in $kills, remembers the pid in $last
kills=0
last=0
be_kill_once() {
	r=$(host device kill "$G" "$1")
	# "killed" names the process signalled; "device" may show it
	# reaped already (pid 0, backoff), so its "pid" is no record
	p=$(echo "$r" | sed -n 's/.*"killed":\([0-9]*\).*/\1/p')
	[ -n "$p" ] && [ "$p" -gt 0 ] && [ "$p" != "$last" ] || return 1
	kills=$((kills + 1))
	last=$p
}

# guest_name: this guest's name on the host
guest_name() {
	[ -n "$PVKIT_GUEST" ] && { echo "$PVKIT_GUEST"; return; }
	host list | sed -n 's/.*"name":"\([^"]*\)".*/\1/p' | head -n1
}

# hstat GUEST FIELD: one number of GUEST's part of "vpv-ctl stats GUEST"
hstat() { host stats "$1" | sed 's/.*"guests":\[//' | jget "$2"; }

# hoststat FIELD: one number of the host part of "vpv-ctl stats"
hoststat() { host stats | sed 's/"guests":.*//' | jget "$1"; }

# vbstat FIELD: one value from vballoon's debugfs stats
vbstat() { awk -v k="$1" '$1 == k {print $2}' /sys/kernel/debug/vballoon/stats; }

# wait_until SECONDS command...: poll once a second until it succeeds
wait_until() {
	t=$1; shift
	while [ "$t" -gt 0 ]; do
		"$@" && return 0
		sleep 1
		t=$((t - 1))
	done
	"$@"
}

# fill_mem MIB: make the guest touch MIB of RAM and free it again (dd's
# buffer is anonymous memory it fills), so the host's RAM file really
# holds those pages
fill_mem() { dd if=/dev/zero of=/dev/null bs="$1"M count=1 2>/dev/null; }

meminfo_kb() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }

# jstr KEY: the string stored under "KEY" (its last one) in the JSON on stdin
jstr() { sed -n "s/.*\"$1\":[ ]*\"\([^\"]*\)\".*/\1/p" | head -n1; }

# img VERB ARGS...: the run's image files on the host (the agent's
# 'img' verb, tests/harness/imgagent.py): create NAME SIZE [zero|pattern],
# path, blocks, sha256 NAME [OFF LEN], hex NAME OFF LEN, cmp A B, rm,
# cow-info OVL, merge OVL BASE OUT.  Prints the JSON answer; fails on an
# error answer.
img() {
	r=$(host img "$@") || return 1
	echo "$r"
	case "$r" in *'"error"'*) return 1 ;; esac
	return 0
}

# img_create NAME SIZE [zero|pattern]: print the new image's host path
img_create() { img create "$@" | jstr path; }

# img_blocks NAME: its allocated 512-byte blocks on the host (st_blocks)
img_blocks() { img blocks "$1" | jget blocks; }

# img_sha NAME [OFF LEN]: its sha256 on the host
img_sha() { img sha256 "$@" | jstr sha256; }

# pattern_ok DEV SECTOR: sector SECTOR of DEV holds the 'pattern' fill of
# an image the host created (32 lines '%015d\n' of the sector number)
pattern_ok() {
	want=$(printf '%015d\n' "$2" | sha256sum | cut -c1-64)
	got=$(dd if="$1" bs=512 skip="$2" count=1 2>/dev/null | head -c 16 |
		sha256sum | cut -c1-64)
	line=$(dd if="$1" bs=512 skip="$2" count=1 2>/dev/null | sort -u | wc -l)
	[ "$got" = "$want" ] && [ "$line" -eq 1 ]
}

# kmods_load NAME...: insmod the kernel's own modules a script named on
# its '# pvkit-kmodules:' line, in that order; those not in /modules
# are built into this kernel
kmods_load() {
	for m in "$@"; do
		[ -f /modules/$m.ko ] || continue
		loaded $m || insmod /modules/$m.ko || return 1
	done
}

# blkdev ID: the disk of vbd device ID (/dev/pvdX), empty if none yet
blkdev() {
	for b in /sys/bus/vpv/devices/vbd-"$1"/block/*; do
		[ -e "$b" ] && { echo /dev/"${b##*/}"; return 0; }
	done
	return 1
}

# dev_entry TYPE ID: the host's 'device list' entry of this guest's device
# TYPE ID (one line of JSON; needs G, the guest's name); vbd_entry ID
# that of vbd ID
dev_entry() {
	host device list "$G" | sed 's/{"guest"/\
{"guest"/g' | grep "\"type\":\"$1\",\"id\":$2,"
}
vbd_entry() { dev_entry vbd "$1"; }

# hblk ID KEY: one number of vbd ID's "blk" statistics on the host
hblk() { vbd_entry "$1" | sed 's/.*"blk":{\([^}]*\)}.*/\1/' | jget "$2"; }

# bfstat ID KEY: one value of vblkfront's debugfs stats of vbd ID
bfstat() {
	awk -v k="$2" '$1 == k {print $2}' \
		/sys/kernel/debug/vblkfront/"$1"/stats 2>/dev/null
}

# fio_ok NAME ARGS...: a fio job (direct, libaio) that must exit 0 and
# report err=0; its output in /tmp/fio-NAME.log (shown on failure)
fio_ok() {
	n=$1; shift
	if ! fio --name="$n" --ioengine=libaio --direct=1 --eta=never \
		--output=/tmp/fio-"$n".log "$@" ||
		! grep -q 'err= 0' /tmp/fio-"$n".log ||
		grep -q 'err= [1-9]' /tmp/fio-"$n".log; then
		tail -25 /tmp/fio-"$n".log
		return 1
	fi
	grep -E 'IOPS=|verify' /tmp/fio-"$n".log | head -4 | sed 's/^/# /'
	return 0
}

# need VALUE WHAT: end the script here (failing) when VALUE is empty:
# what follows cannot run without it (a disk that never appeared)
need() {
	[ -n "$1" ] && return 0
	not_ok "cannot go on without $2"
	done_testing
	exit 1
}

# vif_netif ID: the interface vnetfront made for vif ID (pvn0, ...);
# fails while there is none
vif_netif() {
	n=$(ls /sys/bus/vpv/devices/vif-"$1"/net 2>/dev/null | head -n1)
	[ -n "$n" ] && echo "$n"
}

# if_carrier IF: IF's carrier is on
if_carrier() { [ "$(cat /sys/class/net/"$1"/carrier 2>/dev/null)" = 1 ]; }

# virtio_netif [MAC]: the interface whose driver is virtio_net, the
# first one or the one with address MAC (benchmarks)
virtio_netif() {
	for n in /sys/class/net/*; do
		[ -z "$1" ] || [ "$(cat "$n"/address)" = "$1" ] || continue
		case "$(readlink "$n"/device/driver)" in
		*virtio_net) echo "${n##*/}"; return 0 ;;
		esac
	done
	return 1
}

# bench_two_nics: the network benchmarks' two NICs in this guest
# (tests/bench/net.sh, net-profile.sh; run.py's NET_VIRTIO_QEMU):
# vnetfront's vif 0 on pvtap0 as $N with 10.77.0.2 and virtio-net as $V
# with 10.77.1.2, both up with carrier, an iperf3 server on port 5201 at
# each one's host end (10.77.N.1), each end pinged; $G is this guest
bench_two_nics() {
	check "virtio-net modules" kmods_load virtio_ring virtio virtio_pci_modern_dev \
		virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net
	check "insmod vhypercall" insmod "$(mod vhypercall)"
	check "insmod vnetfront" insmod "$(mod vnetfront)"
	check "host adds vif 0 on pvtap0" host_ok device add "$G" vif 0 --tap pvtap0
	check "vif 0's interface appears" wait_until 30 vif_netif 0
	N=$(vif_netif 0)
	V=$(virtio_netif 52:54:00:77:01:02)
	check "the virtio-net interface ($V)" test -n "$V"
	bench_nic_up "$N" 0 vif
	bench_nic_up "$V" 1 virtio
}

# bench_nic_up IF T NAME: a benchmark NIC on tap pvtapT: IF gets
# 10.77.T.2, up with carrier, an iperf3 server on port 5201 at the
# host's end (10.77.T.1), that end pinged; NAME names it in the checks
bench_nic_up() {
	ip addr add 10.77."$2".2/24 dev "$1" && ip link set "$1" up
	check "$1: carrier on" wait_until 30 if_carrier "$1"
	check "iperf3 server for $3" host_ok net iperf3 10.77."$2".1 5201
	check "$3 reaches the host" ping -c 3 -W 3 10.77."$2".1
}

# bench_out NIC JOB command...: the command's output between
# '# net-out NIC JOB' and '# net-out-end' (tests/bench/run.py net_rows)
bench_out() {
	echo "# net-out $1 $2"
	shift 2
	"$@" 2>&1 | sed 's/^/# /'
	echo "# net-out-end"
}

# Two guests under one stub meet through the host's config store: keys
# under $MEET (a store directory of the run's own), $G this guest's
# name, $PG the other's (net-switch.sh, bench/net-g2g.sh).
# put KEY VALUE / get KEY / has KEY: write, read, is it there
put() { host_ok store write "$MEET/$1" "$2"; }
get() { host store read "$MEET/$1" | jstr value; }
has() { [ -n "$(get "$1")" ]; }
# meet STEP [SECONDS]: say this guest reached STEP, wait (default 2
# min) for the other to have said so too
meet() {
	put "$G-$1" 1 || return 1
	wait_until "${2:-120}" has "$PG-$1"
}
