#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make check: sparse (C=2), checkpatch.pl --strict and a W=1 build over
# every guest module, plus checkpatch over the ABI headers and the host
# stub, and the documentation (docutils, then make htmldocs: Sphinx -W).
# checkpatch comes from Debian's linux-source-6.1 at check time.
# Any warning fails.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${PVKIT_CACHE:-/var/cache/pvkit}
bash "$repo/tests/install-deps.sh"

kdir=$(ls -d /usr/src/linux-headers-*-amd64 | sort -V | tail -n1)
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
cp_dir="$cache/checkpatch-$srcver"
if [ ! -f "$cp_dir/scripts/checkpatch.pl" ]; then
	mkdir -p "$cp_dir"
	tar -C "$cp_dir" --strip-components=1 -xf /usr/src/linux-source-6.1.tar.xz \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi
fail=0

# Kernel code and the ABI: strict, nothing ignored.  The host stub is
# userspace C11, so the checks that ask for kernel-only types and macros
# (u32, __packed, BIT()) do not apply to it.
cp_run() {
	local out
	out=$(cd "$repo" && perl "$cp_dir/scripts/checkpatch.pl" --strict \
		--no-tree --terse --show-types "$@" 2>&1 |
		grep -E 'ERROR|WARNING|CHECK')
	if [ -n "$out" ]; then
		echo "$out"
		fail=1
	fi
}
echo "== checkpatch --strict"
mapfile -t kfiles < <(cd "$repo" && git ls-files --cached --others \
	--exclude-standard -- '*.c' '*.h' | grep -v -e '^build/' -e '^host-stub/')
mapfile -t hfiles < <(cd "$repo" && git ls-files --cached --others \
	--exclude-standard -- 'host-stub/*.c' 'host-stub/*.h')
cp_run -f "${kfiles[@]}"
cp_run --ignore PREFER_KERNEL_TYPES,PREFER_DEFINED_ATTRIBUTE_MACRO,BIT_MACRO \
	-f "${hfiles[@]}"
echo "   ${#kfiles[@]} kernel/ABI files, ${#hfiles[@]} host stub files"

for mode in sparse w1; do
	echo "== $mode"
	out_dir="$repo/build/check-$mode"
	rm -rf "$out_dir"
	if [ $mode = sparse ]; then
		args=(C=2)
	else
		args=(W=1)
	fi
	log=$(bash "$repo/tests/build-modules.sh" "$kdir" "$out_dir" \
		"${args[@]}" 2>&1)
	rc=$?
	bad=$(echo "$log" | grep -E 'warning:|error:')
	if [ $rc -ne 0 ] || [ -n "$bad" ]; then
		echo "$log"
		fail=1
	fi
done

echo "== Documentation (reStructuredText)"
/usr/bin/python3 "$repo/tests/check-docs.py" || fail=1
echo "== Documentation (make htmldocs, Sphinx -W)"
make -s -C "$repo" htmldocs || fail=1

if [ $fail -ne 0 ]; then
	echo "make check: FAILED"
	exit 1
fi
echo "make check: clean (checkpatch --strict, sparse, W=1, docs, htmldocs)"
