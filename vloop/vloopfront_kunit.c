// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for vloopfront's recovery logic (vloopfront_logic.h): a
 * hostile or confused back-end's answers (bogus ids, the same answer
 * twice, an answer to a kept request's old id) complete nothing twice;
 * what a lost ring had in flight is kept and re-issued oldest first.
 * No host needed.  Results: /sys/kernel/debug/kunit/vloopfront/results
 */
#include <kunit/test.h>
#include <linux/module.h>

#include "vloopfront_logic.h"

#define N	4

/* Slot @idx in flight under generation @gen, issued @seq-th. */
static void vlf_test_issue(struct vlf_slot *s, unsigned int idx, u32 gen,
			   u64 seq)
{
	s[idx].id = vlf_make_id(gen, idx);
	s[idx].seq = seq;
	s[idx].busy = true;
	s[idx].replay = false;
}

static void vlf_test_judge(struct kunit *test)
{
	struct vlf_slot s[N] = { };
	u64 id;

	vlf_test_issue(s, 1, 7, 0);
	id = s[1].id;
	KUNIT_EXPECT_EQ(test, id, (u64)(7 << 16 | 1));
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, id), VLF_COMPLETE);
	s[1].busy = false;		/* the caller completed it */
	/* the same answer again: issued before, completes nothing */
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, id), VLF_DUPLICATE);
	/* an older generation of the same slot */
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, vlf_make_id(3, 1)),
			VLF_DUPLICATE);
	/* a generation not issued yet, a slot never used */
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, vlf_make_id(8, 1)),
			VLF_UNEXPECTED);
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, vlf_make_id(1, 2)),
			VLF_UNEXPECTED);
	/* an index beyond this connection's slots, high bits set */
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, vlf_make_id(7, N)),
			VLF_UNEXPECTED);
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, vlf_make_id(7, 0x1234)),
			VLF_UNEXPECTED);
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, id | BIT_ULL(63)),
			VLF_UNEXPECTED);
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, U64_MAX),
			VLF_UNEXPECTED);
	/* busy but another id: the slot's own id only */
	vlf_test_issue(s, 1, 9, 1);
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, id), VLF_DUPLICATE);
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, s[1].id), VLF_COMPLETE);
}

static void vlf_test_hold(struct kunit *test)
{
	struct vlf_slot s[N] = { };
	u64 h = vlf_make_id(5, VLF_HOLD_IDX);

	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, true, h, h), VLF_HOLD_DONE);
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, h, h), VLF_DUPLICATE);
	KUNIT_EXPECT_EQ(test,
			vlf_judge(s, N, true, h, vlf_make_id(6, VLF_HOLD_IDX)),
			VLF_UNEXPECTED);
	/* nothing pending, nothing issued: a HOLD answer out of nowhere */
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, h), VLF_UNEXPECTED);
}

static void vlf_test_generation_wrap(struct kunit *test)
{
	u64 last = vlf_make_id(2, 0);	/* the generation wrapped to 2 */

	KUNIT_EXPECT_TRUE(test, vlf_issued_before(last, vlf_make_id(U32_MAX, 0)));
	KUNIT_EXPECT_TRUE(test, vlf_issued_before(last, last));
	KUNIT_EXPECT_FALSE(test, vlf_issued_before(last, vlf_make_id(3, 0)));
	KUNIT_EXPECT_FALSE(test, vlf_issued_before(0, vlf_make_id(0, 0)));
}

/*
 * A life: four requests in flight, one answered on the old ring, the
 * ring goes away, the rest kept (not in flight: an old id completes
 * nothing), re-issued oldest first under new ids, each completed once.
 */
static void vlf_test_keep_replay(struct kunit *test)
{
	struct vlf_slot s[N] = { };
	unsigned int i, done = 0;
	u64 old[N];
	u32 gen = 10;
	int idx;

	/* issued in the order 2, 0, 3, 1 */
	vlf_test_issue(s, 2, gen++, 100);
	vlf_test_issue(s, 0, gen++, 101);
	vlf_test_issue(s, 3, gen++, 102);
	vlf_test_issue(s, 1, gen++, 103);
	for (i = 0; i < N; i++)
		old[i] = s[i].id;
	/* slot 0 answered on the old ring before it went away */
	KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, old[0]), VLF_COMPLETE);
	s[0].busy = false;
	done++;
	KUNIT_EXPECT_EQ(test, vlf_keep(s, N), 3u);
	KUNIT_EXPECT_EQ(test, vlf_keep(s, N), 0u);	/* kept once */
	for (i = 0; i < N; i++)
		KUNIT_EXPECT_NE(test, vlf_judge(s, N, false, 0, old[i]),
				VLF_COMPLETE);
	/* re-issued in issue order: 2, 3, 1 */
	idx = vlf_oldest_replay(s, N);
	KUNIT_EXPECT_EQ(test, idx, 2);
	s[2].replay = false;
	vlf_test_issue(s, 2, gen++, s[2].seq);
	KUNIT_EXPECT_EQ(test, vlf_oldest_replay(s, N), 3);
	s[3].replay = false;
	vlf_test_issue(s, 3, gen++, s[3].seq);
	KUNIT_EXPECT_EQ(test, vlf_oldest_replay(s, N), 1);
	s[1].replay = false;
	vlf_test_issue(s, 1, gen++, s[1].seq);
	KUNIT_EXPECT_EQ(test, vlf_oldest_replay(s, N), -1);
	/* the new ids complete once; the old ones are duplicates */
	for (i = 1; i < N; i++) {
		KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, old[i]),
				VLF_DUPLICATE);
		if (vlf_judge(s, N, false, 0, s[i].id) == VLF_COMPLETE) {
			s[i].busy = false;
			done++;
		}
		KUNIT_EXPECT_EQ(test, vlf_judge(s, N, false, 0, s[i].id),
				VLF_DUPLICATE);
	}
	KUNIT_EXPECT_EQ(test, done, (unsigned int)N);
}

static struct kunit_case vlf_test_cases[] = {
	KUNIT_CASE(vlf_test_judge),
	KUNIT_CASE(vlf_test_hold),
	KUNIT_CASE(vlf_test_generation_wrap),
	KUNIT_CASE(vlf_test_keep_replay),
	{ }
};

static struct kunit_suite vlf_test_suite = {
	.name = "vloopfront",
	.test_cases = vlf_test_cases,
};

kunit_test_suite(vlf_test_suite);

MODULE_DESCRIPTION("KUnit tests for vloopfront's recovery logic");
MODULE_LICENSE("GPL");
