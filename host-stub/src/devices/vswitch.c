// SPDX-License-Identifier: GPL-2.0
/*
 * The vif switches (vswitch.h): vpv-ctl device add GUEST vif ID
 * --switch NAME makes a socket pair (vif.c); its first end goes to the
 * device's vpv-netback in place of a tap, the other end comes here
 * (beproc.c, bp_switch_port()) as a port of switch NAME.  Each switch
 * is a vpv-netswitch process (backend/netswitch_main.c) supervised as
 * the back-ends are (beproc.c's thread polls its socket and pidfd,
 * under the bus lock; the same backoff and crash bound,
 * --backend-max-crashes): started with the first port, stopped and
 * reaped with the last.  The core keeps the switch's end of every
 * port: a new process gets them all again (PORT_ADD each), the ports'
 * queues and the netbacks untouched, so a switch crash loses only the
 * frames it held and stops no guest.  The switch's messages (its
 * counters) are copied once and checked like a back-end's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "vpv_host.h"
#include "nsw_proto.h"

#ifndef P_PIDFD
#define P_PIDFD		3
#endif

#define VSW_EXE		"vpv-netswitch"
/* messages taken from one switch per wake-up (bounded work) */
#define VSW_MSGS_PER_WAKE	32u

enum vs_state { VS_RUNNING, VS_BACKOFF, VS_FAILED };

struct vsw_port {
	uint32_t id;
	int fd;			/* the switch's end, ours */
	char guest[VPV_NAME_MAX + 1];
	uint32_t domid, dev_id;
	struct nsw_port_stats st;	/* counters summed, the gauge */
	struct vsw_port *next;
};

struct vswitch {
	char name[NSW_NAME_MAX];
	uint64_t key;		/* this process instance: the epoll tag */
	int sock, pidfd;
	pid_t pid;
	enum vs_state st;
	uint32_t next_id;
	unsigned int nports;
	struct vsw_port *ports;
	uint64_t respawn_ms;
	uint32_t backoff_ms, window_crashes, crashes;
	uint64_t window_ms;
	int last_status;	/* wait status, -1: none */
	uint64_t bad_msgs;
	struct vswitch *next;
};

static struct vswitch *sws;	/* bus lock */
static uint64_t vs_next_key = 1;

bool vswitch_name_ok(const char *n)
{
	size_t i, len = n ? strlen(n) : 0;

	if (!len || len >= NSW_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		      (n[i] >= 'A' && n[i] <= 'Z') ||
		      (n[i] >= '0' && n[i] <= '9') || n[i] == '_' ||
		      n[i] == '-'))
			return false;
	return true;
}

static struct vswitch *vs_find(const char *name)
{
	struct vswitch *s;

	for (s = sws; s; s = s->next)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

static void vs_sigkill(struct vswitch *s)
{
	if (s->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
}

/* One message, never waiting; a failure kills it (it is restarted). */
static int vs_send(struct vswitch *s, void *msg, uint32_t type, size_t len,
		   int fd)
{
	struct be_hdr *h = msg;

	if (s->st != VS_RUNNING || s->sock < 0)
		return -ESRCH;
	h->type = type;
	h->len = len;
	h->seq = 0;
	h->pad = 0;
	if (vpv_send_fds(s->sock, msg, len, &fd, fd >= 0, MSG_DONTWAIT) ==
	    (ssize_t)len)
		return 0;
	fprintf(stderr, "vpv-host: switch %s (pid %d): cannot send (%s), killing it\n",
		s->name, s->pid, strerror(errno));
	vs_sigkill(s);
	return -EPIPE;
}

static void vs_port_msg(struct vswitch *s, struct vsw_port *p, uint32_t type)
{
	struct nsw_msg_port m;

	memset(&m, 0, sizeof(m));
	m.port = p->id;
	vs_send(s, &m, type, sizeof(m),
		type == NSW_MSG_PORT_ADD ? p->fd : -1);
}

static void vs_close(struct vswitch *s)
{
	beproc_unwatch(s->sock);
	beproc_unwatch(s->pidfd);
	if (s->sock >= 0)
		close(s->sock);
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->sock = -1;
	s->pidfd = -1;
	s->pid = 0;
}

static int vs_reap(struct vswitch *s, bool wait);

/* Start the process, INIT, every port; bus lock held.  0 or -errno. */
static int vs_spawn(struct vswitch *s)
{
	struct nsw_msg_init m;
	struct vsw_port *p;
	int ret;

	ret = beproc_spawn_exe(VSW_EXE, &s->sock, &s->pidfd, &s->pid);
	if (ret)
		return ret;
	s->key = vs_next_key++;
	ret = beproc_watch(s->sock, s->key << 1);
	if (!ret)
		ret = beproc_watch(s->pidfd, s->key << 1 | 1);
	if (ret) {
		vs_sigkill(s);
		vs_reap(s, true);
		vs_close(s);
		return ret;
	}
	s->st = VS_RUNNING;
	memset(&m, 0, sizeof(m));
	m.version = NSW_PROTO_VERSION;
	snprintf(m.name, sizeof(m.name), "%s", s->name);
	if (vs_send(s, &m, NSW_MSG_INIT, sizeof(m), -1))
		return 0;	/* killed: its pidfd tells, as a crash */
	for (p = s->ports; p; p = p->next)
		vs_port_msg(s, p, NSW_MSG_PORT_ADD);
	return 0;
}

/* Reap it (wait: block until it is gone): its wait status, or -1. */
static int vs_reap(struct vswitch *s, bool wait)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (s->pidfd < 0 ||
	    syscall(SYS_waitid, P_PIDFD, s->pidfd, &si,
		    WEXITED | __WALL | (wait ? 0 : WNOHANG), NULL) < 0 ||
	    !si.si_pid)
		return -1;
	return si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 :
					  si.si_status & 0x7f;
}

/* The process died unasked: reap, count, back off or give up. */
static void vs_died(struct vswitch *s)
{
	const struct beproc_cfg *cfg = beproc_config();
	uint64_t now = bus_now_ms();
	int st = vs_reap(s, false);

	if (st < 0) {		/* not gone yet after all: make sure */
		vs_sigkill(s);
		st = vs_reap(s, true);
	}
	fprintf(stderr, "vpv-host: switch %s (pid %d) died (wait status %d)\n",
		s->name, s->pid, st);
	vs_close(s);
	s->last_status = st;
	s->crashes++;
	if (now - s->window_ms > cfg->window_ms) {
		s->window_ms = now;
		s->window_crashes = 0;
	}
	if (++s->window_crashes >= cfg->max_crashes) {
		s->st = VS_FAILED;
		fprintf(stderr, "vpv-host: switch %s failed: %u crashes within %u ms\n",
			s->name, s->window_crashes, cfg->window_ms);
		return;
	}
	s->st = VS_BACKOFF;
	s->respawn_ms = now + s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > cfg->backoff_max_ms ?
			cfg->backoff_max_ms : s->backoff_ms * 2;
	beproc_wake();
}

/* Kill and reap now (its last port went); bus lock held. */
static void vs_stop(struct vswitch *s)
{
	if (s->st == VS_RUNNING) {
		vs_sigkill(s);
		vs_reap(s, true);
	}
	vs_close(s);
	s->st = VS_BACKOFF;
}

static struct vsw_port *vs_port(struct vswitch *s, uint32_t id)
{
	struct vsw_port *p;

	for (p = s->ports; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

/* A PORT_STATS, copied once into m (n bytes as received): checked. */
static void vs_message(struct vswitch *s, const struct nsw_msg_stats *m,
		       size_t n)
{
	const uint64_t *a = (const uint64_t *)&m->s;
	struct vsw_port *p;
	uint64_t *d;
	uint32_t i;

	if (n != sizeof(*m) || m->h.len != n ||
	    m->h.type != NSW_MSG_PORT_STATS) {
		s->bad_msgs++;
		return;
	}
	p = vs_port(s, m->port);
	if (!p)
		return;		/* removed meanwhile */
	/* counters only: a lying switch lies about its own segment */
	d = (uint64_t *)&p->st;
	for (i = 0; i < NSW_COUNTERS; i++)
		d[i] += a[i];
	p->st.macs = m->s.macs > NSW_MACS_PER_PORT ? NSW_MACS_PER_PORT :
		     m->s.macs;
	/* it works: the next crash starts the backoff afresh */
	s->backoff_ms = beproc_config()->backoff_min_ms;
}

static void vs_sock_event(struct vswitch *s)
{
	struct nsw_msg_stats m;
	unsigned int i;
	ssize_t n;

	for (i = 0; i < VSW_MSGS_PER_WAKE; i++) {
		n = recv(s->sock, &m, sizeof(m), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* dying: its pidfd says when; no more of this */
			vs_sigkill(s);
			beproc_unwatch(s->sock);
			close(s->sock);
			s->sock = -1;
			return;
		}
		vs_message(s, &m, n);
	}
}

void vswitch_event(uint64_t tag)
{
	struct vswitch *s;

	for (s = sws; s; s = s->next)
		if (s->st == VS_RUNNING && s->key == tag >> 1)
			break;
	if (!s)
		return;		/* gone meanwhile */
	if (tag & 1)
		vs_died(s);
	else if (s->sock >= 0)
		vs_sock_event(s);
}

uint64_t vswitch_timers(uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct vswitch *s;

	for (s = sws; s; s = s->next) {
		if (s->st != VS_BACKOFF)
			continue;
		if (now < s->respawn_ms) {
			if (s->respawn_ms < next)
				next = s->respawn_ms;
			continue;
		}
		if (vs_spawn(s)) {	/* as a crash: maybe failed */
			s->st = VS_RUNNING;
			vs_died(s);
			if (s->st == VS_BACKOFF && s->respawn_ms < next)
				next = s->respawn_ms;
		}
	}
	return next;
}

int vswitch_port_add(const char *name, int fd, struct bus_dev *d,
		     uint32_t *port)
{
	struct vswitch *s = NULL;
	struct vsw_port *p = NULL;
	int ret;

	if (!vswitch_name_ok(name)) {
		ret = -EINVAL;
		goto err;
	}
	s = vs_find(name);
	if (s && s->nports >= NSW_PORTS_MAX) {
		ret = -ENOSPC;
		goto err;
	}
	if (s && s->st == VS_FAILED) {
		/* a new port: another try, with a clean history */
		s->window_crashes = 0;
		s->backoff_ms = beproc_config()->backoff_min_ms;
		s->st = VS_BACKOFF;
		s->respawn_ms = 0;
		beproc_wake();
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		ret = -ENOMEM;
		goto err;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			ret = -ENOMEM;
			goto err;
		}
		snprintf(s->name, sizeof(s->name), "%s", name);
		s->sock = -1;
		s->pidfd = -1;
		s->last_status = -1;
		s->next_id = 1;
		s->backoff_ms = beproc_config()->backoff_min_ms;
		ret = vs_spawn(s);
		if (ret) {
			free(s);
			s = NULL;
			goto err;
		}
		s->next = sws;
		sws = s;
	}
	p->id = s->next_id++;
	p->fd = fd;
	snprintf(p->guest, sizeof(p->guest), "%s", d->g->name);
	p->domid = d->domid;
	p->dev_id = d->id;
	p->next = s->ports;
	s->ports = p;
	s->nports++;
	vs_port_msg(s, p, NSW_MSG_PORT_ADD);
	*port = p->id;
	return 0;
err:
	free(p);
	close(fd);
	return ret;
}

void vswitch_port_remove(const char *name, uint32_t port)
{
	struct vswitch *s = vs_find(name), **ps;
	struct vsw_port *p, **pp;

	if (!s)
		return;
	for (pp = &s->ports; *pp; pp = &(*pp)->next)
		if ((*pp)->id == port)
			break;
	p = *pp;
	if (!p)
		return;
	vs_port_msg(s, p, NSW_MSG_PORT_DEL);
	*pp = p->next;
	close(p->fd);
	free(p);
	if (--s->nports)
		return;
	vs_stop(s);
	for (ps = &sws; *ps; ps = &(*ps)->next) {
		if (*ps == s) {
			*ps = s->next;
			break;
		}
	}
	free(s);
}

static void json_port(struct sbuf *out, const struct vsw_port *p)
{
	static const char *const names[] = {
		"in", "bad", "unicast", "flooded", "local", "out", "dropped",
		"mac_evicted", "macs",
	};
	const uint64_t *v = (const uint64_t *)&p->st;
	size_t i;

	sb_printf(out, "{\"port\":%u,\"guest\":", p->id);
	sb_json_str(out, p->guest);
	sb_printf(out, ",\"domid\":%u,\"id\":%u", p->domid, p->dev_id);
	for (i = 0; i < ARRAY_SIZE(names); i++)
		sb_printf(out, ",\"%s\":%llu", names[i],
			  (unsigned long long)v[i]);
	sb_puts(out, "}");
}

void vswitch_json(struct sbuf *out)
{
	static const char *const states[] = { "running", "backoff", "failed" };
	struct vswitch *s;
	struct vsw_port *p;

	bus_enter();
	sb_puts(out, "{\"switches\":[");
	for (s = sws; s; s = s->next) {
		sb_puts(out, s == sws ? "{\"name\":" : ",{\"name\":");
		sb_json_str(out, s->name);
		sb_printf(out,
			  ",\"pid\":%d,\"state\":\"%s\",\"crashes\":%u,\"bad_msgs\":%llu,\"ports\":[",
			  s->st == VS_RUNNING ? s->pid : 0, states[s->st],
			  s->crashes, (unsigned long long)s->bad_msgs);
		for (p = s->ports; p; p = p->next) {
			if (p != s->ports)
				sb_puts(out, ",");
			json_port(out, p);
		}
		sb_puts(out, "]}");
	}
	sb_puts(out, "]}");
	bus_leave();
}

int vswitch_kill(const char *name)
{
	struct vswitch *s;
	int ret;

	bus_enter();
	s = vs_find(name);
	if (!s)
		ret = -ENOENT;
	else if (s->st != VS_RUNNING || s->pidfd < 0)
		ret = -ESRCH;
	else if (syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0))
		ret = -errno;
	else
		ret = s->pid;
	bus_leave();
	return ret;
}

int vswitch_pid(const char *name)
{
	struct vswitch *s;
	int ret;

	bus_enter();
	s = vs_find(name);
	ret = !s ? -ENOENT : s->st == VS_RUNNING ? s->pid : 0;
	bus_leave();
	return ret;
}

int vswitch_port_stats(const char *name, uint32_t port,
		       struct nsw_port_stats *st)
{
	struct vswitch *s;
	struct vsw_port *p = NULL;

	bus_enter();
	s = vs_find(name);
	if (s)
		p = vs_port(s, port);
	if (p)
		*st = p->st;
	bus_leave();
	return p ? 0 : -ENOENT;
}

unsigned int vswitch_nr_fds(void)
{
	struct vswitch *s;
	struct vsw_port *p;
	unsigned int n = 0;

	bus_enter();
	for (s = sws; s; s = s->next) {
		n += (s->sock >= 0) + (s->pidfd >= 0);
		for (p = s->ports; p; p = p->next)
			n++;
	}
	bus_leave();
	return n;
}
