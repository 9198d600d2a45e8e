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

say "--- the balloon: the host asks for 256 MiB back ---"
check "insmod vballoon" insmod "$(mod vballoon)" page_reporting=0
G=$(guest_name)
M=1048576
fill_mem $(($(meminfo_kb MemAvailable) / 1024 - 16))
occ0=$(hstat "$G" ram_file_bytes)
say "guest RAM file on the host occupies $((occ0 / M)) MiB"
check "host: vpv-ctl balloon $G 256M" host_ok balloon "$G" 256M
t0=$(awk '{print $1}' /proc/uptime)
reached() { [ "$(vbstat balloon_pages)" -ge 65536 ]; }
check "balloon reaches 256 MiB" wait_until 30 reached
t1=$(awk '{print $1}' /proc/uptime)
occ1=$(hstat "$G" ram_file_bytes)
say "balloon: $(vbstat balloon_pages) pages ($(vbstat pages_2m) x 2 MiB) after $(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}') s"
say "RAM file on the host: $((occ0 / M)) MiB -> $((occ1 / M)) MiB"
say "MemTotal $(meminfo_kb MemTotal) kB, MemFree $(meminfo_kb MemFree) kB"
check "host: vpv-ctl balloon $G auto (give it back)" host_ok balloon "$G" auto
empty() { [ "$(vbstat balloon_pages)" -eq 0 ]; }
check "balloon deflates" wait_until 30 empty
check "rmmod vballoon" rmmod vballoon

say "--- PV MMU: page tables only the host writes ---"
check "insmod vpvmmu" insmod "$(mod vpvmmu)"
check "insmod vpv_mmutest (map, validate, audit)" insmod "$(mod vpv_mmutest)" tests=create,map,invalid,tamper,clean
R=/sys/kernel/debug/vpv_mmutest/results
[ -r $R ] && forward_tap $R
say "host: $(hstat "$G" mmu_updates) PTE updates applied, $(hstat "$G" mmu_errors) refused, $(hstat "$G" pt_tampered) direct write(s) caught"
rmmod vpv_mmutest
check "rmmod vpvmmu" rmmod vpvmmu

say "--- split drivers: the host hot-plugs a vloop device ---"
check "insmod vloopfront" insmod "$(mod vloopfront)"
check "host: vpv-ctl device add $G vloop 0" host_ok device add "$G" vloop 0
V=/sys/kernel/debug/vloopfront/0
up() { [ -w $V/run ] && grep -q "^state 4" $V/stats 2>/dev/null; }
check "front-end and back-end connect (Xen-style states)" wait_until 20 up
check "10000 requests over the shared ring, data checked" sh -c "echo 10000 > $V/run"
say "$(cat $V/results 2>/dev/null)"
say "host sees: $(host device list "$G" | sed -n 's/.*"backend_state":"\([A-Za-z]*\)".*"requests":\([0-9]*\).*/back-end \1, \2 requests/p')"
check "host: vpv-ctl device remove $G vloop/0 (hot-unplug)" host_ok device remove "$G" vloop/0
gone() { [ ! -e $V ]; }
check "front-end gone" wait_until 20 gone
check "rmmod vloopfront" rmmod vloopfront
check "rmmod vhypercall" rmmod vhypercall
done_testing
