/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhypercall.ko internals shared by core.c, hcall.c, evtchn.c and
 * debugfs.c.
 */
#ifndef VHYPERCALL_INTERNAL_H
#define VHYPERCALL_INTERNAL_H

#include <linux/atomic.h>
#include <linux/irq_work.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <pvkit/vhypercall.h>
#include <pvkit/vtransport.h>

#define VPV_DRV_NAME		"vhypercall"
#define VPV_MAX_SLOTS		1024u
#define VPV_RAW_TIMEOUT_MS	1000u
#define VPV_MC_HIST_BUCKETS	10	/* 1, 2-3, 4-7, ..., 512 */

struct vpv_slot {
	struct mutex lock;		/* one caller at a time */
	wait_queue_head_t wq;		/* woken by the VPV_VEC_HCALL irq */
	struct vpv_hc_slot *shm;	/* in BAR2 */
	u64 seq;			/* last seq sent */
	bool poisoned;			/* timed out: host may still own it */
};

struct vpv_port {
	vpv_evtchn_handler_t handler;	/* a callback port, or */
	unsigned int virq;		/* a port bound to a Linux IRQ */
	unsigned int cpu;		/* where its IRQ is handled */
	void *data;
};

struct vpv_dev {
	struct pci_dev *pdev;
	void __iomem *regs;		/* BAR0 */
	void *shm;			/* BAR2, memremap WB */
	size_t shm_size;
	struct vpv_shared_header *hdr;
	u32 own_peer;
	u32 host_peer;
	u64 host_features;
	u64 features;			/* negotiated */
	bool irq_completion;		/* may set VPV_SLOT_WANT_IRQ */

	unsigned int nr_slots;
	struct vpv_slot *slots;
	unsigned int multicall_max;

	struct mutex raw_lock;		/* serializes vpv_raw_ping() */
	wait_queue_head_t raw_wq;
	u32 raw_seq;

	struct vpv_evtchn_shared *evt;	/* NULL without VPV_F_EVTCHN */
	unsigned int nr_ports;
	struct vpv_port *ports;
	spinlock_t port_lock;		/* ports[]; held while callbacks run */
	atomic_t upcall_count;
	struct irq_domain *domain;	/* hwirq = port */
	struct fwnode_handle *fwnode;
	unsigned long *steered;		/* ports handed to another CPU */
	struct irq_work retrigger;	/* an upcall from a masked context */

	/* per-CPU vectors VPV_VEC_CPU0 + 0 .. nr_cpu_vectors - 1 (ABI 1.5) */
	unsigned int nr_cpu_vectors;
	char cpu_irq_names[VPV_NR_CPU_VECTORS][20];
	bool irqs_requested[VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS];
};

struct vpv_stats {
	atomic64_t hypercalls;
	atomic64_t hc_errors;		/* host returned < 0 */
	atomic64_t spins;		/* completed while spinning */
	atomic64_t sleeps;		/* completed after WANT_IRQ/sleep */
	atomic64_t polls;		/* completed while polling (no irq) */
	atomic64_t timeouts;
	atomic64_t protocol_errors;	/* bad state / seq from the host */
	atomic64_t slot_waits;		/* calls that found every slot retired */
	atomic64_t slots_inherited;	/* PENDING at load: retired */
	atomic64_t slots_reclaimed;	/* retired slots handed back */
	atomic64_t hcall_irqs;
	atomic64_t multicalls;
	atomic64_t mc_entries;
	atomic64_t mc_hist[VPV_MC_HIST_BUCKETS];
	atomic64_t raw_pings;
	atomic64_t raw_pings_irq;
	atomic64_t echoes;		/* minimal echo round trips */
	atomic64_t doorbells_skipped;	/* the host was polling */
	atomic64_t doorbells_late;	/* skipped, then rung: not served in spin_us */
	atomic64_t evtchn_irqs;
	atomic64_t events_received;
	atomic64_t events_sent;
	atomic64_t events_spurious;	/* pending port without handler */
	atomic64_t ports_open;
};

extern struct vpv_stats vpv_stats;
extern unsigned int vpv_spin_us;
extern unsigned int vpv_timeout_ms;

#define vpv_stat_inc(name)	atomic64_inc(&vpv_stats.name)

/* core.c */
struct vpv_dev *vpv_get(void);
void vpv_put(void);
struct vpv_dev *vpv_get_rcu(void);
void vpv_ring(struct vpv_dev *vd, unsigned int vec);
bool vpv_shm_range_ok(struct vpv_dev *vd, u64 off, u64 len);

/* hcall.c */
int vpv_hcall_setup(struct vpv_dev *vd);
void vpv_hcall_teardown(struct vpv_dev *vd);
long vpv_hcall_do(struct vpv_dev *vd, unsigned int nr, const u64 *args);
irqreturn_t vpv_hcall_irq(int irq, void *data);

/* evtchn.c */
int vpv_evtchn_setup(struct vpv_dev *vd);
void vpv_evtchn_start(struct vpv_dev *vd);
void vpv_evtchn_teardown(struct vpv_dev *vd);
irqreturn_t vpv_evtchn_irq(int irq, void *data);
void __vpv_evtchn_forget(struct vpv_dev *vd, unsigned int port);

/* core.c: the transport's clients (vtransport.h); module.c */
void vpv_clients_restart(void);
int vpv_transport_init(void);
void vpv_transport_exit(void);

/* debugfs.c */
void vpv_debugfs_init(void);
struct dentry *vpv_debugfs_root(void);
void vpv_debugfs_exit(void);

#endif /* VHYPERCALL_INTERNAL_H */
