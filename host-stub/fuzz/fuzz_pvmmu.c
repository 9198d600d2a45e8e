// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the PV MMU (VPV_HC_MMU_UPDATE, VPV_HC_MMUEXT_OP) with the
 * request arrays and the contents of the pages the guest pins as page
 * tables taken from the input.  Each input is a little program run on a
 * fresh 4 MiB guest; op byte: low 3 bits the step, the rest its variant:
 *   0 fill a page with PTEs (a future table), 1 MMU_UPDATE batch,
 *   2 MMUEXT batch (PIN/UNPIN), 3 the guest scribbles on a page
 *   (pinned tables included), 4 the 1 s audit, 5/6 balloon DECREASE/
 *   INCREASE of a page, 7 NEGOTIATE (a new session unpins everything).
 * PTE values and pointers are mostly built to be valid (PFN wrapped
 * into RAM, a table page and an entry index), sometimes raw.
 * After each step: results documented, done within count, the PV MMU's
 * reference and pin counts equal those recomputed from its shadows, no
 * pinned table mapped writable, the audit leaves RAM equal to the
 * shadows (A/D bits aside), mem_check() passes.  At the end no pin may
 * be left (fuzz_guest.h).
 */
#include "fuzz_guest.h"

#define ARR_PAGE	1000u	/* the request array: a page of its own */
#define DONE_GPA	(1001u << 12)
#define MAX_REQ		(VPV_MMU_UPDATE_MAX + 2)	/* a few for E2BIG */

static struct guest fg;

static long hc3(uint32_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { a0, a1, a2 };

	return hc_dispatch(&fg, nr, args);
}

/* A PTE: 3 bytes -> a frame in RAM with flags, or 8 raw bytes. */
static uint64_t pte_from(struct fz *f, bool raw)
{
	static const uint64_t flag[8] = {
		VPV_PTE_PRESENT, VPV_PTE_RW, VPV_PTE_USER, VPV_PTE_ACCESSED,
		VPV_PTE_DIRTY, VPV_PTE_NX, VPV_PTE_GLOBAL, 1ull << 7,
	};
	uint64_t v = 0;
	uint8_t b;
	int i;

	if (raw)
		return fz_u64(f);
	b = fz_u8(f);
	if (!b)
		return 0;
	for (i = 0; i < 8; i++)
		if (b & (1u << i))
			v |= flag[i];
	return v | (uint64_t)(fz_u16(f) % FZ_PAGES) << 12;
}

/* 0: n entries (index, PTE) written into a page */
static void step_fill(struct fz *f, uint8_t v)
{
	uint64_t *pt = (uint64_t *)(fg.ram + (fz_u16(f) % FZ_PAGES) * 4096ull);
	unsigned int n = fz_u8(f), i;

	for (i = 0; i < n; i++) {
		unsigned int e = fz_u16(f) % PVMMU_PTES;

		pt[e] = pte_from(f, v & 1);
	}
}

static void step_update(struct fz *f, uint8_t v, bool ext)
{
	static struct vpv_mmu_update u[MAX_REQ];
	uint64_t count = fz_u16(f) % MAX_REQ, gpa = ARR_PAGE << 12, i;
	uint64_t done_gpa = DONE_GPA, *done = (uint64_t *)(fg.ram + DONE_GPA);
	long ret;

	if (v & 1)
		gpa = fz_u64(f);
	if (v & 2)
		done_gpa = fz_u64(f);
	for (i = 0; i < count; i++) {
		if (ext) {
			struct vpv_mmuext_op *x = (void *)&u[i];
			uint8_t c = fz_u8(f);

			x->cmd = c & 1;
			x->pad = 0;
			if (c & 0x80) {
				x->cmd = c;
				x->pad = fz_u8(f);
			}
			x->pfn = c & 0x40 ? fz_u64(f) : fz_u16(f) % FZ_PAGES;
			continue;
		}
		u[i].ptr = (fz_u16(f) % FZ_PAGES) << 12 |
			   (fz_u16(f) % PVMMU_PTES) * 8;
		if (v & 4)
			u[i].ptr = fz_u64(f);
		u[i].val = pte_from(f, v & 8);
	}
	if (gpa % 8 == 0 && gpa < FZ_RAM && count * 16 <= FZ_RAM - gpa)
		memcpy(fg.ram + gpa, u, count * 16);
	*done = UINT64_MAX;
	ret = hc3(ext ? VPV_HC_MMUEXT_OP : VPV_HC_MMU_UPDATE, gpa, count,
		  done_gpa);
	FZ_CHECK(fz_errno_ok(ret));
	FZ_CHECK(ret <= 0);
	if (done_gpa == DONE_GPA) {
		FZ_CHECK(*done <= count);
		FZ_CHECK(ret < 0 || *done == count);
	}
}

/* 3: the guest writes a page behind the host's back */
static void step_scribble(struct fz *f, uint8_t v)
{
	uint64_t *pt = (uint64_t *)(fg.ram + (fz_u16(f) % FZ_PAGES) * 4096ull);
	unsigned int e = fz_u16(f) % PVMMU_PTES;

	pt[e] = pte_from(f, v & 1);
}

/* 4: after an audit every pinned table reads as its shadow */
static FZ_NOCOV void step_audit(void)
{
	struct guest_pvmmu *mm = &fg.mmu;
	uint32_t t;
	unsigned int e;

	pvmmu_audit(&fg);
	for (t = 0; t < mm->nr_tables; t++) {
		const struct pvmmu_table *tb = mm->tables[t];
		const uint64_t *ram = (uint64_t *)(fg.ram + tb->idx * 4096ull);

		for (e = 0; e < PVMMU_PTES; e++) {
			uint64_t d = ram[e] ^ tb->pte[e];

			if (tb->pte[e] & VPV_PTE_PRESENT)
				d &= ~(VPV_PTE_ACCESSED | VPV_PTE_DIRTY);
			FZ_CHECK(!d);
		}
	}
}

/* 5, 6: the balloon takes or gives back one page */
static void step_balloon(struct fz *f, bool decrease)
{
	uint64_t pfn = fz_u16(f) % FZ_PAGES, idx = pfn;
	uint64_t *arr = (uint64_t *)(fg.ram + (ARR_PAGE << 12));
	const uint64_t args[VPV_HC_NR_ARGS] = {
		decrease ? VPV_MEMOP_DECREASE : VPV_MEMOP_INCREASE,
		ARR_PAGE << 12, 1, VPV_MEMOP_ORDER_4K,
	};
	bool pinned = fg.mem.pins[idx];
	long ret;

	*arr = pfn;
	ret = hc_dispatch(&fg, VPV_HC_MEMORY_OP, args);
	FZ_CHECK(fz_errno_ok(ret));
	if (decrease && pinned)
		FZ_CHECK(ret == -VPV_EBUSY || ret == -VPV_ENOENT);
}

static void step(struct fz *f, uint8_t op)
{
	const uint64_t neg[VPV_HC_NR_ARGS] = { VPV_ABI_VERSION,
					       VPV_HOST_FEATURES };

	switch (op & 7) {
	case 0:
		step_fill(f, op >> 3);
		break;
	case 1:
	case 2:
		step_update(f, op >> 3, (op & 7) == 2);
		break;
	case 3:
		step_scribble(f, op >> 3);
		break;
	case 4:
		step_audit();
		break;
	case 5:
	case 6:
		step_balloon(f, (op & 7) == 5);
		break;
	case 7:
		FZ_CHECK(hc_dispatch(&fg, VPV_HC_NEGOTIATE, neg) ==
			 (long)VPV_HOST_FEATURES);
		FZ_CHECK(pvmmu_nr_tables(&fg) == 0 && !fg.mem.pinned);
		break;
	}
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	int steps = 0;

	fz_guest_new(&fg);
	while (f.n && steps++ < 64) {
		step(&f, fz_u8(&f));
		fz_check_pvmmu(&fg, true);
		FZ_CHECK(mem_check() == 0);
	}
	fz_guest_end(&fg);
	return 0;
}
