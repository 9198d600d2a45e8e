// SPDX-License-Identifier: GPL-2.0
/* Config store: tree, permissions, limits, watches, transactions, ring. */
#include <stdio.h>
#include <time.h>

#include "store_cli.h"
#include "store_core.h"

static struct guest ga, gb;

static int hread(const char *path, char *buf)
{
	uint32_t len;
	char *v;
	int ret = store_read(STORE_DOMID_HOST, 0, path, &v, &len);

	if (!ret) {
		memcpy(buf, v, len + 1);
		free(v);
	}
	return ret;
}

static int gread(uint32_t d, uint32_t tx, const char *path, char *buf)
{
	uint32_t len;
	char *v;
	int ret = store_read(d, tx, path, &v, &len);

	if (!ret) {
		memcpy(buf, v, len + 1);
		free(v);
	}
	return ret;
}

static void test_tree(void)
{
	char buf[256], home[64];
	uint32_t len;
	char *v;

	snprintf(home, sizeof(home), "/local/domain/%u", ga.domid);
	is(hread(home, buf), 0, "guest home created with the guest");
	is(store_write(STORE_DOMID_HOST, 0, "/test/a/b", "xyz", 3), 0,
	   "host write creates parents");
	is(hread("/test/a/b", buf), 0, "host read");
	ok(!strcmp(buf, "xyz"), "value read back");
	is(hread("/test/a", buf), 0, "parent exists");
	is(store_write(STORE_DOMID_HOST, 0, "/test/a/c", "", 0), 0, "second child");
	is(store_directory(STORE_DOMID_HOST, 0, "/test/a", &v, &len), 0,
	   "directory");
	ok(len == 4 && memchr(v, 'b', len) && memchr(v, 'c', len),
	   "directory lists both children");
	free(v);
	is(store_mkdir(STORE_DOMID_HOST, 0, "/test/d"), 0, "mkdir");
	is(store_rm(STORE_DOMID_HOST, 0, "/test/a"), 0, "rm subtree");
	is(hread("/test/a/b", buf), -ENOENT, "subtree gone");
	is(store_rm(STORE_DOMID_HOST, 0, "/test/a"), -ENOENT, "rm missing -> ENOENT");
	is(store_write(STORE_DOMID_HOST, 0, "/test//x", "", 0), -EINVAL,
	   "empty component -> EINVAL");
	is(store_write(STORE_DOMID_HOST, 0, "/test/x/", "", 0), -EINVAL,
	   "trailing slash -> EINVAL");
	is(store_write(STORE_DOMID_HOST, 0, "/test/a b", "", 0), -EINVAL,
	   "bad character -> EINVAL");
}

static void test_perms(void)
{
	char buf[256], p[128];
	uint32_t rd = ga.domid;

	is(store_write(ga.domid, 0, "data/x", "1", 1), 0, "guest writes relative path");
	snprintf(p, sizeof(p), "/local/domain/%u/data/x", ga.domid);
	is(hread(p, buf), 0, "relative is below the home");
	is(gread(ga.domid, 0, p, buf), 0, "guest reads its home absolutely");
	is(gread(gb.domid, 0, p, buf), -EACCES, "other guest can't read it");
	is(store_write(gb.domid, 0, p, "2", 1), -EACCES, "other guest can't write it");
	is(store_write(ga.domid, 0, "/test/evil", "1", 1), -EACCES,
	   "guest can't write outside its home");
	is(gread(ga.domid, 0, "/test/d", buf), -EACCES,
	   "guest can't read outside its home");
	store_write(STORE_DOMID_HOST, 0, "/local/domain/0/backend/t/x", "v", 1);
	is(store_set_perms("/local/domain/0/backend/t/x", 0, &rd, 1), 0,
	   "host sets readers");
	is(gread(ga.domid, 0, "/local/domain/0/backend/t/x", buf), 0,
	   "reader may read");
	is(gread(gb.domid, 0, "/local/domain/0/backend/t/x", buf), -EACCES,
	   "non-reader may not");
	is(store_write(ga.domid, 0, "/local/domain/0/backend/t/x", "w", 1),
	   -EACCES, "reader may not write");
	snprintf(p, sizeof(p), "/local/domain/%u", ga.domid);
	is(store_rm(ga.domid, 0, p), -EACCES, "guest can't remove its home");
}

static void test_limits(void)
{
	char big[VPV_STORE_PAYLOAD_MAX + 2], path[VPV_STORE_PATH_MAX + 8];
	struct store_guest_info si;
	uint32_t id, ids[VPV_STORE_TX_MAX];
	int i, ret = 0;

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[VPV_STORE_PATH_MAX + 1] = '\0';
	is(store_write(STORE_DOMID_HOST, 0, path, "", 0), -E2BIG,
	   "path longer than 256 -> E2BIG");
	path[VPV_STORE_PATH_MAX] = '\0';
	is(store_write(STORE_DOMID_HOST, 0, path, "", 0), 0, "path of 256 ok");
	store_rm(STORE_DOMID_HOST, 0, path);
	memset(big, 'v', sizeof(big));
	is(store_write(gb.domid, 0, "big", big, VPV_STORE_PAYLOAD_MAX + 1),
	   -E2BIG, "value over 4096 -> E2BIG");
	is(store_write(gb.domid, 0, "big", big, VPV_STORE_PAYLOAD_MAX), 0,
	   "value of 4096 ok");
	for (i = 0; i < VPV_STORE_NODES_MAX + 10 && !ret; i++) {
		char p[32];

		snprintf(p, sizeof(p), "n/%d", i);
		ret = store_write(gb.domid, 0, p, "", 0);
	}
	is(ret, -ENOSPC, "node limit -> ENOSPC");
	store_guest_info(gb.domid, &si);
	is(si.nodes, VPV_STORE_NODES_MAX, "node count at the limit");
	store_rm(gb.domid, 0, "n");
	store_guest_info(gb.domid, &si);
	is(si.nodes, 2, "rm gives the nodes back (home + big)");
	for (i = 0, ret = 0; i < VPV_STORE_WATCHES_MAX + 1 && !ret; i++) {
		char tok[16];

		snprintf(tok, sizeof(tok), "t%d", i);
		ret = store_watch(gb.domid, "big", tok);
	}
	is(ret, -ENOSPC, "watch limit -> ENOSPC");
	is(i, VPV_STORE_WATCHES_MAX + 1, "128 watches allowed");
	for (i = 0; i < VPV_STORE_TX_MAX; i++)
		store_tx_start(gb.domid, &ids[i]);
	is(store_tx_start(gb.domid, &id), -EBUSY, "17th transaction -> EBUSY");
	for (i = 0; i < VPV_STORE_TX_MAX; i++)
		store_tx_end(gb.domid, ids[i], false);
	is(store_tx_start(gb.domid, &id), 0, "after aborts a tx starts");
	store_tx_end(gb.domid, id, false);
	store_guest_reset(&gb);
	store_guest_info(gb.domid, &si);
	is(si.watches, 0, "reset drops watches");
}

static void test_tx(void)
{
	char buf[64];
	uint32_t t1, t2;
	char *v;
	uint32_t len;

	store_write(ga.domid, 0, "tx/k", "old", 3);
	is(store_tx_start(ga.domid, &t1), 0, "tx start");
	is(store_write(ga.domid, t1, "tx/k", "new", 3), 0, "write in tx");
	gread(ga.domid, 0, "tx/k", buf);
	ok(!strcmp(buf, "old"), "not visible outside before commit");
	gread(ga.domid, t1, "tx/k", buf);
	ok(!strcmp(buf, "new"), "visible inside");
	is(store_write(ga.domid, t1, "tx/n/m", "1", 1), 0, "new node in tx");
	is(store_directory(ga.domid, t1, "tx", &v, &len), 0, "directory in tx");
	ok(len == 4, "tx directory sees the new child");
	free(v);
	is(store_tx_end(ga.domid, t1, true), 0, "commit");
	gread(ga.domid, 0, "tx/k", buf);
	ok(!strcmp(buf, "new"), "visible after commit");
	is(gread(ga.domid, 0, "tx/n/m", buf), 0, "created node after commit");

	store_tx_start(ga.domid, &t2);
	store_write(ga.domid, t2, "tx/k", "aborted", 7);
	store_rm(ga.domid, t2, "tx/n");
	is(gread(ga.domid, t2, "tx/n/m", buf), -ENOENT, "rm in tx hides subtree");
	is(store_tx_end(ga.domid, t2, false), 0, "abort");
	gread(ga.domid, 0, "tx/k", buf);
	ok(!strcmp(buf, "new"), "abort leaves nothing");

	store_tx_start(ga.domid, &t1);
	gread(ga.domid, t1, "tx/k", buf);
	store_write(ga.domid, t1, "tx/other", "x", 1);
	store_write(ga.domid, 0, "tx/k", "changed", 7);	/* a racer */
	is(store_tx_end(ga.domid, t1, true), -EAGAIN, "conflict -> EAGAIN");
	is(gread(ga.domid, 0, "tx/other", buf), -ENOENT, "failed commit applies nothing");
	is(store_tx_end(ga.domid, t1, true), -ENOENT, "tx gone after end");
	is(store_write(ga.domid, 999, "tx/k", "", 0), -EINVAL, "unknown tx -> EINVAL");
}

/* CPU time of this thread: the work under the lock, whatever the load */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_kib(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static unsigned int host_events;

static void count_event(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	host_events++;
}

/*
 * Finding 1: a transaction's ops, paths and bytes are charged as they
 * arrive.  Streaming 4000-byte writes is refused at the byte bound
 * (-ENOSPC) and memory stays flat; one-byte writes stop at the op
 * bound; distinct reads stop at the path bound.
 */
static void test_tx_bounds(void)
{
	static char val[4000];
	struct store_guest_info si;
	uint32_t tx, i, ok_n = 0;
	long rss0 = rss_kib();
	char p[32], *v;
	int ret = 0;

	memset(val, 'a', sizeof(val));
	store_tx_start(gb.domid, &tx);
	for (i = 0; i < 20000; i++) {
		snprintf(p, sizeof(p), "s/%u", i);
		ret = store_write(gb.domid, tx, p, val, sizeof(val));
		if (ret)
			break;
		ok_n++;
	}
	is(ret, -ENOSPC, "stream of 4000-byte writes refused (ENOSPC)");
	ok(ok_n > 64 && ok_n * sizeof(val) <= STORE_TX_BYTES_MAX,
	   "refused at the byte bound (%u writes accepted)", ok_n);
	for (; i < 20000 && store_write(gb.domid, tx, p, val, sizeof(val)); i++)
		;
	is(i, 20000, "every later one refused too");
	store_guest_info(gb.domid, &si);
	ok(si.tx_bytes <= STORE_TX_BYTES_MAX, "charged %u <= %u bytes",
	   si.tx_bytes, STORE_TX_BYTES_MAX);
	ok(rss_kib() - rss0 < 16 * 1024,
	   "memory bounded: RSS +%ld KiB for 80 MB of writes",
	   rss_kib() - rss0);
	is(store_read(gb.domid, tx, "s/0", &v, &i), 0,
	   "the transaction stays usable");
	free(v);
	store_tx_end(gb.domid, tx, false);
	store_guest_info(gb.domid, &si);
	is(si.tx_bytes, 0, "abort gives the bytes back");

	store_tx_start(gb.domid, &tx);
	for (i = 0, ok_n = 0; i < 60000; i++) {
		snprintf(p, sizeof(p), "o/%u", i);
		if (!store_write(gb.domid, tx, p, "x", 1))
			ok_n++;
	}
	is(ok_n, STORE_TX_OPS_MAX, "60000 one-byte writes: 1024 ops taken");
	store_tx_end(gb.domid, tx, false);

	store_tx_start(gb.domid, &tx);
	for (i = 0, ret = 0; i < 2 * STORE_TX_PATHS_MAX && ret != -ENOSPC;
	     i++) {
		snprintf(p, sizeof(p), "r/%u", i);
		ret = store_read(gb.domid, tx, p, &v, &ok_n);
		if (!ret)
			free(v);
	}
	is(ret, -ENOSPC, "distinct paths read in a tx bounded (ENOSPC)");
	is(i, STORE_TX_PATHS_MAX + 1, "after 2048 paths");
	store_tx_end(gb.domid, tx, false);
}

static double timed_max(double *worst, double t0, const char *what)
{
	double t = now_ms() - t0;

	printf("# %s: %.2f ms CPU\n", what, t);
	if (t > *worst)
		*worst = t;
	return t;
}

/*
 * Finding 2: within the bounds every request is short.  Worst case: a
 * directory with ~1000 children, a transaction of STORE_TX_OPS_MAX
 * ops on it (half new, half removing), 128 watches.  Each request's
 * time (lock held all along) must stay under 20 ms, even under ASan.
 */
static void test_tx_time(void)
{
	double worst = 0, t0;
	char p[64], tok[16], *v;
	uint32_t tx, i, len;
	int ret = 0;

	for (i = 0; i < VPV_STORE_NODES_MAX - 8 && !ret; i++) {
		snprintf(p, sizeof(p), "big/node-with-a-longer-name-%u", i);
		ret = store_write(gb.domid, 0, p, "v", 1);
	}
	for (i = 0; i < VPV_STORE_WATCHES_MAX; i++) {
		snprintf(tok, sizeof(tok), "t%u", i);
		store_watch(gb.domid, "big", tok);
	}
	store_tx_start(gb.domid, &tx);
	for (i = 0, ret = 0; i < STORE_TX_OPS_MAX - 1 && !ret; i++) {
		bool rm = i % 2 && i < VPV_STORE_NODES_MAX - 8;

		/* even: new nodes, or new values once the budget is used */
		snprintf(p, sizeof(p), rm || i > 200 ?
			 "big/node-with-a-longer-name-%u" : "big/new-%u",
			 i < VPV_STORE_NODES_MAX - 8 ? i : i % 64);
		ret = rm ? store_rm(gb.domid, tx, p) :
			   store_write(gb.domid, tx, p, "w", 1);
	}
	is(ret, 0, "1023 ops in one transaction");
	t0 = now_ms();
	is(store_write(gb.domid, tx, "big/last", "x", 1), 0, "the last op");
	timed_max(&worst, t0, "WRITE as op 1024");
	t0 = now_ms();
	if (is(store_directory(gb.domid, tx, "big", &v, &len), 0,
	       "DIRECTORY in the full transaction"))
		free(v);
	timed_max(&worst, t0, "DIRECTORY, ~1000 children + 1024 ops");
	t0 = now_ms();
	if (is(store_read(gb.domid, tx, "big/new-0", &v, &len), 0,
	       "READ in it"))
		free(v);
	timed_max(&worst, t0, "READ");
	t0 = now_ms();
	ret = store_tx_end(gb.domid, tx, true);
	timed_max(&worst, t0, "commit of 1024 ops, 128 watches");
	is(ret, 0, "commit");
	ok(worst < 20, "worst request under the lock %.2f ms < 20 ms", worst);
	for (i = 0; i < VPV_STORE_WATCHES_MAX; i++) {
		snprintf(tok, sizeof(tok), "t%u", i);
		store_unwatch(gb.domid, "big", tok);
	}
	store_rm(gb.domid, 0, "big");
}

/*
 * Finding 7: a commit that fails part-way (node limit) leaves the tree
 * as it was, values, removed subtrees and their order included, and
 * fires no watch.
 */
static void test_tx_atomic(void)
{
	struct store_guest_info si0, si;
	char p[64], buf[64], *d0, *d1;
	uint32_t tx, i, l0, l1;
	int ret = 0;

	store_write(gb.domid, 0, "at/a", "old", 3);
	store_write(gb.domid, 0, "at/sub/x", "x1", 2);
	store_write(gb.domid, 0, "at/sub/y", "y1", 2);
	store_write(gb.domid, 0, "at/z", "z", 1);
	store_directory(gb.domid, 0, "at", &d0, &l0);
	store_guest_info(gb.domid, &si0);
	snprintf(p, sizeof(p), "/local/domain/%u/at", gb.domid);
	store_watch_host(p, count_event, NULL);
	host_events = 0;
	store_tx_start(gb.domid, &tx);
	store_write(gb.domid, tx, "at/a", "new", 3);
	store_rm(gb.domid, tx, "at/sub");
	store_write(gb.domid, tx, "at/sub/w", "w", 1);
	for (i = 0; i < VPV_STORE_NODES_MAX - 4 && !ret; i++) {
		snprintf(p, sizeof(p), "at/n/%u", i);
		ret = store_write(gb.domid, tx, p, "", 0);
	}
	is(ret, 0, "a transaction that will not fit the node limit");
	is(store_tx_end(gb.domid, tx, true), -ENOSPC, "its commit -> ENOSPC");
	gread(gb.domid, 0, "at/a", buf);
	ok(!strcmp(buf, "old"), "earlier write undone (%s)", buf);
	is(gread(gb.domid, 0, "at/sub/x", buf), 0, "removed subtree back");
	ok(!strcmp(buf, "x1"), "with its values");
	is(gread(gb.domid, 0, "at/sub/w", buf), -ENOENT, "created node gone");
	is(gread(gb.domid, 0, "at/n", buf), -ENOENT, "no partial creation");
	store_directory(gb.domid, 0, "at", &d1, &l1);
	ok(l0 == l1 && !memcmp(d0, d1, l0), "directory as before, same order");
	free(d0);
	free(d1);
	store_guest_info(gb.domid, &si);
	is(si.nodes, si0.nodes, "node count as before");
	store_run_deferred();
	is(host_events, 0, "no watch fired for the failed commit");

	store_tx_start(gb.domid, &tx);
	store_write(gb.domid, tx, "at/a", "new", 3);
	store_rm(gb.domid, tx, "at/sub");
	is(store_tx_end(gb.domid, tx, true), 0, "a commit that fits");
	store_run_deferred();
	is(host_events, 2, "its watches fire after it");
	snprintf(p, sizeof(p), "/local/domain/%u/at", gb.domid);
	store_unwatch_host(p, count_event, NULL);

	/* rm and re-create in one commit (found by fuzz_store) */
	store_tx_start(gb.domid, &tx);
	store_rm(gb.domid, tx, "at");
	store_write(gb.domid, tx, "at/new", "n", 1);
	is(store_tx_end(gb.domid, tx, true), 0, "commit: rm at, write at/new");
	is(gread(gb.domid, 0, "at/new", buf), 0, "at/new is there");
	is(gread(gb.domid, 0, "at/z", buf), -ENOENT, "the old at/z is gone");
	store_rm(gb.domid, 0, "at");
}

/* Finding 10: one path charset on both sides (':' included). */
static void test_charset(void)
{
	char buf[64];

	is(store_write(ga.domid, 0, "cs/a:b.c@d-e_f", "1", 1), 0,
	   "':' '.' '@' '-' '_' allowed in paths");
	is(gread(ga.domid, 0, "cs/a:b.c@d-e_f", buf), 0, "and read back");
	is(store_write(ga.domid, 0, "cs/a;b", "1", 1), -EINVAL, "';' refused");
	is(store_write(ga.domid, 0, "cs/a b", "1", 1), -EINVAL, "' ' refused");
	store_rm(ga.domid, 0, "cs");
}

/*
 * The op table (store.c) that the wire and the host API dispatch from:
 * one row per request type a guest may send, none for the types only
 * the host sends, and the flags each entry relies on.
 */
static void test_op_table(void)
{
	static const uint32_t path_ops[] = {
		VPV_STORE_DIRECTORY, VPV_STORE_READ, VPV_STORE_WRITE,
		VPV_STORE_MKDIR, VPV_STORE_RM, VPV_STORE_WATCH,
		VPV_STORE_UNWATCH,
	};
	const struct store_opdef *op;
	unsigned int i, rows = 0, paths = 0;

	for (i = VPV_STORE_DIRECTORY; i <= VPV_STORE_TRANSACTION_END; i++) {
		op = store_op_find(i);
		rows += op && op->type == i && op->name && op->fn;
	}
	is(rows, VPV_STORE_TRANSACTION_END, "a row for every request type");
	ok(!store_op_find(VPV_STORE_WATCH_EVENT) &&
	   !store_op_find(VPV_STORE_ERROR) && !store_op_find(0),
	   "no row for the host's message types");
	for (i = 0; i < ARRAY_SIZE(path_ops); i++)
		paths += !!(store_op_find(path_ops[i])->flags & STORE_F_PATH);
	is(paths, ARRAY_SIZE(path_ops), "path ops take a path");
	ok(store_op_find(VPV_STORE_TRANSACTION_END)->flags & STORE_F_NEEDS_TX,
	   "TRANSACTION_END needs a transaction");
	ok(store_op_find(VPV_STORE_TRANSACTION_START)->flags & STORE_F_NO_TX,
	   "TRANSACTION_START refused inside one");
	ok((store_op_find(VPV_STORE_WRITE)->flags & STORE_F_WRITE) &&
	   (store_op_find(VPV_STORE_RM)->flags & STORE_F_WRITE) &&
	   (store_op_find(VPV_STORE_READ)->flags & STORE_F_READ),
	   "permission checks from the flags");
}

static void test_ring(void)
{
	char out[VPV_STORE_PAYLOAD_MAX + 64], msg[8192];
	struct cli *c = calloc(1, sizeof(*c));
	struct vpv_store_msg h;
	uint32_t olen, i, tx;
	int n;

	is(call(&ga, VPV_HC_STORE_OP, VPV_STOREOP_CONNECT, 0, 0, 0), -VPV_EINVAL,
	   "CONNECT port 0 -> EINVAL");
	is(call(&ga, VPV_HC_STORE_OP, VPV_STOREOP_CONNECT, 77, 0, 0), -VPV_ENOENT,
	   "CONNECT unallocated port -> ENOENT");
	is(cli_connect(c, &ga), 0, "CONNECT");
	is(call(&ga, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_STATUS, c->port, 0, 0),
	   VPV_EVTCHN_STAT_BACKEND, "store port is BACKEND");
	n = snprintf(msg, sizeof(msg), "r/key") + 1;
	memcpy(msg + n, "value1", 6);
	is(cli_call(c, VPV_STORE_WRITE, 0, msg, n + 6, out, &olen),
	   VPV_STORE_WRITE, "ring WRITE");
	ok(!strcmp(out, "OK"), "answer OK");
	is(cli_calls(c, VPV_STORE_READ, "r/key", out), VPV_STORE_READ, "ring READ");
	ok(!strcmp(out, "value1"), "value through the ring");
	is(cli_calls(c, VPV_STORE_READ, "r/none", out), VPV_STORE_ERROR,
	   "ring READ missing -> ERROR");
	ok(!strcmp(out, "ENOENT"), "errno name ENOENT");
	is(cli_calls(c, VPV_STORE_READ, "/local/domain/0", out), VPV_STORE_ERROR,
	   "ring READ outside home");
	ok(!strcmp(out, "EACCES"), "errno name EACCES");
	is(cli_calls(c, 42, "x", out), VPV_STORE_ERROR, "unknown type");
	ok(!strcmp(out, "EINVAL"), "-> EINVAL");
	is(cli_calls(c, VPV_STORE_WATCH_EVENT, "x", out), VPV_STORE_ERROR,
	   "a guest's WATCH_EVENT");
	ok(!strcmp(out, "EINVAL"), "-> EINVAL");
	is(cli_calls(c, VPV_STORE_DIRECTORY, "r", out), VPV_STORE_DIRECTORY,
	   "ring DIRECTORY");
	ok(!strcmp(out, "key"), "child name");

	/* many messages: indices wrap many times, messages straddle the end */
	for (i = 0, n = 0; i < 200; i++)
		n += cli_calls(c, VPV_STORE_READ, "r/key", out) == VPV_STORE_READ;
	is(n, 200, "200 requests across ring wraps");
	ok(c->r->req_prod > 4 * VPV_STORE_RING_SIZE, "indices wrapped");

	/* a message split across notifications */
	h = (struct vpv_store_msg){ VPV_STORE_READ, ++c->req_id, 0, 6 };
	cli_send_raw(c, &h, 10, true);
	cli_pump(c);
	ok(c->inlen == 0, "half a header: no answer yet");
	cli_send_raw(c, (char *)&h + 10, 6, true);
	cli_send_raw(c, "r/k", 3, true);
	cli_send_raw(c, "ey", 3, true);
	is(cli_wait(c, out, NULL), VPV_STORE_READ, "split message answered");
	ok(!strcmp(out, "value1"), "split message read the value");

	/* a message larger than the ring */
	n = snprintf(msg, sizeof(msg), "r/big") + 1;
	memset(msg + n, 'B', 3000);
	is(cli_call(c, VPV_STORE_WRITE, 0, msg, n + 3000, out, NULL),
	   VPV_STORE_WRITE, "3000-byte value through a 1024-byte ring");
	is(cli_call(c, VPV_STORE_READ, 0, "r/big", 6, out, &olen),
	   VPV_STORE_READ, "read it back");
	is(olen, 3000, "3000 bytes back across several ring fills");

	/* oversize: E2BIG, payload skipped, the next message works */
	h = (struct vpv_store_msg){ VPV_STORE_WRITE, ++c->req_id, 0, 5000 };
	cli_send_raw(c, &h, sizeof(h), false);
	memset(msg, 'z', 5000);
	cli_send_raw(c, msg, 5000, true);
	is(cli_wait(c, out, NULL), VPV_STORE_ERROR, "len 5000 -> ERROR");
	ok(!strcmp(out, "E2BIG"), "E2BIG");
	is(cli_calls(c, VPV_STORE_READ, "r/key", out), VPV_STORE_READ,
	   "framing kept after the skipped payload");

	/* transactions over the ring */
	is(cli_call(c, VPV_STORE_TRANSACTION_START, 0, "", 0, out, NULL),
	   VPV_STORE_TRANSACTION_START, "ring TRANSACTION_START");
	tx = strtoul(out, NULL, 10);
	ok(tx > 0, "transaction id");
	n = snprintf(msg, sizeof(msg), "r/key") + 1;
	memcpy(msg + n, "txval", 5);
	cli_call(c, VPV_STORE_WRITE, tx, msg, n + 5, out, NULL);
	is(cli_call(c, VPV_STORE_TRANSACTION_END, tx, "T", 2, out, NULL),
	   VPV_STORE_TRANSACTION_END, "ring commit");
	cli_calls(c, VPV_STORE_READ, "r/key", out);
	ok(!strcmp(out, "txval"), "committed through the ring");

	/* watches */
	c->events = 0;
	n = snprintf(msg, sizeof(msg), "r") + 1;
	memcpy(msg + n, "tok1", 5);
	is(cli_call(c, VPV_STORE_WATCH, 0, msg, n + 5, out, NULL),
	   VPV_STORE_WATCH, "ring WATCH");
	cli_wait(c, NULL, NULL);
	is(c->events, 1, "watch fires once on registration");
	ok(!strcmp(c->last_event, "r") &&
	   !strcmp(c->last_event + 2, "tok1"), "event: relative path, token");
	snprintf(msg, sizeof(msg), "/local/domain/%u/r/key", ga.domid);
	store_write(STORE_DOMID_HOST, 0, msg, "host", 4);
	cli_wait(c, NULL, NULL);
	is(c->events, 2, "host write fires the guest's watch");
	ok(!strcmp(c->last_event, "r/key"), "event names the changed node");
	store_write(STORE_DOMID_HOST, 0, "/test/unrelated", "", 0);
	cli_wait(c, NULL, NULL);
	is(c->events, 2, "unrelated change: no event");
	cli_calls(c, VPV_STORE_RM, "r", out);
	cli_wait(c, NULL, NULL);
	is(c->events, 3, "rm fires");

	/* overflow: the guest stops consuming; events are dropped, oldest first */
	for (i = 0; i < 300; i++) {
		snprintf(msg, sizeof(msg), "/local/domain/%u/r/k%u", ga.domid, i);
		store_write(STORE_DOMID_HOST, 0, msg, "", 0);
	}
	ok(STAT_GET(&ga, store_watch_dropped) > 0, "overflow drops events (counted)");
	{
		struct store_guest_info si;

		store_guest_info(ga.domid, &si);
		ok(si.outq <= STORE_OUTQ_MAX, "output queue bounded");
	}
	c->events = 0;
	for (i = 0; i < 20; i++)
		cli_wait(c, NULL, NULL);
	ok(c->events > 0 && c->events < 300, "queued events delivered after consuming");
	ok(!!strstr(c->last_event, "k299"), "the newest event survived");

	/* index overflow disconnects */
	c->r->req_prod = c->r->req_cons + 2 * VPV_STORE_RING_SIZE;
	cli_kick(c);
	is(call(&ga, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_STATUS, c->port, 0, 0),
	   VPV_EVTCHN_STAT_UNBOUND, "req index overflow disconnects the ring");
	ok(STAT_GET(&ga, store_protocol_errors) == 1, "protocol error counted");
	is(cli_connect(c, &ga), 0, "reconnect on a new port");
	cli_calls(c, VPV_STORE_READ, "r", out);
	c->r->rsp_cons = c->r->rsp_prod + 5000;
	cli_calls(c, VPV_STORE_READ, "r", out);
	is(call(&ga, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_STATUS, c->port, 0, 0),
	   VPV_EVTCHN_STAT_UNBOUND, "rsp index overflow disconnects");

	/* NEGOTIATE: disconnect, drop watches and transactions, keep nodes */
	is(cli_connect(c, &ga), 0, "connect again");
	store_write(ga.domid, 0, "keep", "1", 1);
	store_watch(ga.domid, "keep", "w");
	store_tx_start(ga.domid, &tx);
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	{
		struct store_guest_info si;

		store_guest_info(ga.domid, &si);
		ok(!si.connected && !si.watches && !si.tx,
		   "NEGOTIATE: disconnected, no watches, no transactions");
	}
	is(gread(ga.domid, 0, "keep", out), 0, "NEGOTIATE keeps the nodes");
	ok(STAT_GET(&ga, store_requests) > 200, "store_requests counted");
	ok(STAT_GET(&ga, store_errors) >= 4, "store_errors counted");
	free(c);
}

/*
 * Finding 6 (no reply over VPV_STORE_PAYLOAD_MAX), long tokens, the
 * negotiated feature set, and a new session after a protocol error.
 */
static void test_ring_limits(void)
{
	char out[VPV_STORE_PAYLOAD_MAX + 64], p[300], tok[300];
	struct cli *c = calloc(1, sizeof(*c));
	struct store_guest_info si;
	uint32_t i, n;

	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION,
	     VPV_HOST_FEATURES & ~VPV_F_STORE, 0, 0);
	is(cli_connect(c, &ga), -VPV_EOPNOTSUPP,
	   "CONNECT without VPV_F_STORE negotiated -> EOPNOTSUPP");
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	is(cli_connect(c, &ga), 0, "CONNECT once negotiated");

	memset(p, 'n', sizeof(p));
	for (i = 0; i < 30; i++) {
		snprintf(p + 200, 32, "%u", i);
		memcpy(p, "ls/", 3);
		store_write(ga.domid, 0, p, "", 0);
	}
	is(cli_calls(c, VPV_STORE_DIRECTORY, "ls", out), VPV_STORE_ERROR,
	   "DIRECTORY of 30 x 200-byte names (6 KB) -> ERROR");
	ok(!strcmp(out, "E2BIG"), "E2BIG (%s)", out);
	is(c->oversize, 0, "no message over the payload limit was sent");
	is(cli_calls(c, VPV_STORE_READ, "ls", out), VPV_STORE_READ,
	   "the ring goes on");
	store_rm(ga.domid, 0, "ls");

	memset(tok, 't', sizeof(tok));
	tok[STORE_TOKEN_MAX + 1] = '\0';
	is(store_watch(ga.domid, "x", tok), -E2BIG, "token over 256 -> E2BIG");
	tok[STORE_TOKEN_MAX] = '\0';
	n = snprintf(out, sizeof(out), "w") + 1;
	memcpy(out + n, tok, STORE_TOKEN_MAX + 1);
	is(cli_call(c, VPV_STORE_WATCH, 0, out, n + STORE_TOKEN_MAX + 1, out,
		    NULL), VPV_STORE_WATCH, "256-byte token through the ring");
	memset(p, 'd', sizeof(p));
	memcpy(p, "w/", 2);
	snprintf(p + VPV_STORE_PATH_MAX - 20, 8, "%s", "/end");
	store_write(ga.domid, 0, p, "", 0);
	cli_wait(c, NULL, NULL);
	ok(c->events >= 2 && !c->oversize, "its events fit (%u)", c->events);

	cli_call(c, VPV_STORE_TRANSACTION_START, 0, "", 0, out, NULL);
	c->r->req_prod = c->r->req_cons + 2 * VPV_STORE_RING_SIZE;
	cli_kick(c);
	store_guest_info(ga.domid, &si);
	ok(!si.connected && si.watches == 1 && si.tx == 1,
	   "protocol error: disconnected");
	ok(c->r->rsp_prod - c->r->rsp_cons > VPV_STORE_RING_SIZE,
	   "the guest is told: rsp_prod a ring ahead");
	is(cli_connect(c, &ga), 0, "reconnect");
	store_guest_info(ga.domid, &si);
	ok(si.connected && !si.watches && !si.tx,
	   "the reconnect starts a new session (no watches, no tx)");
	is(cli_calls(c, VPV_STORE_READ, "w", out), VPV_STORE_READ,
	   "the new session works");
	store_rm(ga.domid, 0, "w");
	free(c);
}

/* vpv-ctl store write PATH VALUE...: a multi-word value */
static void test_ctl_write(void)
{
	static const char line[] = "store write /ctl/x hello big  world";
	struct host h = { 0 };
	struct sbuf out;
	char buf[64];

	sb_init(&out);
	is(ctl_handle_line(&h, line, strlen(line), &out), 0,
	   "ctl store write with three words");
	ok(!!strstr(out.buf, "\"written\":15"), "15 bytes written (%s)",
	   out.buf);
	is(hread("/ctl/x", buf), 0, "read back");
	ok(!strcmp(buf, "hello big world"), "words joined by one space (%s)",
	   buf);
	sb_free(&out);
	sb_init(&out);
	is(ctl_handle_line(&h, "store read /ctl/x y", 19, &out), -EINVAL,
	   "read with an extra word -> usage");
	sb_free(&out);
	store_rm(STORE_DOMID_HOST, 0, "/ctl");
}

int main(void)
{
	test_dir_make();
	test_guest(&ga, 32 << 20, 1);
	test_guest(&gb, 32 << 20, 1);
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	test_tree();
	test_perms();
	test_limits();
	test_tx();
	test_tx_bounds();
	test_tx_time();
	test_tx_atomic();
	test_charset();
	test_op_table();
	test_ring();
	test_ring_limits();
	test_ctl_write();
	guest_destroy(&ga);
	guest_destroy(&gb);
	test_dir_remove();
	return tap_done();
}
