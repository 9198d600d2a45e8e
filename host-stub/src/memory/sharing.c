// SPDX-License-Identifier: GPL-2.0
/*
 * Page-sharing scan, the ESX way (Waldspurger, OSDI 2002, section 4):
 * every resident 4 KiB page of every guest's RAM gets a 64-bit hash;
 * pages whose hashes match are compared in full, so a hash collision is
 * never counted as sharing.  The scan only measures: the stub cannot
 * share a frame between guest pages (Documentation/sharing.rst says
 * why), it reports what sharing would save.
 *
 * Reads never fault guest RAM in: the scan reads the guest's RAM file
 * with pread() on a dup of its fd, never through the stub's mapping (a
 * read fault on a punched hole of a shared tmpfs mapping allocates a
 * page and would undo the balloon; a page past a truncated file would
 * raise SIGBUS), and it visits only the file's data extents
 * (SEEK_DATA / SEEK_HOLE): ballooned, reported and never-touched pages
 * are holes and are not scanned.  pread() of a page punched meanwhile
 * returns zeros without allocating (shmem reads a hole as the zero
 * page); such a page counts as a zero page.
 *
 * A pass runs on its own thread at low priority (SCHED_BATCH, nice
 * SH_NICE) over a snapshot the main thread takes: a dup of each
 * guest's RAM fd, its name and layout.  It never touches a struct guest
 * and takes no lock of the memory manager, so a guest removed during a
 * pass keeps its RAM file alive only until the pass ends.
 *
 * Memory: per pass, at most SHARING_PASS_BYTES_PER_PAGE bytes per RAM
 * page of the guests scanned (the page's class id, the bucket heads,
 * one class record per distinct content), freed when the pass ends;
 * kept between passes: one byte per RAM page (the page's flags, for
 * range queries) in the latest result.
 *
 * Threads: sharing_start(), sharing_latest(), sharing_stop() are the
 * main thread's (the control socket); the pass thread hands its result
 * over through sh_lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "vpv_host.h"

#define SH_PAGE		4096u
/*
 * Pages read with one pread(): 256 KiB, large enough that the syscall
 * costs little against hashing the bytes, small enough to stay in L2.
 */
#define SH_BATCH	64u
/* nice of the pass thread, as the activity worker's (act_worker.c) */
#define SH_NICE		10

/* the guest mask of a class: one bit per guest of the pass */
static_assert(VPV_MAX_GUESTS <= 64, "sharing: guest mask is a uint64_t");

/*
 * Test hook: ANDed into every hash.  0 makes every page's hash equal,
 * so that only the full compare tells contents apart (test_sharing).
 */
uint64_t sharing_hash_mask = UINT64_MAX;

/* One distinct non-zero content. */
struct sh_class {
	uint64_t hash;
	uint64_t mask;		/* guests with at least one such page */
	uint64_t multi;		/* guests with at least two */
	uint32_t next;		/* next class in the bucket, 0: none */
	uint32_t rep_g;		/* a page holding it: guest ... */
	uint64_t rep_idx;	/* ... and page index */
};

/* per page: class id, up to two bucket heads, a class, its flags byte */
static_assert(sizeof(uint32_t) * 3 + sizeof(struct sh_class) + 1 <=
	      SHARING_PASS_BYTES_PER_PAGE,
	      "sharing: the documented bound covers a pass's tables");

/* a pass's working state (pass thread only) */
struct sh_scan {
	const struct sharing_src *src;
	struct sharing_pass *p;
	uint32_t *buckets;	/* class id + 1 ... */
	uint64_t nr_buckets;	/* power of two */
	struct sh_class *cls;	/* [0] unused: id 0 is "none" */
	uint64_t nr_cls, cap_cls, max_cls;
	uint32_t **pcls;	/* per guest, per page: class id, 0: none */
	uint8_t *rep;		/* one page: a class's representative */
	const bool *cancel;
};

/*
 * The page hash: 64 bits, one multiply-rotate round per 8 bytes
 * (xxHash64's round) and murmur3's finaliser.  Not cryptographic: a
 * guest can make two pages collide, which costs one extra compare and
 * is never counted as sharing.
 */
static uint64_t sh_hash(const uint8_t *page)
{
	const uint64_t k1 = 0x9e3779b185ebca87ull, k2 = 0xc2b2ae3d27d4eb4full;
	uint64_t h = 0x27d4eb2f165667c5ull, w;
	unsigned int i;

	for (i = 0; i < SH_PAGE; i += 8) {
		memcpy(&w, page + i, 8);
		h ^= w * k2;
		h = (h << 31 | h >> 33) * k1;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h & sharing_hash_mask;
}

static bool sh_is_zero(const uint8_t *page)
{
	static const uint8_t zero[64];
	unsigned int i;

	for (i = 0; i < SH_PAGE; i += sizeof(zero))
		if (memcmp(page + i, zero, sizeof(zero)))
			return false;
	return true;
}

/* pread() all of len bytes at off; 0, or -errno (-EIO: file shrank) */
static int sh_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, (uint8_t *)buf + done, len - done,
			  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static uint64_t sh_clock_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* A new class for the page (gi, idx) of hash h; its id, 0: no memory. */
static uint32_t sh_class_new(struct sh_scan *s, uint64_t h, uint32_t gi,
			     uint64_t idx)
{
	struct sh_class *c;
	uint64_t b = h & (s->nr_buckets - 1);

	if (s->nr_cls == s->cap_cls) {
		/* never past one class per page: the documented bound */
		uint64_t cap = s->cap_cls * 2 < s->max_cls ?
			       s->cap_cls * 2 : s->max_cls;

		if (cap <= s->cap_cls)
			return 0;

		c = realloc(s->cls, cap * sizeof(*c));
		if (!c)
			return 0;
		s->cls = c;
		s->cap_cls = cap;
	}
	c = &s->cls[s->nr_cls];
	c->hash = h;
	c->mask = 0;
	c->multi = 0;
	c->rep_g = gi;
	c->rep_idx = idx;
	c->next = s->buckets[b];
	s->buckets[b] = (uint32_t)s->nr_cls;
	return (uint32_t)s->nr_cls++;
}

/*
 * The class of the non-zero page (gi, idx) with content page: an
 * existing one whose representative is equal byte for byte, or a new
 * one.  0: out of memory or a read error (-errno in *err).
 */
static uint32_t sh_classify(struct sh_scan *s, uint32_t gi, uint64_t idx,
			    const uint8_t *page, int *err)
{
	uint64_t h = sh_hash(page);
	uint32_t id;
	int ret;

	for (id = s->buckets[h & (s->nr_buckets - 1)]; id;
	     id = s->cls[id].next) {
		const struct sh_class *c = &s->cls[id];

		if (c->hash != h)
			continue;
		s->p->hash_matches++;
		/* the full compare: a collision is a new content */
		ret = sh_pread(s->src[c->rep_g].fd, s->rep, SH_PAGE,
			       c->rep_idx * SH_PAGE);
		if (ret) {
			*err = ret;
			return 0;
		}
		if (!memcmp(s->rep, page, SH_PAGE))
			return id;
		s->p->collisions++;
	}
	id = sh_class_new(s, h, gi, idx);
	if (!id)
		*err = -ENOMEM;
	return id;
}

/* One page read: classify it, note its class and flags. */
static int sh_page(struct sh_scan *s, uint32_t gi, uint64_t idx,
		   const uint8_t *page)
{
	struct sharing_guest *sg = &s->p->guests[gi];
	struct sh_class *c;
	uint64_t bit = 1ull << gi;
	uint32_t id;
	int err = 0;

	sg->scanned_pages++;
	if (sh_is_zero(page)) {
		sg->flags[idx] = SHARING_ZERO;
		sg->zero_pages++;
		return 0;
	}
	id = sh_classify(s, gi, idx, page, &err);
	if (!id)
		return err;
	c = &s->cls[id];
	if (c->mask & bit)
		c->multi |= bit;
	c->mask |= bit;
	s->pcls[gi][idx] = id;
	sg->flags[idx] = SHARING_DATA;
	return 0;
}

/* Scan guest gi's data extents; 0 or -errno. */
static int sh_scan_guest(struct sh_scan *s, uint32_t gi, uint8_t *buf)
{
	const struct sharing_src *src = &s->src[gi];
	uint64_t size = src->nr_pages * SH_PAGE, off = 0, end, n, i;
	off_t d, hole;
	int ret;

	while (off < size) {
		/* relaxed: the flag only asks to stop, it carries no data */
		if (__atomic_load_n(s->cancel, __ATOMIC_RELAXED))
			return -ECANCELED;
		d = lseek(src->fd, (off_t)off, SEEK_DATA);
		if (d < 0)
			return errno == ENXIO ? 0 : -errno;	/* no more */
		hole = lseek(src->fd, d, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		off = (uint64_t)d & ~(uint64_t)(SH_PAGE - 1);
		end = ((uint64_t)hole + SH_PAGE - 1) & ~(uint64_t)(SH_PAGE - 1);
		if (end > size)
			end = size;
		while (off < end) {
			if (__atomic_load_n(s->cancel, __ATOMIC_RELAXED))
				return -ECANCELED;
			n = (end - off) / SH_PAGE;
			if (n > SH_BATCH)
				n = SH_BATCH;
			ret = sh_pread(src->fd, buf, n * SH_PAGE, off);
			if (ret)
				return ret;
			for (i = 0; i < n; i++) {
				ret = sh_page(s, gi, off / SH_PAGE + i,
					      buf + i * SH_PAGE);
				if (ret)
					return ret;
			}
			off += n * SH_PAGE;
		}
	}
	return 0;
}

/* After every page is classified: each guest's duplicate counts. */
static void sh_tally(struct sh_scan *s)
{
	struct sharing_pass *p = s->p;
	uint64_t idx, zero = 0;
	uint32_t gi;

	for (gi = 0; gi < p->nr_guests; gi++) {
		struct sharing_guest *sg = &p->guests[gi];
		uint64_t bit = 1ull << gi;

		zero += sg->zero_pages;
		p->scanned_pages += sg->scanned_pages;
		for (idx = 0; idx < sg->nr_pages; idx++) {
			const struct sh_class *c;
			uint32_t id = s->pcls[gi][idx];

			if (!id)
				continue;
			c = &s->cls[id];
			if (c->multi & bit) {
				sg->flags[idx] |= SHARING_DUP;
				sg->dup_pages++;
			}
			if (c->mask & ~bit) {
				sg->flags[idx] |= SHARING_CROSS;
				sg->cross_pages++;
			}
			if (!(c->multi & bit) && !(c->mask & ~bit))
				sg->unique_pages++;
		}
	}
	p->zero_pages = zero;
	p->distinct_pages = s->nr_cls - 1;
	/* ESX: every zero page maps the one shared zero frame */
	p->saved_pages = p->scanned_pages - p->distinct_pages - (zero ? 1 : 0);
	p->saved_nonzero_pages = p->scanned_pages - zero - p->distinct_pages;
}

/* Free a pass result (NULL is fine). */
void sharing_pass_free(struct sharing_pass *p)
{
	uint32_t gi;

	if (!p)
		return;
	for (gi = 0; gi < p->nr_guests; gi++)
		free(p->guests[gi].flags);
	free(p->guests);
	free(p);
}

static void sh_scan_free(struct sh_scan *s)
{
	uint32_t gi;

	if (s->pcls)
		for (gi = 0; gi < s->p->nr_guests; gi++)
			free(s->pcls[gi]);
	free(s->pcls);
	free(s->buckets);
	free(s->cls);
	free(s->rep);
}

/*
 * One pass over the nr guests of src (at most VPV_MAX_GUESTS; their fds
 * stay the caller's).  A guest whose scan fails (read error) keeps its
 * error in its result and counts what it scanned before; out of memory
 * fails the pass.  *cancel, read atomically, stops the pass between
 * batches (-ECANCELED).  Returns 0 and the result in *out, or -errno.
 * CPU and wall time are read once each at the start and the end (a
 * CPU-clock read costs microseconds: never per page).
 */
int sharing_scan(const struct sharing_src *src, size_t nr,
		 const bool *cancel, struct sharing_pass **out)
{
	uint64_t c0 = sh_clock_us(CLOCK_THREAD_CPUTIME_ID);
	uint64_t w0 = sh_clock_us(CLOCK_MONOTONIC), total = 0;
	static const bool no_cancel;
	struct sh_scan s = { .src = src, .cancel = cancel ?: &no_cancel };
	struct sharing_pass *p;
	uint8_t *buf = NULL;
	uint32_t gi;
	int ret = -ENOMEM;

	*out = NULL;
	if (nr > VPV_MAX_GUESTS)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	s.p = p;
	p->guests = calloc(nr ?: 1, sizeof(*p->guests));
	s.pcls = calloc(nr ?: 1, sizeof(*s.pcls));
	if (!p->guests || !s.pcls)
		goto fail;
	p->nr_guests = (uint32_t)nr;
	for (gi = 0; gi < nr; gi++) {
		struct sharing_guest *sg = &p->guests[gi];

		snprintf(sg->name, sizeof(sg->name), "%s", src[gi].name);
		sg->nr_pages = src[gi].nr_pages;
		sg->lowmem_pages = src[gi].lowmem_pages;
		sg->flags = calloc(sg->nr_pages ?: 1, 1);
		s.pcls[gi] = calloc(sg->nr_pages ?: 1, sizeof(uint32_t));
		if (!sg->flags || !s.pcls[gi])
			goto fail;
		total += sg->nr_pages;
	}
	/* class ids are uint32_t; guest RAM is at most what QEMU maps */
	if (total >= UINT32_MAX) {
		ret = -E2BIG;
		goto fail;
	}
	/* one bucket per page (power of two): chains of about one */
	for (s.nr_buckets = 1; s.nr_buckets < total; s.nr_buckets <<= 1)
		;
	s.buckets = calloc(s.nr_buckets, sizeof(*s.buckets));
	s.max_cls = total + 1;
	s.cap_cls = s.max_cls < 1024 ? s.max_cls : 1024;
	s.cls = malloc(s.cap_cls * sizeof(*s.cls));
	s.nr_cls = 1;
	s.rep = malloc(SH_PAGE);
	buf = malloc((size_t)SH_BATCH * SH_PAGE);
	if (!s.buckets || !s.cls || !s.rep || !buf)
		goto fail;
	for (gi = 0; gi < nr; gi++) {
		ret = sh_scan_guest(&s, gi, buf);
		if (ret == -ENOMEM || ret == -ECANCELED)
			goto fail;
		p->guests[gi].err = ret;
	}
	sh_tally(&s);
	p->cpu_us = sh_clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
	p->wall_us = sh_clock_us(CLOCK_MONOTONIC) - w0;
	p->table_bytes = s.nr_buckets * sizeof(*s.buckets) +
			 s.cap_cls * sizeof(*s.cls) +
			 total * (sizeof(uint32_t) + 1);
	sh_scan_free(&s);
	free(buf);
	*out = p;
	return 0;
fail:
	sh_scan_free(&s);
	sharing_pass_free(p);
	free(buf);
	return ret;
}

/*
 * Count the classes of guest sg's pages in PFNs [start, end] (RAM only:
 * the PCI hole has none).  Returns the PFNs of RAM the range held.
 */
uint64_t sharing_range(const struct sharing_guest *sg, uint64_t start,
		       uint64_t end, struct sharing_counts *c)
{
	const uint64_t pfn4g = 0x100000000ull / SH_PAGE;
	uint64_t pfn, idx, n = 0;

	memset(c, 0, sizeof(*c));
	for (pfn = start; pfn <= end; pfn++) {
		uint8_t f;

		if (pfn >= sg->lowmem_pages && pfn < pfn4g)
			pfn = pfn4g;	/* skip the hole */
		if (pfn > end)
			break;
		idx = pfn < pfn4g ? pfn : sg->lowmem_pages + (pfn - pfn4g);
		if (idx >= sg->nr_pages)
			break;
		n++;
		f = sg->flags[idx];
		if (!f)
			continue;
		c->scanned++;
		if (f & SHARING_ZERO)
			c->zero++;
		if (f & SHARING_DUP)
			c->dup++;
		if (f & SHARING_CROSS)
			c->cross++;
		if (f == SHARING_DATA)
			c->unique++;
	}
	return n;
}

/* ---- the pass thread (main thread's side) ---- */

static pthread_mutex_t sh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sharing_pass *sh_done;	/* sh_lock: finished, not picked up */
static bool sh_finished;		/* sh_lock: the thread is done */
static int sh_err;			/* sh_lock: its error, 0 if none */
/* main thread */
static bool sh_running;
static bool sh_cancel;		/* atomic: stop the running pass */
static pthread_t sh_thread;
static uint64_t sh_seq;		/* passes started */
static struct sharing_pass *sh_last;	/* the latest finished pass */
static int sh_last_err;		/* the latest pass that failed, -errno */
static struct sharing_src sh_src[VPV_MAX_GUESTS];
static size_t sh_nr_src;

static void *sh_main(void *arg)
{
	struct sharing_pass *p = NULL;
	int ret;

	(void)arg;
	if (pthread_setschedparam(pthread_self(), SCHED_BATCH,
				  &(struct sched_param){ 0 }) ||
	    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SH_NICE))
		fprintf(stderr,
			"vpv-host: sharing scan: cannot lower its priority\n");
	/* sh_src was written before pthread_create(): ordered by it */
	ret = sharing_scan(sh_src, sh_nr_src, &sh_cancel, &p);
	/* the result, written above, is published by the unlock */
	pthread_mutex_lock(&sh_lock);
	sh_done = p;
	sh_err = ret;
	sh_finished = true;
	pthread_mutex_unlock(&sh_lock);
	return NULL;
}

/* Main thread: close the snapshot's fds. */
static void sh_src_release(void)
{
	size_t i;

	for (i = 0; i < sh_nr_src; i++)
		close(sh_src[i].fd);
	sh_nr_src = 0;
}

/* Main thread: pick up a finished pass, if any. */
static void sh_collect(void)
{
	struct sharing_pass *p;
	bool fin;
	int err;

	if (!sh_running)
		return;
	pthread_mutex_lock(&sh_lock);
	fin = sh_finished;
	p = sh_done;
	err = sh_err;
	sh_done = NULL;
	sh_finished = false;
	pthread_mutex_unlock(&sh_lock);
	if (!fin)
		return;
	pthread_join(sh_thread, NULL);
	sh_running = false;
	sh_src_release();
	if (p) {
		p->seq = sh_seq;
		sharing_pass_free(sh_last);
		sh_last = p;
	}
	sh_last_err = err;
}

/*
 * Main thread: start a pass over h's guests unless one runs.  Returns
 * the number of the pass that runs now (started or already running),
 * or -errno (the pass could not start).
 */
int64_t sharing_start(struct host *h)
{
	size_t i;
	int ret;

	sh_collect();
	if (sh_running)
		return (int64_t)sh_seq;
	for (i = 0; i < h->nr_guests; i++) {
		const struct guest *g = &h->guests[i];
		struct sharing_src *s = &sh_src[sh_nr_src];

		if (g->state == GUEST_REMOVED || g->ram_fd < 0 ||
		    sh_nr_src == ARRAY_SIZE(sh_src))
			continue;
		s->fd = fcntl(g->ram_fd, F_DUPFD_CLOEXEC, 0);
		if (s->fd < 0) {
			ret = -errno;
			sh_src_release();
			return ret;
		}
		snprintf(s->name, sizeof(s->name), "%s", g->name);
		s->nr_pages = g->ram_size / SH_PAGE;
		s->lowmem_pages = g->lowmem / SH_PAGE;
		sh_nr_src++;
	}
	/* relaxed: pthread_create() orders it before the thread starts */
	__atomic_store_n(&sh_cancel, false, __ATOMIC_RELAXED);
	ret = -pthread_create(&sh_thread, NULL, sh_main, NULL);
	if (ret) {
		sh_src_release();
		return ret;
	}
	sh_running = true;
	sh_seq++;
	return (int64_t)sh_seq;
}

/*
 * Main thread: the latest finished pass (NULL: none yet; valid until
 * the next call of a sharing_*() function), whether one runs now and
 * its number, and the error of the latest pass that failed.
 */
const struct sharing_pass *sharing_latest(bool *running, uint64_t *run_seq,
					  int *err)
{
	sh_collect();
	*running = sh_running;
	*run_seq = sh_running ? sh_seq : 0;
	*err = sh_last_err;
	return sh_last;
}

/* Main thread, at exit: stop a running pass, free the latest result. */
void sharing_stop(void)
{
	if (sh_running) {
		/* relaxed: seen within a batch; the join waits for it */
		__atomic_store_n(&sh_cancel, true, __ATOMIC_RELAXED);
		pthread_join(sh_thread, NULL);
		pthread_mutex_lock(&sh_lock);
		sharing_pass_free(sh_done);
		sh_done = NULL;
		sh_finished = false;
		pthread_mutex_unlock(&sh_lock);
		sh_running = false;
		sh_src_release();
	}
	sharing_pass_free(sh_last);
	sh_last = NULL;
	sh_last_err = 0;
}
