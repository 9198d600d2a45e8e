/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnetfront's pure logic, shared with its KUnit suite
 * (vnetfront_kunit.c): the id slots of a ring (which buffer or TX slot
 * a response names), the judgement of TX responses and of RX packets
 * read from a ring the back-end may have scribbled on (the classes of
 * Documentation/netif.rst, "Bogus responses"), the splitting of a
 * packet's bytes into 4 KiB frames, and what is negotiated (queues,
 * ring order and RX fill within a grant budget, MTU, features, keys).
 * No locking here: the caller holds what protects its ring.
 */
#ifndef VNETFRONT_LOGIC_H
#define VNETFRONT_LOGIC_H

#include <linux/bits.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/kstrtox.h>
#include <linux/minmax.h>
#include <linux/netdev_features.h>
#include <linux/string.h>
#include <linux/types.h>

#include "abi/vpv_netif.h"

#define VNF_FRAME	4096u		/* the ABI's frame: a slot's page */
#define VNF_ETH_ALEN	6

/*
 * A slot id is gen << VNF_IDX_BITS | index: 9 bits of index cover the
 * largest ring (512 entries), the 7 bits left make a reused index's id
 * new, so a late or repeated answer rarely names the slot's next user.
 */
#define VNF_IDX_BITS	9
#define VNF_IDX_MASK	((1u << VNF_IDX_BITS) - 1)
#define VNF_GEN_MASK	((1u << (16 - VNF_IDX_BITS)) - 1)
#define VNF_NO_SLOT	0xffffu		/* end of the free list */

static_assert(VNF_IDX_MASK + 1 >= 512, "an index must cover the largest ring");

/**
 * struct vnf_slot - one id slot of a ring
 * @id: the id on the ring while busy
 * @next: the next free slot (VNF_NO_SLOT: none), while free
 * @busy: on the ring and not answered yet
 */
struct vnf_slot {
	u16 id;
	u16 next;
	bool busy;
};

/**
 * struct vnf_slots - the id slots of one ring (TX slots or RX buffers)
 * @s: @nr slots
 * @nr: the ring's entries, 1 .. VNF_IDX_MASK + 1
 * @nfree: slots not busy
 * @free: the first free slot, VNF_NO_SLOT when all are busy
 * @gen: the generation of the last id handed out
 */
struct vnf_slots {
	struct vnf_slot *s;
	unsigned int nr;
	unsigned int nfree;
	u16 free;
	u16 gen;
};

/**
 * vnf_slots_init() - every slot free, chained in order
 * @ss: the slots
 * @s: an array of @nr entries
 * @nr: ring entries, 1 .. VNF_IDX_MASK + 1
 */
static inline void vnf_slots_init(struct vnf_slots *ss, struct vnf_slot *s,
				  unsigned int nr)
{
	unsigned int i;

	ss->s = s;
	ss->nr = min_t(unsigned int, nr, VNF_IDX_MASK + 1);
	ss->nfree = ss->nr;
	ss->gen = 0;
	for (i = 0; i < ss->nr; i++) {
		s[i].id = 0;
		s[i].busy = false;
		s[i].next = i + 1 < ss->nr ? i + 1 : VNF_NO_SLOT;
	}
	ss->free = ss->nr ? 0 : VNF_NO_SLOT;
}

/**
 * vnf_slot_get() - take a free slot and give it a new id
 * @ss: the slots
 *
 * Return: the slot's index (its id is ss->s[index].id), or -1 when all
 * are busy.
 */
static inline int vnf_slot_get(struct vnf_slots *ss)
{
	unsigned int idx = ss->free;
	struct vnf_slot *s;

	if (idx == VNF_NO_SLOT || idx >= ss->nr)
		return -1;
	s = &ss->s[idx];
	ss->free = s->next;
	ss->gen = (ss->gen + 1) & VNF_GEN_MASK;
	s->id = (ss->gen << VNF_IDX_BITS) | idx;
	s->next = VNF_NO_SLOT;
	s->busy = true;
	ss->nfree--;
	return idx;
}

/**
 * vnf_slot_find() - the busy slot a response's id names
 * @ss: the slots of the ring the response came from
 * @id: the id as read from the ring
 *
 * Only the id of a busy slot exactly as handed out names it: an index
 * beyond the ring, a free slot (answered before, never posted) or
 * another generation names none.
 * Return: the slot's index, or -1.
 */
static inline int vnf_slot_find(const struct vnf_slots *ss, u16 id)
{
	unsigned int idx = id & VNF_IDX_MASK;

	if (idx >= ss->nr || !ss->s[idx].busy || ss->s[idx].id != id)
		return -1;
	return idx;
}

/**
 * vnf_slot_put() - a slot is answered (or taken back): free it
 * @ss: the slots
 * @idx: its index
 *
 * Return: true if it was busy; false (nothing changes) otherwise, so
 * a slot is never freed twice.
 */
static inline bool vnf_slot_put(struct vnf_slots *ss, unsigned int idx)
{
	struct vnf_slot *s;

	if (idx >= ss->nr || !ss->s[idx].busy)
		return false;
	s = &ss->s[idx];
	s->busy = false;
	s->next = ss->free;
	ss->free = idx;
	ss->nfree++;
	return true;
}

/* ---- TX ---- */

/**
 * struct vnf_seg - a piece of a packet inside one 4 KiB frame
 * @pfn: the frame
 * @off: the first byte in it
 * @len: bytes, 1 .. VNF_FRAME - @off
 */
struct vnf_seg {
	u64 pfn;
	unsigned int off;
	unsigned int len;
};

/**
 * vnf_frames() - the frames (data slots) a region of a packet takes
 * @off: its first byte's offset from the start of a frame-aligned page
 *	(may be beyond the first frame: a fragment of a compound page)
 * @len: its bytes
 *
 * Return: 0 for an empty region, else the 4 KiB frames it touches.
 */
static inline unsigned int vnf_frames(unsigned int off, unsigned int len)
{
	if (!len)
		return 0;
	return DIV_ROUND_UP((off % VNF_FRAME) + len, VNF_FRAME);
}

/**
 * vnf_seg_take() - the next slot of a region, split at frame boundaries
 * @pfn: the region's first frame (advanced)
 * @off: the offset of its first byte from @pfn's start (advanced)
 * @len: bytes left (decreased)
 * @seg: receives the piece
 *
 * Return: false when @len is 0 (nothing taken).
 */
static inline bool vnf_seg_take(u64 *pfn, unsigned int *off,
				unsigned int *len, struct vnf_seg *seg)
{
	unsigned int n;

	if (!*len)
		return false;
	*pfn += *off / VNF_FRAME;
	*off %= VNF_FRAME;
	n = min(*len, VNF_FRAME - *off);
	seg->pfn = *pfn;
	seg->off = *off;
	seg->len = n;
	*off += n;
	*len -= n;
	return true;
}

/**
 * vnf_tx_slots() - the data slots a packet takes on the ring
 * @frames: the frames its own layout touches (vnf_frames() summed over
 *	its linear part and its fragments)
 * @len: its bytes
 * @sg: the back-end's feature-sg (more than one slot)
 * @force: copy it anyway (a fragment list, the tx_bounce parameter)
 * @copy: receives whether it is copied into whole pages of our own
 *	first: more frames than VPV_NETIF_MAX_SLOTS (1 without @sg), or
 *	@force
 *
 * Return: the data slots, or 0 when it cannot go at all (longer than
 * one slot without @sg).
 */
static inline unsigned int vnf_tx_slots(unsigned int frames, unsigned int len,
					bool sg, bool force, bool *copy)
{
	unsigned int max = sg ? VPV_NETIF_MAX_SLOTS : 1;

	*copy = force || frames > max;
	if (!*copy)
		return frames;
	frames = DIV_ROUND_UP(len, VNF_FRAME);
	return frames <= max ? frames : 0;
}

/**
 * vnf_tx_csum_ok() - a CHECKSUM_PARTIAL packet the back-end accepts
 *	(class 6): the sum starts after the Ethernet header and its field
 *	lies inside the packet, all within the slot's 16-bit fields
 * @start: from the packet's first byte to where the sum starts
 * @offset: from there to the checksum field
 * @len: the packet's bytes
 *
 * Return: true if the offsets can go on the ring as they are.
 */
static inline bool vnf_tx_csum_ok(unsigned int start, unsigned int offset,
				  unsigned int len)
{
	return start >= VPV_NETIF_MIN_FRAME && start <= U16_MAX &&
	       offset <= U16_MAX && start + offset + 2 <= len;
}

/**
 * vnf_tx_gso_ok() - a GSO packet the back-end accepts (classes 5, 6)
 * @gso_size: the MSS
 * @len: the packet's bytes, headers included
 * @be_mtu: the back-end's mtu
 *
 * Return: true if its segment size and length are within the limits.
 */
static inline bool vnf_tx_gso_ok(unsigned int gso_size, unsigned int len,
				 unsigned int be_mtu)
{
	return gso_size >= VPV_NETIF_MIN_GSO_SIZE && gso_size <= be_mtu &&
	       len <= VPV_NETIF_MAX_PACKET;
}

/**
 * vnf_tx_len_ok() - a packet's length the back-end accepts (class 5)
 * @len: its bytes
 * @gso: it carries a GSO extra
 * @be_mtu: the back-end's mtu
 *
 * Return: true for 14 .. mtu + 18 bytes, or 14 .. 65536 with GSO.
 */
static inline bool vnf_tx_len_ok(unsigned int len, bool gso,
				 unsigned int be_mtu)
{
	if (len < VPV_NETIF_MIN_FRAME)
		return false;
	return len <= (gso ? VPV_NETIF_MAX_PACKET : be_mtu + VPV_NETIF_HDR_MAX);
}

/* What a TX response is (vnf_tx_judge()). */
enum vnf_tx_verdict {
	VNF_TXV_OK,		/* accepted (data) or RSP_NULL (extra) */
	VNF_TXV_REJECTED,	/* a status of the ABI: the packet failed */
	VNF_TXV_BAD_STATUS,	/* anything else: freed, counted, an error */
};

/**
 * vnf_tx_judge() - judge a TX response's status for the slot it names
 * @extra: that slot is an extra
 * @status: the status read from the ring
 *
 * An extra is answered VPV_NETIF_RSP_NULL; a data slot 0 or one of the
 * classes' statuses (-VPV_EINVAL, -VPV_EOPNOTSUPP, -VPV_E2BIG,
 * -VPV_EPERM).  Anything else, RSP_NULL for a data slot included, is a
 * bogus status; the slot is freed either way.
 * Return: the verdict.
 */
static inline enum vnf_tx_verdict vnf_tx_judge(bool extra, s16 status)
{
	if (extra)
		return status == VPV_NETIF_RSP_NULL ? VNF_TXV_OK :
						      VNF_TXV_BAD_STATUS;
	switch (status) {
	case 0:
		return VNF_TXV_OK;
	case -VPV_EINVAL:
	case -VPV_EOPNOTSUPP:
	case -VPV_E2BIG:
	case -VPV_EPERM:
		return VNF_TXV_REJECTED;
	default:
		return VNF_TXV_BAD_STATUS;
	}
}

/* ---- RX ---- */

/*
 * Why a received packet is dropped, in the order of netif.rst's table
 * ("Bogus responses"): when a packet breaks several rules the first
 * class listed is counted.
 */
enum vnf_rx_class {
	VNF_RXC_OK,
	VNF_RXC_BAD_ID,		/* an id not posted and unanswered */
	VNF_RXC_BUF_ERROR,	/* a negative status alone */
	VNF_RXC_BAD_SLOT,	/* status, size or offset */
	VNF_RXC_BAD_FLAGS,
	VNF_RXC_BAD_EXTRA,
	VNF_RXC_TOO_MANY_SLOTS,
	VNF_RXC_BAD_LENGTH,
	VNF_RXC_BAD_CSUM,
	VNF_RXC_PARTIAL,	/* its slots run past rsp_prod */
	VNF_RXC_NR,
};

/**
 * struct vnf_rx_cfg - what this connection accepts on RX
 * @sg: our feature-sg (more than one data slot)
 * @csum: our feature-csum (CSUM_BLANK)
 * @gso4: our feature-gso-tcpv4
 * @gso6: our feature-gso-tcpv6
 * @be_mtu: the back-end's mtu: the limits of lengths and GSO sizes
 */
struct vnf_rx_cfg {
	bool sg, csum, gso4, gso6;
	unsigned int be_mtu;
};

/**
 * struct vnf_rx_pkt - a received packet as its slots are read
 * @bad: the first class it breaks (VNF_RXC_OK: none so far)
 * @slots: slots read, data and extras
 * @ndata: data slots read
 * @nextras: extras read
 * @len: the sum of the good data slots' sizes
 * @flags: slot 0's flags
 * @csum_start: slot 0's csum_start
 * @csum_offset: slot 0's csum_offset
 * @gso: a GSO extra was read
 * @gso_type: its VPV_NETIF_GSO_* (when @gso)
 * @gso_size: its size
 * @types: the extra types seen, a bit each
 * @want_extra: the next slot is an extra
 * @want_data: the next slot is a data slot
 */
struct vnf_rx_pkt {
	enum vnf_rx_class bad;
	unsigned int slots, ndata, nextras;
	u32 len;
	u16 flags, csum_start, csum_offset;
	bool gso;
	u8 gso_type;
	u16 gso_size;
	u32 types;
	bool want_extra, want_data;
};

/**
 * vnf_rx_begin() - a new packet: nothing read yet
 * @p: the packet
 */
static inline void vnf_rx_begin(struct vnf_rx_pkt *p)
{
	memset(p, 0, sizeof(*p));
}

/**
 * vnf_rx_more() - does the packet go on?
 * @p: the packet
 *
 * Return: true before slot 0 and while slot 0's EXTRA_INFO or a slot's
 * MORE (extras) or MORE_DATA (data) says another slot follows.
 */
static inline bool vnf_rx_more(const struct vnf_rx_pkt *p)
{
	return !p->slots || p->want_extra || p->want_data;
}

/**
 * vnf_rx_next_is_extra() - is the next slot read an extra?
 * @p: the packet, vnf_rx_more() true
 *
 * Return: true when slot 0 announced extras not all read yet.
 */
static inline bool vnf_rx_next_is_extra(const struct vnf_rx_pkt *p)
{
	return p->slots && p->want_extra;
}

/* Note a class; the first one the table lists wins. */
static inline void vnf_rx_fail(struct vnf_rx_pkt *p, enum vnf_rx_class c)
{
	if (p->bad == VNF_RXC_OK || c < p->bad)
		p->bad = c;
}

/* A data slot (slot 0 or later): status, size, offset and counts. */
static inline void vnf_rx_data(struct vnf_rx_pkt *p,
			       const struct vpv_netif_rx_rsp *r,
			       const struct vnf_rx_cfg *cfg)
{
	if (r->status < 0) {
		/* alone: flags 0 on slot 0, so nothing follows it */
		vnf_rx_fail(p, !p->slots && !r->flags ? VNF_RXC_BUF_ERROR :
					    VNF_RXC_BAD_SLOT);
	} else if (r->status > 0 || !r->size || r->offset >= VNF_FRAME ||
		   r->offset + r->size > VNF_FRAME) {
		vnf_rx_fail(p, VNF_RXC_BAD_SLOT);
	} else {
		p->len += r->size;
	}
	p->ndata++;
	if (p->ndata > VPV_NETIF_MAX_SLOTS || (p->ndata > 1 && !cfg->sg))
		vnf_rx_fail(p, VNF_RXC_TOO_MANY_SLOTS);
}

/* An extra slot. */
static inline void vnf_rx_extra(struct vnf_rx_pkt *p,
				const struct vpv_netif_extra *x,
				const struct vnf_rx_cfg *cfg)
{
	bool ok;

	p->want_extra = x->flags & VPV_NETIF_EXTRAF_MORE;
	if (++p->nextras > VPV_NETIF_MAX_EXTRAS)
		vnf_rx_fail(p, VNF_RXC_BAD_EXTRA);
	if (!x->type || x->type >= VPV_NETIF_EXTRA_MAX ||
	    (x->flags & ~VPV_NETIF_EXTRAF_MORE) || x->pad) {
		vnf_rx_fail(p, VNF_RXC_BAD_EXTRA);
		return;
	}
	if (p->types & BIT(x->type))
		vnf_rx_fail(p, VNF_RXC_BAD_EXTRA);
	p->types |= BIT(x->type);
	/* VPV_NETIF_EXTRA_GSO, the only type */
	p->gso = true;
	p->gso_type = x->u.gso.type;
	p->gso_size = x->u.gso.size;
	if (x->u.gso.type == VPV_NETIF_GSO_TCPV4)
		ok = cfg->gso4;
	else if (x->u.gso.type == VPV_NETIF_GSO_TCPV6)
		ok = cfg->gso6;
	else
		ok = false;
	if (!ok || !cfg->csum || x->u.gso.pad || x->u.gso.pad2 ||
	    x->u.gso.size < VPV_NETIF_MIN_GSO_SIZE ||
	    x->u.gso.size > cfg->be_mtu)
		vnf_rx_fail(p, VNF_RXC_BAD_EXTRA);
}

/**
 * vnf_rx_add() - judge the next slot of a packet, read once from the ring
 * @p: the packet
 * @s: the slot, a copy in the caller's memory
 * @id_ok: its id names a posted, unanswered buffer (vnf_slot_find())
 * @cfg: what this connection accepts
 *
 * Slot 0 is a data slot; then the extras slot 0 announced; then the
 * data slots MORE_DATA announced.  The walk follows the flags whatever
 * else is wrong, so that a bad packet is skipped whole.
 */
static inline void vnf_rx_add(struct vnf_rx_pkt *p,
			      const union vpv_netif_rx_slot *s, bool id_ok,
			      const struct vnf_rx_cfg *cfg)
{
	const struct vpv_netif_rx_rsp *r = &s->rsp;

	if (!id_ok)
		vnf_rx_fail(p, VNF_RXC_BAD_ID);
	if (vnf_rx_next_is_extra(p)) {
		vnf_rx_extra(p, &s->extra, cfg);
	} else if (!p->slots) {
		p->flags = r->flags;
		p->csum_start = r->csum_start;
		p->csum_offset = r->csum_offset;
		p->want_extra = r->flags & VPV_NETIF_RXF_EXTRA_INFO;
		p->want_data = r->flags & VPV_NETIF_RXF_MORE_DATA;
		if ((r->flags & ~VPV_NETIF_RXF_ALL) ||
		    ((r->flags & VPV_NETIF_RXF_CSUM_BLANK) &&
		     (r->flags & VPV_NETIF_RXF_DATA_VALIDATED)) ||
		    (!(r->flags & VPV_NETIF_RXF_CSUM_BLANK) &&
		     (r->csum_start || r->csum_offset)))
			vnf_rx_fail(p, VNF_RXC_BAD_FLAGS);
		vnf_rx_data(p, r, cfg);
	} else {
		p->want_data = r->flags & VPV_NETIF_RXF_MORE_DATA;
		if ((r->flags & ~VPV_NETIF_RXF_MORE_DATA) || r->csum_start ||
		    r->csum_offset)
			vnf_rx_fail(p, VNF_RXC_BAD_FLAGS);
		vnf_rx_data(p, r, cfg);
	}
	p->slots++;
}

/**
 * vnf_rx_finish() - the verdict on a packet whose slots were all read
 * @p: the packet
 * @cfg: what this connection accepts
 * @partial: its slots ran past rsp_prod (the walk stopped there)
 *
 * Adds what only the whole packet shows: its length (14 .. mtu + 18,
 * 65536 with GSO), its checksum offsets (the field inside the packet,
 * after the Ethernet header; GSO only with CSUM_BLANK; CSUM_BLANK only
 * if we accept it).
 * Return: VNF_RXC_OK or the first class the packet breaks.
 */
static inline enum vnf_rx_class vnf_rx_finish(struct vnf_rx_pkt *p,
					      const struct vnf_rx_cfg *cfg,
					      bool partial)
{
	bool blank = p->flags & VPV_NETIF_RXF_CSUM_BLANK;

	if (partial)
		vnf_rx_fail(p, VNF_RXC_PARTIAL);
	if (!vnf_tx_len_ok(p->len, p->gso, cfg->be_mtu))
		vnf_rx_fail(p, VNF_RXC_BAD_LENGTH);
	if (blank && (!cfg->csum ||
		      !vnf_tx_csum_ok(p->csum_start, p->csum_offset, p->len)))
		vnf_rx_fail(p, VNF_RXC_BAD_CSUM);
	if (p->gso && !blank)
		vnf_rx_fail(p, VNF_RXC_BAD_CSUM);
	return p->bad;
}

/**
 * vnf_rx_linear() - bytes of data slot 0 an skb copies into its linear
 *	area when the rest of the packet is attached as page fragments
 * @size0: slot 0's bytes
 * @hlen: the headers' length (eth_get_headlen())
 * @ndata: the packet's data slots
 * @max_frags: MAX_SKB_FRAGS
 *
 * Slot 0's remainder and every later slot is one fragment: when that
 * would be one too many, all of slot 0 is copied.
 * Return: bytes to copy, at most @size0; 0 .. @size0 with @hlen capped.
 */
static inline unsigned int vnf_rx_linear(unsigned int size0, unsigned int hlen,
					 unsigned int ndata,
					 unsigned int max_frags)
{
	unsigned int lin = min(hlen, size0);

	if (lin < size0 && ndata > max_frags)
		lin = size0;
	return lin;
}

/* ---- negotiation ---- */

/**
 * vnf_nr_queues() - how many queues to set up
 * @param: the max_queues parameter (0: no limit of its own)
 * @cpus: online CPUs
 * @be_max: the back-end's multi-queue-max-queues (0 when absent: 1)
 *
 * Return: min(@param, @cpus, @be_max, VPV_NETIF_MAX_QUEUES), at least 1.
 */
static inline unsigned int vnf_nr_queues(unsigned int param, unsigned int cpus,
					 unsigned int be_max)
{
	unsigned int n = min_t(unsigned int, cpus, VPV_NETIF_MAX_QUEUES);

	if (param)
		n = min(n, param);
	n = min(n, be_max ? be_max : 1u);
	return max(n, 1u);
}

/**
 * vnf_ring_entries() - entries of a ring of 2^@order pages
 * @order: 0 .. VPV_NETIF_MAX_RING_ORDER
 *
 * Return: 128, 256 or 512.
 */
static inline unsigned int vnf_ring_entries(unsigned int order)
{
	return VPV_RING_ENTRIES(sizeof(union vpv_netif_tx_entry),
				VNF_FRAME << order);
}

/*
 * RX buffers posted at the least: two packets of the most slots, so
 * the back-end can always deliver the largest packet.
 */
#define VNF_RX_MIN_FILL	(2 * (VPV_NETIF_MAX_SLOTS + VPV_NETIF_MAX_EXTRAS))

/**
 * struct vnf_plan - ring order and RX fill of a connection
 * @order: ring-page-order
 * @entries: entries per ring
 * @rx_fill: RX buffers to keep posted per queue
 */
struct vnf_plan {
	unsigned int order, entries, rx_fill;
};

/**
 * vnf_plan() - fit @nq queues' rings into a grant budget
 * @nq: queues, 1 .. VPV_NETIF_MAX_QUEUES
 * @order: the largest order allowed (our parameter and the back-end's
 *	max-ring-page-order, already combined)
 * @budget: grants the device may hold
 * @p: receives the plan
 *
 * A queue holds at most its TX ring's entries in TX grants, its RX fill
 * in RX buffers and 2 x 2^order ring pages (netif.rst, "Multi-queue").
 * The largest order whose TX ring and ring pages leave at least half
 * an RX ring of buffers wins, the RX fill what is left (at most a full
 * ring); when not even order 0 does, order 0 with fewer RX buffers,
 * never below VNF_RX_MIN_FILL.
 */
static inline void vnf_plan(unsigned int nq, unsigned int order,
			    unsigned int budget, struct vnf_plan *p)
{
	unsigned int o = min_t(unsigned int, order, VPV_NETIF_MAX_RING_ORDER);
	unsigned int per_q = budget / max(nq, 1u), n, fixed, left;

	for (;; o--) {
		n = vnf_ring_entries(o);
		fixed = n + 2 * (1u << o);
		left = per_q > fixed ? per_q - fixed : 0;
		if (left >= n / 2 || !o)
			break;
	}
	p->order = o;
	p->entries = n;
	p->rx_fill = clamp_t(unsigned int, left, VNF_RX_MIN_FILL, n);
}

/**
 * vnf_max_mtu() - the interface's max_mtu for a connection
 * @be_mtu: the back-end's mtu
 * @be_sg: the back-end's feature-sg
 *
 * Return: @be_mtu, or at most VPV_NETIF_NOSG_MAX_MTU without
 * scatter-gather (a frame must fit one 4 KiB slot).
 */
static inline unsigned int vnf_max_mtu(unsigned int be_mtu, bool be_sg)
{
	return be_sg ? be_mtu : min_t(unsigned int, be_mtu,
				      VPV_NETIF_NOSG_MAX_MTU);
}

/**
 * struct vnf_be_features - the back-end's TX feature keys (non-zero: on)
 * @sg: feature-sg
 * @csum: feature-csum
 * @gso4: feature-gso-tcpv4
 * @gso6: feature-gso-tcpv6
 */
struct vnf_be_features {
	bool sg, csum, gso4, gso6;
};

/**
 * vnf_fix_features() - the TX offloads a connection allows
 * @f: the features the stack asks for
 * @be: what the back-end offers
 *
 * Scatter-gather with feature-sg, NETIF_F_HW_CSUM with feature-csum,
 * TSO and TSO6 with their GSO key, scatter-gather and checksumming (a
 * GSO packet is always CSUM_BLANK, and needs several slots).
 * Return: @f without what is not offered.
 */
static inline netdev_features_t vnf_fix_features(netdev_features_t f,
						 const struct vnf_be_features *be)
{
	if (!be->sg)
		f &= ~NETIF_F_SG;
	if (!be->csum)
		f &= ~NETIF_F_HW_CSUM;
	if (!be->gso4)
		f &= ~NETIF_F_TSO;
	if (!be->gso6)
		f &= ~NETIF_F_TSO6;
	if (!(f & NETIF_F_SG) || !(f & NETIF_F_HW_CSUM))
		f &= ~(NETIF_F_TSO | NETIF_F_TSO6);
	return f;
}

/**
 * vnf_parse_mac() - the back-end's "mac" key
 * @s: the key's value, NUL-terminated
 * @mac: receives the six octets
 *
 * Exactly "aa:bb:cc:dd:ee:ff": six two-digit lower-case hex octets,
 * unicast (bit 0 of the first clear), not all zero.
 * Return: 0, or -EINVAL (@mac unchanged).
 */
static inline int vnf_parse_mac(const char *s, u8 *mac)
{
	u8 m[VNF_ETH_ALEN];
	unsigned int i, j;
	u8 any = 0;

	if (strlen(s) != 3 * VNF_ETH_ALEN - 1)
		return -EINVAL;
	for (i = 0; i < VNF_ETH_ALEN; i++) {
		const char *p = s + 3 * i;
		u8 v = 0;

		for (j = 0; j < 2; j++) {
			char c = p[j];

			if (c >= '0' && c <= '9')
				v = v * 16 + (c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (c - 'a' + 10);
			else
				return -EINVAL;
		}
		if (i < VNF_ETH_ALEN - 1 && p[2] != ':')
			return -EINVAL;
		m[i] = v;
		any |= v;
	}
	if (!any || (m[0] & 1))
		return -EINVAL;
	memcpy(mac, m, VNF_ETH_ALEN);
	return 0;
}

/**
 * vnf_parse_uint() - a decimal key within a range
 * @s: the key's value, NUL-terminated (a trailing newline is allowed)
 * @min: the smallest value allowed
 * @max: the largest
 * @val: receives it
 *
 * Return: 0, or -EINVAL for a value that is not decimal or outside
 * @min .. @max (@val unchanged).
 */
static inline int vnf_parse_uint(const char *s, unsigned int min,
				 unsigned int max, unsigned int *val)
{
	unsigned int v;

	if (kstrtouint(s, 10, &v) || v < min || v > max)
		return -EINVAL;
	*val = v;
	return 0;
}

#endif /* VNETFRONT_LOGIC_H */
