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

/*
 * Host -> guest on a back-end port, if the guest has not closed it,
 * ringing vector vec if it must be interrupted (evtchn_raise_vec()).
 */
bool evtchn_notify_guest_backend_vec(struct guest *g, unsigned int port,
				     unsigned int vec)
{
	if (!port_ok(g, port) || !g->ev ||
	    __atomic_load_n(&g->port_stat[port], __ATOMIC_SEQ_CST) !=
	    VPV_EVTCHN_STAT_BACKEND)
		return false;
	return evtchn_raise_vec(g, port, vec);
}

bool evtchn_notify_guest_backend(struct guest *g, unsigned int port)
{
	return evtchn_notify_guest_backend_vec(g, port, VPV_VEC_EVTCHN);
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

static_assert(VPV_NR_DEV_DOORBELLS <= 8, "dev_doorbells is a uint8_t");

static bool slot_ok(const struct guest *g, int slot)
{
	return slot >= 0 && slot < VPV_NR_DEV_DOORBELLS && g->ev;
}

/* Entry e back to 0 if it still names port (guest memory: only a CAS). */
static void unname_if(uint32_t *e, uint32_t port)
{
	__atomic_compare_exchange_n(e, &port, 0, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
}

int evtchn_doorbell_get(struct guest *g)
{
	int i;

	for (i = 0; i < VPV_NR_DEV_DOORBELLS; i++) {
		if (!(g->dev_doorbells & (1u << i))) {
			g->dev_doorbells |= 1u << i;
			return i;
		}
	}
	return -1;
}

void evtchn_doorbell_put(struct guest *g, int slot)
{
	if (slot < 0 || slot >= VPV_NR_DEV_DOORBELLS)
		return;
	evtchn_doorbell_unname(g, slot);
	g->dev_doorbells &= ~(1u << slot);
}

/*
 * The entry is written, then the port's status read again: a CLOSE
 * between the bind and here either sees the entry (and clears it) or
 * left CLOSED for us to see (both sequentially consistent).
 */
void evtchn_doorbell_name(struct guest *g, int slot, unsigned int port)
{
	uint32_t *e;

	if (!slot_ok(g, slot) || !port_ok(g, port))
		return;
	e = &g->ev->to_host.doorbell_port[slot];
	__atomic_store_n(e, port, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&g->port_stat[port], __ATOMIC_SEQ_CST) !=
	    VPV_EVTCHN_STAT_BACKEND)
		unname_if(e, port);
}

void evtchn_doorbell_unname(struct guest *g, int slot)
{
	if (!slot_ok(g, slot))
		return;
	__atomic_store_n(&g->ev->to_host.doorbell_port[slot], 0,
			 __ATOMIC_SEQ_CST);
}

/*
 * Called by CLOSE after the port's status became CLOSED: no entry names
 * the port when CLOSE returns, so a later owner of the number gets its
 * events through VPV_VEC_EVTCHN.  The entries are guest memory: only
 * those equal to port are cleared, nothing is read from them.
 */
void evtchn_doorbell_forget(struct guest *g, unsigned int port)
{
	unsigned int i;

	if (!g->ev || !port)
		return;
	for (i = 0; i < VPV_NR_DEV_DOORBELLS; i++)
		unname_if(&g->ev->to_host.doorbell_port[i], port);
}
