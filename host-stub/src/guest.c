// SPDX-License-Identifier: GPL-2.0
/*
 * Per-guest resources: RAM file, shared region, eventfds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/vfs.h>

#include "vpv_host.h"

static void shm_init_header(struct guest *g)
{
	struct vpv_shared_header *h = g->hdr;

	memset(g->shm, 0, VPV_EVTCHN_OFFSET + sizeof(*g->ev));
	h->magic = VPV_MAGIC;
	h->abi_version = VPV_ABI_VERSION;
	h->host_peer_id = VPV_HOST_PEER_ID;
	h->shm_size = g->shm_size;
	h->host_features = VPV_HOST_FEATURES;
	h->guest_features = 0;
	h->nr_slots = g->nr_slots;
	h->slot_offset = VPV_SLOT_OFFSET;
	h->slot_size = sizeof(struct vpv_hc_slot);
	h->multicall_max = VPV_MULTICALL_MAX;
	h->evtchn_nr_ports = g->nr_ports;
	h->evtchn_offset = VPV_EVTCHN_OFFSET;
	h->guest_status = VPV_GUEST_DOWN;
	h->guest_ram_size = g->ram_size;
	h->gnttab_offset = VPV_GNTTAB_OFFSET;
	h->gnttab_nr = VPV_GNTTAB_NR;
	h->store_offset = VPV_STORE_OFFSET;
	h->domid = g->domid;
	__atomic_store_n(&h->host_status, VPV_HOST_READY, __ATOMIC_RELEASE);
}

static bool pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/*
 * One hypercall slot per vCPU plus a spare, at most VPV_MAX_SLOTS (the
 * slot area between VPV_SLOT_OFFSET and VPV_EVTCHN_OFFSET).  A call
 * that times out leaves its slot retired until the host answers it;
 * the spare keeps a one-vCPU guest's hypercalls going meanwhile instead
 * of failing them all with -EIO, and it is the slot no vCPU maps to
 * that the hostile guest test forges requests in.
 */
unsigned int guest_nr_slots(unsigned int smp)
{
	unsigned int n = (smp < 1 ? 1 : smp) + 1;

	return n > VPV_MAX_SLOTS ? VPV_MAX_SLOTS : n;
}

/*
 * Warn (once) when the RAM file is not on tmpfs.  Ballooning returns
 * memory by punching holes in the RAM file; on a disk file system the
 * pages live in the page cache, and where it uses large folios (ext4
 * on recent kernels, 2 MiB folios for a mapping like ours) a 4 KiB
 * punch inside a folio in use only zeroes the page: the host keeps it.
 * tmpfs splits the folio (or uses small ones) and frees the page.
 */
static void ram_fs_check(const struct guest *g)
{
	static bool warned;
	struct statfs sf;

	if (warned || fstatfs(g->ram_fd, &sf) < 0 ||
	    sf.f_type == TMPFS_MAGIC)
		return;
	warned = true;
	fprintf(stderr,
		"vpv-host: warning: RAM file %s is not on tmpfs (f_type 0x%llx): ballooned 4 KiB pages may stay in the host's page cache (counted in memop_unreclaimed_pages); leave out --ram-dir (memfd) or use a tmpfs directory such as /dev/shm\n",
		g->ram_path, (unsigned long long)sf.f_type);
}

/*
 * The guest's RAM: a memfd (tmpfs, freed with the last user, even if
 * the stub dies) that QEMU opens as /proc/PID/fd/N, or dir/NAME.ram
 * created here (not an existing file: -EEXIST).
 */
static int ram_open(struct guest *g, const char *name, const char *dir)
{
	if (!dir) {
		g->ram_fd = memfd_create("vpv-ram", MFD_CLOEXEC);
		if (g->ram_fd < 0)
			return -errno;
		if (asprintf(&g->ram_path, "/proc/%d/fd/%d", (int)getpid(),
			     g->ram_fd) < 0) {
			g->ram_path = NULL;
			return -ENOMEM;
		}
		return 0;
	}
	if (asprintf(&g->ram_path, "%s/%s.ram", dir, name) < 0) {
		g->ram_path = NULL;
		return -ENOMEM;
	}
	g->ram_fd = open(g->ram_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			 0600);
	if (g->ram_fd < 0)
		return -errno;		/* not ours: do not unlink */
	g->ram_unlink = true;
	ram_fs_check(g);
	return 0;
}

/*
 * Create everything a guest needs except the socket, the thread and
 * QEMU.  The RAM is a memfd if dir is NULL, else the file dir/NAME.ram.
 * On failure everything created so far is released and a negative
 * errno is returned.
 */
int guest_init(struct guest *g, const char *name, uint64_t ram_size,
	       unsigned int smp, uint64_t shm_size, const char *dir)
{
	int i, ret;

	memset(g, 0, sizeof(*g));
	g->ram_fd = -1;
	g->shm_fd = -1;
	g->listen_fd = -1;
	g->conn_fd = -1;
	g->stop_fd = -1;
	for (i = 0; i < VPV_NR_DOORBELLS; i++)
		g->host_ev[i] = -1;
	for (i = 0; i < VPV_NR_GUEST_EVS; i++)
		g->guest_ev[i] = -1;
	g->pid = -1;
	g->hc_cpu = -1;

	if (!cfg_valid_name(name) || !ram_size || (ram_size & 0xfff) ||
	    !pow2(shm_size) || shm_size < VPV_SHM_MIN_SIZE ||
	    shm_size > VPV_SHM_MAX_SIZE)
		return -EINVAL;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->nr_slots = guest_nr_slots(smp);
	g->nr_ports = VPV_EVTCHN_MAX_PORTS;

	/* guest RAM */
	ret = ram_open(g, name, dir);
	if (ret)
		goto err;
	if (ftruncate(g->ram_fd, ram_size) < 0) {
		ret = -errno;
		goto err;
	}
	g->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->ram_fd, 0);
	if (g->ram == MAP_FAILED) {
		g->ram = NULL;
		ret = -errno;
		goto err;
	}
	g->ram_size = ram_size;
	g->lowmem = gpa_lowmem(ram_size);

	/* shared region */
	g->shm_fd = memfd_create("vpv-shm", MFD_CLOEXEC);
	if (g->shm_fd < 0) {
		ret = -errno;
		goto err;
	}
	if (ftruncate(g->shm_fd, shm_size) < 0) {
		ret = -errno;
		goto err;
	}
	g->shm = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->shm_fd, 0);
	if (g->shm == MAP_FAILED) {
		g->shm = NULL;
		ret = -errno;
		goto err;
	}
	g->shm_size = shm_size;
	g->hdr = (struct vpv_shared_header *)g->shm;
	g->slots = (struct vpv_hc_slot *)(g->shm + VPV_SLOT_OFFSET);
	g->ev = (struct vpv_evtchn_shared *)(g->shm + VPV_EVTCHN_OFFSET);

	for (i = 0; i < VPV_NR_DOORBELLS; i++) {
		g->host_ev[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (g->host_ev[i] < 0) {
			ret = -errno;
			goto err;
		}
	}
	for (i = 0; i < VPV_NR_GUEST_EVS; i++) {
		g->guest_ev[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (g->guest_ev[i] < 0) {
			ret = -errno;
			goto err;
		}
	}
	g->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->stop_fd < 0) {
		ret = -errno;
		goto err;
	}

	ret = subsys_guest_init(g);	/* subsys.c: memory, ports, store ... */
	if (ret)
		goto err;
	shm_init_header(g);
	g->state = GUEST_CREATED;
	return 0;
err:
	guest_destroy(g);
	return ret;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void guest_destroy(struct guest *g)
{
	int i;

	hc_thread_stop(g);
	/*
	 * Back-ends, store home, domain id, grant table, PV MMU pins,
	 * memory, activity sample: the subsystems in reverse order
	 * (subsys.c).  The domain id is unpublished before the grant
	 * table is freed: a grant copy of another guest holds
	 * domain_get() (the read lock) while it uses the table, so once
	 * domain_remove() has taken the write lock no copy can reach it;
	 * later copies get -VPV_ENOENT.
	 */
	subsys_guest_destroy(g);
	if (g->hdr)
		__atomic_store_n(&g->hdr->host_status, VPV_HOST_DOWN,
				 __ATOMIC_RELEASE);
	close_fd(&g->conn_fd);
	close_fd(&g->listen_fd);
	if (g->sock_path) {
		unlink(g->sock_path);
		free(g->sock_path);
		g->sock_path = NULL;
	}
	for (i = 0; i < VPV_NR_DOORBELLS; i++)
		close_fd(&g->host_ev[i]);
	for (i = 0; i < VPV_NR_GUEST_EVS; i++)
		close_fd(&g->guest_ev[i]);
	close_fd(&g->stop_fd);
	if (g->shm)
		munmap(g->shm, g->shm_size);
	g->shm = NULL;
	g->hdr = NULL;
	g->slots = NULL;
	g->ev = NULL;
	close_fd(&g->shm_fd);
	if (g->ram)
		munmap(g->ram, g->ram_size);
	g->ram = NULL;
	close_fd(&g->ram_fd);
	if (g->ram_path && g->ram_unlink)
		unlink(g->ram_path);
	free(g->ram_path);
	g->ram_path = NULL;
	g->ram_unlink = false;
	if (g->console_path) {
		unlink(g->console_path);
		free(g->console_path);
		g->console_path = NULL;
	}
}

/*
 * How many fds g holds (vpv-ctl stats: fd leak checks), counting the
 * epoll fd its hypercall thread keeps while it runs (hcall.c).
 */
unsigned int guest_nr_fds(const struct guest *g)
{
	unsigned int n = g->thread_running;
	int i;

	for (i = 0; i < VPV_NR_DOORBELLS; i++)
		n += g->host_ev[i] >= 0;
	for (i = 0; i < VPV_NR_GUEST_EVS; i++)
		n += g->guest_ev[i] >= 0;
	return n + (g->stop_fd >= 0) + (g->shm_fd >= 0) + (g->ram_fd >= 0) +
	       (g->listen_fd >= 0) + (g->conn_fd >= 0);
}

/*
 * Interrupt the guest on MSI-X vector vec (VPV_VEC_HCALL, VPV_VEC_EVTCHN
 * or a per-CPU vector: one the guest did not take stays pending in QEMU,
 * harmless).
 */
int guest_ring(struct guest *g, unsigned int vec)
{
	uint64_t one = 1;

	if (vec >= VPV_NR_GUEST_EVS || g->guest_ev[vec] < 0)
		return -EINVAL;
	if (write(g->guest_ev[vec], &one, sizeof(one)) != sizeof(one)) {
		/* EAGAIN: counter saturated, the guest is already rung */
		return errno == EAGAIN ? 0 : -errno;
	}
	return 0;
}

const char *guest_state_str(const struct guest *g)
{
	switch (g->state) {
	case GUEST_CREATED:
		return "created";
	case GUEST_SERVING:
		return "serving";
	case GUEST_RUNNING:
		return "running";
	case GUEST_EXITED:
		return "exited";
	case GUEST_REMOVED:
		return "removed";
	}
	return "unknown";
}
