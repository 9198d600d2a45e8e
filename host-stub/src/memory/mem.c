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
 * One mutex, mem_lock, protects all of it: the hypercall threads of
 * every guest and the main thread (control socket, policy timer) take
 * it.  Nothing holds it for time that grows with what a guest asks:
 * memory ops walk their pages in chunks of MEM_CHUNK_PAGES, dropping
 * the lock in between, and punch the RAM file without it (a per-guest
 * op_lock keeps one guest's ops in order, a claim bit per page keeps
 * other subsystems from pinning a page an op is working on); the policy
 * is computed on the 1 s timer from a snapshot taken under the lock and
 * POLL only returns the last target.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vpv_host.h"

#define PAGE_SHIFT	12
#define GPA_4G_PFN	(0x100000000ull >> PAGE_SHIFT)
#define MEM_MAX_OWNERS	256u
#define MEM_MAX_FRAMES	(UINT32_MAX - 1ull)	/* MFNs fit in u32 */
/*
 * Pages a memory op handles per mem_lock hold: the P2M/M2P work for
 * 4096 pages takes at most some 0.2 ms of CPU (measured, ASan build),
 * so another guest waits about that long behind a 2 GiB DECREASE or
 * REPORT_FREE instead of the ~0.4 s per GiB the whole call takes.
 */
#define MEM_CHUNK_PAGES	4096u
/*
 * Pages punched (and checked with mincore) per fallocate call, without
 * mem_lock: bounds the mincore vector on the stack (one byte a page).
 */
#define MEM_PUNCH_PAGES	4096u
/* REPORT_FREE per call: as much as the largest DECREASE (1024 x 2 MiB) */
#define MEM_REPORT_MAX_PAGES	((uint64_t)VPV_MEMOP_MAX_EXTENTS << 9)

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
static uint64_t reserved_pages;		/* INCREASE in progress */
static bool budget_set;
static struct guest *owners[MEM_MAX_OWNERS + 1];
/*
 * Measure each hold's CPU time: off until a test asks for the longest
 * hold (mem_lock_max_hold_ns()).  Two reads of the thread's CPU clock
 * per hold are system calls (no vDSO for it): 7 us each on this nested
 * test host under load, which made every mem_lock user pay 14 us (PV
 * MMU updates at batch 512: 3.3 us each instead of 0.3).  Written and
 * read under mem_lock.
 */
static bool lock_measuring;
static uint64_t lock_t0_ns;		/* holder's CPU time at lock() */
static uint64_t lock_max_ns;		/* longest hold since reset */
static uint64_t lock_holds;		/* holds so far (tests) */
/* one policy update at a time; taken before mem_lock */
static pthread_mutex_t policy_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * The calling thread's CPU time (user + system): the work done under
 * mem_lock, without the time a loaded host keeps the holder off a CPU
 * (which no bound on the work can prevent).  A system call, 0.2 to
 * 7 us; twice per hold while lock_measuring.
 */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* mem_lock with the work done while holding it measured */
static void lock(void)
{
	pthread_mutex_lock(&mem_lock);
	if (lock_measuring)
		lock_t0_ns = cpu_ns();
	lock_holds++;
}

static void unlock(void)
{
	uint64_t held;

	if (lock_measuring) {
		held = cpu_ns() - lock_t0_ns;
		if (held > lock_max_ns)
			lock_max_ns = held;
	}
	pthread_mutex_unlock(&mem_lock);
}

/*
 * Longest mem_lock hold since the last reset, in ns of CPU time; reset:
 * start over.  The first call turns the measurement on (tests): holds
 * before it are not counted.
 */
uint64_t mem_lock_max_hold_ns(bool reset)
{
	uint64_t v;

	lock();
	lock_measuring = true;
	v = lock_max_ns;
	if (reset)
		lock_max_ns = 0;
	lock_t0_ns = cpu_ns();		/* this hold does not count */
	unlock();
	return v;
}

/* How many times mem_lock was taken so far. */
uint64_t mem_lock_holds(void)
{
	uint64_t v;

	pthread_mutex_lock(&mem_lock);
	v = lock_holds;
	pthread_mutex_unlock(&mem_lock);
	return v;
}

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
	m->claim = calloc((n + 63) / 64, sizeof(*m->claim));
	if (!m->p2m || !m->pins || !m->claim) {
		ret = -ENOMEM;
		goto err;
	}

	lock();
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
	pthread_mutex_init(&m->op_lock, NULL);
	unlock();
	return 0;

err_unlock:
	unlock();
err:
	free(m->p2m);
	free(m->pins);
	free(m->claim);
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
	pthread_mutex_lock(&policy_lock);	/* no update uses g now */
	lock();
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
	unlock();
	pthread_mutex_unlock(&policy_lock);
	pthread_mutex_destroy(&m->op_lock);
	free(m->p2m);
	free(m->pins);
	free(m->claim);
	memset(m, 0, sizeof(*m));
}

int mem_set_budget(uint64_t bytes)
{
	lock();
	budget_set = bytes != 0;
	budget_pages = bytes >> PAGE_SHIFT;
	unlock();
	mem_policy_update();
	return 0;
}

void mem_set_shares(struct guest *g, unsigned int shares)
{
	if (!shares)
		shares = MEM_SHARES_DEFAULT;
	if (shares > MEM_SHARES_MAX)
		shares = MEM_SHARES_MAX;
	lock();
	g->mem.shares = shares;
	unlock();
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
	lock();
	m->manual = manual;
	m->manual_pages = manual && pages < m->nr_pages ?
			  m->nr_pages - pages : 0;
	unlock();
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
	lock();
}

void mem_lock_release(void)
{
	unlock();
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

static bool claimed(const struct guest_mem *m, uint64_t idx)
{
	return m->claim[idx / 64] & (1ull << (idx % 64));
}

/* mem_lock held; idx < nr_pages.  Errors as mem_pin(). */
int mem_pin_locked(struct guest *g, uint64_t idx)
{
	struct guest_mem *m = &g->mem;

	if (m->p2m[idx] == MEM_MFN_INVALID)
		return -VPV_ENOENT;
	if (claimed(m, idx))
		return -VPV_EBUSY;	/* a DECREASE/REPORT_FREE has it */
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
 * -VPV_EBUSY: a DECREASE or REPORT_FREE in progress holds it;
 * -VPV_ENOSPC: pin count saturated.
 */
int mem_pin(struct guest *g, uint64_t pfn)
{
	uint64_t idx;
	int ret;

	if (mem_pfn_to_idx(g, pfn, &idx))
		return -VPV_EINVAL;
	lock();
	ret = mem_pin_locked(g, idx);
	unlock();
	return ret;
}

/* -VPV_EINVAL: not a RAM page or not pinned. */
int mem_unpin(struct guest *g, uint64_t pfn)
{
	uint64_t idx;
	int ret;

	if (mem_pfn_to_idx(g, pfn, &idx))
		return -VPV_EINVAL;
	lock();
	ret = mem_unpin_locked(g, idx);
	unlock();
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
	lock();
	*mfn = m->p2m[idx];
	*pins = m->pins[idx];
	unlock();
	return 0;
}

/* -VPV_ENOENT if the frame does not exist or is free. */
int mem_m2p_lookup(uint32_t mfn, struct guest **g, uint64_t *pfn)
{
	int ret = -VPV_ENOENT;

	lock();
	if (mfn < frames && m2p[mfn].owner) {
		*g = owners[m2p[mfn].owner];
		*pfn = idx_to_pfn(*g, m2p[mfn].idx);
		ret = 0;
	}
	unlock();
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

	lock();
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
	unlock();
	return ret;
}

void mem_host_info(struct mem_host_info *hi)
{
	lock();
	hi->pool_pages = pool_pages;
	hi->populated_pages = populated_pages;
	hi->budget_pages = budget_locked();
	hi->budget_set = budget_set;
	hi->overcommitted = pool_pages > hi->budget_pages;
	unlock();
	hi->idle_tax = policy_idle_tax();
}

void mem_guest_info(struct guest *g, struct mem_guest_info *gi)
{
	struct guest_mem *m = &g->mem;

	memset(gi, 0, sizeof(*gi));
	lock();
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
	unlock();
}

/* ---- policy glue ---- */

/* What the policy needs of the registered guests, copied under mem_lock. */
struct policy_snap {
	struct policy_guest pg[MEM_MAX_OWNERS];
	struct guest *ag[MEM_MAX_OWNERS];	/* auto guests */
	uint64_t alloc[MEM_MAX_OWNERS];
	uint64_t prev[MEM_MAX_OWNERS];	/* their allocations in force */
	uint64_t last_budget;		/* in.budget_pages last time */
	size_t last_nr;			/* in.nr last time */
	uint64_t auto_ram;
	struct policy_input in;
};

/*
 * mem_lock held, O(guests).  Manual guests get their target at once;
 * the others go into the snapshot, with the budget the manual ones
 * leave them.
 */
static void policy_snapshot(struct policy_snap *ps)
{
	uint64_t budget = budget_locked(), manual_alloc = 0;
	uint32_t id;

	ps->in.nr = 0;
	ps->auto_ram = 0;
	for (id = 1; id <= MEM_MAX_OWNERS; id++) {
		struct policy_guest *pg = &ps->pg[ps->in.nr];
		struct guest_mem *m;

		if (!owners[id])
			continue;
		m = &owners[id]->mem;
		if (m->manual) {
			m->target_pages = m->manual_pages;
			manual_alloc += m->nr_pages - m->manual_pages;
			continue;
		}
		ps->ag[ps->in.nr] = owners[id];
		/* a target of 0 (none yet, or it fit): all its RAM */
		ps->prev[ps->in.nr] = m->nr_pages - m->target_pages;
		pg->ram_pages = m->nr_pages;
		pg->shares = m->shares;
		pg->have_active =
			activity_policy_figure(owners[id], m->have_stats,
					       m->last.active_ppm,
					       &pg->active_ppm);
		ps->auto_ram += m->nr_pages;
		ps->in.nr++;
	}
	ps->in.budget_pages = budget > manual_alloc ? budget - manual_alloc : 0;
}

/*
 * Recompute every guest's balloon target.  Manual guests get theirs;
 * the others share what the manual ones leave of the budget, through
 * policy_compute() if their RAM does not fit, else they get 0.  The
 * computation (time growing with guests and overcommit) runs without
 * mem_lock, on a snapshot; a guest removed or made manual meanwhile
 * keeps what it has (the next update covers it).  Called from the 1 s
 * timer and the control socket, never from a hypercall.
 */
void mem_policy_update(void)
{
	static struct policy_snap ps;	/* under policy_lock; ~12 KiB */
	struct policy_output out = { .alloc_pages = ps.alloc };
	bool fits;
	size_t i;

	pthread_mutex_lock(&policy_lock);
	lock();
	policy_snapshot(&ps);
	unlock();
	ps.in.idle_tax = policy_idle_tax();
	ps.in.guests = ps.pg;
	/*
	 * Hysteresis (policy.c) against the jitter of the activity
	 * figures only: a new budget, a guest made manual or back, added
	 * or gone is a real change, followed at once
	 */
	ps.in.prev_pages = ps.in.budget_pages == ps.last_budget &&
			   ps.in.nr == ps.last_nr ? ps.prev : NULL;
	ps.last_budget = ps.in.budget_pages;
	ps.last_nr = ps.in.nr;
	fits = ps.auto_ram <= ps.in.budget_pages;
	if (!fits)
		policy_compute(&ps.in, &out);
	lock();
	for (i = 0; i < ps.in.nr; i++) {
		struct guest_mem *m = &ps.ag[i]->mem;

		if (!m->owner || owners[m->owner] != ps.ag[i] || m->manual)
			continue;
		m->target_pages = fits ? 0 : ps.pg[i].ram_pages - ps.alloc[i];
	}
	unlock();
	pthread_mutex_unlock(&policy_lock);
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
 * A walk over the pages of sorted, disjoint extents in order, at most
 * MEM_CHUNK_PAGES pages per mem_lock hold.  fn sees one page with
 * mem_lock held; a non-zero return stops the walk and is returned.
 */
struct walk {
	const struct extent *e;
	unsigned int count;	/* >= 1 */
	uint64_t limit;		/* visit at most this many pages */
	uint64_t done;		/* out: pages fn accepted */
};

typedef int (*page_fn)(struct guest *g, uint64_t idx);

static int walk_pages(struct guest *g, struct walk *w, page_fn fn)
{
	uint64_t j = w->e[0].idx;
	unsigned int i = 0, budget;
	int ret = 0;

	w->done = 0;
	while (!ret && i < w->count && w->done < w->limit) {
		lock();
		for (budget = MEM_CHUNK_PAGES;
		     budget && i < w->count && w->done < w->limit; budget--) {
			ret = fn(g, j);
			if (ret)
				break;
			w->done++;
			if (++j == w->e[i].idx + w->e[i].n && ++i < w->count)
				j = w->e[i].idx;
		}
		unlock();
	}
	return ret;
}

static int pg_populated(struct guest *g, uint64_t idx)
{
	return g->mem.p2m[idx] == MEM_MFN_INVALID ? -VPV_ENOENT : 0;
}

static int pg_unpopulated(struct guest *g, uint64_t idx)
{
	return g->mem.p2m[idx] != MEM_MFN_INVALID ? -VPV_EEXIST : 0;
}

/* Keep the page from being pinned until the op is done with it. */
static int pg_claim(struct guest *g, uint64_t idx)
{
	if (g->mem.pins[idx])
		return -VPV_EBUSY;
	g->mem.claim[idx / 64] |= 1ull << (idx % 64);
	return 0;
}

static int pg_unclaim(struct guest *g, uint64_t idx)
{
	g->mem.claim[idx / 64] &= ~(1ull << (idx % 64));
	return 0;
}

/* DECREASE: the frame goes back to the pool, the P2M entry invalid. */
static int pg_release(struct guest *g, uint64_t idx)
{
	struct guest_mem *m = &g->mem;
	uint32_t mfn = m->p2m[idx];

	m2p[mfn].owner = 0;
	m2p[mfn].idx = 0;
	free_frames[nr_free++] = mfn;
	m->p2m[idx] = MEM_MFN_INVALID;
	m->populated--;
	populated_pages--;
	return pg_unclaim(g, idx);
}

/*
 * INCREASE: a frame from the pool, reserved before the walk.  The pool
 * has one for each: nr_free >= pool - populated >= the unpopulated
 * pages of all guests >= reserved_pages.
 */
static int pg_populate(struct guest *g, uint64_t idx)
{
	struct guest_mem *m = &g->mem;
	uint32_t mfn = free_frames[--nr_free];

	m2p[mfn].owner = m->owner;
	m2p[mfn].idx = idx;
	m->p2m[idx] = mfn;
	m->populated++;
	populated_pages++;
	reserved_pages--;
	return 0;
}

/* Pages of the mapped range [off, off + len) the host still holds. */
static uint64_t resident_pages(struct guest *g, off_t off, size_t len)
{
	unsigned char vec[MEM_PUNCH_PAGES];
	size_t i, n = len >> PAGE_SHIFT;
	uint64_t r = 0;

	if (mincore(g->ram + off, len, vec) < 0)
		return n;			/* cannot tell: not verified */
	for (i = 0; i < n; i++)
		r += vec[i] & 1;
	return r;
}

/*
 * Give [idx, idx + n) of the RAM file back to the host, in pieces of
 * MEM_PUNCH_PAGES, and check with mincore() that the memory really left
 * the page cache: on a file system with large folios (ext4 on recent
 * kernels) a punch inside a folio still in use only zeroes it.  Pages
 * still resident are counted, not reported freed.  If the file system
 * cannot punch holes, zero the pages instead so that they still read as
 * zeros (the memory is not returned then); the zeroing is guarded.  No
 * mem_lock held.
 */
static void punch(struct guest *g, uint64_t idx, uint64_t n)
{
	while (n) {
		uint64_t k = n < MEM_PUNCH_PAGES ? n : MEM_PUNCH_PAGES;
		off_t off = (off_t)(idx << PAGE_SHIFT);
		size_t len = (size_t)k << PAGE_SHIFT;

		if (fallocate(g->ram_fd, FALLOC_FL_PUNCH_HOLE |
			      FALLOC_FL_KEEP_SIZE, off, (off_t)len) < 0) {
			struct zero_args a = { g->ram + off, len };

			/* a page that cannot be backed: counted in ram_faults */
			STAT_INC(g, memop_punch_fallbacks);
			gpa_guard_run(g, NULL, zero_fn, &a);
		}
		STAT_ADD(g, memop_unreclaimed_pages,
			 resident_pages(g, off, len));
		idx += k;
		n -= k;
	}
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

/* The state checks in the order of vpv_abi.h, then the work. */
static long memop_increase(struct guest *g, struct walk *w)
{
	int ret = walk_pages(g, w, pg_unpopulated);

	if (ret)
		return ret;
	lock();
	if (populated_pages + reserved_pages + w->limit > budget_locked())
		ret = -VPV_ENOMEM;
	else
		reserved_pages += w->limit;
	unlock();
	if (ret)
		return ret;
	walk_pages(g, w, pg_populate);		/* cannot fail */
	return w->count;
}

/*
 * The checks and the work, in chunks; e[] is sorted and disjoint and
 * g->mem.op_lock held, so only this call populates or depopulates g's
 * pages meanwhile.  DECREASE/REPORT_FREE: every page populated (ENOENT
 * ranks first), then every page claimed unless pinned (EBUSY; the
 * claims taken so far are dropped), punched without mem_lock, and
 * released (DECREASE) or unclaimed.
 */
static long memop_apply(struct guest *g, unsigned int cmd,
			const struct extent *e, unsigned int count,
			uint64_t total)
{
	struct walk w = { .e = e, .count = count, .limit = total };
	int ret;

	if (cmd == VPV_MEMOP_INCREASE)
		return memop_increase(g, &w);
	ret = walk_pages(g, &w, pg_populated);
	if (ret)
		return ret;
	ret = walk_pages(g, &w, pg_claim);
	if (ret) {
		w.limit = w.done;
		walk_pages(g, &w, pg_unclaim);
		return ret;
	}
	punch_extents(g, e, count);
	w.limit = total;
	walk_pages(g, &w, cmd == VPV_MEMOP_DECREASE ? pg_release : pg_unclaim);
	return count;
}

/*
 * POLL: store the guest's stats and return the target the policy last
 * computed (1 s timer, control commands); O(1) under mem_lock.
 */
static long memop_poll(struct guest *g, uint64_t gpa)
{
	struct vpv_balloon_stats st;
	long ret;

	if (gpa_read(g, gpa, &st, sizeof(st)))
		return -VPV_EFAULT;
	STAT_INC(g, memop_polls);
	lock();
	g->mem.last = st;
	g->mem.have_stats = true;
	g->mem.stats_ms = mono_ms();
	ret = (long)g->mem.target_pages;
	unlock();
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
	if (ranges && total > MEM_REPORT_MAX_PAGES)
		return -VPV_E2BIG;

	pthread_mutex_lock(&g->mem.op_lock);
	ret = memop_apply(g, cmd, e, count, total);
	pthread_mutex_unlock(&g->mem.op_lock);
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

static void mem_tick(struct host *h, uint64_t now_ms)
{
	(void)h;
	(void)now_ms;
	mem_policy_update();
}

const struct guest_subsys_ops mem_subsys = {
	.name = "mem",
	.setup = mem_register,
	.init = mem_guest_add,
	.tick = mem_tick,
	.destroy = mem_guest_remove,
};
