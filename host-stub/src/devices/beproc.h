/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Back-end processes (beproc.c): the bus driver that serves a device
 * type from one sandboxed process per device instance, and their
 * supervision.  Protocol: be_proto.h; Documentation/host-stub.rst.
 */
#ifndef VPV_BEPROC_H
#define VPV_BEPROC_H

#include <stdint.h>
#include <sys/types.h>

#include <stdbool.h>

#include "be_proto.h"
#include "vbd.h"
#include "vif.h"
#include "vswitch.h"

struct bus_dev;
struct bus_feature;
struct guest;
struct grant_map;

/*
 * Supervision defaults: a back-end that dies is restarted after
 * BEPROC_BACKOFF_MIN_MS, doubling per crash up to BEPROC_BACKOFF_MAX_MS
 * (reset by a successful connect): quick enough that a front-end's
 * replay sees a short gap, slow enough that a process crashing at
 * start costs a few spawns per second.  BEPROC_MAX_CRASHES crashes
 * within BEPROC_CRASH_WINDOW_MS put the device in state failed.
 */
#define BEPROC_BACKOFF_MIN_MS	50u
#define BEPROC_BACKOFF_MAX_MS	2000u
#define BEPROC_MAX_CRASHES	5u
#define BEPROC_CRASH_WINDOW_MS	10000u
/* messages handled per back-end per wake-up: fairness between them */
#define BEPROC_MSGS_PER_WAKE	32u

struct beproc_cfg {
	unsigned int max_crashes;	/* 0: the default */
	unsigned int window_ms;
	unsigned int backoff_min_ms;
	unsigned int backoff_max_ms;
};

/* Register the process driver of every known device type (split_init). */
void beproc_init(void);
/* Supervision settings (config: --backend-max-crashes ...). */
void beproc_configure(const struct beproc_cfg *cfg);
/* Where vpv-<type>back is looked for (default: next to the executable). */
void beproc_set_dir(const char *dir);
/* The feature keys the core advertises for a device type (or NULL). */
const struct bus_feature *beproc_features(const char *type);
/* Grant maps a device of type may hold at a time (0: unknown type). */
unsigned int beproc_maps_max(const char *type);
/*
 * Check the device's creation parameters (p may be NULL) and write its
 * type's static back-end keys (vbd: sectors, sector-size...); bus lock
 * held, called by the bus driver's add.  0 or -errno.
 */
int beproc_setup(struct bus_dev *d, const struct be_params *p);
/*
 * A device's grant maps: at most cap, handles 0 .. cap - 1 kept on a
 * free stack (O(1) map and unmap, whatever the cap).  Bus lock held.
 */
struct be_maptab {
	struct grant_map *maps;
	bool *used;
	uint32_t *free;		/* free handles, a stack */
	uint32_t nfree, cap;
};

/* 0 or -ENOMEM */
int be_maptab_init(struct be_maptab *mt, unsigned int cap);
/* Unmap everything and free the table (a zeroed one is fine). */
void be_maptab_destroy(struct be_maptab *mt);
/* grant_map() ref of g into a free handle: 0, -ENOSPC or -VPV_E* */
int be_maptab_map(struct be_maptab *mt, struct guest *g, uint32_t ref,
		  bool write, uint32_t *handle);
/* 0, or -ENOENT for a handle not mapped */
int be_maptab_unmap(struct be_maptab *mt, uint32_t h);
/* Unmap every handle still mapped. */
void be_maptab_release(struct be_maptab *mt);

/* Test hooks (host unit tests): the device's back-end process id (0:
 * none), its state name, and a forbidden syscall after n requests at
 * its next spawn.  Bus lock taken inside.
 */
int beproc_pid(const char *type, uint32_t domid, uint32_t id);
int beproc_state(const char *type, uint32_t domid, uint32_t id,
		 char *buf, unsigned int size);
int beproc_debug_forbid(const char *type, uint32_t domid, uint32_t id,
			uint64_t n);
/*
 * SIGKILL the device's back-end process (a crash, for tests); 0 with
 * *killed its pid, -ENOENT (no such process device) or -ESRCH (no
 * process now).  The process may be reaped (and the device in its
 * restart backoff) before the caller looks again: *killed is the one
 * record of which process the signal went to.
 */
int beproc_kill(const char *type, uint32_t domid, uint32_t id, pid_t *killed);
/*
 * Core-side fds of all back-ends (leak checks): 4 + VPV_NR_CPU_VECTORS
 * per live process (socket, pidfd, kick, call, the per-CPU calls).
 */
unsigned int beproc_nr_fds(void);

/*
 * For vswitch.c, which supervises vpv-netswitch the same way: start
 * exe as a back-end process (found as vpv-<type>back is, its socket as
 * fd 3, clone3 with a pidfd, exit signal 0); 0 with *sock (the core's
 * end, close-on-exec), *pidfd and *pid, or -errno.
 */
int beproc_spawn_exe(const char *exe, int *sock, int *pidfd, pid_t *pid);
/*
 * A vif on a switch (vif_open(), BE_VIF_SWITCH): p (the device's copy
 * of its params) carries the switch's end of the port as fds[1]; move
 * it to the switch (vswitch_port_add(): vswitch.c keeps it for every
 * restart of the switch), leaving the back-end fds[0] alone.  0 with
 * *port (0: not on a switch) or -errno.  Bus lock held.
 */
int beproc_switch_port(struct be_params *p, struct bus_dev *d,
		       uint32_t *port);
/* The supervision settings in force (--backend-max-crashes ...). */
const struct beproc_cfg *beproc_config(void);
/*
 * Have the back-end thread call vswitch_event(tag) when fd is readable
 * (tag < 2^62), under the bus lock; 0 or -errno.  Unwatch before close.
 */
int beproc_watch(int fd, uint64_t tag);
void beproc_unwatch(int fd);
/* Wake the back-end thread: its timers (vswitch_timers()) changed. */
void beproc_wake(void);

/* backend/be_inproc.c (tests and fuzz harnesses only) */
struct be_device_ops;
/* serve ops->type in-process (up to 3 types); 0 or -errno */
int be_inproc_register(const struct be_device_ops *ops);
/*
 * In-process, what a process's poll loop does when the device's
 * poll_fd is readable or its timer is due: call its ops->complete
 * (vif: read the tap, deliver, expire), under the bus lock.  0,
 * -ENOENT (no such in-process device) or the callback's error (a
 * protocol error: the device goes Closing).
 */
int be_inproc_complete(const char *type, uint32_t domid, uint32_t id);

#endif /* VPV_BEPROC_H */
