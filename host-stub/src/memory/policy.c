// SPDX-License-Identifier: GPL-2.0
/*
 * Memory policy: balloon targets when the host is overcommitted.
 *
 * ESX-style min-funding revocation with an idle memory tax
 * (Waldspurger, "Memory Resource Management in VMware ESX Server",
 * OSDI 2002).  A guest's shares-per-page ratio is
 *
 *	rho = S / (P * (f + k * (1 - f))),	k = 1 / (1 - tau)
 *
 * with S its shares, P its allocation in pages, f the fraction of its
 * memory that is active and tau the idle tax rate: an idle page costs
 * k times an active one.  Starting from every guest at its full RAM,
 * memory is revoked step by step from the guest with the lowest rho
 * (ties: the larger allocation, then the lower index), never below
 * its floor, until the allocations fit the budget.
 *
 * Before a guest's first POLL f is taken as 1: no idle tax is charged
 * on a guest that never said it is idle (it may well have no balloon
 * driver at all, so revoking from it first would achieve nothing).
 *
 * Then hysteresis: when the caller passes the allocations in force and
 * they still fit the budget, they stay unless some guest's new one is
 * more than policy_deadband_pages() away (POLICY_DEADBAND_PAGES says
 * why): the targets do not follow the jitter of the activity figures.
 *
 * policy_compute() is a pure function of its input (it only counts its
 * calls); mem.c feeds it from the 1 s timer and control commands.
 */
#include <math.h>

#include "vpv_host.h"

static double idle_tax = POLICY_IDLE_TAX_DEFAULT;
static uint64_t computes;	/* policy_compute() calls, for the tests */

int policy_set_idle_tax(double tax)
{
	if (!(tax >= 0.0 && tax < 1.0))		/* also rejects NaN */
		return -1;
	__atomic_store(&idle_tax, &tax, __ATOMIC_RELAXED);
	return 0;
}

double policy_idle_tax(void)
{
	double tax;

	__atomic_load(&idle_tax, &tax, __ATOMIC_RELAXED);
	return tax;
}

/* max(64 MiB, RAM / 8), but never more than the RAM itself */
uint64_t policy_floor_pages(uint64_t ram_pages)
{
	uint64_t floor = ram_pages / 8;

	if (floor < POLICY_FLOOR_MIN_PAGES)
		floor = POLICY_FLOOR_MIN_PAGES;
	return floor < ram_pages ? floor : ram_pages;
}

double policy_rho(const struct policy_guest *pg, uint64_t pages,
		  double tax)
{
	double f = 1.0, k = 1.0 / (1.0 - tax);

	if (pg->have_active)
		f = pg->active_ppm >= 1000000u ? 1.0 :
			pg->active_ppm / 1e6;
	if (!pages)
		return INFINITY;
	return (double)pg->shares / ((double)pages * (f + k * (1.0 - f)));
}

uint64_t policy_deadband_pages(uint64_t ram_pages)
{
	uint64_t d = ram_pages / POLICY_DEADBAND_DIV;

	return d > POLICY_DEADBAND_PAGES ? d : POLICY_DEADBAND_PAGES;
}

/*
 * Keep in->prev_pages if they fit the budget and every new allocation
 * is within the deadband of them.  true: kept (copied to out).
 */
static bool policy_keep_prev(const struct policy_input *in,
			     struct policy_output *out)
{
	uint64_t ram = 0, sum = 0, band, d;
	size_t i;

	if (!in->prev_pages)
		return false;
	for (i = 0; i < in->nr; i++) {
		ram += in->guests[i].ram_pages;
		sum += in->prev_pages[i];
		if (in->prev_pages[i] > in->guests[i].ram_pages ||
		    in->prev_pages[i] < policy_floor_pages(in->guests[i].ram_pages))
			return false;
	}
	if (sum > in->budget_pages)
		return false;
	band = policy_deadband_pages(ram);
	for (i = 0; i < in->nr; i++) {
		d = out->alloc_pages[i] > in->prev_pages[i] ?
		    out->alloc_pages[i] - in->prev_pages[i] :
		    in->prev_pages[i] - out->alloc_pages[i];
		if (d > band)
			return false;
	}
	for (i = 0; i < in->nr; i++)
		out->alloc_pages[i] = in->prev_pages[i];
	return true;
}

uint64_t policy_compute_count(void)
{
	return __atomic_load_n(&computes, __ATOMIC_RELAXED);
}

/*
 * O(steps * guests): up to some 100 ms with 64 overcommitted 16 GiB
 * guests, so mem.c runs it on the 1 s timer, never in a hypercall and
 * never under mem_lock.
 */
void policy_compute(const struct policy_input *in, struct policy_output *out)
{
	uint64_t step = in->step_pages ? in->step_pages : POLICY_STEP_PAGES;
	uint64_t sum = 0, excess;
	size_t i;

	__atomic_fetch_add(&computes, 1, __ATOMIC_RELAXED);
	out->steps = 0;
	for (i = 0; i < in->nr; i++) {
		out->alloc_pages[i] = in->guests[i].ram_pages;
		sum += in->guests[i].ram_pages;
	}
	excess = sum > in->budget_pages ? sum - in->budget_pages : 0;

	while (excess) {
		double best_rho = 0.0;
		size_t best = in->nr;
		uint64_t take, room;

		for (i = 0; i < in->nr; i++) {
			const struct policy_guest *pg = &in->guests[i];
			uint64_t p = out->alloc_pages[i];
			double rho;

			if (p <= policy_floor_pages(pg->ram_pages))
				continue;
			rho = policy_rho(pg, p, in->idle_tax);
			if (best == in->nr || rho < best_rho ||
			    (rho == best_rho && p > out->alloc_pages[best])) {
				best = i;
				best_rho = rho;
			}
		}
		if (best == in->nr)
			break;			/* everybody at the floor */
		room = out->alloc_pages[best] -
		       policy_floor_pages(in->guests[best].ram_pages);
		take = step < room ? step : room;
		if (take > excess)
			take = excess;
		out->alloc_pages[best] -= take;
		excess -= take;
		out->steps++;
	}
	out->excess_pages = excess;
	out->kept = !excess && policy_keep_prev(in, out);
}
