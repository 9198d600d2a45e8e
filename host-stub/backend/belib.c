// SPDX-License-Identifier: GPL-2.0
/*
 * The back-end process side of src/devices/be_proto.h: INIT (the guest RAM fd,
 * kick and call eventfds), the sandbox, and the loop serving one device
 * (belib.h's API on top of the core's socket).
 *
 * Start-up, in order: fd 3 is the socket (beproc.c's child set it up,
 * nothing else is open but 0-2); receive INIT; map the guest RAM; then
 * the sandbox (besandbox.c): no capabilities, no new privileges, tight
 * rlimits, every fd closed but the socket and the eventfds (kick, and
 * the guest's interrupts: VPV_VEC_EVTCHN's and the per-CPU vectors'),
 * and a seccomp filter allowing only the syscalls the loop uses.  From
 * then on the process can reach its guest's RAM, its socket (the core
 * validates every request) and those eventfds, nothing else.
 *
 * Requests to the core are synchronous: send, then wait for the REPLY
 * with the same seq.  A CONNECT or DISCONNECT that arrives meanwhile is
 * kept (one at most: the core never has two unanswered of one kind and
 * a CONNECT never overtakes a DISCONNECT) and handled after the current
 * callback.  Anything unexpected from the core ends the process (the
 * core restarts it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "vpv_abi.h"
#include "be_proto.h"
#include "belib.h"
#include "besandbox.h"
#include "evtchn_page.h"

#define BE_SOCK_FD	3
/*
 * Commands the core may have sent while we wait for a REPLY: one
 * CONNECT, one DISCONNECT and one RESIZE unanswered at most.
 */
#define BE_STASH_MAX	3u
/* the guest's interrupt eventfds: VPV_VEC_EVTCHN's, the per-CPU ones */
#define BE_NR_CALLS	(1 + VPV_NR_CPU_VECTORS)

struct proc {
	struct be_dev bd;
	const struct be_device_ops *ops;
	int sock, kick, call;	/* call: the guest's event interrupt */
	/* the guest's per-CPU vectors' eventfds (ABI 1.5): VPV_VEC_CPU0 + i */
	int cpu_call[VPV_NR_CPU_VECTORS];
	struct vpv_evtchn_shared *ev;	/* the guest's event-channel page */
	uint8_t *ram;
	uint64_t ram_size;
	uint32_t seq;
	/* bound, in the order bound (ports[0]: the doorbell's), 0: none */
	uint32_t ports[BE_PORTS_MAX];
	unsigned int nports;
	bool connected;
	bool again;
	/* commands kept during a request: CONNECT, DISCONNECT, RESIZE */
	unsigned int nstash;
	struct be_msg_resize stash[BE_STASH_MAX];
	struct be_params params;
	uint64_t requests, refused;	/* not yet sent (STATS) */
	struct be_blk_stats blk;	/* not yet sent (BLK_STATS) */
	bool blk_due;
	struct be_net_stats net;	/* not yet sent (NET_STATS) */
	bool net_due;
	uint64_t stats_ms;		/* when they were last sent */
	uint64_t total;
	uint64_t forbidden_after;
	bool unmapped;		/* GRANT_UNMAP sent since the last SYNC */
};

static_assert(sizeof(struct vpv_evtchn_shared) <= VPV_PAGE_SIZE,
	      "the event channels are one page");
static_assert(BE_NR_CALLS <= BE_SANDBOX_CALLS_MAX,
	      "the call fds the sandbox keeps");

static struct proc P = { .sock = BE_SOCK_FD, .kick = -1, .call = -1 };

static void die(const char *why)
{
	/* stderr is closed in the sandbox: this only shows before it */
	fprintf(stderr, "vpv-backend: %s\n", why);
	_exit(1);
}

static void send_msg(void *msg, uint32_t type, size_t len, uint32_t seq)
{
	struct be_hdr *h = msg;

	h->type = type;
	h->len = len;
	h->seq = seq;
	h->pad = 0;
	if (send(P.sock, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
		_exit(0);	/* the core is gone or killed the link */
}

static void send_result(uint32_t type, uint32_t seq, int32_t result)
{
	struct be_msg_result m;

	memset(&m, 0, sizeof(m));
	m.result = result;
	send_msg(&m, type, sizeof(m), seq);
}

/* One packet from the core; exits on EOF or anything malformed. */
static size_t recv_msg(void *buf, size_t size)
{
	ssize_t n = recv(P.sock, buf, size, MSG_TRUNC);
	const struct be_hdr *h = buf;

	if (n <= 0)
		_exit(0);
	if ((size_t)n > size || (size_t)n < sizeof(*h) || h->len != n)
		_exit(2);
	return n;
}

static bool is_cmd(const struct be_hdr *h)
{
	return ((h->type == BE_MSG_CONNECT || h->type == BE_MSG_DISCONNECT) &&
		h->len == sizeof(struct be_msg_cmd)) ||
	       (h->type == BE_MSG_RESIZE &&
		h->len == sizeof(struct be_msg_resize));
}

/* Send a request, wait for its REPLY (commands meanwhile are kept). */
static void rpc(void *msg, uint32_t type, size_t len, struct be_msg_reply *r)
{
	uint32_t seq = ++P.seq;

	send_msg(msg, type, len, seq);
	for (;;) {
		recv_msg(r, sizeof(*r));
		if (r->h.type == BE_MSG_REPLY && r->h.len == sizeof(*r) &&
		    r->h.seq == seq) {
			/*
			 * The core handles our messages in order: every
			 * unmap sent before this request is done, as after
			 * a SYNC (be_unmap_barrier() need not ask again;
			 * a GRANT_MAP between a batch's unmaps and its
			 * answers saves that round trip)
			 */
			P.unmapped = false;
			return;
		}
		if (!is_cmd(&r->h) || P.nstash >= BE_STASH_MAX)
			_exit(2);
		memcpy(&P.stash[P.nstash++], r, r->h.len);
	}
}

static struct proc *proc_of(struct be_dev *bd)
{
	return bd->impl;
}

int be_store_read(struct be_dev *bd, bool fe, const char *key, char *buf,
		  unsigned int size)
{
	struct be_msg_store_read m;
	struct be_msg_reply r;
	size_t len;

	(void)proc_of(bd);
	memset(&m, 0, sizeof(m));
	if (!size || strlen(key) >= BE_KEY_MAX)
		return -EINVAL;
	m.dir = fe ? BE_DIR_FE : BE_DIR_BE;
	strcpy(m.key, key);
	rpc(&m, BE_MSG_STORE_READ, sizeof(m), &r);
	if (r.result < 0)
		return r.result;
	len = (size_t)r.result;
	if (len >= BE_VAL_MAX)
		return -EPROTO;
	if (len >= size)
		len = size - 1;
	memcpy(buf, r.val, len);
	buf[len] = '\0';
	return (int)len;
}

int be_grant_map(struct be_dev *bd, struct be_gmap *m, unsigned int n)
{
	struct be_msg_grant_map req;
	struct be_msg_reply r;
	unsigned int i;

	(void)bd;
	if (!n || n > BE_MAP_BATCH)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.n = n;
	for (i = 0; i < n; i++) {
		req.ent[i].ref = m[i].ref;
		req.ent[i].write = m[i].write;
	}
	rpc(&req, BE_MSG_GRANT_MAP, sizeof(req), &r);
	if (r.result < 0)
		return r.result;
	if (r.n != n)
		return -EPROTO;
	for (i = 0; i < n; i++) {
		const struct be_map_res *res = &r.map[i];

		m[i].status = res->status;
		m[i].handle = res->handle;
		m[i].ptr = NULL;
		if (res->status)
			continue;
		/* the core is trusted, but a bad offset must not crash us */
		if (res->offset > P.ram_size ||
		    P.ram_size - res->offset < VPV_PAGE_SIZE)
			m[i].status = -EFAULT;
		else
			m[i].ptr = P.ram + res->offset;
	}
	return 0;
}

void be_grant_unmap(struct be_dev *bd, struct be_gmap *m, unsigned int n)
{
	struct be_msg_grant_unmap u;
	unsigned int i;

	(void)bd;
	memset(&u, 0, sizeof(u));
	for (i = 0; i < n; i++) {
		if (m[i].status || !m[i].ptr)
			continue;
		u.handle[u.n++] = m[i].handle;
		m[i].ptr = NULL;
		m[i].status = -ENOENT;
		if (u.n == BE_MAP_BATCH) {
			send_msg(&u, BE_MSG_GRANT_UNMAP, sizeof(u), 0);
			memset(&u, 0, sizeof(u));
			P.unmapped = true;
		}
	}
	if (u.n) {
		send_msg(&u, BE_MSG_GRANT_UNMAP, sizeof(u), 0);
		P.unmapped = true;
	}
}

bool be_unmap_barrier(struct be_dev *bd)
{
	struct be_msg_cmd m;
	struct be_msg_reply r;

	(void)bd;
	if (!P.unmapped)
		return false;
	P.unmapped = false;
	memset(&m, 0, sizeof(m));
	rpc(&m, BE_MSG_SYNC, sizeof(m), &r);
	return true;
}

int be_bind(struct be_dev *bd, uint32_t port)
{
	struct be_msg_port m;
	struct be_msg_reply r;

	(void)bd;
	if (P.nports >= BE_PORTS_MAX)
		return -EEXIST;
	memset(&m, 0, sizeof(m));
	m.port = port;
	rpc(&m, BE_MSG_BIND_PORT, sizeof(m), &r);
	if (!r.result)
		P.ports[P.nports++] = port;
	return r.result;
}

void be_unbind(struct be_dev *bd)
{
	struct be_msg_port m;

	(void)bd;
	while (P.nports) {
		memset(&m, 0, sizeof(m));
		m.port = P.ports[--P.nports];
		P.ports[P.nports] = 0;
		send_msg(&m, BE_MSG_UNBIND_PORT, sizeof(m), 0);
	}
}

static bool port_bound(uint32_t port)
{
	unsigned int i;

	for (i = 0; port && i < P.nports; i++)
		if (P.ports[i] == port)
			return true;
	return false;
}

/*
 * Raise a bound port towards the guest as the core's evtchn_raise()
 * does (evtchn_page.h, on the same page: the core raises other ports of
 * it meanwhile, the guest clears them), ringing the guest's interrupt
 * when the selector word was empty: vector's eventfd if it is a per-CPU
 * vector, else VPV_VEC_EVTCHN's.  A port the guest closed meanwhile
 * gets a spurious event at most (guests ignore events of ports they do
 * not use); a port not bound is not raised.
 */
void be_notify_port(struct be_dev *bd, uint32_t port, uint32_t vector)
{
	uint64_t one = 1;
	int fd;

	(void)bd;
	if (!port_bound(port) || evtchn_page_raise(P.ev, port) != EV_RING)
		return;
	fd = be_is_cpu_vector(vector) ? P.cpu_call[vector - VPV_VEC_CPU0] :
					P.call;
	/* EAGAIN: the counter is saturated, the guest is rung already */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		_exit(3);
}

void be_notify_vector(struct be_dev *bd, uint32_t vector)
{
	be_notify_port(bd, P.ports[0], vector);
}

void be_notify(struct be_dev *bd)
{
	be_notify_vector(bd, VPV_VEC_EVTCHN);
}

void be_again(struct be_dev *bd)
{
	(void)bd;
	P.again = true;
}

/* Kept with the STATS counters; sent by flush_stats() */
void be_blk_report(struct be_dev *bd, const struct be_blk_stats *s)
{
	(void)bd;
	be_blk_stats_add(&P.blk, s);
	P.blk_due = true;
}

/* Kept with the STATS counters; sent by flush_stats() */
void be_net_report(struct be_dev *bd, const struct be_net_stats *s)
{
	(void)bd;
	be_net_stats_add(&P.net, s);
	P.net_due = true;
}

int be_store_write(struct be_dev *bd, const char *key, const char *val)
{
	struct be_msg_store_write m;
	struct be_msg_reply r;
	size_t len = strlen(val);

	(void)bd;
	if (strlen(key) >= BE_KEY_MAX || len > BE_VAL_MAX)
		return -EINVAL;
	memset(&m, 0, sizeof(m));
	m.dir = BE_DIR_BE;
	m.len = len;
	strcpy(m.key, key);
	memcpy(m.val, val, len);
	rpc(&m, BE_MSG_STORE_WRITE, sizeof(m), &r);
	return r.result;
}

void be_count(struct be_dev *bd, uint64_t requests, uint64_t refused)
{
	(void)bd;
	P.requests += requests;
	P.refused += refused;
	P.total += requests;
	/* the test hook: a syscall the filter kills us for (SIGSYS) */
	if (P.forbidden_after && P.total >= P.forbidden_after)
		be_forbidden_syscall();
}

/* ---- guarded guest RAM access (the SIGBUS of an unbacked page) ---- */

static sigjmp_buf guard_env;
static int guard_on;		/* read by the handler: atomics */

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr, lo = (uintptr_t)P.ram;

	(void)sig;
	(void)uc;
	if (__atomic_load_n(&guard_on, __ATOMIC_RELAXED) && si->si_code > 0 &&
	    a >= lo && a - lo < P.ram_size)
		siglongjmp(guard_env, 1);
	_exit(128 + SIGBUS);	/* a real bug: the core restarts us */
}

int be_guard(struct be_dev *bd, void (*fn)(void *arg), void *arg)
{
	(void)bd;
	if (sigsetjmp(guard_env, 0)) {
		__atomic_store_n(&guard_on, 0, __ATOMIC_RELAXED);
		return -VPV_EFAULT;
	}
	__atomic_store_n(&guard_on, 1, __ATOMIC_RELAXED);
	/* the guard is visible to the handler before fn's first access */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fn(arg);
	/* ... and stays until fn's last access is done */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&guard_on, 0, __ATOMIC_RELAXED);
	return 0;
}

/* ---- start-up ---- */

static void recv_init(struct be_msg_init *m)
{
	union {
		char buf[CMSG_SPACE(BE_INIT_FDS_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fds[BE_INIT_FDS_MAX];
	uint32_t i;
	ssize_t n;

	n = recvmsg(P.sock, &mh, MSG_CMSG_CLOEXEC);
	c = CMSG_FIRSTHDR(&mh);
	if (n != sizeof(*m) || m->h.type != BE_MSG_INIT ||
	    m->h.len != sizeof(*m) || m->version != BE_PROTO_VERSION ||
	    m->nr_fds > BE_DEV_FDS_MAX || !c ||
	    c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN((BE_INIT_FIXED_FDS + m->nr_fds) *
				    sizeof(int)) ||
	    m->evtchn_offset % VPV_PAGE_SIZE)
		die("bad INIT");
	memcpy(fds, CMSG_DATA(c), (BE_INIT_FIXED_FDS + m->nr_fds) * sizeof(int));
	for (i = 0; i < m->nr_fds; i++)
		P.params.fds[i] = fds[BE_INIT_FIXED_FDS + i];
	P.params.nr_fds = m->nr_fds;
	P.params.vbd = m->vbd;
	P.params.vif = m->vif;
	P.bd.params = &P.params;
	P.bd.poll_fd = -1;
	P.ram_size = m->ram_size;
	P.ram = mmap(NULL, P.ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		     fds[BE_FD_RAM], 0);
	if (P.ram == MAP_FAILED)
		die("cannot map the guest RAM");
	close(fds[BE_FD_RAM]);
	P.kick = fds[BE_FD_KICK];
	P.call = fds[BE_FD_CALL];
	for (i = 0; i < VPV_NR_CPU_VECTORS; i++)
		P.cpu_call[i] = fds[BE_FD_CPU0 + i];
	/* one page of the region: the event channels, nothing else of it */
	P.ev = mmap(NULL, VPV_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    fds[BE_FD_REGION], m->evtchn_offset);
	if (P.ev == MAP_FAILED)
		die("cannot map the event-channel page");
	close(fds[BE_FD_REGION]);
	P.forbidden_after = m->forbidden_after;
	P.bd.domid = m->domid;
	P.bd.id = m->id;
	P.bd.impl = &P;
}

static void install_sigbus(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		die("sigaction");
}

/* ---- the loop ---- */

static void cmd(const struct be_hdr *h)
{
	const struct be_msg_resize *rz = (const void *)h;
	int ret;

	if (h->type == BE_MSG_RESIZE) {
		ret = P.ops->resize ? P.ops->resize(&P.bd, rz->size) :
				      -EOPNOTSUPP;
		send_result(BE_MSG_RESIZE_DONE, h->seq, ret);
		return;
	}
	if (h->type == BE_MSG_DISCONNECT) {
		if (P.connected)
			P.ops->disconnect(&P.bd);
		P.connected = false;
		P.again = false;
		send_result(BE_MSG_DISCONNECT_DONE, h->seq, 0);
		return;
	}
	if (P.connected) {		/* not from a sane core */
		P.ops->disconnect(&P.bd);
		P.connected = false;
	}
	ret = P.ops->connect(&P.bd);
	P.connected = !ret;
	send_result(BE_MSG_CONNECT_DONE, h->seq, ret);
}

/*
 * Counters go to the core at most every BE_STATS_MS and at most that
 * late (the main loop's poll timeout): each message wakes the core's
 * back-end thread, and sending them after every event did so thousands
 * of times a second under a 4 KiB load.
 */
#define BE_STATS_MS	10

static uint64_t mono_ms(void)
{
	return be_now_ns() / 1000000;
}

static bool stats_pending(void)
{
	return P.requests || P.refused || P.blk_due || P.net_due;
}

/* The poll timeout until the counters are due: -1 none pending. */
static int stats_timeout(void)
{
	uint64_t now;

	if (!stats_pending())
		return -1;
	now = mono_ms();
	return now - P.stats_ms >= BE_STATS_MS ? 0 :
	       (int)(P.stats_ms + BE_STATS_MS - now);
}

static void flush_stats(void)
{
	struct be_msg_net_stats ns;
	struct be_msg_blk_stats b;
	struct be_msg_stats m;

	if (stats_timeout())
		return;		/* nothing pending, or not due yet */
	P.stats_ms = mono_ms();
	if (P.requests || P.refused) {
		memset(&m, 0, sizeof(m));
		m.requests = P.requests;
		m.refused = P.refused;
		P.requests = 0;
		P.refused = 0;
		send_msg(&m, BE_MSG_STATS, sizeof(m), 0);
	}
	if (P.blk_due) {
		memset(&b, 0, sizeof(b));
		b.s = P.blk;
		memset(&P.blk, 0, sizeof(P.blk));
		P.blk_due = false;
		send_msg(&b, BE_MSG_BLK_STATS, sizeof(b), 0);
	}
	if (P.net_due) {
		memset(&ns, 0, sizeof(ns));
		ns.s = P.net;
		memset(&P.net, 0, sizeof(P.net));
		P.net_due = false;
		send_msg(&ns, BE_MSG_NET_STATS, sizeof(ns), 0);
	}
}

/*
 * The poll timeout: the counters' (stats_timeout()) or the device's
 * timer's, whichever is due first; -1: neither.
 */
static int poll_timeout(void)
{
	int st = stats_timeout(), dt;
	uint64_t now;

	if (!P.bd.timer_ms)
		return st;
	now = mono_ms();
	dt = now >= P.bd.timer_ms ? 0 :
	     P.bd.timer_ms - now > INT32_MAX ? INT32_MAX :
	     (int)(P.bd.timer_ms - now);
	return st < 0 || dt < st ? dt : st;
}

/* The device's timer is due (its complete() then runs). */
static bool timer_due(void)
{
	return P.bd.timer_ms && mono_ms() >= P.bd.timer_ms;
}

static void serve(bool kicked, bool done)
{
	uint64_t v;
	int ret = 0;

	if (kicked && read(P.kick, &v, sizeof(v)) < 0 && errno != EAGAIN)
		_exit(3);
	if (kicked)
		P.again = false;
	if (!P.connected) {
		P.bd.timer_ms = 0;	/* nothing to time: no busy loop */
		return;
	}
	if (done)
		ret = P.ops->complete(&P.bd);
	if (kicked && ret >= 0)
		ret = P.ops->event(&P.bd);
	if (ret < 0) {
		/* the core disconnects the device (it sends DISCONNECT) */
		send_result(BE_MSG_PROTOCOL_ERROR, 0, -EPROTO);
		P.ops->disconnect(&P.bd);
		P.connected = false;
	}
}

int be_main(const struct be_device_ops *ops)
{
	int calls[BE_NR_CALLS];
	struct be_sandbox_extra x;
	struct be_msg_init init;
	struct be_msg_reply buf;
	struct be_msg_resize c;
	unsigned int i;
	bool done;

	P.ops = ops;
	install_sigbus();
	recv_init(&init);
	if (strncmp(init.type, ops->type, sizeof(init.type)))
		die("INIT for another device type");
	memset(&x, 0, sizeof(x));
	if (ops->init && ops->init(&P.bd, &x))
		die("device init");
	calls[0] = P.call;
	for (i = 0; i < VPV_NR_CPU_VECTORS; i++)
		calls[1 + i] = P.cpu_call[i];
	if (be_sandbox(P.sock, P.kick, calls, BE_NR_CALLS, &x,
		       !(init.flags & BE_INIT_SECCOMP_OFF)))
		die("sandbox");
	for (;;) {
		struct pollfd pf[3] = { { P.sock, POLLIN, 0 },
					{ P.kick, POLLIN, 0 },
					{ P.bd.poll_fd, POLLIN, 0 } };

		if (P.nstash) {
			c = P.stash[0];
			memmove(&P.stash[0], &P.stash[1],
				--P.nstash * sizeof(P.stash[0]));
			cmd(&c.h);
			continue;
		}
		if (poll(pf, P.bd.poll_fd >= 0 ? 3 : 2,
			 P.again ? 0 : poll_timeout()) < 0 && errno != EINTR)
			_exit(3);
		flush_stats();
		if (pf[0].revents) {
			recv_msg(&buf, sizeof(buf));
			if (!is_cmd(&buf.h))
				_exit(2);
			cmd(&buf.h);
		}
		/* an error (a tap deleted under it) is the device's to see */
		done = (P.bd.poll_fd >= 0 &&
			(pf[2].revents & (POLLIN | POLLERR | POLLHUP))) ||
		       timer_due();
		if ((pf[1].revents & POLLIN) || P.again || done)
			serve((pf[1].revents & POLLIN) || P.again, done);
	}
}
