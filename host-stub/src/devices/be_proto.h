/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core <-> back-end process protocol (Documentation/host-stub.rst,
 * "Back-end processes").  One SOCK_SEQPACKET socket per back-end
 * process: each message is one packet, a struct be_hdr followed by the
 * fixed-size body of its type; the header's len is the whole packet.
 * All fields are little-endian (both ends run on the same host).
 *
 * A packet whose size is not exactly that of its type, or whose len
 * disagrees with it, is refused: a request is answered BE_MSG_REPLY
 * with -EINVAL (unknown type: -EBADMSG), a one-way message is dropped;
 * both are counted (backend_bad_msgs) and the core keeps running.
 *
 * Core -> back-end:
 *   INIT        once, first, with SCM_RIGHTS { guest RAM fd, kick
 *               eventfd, the guest's event interrupt eventfd, the
 *               shared region (for its event-channel page at
 *               evtchn_offset), the guest's VPV_NR_CPU_VECTORS per-CPU
 *               interrupt eventfds, then nr_fds device fds (vbd: the
 *               image, the COW overlay; vif: the tap, or its switch
 *               port, BE_VIF_SWITCH) }.  No answer.
 *   CONNECT     the front-end is ready: read its keys, map, bind, then
 *               answer CONNECT_DONE (same seq) with 0 or -errno.
 *   DISCONNECT  drop everything; answer DISCONNECT_DONE (same seq).
 *               The core then unmaps whatever grant the device still
 *               holds and unbinds its port.
 *   REPLY       the answer to a request (same seq).
 *   RESIZE      vbd: set the capacity to size bytes (ftruncate, or the
 *               overlay's virtual size) and rewrite "sectors"; answered
 *               RESIZE_DONE (same seq) with 0 or -errno.
 * At most one CONNECT and one DISCONNECT are unanswered at a time (the
 * core queues the next one).  A CONNECT or DISCONNECT not answered
 * within BE_REPLY_TIMEOUT_MS gets the process killed.
 *
 * Back-end -> core, requests (answered REPLY, same seq):
 *   STORE_READ   key of its front-end or back-end directory.
 *   STORE_WRITE  key of its back-end directory (not "state",
 *                "frontend", "frontend-id": the core's).
 *   GRANT_MAP    1..BE_MAP_BATCH grant references of its guest; per
 *                entry a status, a handle and the frame's offset in
 *                the guest RAM fd.  At most the device type's cap
 *                (BE_MAPS_VLOOP, BE_MAPS_VBD, BE_MAPS_VIF) maps per
 *                device at a time: one more is -ENOSPC.
 *   BIND_PORT    bind one of the device's event channels: one per
 *                device, up to BE_PORTS_MAX for a vif (a port per
 *                netif queue); one more is -EEXIST.  The first bound
 *                has the device's doorbell (the kick fd); the guest's
 *                notifications of the others reach the kick fd through
 *                the core (VPV_VEC_EVTCHN, a wake-up of its thread).
 *   SYNC         nothing; answered once every message sent before it
 *                has been handled (the core handles them in order): a
 *                back-end's GRANT_UNMAPs are done when SYNC returns.
 *                Any request's REPLY says the same (belib.c's rpc()
 *                then skips the next SYNC).
 * Back-end -> core, one-way:
 *   GRANT_UNMAP  1..BE_MAP_BATCH handles.
 *   UNBIND_PORT  a bound port (a back-end unbinds each it bound).
 *   PROTOCOL_ERROR  the front-end broke the ring protocol: the device
 *                goes Closing (counted), the core sends DISCONNECT.
 *   CONNECT_DONE, DISCONNECT_DONE  answers to the core's commands.
 *   STATS        requests served / refused since the last STATS.
 *   BLK_STATS    vbd: counters since the last BLK_STATS, and gauges.
 *   RESIZE_DONE  the answer to RESIZE.
 *   NET_STATS    vif: counters since the last NET_STATS, and gauges.
 * The kick eventfd is written by the core when the guest notifies one
 * of the device's ports.  The back-end raises its bound ports itself: the
 * pending and selector bits in the event-channel page, then a write of
 * the guest's interrupt eventfd (as the core's evtchn_raise() does;
 * through the core it cost a wake-up of its thread per response): the
 * VPV_VEC_EVTCHN one, or the per-CPU vector its front-end named for the
 * queue it answers (ABI 1.5, blkif's "q<q>-vector").
 */
#ifndef VPV_BE_PROTO_H
#define VPV_BE_PROTO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "vpv_abi.h"
#include "vpv_util.h"

/*
 * 2: INIT carries device fds and parameters; RESIZE, BLK_STATS.
 * 4: INIT carries the guest's per-CPU vector eventfds (ABI 1.5).
 * 5: INIT carries a vif's parameters (struct be_vif_init) and its tap
 *    as device fd 0; NET_STATS.
 * 6: a vif's TX rate in INIT (be_vif_init.rate), tx_rate_waits.
 * 7: a vif's device fd may be a switch port (BE_VIF_SWITCH).
 * 8: BIND_PORT binds up to BE_PORTS_MAX ports of a vif (one per
 *    queue); be_vif_init.max_queues.
 */
#define BE_PROTO_VERSION	8u
/*
 * Ports one back-end process may bind: a vif's queues, each with its
 * own port (VPV_NETIF_MAX_QUEUES, vif.h checks it); vloop and vbd bind
 * one (blkif has one port per device).
 */
#define BE_PORTS_MAX		8u
#define BE_KEY_MAX		64u	/* a key name, NUL included */
#define BE_VAL_MAX		256u	/* a store value (ring-ref, ports...) */
#define BE_PATH_MAX		96u	/* the device's directories */
#define BE_TYPE_MAX		16u
/*
 * Grant maps one back-end may hold, per device type, so that one
 * device cannot pin a guest's frames without bound.
 * vloop: a ring (1), VPV_VLOOP_MAX_HELD (16) test holds and two per
 * request in flight, with room to spare.
 * vbd: every ring page (VPV_BLKIF_MAX_QUEUES 8 x 16 pages = 128), the
 * persistent grants it keeps (BE_VBD_PERSISTENT_MAX) and the maps of
 * requests in flight (BE_VBD_TRANSIENT_MAX: four requests of 256
 * indirect segments); a quarter of the 8192-entry table.
 */
#define BE_MAPS_VLOOP		64u
#define BE_MAPS_MAX		BE_MAPS_VLOOP	/* the first type's, tests */
/* Xen blkback's default max_persistent_grants: 32 requests x 11 x 3 */
#define BE_VBD_PERSISTENT_MAX	1056u
#define BE_VBD_RING_MAPS	128u
#define BE_VBD_TRANSIENT_MAX	1024u
#define BE_MAPS_VBD	(BE_VBD_RING_MAPS + BE_VBD_PERSISTENT_MAX + \
			 BE_VBD_TRANSIENT_MAX)
/*
 * vif: every ring page (VPV_NETIF_MAX_QUEUES 8 x 2 rings x 4 pages =
 * 64), the RX buffers it keeps mapped with feature-persistent
 * (BE_VIF_PERSISTENT_MAX) and one batch of packets' grants
 * (BE_MAP_BATCH): vpv-netback maps a batch of TX frames or RX buffers
 * not kept, copies and unmaps them before it maps the next (the core
 * handles its GRANT_UNMAP before the next GRANT_MAP).
 */
#define BE_VIF_RING_MAPS	64u
/*
 * vnetfront's grant budget a device (VNF_GRANTS_DEV): its RX buffers
 * (up to 1024 posted, each slot's page) and the pages it lends to the
 * stack and replaces, all kept: 8 MiB of the guest's frames pinned, a
 * quarter of the grant table.
 */
#define BE_VIF_PERSISTENT_MAX	2048u
#define BE_MAPS_VIF		(BE_VIF_RING_MAPS + BE_VIF_PERSISTENT_MAX + \
				 BE_MAP_BATCH)
/*
 * Entries per GRANT_MAP / UNMAP: 256 so that a 1 MiB request (256
 * indirect segments) is mapped in one round trip (16 took 16: most of
 * the time of a 1 MiB request went in them, tests/bench/run.py blk).
 * Still bounded work for the core per message; the reply is 4 KiB.
 */
#define BE_MAP_BATCH		256u
#define BE_REPLY_TIMEOUT_MS	5000u	/* CONNECT / DISCONNECT answers */
/* no message is larger: a REPLY of BE_MAP_BATCH results and headers */
#define BE_MSG_MAX		4608u

enum be_msg_type {
	/* core -> back-end */
	BE_MSG_INIT = 1,
	BE_MSG_CONNECT = 2,
	BE_MSG_DISCONNECT = 3,
	BE_MSG_REPLY = 4,
	BE_MSG_RESIZE = 5,
	/* back-end -> core: requests */
	BE_MSG_STORE_READ = 16,
	BE_MSG_STORE_WRITE = 17,
	BE_MSG_GRANT_MAP = 18,
	BE_MSG_BIND_PORT = 19,
	BE_MSG_SYNC = 20,
	/* back-end -> core: one-way */
	BE_MSG_GRANT_UNMAP = 32,
	BE_MSG_UNBIND_PORT = 33,
	BE_MSG_PROTOCOL_ERROR = 34,
	BE_MSG_CONNECT_DONE = 35,
	BE_MSG_DISCONNECT_DONE = 36,
	BE_MSG_STATS = 37,
	BE_MSG_BLK_STATS = 38,
	BE_MSG_RESIZE_DONE = 39,
	BE_MSG_NET_STATS = 40,
};

struct be_hdr {
	uint32_t type;		/* enum be_msg_type */
	uint32_t len;		/* the whole packet, header included */
	uint32_t seq;		/* requests: sender's; answers: echoed */
	uint32_t pad;
};

/* INIT flags */
#define BE_INIT_SECCOMP_OFF	0x1u	/* debugging only, never by the core */

/*
 * INIT's fds, in this order: the guest's RAM, the kick eventfd (the
 * core: the guest notified the device's port), the guest's
 * event-channel interrupt eventfd (QEMU's ivshmem vector
 * VPV_VEC_EVTCHN: the back-end raises its port itself, in the
 * event-channel page, and rings it: no hop through the core), the
 * shared region (to map that one page), the guest's per-CPU interrupt
 * eventfds (vectors VPV_VEC_CPU0 .. VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS -
 * 1, ABI 1.5: rung instead of VPV_VEC_EVTCHN for a queue whose
 * front-end named one, be_notify_vector()); then the device's: a vbd's
 * image and COW overlay, a vif's tap.  Every fixed fd is always sent (the core has
 * them all from guest_init(); a guest that did not take the per-CPU
 * vectors never names one).
 */
enum be_init_fd {
	BE_FD_RAM,
	BE_FD_KICK,
	BE_FD_CALL,		/* VPV_VEC_EVTCHN */
	BE_FD_REGION,
	BE_FD_CPU0,		/* VPV_VEC_CPU0 + i: BE_FD_CPU0 + i */
};

#define BE_INIT_FIXED_FDS	(BE_FD_CPU0 + VPV_NR_CPU_VECTORS)
#define BE_DEV_FDS_MAX		2u
#define BE_INIT_FDS_MAX		(BE_INIT_FIXED_FDS + BE_DEV_FDS_MAX)
/* the kernel's SCM_MAX_FD: fds one SCM_RIGHTS message may carry */
static_assert(BE_INIT_FDS_MAX <= 253, "INIT's fds in one message");
/* and what vpv_send_fds() (vpv_util.h) passes */
static_assert(BE_INIT_FDS_MAX <= VPV_SEND_FDS_MAX, "INIT's fds in one send");

/* vbd parameters in INIT (the fds: [0] image, [1] overlay if COW) */
#define BE_VBD_RO		0x1u	/* read-only: writes -VPV_EROFS */
#define BE_VBD_DIRECT		0x2u	/* the image is open O_DIRECT */
#define BE_VBD_COW		0x4u	/* fds[1] is the COW overlay */
#define BE_VBD_BLKDEV		0x8u	/* the image is a block device */

struct be_vbd_init {
	uint32_t flags;		/* BE_VBD_* */
	uint32_t sector_size;	/* 512 or 4096 */
	uint32_t max_queues;	/* 1 .. VPV_BLKIF_MAX_QUEUES */
	uint32_t pad;
	uint64_t size;		/* bytes (the core's fstat/BLKGETSIZE64) */
};

/*
 * vif parameters in INIT (the fd: [0] the tap, opened by the core with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, O_NONBLOCK, its vnet header size
 * set to sizeof(struct virtio_net_hdr), 10: every frame read or
 * written carries one).
 */
#define BE_VIF_VNET_HDR		0x1u	/* always set: the tap's frames
					 * carry a 10-byte virtio_net_hdr
					 */
#define BE_VIF_MAC_SET		0x2u	/* mac given by --mac */
/*
 * The fd is not a tap but a port of a vif switch (--switch, the name
 * in tap[]): an AF_UNIX SOCK_SEQPACKET socket, non-blocking, each
 * packet one frame behind the same 10-byte virtio_net_hdr; its other
 * end is vpv-netswitch's (src/devices/vswitch.c).  No TUNSETOFFLOAD:
 * what comes may carry GSO or a partial checksum whatever the
 * front-end takes (vpv-netback fills the checksum, drops the GSO).
 */
#define BE_VIF_SWITCH		0x4u
#define BE_VIF_IFNAMSIZ		16u	/* the kernel's IFNAMSIZ */
/*
 * The TX credit's period with a rate: Xen's toolstack default (xl's
 * rate=RATE@INTERVAL, 50 ms; netback's own credit_usec is 0, no
 * limit, until the toolstack writes "rate").  Long enough that the
 * refill timer costs the back-end 20 wake-ups a second at most, short
 * enough that a burst is a twentieth of a second's bytes.
 */
#define BE_VIF_CREDIT_MS	50u
/*
 * --rate bounds, bytes/s: at the lowest a 64 KiB packet waits a minute;
 * the highest is above any host link (64 GiB/s), and a period's credit
 * of it cannot overflow.
 */
#define BE_VIF_RATE_MIN		1024ull
#define BE_VIF_RATE_MAX		(64ull << 30)

struct be_vif_init {
	uint32_t mtu;		/* the back-end's "mtu" key, 68 .. 9000 */
	uint32_t flags;		/* BE_VIF_* */
	/* the "mac" key (without BE_VIF_MAC_SET: derived by the core) */
	uint8_t mac[6];
	uint8_t pad[2];
	/* the tap's name (BE_VIF_SWITCH: the switch's), NUL-terminated */
	char tap[BE_VIF_IFNAMSIZ];
	/* TX bytes/s (--rate), BE_VIF_RATE_MIN .. _MAX; 0: no limit */
	uint64_t rate;
	/* the "multi-queue-max-queues" key (--queues), 1 .. BE_PORTS_MAX */
	uint32_t max_queues;
	uint32_t pad2;
};

/*
 * What a device is created with (vpv-ctl device add ... options): its
 * fds (owned by whoever holds the struct) and its type's parameters.
 */
struct be_params {
	int fds[BE_DEV_FDS_MAX];
	uint32_t nr_fds;
	struct be_vbd_init vbd;
	struct be_vif_init vif;
};

struct be_msg_init {
	struct be_hdr h;
	uint32_t version;	/* BE_PROTO_VERSION */
	uint32_t domid;
	uint32_t id;
	uint32_t flags;
	uint64_t ram_size;	/* bytes of the RAM fd to map */
	/* test hook: a forbidden syscall after this many requests, 0: no */
	uint64_t forbidden_after;
	char type[BE_TYPE_MAX];
	char fe[BE_PATH_MAX];	/* front-end directory */
	char be[BE_PATH_MAX];	/* back-end directory */
	uint32_t nr_fds;	/* device fds after the fixed ones */
	uint32_t evtchn_offset;	/* of the event-channel page in the region */
	struct be_vbd_init vbd;	/* type "vbd" */
	struct be_vif_init vif;	/* type "vif" */
};

struct be_msg_resize {
	struct be_hdr h;
	uint64_t size;		/* bytes, a multiple of sector-size */
};

/* vbd counters (deltas since the last BLK_STATS) and gauges (now) */
struct be_blk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes;
	uint64_t bytes_read, bytes_written, errors;
	uint64_t in_flight;		/* gauge */
	uint64_t persistent_grants;	/* gauge */
	/*
	 * Where a request's time goes in the back-end (counters, ns):
	 * GRANT_MAP round trips to the core and their time, SYNCs (the
	 * unmap barrier before responses) and their time, and the time
	 * from a request's start to its answer, summed over answers.
	 */
	uint64_t map_calls, map_ns, syncs, sync_ns, service_ns;
};

/* Add a BLK_STATS' counters to dst, take its gauges. */
static inline void be_blk_stats_add(struct be_blk_stats *dst,
				    const struct be_blk_stats *s)
{
	dst->reads += s->reads;
	dst->writes += s->writes;
	dst->flushes += s->flushes;
	dst->discards += s->discards;
	dst->write_zeroes += s->write_zeroes;
	dst->bytes_read += s->bytes_read;
	dst->bytes_written += s->bytes_written;
	dst->errors += s->errors;
	dst->map_calls += s->map_calls;
	dst->map_ns += s->map_ns;
	dst->syncs += s->syncs;
	dst->sync_ns += s->sync_ns;
	dst->service_ns += s->service_ns;
	dst->in_flight = s->in_flight;
	dst->persistent_grants = s->persistent_grants;
}

struct be_msg_blk_stats {
	struct be_hdr h;
	struct be_blk_stats s;
};

/*
 * vif counters (deltas since the last NET_STATS) and gauges (now).
 * The tx_* validation classes are those of abi/vpv_netif.h (1 to 7);
 * tx_host_dropped: accepted packets the tap refused; rx_*: packets for
 * the guest dropped because its backlog was full (rx_backlog_full), too
 * old (rx_expired), or not deliverable under the front-end's features
 * or the protocol's limits (rx_not_accepted), and RX buffers answered
 * alone with an error (rx_bad_req: pad, rx_bad_grant: not writable).
 */
struct be_net_stats {
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes;
	uint64_t tx_malformed, tx_not_offered, tx_too_many_slots;
	uint64_t tx_bad_slot, tx_bad_length, tx_bad_offload, tx_bad_grant;
	uint64_t tx_host_dropped;
	uint64_t rx_backlog_full, rx_expired, rx_not_accepted;
	uint64_t rx_bad_req, rx_bad_grant;
	/* GRANT_MAP round trips and their time, SYNCs and theirs (ns) */
	uint64_t map_calls, map_ns, syncs, sync_ns;
	/* times TX stopped with a packet waiting for credit (--rate) */
	uint64_t tx_rate_waits;
	/* GSO frames segmented in software for the front-end (a switch) */
	uint64_t rx_gso_soft;
	uint64_t rx_backlog_packets;	/* gauge */
	uint64_t rx_backlog_bytes;	/* gauge */
	/* RX buffers kept mapped (feature-persistent), gauge */
	uint64_t persistent_grants;
};

/* The counters of be_net_stats, in order, before its gauges. */
#define BE_NET_COUNTERS	(offsetof(struct be_net_stats, rx_backlog_packets) / \
			 sizeof(uint64_t))

/* Add a NET_STATS' counters to dst, take its gauges. */
static inline void be_net_stats_add(struct be_net_stats *dst,
				    const struct be_net_stats *s)
{
	uint64_t *d = (uint64_t *)dst;
	const uint64_t *a = (const uint64_t *)s;
	size_t i;

	for (i = 0; i < BE_NET_COUNTERS; i++)
		d[i] += a[i];
	dst->rx_backlog_packets = s->rx_backlog_packets;
	dst->rx_backlog_bytes = s->rx_backlog_bytes;
	dst->persistent_grants = s->persistent_grants;
}

static_assert(sizeof(struct be_net_stats) ==
	      (BE_NET_COUNTERS + 3) * sizeof(uint64_t),
	      "be_net_stats: counters, then the three gauges");

struct be_msg_net_stats {
	struct be_hdr h;
	struct be_net_stats s;
};

struct be_msg_cmd {		/* CONNECT, DISCONNECT, SYNC */
	struct be_hdr h;
};

#define BE_DIR_FE	0u
#define BE_DIR_BE	1u

struct be_msg_store_read {
	struct be_hdr h;
	uint32_t dir;		/* BE_DIR_* */
	uint32_t pad;
	char key[BE_KEY_MAX];	/* [A-Za-z0-9_-]+, NUL-terminated */
};

struct be_msg_store_write {
	struct be_hdr h;
	uint32_t dir;		/* BE_DIR_BE only */
	uint32_t len;		/* <= BE_VAL_MAX */
	char key[BE_KEY_MAX];
	char val[BE_VAL_MAX];
};

struct be_map_ent {
	uint32_t ref;
	uint32_t write;		/* 0 or 1 */
};

struct be_msg_grant_map {
	struct be_hdr h;
	uint32_t n;		/* 1 .. BE_MAP_BATCH */
	uint32_t pad;
	struct be_map_ent ent[BE_MAP_BATCH];
};

struct be_msg_grant_unmap {
	struct be_hdr h;
	uint32_t n;		/* 1 .. BE_MAP_BATCH */
	uint32_t handle[BE_MAP_BATCH];
};

struct be_msg_port {		/* BIND_PORT, UNBIND_PORT */
	struct be_hdr h;
	uint32_t port;
	uint32_t pad;
};

struct be_msg_result {		/* PROTOCOL_ERROR, CONNECT_DONE, DISCONNECT_DONE */
	struct be_hdr h;
	int32_t result;		/* 0 or -errno */
	uint32_t pad;
};

struct be_msg_stats {
	struct be_hdr h;
	uint64_t requests;	/* answered since the last STATS */
	uint64_t refused;	/* ... with "not offered" */
};

struct be_map_res {
	int32_t status;		/* 0 or a -VPV_E* of grant_map(), -ENOSPC */
	uint32_t handle;	/* for GRANT_UNMAP */
	uint64_t offset;	/* the 4 KiB frame in the guest RAM fd */
};

struct be_msg_reply {
	struct be_hdr h;
	int32_t result;		/* 0, STORE_READ: length, or -errno */
	uint32_t n;		/* GRANT_MAP: entries in map[] */
	union {
		char val[BE_VAL_MAX];		/* STORE_READ, NUL added */
		struct be_map_res map[BE_MAP_BATCH];	/* GRANT_MAP */
	};
};

static_assert(sizeof(struct be_msg_init) <= BE_MSG_MAX, "INIT size");
static_assert(sizeof(struct be_msg_store_write) <= BE_MSG_MAX, "WRITE size");
static_assert(sizeof(struct be_msg_reply) <= BE_MSG_MAX, "REPLY size");

#endif /* VPV_BE_PROTO_H */
