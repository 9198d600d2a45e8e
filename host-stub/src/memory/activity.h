/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host-side measurement of guest memory activity (activity.c), for the
 * idle memory tax.  Included by vpv_host.h before struct guest.
 */
#ifndef VPV_ACTIVITY_H
#define VPV_ACTIVITY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct guest;
struct host;

/* which active fraction the policy charges the idle tax on */
enum act_source {
	ACT_SOURCE_HOST,	/* sampled by the host (default) */
	ACT_SOURCE_GUEST,	/* the balloon's own POLL figure */
};

#define ACT_PPM			1000000u
/*
 * The sampling period: QEMU's referenced bits are cleared, and read
 * back one period later.  5 s is long enough for a working set that is
 * cycled through every few seconds under TCG to show whole, short
 * enough that a change shows within a few periods (ESX uses 30 s).
 */
#define ACT_PERIOD_DEFAULT_S	5u
#define ACT_PERIOD_MAX_S	300u

/*
 * ESX-style smoothing of the sampled fraction: a fast and a slow
 * exponentially weighted average; the estimate is the larger, so it
 * follows a rise within a period or two and a fall only slowly.
 */
struct act_est {
	bool valid;		/* at least one sample */
	uint64_t samples;
	double last;		/* the last period's fraction */
	double fast;
	double slow;
};

void act_est_update(struct act_est *e, uint64_t touched, uint64_t total);
uint32_t act_est_ppm(const struct act_est *e);
uint32_t act_frac_ppm(double f);

/* One reading of QEMU's mapping of a guest RAM file. */
struct act_reading {
	uint64_t referenced;	/* bytes referenced since the last clear */
	uint64_t rss;		/* bytes resident in the mapping */
	uint64_t size;		/* bytes mapped */
	unsigned int vmas;	/* mappings of the file found */
};

int act_smaps_parse(int fd, dev_t dev, ino_t ino, struct act_reading *r);
int act_read_clear(int proc_fd, dev_t dev, ino_t ino, struct act_reading *r);

/* What one sample by the worker thread (act_worker.c) found. */
struct act_result {
	int ret;		/* 0 or -errno of act_read_clear() */
	struct act_reading r;
	uint64_t wall_us;	/* read + clear, elapsed */
	uint64_t cpu_us;	/* ... on the worker's CPU clock */
};

struct act_job;
int act_job_submit(int proc_fd, dev_t dev, ino_t ino, struct act_job **jp);
bool act_job_collect(struct act_job *j, struct act_result *res);
void act_job_abandon(struct act_job *j);
void act_jobs_sweep(void);
unsigned int act_jobs_fds(void);
bool act_jobs_busy(void);
bool act_jobs_running(void);
void act_jobs_hold(bool hold);
void act_jobs_flush(void);
void act_worker_stop(void);

/*
 * Per-guest sampler state.  Everything but published belongs to the
 * main thread (the timer tick and the control socket run there);
 * published is read by the policy from any thread.  The worker thread
 * sees only job, through act_worker.c's lock.
 */
struct guest_activity {
	struct act_job *job;	/* the sample in flight, if any */
	uint64_t next_ms;	/* CLOCK_MONOTONIC of the next sample */
	uint64_t window_start_ms;	/* when the open window began */
	uint64_t window_ms;	/* length of the last sampled period */
	bool primed;		/* referenced bits cleared, window open */
	pid_t pid;		/* the QEMU the window belongs to */
	struct act_est est;
	struct act_reading last;
	uint64_t sample_us;	/* cost of the last read + clear (elapsed) */
	uint64_t sample_cpu_us;	/* ... in the worker's CPU time */
	uint64_t dropped;	/* samples dropped: QEMU changed meanwhile */
	uint64_t errors;	/* failed reads or clears */
	int err;		/* last error (-errno), 0 if none */
	bool fs_warned;		/* RAM file not on tmpfs, said so */
	uint32_t published;	/* 0: no host figure, else ppm + 1 */
};

void activity_configure(enum act_source src, unsigned int period_s);
enum act_source activity_source(void);
unsigned int activity_period_s(void);
void activity_tick(struct host *h, uint64_t now_ms);
bool activity_guest_tick(struct guest *g, uint64_t now_ms, uint64_t delay_ms);
void activity_guest_remove(struct guest *g);
bool activity_host_ppm(const struct guest *g, uint32_t *ppm);
bool activity_policy_figure(const struct guest *g, bool have_stats,
			    uint64_t guest_ppm, uint32_t *ppm);
const char *activity_figure_source(const struct guest *g, bool have_stats);

#endif /* VPV_ACTIVITY_H */
