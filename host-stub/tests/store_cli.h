/* SPDX-License-Identifier: GPL-2.0 */
/* A minimal guest-side store ring client for the tests. */
#ifndef VPV_STORE_CLI_H
#define VPV_STORE_CLI_H

#include "testutil.h"

struct cli {
	struct guest *g;
	struct vpv_store_ring *r;
	uint32_t port, req_id;
	uint8_t in[1 << 16];
	size_t inlen;
	unsigned int events;
	unsigned int oversize;		/* messages over the payload limit */
	char last_event[VPV_STORE_PAYLOAD_MAX + 1];
	uint32_t last_event_len;
};

static inline void cli_kick(struct cli *c)
{
	call(c->g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, c->port, 0, 0);
}

static inline long cli_connect(struct cli *c, struct guest *g)
{
	memset(c, 0, sizeof(*c));
	c->g = g;
	c->r = (struct vpv_store_ring *)(g->shm + g->hdr->store_offset);
	c->port = call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC,
		       VPV_DOMID_HOST, 0, 0);
	return call(g, VPV_HC_STORE_OP, VPV_STOREOP_CONNECT, c->port, 0, 0);
}

/* take everything in the response ring */
static inline void cli_pump(struct cli *c)
{
	uint32_t cons = c->r->rsp_cons, prod;

	prod = __atomic_load_n(&c->r->rsp_prod, __ATOMIC_ACQUIRE);
	while (cons != prod && c->inlen < sizeof(c->in)) {
		c->in[c->inlen++] = c->r->rsp[cons % VPV_STORE_RING_SIZE];
		cons++;
	}
	__atomic_store_n(&c->r->rsp_cons, cons, __ATOMIC_RELEASE);
}

static inline void cli_send_raw(struct cli *c, const void *buf, size_t len,
				bool kick)
{
	const uint8_t *p = buf;
	uint32_t prod = c->r->req_prod;
	int spins = 0;

	while (len) {
		uint32_t cons = __atomic_load_n(&c->r->req_cons,
						__ATOMIC_ACQUIRE);

		if (prod - cons == VPV_STORE_RING_SIZE) {
			__atomic_store_n(&c->r->req_prod, prod,
					 __ATOMIC_RELEASE);
			cli_kick(c);
			cli_pump(c);
			if (++spins > 100000)
				BAIL("store ring stuck");
			continue;
		}
		c->r->req[prod % VPV_STORE_RING_SIZE] = *p++;
		prod++;
		len--;
	}
	__atomic_store_n(&c->r->req_prod, prod, __ATOMIC_RELEASE);
	if (kick)
		cli_kick(c);
}

/* pop one message; false if none complete */
static inline bool cli_pop(struct cli *c, struct vpv_store_msg *h, char *pay)
{
	if (c->inlen < sizeof(*h))
		return false;
	memcpy(h, c->in, sizeof(*h));
	if (c->inlen < sizeof(*h) + h->len)
		return false;
	if (h->len > VPV_STORE_PAYLOAD_MAX) {
		/* a real guest refuses it; keep the first bytes */
		c->oversize++;
		memcpy(pay, c->in + sizeof(*h), VPV_STORE_PAYLOAD_MAX);
		pay[VPV_STORE_PAYLOAD_MAX] = '\0';
	} else {
		memcpy(pay, c->in + sizeof(*h), h->len);
		pay[h->len] = '\0';
	}
	memmove(c->in, c->in + sizeof(*h) + h->len,
		c->inlen - sizeof(*h) - h->len);
	c->inlen -= sizeof(*h) + h->len;
	return true;
}

static inline void cli_send(struct cli *c, uint32_t type, uint32_t tx,
			    const void *pay, uint32_t len)
{
	struct vpv_store_msg h = { type, ++c->req_id, tx, len };

	cli_send_raw(c, &h, sizeof(h), false);
	cli_send_raw(c, pay, len, true);
}

/* wait for the answer to the last request; events are counted */
static inline uint32_t cli_wait(struct cli *c, char *out, uint32_t *olen)
{
	static char pay[VPV_STORE_PAYLOAD_MAX + 64];
	struct vpv_store_msg h;
	int i;

	for (i = 0; i < 1000; i++) {
		cli_pump(c);
		while (cli_pop(c, &h, pay)) {
			if (h.type == VPV_STORE_WATCH_EVENT) {
				c->events++;
				c->last_event_len = h.len > VPV_STORE_PAYLOAD_MAX ?
						    VPV_STORE_PAYLOAD_MAX : h.len;
				memcpy(c->last_event, pay,
				       c->last_event_len + 1);
				continue;
			}
			if (h.req_id != c->req_id)
				continue;
			if (out)
				memcpy(out, pay, (h.len > VPV_STORE_PAYLOAD_MAX ?
						  VPV_STORE_PAYLOAD_MAX : h.len) + 1);
			if (olen)
				*olen = h.len;
			return h.type;
		}
		cli_kick(c);
	}
	return 0;
}

static inline uint32_t cli_call(struct cli *c, uint32_t type, uint32_t tx,
				const void *pay, uint32_t len, char *out,
				uint32_t *olen)
{
	cli_send(c, type, tx, pay, len);
	return cli_wait(c, out, olen);
}

static inline uint32_t cli_calls(struct cli *c, uint32_t type,
				 const char *s, char *out)
{
	return cli_call(c, type, 0, s, strlen(s) + 1, out, NULL);
}

#endif /* VPV_STORE_CLI_H */
