/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory (src/memory): the per-guest memory manager and PV MMU state,
 * embedded in struct guest.
 * Included by vpv_host.h before struct guest; every
 * function is documented where it is defined.
 */
#ifndef VPV_MEMORY_TYPES_H
#define VPV_MEMORY_TYPES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vpv_abi.h"

/*
 * Per-guest memory state (mem.c).  Everything but the counters in
 * struct guest_stats is protected by the memory manager's lock.  The
 * P2M is indexed by page index (RAM file offset >> 12), not by PFN:
 * the PCI hole has no entries.
 */
struct guest_mem {
	uint32_t *p2m;		/* page index -> MFN or MEM_MFN_INVALID */
	uint8_t *pins;		/* page index -> pin count */
	uint64_t *claim;	/* bitmap: pages a memory op is working on */
	pthread_mutex_t op_lock; /* one memory op at a time, outside mem_lock */
	uint64_t nr_pages;	/* RAM pages */
	uint64_t populated;
	uint64_t pinned;	/* pages with a pin count > 0 */
	uint32_t owner;		/* M2P owner id, 0: not registered */
	unsigned int shares;
	bool manual;		/* target set by vpv-ctl balloon */
	uint64_t manual_pages;	/* balloon target when manual */
	uint64_t target_pages;	/* balloon target handed out by POLL */
	bool have_stats;
	uint64_t stats_ms;	/* CLOCK_MONOTONIC of the last POLL */
	struct vpv_balloon_stats last;
};

/*
 * Per-guest PV MMU state (pvmmu.c).  lock protects everything here and
 * the shadows; it is taken by the guest's hypercall thread and by the
 * main thread (1 s audit), always before mem_lock.  The per-page arrays
 * are indexed by page index like the P2M and allocated on first use.
 */
#define PVMMU_MAX_TABLES	4096u	/* pinned L1 tables per guest */
#define PVMMU_PTES		512u	/* entries per table */

struct pvmmu_table {
	uint64_t pfn;		/* the table page */
	uint64_t idx;		/* its page index */
	uint64_t gen;		/* audit_gen of the last audit */
	uint64_t pte[PVMMU_PTES];	/* host-private shadow */
};

struct guest_pvmmu {
	pthread_mutex_t lock;
	bool ready;		/* lock initialised */
	uint32_t nr_tables;	/* written under lock, read atomically */
	struct pvmmu_table **tables;	/* [PVMMU_MAX_TABLES], dense */
	uint32_t *slot;		/* page index -> table index + 1, 0: none */
	uint32_t *refs;		/* page index -> references from tables */
	uint32_t *wrefs;	/* page index -> present RW PTEs mapping it */
	uint64_t audit_gen;	/* one per hypercall and per timer audit */
	uint64_t log_window_ms;	/* rate limit of the tamper log */
	unsigned int log_lines;
	uint64_t log_suppressed;
};

#endif /* VPV_MEMORY_TYPES_H */
