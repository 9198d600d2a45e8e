/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core's part of the split network device "vif" (vif.c): open the
 * tap for vpv-ctl device add, and write the device's static back-end
 * keys (abi/vpv_netif.h, Documentation/netif.rst).  No packet is ever
 * handled here: the back-end process vpv-netback does that.
 */
#ifndef VPV_VIF_H
#define VPV_VIF_H

#include <stdbool.h>
#include <stdint.h>

#include "be_proto.h"
#include "vpv_netif.h"

struct bus_dev;
struct bus_feature;

/*
 * vpv-ctl device add GUEST vif ID --tap NAME | --switch NAME [--mac M]
 * [--mtu N] [--rate BYTES/S] [--queues N]
 */
struct vif_opts {
	const char *tap;	/* an existing tap, or the name of a new one */
	const char *sw;		/* or a switch (vswitch.c): one of the two */
	const char *mac;	/* NULL: derived from the domid and ID */
	uint32_t mtu;		/* 0: VPV_NETIF_DEFAULT_MTU */
	uint64_t rate;		/* TX bytes/s; 0: no limit */
	uint32_t queues;	/* multi-queue-max-queues; 0: VIF_QUEUES */
};

/*
 * Rings offered: the ABI's largest (4 pages, 512 entries).  The
 * front-end picks its order within its own grant budget
 * (Documentation/netif.rst, "Multi-queue"); the back-end's cost is the
 * 8 ring pages per queue it maps (BE_VIF_RING_MAPS) and a 512-entry
 * RX ring lets a front-end keep about 30 64 KiB packets' worth of
 * buffers posted, where 128 entries hold 7.
 */
#define VIF_RING_ORDER		VPV_NETIF_MAX_RING_ORDER
/*
 * Queues offered without --queues: 4.  The front-end takes at most its
 * online CPUs of them; each costs the guest 2 x 2^O ring pages and its
 * buffers' grants, the back-end a port (BE_PORTS_MAX) and 8 ring maps
 * (BE_VIF_RING_MAPS covers 8 queues).  Four leave the guest's grant
 * table room for block devices beside (Documentation/netif.rst,
 * "Multi-queue"); --queues goes up to VPV_NETIF_MAX_QUEUES.
 */
#define VIF_QUEUES		4u
static_assert(VPV_NETIF_MAX_QUEUES <= BE_PORTS_MAX, "a port per queue");
/* sizeof(struct virtio_net_hdr): no mergeable RX buffers on the tap */
#define VIF_VNET_HDR_LEN	10

/* The keys every vif device advertises (before vif_setup's). */
extern const struct bus_feature vif_features[];

/*
 * Parse "aa:bb:cc:dd:ee:ff" (hex digits of either case, exactly two
 * per octet) into mac: 0, or -EINVAL if malformed, multicast (bit 0 of
 * the first octet) or all zero.
 */
int vif_parse_mac(const char *s, uint8_t mac[6]);
/*
 * The address of a device without --mac: a locally administered
 * unicast one, 02:76:DH:DL:IH:IL from its guest's domid and its ID,
 * the same on every add of that device.
 */
void vif_default_mac(uint32_t domid, uint32_t id, uint8_t mac[6]);
/*
 * Parse a --rate: bytes per second, with an optional binary K, M or G
 * suffix, "0" for no limit, otherwise BE_VIF_RATE_MIN ..
 * BE_VIF_RATE_MAX.  0 or -EINVAL.
 */
int vif_parse_rate(const char *s, uint64_t *rate);
/*
 * Check o and open its tap into p (p->fds[0], close-on-exec and
 * non-blocking, owned by p): /dev/net/tun with TUNSETIFF IFF_TAP |
 * IFF_NO_PI | IFF_VNET_HDR on o->tap (an existing tap of that name in
 * vpv-host's network namespace, or a new one, which goes with the
 * last fd of it), and a vnet header of VIF_VNET_HDR_LEN bytes.
 * 0 or -errno (-EINVAL: bad name, MAC, MTU, rate or queue count
 * (1 .. VPV_NETIF_MAX_QUEUES, 0: VIF_QUEUES); -EBUSY: the tap is
 * attached elsewhere); nothing is left open on failure.
 */
int vif_open(const struct vif_opts *o, struct be_params *p);
/*
 * With o->sw instead of o->tap, vif_open() makes the device's port of
 * switch o->sw: an AF_UNIX SOCK_SEQPACKET socket pair, non-blocking
 * and close-on-exec, each end's SO_SNDBUF NSW_PORT_SNDBUF (forced: the
 * core is root; the bound of each direction's queue): p->fds[0] for
 * vpv-netback, p->fds[1] for the switch (beproc.c moves it there),
 * BE_VIF_SWITCH set, the name in p->vif.tap.  -EINVAL for a bad name.
 */
/*
 * The bus driver's setup: check p, set the tap's MTU to p's (the
 * back-end process cannot: it has no socket and no capability; a switch
 * port has no MTU, its netbacks check the frames), write
 * the static keys of d ("mac", "mtu", "multi-queue-max-queues", and
 * "rate" with a rate; a max_queues of 0 is VIF_QUEUES).
 * 0 or -errno.
 */
int vif_setup(struct bus_dev *d, const struct be_params *p);

#endif /* VPV_VIF_H */
