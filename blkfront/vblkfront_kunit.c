// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for vblkfront's pure logic (vblkfront_logic.h): a hostile
 * back-end's responses (ids beyond the ring, of free slots, stale or
 * repeated; wrong ops; unknown statuses) complete nothing or fail only
 * their own request, once; slots are never freed twice; the arithmetic
 * of what is negotiated.  No host needed.
 * Results: /sys/kernel/debug/kunit/vblkfront/results
 */
#include <kunit/test.h>
#include <linux/module.h>

#include "vblkfront_logic.h"

#define N	4

/* Requests are only compared as pointers here. */
#define RQ(i)	((struct request *)(0x1000UL + (i)))

static void vbf_test_slots(struct kunit *test)
{
	struct vbf_shadow sh[N] = { };
	struct vbf_slots s;
	int i, idx[N];

	vbf_slots_init(&s, sh, N);
	for (i = 0; i < N; i++) {
		idx[i] = vbf_slot_get(&s, RQ(i), VPV_BLKIF_OP_READ);
		KUNIT_EXPECT_EQ(test, idx[i], i);
		KUNIT_EXPECT_NE(test, sh[i].id, 0ULL);
	}
	KUNIT_EXPECT_EQ(test, s.busy, N);
	/* a full ring: no slot */
	KUNIT_EXPECT_EQ(test, vbf_slot_get(&s, RQ(9), 0), -1);
	KUNIT_EXPECT_PTR_EQ(test, vbf_slot_put(&s, 2), RQ(2));
	/* freed twice: nothing, and the free list is not corrupted */
	KUNIT_EXPECT_PTR_EQ(test, vbf_slot_put(&s, 2), NULL);
	KUNIT_EXPECT_PTR_EQ(test, vbf_slot_put(&s, N), NULL);
	KUNIT_EXPECT_PTR_EQ(test, vbf_slot_put(&s, 0xffff), NULL);
	KUNIT_EXPECT_EQ(test, s.busy, N - 1);
	KUNIT_EXPECT_EQ(test, vbf_slot_get(&s, RQ(7), 0), 2);
	KUNIT_EXPECT_EQ(test, vbf_slot_get(&s, RQ(8), 0), -1);
	for (i = 0; i < N; i++)
		KUNIT_EXPECT_NE(test, (long)vbf_slot_put(&s, i), 0L);
	KUNIT_EXPECT_EQ(test, s.busy, 0);
}

static void vbf_test_judge(struct kunit *test)
{
	struct vbf_shadow sh[N] = { };
	struct vbf_slots s;
	u64 id, old;
	int i;

	vbf_slots_init(&s, sh, N);
	i = vbf_slot_get(&s, RQ(0), VPV_BLKIF_OP_WRITE);
	id = sh[i].id;
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, VPV_BLKIF_OP_WRITE, 0),
			VBF_RSP_OK);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, VPV_BLKIF_OP_WRITE,
					-VPV_EROFS), VBF_RSP_ERROR);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, VPV_BLKIF_OP_WRITE, -VPV_EIO),
			VBF_RSP_ERROR);
	/* the op must be the one written on the ring */
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, VPV_BLKIF_OP_READ, 0),
			VBF_RSP_BAD_OP);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, 0xff, 0), VBF_RSP_BAD_OP);
	/* statuses outside the ABI's list */
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, VPV_BLKIF_OP_WRITE, 1),
			VBF_RSP_BAD_STATUS);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, VPV_BLKIF_OP_WRITE, -12),
			VBF_RSP_BAD_STATUS);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, VPV_BLKIF_OP_WRITE, S16_MIN),
			VBF_RSP_BAD_STATUS);
	/* ids that name no request in flight */
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id + 1, VPV_BLKIF_OP_WRITE, 0),
			VBF_RSP_BAD_ID);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, vbf_make_id(s.gen, N), 0, 0),
			VBF_RSP_BAD_ID);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, 0, 0, 0), VBF_RSP_BAD_ID);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, U64_MAX, 0, 0), VBF_RSP_BAD_ID);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id | BIT_ULL(63),
					VPV_BLKIF_OP_WRITE, 0),
			VBF_RSP_BAD_ID);
	/* completed: the same answer again completes nothing */
	vbf_slot_put(&s, i);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, id, VPV_BLKIF_OP_WRITE, 0),
			VBF_RSP_BAD_ID);
	/* the slot reused: the old id is stale, the new one counts */
	old = id;
	i = vbf_slot_get(&s, RQ(1), VPV_BLKIF_OP_READ);
	KUNIT_EXPECT_EQ(test, i, 0);
	KUNIT_EXPECT_NE(test, sh[i].id, old);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, old, VPV_BLKIF_OP_READ, 0),
			VBF_RSP_BAD_ID);
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, sh[i].id, VPV_BLKIF_OP_READ, 0),
			VBF_RSP_OK);
}

static void vbf_test_gen_wrap(struct kunit *test)
{
	struct vbf_shadow sh[1] = { };
	struct vbf_slots s;

	vbf_slots_init(&s, sh, 1);
	s.gen = U32_MAX;
	KUNIT_EXPECT_EQ(test, vbf_slot_get(&s, RQ(0), 0), 0);
	/* generation 0 is skipped: an id is never 0 */
	KUNIT_EXPECT_EQ(test, sh[0].id, vbf_make_id(1, 0));
	KUNIT_EXPECT_EQ(test, vbf_judge(&s, 0, 0, 0), VBF_RSP_BAD_ID);
}

static void vbf_test_status(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, vbf_blk_status(0) == BLK_STS_OK);
	KUNIT_EXPECT_TRUE(test, vbf_blk_status(-VPV_EOPNOTSUPP) == BLK_STS_NOTSUPP);
	KUNIT_EXPECT_TRUE(test, vbf_blk_status(-VPV_ENOSYS) == BLK_STS_NOTSUPP);
	KUNIT_EXPECT_TRUE(test, vbf_blk_status(-VPV_EIO) == BLK_STS_IOERR);
	KUNIT_EXPECT_TRUE(test, vbf_blk_status(-VPV_EROFS) == BLK_STS_IOERR);
	KUNIT_EXPECT_TRUE(test, vbf_blk_status(-VPV_EPERM) == BLK_STS_IOERR);
	KUNIT_EXPECT_TRUE(test, vbf_blk_status(-VPV_EINVAL) == BLK_STS_IOERR);
	KUNIT_EXPECT_TRUE(test, vbf_status_known(-VPV_EINVAL));
	KUNIT_EXPECT_FALSE(test, vbf_status_known(-VPV_EINVAL - 1));
	KUNIT_EXPECT_FALSE(test, vbf_status_known(VPV_EIO));
}

static void vbf_test_negotiation(struct kunit *test)
{
	/* queues: min(param, cpus, back-end, 8), at least 1 */
	KUNIT_EXPECT_EQ(test, vbf_nr_queues(0, 4, 2), 2U);
	KUNIT_EXPECT_EQ(test, vbf_nr_queues(1, 4, 8), 1U);
	KUNIT_EXPECT_EQ(test, vbf_nr_queues(0, 64, 64), 8U);
	KUNIT_EXPECT_EQ(test, vbf_nr_queues(0, 4, 0), 1U);
	KUNIT_EXPECT_EQ(test, vbf_nr_queues(3, 2, 8), 2U);
	/* ring pages and entries */
	KUNIT_EXPECT_EQ(test, vbf_ring_order(2, 0), 0U);
	KUNIT_EXPECT_EQ(test, vbf_ring_order(2, 4), 2U);
	KUNIT_EXPECT_EQ(test, vbf_ring_order(9, 9), 4U);
	KUNIT_EXPECT_EQ(test, vbf_ring_entries(0), 32U);
	KUNIT_EXPECT_EQ(test, vbf_ring_entries(2), 128U);
	KUNIT_EXPECT_EQ(test, vbf_ring_entries(4), 512U);
	/* segments: inline without indirect on either side */
	KUNIT_EXPECT_EQ(test, vbf_max_segs(0, 256), 11U);
	KUNIT_EXPECT_EQ(test, vbf_max_segs(256, 0), 11U);
	KUNIT_EXPECT_EQ(test, vbf_max_segs(256, 1024), 256U);
	KUNIT_EXPECT_EQ(test, vbf_max_segs(256, 64), 64U);
	KUNIT_EXPECT_EQ(test, vbf_max_segs(4096, 4096), 1024U);
	KUNIT_EXPECT_EQ(test, vbf_max_segs(4, 4), 11U);
	KUNIT_EXPECT_EQ(test, vbf_indirect_pages(11), 0U);
	KUNIT_EXPECT_EQ(test, vbf_indirect_pages(12), 1U);
	KUNIT_EXPECT_EQ(test, vbf_indirect_pages(512), 1U);
	KUNIT_EXPECT_EQ(test, vbf_indirect_pages(513), 2U);
	KUNIT_EXPECT_TRUE(test, vbf_sector_size_ok(512));
	KUNIT_EXPECT_TRUE(test, vbf_sector_size_ok(4096));
	KUNIT_EXPECT_FALSE(test, vbf_sector_size_ok(1024));
	KUNIT_EXPECT_FALSE(test, vbf_sector_size_ok(0));
}

static void vbf_test_names(struct kunit *test)
{
	char b[32];	/* DISK_NAME_LEN */

	KUNIT_EXPECT_EQ(test, vbf_disk_name(0, b, sizeof(b)), 0);
	KUNIT_EXPECT_STREQ(test, b, "pvda");
	vbf_disk_name(25, b, sizeof(b));
	KUNIT_EXPECT_STREQ(test, b, "pvdz");
	vbf_disk_name(26, b, sizeof(b));
	KUNIT_EXPECT_STREQ(test, b, "pvdaa");
	vbf_disk_name(27, b, sizeof(b));
	KUNIT_EXPECT_STREQ(test, b, "pvdab");
	vbf_disk_name(26 + 26 * 26, b, sizeof(b));
	KUNIT_EXPECT_STREQ(test, b, "pvdaaa");
	KUNIT_EXPECT_EQ(test, vbf_disk_name(0, b, 4), -EINVAL);
}

static struct kunit_case vbf_cases[] = {
	KUNIT_CASE(vbf_test_slots),
	KUNIT_CASE(vbf_test_judge),
	KUNIT_CASE(vbf_test_gen_wrap),
	KUNIT_CASE(vbf_test_status),
	KUNIT_CASE(vbf_test_negotiation),
	KUNIT_CASE(vbf_test_names),
	{}
};

static struct kunit_suite vbf_suite = {
	.name = "vblkfront",
	.test_cases = vbf_cases,
};

kunit_test_suite(vbf_suite);

MODULE_DESCRIPTION("KUnit tests for vblkfront's response validation and shadows");
MODULE_LICENSE("GPL");
