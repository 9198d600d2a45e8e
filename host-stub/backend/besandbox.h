/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The back-end process's sandbox (besandbox.c).
 */
#ifndef VPV_BESANDBOX_H
#define VPV_BESANDBOX_H

#include <stdbool.h>

/*
 * Drop every capability, set no_new_privs and tight rlimits, close
 * every fd but sock, kick and call, and (seccomp) install the syscall
 * filter.  0 or -errno; the caller exits on failure.
 */
int be_sandbox(int sock, int kick, int call, bool seccomp);
/* The test hook: a syscall outside the filter (killed by SIGSYS). */
void be_forbidden_syscall(void);

#endif /* VPV_BESANDBOX_H */
