/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Raising a port towards the guest in its event-channel page (struct
 * vpv_evtchn_shared), one protocol for the core (evtchn_raise()) and
 * for the back-end processes, which raise their own port (be_notify()).
 */
#ifndef VPV_EVTCHN_PAGE_H
#define VPV_EVTCHN_PAGE_H

#include <stdint.h>

#include "vpv_abi.h"

enum evtchn_raised {
	EV_COALESCED,	/* the port was pending already: nothing new */
	EV_MASKED,	/* pending now; the guest masks it: no selector */
	EV_SEEN,	/* pending, selector word set before: no interrupt */
	EV_RING,	/* the selector word was empty: ring the guest */
};

/*
 * Set port's pending bit and, unless it was set or the guest masks the
 * port, its selector bit.  Ordering: the pending bit is set before sel
 * is looked at, and sel is set before deciding to ring; the guest
 * xchg()s sel to 0 before it reads pending.  Either the guest's xchg
 * sees our sel bit, or our fetch_or sees sel == 0 and we ring.  All
 * seq_cst, so the guest_mask check pairs with the guest's
 * unmask-then-recheck-pending.  The caller rings on EV_RING.
 */
static inline enum evtchn_raised
evtchn_page_raise(struct vpv_evtchn_shared *ev, unsigned int port)
{
	unsigned int w = port / 64;
	uint64_t bit = 1ull << (port % 64);

	if (__atomic_fetch_or(&ev->to_guest.pending[w], bit,
			      __ATOMIC_SEQ_CST) & bit)
		return EV_COALESCED;
	if (__atomic_load_n(&ev->guest_mask[w], __ATOMIC_SEQ_CST) & bit)
		return EV_MASKED;
	if (__atomic_fetch_or(&ev->to_guest.sel, 1ull << w, __ATOMIC_SEQ_CST))
		return EV_SEEN;
	return EV_RING;
}

#endif /* VPV_EVTCHN_PAGE_H */
