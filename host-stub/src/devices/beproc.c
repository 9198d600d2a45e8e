// SPDX-License-Identifier: GPL-2.0
/*
 * Back-end processes: a bus driver (split.h) that serves a device type
 * from one process per device instance, build/vpv-<type>back next to
 * vpv-host, and supervises it.  The core keeps the bus state machine,
 * the store, the grant table and the event channels; the process gets
 * over its socket (be_proto.h) the guest RAM fd, a kick eventfd (the
 * guest notified the device's port), the guest's event-channel page and
 * interrupt eventfds (VPV_VEC_EVTCHN's and the per-CPU vectors': it
 * raises its port itself, as a vhost-user back-end rings its call fd:
 * no wake-up of this thread per response), and asks
 * the core for store keys of its own directories, grant maps and its
 * port binding.  Everything it sends is copied once and validated.
 *
 * One thread (bp_thread) polls every back-end's socket and pidfd, and
 * runs the timers (reply deadlines, restart backoff).
 * It works under the bus lock, like the bus driver callbacks; each
 * message is bounded work (a store key, BE_MAP_BATCH grant maps).  The
 * core never waits for a back-end: commands are sent on a non-blocking
 * socket and answered asynchronously (a connect is "pending" for the
 * bus until CONNECT_DONE), a back-end that does not answer within
 * BE_REPLY_TIMEOUT_MS, or whose socket is full or closed, is killed.
 *
 * Processes are started with clone3(CLONE_PIDFD) and exit signal 0
 * (no SIGCHLD; main.c reaps each QEMU by its pid, never waitpid(-1));
 * the pidfd says when one died, waitid(P_PIDFD) reaps it.  On a death the
 * core unmaps every grant the device held, unbinds its port, moves the
 * device Closing -> Closed -> InitWait and restarts the process after a
 * backoff; too many crashes in a window: state failed, until vpv-ctl
 * device restart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "vpv_host.h"

#ifndef P_PIDFD
#define P_PIDFD		3
#endif

enum bp_state { BP_RUNNING, BP_BACKOFF, BP_FAILED };
/* BK_EXT: another supervisor's fd (vswitch.c), its tag in the rest */
enum bp_kind { BK_SOCK, BK_PIDFD, BK_WAKE, BK_EXT };

struct beproc_type {
	const char *type;
	const char *exe;
	const struct bus_feature *features;
	unsigned int maps_max;		/* grant maps per device */
	/* ports per device, 1 .. BE_PORTS_MAX (a vif: one per queue) */
	unsigned int ports_max;
	/* the device's parameters: check them, write its static keys */
	int (*setup)(struct bus_dev *d, const struct be_params *p);
};

static const struct bus_feature vloop_features[] = {
	{ "feature-xor", 1 },
	{ "feature-hold", 1 },	/* HOLD and RELEASE */
	{ NULL, 0 }
};

static const struct beproc_type bp_types[] = {
	{ "vloop", "vpv-vloopback", vloop_features, BE_MAPS_VLOOP, 1,
	  NULL },
	{ "vbd", "vpv-blkback", vbd_features, BE_MAPS_VBD, 1, vbd_setup },
	{ "vif", "vpv-netback", vif_features, BE_MAPS_VIF,
	  VPV_NETIF_MAX_QUEUES, vif_setup },
};

struct beproc {
	struct bus_dev *dev;
	const struct beproc_type *t;
	uint64_t key;		/* this process instance, epoll data */
	int sock, kick, call, pidfd;
	/* dups of the guest's per-CPU vector eventfds (ABI 1.5), for INIT */
	int cpu_call[VPV_NR_CPU_VECTORS];
	int db_slot;		/* its device doorbell, -1: none */
	pid_t pid;
	enum bp_state st;
	uint32_t seq;		/* of the core's commands */
	uint32_t connect_seq;	/* CONNECT unanswered, 0: none */
	uint32_t disconnect_seq;
	uint64_t deadline_ms;	/* for their answers, 0: none */
	bool want_connect;	/* send CONNECT when possible */
	struct be_maptab mt;	/* the device's grant maps */
	struct be_params params;	/* its fds (ours, dup'ed) and more */
	uint32_t resize_seq;	/* RESIZE unanswered, 0: none */
	int resize_result;	/* of the last RESIZE, 1: none yet */
	bool has_blk;		/* BLK_STATS received */
	struct be_blk_stats blk;	/* counters summed, gauges as sent */
	struct be_net_stats net;	/* NET_STATS: the same */
	uint64_t respawn_ms;	/* BP_BACKOFF: restart then */
	uint32_t backoff_ms;
	uint32_t window_crashes;
	uint64_t window_ms;	/* start of the crash window */
	uint32_t crashes;
	int last_status;	/* wait status, -1: none */
	uint64_t forbidden_after;	/* test hook, next spawn */
	uint32_t sw_port;	/* a vif on a switch: its port, 0: none */
	struct beproc *next;
};

static struct beproc *bps;		/* bus lock */
static uint64_t bp_next_key = 1;
static int bp_ep = -1, bp_wake_fd = -1;
static pthread_once_t bp_once = PTHREAD_ONCE_INIT;
static void bp_start(void);
static struct beproc_cfg bp_cfg = {
	BEPROC_MAX_CRASHES, BEPROC_CRASH_WINDOW_MS,
	BEPROC_BACKOFF_MIN_MS, BEPROC_BACKOFF_MAX_MS
};

static char bp_dir[PATH_MAX];

void beproc_configure(const struct beproc_cfg *cfg)
{
	bp_cfg.max_crashes = cfg->max_crashes ?: BEPROC_MAX_CRASHES;
	bp_cfg.window_ms = cfg->window_ms ?: BEPROC_CRASH_WINDOW_MS;
	bp_cfg.backoff_min_ms = cfg->backoff_min_ms ?: BEPROC_BACKOFF_MIN_MS;
	bp_cfg.backoff_max_ms = cfg->backoff_max_ms ?: BEPROC_BACKOFF_MAX_MS;
	if (bp_cfg.backoff_max_ms < bp_cfg.backoff_min_ms)
		bp_cfg.backoff_max_ms = bp_cfg.backoff_min_ms;
}

void beproc_set_dir(const char *dir)
{
	snprintf(bp_dir, sizeof(bp_dir), "%s", dir);
}

static const struct beproc_type *bp_type(const char *type)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bp_types); i++)
		if (!strcmp(bp_types[i].type, type))
			return &bp_types[i];
	return NULL;
}

const struct bus_feature *beproc_features(const char *type)
{
	const struct beproc_type *t = bp_type(type);

	return t ? t->features : NULL;
}

unsigned int beproc_maps_max(const char *type)
{
	const struct beproc_type *t = bp_type(type);

	return t ? t->maps_max : 0;
}

int beproc_setup(struct bus_dev *d, const struct be_params *p)
{
	const struct beproc_type *t = bp_type(d->drv->type);

	if (!t)
		return -ENOENT;
	if (!t->setup)
		return p && p->nr_fds ? -EINVAL : 0;
	return t->setup(d, p);
}

/* ---- grant map tables (also be_inproc.c's) ---- */

int be_maptab_init(struct be_maptab *mt, unsigned int cap)
{
	unsigned int i;

	memset(mt, 0, sizeof(*mt));
	mt->maps = calloc(cap, sizeof(*mt->maps));
	mt->used = calloc(cap, sizeof(*mt->used));
	mt->free = calloc(cap, sizeof(*mt->free));
	if (!mt->maps || !mt->used || !mt->free) {
		be_maptab_destroy(mt);
		return -ENOMEM;
	}
	mt->cap = cap;
	for (i = 0; i < cap; i++)	/* handle 0 first */
		mt->free[i] = cap - 1 - i;
	mt->nfree = cap;
	return 0;
}

void be_maptab_destroy(struct be_maptab *mt)
{
	be_maptab_release(mt);
	free(mt->maps);
	free(mt->used);
	free(mt->free);
	memset(mt, 0, sizeof(*mt));
}

static int maptab_map(struct be_maptab *mt, struct guest *g, uint32_t ref,
		      bool write, uint32_t *handle, bool locked)
{
	uint32_t h;
	int ret;

	if (!mt->nfree)
		return -ENOSPC;
	h = mt->free[mt->nfree - 1];
	ret = locked ? grant_map_locked(g, ref, VPV_DOMID_HOST, write,
					&mt->maps[h]) :
		       grant_map(g, ref, VPV_DOMID_HOST, write, &mt->maps[h]);
	if (ret)
		return ret;
	mt->nfree--;
	mt->used[h] = true;
	*handle = h;
	return 0;
}

int be_maptab_map(struct be_maptab *mt, struct guest *g, uint32_t ref,
		  bool write, uint32_t *handle)
{
	return maptab_map(mt, g, ref, write, handle, false);
}

static int maptab_unmap(struct be_maptab *mt, uint32_t h, bool locked)
{
	if (h >= mt->cap || !mt->used[h])
		return -ENOENT;
	if (locked)
		grant_unmap_locked(&mt->maps[h]);
	else
		grant_unmap(&mt->maps[h]);
	mt->used[h] = false;
	mt->free[mt->nfree++] = h;
	return 0;
}

int be_maptab_unmap(struct be_maptab *mt, uint32_t h)
{
	return maptab_unmap(mt, h, false);
}

void be_maptab_release(struct be_maptab *mt)
{
	uint32_t h;

	for (h = 0; h < mt->cap; h++)
		if (mt->used[h])
			be_maptab_unmap(mt, h);
}

static void bp_wake(void)
{
	uint64_t one = 1;

	if (bp_wake_fd >= 0 && write(bp_wake_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		perror("vpv-host: beproc wake");
}

/*
 * The back-end's executable: in VPV_BACKEND_DIR, beproc_set_dir()'s, or
 * next to our own executable (the build tree), its parent (the unit
 * tests run from build-san/tests/), or ../lib/pvkit from it (the
 * installed layout, make install and the pvkit-host package:
 * PREFIX/sbin/vpv-host and PREFIX/lib/pvkit/vpv-*back, helpers no user
 * runs by hand).
 */
static int exe_at(char *path, size_t size, const char *dir, const char *up,
		  const char *exe)
{
	if (snprintf(path, size, "%s/%s%s", dir, up, exe) >= (int)size)
		return -ENAMETOOLONG;
	return access(path, X_OK) ? -errno : 0;
}

static int bp_exe(const struct beproc_type *t, char *path, size_t size)
{
	const char *env = getenv("VPV_BACKEND_DIR");
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (env || bp_dir[0])
		return exe_at(path, size, env ? env : bp_dir, "", t->exe);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (!exe_at(path, size, self, "", t->exe))
		return 0;
	if (!exe_at(path, size, self, "../", t->exe))
		return 0;
	return exe_at(path, size, self, "../lib/pvkit/", t->exe);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void ep_del(int *fd)
{
	if (*fd >= 0)
		epoll_ctl(bp_ep, EPOLL_CTL_DEL, *fd, NULL);
	close_fd(fd);
}

static int ep_add(struct beproc *bp, int fd, enum bp_kind k)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ev.data.u64 = bp->key << 2 | k;
	return epoll_ctl(bp_ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int beproc_watch(int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN };

	pthread_once(&bp_once, bp_start);
	ev.data.u64 = tag << 2 | BK_EXT;
	return epoll_ctl(bp_ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void beproc_unwatch(int fd)
{
	if (fd >= 0 && bp_ep >= 0)
		epoll_ctl(bp_ep, EPOLL_CTL_DEL, fd, NULL);
}

void beproc_wake(void)
{
	bp_wake();
}

/* Kill: the thread reaps it through its pidfd (or bp_stop() does). */
static void bp_kill(struct beproc *bp, const char *why)
{
	if (bp->st != BP_RUNNING || bp->pidfd < 0)
		return;
	fprintf(stderr, "vpv-host: %s: %s/%u back-end (pid %d): %s, killing it\n",
		bp->dev->g->name, bp->t->type, bp->dev->id, bp->pid, why);
	STAT_INC(bp->dev->g, backend_kills);
	syscall(SYS_pidfd_send_signal, bp->pidfd, SIGKILL, NULL, 0);
}

/* One message to the back-end, never waiting; a failure kills it. */
static int bp_send(struct beproc *bp, void *msg, uint32_t type, size_t len,
		   uint32_t seq, const int *fds, unsigned int nfds)
{
	struct be_hdr *h = msg;

	h->type = type;
	h->len = len;
	h->seq = seq;
	h->pad = 0;
	if (vpv_send_fds(bp->sock, msg, len, fds, nfds, MSG_DONTWAIT) ==
	    (ssize_t)len)
		return 0;
	if (errno == EAGAIN)
		bp_kill(bp, "its socket is full");
	else	/* it is dying (its pidfd tells when) or will */
		syscall(SYS_pidfd_send_signal, bp->pidfd, SIGKILL, NULL, 0);
	return -EPIPE;
}

static int bp_cmd(struct beproc *bp, uint32_t type, uint32_t *seqp)
{
	struct be_msg_cmd m;

	if (!++bp->seq)
		bp->seq = 1;	/* 0 means none */
	*seqp = bp->seq;
	bp->deadline_ms = bus_now_ms() + BE_REPLY_TIMEOUT_MS;
	bp_wake();
	return bp_send(bp, &m, type, sizeof(m), bp->seq, NULL, 0);
}

static void bp_try_connect(struct beproc *bp)
{
	if (!bp->want_connect || bp->st != BP_RUNNING ||
	    bp->connect_seq || bp->disconnect_seq)
		return;
	bp->want_connect = false;
	bp_cmd(bp, BE_MSG_CONNECT, &bp->connect_seq);
}

static_assert(VPV_NETIF_MAX_QUEUES <= BE_PORTS_MAX, "a vif's ports");

/*
 * One of the device's ports unbound; the first (bus_dev.port) is no
 * longer its doorbell's.  The others keep theirs.
 */
static void bp_unbind_port(struct beproc *bp, uint32_t port)
{
	struct bus_dev *d = bp->dev;
	unsigned int i;

	if (!port)
		return;
	if (d->port == port) {
		evtchn_doorbell_unname(d->g, bp->db_slot);
		d->port = 0;
	}
	for (i = 0; i < BUS_XPORTS; i++)
		if (d->xport[i] == port)
			d->xport[i] = 0;
	evtchn_unbind_backend(d->g, port);
}

/* Every port of the device, if bound, unbound; no doorbell named. */
static void bp_unbind(struct beproc *bp)
{
	struct bus_dev *d = bp->dev;
	unsigned int i;

	evtchn_doorbell_unname(d->g, bp->db_slot);
	if (d->port)
		bp_unbind_port(bp, d->port);
	for (i = 0; i < BUS_XPORTS; i++)
		if (d->xport[i])
			bp_unbind_port(bp, d->xport[i]);
	bus_dev_clear_ports(d);
}

/* Every grant the device holds, and its port: the core's to let go. */
static void bp_release(struct beproc *bp)
{
	be_maptab_release(&bp->mt);
	bp_unbind(bp);
}

/* The child: the socket as fd 3, nothing else, then the back-end. */
static void bp_child(int sock, const char *path)
{
	char *const argv[] = { (char *)path, NULL };
	char *const envp[] = { NULL };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (sock != 3) {
		if (dup2(sock, 3) < 0)
			_exit(127);
	} else if (fcntl(3, F_SETFD, 0) < 0) {
		_exit(127);
	}
	syscall(SYS_close_range, 4, ~0u, 0);
	execve(path, argv, envp);
	_exit(127);
}

static pid_t bp_clone(int *pidfd)
{
	struct clone_args ca;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uintptr_t)pidfd;
	ca.exit_signal = 0;	/* no SIGCHLD: main.c's reaper leaves it */
	return syscall(SYS_clone3, &ca, sizeof(ca));
}

int beproc_spawn_exe(const char *exe, int *sock, int *pidfd, pid_t *pid)
{
	struct beproc_type t = { .exe = exe };
	char path[PATH_MAX];
	int sv[2], ret;

	*sock = -1;
	*pidfd = -1;
	ret = bp_exe(&t, path, sizeof(path));
	if (ret) {
		fprintf(stderr, "vpv-host: %s not found: %s\n", exe,
			strerror(-ret));
		return ret;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	*pid = bp_clone(pidfd);
	if (*pid == 0)
		bp_child(sv[1], path);		/* does not return */
	ret = *pid < 0 ? -errno : 0;
	close(sv[1]);
	if (ret) {
		close(sv[0]);
		*pidfd = -1;
		return ret;
	}
	*sock = sv[0];
	return 0;
}

const struct beproc_cfg *beproc_config(void)
{
	return &bp_cfg;
}

static int bp_init_msg(struct beproc *bp)
{
	struct bus_dev *d = bp->dev;
	struct be_msg_init m;
	int fds[BE_INIT_FDS_MAX] = {
		[BE_FD_RAM] = d->g->ram_fd, [BE_FD_KICK] = bp->kick,
		[BE_FD_CALL] = bp->call, [BE_FD_REGION] = d->g->shm_fd
	};
	uint32_t i;

	for (i = 0; i < VPV_NR_CPU_VECTORS; i++)
		fds[BE_FD_CPU0 + i] = bp->cpu_call[i];
	for (i = 0; i < bp->params.nr_fds; i++)
		fds[BE_INIT_FIXED_FDS + i] = bp->params.fds[i];
	memset(&m, 0, sizeof(m));
	m.version = BE_PROTO_VERSION;
	m.domid = d->domid;
	m.id = d->id;
	m.ram_size = d->g->ram_size;
	m.forbidden_after = bp->forbidden_after;
	bp->forbidden_after = 0;	/* one spawn only */
	snprintf(m.type, sizeof(m.type), "%s", bp->t->type);
	snprintf(m.fe, sizeof(m.fe), "%s", d->fe);
	snprintf(m.be, sizeof(m.be), "%s", d->be);
	m.nr_fds = bp->params.nr_fds;
	m.evtchn_offset = d->g->hdr->evtchn_offset;
	m.vbd = bp->params.vbd;
	m.vif = bp->params.vif;
	return bp_send(bp, &m, BE_MSG_INIT, sizeof(m), 0, fds,
		       BE_INIT_FIXED_FDS + bp->params.nr_fds);
}

static void bp_close(struct beproc *bp)
{
	unsigned int i;

	ep_del(&bp->sock);
	close_fd(&bp->call);
	for (i = 0; i < VPV_NR_CPU_VECTORS; i++)
		close_fd(&bp->cpu_call[i]);
	ep_del(&bp->pidfd);
	close_fd(&bp->kick);
	bp->pid = 0;
	bp->connect_seq = 0;
	bp->disconnect_seq = 0;
	bp->resize_seq = 0;
	bp->deadline_ms = 0;
	bp_release(bp);
}

static int bp_spawn_fds(struct beproc *bp, int sv[2])
{
	const int *gev = bp->dev->g->guest_ev;
	unsigned int i;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	bp->sock = sv[0];
	/*
	 * The kick: the guest's device doorbell if the device has one (the
	 * guest rings it, and the core writes it for events that come
	 * through VPV_VEC_EVTCHN), else an eventfd of its own.  A count
	 * left by an earlier process of the device is a spurious kick.
	 */
	if (bp->db_slot >= 0)
		bp->kick = fcntl(bp->dev->g->host_ev[VPV_VEC_DEV0 + bp->db_slot],
				 F_DUPFD_CLOEXEC, 0);
	else
		bp->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bp->kick < 0)
		return -errno;
	/*
	 * The process rings its guest's event vector itself, or a per-CPU
	 * vector its front-end named (ABI 1.5).  guest_init() made them all
	 * (a -1 here fails the spawn with EBADF, not a silent INIT).
	 */
	bp->call = fcntl(gev[VPV_VEC_EVTCHN], F_DUPFD_CLOEXEC, 0);
	if (bp->call < 0)
		return -errno;
	for (i = 0; i < VPV_NR_CPU_VECTORS; i++) {
		bp->cpu_call[i] = fcntl(gev[VPV_VEC_CPU0 + i], F_DUPFD_CLOEXEC,
					0);
		if (bp->cpu_call[i] < 0)
			return -errno;
	}
	return 0;
}

/* Start the device's process and send INIT; bus lock held. */
static int bp_spawn(struct beproc *bp)
{
	char path[PATH_MAX];
	int sv[2] = { -1, -1 }, ret;
	pid_t pid;

	ret = bp_exe(bp->t, path, sizeof(path));
	if (ret) {
		fprintf(stderr, "vpv-host: back-end %s not found: %s\n",
			bp->t->exe, strerror(-ret));
		return ret;
	}
	ret = bp_spawn_fds(bp, sv);
	if (ret)
		goto err;
	pid = bp_clone(&bp->pidfd);
	if (pid == 0)
		bp_child(sv[1], path);		/* does not return */
	if (pid < 0) {
		ret = -errno;
		goto err;
	}
	close_fd(&sv[1]);
	bp->pid = pid;
	bp->key = bp_next_key++;
	bp->st = BP_RUNNING;
	STAT_INC(bp->dev->g, backend_spawns);
	if (ep_add(bp, bp->sock, BK_SOCK) || ep_add(bp, bp->pidfd, BK_PIDFD))
		bp_kill(bp, "epoll failed");
	else
		bp_init_msg(bp);
	bp_try_connect(bp);
	return 0;
err:
	close_fd(&sv[1]);
	bp_close(bp);
	return ret;
}

static void bp_status(struct beproc *bp, const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		bp->last_status = (si->si_status & 0xff) << 8;
	else
		bp->last_status = si->si_status & 0x7f;
}

static int bp_waitid(struct beproc *bp, siginfo_t *si, bool wait)
{
	memset(si, 0, sizeof(*si));
	if (syscall(SYS_waitid, P_PIDFD, bp->pidfd, si,
		    WEXITED | __WALL | (wait ? 0 : WNOHANG), NULL) < 0)
		return -errno;
	return si->si_pid ? 0 : -EAGAIN;
}

/*
 * Reap the process (wait: block until it is gone) and close its fds.
 * Its pidfd said it exited, so the first try finds it; if not, it is
 * killed and waited for: never a zombie left behind.
 */
static void bp_reap(struct beproc *bp, bool wait)
{
	siginfo_t si;
	int ret;

	bp->last_status = -1;
	if (bp->pidfd < 0)
		goto out;
	ret = bp_waitid(bp, &si, wait);
	if (ret == -ECHILD) {
		fprintf(stderr, "vpv-host: %s/%u back-end (pid %d): reaped by someone else\n",
			bp->t->type, bp->dev->id, bp->pid);
	} else if (ret) {
		fprintf(stderr, "vpv-host: %s/%u back-end (pid %d): not reaped (%s), killing it\n",
			bp->t->type, bp->dev->id, bp->pid, strerror(-ret));
		syscall(SYS_pidfd_send_signal, bp->pidfd, SIGKILL, NULL, 0);
		ret = bp_waitid(bp, &si, true);
	}
	if (!ret)
		bp_status(bp, &si);
out:
	bp_close(bp);
}

/* Kill and reap now (removal, restart); bus lock held. */
static void bp_stop(struct beproc *bp)
{
	if (bp->st == BP_RUNNING && bp->pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, bp->pidfd, SIGKILL, NULL, 0);
		bp_reap(bp, true);
	}
	bp->st = BP_BACKOFF;
}

static void bp_log_exit(struct beproc *bp, pid_t pid)
{
	int st = bp->last_status;

	if (st < 0)
		fprintf(stderr, "vpv-host: %s: %s/%u back-end (pid %d) gone, status unknown\n",
			bp->dev->g->name, bp->t->type, bp->dev->id, pid);
	else if (WIFSIGNALED(st))
		fprintf(stderr, "vpv-host: %s: %s/%u back-end (pid %d) killed by signal %d\n",
			bp->dev->g->name, bp->t->type, bp->dev->id, pid,
			WTERMSIG(st));
	else
		fprintf(stderr, "vpv-host: %s: %s/%u back-end (pid %d) exited with status %d\n",
			bp->dev->g->name, bp->t->type, bp->dev->id, pid,
			WEXITSTATUS(st));
}

/* The process died unasked: reap, count, back off or give up. */
static void bp_died(struct beproc *bp)
{
	uint64_t now = bus_now_ms();
	pid_t pid = bp->pid;
	bool failed;

	bp_reap(bp, false);
	bp_log_exit(bp, pid);
	bp->crashes++;
	STAT_INC(bp->dev->g, backend_crashes);
	if (now - bp->window_ms > bp_cfg.window_ms) {
		bp->window_ms = now;
		bp->window_crashes = 0;
	}
	failed = ++bp->window_crashes >= bp_cfg.max_crashes;
	if (failed) {
		bp->st = BP_FAILED;
		STAT_INC(bp->dev->g, backend_failed);
		fprintf(stderr, "vpv-host: %s: %s/%u failed: %u crashes within %u ms\n",
			bp->dev->g->name, bp->t->type, bp->dev->id,
			bp->window_crashes, bp_cfg.window_ms);
	} else {
		bp->st = BP_BACKOFF;
		bp->respawn_ms = now + bp->backoff_ms;
		bp->backoff_ms = bp->backoff_ms * 2 > bp_cfg.backoff_max_ms ?
				 bp_cfg.backoff_max_ms : bp->backoff_ms * 2;
	}
	bp->want_connect = false;
	bus_backend_gone(bp->dev, failed);
}

/* ---- messages from the back-end ---- */

static_assert(BE_MAP_BATCH <= GRANT_BATCH_MAX,
	      "a GRANT_MAP or GRANT_UNMAP is one grant batch");

static void bp_bad(struct beproc *bp)
{
	STAT_INC(bp->dev->g, backend_bad_msgs);
}

static void bp_reply(struct beproc *bp, uint32_t seq, struct be_msg_reply *r)
{
	bp_send(bp, r, BE_MSG_REPLY, sizeof(*r), seq, NULL, 0);
}

/* A key: [A-Za-z0-9_-]{1,BE_KEY_MAX-1}, NUL-terminated in its field. */
static bool key_ok(const char *k)
{
	size_t i;

	for (i = 0; i < BE_KEY_MAX && k[i]; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return i > 0 && i < BE_KEY_MAX;
}

static int do_store_read(struct beproc *bp, const struct be_msg_store_read *m,
			 struct be_msg_reply *r)
{
	char path[BE_PATH_MAX + BE_KEY_MAX + 2], *v;
	uint32_t len;
	int ret;

	if (m->dir > BE_DIR_BE || !key_ok(m->key))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s",
		 m->dir == BE_DIR_FE ? bp->dev->fe : bp->dev->be, m->key);
	ret = store_read(STORE_DOMID_HOST, 0, path, &v, &len);
	if (ret)
		return ret;
	if (len >= BE_VAL_MAX) {
		free(v);
		return -E2BIG;
	}
	memcpy(r->val, v, len);
	r->val[len] = '\0';
	free(v);
	return (int)len;
}

static int do_store_write(struct beproc *bp,
			  const struct be_msg_store_write *m)
{
	char path[BE_PATH_MAX + BE_KEY_MAX + 2];

	if (m->dir != BE_DIR_BE || !key_ok(m->key) || m->len > BE_VAL_MAX)
		return -EINVAL;
	/* the bus's own keys */
	if (!strcmp(m->key, "state") || !strcmp(m->key, "frontend") ||
	    !strcmp(m->key, "frontend-id"))
		return -EACCES;
	snprintf(path, sizeof(path), "%s/%s", bp->dev->be, m->key);
	return store_write(STORE_DOMID_HOST, 0, path, m->val, m->len);
}

static int do_grant_map(struct beproc *bp, const struct be_msg_grant_map *m,
			struct be_msg_reply *r)
{
	struct guest *g = bp->dev->g;
	uint32_t i;

	if (!m->n || m->n > BE_MAP_BATCH)
		return -EINVAL;
	r->n = m->n;
	/* one hold of the locks for the batch */
	grant_batch_begin(g);
	for (i = 0; i < m->n; i++) {
		struct be_map_res *res = &r->map[i];
		uint32_t h;

		if (m->ent[i].write > 1) {
			res->status = -EINVAL;
			continue;
		}
		res->status = maptab_map(&bp->mt, g, m->ent[i].ref,
					 m->ent[i].write, &h, true);
		if (res->status)
			continue;
		res->handle = h;
		res->offset = bp->mt.maps[h].ptr - g->ram;
	}
	grant_batch_end(g);
	return 0;
}

static void do_grant_unmap(struct beproc *bp,
			   const struct be_msg_grant_unmap *m)
{
	uint32_t i, h;

	if (!m->n || m->n > BE_MAP_BATCH) {
		bp_bad(bp);
		return;
	}
	grant_batch_begin(bp->dev->g);	/* its maps are all of this guest */
	for (i = 0; i < m->n; i++) {
		h = m->handle[i];
		if (maptab_unmap(&bp->mt, h, true))
			bp_bad(bp);
	}
	grant_batch_end(bp->dev->g);
}

/*
 * Only while connecting (a CONNECT unanswered), at most the type's
 * ports_max per device (-EEXIST beyond).  The first port bound gets
 * the device's doorbell; a further one (a vif's queue 1 ..) reaches
 * the kick fd through the core: bus_port_event() finds it too.
 */
static int do_bind(struct beproc *bp, const struct be_msg_port *m)
{
	struct bus_dev *d = bp->dev;
	unsigned int i, slot = BUS_XPORTS;
	int ret;

	if (!bp->connect_seq || !d->connecting)
		return -EPERM;
	if (d->port) {
		for (i = 0; i + 1 < bp->t->ports_max && i < BUS_XPORTS; i++) {
			if (!d->xport[i]) {
				slot = i;
				break;
			}
		}
		if (slot == BUS_XPORTS)
			return -EEXIST;
	}
	ret = evtchn_bind_backend(d->g, m->port);
	if (ret)
		return ret;
	if (d->port) {
		d->xport[slot] = m->port;
		return 0;
	}
	d->port = m->port;
	/* the guest rings the process's kick eventfd itself from now on */
	evtchn_doorbell_name(d->g, bp->db_slot, d->port);
	return 0;
}

static void do_unbind(struct beproc *bp, const struct be_msg_port *m)
{
	if (!bus_dev_has_port(bp->dev, m->port)) {
		bp_bad(bp);
		return;
	}
	bp_unbind_port(bp, m->port);
}

static void do_done(struct beproc *bp, uint32_t type, uint32_t seq,
		    int32_t result)
{
	struct bus_dev *d = bp->dev;

	if (type == BE_MSG_CONNECT_DONE) {
		if (!bp->connect_seq || seq != bp->connect_seq)
			return;		/* cancelled by a DISCONNECT */
		bp->connect_seq = 0;
		if (!bp->disconnect_seq)
			bp->deadline_ms = 0;
		if (result > 0)
			result = -EINVAL;
		if (!result)
			bp->backoff_ms = bp_cfg.backoff_min_ms;
		if (d->connecting)
			bus_connect_done(d, result);
		return;
	}
	if (!bp->disconnect_seq || seq != bp->disconnect_seq) {
		bp_bad(bp);
		return;
	}
	bp->disconnect_seq = 0;
	bp->deadline_ms = 0;
	bp_release(bp);
	bp_try_connect(bp);
}

static void do_stats(struct beproc *bp, const struct be_msg_stats *m)
{
	struct bus_dev *d = bp->dev;

	/* counters only; a lying back-end lies about its own device */
	d->requests += m->requests;
	if (!strcmp(bp->t->type, "vloop")) {
		STAT_ADD(d->g, vloop_requests, m->requests);
		STAT_ADD(d->g, vloop_refused, m->refused);
	}
}

/* Counters only, like STATS: a lying back-end lies about its device. */
static void do_blk_stats(struct beproc *bp, const struct be_msg_blk_stats *m)
{
	struct be_blk_stats *s = &bp->blk;

	if (strcmp(bp->t->type, "vbd")) {
		bp_bad(bp);
		return;
	}
	bp->has_blk = true;
	be_blk_stats_add(s, &m->s);
}

/* Counters only, like STATS: a lying back-end lies about its device. */
static void do_net_stats(struct beproc *bp, const struct be_msg_net_stats *m)
{
	if (strcmp(bp->t->type, "vif")) {
		bp_bad(bp);
		return;
	}
	be_net_stats_add(&bp->net, &m->s);
}

/* The exact size of each message type; 0: not one the core takes. */
static size_t msg_size(uint32_t type)
{
	switch (type) {
	case BE_MSG_STORE_READ:
		return sizeof(struct be_msg_store_read);
	case BE_MSG_STORE_WRITE:
		return sizeof(struct be_msg_store_write);
	case BE_MSG_GRANT_MAP:
		return sizeof(struct be_msg_grant_map);
	case BE_MSG_BIND_PORT:
	case BE_MSG_UNBIND_PORT:
		return sizeof(struct be_msg_port);
	case BE_MSG_SYNC:
		return sizeof(struct be_msg_cmd);
	case BE_MSG_GRANT_UNMAP:
		return sizeof(struct be_msg_grant_unmap);
	case BE_MSG_PROTOCOL_ERROR:
	case BE_MSG_CONNECT_DONE:
	case BE_MSG_DISCONNECT_DONE:
		return sizeof(struct be_msg_result);
	case BE_MSG_STATS:
		return sizeof(struct be_msg_stats);
	case BE_MSG_BLK_STATS:
		return sizeof(struct be_msg_blk_stats);
	case BE_MSG_RESIZE_DONE:
		return sizeof(struct be_msg_result);
	case BE_MSG_NET_STATS:
		return sizeof(struct be_msg_net_stats);
	}
	return 0;
}

static bool is_request(uint32_t type)
{
	return type >= BE_MSG_STORE_READ && type <= BE_MSG_SYNC;
}

static int do_request(struct beproc *bp, const void *buf, uint32_t type,
		      struct be_msg_reply *r)
{
	switch (type) {
	case BE_MSG_STORE_READ:
		return do_store_read(bp, buf, r);
	case BE_MSG_STORE_WRITE:
		return do_store_write(bp, buf);
	case BE_MSG_GRANT_MAP:
		return do_grant_map(bp, buf, r);
	case BE_MSG_BIND_PORT:
		return do_bind(bp, buf);
	case BE_MSG_SYNC:
		return 0;	/* everything before it is handled */
	}
	return -EBADMSG;
}

static void do_oneway(struct beproc *bp, const void *buf, uint32_t type,
		      uint32_t seq)
{
	const struct be_msg_result *res = buf;

	switch (type) {
	case BE_MSG_GRANT_UNMAP:
		do_grant_unmap(bp, buf);
		break;
	case BE_MSG_UNBIND_PORT:
		do_unbind(bp, buf);
		break;
	case BE_MSG_PROTOCOL_ERROR:
		if (bp->dev->connected)
			bus_protocol_error(bp->dev);
		break;
	case BE_MSG_CONNECT_DONE:
	case BE_MSG_DISCONNECT_DONE:
		do_done(bp, type, seq, res->result);
		break;
	case BE_MSG_STATS:
		do_stats(bp, buf);
		break;
	case BE_MSG_BLK_STATS:
		do_blk_stats(bp, buf);
		break;
	case BE_MSG_NET_STATS:
		do_net_stats(bp, buf);
		break;
	case BE_MSG_RESIZE_DONE:
		if (!bp->resize_seq || seq != bp->resize_seq) {
			bp_bad(bp);
			break;
		}
		bp->resize_seq = 0;
		bp->resize_result = res->result > 0 ? -EINVAL : res->result;
		break;
	}
}

/*
 * One message, copied once into buf (n bytes as received): checked for
 * its exact size, then handled.  A bad request is answered -EINVAL or
 * -EBADMSG (unknown type); any bad message is counted.
 */
static void bp_message(struct beproc *bp, const void *buf, size_t n)
{
	const struct be_hdr *h = buf;
	struct be_msg_reply r;
	size_t want;

	if (n < sizeof(*h)) {
		bp_bad(bp);
		return;
	}
	memset(&r, 0, sizeof(r));
	want = msg_size(h->type);
	if (!want || n != want || h->len != n) {
		bp_bad(bp);
		if (!want || is_request(h->type)) {
			r.result = want ? -EINVAL : -EBADMSG;
			bp_reply(bp, h->seq, &r);
		}
		return;
	}
	if (is_request(h->type)) {
		r.result = do_request(bp, buf, h->type, &r);
		bp_reply(bp, h->seq, &r);
		return;
	}
	do_oneway(bp, buf, h->type, h->seq);
}

static void bp_sock_event(struct beproc *bp)
{
	uint64_t buf[BE_MSG_MAX / 8 + 1];
	unsigned int i;
	ssize_t n;

	for (i = 0; i < BEPROC_MSGS_PER_WAKE; i++) {
		if (bp->sock < 0 || bp->st != BP_RUNNING)
			return;
		n = recv(bp->sock, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			/* closed: it is dying (its pidfd tells when), or
			 * will be: a back-end cannot work without it
			 */
			syscall(SYS_pidfd_send_signal, bp->pidfd, SIGKILL,
				NULL, 0);
			ep_del(&bp->sock);
			return;
		}
		if ((size_t)n > sizeof(buf)) {
			bp_bad(bp);	/* truncated: larger than any */
			continue;
		}
		bp_message(bp, buf, n);
	}
	/* more may be queued: epoll (level-triggered) comes back to it */
}

/* ---- the thread ---- */

static struct beproc *bp_find(uint64_t key)
{
	struct beproc *bp;

	for (bp = bps; bp; bp = bp->next)
		if (bp->key == key && bp->st == BP_RUNNING)
			return bp;
	return NULL;
}

static void bp_event(uint64_t data)
{
	struct beproc *bp;

	if ((data & 3) == BK_EXT) {
		vswitch_event(data >> 2);
		return;
	}
	bp = bp_find(data >> 2);

	if (!bp)
		return;		/* gone meanwhile */
	switch (data & 3) {
	case BK_SOCK:
		bp_sock_event(bp);
		break;
	case BK_PIDFD:
		bp_died(bp);
		break;
	}
}

/* Deadlines and restarts due; the next one, in ms from now (-1: none). */
static int bp_timers(void)
{
	uint64_t now = bus_now_ms(), next = UINT64_MAX, sw;
	struct beproc *bp;

	for (bp = bps; bp; bp = bp->next) {
		if (bp->st == BP_RUNNING && bp->deadline_ms) {
			if (now >= bp->deadline_ms) {
				bp->deadline_ms = 0;
				bp_kill(bp, "no answer in time");
			} else if (bp->deadline_ms < next) {
				next = bp->deadline_ms;
			}
		}
		if (bp->st != BP_BACKOFF)
			continue;
		if (now >= bp->respawn_ms) {
			if (bp_spawn(bp)) {	/* as a crash: maybe failed */
				bp->st = BP_RUNNING;
				bp_died(bp);
			}
		} else if (bp->respawn_ms < next) {
			next = bp->respawn_ms;
		}
	}
	now = bus_now_ms();	/* a switch's timers, after the spawns */
	sw = vswitch_timers(now);
	if (sw < next)
		next = sw;
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 1000 ? 1000 : (int)(next - now);
}

static void *bp_thread(void *arg)
{
	struct epoll_event evs[16];
	int n, i, timeout = -1;
	uint64_t v;

	(void)arg;
	for (;;) {
		n = epoll_wait(bp_ep, evs, ARRAY_SIZE(evs), timeout);
		bus_enter();
		for (i = 0; i < n; i++) {
			if ((evs[i].data.u64 & 3) == BK_WAKE) {
				if (read(bp_wake_fd, &v, sizeof(v)) < 0)
					v = 0;
				continue;
			}
			bp_event(evs[i].data.u64);
		}
		timeout = bp_timers();
		bus_leave();
	}
	return NULL;
}

static void bp_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BK_WAKE };
	pthread_t t;
	sigset_t all, old;

	bp_ep = epoll_create1(EPOLL_CLOEXEC);
	bp_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (bp_ep < 0 || bp_wake_fd < 0 ||
	    epoll_ctl(bp_ep, EPOLL_CTL_ADD, bp_wake_fd, &ev) < 0) {
		perror("vpv-host: beproc");
		abort();	/* start-up only: no device could ever run */
	}
	/* signals stay with the main thread's signalfd */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t, NULL, bp_thread, NULL)) {
		perror("vpv-host: beproc thread");
		abort();
	}
	pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* ---- the bus driver ---- */

int beproc_switch_port(struct be_params *p, struct bus_dev *d,
		       uint32_t *port)
{
	int fd;

	*port = 0;
	if (!(p->vif.flags & BE_VIF_SWITCH))
		return 0;
	if (p->nr_fds != 2)
		return -EINVAL;
	fd = p->fds[1];
	p->fds[1] = -1;
	p->nr_fds = 1;
	return vswitch_port_add(p->vif.tap, fd, d, port);
}

static int bp_switch_port(struct beproc *bp)
{
	return beproc_switch_port(&bp->params, bp->dev, &bp->sw_port);
}

static void bp_switch_unport(struct beproc *bp)
{
	if (bp->sw_port)
		vswitch_port_remove(bp->params.vif.tap, bp->sw_port);
	bp->sw_port = 0;
}

static int bp_add(struct bus_dev *d)
{
	const struct beproc_type *t = bp_type(d->drv->type);
	struct beproc *bp;
	unsigned int i;
	int ret;

	pthread_once(&bp_once, bp_start);
	bp = calloc(1, sizeof(*bp));
	if (!bp)
		return -ENOMEM;
	bp->dev = d;
	bp->t = t;
	bp->sock = -1;
	bp->kick = -1;
	bp->call = -1;
	for (i = 0; i < VPV_NR_CPU_VECTORS; i++)
		bp->cpu_call[i] = -1;
	bp->pidfd = -1;
	bp->db_slot = evtchn_doorbell_get(d->g);
	bp->last_status = -1;
	bp->resize_result = 1;
	bp->backoff_ms = bp_cfg.backoff_min_ms;
	ret = be_maptab_init(&bp->mt, t->maps_max);
	if (!ret)
		ret = beproc_setup(d, d->params);
	if (!ret)
		ret = be_params_dup(&bp->params, d->params);
	if (!ret)
		ret = bp_switch_port(bp);
	if (!ret)
		ret = bp_spawn(bp);
	if (ret) {
		bp_switch_unport(bp);
		be_params_close(&bp->params);
		be_maptab_destroy(&bp->mt);
		evtchn_doorbell_put(d->g, bp->db_slot);
		free(bp);
		return ret;
	}
	d->priv = bp;
	bp->next = bps;
	bps = bp;
	return 0;
}

static void bp_remove(struct bus_dev *d)
{
	struct beproc *bp = d->priv, **pp;

	if (!bp)
		return;
	bp_stop(bp);
	bp_switch_unport(bp);
	for (pp = &bps; *pp; pp = &(*pp)->next) {
		if (*pp == bp) {
			*pp = bp->next;
			break;
		}
	}
	be_params_close(&bp->params);
	be_maptab_destroy(&bp->mt);
	evtchn_doorbell_put(d->g, bp->db_slot);
	free(bp);
	d->priv = NULL;
}

/* vpv-ctl device restart: a new process, the crash history cleared. */
static int bp_restart(struct bus_dev *d)
{
	struct beproc *bp = d->priv;
	int ret;

	bp_stop(bp);
	bp->window_crashes = 0;
	bp->backoff_ms = bp_cfg.backoff_min_ms;
	bp->want_connect = false;
	ret = bp_spawn(bp);
	if (ret)
		bp->st = BP_FAILED;
	return ret;
}

/* device resize: RESIZE to the process, answered later; bus lock held */
static int bp_resize(struct bus_dev *d, uint64_t size)
{
	struct beproc *bp = d->priv;
	struct be_msg_resize m;
	int ret;

	ret = vbd_resize_check(&bp->params, size);
	if (!ret && (bp->st != BP_RUNNING || bp->resize_seq))
		ret = -EBUSY;
	if (ret)
		return ret;
	memset(&m, 0, sizeof(m));
	m.size = size;
	if (!++bp->seq)
		bp->seq = 1;
	bp->resize_seq = bp->seq;
	bp->resize_result = 1;
	ret = bp_send(bp, &m, BE_MSG_RESIZE, sizeof(m), bp->seq, NULL, 0);
	if (!ret)	/* a restarted process is sized by this one */
		bp->params.vbd.size = size;
	return ret;
}

static int bp_connect(struct bus_dev *d)
{
	struct beproc *bp = d->priv;

	if (bp->st == BP_FAILED)
		return -ENODEV;
	bp->want_connect = true;
	bp_try_connect(bp);
	return 1;	/* bus_connect_done() on CONNECT_DONE */
}

static void bp_disconnect(struct bus_dev *d)
{
	struct beproc *bp = d->priv;

	bp->want_connect = false;
	bp_unbind(bp);	/* no more kicks; the grants go at the answer */
	if (bp->st != BP_RUNNING || bp->disconnect_seq)
		return;
	bp->connect_seq = 0;	/* its answer, if any, is stale */
	bp_cmd(bp, BE_MSG_DISCONNECT, &bp->disconnect_seq);
}

static int bp_kick(struct bus_dev *d)
{
	struct beproc *bp = d->priv;
	uint64_t one = 1;

	if (bp->st == BP_RUNNING && bp->kick >= 0 &&
	    write(bp->kick, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return 0;	/* counter saturated: it is kicked anyway */
	return 0;
}

static void bp_info(const struct bus_dev *d, struct bus_dev_info *i)
{
	const struct beproc *bp = d->priv;
	static const char *const names[] = { "running", "backoff", "failed" };

	if (!bp)
		return;
	i->be_pid = bp->st == BP_RUNNING ? bp->pid : 0;
	snprintf(i->be_proc, sizeof(i->be_proc), "%s", names[bp->st]);
	i->be_crashes = bp->crashes;
	i->be_last_status = bp->last_status;
	i->has_blk = !strcmp(bp->t->type, "vbd");
	i->blk = bp->blk;
	i->has_net = !strcmp(bp->t->type, "vif");
	i->net = bp->net;
	snprintf(i->tap, sizeof(i->tap), "%s", bp->params.vif.tap);
	i->on_switch = bp->params.vif.flags & BE_VIF_SWITCH;
	i->resize_result = bp->resize_result;
}

static struct bus_driver bp_drivers[ARRAY_SIZE(bp_types)];

void beproc_init(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bp_types); i++) {
		struct bus_driver *drv = &bp_drivers[i];

		drv->type = bp_types[i].type;
		drv->features = bp_types[i].features;
		drv->connect = bp_connect;
		drv->disconnect = bp_disconnect;
		drv->event = bp_kick;
		drv->add = bp_add;
		drv->remove = bp_remove;
		drv->restart = bp_restart;
		drv->resize = bp_resize;
		drv->info = bp_info;
		bus_register_driver(drv);	/* a test's in-process first */
	}
}

/* ---- test hooks ---- */

static struct beproc *bp_lookup(const char *type, uint32_t domid, uint32_t id)
{
	struct beproc *bp;

	for (bp = bps; bp; bp = bp->next)
		if (bp->dev->domid == domid && bp->dev->id == id &&
		    !strcmp(bp->t->type, type))
			return bp;
	return NULL;
}

int beproc_pid(const char *type, uint32_t domid, uint32_t id)
{
	struct beproc *bp;
	int pid = 0;

	bus_enter();
	bp = bp_lookup(type, domid, id);
	if (bp && bp->st == BP_RUNNING)
		pid = bp->pid;
	bus_leave();
	return pid;
}

int beproc_state(const char *type, uint32_t domid, uint32_t id, char *buf,
		 unsigned int size)
{
	struct bus_dev_info i;
	struct beproc *bp;

	bus_enter();
	bp = bp_lookup(type, domid, id);
	if (bp) {
		memset(&i, 0, sizeof(i));
		bp_info(bp->dev, &i);
		snprintf(buf, size, "%s", i.be_proc);
	}
	bus_leave();
	return bp ? 0 : -ENOENT;
}

int beproc_debug_forbid(const char *type, uint32_t domid, uint32_t id,
			uint64_t n)
{
	struct beproc *bp;

	bus_enter();
	bp = bp_lookup(type, domid, id);
	if (bp)
		bp->forbidden_after = n;
	bus_leave();
	return bp ? 0 : -ENOENT;
}

int beproc_kill(const char *type, uint32_t domid, uint32_t id, pid_t *killed)
{
	struct beproc *bp;
	int ret = 0;

	bus_enter();
	bp = bp_lookup(type, domid, id);
	if (!bp)
		ret = -ENOENT;
	else if (bp->st != BP_RUNNING || bp->pidfd < 0)
		ret = -ESRCH;
	else if (syscall(SYS_pidfd_send_signal, bp->pidfd, SIGKILL, NULL, 0))
		ret = -errno;
	else
		*killed = bp->pid;
	bus_leave();
	return ret;
}

unsigned int beproc_nr_fds(void)
{
	struct beproc *bp;
	unsigned int n = 0, i;

	bus_enter();
	for (bp = bps; bp; bp = bp->next) {
		n += (bp->sock >= 0) + (bp->kick >= 0) + (bp->call >= 0) +
		     (bp->pidfd >= 0);
		for (i = 0; i < VPV_NR_CPU_VECTORS; i++)
			n += bp->cpu_call[i] >= 0;
	}
	bus_leave();
	return n;
}

/* everything the split-driver platform needs at start-up */
void split_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	store_init();
	beproc_init();
}
