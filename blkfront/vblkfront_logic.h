/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vblkfront's pure logic, shared with its KUnit suite
 * (vblkfront_kunit.c): the shadow slots of a ring (Xen blkfront's
 * shadow[] and shadow_free), the judgement of a response read from a
 * ring the back-end may have scribbled on, the mapping of its status,
 * and the arithmetic of what was negotiated (queues, ring entries,
 * segments, indirect pages, disk names).  No locking here: the caller
 * holds its ring's lock.
 */
#ifndef VBLKFRONT_LOGIC_H
#define VBLKFRONT_LOGIC_H

#include <linux/blk_types.h>
#include <linux/kernel.h>
#include <linux/types.h>

#include "abi/vpv_blkif.h"

struct request;

#define VBF_NO_SLOT	0xffffu		/* end of the free list */
#define VBF_IDX_BITS	16		/* id = gen << 16 | slot index */
#define VBF_IDX_MASK	0xffffu

/**
 * struct vbf_shadow - one slot of a ring: the request it carries
 * @id: the id on the ring (vbf_make_id()), 0 while free
 * @rq: the block request; NULL while free
 * @op: the op written on the ring (VPV_BLKIF_OP_*), echoed in the answer
 * @busy: on the ring, not answered yet
 * @next_free: the next free slot (VBF_NO_SLOT: none), while free
 */
struct vbf_shadow {
	u64 id;
	struct request *rq;
	u8 op;
	bool busy;
	u16 next_free;
};

/**
 * struct vbf_slots - the shadow slots of one ring
 * @sh: @nr slots
 * @nr: the ring's entries (<= 512, so an index fits in 16 bits)
 * @free: the first free slot, VBF_NO_SLOT when all are busy
 * @gen: bumped at each allocation; makes a reused slot's id new
 * @busy: slots in use
 */
struct vbf_slots {
	struct vbf_shadow *sh;
	unsigned int nr;
	u16 free;
	u32 gen;
	unsigned int busy;
};

/**
 * vbf_make_id() - a request's id on the ring
 * @gen: the allocation's generation (wraps)
 * @idx: the slot index
 *
 * Return: @gen << 16 | @idx, never 0 (generation 0 is skipped).
 */
static inline u64 vbf_make_id(u32 gen, unsigned int idx)
{
	return ((u64)gen << VBF_IDX_BITS) | (idx & VBF_IDX_MASK);
}

/**
 * vbf_slots_init() - every slot free, chained in order
 * @s: the slots
 * @sh: zeroed array of @nr entries
 * @nr: ring entries, 1 .. VBF_NO_SLOT - 1
 */
static inline void vbf_slots_init(struct vbf_slots *s, struct vbf_shadow *sh,
				  unsigned int nr)
{
	unsigned int i;

	s->sh = sh;
	s->nr = nr;
	s->busy = 0;
	s->gen = 0;
	for (i = 0; i < nr; i++) {
		sh[i].busy = false;
		sh[i].rq = NULL;
		sh[i].id = 0;
		sh[i].next_free = i + 1 < nr ? i + 1 : VBF_NO_SLOT;
	}
	s->free = nr ? 0 : VBF_NO_SLOT;
}

/**
 * vbf_slot_get() - take a free slot for @rq
 * @s: the slots
 * @rq: the request it carries
 * @op: the op written on the ring
 *
 * Return: the slot index, or -1 when all are busy (ring full).
 */
static inline int vbf_slot_get(struct vbf_slots *s, struct request *rq, u8 op)
{
	unsigned int idx = s->free;
	struct vbf_shadow *sh;

	if (idx == VBF_NO_SLOT || idx >= s->nr)
		return -1;
	sh = &s->sh[idx];
	s->free = sh->next_free;
	if (!++s->gen)
		s->gen = 1;	/* id 0 is never issued */
	sh->id = vbf_make_id(s->gen, idx);
	sh->rq = rq;
	sh->op = op;
	sh->busy = true;
	sh->next_free = VBF_NO_SLOT;
	s->busy++;
	return idx;
}

/**
 * vbf_slot_put() - a slot's request is over (answered, failed or kept)
 * @s: the slots
 * @idx: a busy slot
 *
 * Return: the request it carried, or NULL if @idx is not busy (nothing
 * changes: a slot is never freed twice).
 */
static inline struct request *vbf_slot_put(struct vbf_slots *s,
					   unsigned int idx)
{
	struct vbf_shadow *sh;
	struct request *rq;

	if (idx >= s->nr || !s->sh[idx].busy)
		return NULL;
	sh = &s->sh[idx];
	rq = sh->rq;
	sh->busy = false;
	sh->rq = NULL;
	sh->next_free = s->free;
	s->free = idx;
	s->busy--;
	return rq;
}

/* What a response is (vbf_judge()). */
enum vbf_verdict {
	VBF_RSP_OK,		/* completes its slot, status 0 */
	VBF_RSP_ERROR,		/* completes its slot, failed: a known error */
	VBF_RSP_BAD_ID,		/* no request in flight has this id: ignored */
	VBF_RSP_BAD_OP,		/* its slot's request, another op: fails it */
	VBF_RSP_BAD_STATUS,	/* its slot's request, an unknown status: fails it */
};

/**
 * vbf_status_known() - is @status one the ABI names?
 * @status: a response's status
 *
 * Return: true for 0 and the errors abi/vpv_blkif.h lists.
 */
static inline bool vbf_status_known(s16 status)
{
	switch (status) {
	case 0:
	case -VPV_EINVAL:
	case -VPV_ENOSYS:
	case -VPV_EOPNOTSUPP:
	case -VPV_EPERM:
	case -VPV_EROFS:
	case -VPV_EIO:
		return true;
	default:
		return false;
	}
}

/**
 * vbf_judge() - judge a response, each field read once from the ring
 * @s: the slots of the ring it came from
 * @id: its id
 * @op: its op
 * @status: its status
 *
 * Only the id of a busy slot, exactly as issued (generation included),
 * names a request: anything else (an index beyond the ring, a free
 * slot, a stale or duplicate answer) is VBF_RSP_BAD_ID and completes
 * nothing.  A named request whose answer carries another op or an
 * unknown status fails.
 * Return: the verdict.
 */
static inline enum vbf_verdict vbf_judge(const struct vbf_slots *s, u64 id,
					 u8 op, s16 status)
{
	unsigned int idx = id & VBF_IDX_MASK;

	if (idx >= s->nr || !s->sh[idx].busy || s->sh[idx].id != id)
		return VBF_RSP_BAD_ID;
	if (s->sh[idx].op != op)
		return VBF_RSP_BAD_OP;
	if (!vbf_status_known(status))
		return VBF_RSP_BAD_STATUS;
	return status ? VBF_RSP_ERROR : VBF_RSP_OK;
}

/**
 * vbf_blk_status() - the block layer's status for a known response status
 * @status: 0 or a -VPV_E* of the ABI
 *
 * Return: BLK_STS_OK, BLK_STS_NOTSUPP for an op not offered or not
 * known, BLK_STS_IOERR for the rest (a read-only device's -VPV_EROFS
 * included: the block layer has no status of its own for it).
 */
static inline blk_status_t vbf_blk_status(s16 status)
{
	switch (status) {
	case 0:
		return BLK_STS_OK;
	case -VPV_EOPNOTSUPP:
	case -VPV_ENOSYS:
		return BLK_STS_NOTSUPP;
	default:
		return BLK_STS_IOERR;
	}
}

/**
 * vbf_nr_queues() - how many rings to ask for
 * @param: the max_queues parameter (0: no limit of its own)
 * @cpus: online CPUs
 * @be_max: the back-end's multi-queue-max-queues (0 when absent: 1)
 *
 * Return: min(@param, @cpus, @be_max, VPV_BLKIF_MAX_QUEUES), at least 1.
 */
static inline unsigned int vbf_nr_queues(unsigned int param, unsigned int cpus,
					 unsigned int be_max)
{
	unsigned int n = min_t(unsigned int, cpus, VPV_BLKIF_MAX_QUEUES);

	if (param)
		n = min(n, param);
	n = min(n, be_max ? be_max : 1u);
	return max(n, 1u);
}

/**
 * vbf_ring_order() - the ring-page-order to use
 * @param: the ring_order parameter
 * @be_max: the back-end's max-ring-page-order (0 when absent)
 *
 * Return: min(@param, @be_max, VPV_BLKIF_MAX_RING_ORDER).
 */
static inline unsigned int vbf_ring_order(unsigned int param,
					  unsigned int be_max)
{
	return min3(param, be_max, (unsigned int)VPV_BLKIF_MAX_RING_ORDER);
}

/**
 * vbf_ring_entries() - entries of a ring of 2^@order pages
 * @order: 0 .. VPV_BLKIF_MAX_RING_ORDER
 *
 * Return: 32 for one page .. 512 for 16.
 */
static inline unsigned int vbf_ring_entries(unsigned int order)
{
	return VPV_RING_ENTRIES(sizeof(union vpv_blkif_entry),
				(4096u << order));
}

/**
 * vbf_max_segs() - segments a request may carry on this connection
 * @param: the max_indirect_segs parameter (0: no indirect), clamped
 * @be_max: the back-end's feature-max-indirect-segments (0: none)
 *
 * Return: VPV_BLKIF_MAX_SEGS without indirect segments on either side,
 * else min(@param, @be_max, VPV_BLKIF_MAX_INDIRECT_SEGS), never fewer
 * than the inline VPV_BLKIF_MAX_SEGS.
 */
static inline unsigned int vbf_max_segs(unsigned int param, unsigned int be_max)
{
	unsigned int n;

	if (!param || !be_max)
		return VPV_BLKIF_MAX_SEGS;
	n = min3(param, be_max, (unsigned int)VPV_BLKIF_MAX_INDIRECT_SEGS);
	return max_t(unsigned int, n, VPV_BLKIF_MAX_SEGS);
}

/**
 * vbf_indirect_pages() - indirect pages a request of @nsegs needs
 * @nsegs: its segments
 *
 * Return: 0 when they fit inline, else ceil(@nsegs / 512).
 */
static inline unsigned int vbf_indirect_pages(unsigned int nsegs)
{
	if (nsegs <= VPV_BLKIF_MAX_SEGS)
		return 0;
	return DIV_ROUND_UP(nsegs, VPV_BLKIF_SEGS_PER_INDIRECT_PAGE);
}

/**
 * vbf_sector_size_ok() - a sector size the ABI allows
 * @size: bytes
 *
 * Return: true for 512 and 4096.
 */
static inline bool vbf_sector_size_ok(unsigned int size)
{
	return size == 512 || size == 4096;
}

/**
 * vbf_disk_name() - the name of disk number @index: pvda .. pvdz, pvdaa ..
 * @index: 0 ..
 * @buf: receives the name
 * @len: size of @buf
 *
 * Return: 0, or -EINVAL when the name does not fit.
 */
static inline int vbf_disk_name(unsigned int index, char *buf, size_t len)
{
	char rev[8];
	unsigned int n = 0, i;
	unsigned long v = (unsigned long)index + 1;

	do {
		v--;
		rev[n++] = 'a' + v % 26;
		v /= 26;
	} while (v && n < sizeof(rev));
	if (v || len < 4 + n)
		return -EINVAL;
	buf[0] = 'p';
	buf[1] = 'v';
	buf[2] = 'd';
	for (i = 0; i < n; i++)
		buf[3 + i] = rev[n - 1 - i];
	buf[3 + n] = '\0';
	return 0;
}

#endif /* VBLKFRONT_LOGIC_H */
