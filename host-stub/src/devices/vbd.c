// SPDX-License-Identifier: GPL-2.0
/*
 * The core's part of the split block device (vbd.h): the image files
 * are opened here, by vpv-host, and handed to the sandboxed back-end
 * process in INIT (it cannot open anything itself); the static keys
 * of abi/vpv_blkif.h are written here before the device's InitWait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "vpv_host.h"
/* the overlay library, shared with vpv-blkback and vpv-cow */
#include "../../backend/cow.h"

const struct bus_feature vbd_features[] = {
	{ "feature-flush-cache", 1 },
	{ "feature-fua", 1 },
	{ "feature-discard", 1 },
	{ "feature-secure-discard", 1 },
	{ "feature-write-zeroes", 1 },
	{ "discard-granularity", VBD_DISCARD_GRANULARITY },
	{ "feature-persistent", 1 },
	{ "max-persistent-grants", BE_VBD_PERSISTENT_MAX },
	{ "feature-transient", 1 },
	{ "feature-max-indirect-segments", VBD_INDIRECT_SEGS },
	{ "multi-queue-max-queues", VBD_QUEUES_DEFAULT },
	{ "max-ring-page-order", VPV_BLKIF_MAX_RING_ORDER },
	{ NULL, 0 }
};

/* The size in bytes of a regular file or block device. */
static int fd_size(int fd, uint64_t *size, bool *blkdev)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*blkdev = S_ISBLK(st.st_mode);
	if (*blkdev)
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = st.st_size;
	return 0;
}

/*
 * Lock an image the way QEMU locks its images: a writer exclusively, a
 * reader (an --ro image, a COW base) shared, so that two devices never
 * write one file (two guests' overlays in one file would corrupt each
 * other) and nothing writes a base that overlays read through.
 * flock(2) belongs to the open file description, which the back-end
 * process shares through its fd of INIT and restarts keep; it goes
 * with the last fd of it (device remove: the process reaped, the
 * core's fds closed).  Advisory: other programs that do not lock are
 * not stopped.  0, -EBUSY if another device holds a conflicting lock,
 * or -errno.
 */
static int vbd_lock(int fd, bool write)
{
	if (!flock(fd, (write ? LOCK_EX : LOCK_SH) | LOCK_NB))
		return 0;
	return errno == EWOULDBLOCK ? -EBUSY : -errno;
}

/*
 * --cow: open the overlay (created if absent; not with --ro) as fds[1]
 * and make it a new overlay of the base fds[0] if it is empty (its
 * header naming the image's absolute path), or check it against the
 * base (-ESTALE: the base changed since).  The virtual size is the
 * device's size.
 */
static int vbd_open_cow(const struct vbd_opts *o, struct be_params *p,
			int flags)
{
	char real[PATH_MAX];
	struct cow *c;
	struct stat st;
	uint64_t size;
	int ret;

	p->fds[1] = open(o->cow, flags | (o->ro ? O_RDONLY :
					  O_RDWR | O_CREAT), 0600);
	if (p->fds[1] < 0)
		return -errno;
	p->nr_fds = 2;
	ret = vbd_lock(p->fds[1], !o->ro);
	if (ret)
		return ret;
	if (fstat(p->fds[1], &st) < 0)
		return -errno;
	if (!st.st_size && !o->ro) {
		/* a sector-size multiple, as vbd_setup() wants */
		size = (p->vbd.size + p->vbd.sector_size - 1) /
		       p->vbd.sector_size * p->vbd.sector_size;
		if (!realpath(o->image, real))
			snprintf(real, sizeof(real), "%s", o->image);
		ret = cow_create(p->fds[1], p->fds[0], size, real, &c);
	} else {
		ret = cow_open(p->fds[1], p->fds[0], false, &c);
	}
	if (ret)
		return ret;
	p->vbd.size = cow_size(c);
	p->vbd.flags |= BE_VBD_COW;
	cow_close(c);
	return 0;
}

int vbd_open(const struct vbd_opts *o, struct be_params *p)
{
	int flags = O_CLOEXEC | (o->direct ? O_DIRECT : 0);
	bool blkdev;
	int ret;

	memset(p, 0, sizeof(*p));
	p->fds[0] = -1;
	p->fds[1] = -1;
	if (!o->image || !o->image[0])
		return -EINVAL;
	/* a COW base is never written */
	p->fds[0] = open(o->image, flags | (o->ro || o->cow ? O_RDONLY :
					    O_RDWR));
	if (p->fds[0] < 0)
		return -errno;
	p->nr_fds = 1;
	ret = vbd_lock(p->fds[0], !o->ro && !o->cow);
	if (!ret)
		ret = fd_size(p->fds[0], &p->vbd.size, &blkdev);
	if (ret)
		goto err;
	p->vbd.flags = (o->ro ? BE_VBD_RO : 0) |
		       (o->direct ? BE_VBD_DIRECT : 0) |
		       (blkdev ? BE_VBD_BLKDEV : 0);
	p->vbd.sector_size = o->sector_size ?: 512;
	p->vbd.max_queues = o->queues ?: VBD_QUEUES_DEFAULT;
	if (o->cow) {
		ret = vbd_open_cow(o, p, flags);
		if (ret)
			goto err;
	}
	return 0;
err:
	be_params_close(p);
	return ret;
}

static int key(struct bus_dev *d, const char *k, uint64_t v)
{
	char path[160];

	if (snprintf(path, sizeof(path), "%s/%s", d->be, k) >=
	    (int)sizeof(path))
		return -E2BIG;
	return store_writef(path, "%llu", (unsigned long long)v);
}

int vbd_setup(struct bus_dev *d, const struct be_params *p)
{
	const struct be_vbd_init *v;
	bool ro;
	int ret;

	if (!p || p->nr_fds < 1 || p->nr_fds > BE_DEV_FDS_MAX)
		return -EINVAL;
	/* the overlay's fd exactly when COW */
	if (p->nr_fds != (p->vbd.flags & BE_VBD_COW ? 2u : 1u))
		return -EINVAL;
	v = &p->vbd;
	ro = v->flags & BE_VBD_RO;
	if ((v->sector_size != 512 && v->sector_size != 4096) ||
	    !v->max_queues || v->max_queues > VPV_BLKIF_MAX_QUEUES ||
	    v->size % v->sector_size || !v->size)
		return -EINVAL;
	ret = key(d, "sectors", v->size >> VPV_BLKIF_SECTOR_SHIFT);
	if (!ret)
		ret = key(d, "sector-size", v->sector_size);
	if (!ret)	/* the host's page: 4 KiB writes avoid a read-modify-write */
		ret = key(d, "physical-sector-size", 4096);
	if (!ret)
		ret = key(d, "read-only", ro);
	if (!ret)
		ret = key(d, "multi-queue-max-queues", v->max_queues);
	/* nothing to discard or zero on a read-only device */
	if (!ret && ro)
		ret = key(d, "feature-discard", 0);
	if (!ret && ro)
		ret = key(d, "feature-secure-discard", 0);
	if (!ret && ro)
		ret = key(d, "feature-write-zeroes", 0);
	return ret;
}

int vbd_resize_check(const struct be_params *p, uint64_t size)
{
	const struct be_vbd_init *v = &p->vbd;

	if (!p->nr_fds)
		return -EOPNOTSUPP;	/* not a vbd */
	if (v->flags & BE_VBD_RO)
		return -EROFS;
	/* resize the block device itself; a COW overlay over one is fine */
	if ((v->flags & (BE_VBD_BLKDEV | BE_VBD_COW)) == BE_VBD_BLKDEV)
		return -EOPNOTSUPP;
	if (!size || size % v->sector_size)
		return -EINVAL;
	return 0;
}

int be_params_dup(struct be_params *dst, const struct be_params *src)
{
	uint32_t i;

	memset(dst, 0, sizeof(*dst));
	dst->fds[0] = -1;
	dst->fds[1] = -1;
	if (!src)
		return 0;
	if (src->nr_fds > BE_DEV_FDS_MAX)
		return -EINVAL;
	dst->vbd = src->vbd;
	dst->vif = src->vif;
	for (i = 0; i < src->nr_fds; i++) {
		dst->fds[i] = fcntl(src->fds[i], F_DUPFD_CLOEXEC, 3);
		if (dst->fds[i] < 0) {
			be_params_close(dst);
			return -errno;
		}
		dst->nr_fds = i + 1;
	}
	return 0;
}

void be_params_close(struct be_params *p)
{
	uint32_t i;

	for (i = 0; i < BE_DEV_FDS_MAX; i++) {
		if (i < p->nr_fds && p->fds[i] >= 0)
			close(p->fds[i]);
		p->fds[i] = -1;
	}
	p->nr_fds = 0;
}
