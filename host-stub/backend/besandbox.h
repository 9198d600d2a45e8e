/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The back-end process's sandbox (besandbox.c).
 */
#ifndef VPV_BESANDBOX_H
#define VPV_BESANDBOX_H

#include <errno.h>
#include <stdbool.h>

#define BE_SANDBOX_KEEP_MAX	8	/* the device's own fds */
/*
 * The guest's interrupt eventfds a back-end may write: VPV_VEC_EVTCHN's
 * and the 8 per-CPU vectors' (ABI 1.5, belib.c checks it), with room.
 */
#define BE_SANDBOX_CALLS_MAX	16
#define BE_SANDBOX_RULES_MAX	32	/* its extra syscalls */

/*
 * A syscall allowed on top of the base filter: on fd only (-1: any),
 * and with has_arg1 only with that second argument (an ioctl's
 * request number: vpv-netback's TUNSETOFFLOAD on its tap).
 */
struct be_rule {
	int nr;
	int fd;
	bool has_arg1;
	unsigned long arg1;
};

/*
 * What a device type needs beyond the base sandbox (vpv-blkback: its
 * image fds, its io_uring fd, a few file syscalls on those fds, and
 * files that may grow: RLIMIT_FSIZE unlimited; vpv-netback: its tap,
 * read and written, and one ioctl on it).
 */
struct be_sandbox_extra {
	int keep[BE_SANDBOX_KEEP_MAX];
	unsigned int nkeep;
	struct be_rule rules[BE_SANDBOX_RULES_MAX];
	unsigned int nrules;
	bool fsize;		/* RLIMIT_FSIZE not 0 (image writes) */
};

/*
 * Add fd to x's kept fds and allow each of nrs (n of them) on it; 0 or
 * -ENOSPC.  Inline: the in-process device code (be_inproc.c) calls it
 * without the sandbox itself.
 */
static inline int be_sandbox_allow(struct be_sandbox_extra *x, int fd,
				   const int *nrs, unsigned int n)
{
	unsigned int i;

	if (x->nkeep >= BE_SANDBOX_KEEP_MAX ||
	    x->nrules + n > BE_SANDBOX_RULES_MAX)
		return -ENOSPC;
	x->keep[x->nkeep++] = fd;
	for (i = 0; i < n; i++) {
		x->rules[x->nrules].nr = nrs[i];
		x->rules[x->nrules].has_arg1 = false;
		x->rules[x->nrules++].fd = fd;
	}
	return 0;
}

/*
 * Allow syscall nr on fd (already kept by be_sandbox_allow()) with
 * second argument arg1 only: an ioctl of one request.  0 or -ENOSPC.
 */
static inline int be_sandbox_allow_arg1(struct be_sandbox_extra *x, int fd,
					int nr, unsigned long arg1)
{
	if (x->nrules >= BE_SANDBOX_RULES_MAX)
		return -ENOSPC;
	x->rules[x->nrules].nr = nr;
	x->rules[x->nrules].fd = fd;
	x->rules[x->nrules].has_arg1 = true;
	x->rules[x->nrules++].arg1 = arg1;
	return 0;
}

/*
 * Drop every capability, set no_new_privs and tight rlimits, close
 * every fd but sock, kick, the ncalls (1 .. BE_SANDBOX_CALLS_MAX) fds
 * of calls[] (the guest's interrupt eventfds: write only) and x's, and
 * (seccomp) install the syscall filter with x's rules.  0 or -errno
 * (-EINVAL: ncalls out of range); the caller exits on failure.
 */
int be_sandbox(int sock, int kick, const int *calls, unsigned int ncalls,
	       const struct be_sandbox_extra *x, bool seccomp);
/*
 * vpv-netswitch's sandbox: capabilities and privileges as be_sandbox(),
 * every fd closed but sock, RLIMIT_NOFILE nofile (the ports it is
 * handed later by SCM_RIGHTS land below it), RLIMIT_NPROC, _FSIZE and
 * _CORE 0, and (seccomp) a filter allowing recvmsg and sendto on sock,
 * recvfrom, sendto and close on fds below nofile (its ports), poll,
 * ppoll, memory (mmap without PROT_EXEC, munmap, mremap, madvise,
 * brk), clock_gettime, rt_sigreturn, restart_syscall, exit and
 * exit_group.  0 or -errno; the caller exits on failure.
 */
int be_sandbox_switch(int sock, unsigned int nofile, bool seccomp);
/* The test hook: a syscall outside the filter (killed by SIGSYS). */
void be_forbidden_syscall(void);

#endif /* VPV_BESANDBOX_H */
