// SPDX-License-Identifier: GPL-2.0
/*
 * vbd over a COW overlay (device add ... --image BASE --cow OVERLAY):
 * the core makes the overlay, the back-end (backend/blkback.c,
 * in-process) serves it through cow.h.  A fake front-end sends random
 * READs and WRITEs of partial segments (unaligned to 4 KiB: copy-up),
 * FUA, FLUSH, DISCARD, WRITE_ZEROES and RESIZE, checked against a model
 * of the virtual disk; then the overlay read back through the library
 * equals the model, the base is byte for byte and mtime unchanged, and
 * a changed base is refused at device add.  Then the same through the
 * real, sandboxed vpv-blkback process (this binary run again with
 * VPV_BLKCOW_PROC=1: a type is served in-process or by its process for
 * a whole run): the overlay's I/O passes its seccomp filter.
 */
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "testutil.h"
#include "vpv_blkif.h"
#include "belib.h"
#include "blkback.h"
#include "cow.h"

#define RING_PFN	0x100ull
#define DATA_PFN	0x400ull	/* data frames, one per ref */
#define REF_RING	16u
#define REF_DATA	256u
#define NDATA		32u		/* data frames granted */
/* the base: not a multiple of a block, so zeros past its end */
#define BASE_SIZE	(1024 * 1024 + 1000)
#define VSIZE		(1024 * 1024 + 1024)	/* rounded up to 512 */
#define RANDOM_REQS	2000
#define WAIT_MS		10000	/* for anything the back-end process does */

struct fe {
	uint32_t id, port;
	struct vpv_blkif_sring *sr;
	struct vpv_front_ring fr;
	char be[96];
};

static struct guest gt;
static struct guest *g = &gt;
static char base_path[96], ovl_path[96];
static uint8_t *base_data, *model;
static uint64_t model_size;
static struct timespec base_mtime;
static uint64_t rng = 0x2545f4914f6cdd1dull;
static char last_error[256];	/* the control reply of a failed add */

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t ms(void)
{
	return bus_now_ms();
}

static uint8_t *frame(uint32_t i)
{
	return g->ram + (DATA_PFN + i) * 4096;
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

static void fe_write(struct fe *f, const char *key, unsigned long v)
{
	char p[160], val[32];

	snprintf(p, sizeof(p), "device/vbd/%u/%s", f->id, key);
	snprintf(val, sizeof(val), "%lu", v);
	if (store_write(g->domid, 0, p, val, strlen(val)))
		BAIL("front-end write %s", key);
}

/* device add vbd id --image image [--cow cow] [more]: 0 or its error */
static int add_vbd(uint32_t id, const char *image, const char *cow,
		   const char *more)
{
	struct host h = { .guests = g, .nr_guests = 1 };
	char line[VPV_CTL_MAX_REQ];
	struct sbuf out;
	int ret;

	snprintf(line, sizeof(line), "device add %.32s vbd %u --image %s%s%s %s",
		 g->name, id, image, cow ? " --cow " : "", cow ?: "", more);
	sb_init(&out);
	ret = ctl_handle_line(&h, line, strlen(line), &out);
	if (ret)
		printf("# %s -> %d %s\n", line, ret, out.buf);
	snprintf(last_error, sizeof(last_error), "%s", ret ? out.buf : "");
	sb_free(&out);
	return ret;
}

/*
 * add_vbd(id, BASE, OVERLAY) once the removal of the device that had
 * them has finished (the front-end's Closed reaches the bus through a
 * watch): its result, -EBUSY after 5 s of it.
 */
static int add_again(uint32_t id)
{
	int i, ret = -EBUSY;

	for (i = 0; i < 500 && ret == -EBUSY; i++) {
		ret = add_vbd(id, base_path, ovl_path, "");
		if (ret == -EBUSY)
			usleep(10000);
	}
	printf("# added again after %d tries: %d\n", i, ret);
	return ret;
}

static int fe_add(struct fe *f, uint32_t id)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	snprintf(f->be, sizeof(f->be), "/local/domain/0/backend/vbd/%u/%u",
		 g->domid, id);
	return add_vbd(id, base_path, ovl_path, "");
}

/*
 * The image locks (vbd_open()): while device 0 has BASE under OVERLAY,
 * no other device may open OVERLAY or write BASE; reading BASE, and
 * another overlay of it, are fine.
 */
static void test_locks(void)
{
	char other[512];

	snprintf(other, sizeof(other), "%s/other.cow", test_dir);
	ok(add_vbd(1, base_path, ovl_path, "") == -EBUSY &&
	   strstr(last_error, "EBUSY"),
	   "a second device on the same overlay: refused -EBUSY, said so");
	ok(add_vbd(2, base_path, NULL, "") == -EBUSY,
	   "a device writing the base in use: refused -EBUSY");
	is(add_vbd(4, base_path, other, ""), 0,
	   "another overlay of the same base: added");
	ok(add_vbd(5, base_path, other, "--ro") == -EBUSY,
	   "that overlay read-only by one more device: refused -EBUSY");
	bus_device_remove(g, "vbd", 4);
	unlink(other);
}

static bool fe_connect(struct fe *f)
{
	char p[160], *v;
	uint64_t end;
	uint32_t len;
	int st = -1;

	f->sr = (void *)(g->ram + RING_PFN * 4096);
	memset(f->sr, 0, 4096);
	vpv_ring_init_shared(&f->sr->hdr);
	vpv_front_ring_init(&f->fr, &f->sr->hdr,
			    VPV_RING_ENTRIES(sizeof(f->sr->ring[0]), 4096));
	test_grant(g, REF_RING, RING_PFN, VPV_GTF_PERMIT_ACCESS);
	fe_write(f, "q0-ring-ref0", REF_RING);
	if (!f->port)
		f->port = call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC,
			       VPV_DOMID_HOST, 0, 0);
	fe_write(f, "multi-queue-num-queues", 1);
	fe_write(f, "ring-page-order", 0);
	fe_write(f, "event-channel", f->port);
	fe_write(f, "feature-persistent", 1);
	fe_write(f, "state", VPV_BUS_INITIALISED);
	snprintf(p, sizeof(p), "%s/state", f->be);
	for (end = ms() + WAIT_MS; st != VPV_BUS_CONNECTED && ms() < end;) {
		if (!store_read(STORE_DOMID_HOST, 0, p, &v, &len)) {
			st = atoi(v);
			free(v);
		}
		if (st != VPV_BUS_CONNECTED)
			usleep(200);
	}
	return st == VPV_BUS_CONNECTED;
}

/* Send r, kick, return the response's status (999: none in WAIT_MS). */
static int one(struct fe *f, const struct vpv_blkif_req *r)
{
	uint64_t end = ms() + WAIT_MS;
	struct vpv_blkif_rsp *rs;
	int i;

	VPV_RING_ENTRY(f->sr, &f->fr, f->fr.req_prod_pvt++)->req = *r;
	vpv_front_push_requests(&f->fr);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, f->port, 0, 0);
	for (i = 0; i < 64; i++)	/* in-process: the host's re-kicks */
		evtchn_from_guest(g);
	while (vpv_front_unconsumed_responses(&f->fr) <= 0 && ms() < end)
		usleep(50);	/* the back-end process */
	if (vpv_front_unconsumed_responses(&f->fr) <= 0)
		return 999;
	rs = &VPV_RING_ENTRY(f->sr, &f->fr, f->fr.rsp_cons++)->rsp;
	if (rs->id != r->id || rs->op != r->op)
		return 998;	/* not the answer to r */
	return rs->status;
}

/*
 * A random READ or WRITE of partial segments (frames 0 .., sectors
 * first..last of each) at a random sector; checked against the model.
 * 0, or why it failed.
 */
static int random_rw(struct fe *f, bool wr, uint16_t flags)
{
	struct vpv_blkif_req r = { .op = wr ? VPV_BLKIF_OP_WRITE :
					      VPV_BLKIF_OP_READ };
	uint32_t i, n = 1 + rnd() % VPV_BLKIF_MAX_SEGS, sectors = 0, k;
	uint64_t pos;
	int st;

	r.nr_segs = n;
	r.flags = flags;
	r.id = rnd();
	for (i = 0; i < n; i++) {
		r.u.seg[i].gref = REF_DATA + i;
		r.u.seg[i].first_sect = rnd() % 8;
		r.u.seg[i].last_sect = r.u.seg[i].first_sect +
				       rnd() % (8 - r.u.seg[i].first_sect);
		sectors += r.u.seg[i].last_sect - r.u.seg[i].first_sect + 1;
		for (k = 0; k < 4096; k++)
			frame(i)[k] = wr ? (uint8_t)rnd() : 0xee;
	}
	r.sector = rnd() % (model_size / 512 - sectors + 1);
	st = one(f, &r);
	if (st)
		printf("# %s%s sector %llu n %u sectors %u: %d\n", wr ? "W" : "R",
		       flags ? "+FUA" : "", (unsigned long long)r.sector, n,
		       sectors, st);
	if (st)
		return st;
	for (i = 0, pos = r.sector * 512; i < n; i++) {
		uint32_t len = (r.u.seg[i].last_sect - r.u.seg[i].first_sect +
				1) * 512;
		uint8_t *p = frame(i) + r.u.seg[i].first_sect * 512;

		if (wr)
			memcpy(model + pos, p, len);
		else if (memcmp(model + pos, p, len))
			return -1000 - (int)i;
		pos += len;
	}
	return 0;
}

static int range_op(struct fe *f, uint8_t op, uint64_t sector,
		    uint64_t nr)
{
	struct vpv_blkif_req r = { .op = op, .id = 5, .sector = sector };

	r.u.discard.nr_sectors = nr;
	return one(f, &r);
}

static bool base_unchanged(void)
{
	uint8_t *p = malloc(BASE_SIZE + 1);
	struct stat st;
	bool same;
	int fd = open(base_path, O_RDONLY);

	same = p && fd >= 0 && read(fd, p, BASE_SIZE + 1) == BASE_SIZE &&
	       !memcmp(p, base_data, BASE_SIZE) && !fstat(fd, &st) &&
	       st.st_mtim.tv_sec == base_mtime.tv_sec &&
	       st.st_mtim.tv_nsec == base_mtime.tv_nsec;
	free(p);
	if (fd >= 0)
		close(fd);
	return same;
}

/* The overlay read back through the library equals the model. */
static bool overlay_matches_model(void)
{
	int ofd = open(ovl_path, O_RDONLY), bfd = open(base_path, O_RDONLY);
	uint8_t *buf = malloc(model_size);
	struct cow_run r[VSIZE / 4096 + 4];
	struct cow *c = NULL;
	bool same = false;
	int n, i;

	if (ofd < 0 || bfd < 0 || !buf || cow_open(ofd, bfd, false, &c))
		goto out;
	n = cow_read_map(c, 0, model_size, r, ARRAY_SIZE(r));
	for (i = 0; i < n; i++) {
		if (r[i].fd < 0)
			memset(buf + r[i].buf_off, 0, r[i].len);
		else if (pread(r[i].fd, buf + r[i].buf_off, r[i].len,
			       r[i].off) != r[i].len)
			goto out;
	}
	same = n > 0 && cow_size(c) == model_size &&
	       !memcmp(buf, model, model_size);
out:
	cow_close(c);
	free(buf);
	if (ofd >= 0)
		close(ofd);
	if (bfd >= 0)
		close(bfd);
	return same;
}

static void test_add(struct fe *f)
{
	struct cow_info in;
	uint64_t written = 1;
	int fd;

	is(fe_add(f, 0), 0, "device add vbd 0 --image BASE --cow OVERLAY (absent)");
	is(be_key(f, "sectors"), VSIZE / 512,
	   "sectors: the overlay's virtual size (base rounded up to 512)");
	is(be_key(f, "read-only"), 0, "writable");
	fd = open(ovl_path, O_RDONLY);
	ok(fd >= 0 && !cow_inspect(fd, &in, &written) && !written &&
	   !strcmp(in.base_path, base_path),
	   "the core made the overlay, naming the base (%s)",
	   fd >= 0 ? in.base_path : "none");
	if (fd >= 0)
		close(fd);
	ok(fe_connect(f), "Connected");
}

static void test_io(struct fe *f)
{
	int i, st = 0, bad = -1;

	for (i = 0; i < RANDOM_REQS && !st; i++) {
		st = random_rw(f, rnd() % 2, 0);
		if (st)
			bad = i;
	}
	ok(!st, "%d random READs/WRITEs of partial segments (failed at %d: %d)",
	   RANDOM_REQS, bad, st);
	is(random_rw(f, true, VPV_BLKIF_F_FUA), 0, "WRITE + FUA");
	is(range_op(f, VPV_BLKIF_OP_FLUSH, 0, 0), 0, "FLUSH");
	is(range_op(f, VPV_BLKIF_OP_WRITE_ZEROES, 3, 21), 0,
	   "WRITE_ZEROES of 21 sectors at sector 3");
	memset(model + 3 * 512, 0, 21 * 512);
	is(range_op(f, VPV_BLKIF_OP_DISCARD, 64, 64), 0,
	   "DISCARD of 8 whole blocks");
	memset(model + 64 * 512, 0, 64 * 512);
	for (i = 0, st = 0; i < 200 && !st; i++)
		st = random_rw(f, false, 0);
	ok(!st, "200 READs after them match (%d)", st);
	ok(overlay_matches_model(), "the overlay through cow.h equals the model");
	ok(base_unchanged(), "the base is unchanged");
}

/* device resize through the control path; true when sectors follow */
static bool ctl_resize(uint64_t size)
{
	struct host h = { .guests = g, .nr_guests = 1 };
	char line[128], p[160], *v;
	uint64_t end = ms() + WAIT_MS;
	long sectors = -1;
	struct sbuf out;
	uint32_t len;
	int ret;

	snprintf(line, sizeof(line), "device resize %.32s vbd/0 %llu", g->name,
		 (unsigned long long)size);
	sb_init(&out);
	ret = ctl_handle_line(&h, line, strlen(line), &out);
	sb_free(&out);
	snprintf(p, sizeof(p), "/local/domain/0/backend/vbd/%u/0/sectors",
		 g->domid);
	while (!ret && sectors != (long)(size / 512) && ms() < end) {
		if (!store_read(STORE_DOMID_HOST, 0, p, &v, &len)) {
			sectors = atol(v);
			free(v);
		}
		usleep(200);
	}
	return !ret && sectors == (long)(size / 512);
}

static void test_resize(struct fe *f)
{
	int i, st = 0;

	ok(ctl_resize(3 * 1024 * 1024), "device resize to 3 MiB: sectors follow");
	model = realloc(model, 3 * 1024 * 1024);
	memset(model + model_size, 0, 3 * 1024 * 1024 - model_size);
	model_size = 3 * 1024 * 1024;
	for (i = 0; i < 300 && !st; i++)
		st = random_rw(f, rnd() % 2, 0);
	ok(!st, "300 random READs/WRITEs over the grown disk (%d)", st);
	ok(ctl_resize(512 * 1024), "device resize to 512 KiB: sectors follow");
	model_size = 512 * 1024;
	for (i = 0, st = 0; i < 100 && !st; i++)
		st = random_rw(f, false, 0);
	ok(!st, "the shrunk disk reads its head (%d)", st);
	ok(overlay_matches_model(), "the overlay equals the model");
}

static void test_stale(void)
{
	struct timespec ts[2] = { { 1000, 1 }, { 1000, 1 } };
	struct fe f;

	if (utimensat(AT_FDCWD, base_path, ts, 0))
		BAIL("utimensat");
	ok(add_again(1) == -ESTALE && strstr(last_error, "COW base changed"),
	   "a changed base (mtime): device add refused -ESTALE, said so");
	ts[0] = base_mtime;
	ts[1] = base_mtime;
	if (utimensat(AT_FDCWD, base_path, ts, 0))
		BAIL("utimensat");
	is(fe_add(&f, 1), 0, "mtime back: the overlay is served again");
	is(be_key(&f, "sectors"), model_size / 512, "with its resized size");
	bus_device_remove(g, "vbd", 1);
}

static void make_base(void)
{
	struct stat st;
	uint32_t i;
	int fd;

	snprintf(base_path, sizeof(base_path), "%s/base.img", test_dir);
	snprintf(ovl_path, sizeof(ovl_path), "%s/guest.cow", test_dir);
	base_data = malloc(BASE_SIZE);
	model = calloc(1, VSIZE);
	if (!base_data || !model)
		BAIL("malloc");
	for (i = 0; i < BASE_SIZE; i++)
		base_data[i] = (uint8_t)rnd();
	memcpy(model, base_data, BASE_SIZE);
	model_size = VSIZE;
	fd = open(base_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, base_data, BASE_SIZE) != BASE_SIZE ||
	    fstat(fd, &st))
		BAIL("base");
	close(fd);
	base_mtime = st.st_mtim;
}

static void setup(void)
{
	uint32_t i;

	test_dir_make();
	test_guest(g, 32 << 20, 1);
	call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	for (i = 0; i < NDATA; i++)
		test_grant(g, REF_DATA + i, DATA_PFN + i, VPV_GTF_PERMIT_ACCESS);
	make_base();
}

static void teardown(void)
{
	ok(base_unchanged(), "the base is unchanged at the end");
	is(grant_nr_mapped(g), 0, "nothing mapped");
	guest_destroy(g);
	unlink(ovl_path);
	unlink(base_path);
	free(model);
	free(base_data);
	test_dir_remove();
}

/* kill -9 the back-end; the supervisor restarts it; reconnect */
static bool kill_and_reconnect(struct fe *f, int pid)
{
	uint64_t end = ms() + WAIT_MS;
	int npid = 0;

	kill(pid, SIGKILL);
	while (ms() < end && (npid <= 0 || npid == pid)) {
		npid = beproc_pid("vbd", g->domid, f->id);
		usleep(500);
	}
	if (npid <= 0 || npid == pid)
		return false;
	fe_write(f, "state", VPV_BUS_CLOSED);
	fe_write(f, "state", VPV_BUS_INITIALISING);
	return fe_connect(f);
}

/* The real vpv-blkback process, sandboxed: random I/O, discard, FUA. */
static int proc_main(void)
{
	struct fe f;
	int i, st = 0, pid;

	setup();
	is(fe_add(&f, 0), 0, "process: device add --image BASE --cow OVERLAY");
	pid = beproc_pid("vbd", g->domid, 0);
	for (i = 0; i < 1000 && pid > 0 && !seccomp_on(pid); i++)
		usleep(1000);
	ok(pid > 0 && seccomp_on(pid), "process: vpv-blkback (pid %d) under seccomp",
	   pid);
	ok(fe_connect(&f), "process: Connected");
	for (i = 0; i < 500 && !st; i++) {
		bool wr = rnd() % 2;

		st = random_rw(&f, wr, wr && !(rnd() % 8) ? VPV_BLKIF_F_FUA : 0);
	}
	ok(!st, "process: 500 random READs/WRITEs (some FUA) of partial segments (%d)",
	   st);
	is(range_op(&f, VPV_BLKIF_OP_WRITE_ZEROES, 9, 30), 0, "process: WRITE_ZEROES");
	memset(model + 9 * 512, 0, 30 * 512);
	is(range_op(&f, VPV_BLKIF_OP_DISCARD, 128, 80), 0, "process: DISCARD");
	memset(model + 128 * 512, 0, 80 * 512);
	is(range_op(&f, VPV_BLKIF_OP_FLUSH, 0, 0), 0, "process: FLUSH");
	ok(ctl_resize(2 * 1024 * 1024), "process: device resize to 2 MiB, sectors follow");
	model = realloc(model, 2 * 1024 * 1024);
	memset(model + model_size, 0, 2 * 1024 * 1024 - model_size);
	model_size = 2 * 1024 * 1024;
	for (i = 0, st = 0; i < 200 && !st; i++)
		st = random_rw(&f, rnd() % 2, 0);
	ok(!st, "process: 200 random READs/WRITEs over the grown disk (%d)", st);
	ok(beproc_pid("vbd", g->domid, 0) == pid, "process: still the same process");
	ok(overlay_matches_model(), "process: the overlay equals the model");
	ok(kill_and_reconnect(&f, pid),
	   "process: kill -9 of vpv-blkback without a flush, restarted, reconnected");
	for (i = 0, st = 0; i < 300 && !st; i++)
		st = random_rw(&f, false, 0);
	ok(!st, "process: every answered write is read back after the kill (%d)",
	   st);
	bus_device_remove(g, "vbd", 0);
	fe_write(&f, "state", VPV_BUS_CLOSED);
	is(add_again(0), 0,
	   "process: removed and reaped, its overlay can be added again");
	bus_device_remove(g, "vbd", 0);
	teardown();
	return tap_done();
}

/* Run this binary again in process mode; its TAP lines as comments. */
static void run_proc_mode(void)
{
	char self[512], cmd[600], line[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int bad = 0, good = 0, st;
	FILE *fp;

	if (n <= 0)
		BAIL("readlink");
	self[n] = '\0';
	snprintf(cmd, sizeof(cmd), "VPV_BLKCOW_PROC=1 %s 2>&1", self);
	fp = popen(cmd, "r");
	while (fp && fgets(line, sizeof(line), fp)) {
		printf("#   %s", line);
		good += !strncmp(line, "ok ", 3);
		bad += !strncmp(line, "not ok", 6);
	}
	st = fp ? pclose(fp) : -1;
	ok(st == 0 && good >= 10 && !bad,
	   "through the real vpv-blkback process: %d checks passed, %d failed",
	   good, bad);
}

int main(void)
{
	struct fe f;

	if (getenv("VPV_BLKCOW_PROC"))
		return proc_main();
	be_inproc_register(&blk_be_ops);
	setup();
	test_add(&f);
	test_io(&f);
	test_resize(&f);
	test_locks();
	bus_device_remove(g, "vbd", f.id);
	fe_write(&f, "state", VPV_BUS_CLOSED);
	test_stale();
	teardown();
	run_proc_mode();
	return tap_done();
}
