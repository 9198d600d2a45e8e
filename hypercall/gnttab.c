// SPDX-License-Identifier: GPL-2.0
/*
 * Grant tables, v1: the guest-owned table in the shared region, a
 * reference allocator with free callbacks, deferred end of access and
 * the VPV_GNTTABOP_COPY wrapper.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <pvkit/vbus.h>

#include "split_internal.h"
#include "split_logic.h"

#define VPV_GNTTAB_NR_LIMIT	BIT(20)	/* sanity bound on the header */
#define VPV_GNTTAB_RETRY	(HZ / 10)

struct vpv_gnt_deferred {
	struct list_head list;
	int ref;
	struct page *page;
	unsigned int tries;
};

static struct {
	spinlock_t lock;		/* everything below */
	struct vpv_grant_entry *table;	/* NULL: no grant tables */
	struct vpv_ref_alloc refs;
	struct list_head free_cbs;
	struct list_head deferred;
	u32 domid;
} gt = {
	.lock = __SPIN_LOCK_UNLOCKED(gt.lock),
	.free_cbs = LIST_HEAD_INIT(gt.free_cbs),
	.deferred = LIST_HEAD_INIT(gt.deferred),
};

static void vpv_gnttab_deferred_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(vpv_gnttab_deferred_work, vpv_gnttab_deferred_fn);

static u32 *vpv_gnt_wordp(int ref)
{
	/* flags and domid: one naturally aligned 32-bit word */
	return (u32 *)&gt.table[ref].flags;
}

u32 vpv_domid(void)
{
	unsigned long flags;
	u32 d;

	spin_lock_irqsave(&gt.lock, flags);
	d = gt.domid;
	spin_unlock_irqrestore(&gt.lock, flags);
	return d;
}
EXPORT_SYMBOL_GPL(vpv_domid);

/* Run the callbacks whose count is now met, one at a time, unlocked. */
static void vpv_gnttab_run_free_cbs(void)
{
	struct vpv_gnttab_free_cb *cb, *found;
	unsigned long flags;

	for (;;) {
		found = NULL;
		spin_lock_irqsave(&gt.lock, flags);
		list_for_each_entry(cb, &gt.free_cbs, list) {
			if (cb->count <= gt.refs.nr_free) {
				found = cb;
				list_del_init(&cb->list);
				cb->queued = false;
				break;
			}
		}
		spin_unlock_irqrestore(&gt.lock, flags);
		if (!found)
			return;
		found->fn(found->arg);
	}
}

void vpv_gnttab_request_free_callback(struct vpv_gnttab_free_cb *cb,
				      void (*fn)(void *), void *arg,
				      unsigned int count)
{
	unsigned long flags;

	spin_lock_irqsave(&gt.lock, flags);
	if (cb->queued) {
		spin_unlock_irqrestore(&gt.lock, flags);
		return;
	}
	cb->fn = fn;
	cb->arg = arg;
	cb->count = count;
	cb->queued = true;
	list_add_tail(&cb->list, &gt.free_cbs);
	spin_unlock_irqrestore(&gt.lock, flags);
	vpv_gnttab_run_free_cbs();
}
EXPORT_SYMBOL_GPL(vpv_gnttab_request_free_callback);

void vpv_gnttab_cancel_free_callback(struct vpv_gnttab_free_cb *cb)
{
	unsigned long flags;

	spin_lock_irqsave(&gt.lock, flags);
	if (cb->queued) {
		list_del_init(&cb->list);
		cb->queued = false;
	}
	spin_unlock_irqrestore(&gt.lock, flags);
}
EXPORT_SYMBOL_GPL(vpv_gnttab_cancel_free_callback);

unsigned int vpv_gnttab_free_count(void)
{
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&gt.lock, flags);
	n = gt.table ? gt.refs.nr_free : 0;
	spin_unlock_irqrestore(&gt.lock, flags);
	return n;
}
EXPORT_SYMBOL_GPL(vpv_gnttab_free_count);

/*
 * The entry of a reference this guest handed out, inside the table
 * whose layout vpv_gnttab_init() read once and checked against the
 * BAR; NULL otherwise.  Callers never recompute it from the shared
 * header, which the host (or anyone with the region) may change later.
 */
struct vpv_grant_entry *vpv_gnttab_entry(int ref)
{
	struct vpv_grant_entry *e = NULL;
	unsigned long flags;

	spin_lock_irqsave(&gt.lock, flags);
	if (gt.table && vpv_ref_in_use(&gt.refs, ref))
		e = &gt.table[ref];
	spin_unlock_irqrestore(&gt.lock, flags);
	return e;
}
EXPORT_SYMBOL_GPL(vpv_gnttab_entry);

/* Grant under gt.lock (gt.table set, pfn checked); a ref or -ENOSPC. */
static int __vpv_gnttab_grant(u16 domid, unsigned long pfn, bool readonly)
{
	int ref = vpv_ref_get(&gt.refs);
	u32 *word;

	if (ref < 0)
		return ref;
	WRITE_ONCE(gt.table[ref].frame, pfn);
	word = vpv_gnt_wordp(ref);
	/* frame before the flags that make it accessible */
	virt_wmb();
	WRITE_ONCE(*word, vpv_gnt_word(vpv_gnt_grant_flags(readonly), domid));
	return ref;
}

int vpv_gnttab_grant(u16 domid, unsigned long pfn, bool readonly)
{
	int refs[1];
	int ret = vpv_gnttab_grant_batch(domid, &pfn, 1, readonly, refs);

	return ret ? ret : refs[0];
}
EXPORT_SYMBOL_GPL(vpv_gnttab_grant);

/* End and free under gt.lock; 0, -EBUSY or -EINVAL. */
static int __vpv_gnttab_end(int ref)
{
	int ret;

	if (!gt.table || !vpv_ref_in_use(&gt.refs, ref))
		return -EINVAL;
	ret = vpv_gnt_try_end(vpv_gnt_wordp(ref));
	if (ret)
		return ret;
	/* the host's last writes to the frame before its reuse */
	virt_mb();
	WRITE_ONCE(gt.table[ref].frame, 0);
	vpv_ref_put(&gt.refs, ref);
	return 0;
}

int vpv_gnttab_end(int ref)
{
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&gt.lock, flags);
	ret = __vpv_gnttab_end(ref);
	spin_unlock_irqrestore(&gt.lock, flags);
	if (!ret)
		vpv_gnttab_run_free_cbs();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_gnttab_end);

/*
 * One hold of gt.lock for the whole batch (a 1 MiB request's 256 data
 * grants took 256 holds, each an interrupt-off section under TCG):
 * callers keep @n to a request's segments or less.
 */
int vpv_gnttab_grant_batch(u16 domid, const unsigned long *pfns,
			   unsigned int n, bool readonly, int *refs)
{
	unsigned long flags;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < n; i++)
		if (pfns[i] > U32_MAX)
			return -EINVAL;
	spin_lock_irqsave(&gt.lock, flags);
	if (!gt.table) {
		spin_unlock_irqrestore(&gt.lock, flags);
		return vpv_features() ? -EOPNOTSUPP : -ENODEV;
	}
	for (i = 0; i < n; i++) {
		ret = __vpv_gnttab_grant(domid, pfns[i], readonly);
		if (ret < 0)
			break;
		refs[i] = ret;
	}
	spin_unlock_irqrestore(&gt.lock, flags);
	if (ret < 0)
		goto undo;
	return 0;
undo:
	/* nobody was told about these yet: the host cannot hold them */
	while (i--) {
		vpv_gnttab_end_deferred(refs[i], NULL);
		refs[i] = -1;
	}
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_gnttab_grant_batch);

/* One hold of gt.lock, one pass of the free callbacks (as above). */
int vpv_gnttab_end_batch(int *refs, unsigned int n)
{
	unsigned int i, ended = 0;
	unsigned long flags;
	int busy = 0, ret;

	spin_lock_irqsave(&gt.lock, flags);
	for (i = 0; i < n; i++) {
		if (refs[i] < 0)
			continue;
		ret = __vpv_gnttab_end(refs[i]);
		if (ret == -EBUSY) {
			busy++;
			continue;
		}
		ended += !ret;
		refs[i] = -1;
	}
	spin_unlock_irqrestore(&gt.lock, flags);
	if (ended)
		vpv_gnttab_run_free_cbs();
	return busy;
}
EXPORT_SYMBOL_GPL(vpv_gnttab_end_batch);

void vpv_gnttab_end_deferred(int ref, struct page *page)
{
	struct vpv_gnt_deferred *d;
	unsigned long flags;
	int ret = vpv_gnttab_end(ref);

	if (ret != -EBUSY) {
		if (ret)
			pr_warn_ratelimited("deferred end of ref %d: not granted\n",
					    ref);
		if (page)
			__free_page(page);
		return;
	}
	d = kmalloc(sizeof(*d), GFP_ATOMIC);
	if (!d) {
		/* the host may still write it: never reuse the page */
		pr_warn_ratelimited("ref %d still in use, leaking its page\n",
				    ref);
		return;
	}
	d->ref = ref;
	d->page = page;
	d->tries = 0;
	spin_lock_irqsave(&gt.lock, flags);
	list_add_tail(&d->list, &gt.deferred);
	spin_unlock_irqrestore(&gt.lock, flags);
	schedule_delayed_work(&vpv_gnttab_deferred_work, VPV_GNTTAB_RETRY);
}
EXPORT_SYMBOL_GPL(vpv_gnttab_end_deferred);

/* One pass over the deferred list; returns true if entries remain. */
static bool vpv_gnttab_deferred_pass(void)
{
	struct vpv_gnt_deferred *d, *tmp;
	unsigned long flags;
	LIST_HEAD(done);
	bool more, freed = false;

	spin_lock_irqsave(&gt.lock, flags);
	list_for_each_entry_safe(d, tmp, &gt.deferred, list) {
		int ret = __vpv_gnttab_end(d->ref);

		if (ret == -EBUSY) {
			if (++d->tries % 100 == 0)
				pr_warn_ratelimited("grant ref %d still in use after %u tries\n",
						    d->ref, d->tries);
			continue;
		}
		freed |= !ret;
		list_move(&d->list, &done);
	}
	more = !list_empty(&gt.deferred);
	spin_unlock_irqrestore(&gt.lock, flags);

	list_for_each_entry_safe(d, tmp, &done, list) {
		if (d->page)
			__free_page(d->page);
		kfree(d);
	}
	if (freed)
		vpv_gnttab_run_free_cbs();
	return more;
}

static void vpv_gnttab_deferred_fn(struct work_struct *work)
{
	if (vpv_gnttab_deferred_pass())
		schedule_delayed_work(&vpv_gnttab_deferred_work,
				      VPV_GNTTAB_RETRY);
}

long vpv_gnttab_copy(struct vpv_gnttab_copy *ops, unsigned int n)
{
	size_t bytes = (size_t)n * sizeof(*ops);
	long ret;

	if (!n)
		return -EINVAL;
	if (n > VPV_GNTTAB_COPY_MAX)
		return -E2BIG;
	if (!virt_addr_valid(ops) || !virt_addr_valid((u8 *)ops + bytes - 1))
		return -EFAULT;
	if (!(vpv_features() & VPV_F_GRANT))
		return vpv_features() ? -EOPNOTSUPP : -ENODEV;
	ret = vpv_hypercall4(VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY,
			     virt_to_phys(ops), n, 0);
	if (ret > n)
		return -EIO;
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_gnttab_copy);

int vpv_gnttab_init(const struct vpv_transport_info *t)
{
	struct vpv_shared_header *hdr = t->hdr;
	u32 nr = READ_ONCE(hdr->gnttab_nr);
	u32 off = READ_ONCE(hdr->gnttab_offset);
	u32 domid = READ_ONCE(hdr->domid);
	unsigned long flags;
	u32 *next;

	spin_lock_irqsave(&gt.lock, flags);
	gt.domid = domid;
	spin_unlock_irqrestore(&gt.lock, flags);
	if (!(t->features & VPV_F_GRANT))
		return 0;
	if (nr <= VPV_GNTTAB_RESERVED || nr > VPV_GNTTAB_NR_LIMIT ||
	    !vpv_transport_range_ok(t, off,
			      (u64)nr * sizeof(struct vpv_grant_entry))) {
		dev_err(t->dev,
			"bad grant table layout: %u entries at %#x, grants disabled\n",
			nr, off);
		return 0;
	}
	next = kvmalloc_array(nr, sizeof(*next), GFP_KERNEL);
	if (!next)
		return -ENOMEM;
	/* a new session: no grant of a previous driver instance survives */
	memset(t->shm + off, 0, (size_t)nr * sizeof(struct vpv_grant_entry));
	spin_lock_irqsave(&gt.lock, flags);
	vpv_ref_init(&gt.refs, next, nr, VPV_GNTTAB_RESERVED);
	gt.table = t->shm + off;
	spin_unlock_irqrestore(&gt.lock, flags);
	dev_info(t->dev, "grant table: %u entries, domid %u\n", nr,
		 domid);
	return 0;
}

void vpv_gnttab_exit(const struct vpv_transport_info *t)
{
	struct vpv_gnt_deferred *d, *tmp;
	struct vpv_gnttab_free_cb *cb, *cbtmp;
	unsigned long flags;
	u32 *next;
	int i;

	cancel_delayed_work_sync(&vpv_gnttab_deferred_work);
	/* the host gets a little longer for grants still in use */
	for (i = 0; i < 10 && vpv_gnttab_deferred_pass(); i++)
		msleep(VPV_GNTTAB_RETRY * 1000 / HZ);

	spin_lock_irqsave(&gt.lock, flags);
	list_for_each_entry_safe(d, tmp, &gt.deferred, list) {
		/* never reuse a page the host may still write */
		dev_warn(t->dev, "grant ref %d still in use at removal, leaking its page\n",
			 d->ref);
		list_del(&d->list);
		kfree(d);
	}
	list_for_each_entry_safe(cb, cbtmp, &gt.free_cbs, list) {
		list_del_init(&cb->list);
		cb->queued = false;
	}
	if (gt.table && gt.refs.nr_free + VPV_GNTTAB_RESERVED != gt.refs.nr)
		dev_warn(t->dev, "%u grant refs still in use at removal\n",
			 gt.refs.nr - VPV_GNTTAB_RESERVED - gt.refs.nr_free);
	next = gt.table ? gt.refs.next : NULL;
	gt.table = NULL;
	gt.domid = 0;
	memset(&gt.refs, 0, sizeof(gt.refs));
	spin_unlock_irqrestore(&gt.lock, flags);
	kvfree(next);
}
