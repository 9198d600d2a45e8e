// SPDX-License-Identifier: GPL-2.0
/*
 * blkhostile: a hostile vbd front-end.  Binds to the vbd device whose
 * id is the module parameter devid (the real vblkfront takes the
 * others: probe refuses the rest with -ENODEV and the driver core tries
 * the next driver, so load this module first), connects to vpv-blkback
 * over one ring of one page (abi/vpv_blkif.h) and, when the guest
 * script writes to debugfs vpv_blkhostile_ctl/run, throws every
 * malformed request class at it and checks each answer against the
 * error the header documents: segment counts 0 and over 11, inline and
 * indirect; sectors out of range and sector + length overflowing;
 * grants not granted, ended or read-only for a READ; first_sect >
 * last_sect and last_sect 8; unknown ops and flags; a request
 * rewritten after it was pushed (double fetch); a flood of good and
 * bad requests (each answered exactly once); a notification flood;
 * and last, a ring index far ahead (the device goes Closing, the host
 * stays up).  Good I/O between the classes proves the device still
 * serves.  Results (KTAP) in debugfs vpv_blkhostile/results.
 *
 * The module writes only its own ring, its own granted pages and its
 * own store keys; every grant it hands out is of its own pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <pvkit/vbus.h>
#include <pvkit/vhypercall.h>

#include "abi/vpv_blkif.h"
#include "pvkit_ktap.h"

static unsigned int devid = 7;
module_param(devid, uint, 0444);
MODULE_PARM_DESC(devid, "The vbd device id to bind (default 7)");

static unsigned int flood = 2000;
module_param(flood, uint, 0444);
MODULE_PARM_DESC(flood, "Requests in the request flood (default 2000)");

/* an answer takes a TCG guest and a loaded host well under this */
#define BH_WAIT		msecs_to_jiffies(10000)
#define BH_POLL		msecs_to_jiffies(100)
/* the good I/O goes 1 MiB into the disk, clear of the script's fio */
#define BH_SECTOR	2048
/* ids 1 .. BH_MAX_IDS - 1 are tracked; more than a run ever sends */
#define BH_MAX_IDS	65536
/* data pages: 0 written from (granted read-only), 1 read into, 2 the
 * indirect segment list (read-only), 3 a spare read-write page
 */
#define BH_NPAGES	4
#define BH_PG_SRC	0
#define BH_PG_DST	1
#define BH_PG_IND	2
#define BH_PG_RW	3
/* a reference no one granted: the table has far fewer entries */
#define BH_BAD_GREF	0x7ffffff0u
/* no guest has this domid here, and it is not VPV_DOMID_HOST */
#define BH_OTHER_DOMID	0x7000
/* times each request of the double-fetch test is rewritten, after it
 * was pushed; enough to overlap the back-end's fetch most of the time
 */
#define BH_REWRITES	4000
#define BH_DF_ROUNDS	200
/* notifications with nothing on the ring */
#define BH_NOTIFIES	10000

struct bh_dev {
	struct vpv_bus_device *bdev;
	struct mutex lock;		/* everything below */
	wait_queue_head_t wq;
	atomic_t events;		/* interrupts seen */
	struct vpv_blkif_sring *sring;
	struct vpv_front_ring front;
	int ring_ref;
	unsigned int port;
	int irq;
	struct page *pages[BH_NPAGES];
	int grefs[BH_NPAGES];
	bool live;			/* both ends Connected */
	bool ring_bad;			/* the back-end broke the ring */
	u64 sectors;
	unsigned int sector_size;
	unsigned int max_indirect;
	bool feat_flush, feat_discard, feat_wz;
	u32 next_id;
	u8 *answers;			/* per id: responses seen */
	s16 *status;			/* per id: the last status */
	u8 *ops;			/* per id: the op sent */
	unsigned long strays;		/* responses to no request */
	unsigned long dups;		/* second responses */
	unsigned long bad_op;		/* op not echoed */
};

static struct bh_dev *bh;
static DEFINE_MUTEX(bh_bind);		/* bh */

static irqreturn_t bh_interrupt(int irq, void *data)
{
	struct bh_dev *d = data;

	atomic_inc(&d->events);
	wake_up(&d->wq);
	return IRQ_HANDLED;
}

/* Under d->lock: take every response there is; false on a bad ring. */
static bool bh_consume(struct bh_dev *d)
{
	long n = vpv_front_unconsumed_responses(&d->front);

	if (n < 0) {
		d->ring_bad = true;
		return false;
	}
	while (n-- > 0) {
		struct vpv_blkif_rsp rsp;
		u64 id;

		rsp = VPV_RING_ENTRY(d->sring, &d->front, d->front.rsp_cons)->rsp;
		d->front.rsp_cons++;
		id = rsp.id;
		if (!id || id >= BH_MAX_IDS || id > d->next_id) {
			d->strays++;
			continue;
		}
		if (d->answers[id]++)
			d->dups++;
		if (rsp.op != d->ops[id])
			d->bad_op++;
		d->status[id] = rsp.status;
	}
	/* ask for an interrupt at the next response */
	VPV_RING_WRITE(d->front.hdr->rsp_event, d->front.rsp_cons + 1);
	vpv_ring_mb();			/* rsp_event before looking again */
	return true;
}

/*
 * Under d->lock: put @r on the ring under a new id (returned in
 * r->id), push it and notify.  Returns the id, or 0 when the device is
 * not live or the ring full.
 */
static u32 bh_put(struct bh_dev *d, struct vpv_blkif_req *r, bool push)
{
	struct vpv_blkif_req *slot;

	if (!d->live || d->ring_bad || !vpv_front_free_requests(&d->front) ||
	    d->next_id + 1 >= BH_MAX_IDS)
		return 0;
	r->id = ++d->next_id;
	d->ops[r->id] = r->op;
	slot = &VPV_RING_ENTRY(d->sring, &d->front, d->front.req_prod_pvt)->req;
	memcpy(slot, r, sizeof(*slot));
	d->front.req_prod_pvt++;
	if (push) {
		vpv_front_push_requests(&d->front);
		vpv_evtchn_notify(d->port);
	}
	return r->id;
}

/* Wait until request @id is answered; its status, or -ETIMEDOUT. */
static long bh_wait(struct bh_dev *d, u32 id)
{
	unsigned long end = jiffies + BH_WAIT;
	long ret = -ETIMEDOUT;
	int seen;

	for (;;) {
		seen = atomic_read(&d->events);
		mutex_lock(&d->lock);
		bh_consume(d);
		if (d->answers[id])
			ret = d->status[id];
		mutex_unlock(&d->lock);
		if (ret != -ETIMEDOUT || time_after(jiffies, end))
			return ret;
		wait_event_timeout(d->wq, atomic_read(&d->events) != seen,
				   BH_POLL);
	}
}

/* Send one request and wait for its answer: the status or -ETIMEDOUT. */
static long bh_do(struct vpv_blkif_req *r)
{
	u32 id;

	mutex_lock(&bh->lock);
	id = bh_put(bh, r, true);
	mutex_unlock(&bh->lock);
	if (!id)
		return -ENOTCONN;
	return bh_wait(bh, id);
}

/* A READ or WRITE of one segment of page @pg: sectors first .. last. */
static void bh_rw(struct vpv_blkif_req *r, u8 op, u64 sector, unsigned int pg,
		  u8 first, u8 last)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->nr_segs = 1;
	r->sector = sector;
	r->u.seg[0].gref = bh->grefs[pg];
	r->u.seg[0].first_sect = first;
	r->u.seg[0].last_sect = last;
}

/* expect "what" to be answered with status @want (0 or -VPV_E*) */
static bool bh_expect(struct vpv_blkif_req *r, long want, const char *what)
{
	long got = bh_do(r);

	return kt_check(got == want, "%s: status %ld, want %ld", what, got,
			want);
}

/* A good write of 4 KiB at @sector and its read back: the same bytes. */
static bool bh_good_io(u64 sector, const char *what)
{
	struct vpv_blkif_req r;
	u8 *src = page_address(bh->pages[BH_PG_SRC]);
	u8 *dst = page_address(bh->pages[BH_PG_DST]);

	get_random_bytes(src, PAGE_SIZE);
	memset(dst, 0, PAGE_SIZE);
	bh_rw(&r, VPV_BLKIF_OP_WRITE, sector, BH_PG_SRC, 0, 7);
	if (!bh_expect(&r, 0, what))
		return false;
	bh_rw(&r, VPV_BLKIF_OP_READ, sector, BH_PG_DST, 0, 7);
	if (!bh_expect(&r, 0, what))
		return false;
	return kt_check(!memcmp(src, dst, PAGE_SIZE),
			"%s: read back differs", what);
}

/* ---- tests ---- */

static int t_connected(void)
{
	kt_check(bh && bh->live, "not Connected to a back-end");
	if (!bh || !bh->live)
		return 0;
	kt_check(bh->sectors >= BH_SECTOR + 64, "capacity %llu sectors",
		 bh->sectors);
	kt_eq(bh->front.nr_ents, 32, "ring entries of one page");
	return 0;
}

static int t_good_io(void)
{
	struct vpv_blkif_req r;
	u8 *src = page_address(bh->pages[BH_PG_SRC]);
	u8 *dst = page_address(bh->pages[BH_PG_DST]);

	bh_good_io(BH_SECTOR, "4 KiB write and read");
	/* two segments: the second half of one page, the first of another */
	get_random_bytes(src, PAGE_SIZE);
	memset(&r, 0, sizeof(r));
	r.op = VPV_BLKIF_OP_WRITE;
	r.nr_segs = 2;
	r.sector = BH_SECTOR + 8;
	r.u.seg[0] = (struct vpv_blkif_seg){ bh->grefs[BH_PG_SRC], 4, 7, 0 };
	r.u.seg[1] = (struct vpv_blkif_seg){ bh->grefs[BH_PG_SRC], 0, 3, 0 };
	bh_expect(&r, 0, "two-segment write");
	memset(dst, 0, PAGE_SIZE);
	bh_rw(&r, VPV_BLKIF_OP_READ, BH_SECTOR + 8, BH_PG_DST, 0, 7);
	bh_expect(&r, 0, "its read");
	kt_check(!memcmp(dst, src + 2048, 2048) && !memcmp(dst + 2048, src, 2048),
		 "two-segment write: data not in segment order");
	return 0;
}

static int t_nr_segs(void)
{
	struct vpv_blkif_req r;

	bh_rw(&r, VPV_BLKIF_OP_READ, BH_SECTOR, BH_PG_DST, 0, 7);
	r.nr_segs = 0;
	bh_expect(&r, -VPV_EINVAL, "READ with 0 segments");
	bh_rw(&r, VPV_BLKIF_OP_WRITE, BH_SECTOR, BH_PG_SRC, 0, 7);
	r.nr_segs = VPV_BLKIF_MAX_SEGS + 1;
	bh_expect(&r, -VPV_EINVAL, "WRITE with 12 segments");
	r.nr_segs = 255;
	bh_expect(&r, -VPV_EINVAL, "WRITE with 255 segments");
	bh_good_io(BH_SECTOR, "good I/O after");
	return 0;
}

static int t_sector_range(void)
{
	u64 n = bh->sectors;
	struct vpv_blkif_req r;
	long nodisc = bh->feat_discard ? -VPV_EINVAL : -VPV_EOPNOTSUPP;
	long nowz = bh->feat_wz ? -VPV_EINVAL : -VPV_EOPNOTSUPP;

	bh_rw(&r, VPV_BLKIF_OP_READ, n, BH_PG_DST, 0, 7);
	bh_expect(&r, -VPV_EINVAL, "READ at the capacity");
	bh_rw(&r, VPV_BLKIF_OP_READ, n - 4, BH_PG_DST, 0, 7);
	bh_expect(&r, -VPV_EINVAL, "READ across the end");
	bh_rw(&r, VPV_BLKIF_OP_WRITE, U64_MAX - 3, BH_PG_SRC, 0, 7);
	bh_expect(&r, -VPV_EINVAL, "WRITE whose sector + length overflows");
	bh_rw(&r, VPV_BLKIF_OP_WRITE, 1ULL << 60, BH_PG_SRC, 0, 7);
	bh_expect(&r, -VPV_EINVAL, "WRITE at sector 2^60");
	memset(&r, 0, sizeof(r));
	r.op = VPV_BLKIF_OP_DISCARD;
	r.sector = 8;
	r.u.discard.nr_sectors = U64_MAX - 4;
	bh_expect(&r, nodisc, "DISCARD whose end overflows");
	r.u.discard.nr_sectors = 0;
	bh_expect(&r, nodisc, "DISCARD of 0 sectors");
	r.sector = n;
	r.u.discard.nr_sectors = 8;
	bh_expect(&r, nodisc, "DISCARD beyond the end");
	r.op = VPV_BLKIF_OP_WRITE_ZEROES;
	r.sector = n - 1;
	r.u.discard.nr_sectors = 2;
	bh_expect(&r, nowz, "WRITE_ZEROES across the end");
	bh_good_io(BH_SECTOR, "good I/O after");
	return 0;
}

static int t_bad_gref(void)
{
	struct vpv_blkif_req r;
	struct page *p;
	int ref;

	bh_rw(&r, VPV_BLKIF_OP_READ, BH_SECTOR, BH_PG_DST, 0, 7);
	r.u.seg[0].gref = BH_BAD_GREF;
	bh_expect(&r, -VPV_EPERM, "READ into a reference far out of the table");
	r.u.seg[0].gref = 0;
	bh_expect(&r, -VPV_EPERM, "READ into reference 0 (reserved)");
	bh_rw(&r, VPV_BLKIF_OP_READ, BH_SECTOR, BH_PG_SRC, 0, 7);
	bh_expect(&r, -VPV_EPERM, "READ into a read-only grant");
	/* a page granted to another domain, not to the back-end's */
	p = alloc_page(GFP_KERNEL);
	if (!kt_check(p, "no page"))
		return 0;
	ref = vpv_gnttab_grant(BH_OTHER_DOMID, page_to_pfn(p), false);
	if (kt_check(ref > 0, "grant: %d", ref)) {
		bh_rw(&r, VPV_BLKIF_OP_WRITE, BH_SECTOR, BH_PG_SRC, 0, 7);
		r.u.seg[0].gref = ref;
		bh_expect(&r, -VPV_EPERM, "WRITE from a page granted to another domain");
		kt_eq(vpv_gnttab_end(ref), 0, "ending that grant");
	}
	__free_page(p);
	/* one good segment, then a bad one: nothing written at all */
	bh_rw(&r, VPV_BLKIF_OP_WRITE, BH_SECTOR, BH_PG_SRC, 0, 7);
	r.nr_segs = 2;
	r.u.seg[1] = (struct vpv_blkif_seg){ BH_BAD_GREF, 0, 7, 0 };
	bh_expect(&r, -VPV_EPERM, "WRITE whose second segment is not granted");
	bh_good_io(BH_SECTOR, "good I/O after");
	return 0;
}

static int t_sect_bounds(void)
{
	struct vpv_blkif_req r;

	bh_rw(&r, VPV_BLKIF_OP_READ, BH_SECTOR, BH_PG_DST, 5, 2);
	bh_expect(&r, -VPV_EINVAL, "first_sect 5 > last_sect 2");
	bh_rw(&r, VPV_BLKIF_OP_READ, BH_SECTOR, BH_PG_DST, 0, 8);
	bh_expect(&r, -VPV_EINVAL, "last_sect 8");
	bh_rw(&r, VPV_BLKIF_OP_WRITE, BH_SECTOR, BH_PG_SRC, 200, 255);
	bh_expect(&r, -VPV_EINVAL, "first_sect 200, last_sect 255");
	bh_good_io(BH_SECTOR, "good I/O after");
	return 0;
}

static int t_op_flags(void)
{
	struct vpv_blkif_req r;

	bh_rw(&r, 0x77, BH_SECTOR, BH_PG_DST, 0, 7);
	bh_expect(&r, -VPV_ENOSYS, "unknown op 0x77");
	bh_rw(&r, VPV_BLKIF_OP_INDIRECT + 1, BH_SECTOR, BH_PG_DST, 0, 7);
	bh_expect(&r, -VPV_ENOSYS, "unknown op 6");
	bh_rw(&r, VPV_BLKIF_OP_WRITE, BH_SECTOR, BH_PG_SRC, 0, 7);
	r.flags = 0x80;
	bh_expect(&r, -VPV_EINVAL, "WRITE with unknown flag 0x80");
	r.flags = 0xffff;
	bh_expect(&r, -VPV_EINVAL, "WRITE with every flag bit");
	memset(&r, 0, sizeof(r));
	r.op = VPV_BLKIF_OP_FLUSH;
	r.nr_segs = 3;
	bh_expect(&r, bh->feat_flush ? -VPV_EINVAL : -VPV_EOPNOTSUPP,
		  "FLUSH with 3 segments");
	r.nr_segs = 0;
	bh_expect(&r, bh->feat_flush ? 0 : -VPV_EOPNOTSUPP, "a good FLUSH");
	bh_good_io(BH_SECTOR, "good I/O after");
	return 0;
}

/* An INDIRECT request of @n segments listed in the indirect page. */
static void bh_indirect(struct vpv_blkif_req *r, u8 op, u16 n)
{
	struct vpv_blkif_seg *segs = page_address(bh->pages[BH_PG_IND]);
	unsigned int i;

	for (i = 0; i < VPV_BLKIF_SEGS_PER_INDIRECT_PAGE; i++)
		segs[i] = (struct vpv_blkif_seg){ bh->grefs[BH_PG_DST], 0, 7, 0 };
	memset(r, 0, sizeof(*r));
	r->op = VPV_BLKIF_OP_INDIRECT;
	r->sector = BH_SECTOR;
	r->u.indirect.op = op;
	r->u.indirect.nr_segs = n;
	r->u.indirect.gref[0] = bh->grefs[BH_PG_IND];
	r->u.indirect.gref[1] = bh->grefs[BH_PG_IND];
}

static int t_indirect(void)
{
	struct vpv_blkif_seg *segs = page_address(bh->pages[BH_PG_IND]);
	unsigned int max = bh->max_indirect;
	struct vpv_blkif_req r;

	if (!max) {
		bh_indirect(&r, VPV_BLKIF_OP_READ, 8);
		bh_expect(&r, -VPV_EOPNOTSUPP, "INDIRECT not offered");
		return 0;
	}
	bh_indirect(&r, VPV_BLKIF_OP_READ, 8);
	bh_expect(&r, 0, "a good INDIRECT READ of 8 segments");
	bh_indirect(&r, VPV_BLKIF_OP_READ, 0);
	bh_expect(&r, -VPV_EINVAL, "INDIRECT with 0 segments");
	bh_indirect(&r, VPV_BLKIF_OP_READ, max + 1);
	bh_expect(&r, -VPV_EINVAL, "INDIRECT with max-indirect-segments + 1");
	bh_indirect(&r, VPV_BLKIF_OP_READ, 0xffff);
	bh_expect(&r, -VPV_EINVAL, "INDIRECT with 65535 segments");
	bh_indirect(&r, VPV_BLKIF_OP_FLUSH, 8);
	bh_expect(&r, -VPV_EINVAL, "INDIRECT of a FLUSH");
	bh_indirect(&r, VPV_BLKIF_OP_INDIRECT, 8);
	bh_expect(&r, -VPV_EINVAL, "INDIRECT of an INDIRECT");
	bh_indirect(&r, VPV_BLKIF_OP_READ, 8);
	r.u.indirect.gref[0] = BH_BAD_GREF;
	bh_expect(&r, -VPV_EPERM, "INDIRECT whose segment page is not granted");
	bh_indirect(&r, VPV_BLKIF_OP_READ, 8);
	segs[5].last_sect = 8;
	bh_expect(&r, -VPV_EINVAL, "INDIRECT segment 5 with last_sect 8");
	bh_indirect(&r, VPV_BLKIF_OP_READ, 8);
	segs[3].gref = BH_BAD_GREF;
	bh_expect(&r, -VPV_EPERM, "INDIRECT segment 3 not granted");
	bh_indirect(&r, VPV_BLKIF_OP_READ, 8);
	r.sector = bh->sectors - 8;
	bh_expect(&r, -VPV_EINVAL, "INDIRECT across the end");
	bh_good_io(BH_SECTOR, "good I/O after");
	return 0;
}

/*
 * Push a good WRITE, then keep rewriting its ring entry into a bad one
 * and back while the back-end fetches it: a back-end that reads the
 * entry twice (validates one version, uses another) writes out of range
 * (the image grows: blk-hostile.sh checks its size) or maps a grant it
 * never checked.  Only bytes from 16 on are rewritten (sector and the
 * segment): the first 16 are where the response lands, in the same
 * slot, and rewriting them would garble our own answer.  Each answer
 * must be 0 (the copy was the good request) or the error of the bad
 * one, exactly once.
 */
static int t_double_fetch(void)
{
	unsigned int round, i, good = 0, bad = 0, other = 0;
	struct vpv_blkif_req r, *slot;
	u32 id;
	long st;

	for (round = 0; round < BH_DF_ROUNDS && other < 3; round++) {
		bh_rw(&r, VPV_BLKIF_OP_WRITE, BH_SECTOR + 16, BH_PG_SRC, 0, 7);
		mutex_lock(&bh->lock);
		slot = &VPV_RING_ENTRY(bh->sring, &bh->front,
				       bh->front.req_prod_pvt)->req;
		id = bh_put(bh, &r, true);
		for (i = 0; id && i < BH_REWRITES; i++) {
			bool evil = i & 1;

			WRITE_ONCE(slot->sector, evil ? U64_MAX - 1 : BH_SECTOR + 16);
			WRITE_ONCE(slot->u.seg[0].last_sect, evil ? 200 : 7);
			WRITE_ONCE(slot->u.seg[0].gref,
				   evil ? BH_BAD_GREF : bh->grefs[BH_PG_SRC]);
		}
		mutex_unlock(&bh->lock);
		if (!kt_check(id, "round %u: not sent", round))
			break;
		st = bh_wait(bh, id);
		if (!st)
			good++;
		else if (st == -VPV_EINVAL || st == -VPV_EPERM)
			bad++;
		else
			other++;
	}
	kt_out("# double fetch: %u rounds, %u answered 0, %u an error, %u else\n",
	       round, good, bad, other);
	kt_eq(other, 0, "answers neither 0 nor -EINVAL/-EPERM (or none)");
	bh_good_io(BH_SECTOR, "good I/O after");
	return 0;
}

/*
 * @n requests kept in flight as fast as the ring takes them: good 4 KiB
 * READs at random sectors, every 7th one with 0 segments.  Each must be
 * answered once, the good ones 0, the bad ones -EINVAL.
 */
static int t_flood(void)
{
	unsigned long end = jiffies + 60 * HZ;
	u32 first = bh->next_id + 1, last, id, sent = 0;
	unsigned int wrong = 0, missing = 0;
	unsigned long t0 = jiffies;
	struct vpv_blkif_req r;

	while (sent < flood && time_before(jiffies, end)) {
		int seen = atomic_read(&bh->events);

		mutex_lock(&bh->lock);
		bh_consume(bh);
		while (sent < flood && vpv_front_free_requests(&bh->front)) {
			bh_rw(&r, VPV_BLKIF_OP_READ,
			      get_random_u32() % (bh->sectors - 8), BH_PG_DST, 0, 7);
			if (sent % 7 == 6)
				r.nr_segs = 0;
			if (!bh_put(bh, &r, false))
				break;
			sent++;
		}
		vpv_front_push_requests(&bh->front);
		vpv_evtchn_notify(bh->port);
		mutex_unlock(&bh->lock);
		wait_event_timeout(bh->wq, atomic_read(&bh->events) != seen, BH_POLL);
	}
	last = first + sent - 1;
	kt_eq(sent, flood, "requests sent");
	if (sent)
		bh_wait(bh, last);
	msleep(100);
	mutex_lock(&bh->lock);
	bh_consume(bh);
	for (id = first; id <= last && sent; id++) {
		long want = (id - first) % 7 == 6 ? -VPV_EINVAL : 0;

		if (!bh->answers[id])
			missing++;
		else if (bh->status[id] != want)
			wrong++;
	}
	mutex_unlock(&bh->lock);
	kt_out("# flood: %u requests in %u ms\n", sent,
	       jiffies_to_msecs(jiffies - t0));
	kt_eq(missing, 0, "flood requests not answered");
	kt_eq(wrong, 0, "flood answers with the wrong status");
	bh_good_io(BH_SECTOR, "good I/O after");
	return 0;
}

static int t_notify_flood(void)
{
	unsigned int i;

	for (i = 0; i < BH_NOTIFIES; i++)
		vpv_evtchn_notify(bh->port);
	bh_good_io(BH_SECTOR, "good I/O after 10000 empty notifications");
	return 0;
}

/* Every answer so far was to a request of ours, once, op echoed. */
static int t_exactly_once(void)
{
	mutex_lock(&bh->lock);
	bh_consume(bh);
	kt_eq(bh->strays, 0, "responses to no request");
	kt_eq(bh->dups, 0, "second responses to a request");
	kt_eq(bh->bad_op, 0, "responses with another op");
	kt_check(!bh->ring_bad, "the back-end's rsp_prod was impossible");
	mutex_unlock(&bh->lock);
	return 0;
}

/* Last: req_prod four rings ahead.  The device goes Closing. */
static int t_ring_overflow(void)
{
	unsigned long end = jiffies + 20 * HZ;
	int st = VPV_BUS_CONNECTED;
	char buf[16];

	mutex_lock(&bh->lock);
	VPV_RING_WRITE(bh->front.hdr->req_prod,
		       bh->front.req_prod_pvt + 4 * bh->front.nr_ents);
	vpv_ring_wmb();			/* the index before the notification */
	vpv_evtchn_notify(bh->port);
	mutex_unlock(&bh->lock);
	while (time_before(jiffies, end)) {
		st = vpv_bus_read_otherend_state(bh->bdev);
		if (st == VPV_BUS_CLOSING || st == VPV_BUS_CLOSED)
			break;
		msleep(100);
	}
	kt_check(st == VPV_BUS_CLOSING || st == VPV_BUS_CLOSED,
		 "back-end state %d 20 s after the overflow, want Closing (5)",
		 st);
	/* the host still serves this guest: its store answers */
	kt_check(vpv_store_read("device", buf, sizeof(buf)) >= 0 ||
		 vpv_store_available(), "the store no longer answers");
	return 0;
}

static const struct kt_test bh_tests[] = {
	{ "connected", t_connected },
	{ "good_io", t_good_io },
	{ "nr_segs_0_12_255", t_nr_segs },
	{ "sector_out_of_range_and_overflow", t_sector_range },
	{ "bad_grant_refs", t_bad_gref },
	{ "first_sect_last_sect", t_sect_bounds },
	{ "unknown_op_and_flags", t_op_flags },
	{ "indirect_segments", t_indirect },
	{ "double_fetch", t_double_fetch },
	{ "request_flood", t_flood },
	{ "notification_flood", t_notify_flood },
	{ "each_request_answered_once", t_exactly_once },
	{ "ring_index_overflow", t_ring_overflow },
};

static const char *bh_setup(void)
{
	if (!bh)
		return "no vbd device bound (devid, or vblkfront took it)";
	if (!bh->live)
		return "the device is not Connected";
	return NULL;
}

/* ---- the front-end on the bus ---- */

/* Under d->lock: give back the data pages (ended when the host lets go). */
static void bh_free_pages(struct bh_dev *d)
{
	unsigned int i;

	for (i = 0; i < BH_NPAGES; i++) {
		if (d->pages[i] && d->grefs[i] > 0)
			vpv_gnttab_end_deferred(d->grefs[i], d->pages[i]);
		else if (d->pages[i])
			__free_page(d->pages[i]);
		d->pages[i] = NULL;
		d->grefs[i] = 0;
	}
}

/* Under d->lock: data pages, granted to the back-end. */
static int bh_grant_pages(struct bh_dev *d)
{
	u16 be = vpv_bus_otherend_domid(d->bdev);
	unsigned int i;
	int ref;

	for (i = 0; i < BH_NPAGES; i++) {
		d->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!d->pages[i])
			return -ENOMEM;
		/* the back-end only reads the source and the segment list */
		ref = vpv_gnttab_grant(be, page_to_pfn(d->pages[i]),
				       i == BH_PG_SRC || i == BH_PG_IND);
		if (ref < 0)
			return ref;
		d->grefs[i] = ref;
	}
	return 0;
}

/* Our keys (abi/vpv_blkif.h): one queue, one page, no persistence. */
static int bh_publish(struct bh_dev *d)
{
	struct vpv_bus_device *dev = d->bdev;
	int ret, tries;
	u32 tx;

	for (tries = 0; tries < 10; tries++) {
		ret = vpv_store_tx_start(&tx);
		if (ret)
			return ret;
		ret = vpv_bus_printf(dev, tx, "multi-queue-num-queues", "1");
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "ring-page-order", "0");
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "q0-ring-ref0", "%d",
					     d->ring_ref);
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "event-channel", "%u",
					     d->port);
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "feature-persistent", "0");
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

/* What the back-end offers, read at each connect. */
static void bh_read_features(struct bh_dev *d)
{
	struct vpv_bus_device *dev = d->bdev;
	unsigned long long sectors = 0;

	if (vpv_bus_scanf(dev, 0, true, "sectors", "%llu", &sectors) != 1)
		sectors = 0;
	d->sectors = sectors;
	d->sector_size = vpv_bus_read_feature(dev, "sector-size", 512);
	d->max_indirect = vpv_bus_read_feature(dev,
					       "feature-max-indirect-segments", 0);
	d->feat_flush = vpv_bus_read_feature(dev, "feature-flush-cache", 0);
	d->feat_discard = vpv_bus_read_feature(dev, "feature-discard", 0);
	d->feat_wz = vpv_bus_read_feature(dev, "feature-write-zeroes", 0);
}

/* Under d->lock: drop the connection (the bus's disconnect, remove). */
static void bh_teardown(struct bh_dev *d)
{
	d->live = false;
	if (d->irq > 0)
		vpv_bus_unbind_evtchn(d->irq, d);
	d->irq = 0;
	d->port = 0;
	bh_free_pages(d);
	vpv_bus_free_ring(d->bdev, d->sring, 1, &d->ring_ref);
	d->sring = NULL;
	wake_up(&d->wq);
}

static int bh_connect(struct vpv_bus_device *dev)
{
	struct bh_dev *d = dev_get_drvdata(&dev->dev);
	void *ring;
	int ret;

	mutex_lock(&d->lock);
	bh_read_features(d);
	ret = vpv_bus_alloc_ring(dev, 1, &ring, &d->ring_ref);
	if (ret)
		goto out;
	d->sring = ring;
	vpv_ring_init_shared(&d->sring->hdr);
	vpv_front_ring_init(&d->front, &d->sring->hdr,
			    VPV_RING_ENTRIES(sizeof(d->sring->ring[0]), PAGE_SIZE));
	d->ring_bad = false;
	ret = vpv_bus_bind_evtchn(dev, bh_interrupt, NULL, dev_name(&dev->dev),
				  d, &d->port);
	if (ret < 0)
		goto out;
	d->irq = ret;
	ret = bh_grant_pages(d);
	if (ret) {
		vpv_bus_dev_fatal(dev, ret, "granting the data pages");
		goto out;
	}
	ret = bh_publish(d);
	if (ret)
		vpv_bus_dev_fatal(dev, ret, "writing the front-end keys");
out:
	mutex_unlock(&d->lock);
	return ret;	/* on error the bus calls bh_disconnect() */
}

static void bh_connected(struct vpv_bus_device *dev)
{
	struct bh_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&d->lock);
	d->live = true;
	mutex_unlock(&d->lock);
}

static void bh_disconnect(struct vpv_bus_device *dev, int err)
{
	struct bh_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&d->lock);
	bh_teardown(d);
	mutex_unlock(&d->lock);
}

static const struct vpv_fe_ops bh_fe_ops = {
	.connect = bh_connect,
	.connected = bh_connected,
	.disconnect = bh_disconnect,
};

static void bh_free(struct bh_dev *d)
{
	vfree(d->answers);
	vfree(d->status);
	vfree(d->ops);
	kfree(d);
}

static int bh_probe(struct vpv_bus_device *dev,
		    const struct vpv_bus_device_id *id)
{
	char want[16];
	struct bh_dev *d;

	snprintf(want, sizeof(want), "%u", devid);
	if (strcmp(dev->devid, want))
		return -ENODEV;		/* vblkfront's: the next driver */
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->answers = vzalloc(BH_MAX_IDS);
	d->status = vzalloc(BH_MAX_IDS * sizeof(*d->status));
	d->ops = vzalloc(BH_MAX_IDS);
	if (!d->answers || !d->status || !d->ops) {
		bh_free(d);
		return -ENOMEM;
	}
	d->bdev = dev;
	mutex_init(&d->lock);
	init_waitqueue_head(&d->wq);
	dev_set_drvdata(&dev->dev, d);
	mutex_lock(&bh_bind);
	bh = d;
	mutex_unlock(&bh_bind);
	return 0;
}

static void bh_remove(struct vpv_bus_device *dev)
{
	struct bh_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&bh_bind);
	bh = NULL;
	mutex_unlock(&bh_bind);
	mutex_lock(&d->lock);
	bh_teardown(d);
	mutex_unlock(&d->lock);
	bh_free(d);
}

static const struct vpv_bus_device_id bh_ids[] = {
	{ "vbd" },
	{ "" }
};

static struct vpv_bus_driver bh_driver = {
	.ids = bh_ids,
	.probe = bh_probe,
	.remove = bh_remove,
	.fe = &bh_fe_ops,
};

/* ---- debugfs: state, run ---- */

static struct dentry *bh_ctl;
static bool bh_ran;

static int bh_state_show(struct seq_file *m, void *v)
{
	mutex_lock(&bh_bind);
	if (bh) {
		mutex_lock(&bh->lock);
		seq_printf(m, "bound 1\nlive %d\nsectors %llu\nsector_size %u\n"
			   "max_indirect %u\nstate %d\notherend_state %d\n",
			   bh->live, bh->sectors, bh->sector_size,
			   bh->max_indirect, bh->bdev->state,
			   bh->bdev->otherend_state);
		mutex_unlock(&bh->lock);
	} else {
		seq_puts(m, "bound 0\nlive 0\n");
	}
	mutex_unlock(&bh_bind);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bh_state);

/* Writing anything runs the tests once; bh_bind is held throughout. */
static ssize_t bh_run_write(struct file *f, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	int ret;

	mutex_lock(&bh_bind);
	if (bh_ran) {
		mutex_unlock(&bh_bind);
		return -EALREADY;
	}
	bh_ran = true;
	ret = kt_run(bh_tests, ARRAY_SIZE(bh_tests), NULL, bh_setup,
		     "vpv_blkhostile");
	mutex_unlock(&bh_bind);
	return ret < 0 ? ret : count;
}

static const struct file_operations bh_run_fops = {
	.owner = THIS_MODULE,
	.write = bh_run_write,
};

static int __init bh_init(void)
{
	int ret;

	bh_ctl = debugfs_create_dir("vpv_blkhostile_ctl", NULL);
	debugfs_create_file("state", 0444, bh_ctl, NULL, &bh_state_fops);
	debugfs_create_file("run", 0200, bh_ctl, NULL, &bh_run_fops);
	ret = vpv_bus_register_driver(&bh_driver);
	if (ret)
		debugfs_remove_recursive(bh_ctl);
	return ret;
}

static void __exit bh_exit(void)
{
	vpv_bus_unregister_driver(&bh_driver);
	debugfs_remove_recursive(bh_ctl);
	kt_cleanup();
}

module_init(bh_init);
module_exit(bh_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("pvkit: a hostile vbd front-end against vpv-blkback");
