# SPDX-License-Identifier: GPL-2.0
# Front-end recovery (issue 12): one checked run of N vloop requests
# during which the host restarts the back-end R times at random moments
# (vpv-ctl device restart: Closed, then InitWait).  The front-end keeps
# what was in flight and re-issues it after each reconnect: the run
# ends with every request ok, none failed, some replayed, none answered
# twice (Documentation/split.rst, "Recovery").
. /tests/lib.sh
ID=9
V=/sys/kernel/debug/vloopfront/$ID
P=/sys/module/vloopfront/parameters/pace_us
N=${VLOOP_RECOVER_N:-100000}
R=${VLOOP_RECOVER_R:-20}

res() { cat $V/results 2>/dev/null; }
vstat() { awk -v k="$1" '$1 == k {print $2}' $V/stats 2>/dev/null; }

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vloopfront" insmod "$(mod vloopfront)"
G=$(guest_name)
check "host adds vloop $ID" host_ok device add "$G" vloop $ID
connected() {
	[ "$(vstat state)" = 4 ] && [ "$(vstat live)" = 1 ]
}
check "vloop/$ID Connected" wait_until 30 connected
c0=$(vstat connects)
p0=$(vstat replayed)
d0=$(vstat duplicates)
u0=$(vstat unexpected)

# the run is paced (20 ms before each push, pace_us) so all R
# restarts land during it, then let go
t0=$(date +%s)
echo 20000 > $P
rm -f /tmp/recover.rc
(echo $N > $V/run; echo "rc=$?" > /tmp/recover.rc) &
sleep 1
i=0
fails=0
while [ $i -lt "$R" ]; do
	# a random moment: 0 to 400 ms after the last restart
	sleep "0.$(printf '%03d' $((RANDOM % 400)))"
	host_ok device restart "$G" vloop/$ID || fails=$((fails + 1))
	i=$((i + 1))
done
running=1
[ -e /tmp/recover.rc ] && running=0
echo 0 > $P
wait
t1=$(date +%s)
echo "# recover run: $(res) $(cat /tmp/recover.rc) in $((t1 - t0)) s"
echo "# stats: $(tr '\n' ' ' < $V/stats)"
check "$R restarts accepted by the host ($fails refused)" test $fails -eq 0
check "the run was still going after the last restart" test $running -eq 1
check "the run completes (rc=0)" grep -q rc=0 /tmp/recover.rc
check "requests $N ok $N failed 0 ($(res))" \
	test "$(res)" = "requests $N ok $N failed 0"
check "reconnected ($c0 -> $(vstat connects))" \
	test "$(vstat connects)" -gt "$c0"
check "requests replayed ($p0 -> $(vstat replayed))" \
	test "$(vstat replayed)" -gt "${p0:-0}"
check "no duplicate completion ($(vstat duplicates))" \
	test "$(vstat duplicates)" = "${d0:-x}"
check "no unexpected response ($(vstat unexpected))" \
	test "$(vstat unexpected)" = "${u0:-x}"
check "no data check failed ($(vstat bad_data))" test "$(vstat bad_data)" = 0
check "connected after the restarts" wait_until 30 connected
check "a run after the restarts" sh -c "echo 2000 > $V/run"
check "all 2000 ok" test "$(res)" = "requests 2000 ok 2000 failed 0"

# a hold does not survive a reconnect: the back-end lets go of what it
# held when it disconnects, so after it a RELEASE finds nothing
# (-ENOENT) and the grant ends
r=$(echo hold_keep > $V/hold && cat $V/hold)
check "the back-end holds a kept grant ($r)" \
	test "$r" = "hold_keep 0 end_while_held -16"
c1=$(vstat connects)
check "host restarts vloop/$ID (hold)" host_ok device restart "$G" vloop/$ID
reconnected() { [ "$(vstat connects)" -gt "$c1" ] && connected; }
check "reconnected (hold)" wait_until 30 reconnected
r=$(echo release_kept > $V/hold && cat $V/hold)
check "after the reconnect the hold is gone ($r)" \
	test "$r" = "release_kept -2 end 0"

# removal during a paced run still ends it with -ENODEV, nothing kept
echo 20000 > $P
rm -f /tmp/recover.rc
(echo 1000000 > $V/run 2>/tmp/recover.err; echo "rc=$?" > /tmp/recover.rc) &
sleep 1
check "host removes vloop/$ID during a run" host_ok device remove "$G" vloop/$ID
wait
echo 0 > $P
echo "# unplug run: $(cat /tmp/recover.rc) $(cat /tmp/recover.err)"
check "the run ended with ENODEV (device gone)" \
	grep -q "No such device" /tmp/recover.err
gone() { [ ! -d $V ]; }
check "vloopfront/$ID removed" wait_until 20 gone
check "rmmod vloopfront" rmmod vloopfront
check "rmmod vhypercall" rmmod vhypercall
# kept requests' pages and the kept grant ended, nothing leaked
if [ -w /sys/kernel/debug/kmemleak ]; then
	kmemleak_check "kmemleak finds nothing"
fi
done_testing
