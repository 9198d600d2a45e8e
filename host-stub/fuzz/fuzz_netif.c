// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: vpv-netback's TX walk and checks (net_tx_check(),
 * backend/netback.c) over arbitrary TX ring contents.  The input is
 * the back-end's keys (5 bytes: feature-sg, -csum, -gso-tcpv4,
 * -gso-tcpv6, mtu 68 .. 9000), the number of slots up to req_prod (1
 * .. 512, a ring of 4 pages), then the slots as a front-end could
 * write them (16 bytes each; missing ones read as zero).  The slots
 * are walked packet by packet as vpv-netback walks its copy of the
 * ring, from a heap copy of exactly that many slots (ASan: no read
 * past req_prod).  Checked, per packet: the walk's slot count is the
 * chain of EXTRA_INFO / MORE and MORE_DATA followed independently, or
 * 0 exactly when that chain runs past req_prod (class P); the status
 * is one abi/vpv_netif.h documents, the one of its class; every slot
 * is answered exactly once, with its own id, a data slot with the
 * packet's status and an extra with VPV_NETIF_RSP_NULL; an accepted
 * packet obeys every rule of classes 1 to 6, re-checked here from the
 * slots.  And net_csum_fill() on the input's bytes makes a checksum
 * that holds; net_rx_queue() on the input's bytes as a frame (RX
 * steering: with a switch, another guest's) reads only them (a heap
 * copy of exactly that length) and names a queue below the count.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netback.h"

#define HDR_BYTES	7u

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_netif: %s (line %d)\n",	\
				#cond, __LINE__);			\
			abort();					\
		}							\
	} while (0)

static void limits(const uint8_t *d, struct net_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->sg = d[0] & 1;
	l->csum = d[0] & 2;
	/* as netback.c reads them: a GSO type only with csum */
	l->gso_tcpv4 = l->csum && (d[0] & 4);
	l->gso_tcpv6 = l->csum && (d[0] & 8);
	l->persistent_tx = d[0] & 16;
	l->mtu = VPV_NETIF_MIN_MTU +
		 (d[1] | d[2] << 8) % (VPV_NETIF_MAX_MTU - VPV_NETIF_MIN_MTU +
				       1);
}

/*
 * The chain from s[0]: slots it takes, or 0 if it runs past n; the
 * extras and data slots counted.
 */
static uint32_t chain(const union vpv_netif_tx_slot *s, uint32_t n,
		      uint32_t *extras, uint32_t *ndata)
{
	uint32_t j = 1;

	*extras = 0;
	*ndata = 1;
	if (s[0].req.flags & VPV_NETIF_TXF_EXTRA_INFO) {
		for (;;) {
			if (j >= n)
				return 0;
			(*extras)++;
			if (!(s[j++].extra.flags & VPV_NETIF_EXTRAF_MORE))
				break;
		}
	}
	if (s[0].req.flags & VPV_NETIF_TXF_MORE_DATA) {
		for (;;) {
			if (j >= n)
				return 0;
			(*ndata)++;
			if (!(s[j++].req.flags & VPV_NETIF_TXF_MORE_DATA))
				break;
		}
	}
	return j;
}

static bool status_of_class(const struct net_tx_pkt *p)
{
	switch (p->class) {
	case NET_TX_OK:
		return p->status == 0;
	case NET_TX_MALFORMED:
	case NET_TX_BAD_SLOT:
	case NET_TX_BAD_OFFLOAD:
		return p->status == -VPV_EINVAL;
	case NET_TX_NOT_OFFERED:
		return p->status == -VPV_EOPNOTSUPP;
	case NET_TX_TOO_MANY_SLOTS:
		return p->status == -VPV_E2BIG;
	case NET_TX_BAD_LENGTH:
		return p->status == -VPV_EINVAL || p->status == -VPV_E2BIG;
	default:		/* class 7 is the caller's, at map time */
		return false;
	}
}

/* An accepted packet: every rule of classes 1 to 6, from the slots. */
static void check_accepted(const union vpv_netif_tx_slot *s,
			   const struct net_tx_pkt *p,
			   const struct net_limits *l)
{
	const struct vpv_netif_tx_req *d0 = &s[0].req;
	bool blank = d0->flags & VPV_NETIF_TXF_CSUM_BLANK;
	uint32_t j, len = 0, gso = 0, gso_size = 0;

	/* class 1 */
	CHECK(!(d0->flags & ~VPV_NETIF_TXF_ALL));
	CHECK(!(blank && (d0->flags & VPV_NETIF_TXF_DATA_VALIDATED)));
	CHECK(blank || (!d0->csum_start && !d0->csum_offset));
	CHECK(p->nextras <= VPV_NETIF_MAX_EXTRAS);
	for (j = 1; j < p->nslots; j++) {
		const struct vpv_netif_extra *e = &s[j].extra;

		if (net_tx_is_data(p, j)) {
			CHECK(!(s[j].req.flags & ~(VPV_NETIF_TXF_MORE_DATA |
						   VPV_NETIF_TXF_PERSISTENT)));
			CHECK(!s[j].req.csum_start && !s[j].req.csum_offset);
			continue;
		}
		CHECK(e->type == VPV_NETIF_EXTRA_GSO);
		CHECK(!(e->flags & ~VPV_NETIF_EXTRAF_MORE));
		CHECK(!e->pad && !e->u.gso.pad && !e->u.gso.pad2);
		CHECK(e->u.gso.type == VPV_NETIF_GSO_TCPV4 ||
		      e->u.gso.type == VPV_NETIF_GSO_TCPV6);
		gso = e->u.gso.type;
		gso_size = e->u.gso.size;
	}
	CHECK(gso == p->gso_type && gso_size == p->gso_size);
	/* class 2 */
	CHECK(p->ndata == 1 || l->sg);
	CHECK(!blank || l->csum);
	CHECK(gso != VPV_NETIF_GSO_TCPV4 || (l->gso_tcpv4 && l->csum));
	CHECK(gso != VPV_NETIF_GSO_TCPV6 || (l->gso_tcpv6 && l->csum));
	for (j = 0; j < p->nslots; j++)
		CHECK(!net_tx_is_data(p, j) || l->persistent_tx ||
		      !(s[j].req.flags & VPV_NETIF_TXF_PERSISTENT));
	/* class 3 */
	CHECK(p->ndata >= 1 && p->ndata <= VPV_NETIF_MAX_SLOTS);
	/* class 4 */
	for (j = 0; j < p->nslots; j++) {
		const struct vpv_netif_tx_req *d = &s[j].req;

		if (!net_tx_is_data(p, j))
			continue;
		CHECK(d->size >= 1 && d->offset <= VPV_PAGE_SIZE - 1 &&
		      d->offset + d->size <= VPV_PAGE_SIZE);
		len += d->size;
	}
	/* class 5 */
	CHECK(len == p->len && len >= VPV_NETIF_MIN_FRAME);
	CHECK(gso ? len <= VPV_NETIF_MAX_PACKET :
		    len <= l->mtu + VPV_NETIF_HDR_MAX);
	/* class 6 */
	CHECK(!blank || (d0->csum_start >= VPV_NETIF_MIN_FRAME &&
			 d0->csum_start + d0->csum_offset + 2u <= len));
	CHECK(!gso || (blank && gso_size >= VPV_NETIF_MIN_GSO_SIZE &&
		       gso_size <= l->mtu));
}

/* The ones' complement sum of b[start .. len), folded. */
static uint32_t sum16(const uint8_t *b, uint32_t start, uint32_t len)
{
	uint32_t i, sum = 0;

	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (i < len)
		sum += (uint32_t)b[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * net_csum_fill() over the input's bytes: the field's old content is
 * the seed (the pseudo header's sum a sender leaves there), so the
 * filled bytes' sum plus the seed's holds (0xffff), and the checksum
 * stored is never 0.
 */
static void check_csum(const uint8_t *d, size_t size)
{
	uint8_t buf[512], seed[512];
	uint32_t len, start, off, sum;

	if (size < 4)
		return;
	len = size - 3 < sizeof(buf) ? size - 3 : sizeof(buf);
	start = d[0] % len;
	off = d[1] % len;
	if (start + off + 2 > len)
		return;
	memcpy(buf, d + 3, len);
	memset(seed, 0, len);
	memcpy(seed + start + off, buf + start + off, 2);
	net_csum_fill(buf, len, start, off);
	sum = sum16(buf, start, len) + sum16(seed, start, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	CHECK(sum == 0xffff);
	CHECK(buf[start + off] | buf[start + off + 1]);
}

/* The flow hash over the input as a frame: within it, a queue < nq. */
static void check_steer(const uint8_t *d, size_t size)
{
	uint32_t len = size < 200 ? size : 200, nq;
	uint8_t *f = malloc(len ? len : 1);

	if (!f)
		return;
	memcpy(f, d, len);
	for (nq = 1; nq <= VPV_NETIF_MAX_QUEUES; nq++)
		CHECK(net_rx_queue(f, len, nq) < nq);
	CHECK(net_rx_queue(f, len, 1) == 0);
	free(f);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static uint8_t answered[NET_RING_MAX];
	union vpv_netif_tx_slot *s;
	struct vpv_netif_tx_rsp r;
	uint32_t n, pos, len, j, ext, nd, want;
	struct net_limits l;
	struct net_tx_pkt p;
	size_t have;

	if (size < HDR_BYTES)
		return 0;
	check_csum(data, size);
	check_steer(data, size);
	limits(data, &l);
	n = 1 + (data[3] | data[4] << 8) % NET_RING_MAX;
	data += HDR_BYTES;
	size -= HDR_BYTES;
	/* exactly n slots on the heap: a read past req_prod is an ASan error */
	s = calloc(n, sizeof(*s));
	if (!s)
		return 0;
	have = size < n * sizeof(*s) ? size : n * sizeof(*s);
	memcpy(s, data, have);
	memset(answered, 0, sizeof(answered));
	for (pos = 0; pos < n; pos += len) {
		len = net_tx_check(&s[pos], n - pos, &l, &p);
		want = chain(&s[pos], n - pos, &ext, &nd);
		CHECK(len == want);
		if (!len)
			break;		/* class P: the rest is not looked at */
		CHECK(p.nslots == len && p.nextras == ext && p.ndata == nd);
		CHECK(p.nextras + p.ndata == p.nslots);
		CHECK(status_of_class(&p));
		for (j = 0; j < len; j++) {
			r = net_tx_rsp(&s[pos], &p, j);
			CHECK(r.id == s[pos + j].req.id);
			CHECK(net_tx_is_data(&p, j) ?
			      r.status == p.status :
			      r.status == VPV_NETIF_RSP_NULL);
			CHECK(!answered[pos + j]);
			answered[pos + j] = 1;
		}
		if (!p.status)
			check_accepted(&s[pos], &p, &l);
	}
	/* every slot of the packets walked: answered once */
	for (j = 0; j < pos && j < n; j++)
		CHECK(answered[j] == 1);
	free(s);
	return 0;
}
