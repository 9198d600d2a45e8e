// SPDX-License-Identifier: GPL-2.0
/*
 * The activity sampler's worker thread (act_worker.c): while a big
 * sample is in progress (a forked child maps a 1 GiB guest RAM file on
 * tmpfs and touches every page, as QEMU would), the main thread's
 * timer tick returns at once and the control socket answers within
 * 50 ms; and a guest removed while its sample is in flight is freed
 * safely (ASan: no use after free) with the sample's /proc fd closed.
 */
#include "testutil.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define MIB		(1ull << 20)
/* 150 ms per GiB to sample (host-stub.rst): three times the limit */
#define BIG		(1024 * MIB)
/* the main thread must answer within this while the worker samples */
#define LATENCY_US	50000ull

/* between requests: a busy client, not a CPU hog beside the worker */
#define PACE_US		5000

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A child that maps g's RAM, touches every page, then waits. */
static pid_t start_child(struct guest *g)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready))
		BAIL("pipe");
	pid = fork();
	if (pid < 0)
		BAIL("fork");
	if (pid == 0) {
		uint8_t *p = mmap(NULL, BIG, PROT_READ | PROT_WRITE,
				  MAP_SHARED, g->ram_fd, 0);
		uint64_t i;

		if (p == MAP_FAILED)
			_exit(2);
		for (i = 0; i < BIG; i += 4096)
			p[i] = 1;
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		BAIL("child did not map its RAM");
	close(ready[0]);
	g->pid = pid;
	g->state = GUEST_RUNNING;
	return pid;
}

/* One "stats" request through the control connection code; its time. */
static uint64_t ctl_roundtrip_us(struct host *h, bool *answered)
{
	char reply[64 * 1024];
	struct ctl_conn c;
	uint64_t t0 = now_us();
	size_t len = 0;
	ssize_t n;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		BAIL("socketpair");
	if (write(sv[1], "stats\n", 6) != 6)
		BAIL("write");
	ctl_conn_init(&c, sv[0]);
	while (ctl_conn_read(h, &c) == CTL_CONN_READ)
		;
	ctl_conn_release(&c);	/* closes sv[0]: the reply ends */
	while ((n = read(sv[1], reply + len, sizeof(reply) - 1 - len)) > 0)
		len += n;
	close(sv[1]);
	reply[len] = '\0';
	*answered = strstr(reply, "\"guests\"");
	return now_us() - t0;
}

static void test_latency(struct host *h, struct guest *g)
{
	uint64_t t0, tick_us, worst = 0, lat;
	unsigned int served = 0;
	bool answered = true, a;
	uint32_t ppm;

	/* the first sample opens the window: a whole 1 GiB walk */
	t0 = now_us();
	activity_tick(h, 1000);
	tick_us = now_us() - t0;
	ok(!!g->act.job, "the due sample is queued");
	ok(tick_us < LATENCY_US,
	   "the timer tick returns at once while 1 GiB is sampled (%llu us)",
	   (unsigned long long)tick_us);
	while (act_jobs_busy()) {
		lat = ctl_roundtrip_us(h, &a);
		answered &= a;
		served += act_jobs_busy();	/* answered during the sample */
		if (lat > worst)
			worst = lat;
		usleep(PACE_US);
	}
	ok(served > 0 && answered,
	   "control requests answered while the worker sampled (%u)", served);
	ok(worst < LATENCY_US, "... each within 50 ms (worst %llu us)",
	   (unsigned long long)worst);
	activity_tick(h, 2000);
	ok(g->act.primed && !g->act.job && g->act.sample_us > 0,
	   "the main thread picked the sample up: window open");
	printf("# 1 GiB resident: read + clear %llu us elapsed, %llu us CPU\n",
	       (unsigned long long)g->act.sample_us,
	       (unsigned long long)g->act.sample_cpu_us);
	ok(g->act.next_ms >= 2000 + g->act.sample_cpu_us * 50 / 1000 &&
	   g->act.next_ms >= 2000 + ACT_PERIOD_DEFAULT_S * 1000,
	   "the next sample waits a period, at least 50 times the cost");

	/* the child touches nothing more: the next window sees ~0 */
	activity_tick(h, g->act.next_ms);
	act_jobs_flush();
	activity_tick(h, g->act.next_ms);
	ok(activity_host_ppm(g, &ppm) && ppm < 10000,
	   "an idle window measured through the worker (%u ppm)", ppm);
}

/*
 * Remove (and free) the guest while the worker samples its QEMU: the
 * worker held inside the job (act_jobs_hold()), so the sample is
 * surely in flight when the guest goes.
 */
static void test_remove_in_flight(struct host *h, struct guest *g)
{
	uint64_t t0;

	act_jobs_hold(true);
	activity_tick(h, g->act.next_ms);
	ok(!!g->act.job, "a sample is queued");
	t0 = now_us();
	while (!act_jobs_running() && now_us() - t0 < 10000000)
		usleep(100);
	ok(act_jobs_running() && act_jobs_fds() == 1,
	   "... and in flight, holding one /proc fd");
	guest_destroy(g);	/* "guest remove" */
	g->state = GUEST_REMOVED;
	ok(!g->act.job && g->act.dropped == 1,
	   "guest_destroy dropped the sample in flight");
	free(g);		/* ASan: the worker must not touch it now */
	h->guests = NULL;
	h->nr_guests = 0;
	ok(act_jobs_fds() == 1, "the orphan keeps its fd while it runs");
	act_jobs_hold(false);
	act_jobs_flush();
	ok(act_jobs_fds() == 1,
	   "the orphan keeps its fd until the main thread frees it");
	activity_tick(h, 0);
	is(act_jobs_fds(), 0, "the next tick closed the orphan's /proc fd");
}

int main(void)
{
	struct host h = { 0 };
	struct guest *g = calloc(1, sizeof(*g));
	pid_t child;
	int st;

	if (!g)
		BAIL("calloc");
	memcpy(test_dir, "/dev/shm/vpvt-XXXXXX", sizeof(test_dir));
	test_dir_make();
	test_guest(g, BIG, 1);
	h.guests = g;
	h.nr_guests = 1;
	child = start_child(g);
	test_latency(&h, g);
	test_remove_in_flight(&h, g);
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
	act_worker_stop();
	test_dir_remove();
	return tap_done();
}
