// SPDX-License-Identifier: GPL-2.0
/*
 * The config store's transactions.  A transaction buffers its writes
 * and remembers the generation of every node it looked at (0: absent);
 * commit fails with EAGAIN if any of them changed, else applies the
 * ops all or nothing (an undo log, store_tree.c) and only then fires
 * the watches.  Ops, distinct paths and bytes are charged to the guest
 * as each request arrives (STORE_TX_*_MAX, split.h), so nothing a
 * guest sends makes a transaction, or a commit, grow past them.
 *
 * Everything here runs with the store lock held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "store_core.h"

static struct stx *tx_find(struct store_guest *sg, uint32_t id)
{
	struct stx *t;

	for (t = sg ? sg->txs : NULL; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

int store_tx_get_locked(uint32_t caller, uint32_t id, struct stx **t)
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

int store_tx_record_locked(struct stx *t, const char *path)
{
	struct txrec **b, *r;
	size_t cost = STORE_TX_OP_COST + strlen(path);

	b = &t->recs[store_name_hash(path, strlen(path)) % STORE_TX_HASH];
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
	r->gen = store_path_gen(path);
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

int store_tx_add_op_locked(struct stx *t, int type, const char *path,
			   const void *val, uint32_t len)
{
	size_t cost = STORE_TX_OP_COST + strlen(path) + len;
	struct txop *o;
	int ret;

	if (t->nr_ops >= STORE_TX_OPS_MAX)
		return -ENOSPC;
	ret = store_tx_record_locked(t, path);
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

bool store_tx_view_locked(struct stx *t, const char *path, const char **val,
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

int store_tx_start_locked(uint32_t caller, uint32_t *id)
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
			if (store_path_gen(r->path) != r->gen)
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
	struct fired *ev;
	struct txop *o;
	size_t nev = 0;
	int ret = 0;

	if (tx_conflict(t))
		return -EAGAIN;
	ev = calloc(t->nr_ops ? t->nr_ops : 1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	for (o = t->ops; o && !ret; o = o->next) {
		if (o->type == VPV_STORE_RM) {
			ret = store_node_rm(o->path, &u);
			if (ret == -ENOENT)
				ret = 0;
		} else {
			ret = store_node_write(caller, o->path, o->val, o->len,
					       o->type == VPV_STORE_MKDIR, &u);
		}
		if (ret > 0) {		/* a change: one event, held back */
			ev[nev].path = o->path;
			ev[nev++].rm = o->type == VPV_STORE_RM;
			ret = 0;
		}
	}
	if (ret) {
		undo_rollback(&u);
	} else {
		undo_release(&u);
		store_fire_batch_locked(ev, nev);
	}
	undo_free(&u);
	free(ev);
	return ret;
}

int store_tx_end_locked(uint32_t caller, uint32_t id, bool commit)
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

void store_txs_free_locked(struct store_guest *sg)
{
	struct stx *t;

	while ((t = sg->txs)) {
		sg->txs = t->next;
		tx_free(t);
	}
	sg->nr_tx = 0;
}
