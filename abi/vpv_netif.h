/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * vif: the split network device (Xen's io/netif.h, reduced and made
 * explicit).  Front-end: netfront/vnetfront.c (vnetfront.ko, a
 * multi-queue NAPI netdev).  Back-end: the vpv-netback process
 * (host-stub/backend/netback.c), sandboxed as vpv-blkback is.  Both are
 * still to be written (issue 14): this protocol is specified ahead of
 * them, and Documentation/netif.rst lists what they may still change.
 * That page describes every field; this header is the contract and is
 * kept in step with it.
 *
 * Back-end keys (written when the device is created, before InitWait;
 * decimal unless said otherwise).  A feature-* key of the back-end says
 * what it accepts on TX; absent reads 0:
 *   mac                     "aa:bb:cc:dd:ee:ff": six two-digit
 *                           lower-case hex octets, unicast (bit 0 of
 *                           the first clear), not all zero; fixed for
 *                           the device's life
 *   mtu                     the largest MTU the host side carries,
 *                           VPV_NETIF_MIN_MTU .. VPV_NETIF_MAX_MTU
 *                           (absent: VPV_NETIF_DEFAULT_MTU)
 *   feature-sg              TX packets of more than one data slot
 *   feature-csum            VPV_NETIF_TXF_CSUM_BLANK: the back-end
 *                           fills the checksum csum_start/csum_offset
 *                           name (any protocol)
 *   feature-gso-tcpv4       a GSO extra of type VPV_NETIF_GSO_TCPV4
 *   feature-gso-tcpv6       a GSO extra of type VPV_NETIF_GSO_TCPV6
 *   multi-queue-max-queues  queues the back-end serves, 1 ..
 *                           VPV_NETIF_MAX_QUEUES
 *   max-ring-page-order     log2 of the most pages per ring, 0 ..
 *                           VPV_NETIF_MAX_RING_ORDER
 *   rate                    "BYTES,USEC" (Xen's key): the back-end
 *                           sends at most BYTES of TX every USEC;
 *                           absent: no limit.  For information only:
 *                           a front-end needs to do nothing with it
 *                           (TX beyond it waits on the ring)
 *   feature-persistent      1: it can keep RX buffers' grants mapped
 *                           for the connection (below)
 *   feature-persistent-tx   1: it accepts VPV_NETIF_TXF_PERSISTENT
 *                           data slots and may keep their grants
 *                           mapped for the connection (below)
 * The front-end uses a TX feature only when its key is non-zero; the
 * back-end reads its keys again at each connect (an admin may have
 * turned one off) and refuses a packet that needs one it does not
 * offer then (-VPV_EOPNOTSUPP, validation class 2 below).
 *
 * Front-end keys, then state Initialised.  A feature-* key of the
 * front-end says what it accepts on RX; absent reads 0:
 *   multi-queue-num-queues  Q, 1 .. multi-queue-max-queues (absent: 1)
 *   ring-page-order         O, 0 .. max-ring-page-order (absent: 0)
 *   q<q>-tx-ring-ref<p>     grant of page p (0 .. 2^O - 1) of queue q's
 *                           TX ring (q 0 .. Q - 1), "q0-tx-ring-ref0"
 *   q<q>-rx-ring-ref<p>     the same for queue q's RX ring
 *   q<q>-event-channel      queue q's port: both of its rings, both
 *                           directions (one port per queue, not one
 *                           per ring: Documentation/netif.rst says why;
 *                           two queues naming one port fail the
 *                           connect)
 *   q<q>-vector             optional (ABI 1.5, VPV_F_CPU_VECTORS): the
 *                           vector, VPV_VEC_CPU0 .. VPV_VEC_CPU0 +
 *                           VPV_NR_CPU_VECTORS - 1, the back-end rings
 *                           (after raising q<q>-event-channel) when it
 *                           pushes responses on either ring of queue q:
 *                           the vector of the CPU that polls q.
 *                           Absent: VPV_VEC_EVTCHN.  Any other value:
 *                           the connect fails (-EINVAL).  Same rules as
 *                           blkif's q<q>-vector.
 *   request-rx-copy         1: RX is by copy into the front-end's
 *                           buffers, the only mode; anything else (or
 *                           absent) fails the connect (-EOPNOTSUPP)
 *   feature-sg              RX packets of more than one data slot
 *   feature-csum            RX packets with VPV_NETIF_RXF_CSUM_BLANK
 *   feature-gso-tcpv4       RX packets with a GSO extra of that type
 *   feature-gso-tcpv6       the same for VPV_NETIF_GSO_TCPV6
 *   mtu                     the interface's MTU, VPV_NETIF_MIN_MTU ..
 *                           the back-end's mtu (absent: the smaller of
 *                           VPV_NETIF_DEFAULT_MTU and that); rewritten
 *                           whenever it changes, without a reconnect
 *   feature-persistent      1, only with the back-end's: every RX
 *                           buffer's grant stays granted writable to
 *                           the same frame for the connection, so the
 *                           back-end may keep it mapped until the
 *                           disconnect (blkif's persistent grants, for
 *                           RX buffers only); absent or 0: each buffer
 *                           mapped for one packet
 * (The front-end writes no key for persistent TX buffers: the slot flag
 * VPV_NETIF_TXF_PERSISTENT says it, packet by packet.)
 * A connect is also refused (the device goes Closing) when Q or O is
 * out of range, a ring reference or port is missing or not decimal, mtu
 * is out of range, a ring page cannot be mapped writable or a port
 * cannot be bound (a port per queue).  GSO needs CSUM_BLANK: a GSO feature counts only
 * with feature-csum on the same side.
 *
 * Rings: per queue one TX ring (front-end -> back-end packets, each
 * slot answered) and one RX ring (empty buffers posted by the
 * front-end, answered with received packets), each 2^O pages granted
 * in order and VPV_RING_ENTRIES(16, 2^O * 4096) entries: 128 for one
 * page, 512 for four.  Indices, barriers and notification hold-off are
 * vpv_ring.h's.  A notification on q<q>-event-channel means "look at
 * both rings of queue q"; the back-end serves every ring of the device
 * on any kick.  The front-end notifies after posting RX buffers too
 * (when vpv_front_push_requests() says so): the back-end relies on it.
 *
 * Every slot, data or extra, starts with a 16-bit id that its response
 * echoes: a TX response names the request slot it answers, an RX
 * response or extra names the buffer (RX request) it used.  Ids are
 * the front-end's, unique among its slots in flight on that ring; the
 * back-end never interprets them.
 *
 * A packet, on either ring, is a run of slots:
 *   data slot 0           flags VPV_NETIF_[TR]XF_*: the packet's
 *   [extra 1 .. n]        if slot 0 has EXTRA_INFO: extras, each with
 *                         VPV_NETIF_EXTRAF_MORE but the last
 *   [data slot 1 .. k]    if slot 0 has MORE_DATA: more data slots,
 *                         each with MORE_DATA but the last
 * Each data slot carries its own bytes (size); the packet is their
 * concatenation in order, its length their sum (no slot's size is
 * derived, unlike Xen's first TX slot).  A side publishes whole packets:
 * the index moves past a packet's last slot in one store.  The same
 * flag bits mean the same in both directions (Xen's differ).
 *
 * TX, the back-end: it copies a packet's slots once from the ring
 * (every check and use reads that copy), checks them in this order and
 * answers every data slot with the first failing class's status, every
 * extra slot with VPV_NETIF_RSP_NULL, counting the class:
 *   P  a packet whose slots run past req_prod, req_prod more than a
 *      ring ahead, a ring page that faults: a protocol error, the
 *      back-end stops serving the device, which goes Closing
 *      (bus_protocol_errors); nothing else is
 *   1  -VPV_EINVAL      malformed (tx_malformed): a flag outside
 *      VPV_NETIF_TXF_ALL; a later data slot with a flag but MORE_DATA
 *      and PERSISTENT;
 *      CSUM_BLANK with DATA_VALIDATED; csum_start or csum_offset
 *      non-zero other than on slot 0 with CSUM_BLANK; an extra whose
 *      type is 0 or not below VPV_NETIF_EXTRA_MAX, with a flag but
 *      MORE, non-zero pad, a type twice, more than VPV_NETIF_MAX_EXTRAS
 *      extras; a GSO extra whose gso.type is not TCPV4 or TCPV6
 *   2  -VPV_EOPNOTSUPP  not offered now (tx_not_offered): more than one
 *      data slot without feature-sg, CSUM_BLANK without feature-csum,
 *      a GSO type whose feature-gso-* is 0, a data slot with
 *      PERSISTENT without feature-persistent-tx
 *   3  -VPV_E2BIG       more than VPV_NETIF_MAX_SLOTS data slots
 *      (tx_too_many_slots)
 *   4  -VPV_EINVAL      a data slot of size 0, offset above 4095 or
 *      offset + size above 4096 (tx_bad_slot)
 *   5  -VPV_EINVAL      length below VPV_NETIF_MIN_FRAME; -VPV_E2BIG
 *      above mtu + VPV_NETIF_HDR_MAX without GSO, above
 *      VPV_NETIF_MAX_PACKET with it (tx_bad_length); mtu is the
 *      back-end's, here and in class 6
 *   6  -VPV_EINVAL      offload fields (tx_bad_offload): CSUM_BLANK
 *      with csum_start below VPV_NETIF_MIN_FRAME or csum_start +
 *      csum_offset + 2 above the length; GSO without CSUM_BLANK;
 *      gso.size below VPV_NETIF_MIN_GSO_SIZE or above mtu
 *   7  -VPV_EPERM       a data slot's grant not readable by the host
 *      (tx_bad_grant)
 *   0                   accepted: copied out of the guest's frames.
 *      What the host side then does with it (sends it, drops it) is
 *      counted on the host, not reported, as a NIC does not.
 * The back-end needs to parse no header of a guest's packet: csum_start
 * and csum_offset say where the checksum goes and the host side
 * segments GSO packets (a back-end that does it in software parses its
 * own copy, within classes 4 to 6).
 *
 * RX, the back-end: each slot uses the next posted buffer; a packet is
 * delivered whole (never part of one: it waits until enough buffers are
 * posted) and obeys the limits of classes 1 to 6 and the front-end's
 * feature-* keys; a packet the front-end does not accept is segmented
 * or checksummed by the back-end, or dropped and counted.  A packet
 * waits at most VPV_NETIF_RX_DRAIN_MS for buffers and a queue holds at
 * most VPV_NETIF_RX_BACKLOG_MAX bytes waiting, whatever the ring's free
 * slots: beyond that the back-end drops (Xen's XSA-392).  A buffer
 * whose pad is not 0 is answered alone with -VPV_EINVAL, one whose
 * grant the host cannot write with -VPV_EPERM (size 0, flags 0).
 *
 * RX with feature-persistent on both ends: the front-end never ends a
 * buffer's grant while connected; it posts a buffer's grant again once
 * it is done with the page (copied out, or lent to its stack and given
 * back: never while the stack holds it); the back-end keeps the first
 * writable map of each (a bounded number) until the disconnect.  A
 * kept grant's entry pointed elsewhere changes nothing (the frame
 * first mapped is written); one that cannot be mapped is answered
 * -VPV_EPERM as above.
 *
 * Persistent TX buffers (the back-end's feature-persistent-tx): a data
 * slot flagged VPV_NETIF_TXF_PERSISTENT names one of the front-end's
 * TX buffers whose grant stays granted readable to the same frame for
 * the connection; the front-end copies a packet into such buffers
 * (small ones: the copy costs less than a map) and never ends their
 * grants while connected.  The back-end may keep the first readable
 * map of each (a bounded number, BE_VIF_PERSISTENT_MAX with the RX
 * buffers' per device) until the disconnect, so a batch of such slots
 * makes no GRANT_MAP, unmap or SYNC; the same rules as for RX apply (an
 * entry pointed elsewhere changes nothing, one that cannot be mapped
 * fails the packet, class 7).  Slots without the flag are mapped per
 * packet.  A kept writable RX map of the same reference serves a TX
 * read too; a kept read-only TX map never serves an RX buffer.
 *
 * RX, the front-end trusts nothing on the ring: it reads each response
 * once; an impossible rsp_prod takes the device down (Closing, as
 * blkfront); any other bogus response (an id not posted, a slot or
 * packet outside the rules above, a packet cut short at rsp_prod) is
 * dropped with the packet it is in, its buffers posted again, and
 * counted: Documentation/netif.rst, "Bogus responses".
 *
 * TX responses: id and status; VPV_NETIF_RSP_NULL for an extra slot,
 * else 0 or one of the -VPV_E* above.  A front-end ignores (and counts)
 * an id not in flight, and takes any other status as a failed packet.
 */
#ifndef VPV_NETIF_H
#define VPV_NETIF_H

#include <linux/types.h>
#include "vpv_abi.h"
#include "vpv_ring.h"

/* TX flags (struct vpv_netif_tx_req) and RX flags (vpv_netif_rx_rsp) */
#define VPV_NETIF_TXF_CSUM_BLANK	0x1	/* checksum to fill (csum_*) */
#define VPV_NETIF_TXF_DATA_VALIDATED	0x2	/* checksums known good */
#define VPV_NETIF_TXF_MORE_DATA		0x4	/* another data slot follows */
#define VPV_NETIF_TXF_EXTRA_INFO	0x8	/* extras follow slot 0 */
/* any data slot, with feature-persistent-tx: a persistent TX buffer */
#define VPV_NETIF_TXF_PERSISTENT	0x10
#define VPV_NETIF_TXF_ALL		0x1f

#define VPV_NETIF_RXF_CSUM_BLANK	VPV_NETIF_TXF_CSUM_BLANK
#define VPV_NETIF_RXF_DATA_VALIDATED	VPV_NETIF_TXF_DATA_VALIDATED
#define VPV_NETIF_RXF_MORE_DATA		VPV_NETIF_TXF_MORE_DATA
#define VPV_NETIF_RXF_EXTRA_INFO	VPV_NETIF_TXF_EXTRA_INFO
#define VPV_NETIF_RXF_ALL		0xf	/* no PERSISTENT on RX */

/* Extra slots */
#define VPV_NETIF_EXTRA_GSO		1	/* u.gso */
#define VPV_NETIF_EXTRA_MAX		2	/* types are 1 .. this - 1 */
#define VPV_NETIF_EXTRAF_MORE		0x1	/* another extra follows */
/* one extra of each type at most */
#define VPV_NETIF_MAX_EXTRAS		(VPV_NETIF_EXTRA_MAX - 1)

#define VPV_NETIF_GSO_TCPV4		1
#define VPV_NETIF_GSO_TCPV6		2

/* TX response status of an extra slot (data slots: 0 or -VPV_E*) */
#define VPV_NETIF_RSP_NULL		1

/*
 * 18 data slots: a 64 KiB packet in 4 KiB frames needs 16 when
 * aligned, 17 when not, 18 with its headers in a slot of their own;
 * Xen's XEN_NETIF_NR_SLOTS_MIN.  A front-end linearises a packet that
 * would need more.
 */
#define VPV_NETIF_MAX_SLOTS		18
/* 64 KiB, frame headers included: Linux's GSO_LEGACY_MAX_SIZE */
#define VPV_NETIF_MAX_PACKET		65536
/* jumbo frames as hosts' NICs and bridges commonly take them */
#define VPV_NETIF_MAX_MTU		9000
#define VPV_NETIF_MIN_MTU		68	/* IPv4's minimum (RFC 791) */
#define VPV_NETIF_DEFAULT_MTU		1500	/* Ethernet's */
/* a frame's header: Ethernet (14) and one 802.1Q tag (4) */
#define VPV_NETIF_HDR_MAX		18
#define VPV_NETIF_MIN_FRAME		14	/* an Ethernet header */
/*
 * Without SG a packet is one slot, at most 4096 bytes: the largest MTU
 * a front-end then uses.
 */
#define VPV_NETIF_NOSG_MAX_MTU		(VPV_PAGE_SIZE - VPV_NETIF_HDR_MAX)
/*
 * Linux's smallest TCP MSS (TCP_MIN_SND_MSS): a GSO packet then makes
 * at most 1366 segments, its output at most about twice its size.
 */
#define VPV_NETIF_MIN_GSO_SIZE		48
/* one queue per per-CPU vector of ABI 1.5 (VPV_NR_CPU_VECTORS) */
#define VPV_NETIF_MAX_QUEUES		8
/*
 * 4 pages, 512 entries, as blkif's largest ring: 8 queues of two such
 * rings hold 8192 grants in flight, the stub's whole grant table.
 */
#define VPV_NETIF_MAX_RING_ORDER	2
/*
 * The most a back-end holds for one RX queue that lacks buffers (Xen's
 * netback: 512 KiB), and for how long, before it drops (XSA-392).
 */
#define VPV_NETIF_RX_BACKLOG_MAX	(512u * 1024)
#define VPV_NETIF_RX_DRAIN_MS		1000

/* A TX data slot (16 bytes) */
struct vpv_netif_tx_req {
	__u16 id;		/* echoed in this slot's response */
	/* VPV_NETIF_TXF_*; later slots: MORE_DATA, PERSISTENT only */
	__u16 flags;
	__u32 gref;		/* grant of the 4 KiB frame holding the bytes */
	__u16 offset;		/* first byte in the frame, 0 .. 4095 */
	__u16 size;		/* bytes in this slot, 1 .. 4096 - offset */
	/* slot 0 with CSUM_BLANK, else 0: from the packet's first byte to
	 * where the ones' complement sum starts (it runs to the end), and
	 * from there to where it is stored (16 bits)
	 */
	__u16 csum_start;
	__u16 csum_offset;
};

/*
 * An extra slot (16 bytes), after data slot 0 with EXTRA_INFO, on
 * either ring.  TX: id is the front-end's for this slot (answered
 * VPV_NETIF_RSP_NULL); RX: the buffer it used up (to post again).
 */
struct vpv_netif_extra {
	__u16 id;
	__u8 type;		/* VPV_NETIF_EXTRA_* */
	__u8 flags;		/* VPV_NETIF_EXTRAF_MORE */
	__u32 pad;		/* 0 */
	union {
		struct {
			__u16 size;	/* MSS: TCP payload bytes a segment */
			__u8 type;	/* VPV_NETIF_GSO_* */
			__u8 pad;	/* 0 */
			__u32 pad2;	/* 0 */
		} gso;
		__u8 raw[8];
	} u;
};

union vpv_netif_tx_slot {
	struct vpv_netif_tx_req req;
	struct vpv_netif_extra extra;
};

struct vpv_netif_tx_rsp {
	__u16 id;		/* the slot's */
	__s16 status;		/* 0, -VPV_E*, VPV_NETIF_RSP_NULL (extras) */
};

/* An RX buffer the front-end posts (8 bytes) */
struct vpv_netif_rx_req {
	__u16 id;		/* echoed by the slot that uses the buffer */
	__u16 pad;		/* 0 (else answered -VPV_EINVAL) */
	__u32 gref;		/* a 4 KiB frame, granted writable */
};

/* An RX data slot (16 bytes) */
struct vpv_netif_rx_rsp {
	__u16 id;		/* the buffer's */
	__u16 flags;		/* VPV_NETIF_RXF_*; later slots: MORE_DATA */
	__u16 offset;		/* first byte in the buffer, 0 .. 4095 */
	__u16 size;		/* bytes, 1 .. 4096 - offset; 0 with status */
	__s16 status;		/* 0, or -VPV_E*: the buffer was not used */
	__u16 csum_start;	/* slot 0 with CSUM_BLANK, else 0: as TX */
	__u16 csum_offset;
	__u16 pad;		/* 0 */
};

union vpv_netif_rx_slot {
	struct vpv_netif_rx_rsp rsp;
	struct vpv_netif_extra extra;
};

VPV_RING_DECLARE(vpv_netif_tx, union vpv_netif_tx_slot,
		 struct vpv_netif_tx_rsp);
VPV_RING_DECLARE(vpv_netif_rx, struct vpv_netif_rx_req,
		 union vpv_netif_rx_slot);

/* Layout checks (vpv_abi.h brings static_assert to both sides). */
static_assert(sizeof(struct vpv_netif_tx_req) == 16, "vpv_netif_tx_req size");
static_assert(sizeof(struct vpv_netif_extra) == 16, "vpv_netif_extra size");
static_assert(sizeof(struct vpv_netif_tx_rsp) == 4, "vpv_netif_tx_rsp size");
static_assert(sizeof(struct vpv_netif_rx_req) == 8, "vpv_netif_rx_req size");
static_assert(sizeof(struct vpv_netif_rx_rsp) == 16, "vpv_netif_rx_rsp size");
static_assert(sizeof(union vpv_netif_tx_entry) == 16, "vpv_netif_tx entry");
static_assert(sizeof(union vpv_netif_rx_entry) == 16, "vpv_netif_rx entry");
static_assert(__builtin_offsetof(struct vpv_netif_extra, u) == 8,
	      "vpv_netif_extra layout");

#endif /* VPV_NETIF_H */
