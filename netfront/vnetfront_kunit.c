// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for vnetfront's pure logic (vnetfront_logic.h): id slots
 * (never freed twice, a stale or repeated id names nothing), TX
 * responses, every RX validation class of Documentation/netif.rst
 * ("Bogus responses") on packets built slot by slot, the splitting of
 * a packet into 4 KiB frames, and what is negotiated (queues, ring
 * order and RX fill within the grant budget, MTU, features, keys).  No
 * host needed.
 * Results: /sys/kernel/debug/kunit/vnetfront/results
 */
#include <kunit/test.h>
#include <linux/module.h>

#include "vnetfront_logic.h"

#define N	4

static void vnf_test_slots(struct kunit *test)
{
	struct vnf_slot sl[N];
	struct vnf_slots s;
	u16 ids[N];
	int i, idx;

	vnf_slots_init(&s, sl, N);
	KUNIT_EXPECT_EQ(test, s.nfree, N);
	for (i = 0; i < N; i++) {
		idx = vnf_slot_get(&s);
		KUNIT_EXPECT_EQ(test, idx, i);
		ids[i] = sl[i].id;
		KUNIT_EXPECT_EQ(test, ids[i] & VNF_IDX_MASK, (u16)i);
		KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, ids[i]), i);
	}
	KUNIT_EXPECT_EQ(test, s.nfree, 0U);
	KUNIT_EXPECT_EQ(test, vnf_slot_get(&s), -1);
	/* answered: found once, then never again */
	KUNIT_EXPECT_TRUE(test, vnf_slot_put(&s, 2));
	KUNIT_EXPECT_FALSE(test, vnf_slot_put(&s, 2));
	KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, ids[2]), -1);
	KUNIT_EXPECT_FALSE(test, vnf_slot_put(&s, N));
	KUNIT_EXPECT_FALSE(test, vnf_slot_put(&s, 0xffff));
	KUNIT_EXPECT_EQ(test, s.nfree, 1U);
	/* reused: a new id; the old one names nothing */
	idx = vnf_slot_get(&s);
	KUNIT_EXPECT_EQ(test, idx, 2);
	KUNIT_EXPECT_NE(test, sl[2].id, ids[2]);
	KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, ids[2]), -1);
	KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, sl[2].id), 2);
	/* ids outside the ring, of another generation */
	KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, N), -1);
	KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, 0xffff), -1);
	KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, ids[0] ^ 0x8000), -1);
	for (i = 0; i < N; i++)
		KUNIT_EXPECT_TRUE(test, vnf_slot_put(&s, i));
	KUNIT_EXPECT_EQ(test, s.nfree, N);
}

static void vnf_test_gen_wrap(struct kunit *test)
{
	struct vnf_slot sl[1];
	struct vnf_slots s;
	u16 first;
	int i;

	vnf_slots_init(&s, sl, 1);
	vnf_slot_get(&s);
	first = sl[0].id;
	vnf_slot_put(&s, 0);
	/* every generation differs until the 7 bits wrap */
	for (i = 1; i <= VNF_GEN_MASK; i++) {
		KUNIT_EXPECT_EQ(test, vnf_slot_get(&s), 0);
		KUNIT_EXPECT_NE(test, sl[0].id, first);
		KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, first), -1);
		vnf_slot_put(&s, 0);
	}
	KUNIT_EXPECT_EQ(test, vnf_slot_get(&s), 0);
	KUNIT_EXPECT_EQ(test, sl[0].id, first);
}

static void vnf_test_big_ring(struct kunit *test)
{
	struct vnf_slot *sl = kunit_kcalloc(test, 512, sizeof(*sl), GFP_KERNEL);
	struct vnf_slots s;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, sl);
	vnf_slots_init(&s, sl, 512);
	for (i = 0; i < 512; i++)
		KUNIT_EXPECT_EQ(test, vnf_slot_get(&s), i);
	KUNIT_EXPECT_EQ(test, vnf_slot_find(&s, sl[511].id), 511);
	KUNIT_EXPECT_EQ(test, vnf_slot_get(&s), -1);
}

static void vnf_test_frames(struct kunit *test)
{
	struct vnf_seg seg;
	unsigned int off, len, n = 0;
	u64 pfn;

	KUNIT_EXPECT_EQ(test, vnf_frames(0, 0), 0U);
	KUNIT_EXPECT_EQ(test, vnf_frames(0, 1), 1U);
	KUNIT_EXPECT_EQ(test, vnf_frames(0, 4096), 1U);
	KUNIT_EXPECT_EQ(test, vnf_frames(1, 4096), 2U);
	KUNIT_EXPECT_EQ(test, vnf_frames(4095, 2), 2U);
	KUNIT_EXPECT_EQ(test, vnf_frames(178, 66), 1U);
	/* a 64 KiB packet: 16 frames aligned, 17 not */
	KUNIT_EXPECT_EQ(test, vnf_frames(0, 65536), 16U);
	KUNIT_EXPECT_EQ(test, vnf_frames(100, 65536), 17U);
	/* a fragment at 9000 in a compound page starts in its third frame */
	KUNIT_EXPECT_EQ(test, vnf_frames(9000, 4000), 2U);

	pfn = 100;
	off = 9000;
	len = 5000;
	while (vnf_seg_take(&pfn, &off, &len, &seg)) {
		if (n == 0) {
			KUNIT_EXPECT_EQ(test, seg.pfn, 102ULL);
			KUNIT_EXPECT_EQ(test, seg.off, 808U);
			KUNIT_EXPECT_EQ(test, seg.len, 3288U);
		} else {
			KUNIT_EXPECT_EQ(test, seg.pfn, 103ULL);
			KUNIT_EXPECT_EQ(test, seg.off, 0U);
			KUNIT_EXPECT_EQ(test, seg.len, 1712U);
		}
		n++;
	}
	KUNIT_EXPECT_EQ(test, n, vnf_frames(9000, 5000));
	KUNIT_EXPECT_EQ(test, len, 0U);
	/* whole frames */
	pfn = 7;
	off = 0;
	len = 8192;
	n = 0;
	while (vnf_seg_take(&pfn, &off, &len, &seg)) {
		KUNIT_EXPECT_EQ(test, seg.pfn, 7ULL + n);
		KUNIT_EXPECT_EQ(test, seg.off, 0U);
		KUNIT_EXPECT_EQ(test, seg.len, 4096U);
		n++;
	}
	KUNIT_EXPECT_EQ(test, n, 2U);
}

static void vnf_test_tx_layout(struct kunit *test)
{
	bool copy;
	unsigned int i, n;

	/* netif.rst's example: 66 bytes at 178, 4096 at 0, 3144 at 0 */
	n = vnf_frames(178, 66) + vnf_frames(0, 4096) + vnf_frames(0, 3144);
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(n, 7306, true, false, &copy), 3U);
	KUNIT_EXPECT_FALSE(test, copy);
	/* without feature-sg: one slot, copied */
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(n, 3000, false, false, &copy), 1U);
	KUNIT_EXPECT_TRUE(test, copy);
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(n, 7306, false, false, &copy), 0U);
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(1, 4096, false, false, &copy), 1U);
	KUNIT_EXPECT_FALSE(test, copy);
	/* headers, then 16 fragments of 4000 bytes at 96: one frame each */
	n = vnf_frames(2000, 66);
	for (i = 0; i < 16; i++)
		n += vnf_frames(96 + 4096 * i, 4000);
	KUNIT_EXPECT_EQ(test, n, 17U);
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(n, 64066, true, false, &copy), 17U);
	KUNIT_EXPECT_FALSE(test, copy);
	/* at 3000 each crosses a frame: 33 frames */
	n = vnf_frames(2000, 66);
	for (i = 0; i < 16; i++)
		n += vnf_frames(3000, 4000);
	KUNIT_EXPECT_EQ(test, n, 33U);
	/* copied into 16 whole pages */
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(n, 64066, true, false, &copy), 16U);
	KUNIT_EXPECT_TRUE(test, copy);
	/* 18 frames still go as they are */
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(18, 60000, true, false, &copy), 18U);
	KUNIT_EXPECT_FALSE(test, copy);
	/* forced (a fragment list, tx_bounce) */
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(2, 5000, true, true, &copy), 2U);
	KUNIT_EXPECT_TRUE(test, copy);
	KUNIT_EXPECT_EQ(test, vnf_tx_slots(1, 65536, true, true, &copy), 16U);
}

static void vnf_test_tx_checks(struct kunit *test)
{
	/* the worked example of netif.rst: csum_start 34, offset 16 */
	KUNIT_EXPECT_TRUE(test, vnf_tx_csum_ok(34, 16, 7306));
	KUNIT_EXPECT_TRUE(test, vnf_tx_csum_ok(14, 0, 16));
	KUNIT_EXPECT_FALSE(test, vnf_tx_csum_ok(13, 16, 7306));
	KUNIT_EXPECT_FALSE(test, vnf_tx_csum_ok(34, 16, 51));
	KUNIT_EXPECT_TRUE(test, vnf_tx_csum_ok(34, 16, 52));
	KUNIT_EXPECT_FALSE(test, vnf_tx_csum_ok(70000, 0, 80000));
	KUNIT_EXPECT_TRUE(test, vnf_tx_gso_ok(1448, 7306, 1500));
	KUNIT_EXPECT_TRUE(test, vnf_tx_gso_ok(48, 65536, 1500));
	KUNIT_EXPECT_FALSE(test, vnf_tx_gso_ok(47, 7306, 1500));
	KUNIT_EXPECT_FALSE(test, vnf_tx_gso_ok(1501, 7306, 1500));
	KUNIT_EXPECT_FALSE(test, vnf_tx_gso_ok(1448, 65537, 1500));
	KUNIT_EXPECT_TRUE(test, vnf_tx_len_ok(14, false, 1500));
	KUNIT_EXPECT_FALSE(test, vnf_tx_len_ok(13, false, 1500));
	KUNIT_EXPECT_TRUE(test, vnf_tx_len_ok(1518, false, 1500));
	KUNIT_EXPECT_FALSE(test, vnf_tx_len_ok(1519, false, 1500));
	KUNIT_EXPECT_TRUE(test, vnf_tx_len_ok(65536, true, 1500));
	KUNIT_EXPECT_FALSE(test, vnf_tx_len_ok(65537, true, 9000));
	KUNIT_EXPECT_FALSE(test, vnf_tx_len_ok(13, true, 1500));
}

static void vnf_test_tx_judge(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, 0), VNF_TXV_OK);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, -VPV_EINVAL), VNF_TXV_REJECTED);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, -VPV_EOPNOTSUPP),
			VNF_TXV_REJECTED);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, -VPV_E2BIG), VNF_TXV_REJECTED);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, -VPV_EPERM), VNF_TXV_REJECTED);
	/* RSP_NULL is an extra's answer only */
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, VPV_NETIF_RSP_NULL),
			VNF_TXV_BAD_STATUS);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, -VPV_EIO), VNF_TXV_BAD_STATUS);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, 1234), VNF_TXV_BAD_STATUS);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(false, S16_MIN), VNF_TXV_BAD_STATUS);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(true, VPV_NETIF_RSP_NULL), VNF_TXV_OK);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(true, 0), VNF_TXV_BAD_STATUS);
	KUNIT_EXPECT_EQ(test, vnf_tx_judge(true, -VPV_EINVAL),
			VNF_TXV_BAD_STATUS);
}

/* ---- RX: packets built slot by slot ---- */

static const struct vnf_rx_cfg cfg_all = {
	.sg = true, .csum = true, .gso4 = true, .gso6 = true, .be_mtu = 1500,
};

static union vpv_netif_rx_slot data(u16 flags, u16 off, u16 size)
{
	union vpv_netif_rx_slot s = { };

	s.rsp.flags = flags;
	s.rsp.offset = off;
	s.rsp.size = size;
	return s;
}

static union vpv_netif_rx_slot gso(u8 type, u16 size)
{
	union vpv_netif_rx_slot s = { };

	s.extra.type = VPV_NETIF_EXTRA_GSO;
	s.extra.u.gso.type = type;
	s.extra.u.gso.size = size;
	return s;
}

/* Feed @n slots (ids good unless @bad_id names one) and judge. */
static enum vnf_rx_class judge(const union vpv_netif_rx_slot *s, unsigned int n,
			       int bad_id, const struct vnf_rx_cfg *cfg,
			       struct vnf_rx_pkt *p)
{
	unsigned int i;

	vnf_rx_begin(p);
	for (i = 0; i < n && vnf_rx_more(p); i++)
		vnf_rx_add(p, &s[i], (int)i != bad_id, cfg);
	/* slots left over, or a packet that wants more than given */
	return vnf_rx_finish(p, cfg, vnf_rx_more(p));
}

static void vnf_test_rx_good(struct kunit *test)
{
	union vpv_netif_rx_slot s[4];
	struct vnf_rx_pkt p;

	s[0] = data(0, 0, 60);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_OK);
	KUNIT_EXPECT_EQ(test, p.len, 60U);
	KUNIT_EXPECT_EQ(test, p.slots, 1U);
	KUNIT_EXPECT_FALSE(test, vnf_rx_more(&p));
	/* a frame of mtu + 18 */
	s[0] = data(VPV_NETIF_RXF_DATA_VALIDATED, 0, 1518);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_OK);
	/* the worked example, received: data 0, GSO extra, data 1, data 2 */
	s[0] = data(VPV_NETIF_RXF_CSUM_BLANK | VPV_NETIF_RXF_MORE_DATA |
		    VPV_NETIF_RXF_EXTRA_INFO, 0, 66);
	s[0].rsp.csum_start = 34;
	s[0].rsp.csum_offset = 16;
	s[1] = gso(VPV_NETIF_GSO_TCPV4, 1448);
	s[2] = data(VPV_NETIF_RXF_MORE_DATA, 0, 4096);
	s[3] = data(0, 0, 3144);
	KUNIT_EXPECT_EQ(test, judge(s, 4, -1, &cfg_all, &p), VNF_RXC_OK);
	KUNIT_EXPECT_EQ(test, p.len, 7306U);
	KUNIT_EXPECT_EQ(test, p.ndata, 3U);
	KUNIT_EXPECT_EQ(test, p.nextras, 1U);
	KUNIT_EXPECT_TRUE(test, p.gso);
	KUNIT_EXPECT_EQ(test, p.gso_size, 1448);
	KUNIT_EXPECT_EQ(test, p.gso_type, VPV_NETIF_GSO_TCPV4);
	/* a data slot at the end of its buffer */
	s[0] = data(0, 4000, 96);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_OK);
}

static void vnf_test_rx_classes(struct kunit *test)
{
	struct vnf_rx_cfg nosg = cfg_all;
	union vpv_netif_rx_slot s[20];
	struct vnf_rx_pkt p;
	unsigned int i;

	/* rx_bad_id: any slot of the packet */
	s[0] = data(VPV_NETIF_RXF_MORE_DATA, 0, 100);
	s[1] = data(0, 0, 100);
	KUNIT_EXPECT_EQ(test, judge(s, 2, 1, &cfg_all, &p), VNF_RXC_BAD_ID);
	KUNIT_EXPECT_EQ(test, p.slots, 2U);
	/* rx_buf_errors: a negative status alone */
	s[0] = data(0, 0, 0);
	s[0].rsp.status = -VPV_EPERM;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BUF_ERROR);
	/* rx_bad_slot: a negative status with flags, or in a packet */
	s[0].rsp.flags = VPV_NETIF_RXF_DATA_VALIDATED;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	s[0] = data(VPV_NETIF_RXF_MORE_DATA, 0, 100);
	s[1] = data(0, 0, 0);
	s[1].rsp.status = -VPV_EINVAL;
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	/* size 0, offset > 4095, offset + size > 4096, a positive status */
	s[0] = data(0, 0, 0);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	s[0] = data(0, 4096, 60);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	s[0] = data(0, 4000, 97);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	s[0] = data(0, 0xffff, 0xffff);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	s[0] = data(0, 0, 60);
	s[0].rsp.status = 1;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	/* rx_bad_flags */
	s[0] = data(0x10, 0, 60);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_FLAGS);
	s[0] = data(VPV_NETIF_RXF_CSUM_BLANK | VPV_NETIF_RXF_DATA_VALIDATED,
		    0, 60);
	s[0].rsp.csum_start = 34;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_FLAGS);
	s[0] = data(0, 0, 60);
	s[0].rsp.csum_offset = 6;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_FLAGS);
	s[0] = data(VPV_NETIF_RXF_MORE_DATA, 0, 100);
	s[1] = data(VPV_NETIF_RXF_DATA_VALIDATED, 0, 100);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_FLAGS);
	s[1] = data(0, 0, 100);
	s[1].rsp.csum_start = 14;
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_FLAGS);
	/* rx_bad_extra: type, flags, pad, twice, GSO type, size, not ours */
	s[0] = data(VPV_NETIF_RXF_CSUM_BLANK | VPV_NETIF_RXF_EXTRA_INFO, 0, 200);
	s[0].rsp.csum_start = 34;
	s[0].rsp.csum_offset = 16;
	s[1] = gso(VPV_NETIF_GSO_TCPV4, 1448);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_OK);
	s[1].extra.type = 0;
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	s[1].extra.type = VPV_NETIF_EXTRA_MAX;
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	s[1] = gso(VPV_NETIF_GSO_TCPV4, 1448);
	s[1].extra.flags = 0x2;
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	s[1] = gso(VPV_NETIF_GSO_TCPV4, 1448);
	s[1].extra.pad = 1;
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	s[1] = gso(VPV_NETIF_GSO_TCPV4, 1448);
	s[1].extra.u.gso.pad2 = 1;
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	s[1] = gso(3, 1448);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	s[1] = gso(VPV_NETIF_GSO_TCPV6, 47);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	s[1] = gso(VPV_NETIF_GSO_TCPV6, 1501);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	nosg.gso6 = false;
	s[1] = gso(VPV_NETIF_GSO_TCPV6, 1448);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &nosg, &p), VNF_RXC_BAD_EXTRA);
	nosg = cfg_all;
	/* two GSO extras: a type twice, too many; the walk ends after both */
	s[1] = gso(VPV_NETIF_GSO_TCPV4, 1448);
	s[1].extra.flags = VPV_NETIF_EXTRAF_MORE;
	s[2] = gso(VPV_NETIF_GSO_TCPV4, 1448);
	KUNIT_EXPECT_EQ(test, judge(s, 3, -1, &cfg_all, &p), VNF_RXC_BAD_EXTRA);
	KUNIT_EXPECT_EQ(test, p.slots, 3U);
	KUNIT_EXPECT_FALSE(test, vnf_rx_more(&p));
	/* rx_too_many_slots: 19 data slots; 2 without our feature-sg */
	s[0] = data(VPV_NETIF_RXF_MORE_DATA, 0, 80);
	for (i = 1; i < 19; i++)
		s[i] = data(i < 18 ? VPV_NETIF_RXF_MORE_DATA : 0, 0, 80);
	KUNIT_EXPECT_EQ(test, judge(s, 19, -1, &cfg_all, &p),
			VNF_RXC_TOO_MANY_SLOTS);
	KUNIT_EXPECT_EQ(test, p.ndata, 19U);
	s[17].rsp.flags = 0;
	KUNIT_EXPECT_EQ(test, judge(s, 18, -1, &cfg_all, &p), VNF_RXC_OK);
	nosg.sg = false;
	s[1] = data(0, 0, 100);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &nosg, &p), VNF_RXC_TOO_MANY_SLOTS);
	/* rx_bad_length: < 14, > mtu + 18, > 65536 with GSO */
	s[0] = data(0, 0, 13);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_LENGTH);
	s[0] = data(VPV_NETIF_RXF_MORE_DATA, 0, 1000);
	s[1] = data(0, 0, 519);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_LENGTH);
	s[1] = data(0, 0, 518);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_OK);
	s[0] = data(VPV_NETIF_RXF_CSUM_BLANK | VPV_NETIF_RXF_EXTRA_INFO |
		    VPV_NETIF_RXF_MORE_DATA, 0, 4096);
	s[0].rsp.csum_start = 34;
	s[0].rsp.csum_offset = 16;
	s[1] = gso(VPV_NETIF_GSO_TCPV4, 1448);
	for (i = 2; i < 18; i++)
		s[i] = data(i < 17 ? VPV_NETIF_RXF_MORE_DATA : 0, 0, 4096);
	/* 17 x 4096 = 69632 > 65536 */
	KUNIT_EXPECT_EQ(test, judge(s, 18, -1, &cfg_all, &p), VNF_RXC_BAD_LENGTH);
	s[17] = data(0, 0, 1);
	/* 16 x 4096 + 1 */
	KUNIT_EXPECT_EQ(test, judge(s, 18, -1, &cfg_all, &p), VNF_RXC_BAD_LENGTH);
	s[16].rsp.flags = 0;
	KUNIT_EXPECT_EQ(test, judge(s, 17, -1, &cfg_all, &p), VNF_RXC_OK);
	KUNIT_EXPECT_EQ(test, p.len, 65536U);
	/* rx_bad_csum: start < 14, field past the end, GSO without it */
	s[0] = data(VPV_NETIF_RXF_CSUM_BLANK, 0, 100);
	s[0].rsp.csum_start = 13;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_CSUM);
	s[0].rsp.csum_start = 90;
	s[0].rsp.csum_offset = 9;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_CSUM);
	s[0].rsp.csum_offset = 8;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_OK);
	s[0] = data(VPV_NETIF_RXF_EXTRA_INFO, 0, 200);
	s[1] = gso(VPV_NETIF_GSO_TCPV4, 100);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_CSUM);
	/* rx_partial: the packet wants a slot that is not there */
	s[0] = data(VPV_NETIF_RXF_MORE_DATA, 0, 100);
	s[1] = data(VPV_NETIF_RXF_MORE_DATA, 0, 100);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_PARTIAL);
	s[0] = data(VPV_NETIF_RXF_EXTRA_INFO, 0, 100);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_PARTIAL);
}

static void vnf_test_rx_order(struct kunit *test)
{
	union vpv_netif_rx_slot s[2];
	struct vnf_rx_pkt p;

	/* several classes: the first the table lists is counted */
	s[0] = data(0x10, 0, 0);
	KUNIT_EXPECT_EQ(test, judge(s, 1, 0, &cfg_all, &p), VNF_RXC_BAD_ID);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	s[0] = data(0x10 | VPV_NETIF_RXF_MORE_DATA, 0, 5);
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BAD_FLAGS);
	/* a buffer error is a buffer error, whatever its (zero) length */
	s[0] = data(0, 0, 0);
	s[0].rsp.status = -VPV_EINVAL;
	KUNIT_EXPECT_EQ(test, judge(s, 1, -1, &cfg_all, &p), VNF_RXC_BUF_ERROR);
	/* a packet broken in several ways is still walked to its end */
	s[0] = data(0x10 | VPV_NETIF_RXF_MORE_DATA, 0, 0);
	s[1] = data(0x20, 0, 9000);
	KUNIT_EXPECT_EQ(test, judge(s, 2, -1, &cfg_all, &p), VNF_RXC_BAD_SLOT);
	KUNIT_EXPECT_EQ(test, p.slots, 2U);
	KUNIT_EXPECT_FALSE(test, vnf_rx_more(&p));
}

static void vnf_test_rx_linear(struct kunit *test)
{
	/* headers copied, the rest attached */
	KUNIT_EXPECT_EQ(test, vnf_rx_linear(4096, 66, 17, 17), 66U);
	/* slot 0 smaller than its headers: all of it */
	KUNIT_EXPECT_EQ(test, vnf_rx_linear(40, 66, 2, 17), 40U);
	/* 18 slots: slot 0's remainder would be an 18th fragment */
	KUNIT_EXPECT_EQ(test, vnf_rx_linear(4096, 66, 18, 17), 4096U);
	KUNIT_EXPECT_EQ(test, vnf_rx_linear(66, 66, 18, 17), 66U);
}

static void vnf_test_negotiation(struct kunit *test)
{
	struct vnf_plan p;

	KUNIT_EXPECT_EQ(test, vnf_nr_queues(0, 4, 1), 1U);
	KUNIT_EXPECT_EQ(test, vnf_nr_queues(0, 4, 0), 1U);
	KUNIT_EXPECT_EQ(test, vnf_nr_queues(0, 4, 8), 4U);
	KUNIT_EXPECT_EQ(test, vnf_nr_queues(2, 4, 8), 2U);
	KUNIT_EXPECT_EQ(test, vnf_nr_queues(0, 64, 64), 8U);
	KUNIT_EXPECT_EQ(test, vnf_ring_entries(0), 128U);
	KUNIT_EXPECT_EQ(test, vnf_ring_entries(1), 256U);
	KUNIT_EXPECT_EQ(test, vnf_ring_entries(2), 512U);
	/* one queue: the largest rings, a full RX ring */
	vnf_plan(1, 2, 2048, &p);
	KUNIT_EXPECT_EQ(test, p.order, 2U);
	KUNIT_EXPECT_EQ(test, p.entries, 512U);
	KUNIT_EXPECT_EQ(test, p.rx_fill, 512U);
	vnf_plan(1, 0, 2048, &p);
	KUNIT_EXPECT_EQ(test, p.order, 0U);
	KUNIT_EXPECT_EQ(test, p.rx_fill, 128U);
	/* two queues of order 2 need 2064: a few RX buffers fewer */
	vnf_plan(2, 2, 2048, &p);
	KUNIT_EXPECT_EQ(test, p.order, 2U);
	KUNIT_EXPECT_EQ(test, p.rx_fill, 504U);
	/* four: order 1 (netif.rst's example), 252 RX buffers of 256 */
	vnf_plan(4, 2, 2048, &p);
	KUNIT_EXPECT_EQ(test, p.order, 1U);
	KUNIT_EXPECT_EQ(test, p.rx_fill, 252U);
	KUNIT_EXPECT_LE(test, 4 * (p.entries + p.rx_fill + 4), 2048U);
	/* eight: order 0, the RX fill what is left */
	vnf_plan(8, 2, 2048, &p);
	KUNIT_EXPECT_EQ(test, p.order, 0U);
	KUNIT_EXPECT_EQ(test, p.rx_fill, 126U);
	KUNIT_EXPECT_LE(test, 8 * (p.entries + p.rx_fill + 2), 2048U);
	/* never below what the largest packet needs */
	vnf_plan(8, 2, 64, &p);
	KUNIT_EXPECT_EQ(test, p.rx_fill, (unsigned int)VNF_RX_MIN_FILL);
	/* MTU */
	KUNIT_EXPECT_EQ(test, vnf_max_mtu(9000, true), 9000U);
	KUNIT_EXPECT_EQ(test, vnf_max_mtu(9000, false), 4078U);
	KUNIT_EXPECT_EQ(test, vnf_max_mtu(1500, false), 1500U);
}

static void vnf_test_features(struct kunit *test)
{
	const netdev_features_t all = NETIF_F_SG | NETIF_F_HW_CSUM |
				      NETIF_F_TSO | NETIF_F_TSO6 |
				      NETIF_F_RXCSUM;
	struct vnf_be_features be = { true, true, true, true };

	KUNIT_EXPECT_EQ(test, vnf_fix_features(all, &be), all);
	be.gso6 = false;
	KUNIT_EXPECT_EQ(test, vnf_fix_features(all, &be), all & ~NETIF_F_TSO6);
	be.gso6 = true;
	be.csum = false;
	KUNIT_EXPECT_EQ(test, vnf_fix_features(all, &be),
			NETIF_F_SG | NETIF_F_RXCSUM);
	be.csum = true;
	be.sg = false;
	KUNIT_EXPECT_EQ(test, vnf_fix_features(all, &be),
			NETIF_F_HW_CSUM | NETIF_F_RXCSUM);
	memset(&be, 0, sizeof(be));
	KUNIT_EXPECT_EQ(test, vnf_fix_features(all, &be), NETIF_F_RXCSUM);
	/* the user's choice stays: TSO off stays off */
	be = (struct vnf_be_features){ true, true, true, true };
	KUNIT_EXPECT_EQ(test, vnf_fix_features(all & ~NETIF_F_TSO, &be),
			all & ~NETIF_F_TSO);
}

static void vnf_test_keys(struct kunit *test)
{
	u8 mac[6] = { };
	unsigned int v = 7;

	KUNIT_EXPECT_EQ(test, vnf_parse_mac("02:00:5e:10:00:01", mac), 0);
	KUNIT_EXPECT_EQ(test, mac[0], 0x02);
	KUNIT_EXPECT_EQ(test, mac[2], 0x5e);
	KUNIT_EXPECT_EQ(test, mac[5], 0x01);
	/* netif.rst's example */
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("aa:bb:cc:dd:ee:ff", mac), 0);
	KUNIT_EXPECT_EQ(test, mac[0], 0xaa);
	KUNIT_EXPECT_EQ(test, mac[5], 0xff);
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("01:00:5e:10:00:01", mac), -EINVAL);
	KUNIT_EXPECT_EQ(test, mac[0], 0xaa);	/* unchanged: multicast */
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("00:00:00:00:00:00", mac), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("02:00:5E:10:00:01", mac), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("02:00:5e:10:00:1", mac), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("02:00:5e:10:00:011", mac), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("02-00-5e-10-00-01", mac), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("02:00:5e:10:00:0g", mac), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_mac("", mac), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_uint("1500", 68, 9000, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 1500U);
	KUNIT_EXPECT_EQ(test, vnf_parse_uint("67", 68, 9000, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_uint("9001", 68, 9000, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_uint("-1", 68, 9000, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_uint("15x0", 68, 9000, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vnf_parse_uint("", 68, 9000, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, v, 1500U);
}

static struct kunit_case vnf_cases[] = {
	KUNIT_CASE(vnf_test_slots),
	KUNIT_CASE(vnf_test_gen_wrap),
	KUNIT_CASE(vnf_test_big_ring),
	KUNIT_CASE(vnf_test_frames),
	KUNIT_CASE(vnf_test_tx_layout),
	KUNIT_CASE(vnf_test_tx_checks),
	KUNIT_CASE(vnf_test_tx_judge),
	KUNIT_CASE(vnf_test_rx_good),
	KUNIT_CASE(vnf_test_rx_classes),
	KUNIT_CASE(vnf_test_rx_order),
	KUNIT_CASE(vnf_test_rx_linear),
	KUNIT_CASE(vnf_test_negotiation),
	KUNIT_CASE(vnf_test_features),
	KUNIT_CASE(vnf_test_keys),
	{}
};

static struct kunit_suite vnf_suite = {
	.name = "vnetfront",
	.test_cases = vnf_cases,
};

kunit_test_suite(vnf_suite);

MODULE_DESCRIPTION("KUnit tests for vnetfront's response validation, slots and negotiation");
MODULE_LICENSE("GPL");
