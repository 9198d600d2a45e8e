// SPDX-License-Identifier: GPL-2.0
/* Event channels: ports, echo, masking, FIRE, guest->host path. */
#include <pthread.h>
#include <sched.h>

#include "testutil.h"

static struct guest g;

static long evop(uint64_t cmd, uint64_t a1, uint64_t a2)
{
	return call(&g, VPV_HC_EVTCHN_OP, cmd, a1, a2, 0);
}

static bool tg_pending(unsigned int p)
{
	return g.ev->to_guest.pending[p / 64] & (1ull << (p % 64));
}

static void guest_send(unsigned int p)
{
	__atomic_fetch_or(&g.ev->to_host.pending[p / 64], 1ull << (p % 64),
			  __ATOMIC_SEQ_CST);
	__atomic_fetch_or(&g.ev->to_host.sel, 1ull << (p / 64),
			  __ATOMIC_SEQ_CST);
}

static void clear_to_guest(void)
{
	memset(&g.ev->to_guest, 0, sizeof(g.ev->to_guest));
	ev_count(g.guest_ev[VPV_VEC_EVTCHN]);
}

static void test_alloc(void)
{
	unsigned int p;
	bool seq = true;

	is(evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0), 1, "first port is 1");
	is(evop(VPV_EVTCHNOP_STATUS, 1, 0), VPV_EVTCHN_STAT_UNBOUND,
	   "new port UNBOUND");
	is(evop(VPV_EVTCHNOP_ALLOC, 0, 0), -VPV_EINVAL,
	   "ALLOC remote 0 -> EINVAL");
	is(evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST | (1ull << 32), 0),
	   -VPV_EINVAL, "ALLOC remote with high bits -> EINVAL");
	for (p = 2; p < VPV_EVTCHN_MAX_PORTS; p++)
		seq &= evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0) == p;
	ok(seq, "ports 2..4095 allocated in order");
	is(evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0), -VPV_ENOSPC,
	   "exhausted -> ENOSPC");
	is(evtchn_nr_open(&g), 4095, "4095 ports open");
	is(evop(VPV_EVTCHNOP_CLOSE, 100, 0), 0, "close port 100");
	is(evop(VPV_EVTCHNOP_CLOSE, 100, 0), -VPV_ENOENT,
	   "close again -> ENOENT");
	is(evop(VPV_EVTCHNOP_STATUS, 100, 0), VPV_EVTCHN_STAT_CLOSED,
	   "closed port status CLOSED");
	is(evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0), 100,
	   "freed port reused");
	is(evop(VPV_EVTCHNOP_CLOSE, 0, 0), -VPV_EINVAL, "close port 0");
	is(evop(VPV_EVTCHNOP_CLOSE, 4096, 0), -VPV_EINVAL, "close port 4096");
	is(evop(VPV_EVTCHNOP_STATUS, UINT64_MAX, 0), -VPV_EINVAL,
	   "status port ~0");
	is(evop(VPV_EVTCHNOP_SEND, 1ull << 32 | 1, 0), -VPV_EINVAL,
	   "send port 2^32+1 (no truncation)");
	is(evop(6, 1, 0), -VPV_ENOSYS, "unknown sub-command -> ENOSYS");
	is(evop(UINT64_MAX, 1, 0), -VPV_ENOSYS, "cmd ~0 -> ENOSYS");
	is(call(&g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, 0, 0, 0), 0,
	   "NEGOTIATE");
	is(evtchn_nr_open(&g), 0, "NEGOTIATE closed every port");
	is(evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0), 1,
	   "after reset first port is 1 again");
}

static void test_echo(void)
{
	int irq = g.guest_ev[VPV_VEC_EVTCHN];
	long p = evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0);
	uint64_t unb;

	clear_to_guest();
	is(evop(VPV_EVTCHNOP_BIND_ECHO, 99, 0), -VPV_ENOENT,
	   "BIND_ECHO closed port -> ENOENT");
	is(evop(VPV_EVTCHNOP_BIND_ECHO, p, 0), 0, "BIND_ECHO");
	is(evop(VPV_EVTCHNOP_STATUS, p, 0), VPV_EVTCHN_STAT_ECHO,
	   "status ECHO");
	is(evop(VPV_EVTCHNOP_BIND_ECHO, p, 0), -VPV_EEXIST,
	   "BIND_ECHO twice -> EEXIST");

	guest_send(p);
	evtchn_from_guest(&g);
	ok(tg_pending(p), "echo: to_guest pending set");
	is(g.ev->to_guest.sel, 1ull << (p / 64), "echo: sel bit set");
	is(g.ev->to_host.sel, 0, "to_host.sel consumed");
	is(g.ev->to_host.pending[0], 0, "to_host.pending consumed");
	is(ev_count(irq), 1, "echo rang VPV_VEC_EVTCHN");

	guest_send(p);
	evtchn_from_guest(&g);
	is(ev_count(irq), 0, "still pending: coalesced, no ring");

	/* guest consumed sel but not pending word: no new ring needed */
	clear_to_guest();
	g.ev->to_guest.sel = 1ull << 5;	/* other word already selected */
	guest_send(p);
	evtchn_from_guest(&g);
	is(ev_count(irq), 0, "sel already nonzero: no ring");
	is(g.ev->to_guest.sel, (1ull << 5) | 1, "but sel bit added");

	/* via hypercall SEND */
	clear_to_guest();
	is(evop(VPV_EVTCHNOP_SEND, p, 0), 0, "SEND hypercall");
	ok(tg_pending(p) && ev_count(irq) == 1, "SEND echoed + rang");

	/* masked port: pending only */
	clear_to_guest();
	g.ev->guest_mask[p / 64] |= 1ull << (p % 64);
	guest_send(p);
	evtchn_from_guest(&g);
	ok(tg_pending(p), "masked: pending set");
	is(g.ev->to_guest.sel, 0, "masked: sel not set");
	is(ev_count(irq), 0, "masked: no ring");
	g.ev->guest_mask[p / 64] = 0;

	/* unbound + invalid */
	unb = g.stats.ev_unbound;
	clear_to_guest();
	guest_send(p + 1);	/* allocated below, unbound */
	is(evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0), p + 1,
	   "alloc clears stale to_host pending");
	guest_send(p + 1);
	evtchn_from_guest(&g);
	is(g.stats.ev_unbound - unb, 1, "unbound port counted");
	ok(!tg_pending(p + 1), "unbound port not echoed");
	is(evop(VPV_EVTCHNOP_SEND, p + 1, 0), 0, "SEND to unbound ok");
	is(evop(VPV_EVTCHNOP_SEND, 3000, 0), -VPV_ENOENT,
	   "SEND to closed -> ENOENT");
}

static void test_dropped(void)
{
	uint64_t d = g.stats.ev_dropped;
	unsigned int w;

	clear_to_guest();
	guest_send(0);			/* port 0 */
	guest_send(4095);		/* closed */
	evtchn_from_guest(&g);
	is(g.stats.ev_dropped - d, 2, "port 0 and closed port dropped");
	for (w = 0; w < VPV_EVTCHN_WORDS; w++)
		g.ev->to_host.pending[w] = ~0ull;
	g.ev->to_host.sel = ~0ull;
	evtchn_from_guest(&g);
	ok(g.stats.ev_dropped - d > 4000, "all-ones storm survived");
	is(g.ev->to_host.sel, 0, "storm consumed");
	g.ev->to_host.pending[3] = ~0ull;	/* pending without sel */
	evtchn_from_guest(&g);
	is(g.ev->to_host.pending[3], ~0ull, "word without sel bit left");
	g.ev->to_host.pending[3] = 0;
}

static void test_fire(void)
{
	int irq = g.guest_ev[VPV_VEC_EVTCHN];
	long p = evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0);

	clear_to_guest();
	is(evop(VPV_EVTCHNOP_FIRE, p, 0), -VPV_EINVAL, "FIRE count 0");
	is(evop(VPV_EVTCHNOP_FIRE, p, 65537), -VPV_EINVAL,
	   "FIRE count 65537");
	is(evop(VPV_EVTCHNOP_FIRE, 4000, 1), -VPV_ENOENT,
	   "FIRE closed port");
	is(evop(VPV_EVTCHNOP_FIRE, p, 3), 1, "FIRE 3 -> 1 delivered");
	is(ev_count(irq), 1, "FIRE rang once");
	g.ev->to_guest.pending[p / 64] = 0;
	is(evop(VPV_EVTCHNOP_FIRE, p, 65536), 1, "FIRE 65536 -> 1");
	is(evop(VPV_EVTCHNOP_CLOSE, p, 0), 0, "close fired port");
	ok(!tg_pending(p), "close clears pending");
}

#define RACE_ROUNDS	10000

/*
 * The main thread binding a back-end (evtchn_bind_backend) races the
 * guest's BIND_ECHO on the same UNBOUND port: exactly one may win.  A
 * check-then-store BIND_ECHO let both succeed, the back-end's binding
 * silently overwritten.
 */
struct race {
	unsigned int port;
	int round;		/* posted by the hypercall side */
	int done;		/* rounds the binder finished */
	int bound;		/* the binder's result this round */
};

/* Wait for *v >= i: spin a while (both sides hot), then yield. */
static void wait_for(int *v, int i)
{
	unsigned int n = 0;

	while (__atomic_load_n(v, __ATOMIC_ACQUIRE) < i)
		if (++n > 20000)
			sched_yield();
}

/* A few hundred cycles, varying, so the two sides overlap at random. */
static void jitter(unsigned int *seed)
{
	unsigned int n;

	*seed = *seed * 1103515245u + 12345u;
	for (n = (*seed >> 16) % 64; n; n--)
		__asm__ volatile("pause");
}

static void *binder(void *arg)
{
	struct race *r = arg;
	unsigned int seed = 1;
	int i;

	for (i = 1; i <= RACE_ROUNDS; i++) {
		wait_for(&r->round, i);
		jitter(&seed);
		r->bound = !evtchn_bind_backend(&g, r->port);
		__atomic_store_n(&r->done, i, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_bind_race(void)
{
	struct race r = { 0 };
	unsigned int seed = 7;
	pthread_t thr;
	int i, both = 0, none = 0, echo_wins = 0;
	long echo;

	r.port = evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0);
	if (pthread_create(&thr, NULL, binder, &r))
		BAIL("pthread_create");
	for (i = 1; i <= RACE_ROUNDS; i++) {
		__atomic_store_n(&r.round, i, __ATOMIC_RELEASE);
		jitter(&seed);
		echo = evop(VPV_EVTCHNOP_BIND_ECHO, r.port, 0);
		wait_for(&r.done, i);
		both += !echo && r.bound;
		none += echo && !r.bound;
		echo_wins += !echo;
		evop(VPV_EVTCHNOP_CLOSE, r.port, 0);
		evop(VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0);
	}
	pthread_join(thr, NULL);
	printf("# BIND_ECHO won %d of %d rounds\n", echo_wins, RACE_ROUNDS);
	is(both, 0, "BIND_ECHO and a back-end bind never both win a port");
	is(none, 0, "... and one of them always does");
	evop(VPV_EVTCHNOP_CLOSE, r.port, 0);
}

int main(void)
{
	test_dir_make();
	test_guest(&g, 64ull << 20, 1);
	test_alloc();
	test_echo();
	test_dropped();
	test_fire();
	test_bind_race();
	guest_destroy(&g);
	test_dir_remove();
	return tap_done();
}
