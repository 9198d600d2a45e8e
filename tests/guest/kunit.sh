# SPDX-License-Identifier: GPL-2.0
# Load every *_kunit.ko; the harness counts the KTAP test cases.
. /tests/lib.sh
D=/sys/kernel/debug/kunit
n=0
for k in /modules/*_kunit.ko; do
	[ -f "$k" ] || continue
	name=$(basename "$k" .ko)
	ls $D > /tmp/before 2>/dev/null
	check "insmod $name" insmod "$k"
	ls $D > /tmp/after 2>/dev/null
	for s in $(cat /tmp/after); do
		grep -qxF "$s" /tmp/before && continue
		kunit_results "$s"
		n=$((n + 1))
	done
	check "rmmod $name" rmmod "$name"
done
check "at least one KUnit suite ran ($n)" test $n -gt 0
done_testing
