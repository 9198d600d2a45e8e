// SPDX-License-Identifier: GPL-2.0
/*
 * vblkfront: the front-end of the split block device "vbd"
 * (abi/vpv_blkif.h, Documentation/blkfront.rst), modelled on Linux's
 * drivers/block/xen-blkfront.c.
 *
 * A blk-mq disk /dev/pvdX (16 minors) whose parent is the bus device
 * vbd-ID, one hardware queue per ring.  connect() reads what the
 * back-end offers, allocates the rings (2^ring_order pages each), binds
 * the device's one event channel and publishes the keys; connected()
 * creates the disk the first time and re-issues what a lost ring had in
 * flight; disconnect() tears the rings down and keeps (or fails) what
 * was on them.
 *
 * Data: READ/WRITE with up to 11 inline segments, else INDIRECT with
 * the segment list in granted pages.  Persistent grants (persistent=1
 * and the back-end's feature-persistent): every page the back-end sees
 * comes from a per-ring pool of pages granted once, the data is copied
 * in (writes) and out (reads); otherwise the bio pages themselves are
 * granted and the grants ended on completion.
 *
 * Recovery (Xen blkif_recover()): each request on a ring has a shadow
 * slot (vblkfront_logic.h); when the back-end goes away the answers
 * already on the ring complete, the rest leave their slots for a kept
 * list, and connected() requeues them (blk_mq_requeue_request()): none
 * failed, none lost.  They fail only on removal and after a protocol
 * error (BLK_STS_IOERR, once each).
 *
 * Hardening: a response is read once into locals and judged
 * (vbf_judge()): an id that is not a busy slot of that ring completes
 * nothing, a wrong op or unknown status fails its request, and an
 * impossible rsp_prod takes the device down (vpv_bus_dev_fatal()) and
 * fails what is in flight.  Each is counted in bogus_rsp.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/hdreg.h>
#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <pvkit/vbus.h>
#include <pvkit/vtransport.h>

#include "abi/vpv_blkif.h"
#include "vblkfront_logic.h"

#define VBF_MINORS		16	/* a disk and 15 partitions */
#define VBF_PAGE		4096	/* the ABI's frame size */
/*
 * Grants made or ended per hold of the grant table's lock: a 1 MiB
 * request's 256 took as many interrupt-off holds each way; 32 keeps the
 * on-stack arrays at 384 bytes in queue_rq and the interrupt handler.
 */
#define VBF_GRANT_BATCH		32
/*
 * Persistent grants per device, all rings together: 8 MiB of pages and
 * a quarter of the host's 8192 grant references; a ring's share never
 * falls below one largest request.
 */
#define VBF_PGRANTS_DEV		2048
#define VBF_FATAL_RETRY		msecs_to_jiffies(10)

static unsigned int max_queues;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues, "Rings at most (0, default: online CPUs; capped by the back-end and 8)");

static unsigned int ring_order = 2;
module_param(ring_order, uint, 0444);
MODULE_PARM_DESC(ring_order, "log2 of the pages per ring (0..4, default 2: 128 entries)");

static bool persistent = true;
module_param(persistent, bool, 0444);
MODULE_PARM_DESC(persistent, "Use persistent grants when offered (default 1)");

static bool transient = true;
module_param(transient, bool, 0444);
MODULE_PARM_DESC(transient, "With persistent grants, grant an indirect request's own pages (no copy) when the back-end offers feature-transient (default 1)");

static unsigned int max_indirect_segs = 256;
module_param(max_indirect_segs, uint, 0444);
MODULE_PARM_DESC(max_indirect_segs, "Segments of an indirect request at most (0: none; default 256 = 1 MiB)");

/* debugfs "inject": the next response as a hostile back-end writes it */
enum {
	VBF_INJ_NONE,
	VBF_INJ_DUP,		/* answered twice */
	VBF_INJ_OP,		/* another op */
	VBF_INJ_STATUS,		/* an unknown status */
	VBF_INJ_PROD,		/* rsp_prod beyond what was issued */
};

static const char * const vbf_inj_names[] = {
	[VBF_INJ_NONE] = "none",	/* match_string() stops at a NULL */
	[VBF_INJ_DUP] = "dup",
	[VBF_INJ_OP] = "op",
	[VBF_INJ_STATUS] = "status",
	[VBF_INJ_PROD] = "prod",
};

static int vbf_major;
static DEFINE_IDA(vbf_ida);
static struct dentry *vbf_root;
static unsigned int vbf_pdu_segs;	/* segments a request's pdu holds */

struct vbf_dev;

/* A page of a ring's persistent pool, granted for the connection. */
struct vbf_gnt {
	struct list_head node;
	struct page *page;
	int gref;
};

/* One segment of a request: a direct grant, or a pool page. */
struct vbf_seg {
	int gref;
	struct vbf_gnt *gnt;
};

/* A block request's pdu (blk-mq cmd_size): its grants and sg list. */
struct vbf_req {
	blk_status_t status;
	unsigned int nsegs;		/* granted segments */
	unsigned int nind;		/* indirect pages */
	bool pers;			/* indirect pages from the pool */
	bool copy;			/* data through pool pages */
	struct list_head node;		/* on kept or a done list */
	struct page *ind_page[VPV_BLKIF_MAX_INDIRECT_PAGES];
	struct vbf_seg ind[VPV_BLKIF_MAX_INDIRECT_PAGES];
	struct scatterlist *sg;		/* vbf_pdu_segs, after seg[] */
	struct vbf_seg seg[];
};

struct vbf_ring {
	struct vbf_dev *d;
	spinlock_t lock;		/* everything below */
	bool live;			/* requests may go on it */
	bool full;			/* a queue stopped: ring was full */
	bool kick;			/* pushed, the back-end not notified */
	struct vpv_blkif_sring *sring;
	struct vpv_front_ring front;
	int refs[VPV_BUS_RING_PAGES_MAX];
	struct vbf_slots slots;
	struct list_head pool;		/* free persistent pages */
	unsigned int pool_nr;		/* granted: free, in use, reserved */
	unsigned int pool_free;
	unsigned int pool_cap;
};

struct vbf_dev {
	struct vpv_bus_device *bdev;
	struct mutex lock;		/* connection state, kept list */
	int index;			/* pvd<index>, -1 before the disk */
	struct gendisk *disk;
	struct blk_mq_tag_set tag_set;
	bool disk_added;
	bool live;			/* rings up, both sides Connected */
	bool dead;			/* being removed */
	bool broken;			/* protocol error: I/O fails */
	bool watching;
	/* negotiated at the last connect */
	unsigned int nr_rings, nr_pages, nents, max_segs;
	bool pers;
	bool transient;			/* F_TRANSIENT: big requests direct */
	unsigned int irq, port;
	u64 sectors;
	unsigned int ssize, psize, ro, flush, fua, discard, secure, wzeroes;
	unsigned int dgran, be_pgrants;
	struct vbf_ring rings[VPV_BLKIF_MAX_QUEUES];
	struct list_head kept;		/* requests waiting for a reconnect */
	unsigned int nkept;
	struct vpv_gnttab_free_cb free_cb;
	struct work_struct restart_work;	/* grants freed: rerun */
	struct work_struct resize_work;		/* sectors changed */
	struct work_struct resubmit_work;	/* bios of too-big requests */
	spinlock_t resubmit_lock;		/* resubmit */
	struct bio_list resubmit;
	struct delayed_work fatal_work;		/* protocol error */
	struct vpv_store_watch watch;
	struct dentry *dir;
	int inject;			/* test hook: VBF_INJ_* */
	/* counters */
	u64 connects, reconnects, replayed, kept_total;
	atomic64_t resubmitted;
	atomic64_t reqs, errors, bogus_rsp, issued, grant_busy, resource;
	/* requests sent direct because the pool could not grow (nomem) */
	atomic64_t nomem_direct;
	bool pool_nomem;		/* test hook: the pool cannot grow */
};

static inline struct vbf_req *vbf_pdu(struct request *rq)
{
	return blk_mq_rq_to_pdu(rq);
}

/* ---- grants ---- */

/*
 * End direct grants refs[0 .. n - 1] now or, those the back-end still
 * maps, later (one hold of the grant table's lock for all of them).
 */
static void vbf_end_refs(struct vbf_dev *d, int *refs, unsigned int n)
{
	unsigned int i;

	if (!n || !vpv_gnttab_end_batch(refs, n))
		return;
	for (i = 0; i < n; i++) {
		if (refs[i] < 0)
			continue;
		atomic64_inc(&d->grant_busy);
		vpv_gnttab_end_deferred(refs[i], NULL);
	}
}

/* Under ring->lock: a pool page back to the pool, or ended (@drop). */
static void vbf_gnt_put(struct vbf_ring *ring, struct vbf_gnt *g, bool drop)
{
	if (drop) {
		vpv_gnttab_end_deferred(g->gref, g->page);	/* frees it */
		kfree(g);
		ring->pool_nr--;
		return;
	}
	list_add(&g->node, &ring->pool);
	ring->pool_free++;
}

/* Under ring->lock: a free pool page (the caller made sure of one). */
static struct vbf_gnt *vbf_gnt_get(struct vbf_ring *ring)
{
	struct vbf_gnt *g = list_first_entry(&ring->pool, struct vbf_gnt, node);

	list_del(&g->node);
	ring->pool_free--;
	return g;
}

/*
 * Under ring->lock: the request's grants end (direct) or go back to the
 * pool; @drop (the connection goes away): pool pages are ended too.
 */
static void vbf_release(struct vbf_ring *ring, struct vbf_req *req, bool drop)
{
	struct vbf_dev *d = ring->d;
	int refs[VBF_GRANT_BATCH];
	unsigned int i, n = 0;

	for (i = 0; i < req->nsegs + req->nind; i++) {
		struct vbf_seg *s = i < req->nsegs ? &req->seg[i] :
						      &req->ind[i - req->nsegs];

		if (s->gnt) {
			vbf_gnt_put(ring, s->gnt, drop);
		} else if (s->gref >= 0) {
			refs[n++] = s->gref;
			if (n == VBF_GRANT_BATCH) {
				vbf_end_refs(d, refs, n);
				n = 0;
			}
		}
		s->gnt = NULL;
		s->gref = -1;
	}
	vbf_end_refs(d, refs, n);
	req->nsegs = 0;
	req->nind = 0;
}

/* Under ring->lock: every free pool page ended and freed. */
static void vbf_pool_drop(struct vbf_ring *ring)
{
	while (!list_empty(&ring->pool)) {
		struct vbf_gnt *g = vbf_gnt_get(ring);

		vbf_gnt_put(ring, g, true);
	}
}

/* Free references came back: run the queues again (process context). */
static void vbf_restart_work(struct work_struct *w)
{
	struct vbf_dev *d = container_of(w, struct vbf_dev, restart_work);

	if (d->disk)
		blk_mq_run_hw_queues(d->disk->queue, true);
}

/* vpv_gnttab free callback: may be atomic, only queue the work. */
static void vbf_grants_freed(void *arg)
{
	struct vbf_dev *d = arg;

	schedule_work(&d->restart_work);
}

/*
 * Grow @ring's pool to @need free pages (no lock held on entry).
 * Return: 0, -ENOSPC at the ring's cap (requests in flight give pages
 * back), -ENOMEM, or -EAGAIN when the grant table is exhausted (the
 * free callback reruns the queues).
 */
static int vbf_pool_fill(struct vbf_ring *ring, unsigned int need)
{
	struct vbf_dev *d = ring->d;
	LIST_HEAD(fresh);
	unsigned long flags;
	unsigned int n, i;
	int ret = 0;

	if (unlikely(READ_ONCE(d->pool_nomem)))
		return -ENOMEM;		/* test hook: as if memory ran out */
	spin_lock_irqsave(&ring->lock, flags);
	n = need > ring->pool_free ? need - ring->pool_free : 0;
	if (n && ring->pool_nr + n > ring->pool_cap)
		ret = -ENOSPC;
	else
		ring->pool_nr += n;	/* reserved against the cap */
	spin_unlock_irqrestore(&ring->lock, flags);
	if (ret || !n)
		return ret;
	for (i = 0; i < n; i++) {
		struct vbf_gnt *g = kmalloc(sizeof(*g), GFP_NOWAIT | __GFP_NOWARN);

		if (g)
			g->page = alloc_page(GFP_NOWAIT | __GFP_NOWARN);
		if (!g || !g->page) {
			kfree(g);
			ret = -ENOMEM;
			break;
		}
		g->gref = vpv_gnttab_grant(vpv_bus_otherend_domid(d->bdev),
					   page_to_pfn(g->page), false);
		if (g->gref < 0) {
			ret = g->gref == -ENOSPC ? -EAGAIN : g->gref;
			__free_page(g->page);
			kfree(g);
			break;
		}
		list_add(&g->node, &fresh);
	}
	spin_lock_irqsave(&ring->lock, flags);
	ring->pool_nr -= n;
	while (!list_empty(&fresh)) {
		struct vbf_gnt *g = list_first_entry(&fresh, struct vbf_gnt,
						     node);

		list_del(&g->node);
		ring->pool_nr++;
		/* a connection torn down meanwhile: not its pool any more */
		vbf_gnt_put(ring, g, !ring->live);
	}
	spin_unlock_irqrestore(&ring->lock, flags);
	if (ret == -EAGAIN)
		vpv_gnttab_request_free_callback(&d->free_cb, vbf_grants_freed,
						 d, need);
	return ret;
}

/* ---- requests ---- */

/* The ring op and flags for @rq; -1 for what the device cannot do. */
static int vbf_ring_op(struct vbf_dev *d, struct request *rq, u16 *flags)
{
	*flags = 0;
	switch (req_op(rq)) {
	case REQ_OP_READ:
		return VPV_BLKIF_OP_READ;
	case REQ_OP_WRITE:
		if ((rq->cmd_flags & REQ_FUA) && d->fua)
			*flags = VPV_BLKIF_F_FUA;
		return VPV_BLKIF_OP_WRITE;
	case REQ_OP_FLUSH:
		return d->flush ? VPV_BLKIF_OP_FLUSH : -1;
	case REQ_OP_DISCARD:
		return d->discard ? VPV_BLKIF_OP_DISCARD : -1;
	case REQ_OP_SECURE_ERASE:
		*flags = VPV_BLKIF_F_SECURE;
		return d->secure ? VPV_BLKIF_OP_DISCARD : -1;
	case REQ_OP_WRITE_ZEROES:
		return d->wzeroes ? VPV_BLKIF_OP_WRITE_ZEROES : -1;
	default:
		return -1;
	}
}

/*
 * Under ring->lock: grant the pages of segments @i .. @i + @n - 1 (@n <=
 * VBF_GRANT_BATCH) in one batch, or take pool pages and copy a write's
 * data into them.  Return: 0 or vpv_gnttab_grant_batch()'s error
 * (nothing of the batch granted then).
 */
static int vbf_grant_segs(struct vbf_ring *ring, struct vbf_req *req,
			  unsigned int i, unsigned int n, bool write)
{
	unsigned long pfns[VBF_GRANT_BATCH];
	int refs[VBF_GRANT_BATCH];
	unsigned int j;
	int ret;

	for (j = i; j < i + n && req->copy; j++) {
		struct scatterlist *sg = &req->sg[j];
		struct vbf_seg *s = &req->seg[j];

		s->gnt = vbf_gnt_get(ring);
		s->gref = -1;
		req->nsegs = j + 1;
		if (write)
			memcpy_from_page(page_address(s->gnt->page) + sg->offset,
					 sg_page(sg), sg->offset, sg->length);
	}
	if (req->copy)
		return 0;
	for (j = 0; j < n; j++)
		pfns[j] = page_to_pfn(sg_page(&req->sg[i + j]));
	ret = vpv_gnttab_grant_batch(vpv_bus_otherend_domid(ring->d->bdev),
				     pfns, n, write, refs);
	if (ret)
		return ret;
	for (j = 0; j < n; j++) {
		req->seg[i + j].gnt = NULL;
		req->seg[i + j].gref = refs[j];
	}
	req->nsegs = i + n;
	return 0;
}

/* Segment @i of @req (granted) as the ring describes it. */
static void vbf_seg_entry(const struct vbf_req *req, unsigned int i,
			  struct vpv_blkif_seg *seg)
{
	const struct scatterlist *sg = &req->sg[i];
	const struct vbf_seg *s = &req->seg[i];

	seg->gref = s->gnt ? s->gnt->gref : s->gref;
	seg->first_sect = sg->offset >> VPV_BLKIF_SECTOR_SHIFT;
	seg->last_sect = (sg->offset + sg->length - 1) >> VPV_BLKIF_SECTOR_SHIFT;
	seg->pad = 0;
}

/* Under ring->lock: grant indirect page @i (read-only to the back-end). */
static int vbf_grant_ind(struct vbf_ring *ring, struct vbf_req *req,
			 unsigned int i, void **va)
{
	struct vbf_seg *s = &req->ind[i];
	int ref;

	s->gnt = NULL;
	s->gref = -1;
	if (req->pers) {
		s->gnt = vbf_gnt_get(ring);
		*va = page_address(s->gnt->page);
		ref = s->gnt->gref;
	} else {
		ref = vpv_gnttab_grant(vpv_bus_otherend_domid(ring->d->bdev),
				       page_to_pfn(req->ind_page[i]), true);
		if (ref < 0)
			return ref;
		s->gref = ref;
		*va = page_address(req->ind_page[i]);
	}
	req->nind = i + 1;
	return ref;
}

/* Under ring->lock: grant the data (and indirect pages); fill @r. */
static int vbf_fill_rw(struct vbf_ring *ring, struct vbf_req *req, bool write,
		       struct vpv_blkif_req *r, unsigned int nsegs)
{
	struct vpv_blkif_seg *segs = r->u.seg, *ind = NULL;
	unsigned int nind = vbf_indirect_pages(nsegs), i, j, n;
	int ret;

	if (nind) {
		memset(&r->u.indirect, 0, sizeof(r->u.indirect));
		r->u.indirect.op = r->op;
		r->u.indirect.nr_segs = nsegs;
		r->op = VPV_BLKIF_OP_INDIRECT;
		r->nr_segs = 0;
	} else {
		r->nr_segs = nsegs;
	}
	/* the back-end must not keep the data grants of this one */
	if (req->pers && !req->copy)
		r->flags |= VPV_BLKIF_F_TRANSIENT;
	for (i = 0; i < nind; i++) {
		void *va;

		ret = vbf_grant_ind(ring, req, i, &va);
		if (ret < 0)
			return ret;
		r->u.indirect.gref[i] = ret;
	}
	for (i = 0; i < nsegs; i += n) {
		n = min_t(unsigned int, nsegs - i, VBF_GRANT_BATCH);
		ret = vbf_grant_segs(ring, req, i, n, write);
		if (ret)
			return ret;
		for (j = i; j < i + n; j++) {
			struct vpv_blkif_seg seg;
			unsigned int p = j / VPV_BLKIF_SEGS_PER_INDIRECT_PAGE;

			vbf_seg_entry(req, j, &seg);
			if (!nind) {
				segs[j] = seg;
				continue;
			}
			ind = page_address(req->pers ? req->ind[p].gnt->page :
					   req->ind_page[p]);
			ind[j % VPV_BLKIF_SEGS_PER_INDIRECT_PAGE] = seg;
		}
	}
	return 0;
}

/* Pool pages @req takes for @nsegs data segments (and indirect pages). */
static unsigned int vbf_pool_pages(const struct vbf_req *req,
				   unsigned int nsegs)
{
	return (req->copy ? nsegs : 0) +
	       (req->pers ? vbf_indirect_pages(nsegs) : 0);
}

/* Grants @req makes for itself (not pool pages): direct ones. */
static unsigned int vbf_direct_grants(const struct vbf_req *req,
				      unsigned int nsegs)
{
	return nsegs + vbf_indirect_pages(nsegs) - vbf_pool_pages(req, nsegs);
}

/*
 * Under ring->lock: the grant table cannot hold @need more grants now:
 * run the queues again when it can (vbf_grants_freed()).
 */
static blk_status_t vbf_no_grants(struct vbf_ring *ring, unsigned int need)
{
	vpv_gnttab_request_free_callback(&ring->d->free_cb, vbf_grants_freed,
					 ring->d, need);
	atomic64_inc(&ring->d->resource);
	return BLK_STS_RESOURCE;
}

/*
 * Under ring->lock: put @rq on the ring: a slot, its grants, the entry.
 * Return: BLK_STS_OK; BLK_STS_RESOURCE when the grant table is
 * exhausted, BLK_STS_IOERR when a grant fails otherwise (nothing of
 * the request is left on the ring either way).
 */
static blk_status_t vbf_put_rq(struct vbf_ring *ring, struct request *rq,
			       int op, u16 flags, unsigned int nsegs)
{
	struct vbf_req *req = vbf_pdu(rq);
	unsigned int need = vbf_direct_grants(req, nsegs);
	u8 ring_op = nsegs > VPV_BLKIF_MAX_SEGS ? VPV_BLKIF_OP_INDIRECT : op;
	struct vpv_blkif_req *r;
	int idx, ret = 0;

	/* direct grants: not even started when the table cannot hold them */
	if (need && vpv_gnttab_free_count() < need)
		return vbf_no_grants(ring, need);
	idx = vbf_slot_get(&ring->slots, rq, ring_op);
	if (idx < 0)		/* the caller saw a free slot: cannot happen */
		return BLK_STS_DEV_RESOURCE;
	r = &VPV_RING_ENTRY(ring->sring, &ring->front,
			    ring->front.req_prod_pvt)->req;
	/* an entry not pushed yet is ours alone: the back-end reads it later */
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->flags = flags;
	r->id = ring->slots.sh[idx].id;
	r->sector = blk_rq_pos(rq);
	if (op == VPV_BLKIF_OP_READ || op == VPV_BLKIF_OP_WRITE)
		ret = vbf_fill_rw(ring, req, op == VPV_BLKIF_OP_WRITE, r, nsegs);
	else if (op != VPV_BLKIF_OP_FLUSH)
		r->u.discard.nr_sectors = blk_rq_sectors(rq);
	if (ret) {
		vbf_release(ring, req, false);
		vbf_slot_put(&ring->slots, idx);
		return ret == -ENOSPC ? vbf_no_grants(ring, need) :
					BLK_STS_IOERR;
	}
	ring->front.req_prod_pvt++;
	atomic64_inc(&ring->d->issued);
	return BLK_STS_OK;
}

/*
 * @rq was cut for a connection that allowed more segments than this one
 * (a reconnect lowered the limits while it waited): its bios go to the
 * resubmit work, which submits them again to be split for the new
 * limits (xen-blkfront's blkif_recover()); @rq ends without them.  Any
 * context.
 */
static void vbf_steal(struct vbf_dev *d, struct request *rq)
{
	unsigned long flags;

	spin_lock_irqsave(&d->resubmit_lock, flags);
	blk_steal_bios(&d->resubmit, rq);
	spin_unlock_irqrestore(&d->resubmit_lock, flags);
	atomic64_inc(&d->resubmitted);
	blk_mq_end_request(rq, BLK_STS_OK);
	schedule_work(&d->resubmit_work);
}

/* Submit the stolen bios again (process context: submitting may sleep). */
static void vbf_resubmit_work(struct work_struct *w)
{
	struct vbf_dev *d = container_of(w, struct vbf_dev, resubmit_work);
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&d->resubmit_lock);
	bios = d->resubmit;
	bio_list_init(&d->resubmit);
	spin_unlock_irq(&d->resubmit_lock);
	while ((bio = bio_list_pop(&bios)))
		submit_bio_noacct(bio);
}

/*
 * The disk is not connected: stop @hctx until connected() starts it.
 * The barrier pairs with the one in vbf_go_live(): either we see live
 * again after stopping, or it sees the queue stopped and starts it.
 */
static blk_status_t vbf_wait_live(struct vbf_dev *d, struct blk_mq_hw_ctx *hctx)
{
	blk_mq_stop_hw_queue(hctx);
	smp_mb();	/* STOPPED set before live is read */
	if (READ_ONCE(d->live) || READ_ONCE(d->dead) || READ_ONCE(d->broken))
		blk_mq_start_stopped_hw_queue(hctx, true);
	return BLK_STS_DEV_RESOURCE;
}

/*
 * Not under ring->lock: @ring's pool lacks pages for @req: grow it once
 * (*@tries), else, with no memory for more, send @req direct (*@direct:
 * its own pages granted, F_TRANSIENT), which needs none.  Swap-out
 * under memory pressure comes here, and the I/O that would free memory
 * must not wait for memory: retrying the pool every 3 ms
 * (BLK_STS_RESOURCE) hung a guest swapping to its vbd with 5 MiB free
 * (Documentation/overcommit.rst).  Return: false, try the request
 * again; true, it waits (BLK_STS_RESOURCE, counted).
 */
static bool vbf_pool_short(struct vbf_ring *ring, struct vbf_req *req,
			   unsigned int nsegs, unsigned int *tries,
			   bool *direct)
{
	struct vbf_dev *d = ring->d;
	int ret = (*tries)++ ? -EAGAIN :
		  vbf_pool_fill(ring, vbf_pool_pages(req, nsegs));

	if (ret == -ENOMEM && req->copy && d->transient) {
		*direct = true;
		*tries = 0;
		atomic64_inc(&d->nomem_direct);
		return false;
	}
	if (ret)
		atomic64_inc(&d->resource);
	return ret != 0;
}

static blk_status_t vbf_queue_rq(struct blk_mq_hw_ctx *hctx,
				 const struct blk_mq_queue_data *bd)
{
	struct vbf_dev *d = hctx->queue->queuedata;
	struct request *rq = bd->rq;
	struct vbf_req *req = vbf_pdu(rq);
	unsigned int nsegs = 0, nrings, tries = 0;
	struct vbf_ring *ring;
	unsigned long flags;
	bool direct = false;
	blk_status_t st;
	u16 rflags;
	int op;

	if (READ_ONCE(d->dead) || READ_ONCE(d->broken))
		return BLK_STS_IOERR;
	op = vbf_ring_op(d, rq, &rflags);
	if (op < 0)
		return BLK_STS_NOTSUPP;
	blk_mq_start_request(rq);
	req->nsegs = 0;
	req->nind = 0;
	if (op == VPV_BLKIF_OP_READ || op == VPV_BLKIF_OP_WRITE) {
		/* split for a connection that allowed more: split again */
		if (blk_rq_nr_phys_segments(rq) > READ_ONCE(d->max_segs)) {
			vbf_steal(d, rq);
			return BLK_STS_OK;
		}
		nsegs = blk_rq_map_sg(hctx->queue, rq, req->sg);
		if (!nsegs || nsegs > READ_ONCE(d->max_segs))
			return BLK_STS_IOERR;
	}
again:
	nrings = READ_ONCE(d->nr_rings);
	if (!nrings)
		return vbf_wait_live(d, hctx);
	ring = &d->rings[hctx->queue_num % nrings];
	spin_lock_irqsave(&ring->lock, flags);
	if (!ring->live) {
		spin_unlock_irqrestore(&ring->lock, flags);
		return vbf_wait_live(d, hctx);
	}
	if (!vpv_front_free_requests(&ring->front) ||
	    ring->slots.free == VBF_NO_SLOT) {
		/* hardware queues share this ring: a completion restarts */
		blk_mq_stop_hw_queue(hctx);
		ring->full = true;
		spin_unlock_irqrestore(&ring->lock, flags);
		return BLK_STS_DEV_RESOURCE;
	}
	req->pers = d->pers;
	/* big requests: granting the pages beats copying them (TCG) */
	req->copy = d->pers && !direct &&
		    (!d->transient || nsegs <= VPV_BLKIF_MAX_SEGS);
	if (ring->pool_free < vbf_pool_pages(req, nsegs)) {
		spin_unlock_irqrestore(&ring->lock, flags);
		if (vbf_pool_short(ring, req, nsegs, &tries, &direct))
			return BLK_STS_RESOURCE;
		goto again;
	}
	st = vbf_put_rq(ring, rq, op, rflags, nsegs);
	/* published at once; one notification per batch (commit_rqs) */
	if (st == BLK_STS_OK && vpv_front_push_requests(&ring->front))
		ring->kick = true;
	if (ring->kick && (bd->last || st != BLK_STS_OK)) {
		ring->kick = false;
		vpv_evtchn_notify(d->port);
	}
	spin_unlock_irqrestore(&ring->lock, flags);
	return st;
}

/* A batch ended before its last request: notify what was pushed. */
static void vbf_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	struct vbf_dev *d = hctx->queue->queuedata;
	unsigned int nrings = READ_ONCE(d->nr_rings);
	struct vbf_ring *ring;
	unsigned long flags;

	if (!nrings)
		return;
	ring = &d->rings[hctx->queue_num % nrings];
	spin_lock_irqsave(&ring->lock, flags);
	if (ring->live && ring->kick) {
		ring->kick = false;
		vpv_evtchn_notify(d->port);
	}
	spin_unlock_irqrestore(&ring->lock, flags);
}

static void vbf_complete_rq(struct request *rq)
{
	blk_mq_end_request(rq, vbf_pdu(rq)->status);
}

/* Complete what was collected on @done (no ring lock held). */
static void vbf_complete_list(struct vbf_dev *d, struct list_head *done)
{
	while (!list_empty(done)) {
		struct vbf_req *req = list_first_entry(done, struct vbf_req,
						       node);
		struct request *rq = blk_mq_rq_from_pdu(req);

		list_del_init(&req->node);
		atomic64_inc(&d->reqs);
		if (req->status)
			atomic64_inc(&d->errors);
		blk_mq_complete_request(rq);
	}
}

/* Under ring->lock: a persistent read's data out of the pool pages. */
static void vbf_copy_out(struct vbf_req *req)
{
	unsigned int i;

	for (i = 0; i < req->nsegs; i++) {
		struct scatterlist *sg = &req->sg[i];

		memcpy_to_page(sg_page(sg), sg->offset,
			       page_address(req->seg[i].gnt->page) + sg->offset,
			       sg->length);
	}
}

/* Under ring->lock: one response, its fields read once. */
static void vbf_answer(struct vbf_ring *ring, u64 id, u8 op, s16 status,
		       struct list_head *done)
{
	struct vbf_dev *d = ring->d;
	enum vbf_verdict v = vbf_judge(&ring->slots, id, op, status);
	struct request *rq;
	struct vbf_req *req;

	if (v == VBF_RSP_BAD_ID) {
		if (atomic64_inc_return(&d->bogus_rsp) <= 5)
			dev_warn(&d->bdev->dev, "response to id %#llx op %u not in flight: ignored\n",
				 id, op);
		return;
	}
	rq = vbf_slot_put(&ring->slots, id & VBF_IDX_MASK);
	req = vbf_pdu(rq);
	if (v == VBF_RSP_BAD_OP || v == VBF_RSP_BAD_STATUS) {
		if (atomic64_inc_return(&d->bogus_rsp) <= 5)
			dev_warn(&d->bdev->dev, "response to id %#llx: op %u status %d refused\n",
				 id, op, status);
		req->status = BLK_STS_IOERR;
	} else {
		req->status = vbf_blk_status(status);
	}
	if (!req->status && req->copy && req_op(rq) == REQ_OP_READ)
		vbf_copy_out(req);
	vbf_release(ring, req, false);
	list_add_tail(&req->node, done);
}

/* Take the device down after a protocol error (from any context). */
static void vbf_broken(struct vbf_dev *d, const char *why)
{
	if (!xchg(&d->broken, true)) {
		atomic64_inc(&d->bogus_rsp);
		dev_err(&d->bdev->dev, "%s: taking the device down\n", why);
		schedule_delayed_work(&d->fatal_work, 0);
	}
}

/*
 * Under ring->lock: the test hook (debugfs "inject") turns the next
 * response into what a hostile back-end would write: the same answer
 * twice (*@dup), another op, an unknown status.
 */
static void vbf_inject_rsp(struct vbf_dev *d, u8 *op, s16 *status, bool *dup)
{
	switch (xchg(&d->inject, VBF_INJ_NONE)) {
	case VBF_INJ_DUP:
		*dup = true;
		break;
	case VBF_INJ_OP:
		*op ^= 0x80;
		break;
	case VBF_INJ_STATUS:
		*status = 1234;
		break;
	case VBF_INJ_PROD:	/* not a response's: put back */
		d->inject = VBF_INJ_PROD;
		break;
	}
}

/* Under ring->lock: @n responses, each field read once into locals. */
static void vbf_consume_n(struct vbf_ring *ring, long n, struct list_head *done)
{
	while (n--) {
		struct vpv_blkif_rsp *r =
			&VPV_RING_ENTRY(ring->sring, &ring->front,
					ring->front.rsp_cons)->rsp;
		/* each field read once: the back-end may rewrite it */
		u64 id = READ_ONCE(r->id);
		u8 op = READ_ONCE(r->op);
		s16 status = READ_ONCE(r->status);
		bool dup = false;

		ring->front.rsp_cons++;
		if (unlikely(READ_ONCE(ring->d->inject)))
			vbf_inject_rsp(ring->d, &op, &status, &dup);
		vbf_answer(ring, id, op, status, done);
		if (dup)
			vbf_answer(ring, id, op, status, done);
	}
}

/*
 * Under ring->lock: consume the ring's responses onto @done.
 * Return: false after a protocol error (the device goes down).
 */
static bool vbf_consume(struct vbf_ring *ring, struct list_head *done)
{
	struct vbf_dev *d = ring->d;
	long n = vpv_front_unconsumed_responses(&ring->front);

	/* the test hook: as if rsp_prod were beyond what was issued */
	if (unlikely(READ_ONCE(d->inject) == VBF_INJ_PROD) &&
	    cmpxchg(&d->inject, VBF_INJ_PROD, VBF_INJ_NONE) == VBF_INJ_PROD)
		n = -1;
	while (n > 0) {
		vbf_consume_n(ring, n, done);
		/* re-arms rsp_event, then sees a push that came meanwhile */
		n = vpv_front_final_check_responses(&ring->front);
	}
	if (n < 0) {
		ring->live = false;
		vbf_broken(d, "rsp_prod beyond the requests issued");
		return false;
	}
	if (ring->full && vpv_front_free_requests(&ring->front)) {
		ring->full = false;
		blk_mq_start_stopped_hw_queues(d->disk->queue, true);
	}
	return true;
}

/* The device's one event channel: look at every ring. */
static irqreturn_t vbf_interrupt(int irq, void *data)
{
	struct vbf_dev *d = data;
	unsigned int i, nrings = READ_ONCE(d->nr_rings);
	LIST_HEAD(done);

	for (i = 0; i < nrings; i++) {
		struct vbf_ring *ring = &d->rings[i];
		unsigned long flags;

		spin_lock_irqsave(&ring->lock, flags);
		if (ring->live && !READ_ONCE(d->broken))
			vbf_consume(ring, &done);
		spin_unlock_irqrestore(&ring->lock, flags);
	}
	vbf_complete_list(d, &done);
	return IRQ_HANDLED;
}

/* ---- connection ---- */

/*
 * Under d->lock, ring->lock: the ring's requests leave their slots,
 * their grants ended; kept for a replay, or failed (@fail) onto @done.
 */
static void vbf_ring_empty(struct vbf_dev *d, struct vbf_ring *ring,
			   bool fail, struct list_head *done)
{
	unsigned int i;

	for (i = 0; i < ring->slots.nr; i++) {
		struct request *rq = vbf_slot_put(&ring->slots, i);
		struct vbf_req *req;

		if (!rq)
			continue;
		req = vbf_pdu(rq);
		vbf_release(ring, req, true);
		if (fail) {
			req->status = BLK_STS_IOERR;
			list_add_tail(&req->node, done);
		} else {
			list_add_tail(&req->node, &d->kept);
			d->nkept++;
			d->kept_total++;
		}
	}
	vbf_pool_drop(ring);
}

/* Under d->lock: every kept request fails. */
static void vbf_fail_kept(struct vbf_dev *d)
{
	struct vbf_req *req;
	LIST_HEAD(done);

	list_splice_init(&d->kept, &done);
	d->nkept = 0;
	list_for_each_entry(req, &done, node)
		req->status = BLK_STS_IOERR;
	vbf_complete_list(d, &done);
}

/*
 * Under d->lock: drop the connection.  Answers already on a ring
 * complete (once); the rest is kept for the next connected(), or fails
 * on removal, after a protocol error and for -EIO.
 */
static void vbf_disconnect_locked(struct vbf_dev *d, int err)
{
	bool fail = d->dead || d->broken || err == -EIO;
	unsigned int i;
	LIST_HEAD(done);

	WRITE_ONCE(d->live, false);
	for (i = 0; i < VPV_BLKIF_MAX_QUEUES; i++) {
		spin_lock_irq(&d->rings[i].lock);
		d->rings[i].live = false;
		spin_unlock_irq(&d->rings[i].lock);
	}
	if (d->disk)
		blk_mq_stop_hw_queues(d->disk->queue);
	if (d->irq)
		vpv_bus_unbind_evtchn(d->irq, d);	/* handler done */
	d->irq = 0;
	d->port = 0;
	for (i = 0; i < d->nr_rings; i++) {
		struct vbf_ring *ring = &d->rings[i];

		spin_lock_irq(&ring->lock);
		if (ring->sring && !d->broken)
			vbf_consume(ring, &done);
		if (ring->slots.sh)
			vbf_ring_empty(d, ring, fail, &done);
		spin_unlock_irq(&ring->lock);
		kfree(ring->slots.sh);
		ring->slots.sh = NULL;
		ring->slots.nr = 0;
		vpv_bus_free_ring(d->bdev, ring->sring, d->nr_pages, ring->refs);
		ring->sring = NULL;
	}
	WRITE_ONCE(d->nr_rings, 0);
	vbf_complete_list(d, &done);
	if (fail)
		vbf_fail_kept(d);
	if (fail && d->disk)	/* queued requests see dead/broken, fail */
		blk_mq_start_stopped_hw_queues(d->disk->queue, true);
}

/* Under d->lock: what the back-end offers now (it may change at each connect). */
static int vbf_read_features(struct vbf_dev *d)
{
	struct vpv_bus_device *dev = d->bdev;
	unsigned long long sectors;
	unsigned int n;

	if (vpv_bus_scanf(dev, 0, true, "sectors", "%llu", &sectors) != 1)
		return -EINVAL;
	d->sectors = sectors;
	d->ssize = vpv_bus_read_feature(dev, "sector-size", 512);
	d->psize = vpv_bus_read_feature(dev, "physical-sector-size", d->ssize);
	if (!vbf_sector_size_ok(d->ssize) || !vbf_sector_size_ok(d->psize) ||
	    d->psize < d->ssize || d->sectors % (d->ssize >> 9))
		return -EINVAL;
	d->ro = !!vpv_bus_read_feature(dev, "read-only", 0);
	d->flush = !!vpv_bus_read_feature(dev, "feature-flush-cache", 0);
	d->fua = d->flush && vpv_bus_read_feature(dev, "feature-fua", 0);
	d->discard = !!vpv_bus_read_feature(dev, "feature-discard", 0);
	d->secure = d->discard &&
		    vpv_bus_read_feature(dev, "feature-secure-discard", 0);
	d->wzeroes = !!vpv_bus_read_feature(dev, "feature-write-zeroes", 0);
	d->dgran = vpv_bus_read_feature(dev, "discard-granularity", d->ssize);
	/* a power of two, at least a sector, at most 1 GiB */
	if (!is_power_of_2(d->dgran) || d->dgran < d->ssize || d->dgran > SZ_1G)
		d->dgran = d->ssize;
	d->pers = persistent &&
		  vpv_bus_read_feature(dev, "feature-persistent", 0);
	d->transient = d->pers && transient &&
		       vpv_bus_read_feature(dev, "feature-transient", 0);
	d->be_pgrants = vpv_bus_read_feature(dev, "max-persistent-grants", 0);
	n = vpv_bus_read_feature(dev, "feature-max-indirect-segments", 0);
	d->max_segs = min(vbf_pdu_segs, vbf_max_segs(max_indirect_segs, n));
	n = vpv_bus_read_feature(dev, "multi-queue-max-queues", 1);
	d->nr_rings = vbf_nr_queues(max_queues, num_online_cpus(), n);
	/* never more rings than the disk's hardware queues */
	if (d->disk)
		d->nr_rings = min(d->nr_rings, d->tag_set.nr_hw_queues);
	n = vpv_bus_read_feature(dev, "max-ring-page-order", 0);
	d->nr_pages = 1u << vbf_ring_order(ring_order, n);
	d->nents = vbf_ring_entries(ilog2(d->nr_pages));
	return 0;
}

/* Under d->lock: allocate and grant ring @i, its slots. */
static int vbf_ring_setup(struct vbf_dev *d, unsigned int i)
{
	struct vbf_ring *ring = &d->rings[i];
	struct vbf_shadow *sh;
	void *va;
	int ret;

	sh = kcalloc(d->nents, sizeof(*sh), GFP_KERNEL);
	if (!sh) {
		vpv_bus_dev_fatal(d->bdev, -ENOMEM, "ring %u shadows", i);
		return -ENOMEM;
	}
	ret = vpv_bus_alloc_ring(d->bdev, d->nr_pages, &va, ring->refs);
	if (ret) {
		kfree(sh);
		return ret;
	}
	spin_lock_irq(&ring->lock);
	ring->sring = va;
	vpv_ring_init_shared(&ring->sring->hdr);
	vpv_front_ring_init(&ring->front, &ring->sring->hdr, d->nents);
	vbf_slots_init(&ring->slots, sh, d->nents);
	ring->full = false;
	ring->pool_cap = max(VBF_PGRANTS_DEV / d->nr_rings,
			     d->max_segs + vbf_indirect_pages(d->max_segs));
	spin_unlock_irq(&ring->lock);
	return 0;
}

/* Our keys in one transaction: all or none. */
/*
 * The CPU that submits on queue q: blk_mq_map_queues() (this driver has
 * no map_queues of its own) gives the first nr_hw_queues present CPUs
 * one queue each, in order; -1: none.
 */
static int vbf_queue_cpu(unsigned int q)
{
	unsigned int cpu;

	for_each_present_cpu(cpu)
		if (!q--)
			return cpu;
	return -1;
}

/*
 * "q<q>-vector" (ABI 1.5): queue q's answers interrupt the CPU that
 * submits on it, as virtio's per-queue vectors do; without the key the
 * host rings VPV_VEC_EVTCHN (one CPU for every device).  A key an
 * earlier instance left (with the feature then, not now) is removed:
 * the back-end would ring a vector nobody handles.
 */
static int vbf_publish_vectors(struct vbf_dev *d, u32 tx)
{
	unsigned int q;
	char key[32];
	int cpu, vec, ret = 0;

	for (q = 0; !ret && q < d->nr_rings; q++) {
		cpu = vbf_queue_cpu(q);
		vec = cpu < 0 ? -ENOENT : vpv_evtchn_cpu_vector(cpu);
		snprintf(key, sizeof(key), "q%u-vector", q);
		if (vec >= 0)
			ret = vpv_bus_printf(d->bdev, tx, key, "%d", vec);
		else
			ret = vpv_bus_rm(d->bdev, tx, key);
	}
	return ret;
}

static int vbf_publish_tx(struct vbf_dev *d, u32 tx)
{
	struct vpv_bus_device *dev = d->bdev;
	unsigned int q, p;
	char key[32];
	int ret;

	ret = vpv_bus_printf(dev, tx, "multi-queue-num-queues", "%u",
			     d->nr_rings);
	if (!ret)
		ret = vpv_bus_printf(dev, tx, "ring-page-order", "%u",
				     ilog2(d->nr_pages));
	for (q = 0; !ret && q < d->nr_rings; q++) {
		for (p = 0; !ret && p < d->nr_pages; p++) {
			snprintf(key, sizeof(key), "q%u-ring-ref%u", q, p);
			ret = vpv_bus_printf(dev, tx, key, "%d",
					     d->rings[q].refs[p]);
		}
	}
	if (!ret)
		ret = vpv_bus_printf(dev, tx, "event-channel", "%u", d->port);
	if (!ret)
		ret = vbf_publish_vectors(d, tx);
	if (!ret)
		ret = vpv_bus_printf(dev, tx, "feature-persistent", "%u",
				     d->pers);
	return ret;
}

static int vbf_publish(struct vbf_dev *d)
{
	int ret, tries;
	u32 tx;

	/* -EAGAIN: a node read changed under the transaction, retry */
	for (tries = 0; tries < 10; tries++) {
		ret = vpv_store_tx_start(&tx);
		if (ret)
			return ret;
		ret = vbf_publish_tx(d, tx);
		if (ret) {
			vpv_store_tx_end(tx, false);
			return ret;
		}
		ret = vpv_store_tx_end(tx, true);
		if (ret != -EAGAIN)
			return ret;
	}
	return ret;
}

/* vpv_fe_ops.connect: the back-end waits; rings, port, keys. */
static int vbf_connect(struct vpv_bus_device *dev)
{
	struct vbf_dev *d = dev_get_drvdata(&dev->dev);
	unsigned int i;
	int ret;

	mutex_lock(&d->lock);
	ret = vbf_read_features(d);
	if (ret) {
		vpv_bus_dev_fatal(dev, ret, "reading the back-end's keys");
		goto out;
	}
	for (i = 0; i < d->nr_rings; i++) {
		ret = vbf_ring_setup(d, i);
		if (ret)
			goto out;
	}
	ret = vpv_bus_bind_evtchn(dev, vbf_interrupt, NULL, dev_name(&dev->dev),
				  d, &d->port);
	if (ret < 0)
		goto out;
	d->irq = ret;
	ret = vbf_publish(d);
	if (ret) {
		vpv_bus_dev_fatal(dev, ret, "writing the ring keys");
		goto out;
	}
	if (d->connects++)
		d->reconnects++;
out:
	mutex_unlock(&d->lock);
	return ret;	/* on error the bus calls vbf_disconnect() */
}

/* Under d->lock: the queue limits from what was negotiated. */
static void vbf_set_limits(struct vbf_dev *d)
{
	struct request_queue *q = d->disk->queue;
	unsigned int max_sect = (UINT_MAX >> SECTOR_SHIFT) &
				~((d->ssize >> SECTOR_SHIFT) - 1);

	blk_queue_logical_block_size(q, d->ssize);
	blk_queue_physical_block_size(q, d->psize);
	blk_queue_max_hw_sectors(q, d->max_segs * (VBF_PAGE >> SECTOR_SHIFT));
	blk_queue_max_segments(q, d->max_segs);
	/* a segment is at most one frame and never crosses one */
	blk_queue_max_segment_size(q, VBF_PAGE);
	blk_queue_segment_boundary(q, VBF_PAGE - 1);
	/* with 4096-byte sectors every segment is a whole frame */
	blk_queue_dma_alignment(q, d->ssize - 1);
	blk_queue_write_cache(q, d->flush, d->fua);
	blk_queue_max_discard_sectors(q, d->discard ? max_sect : 0);
	blk_queue_max_secure_erase_sectors(q, d->secure ? max_sect : 0);
	q->limits.discard_granularity = d->discard ? d->dgran : 0;
	blk_queue_max_write_zeroes_sectors(q, d->wzeroes ? max_sect : 0);
	blk_queue_flag_set(QUEUE_FLAG_VIRT, q);
	set_disk_ro(d->disk, d->ro);
}

static int vbf_getgeo(struct block_device *bdev, struct hd_geometry *hg)
{
	/* the customary fake geometry (xen-blkfront, virtio-blk) */
	hg->heads = 0xff;
	hg->sectors = 0x3f;
	hg->cylinders = min_t(sector_t, get_capacity(bdev->bd_disk) /
			      (0xff * 0x3f), 0xffff);
	return 0;
}

static const struct block_device_operations vbf_fops = {
	.owner = THIS_MODULE,
	.getgeo = vbf_getgeo,
};

static int vbf_init_request(struct blk_mq_tag_set *set, struct request *rq,
			    unsigned int hctx_idx, unsigned int numa_node)
{
	struct vbf_req *req = vbf_pdu(rq);
	unsigned int i, n = vbf_indirect_pages(vbf_pdu_segs);

	req->sg = (struct scatterlist *)&req->seg[vbf_pdu_segs];
	sg_init_table(req->sg, vbf_pdu_segs);
	INIT_LIST_HEAD(&req->node);
	req->nsegs = 0;
	req->nind = 0;
	for (i = 0; i < n; i++) {
		req->ind_page[i] = alloc_page(GFP_KERNEL);
		if (!req->ind_page[i])
			return -ENOMEM;	/* exit_request frees the rest */
	}
	return 0;
}

static void vbf_exit_request(struct blk_mq_tag_set *set, struct request *rq,
			     unsigned int hctx_idx)
{
	struct vbf_req *req = vbf_pdu(rq);
	unsigned int i;

	for (i = 0; i < VPV_BLKIF_MAX_INDIRECT_PAGES; i++) {
		if (req->ind_page[i])
			__free_page(req->ind_page[i]);
		req->ind_page[i] = NULL;
	}
}

static const struct blk_mq_ops vbf_mq_ops = {
	.queue_rq = vbf_queue_rq,
	.commit_rqs = vbf_commit_rqs,
	.complete = vbf_complete_rq,
	.init_request = vbf_init_request,
	.exit_request = vbf_exit_request,
};

/* Under d->lock, at the first connected(): the tag set and the disk. */
static int vbf_alloc_disk(struct vbf_dev *d)
{
	struct blk_mq_tag_set *set = &d->tag_set;
	struct gendisk *disk;
	int ret;

	ret = ida_alloc_range(&vbf_ida, 0, (MINORMASK + 1) / VBF_MINORS - 1,
			      GFP_KERNEL);
	if (ret < 0)
		return ret;
	d->index = ret;
	memset(set, 0, sizeof(*set));
	set->ops = &vbf_mq_ops;
	set->nr_hw_queues = d->nr_rings;
	set->queue_depth = d->nents;
	set->numa_node = NUMA_NO_NODE;
	set->flags = BLK_MQ_F_SHOULD_MERGE;
	set->cmd_size = sizeof(struct vbf_req) +
			vbf_pdu_segs * (sizeof(struct vbf_seg) +
					sizeof(struct scatterlist));
	set->driver_data = d;
	ret = blk_mq_alloc_tag_set(set);
	if (ret)
		goto err_ida;
	disk = blk_mq_alloc_disk(set, d);
	if (IS_ERR(disk)) {
		ret = PTR_ERR(disk);
		goto err_set;
	}
	disk->major = vbf_major;
	disk->first_minor = d->index * VBF_MINORS;
	disk->minors = VBF_MINORS;
	disk->fops = &vbf_fops;
	disk->private_data = d;
	vbf_disk_name(d->index, disk->disk_name, DISK_NAME_LEN);
	d->disk = disk;
	vbf_set_limits(d);
	set_capacity(disk, d->sectors);
	return 0;
err_set:
	blk_mq_free_tag_set(set);
err_ida:
	ida_free(&vbf_ida, d->index);
	d->index = -1;
	return ret;
}

/*
 * Under d->lock: requests may go on the rings again, the kept ones
 * requeued first; one cut for a connection that allowed more segments
 * than this one gives its bios back (vbf_steal()).
 */
static void vbf_go_live(struct vbf_dev *d)
{
	struct vbf_req *req, *tmp;
	unsigned int i;

	for (i = 0; i < d->nr_rings; i++) {
		spin_lock_irq(&d->rings[i].lock);
		d->rings[i].live = true;
		spin_unlock_irq(&d->rings[i].lock);
	}
	WRITE_ONCE(d->live, true);
	smp_mb();	/* live set before STOPPED is read (vbf_wait_live()) */
	list_for_each_entry_safe(req, tmp, &d->kept, node) {
		struct request *rq = blk_mq_rq_from_pdu(req);

		list_del_init(&req->node);
		d->nkept--;
		d->replayed++;
		if (blk_rq_nr_phys_segments(rq) > d->max_segs) {
			vbf_steal(d, rq);
			continue;
		}
		blk_mq_requeue_request(rq, false);
	}
	blk_mq_start_stopped_hw_queues(d->disk->queue, true);
	blk_mq_kick_requeue_list(d->disk->queue);
}

/* The back-end rewrote "sectors": the new capacity (process context). */
static void vbf_resize_work(struct work_struct *w)
{
	struct vbf_dev *d = container_of(w, struct vbf_dev, resize_work);
	unsigned long long sectors;

	if (vpv_bus_scanf(d->bdev, 0, true, "sectors", "%llu", &sectors) != 1)
		return;
	mutex_lock(&d->lock);
	if (d->disk && !d->dead && sectors != get_capacity(d->disk) &&
	    !(sectors % (d->ssize >> SECTOR_SHIFT))) {
		d->sectors = sectors;
		set_capacity_and_notify(d->disk, sectors);
	}
	mutex_unlock(&d->lock);
}

/* The store's watch thread: only queue the work. */
static void vbf_sectors_changed(struct vpv_store_watch *w, const char *path)
{
	struct vbf_dev *d = container_of(w, struct vbf_dev, watch);

	schedule_work(&d->resize_work);
}

/* Under the device lock: the first connect's disk goes live. */
static void vbf_add_disk(struct vbf_dev *d)
{
	char path[VPV_STORE_PATH_MAX + 1];
	int ret;

	ret = device_add_disk(&d->bdev->dev, d->disk, NULL);
	if (ret) {
		vpv_bus_dev_error(d->bdev, ret, "adding the disk");
		return;
	}
	d->disk_added = true;
	if (snprintf(path, sizeof(path), "%s/sectors", d->bdev->otherend) >=
	    sizeof(path))
		return;
	if (!vpv_store_watch(&d->watch, path, vbf_sectors_changed))
		d->watching = true;
}

/* vpv_fe_ops.connected: both ends Connected. */
static void vbf_connected(struct vpv_bus_device *dev)
{
	struct vbf_dev *d = dev_get_drvdata(&dev->dev);
	bool first = false;
	int ret;

	mutex_lock(&d->lock);
	if (!d->disk) {
		ret = vbf_alloc_disk(d);
		if (ret) {
			mutex_unlock(&d->lock);
			vpv_bus_dev_fatal(dev, ret, "allocating the disk");
			return;
		}
		first = true;
	} else {
		vbf_set_limits(d);
		if (get_capacity(d->disk) != d->sectors)
			set_capacity_and_notify(d->disk, d->sectors);
	}
	vbf_go_live(d);
	mutex_unlock(&d->lock);
	/* scans partitions: I/O that completes without d->lock */
	if (first)
		vbf_add_disk(d);
}

/* vpv_fe_ops.disconnect: restart, close or failure. */
static void vbf_disconnect(struct vpv_bus_device *dev, int err)
{
	struct vbf_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&d->lock);
	vbf_disconnect_locked(d, err);
	mutex_unlock(&d->lock);
}

static const struct vpv_fe_ops vbf_fe_ops = {
	.connect = vbf_connect,
	.connected = vbf_connected,
	.disconnect = vbf_disconnect,
};

/*
 * A protocol error: Closing (vpv_bus_dev_fatal() under the device lock,
 * retried while someone else holds it), and what is in flight fails.
 */
static void vbf_fatal_work(struct work_struct *w)
{
	struct vbf_dev *d = container_of(to_delayed_work(w), struct vbf_dev,
					 fatal_work);
	struct vpv_bus_device *dev = d->bdev;

	if (!device_trylock(&dev->dev)) {
		/* remove() holds it and cancels this work: give up */
		if (!READ_ONCE(d->dead))
			schedule_delayed_work(&d->fatal_work, VBF_FATAL_RETRY);
		return;
	}
	vpv_bus_dev_fatal(dev, -EPROTO, "the back-end broke the ring protocol");
	mutex_lock(&d->lock);
	vbf_disconnect_locked(d, -EIO);
	mutex_unlock(&d->lock);
	device_unlock(&dev->dev);
}

/* ---- statistics ---- */

static unsigned int vbf_in_flight(struct vbf_dev *d)
{
	unsigned int i, n = d->nkept;

	for (i = 0; i < VPV_BLKIF_MAX_QUEUES; i++) {
		spin_lock_irq(&d->rings[i].lock);
		n += d->rings[i].slots.sh ? d->rings[i].slots.busy : 0;
		spin_unlock_irq(&d->rings[i].lock);
	}
	return n;
}

static unsigned int vbf_pgrants(struct vbf_dev *d)
{
	unsigned int i, n = 0;

	for (i = 0; i < VPV_BLKIF_MAX_QUEUES; i++) {
		spin_lock_irq(&d->rings[i].lock);
		n += d->rings[i].pool_nr;
		spin_unlock_irq(&d->rings[i].lock);
	}
	return n;
}

static int vbf_stats_show(struct seq_file *m, void *v)
{
	struct vbf_dev *d = m->private;

	mutex_lock(&d->lock);
	seq_printf(m, "state %d\nlive %d\nqueues %u\nring_pages %u\nring_entries %u\npersistent %u\nindirect_segs %u\nmax_segs %u\n",
		   d->bdev->state, d->live, d->nr_rings, d->nr_pages, d->nents,
		   d->pers, d->max_segs > VPV_BLKIF_MAX_SEGS ? d->max_segs : 0,
		   d->max_segs);
	seq_printf(m, "reqs %lld\nerrors %lld\nissued %lld\nconnects %llu\nreconnects %llu\nkept %llu\nreplayed %llu\nbogus_rsp %lld\nin_flight %u\n",
		   atomic64_read(&d->reqs), atomic64_read(&d->errors),
		   atomic64_read(&d->issued), d->connects, d->reconnects,
		   d->kept_total, d->replayed, atomic64_read(&d->bogus_rsp),
		   vbf_in_flight(d));
	seq_printf(m, "resubmitted %lld\n", atomic64_read(&d->resubmitted));
	seq_printf(m, "broken %d\npgrants %u\nbe_max_pgrants %u\ngrant_busy %lld\nresource %lld\nsectors %llu\nsector_size %u\nphysical_sector_size %u\n",
		   d->broken, vbf_pgrants(d), d->be_pgrants,
		   atomic64_read(&d->grant_busy), atomic64_read(&d->resource),
		   d->sectors, d->ssize, d->psize);
	seq_printf(m, "gnttab_free %u\ntransient %u\nnomem_direct %lld\n",
		   vpv_gnttab_free_count(), d->transient,
		   atomic64_read(&d->nomem_direct));
	seq_printf(m, "read_only %u\nflush %u\nfua %u\ndiscard %u\nsecure_discard %u\nwrite_zeroes %u\ndiscard_granularity %u\n",
		   d->ro, d->flush, d->fua, d->discard, d->secure, d->wzeroes,
		   d->dgran);
	mutex_unlock(&d->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vbf_stats);

/* Test hook: "dup", "op", "status", "prod" or "none" (Documentation/blkfront.rst). */
static ssize_t vbf_inject_write(struct file *f, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	struct vbf_dev *d = file_inode(f)->i_private;
	char cmd[16];
	int i;

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = '\0';
	i = match_string(vbf_inj_names, ARRAY_SIZE(vbf_inj_names), strim(cmd));
	if (i < 0)
		return -EINVAL;
	WRITE_ONCE(d->inject, i);
	return len;
}

static const struct file_operations vbf_inject_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = vbf_inject_write,
	.llseek = noop_llseek,
};

/* The counters in /sys/block/pvdX/device/ (the bus device vbd-ID). */
enum vbf_stat {
	VBF_ST_REQS, VBF_ST_ERRORS, VBF_ST_BOGUS, VBF_ST_RECONNECTS,
	VBF_ST_REPLAYED, VBF_ST_IN_FLIGHT, VBF_ST_QUEUES, VBF_ST_ENTRIES,
	VBF_ST_PERSISTENT, VBF_ST_INDIRECT,
};

struct vbf_attr {
	struct device_attribute attr;
	enum vbf_stat which;
};

/* Under d->lock: one counter. */
static u64 vbf_stat(struct vbf_dev *d, enum vbf_stat which)
{
	switch (which) {
	case VBF_ST_REQS:
		return atomic64_read(&d->reqs);
	case VBF_ST_ERRORS:
		return atomic64_read(&d->errors);
	case VBF_ST_BOGUS:
		return atomic64_read(&d->bogus_rsp);
	case VBF_ST_RECONNECTS:
		return d->reconnects;
	case VBF_ST_REPLAYED:
		return d->replayed;
	case VBF_ST_IN_FLIGHT:
		return vbf_in_flight(d);
	case VBF_ST_QUEUES:
		return d->nr_rings;
	case VBF_ST_ENTRIES:
		return d->nents;
	case VBF_ST_PERSISTENT:
		return d->pers;
	case VBF_ST_INDIRECT:
		return d->max_segs > VPV_BLKIF_MAX_SEGS ? d->max_segs : 0;
	}
	return 0;
}

static ssize_t vbf_attr_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct vbf_dev *d = dev_get_drvdata(dev);
	u64 v;

	mutex_lock(&d->lock);
	v = vbf_stat(d, container_of(attr, struct vbf_attr, attr)->which);
	mutex_unlock(&d->lock);
	return sysfs_emit(buf, "%llu\n", v);
}

#define VBF_ATTR(_name, _which)						\
	static struct vbf_attr vbf_attr_##_name = {			\
		.attr = __ATTR(_name, 0444, vbf_attr_show, NULL),	\
		.which = _which,					\
	}

VBF_ATTR(reqs, VBF_ST_REQS);
VBF_ATTR(errors, VBF_ST_ERRORS);
VBF_ATTR(bogus_rsp, VBF_ST_BOGUS);
VBF_ATTR(reconnects, VBF_ST_RECONNECTS);
VBF_ATTR(replayed, VBF_ST_REPLAYED);
VBF_ATTR(in_flight, VBF_ST_IN_FLIGHT);
VBF_ATTR(queues, VBF_ST_QUEUES);
VBF_ATTR(ring_entries, VBF_ST_ENTRIES);
VBF_ATTR(persistent, VBF_ST_PERSISTENT);
VBF_ATTR(indirect_segs, VBF_ST_INDIRECT);

static struct attribute *vbf_attrs[] = {
	&vbf_attr_reqs.attr.attr,
	&vbf_attr_errors.attr.attr,
	&vbf_attr_bogus_rsp.attr.attr,
	&vbf_attr_reconnects.attr.attr,
	&vbf_attr_replayed.attr.attr,
	&vbf_attr_in_flight.attr.attr,
	&vbf_attr_queues.attr.attr,
	&vbf_attr_ring_entries.attr.attr,
	&vbf_attr_persistent.attr.attr,
	&vbf_attr_indirect_segs.attr.attr,
	NULL,
};

static const struct attribute_group vbf_attr_group = {
	.attrs = vbf_attrs,
};

/* ---- the driver ---- */

/* A vbd device appeared: per-device state, no ring or disk yet. */
static int vbf_probe(struct vpv_bus_device *dev,
		     const struct vpv_bus_device_id *id)
{
	struct vbf_dev *d;
	unsigned int i;
	int ret;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->bdev = dev;
	d->index = -1;
	mutex_init(&d->lock);
	INIT_LIST_HEAD(&d->kept);
	for (i = 0; i < VPV_BLKIF_MAX_QUEUES; i++) {
		spin_lock_init(&d->rings[i].lock);
		INIT_LIST_HEAD(&d->rings[i].pool);
		d->rings[i].d = d;
	}
	INIT_WORK(&d->restart_work, vbf_restart_work);
	INIT_WORK(&d->resize_work, vbf_resize_work);
	INIT_WORK(&d->resubmit_work, vbf_resubmit_work);
	spin_lock_init(&d->resubmit_lock);
	bio_list_init(&d->resubmit);
	INIT_DELAYED_WORK(&d->fatal_work, vbf_fatal_work);
	dev_set_drvdata(&dev->dev, d);
	ret = device_add_group(&dev->dev, &vbf_attr_group);
	if (ret) {
		kfree(d);
		return ret;
	}
	d->dir = debugfs_create_dir(dev->devid, vbf_root);
	debugfs_create_file("stats", 0444, d->dir, d, &vbf_stats_fops);
	debugfs_create_file("inject", 0200, d->dir, d, &vbf_inject_fops);
	/* test hook: the persistent pool cannot grow (no memory) */
	debugfs_create_bool("pool_nomem", 0600, d->dir, &d->pool_nomem);
	return 0;
}

/*
 * The device goes away.  With the back-end still Connected (unbind,
 * rmmod) the disk goes first, so that its dirty pages are written;
 * otherwise (hot-unplug: the back-end closed or its node is gone, and
 * nothing would answer) what is in flight or kept fails first, then
 * del_gendisk() cannot wait on it.  Then the rest is freed.
 */
static void vbf_remove(struct vpv_bus_device *dev)
{
	struct vbf_dev *d = dev_get_drvdata(&dev->dev);
	bool graceful;

	if (d->watching)
		vpv_store_unwatch(&d->watch);
	cancel_work_sync(&d->resize_work);
	mutex_lock(&d->lock);
	graceful = d->disk_added && d->live &&
		   vpv_bus_read_otherend_state(dev) == VPV_BUS_CONNECTED;
	mutex_unlock(&d->lock);
	if (graceful) {
		del_gendisk(d->disk);
		d->disk_added = false;
	}
	mutex_lock(&d->lock);
	WRITE_ONCE(d->dead, true);
	vbf_disconnect_locked(d, -ENODEV);
	mutex_unlock(&d->lock);
	cancel_delayed_work_sync(&d->fatal_work);
	/* stolen bios go on (and fail: dead) before the disk goes */
	flush_work(&d->resubmit_work);
	debugfs_remove_recursive(d->dir);
	device_remove_group(&dev->dev, &vbf_attr_group);
	/* waits for every request: each fails at once now */
	if (d->disk_added)
		del_gendisk(d->disk);
	/* no queue_rq runs any more: none asks for grants again */
	vpv_gnttab_cancel_free_callback(&d->free_cb);
	cancel_work_sync(&d->restart_work);
	if (d->disk) {
		put_disk(d->disk);
		blk_mq_free_tag_set(&d->tag_set);
		ida_free(&vbf_ida, d->index);
	}
	mutex_destroy(&d->lock);
	kfree(d);
}

static const struct vpv_bus_device_id vbf_ids[] = {
	{ "vbd" },
	{ }
};

VPV_BUS_MODULE_ALIAS("vbd");

static struct vpv_bus_driver vbf_driver = {
	.ids = vbf_ids,
	.probe = vbf_probe,
	.remove = vbf_remove,
	.fe = &vbf_fe_ops,
};

static int __init vbf_init(void)
{
	int ret;

	vbf_pdu_segs = vbf_max_segs(max_indirect_segs,
				    VPV_BLKIF_MAX_INDIRECT_SEGS);
	ring_order = min_t(unsigned int, ring_order, VPV_BLKIF_MAX_RING_ORDER);
	vbf_major = register_blkdev(0, "pvd");
	if (vbf_major < 0)
		return vbf_major;
	vbf_root = debugfs_create_dir("vblkfront", NULL);
	ret = vpv_bus_register_driver(&vbf_driver);
	if (ret) {
		debugfs_remove_recursive(vbf_root);
		unregister_blkdev(vbf_major, "pvd");
	}
	return ret;
}

static void __exit vbf_exit(void)
{
	vpv_bus_unregister_driver(&vbf_driver);
	debugfs_remove_recursive(vbf_root);
	unregister_blkdev(vbf_major, "pvd");
	ida_destroy(&vbf_ida);
}

module_init(vbf_init);
module_exit(vbf_exit);

MODULE_DESCRIPTION("pvkit split block device front-end (/dev/pvd*)");
MODULE_LICENSE("GPL");
