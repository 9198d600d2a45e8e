/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core <-> vpv-netswitch protocol (Documentation/host-stub.rst,
 * "vpv-netswitch").  One SOCK_SEQPACKET socket per switch process, fd
 * 3 of the process, as for the back-ends (be_proto.h): each message is
 * one packet, a struct be_hdr and the fixed-size body of its type; the
 * header's len is the whole packet.
 *
 * Core -> switch:
 *   INIT      once, first: the version, the switch's name, flags.
 *   PORT_ADD  a port: its id (the core's, unique per switch and never
 *             reused while the switch lives) and, with SCM_RIGHTS, one
 *             fd: the switch's end of the port's socket pair (an
 *             AF_UNIX SOCK_SEQPACKET socket, non-blocking; the other
 *             end is the vif's vpv-netback's).  Each packet on it is
 *             one frame behind a 10-byte struct virtio_net_hdr.
 *   PORT_DEL  the port is gone: close it, forget its MACs.
 * Switch -> core, one-way:
 *   PORT_STATS  a port's counters since its last PORT_STATS and its
 *             gauge (MACs learned now); at most every NSW_STATS_MS.
 * Nothing is answered: the core never waits for the switch.  A switch
 * that sends anything malformed is counted and its message dropped;
 * anything unexpected from the core ends the switch (the core restarts
 * it and hands it every live port again).
 */
#ifndef VPV_NSW_PROTO_H
#define VPV_NSW_PROTO_H

#include <assert.h>
#include <stdint.h>

#include "be_proto.h"

#define NSW_PROTO_VERSION	1u
/* a switch's name: as a tap's, 1..15 of [A-Za-z0-9_-], NUL-terminated */
#define NSW_NAME_MAX		16u
/*
 * Ports per switch: the guests of one stub that share a segment.  The
 * MAC table is NSW_PORTS_MAX x NSW_MACS_PER_PORT entries scanned as
 * 64-bit keys per frame (4 KiB: a few hundred ns), no hash to attack.
 */
#define NSW_PORTS_MAX		32u
/*
 * MACs learned per port: one guest cannot fill the table for the
 * others.  A guest has one address per vif; 16 leaves room for a
 * bridge or containers behind it.  A new one past the cap replaces the
 * port's least recently seen (counted: mac_evicted).
 */
#define NSW_MACS_PER_PORT	16u
/* a learned MAC unseen this long is forgotten (the Linux bridge's 300 s) */
#define NSW_MAC_AGE_MS		300000u
/*
 * Frames taken from one port per round before the next port's turn:
 * a flooding port gets its share, no more.  16 64 KiB GSO frames is
 * 1 MiB, a round of 32 ports a few ms.
 */
#define NSW_BUDGET		16u
/* counters to the core at most this often (each wakes its thread) */
#define NSW_STATS_MS		100u
/*
 * Each direction of a port holds at most this many bytes queued: the
 * sender's SO_SNDBUF (AF_UNIX charges the sender, the kernel doubles
 * the value set: 256 KiB asked is 512 KiB, as VPV_NETIF_RX_BACKLOG_MAX;
 * a 64 KiB GSO frame with its header fits 7 times).  A full one
 * refuses the next frame (EAGAIN): the switch drops it and counts, a
 * netback counts tx_host_dropped.
 */
#define NSW_PORT_SNDBUF		(256u << 10)

enum nsw_msg_type {
	NSW_MSG_INIT = 1,
	NSW_MSG_PORT_ADD = 2,
	NSW_MSG_PORT_DEL = 3,
	NSW_MSG_PORT_STATS = 16,
};

#define NSW_INIT_SECCOMP_OFF	0x1u	/* debugging only, never by the core */

struct nsw_msg_init {
	struct be_hdr h;
	uint32_t version;	/* NSW_PROTO_VERSION */
	uint32_t flags;		/* NSW_INIT_* */
	char name[NSW_NAME_MAX];
};

struct nsw_msg_port {		/* PORT_ADD (+ 1 fd), PORT_DEL */
	struct be_hdr h;
	uint32_t port;
	uint32_t pad;
};

/*
 * A port's counters (deltas since the last PORT_STATS) and its gauge.
 * in: frames read from the port; bad: of those, dropped as malformed
 * (nsw_frame_check()); unicast: sent to the one port that learned their
 * destination; flooded: sent to every other port (broadcast,
 * multicast, unknown destination); local: dropped because their
 * destination was learned on this same port; out: frames written to
 * this port; dropped: frames for this port it had no room for (its
 * queue full); mac_evicted: MACs it replaced past its cap.
 */
struct nsw_port_stats {
	uint64_t in, bad, unicast, flooded, local, out, dropped, mac_evicted;
	uint64_t macs;		/* gauge: learned on this port now */
};

#define NSW_COUNTERS	8u

static_assert(sizeof(struct nsw_port_stats) ==
	      (NSW_COUNTERS + 1) * sizeof(uint64_t),
	      "nsw_port_stats: counters, then the gauge");

struct nsw_msg_stats {
	struct be_hdr h;
	uint32_t port;
	uint32_t pad;
	struct nsw_port_stats s;
};

#endif /* VPV_NSW_PROTO_H */
