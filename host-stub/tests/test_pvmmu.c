// SPDX-License-Identifier: GPL-2.0
/*
 * PV MMU: VPV_HC_MMU_UPDATE / VPV_HC_MMUEXT_OP on real RAM files: every
 * rule of vpv_abi.h and its error, batches, P2M pins against the
 * balloon, the shadow, the audit, NEGOTIATE, multicall and the stats.
 */
#include <pthread.h>

#include "testutil.h"

#define ARR		0x10000ull	/* request arrays live here */
#define DONE		0x18000ull	/* done count */
#define MEMARR		0x1c000ull	/* balloon PFN arrays */
#define MC		0x1e000ull	/* multicall entries */
#define G4_PFN		0x100000ull
#define ALL_F		VPV_HOST_FEATURES

#define T1		0x100ull	/* table pages */
#define T2		0x101ull
#define T3		0x102ull
#define D1		0x200ull	/* data frames */
#define D2		0x201ull
#define D3		0x202ull

#define P		VPV_PTE_PRESENT
#define RW		VPV_PTE_RW
#define PTE(pfn, f)	(((uint64_t)(pfn) << 12) | (f))
#define SLOT(t, i)	(((uint64_t)(t) << 12) + 8 * (i))

static struct guest ga;		/* 64 MiB */
static struct guest gb;		/* 3 GiB: RAM split at 2G, PCI hole */

static long negotiate(struct guest *g, uint64_t f)
{
	return call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, f, 0, 0);
}

static uint64_t done_val(struct guest *g)
{
	uint64_t d;

	if (gpa_read(g, DONE, &d, sizeof(d)))
		BAIL("done");
	return d;
}

static void done_reset(struct guest *g)
{
	uint64_t d = 0xdead;

	gpa_write(g, DONE, &d, sizeof(d));
}

static long upd(struct guest *g, const struct vpv_mmu_update *r,
		unsigned int n)
{
	if (gpa_write(g, ARR, r, n * sizeof(*r)))
		BAIL("update array does not fit");
	done_reset(g);
	return call(g, VPV_HC_MMU_UPDATE, ARR, n, DONE, 0);
}

static long upd1(struct guest *g, uint64_t ptr, uint64_t val)
{
	struct vpv_mmu_update r = { ptr, val };

	return upd(g, &r, 1);
}

static long ext(struct guest *g, const struct vpv_mmuext_op *o,
		unsigned int n)
{
	if (gpa_write(g, ARR, o, n * sizeof(*o)))
		BAIL("op array does not fit");
	done_reset(g);
	return call(g, VPV_HC_MMUEXT_OP, ARR, n, DONE, 0);
}

static long ext1(struct guest *g, uint32_t cmd, uint64_t pfn)
{
	struct vpv_mmuext_op o = { .cmd = cmd, .pfn = pfn };

	return ext(g, &o, 1);
}

static long pin(struct guest *g, uint64_t pfn)
{
	return ext1(g, VPV_MMUEXT_PIN_L1_TABLE, pfn);
}

static long unpin(struct guest *g, uint64_t pfn)
{
	return ext1(g, VPV_MMUEXT_UNPIN_TABLE, pfn);
}

static unsigned int pins(struct guest *g, uint64_t pfn)
{
	unsigned int n;
	uint32_t mfn;

	if (mem_p2m_lookup(g, pfn, &mfn, &n))
		return 999;
	return n;
}

static uint64_t pinned_pages(struct guest *g)
{
	struct mem_guest_info mi;

	mem_guest_info(g, &mi);
	return mi.pinned_pages;
}

static uint64_t *ram_pte(struct guest *g, uint64_t pfn, unsigned int i)
{
	uint64_t *p = gpa_ptr(g, pfn << 12, VPV_PAGE_SIZE);

	if (!p)
		BAIL("pte outside RAM");
	return &p[i];
}

static void clear_page(struct guest *g, uint64_t pfn)
{
	memset(gpa_ptr(g, pfn << 12, VPV_PAGE_SIZE), 0, VPV_PAGE_SIZE);
}

static long balloon(struct guest *g, unsigned int cmd, uint64_t pfn)
{
	gpa_write(g, MEMARR, &pfn, sizeof(pfn));
	return call(g, VPV_HC_MEMORY_OP, cmd, MEMARR, 1, 0);
}

static void test_whole_call(void)
{
	struct vpv_mmu_update r = { SLOT(T1, 0), 0 };
	uint64_t end = 64ull << 20;

	gpa_write(&ga, ARR, &r, sizeof(r));
	done_reset(&ga);
	is(call(&ga, VPV_HC_MMU_UPDATE, ARR, 1, DONE, 0), -VPV_EOPNOTSUPP,
	   "MMU_UPDATE before NEGOTIATE -> EOPNOTSUPP");
	is(done_val(&ga), 0, "... done = 0 written");
	is(call(&ga, VPV_HC_MMUEXT_OP, ARR, 1, 0, 0), -VPV_EOPNOTSUPP,
	   "MMUEXT_OP before NEGOTIATE -> EOPNOTSUPP");
	is(negotiate(&ga, VPV_F_BALLOON), VPV_F_BALLOON,
	   "NEGOTIATE without PVMMU");
	is(call(&ga, VPV_HC_MMUEXT_OP, ARR, 1, 0, 0), -VPV_EOPNOTSUPP,
	   "MMUEXT_OP with PVMMU not negotiated -> EOPNOTSUPP");
	is(negotiate(&ga, ALL_F), ALL_F, "NEGOTIATE with PVMMU");
	ok(ALL_F & VPV_F_PVMMU, "VPV_F_PVMMU offered");
	is(ga.hdr->host_features & VPV_F_PVMMU, VPV_F_PVMMU,
	   "header advertises VPV_F_PVMMU");

	done_reset(&ga);
	is(call(&ga, VPV_HC_MMU_UPDATE, ARR, 0, DONE, 0), -VPV_EINVAL,
	   "MMU_UPDATE count 0 -> EINVAL");
	is(done_val(&ga), 0, "... done = 0 written");
	is(call(&ga, VPV_HC_MMUEXT_OP, ARR, 0, 0, 0), -VPV_EINVAL,
	   "MMUEXT_OP count 0 -> EINVAL");
	is(call(&ga, VPV_HC_MMU_UPDATE, ARR, VPV_MMU_UPDATE_MAX + 1, 0, 0),
	   -VPV_E2BIG, "MMU_UPDATE count 513 -> E2BIG");
	is(call(&ga, VPV_HC_MMUEXT_OP, ARR, VPV_MMU_UPDATE_MAX + 1, 0, 0),
	   -VPV_E2BIG, "MMUEXT_OP count 513 -> E2BIG");
	is(call(&ga, VPV_HC_MMU_UPDATE, ARR, UINT64_MAX, 0, 0), -VPV_E2BIG,
	   "MMU_UPDATE count ~0 -> E2BIG");
	is(call(&ga, VPV_HC_MMU_UPDATE, ARR + 4, 1, 0, 0), -VPV_EFAULT,
	   "array not 8-byte aligned -> EFAULT");
	is(call(&ga, VPV_HC_MMUEXT_OP, end, 1, 0, 0), -VPV_EFAULT,
	   "array outside RAM -> EFAULT");
	is(call(&ga, VPV_HC_MMU_UPDATE, end - 16, 2, 0, 0), -VPV_EFAULT,
	   "array straddling the end of RAM -> EFAULT");
	is(call(&ga, VPV_HC_MMU_UPDATE, UINT64_MAX - 7, 1, 0, 0), -VPV_EFAULT,
	   "array at ~0 -> EFAULT");
	is(call(&ga, VPV_HC_MMU_UPDATE, ARR, 1, DONE + 4, 0), -VPV_EFAULT,
	   "done_gpa not aligned -> EFAULT");
	is(call(&ga, VPV_HC_MMUEXT_OP, ARR, 1, end, 0), -VPV_EFAULT,
	   "done_gpa outside RAM -> EFAULT");
	is(call(&gb, VPV_HC_MMU_UPDATE, 0x80000000ull, 1, 0, 0), -VPV_EFAULT,
	   "array in the PCI hole -> EFAULT");
	is(negotiate(&gb, ALL_F), ALL_F, "gb: NEGOTIATE");
	is(call(&ga, VPV_HC_MMU_UPDATE, ARR, 1, 0, 0), -VPV_EPERM,
	   "valid call, done_gpa 0: the request's error (no table)");
}

static void test_pin_rules(void)
{
	struct vpv_mmuext_op o = { .cmd = VPV_MMUEXT_PIN_L1_TABLE, .pfn = T1,
				   .pad = 1 };

	clear_page(&ga, T1);
	clear_page(&ga, T2);
	clear_page(&ga, T3);
	is(pin(&ga, T1), 0, "PIN_L1_TABLE of a zeroed page");
	is(done_val(&ga), 1, "... done = 1");
	is(pins(&ga, T1), 1, "pinned table page is pinned in the P2M");
	is(pvmmu_nr_tables(&ga), 1, "one pinned table");
	is(pin(&ga, T1), -VPV_EEXIST, "double PIN -> EEXIST");
	is(done_val(&ga), 0, "... done = 0");
	is(pins(&ga, T1), 1, "... pin count unchanged");
	is(unpin(&ga, T2), -VPV_ENOENT, "UNPIN of an unpinned page -> ENOENT");
	is(unpin(&ga, 0x4000), -VPV_ENOENT, "UNPIN outside RAM -> ENOENT");
	is(ext(&ga, &o, 1), -VPV_EINVAL, "pad != 0 -> EINVAL");
	o.cmd = VPV_MMUEXT_UNPIN_TABLE;
	is(ext(&ga, &o, 1), -VPV_EINVAL, "pad != 0 on UNPIN -> EINVAL");
	is(pvmmu_nr_tables(&ga), 1, "... still pinned");
	is(ext1(&ga, 2, T2), -VPV_ENOSYS, "unknown cmd 2 -> ENOSYS");
	is(ext1(&ga, UINT32_MAX, T2), -VPV_ENOSYS, "unknown cmd ~0 -> ENOSYS");
	is(pin(&ga, 0x4000), -VPV_EINVAL, "PIN past the end of RAM -> EINVAL");
	is(pin(&ga, UINT64_MAX), -VPV_EINVAL, "PIN pfn ~0 -> EINVAL");
	is(pin(&gb, 0x80000), -VPV_EINVAL, "PIN in the PCI hole -> EINVAL");

	is(balloon(&ga, VPV_MEMOP_DECREASE, T2), 1, "balloon out T2");
	is(pin(&ga, T2), -VPV_ENOENT, "PIN of a ballooned page -> ENOENT");
	is(balloon(&ga, VPV_MEMOP_INCREASE, T2), 1, "balloon T2 back in");
	is(pin(&ga, T2), 0, "PIN after INCREASE");
	is(unpin(&ga, T2), 0, "UNPIN");
	is(pins(&ga, T2), 0, "... P2M pin dropped");
	is(pvmmu_nr_tables(&ga), 1, "... one table left");
}

static void test_update_rules(void)
{
	uint64_t before;

	/* T1 is pinned (test_pin_rules) */
	is(upd1(&ga, SLOT(T1, 0) + 4, PTE(D1, P)), -VPV_EINVAL,
	   "ptr not 8-byte aligned -> EINVAL");
	is(done_val(&ga), 0, "... done = 0");
	is(upd1(&ga, SLOT(T1, 0) + 1, PTE(D1, P | VPV_PTE_USER)),
	   -VPV_EINVAL, "unaligned ptr ranks before the value");
	is(upd1(&ga, SLOT(T2, 0), PTE(D1, P)), -VPV_EPERM,
	   "ptr in an unpinned page -> EPERM");
	is(upd1(&ga, 64ull << 20, PTE(D1, P)), -VPV_EPERM,
	   "ptr outside RAM -> EPERM");
	is(upd1(&gb, 0x80000000ull, PTE(D1, P)), -VPV_EPERM,
	   "ptr in the PCI hole -> EPERM");
	is(upd1(&ga, SLOT(T1, 1), PTE(D1, P | VPV_PTE_USER)), -VPV_EPERM,
	   "USER bit -> EPERM");
	is(upd1(&ga, SLOT(T1, 1), PTE(D1, P | VPV_PTE_USER | (1ull << 7))),
	   -VPV_EPERM, "USER ranks before reserved bits");
	is(upd1(&ga, SLOT(T1, 1), PTE(D1, P | (1ull << 7))), -VPV_EINVAL,
	   "bit 7 (PAT/PS) -> EINVAL");
	is(upd1(&ga, SLOT(T1, 1), PTE(D1, P) | (1ull << 52)), -VPV_EINVAL,
	   "bit 52 -> EINVAL");
	is(upd1(&ga, SLOT(T1, 1), PTE(D1, P) | (1ull << 62)), -VPV_EINVAL,
	   "bit 62 -> EINVAL");
	is(upd1(&ga, SLOT(T1, 1), PTE(D1, P) | (0x7ffull << 52)), -VPV_EINVAL,
	   "bits 52..62 -> EINVAL");
	is(upd1(&ga, SLOT(T1, 1), PTE(D1, 0)), -VPV_EINVAL,
	   "non-present with a frame -> EINVAL");
	is(upd1(&ga, SLOT(T1, 1), RW), -VPV_EINVAL,
	   "non-present with flags -> EINVAL");
	is(upd1(&ga, SLOT(T1, 1), VPV_PTE_USER), -VPV_EINVAL,
	   "non-present USER -> EINVAL (not EPERM)");
	is(upd1(&ga, SLOT(T1, 1), PTE(0x4000, P)), -VPV_EINVAL,
	   "frame past the end of RAM -> EINVAL");
	is(upd1(&ga, SLOT(T1, 1), PTE(0xffffffffffull, P)), -VPV_EINVAL,
	   "frame at the top of the PFN mask -> EINVAL");
	is(*ram_pte(&ga, T1, 1), 0, "failed requests wrote nothing");

	is(balloon(&ga, VPV_MEMOP_DECREASE, D3), 1, "balloon out D3");
	is(upd1(&ga, SLOT(T1, 1), PTE(D3, P)), -VPV_ENOENT,
	   "ballooned frame -> ENOENT");
	is(upd1(&ga, SLOT(T1, 1), PTE(D3, P | VPV_PTE_USER)), -VPV_EPERM,
	   "USER ranks before ENOENT");
	is(balloon(&ga, VPV_MEMOP_INCREASE, D3), 1, "balloon D3 back in");

	is(upd1(&ga, SLOT(T1, 1), PTE(T1, P | RW)), -VPV_EPERM,
	   "mapping a pinned table (itself) RW -> EPERM");
	is(upd1(&ga, SLOT(T1, 1), PTE(T1, P)), 0,
	   "mapping a pinned table RO -> ok");
	is(pins(&ga, T1), 1, "... still one P2M pin (refs counted here)");

	before = STAT_GET(&ga, mmu_updates);
	is(upd1(&ga, SLOT(T1, 2), PTE(D1, P | RW | VPV_PTE_NX |
				       VPV_PTE_GLOBAL | VPV_PTE_SOFT |
				       VPV_PTE_PCD | VPV_PTE_PWT |
				       VPV_PTE_ACCESSED | VPV_PTE_DIRTY)), 0,
	   "every allowed bit -> ok");
	is(done_val(&ga), 1, "... done = 1");
	is(*ram_pte(&ga, T1, 2), PTE(D1, P | RW | VPV_PTE_NX |
				      VPV_PTE_GLOBAL | VPV_PTE_SOFT |
				      VPV_PTE_PCD | VPV_PTE_PWT |
				      VPV_PTE_ACCESSED | VPV_PTE_DIRTY),
	   "... written to guest RAM");
	is(pins(&ga, D1), 1, "... mapped frame pinned");
	is(STAT_GET(&ga, mmu_updates), before + 1, "mmu_updates counted");
	is(upd1(&ga, SLOT(T1, 2), 0), 0, "clear the entry");
	is(*ram_pte(&ga, T1, 2), 0, "... 0 in guest RAM");
	is(pins(&ga, D1), 0, "... frame unpinned");
	is(upd1(&ga, SLOT(T1, 511), PTE(D1, P)), 0, "last entry of a table");
	is(*ram_pte(&ga, T1, 511), PTE(D1, P), "... written");
	is(upd1(&ga, SLOT(T1, 511), 0), 0, "... cleared");

	/* a second pinned table mapped RW from the first */
	is(pin(&ga, T2), 0, "PIN T2");
	is(upd1(&ga, SLOT(T1, 3), PTE(T2, P | RW)), -VPV_EPERM,
	   "mapping another pinned table RW -> EPERM");
	is(upd1(&ga, SLOT(T1, 3), PTE(T2, P)), 0,
	   "mapping another pinned table RO -> ok");
	is(unpin(&ga, T2), 0, "UNPIN T2 while it is mapped RO");
	is(pins(&ga, T2), 1, "... the RO mapping keeps it pinned");
	is(upd1(&ga, SLOT(T1, 3), PTE(T2, P | RW)), 0,
	   "once unpinned it may be mapped RW");
	is(pin(&ga, T2), -VPV_EPERM, "PIN of a page mapped RW -> EPERM");
	is(pins(&ga, T2), 1, "... nothing pinned");
	is(upd1(&ga, SLOT(T1, 3), PTE(T2, P)), 0, "remap it RO");
	is(pin(&ga, T2), 0, "PIN of a page mapped RO -> ok");
	is(pins(&ga, T2), 1, "... one P2M pin for table + mapping");
	is(unpin(&ga, T2), 0, "UNPIN T2");
	is(upd1(&ga, SLOT(T1, 3), 0), 0, "unmap T2");
	is(upd1(&ga, SLOT(T1, 1), 0), 0, "unmap T1 from itself");
	is(pins(&ga, T2) + pins(&ga, D1), 0, "no pins left but T1's own");
	is(pins(&ga, T1), 1, "T1 pinned once");

	/* 3 GiB guest: frames around the PCI hole */
	clear_page(&gb, T1);
	is(pin(&gb, T1), 0, "gb: PIN");
	is(upd1(&gb, SLOT(T1, 0), PTE(0x7ffff, P)), 0,
	   "gb: last low frame -> ok");
	is(upd1(&gb, SLOT(T1, 0), PTE(0x80000, P)), -VPV_EINVAL,
	   "gb: frame in the PCI hole -> EINVAL");
	is(upd1(&gb, SLOT(T1, 0), PTE(0xfffff, P)), -VPV_EINVAL,
	   "gb: last frame of the hole -> EINVAL");
	is(upd1(&gb, SLOT(T1, 0), PTE(G4_PFN, P | RW)), 0,
	   "gb: frame at 4G -> ok");
	is(pins(&gb, G4_PFN), 1, "gb: ... pinned");
	is(pins(&gb, 0x7ffff), 0, "gb: old frame unpinned");
	is(upd1(&gb, SLOT(T1, 0), PTE(G4_PFN + (1 << 18), P)), -VPV_EINVAL,
	   "gb: frame past the end of high RAM -> EINVAL");
	is(negotiate(&gb, ALL_F), ALL_F, "gb: NEGOTIATE again");
	ok(pins(&gb, G4_PFN) == 0 && pins(&gb, T1) == 0 &&
	   pvmmu_nr_tables(&gb) == 0, "gb: ... everything unpinned");
}

static void test_pin_contents(void)
{
	struct vpv_mem_range rng = { D2 << 12, VPV_PAGE_SIZE };
	uint64_t *t3 = ram_pte(&ga, T3, 0);

	clear_page(&ga, T3);
	t3[0] = PTE(D1, P | RW);
	t3[1] = PTE(D2, P);
	t3[2] = PTE(D2, P);
	t3[5] = PTE(D3, P | VPV_PTE_USER);
	is(pin(&ga, T3), -VPV_EPERM, "PIN with a USER entry -> EPERM");
	ok(pins(&ga, T3) == 0 && pins(&ga, D1) == 0 && pins(&ga, D2) == 0 &&
	   pvmmu_nr_tables(&ga) == 1, "... nothing pinned");
	t3[5] = PTE(D3, P | (1ull << 7));
	is(pin(&ga, T3), -VPV_EINVAL, "PIN with a reserved bit -> EINVAL");
	t3[5] = 1ull << 12;
	is(pin(&ga, T3), -VPV_EINVAL, "PIN with non-present nonzero -> EINVAL");
	t3[5] = PTE(0x4000, P);
	is(pin(&ga, T3), -VPV_EINVAL, "PIN with a frame outside RAM -> EINVAL");
	t3[5] = PTE(T1, P | RW);
	is(pin(&ga, T3), -VPV_EPERM,
	   "PIN with an entry mapping a pinned table RW -> EPERM");
	t3[5] = PTE(T3, P | RW);
	is(pin(&ga, T3), -VPV_EPERM, "PIN of a table mapping itself RW -> EPERM");
	is(balloon(&ga, VPV_MEMOP_DECREASE, D3), 1, "balloon out D3");
	t3[5] = PTE(D3, P);
	is(pin(&ga, T3), -VPV_ENOENT, "PIN with a ballooned frame -> ENOENT");
	is(balloon(&ga, VPV_MEMOP_INCREASE, D3), 1, "balloon D3 back in");
	ok(pins(&ga, T3) == 0 && pins(&ga, D1) == 0 && pins(&ga, D2) == 0 &&
	   pins(&ga, D3) == 0 && pvmmu_nr_tables(&ga) == 1,
	   "failed PINs left no pins");

	t3[5] = PTE(T3, P);
	t3[6] = PTE(T1, P);
	t3[7] = PTE(D3, P);
	is(pin(&ga, T3), 0, "PIN: RW, RO, self RO, other table RO entries");
	ok(pins(&ga, T3) == 1 && pins(&ga, D1) == 1 && pins(&ga, D2) == 1 &&
	   pins(&ga, D3) == 1, "... every mapped frame pinned");
	is(pin(&ga, D1), -VPV_EPERM, "PIN of a frame T3 maps RW -> EPERM");
	is(pin(&ga, D2), 0, "PIN of a frame T3 maps RO -> ok");
	is(unpin(&ga, D2), 0, "UNPIN it");
	is(balloon(&ga, VPV_MEMOP_DECREASE, D2), -VPV_EBUSY,
	   "DECREASE of a frame a pinned table maps -> EBUSY");
	gpa_write(&ga, MEMARR, &rng, sizeof(rng));
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_REPORT_FREE, MEMARR, 1, 0),
	   -VPV_EBUSY, "REPORT_FREE of a mapped frame -> EBUSY");
	is(unpin(&ga, T3), 0, "UNPIN T3");
	ok(pins(&ga, T3) == 0 && pins(&ga, D1) == 0 && pins(&ga, D2) == 0 &&
	   pins(&ga, D3) == 0, "... every pin dropped");
	is(t3[0], PTE(D1, P | RW), "... entries stay in guest memory");
	clear_page(&ga, T3);
}

static void test_batches(void)
{
	struct vpv_mmu_update r[4] = {
		{ SLOT(T1, 10), PTE(D1, P) },
		{ SLOT(T1, 11), PTE(D2, P) },
		{ SLOT(T1, 12), PTE(D3, P | VPV_PTE_USER) },
		{ SLOT(T1, 13), PTE(D3, P) },
	};
	struct vpv_mmuext_op o[3] = {
		{ .cmd = VPV_MMUEXT_PIN_L1_TABLE, .pfn = T2 },
		{ .cmd = VPV_MMUEXT_PIN_L1_TABLE, .pfn = T2 },
		{ .cmd = VPV_MMUEXT_PIN_L1_TABLE, .pfn = T3 },
	};
	struct vpv_mmu_update big[VPV_MMU_UPDATE_MAX];
	unsigned int i;
	bool all = true;

	is(upd(&ga, r, 4), -VPV_EPERM, "batch: third request fails");
	is(done_val(&ga), 2, "... done = 2");
	ok(*ram_pte(&ga, T1, 10) == PTE(D1, P) &&
	   *ram_pte(&ga, T1, 11) == PTE(D2, P), "... first two applied");
	ok(*ram_pte(&ga, T1, 12) == 0 && *ram_pte(&ga, T1, 13) == 0,
	   "... nothing after the failure applied");
	ok(pins(&ga, D1) == 1 && pins(&ga, D2) == 1 && pins(&ga, D3) == 0,
	   "... pins match what was applied");

	is(ext(&ga, o, 3), -VPV_EEXIST, "MMUEXT batch: second op fails");
	is(done_val(&ga), 1, "... done = 1");
	ok(pvmmu_nr_tables(&ga) == 2 && pins(&ga, T3) == 0,
	   "... op after the failure not applied");
	is(unpin(&ga, T2), 0, "UNPIN T2");

	/* 512 requests: every entry of T1 maps D1 */
	for (i = 0; i < VPV_MMU_UPDATE_MAX; i++) {
		big[i].ptr = SLOT(T1, i);
		big[i].val = PTE(D1, P | RW);
	}
	is(upd(&ga, big, VPV_MMU_UPDATE_MAX), 0, "512 requests in one call");
	is(done_val(&ga), 512, "... done = 512");
	ok(pins(&ga, D1) == 1 && pins(&ga, D2) == 0,
	   "512 mappings of one frame: one P2M pin (no 8-bit overflow)");
	is(balloon(&ga, VPV_MEMOP_DECREASE, D1), -VPV_EBUSY,
	   "DECREASE of the mapped frame -> EBUSY");
	for (i = 0; i < VPV_MMU_UPDATE_MAX; i++)
		big[i].val = 0;
	big[VPV_MMU_UPDATE_MAX - 1].val = PTE(D1, P);
	is(upd(&ga, big, VPV_MMU_UPDATE_MAX), 0, "clear 511, keep one RO");
	is(pins(&ga, D1), 1, "... still pinned");
	is(balloon(&ga, VPV_MEMOP_DECREASE, D1), -VPV_EBUSY,
	   "... still EBUSY");
	is(upd1(&ga, SLOT(T1, 511), 0), 0, "clear the last mapping");
	is(pins(&ga, D1), 0, "... unpinned");
	is(balloon(&ga, VPV_MEMOP_DECREASE, D1), 1,
	   "DECREASE once unmapped -> ok");
	is(balloon(&ga, VPV_MEMOP_INCREASE, D1), 1, "INCREASE it back");
	for (i = 0; i < PVMMU_PTES; i++)
		all &= *ram_pte(&ga, T1, i) == 0;
	ok(all, "T1 all zero again");

	is(balloon(&ga, VPV_MEMOP_DECREASE, T1), -VPV_EBUSY,
	   "DECREASE of a pinned table page -> EBUSY");
	is(unpin(&ga, T1), 0, "UNPIN T1");
	is(balloon(&ga, VPV_MEMOP_DECREASE, T1), 1,
	   "DECREASE once unpinned -> ok");
	is(pin(&ga, T1), -VPV_ENOENT, "PIN of the ballooned table -> ENOENT");
	is(balloon(&ga, VPV_MEMOP_INCREASE, T1), 1, "INCREASE it back");
	is(pin(&ga, T1), 0, "PIN T1 again (reads as zeros)");
	is(mem_check(), 0, "P2M consistent");
}

static void test_shadow_audit(void)
{
	uint64_t tampered = STAT_GET(&ga, pt_tampered), v;

	is(upd1(&ga, SLOT(T1, 3), PTE(D1, P | RW)), 0, "map D1 at entry 3");
	*ram_pte(&ga, T1, 3) = PTE(D2, P);	/* guest scribbles */
	is(upd1(&ga, SLOT(T1, 3), PTE(D3, P)), 0, "overwrite entry 3 -> D3");
	ok(pins(&ga, D1) == 0 && pins(&ga, D2) == 0 && pins(&ga, D3) == 1,
	   "old frame's pin dropped from the shadow, not guest memory");
	is(STAT_GET(&ga, pt_tampered), tampered + 1,
	   "the scribble was found by the call naming the table");
	is(pin(&ga, D1), 0, "D1 (shadow said RW) may be pinned now");
	is(unpin(&ga, D1), 0, "... unpin");

	*ram_pte(&ga, T1, 7) = PTE(D2, P | RW);
	is(pvmmu_audit(&ga), 1, "audit finds a direct write");
	is(*ram_pte(&ga, T1, 7), 0, "... and restores the shadow");
	is(STAT_GET(&ga, pt_tampered), tampered + 2, "... counted");
	is(pins(&ga, D2), 0, "... no pin for the scribbled frame");
	is(pvmmu_audit(&ga), 0, "clean audit");

	v = *ram_pte(&ga, T1, 3);
	*ram_pte(&ga, T1, 3) = v | VPV_PTE_ACCESSED | VPV_PTE_DIRTY;
	is(pvmmu_audit(&ga), 0, "A/D bits set by the MMU are not tampering");
	is(*ram_pte(&ga, T1, 3), v | VPV_PTE_ACCESSED | VPV_PTE_DIRTY,
	   "... and are left alone");
	*ram_pte(&ga, T1, 4) = VPV_PTE_ACCESSED;
	is(pvmmu_audit(&ga), 1, "A bit in a non-present entry is tampering");
	is(*ram_pte(&ga, T1, 4), 0, "... repaired");

	is(pin(&ga, T2), 0, "PIN T2");
	*ram_pte(&ga, T2, 9) = PTE(D1, P | RW);
	is(unpin(&ga, T2), 0, "UNPIN of a scribbled table");
	is(*ram_pte(&ga, T2, 9), 0, "... audited and restored first");
	is(STAT_GET(&ga, pt_tampered), tampered + 4, "... counted");
	is(pins(&ga, D1), 0, "... and no pin leaked");
	is(upd1(&ga, SLOT(T1, 3), 0), 0, "clear entry 3");
}

static void test_multicall(void)
{
	struct vpv_multicall_entry e[3];
	struct vpv_mmu_update r = { SLOT(T1, 20), PTE(D2, P) };
	struct vpv_mmuext_op o = { .cmd = VPV_MMUEXT_PIN_L1_TABLE, .pfn = T2 };
	uint64_t done2 = 0;

	memset(e, 0, sizeof(e));
	gpa_write(&ga, ARR, &r, sizeof(r));
	gpa_write(&ga, ARR + 0x1000, &o, sizeof(o));
	e[0].op = VPV_HC_MMU_UPDATE;
	e[0].args[0] = ARR;
	e[0].args[1] = 1;
	e[0].args[2] = DONE;
	e[1].op = VPV_HC_MMUEXT_OP;
	e[1].args[0] = ARR + 0x1000;
	e[1].args[1] = 1;
	e[1].args[2] = DONE + 8;
	e[2] = e[1];			/* PIN T2 again: EEXIST */
	gpa_write(&ga, MC, e, sizeof(e));
	gpa_write(&ga, DONE + 8, &done2, sizeof(done2));
	done_reset(&ga);
	is(call(&ga, VPV_HC_MULTICALL, MC, 3, 0, 0), 3, "multicall ran 3");
	gpa_read(&ga, MC, e, sizeof(e));
	is(e[0].result, 0, "MMU_UPDATE inside a multicall");
	is(*ram_pte(&ga, T1, 20), PTE(D2, P), "... applied");
	is(pins(&ga, D2), 1, "... frame pinned");
	is(e[1].result, 0, "MMUEXT PIN inside a multicall");
	is(e[2].result, -VPV_EEXIST, "second PIN -> EEXIST");
	is(done_val(&ga), 1, "... done written");
	is(pvmmu_nr_tables(&ga), 2, "two tables pinned");
}

static double jnum(const struct json *o, const char *key)
{
	const struct json *v = o ? json_get(o, key) : NULL;

	return v && v->type == J_NUM ? v->num : -1;
}

static void test_negotiate(void)
{
	struct json *j, *g;
	struct host h = { .guests = &ga, .nr_guests = 1 };
	struct sbuf out;

	sb_init(&out);
	ctl_handle_line(&h, "stats", 5, &out);
	j = json_parse(out.buf);
	g = j ? json_get(j, "guests") : NULL;
	g = g ? g->child : NULL;
	ok(g && jnum(g, "pinned_tables") == 2 &&
	   jnum(g, "mmu_updates") == STAT_GET(&ga, mmu_updates) &&
	   jnum(g, "mmu_update_calls") == STAT_GET(&ga, mmu_update_calls) &&
	   jnum(g, "mmuext_ops") == STAT_GET(&ga, mmuext_ops) &&
	   jnum(g, "pt_tampered") == 4 &&
	   jnum(g, "mmu_errors") == STAT_GET(&ga, mmu_errors),
	   "stats JSON: pinned_tables and the PV MMU counters");
	ok(STAT_GET(&ga, mmu_errors) > 40 && STAT_GET(&ga, mmuext_ops) > 10 &&
	   STAT_GET(&ga, mmu_update_calls) > 30 &&
	   jnum(json_get(g, "hypercalls"), "mmu_update") > 0 &&
	   jnum(json_get(g, "hypercalls"), "mmuext_op") > 0,
	   "counters moved");
	json_free(j);
	sb_free(&out);

	ok(pinned_pages(&ga) > 0, "pages pinned before NEGOTIATE");
	is(negotiate(&ga, ALL_F), ALL_F, "NEGOTIATE (new session)");
	is(pvmmu_nr_tables(&ga), 0, "... no table pinned");
	is(pinned_pages(&ga), 0, "... every P2M pin dropped");
	ok(pins(&ga, T1) == 0 && pins(&ga, T2) == 0 && pins(&ga, D2) == 0,
	   "... tables and frames");
	is(*ram_pte(&ga, T1, 20), PTE(D2, P), "... entries stay in memory");
	is(upd1(&ga, SLOT(T1, 20), 0), -VPV_EPERM,
	   "... T1 is no longer a pinned table");
	is(mem_check(), 0, "P2M consistent");
	clear_page(&ga, T1);
}

static void test_limit(void)
{
	struct vpv_mmuext_op o[VPV_MMU_UPDATE_MAX];
	uint64_t pfn = 0x1000;
	unsigned int b, i;
	bool good = true;

	memset(gpa_ptr(&ga, pfn << 12, (PVMMU_MAX_TABLES + 1) << 12), 0,
	       (PVMMU_MAX_TABLES + 1) << 12);
	memset(o, 0, sizeof(o));
	for (b = 0; b < PVMMU_MAX_TABLES / VPV_MMU_UPDATE_MAX; b++) {
		for (i = 0; i < VPV_MMU_UPDATE_MAX; i++)
			o[i].pfn = pfn++;
		good &= ext(&ga, o, VPV_MMU_UPDATE_MAX) == 0;
	}
	ok(good && pvmmu_nr_tables(&ga) == PVMMU_MAX_TABLES,
	   "4096 tables pinned");
	is(pvmmu_audit(&ga), 0, "audit of 4096 clean tables");
	is(pin(&ga, pfn), -VPV_ENOSPC, "the 4097th -> ENOSPC");
	is(unpin(&ga, 0x1000 + 77), 0, "UNPIN one in the middle");
	is(pin(&ga, pfn), 0, "... then there is room");
	is(unpin(&ga, 0x1000 + 4000), 0, "UNPIN after a swap-remove");
	is(pin(&ga, 0x1000 + 4000), 0, "... PIN it again");
	is(negotiate(&ga, ALL_F), ALL_F, "NEGOTIATE drops all 4096");
	ok(pvmmu_nr_tables(&ga) == 0 && pinned_pages(&ga) == 0,
	   "... nothing pinned");
}

/* ---- the 1 s audit on the main thread vs the hypercall thread ---- */

static int stop_auditor;

static void *auditor(void *arg)
{
	unsigned long n = 0;

	while (!__atomic_load_n(&stop_auditor, __ATOMIC_RELAXED))
		n += pvmmu_audit(arg);
	return (void *)n;
}

static void test_concurrent_audit(void)
{
	uint64_t tampered;
	pthread_t th;
	void *found;
	unsigned int i;
	bool good = true;

	is(pin(&ga, T1), 0, "PIN T1");
	tampered = STAT_GET(&ga, pt_tampered);
	if (pthread_create(&th, NULL, auditor, &ga))
		BAIL("pthread_create");
	for (i = 0; i < 2000; i++) {
		good &= upd1(&ga, SLOT(T1, i % 512),
			     i & 1 ? 0 : PTE(D1 + (i % 7), P | RW)) == 0;
		if (i % 100 == 0) {
			good &= pin(&ga, T2) == 0;
			good &= unpin(&ga, T2) == 0;
		}
	}
	__atomic_store_n(&stop_auditor, 1, __ATOMIC_RELAXED);
	pthread_join(th, &found);
	ok(good, "2000 updates while another thread audits");
	ok(!found && STAT_GET(&ga, pt_tampered) == tampered,
	   "no false tamper reports");
	is(unpin(&ga, T1), 0, "UNPIN T1");
	is(pinned_pages(&ga), 0, "nothing pinned at the end");
	is(mem_check(), 0, "P2M consistent");
}

int main(void)
{
	test_dir_make();
	test_guest(&ga, 64ull << 20, 2);
	test_guest(&gb, 3ull << 30, 1);
	test_whole_call();
	test_pin_rules();
	test_update_rules();
	test_pin_contents();
	test_batches();
	test_shadow_audit();
	test_multicall();
	test_negotiate();
	test_limit();
	test_concurrent_audit();
	guest_destroy(&gb);
	guest_destroy(&ga);
	test_dir_remove();
	return tap_done();
}
