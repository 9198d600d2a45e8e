// SPDX-License-Identifier: GPL-2.0
/*
 * nethostile: a hostile vif front-end.  Binds to the vif device whose
 * id is the module parameter devid (vnetfront takes the others: probe
 * refuses the rest with -ENODEV and the driver core tries the next
 * driver, so load this module first), connects to vpv-netback with one
 * queue of one-page TX and RX rings (abi/vpv_netif.h) and, for each
 * name the guest script writes to debugfs vpv_nethostile_ctl/run, puts
 * the packets of that group on its TX ring and checks every answer
 * against the validation table of Documentation/netif.rst: each slot
 * answered once, data slots with the class's status, extras with
 * VPV_NETIF_RSP_NULL, and a good packet right after each bad one still
 * answered 0.  Groups: good, malformed (class 1), offered and
 * not_offered (class 2, the latter after the host turned feature-sg and
 * feature-csum off), too_many_slots (3), bad_slot (4), bad_length (5),
 * bad_offload (6), bad_grant (7), chain_past_req_prod,
 * extras_past_req_prod and req_prod_ahead (class P: the device goes
 * Closing, then this module reconnects), double_fetch (a slot rewritten
 * after its push), flood (the ring kept full of good packets for
 * flood_ms), answered_once.  Results (KTAP) of the last run in debugfs
 * vpv_nethostile/results.
 *
 * RX buffers are posted only by rx_persistent (feature-persistent,
 * Documentation/netif.rst "Persistent RX buffers"): four pages granted
 * writable for the connection, filled by the host's ARP replies to
 * ARP requests this module sends, posted again under the same grants
 * (the back-end keeps them mapped: ending one's grant is refused), then
 * with a reference never granted (answered -VPV_EPERM alone) and one
 * grant in two buffers.  Otherwise what the host sends to this device
 * waits and is dropped by the back-end (rx_expired), as XSA-392 says.
 * The module writes only its own rings, its own granted pages and its
 * own store keys; every grant it hands out is of its own pages.  The
 * good packets are Ethernet broadcasts of an unassigned local
 * EtherType (IEEE 802 local experimental 0x88b5): the host kernel
 * counts them on the tap and drops them.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/etherdevice.h>
#include <linux/if_arp.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <pvkit/vbus.h>
#include <pvkit/vhypercall.h>

#include "abi/vpv_netif.h"
#include "pvkit_ktap.h"

static unsigned int devid = 7;
module_param(devid, uint, 0444);
MODULE_PARM_DESC(devid, "The vif device id to bind (default 7)");

static unsigned int flood_ms = 5000;
module_param(flood_ms, uint, 0444);
MODULE_PARM_DESC(flood_ms, "How long the flood keeps the TX ring full (default 5000 ms)");

/* an answer takes a TCG guest and a loaded host well under this */
#define NH_WAIT		msecs_to_jiffies(10000)
#define NH_POLL		msecs_to_jiffies(100)
/* the bus's Closing, and our reconnect, take well under this */
#define NH_STATE_WAIT	(30 * HZ)
/* TX ids: 16 bits on the wire; 0 is never used */
#define NH_IDS		65536
/* the longest packet we build: 40 data slots and two extras */
#define NH_MAX_SLOTS	48
/* a good frame: more than an Ethernet header, well under the MTU */
#define NH_GOOD_LEN	60
/* a reference no one granted: the table has far fewer entries */
#define NH_BAD_GREF	0x7ffffff0u
/* no guest has this domid here, and it is not VPV_DOMID_HOST */
#define NH_OTHER_DOMID	0x7000
/* an Ethernet frame's checksum field: an IPv4/TCP one's place */
#define NH_CSUM_START	34
#define NH_CSUM_OFFSET	16
/* rx_persistent's buffers: pages granted writable for the connection */
#define NH_RXB		4
/* the host's address on this device's tap (tests/harness/netagent.py) */
#define NH_HOST_IP	0x0a4d0101u	/* 10.77.1.1 */
#define NH_GUEST_IP	0x0a4d0102u	/* 10.77.1.2, ours in the requests */
#define NH_ARP_LEN	42		/* Ethernet + ARP for IPv4 */
/* times the double-fetch frame is rewritten after its push, rounds */
#define NH_REWRITES	4000
#define NH_DF_ROUNDS	200
/* a TCP MSS the host side would take */
#define NH_GSO_SIZE	1448

struct nh_dev {
	struct vpv_bus_device *bdev;
	struct mutex lock;		/* everything below */
	wait_queue_head_t wq;
	atomic_t events;		/* interrupts seen */
	struct vpv_netif_tx_sring *txs;
	struct vpv_netif_rx_sring *rxs;
	struct vpv_front_ring tx, rx;
	int tx_ref, rx_ref;
	bool pers;			/* the back-end's feature-persistent */
	struct page *rxpg[NH_RXB];	/* rx_persistent's buffers */
	int rxref[NH_RXB];		/* their grants (writable), 0: none */
	u8 mac[ETH_ALEN];		/* the back-end's "mac" */
	unsigned int port;
	int irq;
	struct page *page;		/* the frames' bytes, read-only grant */
	int gref;
	bool live;			/* both ends Connected */
	bool ring_bad;			/* the back-end broke the ring */
	unsigned int connects;		/* connect() calls that succeeded */
	/* the back-end's keys at the last connect */
	unsigned int mtu;
	bool sg, csum, gso4;
	u16 next_id;
	u8 *inflight;			/* per id: on the ring, unanswered */
	u8 *answers;			/* per id: answers since it was sent */
	s16 *status;			/* per id: the last status */
	/* packets answered as expected, since load: the script compares
	 * them with the back-end's counters
	 */
	unsigned long accepted, refused;
	unsigned long answered, errors;	/* answers in flight, non-zero ones */
	unsigned long strays;		/* answers to no slot in flight */
	unsigned long dups;		/* second answers */
};

static struct nh_dev *nh;
static DEFINE_MUTEX(nh_bind);		/* nh */

/* A packet being built: its slots in ring order. */
struct nh_pkt {
	union vpv_netif_tx_slot s[NH_MAX_SLOTS];
	unsigned int n;
	unsigned int last_data;		/* the data slot MORE_DATA goes on */
	u16 ids[NH_MAX_SLOTS];
};

static irqreturn_t nh_interrupt(int irq, void *data)
{
	struct nh_dev *d = data;

	atomic_inc(&d->events);
	wake_up(&d->wq);
	return IRQ_HANDLED;
}

/* Under d->lock: take every response there is; false on a bad ring. */
static bool nh_consume(struct nh_dev *d)
{
	long n;

	if (!d->live || d->ring_bad)
		return false;
	n = vpv_front_unconsumed_responses(&d->tx);
	if (n < 0) {
		d->ring_bad = true;
		return false;
	}
	while (n-- > 0) {
		struct vpv_netif_tx_rsp rsp;

		/* one read of the entry: the back-end may rewrite it */
		rsp = VPV_RING_ENTRY(d->txs, &d->tx, d->tx.rsp_cons)->rsp;
		d->tx.rsp_cons++;
		if (!rsp.id || !d->inflight[rsp.id]) {
			if (rsp.id && d->answers[rsp.id])
				d->dups++;
			else
				d->strays++;
			continue;
		}
		d->inflight[rsp.id] = 0;
		d->answers[rsp.id]++;
		d->answered++;
		d->errors += !!rsp.status;
		d->status[rsp.id] = rsp.status;
	}
	/* ask for an interrupt at the next response */
	VPV_RING_WRITE(d->tx.hdr->rsp_event, d->tx.rsp_cons + 1);
	vpv_ring_mb();			/* rsp_event before looking again */
	return true;
}

/* Under d->lock: a fresh id, not in flight (ids are 16 bits). */
static u16 nh_new_id(struct nh_dev *d)
{
	do {
		d->next_id++;
	} while (!d->next_id || d->inflight[d->next_id]);
	d->inflight[d->next_id] = 1;
	d->answers[d->next_id] = 0;
	return d->next_id;
}

/*
 * Under d->lock: put @p's slots on the ring under new ids (in p->ids),
 * then, if @push, publish and notify.  false when not live or there is
 * no room.
 */
static bool nh_put(struct nh_dev *d, struct nh_pkt *p, bool push)
{
	unsigned int i;

	if (!d->live || d->ring_bad || vpv_front_free_requests(&d->tx) < p->n)
		return false;
	for (i = 0; i < p->n; i++) {
		union vpv_netif_tx_slot *e;

		/* id is the first field of both kinds of slot */
		p->s[i].req.id = nh_new_id(d);
		p->ids[i] = p->s[i].req.id;
		e = &VPV_RING_ENTRY(d->txs, &d->tx, d->tx.req_prod_pvt)->req;
		memcpy(e, &p->s[i], sizeof(*e));
		d->tx.req_prod_pvt++;
	}
	if (push) {
		vpv_front_push_requests(&d->tx);
		vpv_evtchn_notify(d->port);
	}
	return true;
}

/* Wait until every slot of @p is answered: true, or false on timeout. */
static bool nh_wait(struct nh_dev *d, const struct nh_pkt *p)
{
	unsigned long end = jiffies + NH_WAIT;
	bool done;
	unsigned int i;
	int seen;

	for (;;) {
		seen = atomic_read(&d->events);
		mutex_lock(&d->lock);
		nh_consume(d);
		for (i = 0, done = true; i < p->n && done; i++)
			done = d->answers[p->ids[i]];
		mutex_unlock(&d->lock);
		if (done || time_after(jiffies, end))
			return done;
		wait_event_timeout(d->wq, atomic_read(&d->events) != seen,
				   NH_POLL);
	}
}

/* Is slot @i of @p an extra?  (after slot 0 with EXTRA_INFO, while MORE) */
static bool nh_is_extra(const struct nh_pkt *p, unsigned int i)
{
	unsigned int j;

	if (!i || !(p->s[0].req.flags & VPV_NETIF_TXF_EXTRA_INFO))
		return false;
	for (j = 1; j < p->n; j++) {
		if (j == i)
			return true;
		if (!(p->s[j].extra.flags & VPV_NETIF_EXTRAF_MORE))
			return false;
	}
	return false;
}

/*
 * Send @p, wait for its answers and check them: every data slot
 * answered once with @want, every extra with VPV_NETIF_RSP_NULL.
 */
static bool nh_expect(struct nh_pkt *p, long want, const char *what)
{
	unsigned int i, bad = 0, once = 0;
	long first = 0;
	bool ok;

	mutex_lock(&nh->lock);
	ok = nh_put(nh, p, true);
	mutex_unlock(&nh->lock);
	if (!kt_check(ok, "%s: not connected, or no room", what))
		return false;
	if (!kt_check(nh_wait(nh, p), "%s: not answered in 10 s", what))
		return false;
	mutex_lock(&nh->lock);
	for (i = 0; i < p->n; i++) {
		long st = nh->status[p->ids[i]];
		long w = nh_is_extra(p, i) ? VPV_NETIF_RSP_NULL : want;

		if (nh->answers[p->ids[i]] != 1)
			once++;
		if (st != w && !bad++)
			first = st;
	}
	if (!bad && !once) {
		if (want)
			nh->refused++;
		else
			nh->accepted++;
	}
	mutex_unlock(&nh->lock);
	kt_check(!once, "%s: %u slots not answered exactly once", what, once);
	return kt_check(!bad, "%s: %u of %u slots with another status (first %ld), want %ld",
			what, bad, p->n, first, want);
}

/* ---- packets ---- */

/* A packet of one data slot of @size bytes at @offset of our page. */
static void pk_init(struct nh_pkt *p, u16 flags, u16 offset, u16 size)
{
	memset(p, 0, sizeof(*p));
	p->s[0].req.flags = flags;
	p->s[0].req.gref = nh->gref;
	p->s[0].req.offset = offset;
	p->s[0].req.size = size;
	p->n = 1;
}

/* Append an extra (before any further data slot); chain it. */
static struct vpv_netif_extra *pk_extra(struct nh_pkt *p, u8 type)
{
	struct vpv_netif_extra *e = &p->s[p->n].extra;

	if (p->s[0].req.flags & VPV_NETIF_TXF_EXTRA_INFO)
		p->s[p->n - 1].extra.flags |= VPV_NETIF_EXTRAF_MORE;
	p->s[0].req.flags |= VPV_NETIF_TXF_EXTRA_INFO;
	e->type = type;
	p->n++;
	return e;
}

static void pk_gso(struct nh_pkt *p, u8 type, u16 size)
{
	struct vpv_netif_extra *e = pk_extra(p, VPV_NETIF_EXTRA_GSO);

	e->u.gso.type = type;
	e->u.gso.size = size;
}

/* Append a data slot; MORE_DATA on the data slot before it. */
static struct vpv_netif_tx_req *pk_data(struct nh_pkt *p, u32 gref,
					u16 offset, u16 size)
{
	struct vpv_netif_tx_req *r = &p->s[p->n].req;

	p->s[p->last_data].req.flags |= VPV_NETIF_TXF_MORE_DATA;
	p->last_data = p->n;
	r->gref = gref;
	r->offset = offset;
	r->size = size;
	p->n++;
	return r;
}

/* A test's packet buffer (an nh_pkt is 1 KiB: not on the stack). */
static struct nh_pkt *nh_pkt_alloc(void)
{
	struct nh_pkt *p = kmalloc(sizeof(*p), GFP_KERNEL);

	kt_check(p, "no memory");
	return p;
}

/* One good frame: answered 0 (the device still serves). */
static bool nh_good(const char *what)
{
	struct nh_pkt *p = nh_pkt_alloc();
	bool ok;

	if (!p)
		return false;
	pk_init(p, 0, 0, NH_GOOD_LEN);
	ok = nh_expect(p, 0, what);
	kfree(p);
	return ok;
}

/* bad packet @p answered @want, then a good one answered 0 */
static void nh_bad(struct nh_pkt *p, long want, const char *what)
{
	char after[96];

	nh_expect(p, want, what);
	snprintf(after, sizeof(after), "good frame after \"%s\"", what);
	nh_good(after);
}

/* ---- tests ---- */

static int t_connected(void)
{
	kt_check(nh && nh->live, "not Connected to a back-end");
	if (!nh || !nh->live)
		return 0;
	kt_eq(nh->tx.nr_ents, 128, "TX ring entries of one page");
	kt_out("# mtu %u feature-sg %d feature-csum %d feature-gso-tcpv4 %d\n",
	       nh->mtu, nh->sg, nh->csum, nh->gso4);
	return 0;
}

static int t_good(void)
{
	struct nh_pkt *p = nh_pkt_alloc();
	unsigned int i;

	if (!p)
		return 0;
	nh_good("one 60-byte frame");
	pk_init(p, 0, 0, VPV_NETIF_MIN_FRAME);
	nh_expect(p, 0, "a 14-byte frame (the least)");
	pk_init(p, 0, 0, nh->mtu + VPV_NETIF_HDR_MAX);
	nh_expect(p, 0, "a frame of mtu + 18 bytes (the most without GSO)");
	pk_init(p, VPV_NETIF_TXF_DATA_VALIDATED, 4096 - NH_GOOD_LEN,
		NH_GOOD_LEN);
	nh_expect(p, 0, "DATA_VALIDATED, at the end of its frame");
	if (nh->sg) {
		pk_init(p, 0, 0, NH_GOOD_LEN);
		for (i = 1; i < VPV_NETIF_MAX_SLOTS; i++)
			pk_data(p, nh->gref, 64 * i, NH_GOOD_LEN);
		nh_expect(p, 0, "18 data slots (the most)");
	}
	kfree(p);
	return 0;
}

/* class 1: -VPV_EINVAL, tx_malformed */
static int t_malformed(void)
{
	struct nh_pkt *p = nh_pkt_alloc();

	if (!p)
		return 0;
	pk_init(p, 0x20, 0, NH_GOOD_LEN);
	nh_bad(p, -VPV_EINVAL, "flag 0x20");
	pk_init(p, 0xfff0, 0, NH_GOOD_LEN);
	nh_bad(p, -VPV_EINVAL, "flags 0xfff0");
	pk_init(p, VPV_NETIF_TXF_CSUM_BLANK | VPV_NETIF_TXF_DATA_VALIDATED, 0,
		NH_GOOD_LEN);
	p->s[0].req.csum_start = NH_CSUM_START;
	p->s[0].req.csum_offset = NH_CSUM_OFFSET;
	nh_bad(p, -VPV_EINVAL, "CSUM_BLANK with DATA_VALIDATED");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	p->s[0].req.csum_start = NH_CSUM_START;
	nh_bad(p, -VPV_EINVAL, "csum_start without CSUM_BLANK");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	p->s[0].req.csum_offset = 2;
	nh_bad(p, -VPV_EINVAL, "csum_offset without CSUM_BLANK");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_data(p, nh->gref, 0, NH_GOOD_LEN)->flags = VPV_NETIF_TXF_CSUM_BLANK;
	nh_bad(p, -VPV_EINVAL, "a later data slot with CSUM_BLANK");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_data(p, nh->gref, 0, NH_GOOD_LEN)->csum_start = NH_CSUM_START;
	nh_bad(p, -VPV_EINVAL, "a later data slot with csum_start");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_extra(p, 0);
	nh_bad(p, -VPV_EINVAL, "an extra of type 0");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_extra(p, VPV_NETIF_EXTRA_MAX);
	nh_bad(p, -VPV_EINVAL, "an extra of type EXTRA_MAX");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_extra(p, 0xff);
	nh_bad(p, -VPV_EINVAL, "an extra of type 255");
	pk_init(p, VPV_NETIF_TXF_CSUM_BLANK, 0, NH_GOOD_LEN);
	p->s[0].req.csum_start = NH_CSUM_START;
	p->s[0].req.csum_offset = NH_CSUM_OFFSET;
	pk_gso(p, VPV_NETIF_GSO_TCPV4, NH_GSO_SIZE);
	p->s[1].extra.flags = 0x2;
	nh_bad(p, -VPV_EINVAL, "an extra with flag 0x2");
	p->s[1].extra.flags = 0;
	p->s[1].extra.pad = 1;
	nh_bad(p, -VPV_EINVAL, "an extra with pad 1");
	p->s[1].extra.pad = 0;
	p->s[1].extra.u.gso.pad = 1;
	nh_bad(p, -VPV_EINVAL, "a GSO extra with gso.pad 1");
	p->s[1].extra.u.gso.pad = 0;
	p->s[1].extra.u.gso.pad2 = 0x80000000u;
	nh_bad(p, -VPV_EINVAL, "a GSO extra with gso.pad2 set");
	p->s[1].extra.u.gso.pad2 = 0;
	p->s[1].extra.u.gso.type = 3;
	nh_bad(p, -VPV_EINVAL, "GSO type 3");
	p->s[1].extra.u.gso.type = 0;
	nh_bad(p, -VPV_EINVAL, "GSO type 0");
	/* two GSO extras: a type twice, more than MAX_EXTRAS */
	pk_init(p, VPV_NETIF_TXF_CSUM_BLANK, 0, NH_GOOD_LEN);
	p->s[0].req.csum_start = NH_CSUM_START;
	p->s[0].req.csum_offset = NH_CSUM_OFFSET;
	pk_gso(p, VPV_NETIF_GSO_TCPV4, NH_GSO_SIZE);
	pk_gso(p, VPV_NETIF_GSO_TCPV4, NH_GSO_SIZE);
	nh_bad(p, -VPV_EINVAL, "two GSO extras");
	/* a chain of MORE extras, then data slots */
	pk_init(p, 0, 0, NH_GOOD_LEN);
	while (p->n < 6)
		pk_extra(p, VPV_NETIF_EXTRA_GSO);
	pk_data(p, nh->gref, 0, NH_GOOD_LEN);
	nh_bad(p, -VPV_EINVAL, "five extras and a second data slot");
	kfree(p);
	return 0;
}

/* class 2 with the features on: the same packets are accepted */
static int t_offered(void)
{
	struct nh_pkt *p = nh_pkt_alloc();

	if (!p)
		return 0;
	if (!nh->sg || !nh->csum) {
		kfree(p);
		return kt_skip("feature-sg or feature-csum off");
	}
	pk_init(p, 0, 0, NH_GOOD_LEN / 2);
	pk_data(p, nh->gref, 0, NH_GOOD_LEN / 2);
	nh_expect(p, 0, "two data slots with feature-sg");
	pk_init(p, VPV_NETIF_TXF_CSUM_BLANK, 0, NH_GOOD_LEN);
	p->s[0].req.csum_start = NH_CSUM_START;
	p->s[0].req.csum_offset = NH_CSUM_OFFSET;
	nh_expect(p, 0, "CSUM_BLANK with feature-csum");
	kfree(p);
	return 0;
}

/* class 2: -VPV_EOPNOTSUPP, tx_not_offered (the host turned them off) */
static int t_not_offered(void)
{
	struct nh_pkt *p = nh_pkt_alloc();

	if (!p)
		return 0;
	kt_check(!nh->sg && !nh->csum && !nh->gso4,
		 "the back-end still offers sg %d csum %d gso-tcpv4 %d",
		 nh->sg, nh->csum, nh->gso4);
	pk_init(p, 0, 0, NH_GOOD_LEN / 2);
	pk_data(p, nh->gref, 0, NH_GOOD_LEN / 2);
	nh_bad(p, -VPV_EOPNOTSUPP, "two data slots without feature-sg");
	pk_init(p, VPV_NETIF_TXF_CSUM_BLANK, 0, NH_GOOD_LEN);
	p->s[0].req.csum_start = NH_CSUM_START;
	p->s[0].req.csum_offset = NH_CSUM_OFFSET;
	nh_bad(p, -VPV_EOPNOTSUPP, "CSUM_BLANK without feature-csum");
	pk_gso(p, VPV_NETIF_GSO_TCPV4, NH_GSO_SIZE);
	nh_bad(p, -VPV_EOPNOTSUPP, "CSUM_BLANK and GSO TCPv4, neither offered");
	kfree(p);
	return 0;
}

/* class 3: -VPV_E2BIG, tx_too_many_slots */
static int t_too_many_slots(void)
{
	struct nh_pkt *p = nh_pkt_alloc();

	if (!p)
		return 0;
	pk_init(p, 0, 0, NH_GOOD_LEN);
	while (p->n < VPV_NETIF_MAX_SLOTS + 1)
		pk_data(p, nh->gref, 0, NH_GOOD_LEN);
	nh_bad(p, -VPV_E2BIG, "19 data slots");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	while (p->n < 40)
		pk_data(p, nh->gref, 0, 1);
	nh_bad(p, -VPV_E2BIG, "40 data slots");
	/* also when a slot is bad otherwise: class 3 before class 4 */
	p->s[20].req.size = 0;
	nh_bad(p, -VPV_E2BIG, "40 data slots, one of size 0");
	kfree(p);
	return 0;
}

/* class 4: -VPV_EINVAL, tx_bad_slot */
static int t_bad_slot(void)
{
	struct nh_pkt *p = nh_pkt_alloc();

	if (!p)
		return 0;
	pk_init(p, 0, 0, 0);
	nh_bad(p, -VPV_EINVAL, "one slot of size 0");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_data(p, nh->gref, 100, 0);
	nh_bad(p, -VPV_EINVAL, "a second slot of size 0 (a zero-length fragment)");
	pk_init(p, 0, 4096, NH_GOOD_LEN);
	nh_bad(p, -VPV_EINVAL, "offset 4096");
	pk_init(p, 0, 0xffff, NH_GOOD_LEN);
	nh_bad(p, -VPV_EINVAL, "offset 65535");
	pk_init(p, 0, 4000, 200);
	nh_bad(p, -VPV_EINVAL, "offset 4000 + size 200 (crosses its frame)");
	pk_init(p, 0, 0, 4097);
	nh_bad(p, -VPV_EINVAL, "size 4097 (an overlong fragment)");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_data(p, nh->gref, 1, 0xffff);
	nh_bad(p, -VPV_EINVAL, "a second slot of size 65535");
	kfree(p);
	return 0;
}

/* class 5: tx_bad_length */
static int t_bad_length(void)
{
	struct nh_pkt *p = nh_pkt_alloc();
	unsigned int i;

	if (!p)
		return 0;
	pk_init(p, 0, 0, VPV_NETIF_MIN_FRAME - 1);
	nh_bad(p, -VPV_EINVAL, "13 bytes");
	pk_init(p, 0, 0, 1);
	nh_bad(p, -VPV_EINVAL, "1 byte");
	pk_init(p, 0, 0, nh->mtu + VPV_NETIF_HDR_MAX + 1);
	nh_bad(p, -VPV_E2BIG, "mtu + 19 bytes without GSO");
	pk_init(p, 0, 0, 4096);
	for (i = 1; i < 16; i++)
		pk_data(p, nh->gref, 0, 4096);
	nh_bad(p, -VPV_E2BIG, "64 KiB without GSO");
	/* with GSO: above 65536 bytes */
	pk_init(p, VPV_NETIF_TXF_CSUM_BLANK, 0, 4096);
	p->s[0].req.csum_start = NH_CSUM_START;
	p->s[0].req.csum_offset = NH_CSUM_OFFSET;
	pk_gso(p, VPV_NETIF_GSO_TCPV4, NH_GSO_SIZE);
	for (i = 1; i < 16; i++)
		pk_data(p, nh->gref, 0, 4096);
	pk_data(p, nh->gref, 0, 1);
	nh_bad(p, -VPV_E2BIG, "GSO, 65537 bytes");
	kfree(p);
	return 0;
}

/* class 6: -VPV_EINVAL, tx_bad_offload */
static void pk_blank(struct nh_pkt *p, u16 len, u16 start, u16 off)
{
	pk_init(p, VPV_NETIF_TXF_CSUM_BLANK, 0, len);
	p->s[0].req.csum_start = start;
	p->s[0].req.csum_offset = off;
}

static int t_bad_offload(void)
{
	struct nh_pkt *p = nh_pkt_alloc();

	if (!p)
		return 0;
	pk_blank(p, NH_GOOD_LEN, VPV_NETIF_MIN_FRAME - 1, 2);
	nh_bad(p, -VPV_EINVAL, "csum_start 13");
	pk_blank(p, NH_GOOD_LEN, 0, 0);
	nh_bad(p, -VPV_EINVAL, "csum_start 0");
	pk_blank(p, NH_GOOD_LEN, 50, 9);
	nh_bad(p, -VPV_EINVAL, "csum_start + csum_offset + 2 = length + 1");
	pk_blank(p, NH_GOOD_LEN, 0xffff, 0xffff);
	nh_bad(p, -VPV_EINVAL, "csum_start and csum_offset 65535");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_gso(p, VPV_NETIF_GSO_TCPV4, NH_GSO_SIZE);
	nh_bad(p, -VPV_EINVAL, "GSO without CSUM_BLANK");
	pk_init(p, VPV_NETIF_TXF_DATA_VALIDATED, 0, NH_GOOD_LEN);
	pk_gso(p, VPV_NETIF_GSO_TCPV6, NH_GSO_SIZE);
	nh_bad(p, -VPV_EINVAL, "GSO TCPv6 with DATA_VALIDATED");
	pk_blank(p, NH_GOOD_LEN, NH_CSUM_START, NH_CSUM_OFFSET);
	pk_gso(p, VPV_NETIF_GSO_TCPV4, VPV_NETIF_MIN_GSO_SIZE - 1);
	nh_bad(p, -VPV_EINVAL, "gso.size 47");
	p->s[1].extra.u.gso.size = 0;
	nh_bad(p, -VPV_EINVAL, "gso.size 0");
	p->s[1].extra.u.gso.size = nh->mtu + 1;
	nh_bad(p, -VPV_EINVAL, "gso.size mtu + 1");
	kfree(p);
	return 0;
}

/* class 7: -VPV_EPERM, tx_bad_grant */
static int t_bad_grant(void)
{
	struct page *pg;
	struct nh_pkt *p = nh_pkt_alloc();
	int ref;

	if (!p)
		return 0;
	pk_init(p, 0, 0, NH_GOOD_LEN);
	p->s[0].req.gref = NH_BAD_GREF;
	nh_bad(p, -VPV_EPERM, "a reference far out of the table");
	p->s[0].req.gref = 0;
	nh_bad(p, -VPV_EPERM, "reference 0 (reserved)");
	p->s[0].req.gref = VPV_GNTTAB_RESERVED - 1;
	nh_bad(p, -VPV_EPERM, "the last reserved reference");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_data(p, NH_BAD_GREF, 0, NH_GOOD_LEN);
	nh_bad(p, -VPV_EPERM, "a good first slot, a second not granted");
	pg = alloc_page(GFP_KERNEL);
	if (!kt_check(pg, "no page"))
		goto out;
	/* a page granted to another domain, not to the back-end's */
	ref = vpv_gnttab_grant(NH_OTHER_DOMID, page_to_pfn(pg), true);
	if (kt_check(ref > 0, "grant: %d", ref)) {
		pk_init(p, 0, 0, NH_GOOD_LEN);
		p->s[0].req.gref = ref;
		nh_bad(p, -VPV_EPERM, "a page granted to another domain");
		kt_eq(vpv_gnttab_end(ref), 0, "ending that grant");
	}
	__free_page(pg);
out:
	kfree(p);
	return 0;
}

/* Every answer so far was to a slot of ours, once. */
static int t_answered_once(void)
{
	mutex_lock(&nh->lock);
	nh_consume(nh);
	kt_eq(nh->strays, 0, "answers to no slot in flight");
	kt_eq(nh->dups, 0, "second answers to a slot");
	kt_check(!nh->ring_bad, "the back-end's rsp_prod was impossible");
	mutex_unlock(&nh->lock);
	return 0;
}

/* ---- class P: the device goes Closing, then we connect again ---- */

static bool nh_otherend_closing(void)
{
	int st = vpv_bus_read_otherend_state(nh->bdev);

	return st == VPV_BUS_CLOSING || st == VPV_BUS_CLOSED;
}

/*
 * After the back-end took the device to Closing: the bus has
 * disconnected us and switched to Closed; the host's Closed follows.
 * Initialising again makes the host wait for us (InitWait), and the
 * bus connects.  true once Connected again.
 */
static bool nh_reconnect(void)
{
	unsigned long end = jiffies + NH_STATE_WAIT;
	struct vpv_bus_device *dev = nh->bdev;
	unsigned int c0 = nh->connects;
	int ret;

	while (vpv_bus_read_otherend_state(dev) != VPV_BUS_CLOSED &&
	       time_before(jiffies, end))
		msleep(100);
	if (!kt_check(vpv_bus_read_otherend_state(dev) == VPV_BUS_CLOSED,
		      "back-end state %d, want Closed (6)",
		      vpv_bus_read_otherend_state(dev)))
		return false;
	/* the state is the bus's, changed under the device lock */
	device_lock(&dev->dev);
	kt_eq(dev->state, VPV_BUS_CLOSED, "our state after the back-end's Closing");
	ret = vpv_bus_switch_state(dev, VPV_BUS_INITIALISING);
	device_unlock(&dev->dev);
	if (!kt_eq(ret, 0, "switching to Initialising"))
		return false;
	while (!(READ_ONCE(nh->live) && nh->connects != c0) &&
	       time_before(jiffies, end))
		msleep(100);
	return kt_check(READ_ONCE(nh->live), "not Connected again 30 s after");
}

/* wait for the back-end's Closing, then reconnect and send good frames */
static void nh_protocol_error(const char *what)
{
	unsigned long end = jiffies + NH_STATE_WAIT;

	while (!nh_otherend_closing() && time_before(jiffies, end))
		msleep(100);
	if (!kt_check(nh_otherend_closing(),
		      "%s: back-end state %d 30 s after, want Closing (5)",
		      what, vpv_bus_read_otherend_state(nh->bdev)))
		return;
	if (nh_reconnect())
		nh_good("a good frame after the reconnect");
}

/* a packet whose MORE_DATA chain runs past req_prod */
static int t_chain_past_req_prod(void)
{
	struct nh_pkt *p = nh_pkt_alloc();
	bool ok;

	if (!p)
		return 0;
	nh_good("a good frame before");
	pk_init(p, VPV_NETIF_TXF_MORE_DATA, 0, NH_GOOD_LEN);
	mutex_lock(&nh->lock);
	ok = nh_put(nh, p, true);
	mutex_unlock(&nh->lock);
	if (kt_check(ok, "not connected"))
		nh_protocol_error("MORE_DATA on the last slot published");
	kfree(p);
	return 0;
}

/* an EXTRAF_MORE chain that runs past req_prod */
static int t_extras_past_req_prod(void)
{
	struct nh_pkt *p = nh_pkt_alloc();
	bool ok;

	if (!p)
		return 0;
	nh_good("a good frame before");
	pk_init(p, 0, 0, NH_GOOD_LEN);
	pk_gso(p, VPV_NETIF_GSO_TCPV4, NH_GSO_SIZE);
	p->s[1].extra.flags = VPV_NETIF_EXTRAF_MORE;
	mutex_lock(&nh->lock);
	ok = nh_put(nh, p, true);
	mutex_unlock(&nh->lock);
	if (kt_check(ok, "not connected"))
		nh_protocol_error("EXTRAF_MORE on the last slot published");
	kfree(p);
	return 0;
}

/* req_prod a ring and one ahead of the requests (and of rsp_prod) */
static int t_req_prod_ahead(void)
{
	bool ok;

	nh_good("a good frame before");
	mutex_lock(&nh->lock);
	ok = nh->live && !nh->ring_bad;
	if (ok) {
		VPV_RING_WRITE(nh->tx.hdr->req_prod,
			       nh->tx.req_prod_pvt + nh->tx.nr_ents + 1);
		vpv_ring_wmb();		/* the index before the notification */
		vpv_evtchn_notify(nh->port);
	}
	mutex_unlock(&nh->lock);
	if (kt_check(ok, "not connected"))
		nh_protocol_error("req_prod a ring ahead");
	return 0;
}

/* ---- the flood ---- */

/*
 * The ring kept full of good frames for flood_ms: each kick finds it
 * full again.  Every frame answered once with 0 (nothing else is in
 * flight: the answers and error answers since the start say it).
 */
static int t_flood(void)
{
	unsigned long end = jiffies + msecs_to_jiffies(flood_ms);
	unsigned long t0 = jiffies, sent = 0, answered, errors, strays;
	struct nh_pkt *p = nh_pkt_alloc();
	bool live = true;

	if (!p)
		return 0;
	pk_init(p, 0, 0, NH_GOOD_LEN);
	mutex_lock(&nh->lock);
	nh_consume(nh);
	answered = nh->answered;
	errors = nh->errors;
	strays = nh->strays + nh->dups;
	mutex_unlock(&nh->lock);
	while (live && time_before(jiffies, end)) {
		int seen = atomic_read(&nh->events);
		unsigned int put = 0;

		mutex_lock(&nh->lock);
		nh_consume(nh);
		while (nh_put(nh, p, false))
			put++;
		if (put) {
			vpv_front_push_requests(&nh->tx);
			vpv_evtchn_notify(nh->port);
		}
		sent += put;
		live = nh->live;
		mutex_unlock(&nh->lock);
		wait_event_timeout(nh->wq, atomic_read(&nh->events) != seen,
				   NH_POLL);
	}
	kt_check(live, "the device went away during the flood");
	/* the rest answered within the usual bound */
	end = jiffies + NH_WAIT;
	for (;;) {
		mutex_lock(&nh->lock);
		nh_consume(nh);
		live = nh->tx.rsp_cons == nh->tx.req_prod_pvt;
		mutex_unlock(&nh->lock);
		if (live || time_after(jiffies, end))
			break;
		msleep(20);
	}
	mutex_lock(&nh->lock);
	answered = nh->answered - answered;
	errors = nh->errors - errors;
	strays = nh->strays + nh->dups - strays;
	nh->accepted += answered - errors;
	mutex_unlock(&nh->lock);
	kt_out("# flood: %lu frames in %u ms\n", sent,
	       jiffies_to_msecs(jiffies - t0));
	kt_check(sent > 128, "only %lu frames sent", sent);
	kt_eq(answered, sent, "flood frames answered");
	kt_eq(errors, 0, "flood frames answered with a status");
	kt_eq(strays, 0, "answers to no frame in flight");
	nh_good("a good frame after the flood");
	kfree(p);
	return 0;
}

/*
 * A good frame rewritten on the ring after it was pushed, until it is
 * answered: its size 0, 65535 or 60, its offset 0 or 4095.  The
 * back-end copies the slot once: the answer is 0 or -VPV_EINVAL (class
 * 4), once, whatever it saw, and nothing else breaks.
 */
static int t_double_fetch(void)
{
	static const u16 sizes[] = { 0, 0xffff, NH_GOOD_LEN };
	unsigned int round, k, ok = 0, inval = 0, other = 0;
	struct nh_pkt *p = nh_pkt_alloc();

	if (!p)
		return 0;
	for (round = 0; round < NH_DF_ROUNDS; round++) {
		struct vpv_netif_tx_req *e;
		bool put;
		long st;

		pk_init(p, 0, 0, NH_GOOD_LEN);
		mutex_lock(&nh->lock);
		e = &VPV_RING_ENTRY(nh->txs, &nh->tx, nh->tx.req_prod_pvt)->req.req;
		put = nh_put(nh, p, true);
		/* under the lock: the ring stays ours until the answer */
		for (k = 0; put && k < NH_REWRITES &&
		     VPV_RING_READ(nh->tx.hdr->rsp_prod) == nh->tx.rsp_cons; k++) {
			WRITE_ONCE(e->size, sizes[k % ARRAY_SIZE(sizes)]);
			WRITE_ONCE(e->offset, k & 1 ? 4095 : 0);
		}
		mutex_unlock(&nh->lock);
		if (!kt_check(put, "not connected") ||
		    !kt_check(nh_wait(nh, p), "round %u not answered", round))
			break;
		mutex_lock(&nh->lock);
		st = nh->status[p->ids[0]];
		if (!st) {
			ok++;
			nh->accepted++;
		} else if (st == -VPV_EINVAL) {
			inval++;
			nh->refused++;
		} else {
			other++;
		}
		mutex_unlock(&nh->lock);
	}
	kt_out("# double fetch: %u answered 0, %u -EINVAL\n", ok, inval);
	kt_eq(other, 0, "answers neither 0 nor -EINVAL");
	nh_good("a good frame after");
	kfree(p);
	return 0;
}

/* ---- RX, persistent buffers ---- */

/* Under d->lock: RX buffer @id with grant @gref on the ring (not pushed). */
static void nh_rx_post(struct nh_dev *d, u16 id, u32 gref)
{
	struct vpv_netif_rx_req *r =
		&VPV_RING_ENTRY(d->rxs, &d->rx, d->rx.req_prod_pvt++)->req;

	r->id = id;
	r->pad = 0;
	r->gref = gref;
}

/* Under d->lock: publish the posted buffers and notify (always). */
static void nh_rx_push(struct nh_dev *d)
{
	vpv_front_push_requests(&d->rx);
	vpv_evtchn_notify(d->port);
}

/*
 * The next RX response (one 16-byte slot, read once) within NH_WAIT:
 * true, or false on a timeout or a bad rsp_prod.
 */
static bool nh_rx_next(struct nh_dev *d, struct vpv_netif_rx_rsp *out)
{
	unsigned long end = jiffies + NH_WAIT;
	long n;
	int seen;

	for (;;) {
		seen = atomic_read(&d->events);
		mutex_lock(&d->lock);
		n = d->live ? vpv_front_unconsumed_responses(&d->rx) : 0;
		if (n > 0) {
			*out = VPV_RING_ENTRY(d->rxs, &d->rx,
					      d->rx.rsp_cons)->rsp.rsp;
			d->rx.rsp_cons++;
		} else if (d->live) {
			VPV_RING_WRITE(d->rx.hdr->rsp_event,
				       d->rx.rsp_cons + 1);
			vpv_ring_mb();	/* rsp_event before looking again */
		}
		mutex_unlock(&d->lock);
		if (n > 0)
			return true;
		if (n < 0 || time_after(jiffies, end))
			return false;
		wait_event_timeout(d->wq, atomic_read(&d->events) != seen,
				   NH_POLL);
	}
}

/*
 * Send @n ARP requests for the host's address on our tap (from a page
 * of ours granted read-only for them): the host kernel answers each
 * with a reply to our MAC, our RX traffic.  true: all answered 0.
 */
static bool nh_arp_requests(unsigned int n)
{
	struct nh_pkt *p = nh_pkt_alloc();
	struct page *pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	struct arphdr *a;
	u8 *b, *t;
	bool ok = false;
	int ref = -1;
	unsigned int i;

	if (!p || !kt_check(pg, "no page"))
		goto out;
	b = page_address(pg);
	eth_broadcast_addr(b);
	ether_addr_copy(b + ETH_ALEN, nh->mac);
	put_unaligned_be16(ETH_P_ARP, b + 2 * ETH_ALEN);
	a = (struct arphdr *)(b + ETH_HLEN);
	a->ar_hrd = htons(ARPHRD_ETHER);
	a->ar_pro = htons(ETH_P_IP);
	a->ar_hln = ETH_ALEN;
	a->ar_pln = 4;
	a->ar_op = htons(ARPOP_REQUEST);
	t = (u8 *)(a + 1);
	ether_addr_copy(t, nh->mac);		/* sender MAC, IP */
	put_unaligned_be32(NH_GUEST_IP, t + ETH_ALEN);
	put_unaligned_be32(NH_HOST_IP, t + 2 * ETH_ALEN + 4);	/* target */
	ref = vpv_gnttab_grant(vpv_bus_otherend_domid(nh->bdev),
			       page_to_pfn(pg), true);
	if (!kt_check(ref > 0, "granting the ARP page: %d", ref))
		goto out;
	for (i = 0, ok = true; i < n; i++) {
		pk_init(p, 0, 0, NH_ARP_LEN);
		p->s[0].req.gref = ref;
		ok &= nh_expect(p, 0, "an ARP request for the host");
	}
out:
	/* answered: the back-end unmapped it (its SYNC) */
	if (ref > 0)
		kt_eq(vpv_gnttab_end(ref), 0, "ending the ARP page's grant");
	if (pg)
		__free_page(pg);
	kfree(p);
	return ok;
}

/* Buffer @rsp holds the host's ARP reply to us, in page @i. */
static bool nh_is_reply(const struct vpv_netif_rx_rsp *rsp, unsigned int i)
{
	const u8 *b = page_address(nh->rxpg[i]);
	const struct arphdr *a = (const void *)(b + ETH_HLEN);

	if (rsp->status || rsp->offset || rsp->size < NH_ARP_LEN ||
	    (rsp->flags & VPV_NETIF_RXF_MORE_DATA))
		return false;
	return ether_addr_equal(b, nh->mac) &&
	       get_unaligned_be16(b + 2 * ETH_ALEN) == ETH_P_ARP &&
	       a->ar_op == htons(ARPOP_REPLY) &&
	       get_unaligned_be32((const u8 *)(a + 1) + ETH_ALEN) ==
	       NH_HOST_IP;
}

/* Wait for the response to buffer @id: a reply in page @i. */
static void nh_rx_expect(u16 id, unsigned int i, const char *what)
{
	struct vpv_netif_rx_rsp rsp;

	if (!kt_check(nh_rx_next(nh, &rsp), "%s: no RX response", what))
		return;
	kt_check(rsp.id == id && nh_is_reply(&rsp, i),
		 "%s: id %u (want %u), status %d, size %u, an ARP reply in page %u",
		 what, rsp.id, id, rsp.status, rsp.size, i);
}

static int t_rx_persistent(void)
{
	struct vpv_netif_rx_rsp rsp;
	unsigned int i;

	if (!kt_check(nh->pers, "the back-end offers no feature-persistent"))
		return 0;
	for (i = 0; i < NH_RXB; i++)
		memset(page_address(nh->rxpg[i]), 0, PAGE_SIZE);
	mutex_lock(&nh->lock);
	for (i = 0; i < NH_RXB; i++)
		nh_rx_post(nh, 1 + i, nh->rxref[i]);
	nh_rx_push(nh);
	mutex_unlock(&nh->lock);
	for (i = 0; i < NH_RXB; i++) {
		nh_arp_requests(1);
		nh_rx_expect(1 + i, i, "a reply in a persistent buffer");
	}
	/* the back-end keeps them mapped: our end of the grant is refused */
	kt_eq(vpv_gnttab_end(nh->rxref[0]), -EBUSY,
	      "ending a kept buffer's grant while connected");
	/* again, same grants; a bad ref first, then one ref in two buffers */
	for (i = 0; i < NH_RXB; i++)
		memset(page_address(nh->rxpg[i]), 0, PAGE_SIZE);
	mutex_lock(&nh->lock);
	nh_rx_post(nh, 9, NH_BAD_GREF);
	nh_rx_post(nh, 1, nh->rxref[0]);
	nh_rx_post(nh, 10, nh->rxref[1]);
	nh_rx_post(nh, 11, nh->rxref[1]);
	nh_rx_push(nh);
	mutex_unlock(&nh->lock);
	nh_arp_requests(1);
	if (kt_check(nh_rx_next(nh, &rsp), "no answer to the bad buffer"))
		kt_check(rsp.id == 9 && rsp.status == -VPV_EPERM &&
			 !rsp.size && !rsp.flags,
			 "a reference never granted: -VPV_EPERM alone (id %u status %d)",
			 rsp.id, rsp.status);
	nh_rx_expect(1, 0, "the same grant posted again");
	nh_arp_requests(1);
	nh_rx_expect(10, 1, "one grant in two buffers: the first");
	memset(page_address(nh->rxpg[1]), 0, PAGE_SIZE);
	nh_arp_requests(1);
	nh_rx_expect(11, 1, "... the second, in the same page");
	nh_good("a good frame after rx_persistent");
	return 0;
}

static const struct kt_test nh_tests[] = {
	{ "connected", t_connected },
	{ "good", t_good },
	{ "malformed", t_malformed },
	{ "offered", t_offered },
	{ "not_offered", t_not_offered },
	{ "too_many_slots", t_too_many_slots },
	{ "bad_slot", t_bad_slot },
	{ "bad_length", t_bad_length },
	{ "bad_offload", t_bad_offload },
	{ "bad_grant", t_bad_grant },
	{ "chain_past_req_prod", t_chain_past_req_prod },
	{ "req_prod_ahead", t_req_prod_ahead },
	{ "extras_past_req_prod", t_extras_past_req_prod },
	{ "double_fetch", t_double_fetch },
	{ "flood", t_flood },
	{ "rx_persistent", t_rx_persistent },
	{ "answered_once", t_answered_once },
};

static const char *nh_setup(void)
{
	if (!nh)
		return "no vif device bound (devid, or vnetfront took it)";
	if (!nh->live)
		return "the device is not Connected";
	return NULL;
}

/* ---- the front-end on the bus ---- */

/* Under d->lock: drop the connection (the bus's disconnect, remove). */
static void nh_teardown(struct nh_dev *d)
{
	unsigned int i;

	d->live = false;
	if (d->irq > 0)
		vpv_bus_unbind_evtchn(d->irq, d);
	d->irq = 0;
	d->port = 0;
	if (d->page && d->gref > 0)
		vpv_gnttab_end_deferred(d->gref, d->page);
	else if (d->page)
		__free_page(d->page);
	d->page = NULL;
	d->gref = 0;
	for (i = 0; i < NH_RXB; i++) {
		/* the back-end may still map it: freed once it lets go */
		if (d->rxpg[i] && d->rxref[i] > 0)
			vpv_gnttab_end_deferred(d->rxref[i], d->rxpg[i]);
		else if (d->rxpg[i])
			__free_page(d->rxpg[i]);
		d->rxpg[i] = NULL;
		d->rxref[i] = 0;
	}
	if (d->txs)
		vpv_bus_free_ring(d->bdev, d->txs, 1, &d->tx_ref);
	if (d->rxs)
		vpv_bus_free_ring(d->bdev, d->rxs, 1, &d->rx_ref);
	d->txs = NULL;
	d->rxs = NULL;
	/* nothing in flight survives the ring */
	memset(d->inflight, 0, NH_IDS);
	wake_up(&d->wq);
}

/* Our keys (abi/vpv_netif.h): one queue, one-page rings, no RX feature. */
static int nh_publish(struct nh_dev *d)
{
	struct vpv_bus_device *dev = d->bdev;
	int ret, tries;
	u32 tx;

	/* a transaction the store may refuse with -EAGAIN: a few tries */
	for (tries = 0; tries < 10; tries++) {
		ret = vpv_store_tx_start(&tx);
		if (ret)
			return ret;
		ret = vpv_bus_printf(dev, tx, "multi-queue-num-queues", "1");
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "ring-page-order", "0");
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "q0-tx-ring-ref0", "%d",
					     d->tx_ref);
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "q0-rx-ring-ref0", "%d",
					     d->rx_ref);
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "q0-event-channel", "%u",
					     d->port);
		if (!ret)
			ret = vpv_bus_printf(dev, tx, "request-rx-copy", "1");
		/* rx_persistent's buffers stay granted for the connection */
		if (!ret && d->pers)
			ret = vpv_bus_printf(dev, tx, "feature-persistent",
					     "1");
		if (ret) {
			vpv_store_tx_end(tx, false);
			return ret;
		}
		ret = vpv_store_tx_end(tx, true);
		if (ret != -EAGAIN)
			return ret;
	}
	return ret;
}

/* The frames' bytes: an Ethernet broadcast header, then a pattern. */
static void nh_fill_page(u8 *b)
{
	static const u8 hdr[VPV_NETIF_MIN_FRAME] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff,	/* broadcast */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x07,	/* locally administered */
		0x88, 0xb5,		/* IEEE local experimental EtherType */
	};
	unsigned int i;

	for (i = 0; i < PAGE_SIZE; i++)
		b[i] = i;
	/* every 64-byte boundary starts a frame: the multi-slot packets */
	for (i = 0; i + sizeof(hdr) <= PAGE_SIZE; i += 64)
		memcpy(b + i, hdr, sizeof(hdr));
}

static int nh_connect(struct vpv_bus_device *dev)
{
	struct nh_dev *d = dev_get_drvdata(&dev->dev);
	char mac[32];
	unsigned int i;
	void *ring;
	int ret;

	mutex_lock(&d->lock);
	d->mtu = vpv_bus_read_feature(dev, "mtu", VPV_NETIF_DEFAULT_MTU);
	d->sg = vpv_bus_read_feature(dev, "feature-sg", 0);
	d->csum = vpv_bus_read_feature(dev, "feature-csum", 0);
	d->gso4 = d->csum && vpv_bus_read_feature(dev, "feature-gso-tcpv4", 0);
	d->pers = vpv_bus_read_feature(dev, "feature-persistent", 0);
	ret = vpv_bus_read(dev, 0, true, "mac", mac, sizeof(mac));
	if (ret < 0 || !mac_pton(mac, d->mac)) {
		ret = ret < 0 ? ret : -EINVAL;
		vpv_bus_dev_fatal(dev, ret, "reading the back-end's mac");
		goto out;
	}
	ret = vpv_bus_alloc_ring(dev, 1, &ring, &d->tx_ref);
	if (ret)
		goto out;
	d->txs = ring;
	vpv_ring_init_shared(&d->txs->hdr);
	vpv_front_ring_init(&d->tx, &d->txs->hdr,
			    VPV_RING_ENTRIES(sizeof(d->txs->ring[0]), PAGE_SIZE));
	ret = vpv_bus_alloc_ring(dev, 1, &ring, &d->rx_ref);
	if (ret)
		goto out;
	d->rxs = ring;
	vpv_ring_init_shared(&d->rxs->hdr);
	vpv_front_ring_init(&d->rx, &d->rxs->hdr,
			    VPV_RING_ENTRIES(sizeof(d->rxs->ring[0]), PAGE_SIZE));
	for (i = 0; i < NH_RXB; i++) {
		d->rxpg[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		ret = d->rxpg[i] ? vpv_gnttab_grant(vpv_bus_otherend_domid(dev),
						    page_to_pfn(d->rxpg[i]),
						    false) : -ENOMEM;
		if (ret < 0) {
			vpv_bus_dev_fatal(dev, ret, "an RX buffer page");
			goto out;
		}
		d->rxref[i] = ret;
	}
	d->ring_bad = false;
	ret = vpv_bus_bind_evtchn(dev, nh_interrupt, NULL, dev_name(&dev->dev),
				  d, &d->port);
	if (ret < 0)
		goto out;
	d->irq = ret;
	/* GFP_KERNEL: process context, the bus's work item */
	d->page = alloc_page(GFP_KERNEL);
	if (!d->page) {
		ret = -ENOMEM;
		vpv_bus_dev_fatal(dev, ret, "allocating the frame page");
		goto out;
	}
	nh_fill_page(page_address(d->page));
	/* the back-end only reads the frames */
	ret = vpv_gnttab_grant(vpv_bus_otherend_domid(dev),
			       page_to_pfn(d->page), true);
	if (ret < 0) {
		vpv_bus_dev_fatal(dev, ret, "granting the frame page");
		goto out;
	}
	d->gref = ret;
	ret = nh_publish(d);
	if (ret)
		vpv_bus_dev_fatal(dev, ret, "writing the front-end keys");
out:
	mutex_unlock(&d->lock);
	return ret;	/* on error the bus calls nh_disconnect() */
}

static void nh_connected(struct vpv_bus_device *dev)
{
	struct nh_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&d->lock);
	d->connects++;
	d->live = true;
	mutex_unlock(&d->lock);
}

static void nh_disconnect(struct vpv_bus_device *dev, int err)
{
	struct nh_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&d->lock);
	nh_teardown(d);
	mutex_unlock(&d->lock);
}

static const struct vpv_fe_ops nh_fe_ops = {
	.connect = nh_connect,
	.connected = nh_connected,
	.disconnect = nh_disconnect,
};

static void nh_free(struct nh_dev *d)
{
	vfree(d->inflight);
	vfree(d->answers);
	vfree(d->status);
	kfree(d);
}

static int nh_probe(struct vpv_bus_device *dev,
		    const struct vpv_bus_device_id *id)
{
	char want[16];
	struct nh_dev *d;

	snprintf(want, sizeof(want), "%u", devid);
	if (strcmp(dev->devid, want))
		return -ENODEV;		/* vnetfront's: the next driver */
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->inflight = vzalloc(NH_IDS);
	d->answers = vzalloc(NH_IDS);
	d->status = vzalloc(array_size(NH_IDS, sizeof(*d->status)));
	if (!d->inflight || !d->answers || !d->status) {
		nh_free(d);
		return -ENOMEM;
	}
	d->bdev = dev;
	mutex_init(&d->lock);
	init_waitqueue_head(&d->wq);
	dev_set_drvdata(&dev->dev, d);
	mutex_lock(&nh_bind);
	nh = d;
	mutex_unlock(&nh_bind);
	return 0;
}

static void nh_remove(struct vpv_bus_device *dev)
{
	struct nh_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&nh_bind);
	nh = NULL;
	mutex_unlock(&nh_bind);
	mutex_lock(&d->lock);
	nh_teardown(d);
	mutex_unlock(&d->lock);
	nh_free(d);
}

static const struct vpv_bus_device_id nh_ids[] = {
	{ "vif" },
	{ "" }
};

static struct vpv_bus_driver nh_driver = {
	.ids = nh_ids,
	.probe = nh_probe,
	.remove = nh_remove,
	.fe = &nh_fe_ops,
};

/* ---- debugfs: state, run ---- */

static struct dentry *nh_ctl;
static char nh_sel[64];		/* the group being run (nh_bind) */

static int nh_state_show(struct seq_file *m, void *v)
{
	mutex_lock(&nh_bind);
	if (nh) {
		mutex_lock(&nh->lock);
		seq_printf(m, "bound 1\nlive %d\nconnects %u\nmtu %u\nsg %d\ncsum %d\n"
			   "state %d\notherend_state %d\naccepted %lu\nrefused %lu\n"
			   "strays %lu\ndups %lu\n",
			   nh->live, nh->connects, nh->mtu, nh->sg, nh->csum,
			   nh->bdev->state, nh->bdev->otherend_state,
			   nh->accepted, nh->refused, nh->strays, nh->dups);
		mutex_unlock(&nh->lock);
	} else {
		seq_puts(m, "bound 0\nlive 0\n");
	}
	mutex_unlock(&nh_bind);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(nh_state);

static bool nh_selected(const char *name)
{
	return kt_selected(nh_sel, false, name);
}

/*
 * Writing a test name (or a comma-separated list, or "all") runs those
 * tests; their results replace the last run's.  nh_bind is held
 * throughout.
 */
static ssize_t nh_run_write(struct file *f, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	int ret;

	if (!count || count >= sizeof(nh_sel))
		return -EINVAL;
	mutex_lock(&nh_bind);
	if (copy_from_user(nh_sel, ubuf, count)) {
		mutex_unlock(&nh_bind);
		return -EFAULT;
	}
	nh_sel[count] = '\0';
	nh_sel[strcspn(nh_sel, "\n")] = '\0';
	kt_cleanup();
	ret = kt_run(nh_tests, ARRAY_SIZE(nh_tests), nh_selected, nh_setup,
		     "vpv_nethostile");
	mutex_unlock(&nh_bind);
	return ret < 0 ? ret : count;
}

static const struct file_operations nh_run_fops = {
	.owner = THIS_MODULE,
	.write = nh_run_write,
};

static int __init nh_init(void)
{
	int ret;

	nh_ctl = debugfs_create_dir("vpv_nethostile_ctl", NULL);
	debugfs_create_file("state", 0444, nh_ctl, NULL, &nh_state_fops);
	debugfs_create_file("run", 0200, nh_ctl, NULL, &nh_run_fops);
	ret = vpv_bus_register_driver(&nh_driver);
	if (ret)
		debugfs_remove_recursive(nh_ctl);
	return ret;
}

static void __exit nh_exit(void)
{
	vpv_bus_unregister_driver(&nh_driver);
	debugfs_remove_recursive(nh_ctl);
	kt_cleanup();
}

module_init(nh_init);
module_exit(nh_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("pvkit: a hostile vif front-end against vpv-netback");
