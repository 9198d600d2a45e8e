# SPDX-License-Identifier: GPL-2.0
# vpvmmu against the real host stub: vpv_mmutest maps pages through
# pinned page tables, checks data and PTEs, every invalid request class,
# the balloon's refusal of mapped frames and the host's audit of a
# table written behind its back (KTAP through debugfs); here the host's
# own counters are checked: pin counts follow map/unmap/destroy and the
# tampering was counted.
. /tests/lib.sh
R=/sys/kernel/debug/vpv_mmutest/results
H=/sys/kernel/debug/vpv_mmutest/hold
S=/sys/kernel/debug/vpvmmu/stats
mmstat() { awk -v k="$1" '$1 == k {print $2}' $S; }
hold() { echo "$1" > $H; }

check "insmod vhypercall" insmod "$(mod vhypercall)"
G=$(guest_name)
pin0=$(hstat "$G" pinned_pages)
tam0=$(hstat "$G" pt_tampered)
echo "# host: guest $G pinned_pages ${pin0:-?} pt_tampered ${tam0:-?}"
check "host reports pinned_pages" test -n "$pin0"
check "insmod vpvmmu" insmod "$(mod vpvmmu)"
check "debugfs stats present" test -r $S
check "insmod vpv_mmutest" insmod "$(mod vpv_mmutest)"
if [ -r $R ]; then
	forward_tap $R
else
	not_ok "vpv_mmutest results present"
fi
tam1=$(hstat "$G" pt_tampered)
check "host counted the table tampering (${tam0:-?} -> ${tam1:-?})" \
	test "${tam1:-0}" -ge $((${tam0:-0} + 1))
pin1=$(hstat "$G" pinned_pages)
check "host pinned_pages back to $pin0 after the tests ($pin1)" \
	test "$pin1" -eq "$pin0"

# the host's pin counts follow one area: 256 frames + 1 table
check "hold: map 256 pages" hold "map 256"
p=$(hstat "$G" pinned_pages)
check "pinned_pages $pin0 + 257 with 256 mapped ($p)" test "$p" -eq $((pin0 + 257))
check "vpvmmu: 1 area, 1 pinned table" \
	test "$(mmstat areas)" -eq 1 -a "$(mmstat pinned_tables)" -eq 1
check "hold: unmap" hold unmap
p=$(hstat "$G" pinned_pages)
check "pinned_pages $pin0 + 1 after unmap ($p)" test "$p" -eq $((pin0 + 1))
check "hold: destroy" hold destroy
p=$(hstat "$G" pinned_pages)
check "pinned_pages back to $pin0 after destroy ($p)" test "$p" -eq "$pin0"
check "vpvmmu: no area, no pinned table, nothing leaked" \
	test "$(mmstat areas)" -eq 0 -a "$(mmstat pinned_tables)" -eq 0 \
	-a "$(mmstat leaked_areas)" -eq 0
sed 's/^/# /' $S

check "rmmod vpv_mmutest" rmmod vpv_mmutest
check "rmmod vpvmmu" rmmod vpvmmu
if [ -w /sys/kernel/debug/kmemleak ]; then
	kmemleak_check "kmemleak finds nothing"
fi
check "rmmod vhypercall" rmmod vhypercall
done_testing
