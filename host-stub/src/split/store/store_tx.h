/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Config store: transactions (store_tx.c).  All with the store lock
 * held.
 */
#ifndef VPV_STORE_TX_H
#define VPV_STORE_TX_H

struct store_guest;

struct txrec {
	char *path;
	uint64_t gen;		/* 0: absent */
	struct txrec *next;	/* in the transaction's hash bucket */
};

struct txop {
	int type;		/* VPV_STORE_WRITE, _MKDIR, _RM */
	char *path;
	char *val;
	uint32_t len;
	struct txop *next;
};

/*
 * A transaction: its ops in order and, hashed by path, the generation
 * of every node it looked at (each path once).  Ops, distinct paths
 * and bytes are charged as they arrive (STORE_TX_*_MAX).
 */
struct stx {
	uint32_t id;
	struct store_guest *sg;
	struct txrec *recs[STORE_TX_HASH];
	struct txop *ops, **ops_tail;
	uint32_t nr_ops, nr_recs;
	uint32_t bytes;		/* charged to sg->tx_bytes */
	struct stx *next;
};

/*
 * caller's transaction id into *t: NULL for id 0, -EINVAL if caller
 * has no such transaction.
 */
int store_tx_get_locked(uint32_t caller, uint32_t id, struct stx **t);
/*
 * Remember path's generation the first time t looks at it, charged as
 * a path (STORE_TX_PATHS_MAX) and its bytes: -ENOSPC beyond, -ENOMEM.
 */
int store_tx_record_locked(struct stx *t, const char *path);
/*
 * Buffer an op (type VPV_STORE_WRITE, _MKDIR or _RM, permissions
 * checked by the caller) in t, charged as an op (STORE_TX_OPS_MAX), a
 * path and its bytes: -ENOSPC beyond, -ENOMEM; t stays usable.
 */
int store_tx_add_op_locked(struct stx *t, int type, const char *path,
			   const void *val, uint32_t len);
/*
 * Does path exist as t sees it (t NULL: the tree)?  *val, *len: its
 * value then (pointing into the tree or t, valid under the lock).
 */
bool store_tx_view_locked(struct stx *t, const char *path, const char **val,
			  uint32_t *len);
/* A new transaction of guest caller: -EINVAL (no guest), -EBUSY, -ENOMEM. */
int store_tx_start_locked(uint32_t caller, uint32_t *id);
/*
 * End caller's transaction id, committing it if commit: -ENOENT (no
 * such transaction), -EAGAIN (a node it looked at changed), -ENOSPC,
 * -ENOMEM (nothing applied).  The transaction is gone either way.
 */
int store_tx_end_locked(uint32_t caller, uint32_t id, bool commit);
/* Free all of sg's transactions (a session ends). */
void store_txs_free_locked(struct store_guest *sg);

#endif /* VPV_STORE_TX_H */
