// SPDX-License-Identifier: GPL-2.0
/*
 * vif back-end (abi/vpv_netif.h, Documentation/netif.rst), run in its
 * own process (belib.c) as vpv-netback, or in-process for the tests
 * (be_inproc.c).
 *
 * The host side is a tap the core opened (src/devices/vif.c) and
 * passed in INIT: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, non-blocking,
 * every frame behind a 10-byte struct virtio_net_hdr.  init() checks
 * it before the sandbox and lets the process read and write it and
 * change its offloads (TUNSETOFFLOAD), nothing else.
 *
 * connect() reads and checks every key of both ends first (the
 * "Front-end keys" refusals), tells the tap which offloads the
 * front-end takes on RX (TUNSETOFFLOAD: the host kernel then
 * checksums and segments the rest itself), maps each queue's TX and
 * RX ring pages and binds each queue's port.
 *
 * TX (event(), on a kick): per turn the slots up to req_prod are
 * copied once from the ring, walked and checked packet by packet on
 * that copy (net_tx_check(), classes 1 to 6), the grants of a batch
 * of packets mapped read-only in one GRANT_MAP (class 7), each
 * accepted packet copied into our own buffer behind a virtio_net_hdr
 * and written to the tap (writev), the batch unmapped and every slot
 * answered; the unmap barrier comes before the responses are pushed.
 * A slot flagged VPV_NETIF_TXF_PERSISTENT (feature-persistent-tx: one
 * of the front-end's TX buffers, granted for the connection) is kept
 * mapped from its first use, in the table of the persistent RX buffers
 * (map_kept()): a batch of such slots alone makes no GRANT_MAP, unmap
 * or SYNC, which is what a small packet (a TCP ACK, a request of a
 * request/response exchange) cost most.
 * With a rate (--rate, struct be_vif_init), each accepted packet costs
 * its bytes of a credit refilled every BE_VIF_CREDIT_MS, as Xen
 * netback's credit scheduler: the walk stops before the first packet
 * that does not fit, leaving it and what follows on the ring (the
 * guest's queue backs up: nothing is dropped), and the timer resumes
 * it at the next refill.
 *
 * RX (complete(), the tap readable or the backlog's timer): frames
 * are read into a queue's backlog, the queue picked by a hash of the
 * frame's flow (net_rx_queue(): one TCP connection, one queue), each
 * backlog bounded by VPV_NETIF_RX_BACKLOG_MAX bytes
 * and VPV_NETIF_RX_DRAIN_MS of age (XSA-392), each checked and
 * prepared for the front-end's features when read; a packet is
 * delivered whole once enough buffers are posted: the buffers of a
 * batch mapped writable in one GRANT_MAP, the packet copied, the
 * buffers unmapped, then all its responses pushed at once.  With
 * feature-persistent on both ends (netif.rst, "Persistent RX
 * buffers") a buffer's grant stays mapped once mapped (up to
 * BE_VIF_PERSISTENT_MAX a device, until the disconnect): a batch whose
 * buffers are all kept makes no GRANT_MAP, unmap or SYNC.  The
 * guest's RX features decide what the host kernel may hand over
 * (TUNSETOFFLOAD at connect); what still does not fit is checksummed
 * here or dropped and counted.
 *
 * On a switch (--switch, BE_VIF_SWITCH) the fd is a port instead: an
 * AF_UNIX SOCK_SEQPACKET socket whose other end is vpv-netswitch's
 * (src/devices/vswitch.c), one packet per frame with the same vnet
 * header, read and written alike; no TUNSETOFFLOAD, so a frame may
 * carry what the front-end does not take: a partial checksum is filled
 * (rx_prepare()), a GSO TCP frame segmented (rx_soft_gso(),
 * net_gso_segment()).
 *
 * Guest RAM (the rings, the frames) is touched under be_guard() only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "vpv_abi.h"
#include "vpv_util.h"
#include "vpv_ring.h"
#include "belib.h"
#include "netback.h"

#define ENT_SIZE	16u	/* both rings' entries (abi/vpv_netif.h) */
#define RING_PAGES_MAX	(1u << VPV_NETIF_MAX_RING_ORDER)
#define VNET_HDR	sizeof(struct virtio_net_hdr)
/*
 * Queues served: up to VPV_NETIF_MAX_QUEUES (the core lets a vif's
 * process bind a port per queue, BE_PORTS_MAX), as many as its
 * front-end asks within the "multi-queue-max-queues" key vif.c wrote.
 */
static_assert(VPV_NETIF_MAX_QUEUES <= BE_PORTS_MAX, "a port per queue");
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static_assert(VNET_HDR == 10, "the tap's vnet header (vif.c)");
/* the persistent grants' hash: at most half full, a power of two */
#define NET_PHASH	(2 * BE_VIF_PERSISTENT_MAX)
#define NO_SLOT		0xffffu		/* an empty bucket */
static_assert(BE_VIF_PERSISTENT_MAX < NO_SLOT, "slots fit in 16 bits");
static_assert((NET_PHASH & (NET_PHASH - 1)) == 0, "NET_PHASH: 2^k");
/* the largest ring: (4 x 4096 - 64) / 16 rounded down to a power of 2 */
static_assert(NET_RING_MAX * ENT_SIZE <= RING_PAGES_MAX * VPV_PAGE_SIZE -
	      sizeof(struct vpv_ring_hdr) &&
	      2 * NET_RING_MAX * ENT_SIZE > RING_PAGES_MAX * VPV_PAGE_SIZE -
	      sizeof(struct vpv_ring_hdr), "the largest ring");

struct net_ring {
	struct be_gmap pages[RING_PAGES_MAX];
	uint32_t npages;
	struct vpv_back_ring br;
};

/* A frame read from the tap, checked and prepared for the guest. */
struct net_rxpkt {
	struct net_rxpkt *next;
	uint64_t t_ms;		/* read then (its age: the drain bound) */
	uint32_t len;		/* frame bytes, after the vnet header */
	uint32_t charge;	/* counted against the backlog */
	uint32_t ndata;		/* data slots it needs */
	uint32_t need;		/* buffers: data slots and its extra */
	uint16_t flags;		/* slot 0's VPV_NETIF_RXF_* */
	uint16_t csum_start, csum_offset;
	uint16_t gso_size;
	uint8_t gso_type;	/* VPV_NETIF_GSO_*, 0: none */
	uint8_t buf[];		/* the vnet header, then the frame */
};

struct net_queue {
	struct net_ring tx, rx;
	/* rung for its answers: a per-CPU vector or VPV_VEC_EVTCHN */
	uint32_t vector;
	uint32_t port;
	bool notify;		/* responses written: push both rings */
	/* RX answers of this turn whose buffer was unmapped (not kept) */
	bool rx_unmapped;
	/* TX stopped for credit: its packet waits on the ring (timer) */
	bool rate_wait;
	/* RX buffers taken off the ring, checked, not answered yet */
	struct vpv_netif_rx_req held[NET_RING_MAX];
	uint32_t nheld;
	/* frames waiting for buffers, oldest first */
	struct net_rxpkt *head, **tail;
	uint32_t bl_packets;
	uint64_t bl_bytes;
};

/* A TX packet of the batch being served. */
struct tx_item {
	struct net_tx_pkt p;
	uint32_t pos;		/* its slot 0 in the copy */
	uint32_t map0;		/* its first map in the batch */
};

struct net {
	struct be_dev *bd;
	int tap;		/* the tap, or a switch port (sw) */
	bool sw;		/* BE_VIF_SWITCH: a socket, no TUNSETOFFLOAD */
	bool connected;
	struct net_limits lim;	/* the back-end's keys: TX checks */
	struct net_limits fe;	/* the front-end's RX features */
	uint32_t nq;
	struct net_queue q[VPV_NETIF_MAX_QUEUES];
	/* the one copy of a TX ring's slots, and their answers */
	union vpv_netif_tx_slot txcopy[NET_RING_MAX];
	struct vpv_netif_tx_rsp txrsp[NET_RING_MAX];
	struct tx_item items[NET_TX_BUDGET];
	struct be_gmap maps[BE_MAP_BATCH];
	/* maps[i] is a persistent grant's (not unmapped after) */
	bool kept[BE_MAP_BATCH];
	/* TX: maps[i]'s slot is flagged PERSISTENT (may be kept) */
	bool keep[BE_MAP_BATCH];
	struct be_gmap miss[BE_MAP_BATCH];	/* the ones to map */
	/* feature-persistent on both ends: RX buffers' grants kept */
	bool persistent;
	/* kept maps: RX buffers' (writable), TX buffers' (read-only) */
	struct be_gmap pg[BE_VIF_PERSISTENT_MAX];
	uint32_t npg;
	uint16_t phash[NET_PHASH];	/* index into pg, NO_SLOT: empty */
	uint8_t *txbuf;		/* a TX packet's bytes */
	struct be_net_stats st;	/* counters since the last report */
	uint64_t answered, refused;	/* be_count() */
	uint64_t last_bl_packets, last_bl_bytes;	/* gauges reported */
	uint64_t last_npg;
	/* TX credit (--rate): Xen netback's credit_bytes, remaining_credit */
	uint64_t credit_bytes;	/* per BE_VIF_CREDIT_MS; 0: no limit */
	uint64_t credit;	/* left until the next refill */
	uint64_t next_credit_ms;	/* the next refill, now_ms() */
	bool unmapped;		/* unmaps since the last barrier */
	bool tx_wrote;		/* this turn wrote to the tap */
};

static uint64_t now_ms(void)
{
	return be_now_ns() / 1000000;
}

/* ---- the TX checks (netback.h) ---- */

static bool extra_pads_zero(const struct vpv_netif_extra *e)
{
	return !e->pad && (e->type != VPV_NETIF_EXTRA_GSO ||
			   (!e->u.gso.pad && !e->u.gso.pad2));
}

/* Class 1: flags, checksum fields, extras.  true: well formed. */
static bool tx_well_formed(const union vpv_netif_tx_slot *s,
			   const struct net_tx_pkt *p)
{
	const struct vpv_netif_tx_req *d0 = &s[0].req;
	uint32_t seen = 0, j;

	if (d0->flags & ~VPV_NETIF_TXF_ALL)
		return false;
	if ((d0->flags & VPV_NETIF_TXF_CSUM_BLANK) &&
	    (d0->flags & VPV_NETIF_TXF_DATA_VALIDATED))
		return false;
	if (!(d0->flags & VPV_NETIF_TXF_CSUM_BLANK) &&
	    (d0->csum_start || d0->csum_offset))
		return false;
	if (p->nextras > VPV_NETIF_MAX_EXTRAS)
		return false;
	for (j = 1; j < p->nslots; j++) {
		const struct vpv_netif_extra *e = &s[j].extra;
		const struct vpv_netif_tx_req *d = &s[j].req;

		if (net_tx_is_data(p, j)) {
			if ((d->flags & ~(VPV_NETIF_TXF_MORE_DATA |
					  VPV_NETIF_TXF_PERSISTENT)) ||
			    d->csum_start || d->csum_offset)
				return false;
			continue;
		}
		if (!e->type || e->type >= VPV_NETIF_EXTRA_MAX ||
		    (e->flags & ~VPV_NETIF_EXTRAF_MORE) ||
		    !extra_pads_zero(e) || (seen & (1u << e->type)))
			return false;
		seen |= 1u << e->type;
		if (e->type == VPV_NETIF_EXTRA_GSO &&
		    e->u.gso.type != VPV_NETIF_GSO_TCPV4 &&
		    e->u.gso.type != VPV_NETIF_GSO_TCPV6)
			return false;
	}
	return true;
}

/* Class 2: a feature the back-end does not offer now. */
static bool tx_offered(const struct net_tx_pkt *p, const struct net_limits *l)
{
	if (p->ndata > 1 && !l->sg)
		return false;
	if ((p->flags & VPV_NETIF_TXF_CSUM_BLANK) && !l->csum)
		return false;
	if (p->persistent && !l->persistent_tx)
		return false;
	if (p->gso_type == VPV_NETIF_GSO_TCPV4 && !l->gso_tcpv4)
		return false;
	return p->gso_type != VPV_NETIF_GSO_TCPV6 || l->gso_tcpv6;
}

/* Class 4: every data slot inside its frame, not empty. */
static bool tx_slots_ok(const union vpv_netif_tx_slot *s,
			const struct net_tx_pkt *p)
{
	uint32_t j;

	for (j = 0; j < p->nslots; j++) {
		const struct vpv_netif_tx_req *d = &s[j].req;

		if (!net_tx_is_data(p, j))
			continue;
		if (!d->size || d->offset >= VPV_PAGE_SIZE ||
		    d->offset + d->size > VPV_PAGE_SIZE)
			return false;
	}
	return true;
}

/* Class 5: 0 or the status. */
static int32_t tx_length(const struct net_tx_pkt *p,
			 const struct net_limits *l)
{
	if (p->len < VPV_NETIF_MIN_FRAME)
		return -VPV_EINVAL;
	if (p->gso_type ? p->len > VPV_NETIF_MAX_PACKET :
			  p->len > l->mtu + VPV_NETIF_HDR_MAX)
		return -VPV_E2BIG;
	return 0;
}

/* Class 6: the offload fields against the length and the mtu. */
static bool tx_offload_ok(const struct net_tx_pkt *p,
			  const struct net_limits *l)
{
	bool blank = p->flags & VPV_NETIF_TXF_CSUM_BLANK;

	if (blank && (p->csum_start < VPV_NETIF_MIN_FRAME ||
		      (uint32_t)p->csum_start + p->csum_offset + 2 > p->len))
		return false;
	if (p->gso_type && (!blank || p->gso_size < VPV_NETIF_MIN_GSO_SIZE ||
			    p->gso_size > l->mtu))
		return false;
	return true;
}

static void tx_fail(struct net_tx_pkt *p, enum net_tx_class c, int32_t st)
{
	p->class = c;
	p->status = st;
}

uint32_t net_tx_check(const union vpv_netif_tx_slot *s, uint32_t n,
		      const struct net_limits *l, struct net_tx_pkt *p)
{
	const struct vpv_netif_tx_req *d0 = &s[0].req;
	uint32_t j = 1;
	int32_t st;

	memset(p, 0, sizeof(*p));
	if (!n)
		return 0;
	/* the walk: extras while MORE, then data slots while MORE_DATA */
	if (d0->flags & VPV_NETIF_TXF_EXTRA_INFO) {
		do {
			if (j >= n)
				return 0;
			p->nextras++;
		} while (s[j++].extra.flags & VPV_NETIF_EXTRAF_MORE);
	}
	p->ndata = 1;
	if (d0->flags & VPV_NETIF_TXF_MORE_DATA) {
		do {
			if (j >= n)
				return 0;
			p->ndata++;
		} while (s[j++].req.flags & VPV_NETIF_TXF_MORE_DATA);
	}
	p->nslots = j;
	p->flags = d0->flags;
	p->csum_start = d0->csum_start;
	p->csum_offset = d0->csum_offset;
	for (j = 0; j < p->nslots; j++)
		if (net_tx_is_data(p, j) &&
		    (s[j].req.flags & VPV_NETIF_TXF_PERSISTENT))
			p->persistent = true;
	for (j = 1; j <= p->nextras; j++) {
		if (s[j].extra.type != VPV_NETIF_EXTRA_GSO)
			continue;
		p->gso_type = s[j].extra.u.gso.type;
		p->gso_size = s[j].extra.u.gso.size;
	}
	if (!tx_well_formed(s, p)) {
		tx_fail(p, NET_TX_MALFORMED, -VPV_EINVAL);
		return p->nslots;
	}
	if (!tx_offered(p, l)) {
		tx_fail(p, NET_TX_NOT_OFFERED, -VPV_EOPNOTSUPP);
		return p->nslots;
	}
	if (p->ndata > VPV_NETIF_MAX_SLOTS) {
		tx_fail(p, NET_TX_TOO_MANY_SLOTS, -VPV_E2BIG);
		return p->nslots;
	}
	if (!tx_slots_ok(s, p)) {
		tx_fail(p, NET_TX_BAD_SLOT, -VPV_EINVAL);
		return p->nslots;
	}
	/* at most 18 sizes of at most 4096: no overflow */
	for (j = 0; j < p->nslots; j++)
		if (net_tx_is_data(p, j))
			p->len += s[j].req.size;
	st = tx_length(p, l);
	if (st) {
		tx_fail(p, NET_TX_BAD_LENGTH, st);
		return p->nslots;
	}
	if (!tx_offload_ok(p, l))
		tx_fail(p, NET_TX_BAD_OFFLOAD, -VPV_EINVAL);
	return p->nslots;
}

void net_csum_fill(uint8_t *buf, uint32_t len, uint32_t start, uint32_t off)
{
	uint64_t sum = 0;
	uint32_t i;
	uint16_t c;

	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)buf[i] << 8 | buf[i + 1];
	if (i < len)			/* an odd byte: padded with zero */
		sum += (uint32_t)buf[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = ~sum & 0xffff;
	if (!c)
		c = 0xffff;		/* 0 means "none" to UDP */
	/*
	 * Network order at an even distance from start; at an odd one
	 * (no real protocol's) its bytes fall in two words of the sum,
	 * swapped: store it swapped, so the sum still holds.
	 */
	if (off & 1)
		c = (uint16_t)(c << 8 | c >> 8);
	buf[start + off] = c >> 8;
	buf[start + off + 1] = c & 0xff;
}

/* ---- software TCP segmentation (netback.h) ---- */

static uint32_t sum_bytes(const uint8_t *b, uint32_t len, uint32_t s)
{
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (i < len)
		s += (uint32_t)b[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (v >> 8) & 0xff;
	p[1] = v & 0xff;
}

static uint32_t get_be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/* TCP's flags byte (offset 13 of its header) */
#define TCP_FIN		0x01
#define TCP_PSH		0x08
#define TCP_CWR		0x80

int net_gso_segment(const uint8_t *frame, uint32_t len, uint8_t gso_type,
		    uint16_t gso_size,
		    void (*emit)(void *ctx, const uint8_t *seg, uint32_t seglen),
		    void *ctx)
{
	static uint8_t seg[NET_FRAME_MAX];
	uint32_t l3 = 14, l4, hl, pay, off, n, k, sum, seq, id = 0;
	uint32_t type, tl;
	bool v4;

	/* the segment count's bound (NET_GSO_SEGS_MAX) needs the minimum */
	if (len < l3 || len > NET_FRAME_MAX ||
	    gso_size < VPV_NETIF_MIN_GSO_SIZE)
		return -EINVAL;
	type = get_be16(frame + 12);
	v4 = type == 0x0800;
	if (!v4 && type != 0x86dd)
		return -EINVAL;
	if (gso_type != (v4 ? VPV_NETIF_GSO_TCPV4 : VPV_NETIF_GSO_TCPV6))
		return -EINVAL;
	if (v4) {
		if (len < l3 + 20 || frame[l3] >> 4 != 4 || frame[l3 + 9] != 6)
			return -EINVAL;
		l4 = l3 + (frame[l3] & 0xf) * 4u;
		id = get_be16(frame + l3 + 4);
	} else {
		if (len < l3 + 40 || frame[l3] >> 4 != 6 || frame[l3 + 6] != 6)
			return -EINVAL;
		l4 = l3 + 40;
	}
	if (l4 < l3 + 20 || len < l4 + 20)
		return -EINVAL;
	hl = l4 + (frame[l4 + 12] >> 4) * 4u;
	if (hl < l4 + 20 || hl >= len)
		return -EINVAL;
	pay = len - hl;
	seq = (uint32_t)get_be16(frame + l4 + 4) << 16 |
	      get_be16(frame + l4 + 6);
	for (off = 0, k = 0; off < pay; off += n, k++) {
		n = pay - off < gso_size ? pay - off : gso_size;
		memcpy(seg, frame, hl);
		memcpy(seg + hl, frame + hl + off, n);
		tl = hl + n;
		if (v4) {
			put_be16(seg + l3 + 2, tl - l3);
			put_be16(seg + l3 + 4, (id + k) & 0xffff);
			put_be16(seg + l3 + 10, 0);
			put_be16(seg + l3 + 10,
				 ~sum_bytes(seg + l3, l4 - l3, 0) & 0xffff);
		} else {
			put_be16(seg + l3 + 4, tl - l4);
		}
		put_be16(seg + l4 + 4, (seq + off) >> 16);
		put_be16(seg + l4 + 6, (seq + off) & 0xffff);
		if (off + n < pay)
			seg[l4 + 13] &= ~(TCP_FIN | TCP_PSH);
		if (k)
			seg[l4 + 13] &= ~TCP_CWR;
		/* the pseudo-header, then the segment: a full checksum */
		sum = v4 ? sum_bytes(seg + l3 + 12, 8, 0) :
			   sum_bytes(seg + l3 + 8, 32, 0);
		sum += 6 + (tl - l4);
		put_be16(seg + l4 + 16, 0);
		sum = sum_bytes(seg + l4, tl - l4, sum);
		put_be16(seg + l4 + 16, ~sum & 0xffff);
		emit(ctx, seg, tl);
	}
	return (int)k;
}

/* ---- RX steering (netback.h) ---- */

/* ETH_P_* from <linux/if_ether.h> (through if_tun.h) */
#define IPV6_HDR_LEN	40u	/* the fixed header */

static uint32_t be16_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 8 | b[1];
}

/* FNV-1a over n bytes, from h */
static uint32_t fnv1a(uint32_t h, const uint8_t *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

/* Protocols whose first 4 bytes are the source and destination ports. */
static bool has_ports(uint8_t proto)
{
	/* TCP, UDP, SCTP, UDP-Lite */
	return proto == 6 || proto == 17 || proto == 132 || proto == 136;
}

uint32_t net_flow_hash(const uint8_t *f, uint32_t len)
{
	uint32_t off = 12, type, ihl, h = 2166136261u;
	const uint8_t *ip;
	uint8_t proto;

	if (len < off + 2)
		return 0;
	type = be16_at(f + off);
	if (type == ETH_P_8021Q) {
		off += 4;
		if (len < off + 2)
			return 0;
		type = be16_at(f + off);
	}
	off += 2;
	ip = f + off;
	if (type == ETH_P_IP) {
		if (len < off + 20 || ip[0] >> 4 != 4)
			return 0;
		ihl = (ip[0] & 0xf) * 4u;
		if (ihl < 20)
			return 0;
		proto = ip[9];
		h = fnv1a(h, ip + 12, 8);	/* source, destination */
		h = fnv1a(h, &proto, 1);
		/* ports: not in a fragment (offset or MF set), if there */
		if (has_ports(proto) && !(be16_at(ip + 6) & 0x3fff) &&
		    len >= off + ihl + 4)
			h = fnv1a(h, ip + ihl, 4);
	} else if (type == ETH_P_IPV6) {
		if (len < off + IPV6_HDR_LEN || ip[0] >> 4 != 6)
			return 0;
		proto = ip[6];
		h = fnv1a(h, ip + 8, 32);	/* source, destination */
		h = fnv1a(h, &proto, 1);
		/* extension headers are not walked: addresses only then */
		if (has_ports(proto) && len >= off + IPV6_HDR_LEN + 4)
			h = fnv1a(h, ip + IPV6_HDR_LEN, 4);
	} else {
		return 0;
	}
	/* a final mix (murmur3's fmix32): FNV's low bits alone are weak */
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h ?: 1;
}

uint32_t net_rx_queue(const uint8_t *frame, uint32_t len, uint32_t nq)
{
	if (nq <= 1)
		return 0;
	return net_flow_hash(frame, len) % nq;
}

/* ---- guest RAM: the rings ---- */

struct ring_io {
	struct net_ring *r;
	uint32_t idx;		/* the first entry (free-running) */
	uint32_t cnt;		/* entries */
	void *buf;		/* cnt items of size bytes */
	uint32_t size;		/* bytes of each item (<= ENT_SIZE) */
	bool put;		/* buf -> ring, else ring -> buf */
};

static void ring_io_fn(void *arg)
{
	struct ring_io *a = arg;
	uint8_t *b = a->buf;
	uint32_t i;

	for (i = 0; i < a->cnt; i++, b += a->size) {
		uint64_t off = sizeof(struct vpv_ring_hdr) +
			       (uint64_t)((a->idx + i) &
					  (a->r->br.nr_ents - 1)) * ENT_SIZE;
		/* entries never straddle a page (4096 - 64 is 16 x 252) */
		uint8_t *e = a->r->pages[off / VPV_PAGE_SIZE].ptr +
			     off % VPV_PAGE_SIZE;

		if (a->put)
			memcpy(e, b, a->size);
		else
			memcpy(b, e, a->size);
	}
}

/* Copy cnt entries from / to the ring at idx (guarded): 0 or -EPROTO. */
static int ring_io(struct be_dev *bd, struct net_ring *r, uint32_t idx,
		   uint32_t cnt, void *buf, uint32_t size, bool put)
{
	struct ring_io a = { r, idx, cnt, buf, size, put };

	if (!cnt)
		return 0;
	return be_guard(bd, ring_io_fn, &a) ? -EPROTO : 0;
}

enum ring_cmd { RC_UNCONSUMED, RC_FINAL, RC_PUSH };

struct ring_args {
	struct net_ring *r;
	enum ring_cmd cmd;
	long ret;
};

static void ring_fn(void *arg)
{
	struct ring_args *a = arg;

	if (a->cmd == RC_UNCONSUMED)
		a->ret = vpv_back_unconsumed_requests(&a->r->br);
	else if (a->cmd == RC_FINAL)
		a->ret = vpv_back_final_check_requests(&a->r->br);
	else
		a->ret = vpv_back_push_responses(&a->r->br);
}

/* The vpv_ring.h helper's result; -1 on a bad index or a fault. */
static long ring_op(struct be_dev *bd, struct net_ring *r, enum ring_cmd cmd)
{
	struct ring_args a = { r, cmd, 0 };

	if (be_guard(bd, ring_fn, &a))
		return -1;
	return a.ret;
}

/* Requests on r now, asking for a kick at the next if none: or -1. */
static long ring_avail(struct be_dev *bd, struct net_ring *r, bool final)
{
	long n = ring_op(bd, r, RC_UNCONSUMED);

	if (!n && final)
		n = ring_op(bd, r, RC_FINAL);
	return n;
}

/* ---- grant maps, timed ---- */

/* Map cnt entries of m (each's status set; a failed call: all). */
static void map_list(struct net *n, struct be_gmap *m, uint32_t cnt)
{
	uint64_t t = be_now_ns();
	uint32_t i;

	if (!cnt)
		return;
	if (be_grant_map(n->bd, m, cnt))
		for (i = 0; i < cnt; i++) {
			m[i].status = -VPV_EPERM;
			m[i].ptr = NULL;
		}
	n->st.map_calls++;
	n->st.map_ns += be_now_ns() - t;
}

/* ---- persistent RX grants (feature-persistent) ---- */

static uint32_t phash_of(uint32_t ref)
{
	return (ref * 2654435761u) & (NET_PHASH - 1);	/* Knuth's */
}

/* The kept map of ref, or NULL. */
static const struct be_gmap *pg_find(const struct net *n, uint32_t ref)
{
	uint32_t h = phash_of(ref), i;

	for (i = 0; i < NET_PHASH; i++, h = (h + 1) & (NET_PHASH - 1)) {
		uint16_t s = n->phash[h];

		if (s == NO_SLOT)
			return NULL;
		if (n->pg[s].ref == ref)
			return &n->pg[s];
	}
	return NULL;
}

/*
 * Keep m until the disconnect: an RX buffer's writable map with
 * feature-persistent on both ends, a TX buffer's read-only one with
 * feature-persistent-tx.  false: not kept (no feature, full, or its
 * ref kept already: a ref twice in one batch, the second map is
 * unmapped after the batch as without the feature).
 */
static bool pg_add(struct net *n, const struct be_gmap *m)
{
	uint32_t h = phash_of(m->ref);

	if (!(m->write ? n->persistent : n->lim.persistent_tx) ||
	    n->npg >= BE_VIF_PERSISTENT_MAX || pg_find(n, m->ref))
		return false;
	while (n->phash[h] != NO_SLOT)	/* at most half full: ends */
		h = (h + 1) & (NET_PHASH - 1);
	n->pg[n->npg] = *m;
	n->phash[h] = n->npg++;
	return true;
}

/* Unmap every kept grant (the disconnect, a new connect). */
static void pg_clear(struct net *n)
{
	uint32_t i, k;

	for (i = 0; i < n->npg; i += k) {
		k = n->npg - i < BE_MAP_BATCH ? n->npg - i : BE_MAP_BATCH;
		be_grant_unmap(n->bd, &n->pg[i], k);
	}
	n->npg = 0;
	memset(n->phash, 0xff, sizeof(n->phash));
}

/*
 * Map n->maps[0 .. cnt) (refs set, write as wanted): each one that
 * keep[i] allows and a kept grant serves (RX: a writable one) taken as
 * it is, the others in one GRANT_MAP, then kept where keep[i], the
 * feature and the room allow (pg_add()).  n->kept[i]: not to unmap.
 */
static void map_kept(struct net *n, uint32_t cnt, const bool *keep)
{
	uint32_t i, k;

	for (i = 0, k = 0; i < cnt; i++) {
		const struct be_gmap *p = keep[i] ?
					  pg_find(n, n->maps[i].ref) : NULL;

		if (p && n->maps[i].write && !p->write)
			p = NULL;	/* read-only: never an RX buffer's */
		n->kept[i] = p;
		if (p) {
			n->maps[i] = *p;
			continue;
		}
		n->miss[k++] = n->maps[i];
	}
	map_list(n, n->miss, k);
	for (i = 0, k = 0; i < cnt; i++) {
		if (n->kept[i])
			continue;
		n->maps[i] = n->miss[k++];
		if (keep[i] && !n->maps[i].status && pg_add(n, &n->maps[i]))
			n->kept[i] = true;
	}
}

/*
 * Unmap n->maps[0 .. cnt) but the kept ones.  Returns whether any was
 * unmapped (the answers then wait for a SYNC: be_unmap_barrier()).
 */
static bool unmap_unkept(struct net *n, uint32_t cnt)
{
	bool any = false;
	uint32_t i;

	for (i = 0; i < cnt; i++) {
		if (n->kept[i])
			n->maps[i].ptr = NULL;
		else if (!n->maps[i].status)
			any = true;
	}
	be_grant_unmap(n->bd, n->maps, cnt);
	return any;
}

/* ---- TX ---- */

struct tx_copy {
	struct net *n;
	const struct tx_item *it;
};

/* The packet's bytes out of the guest's frames into n->txbuf. */
static void tx_copy_fn(void *arg)
{
	struct tx_copy *a = arg;
	const struct tx_item *it = a->it;
	const union vpv_netif_tx_slot *s = &a->n->txcopy[it->pos];
	uint32_t j, k = 0, off = 0;

	for (j = 0; j < it->p.nslots; j++) {
		const struct vpv_netif_tx_req *d = &s[j].req;

		if (!net_tx_is_data(&it->p, j))
			continue;
		/* offset and size from the copy, checked (class 4) */
		memcpy(a->n->txbuf + off,
		       a->n->maps[it->map0 + k++].ptr + d->offset, d->size);
		off += d->size;
	}
}

/* Hand an accepted packet (in n->txbuf) to the tap. */
static void tx_write(struct net *n, const struct net_tx_pkt *p)
{
	struct virtio_net_hdr h;
	struct iovec iov[2] = { { &h, sizeof(h) }, { n->txbuf, p->len } };

	memset(&h, 0, sizeof(h));
	if (p->flags & VPV_NETIF_TXF_CSUM_BLANK) {
		h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h.csum_start = p->csum_start;
		h.csum_offset = p->csum_offset;
	} else if (p->flags & VPV_NETIF_TXF_DATA_VALIDATED) {
		h.flags = VIRTIO_NET_HDR_F_DATA_VALID;	/* a hint */
	}
	if (p->gso_type) {
		h.gso_type = p->gso_type == VPV_NETIF_GSO_TCPV4 ?
			     VIRTIO_NET_HDR_GSO_TCPV4 :
			     VIRTIO_NET_HDR_GSO_TCPV6;
		h.gso_size = p->gso_size;
		/* hdr_len 0: the host kernel finds the headers itself */
	}
	n->tx_wrote = true;
	/* down, no room, or headers the host kernel refuses: a NIC's drop */
	if (writev(n->tap, iov, 2) != (ssize_t)(sizeof(h) + p->len))
		n->st.tx_host_dropped++;
}

static void tx_count(struct net *n, const struct net_tx_pkt *p)
{
	uint64_t *c[] = {
		[NET_TX_OK] = &n->st.tx_packets,
		[NET_TX_MALFORMED] = &n->st.tx_malformed,
		[NET_TX_NOT_OFFERED] = &n->st.tx_not_offered,
		[NET_TX_TOO_MANY_SLOTS] = &n->st.tx_too_many_slots,
		[NET_TX_BAD_SLOT] = &n->st.tx_bad_slot,
		[NET_TX_BAD_LENGTH] = &n->st.tx_bad_length,
		[NET_TX_BAD_OFFLOAD] = &n->st.tx_bad_offload,
		[NET_TX_BAD_GRANT] = &n->st.tx_bad_grant,
	};

	(*c[p->class])++;
	if (p->class == NET_TX_OK)
		n->st.tx_bytes += p->len;
	if (p->class == NET_TX_NOT_OFFERED)
		n->refused++;
	n->answered++;
}

/*
 * Whether an accepted packet of len bytes may go now, as Xen netback's
 * tx_credit_exceeded() and tx_add_credit(): once a period is over the
 * credit grows by a period's worth, up to that or, for a packet larger
 * than a period's, up to its size, so that it goes when enough periods
 * have passed (never starved, and the rate holds).  true: charged;
 * false: it waits for the refill at next_credit_ms (set_timer()).
 */
static bool tx_credit(struct net *n, struct net_queue *q, uint32_t len)
{
	uint64_t now, cap;

	if (!n->credit_bytes)
		return true;
	now = now_ms();
	if (now >= n->next_credit_ms) {
		cap = len > n->credit_bytes ? len : n->credit_bytes;
		n->credit += n->credit_bytes;
		if (n->credit > cap)
			n->credit = cap;
		n->next_credit_ms = now + BE_VIF_CREDIT_MS;
	}
	if (len > n->credit) {
		if (!q->rate_wait)
			n->st.tx_rate_waits++;
		q->rate_wait = true;
		return false;
	}
	n->credit -= len;
	q->rate_wait = false;
	return true;
}

/*
 * Serve ni walked packets (their nm maps listed in n->maps): map,
 * copy and write the accepted ones, unmap, answer every slot.  0 or
 * -EPROTO (the ring faulted).
 */
static int tx_batch(struct net *n, struct net_queue *q, uint32_t ni,
		    uint32_t nm)
{
	struct tx_copy a = { n, NULL };
	uint32_t i, j, nr = 0;

	map_kept(n, nm, n->keep);
	for (i = 0; i < ni; i++) {
		struct tx_item *it = &n->items[i];
		struct net_tx_pkt *p = &it->p;

		for (j = 0; !p->status && j < p->ndata; j++)
			if (n->maps[it->map0 + j].status)
				tx_fail(p, NET_TX_BAD_GRANT, -VPV_EPERM);
		a.it = it;
		/* a frame that faults: not readable after all */
		if (!p->status && be_guard(n->bd, tx_copy_fn, &a))
			tx_fail(p, NET_TX_BAD_GRANT, -VPV_EPERM);
		if (!p->status)
			tx_write(n, p);
		tx_count(n, p);
		for (j = 0; j < p->nslots; j++)
			n->txrsp[nr++] = net_tx_rsp(&n->txcopy[it->pos], p, j);
	}
	n->unmapped |= unmap_unkept(n, nm);
	/* the batch's slots are contiguous: one answer each, in order */
	if (ring_io(n->bd, &q->tx, q->tx.br.rsp_prod_pvt, nr, n->txrsp,
		    sizeof(n->txrsp[0]), true))
		return -EPROTO;
	q->tx.br.rsp_prod_pvt += nr;
	q->tx.br.req_cons += nr;
	q->notify = true;
	return 0;
}

/*
 * Up to budget packets of q's TX ring: the slots up to req_prod copied
 * once, walked and checked there, served a batch of at most
 * BE_MAP_BATCH grants at a time, until a packet lacks credit
 * (tx_credit(): it stays on the ring).  0 or -EPROTO; *more: the
 * budget ran out.
 */
static int tx_queue(struct net *n, struct net_queue *q, uint32_t budget,
		    bool *more)
{
	uint32_t done = 0, pos, avail, ni, nm, len, k;
	bool wait = false;
	long got;

	*more = false;
	while (done < budget) {
		got = ring_avail(n->bd, &q->tx, true);
		if (got < 0)
			return -EPROTO;
		if (!got)
			return 0;
		/*
		 * At most a ring: vpv_back_unconsumed_requests() checked
		 * req_prod against rsp_prod_pvt, and every slot taken is
		 * answered in its batch (req_cons == rsp_prod_pvt here).
		 */
		avail = got;
		if (avail > q->tx.br.nr_ents || avail > NET_RING_MAX)
			return -EPROTO;
		/* the one copy: everything below reads txcopy, not the ring */
		if (ring_io(n->bd, &q->tx, q->tx.br.req_cons, avail, n->txcopy,
			    ENT_SIZE, false))
			return -EPROTO;
		for (pos = 0; pos < avail && done < budget; ) {
			for (ni = 0, nm = 0; pos < avail && done + ni < budget;
			     ni++) {
				struct tx_item *it = &n->items[ni];

				len = net_tx_check(&n->txcopy[pos], avail - pos,
						   &n->lim, &it->p);
				if (!len)	/* past req_prod: class P */
					return -EPROTO;
				if (!it->p.status &&
				    nm + it->p.ndata > BE_MAP_BATCH)
					break;	/* the next batch's */
				/* after that break: charged once */
				wait = !it->p.status &&
				       !tx_credit(n, q, it->p.len);
				if (wait)
					break;	/* the refill's */
				it->pos = pos;
				it->map0 = nm;
				for (k = 0; !it->p.status && k < len; k++) {
					if (!net_tx_is_data(&it->p, k))
						continue;
					memset(&n->maps[nm], 0,
					       sizeof(n->maps[nm]));
					n->keep[nm] = n->txcopy[pos + k].req.flags &
						      VPV_NETIF_TXF_PERSISTENT;
					n->maps[nm++].ref =
						n->txcopy[pos + k].req.gref;
				}
				pos += len;
			}
			if (ni && tx_batch(n, q, ni, nm))
				return -EPROTO;
			done += ni;
			if (wait)
				return 0;
		}
	}
	*more = true;
	return 0;
}

/* ---- RX ---- */

/*
 * Check a frame read from the tap against the protocol's limits and
 * the front-end's features, and prepare its slot 0 (flags, checksum,
 * GSO): the checksum is filled here when the front-end does not take
 * CSUM_BLANK.  false: it cannot be delivered (rx_not_accepted).
 */
static bool rx_prepare(const struct net *n, struct net_rxpkt *pk)
{
	const struct net_limits *fe = &n->fe;
	struct virtio_net_hdr h;
	uint8_t *frame = pk->buf + VNET_HDR;
	uint32_t len = pk->len;

	memcpy(&h, pk->buf, sizeof(h));
	if (len < VPV_NETIF_MIN_FRAME)
		return false;
	if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		/* what TUNSETOFFLOAD allowed: TCP, no ECN (netif.rst) */
		if (h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && fe->gso_tcpv4)
			pk->gso_type = VPV_NETIF_GSO_TCPV4;
		else if (h.gso_type == VIRTIO_NET_HDR_GSO_TCPV6 &&
			 fe->gso_tcpv6)
			pk->gso_type = VPV_NETIF_GSO_TCPV6;
		else
			return false;
		if (!fe->csum || !fe->sg ||
		    !(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
		    len > VPV_NETIF_MAX_PACKET ||
		    h.gso_size < VPV_NETIF_MIN_GSO_SIZE ||
		    h.gso_size > n->lim.mtu)
			return false;
		pk->gso_size = h.gso_size;
	} else if (len > n->lim.mtu + VPV_NETIF_HDR_MAX) {
		return false;
	}
	if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (h.csum_start < VPV_NETIF_MIN_FRAME ||
		    (uint32_t)h.csum_start + h.csum_offset + 2 > len)
			return false;
		if (fe->csum) {
			pk->flags = VPV_NETIF_RXF_CSUM_BLANK;
			pk->csum_start = h.csum_start;
			pk->csum_offset = h.csum_offset;
		} else {	/* the host kernel's job, done here */
			net_csum_fill(frame, len, h.csum_start, h.csum_offset);
			pk->flags = VPV_NETIF_RXF_DATA_VALIDATED;
		}
	} else if (h.flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		pk->flags = VPV_NETIF_RXF_DATA_VALIDATED;
	}
	pk->ndata = (len + VPV_PAGE_SIZE - 1) / VPV_PAGE_SIZE;
	if (pk->ndata > 1 && !fe->sg)
		return false;
	pk->need = pk->ndata + (pk->gso_type ? 1 : 0);
	return true;
}

static void rx_free_head(struct net_queue *q)
{
	struct net_rxpkt *pk = q->head;

	q->head = pk->next;
	if (!q->head)
		q->tail = &q->head;
	q->bl_packets--;
	q->bl_bytes -= pk->charge;
	free(pk);
}

static void rx_drop_all(struct net_queue *q)
{
	while (q->head)
		rx_free_head(q);
}

/* Frames older than VPV_NETIF_RX_DRAIN_MS go (XSA-392). */
static void rx_expire(struct net *n, struct net_queue *q, uint64_t now)
{
	while (q->head && now - q->head->t_ms >= VPV_NETIF_RX_DRAIN_MS) {
		rx_free_head(q);
		n->st.rx_expired++;
	}
}

/* Into q's backlog if it has room (rx_backlog_full); pk is q's or freed. */
static void rx_queue_pkt(struct net *n, struct net_queue *q,
			 struct net_rxpkt *pk)
{
	if (q->bl_bytes + pk->charge > VPV_NETIF_RX_BACKLOG_MAX) {
		n->st.rx_backlog_full++;
		free(pk);
		return;
	}
	pk->t_ms = now_ms();
	*q->tail = pk;
	q->tail = &pk->next;
	q->bl_packets++;
	q->bl_bytes += pk->charge;
}

struct soft_gso {
	struct net *n;
	struct net_queue *q;
};

/* One segment of net_gso_segment(): a plain frame, checksums done. */
static void soft_gso_emit(void *ctx, const uint8_t *seg, uint32_t len)
{
	struct soft_gso *a = ctx;
	struct net_rxpkt *pk = calloc(1, sizeof(*pk) + VNET_HDR + len);
	struct virtio_net_hdr h;

	if (!pk) {
		a->n->st.rx_backlog_full++;
		return;
	}
	memset(&h, 0, sizeof(h));
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;	/* computed just now */
	memcpy(pk->buf, &h, sizeof(h));
	memcpy(pk->buf + VNET_HDR, seg, len);
	pk->len = len;
	pk->charge = sizeof(*pk) + VNET_HDR + len;
	if (!rx_prepare(a->n, pk)) {
		a->n->st.rx_not_accepted++;
		free(pk);
		return;
	}
	rx_queue_pkt(a->n, a->q, pk);
}

/*
 * A GSO TCP frame the front-end does not take as one (a switch port
 * has no TUNSETOFFLOAD to make the host kernel segment it): segmented
 * here (net_gso_segment()), each segment queued as a plain frame,
 * counted rx_gso_soft.  true: handled (segmented, or dropped as
 * rx_not_accepted), pk is still the caller's to free; false: not such
 * a frame, rx_prepare() decides.
 */
static bool rx_soft_gso(struct net *n, struct net_queue *q,
			const struct net_rxpkt *pk)
{
	const struct net_limits *fe = &n->fe;
	struct soft_gso a = { n, q };
	struct virtio_net_hdr h;
	uint8_t t;

	memcpy(&h, pk->buf, sizeof(h));
	if (h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4)
		t = VPV_NETIF_GSO_TCPV4;
	else if (h.gso_type == VIRTIO_NET_HDR_GSO_TCPV6)
		t = VPV_NETIF_GSO_TCPV6;
	else
		return false;
	if (fe->csum && fe->sg &&
	    (t == VPV_NETIF_GSO_TCPV4 ? fe->gso_tcpv4 : fe->gso_tcpv6))
		return false;		/* it takes it whole */
	if (h.gso_size < VPV_NETIF_MIN_GSO_SIZE || h.gso_size > n->lim.mtu ||
	    net_gso_segment(pk->buf + VNET_HDR, pk->len, t, h.gso_size,
			    soft_gso_emit, &a) < 0) {
		n->st.rx_not_accepted++;
		return true;
	}
	n->st.rx_gso_soft++;
	return true;
}

/*
 * Read up to max frames from the tap, each into the backlog of the
 * queue its flow hashes to (net_rx_queue()).  A frame that would take
 * that backlog over VPV_NETIF_RX_BACKLOG_MAX is dropped
 * (rx_backlog_full), one the front-end cannot take too
 * (rx_not_accepted): read all the same, so the tap does not stay
 * readable for nothing.
 */
static void rx_read(struct net *n, uint32_t max)
{
	const size_t room = VNET_HDR + NET_FRAME_MAX + 1;	/* +1: too long */
	struct net_rxpkt *pk, *small;
	struct net_queue *q;
	uint32_t i;
	ssize_t r;

	for (i = 0; i < max; i++) {
		pk = malloc(sizeof(*pk) + room);
		if (!pk)
			return;		/* read later: the tap keeps it */
		/* before the read: buf[] may start in the struct's padding */
		memset(pk, 0, sizeof(*pk));
		r = read(n->tap, pk->buf, room);
		if (r == 0 && n->sw) {
			/*
			 * The switch's end closed: the device is being
			 * removed (the core holds that end otherwise).
			 * Stop polling a socket that stays readable.
			 */
			free(pk);
			n->bd->poll_fd = -1;
			return;
		}
		if (r < 0) {
			free(pk);
			/*
			 * EAGAIN: empty.  Anything else (EBADFD: the tap was
			 * deleted under us) does not go away: stop polling it
			 * until the next connect; writes count in
			 * tx_host_dropped meanwhile.
			 */
			if (errno != EAGAIN && errno != EINTR)
				n->bd->poll_fd = -1;
			return;
		}
		pk->len = r > (ssize_t)VNET_HDR ? r - VNET_HDR : 0;
		pk->charge = sizeof(*pk) + r;
		/* a GSO frame's segments: its flow, its queue */
		q = &n->q[net_rx_queue(pk->buf + VNET_HDR, pk->len, n->nq)];
		if ((size_t)r < room && rx_soft_gso(n, q, pk)) {
			free(pk);
			continue;
		}
		if ((size_t)r >= room || !rx_prepare(n, pk)) {
			n->st.rx_not_accepted++;
			free(pk);
			continue;
		}
		if (q->bl_bytes + pk->charge > VPV_NETIF_RX_BACKLOG_MAX) {
			n->st.rx_backlog_full++;
			free(pk);
			continue;
		}
		small = realloc(pk, sizeof(*pk) + r);
		if (small)
			pk = small;
		rx_queue_pkt(n, q, pk);
	}
}

/* Answer an RX buffer alone with an error (size 0, flags 0). */
static int rx_error(struct net *n, struct net_queue *q, uint16_t id,
		    int16_t status)
{
	struct vpv_netif_rx_rsp r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.status = status;
	if (ring_io(n->bd, &q->rx, q->rx.br.rsp_prod_pvt, 1, &r, sizeof(r),
		    true))
		return -EPROTO;
	q->rx.br.rsp_prod_pvt++;
	q->notify = true;
	return 0;
}

/*
 * Take posted buffers off q's RX ring until want are held, each copied
 * once; one with a non-zero pad is answered alone (-VPV_EINVAL) at
 * once, before any packet's slots.  0 or -EPROTO.
 */
static int rx_fill(struct net *n, struct net_queue *q, uint32_t want)
{
	struct vpv_netif_rx_req rq;
	long avail;

	while (q->nheld < want && q->nheld < NET_RING_MAX) {
		avail = ring_avail(n->bd, &q->rx, true);
		if (avail < 0)
			return -EPROTO;
		if (!avail)
			return 0;	/* it notifies when it posts more */
		if (ring_io(n->bd, &q->rx, q->rx.br.req_cons, 1, &rq,
			    sizeof(rq), false))
			return -EPROTO;
		q->rx.br.req_cons++;
		if (rq.pad) {
			n->st.rx_bad_req++;
			if (rx_error(n, q, rq.id, -VPV_EINVAL))
				return -EPROTO;
			continue;
		}
		q->held[q->nheld++] = rq;
	}
	return 0;
}

struct rx_copy {
	uint8_t *dst;
	const uint8_t *src;
	uint32_t len;
};

static void rx_copy_fn(void *arg)
{
	struct rx_copy *a = arg;

	memcpy(a->dst, a->src, a->len);
}

/*
 * Deliver pk with the good buffers good[0 ..] (indices into q->held
 * and n->maps, *ngood of them): each data slot copied into its buffer
 * (a buffer that faults is answered alone, -VPV_EPERM, and the packet
 * tried again with the next ones), then all its responses written.
 * 1: delivered, 0: not enough buffers (it waits), -EPROTO.  Used
 * buffers are taken off good[].
 */
static int rx_one(struct net *n, struct net_queue *q, struct net_rxpkt *pk,
		  uint32_t *good, uint32_t *ngood)
{
	union vpv_netif_rx_slot rs[VPV_NETIF_MAX_SLOTS + 1];
	struct rx_copy c;
	uint32_t b, k, d, bad;

again:
	if (*ngood < pk->need)
		return 0;
	memset(rs, 0, sizeof(rs));
	for (b = 0, d = 0; b < pk->need; b++) {
		k = good[b];
		if (b == 1 && pk->gso_type) {	/* the extra's buffer */
			rs[b].extra.id = q->held[k].id;
			rs[b].extra.type = VPV_NETIF_EXTRA_GSO;
			rs[b].extra.u.gso.size = pk->gso_size;
			rs[b].extra.u.gso.type = pk->gso_type;
			continue;
		}
		c.dst = n->maps[k].ptr;
		c.src = pk->buf + VNET_HDR + d * VPV_PAGE_SIZE;
		c.len = pk->len - d * VPV_PAGE_SIZE < VPV_PAGE_SIZE ?
			pk->len - d * VPV_PAGE_SIZE : VPV_PAGE_SIZE;
		if (be_guard(n->bd, rx_copy_fn, &c)) {
			bad = b;
			goto fault;
		}
		rs[b].rsp.id = q->held[k].id;
		rs[b].rsp.size = c.len;
		if (++d < pk->ndata)
			rs[b].rsp.flags = VPV_NETIF_RXF_MORE_DATA;
	}
	rs[0].rsp.flags |= pk->flags |
			   (pk->gso_type ? VPV_NETIF_RXF_EXTRA_INFO : 0);
	rs[0].rsp.csum_start = pk->csum_start;
	rs[0].rsp.csum_offset = pk->csum_offset;
	if (ring_io(n->bd, &q->rx, q->rx.br.rsp_prod_pvt, pk->need, rs,
		    sizeof(rs[0]), true))
		return -EPROTO;
	q->rx.br.rsp_prod_pvt += pk->need;
	*ngood -= pk->need;
	memmove(good, good + pk->need, *ngood * sizeof(*good));
	return 1;
fault:
	n->st.rx_bad_grant++;
	if (rx_error(n, q, q->held[good[bad]].id, -VPV_EPERM))
		return -EPROTO;
	(*ngood)--;
	memmove(good + bad, good + bad + 1, (*ngood - bad) * sizeof(*good));
	goto again;
}

/*
 * One batch: the backlog's first packets whose buffers fit in
 * BE_MAP_BATCH and in what is held, mapped writable in one
 * GRANT_MAP; a buffer that cannot be is answered alone (-VPV_EPERM)
 * before any packet's slots; the packets delivered in order while the
 * good buffers last.  Returns the packets delivered, 0 if the first
 * one still waits for buffers, or -EPROTO.
 */
static int rx_batch(struct net *n, struct net_queue *q, uint32_t budget)
{
	uint32_t good[BE_MAP_BATCH], ngood = 0, m = 0, i, done = 0;
	struct net_rxpkt *pk;
	int ret = 0;

	for (pk = q->head, i = 0; pk && i < budget &&
	     m + pk->need <= BE_MAP_BATCH; pk = pk->next, i++)
		m += pk->need;
	if (rx_fill(n, q, m))
		return -EPROTO;
	/* the packets whose buffers are all held */
	for (pk = q->head, m = 0, i = 0; pk && i < budget &&
	     m + pk->need <= q->nheld && m + pk->need <= BE_MAP_BATCH;
	     pk = pk->next, i++)
		m += pk->need;
	if (!m)
		return 0;
	/* kept buffers as they are, the others mapped in one call */
	for (i = 0; i < m; i++) {
		memset(&n->maps[i], 0, sizeof(n->maps[i]));
		n->maps[i].ref = q->held[i].gref;
		n->maps[i].write = true;
		n->keep[i] = n->persistent;
	}
	map_kept(n, m, n->keep);
	for (i = 0; i < m; i++) {
		if (!n->maps[i].status) {
			good[ngood++] = i;
			continue;
		}
		n->st.rx_bad_grant++;
		if (rx_error(n, q, q->held[i].id, -VPV_EPERM)) {
			ret = -EPROTO;
			goto out;
		}
	}
	while (q->head && done < budget) {
		pk = q->head;
		ret = rx_one(n, q, pk, good, &ngood);
		if (ret <= 0)
			break;
		n->st.rx_packets++;
		n->st.rx_bytes += pk->len;
		n->answered++;
		rx_free_head(q);
		done++;
		q->notify = true;
	}
out:
	q->rx_unmapped |= unmap_unkept(n, m);
	n->unmapped |= q->rx_unmapped;
	/*
	 * The good buffers left stay held, first, in the order posted
	 * (good[] ascends: each moves down or stays).
	 */
	for (i = 0; i < ngood; i++)
		q->held[i] = q->held[good[i]];
	memmove(&q->held[ngood], &q->held[m],
		(q->nheld - m) * sizeof(q->held[0]));
	q->nheld -= m - ngood;
	if (ret < 0)
		return ret;
	/* buffers answered alone: progress, the next batch takes more */
	return done ? (int)done : (m > ngood ? 1 : 0);
}

/*
 * Deliver up to budget packets of q's backlog.  0 or -EPROTO; *more:
 * the budget ran out with packets and buffers left.
 */
static int rx_queue(struct net *n, struct net_queue *q, uint32_t budget,
		    bool *more)
{
	uint32_t done = 0;
	int ret;

	*more = false;
	rx_expire(n, q, now_ms());
	while (q->head && done < budget) {
		ret = rx_batch(n, q, budget - done);
		if (ret < 0)
			return ret;
		if (!ret)
			return 0;	/* waits for buffers (kick asked) */
		done += ret;
	}
	*more = q->head;
	return 0;
}

/* ---- the turn ---- */

/*
 * Push every queue's responses, both rings; raise the port of each
 * queue that asks, ringing its vector (the CPU that polls it).  The
 * unmaps before it are done first: an answered slot's grant is free
 * when the front-end sees the answer.  An RX ring whose new answers
 * unmapped nothing (kept buffers: feature-persistent) does not wait
 * for that barrier: it is pushed first, so that a reply the host made
 * to a TX packet of this turn (read right after it) reaches the guest
 * without the SYNC round trip the TX answers wait for.
 */
static int push_all(struct net *n)
{
	uint64_t t;
	uint32_t i;
	long a, b;

	for (i = 0; n->unmapped && i < n->nq; i++) {
		struct net_queue *q = &n->q[i];

		if (!q->notify || q->rx_unmapped)
			continue;
		b = ring_op(n->bd, &q->rx, RC_PUSH);
		if (b < 0)
			return -EPROTO;
		if (b > 0)
			be_notify_port(n->bd, q->port, q->vector);
	}
	n->unmapped = false;
	t = be_now_ns();
	if (be_unmap_barrier(n->bd)) {
		n->st.syncs++;
		n->st.sync_ns += be_now_ns() - t;
	}
	for (i = 0; i < n->nq; i++) {
		struct net_queue *q = &n->q[i];

		if (!q->notify)
			continue;
		q->notify = false;
		q->rx_unmapped = false;
		a = ring_op(n->bd, &q->tx, RC_PUSH);
		b = ring_op(n->bd, &q->rx, RC_PUSH);
		if (a < 0 || b < 0)
			return -EPROTO;
		if (a > 0 || b > 0)
			be_notify_port(n->bd, q->port, q->vector);
	}
	return 0;
}

/* Counters to the core when something changed. */
static void report(struct net *n)
{
	static const struct be_net_stats zero;
	uint64_t pk = 0, by = 0;
	uint32_t i;

	for (i = 0; i < n->nq; i++) {
		pk += n->q[i].bl_packets;
		by += n->q[i].bl_bytes;
	}
	if (n->answered || n->refused)
		be_count(n->bd, n->answered, n->refused);
	n->answered = 0;
	n->refused = 0;
	if (!memcmp(&n->st, &zero, sizeof(zero)) &&
	    n->last_bl_packets == pk && n->last_bl_bytes == by &&
	    n->last_npg == n->npg)
		return;
	n->st.rx_backlog_packets = pk;
	n->st.rx_backlog_bytes = by;
	n->st.persistent_grants = n->npg;
	n->last_bl_packets = pk;
	n->last_bl_bytes = by;
	n->last_npg = n->npg;
	be_net_report(n->bd, &n->st);
	memset(&n->st, 0, sizeof(n->st));
}

/*
 * The process's timer: the backlog's expiry or the TX credit's refill,
 * whichever is first (0: nothing waits).
 */
static void set_timer(struct net *n)
{
	uint64_t t = 0;
	uint32_t i;

	for (i = 0; i < n->nq; i++)
		if (n->q[i].head && (!t || n->q[i].head->t_ms < t))
			t = n->q[i].head->t_ms;
	t = t ? t + VPV_NETIF_RX_DRAIN_MS : 0;
	/*
	 * Per queue: another queue's packet that fits the credit must not
	 * end this one's wait (one flag a device did, and the packet
	 * waited on the ring for the guest's next kick: 8 MiB at 2 MiB/s
	 * took 15 s once a flow moved between queues)
	 */
	for (i = 0; i < n->nq; i++)
		if (n->q[i].rate_wait && (!t || n->next_credit_ms < t))
			t = n->next_credit_ms;
	n->bd->timer_ms = t;
}

/* TX and RX of every queue, each within its budget; then push. */
static int serve(struct net *n, bool read_tap)
{
	bool more, again = false;
	uint32_t i;
	int ret = 0;

	n->tx_wrote = false;
	for (i = 0; i < n->nq && !ret; i++) {
		ret = tx_queue(n, &n->q[i], NET_TX_BUDGET, &more);
		again |= more;
	}
	for (i = 0; i < n->nq && !ret; i++) {
		ret = rx_queue(n, &n->q[i], NET_RX_BUDGET, &more);
		again |= more;
	}
	/*
	 * Then the tap's frames, into room the delivery just made, each
	 * to the queue of its flow (rx_read()); the queues delivered again
	 * (a queue given nothing new returns at once).  Also after a kick
	 * that wrote to the tap: the host kernel's answer to it (a ping's,
	 * an ACK) is often there already, and goes out with this turn's
	 * push instead of the next poll's.
	 */
	if (!ret && (read_tap || (n->tx_wrote && n->bd->poll_fd >= 0))) {
		rx_read(n, NET_RX_READS);
		for (i = 0; i < n->nq && !ret; i++) {
			ret = rx_queue(n, &n->q[i], NET_RX_BUDGET, &more);
			again |= more;
		}
	}
	if (!ret)
		ret = push_all(n);
	set_timer(n);
	report(n);
	if (!ret && again)
		be_again(n->bd);
	return ret;
}

/* ---- connect ---- */

static int read_u32(struct be_dev *bd, bool fe, const char *key,
		    uint32_t *out)
{
	char v[64];
	int len = be_store_read(bd, fe, key, v, sizeof(v));

	if (len < 0)
		return len;
	return vpv_parse_u32(v, len, out) ? -EINVAL : 0;
}

/* A key as the front-end's vpv_bus_read_feature() reads it: absent 0. */
static uint32_t key_or(struct be_dev *bd, bool fe, const char *key,
		       uint32_t def)
{
	uint32_t v;

	return read_u32(bd, fe, key, &v) ? def : v;
}

/* A present key must be a number: absent def, else -EINVAL. */
static int key_opt(struct be_dev *bd, bool fe, const char *key,
		   uint32_t def, uint32_t *out)
{
	int ret = read_u32(bd, fe, key, out);

	if (ret == -ENOENT) {
		*out = def;
		return 0;
	}
	return ret ? -EINVAL : 0;
}

/* One side's feature-* keys (a GSO type only with csum). */
static void read_features(struct be_dev *bd, bool fe, struct net_limits *l)
{
	l->sg = key_or(bd, fe, "feature-sg", 0);
	l->csum = key_or(bd, fe, "feature-csum", 0);
	l->gso_tcpv4 = l->csum && key_or(bd, fe, "feature-gso-tcpv4", 0);
	l->gso_tcpv6 = l->csum && key_or(bd, fe, "feature-gso-tcpv6", 0);
	/* the back-end's only: the front-end's flag says it per slot */
	l->persistent_tx = !fe && key_or(bd, fe, "feature-persistent-tx", 0);
}

/*
 * Queue qi's keys: its port, its optional vector (3 .. 10), its rings'
 * references (TX pages then RX pages, in q->*.pages).  0 or -EINVAL.
 */
static int read_queue(struct net *n, uint32_t qi, uint32_t order)
{
	struct net_queue *q = &n->q[qi];
	char key[40];
	uint32_t p, v;
	int ret;

	snprintf(key, sizeof(key), "q%u-event-channel", qi);
	if (read_u32(n->bd, true, key, &q->port) || !q->port)
		return -EINVAL;
	snprintf(key, sizeof(key), "q%u-vector", qi);
	ret = read_u32(n->bd, true, key, &v);
	if (ret == -ENOENT)
		v = VPV_VEC_EVTCHN;
	else if (ret || !be_is_cpu_vector(v))
		return -EINVAL;
	q->vector = v;
	q->tx.npages = 1u << order;
	q->rx.npages = 1u << order;
	for (p = 0; p < q->tx.npages; p++) {
		snprintf(key, sizeof(key), "q%u-tx-ring-ref%u", qi, p);
		if (read_u32(n->bd, true, key, &q->tx.pages[p].ref))
			return -EINVAL;
		snprintf(key, sizeof(key), "q%u-rx-ring-ref%u", qi, p);
		if (read_u32(n->bd, true, key, &q->rx.pages[p].ref))
			return -EINVAL;
		q->tx.pages[p].write = true;
		q->rx.pages[p].write = true;
	}
	return 0;
}

/* Map queue q's two rings (one GRANT_MAP): 0 or -VPV_EPERM. */
static int map_rings(struct net *n, struct net_queue *q)
{
	struct be_gmap m[2 * RING_PAGES_MAX];
	uint32_t np = q->tx.npages, p;
	uint32_t ents = VPV_RING_ENTRIES(ENT_SIZE, np * VPV_PAGE_SIZE);
	int ret = 0;

	memcpy(m, q->tx.pages, np * sizeof(m[0]));
	memcpy(m + np, q->rx.pages, np * sizeof(m[0]));
	if (be_grant_map(n->bd, m, 2 * np))
		for (p = 0; p < 2 * np; p++)
			m[p].status = -VPV_EPERM;
	memcpy(q->tx.pages, m, np * sizeof(m[0]));
	memcpy(q->rx.pages, m + np, np * sizeof(m[0]));
	for (p = 0; p < 2 * np && !ret; p++)
		ret = m[p].status;
	if (ret)
		return ret;
	vpv_back_ring_init(&q->tx.br, (void *)q->tx.pages[0].ptr, ents);
	vpv_back_ring_init(&q->rx.br, (void *)q->rx.pages[0].ptr, ents);
	return 0;
}

static void unmap_rings(struct net *n)
{
	uint32_t i;

	for (i = 0; i < VPV_NETIF_MAX_QUEUES; i++) {
		struct net_queue *q = &n->q[i];

		be_grant_unmap(n->bd, q->tx.pages, q->tx.npages);
		be_grant_unmap(n->bd, q->rx.pages, q->rx.npages);
		rx_drop_all(q);
		memset(q, 0, sizeof(*q));
		q->tail = &q->head;
	}
}

/* The tap's offloads towards us: only what the front-end takes on RX. */
static int set_offload(struct net *n, const struct net_limits *fe)
{
	unsigned long f = 0;

	if (n->sw)	/* a port: whatever comes, rx_prepare() sorts */
		return 0;
	if (fe->csum) {
		f |= TUN_F_CSUM;
		/* a GSO packet is more than a page: SG too */
		if (fe->sg && fe->gso_tcpv4)
			f |= TUN_F_TSO4;
		if (fe->sg && fe->gso_tcpv6)
			f |= TUN_F_TSO6;
	}
	return ioctl(n->tap, TUNSETOFFLOAD, f) < 0 ? -errno : 0;
}

/*
 * Every key of both ends, checked before anything is mapped
 * (Documentation/netif.rst, "Front-end keys"): 0 or -errno.
 */
static int read_keys(struct net *n, uint32_t *order)
{
	struct be_dev *bd = n->bd;
	uint32_t nq, maxq, maxo, mtu, copy, i;
	int ret;

	/* the back-end's own keys, as they stand now */
	if (key_opt(bd, false, "mtu", VPV_NETIF_DEFAULT_MTU, &n->lim.mtu) ||
	    n->lim.mtu < VPV_NETIF_MIN_MTU || n->lim.mtu > VPV_NETIF_MAX_MTU)
		return -EINVAL;
	read_features(bd, false, &n->lim);
	maxq = key_or(bd, false, "multi-queue-max-queues", 1);
	maxo = key_or(bd, false, "max-ring-page-order", 0);
	/* the front-end's */
	if (key_opt(bd, true, "multi-queue-num-queues", 1, &nq) ||
	    key_opt(bd, true, "ring-page-order", 0, order))
		return -EINVAL;
	if (!nq || nq > maxq || nq > VPV_NETIF_MAX_QUEUES ||
	    *order > maxo || *order > VPV_NETIF_MAX_RING_ORDER)
		return -EINVAL;
	if (key_opt(bd, true, "request-rx-copy", 0, &copy) || copy != 1)
		return -EOPNOTSUPP;
	ret = key_opt(bd, true, "mtu", VPV_NETIF_DEFAULT_MTU < n->lim.mtu ?
		      VPV_NETIF_DEFAULT_MTU : n->lim.mtu, &mtu);
	if (ret || mtu < VPV_NETIF_MIN_MTU || mtu > n->lim.mtu)
		return -EINVAL;
	read_features(bd, true, &n->fe);
	n->fe.mtu = mtu;
	/* both ends agree, or RX buffers are mapped per batch as before */
	n->persistent = key_or(bd, false, "feature-persistent", 0) &&
			key_or(bd, true, "feature-persistent", 0);
	for (i = 0; i < nq; i++) {
		ret = read_queue(n, i, *order);
		if (ret)
			return ret;
	}
	n->nq = nq;
	return 0;
}

static int net_connect(struct be_dev *bd)
{
	struct net *n = bd->priv;
	uint32_t order, i;
	int ret;

	if (!n)
		return -ENODEV;
	pg_clear(n);
	unmap_rings(n);		/* nothing: a clean start */
	ret = read_keys(n, &order);
	if (!ret)
		ret = set_offload(n, &n->fe);
	for (i = 0; i < n->nq && !ret; i++)
		ret = map_rings(n, &n->q[i]);
	/* a port per queue; two queues naming one port: the second fails */
	for (i = 0; i < n->nq && !ret; i++)
		ret = be_bind(bd, n->q[i].port);
	if (ret) {
		be_unbind(bd);
		unmap_rings(n);
		n->nq = 0;
		n->persistent = false;
		return ret;
	}
	n->connected = true;
	bd->poll_fd = n->tap;	/* frames for the guest: now */
	be_again(bd);		/* packets queued before we connected */
	return 0;
}

static void net_disconnect(struct be_dev *bd)
{
	static const struct net_limits none;
	struct net *n = bd->priv;
	uint32_t i;

	if (!n || !n->connected)
		return;
	n->connected = false;
	bd->poll_fd = -1;	/* the tap keeps what comes meanwhile */
	bd->timer_ms = 0;
	/* the next connection walks afresh */
	for (i = 0; i < VPV_NETIF_MAX_QUEUES; i++)
		n->q[i].rate_wait = false;
	be_unbind(bd);
	/* the host kernel segments and checksums for whoever comes next */
	set_offload(n, &none);
	pg_clear(n);		/* the front-end's buffers let go */
	n->persistent = false;
	unmap_rings(n);		/* and the backlog dropped */
	n->nq = 0;
	report(n);
}

/* ---- the callbacks ---- */

static int net_event(struct be_dev *bd)
{
	struct net *n = bd->priv;

	if (!n || !n->connected)
		return 0;
	return serve(n, false);
}

static int net_complete(struct be_dev *bd)
{
	struct net *n = bd->priv;

	if (!n || !n->connected)
		return 0;
	return serve(n, true);
}

/*
 * The tap must be what the core opens (vif.c): a tap with vnet
 * headers of 10 bytes, no packet information; made non-blocking if it
 * is not.  0 or -EINVAL.
 */
static int check_tap(int fd)
{
	struct ifreq ifr;
	int sz = 0, fl;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNGETVNETHDRSZ, &sz) < 0)
		return -EINVAL;
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_NO_PI) ||
	    !(ifr.ifr_flags & IFF_VNET_HDR) || sz != (int)VNET_HDR)
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) &&
		       fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -EINVAL;
	return 0;
}

/*
 * A switch port must be what the core makes (vif.c): an AF_UNIX
 * SOCK_SEQPACKET socket, made non-blocking if it is not.  0 or -EINVAL.
 */
static int check_port(int fd)
{
	int type = 0, dom = 0, fl;
	socklen_t l = sizeof(type), m = sizeof(dom);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &m) < 0 ||
	    type != SOCK_SEQPACKET || dom != AF_UNIX)
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) &&
		       fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -EINVAL;
	return 0;
}

/*
 * What the sandbox must leave: the tap, read and written, its offloads;
 * or the switch port, read and written only.
 */
static int sandbox_rules(struct net *n, struct be_sandbox_extra *x)
{
	static const int tap_nrs[] = {
		SYS_read, SYS_readv, SYS_write, SYS_writev,
	};
	int ret;

	ret = be_sandbox_allow(x, n->tap, tap_nrs, ARRAY_SIZE(tap_nrs));
	if (!ret && !n->sw)
		ret = be_sandbox_allow_arg1(x, n->tap, SYS_ioctl,
					    TUNSETOFFLOAD);
	return ret;
}

static void net_fini(struct be_dev *bd)
{
	struct net *n = bd->priv;

	if (!n)
		return;
	net_disconnect(bd);
	unmap_rings(n);
	free(n->txbuf);
	free(n);
	bd->priv = NULL;
}

static int net_init(struct be_dev *bd, struct be_sandbox_extra *x)
{
	const struct be_params *p = bd->params;
	struct net *n;
	uint32_t i;
	int ret;

	if (!p || p->nr_fds != 1 || !(p->vif.flags & BE_VIF_VNET_HDR) ||
	    (p->vif.flags & BE_VIF_SWITCH ? check_port(p->fds[0]) :
					     check_tap(p->fds[0])))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->bd = bd;
	n->tap = p->fds[0];
	n->sw = p->vif.flags & BE_VIF_SWITCH;
	/* bytes per period (the core bounds the rate: no overflow) */
	n->credit_bytes = p->vif.rate * BE_VIF_CREDIT_MS / 1000;
	if (p->vif.rate && !n->credit_bytes)
		n->credit_bytes = 1;
	for (i = 0; i < VPV_NETIF_MAX_QUEUES; i++)
		n->q[i].tail = &n->q[i].head;
	memset(n->phash, 0xff, sizeof(n->phash));
	n->txbuf = malloc(VPV_NETIF_MAX_PACKET);
	bd->priv = n;
	ret = n->txbuf ? sandbox_rules(n, x) : -ENOMEM;
	if (ret) {
		net_fini(bd);
		return ret;
	}
	bd->poll_fd = -1;	/* the tap, once connected */
	return 0;
}

const struct be_device_ops net_be_ops = {
	.type = "vif",
	.init = net_init,
	.fini = net_fini,
	.connect = net_connect,
	.disconnect = net_disconnect,
	.event = net_event,
	.complete = net_complete,
};
