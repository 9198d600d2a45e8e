# SPDX-License-Identifier: GPL-2.0
# Soak (tests/soak.py): run guest scripts in rounds until
# PVKIT_SOAK_SECONDS have passed since this script started, each
# round's scripts one after the other (PVKIT_SOAK_SCRIPTS, default the
# mixed load: hypercalls, the balloon up and down, the PV MMU, the
# store and a vloop device).  One TAP result per script per round: ok
# when the script ran its plan with no "not ok" and exited 0; a failing
# one's output follows as comments.
. /tests/lib.sh
secs=${PVKIT_SOAK_SECONDS:-60}
scripts=${PVKIT_SOAK_SCRIPTS:-"hypercall.sh balloon.sh pvmmu.sh split.sh"}
now() { cut -d. -f1 /proc/uptime; }
end=$(($(now) + secs))
round=0

# one_script NAME: run /tests/guest/NAME, judge its TAP
one_script() {
	sh /tests/guest/"$1" > /tmp/soak.out 2>&1
	rc=$?
	p=$(grep -c '^ok ' /tmp/soak.out)
	f=$(grep -c '^not ok ' /tmp/soak.out)
	sk=$(grep -c '^ok .*# SKIP' /tmp/soak.out)
	plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' /tmp/soak.out | tail -n1)
	d="round $round $1: $((p - sk)) passed, $sk skipped, $f failed, rc=$rc"
	if [ "$rc" -eq 0 ] && [ "$f" -eq 0 ] && [ "${plan:-x}" = $((p + f)) ]; then
		ok "$d"
	else
		not_ok "$d (plan ${plan:-missing})"
		grep -v '^ok ' /tmp/soak.out | head -40 | sed 's/^/# /'
	fi
}

while [ "$(now)" -lt "$end" ]; do
	round=$((round + 1))
	for s in $scripts; do
		one_script "$s"
	done
	echo "# soak round $round done at $(now) s (end $end s)"
done
check "soak ran at least one round ($round)" test "$round" -ge 1
done_testing
