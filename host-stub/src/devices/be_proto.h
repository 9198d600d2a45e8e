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
 *               eventfd, call eventfd }.  No answer.
 *   CONNECT     the front-end is ready: read its keys, map, bind, then
 *               answer CONNECT_DONE (same seq) with 0 or -errno.
 *   DISCONNECT  drop everything; answer DISCONNECT_DONE (same seq).
 *               The core then unmaps whatever grant the device still
 *               holds and unbinds its port.
 *   REPLY       the answer to a request (same seq).
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
 *                the guest RAM fd.  At most BE_MAPS_MAX maps per device
 *                at a time: one more is -ENOSPC.
 *   BIND_PORT    bind the device's event channel (one per device).
 * Back-end -> core, one-way:
 *   GRANT_UNMAP  1..BE_MAP_BATCH handles.
 *   UNBIND_PORT  the bound port.
 *   PROTOCOL_ERROR  the front-end broke the ring protocol: the device
 *                goes Closing (counted), the core sends DISCONNECT.
 *   CONNECT_DONE, DISCONNECT_DONE  answers to the core's commands.
 *   STATS        requests served / refused since the last STATS.
 * The kick eventfd is written by the core when the guest notifies the
 * device's port; the back-end writes the call eventfd to raise it.
 */
#ifndef VPV_BE_PROTO_H
#define VPV_BE_PROTO_H

#include <assert.h>
#include <stdint.h>

#define BE_PROTO_VERSION	1u
#define BE_KEY_MAX		64u	/* a key name, NUL included */
#define BE_VAL_MAX		256u	/* a store value (ring-ref, ports...) */
#define BE_PATH_MAX		96u	/* the device's directories */
#define BE_TYPE_MAX		16u
/*
 * Grant maps one back-end may hold: a ring (1), VPV_VLOOP_MAX_HELD (16)
 * test holds and two per request in flight, with room for the block
 * and network rings of later devices; small beside the 8192-entry
 * table, so one device cannot pin a guest's frames without bound.
 */
#define BE_MAPS_MAX		64u
#define BE_MAP_BATCH		8u	/* entries per GRANT_MAP / UNMAP */
#define BE_REPLY_TIMEOUT_MS	5000u	/* CONNECT / DISCONNECT answers */
#define BE_MSG_MAX		512u	/* no message is larger */

enum be_msg_type {
	/* core -> back-end */
	BE_MSG_INIT = 1,
	BE_MSG_CONNECT = 2,
	BE_MSG_DISCONNECT = 3,
	BE_MSG_REPLY = 4,
	/* back-end -> core: requests */
	BE_MSG_STORE_READ = 16,
	BE_MSG_STORE_WRITE = 17,
	BE_MSG_GRANT_MAP = 18,
	BE_MSG_BIND_PORT = 19,
	/* back-end -> core: one-way */
	BE_MSG_GRANT_UNMAP = 32,
	BE_MSG_UNBIND_PORT = 33,
	BE_MSG_PROTOCOL_ERROR = 34,
	BE_MSG_CONNECT_DONE = 35,
	BE_MSG_DISCONNECT_DONE = 36,
	BE_MSG_STATS = 37,
};

struct be_hdr {
	uint32_t type;		/* enum be_msg_type */
	uint32_t len;		/* the whole packet, header included */
	uint32_t seq;		/* requests: sender's; answers: echoed */
	uint32_t pad;
};

/* INIT flags */
#define BE_INIT_SECCOMP_OFF	0x1u	/* debugging only, never by the core */

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
};

struct be_msg_cmd {		/* CONNECT, DISCONNECT */
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
