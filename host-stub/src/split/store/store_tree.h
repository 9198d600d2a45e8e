/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Config store: the lock, the tree of nodes, paths, permissions and the
 * undo log of a commit (store_tree.c).  Everything but store_lock()
 * and store_unlock() runs with the store lock held.
 */
#ifndef VPV_STORE_TREE_H
#define VPV_STORE_TREE_H

struct store_guest;

struct snode {
	char *name;
	uint32_t nlen, hash;	/* strlen(name), store_name_hash() */
	char *val;		/* len bytes + a NUL */
	uint32_t len;
	uint32_t owner;		/* domid, STORE_DOMID_HOST: the host */
	uint32_t readers[STORE_READERS_MAX];
	uint8_t nr_readers;
	uint64_t gen;
	struct snode *parent, *child, *next, *prev;	/* prev: sibling */
	struct snode *hnext;	/* store_tree.c's (parent, name) hash chain */
};

/*
 * Undo log of a commit: every change a transaction's ops make to the
 * tree, so a commit that fails part-way is rolled back to the tree it
 * started from (store_tx.c).
 */
struct undo_ent;

struct undo {
	struct undo_ent *v;
	size_t n, cap;
};

/* Take and drop the one store mutex (tree, guests' store state). */
void store_lock(void);
void store_unlock(void);
/* Create the root and /local/domain/0 once; aborts without memory. */
void store_init_locked(void);
/* Guest domid's store state, NULL if none (domid 0: the host). */
struct store_guest *store_sg_locked(uint32_t domid);
/* Publish (sg) or forget (NULL) domid's store state. */
void store_sg_set_locked(uint32_t domid, struct store_guest *sg);

/* ---- paths ---- */

/* Is path base or below it?  ("/" holds every absolute path.) */
bool store_in_subtree(const char *path, const char *base);
/* domid's home, /local/domain/<domid>, into buf. */
void store_home_of(uint32_t domid, char *buf, size_t size);
/*
 * in (len bytes, no NUL inside) -> absolute path in out
 * [VPV_STORE_PATH_MAX + 1]; *relative: in was relative to caller's
 * home.  -EINVAL (empty, bad character, "//", trailing '/'), -E2BIG.
 */
int store_norm_path(uint32_t caller, const char *in, size_t len, char *out,
		    bool *relative);
/* FNV-1a of len bytes of name (the tree's and transactions' hashes). */
uint32_t store_name_hash(const char *name, size_t len);

/* ---- nodes ---- */

/* The node at absolute path, NULL if absent; costs the path's depth. */
struct snode *store_lookup(const char *path);
/* path's generation, 0 if absent. */
uint64_t store_path_gen(const char *path);
/* Charge (delta > 0) or credit owner's node count (guests only). */
void store_charge(uint32_t owner, int delta);

/* ---- permissions ---- */

/* May caller write path?  The host anything, a guest its home. */
bool store_may_write(uint32_t caller, const char *path);
/* ... read node n at path?  Writable, or caller among n's readers. */
bool store_may_read(uint32_t caller, const char *path,
		    const struct snode *n);

/* ---- changes (path absolute and valid, permissions checked) ---- */

/*
 * Create path and its missing parents as caller (a guest owns what it
 * creates, the host's nodes inherit the parent's owner and readers),
 * within caller's node limit (-ENOSPC).  *out: the node; *created: it
 * is new.  With u, each creation is logged there.
 */
int store_node_make(uint32_t caller, const char *path, struct snode **out,
		    bool *created, struct undo *u);
/*
 * Write (or, mkdir, create only) path as caller, through
 * store_node_make().  Returns 1 if the node changed (a watch event is
 * due), 0 if not (mkdir of an existing node), -ENOSPC or -ENOMEM
 * (parents made on the way stay).  With u, every change is logged.
 */
int store_node_write(uint32_t caller, const char *path, const void *val,
		     uint32_t len, bool mkdir, struct undo *u);
/*
 * Remove path (not "/") and its subtree.  Returns 1, -ENOENT or
 * -ENOMEM.  With u, the subtree is kept (uncharged) until
 * undo_release() frees it or undo_rollback() puts it back.
 */
int store_node_rm(const char *path, struct undo *u);
/* Unlink and free the subtree at path, if any; true if there was one. */
bool store_node_drop(const char *path);

/* Undo every change in u, newest first. */
void undo_rollback(struct undo *u);
/* The changes in u hold: free what they replaced. */
void undo_release(struct undo *u);
/* Free u's log (after undo_rollback() or undo_release()). */
void undo_free(struct undo *u);

#endif /* VPV_STORE_TREE_H */
