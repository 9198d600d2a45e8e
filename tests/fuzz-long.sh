#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Long fuzzing runs, not part of make test: every libFuzzer harness of
# the host stub (make -C host-stub fuzz-list) for FUZZ_RUNS executions
# (default 10 M) with the limits make fuzz uses (-rss_limit_mb,
# -timeout: a memory or time blow-up is a finding like a crash).  The
# corpora live in $PVKIT_WORK/fuzz-long/NAME/corpus, seeded from
# host-stub/fuzz/corpus/NAME and kept from run to run; a crash leaves
# its input there as crash-*, leak-*, oom-* or timeout-*.  Prints one
# TAP line per harness with executions, seconds, execs/s, corpus size
# and peak RSS, and exits non-zero if any harness failed.
#
#   tests/fuzz-long.sh                  all harnesses, 10 M runs each
#   FUZZ_RUNS=1000000 tests/fuzz-long.sh fuzz_pvmmu fuzz_bus
#   FUZZ_NICE=10 ...                     run under nice (default 10)
set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
HS=$REPO/host-stub
WORK=${PVKIT_WORK:-/tmp/pvkit}/fuzz-long
RUNS=${FUZZ_RUNS:-10000000}
RSS_MB=${FUZZ_RSS_MB:-2048}
TIMEOUT=${FUZZ_TIMEOUT:-10}
NICE=${FUZZ_NICE:-10}

make -s -C "$HS" fuzz-build || exit 1
if [ $# -gt 0 ]; then
	names="$*"
else
	names=$(make -s -C "$HS" fuzz-list)
fi

n=0
fail=0
for f in $names; do
	n=$((n + 1))
	d=$WORK/$f
	mkdir -p "$d/corpus"
	cp -n "$HS/fuzz/corpus/$f"/* "$d/corpus/" 2>/dev/null
	t0=$(date +%s)
	UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		nice -n "$NICE" "$HS/build-fuzz/$f" -runs="$RUNS" \
		-rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" \
		-print_final_stats=1 -artifact_prefix="$d/" \
		"$d/corpus" > "$d/log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - t0 ))
	stat() { sed -n "s/^stat::$1: *//p" "$d/log"; }
	execs=$(stat number_of_executed_units)
	rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
	info="${execs:-?} runs in $secs s ($rate execs/s), corpus $(ls "$d/corpus" | wc -l), peak rss $(stat peak_rss_mb) MB"
	if [ $rc -eq 0 ]; then
		echo "ok $n - $f: $info"
	else
		tail -40 "$d/log"
		echo "not ok $n - $f: failed (rc=$rc) after $info, see $d/log"
		fail=1
	fi
done
echo "1..$n"
exit $fail
