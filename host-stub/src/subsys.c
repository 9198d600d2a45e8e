// SPDX-License-Identifier: GPL-2.0
/*
 * The per-guest subsystem table (subsys.h): a new subsystem defines its
 * struct guest_subsys_ops next to its code and adds one line here.
 *
 * The order is the order of dependencies: each row may use the rows
 * above it, so @init runs top-down and @destroy bottom-up.  The memory
 * manager comes first (the PV MMU's pins live in its P2M); the grant
 * table exists before the domain id is published and outlives it (a
 * grant copy of another guest finds the table through the domain id,
 * under the domain lock: issue 9's use-after-free was the table freed
 * first); the store's home needs the domain id; back-ends use the
 * store, the grant table and event channels.  Activity sampling uses
 * no other row; it comes first so its tick collects a finished sample
 * before the memory policy's tick runs on it.
 */
#include "vpv_host.h"

static const struct guest_subsys_ops *const subsys[] = {
	&activity_subsys,
	&mem_subsys,
	&evtchn_subsys,
	&pvmmu_subsys,
	&grant_subsys,
	&domain_subsys,
	&store_subsys,
	&bus_subsys,
};

const struct guest_subsys_ops *const *subsys_table(size_t *nr)
{
	*nr = ARRAY_SIZE(subsys);
	return subsys;
}

void subsys_setup(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subsys); i++)
		if (subsys[i]->setup)
			subsys[i]->setup();
}

int subsys_guest_init(struct guest *g)
{
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(subsys); i++) {
		if (!subsys[i]->init)
			continue;
		ret = subsys[i]->init(g);
		if (ret)
			return ret;
	}
	return 0;
}

void subsys_guest_reset(struct guest *g)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subsys); i++)
		if (subsys[i]->reset)
			subsys[i]->reset(g);
}

void subsys_tick(struct host *h, uint64_t now_ms)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subsys); i++)
		if (subsys[i]->tick)
			subsys[i]->tick(h, now_ms);
}

bool subsys_port_event(struct guest *g, unsigned int port)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subsys); i++)
		if (subsys[i]->port_event && subsys[i]->port_event(g, port))
			return true;
	return false;
}

void subsys_port_closed(struct guest *g, unsigned int port)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subsys); i++)
		if (subsys[i]->port_closed)
			subsys[i]->port_closed(g, port);
}

void subsys_stats(struct sbuf *out, struct guest *g)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(subsys); i++)
		if (subsys[i]->stats)
			subsys[i]->stats(out, g);
}

void subsys_guest_destroy(struct guest *g)
{
	size_t i;

	for (i = ARRAY_SIZE(subsys); i-- > 0;)
		if (subsys[i]->destroy)
			subsys[i]->destroy(g);
}
