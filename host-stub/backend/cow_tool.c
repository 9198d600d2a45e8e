// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-cow: make, show and merge copy-on-write overlays (cow.h,
 * Documentation/cow.rst).
 *
 *   vpv-cow create OVERLAY BASE [--size SIZE]
 *   vpv-cow info OVERLAY [--json]
 *   vpv-cow merge OVERLAY BASE OUT
 *
 * Exit status: 0 done, 1 the operation failed, 2 bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cow.h"

#define EXIT_USAGE	2
/* merge copies in chunks of 1 MiB: 256 blocks, a few runs each */
#define MERGE_CHUNK	(1u << 20)
#define MERGE_RUNS	(MERGE_CHUNK / COW_BLOCK_SIZE + 3)

static const char usage_create[] =
	"usage: vpv-cow create OVERLAY BASE [--size SIZE]\n"
	"  Make a new overlay file OVERLAY (it must not exist) over the base\n"
	"  image BASE, which is never written.  SIZE: the virtual size in\n"
	"  bytes, a multiple of 512, with an optional K, M, G or T suffix\n"
	"  (powers of 1024); default the base's size rounded up to 512.\n";
static const char usage_info[] =
	"usage: vpv-cow info OVERLAY [--json]\n"
	"  Show the overlay's header (base path, sizes, base mtime), whether\n"
	"  the recorded base is still the same (\"ok\", \"changed\", \"missing\")\n"
	"  and how many 4 KiB blocks were written.\n";
static const char usage_merge[] =
	"usage: vpv-cow merge OVERLAY BASE OUT\n"
	"  Write OUT (it must not exist): the virtual disk, i.e. BASE with\n"
	"  OVERLAY's written blocks applied, OVERLAY's virtual size long.\n"
	"  Blocks of zeros are left as holes.  Refuses a base whose size or\n"
	"  mtime changed since the overlay was made.\n";

static int usage(const char *text, bool help)
{
	fputs(text, help ? stdout : stderr);
	return help ? 0 : EXIT_USAGE;
}

static int fail(const char *what, const char *path, int err)
{
	fprintf(stderr, "vpv-cow: %s %s: %s\n", what, path, strerror(err));
	return EXIT_FAILURE;
}

/* "123", "64K", "10G": bytes, strictly (no sign, no junk, no overflow) */
static int parse_size(const char *s, uint64_t *out)
{
	static const char sfx[] = "KMGT";
	uint64_t v = 0, mul = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	/* K, M, G, T: powers of 1024 */
	if (*p && strchr(sfx, *p)) {
		mul <<= 10 * (strchr(sfx, *p) - sfx + 1);
		p++;
	}
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}

static const char *cow_error(int err)
{
	switch (err) {
	case -ESTALE:
		return "the base changed since the overlay was made (size or mtime), refused";
	case -EINVAL:
		return "not a valid overlay, or bad size";
	default:
		return strerror(-err);
	}
}

static int cmd_create(int argc, char **argv)
{
	const char *ovl = NULL, *base = NULL;
	char real[PATH_MAX];
	uint64_t size = 0;
	struct cow *c;
	int i, bfd, ofd, ret;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help"))
			return usage(usage_create, true);
		if (!strcmp(argv[i], "--size")) {
			if (++i == argc || parse_size(argv[i], &size) || !size) {
				fprintf(stderr, "vpv-cow: bad --size\n");
				return usage(usage_create, false);
			}
		} else if (argv[i][0] == '-' || (ovl && base)) {
			fprintf(stderr, "vpv-cow: unexpected '%s'\n", argv[i]);
			return usage(usage_create, false);
		} else if (!ovl) {
			ovl = argv[i];
		} else {
			base = argv[i];
		}
	}
	if (!base)
		return usage(usage_create, false);
	if (size % COW_SECTOR_SIZE || size > COW_MAX_SIZE) {
		fprintf(stderr, "vpv-cow: --size must be a multiple of 512 and at most %llu\n",
			(unsigned long long)COW_MAX_SIZE);
		return EXIT_USAGE;
	}
	bfd = open(base, O_RDONLY | O_CLOEXEC);
	if (bfd < 0)
		return fail("open", base, errno);
	if (!realpath(base, real))
		snprintf(real, sizeof(real), "%s", base);
	ofd = open(ovl, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (ofd < 0) {
		ret = fail("create", ovl, errno);
		goto out_base;
	}
	ret = cow_create(ofd, bfd, size, real, &c);
	if (!ret) {
		ret = cow_flush(c);
		cow_close(c);
	}
	if (ret) {
		fprintf(stderr, "vpv-cow: create %s: %s\n", ovl, cow_error(ret));
		unlink(ovl);
		ret = EXIT_FAILURE;
	}
	close(ofd);
out_base:
	close(bfd);
	return ret;
}

/* "ok", "changed" or "missing": the recorded base against the header */
static const char *base_status(const struct cow_info *in)
{
	struct stat st;
	off_t end;
	int fd;

	if (!in->base_path[0])
		return "unknown";
	fd = open(in->base_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "missing";
	end = lseek(fd, 0, SEEK_END);
	if (fstat(fd, &st) || end < 0) {
		close(fd);
		return "missing";
	}
	close(fd);
	if ((uint64_t)end != in->base_size ||
	    (uint64_t)st.st_mtim.tv_sec * 1000000000ull +
	    (uint64_t)st.st_mtim.tv_nsec != in->base_mtime_ns)
		return "changed";
	return "ok";
}

/* s as a JSON string */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static void print_info(const char *ovl, const struct cow_info *in,
		       uint64_t written, bool json)
{
	unsigned long long cap = in->bitmap_len * 8 * COW_BLOCK_SIZE;
	unsigned long long vs = in->virtual_size, bs = in->base_size;
	unsigned long long mt = in->base_mtime_ns, wr = written;
	unsigned long long bo = in->bitmap_off, bl = in->bitmap_len;
	unsigned long long dof = in->data_off;
	const char *st = base_status(in);

	if (cap > COW_MAX_SIZE)
		cap = COW_MAX_SIZE;
	if (!json) {
		printf("overlay:        %s\nbase:           %s\n", ovl,
		       in->base_path);
		printf("base status:    %s\n", st);
		printf("virtual size:   %llu\nbase size:      %llu\n", vs, bs);
		printf("base mtime ns:  %llu\nmax size:       %llu\n", mt, cap);
		printf("blocks written: %llu (%llu bytes of %u)\n", wr,
		       wr * COW_BLOCK_SIZE, COW_BLOCK_SIZE);
		printf("bitmap:         %llu bytes at %llu\n", bl, bo);
		printf("data offset:    %llu\n", dof);
		return;
	}
	printf("{\"overlay\":");
	json_str(ovl);
	printf(",\"base\":");
	json_str(in->base_path);
	printf(",\"base_status\":\"%s\",\"version\":%u,\"block_size\":%u", st,
	       in->version, COW_BLOCK_SIZE);
	printf(",\"virtual_size\":%llu,\"base_size\":%llu", vs, bs);
	printf(",\"base_mtime_ns\":%llu,\"max_size\":%llu", mt, cap);
	printf(",\"blocks_written\":%llu,\"bytes_written\":%llu", wr,
	       wr * COW_BLOCK_SIZE);
	printf(",\"bitmap_offset\":%llu,\"bitmap_length\":%llu", bo, bl);
	printf(",\"data_offset\":%llu}\n", dof);
}

static int cmd_info(int argc, char **argv)
{
	const char *ovl = NULL;
	struct cow_info in;
	uint64_t written;
	bool json = false;
	int i, fd, ret;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help"))
			return usage(usage_info, true);
		if (!strcmp(argv[i], "--json")) {
			json = true;
			continue;
		}
		if (argv[i][0] == '-' || ovl) {
			fprintf(stderr, "vpv-cow: unexpected '%s'\n", argv[i]);
			return usage(usage_info, false);
		}
		ovl = argv[i];
	}
	if (!ovl)
		return usage(usage_info, false);
	fd = open(ovl, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open", ovl, errno);
	ret = cow_inspect(fd, &in, &written);
	close(fd);
	if (ret) {
		fprintf(stderr, "vpv-cow: %s: %s\n", ovl, cow_error(ret));
		return EXIT_FAILURE;
	}
	print_info(ovl, &in, written, json);
	return 0;
}

/* a run's bytes into buf (zeros for fd -1 and past the file's end) */
static int read_run(const struct cow_run *r, uint8_t *buf)
{
	uint32_t done = 0;

	while (r->fd >= 0 && done < r->len) {
		ssize_t n = pread(r->fd, buf + r->buf_off + done, r->len - done,
				  (off_t)(r->off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += (uint32_t)n;
	}
	memset(buf + r->buf_off + done, 0, r->len - done);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	return !p[0] && !memcmp(p, p + 1, len - 1);
}

/* Write the non-zero blocks of buf (len bytes) at off of fd. */
static int write_sparse(int fd, const uint8_t *buf, uint32_t len,
			uint64_t off)
{
	uint32_t pos = 0, start, n;
	ssize_t w;

	while (pos < len) {
		n = len - pos < COW_BLOCK_SIZE ? len - pos : COW_BLOCK_SIZE;
		if (all_zero(buf + pos, n)) {
			pos += n;
			continue;
		}
		start = pos;
		while (pos < len) {
			n = len - pos < COW_BLOCK_SIZE ? len - pos
						       : COW_BLOCK_SIZE;
			if (all_zero(buf + pos, n))
				break;
			pos += n;
		}
		w = pwrite(fd, buf + start, pos - start, (off_t)(off + start));
		if (w < 0)
			return -errno;
		if (w != (ssize_t)(pos - start))
			return -EIO;
	}
	return 0;
}

/* a base run over a hole of the base: nothing to copy */
static bool base_hole(const struct cow_run *r)
{
	off_t d = lseek(r->fd, (off_t)r->off, SEEK_DATA);

	return (d < 0 && errno == ENXIO) ||
	       (d >= 0 && (uint64_t)d >= r->off + r->len);
}

static int merge_copy(struct cow *c, int base_fd, int out_fd, uint8_t *buf)
{
	struct cow_run runs[MERGE_RUNS];
	uint64_t pos, size = cow_size(c);
	int i, n, ret;

	for (pos = 0; pos < size; pos += MERGE_CHUNK) {
		uint32_t len = size - pos < MERGE_CHUNK ? (uint32_t)(size - pos)
							: MERGE_CHUNK;

		n = cow_read_map(c, pos, len, runs, MERGE_RUNS);
		if (n < 0)
			return n;
		if (n == 1 && (runs[0].fd < 0 ||
			       (runs[0].fd == base_fd && base_hole(&runs[0]))))
			continue;
		for (i = 0; i < n; i++) {
			ret = read_run(&runs[i], buf);
			if (ret)
				return ret;
		}
		ret = write_sparse(out_fd, buf, len, pos);
		if (ret)
			return ret;
	}
	return fsync(out_fd) ? -errno : 0;
}

static int do_merge(const char *ovl, const char *base, const char *out)
{
	int ofd = -1, bfd = -1, xfd = -1, ret = EXIT_FAILURE, err;
	struct cow *c = NULL;
	uint8_t *buf = NULL;

	ofd = open(ovl, O_RDONLY | O_CLOEXEC);
	if (ofd < 0)
		return fail("open", ovl, errno);
	bfd = open(base, O_RDONLY | O_CLOEXEC);
	if (bfd < 0) {
		fail("open", base, errno);
		goto out;
	}
	err = cow_open(ofd, bfd, false, &c);
	if (err) {
		fprintf(stderr, "vpv-cow: %s over %s: %s\n", ovl, base,
			cow_error(err));
		goto out;
	}
	buf = malloc(MERGE_CHUNK);
	if (!buf) {
		fail("merge", out, ENOMEM);
		goto out;
	}
	xfd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (xfd < 0) {
		fail("create", out, errno);
		goto out;
	}
	err = ftruncate(xfd, (off_t)cow_size(c)) ? -errno : 0;
	if (!err)
		err = merge_copy(c, bfd, xfd, buf);
	if (err) {
		fail("merge into", out, -err);
		unlink(out);
		goto out;
	}
	ret = 0;
out:
	if (xfd >= 0)
		close(xfd);
	free(buf);
	cow_close(c);
	if (bfd >= 0)
		close(bfd);
	close(ofd);
	return ret;
}

static int cmd_merge(int argc, char **argv)
{
	const char *arg[3];
	int i, n = 0;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help"))
			return usage(usage_merge, true);
		if (argv[i][0] == '-' || n == 3) {
			fprintf(stderr, "vpv-cow: unexpected '%s'\n", argv[i]);
			return usage(usage_merge, false);
		}
		arg[n++] = argv[i];
	}
	if (n != 3)
		return usage(usage_merge, false);
	return do_merge(arg[0], arg[1], arg[2]);
}

int main(int argc, char **argv)
{
	static const char all[] =
		"usage: vpv-cow create OVERLAY BASE [--size SIZE]\n"
		"       vpv-cow info OVERLAY [--json]\n"
		"       vpv-cow merge OVERLAY BASE OUT\n"
		"       vpv-cow COMMAND --help\n";

	if (argc < 2)
		return usage(all, false);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
		return usage(all, true);
	if (!strcmp(argv[1], "create"))
		return cmd_create(argc - 2, argv + 2);
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 2, argv + 2);
	if (!strcmp(argv[1], "merge"))
		return cmd_merge(argc - 2, argv + 2);
	fprintf(stderr, "vpv-cow: unknown command '%s'\n", argv[1]);
	return usage(all, false);
}
