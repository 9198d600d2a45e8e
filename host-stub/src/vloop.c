// SPDX-License-Identifier: GPL-2.0
/*
 * vloop back-end (abi/vpv_vloop.h): the front-end grants a ring page
 * and writes "ring-ref" and "event-channel"; each request checksums
 * (CSUM) or XORs into a second grant (XOR) len bytes at offset of an
 * input grant, answered with the FNV-1a 32 of the bytes produced.
 *
 * Runs in the guest's hypercall thread (its event channel doorbell),
 * under the bus lock.  At most VLOOP_BUDGET requests per notification;
 * if more are waiting the port is re-kicked so the thread serves the
 * guest's hypercalls in between.  Indices the guest wrote are checked
 * by the vpv_ring.h back-ring helpers: an overflow is a protocol error.
 *
 * The test ops HOLD and RELEASE keep a grant mapped across requests
 * (struct vloop's held[]); disconnect unmaps whatever is still held,
 * and every teardown (protocol error, front-end Closing/Closed,
 * restart, removal, NEGOTIATE, guest removal) goes through it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "vpv_vloop.h"

struct vloop {
	struct grant_map ring_map;
	struct vpv_vloop_sring *s;
	struct vpv_back_ring br;
	struct grant_map held[VPV_VLOOP_MAX_HELD];
	unsigned int nheld;
};

static int read_u32(const char *dir, const char *key, uint32_t *out)
{
	char path[160], *v, *end;
	unsigned long x;
	uint32_t len;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	ret = store_read(STORE_DOMID_HOST, 0, path, &v, &len);
	if (ret)
		return ret;
	errno = 0;
	x = strtoul(v, &end, 10);
	ret = (end == v || *end || errno || x > UINT32_MAX || v[0] == '-') ?
	      -EINVAL : 0;
	free(v);
	*out = x;
	return ret;
}

static int vloop_connect(struct bus_dev *dev)
{
	uint32_t ref, port;
	struct vloop *v;
	int ret;

	if (read_u32(dev->fe, "ring-ref", &ref) ||
	    read_u32(dev->fe, "event-channel", &port))
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	ret = grant_map(dev->g, ref, VPV_DOMID_HOST, true, &v->ring_map);
	if (ret) {
		free(v);
		return ret;
	}
	ret = evtchn_bind_backend(dev->g, port);
	if (ret) {
		grant_unmap(&v->ring_map);
		free(v);
		return ret;
	}
	v->s = (struct vpv_vloop_sring *)v->ring_map.ptr;
	vpv_back_ring_init(&v->br, &v->s->hdr,
			   VPV_RING_ENTRIES(sizeof(v->s->ring[0]),
					    VPV_PAGE_SIZE));
	dev->priv = v;
	dev->port = port;
	/* requests queued before we connected */
	evtchn_kick_host(dev->g, port);
	return 0;
}

static void vloop_disconnect(struct bus_dev *dev)
{
	struct vloop *v = dev->priv;

	if (!v)
		return;
	evtchn_unbind_backend(dev->g, dev->port);
	while (v->nheld)
		grant_unmap(&v->held[--v->nheld]);
	grant_unmap(&v->ring_map);
	free(v);
	dev->priv = NULL;
}

/* HOLD: keep rq->gref_in mapped (read-only) until RELEASE or disconnect */
static int32_t vloop_hold(struct bus_dev *dev, uint32_t ref)
{
	struct vloop *v = dev->priv;

	if (v->nheld >= VPV_VLOOP_MAX_HELD)
		return -VPV_ENOSPC;
	if (grant_map(dev->g, ref, VPV_DOMID_HOST, false, &v->held[v->nheld]))
		return -VPV_EPERM;
	v->nheld++;
	return 0;
}

/* RELEASE: unmap one hold of ref */
static int32_t vloop_release(struct bus_dev *dev, uint32_t ref)
{
	struct vloop *v = dev->priv;
	unsigned int i = v->nheld;

	while (i-- > 0) {
		if (v->held[i].ref != ref)
			continue;
		grant_unmap(&v->held[i]);
		v->held[i] = v->held[--v->nheld];
		memset(&v->held[v->nheld], 0, sizeof(v->held[0]));
		return 0;
	}
	return -VPV_ENOENT;
}

static int32_t vloop_one(struct bus_dev *dev, const struct vpv_vloop_req *rq,
			 uint32_t *csum)
{
	struct grant_map in, out;
	uint8_t buf[VPV_PAGE_SIZE];
	uint32_t i;

	*csum = 0;
	if (rq->op == VPV_VLOOP_OP_HOLD)
		return vloop_hold(dev, rq->gref_in);
	if (rq->op == VPV_VLOOP_OP_RELEASE)
		return vloop_release(dev, rq->gref_in);
	if (rq->op != VPV_VLOOP_OP_CSUM && rq->op != VPV_VLOOP_OP_XOR)
		return -VPV_ENOSYS;
	if (!rq->len || (uint32_t)rq->offset + rq->len > VPV_PAGE_SIZE)
		return -VPV_EINVAL;
	if (grant_map(dev->g, rq->gref_in, VPV_DOMID_HOST, false, &in))
		return -VPV_EPERM;
	memcpy(buf, in.ptr + rq->offset, rq->len);
	if (rq->op == VPV_VLOOP_OP_XOR) {
		if (grant_map(dev->g, rq->gref_out, VPV_DOMID_HOST, true,
			      &out)) {
			grant_unmap(&in);
			return -VPV_EPERM;
		}
		for (i = 0; i < rq->len; i++)
			buf[i] ^= rq->seed & 0xff;
		memcpy(out.ptr + rq->offset, buf, rq->len);
		grant_unmap(&out);
	}
	grant_unmap(&in);
	*csum = fnv1a32(buf, rq->len);
	return 0;
}

/* 0, or -EPROTO on a ring protocol error */
int vloop_process(struct bus_dev *dev)
{
	struct vloop *v = dev->priv;
	struct vpv_back_ring *br;
	unsigned int done = 0;
	bool notify = false;
	long n;
	int ret = 0;

	if (!v)
		return 0;
	br = &v->br;
	for (;;) {
		n = vpv_back_unconsumed_requests(br);
		if (n < 0) {
			ret = -EPROTO;
			break;
		}
		while (n-- > 0 && done < VLOOP_BUDGET) {
			struct vpv_vloop_req rq;
			struct vpv_vloop_rsp rs = { 0 };

			memcpy(&rq, &VPV_RING_ENTRY(v->s, br, br->req_cons)->req,
			       sizeof(rq));
			br->req_cons++;
			rs.id = rq.id;
			rs.status = vloop_one(dev, &rq, &rs.csum);
			memcpy(&VPV_RING_ENTRY(v->s, br, br->rsp_prod_pvt)->rsp,
			       &rs, sizeof(rs));
			br->rsp_prod_pvt++;
			done++;
		}
		if (vpv_back_push_responses(br))
			notify = true;
		if (done >= VLOOP_BUDGET) {
			if (vpv_back_unconsumed_requests(br) > 0)
				evtchn_kick_host(dev->g, dev->port);
			break;
		}
		n = vpv_back_final_check_requests(br);
		if (n < 0) {
			ret = -EPROTO;
			break;
		}
		if (!n)
			break;
	}
	dev->requests += done;
	STAT_ADD(dev->g, vloop_requests, done);
	if (notify)
		evtchn_notify_guest_backend(dev->g, dev->port);
	return ret;
}

static int vloop_event(struct bus_dev *dev)
{
	return vloop_process(dev);
}

static const struct bus_driver vloop_driver = {
	.type = "vloop",
	.connect = vloop_connect,
	.disconnect = vloop_disconnect,
	.event = vloop_event,
};

void vloop_init(void)
{
	bus_register_driver(&vloop_driver);
}

/* everything the split-driver platform needs at start-up */
void split_init(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	store_init();
	vloop_init();
}
