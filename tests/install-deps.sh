#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install every Debian package pvkit's build, checks and tests need.
# Idempotent: does nothing when all packages are present.
set -euo pipefail

PKGS=(
	build-essential bc bison flex libelf-dev libssl-dev dwarves cpio kmod
	rsync xz-utils python3 perl gawk
	qemu-system-x86 qemu-utils
	linux-image-amd64 linux-headers-amd64 linux-source-6.1
	busybox-static sparse python3-docutils python3-sphinx
	clang libclang-rt-14-dev liburing-dev libseccomp-dev
	iproute2 iputils-ping
	dpkg-dev debhelper dh-dkms dkms debootstrap
)

# Programs the guest and benchmark scripts run: each names them on a line
# "# pvkit-programs: PKG:PROG PROG ..." (a bare PROG comes from the
# package of the same name); the harness copies them into the guest
# with their libraries (tests/harness/vmtest.py build_initramfs).
here=$(dirname "$0")
while read -r spec; do
	PKGS+=("${spec%%:*}")
done < <(sed -n 's/^#[[:space:]]*pvkit-programs://p' "$here"/guest/*.sh "$here"/bench/*.sh |
	tr -s ' \t' '\n\n' | grep . | sort -u)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
