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
 *
 * Features (Documentation/split.rst): "feature-xor" and "feature-hold"
 * are advertised (= 1) in the back-end directory when the device is
 * created.  Connect reads them back (an admin may have set one to 0
 * since) and an op of a feature not offered then is answered
 * -VPV_EOPNOTSUPP (counted: vloop_refused), before any other check.
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
	bool xor_ok, hold_ok;	/* offered at this connect */
};

static const struct bus_feature vloop_features[] = {
	{ "feature-xor", 1 },
	{ "feature-hold", 1 },	/* HOLD and RELEASE */
	{ NULL, 0 }
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
	/* what the front-end read at its connect, unless changed since */
	v->xor_ok = bus_read_feature(dev, "feature-xor", 0) != 0;
	v->hold_ok = bus_read_feature(dev, "feature-hold", 0) != 0;
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

/* Was the feature of @op offered at connect?  Unknown ops: yes (ENOSYS). */
static bool vloop_offered(const struct vloop *v, uint32_t op)
{
	if (op == VPV_VLOOP_OP_XOR)
		return v->xor_ok;
	if (op == VPV_VLOOP_OP_HOLD || op == VPV_VLOOP_OP_RELEASE)
		return v->hold_ok;
	return true;
}

static int32_t vloop_one(struct bus_dev *dev, const struct vpv_vloop_req *rq,
			 uint32_t *csum)
{
	struct guest *g = dev->g;
	struct grant_map in, out;
	uint8_t buf[VPV_PAGE_SIZE];
	uint32_t i;
	int ret;

	*csum = 0;
	if (!vloop_offered(dev->priv, rq->op)) {
		STAT_INC(g, vloop_refused);
		return -VPV_EOPNOTSUPP;
	}
	if (rq->op == VPV_VLOOP_OP_HOLD)
		return vloop_hold(dev, rq->gref_in);
	if (rq->op == VPV_VLOOP_OP_RELEASE)
		return vloop_release(dev, rq->gref_in);
	if (rq->op != VPV_VLOOP_OP_CSUM && rq->op != VPV_VLOOP_OP_XOR)
		return -VPV_ENOSYS;
	if (!rq->len || (uint32_t)rq->offset + rq->len > VPV_PAGE_SIZE)
		return -VPV_EINVAL;
	if (grant_map(g, rq->gref_in, VPV_DOMID_HOST, false, &in))
		return -VPV_EPERM;
	/* guarded copies, no lock of ours held: a frame that faults -EFAULT */
	ret = gpa_copy(g, NULL, buf, g, in.ptr + rq->offset, rq->len);
	if (!ret && rq->op == VPV_VLOOP_OP_XOR) {
		if (grant_map(g, rq->gref_out, VPV_DOMID_HOST, true, &out)) {
			grant_unmap(&in);
			return -VPV_EPERM;
		}
		for (i = 0; i < rq->len; i++)
			buf[i] ^= rq->seed & 0xff;
		ret = gpa_copy(g, g, out.ptr + rq->offset, NULL, buf, rq->len);
		grant_unmap(&out);
	}
	grant_unmap(&in);
	if (!ret)
		*csum = fnv1a32(buf, rq->len);
	return ret;
}

/*
 * The ring page is guest RAM: every access to it goes through ring_op()
 * (guarded, see gpa.c).  A ring page that faults is a protocol error.
 */
enum ring_cmd { RING_UNCONSUMED, RING_FINAL_CHECK, RING_PUSH, RING_GET,
		RING_PUT };

struct ring_args {
	struct vloop *v;
	enum ring_cmd cmd;
	struct vpv_vloop_req *rq;	/* RING_GET */
	const struct vpv_vloop_rsp *rs;	/* RING_PUT */
	long ret;
};

static void ring_fn(void *arg)
{
	struct ring_args *a = arg;
	struct vpv_back_ring *br = &a->v->br;

	switch (a->cmd) {
	case RING_UNCONSUMED:
		a->ret = vpv_back_unconsumed_requests(br);
		break;
	case RING_FINAL_CHECK:
		a->ret = vpv_back_final_check_requests(br);
		break;
	case RING_PUSH:
		a->ret = vpv_back_push_responses(br);
		break;
	case RING_GET:
		memcpy(a->rq, &VPV_RING_ENTRY(a->v->s, br, br->req_cons)->req,
		       sizeof(*a->rq));
		break;
	case RING_PUT:
		memcpy(&VPV_RING_ENTRY(a->v->s, br, br->rsp_prod_pvt)->rsp,
		       a->rs, sizeof(*a->rs));
		break;
	}
}

/* The helper's result, or -1 (protocol error) if the ring page faulted. */
static long ring_op(struct bus_dev *dev, enum ring_cmd cmd,
		    struct vpv_vloop_req *rq, const struct vpv_vloop_rsp *rs)
{
	struct ring_args a = { dev->priv, cmd, rq, rs, 0 };

	if (gpa_guard_run(dev->g, NULL, ring_fn, &a))
		return -1;
	return a.ret;
}

/* Serve up to n requests within the budget; false: the ring faulted. */
static bool vloop_batch(struct bus_dev *dev, long n, unsigned int *done)
{
	struct vloop *v = dev->priv;

	while (n-- > 0 && *done < VLOOP_BUDGET) {
		struct vpv_vloop_req rq;
		struct vpv_vloop_rsp rs = { 0 };

		if (ring_op(dev, RING_GET, &rq, NULL) < 0)
			return false;
		v->br.req_cons++;
		rs.id = rq.id;
		rs.status = vloop_one(dev, &rq, &rs.csum);
		if (ring_op(dev, RING_PUT, NULL, &rs) < 0)
			return false;
		v->br.rsp_prod_pvt++;
		(*done)++;
	}
	return true;
}

/* 0, or -EPROTO on a ring protocol error */
int vloop_process(struct bus_dev *dev)
{
	unsigned int done = 0;
	bool notify = false;
	long n;
	int ret = 0;

	if (!dev->priv)
		return 0;
	for (;;) {
		n = ring_op(dev, RING_UNCONSUMED, NULL, NULL);
		if (n < 0 || !vloop_batch(dev, n, &done)) {
			ret = -EPROTO;
			break;
		}
		n = ring_op(dev, RING_PUSH, NULL, NULL);
		if (n < 0) {
			ret = -EPROTO;
			break;
		}
		if (n)
			notify = true;
		if (done >= VLOOP_BUDGET) {
			if (ring_op(dev, RING_UNCONSUMED, NULL, NULL) > 0)
				evtchn_kick_host(dev->g, dev->port);
			break;
		}
		n = ring_op(dev, RING_FINAL_CHECK, NULL, NULL);
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
	.features = vloop_features,
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
