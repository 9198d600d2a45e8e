// SPDX-License-Identifier: GPL-2.0
/*
 * The vbd back-end (backend/blkback.c) in-process (be_inproc.c), with a
 * fake front-end here building rings in a test guest's RAM: data
 * written and read back equal the image file, every validation class
 * of abi/vpv_blkif.h answered with its error, flush / discard /
 * write-zeroes, persistent grants, multi-page rings and several
 * queues, a flooded queue not starving another, resize, per-queue
 * interrupt vectors (q<q>-vector, ABI 1.5), and the control path
 * (device add ... --image, list's "blk").
 */
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"
#include "vpv_blkif.h"
#include "belib.h"
#include "blkback.h"

#define RING_PFN	0x100ull	/* queue q, page p: RING_PFN + 16q + p */
#define DATA_PFN	0x400ull	/* data frames, one per ref */
#define REF_RING	16u		/* ring refs: REF_RING + 16q + p */
#define REF_DATA	256u		/* data refs: REF_DATA + i */
#define NDATA		1100u		/* data frames granted */
#define IMG_SECTORS	8192u		/* a 4 MiB image */
#define WAIT_MS		10000		/* for anything a process does */

struct fe {
	struct guest *g;
	uint32_t id, nq, order, port;
	struct vpv_blkif_sring *sr[VPV_BLKIF_MAX_QUEUES];
	struct vpv_front_ring fr[VPV_BLKIF_MAX_QUEUES];
	char img[96];
	int fd;			/* the test's view of the image */
	char be[96];
};

static struct guest gt;
static struct guest *g = &gt;

static uint8_t *frame(uint32_t i)
{
	return g->ram + (DATA_PFN + i) * 4096;
}

static uint64_t ms(void)
{
	return bus_now_ms();
}

/* The device's state, waited for (a back-end process answers later). */
static bool wait_state(const char *dir, int st)
{
	uint64_t end = ms() + WAIT_MS;

	while (ms() < end) {
		if (state_of(dir) == st)
			return true;
		usleep(500);
	}
	return false;
}

/* Grant maps of the guest once they reach want (a removal finishes
 * asynchronously with a process), or as they are after WAIT_MS.
 */
static unsigned int mapped_settles(unsigned int want)
{
	uint64_t end = ms() + WAIT_MS;

	while (grant_nr_mapped(g) != want && ms() < end)
		usleep(1000);
	return grant_nr_mapped(g);
}

static long be_key(struct fe *f, const char *key)
{
	char p[160], *v;
	uint32_t len;
	long x;

	snprintf(p, sizeof(p), "%s/%s", f->be, key);
	if (store_read(STORE_DOMID_HOST, 0, p, &v, &len))
		return -1;
	x = atol(v);
	free(v);
	return x;
}

static void fe_write(struct fe *f, const char *key, const char *fmt,
		     unsigned long v)
{
	char p[160], val[32];

	snprintf(p, sizeof(p), "device/vbd/%u/%s", f->id, key);
	snprintf(val, sizeof(val), fmt, v);
	if (store_write(g->domid, 0, p, val, strlen(val)))
		BAIL("front-end write %s", key);
}

/* A fresh image file of IMG_SECTORS sectors for device id. */
static void fe_image(struct fe *f, uint32_t id)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->g = g;
	snprintf(f->img, sizeof(f->img), "%s/img%u", test_dir, id);
	f->fd = open(f->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (f->fd < 0 || ftruncate(f->fd, IMG_SECTORS * 512ull))
		BAIL("image");
}

/* device add ... --image path (f->fd: the test's view of it). */
static int fe_add_path(struct fe *f, const char *path, const char *opts)
{
	char line[VPV_CTL_MAX_REQ];
	struct host h = { .guests = g, .nr_guests = 1 };
	struct sbuf out;
	int ret;

	snprintf(f->be, sizeof(f->be), "/local/domain/0/backend/vbd/%u/%u",
		 g->domid, f->id);
	sb_init(&out);
	snprintf(line, sizeof(line), "device add %.32s vbd %u --image %s %.128s",
		 g->name, f->id, path, opts);
	ret = ctl_handle_line(&h, line, strlen(line), &out);
	if (ret)
		printf("# %s\n", out.buf);
	sb_free(&out);
	return ret;
}

/* A device on a fresh image of IMG_SECTORS sectors. */
static int fe_add(struct fe *f, uint32_t id, const char *opts)
{
	fe_image(f, id);
	return fe_add_path(f, f->img, opts);
}

static void fe_del(struct fe *f)
{
	bus_device_remove(g, "vbd", f->id);
	fe_write(f, "state", "%lu", VPV_BUS_CLOSED);
	close(f->fd);
	unlink(f->img);
}

/* The front-end's keys for nq rings of 2^order pages, then Initialised. */
static void fe_initialise(struct fe *f, uint32_t nq, uint32_t order,
			  bool persistent)
{
	uint32_t q, p, n = 1u << order;
	char key[32];

	f->nq = nq;
	f->order = order;
	for (q = 0; q < nq; q++) {
		f->sr[q] = (void *)(g->ram + (RING_PFN + 16 * q) * 4096);
		memset(f->sr[q], 0, n * 4096);
		vpv_ring_init_shared(&f->sr[q]->hdr);
		vpv_front_ring_init(&f->fr[q], &f->sr[q]->hdr,
				    VPV_RING_ENTRIES(sizeof(f->sr[q]->ring[0]),
						     n * 4096));
		for (p = 0; p < n; p++) {
			test_grant(g, REF_RING + 16 * q + p,
				   RING_PFN + 16 * q + p, VPV_GTF_PERMIT_ACCESS);
			snprintf(key, sizeof(key), "q%u-ring-ref%u", q, p);
			fe_write(f, key, "%lu", REF_RING + 16 * q + p);
		}
	}
	if (!f->port)
		f->port = call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC,
			       VPV_DOMID_HOST, 0, 0);
	fe_write(f, "multi-queue-num-queues", "%lu", nq);
	fe_write(f, "ring-page-order", "%lu", order);
	fe_write(f, "event-channel", "%lu", f->port);
	fe_write(f, "feature-persistent", "%lu", persistent);
	fe_write(f, "state", "%lu", VPV_BUS_INITIALISED);
}

/* The front-end's handshake: nq rings of 2^order pages. */
static bool fe_connect(struct fe *f, uint32_t nq, uint32_t order,
		       bool persistent)
{
	fe_initialise(f, nq, order, persistent);
	return wait_state(f->be, VPV_BUS_CONNECTED);
}

/* The front-end removes its key (absent: the default). */
static void fe_rm(struct fe *f, const char *key)
{
	char p[160];

	snprintf(p, sizeof(p), "device/vbd/%u/%s", f->id, key);
	store_rm(g->domid, 0, p);
}

static void fe_close(struct fe *f)
{
	fe_write(f, "state", "%lu", VPV_BUS_CLOSED);
	fe_write(f, "state", "%lu", VPV_BUS_INITIALISING);
}

static struct vpv_blkif_req *req(struct fe *f, uint32_t q)
{
	struct vpv_blkif_req *r =
		&VPV_RING_ENTRY(f->sr[q], &f->fr[q], f->fr[q].req_prod_pvt++)->req;

	memset(r, 0, sizeof(*r));
	return r;
}

/* Push every queue, notify, run the host's re-kicks (be_again). */
static void kick(struct fe *f)
{
	uint32_t q;
	int i;

	for (q = 0; q < f->nq; q++)
		vpv_front_push_requests(&f->fr[q]);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, f->port, 0, 0);
	for (i = 0; i < 64; i++)
		evtchn_from_guest(g);
}

/* The next response of queue q, or status 999 if there is none. */
static int rsp(struct fe *f, uint32_t q, uint64_t *id)
{
	uint64_t end = ms() + WAIT_MS;
	struct vpv_blkif_rsp *r;

	while (vpv_front_unconsumed_responses(&f->fr[q]) <= 0) {
		if (ms() > end)
			return 999;
		usleep(100);
	}
	r = &VPV_RING_ENTRY(f->sr[q], &f->fr[q], f->fr[q].rsp_cons++)->rsp;
	if (id)
		*id = r->id;
	return r->status;
}

/* A READ/WRITE of n whole frames (data i0 ..) at sector; its status. */
static int rw(struct fe *f, uint8_t op, uint64_t sector, uint32_t i0,
	      uint32_t n, uint16_t flags)
{
	struct vpv_blkif_req *r = req(f, 0);
	uint32_t i;

	r->op = op;
	r->id = 77;
	r->nr_segs = n;
	r->flags = flags;
	r->sector = sector;
	for (i = 0; i < n; i++) {
		r->u.seg[i].gref = REF_DATA + i0 + i;
		r->u.seg[i].first_sect = 0;
		r->u.seg[i].last_sect = 7;
	}
	kick(f);
	return rsp(f, 0, NULL);
}

/* One request as given; its status. */
static int one(struct fe *f, const struct vpv_blkif_req *in)
{
	*req(f, 0) = *in;
	kick(f);
	return rsp(f, 0, NULL);
}

static void fill(uint32_t i0, uint32_t n, uint32_t seed)
{
	uint32_t i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < 4096; k++)
			frame(i0 + i)[k] = (uint8_t)(seed + i * 31 + k * 7);
}

static bool file_eq(struct fe *f, uint64_t off, uint32_t i0, uint32_t n)
{
	static uint8_t buf[4096];
	uint32_t i;

	for (i = 0; i < n; i++)
		if (pread(f->fd, buf, 4096, off + i * 4096ull) != 4096 ||
		    memcmp(buf, frame(i0 + i), 4096))
			return false;
	return true;
}

static void test_rw(void)
{
	struct fe f;

	is(fe_add(&f, 0, ""), 0, "device add GUEST vbd 0 --image FILE");
	is(be_key(&f, "sectors"), IMG_SECTORS, "sectors from the image's size");
	is(be_key(&f, "sector-size"), 512, "sector-size 512");
	is(be_key(&f, "read-only"), 0, "read-only 0");
	ok(fe_connect(&f, 1, 0, false), "one ring of one page: Connected");
	fill(0, 11, 1);
	is(rw(&f, VPV_BLKIF_OP_WRITE, 16, 0, 11, 0), 0, "WRITE of 11 frames");
	ok(file_eq(&f, 16 * 512, 0, 11), "the image holds the data");
	memset(frame(20), 0, 11 * 4096);
	is(rw(&f, VPV_BLKIF_OP_READ, 16, 20, 11, 0), 0, "READ of them back");
	ok(!memcmp(frame(0), frame(20), 11 * 4096), "read back equal");
	is(rw(&f, VPV_BLKIF_OP_WRITE, IMG_SECTORS - 8, 0, 1, VPV_BLKIF_F_FUA),
	   0, "WRITE + FUA of the last frame");
	ok(file_eq(&f, (IMG_SECTORS - 8) * 512ull, 0, 1), "... in the image");
	is(grant_nr_mapped(g), 1, "data grants unmapped, the ring held");
	fe_del(&f);
	is(mapped_settles(0), 0, "removed: nothing mapped");
}

/* Every validation class answered with its error; the device serves on. */
static void test_checks(void)
{
	struct vpv_blkif_req r;
	struct fe f;

	is(fe_add(&f, 1, ""), 0, "vbd 1 added");
	ok(fe_connect(&f, 1, 0, false), "Connected");
#define RQ(o, n, sec) do { memset(&r, 0, sizeof(r)); r.op = (o); \
		r.nr_segs = (n); r.sector = (sec); r.u.seg[0].gref = REF_DATA; \
		r.u.seg[0].last_sect = 7; } while (0)
	RQ(9, 1, 0);
	is(one(&f, &r), -VPV_ENOSYS, "unknown op: -VPV_ENOSYS");
	RQ(VPV_BLKIF_OP_READ, 1, 0);
	r.flags = 0x80;
	is(one(&f, &r), -VPV_EINVAL, "unknown flag: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_READ, 1, 0);
	r.flags = VPV_BLKIF_F_FUA;
	is(one(&f, &r), -VPV_EINVAL, "FUA on a READ: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_READ, 0, 0);
	is(one(&f, &r), -VPV_EINVAL, "READ of 0 segments: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_WRITE, 12, 0);
	is(one(&f, &r), -VPV_EINVAL, "WRITE of 12 segments: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_FLUSH, 1, 0);
	is(one(&f, &r), -VPV_EINVAL, "FLUSH with a segment: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_READ, 1, IMG_SECTORS - 7);
	is(one(&f, &r), -VPV_EINVAL, "READ past the end: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_READ, 1, ~0ull - 3);
	is(one(&f, &r), -VPV_EINVAL, "sector + length overflows: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_READ, 1, IMG_SECTORS - 8);
	is(one(&f, &r), 0, "READ of the last frame: 0");
	RQ(VPV_BLKIF_OP_READ, 1, 0);
	r.u.seg[0].first_sect = 5;
	r.u.seg[0].last_sect = 4;
	is(one(&f, &r), -VPV_EINVAL, "first_sect > last_sect: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_READ, 1, 0);
	r.u.seg[0].last_sect = 8;
	is(one(&f, &r), -VPV_EINVAL, "last_sect 8: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_READ, 1, 0);
	r.u.seg[0].gref = 7000;	/* not granted */
	is(one(&f, &r), -VPV_EPERM, "a bad grant: -VPV_EPERM");
	RQ(VPV_BLKIF_OP_READ, 1, 0);
	r.u.seg[0].gref = 0xffffffff;
	is(one(&f, &r), -VPV_EPERM, "a grant ref past the table: -VPV_EPERM");
	RQ(VPV_BLKIF_OP_DISCARD, 0, 0);
	is(one(&f, &r), -VPV_EINVAL, "DISCARD of 0 sectors: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_INDIRECT, 0, 0);
	r.u.indirect.op = VPV_BLKIF_OP_READ;
	r.u.indirect.nr_segs = 257;
	is(one(&f, &r), -VPV_EINVAL, "INDIRECT of 257 segments: -VPV_EINVAL");
	r.u.indirect.nr_segs = 0;
	is(one(&f, &r), -VPV_EINVAL, "INDIRECT of 0 segments: -VPV_EINVAL");
	RQ(VPV_BLKIF_OP_READ, 2, 0);
	r.u.seg[1].gref = REF_DATA + 1;
	r.u.seg[1].first_sect = 2;
	r.u.seg[1].last_sect = 3;
	is(one(&f, &r), 0, "partial segments (8 + 2 sectors): 0");
	is(grant_nr_mapped(g), 1, "failed maps released");
	fe_del(&f);
}

#ifndef BLK_PROC
/* The ring entry is changed right after the back-end copied it. */
static struct fe *hook_fe;

static void spoil(uint32_t q, uint32_t idx)
{
	struct vpv_blkif_req *r =
		&VPV_RING_ENTRY(hook_fe->sr[q], &hook_fe->fr[q], idx)->req;

	r->nr_segs = 200;
	r->sector = ~0ull;
	r->op = 9;
	r->u.seg[0].gref = 7000;
}

static void test_double_fetch(void)
{
	struct fe f;

	is(fe_add(&f, 2, ""), 0, "vbd 2 added");
	ok(fe_connect(&f, 1, 0, false), "Connected");
	hook_fe = &f;
	blkback_fetched_hook = spoil;
	fill(0, 2, 9);
	is(rw(&f, VPV_BLKIF_OP_WRITE, 64, 0, 2, 0), 0,
	   "a request changed after it was copied: served as copied");
	blkback_fetched_hook = NULL;
	ok(file_eq(&f, 64 * 512, 0, 2), "... its data in the image");
	fe_del(&f);
}
#endif

/* An impossible req_prod: protocol error, the device goes Closing. */
static void test_overflow(void)
{
	struct fe f;

	is(fe_add(&f, 3, ""), 0, "vbd 3 added");
	ok(fe_connect(&f, 1, 0, false), "Connected");
	f.fr[0].req_prod_pvt += 1000;
	kick(&f);
	ok(wait_state(f.be, VPV_BUS_CLOSING), "req_prod a ring ahead: Closing");
	fe_close(&f);
	ok(fe_connect(&f, 1, 0, false), "the front-end reconnects");
	is(rw(&f, VPV_BLKIF_OP_READ, 0, 0, 1, 0), 0, "and is served");
	fe_del(&f);
}

static uint64_t blocks(struct fe *f)
{
	struct stat st;

	return fstat(f->fd, &st) ? 0 : st.st_blocks;
}

static int range_op(struct fe *f, uint8_t op, uint16_t flags, uint64_t sector,
		    uint64_t n)
{
	struct vpv_blkif_req r;

	memset(&r, 0, sizeof(r));
	r.op = op;
	r.flags = flags;
	r.sector = sector;
	r.u.discard.nr_sectors = n;
	return one(f, &r);
}

static bool zeros(uint32_t i0, uint32_t n)
{
	uint32_t k;

	for (k = 0; k < n * 4096; k++)
		if (frame(i0)[k])
			return false;
	return true;
}

/* FLUSH, DISCARD (the host frees the blocks), WRITE_ZEROES, secure. */
static void test_ops(void)
{
	uint64_t b0, b1;
	struct fe f;

	is(fe_add(&f, 6, ""), 0, "vbd 6 added");
	ok(fe_connect(&f, 1, 0, false), "Connected");
	fill(0, 11, 5);
	is(rw(&f, VPV_BLKIF_OP_WRITE, 0, 0, 11, 0), 0, "44 KiB written");
	is(range_op(&f, VPV_BLKIF_OP_FLUSH, 0, 0, 0), 0, "FLUSH: 0");
	fsync(f.fd);
	b0 = blocks(&f);
	is(range_op(&f, VPV_BLKIF_OP_DISCARD, 0, 0, 64), 0, "DISCARD 32 KiB");
	b1 = blocks(&f);
	ok(b1 + 64 <= b0, "the image's blocks freed (%llu -> %llu)",
	   (unsigned long long)b0, (unsigned long long)b1);
	is(rw(&f, VPV_BLKIF_OP_READ, 0, 20, 8, 0), 0, "READ the discarded");
	ok(zeros(20, 8), "... reads back as zeros");
	fill(0, 3, 6);
	is(rw(&f, VPV_BLKIF_OP_WRITE, 64, 0, 3, 0), 0, "12 KiB written");
	is(range_op(&f, VPV_BLKIF_OP_WRITE_ZEROES, 0, 64, 16), 0,
	   "WRITE_ZEROES 8 KiB");
	is(rw(&f, VPV_BLKIF_OP_READ, 64, 20, 3, 0), 0, "READ them");
	ok(zeros(20, 2) && !memcmp(frame(22), frame(2), 4096),
	   "zeros where asked, the rest kept");
	is(range_op(&f, VPV_BLKIF_OP_DISCARD, VPV_BLKIF_F_SECURE, 80, 8), 0,
	   "secure DISCARD: 0");
	is(range_op(&f, VPV_BLKIF_OP_DISCARD, 0, IMG_SECTORS - 8, 16),
	   -VPV_EINVAL, "DISCARD past the end: -VPV_EINVAL");
	is(range_op(&f, VPV_BLKIF_OP_WRITE_ZEROES, VPV_BLKIF_F_FUA, 0, 8),
	   -VPV_EINVAL, "FUA on WRITE_ZEROES: -VPV_EINVAL");
	fe_del(&f);
}

/*
 * A loop device over an image file, autocleared when its last fd
 * closes; its fd (the test's view) or -errno.  LOOP_CTL_GET_FREE can
 * race with another user of loop devices: a few tries.
 */
static int loop_attach(const char *file, char *dev, size_t n)
{
	struct loop_config cfg = { .info.lo_flags = LO_FLAGS_AUTOCLEAR };
	int ctl, nr, lfd, ffd, ret = -ENODEV, i;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	ffd = open(file, O_RDWR | O_CLOEXEC);
	cfg.fd = ffd;
	for (i = 0; i < 8 && ffd >= 0; i++) {
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0) {
			ret = -errno;
			break;
		}
		snprintf(dev, n, "/dev/loop%d", nr);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0) {
			ret = -errno;
			continue;
		}
		if (!ioctl(lfd, LOOP_CONFIGURE, &cfg)) {
			ret = lfd;
			break;
		}
		ret = -errno;
		close(lfd);
	}
	if (ffd >= 0)
		close(ffd);
	close(ctl);
	return ret;
}

/*
 * A host block device as the image (a loop device over a file): its
 * size from BLKGETSIZE64, data written and read back, FLUSH, and
 * WRITE_ZEROES / DISCARD through fallocate on the block device.
 */
static void test_blockdev(void)
{
	char dev[32];
	struct fe f;
	int lfd;

	fe_image(&f, 9);
	close(f.fd);
	lfd = loop_attach(f.img, dev, sizeof(dev));
	if (!ok(lfd >= 0, "a loop device over an image file (%d)", lfd)) {
		unlink(f.img);
		return;
	}
	f.fd = lfd;
	is(fe_add_path(&f, dev, ""), 0, "device add --image /dev/loopN");
	is(be_key(&f, "sectors"), IMG_SECTORS, "sectors from BLKGETSIZE64");
	ok(fe_connect(&f, 1, 0, false), "Connected");
	fill(0, 11, 9);
	is(rw(&f, VPV_BLKIF_OP_WRITE, 24, 0, 11, VPV_BLKIF_F_FUA), 0,
	   "WRITE + FUA of 11 frames");
	ok(file_eq(&f, 24 * 512, 0, 11), "the block device holds them");
	memset(frame(20), 0xa5, 11 * 4096);
	is(rw(&f, VPV_BLKIF_OP_READ, 24, 20, 11, 0), 0, "READ them back");
	ok(!memcmp(frame(0), frame(20), 11 * 4096), "read back equal");
	is(range_op(&f, VPV_BLKIF_OP_FLUSH, 0, 0, 0), 0, "FLUSH: 0");
	is(range_op(&f, VPV_BLKIF_OP_WRITE_ZEROES, 0, 24, 16), 0,
	   "WRITE_ZEROES 8 KiB: 0");
	is(range_op(&f, VPV_BLKIF_OP_DISCARD, 0, 40, 8), 0, "DISCARD 4 KiB: 0");
	is(rw(&f, VPV_BLKIF_OP_READ, 24, 20, 3, 0), 0, "READ the range");
	ok(zeros(20, 2), "the zeroed frames read back as zeros");
	fe_del(&f);
}

static void test_ro(void)
{
	struct fe f;

	is(fe_add(&f, 7, "--ro"), 0, "vbd 7 added --ro");
	is(be_key(&f, "read-only"), 1, "read-only 1");
	is(be_key(&f, "feature-discard"), 0, "feature-discard 0");
	ok(fe_connect(&f, 1, 0, false), "Connected");
	is(rw(&f, VPV_BLKIF_OP_READ, 0, 20, 1, 0), 0, "READ: 0");
	is(rw(&f, VPV_BLKIF_OP_WRITE, 0, 0, 1, 0), -VPV_EROFS,
	   "WRITE: -VPV_EROFS");
	is(range_op(&f, VPV_BLKIF_OP_WRITE_ZEROES, 0, 0, 8), -VPV_EOPNOTSUPP,
	   "WRITE_ZEROES (not offered): -VPV_EOPNOTSUPP");
	is(range_op(&f, VPV_BLKIF_OP_FLUSH, 0, 0, 0), 0, "FLUSH: 0");
	fe_del(&f);
}

static void test_4k(void)
{
	struct vpv_blkif_req r;
	struct fe f;

	is(fe_add(&f, 8, "--sector-size 4096 --direct"), 0,
	   "vbd 8 added --sector-size 4096 --direct");
	is(be_key(&f, "sector-size"), 4096, "sector-size 4096");
	ok(fe_connect(&f, 1, 0, false), "Connected");
	fill(0, 2, 8);
	is(rw(&f, VPV_BLKIF_OP_WRITE, 8, 0, 2, 0), 0, "WRITE of 2 frames (O_DIRECT)");
	ok(file_eq(&f, 8 * 512, 0, 2), "in the image");
	is(rw(&f, VPV_BLKIF_OP_READ, 4, 20, 1, 0), -VPV_EINVAL,
	   "sector 4 (not a 4 KiB boundary): -VPV_EINVAL");
	memset(&r, 0, sizeof(r));
	r.op = VPV_BLKIF_OP_READ;
	r.nr_segs = 1;
	r.u.seg[0].gref = REF_DATA;
	r.u.seg[0].last_sect = 3;
	is(one(&f, &r), -VPV_EINVAL, "half a frame: -VPV_EINVAL");
	is(range_op(&f, VPV_BLKIF_OP_DISCARD, 0, 8, 4), -VPV_EINVAL,
	   "DISCARD of 4 sectors: -VPV_EINVAL");
	fe_del(&f);
}

/* An admin's 0 on a feature key before connect: that op refused. */
static void test_admin_off(void)
{
	char p[160];
	struct fe f;

	is(fe_add(&f, 9, ""), 0, "vbd 9 added");
	snprintf(p, sizeof(p), "%s/feature-flush-cache", f.be);
	store_write(STORE_DOMID_HOST, 0, p, "0", 1);
	ok(fe_connect(&f, 1, 0, false), "Connected");
	is(range_op(&f, VPV_BLKIF_OP_FLUSH, 0, 0, 0), -VPV_EOPNOTSUPP,
	   "FLUSH turned off: -VPV_EOPNOTSUPP");
	is(rw(&f, VPV_BLKIF_OP_WRITE, 0, 0, 1, VPV_BLKIF_F_FUA), 0,
	   "FUA still offered: 0");
	fe_del(&f);
}

static struct bus_dev_info *info_of(uint32_t id)
{
	static struct bus_dev_info list[16];
	size_t n, i;

	n = bus_device_list(g->domid, list, 16);
	for (i = 0; i < n && i < 16; i++)
		if (list[i].id == id)
			return &list[i];
	return NULL;
}

/* A 1 MiB INDIRECT request, persistent grants kept and counted. */
static void test_indirect(void)
{
	struct vpv_blkif_seg *ind = (void *)frame(NDATA - 1);
	struct vpv_blkif_req r, r2;
	struct bus_dev_info *i;
	uint32_t k;
	struct fe f;

	is(fe_add(&f, 10, ""), 0, "vbd 10 added");
	ok(fe_connect(&f, 1, 1, true), "persistent, a 2-page ring: Connected");
	for (k = 0; k < 256; k++) {
		ind[k].gref = REF_DATA + k;
		ind[k].first_sect = 0;
		ind[k].last_sect = 7;
	}
	fill(0, 256, 11);
	memset(&r, 0, sizeof(r));
	r.op = VPV_BLKIF_OP_INDIRECT;
	r.id = 5;
	r.sector = 2048;
	r.u.indirect.op = VPV_BLKIF_OP_WRITE;
	r.u.indirect.nr_segs = 256;
	r.u.indirect.gref[0] = REF_DATA + NDATA - 1;
	is(one(&f, &r), 0, "INDIRECT WRITE of 256 segments (1 MiB)");
	ok(file_eq(&f, 2048 * 512, 0, 256), "the image holds the 1 MiB");
	memset(frame(300), 0, 256 * 4096);
	for (k = 0; k < 256; k++)
		ind[k].gref = REF_DATA + 300 + k;
	r.u.indirect.op = VPV_BLKIF_OP_READ;
	is(one(&f, &r), 0, "INDIRECT READ of it into other frames");
	ok(!memcmp(frame(0), frame(300), 256 * 4096), "read back equal");
	usleep(20000);
	i = info_of(10);
	ok(i && i->blk.persistent_grants == 513,
	   "513 persistent grants kept, the indirect page's too (%llu)",
	   i ? (unsigned long long)i->blk.persistent_grants : 0);
	is(grant_nr_mapped(g), 2 + 513, "mapped: the ring and the 513");
	memset(&r2, 0, sizeof(r2));
	r2.op = VPV_BLKIF_OP_READ;
	r2.nr_segs = 2;
	r2.sector = 0;
	r2.u.seg[0].gref = REF_DATA + 600;
	r2.u.seg[0].last_sect = 7;
	r2.u.seg[1] = r2.u.seg[0];
	is(one(&f, &r2), 0, "a READ naming one new grant twice");
	usleep(20000);
	i = info_of(10);
	ok(i && i->blk.persistent_grants == 514,
	   "... kept once (514 persistent grants: %llu)",
	   i ? (unsigned long long)i->blk.persistent_grants : 0);
	ind[3].last_sect = 8;
	is(one(&f, &r), -VPV_EINVAL, "an indirect segment's last_sect 8");
	ind[3].last_sect = 7;
	r.u.indirect.gref[0] = 7000;
	is(one(&f, &r), -VPV_EPERM, "a bad indirect page grant: -VPV_EPERM");
	fe_del(&f);
	is(mapped_settles(0), 0, "removed: nothing mapped");
}

/* An INDIRECT request of 256 segments with F_TRANSIENT, data at 2048 */
static int transient_rw(struct fe *f, uint8_t op, uint32_t i0)
{
	struct vpv_blkif_seg *ind = (void *)frame(NDATA - 1);
	struct vpv_blkif_req r;
	uint32_t k;

	for (k = 0; k < 256; k++) {
		ind[k].gref = REF_DATA + i0 + k;
		ind[k].first_sect = 0;
		ind[k].last_sect = 7;
	}
	memset(&r, 0, sizeof(r));
	r.op = VPV_BLKIF_OP_INDIRECT;
	r.flags = VPV_BLKIF_F_TRANSIENT;
	r.id = 6;
	r.sector = 2048;
	r.u.indirect.op = op;
	r.u.indirect.nr_segs = 256;
	r.u.indirect.gref[0] = REF_DATA + NDATA - 1;
	return one(f, &r);
}

/*
 * F_TRANSIENT with persistent grants: the data grants are mapped for
 * the request only (unmapped before it is answered), the indirect page
 * kept; the flag only on READ/WRITE, only when offered.
 */
static void test_transient(void)
{
	struct bus_dev_info *i;
	char p[160];
	struct fe f;

	is(fe_add(&f, 11, ""), 0, "vbd 11 added");
	ok(fe_connect(&f, 1, 1, true), "persistent, a 2-page ring: Connected");
	is(be_key(&f, "feature-transient"), 1, "feature-transient offered");
	fill(0, 256, 23);
	is(transient_rw(&f, VPV_BLKIF_OP_WRITE, 0), 0,
	   "INDIRECT WRITE of 1 MiB, F_TRANSIENT: 0");
	ok(file_eq(&f, 2048 * 512, 0, 256), "the image holds the 1 MiB");
	is(grant_nr_mapped(g), 2 + 1,
	   "answered: only the ring and the indirect page mapped");
	memset(frame(300), 0, 256 * 4096);
	is(transient_rw(&f, VPV_BLKIF_OP_READ, 300), 0,
	   "INDIRECT READ of it, F_TRANSIENT: 0");
	ok(!memcmp(frame(0), frame(300), 256 * 4096), "read back equal");
	usleep(20000);
	i = info_of(11);
	ok(i && i->blk.persistent_grants == 1,
	   "1 persistent grant kept: the indirect page (%llu)",
	   i ? (unsigned long long)i->blk.persistent_grants : 0);
	ok(i && i->blk.map_calls >= 2 && i->blk.map_ns > 0 &&
	   i->blk.service_ns > 0,
	   "time: %llu GRANT_MAPs (%llu ns), %llu ns of service",
	   i ? (unsigned long long)i->blk.map_calls : 0,
	   i ? (unsigned long long)i->blk.map_ns : 0,
	   i ? (unsigned long long)i->blk.service_ns : 0);
#ifdef BLK_PROC
	ok(i && i->blk.syncs >= 2 && i->blk.sync_ns > 0,
	   "time: a SYNC before each answer with unmaps (%llu, %llu ns)",
	   i ? (unsigned long long)i->blk.syncs : 0,
	   i ? (unsigned long long)i->blk.sync_ns : 0);
#else
	ok(i && !i->blk.syncs, "time: no SYNC in-process (unmaps are done)");
#endif
	is(range_op(&f, VPV_BLKIF_OP_FLUSH, VPV_BLKIF_F_TRANSIENT, 0, 0),
	   -VPV_EINVAL, "F_TRANSIENT on a FLUSH: -VPV_EINVAL");
	fe_del(&f);
	is(mapped_settles(0), 0, "removed: nothing mapped");
	is(fe_add(&f, 11, ""), 0, "vbd 11 added again");
	snprintf(p, sizeof(p), "%s/feature-transient", f.be);
	store_write(STORE_DOMID_HOST, 0, p, "0", 1);
	ok(fe_connect(&f, 1, 1, true), "feature-transient 0: Connected");
	is(transient_rw(&f, VPV_BLKIF_OP_READ, 300), -VPV_EOPNOTSUPP,
	   "F_TRANSIENT not offered: -VPV_EOPNOTSUPP");
	fe_del(&f);
}

/* 512 requests on ring 0 do not keep ring 1's one waiting. */
static void test_flood(void)
{
	uint32_t k, n0 = 0, bad = 0;
	uint64_t id;
	struct fe f;
	int st;

	is(fe_add(&f, 11, ""), 0, "vbd 11 added");
	ok(fe_connect(&f, 2, 4, false), "two rings of 16 pages: Connected");
	is(vpv_front_free_requests(&f.fr[0]), 512, "512 entries a ring");
	for (k = 0; k < 512; k++) {
		struct vpv_blkif_req *r = req(&f, 0);

		r->op = VPV_BLKIF_OP_READ;
		r->id = k;
		r->nr_segs = 1;
		r->sector = (k % 64) * 8;
		r->u.seg[0].gref = REF_DATA + (k % 64);
		r->u.seg[0].last_sect = 7;
	}
	req(&f, 1)->op = VPV_BLKIF_OP_FLUSH;
	vpv_front_push_requests(&f.fr[0]);
	vpv_front_push_requests(&f.fr[1]);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, f.port, 0, 0);
#ifndef BLK_PROC
	ok(vpv_front_unconsumed_responses(&f.fr[0]) < 512,
	   "one event: ring 0 served within the budget (%ld of 512)",
	   vpv_front_unconsumed_responses(&f.fr[0]));
	ok(vpv_front_unconsumed_responses(&f.fr[1]) == 1,
	   "... and ring 1 answered in the same event");
	for (k = 0; k < 64; k++)
		evtchn_from_guest(g);
#endif
	is(rsp(&f, 1, NULL), 0, "ring 1's FLUSH answered");
	for (k = 0; k < 512; k++) {
		st = rsp(&f, 0, &id);
		n0 += !st && id == k;
		bad += st != 0;
	}
	is(n0, 512, "ring 0's 512 answered, in order here, none failed");
	fe_del(&f);
}

/* "device OP GUEST ARG" through the control path: its reply */
static char *ctl(const char *op, const char *arg)
{
	static char reply[4096];
	struct host h = { .guests = g, .nr_guests = 1 };
	char line[256];
	struct sbuf out;

	sb_init(&out);
	snprintf(line, sizeof(line), "device %s %.32s %.128s", op, g->name, arg);
	ctl_handle_line(&h, line, strlen(line), &out);
	snprintf(reply, sizeof(reply), "%s", out.buf ? out.buf : "");
	sb_free(&out);
	return reply;
}

static bool wait_key(struct fe *f, const char *key, long v)
{
	uint64_t end = ms() + WAIT_MS;

	while (ms() < end) {
		if (be_key(f, key) == v)
			return true;
		usleep(1000);
	}
	return false;
}

static void test_resize(void)
{
	struct fe f;
	struct stat st;
	char *r;

	is(fe_add(&f, 4, ""), 0, "vbd 4 added");
	ok(fe_connect(&f, 1, 0, false), "Connected");
	r = ctl("resize", "vbd/4 8M");
	ok(strstr(r, "\"device\"") ? 1 : 0, "device resize vbd/4 8M: %s",
	   strstr(r, "\"device\"") ? "accepted" : r);
	ok(wait_key(&f, "sectors", 16384), "sectors rewritten: 16384");
	ok(!fstat(f.fd, &st) && st.st_size == 8 << 20, "the image is 8 MiB");
	is(rw(&f, VPV_BLKIF_OP_WRITE, 16376, 0, 1, 0), 0,
	   "a WRITE of the new last frame");
	r = ctl("resize", "vbd/4 1000");
	ok(strstr(r, "error") ? 1 : 0, "resize to 1000 bytes refused");
	fe_del(&f);
}

/* device add's errors, and vpv-ctl passing its options through */
static void test_ctl_errors(void)
{
	char self[256], cmd[600], *slash, *r;
	ssize_t n;
	int st;

	r = ctl("add", "vbd 20 --image /nonexistent/img");
	ok(strstr(r, "device: ENOENT") ? 1 : 0, "a missing image: ENOENT");
	r = ctl("add", "vbd 20 --image relative.img");
	ok(strstr(r, "usage") ? 1 : 0, "a relative path: usage");
	r = ctl("add", "vbd 20 --image /dev/null --sector-size 1024");
	ok(strstr(r, "usage") ? 1 : 0, "--sector-size 1024: usage");
	r = ctl("add", "vbd 20 --image /dev/null --queues 9");
	ok(strstr(r, "usage") ? 1 : 0, "--queues 9: usage");
	r = ctl("add", "vbd 20 --image /dev/null");
	ok(strstr(r, "device: EINVAL") ? 1 : 0, "a character device: EINVAL");
	is(ctl("list", "")[0] == '{' && !strstr(ctl("list", ""), "vbd/20"), 1,
	   "nothing added by those");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	/* before "+" in its getopt string vpv-ctl took --image as its own */
	snprintf(cmd, sizeof(cmd),
		 "%s/../vpv-ctl --ctl /nonexistent/ctl device add g vbd 0 --image /x --ro >/dev/null 2>&1",
		 self);
	st = system(cmd);
	/* 3: it went as far as trying to reach the host */
	is(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 3,
	   "vpv-ctl passes device add's options on (no usage error)");
}

static void test_ro_resize(void)
{
	struct fe f;

	is(fe_add(&f, 12, "--ro"), 0, "vbd 12 added --ro");
	ok(strstr(ctl("resize", "vbd/12 8M"), "device: EROFS") ? 1 : 0,
	   "resize of a read-only device: EROFS");
	ok(strstr(ctl("resize", "vbd/99 8M"), "device: ENOENT") ? 1 : 0,
	   "resize of no device: ENOENT");
	fe_del(&f);
}

/* ---- per-queue interrupt vectors (ABI 1.5) ---- */

/* Vector vec was rung since the last look (its eventfd read: cleared). */
static bool ev_rung(unsigned int vec)
{
	uint64_t v;

	return read(g->guest_ev[vec], &v, sizeof(v)) == sizeof(v);
}

/* The vectors a back-end may ring: VPV_VEC_EVTCHN and the per-CPU ones */
static bool ev_vector(unsigned int vec)
{
	return vec == VPV_VEC_EVTCHN ||
	       (vec >= VPV_VEC_CPU0 && vec < VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS);
}

/* Which of them were rung (bit v: vector v), each cleared. */
static uint32_t ev_rung_mask(void)
{
	uint32_t mask = 0;
	unsigned int v;

	for (v = 0; v < VPV_NR_GUEST_EVS; v++)
		if (ev_vector(v) && ev_rung(v))
			mask |= 1u << v;
	return mask;
}

/* As the guest: clear f's pending bit, the selector, the interrupts */
static void ev_reset(struct fe *f)
{
	__atomic_and_fetch(&g->ev->to_guest.pending[f->port / 64],
			   ~(1ull << (f->port % 64)), __ATOMIC_SEQ_CST);
	__atomic_store_n(&g->ev->to_guest.sel, 0, __ATOMIC_SEQ_CST);
	ev_rung_mask();
}

static bool ev_pending(struct fe *f)
{
	return __atomic_load_n(&g->ev->to_guest.pending[f->port / 64],
			       __ATOMIC_SEQ_CST) & (1ull << (f->port % 64));
}

/*
 * The vectors rung for the answers of the requests just made: waits
 * (a process rings after the answer is visible) until want's first
 * vector is rung, or 20 ms if want is none, then takes them all.
 */
static uint32_t rung_for(uint32_t want)
{
	unsigned int v;

	if (!want)
		usleep(20000);
	for (v = 0; v < VPV_NR_GUEST_EVS; v++)
		if (want & (1u << v)) {
			wait_readable(g->guest_ev[v], WAIT_MS);
			break;
		}
	return ev_rung_mask();
}

/* As a guest that waits: ask for an event at the next answer of q. */
static void want_event(struct fe *f, uint32_t q)
{
	vpv_front_final_check_responses(&f->fr[q]);
}

/* One bad READ (no segment: -VPV_EINVAL at once) on each queue of qs. */
static int bad_reads(struct fe *f, uint32_t qs)
{
	uint32_t q;
	int good = 0;

	for (q = 0; q < f->nq; q++) {
		if (!(qs & (1u << q)))
			continue;
		want_event(f, q);
		req(f, q)->op = VPV_BLKIF_OP_READ;
	}
	kick(f);
	for (q = 0; q < f->nq; q++)
		if (qs & (1u << q))
			good += rsp(f, q, NULL) == -VPV_EINVAL;
	return good;
}

/*
 * A front-end that names the submitting CPU's vector for a queue
 * (q<q>-vector) gets that queue's answers on it; without the key on
 * VPV_VEC_EVTCHN, as before ABI 1.5.  One vector per batch of answers:
 * the first queue's that asks.  Any other value fails the connect.
 */
static void test_vectors(void)
{
	static const uint32_t bad[] = {
		VPV_VEC_CPU0 - 1,			/* 2: VPV_VEC_ECHO */
		VPV_VEC_CPU0 + VPV_NR_CPU_VECTORS,	/* 11: past them */
		UINT32_MAX,
	};
	const uint32_t v4 = VPV_VEC_CPU0 + 1, v5 = VPV_VEC_CPU0 + 2;
	struct bus_dev_info *i;
	uint64_t errs;
	struct fe f;
	unsigned int k;
	char what[64];

	is(fe_add(&f, 13, "--queues 2"), 0, "vbd 13 added (--queues 2)");
	ok(fe_connect(&f, 2, 0, false), "no q<q>-vector: Connected");
	ev_reset(&f);
	want_event(&f, 0);
	is(rw(&f, VPV_BLKIF_OP_READ, 800, 40, 1, 0), 0, "a READ on queue 0");
	is(rung_for(1u << VPV_VEC_EVTCHN), 1u << VPV_VEC_EVTCHN,
	   "no key: its answer rang VPV_VEC_EVTCHN only");
	ok(ev_pending(&f), "... with the port pending");

	fe_close(&f);
	fe_write(&f, "q0-vector", "%lu", v4);
	fe_write(&f, "q1-vector", "%lu", v5);
	ok(fe_connect(&f, 2, 0, false), "q0-vector 4, q1-vector 5: Connected");
	ev_reset(&f);
	want_event(&f, 0);
	is(rw(&f, VPV_BLKIF_OP_READ, 800, 40, 1, 0), 0, "a READ on queue 0");
	is(rung_for(1u << v4), 1u << v4,
	   "its answer rang vector 4 only, not VPV_VEC_EVTCHN");
	ok(ev_pending(&f), "... with the port pending");
	ev_reset(&f);
	is(bad_reads(&f, 2), 1, "a bad READ on queue 1 answered");
	is(rung_for(1u << v5), 1u << v5, "... on vector 5 only");
	ev_reset(&f);
	is(bad_reads(&f, 3), 2, "a bad READ on each queue, one batch");
	is(rung_for(1u << v4), 1u << v4, "... one ring: queue 0's vector 4");
	/* the guest has not looked yet: the port is still pending */
	is(bad_reads(&f, 2), 1, "the port still pending: an answer ...");
	is(rung_for(0), 0, "... rings nothing (a raise finds it set)");
	ev_reset(&f);

	for (k = 0; k < ARRAY_SIZE(bad) * 2; k++) {
		uint32_t q = k / ARRAY_SIZE(bad), v = bad[k % ARRAY_SIZE(bad)];

		fe_close(&f);
		fe_write(&f, "q0-vector", "%lu", q ? v4 : v);
		fe_write(&f, "q1-vector", "%lu", q ? v : v5);
		errs = (i = info_of(13)) ? i->protocol_errors : 0;
		fe_initialise(&f, 2, 0, false);
		snprintf(what, sizeof(what), "q%u-vector %u: connect fails, Closing",
			 q, v);
		ok(wait_state(f.be, VPV_BUS_CLOSING), "%s", what);
		i = info_of(13);
		is(i ? i->protocol_errors - errs : 0, 1,
		   "... counted as the device's error");
	}
	fe_close(&f);
	fe_rm(&f, "q0-vector");
	fe_rm(&f, "q1-vector");
	ok(fe_connect(&f, 2, 0, false), "keys removed: Connected again");
	want_event(&f, 0);
	is(rw(&f, VPV_BLKIF_OP_READ, 800, 40, 1, 0), 0, "a READ on queue 0");
	is(rung_for(1u << VPV_VEC_EVTCHN), 1u << VPV_VEC_EVTCHN,
	   "... its answer on VPV_VEC_EVTCHN");
	ev_reset(&f);
	fe_del(&f);
}

#ifdef BLK_PROC

static int wait_pid_not(uint32_t id, int old)
{
	uint64_t end = ms() + WAIT_MS;
	int pid;

	while (ms() < end) {
		pid = beproc_pid("vbd", g->domid, id);
		if (pid > 0 && pid != old)
			return pid;
		usleep(500);
	}
	return 0;
}

/*
 * The process raises its port itself (the event-channel page and the
 * guest's interrupt eventfd from INIT), not through the core: the core
 * counts no raise; a port the guest masks gets its pending bit only.
 */
static void test_proc_events(struct fe *f)
{
	uint64_t raised = STAT_GET(g, ev_to_guest);
	uint64_t w = f->port / 64, bit = 1ull << (f->port % 64);

	ev_reset(f);
	/* as a guest that waits: ask for an event at the next response */
	vpv_front_final_check_responses(&f->fr[0]);
	is(rw(f, VPV_BLKIF_OP_READ, 800, 40, 1, 0), 0, "a READ");
	usleep(20000);
	ok(ev_pending(f), "its answer left the port pending");
	ok(__atomic_load_n(&g->ev->to_guest.sel, __ATOMIC_SEQ_CST) &
	   (1ull << w), "... and its selector bit set");
	ok(ev_rung(VPV_VEC_EVTCHN), "... and rang the guest's event interrupt");
	is(STAT_GET(g, ev_to_guest) - raised, 0,
	   "the core raised nothing: the process did");
	ev_reset(f);
	__atomic_or_fetch(&g->ev->guest_mask[w], bit, __ATOMIC_SEQ_CST);
	vpv_front_final_check_responses(&f->fr[0]);
	is(rw(f, VPV_BLKIF_OP_READ, 800, 40, 1, 0), 0, "a READ, port masked");
	usleep(20000);
	ok(ev_pending(f), "masked: pending set");
	ok(!ev_rung(VPV_VEC_EVTCHN), "masked: no interrupt");
	__atomic_and_fetch(&g->ev->guest_mask[w], ~bit, __ATOMIC_SEQ_CST);
	ev_reset(f);
}

/* The real vpv-blkback: sandboxed, serves, reports, dies, comes back. */
static void test_proc(void)
{
	struct fe f;
	int pid, i;
	char *r;

	is(fe_add(&f, 5, "--queues 2"), 0, "vbd 5 added (--queues 2)");
	is(be_key(&f, "multi-queue-max-queues"), 2, "multi-queue-max-queues 2");
	pid = beproc_pid("vbd", g->domid, 5);
	ok(pid > 0, "vbd/5 has a vpv-blkback process (pid %d)", pid);
	for (i = 0; i < 1000 && !seccomp_on(pid); i++)
		usleep(1000);
	ok(seccomp_on(pid), "its seccomp filter is active (Seccomp: 2)");
	ok(fe_connect(&f, 2, 2, true), "two rings of 4 pages: Connected");
	fill(0, 11, 3);
	is(rw(&f, VPV_BLKIF_OP_WRITE, 800, 0, 11, VPV_BLKIF_F_FUA), 0,
	   "WRITE + FUA through the process");
	ok(file_eq(&f, 800 * 512, 0, 11), "the image holds the data");
	memset(frame(40), 0, 11 * 4096);
	is(rw(&f, VPV_BLKIF_OP_READ, 800, 40, 11, 0), 0, "READ back");
	ok(!memcmp(frame(0), frame(40), 11 * 4096), "read back equal");
	test_proc_events(&f);
	usleep(20000);
	r = ctl("list", "");
	ok(strstr(r, "\"blk\":{\"reads\":3,\"writes\":1,") ? 1 : 0,
	   "device list: blk reads 3 writes 1");
	ok(strstr(r, "\"bytes_written\":45056") ? 1 : 0,
	   "device list: 45056 bytes written");
	kill(pid, SIGKILL);
	ok(wait_pid_not(5, pid) > 0, "killed: a new process");
	ok(wait_state(f.be, VPV_BUS_INITWAIT), "the device back in InitWait");
	fe_close(&f);
	ok(fe_connect(&f, 2, 2, true), "the front-end reconnects");
	memset(frame(40), 0, 11 * 4096);
	is(rw(&f, VPV_BLKIF_OP_READ, 800, 40, 11, 0), 0, "READ after restart");
	ok(!memcmp(frame(0), frame(40), 11 * 4096), "the data survived");
	pid = beproc_pid("vbd", g->domid, 5);
	ok(strstr(ctl("restart", "vbd/5"), "\"device\"") ? 1 : 0,
	   "device restart vbd/5");
	ok(wait_pid_not(5, pid) > 0, "restart: a new process");
	fe_close(&f);
	ok(fe_connect(&f, 2, 2, true), "restart: the front-end reconnects");
	memset(frame(40), 0, 11 * 4096);
	is(rw(&f, VPV_BLKIF_OP_READ, 800, 40, 11, 0), 0, "READ after restart");
	ok(!memcmp(frame(0), frame(40), 11 * 4096), "the data is there");
	is(info_of(5) ? (int)info_of(5)->be_crashes : -1, 1,
	   "a restart is no crash (1: the kill)");
	fe_del(&f);
	is(beproc_nr_fds(), 0, "removed: no back-end fd left");
}
#endif

int main(void)
{
#ifndef BLK_PROC
	be_inproc_register(&blk_be_ops);
#endif
	test_dir_make();
	test_guest(g, 32 << 20, 1);
	call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	for (uint32_t i = 0; i < NDATA; i++)
		test_grant(g, REF_DATA + i, DATA_PFN + i, VPV_GTF_PERMIT_ACCESS);
	test_rw();
	test_checks();
	test_overflow();
	test_resize();
	test_ops();
	test_ro();
	test_4k();
	test_admin_off();
	test_indirect();
	test_transient();
	test_flood();
	test_ctl_errors();
	test_ro_resize();
	test_blockdev();
	test_vectors();
#ifdef BLK_PROC
	test_proc();
#else
	test_double_fetch();
#endif
	guest_destroy(g);
	test_dir_remove();
	return tap_done();
}
