// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-host main: run dir, sockets, QEMU children, signals, control.
 *
 * The main thread owns everything except the hypercall path: one epoll
 * over a signalfd (SIGCHLD/SIGTERM/SIGINT), the control socket and its
 * connections, each guest's ivshmem listening/connected socket and a
 * 1 s timerfd that re-evaluates the memory policy and audits the
 * guests' pinned page tables.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "vpv_host.h"

#define MAX_CTL_CONNS	16
#define CTL_TIMEOUT_MS	5000
#define STOP_GRACE_MS	2000

enum src_type { SRC_SIGNAL, SRC_CTL_LISTEN, SRC_CTL_CONN, SRC_IVSH_LISTEN,
		SRC_IVSH_CONN, SRC_POLICY };

struct src {
	enum src_type type;
	void *ptr;
};

struct main_conn {
	struct ctl_conn c;
	struct src src;
};

struct main_ctx {
	struct host host;
	struct host_cfg cfg;
	int ep;
	int sfd;
	int ctl_fd;
	int tfd;			/* policy timer */
	char *ctl_path;
	char *run_dir;
	bool run_dir_created;
	struct src sig_src, ctl_src, policy_src;
	struct src *ivsh_src;		/* 2 per guest */
	struct main_conn conns[MAX_CTL_CONNS];
	bool stop;
	bool failed;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ep_add(int ep, int fd, struct src *s, enum src_type t, void *ptr)
{
	struct epoll_event ev = { .events = EPOLLIN };

	s->type = t;
	s->ptr = ptr;
	ev.data.ptr = s;
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int mkdir_p1(const char *path, mode_t mode, bool *created)
{
	if (mkdir(path, mode) == 0) {
		if (created)
			*created = true;
		return 0;
	}
	return errno == EEXIST ? 0 : -errno;
}

static int setup_run_dir(struct main_ctx *m)
{
	int ret;

	if (m->cfg.run_dir) {
		m->run_dir = strdup(m->cfg.run_dir);
		if (!m->run_dir)
			return -ENOMEM;
	} else {
		ret = mkdir_p1("/run/pvkit", 0755, NULL);
		if (ret)
			return ret;
		if (asprintf(&m->run_dir, "/run/pvkit/%d", (int)getpid()) < 0) {
			m->run_dir = NULL;
			return -ENOMEM;
		}
	}
	if (strchr(m->run_dir, ',')) {
		fprintf(stderr, "vpv-host: run dir must not contain ','\n");
		return -EINVAL;
	}
	return run_dir_prepare(m->run_dir, &m->run_dir_created);
}

/* ---- control connections ---- */

static void ctl_conn_close(struct main_ctx *m, struct main_conn *mc)
{
	epoll_ctl(m->ep, EPOLL_CTL_DEL, mc->c.fd, NULL);
	ctl_conn_release(&mc->c);
}

static void ctl_accept(struct main_ctx *m)
{
	struct main_conn *mc = NULL;
	int fd, i;

	fd = accept4(m->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (i = 0; i < MAX_CTL_CONNS; i++) {
		if (m->conns[i].c.fd < 0) {
			mc = &m->conns[i];
			break;
		}
	}
	if (!mc) {
		static const char busy[] = "{\"error\":\"busy\"}\n";

		if (send(fd, busy, sizeof(busy) - 1,
			 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			/* nothing to do */
		}
		close(fd);
		return;
	}
	ctl_conn_init(&mc->c, fd);
	mc->c.start_ms = now_ms();
	if (ep_add(m->ep, fd, &mc->src, SRC_CTL_CONN, mc)) {
		close(fd);
		mc->c.fd = -1;
	}
}

/* Readable or (reply pending) writable. */
static void ctl_event(struct main_ctx *m, struct main_conn *mc)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &mc->src };
	bool writing = mc->c.out.len;
	int st;

	st = writing ? ctl_conn_write(&mc->c) : ctl_conn_read(&m->host, &mc->c);
	if (st == CTL_CONN_DONE) {
		ctl_conn_close(m, mc);
	} else if (st == CTL_CONN_WRITE && !writing &&
		   epoll_ctl(m->ep, EPOLL_CTL_MOD, mc->c.fd, &ev) < 0) {
		perror("vpv-host: ctl epoll");
		ctl_conn_close(m, mc);
	}
}

static void ctl_sweep(struct main_ctx *m)
{
	uint64_t now = now_ms();
	int i;

	for (i = 0; i < MAX_CTL_CONNS; i++) {
		struct ctl_conn *c = &m->conns[i].c;

		if (c->fd < 0 || now - c->start_ms <= CTL_TIMEOUT_MS)
			continue;
		if (c->out.len)
			fprintf(stderr,
				"vpv-host: ctl: client did not read its reply, %zu of %zu bytes sent\n",
				c->off, c->out.len);
		ctl_conn_close(m, &m->conns[i]);
	}
}

/* ---- children ---- */

static size_t nr_running(struct main_ctx *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->host.nr_guests; i++)
		n += m->host.guests[i].state == GUEST_RUNNING;
	return n;
}

/* A QEMU of ours not reaped yet: a running guest's or a removed one's. */
static bool child_alive(const struct guest *g)
{
	return g->state == GUEST_RUNNING ||
	       (g->state == GUEST_REMOVED && g->pid > 0);
}

static size_t nr_children(struct main_ctx *m)
{
	size_t i, n = 0;

	for (i = 0; i < m->host.nr_guests; i++)
		n += child_alive(&m->host.guests[i]);
	return n;
}

static void reaped(struct guest *g, pid_t pid, int st)
{
	const char *what = g->state == GUEST_REMOVED ? "removed, " : "";

	g->exit_status = st;
	if (g->state == GUEST_REMOVED) {
		g->pid = -1;	/* its number may be reused from now on */
		g->kill_ms = 0;
	} else {
		g->state = GUEST_EXITED;
	}
	if (WIFEXITED(st))
		fprintf(stderr,
			"vpv-host: %s: %sqemu (pid %d) exited with status %d\n",
			g->name, what, pid, WEXITSTATUS(st));
	else
		fprintf(stderr, "vpv-host: %s: %sqemu (pid %d) killed by signal %d\n",
			g->name, what, pid, WTERMSIG(st));
}

/*
 * Each QEMU of ours by its pid, never waitpid(-1): back-end processes
 * (beproc.c) are children too and are reaped through their pidfds.
 */
static void reap(struct main_ctx *m)
{
	int st;
	size_t i;

	for (i = 0; i < m->host.nr_guests; i++) {
		struct guest *g = &m->host.guests[i];

		if (child_alive(g) && waitpid(g->pid, &st, WNOHANG) == g->pid)
			reaped(g, g->pid, st);
	}
}

/*
 * Timer tick: SIGKILL the QEMU of a removed guest that outlived its
 * STOP_GRACE_MS (checked once a second, so within 1 s of that).  The
 * child handler reaps it.
 */
static void kill_removed(struct main_ctx *m, uint64_t now)
{
	size_t i;

	for (i = 0; i < m->host.nr_guests; i++) {
		struct guest *g = &m->host.guests[i];

		if (g->state != GUEST_REMOVED || g->pid <= 0 || !g->kill_ms ||
		    now < g->kill_ms)
			continue;
		fprintf(stderr, "vpv-host: %s: removed, killing qemu (pid %d)\n",
			g->name, g->pid);
		kill(g->pid, SIGKILL);
		g->kill_ms = 0;
	}
}

static void handle_signals(struct main_ctx *m)
{
	struct signalfd_siginfo si;

	while (read(m->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(m);
		} else {
			fprintf(stderr, "vpv-host: got signal %u, stopping\n",
				si.ssi_signo);
			m->stop = true;
		}
	}
}

static void stop_guests(struct main_ctx *m)
{
	uint64_t deadline;
	size_t i;

	for (i = 0; i < m->host.nr_guests; i++)
		if (child_alive(&m->host.guests[i]))
			kill(m->host.guests[i].pid, SIGTERM);
	deadline = now_ms() + STOP_GRACE_MS;
	while (nr_children(m) && now_ms() < deadline) {
		struct epoll_event ev;
		int n = epoll_wait(m->ep, &ev, 1, 50);

		(void)n;
		handle_signals(m);	/* also reaps */
	}
	for (i = 0; i < m->host.nr_guests; i++) {
		struct guest *g = &m->host.guests[i];
		int st;

		if (!child_alive(g))
			continue;
		fprintf(stderr, "vpv-host: %s: killing qemu (pid %d)\n",
			g->name, g->pid);
		kill(g->pid, SIGKILL);
		if (waitpid(g->pid, &st, 0) == g->pid)
			reaped(g, g->pid, st);
	}
}

/*
 * "guest remove" (ctl.c), before guest_destroy(): forget the guest's
 * sockets and ask its QEMU to stop (SIGTERM).  Does not wait: the
 * child handler reaps QEMU whenever it exits, and the timer tick sends
 * SIGKILL after STOP_GRACE_MS (kill_removed()).  Until then QEMU keeps
 * only its own mapping of the RAM file (unlinked by guest_destroy()).
 */
static void guest_detach(struct host *h, struct guest *g)
{
	struct main_ctx *m = (struct main_ctx *)((char *)h -
					offsetof(struct main_ctx, host));

	if (g->listen_fd >= 0)
		epoll_ctl(m->ep, EPOLL_CTL_DEL, g->listen_fd, NULL);
	if (g->conn_fd >= 0)
		epoll_ctl(m->ep, EPOLL_CTL_DEL, g->conn_fd, NULL);
	if (g->state != GUEST_RUNNING) {
		g->pid = -1;	/* no child of ours left to reap */
		fprintf(stderr, "vpv-host: %s: removed\n", g->name);
		return;
	}
	kill(g->pid, SIGTERM);
	g->kill_ms = now_ms() + STOP_GRACE_MS;
	fprintf(stderr, "vpv-host: %s: removed, stopping qemu (pid %d)\n",
		g->name, g->pid);
}

/* ---- setup ---- */

static int setup_guest(struct main_ctx *m, size_t idx, const char *accel)
{
	struct guest_cfg *gc = &m->cfg.guests[idx];
	struct guest *g = &m->host.guests[idx];
	char *path;
	int ret;

	ret = guest_init(g, gc->name, gc->mem, gc->smp, m->cfg.shm_size,
			 m->cfg.ram_dir);
	if (ret) {
		fprintf(stderr, "vpv-host: %s: setup failed: %s\n", gc->name,
			strerror(-ret));
		return ret;
	}
	g->cfg = gc;
	g->accel = accel;
	mem_set_shares(g, gc->shares);
	if (!gc->serial &&
	    asprintf(&g->console_path, "%s/%s.console", m->run_dir,
		     gc->name) < 0) {
		g->console_path = NULL;
		return -ENOMEM;
	}
	if (asprintf(&path, "%s/%s.sock", m->run_dir, gc->name) < 0)
		return -ENOMEM;
	ret = ivshmem_listen(g, path);
	if (ret)
		fprintf(stderr, "vpv-host: %s: listen %s: %s\n", gc->name,
			path, strerror(-ret));
	free(path);
	if (ret)
		return ret;
	ret = ep_add(m->ep, g->listen_fd, &m->ivsh_src[2 * idx],
		     SRC_IVSH_LISTEN, g);
	if (ret)
		return ret;
	return hc_thread_start(g);
}

static int start_guest(struct main_ctx *m, struct guest *g)
{
	struct strv argv = { 0 };
	char *line;
	pid_t pid;
	int ret;

	ret = qemu_build_argv(&m->cfg, g, g->accel, &argv);
	if (ret)
		goto out;
	line = qemu_cmdline_str(&argv);
	if (m->cfg.no_qemu) {
		printf("%s: %s\n", g->name, line ? line : "(oom)");
		fflush(stdout);
		g->state = GUEST_SERVING;
	} else {
		fprintf(stderr, "vpv-host: %s: %s\n", g->name,
			line ? line : "(oom)");
		pid = qemu_spawn(&argv);
		if (pid < 0) {
			ret = pid;
		} else {
			g->pid = pid;
			g->state = GUEST_RUNNING;
		}
	}
	free(line);
out:
	strv_free(&argv);
	return ret;
}

static void handle_event(struct main_ctx *m, struct src *s, uint32_t events)
{
	struct guest *g = s->ptr;
	size_t idx;

	if ((s->type == SRC_IVSH_LISTEN || s->type == SRC_IVSH_CONN) &&
	    g->state == GUEST_REMOVED)
		return;		/* removed earlier in this epoll batch */
	switch (s->type) {
	case SRC_SIGNAL:
		handle_signals(m);
		break;
	case SRC_POLICY: {
		uint64_t ticks;

		if (read(m->tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
			break;
		kill_removed(m, now_ms());
		subsys_tick(&m->host, now_ms());
		break;
	}
	case SRC_CTL_LISTEN:
		ctl_accept(m);
		break;
	case SRC_CTL_CONN:
		ctl_event(m, s->ptr);
		break;
	case SRC_IVSH_LISTEN:
		if (ivshmem_accept(g) == 1) {
			idx = g - m->host.guests;
			if (ep_add(m->ep, g->conn_fd, &m->ivsh_src[2 * idx + 1],
				   SRC_IVSH_CONN, g))
				perror("vpv-host: epoll");
		}
		break;
	case SRC_IVSH_CONN:
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			int fd = g->conn_fd;

			ivshmem_conn_event(g);
			if (g->conn_fd < 0)
				epoll_ctl(m->ep, EPOLL_CTL_DEL, fd, NULL);
		}
		break;
	}
}

int main(int argc, char **argv)
{
	struct main_ctx m = { .ep = -1, .sfd = -1, .ctl_fd = -1, .tfd = -1 };
	struct itimerspec its = { .it_interval.tv_sec = 1, .it_value.tv_sec = 1 };
	const char *accel;
	sigset_t mask;
	size_t i;
	int ret, status = 1;

	for (i = 0; i < MAX_CTL_CONNS; i++)
		ctl_conn_init(&m.conns[i].c, -1);
	ret = cfg_parse_args(&m.cfg, argc, argv);
	if (ret)
		return ret > 0 ? 0 : 2;
	m.host.cfg = &m.cfg;
	m.host.guest_detach = guest_detach;
	hc_init();
	beproc_configure(&(struct beproc_cfg){
		.max_crashes = m.cfg.backend_max_crashes,
		.window_ms = m.cfg.backend_crash_window * 1000 });
	policy_set_idle_tax(m.cfg.idle_tax);
	activity_configure(m.cfg.activity, m.cfg.activity_period);
	if (m.cfg.no_qemu && m.cfg.activity == ACT_SOURCE_HOST)
		fprintf(stderr,
			"vpv-host: --no-qemu: no QEMU to sample, the idle tax uses the guests' own activity figures\n");

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	/* before any thread exists, so all threads inherit the mask */
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		goto out;
	m.sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	m.ep = epoll_create1(EPOLL_CLOEXEC);
	if (m.sfd < 0 || m.ep < 0) {
		perror("vpv-host: signalfd/epoll");
		goto out;
	}
	if (ep_add(m.ep, m.sfd, &m.sig_src, SRC_SIGNAL, NULL))
		goto out;

	ret = setup_run_dir(&m);
	if (ret) {
		fprintf(stderr, "vpv-host: run dir %s: %s\n",
			m.run_dir ? m.run_dir : "?", strerror(-ret));
		goto out;
	}
	if (m.cfg.ctl_path)
		m.ctl_path = strdup(m.cfg.ctl_path);
	else if (asprintf(&m.ctl_path, "%s/ctl.sock", m.run_dir) < 0)
		m.ctl_path = NULL;
	if (!m.ctl_path)
		goto out;
	m.ctl_fd = ctl_listen(m.ctl_path);
	if (m.ctl_fd < 0) {
		fprintf(stderr, "vpv-host: ctl %s: %s\n", m.ctl_path,
			strerror(-m.ctl_fd));
		free(m.ctl_path);
		m.ctl_path = NULL;	/* not ours */
		goto out;
	}
	if (ep_add(m.ep, m.ctl_fd, &m.ctl_src, SRC_CTL_LISTEN, NULL))
		goto out;
	fprintf(stderr, "vpv-host: ctl %s\n", m.ctl_path);

	accel = qemu_detect_accel(m.cfg.accel);
	m.host.guests = calloc(m.cfg.nr_guests, sizeof(*m.host.guests));
	m.ivsh_src = calloc(2 * m.cfg.nr_guests, sizeof(*m.ivsh_src));
	if (!m.host.guests || !m.ivsh_src)
		goto out;
	for (i = 0; i < m.cfg.nr_guests; i++) {
		m.host.nr_guests = i + 1;	/* destroy what we touch */
		if (setup_guest(&m, i, accel))
			goto out;
	}
	mem_set_budget(m.cfg.host_mem);
	m.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m.tfd < 0 || timerfd_settime(m.tfd, 0, &its, NULL) < 0 ||
	    ep_add(m.ep, m.tfd, &m.policy_src, SRC_POLICY, NULL)) {
		perror("vpv-host: policy timer");
		goto out;
	}
	for (i = 0; i < m.host.nr_guests; i++) {
		ret = start_guest(&m, &m.host.guests[i]);
		if (ret) {
			fprintf(stderr, "vpv-host: %s: start: %s\n",
				m.host.guests[i].name, strerror(-ret));
			m.stop = true;
			m.failed = true;
			break;
		}
	}

	while (!m.stop && (m.cfg.no_qemu || nr_running(&m))) {
		struct epoll_event evs[16];
		int n = epoll_wait(m.ep, evs, ARRAY_SIZE(evs), 1000);

		if (n < 0 && errno != EINTR) {
			perror("vpv-host: epoll_wait");
			break;
		}
		for (i = 0; n > 0 && i < (size_t)n; i++)
			handle_event(&m, evs[i].data.ptr, evs[i].events);
		ctl_sweep(&m);
	}
	if (m.stop) {
		status = m.failed ? 1 : 0;
	} else {
		status = 0;
		for (i = 0; i < m.host.nr_guests; i++) {
			int st = m.host.guests[i].exit_status;

			if (m.host.guests[i].state == GUEST_REMOVED)
				continue;	/* stopped on request */
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				status = 1;
		}
	}
out:
	stop_guests(&m);
	for (i = 0; i < m.host.nr_guests; i++)
		guest_destroy(&m.host.guests[i]);
	act_worker_stop();	/* after the guests: no sample left to pick up */
	sharing_stop();		/* a pass in flight: stopped, its RAM fds closed */
	for (i = 0; i < MAX_CTL_CONNS; i++)
		ctl_conn_release(&m.conns[i].c);
	if (m.ctl_fd >= 0)
		close(m.ctl_fd);
	if (m.ctl_path) {
		unlink(m.ctl_path);
		free(m.ctl_path);
	}
	if (m.run_dir_created && rmdir(m.run_dir) < 0)
		fprintf(stderr, "vpv-host: rmdir %s: %s\n", m.run_dir,
			strerror(errno));
	free(m.run_dir);
	free(m.host.guests);
	free(m.ivsh_src);
	if (m.ep >= 0)
		close(m.ep);
	if (m.sfd >= 0)
		close(m.sfd);
	if (m.tfd >= 0)
		close(m.tfd);
	cfg_free(&m.cfg);
	fprintf(stderr, "vpv-host: exit %d\n", status);
	return status;
}
