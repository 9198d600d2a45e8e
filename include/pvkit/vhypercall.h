/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-kernel API exported by vhypercall.ko to the other pvkit modules.
 * Documentation/hypercall.rst describes it.
 */
#ifndef PVKIT_VHYPERCALL_H
#define PVKIT_VHYPERCALL_H

#include <linux/types.h>
#include "../../abi/vpv_abi.h"

/**
 * vpv_hypercall() - issue one synchronous hypercall
 * @nr: VPV_HC_* number
 * @args: VPV_HC_NR_ARGS arguments (GPAs where the call takes addresses)
 *
 * Process context only (may sleep).  Spins up to the module parameter
 * spin_us for the result, then sleeps until the completion interrupt.
 * Return: the host's result (>= 0) or a negative errno: the host's
 * -VPV_E* value, -EINVAL for a number outside the ABI, -ENODEV when no
 * host is bound.
 */
long vpv_hypercall(unsigned int nr, const u64 args[VPV_HC_NR_ARGS]);

static inline long vpv_hypercall2(unsigned int nr, u64 a0, u64 a1)
{
	const u64 args[VPV_HC_NR_ARGS] = { a0, a1 };

	return vpv_hypercall(nr, args);
}

static inline long vpv_hypercall4(unsigned int nr, u64 a0, u64 a1,
				  u64 a2, u64 a3)
{
	const u64 args[VPV_HC_NR_ARGS] = { a0, a1, a2, a3 };

	return vpv_hypercall(nr, args);
}

/**
 * vpv_multicall() - issue up to VPV_MULTICALL_MAX calls with one doorbell
 * @entries: physically contiguous array (kmalloc'ed); op/args filled in,
 *	     result written by the host
 * @count: number of entries, 1..vpv_multicall_max()
 * @flags: VPV_MC_* flags
 *
 * Return: number of entries executed, or a negative errno.
 */
long vpv_multicall(struct vpv_multicall_entry *entries, unsigned int count,
		   unsigned int flags);
unsigned int vpv_multicall_max(void);

/* Event channels.  Handlers run in hard interrupt context. */
typedef void (*vpv_evtchn_handler_t)(unsigned int port, void *data);

int vpv_evtchn_alloc(u32 remote, vpv_evtchn_handler_t handler, void *data);
void vpv_evtchn_close(unsigned int port);
void vpv_evtchn_notify(unsigned int port);
void vpv_evtchn_mask(unsigned int port);
void vpv_evtchn_unmask(unsigned int port);
long vpv_evtchn_op(u32 cmd, u64 a1, u64 a2);

/*
 * Multicall batching for callers that queue many small operations
 * (pvmmu lazy mode, balloon).  The entry array is kmalloc'ed, so it is
 * physically contiguous as VPV_HC_MULTICALL requires.  Process context.
 *
 * vpv_mc_batch_add() queues one entry; when that fills the batch it is
 * flushed at once.  vpv_mc_batch_flush() issues whatever is queued.
 * After each flush @done (if set) is called with the executed entries
 * still in place, so the caller can inspect every entry's result.
 * @err keeps the first error seen (a negative multicall return or a
 * negative entry result) until the caller clears it.
 */
struct vpv_mc_batch;

typedef long (*vpv_mc_flush_t)(struct vpv_multicall_entry *entries,
			       unsigned int count, unsigned int flags);
typedef void (*vpv_mc_done_t)(struct vpv_mc_batch *b, unsigned int count,
			      long ret);

struct vpv_mc_batch {
	struct vpv_multicall_entry *entries;
	unsigned int cap;		/* entries allocated, <= max */
	unsigned int count;		/* entries queued */
	unsigned int flags;		/* VPV_MC_* for every flush */
	vpv_mc_flush_t flush;		/* vpv_multicall, or a test hook */
	vpv_mc_done_t done;		/* optional, may be NULL */
	void *priv;			/* for @done */
	long err;			/* first error, 0 if none */
	u64 nr_flushes;
	u64 nr_entries;
};

int vpv_mc_batch_init(struct vpv_mc_batch *b, unsigned int cap,
		      unsigned int flags, gfp_t gfp);
void vpv_mc_batch_destroy(struct vpv_mc_batch *b);
int vpv_mc_batch_add(struct vpv_mc_batch *b, unsigned int op,
		     const u64 args[VPV_HC_NR_ARGS]);
long vpv_mc_batch_flush(struct vpv_mc_batch *b);

/**
 * vpv_raw_ping() - one raw doorbell round trip (no hypercall dispatch)
 * @irq: wait for the host's VPV_VEC_HCALL interrupt instead of spinning
 *
 * Process context.  Measures the transport limit beside hypercalls.
 * Return: 0, -ETIMEDOUT if the host did not answer within a second, or
 * -ENODEV when no host is bound.
 */
int vpv_raw_ping(bool irq);

/**
 * vpv_echo_ping() - one minimal echo round trip (VPV_F_ECHO)
 *
 * Process context.  The transport's own cost: a value and a doorbell on
 * VPV_VEC_ECHO, answered by a host thread that does nothing else.
 * Return: 0, -EOPNOTSUPP if the host does not offer it, -ETIMEDOUT if
 * it did not answer within a second, or -ENODEV.
 */
int vpv_echo_ping(void);

/*
 * Set the module parameter spin_us (how long a hypercall spins before
 * it sleeps for the completion interrupt); returns the old value.  For
 * benchmarks: 0 forces interrupt completion.
 */
unsigned int vpv_set_spin_us(unsigned int us);

/* Host features accepted in negotiation (VPV_F_*); 0 if not bound. */
u64 vpv_features(void);

/*
 * The shared region, for later subsystems that own a part of it
 * (offsets come from the header).  NULL if not bound.
 */
void *vpv_shared_base(size_t *size);

#endif /* PVKIT_VHYPERCALL_H */
