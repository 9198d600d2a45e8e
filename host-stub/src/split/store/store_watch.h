/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Config store: watches (store_watch.c).  All with the store lock held;
 * the host's API (store_watch_host(), store_run_deferred(), ...) is in
 * split.h.
 */
#ifndef VPV_STORE_WATCH_H
#define VPV_STORE_WATCH_H

struct store_guest;

/* One change of a commit, fired once the commit holds. */
struct fired {
	const char *path;	/* an op's path: lives as long as the tx */
	bool rm;		/* removed with its subtree */
};

/*
 * path changed (rm: removed with its subtree): queue an event for
 * every watch on it, or above it, or (rm) below it, of every guest
 * that may read it, and a callback for every host watch.
 */
void store_fire_locked(const char *path, bool rm);
/*
 * The nev changes of one commit, in order.  A guest's output queue
 * keeps its newest STORE_OUTQ_MAX events only, so each guest is given
 * just those (older ones counted as dropped, a truncated batch as one
 * drop): the work is bounded by the queue, not by ops x watches.
 */
void store_fire_batch_locked(const struct fired *ev, size_t nev);
/*
 * caller's watch on path (absolute; relative: events name paths below
 * the guest's home relatively) with token.  -EINVAL (not a guest),
 * -E2BIG (token longer than STORE_TOKEN_MAX), -EACCES (path
 * unreadable), -EEXIST, -ENOSPC (VPV_STORE_WATCHES_MAX), -ENOMEM.
 */
int store_watch_add_locked(uint32_t caller, const char *path, bool relative,
			   const char *token);
/*
 * Fire caller's newest watch, if it is on path, once (after the OK of
 * the WATCH that made it, as Xen does).
 */
void store_watch_fire_new_locked(uint32_t caller, const char *path);
/* Remove caller's watch on path with token; -ENOENT if none. */
int store_watch_del_locked(uint32_t caller, const char *path,
			   const char *token);
/* Free all of sg's watches (a session ends). */
void store_watches_free_locked(struct store_guest *sg);

#endif /* VPV_STORE_WATCH_H */
