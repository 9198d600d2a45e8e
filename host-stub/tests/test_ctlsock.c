// SPDX-License-Identifier: GPL-2.0
/*
 * Control plumbing: the run dir check, socket modes at creation, replies
 * larger than the socket buffer, and the JSON reader's memory use.
 */
#include <fcntl.h>
#include <malloc.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "testutil.h"

#ifdef __SANITIZE_ADDRESS__
/* sanitizer/allocator_interface.h, not installed everywhere */
size_t __sanitizer_get_current_allocated_bytes(void);

static size_t heap_in_use(void)
{
	return __sanitizer_get_current_allocated_bytes();
}
#else
static size_t heap_in_use(void)
{
	return mallinfo2().uordblks;
}
#endif

static char path[256];

static const char *tpath(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", test_dir, name);
	return path;
}

static void test_run_dir(void)
{
	char dir[sizeof(path)];
	bool created;
	struct stat st;
	int fd;

	is(run_dir_prepare(tpath("run"), &created), 0, "new run dir");
	ok(created && !stat(path, &st) && (st.st_mode & 07777) == 0700,
	   "created with mode 0700");
	is(run_dir_prepare(path, &created), 0, "existing run dir of ours, 0700");
	ok(!created, "... not created again");
	chmod(path, 0755);
	is(run_dir_prepare(path, &created), -EPERM, "mode 0755 -> refused");
	chmod(path, 0700);
	snprintf(dir, sizeof(dir), "%s", path);
	symlink(dir, tpath("link"));
	is(run_dir_prepare(path, &created), -ENOTDIR,
	   "symlink to a good dir -> refused");
	unlink(path);
	fd = open(tpath("file"), O_CREAT | O_WRONLY, 0700);
	close(fd);
	is(run_dir_prepare(path, &created), -ENOTDIR, "a file -> refused");
	unlink(path);
	rmdir(tpath("run"));
}

/* Created with mode 0600 and never chmod'ed (no window). */
static void check_sock(const char *what, int lfd, int ifd, const char *name)
{
	char evbuf[4096];
	struct stat st;
	bool attrib = false;
	ssize_t n, off;

	ok(lfd >= 0, "%s: listening", what);
	ok(!stat(tpath(name), &st) && S_ISSOCK(st.st_mode) &&
	   (st.st_mode & 0777) == 0600, "%s: mode 0600", what);
	n = read(ifd, evbuf, sizeof(evbuf));
	for (off = 0; off < n;) {
		struct inotify_event *e = (struct inotify_event *)(evbuf + off);

		if ((e->mask & IN_ATTRIB) && e->len && !strcmp(e->name, name))
			attrib = true;
		off += sizeof(*e) + e->len;
	}
	ok(!attrib, "%s: no mode change after creation", what);
	if (lfd >= 0)
		close(lfd);
}

static void test_sock_mode(void)
{
	struct guest g;
	mode_t old = umask(0);		/* the worst case */
	int ifd, wd, ret;

	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	wd = inotify_add_watch(ifd, test_dir, IN_CREATE | IN_ATTRIB);
	ok(ifd >= 0 && wd >= 0, "inotify on the test dir");
	check_sock("ctl socket", ctl_listen(tpath("ctl.sock")), ifd,
		   "ctl.sock");
	unlink(tpath("ctl.sock"));
	test_guest(&g, 32 << 20, 1);
	read(ifd, path, sizeof(path));	/* the RAM file's events */
	ret = ivshmem_listen(&g, tpath("g.sock"));
	check_sock("ivshmem socket", ret ? -1 : dup(g.listen_fd), ifd,
		   "g.sock");
	guest_destroy(&g);		/* unlinks g.sock */
	close(ifd);
	umask(old);
}

/* A 140 KB reply through a 4 KiB socket buffer arrives whole. */
static void test_big_reply(void)
{
	struct guest g;
	struct host h = { .guests = &g, .nr_guests = 1 };
	struct ctl_conn c;
	struct sbuf want, got;
	char req[64], buf[65536];
	int sv[2], sz = 4096, st, rounds = 0;
	ssize_t n;

	test_guest(&g, 64 << 20, 1);
	snprintf(req, sizeof(req), "p2m %s 0-4095\n", g.name);
	sb_init(&want);
	sb_init(&got);
	ctl_handle_line(&h, req, strlen(req) - 1, &want);
	sb_puts(&want, "\n");
	ok(want.len > 100000, "reply of %zu bytes", want.len);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		BAIL("socketpair");
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	ctl_conn_init(&c, sv[0]);
	write(sv[1], req, strlen(req));
	st = ctl_conn_read(&h, &c);
	while (st == CTL_CONN_WRITE && rounds++ < 100000) {
		while ((n = read(sv[1], buf, sizeof(buf))) > 0) {
			buf[n] = '\0';
			sb_puts(&got, buf);
		}
		st = ctl_conn_write(&c);
	}
	ctl_conn_release(&c);		/* closes sv[0] */
	while ((n = read(sv[1], buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		sb_puts(&got, buf);
	}
	close(sv[1]);
	ok(rounds > 1, "the reply needed %d writable rounds", rounds);
	ok(got.len == want.len && !memcmp(got.buf, want.buf, want.len),
	   "the client got all of it (%zu of %zu bytes)", got.len, want.len);
	sb_free(&want);
	sb_free(&got);
	guest_destroy(&g);
}

#define JSON_STRS	4000

/* n strings must not cost n * (rest of the input) bytes. */
static void test_json_linear(void)
{
	struct sbuf in;
	struct json *j;
	size_t before, used;
	int i;

	sb_init(&in);
	sb_puts(&in, "[");
	for (i = 0; i < JSON_STRS; i++)
		sb_printf(&in, "%s\"s%07d\\n\"", i ? "," : "", i);
	sb_puts(&in, "]");
	before = heap_in_use();
	j = json_parse(in.buf);
	used = heap_in_use() - before;
	ok(j && j->child, "parsed %d strings (%zu bytes)", JSON_STRS, in.len);
	ok(used < 64 * in.len, "heap for the tree: %zu bytes (< 64 x input)",
	   used);
	json_free(j);
	sb_free(&in);
}

int main(void)
{
	test_dir_make();
	test_run_dir();
	test_sock_mode();
	test_big_reply();
	test_json_linear();
	test_dir_remove();
	return tap_done();
}
