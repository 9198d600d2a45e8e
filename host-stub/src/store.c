// SPDX-License-Identifier: GPL-2.0
/*
 * The config store, core: a tree of nodes with owners and readers,
 * per-guest accounting and limits, watches and transactions.
 *
 * One mutex (store_mtx) protects the tree, every guest's store state
 * (store_ring.c's ring and output queue included) and the host
 * watches.  Host-internal watch callbacks are queued and run by
 * store_run_deferred() after the lock is dropped, so a callback (the
 * bus) may take its own locks and call the store again.
 *
 * Permissions: the host (STORE_DOMID_HOST, vpv-ctl, back-ends) may do
 * anything.  A guest reads and writes its home subtree
 * /local/domain/<domid> and reads nodes whose readers include it.
 * Nodes a guest creates are its own; nodes the host creates inherit
 * the parent's owner and readers.  A guest is charged for the nodes it
 * owns.
 *
 * Transactions buffer their writes and remember the generation of
 * every node they looked at (0: absent); commit fails with EAGAIN if
 * any of them changed.  Every change to a node (value, creation, a
 * child added or removed) gives it a new generation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "store_int.h"

static pthread_mutex_t store_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct snode *root;
static uint64_t gen_counter;
static struct store_guest *sgs[DOMAIN_MAX + 1];
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

void store_lock(void)
{
	pthread_mutex_lock(&store_mtx);
}

void store_unlock(void)
{
	pthread_mutex_unlock(&store_mtx);
}

struct store_guest *store_sg_locked(uint32_t domid)
{
	return domid && domid <= DOMAIN_MAX ? sgs[domid] : NULL;
}

const char *store_errname(int err)
{
	switch (-err) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case E2BIG: return "E2BIG";
	case ENOSPC: return "ENOSPC";
	case EBUSY: return "EBUSY";
	case EAGAIN: return "EAGAIN";
	case EEXIST: return "EEXIST";
	case ENOMEM: return "ENOMEM";
	default: return "EINVAL";
	}
}

/* ---- paths ---- */

bool store_in_subtree(const char *path, const char *base)
{
	size_t n = strlen(base);

	if (!strcmp(base, "/"))
		return path[0] == '/';
	return !strncmp(path, base, n) && (path[n] == '\0' || path[n] == '/');
}

static void home_of(uint32_t domid, char *buf, size_t size)
{
	snprintf(buf, size, "/local/domain/%u", domid);
}

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '@' || c == ':' || c == '/';
}

/*
 * in (len bytes, no NUL inside) -> absolute path in out
 * [VPV_STORE_PATH_MAX + 1].  Relative paths are below caller's home.
 */
int store_norm_path(uint32_t caller, const char *in, size_t len, char *out,
		    bool *relative)
{
	char home[32];
	size_t hl = 0, i;

	if (!len)
		return -EINVAL;
	if (len > VPV_STORE_PATH_MAX)
		return -E2BIG;
	*relative = in[0] != '/';
	if (*relative) {
		home_of(caller, home, sizeof(home));
		hl = strlen(home);
		memcpy(out, home, hl);
		out[hl++] = '/';
	}
	if (hl + len > VPV_STORE_PATH_MAX)
		return -E2BIG;
	memcpy(out + hl, in, len);
	out[hl + len] = '\0';
	len += hl;
	for (i = 0; i < len; i++) {
		if (!path_char_ok(out[i]))
			return -EINVAL;
		if (out[i] == '/' && i + 1 < len && out[i + 1] == '/')
			return -EINVAL;
	}
	if (len > 1 && out[len - 1] == '/')
		return -EINVAL;
	return 0;
}

/* ---- nodes ---- */

static uint32_t name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (len--)
		h = (h ^ (uint8_t)*name++) * 16777619u;
	return h;
}

static struct snode *node_new(const char *name, size_t nlen)
{
	struct snode *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, nlen);
	n->nlen = nlen;
	n->hash = name_hash(name, nlen);
	n->val = strdup("");
	if (!n->name || !n->val) {
		free(n->name);
		free(n->val);
		free(n);
		return NULL;
	}
	n->gen = ++gen_counter;
	return n;
}

/*
 * Every linked node is in one hash table keyed by (parent, name), so a
 * lookup costs the path's depth, never the width of a directory.
 * Sized for every guest at its node limit (2 MiB of buckets), so it
 * never rehashes under the lock; the host's own nodes only lengthen
 * the chains.
 */
#define CTAB_BITS	18
static struct snode **ctab;

static struct snode **ctab_bucket(const struct snode *parent, uint32_t h)
{
	uint64_t k = ((uintptr_t)parent >> 4) * 0x9e3779b97f4a7c15ull ^ h;

	return &ctab[(k ^ k >> 29) & ((1u << CTAB_BITS) - 1)];
}

static void ctab_add(struct snode *c)
{
	struct snode **b = ctab_bucket(c->parent, c->hash);

	c->hnext = *b;
	*b = c;
}

static void ctab_del(struct snode *c)
{
	struct snode **pp = ctab_bucket(c->parent, c->hash);

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			return;
		}
	}
}

static struct snode *child_find(struct snode *p, const char *name, size_t len)
{
	uint32_t h = name_hash(name, len);
	struct snode *c;

	for (c = *ctab_bucket(p, h); c; c = c->hnext)
		if (c->parent == p && c->hash == h && c->nlen == len &&
		    !memcmp(c->name, name, len))
			return c;
	return NULL;
}

/* Make c the first child of p. */
static void child_link(struct snode *p, struct snode *c)
{
	c->parent = p;
	c->prev = NULL;
	c->next = p->child;
	if (c->next)
		c->next->prev = c;
	p->child = c;
	ctab_add(c);
}

struct snode *store_lookup(const char *path)
{
	struct snode *n = root;
	const char *p = path + 1, *e;

	while (n && *p) {
		e = strchr(p, '/');
		if (!e)
			e = p + strlen(p);
		n = child_find(n, p, e - p);
		p = *e ? e + 1 : e;
	}
	return n;
}

static uint64_t path_gen(const char *path)
{
	struct snode *n = store_lookup(path);

	return n ? n->gen : 0;
}

static void charge(uint32_t owner, int delta)
{
	struct store_guest *sg = store_sg_locked(owner);

	if (sg)
		sg->nr_nodes += delta;
}

static bool may_write(uint32_t caller, const char *path)
{
	struct store_guest *sg = store_sg_locked(caller);
	char home[32];

	if (caller == STORE_DOMID_HOST)
		return true;
	if (sg)
		return store_in_subtree(path, sg->home);
	home_of(caller, home, sizeof(home));
	return store_in_subtree(path, home);
}

static bool node_readable(uint32_t caller, const struct snode *n)
{
	unsigned int i;

	for (i = 0; n && i < n->nr_readers; i++)
		if (n->readers[i] == caller)
			return true;
	return false;
}

static bool may_read(uint32_t caller, const char *path, const struct snode *n)
{
	return may_write(caller, path) || node_readable(caller, n);
}

/* Nodes path needs that do not exist yet. */
static unsigned int missing_nodes(const char *path)
{
	struct snode *n = root;
	const char *p = path + 1, *e;
	unsigned int missing = 0;

	while (*p) {
		e = strchr(p, '/');
		if (!e)
			e = p + strlen(p);
		if (n)
			n = child_find(n, p, e - p);
		missing += !n;
		p = *e ? e + 1 : e;
	}
	return missing;
}

/*
 * Undo log of a commit: every change a transaction's ops make to the
 * tree, so a commit that fails part-way is rolled back to the tree it
 * started from.  Watch events are held back until the commit is sure.
 */
enum { UNDO_CREATE, UNDO_VAL, UNDO_RM };

struct fired {
	const char *path;	/* an op's path: lives as long as the tx */
	bool rm;
};

struct undo_ent {
	int type;
	struct snode *n;
	struct snode *prev;	/* UNDO_RM: the sibling before n, or NULL */
	char *val;		/* UNDO_VAL: the old value */
	uint32_t len;
	uint64_t gen;		/* VAL: n's old gen; CREATE, RM: parent's */
};

struct undo {
	struct undo_ent *v;
	size_t n, cap;
	struct fired *ev;
	size_t nev, evcap;
};

/* Room for at least want more entries; nothing changes on failure. */
static int undo_reserve(struct undo *u, size_t want)
{
	size_t cap = u->cap ? u->cap : 64;
	struct undo_ent *v;

	if (u->n + want <= u->cap)
		return 0;
	while (cap < u->n + want)
		cap *= 2;
	v = realloc(u->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	u->v = v;
	u->cap = cap;
	return 0;
}

/* caller reserved the room */
static void undo_push(struct undo *u, int type, struct snode *n,
		      struct snode *prev, uint64_t gen)
{
	struct undo_ent *e = &u->v[u->n++];

	e->type = type;
	e->n = n;
	e->prev = prev;
	e->val = n->val;
	e->len = n->len;
	e->gen = gen;
}

/* Find or create path (and its parents).  *created: it is new. */
static int node_make(uint32_t caller, const char *path, struct snode **out,
		     bool *created, struct undo *u)
{
	struct store_guest *sg = store_sg_locked(caller);
	struct snode *n = root, *c;
	const char *p = path + 1, *e;
	unsigned int miss = missing_nodes(path);

	*created = false;
	if (sg && sg->nr_nodes + miss > VPV_STORE_NODES_MAX)
		return -ENOSPC;
	if (u && undo_reserve(u, miss))
		return -ENOMEM;
	while (*p) {
		e = strchr(p, '/');
		if (!e)
			e = p + strlen(p);
		c = child_find(n, p, e - p);
		if (!c) {
			c = node_new(p, e - p);
			if (!c)
				return -ENOMEM;
			if (u)
				undo_push(u, UNDO_CREATE, c, NULL, n->gen);
			child_link(n, c);
			n->gen = ++gen_counter;
			if (caller == STORE_DOMID_HOST) {
				c->owner = n->owner;
				memcpy(c->readers, n->readers,
				       sizeof(c->readers));
				c->nr_readers = n->nr_readers;
			} else {
				c->owner = caller;
			}
			charge(c->owner, 1);
			*created = true;
		}
		n = c;
		p = *e ? e + 1 : e;
	}
	*out = n;
	return 0;
}

static void node_charge_tree(struct snode *n, int delta)
{
	struct snode *c;

	for (c = n->child; c; c = c->next)
		node_charge_tree(c, delta);
	charge(n->owner, delta);
}

static void node_free_raw(struct snode *n)
{
	struct snode *c, *next;

	for (c = n->child; c; c = next) {
		next = c->next;
		node_free_raw(c);
	}
	ctab_del(n);
	free(n->name);
	free(n->val);
	free(n);
}

static void node_free_tree(struct snode *n)
{
	node_charge_tree(n, -1);
	node_free_raw(n);
}

/*
 * Unlink n from its parent; returns the sibling that was before it.
 * Its descendants stay in the hash table until freed: they are keyed
 * by their own parents, which nothing reaches any more.
 */
static struct snode *node_unlink(struct snode *n)
{
	struct snode *prev = n->prev;

	ctab_del(n);
	if (prev)
		prev->next = n->next;
	else
		n->parent->child = n->next;
	if (n->next)
		n->next->prev = prev;
	n->parent->gen = ++gen_counter;
	return prev;
}

/* Put n back where node_unlink() took it from (after prev). */
static void node_relink(struct snode *n, struct snode *prev)
{
	n->prev = prev;
	n->next = prev ? prev->next : n->parent->child;
	if (n->next)
		n->next->prev = n;
	if (prev)
		prev->next = n;
	else
		n->parent->child = n;
	ctab_add(n);
}

/* Undo every change in u, newest first. */
static void undo_rollback(struct undo *u)
{
	struct undo_ent *e;

	while (u->n) {
		e = &u->v[--u->n];
		switch (e->type) {
		case UNDO_VAL:
			free(e->n->val);
			e->n->val = e->val;
			e->n->len = e->len;
			e->n->gen = e->gen;
			break;
		case UNDO_CREATE:	/* a leaf again: its changes are undone */
			node_unlink(e->n);
			e->n->parent->gen = e->gen;
			node_free_tree(e->n);
			break;
		case UNDO_RM:
			node_relink(e->n, e->prev);
			e->n->parent->gen = e->gen;
			node_charge_tree(e->n, 1);
			break;
		}
	}
}

/* The commit holds: free what the changes replaced. */
static void undo_release(struct undo *u)
{
	size_t i;

	for (i = 0; i < u->n; i++) {
		if (u->v[i].type == UNDO_VAL)
			free(u->v[i].val);
		else if (u->v[i].type == UNDO_RM)
			node_free_raw(u->v[i].n);	/* uncharged at rm */
	}
	u->n = 0;
}

/* ---- watches ---- */

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
	return rm || may_read(d, path, store_lookup(path));
}

/* path changed (rm: removed with its subtree) */
static void fire(const char *path, bool rm)
{
	struct swatch *w;
	const char *rep;
	uint32_t d;

	fire_host(path, rm);
	for (d = 1; d <= DOMAIN_MAX; d++)
		for (w = sgs[d] ? sgs[d]->watches : NULL; w; w = w->next)
			if (watch_match(d, w, path, rm, &rep))
				watch_event(sgs[d], w, rep);
}

/*
 * The changes of one commit.  A guest's output queue keeps its newest
 * STORE_OUTQ_MAX events only, so each guest is given just those (in
 * order; older ones counted as dropped): the work is bounded by the
 * queue, not by ops x watches allocations.  A truncated batch counts
 * as one drop.
 */
static void fire_batch(const struct fired *ev, size_t nev)
{
	struct { const struct swatch *w; const char *rep; } hit[STORE_OUTQ_MAX];
	struct swatch *w;
	size_t i, n;
	uint32_t d;

	for (i = 0; i < nev; i++)
		fire_host(ev[i].path, ev[i].rm);
	for (d = 1; d <= DOMAIN_MAX; d++) {
		if (!sgs[d] || !sgs[d]->watches)
			continue;
		for (i = nev, n = 0; i-- > 0 && n < STORE_OUTQ_MAX; )
			for (w = sgs[d]->watches; w && n < STORE_OUTQ_MAX;
			     w = w->next)
				if (watch_match(d, w, ev[i].path, ev[i].rm,
						&hit[n].rep))
					hit[n++].w = w;
		if (n == STORE_OUTQ_MAX) {	/* older ones: dropped */
			STAT_INC(sgs[d]->g, store_watch_dropped);
			sgs[d]->dropped++;
		}
		while (n--)
			watch_event(sgs[d], (struct swatch *)hit[n].w,
				    hit[n].rep);
	}
}

/* ---- transactions ---- */

static struct stx *tx_find(struct store_guest *sg, uint32_t id)
{
	struct stx *t;

	for (t = sg ? sg->txs : NULL; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static int tx_get(uint32_t caller, uint32_t id, struct stx **t)
{
	*t = NULL;
	if (!id)
		return 0;
	*t = tx_find(store_sg_locked(caller), id);
	return *t ? 0 : -EINVAL;
}

/* Charge cost bytes of t to its guest; -ENOSPC beyond the bound. */
static int tx_charge(struct stx *t, size_t cost)
{
	if (cost > STORE_TX_BYTES_MAX - t->sg->tx_bytes)
		return -ENOSPC;
	t->sg->tx_bytes += cost;
	t->bytes += cost;
	return 0;
}

/* Remember path's generation the first time t looks at it. */
static int tx_record(struct stx *t, const char *path)
{
	struct txrec **b, *r;
	size_t cost = STORE_TX_OP_COST + strlen(path);

	b = &t->recs[name_hash(path, strlen(path)) % STORE_TX_HASH];
	for (r = *b; r; r = r->next)
		if (!strcmp(r->path, path))
			return 0;
	if (t->nr_recs >= STORE_TX_PATHS_MAX || tx_charge(t, cost))
		return -ENOSPC;
	r = calloc(1, sizeof(*r));
	if (r)
		r->path = strdup(path);
	if (!r || !r->path) {
		free(r);
		t->sg->tx_bytes -= cost;
		t->bytes -= cost;
		return -ENOMEM;
	}
	r->gen = path_gen(path);
	r->next = *b;
	*b = r;
	t->nr_recs++;
	return 0;
}

static void txop_free(struct txop *o)
{
	free(o->path);
	free(o->val);
	free(o);
}

static int tx_add_op(struct stx *t, int type, const char *path,
		     const void *val, uint32_t len)
{
	size_t cost = STORE_TX_OP_COST + strlen(path) + len;
	struct txop *o;
	int ret;

	if (t->nr_ops >= STORE_TX_OPS_MAX)
		return -ENOSPC;
	ret = tx_record(t, path);
	if (ret)
		return ret;
	if (tx_charge(t, cost))
		return -ENOSPC;
	o = calloc(1, sizeof(*o));
	if (o) {
		o->path = strdup(path);
		o->val = malloc(len + 1);
	}
	if (!o || !o->path || !o->val) {
		if (o)
			txop_free(o);
		t->sg->tx_bytes -= cost;
		t->bytes -= cost;
		return -ENOMEM;
	}
	o->type = type;
	memcpy(o->val, val, len);
	o->val[len] = '\0';
	o->len = len;
	*t->ops_tail = o;
	t->ops_tail = &o->next;
	t->nr_ops++;
	return 0;
}

static void tx_free(struct stx *t)
{
	struct txrec *r, *rn;
	struct txop *o, *on;
	unsigned int i;

	for (i = 0; i < STORE_TX_HASH; i++) {
		for (r = t->recs[i]; r; r = rn) {
			rn = r->next;
			free(r->path);
			free(r);
		}
	}
	for (o = t->ops; o; o = on) {
		on = o->next;
		txop_free(o);
	}
	t->sg->tx_bytes -= t->bytes;
	free(t);
}

/* Does path exist as seen by t?  val/len: its value then. */
static bool tx_view(struct stx *t, const char *path, const char **val,
		    uint32_t *len)
{
	struct snode *n = store_lookup(path);
	bool exists = n;
	struct txop *o;

	*val = n ? n->val : "";
	*len = n ? n->len : 0;
	for (o = t ? t->ops : NULL; o; o = o->next) {
		if (o->type == VPV_STORE_RM) {
			if (store_in_subtree(path, o->path))
				exists = false;
		} else if (o->type == VPV_STORE_WRITE &&
			   !strcmp(o->path, path)) {
			exists = true;
			*val = o->val;
			*len = o->len;
		} else if (store_in_subtree(o->path, path) && !exists) {
			exists = true;
			*val = "";
			*len = 0;
		}
	}
	return exists;
}

/* ---- operations (store lock held; path absolute and valid) ---- */

static int op_read(uint32_t caller, struct stx *t, const char *path,
		   char **val, uint32_t *len)
{
	struct snode *n = store_lookup(path);
	const char *v;
	uint32_t l;

	if (!may_read(caller, path, n))
		return -EACCES;
	if (t) {
		int ret = tx_record(t, path);

		if (ret)
			return ret;
	}
	if (!tx_view(t, path, &v, &l))
		return -ENOENT;
	*val = malloc(l + 1);
	if (!*val)
		return -ENOMEM;
	memcpy(*val, v, l);
	(*val)[l] = '\0';
	*len = l;
	return 0;
}

/*
 * Child names of a directory as a transaction sees it: a hash set in
 * insertion order, so DIRECTORY is linear in children + ops.  Names
 * point into nodes and ops (valid while the lock is held).  clear()
 * bumps epoch: entries of an older epoch are absent.
 */
struct nameset {
	struct nsent {
		const char *name;
		uint32_t len;
		uint32_t epoch;		/* present while == ns epoch */
	} *v;
	uint32_t *order;	/* slots in insertion order */
	size_t cap, n;		/* cap: a power of two */
	uint32_t epoch;
};

static int ns_init(struct nameset *ns, size_t max)
{
	ns->cap = 16;
	while (ns->cap < 2 * max)
		ns->cap *= 2;
	ns->v = calloc(ns->cap, sizeof(*ns->v));
	ns->order = calloc(max ? max : 1, sizeof(*ns->order));
	ns->n = 0;
	ns->epoch = 1;
	return ns->v && ns->order ? 0 : -ENOMEM;
}

static void ns_free(struct nameset *ns)
{
	free(ns->v);
	free(ns->order);
}

static struct nsent *ns_slot(struct nameset *ns, const char *name,
			     uint32_t len)
{
	size_t k;

	for (k = name_hash(name, len) & (ns->cap - 1); ns->v[k].name;
	     k = (k + 1) & (ns->cap - 1))
		if (ns->v[k].len == len && !memcmp(ns->v[k].name, name, len))
			break;
	return &ns->v[k];
}

/* at most max (ns_init) distinct names are ever added */
static void ns_add(struct nameset *ns, const char *name, uint32_t len)
{
	struct nsent *e = ns_slot(ns, name, len);

	if (!e->name) {
		e->name = name;
		e->len = len;
		ns->order[ns->n++] = e - ns->v;
	}
	e->epoch = ns->epoch;
}

static void ns_del(struct nameset *ns, const char *name, uint32_t len)
{
	struct nsent *e = ns_slot(ns, name, len);

	if (e->name)
		e->epoch = 0;
}

/* The present names, each NUL-ended, into a malloc'ed buffer. */
static int ns_output(struct nameset *ns, char **names, uint32_t *len)
{
	size_t total = 0, i;
	struct nsent *e;
	char *p;

	for (i = 0; i < ns->n; i++) {
		e = &ns->v[ns->order[i]];
		if (e->epoch == ns->epoch)
			total += e->len + 1;
	}
	*names = p = malloc(total + 1);
	if (!p)
		return -ENOMEM;
	for (i = 0; i < ns->n; i++) {
		e = &ns->v[ns->order[i]];
		if (e->epoch != ns->epoch)
			continue;
		memcpy(p, e->name, e->len);
		p[e->len] = '\0';
		p += e->len + 1;
	}
	*p = '\0';
	*len = total;
	return 0;
}

/* What op o does to the children of path (pl: strlen(path)). */
static void dir_apply_op(struct nameset *ns, const struct txop *o,
			 const char *path, size_t pl)
{
	bool top = !strcmp(path, "/");
	const char *rest, *e;

	if (o->type == VPV_STORE_RM && store_in_subtree(path, o->path)) {
		ns->epoch++;		/* the directory itself went */
		return;
	}
	if (top ? !o->path[1] :
	    !store_in_subtree(o->path, path) || !o->path[pl])
		return;
	rest = o->path + (top ? 1 : pl + 1);
	e = strchr(rest, '/');
	if (o->type == VPV_STORE_RM && !e)
		ns_del(ns, rest, strlen(rest));
	else if (o->type != VPV_STORE_RM)
		ns_add(ns, rest, e ? (size_t)(e - rest) : strlen(rest));
}

static int op_directory(uint32_t caller, struct stx *t, const char *path,
			char **names, uint32_t *len)
{
	struct snode *n = store_lookup(path), *c;
	size_t pl = strlen(path), max = t ? t->nr_ops : 0;
	struct nameset ns;
	const struct txop *o;
	const char *v;
	uint32_t l;
	int ret;

	if (!may_read(caller, path, n))
		return -EACCES;
	if (t) {
		ret = tx_record(t, path);
		if (ret)
			return ret;
	}
	if (!tx_view(t, path, &v, &l))
		return -ENOENT;
	for (c = n ? n->child : NULL; c; c = c->next)
		max++;
	ret = ns_init(&ns, max);
	for (c = n ? n->child : NULL; c && !ret; c = c->next)
		ns_add(&ns, c->name, c->nlen);
	for (o = t ? t->ops : NULL; o && !ret; o = o->next)
		dir_apply_op(&ns, o, path, pl);
	if (!ret)
		ret = ns_output(&ns, names, len);
	ns_free(&ns);
	return ret;
}

/* A change: fired now, or held back in u until the commit holds. */
static void changed(struct undo *u, const char *path, bool rm)
{
	if (!u) {
		fire(path, rm);
		return;
	}
	u->ev[u->nev].path = path;	/* room: one per op */
	u->ev[u->nev++].rm = rm;
}

static int op_write(uint32_t caller, struct stx *t, const char *path,
		    const void *val, uint32_t len, bool mkdir, struct undo *u)
{
	struct snode *n;
	bool created;
	char *v;
	int ret;

	if (!may_write(caller, path))
		return -EACCES;
	if (len > VPV_STORE_PAYLOAD_MAX)
		return -E2BIG;
	if (!strcmp(path, "/"))
		return -EINVAL;
	if (t)
		return tx_add_op(t, mkdir ? VPV_STORE_MKDIR : VPV_STORE_WRITE,
				 path, val, len);
	ret = node_make(caller, path, &n, &created, u);
	if (ret)
		return ret;
	if (mkdir) {
		if (created)
			changed(u, path, false);
		return 0;
	}
	v = malloc(len + 1);
	if (!v || (u && undo_reserve(u, 1))) {
		free(v);
		return -ENOMEM;
	}
	memcpy(v, val, len);
	v[len] = '\0';
	if (u)
		undo_push(u, UNDO_VAL, n, NULL, n->gen);
	else
		free(n->val);
	n->val = v;
	n->len = len;
	n->gen = ++gen_counter;
	changed(u, path, false);
	return 0;
}

static int op_rm(uint32_t caller, struct stx *t, const char *path,
		 struct undo *u)
{
	struct snode *n, *prev;
	const char *v;
	uint64_t pgen;
	uint32_t l;

	if (!may_write(caller, path))
		return -EACCES;
	if (!strcmp(path, "/") || !strcmp(path, "/local") ||
	    !strcmp(path, "/local/domain"))
		return -EINVAL;
	if (caller != STORE_DOMID_HOST && store_sg_locked(caller) &&
	    !strcmp(path, store_sg_locked(caller)->home))
		return -EACCES;		/* a guest keeps its home */
	if (t) {
		if (!tx_view(t, path, &v, &l))
			return -ENOENT;
		return tx_add_op(t, VPV_STORE_RM, path, "", 0);
	}
	n = store_lookup(path);
	if (!n)
		return -ENOENT;
	if (u && undo_reserve(u, 1))
		return -ENOMEM;
	pgen = n->parent->gen;
	prev = node_unlink(n);
	if (u) {
		undo_push(u, UNDO_RM, n, prev, pgen);
		node_charge_tree(n, -1);	/* freed when the commit holds */
	} else {
		node_free_tree(n);
	}
	changed(u, path, true);
	return 0;
}

static int op_watch(uint32_t caller, const char *path, bool relative,
		    const char *token)
{
	struct store_guest *sg = store_sg_locked(caller);
	struct swatch *w;

	if (!sg)
		return -EINVAL;
	if (strlen(token) > STORE_TOKEN_MAX)
		return -E2BIG;
	if (!may_read(caller, path, store_lookup(path)))
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

/* fires the new watch once (after the OK when it comes from the ring) */
static void watch_fire_new(uint32_t caller, const char *path)
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

static int op_unwatch(uint32_t caller, const char *path, const char *token)
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

static int op_tx_start(uint32_t caller, uint32_t *id)
{
	struct store_guest *sg = store_sg_locked(caller);
	struct stx *t;

	if (!sg)
		return -EINVAL;
	if (sg->nr_tx >= VPV_STORE_TX_MAX)
		return -EBUSY;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	do {
		t->id = ++sg->next_tx;
	} while (!t->id || tx_find(sg, t->id));
	t->sg = sg;
	t->ops_tail = &t->ops;
	t->next = sg->txs;
	sg->txs = t;
	sg->nr_tx++;
	*id = t->id;
	return 0;
}

/* Has any node t looked at changed since? */
static bool tx_conflict(const struct stx *t)
{
	const struct txrec *r;
	unsigned int i;

	for (i = 0; i < STORE_TX_HASH; i++)
		for (r = t->recs[i]; r; r = r->next)
			if (path_gen(r->path) != r->gen)
				return true;
	return false;
}

/*
 * Apply t's ops all or nothing: permissions and sizes were checked as
 * each op arrived; what can still fail (the node limit, memory) rolls
 * every change back, and only a commit that holds fires watches.
 */
static int tx_commit(uint32_t caller, struct stx *t)
{
	struct undo u = { 0 };
	struct txop *o;
	int ret = 0;

	if (tx_conflict(t))
		return -EAGAIN;
	u.ev = calloc(t->nr_ops ? t->nr_ops : 1, sizeof(*u.ev));
	if (!u.ev)
		return -ENOMEM;
	for (o = t->ops; o && !ret; o = o->next) {
		if (o->type == VPV_STORE_RM) {
			ret = op_rm(caller, NULL, o->path, &u);
			if (ret == -ENOENT)
				ret = 0;
		} else {
			ret = op_write(caller, NULL, o->path, o->val, o->len,
				       o->type == VPV_STORE_MKDIR, &u);
		}
	}
	if (ret) {
		undo_rollback(&u);
	} else {
		undo_release(&u);
		fire_batch(u.ev, u.nev);
	}
	free(u.v);
	free(u.ev);
	return ret;
}

static int op_tx_end(uint32_t caller, uint32_t id, bool commit)
{
	struct store_guest *sg = store_sg_locked(caller);
	struct stx **pp, *t = NULL;
	int ret = 0;

	for (pp = sg ? &sg->txs : NULL; pp && *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			t = *pp;
			*pp = t->next;
			break;
		}
	}
	if (!t)
		return -ENOENT;
	sg->nr_tx--;
	if (commit)
		ret = tx_commit(caller, t);
	tx_free(t);
	return ret;
}

/* ---- message-level entry (ring dispatcher, store lock held) ---- */

static int payload_path(uint32_t caller, const char *p, uint32_t plen,
			char *abs, bool *relative, const char **rest,
			uint32_t *rlen)
{
	const char *nul = memchr(p, '\0', plen);
	size_t l = nul ? (size_t)(nul - p) : plen;

	*rest = nul ? nul + 1 : p + plen;
	*rlen = nul ? plen - l - 1 : 0;
	return store_norm_path(caller, p, l, abs, relative);
}

/*
 * Run one request of caller; answer in *out (malloc'ed, *olen bytes).
 * Returns 0 or a negative errno (no answer then).
 */
int store_request_locked(uint32_t caller, uint32_t type, uint32_t txid,
			 const char *p, uint32_t plen, char **out,
			 uint32_t *olen, bool *fire_watch, char *wpath)
{
	char abs[VPV_STORE_PATH_MAX + 1];
	const char *rest, *tokend;
	uint32_t rlen, id;
	bool rel;
	struct stx *t;
	int ret;

	*out = NULL;
	*olen = 0;
	*fire_watch = false;
	if (plen > VPV_STORE_PAYLOAD_MAX)
		return -E2BIG;
	ret = tx_get(caller, txid, &t);
	if (ret)
		return ret;
	switch (type) {
	case VPV_STORE_TRANSACTION_START:
		if (t)
			return -EINVAL;
		ret = op_tx_start(caller, &id);
		if (ret)
			return ret;
		*out = malloc(16);
		if (!*out)
			return -ENOMEM;
		*olen = snprintf(*out, 16, "%u", id) + 1;
		return 0;
	case VPV_STORE_TRANSACTION_END:
		if (!t || !plen || (p[0] != 'T' && p[0] != 'F') ||
		    (plen > 1 && p[1]))
			return -EINVAL;
		ret = op_tx_end(caller, txid, p[0] == 'T');
		break;
	case VPV_STORE_DIRECTORY:
	case VPV_STORE_READ:
	case VPV_STORE_WRITE:
	case VPV_STORE_MKDIR:
	case VPV_STORE_RM:
	case VPV_STORE_WATCH:
	case VPV_STORE_UNWATCH:
		ret = payload_path(caller, p, plen, abs, &rel, &rest, &rlen);
		if (ret)
			return ret;
		break;
	default:
		return -EINVAL;
	}
	switch (type) {
	case VPV_STORE_DIRECTORY:
		ret = op_directory(caller, t, abs, out, olen);
		if (!ret && *olen > VPV_STORE_PAYLOAD_MAX) {
			/* never send what the guest may not accept */
			free(*out);
			*out = NULL;
			*olen = 0;
			ret = -E2BIG;
		}
		return ret;
	case VPV_STORE_READ:
		return op_read(caller, t, abs, out, olen);
	case VPV_STORE_WRITE:
		ret = op_write(caller, t, abs, rest, rlen, false, NULL);
		break;
	case VPV_STORE_MKDIR:
		ret = op_write(caller, t, abs, "", 0, true, NULL);
		break;
	case VPV_STORE_RM:
		ret = op_rm(caller, t, abs, NULL);
		break;
	case VPV_STORE_WATCH:
	case VPV_STORE_UNWATCH:
		tokend = memchr(rest, '\0', rlen);
		if (tokend && tokend != rest + rlen - 1)
			return -EINVAL;
		if (!tokend) {
			char tok[VPV_STORE_PAYLOAD_MAX + 1];

			memcpy(tok, rest, rlen);
			tok[rlen] = '\0';
			ret = type == VPV_STORE_WATCH ?
			      op_watch(caller, abs, rel, tok) :
			      op_unwatch(caller, abs, tok);
		} else {
			ret = type == VPV_STORE_WATCH ?
			      op_watch(caller, abs, rel, rest) :
			      op_unwatch(caller, abs, rest);
		}
		if (!ret && type == VPV_STORE_WATCH) {
			*fire_watch = true;
			strcpy(wpath, abs);
		}
		break;
	}
	if (ret)
		return ret;
	*out = strdup("OK");
	if (!*out)
		return -ENOMEM;
	*olen = 3;
	return 0;
}

void store_fire_new_watch_locked(uint32_t caller, const char *path)
{
	watch_fire_new(caller, path);
}

/* ---- setup ---- */

static void store_init_locked(void)
{
	struct snode *n;
	bool c;

	if (root)
		return;
	ctab = calloc(1u << CTAB_BITS, sizeof(*ctab));
	root = node_new("", 0);
	if (!root || !ctab)
		abort();
	node_make(STORE_DOMID_HOST, "/local/domain/0", &n, &c, NULL);
}

void store_init(void)
{
	store_lock();
	store_init_locked();
	store_unlock();
}

int store_guest_add(struct guest *g)
{
	struct store_guest *sg;
	struct snode *n;
	bool c;
	int ret;

	if (!g->domid || g->domid > DOMAIN_MAX)
		return -EINVAL;
	sg = calloc(1, sizeof(*sg));
	if (!sg)
		return -ENOMEM;
	sg->g = g;
	sg->domid = g->domid;
	home_of(g->domid, sg->home, sizeof(sg->home));
	store_lock();
	store_init_locked();
	if (sgs[g->domid]) {
		store_unlock();
		free(sg);
		return -EEXIST;
	}
	sgs[g->domid] = sg;
	/* a stale home of an earlier guest with this id goes first */
	n = store_lookup(sg->home);
	if (n) {
		node_unlink(n);
		node_free_tree(n);
	}
	ret = node_make(STORE_DOMID_HOST, sg->home, &n, &c, NULL);
	if (!ret) {
		n->owner = g->domid;
		charge(g->domid, 1);
		fire(sg->home, false);
	} else {
		sgs[g->domid] = NULL;
		free(sg);
	}
	store_unlock();
	store_run_deferred();
	return ret;
}

void store_drop_session_locked(struct store_guest *sg)
{
	struct swatch *w;
	struct stx *t;

	store_ring_disconnect_locked(sg);
	while ((w = sg->watches)) {
		sg->watches = w->next;
		watch_free(w);
	}
	sg->nr_watches = 0;
	while ((t = sg->txs)) {
		sg->txs = t->next;
		tx_free(t);
	}
	sg->nr_tx = 0;
	sg->stale_session = false;
}

void store_guest_reset(struct guest *g)
{
	struct store_guest *sg;

	store_lock();
	sg = store_sg_locked(g->domid);
	if (sg)
		store_drop_session_locked(sg);
	store_unlock();
}

void store_guest_remove(struct guest *g)
{
	struct store_guest *sg;
	struct snode *n;

	store_lock();
	sg = store_sg_locked(g->domid);
	if (!sg) {
		store_unlock();
		return;
	}
	store_drop_session_locked(sg);
	n = store_lookup(sg->home);
	if (n) {
		node_unlink(n);
		node_free_tree(n);
		fire(sg->home, true);
	}
	sgs[g->domid] = NULL;
	free(sg->pay);
	free(sg);
	store_unlock();
	store_run_deferred();
}

int store_guest_info(uint32_t domid, struct store_guest_info *si)
{
	struct store_guest *sg;

	store_lock();
	sg = store_sg_locked(domid);
	if (sg) {
		si->nodes = sg->nr_nodes;
		si->watches = sg->nr_watches;
		si->tx = sg->nr_tx;
		si->outq = sg->oq_n;
		si->tx_bytes = sg->tx_bytes;
		si->connected = sg->connected;
		si->port = sg->port;
	}
	store_unlock();
	return sg ? 0 : -ENOENT;
}

/* ---- public API ---- */

static int api_path(uint32_t caller, const char *path, char *abs, bool *rel)
{
	if (!path)
		return -EINVAL;
	return store_norm_path(caller, path, strlen(path), abs, rel);
}

/* On success the store lock is held; api_leave() drops it. */
static int api_enter(uint32_t caller, uint32_t tx, const char *path,
		     char *abs, bool *rel, struct stx **t)
{
	int ret = api_path(caller, path, abs, rel);

	if (ret)
		return ret;
	store_lock();
	store_init_locked();
	ret = tx_get(caller, tx, t);
	if (ret)
		store_unlock();
	return ret;
}

static int api_leave(int ret)
{
	store_unlock();
	store_run_deferred();
	return ret;
}

int store_read(uint32_t caller, uint32_t tx, const char *path,
	       char **val, uint32_t *len)
{
	char abs[VPV_STORE_PATH_MAX + 1];
	struct stx *t;
	bool rel;
	int ret = api_enter(caller, tx, path, abs, &rel, &t);

	if (ret)
		return ret;
	return api_leave(op_read(caller, t, abs, val, len));
}

int store_directory(uint32_t caller, uint32_t tx, const char *path,
		    char **names, uint32_t *len)
{
	char abs[VPV_STORE_PATH_MAX + 1];
	struct stx *t;
	bool rel;
	int ret = api_enter(caller, tx, path, abs, &rel, &t);

	if (ret)
		return ret;
	return api_leave(op_directory(caller, t, abs, names, len));
}

int store_write(uint32_t caller, uint32_t tx, const char *path,
		const void *val, uint32_t len)
{
	char abs[VPV_STORE_PATH_MAX + 1];
	struct stx *t;
	bool rel;
	int ret = api_enter(caller, tx, path, abs, &rel, &t);

	if (ret)
		return ret;
	return api_leave(op_write(caller, t, abs, val, len, false, NULL));
}

int store_mkdir(uint32_t caller, uint32_t tx, const char *path)
{
	char abs[VPV_STORE_PATH_MAX + 1];
	struct stx *t;
	bool rel;
	int ret = api_enter(caller, tx, path, abs, &rel, &t);

	if (ret)
		return ret;
	return api_leave(op_write(caller, t, abs, "", 0, true, NULL));
}

int store_rm(uint32_t caller, uint32_t tx, const char *path)
{
	char abs[VPV_STORE_PATH_MAX + 1];
	struct stx *t;
	bool rel;
	int ret = api_enter(caller, tx, path, abs, &rel, &t);

	if (ret)
		return ret;
	return api_leave(op_rm(caller, t, abs, NULL));
}

int store_watch(uint32_t caller, const char *path, const char *token)
{
	char abs[VPV_STORE_PATH_MAX + 1];
	struct stx *t;
	bool rel;
	int ret = api_enter(caller, 0, path, abs, &rel, &t);

	if (ret)
		return ret;
	ret = op_watch(caller, abs, rel, token);
	if (!ret)
		watch_fire_new(caller, abs);
	return api_leave(ret);
}

int store_unwatch(uint32_t caller, const char *path, const char *token)
{
	char abs[VPV_STORE_PATH_MAX + 1];
	struct stx *t;
	bool rel;
	int ret = api_enter(caller, 0, path, abs, &rel, &t);

	if (ret)
		return ret;
	return api_leave(op_unwatch(caller, abs, token));
}

int store_tx_start(uint32_t caller, uint32_t *id)
{
	int ret;

	store_lock();
	store_init_locked();
	ret = op_tx_start(caller, id);
	store_unlock();
	return ret;
}

int store_tx_end(uint32_t caller, uint32_t id, bool commit)
{
	int ret;

	store_lock();
	ret = op_tx_end(caller, id, commit);
	store_unlock();
	store_run_deferred();
	return ret;
}

int store_writef(const char *path, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -E2BIG;
	return store_write(STORE_DOMID_HOST, 0, path, buf, n);
}

int store_set_perms(const char *path, uint32_t owner,
		    const uint32_t *readers, unsigned int nr)
{
	struct snode *n;
	unsigned int i;
	int ret = 0;

	if (nr > STORE_READERS_MAX)
		return -E2BIG;
	store_lock();
	store_init_locked();
	n = store_lookup(path);
	if (!n) {
		ret = -ENOENT;
	} else {
		charge(n->owner, -1);
		n->owner = owner;
		charge(owner, 1);
		for (i = 0; i < nr; i++)
			n->readers[i] = readers[i];
		n->nr_readers = nr;
		n->gen = ++gen_counter;
	}
	store_unlock();
	return ret;
}

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
