#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make-root.sh KVER: print the path of a cached Debian 12 root
# (debootstrap --variant=minbase bookworm) with the guest kernel KVER's
# linux-image and linux-headers, dkms, kmod and udev installed, making
# it first if /var/cache/pvkit has none.  tests/pkg-test.sh installs
# pvkit-dkms into a copy of it.  A cold build downloads about 150 MB
# from Debian's archive (the only one reachable in CI).
set -euo pipefail
kver=$1
mirror=${PVKIT_MIRROR:-http://deb.debian.org/debian}
cache=/var/cache/pvkit
root=$cache/pkg-root-$kver
if [ -f "$root/.pvkit-complete" ]; then
	echo "$root"
	exit 0
fi
mkdir -p "$cache"
tmp=$root.tmp
# a build that died may have left /proc, /sys, /dev bound in it: never
# rm -rf into them
awk -v p="$tmp" '$2 == p || index($2, p "/") == 1 {print $2}' /proc/mounts |
	sort -r | while read -r m; do umount -l "$m"; done
rm -rf "$tmp"
mounted=()
cleanup() {
	local m
	for m in "${mounted[@]}"; do
		umount -l "$m" 2>/dev/null || true
	done
}
trap cleanup EXIT
echo "make-root: debootstrap bookworm into $tmp" >&2
debootstrap --variant=minbase bookworm "$tmp" "$mirror" >&2
# the guest kernel's packages come from bookworm-security as often as not
cat > "$tmp/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
SRC
# no daemon starts in the chroot (policy-rc.d's "action forbidden")
printf '#!/bin/sh\nexit 101\n' > "$tmp/usr/sbin/policy-rc.d"
chmod 755 "$tmp/usr/sbin/policy-rc.d"
for m in proc sys dev; do
	mount --bind /$m "$tmp/$m"
	mounted=("$tmp/$m" "${mounted[@]}")
done
in_root() {
	# INITRD=No: the kernel's postinst makes no initramfs (the guest
	# boots the harness's), which saves a minute a cold build
	chroot "$tmp" env DEBIAN_FRONTEND=noninteractive INITRD=No \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
in_root apt-get update -qq >&2
in_root apt-get install -y -qq --no-install-recommends \
	"linux-image-$kver" "linux-headers-$kver" dkms kmod udev >&2
in_root apt-get clean
cleanup
mounted=()
touch "$tmp/.pvkit-complete"
rm -rf "$root"
mv "$tmp" "$root"
echo "$root"
