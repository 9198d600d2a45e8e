// SPDX-License-Identifier: GPL-2.0
/*
 * VPV_HC_MULTICALL(gpa, count, flags): batch of hypercalls in guest RAM.
 */
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"

static long hc_multicall(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	uint64_t gpa = args[0], count = args[1], flags = args[2];
	struct vpv_multicall_entry *ents;
	uint64_t i, done = 0;
	bool stopped = false;
	long ret;

	if (!count)
		return -VPV_EINVAL;
	if (count > VPV_MULTICALL_MAX)
		return -VPV_E2BIG;
	if (flags & ~(uint64_t)VPV_MC_FLAGS_ALL)
		return -VPV_EINVAL;
	if (gpa & 7)
		return -VPV_EFAULT;
	if (!gpa_ptr(g, gpa, count * sizeof(*ents)))
		return -VPV_EFAULT;

	ents = malloc(count * sizeof(*ents));
	if (!ents)
		return -VPV_ENOMEM;
	ret = gpa_read(g, gpa, ents, count * sizeof(*ents));	/* once */
	if (ret) {
		free(ents);
		return ret;
	}

	STAT_INC(g, multicalls);
	for (i = 0; i < count; i++) {
		struct vpv_multicall_entry *e = &ents[i];

		if (stopped) {
			e->result = -VPV_EAGAIN;
			continue;
		}
		STAT_INC(g, multicall_entries);
		if (e->op == VPV_HC_MULTICALL || e->flags) {
			e->result = -VPV_EINVAL;
			STAT_INC(g, hcall_errors);
		} else {
			uint64_t a[VPV_HC_NR_ARGS];
			int k;

			for (k = 0; k < VPV_HC_NR_ARGS; k++)
				a[k] = e->args[k];
			e->result = hc_dispatch(g, e->op, a);
		}
		done++;
		if (e->result < 0 && (flags & VPV_MC_STOP_ON_ERROR))
			stopped = true;
	}

	/*
	 * Write back only the result fields.  If a page of the array
	 * faults now the entries have run but their results are lost:
	 * the call says so with -VPV_EFAULT.
	 */
	ret = (long)done;
	for (i = 0; i < count && ret >= 0; i++)
		if (gpa_store_u64(g, gpa + i * sizeof(*ents) +
				  offsetof(struct vpv_multicall_entry, result),
				  (uint64_t)ents[i].result))
			ret = -VPV_EFAULT;
	free(ents);
	return ret;
}

void multicall_register(void)
{
	hc_register(VPV_HC_MULTICALL, "multicall", hc_multicall);
}
