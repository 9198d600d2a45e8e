/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by vpv-host and the back-end processes
 * (backend/), which do not link the stub's library.
 */
#ifndef VPV_UTIL_H
#define VPV_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/* FNV-1a 32 of buf: the vloop answer's checksum (abi/vpv_vloop.h). */
static inline uint32_t fnv1a32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t h = 2166136261u;

	while (len--) {
		h ^= *p++;
		h *= 16777619u;
	}
	return h;
}

/*
 * A store value as a feature or key number: decimal digits only, one
 * optional trailing newline (as the guest's kstrtouint() takes), at
 * most UINT32_MAX.  v need not be NUL-terminated.  Returns 0 and the
 * number in *out, or -1 (empty, not such a number, too large).
 */
static inline int vpv_parse_u32(const char *v, size_t len, uint32_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (len && v[len - 1] == '\n')
		len--;
	if (!len)
		return -1;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (uint32_t)(v[i] - '0');
		if (x > UINT32_MAX)
			return -1;
	}
	*out = (uint32_t)x;
	return 0;
}

/*
 * The most fds vpv_send_fds() passes in one message: the back-ends'
 * INIT is the largest (be_proto.h asserts it fits); the kernel's own
 * limit, SCM_MAX_FD, is 253.
 */
#define VPV_SEND_FDS_MAX	32u

/*
 * sendmsg() of buf[0..len) on sock with fds[0..nfds) attached as one
 * SCM_RIGHTS control message (none if nfds is 0); flags as sendmsg()'s,
 * MSG_NOSIGNAL always added (a peer gone is an error, not a signal).
 * Returns what sendmsg() returns: the bytes sent, or -1 with errno
 * (EINVAL: more than VPV_SEND_FDS_MAX fds).  The fds stay open here.
 */
static inline ssize_t vpv_send_fds(int sock, const void *buf, size_t len,
				   const int *fds, unsigned int nfds,
				   int flags)
{
	union {
		char buf[CMSG_SPACE(VPV_SEND_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfds > VPV_SEND_FDS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(sock, &mh, flags | MSG_NOSIGNAL);
}

#endif /* VPV_UTIL_H */
