// SPDX-License-Identifier: GPL-2.0
/*
 * ivshmem-doorbell server side (QEMU docs/specs/ivshmem-spec.rst).
 *
 * On connect the server sends int64 little-endian messages, each with
 * at most one fd attached via SCM_RIGHTS:
 *   1. protocol version 0 (no fd)
 *   2. the client's peer id (no fd)
 *   3. -1 with the shared memory fd
 *   4. for every other peer, for each vector: that peer's id + eventfd
 *   5. for each vector: the client's own id + eventfd (its interrupts)
 * The stub is the only other peer (id 0); the guest is always id 1.
 * The host's eventfds are VPV_NR_DOORBELLS, the guest's VPV_NR_GUEST_EVS
 * (up to its last per-CPU vector; QEMU takes at most vectors= of each).
 * One socket per guest, so guests never share a region.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "vpv_host.h"

static int send_msg(int sock, int64_t val, int fd)
{
	ssize_t n;

	/* x86-64 only: host order is little-endian as the spec wants */
	do {
		n = vpv_send_fds(sock, &val, sizeof(val), &fd, fd >= 0, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(val) ? 0 : -EIO;
}

int ivshmem_send_setup(struct guest *g, int sock)
{
	int ret, v;

	ret = send_msg(sock, 0, -1);
	if (!ret)
		ret = send_msg(sock, VPV_GUEST_PEER_ID, -1);
	if (!ret)
		ret = send_msg(sock, -1, g->shm_fd);
	for (v = 0; !ret && v < VPV_NR_DOORBELLS; v++)
		ret = send_msg(sock, VPV_HOST_PEER_ID, g->host_ev[v]);
	/* every vector up to the per-CPU ones (guest_ev[], vpv_host.h) */
	for (v = 0; !ret && v < VPV_NR_GUEST_EVS; v++)
		ret = send_msg(sock, VPV_GUEST_PEER_ID, g->guest_ev[v]);
	return ret;
}

int ivshmem_listen(struct guest *g, const char *path)
{
	int fd;

	g->sock_path = strdup(path);
	if (!g->sock_path)
		return -ENOMEM;
	fd = unix_listen(path, 4);
	if (fd < 0) {
		free(g->sock_path);
		g->sock_path = NULL;	/* not ours: do not unlink */
		return fd;
	}
	g->listen_fd = fd;
	return 0;
}

/*
 * Accept one pending connection.  Only one client at a time: a second
 * connection is closed immediately without seeing any fd.  Returns 1
 * if a client was set up, 0 if nothing (or a rejected client) was
 * accepted, negative errno on error.
 */
int ivshmem_accept(struct guest *g)
{
	int fd, ret;

	fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ||
		       errno == ECONNABORTED ? 0 : -errno;
	if (g->conn_fd >= 0) {
		fprintf(stderr,
			"vpv-host: %s: rejecting second ivshmem client\n",
			g->name);
		close(fd);
		return 0;
	}
	ret = ivshmem_send_setup(g, fd);
	if (ret) {
		fprintf(stderr, "vpv-host: %s: ivshmem setup failed: %s\n",
			g->name, strerror(-ret));
		close(fd);
		return 0;
	}
	g->conn_fd = fd;
	g->connects++;
	fprintf(stderr, "vpv-host: %s: ivshmem client connected (peer %d)\n",
		g->name, VPV_GUEST_PEER_ID);
	return 1;
}

/* The client never sends anything; EOF or error means it went away. */
void ivshmem_conn_event(struct guest *g)
{
	char buf[256];
	ssize_t n;
	int i;

	if (g->conn_fd < 0)
		return;
	for (i = 0; ; i++) {
		n = recv(g->conn_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0 && i < 16)
			continue;	/* unexpected data: discard */
		if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
			return;		/* epoll reports the rest */
		break;
	}
	fprintf(stderr, "vpv-host: %s: ivshmem client disconnected\n",
		g->name);
	close(g->conn_fd);
	g->conn_fd = -1;
}
