// SPDX-License-Identifier: GPL-2.0
/*
 * Memory policy: min-funding revocation with the idle memory tax,
 * checked against worked examples (pages are 4 KiB, steps 2 MiB).
 */
#include <math.h>
#include <time.h>

#include "testutil.h"

#define MIB		256ull		/* pages per MiB */
#define G1		(1024 * MIB)
#define EPS		(1.0 / (1ull << 60))

static uint64_t run(const struct policy_guest *pg, size_t nr,
		    uint64_t budget, double tax, uint64_t *alloc)
{
	struct policy_input in = { .idle_tax = tax, .budget_pages = budget,
				   .nr = nr, .guests = pg };
	struct policy_output out = { .alloc_pages = alloc };

	policy_compute(&in, &out);
	return out.excess_pages;
}

static struct policy_guest pguest(uint64_t ram, unsigned int shares,
				  uint32_t ppm)
{
	struct policy_guest pg = { .ram_pages = ram, .shares = shares,
				   .have_active = true, .active_ppm = ppm };

	return pg;
}

static void test_rho(void)
{
	struct policy_guest idle = pguest(G1, 1000, 100000);
	struct policy_guest busy = pguest(G1, 1000, 900000);
	struct policy_guest fresh = { .ram_pages = G1, .shares = 1000 };
	struct policy_guest over = pguest(G1, 1000, 5000000);

	/* tau = 0.75: k = 4; f = 0.1: 0.1 + 4 * 0.9 = 3.7 */
	ok(fabs(policy_rho(&idle, G1, 0.75) - 1000.0 / (G1 * 3.7)) < EPS,
	   "rho(f=0.1, tau=0.75) = S / (3.7 P)");
	/* f = 0.9: 0.9 + 4 * 0.1 = 1.3 */
	ok(fabs(policy_rho(&busy, G1, 0.75) - 1000.0 / (G1 * 1.3)) < EPS,
	   "rho(f=0.9, tau=0.75) = S / (1.3 P)");
	ok(policy_rho(&idle, G1, 0.75) < policy_rho(&busy, G1, 0.75),
	   "the idle guest has the lower rho");
	ok(policy_rho(&idle, G1, 0.0) == policy_rho(&busy, G1, 0.0),
	   "tau = 0: rho = S / P whatever f");
	ok(policy_rho(&fresh, G1, 0.75) == 1000.0 / G1,
	   "no POLL yet: f = 1, no idle tax");
	ok(policy_rho(&over, G1, 0.75) == 1000.0 / G1,
	   "active_ppm above 1e6 counts as f = 1");
}

static void test_floor(void)
{
	is(policy_floor_pages(G1), 128 * MIB, "floor of 1 GiB is RAM / 8");
	is(policy_floor_pages(256 * MIB), 64 * MIB, "floor of 256 MiB: 64 MiB");
	is(policy_floor_pages(32 * MIB), 32 * MIB, "floor never above RAM");
}

static void test_examples(void)
{
	struct policy_guest pg[3];
	uint64_t alloc[3];

	/* no overcommit: everybody keeps its RAM */
	pg[0] = pguest(G1, 1000, 100000);
	pg[1] = pguest(G1, 1000, 900000);
	is(run(pg, 2, 2 * G1, 0.75, alloc), 0, "fits: no excess");
	ok(alloc[0] == G1 && alloc[1] == G1, "fits: allocations = RAM");

	/* tau = 0: equal S and P, different f -> equal targets */
	is(run(pg, 2, G1, 0.0, alloc), 0, "tau=0: budget met");
	ok(alloc[0] == 512 * MIB && alloc[1] == 512 * MIB,
	   "tau=0: equal guests with different f end equal (512/512 MiB)");

	/*
	 * tau = 0.75, k = 4, 1 GiB each, budget 1 GiB.  Revocation goes to
	 * the larger P * (f + k (1 - f)): 3.7 P_idle vs 1.3 P_busy.  The
	 * idle guest alone gives until 3.7 P_idle < 1.3 * 1024 MiB, i.e.
	 * down to 358 MiB; from there the two alternate keeping
	 * 3.7 P_idle ~ 1.3 P_busy with P_idle + P_busy = 1024 MiB:
	 * P_idle = 1024 * 1.3 / 5.0 = 266.24 MiB, P_busy = 757.76 MiB.
	 * In 2 MiB steps: the last step leaves 266 and 758 MiB
	 * (3.7 * 266 = 984.2 < 1.3 * 758 = 985.4, and one more step from
	 * the busy guest would go below 1.3 * 756 = 982.8 < 984.2).
	 */
	is(run(pg, 2, G1, 0.75, alloc), 0, "tau=0.75: budget met");
	is(alloc[0], 266 * MIB, "tau=0.75: idle guest (f=0.1) keeps 266 MiB");
	is(alloc[1], 758 * MIB, "tau=0.75: busy guest (f=0.9) keeps 758 MiB");
	ok(fabs(alloc[0] / (double)MIB - 266.24) <= 2.0,
	   "tau=0.75: within one step of the 266.24 MiB equilibrium");

	/* budget 1.5 GiB: the idle guest alone pays (512 > 359.8 MiB) */
	is(run(pg, 2, 3 * G1 / 2, 0.75, alloc), 0, "1.5 GiB: budget met");
	ok(alloc[0] == 512 * MIB && alloc[1] == G1,
	   "1.5 GiB: the idle guest is reclaimed first, the busy one kept");

	/* shares: doubling S of one guest protects it (rho = S / P) */
	pg[0] = pguest(G1, 2000, 1000000);
	pg[1] = pguest(G1, 1000, 1000000);
	is(run(pg, 2, 3 * G1 / 2, 0.75, alloc), 0, "shares: budget met");
	ok(alloc[0] == G1 && alloc[1] == 512 * MIB,
	   "shares 2000 vs 1000: 1024 / 512 MiB (S/P equal at the end)");

	/* three guests, one without stats (f = 1) */
	pg[0] = pguest(G1, 1000, 0);
	pg[1] = pguest(G1, 1000, 1000000);
	pg[2].ram_pages = G1;
	pg[2].shares = 1000;
	pg[2].have_active = false;
	is(run(pg, 3, 2 * G1, 0.5, alloc), 0, "three guests: budget met");
	/* k = 2: f=0 weighs 2 P; f=1 weighs P: 2 P0 = P1 = P2, sum 2048 */
	ok(alloc[0] == 410 * MIB && alloc[1] + alloc[2] == 1638 * MIB &&
	   alloc[1] >= 818 * MIB && alloc[2] >= 818 * MIB,
	   "three guests: idle one at ~409.6 MiB, the others share the rest");

	/* floors: max(64 MiB, RAM / 8); excess reported when unreachable */
	pg[0] = pguest(256 * MIB, 1000, 100000);
	pg[1] = pguest(256 * MIB, 1000, 900000);
	is(run(pg, 2, 64 * MIB, 0.75, alloc), 64 * MIB,
	   "floors: 64 MiB still over budget");
	ok(alloc[0] == 64 * MIB && alloc[1] == 64 * MIB,
	   "floors: nobody below 64 MiB");

	/* the last step is cut to the excess: budget met exactly */
	pg[0] = pguest(G1, 1000, 500000);
	is(run(pg, 1, G1 - 1, 0.75, alloc), 0, "odd excess: met");
	is(alloc[0], G1 - 1, "odd excess: one page taken, not 2 MiB");
}

/*
 * Hysteresis: the allocations in force stay while the new ones are
 * within the deadband (max(8 MiB, RAM / 32): 64 MiB for 2 GiB) and fit;
 * a real shift, a budget they no longer fit, or none in force: new.
 */
static void test_deadband(void)
{
	struct policy_guest pg[2];
	struct policy_input in = { .idle_tax = 0.75, .budget_pages = G1,
				   .nr = 2, .guests = pg };
	uint64_t alloc[2], prev[2];
	struct policy_output out = { .alloc_pages = alloc };

	is(policy_deadband_pages(2 * G1), 64 * MIB, "deadband of 2 GiB: 64 MiB");
	is(policy_deadband_pages(256 * MIB), 8 * MIB,
	   "deadband of 256 MiB: the 8 MiB minimum");
	pg[0] = pguest(G1, 1000, 100000);
	pg[1] = pguest(G1, 1000, 900000);
	policy_compute(&in, &out);
	ok(!out.kept && alloc[0] == 266 * MIB, "none in force: 266 / 758 MiB");
	/* the busy guest's f reads 0.85 now: the new split moves a little */
	prev[0] = alloc[0];
	prev[1] = alloc[1];
	in.prev_pages = prev;
	pg[1].active_ppm = 850000;
	policy_compute(&in, &out);
	ok(out.kept && alloc[0] == 266 * MIB && alloc[1] == 758 * MIB,
	   "f 0.9 -> 0.85: within the deadband, 266 / 758 MiB kept");
	/* the idle guest wakes up: both at f = 0.9, an even split */
	pg[0].active_ppm = 900000;
	pg[1].active_ppm = 900000;
	policy_compute(&in, &out);
	ok(!out.kept && alloc[0] == 512 * MIB && alloc[1] == 512 * MIB,
	   "the idle guest busy: 512 / 512 MiB, not kept");
	/* the budget shrinks by 4 MiB: the kept ones would not fit */
	in.budget_pages = G1 - 4 * MIB;
	pg[0].active_ppm = 100000;
	policy_compute(&in, &out);
	ok(!out.kept && alloc[0] + alloc[1] == G1 - 4 * MIB,
	   "a smaller budget: recomputed, %llu + %llu pages",
	   (unsigned long long)alloc[0], (unsigned long long)alloc[1]);
	/* allocations in force below a floor are never kept */
	in.budget_pages = G1;
	prev[0] = 100 * MIB;
	prev[1] = 700 * MIB;
	pg[0].active_ppm = 1000000;
	pg[1].active_ppm = 1000000;
	policy_compute(&in, &out);
	ok(!out.kept && alloc[0] == 512 * MIB,
	   "in force 100 / 700 MiB, new 512 / 512: recomputed");
}

/*
 * The cost that made POLL slow when it recomputed the policy: 64
 * overcommitted 16 GiB guests.  mem.c runs this on the 1 s timer only,
 * outside mem_lock; the time is printed, not asserted.
 */
static void test_cost(void)
{
	static struct policy_guest pg[64];
	uint64_t alloc[64], c0 = policy_compute_count(), excess;
	struct timespec t0, t1;
	unsigned int i;

	for (i = 0; i < 64; i++)
		pg[i] = pguest(16 * G1, 1000, i * 15000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	excess = run(pg, 64, 64 * 15 * G1, 0.75, alloc);	/* 15/16 fit */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	is(excess, 0, "64 x 16 GiB guests over a 960 GiB budget: met");
	is(policy_compute_count(), c0 + 1, "policy_compute counts its calls");
	printf("# one policy_compute for 64 x 16 GiB: %.1f ms\n",
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
}

int main(void)
{
	test_rho();
	test_floor();
	test_examples();
	test_deadband();
	test_cost();
	ok(policy_set_idle_tax(1.0) < 0 && policy_set_idle_tax(-0.1) < 0 &&
	   policy_set_idle_tax(NAN) < 0, "idle tax outside [0, 1) rejected");
	ok(policy_set_idle_tax(0.5) == 0 && policy_idle_tax() == 0.5 &&
	   policy_set_idle_tax(POLICY_IDLE_TAX_DEFAULT) == 0,
	   "idle tax set / read back");
	return tap_done();
}
