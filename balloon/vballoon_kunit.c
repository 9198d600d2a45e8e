// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the pure policy of vballoon.ko (vballoon_logic.h):
 * target validation, batching, the 2M/4K split, rate limiting, backoff,
 * the pacing against reclaim, the OOM hold's backoff and the
 * statistics sent with every poll.  No
 * host needed.
 * Results: /sys/kernel/debug/kunit/vballoon/results
 */
#include <kunit/test.h>
#include <linux/module.h>

#include "vballoon_logic.h"

static void vb_test_target_clamp(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vb_target_clamp(0, 1000), 0UL);
	KUNIT_EXPECT_EQ(test, vb_target_clamp(1, 1000), 1UL);
	KUNIT_EXPECT_EQ(test, vb_target_clamp(999, 1000), 999UL);
	KUNIT_EXPECT_EQ(test, vb_target_clamp(1000, 1000), 1000UL);
	/* more than the guest has: clamped */
	KUNIT_EXPECT_EQ(test, vb_target_clamp(1001, 1000), 1000UL);
	KUNIT_EXPECT_EQ(test, vb_target_clamp(LONG_MAX, 1000), 1000UL);
	/* negative (errors, garbage): nothing */
	KUNIT_EXPECT_EQ(test, vb_target_clamp(-1, 1000), 0UL);
	KUNIT_EXPECT_EQ(test, vb_target_clamp(LONG_MIN, 1000), 0UL);
	KUNIT_EXPECT_EQ(test, vb_target_clamp(5, 0), 0UL);
}

static void vb_test_memop_result(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vb_memop_result(512, 512), 0L);
	KUNIT_EXPECT_EQ(test, vb_memop_result(1, 1), 0L);
	KUNIT_EXPECT_EQ(test, vb_memop_result(-ENOMEM, 512), (long)-ENOMEM);
	KUNIT_EXPECT_EQ(test, vb_memop_result(-EBUSY, 1), (long)-EBUSY);
	/* a partial or inflated count breaks all-or-nothing */
	KUNIT_EXPECT_EQ(test, vb_memop_result(511, 512), (long)-EPROTO);
	KUNIT_EXPECT_EQ(test, vb_memop_result(513, 512), (long)-EPROTO);
	KUNIT_EXPECT_EQ(test, vb_memop_result(0, 512), (long)-EPROTO);
}

static void vb_test_batching(struct kunit *test)
{
	unsigned int batch;

	/* the parameter is clamped to 1 .. VPV_MEMOP_MAX_EXTENTS */
	KUNIT_EXPECT_EQ(test, vb_batch_extents(0), 1u);
	KUNIT_EXPECT_EQ(test, vb_batch_extents(512), 512u);
	KUNIT_EXPECT_EQ(test, vb_batch_extents(VPV_MEMOP_MAX_EXTENTS),
			(unsigned int)VPV_MEMOP_MAX_EXTENTS);
	KUNIT_EXPECT_EQ(test, vb_batch_extents(UINT_MAX),
			(unsigned int)VPV_MEMOP_MAX_EXTENTS);

	batch = vb_batch_extents(VPV_MEMOP_MAX_EXTENTS);
	KUNIT_EXPECT_EQ(test, vb_batch_count(5000, batch), 1024u);
	KUNIT_EXPECT_EQ(test, vb_batch_count(1024, batch), 1024u);
	KUNIT_EXPECT_EQ(test, vb_batch_count(7, batch), 7u);
	KUNIT_EXPECT_EQ(test, vb_batch_count(ULONG_MAX, batch), 1024u);

	/* 128 MiB of 4 KiB pages: 32 calls; the same in 2M: 1 call */
	KUNIT_EXPECT_EQ(test, vb_nr_batches(32768, batch), 32UL);
	KUNIT_EXPECT_EQ(test, vb_nr_batches(64, batch), 1UL);
	KUNIT_EXPECT_EQ(test, vb_nr_batches(1025, batch), 2UL);
	KUNIT_EXPECT_EQ(test, vb_nr_batches(0, batch), 0UL);
}

static void vb_test_plan_inflate(struct kunit *test)
{
	struct vb_plan p;

	vb_plan_inflate(1000, true, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 1UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 488UL);
	KUNIT_EXPECT_EQ(test, vb_plan_pages(&p), 1000UL);

	vb_plan_inflate(32768, true, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 64UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 0UL);

	vb_plan_inflate(511, true, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 0UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 511UL);

	/* no 2M offered: all 4K */
	vb_plan_inflate(32768, false, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 0UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 32768UL);

	vb_plan_inflate(0, true, &p);
	KUNIT_EXPECT_EQ(test, vb_plan_pages(&p), 0UL);
}

static void vb_test_plan_deflate(struct kunit *test)
{
	struct vb_plan p;

	/* normal: whole 2M extents first, then 4K */
	vb_plan_deflate(1100, 1000, 10, true, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 2UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 76UL);
	KUNIT_EXPECT_EQ(test, vb_plan_pages(&p), 1100UL);

	/* fewer than 512 wanted: only 4K */
	vb_plan_deflate(300, 1000, 10, true, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 0UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 300UL);

	/* 4K short: the rest from 2M, rounded up (overshoot < 512) */
	vb_plan_deflate(300, 100, 10, true, &p);
	KUNIT_EXPECT_EQ(test, p.n4k, 100UL);
	KUNIT_EXPECT_EQ(test, p.n2m, 1UL);
	KUNIT_EXPECT_LT(test, vb_plan_pages(&p) - 300, VB_PAGES_PER_2M);

	/* OOM: 4K first */
	vb_plan_deflate(256, 1000, 10, false, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 0UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 256UL);
	vb_plan_deflate(256, 0, 10, false, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 1UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 0UL);

	/* never more than the balloon holds */
	vb_plan_deflate(ULONG_MAX / 2, 7, 3, true, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 3UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 7UL);
	vb_plan_deflate(ULONG_MAX / 2, 7, 3, false, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 3UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 7UL);

	/* everything (unload) */
	vb_plan_deflate(7 + 3 * VB_PAGES_PER_2M, 7, 3, true, &p);
	KUNIT_EXPECT_EQ(test, p.n2m, 3UL);
	KUNIT_EXPECT_EQ(test, p.n4k, 7UL);

	vb_plan_deflate(100, 0, 0, true, &p);
	KUNIT_EXPECT_EQ(test, vb_plan_pages(&p), 0UL);
}

static void vb_test_rate(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vb_run_cap(1000000, 32768), 32768UL);
	KUNIT_EXPECT_EQ(test, vb_run_cap(100, 32768), 100UL);
	KUNIT_EXPECT_EQ(test, vb_run_cap(100, 0), 1UL);

	/* used the whole budget, still far: again soon */
	KUNIT_EXPECT_TRUE(test, vb_reschedule_fast(50000, 32768, 32768,
						   false));
	/* 2M overshoot counts as the whole budget */
	KUNIT_EXPECT_TRUE(test, vb_reschedule_fast(10, 33000, 32768, false));
	/* at the target */
	KUNIT_EXPECT_FALSE(test, vb_reschedule_fast(0, 32768, 32768, false));
	/* stopped short (pages isolated, ...) */
	KUNIT_EXPECT_FALSE(test, vb_reschedule_fast(50000, 100, 32768,
						    false));
	/* a failure waits for the next poll */
	KUNIT_EXPECT_FALSE(test, vb_reschedule_fast(50000, 32768, 32768,
						    true));

	KUNIT_EXPECT_EQ(test, vb_period_ms(0), VB_PERIOD_MIN_MS);
	KUNIT_EXPECT_EQ(test, vb_period_ms(1000), 1000u);
	KUNIT_EXPECT_EQ(test, vb_period_ms(UINT_MAX), VB_PERIOD_MAX_MS);
}

static void vb_test_backoff(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(0, 1000), 0u);
	/* the first failure: retry at the next poll */
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(1, 1000), 1000u);
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(2, 1000), 2000u);
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(3, 1000), 4000u);
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(5, 1000), 16000u);
	/* capped at 16 periods ... */
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(6, 1000), 16000u);
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(UINT_MAX, 1000), 16000u);
	/* ... and at a minute */
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(5, 60000), VB_BACKOFF_MAX_MS);
	KUNIT_EXPECT_EQ(test, vb_backoff_ms(1, 10), 10u);
}

static void vb_test_pace(struct kunit *test)
{
	struct vb_pace p;
	unsigned int i;

	/* at load: the full budget, not slow, the rate limit alone */
	vb_pace_init(&p, 2048);
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 2048), 2048UL);
	KUNIT_EXPECT_EQ(test, p.slow, 0u);
	KUNIT_EXPECT_EQ(test, vb_pace_cap(&p, 32768, 2048), 32768UL);

	/* free memory ran out: slow, a run moves at most the budget */
	vb_pace_update(&p, true, 100, false, 2048);
	KUNIT_EXPECT_EQ(test, p.slow, VB_SLOW_POLLS);
	KUNIT_EXPECT_EQ(test, vb_pace_cap(&p, 32768, 2048), 2048UL);
	KUNIT_EXPECT_EQ(test, vb_pace_cap(&p, 10, 2048), 10UL);
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 2048), 2048UL);

	/* a reclaiming allocation failed: halved, down to the floor */
	vb_pace_update(&p, true, 7, true, 2048);
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 2048), 1024UL);
	for (i = 0; i < 10; i++)
		vb_pace_update(&p, true, 1, true, 2048);
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 2048), VB_RECLAIM_MIN_PAGES);

	/* all of the budget used without a failure: + the floor, capped */
	vb_pace_update(&p, true, VB_RECLAIM_MIN_PAGES, false, 2048);
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 2048),
			2 * VB_RECLAIM_MIN_PAGES);
	/* part of it: unchanged */
	vb_pace_update(&p, true, 3, false, 2048);
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 2048),
			2 * VB_RECLAIM_MIN_PAGES);
	for (i = 0; i < 20; i++)
		vb_pace_update(&p, true, 4096, false, 2048);
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 2048), 2048UL);

	/* polls with free memory count the slow polls down */
	KUNIT_EXPECT_EQ(test, p.slow, VB_SLOW_POLLS);
	for (i = 1; i <= VB_SLOW_POLLS; i++) {
		vb_pace_update(&p, false, 0, false, 2048);
		KUNIT_EXPECT_EQ(test, p.slow, VB_SLOW_POLLS - i);
	}
	vb_pace_update(&p, false, 0, false, 2048);
	KUNIT_EXPECT_EQ(test, p.slow, 0u);
	KUNIT_EXPECT_EQ(test, vb_pace_cap(&p, 32768, 2048), 32768UL);
	/* an idle poll keeps the budget */
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 2048), 2048UL);

	/* reclaim_pages lowered: applies at once; never below the floor */
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 512), 512UL);
	KUNIT_EXPECT_EQ(test, vb_pace_budget(&p, 0), VB_RECLAIM_MIN_PAGES);
	vb_pace_update(&p, false, 0, false, 512);
	KUNIT_EXPECT_EQ(test, p.budget, 512UL);
	/* raised: the budget grows to it step by step, not at once */
	vb_pace_update(&p, true, 512, false, 1UL << 20);
	KUNIT_EXPECT_EQ(test, p.budget, 512UL + VB_RECLAIM_MIN_PAGES);
	vb_pace_init(&p, 0);
	KUNIT_EXPECT_EQ(test, p.budget, VB_RECLAIM_MIN_PAGES);
}

static void vb_test_oom_hold_ms(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vb_oom_hold_ms(0, 5000), 5000ULL);
	KUNIT_EXPECT_EQ(test, vb_oom_hold_ms(1, 5000), 10000ULL);
	KUNIT_EXPECT_EQ(test, vb_oom_hold_ms(3, 5000), 40000ULL);
	/* capped at 64 x the base ... */
	KUNIT_EXPECT_EQ(test, vb_oom_hold_ms(6, 1000), 64000ULL);
	KUNIT_EXPECT_EQ(test, vb_oom_hold_ms(UINT_MAX, 1000), 64000ULL);
	/* ... and at 5 minutes */
	KUNIT_EXPECT_EQ(test, vb_oom_hold_ms(6, 5000), 300000ULL);
	KUNIT_EXPECT_EQ(test, vb_oom_hold_ms(0, UINT_MAX),
			(u64)VB_OOM_HOLD_MAX_MS);
	KUNIT_EXPECT_EQ(test, vb_oom_hold_ms(2, 0), 0ULL);
}

/* OOM deflations soon after each hold: the holds double, then cap. */
static void vb_test_oom_backoff_grows(struct kunit *test)
{
	struct vb_oom_backoff o = {};
	u64 t = 1000000;
	unsigned int i;

	KUNIT_EXPECT_TRUE(test, vb_oom_backoff_may_inflate(&o, t, 60000));
	vb_oom_backoff_hit(&o, t, 5000, 60000);
	KUNIT_EXPECT_EQ(test, o.level, 0u);
	KUNIT_EXPECT_EQ(test, o.until_ms, t + 5000);
	KUNIT_EXPECT_FALSE(test, vb_oom_backoff_may_inflate(&o, t + 4999,
							    60000));
	KUNIT_EXPECT_TRUE(test, vb_oom_backoff_may_inflate(&o, t + 5000,
							   60000));
	/* the balloon re-inflated; 1 s later the guest is out again */
	t += 6000;
	vb_oom_backoff_hit(&o, t, 5000, 60000);
	KUNIT_EXPECT_EQ(test, o.level, 1u);
	KUNIT_EXPECT_FALSE(test, vb_oom_backoff_may_inflate(&o, t + 9999,
							    60000));
	KUNIT_EXPECT_TRUE(test, vb_oom_backoff_may_inflate(&o, t + 10000,
							   60000));
	for (i = 2; i <= 10; i++) {
		t = o.until_ms + 2000;
		vb_oom_backoff_hit(&o, t, 5000, 60000);
		KUNIT_EXPECT_EQ(test, o.level,
				min_t(unsigned int, i, VB_OOM_LEVEL_MAX));
	}
	KUNIT_EXPECT_EQ(test, o.until_ms - t, (u64)VB_OOM_HOLD_MAX_MS);
	KUNIT_EXPECT_EQ(test, o.holds, 11ULL);
}

/* Several notifier calls in one episode: one hold, no growth. */
static void vb_test_oom_backoff_episode(struct kunit *test)
{
	struct vb_oom_backoff o = {};
	u64 t = 50;
	unsigned int i;

	for (i = 0; i < 20; i++)
		vb_oom_backoff_hit(&o, t + i * 10, 5000, 60000);
	KUNIT_EXPECT_EQ(test, o.level, 0u);
	KUNIT_EXPECT_EQ(test, o.holds, 1ULL);
	/* the hold runs from the last call */
	KUNIT_EXPECT_EQ(test, o.until_ms, t + 190 + 5000);
}

/* A quiet period forgets the backoff; quiet_ms = 0 disables it. */
static void vb_test_oom_backoff_quiet(struct kunit *test)
{
	struct vb_oom_backoff o = {};
	u64 t = 0;

	vb_oom_backoff_hit(&o, t, 1000, 60000);
	vb_oom_backoff_hit(&o, o.until_ms + 10, 1000, 60000);
	vb_oom_backoff_hit(&o, o.until_ms + 10, 1000, 60000);
	KUNIT_EXPECT_EQ(test, o.level, 2u);
	/* 59.999 s after the hold: still remembered */
	t = o.until_ms + 59999;
	KUNIT_EXPECT_TRUE(test, vb_oom_backoff_may_inflate(&o, t, 60000));
	KUNIT_EXPECT_EQ(test, o.level, 2u);
	/* a minute: forgotten, the next hold is the base again */
	t++;
	KUNIT_EXPECT_TRUE(test, vb_oom_backoff_may_inflate(&o, t, 60000));
	KUNIT_EXPECT_EQ(test, o.level, 0u);
	KUNIT_EXPECT_FALSE(test, o.held);
	vb_oom_backoff_hit(&o, t, 1000, 60000);
	KUNIT_EXPECT_EQ(test, o.level, 0u);
	KUNIT_EXPECT_EQ(test, o.until_ms, t + 1000);
	/* an OOM after a quiet minute that nobody asked about resets too */
	vb_oom_backoff_hit(&o, o.until_ms + 1, 1000, 60000);
	KUNIT_EXPECT_EQ(test, o.level, 1u);
	vb_oom_backoff_hit(&o, o.until_ms + 60000, 1000, 60000);
	KUNIT_EXPECT_EQ(test, o.level, 0u);
	/* no backoff at all: always the base hold */
	vb_oom_backoff_hit(&o, o.until_ms + 1, 1000, 0);
	vb_oom_backoff_hit(&o, o.until_ms + 1, 1000, 0);
	KUNIT_EXPECT_EQ(test, o.level, 0u);
	KUNIT_EXPECT_EQ(test, o.holds, 8ULL);
}

static void vb_test_active_ppm(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vb_active_ppm(0, 0, 1000), 0ULL);
	KUNIT_EXPECT_EQ(test, vb_active_ppm(250, 250, 1000), 500000ULL);
	KUNIT_EXPECT_EQ(test, vb_active_ppm(1, 0, 3), 333333ULL);
	KUNIT_EXPECT_EQ(test, vb_active_ppm(1000, 0, 1000), VB_PPM);
	/* counters racing above total: capped at 1 */
	KUNIT_EXPECT_EQ(test, vb_active_ppm(900, 900, 1000), VB_PPM);
	KUNIT_EXPECT_EQ(test, vb_active_ppm(5, 5, 0), 0ULL);
	/* 1 TiB of 4K pages does not overflow */
	KUNIT_EXPECT_EQ(test, vb_active_ppm(1UL << 27, 1UL << 27, 1UL << 28),
			VB_PPM);
	KUNIT_EXPECT_EQ(test, vb_active_ppm(1UL << 26, 0, 1UL << 28),
			250000ULL);
}

static void vb_test_fill_stats(struct kunit *test)
{
	struct vpv_balloon_stats *s = kunit_kzalloc(test, sizeof(*s),
						    GFP_KERNEL);
	struct vb_meminfo m = {
		.balloon_pages = 1024,
		.totalram = 262144,	/* 1 GiB */
		.freeram = 1000,
		.available = 2000,
		.active_anon = 65536,
		.inactive_anon = 3,
		.active_file = 65536,
		.inactive_file = 4,
		.swap_in = 5,
		.swap_out = 6,
		.major_faults = 7,
		.minor_faults = 8,
		.oom_kills = 9,
	};

	KUNIT_ASSERT_NOT_NULL(test, s);
	memset(s->reserved, 0xff, sizeof(s->reserved));
	vb_fill_stats(s, &m, 12);
	KUNIT_EXPECT_EQ(test, s->balloon_pages, 1024ULL);
	KUNIT_EXPECT_EQ(test, s->total, 1ULL << 30);
	KUNIT_EXPECT_EQ(test, s->free, 1000ULL * 4096);
	KUNIT_EXPECT_EQ(test, s->available, 2000ULL * 4096);
	KUNIT_EXPECT_EQ(test, s->active_anon, 65536ULL * 4096);
	KUNIT_EXPECT_EQ(test, s->inactive_anon, 3ULL * 4096);
	KUNIT_EXPECT_EQ(test, s->active_file, 65536ULL * 4096);
	KUNIT_EXPECT_EQ(test, s->inactive_file, 4ULL * 4096);
	/* events are counts, not bytes */
	KUNIT_EXPECT_EQ(test, s->swap_in, 5ULL);
	KUNIT_EXPECT_EQ(test, s->swap_out, 6ULL);
	KUNIT_EXPECT_EQ(test, s->major_faults, 7ULL);
	KUNIT_EXPECT_EQ(test, s->minor_faults, 8ULL);
	KUNIT_EXPECT_EQ(test, s->oom_kills, 9ULL);
	/* f is over what the guest holds: 131072 / (262144 - 1024) */
	KUNIT_EXPECT_EQ(test, s->active_ppm, 501960ULL);
	/* reserved is cleared: nothing stale reaches the host */
	KUNIT_EXPECT_EQ(test, s->reserved[0], 0ULL);
	KUNIT_EXPECT_EQ(test, s->reserved[17], 0ULL);
}

static struct kunit_case vb_test_cases[] = {
	KUNIT_CASE(vb_test_target_clamp),
	KUNIT_CASE(vb_test_memop_result),
	KUNIT_CASE(vb_test_batching),
	KUNIT_CASE(vb_test_plan_inflate),
	KUNIT_CASE(vb_test_plan_deflate),
	KUNIT_CASE(vb_test_rate),
	KUNIT_CASE(vb_test_backoff),
	KUNIT_CASE(vb_test_pace),
	KUNIT_CASE(vb_test_oom_hold_ms),
	KUNIT_CASE(vb_test_oom_backoff_grows),
	KUNIT_CASE(vb_test_oom_backoff_episode),
	KUNIT_CASE(vb_test_oom_backoff_quiet),
	KUNIT_CASE(vb_test_active_ppm),
	KUNIT_CASE(vb_test_fill_stats),
	{}
};

static struct kunit_suite vb_test_suite = {
	.name = "vballoon",
	.test_cases = vb_test_cases,
};

kunit_test_suite(vb_test_suite);

MODULE_DESCRIPTION("KUnit tests for the vballoon guest policy");
MODULE_LICENSE("GPL");
