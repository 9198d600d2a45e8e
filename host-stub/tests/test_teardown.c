// SPDX-License-Identifier: GPL-2.0
/*
 * Guest teardown while another guest uses its grants: a thread of guest
 * A copies from B's grant in a loop while B is destroyed.  Every copy
 * must either succeed or fail with -VPV_ENOENT (no such domain); ASan
 * finds any use of B's freed grant table.  Then removal through the
 * control socket's "guest remove" and a second destroy (idempotent).
 */
#include <pthread.h>
#include <time.h>

#include "testutil.h"

#define ARR		0x10000ull	/* A's copy array */
#define DST_GPA		0x200000ull	/* A's destination */
#define DATA_PFN	0x100ull	/* B's granted frame */
#define REF		20u
#define ROUNDS		40		/* teardowns raced against copies */
#define MIN_COPIES	20		/* copies before B goes */

static struct guest ga, gb;

struct copier {
	pthread_t thr;
	uint16_t domid;		/* B's */
	bool stop;
	unsigned long ok, enoent, other;
	long last_other;
};

static void *copier_fn(void *arg)
{
	struct copier *c = arg;
	struct vpv_gnttab_copy op;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		memset(&op, 0, sizeof(op));
		op.flags = VPV_GNTCOPY_SOURCE_GREF;
		op.source.domid = c->domid;
		op.source.gpa_or_ref = REF;
		op.dest.gpa_or_ref = DST_GPA;
		op.len = 64;
		gpa_write(&ga, ARR, &op, sizeof(op));
		call(&ga, VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY, ARR, 1, 0);
		gpa_read(&ga, ARR, &op, sizeof(op));
		if (!op.status) {
			__atomic_fetch_add(&c->ok, 1, __ATOMIC_RELAXED);
		} else if (op.status == -VPV_ENOENT) {
			__atomic_fetch_add(&c->enoent, 1, __ATOMIC_RELAXED);
		} else {
			c->other++;
			c->last_other = op.status;
		}
	}
	return NULL;
}

static void grant_b(void)
{
	struct vpv_grant_entry *e = test_gent(&gb, REF);

	e->frame = DATA_PFN;
	e->domid = ga.domid;
	__atomic_store_n(&e->flags, VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY,
			 __ATOMIC_RELEASE);
}

/* Returns true if the round behaved: copies ok, then only ENOENT. */
static bool race_round(unsigned long *ok_total, unsigned long *gone_total)
{
	struct copier c = { 0 };
	struct timespec ts = { .tv_nsec = 100000 };
	unsigned long after;
	bool good;

	test_guest(&gb, 4 << 20, 1);
	grant_b();
	c.domid = gb.domid;
	if (pthread_create(&c.thr, NULL, copier_fn, &c))
		BAIL("pthread_create");
	while (__atomic_load_n(&c.ok, __ATOMIC_RELAXED) < MIN_COPIES &&
	       !c.other)
		nanosleep(&ts, NULL);
	guest_destroy(&gb);
	after = __atomic_load_n(&c.enoent, __ATOMIC_RELAXED);
	while (__atomic_load_n(&c.enoent, __ATOMIC_RELAXED) < after + 5 &&
	       !c.other)
		nanosleep(&ts, NULL);
	after = __atomic_load_n(&c.ok, __ATOMIC_RELAXED);
	__atomic_store_n(&c.stop, true, __ATOMIC_RELEASE);
	pthread_join(c.thr, NULL);
	good = !c.other && c.ok == after;
	if (!good)
		printf("# round: ok %lu enoent %lu other %lu (last %ld)\n",
		       c.ok, c.enoent, c.other, c.last_other);
	*ok_total += c.ok;
	*gone_total += c.enoent;
	return good;
}

static void test_race(void)
{
	unsigned long oks = 0, gone = 0;
	int i, bad = 0;

	for (i = 0; i < ROUNDS; i++)
		bad += !race_round(&oks, &gone);
	ok(!bad, "%d teardowns during copies: copies succeed or get ENOENT (%d bad)",
	   ROUNDS, bad);
	printf("# %lu copies succeeded, %lu refused after removal\n", oks,
	       gone);
	ok(oks >= ROUNDS * MIN_COPIES && gone >= ROUNDS * 5,
	   "both outcomes seen");
	is(grant_nr_mapped(&ga), 0, "caller has nothing mapped");
}

static int ctl(struct host *h, struct sbuf *out, const char *fmt,
	       const char *name)
{
	char line[64];

	snprintf(line, sizeof(line), fmt, name);
	sb_free(out);
	sb_init(out);
	return ctl_handle_line(h, line, strlen(line), out);
}

static void test_ctl_remove(void)
{
	struct guest gs[2];
	struct host h = { .guests = gs, .nr_guests = 2 };
	char want[48];
	struct sbuf out;
	int ret;

	test_guest(&gs[0], 4 << 20, 1);
	test_guest(&gs[1], 4 << 20, 1);
	sb_init(&out);
	ret = ctl(&h, &out, "guest remove %s", "nosuch");
	ok(ret == -ENOENT && strstr(out.buf, "no such guest"),
	   "guest remove of an unknown guest -> error");
	ret = ctl(&h, &out, "guest remove %s", gs[0].name);
	snprintf(want, sizeof(want), "\"removed\":\"%s\"", gs[0].name);
	ok(!ret && strstr(out.buf, want), "guest remove %s", gs[0].name);
	ok(gs[0].state == GUEST_REMOVED && !gs[0].domid && !gs[0].gnt &&
	   !gs[0].shm && gs[0].ram_fd < 0, "its resources are released");
	ok(gs[1].domid && gs[1].shm, "the other guest keeps running");
	ctl(&h, &out, "list", NULL);
	snprintf(want, sizeof(want), "\"%s\"", gs[0].name);
	ok(!strstr(out.buf, want), "list no longer shows a removed guest");
	snprintf(want, sizeof(want), "\"%s\"", gs[1].name);
	ok(!!strstr(out.buf, want), "... but shows the other one");
	ret = ctl(&h, &out, "stats %s", gs[0].name);
	is(ret, -ENOENT, "stats of a removed guest -> no such guest");
	ret = ctl(&h, &out, "guest remove %s", gs[0].name);
	is(ret, -ENOENT, "second remove -> no such guest");
	sb_free(&out);
	guest_destroy(&gs[0]);		/* idempotent, as at stub exit */
	guest_destroy(&gs[1]);
	ok(true, "destroy after remove is harmless");
}

/* Row of the subsystem called name in the table, -1 if absent. */
static int subsys_row(const char *name)
{
	const struct guest_subsys_ops *const *tab;
	size_t nr, i;

	tab = subsys_table(&nr);
	for (i = 0; i < nr; i++)
		if (!strcmp(tab[i]->name, name))
			return (int)i;
	return -1;
}

/*
 * guest_destroy() tears the subsystems down bottom-up (subsys.c): each
 * must go before what it uses.  The domain id is unpublished before
 * the grant table is freed (issue 9: the other order is the
 * use-after-free test_race() finds), back-ends go before the store,
 * the store's home before the domain id, the PV MMU's pins before the
 * memory manager.
 */
static void test_subsys_order(void)
{
	int mem = subsys_row("mem"), pvmmu = subsys_row("pvmmu");
	int grant = subsys_row("grant"), domain = subsys_row("domain");
	int store = subsys_row("store"), bus = subsys_row("bus");

	ok(mem >= 0 && pvmmu >= 0 && grant >= 0 && domain >= 0 &&
	   store >= 0 && bus >= 0, "every subsystem is in the table");
	ok(grant < domain, "domain id unpublished before the grant table goes");
	ok(domain < store && store < bus,
	   "back-ends, then the store, then the domain id go");
	ok(mem < pvmmu, "PV MMU pins dropped before the memory manager goes");
}

int main(void)
{
	test_subsys_order();
	test_dir_make();
	test_guest(&ga, 4 << 20, 1);
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	test_race();
	test_ctl_remove();
	guest_destroy(&ga);
	test_dir_remove();
	return tap_done();
}
