// SPDX-License-Identifier: GPL-2.0
/*
 * The copy-on-write overlay (backend/cow.c) and the vpv-cow tool.
 * Checked against a model (a buffer holding what the virtual disk must
 * read): read-through of the base, thousands of random writes at
 * unaligned edges, discards, zeroing, resizes and reopens; two writes
 * in flight to one block; the bitmap on disk right after
 * cow_write_done() and after a reopen without flush; a changed base
 * refused (-ESTALE); each header field corrupted and refused; vpv-cow's
 * merge equal to the model byte for byte; the base never modified.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tap.h"
#include "cow.h"

#define KIB		1024u
#define MIB		(1024u * KIB)
/* a base not a multiple of a block or a sector: the tail edge cases */
#define BASE_SIZE	(MIB + 1000)
/* the virtual disk: larger than the base, so zeros past its end */
#define VSIZE		(2 * MIB)
#define RANDOM_OPS	5000	/* "thousands": ~2 s under ASan */
#define MAX_IO		(64 * KIB)	/* largest random request */
#define MAX_RUNS	(MAX_IO / COW_BLOCK_SIZE + 3)

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define DIR_TEMPLATE	"/tmp/vpv-cow-test-XXXXXX"

static char dir[sizeof(DIR_TEMPLATE)] = DIR_TEMPLATE;
static char base_path[64], ovl_path[64], tool[4200];
static uint8_t *base_data;	/* the base's content, as made */
static struct timespec base_mtime;
static uint8_t *model;		/* what the virtual disk must read */
static uint64_t model_size;
static uint64_t model_base = BASE_SIZE;	/* bytes of base_data the base has */
static bool aligned_only;	/* O_DIRECT: sector-aligned requests */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void path_in(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || pwrite(fd, data, len, 0) != (ssize_t)len)
		BAIL("write %s: %s", path, strerror(errno));
	close(fd);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		BAIL("open %s: %s", path, strerror(errno));
	p = malloc(st.st_size + 1);
	if (!p || pread(fd, p, st.st_size, 0) != st.st_size)
		BAIL("read %s", path);
	close(fd);
	*len = st.st_size;
	return p;
}

/* random content, with a hole of zeros in the middle (sparse-looking) */
static void make_base(void)
{
	struct stat st;
	size_t i;

	base_data = malloc(BASE_SIZE);
	if (!base_data)
		BAIL("malloc");
	for (i = 0; i < BASE_SIZE; i++)
		base_data[i] = (uint8_t)(rnd() | 1);
	memset(base_data + 256 * KIB, 0, 128 * KIB);
	path_in(base_path, sizeof(base_path), "base.img");
	write_file(base_path, base_data, BASE_SIZE);
	if (stat(base_path, &st))
		BAIL("stat base");
	base_mtime = st.st_mtim;
}

static int open_ro(const char *p)
{
	int fd = open(p, O_RDONLY);

	if (fd < 0)
		BAIL("open %s: %s", p, strerror(errno));
	return fd;
}

static int open_rw(const char *p, bool creat)
{
	int fd = open(p, O_RDWR | (creat ? O_CREAT : 0), 0644);

	if (fd < 0)
		BAIL("open %s: %s", p, strerror(errno));
	return fd;
}

/* read [off, off + len) through the runs; 0 or -errno */
static int cow_read(struct cow *c, uint64_t off, uint32_t len, uint8_t *buf)
{
	struct cow_run r[MAX_RUNS + 256];
	uint32_t expect = 0;
	int i, n;

	n = cow_read_map(c, off, len, r, ARRAY_SIZE(r));
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (r[i].buf_off != expect || !r[i].len)
			return -EPROTO;		/* runs in order, no gap */
		expect += r[i].len;
		if (r[i].fd < 0)
			memset(buf + r[i].buf_off, 0, r[i].len);
		else if (pread(r[i].fd, buf + r[i].buf_off, r[i].len,
			       r[i].off) != r[i].len)
			return -EIO;
	}
	return expect == len ? 0 : -EPROTO;
}

static int cow_write(struct cow *c, uint64_t off, uint32_t len,
		     const uint8_t *data)
{
	struct cow_run r;
	int ret;

	ret = cow_write_prepare(c, off, len, &r);
	if (ret)
		return ret;
	if (pwrite(r.fd, data + r.buf_off, r.len, r.off) != r.len)
		return -EIO;
	return cow_write_done(c, off, len);
}

/* the whole virtual disk against the model */
static bool matches_model(struct cow *c)
{
	uint8_t *buf = NULL;
	bool same;

	/* aligned for O_DIRECT */
	if (posix_memalign((void **)&buf, 4096, model_size))
		buf = NULL;
	same = buf && cow_size(c) == model_size &&
	       !cow_read(c, 0, (uint32_t)model_size, buf) &&
	       !memcmp(buf, model, model_size);
	free(buf);
	return same;
}

static bool base_unchanged(void)
{
	struct stat st;
	size_t len;
	uint8_t *p = read_file(base_path, &len);
	bool same = len == BASE_SIZE && !memcmp(p, base_data, len);

	free(p);
	return same && !stat(base_path, &st) &&
	       st.st_mtim.tv_sec == base_mtime.tv_sec &&
	       st.st_mtim.tv_nsec == base_mtime.tv_nsec;
}

static void model_reset(uint64_t size)
{
	free(model);
	model = calloc(1, size);
	if (!model)
		BAIL("calloc");
	memcpy(model, base_data, size < model_base ? size : model_base);
	model_size = size;
}

static void model_resize(uint64_t size)
{
	model = realloc(model, size);
	if (!model)
		BAIL("realloc");
	if (size > model_size)
		memset(model + model_size, 0, size - model_size);
	model_size = size;
}

/* the model of a discard: whole blocks inside read zeros */
static void model_discard(uint64_t off, uint64_t len)
{
	uint64_t first = (off + COW_BLOCK_SIZE - 1) / COW_BLOCK_SIZE;
	uint64_t end = off + len, stop = end / COW_BLOCK_SIZE;

	if (end == model_size)
		stop = (model_size + COW_BLOCK_SIZE - 1) / COW_BLOCK_SIZE;
	if (first >= stop)
		return;
	end = stop * COW_BLOCK_SIZE;
	if (end > model_size)
		end = model_size;
	memset(model + first * COW_BLOCK_SIZE, 0,
	       end - first * COW_BLOCK_SIZE);
}

static struct cow *reopen(struct cow *c, int ofd, int bfd)
{
	int ret;

	cow_close(c);
	ret = cow_open(ofd, bfd, false, &c);
	if (ret)
		BAIL("cow_open again: %d", ret);
	return c;
}

static void test_create_open(void)
{
	struct cow_info in;
	struct cow *c;
	uint8_t buf[8192];
	int ofd, bfd = open_ro(base_path), ret;

	path_in(ovl_path, sizeof(ovl_path), "basic.cow");
	ofd = open_rw(ovl_path, true);
	is(cow_open(ofd, bfd, false, &c), -EINVAL, "empty overlay without create refused");
	is(cow_open(ofd, ofd, true, &c), -EINVAL, "overlay == base refused");
	ret = cow_open(ofd, bfd, true, &c);
	is(ret, 0, "create through cow_open on an empty overlay");
	if (ret)
		BAIL("create");
	is(cow_size(c), BASE_SIZE + 24, "virtual size = base rounded up to 512");
	cow_get_info(c, &in);
	ok(in.data_off % COW_DATA_ALIGN == 0 && in.bitmap_off == 4096 &&
	   in.data_off >= in.bitmap_off + in.bitmap_len,
	   "layout: bitmap at 4096, data 1 MiB aligned after it");
	model_reset(cow_size(c));
	ok(matches_model(c), "fresh overlay reads the base, zeros past its end");
	ok(!cow_read(c, BASE_SIZE - 100, 124, buf) &&
	   !memcmp(buf, base_data + BASE_SIZE - 100, 100) &&
	   !buf[100] && !buf[123], "read straddling the base's end");
	is(cow_written_blocks(c), 0, "no block written");
	c = reopen(c, ofd, bfd);
	ok(matches_model(c), "reopened: still the base");
	cow_close(c);
	is(cow_open(ofd, bfd, true, &c) == 0, 1,
	   "create flag on a non-empty overlay opens it");
	cow_close(c);
	close(ofd);
	close(bfd);
}

static void test_bad_ranges(struct cow *c)
{
	struct cow_run r[4];
	uint64_t vs = cow_size(c);

	is(cow_read_map(c, 0, 0, r, 4), -EINVAL, "read of length 0");
	is(cow_read_map(c, vs - 512, 1024, r, 4), -EINVAL, "read past the end");
	is(cow_read_map(c, UINT64_MAX - 10, 512, r, 4), -EINVAL,
	   "read at an overflowing offset");
	is(cow_write_prepare(c, vs, 512, r), -EINVAL, "write past the end");
	is(cow_write_done(c, 100, 200), -EINVAL,
	   "write_done of an unprepared partial block");
	is(cow_discard(c, vs - 4096, 8192, true), -EINVAL, "zero past the end");
	is(cow_read_map(c, 0, 64 * KIB, r, 1) == -ENOBUFS ||
	   cow_read_map(c, 0, 64 * KIB, r, 1) == 1, 1,
	   "too few runs: -ENOBUFS, never an overflow");
	is(cow_resize(c, 1000), -EINVAL, "resize to a non-512 size");
	is(cow_resize(c, 0), -EINVAL, "resize to 0");
	is(cow_resize(c, COW_MIN_CAPACITY + 512), -ENOSPC,
	   "resize past the bitmap's capacity");
}

/* the bit of block b on disk */
static int disk_bit(int ofd, const struct cow *c, uint64_t b)
{
	struct cow_info in;
	uint8_t byte;

	cow_get_info(c, &in);
	if (pread(ofd, &byte, 1, in.bitmap_off + b / 8) != 1)
		return -1;
	return !!(byte & (1u << (b % 8)));
}

static void test_edges_and_persist(void)
{
	uint8_t data[3 * 4096], buf[3 * 4096];
	struct cow_run ra, rb;
	struct cow *c;
	int ofd, bfd = open_ro(base_path);

	path_in(ovl_path, sizeof(ovl_path), "edges.cow");
	ofd = open_rw(ovl_path, true);
	if (cow_create(ofd, bfd, VSIZE, "edges", &c))
		BAIL("create edges");
	model_reset(VSIZE);
	test_bad_ranges(c);
	memset(data, 0xab, sizeof(data));
	is(cow_write(c, 4096 + 100, 4096, data), 0, "write over two partial blocks");
	memcpy(model + 4096 + 100, data, 4096);
	is(disk_bit(ofd, c, 1) + disk_bit(ofd, c, 2), 2,
	   "bits on disk right after cow_write_done");
	is(disk_bit(ofd, c, 0) + disk_bit(ofd, c, 3), 0, "neighbours' bits clear");
	ok(!cow_read(c, 0, sizeof(buf), buf) &&
	   !memcmp(buf, model, sizeof(buf)), "copy-up kept the base's bytes around the write");
	/* two writes in flight to one block: the second is prepared after
	 * the first's data landed, and must not copy the block up again
	 */
	memset(data, 0x11, 512);
	memset(data + 512, 0x22, 1024);
	ok(!cow_write_prepare(c, 40960 + 512, 512, &ra) &&
	   pwrite(ra.fd, data, 512, ra.off) == 512 &&
	   !cow_write_prepare(c, 40960 + 2048, 1024, &rb) &&
	   pwrite(rb.fd, data + 512, 1024, rb.off) == 1024,
	   "two writes to one block in flight");
	ok(!cow_write_done(c, 40960 + 2048, 1024) &&
	   !cow_write_done(c, 40960 + 512, 512), "both done, in reverse order");
	memcpy(model + 40960 + 512, data, 512);
	memcpy(model + 40960 + 2048, data + 512, 1024);
	ok(matches_model(c), "both writes to one block kept (copied up once)");
	is(cow_written_blocks(c), 3, "3 blocks written");
	cow_close(c);	/* no flush */
	is(cow_open(ofd, bfd, false, &c), 0, "reopen without flush");
	ok(matches_model(c), "reopened: the writes are there");
	is(cow_flush(c), 0, "flush");
	cow_close(c);
	close(ofd);
	close(bfd);
}

static void test_discard(void)
{
	uint8_t data[4 * 4096];
	struct stat st1, st2;
	struct cow *c;
	int ofd, bfd = open_ro(base_path);

	path_in(ovl_path, sizeof(ovl_path), "discard.cow");
	ofd = open_rw(ovl_path, true);
	if (cow_create(ofd, bfd, VSIZE, NULL, &c))
		BAIL("create discard");
	model_reset(VSIZE);
	memset(data, 0x5a, sizeof(data));
	if (cow_write(c, 65536, sizeof(data), data) || cow_flush(c))
		BAIL("write");
	memcpy(model + 65536, data, sizeof(data));
	fstat(ofd, &st1);
	is(cow_discard(c, 65536 + 100, 3 * 4096, false), 0, "discard a range");
	model_discard(65536 + 100, 3 * 4096);
	ok(matches_model(c), "whole blocks inside read zeros, edges kept");
	fstat(ofd, &st2);
	ok(st2.st_blocks < st1.st_blocks, "overlay blocks freed (%lld -> %lld)",
	   (long long)st1.st_blocks, (long long)st2.st_blocks);
	is(cow_discard(c, 200 * KIB + 1, 100, false), 0,
	   "discard inside one block: nothing to do");
	ok(matches_model(c), "... and the block kept its data");
	is(cow_discard(c, 8192 + 300, 9000, true), 0, "zero an unaligned range of the base");
	memset(model + 8192 + 300, 0, 9000);
	ok(matches_model(c), "zeroed exactly, the base hidden, neighbours kept");
	is(cow_discard(c, 0, VSIZE, false), 0, "discard the whole disk");
	memset(model, 0, VSIZE);
	ok(matches_model(c), "the whole disk reads zeros");
	is(cow_written_blocks(c), VSIZE / 4096, "every block marked");
	c = reopen(c, ofd, bfd);
	ok(matches_model(c), "reopened: still zeros");
	cow_close(c);
	close(ofd);
	close(bfd);
}

static void test_resize(void)
{
	uint8_t data[4096];
	struct cow *c;
	int ofd, bfd = open_ro(base_path);

	path_in(ovl_path, sizeof(ovl_path), "resize.cow");
	ofd = open_rw(ovl_path, true);
	if (cow_create(ofd, bfd, 0, NULL, &c))
		BAIL("create resize");
	model_reset(cow_size(c));
	memset(data, 0x77, sizeof(data));
	if (cow_write(c, 200 * KIB + 10, 3000, data))
		BAIL("write");
	memcpy(model + 200 * KIB + 10, data, 3000);
	is(cow_resize(c, 3 * MIB), 0, "grow past the base");
	model_resize(3 * MIB);
	ok(matches_model(c), "grown range reads zeros");
	is(cow_resize(c, 200 * KIB + 512), 0, "shrink into a written block");
	model_resize(200 * KIB + 512);
	ok(matches_model(c), "shrunk: the head kept");
	is(cow_resize(c, 2 * MIB), 0, "grow again over the base's range");
	model_resize(2 * MIB);
	ok(matches_model(c), "regrown range reads zeros, not the base or old data");
	c = reopen(c, ofd, bfd);
	is(cow_size(c), 2 * MIB, "reopened: size kept");
	ok(matches_model(c), "reopened: contents kept");
	is(cow_resize(c, 64ull << 30), 0, "grow to the minimum capacity (64 GiB)");
	is(cow_resize(c, 2 * MIB), 0, "and back");
	ok(matches_model(c), "contents after a large grow and shrink");
	cow_close(c);
	close(ofd);
	close(bfd);
}

/* one random operation on c and the model */
static int random_op(struct cow *c, uint8_t *data, uint8_t *buf)
{
	uint64_t off, len, k = rnd() % 100;

	if (k < 2) {		/* resize, 512-aligned, within 1 .. 3 MiB */
		len = (MIB + rnd() % (2 * MIB)) & ~511ull;
		model_resize(len);
		return cow_resize(c, len);
	}
	off = rnd() % model_size;
	len = 1 + rnd() % MAX_IO;
	if (aligned_only || rnd() % 2) {	/* sector-aligned, as a guest does */
		off &= ~511ull;
		len = (len + 511) & ~511ull;
	}
	if (len > model_size - off)
		len = model_size - off;
	if (k < 50) {
		memset(data, (int)(rnd() | 1), len);
		data[0] = (uint8_t)rnd();
		memcpy(model + off, data, len);
		return cow_write(c, off, (uint32_t)len, data);
	}
	if (k < 55) {
		memset(model + off, 0, len);
		return cow_discard(c, off, len, true);
	}
	if (k < 58) {
		model_discard(off, len);
		return cow_discard(c, off, len, false);
	}
	if (cow_read(c, off, (uint32_t)len, buf))
		return -EIO;
	return memcmp(buf, model + off, len) ? -EILSEQ : 0;
}

static void test_random(void)
{
	uint8_t *data = malloc(MAX_IO), *buf = malloc(MAX_IO);
	int ofd, bfd = open_ro(base_path), i, ret = 0, bad = -1;
	struct cow *c;

	path_in(ovl_path, sizeof(ovl_path), "random.cow");
	ofd = open_rw(ovl_path, true);
	if (!data || !buf || cow_create(ofd, bfd, VSIZE, base_path, &c))
		BAIL("create random");
	model_reset(VSIZE);
	for (i = 0; i < RANDOM_OPS && !ret; i++) {
		ret = random_op(c, data, buf);
		if (ret)
			bad = i;
		if (i % 500 == 499)
			c = reopen(c, ofd, bfd);
		if (i % 1000 == 999 && !matches_model(c)) {
			ret = -EILSEQ;
			bad = i;
		}
	}
	ok(!ret, "%d random writes/reads/discards/zeroes/resizes/reopens (failed at op %d: %d)",
	   RANDOM_OPS, bad, ret);
	ok(matches_model(c), "the whole disk equals the model");
	is(cow_flush(c), 0, "flush");
	cow_close(c);
	close(ofd);
	close(bfd);
	free(data);
	free(buf);
}

/*
 * The overlay and the base opened O_DIRECT (as vpv-blkback --direct
 * may): the library's own I/O (copy-up, bitmap, header) must be aligned
 * or it fails EINVAL.  Sector-aligned random ops, as a guest sends.
 */
static void test_direct(void)
{
	uint8_t *data = NULL, *buf = NULL;
	char b2[64], o2[64];
	struct cow *c;
	int ofd, bfd, i, ret = 0, bad = -1;

	path_in(b2, sizeof(b2), "direct.img");
	path_in(o2, sizeof(o2), "direct.cow");
	write_file(b2, base_data, MIB);
	close(open_rw(o2, true));
	ofd = open(o2, O_RDWR | O_DIRECT);
	bfd = open(b2, O_RDONLY | O_DIRECT);
	if (ofd < 0 || bfd < 0) {
		ok(0, "O_DIRECT open: %s", strerror(errno));
		return;
	}
	if (posix_memalign((void **)&data, 4096, MAX_IO) ||
	    posix_memalign((void **)&buf, 4096, MAX_IO) ||
	    cow_create(ofd, bfd, VSIZE, b2, &c))
		BAIL("create direct");
	model_base = MIB;
	aligned_only = true;
	model_reset(VSIZE);
	for (i = 0; i < 500 && !ret; i++) {
		ret = random_op(c, data, buf);
		if (ret)
			bad = i;
		if (i % 100 == 99)
			c = reopen(c, ofd, bfd);
	}
	ok(!ret, "O_DIRECT: 500 random sector-aligned ops (failed at %d: %d)",
	   bad, ret);
	ok(matches_model(c), "O_DIRECT: the whole disk equals the model");
	cow_close(c);
	aligned_only = false;
	model_base = BASE_SIZE;
	close(ofd);
	close(bfd);
	unlink(o2);
	unlink(b2);
	free(data);
	free(buf);
}

/* independent CRC-32C, to check the format as documented */
static uint32_t crc32c_ref(const uint8_t *p, size_t n)
{
	static uint32_t tab[256];
	uint32_t crc = ~0u;
	int i, k;

	if (!tab[1]) {
		for (i = 0; i < 256; i++) {
			uint32_t v = (uint32_t)i;

			for (k = 0; k < 8; k++)
				v = (v >> 1) ^ (v & 1 ? 0x82f63b78u : 0);
			tab[i] = v;
		}
	}
	while (n--)
		crc = tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put64(uint8_t *h, unsigned int off, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		h[off + i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *h, unsigned int off, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		h[off + i] = (uint8_t)(v >> (8 * i));
}

static void fix_crc(uint8_t *h)
{
	put32(h, 4092, crc32c_ref(h, 4092));
}

/* the overlay with its header replaced by h (len bytes): cow_open's result */
static int open_with_header(const uint8_t *ovl, size_t ovl_len,
			    const uint8_t *h, size_t len)
{
	char p[64];
	struct cow *c;
	int fd, bfd, ret;

	path_in(p, sizeof(p), "corrupt.cow");
	write_file(p, ovl, ovl_len);
	fd = open_rw(p, false);
	if (pwrite(fd, h, len, 0) != (ssize_t)len ||
	    (len < 4096 && ftruncate(fd, len)))
		BAIL("write header");
	bfd = open_ro(base_path);
	ret = cow_open(fd, bfd, false, &c);
	if (!ret)
		cow_close(c);
	close(fd);
	close(bfd);
	unlink(p);
	return ret;
}

struct mutation {
	const char *what, *why;		/* why: cow_parse_header()'s reason */
	unsigned int off, width;	/* width 0: xor a byte, no CRC fix */
	uint64_t val;
};

/* 4095 path bytes of 'y': the path field with no NUL */
#define FILL_PATH	5

static const struct mutation mutations[] = {
	{ "magic", "magic", 0, 1, 'X' },
	{ "version 2", "version", 8, 4, 2 },
	{ "version 0", "version", 8, 4, 0 },
	{ "header size 8192", "header size", 12, 4, 8192 },
	{ "block size 512", "block size", 16, 4, 512 },
	{ "flags 1", "flags", 20, 4, 1 },
	{ "virtual size 0", "virtual size", 24, 8, 0 },
	{ "virtual size 1000 (not 512-aligned)", "virtual size", 24, 8, 1000 },
	{ "virtual size over the bitmap", "bitmap length", 24, 8,
	  (64ull << 30) + 512 },
	{ "virtual size over COW_MAX_SIZE", "virtual size", 24, 8,
	  (1ull << 40) + 512 },
	{ "virtual size 2^64 - 512", "virtual size", 24, 8, ~511ull },
	{ "base size over COW_MAX_SIZE", "base size", 32, 8, (1ull << 40) + 1 },
	{ "bitmap offset 0 (over the header)", "bitmap offset", 48, 8, 0 },
	{ "bitmap offset 2048", "bitmap offset", 48, 8, 2048 },
	{ "bitmap offset 4097 (unaligned)", "bitmap offset", 48, 8, 4097 },
	{ "bitmap offset 2 MiB (too far)", "bitmap offset", 48, 8, 2 * MIB },
	{ "bitmap offset 2^63", "bitmap offset", 48, 8, 1ull << 63 },
	{ "bitmap length 0", "bitmap length", 56, 8, 0 },
	{ "bitmap length 4095", "bitmap length", 56, 8, 4095 },
	{ "bitmap length over 32 MiB", "bitmap length", 56, 8, 33 * MIB },
	{ "bitmap length 2^64 - 4096", "bitmap length", 56, 8, ~4095ull },
	{ "data offset unaligned", "data offset", 64, 8, 3 * MIB + 4096 },
	{ "data offset over the bitmap", "data offset", 64, 8, MIB },
	{ "data offset 0", "data offset", 64, 8, 0 },
	{ "data offset far past the bitmap", "data offset", 64, 8, 8 * MIB },
	{ "reserved byte 72", "reserved", 72, 1, 1 },
	{ "reserved byte 127", "reserved", 127, 1, 0x80 },
	{ "base path not NUL-padded", "NUL-padded", 128 + 100, 1, 'z' },
	{ "base path not NUL-terminated", "NUL-terminated", 128, FILL_PATH, 0 },
	{ "checksum", "checksum", 4092, 0, 0x01 },
	{ "a path byte without a checksum fix", "checksum", 130, 0, 0x40 },
	{ "virtual size without a checksum fix", "checksum", 24, 0, 0x02 },
};

/* h with mutation m applied */
static void mutate(uint8_t *x, const struct mutation *m)
{
	if (m->width == 0)
		x[m->off] ^= (uint8_t)m->val;
	else if (m->width == 1)
		x[m->off] = (uint8_t)m->val;
	else if (m->width == 4)
		put32(x, m->off, (uint32_t)m->val);
	else if (m->width == 8)
		put64(x, m->off, m->val);
	else if (m->width == FILL_PATH)
		memset(x + 128, 'y', 4092 - 128);
	if (m->width)
		fix_crc(x);
}

static void test_corrupt_headers(void)
{
	uint8_t *ovl, h[4096];
	size_t len, i;
	char p[64];
	struct cow *c;
	int ofd, bfd = open_ro(base_path);

	path_in(p, sizeof(p), "pristine.cow");
	ofd = open_rw(p, true);
	if (cow_create(ofd, bfd, VSIZE, "/some/base/path", &c))
		BAIL("create pristine");
	cow_close(c);
	close(ofd);
	close(bfd);
	ovl = read_file(p, &len);
	unlink(p);
	memcpy(h, ovl, sizeof(h));
	is(crc32c_ref((const uint8_t *)"123456789", 9), 0xe3069283,
	   "CRC-32C check value");
	ok(!memcmp(h, "PVKITCOW", 8) && h[8] == 1 &&
	   crc32c_ref(h, 4092) == (uint32_t)(h[4092] | h[4093] << 8 |
					     h[4094] << 16 | (uint32_t)h[4095] << 24),
	   "header as documented: magic, version, CRC-32C of bytes 0..4091");
	is(open_with_header(ovl, len, h, sizeof(h)), 0, "the pristine copy opens");
	for (i = 0; i < ARRAY_SIZE(mutations); i++) {
		const struct mutation *m = &mutations[i];
		uint8_t x[4096];
		struct cow_info in;
		const char *why = NULL;

		memcpy(x, h, sizeof(x));
		mutate(x, m);
		ok(cow_parse_header(x, sizeof(x), &in, &why) == -EINVAL &&
		   why && strstr(why, m->why) &&
		   open_with_header(ovl, len, x, sizeof(x)) == -EINVAL,
		   "header refused: %s (%s)", m->what, why ? why : "accepted");
	}
	is(open_with_header(ovl, len, h, 100), -EINVAL, "a 100-byte overlay");
	free(ovl);
}

static void set_mtime(const char *p, struct timespec t)
{
	struct timespec ts[2] = { t, t };

	if (utimensat(AT_FDCWD, p, ts, 0))
		BAIL("utimensat");
}

static void test_stale_base(void)
{
	char b2[64], o2[64];
	struct timespec t;
	struct stat st;
	struct cow *c;
	int ofd, bfd;

	path_in(b2, sizeof(b2), "base2.img");
	path_in(o2, sizeof(o2), "stale.cow");
	write_file(b2, base_data, 64 * KIB);
	stat(b2, &st);
	t = st.st_mtim;
	bfd = open_ro(b2);
	ofd = open_rw(o2, true);
	if (cow_open(ofd, bfd, true, &c))
		BAIL("create stale");
	cow_close(c);
	t.tv_nsec = (t.tv_nsec + 1) % 1000000000;
	set_mtime(b2, t);
	is(cow_open(ofd, bfd, false, &c), -ESTALE, "base mtime touched (1 ns): -ESTALE");
	t = st.st_mtim;
	set_mtime(b2, t);
	is(cow_open(ofd, bfd, false, &c), 0, "mtime back: opens");
	cow_close(c);
	close(bfd);
	bfd = open(b2, O_RDWR);
	if (bfd < 0 || pwrite(bfd, "x", 1, 64 * KIB) != 1)
		BAIL("grow base2");
	set_mtime(b2, t);
	is(cow_open(ofd, bfd, false, &c), -ESTALE,
	   "base grown by a byte (mtime kept): -ESTALE");
	close(bfd);
	close(ofd);
	unlink(b2);
	unlink(o2);
}

/* run the tool; its exit status, or -1 */
static int run_tool(const char *args)
{
	char cmd[8192];
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s >%s/tool.out 2>%s/tool.err", tool,
		 args, dir, dir);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool tool_output_has(const char *file, const char *s)
{
	char p[64];
	size_t len;
	uint8_t *t;
	bool has;

	path_in(p, sizeof(p), file);
	t = read_file(p, &len);
	t[len] = '\0';
	has = strstr((char *)t, s);
	free(t);
	return has;
}

/* merge the random test's overlay: OUT equals the model */
static void test_tool(void)
{
	char args[512], out[64], json[64], o2[64];
	struct stat st;
	uint8_t *p;
	size_t len;
	struct cow *c;
	int ofd, bfd;

	path_in(out, sizeof(out), "merged.img");
	path_in(ovl_path, sizeof(ovl_path), "random.cow");
	snprintf(args, sizeof(args), "merge %s %s %s", ovl_path, base_path, out);
	is(run_tool(args), 0, "vpv-cow merge");
	p = read_file(out, &len);
	ok(len == model_size && !memcmp(p, model, len),
	   "merged image equals the model byte for byte (%zu bytes)", len);
	free(p);
	is(run_tool(args), 1, "merge refuses an existing OUT");
	unlink(out);
	ofd = open_ro(ovl_path);
	bfd = open_ro(base_path);
	if (cow_open(ofd, bfd, false, &c))
		BAIL("open random");
	snprintf(json, sizeof(json), "\"blocks_written\":%llu,",
		 (unsigned long long)cow_written_blocks(c));
	cow_close(c);
	close(ofd);
	close(bfd);
	snprintf(args, sizeof(args), "info %s --json", ovl_path);
	ok(run_tool(args) == 0 && tool_output_has("tool.out", json) &&
	   tool_output_has("tool.out", "\"base_status\":\"ok\""),
	   "info --json: %s, base ok", json);
	path_in(o2, sizeof(o2), "tool.cow");
	snprintf(args, sizeof(args), "create %s %s --size 64M", o2, base_path);
	is(run_tool(args), 0, "vpv-cow create --size 64M");
	is(run_tool(args), 1, "create refuses an existing overlay");
	snprintf(args, sizeof(args), "merge %s %s %s", o2, base_path, out);
	is(run_tool(args), 0, "merge of an unwritten 64 MiB overlay");
	ok(!stat(out, &st) && st.st_size == 64 * MIB &&
	   st.st_blocks * 512 < 4 * MIB, "sparse output: %lld of %lld bytes allocated",
	   (long long)st.st_blocks * 512, (long long)st.st_size);
	unlink(out);
	snprintf(args, sizeof(args), "create %s/x.cow %s --size 1000", dir, base_path);
	ok(run_tool(args) == 2 && tool_output_has("tool.err", "512"),
	   "create --size 1000: exit 2 with a message");
	ok(run_tool("merge a b") == 2 && tool_output_has("tool.err", "usage"),
	   "merge with 2 arguments: exit 2, usage");
	ok(run_tool("frob") == 2 && tool_output_has("tool.err", "unknown command"),
	   "unknown command: exit 2");
	ok(run_tool("info --help") == 0 && tool_output_has("tool.out", "--json"),
	   "info --help");
	ok(run_tool("create --help") == 0 && run_tool("merge --help") == 0 &&
	   run_tool("--help") == 0, "--help of each command");
	snprintf(args, sizeof(args), "info %s", base_path);
	ok(run_tool(args) == 1 && tool_output_has("tool.err", "not a valid overlay"),
	   "info on a raw image: exit 1, not an overlay");
	set_mtime(base_path, (struct timespec){ 12345, 6789 });
	snprintf(args, sizeof(args), "merge %s %s %s", o2, base_path, out);
	ok(run_tool(args) == 1 && tool_output_has("tool.err", "changed") &&
	   access(out, F_OK), "merge refuses a changed base, no OUT left");
	set_mtime(base_path, base_mtime);
	unlink(o2);
}

static void find_tool(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		BAIL("readlink");
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(tool, sizeof(tool), "%s/../vpv-cow", self);
	if (access(tool, X_OK))
		BAIL("%s not built", tool);
}

static void cleanup(void)
{
	static const char * const files[] = {
		"base.img", "basic.cow", "edges.cow", "discard.cow",
		"resize.cow", "random.cow", "tool.out", "tool.err",
	};
	char p[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		path_in(p, sizeof(p), files[i]);
		unlink(p);
	}
	if (rmdir(dir))
		printf("# rmdir %s: %s\n", dir, strerror(errno));
}

int main(void)
{
	if (!mkdtemp(dir))
		BAIL("mkdtemp");
	find_tool();
	make_base();
	test_create_open();
	test_edges_and_persist();
	test_discard();
	test_resize();
	test_random();
	test_corrupt_headers();
	test_stale_base();
	test_tool();
	test_direct();
	ok(base_unchanged(), "the base is byte for byte and mtime unchanged");
	free(model);
	free(base_data);
	cleanup();
	return tap_done();
}
