# SPDX-License-Identifier: GPL-2.0
# The split-driver platform against the real host: the config store
# from both sides (read/write/ls/rm, watches, transactions, access
# limits), grant copy with RO/RW enforcement, ending a grant in use
# (simulated, and held by the vloop back-end), and the vloop device: handshake, checked requests, hot-unplug during
# a run, back-end restart and reconnect (nothing in flight lost), its
# feature keys (advertised, overridden by the host, used only when
# offered, refused otherwise).
. /tests/lib.sh
S=/sys/kernel/debug/vpv_splittest/store
V=/sys/kernel/debug/vloopfront/0
N=${VLOOP_N:-100000}

st() { echo "$*" > $S; cat $S; }
# st_is "ANSWER" CMD...: the store command answers exactly ANSWER
st_is() { want=$1; shift; r=$(st "$@"); [ "$r" = "$want" ] || { echo "# got: $r"; return 1; }; }
hval() { host store read "$1" | sed -n 's/.*"value":"\([^"]*\)".*/\1/p'; }
res() { cat $V/results 2>/dev/null; }
# run_sum: the last run's requests all answered, ok + failed == requests
run_sum() {
	r=$(res 2>/dev/null) || return 1
	set -- $r
	[ $# -ge 6 ] && [ $(($4 + $6)) -eq "$2" ]
}
vstat() { awk -v k="$1" '$1 == k {print $2}' $V/stats 2>/dev/null; }

check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vpv_splittest" insmod "$(mod vpv_splittest)"
check "insmod vloopfront" insmod "$(mod vloopfront)"
G=$(guest_name)
D=$(st domid | sed -n 's/^OK //p')
check "guest $G has a domid (${D:-?})" test "${D:-0}" -gt 0
H=/local/domain/$D

# 1. the store from the guest and from the host
check "guest writes data/t1" st_is OK write data/t1 hello
check "guest reads data/t1" st_is "OK hello" read data/t1
check "guest reads it by absolute path" st_is "OK hello" read $H/data/t1
check "host reads the guest's write" test "$(hval $H/data/t1)" = hello
check "host writes data/t2" host_ok store write $H/data/t2 world
check "guest reads the host's write" st_is "OK world" read data/t2
check "host writes data/t3" host_ok store write $H/data/t3 v3
lsd=$(st ls data)
check "guest lists data ($lsd)" sh -c "for n in t1 t2 t3; do echo ' $lsd ' | grep -q \" \$n \" || exit 1; done"
check "guest mkdir data/dir" st_is OK mkdir data/dir
check "guest rm data/t1" st_is OK rm data/t1
check "data/t1 gone (ENOENT)" st_is "ERR -2" read data/t1
check "guest watches data/w" st_is OK watch data/w
ev() { st events | awk '{print $2}'; }
check "the watch fires at once" wait_until 5 test "$(ev)" -ge 1
e0=$(ev)
host_ok store write $H/data/w/x 1
check "host write below data/w fires it" wait_until 5 test "$(ev)" -gt "$e0"
e1=$(ev)
st write data/other 1 >/dev/null
sleep 1
check "a write elsewhere does not ($e1 -> $(ev))" test "$(ev)" -eq "$e1"
check "unwatch" st_is OK unwatch
check "transaction commits" st_is OK tx data/tx1 v1
check "committed value visible" st_is "OK v1" read data/tx1
check "transaction aborts" st_is OK txabort data/tx2 v2
check "aborted value not there" st_is "ERR -2" read data/tx2

# 2. access limits
check "write to /local/domain/0/x refused (EACCES)" st_is "ERR -13" write /local/domain/0/x y
check "read of /local/domain/0/x refused (EACCES)" st_is "ERR -13" read /local/domain/0/x
O=$((D + 1))
check "write to another guest's home refused (EACCES)" st_is "ERR -13" write /local/domain/$O/x y
check "host sees no /local/domain/0/x" sh -c "! grep -q value <<EOF
$(host store read /local/domain/0/x)
EOF"

# 2b. replies the guest may not take, and protocol errors: the client
# stays usable and reconnects by itself
long=$(printf '%0200d' 0)
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22; do
	host store write $H/big/n$long$i x >/dev/null
done
check "a 4.4 KB listing is refused (E2BIG)" st_is "ERR -7" ls big
check "the store still works after it" st_is "OK v1" read data/tx1
host_ok store rm $H/big
DS=/sys/kernel/debug/vhypercall/store
dsv() { awk -v k="$1" '$1 == k {print $2}' $DS; }
# re-evaluated on each try of wait_until
reconnected() { [ "$(dsv reconnects)" -gt "$1" ]; }
fired_since() { [ "$(ev)" -gt "$1" ]; }
check "guest watches data/w" st_is OK watch data/w
check "the watch fires" wait_until 5 fired_since 0
for side in rsp req; do
	r0=$(dsv reconnects)
	e0=$(ev)
	echo $side > $DS
	check "broken $side index: the client reconnects" \
		wait_until 10 reconnected "$r0"
	check "the store works again ($side)" st_is "OK v1" read data/tx1
	check "the watch is registered again ($side)" \
		wait_until 5 fired_since "$e0"
	e1=$(ev)
	host_ok store write $H/data/w/y $side
	check "and fires on a host write ($side)" \
		wait_until 5 fired_since "$e1"
done
echo "# store client: $(tr '\n' ' ' < $DS)"
host_pe() { host stats "$G" | grep -q '"store_protocol_errors":[1-9]'; }
check "the host counted the req side's error" host_pe
check "unwatch after the reconnects" st_is OK unwatch

# 3. grants: copy RW, RO read, RO write refused; end of a grant in use
r=$(st gntcopy)
echo "# gntcopy: $r"
check "grant copy into a RW grant" sh -c "echo '$r' | grep -q 'rw 1/0 '"
check "grant copy into a RO grant fails -EPERM" sh -c "echo '$r' | grep -q 'ro_write 0/-1 '"
check "grant copy out of a RO grant" sh -c "echo '$r' | grep -q 'ro_read 1/0 '"
check "grant copy data arrived" sh -c "echo '$r' | grep -q 'data 1'"
r=$(st gntbusy)
echo "# gntbusy: $r"
check "end of a grant with READING set is refused (-EBUSY)" sh -c "echo '$r' | grep -q 'end -16 '"
check "deferred end waits while busy, frees after" sh -c "echo '$r' | grep -q 'held_while_busy 1 freed_after 1'"
# the header's gnttab_offset changed after probe: the validated table is used
r=$(st gntbusy_badhdr)
check "gnttab_offset changed in the header: still the probed table ($r)" sh -c "echo '$r' | grep -q 'end -16 held_while_busy 1 freed_after 1'"

# 4. vloop: handshake
BE=/local/domain/0/backend/vloop/$D/0
check "host adds vloop 0" host_ok device add "$G" vloop 0
connected() { [ "$(vstat state)" = 4 ] && [ "$(hval $BE/state)" = 4 ]; }
check "front-end and back-end Connected" wait_until 20 connected
rr=$(st read device/vloop/0/ring-ref | sed -n 's/^OK //p')
check "ring-ref ${rr:-?} >= 8" test "${rr:-0}" -ge 8

# a grant the vloop back-end holds (VPV_VLOOP_OP_HOLD) cannot be ended
r=$(echo hold > $V/hold && cat $V/hold)
echo "# hold: $r"
check "the back-end holds a grant (HOLD status 0)" sh -c "echo '$r' | grep -q '^hold 0 '"
check "end of a grant held by the back-end refused (-EBUSY)" sh -c "echo '$r' | grep -q ' end_while_held -16 '"
check "RELEASE lets it go (status 0)" sh -c "echo '$r' | grep -q ' release 0 '"
check "RELEASE of a grant not held -ENOENT" sh -c "echo '$r' | grep -q ' release_again -2 '"
check "end succeeds after the release" sh -c "echo '$r' | grep -q ' end_after_release 0$'"

# 5. N checked requests
t0=$(date +%s)
check "run $N requests" sh -c "echo $N > $V/run"
t1=$(date +%s)
echo "# $N requests in $((t1 - t0)) s: $(res)"
check "all $N ok" test "$(res)" = "requests $N ok $N failed 0"

# 6. back-end restart during a run: the front-end reconnects, re-issues
# what was in flight and goes on, nothing lost or failed (more in
# split-recover.sh)
c0=$(vstat connects)
N2=$((2 * N))
(echo $N2 > $V/run; echo "rc=$?" > /tmp/run.rc) &
sleep 1
check "host restarts vloop/0" host_ok device restart "$G" vloop/0
wait
echo "# restart run: $(res) $(cat /tmp/run.rc)"
check "run across the restart completes" grep -q rc=0 /tmp/run.rc
check "restart run: ok + failed == requests" run_sum
check "restart run: none failed ($(res))" \
	test "$(res)" = "requests $N2 ok $N2 failed 0"
check "reconnected ($c0 -> $(vstat connects))" test "$(vstat connects)" -gt "$c0"
check "connected again" wait_until 20 connected
check "run after restart" sh -c "echo 2000 > $V/run"
check "all ok after restart" test "$(res)" = "requests 2000 ok 2000 failed 0"

# 6b. features: the back-end advertises feature-* keys, the front-end
# reads them at connect and uses only what is offered, the back-end
# refuses the rest (-VPV_EOPNOTSUPP) and the device goes on
fval() { awk -v k="$1" '$1 == k {print $2}' $V/features 2>/dev/null; }
refused() { host stats "$G" | sed -n 's/.*"vloop_refused":\([0-9]*\).*/\1/p'; }
reconnected_since() { [ "$(vstat connects)" -gt "$1" ] && connected; }
# feat_restart XOR HOLD: the host sets both keys and restarts vloop/0
feat_restart() {
	c0=$(vstat connects)
	check "host sets feature-xor $1" host_ok store write $BE/feature-xor $1
	check "host sets feature-hold $2" host_ok store write $BE/feature-hold $2
	check "host restarts vloop/0 (xor $1 hold $2)" host_ok device restart "$G" vloop/0
	check "reconnected (xor $1 hold $2)" wait_until 20 reconnected_since "$c0"
	check "host: the restart keeps feature-xor $1" test "$(hval $BE/feature-xor)" = "$1"
	check "front-end: feature-xor $1" test "$(fval feature-xor)" = "$1"
	check "front-end: feature-hold $2" test "$(fval feature-hold)" = "$2"
}
tf0=$(date +%s)
check "host: the back-end advertises feature-xor 1" test "$(hval $BE/feature-xor)" = 1
check "host: the back-end advertises feature-hold 1" test "$(hval $BE/feature-hold)" = 1
check "front-end: feature-xor 1, feature-hold 1" \
	test "$(fval feature-xor) $(fval feature-hold)" = "1 1"
x0=$(vstat xor_sent)
check "xor offered: the runs issued XOR requests (${x0:-?})" test "${x0:-0}" -gt 0
feat_restart 0 0
x0=$(vstat xor_sent)
check "run 2000 without xor" sh -c "echo 2000 > $V/run"
check "without xor: all ok" test "$(res)" = "requests 2000 ok 2000 failed 0"
check "without xor: no XOR request issued ($x0 -> $(vstat xor_sent))" \
	test "$(vstat xor_sent)" -eq "$x0"
r=$(echo hold > $V/hold && cat $V/hold)
check "without hold: HOLD not sent, -EOPNOTSUPP ($r)" sh -c "echo '$r' | grep -q '^hold -95 end_while_held 0 '"
rf0=$(refused)
r=$(echo "force 1" > $V/hold && cat $V/hold)
check "a forced XOR: the back-end answers -EOPNOTSUPP ($r)" test "$r" = "force 1 status -95"
r=$(echo "force 2" > $V/hold && cat $V/hold)
check "a forced HOLD: the back-end answers -EOPNOTSUPP ($r)" test "$r" = "force 2 status -95"
check "the host counted 2 refusals (${rf0:-?} -> $(refused))" test "$(refused)" -eq $((${rf0:-0} + 2))
check "still connected after the refusals" connected
check "run 200 after the refusals" sh -c "echo 200 > $V/run"
check "after the refusals: all ok" test "$(res)" = "requests 200 ok 200 failed 0"
feat_restart 1 1
x0=$(vstat xor_sent)
check "run 200 with xor again" sh -c "echo 200 > $V/run"
check "xor back: all ok" test "$(res)" = "requests 200 ok 200 failed 0"
check "xor back: XOR requests issued ($x0 -> $(vstat xor_sent))" \
	test "$(vstat xor_sent)" -gt "$x0"
echo "# features section: $(($(date +%s) - tf0)) s"

# 7. hot-unplug during a run
(echo 1000000 > $V/run; echo "rc=$?" > /tmp/run.rc) &
sleep 1
check "host removes vloop/0" host_ok device remove "$G" vloop/0
wait
echo "# unplug run: $(cat /tmp/run.rc)"
check "the run ended with an error (device gone)" sh -c "! grep -q rc=0 /tmp/run.rc"
gone() { [ ! -d $V ]; }
check "vloopfront/0 removed" wait_until 20 gone
check "front-end directory gone" st_is "ERR -2" ls device/vloop/0
check "no vloop device left on the host" sh -c "! host device list $G | grep -q vloop"

# 8. unload, reload, unload: nothing left behind
check "rmmod vloopfront" rmmod vloopfront
check "rmmod vpv_splittest" rmmod vpv_splittest
check "rmmod vhypercall" rmmod vhypercall
check "insmod vhypercall again" insmod "$(mod vhypercall)"
check "insmod vpv_splittest again" insmod "$(mod vpv_splittest)"
check "insmod vloopfront again" insmod "$(mod vloopfront)"
check "store works after reload" st_is "OK v1" read data/tx1
check "rmmod vloopfront again" rmmod vloopfront

# 9. the bus: autoload through MODALIAS, sysfs, concurrent probes,
# dev_fatal, the event channel's IRQ (tests/guest/split-bus.sh)
. /tests/guest/split-bus.sh

check "rmmod vpv_splittest again" rmmod vpv_splittest
check "rmmod vhypercall again" rmmod vhypercall
if [ -w /sys/kernel/debug/kmemleak ]; then
	kmemleak_check "kmemleak finds nothing"
fi
done_testing
