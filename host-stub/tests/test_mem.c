// SPDX-License-Identifier: GPL-2.0
/*
 * Memory manager: VPV_HC_MEMORY_OP on real RAM files, P2M/M2P
 * consistency, the error precedence of vpv_abi.h, all-or-nothing,
 * pins, the budget and POLL with the policy; bounded mem_lock holds
 * under a large DECREASE/REPORT_FREE, POLL without policy work, and
 * memory that really leaves the host (memfd) or is counted when not.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "testutil.h"

#define ARR		0x10000ull	/* PFN / range arrays live here */
#define STATS_GPA	0x20000ull
#define ALL_F		VPV_HOST_FEATURES
#define G4_PFN		0x100000ull

static struct guest ga;		/* 65 MiB: a 2M extent can cross its end */
static struct guest gb;		/* 3 GiB: RAM split at 2G, PCI hole */

static long memop(struct guest *g, unsigned int cmd, const uint64_t *pfns,
		  unsigned int count, uint64_t order)
{
	if (gpa_write(g, ARR, pfns, count * sizeof(*pfns)))
		BAIL("array does not fit");
	return call(g, VPV_HC_MEMORY_OP, cmd, ARR, count, order);
}

static long dec1(struct guest *g, uint64_t pfn, uint64_t order)
{
	return memop(g, VPV_MEMOP_DECREASE, &pfn, 1, order);
}

static long inc1(struct guest *g, uint64_t pfn, uint64_t order)
{
	return memop(g, VPV_MEMOP_INCREASE, &pfn, 1, order);
}

static long report(struct guest *g, const struct vpv_mem_range *r,
		   unsigned int count)
{
	if (gpa_write(g, ARR, r, count * sizeof(*r)))
		BAIL("range array does not fit");
	return call(g, VPV_HC_MEMORY_OP, VPV_MEMOP_REPORT_FREE, ARR, count, 0);
}

static uint64_t blocks(struct guest *g)
{
	struct stat st;

	if (fstat(g->ram_fd, &st) < 0)
		BAIL("fstat: %s", strerror(errno));
	return st.st_blocks;
}

static uint32_t mfn_of(struct guest *g, uint64_t pfn)
{
	unsigned int pins;
	uint32_t mfn;

	if (mem_p2m_lookup(g, pfn, &mfn, &pins))
		return 0xdeadbeef;
	return mfn;
}

static bool all_valid(struct guest *g, uint64_t pfn, uint64_t n)
{
	while (n--)
		if (mfn_of(g, pfn++) == MEM_MFN_INVALID)
			return false;
	return true;
}

static bool all_invalid(struct guest *g, uint64_t pfn, uint64_t n)
{
	while (n--)
		if (mfn_of(g, pfn++) != MEM_MFN_INVALID)
			return false;
	return true;
}

static void fill(struct guest *g, uint64_t pfn, uint64_t n, int c)
{
	memset(gpa_ptr(g, pfn << 12, n << 12), c, n << 12);
}

static bool filled(struct guest *g, uint64_t pfn, uint64_t n, int c)
{
	const uint8_t *p = gpa_ptr(g, pfn << 12, n << 12);
	uint64_t i;

	for (i = 0; i < n << 12; i++)
		if (p[i] != c)
			return false;
	return true;
}

static uint64_t populated(struct guest *g)
{
	struct mem_guest_info mi;

	mem_guest_info(g, &mi);
	return mi.populated_pages;
}

static void negotiate(struct guest *g, uint64_t f)
{
	call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, f, 0, 0);
}

static void test_setup(void)
{
	struct mem_host_info hi;
	struct guest *owner;
	uint64_t pfn;

	ok(mem_check() == 0, "fresh pool consistent");
	mem_host_info(&hi);
	is(hi.pool_pages, (65ull << 8) + (3ull << 18),
	   "pool = sum of guest RAM pages");
	is(hi.populated_pages, hi.pool_pages, "guests boot fully populated");
	ok(!hi.budget_set && hi.budget_pages == hi.pool_pages &&
	   !hi.overcommitted, "default budget: the sum of RAM");
	is(populated(&gb), 3ull << 18, "3 GiB guest: 786432 pages populated");
	ok(mem_m2p_lookup(mfn_of(&gb, G4_PFN), &owner, &pfn) == 0 &&
	   owner == &gb && pfn == G4_PFN, "M2P maps back to PFN 4G");
	ok(mem_m2p_lookup(mfn_of(&gb, 0x7ffff), &owner, &pfn) == 0 &&
	   owner == &gb && pfn == 0x7ffff, "M2P maps back to the last low PFN");
	ok(mfn_of(&gb, 0x80000) == 0xdeadbeef &&
	   mfn_of(&gb, G4_PFN + (1 << 18)) == 0xdeadbeef,
	   "no P2M entry in the PCI hole or past the end");
}

static void test_features(void)
{
	uint64_t pfn = 0x200;

	is(dec1(&ga, 0x200, 0), -VPV_EOPNOTSUPP,
	   "DECREASE before NEGOTIATE -> EOPNOTSUPP");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0),
	   -VPV_EOPNOTSUPP, "POLL before NEGOTIATE -> EOPNOTSUPP");
	is(call(&ga, VPV_HC_MEMORY_OP, 4, 0, 0, 0), -VPV_ENOSYS,
	   "unknown sub-command -> ENOSYS (even before NEGOTIATE)");
	negotiate(&ga, VPV_F_BALLOON);
	is(dec1(&ga, 0x200, 9), -VPV_EINVAL, "order 9 without BALLOON_2M");
	is(report(&ga, &(struct vpv_mem_range){ 0x200000, 4096 }, 1),
	   -VPV_EOPNOTSUPP, "REPORT_FREE without PAGE_REPORTING");
	is(call(&ga, VPV_HC_MEMORY_OP, UINT64_MAX, 0, 0, 0), -VPV_ENOSYS,
	   "sub-command ~0 -> ENOSYS");
	negotiate(&ga, ALL_F);
	negotiate(&gb, ALL_F);
	is(memop(&ga, VPV_MEMOP_DECREASE, &pfn, 1, 0), 1,
	   "negotiated: DECREASE of one page returns count");
	is(memop(&ga, VPV_MEMOP_INCREASE, &pfn, 1, 0), 1,
	   "INCREASE returns count");
}

static void test_errors(void)
{
	uint64_t v[4], c0 = STAT_GET(&ga, memop_errors);

	/* count */
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ARR, 0, 0),
	   -VPV_EINVAL, "count 0 -> EINVAL");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, 1ull << 40, 1025,
		1), -VPV_E2BIG, "count 1025 -> E2BIG (before order, array)");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_REPORT_FREE, ARR, 0, 0),
	   -VPV_EINVAL, "REPORT_FREE count 0 -> EINVAL");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_REPORT_FREE, ARR, 1025, 0),
	   -VPV_E2BIG, "REPORT_FREE count 1025 -> E2BIG");
	/* order */
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, 1ull << 40, 1, 1),
	   -VPV_EINVAL, "order 1 -> EINVAL (before the array check)");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_INCREASE, ARR, 1, 10),
	   -VPV_EINVAL, "order 10 -> EINVAL");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_INCREASE, ARR, 1,
		(1ull << 32) | 9), -VPV_EINVAL, "order with high bits -> EINVAL");
	/* the array */
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ga.ram_size, 1, 0),
	   -VPV_EFAULT, "array past the end of RAM -> EFAULT");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ga.ram_size - 8, 2,
		0), -VPV_EFAULT, "array straddling the end of RAM -> EFAULT");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ARR + 4, 1, 0),
	   -VPV_EFAULT, "array not 8-byte aligned -> EFAULT");
	is(call(&gb, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, 0x80000000ull - 8,
		2, 0), -VPV_EFAULT, "array straddling the PCI hole -> EFAULT");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, ga.ram_size - 8, 0, 0),
	   -VPV_EFAULT, "POLL stats straddling the end -> EFAULT");
	/* PFNs */
	is(dec1(&ga, 65 << 8, 0), -VPV_EINVAL, "PFN past the end -> EINVAL");
	is(dec1(&ga, 64 << 8, 9), -VPV_EINVAL,
	   "2M extent crossing the end of RAM -> EINVAL");
	is(dec1(&ga, 0x201, 9), -VPV_EINVAL, "misaligned 2M PFN -> EINVAL");
	is(dec1(&ga, UINT64_MAX, 0), -VPV_EINVAL, "PFN ~0 -> EINVAL");
	is(dec1(&ga, UINT64_MAX & ~0x1ffull, 9), -VPV_EINVAL,
	   "2M PFN near ~0 (overflow) -> EINVAL");
	is(dec1(&gb, 0x80000, 0), -VPV_EINVAL, "PFN in the PCI hole -> EINVAL");
	is(dec1(&gb, G4_PFN - 0x200, 9), -VPV_EINVAL,
	   "2M extent just below 4G (hole) -> EINVAL");
	is(dec1(&gb, G4_PFN + (1 << 18), 0), -VPV_EINVAL,
	   "PFN past the end of high RAM -> EINVAL");
	is(dec1(&gb, 0x7fe00, 9), 1, "last 2M extent below the hole is fine");
	is(dec1(&gb, G4_PFN, 9), 1, "first 2M extent above 4G is fine");
	ok(inc1(&gb, 0x7fe00, 9) == 1 && inc1(&gb, G4_PFN, 9) == 1,
	   "... and both come back");
	/* duplicates */
	v[0] = 0x300;
	v[1] = 0x301;
	v[2] = 0x300;
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 3, 0), -VPV_EINVAL,
	   "the same PFN twice -> EINVAL");
	v[0] = 0x400;
	v[1] = 0x600;
	v[2] = 0x400;
	is(memop(&ga, VPV_MEMOP_INCREASE, v, 3, 9), -VPV_EINVAL,
	   "the same 2M extent twice (INCREASE) -> EINVAL");
	v[2] = 0x10000;
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 3, 9), -VPV_EINVAL,
	   "duplicate plus a PFN past the end -> EINVAL");
	ok(all_valid(&ga, 0x300, 2) && all_valid(&ga, 0x400, 0x400),
	   "failed calls changed nothing");

	/* state: ENOENT, EBUSY, EEXIST */
	is(dec1(&ga, 0x700, 0), 1, "decrease PFN 0x700");
	is(dec1(&ga, 0x700, 0), -VPV_ENOENT, "decrease it again -> ENOENT");
	v[0] = 0x701;
	v[1] = 0x700;
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 2, 0), -VPV_ENOENT,
	   "batch with an unpopulated page -> ENOENT");
	ok(all_valid(&ga, 0x701, 1), "... the populated one untouched");
	is(dec1(&ga, 0x600, 9), -VPV_ENOENT,
	   "2M extent containing an unpopulated page -> ENOENT");
	is(report(&ga, &(struct vpv_mem_range){ 0x6ff000, 0x2000 }, 1),
	   -VPV_ENOENT, "REPORT_FREE over an unpopulated page -> ENOENT");
	is(mem_pin(&ga, 0x702), 0, "pin PFN 0x702");
	v[0] = 0x703;
	v[1] = 0x702;
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 2, 0), -VPV_EBUSY,
	   "decrease of a pinned page -> EBUSY");
	is(report(&ga, &(struct vpv_mem_range){ 0x702000, 0x1000 }, 1),
	   -VPV_EBUSY, "REPORT_FREE of a pinned page -> EBUSY");
	v[0] = 0x702;
	v[1] = 0x700;
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 2, 0), -VPV_ENOENT,
	   "pinned + unpopulated: ENOENT ranks first");
	v[1] = 0x702;
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 2, 0), -VPV_EINVAL,
	   "pinned twice in one call: the duplicate ranks first");
	ok(all_valid(&ga, 0x701, 3), "EBUSY changed nothing");
	is(mem_unpin(&ga, 0x702), 0, "unpin");
	v[0] = 0x700;
	v[1] = 0x701;
	is(memop(&ga, VPV_MEMOP_INCREASE, v, 2, 0), -VPV_EEXIST,
	   "INCREASE of a populated page -> EEXIST");
	ok(all_invalid(&ga, 0x700, 1), "... the unpopulated one stays invalid");
	is(inc1(&ga, 0x700, 0), 1, "INCREASE of the unpopulated one");
	is(inc1(&ga, 0x700, 0), -VPV_EEXIST, "... twice -> EEXIST");

	/* REPORT_FREE shapes */
	{
		struct vpv_mem_range r[3] = {
			{ 0x300000, 0x1000 }, { 0x310000, 0x2000 },
			{ 0x320000, 0x1000 },
		};

		r[1].len = 0;
		is(report(&ga, r, 3), -VPV_EINVAL, "empty range -> EINVAL");
		r[1].len = 0x1800;
		is(report(&ga, r, 3), -VPV_EINVAL,
		   "length not page aligned -> EINVAL");
		r[1].len = 0x1000;
		r[1].gpa = 0x310800;
		is(report(&ga, r, 3), -VPV_EINVAL,
		   "address not page aligned -> EINVAL");
		gpa_write(&ga, ARR + 4, r, sizeof(r));
		is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_REPORT_FREE, ARR + 4,
			3, 0), -VPV_EFAULT,
		   "a misaligned array ranks before a misaligned range");
		r[1].gpa = 0x310000;
		gpa_write(&ga, ARR + 4, r, sizeof(r));
		is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_REPORT_FREE, ARR + 4,
			3, 0), -VPV_EFAULT, "misaligned array -> EFAULT");
		is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_REPORT_FREE,
			ga.ram_size - 16, 2, 0), -VPV_EFAULT,
		   "range array past the end -> EFAULT");
		r[2].gpa = ga.ram_size - 0x1000;
		r[2].len = 0x2000;
		is(report(&ga, r, 3), -VPV_EINVAL,
		   "range crossing the end of RAM -> EINVAL");
		r[2].gpa = 0xfffffffffffff000ull;
		r[2].len = 0x2000;
		is(report(&ga, r, 3), -VPV_EINVAL, "range wrapping -> EINVAL");
		r[2].gpa = 0x30f000;
		is(report(&ga, r, 3), -VPV_EINVAL,
		   "overlapping ranges -> EINVAL");
		r[0].gpa = 0x7ffff000;
		r[0].len = 0x2000;
		is(report(&gb, r, 1), -VPV_EINVAL,
		   "range straddling the PCI hole -> EINVAL");
		r[0].gpa = 0x80000000;
		r[0].len = 0x1000;
		is(report(&gb, r, 1), -VPV_EINVAL,
		   "range inside the PCI hole -> EINVAL");
	}
	ok(STAT_GET(&ga, memop_errors) > c0, "memop_errors counted");
	ok(mem_check() == 0, "P2M/M2P consistent after the error tests");
}

static void test_all_or_nothing(void)
{
	uint64_t v[8], b0, pop0, dec0, mfns[7];
	unsigned int i;

	for (i = 0; i < 7; i++)
		v[i] = 0x800 + i;
	fill(&ga, 0x800, 7, 0x5a);
	fsync(ga.ram_fd);
	for (i = 0; i < 7; i++)
		mfns[i] = mfn_of(&ga, v[i]);
	b0 = blocks(&ga);
	pop0 = populated(&ga);
	dec0 = STAT_GET(&ga, memop_decreased_pages);

	v[7] = 65 << 8;		/* past the end */
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 8, 0), -VPV_EINVAL,
	   "batch with a bad PFN at the end -> EINVAL");
	ok(filled(&ga, 0x800, 7, 0x5a) && blocks(&ga) == b0,
	   "... earlier pages keep their data and blocks");
	for (i = 0; i < 7 && mfn_of(&ga, v[i]) == mfns[i]; i++)
		;
	ok(i == 7 && populated(&ga) == pop0 &&
	   STAT_GET(&ga, memop_decreased_pages) == dec0,
	   "... P2M, accounting and counters unchanged");

	is(dec1(&ga, 0x900, 0), 1, "decrease PFN 0x900");
	v[7] = 0x900;		/* unpopulated: found in the state pass */
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 8, 0), -VPV_ENOENT,
	   "batch with an unpopulated page at the end -> ENOENT");
	ok(filled(&ga, 0x800, 7, 0x5a) && blocks(&ga) == b0 &&
	   all_valid(&ga, 0x800, 7) && populated(&ga) == pop0 - 1,
	   "... nothing punched, nothing invalidated");
	v[0] = 0x900;
	v[1] = 0x800;
	is(memop(&ga, VPV_MEMOP_INCREASE, v, 2, 0), -VPV_EEXIST,
	   "INCREASE batch ending in a populated page -> EEXIST");
	ok(all_invalid(&ga, 0x900, 1) && populated(&ga) == pop0 - 1,
	   "... the unpopulated page stays invalid");
	is(inc1(&ga, 0x900, 0), 1, "give PFN 0x900 back");
	ok(mem_check() == 0, "consistent after all-or-nothing tests");
}

static void test_4k(void)
{
	uint64_t v[64], b0, b1, pop0, inc0, dec0;
	uint32_t old[64];
	struct guest *owner;
	uint64_t pfn;
	unsigned int i, bad = 0;

	for (i = 0; i < 64; i++) {
		v[i] = 0x1000 + 2 * i;		/* every other page */
		old[i] = mfn_of(&ga, v[i]);
		fill(&ga, v[i], 1, 0xa5);
	}
	fsync(ga.ram_fd);
	b0 = blocks(&ga);
	pop0 = populated(&ga);
	dec0 = STAT_GET(&ga, memop_decreased_pages);
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 64, 0), 64,
	   "DECREASE 64 scattered pages");
	b1 = blocks(&ga);
	ok(b0 - b1 >= 64 * 8, "RAM file blocks dropped by %llu KiB",
	   (unsigned long long)(b0 - b1) / 2);
	for (i = 0; i < 64; i++) {
		bad += mfn_of(&ga, v[i]) != MEM_MFN_INVALID;
		bad += mem_m2p_lookup(old[i], &owner, &pfn) != -VPV_ENOENT;
		bad += mfn_of(&ga, v[i] + 1) == MEM_MFN_INVALID;
	}
	ok(!bad, "P2M invalid, frames free in the M2P, neighbours kept");
	ok(populated(&ga) == pop0 - 64 &&
	   STAT_GET(&ga, memop_decreased_pages) == dec0 + 64,
	   "populated and counters account for 64 pages");
	ok(mem_check() == 0, "consistent after DECREASE");

	inc0 = STAT_GET(&ga, memop_increased_pages);
	is(memop(&ga, VPV_MEMOP_INCREASE, v, 64, 0), 64, "INCREASE them back");
	for (i = 0; i < 64; i++) {
		uint32_t m = mfn_of(&ga, v[i]);

		bad += m == MEM_MFN_INVALID;
		bad += mem_m2p_lookup(m, &owner, &pfn) || owner != &ga ||
		       pfn != v[i];
		bad += !filled(&ga, v[i], 1, 0);
	}
	ok(!bad, "P2M valid, M2P points back, contents read as zeros");
	ok(populated(&ga) == pop0 &&
	   STAT_GET(&ga, memop_increased_pages) == inc0 + 64,
	   "populated back to the start");
	for (i = 0; i < 64; i++)
		fill(&ga, v[i], 1, 0x11);
	fsync(ga.ram_fd);
	ok(blocks(&ga) >= b1 + 64 * 8, "writing repopulates the file");
	ok(mem_check() == 0, "consistent after INCREASE");
}

static void test_2m(void)
{
	uint64_t v[2] = { 0x1200, 0x1600 }, b0, b1, n2m;

	fill(&ga, 0x1200, 512, 0x33);
	fill(&ga, 0x1600, 512, 0x44);
	fsync(ga.ram_fd);
	b0 = blocks(&ga);
	n2m = STAT_GET(&ga, memop_2m_extents);
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 2, 9), 2, "DECREASE two 2M extents");
	b1 = blocks(&ga);
	ok(b0 - b1 >= 1024 * 8, "4 MiB of file blocks freed (%llu KiB)",
	   (unsigned long long)(b0 - b1) / 2);
	ok(all_invalid(&ga, 0x1200, 512) && all_invalid(&ga, 0x1600, 512) &&
	   all_valid(&ga, 0x1400, 512), "1024 P2M entries invalid, gap kept");
	is(STAT_GET(&ga, memop_2m_extents), n2m + 2, "2M extents counted");
	ok(mem_check() == 0, "consistent after 2M DECREASE");
	is(inc1(&ga, 0x1200, 9), 1, "INCREASE one 2M extent");
	ok(all_valid(&ga, 0x1200, 512) && filled(&ga, 0x1200, 512, 0),
	   "2M back, zero filled");
	is(inc1(&ga, 0x1600, 0), 1, "INCREASE a single 4K page of the other");
	is(inc1(&ga, 0x1600, 9), -VPV_EEXIST,
	   "2M INCREASE over a partly populated extent -> EEXIST");
	is(dec1(&ga, 0x1600, 0), 1, "decrease the 4K page again");
	is(inc1(&ga, 0x1600, 9), 1, "now the 2M INCREASE works");
	ok(mem_check() == 0, "consistent after 2M INCREASE");
}

static void test_report(void)
{
	struct vpv_mem_range r[2] = { { 0x2000000, 0x8000 },
				      { 0x2010000, 0x8000 } };
	uint64_t b0, b1, m0 = mfn_of(&ga, 0x2000), pop0 = populated(&ga);
	uint64_t nr0 = STAT_GET(&ga, memop_reported_ranges);
	uint64_t nb0 = STAT_GET(&ga, memop_reported_bytes);

	fill(&ga, 0x2000, 8, 0x77);
	fill(&ga, 0x2010, 8, 0x77);
	fsync(ga.ram_fd);
	b0 = blocks(&ga);
	is(report(&ga, r, 2), 2, "REPORT_FREE two ranges");
	b1 = blocks(&ga);
	ok(b0 - b1 >= 16 * 8, "REPORT_FREE freed %llu KiB of the file",
	   (unsigned long long)(b0 - b1) / 2);
	ok(mfn_of(&ga, 0x2000) == m0 && all_valid(&ga, 0x2000, 8) &&
	   populated(&ga) == pop0, "P2M unchanged: pages stay populated");
	ok(filled(&ga, 0x2000, 8, 0) && filled(&ga, 0x2010, 8, 0),
	   "reported pages read as zeros");
	ok(STAT_GET(&ga, memop_reported_ranges) == nr0 + 2 &&
	   STAT_GET(&ga, memop_reported_bytes) == nb0 + 0x10000,
	   "reported ranges/bytes counted");
	is(report(&ga, r, 2), 2, "reporting again is fine (still populated)");
	is(dec1(&ga, 0x2000, 0), 1, "a reported page can be ballooned");
	is(inc1(&ga, 0x2000, 0), 1, "... and taken back");
	ok(mem_check() == 0, "consistent after REPORT_FREE");
}

static void test_budget(void)
{
	struct mem_host_info hi;
	uint64_t v[3] = { 0x2400, 0x2401, 0x2402 };

	is(memop(&ga, VPV_MEMOP_DECREASE, v, 3, 0), 3, "decrease 3 pages");
	mem_host_info(&hi);
	mem_set_budget((hi.populated_pages + 2) << 12);
	is(memop(&ga, VPV_MEMOP_INCREASE, v, 3, 0), -VPV_ENOMEM,
	   "INCREASE of 3 with room for 2 -> ENOMEM");
	ok(all_invalid(&ga, 0x2400, 3), "... none of them populated");
	is(memop(&ga, VPV_MEMOP_INCREASE, v, 2, 0), 2, "2 fit the budget");
	is(inc1(&ga, 0x2402, 0), -VPV_ENOMEM, "the third does not");
	v[0] = 0x2401;
	v[1] = 0x2402;
	is(memop(&ga, VPV_MEMOP_INCREASE, v, 2, 0), -VPV_EEXIST,
	   "EEXIST ranks before ENOMEM");
	mem_host_info(&hi);
	ok(hi.budget_set && hi.overcommitted, "budget set: overcommitted");
	mem_set_budget(0);
	is(inc1(&ga, 0x2402, 0), 1, "default budget again: it fits");
	mem_host_info(&hi);
	ok(!hi.budget_set && hi.populated_pages == hi.pool_pages,
	   "everything populated again");
}

static void test_pins(void)
{
	unsigned int i, pins;
	uint32_t mfn;
	int ret = 0;

	is(mem_pin(&gb, 0x80000), -VPV_EINVAL, "pin in the PCI hole -> EINVAL");
	is(mem_unpin(&ga, 0x300), -VPV_EINVAL, "unpin an unpinned page");
	is(dec1(&ga, 0x300, 0), 1, "decrease 0x300");
	is(mem_pin(&ga, 0x300), -VPV_ENOENT, "pin an unpopulated page");
	is(inc1(&ga, 0x300, 0), 1, "increase 0x300");
	for (i = 0; i < MEM_PIN_MAX && !ret; i++)
		ret = mem_pin(&ga, 0x300);
	ok(!ret && mem_p2m_lookup(&ga, 0x300, &mfn, &pins) == 0 &&
	   pins == MEM_PIN_MAX, "255 pins");
	is(mem_pin(&ga, 0x300), -VPV_ENOSPC, "the 256th -> ENOSPC");
	for (i = 0; i < MEM_PIN_MAX && !ret; i++)
		ret = mem_unpin(&ga, 0x300);
	ok(!ret && dec1(&ga, 0x300, 0) == 1 && inc1(&ga, 0x300, 0) == 1,
	   "unpinned: the page can be ballooned again");
	ok(mem_check() == 0, "pin counts consistent");
}

static void test_poll(void)
{
	struct vpv_balloon_stats st = { .balloon_pages = 3, .total = 1 << 26,
					.free = 1 << 25, .active_ppm = 100000 };
	struct mem_guest_info mi, mib;
	struct mem_host_info hi;
	uint64_t polls = STAT_GET(&ga, memop_polls);
	long t;

	gpa_write(&ga, STATS_GPA, &st, sizeof(st));
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0), 0,
	   "POLL without overcommit: target 0");
	mem_guest_info(&ga, &mi);
	ok(mi.have_stats && mi.stats.balloon_pages == 3 &&
	   mi.stats.active_ppm == 100000 && mi.stats.free == 1 << 25 &&
	   mi.stats_age_ms < 10000, "POLL stored the guest's stats");
	is(STAT_GET(&ga, memop_polls), polls + 1, "polls counted");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, 1ull << 40, 0, 0),
	   -VPV_EFAULT, "POLL with stats outside RAM -> EFAULT");

	/* overcommit by 256 MiB: ga (65 MiB) can give 1 MiB at most */
	mem_host_info(&hi);
	mem_set_budget((hi.pool_pages - 65536) << 12);
	t = call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0);
	mem_guest_info(&gb, &mib);
	ok(t >= 0 && t <= 256 && t + mib.target_pages == 65536,
	   "overcommitted: targets add up to the excess (ga %ld, gb %llu)",
	   t, (unsigned long long)mib.target_pages);

	ok(mem_set_manual(&ga, true, 32 << 20) == 0, "manual target 32 MiB");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0),
	   (65 - 32) << 8, "POLL returns RAM - 32 MiB in pages");
	mem_guest_info(&gb, &mib);
	is(mib.target_pages, 65536 - ((65 - 32) << 8),
	   "the manual balloon relieves the auto guest");
	ok(mem_set_manual(&ga, true, 1ull << 40) == 0 &&
	   call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0) == 0,
	   "manual target above RAM clamps the balloon to 0");
	ok(mem_set_manual(&ga, true, 0) == 0 &&
	   call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0) ==
	   65 << 8, "manual target 0: the whole RAM");
	ok(mem_set_manual(&ga, false, 0) == 0, "back to auto");
	mem_set_budget(0);
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0), 0,
	   "no overcommit: target 0 again");
	mem_guest_info(&gb, &mib);
	is(mib.target_pages, 0, "... for every guest");
}

static void test_multicall(void)
{
	struct vpv_multicall_entry e[2] = {
		{ .op = VPV_HC_MEMORY_OP,
		  .args = { VPV_MEMOP_DECREASE, ARR, 1, 0 } },
		{ .op = VPV_HC_MEMORY_OP,
		  .args = { VPV_MEMOP_INCREASE, ARR, 1, 0 } },
	};
	uint64_t pfn = 0x2800;

	gpa_write(&ga, ARR, &pfn, sizeof(pfn));
	gpa_write(&ga, 0x30000, e, sizeof(e));
	is(call(&ga, VPV_HC_MULTICALL, 0x30000, 2, 0, 0), 2,
	   "MEMORY_OP works inside a multicall");
	gpa_read(&ga, 0x30000, e, sizeof(e));
	ok(e[0].result == 1 && e[1].result == 1 && all_valid(&ga, 0x2800, 1),
	   "decrease + increase in one multicall");
}

static void test_remove(void)
{
	struct guest gc;
	struct mem_host_info hi, hi2;

	mem_host_info(&hi);
	test_guest(&gc, 8ull << 20, 1);
	negotiate(&gc, ALL_F);
	is(dec1(&gc, 0x200, 9), 1, "third guest: decrease 2 MiB");
	mem_host_info(&hi2);
	ok(hi2.pool_pages == hi.pool_pages + 2048 &&
	   hi2.populated_pages == hi.populated_pages + 1536,
	   "pool grows by its RAM, populated by what it holds");
	ok(mem_check() == 0, "consistent with three guests");
	guest_destroy(&gc);
	mem_host_info(&hi2);
	ok(hi2.pool_pages == hi.pool_pages &&
	   hi2.populated_pages == hi.populated_pages && mem_check() == 0,
	   "destroying a ballooned guest returns everything");
	test_guest(&gc, 8ull << 20, 1);
	ok(mem_check() == 0 && populated(&gc) == 2048,
	   "a new guest reuses the frames, fully populated");
	guest_destroy(&gc);
}

/* ---- mem_lock holds bounded, POLL without policy work (finding 4) ---- */

#define BIG_MIB		256ull	/* unchunked, one punch of it held ~50 ms */
/* CPU time in one mem_lock hold: a 4096-page chunk takes ~0.1 ms (ASan) */
#define HOLD_MAX_NS	(10ull * 1000 * 1000)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Another guest's thread taking mem_lock in a loop. */
struct contender {
	bool stop;
	uint64_t calls;
	uint64_t max_wait_ns;
};

static void *contend(void *arg)
{
	struct contender *c = arg;
	unsigned int pins;
	uint32_t mfn;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint64_t t = now_ns(), d;

		mem_p2m_lookup(&ga, 0x100, &mfn, &pins);
		d = now_ns() - t;
		if (d > c->max_wait_ns)
			c->max_wait_ns = d;
		c->calls++;
	}
	return NULL;
}

/* Make every page of g's RAM take host memory (without faulting it in). */
static void allocate_all(struct guest *g)
{
	if (fallocate(g->ram_fd, 0, 0, (off_t)g->ram_size) < 0)
		BAIL("fallocate: %s", strerror(errno));
}

/* Run a memory op of g while ga's thread contends; check the waits. */
static void contended(struct guest *g, unsigned int cmd, const void *arr,
		      size_t bytes, unsigned int count, uint64_t order,
		      const char *what)
{
	struct contender c = { 0 };
	uint64_t hold;
	pthread_t th;
	long ret;

	if (gpa_write(g, ARR, arr, bytes))
		BAIL("array does not fit");
	mem_lock_max_hold_ns(true);
	if (pthread_create(&th, NULL, contend, &c))
		BAIL("pthread_create");
	ret = call(g, VPV_HC_MEMORY_OP, cmd, ARR, count, order);
	__atomic_store_n(&c.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	hold = mem_lock_max_hold_ns(true);
	is(ret, count, what);
	ok(hold > 0 && hold < HOLD_MAX_NS,
	   "... longest mem_lock hold %.3f ms of CPU time (bound %.0f ms)",
	   hold / 1e6, HOLD_MAX_NS / 1e6);
	/* wall time: includes the scheduler on a loaded host, not asserted */
	printf("# another guest's longest wait for mem_lock: %.2f ms (%llu lookups meanwhile)\n",
	       c.max_wait_ns / 1e6, (unsigned long long)c.calls);
	ok(blocks(g) == 0, "... the %llu MiB really left the host",
	   (unsigned long long)BIG_MIB);
}

static void test_lock_hold(void)
{
	static struct vpv_mem_range r[BIG_MIB / 4];
	static uint64_t v[BIG_MIB / 2];
	struct guest gc;
	unsigned int i;

	ok(guest_init(&gc, "big", BIG_MIB << 20, 1, VPV_SHM_MIN_SIZE,
		      NULL) == 0, "a %llu MiB guest (memfd)",
	   (unsigned long long)BIG_MIB);
	negotiate(&gc, ALL_F);
	allocate_all(&gc);
	for (i = 0; i < ARRAY_SIZE(v); i++)
		v[i] = i * 512ull;
	contended(&gc, VPV_MEMOP_DECREASE, v, sizeof(v), ARRAY_SIZE(v), 9,
		  "DECREASE of the whole RAM in 2 MiB extents");
	ok(populated(&gc) == 0 && mem_check() == 0,
	   "... every page invalid, P2M/M2P consistent");
	is(memop(&gc, VPV_MEMOP_INCREASE, v, ARRAY_SIZE(v), 9),
	   ARRAY_SIZE(v), "INCREASE it all back");
	allocate_all(&gc);
	for (i = 0; i < ARRAY_SIZE(r); i++) {
		r[i].gpa = i * (4ull << 20);
		r[i].len = 4ull << 20;
	}
	contended(&gc, VPV_MEMOP_REPORT_FREE, r, sizeof(r), ARRAY_SIZE(r), 0,
		  "REPORT_FREE of the whole RAM in 4 MiB ranges");
	ok(populated(&gc) == BIG_MIB << 8 && mem_check() == 0,
	   "... pages stay populated, P2M/M2P consistent");
	guest_destroy(&gc);
}

/* An op that fails part-way leaves no page claimed; REPORT_FREE bound. */
static void test_claims(void)
{
	uint64_t v[3] = { 0x2a00, 0x2a01, 0x2a02 };
	struct vpv_mem_range r[2] = { { 0, 0x80000000ull },
				      { 0x100000000ull, 0x1000 } };
	unsigned int i;

	is(mem_pin(&ga, 0x2a02), 0, "pin the last page of a batch");
	is(memop(&ga, VPV_MEMOP_DECREASE, v, 3, 0), -VPV_EBUSY,
	   "DECREASE of the batch -> EBUSY");
	ok(mem_pin(&ga, 0x2a00) == 0 && mem_pin(&ga, 0x2a01) == 0,
	   "... the pages claimed before it can be pinned again");
	for (i = 0; i < 3; i++)
		mem_unpin(&ga, v[i]);
	ok(memop(&ga, VPV_MEMOP_DECREASE, v, 3, 0) == 3 &&
	   memop(&ga, VPV_MEMOP_INCREASE, v, 3, 0) == 3,
	   "unpinned: the batch goes and comes back");
	is(report(&gb, r, 2), -VPV_E2BIG,
	   "REPORT_FREE of more than 1024 x 2 MiB in one call -> E2BIG");
	is(report(&gb, r, 1), 1, "REPORT_FREE of exactly 2 GiB is fine");
	ok(mem_check() == 0, "consistent after the claim tests");
}

static void test_poll_cached(void)
{
	struct mem_host_info hi;
	struct mem_guest_info mib;
	uint64_t c0;
	unsigned int i, same = 0;
	long t;

	mem_host_info(&hi);
	mem_set_budget((hi.pool_pages - 65536) << 12);	/* computes once */
	c0 = policy_compute_count();
	t = call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0);
	for (i = 0; i < 512; i++)
		same += call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA,
			     0, 0) == t;
	is(policy_compute_count(), c0,
	   "overcommitted: 513 POLLs compute no policy");
	is(same, 512, "... and all return the cached target");
	mem_guest_info(&gb, &mib);
	ok(t >= 0 && t + mib.target_pages == 65536,
	   "... which the budget change computed (ga %ld, gb %llu)", t,
	   (unsigned long long)mib.target_pages);
	mem_policy_update();			/* the 1 s timer */
	is(policy_compute_count(), c0 + 1, "the timer tick computes it once");
	mem_set_budget(0);
}

/* ---- memory really returned, or counted (finding 9) ---- */

/*
 * Balloon every other 4 KiB page of a 2 MiB region the guest used and
 * return how many of them the host still holds (mincore), checking
 * that exactly those are counted as unreclaimed.
 */
static uint64_t reclaim_4k(struct guest *g, const char *what)
{
	uint64_t v[256], u0 = STAT_GET(g, memop_unreclaimed_pages), res = 0;
	uint64_t base = (g->ram_size >> 13) - 512;
	unsigned char vec[512];
	unsigned int i;

	/*
	 * The guest used the first half of its RAM, in order: a disk file
	 * system's page cache ramps up to 2 MiB folios over that.  The
	 * region is the last 2 MiB of it.
	 */
	fill(g, 0, g->ram_size >> 13, 0x5a);
	for (i = 0; i < 256; i++)
		v[i] = base + 2 * i;
	is(memop(g, VPV_MEMOP_DECREASE, v, 256, 0), 256, what);
	if (mincore(g->ram + (base << 12), 2 << 20, vec) < 0)
		BAIL("mincore: %s", strerror(errno));
	for (i = 0; i < 256; i++)
		res += vec[2 * i] & 1;
	is(STAT_GET(g, memop_unreclaimed_pages) - u0, res,
	   "... memop_unreclaimed_pages counts the pages the host kept");
	is(memop(g, VPV_MEMOP_INCREASE, v, 256, 0), 256, "... INCREASE back");
	return res;
}

static void test_reclaim(void)
{
	struct guest gm, gf;
	uint64_t kept;

	ok(guest_init(&gm, "rm", 64 << 20, 1, VPV_SHM_MIN_SIZE, NULL) == 0,
	   "default RAM: a memfd");
	ok(!strncmp(gm.ram_path, "/proc/", 6) &&
	   access(gm.ram_path, R_OK | W_OK) == 0,
	   "... that QEMU can open as %s", gm.ram_path);
	negotiate(&gm, ALL_F);
	kept = reclaim_4k(&gm, "memfd: DECREASE 256 4 KiB pages of a used 2 MiB region");
	is(kept, 0, "memfd: every one of them left the host");
	guest_destroy(&gm);

	ok(guest_init(&gf, "rf", 64 << 20, 1, VPV_SHM_MIN_SIZE, test_dir) == 0,
	   "RAM file in %s", test_dir);
	negotiate(&gf, ALL_F);
	kept = reclaim_4k(&gf, "file: DECREASE 256 4 KiB pages of a used 2 MiB region");
	printf("# RAM file in %s: the host kept %llu of 256 punched pages\n",
	       test_dir, (unsigned long long)kept);
	guest_destroy(&gf);
}

int main(void)
{
	test_dir_make();
	test_guest(&ga, 65ull << 20, 1);
	test_guest(&gb, 3ull << 30, 1);
	test_setup();
	test_features();
	test_errors();
	test_all_or_nothing();
	test_4k();
	test_2m();
	test_report();
	test_budget();
	test_pins();
	test_poll();
	test_poll_cached();
	test_claims();
	test_multicall();
	test_remove();
	test_lock_hold();
	test_reclaim();
	guest_destroy(&ga);
	guest_destroy(&gb);
	ok(mem_check() == 0, "empty pool consistent");
	test_dir_remove();
	return tap_done();
}
