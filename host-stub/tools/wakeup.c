// SPDX-License-Identifier: GPL-2.0
/*
 * The host's own share of a doorbell round trip, without QEMU: two
 * threads ping-pong through two eventfds, as a vCPU thread's doorbell
 * (an eventfd write) wakes the stub's thread and the stub answers.
 * The "guest" thread either blocks in poll() for the answer or spins
 * on a shared word, as a spinning vCPU does.  Prints the median round
 * trip for each placement: both threads on CPU 0, or on CPUs 0 and 1.
 *
 * Build with cc -O2 -pthread (no other dependency) and run it alone.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#define ROUNDS	20000

static int ev_req, ev_ans;
static uint32_t pong;	/* atomics only */
static int spin_wait;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

/* the stub's side: block in poll() on the doorbell, answer */
static void *server(void *arg)
{
	struct pollfd p = { .fd = ev_req, .events = POLLIN };
	uint64_t v, one = 1;
	uint32_t i;

	pin(*(int *)arg);
	for (i = 1; i <= ROUNDS; i++) {
		poll(&p, 1, -1);
		if (read(ev_req, &v, sizeof(v)) < 0)
			break;
		__atomic_store_n(&pong, i, __ATOMIC_RELEASE);
		if (!spin_wait && write(ev_ans, &one, sizeof(one)) < 0)
			break;
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void run(int cpu_a, int cpu_b, int spin)
{
	static uint64_t t[ROUNDS];
	struct pollfd p;
	pthread_t th;
	uint64_t one = 1, v, t0;
	uint32_t i;

	spin_wait = spin;
	__atomic_store_n(&pong, 0, __ATOMIC_RELAXED);
	ev_req = eventfd(0, EFD_NONBLOCK);
	ev_ans = eventfd(0, EFD_NONBLOCK);
	p = (struct pollfd){ .fd = ev_ans, .events = POLLIN };
	pin(cpu_a);
	pthread_create(&th, NULL, server, &cpu_b);
	usleep(10000);
	for (i = 1; i <= ROUNDS; i++) {
		t0 = now_ns();
		if (write(ev_req, &one, sizeof(one)) < 0)
			break;
		if (spin) {
			while (__atomic_load_n(&pong, __ATOMIC_ACQUIRE) != i)
				;
		} else {
			poll(&p, 1, -1);
			if (read(ev_ans, &v, sizeof(v)) < 0)
				break;
		}
		t[i - 1] = now_ns() - t0;
	}
	pthread_join(th, NULL);
	close(ev_req);
	close(ev_ans);
	qsort(t, ROUNDS, sizeof(t[0]), cmp);
	printf("CPUs %d,%d %-6s median %6llu ns  p99 %7llu ns\n", cpu_a, cpu_b,
	       spin ? "spin" : "block", (unsigned long long)t[ROUNDS / 2],
	       (unsigned long long)t[ROUNDS * 99 / 100]);
}

int main(void)
{
	int s;

	for (s = 1; s >= 0; s--) {
		run(0, 0, s);
		run(0, 1, s);
	}
	return 0;
}
