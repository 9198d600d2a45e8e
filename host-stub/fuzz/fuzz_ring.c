// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the vloop back-end's ring consumption.  A test guest has
 * a connected vloop device; the input overwrites the ring page (header
 * indices and entries) and a few grant entries, then notifies the
 * port.  A device shut down by a protocol error is reconnected through
 * the front-end states for the next input.  Grants the input HOLDs are
 * let go by a back-end restart, so each input starts with none held.
 * Checked: at most the ring and VPV_VLOOP_MAX_HELD grants mapped, no
 * P2M pin without a map, mem_check(), nothing left after the restart.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"
#include "vpv_vloop.h"
#include "belib.h"

#define RING_PFN	0x100u
#define DATA_PFN	0x101u
#define NGRANTS		8

static struct guest fg;
static uint32_t port;
static char fe[96], be[96];

static long hc(uint32_t nr, uint64_t a0, uint64_t a1)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { a0, a1 };

	return hc_dispatch(&fg, nr, args);
}

static struct vpv_grant_entry *gent(uint32_t ref)
{
	return &((struct vpv_grant_entry *)(fg.shm + VPV_GNTTAB_OFFSET))[ref];
}

static void fe_key(const char *key, uint32_t val)
{
	char p[160], v[16];

	snprintf(p, sizeof(p), "%s/%s", fe, key);
	snprintf(v, sizeof(v), "%u", val);
	store_write(fg.domid, 0, p, v, strlen(v));
}

static int be_state(void)
{
	char p[160], *v;
	uint32_t len;
	int st;

	snprintf(p, sizeof(p), "%s/state", be);
	if (store_read(STORE_DOMID_HOST, 0, p, &v, &len))
		return -1;
	st = atoi(v);
	free(v);
	return st;
}

static void connect_front(void)
{
	fe_key("state", VPV_BUS_CLOSED);
	fe_key("state", VPV_BUS_INITIALISING);
	if (port)
		hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port);
	memset(fg.ram + RING_PFN * 4096ull, 0, 4096);
	vpv_ring_init_shared((struct vpv_ring_hdr *)(fg.ram + RING_PFN * 4096ull));
	gent(8)->frame = RING_PFN;
	gent(8)->domid = VPV_DOMID_HOST;
	__atomic_store_n(&gent(8)->flags, VPV_GTF_PERMIT_ACCESS,
			 __ATOMIC_RELEASE);
	port = hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST);
	fe_key("ring-ref", 8);
	fe_key("event-channel", port);
	fe_key("state", VPV_BUS_INITIALISED);
}

static void setup(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	be_inproc_register(&vloop_be_ops);	/* the device code, here */
	hc_init();
	/* RAM in a memfd, as vpv-host has it: nothing left behind */
	if (guest_init(&fg, "fr", 8 << 20, 1, VPV_SHM_MIN_SIZE, NULL))
		abort();
	hc(VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES);
	if (bus_device_add(&fg, "vloop", 0))
		abort();
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vloop/0", fg.domid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vloop/%u/0",
		 fg.domid);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	uint8_t *ring;
	size_t n, i;

	setup();
	if (be_state() != VPV_BUS_CONNECTED)
		connect_front();
	if (be_state() != VPV_BUS_CONNECTED)
		abort();
	ring = fg.ram + RING_PFN * 4096ull;
	/* grants 9..16: frame DATA_PFN or garbage, from the input */
	for (i = 0; i < NGRANTS && size >= 2; i++) {
		struct vpv_grant_entry *e = gent(9 + i);

		e->frame = data[0] & 1 ? DATA_PFN : data[1] * 0x100000u;
		e->domid = data[0] & 2 ? VPV_DOMID_HOST : data[1];
		e->flags = data[0] >> 2;
		data += 2;
		size -= 2;
	}
	/* the input is the ring page: header indices, then entries */
	n = size < 4096 ? size : 4096;
	memcpy(ring, data, n);
	hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port);
	/* only the ring and HOLDs may stay mapped */
	if (grant_nr_mapped(&fg) > 1 + VPV_VLOOP_MAX_HELD)
		abort();
	/* each mapped frame pinned, nothing else; the P2M consistent */
	if (fg.mem.pinned > grant_nr_mapped(&fg) || mem_check())
		abort();
	if (grant_nr_mapped(&fg) > 1) {
		if (bus_device_restart(&fg, "vloop", 0) ||
		    grant_nr_mapped(&fg) || fg.mem.pinned)
			abort();	/* a restart releases everything */
	}
	return 0;
}
