// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the pure logic of vpvmmu.ko (vpvmmu_logic.h): the
 * update queue (fill, auto-flush, partial failure), pgprot -> PTE
 * conversion, PTE slot GPAs and the 2 MiB block math.  No host needed.
 * Results: /sys/kernel/debug/kunit/vpvmmu/results
 */
#include <kunit/test.h>
#include <linux/module.h>

#include "vpvmmu_logic.h"

/* ---- a queue with a recording issue hook ---- */

#define REC_MAX_CALLS	8

struct qrec {
	struct vpv_mmu_queue q;
	u64 done_word;
	unsigned int calls;
	unsigned int counts[REC_MAX_CALLS];
	u64 first_ptr[REC_MAX_CALLS];
	int fail_at;		/* request index that fails, -1: none */
	long fail_with;		/* its error */
	bool transport;		/* fail the whole call, done untouched */
	unsigned int applied, dropped;
	unsigned long applied_slots[2 * VPV_MMU_UPDATE_MAX];
};

static long rec_issue(struct vpv_mmu_queue *q, unsigned int count)
{
	struct qrec *r = container_of(q, struct qrec, q);

	if (r->calls < REC_MAX_CALLS) {
		r->counts[r->calls] = count;
		r->first_ptr[r->calls] = q->reqs[0].ptr;
	}
	r->calls++;
	if (r->transport)
		return r->fail_with;
	if (r->fail_at >= 0 && r->fail_at < (int)count) {
		*q->done = r->fail_at;
		return r->fail_with;
	}
	*q->done = count;
	return 0;
}

static void rec_complete(struct vpv_mmu_queue *q, unsigned int i,
			 bool applied)
{
	struct qrec *r = container_of(q, struct qrec, q);

	if (applied) {
		if (r->applied < ARRAY_SIZE(r->applied_slots))
			r->applied_slots[r->applied] = q->meta[i].slot;
		r->applied++;
	} else {
		r->dropped++;
	}
}

static struct qrec *rec_setup(struct kunit *test, unsigned int cap)
{
	struct qrec *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, r);
	r->q.reqs = kunit_kcalloc(test, VPV_MMU_UPDATE_MAX,
				  sizeof(*r->q.reqs), GFP_KERNEL);
	r->q.meta = kunit_kcalloc(test, VPV_MMU_UPDATE_MAX,
				  sizeof(*r->q.meta), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r->q.reqs);
	KUNIT_ASSERT_NOT_NULL(test, r->q.meta);
	r->q.done = &r->done_word;
	r->q.cap = cap;
	r->q.issue = rec_issue;
	r->q.complete = rec_complete;
	r->fail_at = -1;
	return r;
}

static void vpv_test_queue_fill(struct kunit *test)
{
	struct qrec *r = rec_setup(test, VPV_MMU_UPDATE_MAX);
	unsigned int i;

	/* 511 requests stay queued */
	for (i = 0; i < VPV_MMU_UPDATE_MAX - 1; i++)
		KUNIT_EXPECT_EQ(test, vpv_mmu_q_add(&r->q, 0x1000 + 8 * i, i,
						    NULL, i), 0L);
	KUNIT_EXPECT_EQ(test, r->calls, 0u);
	KUNIT_EXPECT_EQ(test, r->q.count, VPV_MMU_UPDATE_MAX - 1);
	KUNIT_EXPECT_EQ(test, r->q.reqs[5].ptr, 0x1028ULL);
	KUNIT_EXPECT_EQ(test, r->q.reqs[5].val, 5ULL);
	KUNIT_EXPECT_EQ(test, r->q.meta[5].slot, 5UL);

	/* the 512th fills the queue: one call of 512 */
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_add(&r->q, 0x2000, 1, NULL, 511), 0L);
	KUNIT_EXPECT_EQ(test, r->calls, 1u);
	KUNIT_EXPECT_EQ(test, r->counts[0], VPV_MMU_UPDATE_MAX);
	KUNIT_EXPECT_EQ(test, r->q.count, 0u);
	KUNIT_EXPECT_EQ(test, r->applied, VPV_MMU_UPDATE_MAX);
	KUNIT_EXPECT_EQ(test, r->dropped, 0u);

	/* 600 more: one auto-flush of 512, then 88 on the explicit flush */
	for (i = 0; i < 600; i++)
		KUNIT_EXPECT_EQ(test, vpv_mmu_q_add(&r->q, 0x3000 + 8 * i, 0,
						    NULL, i), 0L);
	KUNIT_EXPECT_EQ(test, r->calls, 2u);
	KUNIT_EXPECT_EQ(test, r->q.count, 88u);
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_flush(&r->q), 0L);
	KUNIT_EXPECT_EQ(test, r->calls, 3u);
	KUNIT_EXPECT_EQ(test, r->counts[2], 88u);
	KUNIT_EXPECT_EQ(test, r->first_ptr[2], 0x3000ULL + 8 * 512);
	KUNIT_EXPECT_EQ(test, r->q.nr_queued, 1112ULL);
	KUNIT_EXPECT_EQ(test, r->q.nr_applied, 1112ULL);
	KUNIT_EXPECT_EQ(test, r->q.nr_flushes, 3ULL);

	/* an empty flush issues nothing */
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_flush(&r->q), 0L);
	KUNIT_EXPECT_EQ(test, r->calls, 3u);
}

static void vpv_test_queue_cap1(struct kunit *test)
{
	struct qrec *r = rec_setup(test, 1);

	/* unbatched: every request is its own call */
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_add(&r->q, 8, 1, NULL, 1), 0L);
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_add(&r->q, 16, 1, NULL, 2), 0L);
	KUNIT_EXPECT_EQ(test, r->calls, 2u);
	KUNIT_EXPECT_EQ(test, r->counts[1], 1u);
	KUNIT_EXPECT_EQ(test, r->applied, 2u);

	r->fail_at = 0;
	r->fail_with = -EPERM;
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_add(&r->q, 24, 1, NULL, 3),
			(long)-EPERM);
	KUNIT_EXPECT_EQ(test, r->applied, 2u);
	KUNIT_EXPECT_EQ(test, r->dropped, 1u);
	KUNIT_EXPECT_EQ(test, r->q.nr_errors, 1ULL);
}

static void vpv_test_queue_partial(struct kunit *test)
{
	struct qrec *r = rec_setup(test, VPV_MMU_UPDATE_MAX);
	unsigned int i;

	/* the host stops at request 3 of 6: 0..2 applied, 3..5 dropped */
	for (i = 0; i < 6; i++)
		vpv_mmu_q_add(&r->q, 8 * i, 1, NULL, 100 + i);
	r->fail_at = 3;
	r->fail_with = -EINVAL;
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_flush(&r->q), (long)-EINVAL);
	KUNIT_EXPECT_EQ(test, r->applied, 3u);
	KUNIT_EXPECT_EQ(test, r->dropped, 3u);
	KUNIT_EXPECT_EQ(test, r->applied_slots[0], 100UL);
	KUNIT_EXPECT_EQ(test, r->applied_slots[2], 102UL);
	KUNIT_EXPECT_EQ(test, r->q.count, 0u);
	KUNIT_EXPECT_EQ(test, r->q.last_ret, (long)-EINVAL);

	/* the first request fails: nothing applied */
	r->applied = 0;
	r->dropped = 0;
	r->fail_at = 0;
	vpv_mmu_q_add(&r->q, 0, 1, NULL, 0);
	vpv_mmu_q_add(&r->q, 8, 1, NULL, 1);
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_flush(&r->q), (long)-EINVAL);
	KUNIT_EXPECT_EQ(test, r->applied, 0u);
	KUNIT_EXPECT_EQ(test, r->dropped, 2u);

	/* the auto-flush's error is returned by the add that filled it */
	r->applied = 0;
	r->dropped = 0;
	r->fail_at = 500;
	r->fail_with = -ENOENT;
	for (i = 0; i < VPV_MMU_UPDATE_MAX - 1; i++)
		KUNIT_EXPECT_EQ(test, vpv_mmu_q_add(&r->q, 8 * i, 1, NULL, i),
				0L);
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_add(&r->q, 0, 1, NULL, 511),
			(long)-ENOENT);
	KUNIT_EXPECT_EQ(test, r->applied, 500u);
	KUNIT_EXPECT_EQ(test, r->dropped, 12u);

	/* a transport error: done stays 0, nothing counts as applied */
	r->applied = 0;
	r->dropped = 0;
	r->transport = true;
	r->fail_with = -ETIMEDOUT;
	vpv_mmu_q_add(&r->q, 0, 1, NULL, 0);
	KUNIT_EXPECT_EQ(test, vpv_mmu_q_flush(&r->q), (long)-ETIMEDOUT);
	KUNIT_EXPECT_EQ(test, r->applied, 0u);
	KUNIT_EXPECT_EQ(test, r->dropped, 1u);
	KUNIT_EXPECT_TRUE(test, vpv_mmu_outcome_unknown(r->q.last_ret));
	KUNIT_EXPECT_FALSE(test, vpv_mmu_outcome_unknown(-EPERM));
	KUNIT_EXPECT_FALSE(test, vpv_mmu_outcome_unknown(-ENODEV));
}

static void vpv_test_applied(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vpv_mmu_applied(0, 7, 7), 7u);
	/* success means all, whatever the done word says */
	KUNIT_EXPECT_EQ(test, vpv_mmu_applied(0, 0, 7), 7u);
	KUNIT_EXPECT_EQ(test, vpv_mmu_applied(-EINVAL, 3, 7), 3u);
	KUNIT_EXPECT_EQ(test, vpv_mmu_applied(-EPERM, 0, 7), 0u);
	/* a done word beyond the batch is clamped */
	KUNIT_EXPECT_EQ(test, vpv_mmu_applied(-EINVAL, 1000, 7), 7u);
	KUNIT_EXPECT_EQ(test, vpv_mmu_applied(-EINVAL, ~0ULL, 512), 512u);
}

/* ---- pgprot -> PTE ---- */

static void vpv_test_pte_make(struct kunit *test)
{
	const u64 pad = VPV_PTE_PRESENT | VPV_PTE_ACCESSED;
	u64 v = 0;

	/* writable kernel mapping: RW, DIRTY, GLOBAL, NX */
	KUNIT_EXPECT_EQ(test, vpv_pte_make(0x1234, _PAGE_PRESENT | _PAGE_RW |
					   _PAGE_GLOBAL | _PAGE_NX, true, &v),
			0);
	KUNIT_EXPECT_EQ(test, v, 0x1234000ULL | pad | VPV_PTE_RW |
			VPV_PTE_DIRTY | VPV_PTE_GLOBAL | VPV_PTE_NX);

	/* read-only: no RW, no DIRTY; ACCESSED always */
	KUNIT_EXPECT_EQ(test, vpv_pte_make(5, _PAGE_PRESENT, true, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 0x5000ULL | pad);

	/* NX only where the CPU has it */
	KUNIT_EXPECT_EQ(test, vpv_pte_make(5, _PAGE_PRESENT | _PAGE_NX, false,
					   &v), 0);
	KUNIT_EXPECT_EQ(test, v & VPV_PTE_NX, 0ULL);
	KUNIT_EXPECT_EQ(test, vpv_pte_make(5, _PAGE_PRESENT | _PAGE_NX, true,
					   &v), 0);
	KUNIT_EXPECT_EQ(test, v & VPV_PTE_NX, VPV_PTE_NX);

	/* cache bits pass; A/D from @prot do not matter */
	KUNIT_EXPECT_EQ(test, vpv_pte_make(1, _PAGE_PRESENT | _PAGE_PCD |
					   _PAGE_PWT, true, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 0x1000ULL | pad | VPV_PTE_PCD | VPV_PTE_PWT);

	/* software bits are dropped */
	KUNIT_EXPECT_EQ(test, vpv_pte_make(1, _PAGE_PRESENT | _PAGE_SPECIAL,
					   true, &v), 0);
	KUNIT_EXPECT_EQ(test, v, 0x1000ULL | pad);

	/* every value built is inside VPV_PTE_ALLOWED and never USER */
	KUNIT_EXPECT_EQ(test, vpv_pte_make(VPV_PTE_PFN_MASK >> 12,
					   ~(u64)(_PAGE_USER | _PAGE_PAT),
					   true, &v), 0);
	KUNIT_EXPECT_EQ(test, v & ~VPV_PTE_ALLOWED, 0ULL);
	KUNIT_EXPECT_EQ(test, v & VPV_PTE_USER, 0ULL);
	KUNIT_EXPECT_EQ(test, vpv_pte_pfn(v), VPV_PTE_PFN_MASK >> 12);

	/* refused: USER, PAT, not present, a frame beyond 52 bits */
	v = 77;
	KUNIT_EXPECT_EQ(test, vpv_pte_make(1, _PAGE_PRESENT | _PAGE_USER,
					   true, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_pte_make(1, _PAGE_PRESENT | _PAGE_PAT,
					   true, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_pte_make(1, _PAGE_RW, true, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_pte_make(1, 0, true, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_pte_make((VPV_PTE_PFN_MASK >> 12) + 1,
					   _PAGE_PRESENT, true, &v), -EINVAL);
	KUNIT_EXPECT_EQ(test, v, 77ULL);

	/* the kernel's own protections convert */
	KUNIT_EXPECT_EQ(test, vpv_pte_make(9, pgprot_val(PAGE_KERNEL), true,
					   &v), 0);
	KUNIT_EXPECT_TRUE(test, v & VPV_PTE_RW);
	KUNIT_EXPECT_EQ(test, vpv_pte_make(9, pgprot_val(PAGE_KERNEL_RO), true,
					   &v), 0);
	KUNIT_EXPECT_FALSE(test, v & VPV_PTE_RW);
	KUNIT_EXPECT_EQ(test, vpv_pte_make(9, pgprot_val(PAGE_SHARED), true,
					   &v), -EINVAL);
}

/* ---- slots and blocks ---- */

static void vpv_test_slot_gpa(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vpv_pte_slot_gpa(0x7000, 0), 0x7000ULL);
	KUNIT_EXPECT_EQ(test, vpv_pte_slot_gpa(0x7000, 1), 0x7008ULL);
	KUNIT_EXPECT_EQ(test, vpv_pte_slot_gpa(0x7000, 511), 0x7ff8ULL);
	/* slot 512 is slot 0 of the next block's table */
	KUNIT_EXPECT_EQ(test, vpv_pte_slot_gpa(0x9000, 512), 0x9000ULL);
	KUNIT_EXPECT_EQ(test, vpv_pte_slot_gpa(0x9000, 513), 0x9008ULL);

	KUNIT_EXPECT_EQ(test, vpv_offset_slot(0), 0UL);
	KUNIT_EXPECT_EQ(test, vpv_offset_slot(0x1000), 1UL);
	KUNIT_EXPECT_EQ(test, vpv_offset_slot(SZ_2M + 0x3000), 515UL);
	KUNIT_EXPECT_EQ(test, vpv_slot_block(511), 0u);
	KUNIT_EXPECT_EQ(test, vpv_slot_block(512), 1u);
	KUNIT_EXPECT_EQ(test, vpv_slot_block(515), 1u);

	KUNIT_EXPECT_TRUE(test, vpv_offset_valid(0, SZ_2M));
	KUNIT_EXPECT_TRUE(test, vpv_offset_valid(SZ_2M - PAGE_SIZE, SZ_2M));
	KUNIT_EXPECT_FALSE(test, vpv_offset_valid(SZ_2M, SZ_2M));
	KUNIT_EXPECT_FALSE(test, vpv_offset_valid(8, SZ_2M));
	KUNIT_EXPECT_FALSE(test, vpv_offset_valid(ULONG_MAX & PAGE_MASK, SZ_2M));
}

static void vpv_test_blocks(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(0), 0u);
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(1), 1u);
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(PAGE_SIZE), 1u);
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(SZ_2M), 1u);
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(SZ_2M + 1), 2u);
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(SZ_4M), 2u);
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(VPV_AREA_MAX_SIZE), 512u);
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(VPV_AREA_MAX_SIZE + 1), 0u);
	KUNIT_EXPECT_EQ(test, vpv_area_blocks(ULONG_MAX), 0u);

	/* placing whole blocks inside an over-allocated range */
	KUNIT_EXPECT_EQ(test, vpv_block_align(0x200000, SZ_2M, SZ_2M),
			0x200000UL);
	KUNIT_EXPECT_EQ(test, vpv_block_align(0x201000, SZ_4M - PAGE_SIZE,
					      SZ_2M), 0x400000UL);
	/* one page short */
	KUNIT_EXPECT_EQ(test, vpv_block_align(0x201000, SZ_4M - 2 * PAGE_SIZE,
					      SZ_2M), 0UL);
	KUNIT_EXPECT_EQ(test, vpv_block_align(0x3ff000, SZ_2M + PAGE_SIZE,
					      SZ_2M), 0x400000UL);
	/* wrapping at the top of the address space */
	KUNIT_EXPECT_EQ(test, vpv_block_align(ULONG_MAX - PAGE_SIZE + 1,
					      PAGE_SIZE, PAGE_SIZE), 0UL);
}

static struct kunit_case vpv_test_cases[] = {
	KUNIT_CASE(vpv_test_queue_fill),
	KUNIT_CASE(vpv_test_queue_cap1),
	KUNIT_CASE(vpv_test_queue_partial),
	KUNIT_CASE(vpv_test_applied),
	KUNIT_CASE(vpv_test_pte_make),
	KUNIT_CASE(vpv_test_slot_gpa),
	KUNIT_CASE(vpv_test_blocks),
	{}
};

static struct kunit_suite vpv_test_suite = {
	.name = "vpvmmu",
	.test_cases = vpv_test_cases,
};

kunit_test_suite(vpv_test_suite);

MODULE_DESCRIPTION("KUnit tests for the vpvmmu guest logic");
MODULE_LICENSE("GPL");
