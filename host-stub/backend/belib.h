/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The API a device back-end is written against (vloopback.c).  Two
 * implementations: belib.c, in a sandboxed back-end process, talking
 * to the core over the protocol of src/devices/be_proto.h; and be_inproc.c,
 * the core's own functions called directly, linked only into the unit
 * tests and fuzz harnesses (vpv-host itself runs no device code).
 *
 * A device's callbacks run one at a time (the process is single
 * threaded; in-process, under the bus lock).
 */
#ifndef VPV_BELIB_H
#define VPV_BELIB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "be_proto.h"
#include "besandbox.h"

/*
 * CLOCK_MONOTONIC in ns, for a back-end's timings and its counters'
 * pace (the vDSO; the sandbox allows the system call behind it).
 */
static inline uint64_t be_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether vector is one of the guest's per-CPU vectors (ABI 1.5). */
static inline bool be_is_cpu_vector(uint32_t vector)
{
	return vector >= VPV_VEC_CPU0 &&
	       vector < VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS;
}

struct be_dev {
	uint32_t domid, id;
	/* INIT's device fds and parameters (vbd: image, overlay) */
	const struct be_params *params;
	/* readable: call ops->complete (set by init; -1: none) */
	int poll_fd;
	/*
	 * be_now_ns() / 1000000 at which to call ops->complete even if
	 * poll_fd is not readable (vif: the RX backlog's expiry); 0: none.
	 * The device sets and clears it; in-process it is not used (the
	 * tests call be_inproc_complete()).
	 */
	uint64_t timer_ms;
	/* in-process: no poll loop, event() waits for its own I/O */
	bool sync;
	void *priv;		/* the device's */
	void *impl;		/* the implementation's */
};

/* A grant map: in ref/write; out status (0 or -VPV_E*), handle, ptr. */
struct be_gmap {
	uint32_t ref;
	bool write;
	int32_t status;
	uint32_t handle;
	uint8_t *ptr;		/* the 4 KiB frame (guest RAM: guard it) */
};

struct be_device_ops {
	const char *type;
	/* 0, or -errno: the device goes Closing */
	int (*connect)(struct be_dev *bd);
	void (*disconnect)(struct be_dev *bd);
	/* the guest notified the port; < 0: protocol error */
	int (*event)(struct be_dev *bd);
	/*
	 * Optional.  init: once, before the sandbox (params set): make
	 * what needs syscalls the sandbox forbids, add fds and rules to x.
	 * 0 or -errno (the process exits).  fini: in-process removal.
	 */
	int (*init)(struct be_dev *bd, struct be_sandbox_extra *x);
	void (*fini)(struct be_dev *bd);
	/* poll_fd readable (I/O done) or timer_ms due; < 0: protocol error */
	int (*complete)(struct be_dev *bd);
	/* RESIZE to size bytes: 0 or -errno (answered RESIZE_DONE) */
	int (*resize)(struct be_dev *bd, uint64_t size);
};

/*
 * Read key of the device's front-end (fe) or back-end directory into
 * buf (NUL-terminated).  Returns the length or -errno.
 */
int be_store_read(struct be_dev *bd, bool fe, const char *key, char *buf,
		  unsigned int size);
/* Map n (1 .. BE_MAP_BATCH) grants of the device's guest; 0 or -errno
 * for the whole call, each entry's own status in m[i].status.
 */
int be_grant_map(struct be_dev *bd, struct be_gmap *m, unsigned int n);
/* Unmap the entries of m with status 0 (and clear them). */
void be_grant_unmap(struct be_dev *bd, struct be_gmap *m, unsigned int n);
/*
 * Return once every unmap asked before is done (a process: one SYNC
 * round trip if it sent any since the last; in-process they are done
 * at once): call it before making responses visible, so a front-end
 * ending access to a grant of an answered request finds it unmapped.
 * Returns whether it waited for the core (false in-process).
 */
bool be_unmap_barrier(struct be_dev *bd);
/*
 * Bind one more of the device's event channels (one for most types, up
 * to BE_PORTS_MAX for a vif: a port per queue); 0 or -VPV_E*, -EEXIST
 * beyond the type's count.  be_unbind(): every port bound.
 */
int be_bind(struct be_dev *bd, uint32_t port);
void be_unbind(struct be_dev *bd);
/* Raise the first bound port towards the guest: be_notify_vector(EVTCHN). */
void be_notify(struct be_dev *bd);
/*
 * Raise bound port (any of the device's, else nothing) towards the
 * guest and ring vector as be_notify_vector() does.
 */
void be_notify_port(struct be_dev *bd, uint32_t port, uint32_t vector);
/*
 * Raise the first bound port towards the guest (pending and selector bits)
 * and, if that must interrupt it (the selector word was empty), ring
 * vector: one of the guest's per-CPU vectors (ABI 1.5,
 * be_is_cpu_vector()) as its front-end named it, else VPV_VEC_EVTCHN.
 * The guest's handler scans every pending port whichever vector it
 * came on.
 */
void be_notify_vector(struct be_dev *bd, uint32_t vector);
/* More work is waiting past the budget: call event() again soon. */
void be_again(struct be_dev *bd);
/* Run fn(arg), which touches guest RAM; 0 or -VPV_EFAULT on a fault. */
int be_guard(struct be_dev *bd, void (*fn)(void *arg), void *arg);
/* Counters: requests answered, requests refused (not offered). */
void be_count(struct be_dev *bd, uint64_t requests, uint64_t refused);
/* vbd counters since the last call and gauges (BLK_STATS). */
void be_blk_report(struct be_dev *bd, const struct be_blk_stats *s);
/* vif counters since the last call and gauges (NET_STATS). */
void be_net_report(struct be_dev *bd, const struct be_net_stats *s);
/* Write key of the device's back-end directory; 0 or -errno. */
int be_store_write(struct be_dev *bd, const char *key, const char *val);

/* The vloop device (vloopback.c). */
extern const struct be_device_ops vloop_be_ops;
#define VLOOP_BUDGET		256u	/* requests per event() call */

/* The vbd device (blkback.c). */
extern const struct be_device_ops blk_be_ops;

/* The vif device (netback.c). */
extern const struct be_device_ops net_be_ops;

/* belib.c: the back-end process's main loop (fd 3: the socket). */
int be_main(const struct be_device_ops *ops);

#endif /* VPV_BELIB_H */
