# SPDX-License-Identifier: GPL-2.0
# make demo, guest side: load the platform, exercise it, show counters.
. /tests/lib.sh
say() { echo "# $*"; }
say "guest kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) vCPUs"
say "pvkit device: $(grep -l 0x1110 /sys/bus/pci/devices/*/device | head -n1)"
check "insmod vhypercall" insmod "$(mod vhypercall)"
dmesg | grep -i vhypercall | sed 's/^/#   /'
check "insmod vpv_selftest (round trips, multicalls, event channels)" \
	insmod "$(mod vpv_selftest)"
R=/sys/kernel/debug/vpv_selftest/results
[ -r $R ] && forward_tap $R
rmmod vpv_selftest
say "vhypercall counters (/sys/kernel/debug/vhypercall/stats):"
sed 's/^/#   /' /sys/kernel/debug/vhypercall/stats
say "the host reads its side now (vpv-ctl)"
echo "PVKIT-DEMO-PAUSE"
sleep 4
check "rmmod vhypercall" rmmod vhypercall
done_testing
