// SPDX-License-Identifier: GPL-2.0
/*
 * vbd back-end (abi/vpv_blkif.h), run in its own process (belib.c) as
 * vpv-blkback, or in-process for the tests (be_inproc.c: bd->sync).
 *
 * The image (and COW overlay) fds come in INIT; init() makes an
 * io_uring before the sandbox, with the fds registered as its only
 * files and restrictions (IORING_REGISTER_RESTRICTIONS) allowing only
 * READV, WRITEV, FSYNC and FALLOCATE on registered files: the ring
 * cannot open, connect or read anything else even if the process is
 * compromised (io_uring's ops are not seen by seccomp).
 *
 * connect() maps each queue's 2^order ring pages (q<q>-ring-ref<p>),
 * reads the vector to ring for each queue's answers (q<q>-vector, ABI
 * 1.5: the submitting CPU's; absent: VPV_VEC_EVTCHN), binds the
 * device's one port; event() serves every ring on each kick:
 * each request is copied once from the ring into a local, checked
 * (blkcheck.c), its grants mapped (persistent ones kept, up to
 * BE_VBD_PERSISTENT_MAX; the rest per request, at most
 * BE_VBD_TRANSIENT_MAX at a time), and its I/O submitted to the
 * io_uring as a list of struct cow_run (a raw image: one run).  A
 * request that cannot get an I/O slot or maps now is kept (its copy)
 * and started when completions free them: the ring waits, nothing
 * grows.  Completions are answered as they come (complete(), on the
 * io_uring fd's poll), on the ring the request came from.
 *
 * With a COW overlay (--cow, cow.h, Documentation/cow.rst) fds[0] is
 * the read-only base and fds[1] the overlay: a READ is the runs of
 * cow_read_map() (base, overlay, or zeros filled here), a WRITE the one
 * overlay run of cow_write_prepare() (partial edge blocks copied up
 * first, synchronously), and cow_write_done() writes its bitmap bits
 * before the answer (FUA: then an fdatasync of the overlay, data and
 * bits); DISCARD and WRITE_ZEROES are cow_discard(), FLUSH an fdatasync
 * of the overlay, RESIZE cow_resize().
 *
 * Guest RAM (ring pages, indirect pages) is touched under be_guard();
 * data moves between the image and the guest's frames by the kernel
 * (readv/writev on iovecs into the mapped frames), never copied here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "vpv_abi.h"
#include "vpv_util.h"
#include "vpv_ring.h"
#include "belib.h"
#include "blkback.h"
#include "cow.h"

#define SECTOR		(1u << VPV_BLKIF_SECTOR_SHIFT)
#define RING_PAGES_MAX	(1u << VPV_BLKIF_MAX_RING_ORDER)
#define ENT_SIZE	sizeof(union vpv_blkif_entry)
#define NO_SLOT		0xffffu		/* an empty persistent hash bucket */
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

struct blk_queue {
	struct be_gmap pages[RING_PAGES_MAX];
	uint32_t npages;
	struct vpv_back_ring br;
	bool has_pend;		/* pend: taken off the ring, not started */
	struct blk_req pend;
	bool notify;		/* responses pushed: raise the port */
	/* rung for its answers: a per-CPU vector or VPV_VEC_EVTCHN */
	uint32_t vector;
};

struct blk_pgnt {		/* a persistent grant */
	struct be_gmap m;	/* always writable */
};

struct blk_io {
	struct blk_queue *q;	/* NULL: free */
	uint64_t id;
	uint8_t op, io_op;
	uint16_t flags;
	int32_t status;
	uint32_t pending;	/* SQEs not completed */
	uint64_t bytes, done;
	uint64_t off;		/* image offset (retries) */
	bool zero_retry;	/* WRITE_ZEROES retried as a punch */
	bool cow_fua;		/* COW WRITE + FUA: fdatasync after the bits */
	bool cow_marked;	/* COW WRITE: cow_write_done() called */
	struct iovec *iov;	/* nr_segs + BLK_RUNS_MAX */
	uint32_t niov;
	struct be_gmap *maps;	/* transient maps */
	uint32_t nmaps;
	uint32_t reserved;	/* of BE_VBD_TRANSIENT_MAX, for its maps */
	uint64_t t_start;	/* be_now_ns() at start(): st.service_ns */
};

struct blk {
	struct be_dev *bd;
	struct io_uring ring;
	bool ring_ok;
	int img_fd, ovl_fd;
	struct cow *cow;	/* NULL: a raw image */
	uint64_t size;		/* bytes */
	struct blk_limits lim;
	/* connection */
	bool connected;
	uint32_t nq;
	struct blk_queue q[VPV_BLKIF_MAX_QUEUES];
	uint32_t rr;		/* queue served first next time */
	bool persistent;
	struct blk_pgnt pg[BE_VBD_PERSISTENT_MAX];
	uint32_t npg;
	uint16_t phash[BLK_PHASH];
	uint32_t transient;	/* maps of requests in flight */
	struct blk_io io[BLK_IOS_MAX];
	uint32_t inflight;
	uint32_t sqes;		/* submitted, not completed */
	struct be_blk_stats st;	/* counters since the last report */
	uint64_t last_inflight, last_npg;	/* gauges last reported */
	uint64_t answered, refused;
};

void (*blkback_fetched_hook)(uint32_t queue, uint32_t idx);

/* ---- guest RAM: the ring pages ---- */

struct ring_io {
	struct blk_queue *q;
	uint64_t off;		/* bytes from the ring's start */
	void *buf;
	uint32_t len;
	bool put;		/* buf -> ring, else ring -> buf */
};

static void ring_io_fn(void *arg)
{
	struct ring_io *a = arg;
	uint8_t *b = a->buf;
	uint64_t off = a->off;
	uint32_t left = a->len;

	while (left) {
		uint32_t p = off / VPV_PAGE_SIZE, in = off % VPV_PAGE_SIZE;
		uint32_t n = VPV_PAGE_SIZE - in < left ? VPV_PAGE_SIZE - in :
							 left;
		uint8_t *page = a->q->pages[p].ptr + in;

		if (a->put)
			memcpy(page, b, n);
		else
			memcpy(b, page, n);
		b += n;
		off += n;
		left -= n;
	}
}

/* Copy entry idx's request out of / response into the ring (guarded). */
static int ring_entry(struct be_dev *bd, struct blk_queue *q, uint32_t idx,
		      void *buf, uint32_t len, bool put)
{
	struct ring_io a = { q, sizeof(struct vpv_ring_hdr) +
			     (uint64_t)(idx & (q->br.nr_ents - 1)) * ENT_SIZE,
			     buf, len, put };

	return be_guard(bd, ring_io_fn, &a);
}

enum ring_cmd { RC_UNCONSUMED, RC_FINAL, RC_PUSH };

struct ring_args {
	struct blk_queue *q;
	enum ring_cmd cmd;
	long ret;
};

static void ring_fn(void *arg)
{
	struct ring_args *a = arg;

	if (a->cmd == RC_UNCONSUMED)
		a->ret = vpv_back_unconsumed_requests(&a->q->br);
	else if (a->cmd == RC_FINAL)
		a->ret = vpv_back_final_check_requests(&a->q->br);
	else
		a->ret = vpv_back_push_responses(&a->q->br);
}

/* The vpv_ring.h helper's result; -1 on a bad index or a fault. */
static long ring_op(struct be_dev *bd, struct blk_queue *q,
		    enum ring_cmd cmd)
{
	struct ring_args a = { q, cmd, 0 };

	if (be_guard(bd, ring_fn, &a))
		return -1;
	return a.ret;
}

/* ---- responses ---- */

static int put_rsp(struct blk *b, struct blk_queue *q, uint64_t id,
		   uint8_t op, int32_t status)
{
	struct vpv_blkif_rsp rs;

	memset(&rs, 0, sizeof(rs));
	rs.id = id;
	rs.op = op;
	rs.status = status;
	if (ring_entry(b->bd, q, q->br.rsp_prod_pvt, &rs, sizeof(rs), true))
		return -EPROTO;
	q->br.rsp_prod_pvt++;
	q->notify = true;
	b->answered++;
	if (status)
		b->st.errors++;
	return 0;
}

/*
 * Push every queue's responses; raise the port once if one asks, ringing
 * the vector of the first queue (index order) that asks.  One ring is
 * enough: the guest's handler looks at every ring whichever vector it
 * came on, and a second raise of the same port would find its selector
 * bit set and ring nothing anyway (evtchn_page_raise()).
 */
static int push_all(struct blk *b)
{
	uint32_t i, vector = VPV_VEC_EVTCHN;
	bool raise = false;
	uint64_t t = be_now_ns();
	long n;

	/* answered requests' grants unmapped before the guest sees them */
	if (be_unmap_barrier(b->bd)) {
		b->st.syncs++;
		b->st.sync_ns += be_now_ns() - t;
	}
	for (i = 0; i < b->nq; i++) {
		if (!b->q[i].notify)
			continue;
		b->q[i].notify = false;
		n = ring_op(b->bd, &b->q[i], RC_PUSH);
		if (n < 0)
			return -EPROTO;
		if (n > 0 && !raise)
			vector = b->q[i].vector;
		raise |= n > 0;
	}
	if (raise)
		be_notify_vector(b->bd, vector);
	return 0;
}

/* Counters to the core when something changed (one message a call). */
static void report(struct blk *b)
{
	static const struct be_blk_stats zero;

	if (b->answered || b->refused)
		be_count(b->bd, b->answered, b->refused);
	b->answered = 0;
	b->refused = 0;
	if (!memcmp(&b->st, &zero, sizeof(zero)) &&
	    b->last_inflight == b->inflight && b->last_npg == b->npg)
		return;
	b->st.in_flight = b->inflight;
	b->st.persistent_grants = b->npg;
	b->last_inflight = b->inflight;
	b->last_npg = b->npg;
	be_blk_report(b->bd, &b->st);
	memset(&b->st, 0, sizeof(b->st));
}

/* ---- persistent grants ---- */

static uint32_t phash_of(uint32_t ref)
{
	return (ref * 2654435761u) & (BLK_PHASH - 1);
}

static struct blk_pgnt *pg_find(struct blk *b, uint32_t ref)
{
	uint32_t h = phash_of(ref), i;

	for (i = 0; i < BLK_PHASH; i++, h = (h + 1) & (BLK_PHASH - 1)) {
		uint16_t s = b->phash[h];

		if (s == NO_SLOT)
			return NULL;
		if (b->pg[s].m.ref == ref)
			return &b->pg[s];
	}
	return NULL;
}

/* Keep m (mapped writable) as a persistent grant; false: full. */
static bool pg_add(struct blk *b, const struct be_gmap *m)
{
	uint32_t h = phash_of(m->ref);

	/* a ref twice in one batch: the second map stays per request */
	if (!b->persistent || b->npg >= BE_VBD_PERSISTENT_MAX ||
	    pg_find(b, m->ref))
		return false;
	while (b->phash[h] != NO_SLOT)	/* at most half full: ends */
		h = (h + 1) & (BLK_PHASH - 1);
	b->pg[b->npg].m = *m;
	b->phash[h] = b->npg++;
	return true;
}

static void pg_clear(struct blk *b)
{
	uint32_t i;

	for (i = 0; i < b->npg; i += BE_MAP_BATCH) {
		uint32_t n = b->npg - i < BE_MAP_BATCH ? b->npg - i :
							 BE_MAP_BATCH;
		struct be_gmap m[BE_MAP_BATCH];
		uint32_t k;

		for (k = 0; k < n; k++)
			m[k] = b->pg[i + k].m;
		be_grant_unmap(b->bd, m, n);
	}
	b->npg = 0;
	memset(b->phash, 0xff, sizeof(b->phash));
}

/* ---- grant maps of a request ---- */

/*
 * Map grants refs[0 .. n-1] into ptrs[], persistent ones reused or
 * kept, the others added to io's transient list; write: the guest's
 * frame is written (a READ).  0 or -VPV_EPERM (the io's transient
 * maps are then released by the caller).
 */
static int map_refs(struct blk *b, struct blk_io *io, const uint32_t *refs,
		    uint8_t **ptrs, uint32_t n, bool write)
{
	struct be_gmap m[BE_MAP_BATCH];
	uint32_t idx[BE_MAP_BATCH], k = 0, i, j;
	struct blk_pgnt *p;
	uint64_t t;
	int ret = 0;

	for (i = 0; i <= n && !ret; i++) {
		if (i < n) {
			p = b->persistent ? pg_find(b, refs[i]) : NULL;
			if (p) {
				ptrs[i] = p->m.ptr;
				continue;
			}
			memset(&m[k], 0, sizeof(m[k]));
			m[k].ref = refs[i];
			/* persistent: writable, reusable both ways */
			m[k].write = write || (b->persistent &&
					       b->npg < BE_VBD_PERSISTENT_MAX);
			idx[k++] = i;
		}
		if (!k || (k < BE_MAP_BATCH && i < n))
			continue;
		t = be_now_ns();
		if (be_grant_map(b->bd, m, k))
			ret = -VPV_EPERM;
		b->st.map_calls++;
		b->st.map_ns += be_now_ns() - t;
		for (j = 0; j < k; j++) {
			if (m[j].status) {
				ret = -VPV_EPERM;
				continue;
			}
			ptrs[idx[j]] = m[j].ptr;
			/* kept if writable and room (pg_add checks both) */
			if (!m[j].write || !pg_add(b, &m[j]))
				io->maps[io->nmaps++] = m[j];
		}
		k = 0;
	}
	return ret;
}

/* map_refs() over a list of any length, BE_MAP_BATCH at a time */
static int map_list(struct blk *b, struct blk_io *io, const uint32_t *refs,
		    uint8_t **ptrs, uint32_t n, bool write)
{
	uint32_t i, k;
	int ret = 0;

	for (i = 0; i < n && !ret; i += k) {
		k = n - i < BE_MAP_BATCH ? n - i : BE_MAP_BATCH;
		ret = map_refs(b, io, refs + i, ptrs + i, k, write);
	}
	return ret;
}

/*
 * Map refs for io: persistent ones kept unless @keep is false (data of
 * a VPV_BLKIF_F_TRANSIENT request).  A persistent-mode writable map of
 * a read-only grant fails: the io's maps are dropped and all of them
 * tried again read-only, per request, if !write (the guest's data or
 * segment list is only read).
 */
static int map_grants(struct blk *b, struct blk_io *io, const uint32_t *refs,
		      uint8_t **ptrs, uint32_t n, bool write, bool keep)
{
	bool saved = b->persistent;
	int ret;

	b->persistent = saved && keep;
	ret = map_list(b, io, refs, ptrs, n, write);
	if (ret && !write && b->persistent) {
		be_grant_unmap(b->bd, io->maps, io->nmaps);
		io->nmaps = 0;
		b->persistent = false;	/* read-only grants: per request */
		ret = map_list(b, io, refs, ptrs, n, false);
	}
	b->persistent = saved;
	return ret;
}

static int map_segs(struct blk *b, struct blk_io *io,
		    const struct vpv_blkif_seg *seg, uint32_t n, uint8_t **ptrs)
{
	bool keep = !(io->flags & VPV_BLKIF_F_TRANSIENT);
	uint32_t refs[VPV_BLKIF_MAX_INDIRECT_SEGS], i;	/* 4 KiB */

	if (n > VPV_BLKIF_MAX_INDIRECT_SEGS)	/* checked: never */
		return -VPV_EINVAL;
	for (i = 0; i < n; i++)
		refs[i] = seg[i].gref;
	return map_grants(b, io, refs, ptrs, n,
			  io->io_op == VPV_BLKIF_OP_READ, keep);
}

/* ---- I/O slots ---- */

static void io_free(struct blk *b, struct blk_io *io)
{
	be_grant_unmap(b->bd, io->maps, io->nmaps);
	b->transient -= io->reserved;
	free(io->iov);
	free(io->maps);
	memset(io, 0, sizeof(*io));
	b->inflight--;
}

/* A free slot for r with room for its maps, or NULL: wait. */
static struct blk_io *io_get(struct blk *b, struct blk_queue *q,
			     const struct blk_req *r)
{
	uint32_t maps = r->nr_segs + r->nr_ind_pages;
	struct blk_io *io = NULL;
	uint32_t i;

	if (b->transient + maps > BE_VBD_TRANSIENT_MAX)
		return NULL;
	for (i = 0; i < BLK_IOS_MAX && !io; i++)
		if (!b->io[i].q)
			io = &b->io[i];
	if (!io)
		return NULL;
	/* runs <= segments + 3 (cow.h), each slicing at most one more */
	io->iov = calloc(2 * r->nr_segs + 3, sizeof(*io->iov));
	io->maps = calloc(maps ? maps : 1, sizeof(*io->maps));
	if (!io->iov || !io->maps) {
		free(io->iov);
		free(io->maps);
		io->iov = NULL;
		io->maps = NULL;
		return NULL;
	}
	io->q = q;
	io->id = r->id;
	io->op = r->op;
	io->io_op = r->io_op;
	io->flags = r->flags;
	b->transient += maps;	/* reserved; given back at io_free */
	io->reserved = maps;
	io->nmaps = 0;
	b->inflight++;
	return io;
}

/* ---- submission ---- */

static struct io_uring_sqe *sqe_get(struct blk *b)
{
	struct io_uring_sqe *s = io_uring_get_sqe(&b->ring);

	if (!s) {		/* full: hand the batch to the kernel */
		io_uring_submit(&b->ring);
		s = io_uring_get_sqe(&b->ring);
	}
	return s;
}

/* registered file index of fd (0: image, 1: overlay) */
static int file_index(const struct blk *b, int fd)
{
	return fd == b->ovl_fd && b->ovl_fd >= 0 ? 1 : 0;
}

static void sqe_common(struct blk *b, struct blk_io *io,
		       struct io_uring_sqe *s, bool link)
{
	s->flags |= IOSQE_FIXED_FILE | (link ? IOSQE_IO_LINK : 0);
	io_uring_sqe_set_data(s, io);
	io->pending++;
	b->sqes++;
}

/*
 * The iovecs of [buf_off, buf_off + len) of io's data (iov[0 .. nseg))
 * appended at io->iov[io->niov]; returns the first one's index.
 */
static uint32_t iov_slice(struct blk_io *io, uint32_t nseg, uint32_t buf_off,
			  uint32_t len, uint32_t *cnt)
{
	uint32_t i, start = io->niov, pos = 0;

	for (i = 0; i < nseg && len; i++) {
		uint32_t l = io->iov[i].iov_len, skip, take;

		if (pos + l <= buf_off) {
			pos += l;
			continue;
		}
		skip = buf_off > pos ? buf_off - pos : 0;
		take = l - skip < len ? l - skip : len;
		io->iov[io->niov].iov_base = (uint8_t *)io->iov[i].iov_base +
					     skip;
		io->iov[io->niov++].iov_len = take;
		len -= take;
		buf_off += take;
		pos += l;
	}
	*cnt = io->niov - start;
	return start;
}

/*
 * Raw image: one run; COW: a READ's runs (base, overlay, zeros), a
 * WRITE's overlay run after the copy-up.  The count or -errno.
 */
static int io_runs(struct blk *b, struct blk_io *io, struct cow_run *r,
		   unsigned int max)
{
	int ret;

	if (b->cow && io->io_op == VPV_BLKIF_OP_WRITE) {
		ret = cow_write_prepare(b->cow, io->off, io->bytes, r);
		return ret ? ret : 1;
	}
	if (b->cow)
		return cow_read_map(b->cow, io->off, io->bytes, r, max);
	r[0].fd = b->img_fd;
	r[0].off = io->off;
	r[0].len = io->bytes;
	r[0].buf_off = 0;
	return 1;
}

struct zero_io {
	const struct iovec *iov;
	uint32_t n;
};

static void zero_fn(void *arg)
{
	const struct zero_io *a = arg;
	uint32_t i;

	for (i = 0; i < a->n; i++)
		memset(a->iov[i].iov_base, 0, a->iov[i].iov_len);
}

/* A COW zero run (past the base's end): zeros into the guest's frames. */
static int zero_run(struct blk *b, struct blk_io *io, uint32_t first,
		    uint32_t cnt, uint32_t len)
{
	struct zero_io a = { &io->iov[first], cnt };

	if (be_guard(b->bd, zero_fn, &a))
		return -VPV_EPERM;	/* a frame that faults: a bad grant */
	io->done += len;
	return 0;
}

static int submit_rw(struct blk *b, struct blk_io *io, uint32_t nseg)
{
	static struct cow_run runs[BLK_RUNS_MAX];
	bool wr = io->io_op == VPV_BLKIF_OP_WRITE;
	bool fua = wr && (io->flags & VPV_BLKIF_F_FUA);
	struct io_uring_sqe *s;
	uint32_t first, cnt;
	int n, i, ret;

	io->niov = nseg;
	n = io_runs(b, io, runs, BLK_RUNS_MAX);
	if (n <= 0)
		return -VPV_EIO;
	/* COW: the FUA fdatasync comes after the bits (cow_written()) */
	io->cow_fua = fua && b->cow;
	fua = fua && !b->cow;
	/* a linked chain must not be cut by a submit for room */
	if (io_uring_sq_space_left(&b->ring) < (unsigned int)n + fua)
		io_uring_submit(&b->ring);
	for (i = 0; i < n; i++) {
		first = n == 1 ? 0 : iov_slice(io, nseg, runs[i].buf_off,
					       runs[i].len, &cnt);
		if (n == 1)
			cnt = nseg;
		if (runs[i].fd < 0) {
			ret = zero_run(b, io, first, cnt, runs[i].len);
			if (ret)
				return ret;
			continue;
		}
		s = sqe_get(b);
		if (!s)
			return -VPV_EIO;
		if (wr)
			io_uring_prep_writev(s, file_index(b, runs[i].fd),
					     &io->iov[first], cnt, runs[i].off);
		else
			io_uring_prep_readv(s, file_index(b, runs[i].fd),
					    &io->iov[first], cnt, runs[i].off);
		sqe_common(b, io, s, fua);
	}
	if (fua) {
		s = sqe_get(b);
		if (!s)
			return -VPV_EIO;
		io_uring_prep_fsync(s, file_index(b, runs[0].fd),
				    IORING_FSYNC_DATASYNC);
		sqe_common(b, io, s, false);
	}
	return 0;
}

static int submit_other(struct blk *b, struct blk_io *io, uint64_t off,
			uint64_t len)
{
	struct io_uring_sqe *s = sqe_get(b);
	int mode;

	if (!s)
		return -VPV_EIO;
	switch (io->io_op) {
	case VPV_BLKIF_OP_FLUSH:	/* COW: the overlay (registered 1) */
		io_uring_prep_fsync(s, b->cow ? 1 : 0, IORING_FSYNC_DATASYNC);
		break;
	case VPV_BLKIF_OP_WRITE_ZEROES:
		mode = io->zero_retry ? FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE :
					FALLOC_FL_ZERO_RANGE |
					FALLOC_FL_KEEP_SIZE;
		io_uring_prep_fallocate(s, 0, mode, off, len);
		break;
	default:	/* DISCARD, secure or not: the blocks are freed */
		io_uring_prep_fallocate(s, 0, FALLOC_FL_PUNCH_HOLE |
					FALLOC_FL_KEEP_SIZE, off, len);
	}
	sqe_common(b, io, s, false);
	return 0;
}

struct ind_copy {
	struct vpv_blkif_seg *dst;
	uint8_t **pages;
	uint32_t n;
};

static void ind_copy_fn(void *arg)
{
	struct ind_copy *a = arg;
	uint32_t i;

	for (i = 0; i < a->n; i++)
		memcpy(&a->dst[i],
		       a->pages[i / VPV_BLKIF_SEGS_PER_INDIRECT_PAGE] +
		       (i % VPV_BLKIF_SEGS_PER_INDIRECT_PAGE) *
		       sizeof(a->dst[0]), sizeof(a->dst[0]));
}

/*
 * INDIRECT: copy the segments out of their pages once, check them.
 * The pages are mapped like data (persistent ones kept: no round trip
 * for a front-end's pool pages), read-only otherwise, until the io ends.
 */
static int fetch_indirect(struct blk *b, struct blk_io *io,
			  struct blk_req *r, struct vpv_blkif_seg *seg)
{
	uint8_t *pages[VPV_BLKIF_MAX_INDIRECT_PAGES];
	struct ind_copy a = { seg, pages, r->nr_segs };
	int ret;

	ret = map_grants(b, io, r->ind_gref, pages, r->nr_ind_pages, false,
			 true);
	if (!ret && be_guard(b->bd, ind_copy_fn, &a))
		ret = -VPV_EPERM;	/* a frame that faults: a bad grant */
	if (!ret)
		ret = blk_check_segs(seg, r->nr_segs, &b->lim, r);
	return ret;
}

/* Map and submit a checked READ/WRITE; 0 or the response's status. */
static int start_rw(struct blk *b, struct blk_io *io, struct blk_req *r)
{
	struct vpv_blkif_seg *seg = r->seg;
	uint8_t **ptrs;
	uint32_t i;
	int ret;

	ptrs = calloc(r->nr_segs, sizeof(*ptrs));
	if (r->nr_ind_pages)
		seg = calloc(r->nr_segs, sizeof(*seg));
	if (!ptrs || !seg) {
		ret = -VPV_EIO;
		goto out;
	}
	ret = r->nr_ind_pages ? fetch_indirect(b, io, r, seg) : 0;
	if (!ret)
		ret = map_segs(b, io, seg, r->nr_segs, ptrs);
	if (ret)
		goto out;
	for (i = 0; i < r->nr_segs; i++) {
		io->iov[i].iov_base = ptrs[i] + seg[i].first_sect * SECTOR;
		io->iov[i].iov_len = (seg[i].last_sect - seg[i].first_sect +
				      1) * SECTOR;
	}
	io->off = r->sector * SECTOR;
	io->bytes = r->nr_sectors * SECTOR;
	ret = submit_rw(b, io, r->nr_segs);
out:
	if (seg != r->seg)
		free(seg);
	free(ptrs);
	return ret;
}

static void count_start(struct blk *b, const struct blk_io *io)
{
	switch (io->io_op) {
	case VPV_BLKIF_OP_READ:
		b->st.reads++;
		break;
	case VPV_BLKIF_OP_WRITE:
		b->st.writes++;
		break;
	case VPV_BLKIF_OP_FLUSH:
		b->st.flushes++;
		break;
	case VPV_BLKIF_OP_DISCARD:
		b->st.discards++;
		break;
	default:
		b->st.write_zeroes++;
	}
}

static int finish(struct blk *b, struct blk_io *io);

/*
 * Start checked request r of q: 0 started or answered, 1: no slot or
 * maps now (kept as q's pending), -EPROTO: the ring faulted.
 */
static int start(struct blk *b, struct blk_queue *q, struct blk_req *r)
{
	struct blk_io *io = io_get(b, q, r);
	int ret;

	if (!io)
		return 1;
	io->t_start = be_now_ns();
	count_start(b, io);
	io->off = r->sector * SECTOR;
	io->bytes = r->nr_sectors * SECTOR;
	if (io->io_op == VPV_BLKIF_OP_READ || io->io_op == VPV_BLKIF_OP_WRITE)
		ret = start_rw(b, io, r);
	else if (b->cow && io->io_op != VPV_BLKIF_OP_FLUSH)
		ret = cow_discard(b->cow, io->off, io->bytes,
				  io->io_op == VPV_BLKIF_OP_WRITE_ZEROES) ?
		      -VPV_EIO : 0;
	else
		ret = submit_other(b, io, io->off, io->bytes);
	if (!ret && !io->pending)	/* COW: zeros or discard, no I/O */
		return finish(b, io);
	if (!ret)
		return 0;
	if (io->pending) {	/* some SQEs went: answer when they are done */
		io->status = ret;
		return 0;
	}
	ret = put_rsp(b, q, io->id, io->op, ret);
	io_free(b, io);
	return ret;
}

/* ---- completions ---- */

static int finish(struct blk *b, struct blk_io *io)
{
	int32_t st = io->status;

	if (!st && (io->io_op == VPV_BLKIF_OP_READ ||
		    io->io_op == VPV_BLKIF_OP_WRITE) && io->done != io->bytes)
		st = -VPV_EIO;	/* short: past a shrunk end, or a failure */
	if (!st && io->io_op == VPV_BLKIF_OP_READ)
		b->st.bytes_read += io->bytes;
	if (!st && io->io_op == VPV_BLKIF_OP_WRITE)
		b->st.bytes_written += io->bytes;
	st = b->connected ? put_rsp(b, io->q, io->id, io->op, st) : 0;
	b->st.service_ns += be_now_ns() - io->t_start;
	io_free(b, io);
	return st;
}

/*
 * A COW WRITE's data landed: its bits are written before the answer;
 * with FUA an fdatasync of the overlay (data and bits) comes next and
 * answers.  0 or -EPROTO.
 */
static int cow_written(struct blk *b, struct blk_io *io)
{
	struct io_uring_sqe *s;

	io->cow_marked = true;
	if (io->status || io->done != io->bytes)
		return finish(b, io);
	if (cow_write_done(b->cow, io->off, io->bytes)) {
		io->status = -VPV_EIO;
		return finish(b, io);
	}
	if (!io->cow_fua || !b->connected)
		return finish(b, io);
	s = sqe_get(b);
	if (!s) {
		io->status = -VPV_EIO;
		return finish(b, io);
	}
	io_uring_prep_fsync(s, 1, IORING_FSYNC_DATASYNC);
	sqe_common(b, io, s, false);
	io_uring_submit(&b->ring);
	return 0;
}

static int cqe_one(struct blk *b, struct blk_io *io, int res)
{
	b->sqes--;
	io->pending--;
	if (res == -EOPNOTSUPP && io->io_op == VPV_BLKIF_OP_WRITE_ZEROES &&
	    !io->zero_retry && b->connected) {
		io->zero_retry = true;	/* no ZERO_RANGE here: punch */
		return submit_other(b, io, io->off, io->bytes) ? -EPROTO : 0;
	}
	if (res < 0 && !io->status)
		io->status = -VPV_EIO;
	else if (res > 0)
		io->done += res;
	if (io->pending)
		return 0;
	if (b->cow && io->io_op == VPV_BLKIF_OP_WRITE && !io->cow_marked)
		return cow_written(b, io);
	return finish(b, io);
}

/* Reap completions (wait: at least one); 0 or -EPROTO. */
static int reap(struct blk *b, bool wait)
{
	struct io_uring_cqe *cqe;
	int ret = 0;

	io_uring_submit(&b->ring);
	if (wait && b->sqes && io_uring_wait_cqe(&b->ring, &cqe))
		return 0;
	while (!io_uring_peek_cqe(&b->ring, &cqe)) {
		struct blk_io *io = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&b->ring, cqe);
		if (cqe_one(b, io, res))
			ret = -EPROTO;
	}
	return ret;
}

/* ---- the rings ---- */

/*
 * Take up to budget requests off q: each copied once, checked, started
 * (or answered with its error).  Returns how many were taken, or
 * -EPROTO; *more: q has requests left (budget, or no resources).
 */
static int serve_queue(struct blk *b, struct blk_queue *q, uint32_t budget,
		       bool *more)
{
	struct vpv_blkif_req rq;
	uint32_t done = 0;
	long n;
	int ret;

	*more = false;
	while (done < budget) {
		if (q->has_pend) {
			ret = start(b, q, &q->pend);
			if (ret == 1)
				return done;	/* waits for completions */
			q->has_pend = false;
			if (ret)
				return -EPROTO;
			done++;
			continue;
		}
		n = ring_op(b->bd, q, RC_UNCONSUMED);
		if (n < 0)
			return -EPROTO;
		if (!n) {
			n = ring_op(b->bd, q, RC_FINAL);
			if (n < 0)
				return -EPROTO;
			if (!n)
				return done;
		}
		/* the one copy: everything below reads rq, not the ring */
		if (ring_entry(b->bd, q, q->br.req_cons, &rq, sizeof(rq), false))
			return -EPROTO;
		if (blkback_fetched_hook)
			blkback_fetched_hook(q - b->q, q->br.req_cons);
		q->br.req_cons++;
		ret = blk_check_req(&rq, &b->lim, &q->pend);
		if (ret == -VPV_EOPNOTSUPP)
			b->refused++;
		if (ret) {
			if (put_rsp(b, q, rq.id, rq.op, ret))
				return -EPROTO;
			done++;
			continue;
		}
		q->has_pend = true;
	}
	*more = true;
	return done;
}

/* Every ring, round robin, BLK_QUEUE_BUDGET each per pass. */
static int serve_all(struct blk *b)
{
	uint32_t total = 0, i, k;
	bool more, any = true;
	int n;

	while (any && total < BLK_BUDGET) {
		any = false;
		for (k = 0; k < b->nq; k++) {
			i = (b->rr + k) % b->nq;
			n = serve_queue(b, &b->q[i], BLK_QUEUE_BUDGET, &more);
			if (n < 0)
				return -EPROTO;
			total += n;
			any |= more && n > 0;
		}
		b->rr = (b->rr + 1) % b->nq;
		io_uring_submit(&b->ring);
	}
	if (any)
		be_again(b->bd);
	return 0;
}

/* ---- connect ---- */

static int read_u32(struct be_dev *bd, bool fe, const char *key,
		    uint32_t *out)
{
	char v[64];
	int len = be_store_read(bd, fe, key, v, sizeof(v));

	if (len < 0)
		return len;
	return vpv_parse_u32(v, len, out) ? -EINVAL : 0;
}

/* A key read as in the front-end's vpv_bus_read_feature(): absent 0. */
static uint32_t key_or(struct be_dev *bd, bool fe, const char *key,
		       uint32_t def)
{
	uint32_t v;

	return read_u32(bd, fe, key, &v) ? def : v;
}

static void read_limits(struct blk *b)
{
	struct be_dev *bd = b->bd;
	struct blk_limits *l = &b->lim;
	uint32_t ind = key_or(bd, false, "feature-max-indirect-segments", 0);

	l->sectors = b->size / SECTOR;
	l->sector_size = bd->params->vbd.sector_size;
	l->ro = (bd->params->vbd.flags & BE_VBD_RO) ||
		key_or(bd, false, "read-only", 0);
	l->flush = key_or(bd, false, "feature-flush-cache", 0);
	l->fua = key_or(bd, false, "feature-fua", 0);
	l->discard = key_or(bd, false, "feature-discard", 0);
	l->secure = key_or(bd, false, "feature-secure-discard", 0);
	l->write_zeroes = key_or(bd, false, "feature-write-zeroes", 0);
	l->transient = key_or(bd, false, "feature-transient", 0);
	l->max_indirect = ind > VPV_BLKIF_MAX_INDIRECT_SEGS ?
			  VPV_BLKIF_MAX_INDIRECT_SEGS : ind;
	b->persistent = key_or(bd, false, "feature-persistent", 0) &&
			key_or(bd, true, "feature-persistent", 0);
}

/* Map queue qi's 2^order ring pages; 0 or -errno. */
static int map_ring(struct blk *b, uint32_t qi, uint32_t order)
{
	struct blk_queue *q = &b->q[qi];
	char key[32];
	uint32_t p;
	int ret;

	q->npages = 1u << order;
	for (p = 0; p < q->npages; p++) {
		snprintf(key, sizeof(key), "q%u-ring-ref%u", qi, p);
		ret = read_u32(b->bd, true, key, &q->pages[p].ref);
		if (ret)
			return ret;
		q->pages[p].write = true;
	}
	ret = be_grant_map(b->bd, q->pages, q->npages);
	for (p = 0; p < q->npages && !ret; p++)
		ret = q->pages[p].status;
	if (ret)
		return ret;
	vpv_back_ring_init(&q->br, (struct vpv_ring_hdr *)q->pages[0].ptr,
			   VPV_RING_ENTRIES(ENT_SIZE,
					    q->npages * VPV_PAGE_SIZE));
	return 0;
}

/*
 * Queue qi's q<q>-vector (ABI 1.5): the per-CPU vector to ring for its
 * answers; absent: VPV_VEC_EVTCHN.  0, or -EINVAL for any value but a
 * per-CPU vector (not a number, another vector: abi/vpv_blkif.h).
 */
static int read_vector(struct blk *b, uint32_t qi)
{
	char key[32];
	uint32_t v;
	int ret;

	snprintf(key, sizeof(key), "q%u-vector", qi);
	ret = read_u32(b->bd, true, key, &v);
	if (ret == -ENOENT) {
		b->q[qi].vector = VPV_VEC_EVTCHN;
		return 0;
	}
	if (ret || !be_is_cpu_vector(v))
		return -EINVAL;
	b->q[qi].vector = v;
	return 0;
}

static void unmap_rings(struct blk *b)
{
	uint32_t i;

	for (i = 0; i < VPV_BLKIF_MAX_QUEUES; i++) {
		be_grant_unmap(b->bd, b->q[i].pages, b->q[i].npages);
		memset(&b->q[i], 0, sizeof(b->q[i]));
	}
}

static int blk_connect(struct be_dev *bd)
{
	struct blk *b = bd->priv;
	uint32_t nq, order, port, i;
	int ret;

	if (!b)
		return -ENODEV;
	nq = key_or(bd, true, "multi-queue-num-queues", 1);
	order = key_or(bd, true, "ring-page-order", 0);
	if (!nq || nq > key_or(bd, false, "multi-queue-max-queues", 1) ||
	    nq > VPV_BLKIF_MAX_QUEUES ||
	    order > key_or(bd, false, "max-ring-page-order", 0) ||
	    order > VPV_BLKIF_MAX_RING_ORDER ||
	    read_u32(bd, true, "event-channel", &port))
		return -EINVAL;
	read_limits(b);
	b->nq = nq;
	b->rr = 0;
	/* every key checked before anything is mapped */
	for (i = 0, ret = 0; i < nq && !ret; i++)
		ret = read_vector(b, i);
	for (i = 0; i < nq && !ret; i++)
		ret = map_ring(b, i, order);
	if (!ret)
		ret = be_bind(bd, port);
	if (ret) {
		unmap_rings(b);
		b->nq = 0;
		return ret;
	}
	b->connected = true;
	be_again(bd);	/* requests queued before we connected */
	return 0;
}

static void blk_disconnect(struct be_dev *bd)
{
	struct blk *b = bd->priv;

	if (!b || !b->connected)
		return;
	b->connected = false;	/* completions now answer nobody */
	be_unbind(bd);
	while (b->sqes)		/* the kernel writes into mapped frames */
		reap(b, true);
	pg_clear(b);
	unmap_rings(b);
	b->nq = 0;
	report(b);
}

/* ---- the callbacks ---- */

static bool has_pending(const struct blk *b)
{
	uint32_t i;

	for (i = 0; i < b->nq; i++)
		if (b->q[i].has_pend)
			return true;
	return false;
}

static int blk_event(struct be_dev *bd)
{
	struct blk *b = bd->priv;
	int ret;

	if (!b || !b->connected)
		return 0;
	ret = reap(b, false);
	if (!ret)
		ret = serve_all(b);
	while (!ret && bd->sync && b->sqes)	/* in-process: finish here */
		ret = reap(b, true);
	if (!ret && bd->sync && has_pending(b))	/* slots are free now */
		be_again(bd);
	if (!ret)
		ret = push_all(b);
	report(b);
	return ret;
}

static int blk_complete(struct be_dev *bd)
{
	struct blk *b = bd->priv;
	int ret;

	if (!b)
		return 0;
	ret = reap(b, false);
	if (!ret && b->connected)	/* waiting requests: slots are free */
		ret = serve_all(b);
	if (!ret && b->connected)
		ret = push_all(b);
	report(b);
	return b->connected ? ret : 0;
}

static int blk_resize(struct be_dev *bd, uint64_t size)
{
	struct blk *b = bd->priv;
	char v[24];

	int ret;

	if (!b || !size || size % bd->params->vbd.sector_size)
		return -EINVAL;
	if (bd->params->vbd.flags & BE_VBD_RO)
		return -EOPNOTSUPP;
	if (b->cow) {		/* the overlay's virtual size */
		ret = cow_resize(b->cow, size);
		if (ret)
			return ret;
	} else if (bd->params->vbd.flags & BE_VBD_BLKDEV) {
		return -EOPNOTSUPP;
	} else if (ftruncate(b->img_fd, size) < 0) {
		return -errno;
	}
	b->size = size;
	b->lim.sectors = size / SECTOR;
	snprintf(v, sizeof(v), "%llu", (unsigned long long)(size / SECTOR));
	return be_store_write(bd, "sectors", v);
}

/* The io_uring: registered files only, four ops (see the top). */
static int ring_setup(struct blk *b)
{
	struct io_uring_restriction res[6];
	int files[2] = { b->img_fd, b->ovl_fd }, ret;
	unsigned int nf = b->ovl_fd >= 0 ? 2 : 1;

	ret = io_uring_queue_init(BLK_SQ_ENTRIES, &b->ring,
				  IORING_SETUP_R_DISABLED);
	if (ret)
		return ret;
	b->ring_ok = true;
	ret = io_uring_register_files(&b->ring, files, nf);
	if (ret)
		return ret;
	memset(res, 0, sizeof(res));
	res[0].opcode = IORING_RESTRICTION_SQE_OP;
	res[0].sqe_op = IORING_OP_READV;
	res[1].opcode = IORING_RESTRICTION_SQE_OP;
	res[1].sqe_op = IORING_OP_WRITEV;
	res[2].opcode = IORING_RESTRICTION_SQE_OP;
	res[2].sqe_op = IORING_OP_FSYNC;
	res[3].opcode = IORING_RESTRICTION_SQE_OP;
	res[3].sqe_op = IORING_OP_FALLOCATE;
	res[4].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[4].sqe_flags = IOSQE_FIXED_FILE;
	res[5].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[5].sqe_flags = IOSQE_IO_LINK;
	/* liburing 2.3's library lacks the wrappers: the raw syscall */
	if (syscall(__NR_io_uring_register, b->ring.ring_fd,
		    IORING_REGISTER_RESTRICTIONS, res, 6) < 0 ||
	    syscall(__NR_io_uring_register, b->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* What the sandbox must leave: the image fds, the ring's fd. */
static int sandbox_rules(struct blk *b, struct be_sandbox_extra *x)
{
	static const int file_nrs[] = {
		SYS_pread64, SYS_pwrite64, SYS_preadv, SYS_pwritev,
		SYS_fallocate, SYS_fdatasync, SYS_fstat, SYS_newfstatat,
		SYS_ftruncate,
	};
	static const int ring_nrs[] = { SYS_io_uring_enter };
	int ret;

	x->fsize = true;	/* writes and resizes of the image */
	ret = be_sandbox_allow(x, b->img_fd, file_nrs, ARRAY_SIZE(file_nrs));
	if (!ret && b->ovl_fd >= 0)
		ret = be_sandbox_allow(x, b->ovl_fd, file_nrs,
				       ARRAY_SIZE(file_nrs));
	if (!ret)
		ret = be_sandbox_allow(x, b->ring.ring_fd, ring_nrs,
				       ARRAY_SIZE(ring_nrs));
	return ret;
}

static void blk_fini(struct be_dev *bd)
{
	struct blk *b = bd->priv;

	if (!b)
		return;
	blk_disconnect(bd);
	if (b->ring_ok)
		io_uring_queue_exit(&b->ring);
	cow_close(b->cow);
	free(b);
	bd->priv = NULL;
}

static int blk_init(struct be_dev *bd, struct be_sandbox_extra *x)
{
	const struct be_params *p = bd->params;
	struct blk *b;
	int ret;

	if (!p || p->nr_fds < 1 || p->nr_fds > 2)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->bd = bd;
	b->img_fd = p->fds[0];
	b->ovl_fd = p->nr_fds > 1 ? p->fds[1] : -1;
	b->size = p->vbd.size;
	memset(b->phash, 0xff, sizeof(b->phash));
	bd->priv = b;
	ret = 0;
	/* the core made or checked the overlay; the header is the size */
	if (p->vbd.flags & BE_VBD_COW)
		ret = b->ovl_fd < 0 ? -EINVAL :
		      cow_open(b->ovl_fd, b->img_fd, false, &b->cow);
	if (b->cow)
		b->size = cow_size(b->cow);
	if (!ret)
		ret = ring_setup(b);
	if (!ret)
		ret = sandbox_rules(b, x);
	if (ret) {
		blk_fini(bd);
		return ret;
	}
	bd->poll_fd = b->ring.ring_fd;
	return 0;
}

const struct be_device_ops blk_be_ops = {
	.type = "vbd",
	.init = blk_init,
	.fini = blk_fini,
	.connect = blk_connect,
	.disconnect = blk_disconnect,
	.event = blk_event,
	.complete = blk_complete,
	.resize = blk_resize,
};
