/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the hypercall-side fuzz harnesses: a fresh test guest per
 * input (RAM in a tmpfs directory, so punched pages really go, as with
 * a memfd), a reader that turns the fuzz input into guest data, and
 * the invariants every harness checks after each input.  A broken
 * invariant aborts: libFuzzer reports it as a crash with the input.
 */
#ifndef VPV_FUZZ_GUEST_H
#define VPV_FUZZ_GUEST_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"

/* 4 MiB: 1024 pages, two 2 MiB extents; small enough to build per input */
#define FZ_RAM		(4ull << 20)
#define FZ_PAGES	(FZ_RAM >> 12)
#define FZ_SMP		4	/* hypercall slots */

int FUZZ_ENTRY(const uint8_t *data, size_t size);

/* ---- input reader: past the end everything reads as zero ---- */

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline void fz_bytes(struct fz *f, void *out, size_t len)
{
	size_t k = len < f->n ? len : f->n;

	memcpy(out, f->p, k);
	memset((uint8_t *)out + k, 0, len - k);
	f->p += k;
	f->n -= k;
}

static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t v;

	fz_bytes(f, &v, sizeof(v));
	return v;
}

/* ---- invariants ---- */

/*
 * The checks' own loops are not the code under test: no coverage
 * tracing (it cost most of the time, and would reward the fuzzer for
 * nothing).
 */
#define FZ_NOCOV	__attribute__((no_sanitize("coverage")))

#define FZ_CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);		\
			abort();					\
		}							\
	} while (0)

/* A hypercall result: >= 0 or one of the documented -VPV_E* values. */
static inline bool fz_errno_ok(long ret)
{
	switch (ret) {
	case -VPV_EPERM: case -VPV_ENOENT: case -VPV_E2BIG:
	case -VPV_EAGAIN: case -VPV_ENOMEM: case -VPV_EFAULT:
	case -VPV_EBUSY: case -VPV_EEXIST: case -VPV_EINVAL:
	case -VPV_ENOSPC: case -VPV_ENOSYS: case -VPV_EPROTO:
	case -VPV_EOPNOTSUPP:
	case -VPV_ECANCELED:	/* pending when another slot's NEGOTIATE ran */
		return true;
	}
	return ret >= 0;
}

/*
 * The PV MMU's counts recomputed from its shadows: refs[] and wrefs[]
 * of every page, slot[] of every table, one P2M pin per referenced
 * page (with no grant mapped, the PV MMU holds every pin there is).
 */
static inline FZ_NOCOV void fz_check_pvmmu(struct guest *g, bool only_pins)
{
	struct guest_pvmmu *mm = &g->mmu;
	static uint32_t refs[FZ_PAGES], wrefs[FZ_PAGES];
	uint64_t i, pinned = 0;
	uint32_t t;

	if (!mm->slot) {
		FZ_CHECK(!only_pins || !g->mem.pinned);
		return;
	}
	memset(refs, 0, sizeof(refs));
	memset(wrefs, 0, sizeof(wrefs));
	FZ_CHECK(mm->nr_tables <= PVMMU_MAX_TABLES);
	for (t = 0; t < mm->nr_tables; t++) {
		const struct pvmmu_table *tb = mm->tables[t];
		unsigned int e;

		FZ_CHECK(tb && tb->idx < FZ_PAGES);
		FZ_CHECK(mm->slot[tb->idx] == t + 1);
		refs[tb->idx]++;
		for (e = 0; e < PVMMU_PTES; e++) {
			uint64_t pte = tb->pte[e], idx;

			if (!(pte & VPV_PTE_PRESENT))
				continue;
			FZ_CHECK(!(pte & VPV_PTE_USER));
			FZ_CHECK(!mem_pfn_to_idx(g, (pte & VPV_PTE_PFN_MASK) >>
						 12, &idx));
			refs[idx]++;
			if (pte & VPV_PTE_RW) {
				FZ_CHECK(!mm->slot[idx]);	/* W^table */
				wrefs[idx]++;
			}
		}
	}
	for (i = 0; i < FZ_PAGES; i++) {
		FZ_CHECK(mm->refs[i] == refs[i]);
		FZ_CHECK(mm->wrefs[i] == wrefs[i]);
		FZ_CHECK(!mm->slot[i] || refs[i]);
		if (refs[i]) {
			FZ_CHECK(g->mem.pins[i] >= 1);
			FZ_CHECK(g->mem.p2m[i] != MEM_MFN_INVALID);
		}
		if (only_pins)
			FZ_CHECK(g->mem.pins[i] == (refs[i] != 0));
		pinned += refs[i] != 0;
	}
	if (only_pins)
		FZ_CHECK(g->mem.pinned == pinned);
}

/* grant_nr_mapped() without its lock and tracing (one thread here) */
static inline FZ_NOCOV unsigned int fz_nr_mapped(const struct guest *g)
{
	unsigned int n = 0;
	uint32_t i;

	for (i = 0; g->gnt && i < g->gnt->nr; i++)
		n += g->gnt->rd[i] || g->gnt->wr[i];
	return n;
}

/* ports bound to back-ends */
static inline FZ_NOCOV unsigned int fz_nr_bound(const struct guest *g)
{
	unsigned int p, n = 0;

	for (p = 0; p < VPV_EVTCHN_MAX_PORTS; p++)
		n += g->port_stat[p] == VPV_EVTCHN_STAT_BACKEND;
	return n;
}

/* ---- the guest ---- */

/* A fresh guest, ABI negotiated with every host feature. */
static inline void fz_guest_new(struct guest *g)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { VPV_ABI_VERSION,
						VPV_HOST_FEATURES };

	static bool init;

	if (!init) {
		init = true;
		hc_init();
	}
	/* RAM in a memfd, as vpv-host has it: a punched page is gone */
	if (guest_init(g, "fz", FZ_RAM, FZ_SMP, VPV_SHM_MIN_SIZE, NULL))
		abort();
	FZ_CHECK(hc_dispatch(g, VPV_HC_NEGOTIATE, args) ==
		 (long)VPV_HOST_FEATURES);
}

/*
 * Teardown: a new session (NEGOTIATE) unpins every table and resets
 * the back-ends, then the guest goes.  Nothing may stay pinned, mapped
 * or registered, and the pool must be consistent before and after.
 */
static inline void fz_guest_end(struct guest *g)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { VPV_ABI_VERSION,
						VPV_HOST_FEATURES };
	struct mem_host_info hi;

	FZ_CHECK(mem_check() == 0);
	if (getenv("FZ_VERBOSE"))	/* what a seed reached */
		fprintf(stderr,
			"fz: hcalls %llu errors %llu multicall entries %llu memop dec %llu inc %llu reported %llu polls %llu errors %llu mmu updates %llu ext %llu errors %llu tampered %llu vloop %llu bus errors %llu grants %llu\n",
			(unsigned long long)g->stats.hcalls[0] +
			g->stats.hcalls[1] + g->stats.hcalls[2] +
			g->stats.hcalls[3] + g->stats.hcalls[4] +
			g->stats.hcalls[5] + g->stats.hcalls[6] +
			g->stats.hcalls[7],
			(unsigned long long)g->stats.hcall_errors,
			(unsigned long long)g->stats.multicall_entries,
			(unsigned long long)g->stats.memop_decreased_pages,
			(unsigned long long)g->stats.memop_increased_pages,
			(unsigned long long)g->stats.memop_reported_bytes,
			(unsigned long long)g->stats.memop_polls,
			(unsigned long long)g->stats.memop_errors,
			(unsigned long long)g->stats.mmu_updates,
			(unsigned long long)g->stats.mmuext_ops,
			(unsigned long long)g->stats.mmu_errors,
			(unsigned long long)g->stats.pt_tampered,
			(unsigned long long)g->stats.vloop_requests,
			(unsigned long long)g->stats.bus_protocol_errors,
			(unsigned long long)g->stats.grants_mapped);
	FZ_CHECK(hc_dispatch(g, VPV_HC_NEGOTIATE, args) ==
		 (long)VPV_HOST_FEATURES);
	FZ_CHECK(pvmmu_nr_tables(g) == 0);
	FZ_CHECK(grant_nr_mapped(g) == 0);
	FZ_CHECK(g->mem.pinned == 0);
	fz_check_pvmmu(g, true);
	guest_destroy(g);
	FZ_CHECK(mem_check() == 0);
	mem_host_info(&hi);
	FZ_CHECK(hi.pool_pages == 0 && hi.populated_pages == 0);
}

#endif /* VPV_FUZZ_GUEST_H */
