// SPDX-License-Identifier: GPL-2.0
/*
 * The config store's ring protocol: VPV_HC_STORE_OP(CONNECT, port),
 * incremental parsing of struct vpv_store_msg framed requests from the
 * guest's request ring, and a bounded output queue per guest that is
 * streamed into the response ring as the guest consumes it.
 *
 * Every index in the ring is guest-written: the host keeps private
 * copies of the ones it owns (req_cons, rsp_prod) and checks the
 * guest's (req_prod, rsp_cons) against them; more than a ring's worth
 * in either direction disconnects the ring.  A request whose len
 * exceeds VPV_STORE_PAYLOAD_MAX is answered E2BIG and its payload
 * skipped, which keeps the framing; no message longer than that is
 * ever sent (the caller answers E2BIG instead).  A protocol error
 * disconnects the ring and the next CONNECT starts a new session, as
 * NEGOTIATE does (watches and transactions dropped, the nodes stay).
 * Requests are not read while the
 * output queue is half full (the guest is not consuming answers);
 * watch events beyond STORE_OUTQ_MAX drop the oldest queued event.
 *
 * Everything here runs with the store lock held.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "store_core.h"

#define RING_MASK	(VPV_STORE_RING_SIZE - 1)
#define MSGS_PER_KICK	256

static void outq_free(struct store_guest *sg)
{
	struct outmsg *m;

	while ((m = sg->oq_head)) {
		sg->oq_head = m->next;
		free(m);
	}
	sg->oq_tail = NULL;
	sg->oq_n = 0;
	sg->oq_off = 0;
}

static void parser_reset(struct store_guest *sg)
{
	sg->hgot = 0;
	sg->have_hdr = false;
	sg->skip = 0;
	sg->pgot = 0;
}

void store_ring_disconnect_locked(struct store_guest *sg)
{
	if (sg->connected)
		evtchn_unbind_backend(sg->g, sg->port);
	sg->connected = false;
	sg->port = 0;
	outq_free(sg);
	parser_reset(sg);
}

static void notify(struct store_guest *sg)
{
	if (sg->connected)
		evtchn_notify_guest_backend(sg->g, sg->port);
}

/*
 * Disconnect; the next CONNECT starts a new session (watches and
 * transactions dropped then, not here: a watch walk may be running).
 */
static void protocol_error(struct store_guest *sg)
{
	STAT_INC(sg->g, store_protocol_errors);
	if (sg->connected) {
		/* tell the guest: rsp_prod a ring ahead of anything it read */
		__atomic_store_n(&sg->ring->rsp_prod,
				 sg->rsp_prod + VPV_STORE_RING_SIZE + 1,
				 __ATOMIC_RELEASE);
		notify(sg);
	}
	store_ring_disconnect_locked(sg);
	sg->stale_session = true;
}

/* Drop the oldest event not partly written; false if there is none. */
static bool outq_drop_event(struct store_guest *sg)
{
	struct outmsg **pp, *m, *prev = NULL;

	for (pp = &sg->oq_head; (m = *pp); prev = m, pp = &m->next) {
		if (!m->event || (m == sg->oq_head && sg->oq_off))
			continue;
		*pp = m->next;
		if (sg->oq_tail == m)
			sg->oq_tail = prev;
		free(m);
		sg->oq_n--;
		return true;
	}
	return false;
}

int store_queue_msg_locked(struct store_guest *sg, uint32_t type,
			   uint32_t req_id, uint32_t tx_id, const void *a,
			   uint32_t alen, const void *b, uint32_t blen,
			   bool event)
{
	struct vpv_store_msg h = {
		.type = type, .req_id = req_id, .tx_id = tx_id,
		.len = alen + blen,
	};
	struct outmsg *m;

	/* the guest refuses longer messages: never send one */
	if (alen + blen > VPV_STORE_PAYLOAD_MAX) {
		STAT_INC(sg->g, store_errors);
		return -E2BIG;
	}
	if (event) {
		STAT_INC(sg->g, store_watch_events);
		if (sg->oq_n >= STORE_OUTQ_MAX) {
			STAT_INC(sg->g, store_watch_dropped);
			sg->dropped++;
			if (!outq_drop_event(sg))
				return -ENOSPC;	/* only answers queued */
		}
	}
	m = malloc(sizeof(*m) + sizeof(h) + alen + blen);
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->event = event;
	m->len = sizeof(h) + alen + blen;
	memcpy(m->data, &h, sizeof(h));
	if (alen)
		memcpy(m->data + sizeof(h), a, alen);
	if (blen)
		memcpy(m->data + sizeof(h) + alen, b, blen);
	if (sg->oq_tail)
		sg->oq_tail->next = m;
	else
		sg->oq_head = m;
	sg->oq_tail = m;
	sg->oq_n++;
	store_ring_flush_locked(sg);
	return 0;
}

void store_ring_flush_locked(struct store_guest *sg)
{
	struct vpv_store_ring *r = sg->ring;
	uint32_t cons, space, n, idx, produced = 0;
	struct outmsg *m;

	if (!sg->connected)
		return;
	cons = __atomic_load_n(&r->rsp_cons, __ATOMIC_ACQUIRE);
	if (sg->rsp_prod - cons > VPV_STORE_RING_SIZE) {
		protocol_error(sg);
		return;
	}
	space = VPV_STORE_RING_SIZE - (sg->rsp_prod - cons);
	while ((m = sg->oq_head) && space) {
		n = m->len - sg->oq_off;
		idx = sg->rsp_prod & RING_MASK;
		if (n > space)
			n = space;
		if (n > VPV_STORE_RING_SIZE - idx)
			n = VPV_STORE_RING_SIZE - idx;
		memcpy(&r->rsp[idx], m->data + sg->oq_off, n);
		sg->rsp_prod += n;
		sg->oq_off += n;
		space -= n;
		produced += n;
		if (sg->oq_off == m->len) {
			sg->oq_head = m->next;
			if (!sg->oq_head)
				sg->oq_tail = NULL;
			free(m);
			sg->oq_n--;
			sg->oq_off = 0;
		}
	}
	if (produced) {
		__atomic_store_n(&r->rsp_prod, sg->rsp_prod, __ATOMIC_RELEASE);
		notify(sg);
	}
}

static void dispatch(struct store_guest *sg)
{
	const struct vpv_store_msg *h = &sg->cur;
	struct store_req r = { .caller = sg->domid, .txid = h->tx_id };
	int ret;

	STAT_INC(sg->g, store_requests);
	sg->pay[sg->pgot] = '\0';
	ret = store_request_locked(&r, h->type, sg->pay, h->len);
	if (ret) {
		const char *e = store_errname(ret);

		STAT_INC(sg->g, store_errors);
		store_queue_msg_locked(sg, VPV_STORE_ERROR, h->req_id,
				       h->tx_id, e, strlen(e) + 1, NULL, 0,
				       false);
		return;
	}
	ret = store_queue_msg_locked(sg, h->type, h->req_id, h->tx_id, r.out,
				     r.olen, NULL, 0, false);
	free(r.out);
	if (ret == -E2BIG)
		store_queue_msg_locked(sg, VPV_STORE_ERROR, h->req_id,
				       h->tx_id, "E2BIG", 6, NULL, 0, false);
	if (r.new_watch && sg->connected)
		store_watch_fire_new_locked(sg->domid, r.path);
}

static void header_done(struct store_guest *sg)
{
	memcpy(&sg->cur, sg->hbuf, sizeof(sg->cur));
	sg->hgot = 0;
	if (sg->cur.len > VPV_STORE_PAYLOAD_MAX) {
		static const char e2big[] = "E2BIG";

		STAT_INC(sg->g, store_requests);
		STAT_INC(sg->g, store_errors);
		store_queue_msg_locked(sg, VPV_STORE_ERROR, sg->cur.req_id,
				       sg->cur.tx_id, e2big, sizeof(e2big),
				       NULL, 0, false);
		sg->skip = sg->cur.len;
		return;
	}
	sg->have_hdr = true;
	sg->pgot = 0;
	if (!sg->cur.len) {
		sg->have_hdr = false;
		dispatch(sg);
	}
}

/* Consume what the guest produced; answers go to the output queue. */
void store_ring_process_locked(struct store_guest *sg)
{
	struct vpv_store_ring *r;
	uint32_t prod, avail, idx, n, consumed = 0, msgs = 0;

	store_ring_flush_locked(sg);
	while (sg->connected && msgs < MSGS_PER_KICK &&
	       sg->oq_n < STORE_OUTQ_MAX / 2) {
		r = sg->ring;
		prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);
		avail = prod - sg->req_cons;
		if (avail > VPV_STORE_RING_SIZE) {
			protocol_error(sg);
			return;
		}
		if (!avail)
			break;
		idx = sg->req_cons & RING_MASK;
		n = VPV_STORE_RING_SIZE - idx;
		if (n > avail)
			n = avail;
		if (sg->skip) {
			if (n > sg->skip)
				n = sg->skip;
			sg->skip -= n;
		} else if (!sg->have_hdr) {
			if (n > sizeof(sg->hbuf) - sg->hgot)
				n = sizeof(sg->hbuf) - sg->hgot;
			memcpy(sg->hbuf + sg->hgot, &r->req[idx], n);
			sg->hgot += n;
		} else {
			if (n > sg->cur.len - sg->pgot)
				n = sg->cur.len - sg->pgot;
			memcpy(sg->pay + sg->pgot, &r->req[idx], n);
			sg->pgot += n;
		}
		sg->req_cons += n;
		consumed += n;
		__atomic_store_n(&r->req_cons, sg->req_cons, __ATOMIC_RELEASE);
		if (!sg->skip && !sg->have_hdr &&
		    sg->hgot == sizeof(sg->hbuf)) {
			header_done(sg);
			msgs++;
		} else if (sg->have_hdr && sg->pgot == sg->cur.len) {
			sg->have_hdr = false;
			dispatch(sg);
			msgs++;
		}
	}
	if (consumed && sg->connected)
		notify(sg);	/* room in the request ring */
	if (sg->connected && msgs == MSGS_PER_KICK)
		evtchn_kick_host(sg->g, sg->port);
}

int store_ring_connect_locked(struct store_guest *sg, uint32_t port)
{
	struct vpv_store_ring *r;
	int ret;

	if (sg->stale_session) {
		store_drop_session_locked(sg);
		sg->stale_session = false;
	}
	if (!sg->pay) {
		sg->pay = malloc(VPV_STORE_PAYLOAD_MAX + 1);
		if (!sg->pay)
			return -VPV_ENOMEM;
	}
	if (sg->connected && sg->port == port)
		evtchn_unbind_backend(sg->g, port);
	ret = evtchn_bind_backend(sg->g, port);
	if (ret) {
		if (sg->connected && sg->port == port)
			evtchn_bind_backend(sg->g, port);
		return ret;
	}
	if (sg->connected && sg->port != port)
		evtchn_unbind_backend(sg->g, sg->port);
	r = (struct vpv_store_ring *)(sg->g->shm + VPV_STORE_OFFSET);
	sg->ring = r;
	sg->connected = true;
	sg->port = port;
	sg->req_cons = 0;
	sg->rsp_prod = 0;
	__atomic_store_n(&r->req_cons, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->req_prod, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->rsp_cons, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->rsp_prod, 0, __ATOMIC_RELEASE);
	outq_free(sg);
	parser_reset(sg);
	return 0;
}

long store_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	struct store_guest *sg;
	long ret;

	if (args[0] != VPV_STOREOP_CONNECT)
		return -VPV_ENOSYS;
	if (!(g->features & VPV_F_STORE))	/* negotiated */
		return -VPV_EOPNOTSUPP;
	if (args[1] < 1 || args[1] >= g->nr_ports)
		return -VPV_EINVAL;
	store_lock();
	sg = store_sg_locked(g->domid);
	ret = sg ? store_ring_connect_locked(sg, args[1]) : -VPV_ENOENT;
	store_unlock();
	return ret;
}

void store_register(void)
{
	hc_register(VPV_HC_STORE_OP, "store_op", store_op);
}

bool store_port_event(struct guest *g, unsigned int port)
{
	struct store_guest *sg;
	bool mine;

	store_lock();
	sg = store_sg_locked(g->domid);
	mine = sg && sg->connected && sg->port == port && sg->g == g;
	if (mine)
		store_ring_process_locked(sg);
	store_unlock();
	if (mine)
		store_run_deferred();
	return mine;
}

void store_port_closed(struct guest *g, unsigned int port)
{
	struct store_guest *sg;

	store_lock();
	sg = store_sg_locked(g->domid);
	if (sg && sg->connected && sg->port == port && sg->g == g)
		sg->port = 0;	/* connected, deaf until CONNECT again */
	store_unlock();
}

const struct guest_subsys_ops store_subsys = {
	.name = "store",
	.setup = store_register,
	.init = store_guest_add,
	.reset = store_guest_reset,	/* ring, watches, transactions */
	.port_event = store_port_event,
	.port_closed = store_port_closed,
	.destroy = store_guest_remove,
};
