// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side measurement of each guest's memory activity, for the idle
 * memory tax (policy.c).
 *
 * The guest's own figure (active_ppm in its POLL statistics) is only
 * what the guest says; a guest that claims to be fully active is never
 * taxed.  ESX measures activity on the host for this reason
 * (Waldspurger, OSDI 2002, section 5.3): each period it samples random
 * pages of the VM and counts how many were touched.
 *
 * Here the host kernel tracks accesses for us: QEMU touches guest RAM
 * through its own shared mapping of the RAM file (under TCG and KVM
 * alike), so the accessed bits of QEMU's page tables for that mapping
 * are the guest's accesses.  Each period the worker thread
 * (act_worker.c) for each guest
 *
 *  1. reads /proc/QEMU/smaps and sums "Referenced" over QEMU's
 *     mappings of this guest's RAM file (matched by device and inode,
 *     so a memfd or a renamed file works too): the bytes touched since
 *     the last clear;
 *  2. writes "1" to /proc/QEMU/clear_refs, clearing the accessed bits
 *     (and PG_referenced) of all of QEMU's pages: a new window opens.
 *
 * The fraction touched is referenced bytes over the memory the guest
 * holds (its populated pages: the guest's own figure has the same
 * denominator).  This is a census of every page rather than a sample
 * of 100 (no sampling error); the smoothing is ESX's (act_est_*).  The
 * stub's own mapping of the file is a different page table and does
 * not count.  Idle page tracking (per-page, and what ESX-like sampling
 * would use) is not built into the host kernels here, pagemap has no
 * accessed bit, and DAMON has a single system-wide admin interface (a
 * kdamond of the host's own already runs on these machines), so it is
 * not used.
 *
 * Cost: both steps walk QEMU's page tables: about 150 ms per GiB of
 * resident guest RAM on the (virtualised, shared) test machines
 * (Documentation/host-stub.rst), on one low-priority worker thread for
 * all guests, no lock held.  The main thread's timer tick only queues
 * due samples and picks up finished ones.  A guest's period stretches
 * to 50 times its sampling cost (ACT_COST_FACTOR).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "vpv_host.h"

/*
 * Weights of the newest sample in the two averages.  Fast: one half,
 * so it follows the last two or three periods.  Slow: one eighth, a
 * half-life of about five periods (25 s at the default period, close
 * to ESX's 30 s sampling period), so a guest that stops touching its
 * memory is believed only after a while.
 */
#define ACT_FAST_WEIGHT		0.5
#define ACT_SLOW_WEIGHT		0.125
/* smaps lines we parse are short; longer ones (paths) are cut here */
#define ACT_LINE_MAX		256
/* read() chunk of /proc/PID/smaps: a few lines per call */
#define ACT_READ_CHUNK		4096
/*
 * A guest's period is at least this many times what its last sample
 * cost, so sampling one guest takes at most 2% of a CPU however large
 * it is (a 16 GiB guest at ~150 ms/GiB: a sample every 2 minutes).
 * The cost is the worker's CPU time: at low priority on a busy host
 * its elapsed time is mostly waiting for a CPU (measured: 110 ms of
 * CPU took 4 s with both CPUs busy).
 */
#define ACT_COST_FACTOR		50

static enum act_source act_src = ACT_SOURCE_HOST;
static unsigned int act_period = ACT_PERIOD_DEFAULT_S;

void activity_configure(enum act_source src, unsigned int period_s)
{
	act_src = src;
	if (period_s >= 1 && period_s <= ACT_PERIOD_MAX_S)
		act_period = period_s;
}

enum act_source activity_source(void)
{
	return act_src;
}

unsigned int activity_period_s(void)
{
	return act_period;
}

/* ---- estimator ---- */

uint32_t act_frac_ppm(double f)
{
	if (!(f > 0.0))				/* also NaN */
		return 0;
	if (f >= 1.0)
		return ACT_PPM;
	return (uint32_t)(f * ACT_PPM + 0.5);
}

/* One period: touched of total units (bytes or pages) were accessed. */
void act_est_update(struct act_est *e, uint64_t touched, uint64_t total)
{
	double f = 0.0;

	if (total)
		f = touched >= total ? 1.0 : (double)touched / (double)total;
	e->last = f;
	e->samples++;
	if (!e->valid) {
		e->fast = f;
		e->slow = f;
		e->valid = true;
		return;
	}
	e->fast += ACT_FAST_WEIGHT * (f - e->fast);
	e->slow += ACT_SLOW_WEIGHT * (f - e->slow);
}

/* The estimate in ppm: the larger of the two averages; 0 if none. */
uint32_t act_est_ppm(const struct act_est *e)
{
	if (!e->valid)
		return 0;
	return act_frac_ppm(e->fast > e->slow ? e->fast : e->slow);
}

/* ---- reading QEMU's mapping ---- */

static void act_line(const char *l, bool *match, dev_t dev, ino_t ino,
		     struct act_reading *r)
{
	unsigned long long start, end, off, inode, kb;
	unsigned int maj, min;
	char perms[8];

	/* a mapping's header: "start-end perms offset maj:min inode path" */
	if (sscanf(l, "%llx-%llx %7s %llx %x:%x %llu", &start, &end, perms,
		   &off, &maj, &min, &inode) == 7) {
		*match = end > start && inode == (unsigned long long)ino &&
			 makedev(maj, min) == dev;
		r->vmas += *match;
		return;
	}
	if (!*match)
		return;
	if (sscanf(l, "Referenced: %llu kB", &kb) == 1)
		r->referenced += kb << 10;
	else if (sscanf(l, "Rss: %llu kB", &kb) == 1)
		r->rss += kb << 10;
	else if (sscanf(l, "Size: %llu kB", &kb) == 1)
		r->size += kb << 10;
}

/*
 * Sum what the smaps text on fd says about the mappings of file
 * (dev, ino).  Memory used is fixed whatever the input; lines longer
 * than ACT_LINE_MAX are cut (only a path can be that long).
 * -ENOENT: no mapping of the file.
 */
int act_smaps_parse(int fd, dev_t dev, ino_t ino, struct act_reading *r)
{
	char buf[ACT_READ_CHUNK], line[ACT_LINE_MAX];
	bool match = false;
	size_t len = 0;
	ssize_t n, i;

	memset(r, 0, sizeof(*r));
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				continue;
			}
			line[len] = '\0';
			act_line(line, &match, dev, ino, r);
			len = 0;
		}
	}
	if (len) {
		line[len] = '\0';
		act_line(line, &match, dev, ino, r);
	}
	return r->vmas ? 0 : -ENOENT;
}

/*
 * Read the referenced bytes of the process whose /proc/PID directory
 * proc_fd is, in its mappings of file (dev, ino), then clear the
 * accessed bits of all its pages.  The worker thread's job.
 */
int act_read_clear(int proc_fd, dev_t dev, ino_t ino, struct act_reading *r)
{
	int fd, ret;

	fd = openat(proc_fd, "smaps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = act_smaps_parse(fd, dev, ino, r);
	close(fd);
	if (ret)
		return ret;

	fd = openat(proc_fd, "clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* "1": clear the referenced bits of all pages (CLEAR_REFS_ALL) */
	if (write(fd, "1", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---- per-guest sampler (main thread; the worker reads and clears) ---- */

static void act_publish(struct guest_activity *a, uint32_t v)
{
	__atomic_store_n(&a->published, v, __ATOMIC_RELAXED);
}

/* Forget the window (a new QEMU, QEMU gone) and any sample in flight. */
static void act_reset(struct guest_activity *a, pid_t pid, uint64_t next_ms)
{
	uint64_t errors = a->errors, dropped = a->dropped;
	bool warned = a->fs_warned;

	if (a->job) {
		act_job_abandon(a->job);
		dropped++;
	}
	memset(a, 0, sizeof(*a));
	a->errors = errors;
	a->dropped = dropped;
	a->fs_warned = warned;
	a->pid = pid;
	a->next_ms = next_ms;
	act_publish(a, 0);
}

/*
 * A page fault maps its neighbours that are in the page cache too, and
 * marks them young: 16 pages on tmpfs, where a guest page QEMU has not
 * mapped is one the stub punched out (so it has no cached neighbours);
 * a whole large folio, up to 2 MiB, on ext4, where one fault per 2 MiB
 * counted 64 MiB of 64 MiB as referenced (measured).  Say so once.
 */
static void act_check_fs(struct guest *g)
{
	struct statfs sf;

	if (g->act.fs_warned || fstatfs(g->ram_fd, &sf) < 0 ||
	    sf.f_type == TMPFS_MAGIC)
		return;
	g->act.fs_warned = true;
	fprintf(stderr,
		"vpv-host: %s: RAM file not on tmpfs: host activity figures overstate sparse use\n",
		g->name);
}

/*
 * A sample failed (ret: -errno).  -ENOENT before the first window: QEMU
 * has not mapped its RAM yet, retry next tick.  Anything else is
 * counted and retried a period later.
 */
static void act_fail(struct guest_activity *a, int ret, uint64_t now_ms)
{
	if (ret == -ENOENT && !a->primed) {
		a->next_ms = now_ms + 1000;
	} else {
		a->errors++;
		a->err = ret;
	}
	a->primed = false;
	act_publish(a, 0);	/* no figure we can stand by */
}

/*
 * The worker's sample for g is done; now_ms: when the main thread
 * picked it up (within a tick, 1 s, of the clear that closed the
 * window; the fraction does not depend on the window's length).
 */
static void act_apply(struct guest *g, const struct act_result *res,
		      uint64_t now_ms)
{
	struct guest_activity *a = &g->act;
	uint64_t stretch_ms = res->cpu_us * ACT_COST_FACTOR / 1000;
	struct mem_guest_info mi;

	a->sample_us = res->wall_us;
	a->sample_cpu_us = res->cpu_us;
	a->next_ms = now_ms + act_period * 1000ull;
	if (a->next_ms < now_ms + stretch_ms)
		a->next_ms = now_ms + stretch_ms;
	if (res->ret) {
		act_fail(a, res->ret, now_ms);
		return;
	}
	a->err = 0;
	if (!a->primed) {		/* the first window opens now */
		act_check_fs(g);
		a->primed = true;
		a->window_start_ms = now_ms;
		return;
	}
	mem_guest_info(g, &mi);
	act_est_update(&a->est, res->r.referenced, mi.populated_pages << 12);
	a->last = res->r;
	a->window_ms = now_ms - a->window_start_ms;
	a->window_start_ms = now_ms;
	act_publish(a, act_est_ppm(&a->est) + 1);
}

/*
 * Queue a sample of g's QEMU.  g->state says QEMU runs, and QEMU is
 * reaped on this (the main) thread, so /proc/PID is that QEMU; the
 * directory fd the job keeps stays that QEMU's after it exits.
 */
static bool act_submit(struct guest *g, uint64_t now_ms)
{
	struct guest_activity *a = &g->act;
	char path[32];
	struct stat st;
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d", (int)g->pid);
	if (fstat(g->ram_fd, &st) < 0) {
		ret = -errno;
	} else {
		fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		ret = fd < 0 ? -errno :
		      act_job_submit(fd, st.st_dev, st.st_ino, &a->job);
	}
	if (ret == -EBUSY)		/* every job slot in use: next tick */
		return false;
	if (ret) {
		a->job = NULL;
		a->next_ms = now_ms + act_period * 1000ull;
		act_fail(a, ret, now_ms);
		return false;
	}
	return true;
}

/*
 * One timer tick for guest g: pick up its finished sample, if any,
 * then queue the next one if it is due.  delay_ms: how long after
 * QEMU's start the first window opens (staggers the guests).  Returns
 * true if it queued a sample.  Never waits for one.
 */
bool activity_guest_tick(struct guest *g, uint64_t now_ms, uint64_t delay_ms)
{
	struct guest_activity *a = &g->act;
	struct act_result res;

	if (a->job && act_job_collect(a->job, &res)) {
		a->job = NULL;
		act_apply(g, &res, now_ms);
	}
	if (g->state != GUEST_RUNNING || g->pid <= 0) {
		if (a->pid || a->job)
			act_reset(a, 0, 0);
		return false;
	}
	if (a->pid != g->pid)
		act_reset(a, g->pid, now_ms + delay_ms);
	/* ticks are 1 s apart: take the one nearest the deadline */
	if (a->job || now_ms + 500 < a->next_ms)
		return false;
	return act_submit(g, now_ms);
}

/* g is being destroyed: drop its sample in flight (guest_destroy()). */
void activity_guest_remove(struct guest *g)
{
	act_reset(&g->act, 0, 0);
}

void activity_tick(struct host *h, uint64_t now_ms)
{
	static size_t next;		/* round robin: main thread only */
	size_t i, k;

	act_jobs_sweep();
	for (k = 0; k < h->nr_guests; k++) {
		i = (next + k) % h->nr_guests;
		activity_guest_tick(&h->guests[i], now_ms,
				    (i % act_period) * 1000ull);
	}
	/* the first to ask for a job slot changes each tick */
	if (h->nr_guests)
		next = (next + 1) % h->nr_guests;
}

/* The host's smoothed figure for g, if it has one. */
bool activity_host_ppm(const struct guest *g, uint32_t *ppm)
{
	uint32_t v = __atomic_load_n(&g->act.published, __ATOMIC_RELAXED);

	if (!v)
		return false;
	*ppm = v - 1;
	return true;
}

/*
 * The active fraction the policy charges g's idle tax on; false: none,
 * f = 1.  A guest that never POLLed has none whatever the host
 * measures: it may have no balloon driver, and taxing it would plan on
 * memory it cannot give back.  Until the host's first sample (and
 * without QEMU, --no-qemu) the guest's own figure stands in.
 */
bool activity_policy_figure(const struct guest *g, bool have_stats,
			    uint64_t guest_ppm, uint32_t *ppm)
{
	if (!have_stats)
		return false;
	if (act_src == ACT_SOURCE_HOST && activity_host_ppm(g, ppm))
		return true;
	*ppm = guest_ppm > ACT_PPM ? ACT_PPM : (uint32_t)guest_ppm;
	return true;
}

/* Which figure activity_policy_figure() uses, and why (for vpv-ctl). */
const char *activity_figure_source(const struct guest *g, bool have_stats)
{
	uint32_t ppm;

	if (!have_stats)
		return "none (no POLL yet: f = 1)";
	if (act_src == ACT_SOURCE_GUEST)
		return "guest (configured)";
	if (activity_host_ppm(g, &ppm))
		return "host";
	if (g->state != GUEST_RUNNING || g->pid <= 0)
		return "guest (no QEMU to sample)";
	if (g->act.err)
		return "guest (host sampling failed)";
	return "guest (first host sample pending)";
}

const struct guest_subsys_ops activity_subsys = {
	.name = "activity",
	.tick = activity_tick,
	.destroy = activity_guest_remove,
};
