// SPDX-License-Identifier: GPL-2.0
/*
 * Domain ids: guests get the smallest free id from 1 on, so the guests
 * of a config file are 1, 2, ... in file order.  Grant copy reaches
 * another guest by id; the read lock keeps it alive meanwhile, and
 * domain_remove() (write lock) waits for such users before a guest's
 * resources go (guest_destroy()).
 *
 * Writers are preferred, so guests copying all the time cannot starve
 * a removal; therefore a thread must never take the read lock twice
 * (a waiting writer would block the second one): grant copy takes it
 * once per copy with domain_read_lock() and looks both sides up with
 * domain_find_locked().
 */
#define _GNU_SOURCE
#include <errno.h>

#include "vpv_host.h"

static pthread_rwlock_t dom_lock =
	PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static struct guest *doms[DOMAIN_MAX + 1];

int domain_add(struct guest *g)
{
	uint32_t id;

	pthread_rwlock_wrlock(&dom_lock);
	for (id = 1; id <= DOMAIN_MAX && doms[id]; id++)
		;
	if (id > DOMAIN_MAX) {
		pthread_rwlock_unlock(&dom_lock);
		return -ENOSPC;
	}
	doms[id] = g;
	g->domid = id;
	pthread_rwlock_unlock(&dom_lock);
	return 0;
}

void domain_remove(struct guest *g)
{
	if (!g->domid)
		return;
	pthread_rwlock_wrlock(&dom_lock);
	if (g->domid <= DOMAIN_MAX && doms[g->domid] == g)
		doms[g->domid] = NULL;
	pthread_rwlock_unlock(&dom_lock);
	g->domid = 0;
}

void domain_read_lock(void)
{
	pthread_rwlock_rdlock(&dom_lock);
}

void domain_read_unlock(void)
{
	pthread_rwlock_unlock(&dom_lock);
}

/* With domain_read_lock() held; NULL if there is no such guest. */
struct guest *domain_find_locked(uint32_t domid)
{
	return domid && domid <= DOMAIN_MAX ? doms[domid] : NULL;
}

/* NULL (lock not held) if there is no such guest. */
struct guest *domain_get(uint32_t domid)
{
	struct guest *g;

	domain_read_lock();
	g = domain_find_locked(domid);
	if (!g)
		domain_read_unlock();
	return g;
}

void domain_put(void)
{
	pthread_rwlock_unlock(&dom_lock);
}

/*
 * Unpublishing the domain id (destroy) comes before the grant table is
 * freed: see the table's order in subsys.c.
 */
const struct guest_subsys_ops domain_subsys = {
	.name = "domain",
	.init = domain_add,
	.destroy = domain_remove,
};
