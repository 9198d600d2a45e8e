/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Memory (src/memory): guest-physical access (gpa.c), the memory
 * manager (mem.c), the PV MMU (pvmmu.c), the policy (policy.c) and the
 * page-sharing scan (sharing.c).
 * Included at the end of vpv_host.h; every
 * function is documented where it is defined.
 */
#ifndef VPV_MEMORY_H
#define VPV_MEMORY_H

struct guest;
struct host;

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
uint64_t mem_lock_holds(void);

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
/*
 * Hysteresis: the allocations in force stay while every guest's new one
 * is within max(this, the guests' RAM / POLICY_DEADBAND_DIV) of them
 * and they fit the budget.  The activity figures move with every
 * sample (a guest at f = 0.5 reads 0.45 to 0.55): without it the
 * targets followed them a step or three each second, every balloon
 * inflating and deflating megabytes for nothing.  8 MiB and 1/32
 * (32 MiB a GiB) are above that jitter (6 to 18 MiB within a minute on
 * a 1 GiB pair, tests/guest/policy-idle.sh; 1/64 was not) and far below
 * what a guest going idle or busy moves (hundreds of MiB).
 */
#define POLICY_DEADBAND_PAGES	(4 * POLICY_STEP_PAGES)
#define POLICY_DEADBAND_DIV	32u

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
	/* the allocations in force (nr entries), or NULL: none yet */
	const uint64_t *prev_pages;
};

struct policy_output {
	uint64_t *alloc_pages;	/* nr entries, filled in */
	uint64_t excess_pages;	/* over budget with every guest at its floor */
	uint64_t steps;
	bool kept;		/* prev_pages kept (within the deadband) */
};

uint64_t policy_floor_pages(uint64_t ram_pages);
/* The deadband for guests of ram_pages in all (POLICY_DEADBAND_*). */
uint64_t policy_deadband_pages(uint64_t ram_pages);
double policy_rho(const struct policy_guest *pg, uint64_t pages,
		  double idle_tax);
void policy_compute(const struct policy_input *in,
		    struct policy_output *out);
int policy_set_idle_tax(double tax);
double policy_idle_tax(void);
uint64_t policy_compute_count(void);

/* ---- page-sharing scan (sharing.c) ---- */

/*
 * Bytes a pass allocates per RAM page of the guests it scans, at most
 * (class id 4, bucket heads up to 8, a class record 40, flags 1);
 * freed at the end of the pass but the flags (1 byte per page).
 */
#define SHARING_PASS_BYTES_PER_PAGE	56u

/* a page's flags in a pass result; 0: not scanned (a hole) */
#define SHARING_ZERO	0x01u	/* all zero */
#define SHARING_DATA	0x02u	/* non-zero */
#define SHARING_DUP	0x04u	/* ... another page of this guest is equal */
#define SHARING_CROSS	0x08u	/* ... a page of another guest is equal */

/* one guest to scan: a RAM fd (the caller's) and its layout */
struct sharing_src {
	char name[VPV_NAME_MAX + 1];
	int fd;
	uint64_t nr_pages;	/* RAM file size / 4 KiB */
	uint64_t lowmem_pages;	/* pages below 4 GiB (gpa_lowmem()) */
};

struct sharing_guest {
	char name[VPV_NAME_MAX + 1];
	uint64_t nr_pages;
	uint64_t lowmem_pages;
	int err;		/* 0, or -errno: its scan stopped there */
	uint64_t scanned_pages;	/* resident: in the file's data extents */
	uint64_t zero_pages;
	uint64_t dup_pages;	/* non-zero, another page here is equal */
	uint64_t cross_pages;	/* non-zero, a page of another guest is */
	uint64_t unique_pages;	/* non-zero, neither */
	uint8_t *flags;		/* [nr_pages] SHARING_* */
};

struct sharing_pass {
	uint64_t seq;		/* 1, 2, ... (sharing_start()) */
	uint32_t nr_guests;
	struct sharing_guest *guests;
	uint64_t scanned_pages;
	uint64_t zero_pages;
	uint64_t distinct_pages;	/* distinct non-zero contents */
	uint64_t saved_pages;	/* zero pages share one frame */
	uint64_t saved_nonzero_pages;
	uint64_t hash_matches;	/* full compares done */
	uint64_t collisions;	/* ... that found different bytes */
	uint64_t cpu_us;	/* the pass thread's CPU time */
	uint64_t wall_us;
	uint64_t table_bytes;	/* its tables' size */
};

struct sharing_counts {
	uint64_t scanned, zero, dup, cross, unique;
};

extern uint64_t sharing_hash_mask;
int sharing_scan(const struct sharing_src *src, size_t nr,
		 const bool *cancel, struct sharing_pass **out);
void sharing_pass_free(struct sharing_pass *p);
uint64_t sharing_range(const struct sharing_guest *sg, uint64_t start,
		       uint64_t end, struct sharing_counts *c);
int64_t sharing_start(struct host *h);
const struct sharing_pass *sharing_latest(bool *running, uint64_t *run_seq,
					  int *err);
void sharing_stop(void);

#endif /* VPV_MEMORY_H */
