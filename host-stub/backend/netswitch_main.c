// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-netswitch: the L2 switch joining the vifs of one stub that name
 * the same --switch (Documentation/host-stub.rst, "vpv-netswitch").
 * Started by vpv-host (src/devices/vswitch.c) with its socket as fd 3,
 * one process per switch name; it holds no guest memory, only its
 * ports: the switch's ends of socket pairs whose other ends are the
 * vifs' vpv-netback processes.
 *
 * Start-up: INIT on fd 3, then the sandbox (besandbox.c,
 * be_sandbox_switch()): no capabilities, no new privileges, every fd
 * closed but the socket, RLIMIT_NOFILE just above the ports it may
 * hold (the core hands them over later, by SCM_RIGHTS), a seccomp
 * filter allowing only its loop's system calls.
 *
 * The loop polls the socket and every port.  Each round serves the
 * readable ports in turn, starting one further each round, up to
 * NSW_BUDGET packets each (a flooding port gets its share and no
 * more); each packet is read into the process's own buffer, checked
 * and switched there (netswitch.c), and written with non-blocking
 * sends: a destination whose queue is full drops it (counted), nobody
 * waits.  Counters go to the core at most every NSW_STATS_MS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "besandbox.h"
#include "netswitch.h"

#define NSW_SOCK_FD	3
/* control messages handled per wake-up before the ports' turn */
#define NSW_CTL_PER_WAKE	32u
/*
 * The fds it may hold: 0-3 (the socket, and what the ports' fds
 * fill first once 0-2 are closed), the ports, one spare for a PORT_ADD
 * to be refused cleanly.
 */
#define NSW_NOFILE	(NSW_SOCK_FD + 1 + NSW_PORTS_MAX + 1)

static struct nsw S;
static bool hup[NSW_PORTS_MAX];	/* its peer is gone: not polled */
static uint8_t pkt[NSW_PKT_MAX + 1];	/* +1: a longer one shows */
static uint64_t stats_ms;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *why)
{
	/* stderr is closed in the sandbox: this only shows before it */
	fprintf(stderr, "vpv-netswitch: %s\n", why);
	_exit(1);
}

static void recv_init(void)
{
	struct nsw_msg_init m;
	ssize_t n = recv(NSW_SOCK_FD, &m, sizeof(m), MSG_TRUNC);

	if (n != sizeof(m) || m.h.type != NSW_MSG_INIT ||
	    m.h.len != sizeof(m) || m.version != NSW_PROTO_VERSION ||
	    !memchr(m.name, '\0', sizeof(m.name)))
		die("bad INIT");
	if (be_sandbox_switch(NSW_SOCK_FD, NSW_NOFILE,
			      !(m.flags & NSW_INIT_SECCOMP_OFF)))
		die("sandbox");
}

static int port_find(uint32_t id)
{
	uint32_t i;

	for (i = 0; i < NSW_PORTS_MAX; i++)
		if (S.port[i].used && S.port[i].id == id)
			return (int)i;
	return -1;
}

static void port_del(uint32_t i)
{
	close(S.port[i].fd);
	nsw_port_reset(&S, i);
	S.port[i].used = false;
	S.port[i].fd = -1;
	hup[i] = false;
}

/* A PORT_ADD with its fd (fd < 0: none came): a free slot, or exit. */
static void port_add(const struct nsw_msg_port *m, int fd)
{
	uint32_t i;

	if (fd < 0 || port_find(m->port) >= 0)
		_exit(2);	/* not from a sane core: it restarts us */
	for (i = 0; i < NSW_PORTS_MAX && S.port[i].used; i++)
		;
	if (i == NSW_PORTS_MAX)
		_exit(2);
	nsw_port_reset(&S, i);
	S.port[i].used = true;
	S.port[i].fd = fd;
	S.port[i].id = m->port;
	hup[i] = false;
}

/* One control message; false: none waiting.  Exits on EOF or garbage. */
static bool ctl_one(void)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct nsw_msg_port m;
	struct iovec iov = { &m, sizeof(m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd = -1, i;
	ssize_t n;

	n = recvmsg(NSW_SOCK_FD, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0)
		_exit(0);	/* the core is gone */
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (n != sizeof(m) || m.h.len != n || (mh.msg_flags & MSG_CTRUNC))
		_exit(2);
	if (m.h.type == NSW_MSG_PORT_ADD) {
		port_add(&m, fd);
		return true;
	}
	if (fd >= 0)
		close(fd);
	i = port_find(m.port);
	if (m.h.type != NSW_MSG_PORT_DEL || i < 0)
		_exit(2);
	port_del(i);
	return true;
}

static void put(uint32_t to, size_t n)
{
	struct nsw_port *p = &S.port[to];

	p->dirty = true;
	if (!hup[to] &&
	    send(p->fd, pkt, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n)
		p->st.out++;
	else	/* its queue is full (or its peer gone): a switch's drop */
		p->st.dropped++;
}

/* Up to NSW_BUDGET packets of port i, each switched. */
static void serve_port(uint32_t i, short revents)
{
	uint32_t k, q, dst = 0;
	ssize_t n;

	for (k = 0; k < NSW_BUDGET; k++) {
		n = recv(S.port[i].fd, pkt, sizeof(pkt),
			 MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0)
			return;		/* EAGAIN: empty */
		if (n == 0 && (revents & POLLHUP)) {
			hup[i] = true;	/* PORT_DEL comes */
			return;
		}
		if ((size_t)n > NSW_PKT_MAX)
			n = NSW_PKT_MAX + 1;	/* truncated: nsw_frame_check */
		switch (nsw_decide(&S, i, pkt, n, now_ms(), &dst)) {
		case NSW_UNICAST:
			put(dst, n);
			break;
		case NSW_FLOOD:
			for (q = 0; q < NSW_PORTS_MAX; q++)
				if (q != i && S.port[q].used)
					put(q, n);
			break;
		default:
			break;
		}
	}
}

static int stats_timeout(void)
{
	uint64_t now = now_ms();
	uint32_t i;

	for (i = 0; i < NSW_PORTS_MAX; i++)
		if (S.port[i].used && S.port[i].dirty)
			break;
	if (i == NSW_PORTS_MAX)
		return -1;
	return now - stats_ms >= NSW_STATS_MS ? 0 :
	       (int)(stats_ms + NSW_STATS_MS - now);
}

static void flush_stats(void)
{
	struct nsw_msg_stats m;
	uint32_t i;

	if (stats_timeout())
		return;
	stats_ms = now_ms();
	for (i = 0; i < NSW_PORTS_MAX; i++) {
		struct nsw_port *p = &S.port[i];

		if (!p->used || !p->dirty)
			continue;
		memset(&m, 0, sizeof(m));
		m.h.type = NSW_MSG_PORT_STATS;
		m.h.len = sizeof(m);
		m.port = p->id;
		m.s = p->st;
		m.s.macs = nsw_port_macs(&S, i);
		memset(&p->st, 0, sizeof(p->st));
		p->dirty = false;
		if (send(NSW_SOCK_FD, &m, sizeof(m), MSG_NOSIGNAL) !=
		    sizeof(m))
			_exit(0);
	}
}

int main(void)
{
	struct pollfd pf[1 + NSW_PORTS_MAX];
	uint32_t map[1 + NSW_PORTS_MAX], i, k, np;

	for (i = 0; i < NSW_PORTS_MAX; i++)
		S.port[i].fd = -1;
	recv_init();
	for (;;) {
		pf[0].fd = NSW_SOCK_FD;
		pf[0].events = POLLIN;
		np = 1;
		/* the ports in this round's order: rr first */
		for (k = 0; k < NSW_PORTS_MAX; k++) {
			i = (S.rr + k) % NSW_PORTS_MAX;
			if (!S.port[i].used || hup[i])
				continue;
			pf[np].fd = S.port[i].fd;
			pf[np].events = POLLIN;
			map[np++] = i;
		}
		if (poll(pf, np, stats_timeout()) < 0 && errno != EINTR)
			_exit(3);
		if (pf[0].revents) {
			for (k = 0; k < NSW_CTL_PER_WAKE && ctl_one(); k++)
				;
			continue;	/* the ports may have changed */
		}
		for (k = 1; k < np; k++)
			if (pf[k].revents && S.port[map[k]].used)
				serve_port(map[k], pf[k].revents);
		S.rr = (S.rr + 1) % NSW_PORTS_MAX;
		flush_stats();
	}
}
