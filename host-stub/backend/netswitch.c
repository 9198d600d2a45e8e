// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-netswitch's frame check, MAC learning and forwarding decision
 * (netswitch.h): no I/O here, so that the unit test and the fuzz
 * harness run it as the process does (netswitch_main.c: the loop, the
 * ports' sockets, the sandbox).
 *
 * The MAC table is each port's own array of NSW_MACS_PER_PORT keys
 * (nsw_mac_key()) with the time each was last seen as a source; a
 * lookup scans every port's array (NSW_PORTS_MAX x NSW_MACS_PER_PORT
 * 64-bit compares), so its cost is bounded and no input can make a
 * hash chain long.  A port's array is its cap: one guest cannot fill
 * the table for the others.
 */
#include <errno.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "netswitch.h"

static_assert(sizeof(struct virtio_net_hdr) == NSW_VNET_HDR,
	      "the ports' framing is vpv-netback's");

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int nsw_frame_check(const uint8_t *b, size_t n)
{
	const uint8_t *f = b + NSW_VNET_HDR;
	uint8_t flags, gso;
	uint16_t hdr_len, gso_size, cstart, coff;
	size_t len;

	if (n < NSW_VNET_HDR + VPV_NETIF_MIN_FRAME || n > NSW_PKT_MAX)
		return -EINVAL;
	len = n - NSW_VNET_HDR;
	/* struct virtio_net_hdr, little-endian (the host's, x86) */
	flags = b[0];
	gso = b[1];
	hdr_len = le16(b + 2);
	gso_size = le16(b + 4);
	cstart = le16(b + 6);
	coff = le16(b + 8);
	if (flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    (flags & VIRTIO_NET_HDR_F_DATA_VALID))
		return -EINVAL;
	if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (cstart < VPV_NETIF_MIN_FRAME ||
		    (size_t)cstart + coff + 2 > len)
			return -EINVAL;
	} else if (cstart || coff) {
		return -EINVAL;
	}
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6) {
		if (!(flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) ||
		    gso_size < VPV_NETIF_MIN_GSO_SIZE ||
		    gso_size > VPV_NETIF_MAX_MTU || len > VPV_NETIF_MAX_PACKET)
			return -EINVAL;
	} else if (gso != VIRTIO_NET_HDR_GSO_NONE || gso_size ||
		   len > VPV_NETIF_MAX_MTU + VPV_NETIF_HDR_MAX) {
		return -EINVAL;
	}
	if (hdr_len > len)
		return -EINVAL;
	/* the source (bytes 6..11): unicast, not 0: it is learned */
	if ((f[6] & 1) || !(f[6] | f[7] | f[8] | f[9] | f[10] | f[11]))
		return -EINVAL;
	return 0;
}

static bool fresh(uint64_t seen, uint64_t now)
{
	return now - seen < NSW_MAC_AGE_MS;
}

/* Where key is learned (and fresh): its port, its slot; false: nowhere. */
static bool lookup(struct nsw *s, uint64_t key, uint64_t now, uint32_t *pi,
		   uint32_t *mi)
{
	uint32_t i, j;

	for (i = 0; i < NSW_PORTS_MAX; i++) {
		struct nsw_port *p = &s->port[i];

		if (!p->used)
			continue;
		for (j = 0; j < NSW_MACS_PER_PORT; j++) {
			if (p->mac[j] != key)
				continue;
			if (!fresh(p->seen_ms[j], now)) {
				p->mac[j] = 0;	/* aged out */
				p->dirty = true;
				return false;
			}
			*pi = i;
			*mi = j;
			return true;
		}
	}
	return false;
}

/* Learn key on port pi: its slot refreshed, moved here, or a new one. */
static void learn(struct nsw *s, uint32_t pi, uint64_t key, uint64_t now)
{
	struct nsw_port *p = &s->port[pi];
	uint32_t qi, j, pick = 0;

	if (lookup(s, key, now, &qi, &j)) {
		if (qi == pi) {
			p->seen_ms[j] = now;
			return;
		}
		s->port[qi].mac[j] = 0;		/* the station moved */
		s->port[qi].dirty = true;
	}
	/* a free slot, else the least recently seen one (evicted) */
	for (j = 0; j < NSW_MACS_PER_PORT; j++) {
		if (!p->mac[j] || !fresh(p->seen_ms[j], now)) {
			pick = j;
			break;
		}
		if (p->seen_ms[j] < p->seen_ms[pick])
			pick = j;
	}
	if (j == NSW_MACS_PER_PORT)
		p->st.mac_evicted++;
	p->mac[pick] = key;
	p->seen_ms[pick] = now;
	p->dirty = true;
}

enum nsw_verdict nsw_decide(struct nsw *s, uint32_t src, const uint8_t *b,
			    size_t n, uint64_t now_ms, uint32_t *dst)
{
	struct nsw_port *p = &s->port[src];
	const uint8_t *f = b + NSW_VNET_HDR;
	uint32_t qi, j;

	p->st.in++;
	p->dirty = true;
	if (nsw_frame_check(b, n)) {
		p->st.bad++;
		return NSW_BAD;
	}
	learn(s, src, nsw_mac_key(f + 6), now_ms);
	/* a group address (broadcast, multicast) or unknown: everyone */
	if ((f[0] & 1) || !lookup(s, nsw_mac_key(f), now_ms, &qi, &j)) {
		p->st.flooded++;
		return NSW_FLOOD;
	}
	if (qi == src) {	/* never back where it came from */
		p->st.local++;
		return NSW_LOCAL;
	}
	p->st.unicast++;
	*dst = qi;
	return NSW_UNICAST;
}

void nsw_port_reset(struct nsw *s, uint32_t i)
{
	struct nsw_port *p = &s->port[i];

	memset(p->mac, 0, sizeof(p->mac));
	memset(p->seen_ms, 0, sizeof(p->seen_ms));
	memset(&p->st, 0, sizeof(p->st));
	p->dirty = false;
}

uint32_t nsw_port_macs(const struct nsw *s, uint32_t i)
{
	uint32_t j, n = 0;

	for (j = 0; j < NSW_MACS_PER_PORT; j++)
		n += s->port[i].mac[j] != 0;
	return n;
}
