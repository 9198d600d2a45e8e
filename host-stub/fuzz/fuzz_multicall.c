// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: VPV_HC_MULTICALL, the entry array in guest RAM taken from
 * the input.  Each input is a little program run on a fresh guest; op
 * byte, low bit: 0 writes a chunk of the input into guest RAM (what
 * the entries' pointers find), 1 builds an array (count, flags, where
 * it goes; each entry's op, flags and arguments, mostly small or page
 * addresses) and makes the call.  Every hypercall is reachable from an
 * entry.  After each call: the result is documented; the results
 * written back are documented; without STOP_ON_ERROR every entry ran;
 * with it, the entries before the returned count succeeded, the last
 * one run failed (if not all ran) and the rest got -VPV_EAGAIN; a
 * nested multicall got -VPV_EINVAL; mem_check() passes; at the end the
 * guest tears down with no pin or grant map left (fuzz_guest.h).
 */
#include "fuzz_guest.h"

#define ARR_PAGE	900u	/* the array: 512 entries fit in 8 pages */
#define MAX_ENTRIES	(VPV_MULTICALL_MAX + 2)	/* a few for E2BIG */

static struct guest fg;
static struct vpv_multicall_entry ents[MAX_ENTRIES];

static void step_ram(struct fz *f)
{
	uint64_t off = (fz_u16(f) % FZ_PAGES) * 4096ull + fz_u16(f) % 4096;
	size_t len = fz_u8(f);

	if (len > FZ_RAM - off)
		len = FZ_RAM - off;
	fz_bytes(f, fg.ram + off, len);
}

static void entry_fill(struct fz *f, struct vpv_multicall_entry *e)
{
	uint8_t b = fz_u8(f);
	int a;

	e->op = b & 0x80 ? (uint32_t)fz_u64(f) : b % (VPV_HC_STORE_OP + 2);
	e->flags = b & 0x40 ? (uint32_t)fz_u64(f) : 0;
	for (a = 0; a < VPV_HC_NR_ARGS; a++) {
		uint8_t k = fz_u8(f);

		e->args[a] = k < 0x80 ? k : k < 0xc0 ?
			     (fz_u16(f) % FZ_PAGES) << 12 : fz_u64(f);
	}
	e->result = 0x5a5a;
}

static FZ_NOCOV void check_results(const struct vpv_multicall_entry *g,
				   uint64_t count, uint64_t flags, long ret)
{
	bool stop = flags & VPV_MC_STOP_ON_ERROR;
	uint64_t i;

	FZ_CHECK((uint64_t)ret <= count);
	FZ_CHECK(stop || (uint64_t)ret == count);
	for (i = 0; i < count; i++) {
		int64_t r = g[i].result;

		FZ_CHECK(fz_errno_ok(r));
		if (i >= (uint64_t)ret) {
			FZ_CHECK(r == -VPV_EAGAIN);
			continue;
		}
		if (ents[i].op == VPV_HC_MULTICALL || ents[i].flags)
			FZ_CHECK(r == -VPV_EINVAL);
		if (stop && i + 1 < (uint64_t)ret)
			FZ_CHECK(r >= 0);
		if (stop && i + 1 == (uint64_t)ret && (uint64_t)ret < count)
			FZ_CHECK(r < 0);
	}
}

static void step_call(struct fz *f)
{
	uint8_t b = fz_u8(f);
	uint64_t count = fz_u16(f) % MAX_ENTRIES, i;
	uint64_t flags = b & 1 ? VPV_MC_STOP_ON_ERROR : 0;
	uint64_t gpa = ARR_PAGE << 12;
	struct vpv_multicall_entry *g = (void *)(fg.ram + gpa);
	long ret;

	if (b & 2)
		flags = fz_u64(f);
	if (b & 4)
		gpa = fz_u64(f);
	for (i = 0; i < count; i++)
		entry_fill(f, &ents[i]);
	if (count * sizeof(ents[0]) <= FZ_RAM - (ARR_PAGE << 12))
		memcpy(g, ents, count * sizeof(ents[0]));
	{
		const uint64_t args[VPV_HC_NR_ARGS] = { gpa, count, flags };

		ret = hc_dispatch(&fg, VPV_HC_MULTICALL, args);
	}
	FZ_CHECK(fz_errno_ok(ret));
	if (ret >= 0 && gpa == ARR_PAGE << 12)
		check_results(g, count, flags, ret);
	FZ_CHECK(mem_check() == 0);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	int steps = 0;

	fz_guest_new(&fg);
	while (f.n && steps++ < 16) {
		if (fz_u8(&f) & 1)
			step_call(&f);
		else
			step_ram(&f);
	}
	fz_guest_end(&fg);
	return 0;
}
