#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build (once) the pvkit test kernel from Debian's linux-source-6.1 with
# the config fragment tests/kernel/pvkit-test.config and the fixes in
# tests/kernel/patches/*.patch (applied in name order; each says what it
# fixes), and print the path of its build tree.  The tree is cached
# outside the repository, keyed by the fragment, the patches, the source
# package version and the compiler version, so a second run with nothing
# changed returns at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
frag="$here/pvkit-test.config"
cache=${PVKIT_CACHE:-/var/cache/pvkit}
jobs=${PVKIT_JOBS:-$(($(nproc) + 1))}

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
ccver=$(gcc --version | head -n1)
patches=$(find "$here/patches" -name '*.patch' 2>/dev/null | LC_ALL=C sort)
key=$( { cat "$frag" $patches; echo "$srcver"; echo "$ccver"; } |
	sha256sum | cut -c1-16)
dir="$cache/test-kernel-$key"

if [ -f "$dir/.pvkit-done" ]; then
	echo "$dir/linux"
	exit 0
fi

echo "build-test-kernel: building $dir (source $srcver)" >&2
rm -rf "$dir"
mkdir -p "$dir"
tar -C "$dir" -xf /usr/src/linux-source-6.1.tar.xz
mv "$dir"/linux-source-6.1 "$dir/linux"
cd "$dir/linux"
for p in $patches; do
	echo "build-test-kernel: applying $(basename "$p")" >&2
	patch -s -p1 < "$p" >&2
done
make -s x86_64_defconfig >&2
scripts/kconfig/merge_config.sh -m .config "$frag" >&2
make -s olddefconfig >&2

# Fail loudly if a requested option did not survive olddefconfig.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) opt=${line%%=*}
		if grep -q "^$opt=" .config; then
			echo "build-test-kernel: $opt still set" >&2; bad=1
		fi ;;
	CONFIG_*) if ! grep -qxF "$line" .config; then
			echo "build-test-kernel: missing $line" >&2; bad=1
		fi ;;
	esac
done < "$frag"
[ $bad -eq 0 ] || exit 1

start=$(date +%s)
make -s -j"$jobs" bzImage modules >&2
make -s -j"$jobs" INSTALL_MOD_PATH="$dir/mods" modules_install >&2
echo "build-test-kernel: built in $(( $(date +%s) - start ))s" >&2
touch "$dir/.pvkit-done"
echo "$dir/linux"
