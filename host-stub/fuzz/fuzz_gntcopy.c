// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: grant-copy arrays (VPV_HC_GRANT_TABLE_OP) between two
 * guests with real RAM.  The input: a byte for count, 16 grant entries
 * for each guest (refs 8..23), a byte choosing frames to balloon out,
 * then the copy array as the caller A writes it into its RAM.  Domids
 * and refs in the array are folded into small ranges so they often
 * name real guests and granted references.  Invariants: the call
 * returns -VPV_E* or the number of statuses that are 0; every status
 * is a documented one; afterwards nothing is mapped, no frame is
 * pinned, no READING/WRITING bit is left, and the P2M is consistent.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"

#define ARR		0x10000ull	/* A's copy array */
#define NR_ENT		16		/* seeded entries per guest */
#define FIRST_REF	VPV_GNTTAB_RESERVED
#define RAM		(8u << 20)

static struct guest ga, gb;

/* RAM in a memfd, as vpv-host has it: nothing left behind */
static void guest_up(struct guest *g, const char *name)
{
	const uint64_t neg[VPV_HC_NR_ARGS] = { VPV_ABI_VERSION,
					       VPV_HOST_FEATURES };

	if (guest_init(g, name, RAM, 1, VPV_SHM_MIN_SIZE, NULL))
		abort();
	hc_dispatch(g, VPV_HC_NEGOTIATE, neg);
}

static void setup(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	hc_init();
	guest_up(&ga, "ga");
	guest_up(&gb, "gb");
}

static struct vpv_grant_entry *tab(struct guest *g)
{
	return (struct vpv_grant_entry *)(g->shm + VPV_GNTTAB_OFFSET);
}

/* entries from the input; frames small so most are in RAM */
static void seed(struct guest *g, const uint8_t *in)
{
	struct vpv_grant_entry *t = tab(g);
	unsigned int i;

	memset(t, 0, (FIRST_REF + NR_ENT) * sizeof(*t));
	for (i = 0; i < NR_ENT; i++, in += 4) {
		t[FIRST_REF + i].frame = in[2] | (in[3] & 0x0f) << 8 |
					 (in[3] & 0x80 ? 0xfff000u : 0);
		if (t[FIRST_REF + i].frame == ARR >> 12)	/* see fold() */
			t[FIRST_REF + i].frame++;
		t[FIRST_REF + i].domid = in[1] % 4;
		t[FIRST_REF + i].flags = in[0] & (VPV_GTF_PERMIT_ACCESS |
						  VPV_GTF_READONLY);
	}
}

/*
 * Mostly small domids, refs near the seeded ones and GPAs near RAM
 * (raw values when the top bit is set).  A's array page and its
 * neighbours are never a destination: statuses are written there after
 * the copies, so a copy into them would garble what is checked.
 */
static void fold(struct vpv_gnttab_copy_ptr *p, bool gref)
{
	bool raw = p->gpa_or_ref >> 63;

	p->domid %= 4;
	if (raw)
		return;
	if (gref) {
		p->gpa_or_ref %= FIRST_REF + NR_ENT + 2;
		return;
	}
	p->gpa_or_ref %= 2ull * RAM;
	if (p->gpa_or_ref + VPV_PAGE_SIZE > ARR &&
	    p->gpa_or_ref < ARR + 2 * VPV_PAGE_SIZE)
		p->gpa_or_ref += 3 * VPV_PAGE_SIZE;
}

static void check_clean(struct guest *g)
{
	struct vpv_grant_entry *t = tab(g);
	unsigned int i;
	uint32_t mfn;
	unsigned int pins;

	if (grant_nr_mapped(g))
		abort();
	for (i = 0; i < FIRST_REF + NR_ENT; i++) {
		if (t[i].flags & (VPV_GTF_READING | VPV_GTF_WRITING))
			abort();
		if (!mem_p2m_lookup(g, t[i].frame, &mfn, &pins) && pins)
			abort();
	}
}

static bool status_ok(int64_t st)
{
	return !st || st == -VPV_EINVAL || st == -VPV_EPERM ||
	       st == -VPV_ENOENT || st == -VPV_EFAULT || st == -VPV_EBUSY ||
	       st == -VPV_EAGAIN;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct vpv_gnttab_copy ops[VPV_GNTTAB_COPY_MAX];
	const size_t hdr = 2 + 2 * 4 * NR_ENT;
	uint64_t args[VPV_HC_NR_ARGS] = { VPV_GNTTABOP_COPY, ARR };
	size_t n, i;
	long ret, good = 0;

	setup();
	if (size < hdr)
		return 0;
	n = data[0] % (VPV_GNTTAB_COPY_MAX + 2);
	seed(&ga, data + 2);
	seed(&gb, data + 2 + 4 * NR_ENT);
	memset(ops, 0, sizeof(ops));
	memcpy(ops, data + hdr, size - hdr < sizeof(ops) ? size - hdr :
	       sizeof(ops));
	for (i = 0; i < VPV_GNTTAB_COPY_MAX; i++) {
		fold(&ops[i].source, ops[i].flags & VPV_GNTCOPY_SOURCE_GREF);
		fold(&ops[i].dest, ops[i].flags & VPV_GNTCOPY_DEST_GREF);
		ops[i].status = 1;	/* must be overwritten */
	}
	gpa_write(&ga, ARR, ops, sizeof(ops));
	args[2] = n;
	args[1] = data[1] & 1 ? ARR + 4 : ARR;	/* misaligned sometimes */
	ret = hc_dispatch(&ga, VPV_HC_GRANT_TABLE_OP, args);
	gpa_read(&ga, ARR, ops, sizeof(ops));
	if (ret >= 0) {
		if ((size_t)ret > n)
			abort();
		for (i = 0; i < n; i++) {
			if (!status_ok(ops[i].status))
				abort();
			good += !ops[i].status;
		}
		if (good != ret)
			abort();
	}
	check_clean(&ga);
	check_clean(&gb);
	if (mem_check())
		abort();
	return 0;
}
