/* SPDX-License-Identifier: (GPL-2.0 OR MIT) */
/*
 * Shared request/response rings for split drivers (Xen's io/ring.h,
 * reduced to what pvkit uses), for both the guest front-ends and the
 * host stub's back-ends.
 *
 * A ring is one page (or more, a power of two of entries) of shared
 * memory: a 64-byte header of free-running 32-bit indices, then a power
 * of two of entries, each the union of a request and a response.  The
 * front-end produces requests and consumes responses; the back-end the
 * reverse.  Each side keeps a private copy of its own indices and never
 * trusts the other side's: every index read from the ring is checked
 * against the ring size before it is used (a hostile peer can write
 * anything there).
 *
 * Notification hold-off: the consumer of a queue writes into *_event
 * the index at which it wants the next notification; the producer
 * notifies only when its push crosses that index.
 *
 * Usage:
 *   VPV_RING_DECLARE(vloop, struct vloop_req, struct vloop_rsp);
 *   struct vloop_sring *s = page;
 *   vpv_ring_init_shared(&s->hdr);
 *   struct vpv_front_ring f;
 *   vpv_front_ring_init(&f, &s->hdr, VPV_RING_ENTRIES(sizeof(s->ring[0]),
 *                                                      VPV_PAGE_SIZE));
 *   struct vloop_req *r = &VPV_RING_ENTRY(s, &f, f.req_prod_pvt++)->req;
 */
#ifndef VPV_RING_H
#define VPV_RING_H

#include <linux/types.h>

#ifdef __KERNEL__
#include <linux/compiler.h>
#include <asm/barrier.h>
/* Barriers against the other side of the ring (another VM or host) */
#define vpv_ring_rmb()		virt_rmb()	/* index before entries */
#define vpv_ring_wmb()		virt_wmb()	/* entries before index */
#define vpv_ring_mb()		virt_mb()	/* index before event */
#define VPV_RING_READ(x)	READ_ONCE(x)
#define VPV_RING_WRITE(x, v)	WRITE_ONCE(x, v)
#else
#define vpv_ring_rmb()		__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define vpv_ring_wmb()		__atomic_thread_fence(__ATOMIC_RELEASE)
#define vpv_ring_mb()		__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define VPV_RING_READ(x)	__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define VPV_RING_WRITE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#endif

/* The shared header: 64 bytes, then the entries. */
struct vpv_ring_hdr {
	__u32 req_prod;		/* written by the front-end */
	__u32 req_event;	/* written by the back-end */
	__u32 rsp_prod;		/* written by the back-end */
	__u32 rsp_event;	/* written by the front-end */
	__u8 pad[48];
};

#define VPV_RING_DECLARE(name, req_t, rsp_t)				\
union name##_entry {							\
	req_t req;							\
	rsp_t rsp;							\
};									\
struct name##_sring {							\
	struct vpv_ring_hdr hdr;					\
	union name##_entry ring[];					\
}

/* Entries of size esize that fit in bytes (header included), a power of
 * two; 0 if not even one fits.
 */
static inline __u32 VPV_RING_ENTRIES(__u32 esize, __u32 bytes)
{
	__u32 n = 1;

	if (!esize || bytes < sizeof(struct vpv_ring_hdr) + esize)
		return 0;
	while (2 * n * esize <= bytes - sizeof(struct vpv_ring_hdr))
		n *= 2;
	return n;
}

/* Entry for free-running index idx (ring size a power of two). */
#define VPV_RING_ENTRY(sring, r, idx)	(&(sring)->ring[(idx) & ((r)->nr_ents - 1)])

struct vpv_front_ring {
	__u32 req_prod_pvt;
	__u32 rsp_cons;
	__u32 nr_ents;
	struct vpv_ring_hdr *hdr;
};

struct vpv_back_ring {
	__u32 rsp_prod_pvt;
	__u32 req_cons;
	__u32 nr_ents;
	struct vpv_ring_hdr *hdr;
};

/* The front-end initialises the shared page before granting it. */
static inline void vpv_ring_init_shared(struct vpv_ring_hdr *h)
{
	VPV_RING_WRITE(h->req_prod, 0);
	VPV_RING_WRITE(h->rsp_prod, 0);
	VPV_RING_WRITE(h->req_event, 1);
	VPV_RING_WRITE(h->rsp_event, 1);
}

static inline void vpv_front_ring_init(struct vpv_front_ring *r,
				       struct vpv_ring_hdr *h, __u32 nr_ents)
{
	r->req_prod_pvt = 0;
	r->rsp_cons = 0;
	r->nr_ents = nr_ents;
	r->hdr = h;
}

/* The back-end attaches to a ring whose indices it must not trust. */
static inline void vpv_back_ring_init(struct vpv_back_ring *r,
				      struct vpv_ring_hdr *h, __u32 nr_ents)
{
	r->rsp_prod_pvt = 0;
	r->req_cons = 0;
	r->nr_ents = nr_ents;
	r->hdr = h;
}

/* Free request slots the front-end may fill. */
static inline __u32 vpv_front_free_requests(const struct vpv_front_ring *r)
{
	return r->nr_ents - (r->req_prod_pvt - r->rsp_cons);
}

/*
 * Requests the back-end may consume, or -1 if the front-end's req_prod
 * claims more than a full ring (a protocol error: stop serving it).
 * Requests are readable after this returns >= 0 (read barrier).
 */
static inline long vpv_back_unconsumed_requests(const struct vpv_back_ring *r)
{
	__u32 prod = VPV_RING_READ(r->hdr->req_prod);
	__u32 avail = prod - r->req_cons;

	/* not yet answered: at most a ring's worth, never negative */
	if ((__u32)(prod - r->rsp_prod_pvt) > r->nr_ents)
		return -1;
	vpv_ring_rmb();
	return avail;
}

/* Responses the front-end may consume, or -1 on a protocol error. */
static inline long vpv_front_unconsumed_responses(const struct vpv_front_ring *r)
{
	__u32 prod = VPV_RING_READ(r->hdr->rsp_prod);
	__u32 avail = prod - r->rsp_cons;

	if (avail > r->req_prod_pvt - r->rsp_cons)
		return -1;
	vpv_ring_rmb();
	return avail;
}

/* Publish requests; returns non-zero if the back-end must be notified. */
static inline int vpv_front_push_requests(struct vpv_front_ring *r)
{
	__u32 old = VPV_RING_READ(r->hdr->req_prod);
	__u32 new = r->req_prod_pvt;

	vpv_ring_wmb();			/* requests before the index */
	VPV_RING_WRITE(r->hdr->req_prod, new);
	vpv_ring_mb();			/* index before reading req_event */
	return (__u32)(new - VPV_RING_READ(r->hdr->req_event)) <
	       (__u32)(new - old);
}

/* Publish responses; returns non-zero if the front-end must be notified. */
static inline int vpv_back_push_responses(struct vpv_back_ring *r)
{
	__u32 old = VPV_RING_READ(r->hdr->rsp_prod);
	__u32 new = r->rsp_prod_pvt;

	vpv_ring_wmb();
	VPV_RING_WRITE(r->hdr->rsp_prod, new);
	vpv_ring_mb();
	return (__u32)(new - VPV_RING_READ(r->hdr->rsp_event)) <
	       (__u32)(new - old);
}

/*
 * After draining: ask for a notification at the next request, then
 * look again (closes the race with a push in between).  Returns the
 * number of requests that arrived meanwhile, or -1 on a protocol error.
 */
static inline long vpv_back_final_check_requests(struct vpv_back_ring *r)
{
	long n = vpv_back_unconsumed_requests(r);

	if (n)
		return n;
	VPV_RING_WRITE(r->hdr->req_event, r->req_cons + 1);
	vpv_ring_mb();
	return vpv_back_unconsumed_requests(r);
}

static inline long vpv_front_final_check_responses(struct vpv_front_ring *r)
{
	long n = vpv_front_unconsumed_responses(r);

	if (n)
		return n;
	VPV_RING_WRITE(r->hdr->rsp_event, r->rsp_cons + 1);
	vpv_ring_mb();
	return vpv_front_unconsumed_responses(r);
}

#endif /* VPV_RING_H */
