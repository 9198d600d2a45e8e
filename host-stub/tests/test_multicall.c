// SPDX-License-Identifier: GPL-2.0
/* VPV_HC_MULTICALL argument validation and semantics. */
#include "testutil.h"

#define RAM	(64ull << 20)
#define MC_GPA	0x100000ull

static struct guest g;

static struct vpv_multicall_entry *ents(uint64_t gpa)
{
	return gpa_ptr(&g, gpa, sizeof(struct vpv_multicall_entry));
}

static void fill_nops(uint64_t gpa, unsigned int n)
{
	struct vpv_multicall_entry *e = gpa_ptr(&g, gpa, n * sizeof(*e));
	unsigned int i;

	for (i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].op = VPV_HC_NOP;
		e[i].args[0] = i + 1;
		e[i].result = 0x5a5a;
	}
}

static void test_validation(void)
{
	fill_nops(MC_GPA, 513);
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 0, 0, 0), -VPV_EINVAL,
	   "count 0 -> EINVAL");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 513, 0, 0), -VPV_E2BIG,
	   "count 513 -> E2BIG");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, UINT64_MAX, 0, 0), -VPV_E2BIG,
	   "count ~0 -> E2BIG");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 1ull << 32, 0, 0), -VPV_E2BIG,
	   "count 2^32 -> E2BIG (no truncation)");
	is(ents(MC_GPA)[0].result, 0x5a5a, "rejected call wrote nothing");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 1, 2, 0), -VPV_EINVAL,
	   "unknown flag -> EINVAL");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 1, 1ull << 32, 0), -VPV_EINVAL,
	   "flag bit 32 -> EINVAL");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA + 4, 1, 0, 0), -VPV_EFAULT,
	   "gpa 4-aligned -> EFAULT");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA + 1, 1, 0, 0), -VPV_EFAULT,
	   "gpa odd -> EFAULT");
	is(call(&g, VPV_HC_MULTICALL, RAM, 1, 0, 0), -VPV_EFAULT,
	   "gpa at end of RAM -> EFAULT");
	is(call(&g, VPV_HC_MULTICALL, RAM - 64 * 2, 3, 0, 0), -VPV_EFAULT,
	   "array straddling end of RAM -> EFAULT");
	is(call(&g, VPV_HC_MULTICALL, UINT64_MAX - 7, 1, 0, 0), -VPV_EFAULT,
	   "gpa near 2^64 -> EFAULT");
	is(call(&g, VPV_HC_MULTICALL, 1ull << 32, 1, 0, 0), -VPV_EFAULT,
	   "gpa 4G with small RAM -> EFAULT");
	fill_nops(RAM - 64 * 2, 2);
	is(call(&g, VPV_HC_MULTICALL, RAM - 64 * 2, 2, 0, 0), 2,
	   "array ending exactly at end of RAM ok");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA + 8, 1, 0, 0), 1,
	   "8-aligned (not 64-aligned) gpa ok");
}

static void test_counts(void)
{
	struct vpv_multicall_entry *e;
	unsigned int i;
	bool good = true;

	fill_nops(MC_GPA, 512);
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 1, 0, 0), 1, "count 1 -> 1");
	e = ents(MC_GPA);
	is(e[0].result, 1, "count 1 result written");
	is(e[1].result, 0x5a5a, "entry past count untouched");
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 512, VPV_MC_STOP_ON_ERROR, 0),
	   512, "count 512 -> 512");
	e = gpa_ptr(&g, MC_GPA, 512 * sizeof(*e));
	for (i = 0; i < 512; i++)
		good &= e[i].result == i + 1 && e[i].op == VPV_HC_NOP &&
			e[i].args[0] == i + 1;
	ok(good, "all 512 results right, op/args not modified");
}

static void test_errors(void)
{
	struct vpv_multicall_entry *e;
	uint64_t errs;

	fill_nops(MC_GPA, 6);
	e = gpa_ptr(&g, MC_GPA, 6 * sizeof(*e));
	e[1].op = VPV_HC_MULTICALL;
	e[1].args[0] = MC_GPA;
	e[1].args[1] = 6;
	e[2].flags = 1;
	e[3].op = 1000;
	e[4].op = VPV_HC_MEMCHK;	/* len 0 -> EINVAL */
	errs = g.stats.hcall_errors;
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 6, 0, 0), 6,
	   "without STOP_ON_ERROR all 6 run");
	is(e[0].result, 1, "entry 0 ok");
	is(e[1].result, -VPV_EINVAL, "nested multicall -> EINVAL");
	is(e[2].result, -VPV_EINVAL, "entry flags != 0 -> EINVAL");
	is(e[3].result, -VPV_ENOSYS, "entry bad op -> ENOSYS");
	is(e[4].result, -VPV_EINVAL, "entry handler error propagated");
	is(e[5].result, 6, "entry after errors still runs");
	is(g.stats.hcall_errors - errs, 4, "entry errors counted");

	fill_nops(MC_GPA, 6);
	e[2].op = VPV_HC_MULTICALL;
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 6, VPV_MC_STOP_ON_ERROR, 0), 3,
	   "STOP_ON_ERROR returns executed count incl. failed one");
	is(e[0].result, 1, "before failure: result");
	is(e[1].result, 2, "before failure: result 2");
	is(e[2].result, -VPV_EINVAL, "failed entry result");
	is(e[3].result, -VPV_EAGAIN, "after failure -> EAGAIN");
	is(e[5].result, -VPV_EAGAIN, "last -> EAGAIN");

	fill_nops(MC_GPA, 3);
	e[0].flags = 0x80000000;
	is(call(&g, VPV_HC_MULTICALL, MC_GPA, 3, VPV_MC_STOP_ON_ERROR, 0), 1,
	   "STOP_ON_ERROR failing first entry -> 1");
	is(e[1].result, -VPV_EAGAIN, "rest EAGAIN");
}

static void test_via_slot(void)
{
	struct vpv_hc_slot *s = &g.slots[0];
	uint64_t mc = g.stats.multicalls, ent = g.stats.multicall_entries;

	fill_nops(MC_GPA, 4);
	s->nr = VPV_HC_MULTICALL;
	s->args[0] = MC_GPA;
	s->args[1] = 4;
	s->args[2] = 0;
	s->seq = 9;
	__atomic_store_n(&s->state, VPV_SLOT_PENDING, __ATOMIC_RELEASE);
	hc_process_slots(&g);
	is(s->ret, 4, "multicall through a slot");
	is(ents(MC_GPA + 3 * 64)->result, 4, "slot multicall results");
	is(g.stats.multicalls - mc, 1, "multicalls counted");
	is(g.stats.multicall_entries - ent, 4, "entries counted");
}

int main(void)
{
	test_dir_make();
	test_guest(&g, RAM, 1);
	test_validation();
	test_counts();
	test_errors();
	test_via_slot();
	guest_destroy(&g);
	test_dir_remove();
	return tap_done();
}
