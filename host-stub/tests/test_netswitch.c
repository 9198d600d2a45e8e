// SPDX-License-Identifier: GPL-2.0
/*
 * The vif switch: a real vpv-netswitch process (build-san/), started
 * and supervised by the core (src/devices/vswitch.c), with four ports
 * whose other ends the test holds, playing four vpv-netbacks: each
 * frame written on a port is one packet, a 10-byte virtio_net_hdr and
 * the frame.  Checked on what the ports read back: learning, unicast
 * to the learned port only, flooding of broadcast and unknown
 * destinations to every port but the source, never an echo, the
 * per-port MAC cap (least recently seen replaced), malformed frames
 * dropped and counted, a flooding port that cannot keep another
 * port's frames from arriving (a full destination drops and counts),
 * the sandbox, kill -9 and the restart with every port handed over
 * again, the stop with the last port (no fd, no process left).  Then
 * the control path: device add ... vif --switch, its errors, device
 * list and switch list, removal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/virtio_net.h>

#include "testutil.h"
#include "nsw_proto.h"
#include "netswitch.h"
#include "netback.h"

#define NP		4u	/* ports A B C D */
#define SW		"sw0"
#define QUIET_MS	150	/* nothing arrives: this long without */
#define WAIT_MS		5000

static struct guest gt;
static struct guest *g = &gt;
static struct bus_dev devs[NP];
static int end[NP];		/* the test's ends ("netback"s) */
static uint32_t pid_[NP];	/* the core's port ids */
static uint8_t mac[NP][6];	/* each port's guest */

static uint64_t ms(void)
{
	return bus_now_ms();
}

/* A frame from src to dst behind a zero header, marked with tag. */
static size_t frame(uint8_t *b, const uint8_t *dst, const uint8_t *src,
		    uint32_t tag, size_t len)
{
	memset(b, 0, len);
	memcpy(b + NSW_VNET_HDR, dst, 6);
	memcpy(b + NSW_VNET_HDR + 6, src, 6);
	b[NSW_VNET_HDR + 12] = 0x88;	/* local experimental ethertype */
	b[NSW_VNET_HDR + 13] = 0xb5;
	memcpy(b + NSW_VNET_HDR + 14, &tag, sizeof(tag));
	return len;
}

static bool tx(uint32_t p, const uint8_t *dst, const uint8_t *src,
	       uint32_t tag)
{
	uint8_t b[128];
	size_t n = frame(b, dst, src, tag, 74);

	return send(end[p], b, n, MSG_DONTWAIT) == (ssize_t)n;
}

/* The next packet on port p within wait ms: its tag, or -1. */
static long rx(uint32_t p, int wait)
{
	static uint8_t b[NSW_PKT_MAX + 1];
	struct pollfd pf = { end[p], POLLIN, 0 };
	uint32_t tag;
	ssize_t n;

	if (poll(&pf, 1, wait) != 1)
		return -1;
	n = recv(end[p], b, sizeof(b), MSG_DONTWAIT);
	if (n < NSW_VNET_HDR + 18)
		return -1;
	memcpy(&tag, b + NSW_VNET_HDR + 14, sizeof(tag));
	return tag;
}

static void drain(uint32_t p)
{
	while (rx(p, 20) >= 0)
		;
}

static void drain_all(void)
{
	uint32_t p;

	for (p = 0; p < NP; p++)
		drain(p);
}

/* Which ports got tag within WAIT_MS (a bit each), the others quiet. */
static unsigned int who(uint32_t tag)
{
	unsigned int got = 0;
	uint32_t p;
	long t;

	for (p = 0; p < NP; p++) {
		t = rx(p, QUIET_MS * 2);
		if (t == (long)tag)
			got |= 1u << p;
		else if (t >= 0)
			printf("# port %u: tag %ld, not %u\n", p, t, tag);
	}
	return got;
}

static struct nsw_port_stats stats(uint32_t p)
{
	struct nsw_port_stats st;

	memset(&st, 0, sizeof(st));
	vswitch_port_stats(SW, pid_[p], &st);
	return st;
}

/* A port's counter once it reaches want (PORT_STATS every 100 ms). */
#define STAT(p, field, want) ({						\
	uint64_t __end = ms() + 2000, __v;				\
	do {								\
		__v = stats(p).field;					\
		if (__v == (uint64_t)(want) || ms() > __end)		\
			break;						\
		usleep(5000);						\
	} while (1);							\
	__v; })

static void make_ports(void)
{
	int sv[2], ret, v = NSW_PORT_SNDBUF;
	uint32_t p;

	for (p = 0; p < NP; p++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
			       SOCK_CLOEXEC, 0, sv))
			BAIL("socketpair: %s", strerror(errno));
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v));
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v));
		end[p] = sv[0];
		devs[p].g = g;
		devs[p].domid = g->domid;
		devs[p].id = 100 + p;
		mac[p][0] = 0x02;
		mac[p][5] = 0xa0 + p;
		bus_enter();
		ret = vswitch_port_add(SW, sv[1], &devs[p], &pid_[p]);
		bus_leave();
		ok(!ret && pid_[p], "port %c on " SW ": id %u", 'A' + p,
		   pid_[p]);
	}
}

static void test_basic(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 1 };
	static const uint8_t unknown[6] = { 0x02, 0, 0, 0, 0, 0x77 };
	int pid, k;

	make_ports();
	pid = vswitch_pid(SW);
	ok(pid > 0, SW " has a vpv-netswitch process (pid %d)", pid);
	for (k = 0; k < 1000 && !seccomp_on(pid); k++)
		usleep(1000);
	ok(seccomp_on(pid), "its seccomp filter is active (Seccomp: 2)");
	/* A's broadcast: everyone else, never A */
	ok(tx(0, bcast, mac[0], 1), "A sends a broadcast");
	is(who(1), 0xe, "... B, C and D get it, A does not (no echo)");
	ok(tx(1, mac[0], mac[1], 2), "B sends to A's MAC (learned)");
	is(who(2), 0x1, "... only A gets it");
	ok(tx(0, unknown, mac[0], 3), "A sends to an unknown MAC");
	is(who(3), 0xe, "... flooded to B, C and D, not A");
	ok(tx(0, mac[1], mac[0], 4), "A sends to B's MAC");
	is(who(4), 0x2, "... only B gets it");
	ok(tx(2, mcast, mac[2], 5), "C sends to a multicast group");
	is(who(5), 0xb, "... flooded to A, B and D, not C");
	ok(tx(3, mac[2], mac[3], 6), "D sends to C");
	is(who(6), 0x4, "... only C gets it");
	/* a MAC that moved: C's now sends from B's port */
	ok(tx(1, mac[0], mac[2], 7), "C's MAC appears on B");
	is(who(7), 0x1, "... A gets that frame");
	ok(tx(0, mac[2], mac[0], 8), "A sends to C's MAC");
	is(who(8), 0x2, "... it goes to B now, where C's MAC moved");
	ok(tx(2, mac[1], mac[2], 9), "C's MAC back on C");
	is(who(9), 0x2, "... B gets that frame");
	/* a destination on the source's own port: dropped */
	ok(tx(1, mac[1], mac[3], 10), "D's MAC appears on B");
	drain_all();
	ok(tx(1, mac[3], mac[1], 11), "B sends to D's MAC, learned on B");
	is(who(11), 0, "... dropped, nobody gets it (not back to B)");
	ok(tx(3, mac[0], mac[3], 12), "D's MAC back on D");
	drain_all();
	/* tag 10 too: B's own MAC as its destination, from B */
	is(STAT(1, local, 2), 2, "B's 'local' counts both drops");
	is(STAT(0, in, 4), 4, "A's 'in' 4");
	is(STAT(0, unicast, 2), 2, "A's 'unicast' 2");
	is(STAT(0, flooded, 2), 2, "A's 'flooded' 2");
}

/* One bad packet on A; the next good one still switched. */
static void bad(uint8_t *b, size_t n, const char *what)
{
	ok(send(end[0], b, n, MSG_DONTWAIT) == (ssize_t)n, "A sends %s",
	   what);
}

static void test_malformed(void)
{
	static uint8_t b[NSW_PKT_MAX + 64];
	uint64_t bad0 = stats(0).bad;
	unsigned int n = 0;
	size_t len;

	len = frame(b, mac[1], mac[0], 20, 74);
	bad(b, NSW_VNET_HDR + 13, "a 13-byte frame"), n++;
	bad(b, 0, "an empty packet"), n++;
	b[0] = 0x4;			/* a flag virtio_net_hdr has not */
	bad(b, len, "an unknown header flag"), n++;
	b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	bad(b, len, "NEEDS_CSUM and DATA_VALID"), n++;
	b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	b[6] = 60;			/* csum_start 60 + 6 + 2 > 64 */
	b[8] = 6;
	bad(b, len, "a checksum past the frame"), n++;
	b[0] = 0;
	b[6] = 0;
	b[8] = 0;
	b[1] = VIRTIO_NET_HDR_GSO_TCPV4;	/* GSO without NEEDS_CSUM */
	b[4] = 0xa8;
	b[5] = 0x05;
	bad(b, len, "GSO without NEEDS_CSUM"), n++;
	b[1] = VIRTIO_NET_HDR_GSO_UDP;
	b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	b[6] = 34;
	b[8] = 6;
	bad(b, len, "GSO UDP"), n++;
	len = frame(b, mac[1], mac[0], 20, 74);
	b[NSW_VNET_HDR + 6] = 0x01;	/* a group source */
	bad(b, len, "a multicast source MAC"), n++;
	b[NSW_VNET_HDR + 6] = 0;
	b[NSW_VNET_HDR + 11] = 0;	/* 00:00:00:00:00:00 */
	bad(b, len, "a zero source MAC"), n++;
	len = frame(b, mac[1], mac[0], 20, 9000 + 18 + 1 + NSW_VNET_HDR);
	bad(b, len, "9019 bytes without GSO"), n++;
	len = frame(b, mac[1], mac[0], 20, sizeof(b));
	bad(b, len, "a packet past 64 KiB"), n++;
	is(who(20), 0, "none of them arrives anywhere");
	is(STAT(0, bad, bad0 + n) - bad0, n, "A's 'bad' counts each");
	ok(tx(0, mac[1], mac[0], 21), "then a good one");
	is(who(21), 0x2, "... reaches B");
	len = frame(b, mac[1], mac[0], 22, NSW_VNET_HDR + 65536);
	b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	b[1] = VIRTIO_NET_HDR_GSO_TCPV6;
	b[4] = 0x28;			/* gso_size 9000 */
	b[5] = 0x23;
	b[6] = 54;
	b[8] = 16;
	ok(send(end[0], b, len, MSG_DONTWAIT) == (ssize_t)len,
	   "A sends a 64 KiB GSO TCPv6 frame");
	is(who(22), 0x2, "... B gets it whole, its header as sent");
}

static void test_mac_cap(void)
{
	uint8_t m[6] = { 0x02, 0xcc, 0, 0, 0, 0 };
	uint32_t i;

	drain_all();
	for (i = 0; i < NSW_MACS_PER_PORT + 4; i++) {
		m[5] = i;
		tx(3, mac[0], m, 30);
		usleep(2000);	/* seen in this order */
	}
	drain_all();
	/* D's own MAC was the least recently seen: evicted too */
	is(STAT(3, macs, NSW_MACS_PER_PORT), NSW_MACS_PER_PORT,
	   "D holds 16 MACs after 21 sources (the cap)");
	is(STAT(3, mac_evicted, 5), 5,
	   "... the 5 least recently seen replaced (mac_evicted)");
	m[5] = NSW_MACS_PER_PORT + 3;
	ok(tx(0, m, mac[0], 31), "A sends to D's newest MAC");
	is(who(31), 0x8, "... only D gets it");
	m[5] = 0;
	ok(tx(0, m, mac[0], 32), "A sends to D's first MAC (evicted)");
	is(who(32), 0xe, "... flooded: no longer learned");
	ok(tx(1, mac[0], mac[1], 33), "the other ports' MACs stay: B to A");
	is(who(33), 0x1, "... only A gets it");
	ok(tx(3, mac[0], mac[3], 34), "D's own MAC again");
	drain_all();
}

static bool flooding;		/* __atomic: the flooder thread reads it */
static uint64_t flood_sent;

/*
 * Port A floods frames to D's MAC as fast as its queue takes them; D
 * never reads, so its queue stays full and the switch drops there.
 */
static void *flooder(void *arg)
{
	uint8_t b[1600];
	size_t n = frame(b, mac[3], mac[0], 40, 1514 + NSW_VNET_HDR);

	(void)arg;
	while (__atomic_load_n(&flooding, __ATOMIC_RELAXED)) {
		if (send(end[0], b, n, MSG_DONTWAIT) == (ssize_t)n)
			flood_sent++;
		else
			sched_yield();
	}
	return NULL;
}

/*
 * Fairness: while A floods, B's 100 frames to C are all switched.  The
 * flood goes to D, not C: C's queue (512 KiB) holds B's 100 frames
 * whatever the test's own scheduling, so a loss can only be the
 * switch's (a queue shared with a flood fills as fast as the flood:
 * that is the receiver's to drain, not the switch's to arbitrate).
 */
static void test_fairness(void)
{
	uint64_t in0 = stats(0).in, drop0 = stats(3).dropped;
	uint32_t i, got = 0, lost = 0;
	pthread_t th;
	long tag;

	drain_all();
	__atomic_store_n(&flooding, true, __ATOMIC_RELAXED);
	if (pthread_create(&th, NULL, flooder, NULL))
		BAIL("pthread_create");
	usleep(200000);		/* the flood is on */
	for (i = 0; i < 100; i++) {
		if (!tx(1, mac[2], mac[1], 1000 + i))
			lost++;
		usleep(2000);
	}
	usleep(200000);
	__atomic_store_n(&flooding, false, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	while ((tag = rx(2, 200)) >= 0)
		got += tag >= 1000 && tag < 1100;
	printf("# A flooded %llu frames meanwhile\n",
	       (unsigned long long)flood_sent);
	is(lost, 0, "B's 100 frames to C all sent during A's flood");
	is(got, 100, "... C got all 100 (A cannot starve B)");
	usleep(2 * NSW_STATS_MS * 1000);	/* its last counters */
	ok(stats(0).in - in0 > 1000, "A's flood went through the switch (%llu)",
	   (unsigned long long)(stats(0).in - in0));
	ok(stats(3).dropped > drop0,
	   "D, which never reads, had its queue fill: 'dropped' %llu",
	   (unsigned long long)(stats(3).dropped - drop0));
	drain_all();
}

/*
 * The round robin itself: with the switch stopped (SIGSTOP), A queues
 * 300 frames for C, then B one; once it runs on, B's frame must reach
 * C among the first two rounds' (NSW_BUDGET from each port a round),
 * not after A's 300: a port's backlog does not keep another waiting.
 */
static void test_fair_order(void)
{
	int pid = vswitch_pid(SW);
	uint32_t i, pos = 0, n = 0;
	long tag;

	drain_all();
	ok(pid > 0 && !kill(pid, SIGSTOP), "the switch stopped (SIGSTOP)");
	usleep(50000);
	for (i = 0; i < 300; i++)
		n += tx(0, mac[2], mac[0], 2000 + i);
	ok(n == 300 && tx(1, mac[2], mac[1], 3000),
	   "A queues 300 frames for C, then B one");
	ok(!kill(pid, SIGCONT), "the switch goes on (SIGCONT)");
	for (i = 0; (tag = rx(2, 500)) >= 0; i++)
		if (tag == 3000)
			pos = i + 1;
	is(i, 301, "C gets all 301");
	ok(pos >= 1 && pos <= 2 * NSW_BUDGET + 1,
	   "B's frame is number %u at C: within the first two rounds", pos);
}

static int wait_new_pid(int old)
{
	uint64_t end_ms = ms() + WAIT_MS;
	int pid;

	while (ms() < end_ms) {
		pid = vswitch_pid(SW);
		if (pid > 0 && pid != old)
			return pid;
		usleep(1000);
	}
	return 0;
}

static void test_kill(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct sbuf out;
	int pid, k, npid;

	for (k = 0; k < 3; k++) {
		pid = vswitch_pid(SW);
		ok(vswitch_kill(SW) == pid, "kill -9 #%d of vpv-netswitch (pid %d)",
		   k + 1, pid);
		npid = wait_new_pid(pid);
		ok(npid > 0, "... a new process (pid %d)", npid);
		ok(tx(0, bcast, mac[0], 50 + k), "... A broadcasts");
		is(who(50 + k), 0xe, "... B, C and D get it: every port handed over");
		ok(tx(2, mac[0], mac[2], 60 + k), "... C to A");
		is(who(60 + k), 0x1, "... only A: learned again");
	}
	sb_init(&out);
	vswitch_json(&out);
	ok(out.buf && strstr(out.buf, "\"crashes\":3") &&
	   strstr(out.buf, "\"state\":\"running\""),
	   "switch list: running, 3 crashes");
	printf("# %.400s\n", out.buf ? out.buf : "");
	sb_free(&out);
}

/*
 * Crashes past --backend-max-crashes (5 within 10 s by default): the
 * switch is failed, frames wait in the ports' queues; a new port
 * starts it again with a clean history, and the queued frames go.
 */
static void test_failed(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct bus_dev dev_e = { .g = g, .id = 200 };
	int k, pid, sv[2], ret;
	uint32_t port_e = 0;
	struct sbuf out;

	for (k = 0; k < 10; k++) {
		pid = vswitch_pid(SW);
		if (pid <= 0 || vswitch_kill(SW) != pid)
			break;
		if (!wait_new_pid(pid))
			break;		/* none came: failed */
	}
	is(vswitch_pid(SW), 0, "killed until failed: no process");
	sb_init(&out);
	vswitch_json(&out);
	ok(out.buf && strstr(out.buf, "\"state\":\"failed\""),
	   "switch list: failed");
	sb_free(&out);
	ok(tx(0, bcast, mac[0], 70), "A broadcasts meanwhile");
	is(who(70), 0, "... nobody gets it while the switch is failed");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv))
		BAIL("socketpair: %s", strerror(errno));
	dev_e.domid = g->domid;
	bus_enter();
	ret = vswitch_port_add(SW, sv[1], &dev_e, &port_e);
	bus_leave();
	ok(!ret, "a fifth port added");
	pid = wait_new_pid(0);
	ok(pid > 0, "... the switch runs again (pid %d)", pid);
	is(who(70), 0xe, "... A's queued broadcast reaches B, C and D");
	bus_enter();
	vswitch_port_remove(SW, port_e);
	bus_leave();
	close(sv[0]);
	ok(vswitch_pid(SW) == pid, "the fifth port removed: it runs on");
}

static void test_stop(void)
{
	uint32_t p;
	int pid = vswitch_pid(SW);

	for (p = 0; p < NP; p++) {
		bus_enter();
		vswitch_port_remove(SW, pid_[p]);
		bus_leave();
		if (p + 1 < NP)
			ok(vswitch_pid(SW) == pid, "port %c removed: the switch runs on",
			   'A' + p);
		close(end[p]);
	}
	is(vswitch_pid(SW), -ENOENT, "the last port removed: the switch is gone");
	ok(kill(pid, 0) < 0 && errno == ESRCH, "... its process reaped");
	is(vswitch_nr_fds(), 0, "... no fd of it left in the core");
}

static bool has(const char *s, const char *what)
{
	return strstr(s, what);
}

static char *ctl_line(const char *line)
{
	static char reply[8192];
	struct host h = { .guests = g, .nr_guests = 1 };
	struct sbuf out;

	sb_init(&out);
	ctl_handle_line(&h, line, strlen(line), &out);
	snprintf(reply, sizeof(reply), "%s", out.buf ? out.buf : "");
	sb_free(&out);
	return reply;
}

static char *add_vif(uint32_t id, const char *opts)
{
	char line[256];

	snprintf(line, sizeof(line), "device add %.32s vif %u %.64s", g->name,
		 id, opts);
	return ctl_line(line);
}

static void test_ctl(void)
{
	char *r;
	int pid;

	r = add_vif(1, "--switch sw1");
	ok(has(r, "\"switch\":\"sw1\""),
	   "device add vif 1 --switch sw1: \"switch\":\"sw1\"");
	pid = vswitch_pid("sw1");
	ok(pid > 0, "... sw1's vpv-netswitch runs (pid %d)", pid);
	ok(beproc_pid("vif", g->domid, 1) > 0, "... vif 1's vpv-netback runs");
	r = add_vif(2, "--switch sw1 --mtu 9000");
	ok(has(r, "\"device\""), "vif 2 on sw1 too");
	r = ctl_line("switch list");
	ok(has(r, "\"name\":\"sw1\"") && has(r, "\"id\":1,") &&
	   has(r, "\"id\":2,"), "switch list: sw1 with vif 1 and vif 2");
	r = add_vif(3, "--switch bad.name");
	ok(has(r, "bad --switch"), "a bad switch name: %s", r);
	r = add_vif(3, "--switch sw1 --tap vpvx0");
	ok(has(r, "not both"), "--tap and --switch: %s", r);
	r = add_vif(3, "--switch 0123456789abcdef");
	ok(has(r, "bad --switch"), "a 16-character name refused");
	ok(has(ctl_line("device list"), "\"switch\":\"sw1\""),
	   "device list shows the switch");
	ok(has(ctl_line("switch kill nosuch"), "error"),
	   "switch kill of no such switch: an error");
	bus_device_remove(g, "vif", 1);
	ok(vswitch_pid("sw1") == pid, "vif 1 removed: sw1 runs on for vif 2");
	bus_device_remove(g, "vif", 2);
	is(vswitch_pid("sw1"), -ENOENT, "vif 2 removed: sw1 is gone");
	r = ctl_line("switch list");
	ok(has(r, "{\"switches\":[]}"), "switch list: none");
	usleep(100000);
	is(beproc_nr_fds(), 0, "no back-end fd left");
	is(vswitch_nr_fds(), 0, "no switch fd left");
}

/* ---- vpv-netback's software segmentation (net_gso_segment()) ---- */

static uint8_t segs[64][9100];
static uint32_t seglen[64], nsegs;

static void seg_emit(void *ctx, const uint8_t *b, uint32_t len)
{
	(void)ctx;
	if (nsegs < 64 && len <= sizeof(segs[0])) {
		memcpy(segs[nsegs], b, len);
		seglen[nsegs] = len;
	}
	nsegs++;
}

static uint32_t csum_add(const uint8_t *p, uint32_t len, uint32_t s)
{
	uint32_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < len)
		s += (uint32_t)p[i] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return be16(p) << 16 | be16(p + 2);
}

/* A TCP frame of plen payload bytes (v4 or v6), flags FIN PSH ACK CWR */
static uint32_t gso_frame(uint8_t *f, bool v4, uint32_t plen)
{
	uint32_t l4 = v4 ? 34 : 54, i;

	memset(f, 0, l4 + 20 + plen);
	memcpy(f, mac[1], 6);
	memcpy(f + 6, mac[0], 6);
	f[12] = v4 ? 0x08 : 0x86;
	f[13] = v4 ? 0x00 : 0xdd;
	if (v4) {
		f[14] = 0x45;
		f[18] = 0x12;		/* id 0x1234 */
		f[19] = 0x34;
		f[22] = 64;
		f[23] = 6;
		memcpy(f + 26, "\x0a\x4e\x00\x01\x0a\x4e\x00\x02", 8);
	} else {
		f[14] = 0x60;
		f[20] = 6;
		f[21] = 64;
		f[22] = 0xfd;
		f[23 + 15] = 1;
		f[38] = 0xfd;
		f[38 + 15] = 2;
	}
	f[l4] = 0x17;			/* ports 6000 -> 6001 */
	f[l4 + 1] = 0x70;
	f[l4 + 2] = 0x17;
	f[l4 + 3] = 0x71;
	f[l4 + 4] = 0xff;		/* seq 0xfffffc00: it wraps */
	f[l4 + 5] = 0xff;
	f[l4 + 6] = 0xfc;
	f[l4 + 12] = 5 << 4;
	f[l4 + 13] = 0x80 | 0x10 | 0x08 | 0x01;	/* CWR ACK PSH FIN */
	for (i = 0; i < plen; i++)
		f[l4 + 20 + i] = (uint8_t)(i * 7 + 3);
	return l4 + 20 + plen;
}

static bool segs_ok(const uint8_t *f, bool v4, uint32_t plen, uint16_t mss)
{
	uint32_t l3 = 14, l4 = v4 ? 34 : 54, hl = l4 + 20, k, off = 0, n, s;

	if (nsegs != (plen + mss - 1) / mss)
		return false;
	for (k = 0; k < nsegs; k++) {
		const uint8_t *sg = segs[k];
		bool first = !k, last = k + 1 == nsegs;

		n = plen - off < mss ? plen - off : mss;
		if (seglen[k] != hl + n || memcmp(sg + hl, f + hl + off, n) ||
		    memcmp(sg, f, 14))
			return false;
		if (v4 && (be16(sg + l3 + 2) != hl + n - l3 ||
			   be16(sg + l3 + 4) != ((0x1234 + k) & 0xffff) ||
			   csum_add(sg + l3, 20, 0) != 0xffff))
			return false;
		if (!v4 && be16(sg + l3 + 4) != 20 + n)
			return false;
		if (be32(sg + l4 + 4) != 0xfffffc00u + off)
			return false;
		if (!!(sg[l4 + 13] & 0x09) != last ||
		    !!(sg[l4 + 13] & 0x80) != first ||
		    !(sg[l4 + 13] & 0x10))
			return false;
		s = v4 ? csum_add(sg + l3 + 12, 8, 0) : csum_add(sg + l3 + 8, 32, 0);
		s = csum_add(sg + l4, 20 + n, s + 6 + 20 + n);
		if (s != 0xffff)
			return false;
		off += n;
	}
	return true;
}

static void test_soft_gso(void)
{
	static uint8_t f[70000];
	uint32_t len;

	len = gso_frame(f, true, 5000);
	nsegs = 0;
	is(net_gso_segment(f, len, VPV_NETIF_GSO_TCPV4, 1448, seg_emit, NULL),
	   4, "net_gso_segment: 5000 bytes of TCPv4 at 1448: 4 segments");
	ok(segs_ok(f, true, 5000, 1448),
	   "... lengths, IP ids and checksums, sequence numbers (wrapping), FIN/PSH last, CWR first, TCP checksums, the bytes");
	len = gso_frame(f, false, 65000);
	nsegs = 0;
	is(net_gso_segment(f, len, VPV_NETIF_GSO_TCPV6, 8940, seg_emit, NULL),
	   8, "65000 bytes of TCPv6 at 8940 (MTU 9000): 8 segments");
	ok(segs_ok(f, false, 65000, 8940), "... each right");
	nsegs = 0;
	is(net_gso_segment(f, len, VPV_NETIF_GSO_TCPV4, 8940, seg_emit, NULL),
	   -EINVAL, "an IPv6 frame called TCPv4: refused");
	len = gso_frame(f, true, 100);
	f[23] = 17;
	is(net_gso_segment(f, len, VPV_NETIF_GSO_TCPV4, 48, seg_emit, NULL),
	   -EINVAL, "UDP: refused");
	f[23] = 6;
	f[14] = 0x4f;		/* a 60-byte IP header: past the frame's TCP */
	is(net_gso_segment(f, 14 + 60 + 10, VPV_NETIF_GSO_TCPV4, 48, seg_emit,
			   NULL), -EINVAL, "headers past the frame: refused");
	f[14] = 0x45;
	is(net_gso_segment(f, 54, VPV_NETIF_GSO_TCPV4, 48, seg_emit, NULL),
	   -EINVAL, "no payload: refused");
	len = gso_frame(f, true, 5000);
	is(net_gso_segment(f, len, VPV_NETIF_GSO_TCPV4, 47, seg_emit, NULL),
	   -EINVAL, "gso_size 47: refused (the segment count bound)");
	is(nsegs, 0, "... nothing emitted for any of them");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_guest(g, 32 << 20, 1);
	call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	split_init();
	test_basic();
	test_malformed();
	test_mac_cap();
	test_fairness();
	test_fair_order();
	test_kill();
	test_failed();
	test_stop();
	test_ctl();
	test_soft_gso();
	guest_destroy(g);
	return tap_done();
}
