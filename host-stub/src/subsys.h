/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-guest subsystems: one ops table each, registered by one line in
 * subsys.c (kvmtool's one line per device).  The core (guest.c,
 * hcall.c, main.c, evtchn_be.c, ctl.c) walks the table instead of
 * calling each subsystem.  Included at the end of vpv_host.h.
 */
#ifndef VPV_SUBSYS_H
#define VPV_SUBSYS_H

struct guest;
struct host;
struct sbuf;

/*
 * struct guest_subsys_ops - what a subsystem does for the core.  Every
 * member but @name may be NULL (nothing to do then).  The table runs
 * them in its order; @destroy in the reverse order.
 *
 * @name:	short name, for messages (the table's rows).
 * @setup:	once at start-up, single-threaded, from hc_init(): register
 *		hypercalls (hc_register()), global state.
 * @init:	guest_init(), after the guest's RAM, shared region and
 *		eventfds exist, before its hypercall thread starts.
 *		Returns 0 or a negative errno; guest_init() then destroys
 *		the guest (every @destroy runs, see below).
 * @reset:	VPV_HC_NEGOTIATE on the guest's hypercall thread: a new
 *		session (the guest driver was reloaded); drop the old
 *		session's state, keep the guest's.
 * @tick:	the main loop's 1 s timer, main thread; @now_ms is
 *		CLOCK_MONOTONIC.  Global: a subsystem with per-guest work
 *		walks @h->guests itself (removed guests included, as their
 *		state allows).
 * @port_event:	the guest notified @port, a port bound to a host
 *		back-end (evtchn_notify_backend(), hypercall thread).
 *		Returns true if the port is this subsystem's (the walk
 *		stops there).
 * @port_closed: the guest closed @port, bound to a host back-end: the
 *		subsystem lets go of it if it holds it (every subsystem
 *		is asked).
 * @stats:	vpv-ctl stats: append ``,"key":value`` members to the
 *		guest's JSON object (ctl.c, main thread).
 * @destroy:	guest_destroy(), after the guest's hypercall thread has
 *		stopped, in the reverse of the table's order (a subsystem
 *		is gone before those it uses: back-ends before the store,
 *		the domain id before the grant table).  Must be safe on a
 *		guest whose @init did not run or failed (guest_init()
 *		zeroes the guest first) and when called twice.
 */
struct guest_subsys_ops {
	const char *name;
	void (*setup)(void);
	int (*init)(struct guest *g);
	void (*reset)(struct guest *g);
	void (*tick)(struct host *h, uint64_t now_ms);
	bool (*port_event)(struct guest *g, unsigned int port);
	void (*port_closed)(struct guest *g, unsigned int port);
	void (*stats)(struct sbuf *out, struct guest *g);
	void (*destroy)(struct guest *g);
};

/* the subsystems, each defined next to its code */
extern const struct guest_subsys_ops activity_subsys;	/* activity.c */
extern const struct guest_subsys_ops mem_subsys;	/* mem.c */
extern const struct guest_subsys_ops evtchn_subsys;	/* evtchn.c */
extern const struct guest_subsys_ops pvmmu_subsys;	/* pvmmu.c */
extern const struct guest_subsys_ops grant_subsys;	/* grant.c */
extern const struct guest_subsys_ops domain_subsys;	/* domain.c */
extern const struct guest_subsys_ops store_subsys;	/* store_ring.c */
extern const struct guest_subsys_ops bus_subsys;	/* bus.c */

/* Every @setup, in table order (hc_init()). */
void subsys_setup(void);
/* Every @init in table order; stops at the first error and returns it. */
int subsys_guest_init(struct guest *g);
/* Every @reset in table order (NEGOTIATE). */
void subsys_guest_reset(struct guest *g);
/* Every @tick in table order (the main loop's timer). */
void subsys_tick(struct host *h, uint64_t now_ms);
/* @port_event in table order until one takes @port; false if none. */
bool subsys_port_event(struct guest *g, unsigned int port);
/* Every @port_closed in table order. */
void subsys_port_closed(struct guest *g, unsigned int port);
/* Every @stats in table order. */
void subsys_stats(struct sbuf *out, struct guest *g);
/* Every @destroy in reverse table order (guest_destroy()). */
void subsys_guest_destroy(struct guest *g);
/* The table's rows and their number (tests, messages). */
const struct guest_subsys_ops *const *subsys_table(size_t *nr);

#endif /* VPV_SUBSYS_H */
