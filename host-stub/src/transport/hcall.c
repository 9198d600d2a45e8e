// SPDX-License-Identifier: GPL-2.0
/*
 * Hypercall dispatch: handler table, slot state machine, per-guest
 * hypercall thread and the core handlers (NOP, NEGOTIATE, MEMCHK).
 *
 * Everything in the shared region and in guest RAM is guest-writable
 * at any time: every field is loaded once into a local and validated
 * there.  Nothing here may abort on guest data.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"

struct hc_entry {
	const char *name;
	hc_fn_t fn;
};

static struct hc_entry hc_table[VPV_HC_MAX];

/* Called once at start-up (single-threaded) by each subsystem. */
void hc_register(unsigned int nr, const char *name, hc_fn_t fn)
{
	if (nr >= VPV_HC_MAX || hc_table[nr].fn) {
		fprintf(stderr, "vpv-host: bad hypercall registration %u\n",
			nr);
		return;
	}
	hc_table[nr].name = name;
	hc_table[nr].fn = fn;
}

const char *hc_name(unsigned int nr)
{
	static const char *const reserved[VPV_HC_MAX] = {
		[VPV_HC_MEMORY_OP] = "memory_op",
		[VPV_HC_MMU_UPDATE] = "mmu_update",
		[VPV_HC_MMUEXT_OP] = "mmuext_op",
		[VPV_HC_GRANT_TABLE_OP] = "grant_table_op",
		[VPV_HC_STORE_OP] = "store_op",
	};

	if (nr >= VPV_HC_MAX)
		return "other";
	if (hc_table[nr].name)
		return hc_table[nr].name;
	return reserved[nr];	/* may be NULL */
}

void hc_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	hc_core_register();
	multicall_register();
	subsys_setup();
}

long hc_dispatch(struct guest *g, uint32_t nr,
		 const uint64_t args[VPV_HC_NR_ARGS])
{
	long ret;

	if (nr >= VPV_HC_MAX) {
		STAT_INC(g, hcalls[VPV_HC_MAX]);
		ret = -VPV_ENOSYS;
	} else {
		STAT_INC(g, hcalls[nr]);
		ret = hc_table[nr].fn ? hc_table[nr].fn(g, args) :
					-VPV_ENOSYS;
	}
	if (ret < 0)
		STAT_INC(g, hcall_errors);
	return ret;
}

/* failed exchanges tolerated: WANT_IRQ added once, plus one spare */
#define HC_COMPLETE_RETRIES	2

/*
 * Complete slot @s with @ret if it still holds the call that was run:
 * the one read as state @st (WANT_IRQ may have been added since) with
 * sequence @seq.  From PENDING to DONE the slot is the host's, but a
 * guest driver reloaded while the call ran may have reset it and
 * published a new call there: DONE would then hand the new call the
 * old result, and it would never run.  Such a result is dropped; the
 * new call's doorbell (rung after it published, so after this scan
 * began) makes the thread scan again.  The seq check leaves a window
 * of a few instructions for a guest that rewrites a slot the host owns
 * (the pvkit driver does not, see Documentation/abi.rst).
 * Return: true if the slot was completed.
 */
static bool hc_complete(struct guest *g, struct vpv_hc_slot *s, uint32_t st,
			uint64_t seq, long ret)
{
	unsigned int tries = 0;
	uint32_t cur = st;

	/* ordered before the exchange by its release */
	if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != seq)
		goto stale;
	__atomic_store_n(&s->ret, (int64_t)ret, __ATOMIC_RELAXED);
	__atomic_store_n(&s->done_seq, seq, __ATOMIC_RELAXED);
	/*
	 * Release: ret and done_seq before DONE.  Atomic against the
	 * guest's cmpxchg adding WANT_IRQ: either we see the flag and ring,
	 * or its exchange fails because the call is DONE.  An honest guest
	 * changes the word at most once meanwhile (adding WANT_IRQ), so a
	 * guest flipping it for ever costs two retries, not a livelock.
	 */
	while (!__atomic_compare_exchange_n(&s->state, &cur, VPV_SLOT_DONE,
					    false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE)) {
		/* reset or rewritten, not just WANT_IRQ added */
		if ((cur | VPV_SLOT_WANT_IRQ) != (st | VPV_SLOT_WANT_IRQ) ||
		    ++tries > HC_COMPLETE_RETRIES)
			goto stale;
	}
	if (cur & VPV_SLOT_WANT_IRQ) {
		STAT_INC(g, completion_irqs);
		guest_ring(g, VPV_VEC_HCALL);
	}
	return true;
stale:
	STAT_INC(g, hcall_stale);
	return false;
}

/*
 * NEGOTIATE with VPV_NEGOTIATE_CANCEL_SLOTS from slot @self: complete
 * every other pending slot with -VPV_ECANCELED, unrun.  The thread runs
 * one call at a time, so none of them is running now.
 * Return: the number of slots cancelled.
 */
static unsigned int hc_cancel_slots(struct guest *g, unsigned int self)
{
	unsigned int i, n = 0;

	for (i = 0; i < g->nr_slots; i++) {
		struct vpv_hc_slot *s = &g->slots[i];
		uint64_t seq;
		uint32_t st;

		if (i == self)
			continue;
		/* acquire: seq as published with this PENDING */
		st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if ((st & VPV_SLOT_STATE_MASK) != VPV_SLOT_PENDING)
			continue;
		seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
		if (hc_complete(g, s, st, seq, -VPV_ECANCELED)) {
			STAT_INC(g, hcall_cancelled);
			n++;
		}
	}
	return n;
}

/*
 * Run every pending slot once.  Returns the number of slots completed.
 */
unsigned int hc_process_slots(struct guest *g)
{
	unsigned int i, done = 0;

	for (i = 0; i < g->nr_slots; i++) {
		struct vpv_hc_slot *s = &g->slots[i];
		uint64_t args[VPV_HC_NR_ARGS], seq;
		uint32_t st, nr;
		long ret;
		int a;

		st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		if ((st & VPV_SLOT_STATE_MASK) != VPV_SLOT_PENDING)
			continue;
		nr = __atomic_load_n(&s->nr, __ATOMIC_RELAXED);
		for (a = 0; a < VPV_HC_NR_ARGS; a++)
			args[a] = __atomic_load_n(&s->args[a],
						  __ATOMIC_RELAXED);
		seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

		ret = hc_dispatch(g, nr, args);
		/* before its DONE: calls published after it are the new session's */
		if (nr == VPV_HC_NEGOTIATE && ret >= 0 &&
		    (args[2] & VPV_NEGOTIATE_CANCEL_SLOTS))
			done += hc_cancel_slots(g, i);
		if (hc_complete(g, s, st, seq, ret))
			done++;
	}
	return done;
}

/* Raw transport probe, see struct vpv_shared_header. */
void hc_raw_ping(struct guest *g)
{
	uint32_t p = __atomic_load_n(&g->hdr->raw_ping, __ATOMIC_ACQUIRE);
	uint32_t pong = __atomic_load_n(&g->hdr->raw_pong, __ATOMIC_RELAXED);

	/* Answer each new ping once; other doorbells leave it alone. */
	if ((p & 0x7fffffffu) == pong)
		return;
	g->last_ping = p;
	STAT_INC(g, raw_pings);
	__atomic_store_n(&g->hdr->raw_pong, p & 0x7fffffffu,
			 __ATOMIC_RELEASE);
	if (p & 0x80000000u)
		guest_ring(g, VPV_VEC_HCALL);
}

/*
 * One doorbell on vector @vec.  Return: the slots it completed (the
 * thread polls after a doorbell that found work, see hc_thread.c).
 */
unsigned int hc_doorbell(struct guest *g, unsigned int vec)
{
	switch (vec) {
	case VPV_VEC_HCALL:
		STAT_INC(g, doorbells);
		hc_raw_ping(g);
		return hc_process_slots(g);
	case VPV_VEC_EVTCHN:
		evtchn_from_guest(g);
		break;
	case VPV_VEC_ECHO:
		hc_echo(g);
		break;
	}
	return 0;
}

/* ---- core handlers ---- */

static long hc_nop(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	(void)g;
	return (long)(args[0] & INT64_MAX);
}

static long hc_negotiate(struct guest *g,
			 const uint64_t args[VPV_HC_NR_ARGS])
{
	uint64_t version = args[0];

	if ((version >> 16) != VPV_ABI_MAJOR)
		return -VPV_EPROTO;
	if (args[2] & ~VPV_NEGOTIATE_FLAGS_ALL)
		return -VPV_EINVAL;
	g->features = args[1] & VPV_HOST_FEATURES & INT64_MAX;
	subsys_guest_reset(g);
	return (long)g->features;
}

struct memchk_args {
	const void *p;
	size_t len;
	uint32_t sum;
};

static void memchk_fn(void *arg)
{
	struct memchk_args *a = arg;

	a->sum = fnv1a32(a->p, a->len);
}

static long hc_memchk(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	uint64_t gpa = args[0], len = args[1];
	struct memchk_args a = { .len = len };
	int ret;

	if (!len)
		return -VPV_EINVAL;
	if (len > VPV_MEMCHK_MAX)
		return -VPV_E2BIG;
	a.p = gpa_ptr(g, gpa, len);
	if (!a.p)
		return -VPV_EFAULT;
	ret = gpa_guard_run(g, NULL, memchk_fn, &a);	/* guest RAM */
	return ret ? (long)ret : (long)a.sum;
}

void hc_core_register(void)
{
	hc_register(VPV_HC_NOP, "nop", hc_nop);
	hc_register(VPV_HC_NEGOTIATE, "negotiate", hc_negotiate);
	hc_register(VPV_HC_MEMCHK, "memchk", hc_memchk);
}
