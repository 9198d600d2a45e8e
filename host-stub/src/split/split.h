/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Split-driver platform, host side: domain ids, grant tables, the
 * config store, the bus back-end framework and the vloop back-end.
 * Included at the end of vpv_host.h.
 */
#ifndef VPV_SPLIT_H
#define VPV_SPLIT_H

#include "be_proto.h"	/* be_params, be_blk_stats, be_net_stats */

#define VPV_GNTTAB_OFFSET	0x10000u
#define VPV_GNTTAB_NR		8192u
#define VPV_STORE_OFFSET	0x4000u

/* ---- domain ids (domain.c) ---- */

#define DOMAIN_MAX		256u	/* domids 1 .. DOMAIN_MAX */
#define STORE_DOMID_HOST	0u	/* the host in the store ("dom0") */

int domain_add(struct guest *g);
void domain_remove(struct guest *g);
/* Look a guest up and hold it (read lock); domain_put() releases. */
struct guest *domain_get(uint32_t domid);
void domain_put(void);
/* Several lookups under one read lock (never nest domain_get()). */
void domain_read_lock(void);
void domain_read_unlock(void);
struct guest *domain_find_locked(uint32_t domid);

/* ---- grant tables (grant.c) ---- */

struct guest_gnt {
	pthread_mutex_t lock;
	uint16_t *rd;		/* ref -> active read-only maps */
	uint16_t *wr;		/* ref -> active writable maps */
	uint32_t nr;		/* entries (== header gnttab_nr) */
	struct vpv_grant_entry *tab;
};

struct grant_map {
	struct guest *g;	/* the granting guest */
	uint32_t ref;
	uint64_t pfn;
	bool write;
	uint8_t *ptr;		/* the 4 KiB frame, host mapping */
};

int grant_init(struct guest *g);
void grant_destroy(struct guest *g);
int grant_map(struct guest *g, uint32_t ref, uint16_t accessor_domid,
	      bool write, struct grant_map *m);
void grant_unmap(struct grant_map *m);
/*
 * Several maps and unmaps of g's grants as one step: between
 * grant_batch_begin(g) and grant_batch_end(g) (g's grant-table lock and
 * mem_lock held), grant_map_locked() and grant_unmap_locked() of g's
 * grants do what grant_map() and grant_unmap() do without taking the
 * locks again.  At most GRANT_BATCH_MAX of them per batch, so that a
 * hold of the global mem_lock stays bounded: a back-end's batch of 256
 * maps costs one lock round trip instead of 256 (each of which reads
 * the thread's CPU clock twice, a system call).
 */
#define GRANT_BATCH_MAX		256u
void grant_batch_begin(struct guest *g);
void grant_batch_end(struct guest *g);
int grant_map_locked(struct guest *g, uint32_t ref, uint16_t accessor_domid,
		     bool write, struct grant_map *m);
void grant_unmap_locked(struct grant_map *m);
unsigned int grant_nr_mapped(struct guest *g);
long grant_table_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS]);
void grant_register(void);

/* ---- config store (store*.c, see store_core.h) ---- */

#define STORE_READERS_MAX	8
#define STORE_OUTQ_MAX		64	/* queued messages per guest */
/*
 * Per-guest transaction bounds, charged as each request arrives (a
 * request beyond them: -ENOSPC, the transaction stays usable).
 * Ops: WRITE/MKDIR/RM per transaction; as many as a guest may own
 * nodes, so any transaction that can commit fits, and every request
 * in a transaction walks at most this many ops.  Paths: distinct
 * nodes one transaction looked at (each op's own included), room for
 * as many reads as ops.
 * Bytes: what all open transactions of a guest buffer (paths, values
 * and STORE_TX_OP_COST per op or path for the records around them):
 * 512 KiB, an eighth of the 4 MiB a guest's nodes may hold, far above
 * a device handshake and small beside guest RAM.
 */
#define STORE_TX_OPS_MAX	VPV_STORE_NODES_MAX
#define STORE_TX_PATHS_MAX	(2 * STORE_TX_OPS_MAX)
#define STORE_TX_BYTES_MAX	(512u << 10)
#define STORE_TX_OP_COST	64u	/* record + malloc overhead, bytes */
#define STORE_TX_HASH		256u	/* path buckets per transaction */
/*
 * A watch token: short, so that a WATCH_EVENT (a path of up to
 * VPV_STORE_PATH_MAX, the token, two NULs) always fits in
 * VPV_STORE_PAYLOAD_MAX.  Longer: -E2BIG.
 */
#define STORE_TOKEN_MAX		VPV_STORE_PATH_MAX

typedef void (*store_watch_fn)(void *ctx, const char *path);

void store_init(void);
int store_guest_add(struct guest *g);
void store_guest_remove(struct guest *g);
void store_guest_reset(struct guest *g);	/* NEGOTIATE */

/*
 * Host/guest API.  caller: STORE_DOMID_HOST or a guest's domid; tx: 0
 * or a transaction id of caller.  Returns 0 or a negative Linux errno
 * (-ENOENT, -EACCES, -EINVAL, -E2BIG, -ENOSPC, -EBUSY, -EAGAIN).
 * store_read/store_directory return a malloc'ed buffer (NUL appended,
 * not counted in *len).
 */
int store_read(uint32_t caller, uint32_t tx, const char *path,
	       char **val, uint32_t *len);
int store_write(uint32_t caller, uint32_t tx, const char *path,
		const void *val, uint32_t len);
int store_mkdir(uint32_t caller, uint32_t tx, const char *path);
int store_rm(uint32_t caller, uint32_t tx, const char *path);
int store_directory(uint32_t caller, uint32_t tx, const char *path,
		    char **names, uint32_t *len);
int store_watch(uint32_t caller, const char *path, const char *token);
int store_unwatch(uint32_t caller, const char *path, const char *token);
int store_tx_start(uint32_t caller, uint32_t *id);
int store_tx_end(uint32_t caller, uint32_t id, bool commit);
/* host only: set owner and readers of an existing node */
int store_set_perms(const char *path, uint32_t owner,
		    const uint32_t *readers, unsigned int nr);
int store_writef(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* host-internal watch: cb runs later, outside the store lock */
int store_watch_host(const char *path, store_watch_fn cb, void *ctx);
void store_unwatch_host(const char *path, store_watch_fn cb, void *ctx);
void store_run_deferred(void);
/* while held (per thread), store calls leave deferred callbacks queued */
void store_defer_hold(int delta);
const char *store_errname(int err);

struct store_guest_info {
	uint32_t nodes, watches, tx, outq;
	uint32_t tx_bytes;		/* charged to open transactions */
	bool connected;
	uint32_t port;
};

int store_guest_info(uint32_t domid, struct store_guest_info *si);

/* store_ring.c */
long store_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS]);
void store_register(void);
/* port notified by the guest; true if it is the store's port */
bool store_port_event(struct guest *g, unsigned int port);
/* the guest closed port: forget it if it is the store's */
void store_port_closed(struct guest *g, unsigned int port);
/* the store's internals: store_core.h */

/* ---- event channels for back-ends (evtchn.c) ---- */

int evtchn_bind_backend(struct guest *g, unsigned int port);
void evtchn_unbind_backend(struct guest *g, unsigned int port);
bool evtchn_notify_backend(struct guest *g, unsigned int port);
bool evtchn_notify_guest_backend(struct guest *g, unsigned int port);
/* the same, ringing vec (a per-CPU vector, ABI 1.5) instead of EVTCHN */
bool evtchn_notify_guest_backend_vec(struct guest *g, unsigned int port,
				     unsigned int vec);
void evtchn_backend_closed(struct guest *g, unsigned int port);
void evtchn_kick_host(struct guest *g, unsigned int port);
/*
 * Device doorbells (VPV_F_DEV_DOORBELL): a back-end process waits on
 * host_ev[VPV_VEC_DEV0 + slot] itself.  evtchn_doorbell_get() takes a
 * free slot of the guest (-1: none left, the device uses
 * VPV_VEC_EVTCHN through the core), evtchn_doorbell_put() gives it
 * back; both under the bus lock.  evtchn_doorbell_name() tells the
 * guest that port (bound to the back-end) rings the slot's vector,
 * evtchn_doorbell_unname() that it no longer does.  The guest's CLOSE
 * of the port unnames it too (evtchn_doorbell_forget()).
 */
int evtchn_doorbell_get(struct guest *g);
void evtchn_doorbell_put(struct guest *g, int slot);
void evtchn_doorbell_name(struct guest *g, int slot, unsigned int port);
void evtchn_doorbell_unname(struct guest *g, int slot);
void evtchn_doorbell_forget(struct guest *g, unsigned int port);

/* ---- bus (bus.c) ---- */

struct bus_dev;
struct bus_dev_info;
struct be_params;

/*
 * A feature key a back-end advertises in its directory (Xen blkif
 * style: "feature-barrier" = "1"), written once when the device is
 * created, before InitWait, and never again for that device: an
 * admin's override (vpv-ctl store write) survives a restart.
 */
struct bus_feature {
	const char *key;	/* "feature-...", "max-ring-page-order" */
	uint32_t value;
};

struct bus_driver {
	const char *type;
	/* advertised feature keys, ending with { NULL }; may be NULL */
	const struct bus_feature *features;
	int (*connect)(struct bus_dev *dev);	/* 0 or -errno */
	void (*disconnect)(struct bus_dev *dev);
	/* returns < 0 on a protocol error (the device goes Closing) */
	int (*event)(struct bus_dev *dev);
	/*
	 * Optional, for back-ends in their own process (beproc.c).  connect
	 * may also return 1: pending, completed by bus_connect_done().
	 */
	int (*add)(struct bus_dev *dev);	/* created: start it */
	void (*remove)(struct bus_dev *dev);	/* removed: stop it */
	int (*restart)(struct bus_dev *dev);	/* vpv-ctl device restart */
	/* vpv-ctl device resize (bytes): 0 (asked) or -errno */
	int (*resize)(struct bus_dev *dev, uint64_t size);
	void (*info)(const struct bus_dev *dev, struct bus_dev_info *i);
};

/* ports of a device besides bus_dev.port (be_proto.h's BE_PORTS_MAX) */
#define BUS_XPORTS	(BE_PORTS_MAX - 1)

struct bus_dev {
	const struct bus_driver *drv;
	struct guest *g;
	uint32_t domid;
	uint32_t id;
	char fe[96], be[96];	/* directory paths */
	int be_state;
	bool connected;
	bool connecting;	/* connect pending (process back-ends) */
	bool removing;
	uint64_t remove_deadline_ms;
	uint32_t port;		/* bound port, 0: none */
	/*
	 * A process back-end's further bound ports (a vif's queues 1 ..,
	 * BE_PORTS_MAX in all with port), 0: none; events on any of them
	 * go to the driver's event() as port's do.
	 */
	uint32_t xport[BUS_XPORTS];
	uint64_t requests;
	uint64_t protocol_errors;
	/* creation parameters, only during the driver's add (else NULL) */
	const struct be_params *params;
	void *priv;		/* driver's */
	struct bus_dev *next;
};

#define BUS_REMOVE_TIMEOUT_MS	5000u

/* Whether port is one of d's bound ports, port or xport[] (0 never is). */
bool bus_dev_has_port(const struct bus_dev *d, uint32_t port);
/* Forget every port of d (port and xport[]): the driver unbound them. */
void bus_dev_clear_ports(struct bus_dev *d);

int bus_register_driver(const struct bus_driver *drv);
int bus_device_add(struct guest *g, const char *type, uint32_t id);
/* The same with the device's parameters (vbd: its fds), for add. */
int bus_device_add_params(struct guest *g, const char *type, uint32_t id,
			  const struct be_params *params);
int bus_device_remove(struct guest *g, const char *type, uint32_t id);
int bus_device_restart(struct guest *g, const char *type, uint32_t id);
/* The driver's resize: 0, -ENOENT, -EOPNOTSUPP (no resize) or its own */
int bus_device_resize(struct guest *g, const char *type, uint32_t id,
		      uint64_t size);
void bus_tick(uint64_t now_ms);
void bus_guest_reset(struct guest *g);	/* NEGOTIATE */
void bus_guest_remove(struct guest *g);
bool bus_port_event(struct guest *g, unsigned int port);
void bus_port_closed(struct guest *g, unsigned int port);
int bus_protocol_error(struct bus_dev *dev);
/* Bus lock held: a pending connect's result (0 or -errno). */
void bus_connect_done(struct bus_dev *dev, int ret);
/* Bus lock held: the device's process died; Closing, Closed, and
 * InitWait again unless failed.
 */
void bus_backend_gone(struct bus_dev *dev, bool failed);
/* Take and release the bus lock (beproc.c's thread). */
void bus_enter(void);
void bus_leave(void);
/*
 * A feature key in the device's own back-end directory, as it stands
 * now (read it at connect: an admin may have changed it).  The value
 * is copied once and parsed strictly: decimal digits, an optional
 * trailing newline (as the guest's kstrtouint() takes), at most
 * UINT32_MAX.  Returns @def when the key is absent, unreadable or not
 * such a number -- the same value the front-end's
 * vpv_bus_read_feature() falls back to, so both ends agree.
 */
uint32_t bus_read_feature(const struct bus_dev *dev, const char *key,
			  uint32_t def);

struct bus_dev_info {
	char type[16];
	uint32_t domid, id;
	int be_state, fe_state;
	bool connected;
	uint32_t port;
	uint64_t requests, protocol_errors;
	char guest[VPV_NAME_MAX + 1];
	/* process back-ends: pid (0: none), running/backoff/failed */
	int be_pid;
	char be_proc[12];
	uint32_t be_crashes;	/* in all */
	int be_last_status;	/* wait status of the last exit, -1: none */
	bool has_blk;		/* a vbd: blk and resize_result are set */
	struct be_blk_stats blk;
	int resize_result;	/* of the last resize, 1: none answered */
	bool has_net;		/* a vif: net and tap are set */
	struct be_net_stats net;
	char tap[BE_VIF_IFNAMSIZ];	/* the tap's name, or the switch's */
	bool on_switch;		/* tap is a --switch name */
};

/* fills up to max entries (domid 0: all); returns the number of devices */
size_t bus_device_list(uint32_t domid, struct bus_dev_info *out,
		       size_t max);
uint64_t bus_now_ms(void);

/* ---- back-end processes (beproc.c, beproc.h) ---- */

#include "beproc.h"

/* ---- control (ctl_split.c) ---- */

struct host;
struct sbuf;
int ctl_cmd_store(struct host *h, int argc, char **argv, struct sbuf *out);
int ctl_cmd_device(struct host *h, int argc, char **argv, struct sbuf *out);
int ctl_cmd_switch(struct host *h, int argc, char **argv, struct sbuf *out);
void split_init(void);
struct json;
void ctl_split_print(const struct json *j);	/* vpv-ctl, human output */
/* A vif's counters as a JSON object (device list, stats). */
void ctl_json_net(struct sbuf *out, const struct be_net_stats *n);
/* stats: ,"vifs":{"ID":{counters},..} of g's vif devices */
void ctl_json_vifs(struct sbuf *out, const struct guest *g);

#endif /* VPV_SPLIT_H */
