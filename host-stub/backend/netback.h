/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpv-netback's TX packet walk and checks (netback.c), declared here
 * so that the unit test and the fuzz harness (fuzz/fuzz_netif.c) call
 * them directly.  They work on the back-end's own copy of the ring's
 * slots, never on the ring.  Order, statuses and counters:
 * abi/vpv_netif.h and Documentation/netif.rst, "Validation".
 */
#ifndef VPV_NETBACK_H
#define VPV_NETBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "vpv_abi.h"
#include "vpv_netif.h"

/*
 * What one side accepts: the back-end's keys at this connect (TX: what
 * a guest's packet may use), or the front-end's (RX: what the
 * back-end may hand it).  A GSO type counts only with csum (and, on
 * RX, sg: a GSO packet is more than a page).
 */
struct net_limits {
	uint32_t mtu;		/* the back-end's "mtu", both directions */
	bool sg, csum, gso_tcpv4, gso_tcpv6;
	bool persistent_tx;	/* the back-end's feature-persistent-tx */
};

/* The TX validation classes of abi/vpv_netif.h, 0: accepted. */
enum net_tx_class {
	NET_TX_OK,
	NET_TX_MALFORMED,	/* 1: -VPV_EINVAL */
	NET_TX_NOT_OFFERED,	/* 2: -VPV_EOPNOTSUPP */
	NET_TX_TOO_MANY_SLOTS,	/* 3: -VPV_E2BIG */
	NET_TX_BAD_SLOT,	/* 4: -VPV_EINVAL */
	NET_TX_BAD_LENGTH,	/* 5: -VPV_EINVAL or -VPV_E2BIG */
	NET_TX_BAD_OFFLOAD,	/* 6: -VPV_EINVAL */
	NET_TX_BAD_GRANT,	/* 7: -VPV_EPERM (the caller's, at map) */
};

/*
 * A TX packet as walked and checked.  Its slots, from slot 0 on the
 * ring: slot 0 (data), extras 1 .. nextras, data slots nextras + 1 ..
 * nslots - 1.
 */
struct net_tx_pkt {
	uint32_t nslots;	/* every slot, extras included */
	uint32_t nextras;
	uint32_t ndata;		/* data slots */
	uint32_t len;		/* the data slots' sizes summed */
	int32_t status;		/* 0 or the class's -VPV_E* */
	enum net_tx_class class;
	uint16_t flags;		/* slot 0's VPV_NETIF_TXF_* */
	uint16_t csum_start;	/* with CSUM_BLANK */
	uint16_t csum_offset;
	uint16_t gso_size;	/* with a GSO extra, else 0 */
	uint8_t gso_type;	/* VPV_NETIF_GSO_*, 0: no GSO extra */
	bool persistent;	/* a data slot has VPV_NETIF_TXF_PERSISTENT */
};

/*
 * Walk the packet whose slot 0 is s[0], s[0 .. n - 1] being what the
 * ring holds up to req_prod (the caller's copy), and check it against
 * l, classes 1 to 6 in order (the first failing class is the answer;
 * class 7, the grants, is the caller's).  Returns its slot count
 * (1 .. n) with p filled, or 0 when the packet runs past s[n - 1]: a
 * protocol error.  The walk follows MORE and MORE_DATA to their end,
 * at most n slots; every slot of a packet too long is still counted,
 * so that each is answered (class 3).
 */
uint32_t net_tx_check(const union vpv_netif_tx_slot *s, uint32_t n,
		      const struct net_limits *l, struct net_tx_pkt *p);

/* Whether slot j (0 .. p->nslots - 1) of p is a data slot. */
static inline bool net_tx_is_data(const struct net_tx_pkt *p, uint32_t j)
{
	return j == 0 || j > p->nextras;
}

/*
 * The TX response of slot j of p (at s[j] in the caller's copy): its
 * id and the packet's status for a data slot, VPV_NETIF_RSP_NULL for
 * an extra.
 */
static inline struct vpv_netif_tx_rsp
net_tx_rsp(const union vpv_netif_tx_slot *s, const struct net_tx_pkt *p,
	   uint32_t j)
{
	struct vpv_netif_tx_rsp r = {
		.id = s[j].req.id,
		.status = net_tx_is_data(p, j) ? p->status :
			  VPV_NETIF_RSP_NULL,
	};

	return r;
}

/*
 * Fill the ones' complement checksum of buf[start .. len) at
 * buf[start + off] (the field is summed as it stands: the caller's
 * pseudo-header seed, as Linux's CHECKSUM_PARTIAL leaves it), so that
 * the ones' complement sum of buf[start .. len) is then 0xffff; a
 * checksum of 0 is stored as 0xffff (Linux's CSUM_MANGLED_0, for UDP).
 * The caller checked start + off + 2 <= len.
 */
void net_csum_fill(uint8_t *buf, uint32_t len, uint32_t start, uint32_t off);

/*
 * Software TCP segmentation (a switch port's GSO frame for a front-end
 * that does not take that GSO type): split the frame (len bytes,
 * Ethernet + IPv4 or IPv6 + TCP + payload, no VLAN tag, no IPv6
 * extension header) into segments of at most gso_size payload bytes,
 * each with the headers copied and fixed as the host kernel's GSO does
 * (IPv4 total length, id + k and header checksum; IPv6 payload
 * length; TCP sequence + offset, FIN and PSH on the last segment only,
 * CWR on the first only) and its TCP checksum computed in full.  Each
 * is handed to emit(ctx, seg, seglen) from a buffer of at most
 * NET_FRAME_MAX bytes, valid during the call.  Returns the number of
 * segments (at most NET_GSO_SEGS_MAX), or -EINVAL (nothing emitted)
 * for a frame that is not such a TCP frame, whose headers do not fit
 * in it, with no payload, or gso_type not VPV_NETIF_GSO_TCPV4/V6
 * matching its IP version, or a gso_size under VPV_NETIF_MIN_GSO_SIZE
 * (48: at most NET_GSO_SEGS_MAX segments; fuzz_netgso found one of 1
 * making 65000).
 */
#define NET_GSO_SEGS_MAX	(VPV_NETIF_MAX_PACKET / VPV_NETIF_MIN_GSO_SIZE + 1)
int net_gso_segment(const uint8_t *frame, uint32_t len, uint8_t gso_type,
		    uint16_t gso_size,
		    void (*emit)(void *ctx, const uint8_t *seg, uint32_t seglen),
		    void *ctx);

/*
 * RX steering: the queue of a frame from the host (0 .. nq - 1), a hash
 * of its flow so that one flow's frames always take one queue (in
 * order) and several flows spread: IPv4 or IPv6 (behind at most one
 * 802.1Q tag) hashes its addresses, protocol and, for TCP, UDP, SCTP
 * and UDP-Lite not fragmented (IPv4) or right after the fixed header
 * (IPv6), its ports; anything else (ARP, a truncated header) goes to
 * queue 0.  Reads only the first len bytes of frame.
 */
uint32_t net_rx_queue(const uint8_t *frame, uint32_t len, uint32_t nq);
/* The flow hash behind it (0 for what goes to queue 0 as non-IP). */
uint32_t net_flow_hash(const uint8_t *frame, uint32_t len);

/*
 * Per-device bounds of vpv-netback (everything a guest can make it
 * hold).  NET_TX_BUDGET packets taken from one queue's TX ring per
 * turn and NET_RX_BUDGET packets delivered to its RX ring, then
 * be_again(): one queue, or one direction, cannot keep another
 * waiting (Documentation/netif.rst, "Flood and fairness").
 * NET_RX_READS frames read from the tap per complete(), then the
 * process looks at its socket again (the tap stays readable: it comes
 * back).  A batch maps at most BE_MAP_BATCH grants.
 */
#define NET_TX_BUDGET		256u
#define NET_RX_BUDGET		256u
#define NET_RX_READS		64u
/* a ring's entries at most: 4 pages of 16-byte entries */
#define NET_RING_MAX		512u
/* the largest frame read from the tap: a 64 KiB GSO packet */
#define NET_FRAME_MAX		VPV_NETIF_MAX_PACKET

#endif /* VPV_NETBACK_H */
