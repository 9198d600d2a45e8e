// SPDX-License-Identifier: GPL-2.0
/*
 * Event channels of the host's services (the config store, back-ends):
 * binding to a port the guest allocated (VPV_EVTCHN_STAT_BACKEND),
 * raising it, and dispatching the guest's notifications.
 *
 * Binding can happen on the main thread (vpv-ctl, tests) while the
 * guest's hypercall thread owns the port table, so the status bytes
 * are changed here with atomics only.
 */
#include <errno.h>
#include <unistd.h>

#include "vpv_host.h"

static bool port_ok(const struct guest *g, unsigned int port)
{
	return port >= 1 && port < g->nr_ports;
}

/* -VPV_EINVAL: bad port; -VPV_ENOENT: not allocated; -VPV_EEXIST: bound */
int evtchn_bind_backend(struct guest *g, unsigned int port)
{
	uint8_t old = VPV_EVTCHN_STAT_UNBOUND;

	if (!port_ok(g, port))
		return -VPV_EINVAL;
	if (__atomic_compare_exchange_n(&g->port_stat[port], &old,
					VPV_EVTCHN_STAT_BACKEND, false,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return 0;
	return old == VPV_EVTCHN_STAT_CLOSED ? -VPV_ENOENT : -VPV_EEXIST;
}

/* The port stays allocated to the guest, unbound. */
void evtchn_unbind_backend(struct guest *g, unsigned int port)
{
	uint8_t old = VPV_EVTCHN_STAT_BACKEND;

	if (!port_ok(g, port))
		return;
	__atomic_compare_exchange_n(&g->port_stat[port], &old,
				    VPV_EVTCHN_STAT_UNBOUND, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* Host -> guest on a back-end port, if the guest has not closed it. */
bool evtchn_notify_guest_backend(struct guest *g, unsigned int port)
{
	if (!port_ok(g, port) || !g->ev ||
	    __atomic_load_n(&g->port_stat[port], __ATOMIC_SEQ_CST) !=
	    VPV_EVTCHN_STAT_BACKEND)
		return false;
	return evtchn_raise(g, port);
}

/* Guest -> host on a BACKEND port: find the service. */
bool evtchn_notify_backend(struct guest *g, unsigned int port)
{
	return subsys_port_event(g, port);
}

/*
 * The guest closed a port bound to a back-end: the service that holds
 * it lets go (it neither unbinds nor takes events of a later owner of
 * the same number).  It stays up without a port until its front-end
 * connects again.
 */
void evtchn_backend_closed(struct guest *g, unsigned int port)
{
	subsys_port_closed(g, port);
}

/*
 * Come back to port later: mark it pending towards the host and wake
 * the guest's hypercall thread, which handles other work first.
 */
void evtchn_kick_host(struct guest *g, unsigned int port)
{
	uint64_t one = 1;

	if (!port_ok(g, port) || !g->ev)
		return;
	__atomic_fetch_or(&g->ev->to_host.pending[port / 64],
			  1ull << (port % 64), __ATOMIC_SEQ_CST);
	__atomic_fetch_or(&g->ev->to_host.sel, 1ull << (port / 64),
			  __ATOMIC_SEQ_CST);
	if (g->host_ev[VPV_VEC_EVTCHN] >= 0 &&
	    write(g->host_ev[VPV_VEC_EVTCHN], &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		return;
}
