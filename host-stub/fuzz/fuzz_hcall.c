// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the hypercall slots of the shared region
 * (hc_process_slots()), the way the guest fills them: each input is a
 * little program run on a fresh guest of FZ_SMP vCPUs (and their
 * slots, one more than vCPUs).  Op byte, low
 * bit: 0 writes a chunk of the input into guest RAM (data for the
 * hypercalls' pointers), 1 fills every slot (state, number, arguments,
 * seq; mostly PENDING, small numbers and arguments) and rings the
 * doorbell.  Every hypercall is reachable, with every argument.
 * After each doorbell: every PENDING slot (WANT_IRQ or not) is DONE
 * with its seq echoed and a documented result, one completion
 * interrupt per WANT_IRQ, other slots untouched, the count returned
 * right; mem_check() passes; at the end the guest tears down with no
 * pin or grant map left (fuzz_guest.h).
 */
#include "fuzz_guest.h"

static struct guest fg;

static void step_ram(struct fz *f)
{
	uint64_t off = (fz_u16(f) % FZ_PAGES) * 4096ull + fz_u16(f) % 4096;
	size_t len = fz_u8(f);

	if (len > FZ_RAM - off)
		len = FZ_RAM - off;
	fz_bytes(f, fg.ram + off, len);
}

static void slot_fill(struct fz *f, struct vpv_hc_slot *s)
{
	uint8_t b = fz_u8(f);
	int a;

	s->state = b & 1 ? VPV_SLOT_PENDING : VPV_SLOT_IDLE;
	if (b & 2)
		s->state |= VPV_SLOT_WANT_IRQ;
	if (b & 4)
		s->state = fz_u64(f);
	s->nr = b & 8 ? (uint32_t)fz_u64(f) : (b >> 4) % (VPV_HC_STORE_OP + 2);
	for (a = 0; a < VPV_HC_NR_ARGS; a++) {
		uint8_t k = fz_u8(f);

		/* small, a page address, or anything */
		s->args[a] = k < 0x80 ? k : k < 0xc0 ?
			     (fz_u16(f) % FZ_PAGES) << 12 : fz_u64(f);
	}
	s->seq = fz_u64(f);
	s->ret = 0x5a5a;
	s->done_seq = ~s->seq;
}

static void step_slots(struct fz *f)
{
	struct vpv_hc_slot before[VPV_MAX_SLOTS];
	unsigned int i, pending = 0, irqs = 0, done;
	uint64_t c0 = STAT_GET(&fg, completion_irqs);

	FZ_CHECK(fg.nr_slots == guest_nr_slots(FZ_SMP));
	for (i = 0; i < fg.nr_slots; i++) {
		slot_fill(f, &fg.slots[i]);
		before[i] = fg.slots[i];
		if ((before[i].state & VPV_SLOT_STATE_MASK) == VPV_SLOT_PENDING) {
			pending++;
			irqs += !!(before[i].state & VPV_SLOT_WANT_IRQ);
		}
	}
	done = hc_process_slots(&fg);
	FZ_CHECK(done == pending);
	FZ_CHECK(STAT_GET(&fg, completion_irqs) == c0 + irqs);
	for (i = 0; i < fg.nr_slots; i++) {
		const struct vpv_hc_slot *s = &fg.slots[i];

		if ((before[i].state & VPV_SLOT_STATE_MASK) !=
		    VPV_SLOT_PENDING) {
			FZ_CHECK(!memcmp(s, &before[i], sizeof(*s)));
			continue;
		}
		FZ_CHECK(s->state == VPV_SLOT_DONE);
		FZ_CHECK(s->done_seq == before[i].seq);
		FZ_CHECK(fz_errno_ok(s->ret));
	}
	FZ_CHECK(mem_check() == 0);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	int steps = 0;

	fz_guest_new(&fg);
	while (f.n && steps++ < 32) {
		if (fz_u8(&f) & 1)
			step_slots(&f);
		else
			step_ram(&f);
	}
	fz_guest_end(&fg);
	return 0;
}
