// SPDX-License-Identifier: GPL-2.0
/*
 * Host-side activity sampling (activity.c): the estimator's smoothing,
 * the smaps parser on crafted input, and the real thing: a forked
 * child maps a guest's RAM file as QEMU does and touches a known
 * fraction of it; the sampler must measure that fraction, ignore the
 * stub's own accesses, and the policy must tax a guest that claims to
 * be fully active while the host sees it idle.
 */
#include "testutil.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#define MIB		(1ull << 20)
#define RAM		(256 * MIB)	/* floor 64 MiB: room to tax */
#define PAGES		(RAM >> 12)
#define STATS_GPA	0x100000ull
#define PERIOD_MS	(ACT_PERIOD_DEFAULT_S * 1000ull)
#define FEPS		(1.0 / (1 << 30))	/* float rounding */
/* referenced bytes may include a few pages the kernel touched itself */
#define TOL_PPM		10000u

static bool near_ppm(uint32_t got, uint32_t want, uint32_t tol)
{
	return got + tol >= want && got <= want + tol;
}

static void test_estimator(void)
{
	struct act_est e = { 0 };
	uint32_t prev;
	int i;

	is(act_est_ppm(&e), 0, "no sample: 0");
	act_est_update(&e, 300, 1000);
	ok(e.valid && e.fast == 0.3 && e.slow == 0.3 &&
	   act_est_ppm(&e) == 300000, "first sample seeds both averages");
	act_est_update(&e, 1000, 1000);
	ok(fabs(e.fast - 0.65) < FEPS &&
	   fabs(e.slow - (0.3 + 0.125 * 0.7)) < FEPS &&
	   act_est_ppm(&e) == 650000,
	   "a rise shows within one period (fast average)");
	for (i = 0; i < 20; i++)
		act_est_update(&e, 1000, 1000);
	ok(act_est_ppm(&e) > 990000, "steady full activity: ~1e6 (%u)",
	   act_est_ppm(&e));
	prev = act_est_ppm(&e);
	act_est_update(&e, 0, 1000);
	/* slow average after 22 full periods from 0.3: 1 - 0.7 (7/8)^21 */
	ok(near_ppm(act_est_ppm(&e), act_frac_ppm((1 - 0.7 * pow(0.875, 21)) *
						  0.875), 1) &&
	   act_est_ppm(&e) < prev && e.last == 0.0,
	   "a fall shows slowly: slow average after one idle period (%u)",
	   act_est_ppm(&e));
	for (i = 0; i < 30; i++)
		act_est_update(&e, 0, 1000);
	ok(act_est_ppm(&e) < 20000, "31 idle periods: below 2%% (%u)",
	   act_est_ppm(&e));
	is(e.samples, 53, "samples counted");

	memset(&e, 0, sizeof(e));
	act_est_update(&e, 5000, 1000);
	is(act_est_ppm(&e), ACT_PPM, "touched > total clamps to 1e6");
	act_est_update(&e, 7, 0);
	ok(e.last == 0.0, "total 0: fraction 0");
	is(act_frac_ppm(NAN), 0, "NaN -> 0");
	is(act_frac_ppm(-1.0), 0, "negative -> 0");
	is(act_frac_ppm(2.0), ACT_PPM, "above 1 -> 1e6");
	is(act_frac_ppm(0.25), 250000, "0.25 -> 250000");
}

static int memfd_with(const char *text)
{
	int fd = memfd_create("smaps", MFD_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		BAIL("memfd: %s", strerror(errno));
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void test_parser(void)
{
	static const char text[] =
		"55d0c0000000-55d0c0100000 rw-p 00000000 00:00 0\n"
		"Size:               1024 kB\n"
		"Referenced:          999 kB\n"
		"7f0000000000-7f0010000000 rw-s 00000000 fd:01 4242   /tmp/x.ram\n"
		"Size:             262144 kB\n"
		"Rss:               10000 kB\n"
		"Referenced:         4096 kB\n"
		"VmFlags: rd wr sh mr mw me ms sd\n"
		"7f0010000000-7f0010001000 rw-s 00000000 fd:01 4243   /tmp/y.ram\n"
		"Referenced:            4 kB\n"
		"7f0020000000-7f0030000000 rw-s 10000000 fd:01 4242   /tmp/x.ram (deleted)\n"
		"Rss:                  40 kB\n"
		"Referenced:            8 kB\n"
		"garbage line without meaning\n"
		"Referenced: not a number kB\n"
		"7f0040000000-7f0040001000 r--p 00000000 fd:02 4242   /other/dev\n"
		"Referenced:          100 kB";		/* no final newline */
	struct act_reading r;
	char *big;
	size_t n;
	int fd;

	fd = memfd_with(text);
	is(act_smaps_parse(fd, makedev(0xfd, 1), 4242, &r), 0,
	   "parse: the RAM file found");
	close(fd);
	ok(r.vmas == 2 && r.referenced == (4096 + 8) << 10 &&
	   r.rss == 10040 << 10 && r.size == 262144ull << 10,
	   "parse: two mappings summed, other files, devices and anonymous memory ignored");
	fd = memfd_with(text);
	is(act_smaps_parse(fd, makedev(0xfd, 1), 99, &r), -ENOENT,
	   "parse: file not mapped -> ENOENT");
	close(fd);

	/* a 1 MiB path: cut, not buffered; the next mapping still parsed */
	n = MIB + 200;
	big = malloc(n + 1);
	if (!big)
		BAIL("malloc");
	snprintf(big, n + 1,
		 "7f0000000000-7f0000001000 rw-s 00000000 fd:01 7   /");
	memset(big + strlen(big), 'a', n - strlen(big));
	strcpy(big + MIB, "\nReferenced: 4 kB\n");
	fd = memfd_with(big);
	free(big);
	ok(act_smaps_parse(fd, makedev(0xfd, 1), 7, &r) == 0 &&
	   r.referenced == 4096, "parse: a 1 MiB line is cut, parsing goes on");
	close(fd);
	is(act_smaps_parse(-1, 0, 0, &r), -EBADF, "parse: read error");
}

/* ---- the real thing: a child maps the RAM file like QEMU ---- */

static int to_child[2], from_child[2];

static void child_cmd(char c)
{
	char ack;

	if (write(to_child[1], &c, 1) != 1 || read(from_child[0], &ack, 1) != 1)
		BAIL("child: %s", strerror(errno));
}

/* 'w': write every page; 'q': read the first quarter; 'x': exit */
static void child_main(int ram_fd)
{
	uint8_t *p = mmap(NULL, RAM, PROT_READ | PROT_WRITE,
			  MAP_SHARED, ram_fd, 0);
	uint64_t i, sum = 0;
	char c;

	if (p == MAP_FAILED)
		_exit(2);
	while (read(to_child[0], &c, 1) == 1) {
		if (c == 'w')
			for (i = 0; i < PAGES; i++)
				p[i << 12] = 1;
		else if (c == 'q')
			for (i = 0; i < PAGES / 4; i++)
				sum += p[i << 12];
		if (write(from_child[1], &c, 1) != 1 || c == 'x')
			_exit(sum ? 0 : 3);
	}
	_exit(4);
}

static pid_t start_child(struct guest *g)
{
	pid_t pid;

	if (pipe(to_child) || pipe(from_child))
		BAIL("pipe");
	pid = fork();
	if (pid < 0)
		BAIL("fork");
	if (pid == 0)
		child_main(g->ram_fd);
	g->pid = pid;
	g->state = GUEST_RUNNING;
	return pid;
}

static void negotiate(struct guest *g)
{
	call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_F_BALLOON, 0, 0);
}

static void poll_stats(struct guest *g, uint64_t active_ppm)
{
	struct vpv_balloon_stats st = { .total = RAM,
					.active_ppm = active_ppm };

	gpa_write(g, STATS_GPA, &st, sizeof(st));
	ok(call(g, VPV_HC_MEMORY_OP, VPV_MEMOP_POLL, STATS_GPA, 0, 0) >= 0,
	   "%s: POLL, claiming active_ppm %llu", g->name,
	   (unsigned long long)active_ppm);
}

static uint64_t target(struct guest *g)
{
	struct mem_guest_info mi;

	mem_guest_info(g, &mi);
	return mi.target_pages;
}

/* A tick that samples: queue the sample, wait for the worker, pick up. */
static void tick_wait(struct guest *g, uint64_t t)
{
	activity_guest_tick(g, t, 0);
	act_jobs_flush();
	activity_guest_tick(g, t, 0);
}

static void test_real(struct guest *liar, struct guest *other)
{
	uint64_t t = 1000;
	uint32_t ppm = 0;
	bool have;
	int st;

	start_child(liar);
	child_cmd('w');
	tick_wait(liar, t);
	ok(liar->act.primed && !activity_host_ppm(liar, &ppm),
	   "first tick opens the window, no figure yet");
	is(strcmp(activity_figure_source(liar, true),
		  "guest (first host sample pending)"), 0,
	   "until then the guest's figure stands in");
	memset(liar->ram, 7, RAM);		/* the stub's own accesses */
	child_cmd('q');
	tick_wait(liar, t + 1000);
	ok(!activity_host_ppm(liar, &ppm), "no sample before the period ends");
	t = liar->act.next_ms;	/* >= PERIOD_MS: longer if sampling is slow */
	tick_wait(liar, t);
	have = activity_host_ppm(liar, &ppm);
	ok(have && near_ppm(ppm, 250000, TOL_PPM),
	   "child touched 1/4 of RAM: host measures %u ppm", ppm);
	printf("# referenced %llu of %llu bytes, read + clear %llu us\n",
	       (unsigned long long)liar->act.last.referenced,
	       (unsigned long long)RAM,
	       (unsigned long long)liar->act.sample_us);

	t = liar->act.next_ms;	/* >= PERIOD_MS: longer if sampling is slow */
	tick_wait(liar, t);
	have = activity_host_ppm(liar, &ppm);
	ok(have && liar->act.est.last < 0.01 && near_ppm(ppm, 218750, TOL_PPM),
	   "idle period: last ~0, estimate decays slowly (%u ppm)", ppm);

	/* the lie: both claim f = 1; the host sees the liar ~22% active */
	negotiate(liar);
	negotiate(other);
	poll_stats(liar, ACT_PPM);
	poll_stats(other, ACT_PPM);
	mem_set_budget((2 * PAGES - 16384) << 12);	/* 64 MiB short */
	is(target(liar), 16384, "host figure: the lying idle guest is taxed");
	is(target(other), 0, "... and the busy one keeps its memory");
	is(strcmp(activity_figure_source(liar, true), "host"), 0,
	   "source: host");
	is(strcmp(activity_figure_source(other, true),
		  "guest (no QEMU to sample)"), 0, "no QEMU: guest figure");
	activity_configure(ACT_SOURCE_GUEST, 0);
	mem_policy_update();
	is(target(liar), 8192, "--activity guest: the lie splits evenly");
	is(strcmp(activity_figure_source(liar, true), "guest (configured)"),
	   0, "source: guest (configured)");
	activity_configure(ACT_SOURCE_HOST, 0);
	mem_set_budget(0);

	child_cmd('x');
	waitpid(liar->pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw its pages");
	tick_wait(liar, liar->act.next_ms);
	ok(liar->act.err == -ENOENT && liar->act.errors == 1 &&
	   !activity_host_ppm(liar, &ppm) &&
	   !strcmp(activity_figure_source(liar, true),
		   "guest (host sampling failed)"),
	   "sampling fails: counted, the guest's figure stands in");
	liar->state = GUEST_EXITED;
	tick_wait(liar, liar->act.next_ms);
	ok(!activity_host_ppm(liar, &ppm) && !liar->act.pid,
	   "QEMU gone: host figure dropped");
	liar->pid = -1;
	close(to_child[0]);
	close(to_child[1]);
	close(from_child[0]);
	close(from_child[1]);
}

int main(void)
{
	static struct guest ga, gb;

	test_estimator();
	test_parser();
	/*
	 * On tmpfs, where guest RAM belongs (host-stub.rst): on ext4 the
	 * stub's writes through its own mapping mark whole large folios
	 * referenced, which QEMU's smaps then counts.
	 */
	memcpy(test_dir, "/dev/shm/vpvt-XXXXXX", sizeof(test_dir));
	test_dir_make();
	test_guest(&ga, RAM, 1);
	test_guest(&gb, RAM, 1);
	test_real(&ga, &gb);
	guest_destroy(&ga);
	guest_destroy(&gb);
	test_dir_remove();
	return tap_done();
}
