/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pure guest-side logic of vhypercall.ko: no device access, so both the
 * driver and the KUnit suite (vhypercall_kunit.c) use it as is.
 */
#ifndef VHYPERCALL_LOGIC_H
#define VHYPERCALL_LOGIC_H

#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/types.h>
#include <asm/sync_bitops.h>
#include <pvkit/vhypercall.h>

/* Hypercall numbers the guest may send at all (the host decides on 5..15) */
static inline bool vpv_hc_nr_valid(unsigned int nr)
{
	return nr < VPV_HC_MAX;
}

/*
 * Doorbell suppression (VPV_F_HC_POLL): must a call just published ring
 * VPV_VEC_HCALL?  Yes, unless the feature was negotiated and the host
 * says it is polling.  Only bit 0 counts: other bits of the word
 * (reserved, or a confused host) never suppress a doorbell.  The caller
 * reads @hc_poll after a full barrier that follows its PENDING store.
 */
static inline bool vpv_hc_need_ring(u64 features, u32 hc_poll)
{
	return !(features & VPV_F_HC_POLL) || !(hc_poll & VPV_HC_POLL_ACTIVE);
}

/*
 * The doorbell vector for a guest->host event on @port (VPV_F_DEV_DOORBELL):
 * the device doorbell whose entry of @doorbell_port (the host's
 * to_host.doorbell_port) names the port, else VPV_VEC_EVTCHN.  Port 0 is
 * never valid and never matches (0 is an empty entry).  The entries are
 * the host's and may change under us: each is read once.
 */
static inline unsigned int vpv_port_doorbell(u64 features,
					     const u32 *doorbell_port,
					     unsigned int port)
{
	unsigned int i;

	if (!(features & VPV_F_DEV_DOORBELL) || !port)
		return VPV_VEC_EVTCHN;
	for (i = 0; i < VPV_NR_DEV_DOORBELLS; i++)
		if (READ_ONCE(doorbell_port[i]) == port)
			return VPV_VEC_DEV0 + i;
	return VPV_VEC_EVTCHN;
}

/*
 * Per-CPU vectors (ABI 1.5): how many to take for @nr_cpus possible CPUs
 * (one each, CPUs 0 .. VPV_NR_CPU_VECTORS - 1), given that the device
 * has @msix MSI-X entries (vectors VPV_VEC_CPU0 and up must exist).
 */
static inline unsigned int vpv_cpu_vectors_wanted(unsigned int nr_cpus,
						  unsigned int msix)
{
	unsigned int n = min_t(unsigned int, nr_cpus, VPV_NR_CPU_VECTORS);

	if (msix <= VPV_VEC_CPU0)
		return 0;
	return min(n, msix - VPV_VEC_CPU0);
}

/*
 * The vector the host should ring for work submitted on @cpu: VPV_VEC_CPU0
 * + cpu when VPV_F_CPU_VECTORS was negotiated and the guest set up that
 * CPU's vector (@nr of them, CPUs 0 .. nr - 1), else -ENOENT.
 */
static inline int vpv_cpu_vector(u64 features, unsigned int nr,
				 unsigned int cpu)
{
	if (!(features & VPV_F_CPU_VECTORS) || cpu >= nr ||
	    cpu >= VPV_NR_CPU_VECTORS)
		return -ENOENT;
	return VPV_VEC_CPU0 + cpu;
}

/* Multicall argument check done before anything reaches the host. */
static inline int vpv_mc_check(unsigned int count, unsigned int flags,
			       unsigned int max)
{
	if (flags & ~VPV_MC_FLAGS_ALL)
		return -EINVAL;
	if (!count)
		return -EINVAL;
	if (count > max)
		return -E2BIG;
	return 0;
}

/* May @op be queued as a multicall entry? */
static inline bool vpv_mc_op_valid(unsigned int op)
{
	return vpv_hc_nr_valid(op) && op != VPV_HC_MULTICALL;
}

/* Is @port a usable port of a table with @nr_ports entries? */
static inline bool vpv_port_valid(unsigned int port, unsigned int nr_ports)
{
	return port >= 1 && port < nr_ports && port < VPV_EVTCHN_MAX_PORTS;
}

/* The number of ports the header offers, clamped to the ABI maximum. */
static inline unsigned int vpv_nr_ports_clamp(u32 nr_ports)
{
	return min_t(u32, nr_ports, VPV_EVTCHN_MAX_PORTS);
}

/*
 * Atomically take (clear and return) the bits of *@pending that are not
 * set in *@mask.  Masked bits stay pending for a later unmask.
 */
static inline u64 vpv_evtchn_take(u64 *pending, const u64 *mask)
{
	u64 old = READ_ONCE(*pending);
	u64 bits, prev;

	for (;;) {
		bits = old & ~READ_ONCE(*mask);
		if (!bits)
			return 0;
		prev = sync_cmpxchg(pending, old, old & ~bits);
		if (prev == old)
			return bits;
		old = prev;
	}
}

typedef void (*vpv_port_fn_t)(void *ctx, unsigned int port);

/*
 * One 2-level scan: take the selector, then for each selected word take
 * its unmasked pending bits and call @fn for every valid port.  Selector
 * bits and ports beyond @nr_ports (host garbage) are dropped.
 * Return: the number of ports passed to @fn.
 */
static inline unsigned int vpv_evtchn_scan(u64 *sel, u64 *pending,
					   const u64 *mask,
					   unsigned int nr_ports,
					   vpv_port_fn_t fn, void *ctx)
{
	unsigned int nr_words, n = 0;
	u64 sel_bits, bits;

	nr_ports = vpv_nr_ports_clamp(nr_ports);
	nr_words = DIV_ROUND_UP(nr_ports, 64);
	sel_bits = xchg(sel, 0);
	while (sel_bits) {
		unsigned int w = __ffs64(sel_bits);

		sel_bits &= sel_bits - 1;
		if (w >= nr_words)
			continue;
		bits = vpv_evtchn_take(&pending[w], &mask[w]);
		while (bits) {
			unsigned int port = w * 64 + __ffs64(bits);

			bits &= bits - 1;
			if (!vpv_port_valid(port, nr_ports))
				continue;
			fn(ctx, port);
			n++;
		}
	}
	return n;
}

/* ---- hypercall slots ---- */

/*
 * A slot as a newly loaded driver finds it: is a previous instance's
 * call still PENDING there (it timed out, and the host may be running
 * it or may run it yet)?  Such a slot starts retired: writing IDLE over
 * it would let the host's late DONE land on a new call, which then
 * fails and never runs.  Any other state (IDLE, DONE, garbage the host
 * ignores) the driver may reset.
 */
static inline bool vpv_slot_host_owned(u32 state)
{
	return (state & VPV_SLOT_STATE_MASK) == VPV_SLOT_PENDING;
}

enum vpv_slot_use {
	VPV_SLOT_USE,		/* take it */
	VPV_SLOT_RECLAIM,	/* retired, the host is done: IDLE, then take */
	VPV_SLOT_SKIP,		/* retired, still the host's */
};

/* What a call may do with a slot, from its retired flag and state. */
static inline enum vpv_slot_use vpv_slot_use(bool retired, u32 state)
{
	if (!retired)
		return VPV_SLOT_USE;
	if ((state & VPV_SLOT_STATE_MASK) == VPV_SLOT_DONE)
		return VPV_SLOT_RECLAIM;
	return VPV_SLOT_SKIP;
}

/* ---- multicall batch ---- */

static inline void __vpv_mc_batch_setup(struct vpv_mc_batch *b,
					struct vpv_multicall_entry *entries,
					unsigned int cap, unsigned int flags,
					vpv_mc_flush_t flush)
{
	memset(b, 0, sizeof(*b));
	b->entries = entries;
	b->cap = cap;
	b->flags = flags;
	b->flush = flush;
}

static inline long __vpv_mc_batch_flush(struct vpv_mc_batch *b)
{
	unsigned int i, count = b->count;
	long ret;

	if (!count)
		return 0;
	ret = b->flush(b->entries, count, b->flags);
	if (ret < 0) {
		if (!b->err)
			b->err = ret;
	} else {
		if (ret > count)
			ret = count;
		for (i = 0; i < count && !b->err; i++)
			if (b->entries[i].result < 0)
				b->err = b->entries[i].result;
	}
	b->nr_flushes++;
	b->nr_entries += count;
	if (b->done)
		b->done(b, count, ret);
	b->count = 0;
	return ret;
}

static inline int __vpv_mc_batch_add(struct vpv_mc_batch *b, unsigned int op,
				     const u64 args[VPV_HC_NR_ARGS])
{
	struct vpv_multicall_entry *e;
	long ret;

	if (!vpv_mc_op_valid(op))
		return -EINVAL;
	if (WARN_ON_ONCE(b->count >= b->cap))
		return -ENOSPC;
	e = &b->entries[b->count++];
	e->op = op;
	e->flags = 0;
	memcpy(e->args, args, sizeof(e->args));
	e->result = 0;
	if (b->count < b->cap)
		return 0;
	ret = __vpv_mc_batch_flush(b);
	return ret < 0 ? ret : 0;
}

/* 32-bit FNV-1a, the hash VPV_HC_MEMCHK computes */
static inline u32 vpv_fnv1a32(const void *buf, size_t len)
{
	const u8 *p = buf;
	u32 h = 0x811c9dc5u;

	while (len--) {
		h ^= *p++;
		h *= 0x01000193u;
	}
	return h;
}

#endif /* VHYPERCALL_LOGIC_H */
