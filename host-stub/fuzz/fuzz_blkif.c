// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: vpv-blkback's request checks (backend/blkcheck.c).  The
 * input is the device's limits (16 bytes: capacity, sector-size,
 * max-indirect-segments, offered features), a 112-byte request as a
 * front-end could put on the ring, then the segments of an indirect
 * request's pages.  Checked: the status is one abi/vpv_blkif.h lists;
 * an accepted request obeys every rule of the ABI (op and flags
 * offered, nothing written to a read-only device, segment counts in
 * range, first_sect <= last_sect <= 7, 4 KiB alignment with
 * sector-size 4096, sector + length within the capacity without
 * overflow); and the checks never read past the request's copy.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "blkback.h"

#define LIM_BYTES	16u

static void limits(const uint8_t *d, struct blk_limits *l)
{
	uint64_t sectors;

	memset(l, 0, sizeof(*l));
	memcpy(&sectors, d, sizeof(sectors));
	/* small capacities too, where the edges are */
	l->sectors = d[8] & 1 ? sectors : sectors & 0xffff;
	l->sector_size = d[9] & 1 ? 4096 : 512;
	l->max_indirect = (d[10] | d[11] << 8) % (VPV_BLKIF_MAX_INDIRECT_SEGS + 1);
	l->ro = d[12] & 1;
	l->flush = d[12] & 2;
	l->fua = d[12] & 4;
	l->discard = d[12] & 8;
	l->secure = d[12] & 16;
	l->write_zeroes = d[12] & 32;
	l->transient = d[12] & 64;
}

static bool documented(int st)
{
	return st == 0 || st == -VPV_EINVAL || st == -VPV_ENOSYS ||
	       st == -VPV_EOPNOTSUPP || st == -VPV_EROFS;
}

static bool range_ok(const struct blk_limits *l, const struct blk_req *r)
{
	if (!r->nr_sectors || r->nr_sectors > l->sectors ||
	    r->sector > l->sectors - r->nr_sectors)
		return false;
	return l->sector_size == 512 ||
	       (!(r->sector % 8) && !(r->nr_sectors % 8));
}

static bool segs_ok(const struct blk_limits *l, const struct vpv_blkif_seg *s,
		    uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (s[i].first_sect > s[i].last_sect || s[i].last_sect > 7)
			return false;
		if (l->sector_size == 4096 &&
		    (s[i].first_sect || s[i].last_sect != 7))
			return false;
	}
	return true;
}

/* An accepted request's fixed part: the ABI's rules. */
static void check_accepted(const struct blk_limits *l,
			   const struct vpv_blkif_req *rq,
			   const struct blk_req *r)
{
	bool wr = r->io_op != VPV_BLKIF_OP_READ &&
		  r->io_op != VPV_BLKIF_OP_FLUSH;

	if (r->id != rq->id || r->op != rq->op || (l->ro && wr) ||
	    (r->flags & ~VPV_BLKIF_F_ALL) ||
	    ((r->flags & VPV_BLKIF_F_FUA) &&
	     (!l->fua || r->io_op != VPV_BLKIF_OP_WRITE)) ||
	    ((r->flags & VPV_BLKIF_F_SECURE) &&
	     (!l->secure || r->io_op != VPV_BLKIF_OP_DISCARD)) ||
	    ((r->flags & VPV_BLKIF_F_TRANSIENT) &&
	     (!l->transient || (r->io_op != VPV_BLKIF_OP_READ &&
				r->io_op != VPV_BLKIF_OP_WRITE))))
		abort();
	switch (rq->op) {
	case VPV_BLKIF_OP_READ:
	case VPV_BLKIF_OP_WRITE:
		if (!r->nr_segs || r->nr_segs > VPV_BLKIF_MAX_SEGS ||
		    !segs_ok(l, r->seg, r->nr_segs) || !range_ok(l, r))
			abort();
		break;
	case VPV_BLKIF_OP_FLUSH:
		if (!l->flush || rq->nr_segs)
			abort();
		break;
	case VPV_BLKIF_OP_DISCARD:
	case VPV_BLKIF_OP_WRITE_ZEROES:
		if ((rq->op == VPV_BLKIF_OP_DISCARD ? !l->discard :
		     !l->write_zeroes) || rq->nr_segs || !range_ok(l, r))
			abort();
		break;
	case VPV_BLKIF_OP_INDIRECT:
		if (!r->nr_segs || r->nr_segs > l->max_indirect ||
		    r->nr_ind_pages != (r->nr_segs + 511) / 512 ||
		    r->nr_ind_pages > VPV_BLKIF_MAX_INDIRECT_PAGES)
			abort();
		break;
	default:
		abort();	/* an unknown op accepted */
	}
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct vpv_blkif_seg *segs;
	struct vpv_blkif_req rq;
	struct blk_limits l;
	struct blk_req r;
	size_t nsegs;
	int st;

	if (size < LIM_BYTES + sizeof(rq))
		return 0;
	limits(data, &l);
	memcpy(&rq, data + LIM_BYTES, sizeof(rq));
	st = blk_check_req(&rq, &l, &r);
	if (!documented(st))
		abort();
	if (st)
		return 0;
	check_accepted(&l, &rq, &r);
	if (rq.op != VPV_BLKIF_OP_INDIRECT)
		return 0;
	/* the indirect pages' segments: exactly r.nr_segs, heap-sized */
	nsegs = (size - LIM_BYTES - sizeof(rq)) / sizeof(*segs);
	if (nsegs < r.nr_segs)
		return 0;
	segs = malloc(r.nr_segs * sizeof(*segs));
	if (!segs)
		return 0;
	memcpy(segs, data + LIM_BYTES + sizeof(rq), r.nr_segs * sizeof(*segs));
	st = blk_check_segs(segs, r.nr_segs, &l, &r);
	if (st != 0 && st != -VPV_EINVAL)
		abort();
	if (!st && (!segs_ok(&l, segs, r.nr_segs) || !range_ok(&l, &r)))
		abort();
	free(segs);
	return 0;
}
