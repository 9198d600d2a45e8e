// SPDX-License-Identifier: GPL-2.0
/*
 * The vif back-end (backend/netback.c) in-process (be_inproc.c), with a
 * front-end played here over a test guest's RAM, against a real tap:
 * the test first moves into a network namespace of its own
 * (unshare(CLONE_NEWNET): nothing it does leaves it), makes the tap
 * vpvt0 there with the address 10.77.0.1/24 and a static neighbour
 * entry for the guest's 10.77.0.2, and checks what the host kernel
 * sees: UDP datagrams put on the TX ring (one slot, several slots,
 * CSUM_BLANK) arrive on a UDP socket with their payload and a checksum
 * that holds; a GSO TCP packet is taken by the tap as one; a datagram
 * sent to the guest arrives in its RX buffers with the right bytes,
 * checksum state and slots; every TX validation class gets its status
 * and counter and the device serves on; the connect refusals; the RX
 * backlog's bounds with no buffer posted; the control path (device
 * add ... vif and its errors, list and stats).  test_netproc runs the
 * same against the sandboxed vpv-netback process, and kills it.
 * Skipped (1..0) when not root.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "testutil.h"
#include "vpv_netif.h"
#include "belib.h"
#include "netback.h"

#define TAP0		"vpvt0"		/* made here, persistent */
#define TAP1		"vpvt1"		/* made by vpv-host at add */
#define HOST_IP		0x0a4d0001u	/* 10.77.0.1, the tap's */
#define GUEST_IP	0x0a4d0002u	/* 10.77.0.2, the guest's */
#define UDP_PORT	7777		/* the host's socket */
#define GUEST_PORT	8888
#define TCP_PORT	7778		/* the host's listening socket */
/* the devices' --mac, the guest's neighbour entry on the host */
#define GUEST_MAC	"02:00:0a:4d:00:02"
#define MAC_OPT		" --mac " GUEST_MAC

#define RING_PFN	0x100ull	/* device id: 16 pages from +16 id */
#define TXD_PFN		0x400ull	/* TX frames, one per ref */
#define RXB_PFN		0x800ull	/* RX buffers, one per ref */
#define REF_RING	16u		/* ring refs: REF_RING + 16 id + p */
#define REF_TXD		256u		/* TX frame refs: REF_TXD + i */
#define REF_RXB		1024u		/* RX buffer refs: REF_RXB + i */
#define NTXD		64u
#define NRXB		512u
#define WAIT_MS		10000

struct fe {
	uint32_t id, order, port;
	char be[96], fe[96];
	struct vpv_netif_tx_sring *txs;
	struct vpv_netif_rx_sring *rxs;
	struct vpv_front_ring tx, rx;
	uint8_t mac[6];
	uint16_t txid;		/* next TX slot id */
	uint32_t rxb;		/* next RX buffer (id and index) */
};

static struct guest gt;
static struct guest *g = &gt;
static uint8_t tap_mac[6];
static const uint8_t guest_mac[6] = { 0x02, 0x00, 0x0a, 0x4d, 0x00, 0x02 };
static int usock = -1;		/* the host's UDP socket, 10.77.0.1:7777 */
static int psock = -1;		/* AF_PACKET on vpvt0, with vnet headers */

static uint64_t ms(void)
{
	return bus_now_ms();
}

static uint8_t *txd(uint32_t i)
{
	return g->ram + (TXD_PFN + i) * 4096;
}

static uint8_t *rxb(uint32_t i)
{
	return g->ram + (RXB_PFN + i) * 4096;
}

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

/* ---- the netns, the tap, checksums ---- */

static int ifreq_ioctl(unsigned long req, const char *name, struct ifreq *r)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	snprintf(r->ifr_name, sizeof(r->ifr_name), "%s", name);
	ret = ioctl(s, req, r);
	close(s);
	return ret;
}

static int tap_mtu(const char *name)
{
	struct ifreq r;

	memset(&r, 0, sizeof(r));
	return ifreq_ioctl(SIOCGIFMTU, name, &r) ? -1 : r.ifr_mtu;
}

static bool tap_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

static void set_addr(struct ifreq *r, uint32_t ip)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&r->ifr_addr;

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(ip);
}

/*
 * The netns: lo up, no IPv6 (no router solicitations on the tap), the
 * persistent tap vpvt0 up with 10.77.0.1/24, the guest's address as a
 * permanent neighbour (no ARP), the two sockets.
 */
static bool netns_setup(void)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET };
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct arpreq ar;
	struct ifreq r;
	int fd, one = 1, s;

	if (unshare(CLONE_NEWNET))
		return false;
	fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			printf("# IPv6 stays on\n");
		close(fd);
	}
	memset(&r, 0, sizeof(r));
	r.ifr_flags = IFF_UP;
	if (ifreq_ioctl(SIOCSIFFLAGS, "lo", &r))
		BAIL("lo up: %s", strerror(errno));
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	memset(&r, 0, sizeof(r));
	snprintf(r.ifr_name, sizeof(r.ifr_name), TAP0);
	r.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (fd < 0 || ioctl(fd, TUNSETIFF, &r) || ioctl(fd, TUNSETPERSIST, 1))
		BAIL("tap " TAP0 ": %s", strerror(errno));
	close(fd);
	memset(&r, 0, sizeof(r));
	set_addr(&r, HOST_IP);
	if (ifreq_ioctl(SIOCSIFADDR, TAP0, &r))
		BAIL("address: %s", strerror(errno));
	set_addr(&r, 0xffffff00u);
	if (ifreq_ioctl(SIOCSIFNETMASK, TAP0, &r))
		BAIL("netmask: %s", strerror(errno));
	memset(&r, 0, sizeof(r));
	r.ifr_flags = IFF_UP;
	if (ifreq_ioctl(SIOCSIFFLAGS, TAP0, &r) ||
	    ifreq_ioctl(SIOCGIFHWADDR, TAP0, &r))
		BAIL("tap up: %s", strerror(errno));
	memcpy(tap_mac, r.ifr_hwaddr.sa_data, 6);
	memset(&ar, 0, sizeof(ar));
	((struct sockaddr_in *)&ar.arp_pa)->sin_family = AF_INET;
	((struct sockaddr_in *)&ar.arp_pa)->sin_addr.s_addr = htonl(GUEST_IP);
	ar.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(ar.arp_ha.sa_data, guest_mac, 6);
	ar.arp_flags = ATF_PERM | ATF_COM;
	snprintf(ar.arp_dev, sizeof(ar.arp_dev), TAP0);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ioctl(s, SIOCSARP, &ar))
		BAIL("neighbour: %s", strerror(errno));
	close(s);
	usock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	a.sin_addr.s_addr = htonl(HOST_IP);
	a.sin_port = htons(UDP_PORT);
	if (bind(usock, (struct sockaddr *)&a, sizeof(a)))
		BAIL("udp bind: %s", strerror(errno));
	psock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       htons(ETH_P_ALL));
	ll.sll_protocol = htons(ETH_P_ALL);
	ll.sll_ifindex = if_nametoindex(TAP0);
	if (psock < 0 ||
	    setsockopt(psock, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) ||
	    setsockopt(psock, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
		       sizeof(one)) ||
	    bind(psock, (struct sockaddr *)&ll, sizeof(ll)))
		BAIL("packet socket: %s", strerror(errno));
	return true;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (i < len)
		s += (uint32_t)p[i] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* The IPv4 pseudo header's sum for proto and l4len bytes. */
static uint32_t pseudo(const uint8_t *ip, uint8_t proto, uint32_t l4len)
{
	return sum16(ip + 12, 8, 0) + proto + l4len;
}

/* Ethernet + IPv4 (DF) header for l4len bytes of proto: 34 bytes. */
static void eth_ip(uint8_t *b, const uint8_t *dmac, const uint8_t *smac,
		   uint32_t sip, uint32_t dip, uint8_t proto, uint32_t l4len)
{
	uint8_t *ip = b + 14;

	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, 20 + l4len);
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, sip);
	put32(ip + 16, dip);
	put16(ip + 10, ~fold(sum16(ip, 20, 0)));
}

/*
 * A UDP frame from the guest to the host's socket, payload byte k =
 * seed + k: its checksum filled (partial: the pseudo header's sum
 * only, as Linux leaves CHECKSUM_PARTIAL).  Its length.
 */
static uint32_t udp_frame(uint8_t *b, uint32_t plen, uint8_t seed,
			  bool partial)
{
	uint8_t *u = b + 34;
	uint32_t k;

	eth_ip(b, tap_mac, guest_mac, GUEST_IP, HOST_IP, 17, 8 + plen);
	put16(u, GUEST_PORT);
	put16(u + 2, UDP_PORT);
	put16(u + 4, 8 + plen);
	put16(u + 6, 0);
	for (k = 0; k < plen; k++)
		u[8 + k] = (uint8_t)(seed + k);
	if (partial)
		put16(u + 6, fold(pseudo(b + 14, 17, 8 + plen)));
	else
		put16(u + 6, ~fold(sum16(u, 8 + plen,
					 pseudo(b + 14, 17, 8 + plen))) ?:
		      0xffff);
	return 42 + plen;
}

/* Whether the UDP (or TCP) checksum of frame f, l4 at 34, holds. */
static bool l4_csum_ok(const uint8_t *f, uint32_t len, uint8_t proto)
{
	return len >= 42 && fold(sum16(f + 34, len - 34, pseudo(f + 14, proto,
						   len - 34))) == 0xffff;
}

/* One datagram on the host's socket within WAIT_MS: its length or -1. */
static int udp_recv(uint8_t *buf, size_t size)
{
	uint64_t end = ms() + WAIT_MS;
	ssize_t n;

	while (ms() < end) {
		n = recv(usock, buf, size, 0);
		if (n >= 0)
			return (int)n;
		usleep(200);
	}
	return -1;
}

static void udp_drain(void)
{
	uint8_t b[9000];

	while (recv(usock, b, sizeof(b), 0) >= 0)
		;
	while (recv(psock, b, sizeof(b), 0) >= 0)
		;
}

/*
 * The next frame the tap took in from the guest (the packet socket),
 * with its vnet header, within WAIT_MS: its length, or -1.
 */
static int tap_seen(struct virtio_net_hdr *h, uint8_t *frame, size_t size)
{
	static uint8_t b[70000];
	uint64_t end = ms() + WAIT_MS;
	ssize_t n;

	while (ms() < end) {
		n = recv(psock, b, sizeof(b), 0);
		if (n >= (ssize_t)sizeof(*h) + 14 &&
		    !memcmp(b + sizeof(*h) + 6, guest_mac, 6)) {
			memcpy(h, b, sizeof(*h));
			n -= sizeof(*h);
			memcpy(frame, b + sizeof(*h),
			       (size_t)n < size ? (size_t)n : size);
			return (int)n;
		}
		if (n < 0)
			usleep(200);
	}
	return -1;
}

/* ---- the device ---- */

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

static char *dev_add(uint32_t id, const char *opts)
{
	char line[VPV_CTL_MAX_REQ];

	snprintf(line, sizeof(line), "device add %.32s vif %u %.200s",
		 g->name, id, opts);
	return ctl_line(line);
}

static long be_key(struct fe *f, const char *key, char *out, size_t size)
{
	char p[160], *v;
	uint32_t len;
	long x;

	snprintf(p, sizeof(p), "%s/%s", f->be, key);
	if (store_read(STORE_DOMID_HOST, 0, p, &v, &len))
		return -1;
	if (out)
		snprintf(out, size, "%.*s", (int)len, v);
	x = atol(v);
	free(v);
	return x;
}

static void be_write(struct fe *f, const char *key, const char *val)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", f->be, key);
	store_write(STORE_DOMID_HOST, 0, p, val, strlen(val));
}

static void fe_write(struct fe *f, const char *key, const char *fmt,
		     unsigned long v)
{
	char p[160], val[32];

	snprintf(p, sizeof(p), "%s/%s", f->fe, key);
	snprintf(val, sizeof(val), fmt, v);
	if (store_write(g->domid, 0, p, val, strlen(val)))
		BAIL("front-end write %s", key);
}

static void fe_write_str(struct fe *f, const char *key, const char *val)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", f->fe, key);
	if (store_write(g->domid, 0, p, val, strlen(val)))
		BAIL("front-end write %s", key);
}

static void fe_rm(struct fe *f, const char *key)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", f->fe, key);
	store_rm(g->domid, 0, p);
}

static void fe_init(struct fe *f, uint32_t id)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	snprintf(f->be, sizeof(f->be), "/local/domain/0/backend/vif/%u/%u",
		 g->domid, id);
	snprintf(f->fe, sizeof(f->fe), "/local/domain/%u/device/vif/%u",
		 g->domid, id);
	memcpy(f->mac, guest_mac, 6);	/* MAC_OPT */
}

/* device add GUEST vif id opts: the reply has "device" */
static bool fe_add(struct fe *f, uint32_t id, const char *opts)
{
	char *r;

	fe_init(f, id);
	r = dev_add(id, opts);
	if (!strstr(r, "\"device\""))
		printf("# %s\n", r);
	return strstr(r, "\"device\"");
}

/* Is vif id still on the bus (its remove not finished)? */
static bool dev_listed(uint32_t id)
{
	static struct bus_dev_info list[64];
	size_t n, i;

	n = bus_device_list(g->domid, list, 64);
	for (i = 0; i < n && i < 64; i++)
		if (!strcmp(list[i].type, "vif") && list[i].id == id)
			return true;
	return false;
}

/*
 * Remove vif f->id and wait (WAIT_MS) until the bus has finished it:
 * the bus does that on the front-end's Closed watch, in its own
 * thread, and only then is the process gone and the tap free for the
 * next device on it ("tap vpvt0 busy" in a CI run otherwise).
 */
static void fe_del(struct fe *f)
{
	uint64_t end;

	bus_device_remove(g, "vif", f->id);
	fe_write(f, "state", "%lu", VPV_BUS_CLOSED);
	for (end = ms() + WAIT_MS; dev_listed(f->id) && ms() < end;)
		usleep(1000);
}

/* The RX features the front-end takes (its feature-* keys). */
enum { F_SG = 1, F_CSUM = 2, F_GSO4 = 4, F_GSO6 = 8, F_ALL = 15 };

/* Rings of 2^order pages and every key (not the state). */
static void fe_keys(struct fe *f, uint32_t order, unsigned int feat)
{
	uint32_t p, n = 1u << order;
	uint64_t txp = RING_PFN + 16 * f->id, rxp = txp + 4;
	char key[32];

	f->order = order;
	f->txs = (void *)(g->ram + txp * 4096);
	f->rxs = (void *)(g->ram + rxp * 4096);
	memset(f->txs, 0, n * 4096);
	memset(f->rxs, 0, n * 4096);
	vpv_ring_init_shared(&f->txs->hdr);
	vpv_ring_init_shared(&f->rxs->hdr);
	vpv_front_ring_init(&f->tx, &f->txs->hdr,
			    VPV_RING_ENTRIES(16, n * 4096));
	vpv_front_ring_init(&f->rx, &f->rxs->hdr,
			    VPV_RING_ENTRIES(16, n * 4096));
	for (p = 0; p < n; p++) {
		test_grant(g, REF_RING + 16 * f->id + p, txp + p,
			   VPV_GTF_PERMIT_ACCESS);
		test_grant(g, REF_RING + 16 * f->id + 4 + p, rxp + p,
			   VPV_GTF_PERMIT_ACCESS);
		snprintf(key, sizeof(key), "q0-tx-ring-ref%u", p);
		fe_write(f, key, "%lu", REF_RING + 16 * f->id + p);
		snprintf(key, sizeof(key), "q0-rx-ring-ref%u", p);
		fe_write(f, key, "%lu", REF_RING + 16 * f->id + 4 + p);
	}
	if (!f->port)
		f->port = call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC,
			       VPV_DOMID_HOST, 0, 0);
	f->rxb = 0;
	fe_write(f, "multi-queue-num-queues", "%lu", 1);
	fe_write(f, "ring-page-order", "%lu", order);
	fe_write(f, "q0-event-channel", "%lu", f->port);
	fe_write(f, "request-rx-copy", "%lu", 1);
	fe_write(f, "feature-sg", "%lu", !!(feat & F_SG));
	fe_write(f, "feature-csum", "%lu", !!(feat & F_CSUM));
	fe_write(f, "feature-gso-tcpv4", "%lu", !!(feat & F_GSO4));
	fe_write(f, "feature-gso-tcpv6", "%lu", !!(feat & F_GSO6));
}

/* Rings of 2^order pages, every key, state Initialised. */
static void fe_initialise(struct fe *f, uint32_t order, unsigned int feat)
{
	fe_keys(f, order, feat);
	fe_write(f, "state", "%lu", VPV_BUS_INITIALISED);
}

static bool fe_connect(struct fe *f, uint32_t order, unsigned int feat)
{
	fe_initialise(f, order, feat);
	return wait_state(f->be, VPV_BUS_CONNECTED);
}

static void fe_close(struct fe *f)
{
	fe_write(f, "state", "%lu", VPV_BUS_CLOSED);
	fe_write(f, "state", "%lu", VPV_BUS_INITIALISING);
	wait_state(f->be, VPV_BUS_INITWAIT);
}

static struct bus_dev_info *info_of(uint32_t id)
{
	static struct bus_dev_info list[16];
	size_t n, i;

	n = bus_device_list(g->domid, list, 16);
	for (i = 0; i < n && i < 16; i++)
		if (list[i].id == id && !strcmp(list[i].type, "vif"))
			return &list[i];
	return NULL;
}

/*
 * A counter of the device once it reaches want (a process reports
 * within BE_STATS_MS), or as it is after a while.
 */
#define NET_STAT(id, field, want) ({					\
	uint64_t __end = ms() + 2000, __v = 0;				\
	struct bus_dev_info *__i;					\
	do {								\
		__i = info_of(id);					\
		__v = __i ? __i->net.field : ~0ull;			\
		if (__v == (uint64_t)(want) || ms() > __end)		\
			break;						\
		usleep(1000);						\
	} while (1);							\
	__v; })

/* Push both rings, notify, run the host's re-kicks (be_again). */
static void kick(struct fe *f)
{
	int i;

	vpv_front_push_requests(&f->tx);
	vpv_front_push_requests(&f->rx);
	call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, f->port, 0, 0);
	for (i = 0; i < 64; i++)
		evtchn_from_guest(g);
}

/* What the process's poll loop does (in-process: by hand). */
static void drive(struct fe *f)
{
#ifndef NET_PROC
	int i;

	for (i = 0; i < 64; i++) {
		be_inproc_complete("vif", g->domid, f->id);
		evtchn_from_guest(g);
	}
#else
	(void)f;
#endif
}

/* ---- TX ---- */

static union vpv_netif_tx_slot *slot(struct fe *f)
{
	union vpv_netif_tx_slot *s =
		&VPV_RING_ENTRY(f->txs, &f->tx, f->tx.req_prod_pvt++)->req;

	memset(s, 0, sizeof(*s));
	s->req.id = f->txid++;
	return s;
}

/*
 * A data slot of len bytes from buf, in TX frame i at off (its grant
 * read-only).
 */
static union vpv_netif_tx_slot *data(struct fe *f, const uint8_t *buf,
				     uint32_t len, uint32_t i, uint32_t off)
{
	union vpv_netif_tx_slot *s = slot(f);

	memcpy(txd(i) + off, buf, len);
	s->req.gref = REF_TXD + i;
	s->req.offset = off;
	s->req.size = len;
	return s;
}

/*
 * Push, kick and take n TX responses: each must answer the slots in
 * order (ids); returns the data slots' status (the first, all must
 * agree) or 999 (missing, wrong id, disagreeing, an extra not NULL).
 */
static int tx_answers(struct fe *f, uint32_t n, uint32_t extras)
{
	uint64_t end = ms() + WAIT_MS;
	struct vpv_netif_tx_rsp r;
	uint32_t k, first = f->tx.rsp_cons;
	int st = 999;

	kick(f);
	for (k = 0; k < n; k++) {
		while (vpv_front_unconsumed_responses(&f->tx) <= 0) {
			if (ms() > end)
				return 999;
			usleep(100);
		}
		r = VPV_RING_ENTRY(f->txs, &f->tx, f->tx.rsp_cons++)->rsp;
		if (r.id != VPV_RING_ENTRY(f->txs, &f->tx,
					   first + k)->req.req.id)
			return 999;
		if (extras & (1u << k)) {
			if (r.status != VPV_NETIF_RSP_NULL)
				return 999;
			continue;
		}
		if (st != 999 && r.status != st)
			return 999;
		st = r.status;
	}
	return st;
}

/* One packet of len bytes (buf) in one slot, flags; its status. */
static int tx_one(struct fe *f, const uint8_t *buf, uint32_t len,
		  uint16_t flags, uint16_t cs, uint16_t co)
{
	union vpv_netif_tx_slot *s = data(f, buf, len, 0, 64);

	s->req.flags = flags;
	s->req.csum_start = cs;
	s->req.csum_offset = co;
	return tx_answers(f, 1, 0);
}

static void test_tx(void)
{
	static uint8_t pkt[9100], got[9100];
	struct virtio_net_hdr h;
	union vpv_netif_tx_slot *s;
	uint32_t len;
	struct fe f;
	int n;

	ok(fe_add(&f, 1, "--tap " TAP0 MAC_OPT), "vif 1 on " TAP0);
	ok(fe_connect(&f, 0, F_ALL), "Connected (one-page rings)");
	udp_drain();
	len = udp_frame(pkt, 200, 1, false);
	is(tx_one(&f, pkt, len, 0, 0, 0), 0, "a UDP packet in one slot: 0");
	n = udp_recv(got, sizeof(got));
	ok(n == 200 && !memcmp(got, pkt + 42, 200),
	   "the host's socket has its 200 bytes (checksum checked there)");
	is(tap_seen(&h, got, sizeof(got)), len, "the tap took the frame");
	ok(!h.flags && !h.gso_type, "... without offload flags");

	/* three slots, CSUM_BLANK: the host side fills the checksum */
	len = udp_frame(pkt, 1400, 7, true);
	s = data(&f, pkt, 14, 1, 4000);		/* the Ethernet header */
	s->req.flags = VPV_NETIF_TXF_CSUM_BLANK | VPV_NETIF_TXF_MORE_DATA;
	s->req.csum_start = 34;
	s->req.csum_offset = 6;
	s = data(&f, pkt + 14, 1000, 2, 3096);	/* to the frame's end */
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	data(&f, pkt + 1014, len - 1014, 3, 0);
	is(tx_answers(&f, 3, 0), 0,
	   "a 1442-byte UDP packet in 3 slots, CSUM_BLANK: 0");
	n = udp_recv(got, sizeof(got));
	ok(n == 1400 && !memcmp(got, pkt + 42, 1400),
	   "the host's socket has its 1400 bytes");
	is(tap_seen(&h, got, sizeof(got)), len, "the tap took 1442 bytes");
	ok(h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && h.csum_start == 34 &&
	   h.csum_offset == 6, "... as NEEDS_CSUM 34/6");
	net_csum_fill(got, len, h.csum_start, h.csum_offset);
	ok(l4_csum_ok(got, len, 17), "... whose checksum, filled, holds");
	ok(!memcmp(got, pkt, 40) && !memcmp(got + 42, pkt + 42, 1400),
	   "... and every other byte is the guest's");
	is(NET_STAT(1, tx_packets, 2), 2, "tx_packets 2");
	is(NET_STAT(1, tx_bytes, 242 + 1442), 242 + 1442, "tx_bytes");
	is(NET_STAT(1, tx_host_dropped, 0), 0, "tx_host_dropped 0");
	fe_del(&f);
}

/*
 * A GSO TCPv4 packet of 3 x 1448 payload bytes: the tap takes it as
 * one (the packet socket sees GSO TCPV4, gso_size 1448) and nothing is
 * dropped on the host.
 */
static void test_gso(void)
{
	static uint8_t pkt[5000], got[70000];
	union vpv_netif_tx_slot *s;
	struct virtio_net_hdr h;
	uint32_t len = 54 + 3 * 1448, k;
	uint8_t *t = pkt + 34;
	struct fe f;

	ok(fe_add(&f, 2, "--tap " TAP0 MAC_OPT), "vif 2 on " TAP0);
	ok(fe_connect(&f, 1, F_ALL), "Connected (two-page rings)");
	udp_drain();
	eth_ip(pkt, tap_mac, f.mac, GUEST_IP, HOST_IP, 6, 20 + 3 * 1448);
	memset(t, 0, 20);
	put16(t, GUEST_PORT);
	put16(t + 2, 9);		/* discard: nobody listens */
	put32(t + 4, 1000);
	t[12] = 5 << 4;
	t[13] = 0x18;			/* PSH ACK */
	put16(t + 14, 65535);
	for (k = 0; k < 3 * 1448; k++)
		t[20 + k] = (uint8_t)k;
	put16(t + 16, fold(pseudo(pkt + 14, 6, 20 + 3 * 1448)));
	s = data(&f, pkt, 54, 4, 0);
	s->req.flags = VPV_NETIF_TXF_CSUM_BLANK | VPV_NETIF_TXF_MORE_DATA |
		       VPV_NETIF_TXF_EXTRA_INFO;
	s->req.csum_start = 34;
	s->req.csum_offset = 16;
	s = slot(&f);
	s->extra.type = VPV_NETIF_EXTRA_GSO;
	s->extra.u.gso.size = 1448;
	s->extra.u.gso.type = VPV_NETIF_GSO_TCPV4;
	s = data(&f, pkt + 54, 4042, 5, 54);
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	data(&f, pkt + 54 + 4042, len - 54 - 4042, 6, 0);
	is(tx_answers(&f, 4, 1u << 1), 0,
	   "GSO TCPv4, 3 data slots and an extra: 0 (the extra NULL)");
	is(tap_seen(&h, got, sizeof(got)), len, "the tap took 4398 bytes");
	ok(h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && h.gso_size == 1448 &&
	   (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && h.csum_start == 34 &&
	   h.csum_offset == 16, "... as one GSO TCPV4 packet, MSS 1448");
	ok(!memcmp(got + 54, pkt + 54, 3 * 1448), "... with the payload");
	is(NET_STAT(2, tx_host_dropped, 0), 0,
	   "the host kernel took it: tx_host_dropped 0");
	is(NET_STAT(2, tx_packets, 1), 1, "tx_packets 1");
	fe_del(&f);
}

/* Every validation class: its status and counter; the device serves on. */
static void test_classes(void)
{
	static uint8_t pkt[9100], got[9100];
	union vpv_netif_tx_slot *s;
	uint32_t len, k;
	struct fe f;
	char v[8];

	ok(fe_add(&f, 3, "--tap " TAP0 MAC_OPT), "vif 3 on " TAP0);
	be_write(&f, "feature-gso-tcpv6", "0");
	ok(fe_connect(&f, 0, F_ALL), "Connected, feature-gso-tcpv6 0");
	udp_drain();
	len = udp_frame(pkt, 100, 3, true);
#define GOOD() do {							\
		udp_drain();						\
		is(tx_one(&f, pkt, len, VPV_NETIF_TXF_CSUM_BLANK, 34, 6), 0, \
		   "... and a good packet after it: 0");		\
		ok(udp_recv(got, sizeof(got)) == 100,			\
		   "... which reaches the host");			\
	} while (0)
	/* class 1 */
	is(tx_one(&f, pkt, len, 0x20, 0, 0), -VPV_EINVAL,
	   "class 1, an unknown flag: -VPV_EINVAL");
	is(tx_one(&f, pkt, len, VPV_NETIF_TXF_CSUM_BLANK |
		  VPV_NETIF_TXF_DATA_VALIDATED, 34, 6), -VPV_EINVAL,
	   "class 1, CSUM_BLANK with DATA_VALIDATED: -VPV_EINVAL");
	is(tx_one(&f, pkt, len, 0, 34, 0), -VPV_EINVAL,
	   "class 1, csum_start without CSUM_BLANK: -VPV_EINVAL");
	s = data(&f, pkt, 14, 1, 0);
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	s = data(&f, pkt + 14, len - 14, 2, 0);
	s->req.flags = VPV_NETIF_TXF_CSUM_BLANK;
	is(tx_answers(&f, 2, 0), -VPV_EINVAL,
	   "class 1, a later slot with CSUM_BLANK: -VPV_EINVAL (both slots)");
	s = data(&f, pkt, len, 1, 0);
	s->req.flags = VPV_NETIF_TXF_EXTRA_INFO;
	s = slot(&f);
	s->extra.type = 2;
	is(tx_answers(&f, 2, 1u << 1), -VPV_EINVAL,
	   "class 1, an extra of type 2: -VPV_EINVAL, the extra NULL");
	s = data(&f, pkt, len, 1, 0);
	s->req.flags = VPV_NETIF_TXF_EXTRA_INFO | VPV_NETIF_TXF_CSUM_BLANK;
	s->req.csum_start = 34;
	s->req.csum_offset = 6;
	for (k = 0; k < 2; k++) {
		s = slot(&f);
		s->extra.type = VPV_NETIF_EXTRA_GSO;
		s->extra.flags = k ? 0 : VPV_NETIF_EXTRAF_MORE;
		s->extra.u.gso.type = VPV_NETIF_GSO_TCPV4;
		s->extra.u.gso.size = 1000;
	}
	is(tx_answers(&f, 3, 3u << 1), -VPV_EINVAL,
	   "class 1, two GSO extras: -VPV_EINVAL");
	s = data(&f, pkt, len, 1, 0);
	s->req.flags = VPV_NETIF_TXF_EXTRA_INFO;
	s = slot(&f);
	s->extra.type = VPV_NETIF_EXTRA_GSO;
	s->extra.u.gso.type = VPV_NETIF_GSO_TCPV4;
	s->extra.u.gso.size = 1000;
	s->extra.pad = 1;
	is(tx_answers(&f, 2, 1u << 1), -VPV_EINVAL,
	   "class 1, an extra's pad not 0: -VPV_EINVAL");
	s = data(&f, pkt, len, 1, 0);
	s->req.flags = VPV_NETIF_TXF_EXTRA_INFO | VPV_NETIF_TXF_CSUM_BLANK;
	s->req.csum_start = 34;
	s->req.csum_offset = 6;
	s = slot(&f);
	s->extra.type = VPV_NETIF_EXTRA_GSO;
	s->extra.u.gso.type = 3;
	s->extra.u.gso.size = 1000;
	is(tx_answers(&f, 2, 1u << 1), -VPV_EINVAL,
	   "class 1, GSO type 3: -VPV_EINVAL");
	is(NET_STAT(3, tx_malformed, 8), 8, "tx_malformed 8");
	GOOD();
	/* class 2 */
	s = data(&f, pkt, len, 1, 0);
	s->req.flags = VPV_NETIF_TXF_EXTRA_INFO | VPV_NETIF_TXF_CSUM_BLANK;
	s->req.csum_start = 34;
	s->req.csum_offset = 6;
	s = slot(&f);
	s->extra.type = VPV_NETIF_EXTRA_GSO;
	s->extra.u.gso.type = VPV_NETIF_GSO_TCPV6;
	s->extra.u.gso.size = 1000;
	is(tx_answers(&f, 2, 1u << 1), -VPV_EOPNOTSUPP,
	   "class 2, GSO TCPV6 not offered now: -VPV_EOPNOTSUPP");
	is(NET_STAT(3, tx_not_offered, 1), 1, "tx_not_offered 1");
	GOOD();
	/* class 3: 19 data slots */
	for (k = 0; k < 19; k++) {
		s = data(&f, pkt + (k ? 14 + (k - 1) * 7 : 0), k ? 7 : 14,
			 k, 0);
		s->req.flags = k < 18 ? VPV_NETIF_TXF_MORE_DATA : 0;
	}
	is(tx_answers(&f, 19, 0), -VPV_E2BIG,
	   "class 3, 19 data slots: -VPV_E2BIG, each answered");
	is(NET_STAT(3, tx_too_many_slots, 1), 1, "tx_too_many_slots 1");
	GOOD();
	/* class 4 */
	s = data(&f, pkt, len, 1, 4000);
	s->req.size = len;		/* past the frame */
	is(tx_answers(&f, 1, 0), -VPV_EINVAL,
	   "class 4, a slot past its frame: -VPV_EINVAL");
	s = data(&f, pkt, 14, 1, 0);
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	s = data(&f, pkt, 0, 2, 0);	/* zero-length */
	is(tx_answers(&f, 2, 0), -VPV_EINVAL,
	   "class 4, a zero-length slot: -VPV_EINVAL");
	is(NET_STAT(3, tx_bad_slot, 2), 2, "tx_bad_slot 2");
	GOOD();
	/* class 5 */
	is(tx_one(&f, pkt, 13, 0, 0, 0), -VPV_EINVAL,
	   "class 5, 13 bytes: -VPV_EINVAL");
	udp_frame(pkt, 1500, 3, true);
	is(tx_one(&f, pkt, 1519, 0, 0, 0), -VPV_E2BIG,
	   "class 5, 1519 bytes, mtu 1500: -VPV_E2BIG");
	len = udp_frame(pkt, 100, 3, true);
	is(NET_STAT(3, tx_bad_length, 2), 2, "tx_bad_length 2");
	GOOD();
	/* class 6 */
	is(tx_one(&f, pkt, len, VPV_NETIF_TXF_CSUM_BLANK, 13, 6), -VPV_EINVAL,
	   "class 6, csum_start 13: -VPV_EINVAL");
	is(tx_one(&f, pkt, len, VPV_NETIF_TXF_CSUM_BLANK, 34, len - 35),
	   -VPV_EINVAL, "class 6, the checksum past the end: -VPV_EINVAL");
	s = data(&f, pkt, len, 1, 0);
	s->req.flags = VPV_NETIF_TXF_EXTRA_INFO;
	s = slot(&f);
	s->extra.type = VPV_NETIF_EXTRA_GSO;
	s->extra.u.gso.type = VPV_NETIF_GSO_TCPV4;
	s->extra.u.gso.size = 1000;
	is(tx_answers(&f, 2, 1u << 1), -VPV_EINVAL,
	   "class 6, GSO without CSUM_BLANK: -VPV_EINVAL");
	s = data(&f, pkt, len, 1, 0);
	s->req.flags = VPV_NETIF_TXF_EXTRA_INFO | VPV_NETIF_TXF_CSUM_BLANK;
	s->req.csum_start = 34;
	s->req.csum_offset = 6;
	s = slot(&f);
	s->extra.type = VPV_NETIF_EXTRA_GSO;
	s->extra.u.gso.type = VPV_NETIF_GSO_TCPV4;
	s->extra.u.gso.size = 47;
	is(tx_answers(&f, 2, 1u << 1), -VPV_EINVAL,
	   "class 6, gso.size 47: -VPV_EINVAL");
	is(NET_STAT(3, tx_bad_offload, 4), 4, "tx_bad_offload 4");
	GOOD();
	/* class 7 */
	s = data(&f, pkt, 14, 1, 0);
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	s = data(&f, pkt + 14, len - 14, 2, 0);
	s->req.gref = 7000;		/* not granted */
	is(tx_answers(&f, 2, 0), -VPV_EPERM,
	   "class 7, a slot's grant not granted: -VPV_EPERM");
	s = data(&f, pkt, len, 1, 0);
	s->req.gref = 0xffffffff;
	is(tx_answers(&f, 1, 0), -VPV_EPERM,
	   "class 7, a grant past the table: -VPV_EPERM");
	is(NET_STAT(3, tx_bad_grant, 2), 2, "tx_bad_grant 2");
	GOOD();
	/* the first failing class is the answer: 3 before 4 */
	for (k = 0; k < 20; k++) {
		s = data(&f, pkt, 0, 1, 0);
		s->req.flags = k < 19 ? VPV_NETIF_TXF_MORE_DATA : 0;
	}
	is(tx_answers(&f, 20, 0), -VPV_E2BIG,
	   "20 empty slots: class 3 (-VPV_E2BIG) before class 4");
	/* an admin turns features off: the next connect refuses them */
	be_write(&f, "feature-csum", "0");
	be_write(&f, "feature-sg", "0");
	fe_close(&f);
	ok(fe_connect(&f, 0, F_ALL), "feature-csum and -sg 0, reconnected");
	is(tx_one(&f, pkt, len, VPV_NETIF_TXF_CSUM_BLANK, 34, 6),
	   -VPV_EOPNOTSUPP, "CSUM_BLANK now: -VPV_EOPNOTSUPP");
	s = data(&f, pkt, 14, 1, 0);
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	data(&f, pkt + 14, len - 14, 2, 0);
	is(tx_answers(&f, 2, 0), -VPV_EOPNOTSUPP,
	   "two data slots now: -VPV_EOPNOTSUPP");
	len = udp_frame(pkt, 100, 3, false);
	is(tx_one(&f, pkt, len, 0, 0, 0), 0, "a checksummed packet: 0");
	ok(udp_recv(got, sizeof(got)) == 100, "... which reaches the host");
	ok(be_key(&f, "tx_malformed", v, sizeof(v)) < 0,
	   "counters are not store keys");
	/* class P: a packet whose slots run past req_prod */
	s = data(&f, pkt, 14, 1, 0);
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	k = STAT_GET(g, bus_protocol_errors);
	kick(&f);
	ok(wait_state(f.be, VPV_BUS_CLOSING),
	   "class P, a packet past req_prod: the device goes Closing");
	is(STAT_GET(g, bus_protocol_errors) - k, 1, "bus_protocol_errors + 1");
	fe_close(&f);
	ok(fe_connect(&f, 0, F_ALL), "... and reconnects");
	udp_drain();
	len = udp_frame(pkt, 100, 3, false);
	is(tx_one(&f, pkt, len, 0, 0, 0), 0, "a packet after it: 0");
	ok(udp_recv(got, sizeof(got)) == 100, "... which reaches the host");
	fe_del(&f);
#undef GOOD
}

/* ---- RX ---- */

/* Post n RX buffers (ids and grants REF_RXB + index, writable). */
static void rx_post(struct fe *f, uint32_t n)
{
	uint32_t k;

	for (k = 0; k < n; k++) {
		struct vpv_netif_rx_req *r =
			&VPV_RING_ENTRY(f->rxs, &f->rx,
					f->rx.req_prod_pvt++)->req;
		uint32_t b = f->rxb++ % NRXB;

		memset(rxb(b), 0xee, 4096);
		r->id = b;
		r->pad = 0;
		r->gref = REF_RXB + b;
	}
}

/* What the device and the tap did, for a test that waited in vain. */
static void rx_stuck(struct fe *f)
{
	struct bus_dev_info *i = info_of(f->id);
	struct ifreq r;

	printf("# RX: req_prod %u rsp_prod %u rsp_cons %u; state %d/%d",
	       f->rxs->hdr.req_prod, f->rxs->hdr.rsp_prod, f->rx.rsp_cons,
	       state_of(f->be), state_of(f->fe));
	if (i) {
		printf(", pid %d, rx_packets %llu not_accepted %llu",
		       i->be_pid, (unsigned long long)i->net.rx_packets,
		       (unsigned long long)i->net.rx_not_accepted);
		printf(", backlog %llu/%llu full %llu expired %llu",
		       (unsigned long long)i->net.rx_backlog_packets,
		       (unsigned long long)i->net.rx_backlog_bytes,
		       (unsigned long long)i->net.rx_backlog_full,
		       (unsigned long long)i->net.rx_expired);
	}
	memset(&r, 0, sizeof(r));
	printf("; tap %s\n", ifreq_ioctl(SIOCGIFFLAGS, TAP0, &r) ? "?" :
	       r.ifr_flags & IFF_RUNNING ? "running" : "not running");
	fflush(stdout);
	if (system("ip -s link show " TAP0 " | sed 's/^/# /'"))
		printf("# (no ip)\n");
}

/* The next RX response within WAIT_MS (driving the poll), or false. */
static bool rx_next(struct fe *f, union vpv_netif_rx_slot *out)
{
	uint64_t end = ms() + WAIT_MS;

	while (vpv_front_unconsumed_responses(&f->rx) <= 0) {
		if (ms() > end) {
			rx_stuck(f);
			return false;
		}
		drive(f);
		usleep(100);
	}
	*out = VPV_RING_ENTRY(f->rxs, &f->rx, f->rx.rsp_cons++)->rsp;
	return true;
}

/*
 * The next packet: its slots into s[] (at most max), its bytes into
 * buf; the number of slots, 0 on a timeout or a slot in error.
 */
static uint32_t rx_packet(struct fe *f, union vpv_netif_rx_slot *s,
			  uint32_t max, uint8_t *buf, uint32_t *len)
{
	uint32_t n = 0, k, extras = 0;

	*len = 0;
	if (!rx_next(f, &s[0]) || s[0].rsp.status)
		return 0;
	n = 1;
	if (s[0].rsp.flags & VPV_NETIF_RXF_EXTRA_INFO) {
		do {
			if (n >= max || !rx_next(f, &s[n]))
				return 0;
			extras++;
		} while (s[n++].extra.flags & VPV_NETIF_EXTRAF_MORE);
	}
	k = 0;
	for (;;) {
		const struct vpv_netif_rx_rsp *r = &s[k ? n - 1 : 0].rsp;

		memcpy(buf + *len, rxb(r->id) + r->offset, r->size);
		*len += r->size;
		if (!(r->flags & VPV_NETIF_RXF_MORE_DATA))
			break;
		if (n >= max || !rx_next(f, &s[n]) || s[n].rsp.status)
			return 0;
		n++;
		k++;
	}
	(void)extras;
	return n;
}

/* Send plen bytes (byte k = seed + k) from the host's socket to dport. */
static void host_send(uint32_t plen, uint8_t seed, uint16_t dport)
{
	static uint8_t b[9000];
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint32_t k;

	for (k = 0; k < plen; k++)
		b[k] = (uint8_t)(seed + k);
	a.sin_addr.s_addr = htonl(GUEST_IP);
	a.sin_port = htons(dport);
	if (sendto(usock, b, plen, 0, (struct sockaddr *)&a, sizeof(a)) !=
	    (ssize_t)plen)
		printf("# sendto: %s\n", strerror(errno));
}

/* The datagram in frame f (len) is ours: to the guest, plen, seed. */
static bool is_ours(const uint8_t *fr, uint32_t len, const struct fe *f,
		    uint32_t plen, uint8_t seed)
{
	uint32_t k;

	if (len != 42 + plen || memcmp(fr, f->mac, 6) ||
	    memcmp(fr + 6, tap_mac, 6) || get16(fr + 12) != 0x0800 ||
	    fr[23] != 17 || get16(fr + 36) != GUEST_PORT)
		return false;
	for (k = 0; k < plen; k++)
		if (fr[42 + k] != (uint8_t)(seed + k))
			return false;
	return true;
}

static void test_rx(void)
{
	static uint8_t fr[70000];
	union vpv_netif_rx_slot s[20];
	uint32_t n, len;
	struct fe f;

	ok(fe_add(&f, 4, "--tap " TAP0 MAC_OPT), "vif 4 on " TAP0);
	ok(fe_connect(&f, 0, F_SG), "Connected, the front-end without csum");
	rx_post(&f, 32);
	kick(&f);
	host_send(300, 9, GUEST_PORT);
	n = rx_packet(&f, s, 20, fr, &len);
	is(n, 1, "the host's datagram in one RX buffer");
	ok(is_ours(fr, len, &f, 300, 9),
	   "... to the guest's MAC, with its 300 bytes");
	is(s[0].rsp.flags & (VPV_NETIF_RXF_CSUM_BLANK |
			     VPV_NETIF_RXF_EXTRA_INFO |
			     VPV_NETIF_RXF_MORE_DATA), 0,
	   "... no CSUM_BLANK: the front-end does not take it");
	ok(l4_csum_ok(fr, len, 17), "... its UDP checksum holds");
	ok(s[0].rsp.offset == 0 && s[0].rsp.size == len && !s[0].rsp.pad,
	   "... offset 0, size %u", len);
	is(NET_STAT(4, rx_packets, 1), 1, "rx_packets 1");
	is(NET_STAT(4, rx_bytes, 342), 342, "rx_bytes 342");
	fe_close(&f);
	ok(fe_connect(&f, 0, F_ALL), "reconnected, the front-end takes all");
	rx_post(&f, 32);
	kick(&f);
	host_send(500, 5, GUEST_PORT);
	n = rx_packet(&f, s, 20, fr, &len);
	ok(n == 1 && is_ours(fr, len, &f, 500, 5), "a datagram of 500 bytes");
	ok(s[0].rsp.flags == VPV_NETIF_RXF_CSUM_BLANK &&
	   s[0].rsp.csum_start == 34 && s[0].rsp.csum_offset == 6,
	   "... CSUM_BLANK 34/6 (flags %#x)", s[0].rsp.flags);
	net_csum_fill(fr, len, 34, 6);
	ok(l4_csum_ok(fr, len, 17), "... filled, its checksum holds");
	/* a pad not 0 and a buffer not granted: each answered alone */
	fe_close(&f);
	ok(fe_connect(&f, 0, F_ALL), "reconnected: a fresh RX ring");
	{
		struct vpv_netif_rx_req *r;

		r = &VPV_RING_ENTRY(f.rxs, &f.rx, f.rx.req_prod_pvt++)->req;
		r->id = 900;
		r->pad = 1;
		r->gref = REF_RXB;
		r = &VPV_RING_ENTRY(f.rxs, &f.rx, f.rx.req_prod_pvt++)->req;
		r->id = 901;
		r->pad = 0;
		r->gref = 7000;
	}
	rx_post(&f, 4);
	kick(&f);
	host_send(100, 1, GUEST_PORT);
	ok(rx_next(&f, &s[0]) && s[0].rsp.id == 900 &&
	   s[0].rsp.status == -VPV_EINVAL && !s[0].rsp.size &&
	   !s[0].rsp.flags, "a buffer with pad 1: -VPV_EINVAL alone");
	ok(rx_next(&f, &s[0]) && s[0].rsp.id == 901 &&
	   s[0].rsp.status == -VPV_EPERM && !s[0].rsp.size &&
	   !s[0].rsp.flags, "a buffer not granted: -VPV_EPERM alone");
	n = rx_packet(&f, s, 20, fr, &len);
	ok(n == 1 && is_ours(fr, len, &f, 100, 1),
	   "the packet in the next good buffer");
	is(NET_STAT(4, rx_bad_req, 1), 1, "rx_bad_req 1");
	is(NET_STAT(4, rx_bad_grant, 1), 1, "rx_bad_grant 1");
	fe_del(&f);
}

/* The guest's grant ref is mapped writable by the host now. */
static bool gnt_writing(uint32_t ref)
{
	return __atomic_load_n(&test_gent(g, ref)->flags, __ATOMIC_ACQUIRE) &
	       VPV_GTF_WRITING;
}

/* The device's GRANT_MAP calls so far (its "time" counters). */
static uint64_t map_calls(uint32_t id)
{
	struct bus_dev_info *i = info_of(id);

	return i ? i->net.map_calls : ~0ull;
}

/*
 * feature-persistent (netif.rst, "Persistent RX buffers"): RX buffers
 * kept mapped once mapped, no GRANT_MAP for them again, unmapped at
 * the disconnect; a bad buffer still answered alone; without the
 * front-end's key, nothing kept.
 */
static void test_rx_persistent(void)
{
	static uint8_t fr[70000];
	union vpv_netif_rx_slot s[20];
	uint32_t n, len, k, before;
	uint64_t calls;
	struct fe f;
	bool good;

	before = grant_nr_mapped(g);
	ok(fe_add(&f, 13, "--tap " TAP0 MAC_OPT), "vif 13 on " TAP0);
	fe_keys(&f, 0, F_ALL);
	fe_write(&f, "feature-persistent", "%lu", 1);
	fe_write(&f, "state", "%lu", VPV_BUS_INITIALISED);
	ok(wait_state(f.be, VPV_BUS_CONNECTED),
	   "Connected with feature-persistent");
	rx_post(&f, 4);
	kick(&f);
	for (k = 0, good = true; k < 4; k++) {
		host_send(200 + k, (uint8_t)k, GUEST_PORT);
		n = rx_packet(&f, s, 20, fr, &len);
		good &= n == 1 && s[0].rsp.id == k &&
			is_ours(fr, len, &f, 200 + k, (uint8_t)k);
	}
	ok(good, "4 datagrams in buffers 0 .. 3, bytes right");
	is(NET_STAT(13, persistent_grants, 4), 4, "persistent_grants 4");
	ok(gnt_writing(REF_RXB) && gnt_writing(REF_RXB + 3),
	   "... their grants stay mapped after the answers");
	calls = map_calls(13);
	f.rxb = 0;		/* the same 4 buffers again */
	rx_post(&f, 4);
	kick(&f);
	for (k = 0, good = true; k < 4; k++) {
		host_send(300 + k, (uint8_t)(7 * k), GUEST_PORT);
		n = rx_packet(&f, s, 20, fr, &len);
		good &= n == 1 && s[0].rsp.id == k &&
			is_ours(fr, len, &f, 300 + k, (uint8_t)(7 * k));
	}
	ok(good, "posted again: 4 more datagrams, bytes right");
	is(map_calls(13), calls, "... and no GRANT_MAP for them");
	/* the guest points a kept ref at another frame: the first counts */
	test_grant(g, REF_RXB, RXB_PFN + 100,
		   VPV_GTF_PERMIT_ACCESS | VPV_GTF_WRITING);
	memset(rxb(100), 0x55, 4096);
	{
		struct vpv_netif_rx_req *r;

		/* a ref never granted, then a kept one, then one twice */
		r = &VPV_RING_ENTRY(f.rxs, &f.rx, f.rx.req_prod_pvt++)->req;
		r->id = 901;
		r->pad = 0;
		r->gref = 7000;
		r = &VPV_RING_ENTRY(f.rxs, &f.rx, f.rx.req_prod_pvt++)->req;
		r->id = 0;
		r->pad = 0;
		r->gref = REF_RXB;
		r = &VPV_RING_ENTRY(f.rxs, &f.rx, f.rx.req_prod_pvt++)->req;
		r->id = 1;
		r->pad = 0;
		r->gref = REF_RXB + 1;
		r = &VPV_RING_ENTRY(f.rxs, &f.rx, f.rx.req_prod_pvt++)->req;
		r->id = 2;
		r->pad = 0;
		r->gref = REF_RXB + 1;
	}
	kick(&f);
	host_send(400, 3, GUEST_PORT);
	ok(rx_next(&f, &s[0]) && s[0].rsp.id == 901 &&
	   s[0].rsp.status == -VPV_EPERM && !s[0].rsp.size,
	   "a buffer not granted: -VPV_EPERM alone");
	n = rx_packet(&f, s, 20, fr, &len);
	ok(n == 1 && s[0].rsp.id == 0 && is_ours(fr, len, &f, 400, 3),
	   "a kept ref the guest re-pointed: its first frame written");
	is(rxb(100)[0], 0x55, "... not the new one");
	test_grant(g, REF_RXB, RXB_PFN, VPV_GTF_PERMIT_ACCESS |
		   VPV_GTF_WRITING);
	host_send(401, 4, GUEST_PORT);
	n = rx_packet(&f, s, 20, fr, &len);
	ok(n == 1 && s[0].rsp.id == 1 && is_ours(fr, len, &f, 401, 4),
	   "one ref in two buffers: the first");
	host_send(402, 5, GUEST_PORT);
	ok(rx_next(&f, &s[0]) && s[0].rsp.id == 2 && !s[0].rsp.status &&
	   is_ours(rxb(1), s[0].rsp.size, &f, 402, 5),
	   "... and the second, in the same frame: the device serves on");
	is(NET_STAT(13, rx_bad_grant, 1), 1, "rx_bad_grant 1");
	is(NET_STAT(13, persistent_grants, 4), 4, "still 4 kept");
#ifndef NET_PROC
	/*
	 * A ping to the host: its reply (made by the host kernel within
	 * the tap write) is read and answered in the kick's own turn,
	 * without a poll of the tap (in-process: no complete() call).
	 */
	f.rxb = 0;
	rx_post(&f, 2);
	{
		uint8_t *ic = fr + 34;

		eth_ip(fr, tap_mac, guest_mac, GUEST_IP, HOST_IP, 1, 40);
		memset(ic, 0, 40);
		ic[0] = 8;			/* echo request */
		put16(ic + 4, 0x4242);		/* id */
		put16(ic + 6, 1);		/* sequence */
		memset(ic + 8, 0x5a, 32);
		put16(ic + 2, ~fold(sum16(ic, 40, 0)));
	}
	is(tx_one(&f, fr, 74, 0, 0, 0), 0, "a ping to the host sent");
	ok(vpv_front_unconsumed_responses(&f.rx) > 0,
	   "... its reply in the RX ring in the same turn");
	n = rx_packet(&f, s, 20, fr, &len);
	ok(n == 1 && len == 74 && fr[23] == 1 && fr[34] == 0 &&
	   get16(fr + 38) == 0x4242, "... an echo reply (%u bytes)", len);
#endif
	fe_close(&f);
	is(NET_STAT(13, persistent_grants, 0), 0,
	   "disconnected: none kept");
	ok(!gnt_writing(REF_RXB) && !gnt_writing(REF_RXB + 3) &&
	   grant_nr_mapped(g) == before,
	   "... every grant unmapped (%u mapped, %u before)",
	   grant_nr_mapped(g), before);
	/* without the front-end's key: per batch, as before */
	fe_rm(&f, "feature-persistent");
	ok(fe_connect(&f, 0, F_ALL), "reconnected without the key");
	rx_post(&f, 2);
	kick(&f);
	host_send(100, 1, GUEST_PORT);
	n = rx_packet(&f, s, 20, fr, &len);
	ok(n == 1 && is_ours(fr, len, &f, 100, 1), "a datagram");
	ok(!gnt_writing(REF_RXB), "... its buffer unmapped after");
	is(NET_STAT(13, persistent_grants, 0), 0, "persistent_grants 0");
	fe_del(&f);
}

/* The guest's grant ref is mapped by the host now (read-only). */
static bool gnt_reading(uint32_t ref)
{
	return __atomic_load_n(&test_gent(g, ref)->flags, __ATOMIC_ACQUIRE) &
	       VPV_GTF_READING;
}

/* The device's SYNC round trips so far. */
static uint64_t syncs(uint32_t id)
{
	struct bus_dev_info *i = info_of(id);

	return i ? i->net.syncs : ~0ull;
}

/*
 * feature-persistent-tx (netif.rst, "Persistent TX buffers"): a slot
 * flagged PERSISTENT is kept mapped from its first use; the next
 * packets in it make no GRANT_MAP and no SYNC; the bytes sent are the
 * frame's at each send; a kept ref the guest re-points still reads its
 * first frame; without the back-end's key the flag is refused (class
 * 2) and nothing is kept; the disconnect unmaps every kept grant.
 */
static void test_tx_persistent(void)
{
	static uint8_t pkt[2000], got[2000];
	union vpv_netif_tx_slot *s;
	uint32_t before, len, k;
	uint64_t calls, sy;
	struct fe f;
	bool good;
	int n;

	before = grant_nr_mapped(g);
	ok(fe_add(&f, 14, "--tap " TAP0 MAC_OPT), "vif 14 on " TAP0);
	is(be_key(&f, "feature-persistent-tx", NULL, 0), 1,
	   "the back-end offers feature-persistent-tx");
	ok(fe_connect(&f, 0, F_ALL), "Connected");
	udp_drain();
	len = udp_frame(pkt, 300, 11, false);
	s = data(&f, pkt, len, 2, 0);
	s->req.flags = VPV_NETIF_TXF_PERSISTENT;
	is(tx_answers(&f, 1, 0), 0, "a packet in a persistent TX buffer: 0");
	n = udp_recv(got, sizeof(got));
	ok(n == 300 && !memcmp(got, pkt + 42, 300), "... its bytes sent");
	ok(gnt_reading(REF_TXD + 2), "... its grant stays mapped");
	is(NET_STAT(14, persistent_grants, 1), 1, "persistent_grants 1");
	calls = map_calls(14);
	sy = syncs(14);
	for (k = 0, good = true; k < 8; k++) {
		len = udp_frame(pkt, 100 + k, (uint8_t)(3 * k), false);
		s = data(&f, pkt, len, 2, 0);
		s->req.flags = VPV_NETIF_TXF_PERSISTENT;
		good &= tx_answers(&f, 1, 0) == 0;
		n = udp_recv(got, sizeof(got));
		good &= n == (int)(100 + k) && !memcmp(got, pkt + 42, n);
	}
	ok(good, "8 more packets in the same buffer, each one's bytes");
	usleep(100 * 1000);	/* a process reports every 10 ms at most */
	is(map_calls(14), calls, "... no GRANT_MAP for them");
	is(syncs(14), sy, "... and no SYNC");
	/* the guest re-points the kept ref: the first frame is read */
	test_grant(g, REF_TXD + 2, TXD_PFN + 20,
		   VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	len = udp_frame(pkt, 200, 9, false);
	memcpy(txd(20), pkt, len);
	memset(pkt + 42, 0x77, 200);
	put16(pkt + 40, 0);		/* UDP: no checksum */
	s = data(&f, pkt, len, 2, 0);	/* the first frame: 0x77 bytes */
	s->req.flags = VPV_NETIF_TXF_PERSISTENT;
	is(tx_answers(&f, 1, 0), 0, "a kept ref the guest re-pointed: 0");
	n = udp_recv(got, sizeof(got));
	ok(n == 200 && got[0] == 0x77 && got[199] == 0x77,
	   "... the first frame's bytes went, not the new one's");
	test_grant(g, REF_TXD + 2, TXD_PFN + 2,
		   VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	/* never granted: class 7, the device serves on */
	len = udp_frame(pkt, 120, 4, false);
	s = data(&f, pkt, len, 3, 0);
	s->req.flags = VPV_NETIF_TXF_PERSISTENT;
	s->req.gref = 7000;
	is(tx_answers(&f, 1, 0), -VPV_EPERM,
	   "PERSISTENT on a ref never granted: -VPV_EPERM");
	/* flagged on a later slot of a packet too */
	len = udp_frame(pkt, 500, 5, false);
	s = data(&f, pkt, 100, 4, 0);
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	s = data(&f, pkt + 100, len - 100, 5, 0);
	s->req.flags = VPV_NETIF_TXF_PERSISTENT;
	is(tx_answers(&f, 2, 0), 0, "PERSISTENT on slot 1 of 2: 0");
	n = udp_recv(got, sizeof(got));
	ok(n == 500 && !memcmp(got, pkt + 42, 500), "... bytes right");
	ok(!gnt_reading(REF_TXD + 4) && gnt_reading(REF_TXD + 5),
	   "... slot 0's grant unmapped, slot 1's kept");
	is(NET_STAT(14, persistent_grants, 2), 2, "persistent_grants 2");
	fe_close(&f);
	is(NET_STAT(14, persistent_grants, 0), 0, "disconnected: none kept");
	ok(!gnt_reading(REF_TXD + 2) && !gnt_reading(REF_TXD + 5) &&
	   grant_nr_mapped(g) == before,
	   "... every grant unmapped (%u mapped, %u before)",
	   grant_nr_mapped(g), before);
	/* the admin turns it off: the flag refused, nothing kept */
	be_write(&f, "feature-persistent-tx", "0");
	ok(fe_connect(&f, 0, F_ALL), "reconnected, feature-persistent-tx 0");
	len = udp_frame(pkt, 300, 12, false);
	s = data(&f, pkt, len, 2, 0);
	s->req.flags = VPV_NETIF_TXF_PERSISTENT;
	is(tx_answers(&f, 1, 0), -VPV_EOPNOTSUPP,
	   "PERSISTENT not offered: -VPV_EOPNOTSUPP (class 2)");
	is(NET_STAT(14, tx_not_offered, 1), 1, "tx_not_offered 1");
	ok(!gnt_reading(REF_TXD + 2), "... and not mapped");
	fe_del(&f);
}

/*
 * A TCP segment from the guest to the host's TCP_PORT: plen bytes of
 * payload (byte k: 7k), CSUM_BLANK (the pseudo header's sum in the
 * field), GSO TCPv4 with an MSS of 1448 when longer; its status.
 */
static int tcp_send(struct fe *f, uint32_t seq, uint32_t ack, uint8_t fl,
		    uint32_t plen)
{
	static uint8_t pkt[9000];
	union vpv_netif_tx_slot *s;
	uint32_t k, off, l, i, n = 1, extras = 0;
	uint8_t *t = pkt + 34;
	bool gso = plen > 1448;

	eth_ip(pkt, tap_mac, guest_mac, GUEST_IP, HOST_IP, 6, 20 + plen);
	memset(t, 0, 20);
	put16(t, GUEST_PORT);
	put16(t + 2, TCP_PORT);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = fl;
	put16(t + 14, 65535);
	for (k = 0; k < plen; k++)
		t[20 + k] = (uint8_t)(7 * k);
	put16(t + 16, fold(pseudo(pkt + 14, 6, 20 + plen)));
	s = data(f, pkt, 54, 4, 0);
	s->req.flags = VPV_NETIF_TXF_CSUM_BLANK |
		       (plen ? VPV_NETIF_TXF_MORE_DATA : 0) |
		       (gso ? VPV_NETIF_TXF_EXTRA_INFO : 0);
	s->req.csum_start = 34;
	s->req.csum_offset = 16;
	if (gso) {
		s = slot(f);
		s->extra.type = VPV_NETIF_EXTRA_GSO;
		s->extra.u.gso.size = 1448;
		s->extra.u.gso.type = VPV_NETIF_GSO_TCPV4;
		extras = 1u << n++;
	}
	for (off = 0, i = 5; off < plen; off += l, i++, n++) {
		l = plen - off < 4096 ? plen - off : 4096;
		s = data(f, pkt + 54 + off, l, i, 0);
		s->req.flags = off + l < plen ? VPV_NETIF_TXF_MORE_DATA : 0;
	}
	return tx_answers(f, n, extras);
}

/* The host's next TCP segment with all of flags, from the RX ring. */
static bool tcp_seen(struct fe *f, uint8_t flags, uint32_t *seq,
		     uint16_t *rxflags)
{
	static uint8_t fr[70000];
	union vpv_netif_rx_slot s[20];
	uint32_t len, k;

	for (k = 0; k < 16; k++) {
		if (!rx_packet(f, s, 20, fr, &len))
			return false;
		if (len < 54 || get16(fr + 12) != 0x0800 || fr[23] != 6 ||
		    get16(fr + 34) != TCP_PORT || get16(fr + 36) != GUEST_PORT ||
		    (fr[47] & flags) != flags)
			continue;
		*seq = (uint32_t)get16(fr + 38) << 16 | get16(fr + 40);
		*rxflags = s[0].rsp.flags;
		return true;
	}
	return false;
}

/*
 * A TCP connection into the host, played from the guest's side: the
 * SYN-ACK comes through the RX ring, and 4344 bytes sent as one GSO
 * packet are what the host's socket reads: the host kernel took it.
 */
static void test_tcp(void)
{
	static uint8_t got[8192];
	struct sockaddr_in a = { .sin_family = AF_INET };
	uint32_t srv = 0, k, n = 0;
	int ls, cs = -1, one = 1;
	uint16_t rxf = 0;
	uint64_t end;
	ssize_t r;
	struct fe f;

	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(HOST_IP);
	a.sin_port = htons(TCP_PORT);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 4))
		BAIL("tcp listen: %s", strerror(errno));
	ok(fe_add(&f, 12, "--tap " TAP0 MAC_OPT), "vif 12 on " TAP0);
	ok(fe_connect(&f, 1, F_ALL), "Connected");
	rx_post(&f, 64);
	kick(&f);
	is(tcp_send(&f, 1000, 0, 0x02, 0), 0, "the guest's SYN: 0");
	ok(tcp_seen(&f, 0x12, &srv, &rxf), "the host's SYN-ACK in the RX ring");
	ok(rxf & VPV_NETIF_RXF_CSUM_BLANK, "... CSUM_BLANK (flags %#x)", rxf);
	is(tcp_send(&f, 1001, srv + 1, 0x10, 0), 0, "the guest's ACK: 0");
	is(tcp_send(&f, 1001, srv + 1, 0x18, 3 * 1448), 0,
	   "4344 bytes as one GSO packet: 0");
	end = ms() + WAIT_MS;
	while (ms() < end && n < 3 * 1448) {
		if (cs < 0)
			cs = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
		r = cs < 0 ? -1 : recv(cs, got + n, sizeof(got) - n, 0);
		if (r > 0)
			n += r;
		else
			usleep(500);
	}
	for (k = 0; k < n && got[k] == (uint8_t)(7 * k); k++)
		;
	ok(n == 3 * 1448 && k == n,
	   "the host's socket reads them, in order (%u bytes)", n);
	is(NET_STAT(12, tx_host_dropped, 0), 0, "tx_host_dropped 0");
	if (cs >= 0) {
		/* an RST now, not a FIN retransmitted to the next tests */
		struct linger lg = { 1, 0 };

		setsockopt(cs, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(cs);
	}
	close(ls);
	drive(&f);
	fe_del(&f);
}

/* A 8000-byte datagram on a 9000-byte MTU: two slots with SG, else none. */
static void test_rx_jumbo(void)
{
	static uint8_t fr[70000];
	union vpv_netif_rx_slot s[20];
	uint32_t n, len;
	struct fe f;

	ok(fe_add(&f, 5, "--tap " TAP0 " --mtu 9000" MAC_OPT), "vif 5, --mtu 9000");
	is(tap_mtu(TAP0), 9000, "the tap's MTU is 9000");
	ok(fe_connect(&f, 0, F_SG | F_CSUM), "Connected, SG");
	rx_post(&f, 8);
	kick(&f);
	host_send(8000, 2, GUEST_PORT);
	n = rx_packet(&f, s, 20, fr, &len);
	is(n, 2, "8042 bytes in two slots");
	ok(is_ours(fr, len, &f, 8000, 2), "... the datagram whole");
	ok((s[0].rsp.flags & VPV_NETIF_RXF_MORE_DATA) &&
	   s[0].rsp.size == 4096 && !(s[1].rsp.flags) &&
	   s[1].rsp.size == 8042 - 4096, "... 4096 + 3946, MORE_DATA on the first");
	fe_close(&f);
	ok(fe_connect(&f, 0, F_CSUM), "reconnected without SG");
	rx_post(&f, 8);
	kick(&f);
	host_send(8000, 2, GUEST_PORT);
	host_send(1000, 4, GUEST_PORT);
	n = rx_packet(&f, s, 20, fr, &len);
	ok(n == 1 && is_ours(fr, len, &f, 1000, 4),
	   "the 8042-byte one dropped, the next delivered");
	is(NET_STAT(5, rx_not_accepted, 1), 1, "rx_not_accepted 1");
	fe_del(&f);
	is(tap_mtu(TAP0), 9000, "the tap keeps its MTU after the removal");
}

/*
 * With no buffer posted the backlog holds at most 512 KiB, and nothing
 * longer than 1 s; then the buffers come and the newest are delivered.
 */
static void test_backlog(void)
{
	static uint8_t fr[70000];
	union vpv_netif_rx_slot s[20];
	struct bus_dev_info *i;
	uint64_t full, held, bytes, end;
	uint32_t k, len;
	struct fe f;

	ok(fe_add(&f, 6, "--tap " TAP0 MAC_OPT), "vif 6 on " TAP0);
	ok(fe_connect(&f, 0, F_ALL), "Connected, no buffer posted");
	for (k = 0; k < 450; k++) {	/* 450 x 1442: 634 KiB */
		host_send(1400, (uint8_t)k, GUEST_PORT);
		if (k % 100 == 99)
			drive(&f);	/* the tap's queue holds 1000 */
	}
	/* every frame read: backlogged or dropped (a process: meanwhile) */
	end = ms() + 500;
	do {
		drive(&f);
		i = info_of(6);
		full = i ? i->net.rx_backlog_full : 0;
		held = i ? i->net.rx_backlog_packets : 0;
		bytes = i ? i->net.rx_backlog_bytes : 0;
	} while (full + held < 450 && ms() < end && !usleep(1000));
	ok(bytes <= VPV_NETIF_RX_BACKLOG_MAX && bytes > 400 * 1024,
	   "the backlog holds %llu bytes, at most 512 KiB",
	   (unsigned long long)bytes);
	ok(full > 0 && full + held == 450,
	   "rx_backlog_full %llu + %llu held = 450",
	   (unsigned long long)full, (unsigned long long)held);
	usleep((VPV_NETIF_RX_DRAIN_MS + 200) * 1000);
	drive(&f);
	is(NET_STAT(6, rx_expired, held), held,
	   "1.2 s later all of them expired (rx_expired)");
	is(NET_STAT(6, rx_backlog_bytes, 0), 0, "... the backlog is empty");
	rx_post(&f, 16);
	kick(&f);
	host_send(64, 1, GUEST_PORT);
	ok(rx_packet(&f, s, 20, fr, &len) == 1 && is_ours(fr, len, &f, 64, 1),
	   "buffers posted: the next datagram arrives, no stale one first");
	fe_del(&f);
}

/* ---- multi-queue ---- */

#ifdef NET_PROC
static int wait_pid_not(uint32_t id, int old);
#endif

#define MQ_MAX		4u	/* queues of the test's front-end */
#define MQ_BUFS		128u	/* RX buffers of each queue (NRXB / MQ_MAX) */

/*
 * Queue q of device f->id (order 0): rings at pages RING_PFN + 16 id +
 * 2q (TX) and + 1 (RX), granted as REF_RING + 16 id + 2q (+ 1); its
 * own port; RX buffers MQ_BUFS q .. (rx_post() goes on from f->rxb).
 */
static void mq_queue(struct fe *f, const struct fe *dev, uint32_t q)
{
	uint32_t base = 16 * dev->id + 2 * q;
	uint64_t txp = RING_PFN + base;
	char key[32];

	*f = *dev;
	f->order = 0;
	f->txs = (void *)(g->ram + txp * 4096);
	f->rxs = (void *)(g->ram + (txp + 1) * 4096);
	memset(f->txs, 0, 4096);
	memset(f->rxs, 0, 4096);
	vpv_ring_init_shared(&f->txs->hdr);
	vpv_ring_init_shared(&f->rxs->hdr);
	vpv_front_ring_init(&f->tx, &f->txs->hdr, VPV_RING_ENTRIES(16, 4096));
	vpv_front_ring_init(&f->rx, &f->rxs->hdr, VPV_RING_ENTRIES(16, 4096));
	test_grant(g, REF_RING + base, txp, VPV_GTF_PERMIT_ACCESS);
	test_grant(g, REF_RING + base + 1, txp + 1, VPV_GTF_PERMIT_ACCESS);
	snprintf(key, sizeof(key), "q%u-tx-ring-ref0", q);
	fe_write(f, key, "%lu", REF_RING + base);
	snprintf(key, sizeof(key), "q%u-rx-ring-ref0", q);
	fe_write(f, key, "%lu", REF_RING + base + 1);
	f->port = call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC,
		       VPV_DOMID_HOST, 0, 0);
	snprintf(key, sizeof(key), "q%u-event-channel", q);
	fe_write(f, key, "%lu", f->port);
	f->rxb = MQ_BUFS * q;
	f->txid = 0;
}

/* nq queues (fq[0 .. nq - 1]) of device dev, every key, not the state. */
static void mq_keys(struct fe *dev, struct fe *fq, uint32_t nq)
{
	uint32_t q;

	fe_write(dev, "multi-queue-num-queues", "%lu", nq);
	fe_write(dev, "ring-page-order", "%lu", 0);
	fe_write(dev, "request-rx-copy", "%lu", 1);
	fe_write(dev, "feature-sg", "%lu", 1);
	fe_write(dev, "feature-csum", "%lu", 1);
	fe_write(dev, "feature-gso-tcpv4", "%lu", 1);
	fe_write(dev, "feature-gso-tcpv6", "%lu", 1);
	for (q = 0; q < nq; q++)
		mq_queue(&fq[q], dev, q);
}

/* Ports closed (the front-end's), so that the next keys bind anew. */
static void mq_close(struct fe *dev, struct fe *fq, uint32_t nq)
{
	uint32_t q;

	fe_close(dev);
	for (q = 0; q < nq; q++)
		call(g, VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_CLOSE, fq[q].port, 0, 0);
}

static bool mq_connect(struct fe *dev, struct fe *fq, uint32_t nq)
{
	mq_keys(dev, fq, nq);
	fe_write(dev, "state", "%lu", VPV_BUS_INITIALISED);
	return wait_state(dev->be, VPV_BUS_CONNECTED);
}

static bool port_pending(uint32_t port)
{
	return __atomic_load_n(&g->ev->to_guest.pending[port / 64],
			       __ATOMIC_SEQ_CST) & (1ull << (port % 64));
}

static void port_clear(uint32_t port)
{
	__atomic_fetch_and(&g->ev->to_guest.pending[port / 64],
			   ~(1ull << (port % 64)), __ATOMIC_SEQ_CST);
}

/* A host datagram to the guest's dport as it reaches the guest. */
static uint32_t expect_frame(uint8_t *b, uint16_t sport, uint16_t dport,
			     uint32_t plen)
{
	eth_ip(b, guest_mac, tap_mac, HOST_IP, GUEST_IP, 17, 8 + plen);
	put16(b + 34, sport);
	put16(b + 36, dport);
	return 42 + plen;
}

/*
 * Which queue's RX ring has a response (driving the poll): q, or -1
 * after WAIT_MS.
 */
static int mq_which(struct fe *fq, uint32_t nq)
{
	uint64_t end = ms() + WAIT_MS;
	uint32_t q;

	while (ms() < end) {
		for (q = 0; q < nq; q++)
			if (vpv_front_unconsumed_responses(&fq[q].rx) > 0)
				return (int)q;
		drive(&fq[0]);
		usleep(100);
	}
	return -1;
}

/* The flow hash: pure checks of net_rx_queue() (netback.h). */
static void test_flow_hash(void)
{
	static uint8_t a[200], b[200];
	uint32_t i, hits[4] = { 0 }, lo = ~0u, hi = 0;

	memset(a, 0, sizeof(a));
	put16(a + 12, 0x0806);		/* ARP */
	is(net_rx_queue(a, 42, 4), 0, "hash: ARP goes to queue 0");
	expect_frame(a, 1000, 2000, 100);
	is(net_rx_queue(a, 20, 4), 0, "hash: a truncated IPv4 header: queue 0");
	ok(net_flow_hash(a, 142) != 0, "hash: a UDP flow has a hash");
	memcpy(b, a, sizeof(b));
	memset(b + 42, 0x55, 100);	/* other payload, same flow */
	is(net_flow_hash(b, 142), net_flow_hash(a, 142),
	   "hash: the payload does not count");
	put16(b + 36, 2001);
	ok(net_flow_hash(b, 142) != net_flow_hash(a, 142),
	   "hash: the destination port does");
	put16(b + 20, 0x2000);		/* MF: a first fragment */
	put16(a + 20, 0x2000);
	put16(a + 36, 3000);
	is(net_flow_hash(b, 142), net_flow_hash(a, 142),
	   "hash: a fragment hashes its addresses only");
	/* one 802.1Q tag: the same flow as untagged */
	expect_frame(a, 1000, 2000, 100);
	memcpy(b, a, 12);
	put16(b + 12, 0x8100);
	put16(b + 14, 5);
	memcpy(b + 16, a + 12, 130);
	is(net_flow_hash(b, 146), net_flow_hash(a, 142),
	   "hash: behind an 802.1Q tag, the same flow");
	for (i = 0; i < 1000; i++) {
		expect_frame(a, 40000 + i, 5001, 10);
		hits[net_rx_queue(a, 52, 4)]++;
	}
	for (i = 0; i < 4; i++) {
		lo = hits[i] < lo ? hits[i] : lo;
		hi = hits[i] > hi ? hits[i] : hi;
	}
	ok(lo > 180 && hi < 320,
	   "hash: 1000 flows over 4 queues: %u .. %u each", lo, hi);
	is(net_rx_queue(a, 52, 1), 0, "hash: one queue: 0");
}

/*
 * Two queues, then four: TX on each queue's ring reaches the host; RX
 * steered by flow (every datagram of a flow on the queue
 * net_rx_queue() names, flows on both queues), each queue's port
 * raised for its own answers; the refusals of multi-queue keys.
 */
static void test_mq(void)
{
	static uint8_t pkt[2000], got[2000], fr[70000], ex[200];
	union vpv_netif_rx_slot s[20];
	struct fe dev, fq[MQ_MAX];
	uint32_t q, k, fl, len, per[MQ_MAX];
	bool same = true, all = true;
	char v[16];
	int w;

	ok(fe_add(&dev, 12, "--tap " TAP0 MAC_OPT " --queues 3"),
	   "vif 12 --queues 3");
	ok(be_key(&dev, "multi-queue-max-queues", v, sizeof(v)) == 3,
	   "multi-queue-max-queues 3 (%s)", v);
	fe_del(&dev);
	ok(!!strstr(dev_add(12, "--tap " TAP0 " --queues 9"), "--queues"),
	   "--queues 9: refused");
	ok(!!strstr(dev_add(12, "--tap " TAP0 " --queues 0"), "--queues"),
	   "--queues 0: refused");
	ok(fe_add(&dev, 12, "--tap " TAP0 MAC_OPT), "vif 12, no --queues");
	is(be_key(&dev, "multi-queue-max-queues", NULL, 0), 4,
	   "multi-queue-max-queues 4 by default");
	ok(mq_connect(&dev, fq, 2), "two queues: Connected");
	for (q = 0; q < 2; q++) {
		udp_drain();
		len = udp_frame(pkt, 300 + q, (uint8_t)(20 + q), false);
		ok(tx_one(&fq[q], pkt, len, 0, 0, 0) == 0,
		   "TX on queue %u (its own port): 0", q);
		ok(udp_recv(got, sizeof(got)) == (int)(300 + q) &&
		   !memcmp(got, pkt + 42, 300 + q), "... reaches the host");
	}
	for (q = 0; q < 2; q++) {
		rx_post(&fq[q], 64);
		kick(&fq[q]);
		port_clear(fq[q].port);
	}
	/* 12 flows (the host's port 7777 to 12 ports), 3 datagrams each */
	memset(per, 0, sizeof(per));
	for (fl = 0; fl < 12; fl++) {
		uint32_t want = net_rx_queue(ex, expect_frame(ex, UDP_PORT,
					     GUEST_PORT + fl, 100), 2);

		for (k = 0; k < 3; k++) {
			host_send(100, (uint8_t)(fl * 3 + k),
				  GUEST_PORT + fl);
			w = mq_which(fq, 2);
			if (w < 0) {
				all = false;
				break;
			}
			if (rx_packet(&fq[w], s, 20, fr, &len) != 1 ||
			    get16(fr + 36) != GUEST_PORT + fl ||
			    fr[42] != (uint8_t)(fl * 3 + k))
				all = false;
			if ((uint32_t)w != want) {
				same = false;
				printf("# flow %u: queue %d, hash says %u\n",
				       fl, w, want);
			}
			if (port_pending(fq[w].port)) {
				per[w]++;
				port_clear(fq[w].port);
			}
		}
	}
	ok(all, "36 datagrams of 12 flows arrive, in order, whole");
	ok(same, "each flow on the queue of its hash, every time");
	ok(per[0] > 0 && per[1] > 0,
	   "both queues carried flows, each queue's port raised (%u, %u)",
	   per[0], per[1]);
	is(NET_STAT(12, rx_packets, 36), 36, "rx_packets 36");
	mq_close(&dev, fq, 2);

	/* four queues, a kick on queue 3's port alone serves it */
	ok(mq_connect(&dev, fq, 4), "four queues: Connected");
	udp_drain();
	len = udp_frame(pkt, 500, 3, true);
	is(tx_one(&fq[3], pkt, len, VPV_NETIF_TXF_CSUM_BLANK, 34, 6), 0,
	   "TX on queue 3, CSUM_BLANK: 0");
	ok(udp_recv(got, sizeof(got)) == 500 && !memcmp(got, pkt + 42, 500),
	   "... reaches the host");
	mq_close(&dev, fq, 4);

	/* the refusals */
	mq_keys(&dev, fq, 2);
	fe_write(&dev, "multi-queue-num-queues", "%lu", 0);
	fe_write(&dev, "state", "%lu", VPV_BUS_INITIALISED);
	ok(wait_state(dev.be, VPV_BUS_CLOSING), "refused: num-queues 0");
	mq_close(&dev, fq, 2);
	mq_keys(&dev, fq, 2);
	fe_write(&dev, "multi-queue-num-queues", "%lu", 5);
	fe_write(&dev, "state", "%lu", VPV_BUS_INITIALISED);
	ok(wait_state(dev.be, VPV_BUS_CLOSING), "refused: num-queues 5 > 4");
	mq_close(&dev, fq, 2);
	mq_keys(&dev, fq, 2);
	fe_rm(&dev, "q1-rx-ring-ref0");
	fe_write(&dev, "state", "%lu", VPV_BUS_INITIALISED);
	ok(wait_state(dev.be, VPV_BUS_CLOSING), "refused: q1-rx-ring-ref0 missing");
	mq_close(&dev, fq, 2);
	mq_keys(&dev, fq, 2);
	fe_rm(&dev, "q1-event-channel");
	fe_write(&dev, "state", "%lu", VPV_BUS_INITIALISED);
	ok(wait_state(dev.be, VPV_BUS_CLOSING), "refused: q1-event-channel missing");
	mq_close(&dev, fq, 2);
	mq_keys(&dev, fq, 2);
	fe_write(&dev, "q1-event-channel", "%lu", fq[0].port);
	fe_write(&dev, "state", "%lu", VPV_BUS_INITIALISED);
	ok(wait_state(dev.be, VPV_BUS_CLOSING),
	   "refused: q1-event-channel the same port as q0's");
	mq_close(&dev, fq, 2);
	ok(mq_connect(&dev, fq, 2), "two queues again after the refusals");
	rx_post(&fq[1], 8);
	kick(&fq[1]);
	rx_post(&fq[0], 8);
	kick(&fq[0]);
	host_send(64, 1, GUEST_PORT);
	w = mq_which(fq, 2);
	ok(w >= 0 && rx_packet(&fq[w], s, 20, fr, &len) == 1,
	   "... and a datagram arrives (queue %d)", w);
#ifdef NET_PROC
	{
		int pid = beproc_pid("vif", g->domid, 12);

		kill(pid, SIGKILL);
		ok(wait_pid_not(12, pid) > 0, "two queues, kill -9: a new process");
		ok(wait_state(dev.be, VPV_BUS_INITWAIT), "... the device in InitWait");
		mq_close(&dev, fq, 2);
		ok(mq_connect(&dev, fq, 2), "... two queues reconnect");
		for (q = 0; q < 2; q++) {
			udp_drain();
			len = udp_frame(pkt, 400, (uint8_t)q, false);
			ok(tx_one(&fq[q], pkt, len, 0, 0, 0) == 0 &&
			   udp_recv(got, sizeof(got)) == 400,
			   "... TX on queue %u reaches the host", q);
			rx_post(&fq[q], 8);
			kick(&fq[q]);
		}
		host_send(80, 2, GUEST_PORT + 1);
		w = mq_which(fq, 2);
		ok(w >= 0 && rx_packet(&fq[w], s, 20, fr, &len) == 1 &&
		   fr[42] == 2, "... a datagram arrives (queue %d)", w);
	}
#endif
	mq_close(&dev, fq, 2);
	fe_del(&dev);
	usleep(100000);
	is(grant_nr_mapped(g), 0, "removed: no grant mapped");
}

/* ---- connect refusals ---- */

/* Initialised with one key bad: Closing; then every key good again. */
static void refusal(struct fe *f, const char *what)
{
	fe_write(f, "state", "%lu", VPV_BUS_INITIALISED);
	ok(wait_state(f->be, VPV_BUS_CLOSING), "connect refused: %s", what);
	fe_close(f);
	fe_keys(f, 0, F_ALL);
	fe_rm(f, "q0-vector");
	fe_rm(f, "mtu");
	be_write(f, "mtu", "1500");
	be_write(f, "max-ring-page-order", "2");
}

static void test_refusals(void)
{
	struct fe f;

	ok(fe_add(&f, 7, "--tap " TAP0 MAC_OPT), "vif 7 on " TAP0);
	ok(fe_connect(&f, 0, F_ALL), "Connected");
	fe_close(&f);
	fe_write(&f, "multi-queue-num-queues", "%lu", 0);
	refusal(&f, "multi-queue-num-queues 0");
	fe_write(&f, "multi-queue-num-queues", "%lu", 5);
	refusal(&f, "multi-queue-num-queues 5 (max 4)");
	fe_write(&f, "ring-page-order", "%lu", 3);
	refusal(&f, "ring-page-order 3");
	be_write(&f, "max-ring-page-order", "0");
	fe_write(&f, "ring-page-order", "%lu", 1);
	fe_write(&f, "q0-tx-ring-ref1", "%lu", REF_RING + 16 * 7 + 1);
	fe_write(&f, "q0-rx-ring-ref1", "%lu", REF_RING + 16 * 7 + 5);
	refusal(&f, "ring-page-order 1 above the back-end's 0");
	fe_rm(&f, "q0-rx-ring-ref0");
	refusal(&f, "q0-rx-ring-ref0 missing");
	fe_write_str(&f, "q0-tx-ring-ref0", "12x");
	refusal(&f, "q0-tx-ring-ref0 not a number");
	fe_rm(&f, "q0-event-channel");
	refusal(&f, "q0-event-channel missing");
	fe_write(&f, "q0-vector", "%lu", 2);
	refusal(&f, "q0-vector 2");
	fe_write(&f, "q0-vector", "%lu", 11);
	refusal(&f, "q0-vector 11");
	fe_rm(&f, "request-rx-copy");
	refusal(&f, "request-rx-copy absent");
	fe_write(&f, "request-rx-copy", "%lu", 0);
	refusal(&f, "request-rx-copy 0");
	fe_write(&f, "mtu", "%lu", 67);
	refusal(&f, "mtu 67");
	fe_write(&f, "mtu", "%lu", 1501);
	refusal(&f, "mtu 1501, above the back-end's 1500");
	fe_write(&f, "q0-tx-ring-ref0", "%lu", 7000);
	refusal(&f, "a ring page not granted");
	fe_write(&f, "q0-event-channel", "%lu", 4000);
	refusal(&f, "a port the guest did not allocate");
	be_write(&f, "mtu", "10000");
	refusal(&f, "the back-end's mtu 10000 (an admin's)");
	fe_write(&f, "q0-vector", "%lu", VPV_VEC_CPU0 + 1);
	fe_write(&f, "mtu", "%lu", 1500);
	fe_write(&f, "state", "%lu", VPV_BUS_INITIALISED);
	ok(wait_state(f.be, VPV_BUS_CONNECTED),
	   "q0-vector 4 and mtu 1500: Connected");
	is(grant_nr_mapped(g), 2, "two ring pages mapped, nothing else");
	fe_del(&f);
}

/* ---- the control path ---- */

static bool has(const char *s, const char *what)
{
	if (strstr(s, what))
		return true;
	printf("# no %s in %s\n", what, s);
	return false;
}

static void test_ctl(void)
{
	char v[64], want[32], *r;
	struct fe f;

	ok(fe_add(&f, 8, "--tap " TAP0), "vif 8 on " TAP0);
	snprintf(want, sizeof(want), "02:76:00:%02x:00:08", g->domid);
	be_key(&f, "mac", v, sizeof(v));
	ok(!strcmp(v, want), "mac %s, derived from domid and ID", v);
	is(be_key(&f, "mtu", NULL, 0), 1500, "mtu 1500");
	ok(be_key(&f, "feature-sg", NULL, 0) == 1 &&
	   be_key(&f, "feature-csum", NULL, 0) == 1 &&
	   be_key(&f, "feature-gso-tcpv4", NULL, 0) == 1 &&
	   be_key(&f, "feature-gso-tcpv6", NULL, 0) == 1,
	   "feature-sg, -csum, -gso-tcpv4, -gso-tcpv6 1");
	is(be_key(&f, "multi-queue-max-queues", NULL, 0), 4,
	   "multi-queue-max-queues 4 (VIF_QUEUES)");
	is(be_key(&f, "max-ring-page-order", NULL, 0), 2,
	   "max-ring-page-order 2");
	is(tap_mtu(TAP0), 1500, "the tap's MTU 1500");
	r = ctl_line("device list");
	ok(has(r, "\"tap\":\"" TAP0 "\"") && has(r, "\"net\":{\"tx_packets\":0"),
	   "device list: its tap and counters");
	r = ctl_line("stats");
	ok(has(r, "\"vifs\":{\"8\":{\"tx_packets\":0"),
	   "stats: the vif's counters");
	r = dev_add(9, "--tap " TAP0);
	ok(has(r, "Device or resource busy"),
	   "a second vif on " TAP0 ": refused (busy)");
	snprintf(v, sizeof(v), "/local/domain/0/backend/vif/%u/9", g->domid);
	ok(!info_of(9) && state_of(v) < 0, "... and nothing left of it");
	r = dev_add(8, "--tap " TAP1);
	ok(has(r, "EEXIST"), "vif 8 twice: EEXIST");
	ok(!tap_exists(TAP1), "... and no tap " TAP1 " left");
	fe_del(&f);
	ok(fe_add(&f, 9, "--tap " TAP1 " --mac 52:54:00:AB:cd:01 --mtu 9000"),
	   "vif 9 on a new tap " TAP1 ", --mac, --mtu 9000");
	ok(tap_exists(TAP1), "vpv-host made " TAP1);
	is(tap_mtu(TAP1), 9000, "its MTU 9000");
	be_key(&f, "mac", v, sizeof(v));
	ok(!strcmp(v, "52:54:00:ab:cd:01"), "mac 52:54:00:ab:cd:01 (%s)", v);
	is(be_key(&f, "mtu", NULL, 0), 9000, "mtu 9000");
	fe_del(&f);
	usleep(100000);
	ok(!tap_exists(TAP1), "removed: " TAP1 " went with its last fd");
	r = dev_add(10, "--tap " TAP1 " --mac 01:00:5e:00:00:01");
	ok(has(r, "bad --mac"), "a multicast --mac: refused");
	r = dev_add(10, "--tap " TAP1 " --mac 00:00:00:00:00:00");
	ok(has(r, "bad --mac"), "an all-zero --mac: refused");
	r = dev_add(10, "--tap " TAP1 " --mac 52:54:00:ab:cd");
	ok(has(r, "bad --mac"), "a short --mac: refused");
	r = dev_add(10, "--tap " TAP1 " --mtu 67");
	ok(has(r, "bad --mtu"), "--mtu 67: refused");
	r = dev_add(10, "--tap " TAP1 " --mtu 9001");
	ok(has(r, "bad --mtu"), "--mtu 9001: refused");
	r = dev_add(10, "--mtu 1500");
	ok(has(r, "--tap NAME is required"), "no --tap: refused");
	r = dev_add(10, "--tap a/b");
	ok(has(r, "Invalid argument"), "a tap name with '/': refused");
	r = dev_add(10, "--tap " TAP1 " --image /dev/null");
	ok(has(r, "usage"), "a vbd option: refused");
	ok(!info_of(10) && !tap_exists(TAP1),
	   "none of them left a device or a tap");
}

/* ---- the rate limit ---- */

/* The tap's rx counters (frames the back-end wrote): 0, or -1. */
static int tap_rx(const char *name, uint64_t *pkts, uint64_t *bytes)
{
	struct ifaddrs *ifa, *a;
	int ret = -1;

	if (getifaddrs(&ifa))
		return -1;
	for (a = ifa; a; a = a->ifa_next) {
		const struct rtnl_link_stats *st = a->ifa_data;

		if (!a->ifa_addr || a->ifa_addr->sa_family != AF_PACKET ||
		    strcmp(a->ifa_name, name) || !st)
			continue;
		*pkts = st->rx_packets;
		*bytes = st->rx_bytes;
		ret = 0;
	}
	freeifaddrs(ifa);
	return ret;
}

/*
 * Send n copies of the len-byte frame pkt (in the NTXD TX frames in
 * turn), one slot each, keeping the
 * TX ring full and taking the answers as they come: the milliseconds
 * it took, or 0 if an answer failed or did not come within 20 s.
 */
static uint64_t tx_stream(struct fe *f, const uint8_t *pkt, uint32_t len,
			  uint32_t n)
{
	uint64_t t0 = ms(), end = t0 + 20000;
	uint32_t sent = 0, done = 0, k;
	struct vpv_netif_tx_rsp r;
	bool pushed;

	for (k = 0; k < NTXD; k++)
		memcpy(txd(k) + 64, pkt, len);
	while (done < n) {
		if (ms() > end) {
			printf("# %u of %u answered\n", done, n);
			return 0;
		}
		pushed = false;
		while (sent < n && f->tx.req_prod_pvt - f->tx.rsp_cons <
		       f->tx.nr_ents) {
			union vpv_netif_tx_slot *s = slot(f);

			/* a grant's maps at once are bounded: 64 frames */
			s->req.gref = REF_TXD + sent % NTXD;
			s->req.offset = 64;
			s->req.size = len;
			sent++;
			pushed = true;
		}
		if (pushed)
			kick(f);
		drive(f);
		while (vpv_front_unconsumed_responses(&f->tx) > 0) {
			r = VPV_RING_ENTRY(f->txs, &f->tx, f->tx.rsp_cons++)->rsp;
			if (r.status) {
				printf("# answer %u: status %d\n", done,
				       r.status);
				return 0;
			}
			done++;
		}
		if (!pushed)
			usleep(1000);
	}
	return ms() - t0 ?: 1;
}

/*
 * fe_add on a tap the last device may not have let go of yet (its
 * process exits after the removal): retried while busy.
 */
static bool fe_add_free(struct fe *f, uint32_t id, const char *opts)
{
	uint64_t end = ms() + WAIT_MS;
	char *r;

	do {
		fe_init(f, id);
		r = dev_add(id, opts);
		if (!strstr(r, "busy"))
			break;
		usleep(10000);
	} while (ms() < end);
	if (!strstr(r, "\"device\""))
		printf("# %s\n", r);
	return strstr(r, "\"device\"");
}

/*
 * --rate 1M: 3 MiB of valid UDP packets take about 3 s and all of
 * them reach the tap; without a rate the same goes much faster.
 */
static void test_rate(void)
{
	static uint8_t pkt[1500];
	uint64_t p0, b0, p1, b1, t_rate, t_free;
	uint32_t len = udp_frame(pkt, 1400, 3, false);
	uint32_t n = (3u << 20) / len + 1;
	struct bus_dev_info *i;
	char v[64], *r;
	struct fe f;

	r = dev_add(12, "--tap " TAP0 " --rate 1023");
	ok(has(r, "bad --rate"), "--rate 1023: refused (below 1K)");
	r = dev_add(12, "--tap " TAP0 " --rate 65G");
	ok(has(r, "bad --rate"), "--rate 65G: refused (above 64G)");
	r = dev_add(12, "--tap " TAP0 " --rate 1X");
	ok(has(r, "bad --rate"), "--rate 1X: refused");
	r = dev_add(12, "--tap " TAP0 " --rate -1");
	ok(has(r, "bad --rate"), "--rate -1: refused");
	r = dev_add(12, "--tap " TAP0 " --rate");
	ok(has(r, "usage"), "--rate without a value: usage");
	ok(!info_of(12), "... none of them left a device");
	ok(fe_add_free(&f, 12, "--tap " TAP0 MAC_OPT " --rate 0"), "--rate 0");
	ok(be_key(&f, "rate", NULL, 0) < 0, "... no limit: no rate key");
	fe_del(&f);

	ok(fe_add_free(&f, 12, "--tap " TAP0 MAC_OPT " --rate 1M"),
	   "vif 12 on " TAP0 ", --rate 1M");
	be_key(&f, "rate", v, sizeof(v));
	ok(!strcmp(v, "52428,50000"), "rate 52428,50000 (Xen's BYTES,USEC: %s)",
	   v);
	ok(fe_connect(&f, 2, F_ALL), "Connected (512-entry rings)");
	udp_drain();
	tap_rx(TAP0, &p0, &b0);
	t_rate = tx_stream(&f, pkt, len, n);
	ok(t_rate >= 2500 && t_rate < 6000,
	   "%u packets, %u bytes at 1 MiB/s: %llu ms (about 3000)", n,
	   n * len, (unsigned long long)t_rate);
	p1 = p0 + 1;
	tap_rx(TAP0, &p1, &b1);
	ok(p1 - p0 == n && b1 - b0 == (uint64_t)n * len,
	   "... the tap took all %u, %llu bytes", n,
	   (unsigned long long)(b1 - b0));
	ok(NET_STAT(12, tx_packets, n) == n, "tx_packets %u", n);
	is(NET_STAT(12, tx_bytes, (uint64_t)n * len), (uint64_t)n * len,
	   "tx_bytes");
	is(NET_STAT(12, tx_host_dropped, 0), 0, "none dropped on the host");
	i = info_of(12);
	ok(i && i->net.tx_rate_waits >= 20,
	   "tx_rate_waits %llu (a stop per refill or so)",
	   i ? (unsigned long long)i->net.tx_rate_waits : 0);
	r = ctl_line("device list");
	ok(has(r, "\"tx_rate_waits\":"), "device list shows tx_rate_waits");
	fe_del(&f);

	/* packets larger than a period's credit (409 bytes): not starved */
	ok(fe_add_free(&f, 12, "--tap " TAP0 MAC_OPT " --rate 8K"),
	   "vif 12 again, --rate 8K: 409 bytes a period");
	ok(fe_connect(&f, 0, F_ALL), "Connected");
	t_rate = tx_stream(&f, pkt, len, 2);
	ok(t_rate >= 250 && t_rate < 2000,
	   "two %u-byte packets took %llu ms (about 350: credit collected)",
	   len, (unsigned long long)t_rate);
	ok(NET_STAT(12, tx_packets, 2) == 2, "... both went");
	fe_del(&f);

	ok(fe_add_free(&f, 13, "--tap " TAP0 MAC_OPT), "vif 13, no --rate");
	ok(fe_connect(&f, 2, F_ALL), "Connected");
	tap_rx(TAP0, &p0, &b0);
	t_free = tx_stream(&f, pkt, len, n);
	ok(t_free && t_free < 1000,
	   "the same without a rate: %llu ms", (unsigned long long)t_free);
	p1 = p0 + 1;
	tap_rx(TAP0, &p1, &b1);
	ok(p1 - p0 == n && b1 - b0 == (uint64_t)n * len,
	   "... the tap took all %u, %llu bytes", n,
	   (unsigned long long)(b1 - b0));
	is(NET_STAT(13, tx_rate_waits, 0), 0, "tx_rate_waits 0");
	fe_del(&f);
	udp_drain();
}

/*
 * Two queues under one rate: a packet of queue 1 that fits the credit
 * must not end queue 0's wait (one flag a device did: queue 0's packet
 * then waited on the ring for the guest's next kick, and a TCP flow
 * that moved between queues crawled).  Only a process has a timer to
 * miss: in-process, drive() serves every ring anyway.
 */
static void test_rate_mq(void)
{
	static uint8_t pkt[1500], small[100];
	uint32_t len = udp_frame(pkt, 1400, 5, false);
	uint32_t slen = udp_frame(small, 40, 6, false);
	struct fe dev, fq[MQ_MAX];
	uint64_t end;

	/* id 12: ring refs below the TX frames' (REF_RING + 16 id) */
	ok(fe_add_free(&dev, 12, "--tap " TAP0 MAC_OPT " --rate 8K"),
	   "vif 12 again, --rate 8K (409 bytes a period), two queues");
	ok(mq_connect(&dev, fq, 2), "... two queues: Connected");
	udp_drain();
	data(&fq[0], pkt, len, 6, 64);
	data(&fq[0], pkt, len, 7, 64);
	data(&fq[1], small, slen, 8, 64);
	vpv_front_push_requests(&fq[1].tx);	/* served in the same turn */
	kick(&fq[0]);
	end = ms() + 3000;
	while (ms() < end && vpv_front_unconsumed_responses(&fq[0].tx) < 2) {
		drive(&fq[0]);
		usleep(1000);
	}
	is(vpv_front_unconsumed_responses(&fq[0].tx), 2,
	   "queue 0's two packets go at the credit's pace, no kick needed");
	is(vpv_front_unconsumed_responses(&fq[1].tx), 1,
	   "... queue 1's small one went at once");
	fe_del(&dev);
	udp_drain();
}

/*
 * Two vifs on one switch (--switch, a real vpv-netswitch): a GSO TCPv4
 * packet from one front-end reaches the other, which takes no GSO
 * (feature-gso-* 0): vpv-netback segments it (net_gso_segment()), three
 * plain frames with their checksums done; then a datagram back.
 */
static void test_switch(void)
{
	static const uint8_t ma[6] = { 0x02, 0x00, 0x0a, 0x4e, 0x00, 0x01 };
	static const uint8_t mb[6] = { 0x02, 0x00, 0x0a, 0x4e, 0x00, 0x02 };
	static uint8_t pkt[5000], fr[70000];
	union vpv_netif_rx_slot rs[20];
	union vpv_netif_tx_slot *s;
	uint32_t len = 54 + 3 * 1448, k, n, got = 0;
	uint8_t *t = pkt + 34;
	struct fe a, b;

	ok(fe_add(&a, 20, "--switch swt --mac 02:00:0a:4e:00:01"),
	   "vif 20 on switch swt");
	ok(fe_add(&b, 21, "--switch swt --mac 02:00:0a:4e:00:02"),
	   "vif 21 on switch swt");
	memcpy(a.mac, ma, 6);
	memcpy(b.mac, mb, 6);
	ok(fe_connect(&a, 0, F_ALL), "vif 20 Connected, every feature");
	ok(fe_connect(&b, 0, F_SG | F_CSUM), "vif 21 Connected, no GSO");
	b.rxb = 0;
	rx_post(&b, 64);
	kick(&b);
	eth_ip(pkt, mb, ma, GUEST_IP, HOST_IP, 6, 20 + 3 * 1448);
	memset(t, 0, 20);
	put16(t, 6000);
	put16(t + 2, 6001);
	put32(t + 4, 1000);
	t[12] = 5 << 4;
	t[13] = 0x18;			/* PSH ACK */
	put16(t + 14, 65535);
	for (k = 0; k < 3 * 1448; k++)
		t[20 + k] = (uint8_t)(k * 3);
	put16(t + 16, fold(pseudo(pkt + 14, 6, 20 + 3 * 1448)));
	s = data(&a, pkt, 54, 4, 0);
	s->req.flags = VPV_NETIF_TXF_CSUM_BLANK | VPV_NETIF_TXF_MORE_DATA |
		       VPV_NETIF_TXF_EXTRA_INFO;
	s->req.csum_start = 34;
	s->req.csum_offset = 16;
	s = slot(&a);
	s->extra.type = VPV_NETIF_EXTRA_GSO;
	s->extra.u.gso.size = 1448;
	s->extra.u.gso.type = VPV_NETIF_GSO_TCPV4;
	s = data(&a, pkt + 54, 4042, 5, 54);
	s->req.flags = VPV_NETIF_TXF_MORE_DATA;
	data(&a, pkt + 54 + 4042, len - 54 - 4042, 6, 0);
	is(tx_answers(&a, 4, 1u << 1), 0, "vif 20 sends GSO TCPv4 (3 x 1448)");
	for (k = 0; k < 3; k++) {
		bool last = k == 2;

		n = rx_packet(&b, rs, 20, fr, &len);
		if (n && len == 54 + 1448 && get32(fr + 38) == 1000 + k * 1448 &&
		    !memcmp(fr + 54, t + 20 + k * 1448, 1448) &&
		    l4_csum_ok(fr, len, 6) &&
		    (rs[0].rsp.flags & VPV_NETIF_RXF_DATA_VALIDATED) &&
		    !(rs[0].rsp.flags & VPV_NETIF_RXF_EXTRA_INFO) &&
		    !!(fr[47] & 0x08) == last)
			got++;
	}
	/* 1502 bytes, seq + 1448 each, the bytes, checksums, PSH last */
	is(got, 3, "vif 21 gets 3 segments, each as the host kernel makes them");
	is(NET_STAT(21, rx_gso_soft, 1), 1, "vif 21: rx_gso_soft 1");
	is(NET_STAT(21, rx_not_accepted, 0), 0, "... rx_not_accepted 0");
	a.rxb = 256;
	rx_post(&a, 8);
	kick(&a);
	len = udp_frame(pkt, 300, 9, false);
	memcpy(pkt, ma, 6);
	memcpy(pkt + 6, mb, 6);
	is(tx_one(&b, pkt, len, 0, 0, 0), 0, "vif 21 sends a datagram to vif 20");
	n = rx_packet(&a, rs, 20, fr, &len);
	ok(n == 1 && len == 342 && !memcmp(fr + 42, pkt + 42, 300),
	   "... vif 20 gets it (learned: unicast)");
	ok(has(ctl_line("switch list"), "\"name\":\"swt\""),
	   "switch list shows swt");
	fe_del(&a);
	fe_del(&b);
}

#ifdef NET_PROC
static int wait_pid_not(uint32_t id, int old)
{
	uint64_t end = ms() + WAIT_MS;
	int pid;

	while (ms() < end) {
		pid = beproc_pid("vif", g->domid, id);
		if (pid > 0 && pid != old)
			return pid;
		usleep(500);
	}
	return 0;
}

/* Both ways through the process: one datagram each. */
static void both_ways(struct fe *f, const char *when)
{
	static uint8_t pkt[2000], got[2000], fr[70000];
	union vpv_netif_rx_slot s[20];
	uint32_t len;

	udp_drain();
	len = udp_frame(pkt, 600, 11, true);
	ok(tx_one(f, pkt, len, VPV_NETIF_TXF_CSUM_BLANK, 34, 6) == 0,
	   "%s: a packet from the guest", when);
	ok(udp_recv(got, sizeof(got)) == 600 && !memcmp(got, pkt + 42, 600),
	   "%s: ... reaches the host", when);
	rx_post(f, 8);
	kick(f);
	host_send(700, 6, GUEST_PORT);
	ok(rx_packet(f, s, 20, fr, &len) == 1 && is_ours(fr, len, f, 700, 6),
	   "%s: a datagram to the guest arrives", when);
}

/* The real vpv-netback: sandboxed, serves, reports, dies, comes back. */
static void test_proc(void)
{
	struct bus_dev_info *i;
	int pid, k;
	struct fe f;
	char *r;

	ok(fe_add(&f, 11, "--tap " TAP0 MAC_OPT), "vif 11 on " TAP0);
	pid = beproc_pid("vif", g->domid, 11);
	ok(pid > 0, "vif/11 has a vpv-netback process (pid %d)", pid);
	for (k = 0; k < 1000 && !seccomp_on(pid); k++)
		usleep(1000);
	ok(seccomp_on(pid), "its seccomp filter is active (Seccomp: 2)");
	ok(fe_connect(&f, 2, F_ALL), "four-page rings: Connected");
	both_ways(&f, "first");
	is(NET_STAT(11, rx_packets, 1), 1, "NET_STATS: rx_packets 1");
	is(NET_STAT(11, tx_packets, 1), 1, "NET_STATS: tx_packets 1");
	i = info_of(11);
	ok(i && i->net.map_calls >= 2 && i->net.syncs >= 1,
	   "time: %llu GRANT_MAPs, %llu SYNCs",
	   i ? (unsigned long long)i->net.map_calls : 0,
	   i ? (unsigned long long)i->net.syncs : 0);
	r = ctl_line("device list");
	ok(has(r, "\"rx_packets\":1"), "device list shows them");
	for (k = 0; k < 3; k++) {
		pid = beproc_pid("vif", g->domid, 11);
		kill(pid, SIGKILL);
		ok(wait_pid_not(11, pid) > 0, "kill -9 #%d: a new process", k + 1);
		ok(wait_state(f.be, VPV_BUS_INITWAIT), "... the device in InitWait");
		fe_close(&f);
		ok(fe_connect(&f, 2, F_ALL), "... the front-end reconnects");
		both_ways(&f, "after the kill");
		/* sent within BE_STATS_MS: what a kill -9 does not lose */
		is(NET_STAT(11, rx_packets, k + 2), k + 2,
		   "... its counters reach the core");
	}
	is(NET_STAT(11, tx_packets, 4), 4, "the counters survived: tx_packets 4");
	i = info_of(11);
	is(i ? (int)i->be_crashes : -1, 3, "three crashes");
	fe_del(&f);
	usleep(100000);
	is(beproc_nr_fds(), 0, "removed: no back-end fd left");
	is(grant_nr_mapped(g), 0, "... no grant mapped");
}
#endif

int main(void)
{
	if (geteuid()) {
		printf("1..0 # SKIP not root: no network namespace\n");
		return 0;
	}
#ifndef NET_PROC
	be_inproc_register(&net_be_ops);	/* before the process driver */
#endif
	/* first: every thread and process made later is in it */
	if (!netns_setup()) {
		printf("1..0 # SKIP no network namespace: %s\n",
		       strerror(errno));
		return 0;
	}
	test_guest(g, 32 << 20, 1);
	call(g, VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES, 0, 0);
	for (uint32_t i = 0; i < NTXD; i++)
		test_grant(g, REF_TXD + i, TXD_PFN + i,
			   VPV_GTF_PERMIT_ACCESS | VPV_GTF_READONLY);
	for (uint32_t i = 0; i < NRXB; i++)
		test_grant(g, REF_RXB + i, RXB_PFN + i, VPV_GTF_PERMIT_ACCESS);
	test_ctl();
	test_tx();
	test_gso();
	test_classes();
	test_rx();
	test_rx_persistent();
	test_tx_persistent();
	test_tcp();
	test_rx_jumbo();
	test_backlog();
	test_refusals();
	test_flow_hash();
	test_mq();
	test_rate();
	test_rate_mq();
	test_switch();
#ifdef NET_PROC
	test_proc();
#endif
	guest_destroy(g);
	return tap_done();
}
