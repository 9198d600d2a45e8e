/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel API exported by vpvmmu.ko: PV mapping areas, kernel virtual
 * ranges whose leaf page tables (PTE pages) are pinned with the pvkit
 * host (VPV_HC_MMUEXT_OP PIN_L1_TABLE), after which the host is their
 * only writer.  Every PTE change goes through VPV_HC_MMU_UPDATE and is
 * validated by the host; the guest reads its PTEs directly.
 *
 * An area is a whole number of 2 MiB blocks, 2 MiB aligned, so each of
 * its PTE pages maps nothing but the area.  While a table is pinned,
 * its direct-map alias is read-only (as under Xen PV).
 *
 * Rules for callers:
 *  - process context only: every call may sleep (hypercalls do);
 *  - an area belongs to its creator: updates of one area are not
 *    serialized against each other beyond keeping the module's own
 *    bookkeeping consistent, so two tasks must not update the same
 *    slot at the same time;
 *  - unmapping or remapping a slot takes effect in the TLBs only at
 *    vpv_area_submit() (lazy mode or not): free or reuse an unmapped
 *    page only after that;
 *  - mapping a slot that was empty needs no TLB flush: x86 does not
 *    cache non-present entries.
 */
#ifndef PVKIT_VPVMMU_H
#define PVKIT_VPVMMU_H

#include <linux/bits.h>
#include <linux/mm_types.h>
#include <linux/types.h>
#include <asm/pgtable_types.h>
#include "../../abi/vpv_abi.h"

/* Areas are made of 2 MiB blocks, one pinned PTE page each. */
#define VPV_AREA_BLOCK_SHIFT	21
#define VPV_AREA_BLOCK_SIZE	BIT(VPV_AREA_BLOCK_SHIFT)
#define VPV_AREA_MAX_SIZE	BIT(30)	/* 512 blocks */

struct vpv_area;

/**
 * vpv_area_create() - reserve a PV mapping area and pin its page tables
 * @size: bytes wanted, 1 .. VPV_AREA_MAX_SIZE; rounded up to whole
 *	  2 MiB blocks
 *
 * Reserves a 2 MiB aligned kernel virtual range, has the kernel allocate
 * its PTE pages, clears them, makes their direct-map aliases read-only
 * and pins them with the host.  All slots start empty.
 *
 * Return: the area, or an ERR_PTR(): -EINVAL for a bad @size, -ENOMEM,
 * -ENODEV when no host offers VPV_F_PVMMU, or the host's error for the
 * pin (-ENOSYS from a host without the PV MMU).
 */
struct vpv_area *vpv_area_create(unsigned long size);

/**
 * vpv_area_destroy() - unmap everything, unpin and free an area
 * @area: from vpv_area_create(); NULL is ignored
 *
 * Flushes the calling task's lazy updates, unmaps every slot still
 * mapped, flushes the TLBs, unpins the tables, makes their direct-map
 * aliases writable again and frees the virtual range: the host's pin
 * counts return to what they were before vpv_area_create().  If the
 * host refuses to unpin (it is gone, or broken), the tables could still
 * be written by it, so the virtual range and its tables are leaked, not
 * handed back to the kernel (logged, counted as leaked_areas).
 */
void vpv_area_destroy(struct vpv_area *area);

/**
 * vpv_area_addr() - the first byte of an area's virtual range
 * @area: the area
 *
 * Return: a 2 MiB aligned kernel virtual address.
 */
void *vpv_area_addr(const struct vpv_area *area);

/**
 * vpv_area_size() - the size of an area in bytes (whole 2 MiB blocks)
 * @area: the area
 *
 * Return: the size.
 */
unsigned long vpv_area_size(const struct vpv_area *area);

/**
 * vpv_area_map() - map a guest frame at a page of an area
 * @area: the area
 * @offset: byte offset in the area, page aligned, < vpv_area_size()
 * @pfn: guest frame number to map
 * @prot: kernel protection (PAGE_KERNEL, PAGE_KERNEL_RO, PAGE_KERNEL_NOCACHE
 *	  ...).  The PTE gets present, RW if @prot is writable, NX if
 *	  @prot has it and the CPU supports it, GLOBAL, PWT and PCD as in
 *	  @prot, ACCESSED always and DIRTY with RW (so the CPU never writes
 *	  a host-owned table to set them).  USER, PAT and non-present
 *	  protections are refused.
 *
 * Outside lazy mode the update is one VPV_HC_MMU_UPDATE hypercall and
 * the mapping is usable on return.  In lazy mode it is queued; it is
 * issued when the queue fills (VPV_MMU_UPDATE_MAX requests), at
 * vpv_area_submit() or at the outermost vpv_mmu_lazy_leave().
 *
 * Return: 0; -EINVAL for a bad @offset or @prot; -EIO if the area is
 * broken (an earlier update's outcome is unknown after a transport
 * error); otherwise the host's error for this update or, in lazy mode,
 * for an earlier queued one issued by this call's auto-flush.
 */
int vpv_area_map(struct vpv_area *area, unsigned long offset,
		 unsigned long pfn, pgprot_t prot);

/**
 * vpv_area_unmap() - clear the PTE of a page of an area
 * @area: the area
 * @offset: byte offset in the area, page aligned, < vpv_area_size()
 *
 * Issued or queued like vpv_area_map().  Clearing an empty slot is
 * allowed.  The TLBs are flushed by vpv_area_submit().
 *
 * Return: as vpv_area_map().
 */
int vpv_area_unmap(struct vpv_area *area, unsigned long offset);

/**
 * vpv_area_submit() - issue queued updates and flush the TLBs
 * @area: the area
 *
 * Issues every update the calling task has queued in lazy mode (for
 * any area), then flushes the TLBs of all CPUs if a mapping of @area
 * was removed or changed since the last flush.
 *
 * Return: 0, or the first error of the updates issued (those before the
 * failing one are applied, the rest are dropped; the area's bookkeeping
 * follows what the host applied).
 */
int vpv_area_submit(struct vpv_area *area);

/**
 * vpv_mmu_lazy_enter() - start batching the calling task's PTE updates
 *
 * Lazy mode is per task, not per CPU: hypercalls sleep (vhypercall
 * serializes its slots with a mutex), so the queue cannot live in
 * per-CPU data under preempt_disable() as the x86 lazy MMU mode does.
 * The task's queue follows it across CPUs and preemption.  Calls nest;
 * the outermost vpv_mmu_lazy_leave() flushes.  If no queue can be
 * allocated the updates are simply issued one by one.
 */
void vpv_mmu_lazy_enter(void);

/**
 * vpv_mmu_lazy_leave() - end lazy mode, issuing what was queued
 *
 * At the outermost level: issues the queued updates as one
 * VPV_HC_MMU_UPDATE.  New mappings are usable on return; removed or
 * changed ones leave the TLBs at vpv_area_submit() (which also issues
 * what is queued, so a submit alone ends a batch too).
 *
 * Return: 0, or the first error seen while in lazy mode (including
 * auto-flushes); an inner leave returns 0.
 */
int vpv_mmu_lazy_leave(void);

/**
 * vpv_vmap() - map pages into a new PV mapping area, vmap()-like
 * @pages: the pages
 * @n: how many, 1 .. VPV_AREA_MAX_SIZE / PAGE_SIZE
 * @prot: as for vpv_area_map()
 *
 * One area per call; all pages are mapped in one lazy batch.
 *
 * Return: the virtual address of the first page, or NULL.
 */
void *vpv_vmap(struct page **pages, unsigned int n, pgprot_t prot);

/**
 * vpv_vunmap() - undo vpv_vmap()
 * @addr: what vpv_vmap() returned; NULL is ignored
 */
void vpv_vunmap(void *addr);

/* ---- Introspection, for tests and debugging ---- */

/**
 * vpv_area_pte_gpa() - guest physical address of the PTE slot of a page
 * @area: the area
 * @offset: byte offset in the area (the page offset is ignored)
 *
 * Return: the slot's GPA (what an MMU_UPDATE request's ptr names), or 0
 * if @offset is outside the area.
 */
u64 vpv_area_pte_gpa(const struct vpv_area *area, unsigned long offset);

/**
 * vpv_area_pte_read() - read the PTE of a page directly from its table
 * @area: the area
 * @offset: byte offset in the area
 *
 * Return: the current PTE value (0 outside the area).
 */
u64 vpv_area_pte_read(const struct vpv_area *area, unsigned long offset);

/**
 * vpv_area_pte_shadow() - the value the host last applied to a slot
 * @area: the area
 * @offset: byte offset in the area
 *
 * The area's own bookkeeping: what vpvmmu knows the host stored in the
 * slot.  Equals vpv_area_pte_read() unless something wrote the table
 * behind the host's back (the host restores its copy at its next audit).
 *
 * Return: the value (0 outside the area).
 */
u64 vpv_area_pte_shadow(const struct vpv_area *area, unsigned long offset);

/**
 * vpv_area_table_page() - the PTE page of a block of an area
 * @area: the area
 * @offset: byte offset in the area
 *
 * Return: the page, or NULL outside the area.
 */
struct page *vpv_area_table_page(const struct vpv_area *area,
				 unsigned long offset);

/* Counters, as in /sys/kernel/debug/vpvmmu/stats. */
struct vpv_mmu_stats {
	u64 areas;		/* live areas */
	u64 pinned_tables;	/* tables pinned now */
	u64 updates_queued;	/* requests built (lazy or not) */
	u64 updates_applied;	/* requests the host applied */
	u64 hypercalls;		/* MMU_UPDATE and MMUEXT_OP calls */
	u64 batches;		/* MMU_UPDATE calls issued from lazy mode */
	u64 errors;		/* calls that failed */
	u64 tlb_flushes;	/* all-CPU TLB flushes */
	u64 leaked_areas;	/* areas the host would not unpin */
};

/**
 * vpv_mmu_get_stats() - snapshot of the module's counters
 * @st: filled in
 */
void vpv_mmu_get_stats(struct vpv_mmu_stats *st);

#endif /* PVKIT_VPVMMU_H */
