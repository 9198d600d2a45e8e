// SPDX-License-Identifier: GPL-2.0
/*
 * vloop back-end (abi/vpv_vloop.h), run in its own process (belib.c):
 * the front-end grants a ring page and writes "ring-ref" and
 * "event-channel"; each request checksums (CSUM) or XORs into a second
 * grant (XOR) len bytes at offset of an input grant, answered with the
 * FNV-1a 32 of the bytes produced.
 *
 * At most VLOOP_BUDGET requests per event() call; if more are waiting
 * be_again() asks for another call (the process looks at its socket in
 * between).  Indices the guest wrote are checked by the vpv_ring.h
 * back-ring helpers: an overflow is a protocol error.  Every access to
 * the ring or a data frame is guest RAM and runs under be_guard().
 *
 * The test ops HOLD and RELEASE keep a grant mapped across requests
 * (held[]); disconnect unmaps whatever is still held (and the core
 * unmaps everything of a device whose process dies).
 *
 * Features (Documentation/split.rst): "feature-xor" and "feature-hold"
 * are advertised by the core when the device is created.  Connect reads
 * them back (an admin may have set one to 0 since) and an op of a
 * feature not offered then is answered -VPV_EOPNOTSUPP (counted as
 * refused), before any other check.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_abi.h"
#include "vpv_util.h"
#include "vpv_vloop.h"
#include "belib.h"

struct vloop {
	struct be_gmap ring_map;
	struct vpv_vloop_sring *s;
	struct vpv_back_ring br;
	struct be_gmap held[VPV_VLOOP_MAX_HELD];
	unsigned int nheld;
	bool xor_ok, hold_ok;	/* offered at this connect */
};

static int read_u32(struct be_dev *bd, bool fe, const char *key,
		    uint32_t *out)
{
	char v[64];
	int len = be_store_read(bd, fe, key, v, sizeof(v));

	if (len < 0)
		return len;
	return vpv_parse_u32(v, len, out) ? -EINVAL : 0;
}

static bool feature(struct be_dev *bd, const char *key)
{
	uint32_t x;

	return !read_u32(bd, false, key, &x) && x;
}

static int vloop_connect(struct be_dev *bd)
{
	uint32_t ref, port;
	struct vloop *v;
	int ret;

	if (read_u32(bd, true, "ring-ref", &ref) ||
	    read_u32(bd, true, "event-channel", &port))
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->ring_map.ref = ref;
	v->ring_map.write = true;
	ret = be_grant_map(bd, &v->ring_map, 1);
	if (!ret)
		ret = v->ring_map.status;
	if (ret) {
		free(v);
		return ret;
	}
	ret = be_bind(bd, port);
	if (ret) {
		be_grant_unmap(bd, &v->ring_map, 1);
		free(v);
		return ret;
	}
	/* what the front-end read at its connect, unless changed since */
	v->xor_ok = feature(bd, "feature-xor");
	v->hold_ok = feature(bd, "feature-hold");
	v->s = (struct vpv_vloop_sring *)v->ring_map.ptr;
	vpv_back_ring_init(&v->br, &v->s->hdr,
			   VPV_RING_ENTRIES(sizeof(v->s->ring[0]),
					    VPV_PAGE_SIZE));
	bd->priv = v;
	/* requests queued before we connected */
	be_again(bd);
	return 0;
}

static void vloop_disconnect(struct be_dev *bd)
{
	struct vloop *v = bd->priv;

	if (!v)
		return;
	be_unbind(bd);
	be_grant_unmap(bd, v->held, v->nheld);
	be_grant_unmap(bd, &v->ring_map, 1);
	free(v);
	bd->priv = NULL;
}

/* HOLD: keep ref mapped (read-only) until RELEASE or disconnect */
static int32_t vloop_hold(struct be_dev *bd, uint32_t ref)
{
	struct vloop *v = bd->priv;
	struct be_gmap *m;

	if (v->nheld >= VPV_VLOOP_MAX_HELD)
		return -VPV_ENOSPC;
	m = &v->held[v->nheld];
	memset(m, 0, sizeof(*m));
	m->ref = ref;
	if (be_grant_map(bd, m, 1) || m->status)
		return -VPV_EPERM;
	v->nheld++;
	return 0;
}

/* RELEASE: unmap one hold of ref */
static int32_t vloop_release(struct be_dev *bd, uint32_t ref)
{
	struct vloop *v = bd->priv;
	unsigned int i = v->nheld;

	while (i-- > 0) {
		if (v->held[i].ref != ref)
			continue;
		be_grant_unmap(bd, &v->held[i], 1);
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

struct copy_args {
	void *dst;
	const void *src;
	size_t len;
};

static void copy_fn(void *arg)
{
	const struct copy_args *a = arg;

	memmove(a->dst, a->src, a->len);
}

static int guarded_copy(struct be_dev *bd, void *dst, const void *src,
			size_t len)
{
	struct copy_args a = { dst, src, len };

	return be_guard(bd, copy_fn, &a);
}

/* CSUM or XOR of a validated request; 0 or -VPV_E* */
static int32_t vloop_data(struct be_dev *bd, const struct vpv_vloop_req *rq,
			  uint32_t *csum)
{
	bool xor = rq->op == VPV_VLOOP_OP_XOR;
	struct be_gmap m[2];
	uint8_t buf[VPV_PAGE_SIZE];
	uint32_t i;
	int ret;

	memset(m, 0, sizeof(m));
	m[0].ref = rq->gref_in;
	m[1].ref = rq->gref_out;
	m[1].write = true;
	if (be_grant_map(bd, m, xor ? 2 : 1))
		return -VPV_EPERM;
	if (m[0].status || (xor && m[1].status)) {
		be_grant_unmap(bd, m, 2);
		return -VPV_EPERM;
	}
	/* guarded copies: a frame that faults is -EFAULT */
	ret = guarded_copy(bd, buf, m[0].ptr + rq->offset, rq->len);
	if (!ret && xor) {
		for (i = 0; i < rq->len; i++)
			buf[i] ^= rq->seed & 0xff;
		ret = guarded_copy(bd, m[1].ptr + rq->offset, buf, rq->len);
	}
	be_grant_unmap(bd, m, 2);
	if (!ret)
		*csum = fnv1a32(buf, rq->len);
	return ret;
}

static int32_t vloop_one(struct be_dev *bd, const struct vpv_vloop_req *rq,
			 uint32_t *csum)
{
	*csum = 0;
	if (!vloop_offered(bd->priv, rq->op)) {
		be_count(bd, 0, 1);
		return -VPV_EOPNOTSUPP;
	}
	if (rq->op == VPV_VLOOP_OP_HOLD)
		return vloop_hold(bd, rq->gref_in);
	if (rq->op == VPV_VLOOP_OP_RELEASE)
		return vloop_release(bd, rq->gref_in);
	if (rq->op != VPV_VLOOP_OP_CSUM && rq->op != VPV_VLOOP_OP_XOR)
		return -VPV_ENOSYS;
	if (!rq->len || (uint32_t)rq->offset + rq->len > VPV_PAGE_SIZE)
		return -VPV_EINVAL;
	return vloop_data(bd, rq, csum);
}

/*
 * The ring page is guest RAM: every access to it goes through ring_op()
 * (guarded).  A ring page that faults is a protocol error.
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
static long ring_op(struct be_dev *bd, enum ring_cmd cmd,
		    struct vpv_vloop_req *rq, const struct vpv_vloop_rsp *rs)
{
	struct ring_args a = { bd->priv, cmd, rq, rs, 0 };

	if (be_guard(bd, ring_fn, &a))
		return -1;
	return a.ret;
}

/* Serve up to n requests within the budget; false: the ring faulted. */
static bool vloop_batch(struct be_dev *bd, long n, unsigned int *done)
{
	struct vloop *v = bd->priv;

	while (n-- > 0 && *done < VLOOP_BUDGET) {
		struct vpv_vloop_req rq;
		struct vpv_vloop_rsp rs = { 0 };

		if (ring_op(bd, RING_GET, &rq, NULL) < 0)
			return false;
		v->br.req_cons++;
		rs.id = rq.id;
		rs.status = vloop_one(bd, &rq, &rs.csum);
		if (ring_op(bd, RING_PUT, NULL, &rs) < 0)
			return false;
		v->br.rsp_prod_pvt++;
		(*done)++;
	}
	return true;
}

/* 0, or -EPROTO on a ring protocol error */
static int vloop_event(struct be_dev *bd)
{
	struct vloop *v = bd->priv;
	unsigned int done = 0;
	bool notify = false;
	long n;
	int ret = 0;

	if (!v)
		return 0;
	for (;;) {
		n = ring_op(bd, RING_UNCONSUMED, NULL, NULL);
		if (n < 0 || !vloop_batch(bd, n, &done)) {
			ret = -EPROTO;
			break;
		}
		/* answered requests' grants unmapped before the guest sees them */
		be_unmap_barrier(bd);
		n = ring_op(bd, RING_PUSH, NULL, NULL);
		if (n < 0) {
			ret = -EPROTO;
			break;
		}
		if (n)
			notify = true;
		if (done >= VLOOP_BUDGET) {
			if (ring_op(bd, RING_UNCONSUMED, NULL, NULL) > 0)
				be_again(bd);
			break;
		}
		n = ring_op(bd, RING_FINAL_CHECK, NULL, NULL);
		if (n < 0) {
			ret = -EPROTO;
			break;
		}
		if (!n)
			break;
	}
	be_count(bd, done, 0);
	if (notify)
		be_notify(bd);
	return ret;
}

const struct be_device_ops vloop_be_ops = {
	.type = "vloop",
	.connect = vloop_connect,
	.disconnect = vloop_disconnect,
	.event = vloop_event,
};
