# SPDX-License-Identifier: GPL-2.0
# Memory policy, the active guest: keep 200 MiB of tmpfs hot (on the
# active LRU list) until the idle guest has made its checks and says so
# by taking a manual target.
. /tests/lib.sh
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vballoon" insmod "$(mod vballoon)"
check "200 MiB working set in tmpfs" \
	dd if=/dev/zero of=/tmp/hot bs=1M count=200
# Read the data with dd (read(2) copies every page to user space).  Not
# "cat > /dev/null": busybox cat uses sendfile, tmpfs splices page
# references into the pipe and /dev/null drops them unread, so the host
# saw no access at all and the check passed only on the decay of the
# write above.  Bounded by time, not passes: a pass takes 0.2-2 s
# depending on the host's load.
n=0
end=$(($(cut -d. -f1 /proc/uptime) + 420))
while [ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do
	dd if=/tmp/hot of=/dev/null bs=64k 2>/dev/null
	n=$((n + 1))
	host stats idle | grep -q '"target_mode":"manual"' && break
done
check "kept the working set hot until the checks were done ($n passes)" \
	test "$(cut -d. -f1 /proc/uptime)" -lt $end
echo "# active_ppm $(hstat active active_ppm), host-measured $(hstat active host_active_ppm)"
rm -f /tmp/hot
check "rmmod vballoon" rmmod vballoon
check "rmmod vhypercall" rmmod vhypercall
done_testing
