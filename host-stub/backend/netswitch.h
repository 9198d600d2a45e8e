/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpv-netswitch's frame check and forwarding decision (netswitch.c),
 * declared here so that the unit test and the fuzz harness
 * (fuzz/fuzz_netswitch.c) call them without sockets.  The process's
 * loop around them: netswitch.c; the protocol: src/devices/nsw_proto.h;
 * Documentation/host-stub.rst, "vpv-netswitch".
 */
#ifndef VPV_NETSWITCH_H
#define VPV_NETSWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsw_proto.h"
#include "vpv_netif.h"

/* sizeof(struct virtio_net_hdr): every frame on a port is behind one */
#define NSW_VNET_HDR		10u
/* the largest packet on a port: a header and a 64 KiB GSO frame */
#define NSW_PKT_MAX		(NSW_VNET_HDR + VPV_NETIF_MAX_PACKET)

/*
 * Check one packet read from a port (n bytes at b, the header then the
 * frame) as untrusted: 0, or -EINVAL (counted "bad", dropped).  The
 * rules are those vpv-netback applies to what it writes (netif.rst,
 * "Validation", classes 5 and 6): a frame of 14 bytes at least; the
 * header's flags NEEDS_CSUM or DATA_VALID, not both, nothing else; a
 * checksum start of 14 or more with start + offset + 2 inside the
 * frame, or both 0 without NEEDS_CSUM; GSO TCPv4 or TCPv6 only (no
 * ECN), with NEEDS_CSUM and a gso_size of 48 .. 9000 and a frame of
 * at most 64 KiB, or no GSO, gso_size 0 and a frame of at most
 * 9000 + 18 bytes; hdr_len within the frame; a source MAC that is
 * unicast and not 0 (it is learned).
 */
int nsw_frame_check(const uint8_t *b, size_t n);

/* A MAC as a table key: its 6 bytes, and bit 48 set (0: empty). */
static inline uint64_t nsw_mac_key(const uint8_t *mac)
{
	uint64_t k = 1ull << 48;
	unsigned int i;

	for (i = 0; i < 6; i++)
		k |= (uint64_t)mac[i] << (8 * (5 - i));
	return k;
}

struct nsw_port {
	bool used;
	int fd;			/* the process's; -1 in the fuzz harness */
	uint32_t id;		/* the core's */
	struct nsw_port_stats st;	/* since the last PORT_STATS */
	bool dirty;		/* st changed since then */
	/* its learned MACs (nsw_mac_key(), 0: free) and when last seen */
	uint64_t mac[NSW_MACS_PER_PORT];
	uint64_t seen_ms[NSW_MACS_PER_PORT];
};

struct nsw {
	struct nsw_port port[NSW_PORTS_MAX];
	uint32_t rr;		/* the port whose turn comes first */
};

enum nsw_verdict {
	NSW_BAD,		/* malformed: dropped */
	NSW_LOCAL,		/* its destination is on its own port: dropped */
	NSW_UNICAST,		/* to *dst */
	NSW_FLOOD,		/* to every used port but the source */
};

/*
 * The decision for a packet read from port src (used) at now_ms:
 * check it (nsw_frame_check()), learn its source MAC on src (moving it
 * from another port, or replacing src's least recently seen one past
 * NSW_MACS_PER_PORT), and look its destination up: a group address or
 * one not learned (or aged out, NSW_MAC_AGE_MS) floods.  Counts "in",
 * "bad", "unicast", "flooded", "local" and "mac_evicted" on src; the
 * caller counts "out" and "dropped" as it writes.
 */
enum nsw_verdict nsw_decide(struct nsw *s, uint32_t src, const uint8_t *b,
			    size_t n, uint64_t now_ms, uint32_t *dst);

/* Forget port i's MACs and counters (a PORT_DEL, or a new PORT_ADD). */
void nsw_port_reset(struct nsw *s, uint32_t i);

/* The MACs learned on port i now (its gauge). */
uint32_t nsw_port_macs(const struct nsw *s, uint32_t i);

#endif /* VPV_NETSWITCH_H */
