// SPDX-License-Identifier: GPL-2.0
/*
 * The per-guest hypercall thread and minimal echo thread, their CPU
 * placement, and adaptive slot polling with doorbell suppression.
 *
 * Polling (VPV_F_HC_POLL, off unless the guest's hc_poll_us is set):
 * after a doorbell that found a request, the hypercall thread keeps
 * scanning the slots with VPV_HC_POLL_ACTIVE set in the header, so a
 * guest that negotiated the feature skips the doorbell write.  The
 * episode ends once no request came for the current window.  The window
 * goes back to the full hc_poll_us after an episode that found work and
 * halves after one that found nothing, as KVM's halt polling does; below
 * an eighth of hc_poll_us polling stops, and only every
 * HC_POLL_PROBE_EVERY-th request tries an eighth again.  That is the
 * case where polling costs more than it saves: a poller that shares its
 * CPU with the guest's vCPU keeps the vCPU from posting the next call.
 * An episode starts only after a request was served, so the thread
 * polls at most one window per request: a guest can make it burn no
 * more than hc_poll_us of idle polling per call it makes.
 *
 * The host never reads hc_poll: a guest that writes it, or ignores it,
 * changes only whether its own doorbells are rung.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "vpv_host.h"

/*
 * Poll iterations between two looks at the eventfds (event channel
 * doorbells, stop): an epoll_wait() with no timeout is a system call,
 * a slot scan a few loads per slot plus a clock read, so 256 scans
 * keep the system call a small part of the loop while an event
 * channel notification waits at most a few tens of microseconds.
 */
#define HC_POLL_EV_EVERY	256u
/*
 * Below hc_poll_us / 8 the adaptive window is 0, polling off: four
 * empty episodes in a row (1 + 1/2 + 1/4 + 1/8 windows, under two
 * windows wasted) before it gives up ...
 */
#define HC_POLL_SHRINK_FLOOR	8u
/* ... and every 64th request served tries an eighth again: under 0.2 %
 * of a window per request while polling does not pay
 */
#define HC_POLL_PROBE_EVERY	64u
/*
 * The doorbells this thread polls are the fixed ones below VPV_VEC_DEV0
 * (less VPV_VEC_ECHO, the echo thread's); the device doorbells are their
 * back-end processes' (beproc.c).  HC_EV_STOP: the stop fd's epoll key.
 */
#define HC_NR_VEC		VPV_VEC_DEV0
#define HC_EV_STOP		HC_NR_VEC

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* x86-64 only, as the ABI: a spin-wait hint to the sibling thread */
static void cpu_pause(void)
{
	__builtin_ia32_pause();
}

/* Answer the minimal echo: echo_ping to echo_pong, nothing else. */
void hc_echo(struct guest *g)
{
	/* acquire/release: nothing else travels with the value */
	uint32_t v = __atomic_load_n(&g->hdr->echo_ping, __ATOMIC_ACQUIRE);

	__atomic_store_n(&g->hdr->echo_pong, v, __ATOMIC_RELEASE);
	STAT_INC(g, echoes);
}

/*
 * Handle @n epoll events of the hypercall thread.  Return: the slots
 * completed, or -1 if the thread must stop.
 */
static int hc_events(struct guest *g, const struct epoll_event *evs, int n)
{
	unsigned int done = 0;
	int i;

	for (i = 0; i < n; i++) {
		unsigned int vec = evs[i].data.u32;
		uint64_t cnt;

		if (vec == HC_EV_STOP)
			return -1;
		/* consume first: a later doorbell wakes us again */
		if (read(g->host_ev[vec], &cnt, sizeof(cnt)) < 0 &&
		    errno != EAGAIN)
			return -1;
		done += hc_doorbell(g, vec);
	}
	return (int)done;
}

/* Set or clear VPV_HC_POLL_ACTIVE; see the barrier in hc_poll_stop(). */
static void hc_poll_flag(struct guest *g, uint32_t v)
{
	__atomic_store_n(&g->hdr->hc_poll, v, __ATOMIC_RELAXED);
}

/*
 * End polling.  Return: slots completed by the last scan; if any, the
 * caller polls on (the flag is set again).
 */
unsigned int hc_poll_stop(struct guest *g)
{
	unsigned int done;

	hc_poll_flag(g, 0);
	/*
	 * Full barrier: the flag's clearing before the scan's loads.  Pairs
	 * with the guest's full barrier between its PENDING store and its
	 * hc_poll load: either the scan below sees the PENDING, or the
	 * guest sees the flag clear and rings.  No request is left behind
	 * a skipped doorbell.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	done = hc_process_slots(g);
	if (done)
		hc_poll_flag(g, VPV_HC_POLL_ACTIVE);
	return done;
}

/* Look at the eventfds without sleeping; false: stop. */
static bool hc_poll_events(struct guest *g, int ep, unsigned int *done)
{
	struct epoll_event evs[HC_NR_VEC + 1];
	int n, r;

	n = epoll_wait(ep, evs, ARRAY_SIZE(evs), 0);
	if (n <= 0)
		return n == 0 || errno == EINTR;
	r = hc_events(g, evs, n);
	if (r < 0)
		return false;
	*done += (unsigned int)r;
	return true;
}

/* The window for the next episode, from what this one found. */
static void hc_poll_adapt(struct guest *g, uint64_t win, unsigned int hits)
{
	uint64_t max = __atomic_load_n(&g->poll_max_ns, __ATOMIC_RELAXED);
	uint64_t floor = max / HC_POLL_SHRINK_FLOOR;

	/* relaxed atomics: hc_set_poll_us() may reset it meanwhile */
	__atomic_store_n(&g->poll_cur_ns,
			 hits ? max : win / 2 >= floor ? win / 2 : 0,
			 __ATOMIC_RELAXED);
}

/*
 * The window of the next episode: the adaptive one, or while that is 0,
 * an eighth of hc_poll_us on every HC_POLL_PROBE_EVERY-th request.
 * Return: 0 for no episode now.
 */
static uint64_t hc_poll_window(struct guest *g, uint64_t max)
{
	uint64_t win = __atomic_load_n(&g->poll_cur_ns, __ATOMIC_RELAXED);

	if (win)
		return win < max ? win : max;
	if (++g->poll_skipped < HC_POLL_PROBE_EVERY)
		return 0;
	g->poll_skipped = 0;
	return max / HC_POLL_SHRINK_FLOOR;
}

/*
 * One polling episode (@ep: -1 in unit tests, no eventfd looks).
 * Return: the slots it completed, or UINT32_MAX if the thread must
 * stop.
 */
unsigned int hc_poll_once(struct guest *g, int ep)
{
	uint64_t max = __atomic_load_n(&g->poll_max_ns, __ATOMIC_RELAXED);
	uint64_t win, start, last, now;
	unsigned int hits = 0, it = 0, n;
	bool go = true;

	if (!max || !(g->features & VPV_F_HC_POLL))
		return 0;
	win = hc_poll_window(g, max);
	if (!win)
		return 0;
	STAT_INC(g, hc_polls);
	/* no barrier: a guest that still sees the flag clear just rings */
	hc_poll_flag(g, VPV_HC_POLL_ACTIVE);
	start = now_ns();
	last = start;
	for (;;) {
		hc_raw_ping(g);
		n = hc_process_slots(g);
		if (ep >= 0 && ++it % HC_POLL_EV_EVERY == 0)
			go = hc_poll_events(g, ep, &n);
		now = now_ns();
		if (n) {
			hits += n;
			last = now;
		}
		if (!go) {
			hc_poll_flag(g, 0);
			break;
		}
		if (now - last >= win) {
			n = hc_poll_stop(g);
			if (!n)
				break;
			hits += n;
			last = now_ns();
		}
		cpu_pause();
	}
	STAT_ADD(g, hc_poll_hits, hits);
	STAT_ADD(g, hc_poll_ns, now_ns() - start);
	hc_poll_adapt(g, win, hits);
	return go ? hits : UINT32_MAX;
}

static void hc_note_cpu(int *where)
{
	__atomic_store_n(where, sched_getcpu(), __ATOMIC_RELAXED);
}

static int hc_epoll_setup(struct guest *g)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep, i;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -1;
	for (i = 0; i < HC_NR_VEC; i++) {
		if (i == VPV_VEC_ECHO)
			continue;
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, g->host_ev[i], &ev) < 0)
			goto err;
	}
	ev.data.u32 = HC_EV_STOP;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, g->stop_fd, &ev) < 0)
		goto err;
	return ep;
err:
	close(ep);
	return -1;
}

static void *hc_thread(void *arg)
{
	struct epoll_event evs[HC_NR_VEC + 1];
	struct guest *g = arg;
	int ep, n, done;

	ep = hc_epoll_setup(g);
	if (ep < 0)
		goto err;
	for (;;) {
		n = epoll_wait(ep, evs, ARRAY_SIZE(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		hc_note_cpu(&g->hc_last_cpu);
		done = hc_events(g, evs, n);
		if (done < 0)
			break;
		/* work found: poll for the next request before sleeping */
		if (done && hc_poll_once(g, ep) == UINT32_MAX)
			break;
	}
	goto out;
err:
	fprintf(stderr, "vpv-host: %s: hypercall thread: %s\n", g->name,
		strerror(errno));
out:
	if (ep >= 0)
		close(ep);
	return NULL;
}

/*
 * The minimal echo: a thread that blocks in poll() on VPV_VEC_ECHO and
 * answers it, sharing nothing with the hypercall path but the device.
 */
static void *hc_echo_thread(void *arg)
{
	struct guest *g = arg;
	struct pollfd p[2] = {
		{ .fd = g->host_ev[VPV_VEC_ECHO], .events = POLLIN },
		{ .fd = g->stop_fd, .events = POLLIN },
	};
	uint64_t cnt;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		hc_note_cpu(&g->echo_last_cpu);
		/* consume first: a later doorbell wakes us again */
		if (read(p[0].fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			break;
		hc_echo(g);
	}
	return NULL;
}

static int hc_pin(pthread_t t, int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	if (cpu >= 0) {
		CPU_SET(cpu, &set);
	} else {
		for (i = 0; i < CPU_SETSIZE; i++)
			CPU_SET(i, &set);
	}
	return -pthread_setaffinity_np(t, sizeof(set), &set);
}

/*
 * Place both threads on @cpu (-1: any CPU).  Return: 0, or -EINVAL for
 * a CPU that does not exist or is offline.
 */
int hc_set_cpu(struct guest *g, int cpu)
{
	int ret = 0;

	if (cpu >= CPU_SETSIZE || cpu < -1)
		return -EINVAL;
	if (g->thread_running)
		ret = hc_pin(g->thread, cpu);
	if (!ret && g->echo_running)
		ret = hc_pin(g->echo_thread, cpu);
	if (ret) {
		/* back to what was set */
		if (g->thread_running)
			hc_pin(g->thread, g->hc_cpu);
		if (g->echo_running)
			hc_pin(g->echo_thread, g->hc_cpu);
		return ret;
	}
	__atomic_store_n(&g->hc_cpu, cpu, __ATOMIC_RELAXED);
	return 0;
}

/* Set the polling window (0: off; clamped to HC_POLL_US_MAX). */
void hc_set_poll_us(struct guest *g, unsigned int us)
{
	if (us > HC_POLL_US_MAX)
		us = HC_POLL_US_MAX;
	__atomic_store_n(&g->poll_max_ns, (uint64_t)us * 1000u,
			 __ATOMIC_RELAXED);
	/* the thread's own window: it starts from the new one */
	__atomic_store_n(&g->poll_cur_ns, (uint64_t)us * 1000u,
			 __ATOMIC_RELAXED);
}

/* CPU time a thread of @g has used, in ns (0 if it is not running). */
uint64_t hc_thread_cpu_ns(const struct guest *g, bool echo)
{
	struct timespec ts;
	clockid_t cid;

	if (!(echo ? g->echo_running : g->thread_running))
		return 0;
	if (pthread_getcpuclockid(echo ? g->echo_thread : g->thread, &cid) ||
	    clock_gettime(cid, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The threads' placement and polling, for vpv-ctl list and stats. */
void hc_json(struct sbuf *out, const struct guest *g)
{
	int cpu = __atomic_load_n(&g->hc_cpu, __ATOMIC_RELAXED);

	if (cpu >= 0)
		sb_printf(out, ",\"hc_cpu\":%d", cpu);
	else
		sb_puts(out, ",\"hc_cpu\":null");
	sb_printf(out,
		  ",\"hc_last_cpu\":%d,\"echo_last_cpu\":%d,\"hc_poll_us\":%llu",
		  __atomic_load_n(&g->hc_last_cpu, __ATOMIC_RELAXED),
		  __atomic_load_n(&g->echo_last_cpu, __ATOMIC_RELAXED),
		  (unsigned long long)__atomic_load_n(&g->poll_max_ns,
						      __ATOMIC_RELAXED) / 1000);
	sb_printf(out, ",\"hc_thread_cpu_ns\":%llu,\"echo_thread_cpu_ns\":%llu",
		  (unsigned long long)hc_thread_cpu_ns(g, false),
		  (unsigned long long)hc_thread_cpu_ns(g, true));
}

int hc_thread_start(struct guest *g)
{
	int ret;

	int cpu = g->hc_cpu;

	hc_init();
	g->hc_last_cpu = -1;
	g->echo_last_cpu = -1;
	if (g->cfg) {
		cpu = g->cfg->hc_cpu_set ? (int)g->cfg->hc_cpu : -1;
		hc_set_poll_us(g, g->cfg->hc_poll_us);
	}
	g->hc_cpu = -1;
	ret = pthread_create(&g->thread, NULL, hc_thread, g);
	if (ret)
		return -ret;
	g->thread_running = true;
	ret = pthread_create(&g->echo_thread, NULL, hc_echo_thread, g);
	if (ret) {
		hc_thread_stop(g);
		return -ret;
	}
	g->echo_running = true;
	if (cpu >= 0) {
		ret = hc_set_cpu(g, cpu);
		if (ret) {
			fprintf(stderr, "vpv-host: %s: cannot pin to CPU %d: %s\n",
				g->name, cpu, strerror(-ret));
			hc_thread_stop(g);
			return ret;
		}
	}
	return 0;
}

void hc_thread_stop(struct guest *g)
{
	uint64_t one = 1;

	if (!g->thread_running && !g->echo_running)
		return;
	/* never read: stop_fd stays readable for both threads */
	if (write(g->stop_fd, &one, sizeof(one)) < 0)
		perror("vpv-host: stop hypercall thread");
	if (g->thread_running)
		pthread_join(g->thread, NULL);
	if (g->echo_running)
		pthread_join(g->echo_thread, NULL);
	g->thread_running = false;
	g->echo_running = false;
}
