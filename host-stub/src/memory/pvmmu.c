// SPDX-License-Identifier: GPL-2.0
/*
 * PV MMU: host-validated updates of guest leaf page tables
 * (VPV_HC_MMU_UPDATE, VPV_HC_MMUEXT_OP), after Xen's mmu_update and
 * mmuext_op.  The rules are in the "PV MMU" section of vpv_abi.h.
 *
 * Per guest (struct guest_pvmmu) the host keeps its pinned L1 tables,
 * each with a host-private shadow of its 512 PTEs, and per page index:
 *   slot[]  - the pinned table the page is, if any (O(1) lookup by PFN);
 *   refs[]  - references held by pinned tables: one per present PTE
 *             mapping the page, plus one if the page is a pinned table;
 *   wrefs[] - present RW PTEs in pinned tables mapping the page.
 * The PV MMU holds one P2M pin (mem.c) on every page whose refs[] is
 * not 0, so the balloon cannot take it (-VPV_EBUSY).  Counting here
 * instead of in the P2M's 8-bit pin count lets a frame be mapped by any
 * number of PTEs.
 *
 * The shadow is the truth: the old value of a PTE being replaced comes
 * from it, never from guest memory.  Guest RAM is compared with the
 * shadow of a table at every hypercall naming it and once a second for
 * all tables (pvmmu_audit() from the main loop).  A difference is
 * counted (pt_tampered), logged (rate limited) and repaired from the
 * shadow.  The Accessed and Dirty bits of a present entry are not a
 * difference: the guest's MMU sets them in its page tables by itself.
 *
 * Locking: mmu.lock protects all PV MMU state of a guest; the guest's
 * hypercall thread and the main thread (audit) take it.  mem_lock is
 * taken inside it around the validation and application of each
 * request, so the P2M checks, our pins and the balloon's DECREASE
 * cannot interleave (no PFN gets mapped while it is ballooned out).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vpv_host.h"

#define PAGE_SHIFT		12
#define PTE_HW_BITS		(VPV_PTE_ACCESSED | VPV_PTE_DIRTY)
#define NO_IDX			UINT64_MAX
#define LOG_WINDOW_MS		10000u	/* at most LOG_BURST lines per ... */
#define LOG_BURST		5u

static_assert(sizeof(struct vpv_mmu_update) == 16, "vpv_mmu_update size");
static_assert(sizeof(struct vpv_mmuext_op) == 16, "vpv_mmuext_op size");
static_assert(PVMMU_PTES * sizeof(uint64_t) == VPV_PAGE_SIZE,
	      "a table is one page");

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pvmmu_init(struct guest *g)
{
	struct guest_pvmmu *mm = &g->mmu;
	int ret;

	memset(mm, 0, sizeof(*mm));
	ret = pthread_mutex_init(&mm->lock, NULL);
	if (ret)
		return -ret;
	mm->ready = true;
	return 0;
}

unsigned int pvmmu_nr_tables(const struct guest *g)
{
	return __atomic_load_n(&g->mmu.nr_tables, __ATOMIC_RELAXED);
}

/* lock held: allocate the per-page arrays on first use. */
static int arrays_alloc(struct guest *g)
{
	struct guest_pvmmu *mm = &g->mmu;
	uint64_t n = g->mem.nr_pages;

	if (mm->slot)
		return 0;
	mm->tables = calloc(PVMMU_MAX_TABLES, sizeof(*mm->tables));
	mm->slot = calloc(n, sizeof(*mm->slot));
	mm->refs = calloc(n, sizeof(*mm->refs));
	mm->wrefs = calloc(n, sizeof(*mm->wrefs));
	if (mm->tables && mm->slot && mm->refs && mm->wrefs)
		return 0;
	free(mm->tables);
	free(mm->slot);
	free(mm->refs);
	free(mm->wrefs);
	mm->tables = NULL;
	mm->slot = NULL;
	mm->refs = NULL;
	mm->wrefs = NULL;
	return -VPV_ENOMEM;
}

static uint64_t *table_ram(struct guest *g, const struct pvmmu_table *t)
{
	return (uint64_t *)(g->ram + (t->idx << PAGE_SHIFT));
}

/* ---- references (lock and mem_lock held) ---- */

static int ref_get(struct guest *g, uint64_t idx)
{
	struct guest_pvmmu *mm = &g->mmu;
	int ret;

	if (!mm->refs[idx]) {
		ret = mem_pin_locked(g, idx);
		if (ret)
			return ret;
	}
	mm->refs[idx]++;
	return 0;
}

static void ref_put(struct guest *g, uint64_t idx)
{
	struct guest_pvmmu *mm = &g->mmu;

	if (!mm->refs[idx]) {
		fprintf(stderr, "vpv-host: %s: pvmmu: refcount underflow\n",
			g->name);
		return;
	}
	if (!--mm->refs[idx])
		mem_unpin_locked(g, idx);
}

/* The page index of the frame a present PTE maps (validated before). */
static uint64_t pte_idx(const struct guest *g, uint64_t pte)
{
	uint64_t idx;

	if (mem_pfn_to_idx(g, (pte & VPV_PTE_PFN_MASK) >> PAGE_SHIFT, &idx))
		return NO_IDX;
	return idx;
}

/* Take the references of a valid present PTE mapping page idx. */
static int pte_get(struct guest *g, uint64_t pte, uint64_t idx)
{
	int ret = ref_get(g, idx);

	if (!ret && (pte & VPV_PTE_RW))
		g->mmu.wrefs[idx]++;
	return ret;
}

/* Drop the references of a shadow entry (any value). */
static void pte_put(struct guest *g, uint64_t pte)
{
	uint64_t idx;

	if (!(pte & VPV_PTE_PRESENT))
		return;
	idx = pte_idx(g, pte);
	if (idx == NO_IDX)
		return;
	if (pte & VPV_PTE_RW)
		g->mmu.wrefs[idx]--;
	ref_put(g, idx);
}

/*
 * The MMU_UPDATE rules for a new PTE value, in the order of vpv_abi.h.
 * self: the page index of a table being pinned (it counts as a pinned
 * table for its own entries), else NO_IDX.  On success *idx is the page
 * index of the mapped frame (present entries only).
 */
static int pte_check(struct guest *g, uint64_t val, uint64_t self,
		     uint64_t *idx)
{
	if (!(val & VPV_PTE_PRESENT))
		return val ? -VPV_EINVAL : 0;
	if (val & VPV_PTE_USER)
		return -VPV_EPERM;
	if (val & ~VPV_PTE_ALLOWED)
		return -VPV_EINVAL;
	if (mem_pfn_to_idx(g, (val & VPV_PTE_PFN_MASK) >> PAGE_SHIFT, idx))
		return -VPV_EINVAL;
	if (!mem_populated_locked(g, *idx))
		return -VPV_ENOENT;
	if ((val & VPV_PTE_RW) && (g->mmu.slot[*idx] || *idx == self))
		return -VPV_EPERM;
	return 0;
}

/* ---- audit (lock held) ---- */

static void tamper_log(struct guest *g, const struct pvmmu_table *t,
		       unsigned int entry)
{
	struct guest_pvmmu *mm = &g->mmu;
	uint64_t now = mono_ms();

	if (!mm->log_window_ms || now - mm->log_window_ms >= LOG_WINDOW_MS) {
		if (mm->log_suppressed)
			fprintf(stderr,
				"vpv-host: %s: %llu more pinned table writes not logged\n",
				g->name,
				(unsigned long long)mm->log_suppressed);
		mm->log_window_ms = now ? now : 1;
		mm->log_lines = 0;
		mm->log_suppressed = 0;
	}
	if (mm->log_lines >= LOG_BURST) {
		mm->log_suppressed++;
		return;
	}
	mm->log_lines++;
	fprintf(stderr,
		"vpv-host: %s: pinned table pfn 0x%llx written by the guest (entry %u)\n",
		g->name, (unsigned long long)t->pfn, entry);
}

struct audit_args {
	uint64_t *ram;
	const uint64_t *pte;
	unsigned int first;	/* first entry restored, PVMMU_PTES: none */
};

/* Guarded (guest RAM only, no lock taken): compare and restore. */
static void audit_fn(void *arg)
{
	struct audit_args *a = arg;
	unsigned int i;

	if (!memcmp(a->ram, a->pte, VPV_PAGE_SIZE))
		return;
	for (i = 0; i < PVMMU_PTES; i++) {
		uint64_t v = __atomic_load_n(&a->ram[i], __ATOMIC_RELAXED);
		uint64_t diff = v ^ a->pte[i];

		if (a->pte[i] & VPV_PTE_PRESENT)
			diff &= ~PTE_HW_BITS;
		if (!diff)
			continue;
		if (a->first == PVMMU_PTES)
			a->first = i;
		__atomic_store_n(&a->ram[i], a->pte[i], __ATOMIC_RELEASE);
	}
}

/*
 * Compare t in guest RAM with its shadow; restore every entry the guest
 * changed.  Returns true if it had.  A table page that faults (SIGBUS,
 * counted in ram_faults) is left for the next audit.
 */
static bool audit_table(struct guest *g, struct pvmmu_table *t)
{
	struct audit_args a = { table_ram(g, t), t->pte, PVMMU_PTES };

	t->gen = g->mmu.audit_gen;
	gpa_guard_run(g, NULL, audit_fn, &a);
	if (a.first == PVMMU_PTES)
		return false;
	STAT_INC(g, pt_tampered);
	tamper_log(g, t, a.first);
	return true;
}

/* A hypercall names t: audit it once per hypercall. */
static void audit_named(struct guest *g, struct pvmmu_table *t)
{
	if (t->gen != g->mmu.audit_gen)
		audit_table(g, t);
}

/* Audit every pinned table of g (main loop, once a second). */
unsigned int pvmmu_audit(struct guest *g)
{
	struct guest_pvmmu *mm = &g->mmu;
	unsigned int i, n = 0;

	if (!mm->ready)
		return 0;
	pthread_mutex_lock(&mm->lock);
	mm->audit_gen++;
	for (i = 0; i < mm->nr_tables; i++)
		n += audit_table(g, mm->tables[i]);
	pthread_mutex_unlock(&mm->lock);
	return n;
}

/* ---- tables (lock held) ---- */

static struct pvmmu_table *table_of(struct guest *g, uint64_t pfn)
{
	struct guest_pvmmu *mm = &g->mmu;
	uint64_t idx;

	if (mem_pfn_to_idx(g, pfn, &idx) || !mm->slot[idx])
		return NULL;
	return mm->tables[mm->slot[idx] - 1];
}

/* Drop every reference t holds; mem_lock held. */
static void table_put_refs(struct guest *g, struct pvmmu_table *t)
{
	unsigned int i;

	for (i = 0; i < PVMMU_PTES; i++)
		pte_put(g, t->pte[i]);
	ref_put(g, t->idx);
}

static void table_remove(struct guest *g, struct pvmmu_table *t)
{
	struct guest_pvmmu *mm = &g->mmu;
	uint32_t s = mm->slot[t->idx] - 1, last = mm->nr_tables - 1;

	if (s != last) {
		mm->tables[s] = mm->tables[last];
		mm->slot[mm->tables[s]->idx] = s + 1;
	}
	mm->tables[last] = NULL;
	mm->slot[t->idx] = 0;
	__atomic_store_n(&mm->nr_tables, last, __ATOMIC_RELAXED);
	free(t);
}

struct table_read {
	const uint64_t *ram;
	uint64_t *pte;
};

/* Guarded: copy a table's entries from guest RAM into its shadow. */
static void read_table_fn(void *arg)
{
	const struct table_read *a = arg;
	unsigned int i;

	for (i = 0; i < PVMMU_PTES; i++)
		a->pte[i] = __atomic_load_n(&a->ram[i], __ATOMIC_RELAXED);
}

static int op_pin(struct guest *g, uint64_t pfn)
{
	struct guest_pvmmu *mm = &g->mmu;
	uint64_t idx, fidx[PVMMU_PTES];
	struct pvmmu_table *t = NULL;
	unsigned int i, j;
	int ret;

	if (mem_pfn_to_idx(g, pfn, &idx))
		return -VPV_EINVAL;
	mem_lock_acquire();
	if (!mem_populated_locked(g, idx)) {
		ret = -VPV_ENOENT;
		goto out;
	}
	if (mm->slot[idx]) {
		ret = -VPV_EEXIST;
		goto out;
	}
	if (mm->wrefs[idx]) {
		ret = -VPV_EPERM;
		goto out;
	}
	if (mm->nr_tables >= PVMMU_MAX_TABLES) {
		ret = -VPV_ENOSPC;
		goto out;
	}
	t = malloc(sizeof(*t));
	if (!t) {
		ret = -VPV_ENOMEM;
		goto out;
	}
	t->pfn = pfn;
	t->idx = idx;
	t->gen = mm->audit_gen;
	ret = gpa_guard_run(g, NULL, read_table_fn,	/* read once */
			    &(struct table_read){ table_ram(g, t), t->pte });
	if (ret)
		goto out;
	for (i = 0; i < PVMMU_PTES; i++) {
		ret = pte_check(g, t->pte[i], idx, &fidx[i]);
		if (ret)
			goto out;
	}

	/* apply: only a saturated P2M pin count can fail here */
	ret = ref_get(g, idx);
	if (ret)
		goto out;
	for (i = 0; i < PVMMU_PTES; i++) {
		if (!(t->pte[i] & VPV_PTE_PRESENT))
			continue;
		ret = pte_get(g, t->pte[i], fidx[i]);
		if (ret) {
			for (j = 0; j < i; j++)
				pte_put(g, t->pte[j]);
			ref_put(g, idx);
			goto out;
		}
	}
	mm->tables[mm->nr_tables] = t;
	mm->slot[idx] = mm->nr_tables + 1;
	__atomic_store_n(&mm->nr_tables, mm->nr_tables + 1, __ATOMIC_RELAXED);
	t = NULL;
out:
	mem_lock_release();
	free(t);
	return ret;
}

static int op_unpin(struct guest *g, uint64_t pfn)
{
	struct pvmmu_table *t = table_of(g, pfn);

	if (!t)
		return -VPV_ENOENT;
	audit_named(g, t);	/* count and repair before letting go */
	mem_lock_acquire();
	table_put_refs(g, t);
	mem_lock_release();
	table_remove(g, t);
	return 0;
}

struct pte_store {
	uint64_t *p;
	uint64_t val;
};

/* Guarded: one PTE into a pinned table in guest RAM. */
static void store_pte_fn(void *arg)
{
	const struct pte_store *a = arg;

	/* the guest's page walk must see a whole, validated entry */
	__atomic_store_n(a->p, a->val, __ATOMIC_RELEASE);
}

static int mmu_update_one(struct guest *g, const struct vpv_mmu_update *r)
{
	uint64_t ptr = r->ptr, val = r->val, idx = NO_IDX, old;
	struct pvmmu_table *t;
	unsigned int i;
	int ret;

	if (ptr & 7)
		return -VPV_EINVAL;
	t = table_of(g, ptr >> PAGE_SHIFT);
	if (!t)
		return -VPV_EPERM;
	audit_named(g, t);
	i = (ptr & (VPV_PAGE_SIZE - 1)) / sizeof(uint64_t);

	mem_lock_acquire();
	ret = pte_check(g, val, NO_IDX, &idx);
	if (!ret && (val & VPV_PTE_PRESENT))
		ret = pte_get(g, val, idx);	/* new first: same frame */
	if (!ret) {
		/* RAM first: if its page faults, nothing has changed */
		ret = gpa_guard_run(g, NULL, store_pte_fn,
				    &(struct pte_store){ &table_ram(g, t)[i],
							 val });
		if (ret) {
			pte_put(g, val);	/* undo pte_get() */
		} else {
			old = t->pte[i];	/* from the shadow */
			pte_put(g, old);
			t->pte[i] = val;
		}
	}
	mem_lock_release();
	return ret;
}

/* ---- hypercalls ---- */

union mmu_batch {
	struct vpv_mmu_update u[VPV_MMU_UPDATE_MAX];
	struct vpv_mmuext_op x[VPV_MMU_UPDATE_MAX];
};

static long run_updates(struct guest *g, const struct vpv_mmu_update *u,
			unsigned int count, uint64_t *done)
{
	unsigned int i;
	int ret = 0;

	STAT_INC(g, mmu_update_calls);
	for (i = 0; i < count; i++) {
		ret = mmu_update_one(g, &u[i]);
		if (ret)
			break;
		(*done)++;
	}
	STAT_ADD(g, mmu_updates, *done);
	return ret;
}

static long run_ext(struct guest *g, const struct vpv_mmuext_op *x,
		    unsigned int count, uint64_t *done)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < count; i++) {
		if (x[i].pad)
			ret = -VPV_EINVAL;
		else if (x[i].cmd == VPV_MMUEXT_PIN_L1_TABLE)
			ret = op_pin(g, x[i].pfn);
		else if (x[i].cmd == VPV_MMUEXT_UNPIN_TABLE)
			ret = op_unpin(g, x[i].pfn);
		else
			ret = -VPV_ENOSYS;
		if (ret)
			break;
		(*done)++;
	}
	STAT_ADD(g, mmuext_ops, *done);
	return ret;
}

/*
 * Both calls: (array_gpa, count, done_gpa).  Whole-call errors in the
 * order vpv_abi.h lists them; done is stored whenever done_gpa is
 * usable, errors included.
 */
static long mmu_call(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS],
		     bool ext)
{
	struct guest_pvmmu *mm = &g->mmu;
	uint64_t gpa = args[0], count = args[1], done_gpa = args[2];
	uint64_t done = 0;
	bool done_ok = false;	/* done_gpa names 8 aligned bytes of RAM */
	union mmu_batch b;
	size_t len;
	long ret;

	if (done_gpa && !(done_gpa & 7) && gpa_ptr(g, done_gpa, sizeof(done)))
		done_ok = true;
	if (!count) {
		ret = -VPV_EINVAL;
		goto out;
	}
	if (count > VPV_MMU_UPDATE_MAX) {
		ret = -VPV_E2BIG;
		goto out;
	}
	len = count * sizeof(b.u[0]);
	if ((gpa & 7) || !gpa_ptr(g, gpa, len) || (done_gpa && !done_ok)) {
		ret = -VPV_EFAULT;
		goto out;
	}
	if (!(g->features & VPV_F_PVMMU) || !g->mem.owner || !mm->ready) {
		ret = -VPV_EOPNOTSUPP;
		goto out;
	}
	if (gpa_read(g, gpa, &b, len)) {		/* copied once */
		ret = -VPV_EFAULT;
		goto out;
	}

	pthread_mutex_lock(&mm->lock);
	ret = arrays_alloc(g);
	if (!ret) {
		mm->audit_gen++;
		ret = ext ? run_ext(g, b.x, count, &done) :
			    run_updates(g, b.u, count, &done);
	}
	pthread_mutex_unlock(&mm->lock);
out:
	/* done after the work it counts; a page that faults: -EFAULT */
	if (done_ok && gpa_store_u64(g, done_gpa, done) && ret >= 0)
		ret = -VPV_EFAULT;
	if (ret < 0)
		STAT_INC(g, mmu_errors);
	return ret;
}

long pvmmu_mmu_update(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	return mmu_call(g, args, false);
}

long pvmmu_mmuext_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	return mmu_call(g, args, true);
}

/* ---- sessions ---- */

/* Unpin every table (NEGOTIATE: a new guest session; teardown). */
void pvmmu_reset(struct guest *g)
{
	struct guest_pvmmu *mm = &g->mmu;

	if (!mm->ready)
		return;
	pthread_mutex_lock(&mm->lock);
	if (mm->nr_tables) {
		mem_lock_acquire();
		while (mm->nr_tables) {
			struct pvmmu_table *t = mm->tables[mm->nr_tables - 1];

			table_put_refs(g, t);
			table_remove(g, t);
		}
		mem_lock_release();
	}
	pthread_mutex_unlock(&mm->lock);
}

/* Before mem_guest_remove(): the pins go back to the P2M. */
void pvmmu_destroy(struct guest *g)
{
	struct guest_pvmmu *mm = &g->mmu;

	if (!mm->ready)
		return;
	pvmmu_reset(g);
	free(mm->tables);
	free(mm->slot);
	free(mm->refs);
	free(mm->wrefs);
	pthread_mutex_destroy(&mm->lock);
	memset(mm, 0, sizeof(*mm));
}

void pvmmu_register(void)
{
	hc_register(VPV_HC_MMU_UPDATE, "mmu_update", pvmmu_mmu_update);
	hc_register(VPV_HC_MMUEXT_OP, "mmuext_op", pvmmu_mmuext_op);
}

/* Audit every guest's pinned tables (a removed guest's: none). */
static void pvmmu_tick(struct host *h, uint64_t now_ms)
{
	size_t i;

	(void)now_ms;
	for (i = 0; i < h->nr_guests; i++)
		pvmmu_audit(&h->guests[i]);
}

static void pvmmu_stats(struct sbuf *out, struct guest *g)
{
	sb_printf(out, ",\"pinned_tables\":%u", pvmmu_nr_tables(g));
}

const struct guest_subsys_ops pvmmu_subsys = {
	.name = "pvmmu",
	.setup = pvmmu_register,
	.init = pvmmu_init,
	.reset = pvmmu_reset,	/* a new session pins its tables again */
	.tick = pvmmu_tick,
	.stats = pvmmu_stats,
	.destroy = pvmmu_destroy,	/* drops its P2M pins */
};
