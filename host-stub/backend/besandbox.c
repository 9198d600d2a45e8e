// SPDX-License-Identifier: GPL-2.0
/*
 * The back-end process's sandbox, entered once INIT has been received
 * and the guest RAM mapped (belib.c).  What is left afterwards is
 * listed in Documentation/host-stub.rst ("What a compromised back-end
 * can reach"):
 *
 *  - capabilities: bounding, ambient, effective, permitted and
 *    inheritable sets emptied; PR_SET_NO_NEW_PRIVS (no setuid gain);
 *  - rlimits: RLIMIT_NOFILE = the highest fd kept + 1 (no new fd can
 *    be made), RLIMIT_NPROC 0, RLIMIT_FSIZE 0, RLIMIT_CORE 0;
 *  - fds: all closed but the core's socket, the kick eventfd and the
 *    call eventfds (the guest's VPV_VEC_EVTCHN and per-CPU vectors;
 *    stdin, stdout and stderr too);
 *  - seccomp (libseccomp, SCMP_ACT_KILL_PROCESS for anything else):
 *    read of the kick fd, write of each call fd, recvfrom/sendto on the
 *    socket, poll/ppoll, mmap without PROT_EXEC, munmap, mremap,
 *    madvise, brk (malloc), rt_sigreturn (the SIGBUS guard),
 *    restart_syscall, exit, exit_group.  No open, no socket, no
 *    process creation, no signals to others, no mprotect.
 *  - a device's extras (struct be_sandbox_extra): more fds kept, more
 *    syscalls allowed on those fds only (an ioctl: of one request
 *    only), RLIMIT_FSIZE left unlimited.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "besandbox.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* capability numbers to drop from the bounding set (kernel max is 40) */
#define CAP_PROBE_MAX	64

static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = {
		_LINUX_CAPABILITY_VERSION_3, 0
	};
	struct __user_cap_data_struct data[2] = { { 0 } };
	int cap;

	for (cap = 0; cap < CAP_PROBE_MAX; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL && errno != EPERM)
			return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

static int set_limit(int res, rlim_t v)
{
	struct rlimit rl = { v, v };

	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

/* Close everything but keep[0..n-1] (ascending). */
static void close_others(const int *keep, unsigned int n)
{
	unsigned int lo = 0, i;

	for (i = 0; i < n; i++) {
		if ((unsigned int)keep[i] > lo)
			syscall(SYS_close_range, lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0u, 0);
}

static void sort_fds(int *k, unsigned int n)
{
	unsigned int i, j;
	int t;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (k[j] < k[i]) {
				t = k[i];
				k[i] = k[j];
				k[j] = t;
			}
}

static int rule(scmp_filter_ctx ctx, int nr)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static int rule_fd(scmp_filter_ctx ctx, int nr, int fd)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd));
}

/* A device's extra rule: any fd, one fd, or one fd and one arg1. */
static int rule_extra(scmp_filter_ctx ctx, const struct be_rule *r)
{
	if (r->fd < 0)
		return rule(ctx, r->nr);
	if (!r->has_arg1)
		return rule_fd(ctx, r->nr, r->fd);
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 2,
				SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)r->fd),
				SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)r->arg1));
}

static int load_filter(int sock, int kick, const int *calls,
		       unsigned int ncalls, const struct be_sandbox_extra *x)
{
	static const int plain[] = {
		SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(munmap),
		SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall),
		SCMP_SYS(exit), SCMP_SYS(exit_group),
		/* timings (blkback): the vDSO's fallback */
		SCMP_SYS(clock_gettime),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	unsigned int i;
	int ret = 0;

	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(plain) && !ret; i++)
		ret = rule(ctx, plain[i]);
	if (!ret)
		ret = rule_fd(ctx, SCMP_SYS(read), kick);
	for (i = 0; i < ncalls && !ret; i++)
		ret = rule_fd(ctx, SCMP_SYS(write), calls[i]);
	if (!ret)
		ret = rule_fd(ctx, SCMP_SYS(recvfrom), sock);
	if (!ret)
		ret = rule_fd(ctx, SCMP_SYS(sendto), sock);
	if (!ret)	/* anonymous or shared memory, never executable */
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC,
					       0));
	for (i = 0; x && i < x->nrules && !ret; i++)
		ret = rule_extra(ctx, &x->rules[i]);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

int be_sandbox(int sock, int kick, const int *calls, unsigned int ncalls,
	       const struct be_sandbox_extra *x, bool seccomp)
{
	int keep[2 + BE_SANDBOX_CALLS_MAX + BE_SANDBOX_KEEP_MAX] = {
		sock, kick
	};
	unsigned int n = 2, i;
	int ret;

	if (!ncalls || ncalls > BE_SANDBOX_CALLS_MAX)
		return -EINVAL;
	for (i = 0; i < ncalls; i++)
		keep[n++] = calls[i];
	for (i = 0; x && i < x->nkeep && i < BE_SANDBOX_KEEP_MAX; i++)
		keep[n++] = x->keep[i];
	sort_fds(keep, n);
	ret = drop_caps();
	if (ret)
		return ret;
	close_others(keep, n);
	ret = set_limit(RLIMIT_NOFILE, keep[n - 1] + 1);
	if (!ret)
		ret = set_limit(RLIMIT_NPROC, 0);
	if (!ret && !(x && x->fsize))
		ret = set_limit(RLIMIT_FSIZE, 0);
	if (!ret)
		ret = set_limit(RLIMIT_CORE, 0);
	if (ret || !seccomp)
		return ret;
	return load_filter(sock, kick, calls, ncalls, x);
}

/* vpv-netswitch's filter (be_sandbox_switch()). */
static int load_switch_filter(int sock, unsigned int nofile)
{
	static const int plain[] = {
		SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(munmap),
		SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
		SCMP_SYS(rt_sigreturn), SCMP_SYS(restart_syscall),
		SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(clock_gettime),
	};
	/* on its ports: any fd below nofile (it can hold no other) */
	static const int ports[] = {
		SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(close),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	unsigned int i;
	int ret = 0;

	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(plain) && !ret; i++)
		ret = rule(ctx, plain[i]);
	for (i = 0; i < ARRAY_SIZE(ports) && !ret; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, ports[i], 1,
				       SCMP_A0(SCMP_CMP_LT,
					       (scmp_datum_t)nofile));
	if (!ret)	/* PORT_ADD's fd */
		ret = rule_fd(ctx, SCMP_SYS(recvmsg), sock);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC,
					       0));
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

int be_sandbox_switch(int sock, unsigned int nofile, bool seccomp)
{
	int ret;

	if ((unsigned int)sock >= nofile)
		return -EINVAL;
	ret = drop_caps();
	if (ret)
		return ret;
	close_others(&sock, 1);
	ret = set_limit(RLIMIT_NOFILE, nofile);
	if (!ret)
		ret = set_limit(RLIMIT_NPROC, 0);
	if (!ret)
		ret = set_limit(RLIMIT_FSIZE, 0);
	if (!ret)
		ret = set_limit(RLIMIT_CORE, 0);
	if (ret || !seccomp)
		return ret;
	return load_switch_filter(sock, nofile);
}

void be_forbidden_syscall(void)
{
	/* killed by the filter before it returns */
	if (socket(AF_INET, SOCK_STREAM, 0) >= 0)
		_exit(4);
	_exit(5);
}
