/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The split-driver layer exported by vhypercall.ko: grant tables, the
 * config store client, the "vpv" bus and the front-end helpers.
 * Documentation/split.rst describes it.  Needs the
 * host to offer VPV_F_GRANT and VPV_F_STORE; without them every call
 * returns -EOPNOTSUPP (-ENODEV when no host is bound).
 */
#ifndef PVKIT_VBUS_H
#define PVKIT_VBUS_H

#include <linux/device.h>
#include <linux/interrupt.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
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

/*
 * Grant @n frames; all or nothing.  refs[] receives the references.
 * One hold of the table's lock for all @n: keep @n to a request's
 * segments.  Return: 0 or as vpv_gnttab_grant() (-EINVAL: a pfn does
 * not fit a grant entry).  Any context.
 */
int vpv_gnttab_grant_batch(u16 domid, const unsigned long *pfns,
			   unsigned int n, bool readonly, int *refs);
/*
 * End @n grants (negative refs[] are skipped).  Ended refs and refs not
 * granted are set to -1 in refs[]; returns the number still busy (left
 * in refs[]), 0 when all ended.  One hold of the table's lock, as
 * vpv_gnttab_grant_batch().  Any context.
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

/* ---- the bus: devices, drivers, ids ---- */

#define VPV_BUS_NAME_MAX	32

/**
 * struct vpv_bus_device_id - one device type a driver handles
 * @type: the store's device type ("vloop", "vbd", ...)
 */
struct vpv_bus_device_id {
	char type[VPV_BUS_NAME_MAX];
};

/*
 * The uevent of a device of type T carries MODALIAS=vpv:T; a driver
 * names each type it handles with VPV_BUS_MODULE_ALIAS("T") so that
 * depmod writes modules.alias and udev or mdev loads it.
 */
#define VPV_BUS_MODALIAS_PREFIX	"vpv:"
#define VPV_BUS_MODULE_ALIAS(type)	MODULE_ALIAS(VPV_BUS_MODALIAS_PREFIX type)

/**
 * struct vpv_bus_device - a split device device/TYPE/ID of this guest
 * @dev: the Linux device, named "TYPE-ID" on bus "vpv", its parent the
 *	ivshmem PCI device; drvdata is the driver's
 * @type: the device type
 * @devid: the device id (a store key name)
 * @nodename: our directory, absolute (/local/domain/DOMID/device/TYPE/ID)
 * @otherend: the back-end's directory, absolute
 * @otherend_id: the back-end's domain id
 * @state: our state as last written (VPV_BUS_*); the driver's callbacks
 *	run under the device lock, which serializes its changes
 * @otherend_state: the back-end's state as last reported
 *
 * The rest is private to the bus.
 */
struct vpv_bus_device {
	struct device dev;
	char type[VPV_BUS_NAME_MAX];
	char devid[VPV_BUS_NAME_MAX];
	char nodename[VPV_STORE_PATH_MAX + 1];
	char otherend[VPV_STORE_PATH_MAX + 1];
	unsigned int otherend_id;
	int state;
	int otherend_state;

	/* private */
	struct list_head list;
	struct vpv_store_watch otherend_watch;
	struct work_struct work;
	spinlock_t ev_lock;		/* events, gone */
	unsigned int events;
	bool added;
	bool gone;
	bool reported;			/* the driver knows otherend_state */
};

#define to_vpv_bus_device(d)	container_of(d, struct vpv_bus_device, dev)

/**
 * vpv_bus_otherend_domid() - the back-end's domain for grants and
 *	event channels
 * @dev: the device
 *
 * Return: @otherend_id, where the store's domain 0 (the host's
 * back-ends) is VPV_DOMID_HOST.
 */
static inline u16 vpv_bus_otherend_domid(const struct vpv_bus_device *dev)
{
	return dev->otherend_id ? dev->otherend_id : VPV_DOMID_HOST;
}

/**
 * struct vpv_fe_ops - a front-end on the shared front-end state machine
 * @connect: the back-end waits (InitWait): allocate and grant the ring,
 *	bind the event channel, write their keys.  0: the bus switches
 *	to Initialised.  An error: the bus calls @disconnect and switches
 *	to Closed (or leaves Closing after vpv_bus_dev_fatal()).
 * @connected: both ends are Connected: start I/O
 * @disconnect: tear everything down (-ENOTCONN: the back-end restarts,
 *	the bus connects again when it waits; -ENODEV: it closes, for a
 *	removal or before a restart; -EIO: after vpv_bus_dev_fatal()).
 *	Requests in flight fail with @err, or, in a front-end that
 *	recovers, are kept and re-issued by the next @connected
 *	(Documentation/split.rst, "Recovery"); the bus does neither.
 *
 * All three run under the device lock, in process context.
 */
struct vpv_fe_ops {
	int (*connect)(struct vpv_bus_device *dev);
	void (*connected)(struct vpv_bus_device *dev);
	void (*disconnect)(struct vpv_bus_device *dev, int err);
};

/**
 * struct vpv_bus_driver - a driver on the vpv bus
 * @ids: the types it handles, ending with an empty entry
 * @probe: a device of one of @ids appeared; set drvdata, allocate (no
 *	ring yet); 0 or -errno
 * @remove: the device goes away (or the driver unregisters): free all
 * @otherend_changed: the back-end's state changed (or was first seen
 *	after probe); for a driver that runs its own state machine
 * @fe: or the shared front-end state machine (when @otherend_changed is
 *	NULL): the bus calls these as the back-end's state requires
 * @driver: the Linux driver (name, owner set at registration)
 *
 * Every callback runs in process context under the device's lock,
 * one device's callbacks one at a time, different devices in parallel
 * (each device has its own work item on an unbound workqueue).
 */
struct vpv_bus_driver {
	const struct vpv_bus_device_id *ids;
	int (*probe)(struct vpv_bus_device *dev,
		     const struct vpv_bus_device_id *id);
	void (*remove)(struct vpv_bus_device *dev);
	void (*otherend_changed)(struct vpv_bus_device *dev, int state);
	const struct vpv_fe_ops *fe;
	struct device_driver driver;
};

#define to_vpv_bus_driver(d)	container_of(d, struct vpv_bus_driver, driver)

/* The bus, "vpv" in /sys/bus; devices appear while a host is bound. */
extern struct bus_type vpv_bus_type;

/**
 * __vpv_bus_register_driver() - register a driver (use the macro)
 * @drv: with @ids and @probe set
 * @owner: THIS_MODULE
 * @name: the driver's name (KBUILD_MODNAME)
 *
 * Existing devices of its types are probed before it returns.
 * Return: 0, -EINVAL without ids or probe, or driver_register()'s errno.
 */
int __vpv_bus_register_driver(struct vpv_bus_driver *drv,
			      struct module *owner, const char *name);
#define vpv_bus_register_driver(drv) \
	__vpv_bus_register_driver(drv, THIS_MODULE, KBUILD_MODNAME)

/**
 * vpv_bus_unregister_driver() - unregister; every bound device is
 *	removed (and told Closed) before it returns
 * @drv: registered driver
 */
void vpv_bus_unregister_driver(struct vpv_bus_driver *drv);

/* ---- front-end helpers: process context, under the device lock ---- */

/*
 * The error contract: helpers return 0 (or a value) or -errno.  The
 * store helpers only return the error (the caller decides); the
 * resource helpers (ring, event channel) also report it with
 * vpv_bus_dev_fatal(), as xenbus_client.c does, and have undone what
 * they did, so the caller only returns the error.
 */

/**
 * vpv_bus_switch_state() - write our "state" key
 * @dev: the device
 * @state: VPV_BUS_*
 *
 * Return: 0 (also when @state is already ours), or the store's -errno
 * (the state then stays as it was).
 */
int vpv_bus_switch_state(struct vpv_bus_device *dev, int state);

/**
 * vpv_bus_read_otherend_state() - the back-end's "state" key
 * @dev: the device
 *
 * Return: VPV_BUS_*; VPV_BUS_CLOSED when the key is gone,
 * VPV_BUS_UNKNOWN when it cannot be read or is not a state.
 */
int vpv_bus_read_otherend_state(struct vpv_bus_device *dev);

/**
 * vpv_bus_read() - read a key below our node (or the other end's)
 * @dev: the device
 * @tx: transaction, 0 outside one
 * @otherend: read below the back-end's directory instead of ours
 * @key: relative key ("ring-ref", "feature-persistent", ...)
 * @buf: receives the NUL-terminated value
 * @len: size of @buf
 *
 * Return: the value's length, -E2BIG when the path does not fit
 * VPV_STORE_PATH_MAX, -EINVAL for a key outside the store's charset or
 * an absolute one, or the store's -errno (vpv_store_tx_read()).
 */
int vpv_bus_read(struct vpv_bus_device *dev, u32 tx, bool otherend,
		 const char *key, char *buf, size_t len);

/**
 * vpv_bus_write() - write a key below our node
 * @dev: the device
 * @tx: transaction, 0 outside one
 * @key: relative key
 * @value: NUL-terminated value
 *
 * Return: 0, or the errors of vpv_bus_read() (the store's for a write).
 */
int vpv_bus_write(struct vpv_bus_device *dev, u32 tx, const char *key,
		  const char *value);

/**
 * vpv_bus_rm() - remove a key below our node, if it is there
 * @dev: the device
 * @tx: transaction, 0 outside one
 * @key: relative key
 *
 * Return: 0 (also when the key was absent), or the errors of
 * vpv_bus_read() (the store's for a remove).
 */
int vpv_bus_rm(struct vpv_bus_device *dev, u32 tx, const char *key);

/**
 * vpv_bus_printf() - write a formatted key below our node
 * @dev: the device
 * @tx: transaction, 0 outside one
 * @key: relative key
 * @fmt: printf format; the value must fit VPV_STORE_PAYLOAD_MAX
 *
 * Return: 0, -E2BIG when the value does not fit, -ENOMEM, or the
 * errors of vpv_bus_write().
 */
__printf(4, 5)
int vpv_bus_printf(struct vpv_bus_device *dev, u32 tx, const char *key,
		   const char *fmt, ...);

/**
 * vpv_bus_scanf() - parse a key below our node or the other end's
 * @dev: the device
 * @tx: transaction, 0 outside one
 * @otherend: below the back-end's directory instead of ours
 * @key: relative key
 * @fmt: sscanf format
 *
 * Return: the number of values parsed (> 0), -ERANGE when nothing
 * matched, or the errors of vpv_bus_read().
 */
__scanf(5, 6)
int vpv_bus_scanf(struct vpv_bus_device *dev, u32 tx, bool otherend,
		  const char *key, const char *fmt, ...);

/**
 * vpv_bus_read_feature() - an unsigned feature key of the back-end
 * @dev: the device
 * @key: "feature-...", "multi-queue-max-queues", "max-ring-page-order"
 * @def: the value when the back-end did not write the key
 *
 * A back-end writes its feature keys in its directory before its
 * first InitWait; call this in connect() (a key may change between
 * connects), keep the result per device and use only what is offered:
 * the back-end refuses the rest (Documentation/split.rst, "Device
 * features").
 *
 * Return: the key's value; @def when it is absent, unreadable or not a
 * decimal number (a back-end without the feature).  Never an error.
 */
unsigned int vpv_bus_read_feature(struct vpv_bus_device *dev,
				  const char *key, unsigned int def);

/**
 * vpv_bus_dev_error() - report an error: log it and write
 *	"error/device/TYPE/ID/error" = "ERR message" in our home
 * @dev: the device
 * @err: the -errno (logged and stored as its absolute value)
 * @fmt: what failed
 *
 * The state does not change.  Failures of the store write are logged.
 */
__printf(3, 4)
void vpv_bus_dev_error(struct vpv_bus_device *dev, int err,
		       const char *fmt, ...);

/**
 * vpv_bus_dev_fatal() - vpv_bus_dev_error() and switch to Closing
 * @dev: the device
 * @err: the -errno
 * @fmt: what failed
 *
 * The device stays in Closing: the shared state machine tears the
 * front-end down (@disconnect with -EIO) once the back-end reacts, and
 * connects again only after the device is removed or re-probed.
 */
__printf(3, 4)
void vpv_bus_dev_fatal(struct vpv_bus_device *dev, int err,
		       const char *fmt, ...);

#define VPV_BUS_RING_PAGES_MAX	16	/* ring-page-order 4 */

/**
 * vpv_bus_alloc_ring() - allocate, zero and grant a ring to the back-end
 * @dev: the device
 * @nr_pages: 1..VPV_BUS_RING_PAGES_MAX (1 << ring-page-order)
 * @vaddr: receives the ring's address (physically contiguous)
 * @grefs: receives @nr_pages grant references, page by page
 *
 * Return: 0; -EINVAL for a bad @nr_pages, -ENOMEM, -ENOSPC (no free
 * grant reference) or the grant's -errno, after vpv_bus_dev_fatal()
 * and with nothing left allocated.
 */
int vpv_bus_alloc_ring(struct vpv_bus_device *dev, unsigned int nr_pages,
		       void **vaddr, int *grefs);

/**
 * vpv_bus_free_ring() - end a ring's grants and free it
 * @dev: the device
 * @vaddr: from vpv_bus_alloc_ring(), or NULL (nothing happens)
 * @nr_pages: as allocated
 * @grefs: as returned
 *
 * A page the back-end still maps is freed once it lets go
 * (vpv_gnttab_end_deferred()).
 */
void vpv_bus_free_ring(struct vpv_bus_device *dev, void *vaddr,
		       unsigned int nr_pages, const int *grefs);

/**
 * vpv_bus_bind_evtchn() - allocate an event channel to the back-end and
 *	bind it to a Linux IRQ
 * @dev: the device
 * @handler: an ordinary hard IRQ handler (dev_id is @data)
 * @thread_fn: a threaded handler, or NULL (request_threaded_irq())
 * @name: shown in /proc/interrupts (e.g. "vloop-0" or "vbd-0-q1")
 * @data: the handler's dev_id
 * @port: receives the port, for the back-end's key and notify
 *
 * Call once per queue for one port per queue.
 * Return: the IRQ number (> 0); -ENODEV, -EOPNOTSUPP, -ENOSPC or the
 * host's -errno after vpv_bus_dev_fatal(), with nothing left bound.
 */
int vpv_bus_bind_evtchn(struct vpv_bus_device *dev, irq_handler_t handler,
			irq_handler_t thread_fn, const char *name, void *data,
			unsigned int *port);

/**
 * vpv_bus_unbind_evtchn() - free the IRQ and close its port
 * @irq: from vpv_bus_bind_evtchn()
 * @data: the dev_id given there
 *
 * The handler is not running and will not run when this returns.
 */
void vpv_bus_unbind_evtchn(int irq, void *data);

/**
 * vpv_bus_frontend_changed() - the shared front-end state machine
 * @dev: a bound device whose driver has @fe
 * @theirs: the back-end's new state
 *
 * What the bus runs for drivers with @fe and no @otherend_changed; a
 * driver with its own @otherend_changed may call it too.
 */
void vpv_bus_frontend_changed(struct vpv_bus_device *dev, int theirs);

/* ---- the front-end state machine ---- */

/**
 * enum vpv_fe_action - what a front-end does when the back-end moves
 * @VPV_FE_NONE: nothing
 * @VPV_FE_CONNECT: set up, publish keys, switch to Initialised
 * @VPV_FE_CONNECTED: back-end Connected: switch to Connected
 * @VPV_FE_RECONNECT: tear down (the back-end restarted), then CONNECT
 * @VPV_FE_CLOSE: tear down, switch to Closed
 * @VPV_FE_FAILED: tear down, stay in Closing (after a fatal error)
 */
enum vpv_fe_action {
	VPV_FE_NONE,
	VPV_FE_CONNECT,
	VPV_FE_CONNECTED,
	VPV_FE_RECONNECT,
	VPV_FE_CLOSE,
	VPV_FE_FAILED,
};

/**
 * vpv_fe_decide() - the front-end state machine's transition
 * @ours: our state (VPV_BUS_*)
 * @theirs: the back-end's state
 *
 * Return: the action a front-end in @ours takes when the back-end is
 * in @theirs.
 */
static inline enum vpv_fe_action vpv_fe_decide(int ours, int theirs)
{
	switch (theirs) {
	case VPV_BUS_INITWAIT:
		if (ours == VPV_BUS_INITIALISED || ours == VPV_BUS_CONNECTED)
			return VPV_FE_RECONNECT;	/* missed its Closed */
		if (ours == VPV_BUS_CLOSING)
			return VPV_FE_NONE;
		return VPV_FE_CONNECT;
	case VPV_BUS_CONNECTED:
		if (ours == VPV_BUS_INITIALISED)
			return VPV_FE_CONNECTED;
		return VPV_FE_NONE;
	case VPV_BUS_CLOSING:
	case VPV_BUS_CLOSED:
		if (ours == VPV_BUS_CLOSED)
			return VPV_FE_NONE;
		if (ours == VPV_BUS_CLOSING)
			return VPV_FE_FAILED;
		return VPV_FE_CLOSE;
	default:
		return VPV_FE_NONE;
	}
}

#endif /* PVKIT_VBUS_H */
