/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * vloop: the loopback test device of the split-driver platform.  Its
 * front-end is tests/modules/vloopfront.c, its back-end lives in the
 * host stub.  It exercises the whole path: bus handshake, a shared ring
 * granted to the host, an event channel, and data in granted pages.
 *
 * Front-end keys (/local/domain/D/device/vloop/ID): "ring-ref" (grant
 * reference of the ring page, decimal), "event-channel" (port,
 * decimal), then state Initialised.  The back-end maps the ring through
 * the grant, binds the port, and goes Connected.
 *
 * Each request names an input grant (read-only is enough) and, for XOR,
 * an output grant (writable); the back-end reads len bytes at offset of
 * the input frame, and for XOR writes in[i] ^ (seed & 0xff) to the same
 * offset of the output frame.  The response carries the 32-bit FNV-1a
 * of the bytes it produced (XOR: the output; CSUM: the input).
 * status: 0, or -VPV_E* (a bad grant: -VPV_EPERM; offset + len beyond
 * the page or len 0: -VPV_EINVAL; unknown op: -VPV_ENOSYS).
 *
 * Two test ops let a front-end see the back-end keep a grant in use
 * across requests (offset, len, seed and gref_out are ignored):
 * HOLD maps gref_in (read-only access is enough) and keeps it mapped,
 * its in-use bit set and its frame pinned, until a RELEASE naming the
 * same gref_in or the device disconnects (the back-end's disconnect,
 * restart or removal, or a new guest session).  At most
 * VPV_VLOOP_MAX_HELD grants are held per device: one more is
 * -VPV_ENOSPC; a bad grant is -VPV_EPERM.  RELEASE of a grant not held:
 * -VPV_ENOENT; a grant held twice is released once per RELEASE.  Both
 * answer status 0 and csum 0 on success.
 *
 * Features, in the back-end directory (written when the device is
 * created, Documentation/split.rst): "feature-xor" (XOR) and
 * "feature-hold" (HOLD, RELEASE), decimal, 1 when offered.  A
 * front-end sends an op only when its key is non-zero (absent: 0);
 * the back-end reads its keys at each connect and answers an op whose
 * key is then 0 (or absent, or not a number) with -VPV_EOPNOTSUPP,
 * before any other check.  CSUM needs no feature.
 */
#ifndef VPV_VLOOP_H
#define VPV_VLOOP_H

#include <linux/types.h>
#include "vpv_ring.h"

#define VPV_VLOOP_OP_CSUM	0
#define VPV_VLOOP_OP_XOR	1
#define VPV_VLOOP_OP_HOLD	2	/* test: keep gref_in mapped */
#define VPV_VLOOP_OP_RELEASE	3	/* test: unmap a held gref_in */

#define VPV_VLOOP_MAX_HELD	16	/* HOLDs per device */

struct vpv_vloop_req {
	__u64 id;		/* echoed */
	__u32 op;		/* VPV_VLOOP_OP_* */
	__u32 gref_in;
	__u32 gref_out;		/* XOR only */
	__u16 offset;
	__u16 len;
	__u32 seed;
	__u32 pad;
};

struct vpv_vloop_rsp {
	__u64 id;
	__s32 status;
	__u32 csum;		/* FNV-1a 32 */
};

VPV_RING_DECLARE(vpv_vloop, struct vpv_vloop_req, struct vpv_vloop_rsp);

#endif /* VPV_VLOOP_H */
