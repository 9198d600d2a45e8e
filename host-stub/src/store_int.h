/* SPDX-License-Identifier: GPL-2.0 */
/* Config store internals shared by store.c and store_ring.c. */
#ifndef VPV_STORE_INT_H
#define VPV_STORE_INT_H

struct snode {
	char *name;
	uint32_t nlen, hash;	/* strlen(name), name_hash() */
	char *val;		/* len bytes + a NUL */
	uint32_t len;
	uint32_t owner;		/* domid, STORE_DOMID_HOST: the host */
	uint32_t readers[STORE_READERS_MAX];
	uint8_t nr_readers;
	uint64_t gen;
	struct snode *parent, *child, *next, *prev;	/* prev: sibling */
	struct snode *hnext;	/* store.c's (parent, name) hash chain */
};

struct swatch {
	char *path;		/* absolute */
	char *token;
	bool relative;		/* events relative to the guest's home */
	store_watch_fn cb;	/* host watches */
	void *ctx;
	struct swatch *next;
};

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

bool store_in_subtree(const char *path, const char *base);
int store_norm_path(uint32_t caller, const char *in, size_t len, char *out,
		    bool *relative);
struct snode *store_lookup(const char *path);
int store_request_locked(uint32_t caller, uint32_t type, uint32_t txid,
			 const char *p, uint32_t plen, char **out,
			 uint32_t *olen, bool *fire_watch, char *wpath);
void store_fire_new_watch_locked(uint32_t caller, const char *path);
void store_drop_session_locked(struct store_guest *sg);

#endif /* VPV_STORE_INT_H */
