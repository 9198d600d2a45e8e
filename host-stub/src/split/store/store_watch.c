// SPDX-License-Identifier: GPL-2.0
/*
 * The config store's watches: guests' watches (events queued on their
 * rings), the host's internal watches (callbacks queued here and run
 * by store_run_deferred() after the store lock is dropped, so a
 * callback -- the bus -- may take its own locks and call the store
 * again), and the firing of a change or of a commit's batch of them.
 *
 * Everything but store_run_deferred(), store_defer_hold(),
 * store_watch_host() and store_unwatch_host() runs with the store lock
 * held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "store_core.h"

struct swatch {
	char *path;		/* absolute */
	char *token;
	bool relative;		/* events relative to the guest's home */
	store_watch_fn cb;	/* host watches */
	void *ctx;
	struct swatch *next;
};

static struct swatch *host_watches;

struct deferred {
	store_watch_fn cb;
	void *ctx;
	char *path;
	struct deferred *next;
};

static struct deferred *def_head, **def_tail = &def_head;
static __thread bool def_running;
static __thread int def_hold;

void store_defer_hold(int delta)
{
	def_hold += delta;
}

/* ---- firing ---- */

static void defer(store_watch_fn cb, void *ctx, const char *path)
{
	struct deferred *d = calloc(1, sizeof(*d));

	if (!d)
		return;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return;
	}
	d->cb = cb;
	d->ctx = ctx;
	*def_tail = d;
	def_tail = &d->next;
}

void store_run_deferred(void)
{
	struct deferred *d;

	if (def_running || def_hold)
		return;
	def_running = true;
	for (;;) {
		store_lock();
		d = def_head;
		if (d) {
			def_head = d->next;
			if (!def_head)
				def_tail = &def_head;
		}
		store_unlock();
		if (!d)
			break;
		d->cb(d->ctx, d->path);
		free(d->path);
		free(d);
	}
	def_running = false;
}

static void watch_event(struct store_guest *sg, struct swatch *w,
			const char *path)
{
	size_t hl = strlen(sg->home);

	if (w->relative && store_in_subtree(path, sg->home) && path[hl])
		path += hl + 1;
	store_queue_msg_locked(sg, VPV_STORE_WATCH_EVENT, 0, 0, path,
			       strlen(path) + 1, w->token,
			       strlen(w->token) + 1, true);
}

static void fire_host(const char *path, bool rm)
{
	struct swatch *w;

	for (w = host_watches; w; w = w->next) {
		if (store_in_subtree(path, w->path))
			defer(w->cb, w->ctx, path);
		else if (rm && store_in_subtree(w->path, path))
			defer(w->cb, w->ctx, w->path);
	}
}

/* Does a change of path concern guest d's watch w?  *rep: the path */
static bool watch_match(uint32_t d, const struct swatch *w, const char *path,
			bool rm, const char **rep)
{
	if (store_in_subtree(path, w->path))
		*rep = path;
	else if (rm && store_in_subtree(w->path, path))
		*rep = w->path;
	else
		return false;
	return rm || store_may_read(d, path, store_lookup(path));
}

void store_fire_locked(const char *path, bool rm)
{
	struct store_guest *sg;
	struct swatch *w;
	const char *rep;
	uint32_t d;

	fire_host(path, rm);
	for (d = 1; d <= DOMAIN_MAX; d++) {
		sg = store_sg_locked(d);
		for (w = sg ? sg->watches : NULL; w; w = w->next)
			if (watch_match(d, w, path, rm, &rep))
				watch_event(sg, w, rep);
	}
}

/*
 * The changes of one commit.  A guest's output queue keeps its newest
 * STORE_OUTQ_MAX events only, so each guest is given just those (in
 * order; older ones counted as dropped): the work is bounded by the
 * queue, not by ops x watches allocations.  A truncated batch counts
 * as one drop.
 */
void store_fire_batch_locked(const struct fired *ev, size_t nev)
{
	struct { const struct swatch *w; const char *rep; } hit[STORE_OUTQ_MAX];
	struct store_guest *sg;
	struct swatch *w;
	size_t i, n;
	uint32_t d;

	for (i = 0; i < nev; i++)
		fire_host(ev[i].path, ev[i].rm);
	for (d = 1; d <= DOMAIN_MAX; d++) {
		sg = store_sg_locked(d);
		if (!sg || !sg->watches)
			continue;
		for (i = nev, n = 0; i-- > 0 && n < STORE_OUTQ_MAX; )
			for (w = sg->watches; w && n < STORE_OUTQ_MAX;
			     w = w->next)
				if (watch_match(d, w, ev[i].path, ev[i].rm,
						&hit[n].rep))
					hit[n++].w = w;
		if (n == STORE_OUTQ_MAX) {	/* older ones: dropped */
			STAT_INC(sg->g, store_watch_dropped);
			sg->dropped++;
		}
		while (n--)
			watch_event(sg, (struct swatch *)hit[n].w,
				    hit[n].rep);
	}
}

/* ---- guests' watches ---- */

int store_watch_add_locked(uint32_t caller, const char *path, bool relative,
			   const char *token)
{
	struct store_guest *sg = store_sg_locked(caller);
	struct swatch *w;

	if (!sg)
		return -EINVAL;
	if (strlen(token) > STORE_TOKEN_MAX)
		return -E2BIG;
	if (!store_may_read(caller, path, store_lookup(path)))
		return -EACCES;
	for (w = sg->watches; w; w = w->next)
		if (!strcmp(w->path, path) && !strcmp(w->token, token))
			return -EEXIST;
	if (sg->nr_watches >= VPV_STORE_WATCHES_MAX)
		return -ENOSPC;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		free(w->path);
		free(w->token);
		free(w);
		return -ENOMEM;
	}
	w->relative = relative;
	w->next = sg->watches;
	sg->watches = w;
	sg->nr_watches++;
	return 0;
}

void store_watch_fire_new_locked(uint32_t caller, const char *path)
{
	struct store_guest *sg = store_sg_locked(caller);

	if (sg && sg->watches && !strcmp(sg->watches->path, path))
		watch_event(sg, sg->watches, path);
}

static void watch_free(struct swatch *w)
{
	free(w->path);
	free(w->token);
	free(w);
}

int store_watch_del_locked(uint32_t caller, const char *path,
			   const char *token)
{
	struct store_guest *sg = store_sg_locked(caller);
	struct swatch **pp, *w;

	for (pp = sg ? &sg->watches : NULL; pp && *pp; pp = &(*pp)->next) {
		w = *pp;
		if (!strcmp(w->path, path) && !strcmp(w->token, token)) {
			*pp = w->next;
			watch_free(w);
			sg->nr_watches--;
			return 0;
		}
	}
	return -ENOENT;
}

void store_watches_free_locked(struct store_guest *sg)
{
	struct swatch *w;

	while ((w = sg->watches)) {
		sg->watches = w->next;
		watch_free(w);
	}
	sg->nr_watches = 0;
}

/* ---- host watches ---- */

int store_watch_host(const char *path, store_watch_fn cb, void *ctx)
{
	struct swatch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup("");
	if (!w->path || !w->token) {
		watch_free(w);
		return -ENOMEM;
	}
	w->cb = cb;
	w->ctx = ctx;
	store_lock();
	w->next = host_watches;
	host_watches = w;
	defer(cb, ctx, path);
	store_unlock();
	store_run_deferred();
	return 0;
}

void store_unwatch_host(const char *path, store_watch_fn cb, void *ctx)
{
	struct swatch **pp, *w;

	store_lock();
	for (pp = &host_watches; *pp; pp = &(*pp)->next) {
		w = *pp;
		if (w->cb == cb && w->ctx == ctx && !strcmp(w->path, path)) {
			*pp = w->next;
			watch_free(w);
			break;
		}
	}
	store_unlock();
}
