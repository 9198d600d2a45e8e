/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core's part of the split block device "vbd" (vbd.c): open the
 * image (and COW overlay) for vpv-ctl device add, size it, and write
 * the device's static back-end keys (abi/vpv_blkif.h).  No request is
 * ever handled here: the back-end process vpv-blkback does that.
 */
#ifndef VPV_VBD_H
#define VPV_VBD_H

#include <stdbool.h>
#include <stdint.h>

#include "be_proto.h"
#include "vpv_blkif.h"

struct bus_dev;
struct bus_feature;

/* vpv-ctl device add GUEST vbd ID --image FILE [options] */
struct vbd_opts {
	const char *image;
	const char *cow;	/* NULL: none */
	bool ro, direct;
	uint32_t sector_size;	/* 0: 512 */
	uint32_t queues;	/* 0: VBD_QUEUES_DEFAULT */
};

/*
 * Rings offered when --queues is not given: all the ABI allows (a ring
 * costs the back-end only its mapped pages; the guest takes at most
 * one per vCPU).
 */
#define VBD_QUEUES_DEFAULT	VPV_BLKIF_MAX_QUEUES
/* feature-max-indirect-segments: 1 MiB requests, as Xen's blkback */
#define VBD_INDIRECT_SEGS	256u
/* discard-granularity: the host file system's block, 4 KiB */
#define VBD_DISCARD_GRANULARITY	4096u

/* The keys every vbd device advertises (before vbd_setup's). */
extern const struct bus_feature vbd_features[];

/*
 * Open o's files into p (fds close-on-exec, owned by p): the image
 * O_RDWR, or O_RDONLY with --ro (and as a COW base), O_DIRECT with
 * --direct; a regular file or a block device, sized by fstat or
 * BLKGETSIZE64.  --cow: the overlay (Documentation/cow.rst) is opened
 * O_RDWR and created if absent (O_RDONLY and never created with --ro),
 * made a new overlay of the image if empty, else checked against it:
 * -ESTALE if the image changed since (size or mtime), -EINVAL if it is
 * not an overlay; the device's size is then the overlay's virtual size.
 * Each file is locked (flock) for the device's life, as QEMU locks
 * images: the written one (the image, or the overlay with --cow)
 * exclusively, a read-only one (--ro, a COW base) shared: -EBUSY when
 * another device holds a conflicting lock.
 * 0 or -errno (nothing left open).
 */
int vbd_open(const struct vbd_opts *o, struct be_params *p);
/* The bus driver's setup: check p, write the static keys of d. */
int vbd_setup(struct bus_dev *d, const struct be_params *p);
/* May the device of p be resized to size bytes?  0 or -errno. */
int vbd_resize_check(const struct be_params *p, uint64_t size);
/* Copy src into dst with its fds dup'ed (src NULL: an empty dst). */
int be_params_dup(struct be_params *dst, const struct be_params *src);
/* Close p's fds. */
void be_params_close(struct be_params *p);

#endif /* VPV_VBD_H */
