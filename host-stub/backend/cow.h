/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A UML-style copy-on-write overlay (Documentation/cow.rst): a read-only
 * base image shared by many guests, and per guest a sparse overlay file
 * holding a 4 KiB header, a bitmap of the 4 KiB blocks written (1 bit
 * each) and a data area where the data of virtual offset X lives at
 * data_off + X.  A block whose bit is set reads from the overlay, one
 * whose bit is clear from the base; past the base's end, zeros.
 *
 * The library does no I/O of the guest's data itself: it maps a request
 * to runs (struct cow_run) and the caller (vpv-blkback, vpv-cow) reads
 * or writes each run on run.fd at run.off, the bytes at buf_off of its
 * own buffer.  Only copy-up (the edges of a partial block write), the
 * bitmap, the header and discard/zeroing are done here, synchronously
 * with pread/pwrite/fallocate on the two fds given at open.  Nothing is
 * opened by name: the sandboxed back-end has only the fds.
 *
 * Every header field is untrusted (the overlay is a user's file): it is
 * validated on open, see cow_parse_header().  All functions return 0 (or
 * a count where said) or a negative errno.  One struct cow is used by
 * one thread at a time.
 */
#ifndef VPV_COW_H
#define VPV_COW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COW_MAGIC		"PVKITCOW"	/* 8 bytes, no NUL */
#define COW_VERSION		1
/* one page: the header is read and written as one aligned block */
#define COW_HEADER_SIZE		4096u
/* the granularity of the bitmap: a guest page, the largest sector size */
#define COW_BLOCK_SIZE		4096u
#define COW_BLOCK_SHIFT		12
/* the data area starts 1 MiB aligned: file systems allocate in extents
 * and O_DIRECT wants aligned offsets; 1 MiB is what partitioners use
 */
#define COW_DATA_ALIGN		(1ull << 20)
/*
 * The largest virtual size: 1 TiB = 2^28 blocks, so the bitmap in
 * memory is at most 32 MiB (and as much again for the in-memory
 * "copied up" map, 64 MiB per device at most).  A per-device memory
 * bound the host can plan for.
 */
#define COW_MAX_SIZE		(1ull << 40)
/*
 * The bitmap area on disk is sized at creation for
 * max(4 x the virtual size, COW_MIN_CAPACITY), capped at COW_MAX_SIZE;
 * cow_resize() can grow up to that capacity (-ENOSPC beyond).  64 GiB
 * is a 2 MiB bitmap area, sparse on disk until used.
 */
#define COW_MIN_CAPACITY	(64ull << 30)
#define COW_GROWTH_FACTOR	4
/* bytes of the header's base path field (NUL-padded, NUL-terminated) */
#define COW_PATH_LEN		3964u

/* Guest sector: the virtual size is a multiple of it. */
#define COW_SECTOR_SIZE		512u

struct cow;

/*
 * One piece of a request: len bytes at off of fd, which are the bytes at
 * buf_off of the request's buffer.  fd is the overlay's or the base's fd
 * given to cow_open(), or -1: the run reads as zeros (past the base's
 * end; the caller fills its buffer with zeros and does no I/O).
 */
struct cow_run {
	int fd;
	uint64_t off;
	uint32_t len;
	uint32_t buf_off;
};

/* The header's fields, as parsed (host byte order). */
struct cow_info {
	uint32_t version;
	uint64_t virtual_size;		/* bytes, multiple of 512 */
	uint64_t base_size;		/* bytes, when created */
	uint64_t base_mtime_ns;		/* st_mtim of the base, when created */
	uint64_t bitmap_off, bitmap_len;	/* bytes of the overlay file */
	uint64_t data_off;		/* data of virtual X at data_off + X */
	char base_path[COW_PATH_LEN];	/* informational, NUL-terminated */
};

/*
 * Validate a header of len bytes (len < COW_HEADER_SIZE: -EINVAL) and
 * fill *info.  Checked: magic, version, header and block size, flags and
 * reserved bytes zero, virtual size (512-multiple, 1 .. COW_MAX_SIZE),
 * base size (<= COW_MAX_SIZE), bitmap offset (4 KiB aligned, after the
 * header, below 1 MiB) and length (4 KiB multiple, holds the virtual
 * size, at most what COW_MAX_SIZE needs), data offset (1 MiB aligned,
 * after the bitmap, at most 1 MiB past it), the base path NUL-terminated
 * and NUL-padded, and the CRC-32C of the header.  Returns 0 or -EINVAL;
 * *why (if not NULL) is set to a constant string naming the failed check.
 */
int cow_parse_header(const void *buf, size_t len, struct cow_info *info,
		     const char **why);

/*
 * Serialize info into a COW_HEADER_SIZE buffer (checksum included).
 * The inverse of cow_parse_header() for a valid info.
 */
void cow_build_header(const struct cow_info *info, void *buf);

/*
 * Open the overlay ovl_fd over the base base_fd.  ovl_fd is opened
 * O_RDWR (O_RDONLY suffices to read: cow_read_map() only); base_fd may
 * be O_RDONLY and is never written.  With create and an empty overlay
 * file, a new overlay is made as by cow_create(ovl_fd, base_fd, 0, "",
 * out); otherwise the header is read and validated.  -ESTALE: the base's
 * size (lseek SEEK_END, so block devices work) or st_mtim is not the
 * header's, the base changed since the overlay was made.  -EINVAL: a bad
 * header, an empty overlay without create, the two fds the same file, or
 * a base that is neither a regular file nor a block device.  -ENOMEM.
 */
int cow_open(int ovl_fd, int base_fd, bool create, struct cow **out);

/*
 * Make a new overlay in the empty file ovl_fd over base_fd, of virtual
 * size "size" (0: the base's size rounded up to 512), base_path recorded
 * for information (may be NULL; truncated to COW_PATH_LEN - 1 bytes).
 * The file is extended (sparse) to data_off + the virtual size rounded
 * up to a block.  -EEXIST if the file is not empty.
 */
int cow_create(int ovl_fd, int base_fd, uint64_t size, const char *base_path,
	       struct cow **out);

/*
 * Read and validate the header of ovl_fd without a base, and count the
 * blocks whose bit is set (*written, may be NULL).  For vpv-cow info.
 */
int cow_inspect(int ovl_fd, struct cow_info *info, uint64_t *written);

/* Free c; the fds stay open (they are the caller's). */
void cow_close(struct cow *c);

/* The virtual size in bytes. */
uint64_t cow_size(const struct cow *c);

/* The header's fields as they are now (virtual size after resizes). */
void cow_get_info(const struct cow *c, struct cow_info *info);

/* How many blocks have their bit set. */
uint64_t cow_written_blocks(const struct cow *c);

/*
 * Set the virtual size to size (a multiple of 512, 1 .. the capacity of
 * the bitmap area: -ENOSPC beyond, see COW_MIN_CAPACITY).  Growing: the
 * new range reads as zeros (the base does not show through it even where
 * the base is larger); shrinking: the blocks past the end are forgotten
 * (bits cleared, overlay punched).  The header is rewritten.
 */
int cow_resize(struct cow *c, uint64_t size);

/*
 * Map [off, off + len) to runs r[0 .. n-1], in order, each wholly in the
 * base, the overlay or zeros (fd -1), adjacent pieces of one kind merged.
 * Returns n, -EINVAL for a range outside the virtual size or len 0, or
 * -ENOBUFS if max runs are not enough (len / 4096 + 3 always is).
 */
int cow_read_map(struct cow *c, uint64_t off, uint32_t len,
		 struct cow_run *r, unsigned int max);

/*
 * Before writing [off, off + len): copy up from the base the 4 KiB
 * blocks at the edges that the write covers only in part and that are
 * not yet in the overlay (synchronous pread/pwrite; zeros past the
 * base's end), then *r = the one overlay run to write.  The caller
 * writes the run, then calls cow_write_done() before answering.  Writes
 * in flight at once to one block (different sectors of it) are fine: a
 * block is copied up once.  -EINVAL (range), -EBADF (overlay opened
 * read-only), -EIO.
 */
int cow_write_prepare(struct cow *c, uint64_t off, uint32_t len,
		      struct cow_run *r);

/*
 * The overlay run of [off, off + len) was written: set the blocks' bits
 * and pwrite the bitmap bytes that changed (before the write is
 * answered, so that a killed back-end loses nothing answered; durable on
 * power loss only after cow_flush()).  -EINVAL if the range is bad or a
 * partly covered block was not prepared by cow_write_prepare().
 */
int cow_write_done(struct cow *c, uint64_t off, uint32_t len);

/*
 * Discard (zero false) or zero (zero true) [off, off + len) in the
 * overlay and set the bits, so the base no longer shows through.  Zero:
 * the whole range reads back as zeros (edge blocks copied up, then
 * FALLOC_FL_ZERO_RANGE, or written zeros where unsupported).  Discard:
 * only the whole blocks inside the range are punched
 * (FALLOC_FL_PUNCH_HOLE) and read back as zeros; partial edges keep
 * their data (a discard may read back as anything).  Bits written as by
 * cow_write_done().
 */
int cow_discard(struct cow *c, uint64_t off, uint64_t len, bool zero);

/* fdatasync the overlay: everything written and answered is durable. */
int cow_flush(struct cow *c);

#endif /* VPV_COW_H */
