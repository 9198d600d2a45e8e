// SPDX-License-Identifier: GPL-2.0
/*
 * The activity sampler's worker thread (activity.c decides what to
 * sample and when; this file does the slow part).
 *
 * Reading a QEMU's smaps and clearing its referenced bits walks its
 * page tables: ~150 ms per GiB of resident guest RAM, 2.4 s for a
 * 16 GiB guest.  On the main thread that stalled the control socket,
 * child reaping, the bus and the policy for every guest.  One worker
 * thread, at low priority (SCHED_BATCH, nice ACTW_NICE), does all
 * guests' samples one after another; the main thread only queues jobs
 * and picks up finished ones, neither of which waits for a sample.
 *
 * A job carries everything the worker needs (a /proc/PID directory fd
 * the main thread opened while QEMU was known alive, the RAM file's
 * device and inode) and its result; the worker never touches a struct
 * guest, so removing a guest with its sample in flight only marks the
 * job abandoned (act_job_abandon()): its result is dropped.  The
 * /proc/PID fd pins QEMU's pid: after QEMU is reaped its smaps reads
 * fail instead of reading a process that reused the number.
 *
 * Locking: aw_lock protects every job's state and orphan flag, the
 * queue order and the thread's lifetime.  A job's inputs are written
 * by the main thread before it is queued, its result by the worker
 * before it is marked done; the lock's release/acquire orders both.
 * Job fds are opened and closed on the main thread only, so the main
 * thread can count them (act_jobs_fds(): vpv-ctl stats, fd leak
 * tests).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "vpv_host.h"

/*
 * Jobs in flight at once (queued, running or done but not picked up).
 * The main thread queues at most one per guest; with more guests due
 * at once the rest wait for a later 1 s tick.  16 samples a second
 * cover 80 guests at the default 5 s period.
 */
#define ACTW_JOBS	16
/*
 * nice of the worker: a weight of 110 against the 1024 of the
 * hypercall threads and QEMU, about 10% of a contended CPU.  Not
 * SCHED_IDLE: with QEMU's TCG threads keeping every CPU busy (the test
 * machines), an idle-class thread starves for minutes and the
 * estimates go stale.
 */
#define ACTW_NICE	10

enum actw_state { AW_FREE, AW_QUEUED, AW_RUNNING, AW_DONE };

struct act_job {
	enum actw_state state;	/* aw_lock */
	bool orphan;		/* aw_lock: guest gone, drop the result */
	uint64_t seq;		/* aw_lock: queue order */
	int proc_fd;		/* main thread: /proc/PID, O_PATH */
	dev_t dev;
	ino_t ino;
	struct act_result res;	/* worker, until AW_DONE */
};

static pthread_mutex_t aw_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t aw_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t aw_idle = PTHREAD_COND_INITIALIZER;
static struct act_job aw_jobs[ACTW_JOBS];
static uint64_t aw_seq;
/* aw_lock: a job taken stays AW_RUNNING, unread, until cleared (tests) */
static bool aw_hold;
static pthread_t aw_thread;
static bool aw_started;		/* main thread */
static bool aw_quit;		/* aw_lock */
static bool aw_busy;		/* aw_lock: the worker runs a job */
static unsigned int aw_fds;	/* main thread: open proc_fds */

static uint64_t clock_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The oldest queued job, or NULL.  aw_lock held. */
static struct act_job *aw_next(void)
{
	struct act_job *j = NULL;
	int i;

	for (i = 0; i < ACTW_JOBS; i++)
		if (aw_jobs[i].state == AW_QUEUED &&
		    (!j || aw_jobs[i].seq < j->seq))
			j = &aw_jobs[i];
	return j;
}

static void aw_run(struct act_job *j)
{
	uint64_t w0 = clock_us(CLOCK_MONOTONIC);
	uint64_t c0 = clock_us(CLOCK_THREAD_CPUTIME_ID);

	j->res.ret = act_read_clear(j->proc_fd, j->dev, j->ino, &j->res.r);
	j->res.cpu_us = clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
	j->res.wall_us = clock_us(CLOCK_MONOTONIC) - w0;
}

static void *aw_main(void *arg)
{
	struct act_job *j;

	(void)arg;
	if (pthread_setschedparam(pthread_self(), SCHED_BATCH,
				  &(struct sched_param){ 0 }) ||
	    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), ACTW_NICE))
		fprintf(stderr,
			"vpv-host: activity worker: cannot lower its priority\n");
	pthread_mutex_lock(&aw_lock);
	for (;;) {
		while (!aw_quit && !(j = aw_next()))
			pthread_cond_wait(&aw_work, &aw_lock);
		if (aw_quit)
			break;
		j->state = AW_RUNNING;
		aw_busy = true;
		while (aw_hold && !aw_quit)
			pthread_cond_wait(&aw_work, &aw_lock);
		pthread_mutex_unlock(&aw_lock);
		aw_run(j);
		pthread_mutex_lock(&aw_lock);
		/* an orphan is freed on the main thread: it closes proc_fd */
		j->state = AW_DONE;
		aw_busy = false;
		pthread_cond_broadcast(&aw_idle);
	}
	pthread_mutex_unlock(&aw_lock);
	return NULL;
}

/* Main thread: close and free j.  aw_lock held. */
static void aw_free(struct act_job *j)
{
	if (j->proc_fd >= 0) {
		close(j->proc_fd);
		aw_fds--;
	}
	j->proc_fd = -1;
	j->orphan = false;
	j->state = AW_FREE;
}

/*
 * Queue a sample of the process whose /proc/PID directory proc_fd is,
 * for the file (dev, ino).  Takes proc_fd (closed on error too).
 * -EBUSY: every job slot in use, try again later.
 */
int act_job_submit(int proc_fd, dev_t dev, ino_t ino, struct act_job **jp)
{
	struct act_job *j = NULL;
	int i, ret = 0;

	if (!aw_started) {
		ret = -pthread_create(&aw_thread, NULL, aw_main, NULL);
		aw_started = !ret;
	}
	pthread_mutex_lock(&aw_lock);
	for (i = 0; !ret && i < ACTW_JOBS && !j; i++)
		if (aw_jobs[i].state == AW_FREE)
			j = &aw_jobs[i];
	if (!ret && !j)
		ret = -EBUSY;
	if (ret) {
		pthread_mutex_unlock(&aw_lock);
		close(proc_fd);
		return ret;
	}
	memset(&j->res, 0, sizeof(j->res));
	j->proc_fd = proc_fd;
	aw_fds++;
	j->dev = dev;
	j->ino = ino;
	j->orphan = false;
	j->seq = aw_seq++;
	j->state = AW_QUEUED;
	pthread_cond_signal(&aw_work);
	pthread_mutex_unlock(&aw_lock);
	*jp = j;
	return 0;
}

/* Main thread: if j is done, copy its result, free it, return true. */
bool act_job_collect(struct act_job *j, struct act_result *res)
{
	bool done;

	pthread_mutex_lock(&aw_lock);
	done = j->state == AW_DONE;
	if (done) {
		*res = j->res;
		aw_free(j);
	}
	pthread_mutex_unlock(&aw_lock);
	return done;
}

/*
 * Main thread: the guest j samples is going away; drop j's result.  A
 * job the worker runs stays until it finishes (act_jobs_sweep() frees
 * it); it uses nothing of the guest's.
 */
void act_job_abandon(struct act_job *j)
{
	pthread_mutex_lock(&aw_lock);
	if (j->state == AW_RUNNING)
		j->orphan = true;
	else
		aw_free(j);
	pthread_mutex_unlock(&aw_lock);
}

/* Main thread: free finished orphans (their fds close here). */
void act_jobs_sweep(void)
{
	int i;

	pthread_mutex_lock(&aw_lock);
	for (i = 0; i < ACTW_JOBS; i++)
		if (aw_jobs[i].state == AW_DONE && aw_jobs[i].orphan)
			aw_free(&aw_jobs[i]);
	pthread_mutex_unlock(&aw_lock);
}

/* Main thread: /proc fds the jobs hold (for fd accounting). */
unsigned int act_jobs_fds(void)
{
	return aw_fds;
}

/* Is a job queued or running?  (tests) */
bool act_jobs_busy(void)
{
	bool busy;

	pthread_mutex_lock(&aw_lock);
	busy = aw_busy || aw_next();
	pthread_mutex_unlock(&aw_lock);
	return busy;
}

/* Is the worker running a job?  (tests) */
bool act_jobs_running(void)
{
	bool busy;

	pthread_mutex_lock(&aw_lock);
	busy = aw_busy;
	pthread_mutex_unlock(&aw_lock);
	return busy;
}

/*
 * Hold the worker inside the next job it takes, before it reads
 * anything, or let it go on (tests: a guest removed while its sample
 * is surely in flight).
 */
void act_jobs_hold(bool hold)
{
	pthread_mutex_lock(&aw_lock);
	aw_hold = hold;
	pthread_cond_broadcast(&aw_work);
	pthread_mutex_unlock(&aw_lock);
}

/* Wait until no job is queued or running (tests). */
void act_jobs_flush(void)
{
	pthread_mutex_lock(&aw_lock);
	while (aw_started && (aw_busy || aw_next()))
		pthread_cond_wait(&aw_idle, &aw_lock);
	pthread_mutex_unlock(&aw_lock);
}

/*
 * Main thread, at exit, after every guest is gone: stop the worker
 * (after the job it runs, if any) and free what is left.
 */
void act_worker_stop(void)
{
	int i;

	if (!aw_started)
		return;
	pthread_mutex_lock(&aw_lock);
	aw_quit = true;
	pthread_cond_signal(&aw_work);
	pthread_mutex_unlock(&aw_lock);
	pthread_join(aw_thread, NULL);
	aw_started = false;
	aw_quit = false;
	pthread_mutex_lock(&aw_lock);
	for (i = 0; i < ACTW_JOBS; i++)
		if (aw_jobs[i].state != AW_FREE)
			aw_free(&aw_jobs[i]);
	pthread_mutex_unlock(&aw_lock);
}
