/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Transport (src/transport): the ivshmem server protocol (ivshmem.c),
 * hypercall dispatch (hcall.c, multicall.c), the hypercall and echo
 * threads (hc_thread.c) and event channels (evtchn.c, evtchn_be.c).
 * Included at the end of vpv_host.h; every
 * function is documented where it is defined.
 */
#ifndef VPV_TRANSPORT_H
#define VPV_TRANSPORT_H

struct guest;

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

/*
 * Hypercall registration: the core's and multicall from hc_init(), the
 * per-guest subsystems' from their @setup (subsys.h).
 */
void hc_core_register(void);
void multicall_register(void);
void evtchn_register(void);
void mem_register(void);
void pvmmu_register(void);

void evtchn_reset(struct guest *g);
bool evtchn_raise(struct guest *g, unsigned int port);
bool evtchn_raise_vec(struct guest *g, unsigned int port, unsigned int vec);
void evtchn_from_guest(struct guest *g);
unsigned int evtchn_nr_open(const struct guest *g);

#endif /* VPV_TRANSPORT_H */
