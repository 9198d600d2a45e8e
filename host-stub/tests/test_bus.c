// SPDX-License-Identifier: GPL-2.0
/* Bus framework + vloop back-end, with a fake front-end in the test. */
#include "testutil.h"
#include "vpv_vloop.h"
#include "belib.h"

#define RING_PFN	0x200ull
#define IN_PFN		0x201ull
#define OUT_PFN		0x202ull
#define REF_RING	8
#define REF_IN		9
#define REF_OUT		10
#define REF_IN_RO	11
#define HOLD_PFN	0x203ull
#define REF_HOLD	12
#define ARR		0x10000ull	/* pfn array for DECREASE */

static struct guest gs[1];
static struct guest *g = &gs[0];
static struct vpv_vloop_sring *sr;
static struct vpv_front_ring fr;
static uint32_t port;

static struct vpv_grant_entry *gent(uint32_t ref)
{
	return test_gent(g, ref);
}

/* the guest's end-access compare-and-exchange of flags to 0 */
static bool end_access(uint32_t ref, uint16_t flags)
{
	uint16_t old = flags;

	return __atomic_compare_exchange_n(&gent(ref)->flags, &old, 0, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static char fe[96], be[96];

static void fe_write(const char *key, const char *val)
{
	char p[160];

	snprintf(p, sizeof(p), "device/vloop/0/%s", key);
	if (store_write(g->domid, 0, p, val, strlen(val)))
		BAIL("front-end write %s", key);
}

static void fe_state(int st)
{
	char v[4];

	snprintf(v, sizeof(v), "%d", st);
	fe_write("state", v);
}

/* the front-end's part of the handshake */
static void front_connect(void)
{
	char v[16];

	memset(g->ram + RING_PFN * 4096, 0, 4096);
	sr = (struct vpv_vloop_sring *)(g->ram + RING_PFN * 4096);
	vpv_ring_init_shared(&sr->hdr);
	vpv_front_ring_init(&fr, &sr->hdr,
			    VPV_RING_ENTRIES(sizeof(sr->ring[0]), 4096));
	test_grant(g, REF_RING, RING_PFN, VPV_GTF_PERMIT_ACCESS);
	port = call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0, 0);
	snprintf(v, sizeof(v), "%d", REF_RING);
	fe_write("ring-ref", v);
	snprintf(v, sizeof(v), "%u", port);
	fe_write("event-channel", v);
	fe_state(VPV_BUS_INITIALISED);
}

static void push(uint64_t id, uint32_t op, uint32_t in, uint32_t out,
		 uint16_t off, uint16_t len, uint32_t seed)
{
	struct vpv_vloop_req *r = &VPV_RING_ENTRY(sr, &fr, fr.req_prod_pvt++)->req;

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->op = op;
	r->gref_in = in;
	r->gref_out = out;
	r->offset = off;
	r->len = len;
	r->seed = seed;
}

static int kick(void)
{
	int notify = vpv_front_push_requests(&fr);

	if (notify)
		call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port, 0, 0);
	return notify;
}

static struct vpv_vloop_rsp rsp[64];

static long take(void)
{
	long n = vpv_front_unconsumed_responses(&fr), i;

	for (i = 0; i < n && i < 64; i++)
		rsp[i] = VPV_RING_ENTRY(sr, &fr, fr.rsp_cons++)->rsp;
	return n;
}

/* @caller reads @key of the back-end directory as @want */
static bool be_value_is(const char *key, const char *want, uint32_t caller)
{
	char p[160], *v;
	uint32_t len;
	bool same;

	snprintf(p, sizeof(p), "%s/%s", be, key);
	if (store_read(caller, 0, p, &v, &len))
		return false;
	same = len == strlen(want) && !memcmp(v, want, len);
	free(v);
	return same;
}

static void test_add(void)
{
	char buf[160], *v;
	uint32_t len;

	is(bus_device_add(g, "nosuch", 0), -ENOENT, "unknown type -> ENOENT");
	is(bus_device_add(g, "vloop", 0), 0, "device add vloop/0");
	is(bus_device_add(g, "vloop", 0), -EEXIST, "twice -> EEXIST");
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vloop/0", g->domid);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vloop/%u/0", g->domid);
	is(state_of(be), VPV_BUS_INITWAIT, "back-end InitWait");
	is(state_of(fe), VPV_BUS_INITIALISING, "front-end Initialising");
	snprintf(buf, sizeof(buf), "%s/state", be);
	is(store_read(g->domid, 0, buf, &v, &len), 0, "guest may read the back-end dir");
	free(v);
	is(store_write(g->domid, 0, buf, "4", 1), -EACCES,
	   "guest may not write the back-end dir");
	snprintf(buf, sizeof(buf), "%s/backend", fe);
	is(store_read(g->domid, 0, buf, &v, &len), 0, "front-end has backend key");
	ok(!strcmp(v, be), "backend key names the back-end dir");
	free(v);
	snprintf(buf, sizeof(buf), "%s/frontend-id", be);
	store_read(STORE_DOMID_HOST, 0, buf, &v, &len);
	ok(atoi(v) == (int)g->domid, "frontend-id");
	free(v);
	ok(be_value_is("feature-xor", "1", g->domid),
	   "guest reads the back-end's feature-xor = 1");
	ok(be_value_is("feature-hold", "1", g->domid),
	   "guest reads the back-end's feature-hold = 1");
}

static void be_write(const char *key, const char *val)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", be, key);
	if (store_write(STORE_DOMID_HOST, 0, p, val, strlen(val)))
		BAIL("back-end write %s", key);
}

/* bus_read_feature(): strict decimal, else the default */
static void test_read_feature(void)
{
	static const struct {
		const char *val;
		uint32_t want;
	} c[] = {
		{ "1", 1 }, { "0", 0 }, { "1\n", 1 }, { "4294967295", UINT32_MAX },
		{ "4294967296", 7 }, { "99999999999999999999", 7 }, { "", 7 },
		{ "-1", 7 }, { " 1", 7 }, { "1 ", 7 }, { "0x1", 7 },
		{ "1\n\n", 7 }, { "\n", 7 },
	};
	struct bus_dev d = { 0 };
	unsigned int i, bad = 0;

	snprintf(d.be, sizeof(d.be), "%s", be);
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		be_write("feature-t", c[i].val);
		if (bus_read_feature(&d, "feature-t", 7) != c[i].want) {
			printf("# feature-t \"%s\": %u\n", c[i].val,
			       bus_read_feature(&d, "feature-t", 7));
			bad++;
		}
	}
	is(bad, 0, "bus_read_feature parses strictly (13 values)");
	is(bus_read_feature(&d, "feature-absent", 7), 7, "absent -> default");
}

static void hold_one(void);

/* restart with the back-end's keys as the admin set them */
static void restart_reconnect(void)
{
	bus_device_restart(g, "vloop", 0);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port, 0, 0);
	fe_state(VPV_BUS_INITIALISING);
	front_connect();
}

/*
 * Ops of a feature the back-end does not offer at connect are refused
 * (-VPV_EOPNOTSUPP, counted) and the device goes on.
 */
static void test_features(void)
{
	uint64_t r0 = STAT_GET(g, vloop_refused);

	test_read_feature();
	be_write("feature-xor", "0");
	restart_reconnect();
	is(state_of(be), VPV_BUS_CONNECTED, "xor off: connected");
	ok(be_value_is("feature-xor", "0", STORE_DOMID_HOST),
	   "restart keeps the admin's feature-xor 0");
	push(1, VPV_VLOOP_OP_XOR, REF_IN, REF_OUT, 0, 10, 1);
	push(2, VPV_VLOOP_OP_CSUM, REF_IN, 0, 0, 10, 0);
	push(3, VPV_VLOOP_OP_HOLD, REF_HOLD, 0, 0, 0, 0);
	push(4, VPV_VLOOP_OP_RELEASE, REF_HOLD, 0, 0, 0, 0);
	kick();
	is(take(), 4, "xor off: 4 answered");
	is(rsp[0].status, -VPV_EOPNOTSUPP, "XOR not offered -> EOPNOTSUPP");
	is(rsp[0].csum, 0, "refused XOR: csum 0");
	is(rsp[1].status, 0, "CSUM still ok");
	is(rsp[2].status, 0, "HOLD still offered: ok");
	is(rsp[3].status, 0, "RELEASE ok");
	is(STAT_GET(g, vloop_refused), r0 + 1, "refusal counted");

	be_write("feature-hold", "0");
	be_write("feature-xor", "1x");	/* not a number: not offered */
	restart_reconnect();
	push(5, VPV_VLOOP_OP_HOLD, REF_HOLD, 0, 0, 0, 0);
	push(6, VPV_VLOOP_OP_RELEASE, REF_HOLD, 0, 0, 0, 0);
	push(7, VPV_VLOOP_OP_XOR, REF_IN, REF_OUT, 0, 0, 1);
	kick();
	is(take(), 3, "hold off: 3 answered");
	is(rsp[0].status, -VPV_EOPNOTSUPP, "HOLD not offered -> EOPNOTSUPP");
	is(rsp[1].status, -VPV_EOPNOTSUPP, "RELEASE not offered -> EOPNOTSUPP");
	is(rsp[2].status, -VPV_EOPNOTSUPP,
	   "XOR with a malformed key -> EOPNOTSUPP before the len check");
	is(grant_nr_mapped(g), 1, "nothing held: only the ring mapped");
	is(STAT_GET(g, vloop_refused), r0 + 4, "refusals counted");
	is(state_of(be), VPV_BUS_CONNECTED, "still connected");

	be_write("feature-hold", "1");
	be_write("feature-xor", "1");
	restart_reconnect();
	push(8, VPV_VLOOP_OP_XOR, REF_IN, REF_OUT, 0, 10, 1);
	kick();
	is(take(), 1, "restored: answered");
	is(rsp[0].status, 0, "restored: XOR ok");
	hold_one();
	push(9, VPV_VLOOP_OP_RELEASE, REF_HOLD, 0, 0, 0, 0);
	kick();
	take();
	is(rsp[0].status, 0, "restored: RELEASE of the HOLD ok");
}

static void test_io(void)
{
	uint8_t *in = g->ram + IN_PFN * 4096, *out = g->ram + OUT_PFN * 4096;
	uint8_t x[100];
	int i;

	front_connect();
	is(state_of(be), VPV_BUS_CONNECTED, "front Initialised -> back Connected");
	is(call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_STATUS, port, 0, 0),
	   VPV_EVTCHN_STAT_BACKEND, "port bound to the back-end");
	ok(grant_nr_mapped(g) == 1, "ring page mapped through its grant");
	fe_state(VPV_BUS_CONNECTED);

	for (i = 0; i < 4096; i++)
		in[i] = i * 7;
	memset(out, 0, 4096);
	test_grant(g, REF_IN, IN_PFN, VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	test_grant(g, REF_OUT, OUT_PFN, VPV_GTF_PERMIT_ACCESS);
	push(1, VPV_VLOOP_OP_CSUM, REF_IN, 0, 0, 4096, 0);
	push(2, VPV_VLOOP_OP_XOR, REF_IN, REF_OUT, 100, 100, 0x1a5);
	push(3, 9, REF_IN, 0, 0, 1, 0);
	push(4, VPV_VLOOP_OP_CSUM, REF_IN, 0, 0, 0, 0);
	push(5, VPV_VLOOP_OP_CSUM, REF_IN, 0, 4000, 97, 0);
	push(6, VPV_VLOOP_OP_CSUM, 4242, 0, 0, 1, 0);
	push(7, VPV_VLOOP_OP_XOR, REF_IN, REF_IN, 0, 10, 1);
	ok(kick(), "first push notifies");
	is(take(), 7, "7 responses");
	is(rsp[0].id, 1, "ids echoed");
	is(rsp[0].status, 0, "CSUM ok");
	is(rsp[0].csum, fnv1a32(in, 4096), "CSUM = FNV-1a of the input");
	is(rsp[1].status, 0, "XOR ok");
	for (i = 0; i < 100; i++)
		x[i] = in[100 + i] ^ 0xa5;
	ok(!memcmp(out + 100, x, 100), "XOR output written at offset");
	ok(out[99] == 0 && out[200] == 0, "nothing outside the range");
	is(rsp[1].csum, fnv1a32(x, 100), "XOR csum of the output");
	is(rsp[2].status, -VPV_ENOSYS, "unknown op -> ENOSYS");
	is(rsp[3].status, -VPV_EINVAL, "len 0 -> EINVAL");
	is(rsp[4].status, -VPV_EINVAL, "offset + len > 4096 -> EINVAL");
	is(rsp[5].status, -VPV_EPERM, "bad grant -> EPERM");
	is(rsp[6].status, -VPV_EPERM, "XOR into a read-only grant -> EPERM");
	ok(g->ev->to_guest.pending[port / 64] & (1ull << (port % 64)),
	   "guest notified on the port");
	ok(grant_nr_mapped(g) == 1, "data grants unmapped after each request");
	ok(STAT_GET(g, vloop_requests) == 7, "vloop_requests counted");

	/* many rounds: the indices wrap the 64-entry ring */
	for (i = 0; i < 40; i++) {
		int k;

		for (k = 0; k < 10; k++)
			push(100 + k, VPV_VLOOP_OP_CSUM, REF_IN, 0, k, 1, 0);
		kick();
		call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port, 0, 0);
		if (take() != 10)
			break;
	}
	is(i, 40, "400 requests in rounds across ring wraps");
}

static long decrease(uint64_t pfn)
{
	gpa_write(g, ARR, &pfn, sizeof(pfn));
	return call(g, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ARR, 1, 0);
}

static void test_hold(void)
{
	const uint16_t ro = VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY;
	int i;

	test_grant(g, REF_HOLD, HOLD_PFN, ro);
	push(1, VPV_VLOOP_OP_HOLD, REF_HOLD, 0, 0, 0, 0);
	kick();
	is(take(), 1, "HOLD answered");
	is(rsp[0].status, 0, "HOLD ok");
	is(rsp[0].csum, 0, "HOLD csum 0");
	ok(gent(REF_HOLD)->flags & VPV_GTF_READING, "held grant: READING set");
	ok(!end_access(REF_HOLD, ro), "guest end access refused while held");
	is(grant_nr_mapped(g), 2, "ring and the held grant mapped");
	is(decrease(HOLD_PFN), -VPV_EBUSY, "held frame pinned: DECREASE EBUSY");

	/* a normal request on the same grant does not release it */
	push(2, VPV_VLOOP_OP_CSUM, REF_HOLD, 0, 0, 8, 0);
	kick();
	is(take(), 1, "CSUM of the held grant answered");
	is(rsp[0].status, 0, "CSUM of the held grant ok");
	ok(gent(REF_HOLD)->flags & VPV_GTF_READING, "still READING after it");

	push(3, VPV_VLOOP_OP_RELEASE, REF_HOLD, 0, 0, 0, 0);
	push(4, VPV_VLOOP_OP_RELEASE, REF_HOLD, 0, 0, 0, 0);
	push(5, VPV_VLOOP_OP_RELEASE, 4242, 0, 0, 0, 0);
	push(6, VPV_VLOOP_OP_HOLD, 4242, 0, 0, 0, 0);
	kick();
	is(take(), 4, "RELEASE x3, bad HOLD answered");
	is(rsp[0].status, 0, "RELEASE ok");
	is(rsp[0].csum, 0, "RELEASE csum 0");
	is(rsp[1].status, -VPV_ENOENT, "second RELEASE -> ENOENT");
	is(rsp[2].status, -VPV_ENOENT, "RELEASE of an unknown grant -> ENOENT");
	is(rsp[3].status, -VPV_EPERM, "HOLD of a bad grant -> EPERM");
	ok(!(gent(REF_HOLD)->flags & VPV_GTF_READING), "released: READING clear");
	is(grant_nr_mapped(g), 1, "only the ring mapped");

	/* 16 held at most */
	for (i = 0; i < VPV_VLOOP_MAX_HELD + 1; i++)
		push(10 + i, VPV_VLOOP_OP_HOLD, i & 1 ? REF_IN : REF_HOLD, 0,
		     0, 0, 0);
	kick();
	is(take(), VPV_VLOOP_MAX_HELD + 1, "17 HOLDs answered");
	for (i = 0; i < VPV_VLOOP_MAX_HELD && !rsp[i].status; i++)
		;
	is(i, VPV_VLOOP_MAX_HELD, "16 HOLDs ok");
	is(rsp[VPV_VLOOP_MAX_HELD].status, -VPV_ENOSPC, "17th HOLD -> ENOSPC");
	for (i = 0; i < VPV_VLOOP_MAX_HELD / 2; i++)
		push(40 + i, VPV_VLOOP_OP_RELEASE, REF_IN, 0, 0, 0, 0);
	kick();
	is(take(), VPV_VLOOP_MAX_HELD / 2, "8 RELEASEs answered");
	for (i = 0; i < VPV_VLOOP_MAX_HELD / 2 && !rsp[i].status; i++)
		;
	is(i, VPV_VLOOP_MAX_HELD / 2, "each RELEASE of a grant held 8 times ok");
	ok(!(gent(REF_IN)->flags & VPV_GTF_READING),
	   "REF_IN: READING clear after its last RELEASE");
	ok(gent(REF_HOLD)->flags & VPV_GTF_READING, "REF_HOLD still held");

	/* disconnect lets go of the 8 still held */
	fe_state(VPV_BUS_CLOSED);
	is(state_of(be), VPV_BUS_CLOSED, "front Closed with grants held");
	is(grant_nr_mapped(g), 0, "disconnect unmaps the held grants");
	ok(!(gent(REF_HOLD)->flags & VPV_GTF_READING),
	   "disconnect: READING clear");
	ok(end_access(REF_HOLD, ro), "guest end access succeeds after it");
	is(decrease(HOLD_PFN), 1, "frame unpinned: DECREASE works");
	test_grant(g, REF_HOLD, RING_PFN, ro);	/* for the holds below */

	fe_state(VPV_BUS_INITIALISING);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port, 0, 0);
	front_connect();
	is(state_of(be), VPV_BUS_CONNECTED, "reconnected after the holds");
}

/* HOLD a grant on the connected device */
static void hold_one(void)
{
	push(99, VPV_VLOOP_OP_HOLD, REF_HOLD, 0, 0, 0, 0);
	kick();
	take();
	is(grant_nr_mapped(g), 2, "a grant held");
}

static void test_protocol_error(void)
{
	hold_one();
	sr->hdr.req_prod = fr.req_prod_pvt + 1000;	/* garbage index */
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port, 0, 0);
	is(state_of(be), VPV_BUS_CLOSING, "index overflow -> back-end Closing");
	is(STAT_GET(g, bus_protocol_errors), 1, "protocol error counted");
	is(call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_STATUS, port, 0, 0),
	   VPV_EVTCHN_STAT_UNBOUND, "port unbound");
	is(grant_nr_mapped(g), 0, "ring unmapped");
	fe_state(VPV_BUS_CLOSED);
	is(state_of(be), VPV_BUS_CLOSED, "front Closed -> back Closed");
	fe_state(VPV_BUS_INITIALISING);
	is(state_of(be), VPV_BUS_INITWAIT, "front Initialising -> back InitWait");
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port, 0, 0);
	front_connect();
	is(state_of(be), VPV_BUS_CONNECTED, "reconnected");
	push(1, VPV_VLOOP_OP_CSUM, REF_IN, 0, 0, 16, 0);
	kick();
	is(take(), 1, "works after reconnect");

	/* a bad ring-ref: connect fails -> Closing */
	fe_state(VPV_BUS_CLOSED);
	fe_state(VPV_BUS_INITIALISING);
	fe_write("ring-ref", "4242");
	fe_state(VPV_BUS_INITIALISED);
	is(state_of(be), VPV_BUS_CLOSING, "ungranted ring-ref -> Closing");
	fe_state(VPV_BUS_CLOSED);
	fe_state(VPV_BUS_INITIALISING);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port, 0, 0);
	front_connect();
	is(state_of(be), VPV_BUS_CONNECTED, "connected again");
}

/*
 * The guest closes the port of a connected back-end and allocates the
 * same number again for another service (found by fuzz_bus): the old
 * owner must let go of it, neither taking the new owner's events nor
 * unbinding it when it disconnects.
 */
static void test_port_reuse(void)
{
	uint32_t old = port;
	long p;

	is(state_of(be), VPV_BUS_CONNECTED, "reuse: vloop connected");
	is(call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, old, 0, 0), 0,
	   "guest closes the vloop port");
	p = call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST, 0, 0);
	is(p, old, "the same port number comes back");
	is(call(g, VPV_HC_STORE_OP, VPV_STOREOP_CONNECT, p, 0, 0), 0,
	   "store connects on it");
	fe_state(VPV_BUS_CLOSED);
	is(state_of(be), VPV_BUS_CLOSED, "vloop disconnected");
	is(g->port_stat[p], VPV_EVTCHN_STAT_BACKEND,
	   "vloop's disconnect leaves the store's port bound");

	/* the other way round: the store's old port serves vloop */
	is(call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, p, 0, 0), 0,
	   "guest closes the store's port");
	fe_state(VPV_BUS_INITIALISING);
	front_connect();
	is(port, p, "vloop gets the store's old port number");
	is(state_of(be), VPV_BUS_CONNECTED, "vloop connected on it");
	push(1, VPV_VLOOP_OP_CSUM, REF_IN, 0, 0, 16, 0);
	kick();
	is(take(), 1, "vloop, not the store, gets its events");
}

static void test_restart_remove(void)
{
	struct host h = { .guests = gs, .nr_guests = 1 };
	struct sbuf out;
	char line[160];

	hold_one();
	is(bus_device_restart(g, "vloop", 0), 0, "restart");
	is(state_of(be), VPV_BUS_INITWAIT, "after restart: InitWait");
	is(grant_nr_mapped(g), 0, "restart unmaps the ring");
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port, 0, 0);
	fe_state(VPV_BUS_INITIALISING);
	front_connect();
	is(state_of(be), VPV_BUS_CONNECTED, "front reconnects after restart");

	sb_init(&out);
	snprintf(line, sizeof(line), "device list %s", g->name);
	is(ctl_handle_line(&h, line, strlen(line), &out), 0, "ctl device list");
	ok(!!strstr(out.buf, "\"backend_state\":\"Connected\""),
	   "list shows Connected");
	sb_free(&out);
	sb_init(&out);
	snprintf(line, sizeof(line), "store read %s/state", be);
	is(ctl_handle_line(&h, line, strlen(line), &out), 0, "ctl store read");
	ok(!!strstr(out.buf, "\"value\":\"4\""), "value in JSON");
	sb_free(&out);
	sb_init(&out);
	snprintf(line, sizeof(line), "device add %s vloop 1", g->name);
	is(ctl_handle_line(&h, line, strlen(line), &out), 0, "ctl device add");
	ok(!!strstr(out.buf, "\"backend_state\":\"InitWait\""),
	   "added in InitWait");
	sb_free(&out);
	sb_init(&out);
	snprintf(line, sizeof(line), "device remove %s vloop/1", g->name);
	is(ctl_handle_line(&h, line, strlen(line), &out), 0, "ctl device remove");
	ok(!!strstr(out.buf, "\"removed\":true"),
	   "unconnected device removed at once");
	sb_free(&out);
	sb_init(&out);
	is(ctl_handle_line(&h, "store write /x/y hello", 22, &out), 0,
	   "ctl store write");
	sb_free(&out);
	sb_init(&out);
	is(ctl_handle_line(&h, "store ls /x", 11, &out), 0, "ctl store ls");
	ok(!!strstr(out.buf, "\"children\":[\"y\"]"), "ls lists y");
	sb_free(&out);
	sb_init(&out);
	is(ctl_handle_line(&h, "store rm /x", 11, &out), 0, "ctl store rm");
	sb_free(&out);
	sb_init(&out);
	ctl_handle_line(&h, "store read /x", 13, &out);
	ok(!!strstr(out.buf, "ENOENT"), "rm'd: ENOENT error");
	sb_free(&out);

	hold_one();
	/* through the control socket: an answer, not a usage error */
	sb_init(&out);
	snprintf(line, sizeof(line), "device remove %s vloop/0", g->name);
	is(ctl_handle_line(&h, line, strlen(line), &out), 0,
	   "ctl device remove of a connected device");
	ok(strstr(out.buf, "\"removed\":false") &&
	   strstr(out.buf, "\"state\":\"Closing\""),
	   "answered: removing, waits for the front-end (Closing)");
	sb_free(&out);
	is(state_of(be), VPV_BUS_CLOSING, "back-end Closing");
	fe_state(VPV_BUS_CLOSED);
	is(state_of(be), -1, "front Closed: back-end dir removed");
	is(state_of(fe), -1, "front-end dir removed");
	is(call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_STATUS, port, 0, 0),
	   VPV_EVTCHN_STAT_UNBOUND, "port released");
	is(grant_nr_mapped(g), 0, "removal unmaps the held grant");

	/* timeout path */
	bus_device_add(g, "vloop", 0);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port, 0, 0);
	front_connect();
	is(state_of(be), VPV_BUS_CONNECTED, "connected for the timeout test");
	hold_one();
	is(bus_device_remove(g, "vloop", 0), 1, "remove waits");
	bus_tick(bus_now_ms() + 1000);
	is(state_of(be), VPV_BUS_CLOSING, "still there before the timeout");
	bus_tick(bus_now_ms() + BUS_REMOVE_TIMEOUT_MS + 100);
	is(state_of(be), -1, "removed after the timeout");
	is(bus_device_list(0, NULL, 0), 0, "no devices left");
	is(grant_nr_mapped(g), 0, "no grants left mapped");

	/* NEGOTIATE puts connected back-ends back to InitWait */
	bus_device_add(g, "vloop", 0);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, port, 0, 0);
	front_connect();
	hold_one();
	call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	is(state_of(be), VPV_BUS_INITWAIT, "NEGOTIATE: back-end InitWait");
	is(grant_nr_mapped(g), 0, "NEGOTIATE: ring unmapped");
}

int main(void)
{
	/* the vloop device code in this process (vpv-host: its own) */
	be_inproc_register(&vloop_be_ops);
	test_dir_make();
	test_guest(g, 32 << 20, 1);
	call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	test_add();
	test_io();
	test_hold();
	test_protocol_error();
	test_port_reuse();
	test_features();
	test_restart_remove();
	guest_destroy(g);
	test_dir_remove();
	return tap_done();
}
