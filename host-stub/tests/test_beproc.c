// SPDX-License-Identifier: GPL-2.0
/*
 * Back-end processes (src/devices/beproc.c, backend/): the vloop device served
 * by the real build-san/vpv-vloopback, with a fake front-end here.
 * Checked: the sandbox (Seccomp: 2), checked I/O through the process,
 * protocol validation against a hostile back-end (this binary run as
 * "vpv-vloopback" through a symlink), supervision (a crash loop ends
 * failed, restart brings it back), 1000 crashes leave the core's fds
 * and RSS as they were, the seccomp filter kills a forbidden syscall,
 * and killing one guest's back-end leaves the other guest's alone.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <sys/socket.h>

#include "testutil.h"
#include "vpv_vloop.h"

#define RING_PFN	0x200ull
#define IN_PFN		0x201ull
#define OUT_PFN		0x202ull
#define REF_RING	8
#define REF_IN		9
#define REF_OUT		10
#define WAIT_MS		10000	/* for anything the back-end does */

struct fe {
	struct guest *g;
	uint32_t id;
	uint64_t ring_pfn;
	struct vpv_vloop_sring *sr;
	struct vpv_front_ring fr;
	uint32_t port;
	char fe[96], be[96];
};

static struct guest ga, gb;
static char hostile_out[64];

static uint64_t ms(void)
{
	return bus_now_ms();
}

static void fe_write(struct fe *f, const char *key, const char *val)
{
	char p[160];

	snprintf(p, sizeof(p), "device/vloop/%u/%s", f->id, key);
	if (store_write(f->g->domid, 0, p, val, strlen(val)))
		BAIL("front-end write %s", key);
}

static void fe_state(struct fe *f, int st)
{
	char v[4];

	snprintf(v, sizeof(v), "%d", st);
	fe_write(f, "state", v);
}

static bool wait_state(const char *dir, int st)
{
	uint64_t end = ms() + WAIT_MS;

	while (ms() < end) {
		if (state_of(dir) == st)
			return true;
		usleep(1000);
	}
	return false;
}

static void fe_add(struct fe *f, struct guest *g, uint32_t id)
{
	memset(f, 0, sizeof(*f));
	f->g = g;
	f->id = id;
	f->ring_pfn = RING_PFN + 16 * id;
	if (bus_device_add(g, "vloop", id))
		BAIL("device add");
	snprintf(f->fe, sizeof(f->fe), "/local/domain/%u/device/vloop/%u",
		 g->domid, id);
	snprintf(f->be, sizeof(f->be), "/local/domain/0/backend/vloop/%u/%u",
		 g->domid, id);
}

/* the front-end's handshake; true when the back-end is Connected */
static bool fe_connect(struct fe *f)
{
	char v[16];

	f->sr = (struct vpv_vloop_sring *)(f->g->ram + f->ring_pfn * 4096);
	memset(f->sr, 0, 4096);
	vpv_ring_init_shared(&f->sr->hdr);
	vpv_front_ring_init(&f->fr, &f->sr->hdr,
			    VPV_RING_ENTRIES(sizeof(f->sr->ring[0]), 4096));
	test_grant(f->g, REF_RING + 16 * f->id, f->ring_pfn, VPV_GTF_PERMIT_ACCESS);
	if (!f->port)
		f->port = call(f->g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC,
			       VPV_DOMID_HOST, 0, 0);
	fe_state(f, VPV_BUS_INITIALISING);
	snprintf(v, sizeof(v), "%u", REF_RING + 16 * f->id);
	fe_write(f, "ring-ref", v);
	snprintf(v, sizeof(v), "%u", f->port);
	fe_write(f, "event-channel", v);
	fe_state(f, VPV_BUS_INITIALISED);
	return wait_state(f->be, VPV_BUS_CONNECTED);
}

static void push(struct fe *f, uint64_t id, uint32_t op, uint16_t len,
		 uint32_t seed)
{
	struct vpv_vloop_req *r =
		&VPV_RING_ENTRY(f->sr, &f->fr, f->fr.req_prod_pvt++)->req;

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->op = op;
	r->gref_in = REF_IN;
	r->gref_out = REF_OUT;
	r->len = len;
	r->seed = seed;
}

/* the device doorbell the host named for port, -1: none */
static int doorbell_of(struct guest *g, uint32_t port)
{
	int i;

	for (i = 0; i < VPV_NR_DEV_DOORBELLS; i++)
		if (__atomic_load_n(&g->ev->to_host.doorbell_port[i],
				    __ATOMIC_SEQ_CST) == port)
			return i;
	return -1;
}

/*
 * Push n CSUM requests of the IN page, kick, wait for n answers ok.
 * The kick: EVTCHNOP_SEND, or with db >= 0 what QEMU does for the
 * guest's write of device doorbell db (its eventfd, no hypercall).
 */
static int run_reqs_db(struct fe *f, unsigned int n, int db)
{
	uint32_t want = fnv1a32(f->g->ram + IN_PFN * 4096, 64);
	unsigned int i, good = 0;
	uint64_t end = ms() + WAIT_MS, one = 1;

	for (i = 0; i < n; i++)
		push(f, i, VPV_VLOOP_OP_CSUM, 64, 0);
	if (vpv_front_push_requests(&f->fr) && db < 0)
		call(f->g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, f->port, 0, 0);
	else if (db >= 0 &&
		 write(f->g->host_ev[VPV_VEC_DEV0 + db], &one, sizeof(one)) < 0)
		return -1;
	while (ms() < end && vpv_front_unconsumed_responses(&f->fr) < n)
		usleep(200);
	while (vpv_front_unconsumed_responses(&f->fr)) {
		struct vpv_vloop_rsp *rs =
			&VPV_RING_ENTRY(f->sr, &f->fr, f->fr.rsp_cons++)->rsp;

		good += !rs->status && rs->csum == want;
	}
	return good;
}

static int run_reqs(struct fe *f, unsigned int n)
{
	return run_reqs_db(f, n, -1);
}

static int wait_pid_not(struct guest *g, uint32_t id, int old)
{
	uint64_t end = ms() + WAIT_MS;
	int pid;

	while (ms() < end) {
		pid = beproc_pid("vloop", g->domid, id);
		if (pid > 0 && pid != old)
			return pid;
		usleep(200);
	}
	return 0;
}

static bool wait_proc_state(struct guest *g, uint32_t id, const char *st)
{
	uint64_t end = ms() + WAIT_MS;
	char buf[16];

	while (ms() < end) {
		if (!beproc_state("vloop", g->domid, id, buf, sizeof(buf)) &&
		    !strcmp(buf, st))
			return true;
		usleep(500);
	}
	return false;
}

static struct bus_dev_info *dev_info(struct guest *g, uint32_t id)
{
	static struct bus_dev_info list[8];
	size_t n, i;

	n = bus_device_list(g->domid, list, 8);
	for (i = 0; i < n && i < 8; i++)
		if (list[i].id == id)
			return &list[i];
	return NULL;
}

static bool wait_crashes(struct guest *g, uint32_t id, uint32_t n)
{
	uint64_t end = ms() + WAIT_MS;
	struct bus_dev_info *i;

	while (ms() < end) {
		i = dev_info(g, id);
		if (i && i->be_crashes >= n)
			return true;
		usleep(500);
	}
	return false;
}

/* "device OP GUEST [ARG]" through the control path; want in the reply */
static void ctl_has(struct guest *g, const char *op, const char *arg,
		    const char *want, const char *what)
{
	struct host h = { .guests = g, .nr_guests = 1 };
	char line[96];
	struct sbuf out;

	sb_init(&out);
	snprintf(line, sizeof(line), "device %s %s %s", op, g->name, arg);
	ctl_handle_line(&h, line, strlen(line), &out);
	ok(out.buf && strstr(out.buf, want), "%s", what);
	if (!out.buf || !strstr(out.buf, want))
		printf("# %s\n", out.buf ? out.buf : "(none)");
	sb_free(&out);
}

static void test_config(void)
{
	char *ok_args[7] = { "vpv-host", "--no-qemu", "--backend-max-crashes",
			     "7", "--backend-crash-window", "3", NULL };
	char *bad_args[5] = { "vpv-host", "--no-qemu",
			      "--backend-max-crashes", "0", NULL };
	struct host_cfg cfg;

	is(cfg_parse_args(&cfg, 6, ok_args), 0, "--backend-max-crashes 7 ...");
	ok(cfg.backend_max_crashes == 7 && cfg.backend_crash_window == 3,
	   "... and --backend-crash-window 3 parsed");
	cfg_free(&cfg);
	ok(cfg_parse_args(&cfg, 4, bad_args) < 0,
	   "--backend-max-crashes 0 refused");
	cfg_free(&cfg);
}

static uint16_t gflags(struct guest *g, uint32_t ref)
{
	return __atomic_load_n(&test_gent(g, ref)->flags, __ATOMIC_ACQUIRE);
}

/* one request of op on the IN page, kicked, its answer spun for */
static int32_t one_spin(struct fe *f, uint32_t op)
{
	uint64_t end = ms() + WAIT_MS;
	struct vpv_vloop_rsp *rs;

	push(f, 0, op, 64, 0);
	if (vpv_front_push_requests(&f->fr))
		call(f->g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, f->port, 0, 0);
	while (!vpv_front_unconsumed_responses(&f->fr))
		if (ms() > end)
			return 1;
	rs = &VPV_RING_ENTRY(f->sr, &f->fr, f->fr.rsp_cons++)->rsp;
	return rs->status;
}

/*
 * A front-end that spins for its answers ends access to a request's
 * grants the moment it sees one: the back-end must have had them
 * unmapped before it pushed the answer (be_unmap_barrier()).  CSUM
 * unmaps its data grants, RELEASE the grant a HOLD kept.
 */
static void test_unmapped_at_answer(struct fe *f)
{
	const uint16_t busy = VPV_GTF_READING | VPV_GTF_WRITING;
	unsigned int i, bad = 0, held = 0, fail = 0;

	for (i = 0; i < 100; i++) {
		fail += one_spin(f, VPV_VLOOP_OP_CSUM) != 0;
		bad += !!((gflags(f->g, REF_IN) | gflags(f->g, REF_OUT)) & busy);
		fail += one_spin(f, VPV_VLOOP_OP_HOLD) != 0;
		held += !!(gflags(f->g, REF_IN) & VPV_GTF_READING);
		fail += one_spin(f, VPV_VLOOP_OP_RELEASE) != 0;
		bad += !!(gflags(f->g, REF_IN) & busy);
	}
	is(fail, 0, "100 x CSUM, HOLD, RELEASE answered ok");
	is(held, 100, "a HOLD's grant is in use when it is answered");
	is(bad, 0, "CSUM's and RELEASE's grants unmapped when answered");
}

static void test_io(void)
{
	struct fe f;
	int pid, i, n, db;

	fe_add(&f, &ga, 0);
	pid = beproc_pid("vloop", ga.domid, 0);
	ok(pid > 0, "vloop/0 has a back-end process (pid %d)", pid);
	for (i = 0; i < 1000 && !seccomp_on(pid); i++)
		usleep(1000);
	ok(seccomp_on(pid), "its seccomp filter is active (Seccomp: 2)");
	ok(fe_connect(&f), "front-end and back-end Connected");
	for (i = 0; i < 4096; i++)
		ga.ram[IN_PFN * 4096 + i] = i * 7;
	test_grant(&ga, REF_IN, IN_PFN, VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	test_grant(&ga, REF_OUT, OUT_PFN, VPV_GTF_PERMIT_ACCESS);
	is(run_reqs(&f, 20), 20, "20 checked requests through the process");
	is(grant_nr_mapped(&ga), 1, "data grants unmapped, the ring held");
	/* STATS come after the answers, within BE_STATS_MS (belib.c) */
	for (i = 0; i < 1000 && STAT_GET(&ga, vloop_requests) < 20; i++)
		usleep(1000);
	ok(STAT_GET(&ga, vloop_requests) >= 20, "vloop_requests counted");
	for (i = 0, n = 0; i < 10; i++)
		n += run_reqs(&f, 50);
	is(n, 500, "500 more, 50 at a time");
	test_unmapped_at_answer(&f);
	db = doorbell_of(&ga, f.port);
	ok(db >= 0, "its port names a device doorbell (%d)", db);
	is(ga.dev_doorbells, 1u << db, "the guest's one doorbell in use");
	for (i = 0, n = 0; i < 10; i++)
		n += run_reqs_db(&f, 20, db);
	is(n, 200, "200 answered, kicked by the device doorbell alone");
	call(&ga, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, f.port, 0, 0);
	is(doorbell_of(&ga, f.port), -1,
	   "the guest closed the port: no doorbell names it");
	bus_device_remove(&ga, "vloop", 0);
	fe_state(&f, VPV_BUS_CLOSED);
	/* the bus finishes the remove on the state's watch, not here */
	for (i = 0; i < WAIT_MS && (grant_nr_mapped(&ga) || !kill(pid, 0)); i++)
		usleep(1000);
	is(grant_nr_mapped(&ga), 0, "removed: nothing mapped");
	ok(kill(pid, 0) < 0 && errno == ESRCH, "removed: process reaped");
	is(beproc_nr_fds(), 0, "removed: the core holds no back-end fd");
	is(ga.dev_doorbells, 0, "removed: its doorbell free again");
}

/*
 * More devices than device doorbells: the first VPV_NR_DEV_DOORBELLS
 * get one each, the next none (its events go through VPV_VEC_EVTCHN and
 * the core), and all serve.
 */
static void test_doorbells_out(void)
{
	static struct fe f[VPV_NR_DEV_DOORBELLS + 1];
	unsigned int i, named = 0, good = 0, conn = 0;
	uint8_t seen = 0;

	for (i = 0; i < ARRAY_SIZE(f); i++) {
		fe_add(&f[i], &gb, i);
		conn += fe_connect(&f[i]);
	}
	test_grant(&gb, REF_IN, IN_PFN, VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	test_grant(&gb, REF_OUT, OUT_PFN, VPV_GTF_PERMIT_ACCESS);
	for (i = 0; i < VPV_NR_DEV_DOORBELLS; i++) {
		int db = doorbell_of(&gb, f[i].port);

		if (db >= 0 && !(seen & (1u << db)))
			named++;
		if (db >= 0)
			seen |= 1u << db;
		good += run_reqs_db(&f[i], 5, db) == 5;
	}
	is(conn, ARRAY_SIZE(f), "9 devices Connected");
	is(named, VPV_NR_DEV_DOORBELLS, "the first 8: a doorbell each");
	is(doorbell_of(&gb, f[VPV_NR_DEV_DOORBELLS].port), -1,
	   "one more: none left for it");
	is(run_reqs(&f[VPV_NR_DEV_DOORBELLS], 5), 5,
	   "it serves through the core's event channel");
	is(good, VPV_NR_DEV_DOORBELLS, "the others serve through theirs");
	for (i = 0; i < ARRAY_SIZE(f); i++) {
		bus_device_remove(&gb, "vloop", i);
		fe_state(&f[i], VPV_BUS_CLOSED);
	}
	is(gb.dev_doorbells, 0, "all removed: every doorbell free");
}

/* ---- a hostile back-end: this binary, as vpv-vloopback ---- */

static int hs_sock = 3;
static FILE *hs_out;
static uint32_t hs_seq;

static int32_t hs_req(void *m, uint32_t type, size_t len, size_t send_len,
		      struct be_msg_reply *r)
{
	struct be_hdr *h = m;

	h->type = type;
	h->len = len;
	h->seq = ++hs_seq;
	if (send(hs_sock, m, send_len, 0) < 0)
		return -999;
	for (;;) {
		if (recv(hs_sock, r, sizeof(*r), 0) <= 0)
			return -998;
		if (r->h.type == BE_MSG_REPLY && r->h.seq == hs_seq)
			return r->result;
	}
}

static int32_t hs_read(uint32_t dir, const char *key)
{
	struct be_msg_store_read m;
	struct be_msg_reply r;

	memset(&m, 0, sizeof(m));
	m.dir = dir;
	memcpy(m.key, key, strlen(key) < BE_KEY_MAX ? strlen(key) :
	       BE_KEY_MAX);
	return hs_req(&m, BE_MSG_STORE_READ, sizeof(m), sizeof(m), &r);
}

static int32_t hs_write(uint32_t dir, const char *key)
{
	struct be_msg_store_write m;
	struct be_msg_reply r;

	memset(&m, 0, sizeof(m));
	m.dir = dir;
	snprintf(m.key, sizeof(m.key), "%s", key);
	m.len = 1;
	m.val[0] = 'v';
	return hs_req(&m, BE_MSG_STORE_WRITE, sizeof(m), sizeof(m), &r);
}

/* n maps of ref; the statuses counted: ok, -ENOSPC, other */
static void hs_map(uint32_t n, uint32_t ref, int *okn, int *nospc, int *other)
{
	struct be_msg_grant_map m;
	struct be_msg_reply r;
	uint32_t i;

	memset(&m, 0, sizeof(m));
	m.n = n;
	for (i = 0; i < BE_MAP_BATCH; i++)
		m.ent[i].ref = ref;
	if (hs_req(&m, BE_MSG_GRANT_MAP, sizeof(m), sizeof(m), &r)) {
		*other += n;
		return;
	}
	for (i = 0; i < n && i < BE_MAP_BATCH; i++) {
		if (!r.map[i].status)
			(*okn)++;
		else if (r.map[i].status == -ENOSPC)
			(*nospc)++;
		else
			(*other)++;
	}
}

static void hs_oneway(void *m, uint32_t type, size_t len)
{
	struct be_hdr *h = m;

	h->type = type;
	h->len = len;
	h->seq = 0;
	if (send(hs_sock, m, len, 0) < 0)
		_exit(9);
}

static void hs_maps(void)
{
	struct be_msg_grant_map m;
	struct be_msg_grant_unmap u;
	struct be_msg_reply r;
	int okn = 0, nospc = 0, other = 0, i;

	memset(&m, 0, sizeof(m));
	fprintf(hs_out, "map_n0 %d\n",
		hs_req(&m, BE_MSG_GRANT_MAP, sizeof(m), sizeof(m), &r));
	m.n = BE_MAP_BATCH + 1;
	fprintf(hs_out, "map_n9 %d\n",
		hs_req(&m, BE_MSG_GRANT_MAP, sizeof(m), sizeof(m), &r));
	hs_map(1, 99999, &okn, &nospc, &other);
	hs_map(1, 3, &okn, &nospc, &other);	/* reserved */
	hs_map(1, 500, &okn, &nospc, &other);	/* not granted */
	fprintf(hs_out, "map_bad_refs %d %d\n", okn, other);
	okn = 0;
	other = 0;
	for (i = 0; i < (int)(BE_MAPS_MAX / BE_MAP_BATCH) + 1; i++)
		hs_map(BE_MAP_BATCH, REF_IN, &okn, &nospc, &other);
	fprintf(hs_out, "map_many %d %d %d\n", okn, nospc, other);
	memset(&u, 0, sizeof(u));
	u.n = 2;
	u.handle[0] = 1000;		/* not a handle */
	u.handle[1] = 0;		/* a real one */
	hs_oneway(&u, BE_MSG_GRANT_UNMAP, sizeof(u));
}

static void hostile(void)
{
	char buf[BE_MSG_MAX + 64];
	struct be_msg_reply r;
	struct be_msg_port pm;
	char big[70];

	snprintf(hostile_out, sizeof(hostile_out), "/tmp/vpv-beproc-%d.out",
		 (int)getppid());
	if (recv(hs_sock, buf, sizeof(buf), 0) <= 0)	/* INIT */
		_exit(8);
	if (!access(hostile_out, F_OK))
		for (;;)
			pause();	/* once only: then wait to be killed */
	hs_out = fopen(hostile_out, "w");
	if (!hs_out)
		_exit(7);
	memset(buf, 0, sizeof(buf));
	if (send(hs_sock, buf, 2, 0) < 0)	/* shorter than a header */
		_exit(9);
	fprintf(hs_out, "short_read %d\n",
		hs_req(buf, BE_MSG_STORE_READ, 40, 40, &r));
	fprintf(hs_out, "len_lies %d\n",
		hs_req(buf, BE_MSG_STORE_READ, 999,
		       sizeof(struct be_msg_store_read), &r));
	fprintf(hs_out, "unknown %d\n", hs_req(buf, 99, 16, 16, &r));
	fprintf(hs_out, "read_fe_state %d\n", hs_read(BE_DIR_FE, "state"));
	fprintf(hs_out, "read_dotdot %d\n", hs_read(BE_DIR_FE, "../../1/x"));
	fprintf(hs_out, "read_slash %d\n", hs_read(BE_DIR_BE, "a/b"));
	fprintf(hs_out, "read_dir7 %d\n", hs_read(7, "state"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fprintf(hs_out, "read_unterminated %d\n", hs_read(BE_DIR_BE, big));
	fprintf(hs_out, "write_fe %d\n", hs_write(BE_DIR_FE, "x"));
	fprintf(hs_out, "write_state %d\n", hs_write(BE_DIR_BE, "state"));
	fprintf(hs_out, "write_own %d\n", hs_write(BE_DIR_BE, "x-test"));
	hs_maps();
	memset(&pm, 0, sizeof(pm));
	pm.port = 5;
	fprintf(hs_out, "bind_unasked %d\n",
		hs_req(&pm, BE_MSG_BIND_PORT, sizeof(pm), sizeof(pm), &r));
	fprintf(hs_out, "alive %d\n", hs_read(BE_DIR_FE, "state") > 0);
	fclose(hs_out);
	_exit(0);
}

static int hs_val(const char *key, const char *text)
{
	const char *p = strstr(text, key);

	return p ? atoi(p + strlen(key) + 1) : -12345;
}

static void test_hostile(void)
{
	char dir[] = "/tmp/vpv-beproc-XXXXXX", link[96], self[256], text[1024];
	char want[64];
	uint64_t bad0 = STAT_GET(&gb, backend_bad_msgs);
	struct fe f;
	ssize_t n;
	FILE *fp;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0 || !mkdtemp(dir))
		BAIL("hostile setup");
	self[n] = '\0';
	snprintf(link, sizeof(link), "%s/vpv-vloopback", dir);
	if (symlink(self, link))
		BAIL("symlink");
	snprintf(hostile_out, sizeof(hostile_out), "/tmp/vpv-beproc-%d.out",
		 (int)getpid());
	unlink(hostile_out);
	beproc_set_dir(dir);
	test_grant(&gb, REF_IN, IN_PFN, VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	fe_add(&f, &gb, 1);
	beproc_set_dir("");
	ok(wait_crashes(&gb, 1, 1), "the hostile back-end ran and exited");
	fp = fopen(hostile_out, "r");
	n = fp ? fread(text, 1, sizeof(text) - 1, fp) : 0;
	text[n > 0 ? n : 0] = '\0';
	if (fp)
		fclose(fp);
	printf("# hostile: %s", text);
	is(hs_val("short_read", text), -EINVAL, "a short request: -EINVAL");
	is(hs_val("len_lies", text), -EINVAL, "len field lies: -EINVAL");
	is(hs_val("unknown", text), -EBADMSG, "unknown type: -EBADMSG");
	is(hs_val("read_fe_state", text), 1, "its front-end's state: read");
	is(hs_val("read_dotdot", text), -EINVAL, "a key with ../: -EINVAL");
	is(hs_val("read_slash", text), -EINVAL, "a key with /: -EINVAL");
	is(hs_val("read_dir7", text), -EINVAL, "a directory not its: -EINVAL");
	is(hs_val("read_unterminated", text), -EINVAL,
	   "an unterminated key: -EINVAL");
	is(hs_val("write_fe", text), -EINVAL, "write to the front-end dir: -EINVAL");
	is(hs_val("write_state", text), -EACCES, "write of its state: -EACCES");
	is(hs_val("write_own", text), 0, "write of its own key: 0");
	is(hs_val("map_n0", text), -EINVAL, "GRANT_MAP of 0 entries: -EINVAL");
	is(hs_val("map_n9", text), -EINVAL,
	   "GRANT_MAP of BE_MAP_BATCH + 1 entries: -EINVAL");
	ok(!!strstr(text, "map_bad_refs 0 3"), "bad, reserved, ungranted refs refused");
	snprintf(want, sizeof(want), "map_many %u %u 0", BE_MAPS_MAX,
		 (BE_MAPS_MAX / BE_MAP_BATCH + 1) * BE_MAP_BATCH - BE_MAPS_MAX);
	ok(!!strstr(text, want),
	   "64 maps held, the other %u of the batches -ENOSPC (BE_MAPS_VLOOP)",
	   (BE_MAPS_MAX / BE_MAP_BATCH + 1) * BE_MAP_BATCH - BE_MAPS_MAX);
	is(hs_val("bind_unasked", text), -EPERM, "BIND_PORT unasked: -EPERM");
	is(hs_val("alive", text), 1, "the core answers after all that");
	ok(STAT_GET(&gb, backend_bad_msgs) - bad0 >= 5,
	   "bad messages counted (%llu)",
	   (unsigned long long)(STAT_GET(&gb, backend_bad_msgs) - bad0));
	is(grant_nr_mapped(&gb), 0, "its 63 maps released at its exit");
	is(call(&gb, VPV_HC_NOP, 0, 0, 0, 0), 0, "the guest's hypercalls work");
	bus_device_remove(&gb, "vloop", 1);
	unlink(hostile_out);
	unlink(link);
	rmdir(dir);
}

/*
 * The bus's own teardowns with a process: restart with requests queued,
 * a new guest session (NEGOTIATE), the front-end closing: no crash
 * counted, nothing left mapped, and the device works after each.
 */
static void test_teardowns(void)
{
	struct fe f;
	unsigned int k;
	int pid;

	fe_add(&f, &ga, 6);
	ok(fe_connect(&f), "vloop/6 Connected");
	for (k = 0; k < 3; k++) {
		push(&f, 1000 + k, VPV_VLOOP_OP_CSUM, 64, 0);
		pid = beproc_pid("vloop", ga.domid, 6);
		if (vpv_front_push_requests(&f.fr))
			call(&ga, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, f.port,
			     0, 0);
		if (k == 0)
			bus_device_restart(&ga, "vloop", 6);
		else if (k == 1)
			call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION,
			     VPV_HOST_FEATURES, 0, 0);
		else
			fe_state(&f, VPV_BUS_CLOSING);
		ok(wait_state(f.be, k == 2 ? VPV_BUS_CLOSING :
			      VPV_BUS_INITWAIT), "teardown %u: back-end %s",
		   k, k == 2 ? "Closing" : "InitWait");
		fe_state(&f, VPV_BUS_CLOSED);
		ok(wait_state(f.be, k == 2 ? VPV_BUS_CLOSED : VPV_BUS_INITWAIT),
		   "teardown %u: settled", k);
		f.port = 0;	/* NEGOTIATE closed the ports */
		ok(fe_connect(&f), "teardown %u: reconnected", k);
		ok(run_reqs(&f, 20) == 20, "teardown %u: requests answered", k);
		if (k)
			ok(beproc_pid("vloop", ga.domid, 6) == pid,
			   "teardown %u: the same process", k);
	}
	is(dev_info(&ga, 6)->be_crashes, 0, "no crash counted");
	bus_device_remove(&ga, "vloop", 6);
	fe_state(&f, VPV_BUS_CLOSED);
	is(grant_nr_mapped(&ga), 0, "removed: nothing mapped");
}

/* ---- supervision ---- */

static void test_crash_loop(void)
{
	struct beproc_cfg cfg = { 3, 60000, 1, 4 };
	struct bus_dev_info *i;
	struct fe f;
	int pid = 0, k;

	beproc_configure(&cfg);
	fe_add(&f, &ga, 2);
	for (k = 0; k < 3; k++) {
		pid = wait_pid_not(&ga, 2, pid);
		if (pid > 0)
			kill(pid, SIGKILL);
	}
	ok(wait_proc_state(&ga, 2, "failed"), "3 crashes in the window: failed");
	i = dev_info(&ga, 2);
	ok(i && !strcmp(i->be_proc, "failed") && !i->be_pid,
	   "device list: failed, no pid");
	ok(i && WIFSIGNALED(i->be_last_status) &&
	   WTERMSIG(i->be_last_status) == SIGKILL,
	   "device list: the last exit was SIGKILL");
	is(i ? (int)i->be_crashes : -1, 3, "device list: 3 crashes");
	ok(STAT_GET(&ga, backend_failed) >= 1, "stats: backend_failed");
	is(state_of(f.be), VPV_BUS_CLOSED, "a failed device stays Closed");
	ctl_has(&ga, "list", "",
		"\"process\":\"failed\",\"pid\":0,\"crashes\":3,\"exit_signal\":9",
		"vpv-ctl device list: failed, 3 crashes, signal 9");
	usleep(50000);
	is(beproc_pid("vloop", ga.domid, 2), 0, "and is not restarted");
	is(call(&ga, VPV_HC_NOP, 7, 0, 0, 0), 7, "the guest's hypercalls work");
	is(bus_device_restart(&ga, "vloop", 2), 0, "device restart");
	ok(wait_proc_state(&ga, 2, "running"), "restart: running again");
	ok(fe_connect(&f), "restart: front-end Connected again");
	is(run_reqs(&f, 10), 10, "restart: requests answered");
	bus_device_remove(&ga, "vloop", 2);
	fe_state(&f, VPV_BUS_CLOSED);
}

static unsigned int nr_fds(void)
{
	unsigned int n = 0;
	DIR *d = opendir("/proc/self/fd");

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static long rss_kb(void)
{
	char line[128];
	long kb = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	while (fp && fgets(line, sizeof(line), fp))
		if (!strncmp(line, "VmRSS:", 6))
			kb = atol(line + 6);
	if (fp)
		fclose(fp);
	return kb;
}

#define CRASHES		1000
#define CRASHES_WARM	50	/* first: allocator and store caches */

static void test_many_crashes(void)
{
	struct beproc_cfg cfg = { 1000000, 1000, 1, 1 };
	unsigned int fd0, fd1, k, nop_bad = 0;
	long rss0, rss1;
	uint64_t t0;
	struct fe f;
	int pid = 0;

	beproc_configure(&cfg);
	fe_add(&f, &ga, 3);
	for (k = 0; k < CRASHES_WARM; k++) {
		pid = wait_pid_not(&ga, 3, pid);
		kill(pid, SIGKILL);
	}
	pid = wait_pid_not(&ga, 3, pid);
	fd0 = nr_fds();
	rss0 = rss_kb();
	t0 = ms();
	for (k = 0; k < CRASHES && pid > 0; k++) {
		kill(pid, SIGKILL);
		pid = wait_pid_not(&ga, 3, pid);
		nop_bad += call(&ga, VPV_HC_NOP, k, 0, 0, 0) != k;
	}
	fd1 = nr_fds();
	rss1 = rss_kb();
	printf("# %u crashes/restarts in %llu ms: fds %u -> %u, RSS %ld -> %ld KiB (%+ld)\n",
	       k, (unsigned long long)(ms() - t0), fd0, fd1, rss0, rss1,
	       rss1 - rss0);
	is(k, CRASHES, "1000 back-end crashes, each restarted");
	ok(fd1 == fd0, "the core's fd count unchanged (%u -> %u)", fd0, fd1);
	/* ASan's quarantine holds freed blocks: allow it, print the figure */
	ok(rss1 - rss0 < 4096, "the core's RSS grew < 4 MiB (%+ld KiB)",
	   rss1 - rss0);
	is(nop_bad, 0, "the guest's hypercalls worked throughout");
	bus_device_remove(&ga, "vloop", 3);
	is(beproc_nr_fds(), 0, "removed: no back-end fd left");
}

static void test_forbidden(void)
{
	struct beproc_cfg cfg = { 5, 10000, 1, 4 };
	struct bus_dev_info *i;
	struct fe f;
	int pid;

	beproc_configure(&cfg);
	fe_add(&f, &ga, 4);
	/* the hook takes effect at the next spawn */
	beproc_debug_forbid("vloop", ga.domid, 4, 5);
	is(bus_device_restart(&ga, "vloop", 4), 0, "restart with the hook");
	pid = beproc_pid("vloop", ga.domid, 4);
	ok(fe_connect(&f), "Connected");
	run_reqs(&f, 10);	/* it dies after the batch with the 5th */
	ok(wait_crashes(&ga, 4, 1), "the back-end died");
	i = dev_info(&ga, 4);
	ok(i && WIFSIGNALED(i->be_last_status) &&
	   WTERMSIG(i->be_last_status) == SIGSYS,
	   "killed by SIGSYS (the seccomp filter), status 0x%x",
	   i ? i->be_last_status : -1);
	ok(wait_pid_not(&ga, 4, pid) > 0, "and restarted");
	ok(wait_state(f.be, VPV_BUS_INITWAIT), "the device back in InitWait");
	ok(fe_connect(&f), "the front-end reconnects");
	is(run_reqs(&f, 10), 10, "the new process answers (no hook)");
	bus_device_remove(&ga, "vloop", 4);
	fe_state(&f, VPV_BUS_CLOSED);
}

/* Killing guest A's back-end leaves guest B's process and device alone. */
static void test_two_guests(void)
{
	struct beproc_cfg cfg = { 5, 10000, 1, 4 };
	struct fe fa, fb;
	char killed[32];
	int pa, pb;

	beproc_configure(&cfg);
	fe_add(&fa, &ga, 5);
	fe_add(&fb, &gb, 5);
	ok(fe_connect(&fa) && fe_connect(&fb), "A and B Connected");
	test_grant(&gb, REF_IN, IN_PFN, VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	memcpy(gb.ram + IN_PFN * 4096, ga.ram + IN_PFN * 4096, 64);
	pa = beproc_pid("vloop", ga.domid, 5);
	pb = beproc_pid("vloop", gb.domid, 5);
	/* the answer names the process signalled, reaped or not */
	snprintf(killed, sizeof(killed), "\"killed\":%d}", pa);
	ctl_has(&ga, "kill", "vloop/5", killed,
		"vpv-ctl device kill names the process killed");
	ok(wait_pid_not(&ga, 5, pa) > 0, "A's back-end killed and restarted");
	is(beproc_pid("vloop", gb.domid, 5), pb, "B's process untouched");
	is(state_of(fb.be), VPV_BUS_CONNECTED, "B still Connected");
	is(run_reqs(&fb, 50), 50, "B's requests answered");
	bus_device_remove(&ga, "vloop", 5);
	bus_device_remove(&gb, "vloop", 5);
	fe_state(&fa, VPV_BUS_CLOSED);
	fe_state(&fb, VPV_BUS_CLOSED);
}

int main(int argc, char **argv)
{
	const char *base = argc ? strrchr(argv[0], '/') : NULL;

	if (base && !strcmp(base + 1, "vpv-vloopback"))
		hostile();
	test_dir_make();
	test_guest(&ga, 32 << 20, 1);
	test_guest(&gb, 32 << 20, 1);
	call(&ga, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	call(&gb, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	test_config();
	test_io();
	test_doorbells_out();
	test_hostile();
	test_teardowns();
	test_crash_loop();
	test_many_crashes();
	test_forbidden();
	test_two_guests();
	is(beproc_nr_fds(), 0, "all removed: no back-end fd left");
	guest_destroy(&ga);
	guest_destroy(&gb);
	test_dir_remove();
	return tap_done();
}
