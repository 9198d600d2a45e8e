// SPDX-License-Identifier: GPL-2.0
/*
 * vpv_sharetest: plants pages of known content for the host's
 * page-sharing scan (vpv-ctl sharing) and keeps them until rmmod.
 *
 *   insmod vpv_sharetest.ko [zero=Z] [dup=D] [cross=X] [uniq=U] [seed=S]
 *
 * Four physically contiguous blocks, one per kind, so that the host can
 * be asked about each block's PFN range exactly:
 *   zero   Z zero pages
 *   dup    D pages of one random content, unique to this load (equal
 *          to each other, to nothing in another guest)
 *   cross  X pages of one content made from seed: every guest loading
 *          the module with the same seed has it
 *   uniq   U pages each of its own random content (shared with nothing)
 *
 * /sys/kernel/debug/vpv_sharetest/pfns: one line per kind,
 * "KIND FIRST_PFN LAST_PFN" (decimal).  The contents are written once,
 * straight into the pages (no other copy of them in the guest).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/string.h>

/*
 * Pages per kind, at most: 1024 pages (4 MiB) is the largest block
 * alloc_pages_exact() gives on x86 (MAX_ORDER 10).
 */
#define ST_MAX_PAGES	1024u

static unsigned int zero = 64;
module_param(zero, uint, 0444);
MODULE_PARM_DESC(zero, "Zero pages (1 .. 1024, default 64)");

static unsigned int dup = 64;
module_param(dup, uint, 0444);
MODULE_PARM_DESC(dup, "Pages of one content unique to this guest (2 .. 1024)");

static unsigned int cross = 64;
module_param(cross, uint, 0444);
MODULE_PARM_DESC(cross, "Pages of the content made from seed (1 .. 1024)");

static unsigned int uniq = 64;
module_param(uniq, uint, 0444);
MODULE_PARM_DESC(uniq, "Pages of unique random content (1 .. 1024)");

static ulong seed = 0x5eed;
module_param(seed, ulong, 0444);
MODULE_PARM_DESC(seed, "Seed of the cross content: equal in every guest");

enum { ST_ZERO, ST_DUP, ST_CROSS, ST_UNIQ, ST_KINDS };

static const char *const st_names[ST_KINDS] = {
	"zero", "dup", "cross", "uniq"
};

static struct {
	void *va;
	unsigned int n;
} st_blocks[ST_KINDS];

static struct dentry *st_dir;

/* a page of content made from s alone (xorshift64; never all zero) */
static void st_fill_seed(void *page, u64 s)
{
	u64 x = s * 0x9e3779b97f4a7c15ULL + 1, *w = page;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(*w); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		w[i] = x;
	}
}

static void st_plant(void)
{
	unsigned int i;
	u8 *b;

	/* zero: alloc_pages_exact() with __GFP_ZERO wrote them */
	b = st_blocks[ST_DUP].va;
	get_random_bytes(b, PAGE_SIZE);
	for (i = 1; i < st_blocks[ST_DUP].n; i++)
		memcpy(b + i * PAGE_SIZE, b, PAGE_SIZE);
	b = st_blocks[ST_CROSS].va;
	st_fill_seed(b, seed);
	for (i = 1; i < st_blocks[ST_CROSS].n; i++)
		memcpy(b + i * PAGE_SIZE, b, PAGE_SIZE);
	b = st_blocks[ST_UNIQ].va;
	for (i = 0; i < st_blocks[ST_UNIQ].n; i++)
		get_random_bytes(b + i * PAGE_SIZE, PAGE_SIZE);
}

static int st_pfns_show(struct seq_file *m, void *v)
{
	unsigned long pfn;
	int k;

	for (k = 0; k < ST_KINDS; k++) {
		pfn = page_to_pfn(virt_to_page(st_blocks[k].va));
		seq_printf(m, "%s %lu %lu\n", st_names[k], pfn,
			   pfn + st_blocks[k].n - 1);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(st_pfns);

static void st_free(void)
{
	int k;

	for (k = 0; k < ST_KINDS; k++) {
		if (st_blocks[k].va)
			free_pages_exact(st_blocks[k].va,
					 st_blocks[k].n * PAGE_SIZE);
		st_blocks[k].va = NULL;
	}
}

static int __init st_init(void)
{
	const unsigned int want[ST_KINDS] = { zero, dup, cross, uniq };
	int k;

	for (k = 0; k < ST_KINDS; k++) {
		/* dup: at least two pages, or nothing is duplicated */
		if (!want[k] || want[k] > ST_MAX_PAGES ||
		    (k == ST_DUP && want[k] < 2))
			return -EINVAL;
	}
	for (k = 0; k < ST_KINDS; k++) {
		st_blocks[k].n = want[k];
		st_blocks[k].va = alloc_pages_exact(want[k] * PAGE_SIZE,
						    GFP_KERNEL | __GFP_ZERO);
		if (!st_blocks[k].va)
			goto fail;
	}
	st_plant();
	st_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("pfns", 0444, st_dir, NULL, &st_pfns_fops);
	pr_info("planted %u zero, %u dup, %u cross (seed %#lx), %u unique pages\n",
		zero, dup, cross, seed, uniq);
	return 0;
fail:
	st_free();
	return -ENOMEM;
}

static void __exit st_exit(void)
{
	debugfs_remove_recursive(st_dir);
	st_free();
}

module_init(st_init);
module_exit(st_exit);
MODULE_DESCRIPTION("pvkit test: pages of known content for the sharing scan");
MODULE_LICENSE("GPL");
