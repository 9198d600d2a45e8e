// SPDX-License-Identifier: GPL-2.0
/*
 * vballoon: the pvkit memory balloon and free page reporting, driven by
 * VPV_HC_MEMORY_OP through vhypercall.ko.
 *
 * A delayed work polls the host every period_ms with the guest's memory
 * statistics (VPV_MEMOP_POLL) and gets back the balloon size the host
 * wants.  It then inflates (allocates pages and gives them to the host
 * with VPV_MEMOP_DECREASE) or deflates (VPV_MEMOP_INCREASE and frees
 * them) toward it, at most rate_pages per run and one hypercall per
 * batch of up to VPV_MEMOP_MAX_EXTENTS extents.
 *
 * 4 KiB pages go through the balloon compaction API, so they stay
 * movable: on migration the new page is given to the host first
 * (DECREASE) and the old one taken back after (INCREASE), so the
 * guest never holds more populated pages than before and the host's
 * budget cannot refuse the second step.  2 MiB extents (when the host
 * offers VPV_F_BALLOON_2M and the buddy allocator has them at no
 * reclaim cost) are kept on a list of their own and are not movable.
 *
 * Locking: vb->lock (a mutex) covers both balloon lists' membership
 * counts, the PFN array and the statistics buffer; the balloon
 * compaction core adds bdi.pages_lock for the 4 KiB list.  Every
 * hypercall is issued with vb->lock held, except free page reports
 * (their own buffer, one reporting work at a time).
 *
 * Interfaces: read-only sysfs files under
 * /sys/devices/system/vballoon/vballoon0 (target, size, counters; as
 * Xen's balloon lays them out) and debugfs vballoon/{stats,kick,oom}.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/balloon_compaction.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/oom.h>
#include <linux/page_reporting.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/vmstat.h>
#include <linux/workqueue.h>
#include <pvkit/vhypercall.h>

#include "vballoon_logic.h"

static unsigned int vb_period_param = 1000;
module_param_named(period_ms, vb_period_param, uint, 0644);
MODULE_PARM_DESC(period_ms, "Host poll period in ms (10 .. 60000, default 1000)");

static unsigned long vb_rate_param = 32768;
module_param_named(rate_pages, vb_rate_param, ulong, 0644);
MODULE_PARM_DESC(rate_pages,
		 "Max 4 KiB pages inflated or deflated per work run (default 32768 = 128 MiB)");

/*
 * 2048 pages (8 MiB) a poll: vmw_balloon's VMW_BALLOON_RATE_ALLOC_MAX
 * for its sleeping allocations, and a few times what a guest under
 * TCG swaps out to vblkfront in a second while its workload pages
 * back in (Documentation/balloon.rst, Balloon-driven paging).
 */
static unsigned long vb_reclaim_param = 2048;
module_param_named(reclaim_pages, vb_reclaim_param, ulong, 0644);
MODULE_PARM_DESC(reclaim_pages,
		 "Once free memory ran out, most 4 KiB pages inflated per poll, by allocations that may reclaim (>= 256, default 2048 = 8 MiB)");

static unsigned int vb_batch_param = VPV_MEMOP_MAX_EXTENTS;
module_param_named(batch_extents, vb_batch_param, uint, 0644);
MODULE_PARM_DESC(batch_extents,
		 "Extents per DECREASE/INCREASE hypercall (1 .. 1024, default 1024)");

static bool vb_use_2m_param = true;
module_param_named(use_2m, vb_use_2m_param, bool, 0444);
MODULE_PARM_DESC(use_2m, "Use 2 MiB extents when the host offers them (default 1)");

static bool vb_deflate_on_oom_param = true;
module_param_named(deflate_on_oom, vb_deflate_on_oom_param, bool, 0444);
MODULE_PARM_DESC(deflate_on_oom,
		 "Deflate oom_pages from an OOM notifier (default 1)");

static unsigned int vb_oom_pages_param = 256;
module_param_named(oom_pages, vb_oom_pages_param, uint, 0644);
MODULE_PARM_DESC(oom_pages, "4 KiB pages deflated per OOM notification (default 256 = 1 MiB)");

static unsigned int vb_oom_hold_param = 5000;
module_param_named(oom_hold_ms, vb_oom_hold_param, uint, 0644);
MODULE_PARM_DESC(oom_hold_ms,
		 "No inflation for this long after an OOM deflation; doubled while OOM deflations keep coming (default 5000)");

/*
 * An OOM deflation less than this long after the last hold ended
 * doubles the next hold; after this long without one the hold is back
 * to oom_hold_ms.  A minute: longer than the hold-inflate-OOM cycle of
 * a workload under steady pressure, short enough that a guest whose
 * load went away gives the host its memory back soon.  0: no backoff.
 */
static unsigned int vb_oom_quiet_param = 60000;
module_param_named(oom_quiet_ms, vb_oom_quiet_param, uint, 0644);
MODULE_PARM_DESC(oom_quiet_ms,
		 "OOM deflations this close after a hold lengthen the next; 0 = fixed hold (default 60000)");

static bool vb_reporting_param = true;
module_param_named(page_reporting, vb_reporting_param, bool, 0444);
MODULE_PARM_DESC(page_reporting,
		 "Report free pages when the host offers it (default 1)");

/*
 * Testing only: a guest that lies about its activity, so the tests can
 * check that the host's idle tax does not depend on what guests say.
 */
static unsigned int vb_fake_active_param;
module_param_named(fake_active_ppm, vb_fake_active_param, uint, 0644);
MODULE_PARM_DESC(fake_active_ppm,
		 "Testing: report this active fraction (ppm, 1 .. 1000000) instead of the measured one (default 0: measured)");

#define VB_OOM_PRIORITY		80	/* as virtio_balloon */
/*
 * Free memory only: no direct reclaim (so no paging in the balloon's
 * context and never the OOM killer), but kswapd is woken, so the
 * guest's own reclaim starts on what the balloon will want next.
 */
#define VB_GFP_FREE	((balloon_mapping_gfp_mask() | __GFP_NOMEMALLOC | \
			  __GFP_NOWARN) & ~__GFP_DIRECT_RECLAIM)
#define VB_GFP_2M	((GFP_HIGHUSER | __GFP_NORETRY | __GFP_NOWARN |	\
			  __GFP_NOMEMALLOC) & ~__GFP_DIRECT_RECLAIM)

struct vb_stats {
	atomic64_t inflated_pages_total;
	atomic64_t deflated_pages_total;
	atomic64_t alloc_failures;
	atomic64_t hypercall_failures;
	atomic64_t polls;
	atomic64_t oom_deflates;
	atomic64_t oom_deflated_pages;
	atomic64_t reported_ranges;
	atomic64_t reported_bytes;
	atomic64_t report_failures;
	atomic64_t migrations;
	atomic64_t migration_failures;
	atomic64_t reclaim_allocs;
	atomic64_t reclaim_limited;
	atomic64_t slow_polls;
};

struct vballoon {
	struct mutex lock;		/* counts, lists, pfns[], stats */
	struct balloon_dev_info bdi;	/* 4 KiB pages, movable */
	struct list_head pages_2m;	/* 2 MiB extents (head page lru) */
	unsigned long n4k;		/* 4 KiB pages, isolated ones included */
	unsigned long n2m;		/* 2 MiB extents */
	unsigned long target;		/* last validated host target */
	unsigned long totalram;		/* at the last poll */
	bool use_2m;
	bool stopping;
	unsigned int fail_streak;	/* consecutive failed inflations */
	unsigned long inflate_after;	/* jiffies: end of the backoff */
	struct vb_oom_backoff oom;	/* OOM hold and its backoff */
	struct vb_pace pace;		/* pacing against reclaim */
	u64 *pfns;			/* VPV_MEMOP_MAX_EXTENTS, kmalloc */
	struct vpv_balloon_stats *stats;	/* kmalloc */
	unsigned long *events;		/* NR_VM_EVENT_ITEMS */
	struct vpv_mem_range *ranges;	/* PAGE_REPORTING_CAPACITY */
	struct delayed_work work;
	struct notifier_block oom_nb;
	bool oom_registered;
	struct page_reporting_dev_info pr;
	bool pr_registered;
	struct dentry *dir;
	struct device *sysdev;		/* /sys/devices/system/vballoon/vballoon0 */
	bool subsys_registered;
	struct vb_stats st;
};

static struct vballoon vb_dev;

#define vb_stat_add(b, name, n)	atomic64_add(n, &(b)->st.name)
#define vb_stat_inc(b, name)	atomic64_inc(&(b)->st.name)

static unsigned long vb_pages(const struct vballoon *b)
{
	return READ_ONCE(b->n4k) + READ_ONCE(b->n2m) * VB_PAGES_PER_2M;
}

static long vb_memop(unsigned int cmd, void *buf, unsigned int count,
		     unsigned int order)
{
	long ret = vpv_hypercall4(VPV_HC_MEMORY_OP, cmd, virt_to_phys(buf),
				  count, order);

	return vb_memop_result(ret, count);
}

/*
 * INCREASE b->pfns[0 .. count).  If some extent is populated already
 * (a call that timed out and was applied late), the all-or-nothing call
 * fails with -EEXIST: retry one extent at a time, -EEXIST meaning that
 * extent is back already.
 */
static long vb_increase(struct vballoon *b, unsigned int count,
			unsigned int order)
{
	unsigned int i;
	long ret;

	ret = vb_memop(VPV_MEMOP_INCREASE, b->pfns, count, order);
	if (ret != -EEXIST)
		return ret;
	for (i = 0; i < count; i++) {
		ret = vb_memop(VPV_MEMOP_INCREASE, &b->pfns[i], 1, order);
		if (ret && ret != -EEXIST)
			return ret;
	}
	return 0;
}

/* ---- statistics and poll ---- */

static void vb_collect(struct vballoon *b)
{
	struct vb_meminfo m = {};
	struct sysinfo si;
	unsigned int lie;

	si_meminfo(&si);
	m.balloon_pages = vb_pages(b);
	m.totalram = si.totalram;
	m.freeram = si.freeram;
	m.available = si_mem_available();
	m.active_anon = global_node_page_state(NR_ACTIVE_ANON);
	m.inactive_anon = global_node_page_state(NR_INACTIVE_ANON);
	m.active_file = global_node_page_state(NR_ACTIVE_FILE);
	m.inactive_file = global_node_page_state(NR_INACTIVE_FILE);
#ifdef CONFIG_VM_EVENT_COUNTERS
	all_vm_events(b->events);
	m.swap_in = b->events[PSWPIN];
	m.swap_out = b->events[PSWPOUT];
	m.major_faults = b->events[PGMAJFAULT];
	m.minor_faults = b->events[PGFAULT];
	m.oom_kills = b->events[OOM_KILL];
#endif
	b->totalram = si.totalram;
	vb_fill_stats(b->stats, &m, PAGE_SHIFT);
	lie = READ_ONCE(vb_fake_active_param);
	if (lie)
		b->stats->active_ppm = min_t(u64, VB_PPM, lie);
}

/* POLL with fresh statistics: the host's target, or a negative errno. */
static long vb_poll(struct vballoon *b)
{
	long ret;

	vb_collect(b);
	ret = vpv_hypercall2(VPV_HC_MEMORY_OP, VPV_MEMOP_POLL,
			     virt_to_phys(b->stats));
	vb_stat_inc(b, polls);
	if (ret < 0)
		vb_stat_inc(b, hypercall_failures);
	return ret;
}

/* ---- inflation ---- */

static void vb_free_list_2m(struct list_head *pages)
{
	struct page *page;

	while ((page = balloon_page_pop(pages)))
		__free_pages(page, VPV_MEMOP_ORDER_2M);
}

/*
 * Inflate by up to @n 2 MiB extents.  *@nomem: a 2 MiB allocation
 * failed (not an error: the caller falls back to 4 KiB pages).
 * *@failed: the host refused a batch.  Return: extents added.
 */
static unsigned long vb_inflate_2m(struct vballoon *b, unsigned long n,
				   bool *nomem, bool *failed)
{
	unsigned int batch = vb_batch_extents(READ_ONCE(vb_batch_param));
	unsigned long done = 0;

	while (done < n && !*nomem) {
		unsigned int cnt = vb_batch_count(n - done, batch);
		unsigned int got;
		struct page *page;
		LIST_HEAD(pages);
		long ret;

		for (got = 0; got < cnt; got++) {
			page = alloc_pages(VB_GFP_2M, VPV_MEMOP_ORDER_2M);
			if (!page) {
				*nomem = true;
				break;
			}
			b->pfns[got] = page_to_pfn(page);
			balloon_page_push(&pages, page);
		}
		if (!got)
			break;
		ret = vb_memop(VPV_MEMOP_DECREASE, b->pfns, got,
			       VPV_MEMOP_ORDER_2M);
		if (ret) {
			pr_warn_ratelimited("DECREASE of %u 2M extents failed: %ld\n",
					    got, ret);
			vb_stat_inc(b, hypercall_failures);
			vb_free_list_2m(&pages);
			*failed = true;
			break;
		}
		list_splice(&pages, &b->pages_2m);
		WRITE_ONCE(b->n2m, b->n2m + got);
		vb_stat_add(b, inflated_pages_total, got * VB_PAGES_PER_2M);
		done += got;
		cond_resched();
	}
	return done;
}

/* The pacing of one inflation run (vballoon_logic.h, struct vb_pace). */
struct vb_run {
	unsigned long budget;	/* allocations allowed to reclaim */
	unsigned long used;	/* of which made */
	bool free_failed;	/* free memory ran out */
	bool reclaim_failed;	/* an allocation that could reclaim failed */
	bool limited;		/* stopped at the budget */
};

/*
 * One 4 KiB balloon page: from free memory if there is some, else,
 * within the run's budget, from an allocation that may reclaim.  NULL
 * when neither gives one (@r says why).
 */
static struct page *vb_alloc_4k(struct vballoon *b, struct vb_run *r)
{
	struct page *page = alloc_page(VB_GFP_FREE);

	if (page)
		return page;
	r->free_failed = true;
	if (r->used >= r->budget) {
		r->limited = true;
		return NULL;
	}
	r->used++;
	/*
	 * Movable, __GFP_NORETRY: one direct-reclaim pass (with swap, the
	 * guest pages out here), never the OOM killer, whose notifier
	 * would wait for vb->lock, held by this run.
	 */
	page = balloon_page_alloc();
	if (page)
		vb_stat_inc(b, reclaim_allocs);
	else
		r->reclaim_failed = true;
	return page;
}

/*
 * Inflate by up to @n 4 KiB pages, paced by @r.  *@failed: the host
 * refused a batch.  Return: pages added.
 */
static unsigned long vb_inflate_4k(struct vballoon *b, unsigned long n,
				   struct vb_run *r, bool *failed)
{
	unsigned int batch = vb_batch_extents(READ_ONCE(vb_batch_param));
	unsigned long done = 0;

	while (done < n) {
		unsigned int cnt = vb_batch_count(n - done, batch);
		unsigned int got;
		bool nomem = false;
		struct page *page;
		LIST_HEAD(pages);
		long ret;

		for (got = 0; got < cnt; got++) {
			page = vb_alloc_4k(b, r);
			if (!page) {
				nomem = true;
				break;
			}
			b->pfns[got] = page_to_pfn(page);
			balloon_page_push(&pages, page);
		}
		if (got) {
			ret = vb_memop(VPV_MEMOP_DECREASE, b->pfns, got,
				       VPV_MEMOP_ORDER_4K);
			if (ret) {
				pr_warn_ratelimited("DECREASE of %u pages failed: %ld\n",
						    got, ret);
				vb_stat_inc(b, hypercall_failures);
				while ((page = balloon_page_pop(&pages)))
					put_page(page);
				*failed = true;
				break;
			}
			/* movable from here on: under vb->lock, so a
			 * migration waits until the host has the pages
			 */
			balloon_page_list_enqueue(&b->bdi, &pages);
			WRITE_ONCE(b->n4k, b->n4k + got);
			vb_stat_add(b, inflated_pages_total, got);
			done += got;
		}
		if (nomem) {
			if (r->reclaim_failed)
				vb_stat_inc(b, alloc_failures);
			else
				vb_stat_inc(b, reclaim_limited);
			break;
		}
		cond_resched();
	}
	return done;
}

static unsigned long vb_inflate(struct vballoon *b, unsigned long pages,
				struct vb_run *r, bool *failed)
{
	unsigned long done = 0, got;
	struct vb_plan p;
	bool nomem = false;

	vb_plan_inflate(pages, b->use_2m, &p);
	if (p.n2m) {
		got = vb_inflate_2m(b, p.n2m, &nomem, failed);
		done += got * VB_PAGES_PER_2M;
		if (*failed)
			return done;
		/* fragmented: what 2 MiB could not get comes in 4 KiB */
		p.n4k += (p.n2m - got) * VB_PAGES_PER_2M;
	}
	if (p.n4k)
		done += vb_inflate_4k(b, p.n4k, r, failed);
	return done;
}

/* ---- deflation ---- */

/*
 * Put dequeued 4 KiB pages back into the balloon after the host refused
 * to take them back.  lock_page() rather than the enqueue helpers'
 * trylock: a compaction scanner may hold the lock of a page it saw
 * movable just before we dequeued it (it lets go at once).
 */
static void vb_requeue_4k(struct vballoon *b, struct list_head *pages)
{
	unsigned long flags;
	struct page *page;

	while ((page = balloon_page_pop(pages))) {
		lock_page(page);
		spin_lock_irqsave(&b->bdi.pages_lock, flags);
		balloon_page_insert(&b->bdi, page);
		spin_unlock_irqrestore(&b->bdi.pages_lock, flags);
		unlock_page(page);
		count_vm_event(BALLOON_INFLATE);
	}
}

/*
 * Deflate by up to @n 4 KiB pages.  With @force (unload) pages whose
 * INCREASE failed are freed all the same: the module must not keep
 * them.  Return: pages released; fewer than @n when the rest is
 * isolated for migration or the host refused.
 */
static unsigned long vb_deflate_4k(struct vballoon *b, unsigned long n,
				   bool force, bool *failed)
{
	unsigned int batch = vb_batch_extents(READ_ONCE(vb_batch_param));
	unsigned long done = 0;

	while (done < n) {
		unsigned int cnt = vb_batch_count(n - done, batch);
		unsigned int got, i = 0;
		struct page *page;
		LIST_HEAD(pages);
		long ret;

		got = balloon_page_list_dequeue(&b->bdi, &pages, cnt);
		if (!got)
			break;
		list_for_each_entry(page, &pages, lru)
			b->pfns[i++] = page_to_pfn(page);
		ret = vb_increase(b, got, VPV_MEMOP_ORDER_4K);
		if (ret) {
			vb_stat_inc(b, hypercall_failures);
			if (!force) {
				pr_warn_ratelimited("INCREASE of %u pages failed: %ld\n",
						    got, ret);
				vb_requeue_4k(b, &pages);
				*failed = true;
				break;
			}
			pr_warn_ratelimited("INCREASE of %u pages failed: %ld, freeing them anyway\n",
					    got, ret);
		}
		while ((page = balloon_page_pop(&pages)))
			put_page(page);
		WRITE_ONCE(b->n4k, b->n4k - got);
		vb_stat_add(b, deflated_pages_total, got);
		done += got;
		cond_resched();
	}
	return done;
}

/* Deflate by up to @n 2 MiB extents.  Return: extents released. */
static unsigned long vb_deflate_2m(struct vballoon *b, unsigned long n,
				   bool force, bool *failed)
{
	unsigned int batch = vb_batch_extents(READ_ONCE(vb_batch_param));
	unsigned long done = 0;

	while (done < n && !list_empty(&b->pages_2m)) {
		unsigned int cnt = vb_batch_count(n - done, batch);
		unsigned int got = 0, i;
		struct page *page, *tmp;
		LIST_HEAD(pages);
		long ret;

		list_for_each_entry(page, &b->pages_2m, lru) {
			if (got == cnt)
				break;
			b->pfns[got++] = page_to_pfn(page);
		}
		ret = vb_increase(b, got, VPV_MEMOP_ORDER_2M);
		if (ret) {
			vb_stat_inc(b, hypercall_failures);
			if (!force) {
				/* the extents never left the list */
				pr_warn_ratelimited("INCREASE of %u 2M extents failed: %ld\n",
						    got, ret);
				*failed = true;
				break;
			}
			pr_warn_ratelimited("INCREASE of %u 2M extents failed: %ld, freeing them anyway\n",
					    got, ret);
		}
		i = got;
		list_for_each_entry_safe(page, tmp, &b->pages_2m, lru) {
			if (!i--)
				break;
			list_move(&page->lru, &pages);
		}
		vb_free_list_2m(&pages);
		WRITE_ONCE(b->n2m, b->n2m - got);
		vb_stat_add(b, deflated_pages_total, got * VB_PAGES_PER_2M);
		done += got;
		cond_resched();
	}
	return done;
}

static unsigned long vb_deflate(struct vballoon *b, unsigned long pages,
				bool prefer_2m, bool force, bool *failed)
{
	unsigned long done = 0;
	struct vb_plan p;

	vb_plan_deflate(pages, b->n4k, b->n2m, prefer_2m, &p);
	if (p.n4k)
		done += vb_deflate_4k(b, p.n4k, force, failed);
	if (p.n2m && !*failed)
		done += vb_deflate_2m(b, p.n2m, force, failed) *
			VB_PAGES_PER_2M;
	return done;
}

/* ---- the work ---- */

/* Milliseconds of the monotonic clock, for the OOM backoff. */
static u64 vb_now_ms(void)
{
	return ktime_to_ms(ktime_get());
}

static bool vb_may_inflate(struct vballoon *b)
{
	if (!vb_oom_backoff_may_inflate(&b->oom, vb_now_ms(),
					READ_ONCE(vb_oom_quiet_param)))
		return false;
	return !b->fail_streak || !time_before(jiffies, b->inflate_after);
}

static void vb_work_fn(struct work_struct *work)
{
	struct vballoon *b = container_of(to_delayed_work(work),
					  struct vballoon, work);
	unsigned int period = vb_period_ms(READ_ONCE(vb_period_param));
	unsigned long reclaim = READ_ONCE(vb_reclaim_param);
	unsigned long cur, cap = 0, moved = 0, delay = period;
	struct vb_run r = {};
	bool failed = false;
	long ret;

	mutex_lock(&b->lock);
	ret = vb_poll(b);
	if (ret < 0) {
		pr_warn_ratelimited("POLL failed: %ld\n", ret);
		goto out;
	}
	WRITE_ONCE(b->target, vb_target_clamp(ret, b->totalram));
	cur = vb_pages(b);
	if (b->target > cur) {
		if (!vb_may_inflate(b))
			goto pace;
		cap = vb_pace_cap(&b->pace,
				  vb_run_cap(b->target - cur,
					     READ_ONCE(vb_rate_param)),
				  reclaim);
		r.budget = vb_pace_budget(&b->pace, reclaim);
		moved = vb_inflate(b, cap, &r, &failed);
		/*
		 * A refused DECREASE, or a run that got no page at all:
		 * back off (1, 2, 4 ... periods).  A run that got pages
		 * before an allocation failed made progress: it only
		 * waits for the next poll (below), as reclaim frees more.
		 */
		if (failed || (r.reclaim_failed && !moved)) {
			b->fail_streak++;
			b->inflate_after = jiffies +
				msecs_to_jiffies(vb_backoff_ms(b->fail_streak,
							       period));
		} else {
			b->fail_streak = 0;
		}
		if (r.reclaim_failed)
			failed = true;
	} else if (b->target < cur) {
		cap = vb_run_cap(cur - b->target, READ_ONCE(vb_rate_param));
		moved = vb_deflate(b, cap, true, false, &failed);
	}
pace:
	vb_pace_update(&b->pace, r.free_failed, r.used, r.reclaim_failed,
		       reclaim);
	if (b->pace.slow)
		vb_stat_inc(b, slow_polls);
	/*
	 * Slow: one reclaim budget a period, never the 10 ms rerun.  No
	 * cap: the OOM hold or a backoff kept this poll from inflating.
	 */
	cur = vb_pages(b);
	if (cap && !b->pace.slow &&
	    vb_reschedule_fast(cur > b->target ? cur - b->target :
			       b->target - cur, moved, cap, failed))
		delay = VB_FAST_MS;
out:
	mutex_unlock(&b->lock);
	if (!READ_ONCE(b->stopping))
		queue_delayed_work(system_freezable_wq, &b->work,
				   msecs_to_jiffies(delay));
}

/* ---- OOM ---- */

/*
 * Deflate @pages for an out-of-memory guest, 4 KiB pages first, and
 * hold off inflation whatever the host's target says (polls go on, so
 * the host sees the smaller balloon): oom_hold_ms, doubled each time
 * the guest runs out of memory again soon after a hold
 * (vb_oom_backoff_hit).  Return: pages given back to the guest.
 */
static unsigned long vb_oom_deflate(struct vballoon *b, unsigned long pages)
{
	unsigned long n;
	bool failed = false;

	mutex_lock(&b->lock);
	n = vb_deflate(b, pages, false, false, &failed);
	vb_oom_backoff_hit(&b->oom, vb_now_ms(), READ_ONCE(vb_oom_hold_param),
			   READ_ONCE(vb_oom_quiet_param));
	mutex_unlock(&b->lock);
	vb_stat_inc(b, oom_deflates);
	vb_stat_add(b, oom_deflated_pages, n);
	return n;
}

/*
 * out_of_memory() calls the chain with blocking_notifier_call_chain():
 * process context of the allocating task, may sleep, so taking vb->lock
 * and issuing hypercalls is fine.  The balloon's own allocations are
 * __GFP_NORETRY and never get here, so vb->lock is not held by an
 * allocation waiting for this notifier.
 */
static int vb_oom_notify(struct notifier_block *nb, unsigned long unused,
			 void *parm)
{
	struct vballoon *b = container_of(nb, struct vballoon, oom_nb);
	unsigned long *freed = parm;

	*freed += vb_oom_deflate(b, READ_ONCE(vb_oom_pages_param));
	return NOTIFY_OK;
}

/* ---- migration of 4 KiB balloon pages ---- */

#ifdef CONFIG_BALLOON_COMPACTION
/*
 * Called by the compaction core with both pages locked and @page
 * isolated.  The host gets @newpage (DECREASE) before it gives @page
 * back (INCREASE): the populated count dips by one and returns, so the
 * host's budget never refuses the second step.
 */
static int vb_migratepage(struct balloon_dev_info *bdi, struct page *newpage,
			  struct page *page, enum migrate_mode mode)
{
	struct vballoon *b = container_of(bdi, struct vballoon, bdi);
	unsigned long flags;
	long ret;

	/* inflation may itself be compacting: give up this page for now */
	if (!mutex_trylock(&b->lock))
		return -EAGAIN;

	b->pfns[0] = page_to_pfn(newpage);
	ret = vb_memop(VPV_MEMOP_DECREASE, b->pfns, 1, VPV_MEMOP_ORDER_4K);
	if (ret)
		goto fail;
	b->pfns[0] = page_to_pfn(page);
	ret = vb_increase(b, 1, VPV_MEMOP_ORDER_4K);
	if (ret) {
		long undo;

		/* take @newpage back so the core can free it */
		b->pfns[0] = page_to_pfn(newpage);
		undo = vb_increase(b, 1, VPV_MEMOP_ORDER_4K);
		if (undo) {
			vb_stat_inc(b, hypercall_failures);
			pr_warn_ratelimited("migration: INCREASE of pfn %#lx failed twice (%ld, %ld)\n",
					    page_to_pfn(newpage), ret, undo);
		}
		goto fail;
	}

	get_page(newpage);	/* the balloon's reference */
	spin_lock_irqsave(&bdi->pages_lock, flags);
	balloon_page_insert(bdi, newpage);
	bdi->isolated_pages--;
	__count_vm_event(BALLOON_MIGRATE);
	spin_unlock_irqrestore(&bdi->pages_lock, flags);

	balloon_page_finalize(page);
	put_page(page);		/* the balloon's reference */
	vb_stat_inc(b, migrations);
	mutex_unlock(&b->lock);
	return MIGRATEPAGE_SUCCESS;

fail:
	vb_stat_inc(b, hypercall_failures);
	vb_stat_inc(b, migration_failures);
	mutex_unlock(&b->lock);
	return -EAGAIN;
}
#endif

/* ---- free page reporting ---- */

#ifdef CONFIG_PAGE_REPORTING
/* Runs in the page reporting work: process context, one at a time. */
static int vb_report(struct page_reporting_dev_info *pr,
		     struct scatterlist *sgl, unsigned int nents)
{
	struct vballoon *b = container_of(pr, struct vballoon, pr);
	struct scatterlist *sg;
	u64 bytes = 0;
	unsigned int i;
	long ret;

	if (!nents)
		return 0;
	if (WARN_ON_ONCE(nents > PAGE_REPORTING_CAPACITY))
		return -EINVAL;
	for_each_sg(sgl, sg, nents, i) {
		b->ranges[i].gpa = sg_phys(sg);
		b->ranges[i].len = sg->length;
		bytes += sg->length;
	}
	ret = vb_memop(VPV_MEMOP_REPORT_FREE, b->ranges, nents, 0);
	if (ret) {
		vb_stat_inc(b, hypercall_failures);
		vb_stat_inc(b, report_failures);
		pr_warn_ratelimited("REPORT_FREE of %u ranges failed: %ld\n",
				    nents, ret);
		return ret;
	}
	vb_stat_add(b, reported_ranges, nents);
	vb_stat_add(b, reported_bytes, bytes);
	return 0;
}

static void vb_reporting_init(struct vballoon *b)
{
	int err;

	b->pr.report = vb_report;
	b->pr.order = 0;	/* pageblock_order: 2 MiB on x86-64 */
	err = page_reporting_register(&b->pr);
	if (err == -EBUSY) {
		pr_info("free page reporting is taken by another driver (virtio_balloon?), not reporting\n");
		return;
	}
	if (err) {
		pr_warn("page_reporting_register: %d, not reporting\n", err);
		return;
	}
	b->pr_registered = true;
}

static void vb_reporting_exit(struct vballoon *b)
{
	if (b->pr_registered)
		page_reporting_unregister(&b->pr);
	b->pr_registered = false;
}
#else
static void vb_reporting_init(struct vballoon *b)
{
	pr_info("kernel without CONFIG_PAGE_REPORTING, not reporting\n");
}

static void vb_reporting_exit(struct vballoon *b)
{
}
#endif

/* ---- debugfs ---- */

#define VB_STAT(name) { #name, offsetof(struct vb_stats, name) }

static const struct {
	const char *name;
	size_t off;
} vb_stat_list[] = {
	VB_STAT(inflated_pages_total),
	VB_STAT(deflated_pages_total),
	VB_STAT(alloc_failures),
	VB_STAT(hypercall_failures),
	VB_STAT(polls),
	VB_STAT(oom_deflates),
	VB_STAT(oom_deflated_pages),
	VB_STAT(reported_ranges),
	VB_STAT(reported_bytes),
	VB_STAT(report_failures),
	VB_STAT(migrations),
	VB_STAT(migration_failures),
	VB_STAT(reclaim_allocs),
	VB_STAT(reclaim_limited),
	VB_STAT(slow_polls),
};

static int vb_stats_show(struct seq_file *m, void *v)
{
	struct vballoon *b = m->private;
	unsigned int i;

	seq_printf(m, "target_pages %lu\n", READ_ONCE(b->target));
	seq_printf(m, "balloon_pages %lu\n", vb_pages(b));
	seq_printf(m, "pages_4k %lu\n", READ_ONCE(b->n4k));
	seq_printf(m, "pages_2m %lu\n", READ_ONCE(b->n2m));
	for (i = 0; i < ARRAY_SIZE(vb_stat_list); i++)
		seq_printf(m, "%s %lld\n", vb_stat_list[i].name,
			   atomic64_read((atomic64_t *)((char *)&b->st +
							vb_stat_list[i].off)));
	mutex_lock(&b->lock);
	seq_printf(m, "oom_holds %llu\n", b->oom.holds);
	seq_printf(m, "oom_hold_level %u\n", b->oom.level);
	seq_printf(m, "oom_hold_ms %llu\n",
		   vb_oom_hold_ms(b->oom.level, READ_ONCE(vb_oom_hold_param)));
	seq_printf(m, "reclaim_budget %lu\n",
		   vb_pace_budget(&b->pace, READ_ONCE(vb_reclaim_param)));
	seq_printf(m, "slow %u\n", b->pace.slow);
	mutex_unlock(&b->lock);
	seq_printf(m, "use_2m %d\n", b->use_2m);
	seq_printf(m, "page_reporting %d\n", b->pr_registered);
	seq_printf(m, "deflate_on_oom %d\n", b->oom_registered);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vb_stats);

/* kick: any write runs the work now (a poll without waiting a period) */
static int vb_kick_set(void *data, u64 val)
{
	struct vballoon *b = data;

	if (!READ_ONCE(b->stopping))
		mod_delayed_work(system_freezable_wq, &b->work, 0);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(vb_kick_fops, NULL, vb_kick_set, "%llu\n");

/* oom: writing N deflates N pages exactly as the OOM notifier does */
static int vb_oom_set(void *data, u64 val)
{
	vb_oom_deflate(data, min_t(u64, val, ULONG_MAX));
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(vb_oom_fops, NULL, vb_oom_set, "%llu\n");

static void vb_debugfs_init(struct vballoon *b)
{
	b->dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stats", 0444, b->dir, b, &vb_stats_fops);
	debugfs_create_file_unsafe("kick", 0200, b->dir, b, &vb_kick_fops);
	debugfs_create_file_unsafe("oom", 0200, b->dir, b, &vb_oom_fops);
}

/* ---- sysfs ---- */

/*
 * /sys/devices/system/vballoon/vballoon0, laid out as Xen's balloon
 * (/sys/devices/system/xen_memory/xen_memory0): target_kb and target
 * (bytes) at the top, the balloon's size under info/, the counters
 * under stats/.  All read-only (the host sets the target) and all
 * lockless: READ_ONCE of words the work updates with WRITE_ONCE, or
 * atomic64 counters, so a reader never waits for an inflation that
 * holds vb->lock across hypercalls.  The values are each exact but not
 * a snapshot of one instant, as in debugfs' stats.
 */

static struct bus_type vb_subsys = {
	.name = KBUILD_MODNAME,
	.dev_name = KBUILD_MODNAME,
};

static struct vballoon *vb_of(struct device *dev)
{
	return dev_get_drvdata(dev);
}

static ssize_t target_kb_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  READ_ONCE(vb_of(dev)->target) << (PAGE_SHIFT - 10));
}
static DEVICE_ATTR_RO(target_kb);

static ssize_t target_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%llu\n",
			  (u64)READ_ONCE(vb_of(dev)->target) << PAGE_SHIFT);
}
static DEVICE_ATTR_RO(target);

static struct attribute *vb_top_attrs[] = {
	&dev_attr_target_kb.attr,
	&dev_attr_target.attr,
	NULL
};

static const struct attribute_group vb_top_group = {
	.attrs = vb_top_attrs,
};

static ssize_t current_kb_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n",
			  vb_pages(vb_of(dev)) << (PAGE_SHIFT - 10));
}
static DEVICE_ATTR_RO(current_kb);

static ssize_t pages_4k_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(vb_of(dev)->n4k));
}
static DEVICE_ATTR_RO(pages_4k);

static ssize_t pages_2m_show(struct device *dev,
			     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lu\n", READ_ONCE(vb_of(dev)->n2m));
}
static DEVICE_ATTR_RO(pages_2m);

static struct attribute *vb_info_attrs[] = {
	&dev_attr_current_kb.attr,
	&dev_attr_pages_4k.attr,
	&dev_attr_pages_2m.attr,
	NULL
};

static const struct attribute_group vb_info_group = {
	.name = "info",
	.attrs = vb_info_attrs,
};

/*
 * One read-only file per vb_stats counter, made from vb_stat_list (the
 * debugfs list) at load time so that both always name the same
 * counters: var points at the atomic64_t.
 */
static struct dev_ext_attribute vb_stat_attrs[ARRAY_SIZE(vb_stat_list)];
static struct attribute *vb_stats_attrs[ARRAY_SIZE(vb_stat_list) + 1];

static ssize_t vb_stat_show(struct device *dev, struct device_attribute *attr,
			    char *buf)
{
	struct dev_ext_attribute *ea = container_of(attr,
						    struct dev_ext_attribute,
						    attr);

	return sysfs_emit(buf, "%lld\n", atomic64_read(ea->var));
}

static void vb_stat_attrs_init(struct vballoon *b)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vb_stat_list); i++) {
		struct dev_ext_attribute *ea = &vb_stat_attrs[i];

		sysfs_attr_init(&ea->attr.attr);
		ea->attr.attr.name = vb_stat_list[i].name;
		ea->attr.attr.mode = 0444;
		ea->attr.show = vb_stat_show;
		ea->var = (char *)&b->st + vb_stat_list[i].off;
		vb_stats_attrs[i] = &ea->attr.attr;
	}
	vb_stats_attrs[i] = NULL;
}

static const struct attribute_group vb_stats_group = {
	.name = "stats",
	.attrs = vb_stats_attrs,
};

static const struct attribute_group *vb_groups[] = {
	&vb_top_group,
	&vb_info_group,
	&vb_stats_group,
	NULL
};

static void vb_sysdev_release(struct device *dev)
{
	kfree(dev);
}

/*
 * Not fatal: the balloon works without its sysfs files (debugfs has the
 * same numbers), so a failure is logged and the module loads anyway.
 */
static void vb_sysfs_init(struct vballoon *b)
{
	struct device *dev;
	int err;

	vb_stat_attrs_init(b);
	err = subsys_system_register(&vb_subsys, NULL);
	if (err) {
		pr_warn("subsys_system_register: %d, no sysfs files\n", err);
		return;
	}
	b->subsys_registered = true;
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev) {
		pr_warn("no memory for the sysfs device, no sysfs files\n");
		return;
	}
	dev->id = 0;
	dev->bus = &vb_subsys;
	dev->groups = vb_groups;
	dev->release = vb_sysdev_release;
	dev_set_drvdata(dev, b);
	err = device_register(dev);
	if (err) {
		pr_warn("device_register: %d, no sysfs files\n", err);
		put_device(dev);	/* frees it through the release */
		return;
	}
	b->sysdev = dev;
}

/* Removes the files; kernfs waits for readers still in a show(). */
static void vb_sysfs_exit(struct vballoon *b)
{
	if (b->sysdev)
		device_unregister(b->sysdev);
	b->sysdev = NULL;
	if (b->subsys_registered)
		bus_unregister(&vb_subsys);
	b->subsys_registered = false;
}

/* ---- module ---- */

/* Give every page back; waits for pages isolated by a migration. */
static void vb_deflate_all(struct vballoon *b)
{
	unsigned long left, moved, waits = 0;
	bool failed;

	for (;;) {
		failed = false;
		mutex_lock(&b->lock);
		left = vb_pages(b);
		moved = left ? vb_deflate(b, left, true, true, &failed) : 0;
		mutex_unlock(&b->lock);
		if (!left)
			break;
		if (moved)
			continue;
		/* the rest is isolated: the migration puts it back soon */
		if (++waits % 500 == 0)
			pr_warn("still waiting for %lu isolated balloon pages\n",
				left);
		msleep(20);
	}
}

static void vb_free_buffers(struct vballoon *b)
{
	kfree(b->ranges);
	kfree(b->events);
	kfree(b->stats);
	kfree(b->pfns);
}

static int __init vb_init(void)
{
	struct vballoon *b = &vb_dev;
	u64 features = vpv_features();
	long ret;
	int err;

	if (!(features & VPV_F_BALLOON)) {
		pr_err("host does not offer VPV_F_BALLOON (negotiated features %#llx; vhypercall bound?)\n",
		       features);
		return -ENODEV;
	}

	mutex_init(&b->lock);
	balloon_devinfo_init(&b->bdi);
#ifdef CONFIG_BALLOON_COMPACTION
	b->bdi.migratepage = vb_migratepage;
#endif
	INIT_LIST_HEAD(&b->pages_2m);
	INIT_DELAYED_WORK(&b->work, vb_work_fn);
	b->use_2m = vb_use_2m_param && (features & VPV_F_BALLOON_2M);
	vb_pace_init(&b->pace, READ_ONCE(vb_reclaim_param));

	/* kmalloc: physically contiguous, the host reads them by GPA */
	b->pfns = kmalloc_array(VPV_MEMOP_MAX_EXTENTS, sizeof(*b->pfns),
				GFP_KERNEL);
	b->stats = kzalloc(sizeof(*b->stats), GFP_KERNEL);
	b->events = kcalloc(NR_VM_EVENT_ITEMS, sizeof(*b->events),
			    GFP_KERNEL);
	b->ranges = kmalloc_array(PAGE_REPORTING_CAPACITY,
				  sizeof(*b->ranges), GFP_KERNEL);
	if (!b->pfns || !b->stats || !b->events || !b->ranges) {
		err = -ENOMEM;
		goto err_free;
	}

	/* the first poll tells whether the host implements the balloon */
	mutex_lock(&b->lock);
	ret = vb_poll(b);
	mutex_unlock(&b->lock);
	if (ret == -VPV_ENOSYS || ret == -VPV_EOPNOTSUPP) {
		pr_err("host does not implement VPV_HC_MEMORY_OP (%ld)\n", ret);
		err = -ENODEV;
		goto err_free;
	}
	if (ret < 0) {
		pr_err("first POLL failed: %ld\n", ret);
		err = ret < -MAX_ERRNO ? -EIO : (int)ret;
		goto err_free;
	}

	vb_debugfs_init(b);
	vb_sysfs_init(b);
	if (vb_deflate_on_oom_param) {
		b->oom_nb.notifier_call = vb_oom_notify;
		b->oom_nb.priority = VB_OOM_PRIORITY;
		err = register_oom_notifier(&b->oom_nb);
		if (err) {
			pr_err("register_oom_notifier: %d\n", err);
			goto err_debugfs;
		}
		b->oom_registered = true;
	}
	if (vb_reporting_param && (features & VPV_F_PAGE_REPORTING))
		vb_reporting_init(b);

	queue_delayed_work(system_freezable_wq, &b->work, 0);
	pr_info("balloon up: target %ld pages, 2M extents %s, page reporting %s, deflate on OOM %s\n",
		ret, b->use_2m ? "on" : "off",
		b->pr_registered ? "on" : "off",
		b->oom_registered ? "on" : "off");
	return 0;

err_debugfs:
	vb_sysfs_exit(b);
	debugfs_remove_recursive(b->dir);
err_free:
	vb_free_buffers(b);
	mutex_destroy(&b->lock);
	return err;
}

static void __exit vb_exit(void)
{
	struct vballoon *b = &vb_dev;

	vb_sysfs_exit(b);
	debugfs_remove_recursive(b->dir);
	vb_reporting_exit(b);
	if (b->oom_registered)
		unregister_oom_notifier(&b->oom_nb);
	WRITE_ONCE(b->stopping, true);
	cancel_delayed_work_sync(&b->work);
	vb_deflate_all(b);
	pr_info("balloon down: %lld pages inflated and %lld deflated in all\n",
		atomic64_read(&b->st.inflated_pages_total),
		atomic64_read(&b->st.deflated_pages_total));
	vb_free_buffers(b);
	mutex_destroy(&b->lock);
}

module_init(vb_init);
module_exit(vb_exit);

MODULE_DESCRIPTION("pvkit memory balloon and free page reporting");
MODULE_LICENSE("GPL");
