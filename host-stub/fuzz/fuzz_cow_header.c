// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: the COW overlay's header parser (backend/cow.c,
 * cow_parse_header) and cow_open() over it.  Input: one control byte,
 * then the header (zero-padded to 4 KiB).  Control bit 0: recompute the
 * header's CRC-32C first, so the field checks behind the checksum are
 * reached; bit 1: also open it as an overlay (memfds: the header, then
 * the rest of the input as the bitmap) over a sparse base of the
 * header's size and mtime, and map a few reads.
 * Invariants: an accepted header is within every documented bound and
 * cow_build_header() gives back exactly its bytes; cow_open() of an
 * accepted header succeeds, and its runs cover each read in order,
 * base runs below the base's size, overlay runs in the data area.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cow.h"

#define FZ_RUNS	(65536 / COW_BLOCK_SIZE + 3)

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = ~0u;
	int k;

	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (crc & 1 ? 0x82f63b78u : 0);
	}
	return ~crc;
}

static void check_bounds(const struct cow_info *in, const uint8_t *h)
{
	uint8_t again[COW_HEADER_SIZE];

	if (!in->virtual_size || in->virtual_size % COW_SECTOR_SIZE ||
	    in->virtual_size > COW_MAX_SIZE || in->base_size > COW_MAX_SIZE ||
	    in->bitmap_off < COW_HEADER_SIZE ||
	    in->bitmap_len * 8 * COW_BLOCK_SIZE < in->virtual_size ||
	    in->data_off < in->bitmap_off + in->bitmap_len ||
	    in->data_off % COW_DATA_ALIGN ||
	    strnlen(in->base_path, COW_PATH_LEN) == COW_PATH_LEN)
		abort();
	cow_build_header(in, again);
	if (memcmp(again, h, COW_HEADER_SIZE))
		abort();
}

static void check_runs(struct cow *c, const struct cow_info *in,
		       uint64_t off, uint32_t len, int ovl, int base)
{
	struct cow_run r[FZ_RUNS];
	uint32_t at = 0;
	int i, n;

	n = cow_read_map(c, off, len, r, FZ_RUNS);
	if (n == -EINVAL && off + len > cow_size(c))
		return;
	if (n <= 0)
		abort();
	for (i = 0; i < n; i++) {
		if (r[i].buf_off != at || !r[i].len)
			abort();
		at += r[i].len;
		if (r[i].fd == base &&
		    (r[i].off != off + r[i].buf_off ||
		     r[i].off + r[i].len > in->base_size))
			abort();
		if (r[i].fd == ovl && r[i].off != in->data_off + off + r[i].buf_off)
			abort();
		if (r[i].fd != base && r[i].fd != ovl && r[i].fd != -1)
			abort();
	}
	if (at != len)
		abort();
}

static void try_open(const uint8_t *h, const struct cow_info *in,
		     const uint8_t *rest, size_t rest_len)
{
	struct timespec ts[2];
	struct cow *c;
	uint64_t off;
	int ovl, base, ret;

	ovl = memfd_create("fz-ovl", 0);
	base = memfd_create("fz-base", 0);
	if (ovl < 0 || base < 0)
		abort();
	ts[0].tv_sec = (time_t)(in->base_mtime_ns / 1000000000);
	ts[0].tv_nsec = (long)(in->base_mtime_ns % 1000000000);
	ts[1] = ts[0];
	if (pwrite(ovl, h, COW_HEADER_SIZE, 0) != COW_HEADER_SIZE ||
	    (rest_len && pwrite(ovl, rest, rest_len, (off_t)in->bitmap_off) !=
			 (ssize_t)rest_len) ||
	    ftruncate(base, (off_t)in->base_size))
		abort();
	/* a time the file system cannot hold is not the parser's business */
	if (futimens(base, ts))
		goto out;
	ret = cow_open(ovl, base, false, &c);
	if (ret == -ESTALE)	/* the kernel rounded or clamped the time */
		goto out;
	if (ret)
		abort();
	for (off = 0; off < 4; off++)
		check_runs(c, in, (cow_size(c) / 4 * off) & ~511ull,
			   off == 3 ? 65536 : 4096 + (uint32_t)off * 512, ovl,
			   base);
	cow_close(c);
out:
	close(ovl);
	close(base);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	uint8_t h[COW_HEADER_SIZE] = { 0 };
	struct cow_info in;
	uint8_t ctl;

	if (!size)
		return 0;
	ctl = data[0];
	data++;
	size--;
	memcpy(h, data, size < sizeof(h) ? size : sizeof(h));
	if (ctl & 1) {
		uint32_t crc = crc32c(h, COW_HEADER_SIZE - 4);

		memcpy(h + COW_HEADER_SIZE - 4, &crc, 4);	/* LE host */
	}
	if (cow_parse_header(h, size < sizeof(h) && !(ctl & 1) ? size :
			     sizeof(h), &in, NULL))
		return 0;
	check_bounds(&in, h);
	if (ctl & 2)
		try_open(h, &in, size > sizeof(h) ? data + sizeof(h) : NULL,
			 size > sizeof(h) ? size - sizeof(h) : 0);
	return 0;
}
