/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure logic of vpvmmu.ko: no hypercalls and no page tables, so both
 * the driver and the KUnit suite (vpvmmu_kunit.c) use it as is.
 */
#ifndef VPVMMU_LOGIC_H
#define VPVMMU_LOGIC_H

#include <linux/align.h>
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/types.h>
#include <asm/page.h>
#include <asm/pgtable_types.h>
#include <pvkit/vpvmmu.h>

#define VPV_PTES_PER_TABLE	512u

/* The ABI's PTE bits are the x86-64 ones. */
static_assert(VPV_PTE_PRESENT == _PAGE_PRESENT);
static_assert(VPV_PTE_RW == _PAGE_RW);
static_assert(VPV_PTE_USER == _PAGE_USER);
static_assert(VPV_PTE_PWT == _PAGE_PWT);
static_assert(VPV_PTE_PCD == _PAGE_PCD);
static_assert(VPV_PTE_ACCESSED == _PAGE_ACCESSED);
static_assert(VPV_PTE_DIRTY == _PAGE_DIRTY);
static_assert(VPV_PTE_GLOBAL == _PAGE_GLOBAL);
static_assert(VPV_PTES_PER_TABLE * PAGE_SIZE == VPV_AREA_BLOCK_SIZE);

/* ---- area geometry ---- */

/* 2 MiB blocks an area of @size bytes needs; 0 if @size is not allowed */
static inline unsigned int vpv_area_blocks(unsigned long size)
{
	if (!size || size > VPV_AREA_MAX_SIZE)
		return 0;
	return DIV_ROUND_UP(size, VPV_AREA_BLOCK_SIZE);
}

/*
 * The first 2 MiB aligned address in [@start, @start + @len) with
 * @bytes after it inside the range, or 0: how to place whole blocks in
 * an over-allocated range.
 */
static inline unsigned long vpv_block_align(unsigned long start,
					    unsigned long len,
					    unsigned long bytes)
{
	unsigned long a = ALIGN(start, VPV_AREA_BLOCK_SIZE);

	if (a < start || a - start > len || len - (a - start) < bytes)
		return 0;
	return a;
}

/* Is @offset a page of an area of @size bytes? */
static inline bool vpv_offset_valid(unsigned long offset, unsigned long size)
{
	return PAGE_ALIGNED(offset) && offset < size;
}

/* The slot (page number) of @offset in its area, and its block */
static inline unsigned long vpv_offset_slot(unsigned long offset)
{
	return offset >> PAGE_SHIFT;
}

static inline unsigned int vpv_slot_block(unsigned long slot)
{
	return slot / VPV_PTES_PER_TABLE;
}

/* GPA of the PTE of @slot in the table page at @table_gpa */
static inline u64 vpv_pte_slot_gpa(u64 table_gpa, unsigned long slot)
{
	return table_gpa + (slot % VPV_PTES_PER_TABLE) * sizeof(u64);
}

/* ---- pgprot -> PTE value ---- */

/*
 * Build the PTE mapping @pfn with the x86 protection bits @prot
 * (pgprot_val()).  Kernel mappings only: @prot must be present and
 * neither USER nor PAT (bit 7, not in VPV_PTE_ALLOWED), else -EINVAL.
 * RW, GLOBAL, PWT and PCD are copied; NX too if @nx_ok (the CPU has
 * it).  ACCESSED is always set and DIRTY with RW, so the CPU's page
 * walker never writes the host-owned table.  Software bits and
 * anything else (e.g. a memory encryption mask) are dropped.
 */
static inline int vpv_pte_make(u64 pfn, u64 prot, bool nx_ok, u64 *val)
{
	u64 v;

	if (!(prot & _PAGE_PRESENT) || (prot & (_PAGE_USER | _PAGE_PAT)))
		return -EINVAL;
	if (pfn > (VPV_PTE_PFN_MASK >> PAGE_SHIFT))
		return -EINVAL;
	v = (pfn << PAGE_SHIFT) | VPV_PTE_PRESENT | VPV_PTE_ACCESSED;
	v |= prot & (_PAGE_RW | _PAGE_GLOBAL | _PAGE_PWT | _PAGE_PCD);
	if (prot & _PAGE_RW)
		v |= VPV_PTE_DIRTY;
	if (nx_ok && (prot & _PAGE_NX))
		v |= VPV_PTE_NX;
	*val = v;
	return 0;
}

static inline bool vpv_pte_present(u64 val)
{
	return val & VPV_PTE_PRESENT;
}

static inline u64 vpv_pte_pfn(u64 val)
{
	return (val & VPV_PTE_PFN_MASK) >> PAGE_SHIFT;
}

/* ---- the update queue ---- */

struct vpv_mmu_queue;

/*
 * Issue reqs[0 .. count) as one VPV_HC_MMU_UPDATE with q->done as the
 * done word; return the hypercall's result.
 */
typedef long (*vpv_mmu_issue_t)(struct vpv_mmu_queue *q, unsigned int count);
/* Entry @i was applied by the host (@applied) or dropped. */
typedef void (*vpv_mmu_complete_t)(struct vpv_mmu_queue *q, unsigned int i,
				   bool applied);

/* Who queued a request: the area and its slot. */
struct vpv_mmu_qent {
	void *owner;
	unsigned long slot;
};

struct vpv_mmu_queue {
	struct vpv_mmu_update *reqs;	/* cap entries, physically contiguous */
	struct vpv_mmu_qent *meta;	/* cap entries */
	u64 *done;			/* the host's done word, kmalloc'ed */
	unsigned int cap;		/* 1 .. VPV_MMU_UPDATE_MAX */
	unsigned int count;		/* queued now */
	vpv_mmu_issue_t issue;
	vpv_mmu_complete_t complete;
	void *priv;
	long last_ret;			/* of the last issue */
	u64 nr_flushes;
	u64 nr_queued;
	u64 nr_applied;
	u64 nr_errors;
};

/*
 * How many of @count requests the host applied, from the call's result
 * and the done word.  0 means all of them.  Otherwise the host stopped
 * at request @done, which failed; a done word beyond the batch (a host
 * bug) is clamped to it.  A transport error (the call never reached the
 * host, done still 0) applies nothing as far as the guest can tell.
 */
static inline unsigned int vpv_mmu_applied(long ret, u64 done,
					   unsigned int count)
{
	if (!ret)
		return count;
	return min_t(u64, done, count);
}

/*
 * Issue what is queued.  Entries the host applied are completed with
 * applied = true, the rest (the failing one and everything after it)
 * are dropped.  The queue is empty afterwards.  Return: 0, the call's
 * error, or -EIO for a positive result (not in the ABI).
 */
static inline long vpv_mmu_q_flush(struct vpv_mmu_queue *q)
{
	unsigned int n = q->count, i, applied;
	long ret;

	if (!n)
		return 0;
	*q->done = 0;
	ret = q->issue(q, n);
	if (ret > 0)
		ret = -EIO;
	q->last_ret = ret;
	applied = vpv_mmu_applied(ret, READ_ONCE(*q->done), n);
	q->count = 0;
	q->nr_flushes++;
	q->nr_applied += applied;
	if (ret)
		q->nr_errors++;
	for (i = 0; i < n; i++)
		q->complete(q, i, i < applied);
	return ret;
}

/*
 * Queue one request; a queue that this fills is issued at once.
 * Return: 0, or the error of that flush (which may concern an earlier
 * request).
 */
static inline long vpv_mmu_q_add(struct vpv_mmu_queue *q, u64 ptr, u64 val,
				 void *owner, unsigned long slot)
{
	unsigned int i = q->count;

	q->reqs[i].ptr = ptr;
	q->reqs[i].val = val;
	q->meta[i].owner = owner;
	q->meta[i].slot = slot;
	q->count = i + 1;
	q->nr_queued++;
	if (q->count >= q->cap)
		return vpv_mmu_q_flush(q);
	return 0;
}

/* Is @ret a failure after which the host may still apply the batch? */
static inline bool vpv_mmu_outcome_unknown(long ret)
{
	return ret == -ETIMEDOUT || ret == -EIO;
}

#endif /* VPVMMU_LOGIC_H */
