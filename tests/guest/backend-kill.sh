# SPDX-License-Identifier: GPL-2.0
# The vloop back-end in its own process (host-stub/src/devices/beproc.c): kill -9
# the process (vpv-ctl device kill, through the host agent) 20 times at
# random moments during a checked run of 100 000 requests (should the run
# end first, during a second or third one, each checked).  The host
# restarts it each time and the front-end reconnects; the final target
# (issue 12) is every request ok, none lost, none duplicated: the
# front-end keeps its in-flight requests and replays them after the
# reconnect.  Also: the process runs under its seccomp filter, the
# device list shows its pid and crashes, and the guest's other
# hypercalls work throughout.
. /tests/lib.sh
V=/sys/kernel/debug/vloopfront/0
N=${VLOOP_N:-100000}
KILLS=${BE_KILLS:-20}

vstat() { awk -v k="$1" '$1 == k {print $2}' $V/stats 2>/dev/null; }
res() { cat $V/results 2>/dev/null; }
hval() { host store read "$1" | sed -n 's/.*"value":"\([^"]*\)".*/\1/p'; }
# the back-end's pid (0: none running), from vpv-ctl device list
bepid() {
	p=$(host device list "$G" | sed -n 's/.*"type":"vloop","id":0,[^}]*"pid":\([0-9]*\).*/\1/p')
	echo "${p:-0}"
}
becrashes() { host device list "$G" | sed -n 's/.*"type":"vloop","id":0,[^}]*"crashes":\([0-9]*\).*/\1/p'; }
connected() { [ "$(vstat state)" = 4 ] && [ "$(hval $BE/state)" = 4 ]; }
# a random delay of 0.02 .. 0.29 s (plus the agent's round trip)
rsleep() { sleep "0.$(( $(od -An -N2 -tu2 /dev/urandom) % 28 + 2 ))"; }
running() { host device list "$G" | grep -q '"process":"running"'; }
not_failed() { ! host device list "$G" | grep -q '"process":"failed"'; }

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vloopfront" insmod "$(mod vloopfront)"
G=$(guest_name)
check "host adds vloop 0" host_ok device add "$G" vloop 0
BE=$(host device list "$G" | sed -n 's/.*"backend":"\([^"]*\)".*/\1/p')
check "front-end and back-end Connected" wait_until 30 connected
p0=$(bepid)
check "the back-end is a process (pid $p0)" test "$p0" -gt 0
check "device list: process running" running
c0=$(becrashes)
b0=$(vstat bogus)
d0=$(vstat bad_data)
k0=$(vstat connects)

# an N-request run with kills at random moments; should one run end
# before KILLS kills, another follows (at most RUNS), each checked (the
# debug kernel's runs of 30000 end after about 5)
RUNS=8
kills=0
last=0
hc_bad=0
run=0
t0=$(date +%s)
while [ $kills -lt "$KILLS" ] && [ $run -lt $RUNS ]; do
	run=$((run + 1))
	k1=$kills
	(echo "$N" > $V/run; echo "rc=$?" > /tmp/bk.rc) &
	runpid=$!
	while [ $kills -lt "$KILLS" ] && kill -0 $runpid 2>/dev/null; do
		rsleep
		# the answer names the process killed ("killed"); none
		# running (restart backoff): an error; the one killed
		# last, not reaped yet: again
		r=$(host device kill "$G" vloop/0)
		p=$(echo "$r" | sed -n 's/.*"killed":\([0-9]*\).*/\1/p')
		[ -n "$p" ] && [ "$p" -gt 0 ] && [ "$p" != "$last" ] || continue
		kills=$((kills + 1))
		last=$p
		[ $((kills % 5)) -eq 0 ] && { host_ok stats "$G" || hc_bad=$((hc_bad + 1)); }
	done
	wait $runpid
	echo "# run $run: $((kills - k1)) kills: $(res) $(cat /tmp/bk.rc)"
	check "run $run completed" grep -q rc=0 /tmp/bk.rc
	check "run $run: every request ok, none lost or failed ($(res))" \
		test "$(res)" = "requests $N ok $N failed 0"
done
t1=$(date +%s)
echo "# $kills kills in $run run(s) of $N requests, $((t1 - t0)) s"
echo "# front-end: connects $k0 -> $(vstat connects), bogus $b0 -> $(vstat bogus), bad_data $d0 -> $(vstat bad_data)"
echo "# host: crashes $c0 -> $(becrashes)"
check "the back-end was killed $KILLS times during the runs ($kills)" test "$kills" -eq "$KILLS"
check "the host counted the crashes" test "$(becrashes)" -ge $((c0 + kills))
check "the host answered stats throughout ($hc_bad misses)" test "$hc_bad" -eq 0
check "the front-end reconnected after each ($k0 -> $(vstat connects))" \
	test "$(vstat connects)" -ge $((k0 + kills))
check "none duplicated (bogus $b0 -> $(vstat bogus))" test "$(vstat bogus)" -eq "$b0"
check "data checked (bad_data $d0 -> $(vstat bad_data))" test "$(vstat bad_data)" -eq "$d0"
check "connected again" wait_until 30 connected
check "a run after the kills" sh -c "echo 2000 > $V/run"
check "all ok after" test "$(res)" = "requests 2000 ok 2000 failed 0"
check "device list: not failed" not_failed

check "host removes vloop/0" host_ok device remove "$G" vloop/0
gone() { [ ! -d $V ]; }
check "vloopfront/0 removed" wait_until 20 gone
check "rmmod vloopfront" rmmod vloopfront
check "rmmod vhypercall" rmmod vhypercall
done_testing
