/* SPDX-License-Identifier: GPL-2.0 */
/* Shared helpers: a real guest (memfd RAM as vpv-host's default, memfd region). */
#ifndef VPV_TESTUTIL_H
#define VPV_TESTUTIL_H

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "vpv_host.h"

#define TEST_DIR_TEMPLATE "/tmp/vpv-test-XXXXXX"
static char test_dir[sizeof(TEST_DIR_TEMPLATE)] = TEST_DIR_TEMPLATE;

static inline void test_dir_make(void)
{
	if (!mkdtemp(test_dir))
		BAIL("mkdtemp: %s", strerror(errno));
}

static inline void test_dir_remove(void)
{
	if (rmdir(test_dir) < 0)
		printf("# rmdir %s: %s (leftover files?)\n", test_dir,
		       strerror(errno));
}

/* A guest with its RAM file in dir (NULL: a memfd, as vpv-host does). */
static inline void test_guest_in(struct guest *g, uint64_t ram,
				 unsigned int smp, const char *dir)
{
	static int seq;
	char name[16];
	int ret;

	hc_init();
	snprintf(name, sizeof(name), "t%d", seq++);
	ret = guest_init(g, name, ram, smp, VPV_SHM_MIN_SIZE, dir);
	if (ret)
		BAIL("guest_init: %s", strerror(-ret));
}

static inline void test_guest(struct guest *g, uint64_t ram, unsigned int smp)
{
	test_guest_in(g, ram, smp, NULL);
}

/* Non-blocking: how many times was eventfd fd signalled (0 if none). */
/* Process pid runs under a seccomp filter ("Seccomp: 2" in its status). */
static inline bool seccomp_on(int pid)
{
	char p[64], line[128];
	bool on = false;
	FILE *fp;

	snprintf(p, sizeof(p), "/proc/%d/status", pid);
	fp = fopen(p, "r");
	if (!fp)
		return false;
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, "Seccomp:", 8))
			on = atoi(line + 8) == 2;
	fclose(fp);
	return on;
}

static inline uint64_t ev_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Wait up to ms for fd to become readable. */
static inline int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static inline long call(struct guest *g, uint32_t nr, uint64_t a0,
			uint64_t a1, uint64_t a2, uint64_t a3)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { a0, a1, a2, a3 };

	return hc_dispatch(g, nr, args);
}

/* The guest's grant entry ref, in its region's grant table. */
static inline struct vpv_grant_entry *test_gent(struct guest *g, uint32_t ref)
{
	return &((struct vpv_grant_entry *)(g->shm + g->hdr->gnttab_offset))[ref];
}

/* The guest's grant entry ref: frame, to domid, flags last. */
static inline void test_grant_to(struct guest *g, uint32_t ref,
				 uint16_t domid, uint64_t frame, uint16_t flags)
{
	struct vpv_grant_entry *e = test_gent(g, ref);

	e->frame = frame;
	e->domid = domid;
	__atomic_store_n(&e->flags, flags, __ATOMIC_RELEASE);
}

/* The same, to the host. */
static inline void test_grant(struct guest *g, uint32_t ref, uint64_t frame,
			      uint16_t flags)
{
	test_grant_to(g, ref, VPV_DOMID_HOST, frame, flags);
}

/* The bus state in the store directory dir, or -1 if it has none. */
static inline int state_of(const char *dir)
{
	char p[160], *v;
	uint32_t len;
	int st;

	snprintf(p, sizeof(p), "%s/state", dir);
	if (store_read(STORE_DOMID_HOST, 0, p, &v, &len))
		return -1;
	st = atoi(v);
	free(v);
	return st;
}

#endif /* VPV_TESTUTIL_H */
