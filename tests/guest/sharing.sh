# SPDX-License-Identifier: GPL-2.0
# The host's page-sharing scan (vpv-ctl sharing), run in two guests under
# one stub (tests/run.py sharing).  vpv_sharetest plants four blocks of
# known pages in each guest: zero pages, pages of one content unique to
# this guest, pages of a content both guests have (same seed), and pages
# of unique random content; it reports each block's PFNs.  The host is
# asked about exactly those PFNs, on a pass that saw both guests'
# plants: every zero page zero, every dup page duplicated within the
# guest and not across, every cross page duplicated within and across,
# and no unique page shared with anything (no false sharing).  Each
# guest keeps its pages until the other is done (config store).
. /tests/lib.sh
G=$(guest_name)
N=${SHARE_PAGES:-64}
P=/sys/kernel/debug/vpv_sharetest/pfns
case "$G" in
shareb) O=sharea ;;
*) O=shareb ;;
esac
check "insmod vpv_sharetest ($N pages of each kind)" \
	insmod "$(mod vpv_sharetest)" zero="$N" dup="$N" cross="$N" uniq="$N" \
	seed=0x5ea51de
check "its PFNs in debugfs" test -r $P
rng() { awk -v k="$1" '$1 == k {print $2 "-" $3}' $P; }
RZ=$(rng zero); RD=$(rng dup); RX=$(rng cross); RU=$(rng uniq)
echo "# $G: zero $RZ, dup $RD, cross $RX, uniq $RU"
# a pass takes a few seconds at low priority beside two TCG guests
ask() {
	HOST_TIMEOUT=60 host sharing --wait "$G" "$RZ" "$RD" "$RX" "$RU"
}
# range I (1..4) of the answer in $A: one object a line
rfield() {
	echo "$A" | sed 's/.*"ranges":\[//; s/},{/}\n{/g' | sed -n "${1}p" |
		jget "$2"
}
# until a pass has seen the other guest's cross pages (and ours)
both_planted() {
	A=$(ask) || return 1
	[ "$(rfield 3 cross_pages)" = "$N" ]
}
wait_5s() {
	t=$1; shift
	while [ "$t" -gt 0 ] && ! "$@"; do sleep 5; t=$((t - 5)); done
	"$@"
}
check "a pass sees both guests' shared content" wait_5s 150 both_planted
echo "# $(echo "$A" | sed 's/,"guests".*//')"
echo "# $G: $(echo "$A" | sed 's/.*"guests":\[{//; s/,"ranges".*//')"
# rcheck DESC I pages scanned zero dup cross unique
rcheck() {
	t_d=$1; t_i=$2; shift 2
	t_got="$(rfield "$t_i" pages) $(rfield "$t_i" scanned_pages) $(rfield "$t_i" zero_pages) $(rfield "$t_i" dup_pages) $(rfield "$t_i" cross_pages) $(rfield "$t_i" unique_pages)"
	if [ "$t_got" = "$*" ]; then
		ok "$t_d"
	else
		not_ok "$t_d"
		echo "# pages scanned zero dup cross unique: got $t_got, want $*"
	fi
}
rcheck "zero pages: all $N zero, none duplicate data" 1 $N $N $N 0 0 0
rcheck "dup pages: all $N duplicated within, none across" 2 $N $N 0 $N 0 0
rcheck "cross pages: all $N duplicated within and across" 3 $N $N 0 $N $N 0
rcheck "unique pages: none shared (no false sharing)" 4 $N $N 0 0 0 $N
cpu=$(echo "$A" | jget cpu_us)
check "the pass's CPU time is measured (${cpu}us)" test "${cpu:-0}" -gt 0
# the guest's own totals: its part of the answer before "ranges" (jget
# takes the last match of a line)
gfield() { echo "$A" | sed 's/.*"guests":\[//; s/,"ranges".*//' | jget "$1"; }
gz=$(gfield zero_pages); gd=$(gfield dup_pages); gx=$(gfield cross_pages)
check "the guest's totals count the plants (zero $gz >= $N, dup $gd >= $((2 * N)), cross $gx >= $N)" \
	test "${gz:-0}" -ge "$N" -a "${gd:-0}" -ge $((2 * N)) -a "${gx:-0}" -ge "$N"
# done; keep the pages until the other guest is done too
check "tell $O we are done" host_ok store write "/pvkit-test/share-$G" done
other_done() { host store read "/pvkit-test/share-$O" | grep -q done; }
check "$O is done too" wait_until 300 other_done
check "rmmod vpv_sharetest" rmmod vpv_sharetest
done_testing
