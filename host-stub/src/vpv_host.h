/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vpv-host: host stub serving pvkit guests over ivshmem-doorbell.
 * Shared declarations.
 */
#ifndef VPV_HOST_H
#define VPV_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include "vpv_abi.h"
#include "activity.h"

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
				 VPV_F_HC_POLL | VPV_F_BALLOON | \
				 VPV_F_BALLOON_2M | VPV_F_PAGE_REPORTING | \
				 VPV_F_PVMMU | VPV_F_GRANT | VPV_F_STORE)

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
	uint64_t ev_irqs;		/* VPV_VEC_EVTCHN rings to the guest */
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

/*
 * Per-guest memory state (mem.c).  Everything but the counters in
 * struct guest_stats is protected by the memory manager's lock.  The
 * P2M is indexed by page index (RAM file offset >> 12), not by PFN:
 * the PCI hole has no entries.
 */
struct guest_mem {
	uint32_t *p2m;		/* page index -> MFN or MEM_MFN_INVALID */
	uint8_t *pins;		/* page index -> pin count */
	uint64_t *claim;	/* bitmap: pages a memory op is working on */
	pthread_mutex_t op_lock; /* one memory op at a time, outside mem_lock */
	uint64_t nr_pages;	/* RAM pages */
	uint64_t populated;
	uint64_t pinned;	/* pages with a pin count > 0 */
	uint32_t owner;		/* M2P owner id, 0: not registered */
	unsigned int shares;
	bool manual;		/* target set by vpv-ctl balloon */
	uint64_t manual_pages;	/* balloon target when manual */
	uint64_t target_pages;	/* balloon target handed out by POLL */
	bool have_stats;
	uint64_t stats_ms;	/* CLOCK_MONOTONIC of the last POLL */
	struct vpv_balloon_stats last;
};

/*
 * Per-guest PV MMU state (pvmmu.c).  lock protects everything here and
 * the shadows; it is taken by the guest's hypercall thread and by the
 * main thread (1 s audit), always before mem_lock.  The per-page arrays
 * are indexed by page index like the P2M and allocated on first use.
 */
#define PVMMU_MAX_TABLES	4096u	/* pinned L1 tables per guest */
#define PVMMU_PTES		512u	/* entries per table */

struct pvmmu_table {
	uint64_t pfn;		/* the table page */
	uint64_t idx;		/* its page index */
	uint64_t gen;		/* audit_gen of the last audit */
	uint64_t pte[PVMMU_PTES];	/* host-private shadow */
};

struct guest_pvmmu {
	pthread_mutex_t lock;
	bool ready;		/* lock initialised */
	uint32_t nr_tables;	/* written under lock, read atomically */
	struct pvmmu_table **tables;	/* [PVMMU_MAX_TABLES], dense */
	uint32_t *slot;		/* page index -> table index + 1, 0: none */
	uint32_t *refs;		/* page index -> references from tables */
	uint32_t *wrefs;	/* page index -> present RW PTEs mapping it */
	uint64_t audit_gen;	/* one per hypercall and per timer audit */
	uint64_t log_window_ms;	/* rate limit of the tamper log */
	unsigned int log_lines;
	uint64_t log_suppressed;
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
	int guest_ev[VPV_NR_VECTORS];
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

/* ---- GPA translation (gpa.c) ---- */

uint64_t gpa_lowmem(uint64_t ram_size);
int gpa_to_offset(uint64_t ram_size, uint64_t lowmem, uint64_t gpa,
		  uint64_t len, uint64_t *off);
void *gpa_ptr(struct guest *g, uint64_t gpa, size_t len);
int gpa_read(struct guest *g, uint64_t gpa, void *buf, size_t len);
int gpa_write(struct guest *g, uint64_t gpa, const void *buf, size_t len);
int gpa_store_u64(struct guest *g, uint64_t gpa, uint64_t val);
int gpa_copy(struct guest *g, const struct guest *dst_ram, void *dst,
	     const struct guest *src_ram, const void *src, size_t len);
int gpa_guard_run(struct guest *g, const struct guest *other,
		  void (*fn)(void *arg), void *arg);

/* ---- ivshmem server protocol (ivshmem.c) ---- */

int ivshmem_listen(struct guest *g, const char *path);
int ivshmem_send_setup(struct guest *g, int sock);
int ivshmem_accept(struct guest *g);
void ivshmem_conn_event(struct guest *g);

/* ---- hypercalls (hcall.c, multicall.c, evtchn.c) ---- */

typedef long (*hc_fn_t)(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS]);

void hc_register(unsigned int nr, const char *name, hc_fn_t fn);
const char *hc_name(unsigned int nr);
void hc_init(void);
long hc_dispatch(struct guest *g, uint32_t nr,
		 const uint64_t args[VPV_HC_NR_ARGS]);
unsigned int hc_process_slots(struct guest *g);
void hc_raw_ping(struct guest *g);
unsigned int hc_doorbell(struct guest *g, unsigned int vec);

/* ---- hypercall and echo threads, placement, polling (hc_thread.c) ---- */

/*
 * Longest polling window accepted: 1 ms is above the gap between the
 * calls of any guest that is busy calling (tens of us under TCG, a few
 * hundred on the debug kernel); a longer window is a busy core.
 */
#define HC_POLL_US_MAX	1000u

int hc_thread_start(struct guest *g);
void hc_thread_stop(struct guest *g);
int hc_set_cpu(struct guest *g, int cpu);
void hc_set_poll_us(struct guest *g, unsigned int us);
unsigned int hc_poll_once(struct guest *g, int ep);
unsigned int hc_poll_stop(struct guest *g);
void hc_echo(struct guest *g);
uint64_t hc_thread_cpu_ns(const struct guest *g, bool echo);
struct sbuf;
void hc_json(struct sbuf *out, const struct guest *g);

/* per-subsystem registration; later issues add theirs to hc_init() */
void hc_core_register(void);
void multicall_register(void);
void evtchn_register(void);
void mem_register(void);
void pvmmu_register(void);

void evtchn_reset(struct guest *g);
bool evtchn_raise(struct guest *g, unsigned int port);
void evtchn_from_guest(struct guest *g);
unsigned int evtchn_nr_open(const struct guest *g);

uint32_t fnv1a32(const void *buf, size_t len);

/* ---- memory manager (mem.c) ---- */

#define MEM_MFN_INVALID		UINT32_MAX
#define MEM_PIN_MAX		UINT8_MAX
#define MEM_SHARES_DEFAULT	1000u
#define MEM_SHARES_MAX		1000000u

struct mem_host_info {
	uint64_t pool_pages;	/* frames: sum of registered guests' RAM */
	uint64_t populated_pages;
	uint64_t budget_pages;	/* host_mem / 4 KiB */
	bool budget_set;	/* false: budget follows pool_pages */
	bool overcommitted;	/* sum of RAM > budget */
	double idle_tax;
};

struct mem_guest_info {
	uint64_t ram_pages;
	uint64_t populated_pages;
	uint64_t invalid_pages;
	uint64_t pinned_pages;
	uint64_t target_pages;
	bool manual;
	unsigned int shares;
	bool have_stats;
	uint64_t stats_age_ms;
	struct vpv_balloon_stats stats;
};

int mem_guest_add(struct guest *g);
void mem_guest_remove(struct guest *g);
int mem_set_budget(uint64_t bytes);	/* 0: the sum of guest RAM */
void mem_set_shares(struct guest *g, unsigned int shares);
int mem_set_manual(struct guest *g, bool manual, uint64_t mem_bytes);
int mem_pin(struct guest *g, uint64_t pfn);
int mem_unpin(struct guest *g, uint64_t pfn);
int mem_p2m_lookup(struct guest *g, uint64_t pfn, uint32_t *mfn,
		   unsigned int *pins);
int mem_m2p_lookup(uint32_t mfn, struct guest **g, uint64_t *pfn);
int mem_check(void);
void mem_host_info(struct mem_host_info *hi);
void mem_guest_info(struct guest *g, struct mem_guest_info *gi);
void mem_policy_update(void);
long mem_memory_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS]);
void mem_lock_acquire(void);
void mem_lock_release(void);
int mem_pfn_to_idx(const struct guest *g, uint64_t pfn, uint64_t *idx);
bool mem_populated_locked(struct guest *g, uint64_t idx);
int mem_pin_locked(struct guest *g, uint64_t idx);
int mem_unpin_locked(struct guest *g, uint64_t idx);
uint64_t mem_lock_max_hold_ns(bool reset);

/* ---- PV MMU (pvmmu.c) ---- */

int pvmmu_init(struct guest *g);
void pvmmu_destroy(struct guest *g);
void pvmmu_reset(struct guest *g);
unsigned int pvmmu_audit(struct guest *g);
unsigned int pvmmu_nr_tables(const struct guest *g);
long pvmmu_mmu_update(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS]);
long pvmmu_mmuext_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS]);

/* ---- memory policy (policy.c) ---- */

#define POLICY_IDLE_TAX_DEFAULT	0.75
#define POLICY_STEP_PAGES	512u		/* 2 MiB */
#define POLICY_FLOOR_MIN_PAGES	16384u		/* 64 MiB */
#define POLICY_ACTIVE_DEFAULT	1000000u	/* f = 1 before a POLL */

struct policy_guest {
	uint64_t ram_pages;
	unsigned int shares;	/* S, > 0 */
	bool have_active;	/* false: f = 1 */
	uint32_t active_ppm;	/* f * 1e6 (clamped to 1e6) */
};

struct policy_input {
	double idle_tax;	/* tau, 0 <= tau < 1 */
	uint64_t budget_pages;
	uint64_t step_pages;	/* 0: POLICY_STEP_PAGES */
	size_t nr;
	const struct policy_guest *guests;
};

struct policy_output {
	uint64_t *alloc_pages;	/* nr entries, filled in */
	uint64_t excess_pages;	/* over budget with every guest at its floor */
	uint64_t steps;
};

uint64_t policy_floor_pages(uint64_t ram_pages);
double policy_rho(const struct policy_guest *pg, uint64_t pages,
		  double idle_tax);
void policy_compute(const struct policy_input *in,
		    struct policy_output *out);
int policy_set_idle_tax(double tax);
double policy_idle_tax(void);
uint64_t policy_compute_count(void);

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

/* ---- host + control socket (ctl.c) ---- */

struct host {
	struct host_cfg *cfg;
	struct guest *guests;
	size_t nr_guests;
	/*
	 * "guest remove": stop the guest's QEMU and forget its fds (main
	 * loop); NULL in tests.  ctl then calls guest_destroy().
	 */
	void (*guest_detach)(struct host *h, struct guest *g);
};

struct sbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
};

void sb_init(struct sbuf *sb);
void sb_free(struct sbuf *sb);
void sb_puts(struct sbuf *sb, const char *s);
void sb_printf(struct sbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_json_str(struct sbuf *sb, const char *s);

#define VPV_CTL_MAX_REQ		1024
/* words per request: room for a multi-word store value */
#define VPV_CTL_MAX_ARGS	64
/* what vpv-ctl accepts; bounds the stub's buffer per connection */
#define VPV_CTL_MAX_REPLY	(4u << 20)

int ctl_handle_line(struct host *h, const char *line, size_t len,
		    struct sbuf *out);
int ctl_listen(const char *path);

/* run dir and listening sockets (runsock.c) */
int run_dir_prepare(const char *path, bool *created);
int unix_listen(const char *path, int backlog);

/* one control connection (ctl_conn.c) */
enum { CTL_CONN_READ, CTL_CONN_WRITE, CTL_CONN_DONE };

struct ctl_conn {
	int fd;
	size_t len;		/* request bytes in buf */
	uint64_t start_ms;
	struct sbuf out;	/* the reply */
	size_t off;		/* ... bytes of it sent */
	char buf[VPV_CTL_MAX_REQ + 2];
};

void ctl_conn_init(struct ctl_conn *c, int fd);
void ctl_conn_release(struct ctl_conn *c);
int ctl_conn_read(struct host *h, struct ctl_conn *c);
int ctl_conn_write(struct ctl_conn *c);

/* ---- small JSON reader (json.c), used by vpv-ctl and tests ---- */

enum json_type { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
	enum json_type type;
	char *str;		/* J_STR value; key for object members */
	char *key;
	double num;
	bool b;
	struct json *child;	/* first element / member */
	struct json *next;
};

struct json *json_parse(const char *s);
void json_free(struct json *j);
struct json *json_get(const struct json *obj, const char *key);

#include "split.h"

#endif /* VPV_HOST_H */
