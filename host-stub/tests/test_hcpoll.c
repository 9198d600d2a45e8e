// SPDX-License-Identifier: GPL-2.0
/*
 * Slot polling with doorbell suppression (VPV_F_HC_POLL), the minimal
 * echo (VPV_VEC_ECHO) and the threads' CPU placement (hc_thread.c).
 */
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A NOP published in slot @idx as the guest driver does, without a ring. */
static void post_nop(struct guest *g, unsigned int idx, uint64_t i)
{
	struct vpv_hc_slot *s = &g->slots[idx];

	__atomic_store_n(&s->nr, VPV_HC_NOP, __ATOMIC_RELAXED);
	__atomic_store_n(&s->args[0], i, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, i, __ATOMIC_RELAXED);
	/* release: nr, args and seq before the host can see PENDING */
	__atomic_store_n(&s->state, VPV_SLOT_PENDING, __ATOMIC_RELEASE);
}

static void ring(struct guest *g, unsigned int vec)
{
	uint64_t one = 1;

	if (write(g->host_ev[vec], &one, sizeof(one)) != sizeof(one))
		BAIL("eventfd write: %s", strerror(errno));
}

/*
 * The guest's side of the protocol (hypercall/hcall.c): after PENDING,
 * a full barrier, then ring only if the host does not poll.
 * Return: true if it rang.
 */
static bool kick(struct guest *g)
{
	/* full barrier: PENDING before the hc_poll load (pairs with the host's) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g->hdr->hc_poll, __ATOMIC_RELAXED) &
	    VPV_HC_POLL_ACTIVE)
		return false;
	ring(g, VPV_VEC_HCALL);
	return true;
}

/* Spin until slot @idx is DONE with @i, at most @ms; then IDLE it. */
static bool wait_done(struct guest *g, unsigned int idx, uint64_t i, int ms)
{
	struct vpv_hc_slot *s = &g->slots[idx];
	uint64_t end = now_ns() + (uint64_t)ms * 1000000u;

	/* acquire: pairs with the host's exchange to DONE */
	while (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != VPV_SLOT_DONE)
		if (now_ns() > end)
			return false;
	if (s->ret != (int64_t)i || s->done_seq != i)
		return false;
	/* release: ret and done_seq read before the slot is reused */
	__atomic_store_n(&s->state, VPV_SLOT_IDLE, __ATOMIC_RELEASE);
	return true;
}

static void poll_guest(struct guest *g, uint64_t window_ns)
{
	test_guest(g, 64ull << 20, 1);
	g->features = VPV_F_HC_POLL;	/* as NEGOTIATE leaves it */
	g->poll_max_ns = window_ns;
	g->poll_cur_ns = window_ns;
}

/* One episode, no thread: what it serves, the flag after it, the window. */
static void test_episode(void)
{
	struct guest g;
	unsigned int r, i;

	poll_guest(&g, 50000);
	post_nop(&g, 0, 7);
	post_nop(&g, 1, 8);
	r = hc_poll_once(&g, -1);
	is(r, 2, "episode: both pending slots served");
	ok(wait_done(&g, 0, 7, 10) && wait_done(&g, 1, 8, 10),
	   "episode: results right");
	is(g.hdr->hc_poll, 0, "episode: flag clear after it");
	is(g.poll_cur_ns, 50000, "episode with hits: full window next");
	is(g.stats.hc_polls, 1, "episode counted");
	is(g.stats.hc_poll_hits, 2, "hits counted");
	ok(g.stats.hc_poll_ns >= 50000, "episode lasted a window (%llu ns)",
	   (unsigned long long)g.stats.hc_poll_ns);

	r = hc_poll_once(&g, -1);
	is(r, 0, "idle episode: nothing served");
	is(g.poll_cur_ns, 25000, "idle episode: window halved");
	hc_poll_once(&g, -1);
	hc_poll_once(&g, -1);
	is(g.poll_cur_ns, 50000 / 8, "window down to an eighth");
	hc_poll_once(&g, -1);
	is(g.poll_cur_ns, 0, "below an eighth: polling off");
	is(g.stats.hc_polls, 5, "five episodes");
	for (i = 1; i < 64; i++)
		hc_poll_once(&g, -1);
	is(g.stats.hc_polls, 5, "off: 63 requests without an episode");
	post_nop(&g, 0, 11);
	is(hc_poll_once(&g, -1), 1, "the 64th request probes, finds work");
	is(g.stats.hc_polls, 6, "probe counted");
	ok(wait_done(&g, 0, 11, 10), "probe: result right");
	is(g.poll_cur_ns, 50000, "probe with hits: full window again");

	g.features = 0;
	g.hdr->hc_poll = 0;
	is(hc_poll_once(&g, -1), 0, "not negotiated: no polling");
	is(g.stats.hc_polls, 6, "not negotiated: no episode");
	g.features = VPV_F_HC_POLL;
	hc_set_poll_us(&g, 0);
	is(hc_poll_once(&g, -1), 0, "window 0: no polling");
	hc_set_poll_us(&g, 5000);
	is(g.poll_max_ns, HC_POLL_US_MAX * 1000ull, "window clamped");
	guest_destroy(&g);
}

/*
 * A request posted just as the host stops polling: the guest saw the
 * flag set and skipped its doorbell, and the host's loop had already
 * scanned.  The host's stop (clear, barrier, scan again) must serve it;
 * without the second scan it would wait for ever (checked: this test
 * fails when hc_poll_stop() does not scan).
 */
static void test_stop(void)
{
	struct guest g;

	poll_guest(&g, 50000);
	g.hdr->hc_poll = VPV_HC_POLL_ACTIVE;	/* mid-episode */
	post_nop(&g, 0, 9);
	ok(!kick(&g), "stop: guest skips the doorbell while the host polls");
	is(hc_poll_stop(&g), 1, "stop: the last scan serves it");
	ok(wait_done(&g, 0, 9, 10), "stop: result right");
	is(g.hdr->hc_poll, VPV_HC_POLL_ACTIVE,
	   "stop: found work, so the flag is set again (polls on)");
	is(hc_poll_stop(&g), 0, "stop: nothing left");
	is(g.hdr->hc_poll, 0, "stop: flag clear");
	post_nop(&g, 1, 10);
	ok(kick(&g), "stop: after it the guest rings");
	guest_destroy(&g);
}

/*
 * No lost wake-up under a real race.  The thread polls with a window of
 * 20 us (long enough for a loaded test machine), reset before each
 * call; the guest posts NOPs after gaps mostly around the window's end
 * and follows the protocol (skip the doorbell while the flag is set).
 * A request the host's last scan missed while the guest skipped its
 * doorbell would never be served: each gets RACE_WAIT_MS.  (The window
 * of that race is a few instructions wide: a version without the
 * re-scan survived this test; test_stop() is the one that catches it.)
 */
#define RACE_CALLS	10000
#define RACE_WAIT_MS	2000
/*
 * Each path must be taken this often for the run to mean something.
 * On a loaded machine the host thread is often not running when a
 * call is posted, so few doorbells are skipped (4 to 14 in 10 000
 * calls at load average 14): the run then goes on, up to
 * RACE_CALLS_MAX calls, until both paths have been taken enough.
 */
#define RACE_PATH_MIN	50
#define RACE_CALLS_MAX	(8 * RACE_CALLS)

static void gap(struct guest *g, unsigned int i)
{
	/*
	 * One call in four as soon as the host polls (waiting up to
	 * 300 us: the thread may wait for a CPU, or its episode may have
	 * ended), the others around the window's end, where the host
	 * stops.
	 */
	uint64_t end = now_ns() + (i % 4 ? 10000u + (i * 2654435761u) % 30000u :
				   300000u);

	while (now_ns() < end)
		if (!(i % 4) && __atomic_load_n(&g->hdr->hc_poll,
						__ATOMIC_RELAXED))
			break;
}

static void test_race(void)
{
	unsigned int i, rung = 0, skipped = 0;
	bool lost = false;
	struct guest g;

	poll_guest(&g, 20000);
	ok(hc_thread_start(&g) == 0, "race: thread starts");
	for (i = 1; i <= RACE_CALLS_MAX; i++) {
		if (i > RACE_CALLS && rung > RACE_PATH_MIN &&
		    skipped > RACE_PATH_MIN)
			break;
		/* the full window on every call: no adaptive switch-off */
		hc_set_poll_us(&g, 20);
		post_nop(&g, 0, i);
		if (kick(&g))
			rung++;
		else
			skipped++;
		if (!wait_done(&g, 0, i, RACE_WAIT_MS)) {
			lost = true;
			break;
		}
		gap(&g, i);
	}
	printf("# race: %u calls served\n", i - 1 - lost);
	ok(!lost && i > RACE_CALLS, "race: every call served, none lost");
	printf("# race: %u doorbells rung, %u skipped, %llu episodes, %llu hits\n",
	       rung, skipped, (unsigned long long)g.stats.hc_polls,
	       (unsigned long long)g.stats.hc_poll_hits);
	ok(rung > RACE_PATH_MIN && skipped > RACE_PATH_MIN,
	   "race: both paths taken (rung %u, skipped %u)", rung, skipped);
	hc_thread_stop(&g);
	is(g.hdr->hc_poll, 0, "race: flag clear once the thread stopped");
	guest_destroy(&g);
}

/*
 * A guest that paces its calls further apart than the window gets a
 * bounded poll: at most one window per call (shrinking), and its
 * thread sleeps in between.
 */
#define BOUND_CALLS	20
#define BOUND_GAP_US	5000
#define BOUND_WIN_NS	200000ull

static void test_bounded(void)
{
	uint64_t cpu0, cpu, poll;
	struct guest g;
	unsigned int i;

	poll_guest(&g, BOUND_WIN_NS);
	ok(hc_thread_start(&g) == 0, "bounded: thread starts");
	usleep(1000);
	cpu0 = hc_thread_cpu_ns(&g, false);
	for (i = 1; i <= BOUND_CALLS; i++) {
		post_nop(&g, 0, i);
		kick(&g);
		if (!wait_done(&g, 0, i, RACE_WAIT_MS))
			break;
		usleep(BOUND_GAP_US);
	}
	is(i, BOUND_CALLS + 1, "bounded: every call served");
	cpu = hc_thread_cpu_ns(&g, false) - cpu0;
	poll = g.stats.hc_poll_ns;
	printf("# bounded: %u calls, %llu ns polled, %llu ns thread CPU, window now %llu ns\n",
	       BOUND_CALLS, (unsigned long long)poll,
	       (unsigned long long)cpu, (unsigned long long)g.poll_cur_ns);
	/* 1.5: the clock is read after the last scan, plus scheduling */
	ok(poll <= BOUND_CALLS * BOUND_WIN_NS * 3 / 2,
	   "bounded: polled at most a window per call");
	/* 200, 100, 50, 25 us, then off: one probe per 64 calls */
	ok(g.stats.hc_polls <= 5 && g.poll_cur_ns == 0,
	   "bounded: idle episodes shrink the window, then stop polling (%llu)",
	   (unsigned long long)g.stats.hc_polls);
	ok(cpu < (uint64_t)BOUND_CALLS * BOUND_GAP_US * 1000 / 4,
	   "bounded: the thread slept between calls");
	hc_thread_stop(&g);
	guest_destroy(&g);
}

/*
 * A hostile guest sets hc_poll itself while the host does not poll, or
 * ignores it: the host never reads the word, so only its own requests
 * wait for a doorbell, and another guest is served meanwhile.
 */
static void test_hostile(void)
{
	struct guest bad, good;
	unsigned int i;

	poll_guest(&bad, 0);		/* negotiated, host not polling */
	poll_guest(&good, 0);
	ok(hc_thread_start(&bad) == 0 && hc_thread_start(&good) == 0,
	   "hostile: threads start");
	bad.hdr->hc_poll = ~0u;
	post_nop(&bad, 0, 1);
	ok(!kick(&bad), "hostile: flag forged, no doorbell");
	for (i = 1; i <= 100; i++) {
		post_nop(&good, 0, i);
		kick(&good);
		if (!wait_done(&good, 0, i, RACE_WAIT_MS))
			break;
	}
	is(i, 101, "hostile: the other guest is served");
	usleep(20000);
	is(__atomic_load_n(&bad.slots[0].state, __ATOMIC_ACQUIRE),
	   VPV_SLOT_PENDING, "hostile: its own call waits for a doorbell");
	is(bad.hdr->hc_poll, ~0u, "hostile: the host never touched the word");
	ring(&bad, VPV_VEC_HCALL);
	ok(wait_done(&bad, 0, 1, RACE_WAIT_MS), "hostile: served once rung");

	/* polling on, a guest that rings every time anyway */
	__atomic_store_n(&bad.poll_max_ns, 50000, __ATOMIC_RELAXED);
	for (i = 2; i <= 2000; i++) {
		post_nop(&bad, 0, i);
		ring(&bad, VPV_VEC_HCALL);
		if (!wait_done(&bad, 0, i, RACE_WAIT_MS))
			break;
	}
	is(i, 2001, "hostile: ringing while the host polls is served");
	hc_thread_stop(&bad);
	hc_thread_stop(&good);
	guest_destroy(&bad);
	guest_destroy(&good);
}

static void test_echo(void)
{
	struct guest g;
	uint64_t end;

	test_guest(&g, 64ull << 20, 1);
	g.hdr->echo_ping = 41;
	hc_doorbell(&g, VPV_VEC_ECHO);
	is(g.hdr->echo_pong, 41, "echo: doorbell copies ping to pong");
	is(g.stats.echoes, 1, "echo counted");
	ok(hc_thread_start(&g) == 0, "echo: threads start");
	ok(g.echo_running, "echo: its own thread");
	g.hdr->echo_ping = 42;
	ring(&g, VPV_VEC_ECHO);
	end = now_ns() + 2000000000ull;
	while (__atomic_load_n(&g.hdr->echo_pong, __ATOMIC_ACQUIRE) != 42 &&
	       now_ns() < end)
		;
	is(g.hdr->echo_pong, 42, "echo: the echo thread answers");
	is(g.stats.doorbells, 0, "echo: not a hypercall doorbell");
	is(g.hdr->raw_pong, 0, "echo: raw probe untouched");
	ok(g.echo_last_cpu >= 0, "echo: its CPU noted");
	hc_thread_stop(&g);
	ok(!g.echo_running && !g.thread_running, "echo: both threads stop");
	guest_destroy(&g);
}

static bool thread_on(pthread_t t, int cpu)
{
	cpu_set_t set;

	if (pthread_getaffinity_np(t, sizeof(set), &set))
		return false;
	return cpu < 0 ? CPU_COUNT(&set) > 1 || sysconf(_SC_NPROCESSORS_ONLN) == 1
		       : CPU_COUNT(&set) == 1 && CPU_ISSET(cpu, &set);
}

static void test_affinity(void)
{
	struct guest g;
	struct sbuf sb;

	test_guest(&g, 64ull << 20, 1);
	is(g.hc_cpu, -1, "affinity: none by default");
	ok(hc_thread_start(&g) == 0, "affinity: threads start");
	is(hc_set_cpu(&g, 0), 0, "affinity: pin to CPU 0");
	ok(thread_on(g.thread, 0) && thread_on(g.echo_thread, 0),
	   "affinity: both threads on CPU 0");
	is(hc_set_cpu(&g, CPU_SETSIZE), -EINVAL, "affinity: no such CPU");
	is(hc_set_cpu(&g, CPU_SETSIZE - 1), -EINVAL,
	   "affinity: an offline CPU refused");
	is(g.hc_cpu, 0, "affinity: kept after a refusal");
	ok(thread_on(g.thread, 0), "affinity: thread still on CPU 0");
	sb_init(&sb);
	hc_json(&sb, &g);
	ok(sb.buf && strstr(sb.buf, "\"hc_cpu\":0,"), "affinity: reported (%s)",
	   sb.buf ? sb.buf : "");
	sb_free(&sb);
	is(hc_set_cpu(&g, -1), 0, "affinity: unpinned");
	ok(thread_on(g.thread, -1), "affinity: thread on any CPU");
	hc_thread_stop(&g);
	guest_destroy(&g);
}

int main(void)
{
	test_dir_make();
	test_episode();
	test_stop();
	test_echo();
	test_affinity();
	test_hostile();
	test_bounded();
	test_race();
	test_dir_remove();
	return tap_done();
}
