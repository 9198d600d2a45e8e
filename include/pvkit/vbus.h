/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The split-driver platform exported by vhypercall.ko: grant tables,
 * the config store client and the bus (front-end side).  Needs the
 * host to offer VPV_F_GRANT and VPV_F_STORE; without them every call
 * returns -EOPNOTSUPP (-ENODEV when no host is bound).
 */
#ifndef PVKIT_VBUS_H
#define PVKIT_VBUS_H

#include <linux/list.h>
#include <linux/types.h>
#include <pvkit/vhypercall.h>

struct page;

/* ---- grant tables ---- */

/**
 * vpv_gnttab_grant() - grant @domid access to guest frame @pfn
 * Return: the grant reference (>= VPV_GNTTAB_RESERVED), -ENOSPC when
 * all references are in use, -EOPNOTSUPP without VPV_F_GRANT.  Any
 * context.
 */
int vpv_gnttab_grant(u16 domid, unsigned long pfn, bool readonly);

/**
 * vpv_gnttab_end() - end access through @ref and free the reference
 * Return: 0, -EBUSY while the host has the frame mapped (READING or
 * WRITING set; the grant stays in place, retry or use
 * vpv_gnttab_end_deferred()), -EINVAL for a ref not granted.  Any
 * context.
 */
int vpv_gnttab_end(int ref);

/* Grant @n frames; all or nothing.  refs[] receives the references. */
int vpv_gnttab_grant_batch(u16 domid, const unsigned long *pfns,
			   unsigned int n, bool readonly, int *refs);
/*
 * End @n grants.  Ended refs are set to -1 in refs[]; returns the
 * number still busy (left in refs[]), 0 when all ended.
 */
int vpv_gnttab_end_batch(int *refs, unsigned int n);

/*
 * End @ref now or, while the host still uses it, retry from a timer;
 * then free the reference and __free_page(@page) (if not NULL).  The
 * caller gives up both.  Any context.
 */
void vpv_gnttab_end_deferred(int ref, struct page *page);

/* Free references now, and the table size. */
unsigned int vpv_gnttab_free_count(void);

/*
 * The table entry of a reference handed out (vpv_gnttab_grant), from
 * the layout validated at probe; NULL if @ref is not in use.  For tests
 * that play the host's part on an entry.
 */
struct vpv_grant_entry *vpv_gnttab_entry(int ref);

/*
 * Notification when at least @count references are free, after a
 * grant failed with -ENOSPC.  @fn runs once, from the context that
 * freed the references, with no grant lock held (may be atomic: keep
 * it short, e.g. schedule work).  Requesting an already queued
 * callback does nothing.
 */
struct vpv_gnttab_free_cb {
	struct list_head list;
	void (*fn)(void *arg);
	void *arg;
	unsigned int count;
	bool queued;
};

void vpv_gnttab_request_free_callback(struct vpv_gnttab_free_cb *cb,
				      void (*fn)(void *), void *arg,
				      unsigned int count);
void vpv_gnttab_cancel_free_callback(struct vpv_gnttab_free_cb *cb);

/*
 * VPV_GNTTABOP_COPY: @ops must be kmalloc'ed (physically contiguous),
 * 1 .. VPV_GNTTAB_COPY_MAX entries.  Process context.  Returns the
 * number of copies that succeeded (each op's status holds 0 or
 * -VPV_E*), or a negative errno for the whole call.
 */
long vpv_gnttab_copy(struct vpv_gnttab_copy *ops, unsigned int n);

/* This guest's domain id (header domid); 0 if not bound. */
u32 vpv_domid(void);

/* ---- config store (process context only, may sleep) ---- */

/*
 * Paths are absolute or relative to /local/domain/<domid>.  Errors:
 * the host's errno names as -errno (-ENOENT, -EACCES, -EINVAL, -E2BIG,
 * -ENOSPC, -EBUSY, -EAGAIN), -EOVERFLOW for a reply larger than the
 * caller's buffer, -ETIMEDOUT, -EIO after a host protocol error.
 * @tx 0 is outside a transaction.
 */
int vpv_store_tx_read(u32 tx, const char *path, char *buf, size_t len);
int vpv_store_tx_write(u32 tx, const char *path, const char *value);
int vpv_store_tx_mkdir(u32 tx, const char *path);
int vpv_store_tx_rm(u32 tx, const char *path);
int vpv_store_tx_directory(u32 tx, const char *path, char *buf, size_t len);

/* Read into @buf (NUL-terminated); returns the value's length. */
static inline int vpv_store_read(const char *path, char *buf, size_t len)
{
	return vpv_store_tx_read(0, path, buf, len);
}

static inline int vpv_store_write(const char *path, const char *value)
{
	return vpv_store_tx_write(0, path, value);
}

static inline int vpv_store_mkdir(const char *path)
{
	return vpv_store_tx_mkdir(0, path);
}

static inline int vpv_store_rm(const char *path)
{
	return vpv_store_tx_rm(0, path);
}

/* Child names, each NUL-terminated; returns the bytes used in @buf. */
static inline int vpv_store_directory(const char *path, char *buf,
				      size_t len)
{
	return vpv_store_tx_directory(0, path, buf, len);
}

/* Returns 0 and the id in *@tx. */
int vpv_store_tx_start(u32 *tx);
/* Commit (@commit) or abort; -EAGAIN: a node read changed, retry. */
int vpv_store_tx_end(u32 tx, bool commit);

/* Formatted write and decimal reads. */
__printf(3, 4)
int vpv_store_printf(u32 tx, const char *path, const char *fmt, ...);
int vpv_store_read_uint(u32 tx, const char *path, unsigned int *val);

/*
 * Watches: @cb runs in the store's watch thread (process context, one
 * callback at a time) once right after registration and whenever
 * @path or a node below it changes; @path is the changed node as the
 * host named it.  vpv_store_unwatch() returns when the callback is not
 * running and will not run again (it may be called from a callback).
 */
struct vpv_store_watch;
typedef void (*vpv_store_watch_fn)(struct vpv_store_watch *w,
				   const char *path);

struct vpv_store_watch {
	/* private */
	struct list_head list;
	vpv_store_watch_fn cb;
	char *path;
	char token[16];
};

int vpv_store_watch(struct vpv_store_watch *w, const char *path,
		    vpv_store_watch_fn cb);
void vpv_store_unwatch(struct vpv_store_watch *w);

/* Is the store usable (VPV_F_STORE negotiated and connected)? */
bool vpv_store_available(void);

/* ---- bus ---- */

#define VPV_BUS_NAME_MAX	32

struct vpv_bus_driver;

struct vpv_bus_device {
	char type[VPV_BUS_NAME_MAX];
	char devid[VPV_BUS_NAME_MAX];
	char nodename[VPV_STORE_PATH_MAX + 1];	/* our directory, absolute */
	char otherend[VPV_STORE_PATH_MAX + 1];	/* the back-end's */
	unsigned int otherend_id;
	int state;				/* ours, as last written */
	void *priv;				/* the driver's */

	/* private to the bus */
	struct vpv_bus_driver *drv;
	struct list_head list;
	struct vpv_store_watch otherend_watch;
	bool gone;
};

struct vpv_bus_driver {
	const char *type;
	int (*probe)(struct vpv_bus_device *dev);
	void (*remove)(struct vpv_bus_device *dev);
	/* the back-end's state changed (or was first seen) */
	void (*otherend_changed)(struct vpv_bus_device *dev, int state);

	/* private */
	struct list_head list;
};

/*
 * Register: probe() is called for every device of .type present now
 * and added later; remove() when its directory goes away or the
 * driver unregisters.  All callbacks run in process context under the
 * bus lock, one at a time: do not (un)register drivers from them.
 */
int vpv_bus_register_driver(struct vpv_bus_driver *drv);
void vpv_bus_unregister_driver(struct vpv_bus_driver *drv);

/* Write our "state" key (decimal VPV_BUS_*). */
int vpv_bus_switch_state(struct vpv_bus_device *dev, int state);
/* The back-end's state; VPV_BUS_CLOSED when its node is gone. */
int vpv_bus_read_otherend_state(struct vpv_bus_device *dev);

#endif /* PVKIT_VBUS_H */
