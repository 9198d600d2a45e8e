// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-blkback's request checks (blkback.h): pure functions of the
 * back-end's own copy of a request and the device's limits, in the
 * order of Documentation/blkif.rst ("Validation order"):
 *   1. the op: unknown -VPV_ENOSYS; not offered -VPV_EOPNOTSUPP
 *   2. the flags: unknown or not meant for the op -VPV_EINVAL; a flag
 *      not offered -VPV_EOPNOTSUPP
 *   3. a write of any kind to a read-only device -VPV_EROFS
 *   4. the segment count, the indirect count, zero lengths: -VPV_EINVAL
 *   5. the segments and the range (alignment for sector-size 4096,
 *      sector + length within the capacity, overflow-safe): -VPV_EINVAL
 * Grant references are checked when mapped (-VPV_EPERM, blkback.c).
 */
#include <string.h>

#include "blkback.h"

/* 4 KiB sector-size: sectors counted in 512 bytes, aligned to 8 */
#define SECTORS_4K	(4096u >> VPV_BLKIF_SECTOR_SHIFT)

static bool range_ok(const struct blk_limits *l, uint64_t sector,
		     uint64_t nr)
{
	if (!nr || nr > l->sectors || sector > l->sectors - nr)
		return false;
	if (l->sector_size == 4096 && (sector % SECTORS_4K ||
				       nr % SECTORS_4K))
		return false;
	return true;
}

/* Step 1: the op, and what it does; 0 or -VPV_ENOSYS / -EOPNOTSUPP */
static int check_op(const struct vpv_blkif_req *rq, const struct blk_limits *l,
		    struct blk_req *r)
{
	switch (rq->op) {
	case VPV_BLKIF_OP_READ:
	case VPV_BLKIF_OP_WRITE:
		r->io_op = rq->op;
		return 0;
	case VPV_BLKIF_OP_FLUSH:
		r->io_op = rq->op;
		return l->flush ? 0 : -VPV_EOPNOTSUPP;
	case VPV_BLKIF_OP_DISCARD:
		r->io_op = rq->op;
		return l->discard ? 0 : -VPV_EOPNOTSUPP;
	case VPV_BLKIF_OP_WRITE_ZEROES:
		r->io_op = rq->op;
		return l->write_zeroes ? 0 : -VPV_EOPNOTSUPP;
	case VPV_BLKIF_OP_INDIRECT:
		if (!l->max_indirect)
			return -VPV_EOPNOTSUPP;
		/* the inner op is a field like any other: malformed */
		if (rq->u.indirect.op != VPV_BLKIF_OP_READ &&
		    rq->u.indirect.op != VPV_BLKIF_OP_WRITE)
			return -VPV_EINVAL;
		r->io_op = rq->u.indirect.op;
		return 0;
	}
	return -VPV_ENOSYS;
}

/* Step 2: the flags */
static int check_flags(const struct blk_limits *l, const struct blk_req *r)
{
	if (r->flags & ~VPV_BLKIF_F_ALL)
		return -VPV_EINVAL;
	if ((r->flags & VPV_BLKIF_F_FUA) && r->io_op != VPV_BLKIF_OP_WRITE)
		return -VPV_EINVAL;
	if ((r->flags & VPV_BLKIF_F_SECURE) &&
	    r->io_op != VPV_BLKIF_OP_DISCARD)
		return -VPV_EINVAL;
	if ((r->flags & VPV_BLKIF_F_TRANSIENT) &&
	    r->io_op != VPV_BLKIF_OP_READ && r->io_op != VPV_BLKIF_OP_WRITE)
		return -VPV_EINVAL;
	if ((r->flags & VPV_BLKIF_F_FUA) && !l->fua)
		return -VPV_EOPNOTSUPP;
	if ((r->flags & VPV_BLKIF_F_SECURE) && !l->secure)
		return -VPV_EOPNOTSUPP;
	if ((r->flags & VPV_BLKIF_F_TRANSIENT) && !l->transient)
		return -VPV_EOPNOTSUPP;
	return 0;
}

int blk_check_segs(const struct vpv_blkif_seg *seg, uint32_t n,
		   const struct blk_limits *l, struct blk_req *r)
{
	uint64_t total = 0;
	uint32_t i;

	if (!n)
		return -VPV_EINVAL;
	for (i = 0; i < n; i++) {
		uint8_t f = seg[i].first_sect, la = seg[i].last_sect;

		if (f > la || la >= VPV_BLKIF_SECTORS_PER_PAGE)
			return -VPV_EINVAL;
		if (l->sector_size == 4096 &&
		    (f != 0 || la != VPV_BLKIF_SECTORS_PER_PAGE - 1))
			return -VPV_EINVAL;
		total += la - f + 1;	/* <= 8 x 1024: no overflow */
	}
	if (!range_ok(l, r->sector, total))
		return -VPV_EINVAL;
	r->nr_sectors = total;
	return 0;
}

/* Step 4 and 5 for the fixed part */
static int check_counts(const struct vpv_blkif_req *rq,
			const struct blk_limits *l, struct blk_req *r)
{
	uint32_t n;

	switch (rq->op) {
	case VPV_BLKIF_OP_READ:
	case VPV_BLKIF_OP_WRITE:
		if (!rq->nr_segs || rq->nr_segs > VPV_BLKIF_MAX_SEGS)
			return -VPV_EINVAL;
		r->nr_segs = rq->nr_segs;
		memcpy(r->seg, rq->u.seg, r->nr_segs * sizeof(r->seg[0]));
		return blk_check_segs(r->seg, r->nr_segs, l, r);
	case VPV_BLKIF_OP_FLUSH:
		return rq->nr_segs ? -VPV_EINVAL : 0;
	case VPV_BLKIF_OP_DISCARD:
	case VPV_BLKIF_OP_WRITE_ZEROES:
		if (rq->nr_segs)
			return -VPV_EINVAL;
		r->nr_sectors = rq->u.discard.nr_sectors;
		return range_ok(l, r->sector, r->nr_sectors) ? 0 :
							       -VPV_EINVAL;
	}
	/* INDIRECT */
	n = rq->u.indirect.nr_segs;
	if (rq->nr_segs || !n || n > l->max_indirect ||
	    n > VPV_BLKIF_MAX_INDIRECT_SEGS)
		return -VPV_EINVAL;
	r->nr_segs = n;
	r->nr_ind_pages = (n + VPV_BLKIF_SEGS_PER_INDIRECT_PAGE - 1) /
			  VPV_BLKIF_SEGS_PER_INDIRECT_PAGE;
	memcpy(r->ind_gref, rq->u.indirect.gref,
	       r->nr_ind_pages * sizeof(r->ind_gref[0]));
	return 0;
}

int blk_check_req(const struct vpv_blkif_req *rq, const struct blk_limits *l,
		  struct blk_req *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->id = rq->id;
	r->op = rq->op;
	r->flags = rq->flags;
	r->sector = rq->sector;
	ret = check_op(rq, l, r);
	if (!ret)
		ret = check_flags(l, r);
	if (!ret && l->ro && r->io_op != VPV_BLKIF_OP_READ &&
	    r->io_op != VPV_BLKIF_OP_FLUSH)
		ret = -VPV_EROFS;
	if (!ret)
		ret = check_counts(rq, l, r);
	return ret;
}
