// SPDX-License-Identifier: GPL-2.0
/*
 * The page-sharing scan (src/memory/sharing.c): known contents planted
 * in memfd-backed guest RAM with holes; exact counts per guest and
 * across guests, zero false sharing with every hash forced equal (only
 * the full compare separates pages), holes not faulted in (st_blocks
 * unchanged), PFN ranges above 4 GiB, and the control command.
 */
#include "testutil.h"

#include <sys/mman.h>
#include <sys/stat.h>

#define PG	4096u

/* deterministic bytes: a page of content "seed" (never all zero) */
static void fill(uint8_t *p, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	unsigned int i;

	for (i = 0; i < PG; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
}

static void put(int fd, uint64_t idx, const uint8_t *p)
{
	if (pwrite(fd, p, PG, (off_t)(idx * PG)) != PG)
		BAIL("pwrite: %s", strerror(errno));
}

static void put_seed(int fd, uint64_t idx, uint64_t seed)
{
	uint8_t p[PG];

	fill(p, seed);
	put(fd, idx, p);
}

static void put_zero(int fd, uint64_t idx)
{
	static const uint8_t z[PG];

	put(fd, idx, z);
}

static int ram(uint64_t size)
{
	int fd = memfd_create("share-test", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		BAIL("memfd: %s", strerror(errno));
	return fd;
}

static uint64_t blocks(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		BAIL("fstat: %s", strerror(errno));
	return (uint64_t)st.st_blocks;
}

static void src_of(struct sharing_src *s, const char *name, int fd,
		   uint64_t size)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->fd = fd;
	s->nr_pages = size / PG;
	s->lowmem_pages = gpa_lowmem(size) / PG;
}

/*
 * One guest, 8 MiB, mostly holes: at page 100 Z zero pages, at 200 D
 * pages of one content, at 300 U unique pages, at 400 N pages each
 * equal to the D content but for its last byte (near duplicates: must
 * stay unique, whatever the hash says).
 */
#define Z1	10
#define D1	7
#define U1	20
#define N1	3

static void plant_one(int fd)
{
	uint8_t p[PG];
	int i;

	for (i = 0; i < Z1; i++)
		put_zero(fd, 100 + i);
	for (i = 0; i < D1; i++)
		put_seed(fd, 200 + i, 1);
	for (i = 0; i < U1; i++)
		put_seed(fd, 300 + i, 1000 + i);
	for (i = 0; i < N1; i++) {
		fill(p, 1);
		p[PG - 1] ^= (uint8_t)(i + 1);
		put(fd, 400 + i, p);
	}
}

static void check_one(const char *what)
{
	const uint64_t size = 8u << 20;
	struct sharing_counts c;
	struct sharing_pass *p = NULL;
	struct sharing_src s;
	uint64_t b0;
	char d[128];
	int fd = ram(size), ret;

	plant_one(fd);
	src_of(&s, "one", fd, size);
	b0 = blocks(fd);
	ret = sharing_scan(&s, 1, NULL, &p);
	snprintf(d, sizeof(d), "%s: scan", what);
	if (!ok(!ret && p, "%s", d))
		BAIL("sharing_scan: %s", strerror(-ret));
	snprintf(d, sizeof(d), "%s: the holes stay holes (st_blocks)", what);
	is(blocks(fd), b0, d);
	snprintf(d, sizeof(d), "%s: scanned = planted pages", what);
	is(p->guests[0].scanned_pages, Z1 + D1 + U1 + N1, d);
	snprintf(d, sizeof(d), "%s: zero pages", what);
	is(p->guests[0].zero_pages, Z1, d);
	snprintf(d, sizeof(d), "%s: duplicates within", what);
	is(p->guests[0].dup_pages, D1, d);
	snprintf(d, sizeof(d), "%s: no cross-guest duplicates", what);
	is(p->guests[0].cross_pages, 0, d);
	snprintf(d, sizeof(d), "%s: unique pages, near duplicates too", what);
	is(p->guests[0].unique_pages, U1 + N1, d);
	snprintf(d, sizeof(d), "%s: distinct non-zero contents", what);
	is(p->distinct_pages, 1 + U1 + N1, d);
	snprintf(d, sizeof(d), "%s: saved: zeros share one frame", what);
	is(p->saved_pages, (Z1 - 1) + (D1 - 1), d);
	is(p->saved_nonzero_pages, D1 - 1, "saved, non-zero only");
	sharing_range(&p->guests[0], 200, 200 + D1 - 1, &c);
	snprintf(d, sizeof(d), "%s: the D range: all duplicates", what);
	ok(c.scanned == D1 && c.dup == D1 && !c.cross && !c.zero &&
	   !c.unique, "%s", d);
	sharing_range(&p->guests[0], 300, 300 + U1 + 9, &c);
	snprintf(d, sizeof(d), "%s: the U range: all unique, holes unscanned",
		 what);
	ok(c.scanned == U1 && c.unique == U1 && !c.dup && !c.cross && !c.zero,
	   "%s", d);
	sharing_range(&p->guests[0], 400, 400 + N1 - 1, &c);
	snprintf(d, sizeof(d), "%s: near duplicates are not shared", what);
	ok(c.unique == N1 && !c.dup, "%s", d);
	if (!sharing_hash_mask) {
		printf("# forced-equal hashes: %llu full compares, %llu collisions\n",
		       (unsigned long long)p->hash_matches,
		       (unsigned long long)p->collisions);
		ok(p->collisions >= U1 + N1, "%s: collisions caught by the compare",
		   what);
	} else {
		is(p->collisions, 0, "the real hash: no collision");
	}
	sharing_pass_free(p);
	close(fd);
}

/*
 * Two guests: each its own D content, a content X both have, unique
 * pages; zeros in both.  Cross counts per guest.
 */
static void test_two(void)
{
	const uint64_t size = 4u << 20;
	int a = ram(size), b = ram(size), i, ret;
	struct sharing_src s[2];
	struct sharing_pass *p = NULL;
	struct sharing_counts c;

	for (i = 0; i < 6; i++)
		put_seed(a, 10 + i, 11);	/* D_a */
	for (i = 0; i < 4; i++)
		put_seed(a, 20 + i, 99);	/* X */
	for (i = 0; i < 5; i++)
		put_seed(a, 30 + i, 500 + i);	/* U_a */
	for (i = 0; i < 2; i++)
		put_zero(a, 40 + i);
	for (i = 0; i < 3; i++)
		put_seed(b, 50 + i, 22);	/* D_b */
	put_seed(b, 60, 99);			/* X, once in b */
	for (i = 0; i < 5; i++)
		put_seed(b, 70 + i, 600 + i);	/* U_b */
	for (i = 0; i < 3; i++)
		put_zero(b, 80 + i);
	put_seed(b, 90, 500);			/* = U_a's first page */
	src_of(&s[0], "a", a, size);
	src_of(&s[1], "b", b, size);
	ret = sharing_scan(s, 2, NULL, &p);
	if (!ok(!ret && p, "two guests: scan"))
		BAIL("sharing_scan: %s", strerror(-ret));
	is(p->guests[0].dup_pages, 6 + 4, "a: duplicates within (D, X)");
	is(p->guests[0].cross_pages, 4 + 1, "a: across (X, one U page)");
	is(p->guests[0].unique_pages, 4, "a: unique");
	is(p->guests[1].dup_pages, 3, "b: duplicates within (D)");
	is(p->guests[1].cross_pages, 2, "b: across (X once, the copied U)");
	is(p->guests[1].unique_pages, 5, "b: unique");
	is(p->zero_pages, 5, "zero pages of both");
	is(p->distinct_pages, 1 + 1 + 5 + 1 + 5, "distinct: D_a, X, U_a, D_b, U_b");
	/* zeros into one frame, D_a, X (4 + 1), D_b, U_a[0] and its copy */
	is(p->saved_pages, (5 - 1) + (6 - 1) + (5 - 1) + (3 - 1) + (2 - 1),
	   "saved across guests");
	sharing_range(&p->guests[1], 60, 60, &c);
	ok(c.cross == 1 && !c.dup, "b's single X page: across, not within");
	sharing_pass_free(p);
	close(a);
	close(b);
}

/* RAM above 4 GiB: PFN ranges map past the PCI hole. */
static void test_high(void)
{
	const uint64_t size = 4ull << 30;	/* sparse: no memory used */
	const uint64_t low = gpa_lowmem(size) / PG, pfn4g = 1ull << 20;
	struct sharing_pass *p = NULL;
	struct sharing_counts c;
	struct sharing_src s;
	uint64_t n;
	int fd = ram(size), i;

	for (i = 0; i < 4; i++)
		put_seed(fd, low + 5 + i, 7);
	put_zero(fd, low - 1);
	src_of(&s, "high", fd, size);
	if (!ok(!sharing_scan(&s, 1, NULL, &p) && p, "4 GiB guest: scan"))
		return;
	is(p->guests[0].scanned_pages, 5, "4 GiB guest: scanned 5 pages");
	n = sharing_range(&p->guests[0], pfn4g + 5, pfn4g + 8, &c);
	ok(n == 4 && c.dup == 4, "PFNs above 4 GiB: the planted duplicates");
	n = sharing_range(&p->guests[0], low - 1, pfn4g, &c);
	ok(n == 2 && c.zero == 1 && c.scanned == 1,
	   "a range across the PCI hole: its RAM pages only");
	sharing_pass_free(p);
	close(fd);
}

/* The control command over real guests (memfd RAM, guest_init()). */
static void test_ctl(void)
{
	struct guest gs[2];
	struct host h = { .guests = gs, .nr_guests = 2 };
	struct sbuf out;
	const char *r;
	int i, ret, tries;

	memset(gs, 0, sizeof(gs));
	test_guest(&gs[0], 16u << 20, 1);
	test_guest(&gs[1], 16u << 20, 1);
	for (i = 0; i < 8; i++) {
		put_seed(gs[0].ram_fd, 1000 + i, 5);
		put_seed(gs[1].ram_fd, 2000 + i, 5);
	}
	sb_init(&out);
	ret = ctl_handle_line(&h, "sharing --peek", 14, &out);
	ok(!ret && strstr(out.buf, "\"pass\":0,\"running\":false"),
	   "ctl: no pass before the first request: %s", out.buf);
	sb_free(&out);
	sb_init(&out);
	ret = ctl_handle_line(&h, "sharing", 7, &out);
	ok(!ret && strstr(out.buf, "\"running_pass\":1,\"started\":true"),
	   "ctl: sharing starts pass 1, says so");
	for (tries = 0; tries < 1000; tries++) {
		sb_free(&out);
		sb_init(&out);
		ctl_handle_line(&h, "sharing --peek t1 2000-2007", 27, &out);
		if (strstr(out.buf, "\"pass\":1"))
			break;
		usleep(10000);
	}
	ok(!!strstr(out.buf, "\"pass\":1,\"running\":false"),
	   "ctl: pass 1 done, none running (--peek starts none)");
	r = strstr(out.buf, "\"start\":2000,\"end\":2007,\"pages\":8,");
	ok(r && strstr(r, "\"scanned_pages\":8,\"zero_pages\":0,") &&
	   strstr(r, "\"dup_pages\":8,\"cross_pages\":8,\"unique_pages\":0"),
	   "ctl: t1's range: 8 pages, all duplicated within and across: %s",
	   out.buf);
	ok(!strstr(out.buf, "\"name\":\"t0\""),
	   "ctl: only the guest asked for");
	sb_free(&out);
	sb_init(&out);
	ret = ctl_handle_line(&h, "sharing nosuch", 14, &out);
	ok(ret == -ENOENT && strstr(out.buf, "no such guest"),
	   "ctl: unknown guest refused");
	sb_free(&out);
	sb_init(&out);
	ret = ctl_handle_line(&h, "sharing t0 12", 13, &out);
	ok(ret == -EINVAL && strstr(out.buf, "usage"),
	   "ctl: a range without END refused");
	sb_free(&out);
	sb_init(&out);
	ret = ctl_handle_line(&h, "sharing t0 9-3", 14, &out);
	ok(ret == -EINVAL, "ctl: END before START refused");
	sb_free(&out);
	/* a pass in flight at exit: stopped, its fds closed */
	sb_init(&out);
	ctl_handle_line(&h, "sharing", 7, &out);
	sb_free(&out);
	for (i = 0; i < 2; i++)
		guest_destroy(&gs[i]);
	sharing_stop();
	ok(1, "ctl: sharing_stop() with a pass in flight");
}

int main(void)
{
	check_one("real hash");
	sharing_hash_mask = 0;
	check_one("all hashes equal");
	test_two();
	sharing_hash_mask = UINT64_MAX;
	test_high();
	test_ctl();
	return tap_done();
}
