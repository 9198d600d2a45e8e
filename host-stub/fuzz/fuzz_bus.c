// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: what a guest's front-end writes for the bus back-ends to
 * parse: its keys in the store (state, ring-ref, event-channel, any
 * other), its grant entries, its event channels and the vloop ring.
 * Each input is a little program run on a fresh guest with two vloop
 * devices; op byte, low 4 bits the step, bit 4 the device:
 *   0 write a front-end key (a number or raw bytes), 1 remove one,
 *   2 set a grant entry, 3 event channel ALLOC/CLOSE/SEND,
 *   4 a well-behaved front-end connect (ring page, grant, port, keys),
 *   5 queue a vloop request and notify, 6 raw ring header indices,
 *   7 restart the back-end, 8 remove the device (and time the removal
 *   out), 9 add it again, 10 NEGOTIATE, 11 balloon out a page.
 * After each step: mem_check() passes, every grant map and P2M pin
 * belongs to a connected device (at most the ring and
 * VPV_VLOOP_MAX_HELD per device), every port bound to a back-end has
 * exactly one owner and every owner's port is bound (a port the guest
 * closes under a back-end leaves it), back-end states in range.  At the end both devices
 * are removed: no grant map, pin or bound port may be left, then the
 * guest tears down (fuzz_guest.h).
 */
#include "fuzz_guest.h"
#include "vpv_vloop.h"
#include "belib.h"

#define NDEV		2
#define RING_PFN	0x100u	/* device d's ring: RING_PFN + d */
#define DATA_PFN	0x110u
#define GREF_BASE	8u	/* refs the front-ends use: 8 .. 23 */
#define NREFS		16u

static struct guest fg;
static uint32_t port[NDEV];

static long hc(uint32_t nr, uint64_t a0, uint64_t a1)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { a0, a1 };

	return hc_dispatch(&fg, nr, args);
}

static struct vpv_grant_entry *gent(uint32_t ref)
{
	return &((struct vpv_grant_entry *)(fg.shm + VPV_GNTTAB_OFFSET))[ref];
}

static void fe_path(char *p, size_t n, unsigned int d, const char *key)
{
	snprintf(p, n, "/local/domain/%u/device/vloop/%u/%s", fg.domid, d,
		 key);
}

static void fe_key(unsigned int d, const char *key, const char *val,
		   size_t len)
{
	char p[160];

	fe_path(p, sizeof(p), d, key);
	store_write(fg.domid, 0, p, val, len);
}

static void fe_num(unsigned int d, const char *key, uint32_t v)
{
	char s[16];

	fe_key(d, key, s, snprintf(s, sizeof(s), "%u", v));
}

static const char *const keys[] = {
	"state", "ring-ref", "event-channel", "backend", "", "x",
};

/* 0: a key (picked or named by the input), a number or raw bytes */
static void step_key(struct fz *f, unsigned int d, uint8_t v)
{
	char name[17] = "", val[64];
	const char *key = keys[v % ARRAY_SIZE(keys)];
	size_t len;

	if (v & 0x40) {
		fz_bytes(f, name, sizeof(name) - 1);
		key = name;
	}
	if (!(v & 0x80)) {
		fe_num(d, key, v & 0x20 ? (uint32_t)fz_u64(f) : fz_u8(f) % 16);
		return;
	}
	len = fz_u8(f) % sizeof(val);
	fz_bytes(f, val, len);
	fe_key(d, key, val, len);
}

static void step_rm(struct fz *f, unsigned int d)
{
	char p[160];

	fe_path(p, sizeof(p), d, keys[fz_u8(f) % ARRAY_SIZE(keys)]);
	store_rm(fg.domid, 0, p);
}

/* 2: a grant entry, mostly one of the front-ends' */
static void step_grant(struct fz *f)
{
	uint8_t b = fz_u8(f);
	uint32_t ref = b & 0x80 ? fz_u16(f) : GREF_BASE + b % NREFS;
	struct vpv_grant_entry *e;
	uint8_t m = fz_u8(f);

	if (ref >= VPV_GNTTAB_NR)
		return;
	e = gent(ref);
	e->frame = m & 1 ? (uint32_t)fz_u64(f) :
		   m & 2 ? DATA_PFN + fz_u8(f) % 4 : RING_PFN + fz_u8(f) % NDEV;
	e->domid = m & 4 ? fz_u16(f) : VPV_DOMID_HOST;
	__atomic_store_n(&e->flags, m & 8 ? fz_u16(f) : m & 0x10 ?
			 VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY :
			 VPV_GTF_PERMIT_ACCESS, __ATOMIC_RELEASE);
}

/* 3: ALLOC, CLOSE or SEND on a port */
static void step_evtchn(struct fz *f, unsigned int d, uint8_t v)
{
	uint32_t p = v & 0x40 ? fz_u16(f) : port[d];
	long ret;

	switch (v & 3) {
	case 0:
		ret = hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST);
		if (ret > 0)
			port[d] = ret;
		break;
	case 1:
		hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, p);
		break;
	default:
		hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, p);
		break;
	}
}

/* 4: the front-end driver's connect */
static void step_connect(unsigned int d)
{
	uint8_t *ring = fg.ram + (RING_PFN + d) * 4096ull;
	struct vpv_grant_entry *e = gent(GREF_BASE + d);
	long p;

	fe_num(d, "state", VPV_BUS_INITIALISING);
	memset(ring, 0, 4096);
	vpv_ring_init_shared((struct vpv_ring_hdr *)ring);
	e->frame = RING_PFN + d;
	e->domid = VPV_DOMID_HOST;
	__atomic_store_n(&e->flags, VPV_GTF_PERMIT_ACCESS, __ATOMIC_RELEASE);
	p = hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST);
	if (p > 0)
		port[d] = p;
	fe_num(d, "ring-ref", GREF_BASE + d);
	fe_num(d, "event-channel", port[d]);
	fe_num(d, "state", VPV_BUS_INITIALISED);
}

/* 5: one request at req_prod, then notify */
static void step_request(struct fz *f, unsigned int d, uint8_t v)
{
	struct vpv_vloop_sring *s =
		(void *)(fg.ram + (RING_PFN + d) * 4096ull);
	uint32_t nr = VPV_RING_ENTRIES(sizeof(s->ring[0]), VPV_PAGE_SIZE);
	uint32_t prod = s->hdr.req_prod;
	struct vpv_vloop_req *rq = &s->ring[prod & (nr - 1)].req;
	uint8_t b = fz_u8(f);

	memset(rq, 0, sizeof(*rq));
	rq->id = b;
	rq->op = b & 0x80 ? (uint32_t)fz_u64(f) : b % 5;
	rq->gref_in = v & 0x40 ? (uint32_t)fz_u64(f) :
		      GREF_BASE + fz_u8(f) % NREFS;
	rq->gref_out = GREF_BASE + fz_u8(f) % NREFS;
	rq->offset = fz_u16(f);
	rq->len = fz_u16(f);
	rq->seed = fz_u8(f);
	if (v & 0x20) {		/* mostly inside the page */
		rq->offset %= VPV_PAGE_SIZE;
		rq->len %= VPV_PAGE_SIZE + 1;
	}
	__atomic_store_n(&s->hdr.req_prod, prod + 1, __ATOMIC_RELEASE);
	hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port[d]);
}

/* 6: the front-end writes indices */
static void step_indices(struct fz *f, unsigned int d)
{
	struct vpv_ring_hdr *h = (void *)(fg.ram + (RING_PFN + d) * 4096ull);

	h->req_prod = (uint32_t)fz_u64(f);
	h->rsp_event = (uint32_t)fz_u64(f);
	hc(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port[d]);
}

static void step_balloon(struct fz *f)
{
	uint64_t *arr = (uint64_t *)(fg.ram + 0x200 * 4096ull);
	const uint64_t args[VPV_HC_NR_ARGS] = {
		VPV_MEMOP_DECREASE, 0x200 << 12, 1, VPV_MEMOP_ORDER_4K,
	};
	uint8_t b = fz_u8(f);

	*arr = b & 1 ? DATA_PFN + b / 2 % 4 : RING_PFN + b / 2 % NDEV;
	FZ_CHECK(fz_errno_ok(hc_dispatch(&fg, VPV_HC_MEMORY_OP, args)));
}

static void step(struct fz *f, uint8_t op)
{
	const uint64_t neg[VPV_HC_NR_ARGS] = { VPV_ABI_VERSION,
					       VPV_HOST_FEATURES };
	unsigned int d = op >> 4 & 1;
	uint8_t v = fz_u8(f);

	switch (op & 15) {
	case 0:
		step_key(f, d, v);
		break;
	case 1:
		step_rm(f, d);
		break;
	case 2:
		step_grant(f);
		break;
	case 3:
		step_evtchn(f, d, v);
		break;
	case 4:
		step_connect(d);
		break;
	case 5:
		step_request(f, d, v);
		break;
	case 6:
		step_indices(f, d);
		break;
	case 7:
		bus_device_restart(&fg, "vloop", d);
		break;
	case 8:
		if (bus_device_remove(&fg, "vloop", d) == 1 && (v & 1))
			bus_tick(UINT64_MAX);	/* the front-end never closes */
		break;
	case 9:
		bus_device_add(&fg, "vloop", d);
		break;
	case 10:
		hc_dispatch(&fg, VPV_HC_NEGOTIATE, neg);
		break;
	case 11:
		step_balloon(f);
		break;
	}
}

/*
 * Maps and pins only for connected devices; every port bound to a
 * back-end has exactly one owner (a device or the store) and every
 * owner's port is bound.
 */
static FZ_NOCOV void check(void)
{
	struct bus_dev_info di[NDEV + 1];
	size_t n = bus_device_list(fg.domid, di, ARRAY_SIZE(di)), i;
	unsigned int conn = 0, owners = 0;
	struct store_guest_info si;

	FZ_CHECK(n <= NDEV);
	for (i = 0; i < n; i++) {
		FZ_CHECK(di[i].be_state >= VPV_BUS_UNKNOWN &&
			 di[i].be_state <= VPV_BUS_CLOSED);
		conn += di[i].connected;
		if (!di[i].connected || !di[i].port)
			continue;
		FZ_CHECK(fg.port_stat[di[i].port] == VPV_EVTCHN_STAT_BACKEND);
		FZ_CHECK(i == 0 || !di[0].connected ||
			 di[0].port != di[i].port);
		owners++;
	}
	if (!store_guest_info(fg.domid, &si) && si.connected && si.port) {
		FZ_CHECK(fg.port_stat[si.port] == VPV_EVTCHN_STAT_BACKEND);
		owners++;
	}
	FZ_CHECK(fz_nr_bound(&fg) == owners);
	FZ_CHECK(fz_nr_mapped(&fg) <= conn * (1 + VPV_VLOOP_MAX_HELD));
	FZ_CHECK(fg.mem.pinned <= conn * (1 + VPV_VLOOP_MAX_HELD));
	FZ_CHECK(mem_check() == 0);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	unsigned int d;
	int steps = 0;
	static bool reg;

	if (!reg) {	/* the vloop device code in this process */
		reg = true;
		be_inproc_register(&vloop_be_ops);
	}
	fz_guest_new(&fg);
	for (d = 0; d < NDEV; d++) {
		port[d] = 0;
		FZ_CHECK(bus_device_add(&fg, "vloop", d) == 0);
	}
	while (f.n && steps++ < 48) {
		step(&f, fz_u8(&f));
		check();
	}
	for (d = 0; d < NDEV; d++)
		if (bus_device_remove(&fg, "vloop", d) == 1)
			bus_tick(UINT64_MAX);
	FZ_CHECK(bus_device_list(fg.domid, NULL, 0) == 0);
	FZ_CHECK(grant_nr_mapped(&fg) == 0 && fg.mem.pinned == 0);
	FZ_CHECK(fz_nr_bound(&fg) == 0);
	fz_guest_end(&fg);
	return 0;
}
