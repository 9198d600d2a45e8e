// SPDX-License-Identifier: GPL-2.0
/*
 * Event channels (Xen 2-level style), host side.
 *
 * The port table (g->port_stat) is private to the host.  The guest's
 * hypercall thread changes it, and the main thread binds back-end ports
 * meanwhile (evtchn_be.c, compare-and-exchange UNBOUND -> BACKEND), so
 * every access is atomic and every transition that depends on the old
 * status is a compare-and-exchange too: a plain check-then-store could
 * overwrite a concurrent bind.  The bitmaps in the shared region are
 * accessed with atomics only.
 */
#include "vpv_host.h"
#include "evtchn_page.h"

#define EV_WORD(p)	((p) / 64)
#define EV_BIT(p)	(1ull << ((p) % 64))

static bool port_valid(const struct guest *g, uint64_t port)
{
	return port >= 1 && port < g->nr_ports;
}

static uint8_t port_get(const struct guest *g, unsigned int port)
{
	return __atomic_load_n(&g->port_stat[port], __ATOMIC_SEQ_CST);
}

static void port_set(struct guest *g, unsigned int port, uint8_t st)
{
	__atomic_store_n(&g->port_stat[port], st, __ATOMIC_SEQ_CST);
}

/* st, whatever the port was in; returns what it was. */
static uint8_t port_xchg(struct guest *g, unsigned int port, uint8_t st)
{
	return __atomic_exchange_n(&g->port_stat[port], st, __ATOMIC_SEQ_CST);
}

/* old -> new if the port is still in old; else *cur is what it is. */
static bool port_cas(struct guest *g, unsigned int port, uint8_t old,
		     uint8_t new, uint8_t *cur)
{
	*cur = old;
	return __atomic_compare_exchange_n(&g->port_stat[port], cur, new,
					   false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST);
}

static void port_clear_pending(struct guest *g, unsigned int port)
{
	__atomic_fetch_and(&g->ev->to_guest.pending[EV_WORD(port)],
			   ~EV_BIT(port), __ATOMIC_SEQ_CST);
	__atomic_fetch_and(&g->ev->to_host.pending[EV_WORD(port)],
			   ~EV_BIT(port), __ATOMIC_SEQ_CST);
}

/* Close every port (start or restart of a guest session). */
void evtchn_reset(struct guest *g)
{
	unsigned int p;

	for (p = 1; p < g->nr_ports; p++) {
		if (port_get(g, p) != VPV_EVTCHN_STAT_CLOSED && g->ev)
			port_clear_pending(g, p);
		port_set(g, p, VPV_EVTCHN_STAT_CLOSED);
	}
}

unsigned int evtchn_nr_open(const struct guest *g)
{
	unsigned int p, n = 0;

	for (p = 1; p < g->nr_ports; p++)
		n += port_get(g, p) != VPV_EVTCHN_STAT_CLOSED;
	return n;
}

/*
 * Host -> guest (evtchn_page.h: the bits and their ordering), ringing
 * vector vec if the guest must be interrupted: VPV_VEC_EVTCHN, or (ABI
 * 1.5) a per-CPU vector, whose handler scans sel the same way.  Returns
 * true if the pending bit was clear (a new event).
 */
bool evtchn_raise_vec(struct guest *g, unsigned int port, unsigned int vec)
{
	enum evtchn_raised r = evtchn_page_raise(g->ev, port);

	if (r == EV_COALESCED) {
		STAT_INC(g, ev_to_guest_coalesced);
		return false;
	}
	STAT_INC(g, ev_to_guest);
	if (r == EV_RING) {
		STAT_INC(g, ev_irqs);
		guest_ring(g, vec);
	}
	return true;
}

bool evtchn_raise(struct guest *g, unsigned int port)
{
	return evtchn_raise_vec(g, port, VPV_VEC_EVTCHN);
}

/* One guest -> host notification on port. */
static void evtchn_deliver_to_host(struct guest *g, unsigned int port)
{
	STAT_INC(g, ev_from_guest);
	if (!port_valid(g, port)) {
		STAT_INC(g, ev_dropped);
		return;
	}
	switch (port_get(g, port)) {
	case VPV_EVTCHN_STAT_ECHO:
		evtchn_raise(g, port);
		break;
	case VPV_EVTCHN_STAT_UNBOUND:
		STAT_INC(g, ev_unbound);
		break;
	case VPV_EVTCHN_STAT_BACKEND:
		if (!evtchn_notify_backend(g, port))
			STAT_INC(g, ev_dropped);
		break;
	default:
		STAT_INC(g, ev_dropped);
		break;
	}
}

/* VPV_VEC_EVTCHN doorbell from the guest. */
void evtchn_from_guest(struct guest *g)
{
	struct vpv_evtchn_dir *d = &g->ev->to_host;
	uint64_t sel, pend;
	unsigned int w, b;

	sel = __atomic_exchange_n(&d->sel, 0, __ATOMIC_SEQ_CST);
	while (sel) {
		w = __builtin_ctzll(sel);
		sel &= sel - 1;
		if (w >= VPV_EVTCHN_WORDS)
			continue;
		pend = __atomic_exchange_n(&d->pending[w], 0,
					   __ATOMIC_SEQ_CST);
		while (pend) {
			b = __builtin_ctzll(pend);
			pend &= pend - 1;
			evtchn_deliver_to_host(g, w * 64 + b);
		}
	}
}

static long evtchn_alloc(struct guest *g, uint64_t remote)
{
	unsigned int p;

	if (remote != VPV_DOMID_HOST)
		return -VPV_EINVAL;
	for (p = 1; p < g->nr_ports; p++) {
		/* only this thread leaves CLOSED: load, then store */
		if (port_get(g, p) == VPV_EVTCHN_STAT_CLOSED) {
			port_clear_pending(g, p);
			port_set(g, p, VPV_EVTCHN_STAT_UNBOUND);
			return p;
		}
	}
	return -VPV_ENOSPC;
}

static long hc_evtchn_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	uint64_t cmd = args[0], port = args[1], count = args[2], i;
	uint8_t cur;
	long n;

	if (cmd == VPV_EVTCHNOP_ALLOC)
		return evtchn_alloc(g, args[1]);
	if (cmd > VPV_EVTCHNOP_FIRE)
		return -VPV_ENOSYS;
	if (!port_valid(g, port))
		return -VPV_EINVAL;
	if (cmd == VPV_EVTCHNOP_STATUS)
		return port_get(g, port);
	if (port_get(g, port) == VPV_EVTCHN_STAT_CLOSED)
		return -VPV_ENOENT;

	switch (cmd) {
	case VPV_EVTCHNOP_CLOSE:
		/*
		 * Closed whatever it is now (a bind may just have happened:
		 * the exchange sees it); a back-end's service forgets the port
		 * before the number can be allocated again.
		 */
		if (port_xchg(g, port, VPV_EVTCHN_STAT_CLOSED) ==
		    VPV_EVTCHN_STAT_BACKEND)
			evtchn_backend_closed(g, port);
		evtchn_doorbell_forget(g, port);
		port_clear_pending(g, port);
		return 0;
	case VPV_EVTCHNOP_SEND:
		evtchn_deliver_to_host(g, port);
		return 0;
	case VPV_EVTCHNOP_BIND_ECHO:
		if (port_cas(g, port, VPV_EVTCHN_STAT_UNBOUND,
			     VPV_EVTCHN_STAT_ECHO, &cur))
			return 0;
		return cur == VPV_EVTCHN_STAT_CLOSED ? -VPV_ENOENT :
						       -VPV_EEXIST;
	case VPV_EVTCHNOP_FIRE:
		if (count < 1 || count > 65536)
			return -VPV_EINVAL;
		for (i = 0, n = 0; i < count; i++)
			n += evtchn_raise(g, port);
		return n;
	}
	return -VPV_ENOSYS;
}

void evtchn_register(void)
{
	hc_register(VPV_HC_EVTCHN_OP, "evtchn_op", hc_evtchn_op);
}

static int evtchn_init(struct guest *g)
{
	evtchn_reset(g);
	return 0;
}

const struct guest_subsys_ops evtchn_subsys = {
	.name = "evtchn",
	.setup = evtchn_register,
	.init = evtchn_init,
	.reset = evtchn_reset,
};
