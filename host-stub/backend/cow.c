// SPDX-License-Identifier: GPL-2.0
/*
 * The copy-on-write overlay (cow.h, Documentation/cow.rst).
 *
 * In memory: the bitmap as on disk ("bits": the block reads from the
 * overlay) and a second map ("valid": the block's overlay copy holds its
 * data, either written or copied up from the base by a write still in
 * flight).  A partial write copies up a block only when it is not valid,
 * so two writes in flight to one block never copy it up twice (the
 * second copy would overwrite the first write's bytes).
 *
 * Every pread/pwrite here is of whole 4 KiB blocks at 4 KiB aligned file
 * offsets from 4 KiB aligned memory (the maps, the copy-up buffer, the
 * header), so the overlay and the base may be opened O_DIRECT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cow.h"

/* header field offsets (Documentation/cow.rst) */
#define H_MAGIC		0
#define H_VERSION	8
#define H_HDR_SIZE	12
#define H_BLK_SIZE	16
#define H_FLAGS		20
#define H_VSIZE		24
#define H_BASE_SIZE	32
#define H_BASE_MTIME	40
#define H_BM_OFF	48
#define H_BM_LEN	56
#define H_DATA_OFF	64
#define H_RESERVED	72	/* .. 127, zero */
#define H_PATH		128	/* COW_PATH_LEN bytes */
#define H_CRC		(COW_HEADER_SIZE - 4)

/* the bitmap must start within the first MiB (it is at 4096 when made) */
#define COW_MAX_BITMAP_OFF	(1ull << 20)
/* bytes of bitmap for COW_MAX_SIZE: 32 MiB */
#define COW_MAX_BITMAP_LEN	(COW_MAX_SIZE / COW_BLOCK_SIZE / 8)
/* zeros written in chunks of this where fallocate is not supported */
#define COW_ZERO_CHUNK		65536u
/* memory alignment for O_DIRECT: a block, at least the logical sector */
#define COW_MEM_ALIGN		COW_BLOCK_SIZE

struct cow {
	int ovl_fd, base_fd;
	struct cow_info info;
	uint64_t nblocks;	/* blocks of the virtual size, last may be partial */
	uint8_t *bits;		/* bitmap, as on disk */
	uint8_t *valid;		/* bits | copied up by a write in flight */
	uint64_t map_size;	/* bytes allocated for each map */
	uint8_t *block;		/* copy-up buffer, COW_BLOCK_SIZE aligned */
};

static const uint8_t cow_zeros[COW_ZERO_CHUNK]
	__attribute__((aligned(COW_MEM_ALIGN)));

static uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = (v << 8) | p[n];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* CRC-32C (Castagnoli, reflected), bitwise: only the 4 KiB header */
static uint32_t crc32c(const uint8_t *p, size_t len)
{
	uint32_t crc = ~0u;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return ~crc;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static uint64_t blocks_of(uint64_t size)
{
	return (size + COW_BLOCK_SIZE - 1) >> COW_BLOCK_SHIFT;
}

static uint64_t bm_bytes(uint64_t nblocks)
{
	return (nblocks + 7) / 8;
}

/* a map's allocation (and on-disk write unit): whole blocks */
static uint64_t map_alloc(uint64_t nblocks)
{
	uint64_t n = (bm_bytes(nblocks) + COW_BLOCK_SIZE - 1) / COW_BLOCK_SIZE;

	return (n ? n : 1) * COW_BLOCK_SIZE;
}

/* size zeroed bytes aligned for O_DIRECT, or NULL */
static uint8_t *aligned_zalloc(uint64_t size)
{
	void *p;

	if (posix_memalign(&p, COW_MEM_ALIGN, size))
		return NULL;
	memset(p, 0, size);
	return p;
}

static bool bit_test(const uint8_t *m, uint64_t b)
{
	return m[b / 8] & (1u << (b % 8));
}

/* set bits first .. last (inclusive) */
static void bit_set_range(uint8_t *m, uint64_t first, uint64_t last)
{
	for (; first <= last && first % 8; first++)
		m[first / 8] |= 1u << (first % 8);
	if (first > last)
		return;
	if (last - first + 1 >= 8) {
		uint64_t n = (last - first + 1) / 8;

		memset(m + first / 8, 0xff, n);
		first += n * 8;
	}
	for (; first <= last; first++)
		m[first / 8] |= 1u << (first % 8);
}

/* clear every bit from nblocks on in a map of nbytes */
static void bit_clear_from(uint8_t *m, uint64_t nblocks, uint64_t nbytes)
{
	uint64_t b = nblocks / 8;

	if (b >= nbytes)
		return;
	if (nblocks % 8)
		m[b++] &= (uint8_t)((1u << (nblocks % 8)) - 1);
	memset(m + b, 0, nbytes - b);
}

static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done,
				  (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done,
				   (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Zero (punch: deallocate) len bytes at off of fd; zeros written where
 * the file system has no fallocate mode for it.
 */
static int zero_file_range(int fd, uint64_t off, uint64_t len, bool punch)
{
	int mode = FALLOC_FL_KEEP_SIZE |
		   (punch ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE);
	int ret;

	if (!len)
		return 0;
	if (!fallocate(fd, mode, (off_t)off, (off_t)len))
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	while (len) {
		size_t n = len < COW_ZERO_CHUNK ? len : COW_ZERO_CHUNK;

		ret = pwrite_full(fd, cow_zeros, n, off);
		if (ret)
			return ret;
		off += n;
		len -= n;
	}
	return 0;
}

static int check_header_fixed(const uint8_t *h, const char **why)
{
	uint64_t i;

	if (memcmp(h + H_MAGIC, COW_MAGIC, 8)) {
		*why = "bad magic (not a pvkit COW overlay)";
		return -EINVAL;
	}
	if (get_le(h + H_VERSION, 4) != COW_VERSION) {
		*why = "unsupported version";
		return -EINVAL;
	}
	if (get_le(h + H_HDR_SIZE, 4) != COW_HEADER_SIZE) {
		*why = "bad header size";
		return -EINVAL;
	}
	if (get_le(h + H_BLK_SIZE, 4) != COW_BLOCK_SIZE) {
		*why = "bad block size";
		return -EINVAL;
	}
	if (get_le(h + H_FLAGS, 4)) {
		*why = "unknown flags";
		return -EINVAL;
	}
	for (i = H_RESERVED; i < H_PATH; i++) {
		if (h[i]) {
			*why = "reserved bytes not zero";
			return -EINVAL;
		}
	}
	if (get_le(h + H_CRC, 4) != crc32c(h, H_CRC)) {
		*why = "header checksum mismatch";
		return -EINVAL;
	}
	return 0;
}

static int check_header_sizes(const struct cow_info *in, const char **why)
{
	uint64_t need = bm_bytes(blocks_of(in->virtual_size));

	*why = NULL;
	if (!in->virtual_size || in->virtual_size % COW_SECTOR_SIZE ||
	    in->virtual_size > COW_MAX_SIZE)
		*why = "bad virtual size";
	else if (in->base_size > COW_MAX_SIZE)
		*why = "bad base size";
	else if (in->bitmap_off < COW_HEADER_SIZE ||
		 in->bitmap_off % COW_BLOCK_SIZE ||
		 in->bitmap_off > COW_MAX_BITMAP_OFF)
		*why = "bad bitmap offset";
	else if (!in->bitmap_len || in->bitmap_len % COW_BLOCK_SIZE ||
		 in->bitmap_len > COW_MAX_BITMAP_LEN ||
		 in->bitmap_len < need)
		*why = "bad bitmap length";
	else if (in->data_off % COW_DATA_ALIGN ||
		 in->data_off < in->bitmap_off + in->bitmap_len ||
		 in->data_off > in->bitmap_off + in->bitmap_len +
				COW_DATA_ALIGN)
		*why = "bad data offset";
	return *why ? -EINVAL : 0;
}

int cow_parse_header(const void *buf, size_t len, struct cow_info *info,
		     const char **why)
{
	const uint8_t *h = buf;
	const char *w = NULL;
	size_t i, n;
	int ret;

	if (len < COW_HEADER_SIZE) {
		w = "short header";
		ret = -EINVAL;
		goto out;
	}
	ret = check_header_fixed(h, &w);
	if (ret)
		goto out;
	memset(info, 0, sizeof(*info));
	info->version = COW_VERSION;
	info->virtual_size = get_le(h + H_VSIZE, 8);
	info->base_size = get_le(h + H_BASE_SIZE, 8);
	info->base_mtime_ns = get_le(h + H_BASE_MTIME, 8);
	info->bitmap_off = get_le(h + H_BM_OFF, 8);
	info->bitmap_len = get_le(h + H_BM_LEN, 8);
	info->data_off = get_le(h + H_DATA_OFF, 8);
	ret = check_header_sizes(info, &w);
	if (ret)
		goto out;
	n = strnlen((const char *)h + H_PATH, COW_PATH_LEN);
	ret = -EINVAL;
	w = "base path not NUL-terminated";
	if (n == COW_PATH_LEN)
		goto out;
	w = "base path not NUL-padded";
	for (i = n; i < COW_PATH_LEN; i++)
		if (h[H_PATH + i])
			goto out;
	memcpy(info->base_path, h + H_PATH, n + 1);
	w = NULL;
	ret = 0;
out:
	if (why)
		*why = w;
	return ret;
}

void cow_build_header(const struct cow_info *info, void *buf)
{
	uint8_t *h = buf;

	memset(h, 0, COW_HEADER_SIZE);
	memcpy(h + H_MAGIC, COW_MAGIC, 8);
	put_le(h + H_VERSION, COW_VERSION, 4);
	put_le(h + H_HDR_SIZE, COW_HEADER_SIZE, 4);
	put_le(h + H_BLK_SIZE, COW_BLOCK_SIZE, 4);
	put_le(h + H_VSIZE, info->virtual_size, 8);
	put_le(h + H_BASE_SIZE, info->base_size, 8);
	put_le(h + H_BASE_MTIME, info->base_mtime_ns, 8);
	put_le(h + H_BM_OFF, info->bitmap_off, 8);
	put_le(h + H_BM_LEN, info->bitmap_len, 8);
	put_le(h + H_DATA_OFF, info->data_off, 8);
	memcpy(h + H_PATH, info->base_path,
	       strnlen(info->base_path, COW_PATH_LEN - 1));
	put_le(h + H_CRC, crc32c(h, H_CRC), 4);
}

/* The base's size and mtime; -EINVAL unless a regular file or block device */
static int base_stat(int base_fd, const struct stat *st, uint64_t *size,
		     uint64_t *mtime_ns)
{
	off_t end;

	if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode))
		return -EINVAL;
	end = lseek(base_fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	*size = (uint64_t)end;
	*mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull +
		    (uint64_t)st->st_mtim.tv_nsec;
	return 0;
}

/* fstat both; -EINVAL if the overlay is not a regular file or both are one */
static int stat_pair(int ovl_fd, int base_fd, struct stat *ost,
		     struct stat *bst)
{
	if (fstat(ovl_fd, ost) || fstat(base_fd, bst))
		return -errno;
	if (!S_ISREG(ost->st_mode))
		return -EINVAL;
	if (ost->st_dev == bst->st_dev && ost->st_ino == bst->st_ino)
		return -EINVAL;
	return 0;
}

static int write_header(struct cow *c)
{
	uint8_t h[COW_HEADER_SIZE] __attribute__((aligned(COW_MEM_ALIGN)));

	cow_build_header(&c->info, h);
	return pwrite_full(c->ovl_fd, h, sizeof(h), 0);
}

/* the overlay file's length for the virtual size: whole blocks, sparse */
static uint64_t ovl_length(const struct cow *c, uint64_t size)
{
	return c->info.data_off + round_up(size, COW_BLOCK_SIZE);
}

/* Allocate c with maps for info's virtual size (zeroed). */
static int cow_alloc(int ovl_fd, int base_fd, const struct cow_info *info,
		     struct cow **out)
{
	struct cow *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->ovl_fd = ovl_fd;
	c->base_fd = base_fd;
	c->info = *info;
	c->nblocks = blocks_of(info->virtual_size);
	c->map_size = map_alloc(c->nblocks);
	c->bits = aligned_zalloc(c->map_size);
	c->valid = aligned_zalloc(c->map_size);
	c->block = aligned_zalloc(COW_BLOCK_SIZE);
	if (!c->bits || !c->valid || !c->block) {
		cow_close(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

/* the bitmap area's capacity for a virtual size, Documentation/cow.rst */
static uint64_t bitmap_len_for(uint64_t size)
{
	uint64_t cap = size * COW_GROWTH_FACTOR;

	if (cap < COW_MIN_CAPACITY)
		cap = COW_MIN_CAPACITY;
	if (cap > COW_MAX_SIZE)
		cap = COW_MAX_SIZE;
	return round_up(bm_bytes(blocks_of(cap)), COW_BLOCK_SIZE);
}

int cow_create(int ovl_fd, int base_fd, uint64_t size, const char *base_path,
	       struct cow **out)
{
	struct stat ost, bst;
	struct cow_info info = { .version = COW_VERSION };
	struct cow *c;
	int ret;

	ret = stat_pair(ovl_fd, base_fd, &ost, &bst);
	if (ret)
		return ret;
	if (ost.st_size)
		return -EEXIST;
	ret = base_stat(base_fd, &bst, &info.base_size, &info.base_mtime_ns);
	if (ret)
		return ret;
	if (info.base_size > COW_MAX_SIZE)
		return -EFBIG;
	if (!size)
		size = round_up(info.base_size, COW_SECTOR_SIZE);
	if (!size || size % COW_SECTOR_SIZE || size > COW_MAX_SIZE)
		return -EINVAL;
	info.virtual_size = size;
	info.bitmap_off = COW_HEADER_SIZE;
	info.bitmap_len = bitmap_len_for(size);
	info.data_off = round_up(info.bitmap_off + info.bitmap_len,
				 COW_DATA_ALIGN);
	if (base_path)
		strncpy(info.base_path, base_path, COW_PATH_LEN - 1);
	ret = cow_alloc(ovl_fd, base_fd, &info, &c);
	if (ret)
		return ret;
	ret = write_header(c);
	if (ret)
		goto fail;
	if (ftruncate(ovl_fd, (off_t)ovl_length(c, size))) {
		ret = -errno;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	cow_close(c);
	return ret;
}

/* Read and validate the header of ovl_fd. */
static int read_header(int ovl_fd, struct cow_info *info)
{
	uint8_t h[COW_HEADER_SIZE] __attribute__((aligned(COW_MEM_ALIGN)));
	ssize_t n;

	n = pread_full(ovl_fd, h, sizeof(h), 0);
	if (n < 0)
		return (int)n;
	return cow_parse_header(h, (size_t)n, info, NULL);
}

/* Load the on-disk bitmap for c's blocks (holes and EOF read as zeros). */
static int load_bitmap(struct cow *c)
{
	uint64_t nbytes = map_alloc(c->nblocks);
	ssize_t n;

	/* whole blocks (O_DIRECT): bitmap_len is a multiple of a block */
	n = pread_full(c->ovl_fd, c->bits, nbytes, c->info.bitmap_off);
	if (n < 0)
		return (int)n;
	memset(c->bits + n, 0, nbytes - (uint64_t)n);
	/* bits past the virtual size are left over from a shrink */
	bit_clear_from(c->bits, c->nblocks, nbytes);
	memcpy(c->valid, c->bits, nbytes);
	return 0;
}

int cow_open(int ovl_fd, int base_fd, bool create, struct cow **out)
{
	struct stat ost, bst;
	struct cow_info info;
	uint64_t bsize, bmtime;
	struct cow *c;
	int ret;

	ret = stat_pair(ovl_fd, base_fd, &ost, &bst);
	if (ret)
		return ret;
	if (!ost.st_size)
		return create ? cow_create(ovl_fd, base_fd, 0, "", out)
			      : -EINVAL;
	ret = read_header(ovl_fd, &info);
	if (ret)
		return ret;
	ret = base_stat(base_fd, &bst, &bsize, &bmtime);
	if (ret)
		return ret;
	if (bsize != info.base_size || bmtime != info.base_mtime_ns)
		return -ESTALE;
	ret = cow_alloc(ovl_fd, base_fd, &info, &c);
	if (ret)
		return ret;
	ret = load_bitmap(c);
	if (ret)
		goto fail;
	/* overlay runs read whole: extend a truncated file (if writable) */
	if ((uint64_t)ost.st_size < ovl_length(c, info.virtual_size) &&
	    ftruncate(ovl_fd, (off_t)ovl_length(c, info.virtual_size)) &&
	    errno != EBADF && errno != EINVAL) {
		ret = -errno;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	cow_close(c);
	return ret;
}

int cow_inspect(int ovl_fd, struct cow_info *info, uint64_t *written)
{
	uint8_t buf[COW_ZERO_CHUNK];
	uint64_t nblocks, nbytes, pos, count = 0;
	ssize_t n;
	int ret;

	ret = read_header(ovl_fd, info);
	if (ret || !written)
		return ret;
	nblocks = blocks_of(info->virtual_size);
	nbytes = bm_bytes(nblocks);
	for (pos = 0; pos < nbytes; pos += (uint64_t)n) {
		uint64_t want = nbytes - pos < sizeof(buf) ? nbytes - pos
							   : sizeof(buf);
		ssize_t i;

		n = pread_full(ovl_fd, buf, want, info->bitmap_off + pos);
		if (n < 0)
			return (int)n;
		if (!n)
			break;
		if (pos + (uint64_t)n == nbytes)
			bit_clear_from(buf, nblocks - pos * 8, (uint64_t)n);
		for (i = 0; i < n; i++)
			count += (uint64_t)__builtin_popcount(buf[i]);
	}
	*written = count;
	return 0;
}

void cow_close(struct cow *c)
{
	if (!c)
		return;
	free(c->bits);
	free(c->valid);
	free(c->block);
	free(c);
}

uint64_t cow_size(const struct cow *c)
{
	return c->info.virtual_size;
}

void cow_get_info(const struct cow *c, struct cow_info *info)
{
	*info = c->info;
}

uint64_t cow_written_blocks(const struct cow *c)
{
	uint64_t i, n = 0;

	for (i = 0; i < bm_bytes(c->nblocks); i++)
		n += (uint64_t)__builtin_popcount(c->bits[i]);
	return n;
}

/*
 * pwrite the bitmap bytes holding blocks first .. last, as whole blocks
 * of the map (O_DIRECT; a 4 KiB write costs a page-cache copy either
 * way).  The map's bytes past the virtual size are zero, as on disk.
 */
static int persist_bits(struct cow *c, uint64_t first, uint64_t last)
{
	uint64_t b0 = first / 8 / COW_BLOCK_SIZE * COW_BLOCK_SIZE;
	uint64_t b1 = round_up(last / 8 + 1, COW_BLOCK_SIZE);

	return pwrite_full(c->ovl_fd, c->bits + b0, b1 - b0,
			   c->info.bitmap_off + b0);
}

static int check_range(const struct cow *c, uint64_t off, uint64_t len)
{
	if (!len || off > c->info.virtual_size ||
	    len > c->info.virtual_size - off)
		return -EINVAL;
	return 0;
}

/* does [off, end) cover only part of block b (within the virtual size)? */
static bool partial(const struct cow *c, uint64_t b, uint64_t off,
		    uint64_t end)
{
	uint64_t bs = b << COW_BLOCK_SHIFT, be = bs + COW_BLOCK_SIZE;

	if (be > c->info.virtual_size)
		be = c->info.virtual_size;
	return off > bs || end < be;
}

/* Copy block b from the base into the overlay (zeros past the base). */
static int copy_up(struct cow *c, uint64_t b)
{
	uint64_t bs = b << COW_BLOCK_SHIFT;
	uint8_t *buf = c->block;
	ssize_t n = 0;
	int ret;

	/* a whole block (O_DIRECT), short at the base's end */
	if (bs < c->info.base_size) {
		n = pread_full(c->base_fd, buf, COW_BLOCK_SIZE, bs);
		if (n < 0)
			return (int)n;
		if ((uint64_t)n > c->info.base_size - bs)
			n = (ssize_t)(c->info.base_size - bs);
	}
	memset(buf + n, 0, COW_BLOCK_SIZE - (size_t)n);
	ret = pwrite_full(c->ovl_fd, buf, COW_BLOCK_SIZE, c->info.data_off + bs);
	if (ret)
		return ret;
	c->valid[b / 8] |= 1u << (b % 8);
	return 0;
}

/* copy up the edge blocks of [off, end) that it covers only in part */
static int copy_up_edges(struct cow *c, uint64_t off, uint64_t end)
{
	uint64_t first = off >> COW_BLOCK_SHIFT;
	uint64_t last = (end - 1) >> COW_BLOCK_SHIFT;
	int ret;

	if (!bit_test(c->valid, first) && partial(c, first, off, end)) {
		ret = copy_up(c, first);
		if (ret)
			return ret;
	}
	if (last != first && !bit_test(c->valid, last) &&
	    partial(c, last, off, end))
		return copy_up(c, last);
	return 0;
}

int cow_read_map(struct cow *c, uint64_t off, uint32_t len,
		 struct cow_run *r, unsigned int max)
{
	uint64_t pos = off, end = off + len;
	unsigned int n = 0;

	if (check_range(c, off, len))
		return -EINVAL;
	while (pos < end) {
		uint64_t b = pos >> COW_BLOCK_SHIFT;
		uint64_t pend = (b + 1) << COW_BLOCK_SHIFT;
		struct cow_run run = { .off = pos };

		if (pend > end)
			pend = end;
		if (bit_test(c->bits, b)) {
			run.fd = c->ovl_fd;
			run.off = c->info.data_off + pos;
		} else if (pos < c->info.base_size) {
			run.fd = c->base_fd;
			if (pend > c->info.base_size)
				pend = c->info.base_size;
		} else {
			run.fd = -1;
		}
		if (n && r[n - 1].fd == run.fd) {
			r[n - 1].len += (uint32_t)(pend - pos);
		} else {
			if (n == max)
				return -ENOBUFS;
			run.len = (uint32_t)(pend - pos);
			run.buf_off = (uint32_t)(pos - off);
			r[n++] = run;
		}
		pos = pend;
	}
	return (int)n;
}

int cow_write_prepare(struct cow *c, uint64_t off, uint32_t len,
		      struct cow_run *r)
{
	int ret;

	if (check_range(c, off, len))
		return -EINVAL;
	ret = copy_up_edges(c, off, off + len);
	if (ret)
		return ret;
	/* whole blocks need no copy-up: valid once the caller writes them */
	bit_set_range(c->valid, off >> COW_BLOCK_SHIFT,
		      (off + len - 1) >> COW_BLOCK_SHIFT);
	r->fd = c->ovl_fd;
	r->off = c->info.data_off + off;
	r->len = len;
	r->buf_off = 0;
	return 0;
}

/* set bits first .. last (in both maps) and pwrite them */
static int mark_written(struct cow *c, uint64_t first, uint64_t last)
{
	bit_set_range(c->bits, first, last);
	bit_set_range(c->valid, first, last);
	return persist_bits(c, first, last);
}

int cow_write_done(struct cow *c, uint64_t off, uint32_t len)
{
	uint64_t end = off + len, first, last;

	if (check_range(c, off, len))
		return -EINVAL;
	first = off >> COW_BLOCK_SHIFT;
	last = (end - 1) >> COW_BLOCK_SHIFT;
	/* a partly covered block must have been copied up by prepare */
	if ((!bit_test(c->valid, first) && partial(c, first, off, end)) ||
	    (!bit_test(c->valid, last) && partial(c, last, off, end)))
		return -EINVAL;
	return mark_written(c, first, last);
}

/* zero [off, end): copy up the edges, zero in the overlay, mark */
static int zero_range(struct cow *c, uint64_t off, uint64_t end)
{
	int ret;

	ret = copy_up_edges(c, off, end);
	if (ret)
		return ret;
	ret = zero_file_range(c->ovl_fd, c->info.data_off + off, end - off,
			      false);
	if (ret)
		return ret;
	return mark_written(c, off >> COW_BLOCK_SHIFT,
			    (end - 1) >> COW_BLOCK_SHIFT);
}

int cow_discard(struct cow *c, uint64_t off, uint64_t len, bool zero)
{
	uint64_t end = off + len, first, stop;
	int ret;

	if (check_range(c, off, len))
		return -EINVAL;
	if (zero)
		return zero_range(c, off, end);
	/* the whole blocks inside; a partial last block of the disk counts */
	first = blocks_of(off);
	stop = end == c->info.virtual_size ? c->nblocks
					   : end >> COW_BLOCK_SHIFT;
	if (first >= stop)
		return 0;
	ret = zero_file_range(c->ovl_fd,
			      c->info.data_off + (first << COW_BLOCK_SHIFT),
			      (stop - first) << COW_BLOCK_SHIFT, true);
	if (ret)
		return ret;
	return mark_written(c, first, stop - 1);
}

int cow_flush(struct cow *c)
{
	return fdatasync(c->ovl_fd) ? -errno : 0;
}

/*
 * Resize both maps to nblocks (new bits clear), keeping them aligned.
 * Shrinking keeps the allocation (so it cannot fail); it is at most the
 * largest size the device had, bounded by COW_MAX_SIZE.
 */
static int resize_maps(struct cow *c, uint64_t nblocks)
{
	uint64_t size = map_alloc(nblocks);
	uint8_t *b, *v;

	if (size > c->map_size) {
		b = aligned_zalloc(size);
		v = aligned_zalloc(size);
		if (!b || !v) {
			free(b);
			free(v);
			return -ENOMEM;
		}
		memcpy(b, c->bits, c->map_size);
		memcpy(v, c->valid, c->map_size);
		free(c->bits);
		free(c->valid);
		c->bits = b;
		c->valid = v;
		c->map_size = size;
	}
	bit_clear_from(c->bits, nblocks, c->map_size);
	bit_clear_from(c->valid, nblocks, c->map_size);
	c->nblocks = nblocks;
	return 0;
}

static int grow(struct cow *c, uint64_t size)
{
	uint64_t old = c->info.virtual_size, old_nblocks = c->nblocks, zend;
	int ret;

	if (ftruncate(c->ovl_fd, (off_t)ovl_length(c, size)))
		return -errno;
	ret = resize_maps(c, blocks_of(size));
	if (ret)
		return ret;
	c->info.virtual_size = size;
	/* on-disk bits past the old end may be left from a shrink */
	ret = persist_bits(c, old_nblocks ? old_nblocks - 1 : 0,
			   c->nblocks - 1);
	if (ret)
		goto undo;
	/* the new range reads zeros: hide the base and old overlay data */
	zend = round_up(old, COW_BLOCK_SIZE);
	if (zend < c->info.base_size)
		zend = c->info.base_size;
	if (zend > size)
		zend = size;
	if (zend > old) {
		ret = zero_range(c, old, zend);
		if (ret)
			goto undo;
	}
	ret = write_header(c);
	if (!ret)
		return 0;
undo:
	c->info.virtual_size = old;
	resize_maps(c, old_nblocks);	/* shrinking cannot fail */
	return ret;
}

static int shrink(struct cow *c, uint64_t size)
{
	uint64_t old = c->info.virtual_size, old_nblocks = c->nblocks;
	int ret;

	c->info.virtual_size = size;
	ret = write_header(c);
	if (ret) {
		c->info.virtual_size = old;
		return ret;
	}
	ret = resize_maps(c, blocks_of(size));
	if (ret)
		return ret;
	/* clear the bits of the blocks gone on disk too: the map's blocks
	 * past the new end, and the block at it (masked in memory)
	 */
	if (map_alloc(old_nblocks) > map_alloc(c->nblocks))
		ret = zero_file_range(c->ovl_fd, c->info.bitmap_off +
				      map_alloc(c->nblocks),
				      map_alloc(old_nblocks) -
				      map_alloc(c->nblocks), false);
	if (!ret)
		ret = persist_bits(c, c->nblocks - 1, c->nblocks - 1);
	if (!ret && ftruncate(c->ovl_fd, (off_t)ovl_length(c, size)))
		ret = -errno;
	return ret;
}

int cow_resize(struct cow *c, uint64_t size)
{
	uint64_t cap = c->info.bitmap_len * 8 * COW_BLOCK_SIZE;

	if (cap > COW_MAX_SIZE)
		cap = COW_MAX_SIZE;
	if (!size || size % COW_SECTOR_SIZE)
		return -EINVAL;
	if (size > cap)
		return -ENOSPC;
	if (size == c->info.virtual_size)
		return 0;
	return size > c->info.virtual_size ? grow(c, size) : shrink(c, size);
}
