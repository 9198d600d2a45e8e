// SPDX-License-Identifier: GPL-2.0
/*
 * One control connection: read a request line, answer it, close.
 *
 * The socket is non-blocking and served by the main loop, so a reply
 * larger than the socket buffer is kept in c->out and sent as the
 * client reads (the caller waits for EPOLLOUT while ctl_conn_read or
 * ctl_conn_write return CTL_CONN_WRITE).  A client that does not read
 * is dropped by the caller's timeout.  Replies are bounded by
 * VPV_CTL_MAX_REPLY (ctl_handle_line), so buffering one per connection
 * is too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "vpv_host.h"

void ctl_conn_init(struct ctl_conn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	sb_init(&c->out);
}

void ctl_conn_release(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	sb_free(&c->out);
	c->off = 0;
	c->len = 0;
}

/* Send what the socket takes; CTL_CONN_DONE when all went or on error. */
int ctl_conn_write(struct ctl_conn *c)
{
	ssize_t n;

	while (c->off < c->out.len) {
		n = send(c->fd, c->out.buf + c->off, c->out.len - c->off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return CTL_CONN_WRITE;
		if (n < 0) {
			fprintf(stderr, "vpv-host: ctl send: %s (%zu of %zu bytes sent)\n",
				strerror(errno), c->off, c->out.len);
			return CTL_CONN_DONE;
		}
		c->off += n;
	}
	return CTL_CONN_DONE;
}

static int ctl_conn_reply(struct host *h, struct ctl_conn *c,
			  const char *req, size_t len)
{
	sb_free(&c->out);
	ctl_handle_line(h, req, len, &c->out);
	sb_puts(&c->out, "\n");
	if (c->out.oom) {
		fprintf(stderr, "vpv-host: ctl reply: out of memory\n");
		return CTL_CONN_DONE;
	}
	c->off = 0;
	return ctl_conn_write(c);
}

/*
 * The socket is readable: CTL_CONN_READ (no full line yet),
 * CTL_CONN_WRITE (reply pending) or CTL_CONN_DONE (close it).
 */
int ctl_conn_read(struct host *h, struct ctl_conn *c)
{
	char *nl;
	ssize_t n;

	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? CTL_CONN_READ :
							   CTL_CONN_DONE;
	if (n == 0)			/* EOF without newline */
		return c->len ? ctl_conn_reply(h, c, c->buf, c->len) :
				CTL_CONN_DONE;
	c->len += n;
	c->buf[c->len] = '\0';
	nl = memchr(c->buf, '\n', c->len);
	if (nl)
		return ctl_conn_reply(h, c, c->buf, nl - c->buf);
	if (c->len > VPV_CTL_MAX_REQ)	/* "too long" */
		return ctl_conn_reply(h, c, c->buf, c->len);
	return CTL_CONN_READ;
}
