# SPDX-License-Identifier: GPL-2.0
# Memory policy, the active guest: keep 200 MiB of tmpfs hot (on the
# active LRU list) until the idle guest has made its checks and says so
# by taking a manual target.
. /tests/lib.sh
check "insmod vhypercall" insmod "$(mod vhypercall)"
check "insmod vballoon" insmod "$(mod vballoon)"
check "200 MiB working set in tmpfs" \
	dd if=/dev/zero of=/tmp/hot bs=1M count=200
n=0
while [ $n -lt 300 ]; do
	cat /tmp/hot > /dev/null
	n=$((n + 1))
	host stats idle | grep -q '"target_mode":"manual"' && break
done
check "kept the working set hot until the checks were done ($n passes)" \
	test $n -lt 300
echo "# active_ppm $(hstat active active_ppm), host-measured $(hstat active host_active_ppm)"
rm -f /tmp/hot
check "rmmod vballoon" rmmod vballoon
check "rmmod vhypercall" rmmod vhypercall
done_testing
