/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * vbd: the split block device (Xen's io/blkif.h, reduced and made
 * explicit).  Front-end: blkfront/vblkfront.c (vblkfront.ko, /dev/pvd*).
 * Back-end: the vpv-blkback process (host-stub/backend/blkback.c).
 * Documentation/blkif.rst describes every field; this header is the
 * contract and is kept in step with it.
 *
 * Back-end keys (written when the device is created, before InitWait;
 * decimal unless said otherwise):
 *   sectors                        capacity in 512-byte sectors; may
 *                                  change while Connected (resize): the
 *                                  front-end watches this key
 *   sector-size                    logical block size, 512 or 4096
 *   physical-sector-size           512 or 4096 (>= sector-size)
 *   read-only                      1: every WRITE/DISCARD/WRITE_ZEROES
 *                                  is answered -VPV_EROFS
 *   feature-flush-cache            FLUSH offered
 *   feature-fua                    VPV_BLKIF_F_FUA on WRITE offered
 *   feature-discard                DISCARD offered
 *   feature-secure-discard         VPV_BLKIF_F_SECURE on DISCARD offered
 *   feature-write-zeroes           WRITE_ZEROES offered
 *   discard-granularity            bytes, a power of two >= sector-size
 *   feature-persistent             1: the back-end keeps grants mapped
 *   max-persistent-grants          how many it keeps per device
 *   feature-transient              1: VPV_BLKIF_F_TRANSIENT offered
 *   feature-max-indirect-segments  0, or the most segments of an
 *                                  INDIRECT request (<= VPV_BLKIF_MAX_INDIRECT_SEGS)
 *   multi-queue-max-queues         rings the back-end serves (>= 1)
 *   max-ring-page-order            log2 of the most pages per ring
 * A front-end uses a feature only when its key is non-zero (absent: 0);
 * the back-end reads its own keys again at each connect (an admin may
 * have turned one off) and answers an op it does not offer then with
 * -VPV_EOPNOTSUPP, before any other check.
 *
 * Front-end keys, then state Initialised:
 *   multi-queue-num-queues  Q, 1 .. multi-queue-max-queues
 *   ring-page-order         O, 0 .. max-ring-page-order
 *   q<q>-ring-ref<p>        grant of page p (0 .. 2^O - 1) of queue q's
 *                           ring (0 .. Q - 1), e.g. "q0-ring-ref0"
 *   event-channel           the device's one port, for every queue:
 *                           both sides look at all rings when notified
 *   q<q>-vector             optional (ABI 1.5, VPV_F_CPU_VECTORS): the
 *                           vector, VPV_VEC_CPU0 .. VPV_VEC_CPU0 +
 *                           VPV_NR_CPU_VECTORS - 1, the back-end rings
 *                           (after raising event-channel) when it
 *                           pushes answers on queue q: the vector of
 *                           the CPU that submits on q.  Absent:
 *                           VPV_VEC_EVTCHN.  Any other value: the
 *                           connect fails (-EINVAL).  When several
 *                           queues answer at once, one of their
 *                           vectors is rung (the handler looks at every
 *                           ring).
 *   feature-persistent      1: the front-end reuses granted pages
 *                           (it copies data into them), so the
 *                           back-end may keep them mapped
 * A ring is 2^O pages granted in order; its entries are
 * VPV_RING_ENTRIES(sizeof(union vpv_blkif_entry), 2^O * 4096) (32 for
 * one page, 512 for 16).
 *
 * Requests (copied once by the back-end, then validated):
 *   READ, WRITE      nr_segs 1 .. VPV_BLKIF_MAX_SEGS inline segments;
 *                    data starts at sector and runs through the
 *                    segments in order
 *   FLUSH            nr_segs 0; everything answered before is durable
 *   DISCARD          nr_segs 0; u.discard.nr_sectors from sector; may
 *                    read back as anything (raw images: zeros, the
 *                    blocks are freed on the host); F_SECURE: discard
 *                    and make the old data unrecoverable
 *   WRITE_ZEROES     nr_segs 0; the range reads back as zeros
 *   INDIRECT         nr_segs 0; u.indirect.op is READ or WRITE,
 *                    u.indirect.nr_segs (1 .. the key feature-max-
 *                    indirect-segments) segments in the granted pages
 *                    u.indirect.gref[0 .. ceil(nr_segs / 512) - 1]
 * WRITE and INDIRECT WRITE may carry VPV_BLKIF_F_FUA (durable when
 * answered).  READ, WRITE and INDIRECT may carry VPV_BLKIF_F_TRANSIENT
 * (with feature-transient): the data segments' grants are for this
 * request only, even with feature-persistent (the back-end maps them
 * as without it: only for the request); the front-end grants the
 * request's own pages instead of copying through its persistent ones
 * (large requests).  Indirect pages stay persistent.  A segment names
 * 512-byte sectors first_sect .. last_sect (0 .. 7) of one granted 4 KiB
 * frame.  With sector-size 4096 every
 * segment is a whole frame (0 .. 7) and sector is a multiple of 8.
 *
 * Responses: id and op echoed; status 0 or a negative VPV_E*:
 *   -VPV_EINVAL      malformed: bad nr_segs, first_sect > last_sect,
 *                    last_sect > 7, misaligned for sector-size, range
 *                    beyond sectors, zero length, unknown flags
 *   -VPV_ENOSYS      unknown op
 *   -VPV_EOPNOTSUPP  op or flag not offered (feature key 0)
 *   -VPV_EPERM       a bad grant (not granted, wrong access)
 *   -VPV_EROFS       a write to a read-only device
 *   -VPV_EIO         the host's I/O failed
 * A ring whose indices are impossible (req_prod more than a ring ahead)
 * is a protocol error: the back-end stops serving the device, which
 * goes Closing; nothing else is a protocol error.
 * Each request is answered exactly once, in any order, on the ring it
 * came from; the front-end ignores (and counts) a response whose id is
 * not one of its requests in flight.
 */
#ifndef VPV_BLKIF_H
#define VPV_BLKIF_H

#include <linux/types.h>
#include "vpv_abi.h"
#include "vpv_ring.h"

#define VPV_BLKIF_OP_READ		0
#define VPV_BLKIF_OP_WRITE		1
#define VPV_BLKIF_OP_FLUSH		2
#define VPV_BLKIF_OP_DISCARD		3
#define VPV_BLKIF_OP_WRITE_ZEROES	4
#define VPV_BLKIF_OP_INDIRECT		5

#define VPV_BLKIF_F_FUA		0x1	/* WRITE: durable when answered */
#define VPV_BLKIF_F_SECURE	0x2	/* DISCARD: secure erase */
#define VPV_BLKIF_F_TRANSIENT	0x4	/* READ/WRITE: data grants per request */
#define VPV_BLKIF_F_ALL		(VPV_BLKIF_F_FUA | VPV_BLKIF_F_SECURE | \
				 VPV_BLKIF_F_TRANSIENT)

#define VPV_BLKIF_SECTOR_SHIFT		9	/* sector numbers are 512 B */
#define VPV_BLKIF_SECTORS_PER_PAGE	8	/* of a 4 KiB frame */
/* 11 inline segments keep a request at 112 bytes, as Xen's blkif */
#define VPV_BLKIF_MAX_SEGS		11
/* segments per indirect page: 4096 / sizeof(struct vpv_blkif_seg) */
#define VPV_BLKIF_SEGS_PER_INDIRECT_PAGE	512
/* 1024 segments = 4 MiB; back-ends offer 256 (1 MiB) or more */
#define VPV_BLKIF_MAX_INDIRECT_PAGES	2
#define VPV_BLKIF_MAX_INDIRECT_SEGS \
	(VPV_BLKIF_MAX_INDIRECT_PAGES * VPV_BLKIF_SEGS_PER_INDIRECT_PAGE)
#define VPV_BLKIF_MAX_QUEUES		8
#define VPV_BLKIF_MAX_RING_ORDER	4	/* 16 pages, 512 entries */

struct vpv_blkif_seg {
	__u32 gref;		/* grant of a 4 KiB frame */
	__u8 first_sect;	/* first 512-byte sector in it, 0 .. 7 */
	__u8 last_sect;		/* last, first_sect .. 7 */
	__u16 pad;		/* 0 */
};

struct vpv_blkif_req {
	__u8 op;		/* VPV_BLKIF_OP_* */
	__u8 nr_segs;		/* READ/WRITE: 1 .. 11; others 0 */
	__u16 flags;		/* VPV_BLKIF_F_* */
	__u32 pad;		/* 0 */
	__u64 id;		/* echoed in the response */
	__u64 sector;		/* first 512-byte sector */
	union {
		struct vpv_blkif_seg seg[VPV_BLKIF_MAX_SEGS];
		struct {
			__u64 nr_sectors;	/* DISCARD, WRITE_ZEROES */
		} discard;
		struct {
			__u8 op;		/* READ or WRITE */
			__u8 pad;
			__u16 nr_segs;		/* 1 .. max-indirect-segments */
			__u32 pad2;
			__u32 gref[VPV_BLKIF_MAX_INDIRECT_PAGES];
		} indirect;
	} u;
};

struct vpv_blkif_rsp {
	__u64 id;		/* the request's */
	__u8 op;		/* the request's */
	__u8 pad;
	__s16 status;		/* 0 or -VPV_E* */
	__u32 pad2;
};

VPV_RING_DECLARE(vpv_blkif, struct vpv_blkif_req, struct vpv_blkif_rsp);

/* Layout checks (vpv_abi.h brings static_assert to both sides). */
static_assert(sizeof(struct vpv_blkif_seg) == 8, "vpv_blkif_seg size");
static_assert(sizeof(struct vpv_blkif_req) == 112, "vpv_blkif_req size");
static_assert(sizeof(struct vpv_blkif_rsp) == 16, "vpv_blkif_rsp size");

#endif /* VPV_BLKIF_H */
