/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure policy of vballoon.ko: no page, lock or hypercall in here, so
 * both the driver and the KUnit suite (vballoon_kunit.c) use it as is.
 * Sizes are in 4 KiB pages unless a name says "extents" (one extent is
 * 1 << order pages, order 0 or VPV_MEMOP_ORDER_2M).
 */
#ifndef VBALLOON_LOGIC_H
#define VBALLOON_LOGIC_H

#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/string.h>
#include <linux/types.h>
#include <pvkit/vhypercall.h>

#define VB_PAGES_PER_2M		BIT(VPV_MEMOP_ORDER_2M)	/* 512 */
#define VB_FAST_MS		10u	/* rerun delay while rate limited */
#define VB_PERIOD_MIN_MS	10u
#define VB_PERIOD_MAX_MS	60000u
#define VB_BACKOFF_SHIFT_MAX	4	/* at most 16 periods ... */
#define VB_BACKOFF_MAX_MS	60000u	/* ... and at most a minute */
#define VB_PPM			1000000ULL

/* The period module parameter, clamped to something sane. */
static inline unsigned int vb_period_ms(unsigned int param)
{
	return clamp_t(unsigned int, param, VB_PERIOD_MIN_MS,
		       VB_PERIOD_MAX_MS);
}

/*
 * The POLL result is the host's target in 4 KiB pages.  The host is not
 * trusted: a negative value is an error (the caller keeps the balloon
 * as it is), anything above the guest's RAM is clamped to it.
 */
static inline unsigned long vb_target_clamp(long host, unsigned long totalram)
{
	if (host <= 0)
		return 0;
	return min_t(unsigned long, host, totalram);
}

/*
 * DECREASE/INCREASE/REPORT_FREE return the count they applied; the ABI
 * applies all or nothing, so anything but @count is an error.
 */
static inline long vb_memop_result(long ret, unsigned int count)
{
	if (ret < 0)
		return ret;
	return ret == count ? 0 : -EPROTO;
}

/* Extents per hypercall: the batch_extents parameter, 1 .. ABI max. */
static inline unsigned int vb_batch_extents(unsigned int param)
{
	return clamp_t(unsigned int, param, 1, VPV_MEMOP_MAX_EXTENTS);
}

/* Extents in the next hypercall of a run that still has @left to do. */
static inline unsigned int vb_batch_count(unsigned long left,
					  unsigned int batch)
{
	return min_t(unsigned long, left, batch);
}

/* Hypercalls a run of @extents extents needs with @batch per call. */
static inline unsigned long vb_nr_batches(unsigned long extents,
					  unsigned int batch)
{
	return DIV_ROUND_UP(extents, batch);
}

/*
 * Rate limit: pages one work run may move (either way).  At least one
 * page, so rate_pages=0 cannot wedge the balloon.
 */
static inline unsigned long vb_run_cap(unsigned long delta,
				       unsigned long rate_pages)
{
	return min(delta, max(rate_pages, 1UL));
}

/*
 * Run again after VB_FAST_MS rather than a full period?  Only when the
 * run used its whole rate budget without a failure and the balloon is
 * still away from the target: a run that stopped short (allocation or
 * hypercall failure, pages busy in migration) waits for the next poll.
 */
static inline bool vb_reschedule_fast(unsigned long remaining,
				      unsigned long moved, unsigned long cap,
				      bool failed)
{
	return !failed && remaining && moved >= cap;
}

/*
 * Pacing against the guest's reclaim (balloon-driven paging).  An
 * inflation first takes free memory only (allocations without direct
 * reclaim; they wake kswapd).  When free memory runs out, further pages
 * come from allocations that may reclaim (one direct-reclaim pass each,
 * __GFP_NORETRY, never the OOM killer): with swap, the guest pages out
 * to make room for the balloon.  Those are bounded per run by a budget,
 * and the runs that need them wait a whole period (no 10 ms rerun) for
 * VB_SLOW_POLLS polls, so the balloon takes memory only as fast as the
 * guest's reclaim frees it, as vmw_balloon's sleeping allocations
 * (rate_alloc, 512 .. 2048 pages a second, slow for 4 cycles).  The
 * budget adapts: halved when an allocation that could reclaim failed
 * (reclaim did not keep up), grown by VB_RECLAIM_MIN_PAGES after a poll
 * that used all of it without a failure, between VB_RECLAIM_MIN_PAGES
 * and the reclaim_pages module parameter.
 */

/*
 * Floor of the budget and its additive step: 1 MiB a poll, so the
 * balloon keeps moving while reclaim succeeds at all, and the budget
 * climbs back from the floor to the default ceiling in 15 good polls.
 */
#define VB_RECLAIM_MIN_PAGES	256UL
/*
 * Polls after free memory ran out during which a run may move at most
 * the reclaim budget and waits a whole period: vmw_balloon's
 * VMW_BALLOON_SLOW_CYCLES.  Long enough that kswapd's freeing between
 * two polls is not mistaken for the pressure having gone.
 */
#define VB_SLOW_POLLS		4u

struct vb_pace {
	unsigned long budget;	/* reclaiming allocations per run */
	unsigned int slow;	/* slow polls left */
};

/* The ceiling of the budget: reclaim_pages, at least the floor. */
static inline unsigned long vb_reclaim_max(unsigned long param)
{
	return max(param, VB_RECLAIM_MIN_PAGES);
}

/* Pacing at load: the full budget, not slow. */
static inline void vb_pace_init(struct vb_pace *p, unsigned long param)
{
	p->budget = vb_reclaim_max(param);
	p->slow = 0;
}

/* The budget of the next run (a lowered reclaim_pages applies at once). */
static inline unsigned long vb_pace_budget(const struct vb_pace *p,
					   unsigned long param)
{
	return clamp(p->budget, VB_RECLAIM_MIN_PAGES, vb_reclaim_max(param));
}

/*
 * The pages a run may inflate: @cap (the rate limit), and in the slow
 * polls no more than the reclaim budget, free pages included (as
 * vmw_balloon's rate_alloc bounds its non-sleeping allocations too in
 * its slow cycles): what kswapd freed since the last poll is taken
 * at the same pace as what direct reclaim frees.
 */
static inline unsigned long vb_pace_cap(const struct vb_pace *p,
					unsigned long cap, unsigned long param)
{
	return p->slow ? min(cap, vb_pace_budget(p, param)) : cap;
}

/*
 * After each poll: @free_failed, an allocation without reclaim failed
 * (free memory ran out); @used, allocations that were allowed to
 * reclaim; @reclaim_failed, one of them failed.  A poll that did not
 * inflate passes false, 0, false: the slow polls count down, the
 * budget stays.
 */
static inline void vb_pace_update(struct vb_pace *p, bool free_failed,
				  unsigned long used, bool reclaim_failed,
				  unsigned long param)
{
	unsigned long budget = vb_pace_budget(p, param);

	if (reclaim_failed)
		budget /= 2;
	else if (used >= budget)
		budget += VB_RECLAIM_MIN_PAGES;
	p->budget = clamp(budget, VB_RECLAIM_MIN_PAGES, vb_reclaim_max(param));
	if (free_failed)
		p->slow = VB_SLOW_POLLS;
	else if (p->slow)
		p->slow--;
}

struct vb_plan {
	unsigned long n2m;	/* 2 MiB extents */
	unsigned long n4k;	/* 4 KiB pages */
};

static inline unsigned long vb_plan_pages(const struct vb_plan *p)
{
	return p->n2m * VB_PAGES_PER_2M + p->n4k;
}

/*
 * Inflate by @pages: as many 2 MiB extents as fit when the host offers
 * them, the remainder in 4 KiB pages.  When a 2 MiB allocation fails
 * the driver moves the extents it could not get to n4k.
 */
static inline void vb_plan_inflate(unsigned long pages, bool use_2m,
				   struct vb_plan *p)
{
	p->n2m = use_2m ? pages / VB_PAGES_PER_2M : 0;
	p->n4k = pages - p->n2m * VB_PAGES_PER_2M;
}

/*
 * Deflate by @pages out of a balloon holding @have_4k pages and @have_2m
 * extents.  Normal deflation (@prefer_2m) releases whole 2 MiB extents
 * while at least 512 pages are wanted (contiguous memory back to the
 * guest, and the 4 KiB pages left are the movable ones), then 4 KiB
 * pages.  The OOM path prefers 4 KiB pages (exactly what was asked).
 * Either way, if 4 KiB pages run short the rest comes from 2 MiB
 * extents, rounded up: the balloon may end below the target by less
 * than 512 pages, which the next inflation fills with 4 KiB pages.
 */
static inline void vb_plan_deflate(unsigned long pages, unsigned long have_4k,
				   unsigned long have_2m, bool prefer_2m,
				   struct vb_plan *p)
{
	unsigned long left = pages;

	p->n2m = 0;
	if (prefer_2m) {
		p->n2m = min(left / VB_PAGES_PER_2M, have_2m);
		left -= p->n2m * VB_PAGES_PER_2M;
	}
	p->n4k = min(left, have_4k);
	left -= p->n4k;
	if (left)
		p->n2m += min(DIV_ROUND_UP(left, VB_PAGES_PER_2M),
			      have_2m - p->n2m);
}

/*
 * Backoff after consecutive failed inflations (allocation failure or a
 * DECREASE the host refused): no inflation for period << (streak - 1),
 * capped.  Polls and deflation go on meanwhile.
 */
static inline unsigned int vb_backoff_ms(unsigned int streak,
					 unsigned int period_ms)
{
	u64 ms;

	if (!streak)
		return 0;
	ms = (u64)period_ms << min_t(unsigned int, streak - 1,
				      VB_BACKOFF_SHIFT_MAX);
	return min_t(u64, ms, VB_BACKOFF_MAX_MS);
}

/*
 * OOM hold with backoff.  After an OOM deflation the balloon does not
 * inflate for a hold; if the guest needs the OOM notifier again soon
 * after a hold ended (within the quiet period), the re-inflation was a
 * mistake the workload paid for with an OOM cycle, so the next hold is
 * twice as long (level + 1), as vmw_balloon holds off after its
 * shrinker ran and Xen's balloon doubles its delay while it cannot make
 * progress.  An OOM deflation during a hold (the same pressure episode:
 * the OOM killer calls the notifier until enough is free) restarts the
 * hold at the same level; one after a quiet period starts over at
 * level 0.  Times are in milliseconds of a monotonic clock.
 */
/*
 * At most 64 x the base hold and 5 minutes: the host's target is not
 * ignored for longer than that, however long the pressure lasts.
 */
#define VB_OOM_LEVEL_MAX	6
#define VB_OOM_HOLD_MAX_MS	300000u

struct vb_oom_backoff {
	bool held;		/* a hold was set (and not yet forgotten) */
	unsigned int level;	/* the hold is base << level */
	u64 until_ms;		/* end of the current hold */
	u64 holds;		/* holds started (not restarted) */
};

/* The hold at @level for a @base_ms base, capped. */
static inline u64 vb_oom_hold_ms(unsigned int level, unsigned int base_ms)
{
	u64 ms = (u64)base_ms << min_t(unsigned int, level, VB_OOM_LEVEL_MAX);

	return min_t(u64, ms, VB_OOM_HOLD_MAX_MS);
}

/* An OOM deflation at @now_ms: start, restart or lengthen the hold. */
static inline void vb_oom_backoff_hit(struct vb_oom_backoff *o, u64 now_ms,
				      unsigned int base_ms,
				      unsigned int quiet_ms)
{
	if (!o->held) {
		o->level = 0;
		o->holds++;
	} else if (now_ms >= o->until_ms) {
		/* a new episode: soon after the hold, or after a quiet time */
		if (now_ms - o->until_ms < quiet_ms)
			o->level = min_t(unsigned int, o->level + 1,
					 VB_OOM_LEVEL_MAX);
		else
			o->level = 0;
		o->holds++;
	}
	o->held = true;
	o->until_ms = now_ms + vb_oom_hold_ms(o->level, base_ms);
}

/*
 * May the balloon inflate at @now_ms?  Not during a hold.  A quiet
 * period after the hold forgets it (level back to 0).
 */
static inline bool vb_oom_backoff_may_inflate(struct vb_oom_backoff *o,
					      u64 now_ms,
					      unsigned int quiet_ms)
{
	if (!o->held)
		return true;
	if (now_ms < o->until_ms)
		return false;
	if (now_ms - o->until_ms >= quiet_ms) {
		o->held = false;
		o->level = 0;
	}
	return true;
}

/*
 * The estimate of the guest's active memory fraction f sent with every
 * poll: pages on the active LRU lists (anon + file), i.e. memory the
 * guest touched recently enough that reclaim would not pick it, over
 * the memory the guest holds (its RAM minus the balloon, as the ABI
 * defines it), in parts per million (0 .. 1000000).
 */
static inline u64 vb_active_ppm(unsigned long active_anon,
				unsigned long active_file,
				unsigned long totalram)
{
	u64 active = (u64)active_anon + active_file;

	if (!totalram)
		return 0;
	if (active >= totalram)
		return VB_PPM;
	/* max(): keeps sparse from seeing a constant 0 divisor */
	return div64_u64(active * VB_PPM, max_t(u64, totalram, 1));
}

/* A snapshot of the guest's memory counters, in pages and events. */
struct vb_meminfo {
	unsigned long balloon_pages;
	unsigned long totalram;
	unsigned long freeram;
	unsigned long available;
	unsigned long active_anon;
	unsigned long inactive_anon;
	unsigned long active_file;
	unsigned long inactive_file;
	unsigned long swap_in;
	unsigned long swap_out;
	unsigned long major_faults;
	unsigned long minor_faults;
	unsigned long oom_kills;
};

static inline void vb_fill_stats(struct vpv_balloon_stats *s,
				 const struct vb_meminfo *m,
				 unsigned int page_shift)
{
	memset(s, 0, sizeof(*s));
	s->balloon_pages = m->balloon_pages;
	s->total = (u64)m->totalram << page_shift;
	s->free = (u64)m->freeram << page_shift;
	s->available = (u64)m->available << page_shift;
	s->active_anon = (u64)m->active_anon << page_shift;
	s->inactive_anon = (u64)m->inactive_anon << page_shift;
	s->active_file = (u64)m->active_file << page_shift;
	s->inactive_file = (u64)m->inactive_file << page_shift;
	s->swap_in = m->swap_in;
	s->swap_out = m->swap_out;
	s->major_faults = m->major_faults;
	s->minor_faults = m->minor_faults;
	s->oom_kills = m->oom_kills;
	/* MemTotal still counts the balloon: take it out for f */
	s->active_ppm = vb_active_ppm(m->active_anon, m->active_file,
				      m->totalram > m->balloon_pages ?
				      m->totalram - m->balloon_pages : 0);
}

#endif /* VBALLOON_LOGIC_H */
