// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: vpv-blkback's rings, in-process (backend/be_inproc.c): a
 * test guest's vbd device on a 1 MiB image, two rings of two pages,
 * persistent grants on, ring 0's answers on a per-CPU vector (ABI 1.5
 * q0-vector).  Each input is the guest's side: 16 data
 * grants (frame and flags), ring 0's two pages (indices and 112-byte
 * requests, entries straddling the page boundary included) and the
 * first data frame (an indirect page's segments); then a notify.  The
 * device is connected afresh for each input and closed after it.
 * Checked: every response is one abi/vpv_blkif.h documents and there
 * are no more than requests; no more grant maps than the device's cap;
 * each mapped frame pinned, the P2M consistent; after the close no map
 * and no pin left.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"
#include "vpv_blkif.h"
#include "belib.h"

#define RING_PFN	0x100u		/* q0: 0x100, 0x101; q1: 0x102, 0x103 */
#define DATA_PFN	0x200u
#define REF_RING	8u
#define REF_DATA	16u
#define NGRANTS		16u
#define RING_BYTES	(2u * 4096u)

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

static void grant(uint32_t ref, uint32_t frame, uint16_t flags)
{
	gent(ref)->frame = frame;
	gent(ref)->domid = VPV_DOMID_HOST;
	__atomic_store_n(&gent(ref)->flags, flags, __ATOMIC_RELEASE);
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

static uint8_t *ring(uint32_t q)
{
	return fg.ram + (RING_PFN + 2 * q) * 4096ull;
}

static void connect_front(void)
{
	char key[32], p[160], v[16];
	uint32_t q, i;

	if (port)
		hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port);
	for (q = 0; q < 2; q++) {
		memset(ring(q), 0, RING_BYTES);
		vpv_ring_init_shared((struct vpv_ring_hdr *)ring(q));
		for (i = 0; i < 2; i++) {
			grant(REF_RING + 2 * q + i, RING_PFN + 2 * q + i,
			      VPV_GTF_PERMIT_ACCESS);
			snprintf(key, sizeof(key), "q%u-ring-ref%u", q, i);
			snprintf(p, sizeof(p), "%s/%s", fe, key);
			snprintf(v, sizeof(v), "%u", REF_RING + 2 * q + i);
			store_write(fg.domid, 0, p, v, strlen(v));
		}
	}
	port = hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST);
	fe_key("multi-queue-num-queues", 2);
	fe_key("ring-page-order", 1);
	fe_key("event-channel", port);
	fe_key("feature-persistent", 1);
	fe_key("q0-vector", VPV_VEC_CPU0);
	fe_key("state", VPV_BUS_INITIALISED);
}

static void setup(void)
{
	char img[] = "/tmp/vpv-fuzz-blkring-XXXXXX";
	struct vbd_opts o = { .image = img };
	struct be_params p;
	static bool done;
	int fd;

	if (done)
		return;
	done = true;
	be_inproc_register(&blk_be_ops);	/* the device code, here */
	hc_init();
	if (guest_init(&fg, "fb", 8 << 20, 1, VPV_SHM_MIN_SIZE, NULL))
		abort();
	hc(VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES);
	fd = mkstemp(img);
	if (fd < 0 || ftruncate(fd, 1 << 20) || vbd_open(&o, &p))
		abort();
	close(fd);
	unlink(img);		/* the device's fd keeps it */
	if (bus_device_add_params(&fg, "vbd", 0, &p))
		abort();
	be_params_close(&p);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/0", fg.domid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/0",
		 fg.domid);
}

static bool documented(int st)
{
	return st == 0 || st == -VPV_EINVAL || st == -VPV_ENOSYS ||
	       st == -VPV_EOPNOTSUPP || st == -VPV_EPERM ||
	       st == -VPV_EROFS || st == -VPV_EIO;
}

/* Ring 0's responses (as the back-end pushed them): documented. */
static void check_responses(void)
{
	struct vpv_blkif_sring *s = (void *)ring(0);
	uint32_t n = VPV_RING_ENTRIES(sizeof(s->ring[0]), RING_BYTES);
	uint32_t prod = s->hdr.rsp_prod, i;
	struct vpv_blkif_rsp rs;
	uint64_t off;

	if (be_state() != VPV_BUS_CONNECTED)
		return;		/* a protocol error: nothing to look at */
	if (prod > n)
		abort();	/* more answers than a fresh ring can ask */
	for (i = 0; i < prod; i++) {
		off = sizeof(s->hdr) + (uint64_t)i * sizeof(s->ring[0]);
		memcpy(&rs, ring(0) + off, sizeof(rs));
		if (!documented(rs.status))
			abort();
	}
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	size_t n, i;

	setup();
	connect_front();
	if (be_state() != VPV_BUS_CONNECTED)
		abort();
	/* data grants: frame DATA_PFN + i or garbage, flags from the input */
	for (i = 0; i < NGRANTS && size >= 2; i++) {
		grant(REF_DATA + i, data[0] & 1 ? DATA_PFN + i :
			      data[1] * 0x10000u, data[0] >> 1);
		data += 2;
		size -= 2;
	}
	/* ring 0's pages: indices, then entries */
	n = size < RING_BYTES ? size : RING_BYTES;
	memcpy(ring(0), data, n);
	/* the back-end's index: what it pushes is what is checked */
	((struct vpv_ring_hdr *)ring(0))->rsp_prod = 0;
	data += n;
	size -= n;
	/* the first data frame: an indirect page's segments */
	memcpy(fg.ram + DATA_PFN * 4096ull, data, size < 4096 ? size : 4096);
	hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port);
	for (i = 0; i < 8; i++)		/* the back-end's re-kicks */
		evtchn_from_guest(&fg);
	if (grant_nr_mapped(&fg) > BE_MAPS_VBD ||
	    fg.mem.pinned > grant_nr_mapped(&fg) || mem_check())
		abort();
	check_responses();
	fe_key("state", VPV_BUS_CLOSED);	/* everything let go */
	if (grant_nr_mapped(&fg) || fg.mem.pinned)
		abort();
	fe_key("state", VPV_BUS_INITIALISING);
	return 0;
}
