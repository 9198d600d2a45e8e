// SPDX-License-Identifier: GPL-2.0
/*
 * vpv_mmutest: integration tests of vpvmmu.ko against a running
 * vpv-host.  Runs on load, writes KTAP results to
 * /sys/kernel/debug/vpv_mmutest/results and stays loaded so that the
 * caller can read them and drive the "hold" file, then rmmod it.
 *
 *   insmod vpv_mmutest.ko [tests=all|name,name,...] [bench=1]
 *
 * hold (debugfs, write): "map N" creates an area and maps N fresh pages,
 * "unmap" unmaps them (the area stays pinned), "destroy" destroys the
 * area and frees the pages.  The guest script checks the host's
 * pinned_pages between the steps.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/pgtable.h>
#include <pvkit/vhypercall.h>
#include <pvkit/vpvmmu.h>

#include "pvkit_ktap.h"

static char *tests = "all";
module_param(tests, charp, 0444);
MODULE_PARM_DESC(tests,
		 "\"all\" (default) or a comma-separated list of tests");

static bool bench;
module_param(bench, bool, 0444);
MODULE_PARM_DESC(bench, "Also run the benchmark (default 0)");

static unsigned int npages = 256;
module_param(npages, uint, 0444);
MODULE_PARM_DESC(npages, "Pages mapped by the map test (1 .. 512)");

static unsigned int chunks = 10;
module_param(chunks, uint, 0444);
MODULE_PARM_DESC(chunks, "Benchmark chunks per measurement");

#define MU_PFN_OUTSIDE	0xfffffffffULL	/* far beyond any test guest */
#define MU_BAD_AT	2		/* index of the bad request */

static bool mu_eq(long long got, long long want, const char *what)
{
	return kt_check(got == want, "%s: got %lld (%#llx), want %lld (%#llx)",
			what, got, got, want, want);
}

/* ---------------------------------------------------------------- */
/* helpers                                                            */

static struct page **mu_pages_alloc(unsigned int n)
{
	struct page **p = kcalloc(n, sizeof(*p), GFP_KERNEL);
	unsigned int i;

	if (!p)
		return NULL;
	for (i = 0; i < n; i++) {
		p[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!p[i])
			goto fail;
	}
	return p;
fail:
	while (i--)
		__free_page(p[i]);
	kfree(p);
	return NULL;
}

static void mu_pages_free(struct page **p, unsigned int n)
{
	unsigned int i;

	if (!p)
		return;
	for (i = 0; i < n; i++)
		__free_page(p[i]);
	kfree(p);
}

/* What vpvmmu must store for @pfn with PAGE_KERNEL(_RO), built here. */
static u64 mu_expect(unsigned long pfn, bool rw)
{
	pgprot_t prot = rw ? PAGE_KERNEL : PAGE_KERNEL_RO;
	u64 v = ((u64)pfn << PAGE_SHIFT) | _PAGE_PRESENT | _PAGE_ACCESSED;

	if (rw)
		v |= _PAGE_RW | _PAGE_DIRTY;
	v |= pgprot_val(prot) & _PAGE_GLOBAL;
	if (boot_cpu_has(X86_FEATURE_NX) && (pgprot_val(prot) & _PAGE_NX))
		v |= _PAGE_NX;
	return v;
}

/* The PTE the CPU uses for @va, through the kernel's own walk. */
static u64 mu_walk(void *va)
{
	unsigned int level;
	pte_t *pte = lookup_address((unsigned long)va, &level);

	if (!pte || level != PG_LEVEL_4K)
		return ~0ULL;
	return pte_val(*pte);
}

static u64 mu_pfn_gpa(unsigned long pfn)
{
	return (u64)pfn << PAGE_SHIFT;
}

struct mu_raw {
	struct vpv_mmu_update reqs[8];
	struct vpv_mmuext_op ops[2];
	u64 done;
	u64 pfns[1];
};

static struct mu_raw *mu_raw;	/* kmalloc: the host reads it by GPA */

static long mu_update(unsigned int n, u64 *done)
{
	long ret;

	mu_raw->done = ~0ULL;
	ret = vpv_hypercall4(VPV_HC_MMU_UPDATE, virt_to_phys(mu_raw->reqs), n,
			     virt_to_phys(&mu_raw->done), 0);
	*done = mu_raw->done;
	return ret;
}

static long mu_ext(u32 cmd, u64 pfn, u32 pad)
{
	mu_raw->ops[0].cmd = cmd;
	mu_raw->ops[0].pad = pad;
	mu_raw->ops[0].pfn = pfn;
	return vpv_hypercall4(VPV_HC_MMUEXT_OP, virt_to_phys(mu_raw->ops), 1,
			      0, 0);
}

static long mu_memop(unsigned int cmd, unsigned long pfn)
{
	mu_raw->pfns[0] = pfn;
	return vpv_hypercall4(VPV_HC_MEMORY_OP, cmd,
			      virt_to_phys(mu_raw->pfns), 1, 0);
}

static struct vpv_area *mu_area(unsigned long size)
{
	struct vpv_area *a = vpv_area_create(size);

	if (IS_ERR(a)) {
		kt_check(false, "vpv_area_create(%lu): %ld", size, PTR_ERR(a));
		return NULL;
	}
	return a;
}

static unsigned long mu_off(unsigned int slot)
{
	return (unsigned long)slot << PAGE_SHIFT;
}

static void *mu_va(struct vpv_area *a, unsigned int slot)
{
	return vpv_area_addr(a) + mu_off(slot);
}

/* ---------------------------------------------------------------- */
/* tests                                                              */

static int t_create(void)
{
	struct vpv_mmu_stats s0, s1;
	struct vpv_area *a;
	unsigned int level;
	struct page *tbl;
	pte_t *pte;

	vpv_mmu_get_stats(&s0);
	kt_check(IS_ERR(vpv_area_create(0)), "size 0 accepted");
	kt_check(IS_ERR(vpv_area_create(VPV_AREA_MAX_SIZE + 1)),
		 "size above the maximum accepted");
	a = mu_area(SZ_2M + 1);
	if (!a)
		return 0;
	vpv_mmu_get_stats(&s1);
	mu_eq(vpv_area_size(a), SZ_4M, "size in whole blocks");
	kt_check(IS_ALIGNED((unsigned long)vpv_area_addr(a), SZ_2M),
		 "area %p not 2 MiB aligned", vpv_area_addr(a));
	mu_eq(s1.areas - s0.areas, 1, "areas");
	mu_eq(s1.pinned_tables - s0.pinned_tables, 2, "pinned tables");
	kt_check(vpv_area_table_page(a, 0) != vpv_area_table_page(a, SZ_2M),
		 "both blocks share a table");
	/* all slots empty, and the kernel's walk finds our table */
	mu_eq(vpv_area_pte_read(a, 0), 0, "slot 0");
	mu_eq(vpv_area_pte_read(a, SZ_4M - PAGE_SIZE), 0, "last slot");
	mu_eq(mu_walk(mu_va(a, 7)), 0, "walk of slot 7");
	mu_eq(vpv_area_pte_gpa(a, mu_off(7)),
	      page_to_phys(vpv_area_table_page(a, 0)) + 7 * 8, "slot 7 GPA");
	/* the table's direct-map alias is read-only */
	tbl = vpv_area_table_page(a, 0);
	pte = lookup_address((unsigned long)page_address(tbl), &level);
	if (kt_check(pte, "no direct mapping of the table"))
		kt_check(!(pte_val(*pte) & _PAGE_RW) && level == PG_LEVEL_4K,
			 "table alias %#llx level %u is not a 4K read-only PTE",
			 (u64)pte_val(*pte), level);
	vpv_area_destroy(a);
	vpv_mmu_get_stats(&s1);
	mu_eq(s1.pinned_tables, s0.pinned_tables, "pinned tables after destroy");
	mu_eq(s1.areas, s0.areas, "areas after destroy");
	pte = lookup_address((unsigned long)page_address(tbl), &level);
	kt_check(pte && (pte_val(*pte) & _PAGE_RW),
		 "table alias not writable again after destroy");
	return 0;
}

/* Map npages lazily, check data and PTEs both ways, unmap lazily. */
static int t_map(void)
{
	unsigned int n = clamp(npages, 1u, 512u), i;
	struct vpv_mmu_stats s0, s1;
	struct page **pages;
	struct vpv_area *a;
	u64 want;
	int ret;

	pages = mu_pages_alloc(n);
	if (!kt_check(pages, "no memory"))
		return 0;
	a = mu_area(SZ_1M);
	if (!a)
		goto out;

	vpv_mmu_get_stats(&s0);
	vpv_mmu_lazy_enter();
	for (i = 0; i < n; i++) {
		ret = vpv_area_map(a, mu_off(i), page_to_pfn(pages[i]),
				   PAGE_KERNEL);
		if (!mu_eq(ret, 0, "lazy map"))
			break;
	}
	mu_eq(vpv_mmu_lazy_leave(), 0, "lazy leave");
	mu_eq(vpv_area_submit(a), 0, "submit");
	vpv_mmu_get_stats(&s1);
	mu_eq(s1.hypercalls - s0.hypercalls, 1, "hypercalls for the batch");
	mu_eq(s1.batches - s0.batches, 1, "batches");
	mu_eq(s1.updates_applied - s0.updates_applied, n, "updates applied");

	for (i = 0; i < n; i++) {
		u64 *pv = mu_va(a, i), *dm = page_address(pages[i]);
		unsigned int k;

		want = mu_expect(page_to_pfn(pages[i]), true);
		if (!mu_eq(vpv_area_pte_read(a, mu_off(i)), want, "PTE") ||
		    !mu_eq(mu_walk(pv), want, "PTE by the kernel's walk") ||
		    !mu_eq(vpv_area_pte_shadow(a, mu_off(i)), want, "shadow"))
			break;
		for (k = 0; k < PAGE_SIZE / 8; k += 61)
			WRITE_ONCE(pv[k], ((u64)i << 32) ^ k ^ 0x5a5a5a5aULL);
		for (k = 0; k < PAGE_SIZE / 8; k += 61)
			if (!mu_eq(READ_ONCE(dm[k]),
				   ((u64)i << 32) ^ k ^ 0x5a5a5a5aULL,
				   "PV write read through the direct map"))
				break;
		WRITE_ONCE(dm[1], ~(u64)i);
		mu_eq(READ_ONCE(pv[1]), ~(u64)i,
		      "direct-map write read through the PV mapping");
		if (kt_fails)
			break;
	}

	vpv_mmu_lazy_enter();
	for (i = 0; i < n; i++)
		vpv_area_unmap(a, mu_off(i));
	mu_eq(vpv_mmu_lazy_leave(), 0, "lazy leave (unmap)");
	mu_eq(vpv_area_submit(a), 0, "submit (unmap)");
	for (i = 0; i < n; i++)
		if (!mu_eq(vpv_area_pte_read(a, mu_off(i)), 0, "PTE unmapped") ||
		    !mu_eq(mu_walk(mu_va(a, i)), 0, "walk unmapped") ||
		    !mu_eq(vpv_area_pte_shadow(a, mu_off(i)), 0, "shadow"))
			break;
	/* the data is still there through the direct map */
	mu_eq(READ_ONCE(((u64 *)page_address(pages[n - 1]))[1]),
	      ~(u64)(n - 1), "data after unmap");
	vpv_area_destroy(a);
out:
	mu_pages_free(pages, n);
	return 0;
}

/* One hypercall per update outside lazy mode; RO and NX mappings. */
static int t_unbatched(void)
{
	struct vpv_mmu_stats s0, s1;
	struct page **pages;
	struct vpv_area *a;
	unsigned int i;

	pages = mu_pages_alloc(8);
	if (!kt_check(pages, "no memory"))
		return 0;
	a = mu_area(PAGE_SIZE);
	if (!a)
		goto out;
	vpv_mmu_get_stats(&s0);
	for (i = 0; i < 8; i++)
		mu_eq(vpv_area_map(a, mu_off(i), page_to_pfn(pages[i]),
				   i & 1 ? PAGE_KERNEL_RO : PAGE_KERNEL), 0,
		      "map");
	vpv_mmu_get_stats(&s1);
	mu_eq(s1.hypercalls - s0.hypercalls, 8, "hypercalls");
	mu_eq(s1.batches - s0.batches, 0, "batches");
	for (i = 0; i < 8; i++)
		mu_eq(vpv_area_pte_read(a, mu_off(i)),
		      mu_expect(page_to_pfn(pages[i]), !(i & 1)), "PTE");
	mu_eq(READ_ONCE(*(u64 *)mu_va(a, 1)), 0, "read through RO mapping");
	/* remap slot 0 to another page: the submit flushes the TLB */
	mu_eq(vpv_area_map(a, 0, page_to_pfn(pages[2]), PAGE_KERNEL), 0,
	      "remap");
	mu_eq(vpv_area_submit(a), 0, "submit");
	vpv_mmu_get_stats(&s0);
	mu_eq(s0.tlb_flushes - s1.tlb_flushes, 1, "TLB flushes for a remap");
	WRITE_ONCE(*(u64 *)mu_va(a, 0), 0x1234);
	mu_eq(READ_ONCE(*(u64 *)page_address(pages[2])), 0x1234,
	      "write through the remapped slot");

	/* refused locally */
	mu_eq(vpv_area_map(a, 8, page_to_pfn(pages[0]), PAGE_KERNEL), -EINVAL,
	      "unaligned offset");
	mu_eq(vpv_area_map(a, vpv_area_size(a), page_to_pfn(pages[0]),
			   PAGE_KERNEL), -EINVAL, "offset past the end");
	mu_eq(vpv_area_map(a, mu_off(9), page_to_pfn(pages[0]), PAGE_SHARED),
	      -EINVAL, "USER protection");
	mu_eq(vpv_area_map(a, mu_off(9), page_to_pfn(pages[0]), PAGE_NONE),
	      -EINVAL, "non-present protection");
	/* destroy with pages still mapped unmaps them */
	vpv_area_destroy(a);
out:
	mu_pages_free(pages, 8);
	return 0;
}

/* More than VPV_MMU_UPDATE_MAX in lazy mode: auto-flush, two blocks. */
static int t_lazy_autoflush(void)
{
	struct vpv_mmu_stats s0, s1;
	struct page **pages;
	struct vpv_area *a;
	unsigned int i;

	pages = mu_pages_alloc(8);
	if (!kt_check(pages, "no memory"))
		return 0;
	a = mu_area(SZ_4M);
	if (!a)
		goto out;
	vpv_mmu_get_stats(&s0);
	vpv_mmu_lazy_enter();
	vpv_mmu_lazy_enter();	/* nested: the inner leave issues nothing */
	for (i = 0; i < 600; i++)
		vpv_area_map(a, mu_off(i), page_to_pfn(pages[i % 8]),
			     PAGE_KERNEL);
	mu_eq(vpv_mmu_lazy_leave(), 0, "inner leave");
	vpv_mmu_get_stats(&s1);
	mu_eq(s1.hypercalls - s0.hypercalls, 1, "auto-flush at 512");
	mu_eq(vpv_area_pte_read(a, mu_off(599)), 0, "599 still queued");
	mu_eq(vpv_mmu_lazy_leave(), 0, "outer leave");
	vpv_mmu_get_stats(&s1);
	mu_eq(s1.hypercalls - s0.hypercalls, 2, "hypercalls for 600");
	mu_eq(vpv_area_pte_read(a, mu_off(599)),
	      mu_expect(page_to_pfn(pages[599 % 8]), true), "PTE 599");
	mu_eq(vpv_area_pte_read(a, mu_off(511)),
	      mu_expect(page_to_pfn(pages[511 % 8]), true), "PTE 511");
	mu_eq(READ_ONCE(*(u64 *)mu_va(a, 598)), READ_ONCE(*(u64 *)mu_va(a, 6)),
	      "same page at two slots");
	vpv_area_destroy(a);
	vpv_mmu_get_stats(&s0);
	mu_eq(s0.hypercalls - s1.hypercalls, 4,
	      "destroy: 2 unmap batches, 2 unpins");
out:
	mu_pages_free(pages, 8);
	return 0;
}

/* A lazy batch with a bad update: applied before it, dropped after. */
static int t_partial(void)
{
	struct vpv_mmu_stats s0, s1;
	struct page **pages;
	struct vpv_area *a;
	unsigned long tpfn;
	unsigned int i;

	pages = mu_pages_alloc(6);
	if (!kt_check(pages, "no memory"))
		return 0;
	a = mu_area(SZ_2M);
	if (!a)
		goto out;
	vpv_mmu_get_stats(&s0);
	vpv_mmu_lazy_enter();
	for (i = 0; i < 6; i++)
		vpv_area_map(a, mu_off(i), i == 3 ? MU_PFN_OUTSIDE :
			     page_to_pfn(pages[i]), PAGE_KERNEL);
	mu_eq(vpv_mmu_lazy_leave(), -EINVAL, "leave: frame outside RAM");
	vpv_mmu_get_stats(&s1);
	mu_eq(s1.errors - s0.errors, 1, "errors");
	mu_eq(s1.updates_applied - s0.updates_applied, 3, "applied");
	for (i = 0; i < 6; i++) {
		u64 want = i < 3 ? mu_expect(page_to_pfn(pages[i]), true) : 0;

		mu_eq(vpv_area_pte_read(a, mu_off(i)), want, "PTE");
		mu_eq(vpv_area_pte_shadow(a, mu_off(i)), want, "shadow");
	}

	/* the table itself: RW refused, read-only allowed */
	tpfn = page_to_pfn(vpv_area_table_page(a, 0));
	mu_eq(vpv_area_map(a, mu_off(10), tpfn, PAGE_KERNEL), -EPERM,
	      "table page mapped RW");
	mu_eq(vpv_area_pte_read(a, mu_off(10)), 0, "nothing applied");
	mu_eq(vpv_area_map(a, mu_off(10), tpfn, PAGE_KERNEL_RO), 0,
	      "table page mapped read-only");
	mu_eq(READ_ONCE(*(u64 *)mu_va(a, 10)), vpv_area_pte_read(a, 0),
	      "table read through its RO mapping");
	mu_eq(vpv_area_unmap(a, mu_off(10)), 0, "unmap");
	mu_eq(vpv_area_submit(a), 0, "submit");
	vpv_area_destroy(a);
out:
	mu_pages_free(pages, 6);
	return 0;
}

/*
 * Raw batches of 5: two good maps, a bad request, two good maps.  The
 * host must return the error with done == 2, apply the first two and
 * not the last two; then we clear the two again.
 */
static int t_invalid(void)
{
	struct page **pages;
	struct vpv_area *a;
	void *foreign;
	unsigned int c, i;
	u64 done, gpa, good, tpfn;
	long ret;
	struct {
		const char *what;
		u64 ptr_off;	/* 0: slot 12 of the area */
		u64 val;
		long err;
	} cls[7];

	pages = mu_pages_alloc(2);
	foreign = kzalloc(PAGE_SIZE, GFP_KERNEL);
	a = mu_area(SZ_2M);
	if (!kt_check(pages && foreign, "no memory") || !a)
		goto out;
	gpa = vpv_area_pte_gpa(a, 0);
	good = mu_expect(page_to_pfn(pages[0]), true);
	tpfn = page_to_pfn(vpv_area_table_page(a, 0));

	cls[0] = (typeof(cls[0])){ "unaligned ptr", gpa + 12 * 8 + 4, good,
				   -EINVAL };
	cls[1] = (typeof(cls[0])){ "ptr in an unpinned page",
				   virt_to_phys(foreign), good, -EPERM };
	cls[2] = (typeof(cls[0])){ "USER bit", 0, good | _PAGE_USER, -EPERM };
	cls[3] = (typeof(cls[0])){ "reserved bit 52", 0, good | BIT_ULL(52),
				   -EINVAL };
	cls[4] = (typeof(cls[0])){ "frame outside RAM", 0,
				   mu_pfn_gpa(MU_PFN_OUTSIDE) | 3, -EINVAL };
	cls[5] = (typeof(cls[0])){ "pinned table mapped RW", 0,
				   mu_pfn_gpa(tpfn) | _PAGE_PRESENT |
				   _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY,
				   -EPERM };
	cls[6] = (typeof(cls[0])){ "non-present value not 0", 0, _PAGE_RW,
				   -EINVAL };

	for (c = 0; c < ARRAY_SIZE(cls); c++) {
		static const unsigned int slots[] = { 10, 11, 12, 13, 14 };
		char what[64];

		for (i = 0; i < 5; i++) {
			mu_raw->reqs[i].ptr = gpa + slots[i] * 8;
			mu_raw->reqs[i].val = good;
		}
		if (cls[c].ptr_off)
			mu_raw->reqs[MU_BAD_AT].ptr = cls[c].ptr_off;
		mu_raw->reqs[MU_BAD_AT].val = cls[c].val;
		ret = mu_update(5, &done);
		snprintf(what, sizeof(what), "%s: result", cls[c].what);
		mu_eq(ret, cls[c].err, what);
		snprintf(what, sizeof(what), "%s: done", cls[c].what);
		mu_eq(done, MU_BAD_AT, what);
		snprintf(what, sizeof(what), "%s: before applied", cls[c].what);
		mu_eq(vpv_area_pte_read(a, mu_off(10)), good, what);
		mu_eq(vpv_area_pte_read(a, mu_off(11)), good, what);
		snprintf(what, sizeof(what), "%s: after not applied",
			 cls[c].what);
		mu_eq(vpv_area_pte_read(a, mu_off(12)), 0, what);
		mu_eq(vpv_area_pte_read(a, mu_off(13)), 0, what);
		mu_eq(vpv_area_pte_read(a, mu_off(14)), 0, what);
		mu_eq(*(u64 *)foreign, 0, "unpinned page untouched");
		/* clear the two again */
		mu_raw->reqs[0].val = 0;
		mu_raw->reqs[1].val = 0;
		mu_eq(mu_update(2, &done), 0, "clear");
		mu_eq(done, 2, "clear done");
	}

	/* whole-call errors: nothing applied, done 0 */
	mu_raw->reqs[0].ptr = gpa + 10 * 8;
	mu_raw->reqs[0].val = good;
	mu_eq(mu_update(0, &done), -EINVAL, "count 0");
	mu_eq(mu_update(VPV_MMU_UPDATE_MAX + 1, &done), -E2BIG, "count 513");
	mu_eq(vpv_hypercall4(VPV_HC_MMU_UPDATE,
			     virt_to_phys(mu_raw->reqs) + 4, 1, 0, 0),
	      -EFAULT, "unaligned array");
	mu_eq(vpv_hypercall4(VPV_HC_MMU_UPDATE, virt_to_phys(mu_raw->reqs), 1,
			     mu_pfn_gpa(MU_PFN_OUTSIDE), 0),
	      -EFAULT, "done outside RAM");
	mu_eq(vpv_area_pte_read(a, mu_off(10)), 0, "nothing applied");
	/* done_gpa 0: allowed, nothing stored */
	mu_eq(vpv_hypercall4(VPV_HC_MMU_UPDATE, virt_to_phys(mu_raw->reqs), 1,
			     0, 0), 0, "done_gpa 0");
	mu_raw->reqs[0].val = 0;
	mu_eq(mu_update(1, &done), 0, "clear");
	vpv_area_destroy(a);
	a = NULL;
out:
	vpv_area_destroy(a);
	kfree(foreign);
	mu_pages_free(pages, 2);
	return 0;
}

/* MMUEXT pin/unpin rules. */
static int t_pin_rules(void)
{
	struct page **pages;
	struct vpv_area *a;
	unsigned long pfn;
	u64 *tbl;

	pages = mu_pages_alloc(2);
	a = mu_area(SZ_2M);
	if (!kt_check(pages, "no memory") || !a)
		goto out;
	pfn = page_to_pfn(pages[0]);
	tbl = page_address(pages[1]);

	mu_eq(mu_ext(VPV_MMUEXT_PIN_L1_TABLE,
		     page_to_pfn(vpv_area_table_page(a, 0)), 0),
	      -EEXIST, "pin a pinned table");
	mu_eq(mu_ext(VPV_MMUEXT_UNPIN_TABLE, pfn, 0), -ENOENT,
	      "unpin a page that is no table");
	mu_eq(mu_ext(VPV_MMUEXT_PIN_L1_TABLE, pfn, 1), -EINVAL, "pad not 0");
	mu_eq(mu_ext(99, pfn, 0), -VPV_ENOSYS, "unknown cmd");
	mu_eq(mu_ext(VPV_MMUEXT_PIN_L1_TABLE, MU_PFN_OUTSIDE, 0), -EINVAL,
	      "pin outside RAM");

	/* a page our pinned table maps writable cannot become a table */
	mu_eq(vpv_area_map(a, 0, pfn, PAGE_KERNEL), 0, "map RW");
	mu_eq(mu_ext(VPV_MMUEXT_PIN_L1_TABLE, pfn, 0), -EPERM,
	      "pin a page mapped RW");
	mu_eq(vpv_area_unmap(a, 0), 0, "unmap");
	mu_eq(vpv_area_submit(a), 0, "submit");

	/* a table whose entry breaks the update rules */
	tbl[3] = mu_expect(pfn, true) | _PAGE_USER;
	mu_eq(mu_ext(VPV_MMUEXT_PIN_L1_TABLE, page_to_pfn(pages[1]), 0),
	      -EPERM, "pin a table with a USER entry");
	tbl[3] = mu_pfn_gpa(MU_PFN_OUTSIDE) | 1;
	mu_eq(mu_ext(VPV_MMUEXT_PIN_L1_TABLE, page_to_pfn(pages[1]), 0),
	      -EINVAL, "pin a table mapping outside RAM");
	/* a valid one pins and unpins */
	tbl[3] = mu_expect(pfn, false);
	mu_eq(mu_ext(VPV_MMUEXT_PIN_L1_TABLE, page_to_pfn(pages[1]), 0), 0,
	      "pin a valid table");
	mu_eq(mu_ext(VPV_MMUEXT_UNPIN_TABLE, page_to_pfn(pages[1]), 0), 0,
	      "unpin it");
	tbl[3] = 0;
out:
	vpv_area_destroy(a);
	mu_pages_free(pages, 2);
	return 0;
}

/* The balloon cannot take a mapped frame nor a pinned table. */
static int t_balloon(void)
{
	struct page *pg = NULL;
	struct vpv_area *a;
	unsigned long pfn;
	long ret;

	if (!(vpv_features() & VPV_F_BALLOON))
		return kt_skip("host does not offer VPV_F_BALLOON");
	a = mu_area(SZ_2M);
	pg = alloc_page(GFP_KERNEL);
	if (!kt_check(pg, "no memory") || !a)
		goto out;
	pfn = page_to_pfn(pg);
	mu_eq(vpv_area_map(a, 0, pfn, PAGE_KERNEL), 0, "map");
	mu_eq(mu_memop(VPV_MEMOP_DECREASE, pfn), -EBUSY,
	      "DECREASE of a mapped frame");
	mu_eq(mu_memop(VPV_MEMOP_DECREASE,
		       page_to_pfn(vpv_area_table_page(a, 0))), -EBUSY,
	      "DECREASE of a pinned table");
	mu_eq(vpv_area_unmap(a, 0), 0, "unmap");
	mu_eq(vpv_area_submit(a), 0, "submit");
	ret = mu_memop(VPV_MEMOP_DECREASE, pfn);
	mu_eq(ret, 1, "DECREASE after unmap");
	if (ret == 1) {
		/* a frame given back cannot be mapped */
		mu_eq(vpv_area_map(a, 0, pfn, PAGE_KERNEL), -ENOENT,
		      "map a ballooned-out frame");
		if (!mu_eq(mu_memop(VPV_MEMOP_INCREASE, pfn), 1,
			   "INCREASE back"))
			pg = NULL;	/* not ours to use again: leak it */
	}
out:
	vpv_area_destroy(a);
	if (pg)
		__free_page(pg);
	return 0;
}

/* A write to a pinned table behind the host's back is undone. */
static int t_tamper(void)
{
	struct page **pages, *tp;
	struct vpv_area *a;
	u64 v20, *alias;

	pages = mu_pages_alloc(2);
	a = mu_area(SZ_2M);
	if (!kt_check(pages, "no memory") || !a)
		goto out;
	mu_eq(vpv_area_map(a, mu_off(20), page_to_pfn(pages[0]), PAGE_KERNEL),
	      0, "map slot 20");
	v20 = vpv_area_pte_read(a, mu_off(20));

	/*
	 * The direct-map alias is read-only and set_memory_rw() is not
	 * exported: write through a writable alias of our own instead.
	 */
	tp = vpv_area_table_page(a, 0);
	alias = vmap(&tp, 1, VM_MAP, PAGE_KERNEL);
	if (!kt_check(alias, "vmap of the table failed"))
		goto out;
	WRITE_ONCE(alias[20], mu_expect(page_to_pfn(pages[1]), true));
	WRITE_ONCE(alias[21], mu_expect(page_to_pfn(pages[1]), true));
	vunmap(alias);
	/* (the host's once-a-second audit may undo it at any time now) */

	/* an update naming the table makes the host audit it */
	mu_eq(vpv_area_map(a, mu_off(22), page_to_pfn(pages[0]), PAGE_KERNEL),
	      0, "map slot 22 (audit)");
	mu_eq(vpv_area_pte_read(a, mu_off(20)), v20, "slot 20 restored");
	mu_eq(vpv_area_pte_read(a, mu_off(20)),
	      vpv_area_pte_shadow(a, mu_off(20)), "slot 20 equals the shadow");
	mu_eq(vpv_area_pte_read(a, mu_off(21)), 0, "slot 21 restored");
	mu_eq(vpv_area_pte_read(a, mu_off(22)),
	      vpv_area_pte_shadow(a, mu_off(22)), "slot 22 applied");
	mu_eq(vpv_area_submit(a), 0, "submit");
out:
	vpv_area_destroy(a);
	mu_pages_free(pages, 2);
	return 0;
}

static int t_vmap(void)
{
	struct page **pages;
	unsigned int i;
	u8 *va;

	pages = mu_pages_alloc(64);
	if (!kt_check(pages, "no memory"))
		return 0;
	va = vpv_vmap(pages, 64, PAGE_KERNEL);
	if (kt_check(va, "vpv_vmap failed")) {
		for (i = 0; i < 64; i++)
			va[i * PAGE_SIZE + i] = i + 1;
		for (i = 0; i < 64; i++)
			if (!mu_eq(((u8 *)page_address(pages[i]))[i], i + 1,
				   "vmap byte"))
				break;
		vpv_vunmap(va);
	}
	kt_check(!vpv_vmap(pages, 0, PAGE_KERNEL), "vpv_vmap of 0 pages");
	mu_pages_free(pages, 64);
	return 0;
}

static int t_clean(void)
{
	struct vpv_mmu_stats s;

	vpv_mmu_get_stats(&s);
	mu_eq(s.areas, 0, "areas left");
	mu_eq(s.pinned_tables, 0, "pinned tables left");
	mu_eq(s.leaked_areas, 0, "leaked areas");
	kt_out("# vpvmmu: updates %llu queued %llu applied; hypercalls %llu\n",
	       s.updates_queued, s.updates_applied, s.hypercalls);
	kt_out("# vpvmmu: batches %llu errors %llu tlb_flushes %llu\n",
	       s.batches, s.errors, s.tlb_flushes);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Benchmark                                                          */

#define BENCH_PAGES	512	/* maps, then as many unmaps, per chunk */

struct bench_item {
	const char *what;
	unsigned int batch;	/* 0: no lazy mode, one hypercall each */
	u64 best;		/* ns per chunk */
	u64 updates;
	u64 hypercalls;
};

static int bench_pass(struct vpv_area *a, struct page **pages,
		      unsigned int batch, bool unmap)
{
	unsigned int i, k, end, step = batch ?: 1;
	int err = 0, e;

	for (i = 0; i < BENCH_PAGES && !err; i = end) {
		end = min(i + step, BENCH_PAGES);
		if (batch)
			vpv_mmu_lazy_enter();
		for (k = i; k < end; k++) {
			e = unmap ? vpv_area_unmap(a, mu_off(k)) :
				    vpv_area_map(a, mu_off(k),
						 page_to_pfn(pages[k]),
						 PAGE_KERNEL);
			err = err ?: e;
		}
		if (batch)
			err = vpv_mmu_lazy_leave() ?: err;
	}
	return err ?: vpv_area_submit(a);
}

static bool bench_chunk(struct bench_item *it, struct vpv_area *a,
			struct page **pages)
{
	struct vpv_mmu_stats s0, s1;
	u64 t0, dt;

	vpv_mmu_get_stats(&s0);
	t0 = ktime_get_ns();
	if (!mu_eq(bench_pass(a, pages, it->batch, false), 0, "bench map") ||
	    !mu_eq(bench_pass(a, pages, it->batch, true), 0, "bench unmap"))
		return false;
	dt = ktime_get_ns() - t0;
	vpv_mmu_get_stats(&s1);
	it->best = min(it->best, dt);
	it->updates += 2 * BENCH_PAGES;
	it->hypercalls += s1.hypercalls - s0.hypercalls;
	return true;
}

static u64 bench_rate(u64 ns)
{
	return ns ? div64_u64(2ULL * BENCH_PAGES * NSEC_PER_SEC, ns) : 0;
}

static int t_bench(void)
{
	struct bench_item items[] = {
		{ "unbatched", 0 }, { "batch1", 1 }, { "batch8", 8 },
		{ "batch64", 64 }, { "batch512", 512 },
	};
	unsigned int c, j, nc = max(chunks, 1u);
	struct page **pages;
	struct vpv_area *a;
	bool ok = true;
	u64 k;

	pages = mu_pages_alloc(BENCH_PAGES);
	if (!kt_check(pages, "no memory"))
		return 0;
	a = mu_area(SZ_2M);
	if (!a)
		goto out;
	/* a warm-up chunk each, then the chunks of all interleaved */
	for (j = 0; j < ARRAY_SIZE(items) && ok; j++) {
		items[j].best = U64_MAX;
		ok = bench_chunk(&items[j], a, pages);
		items[j] = (struct bench_item){ items[j].what, items[j].batch,
						U64_MAX };
	}
	for (c = 0; c < nc && ok; c++)
		for (j = 0; j < ARRAY_SIZE(items) && ok; j++)
			ok = bench_chunk(&items[j], a, pages);
	vpv_area_destroy(a);
	if (!ok)
		goto out;

	kt_out("# bench: pvmmu: %u maps + %u unmaps per chunk\n",
	       BENCH_PAGES, BENCH_PAGES);
	kt_out("# bench: best chunk of %u, chunks interleaved\n", nc);
	kt_out("# bench: %-12s %12s %10s %14s\n", "what", "updates/s",
	       "ns/update", "hcalls/update");
	for (j = 0; j < ARRAY_SIZE(items); j++) {
		k = div64_u64(items[j].hypercalls * 1000, items[j].updates);
		kt_out("# bench: %-12s %12llu %10llu %10llu.%03llu\n",
		       items[j].what, bench_rate(items[j].best),
		       div_u64(items[j].best, 2 * BENCH_PAGES), k / 1000,
		       k % 1000);
	}
	k = div64_u64(bench_rate(items[4].best) * 100,
		      max(bench_rate(items[0].best), 1ULL));
	kt_out("# bench: batch512/unbatched = %llu.%02llu\n", k / 100, k % 100);
out:
	mu_pages_free(pages, BENCH_PAGES);
	return 0;
}

/* ---------------------------------------------------------------- */
/* hold: an area the guest script inspects from the host side         */

static DEFINE_MUTEX(hold_lock);
static struct vpv_area *hold_area;
static struct page **hold_pages;
static unsigned int hold_n;

static void hold_destroy(void)
{
	vpv_area_destroy(hold_area);
	hold_area = NULL;
	mu_pages_free(hold_pages, hold_n);
	hold_pages = NULL;
	hold_n = 0;
}

static int hold_cmd(const char *cmd)
{
	unsigned int n, i;
	int err = 0;

	if (sscanf(cmd, "map %u", &n) == 1) {
		if (hold_area || !n || n > 512)
			return -EINVAL;
		hold_pages = mu_pages_alloc(n);
		if (!hold_pages)
			return -ENOMEM;
		hold_n = n;
		hold_area = vpv_area_create(SZ_2M);
		if (IS_ERR(hold_area)) {
			err = PTR_ERR(hold_area);
			hold_area = NULL;
			hold_destroy();
			return err;
		}
		vpv_mmu_lazy_enter();
		for (i = 0; i < n; i++)
			vpv_area_map(hold_area, mu_off(i),
				     page_to_pfn(hold_pages[i]), PAGE_KERNEL);
		err = vpv_mmu_lazy_leave();
	} else if (sysfs_streq(cmd, "unmap")) {
		if (!hold_area)
			return -EINVAL;
		vpv_mmu_lazy_enter();
		for (i = 0; i < hold_n; i++)
			vpv_area_unmap(hold_area, mu_off(i));
		err = vpv_mmu_lazy_leave() ?: vpv_area_submit(hold_area);
	} else if (sysfs_streq(cmd, "destroy")) {
		hold_destroy();
	} else {
		return -EINVAL;
	}
	return err;
}

static ssize_t hold_write(struct file *f, const char __user *ubuf,
			  size_t count, loff_t *ppos)
{
	char cmd[32];
	int err;

	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[count] = '\0';
	mutex_lock(&hold_lock);
	err = hold_cmd(cmd);
	mutex_unlock(&hold_lock);
	return err ?: count;
}

static const struct file_operations hold_fops = {
	.owner = THIS_MODULE,
	.write = hold_write,
	.llseek = noop_llseek,
};

/* ---------------------------------------------------------------- */

static const struct kt_test mu_tests[] = {
	{ "create", t_create },
	{ "map", t_map },
	{ "unbatched", t_unbatched },
	{ "lazy_autoflush", t_lazy_autoflush },
	{ "partial", t_partial },
	{ "invalid", t_invalid },
	{ "pin_rules", t_pin_rules },
	{ "balloon", t_balloon },
	{ "tamper", t_tamper },
	{ "vmap", t_vmap },
	{ "clean", t_clean },
	{ "bench", t_bench },
};

static bool mu_selected(const char *name)
{
	return kt_selected(tests, bench, name);
}

static int __init mu_init(void)
{
	int nr;

	mu_raw = kzalloc(sizeof(*mu_raw), GFP_KERNEL);
	if (!mu_raw)
		return -ENOMEM;
	nr = kt_run(mu_tests, ARRAY_SIZE(mu_tests), mu_selected, NULL,
		    "vpv_mmutest");
	if (nr < 0) {
		kfree(mu_raw);
		return nr;
	}
	if (!nr)
		kt_out("# no test matches tests=%s\n", tests);
	debugfs_create_file("hold", 0200, kt_dir, NULL, &hold_fops);
	return 0;
}

static void __exit mu_exit(void)
{
	kt_cleanup();
	mutex_lock(&hold_lock);
	hold_destroy();
	mutex_unlock(&hold_lock);
	kfree(mu_raw);
}

module_init(mu_init);
module_exit(mu_exit);

MODULE_DESCRIPTION("pvkit vpvmmu integration test and benchmark");
MODULE_LICENSE("GPL");
