// SPDX-License-Identifier: GPL-2.0
/* Core handlers, dispatch table, slot state machine, raw ping. */
#include <fcntl.h>

#include "testutil.h"

static struct guest g;

static void test_header(void)
{
	struct vpv_shared_header *h = g.hdr;

	is(h->magic, VPV_MAGIC, "header magic");
	is(h->abi_version, VPV_ABI_VERSION, "header abi_version");
	is(h->host_peer_id, 0, "header host_peer_id");
	is(h->host_status, VPV_HOST_READY, "header host_status READY");
	is(h->shm_size, VPV_SHM_MIN_SIZE, "header shm_size");
	is(h->host_features, VPV_F_MULTICALL | VPV_F_EVTCHN |
	   VPV_F_IRQ_COMPLETION | VPV_F_ECHO | VPV_F_HC_POLL |
	   VPV_F_DEV_DOORBELL | VPV_F_CPU_VECTORS | VPV_F_BALLOON |
	   VPV_F_BALLOON_2M | VPV_F_PAGE_REPORTING | VPV_F_PVMMU |
	   VPV_F_GRANT | VPV_F_STORE,
	   "header host_features");
	is(h->gnttab_offset, 0x10000, "header gnttab_offset");
	is(h->gnttab_nr, 8192, "header gnttab_nr");
	ok(h->gnttab_offset + h->gnttab_nr * sizeof(struct vpv_grant_entry) <=
	   h->shm_size, "grant table fits the region");
	is(h->store_offset, 0x4000, "header store_offset");
	ok(h->domid >= 1, "header domid assigned");
	is(h->nr_slots, 5, "header nr_slots = smp + a spare");
	is(h->slot_offset, 0x1000, "header slot_offset");
	is(h->slot_size, 128, "header slot_size");
	is(h->multicall_max, VPV_MULTICALL_MAX, "header multicall_max");
	is(h->evtchn_nr_ports, VPV_EVTCHN_MAX_PORTS, "header evtchn ports");
	is(h->evtchn_offset, 0x3000, "header evtchn_offset");
	is(h->guest_ram_size, 64ull << 20, "header guest_ram_size");
	ok(0x1000 + 64 * 128 <= 0x3000 &&
	   0x3000 + sizeof(struct vpv_evtchn_shared) <= VPV_SHM_MIN_SIZE,
	   "layout fits in the minimum region");
}

static void test_slot_bounds(void)
{
	char path[sizeof(test_dir) + 8];
	struct guest g2;
	int fd;

	test_guest(&g2, 64ull << 20, 0);
	is(g2.hdr->nr_slots, 2, "smp 0 -> 2 slots");
	guest_destroy(&g2);
	test_guest(&g2, 64ull << 20, 1);
	is(g2.hdr->nr_slots, 2, "smp 1 -> 2 slots: one vCPU has a spare");
	guest_destroy(&g2);
	is(guest_nr_slots(63), 64, "smp 63 -> 64 slots");
	is(guest_nr_slots(64), 64, "smp 64 -> 64 slots (the slot area)");
	test_guest(&g2, 64ull << 20, 200);
	is(g2.hdr->nr_slots, 64, "smp 200 -> 64 slots");
	guest_destroy(&g2);
	ok(guest_init(&g2, "bad/name", 64ull << 20, 1, VPV_SHM_MIN_SIZE,
		      test_dir) == -EINVAL, "guest_init rejects bad name");
	ok(guest_init(&g2, "t1", 64ull << 20, 1, 3 << 20, test_dir) ==
	   -EINVAL, "guest_init rejects non-power-of-two shm");
	ok(guest_init(&g2, "t1", 64ull << 20, 1, 1 << 19, test_dir) ==
	   -EINVAL, "guest_init rejects shm < 1M");
	snprintf(path, sizeof(path), "%s/x.ram", test_dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ok(fd >= 0 && guest_init(&g2, "x", 64ull << 20, 1, VPV_SHM_MIN_SIZE,
				 test_dir) == -EEXIST,
	   "guest_init refuses existing RAM file (and does not unlink it)");
	ok(access(path, F_OK) == 0, "existing RAM file survives");
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static void test_core(void)
{
	uint8_t buf[256];
	uint32_t h;
	int i;

	is(call(&g, VPV_HC_NOP, 42, 0, 0, 0), 42, "NOP returns a0");
	is(call(&g, VPV_HC_NOP, UINT64_MAX, 0, 0, 0), INT64_MAX,
	   "NOP clears bit 63");
	is(call(&g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, UINT64_MAX, 0, 0),
	   VPV_HOST_FEATURES, "NEGOTIATE returns features & host_features");
	is(call(&g, VPV_HC_NEGOTIATE, (1 << 16) | 7, VPV_F_EVTCHN |
		(1ull << 40), 0, 0), VPV_F_EVTCHN,
	   "NEGOTIATE: other minor ok, unknown bits dropped");
	is(call(&g, VPV_HC_NEGOTIATE, 2 << 16, 0, 0, 0), -VPV_EPROTO,
	   "NEGOTIATE major 2 -> EPROTO");
	is(call(&g, VPV_HC_NEGOTIATE, 0, 0, 0, 0), -VPV_EPROTO,
	   "NEGOTIATE major 0 -> EPROTO");
	is(call(&g, VPV_HC_NEGOTIATE, (1ull << 32) | VPV_ABI_VERSION, 0, 0,
		0), -VPV_EPROTO, "NEGOTIATE garbage high bits -> EPROTO");
	is(call(&g, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, 0, 0, 0),
	   -VPV_EOPNOTSUPP, "MEMORY_OP without VPV_F_BALLOON -> EOPNOTSUPP");
	is(call(&g, VPV_HC_MMU_UPDATE, 0x1000, 1, 0, 0), -VPV_EOPNOTSUPP,
	   "MMU_UPDATE without VPV_F_PVMMU -> EOPNOTSUPP");
	is(call(&g, VPV_HC_MMUEXT_OP, 0x1000, 1, 0, 0), -VPV_EOPNOTSUPP,
	   "MMUEXT_OP without VPV_F_PVMMU -> EOPNOTSUPP");
	for (i = VPV_HC_GRANT_TABLE_OP; i <= VPV_HC_STORE_OP; i++)
		is(call(&g, i, 99, 0, 0, 0), -VPV_ENOSYS,
		   "grant/store unknown sub-command -> ENOSYS");
	is(call(&g, 10, 0, 0, 0, 0), -VPV_ENOSYS, "nr 10 -> ENOSYS");
	is(call(&g, VPV_HC_MAX - 1, 0, 0, 0, 0), -VPV_ENOSYS,
	   "nr 15 -> ENOSYS");
	is(call(&g, VPV_HC_MAX, 0, 0, 0, 0), -VPV_ENOSYS, "nr 16 -> ENOSYS");
	is(call(&g, UINT32_MAX, 0, 0, 0, 0), -VPV_ENOSYS,
	   "nr 0xffffffff -> ENOSYS");
	ok(g.stats.hcalls[VPV_HC_MAX] == 2, "out-of-range calls counted");

	/* MEMCHK */
	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = i * 7;
	gpa_write(&g, 0x2000, buf, sizeof(buf));
	h = fnv1a32(buf, sizeof(buf));
	is(call(&g, VPV_HC_MEMCHK, 0x2000, sizeof(buf), 0, 0), h,
	   "MEMCHK hashes guest bytes");
	is(fnv1a32("a", 1), 0xe40c292c, "FNV-1a 32 reference vector 'a'");
	is(fnv1a32("", 0), 0x811c9dc5, "FNV-1a 32 of nothing");
	is(call(&g, VPV_HC_MEMCHK, 0x2000, 0, 0, 0), -VPV_EINVAL,
	   "MEMCHK len 0 -> EINVAL");
	is(call(&g, VPV_HC_MEMCHK, 0, VPV_MEMCHK_MAX + 1, 0, 0), -VPV_E2BIG,
	   "MEMCHK len > max -> E2BIG");
	ok(call(&g, VPV_HC_MEMCHK, 0, VPV_MEMCHK_MAX, 0, 0) >= 0,
	   "MEMCHK len == max ok");
	is(call(&g, VPV_HC_MEMCHK, (64ull << 20) - 4, 8, 0, 0), -VPV_EFAULT,
	   "MEMCHK past end of RAM -> EFAULT");
	is(call(&g, VPV_HC_MEMCHK, UINT64_MAX, 1, 0, 0), -VPV_EFAULT,
	   "MEMCHK gpa ~0 -> EFAULT");
	is(call(&g, VPV_HC_MEMCHK, 1ull << 32, 1, 0, 0), -VPV_EFAULT,
	   "MEMCHK at 4G with small RAM -> EFAULT");
}

static void set_slot(unsigned int i, uint32_t state, uint32_t nr, uint64_t a0,
		     uint64_t seq)
{
	struct vpv_hc_slot *s = &g.slots[i];

	memset(s, 0, sizeof(*s));
	s->nr = nr;
	s->args[0] = a0;
	s->seq = seq;
	s->done_seq = 0xdead;
	__atomic_store_n(&s->state, state, __ATOMIC_RELEASE);
}

static void test_slots(void)
{
	int irq = g.guest_ev[VPV_VEC_HCALL];

	ev_count(irq);
	set_slot(0, VPV_SLOT_PENDING, VPV_HC_NOP, 7, 100);
	set_slot(1, VPV_SLOT_IDLE, VPV_HC_NOP, 8, 101);
	set_slot(2, VPV_SLOT_DONE, VPV_HC_NOP, 9, 102);
	set_slot(3, VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ, 99, 0, 103);
	is(hc_process_slots(&g), 2, "two pending slots processed");
	is(g.slots[0].state, VPV_SLOT_DONE, "slot 0 DONE");
	is(g.slots[0].ret, 7, "slot 0 ret");
	is(g.slots[0].done_seq, 100, "slot 0 done_seq = seq");
	is(g.slots[1].state, VPV_SLOT_IDLE, "IDLE slot ignored");
	is(g.slots[1].done_seq, 0xdead, "IDLE slot untouched");
	is(g.slots[2].done_seq, 0xdead, "DONE slot untouched");
	is(g.slots[3].state, VPV_SLOT_DONE, "WANT_IRQ slot DONE, flag cleared");
	is(g.slots[3].ret, -VPV_ENOSYS, "bad nr in slot -> ENOSYS");
	is(ev_count(irq), 1, "WANT_IRQ rang the guest once");

	set_slot(0, VPV_SLOT_PENDING, VPV_HC_NOP, 1, 1);
	hc_process_slots(&g);
	is(ev_count(irq), 0, "no WANT_IRQ: no interrupt");
	set_slot(0, 0x7f | VPV_SLOT_WANT_IRQ, VPV_HC_NOP, 1, 1);
	set_slot(1, 0x101, VPV_HC_NOP, 1, 1);	/* PENDING in low byte */
	set_slot(2, 0xffffffff, VPV_HC_NOP, 1, 1);
	is(hc_process_slots(&g), 1, "state masked with STATE_MASK");
	is(g.slots[0].state, 0x7f | VPV_SLOT_WANT_IRQ,
	   "garbage state ignored");
	is(g.slots[1].state, VPV_SLOT_DONE, "0x101 treated as PENDING");
	is(g.slots[2].state, 0xffffffff, "0xffffffff ignored");
	is(ev_count(irq), 0, "no interrupt for ignored slots");
}

/*
 * A guest driver reloaded while the host runs a call: the new instance
 * wrote IDLE over the slot (as vhypercall's setup did) and maybe
 * published a new call there.  The test handler, run by the host in the
 * middle of the old call, plays that guest.
 */
#define HC_TEST_RELOAD	15	/* unused number: the handler under test */

enum reload_mode { RELOAD_IDLE, RELOAD_REISSUE, RELOAD_WANT_IRQ };
static enum reload_mode reload_mode;

static long hc_test_reload(struct guest *rg, const uint64_t args[VPV_HC_NR_ARGS])
{
	struct vpv_hc_slot *s = &rg->slots[0];
	uint32_t want = VPV_SLOT_PENDING;

	(void)args;
	switch (reload_mode) {
	case RELOAD_WANT_IRQ:	/* an honest guest going to sleep */
		__atomic_compare_exchange_n(&s->state, &want,
					    VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ,
					    false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
		break;
	case RELOAD_REISSUE:
		__atomic_store_n(&s->state, VPV_SLOT_IDLE, __ATOMIC_RELEASE);
		s->nr = VPV_HC_NOP;
		s->args[0] = 42;
		s->ret = 0;
		s->seq = 2;
		/* release: the new call before its PENDING */
		__atomic_store_n(&s->state, VPV_SLOT_PENDING, __ATOMIC_RELEASE);
		break;
	case RELOAD_IDLE:
		__atomic_store_n(&s->state, VPV_SLOT_IDLE, __ATOMIC_RELEASE);
		break;
	}
	return 1000;
}

static void test_stale(void)
{
	int irq = g.guest_ev[VPV_VEC_HCALL];
	uint64_t stale = g.stats.hcall_stale;

	hc_register(HC_TEST_RELOAD, "test_reload", hc_test_reload);
	ev_count(irq);

	reload_mode = RELOAD_REISSUE;
	set_slot(0, VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ, HC_TEST_RELOAD, 0, 1);
	is(hc_process_slots(&g), 0, "stale: old result not delivered");
	is(g.slots[0].state, VPV_SLOT_PENDING, "stale: new call left pending");
	is(g.stats.hcall_stale, stale + 1, "stale: counted");
	is(ev_count(irq), 0, "stale: no interrupt for a dropped result");
	is(hc_process_slots(&g), 1, "stale: new call runs on the next scan");
	ok(g.slots[0].state == VPV_SLOT_DONE && g.slots[0].ret == 42 &&
	   g.slots[0].done_seq == 2, "stale: new call completed with its result");

	reload_mode = RELOAD_IDLE;
	set_slot(0, VPV_SLOT_PENDING, HC_TEST_RELOAD, 0, 3);
	is(hc_process_slots(&g), 0, "reset slot: result dropped");
	is(g.slots[0].state, VPV_SLOT_IDLE, "reset slot: stays IDLE");
	is(g.stats.hcall_stale, stale + 2, "reset slot: counted");

	reload_mode = RELOAD_WANT_IRQ;
	set_slot(0, VPV_SLOT_PENDING, HC_TEST_RELOAD, 0, 4);
	is(hc_process_slots(&g), 1, "WANT_IRQ added during the call: completed");
	ok(g.slots[0].state == VPV_SLOT_DONE && g.slots[0].ret == 1000 &&
	   g.slots[0].done_seq == 4, "WANT_IRQ added: result delivered");
	is(ev_count(irq), 1, "WANT_IRQ added: guest interrupted");
	is(g.stats.hcall_stale, stale + 2, "WANT_IRQ added: not stale");
}

/* A reloaded driver's NEGOTIATE cancels its predecessor's pending calls. */
static void set_negotiate(unsigned int i, uint64_t flags, uint64_t seq)
{
	set_slot(i, VPV_SLOT_PENDING, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, seq);
	g.slots[i].args[1] = VPV_HOST_FEATURES;
	g.slots[i].args[2] = flags;
}

static void test_cancel(void)
{
	uint64_t cancelled = g.stats.hcall_cancelled;
	int irq = g.guest_ev[VPV_VEC_HCALL];

	ev_count(irq);
	set_slot(0, VPV_SLOT_PENDING, VPV_HC_NOP, 5, 10);
	set_negotiate(1, VPV_NEGOTIATE_CANCEL_SLOTS, 11);
	set_slot(2, VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ, VPV_HC_NOP, 6, 12);
	set_slot(3, VPV_SLOT_IDLE, VPV_HC_NOP, 7, 13);
	is(hc_process_slots(&g), 3, "cancel: three slots completed");
	ok(g.slots[0].state == VPV_SLOT_DONE && g.slots[0].ret == 5,
	   "cancel: a slot scanned before the NEGOTIATE ran");
	is(g.slots[1].state, VPV_SLOT_DONE, "cancel: NEGOTIATE done");
	ok(g.slots[1].ret >= 0, "cancel: NEGOTIATE succeeded");
	ok(g.slots[2].state == VPV_SLOT_DONE &&
	   g.slots[2].ret == -VPV_ECANCELED && g.slots[2].done_seq == 12,
	   "cancel: a later pending slot completed ECANCELED, not run");
	is(ev_count(irq), 1, "cancel: its WANT_IRQ answered");
	is(g.slots[3].state, VPV_SLOT_IDLE, "cancel: IDLE slot untouched");
	is(g.stats.hcall_cancelled, cancelled + 1, "cancel: counted");

	set_negotiate(0, 0, 20);
	set_slot(1, VPV_SLOT_PENDING, VPV_HC_NOP, 8, 21);
	is(hc_process_slots(&g), 2, "no flag: both run");
	is(g.slots[1].ret, 8, "no flag: other slot ran");
	set_negotiate(0, 2, 22);
	is(hc_process_slots(&g), 1, "unknown flag: completed");
	is(g.slots[0].ret, -VPV_EINVAL, "unknown NEGOTIATE flag -> EINVAL");
}

static void test_ping(void)
{
	int irq = g.guest_ev[VPV_VEC_HCALL];
	uint64_t pings = g.stats.raw_pings;

	ev_count(irq);
	g.hdr->raw_ping = 5;
	hc_doorbell(&g, VPV_VEC_HCALL);
	is(g.hdr->raw_pong, 5, "raw pong copies ping");
	is(ev_count(irq), 0, "ping without bit 31: no interrupt");
	g.hdr->raw_ping = 0x80000006;
	hc_doorbell(&g, VPV_VEC_HCALL);
	is(g.hdr->raw_pong, 6, "raw pong masks bit 31");
	is(ev_count(irq), 1, "ping with bit 31 rings the guest");
	is(g.stats.raw_pings, pings + 2, "raw pings counted");
}

static void test_thread(void)
{
	uint64_t one = 1;
	int irq = g.guest_ev[VPV_VEC_HCALL];

	g.hdr->raw_ping = 0;
	ev_count(irq);
	ok(hc_thread_start(&g) == 0, "hypercall thread starts");
	set_slot(1, VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ, VPV_HC_NOP, 77, 5);
	ok(write(g.host_ev[VPV_VEC_HCALL], &one, 8) == 8, "ring host vec 0");
	ok(wait_readable(irq, 5000), "thread completes and interrupts");
	is(g.slots[1].ret, 77, "thread ran the NOP");
	is(__atomic_load_n(&g.slots[1].state, __ATOMIC_ACQUIRE),
	   VPV_SLOT_DONE, "thread set DONE");
	hc_thread_stop(&g);
	ok(!g.thread_running, "hypercall thread stops");
}

/*
 * The slot protocol against the real hypercall thread, as the guest
 * driver runs it (hypercall/hcall.c): publish PENDING, ring, spin a
 * little, then cmpxchg WANT_IRQ and wait for the completion interrupt.
 * The spin varies from none to long so that the doorbell, the host's
 * scan and its xchg to DONE land on every side of the guest's steps.
 * A doorbell the thread loses (it must consume the eventfd before it
 * scans), or a WANT_IRQ it does not answer, leaves a call waiting:
 * each gets RACE_WAIT_MS, far above any honest completion time.
 */
#define RACE_CALLS	20000
#define RACE_WAIT_MS	2000

static bool race_call(struct guest *rg, unsigned int i, unsigned int *irqs)
{
	struct vpv_hc_slot *s = &rg->slots[i % rg->nr_slots];
	uint32_t want = VPV_SLOT_PENDING, st;
	unsigned int n, spin = (i * 7) % 64;
	uint64_t one = 1;

	__atomic_store_n(&s->nr, VPV_HC_NOP, __ATOMIC_RELAXED);
	__atomic_store_n(&s->args[0], i, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, i, __ATOMIC_RELAXED);
	/* release: nr, args and seq before the host can see PENDING */
	__atomic_store_n(&s->state, VPV_SLOT_PENDING, __ATOMIC_RELEASE);
	if (write(rg->host_ev[VPV_VEC_HCALL], &one, sizeof(one)) < 0)
		return false;
	for (n = 0; n < spin * 16; n++)
		/* acquire: pairs with the host's xchg to DONE */
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) ==
		    VPV_SLOT_DONE)
			goto done;
	/* full barrier, atomic against the host's xchg: it rings, or we see DONE */
	if (__atomic_compare_exchange_n(&s->state, &want,
					VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ,
					false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST)) {
		if (!wait_readable(rg->guest_ev[VPV_VEC_HCALL], RACE_WAIT_MS))
			return false;
		ev_count(rg->guest_ev[VPV_VEC_HCALL]);
		(*irqs)++;
	}
done:
	/* acquire: ret and done_seq of the host are visible */
	st = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
	if (st != VPV_SLOT_DONE || s->ret != (int64_t)i || s->done_seq != i)
		return false;
	/* release: ret and done_seq are read before the slot is reused */
	__atomic_store_n(&s->state, VPV_SLOT_IDLE, __ATOMIC_RELEASE);
	return true;
}

static void test_race(void)
{
	unsigned int i, irqs = 0;
	struct guest rg;

	test_guest(&rg, 64ull << 20, 1);
	ok(hc_thread_start(&rg) == 0, "race: hypercall thread starts");
	for (i = 1; i <= RACE_CALLS; i++)
		if (!race_call(&rg, i, &irqs))
			break;
	is(i, RACE_CALLS + 1, "race: every call completed, none lost");
	printf("# race: %u calls, %u completion interrupts\n", i - 1, irqs);
	ok(irqs > 0 && irqs < RACE_CALLS,
	   "race: calls completed both spinning and by interrupt");
	hc_thread_stop(&rg);
	guest_destroy(&rg);
}

int main(void)
{
	test_dir_make();
	test_guest(&g, 64ull << 20, 4);
	test_header();
	test_slot_bounds();
	test_core();
	test_slots();
	test_stale();
	test_cancel();
	test_ping();
	test_thread();
	test_race();
	guest_destroy(&g);
	test_dir_remove();
	return tap_done();
}
