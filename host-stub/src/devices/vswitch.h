/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core's side of the vif switches (vswitch.c): one supervised,
 * sandboxed vpv-netswitch process per switch name, started with its
 * first port and stopped with its last; the core keeps the switch's
 * end of every port and hands them all to each new process.  No frame
 * is handled here.  Protocol: nsw_proto.h; Documentation/host-stub.rst,
 * "vpv-netswitch".  Every function is called with the bus lock held
 * (bus_enter()) unless it says otherwise.
 */
#ifndef VPV_VSWITCH_H
#define VPV_VSWITCH_H

#include <stdbool.h>
#include <stdint.h>

struct bus_dev;
struct sbuf;

/* A switch name: 1..15 of [A-Za-z0-9_-], as a tap's without dots. */
bool vswitch_name_ok(const char *name);
/*
 * Add port fd (the switch's end of a vif's socket pair; taken over,
 * closed on failure too) of device d to switch name, starting the
 * switch if it is new.  0 with *port (its id, never 0), -EINVAL (bad
 * name), -ENOSPC (NSW_PORTS_MAX ports already) or -errno of the spawn.
 */
int vswitch_port_add(const char *name, int fd, struct bus_dev *d,
		     uint32_t *port);
/* Remove port of switch name: closed; the switch stops with its last. */
void vswitch_port_remove(const char *name, uint32_t port);
/* The back-end thread: an fd watched with this tag is readable. */
void vswitch_event(uint64_t tag);
/* The back-end thread: restarts due; the next one's time (ms) or ~0. */
uint64_t vswitch_timers(uint64_t now_ms);
/*
 * {"switches":[{"name","pid","state","crashes","bad_msgs","ports":
 * [{"port","guest","domid","id","in","bad",...,"macs"}]}]}: vpv-ctl
 * switch list.  Takes the bus lock.
 */
void vswitch_json(struct sbuf *out);
/*
 * SIGKILL switch name's process (a crash, for tests: vpv-ctl switch
 * kill); its pid, -ENOENT (no such switch) or -ESRCH (none running).
 * Takes the bus lock.
 */
int vswitch_kill(const char *name);
/* Its process's pid (0: none running), -ENOENT.  Takes the bus lock. */
int vswitch_pid(const char *name);
/* Test hook: port's counters as summed by the core.  0 or -ENOENT. */
struct nsw_port_stats;
int vswitch_port_stats(const char *name, uint32_t port,
		       struct nsw_port_stats *st);
/*
 * Core-side fds of all switches (leak checks): socket and pidfd per
 * running process, one per port.  Takes the bus lock.
 */
unsigned int vswitch_nr_fds(void);

#endif /* VPV_VSWITCH_H */
