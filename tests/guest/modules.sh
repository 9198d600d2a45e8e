# SPDX-License-Identifier: GPL-2.0
# Every pvkit module that was built loads and unloads cleanly.
. /tests/lib.sh
mods=
for m in $PVKIT_MODULES; do
	[ -f "$(mod $m)" ] && mods="$mods $m"
done
rev=
for m in $mods; do
	check "insmod $m" insmod "$(mod $m)"
	check "$m listed in /proc/modules" loaded $m
	rev="$m $rev"
done
for m in $rev; do
	check "rmmod $m" rmmod $m
	check_fails "$m gone from /proc/modules" loaded $m
done
# and a second time, to catch state left behind by the first unload
for m in $mods; do
	check "insmod $m again" insmod "$(mod $m)"
done
for m in $rev; do
	check "rmmod $m again" rmmod $m
done
[ -n "$mods" ] || not_ok "no pvkit module found in /modules"
done_testing
