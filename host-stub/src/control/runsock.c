// SPDX-License-Identifier: GPL-2.0
/*
 * The run directory and the stub's listening sockets.
 *
 * A socket file takes its mode from the umask at bind(); a chmod()
 * afterwards leaves a window in which anyone may connect.  So bind()
 * runs with umask 0177 (socket 0600) and nothing is chmod'ed.  The
 * umask is process-wide: the threads running meanwhile (hypercall
 * threads) create no files, and it only ever takes permissions away.
 * An existing run dir is used only if it is a directory of ours with
 * mode 0700, so nobody else can have placed or can replace our files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vpv_host.h"

#define RUN_DIR_MODE	0700	/* only us */
#define SOCK_UMASK	0177	/* sockets 0600: only us (and root) */

/*
 * Create dir (mode 0700) or check the existing one: -ENOTDIR if it is
 * not a directory (a symlink is not followed), -EPERM if another user
 * owns it or its mode is not 0700.  *created says which.
 */
int run_dir_prepare(const char *path, bool *created)
{
	struct stat st;

	*created = false;
	if (mkdir(path, RUN_DIR_MODE) == 0) {
		*created = true;
		/* the umask may have taken bits away: say exactly 0700 */
		return chmod(path, RUN_DIR_MODE) < 0 ? -errno : 0;
	}
	if (errno != EEXIST)
		return -errno;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "vpv-host: %s: not a directory\n", path);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 07777) != RUN_DIR_MODE) {
		fprintf(stderr,
			"vpv-host: %s: owned by uid %u with mode %04o; need ours (uid %u) and 0700\n",
			path, (unsigned int)st.st_uid,
			(unsigned int)(st.st_mode & 07777),
			(unsigned int)geteuid());
		return -EPERM;
	}
	return 0;
}

/* A non-blocking listening socket at path, created with mode 0600. */
int unix_listen(const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(SOCK_UMASK);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (ret)
		goto err_close;
	if (listen(fd, backlog) < 0) {
		ret = -errno;
		unlink(path);
		goto err_close;
	}
	return fd;
err_close:
	close(fd);
	return ret;
}
