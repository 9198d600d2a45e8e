// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite for the pure guest-side logic of vhypercall.ko
 * (vhypercall_logic.h): event channel scanning, port and argument
 * validation, the multicall batch helper and the hypercall slot states.  No host needed.
 * Results: /sys/kernel/debug/kunit/vhypercall/results
 */
#include <kunit/test.h>
#include <linux/module.h>

#include "vhypercall_logic.h"

/* ---- event channel scan ---- */

struct scan_rec {
	unsigned int n;
	unsigned int ports[64];
};

static void scan_record(void *ctx, unsigned int port)
{
	struct scan_rec *r = ctx;

	if (r->n < ARRAY_SIZE(r->ports))
		r->ports[r->n] = port;
	r->n++;
}

struct scan_env {
	u64 sel;
	u64 pending[VPV_EVTCHN_WORDS];
	u64 mask[VPV_EVTCHN_WORDS];
	struct scan_rec rec;
};

static void raise_port(struct scan_env *e, unsigned int port)
{
	e->pending[port / 64] |= 1ULL << (port % 64);
	e->sel |= 1ULL << (port / 64);
}

static void vpv_test_scan_basic(struct kunit *test)
{
	struct scan_env *e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);
	unsigned int n;

	KUNIT_ASSERT_NOT_NULL(test, e);
	raise_port(e, 1);
	raise_port(e, 63);
	raise_port(e, 64);
	raise_port(e, 4095);
	n = vpv_evtchn_scan(&e->sel, e->pending, e->mask, 4096,
			    scan_record, &e->rec);
	KUNIT_EXPECT_EQ(test, n, 4u);
	KUNIT_EXPECT_EQ(test, e->rec.n, 4u);
	KUNIT_EXPECT_EQ(test, e->rec.ports[0], 1u);
	KUNIT_EXPECT_EQ(test, e->rec.ports[1], 63u);
	KUNIT_EXPECT_EQ(test, e->rec.ports[2], 64u);
	KUNIT_EXPECT_EQ(test, e->rec.ports[3], 4095u);
	KUNIT_EXPECT_EQ(test, e->sel, 0ULL);
	KUNIT_EXPECT_EQ(test, e->pending[0], 0ULL);
	KUNIT_EXPECT_EQ(test, e->pending[1], 0ULL);
	KUNIT_EXPECT_EQ(test, e->pending[63], 0ULL);

	/* a second scan finds nothing */
	e->rec.n = 0;
	n = vpv_evtchn_scan(&e->sel, e->pending, e->mask, 4096,
			    scan_record, &e->rec);
	KUNIT_EXPECT_EQ(test, n, 0u);
}

static void vpv_test_scan_mask(struct kunit *test)
{
	struct scan_env *e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);
	unsigned int n;

	KUNIT_ASSERT_NOT_NULL(test, e);
	raise_port(e, 5);
	raise_port(e, 6);
	e->mask[0] = 1ULL << 6;
	n = vpv_evtchn_scan(&e->sel, e->pending, e->mask, 128,
			    scan_record, &e->rec);
	KUNIT_EXPECT_EQ(test, n, 1u);
	KUNIT_EXPECT_EQ(test, e->rec.ports[0], 5u);
	/* the masked port stays pending, its selector bit is consumed */
	KUNIT_EXPECT_EQ(test, e->pending[0], 1ULL << 6);
	KUNIT_EXPECT_EQ(test, e->sel, 0ULL);

	/* unmask + local re-raise: the port is delivered exactly once */
	e->mask[0] = 0;
	e->sel |= 1;
	e->rec.n = 0;
	n = vpv_evtchn_scan(&e->sel, e->pending, e->mask, 128,
			    scan_record, &e->rec);
	KUNIT_EXPECT_EQ(test, n, 1u);
	KUNIT_EXPECT_EQ(test, e->rec.ports[0], 6u);
	KUNIT_EXPECT_EQ(test, e->pending[0], 0ULL);
}

static void vpv_test_scan_needs_selector(struct kunit *test)
{
	struct scan_env *e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);
	unsigned int n;

	KUNIT_ASSERT_NOT_NULL(test, e);
	/* pending without its selector bit is not looked at */
	e->pending[2] = 1;
	e->sel = 1ULL << 0;
	n = vpv_evtchn_scan(&e->sel, e->pending, e->mask, 4096,
			    scan_record, &e->rec);
	KUNIT_EXPECT_EQ(test, n, 0u);
	KUNIT_EXPECT_EQ(test, e->pending[2], 1ULL);
}

static void vpv_test_scan_host_garbage(struct kunit *test)
{
	struct scan_env *e = kunit_kzalloc(test, sizeof(*e), GFP_KERNEL);
	unsigned int n;

	KUNIT_ASSERT_NOT_NULL(test, e);
	/* 100 ports: word 1 holds ports 64..99; port 0 is never valid */
	e->pending[0] = 1;			/* port 0 */
	e->pending[1] = ~0ULL;			/* ports 64..127 */
	e->pending[5] = ~0ULL;			/* beyond nr_ports */
	e->sel = 1ULL | 2ULL | (1ULL << 5) | (1ULL << 63);
	n = vpv_evtchn_scan(&e->sel, e->pending, e->mask, 100,
			    scan_record, &e->rec);
	KUNIT_EXPECT_EQ(test, n, 36u);
	KUNIT_EXPECT_EQ(test, e->rec.ports[0], 64u);
	KUNIT_EXPECT_EQ(test, e->rec.ports[35], 99u);
	KUNIT_EXPECT_EQ(test, e->sel, 0ULL);
	/* out-of-range words are not touched */
	KUNIT_EXPECT_EQ(test, e->pending[5], ~0ULL);

	/* nr_ports above the ABI maximum is clamped */
	KUNIT_EXPECT_EQ(test, vpv_nr_ports_clamp(100000), 4096u);
}

static void vpv_test_take(struct kunit *test)
{
	u64 pending = 0xf0f0, mask = 0xff00;

	KUNIT_EXPECT_EQ(test, vpv_evtchn_take(&pending, &mask), 0xf0ULL);
	KUNIT_EXPECT_EQ(test, pending, 0xf000ULL);
	KUNIT_EXPECT_EQ(test, vpv_evtchn_take(&pending, &mask), 0ULL);
	mask = 0;
	KUNIT_EXPECT_EQ(test, vpv_evtchn_take(&pending, &mask), 0xf000ULL);
	KUNIT_EXPECT_EQ(test, pending, 0ULL);
}

static void vpv_test_port_valid(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, vpv_port_valid(0, 4096));
	KUNIT_EXPECT_TRUE(test, vpv_port_valid(1, 4096));
	KUNIT_EXPECT_TRUE(test, vpv_port_valid(4095, 4096));
	KUNIT_EXPECT_FALSE(test, vpv_port_valid(4096, 4096));
	KUNIT_EXPECT_FALSE(test, vpv_port_valid(4096, 8192));
	KUNIT_EXPECT_FALSE(test, vpv_port_valid(256, 256));
	KUNIT_EXPECT_TRUE(test, vpv_port_valid(255, 256));
	KUNIT_EXPECT_FALSE(test, vpv_port_valid(1, 1));
	KUNIT_EXPECT_FALSE(test, vpv_port_valid(~0u, 4096));
}

/* ---- argument validation ---- */

static void vpv_test_hc_nr(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, vpv_hc_nr_valid(VPV_HC_NOP));
	KUNIT_EXPECT_TRUE(test, vpv_hc_nr_valid(VPV_HC_STORE_OP));
	KUNIT_EXPECT_TRUE(test, vpv_hc_nr_valid(VPV_HC_MAX - 1));
	KUNIT_EXPECT_FALSE(test, vpv_hc_nr_valid(VPV_HC_MAX));
	KUNIT_EXPECT_FALSE(test, vpv_hc_nr_valid(~0u));
	KUNIT_EXPECT_TRUE(test, vpv_mc_op_valid(VPV_HC_NOP));
	KUNIT_EXPECT_FALSE(test, vpv_mc_op_valid(VPV_HC_MULTICALL));
	KUNIT_EXPECT_FALSE(test, vpv_mc_op_valid(VPV_HC_MAX));
}

static void vpv_test_hc_need_ring(struct kunit *test)
{
	/* not negotiated: always ring, whatever the word says */
	KUNIT_EXPECT_TRUE(test, vpv_hc_need_ring(0, 0));
	KUNIT_EXPECT_TRUE(test, vpv_hc_need_ring(0, VPV_HC_POLL_ACTIVE));
	KUNIT_EXPECT_TRUE(test, vpv_hc_need_ring(VPV_F_ECHO, ~0u));
	/* negotiated: skip only while the host polls */
	KUNIT_EXPECT_TRUE(test, vpv_hc_need_ring(VPV_F_HC_POLL, 0));
	KUNIT_EXPECT_FALSE(test, vpv_hc_need_ring(VPV_F_HC_POLL,
						  VPV_HC_POLL_ACTIVE));
	/* other bits of the word never suppress a doorbell */
	KUNIT_EXPECT_TRUE(test, vpv_hc_need_ring(VPV_F_HC_POLL, ~1u));
}

static void vpv_test_port_doorbell(struct kunit *test)
{
	u32 db[VPV_NR_DEV_DOORBELLS] = { 0, 7, 0, 0, 0, 0, 0, 9 };

	/* not negotiated: VPV_VEC_EVTCHN, whatever the table says */
	KUNIT_EXPECT_EQ(test, vpv_port_doorbell(0, db, 7), VPV_VEC_EVTCHN);
	/* named: that device doorbell */
	KUNIT_EXPECT_EQ(test, vpv_port_doorbell(VPV_F_DEV_DOORBELL, db, 7),
			VPV_VEC_DEV0 + 1);
	KUNIT_EXPECT_EQ(test, vpv_port_doorbell(VPV_F_DEV_DOORBELL, db, 9),
			VPV_VEC_DEV0 + VPV_NR_DEV_DOORBELLS - 1);
	/* not named, or port 0 (empty entries are 0): VPV_VEC_EVTCHN */
	KUNIT_EXPECT_EQ(test, vpv_port_doorbell(VPV_F_DEV_DOORBELL, db, 8),
			VPV_VEC_EVTCHN);
	KUNIT_EXPECT_EQ(test, vpv_port_doorbell(VPV_F_DEV_DOORBELL, db, 0),
			VPV_VEC_EVTCHN);
	/* a port named twice (a confused host): the first entry */
	db[3] = 7;
	KUNIT_EXPECT_EQ(test, vpv_port_doorbell(VPV_F_DEV_DOORBELL, db, 7),
			VPV_VEC_DEV0 + 1);
}

static void vpv_test_cpu_vectors(struct kunit *test)
{
	/* one per CPU, at most VPV_NR_CPU_VECTORS, if the entries exist */
	KUNIT_EXPECT_EQ(test, vpv_cpu_vectors_wanted(2, 11), 2u);
	KUNIT_EXPECT_EQ(test, vpv_cpu_vectors_wanted(64, 11),
			(unsigned int)VPV_NR_CPU_VECTORS);
	KUNIT_EXPECT_EQ(test, vpv_cpu_vectors_wanted(4, 5), 2u);
	/* a device with the fixed vectors only (an older host's QEMU) */
	KUNIT_EXPECT_EQ(test, vpv_cpu_vectors_wanted(4, 2), 0u);
	KUNIT_EXPECT_EQ(test, vpv_cpu_vectors_wanted(4, VPV_VEC_CPU0), 0u);

	KUNIT_EXPECT_EQ(test, vpv_cpu_vector(VPV_F_CPU_VECTORS, 2, 0),
			VPV_VEC_CPU0);
	KUNIT_EXPECT_EQ(test, vpv_cpu_vector(VPV_F_CPU_VECTORS, 2, 1),
			VPV_VEC_CPU0 + 1);
	/* a CPU without a vector, or the feature not negotiated */
	KUNIT_EXPECT_EQ(test, vpv_cpu_vector(VPV_F_CPU_VECTORS, 2, 2),
			-ENOENT);
	KUNIT_EXPECT_EQ(test, vpv_cpu_vector(0, 2, 0), -ENOENT);
	KUNIT_EXPECT_EQ(test, vpv_cpu_vector(VPV_F_CPU_VECTORS, 99,
					     VPV_NR_CPU_VECTORS), -ENOENT);
}

static void vpv_test_mc_check(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vpv_mc_check(0, 0, 512), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_mc_check(1, 0, 512), 0);
	KUNIT_EXPECT_EQ(test, vpv_mc_check(512, 0, 512), 0);
	KUNIT_EXPECT_EQ(test, vpv_mc_check(513, 0, 512), -E2BIG);
	KUNIT_EXPECT_EQ(test, vpv_mc_check(64, 0, 63), -E2BIG);
	KUNIT_EXPECT_EQ(test, vpv_mc_check(1, VPV_MC_STOP_ON_ERROR, 512), 0);
	KUNIT_EXPECT_EQ(test, vpv_mc_check(1, 2, 512), -EINVAL);
	KUNIT_EXPECT_EQ(test, vpv_mc_check(1, 1u << 31, 512), -EINVAL);
}

static void vpv_test_fnv1a(struct kunit *test)
{
	/* reference values of 32-bit FNV-1a */
	KUNIT_EXPECT_EQ(test, vpv_fnv1a32("", 0), 0x811c9dc5u);
	KUNIT_EXPECT_EQ(test, vpv_fnv1a32("a", 1), 0xe40c292cu);
	KUNIT_EXPECT_EQ(test, vpv_fnv1a32("foobar", 6), 0xbf9cf968u);
}

/* ---- multicall batch ---- */

#define REC_MAX 16

struct flush_rec {
	unsigned int calls;
	unsigned int counts[REC_MAX];
	u64 first_arg[REC_MAX];
	unsigned int flags[REC_MAX];
	long fail_with;		/* returned instead of executing */
	int bad_entry;		/* entry index given -EINVAL, or -1 */
};

/* vpv_mc_flush_t has no context pointer: the test's recorder is global */
static struct flush_rec *cur_rec;

static long record_flush(struct vpv_multicall_entry *e, unsigned int count,
			 unsigned int flags)
{
	struct flush_rec *r = cur_rec;
	unsigned int i;

	if (r->calls < REC_MAX) {
		r->counts[r->calls] = count;
		r->first_arg[r->calls] = e[0].args[0];
		r->flags[r->calls] = flags;
	}
	r->calls++;
	if (r->fail_with)
		return r->fail_with;
	for (i = 0; i < count; i++)
		e[i].result = (int)i == r->bad_entry ? -EINVAL : e[i].args[0];
	return count;
}

static unsigned int done_calls, done_count;
static long done_ret;

static void record_done(struct vpv_mc_batch *b, unsigned int count, long ret)
{
	done_calls++;
	done_count = count;
	done_ret = ret;
}

static struct vpv_mc_batch *batch_setup(struct kunit *test, unsigned int cap,
					struct flush_rec *r)
{
	struct vpv_mc_batch *b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	struct vpv_multicall_entry *e;

	KUNIT_ASSERT_NOT_NULL(test, b);
	e = kunit_kcalloc(test, cap, sizeof(*e), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, e);
	memset(r, 0, sizeof(*r));
	r->bad_entry = -1;
	cur_rec = r;
	__vpv_mc_batch_setup(b, e, cap, VPV_MC_STOP_ON_ERROR, record_flush);
	return b;
}

static void vpv_test_batch_autoflush(struct kunit *test)
{
	struct flush_rec r;
	struct vpv_mc_batch *b = batch_setup(test, 4, &r);
	u64 args[VPV_HC_NR_ARGS] = { 0 };
	unsigned int i;

	for (i = 0; i < 10; i++) {
		args[0] = 100 + i;
		KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_NOP, args), 0);
		/* flushed as soon as the 4th entry is queued */
		KUNIT_EXPECT_EQ(test, r.calls, (i + 1) / 4);
		KUNIT_EXPECT_EQ(test, b->count, (i + 1) % 4);
	}
	KUNIT_EXPECT_EQ(test, r.counts[0], 4u);
	KUNIT_EXPECT_EQ(test, r.counts[1], 4u);
	KUNIT_EXPECT_EQ(test, r.first_arg[0], 100ULL);
	KUNIT_EXPECT_EQ(test, r.first_arg[1], 104ULL);
	KUNIT_EXPECT_EQ(test, r.flags[0], VPV_MC_STOP_ON_ERROR);

	/* explicit flush of the remaining two */
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_flush(b), 2L);
	KUNIT_EXPECT_EQ(test, r.calls, 3u);
	KUNIT_EXPECT_EQ(test, r.counts[2], 2u);
	KUNIT_EXPECT_EQ(test, r.first_arg[2], 108ULL);
	KUNIT_EXPECT_EQ(test, b->count, 0u);
	KUNIT_EXPECT_EQ(test, b->nr_flushes, 3ULL);
	KUNIT_EXPECT_EQ(test, b->nr_entries, 10ULL);
	KUNIT_EXPECT_EQ(test, b->err, 0L);

	/* flushing an empty batch does not call the host */
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_flush(b), 0L);
	KUNIT_EXPECT_EQ(test, r.calls, 3u);
}

static void vpv_test_batch_entry_fill(struct kunit *test)
{
	struct flush_rec r;
	struct vpv_mc_batch *b = batch_setup(test, 8, &r);
	u64 args[VPV_HC_NR_ARGS] = { 1, 2, 3, 4, 5, 6 };

	b->entries[0].flags = 0xdead;
	b->entries[0].result = 77;
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_MEMCHK, args), 0);
	KUNIT_EXPECT_EQ(test, b->entries[0].op, (u32)VPV_HC_MEMCHK);
	KUNIT_EXPECT_EQ(test, b->entries[0].flags, 0u);
	KUNIT_EXPECT_EQ(test, b->entries[0].result, 0LL);
	KUNIT_EXPECT_EQ(test, b->entries[0].args[5], 6ULL);

	/* invalid ops are refused locally and not queued */
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_MULTICALL, args),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_MAX, args), -EINVAL);
	KUNIT_EXPECT_EQ(test, b->count, 1u);
	KUNIT_EXPECT_EQ(test, r.calls, 0u);
}

static void vpv_test_batch_errors(struct kunit *test)
{
	struct flush_rec r;
	struct vpv_mc_batch *b = batch_setup(test, 2, &r);
	u64 args[VPV_HC_NR_ARGS] = { 0 };

	b->done = record_done;
	done_calls = 0;

	/* an entry error is kept in b->err; the flush itself succeeded */
	r.bad_entry = 1;
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_NOP, args), 0);
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_NOP, args), 0);
	KUNIT_EXPECT_EQ(test, b->err, (long)-EINVAL);
	KUNIT_EXPECT_EQ(test, done_calls, 1u);
	KUNIT_EXPECT_EQ(test, done_count, 2u);
	KUNIT_EXPECT_EQ(test, done_ret, 2L);

	/* a failing multicall is returned by the add that flushed */
	b->err = 0;
	r.bad_entry = -1;
	r.fail_with = -ENODEV;
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_NOP, args), 0);
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_NOP, args), -ENODEV);
	KUNIT_EXPECT_EQ(test, b->err, (long)-ENODEV);
	KUNIT_EXPECT_EQ(test, b->count, 0u);
	KUNIT_EXPECT_EQ(test, done_calls, 2u);
	KUNIT_EXPECT_EQ(test, done_ret, (long)-ENODEV);

	/* the first error is kept */
	r.fail_with = -EIO;
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_NOP, args), 0);
	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_flush(b), (long)-EIO);
	KUNIT_EXPECT_EQ(test, b->err, (long)-ENODEV);
}

static void vpv_test_batch_cap1(struct kunit *test)
{
	struct flush_rec r;
	struct vpv_mc_batch *b = batch_setup(test, 1, &r);
	u64 args[VPV_HC_NR_ARGS] = { 9 };

	KUNIT_EXPECT_EQ(test, __vpv_mc_batch_add(b, VPV_HC_NOP, args), 0);
	KUNIT_EXPECT_EQ(test, r.calls, 1u);
	KUNIT_EXPECT_EQ(test, r.counts[0], 1u);
	KUNIT_EXPECT_EQ(test, b->entries[0].result, 9LL);
}

/* ---- hypercall slots ---- */

/*
 * A reloaded driver finds its predecessor's slots: a call still PENDING
 * (with or without WANT_IRQ, or PENDING in the low byte, which the host
 * also runs) is the host's; everything else the driver may reset.
 */
static void vpv_test_slot_host_owned(struct kunit *test)
{
	KUNIT_EXPECT_TRUE(test, vpv_slot_host_owned(VPV_SLOT_PENDING));
	KUNIT_EXPECT_TRUE(test, vpv_slot_host_owned(VPV_SLOT_PENDING |
						    VPV_SLOT_WANT_IRQ));
	KUNIT_EXPECT_TRUE(test, vpv_slot_host_owned(0x101));
	KUNIT_EXPECT_FALSE(test, vpv_slot_host_owned(VPV_SLOT_IDLE));
	KUNIT_EXPECT_FALSE(test, vpv_slot_host_owned(VPV_SLOT_DONE));
	KUNIT_EXPECT_FALSE(test, vpv_slot_host_owned(VPV_SLOT_DONE |
						     VPV_SLOT_WANT_IRQ));
	KUNIT_EXPECT_FALSE(test, vpv_slot_host_owned(0x7f));
}

static void vpv_test_slot_use(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vpv_slot_use(false, VPV_SLOT_IDLE),
			VPV_SLOT_USE);
	/* not retired: the caller's own idle check reports a bad state */
	KUNIT_EXPECT_EQ(test, vpv_slot_use(false, VPV_SLOT_PENDING),
			VPV_SLOT_USE);
	KUNIT_EXPECT_EQ(test, vpv_slot_use(true, VPV_SLOT_PENDING),
			VPV_SLOT_SKIP);
	KUNIT_EXPECT_EQ(test, vpv_slot_use(true, VPV_SLOT_PENDING |
					   VPV_SLOT_WANT_IRQ), VPV_SLOT_SKIP);
	KUNIT_EXPECT_EQ(test, vpv_slot_use(true, VPV_SLOT_IDLE),
			VPV_SLOT_SKIP);
	KUNIT_EXPECT_EQ(test, vpv_slot_use(true, VPV_SLOT_DONE),
			VPV_SLOT_RECLAIM);
}

/*
 * The reload sequence on a one-vCPU guest's two slots, as hcall.c runs
 * it: both timed out in the previous instance; the new one must not
 * use either until the host has written DONE, then gets each back.
 */
static void vpv_test_slot_reload(struct kunit *test)
{
	u32 state[2] = { VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ,
			 VPV_SLOT_PENDING };
	bool retired[2];
	int i;

	for (i = 0; i < 2; i++) {
		retired[i] = vpv_slot_host_owned(state[i]);
		KUNIT_EXPECT_TRUE(test, retired[i]);
		KUNIT_EXPECT_EQ(test, vpv_slot_use(retired[i], state[i]),
				VPV_SLOT_SKIP);
	}
	state[1] = VPV_SLOT_DONE;	/* the host's late (or cancelled) DONE */
	KUNIT_EXPECT_EQ(test, vpv_slot_use(retired[0], state[0]),
			VPV_SLOT_SKIP);
	KUNIT_EXPECT_EQ(test, vpv_slot_use(retired[1], state[1]),
			VPV_SLOT_RECLAIM);
}

static struct kunit_case vpv_test_cases[] = {
	KUNIT_CASE(vpv_test_scan_basic),
	KUNIT_CASE(vpv_test_scan_mask),
	KUNIT_CASE(vpv_test_scan_needs_selector),
	KUNIT_CASE(vpv_test_scan_host_garbage),
	KUNIT_CASE(vpv_test_take),
	KUNIT_CASE(vpv_test_port_valid),
	KUNIT_CASE(vpv_test_hc_nr),
	KUNIT_CASE(vpv_test_hc_need_ring),
	KUNIT_CASE(vpv_test_cpu_vectors),
	KUNIT_CASE(vpv_test_port_doorbell),
	KUNIT_CASE(vpv_test_mc_check),
	KUNIT_CASE(vpv_test_fnv1a),
	KUNIT_CASE(vpv_test_batch_autoflush),
	KUNIT_CASE(vpv_test_batch_entry_fill),
	KUNIT_CASE(vpv_test_batch_errors),
	KUNIT_CASE(vpv_test_batch_cap1),
	KUNIT_CASE(vpv_test_slot_host_owned),
	KUNIT_CASE(vpv_test_slot_use),
	KUNIT_CASE(vpv_test_slot_reload),
	{}
};

static struct kunit_suite vpv_test_suite = {
	.name = "vhypercall",
	.test_cases = vpv_test_cases,
};

kunit_test_suite(vpv_test_suite);

MODULE_DESCRIPTION("KUnit tests for the vhypercall guest logic");
MODULE_LICENSE("GPL");
