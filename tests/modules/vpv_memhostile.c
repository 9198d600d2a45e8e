// SPDX-License-Identifier: GPL-2.0
/*
 * vpv_memhostile: a hostile balloon.  Issues VPV_HC_MEMORY_OP directly
 * with malformed arguments and checks that each call gets the error
 * abi/vpv_abi.h documents (in its documented precedence) and that a
 * refused call changed nothing: the P2M (a later DECREASE/INCREASE of
 * the same pages behaves as if the refused call never happened) and
 * the RAM file (the pages still hold what this module wrote).  Runs on
 * load, writes KTAP-style results to
 * /sys/kernel/debug/vpv_memhostile/results and stays loaded (returns 0).
 *
 * The module never hurts its own guest: it only gives back pages of a
 * block it allocated itself and touches none of them while the host
 * may hold them as ballooned; every array it hands to the host is one
 * of its own kmalloc'ed buffers; addresses of other guest memory are
 * only passed where the host reads them (an array or stats GPA) or
 * where they are outside RAM.  Before it frees the block it brings
 * every page back (INCREASE).  Load it with vhypercall only (no
 * vballoon): it polls the host like a balloon would.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <pvkit/vhypercall.h>

#define KT_MAX_DIAG	24
#include "pvkit_ktap.h"

#define NOP_MASK	0x7fffffffffffffffULL
#define MH_GPA_4G	0x100000000ULL
#define MH_PCI_HOLE	0xfee00000ULL	/* the local APIC, never RAM */
#define MH_PFN_SHIFT	12
#define MH_MAGIC	0x6d68737469626c65ULL

/* Own memory: one naturally aligned block of 1 << MH_ORDER pages. */
#define MH_ORDER	10
#define MH_NPAGES	1024U	/* 1 << MH_ORDER */
/* The PFN array: room for more than VPV_MEMOP_MAX_EXTENTS entries. */
#define MH_ARR_N	(2 * VPV_MEMOP_MAX_EXTENTS)
#define MH_BAD_PFN	BIT_ULL(52)	/* what unused array entries hold */

static_assert(MH_NPAGES == 1U << MH_ORDER, "MH_NPAGES");

static u64 mh_feat;
static u64 mh_ram_size;
static u64 mh_ram_end;		/* first GPA after the last RAM byte */
static u64 mh_ram_pages;

static struct page *mh_blk;	/* NULL once freed */
static u64 mh_pfn0;		/* PFN of its first page */
static u64 *mh_arr;		/* kmalloc'ed, MH_ARR_N entries */
static struct vpv_balloon_stats *mh_stats;	/* kmalloc'ed */

static bool mh_has(u64 f)
{
	return (mh_feat & f) == f;
}

static bool mh_alive(const char *what)
{
	u64 v = get_random_u64();

	return kt_check(vpv_hypercall2(VPV_HC_NOP, v, ~v) == (long)(v & NOP_MASK),
			"%s: NOP round trip failed", what);
}

/* ---------------------------------------------------------------- */
/* Hypercall wrappers                                                */

static long mh_memop(u64 cmd, u64 gpa, u64 count, u64 order)
{
	return vpv_hypercall4(VPV_HC_MEMORY_OP, cmd, gpa, count, order);
}

static u64 mh_arr_gpa(void)
{
	return virt_to_phys(mh_arr);
}

/* Every entry an invalid PFN, so over-long reads find nothing valid. */
static void mh_arr_reset(void)
{
	unsigned int i;

	for (i = 0; i < MH_ARR_N; i++)
		mh_arr[i] = MH_BAD_PFN;
}

/* DECREASE/INCREASE of n PFNs given by value. */
static long mh_op(u64 cmd, const u64 *pfns, unsigned int n, u64 order)
{
	mh_arr_reset();
	memcpy(mh_arr, pfns, n * sizeof(*pfns));
	return mh_memop(cmd, mh_arr_gpa(), n, order);
}

static long mh_dec1(u64 pfn)
{
	return mh_op(VPV_MEMOP_DECREASE, &pfn, 1, VPV_MEMOP_ORDER_4K);
}

static long mh_inc1(u64 pfn)
{
	return mh_op(VPV_MEMOP_INCREASE, &pfn, 1, VPV_MEMOP_ORDER_4K);
}

/* REPORT_FREE of n ranges (the array is mh_arr viewed as ranges). */
static long mh_report(const struct vpv_mem_range *r, unsigned int n)
{
	mh_arr_reset();
	memcpy(mh_arr, r, n * sizeof(*r));
	return mh_memop(VPV_MEMOP_REPORT_FREE, mh_arr_gpa(), n, 0);
}

/* What a REPORT_FREE call must return when @want is its answer. */
static long mh_rf_want(long want)
{
	return mh_has(VPV_F_PAGE_REPORTING) ? want : -VPV_EOPNOTSUPP;
}

/* ---------------------------------------------------------------- */
/* Own pages: PFN, contents                                          */

static u64 mh_pfn(unsigned int i)
{
	return mh_pfn0 + i;
}

static u64 mh_gpa(unsigned int i)
{
	return mh_pfn(i) << MH_PFN_SHIFT;
}

static u64 *mh_page(unsigned int i)
{
	return page_address(mh_blk + i);
}

static u64 mh_word(unsigned int i, unsigned int k)
{
	return (mh_pfn(i) << 20) ^ k ^ MH_MAGIC;
}

/* Only while page i is populated. */
static void mh_fill(unsigned int i)
{
	u64 *p = mh_page(i);
	unsigned int k;

	for (k = 0; k < PAGE_SIZE / sizeof(u64); k++)
		p[k] = mh_word(i, k);
}

static void mh_fill_range(unsigned int first, unsigned int n)
{
	unsigned int i;

	for (i = first; i < first + n; i++)
		mh_fill(i);
}

/* Page i still holds its pattern: the RAM file was not punched. */
static bool mh_intact(unsigned int i, const char *what)
{
	const u64 *p = mh_page(i);
	unsigned int k;

	for (k = 0; k < PAGE_SIZE / sizeof(u64); k++)
		if (p[k] != mh_word(i, k))
			return kt_check(false,
					"%s: page %u word %u is %#llx, want %#llx (RAM file changed)",
					what, i, k, p[k], mh_word(i, k));
	return true;
}

static bool mh_intact_range(unsigned int first, unsigned int n,
			    const char *what)
{
	unsigned int i;

	for (i = first; i < first + n; i++)
		if (!mh_intact(i, what))
			return false;
	return true;
}

/* A page just INCREASEd reads as zeros. */
static bool mh_zero(unsigned int i, const char *what)
{
	return kt_check(!memchr_inv(mh_page(i), 0, PAGE_SIZE),
			"%s: page %u does not read as zeros", what, i);
}

static void mh_arr_block(unsigned int first, unsigned int n)
{
	unsigned int i;

	mh_arr_reset();
	for (i = 0; i < n; i++)
		mh_arr[i] = mh_pfn(first + i);
}

/*
 * Proof that every page of the block is populated: DECREASE of all of
 * them succeeds only then.  INCREASE brings them back (zeros), then the
 * pattern is written again.
 */
static bool mh_block_populated(const char *what)
{
	char w[96];
	bool ok;

	snprintf(w, sizeof(w), "%s: DECREASE of the whole block", what);
	mh_arr_block(0, MH_NPAGES);
	if (!kt_eq(mh_memop(VPV_MEMOP_DECREASE, mh_arr_gpa(), MH_NPAGES, 0),
		   MH_NPAGES, w))
		return false;
	snprintf(w, sizeof(w), "%s: INCREASE of the whole block", what);
	mh_arr_block(0, MH_NPAGES);
	ok = kt_eq(mh_memop(VPV_MEMOP_INCREASE, mh_arr_gpa(), MH_NPAGES, 0),
		   MH_NPAGES, w);
	if (ok) {
		snprintf(w, sizeof(w), "%s: block after INCREASE", what);
		mh_zero(0, w);
		mh_zero(MH_NPAGES - 1, w);
		mh_fill_range(0, MH_NPAGES);
	}
	return ok;
}

/* ---------------------------------------------------------------- */
/* 1. Sub-command, count and order                                   */

static int t_args(void)
{
	static const u64 bad_cmds[] = {
		4, 5, 0xff, 1ULL << 32, (1ULL << 32) | VPV_MEMOP_DECREASE,
		1ULL << 63, ~0ULL,
	};
	static const u64 big[] = {
		VPV_MEMOP_MAX_EXTENTS + 1, ~0ULL, (1ULL << 32) | 1,
		1ULL << 32, (1ULL << 61) | 1, 1ULL << 63,
	};
	/*
	 * The block's first PFN is aligned for every order up to MH_ORDER:
	 * a host that took one of these orders would DECREASE only pages
	 * of the block (the orders above MH_ORDER go to INCREASE only,
	 * where a host that took them would find the pages populated).
	 */
	static const u64 orders[] = {
		1, 8, 10, (1ULL << 32) | VPV_MEMOP_ORDER_4K,
		(1ULL << 32) | VPV_MEMOP_ORDER_2M, ~0ULL, 11, 12, 63, 64,
		1ULL << 63,
	};
	static const u64 cmds[] = { VPV_MEMOP_DECREASE, VPV_MEMOP_INCREASE };
	char what[96];
	unsigned int i, c;
	long want;

	for (i = 0; i < ARRAY_SIZE(bad_cmds); i++) {
		snprintf(what, sizeof(what), "sub-command %#llx", bad_cmds[i]);
		mh_arr_block(0, 1);
		kt_eq(mh_memop(bad_cmds[i], mh_arr_gpa(), 1, 0), -VPV_ENOSYS,
		      what);
		/* the sub-command ranks before every argument */
		snprintf(what, sizeof(what),
			 "sub-command %#llx, count 0, order ~0, gpa ~0",
			 bad_cmds[i]);
		kt_eq(mh_memop(bad_cmds[i], ~0ULL, 0, ~0ULL), -VPV_ENOSYS, what);
	}

	if (!mh_has(VPV_F_BALLOON)) {
		mh_arr_block(0, 1);
		kt_eq(mh_memop(VPV_MEMOP_POLL, virt_to_phys(mh_stats), 0, 0),
		      -VPV_EOPNOTSUPP, "POLL without VPV_F_BALLOON");
		kt_eq(mh_memop(VPV_MEMOP_DECREASE, mh_arr_gpa(), 1, 0),
		      -VPV_EOPNOTSUPP, "DECREASE without VPV_F_BALLOON");
		kt_eq(mh_memop(VPV_MEMOP_INCREASE, mh_arr_gpa(), 0, ~0ULL),
		      -VPV_EOPNOTSUPP, "INCREASE (count 0) without VPV_F_BALLOON");
		return kt_skip("VPV_F_BALLOON not negotiated");
	}

	for (c = 0; c < ARRAY_SIZE(cmds); c++) {
		const char *cn = cmds[c] == VPV_MEMOP_DECREASE ? "DECREASE" :
				 "INCREASE";

		mh_arr_block(0, 1);
		snprintf(what, sizeof(what), "%s count 0", cn);
		kt_eq(mh_memop(cmds[c], mh_arr_gpa(), 0, 0), -VPV_EINVAL, what);
		/* count ranks before order and the array */
		snprintf(what, sizeof(what), "%s count 0, order ~0, gpa ~0",
			 cn);
		kt_eq(mh_memop(cmds[c], ~0ULL, 0, ~0ULL), -VPV_EINVAL, what);
		for (i = 0; i < ARRAY_SIZE(big); i++) {
			mh_arr_block(0, MH_NPAGES);
			snprintf(what, sizeof(what), "%s count %#llx", cn,
				 big[i]);
			kt_eq(mh_memop(cmds[c], mh_arr_gpa(), big[i], 0),
			      -VPV_E2BIG, what);
			snprintf(what, sizeof(what),
				 "%s count %#llx, order ~0, gpa ~0", cn, big[i]);
			kt_eq(mh_memop(cmds[c], ~0ULL, big[i], ~0ULL),
			      -VPV_E2BIG, what);
		}
		for (i = 0; i < ARRAY_SIZE(orders); i++) {
			if (cmds[c] == VPV_MEMOP_DECREASE && orders[i] != ~0ULL &&
			    (orders[i] & 0xffffffffULL) > MH_ORDER)
				continue;
			mh_arr_block(0, 1);
			snprintf(what, sizeof(what), "%s order %#llx", cn,
				 orders[i]);
			kt_eq(mh_memop(cmds[c], mh_arr_gpa(), 1, orders[i]),
			      -VPV_EINVAL, what);
			/* order ranks before the array */
			snprintf(what, sizeof(what), "%s order %#llx, gpa ~0",
				 cn, orders[i]);
			kt_eq(mh_memop(cmds[c], ~0ULL, 1, orders[i]),
			      -VPV_EINVAL, what);
		}
		if (!mh_has(VPV_F_BALLOON_2M)) {
			mh_arr_block(0, 1);
			snprintf(what, sizeof(what),
				 "%s order 9 without VPV_F_BALLOON_2M", cn);
			kt_eq(mh_memop(cmds[c], mh_arr_gpa(), 1,
				       VPV_MEMOP_ORDER_2M), -VPV_EINVAL, what);
		}
	}

	/* REPORT_FREE: count limits (order is not an argument of it) */
	mh_arr_reset();
	kt_eq(mh_memop(VPV_MEMOP_REPORT_FREE, mh_arr_gpa(), 0, 0),
	      mh_rf_want(-VPV_EINVAL), "REPORT_FREE count 0");
	for (i = 0; i < ARRAY_SIZE(big); i++) {
		snprintf(what, sizeof(what), "REPORT_FREE count %#llx", big[i]);
		kt_eq(mh_memop(VPV_MEMOP_REPORT_FREE, mh_arr_gpa(), big[i], 0),
		      mh_rf_want(-VPV_E2BIG), what);
	}
	want = mh_rf_want(-VPV_EINVAL);
	kt_eq(mh_memop(VPV_MEMOP_REPORT_FREE, ~0ULL, 0, ~0ULL), want,
	      "REPORT_FREE count 0, gpa ~0");

	mh_intact_range(0, MH_NPAGES, "after the argument checks");
	mh_block_populated("after the argument checks");
	mh_alive("after the argument checks");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 2. The array GPA                                                  */

static int t_array_gpa(void)
{
	static const u64 cmds[] = {
		VPV_MEMOP_DECREASE, VPV_MEMOP_INCREASE, VPV_MEMOP_REPORT_FREE,
	};
	static const char * const names[] = {
		"DECREASE", "INCREASE", "REPORT_FREE",
	};
	const struct {
		u64 gpa;
		u64 count;
		const char *what;
	} cases[] = {
		{ 1ULL << 46, 1, "gpa 2^46" },
		{ MH_PCI_HOLE, 1, "gpa in the PCI hole" },
		{ ~0ULL - 7, 1, "gpa ~0 - 7" },
		{ ~0ULL - 7, 2, "gpa ~0 - 7, count 2 (wraps)" },
		{ 1ULL << 63, 1, "gpa 2^63" },
		{ mh_ram_end, 1, "gpa at the end of RAM" },
		{ mh_ram_end - 8, 4, "array straddling the end of RAM" },
		{ mh_ram_end - 8, VPV_MEMOP_MAX_EXTENTS,
		  "1024 entries straddling the end of RAM" },
	};
	char what[112];
	unsigned int c, i;
	u32 *w = (u32 *)mh_arr;
	long want;

	if (!mh_has(VPV_F_BALLOON))
		return kt_skip("VPV_F_BALLOON not negotiated");

	for (c = 0; c < ARRAY_SIZE(cmds); c++) {
		want = cmds[c] == VPV_MEMOP_REPORT_FREE ?
		       mh_rf_want(-VPV_EFAULT) : -VPV_EFAULT;
		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			snprintf(what, sizeof(what), "%s %s", names[c],
				 cases[i].what);
			kt_eq(mh_memop(cmds[c], cases[i].gpa, cases[i].count,
				       0), want, what);
		}
	}

	/*
	 * Misaligned arrays of DECREASE/INCREASE: the entries are PFNs of
	 * the block (below 2^32), so a 4-byte shifted read would see
	 * pfn << 32, which is not RAM either.
	 */
	for (c = 0; c < 2; c++) {
		mh_arr_block(0, 4);
		snprintf(what, sizeof(what), "%s array at buf + 4", names[c]);
		kt_eq(mh_memop(cmds[c], mh_arr_gpa() + 4, 1, 0), -VPV_EFAULT,
		      what);
		snprintf(what, sizeof(what), "%s array at buf + 1", names[c]);
		kt_eq(mh_memop(cmds[c], mh_arr_gpa() + 1, 2, 0), -VPV_EFAULT,
		      what);
		snprintf(what, sizeof(what), "%s array at buf + 7", names[c]);
		kt_eq(mh_memop(cmds[c], mh_arr_gpa() + 7, 3, 0), -VPV_EFAULT,
		      what);
	}

	/*
	 * Misaligned REPORT_FREE arrays.  Seen from buf + 4 the first one
	 * is a well-formed range over block page 1; the second is an empty
	 * range.  The alignment of the array ranks before the shape of its
	 * ranges, so both are -EFAULT.
	 */
	mh_arr_reset();
	memset(mh_arr, 0, 8 * sizeof(*mh_arr));
	w[1] = lower_32_bits(mh_gpa(1));
	w[2] = upper_32_bits(mh_gpa(1));
	w[3] = PAGE_SIZE;
	w[4] = 0;
	kt_eq(mh_memop(VPV_MEMOP_REPORT_FREE, mh_arr_gpa() + 4, 1, 0),
	      mh_rf_want(-VPV_EFAULT),
	      "REPORT_FREE array at buf + 4 (a well-formed range)");
	mh_arr_reset();
	memset(mh_arr, 0, 8 * sizeof(*mh_arr));
	kt_eq(mh_memop(VPV_MEMOP_REPORT_FREE, mh_arr_gpa() + 4, 1, 0),
	      mh_rf_want(-VPV_EFAULT),
	      "REPORT_FREE array at buf + 4 (an empty range)");
	mh_arr_reset();
	memset(mh_arr, 0, 8 * sizeof(*mh_arr));
	w[1] = lower_32_bits(mh_gpa(1)) | 0x10;
	w[2] = upper_32_bits(mh_gpa(1));
	w[3] = 0x123;
	kt_eq(mh_memop(VPV_MEMOP_REPORT_FREE, mh_arr_gpa() + 4, 1, 0),
	      mh_rf_want(-VPV_EFAULT),
	      "REPORT_FREE array at buf + 4 (an unaligned range)");

	mh_intact_range(0, MH_NPAGES, "after the array checks");
	mh_block_populated("after the array checks");
	mh_alive("after the array checks");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 3. PFNs outside RAM                                               */

static int t_pfn_range(void)
{
	const u64 bad[] = {
		mh_ram_end >> MH_PFN_SHIFT,
		(mh_ram_end >> MH_PFN_SHIFT) + 1,
		mh_ram_size >> MH_PFN_SHIFT,
		MH_PCI_HOLE >> MH_PFN_SHIFT,
		1ULL << 40,
		(1ULL << 52) - 1,
		1ULL << 52,
		1ULL << 63,
		~0ULL,
	};
	u64 two[2];
	char what[96];
	unsigned int i;

	if (!mh_has(VPV_F_BALLOON))
		return kt_skip("VPV_F_BALLOON not negotiated");
	kt_out("# %s: guest_ram_size %#llx, RAM ends at GPA %#llx, block PFN %#llx\n",
	       kt_name, mh_ram_size, mh_ram_end, mh_pfn0);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		/* ram_size >> 12 is RAM when RAM is split around 4 GiB */
		if (bad[i] >= (MH_GPA_4G >> MH_PFN_SHIFT) &&
		    bad[i] < (mh_ram_end >> MH_PFN_SHIFT))
			continue;
		snprintf(what, sizeof(what), "DECREASE PFN %#llx", bad[i]);
		kt_eq(mh_dec1(bad[i]), -VPV_EINVAL, what);
		snprintf(what, sizeof(what), "INCREASE PFN %#llx", bad[i]);
		kt_eq(mh_inc1(bad[i]), -VPV_EINVAL, what);
		/* an own page first: still -EINVAL, nothing applied */
		two[0] = mh_pfn(2);
		two[1] = bad[i];
		snprintf(what, sizeof(what), "DECREASE {own, %#llx}", bad[i]);
		kt_eq(mh_op(VPV_MEMOP_DECREASE, two, 2, 0), -VPV_EINVAL, what);
		/* PFN checks rank before the populated state (-EEXIST) */
		snprintf(what, sizeof(what), "INCREASE {populated own, %#llx}",
			 bad[i]);
		kt_eq(mh_op(VPV_MEMOP_INCREASE, two, 2, 0), -VPV_EINVAL, what);
	}
	mh_intact(2, "after DECREASE {own, bad PFN}");
	kt_eq(mh_dec1(mh_pfn(2)), 1, "DECREASE of the own page alone");
	kt_eq(mh_inc1(mh_pfn(2)), 1, "INCREASE of the own page alone");
	mh_zero(2, "after INCREASE");
	mh_fill(2);
	mh_alive("after the PFN range checks");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 4. 2 MiB extents                                                  */

static int t_2m(void)
{
	const unsigned int half = 1U << VPV_MEMOP_ORDER_2M;
	u64 ext[2], end2m;
	char what[96];
	unsigned int i;

	if (!mh_has(VPV_F_BALLOON))
		return kt_skip("VPV_F_BALLOON not negotiated");
	if (!mh_has(VPV_F_BALLOON_2M)) {
		/* t_args checked order 9 without the feature */
		return kt_skip("VPV_F_BALLOON_2M not negotiated");
	}
	/* misaligned starts inside the block: the extents stay inside it */
	for (i = 1; i < half; i += 85) {
		snprintf(what, sizeof(what), "DECREASE 2M at block + %u", i);
		ext[0] = mh_pfn(i);
		kt_eq(mh_op(VPV_MEMOP_DECREASE, ext, 1, VPV_MEMOP_ORDER_2M),
		      -VPV_EINVAL, what);
		snprintf(what, sizeof(what), "INCREASE 2M at block + %u", i);
		kt_eq(mh_op(VPV_MEMOP_INCREASE, ext, 1, VPV_MEMOP_ORDER_2M),
		      -VPV_EINVAL, what);
	}
	end2m = round_up(mh_ram_end >> MH_PFN_SHIFT, half);
	ext[0] = end2m;
	kt_eq(mh_op(VPV_MEMOP_DECREASE, ext, 1, VPV_MEMOP_ORDER_2M),
	      -VPV_EINVAL, "DECREASE 2M after the end of RAM");
	ext[0] = MH_PCI_HOLE >> MH_PFN_SHIFT;
	kt_eq(mh_op(VPV_MEMOP_DECREASE, ext, 1, VPV_MEMOP_ORDER_2M),
	      -VPV_EINVAL, "DECREASE 2M in the PCI hole");
	/*
	 * A valid extent, then a misaligned one (which also overlaps it,
	 * so that even a host ignoring alignment stays inside the block):
	 * nothing applied.
	 */
	ext[0] = mh_pfn(half);
	ext[1] = mh_pfn(1);
	kt_eq(mh_op(VPV_MEMOP_DECREASE, ext, 2, VPV_MEMOP_ORDER_2M),
	      -VPV_EINVAL, "DECREASE 2M {valid, misaligned}");
	/* the same extent twice */
	ext[0] = mh_pfn(0);
	ext[1] = mh_pfn(0);
	kt_eq(mh_op(VPV_MEMOP_DECREASE, ext, 2, VPV_MEMOP_ORDER_2M),
	      -VPV_EINVAL, "DECREASE 2M {block, block}");
	mh_intact_range(0, MH_NPAGES, "after the refused 2M calls");

	/* a valid 2M extent: every one of its pages goes */
	ext[0] = mh_pfn(0);
	if (!kt_eq(mh_op(VPV_MEMOP_DECREASE, ext, 1, VPV_MEMOP_ORDER_2M), 1,
		   "DECREASE 2M of the block's first half"))
		return 0;
	kt_eq(mh_dec1(mh_pfn(5)), -VPV_ENOENT,
	      "DECREASE 4K inside a ballooned 2M extent");
	kt_eq(mh_dec1(mh_pfn(half - 1)), -VPV_ENOENT,
	      "DECREASE 4K of the last page of a ballooned 2M extent");
	ext[1] = mh_pfn(0);
	kt_eq(mh_op(VPV_MEMOP_INCREASE, ext, 2, VPV_MEMOP_ORDER_2M),
	      -VPV_EINVAL, "INCREASE 2M {block, block}");
	/* one page of the extent back: the extent is partly populated */
	kt_eq(mh_inc1(mh_pfn(5)), 1, "INCREASE 4K inside a ballooned 2M extent");
	kt_eq(mh_op(VPV_MEMOP_INCREASE, ext, 1, VPV_MEMOP_ORDER_2M),
	      -VPV_EEXIST, "INCREASE 2M of a partly populated extent");
	/* ... and that refusal left the rest of it ballooned */
	kt_eq(mh_dec1(mh_pfn(5)), 1, "DECREASE 4K of the page again");
	kt_eq(mh_op(VPV_MEMOP_INCREASE, ext, 1, VPV_MEMOP_ORDER_2M), 1,
	      "INCREASE 2M of the block's first half");
	mh_zero(0, "after INCREASE 2M");
	mh_zero(half - 1, "after INCREASE 2M");
	mh_fill_range(0, half);
	mh_intact_range(0, MH_NPAGES, "after the 2M extent");
	mh_block_populated("after the 2M checks");
	mh_alive("after the 2M checks");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 5. All or nothing: a batch with one bad entry                     */

#define MH_BATCH	8
#define MH_BATCH_AT	16	/* block pages [16, 24) */

static int t_batch(void)
{
	u64 pfns[MH_BATCH + 1];
	unsigned int i;

	if (!mh_has(VPV_F_BALLOON))
		return kt_skip("VPV_F_BALLOON not negotiated");
	for (i = 0; i < MH_BATCH; i++)
		pfns[i] = mh_pfn(MH_BATCH_AT + i);
	pfns[MH_BATCH] = mh_ram_end >> MH_PFN_SHIFT;
	kt_eq(mh_op(VPV_MEMOP_DECREASE, pfns, MH_BATCH + 1, 0), -VPV_EINVAL,
	      "DECREASE of 8 own pages + a PFN after RAM");
	mh_intact_range(MH_BATCH_AT, MH_BATCH, "after the refused batch");
	/* the bad one first */
	pfns[MH_BATCH] = pfns[0];
	pfns[0] = MH_PCI_HOLE >> MH_PFN_SHIFT;
	kt_eq(mh_op(VPV_MEMOP_DECREASE, pfns, MH_BATCH + 1, 0), -VPV_EINVAL,
	      "DECREASE of a PCI hole PFN + 8 own pages");
	pfns[0] = pfns[MH_BATCH];
	mh_intact_range(MH_BATCH_AT, MH_BATCH, "after the refused batch");

	/* none of the 8 went: DECREASE of them alone works */
	if (!kt_eq(mh_op(VPV_MEMOP_DECREASE, pfns, MH_BATCH, 0), MH_BATCH,
		   "DECREASE of the 8 pages alone"))
		return 0;
	/* INCREASE with a bad entry: all 8 stay ballooned */
	pfns[MH_BATCH] = 1ULL << 52;
	kt_eq(mh_op(VPV_MEMOP_INCREASE, pfns, MH_BATCH + 1, 0), -VPV_EINVAL,
	      "INCREASE of the 8 pages + PFN 2^52");
	kt_eq(mh_op(VPV_MEMOP_DECREASE, pfns, 1, 0), -VPV_ENOENT,
	      "the first of the 8 is still ballooned");
	kt_eq(mh_op(VPV_MEMOP_INCREASE, pfns, MH_BATCH, 0), MH_BATCH,
	      "INCREASE of the 8 pages");
	for (i = 0; i < MH_BATCH; i++)
		if (!mh_zero(MH_BATCH_AT + i, "after INCREASE of the 8"))
			break;
	mh_fill_range(MH_BATCH_AT, MH_BATCH);
	mh_alive("after the batch");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 6. The same page twice                                            */

static int t_duplicates(void)
{
	const unsigned int p = 40, q = 41;
	u64 pfns[3];

	if (!mh_has(VPV_F_BALLOON))
		return kt_skip("VPV_F_BALLOON not negotiated");
	pfns[0] = mh_pfn(p);
	pfns[1] = mh_pfn(p);
	kt_eq(mh_op(VPV_MEMOP_DECREASE, pfns, 2, 0), -VPV_EINVAL,
	      "DECREASE {p, p}");
	pfns[1] = mh_pfn(q);
	pfns[2] = mh_pfn(p);
	kt_eq(mh_op(VPV_MEMOP_DECREASE, pfns, 3, 0), -VPV_EINVAL,
	      "DECREASE {p, q, p}");
	mh_intact(p, "after DECREASE {p, p}");
	mh_intact(q, "after DECREASE {p, q, p}");
	/* nothing changed: a clean DECREASE of each works */
	if (!kt_eq(mh_dec1(mh_pfn(p)), 1, "DECREASE {p}"))
		return 0;
	kt_eq(mh_dec1(mh_pfn(q)), 1, "DECREASE {q}");
	/* duplicates rank before the populated state (-ENOENT / -EEXIST) */
	pfns[1] = mh_pfn(p);
	kt_eq(mh_op(VPV_MEMOP_DECREASE, pfns, 2, 0), -VPV_EINVAL,
	      "DECREASE {p, p} of a ballooned page");
	kt_eq(mh_op(VPV_MEMOP_INCREASE, pfns, 2, 0), -VPV_EINVAL,
	      "INCREASE {p, p}");
	pfns[1] = mh_pfn(q);
	kt_eq(mh_op(VPV_MEMOP_INCREASE, pfns, 3, 0), -VPV_EINVAL,
	      "INCREASE {p, q, p}");
	kt_eq(mh_inc1(mh_pfn(p)), 1, "INCREASE {p}");
	kt_eq(mh_inc1(mh_pfn(q)), 1, "INCREASE {q}");
	mh_zero(p, "after INCREASE {p}");
	mh_fill(p);
	mh_fill(q);
	mh_alive("after the duplicates");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 7. Pages in the wrong state                                       */

static int t_unpopulated(void)
{
	const unsigned int p = 60, q = 61;
	u64 two[2];

	if (!mh_has(VPV_F_BALLOON))
		return kt_skip("VPV_F_BALLOON not negotiated");
	if (!kt_eq(mh_dec1(mh_pfn(p)), 1, "DECREASE {p}"))
		return 0;
	kt_eq(mh_dec1(mh_pfn(p)), -VPV_ENOENT, "DECREASE {p} again");
	kt_eq(mh_inc1(mh_pfn(q)), -VPV_EEXIST, "INCREASE of a populated page");
	two[0] = mh_pfn(p);
	two[1] = mh_pfn(q);
	kt_eq(mh_op(VPV_MEMOP_INCREASE, two, 2, 0), -VPV_EEXIST,
	      "INCREASE {ballooned p, populated q}");
	kt_eq(mh_op(VPV_MEMOP_DECREASE, two, 2, 0), -VPV_ENOENT,
	      "DECREASE {ballooned p, populated q}");
	mh_intact(q, "after DECREASE {ballooned p, populated q}");
	two[0] = mh_pfn(q);
	two[1] = mh_pfn(p);
	kt_eq(mh_op(VPV_MEMOP_INCREASE, two, 2, 0), -VPV_EEXIST,
	      "INCREASE {populated q, ballooned p}");
	kt_eq(mh_op(VPV_MEMOP_DECREASE, two, 2, 0), -VPV_ENOENT,
	      "DECREASE {populated q, ballooned p}");
	mh_intact(q, "after DECREASE {populated q, ballooned p}");
	/* PFN validity ranks before the state */
	two[0] = mh_pfn(p);
	two[1] = mh_ram_end >> MH_PFN_SHIFT;
	kt_eq(mh_op(VPV_MEMOP_DECREASE, two, 2, 0), -VPV_EINVAL,
	      "DECREASE {ballooned p, PFN after RAM}");
	/* p is still ballooned, q still populated */
	kt_eq(mh_inc1(mh_pfn(p)), 1, "INCREASE {p} after the refusals");
	mh_zero(p, "after INCREASE {p}");
	mh_fill(p);
	kt_eq(mh_dec1(mh_pfn(q)), 1, "DECREASE {q}: it was populated");
	kt_eq(mh_inc1(mh_pfn(q)), 1, "INCREASE {q}");
	mh_fill(q);
	mh_alive("after the state checks");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 8. Free page reporting                                            */

static int t_report_free(void)
{
	const unsigned int p = 80, q = 81, r = 82;
	struct vpv_mem_range rg[2];

	if (!mh_has(VPV_F_BALLOON))
		return kt_skip("VPV_F_BALLOON not negotiated");

	rg[0].gpa = mh_gpa(p);
	rg[0].len = 0;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE of an empty range");
	rg[0].gpa = mh_gpa(p) + 8;
	rg[0].len = PAGE_SIZE;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE of an unaligned gpa");
	rg[0].gpa = mh_gpa(p) + 0x800;
	rg[0].len = PAGE_SIZE;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE of gpa + 2 KiB");
	rg[0].gpa = mh_gpa(p);
	rg[0].len = 100;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE of an unaligned length");
	rg[0].gpa = mh_ram_end;
	rg[0].len = PAGE_SIZE;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE at the end of RAM");
	rg[0].gpa = 1ULL << 46;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE at 2^46");
	rg[0].gpa = MH_PCI_HOLE;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE in the PCI hole");
	rg[0].gpa = ~0ULL & ~0xfffULL;
	rg[0].len = 2 * PAGE_SIZE;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE wrapping around 2^64");
	/* a good range first, then a bad one: nothing punched */
	rg[0].gpa = mh_gpa(p);
	rg[0].len = PAGE_SIZE;
	rg[1].gpa = mh_gpa(q);
	rg[1].len = 0;
	kt_eq(mh_report(rg, 2), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE {own page, empty range}");
	/* the same page twice */
	rg[1].gpa = mh_gpa(p);
	rg[1].len = PAGE_SIZE;
	kt_eq(mh_report(rg, 2), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE {p, p}");
	rg[0].len = 2 * PAGE_SIZE;
	rg[1].gpa = mh_gpa(q);
	kt_eq(mh_report(rg, 2), mh_rf_want(-VPV_EINVAL),
	      "REPORT_FREE {[p, q], q} (overlapping)");
	mh_intact(p, "after the refused REPORT_FREE calls");
	mh_intact(q, "after the refused REPORT_FREE calls");

	/* a ballooned page is not the guest's to report */
	if (!kt_eq(mh_dec1(mh_pfn(r)), 1, "DECREASE {r}"))
		return 0;
	rg[0].gpa = mh_gpa(r);
	rg[0].len = PAGE_SIZE;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_ENOENT),
	      "REPORT_FREE of a ballooned page");
	rg[0].gpa = mh_gpa(p);
	rg[0].len = 3 * PAGE_SIZE;
	kt_eq(mh_report(rg, 1), mh_rf_want(-VPV_ENOENT),
	      "REPORT_FREE of [p, r] (r ballooned)");
	rg[0].len = PAGE_SIZE;
	rg[1].gpa = mh_gpa(r);
	rg[1].len = PAGE_SIZE;
	kt_eq(mh_report(rg, 2), mh_rf_want(-VPV_ENOENT),
	      "REPORT_FREE {p, ballooned r}");
	mh_intact(p, "after REPORT_FREE {p, ballooned r}");
	mh_intact(q, "after REPORT_FREE of [p, r]");
	/* and it did not populate r */
	kt_eq(mh_inc1(mh_pfn(r)), 1, "INCREASE {r}");
	mh_fill(r);

	if (!mh_has(VPV_F_PAGE_REPORTING)) {
		kt_eq(mh_report(rg, 1), -VPV_EOPNOTSUPP,
		      "REPORT_FREE of an own page");
		mh_intact(p, "after the refused REPORT_FREE");
		return kt_skip("VPV_F_PAGE_REPORTING not negotiated");
	}
	/* a valid report: punched, but still populated and the guest's */
	kt_eq(mh_report(rg, 1), 1, "REPORT_FREE of an own page");
	mh_zero(p, "after REPORT_FREE");
	kt_eq(mh_inc1(mh_pfn(p)), -VPV_EEXIST,
	      "INCREASE of a reported page (still populated)");
	mh_fill(p);
	mh_intact(q, "after REPORT_FREE of its neighbour");
	kt_eq(mh_dec1(mh_pfn(p)), 1, "DECREASE of a reported page");
	kt_eq(mh_inc1(mh_pfn(p)), 1, "INCREASE of it");
	mh_fill(p);
	mh_alive("after the REPORT_FREE checks");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 9. POLL                                                           */

static int t_poll(void)
{
	const struct {
		u64 gpa;
		const char *what;
	} cases[] = {
		{ 1ULL << 46, "stats at 2^46" },
		{ MH_PCI_HOLE, "stats in the PCI hole" },
		{ ~0ULL - 7, "stats at ~0 - 7" },
		{ 1ULL << 63, "stats at 2^63" },
		{ mh_ram_end, "stats at the end of RAM" },
		{ mh_ram_end - 8, "stats straddling the end of RAM" },
		{ mh_ram_end - sizeof(*mh_stats) + 8,
		  "stats ending 8 bytes past RAM" },
	};
	struct sysinfo si;
	unsigned int i;
	long ret;

	if (!mh_has(VPV_F_BALLOON))
		return kt_skip("VPV_F_BALLOON not negotiated");
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		kt_eq(mh_memop(VPV_MEMOP_POLL, cases[i].gpa, 0, 0),
		      -VPV_EFAULT, cases[i].what);

	/* honest statistics, as a balloon with nothing inflated */
	si_meminfo(&si);
	memset(mh_stats, 0, sizeof(*mh_stats));
	mh_stats->total = (u64)si.totalram * si.mem_unit;
	mh_stats->free = (u64)si.freeram * si.mem_unit;
	mh_stats->available = (u64)si_mem_available() << PAGE_SHIFT;
	mh_stats->active_ppm = 1000000;
	ret = mh_memop(VPV_MEMOP_POLL, virt_to_phys(mh_stats), 0, 0);
	kt_out("# %s: POLL target %ld of %llu pages\n", kt_name, ret,
	       mh_ram_pages);
	kt_check(ret >= 0 && ret <= (long)mh_ram_pages,
		 "POLL: target %ld not in 0..%llu", ret, mh_ram_pages);
	mh_alive("after POLL");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 10. Everything back                                               */

static int t_final(void)
{
	unsigned int i, back = 0, odd = 0;
	long ret;

	if (!mh_has(VPV_F_BALLOON))
		goto free;
	/* any page an earlier failure left ballooned comes back */
	for (i = 0; i < MH_NPAGES; i++) {
		ret = mh_inc1(mh_pfn(i));
		if (ret == 1) {
			back++;
			mh_fill(i);
		} else if (ret != -VPV_EEXIST) {
			odd++;
			kt_check(false, "INCREASE of block page %u: %ld", i, ret);
		}
	}
	kt_eq(back, 0, "pages the earlier tests left ballooned");
	if (odd || !mh_block_populated("before freeing the block")) {
		/* the host may still hold some: never reuse them */
		kt_check(false, "block of %u pages at PFN %#llx leaked on purpose",
			 MH_NPAGES, mh_pfn0);
		mh_blk = NULL;
		goto alive;
	}
	mh_intact_range(0, MH_NPAGES, "before freeing the block");
free:
	__free_pages(mh_blk, MH_ORDER);
	mh_blk = NULL;
alive:
	mh_alive("after freeing the block");
	kt_check(vpv_hypercall2(VPV_HC_NOP, 0x1234, 0) == 0x1234,
		 "NOP(0x1234)");
	return 0;
}

/* ---------------------------------------------------------------- */

static const struct kt_test mh_tests[] = {
	{ "memop_subcmd_count_order", t_args },
	{ "memop_array_gpa", t_array_gpa },
	{ "memop_pfn_outside_ram", t_pfn_range },
	{ "memop_2m_extents", t_2m },
	{ "memop_batch_all_or_nothing", t_batch },
	{ "memop_duplicate_pfns", t_duplicates },
	{ "memop_unpopulated_and_populated", t_unpopulated },
	{ "memop_report_free", t_report_free },
	{ "memop_poll", t_poll },
	{ "memop_pages_back_and_nop", t_final },
};

/* Guest RAM layout (Documentation/abi.rst, "Guest memory": q35). */
static void mh_layout(void)
{
	struct vpv_shared_header *hdr = vpv_shared_base(NULL);
	u64 lowmem;

	mh_ram_size = READ_ONCE(hdr->guest_ram_size);
	mh_ram_pages = mh_ram_size >> MH_PFN_SHIFT;
	lowmem = mh_ram_size >= 0xb0000000ULL ? 0x80000000ULL : 0xb0000000ULL;
	if (mh_ram_size > lowmem)
		mh_ram_end = MH_GPA_4G + mh_ram_size - lowmem;
	else
		mh_ram_end = mh_ram_size;
	mh_feat = vpv_features();
}

/* Before the first test: the memory the tests use, the RAM layout. */
static const char *mh_setup(void)
{
	const char *why = NULL;

	mh_arr = kmalloc_array(MH_ARR_N, sizeof(*mh_arr), GFP_KERNEL);
	mh_stats = kzalloc(sizeof(*mh_stats), GFP_KERNEL);
	mh_blk = alloc_pages(GFP_KERNEL | __GFP_NOWARN, MH_ORDER);
	if (!vpv_shared_base(NULL))
		why = "no pvkit host bound";
	else if (!mh_arr || !mh_stats || !mh_blk)
		why = "no memory";
	if (why) {
		if (mh_blk)
			__free_pages(mh_blk, MH_ORDER);
		mh_blk = NULL;
		return why;
	}
	mh_layout();
	mh_pfn0 = page_to_pfn(mh_blk);
	mh_fill_range(0, MH_NPAGES);
	kt_out("# features %#llx, guest_ram_size %#llx, block of %u pages at PFN %#llx\n",
	       mh_feat, mh_ram_size, MH_NPAGES, mh_pfn0);
	return NULL;
}

static int __init mh_init(void)
{
	int nr = kt_run(mh_tests, ARRAY_SIZE(mh_tests), NULL, mh_setup,
			"vpv_memhostile");

	kfree(mh_stats);
	mh_stats = NULL;
	kfree(mh_arr);
	mh_arr = NULL;
	return nr < 0 ? nr : 0;
}

static void __exit mh_exit(void)
{
	kt_cleanup();
}

module_init(mh_init);
module_exit(mh_exit);

MODULE_DESCRIPTION("pvkit hostile balloon test: VPV_HC_MEMORY_OP errors are exact and all-or-nothing");
MODULE_LICENSE("GPL");
