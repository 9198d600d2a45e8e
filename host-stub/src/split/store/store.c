// SPDX-License-Identifier: GPL-2.0
/*
 * The config store, core: the requests' op table (Xen xenstored's
 * core.c style: one {type, name, handler, flags} row per op, the checks
 * its flags name done once in store_run_locked()), used by both the
 * guest's wire (store_request_locked(), from store_ring.c) and the host
 * API (store_read() ... in split.h); the ops' handlers; guests' store
 * homes.  The tree and permissions are in store_tree.c, watches in
 * store_watch.c, transactions in store_tx.c (store_core.h lists them).
 *
 * One mutex protects the tree, every guest's store state (store_ring.c's
 * ring and output queue included) and the host watches.  Host-internal
 * watch callbacks are queued and run by store_run_deferred() after the
 * lock is dropped, so a callback (the bus) may take its own locks and
 * call the store again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "store_core.h"

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

/* ---- the ops' handlers (store lock held, checks of their flags done) ---- */

static int do_read(struct store_req *r)
{
	const char *v;
	uint32_t l;

	if (r->t) {
		int ret = store_tx_record_locked(r->t, r->path);

		if (ret)
			return ret;
	}
	if (!store_tx_view_locked(r->t, r->path, &v, &l))
		return -ENOENT;
	r->out = malloc(l + 1);
	if (!r->out)
		return -ENOMEM;
	memcpy(r->out, v, l);
	r->out[l] = '\0';
	r->olen = l;
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

	for (k = store_name_hash(name, len) & (ns->cap - 1); ns->v[k].name;
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

static int do_directory(struct store_req *r)
{
	struct snode *n = store_lookup(r->path), *c;
	struct stx *t = r->t;
	const char *path = r->path, *v;
	size_t pl = strlen(path), max = t ? t->nr_ops : 0;
	struct nameset ns;
	const struct txop *o;
	uint32_t l;
	int ret;

	if (t) {
		ret = store_tx_record_locked(t, path);
		if (ret)
			return ret;
	}
	if (!store_tx_view_locked(t, path, &v, &l))
		return -ENOENT;
	for (c = n ? n->child : NULL; c; c = c->next)
		max++;
	ret = ns_init(&ns, max);
	for (c = n ? n->child : NULL; c && !ret; c = c->next)
		ns_add(&ns, c->name, c->nlen);
	for (o = t ? t->ops : NULL; o && !ret; o = o->next)
		dir_apply_op(&ns, o, path, pl);
	if (!ret)
		ret = ns_output(&ns, &r->out, &r->olen);
	ns_free(&ns);
	return ret;
}

/* Write (or mkdir) r's path, or buffer it in r's transaction. */
static int write_or_mkdir(struct store_req *r, const void *val, uint32_t len,
			  bool mkdir)
{
	int ret;

	if (len > VPV_STORE_PAYLOAD_MAX)
		return -E2BIG;
	if (!strcmp(r->path, "/"))
		return -EINVAL;
	if (r->t)
		return store_tx_add_op_locked(r->t, mkdir ? VPV_STORE_MKDIR :
					      VPV_STORE_WRITE, r->path, val,
					      len);
	ret = store_node_write(r->caller, r->path, val, len, mkdir, NULL);
	if (ret > 0)
		store_fire_locked(r->path, false);
	return ret < 0 ? ret : 0;
}

static int do_write(struct store_req *r)
{
	return write_or_mkdir(r, r->arg, r->arglen, false);
}

static int do_mkdir(struct store_req *r)
{
	return write_or_mkdir(r, "", 0, true);
}

static int do_rm(struct store_req *r)
{
	struct store_guest *sg = store_sg_locked(r->caller);
	const char *path = r->path, *v;
	uint32_t l;
	int ret;

	if (!strcmp(path, "/") || !strcmp(path, "/local") ||
	    !strcmp(path, "/local/domain"))
		return -EINVAL;
	if (r->caller != STORE_DOMID_HOST && sg && !strcmp(path, sg->home))
		return -EACCES;		/* a guest keeps its home */
	if (r->t) {
		if (!store_tx_view_locked(r->t, path, &v, &l))
			return -ENOENT;
		return store_tx_add_op_locked(r->t, VPV_STORE_RM, path, "", 0);
	}
	ret = store_node_rm(path, NULL);
	if (ret < 0)
		return ret;
	store_fire_locked(path, true);
	return 0;
}

static int do_watch(struct store_req *r)
{
	int ret = store_watch_add_locked(r->caller, r->path, r->relative,
					 r->str);

	r->new_watch = !ret;	/* fired after the OK (wire) or at once */
	return ret;
}

static int do_unwatch(struct store_req *r)
{
	return store_watch_del_locked(r->caller, r->path, r->str);
}

static int do_tx_start(struct store_req *r)
{
	return store_tx_start_locked(r->caller, &r->id);
}

/* arg: "T" (commit) or "F" (abort), a NUL after it allowed */
static int do_tx_end(struct store_req *r)
{
	const char *p = r->arg;

	if (!r->arglen || (p[0] != 'T' && p[0] != 'F') ||
	    (r->arglen > 1 && p[1]))
		return -EINVAL;
	return store_tx_end_locked(r->caller, r->txid, p[0] == 'T');
}

/* ---- the op table ---- */

#define PATH_RD		(STORE_F_PATH | STORE_F_READ)
#define PATH_WR		(STORE_F_PATH | STORE_F_WRITE | STORE_F_REPLY_OK)
#define PATH_STR	(STORE_F_PATH | STORE_F_STR | STORE_F_REPLY_OK)

static const struct store_opdef store_ops[] = {
	{ VPV_STORE_DIRECTORY,	"DIRECTORY",	do_directory,	PATH_RD },
	{ VPV_STORE_READ,	"READ",		do_read,	PATH_RD },
	{ VPV_STORE_WRITE,	"WRITE",	do_write,	PATH_WR },
	{ VPV_STORE_MKDIR,	"MKDIR",	do_mkdir,	PATH_WR },
	{ VPV_STORE_RM,		"RM",		do_rm,		PATH_WR },
	{ VPV_STORE_WATCH,	"WATCH",	do_watch,	PATH_STR },
	{ VPV_STORE_UNWATCH,	"UNWATCH",	do_unwatch,	PATH_STR },
	{ VPV_STORE_TRANSACTION_START, "TRANSACTION_START", do_tx_start,
	  STORE_F_NO_TX | STORE_F_REPLY_ID },
	{ VPV_STORE_TRANSACTION_END, "TRANSACTION_END", do_tx_end,
	  STORE_F_NEEDS_TX | STORE_F_REPLY_OK },
};

const struct store_opdef *store_op_find(uint32_t type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(store_ops); i++)
		if (store_ops[i].type == type)
			return &store_ops[i];
	return NULL;
}

int store_run_locked(const struct store_opdef *op, struct store_req *r)
{
	char tok[VPV_STORE_PAYLOAD_MAX + 1];
	const char *nul;

	if ((op->flags & STORE_F_NEEDS_TX) && !r->t)
		return -EINVAL;
	if ((op->flags & STORE_F_NO_TX) && r->t)
		return -EINVAL;
	if (op->flags & STORE_F_STR) {
		nul = memchr(r->arg, '\0', r->arglen);
		if (nul && nul != r->arg + r->arglen - 1)
			return -EINVAL;
		if (!nul) {
			/* arglen <= VPV_STORE_PAYLOAD_MAX (the entries) */
			memcpy(tok, r->arg, r->arglen);
			tok[r->arglen] = '\0';
		}
		r->str = nul ? r->arg : tok;
	}
	if ((op->flags & STORE_F_WRITE) &&
	    !store_may_write(r->caller, r->path))
		return -EACCES;
	if ((op->flags & STORE_F_READ) &&
	    !store_may_read(r->caller, r->path, store_lookup(r->path)))
		return -EACCES;
	return op->fn(r);
}

/* ---- the guest's wire (store_ring.c's dispatch, store lock held) ---- */

/* PATH NUL ARG, or PATH alone: r's path and arg */
static int payload_path(struct store_req *r, const char *p, uint32_t plen)
{
	const char *nul = memchr(p, '\0', plen);
	size_t l = nul ? (size_t)(nul - p) : plen;

	r->arg = nul ? nul + 1 : p + plen;
	r->arglen = nul ? plen - l - 1 : 0;
	return store_norm_path(r->caller, p, l, r->path, &r->relative);
}

/* The answer on the wire: the handler's, "OK" or the new id. */
static int wire_reply(const struct store_opdef *op, struct store_req *r)
{
	if (op->flags & STORE_F_REPLY_ID) {
		r->out = malloc(16);
		if (!r->out)
			return -ENOMEM;
		r->olen = snprintf(r->out, 16, "%u", r->id) + 1;
	} else if (op->flags & STORE_F_REPLY_OK) {
		r->out = strdup("OK");
		if (!r->out)
			return -ENOMEM;
		r->olen = 3;
	}
	if (r->olen > VPV_STORE_PAYLOAD_MAX) {
		/* never send what the guest may not accept */
		free(r->out);
		r->out = NULL;
		r->olen = 0;
		return -E2BIG;
	}
	return 0;
}

int store_request_locked(struct store_req *r, uint32_t type, const char *p,
			 uint32_t plen)
{
	const struct store_opdef *op;
	int ret;

	r->out = NULL;
	r->olen = 0;
	r->new_watch = false;
	if (plen > VPV_STORE_PAYLOAD_MAX)
		return -E2BIG;
	ret = store_tx_get_locked(r->caller, r->txid, &r->t);
	if (ret)
		return ret;
	op = store_op_find(type);
	if (!op)
		return -EINVAL;
	r->arg = p;
	r->arglen = plen;
	if (op->flags & STORE_F_PATH) {
		ret = payload_path(r, p, plen);
		if (ret)
			return ret;
	}
	ret = store_run_locked(op, r);
	if (ret) {
		free(r->out);
		r->out = NULL;
		r->olen = 0;
		return ret;
	}
	return wire_reply(op, r);
}

/* ---- setup, guests ---- */

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
	store_home_of(g->domid, sg->home, sizeof(sg->home));
	store_lock();
	store_init_locked();
	if (store_sg_locked(g->domid)) {
		store_unlock();
		free(sg);
		return -EEXIST;
	}
	store_sg_set_locked(g->domid, sg);
	/* a stale home of an earlier guest with this id goes first */
	store_node_drop(sg->home);
	ret = store_node_make(STORE_DOMID_HOST, sg->home, &n, &c, NULL);
	if (!ret) {
		n->owner = g->domid;
		store_charge(g->domid, 1);
		store_fire_locked(sg->home, false);
	} else {
		store_sg_set_locked(g->domid, NULL);
		free(sg);
	}
	store_unlock();
	store_run_deferred();
	return ret;
}

void store_drop_session_locked(struct store_guest *sg)
{
	store_ring_disconnect_locked(sg);
	store_watches_free_locked(sg);
	store_txs_free_locked(sg);
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

	store_lock();
	sg = store_sg_locked(g->domid);
	if (!sg) {
		store_unlock();
		return;
	}
	store_drop_session_locked(sg);
	if (store_node_drop(sg->home))
		store_fire_locked(sg->home, true);
	store_sg_set_locked(g->domid, NULL);
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

/* ---- the host API (split.h): the same op table ---- */

/*
 * Run op type for caller as the host API does: the path is checked
 * before the lock is taken; a transaction named that does not exist
 * is -EINVAL, or -ENOENT for an op that ends one.  Deferred host watch
 * callbacks run after the lock is dropped.
 */
static int api_call(struct store_req *r, uint32_t type, const char *path,
		    const void *arg, uint32_t arglen)
{
	const struct store_opdef *op = store_op_find(type);
	int ret;

	r->arg = arg;
	r->arglen = arglen;
	r->out = NULL;
	r->olen = 0;
	if (op->flags & STORE_F_PATH) {
		if (!path)
			return -EINVAL;
		ret = store_norm_path(r->caller, path, strlen(path), r->path,
				      &r->relative);
		if (ret)
			return ret;
	}
	store_lock();
	store_init_locked();
	ret = store_tx_get_locked(r->caller, r->txid, &r->t);
	if ((op->flags & STORE_F_NEEDS_TX) && (ret || !r->t))
		ret = -ENOENT;
	if (!ret)
		ret = store_run_locked(op, r);
	if (!ret && r->new_watch)
		store_watch_fire_new_locked(r->caller, r->path);
	store_unlock();
	store_run_deferred();
	return ret;
}

/* Hand r's answer to the caller (0), or free it (an error). */
static int api_answer(struct store_req *r, int ret, char **out,
		      uint32_t *len)
{
	if (ret) {
		free(r->out);
		return ret;
	}
	*out = r->out;
	*len = r->olen;
	return 0;
}

int store_read(uint32_t caller, uint32_t tx, const char *path,
	       char **val, uint32_t *len)
{
	struct store_req r = { .caller = caller, .txid = tx };

	return api_answer(&r, api_call(&r, VPV_STORE_READ, path, NULL, 0),
			  val, len);
}

int store_directory(uint32_t caller, uint32_t tx, const char *path,
		    char **names, uint32_t *len)
{
	struct store_req r = { .caller = caller, .txid = tx };

	return api_answer(&r, api_call(&r, VPV_STORE_DIRECTORY, path, NULL,
				       0), names, len);
}

int store_write(uint32_t caller, uint32_t tx, const char *path,
		const void *val, uint32_t len)
{
	struct store_req r = { .caller = caller, .txid = tx };

	return api_call(&r, VPV_STORE_WRITE, path, val, len);
}

int store_mkdir(uint32_t caller, uint32_t tx, const char *path)
{
	struct store_req r = { .caller = caller, .txid = tx };

	return api_call(&r, VPV_STORE_MKDIR, path, NULL, 0);
}

int store_rm(uint32_t caller, uint32_t tx, const char *path)
{
	struct store_req r = { .caller = caller, .txid = tx };

	return api_call(&r, VPV_STORE_RM, path, NULL, 0);
}

int store_watch(uint32_t caller, const char *path, const char *token)
{
	struct store_req r = { .caller = caller };

	if (!token)
		return -EINVAL;
	return api_call(&r, VPV_STORE_WATCH, path, token, strlen(token) + 1);
}

int store_unwatch(uint32_t caller, const char *path, const char *token)
{
	struct store_req r = { .caller = caller };

	if (!token)
		return -EINVAL;
	return api_call(&r, VPV_STORE_UNWATCH, path, token,
			strlen(token) + 1);
}

int store_tx_start(uint32_t caller, uint32_t *id)
{
	struct store_req r = { .caller = caller };
	int ret = api_call(&r, VPV_STORE_TRANSACTION_START, NULL, NULL, 0);

	if (!ret)
		*id = r.id;
	return ret;
}

int store_tx_end(uint32_t caller, uint32_t id, bool commit)
{
	struct store_req r = { .caller = caller, .txid = id };

	return api_call(&r, VPV_STORE_TRANSACTION_END, NULL,
			commit ? "T" : "F", 1);
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

