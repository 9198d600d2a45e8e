// SPDX-License-Identifier: GPL-2.0
/*
 * Grant tables (v1), host side: validated access to a guest's frames
 * for the stub's back-ends (grant_map/grant_unmap) and
 * VPV_HC_GRANT_TABLE_OP(COPY) between guests.
 *
 * The table is in the shared region and guest-writable at any time.
 * The host sets READING/WRITING with a locked compare-and-exchange on
 * the 32-bit word of flags and domid, so a guest that ends access
 * meanwhile (its own cmpxchg of flags to 0) either wins, and the map
 * fails, or loses and sees the frame in use.  Several maps of one
 * reference are counted per direction (g->gnt->rd/wr, under its lock);
 * the bit is cleared when the last one goes.  Each map pins its frame
 * in the P2M, so the balloon cannot take it (-VPV_EBUSY).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"

#define GNT_CAS_TRIES	64

int grant_init(struct guest *g)
{
	struct guest_gnt *gt;

	if (g->shm_size < VPV_GNTTAB_OFFSET +
			  VPV_GNTTAB_NR * sizeof(struct vpv_grant_entry))
		return -EINVAL;
	gt = calloc(1, sizeof(*gt));
	if (!gt)
		return -ENOMEM;
	gt->rd = calloc(VPV_GNTTAB_NR, sizeof(*gt->rd));
	gt->wr = calloc(VPV_GNTTAB_NR, sizeof(*gt->wr));
	if (!gt->rd || !gt->wr) {
		free(gt->rd);
		free(gt->wr);
		free(gt);
		return -ENOMEM;
	}
	pthread_mutex_init(&gt->lock, NULL);
	gt->nr = VPV_GNTTAB_NR;
	gt->tab = (struct vpv_grant_entry *)(g->shm + VPV_GNTTAB_OFFSET);
	g->gnt = gt;
	return 0;
}

/* Back-ends are gone (bus_guest_remove) before this runs. */
void grant_destroy(struct guest *g)
{
	struct guest_gnt *gt = g->gnt;

	if (!gt)
		return;
	pthread_mutex_destroy(&gt->lock);
	free(gt->rd);
	free(gt->wr);
	free(gt);
	g->gnt = NULL;
}

static uint32_t *gnt_word(struct guest_gnt *gt, uint32_t ref)
{
	return (uint32_t *)&gt->tab[ref];	/* flags | domid << 16 */
}

/*
 * grant_map() without the counters (the caller charges someone), with
 * the grant table's lock and mem_lock held.
 */
static int map_locked(struct guest *g, uint32_t ref, uint16_t accessor_domid,
		      bool write, struct grant_map *m)
{
	struct guest_gnt *gt = g->gnt;
	uint32_t bit = write ? VPV_GTF_WRITING : VPV_GTF_READING;
	uint32_t *word, old, new;
	uint16_t *cnt;
	uint64_t pfn, idx;
	int ret, tries;

	if (!gt || ref >= gt->nr || ref < VPV_GNTTAB_RESERVED)
		return -VPV_EPERM;
	word = gnt_word(gt, ref);
	cnt = write ? &gt->wr[ref] : &gt->rd[ref];
	if (*cnt == UINT16_MAX)
		return -VPV_EBUSY;
	for (tries = 0;; tries++) {
		old = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		if (!(old & VPV_GTF_PERMIT_ACCESS) ||
		    (old >> 16) != accessor_domid ||
		    (write && (old & VPV_GTF_READONLY)))
			return -VPV_EPERM;
		new = old | bit;
		if (new == old)
			break;
		if (__atomic_compare_exchange_n(word, &old, new, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			break;
		if (tries == GNT_CAS_TRIES)
			return -VPV_EAGAIN;
	}
	/* the frame is stable now (the guest must not change it in use) */
	pfn = __atomic_load_n(&gt->tab[ref].frame, __ATOMIC_ACQUIRE);
	if (mem_pfn_to_idx(g, pfn, &idx))
		ret = -VPV_EINVAL;
	else
		ret = mem_pin_locked(g, idx);
	if (ret) {
		if (ret == -VPV_ENOSPC)
			ret = -VPV_EBUSY;
		if (!*cnt)
			__atomic_fetch_and(word, ~bit, __ATOMIC_SEQ_CST);
		return ret;
	}
	(*cnt)++;
	m->g = g;
	m->ref = ref;
	m->pfn = pfn;
	m->write = write;
	m->ptr = gpa_ptr(g, pfn << 12, VPV_PAGE_SIZE);
	return 0;
}

static void unmap_locked(struct grant_map *m)
{
	struct guest *g = m->g;
	struct guest_gnt *gt = g->gnt;
	uint16_t *cnt = m->write ? &gt->wr[m->ref] : &gt->rd[m->ref];
	uint64_t idx;

	if (*cnt && !--*cnt)
		__atomic_fetch_and(gnt_word(gt, m->ref),
				   ~(uint32_t)(m->write ? VPV_GTF_WRITING :
						       VPV_GTF_READING),
				   __ATOMIC_SEQ_CST);
	if (!mem_pfn_to_idx(g, m->pfn, &idx))
		mem_unpin_locked(g, idx);
	memset(m, 0, sizeof(*m));
}

void grant_batch_begin(struct guest *g)
{
	if (g->gnt)
		pthread_mutex_lock(&g->gnt->lock);
	mem_lock_acquire();
}

void grant_batch_end(struct guest *g)
{
	mem_lock_release();
	if (g->gnt)
		pthread_mutex_unlock(&g->gnt->lock);
}

static int grant_map_uncounted(struct guest *g, uint32_t ref,
			       uint16_t accessor_domid, bool write,
			       struct grant_map *m)
{
	int ret;

	grant_batch_begin(g);
	ret = map_locked(g, ref, accessor_domid, write, m);
	grant_batch_end(g);
	return ret;
}

static int count(struct guest *g, int ret)
{
	if (ret)
		STAT_INC(g, grant_errors);
	else
		STAT_INC(g, grants_mapped);
	return ret;
}

/*
 * Map reference ref of g for accessor_domid (a back-end of the stub;
 * counted on g).  Errors: ref out of range, reserved, not granted
 * (PERMIT_ACCESS, domid) or READONLY for a write: -VPV_EPERM; frame
 * outside RAM: -VPV_EINVAL; not populated: -VPV_ENOENT; too many maps
 * of one frame or reference: -VPV_EBUSY; the guest kept changing the
 * entry: -VPV_EAGAIN.
 */
int grant_map(struct guest *g, uint32_t ref, uint16_t accessor_domid,
	      bool write, struct grant_map *m)
{
	return count(g, grant_map_uncounted(g, ref, accessor_domid, write, m));
}

int grant_map_locked(struct guest *g, uint32_t ref, uint16_t accessor_domid,
		     bool write, struct grant_map *m)
{
	return count(g, map_locked(g, ref, accessor_domid, write, m));
}

void grant_unmap(struct grant_map *m)
{
	struct guest *g = m->g;

	if (!g)
		return;
	grant_batch_begin(g);
	unmap_locked(m);
	grant_batch_end(g);
}

void grant_unmap_locked(struct grant_map *m)
{
	if (m->g)
		unmap_locked(m);
}

/* References with at least one active map. */
unsigned int grant_nr_mapped(struct guest *g)
{
	struct guest_gnt *gt = g->gnt;
	unsigned int n = 0;
	uint32_t i;

	if (!gt)
		return 0;
	pthread_mutex_lock(&gt->lock);
	for (i = 0; i < gt->nr; i++)
		n += gt->rd[i] || gt->wr[i];
	pthread_mutex_unlock(&gt->lock);
	return n;
}

/* ---- VPV_HC_GRANT_TABLE_OP ---- */

struct copy_side {
	struct guest *owner;	/* mapped from (domain lock held), or NULL */
	struct grant_map map;
	const struct guest *ram;	/* whose RAM p is in */
	uint8_t *p;
};

static int copy_side_get(struct guest *g, const struct vpv_gnttab_copy_ptr *cp,
			 bool gref, bool write, uint32_t len,
			 struct copy_side *s)
{
	int ret;

	memset(s, 0, sizeof(*s));
	if (!gref) {
		s->p = gpa_ptr(g, cp->gpa_or_ref, len);
		s->ram = g;
		return s->p ? 0 : -VPV_EFAULT;
	}
	s->owner = domain_find_locked(cp->domid);
	if (!s->owner)
		return -VPV_ENOENT;
	if (cp->gpa_or_ref > UINT32_MAX) {
		ret = -VPV_EPERM;
	} else {
		ret = grant_map_uncounted(s->owner, cp->gpa_or_ref, g->domid,
					  write, &s->map);
		if (ret == -VPV_EINVAL)		/* frame outside RAM */
			ret = -VPV_ENOENT;
	}
	if (ret) {
		s->owner = NULL;
		return ret;
	}
	s->p = s->map.ptr + cp->offset;
	s->ram = s->owner;
	return 0;
}

static void copy_side_put(struct copy_side *s)
{
	if (!s->owner)
		return;
	grant_unmap(&s->map);
	s->owner = NULL;
}

static int64_t grant_copy_one(struct guest *g, const struct vpv_gnttab_copy *c)
{
	bool sg = c->flags & VPV_GNTCOPY_SOURCE_GREF;
	bool dg = c->flags & VPV_GNTCOPY_DEST_GREF;
	struct copy_side src, dst;
	int ret;

	if (c->flags & ~(VPV_GNTCOPY_SOURCE_GREF | VPV_GNTCOPY_DEST_GREF))
		return -VPV_EINVAL;
	if (!c->len || c->len > VPV_PAGE_SIZE ||
	    (sg && c->source.offset + c->len > VPV_PAGE_SIZE) ||
	    (dg && c->dest.offset + c->len > VPV_PAGE_SIZE))
		return -VPV_EINVAL;
	/* keeps both owners registered: domain_remove() waits for us */
	domain_read_lock();
	ret = copy_side_get(g, &c->source, sg, false, c->len, &src);
	if (ret)
		goto out;
	ret = copy_side_get(g, &c->dest, dg, true, c->len, &dst);
	if (ret) {
		copy_side_put(&src);
		goto out;
	}
	/* a frame that cannot be backed: -VPV_EFAULT; the domain lock is
	 * taken outside gpa_copy()'s guard, so a fault cannot leave it held
	 */
	ret = gpa_copy(g, dst.ram, dst.p, src.ram, src.p, c->len);
	copy_side_put(&dst);
	copy_side_put(&src);
out:
	domain_read_unlock();
	return ret;
}

long grant_table_op(struct guest *g, const uint64_t args[VPV_HC_NR_ARGS])
{
	uint64_t cmd = args[0], gpa = args[1], count = args[2], i;
	struct vpv_gnttab_copy ops[VPV_GNTTAB_COPY_MAX];
	bool lost = false;
	long n = 0;

	if (cmd != VPV_GNTTABOP_COPY)
		return -VPV_ENOSYS;
	if (!(g->features & VPV_F_GRANT) || !g->gnt)	/* negotiated */
		return -VPV_EOPNOTSUPP;
	if (!count)
		return -VPV_EINVAL;
	if (count > VPV_GNTTAB_COPY_MAX)
		return -VPV_E2BIG;
	if ((gpa & 7) || gpa_read(g, gpa, ops, count * sizeof(ops[0])))
		return -VPV_EFAULT;
	for (i = 0; i < count; i++) {
		int64_t st = grant_copy_one(g, &ops[i]);

		/* the caller's counters: the owner did nothing wrong */
		if (!st) {
			n++;
			STAT_INC(g, gnttab_copies);
		} else {
			STAT_INC(g, grant_errors);
		}
		/* the array's page faulted: the statuses are lost */
		if (gpa_store_u64(g, gpa + i * sizeof(ops[0]) +
				  offsetof(struct vpv_gnttab_copy, status),
				  (uint64_t)st))
			lost = true;
	}
	return lost ? -VPV_EFAULT : n;
}

void grant_register(void)
{
	hc_register(VPV_HC_GRANT_TABLE_OP, "grant_table_op", grant_table_op);
}

const struct guest_subsys_ops grant_subsys = {
	.name = "grant",
	.setup = grant_register,
	.init = grant_init,
	.destroy = grant_destroy,
};
