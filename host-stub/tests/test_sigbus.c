// SPDX-License-Identifier: GPL-2.0
/*
 * Guest RAM pages that cannot be backed (issue 9, finding 3).  The RAM
 * files live on a tiny private tmpfs that the test fills; a page the
 * balloon punched out and gave back, or one never touched, then faults
 * with SIGBUS on the stub's first access.  Every guest-facing path that
 * touches such a page must answer the guest with -VPV_EFAULT, count it
 * in ram_faults, and the process must live on.  SIGBUS and SIGSEGV
 * that are not such a fault must still kill (checked in children).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "testutil.h"
#include "vpv_vloop.h"
#include "belib.h"

#define RAM		(16ull << 20)	/* sparse: only touched pages count */
#define FS_SIZE		"1m"		/* tmpfs size: > the touched pages */
#define GOOD_PFN	0x10ull		/* 0x10..0x2f touched before the fill */
#define NR_GOOD		0x20u
#define ARR		(GOOD_PFN << 12)	/* arrays the calls read */
#define RING_PFN	0x20ull
#define IN_PFN		0x21ull
#define HOLE_PFN	0x100ull	/* ballooned out and back: a hole */
#define HOLE		(HOLE_PFN << 12)
#define TBL_PFN		0x101ull	/* never touched: a hole too */
#define RING_HOLE_PFN	0x102ull
#define REF_RING	8
#define REF_IN		9
#define REF_HOLE	10
#define REF_RING_HOLE	11

static struct guest ga, gb;
static bool on_tmpfs;

static uint64_t faults(struct guest *g)
{
	return STAT_GET(g, ram_faults);
}

/* A private mount namespace with a small tmpfs on test_dir. */
static bool mount_tmpfs(void)
{
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("vpv-test", test_dir, "tmpfs", 0, "size=" FS_SIZE) < 0) {
		printf("# no private tmpfs (%s): RAM files truncated instead\n",
		       strerror(errno));
		return false;
	}
	return true;
}

/* Fill the file system: every later page allocation fails. */
static void fill_fs(void)
{
	char path[64];
	off_t off = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/fill", test_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		BAIL("open %s: %s", path, strerror(errno));
	while (fallocate(fd, 0, off, 4096) == 0)
		off += 4096;
	ok(errno == ENOSPC, "tmpfs filled (%lld KiB)", (long long)off >> 10);
	close(fd);	/* the file stays, and fills, until the umount */
}

static void setup(void)
{
	uint64_t pfn = HOLE_PFN;

	test_guest_in(&ga, RAM, 1, test_dir);
	test_guest_in(&gb, RAM, 1, test_dir);
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	call(&gb, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	memset(ga.ram + ARR, 0, NR_GOOD << 12);
	memset(gb.ram + ARR, 0, NR_GOOD << 12);
	memset(ga.ram + HOLE, 0xaa, 4096);
	gpa_write(&ga, ARR, &pfn, sizeof(pfn));
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, ARR, 1, 0), 1,
	   "balloon takes the page (hole punched)");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_INCREASE, ARR, 1, 0), 1,
	   "and gives it back (P2M valid, still a hole in the file)");
	if (on_tmpfs) {
		fill_fs();
	} else {
		ok(ftruncate(ga.ram_fd, HOLE_PFN << 12) == 0 &&
		   ftruncate(gb.ram_fd, HOLE_PFN << 12) == 0,
		   "RAM files end before the hole (SIGBUS past EOF)");
	}
}

static void test_accessors(void)
{
	uint8_t buf[64] = { 0 };
	uint64_t f = faults(&ga);

	is(gpa_read(&ga, HOLE, buf, sizeof(buf)), -VPV_EFAULT,
	   "gpa_read of an unbackable page: -EFAULT");
	is(gpa_write(&ga, HOLE + 8, buf, sizeof(buf)), -VPV_EFAULT,
	   "gpa_write: -EFAULT");
	is(gpa_store_u64(&ga, HOLE, 1), -VPV_EFAULT, "gpa_store_u64: -EFAULT");
	is(faults(&ga) - f, 3, "three ram_faults counted");
	is(gpa_read(&ga, ARR, buf, sizeof(buf)), 0, "a backed page still reads");
	/* a range ending in the hole: the part before it is copied */
	is(gpa_read(&ga, HOLE - 8, buf, 16), -VPV_EFAULT,
	   "range running into the hole: -EFAULT");
}

static void test_hypercalls(void)
{
	struct vpv_multicall_entry mc[2];
	uint64_t f = faults(&ga);

	is(call(&ga, VPV_HC_MEMCHK, HOLE, 4096, 0, 0), -VPV_EFAULT,
	   "MEMCHK over the hole: -EFAULT");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, HOLE, 0, 0), -VPV_EFAULT,
	   "POLL with its stats in the hole: -EFAULT");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_DECREASE, HOLE, 1, 0),
	   -VPV_EFAULT, "DECREASE with its array in the hole: -EFAULT");
	is(call(&ga, VPV_HC_MEMORY_OP, VPV_MEMOP_REPORT_FREE, HOLE, 1, 0),
	   -VPV_EFAULT, "REPORT_FREE with its array in the hole: -EFAULT");
	is(call(&ga, VPV_HC_MULTICALL, HOLE, 2, 0, 0), -VPV_EFAULT,
	   "MULTICALL with its array in the hole: -EFAULT");
	is(faults(&ga) - f, 5, "each counted in ram_faults");

	/* a multicall whose entry faults: that entry's result only */
	memset(mc, 0, sizeof(mc));
	mc[0].op = VPV_HC_MEMCHK;
	mc[0].args[0] = HOLE;
	mc[0].args[1] = 16;
	mc[1].op = VPV_HC_NOP;
	mc[1].args[0] = 7;
	gpa_write(&ga, ARR, mc, sizeof(mc));
	is(call(&ga, VPV_HC_MULTICALL, ARR, 2, 0, 0), 2,
	   "MULTICALL with a faulting entry runs both");
	gpa_read(&ga, ARR, mc, sizeof(mc));
	ok(mc[0].result == -VPV_EFAULT && mc[1].result == 7,
	   "entry results: -EFAULT, then the NOP's");
}

static long gcopy(struct vpv_gnttab_copy *c)
{
	long r;

	gpa_write(&ga, ARR, c, sizeof(*c));
	r = call(&ga, VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY, ARR, 1, 0);
	gpa_read(&ga, ARR, c, sizeof(*c));
	return r;
}

static void test_grant_copy(void)
{
	uint64_t fa = faults(&ga), fb = faults(&gb);
	struct vpv_gnttab_copy c;

	test_grant_to(&gb, REF_IN, ga.domid, GOOD_PFN + 1, VPV_GTF_PERMIT_ACCESS);
	test_grant_to(&gb, REF_HOLE, ga.domid, HOLE_PFN, VPV_GTF_PERMIT_ACCESS);
	is(call(&ga, VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY, HOLE, 1, 0),
	   -VPV_EFAULT, "grant copy array in the hole: -EFAULT");

	memset(&c, 0, sizeof(c));
	c.flags = VPV_GNTCOPY_DEST_GREF;	/* own hole -> gb's frame */
	c.source.gpa_or_ref = HOLE;
	c.dest.domid = gb.domid;
	c.dest.gpa_or_ref = REF_IN;
	c.len = 64;
	is(gcopy(&c), 0, "copy from an unbackable own page: none succeeded");
	is(c.status, -VPV_EFAULT, "... its status -EFAULT");

	memset(&c, 0, sizeof(c));
	c.flags = VPV_GNTCOPY_SOURCE_GREF;	/* gb's hole -> own page */
	c.source.domid = gb.domid;
	c.source.gpa_or_ref = REF_HOLE;
	c.dest.gpa_or_ref = ARR + 2048;
	c.len = 64;
	is(gcopy(&c), 0, "copy from a foreign unbackable frame: none succeeded");
	is(c.status, -VPV_EFAULT, "... its status -EFAULT");
	is(faults(&ga) - fa, 3, "faults counted for the caller");
	is(faults(&gb) - fb, 0, "... not for the granting guest");
	is(grant_nr_mapped(&gb), 0, "no grant left mapped");
}

static void test_pvmmu(void)
{
	struct vpv_mmuext_op op = { .cmd = VPV_MMUEXT_PIN_L1_TABLE,
				    .pfn = TBL_PFN };
	uint64_t f = faults(&ga), done = 99;

	gpa_write(&ga, ARR, &op, sizeof(op));
	is(call(&ga, VPV_HC_MMUEXT_OP, ARR, 1, ARR + 64, 0), -VPV_EFAULT,
	   "PIN_L1_TABLE of an unbackable page: -EFAULT");
	gpa_read(&ga, ARR + 64, &done, sizeof(done));
	is(done, 0, "done = 0");
	is(pvmmu_nr_tables(&ga), 0, "nothing pinned");
	is(call(&ga, VPV_HC_MMUEXT_OP, HOLE, 1, 0, 0), -VPV_EFAULT,
	   "MMUEXT array in the hole: -EFAULT");
	op.pfn = GOOD_PFN + 2;		/* a zeroed, backed page: pins */
	gpa_write(&ga, ARR, &op, sizeof(op));
	is(call(&ga, VPV_HC_MMUEXT_OP, ARR, 1, HOLE, 0), -VPV_EFAULT,
	   "done_gpa in the hole: -EFAULT");
	is(pvmmu_nr_tables(&ga), 1, "... after the work it reports");
	is(faults(&ga) - f, 3, "each counted");
	op.cmd = VPV_MMUEXT_UNPIN_TABLE;
	gpa_write(&ga, ARR, &op, sizeof(op));
	is(call(&ga, VPV_HC_MMUEXT_OP, ARR, 1, 0, 0), 0, "unpinned");
}

/* ---- vloop: a front-end on ga, device id */

static void fe_write(unsigned int id, const char *key, const char *val)
{
	char p[160];

	snprintf(p, sizeof(p), "device/vloop/%u/%s", id, key);
	if (store_write(ga.domid, 0, p, val, strlen(val)))
		BAIL("front-end write %s", key);
}

static int be_state(unsigned int id)
{
	char p[160], *v;
	uint32_t len;
	int st;

	snprintf(p, sizeof(p), "/local/domain/0/backend/vloop/%u/%u/state",
		 ga.domid, id);
	if (store_read(STORE_DOMID_HOST, 0, p, &v, &len))
		return -1;
	st = atoi(v);
	free(v);
	return st;
}

/* Connect vloop/id with its ring at pfn (granted as ref); its port. */
static uint32_t vloop_connect(unsigned int id, uint64_t pfn, uint32_t ref)
{
	uint32_t port;
	char v[16];

	if (bus_device_add(&ga, "vloop", id))
		BAIL("device add vloop/%u", id);
	test_grant_to(&ga, ref, VPV_DOMID_HOST, pfn, VPV_GTF_PERMIT_ACCESS);
	port = call(&ga, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST,
		    0, 0);
	snprintf(v, sizeof(v), "%u", ref);
	fe_write(id, "ring-ref", v);
	snprintf(v, sizeof(v), "%u", port);
	fe_write(id, "event-channel", v);
	snprintf(v, sizeof(v), "%d", VPV_BUS_INITIALISED);
	fe_write(id, "state", v);
	return port;
}

static void test_vloop(void)
{
	struct vpv_vloop_sring *sr = (void *)(ga.ram + (RING_PFN << 12));
	struct vpv_front_ring fr;
	struct vpv_vloop_req *rq;
	struct vpv_vloop_rsp rs;
	uint64_t f = faults(&ga);
	uint32_t port;

	vpv_ring_init_shared(&sr->hdr);
	vpv_front_ring_init(&fr, &sr->hdr,
			    VPV_RING_ENTRIES(sizeof(sr->ring[0]), 4096));
	port = vloop_connect(0, RING_PFN, REF_RING);
	is(be_state(0), VPV_BUS_CONNECTED, "vloop/0 connected");
	test_grant_to(&ga, REF_HOLE, VPV_DOMID_HOST, HOLE_PFN,
		      VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	rq = &VPV_RING_ENTRY(sr, &fr, fr.req_prod_pvt++)->req;
	memset(rq, 0, sizeof(*rq));
	rq->id = 5;
	rq->op = VPV_VLOOP_OP_CSUM;
	rq->gref_in = REF_HOLE;
	rq->len = 64;
	if (vpv_front_push_requests(&fr))
		call(&ga, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port, 0, 0);
	ok(vpv_front_unconsumed_responses(&fr) == 1, "vloop answered");
	rs = VPV_RING_ENTRY(sr, &fr, fr.rsp_cons++)->rsp;
	ok(rs.id == 5 && rs.status == -VPV_EFAULT,
	   "request on an unbackable page: status -EFAULT");
	is(be_state(0), VPV_BUS_CONNECTED, "device still connected");
	is(faults(&ga) - f, 1, "counted");

	/* a ring page that cannot be backed: a protocol error */
	port = vloop_connect(1, RING_HOLE_PFN, REF_RING_HOLE);
	call(&ga, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port, 0, 0);
	is(be_state(1), VPV_BUS_CLOSING, "unbackable ring: back-end Closing");
	is(faults(&ga) - f, 2, "counted");
	bus_device_remove(&ga, "vloop", 0);
	bus_device_remove(&ga, "vloop", 1);
}

/* the counter in vpv-ctl stats */
static void test_stats(void)
{
	struct host h = { .guests = &ga, .nr_guests = 1 };
	char line[64], want[64];
	struct sbuf out;

	sb_init(&out);
	snprintf(line, sizeof(line), "stats %s", ga.name);
	snprintf(want, sizeof(want), "\"ram_faults\":%llu",
		 (unsigned long long)faults(&ga));
	ctl_handle_line(&h, line, strlen(line), &out);
	ok(out.buf && strstr(out.buf, want), "vpv-ctl stats shows %s", want);
	sb_free(&out);
}

/* ---- what is not a guest RAM fault still kills ---- */

static void crash_outside_guard(void *arg)
{
	(void)arg;
}

/* a store the compiler must emit: arg faults */
static void store_in_guard(void *arg)
{
	__atomic_store_n((uint8_t *)arg, 1, __ATOMIC_RELAXED);
}

/*
 * A fresh process (exec'd, so the handler is installed anew over the
 * sanitizer's) that must die.  mode 0: SIGBUS outside a guard, 1: in
 * one but not in guest RAM, 2: SIGBUS sent with raise(), 3: SIGSEGV in
 * a guard.
 */
static void child(int mode)
{
	static struct guest cg = { .name = "child" };	/* no RAM */
	char path[64];
	uint8_t *p;
	int fd;

	snprintf(path, sizeof(path), "/tmp/vpv-sigbus-%d", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(path);
	/* a page past the end of an empty file: SIGBUS on access */
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fd < 0 || p == MAP_FAILED)
		_exit(3);
	gpa_guard_run(&cg, NULL, crash_outside_guard, NULL);	/* installed */
	switch (mode) {
	case 0:
		p[0] = 1;
		break;
	case 1:
		gpa_guard_run(&cg, NULL, store_in_guard, p);
		break;
	case 2:
		raise(SIGBUS);
		break;
	case 3:
		/* the NULL page is never mapped */
		gpa_guard_run(&cg, NULL, store_in_guard, (void *)(uintptr_t)8);
		break;
	}
	_exit(0);	/* survived: wrong */
}

static void test_still_kills(void)
{
	static const char *const what[] = {
		"SIGBUS outside a guard", "SIGBUS in a guard, not guest RAM",
		"SIGBUS sent with raise()", "SIGSEGV in a guard",
	};
	int mode, st;
	pid_t pid;

	for (mode = 0; mode < 4; mode++) {
		char arg[16];

		snprintf(arg, sizeof(arg), "%d", mode);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			/* the sanitizer's report is expected: keep TAP clean */
			if (!freopen("/dev/null", "w", stderr))
				_exit(3);
			/* and do not spend a second symbolizing it */
			setenv("ASAN_OPTIONS", "symbolize=0:detect_leaks=0", 1);
			execl("/proc/self/exe", "test_sigbus", "child", arg,
			      (char *)NULL);
			_exit(3);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			BAIL("fork: %s", strerror(errno));
		/* killed by the signal, or the sanitizer's report and exit */
		ok(WIFSIGNALED(st) ? WTERMSIG(st) == (mode == 3 ? SIGSEGV :
						      SIGBUS) :
		   WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 3,
		   "%s still kills (status %#x)", what[mode], st);
	}
}

int main(int argc, char **argv)
{
	char path[64];

	if (argc == 3 && !strcmp(argv[1], "child"))
		child(atoi(argv[2]));
	test_dir_make();
	on_tmpfs = mount_tmpfs();
	be_inproc_register(&vloop_be_ops);	/* vloop in this process */
	setup();
	test_accessors();
	test_hypercalls();
	test_grant_copy();
	test_pvmmu();
	test_vloop();
	test_stats();
	test_still_kills();
	guest_destroy(&ga);
	guest_destroy(&gb);
	if (on_tmpfs) {
		snprintf(path, sizeof(path), "%s/fill", test_dir);
		unlink(path);
		umount2(test_dir, MNT_DETACH);
	}
	test_dir_remove();
	return tap_done();
}
