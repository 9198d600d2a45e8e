// SPDX-License-Identifier: GPL-2.0
/* Grant tables: grant_map/unmap enforcement, in-use marking, pins, copy. */
#include "testutil.h"

#define ARR		0x10000ull	/* arrays in guest RAM */
#define DATA_PFN	0x100ull
#define RO_PFN		0x101ull
#define RW_PFN		0x102ull
#define BALLOON_PFN	0x103ull

static struct guest ga, gb;

static struct vpv_grant_entry *gent(struct guest *g, uint32_t ref)
{
	return test_gent(g, ref);
}

/* the guest's end access: cmpxchg flags from PERMIT[|RO] to 0 */
static bool end_access(struct guest *g, uint32_t ref, uint16_t flags)
{
	uint16_t old = flags;

	return __atomic_compare_exchange_n(&gent(g, ref)->flags, &old, 0,
					   false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST);
}

static void test_map(void)
{
	struct grant_map m1, m2, m3;
	uint32_t mfn;
	unsigned int pins;
	uint64_t pfn;

	test_grant_to(&ga, 8, VPV_DOMID_HOST, RO_PFN,
		      VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	test_grant_to(&ga, 9, VPV_DOMID_HOST, RW_PFN, VPV_GTF_PERMIT_ACCESS);
	is(grant_map(&ga, 8, VPV_DOMID_HOST, false, &m1), 0, "map RO grant read-only");
	ok(m1.ptr == ga.ram + RO_PFN * 4096, "map points at the frame");
	ok(gent(&ga, 8)->flags & VPV_GTF_READING, "READING set while mapped");
	is(grant_map(&ga, 8, VPV_DOMID_HOST, true, &m2), -VPV_EPERM,
	   "writable map of a READONLY grant -> EPERM");
	ok(!end_access(&ga, 8, VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY),
	   "guest end access refused while mapped");
	is(grant_map(&ga, 8, VPV_DOMID_HOST, false, &m2), 0, "second map of the same ref");
	mem_p2m_lookup(&ga, RO_PFN, &mfn, &pins);
	is(pins, 2, "each map pins the frame");
	grant_unmap(&m1);
	ok(gent(&ga, 8)->flags & VPV_GTF_READING,
	   "READING stays until the last unmap");
	grant_unmap(&m2);
	ok(!(gent(&ga, 8)->flags & VPV_GTF_READING), "READING cleared at last unmap");
	mem_p2m_lookup(&ga, RO_PFN, &mfn, &pins);
	is(pins, 0, "unmap unpins");
	ok(end_access(&ga, 8, VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY),
	   "guest end access succeeds after unmap");
	is(grant_map(&ga, 8, VPV_DOMID_HOST, false, &m1), -VPV_EPERM,
	   "ended grant -> EPERM");

	is(grant_map(&ga, 9, VPV_DOMID_HOST, true, &m3), 0, "map RW grant writable");
	ok(gent(&ga, 9)->flags & VPV_GTF_WRITING, "WRITING set");
	m3.ptr[5] = 0x5a;
	is(ga.ram[RW_PFN * 4096 + 5], 0x5a, "write through the map lands in RAM");
	pfn = RW_PFN;
	gpa_write(&ga, ARR, &pfn, sizeof(pfn));
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ARR, 1, 0),
	   -VPV_EBUSY, "balloon DECREASE of a mapped frame -> EBUSY");
	grant_unmap(&m3);
	ok(!(gent(&ga, 9)->flags & VPV_GTF_WRITING), "WRITING cleared");

	is(grant_map(&ga, 0, VPV_DOMID_HOST, false, &m1), -VPV_EPERM, "ref 0 reserved");
	test_grant_to(&ga, 7, VPV_DOMID_HOST, RO_PFN, VPV_GTF_PERMIT_ACCESS);
	is(grant_map(&ga, 7, VPV_DOMID_HOST, false, &m1), -VPV_EPERM, "ref 7 reserved");
	is(grant_map(&ga, 8192, VPV_DOMID_HOST, false, &m1), -VPV_EPERM,
	   "ref >= gnttab_nr -> EPERM");
	test_grant_to(&ga, 10, VPV_DOMID_HOST, RO_PFN, 0);
	is(grant_map(&ga, 10, VPV_DOMID_HOST, false, &m1), -VPV_EPERM,
	   "no PERMIT_ACCESS -> EPERM");
	test_grant_to(&ga, 10, 5, RO_PFN, VPV_GTF_PERMIT_ACCESS);
	is(grant_map(&ga, 10, VPV_DOMID_HOST, false, &m1), -VPV_EPERM,
	   "granted to another domain -> EPERM");
	test_grant_to(&ga, 10, VPV_DOMID_HOST, 0xfffffff0u, VPV_GTF_PERMIT_ACCESS);
	is(grant_map(&ga, 10, VPV_DOMID_HOST, false, &m1), -VPV_EINVAL,
	   "frame outside RAM -> EINVAL");
	ok(!(gent(&ga, 10)->flags & VPV_GTF_READING),
	   "failed map leaves no in-use bit");
	pfn = BALLOON_PFN;
	gpa_write(&ga, ARR, &pfn, sizeof(pfn));
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ARR, 1, 0), 1,
	   "balloon out a frame");
	test_grant_to(&ga, 10, VPV_DOMID_HOST, BALLOON_PFN, VPV_GTF_PERMIT_ACCESS);
	is(grant_map(&ga, 10, VPV_DOMID_HOST, false, &m1), -VPV_ENOENT,
	   "frame not populated -> ENOENT");
	ok(STAT_GET(&ga, grant_errors) >= 8, "grant_errors counted");
	ok(STAT_GET(&ga, grants_mapped) >= 3, "grants_mapped counted");
	is(grant_nr_mapped(&ga), 0, "nothing left mapped");
}

/*
 * A back-end's batch: GRANT_BATCH_MAX maps, then as many unmaps, each
 * as one hold of mem_lock (each map or unmap on its own took it once
 * and read the thread's CPU clock twice: with 256 per 1 MiB block
 * request that was most of the core's time, Documentation/benchmarks.rst)
 * and with the same effects as grant_map()/grant_unmap().
 */
static void test_batch(void)
{
	static struct grant_map m[GRANT_BATCH_MAX];
	uint32_t i, mfn, bad = 0;
	unsigned int pins, pinned = 0;
	uint64_t h0, mapped0 = STAT_GET(&ga, grants_mapped);
	int ret = 0;

	for (i = 0; i < GRANT_BATCH_MAX; i++)
		test_grant_to(&ga, 100 + i, VPV_DOMID_HOST, 0x200 + i,
			      VPV_GTF_PERMIT_ACCESS);
	test_grant_to(&ga, 100 + 7, 5, 0x207, VPV_GTF_PERMIT_ACCESS);	/* not ours */
		      h0 = mem_lock_holds();
	grant_batch_begin(&ga);
	for (i = 0; i < GRANT_BATCH_MAX; i++) {
		ret = grant_map_locked(&ga, 100 + i, VPV_DOMID_HOST, i & 1,
				       &m[i]);
		if (ret != (i == 7 ? -VPV_EPERM : 0))
			bad++;
	}
	grant_batch_end(&ga);
	is(mem_lock_holds() - h0, 1, "a batch of 256 maps: one mem_lock hold");
	is(bad, 0, "each map's result as grant_map() gives it (one refused)");
	is(STAT_GET(&ga, grants_mapped) - mapped0, GRANT_BATCH_MAX - 1,
	   "the maps counted");
	for (i = 0; i < GRANT_BATCH_MAX; i++) {
		mem_p2m_lookup(&ga, 0x200 + i, &mfn, &pins);
		pinned += pins;
		if (i != 7 && !(gent(&ga, 100 + i)->flags &
				(i & 1 ? VPV_GTF_WRITING : VPV_GTF_READING)))
			bad++;
	}
	is(pinned, GRANT_BATCH_MAX - 1, "each frame pinned once");
	is(bad, 0, "each in-use bit set");
	ok(m[9].ptr == ga.ram + 0x209 * 4096, "a map points at its frame");
	h0 = mem_lock_holds();
	grant_batch_begin(&ga);
	for (i = 0; i < GRANT_BATCH_MAX; i++)
		grant_unmap_locked(&m[i]);	/* m[7]: never mapped, a no-op */
	grant_batch_end(&ga);
	is(mem_lock_holds() - h0, 1, "a batch of 256 unmaps: one mem_lock hold");
	for (i = 0, pinned = 0; i < GRANT_BATCH_MAX; i++) {
		mem_p2m_lookup(&ga, 0x200 + i, &mfn, &pins);
		pinned += pins;
		if (gent(&ga, 100 + i)->flags & (VPV_GTF_READING |
						 VPV_GTF_WRITING))
			bad++;
	}
	is(pinned, 0, "every frame unpinned");
	is(bad, 0, "every in-use bit cleared");
	is(grant_nr_mapped(&ga), 0, "nothing left mapped");
}

static long copy(struct guest *g, struct vpv_gnttab_copy *c, unsigned int n)
{
	long r;

	gpa_write(g, ARR, c, n * sizeof(*c));
	r = call(g, VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY, ARR, n, 0);
	gpa_read(g, ARR, c, n * sizeof(*c));
	return r;
}

static void test_copy(void)
{
	struct vpv_gnttab_copy c[12];
	uint64_t errs_a, errs_b;
	uint8_t buf[16];
	unsigned int i;

	/* gb grants DATA_PFN to ga read-only, RW_PFN writable */
	memset(gb.ram + DATA_PFN * 4096, 0, 4096);
	memcpy(gb.ram + DATA_PFN * 4096 + 100, "hello grant copy", 16);
	test_grant_to(&gb, 20, ga.domid, DATA_PFN,
		      VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	test_grant_to(&gb, 21, ga.domid, RW_PFN, VPV_GTF_PERMIT_ACCESS);
	test_grant_to(&gb, 22, VPV_DOMID_HOST, DATA_PFN, VPV_GTF_PERMIT_ACCESS);

	memset(c, 0, sizeof(c));
	c[0].flags = VPV_GNTCOPY_SOURCE_GREF;
	c[0].source.domid = gb.domid;
	c[0].source.gpa_or_ref = 20;
	c[0].source.offset = 100;
	c[0].dest.gpa_or_ref = 0x200000;
	c[0].len = 16;
	is(copy(&ga, c, 1), 1, "grant copy foreign grant -> own GPA");
	is(c[0].status, 0, "status 0");
	gpa_read(&ga, 0x200000, buf, 16);
	ok(!memcmp(buf, "hello grant copy", 16), "data copied");
	ok(!(gent(&gb, 20)->flags & VPV_GTF_READING), "copy leaves no in-use bit");

	/* own GPA -> foreign writable grant, then grant -> grant */
	memset(c, 0, sizeof(c));
	c[0].flags = VPV_GNTCOPY_DEST_GREF;
	c[0].source.gpa_or_ref = 0x200000;
	c[0].dest.domid = gb.domid;
	c[0].dest.gpa_or_ref = 21;
	c[0].dest.offset = 8;
	c[0].len = 16;
	c[1].flags = VPV_GNTCOPY_SOURCE_GREF | VPV_GNTCOPY_DEST_GREF;
	c[1].source.domid = gb.domid;
	c[1].source.gpa_or_ref = 20;
	c[1].source.offset = 100;
	c[1].dest.domid = gb.domid;
	c[1].dest.gpa_or_ref = 21;
	c[1].dest.offset = 200;
	c[1].len = 5;
	is(copy(&ga, c, 2), 2, "own GPA -> grant and grant -> grant");
	ok(!memcmp(gb.ram + RW_PFN * 4096 + 8, "hello grant copy", 16),
	   "written into the granted frame");
	ok(!memcmp(gb.ram + RW_PFN * 4096 + 200, "hello", 5),
	   "grant to grant copy");

	/* per-copy errors */
	memset(c, 0, sizeof(c));
	for (i = 0; i < 11; i++) {
		c[i].flags = VPV_GNTCOPY_SOURCE_GREF;
		c[i].source.domid = gb.domid;
		c[i].source.gpa_or_ref = 20;
		c[i].dest.gpa_or_ref = 0x200000;
		c[i].len = 8;
	}
	c[0].len = 0;					/* EINVAL */
	c[1].source.offset = 4090;			/* EINVAL */
	c[2].source.domid = 200;			/* ENOENT */
	c[3].source.gpa_or_ref = 3;			/* EPERM reserved */
	c[4].source.gpa_or_ref = 22;			/* EPERM not ours */
	c[5].source.gpa_or_ref = 9000;			/* EPERM range */
	c[6].flags |= VPV_GNTCOPY_DEST_GREF;		/* EPERM RO write */
	c[6].dest.domid = gb.domid;
	c[6].dest.gpa_or_ref = 20;
	c[7].dest.gpa_or_ref = 0xfff00000000ull;	/* EFAULT */
	c[8].source.gpa_or_ref = 23;			/* ENOENT unpopulated */
	test_grant_to(&gb, 23, ga.domid, BALLOON_PFN, VPV_GTF_PERMIT_ACCESS);
	{
		uint64_t pfn = BALLOON_PFN;

		gpa_write(&gb, ARR, &pfn, sizeof(pfn));
		call(&gb, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ARR, 1, 0);
	}
	c[9].flags = 0x80;				/* EINVAL flags */
	errs_a = STAT_GET(&ga, grant_errors);
	errs_b = STAT_GET(&gb, grant_errors);
	is(copy(&ga, c, 11), 1, "copy returns the number that succeeded");
	is(STAT_GET(&ga, grant_errors) - errs_a, 10,
	   "refused copies are charged to the caller");
	is(STAT_GET(&gb, grant_errors), errs_b,
	   "... not to the guest whose grants were named");
	is(c[0].status, -VPV_EINVAL, "len 0 -> EINVAL");
	is(c[1].status, -VPV_EINVAL, "offset + len past the frame -> EINVAL");
	is(c[2].status, -VPV_ENOENT, "no such domid -> ENOENT");
	is(c[3].status, -VPV_EPERM, "reserved ref -> EPERM");
	is(c[4].status, -VPV_EPERM, "ref not granted to the caller -> EPERM");
	is(c[5].status, -VPV_EPERM, "ref out of range -> EPERM");
	is(c[6].status, -VPV_EPERM, "write to READONLY grant -> EPERM");
	is(c[7].status, -VPV_EFAULT, "own GPA outside RAM -> EFAULT");
	is(c[8].status, -VPV_ENOENT, "frame not populated -> ENOENT");
	is(c[9].status, -VPV_EINVAL, "unknown flags -> EINVAL");
	is(c[10].status, 0, "the good one");

	is(call(&ga, VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY, ARR, 0, 0),
	   -VPV_EINVAL, "count 0 -> EINVAL");
	is(call(&ga, VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY, ARR, 65, 0),
	   -VPV_E2BIG, "count 65 -> E2BIG");
	is(call(&ga, VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY,
		0xfff00000000ull, 1, 0), -VPV_EFAULT, "array outside RAM -> EFAULT");
	is(call(&ga, VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY, ARR + 4, 1, 0),
	   -VPV_EFAULT, "misaligned array -> EFAULT");
	is(call(&ga, VPV_HC_GRANT_TABLE_OP, 7, ARR, 1, 0), -VPV_ENOSYS,
	   "unknown GNTTABOP -> ENOSYS");
	ok(STAT_GET(&ga, gnttab_copies) == 4, "gnttab_copies counted");
	is(grant_nr_mapped(&gb), 0, "copies leave nothing mapped");
}

/* GRANT_TABLE_OP needs VPV_F_GRANT negotiated, not only offered. */
static void test_features(void)
{
	struct vpv_gnttab_copy c;

	memset(&c, 0, sizeof(c));
	c.flags = VPV_GNTCOPY_SOURCE_GREF;
	c.source.domid = gb.domid;
	c.source.gpa_or_ref = 20;
	c.dest.gpa_or_ref = 0x200000;
	c.len = 8;
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION,
	     VPV_HOST_FEATURES & ~(uint64_t)VPV_F_GRANT, 0, 0);
	is(copy(&ga, &c, 1), -VPV_EOPNOTSUPP,
	   "grant copy without VPV_F_GRANT negotiated -> EOPNOTSUPP");
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	is(copy(&ga, &c, 1), 1, "... and works once negotiated");
}

int main(void)
{
	test_dir_make();
	test_guest(&ga, 64 << 20, 1);
	test_guest(&gb, 64 << 20, 1);
	ok(ga.domid && gb.domid && ga.domid != gb.domid, "distinct domids");
	is(ga.hdr->domid, ga.domid, "domid in the header");
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	call(&gb, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	test_map();
	test_batch();
	test_copy();
	test_features();
	guest_destroy(&ga);
	guest_destroy(&gb);
	test_dir_remove();
	return tap_done();
}
