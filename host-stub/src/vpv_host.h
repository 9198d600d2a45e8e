/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpv-host: host stub serving pvkit guests over ivshmem-doorbell.
 * The core's declarations (configuration, struct guest, QEMU); each
 * folder of src/ has its own header, included at the end:
 * transport/transport.h, memory/memory.h, control/control.h,
 * split/split.h (store: split/store/store_core.h), subsys.h.
 */
#ifndef VPV_HOST_H
#define VPV_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include "vpv_abi.h"
#include "vpv_util.h"
#include "activity.h"
#include "memory_types.h"

#define VPV_HOST_PEER_ID	0
#define VPV_GUEST_PEER_ID	1
#define VPV_NAME_MAX		32
#define VPV_MAX_GUESTS		64
#define VPV_MAX_SLOTS		64
#define VPV_SLOT_OFFSET		0x1000u
#define VPV_EVTCHN_OFFSET	0x3000u
#define VPV_SHM_MAX_SIZE	(1ull << 30)
#define VPV_HOST_FEATURES	(VPV_F_MULTICALL | VPV_F_EVTCHN | \
				 VPV_F_IRQ_COMPLETION | VPV_F_ECHO | \
				 VPV_F_HC_POLL | VPV_F_DEV_DOORBELL | \
				 VPV_F_CPU_VECTORS | VPV_F_BALLOON | \
				 VPV_F_BALLOON_2M | VPV_F_PAGE_REPORTING | \
				 VPV_F_PVMMU | VPV_F_GRANT | VPV_F_STORE)

/*
 * The guest peer's own eventfds, guest_ev[v]: writing one raises the
 * guest's MSI-X vector v (QEMU's irqfd).  VPV_VEC_HCALL, VPV_VEC_EVTCHN
 * and (ABI 1.5, VPV_F_CPU_VECTORS) the per-CPU vectors the back-ends
 * ring.  QEMU numbers a peer's eventfds in the order they arrive
 * (ivshmem.c), so vector 2 (VPV_VEC_ECHO, guest->host only) gets one
 * too, never written.
 */
#define VPV_NR_GUEST_EVS	(VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS)
static_assert(VPV_NR_VECTORS <= VPV_NR_GUEST_EVS,
	      "the guest's eventfds: every vector it takes");
static_assert(VPV_NR_GUEST_EVS <= VPV_NR_DOORBELLS,
	      "the guest's eventfds: within QEMU's vectors=");

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

/* ---- configuration (config.c) ---- */

enum vpv_accel { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };

struct guest_cfg {
	char *name;
	char *kernel;
	char *initrd;
	char *append;
	char *serial;
	char *serial2;
	uint64_t mem;
	unsigned int smp;
	unsigned int shares;	/* memory policy shares (default 1000) */
	bool hc_cpu_set;	/* pin the hypercall and echo threads ... */
	unsigned int hc_cpu;	/* ... to this CPU */
	unsigned int hc_poll_us;	/* slot polling window, 0: off */
	char **qemu_args;
	size_t nr_qemu_args;
};

struct host_cfg {
	struct guest_cfg *guests;
	size_t nr_guests;
	char *run_dir;
	char *ctl_path;
	char *qemu;
	enum vpv_accel accel;
	uint64_t shm_size;
	bool no_qemu;
	uint64_t host_mem;	/* memory budget in bytes; 0: sum of RAM */
	double idle_tax;	/* idle memory tax rate, 0 <= tax < 1 */
	enum act_source activity;	/* whose active fraction is taxed */
	unsigned int activity_period;	/* seconds; 0: the default */
	char *ram_dir;		/* RAM files here; NULL: memfd (tmpfs) */
	/* back-end processes: failed after this many crashes within the
	 * window (seconds); 0: the defaults of beproc.h
	 */
	unsigned int backend_max_crashes;
	unsigned int backend_crash_window;
};

int cfg_parse_size(const char *s, uint64_t *out);
bool cfg_valid_name(const char *name);
int cfg_parse_args(struct host_cfg *cfg, int argc, char **argv);
int cfg_load_file(struct host_cfg *cfg, const char *path);
void cfg_free(struct host_cfg *cfg);

/* ---- per-guest state (guest.c) ---- */

struct guest_stats {
	uint64_t hcalls[VPV_HC_MAX + 1];	/* [VPV_HC_MAX]: out of range */
	uint64_t hcall_errors;
	uint64_t multicalls;
	uint64_t multicall_entries;
	uint64_t doorbells;
	uint64_t raw_pings;
	uint64_t completion_irqs;
	uint64_t hcall_stale;		/* results dropped: slot reused meanwhile */
	uint64_t hcall_cancelled;	/* slots a NEGOTIATE cancelled */
	uint64_t ev_to_guest;		/* raises that set a clear bit */
	uint64_t ev_to_guest_coalesced;	/* raises that found it pending */
	uint64_t ev_from_guest;		/* bits handled from to_host */
	uint64_t ev_unbound;		/* ... on allocated unbound ports */
	uint64_t ev_dropped;		/* ... on invalid / closed ports */
	uint64_t ev_irqs;		/* event interrupts the core rang */
	uint64_t memop_polls;
	uint64_t memop_decreased_pages;
	uint64_t memop_increased_pages;
	uint64_t memop_2m_extents;	/* decreased + increased */
	uint64_t memop_reported_ranges;
	uint64_t memop_reported_bytes;
	uint64_t memop_errors;
	uint64_t memop_punch_fallbacks;	/* fallocate failed: zeroed */
	uint64_t memop_unreclaimed_pages; /* punched, still resident */
	uint64_t mmu_updates;		/* MMU_UPDATE requests applied */
	uint64_t mmu_update_calls;	/* MMU_UPDATE batches processed */
	uint64_t mmuext_ops;		/* MMUEXT ops applied */
	uint64_t pt_tampered;		/* audits that found a guest write */
	uint64_t mmu_errors;		/* MMU_UPDATE/MMUEXT_OP calls failed */
	uint64_t store_requests;	/* store ring requests handled */
	uint64_t store_errors;		/* ... answered with an error */
	uint64_t store_watch_events;	/* WATCH_EVENTs queued */
	uint64_t store_watch_dropped;	/* ... dropped on overflow */
	uint64_t store_protocol_errors;	/* ring disconnects */
	uint64_t grants_mapped;		/* successful grant maps */
	uint64_t grant_errors;		/* refused grant maps */
	uint64_t gnttab_copies;		/* successful grant copies */
	uint64_t bus_devices;		/* devices added */
	uint64_t bus_protocol_errors;	/* back-end rings shut down */
	uint64_t vloop_requests;	/* vloop requests answered */
	uint64_t vloop_refused;		/* ... -VPV_EOPNOTSUPP: not offered */
	uint64_t backend_spawns;	/* back-end processes started */
	uint64_t backend_crashes;	/* ... that died unasked */
	uint64_t backend_kills;		/* ... killed: no answer, no socket */
	uint64_t backend_failed;	/* devices put in state failed */
	uint64_t backend_bad_msgs;	/* messages refused (be_proto.h) */
	uint64_t ram_faults;		/* guest RAM accesses that faulted */
	uint64_t echoes;		/* VPV_VEC_ECHO doorbells answered */
	uint64_t hc_polls;		/* polling episodes of the thread */
	uint64_t hc_poll_hits;		/* slots found by polling */
	uint64_t hc_poll_ns;		/* time spent polling */
};

#define STAT_INC(g, f)		__atomic_fetch_add(&(g)->stats.f, 1, \
						   __ATOMIC_RELAXED)
#define STAT_ADD(g, f, n)	__atomic_fetch_add(&(g)->stats.f, (n), \
						   __ATOMIC_RELAXED)
#define STAT_GET(g, f)		__atomic_load_n(&(g)->stats.f, \
						__ATOMIC_RELAXED)

enum guest_state {
	GUEST_CREATED,
	GUEST_SERVING,		/* --no-qemu */
	GUEST_RUNNING,
	GUEST_EXITED,
	GUEST_REMOVED,		/* guest_destroy()ed, slot kept */
};

struct guest {
	char name[VPV_NAME_MAX + 1];
	const struct guest_cfg *cfg;

	/* guest RAM: shared file, q35 layout (gpa.c) */
	int ram_fd;
	uint8_t *ram;
	uint64_t ram_size;
	uint64_t lowmem;	/* bytes of RAM below 4 GiB */
	char *ram_path;		/* what QEMU opens (memfd: /proc/PID/fd/N) */
	bool ram_unlink;	/* ram_path is a file we created */

	/* shared region (BAR2); the host's private copies of the layout */
	int shm_fd;
	uint8_t *shm;
	uint64_t shm_size;
	struct vpv_shared_header *hdr;
	struct vpv_hc_slot *slots;
	unsigned int nr_slots;
	struct vpv_evtchn_shared *ev;

	/* ivshmem: host_ev[] are rung by the guest, guest_ev[] by us */
	int host_ev[VPV_NR_DOORBELLS];
	uint8_t dev_doorbells;	/* slots in use, bit i: VPV_VEC_DEV0 + i */
	int guest_ev[VPV_NR_GUEST_EVS];
	int listen_fd;
	int conn_fd;
	char *sock_path;
	unsigned int connects;

	/* hypercall thread */
	pthread_t thread;
	int stop_fd;
	bool thread_running;
	/* minimal echo thread (VPV_VEC_ECHO), stopped by stop_fd too */
	pthread_t echo_thread;
	bool echo_running;
	/* placement and polling (hc_thread.c); atomics */
	int hc_cpu;		/* both threads' CPU, -1: any */
	int hc_last_cpu;	/* where each thread last woke, -1: never */
	int echo_last_cpu;
	uint64_t poll_max_ns;	/* polling window, 0: no polling */
	uint64_t poll_cur_ns;	/* adaptive window (the thread's own) */
	unsigned int poll_skipped;	/* requests since the last probe */

	/* event channels: owned by the hypercall thread */
	uint8_t port_stat[VPV_EVTCHN_MAX_PORTS];
	uint32_t nr_ports;
	uint64_t features;	/* negotiated */
	uint32_t last_ping;

	/* QEMU */
	enum guest_state state;
	pid_t pid;		/* -1 once a removed guest's QEMU is reaped */
	int exit_status;	/* wait status */
	uint64_t kill_ms;	/* removed: SIGKILL QEMU then, 0 if sent */
	const char *accel;
	char *console_path;	/* set if we created it */

	struct guest_mem mem;
	struct guest_pvmmu mmu;
	struct guest_stats stats;
	struct guest_activity act;	/* host-measured activity */

	/* split drivers (split.h) */
	uint32_t domid;		/* 1 .., 0: not registered */
	struct guest_gnt *gnt;
};

int guest_init(struct guest *g, const char *name, uint64_t ram_size,
	       unsigned int smp, uint64_t shm_size, const char *dir);
void guest_destroy(struct guest *g);
unsigned int guest_nr_fds(const struct guest *g);
int guest_ring(struct guest *g, unsigned int vec);
unsigned int guest_nr_slots(unsigned int smp);
const char *guest_state_str(const struct guest *g);

/* ---- QEMU (qemu.c) ---- */

struct strv {
	char **v;
	size_t n;
	size_t cap;
};

int strv_push(struct strv *sv, const char *s);
int strv_pushf(struct strv *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void strv_free(struct strv *sv);

const char *qemu_detect_accel(enum vpv_accel want);
int qemu_build_argv(const struct host_cfg *hc, const struct guest *g,
		    const char *accel, struct strv *out);
char *qemu_cmdline_str(const struct strv *argv);
pid_t qemu_spawn(const struct strv *argv);

#include "transport.h"
#include "memory.h"
#include "control.h"
#include "split.h"
#include "subsys.h"

#endif /* VPV_HOST_H */
