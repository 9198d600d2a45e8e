// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: VPV_HC_MEMORY_OP (DECREASE, INCREASE, REPORT_FREE, POLL)
 * with the guest's arrays and balloon statistics taken from the input.
 * Each input is a little program run on a fresh 4 MiB guest:
 *   op byte: low 3 bits the step, the rest its variant;
 *   a call: cmd, count, order, where the array goes, then its entries
 *   (PFNs wrapped into RAM or raw) written into guest RAM;
 *   a pin / unpin of a page, as the PV MMU or a grant would hold it;
 *   the negotiated features, or a host budget below RAM (INCREASE can
 *   hit it, POLL runs the policy with the guest's statistics).
 * After each call: the result is count or a documented error; an error
 * changed nothing (P2M, populated count, pins); a success changed
 * exactly the extents named and they read as zeros; POLL answers a
 * target within RAM; mem_check() passes.  At the end every pin is
 * dropped and the guest torn down (fuzz_guest.h).
 */
#include "fuzz_guest.h"

#define ARR_PAGE	8u	/* default home of the array */
#define STATS_PAGE	4u
#define MAX_ENTRIES	(VPV_MEMOP_MAX_EXTENTS + 4)	/* a few for E2BIG */

static struct guest fg;
static uint32_t p2m_before[FZ_PAGES];
static uint8_t pins_before[FZ_PAGES];
static uint8_t hold[FZ_PAGES];		/* pins the harness holds */

static long memop(uint64_t cmd, uint64_t a1, uint64_t a2, uint64_t a3)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { cmd, a1, a2, a3 };

	return hc_dispatch(&fg, VPV_HC_MEMORY_OP, args);
}

/* read(), not the mapping: reading a hole must not fill it again */
static FZ_NOCOV bool page_zero(uint64_t idx)
{
	static const uint8_t zero[VPV_PAGE_SIZE];
	uint8_t buf[VPV_PAGE_SIZE];

	return pread(fg.ram_fd, buf, sizeof(buf), idx << 12) == sizeof(buf) &&
	       !memcmp(buf, zero, sizeof(buf));
}

/* The extents of a successful call (raw: the array as written). */
static FZ_NOCOV void check_applied(uint64_t cmd, const uint64_t *raw,
				   uint64_t count, uint64_t order,
				   uint64_t before)
{
	uint64_t i, j, n, pfn, total = 0;

	for (i = 0; i < count; i++) {
		if (cmd == VPV_MEMOP_REPORT_FREE) {
			pfn = raw[2 * i] >> 12;
			n = raw[2 * i + 1] >> 12;
		} else {
			pfn = raw[i];
			n = 1ull << order;
		}
		FZ_CHECK(pfn < FZ_PAGES && n <= FZ_PAGES - pfn);
		for (j = pfn; j < pfn + n; j++) {
			bool was = p2m_before[j] != MEM_MFN_INVALID;
			bool is = fg.mem.p2m[j] != MEM_MFN_INVALID;

			FZ_CHECK(!pins_before[j]);
			FZ_CHECK(cmd == VPV_MEMOP_INCREASE ? !was && is :
				 was && is == (cmd == VPV_MEMOP_REPORT_FREE));
			if (cmd != VPV_MEMOP_INCREASE)
				FZ_CHECK(page_zero(j));
		}
		total += n;
	}
	if (cmd == VPV_MEMOP_DECREASE)
		FZ_CHECK(fg.mem.populated == before - total);
	else if (cmd == VPV_MEMOP_INCREASE)
		FZ_CHECK(fg.mem.populated == before + total);
	else
		FZ_CHECK(fg.mem.populated == before);
}

/* One MEMORY_OP call built from the input. */
static void step_call(struct fz *f, uint8_t v)
{
	static uint64_t raw[2 * MAX_ENTRIES];
	uint64_t cmd = v & 3, count, order, gpa, before, i, words;
	long ret;

	count = fz_u16(f) % MAX_ENTRIES;
	order = fz_u8(f);
	order = order & 0x80 ? order : (order & 1) * VPV_MEMOP_ORDER_2M;
	gpa = v & 4 ? fz_u64(f) : ARR_PAGE << 12;
	if (v & 8)
		cmd = fz_u64(f);		/* anything */
	words = cmd == VPV_MEMOP_REPORT_FREE ? 2 * count : count;
	for (i = 0; i < words; i++) {
		uint64_t x = fz_u16(f);

		/* mostly in RAM: a PFN, a range's page-aligned gpa or len */
		if (v & 0x10)
			x = fz_u64(f);
		else if (cmd == VPV_MEMOP_REPORT_FREE)
			x = (i & 1 ? x % 64 + 1 : x % FZ_PAGES) << 12;
		else
			x = (x % FZ_PAGES) & ~((1ull << (order & 15)) - 1);
		raw[i] = x;
	}
	if (cmd == VPV_MEMOP_POLL)
		fz_bytes(f, fg.ram + STATS_PAGE * 4096ull,
			 sizeof(struct vpv_balloon_stats));
	if (words && gpa % 8 == 0 && gpa < FZ_RAM &&
	    words * 8 <= FZ_RAM - gpa)
		memcpy(fg.ram + gpa, raw, words * 8);
	if (cmd == VPV_MEMOP_POLL)
		gpa = v & 4 ? gpa : STATS_PAGE << 12;

	memcpy(p2m_before, fg.mem.p2m, sizeof(p2m_before));
	memcpy(pins_before, fg.mem.pins, sizeof(pins_before));
	before = fg.mem.populated;
	ret = memop(cmd, gpa, count, order);
	FZ_CHECK(fz_errno_ok(ret));
	FZ_CHECK(mem_check() == 0);
	FZ_CHECK(!memcmp(pins_before, fg.mem.pins, sizeof(pins_before)));
	if (ret < 0 || cmd == VPV_MEMOP_POLL) {
		/* all or nothing: an error leaves the P2M as it was */
		FZ_CHECK(!memcmp(p2m_before, fg.mem.p2m, sizeof(p2m_before)));
		FZ_CHECK(fg.mem.populated == before);
		if (cmd == VPV_MEMOP_POLL && ret >= 0)
			FZ_CHECK((uint64_t)ret <= FZ_PAGES);
		return;
	}
	FZ_CHECK((uint64_t)ret == count);
	check_applied(cmd, raw, count, order, before);
}

/* Pin or unpin a page, as another subsystem would. */
static void step_pin(struct fz *f, uint8_t v)
{
	uint64_t pfn = fz_u16(f) % (FZ_PAGES + 8);
	int ret;

	if (v & 8) {
		ret = mem_unpin(&fg, pfn);
		FZ_CHECK(ret == (pfn < FZ_PAGES && hold[pfn] ? 0 : -VPV_EINVAL));
		if (!ret)
			hold[pfn]--;
		return;
	}
	ret = mem_pin(&fg, pfn);
	if (!ret)
		hold[pfn]++;
	else
		FZ_CHECK(ret == -VPV_EINVAL || ret == -VPV_ENOENT ||
			 ret == -VPV_ENOSPC);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	uint64_t i;
	int steps = 0;

	fz_guest_new(&fg);
	memset(hold, 0, sizeof(hold));
	while (f.n && steps++ < 64) {
		uint8_t op = fz_u8(&f);

		switch (op & 7) {
		case 0:
			step_pin(&f, op);
			break;
		case 1:
			if (op & 8)	/* a host budget: POLL runs the policy */
				mem_set_budget(fz_u16(&f) * 4096ull);
			else		/* without 2M / page reporting */
				fg.features = fz_u64(&f) & VPV_HOST_FEATURES;
			break;
		default:
			step_call(&f, op >> 3);
			break;
		}
	}
	for (i = 0; i < FZ_PAGES; i++)
		while (hold[i]--)
			FZ_CHECK(mem_unpin(&fg, i) == 0);
	mem_set_budget(0);
	fz_guest_end(&fg);
	return 0;
}
