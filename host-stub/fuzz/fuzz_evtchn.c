// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: event-channel operations.  The input is a program of
 * 4-byte steps: an opcode byte and its operands.  Steps are
 * VPV_HC_EVTCHN_OP calls with arbitrary arguments, the guest's own
 * writes to the to-host bitmaps followed by the doorbell path, and the
 * host binding/unbinding back-end ports.  Invariants: STATUS answers a
 * known status or -VPV_EINVAL; evtchn_nr_open() matches the statuses;
 * a closed port is never pending towards the guest after CLOSE.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"

#define STEPS_MAX	256	/* per input, so each stays fast */

static struct guest fg;

static void setup(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	hc_init();
	/* RAM in a memfd, as vpv-host has it: nothing left behind */
	if (guest_init(&fg, "fe", 8 << 20, 1, VPV_SHM_MIN_SIZE, NULL))
		abort();
}

static long op(uint64_t cmd, uint64_t a1, uint64_t a2)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { cmd, a1, a2 };

	return hc_dispatch(&fg, VPV_HC_EVTCHN_OP, args);
}

/* a few STATUS calls; the table itself read directly (fast) */
static void check(const uint8_t *data, size_t size)
{
	unsigned int p, n = 0;
	long st;

	for (p = 1; p < fg.nr_ports; p++) {
		st = __atomic_load_n(&fg.port_stat[p], __ATOMIC_RELAXED);
		if (st > VPV_EVTCHN_STAT_BACKEND)
			abort();
		n += st != VPV_EVTCHN_STAT_CLOSED;
	}
	if (n != evtchn_nr_open(&fg))
		abort();
	for (p = 0; p < 4 && p < size; p++) {
		st = op(VPV_EVTCHNOP_STATUS, data[p], 0);
		if (st != (data[p] ? fg.port_stat[data[p]] : -VPV_EINVAL))
			abort();
	}
}

static void step(const uint8_t *s)
{
	unsigned int port = (s[1] | s[2] << 8) % (VPV_EVTCHN_MAX_PORTS + 2);
	struct vpv_evtchn_dir *d = &fg.ev->to_host;
	long r;

	switch (s[0] % 8) {
	case 0:
		op(VPV_EVTCHNOP_ALLOC, s[3] & 1 ? VPV_DOMID_HOST : s[3], 0);
		break;
	case 1:
		if (!op(VPV_EVTCHNOP_CLOSE, port, 0) &&
		    (fg.ev->to_guest.pending[port / 64] & (1ull << port % 64)))
			abort();
		break;
	case 2:
		op(VPV_EVTCHNOP_SEND, port, 0);
		break;
	case 3:
		op(VPV_EVTCHNOP_BIND_ECHO, port, 0);
		break;
	case 4:	/* count up to 255: FIRE's own cap is tested elsewhere */
		op(VPV_EVTCHNOP_FIRE, port, s[3]);
		break;
	case 5:	/* arbitrary command and port */
		r = op(s[3], (uint64_t)s[1] << 56 | port, s[2]);
		(void)r;
		break;
	case 6:	/* the guest notifies: bitmaps it controls, then doorbell */
		__atomic_fetch_or(&d->pending[s[1] % VPV_EVTCHN_WORDS],
				  1ull << (s[2] % 64), __ATOMIC_SEQ_CST);
		__atomic_fetch_or(&d->sel, s[3] & 1 ? ~0ull :
				  1ull << (s[3] % 64), __ATOMIC_SEQ_CST);
		evtchn_from_guest(&fg);
		break;
	case 7:
		if (s[3] & 1)
			evtchn_bind_backend(&fg, port);
		else
			evtchn_unbind_backend(&fg, port);
		evtchn_notify_guest_backend(&fg, port);
		break;
	}
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	size_t i;

	setup();
	evtchn_reset(&fg);
	memset(fg.ev, 0, sizeof(*fg.ev));
	for (i = 0; i + 4 <= size && i / 4 < STEPS_MAX; i += 4)
		step(data + i);
	check(data, size);
	return 0;
}
