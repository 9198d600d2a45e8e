// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the split-driver platform's pure logic
 * (split_logic.h): the grant reference allocator, the v1 end-access
 * decision, store message framing across the ring's wrap, response
 * limits, paths and the front-end state machine.  No host needed.
 * Results: /sys/kernel/debug/kunit/vpv_split/results
 */
#include <kunit/test.h>
#include <linux/module.h>

#include <pvkit/vbus.h>

#include "split_logic.h"

/* ---- grant references ---- */

static void split_test_ref_alloc(struct kunit *test)
{
	u32 next[16];
	struct vpv_ref_alloc a;
	int i, r;

	vpv_ref_init(&a, next, 16, VPV_GNTTAB_RESERVED);
	KUNIT_EXPECT_EQ(test, a.nr_free, 8u);
	for (i = 0; i < 8; i++) {
		r = vpv_ref_get(&a);
		KUNIT_EXPECT_EQ(test, r, VPV_GNTTAB_RESERVED + i);
	}
	KUNIT_EXPECT_EQ(test, vpv_ref_get(&a), -ENOSPC);
	KUNIT_EXPECT_EQ(test, a.nr_free, 0u);
	/* reserved, out of range, double free */
	KUNIT_EXPECT_EQ(test, vpv_ref_put(&a, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_ref_put(&a, 16), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_ref_put(&a, -1), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_ref_put(&a, 10), 0);
	KUNIT_EXPECT_EQ(test, vpv_ref_put(&a, 10), -EINVAL);
	KUNIT_EXPECT_FALSE(test, vpv_ref_in_use(&a, 10));
	KUNIT_EXPECT_TRUE(test, vpv_ref_in_use(&a, 11));
	KUNIT_EXPECT_EQ(test, a.nr_free, 1u);
	KUNIT_EXPECT_EQ(test, vpv_ref_get(&a), 10);
	KUNIT_EXPECT_EQ(test, vpv_ref_get(&a), -ENOSPC);
}

static void split_test_ref_all_reserved(struct kunit *test)
{
	u32 next[8];
	struct vpv_ref_alloc a;

	vpv_ref_init(&a, next, 8, VPV_GNTTAB_RESERVED);
	KUNIT_EXPECT_EQ(test, a.nr_free, 0u);
	KUNIT_EXPECT_EQ(test, vpv_ref_get(&a), -ENOSPC);
}

/* ---- v1 end access ---- */

static void split_test_gnt_end(struct kunit *test)
{
	u32 w;

	w = vpv_gnt_word(vpv_gnt_grant_flags(true), 0x7ff0);
	KUNIT_EXPECT_EQ(test, w & 0xffff,
			(u32)(VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY));
	KUNIT_EXPECT_EQ(test, w >> 16, 0x7ff0u);
	KUNIT_EXPECT_EQ(test, vpv_gnt_try_end(&w), 0);
	KUNIT_EXPECT_EQ(test, w, 0x7ff00000u);
	/* already ended */
	KUNIT_EXPECT_EQ(test, vpv_gnt_try_end(&w), 0);

	w = vpv_gnt_word(VPV_GTF_PERMIT_ACCESS | VPV_GTF_READING, 3);
	KUNIT_EXPECT_EQ(test, vpv_gnt_try_end(&w), -EBUSY);
	KUNIT_EXPECT_EQ(test, w & 0xffff,
			(u32)(VPV_GTF_PERMIT_ACCESS | VPV_GTF_READING));
	w = vpv_gnt_word(VPV_GTF_PERMIT_ACCESS | VPV_GTF_WRITING, 3);
	KUNIT_EXPECT_EQ(test, vpv_gnt_try_end(&w), -EBUSY);
	/* the host released it */
	w &= ~VPV_GTF_WRITING;
	KUNIT_EXPECT_EQ(test, vpv_gnt_try_end(&w), 0);
	KUNIT_EXPECT_EQ(test, w, 3u << 16);
	KUNIT_EXPECT_FALSE(test, vpv_gnt_may_end(VPV_GTF_READING));
	KUNIT_EXPECT_TRUE(test, vpv_gnt_may_end(VPV_GTF_PERMIT_ACCESS));
}

/* ---- store rings ---- */

struct ring_env {
	struct vpv_store_ring r;
	struct vpv_store_chan c;
	char body[VPV_STORE_PAYLOAD_MAX + 1];
	struct vpv_store_rx rx;
};

static struct ring_env *ring_env(struct kunit *test, u32 start)
{
	struct ring_env *e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, e);
	e->c.r = &e->r;
	e->c.req_prod = start;
	e->r.req_prod = start;
	e->r.req_cons = start;
	e->c.rsp_cons = start;
	e->r.rsp_cons = start;
	e->r.rsp_prod = start;
	e->rx.body = e->body;
	return e;
}

/* The host side: append bytes to the response ring. */
static u32 host_put(struct ring_env *e, const void *data, u32 len)
{
	u32 prod = e->r.rsp_prod, i;
	u32 room = VPV_STORE_RING_SIZE - (prod - e->r.rsp_cons);

	len = min(len, room);
	for (i = 0; i < len; i++)
		e->r.rsp[VPV_STORE_MASK(prod + i)] = ((const u8 *)data)[i];
	e->r.rsp_prod = prod + len;
	return len;
}

static void split_test_put_wrap(struct kunit *test)
{
	/* indices near the u32 wrap and the ring's end */
	struct ring_env *e = ring_env(test, 0xfffffff0u - 3);
	u8 data[40], out[40];
	u32 i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = i + 1;
	KUNIT_EXPECT_EQ(test, vpv_store_put(&e->c, data, sizeof(data)), 40);
	KUNIT_EXPECT_EQ(test, e->r.req_prod, 0xfffffff0u - 3 + 40);
	for (i = 0; i < sizeof(out); i++)
		out[i] = e->r.req[VPV_STORE_MASK(0xfffffff0u - 3 + i)];
	KUNIT_EXPECT_EQ(test, memcmp(out, data, sizeof(data)), 0);
	/* full ring: only what fits */
	e->r.req_cons = e->c.req_prod - VPV_STORE_RING_SIZE + 10;
	KUNIT_EXPECT_EQ(test, vpv_store_put(&e->c, data, sizeof(data)), 10);
	KUNIT_EXPECT_EQ(test, vpv_store_put(&e->c, data, sizeof(data)), 0);
	/* a host claiming to have consumed more than was produced */
	e->r.req_cons = e->c.req_prod + 1;
	KUNIT_EXPECT_EQ(test, vpv_store_put(&e->c, data, 1), -EIO);
}

static void split_test_rx_split(struct kunit *test)
{
	struct ring_env *e = ring_env(test, VPV_STORE_RING_SIZE - 5);
	struct vpv_store_msg m = { .type = VPV_STORE_READ, .req_id = 7,
				   .len = 5 };

	/* the header in two pieces, straddling the ring's end */
	host_put(e, &m, 9);
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), 0);
	host_put(e, (u8 *)&m + 9, sizeof(m) - 9);
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), 0);
	host_put(e, "he", 2);
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), 0);
	host_put(e, "llo", 3);
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), 1);
	KUNIT_EXPECT_EQ(test, e->rx.hdr.req_id, 7u);
	KUNIT_EXPECT_STREQ(test, e->rx.body, "hello");
	KUNIT_EXPECT_EQ(test, e->r.rsp_cons, e->r.rsp_prod);
	vpv_store_rx_reset(&e->rx);
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), 0);
}

static void split_test_rx_large(struct kunit *test)
{
	/* a payload larger than the ring, streamed through it */
	struct ring_env *e = ring_env(test, 100);
	struct vpv_store_msg m = { .type = VPV_STORE_DIRECTORY, .req_id = 1,
				   .len = VPV_STORE_PAYLOAD_MAX };
	static u8 big[VPV_STORE_PAYLOAD_MAX];
	u32 sent = 0, i;
	int ret = 0;

	for (i = 0; i < sizeof(big); i++)
		big[i] = 'a' + i % 26;
	host_put(e, &m, sizeof(m));
	while (sent < sizeof(big)) {
		sent += host_put(e, big + sent, sizeof(big) - sent);
		ret = vpv_store_rx_feed(&e->rx, &e->c);
		if (ret)
			break;
	}
	KUNIT_EXPECT_EQ(test, ret, 1);
	KUNIT_EXPECT_EQ(test, sent, (u32)sizeof(big));
	KUNIT_EXPECT_EQ(test, memcmp(e->rx.body, big, sizeof(big)), 0);
	KUNIT_EXPECT_EQ(test, e->rx.body[VPV_STORE_PAYLOAD_MAX], '\0');
}

static void split_test_rx_limits(struct kunit *test)
{
	struct ring_env *e = ring_env(test, 0);
	struct vpv_store_msg m = { .type = VPV_STORE_READ,
				   .len = VPV_STORE_PAYLOAD_MAX + 1 };
	static u8 big[VPV_STORE_PAYLOAD_MAX + 1];
	u32 sent = 0;
	int ret = 0;

	/* too long: skipped whole, then the next message parses */
	host_put(e, &m, sizeof(m));
	while (sent < sizeof(big)) {
		sent += host_put(e, big + sent, sizeof(big) - sent);
		ret = vpv_store_rx_feed(&e->rx, &e->c);
		if (ret)
			break;
	}
	KUNIT_EXPECT_EQ(test, ret, 1);
	KUNIT_EXPECT_TRUE(test, e->rx.oversize);
	KUNIT_EXPECT_STREQ(test, e->rx.body, "");
	vpv_store_rx_reset(&e->rx);
	m.len = 2;
	host_put(e, &m, sizeof(m));
	host_put(e, "ok", 2);
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), 1);
	KUNIT_EXPECT_FALSE(test, e->rx.oversize);
	KUNIT_EXPECT_STREQ(test, e->rx.body, "ok");

	e = ring_env(test, 0);
	m.len = 0;
	m.type = 99;
	host_put(e, &m, sizeof(m));
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), -EIO);

	/* rsp_prod beyond a ring's worth */
	e = ring_env(test, 0);
	e->r.rsp_prod = VPV_STORE_RING_SIZE + 1;
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), -EIO);
	/* rsp_prod behind rsp_cons */
	e = ring_env(test, 50);
	e->r.rsp_prod = 49;
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), -EIO);

	/* an empty payload is fine */
	e = ring_env(test, 0);
	m.type = VPV_STORE_WRITE;
	host_put(e, &m, sizeof(m));
	KUNIT_EXPECT_EQ(test, vpv_store_rx_feed(&e->rx, &e->c), 1);
	KUNIT_EXPECT_STREQ(test, e->rx.body, "");
}

static void split_test_errno(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vpv_store_errno("ENOENT", 7), -ENOENT);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("EACCES", 6), -EACCES);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("E2BIG", 6), -E2BIG);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("EAGAIN", 7), -EAGAIN);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("EBUSY", 6), -EBUSY);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("ENOSPC", 7), -ENOSPC);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("EINVAL", 6), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("ENOENTX", 7), -EIO);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("ENOEN", 5), -EIO);
	KUNIT_EXPECT_EQ(test, vpv_store_errno("", 0), -EIO);
}

/* ---- paths ---- */

static void split_test_paths(struct kunit *test)
{
	char buf[VPV_STORE_PATH_MAX + 2];
	char rel[16];

	KUNIT_EXPECT_EQ(test, vpv_store_path_check("/local/domain/3/x"), 0);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("device/vloop/0"), 0);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("/"), 0);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check(""), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("a//b"), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("a/b/"), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("a b"), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("a\nb"), -EINVAL);
	/* the host's charset: [A-Za-z0-9/_@.:-], ASCII only */
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("a:b.c@d-e_f"), 0);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("a;b"), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_store_path_check("caf\xe9"), -EINVAL);
	memset(buf, 'a', VPV_STORE_PATH_MAX);
	buf[VPV_STORE_PATH_MAX] = '\0';
	KUNIT_EXPECT_EQ(test, vpv_store_path_check(buf), 0);
	buf[VPV_STORE_PATH_MAX] = 'a';
	buf[VPV_STORE_PATH_MAX + 1] = '\0';
	KUNIT_EXPECT_EQ(test, vpv_store_path_check(buf), -E2BIG);

	KUNIT_EXPECT_EQ(test, vpv_store_join(buf, sizeof(buf), "a/b", "c"), 5);
	KUNIT_EXPECT_STREQ(test, buf, "a/b/c");
	vpv_store_join(buf, sizeof(buf), "/", "c");
	KUNIT_EXPECT_STREQ(test, buf, "/c");
	vpv_store_join(buf, sizeof(buf), "", "c");
	KUNIT_EXPECT_STREQ(test, buf, "c");
	KUNIT_EXPECT_EQ(test, vpv_store_join(rel, sizeof(rel), "0123456789",
					     "abcde"), -E2BIG);

	KUNIT_EXPECT_STREQ(test, vpv_store_rel("/local/domain/3/device/x", 3),
			   "device/x");
	strscpy(buf, "/local/domain/31/device", sizeof(buf));
	KUNIT_EXPECT_PTR_EQ(test, vpv_store_rel(buf, 3), (const char *)buf);
	strscpy(buf, "device", sizeof(buf));
	KUNIT_EXPECT_PTR_EQ(test, vpv_store_rel(buf, 3), (const char *)buf);
}

static void split_test_bus_parse(struct kunit *test)
{
	char t[8], i[8];

	KUNIT_EXPECT_EQ(test, vpv_bus_parse("device", t, 8, i, 8), 1);
	KUNIT_EXPECT_EQ(test, vpv_bus_parse("device/", t, 8, i, 8), 1);
	KUNIT_EXPECT_EQ(test, vpv_bus_parse("devices/x", t, 8, i, 8), 0);
	KUNIT_EXPECT_EQ(test, vpv_bus_parse("data/x", t, 8, i, 8), 0);
	KUNIT_EXPECT_EQ(test, vpv_bus_parse("device/vloop", t, 8, i, 8), 2);
	KUNIT_EXPECT_STREQ(test, t, "vloop");
	KUNIT_EXPECT_EQ(test, vpv_bus_parse("device/vloop/12/state", t, 8, i,
					    8), 3);
	KUNIT_EXPECT_STREQ(test, t, "vloop");
	KUNIT_EXPECT_STREQ(test, i, "12");
	KUNIT_EXPECT_EQ(test, vpv_bus_parse("device/verylongtype/0", t, 8, i,
					    8), 0);
}

/* ---- front-end state machine ---- */

static void split_test_fe_decide(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_INITIALISING,
					    VPV_BUS_INITWAIT), VPV_FE_CONNECT);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CLOSED, VPV_BUS_INITWAIT),
			VPV_FE_CONNECT);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_INITIALISED,
					    VPV_BUS_CONNECTED),
			VPV_FE_CONNECTED);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CONNECTED,
					    VPV_BUS_CONNECTED), VPV_FE_NONE);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CONNECTED,
					    VPV_BUS_CLOSING), VPV_FE_CLOSE);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CONNECTED, VPV_BUS_CLOSED),
			VPV_FE_CLOSE);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CLOSED, VPV_BUS_CLOSED),
			VPV_FE_NONE);
	/* restarted back-end whose Closed we did not see */
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CONNECTED,
					    VPV_BUS_INITWAIT),
			VPV_FE_RECONNECT);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_INITIALISED,
					    VPV_BUS_INITWAIT),
			VPV_FE_RECONNECT);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_INITIALISING,
					    VPV_BUS_UNKNOWN), VPV_FE_NONE);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_INITIALISING, 42),
			VPV_FE_NONE);

	/* after vpv_bus_dev_fatal(): torn down, but Closing stays */
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CLOSING, VPV_BUS_CLOSING),
			VPV_FE_FAILED);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CLOSING, VPV_BUS_CLOSED),
			VPV_FE_FAILED);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CLOSING,
					    VPV_BUS_INITWAIT), VPV_FE_NONE);
	KUNIT_EXPECT_EQ(test, vpv_fe_decide(VPV_BUS_CLOSING,
					    VPV_BUS_CONNECTED), VPV_FE_NONE);

	KUNIT_EXPECT_EQ(test, vpv_bus_state_parse("4"), VPV_BUS_CONNECTED);
	KUNIT_EXPECT_EQ(test, vpv_bus_state_parse("6"), VPV_BUS_CLOSED);
	KUNIT_EXPECT_EQ(test, vpv_bus_state_parse("7"), VPV_BUS_UNKNOWN);
	KUNIT_EXPECT_EQ(test, vpv_bus_state_parse("4x"), VPV_BUS_UNKNOWN);
	KUNIT_EXPECT_EQ(test, vpv_bus_state_parse(""), VPV_BUS_UNKNOWN);
	KUNIT_EXPECT_EQ(test, vpv_bus_state_parse("99999999999"),
			VPV_BUS_UNKNOWN);
}

/*
 * A front-end's whole life through the shared machine: each action
 * applied as vpv_bus_frontend_changed() applies it, against the
 * back-end's sequence for connect, restart, and removal.
 */
static int split_fe_apply(int ours, int theirs)
{
	switch (vpv_fe_decide(ours, theirs)) {
	case VPV_FE_CONNECT:
	case VPV_FE_RECONNECT:
		return VPV_BUS_INITIALISED;
	case VPV_FE_CONNECTED:
		return VPV_BUS_CONNECTED;
	case VPV_FE_CLOSE:
		return VPV_BUS_CLOSED;
	case VPV_FE_FAILED:
	case VPV_FE_NONE:
		break;
	}
	return ours;
}

static void split_test_fe_life(struct kunit *test)
{
	static const int backend[] = {
		VPV_BUS_INITWAIT, VPV_BUS_CONNECTED,	/* connect */
		VPV_BUS_CLOSED, VPV_BUS_INITWAIT,	/* restart */
		VPV_BUS_CONNECTED, VPV_BUS_CLOSING,	/* removal */
	};
	static const int want[] = {
		VPV_BUS_INITIALISED, VPV_BUS_CONNECTED,
		VPV_BUS_CLOSED, VPV_BUS_INITIALISED,
		VPV_BUS_CONNECTED, VPV_BUS_CLOSED,
	};
	int ours = VPV_BUS_INITIALISING;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(backend); i++) {
		ours = split_fe_apply(ours, backend[i]);
		KUNIT_EXPECT_EQ_MSG(test, ours, want[i], "step %u", i);
	}
	/* a restart whose Closed was missed reconnects straight away */
	KUNIT_EXPECT_EQ(test, split_fe_apply(VPV_BUS_CONNECTED,
					     VPV_BUS_INITWAIT),
			VPV_BUS_INITIALISED);
	/* a failed front-end ignores a restarted back-end */
	KUNIT_EXPECT_EQ(test, split_fe_apply(VPV_BUS_CLOSING,
					     VPV_BUS_INITWAIT),
			VPV_BUS_CLOSING);
}

/* ---- error nodes (vpv_bus_dev_error()) ---- */

static void split_test_error_node(struct kunit *test)
{
	char buf[VPV_STORE_PATH_MAX + 1];
	char small[16];

	KUNIT_EXPECT_EQ(test, vpv_bus_error_node(buf, sizeof(buf), "vloop",
						 "0"), 0);
	KUNIT_EXPECT_STREQ(test, buf, "error/device/vloop/0");
	KUNIT_EXPECT_EQ(test, vpv_bus_error_node(small, sizeof(small),
						 "vloop", "12"),
			-ENAMETOOLONG);
	KUNIT_EXPECT_EQ(test, vpv_bus_error_node(buf, sizeof(buf), "", "0"),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_bus_error_node(buf, sizeof(buf), "a/b",
						 "0"), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_bus_error_node(buf, sizeof(buf), "vbd",
						 "x y"), -EINVAL);
}

static struct kunit_case split_test_cases[] = {
	KUNIT_CASE(split_test_ref_alloc),
	KUNIT_CASE(split_test_ref_all_reserved),
	KUNIT_CASE(split_test_gnt_end),
	KUNIT_CASE(split_test_put_wrap),
	KUNIT_CASE(split_test_rx_split),
	KUNIT_CASE(split_test_rx_large),
	KUNIT_CASE(split_test_rx_limits),
	KUNIT_CASE(split_test_errno),
	KUNIT_CASE(split_test_paths),
	KUNIT_CASE(split_test_bus_parse),
	KUNIT_CASE(split_test_fe_decide),
	KUNIT_CASE(split_test_fe_life),
	KUNIT_CASE(split_test_error_node),
	{}
};

static struct kunit_suite split_test_suite = {
	.name = "vpv_split",
	.test_cases = split_test_cases,
};

kunit_test_suite(split_test_suite);

MODULE_DESCRIPTION("KUnit tests for the pvkit split-driver platform logic");
MODULE_LICENSE("GPL");
