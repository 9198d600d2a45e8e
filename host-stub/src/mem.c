// SPDX-License-Identifier: GPL-2.0
/*
 * Host memory manager: P2M/M2P tables, the machine-frame pool, the host
 * memory budget and VPV_HC_MEMORY_OP (balloon, free page reporting).
 *
 * Machine frames are bookkeeping: frame N stands for 4 KiB of host
 * memory that backs one guest page.  The pool holds as many frames as
 * all registered guests have RAM pages, so every guest starts fully
 * populated even when the host is overcommitted; the budget (host_mem)
 * caps how many frames may be populated at once, which only INCREASE
 * has to respect.  DECREASE and REPORT_FREE really return memory: they
 * punch the pages out of the guest's RAM file.
 *
 * Each guest has a P2M table indexed by page index (RAM file offset
 * >> 12; gpa.c maps PFNs to it) and a pin count per page that other
 * subsystems (PV MMU, grants) use to keep pages in place.  The global
 * M2P table maps each frame back to {owner, page index}.
 *
 * One mutex protects all of it: the hypercall threads of every guest
 * and the main thread (control socket, policy timer) take it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "vpv_host.h"

#define PAGE_SHIFT	12
#define GPA_4G_PFN	(0x100000000ull >> PAGE_SHIFT)
#define MEM_MAX_OWNERS	256u
#define MEM_MAX_FRAMES	(UINT32_MAX - 1ull)	/* MFNs fit in u32 */

struct m2p_entry {
	uint32_t owner;		/* 0: free */
	uint32_t idx;		/* page index in the owner's RAM file */
};

static pthread_mutex_t mem_lock = PTHREAD_MUTEX_INITIALIZER;
static struct m2p_entry *m2p;		/* [frames] */
static uint32_t *free_frames;		/* stack of free MFNs */
static uint64_t frames;			/* MFNs 0 .. frames-1 exist */
static uint64_t nr_free;
static uint64_t pool_pages;		/* sum of registered RAM pages */
static uint64_t populated_pages;
static uint64_t budget_pages;		/* valid if budget_set */
static bool budget_set;
static struct guest *owners[MEM_MAX_OWNERS + 1];

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t budget_locked(void)
{
	return budget_set ? budget_pages : pool_pages;
}

static uint64_t idx_to_pfn(const struct guest *g, uint64_t idx)
{
	uint64_t low = g->lowmem >> PAGE_SHIFT;

	return idx < low ? idx : GPA_4G_PFN + (idx - low);
}

/*
 * PFN extent [pfn, pfn + n) -> page index of its first page.  The
 * extent must be RAM and must not straddle the PCI hole.
 */
static int pfn_to_idx(const struct guest *g, uint64_t pfn, uint64_t n,
		      uint64_t *idx)
{
	uint64_t off;

	if (!n || pfn > (UINT64_MAX >> PAGE_SHIFT) - n)
		return -VPV_EINVAL;
	if (gpa_to_offset(g->ram_size, g->lowmem, pfn << PAGE_SHIFT,
			  n << PAGE_SHIFT, &off))
		return -VPV_EINVAL;
	*idx = off >> PAGE_SHIFT;
	return 0;
}

/* ---- registration ---- */

static int grow_frames(uint64_t want)
{
	struct m2p_entry *m;
	uint32_t *f;

	if (want <= frames)
		return 0;
	if (want > MEM_MAX_FRAMES)
		return -E2BIG;
	m = realloc(m2p, want * sizeof(*m));
	if (!m)
		return -ENOMEM;
	m2p = m;
	f = realloc(free_frames, want * sizeof(*f));
	if (!f)
		return -ENOMEM;
	free_frames = f;
	memset(&m2p[frames], 0, (want - frames) * sizeof(*m));
	while (frames < want)
		free_frames[nr_free++] = frames++;
	return 0;
}

/* Register a guest whose RAM file exists: all of its pages populated. */
int mem_guest_add(struct guest *g)
{
	struct guest_mem *m = &g->mem;
	uint64_t n = g->ram_size >> PAGE_SHIFT, i;
	uint32_t id;
	int ret;

	memset(m, 0, sizeof(*m));
	m->shares = MEM_SHARES_DEFAULT;
	m->nr_pages = n;
	m->p2m = malloc(n * sizeof(*m->p2m));
	m->pins = calloc(n, sizeof(*m->pins));
	if (!m->p2m || !m->pins) {
		ret = -ENOMEM;
		goto err;
	}

	pthread_mutex_lock(&mem_lock);
	for (id = 1; id <= MEM_MAX_OWNERS && owners[id]; id++)
		;
	if (id > MEM_MAX_OWNERS) {
		ret = -ENOSPC;
		goto err_unlock;
	}
	if (nr_free < n) {
		ret = grow_frames(frames + (n - nr_free));
		if (ret)
			goto err_unlock;
	}
	for (i = 0; i < n; i++) {
		uint32_t mfn = free_frames[--nr_free];

		m2p[mfn].owner = id;
		m2p[mfn].idx = i;
		m->p2m[i] = mfn;
	}
	owners[id] = g;
	m->owner = id;
	m->populated = n;
	pool_pages += n;
	populated_pages += n;
	pthread_mutex_unlock(&mem_lock);
	return 0;

err_unlock:
	pthread_mutex_unlock(&mem_lock);
err:
	free(m->p2m);
	free(m->pins);
	memset(m, 0, sizeof(*m));
	return ret;
}

/* Unregister a guest (no-op if not registered); its frames go back. */
void mem_guest_remove(struct guest *g)
{
	struct guest_mem *m = &g->mem;
	uint64_t i;

	if (!m->owner)
		return;
	pthread_mutex_lock(&mem_lock);
	for (i = 0; i < m->nr_pages; i++) {
		uint32_t mfn = m->p2m[i];

		if (mfn == MEM_MFN_INVALID)
			continue;
		m2p[mfn].owner = 0;
		m2p[mfn].idx = 0;
		free_frames[nr_free++] = mfn;
	}
	owners[m->owner] = NULL;
	pool_pages -= m->nr_pages;
	populated_pages -= m->populated;
	pthread_mutex_unlock(&mem_lock);
	free(m->p2m);
	free(m->pins);
	memset(m, 0, sizeof(*m));
}

int mem_set_budget(uint64_t bytes)
{
	pthread_mutex_lock(&mem_lock);
	budget_set = bytes != 0;
	budget_pages = bytes >> PAGE_SHIFT;
	pthread_mutex_unlock(&mem_lock);
	mem_policy_update();
	return 0;
}

void mem_set_shares(struct guest *g, unsigned int shares)
{
	if (!shares)
		shares = MEM_SHARES_DEFAULT;
	if (shares > MEM_SHARES_MAX)
		shares = MEM_SHARES_MAX;
	pthread_mutex_lock(&mem_lock);
	g->mem.shares = shares;
	pthread_mutex_unlock(&mem_lock);
	mem_policy_update();
}

/*
 * Manual target: the guest should have mem_bytes of memory, i.e. a
 * balloon of ram_pages - mem_bytes / 4 KiB (at least 0).  manual ==
 * false hands the guest back to the policy.
 */
int mem_set_manual(struct guest *g, bool manual, uint64_t mem_bytes)
{
	struct guest_mem *m = &g->mem;
	uint64_t pages = mem_bytes >> PAGE_SHIFT;

	if (!m->owner)
		return -ENODEV;
	pthread_mutex_lock(&mem_lock);
	m->manual = manual;
	m->manual_pages = manual && pages < m->nr_pages ?
			  m->nr_pages - pages : 0;
	pthread_mutex_unlock(&mem_lock);
	mem_policy_update();
	return 0;
}

/* ---- pins (PV MMU, grants) ---- */

/*
 * For subsystems that check and pin several pages as one step (pvmmu.c):
 * they take mem_lock themselves and use the _locked helpers below, so a
 * page cannot be ballooned out between their check and their pin.  Lock
 * order: a subsystem's own per-guest lock first, mem_lock inside it.
 */
void mem_lock_acquire(void)
{
	pthread_mutex_lock(&mem_lock);
}

void mem_lock_release(void)
{
	pthread_mutex_unlock(&mem_lock);
}

/* PFN -> page index; -VPV_EINVAL if pfn is not a RAM page of g. */
int mem_pfn_to_idx(const struct guest *g, uint64_t pfn, uint64_t *idx)
{
	if (!g->mem.owner)
		return -VPV_EINVAL;
	return pfn_to_idx(g, pfn, 1, idx);
}

/* mem_lock held; idx < nr_pages. */
bool mem_populated_locked(struct guest *g, uint64_t idx)
{
	return g->mem.p2m[idx] != MEM_MFN_INVALID;
}

/* mem_lock held; idx < nr_pages.  Errors as mem_pin(). */
int mem_pin_locked(struct guest *g, uint64_t idx)
{
	struct guest_mem *m = &g->mem;

	if (m->p2m[idx] == MEM_MFN_INVALID)
		return -VPV_ENOENT;
	if (m->pins[idx] == MEM_PIN_MAX)
		return -VPV_ENOSPC;
	if (m->pins[idx]++ == 0)
		m->pinned++;
	return 0;
}

/* mem_lock held; idx < nr_pages.  -VPV_EINVAL: not pinned. */
int mem_unpin_locked(struct guest *g, uint64_t idx)
{
	struct guest_mem *m = &g->mem;

	if (!m->pins[idx])
		return -VPV_EINVAL;
	if (--m->pins[idx] == 0)
		m->pinned--;
	return 0;
}

/*
 * Pin the page at pfn so that DECREASE and REPORT_FREE refuse it.
 * -VPV_EINVAL: not a RAM page; -VPV_ENOENT: not populated;
 * -VPV_ENOSPC: pin count saturated.
 */
int mem_pin(struct guest *g, uint64_t pfn)
{
	uint64_t idx;
	int ret;

	if (mem_pfn_to_idx(g, pfn, &idx))
		return -VPV_EINVAL;
	pthread_mutex_lock(&mem_lock);
	ret = mem_pin_locked(g, idx);
	pthread_mutex_unlock(&mem_lock);
	return ret;
}

/* -VPV_EINVAL: not a RAM page or not pinned. */
int mem_unpin(struct guest *g, uint64_t pfn)
{
	uint64_t idx;
	int ret;

	if (mem_pfn_to_idx(g, pfn, &idx))
		return -VPV_EINVAL;
	pthread_mutex_lock(&mem_lock);
	ret = mem_unpin_locked(g, idx);
	pthread_mutex_unlock(&mem_lock);
	return ret;
}

/* ---- lookups ---- */

/* -VPV_EINVAL if pfn is not a RAM page of g. */
int mem_p2m_lookup(struct guest *g, uint64_t pfn, uint32_t *mfn,
		   unsigned int *pins)
{
	struct guest_mem *m = &g->mem;
	uint64_t idx;

	if (!m->owner || pfn_to_idx(g, pfn, 1, &idx))
		return -VPV_EINVAL;
	pthread_mutex_lock(&mem_lock);
	*mfn = m->p2m[idx];
	*pins = m->pins[idx];
	pthread_mutex_unlock(&mem_lock);
	return 0;
}

/* -VPV_ENOENT if the frame does not exist or is free. */
int mem_m2p_lookup(uint32_t mfn, struct guest **g, uint64_t *pfn)
{
	int ret = -VPV_ENOENT;

	pthread_mutex_lock(&mem_lock);
	if (mfn < frames && m2p[mfn].owner) {
		*g = owners[m2p[mfn].owner];
		*pfn = idx_to_pfn(*g, m2p[mfn].idx);
		ret = 0;
	}
	pthread_mutex_unlock(&mem_lock);
	return ret;
}

/*
 * Full consistency check of the pool, M2P and every P2M.  Returns 0 or
 * a negative number identifying the first broken invariant.
 */
int mem_check(void)
{
	uint64_t pool = 0, pop = 0, owned = 0, i;
	uint32_t id;
	int ret = 0;

	pthread_mutex_lock(&mem_lock);
	for (id = 1; id <= MEM_MAX_OWNERS; id++) {
		struct guest *g = owners[id];
		struct guest_mem *m;
		uint64_t gpop = 0, gpin = 0;

		if (!g)
			continue;
		m = &g->mem;
		if (m->owner != id) {
			ret = -1;
			goto out;
		}
		for (i = 0; i < m->nr_pages; i++) {
			uint32_t mfn = m->p2m[i];

			gpin += m->pins[i] != 0;
			if (mfn == MEM_MFN_INVALID)
				continue;
			if (mfn >= frames || m2p[mfn].owner != id ||
			    m2p[mfn].idx != i) {
				ret = -2;
				goto out;
			}
			gpop++;
		}
		if (gpop != m->populated || gpin != m->pinned) {
			ret = -3;
			goto out;
		}
		pool += m->nr_pages;
		pop += gpop;
	}
	for (i = 0; i < frames; i++)
		owned += m2p[i].owner != 0;
	for (i = 0; i < nr_free; i++) {
		if (free_frames[i] >= frames || m2p[free_frames[i]].owner) {
			ret = -4;
			goto out;
		}
	}
	if (pool != pool_pages || pop != populated_pages || owned != pop ||
	    owned + nr_free != frames)
		ret = -5;
out:
	pthread_mutex_unlock(&mem_lock);
	return ret;
}

void mem_host_info(struct mem_host_info *hi)
{
	pthread_mutex_lock(&mem_lock);
	hi->pool_pages = pool_pages;
	hi->populated_pages = populated_pages;
	hi->budget_pages = budget_locked();
	hi->budget_set = budget_set;
	hi->overcommitted = pool_pages > hi->budget_pages;
	pthread_mutex_unlock(&mem_lock);
	hi->idle_tax = policy_idle_tax();
}

void mem_guest_info(struct guest *g, struct mem_guest_info *gi)
{
	struct guest_mem *m = &g->mem;

	memset(gi, 0, sizeof(*gi));
	pthread_mutex_lock(&mem_lock);
	gi->ram_pages = m->nr_pages;
	gi->populated_pages = m->populated;
	gi->invalid_pages = m->nr_pages - m->populated;
	gi->pinned_pages = m->pinned;
	gi->target_pages = m->target_pages;
	gi->manual = m->manual;
	gi->shares = m->shares;
	gi->have_stats = m->have_stats;
	if (m->have_stats) {
		gi->stats = m->last;
		gi->stats_age_ms = mono_ms() - m->stats_ms;
	}
	pthread_mutex_unlock(&mem_lock);
}

/* ---- policy glue ---- */

/*
 * Recompute every guest's balloon target.  Manual guests get theirs;
 * the others share what the manual ones leave of the budget, through
 * policy_compute() if their RAM does not fit, else they get 0.
 */
static void policy_update_locked(void)
{
	struct policy_guest pg[MEM_MAX_OWNERS];
	uint64_t alloc[MEM_MAX_OWNERS], budget = budget_locked();
	uint64_t manual_alloc = 0, auto_ram = 0;
	struct guest *ag[MEM_MAX_OWNERS];
	struct policy_output out = { .alloc_pages = alloc };
	struct policy_input in = { .idle_tax = policy_idle_tax(),
				   .guests = pg };
	uint32_t id;
	size_t i;

	for (id = 1; id <= MEM_MAX_OWNERS; id++) {
		struct guest_mem *m;

		if (!owners[id])
			continue;
		m = &owners[id]->mem;
		if (m->manual) {
			m->target_pages = m->manual_pages;
			manual_alloc += m->nr_pages - m->manual_pages;
			continue;
		}
		ag[in.nr] = owners[id];
		pg[in.nr].ram_pages = m->nr_pages;
		pg[in.nr].shares = m->shares;
		pg[in.nr].have_active =
			activity_policy_figure(owners[id], m->have_stats,
					       m->last.active_ppm,
					       &pg[in.nr].active_ppm);
		auto_ram += m->nr_pages;
		in.nr++;
	}
	in.budget_pages = budget > manual_alloc ? budget - manual_alloc : 0;
	if (auto_ram <= in.budget_pages) {
		for (i = 0; i < in.nr; i++)
			ag[i]->mem.target_pages = 0;
		return;
	}
	policy_compute(&in, &out);
	for (i = 0; i < in.nr; i++)
		ag[i]->mem.target_pages = pg[i].ram_pages - alloc[i];
}

void mem_policy_update(void)
{
	pthread_mutex_lock(&mem_lock);
	policy_update_locked();
	pthread_mutex_unlock(&mem_lock);
}

/* ---- VPV_HC_MEMORY_OP ---- */

struct extent {
	uint64_t idx;		/* first page index */
	uint64_t n;		/* pages */
};

static int extent_cmp(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

struct zero_args {
	uint8_t *p;
	size_t len;
};

static void zero_fn(void *arg)
{
	const struct zero_args *a = arg;

	memset(a->p, 0, a->len);
}

/*
 * Give [idx, idx + n) of the RAM file back to the host.  If the file
 * system cannot punch holes, zero the pages instead so that the
 * contents still read as zeros (the memory is not returned then).  The
 * zeroing is guarded: a page that cannot be backed (SIGBUS) is counted
 * in ram_faults and left as it is (the guest gave it up anyway).
 */
static void punch(struct guest *g, uint64_t idx, uint64_t n)
{
	off_t off = (off_t)(idx << PAGE_SHIFT), len = (off_t)(n << PAGE_SHIFT);
	struct zero_args a = { g->ram + off, (size_t)len };

	if (fallocate(g->ram_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, len) == 0)
		return;
	STAT_INC(g, memop_punch_fallbacks);
	gpa_guard_run(g, NULL, zero_fn, &a);
}

/* Punch the sorted extents, merging neighbours into one call. */
static void punch_extents(struct guest *g, const struct extent *e,
			  unsigned int count)
{
	uint64_t start = e[0].idx, n = e[0].n;
	unsigned int i;

	for (i = 1; i < count; i++) {
		if (e[i].idx == start + n) {
			n += e[i].n;
			continue;
		}
		punch(g, start, n);
		start = e[i].idx;
		n = e[i].n;
	}
	punch(g, start, n);
}

/* Checks and work that need the lock; e[] is sorted and disjoint. */
static long memop_apply(struct guest *g, unsigned int cmd,
			struct extent *e, unsigned int count, uint64_t total)
{
	struct guest_mem *m = &g->mem;
	unsigned int i;
	uint64_t j;

	/* state checks, in the documented order, over the whole array */
	if (cmd != VPV_MEMOP_INCREASE) {
		for (i = 0; i < count; i++)
			for (j = e[i].idx; j < e[i].idx + e[i].n; j++)
				if (m->p2m[j] == MEM_MFN_INVALID)
					return -VPV_ENOENT;
		if (m->pinned)
			for (i = 0; i < count; i++)
				for (j = e[i].idx; j < e[i].idx + e[i].n; j++)
					if (m->pins[j])
						return -VPV_EBUSY;
	} else {
		for (i = 0; i < count; i++)
			for (j = e[i].idx; j < e[i].idx + e[i].n; j++)
				if (m->p2m[j] != MEM_MFN_INVALID)
					return -VPV_EEXIST;
		if (populated_pages + total > budget_locked())
			return -VPV_ENOMEM;
	}

	/* apply: nothing below can fail */
	switch (cmd) {
	case VPV_MEMOP_DECREASE:
		punch_extents(g, e, count);
		for (i = 0; i < count; i++) {
			for (j = e[i].idx; j < e[i].idx + e[i].n; j++) {
				uint32_t mfn = m->p2m[j];

				m2p[mfn].owner = 0;
				m2p[mfn].idx = 0;
				free_frames[nr_free++] = mfn;
				m->p2m[j] = MEM_MFN_INVALID;
			}
		}
		m->populated -= total;
		populated_pages -= total;
		break;
	case VPV_MEMOP_INCREASE:
		/* nr_free >= pool - populated >= total: each page has one */
		for (i = 0; i < count; i++) {
			for (j = e[i].idx; j < e[i].idx + e[i].n; j++) {
				uint32_t mfn = free_frames[--nr_free];

				m2p[mfn].owner = m->owner;
				m2p[mfn].idx = j;
				m->p2m[j] = mfn;
			}
		}
		m->populated += total;
		populated_pages += total;
		break;
	case VPV_MEMOP_REPORT_FREE:
		punch_extents(g, e, count);
		break;
	}
	return count;
}

static long memop_poll(struct guest *g, uint64_t gpa)
{
	struct vpv_balloon_stats st;
	long ret;

	if (gpa_read(g, gpa, &st, sizeof(st)))
		return -VPV_EFAULT;
	STAT_INC(g, memop_polls);
	pthread_mutex_lock(&mem_lock);
	g->mem.last = st;
	g->mem.have_stats = true;
	g->mem.stats_ms = mono_ms();
	policy_update_locked();
	ret = (long)g->mem.target_pages;
	pthread_mutex_unlock(&mem_lock);
	return ret;
}

/*
 * DECREASE / INCREASE / REPORT_FREE.  Validation order is the one in
 * vpv_abi.h: the array (in RAM, 8-byte aligned) before what it holds.
 */
static long memop_extents(struct guest *g, unsigned int cmd,
			  uint64_t gpa, uint64_t count, uint64_t order)
{
	bool ranges = cmd == VPV_MEMOP_REPORT_FREE;
	uint64_t raw[2 * VPV_MEMOP_MAX_EXTENTS], total = 0, n = 0;
	struct extent e[VPV_MEMOP_MAX_EXTENTS];
	size_t esz = ranges ? sizeof(struct vpv_mem_range) : sizeof(__u64);
	unsigned int i;
	long ret;

	if (!count)
		return -VPV_EINVAL;
	if (count > VPV_MEMOP_MAX_EXTENTS)
		return -VPV_E2BIG;
	if (!ranges) {
		if (order != VPV_MEMOP_ORDER_4K &&
		    (order != VPV_MEMOP_ORDER_2M ||
		     !(g->features & VPV_F_BALLOON_2M)))
			return -VPV_EINVAL;
		n = 1ull << order;
	}
	if (gpa & 7 || gpa_read(g, gpa, raw, count * esz))	/* copied once */
		return -VPV_EFAULT;
	if (ranges) {
		for (i = 0; i < count; i++)
			if ((raw[2 * i] | raw[2 * i + 1]) & 0xfff ||
			    !raw[2 * i + 1])
				return -VPV_EINVAL;
	}

	for (i = 0; i < count; i++) {
		if (ranges) {
			e[i].n = raw[2 * i + 1] >> PAGE_SHIFT;
			ret = pfn_to_idx(g, raw[2 * i] >> PAGE_SHIFT, e[i].n,
					 &e[i].idx);
		} else {
			e[i].n = n;
			ret = raw[i] & (n - 1) ? -VPV_EINVAL :
			      pfn_to_idx(g, raw[i], n, &e[i].idx);
		}
		if (ret)
			return ret;
		total += e[i].n;	/* <= count * RAM pages: no overflow */
	}
	qsort(e, count, sizeof(e[0]), extent_cmp);
	for (i = 1; i < count; i++)
		if (e[i].idx < e[i - 1].idx + e[i - 1].n)
			return -VPV_EINVAL;		/* same page twice */

	pthread_mutex_lock(&mem_lock);
	ret = memop_apply(g, cmd, e, count, total);
	pthread_mutex_unlock(&mem_lock);
	if (ret < 0)
		return ret;

	switch (cmd) {
	case VPV_MEMOP_DECREASE:
		STAT_ADD(g, memop_decreased_pages, total);
		break;
	case VPV_MEMOP_INCREASE:
		STAT_ADD(g, memop_increased_pages, total);
		break;
	case VPV_MEMOP_REPORT_FREE:
		STAT_ADD(g, memop_reported_ranges, count);
		STAT_ADD(g, memop_reported_bytes, total << PAGE_SHIFT);
		break;
	}
	if (!ranges && order == VPV_MEMOP_ORDER_2M)
		STAT_ADD(g, memop_2m_extents, count);
	return ret;
}

long mem_memory_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	uint64_t cmd = args[0];
	long ret;

	switch (cmd) {
	case VPV_MEMOP_POLL:
	case VPV_MEMOP_DECREASE:
	case VPV_MEMOP_INCREASE:
	case VPV_MEMOP_REPORT_FREE:
		break;
	default:
		ret = -VPV_ENOSYS;
		goto out;
	}
	if (!(g->features & VPV_F_BALLOON) || !g->mem.owner ||
	    (cmd == VPV_MEMOP_REPORT_FREE &&
	     !(g->features & VPV_F_PAGE_REPORTING))) {
		ret = -VPV_EOPNOTSUPP;
		goto out;
	}
	if (cmd == VPV_MEMOP_POLL)
		ret = memop_poll(g, args[1]);
	else
		ret = memop_extents(g, cmd, args[1], args[2], args[3]);
out:
	if (ret < 0)
		STAT_INC(g, memop_errors);
	return ret;
}

void mem_register(void)
{
	hc_register(VPV_HC_MEMORY_OP, "memory_op", mem_memory_op);
}
