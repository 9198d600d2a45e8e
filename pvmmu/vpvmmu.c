// SPDX-License-Identifier: GPL-2.0
/*
 * vpvmmu: PV mapping areas on the pvkit PV MMU (VPV_F_PVMMU).
 *
 * An area is a 2 MiB aligned kernel virtual range of whole 2 MiB
 * blocks.  Each block's PTE page is pinned with the host
 * (VPV_MMUEXT_PIN_L1_TABLE); from then on the host is its only writer
 * and every PTE change is a validated VPV_HC_MMU_UPDATE request.  The
 * guest reads the PTEs directly and flushes its own TLBs.
 * include/pvkit/vpvmmu.h documents the API.
 *
 * Kernel interfaces.  Linux 6.1 exports neither get_vm_area(), init_mm
 * (so no apply_to_page_range() on kernel space), set_memory_ro()/rw()
 * nor flush_tlb_kernel_range() to modules, so:
 *  - vmap() with VM_IOREMAP reserves the range and has the kernel
 *    allocate its PTE pages: VM_IOREMAP aligns an area to its size
 *    rounded up to a power of two (up to PUD_SIZE on x86-64), so whole
 *    blocks come 2 MiB aligned and the vmap area, guard page included,
 *    owns every slot of their tables.  All slots map the zero page at
 *    first; we clear them before pinning, and vunmap() finds them empty;
 *  - lookup_address() finds each block's PTE page;
 *  - the table's direct-map alias is made read-only by clearing RW in
 *    its 4 KiB direct-map PTE.  A large direct mapping is split first
 *    with set_pages_uc() + set_pages_wb() (exported, and a cache-mode
 *    change of one page makes CPA split); 6.1 CPA never merges again;
 *  - TLB flushes are __flush_tlb_all() on every CPU, which covers every
 *    PCID with and without PTI.  Only removed or changed mappings need
 *    one; filling an empty slot does not.
 *
 * Lazy mode is per task (see vpv_mmu_lazy_enter()): a task in lazy mode
 * owns a struct vpv_lazy with a VPV_MMU_UPDATE_MAX-request queue, found
 * through a short list (tasks in lazy mode at once are few).  Lazy or
 * not, TLB flushes happen at vpv_area_submit() (and destroy) only, for
 * areas where the host replaced a present entry since the last flush.
 *
 * Locking: vpv_areas_lock (mutex) guards the list of areas;
 * area->lock (mutex) guards an area's shadow, its own queue and TLB
 * state, and is held across the area's own hypercalls; vpv_lazy_lock
 * (spinlock) guards the lazy lists.  A lazy queue is issued without any
 * area lock held; its completion takes each owner's lock in turn.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/io.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/vmalloc.h>
#include <asm/cpufeature.h>
#include <asm/pgtable.h>
#include <asm/set_memory.h>
#include <asm/tlbflush.h>
#include <pvkit/vhypercall.h>
#include <pvkit/vpvmmu.h>

#include "vpvmmu_logic.h"

#define VPV_LAZY_CACHE_MAX	4

struct vpv_block {
	struct page *table;		/* the pinned PTE page */
	u64 gpa;			/* its guest physical address */
	bool ro;			/* direct-map alias read-only */
	bool pinned;
};

struct vpv_area {
	void *addr;
	unsigned long size;
	unsigned int nblocks;
	struct vpv_block *blocks;
	struct mutex lock;		/* see the top of the file */
	u64 *shadow;			/* per slot: what the host applied */
	unsigned long mapped;		/* present slots in the shadow */
	struct vpv_mmu_queue q;		/* own updates, cap 1 but at destroy */
	struct vpv_mmuext_op *ext;	/* nblocks, for pin/unpin */
	bool tlb_dirty;			/* present slot changed since a flush */
	u64 dirty_gen;			/* vpv_tlb_gen when it changed */
	bool broken;			/* an update's outcome is unknown */
	bool vmapped;			/* made by vpv_vmap() */
	atomic_t queued;		/* requests in lazy queues */
	struct list_head node;		/* vpv_areas */
};

struct vpv_lazy {
	struct list_head node;		/* vpv_lazy_active or _cache */
	struct task_struct *task;
	unsigned int depth;
	long err;			/* first error in this lazy section */
	struct vpv_mmu_queue q;
};

struct vpv_mmu_counters {
	atomic64_t areas;
	atomic64_t pinned_tables;
	atomic64_t updates_queued;
	atomic64_t updates_applied;
	atomic64_t hypercalls;
	atomic64_t batches;
	atomic64_t errors;
	atomic64_t tlb_flushes;
	atomic64_t leaked_areas;
};

static struct vpv_mmu_counters vpv_st;
static LIST_HEAD(vpv_areas);
static DEFINE_MUTEX(vpv_areas_lock);
static LIST_HEAD(vpv_lazy_active);
static LIST_HEAD(vpv_lazy_cache);
static unsigned int vpv_lazy_cached;
static atomic_t vpv_nr_lazy = ATOMIC_INIT(0);
static DEFINE_SPINLOCK(vpv_lazy_lock);
static atomic64_t vpv_tlb_gen = ATOMIC64_INIT(1);
static struct dentry *vpv_dir;

#define vpv_inc(name)		atomic64_inc(&vpv_st.name)
#define vpv_dec(name)		atomic64_dec(&vpv_st.name)
#define vpv_add(name, n)	atomic64_add(n, &vpv_st.name)

/* ---- TLB and direct map ---- */

static void vpv_flush_tlb_local(void *unused)
{
	__flush_tlb_all();
}

static void vpv_tlb_flush_all(void)
{
	/* before the IPIs: a change recorded after this is flushed again */
	atomic64_inc(&vpv_tlb_gen);
	on_each_cpu(vpv_flush_tlb_local, NULL, 1);
	vpv_inc(tlb_flushes);
}

/*
 * Set or clear RW in the 4 KiB direct-map PTE of @pg (splitting a large
 * mapping first).  The caller flushes the TLBs.
 */
static int vpv_dmap_set_rw(struct page *pg, bool rw)
{
	unsigned long va = (unsigned long)page_address(pg);
	unsigned int level;
	pte_t *ptep, pte;
	int err;

	ptep = lookup_address(va, &level);
	if (ptep && level != PG_LEVEL_4K) {
		err = set_pages_uc(pg, 1);
		if (err)
			return err;
		err = set_pages_wb(pg, 1);
		if (err)
			return err;
		ptep = lookup_address(va, &level);
	}
	if (!ptep || level != PG_LEVEL_4K || !pte_present(*ptep))
		return -EFAULT;
	pte = rw ? pte_set_flags(*ptep, _PAGE_RW) :
		   pte_clear_flags(*ptep, _PAGE_RW);
	set_pte_atomic(ptep, pte);
	return 0;
}

/* ---- shadow bookkeeping ---- */

/* The host applied @val to @slot; note whether a TLB flush is due. */
static void vpv_area_apply(struct vpv_area *a, unsigned long slot, u64 val)
{
	u64 old = a->shadow[slot];

	lockdep_assert_held(&a->lock);
	a->shadow[slot] = val;
	if (vpv_pte_present(val))
		a->mapped++;
	if (!vpv_pte_present(old))
		return;
	a->mapped--;
	if (!a->tlb_dirty) {
		a->tlb_dirty = true;
		a->dirty_gen = atomic64_read(&vpv_tlb_gen);
	}
}

static long vpv_mmu_issue(struct vpv_mmu_queue *q, unsigned int count)
{
	long ret = vpv_hypercall4(VPV_HC_MMU_UPDATE, virt_to_phys(q->reqs),
				  count, virt_to_phys(q->done), 0);

	vpv_inc(hypercalls);
	if (ret)
		vpv_inc(errors);
	return ret;
}

static long vpv_lazy_issue(struct vpv_mmu_queue *q, unsigned int count)
{
	vpv_inc(batches);
	return vpv_mmu_issue(q, count);
}

/* Completion of the area's own queue: area->lock is held. */
static void vpv_area_complete(struct vpv_mmu_queue *q, unsigned int i,
			      bool applied)
{
	struct vpv_area *a = q->priv;

	if (applied) {
		vpv_area_apply(a, q->meta[i].slot, q->reqs[i].val);
		vpv_inc(updates_applied);
	} else if (vpv_mmu_outcome_unknown(q->last_ret)) {
		a->broken = true;
	}
}

/* Completion of a lazy queue: no area lock is held. */
static void vpv_lazy_complete(struct vpv_mmu_queue *q, unsigned int i,
			      bool applied)
{
	struct vpv_area *a = q->meta[i].owner;

	mutex_lock(&a->lock);
	if (applied) {
		vpv_area_apply(a, q->meta[i].slot, q->reqs[i].val);
		vpv_inc(updates_applied);
	} else if (vpv_mmu_outcome_unknown(q->last_ret)) {
		a->broken = true;
	}
	mutex_unlock(&a->lock);
	atomic_dec(&a->queued);
}

static int vpv_queue_alloc(struct vpv_mmu_queue *q, unsigned int cap,
			   vpv_mmu_issue_t issue, vpv_mmu_complete_t complete,
			   void *priv)
{
	/* kmalloc: physically contiguous, the host reads it by GPA */
	q->reqs = kmalloc_array(VPV_MMU_UPDATE_MAX, sizeof(*q->reqs),
				GFP_KERNEL);
	q->meta = kmalloc_array(VPV_MMU_UPDATE_MAX, sizeof(*q->meta),
				GFP_KERNEL);
	q->done = kmalloc(sizeof(*q->done), GFP_KERNEL);
	if (!q->reqs || !q->meta || !q->done)
		return -ENOMEM;
	q->cap = cap;
	q->count = 0;
	q->issue = issue;
	q->complete = complete;
	q->priv = priv;
	return 0;
}

static void vpv_queue_free(struct vpv_mmu_queue *q)
{
	kfree(q->done);
	kfree(q->meta);
	kfree(q->reqs);
}

/* ---- lazy mode ---- */

static struct vpv_lazy *vpv_lazy_current(void)
{
	struct vpv_lazy *lz, *found = NULL;

	if (!atomic_read(&vpv_nr_lazy))
		return NULL;
	spin_lock(&vpv_lazy_lock);
	list_for_each_entry(lz, &vpv_lazy_active, node) {
		if (lz->task == current) {
			found = lz;
			break;
		}
	}
	spin_unlock(&vpv_lazy_lock);
	/* only the task itself adds or removes its entry */
	return found;
}

static void vpv_lazy_free(struct vpv_lazy *lz)
{
	vpv_queue_free(&lz->q);
	kfree(lz);
}

static struct vpv_lazy *vpv_lazy_get_free(void)
{
	struct vpv_lazy *lz;

	spin_lock(&vpv_lazy_lock);
	lz = list_first_entry_or_null(&vpv_lazy_cache, struct vpv_lazy, node);
	if (lz) {
		list_del(&lz->node);
		vpv_lazy_cached--;
	}
	spin_unlock(&vpv_lazy_lock);
	if (lz)
		return lz;

	lz = kzalloc(sizeof(*lz), GFP_KERNEL);
	if (!lz)
		return NULL;
	if (vpv_queue_alloc(&lz->q, VPV_MMU_UPDATE_MAX, vpv_lazy_issue,
			    vpv_lazy_complete, lz)) {
		vpv_lazy_free(lz);
		return NULL;
	}
	return lz;
}

void vpv_mmu_lazy_enter(void)
{
	struct vpv_lazy *lz = vpv_lazy_current();

	might_sleep();
	if (lz) {
		lz->depth++;
		return;
	}
	lz = vpv_lazy_get_free();
	if (!lz) {
		pr_warn_ratelimited("no memory for a lazy queue, updates go one by one\n");
		return;
	}
	lz->task = current;
	lz->depth = 1;
	lz->err = 0;
	spin_lock(&vpv_lazy_lock);
	list_add(&lz->node, &vpv_lazy_active);
	atomic_inc(&vpv_nr_lazy);
	spin_unlock(&vpv_lazy_lock);
}
EXPORT_SYMBOL_GPL(vpv_mmu_lazy_enter);

/* Issue a lazy queue; return that flush's error (also kept in lz->err). */
static long vpv_lazy_flush(struct vpv_lazy *lz)
{
	long ret = vpv_mmu_q_flush(&lz->q);

	if (ret && !lz->err)
		lz->err = ret;
	return ret;
}

int vpv_mmu_lazy_leave(void)
{
	struct vpv_lazy *lz = vpv_lazy_current();
	long ret;

	might_sleep();
	if (!lz || --lz->depth)
		return 0;
	vpv_lazy_flush(lz);
	ret = lz->err;

	spin_lock(&vpv_lazy_lock);
	list_del(&lz->node);
	atomic_dec(&vpv_nr_lazy);
	if (vpv_lazy_cached < VPV_LAZY_CACHE_MAX) {
		list_add(&lz->node, &vpv_lazy_cache);
		vpv_lazy_cached++;
		lz = NULL;
	}
	spin_unlock(&vpv_lazy_lock);
	if (lz)
		vpv_lazy_free(lz);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_mmu_lazy_leave);

/* ---- pin and unpin ---- */

/*
 * One MMUEXT_OP of @cmd over blocks [@from, @from + @n); return the
 * result and store in *@applied how many the host applied.
 */
static long vpv_area_mmuext(struct vpv_area *a, unsigned int cmd,
			    unsigned int from, unsigned int n,
			    unsigned int *applied)
{
	unsigned int i;
	long ret;

	lockdep_assert_held(&a->lock);
	for (i = 0; i < n; i++) {
		a->ext[i].cmd = cmd;
		a->ext[i].pad = 0;
		a->ext[i].pfn = a->blocks[from + i].gpa >> PAGE_SHIFT;
	}
	*a->q.done = 0;
	ret = vpv_hypercall4(VPV_HC_MMUEXT_OP, virt_to_phys(a->ext), n,
			     virt_to_phys(a->q.done), 0);
	vpv_inc(hypercalls);
	if (ret)
		vpv_inc(errors);
	if (ret > 0)
		ret = -EIO;
	*applied = vpv_mmu_applied(ret, READ_ONCE(*a->q.done), n);
	return ret;
}

static void vpv_area_set_pinned(struct vpv_area *a, unsigned int from,
				unsigned int n, bool pinned)
{
	unsigned int i;

	for (i = from; i < from + n; i++) {
		if (a->blocks[i].pinned == pinned)
			continue;
		a->blocks[i].pinned = pinned;
		if (pinned)
			vpv_inc(pinned_tables);
		else
			vpv_dec(pinned_tables);
	}
}

/*
 * Unpin every pinned table.  A table the host does not know as pinned
 * (-ENOENT) is not pinned.  Return: false if some table may still be
 * pinned.
 */
static bool vpv_area_unpin_all(struct vpv_area *a)
{
	unsigned int from = 0, applied;
	long ret;

	while (from < a->nblocks) {
		if (!a->blocks[from].pinned) {
			from++;
			continue;
		}
		ret = vpv_area_mmuext(a, VPV_MMUEXT_UNPIN_TABLE, from, 1,
				      &applied);
		if (ret && ret != -ENOENT) {
			pr_err("host refused to unpin table %#llx: %ld\n",
			       a->blocks[from].gpa, ret);
			return false;
		}
		vpv_area_set_pinned(a, from, 1, false);
		from++;
	}
	return true;
}

/* ---- create and destroy ---- */

/* Reserve the range, let the kernel allocate its tables, clear them. */
static int vpv_area_reserve(struct vpv_area *a)
{
	unsigned long n = a->size >> PAGE_SHIFT, i;
	struct page **pages;
	unsigned int b, level;
	pte_t *tbl;

	pages = kvmalloc_array(n, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		pages[i] = ZERO_PAGE(0);
	a->addr = vmap(pages, n, VM_IOREMAP, PAGE_KERNEL_RO);
	kvfree(pages);
	if (!a->addr)
		return -ENOMEM;
	if (!IS_ALIGNED((unsigned long)a->addr, VPV_AREA_BLOCK_SIZE)) {
		pr_err("vmap area %p is not 2 MiB aligned\n", a->addr);
		return -ENOMEM;
	}

	for (b = 0; b < a->nblocks; b++) {
		unsigned long va = (unsigned long)a->addr +
				   b * VPV_AREA_BLOCK_SIZE;

		tbl = lookup_address(va, &level);
		if (!tbl || level != PG_LEVEL_4K || offset_in_page(tbl) ||
		    lookup_address(va + VPV_AREA_BLOCK_SIZE - PAGE_SIZE,
				   &level) != tbl + VPV_PTES_PER_TABLE - 1) {
			pr_err("no 4 KiB page table found for %#lx\n", va);
			return -EFAULT;
		}
		for (i = 0; i < VPV_PTES_PER_TABLE; i++)
			set_pte(tbl + i, __pte(0));
		a->blocks[b].table = virt_to_page(tbl);
		a->blocks[b].gpa = virt_to_phys(tbl);
	}
	/* the zero page mappings were never used, but be exact */
	vpv_tlb_flush_all();
	return 0;
}

/* Make the tables' direct-map aliases read-only (@rw false) or not. */
static int vpv_area_protect(struct vpv_area *a, bool rw)
{
	unsigned int b;
	int err = 0;

	for (b = 0; b < a->nblocks; b++) {
		struct vpv_block *blk = &a->blocks[b];

		if (!blk->table || blk->ro != rw)
			continue;
		err = vpv_dmap_set_rw(blk->table, rw);
		if (err) {
			pr_err("cannot make table %#llx %s: %d\n", blk->gpa,
			       rw ? "writable" : "read-only", err);
			break;
		}
		blk->ro = !rw;
	}
	vpv_tlb_flush_all();
	return err;
}

static void vpv_area_free(struct vpv_area *a)
{
	vpv_queue_free(&a->q);
	kfree(a->ext);
	kvfree(a->shadow);
	kfree(a->blocks);
	mutex_destroy(&a->lock);
	kfree(a);
}

/* Give back what vpv_area_create() took, as far as it got. */
static void vpv_area_release(struct vpv_area *a)
{
	bool ok;

	mutex_lock(&a->lock);
	ok = vpv_area_unpin_all(a);
	mutex_unlock(&a->lock);
	if (ok && a->addr && !vpv_area_protect(a, true)) {
		vunmap(a->addr);
	} else if (a->addr) {
		/* the host may still write the tables: never reuse them */
		pr_err("leaking area %p (%lu bytes) and its %u tables\n",
		       a->addr, a->size, a->nblocks);
		vpv_inc(leaked_areas);
	}
	vpv_area_free(a);
}

struct vpv_area *vpv_area_create(unsigned long size)
{
	unsigned int nb = vpv_area_blocks(size), applied;
	struct vpv_area *a;
	long ret;

	might_sleep();
	if (!nb)
		return ERR_PTR(-EINVAL);
	if (!(vpv_features() & VPV_F_PVMMU))
		return ERR_PTR(-ENODEV);

	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return ERR_PTR(-ENOMEM);
	mutex_init(&a->lock);
	atomic_set(&a->queued, 0);
	INIT_LIST_HEAD(&a->node);
	a->nblocks = nb;
	a->size = (unsigned long)nb * VPV_AREA_BLOCK_SIZE;
	a->blocks = kcalloc(nb, sizeof(*a->blocks), GFP_KERNEL);
	a->shadow = kvcalloc(a->size >> PAGE_SHIFT, sizeof(*a->shadow),
			     GFP_KERNEL);
	a->ext = kmalloc_array(nb, sizeof(*a->ext), GFP_KERNEL);
	ret = vpv_queue_alloc(&a->q, 1, vpv_mmu_issue, vpv_area_complete, a);
	if (ret || !a->blocks || !a->shadow || !a->ext) {
		vpv_area_free(a);
		return ERR_PTR(-ENOMEM);
	}

	ret = vpv_area_reserve(a);
	if (!ret)
		ret = vpv_area_protect(a, false);
	if (!ret) {
		mutex_lock(&a->lock);
		ret = vpv_area_mmuext(a, VPV_MMUEXT_PIN_L1_TABLE, 0, nb,
				      &applied);
		vpv_area_set_pinned(a, 0, applied, true);
		mutex_unlock(&a->lock);
		if (ret)
			pr_warn_ratelimited("PIN_L1_TABLE of table %u failed: %ld\n",
					    applied, ret);
	}
	if (ret) {
		vpv_area_release(a);
		return ERR_PTR(ret);
	}

	mutex_lock(&vpv_areas_lock);
	list_add_tail(&a->node, &vpv_areas);
	mutex_unlock(&vpv_areas_lock);
	vpv_inc(areas);
	return a;
}
EXPORT_SYMBOL_GPL(vpv_area_create);

void vpv_area_destroy(struct vpv_area *a)
{
	struct vpv_lazy *lz = vpv_lazy_current();
	unsigned long slot, n;
	bool flush = false;
	pte_t *tbl;
	long ret = 0;

	if (!a)
		return;
	might_sleep();
	if (lz)
		vpv_lazy_flush(lz);
	WARN_ON_ONCE(atomic_read(&a->queued));

	mutex_lock(&vpv_areas_lock);
	list_del_init(&a->node);
	mutex_unlock(&vpv_areas_lock);

	/* unmap what the shadow or the table itself says is mapped */
	mutex_lock(&a->lock);
	a->q.cap = VPV_MMU_UPDATE_MAX;
	n = a->size >> PAGE_SHIFT;
	for (slot = 0; slot < n && !ret; slot++) {
		struct vpv_block *blk = &a->blocks[vpv_slot_block(slot)];

		tbl = page_address(blk->table);
		if (!a->shadow[slot] &&
		    !pte_val(READ_ONCE(tbl[slot % VPV_PTES_PER_TABLE])))
			continue;
		vpv_inc(updates_queued);
		ret = vpv_mmu_q_add(&a->q, vpv_pte_slot_gpa(blk->gpa, slot), 0,
				    a, slot);
		flush = true;
	}
	if (!ret)
		ret = vpv_mmu_q_flush(&a->q);
	a->q.count = 0;
	/* lazy unmaps of this area not yet flushed out of the TLBs too */
	flush |= a->tlb_dirty;
	mutex_unlock(&a->lock);
	if (ret)
		pr_err("unmapping area %p failed: %ld\n", a->addr, ret);
	if (flush)
		vpv_tlb_flush_all();

	vpv_dec(areas);
	vpv_area_release(a);
}
EXPORT_SYMBOL_GPL(vpv_area_destroy);

void *vpv_area_addr(const struct vpv_area *a)
{
	return a->addr;
}
EXPORT_SYMBOL_GPL(vpv_area_addr);

unsigned long vpv_area_size(const struct vpv_area *a)
{
	return a->size;
}
EXPORT_SYMBOL_GPL(vpv_area_size);

/* ---- updates ---- */

static int vpv_area_update(struct vpv_area *a, unsigned long offset, u64 val)
{
	unsigned long slot = vpv_offset_slot(offset);
	struct vpv_lazy *lz;
	u64 ptr;
	long ret;

	might_sleep();
	if (!vpv_offset_valid(offset, a->size))
		return -EINVAL;
	if (READ_ONCE(a->broken))
		return -EIO;
	ptr = vpv_pte_slot_gpa(a->blocks[vpv_slot_block(slot)].gpa, slot);
	vpv_inc(updates_queued);

	lz = vpv_lazy_current();
	if (lz) {
		atomic_inc(&a->queued);
		ret = vpv_mmu_q_add(&lz->q, ptr, val, a, slot);
		if (ret && !lz->err)
			lz->err = ret;
		return ret;
	}

	mutex_lock(&a->lock);
	if (a->broken)
		ret = -EIO;
	else
		ret = vpv_mmu_q_add(&a->q, ptr, val, a, slot);
	mutex_unlock(&a->lock);
	return ret;
}

int vpv_area_map(struct vpv_area *a, unsigned long offset, unsigned long pfn,
		 pgprot_t prot)
{
	u64 val;
	int err;

	err = vpv_pte_make(pfn, pgprot_val(prot),
			   boot_cpu_has(X86_FEATURE_NX), &val);
	if (err)
		return err;
	return vpv_area_update(a, offset, val);
}
EXPORT_SYMBOL_GPL(vpv_area_map);

int vpv_area_unmap(struct vpv_area *a, unsigned long offset)
{
	return vpv_area_update(a, offset, 0);
}
EXPORT_SYMBOL_GPL(vpv_area_unmap);

int vpv_area_submit(struct vpv_area *a)
{
	struct vpv_lazy *lz = vpv_lazy_current();
	bool flush = false;
	long ret = 0;

	might_sleep();
	if (lz)
		ret = vpv_lazy_flush(lz);
	mutex_lock(&a->lock);
	if (a->tlb_dirty &&
	    (s64)(a->dirty_gen - atomic64_read(&vpv_tlb_gen)) >= 0)
		flush = true;
	a->tlb_dirty = false;
	mutex_unlock(&a->lock);
	if (flush)
		vpv_tlb_flush_all();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_area_submit);

/* ---- vmap-like helper ---- */

void *vpv_vmap(struct page **pages, unsigned int n, pgprot_t prot)
{
	struct vpv_area *a;
	unsigned int i;
	int err = 0, ret;

	if (!n || n > (VPV_AREA_MAX_SIZE >> PAGE_SHIFT))
		return NULL;
	a = vpv_area_create((unsigned long)n << PAGE_SHIFT);
	if (IS_ERR(a))
		return NULL;
	vpv_mmu_lazy_enter();
	for (i = 0; i < n && !err; i++)
		err = vpv_area_map(a, (unsigned long)i << PAGE_SHIFT,
				   page_to_pfn(pages[i]), prot);
	ret = vpv_mmu_lazy_leave();
	/* inside a caller's lazy section the leave above was not the last */
	err = err ?: ret ?: vpv_area_submit(a);
	if (err) {
		vpv_area_destroy(a);
		return NULL;
	}
	mutex_lock(&a->lock);
	a->vmapped = true;
	mutex_unlock(&a->lock);
	return a->addr;
}
EXPORT_SYMBOL_GPL(vpv_vmap);

void vpv_vunmap(void *addr)
{
	struct vpv_area *a, *found = NULL;

	if (!addr)
		return;
	mutex_lock(&vpv_areas_lock);
	list_for_each_entry(a, &vpv_areas, node) {
		if (a->addr == addr && a->vmapped) {
			found = a;
			break;
		}
	}
	mutex_unlock(&vpv_areas_lock);
	if (WARN(!found, "%s(%p): not from vpv_vmap()\n", __func__, addr))
		return;
	vpv_area_destroy(found);
}
EXPORT_SYMBOL_GPL(vpv_vunmap);

/* ---- introspection ---- */

static bool vpv_area_has(const struct vpv_area *a, unsigned long offset)
{
	return a && offset < a->size;
}

u64 vpv_area_pte_gpa(const struct vpv_area *a, unsigned long offset)
{
	unsigned long slot = vpv_offset_slot(offset);

	if (!vpv_area_has(a, offset))
		return 0;
	return vpv_pte_slot_gpa(a->blocks[vpv_slot_block(slot)].gpa, slot);
}
EXPORT_SYMBOL_GPL(vpv_area_pte_gpa);

u64 vpv_area_pte_read(const struct vpv_area *a, unsigned long offset)
{
	unsigned long slot = vpv_offset_slot(offset);
	pte_t *tbl;

	if (!vpv_area_has(a, offset))
		return 0;
	tbl = page_address(a->blocks[vpv_slot_block(slot)].table);
	return pte_val(READ_ONCE(tbl[slot % VPV_PTES_PER_TABLE]));
}
EXPORT_SYMBOL_GPL(vpv_area_pte_read);

u64 vpv_area_pte_shadow(const struct vpv_area *a, unsigned long offset)
{
	if (!vpv_area_has(a, offset))
		return 0;
	return READ_ONCE(a->shadow[vpv_offset_slot(offset)]);
}
EXPORT_SYMBOL_GPL(vpv_area_pte_shadow);

struct page *vpv_area_table_page(const struct vpv_area *a,
				 unsigned long offset)
{
	if (!vpv_area_has(a, offset))
		return NULL;
	return a->blocks[vpv_slot_block(vpv_offset_slot(offset))].table;
}
EXPORT_SYMBOL_GPL(vpv_area_table_page);

void vpv_mmu_get_stats(struct vpv_mmu_stats *st)
{
	st->areas = atomic64_read(&vpv_st.areas);
	st->pinned_tables = atomic64_read(&vpv_st.pinned_tables);
	st->updates_queued = atomic64_read(&vpv_st.updates_queued);
	st->updates_applied = atomic64_read(&vpv_st.updates_applied);
	st->hypercalls = atomic64_read(&vpv_st.hypercalls);
	st->batches = atomic64_read(&vpv_st.batches);
	st->errors = atomic64_read(&vpv_st.errors);
	st->tlb_flushes = atomic64_read(&vpv_st.tlb_flushes);
	st->leaked_areas = atomic64_read(&vpv_st.leaked_areas);
}
EXPORT_SYMBOL_GPL(vpv_mmu_get_stats);

/* ---- debugfs ---- */

static int vpv_stats_show(struct seq_file *m, void *v)
{
	struct vpv_mmu_stats st;

	vpv_mmu_get_stats(&st);
	seq_printf(m, "areas %llu\n", st.areas);
	seq_printf(m, "pinned_tables %llu\n", st.pinned_tables);
	seq_printf(m, "updates_queued %llu\n", st.updates_queued);
	seq_printf(m, "updates_applied %llu\n", st.updates_applied);
	seq_printf(m, "hypercalls %llu\n", st.hypercalls);
	seq_printf(m, "batches %llu\n", st.batches);
	seq_printf(m, "errors %llu\n", st.errors);
	seq_printf(m, "tlb_flushes %llu\n", st.tlb_flushes);
	seq_printf(m, "leaked_areas %llu\n", st.leaked_areas);
	seq_printf(m, "lazy_tasks %d\n", atomic_read(&vpv_nr_lazy));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vpv_stats);

/* ---- module ---- */

static int __init vpv_mmu_init(void)
{
	u64 features = vpv_features();
	long ret;

	if (!(features & VPV_F_PVMMU)) {
		pr_err("host does not offer VPV_F_PVMMU (negotiated features %#llx; vhypercall bound?)\n",
		       features);
		return -ENODEV;
	}
	/* count 0 is refused by a host that implements the call */
	ret = vpv_hypercall4(VPV_HC_MMUEXT_OP, 0, 0, 0, 0);
	if (ret == -VPV_ENOSYS || ret == -EOPNOTSUPP || ret == -ENODEV) {
		pr_err("host does not implement VPV_HC_MMUEXT_OP (%ld)\n", ret);
		return -ENODEV;
	}
	if (ret != -EINVAL)
		pr_warn("MMUEXT_OP with count 0 returned %ld, not -EINVAL\n",
			ret);

	vpv_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("stats", 0444, vpv_dir, NULL, &vpv_stats_fops);
	pr_info("PV MMU up: areas of 2 MiB blocks, batches of up to %u updates\n",
		VPV_MMU_UPDATE_MAX);
	return 0;
}

static void __exit vpv_mmu_exit(void)
{
	struct vpv_lazy *lz, *tmp;

	debugfs_remove_recursive(vpv_dir);
	/* users hold a module reference: no area and no lazy task is left */
	WARN_ON(!list_empty(&vpv_areas));
	WARN_ON(!list_empty(&vpv_lazy_active));
	list_for_each_entry_safe(lz, tmp, &vpv_lazy_cache, node) {
		list_del(&lz->node);
		vpv_lazy_free(lz);
	}
}

module_init(vpv_mmu_init);
module_exit(vpv_mmu_exit);

MODULE_DESCRIPTION("pvkit PV MMU: host-validated kernel mapping areas");
MODULE_LICENSE("GPL");
