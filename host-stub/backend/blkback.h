/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpv-blkback's request checks (blkback.c), apart so that the unit
 * test and the fuzz harness (fuzz/fuzz_blkif.c) call them directly.
 * Every check works on the back-end's own copy of a request, never on
 * the ring.  Order and errors: Documentation/blkif.rst.
 */
#ifndef VPV_BLKBACK_H
#define VPV_BLKBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "vpv_abi.h"
#include "vpv_blkif.h"

/* What the device offers at this connect (its keys) and its size. */
struct blk_limits {
	uint64_t sectors;	/* capacity, 512-byte sectors */
	uint32_t sector_size;	/* 512 or 4096 */
	uint32_t max_indirect;	/* feature-max-indirect-segments, 0: off */
	bool ro, flush, fua, discard, secure, write_zeroes;
	bool transient;		/* feature-transient: F_TRANSIENT offered */
};

/* A request after the checks of its fixed part. */
struct blk_req {
	uint64_t id;
	uint8_t op;		/* as received (echoed in the response) */
	uint8_t io_op;		/* READ, WRITE, FLUSH, DISCARD, WRITE_ZEROES */
	uint16_t flags;
	uint64_t sector;
	uint64_t nr_sectors;	/* DISCARD, WRITE_ZEROES; READ/WRITE: the
				 * segments' sum once blk_check_segs passed
				 */
	uint32_t nr_segs;	/* inline or indirect segments */
	uint32_t nr_ind_pages;	/* INDIRECT: pages of segments */
	uint32_t ind_gref[VPV_BLKIF_MAX_INDIRECT_PAGES];
	struct vpv_blkif_seg seg[VPV_BLKIF_MAX_SEGS];	/* inline, copied */
};

/*
 * Check the fixed part of rq (the caller's copy) against l and fill
 * out (id and op always, for the response).  Returns 0 or the
 * response's -VPV_E* status.  Inline segments are copied into out and
 * checked too; INDIRECT ones are checked by blk_check_segs() once the
 * caller copied them from their pages.
 */
int blk_check_req(const struct vpv_blkif_req *rq, const struct blk_limits *l,
		  struct blk_req *out);
/*
 * Check n segments (a copy) of r: first_sect <= last_sect <= 7, whole
 * frames with sector-size 4096, and the data's range against the
 * capacity (overflow-safe); sets r->nr_sectors.  0 or -VPV_EINVAL.
 */
int blk_check_segs(const struct vpv_blkif_seg *seg, uint32_t n,
		   const struct blk_limits *l, struct blk_req *r);

/*
 * Test hook (NULL but in the unit test): called right after request
 * idx of ring queue was copied, before it is checked; the test changes
 * the ring entry there to show that the copy is what is used.
 */
extern void (*blkback_fetched_hook)(uint32_t queue, uint32_t idx);

/*
 * Per-device bounds of vpv-blkback (everything a guest can make it
 * hold).  BLK_IOS_MAX requests in flight (each with an iovec and a map
 * list of at most its segments: <= 256 x 24 bytes); a ring's requests
 * beyond that wait on the ring.  BLK_QUEUE_BUDGET requests taken from
 * one ring per pass, so a flooded ring cannot starve the others;
 * BLK_BUDGET in all per event() call before the process looks at its
 * socket again (be_again()).
 */
#define BLK_IOS_MAX		256u
#define BLK_QUEUE_BUDGET	32u
#define BLK_BUDGET		256u
/* io_uring: an SQE per run plus a flush per request, with room */
#define BLK_SQ_ENTRIES		512u
/* runs of one request (struct cow_run): raw 1; COW: base/overlay
 * alternating per 4 KiB block, at most a block per segment + 3
 * (cow.h's cow_read_map: len / 4096 + 3)
 */
#define BLK_RUNS_MAX		(VPV_BLKIF_MAX_INDIRECT_SEGS + 3u)
/* persistent-grant hash: a power of two >= 2 x max-persistent-grants */
#define BLK_PHASH		2048u

#endif /* VPV_BLKBACK_H */
