/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vloopfront's request shadows and the judgement of an answer, pure
 * logic shared with its KUnit suite (vloopfront_kunit.c): which answer
 * completes a request, which is a stray (duplicate or unexpected), and
 * what is kept and re-issued across a reconnect (Documentation/split.rst,
 * "Recovery").
 */
#ifndef VLOOPFRONT_LOGIC_H
#define VLOOPFRONT_LOGIC_H

#include <linux/types.h>

struct page;

#define VLF_HOLD_IDX	0xffff		/* id & 0xffff of HOLD/RELEASE */

/*
 * One request slot.  The pages and grants belong to one connection;
 * the rest is the request's shadow (Xen blkfront's shadow[]): enough to
 * put the same request on a new ring after a reconnect, and to check
 * its answer.  The input bytes are generated from @dseed, so the shadow
 * need not copy them (a block front-end keeps its data pages instead
 * and grants them again).
 */
struct vlf_slot {
	struct page *in, *out;
	int gref_in, gref_out;
	bool busy;		/* on the current ring, not answered yet */
	bool replay;		/* was on a ring that went away: re-issue */
	u64 id;			/* on the ring: gen << 16 | slot index */
	u64 seq;		/* issue order: replays go in this order */
	u64 dseed;		/* the input bytes: prandom from this seed */
	u32 op, seed;
	u32 want;		/* the checksum a good answer carries */
	u16 off, len;
};

/**
 * vlf_make_id() - the id of a request: its generation and slot index
 * @gen: the front-end's generation counter at issue (u32, wraps)
 * @idx: the slot index, or VLF_HOLD_IDX
 *
 * Return: gen << 16 | idx; bits 48..63 are 0.
 */
static inline u64 vlf_make_id(u32 gen, unsigned int idx)
{
	return ((u64)gen << 16) | (idx & 0xffff);
}

/**
 * vlf_issued_before() - could @id be an id issued at or before @last?
 * @last: the newest id issued for @id's index (0: none yet)
 * @id: an id from an answer
 *
 * Generations wrap: "before" is within half the u32 range.
 * Return: true for an id of @last's generation or an older one.
 */
static inline bool vlf_issued_before(u64 last, u64 id)
{
	if (!last || (id >> 48))
		return false;
	return (s32)((u32)(last >> 16) - (u32)(id >> 16)) >= 0;
}

/* What an answer is (vlf_judge()). */
enum vlf_verdict {
	VLF_COMPLETE,		/* completes slot id & 0xffff, once */
	VLF_HOLD_DONE,		/* answers the HOLD/RELEASE in flight */
	VLF_DUPLICATE,		/* an id issued before, not in flight */
	VLF_UNEXPECTED,		/* an id never issued */
};

/**
 * vlf_judge() - judge an answer's id against the requests in flight
 * @slots: the slots
 * @nslots: how many this connection has
 * @h_pending: a HOLD or RELEASE is in flight
 * @h_id: its id (the last one's, when none is)
 * @id: the answer's id, as read once from the ring
 *
 * Only an id in flight on the current ring completes anything: a kept
 * request (replay) is not in flight until re-issued under a new id.
 * Return: the verdict; the caller clears what it completes.
 */
static inline enum vlf_verdict vlf_judge(const struct vlf_slot *slots,
					 unsigned int nslots, bool h_pending,
					 u64 h_id, u64 id)
{
	unsigned int idx = id & 0xffff;
	u64 last = 0;

	if (idx == VLF_HOLD_IDX) {
		if (h_pending && id == h_id)
			return VLF_HOLD_DONE;
		last = h_id;
	} else if (idx < nslots) {
		if (slots[idx].busy && slots[idx].id == id)
			return VLF_COMPLETE;
		last = slots[idx].id;
	}
	return vlf_issued_before(last, id) ? VLF_DUPLICATE : VLF_UNEXPECTED;
}

/**
 * vlf_keep() - the ring went away: what was on it waits for a replay
 * @slots: the slots
 * @n: how many to look at
 *
 * Return: how many were kept (busy, now replay).
 */
static inline unsigned int vlf_keep(struct vlf_slot *slots, unsigned int n)
{
	unsigned int i, kept = 0;

	for (i = 0; i < n; i++) {
		if (!slots[i].busy)
			continue;
		slots[i].busy = false;
		slots[i].replay = true;
		kept++;
	}
	return kept;
}

/**
 * vlf_oldest_replay() - the kept request to re-issue first
 * @slots: the slots
 * @n: how many to look at
 *
 * Return: the index of the kept request issued first (lowest seq), or
 * -1 when none is kept.
 */
static inline int vlf_oldest_replay(const struct vlf_slot *slots,
				    unsigned int n)
{
	unsigned int i;
	int first = -1;

	for (i = 0; i < n; i++)
		if (slots[i].replay &&
		    (first < 0 || slots[i].seq < slots[first].seq))
			first = i;
	return first;
}

#endif /* VLOOPFRONT_LOGIC_H */
