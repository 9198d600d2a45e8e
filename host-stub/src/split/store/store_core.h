/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Config store internals (replaces store_int.h): a guest's store state,
 * the request dispatch table (store.c) shared by the guest's wire
 * (store_ring.c) and the host API (split.h), the ring's entry points.
 * The store's files, each with its header:
 *
 *   store_tree.c   lock, tree, paths, permissions, undo log
 *   store_watch.c  guests' and host watches, firing
 *   store_tx.c     transactions
 *   store.c        the op table, its handlers, the host API, guests
 *   store_ring.c   the guest's ring (VPV_HC_STORE_OP)
 *
 * Everything here runs with the store lock held unless it says not.
 */
#ifndef VPV_STORE_CORE_H
#define VPV_STORE_CORE_H

#include "store_tree.h"
#include "store_tx.h"
#include "store_watch.h"

struct swatch;

struct outmsg {
	struct outmsg *next;
	bool event;
	uint32_t len;		/* header + payload */
	char data[];
};

struct store_guest {
	struct guest *g;
	uint32_t domid;
	char home[32];
	uint32_t nr_nodes, nr_watches, nr_tx, next_tx;
	uint32_t tx_bytes;	/* all open transactions, <= STORE_TX_BYTES_MAX */
	struct swatch *watches;
	struct stx *txs;

	/* ring (store_ring.c) */
	bool connected;
	uint32_t port;
	struct vpv_store_ring *ring;
	uint32_t req_cons, rsp_prod;	/* private copies */
	uint8_t hbuf[sizeof(struct vpv_store_msg)];
	uint32_t hgot;
	bool have_hdr;
	struct vpv_store_msg cur;
	uint64_t skip;			/* payload bytes to discard */
	char *pay;			/* VPV_STORE_PAYLOAD_MAX + 1 */
	uint32_t pgot;
	struct outmsg *oq_head, *oq_tail;
	uint32_t oq_n, oq_off;
	uint64_t dropped;
	bool stale_session;	/* protocol error: drop it at CONNECT */
};

/* ---- the op table (store.c) ---- */

/*
 * What a request's op needs, checked once by store_run_locked() (and
 * the entries) from its row's flags instead of by each handler:
 * STORE_F_PATH:	the payload starts with a path (NUL-ended, or the
 *			whole payload), normalized into req.path; the rest
 *			is req.arg.
 * STORE_F_STR:		req.arg is one string: nothing after its NUL
 *			(-EINVAL); req.str is it, NUL-ended.
 * STORE_F_NEEDS_TX:	only inside a transaction (-EINVAL; the host API:
 *			-ENOENT for a transaction that does not exist).
 * STORE_F_NO_TX:	never inside a transaction (-EINVAL).
 * STORE_F_READ:	caller may read req.path (-EACCES).
 * STORE_F_WRITE:	caller may write req.path (-EACCES).
 * STORE_F_REPLY_OK:	the wire's reply is "OK".
 * STORE_F_REPLY_ID:	the wire's reply is req.id in decimal.
 */
enum {
	STORE_F_PATH		= 1u << 0,
	STORE_F_STR		= 1u << 1,
	STORE_F_NEEDS_TX	= 1u << 2,
	STORE_F_NO_TX		= 1u << 3,
	STORE_F_READ		= 1u << 4,
	STORE_F_WRITE		= 1u << 5,
	STORE_F_REPLY_OK	= 1u << 6,
	STORE_F_REPLY_ID	= 1u << 7,
};

/* One request, from the wire or the host API. */
struct store_req {
	uint32_t caller;	/* STORE_DOMID_HOST or a guest's domid */
	uint32_t txid;		/* as the request names it, 0: none */
	struct stx *t;		/* txid's transaction, NULL for 0 */
	char path[VPV_STORE_PATH_MAX + 1];	/* STORE_F_PATH: absolute */
	bool relative;		/* ... given relative to caller's home */
	const char *arg;	/* after the path's NUL, or the payload */
	uint32_t arglen;
	const char *str;	/* STORE_F_STR: arg, NUL-ended */
	char *out;		/* the handler's answer, malloc'ed */
	uint32_t olen;
	uint32_t id;		/* STORE_F_REPLY_ID: a new transaction's */
	bool new_watch;		/* a watch on path was added: fire it */
};

struct store_opdef {
	uint32_t type;		/* VPV_STORE_* */
	const char *name;
	int (*fn)(struct store_req *r);	/* 0 or a negative errno */
	unsigned int flags;	/* STORE_F_* */
};

/* The op table's row for type, NULL if there is none. */
const struct store_opdef *store_op_find(uint32_t type);
/*
 * Check r against op's flags (transaction, string argument,
 * permissions), then run op's handler.  r's path (STORE_F_PATH), arg,
 * caller, txid and t are set by the entry.
 */
int store_run_locked(const struct store_opdef *op, struct store_req *r);
/*
 * The wire's entry (store_ring.c): run one request of r->caller (and
 * r->txid) of type with payload p (plen bytes).  Returns 0 with the
 * answer in r->out (malloc'ed, r->olen bytes, never more than
 * VPV_STORE_PAYLOAD_MAX: -E2BIG instead) or a negative errno (no
 * answer).  r->new_watch: fire the new watch after the answer.
 */
int store_request_locked(struct store_req *r, uint32_t type, const char *p,
			 uint32_t plen);
/* A session ends: ring disconnected, watches and transactions dropped. */
void store_drop_session_locked(struct store_guest *sg);

/* ---- the guest's ring (store_ring.c) ---- */

/* Stream the output queue into the response ring as room allows. */
void store_ring_flush_locked(struct store_guest *sg);
/* Unbind the ring's port, drop the output queue and the parser. */
void store_ring_disconnect_locked(struct store_guest *sg);
/*
 * Queue a message (header, then a and b) for the guest: -E2BIG over
 * VPV_STORE_PAYLOAD_MAX, -ENOSPC (an event with only answers queued),
 * -ENOMEM.  An event beyond STORE_OUTQ_MAX drops the oldest one.
 */
int store_queue_msg_locked(struct store_guest *sg, uint32_t type,
			   uint32_t req_id, uint32_t tx_id, const void *a,
			   uint32_t alen, const void *b, uint32_t blen,
			   bool event);
/* Consume the guest's requests (bounded per call), answer them. */
void store_ring_process_locked(struct store_guest *sg);
/* CONNECT: bind port, reset both rings; a stale session is dropped. */
int store_ring_connect_locked(struct store_guest *sg, uint32_t port);

#endif /* VPV_STORE_CORE_H */
