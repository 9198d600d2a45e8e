// SPDX-License-Identifier: GPL-2.0
/*
 * The config store's tree: nodes with owners and readers, found
 * through a (parent, name) hash table; paths; permissions; per-guest
 * node accounting; the undo log that makes a commit all or nothing.
 *
 * One mutex (store_mtx) protects the tree, every guest's store state
 * (the ring and output queue of store_ring.c included) and the host
 * watches (store_watch.c).
 *
 * Permissions: the host (STORE_DOMID_HOST, vpv-ctl, back-ends) may do
 * anything.  A guest reads and writes its home subtree
 * /local/domain/<domid> and reads nodes whose readers include it.
 * Nodes a guest creates are its own; nodes the host creates inherit
 * the parent's owner and readers.  A guest is charged for the nodes it
 * owns.  Every change to a node (value, creation, a child added or
 * removed) gives it a new generation (transactions compare them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "store_core.h"

static pthread_mutex_t store_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct snode *root;
static uint64_t gen_counter;
static struct store_guest *sgs[DOMAIN_MAX + 1];

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

void store_sg_set_locked(uint32_t domid, struct store_guest *sg)
{
	if (domid && domid <= DOMAIN_MAX)
		sgs[domid] = sg;
}

/* ---- paths ---- */

bool store_in_subtree(const char *path, const char *base)
{
	size_t n = strlen(base);

	if (!strcmp(base, "/"))
		return path[0] == '/';
	return !strncmp(path, base, n) && (path[n] == '\0' || path[n] == '/');
}

void store_home_of(uint32_t domid, char *buf, size_t size)
{
	snprintf(buf, size, "/local/domain/%u", domid);
}

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '@' || c == ':' || c == '/';
}

/* Relative paths are below caller's home. */
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
		store_home_of(caller, home, sizeof(home));
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

uint32_t store_name_hash(const char *name, size_t len)
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
	n->hash = store_name_hash(name, nlen);
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
	uint32_t h = store_name_hash(name, len);
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

uint64_t store_path_gen(const char *path)
{
	struct snode *n = store_lookup(path);

	return n ? n->gen : 0;
}

void store_charge(uint32_t owner, int delta)
{
	struct store_guest *sg = store_sg_locked(owner);

	if (sg)
		sg->nr_nodes += delta;
}

bool store_may_write(uint32_t caller, const char *path)
{
	struct store_guest *sg = store_sg_locked(caller);
	char home[32];

	if (caller == STORE_DOMID_HOST)
		return true;
	if (sg)
		return store_in_subtree(path, sg->home);
	store_home_of(caller, home, sizeof(home));
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

bool store_may_read(uint32_t caller, const char *path,
		    const struct snode *n)
{
	return store_may_write(caller, path) || node_readable(caller, n);
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

/* ---- the undo log (store_tree.h) ---- */

enum { UNDO_CREATE, UNDO_VAL, UNDO_RM };

struct undo_ent {
	int type;
	struct snode *n;
	struct snode *prev;	/* UNDO_RM: the sibling before n, or NULL */
	char *val;		/* UNDO_VAL: the old value */
	uint32_t len;
	uint64_t gen;		/* VAL: n's old gen; CREATE, RM: parent's */
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

int store_node_make(uint32_t caller, const char *path, struct snode **out,
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
			store_charge(c->owner, 1);
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
	store_charge(n->owner, delta);
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

void undo_rollback(struct undo *u)
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

void undo_release(struct undo *u)
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

void undo_free(struct undo *u)
{
	free(u->v);
	u->v = NULL;
	u->n = 0;
	u->cap = 0;
}

/* ---- changes ---- */

int store_node_write(uint32_t caller, const char *path, const void *val,
		     uint32_t len, bool mkdir, struct undo *u)
{
	struct snode *n;
	bool created;
	char *v;
	int ret;

	ret = store_node_make(caller, path, &n, &created, u);
	if (ret)
		return ret;
	if (mkdir)
		return created;
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
	return 1;
}

int store_node_rm(const char *path, struct undo *u)
{
	struct snode *n, *prev;
	uint64_t pgen;

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
	return 1;
}

bool store_node_drop(const char *path)
{
	struct snode *n = store_lookup(path);

	if (!n)
		return false;
	node_unlink(n);
	node_free_tree(n);
	return true;
}

/* ---- setup, host-only permissions ---- */

void store_init_locked(void)
{
	struct snode *n;
	bool c;

	if (root)
		return;
	ctab = calloc(1u << CTAB_BITS, sizeof(*ctab));
	root = node_new("", 0);
	if (!root || !ctab)
		abort();
	store_node_make(STORE_DOMID_HOST, "/local/domain/0", &n, &c, NULL);
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
		store_charge(n->owner, -1);
		n->owner = owner;
		store_charge(owner, 1);
		for (i = 0; i < nr; i++)
			n->readers[i] = readers[i];
		n->nr_readers = nr;
		n->gen = ++gen_counter;
	}
	store_unlock();
	return ret;
}
