// SPDX-License-Identifier: GPL-2.0
/*
 * vnetfront: the front-end of the split network device "vif"
 * (abi/vpv_netif.h, Documentation/netif.rst, Documentation/netfront.rst),
 * modelled on Linux's drivers/net/xen-netfront.c.
 *
 * A netdev pvnN per vif device, registered at probe (or at the first
 * connect when the back-end's "mac" key is not there yet) and
 * unregistered only at remove: the interface, its addresses, routes and
 * sockets survive back-end restarts.  Each connection has Q queues,
 * each a TX ring, an RX ring, an event channel whose IRQ points at the
 * CPU that polls it, and a NAPI instance that reaps TX completions and
 * receives RX packets; the IRQ handler only schedules NAPI.
 *
 * TX: an skb goes out as data slot 0, a GSO extra, more data slots, one
 * per 4 KiB frame its bytes touch (granted read-only in one batch); one
 * that needs more than VPV_NETIF_MAX_SLOTS (or more than one without
 * the back-end's feature-sg) is copied into whole pages first.  Every
 * data slot holds a reference to its skb, so the skb goes when its
 * last slot is answered, once.  With the back-end's
 * feature-persistent-tx a packet of at most a page is copied instead
 * into one of the queue's persistent TX buffers (VNF_TX_POOL pages
 * granted for the connection, flagged VPV_NETIF_TXF_PERSISTENT): the
 * back-end keeps them mapped, so a small packet costs it no grant map
 * and no SYNC round trip to the core.
 *
 * RX: pages granted writable are posted as buffers; a packet's slots
 * are read once each into locals and judged (vnetfront_logic.h); one
 * that breaks a rule is dropped, counted per class, its buffers posted
 * again.  A small packet is copied out and its buffers posted again
 * with their grants; a large one ends its buffers' grants and takes
 * their pages as fragments; persistent buffers (feature-persistent:
 * granted for the connection, the back-end keeps them mapped) lend
 * their pages instead and are parked, never posted, until the stack
 * gives them back.
 *
 * Disconnect (a back-end restart, removal, a protocol error): what was
 * answered counts once, unanswered TX packets are dropped
 * (tx_dropped_reconnect), RX buffers are taken back; grants still
 * mapped are ended later (vpv_gnttab_end_deferred(), or an skb kept on
 * the linger list until the back-end lets go of its pages).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/if_vlan.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/u64_stats_sync.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <pvkit/vbus.h>
#include <pvkit/vtransport.h>

#include "abi/vpv_netif.h"
#include "vnetfront_logic.h"

/*
 * Grants a device may hold, all queues together: a quarter of the
 * stub's 8192 references (vblkfront's persistent pool takes another),
 * netif.rst's "Multi-queue" budget; vnf_plan() fits rings and RX
 * buffers into it.
 */
#define VNF_GRANTS_DEV		2048
/*
 * Grants made or ended per hold of the grant table's lock: one batch
 * covers a packet's 18 slots; the on-stack arrays stay small.
 */
#define VNF_GRANT_BATCH		32
/* ring entries the largest packet takes: its data slots and extras */
#define VNF_TX_MAX_ENTRIES	(VPV_NETIF_MAX_SLOTS + VPV_NETIF_MAX_EXTRAS)
/*
 * Persistent TX buffers per queue (feature-persistent-tx): enough for
 * the small packets of a kick or two (ACKs of a stream, requests),
 * few enough that 8 queues' buffers and RX buffers stay within the
 * back-end's BE_VIF_PERSISTENT_MAX (2048) kept grants; taken off the
 * device's grant budget before vnf_plan().  Beyond them a small packet
 * is granted in place as a large one is.
 */
#define VNF_TX_POOL		64
/* a stopped TX queue wakes with room for two such packets */
#define VNF_TX_WAKE		(2 * VNF_TX_MAX_ENTRIES)
/* bytes of a large packet's slot 0 looked at for its headers */
#define VNF_RX_HDR_MAX		256
/* segments of the smallest MSS in the largest GSO packet (netif.rst) */
#define VNF_TSO_MAX_SEGS	DIV_ROUND_UP(VPV_NETIF_MAX_PACKET, \
					     VPV_NETIF_MIN_GSO_SIZE)
/* out of pages or grants: NAPI tries again after this */
#define VNF_RETRY		msecs_to_jiffies(20)
/* the device lock is busy: the protocol-error work tries again */
#define VNF_FATAL_RETRY		msecs_to_jiffies(10)
/* TX grants still mapped by a back-end: looked at again after this */
#define VNF_LINGER_RETRY	msecs_to_jiffies(100)
/* at removal, passes over the linger list before giving up on it */
#define VNF_LINGER_TRIES	10

static_assert(PAGE_SIZE == VNF_FRAME, "a slot is one page");

static unsigned int max_queues;
module_param(max_queues, uint, 0444);
MODULE_PARM_DESC(max_queues, "Queues at most (0, default: online CPUs; capped by the back-end and 8)");

static unsigned int ring_order = 2;
module_param(ring_order, uint, 0444);
MODULE_PARM_DESC(ring_order, "log2 of the pages per ring (0..2, default 2: 512 entries; lowered to fit the grant budget)");

static bool tx_bounce;
module_param(tx_bounce, bool, 0444);
MODULE_PARM_DESC(tx_bounce, "Copy every TX packet into pages of its own before granting them: the back-end sees no other byte of the guest (default 0)");

static bool persistent = true;
module_param(persistent, bool, 0444);
MODULE_PARM_DESC(persistent, "Keep RX buffers granted for the connection when the back-end offers feature-persistent (large packets lend their pages to the stack), and copy packets of up to a page into persistent TX buffers with feature-persistent-tx: no grant map per packet in the back-end (default 1)");

static unsigned int rx_copybreak = 1536;
module_param(rx_copybreak, uint, 0444);
MODULE_PARM_DESC(rx_copybreak, "Received packets up to this many bytes are copied, larger ones keep their pages (0..4096, default 1536)");

/* debugfs "inject": the next response as a hostile back-end writes it */
enum {
	VNF_INJ_NONE,
	VNF_INJ_RX_ID,		/* RX slot 0: an id never posted */
	VNF_INJ_RX_DUP,		/* RX slot 0: the id answered before it */
	VNF_INJ_RX_STATUS,	/* RX slot 0: status -VPV_EIO, size 0 */
	VNF_INJ_RX_FLAGS,	/* RX slot 0: a flag outside the ABI */
	VNF_INJ_RX_SIZE,	/* RX slot 0: size 0 */
	VNF_INJ_RX_OFFSET,	/* RX slot 0: offset 4096 */
	VNF_INJ_RX_CSUM,	/* RX slot 0: CSUM_BLANK, csum_start 0 */
	VNF_INJ_RX_EXTRA,	/* the next RX extra: type 0 */
	VNF_INJ_RX_PROD,	/* RX rsp_prod beyond the buffers posted */
	VNF_INJ_TX_ID,		/* a TX response: an id not in flight */
	VNF_INJ_TX_DUP,		/* a TX response: answered twice */
	VNF_INJ_TX_STATUS,	/* a TX response: status 1234 */
	VNF_INJ_TX_PROD,	/* TX rsp_prod beyond the requests */
};

static const char * const vnf_inj_names[] = {
	[VNF_INJ_NONE] = "none",
	[VNF_INJ_RX_ID] = "rx-id",
	[VNF_INJ_RX_DUP] = "rx-dup",
	[VNF_INJ_RX_STATUS] = "rx-status",
	[VNF_INJ_RX_FLAGS] = "rx-flags",
	[VNF_INJ_RX_SIZE] = "rx-size",
	[VNF_INJ_RX_OFFSET] = "rx-offset",
	[VNF_INJ_RX_CSUM] = "rx-csum",
	[VNF_INJ_RX_EXTRA] = "rx-extra",
	[VNF_INJ_RX_PROD] = "rx-prod",
	[VNF_INJ_TX_ID] = "tx-id",
	[VNF_INJ_TX_DUP] = "tx-dup",
	[VNF_INJ_TX_STATUS] = "tx-status",
	[VNF_INJ_TX_PROD] = "tx-prod",
};

/* Per-queue RX counters (ethtool -S, debugfs); written by NAPI only. */
enum vnf_rx_stat {
	VNF_RXS_PACKETS,
	VNF_RXS_BYTES,
	VNF_RXS_ERRORS,		/* bogus packets and buffers, all classes */
	VNF_RXS_DROPPED,	/* good packets we could not take */
	VNF_RXS_COPIED,
	VNF_RXS_CSUM_PARTIAL,
	VNF_RXS_CSUM_VALID,
	VNF_RXS_GSO,
	/* the classes of enum vnf_rx_class, in its order */
	VNF_RXS_BAD_ID,
	VNF_RXS_BUF_ERRORS,
	VNF_RXS_BAD_SLOT,
	VNF_RXS_BAD_FLAGS,
	VNF_RXS_BAD_EXTRA,
	VNF_RXS_TOO_MANY_SLOTS,
	VNF_RXS_BAD_LENGTH,
	VNF_RXS_BAD_CSUM,
	VNF_RXS_PARTIAL,
	VNF_RXS_GRANT_BUSY,	/* a buffer still mapped after its answer */
	VNF_RXS_BROKEN,		/* rsp_prod beyond the buffers posted */
	VNF_RXS_NOMEM,		/* a page or an skb could not be had */
	VNF_RXS_NOGRANT,	/* buffers not posted: no grant reference */
	VNF_RXS_LEND_FULL,	/* large packets copied: rx_lend_max lent */
	VNF_RXS_NR,
};

#define VNF_RXS_CLASS(c)	(VNF_RXS_BAD_ID + (c) - VNF_RXC_BAD_ID)
static_assert(VNF_RXS_CLASS(VNF_RXC_PARTIAL) == VNF_RXS_PARTIAL,
	      "RX counters follow the classes");

static const char * const vnf_rxs_names[VNF_RXS_NR] = {
	"rx_packets", "rx_bytes", "rx_errors", "rx_dropped", "rx_copied",
	"rx_csum_partial", "rx_csum_valid", "rx_gso", "rx_bad_id",
	"rx_buf_errors", "rx_bad_slot", "rx_bad_flags", "rx_bad_extra",
	"rx_too_many_slots", "rx_bad_length", "rx_bad_csum", "rx_partial",
	"rx_grant_busy", "rx_broken", "rx_nomem", "rx_nogrant",
	"rx_lend_full",
};

/* Per-queue TX counters; written under the queue's tx_lock. */
enum vnf_tx_stat {
	VNF_TXS_PACKETS,	/* answered 0 */
	VNF_TXS_BYTES,
	VNF_TXS_ERRORS,		/* refused by the back-end, or bogus answers */
	VNF_TXS_DROPPED,	/* dropped here: not connected, unfit */
	VNF_TXS_DROPPED_RECONNECT,	/* unanswered at a disconnect */
	VNF_TXS_CSUM,		/* sent CSUM_BLANK */
	VNF_TXS_GSO,
	VNF_TXS_COPIED,		/* copied into pages: too many slots */
	VNF_TXS_STOPPED,
	VNF_TXS_WAKES,
	VNF_TXS_KICKS,		/* notifications */
	VNF_TXS_NOGRANT,
	VNF_TXS_RSP_EINVAL,
	VNF_TXS_RSP_EOPNOTSUPP,
	VNF_TXS_RSP_E2BIG,
	VNF_TXS_RSP_EPERM,
	VNF_TXS_BAD_ID,
	VNF_TXS_BAD_STATUS,
	VNF_TXS_GRANT_BUSY,	/* a slot still mapped after its answer */
	VNF_TXS_BROKEN,		/* rsp_prod beyond the requests */
	VNF_TXS_PERSISTENT,	/* copied into a persistent TX buffer */
	VNF_TXS_NR,
};

static const char * const vnf_txs_names[VNF_TXS_NR] = {
	"tx_packets", "tx_bytes", "tx_errors", "tx_dropped",
	"tx_dropped_reconnect", "tx_csum", "tx_gso", "tx_copied",
	"tx_stopped", "tx_wakes", "tx_kicks", "tx_nogrant", "tx_rsp_einval",
	"tx_rsp_eopnotsupp", "tx_rsp_e2big", "tx_rsp_eperm", "tx_bad_id",
	"tx_bad_status", "tx_grant_busy", "tx_broken", "tx_persistent",
};

/* Device counters, after the totals in ethtool -S. */
enum vnf_dev_stat {
	VNF_DS_CONNECTS,
	VNF_DS_RECONNECTS,
	VNF_DS_TX_TIMEOUTS,
	VNF_DS_BROKEN,
	VNF_DS_TX_LINGERING,
	VNF_DS_NR,
};

static const char * const vnf_ds_names[VNF_DS_NR] = {
	"connects", "reconnects", "tx_timeouts", "broken", "tx_lingering",
};

static struct dentry *vnf_root;

struct vnf_dev;

/* A TX slot's buffer, while its slot is busy. */
struct vnf_txbuf {
	struct sk_buff *skb;	/* this slot's reference, or NULL */
	struct page *page;	/* a copy of ours, or NULL */
	int gref;		/* -1: an extra or a persistent buffer */
	u16 pool;		/* a persistent TX buffer's index + 1, or 0 */
	u32 len;		/* data slot 0: the packet's bytes */
	bool head;		/* data slot 0 */
	bool extra;
};

/* An RX buffer: its page stays granted while it is ours to post again. */
struct vnf_rxbuf {
	struct page *page;	/* NULL: to allocate */
	int gref;		/* -1: to grant */
	bool lent;		/* persistent: its page is in an skb too */
};

struct vnf_rxstats {
	struct u64_stats_sync syncp;
	u64_stats_t c[VNF_RXS_NR];
};

struct vnf_txstats {
	struct u64_stats_sync syncp;
	u64_stats_t c[VNF_TXS_NR];
};

struct vnf_queue {
	struct vnf_dev *d;
	unsigned int id;
	int cpu;			/* polls it, -1: none chosen */
	struct napi_struct napi;
	bool napi_on;			/* enabled (d->lock) */
	int irq;			/* 0: not bound */
	unsigned int port;
	char irq_name[48];		/* "vif-<devid>-q<q>" */
	struct timer_list retry;	/* pages or grants ran out */

	spinlock_t tx_lock;		/* everything tx_* */
	bool tx_live;			/* packets may go on the ring */
	bool tx_unpushed;		/* written, req_prod not moved yet */
	struct vpv_netif_tx_sring *tx_sring;
	struct vpv_front_ring tx;
	int tx_refs[1 << VPV_NETIF_MAX_RING_ORDER];
	struct vnf_slots tx_slots;
	struct vnf_txbuf *tx_buf;
	/*
	 * Persistent TX buffers (feature-persistent-tx): tx_pool_nr pages
	 * granted read-only for the connection; tx_pool_free[0 ..
	 * tx_pool_nfree) the indices not on the ring.
	 */
	struct page *tx_pool[VNF_TX_POOL];
	int tx_pool_ref[VNF_TX_POOL];
	u16 tx_pool_free[VNF_TX_POOL];
	unsigned int tx_pool_nr, tx_pool_nfree;

	/* RX: NAPI's, or d->lock's while NAPI is disabled */
	struct vpv_netif_rx_sring *rx_sring;
	struct vpv_front_ring rx;
	int rx_refs[1 << VPV_NETIF_MAX_RING_ORDER];
	struct vnf_slots rx_slots;
	struct vnf_rxbuf *rx_buf;
	unsigned int rx_fill;
	/*
	 * Persistent buffers (feature-persistent) whose pages a large
	 * packet's skb took as fragments: parked (granted, never posted)
	 * until the stack lets go, then spare; at most rx_lend_max pages
	 * lent (rx_lent_out), beyond that a large packet is copied
	 * (rx_lend_full).
	 */
	struct vnf_rxbuf *rx_lent, *rx_spare;
	unsigned int rx_nlent, rx_nspare, rx_lent_out, rx_lend_max;
	u16 rx_last_id;			/* the last id answered (inject) */
	bool rx_last_ok;

	struct vnf_rxstats rxs;
	struct vnf_txstats txs;
};

struct vnf_dev {
	struct net_device *ndev;
	struct vpv_bus_device *bdev;
	struct mutex lock;		/* the connection: below, queues' rings */
	bool registered;
	bool dead;			/* being removed */
	bool live;			/* connected: NAPI on, TX allowed */
	bool broken;			/* protocol error: rings not read again */
	/* this connection's (connect()); TX reads them lock-free */
	unsigned int nr_queues, last_queues, nr_pages, nents, rx_fill;
	/* the back-end's multi-queue-max-queues at the last connect, 1 .. 8 */
	unsigned int be_queues;
	unsigned int be_mtu;
	/* feature-persistent this connection: RX buffers never let go */
	bool rx_persistent;
	/* feature-persistent-tx this connection: tx_pool in use */
	bool tx_persistent;
	struct vnf_be_features be;	/* under rtnl: vnf_fix_features() */
	bool tx_sg, tx_csum, tx_gso4, tx_gso6;
	struct vnf_rx_cfg rx_cfg;
	u8 mac[ETH_ALEN];
	u64 connects, reconnects;
	atomic64_t tx_timeouts;
	struct vnf_queue q[VPV_NETIF_MAX_QUEUES];
	struct delayed_work fatal_work;	/* protocol error */
	struct work_struct mtu_work;	/* write the "mtu" key */
	spinlock_t linger_lock;		/* linger, nlinger */
	struct list_head linger;
	unsigned int nlinger;
	struct delayed_work linger_work;
	struct dentry *dir;
	int inject;			/* test hook: VNF_INJ_* */
	int inject_q;			/* ... on that queue only; -1: any */
};

/* An skb whose TX grant the back-end still mapped when it was done. */
struct vnf_linger {
	struct list_head node;
	struct sk_buff *skb;
	int ref;
};

/* ---- counters ---- */

static void vnf_rx_add_stat(struct vnf_queue *q, enum vnf_rx_stat s, u64 v)
{
	u64_stats_update_begin(&q->rxs.syncp);
	u64_stats_add(&q->rxs.c[s], v);
	u64_stats_update_end(&q->rxs.syncp);
}

static void vnf_rx_inc(struct vnf_queue *q, enum vnf_rx_stat s)
{
	vnf_rx_add_stat(q, s, 1);
}

/* Under q->tx_lock. */
static void vnf_tx_add_stat(struct vnf_queue *q, enum vnf_tx_stat s, u64 v)
{
	u64_stats_update_begin(&q->txs.syncp);
	u64_stats_add(&q->txs.c[s], v);
	u64_stats_update_end(&q->txs.syncp);
}

static void vnf_tx_inc(struct vnf_queue *q, enum vnf_tx_stat s)
{
	vnf_tx_add_stat(q, s, 1);
}

/* A consistent copy of a queue's counters, any context. */
static void vnf_q_read(struct vnf_queue *q, u64 *rx, u64 *tx)
{
	unsigned int start, i;

	do {
		start = u64_stats_fetch_begin(&q->rxs.syncp);
		for (i = 0; i < VNF_RXS_NR; i++)
			rx[i] = u64_stats_read(&q->rxs.c[i]);
	} while (u64_stats_fetch_retry(&q->rxs.syncp, start));
	do {
		start = u64_stats_fetch_begin(&q->txs.syncp);
		for (i = 0; i < VNF_TXS_NR; i++)
			tx[i] = u64_stats_read(&q->txs.c[i]);
	} while (u64_stats_fetch_retry(&q->txs.syncp, start));
}

/* Every queue's counters added up (the device's totals). */
static void vnf_totals(struct vnf_dev *d, u64 *rx, u64 *tx)
{
	u64 qrx[VNF_RXS_NR], qtx[VNF_TXS_NR];
	unsigned int i, j;

	memset(rx, 0, sizeof(qrx));
	memset(tx, 0, sizeof(qtx));
	for (i = 0; i < VPV_NETIF_MAX_QUEUES; i++) {
		vnf_q_read(&d->q[i], qrx, qtx);
		for (j = 0; j < VNF_RXS_NR; j++)
			rx[j] += qrx[j];
		for (j = 0; j < VNF_TXS_NR; j++)
			tx[j] += qtx[j];
	}
}

static u64 vnf_dev_stat(struct vnf_dev *d, enum vnf_dev_stat s)
{
	switch (s) {
	case VNF_DS_CONNECTS:
		return READ_ONCE(d->connects);
	case VNF_DS_RECONNECTS:
		return READ_ONCE(d->reconnects);
	case VNF_DS_TX_TIMEOUTS:
		return atomic64_read(&d->tx_timeouts);
	case VNF_DS_BROKEN:
		return READ_ONCE(d->broken);
	case VNF_DS_TX_LINGERING:
		return READ_ONCE(d->nlinger);
	default:
		return 0;
	}
}

/* ---- protocol errors ---- */

/*
 * A ring's rsp_prod is beyond what was posted: take the device down
 * (from NAPI or the disconnect path).  The carrier goes at once;
 * Closing and the teardown are the work's (process context).
 */
static void vnf_broken(struct vnf_queue *q, bool tx)
{
	struct vnf_dev *d = q->d;

	if (tx)
		vnf_tx_inc(q, VNF_TXS_BROKEN);
	else
		vnf_rx_inc(q, VNF_RXS_BROKEN);
	if (xchg(&d->broken, true))
		return;
	netdev_err(d->ndev, "queue %u: %s rsp_prod beyond what was posted: taking the device down\n",
		   q->id, tx ? "TX" : "RX");
	netif_carrier_off(d->ndev);
	netif_tx_stop_all_queues(d->ndev);
	schedule_delayed_work(&d->fatal_work, 0);
}

/* Consume a test hook of kind @v if it is the one armed, for @q. */
static bool vnf_inject_take(struct vnf_queue *q, int v)
{
	struct vnf_dev *d = q->d;
	int want;

	if (READ_ONCE(d->inject) != v)
		return false;
	/* pairs with vnf_inject_write()'s: its queue, stored before it */
	smp_rmb();
	want = READ_ONCE(d->inject_q);
	return (want < 0 || want == q->id) &&
	       cmpxchg(&d->inject, v, VNF_INJ_NONE) == v;
}

/* ---- TX: completion ---- */

/* Buffers whose grants end in one batch, then are freed. */
struct vnf_txrel {
	unsigned int n;
	int refs[VNF_GRANT_BATCH];
	struct sk_buff *skb[VNF_GRANT_BATCH];
	struct page *page[VNF_GRANT_BATCH];
};

static void vnf_linger_add(struct vnf_dev *d, struct sk_buff *skb, int ref)
{
	/* from NAPI or under tx_lock: cannot sleep */
	struct vnf_linger *l = kmalloc(sizeof(*l), GFP_ATOMIC);
	unsigned long flags;

	if (!l) {
		/* the back-end may still read its pages: never free them */
		net_warn_ratelimited("%s: TX grant %d still mapped, no memory to wait for it: its skb is leaked\n",
				     netdev_name(d->ndev), ref);
		vpv_gnttab_end_deferred(ref, NULL);
		return;
	}
	l->skb = skb;
	l->ref = ref;
	spin_lock_irqsave(&d->linger_lock, flags);
	list_add_tail(&l->node, &d->linger);
	d->nlinger++;
	spin_unlock_irqrestore(&d->linger_lock, flags);
	schedule_delayed_work(&d->linger_work, VNF_LINGER_RETRY);
}

/*
 * End the batch's grants (one hold of the table's lock), then free each
 * buffer: its skb reference (the skb goes with its last one) or page.
 * A grant still mapped keeps its buffer: a page goes to
 * vpv_gnttab_end_deferred(), an skb to the linger list.  @budget: NAPI's
 * (0 outside NAPI).  Under q->tx_lock.
 */
static void vnf_txrel_flush(struct vnf_queue *q, struct vnf_txrel *r,
			    int budget)
{
	unsigned int i;

	if (!r->n)
		return;
	vpv_gnttab_end_batch(r->refs, r->n);
	for (i = 0; i < r->n; i++) {
		if (r->refs[i] >= 0) {
			vnf_tx_inc(q, VNF_TXS_GRANT_BUSY);
			if (r->page[i])
				vpv_gnttab_end_deferred(r->refs[i], r->page[i]);
			else
				vnf_linger_add(q->d, r->skb[i], r->refs[i]);
			continue;
		}
		if (r->skb[i])
			napi_consume_skb(r->skb[i], budget);
		if (r->page[i])
			__free_page(r->page[i]);
	}
	r->n = 0;
}

/* Under q->tx_lock: slot @b is over; its buffer joins the batch. */
static void vnf_txrel_add(struct vnf_queue *q, struct vnf_txrel *r,
			  struct vnf_txbuf *b, int budget)
{
	/* a persistent buffer: granted still, free for the next packet */
	if (b->pool && q->tx_pool_nfree < q->tx_pool_nr)
		q->tx_pool_free[q->tx_pool_nfree++] = b->pool - 1;
	if (b->gref >= 0) {
		r->refs[r->n] = b->gref;
		r->skb[r->n] = b->skb;
		r->page[r->n] = b->page;
		if (++r->n == VNF_GRANT_BATCH)
			vnf_txrel_flush(q, r, budget);
	}
	memset(b, 0, sizeof(*b));
	b->gref = -1;
}

/* Under q->tx_lock: one TX response, its fields read once. */
static void vnf_tx_answer(struct vnf_queue *q, u16 id, s16 status,
			  struct vnf_txrel *rel, int budget)
{
	int idx = vnf_slot_find(&q->tx_slots, id);
	enum vnf_tx_verdict v;
	struct vnf_txbuf *b;

	if (idx < 0) {
		vnf_tx_inc(q, VNF_TXS_BAD_ID);
		net_warn_ratelimited("%s: queue %u: TX response to id %#x not in flight: ignored\n",
				     netdev_name(q->d->ndev), q->id, id);
		return;
	}
	vnf_slot_put(&q->tx_slots, idx);
	b = &q->tx_buf[idx];
	v = vnf_tx_judge(b->extra, status);
	if (v == VNF_TXV_BAD_STATUS) {
		vnf_tx_inc(q, VNF_TXS_BAD_STATUS);
		vnf_tx_inc(q, VNF_TXS_ERRORS);
		net_warn_ratelimited("%s: queue %u: TX response to id %#x: status %d refused\n",
				     netdev_name(q->d->ndev), q->id, id, status);
	} else if (b->head && v == VNF_TXV_OK) {
		vnf_tx_inc(q, VNF_TXS_PACKETS);
		vnf_tx_add_stat(q, VNF_TXS_BYTES, b->len);
	} else if (b->head) {
		vnf_tx_inc(q, VNF_TXS_ERRORS);
		vnf_tx_inc(q, status == -VPV_EINVAL ? VNF_TXS_RSP_EINVAL :
			   status == -VPV_EOPNOTSUPP ? VNF_TXS_RSP_EOPNOTSUPP :
			   status == -VPV_E2BIG ? VNF_TXS_RSP_E2BIG :
			   VNF_TXS_RSP_EPERM);
	}
	vnf_txrel_add(q, rel, b, budget);
}

/* Room for a packet: ring entries and id slots both. */
static unsigned int vnf_tx_room(struct vnf_queue *q)
{
	return min(vpv_front_free_requests(&q->tx), q->tx_slots.nfree);
}

/*
 * Under q->tx_lock: the TX ring's answers (those there now; NAPI's final
 * check sees later ones), each slot freed once.  Wakes a stopped queue
 * when there is room again.  Return: false after a protocol error.
 */
static bool vnf_tx_complete(struct vnf_queue *q, int budget)
{
	struct vnf_dev *d = q->d;
	struct vnf_txrel rel;
	struct netdev_queue *txq;
	long n;

	rel.n = 0;
	n = vpv_front_unconsumed_responses(&q->tx);
	if (unlikely(READ_ONCE(d->inject)) &&
	    vnf_inject_take(q, VNF_INJ_TX_PROD))
		n = -1;
	if (n < 0) {
		vnf_broken(q, true);
		return false;
	}
	while (n-- > 0) {
		const u32 *p = (const u32 *)&VPV_RING_ENTRY(q->tx_sring, &q->tx,
							    q->tx.rsp_cons)->rsp;
		/* read once: the back-end may rewrite the entry at any time */
		u32 w = READ_ONCE(*p);
		struct vpv_netif_tx_rsp r;
		bool dup = false;

		memcpy(&r, &w, sizeof(r));
		q->tx.rsp_cons++;
		if (unlikely(READ_ONCE(d->inject))) {
			if (vnf_inject_take(q, VNF_INJ_TX_ID))
				r.id ^= 0x8000;	/* another generation */
			else if (vnf_inject_take(q, VNF_INJ_TX_STATUS))
				r.status = 1234;
			else
				dup = vnf_inject_take(q, VNF_INJ_TX_DUP);
		}
		vnf_tx_answer(q, r.id, r.status, &rel, budget);
		if (dup)
			vnf_tx_answer(q, r.id, r.status, &rel, budget);
	}
	vnf_txrel_flush(q, &rel, budget);
	txq = netdev_get_tx_queue(d->ndev, q->id);
	if (q->tx_live && !READ_ONCE(d->broken) &&
	    netif_tx_queue_stopped(txq) && vnf_tx_room(q) >= VNF_TX_WAKE) {
		vnf_tx_inc(q, VNF_TXS_WAKES);
		netif_tx_wake_queue(txq);
	}
	return true;
}

/* ---- TX: transmit ---- */

/* A packet as it goes on the ring. */
struct vnf_txpkt {
	unsigned int n;				/* data slots */
	struct vnf_seg seg[VPV_NETIF_MAX_SLOTS];
	struct page *copy[VPV_NETIF_MAX_SLOTS];	/* copied: our pages */
	int refs[VPV_NETIF_MAX_SLOTS];
	u16 pool;		/* in persistent buffer pool - 1 (one slot) */
	bool copied;
	bool gso;
	u8 gso_type;
	u16 gso_size;
	u16 flags;
	u16 csum_start, csum_offset;
};

/* The data slots @skb's own layout takes: a slot per frame touched. */
static unsigned int vnf_skb_frames(const struct sk_buff *skb)
{
	unsigned int i, n = vnf_frames(offset_in_page(skb->data),
				       skb_headlen(skb));

	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];

		n += vnf_frames(skb_frag_off(f), skb_frag_size(f));
	}
	return n;
}

/* @skb's bytes in place, split at frame boundaries (vnf_skb_frames()). */
static void vnf_tx_map(const struct sk_buff *skb, struct vnf_txpkt *p)
{
	unsigned int off = offset_in_page(skb->data), len = skb_headlen(skb);
	u64 pfn = PHYS_PFN(virt_to_phys(skb->data));
	unsigned int i;

	p->n = 0;
	/* the caller counted at most VPV_NETIF_MAX_SLOTS pieces */
	while (p->n < VPV_NETIF_MAX_SLOTS &&
	       vnf_seg_take(&pfn, &off, &len, &p->seg[p->n]))
		p->n++;
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *f = &skb_shinfo(skb)->frags[i];

		pfn = page_to_pfn(skb_frag_page(f));
		off = skb_frag_off(f);
		len = skb_frag_size(f);
		while (p->n < VPV_NETIF_MAX_SLOTS &&
		       vnf_seg_take(&pfn, &off, &len, &p->seg[p->n]))
			p->n++;
	}
}

static void vnf_tx_free_copy(struct vnf_txpkt *p)
{
	unsigned int i;

	for (i = 0; i < p->n; i++) {
		if (p->copy[i])
			__free_page(p->copy[i]);
		p->copy[i] = NULL;
	}
}

/*
 * @skb's bytes copied into @n whole pages of ours (a layout of too many
 * slots).  Return: 0, or -ENOMEM (nothing kept).
 */
static int vnf_tx_copy(const struct sk_buff *skb, struct vnf_txpkt *p,
		       unsigned int n)
{
	unsigned int i;

	p->n = 0;
	for (i = 0; i < n; i++) {
		unsigned int len = min(skb->len - i * VNF_FRAME, VNF_FRAME);
		/* in the transmit path: atomic; a failure drops the packet */
		struct page *pg = alloc_page(GFP_ATOMIC | __GFP_NOWARN);

		if (!pg)
			goto fail;
		p->copy[i] = pg;
		p->n = i + 1;
		if (skb_copy_bits(skb, i * VNF_FRAME, page_address(pg), len))
			goto fail;
		p->seg[i].pfn = page_to_pfn(pg);
		p->seg[i].off = 0;
		p->seg[i].len = len;
	}
	p->copied = true;
	return 0;
fail:
	vnf_tx_free_copy(p);
	p->n = 0;
	return -ENOMEM;
}

/*
 * Under q->tx_lock: @skb (at most a page) copied into a free persistent
 * TX buffer, its one slot in @p.  The caller checked that one is free.
 */
static void vnf_tx_pool_copy(struct vnf_queue *q, const struct sk_buff *skb,
			     struct vnf_txpkt *p)
{
	u16 i = q->tx_pool_free[--q->tx_pool_nfree];

	/* within the skb's length: cannot fail */
	skb_copy_bits(skb, 0, page_address(q->tx_pool[i]), skb->len);
	p->n = 1;
	p->pool = i + 1;
	p->copied = true;
	p->refs[0] = q->tx_pool_ref[i];
	p->seg[0].pfn = page_to_pfn(q->tx_pool[i]);
	p->seg[0].off = 0;
	p->seg[0].len = skb->len;
}

/*
 * The offloads of @skb as the ring carries them, for this connection:
 * a GSO extra (TCPv4/v6 offered, its size and length in range), and
 * CSUM_BLANK (feature-csum, offsets in range) or the checksum filled
 * here.  Return: 0, or -EINVAL for a packet this connection cannot
 * take (ndo_features_check() lets through only what fits; one queued
 * across a reconnect that lowered the features is dropped).
 */
static int vnf_tx_offloads(struct vnf_dev *d, struct sk_buff *skb,
			   struct vnf_txpkt *p)
{
	p->gso = false;
	p->flags = 0;
	p->csum_start = 0;
	p->csum_offset = 0;
	if (skb_is_gso(skb)) {
		unsigned int t = skb_shinfo(skb)->gso_type;

		if (skb->ip_summed != CHECKSUM_PARTIAL ||
		    (t & ~(SKB_GSO_TCPV4 | SKB_GSO_TCPV6 | SKB_GSO_DODGY)) ||
		    !vnf_tx_gso_ok(skb_shinfo(skb)->gso_size, skb->len,
				   d->be_mtu))
			return -EINVAL;
		if ((t & SKB_GSO_TCPV4) && !(t & SKB_GSO_TCPV6) && d->tx_gso4)
			p->gso_type = VPV_NETIF_GSO_TCPV4;
		else if ((t & SKB_GSO_TCPV6) && !(t & SKB_GSO_TCPV4) &&
			 d->tx_gso6)
			p->gso_type = VPV_NETIF_GSO_TCPV6;
		else
			return -EINVAL;
		p->gso = true;
		p->gso_size = skb_shinfo(skb)->gso_size;
	}
	if (skb->ip_summed == CHECKSUM_PARTIAL) {
		unsigned int start = skb_checksum_start_offset(skb);

		if (d->tx_csum &&
		    vnf_tx_csum_ok(start, skb->csum_offset, skb->len)) {
			p->flags |= VPV_NETIF_TXF_CSUM_BLANK;
			p->csum_start = start;
			p->csum_offset = skb->csum_offset;
		} else if (p->gso || skb_checksum_help(skb)) {
			return -EINVAL;
		}
	} else if (skb->ip_summed == CHECKSUM_UNNECESSARY) {
		p->flags |= VPV_NETIF_TXF_DATA_VALIDATED;
	}
	return 0;
}

/* Under q->tx_lock: publish what was written; notify if asked. */
static void vnf_tx_push(struct vnf_queue *q)
{
	q->tx_unpushed = false;
	if (vpv_front_push_requests(&q->tx)) {
		vnf_tx_inc(q, VNF_TXS_KICKS);
		vpv_evtchn_notify(q->port);
	}
}

/* Under q->tx_lock: the next request slot and its id slot. */
static union vpv_netif_tx_slot *vnf_tx_slot(struct vnf_queue *q, int *idx)
{
	*idx = vnf_slot_get(&q->tx_slots);	/* the caller saw room */
	return &VPV_RING_ENTRY(q->tx_sring, &q->tx, q->tx.req_prod_pvt++)->req;
}

/* Under q->tx_lock, room checked, grants made: @p's slots on the ring. */
static void vnf_tx_write(struct vnf_queue *q, struct sk_buff *skb,
			 struct vnf_txpkt *p)
{
	union vpv_netif_tx_slot *e;
	struct vnf_txbuf *b;
	unsigned int i;
	int idx;

	for (i = 0; i < p->n; i++) {
		struct vpv_netif_tx_req r = {
			.flags = i + 1 < p->n ? VPV_NETIF_TXF_MORE_DATA : 0,
			.gref = p->refs[i],
			.offset = p->seg[i].off,
			.size = p->seg[i].len,
		};

		e = vnf_tx_slot(q, &idx);
		b = &q->tx_buf[idx];
		/* a persistent buffer's grant is the connection's, not ended */
		b->gref = p->pool ? -1 : p->refs[i];
		b->pool = p->pool;
		if (p->pool)
			r.flags |= VPV_NETIF_TXF_PERSISTENT;
		b->page = p->copy[i];
		b->extra = false;
		b->head = !i;
		b->len = i ? 0 : skb->len;
		/* each data slot holds the skb until its own answer */
		b->skb = p->copied ? NULL : i ? skb_get(skb) : skb;
		r.id = q->tx_slots.s[idx].id;
		if (!i) {
			r.flags |= p->flags;
			r.csum_start = p->csum_start;
			r.csum_offset = p->csum_offset;
			if (p->gso)
				r.flags |= VPV_NETIF_TXF_EXTRA_INFO;
		}
		/* an entry not pushed yet is ours: the back-end reads it later */
		e->req = r;
		if (i || !p->gso)
			continue;
		e = vnf_tx_slot(q, &idx);
		b = &q->tx_buf[idx];
		memset(b, 0, sizeof(*b));
		b->gref = -1;
		b->extra = true;
		memset(&e->extra, 0, sizeof(e->extra));
		e->extra.id = q->tx_slots.s[idx].id;
		e->extra.type = VPV_NETIF_EXTRA_GSO;
		e->extra.u.gso.size = p->gso_size;
		e->extra.u.gso.type = p->gso_type;
	}
	q->tx_unpushed = true;
}

/*
 * Under q->tx_lock, room checked: @p's @n data slots for @skb: a
 * persistent buffer (@pooled: no grant made), pages of ours
 * (p->copied) or the skb's own frames, granted read-only in one
 * batch.  Return: 0; -ENOSPC when the grant table is full, another
 * -errno for a packet to drop (nothing kept either way).
 */
static int vnf_tx_fill(struct vnf_queue *q, const struct sk_buff *skb,
		       struct vnf_txpkt *p, unsigned int n, bool pooled)
{
	unsigned long pfns[VPV_NETIF_MAX_SLOTS];
	unsigned int i;
	int ret;

	memset(p->copy, 0, sizeof(p->copy));
	if (pooled) {
		vnf_tx_pool_copy(q, skb, p);
		vnf_tx_inc(q, VNF_TXS_PERSISTENT);
		return 0;
	}
	if (p->copied) {
		if (vnf_tx_copy(skb, p, n))
			return -ENOMEM;
		vnf_tx_inc(q, VNF_TXS_COPIED);
	} else {
		vnf_tx_map(skb, p);
	}
	for (i = 0; i < p->n; i++)
		pfns[i] = p->seg[i].pfn;
	ret = vpv_gnttab_grant_batch(vpv_bus_otherend_domid(q->d->bdev), pfns,
				     p->n, true, p->refs);
	if (ret)
		vnf_tx_free_copy(p);
	return ret;
}

/*
 * Under q->tx_lock: @skb onto the ring.  NETDEV_TX_BUSY (the skb stays
 * the caller's, the queue stopped) when not connected, or the ring or
 * the grant table has no room; otherwise the skb is the ring's or
 * dropped.
 */
static netdev_tx_t vnf_xmit_locked(struct vnf_queue *q, struct sk_buff *skb,
				   struct netdev_queue *txq)
{
	struct vnf_dev *d = q->d;
	struct vnf_txpkt p;
	unsigned int n;
	bool pooled;
	int ret;

	if (unlikely(READ_ONCE(d->broken))) {
		netif_tx_stop_queue(txq);
		goto drop;
	}
	if (unlikely(!q->tx_live)) {
		/*
		 * Not connected, the stack not yet told (the link watch
		 * runs later): the packet waits in the qdisc, sent after a
		 * quick reconnect (connected() wakes the queue), dropped
		 * with the qdisc's contents when the carrier-off reaches it
		 */
		netif_tx_stop_queue(txq);
		vnf_tx_inc(q, VNF_TXS_STOPPED);
		return NETDEV_TX_BUSY;
	}
	if (vnf_tx_offloads(d, skb, &p) ||
	    !vnf_tx_len_ok(skb->len, p.gso, d->be_mtu))
		goto drop;
	p.pool = 0;
	/*
	 * Copied: a packet of a page at most into a persistent buffer (no
	 * grant made); too many slots, or tx_bounce (a frame granted in
	 * place shows the back-end whatever else shares it with the
	 * packet) into pages of ours
	 */
	pooled = d->tx_persistent && skb->len <= VNF_FRAME &&
		 q->tx_pool_nfree;
	n = pooled ? 1 : vnf_tx_slots(vnf_skb_frames(skb), skb->len,
				      d->tx_sg, skb_has_frag_list(skb) ||
				      tx_bounce, &p.copied);
	if (!n)
		goto drop;
	if (unlikely(vnf_tx_room(q) < n + p.gso)) {
		/* the queue stops before this; bogus answers leak slots */
		netif_tx_stop_queue(txq);
		vnf_tx_inc(q, VNF_TXS_STOPPED);
		return NETDEV_TX_BUSY;
	}
	ret = vnf_tx_fill(q, skb, &p, n, pooled);
	if (ret) {
		if (ret != -ENOSPC)
			goto drop;
		/* the table is full: NAPI tries again (vnf_retry()) */
		vnf_tx_inc(q, VNF_TXS_NOGRANT);
		netif_tx_stop_queue(txq);
		mod_timer(&q->retry, jiffies + VNF_RETRY);
		return NETDEV_TX_BUSY;
	}
	if (p.flags & VPV_NETIF_TXF_CSUM_BLANK)
		vnf_tx_inc(q, VNF_TXS_CSUM);
	if (p.gso)
		vnf_tx_inc(q, VNF_TXS_GSO);
	skb_tx_timestamp(skb);
	vnf_tx_write(q, skb, &p);
	/* copied: the ring holds our pages, not the skb */
	if (p.copied)
		dev_consume_skb_any(skb);
	if (vnf_tx_room(q) < VNF_TX_MAX_ENTRIES) {
		netif_tx_stop_queue(txq);
		vnf_tx_inc(q, VNF_TXS_STOPPED);
	}
	return NETDEV_TX_OK;

drop:
	vnf_tx_inc(q, VNF_TXS_DROPPED);
	dev_kfree_skb_any(skb);
	return NETDEV_TX_OK;
}

static netdev_tx_t vnf_start_xmit(struct sk_buff *skb, struct net_device *ndev)
{
	struct vnf_dev *d = netdev_priv(ndev);
	u16 qid = skb_get_queue_mapping(skb);
	struct vnf_queue *q = &d->q[qid % VPV_NETIF_MAX_QUEUES];
	struct netdev_queue *txq = netdev_get_tx_queue(ndev, qid);
	netdev_tx_t ret;

	spin_lock(&q->tx_lock);
	ret = vnf_xmit_locked(q, skb, txq);
	/* one push and notification per batch (xmit_more) */
	if (q->tx_unpushed && q->tx_live &&
	    (!netdev_xmit_more() || netif_xmit_stopped(txq)))
		vnf_tx_push(q);
	spin_unlock(&q->tx_lock);
	return ret;
}

/* ---- RX ---- */

/* A ring entry, read as two words. */
union vnf_rx_word {
	u64 w[2];
	union vpv_netif_rx_slot s;
};

static_assert(sizeof(union vnf_rx_word) == sizeof(union vpv_netif_rx_entry),
	      "an RX entry is two words");

/* Where a good packet's data slots are (ids checked, slots freed). */
struct vnf_rxseg {
	u16 idx;		/* the buffer */
	u16 off, len;
};

/*
 * The test hook: RX slot 0 (or an extra) as a hostile back-end writes
 * it, changed after it was read once from the ring, before it is judged.
 */
static void vnf_rx_inject(struct vnf_queue *q, union vpv_netif_rx_slot *s,
			  bool first, bool extra)
{
	struct vnf_dev *d = q->d;
	int v = READ_ONCE(d->inject);

	if (v < VNF_INJ_RX_ID || v > VNF_INJ_RX_EXTRA ||
	    (v == VNF_INJ_RX_EXTRA ? !extra : !first) ||
	    !vnf_inject_take(q, v))
		return;
	switch (v) {
	case VNF_INJ_RX_ID:
		s->rsp.id ^= 0x8000;	/* another generation */
		break;
	case VNF_INJ_RX_DUP:
		s->rsp.id = q->rx_last_ok ? q->rx_last_id : s->rsp.id ^ 0x8000;
		break;
	case VNF_INJ_RX_STATUS:
		s->rsp.status = -VPV_EIO;
		s->rsp.size = 0;
		break;
	case VNF_INJ_RX_FLAGS:
		s->rsp.flags |= 0x10;
		break;
	case VNF_INJ_RX_SIZE:
		s->rsp.size = 0;
		break;
	case VNF_INJ_RX_OFFSET:
		s->rsp.offset = VNF_FRAME;
		break;
	case VNF_INJ_RX_CSUM:
		s->rsp.flags &= ~VPV_NETIF_RXF_DATA_VALIDATED;
		s->rsp.flags |= VPV_NETIF_RXF_CSUM_BLANK;
		s->rsp.csum_start = 0;
		s->rsp.csum_offset = 0;
		break;
	case VNF_INJ_RX_EXTRA:
		s->extra.type = 0;
		break;
	}
}

/*
 * The skb of a large packet of n buffers: slot 0's headers (*linp
 * bytes, at least what eth_get_headlen() finds) copied into its linear
 * area, with room for what pskb_may_pull() may want of the fragments
 * later.  NULL (counted) when the fragments would not fit in one skb
 * or there is no memory.  The caller adds the fragments.
 */
static struct sk_buff *vnf_rx_head(struct vnf_queue *q,
				   const struct vnf_rxseg *seg,
				   unsigned int n, unsigned int *linp)
{
	void *va = page_address(q->rx_buf[seg[0].idx].page) + seg[0].off;
	unsigned int hlen, lin;
	struct sk_buff *skb;

	hlen = eth_get_headlen(q->d->ndev, va,
			       min_t(unsigned int, seg[0].len, VNF_RX_HDR_MAX));
	lin = vnf_rx_linear(seg[0].len, hlen, n, MAX_SKB_FRAGS);
	/* fragments: slot 0's remainder (if any) and every later slot */
	if (n - 1 + !!(seg[0].len - lin) > MAX_SKB_FRAGS) {
		vnf_rx_inc(q, VNF_RXS_DROPPED);
		return NULL;
	}
	skb = napi_alloc_skb(&q->napi, max_t(unsigned int, lin, VNF_RX_HDR_MAX));
	if (!skb) {
		vnf_rx_inc(q, VNF_RXS_NOMEM);
		vnf_rx_inc(q, VNF_RXS_DROPPED);
		return NULL;
	}
	skb_put_data(skb, va, lin);
	*linp = lin;
	return skb;
}

/*
 * The pages of a large packet become its skb's: their grants end first
 * (the back-end unmapped them before answering); one still mapped is
 * never ours again (vpv_gnttab_end_deferred() frees it later) and the
 * packet is dropped.  Slot 0's headers are copied into the linear area,
 * the rest attached as fragments.  Return: the skb, or NULL (counted;
 * buffers whose page is left are granted again by the refill).
 */
static struct sk_buff *vnf_rx_attach(struct vnf_queue *q,
				     const struct vnf_rxseg *seg,
				     unsigned int n)
{
	struct net_device *ndev = q->d->ndev;
	int refs[VPV_NETIF_MAX_SLOTS];
	struct vnf_rxbuf *b0 = &q->rx_buf[seg[0].idx];
	unsigned int i, f = 0, lin;
	struct sk_buff *skb;
	int busy;

	for (i = 0; i < n; i++)
		refs[i] = q->rx_buf[seg[i].idx].gref;
	busy = vpv_gnttab_end_batch(refs, n);
	for (i = 0; i < n; i++) {
		struct vnf_rxbuf *b = &q->rx_buf[seg[i].idx];

		if (refs[i] >= 0) {
			vpv_gnttab_end_deferred(refs[i], b->page);
			b->page = NULL;
		}
		b->gref = -1;
	}
	if (busy) {
		vnf_rx_inc(q, VNF_RXS_GRANT_BUSY);
		vnf_rx_inc(q, VNF_RXS_ERRORS);
		net_warn_ratelimited("%s: queue %u: %d RX buffers still mapped after their answer: packet dropped\n",
				     netdev_name(ndev), q->id, busy);
		return NULL;
	}
	skb = vnf_rx_head(q, seg, n, &lin);
	if (!skb)
		return NULL;
	if (lin < seg[0].len) {
		skb_add_rx_frag(skb, f++, b0->page, seg[0].off + lin,
				seg[0].len - lin, PAGE_SIZE);
		b0->page = NULL;
	}
	for (i = 1; i < n; i++) {
		struct vnf_rxbuf *b = &q->rx_buf[seg[i].idx];

		skb_add_rx_frag(skb, f++, b->page, seg[i].off, seg[i].len,
				PAGE_SIZE);
		b->page = NULL;
	}
	return skb;
}

/*
 * A large packet of persistent buffers (feature-persistent): laid out
 * as vnf_rx_attach() does, slot 0's headers in the linear area and the
 * rest as fragments, the grants kept.  The fragments are the buffers'
 * pages themselves, lent (a reference each; vnf_rx_unlend() parks a
 * lent page until the stack puts it back), or, with rx_lend_max pages
 * lent already, copies in new pages.  Return: the skb, or NULL
 * (counted).
 */
static struct sk_buff *vnf_rx_copy_frags(struct vnf_queue *q,
					 const struct vnf_rxseg *seg,
					 unsigned int n)
{
	bool lend = q->rx_lent_out + n <= q->rx_lend_max;
	unsigned int i, f = 0, lin;
	struct sk_buff *skb;
	struct page *pg;

	skb = vnf_rx_head(q, seg, n, &lin);
	if (!skb)
		return NULL;
	for (i = 0; i < n; i++) {
		struct vnf_rxbuf *b = &q->rx_buf[seg[i].idx];
		unsigned int off = seg[i].off + (i ? 0 : lin);
		unsigned int len = seg[i].len - (i ? 0 : lin);

		if (!len)
			continue;
		if (lend) {
			/* the skb's reference; ours stays with the buffer */
			get_page(b->page);
			skb_add_rx_frag(skb, f++, b->page, off, len, PAGE_SIZE);
			if (!b->lent)
				q->rx_lent_out++;
			b->lent = true;
			continue;
		}
		pg = alloc_page(GFP_ATOMIC | __GFP_NOWARN);
		if (!pg) {
			kfree_skb(skb);
			goto nomem;
		}
		memcpy(page_address(pg), page_address(b->page) + off, len);
		skb_add_rx_frag(skb, f++, pg, 0, len, PAGE_SIZE);
	}
	if (!lend) {
		vnf_rx_inc(q, VNF_RXS_COPIED);
		vnf_rx_inc(q, VNF_RXS_LEND_FULL);
	}
	return skb;
nomem:
	vnf_rx_inc(q, VNF_RXS_NOMEM);
	vnf_rx_inc(q, VNF_RXS_DROPPED);
	return NULL;
}

/* A good packet up the stack: @napi, or outside NAPI (a disconnect). */
static void vnf_rx_deliver(struct vnf_queue *q, const struct vnf_rx_pkt *p,
			   const struct vnf_rxseg *seg, bool napi)
{
	struct net_device *ndev = q->d->ndev;
	unsigned int i, need = ETH_HLEN;
	struct sk_buff *skb;

	if (!netif_running(ndev)) {
		vnf_rx_inc(q, VNF_RXS_DROPPED);
		return;
	}
	for (i = 0; i < p->ndata; i++) {
		if (!q->rx_buf[seg[i].idx].page) {
			/* a posted buffer always has its page */
			vnf_rx_inc(q, VNF_RXS_DROPPED);
			return;
		}
	}
	if (p->len <= rx_copybreak) {
		skb = napi_alloc_skb(&q->napi, p->len);
		if (!skb) {
			vnf_rx_inc(q, VNF_RXS_NOMEM);
			vnf_rx_inc(q, VNF_RXS_DROPPED);
			return;
		}
		/* the buffers keep their pages and grants: posted again */
		for (i = 0; i < p->ndata; i++)
			skb_put_data(skb, page_address(q->rx_buf[seg[i].idx].page) +
				     seg[i].off, seg[i].len);
		vnf_rx_inc(q, VNF_RXS_COPIED);
	} else {
		skb = READ_ONCE(q->d->rx_persistent) ?
		      vnf_rx_copy_frags(q, seg, p->ndata) :
		      vnf_rx_attach(q, seg, p->ndata);
		if (!skb)
			return;
	}
	if (p->flags & VPV_NETIF_RXF_CSUM_BLANK)
		need = max_t(unsigned int, need,
			     p->csum_start + p->csum_offset + 2);
	/* the Ethernet header and the checksum field in the linear area */
	if (!pskb_may_pull(skb, need)) {
		vnf_rx_inc(q, VNF_RXS_NOMEM);
		vnf_rx_inc(q, VNF_RXS_DROPPED);
		goto free;
	}
	if (p->flags & VPV_NETIF_RXF_CSUM_BLANK) {
		if (!skb_partial_csum_set(skb, p->csum_start, p->csum_offset)) {
			vnf_rx_inc(q, VNF_RXS_BAD_CSUM);
			vnf_rx_inc(q, VNF_RXS_ERRORS);
			goto free;
		}
		vnf_rx_inc(q, VNF_RXS_CSUM_PARTIAL);
	} else if ((p->flags & VPV_NETIF_RXF_DATA_VALIDATED) &&
		   (ndev->features & NETIF_F_RXCSUM)) {
		skb->ip_summed = CHECKSUM_UNNECESSARY;
		vnf_rx_inc(q, VNF_RXS_CSUM_VALID);
	}
	if (p->gso) {
		/* DODGY: the stack checks the back-end's GSO fields again */
		skb_shinfo(skb)->gso_size = p->gso_size;
		skb_shinfo(skb)->gso_type = SKB_GSO_DODGY |
			(p->gso_type == VPV_NETIF_GSO_TCPV4 ? SKB_GSO_TCPV4 :
							      SKB_GSO_TCPV6);
		skb_shinfo(skb)->gso_segs = 0;
		vnf_rx_inc(q, VNF_RXS_GSO);
	}
	skb->protocol = eth_type_trans(skb, ndev);
	skb_record_rx_queue(skb, q->id);
	vnf_rx_inc(q, VNF_RXS_PACKETS);
	vnf_rx_add_stat(q, VNF_RXS_BYTES, p->len);
	if (napi)
		napi_gro_receive(&q->napi, skb);
	else
		netif_receive_skb(skb);
	return;
free:
	kfree_skb(skb);
}

/*
 * One packet from rsp_cons, @avail responses visible: each slot read
 * once, its buffer freed if its id names one (posted again by the
 * refill whatever becomes of the packet), the packet judged, then
 * delivered or dropped and counted.  Return: the slots consumed (>= 1).
 */
static unsigned int vnf_rx_packet(struct vnf_queue *q, unsigned int avail,
				  bool napi)
{
	struct vnf_dev *d = q->d;
	struct vnf_rxseg seg[VPV_NETIF_MAX_SLOTS];
	struct vnf_rx_pkt p;
	enum vnf_rx_class c;
	unsigned int i = 0, n = 0;
	bool partial = false;

	vnf_rx_begin(&p);
	while (vnf_rx_more(&p)) {
		const u64 *e;
		union vnf_rx_word w;
		bool extra = vnf_rx_next_is_extra(&p);
		int idx;

		if (i == avail) {
			partial = true;
			break;
		}
		e = (const u64 *)VPV_RING_ENTRY(q->rx_sring, &q->rx,
						q->rx.rsp_cons + i);
		/* read once: the back-end may rewrite the entry at any time */
		w.w[0] = READ_ONCE(e[0]);
		w.w[1] = READ_ONCE(e[1]);
		i++;
		if (unlikely(READ_ONCE(d->inject)))
			vnf_rx_inject(q, &w.s, !p.slots, extra);
		idx = vnf_slot_find(&q->rx_slots, w.s.rsp.id);
		if (idx >= 0) {
			vnf_slot_put(&q->rx_slots, idx);
			q->rx_last_id = w.s.rsp.id;
			q->rx_last_ok = true;
			/* a data slot's bytes (judged below, used if good) */
			if (!extra && n < VPV_NETIF_MAX_SLOTS) {
				seg[n].idx = idx;
				seg[n].off = w.s.rsp.offset;
				seg[n].len = w.s.rsp.size;
				n++;
			}
		}
		vnf_rx_add(&p, &w.s, idx >= 0, &d->rx_cfg);
	}
	q->rx.rsp_cons += i;
	c = vnf_rx_finish(&p, &d->rx_cfg, partial);
	if (c != VNF_RXC_OK) {
		vnf_rx_inc(q, VNF_RXS_CLASS(c));
		vnf_rx_inc(q, VNF_RXS_ERRORS);
		net_warn_ratelimited("%s: queue %u: bogus RX packet (%s) of %u slots dropped\n",
				     netdev_name(d->ndev), q->id,
				     vnf_rxs_names[VNF_RXS_CLASS(c)], i);
		return i;
	}
	/* good: every data slot's id was good, so n == p.ndata */
	vnf_rx_deliver(q, &p, seg, napi);
	return i;
}

/*
 * Up to @budget packets from the RX ring (NAPI's, or the disconnect's
 * with NAPI off).  Return: packets handled; a protocol error takes the
 * device down.
 */
static int vnf_rx(struct vnf_queue *q, int budget, bool napi)
{
	struct vnf_dev *d = q->d;
	long avail = vpv_front_unconsumed_responses(&q->rx);
	int done = 0;

	if (unlikely(READ_ONCE(d->inject)) &&
	    vnf_inject_take(q, VNF_INJ_RX_PROD))
		avail = -1;
	if (avail < 0) {
		vnf_broken(q, false);
		return 0;
	}
	while (avail > 0 && done < budget) {
		avail -= vnf_rx_packet(q, (unsigned int)avail, napi);
		done++;
	}
	return done;
}

/* Parked lent pages the stack let go of become spare buffers. */
static void vnf_rx_reclaim(struct vnf_queue *q)
{
	unsigned int i = 0;

	while (i < q->rx_nlent) {
		if (page_ref_count(q->rx_lent[i].page) > 1) {
			i++;
			continue;
		}
		q->rx_spare[q->rx_nspare++] = q->rx_lent[i];
		q->rx_lent[i] = q->rx_lent[--q->rx_nlent];
		q->rx_lent_out--;
	}
}

/*
 * Buffer @b about to be posted lent its page: taken back if the stack
 * let go of it, else parked (granted, not posted: the back-end never
 * writes it) and @b given a spare buffer, or none (the refill grants a
 * new page).  Parked and spare never exceed rx_lend_max together (a
 * new page only when no spare is left, and at most rx_lend_max lent).
 */
static void vnf_rx_unlend(struct vnf_queue *q, struct vnf_rxbuf *b)
{
	b->lent = false;
	if (page_ref_count(b->page) == 1) {
		q->rx_lent_out--;
		return;
	}
	q->rx_lent[q->rx_nlent++] = *b;
	if (q->rx_nspare) {
		*b = q->rx_spare[--q->rx_nspare];
	} else {
		b->page = NULL;
		b->gref = -1;
	}
}

/*
 * Keep q->rx_fill buffers posted: free buffers get a page (@gfp) and a
 * writable grant if they lost theirs, in batches, and go on the ring.
 * Pages or grants short: the retry timer has NAPI try again.
 */
static void vnf_rx_refill(struct vnf_queue *q, gfp_t gfp)
{
	u16 domid = vpv_bus_otherend_domid(q->d->bdev);
	unsigned int posted = q->rx_slots.nr - q->rx_slots.nfree;
	unsigned int want, pushed = 0;
	bool short_of = false;

	if (!q->rx_sring)
		return;
	want = posted < q->rx_fill ? q->rx_fill - posted : 0;
	want = min(want, vpv_front_free_requests(&q->rx));
	if (q->rx_nlent)
		vnf_rx_reclaim(q);
	while (want && !short_of) {
		unsigned long pfns[VNF_GRANT_BATCH];
		int refs[VNF_GRANT_BATCH], idx[VNF_GRANT_BATCH];
		unsigned int gi[VNF_GRANT_BATCH];
		unsigned int n = min_t(unsigned int, want, VNF_GRANT_BATCH);
		unsigned int k, j, m = 0;

		for (k = 0; k < n; k++) {
			struct vnf_rxbuf *b;

			idx[k] = vnf_slot_get(&q->rx_slots);
			if (idx[k] < 0)
				break;
			b = &q->rx_buf[idx[k]];
			if (b->lent)
				vnf_rx_unlend(q, b);
			/*
			 * Zeroed: the back-end maps it writable, so it can read
			 * it too; nothing of the guest's but packets it wrote
			 */
			if (!b->page)
				b->page = alloc_page(gfp | __GFP_ZERO |
						     __GFP_NOWARN);
			if (!b->page) {
				vnf_slot_put(&q->rx_slots, idx[k]);
				vnf_rx_inc(q, VNF_RXS_NOMEM);
				short_of = true;
				break;
			}
			if (b->gref < 0) {
				pfns[m] = page_to_pfn(b->page);
				gi[m++] = k;
			}
		}
		n = k;
		if (m && vpv_gnttab_grant_batch(domid, pfns, m, false, refs)) {
			/* nothing of the batch granted: not posted */
			for (k = 0; k < n; k++)
				vnf_slot_put(&q->rx_slots, idx[k]);
			vnf_rx_inc(q, VNF_RXS_NOGRANT);
			short_of = true;
			break;
		}
		for (j = 0; j < m; j++)
			q->rx_buf[idx[gi[j]]].gref = refs[j];
		for (k = 0; k < n; k++) {
			struct vpv_netif_rx_req *r =
				&VPV_RING_ENTRY(q->rx_sring, &q->rx,
						q->rx.req_prod_pvt++)->req;

			r->id = q->rx_slots.s[idx[k]].id;
			r->pad = 0;
			r->gref = q->rx_buf[idx[k]].gref;
		}
		pushed += n;
		want -= n;
		if (!n)
			break;
	}
	if (pushed && vpv_front_push_requests(&q->rx))
		vpv_evtchn_notify(q->port);
	if (short_of)
		mod_timer(&q->retry, jiffies + VNF_RETRY);
}

/* ---- NAPI and the interrupt ---- */

/*
 * Re-arm both rings' rsp_event and look again: true when answers came
 * meanwhile (or a ring broke: the next poll finds it).
 */
static bool vnf_final_check(struct vnf_queue *q)
{
	long t, r;

	spin_lock(&q->tx_lock);
	t = vpv_front_final_check_responses(&q->tx);
	spin_unlock(&q->tx_lock);
	r = vpv_front_final_check_responses(&q->rx);
	return t || r;
}

static int vnf_poll(struct napi_struct *napi, int budget)
{
	struct vnf_queue *q = container_of(napi, struct vnf_queue, napi);
	struct vnf_dev *d = q->d;
	int work = 0;
	bool ok;

	if (unlikely(READ_ONCE(d->broken))) {
		if (budget)
			napi_complete_done(napi, 0);
		return 0;
	}
	spin_lock(&q->tx_lock);
	ok = vnf_tx_complete(q, budget);
	spin_unlock(&q->tx_lock);
	if (!budget)		/* netpoll: TX completions only */
		return 0;
	if (ok)
		work = vnf_rx(q, budget, true);
	if (!READ_ONCE(d->broken))
		vnf_rx_refill(q, GFP_ATOMIC);
	if (work < budget) {
		/*
		 * Before completing: an interrupt from now on schedules us
		 * again (NAPIF_STATE_MISSED while we still own it).
		 */
		if (!READ_ONCE(d->broken) && vnf_final_check(q))
			return budget;
		napi_complete_done(napi, work);
	}
	return work;
}

/* The queue's event channel: only schedule its NAPI. */
static irqreturn_t vnf_interrupt(int irq, void *data)
{
	struct vnf_queue *q = data;

	napi_schedule(&q->napi);
	return IRQ_HANDLED;
}

/* Pages or grants ran out (RX refill, TX): NAPI tries again. */
static void vnf_retry(struct timer_list *t)
{
	struct vnf_queue *q = from_timer(q, t, retry);

	napi_schedule(&q->napi);
}

/* ---- the netdev ---- */

static netdev_features_t vnf_ndo_fix_features(struct net_device *ndev,
					      netdev_features_t features)
{
	struct vnf_dev *d = netdev_priv(ndev);

	return vnf_fix_features(features, &d->be);
}

/*
 * Per packet, before it is queued for us: what does not fit the ring's
 * limits is segmented or checksummed by the stack instead.
 */
static netdev_features_t vnf_features_check(struct sk_buff *skb,
					    struct net_device *ndev,
					    netdev_features_t features)
{
	struct vnf_dev *d = netdev_priv(ndev);

	features = vlan_features_check(skb, features);
	if (skb_is_gso(skb) &&
	    !vnf_tx_gso_ok(skb_shinfo(skb)->gso_size, skb->len,
			   READ_ONCE(d->be_mtu)))
		features &= ~NETIF_F_GSO_MASK;
	if (skb->ip_summed == CHECKSUM_PARTIAL &&
	    !vnf_tx_csum_ok(skb_checksum_start_offset(skb), skb->csum_offset,
			    skb->len))
		features &= ~(NETIF_F_CSUM_MASK | NETIF_F_GSO_MASK);
	return features;
}

/* Under rtnl: the new MTU; the "mtu" key is rewritten by a work item. */
static int vnf_change_mtu(struct net_device *ndev, int mtu)
{
	struct vnf_dev *d = netdev_priv(ndev);

	WRITE_ONCE(ndev->mtu, mtu);
	schedule_work(&d->mtu_work);
	return 0;
}

/*
 * The interface's MTU to our "mtu" key (the latest value wins), while
 * a connection is set up: the next connect() writes it otherwise, and
 * a write after a hot-unplug would create the device's node again.
 */
static void vnf_mtu_work(struct work_struct *w)
{
	struct vnf_dev *d = container_of(w, struct vnf_dev, mtu_work);
	int ret;

	if (READ_ONCE(d->dead) || !READ_ONCE(d->nr_queues))
		return;
	ret = vpv_bus_printf(d->bdev, 0, "mtu", "%u", READ_ONCE(d->ndev->mtu));
	if (ret)
		netdev_warn(d->ndev, "cannot write the mtu key: %d\n", ret);
}

static void vnf_get_stats64(struct net_device *ndev,
			    struct rtnl_link_stats64 *s)
{
	struct vnf_dev *d = netdev_priv(ndev);
	u64 rx[VNF_RXS_NR], tx[VNF_TXS_NR];

	vnf_totals(d, rx, tx);
	s->rx_packets = rx[VNF_RXS_PACKETS];
	s->rx_bytes = rx[VNF_RXS_BYTES];
	s->rx_errors = rx[VNF_RXS_ERRORS];
	s->rx_dropped = rx[VNF_RXS_DROPPED];
	s->tx_packets = tx[VNF_TXS_PACKETS];
	s->tx_bytes = tx[VNF_TXS_BYTES];
	s->tx_errors = tx[VNF_TXS_ERRORS];
	s->tx_dropped = tx[VNF_TXS_DROPPED] + tx[VNF_TXS_DROPPED_RECONNECT];
}

/* A stopped queue got no answer for watchdog_timeo: count, look again. */
static void vnf_tx_timeout(struct net_device *ndev, unsigned int txqueue)
{
	struct vnf_dev *d = netdev_priv(ndev);

	atomic64_inc(&d->tx_timeouts);
	netdev_warn(ndev, "TX queue %u: no answer from the back-end\n",
		    txqueue);
	if (txqueue < VPV_NETIF_MAX_QUEUES)
		napi_schedule(&d->q[txqueue].napi);
}

static const struct net_device_ops vnf_netdev_ops = {
	.ndo_start_xmit = vnf_start_xmit,
	.ndo_features_check = vnf_features_check,
	.ndo_fix_features = vnf_ndo_fix_features,
	.ndo_change_mtu = vnf_change_mtu,
	.ndo_get_stats64 = vnf_get_stats64,
	.ndo_tx_timeout = vnf_tx_timeout,
	.ndo_validate_addr = eth_validate_addr,
};

/* ---- ethtool ---- */

static void vnf_get_drvinfo(struct net_device *ndev,
			    struct ethtool_drvinfo *info)
{
	struct vnf_dev *d = netdev_priv(ndev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->bus_info, dev_name(&d->bdev->dev),
		sizeof(info->bus_info));
}

/* Under rtnl (ethtool), as the queue count's changes are. */
static unsigned int vnf_nr_stats(struct net_device *ndev)
{
	return VNF_RXS_NR + VNF_TXS_NR + VNF_DS_NR +
	       ndev->real_num_rx_queues * (VNF_RXS_NR + VNF_TXS_NR);
}

static int vnf_get_sset_count(struct net_device *ndev, int sset)
{
	return sset == ETH_SS_STATS ? vnf_nr_stats(ndev) : -EOPNOTSUPP;
}

static void vnf_get_strings(struct net_device *ndev, u32 sset, u8 *data)
{
	unsigned int i, q;

	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < VNF_RXS_NR; i++)
		ethtool_sprintf(&data, "%s", vnf_rxs_names[i]);
	for (i = 0; i < VNF_TXS_NR; i++)
		ethtool_sprintf(&data, "%s", vnf_txs_names[i]);
	for (i = 0; i < VNF_DS_NR; i++)
		ethtool_sprintf(&data, "%s", vnf_ds_names[i]);
	for (q = 0; q < ndev->real_num_rx_queues; q++) {
		for (i = 0; i < VNF_RXS_NR; i++)
			ethtool_sprintf(&data, "q%u_%s", q, vnf_rxs_names[i]);
		for (i = 0; i < VNF_TXS_NR; i++)
			ethtool_sprintf(&data, "q%u_%s", q, vnf_txs_names[i]);
	}
}

static void vnf_get_ethtool_stats(struct net_device *ndev,
				  struct ethtool_stats *stats, u64 *data)
{
	struct vnf_dev *d = netdev_priv(ndev);
	unsigned int i, q, n = vnf_nr_stats(ndev);
	u64 rx[VNF_RXS_NR], tx[VNF_TXS_NR];

	if (n != stats->n_stats)
		return;
	vnf_totals(d, rx, tx);
	memcpy(data, rx, sizeof(rx));
	data += VNF_RXS_NR;
	memcpy(data, tx, sizeof(tx));
	data += VNF_TXS_NR;
	for (i = 0; i < VNF_DS_NR; i++)
		*data++ = vnf_dev_stat(d, i);
	n = min_t(unsigned int, ndev->real_num_rx_queues,
		  VPV_NETIF_MAX_QUEUES);
	for (q = 0; q < n; q++) {
		vnf_q_read(&d->q[q], rx, tx);
		memcpy(data, rx, sizeof(rx));
		data += VNF_RXS_NR;
		memcpy(data, tx, sizeof(tx));
		data += VNF_TXS_NR;
	}
}

/*
 * The queues: as many as the last connect set up, at most what the
 * back-end offered then (1 before any; max_queues and the online CPUs
 * may take fewer).  Fixed per connection: no set_channels.
 */
static void vnf_get_channels(struct net_device *ndev,
			     struct ethtool_channels *ch)
{
	struct vnf_dev *d = netdev_priv(ndev);

	ch->max_combined = max(READ_ONCE(d->be_queues), 1u);
	ch->combined_count = ndev->real_num_rx_queues;
}

static const struct ethtool_ops vnf_ethtool_ops = {
	.get_drvinfo = vnf_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_sset_count = vnf_get_sset_count,
	.get_strings = vnf_get_strings,
	.get_ethtool_stats = vnf_get_ethtool_stats,
	.get_channels = vnf_get_channels,
};

/* ---- connection ---- */

/* Drain the linger list once; true while skbs still wait. */
static bool vnf_linger_pass(struct vnf_dev *d)
{
	struct vnf_linger *l, *tmp;
	LIST_HEAD(all);
	LIST_HEAD(busy);
	unsigned int n = 0;
	bool more;

	spin_lock_irq(&d->linger_lock);
	list_splice_init(&d->linger, &all);
	spin_unlock_irq(&d->linger_lock);
	list_for_each_entry_safe(l, tmp, &all, node) {
		if (vpv_gnttab_end(l->ref) == -EBUSY) {
			list_move_tail(&l->node, &busy);
			continue;
		}
		list_del(&l->node);
		dev_consume_skb_any(l->skb);
		kfree(l);
		n++;
	}
	spin_lock_irq(&d->linger_lock);
	list_splice(&busy, &d->linger);
	d->nlinger -= n;
	more = d->nlinger;
	spin_unlock_irq(&d->linger_lock);
	return more;
}

static void vnf_linger_work(struct work_struct *w)
{
	struct vnf_dev *d = container_of(to_delayed_work(w), struct vnf_dev,
					 linger_work);

	if (vnf_linger_pass(d))
		schedule_delayed_work(&d->linger_work, VNF_LINGER_RETRY);
}

/*
 * Removal: wait a little for the back-end to let go of the lingering
 * grants, then give up on them (their skbs are orphaned and never
 * freed: a page the back-end may still read is never reused).
 */
static void vnf_linger_drain(struct vnf_dev *d)
{
	struct vnf_linger *l, *tmp;
	unsigned int i;

	cancel_delayed_work_sync(&d->linger_work);
	for (i = 0; i < VNF_LINGER_TRIES && vnf_linger_pass(d); i++)
		msleep(jiffies_to_msecs(VNF_LINGER_RETRY));
	list_for_each_entry_safe(l, tmp, &d->linger, node) {
		netdev_warn(d->ndev, "TX grant %d still mapped at removal: its skb is leaked\n",
			    l->ref);
		skb_orphan(l->skb);
		list_del(&l->node);
		kfree(l);
	}
	d->nlinger = 0;
}

/*
 * Under d->lock, NAPI off, IRQ unbound: the queue's rings go.  TX slots
 * still busy are dropped (counted per packet), RX buffers taken back;
 * grants still mapped end later.
 */
static void vnf_queue_free(struct vnf_dev *d, struct vnf_queue *q)
{
	struct vnf_txrel rel;
	unsigned int i;

	rel.n = 0;
	spin_lock_bh(&q->tx_lock);
	for (i = 0; q->tx_buf && i < q->tx_slots.nr; i++) {
		if (!vnf_slot_put(&q->tx_slots, i))
			continue;
		if (q->tx_buf[i].head)
			vnf_tx_inc(q, VNF_TXS_DROPPED_RECONNECT);
		vnf_txrel_add(q, &rel, &q->tx_buf[i], 0);
	}
	vnf_txrel_flush(q, &rel, 0);
	q->tx_unpushed = false;
	/* the back-end unmaps its kept ones at the disconnect: deferred */
	for (i = 0; i < q->tx_pool_nr; i++)
		vpv_gnttab_end_deferred(q->tx_pool_ref[i], q->tx_pool[i]);
	q->tx_pool_nr = 0;
	q->tx_pool_nfree = 0;
	spin_unlock_bh(&q->tx_lock);
	kfree(q->tx_buf);
	kfree(q->tx_slots.s);
	q->tx_buf = NULL;
	memset(&q->tx_slots, 0, sizeof(q->tx_slots));
	vpv_bus_free_ring(d->bdev, q->tx_sring, d->nr_pages, q->tx_refs);
	q->tx_sring = NULL;

	for (i = 0; q->rx_buf && i < q->rx_slots.nr; i++) {
		struct vnf_rxbuf *b = &q->rx_buf[i];

		/* frees our reference: an skb that holds the page keeps it */
		if (b->page && b->gref >= 0)
			vpv_gnttab_end_deferred(b->gref, b->page); /* frees */
		else if (b->page)
			__free_page(b->page);
	}
	for (i = 0; i < q->rx_nlent; i++)
		vpv_gnttab_end_deferred(q->rx_lent[i].gref, q->rx_lent[i].page);
	for (i = 0; i < q->rx_nspare; i++)
		vpv_gnttab_end_deferred(q->rx_spare[i].gref,
					q->rx_spare[i].page);
	kfree(q->rx_lent);
	kfree(q->rx_spare);
	q->rx_lent = NULL;
	q->rx_spare = NULL;
	q->rx_nlent = 0;
	q->rx_nspare = 0;
	q->rx_lent_out = 0;
	q->rx_lend_max = 0;
	kfree(q->rx_buf);
	kfree(q->rx_slots.s);
	q->rx_buf = NULL;
	memset(&q->rx_slots, 0, sizeof(q->rx_slots));
	vpv_bus_free_ring(d->bdev, q->rx_sring, d->nr_pages, q->rx_refs);
	q->rx_sring = NULL;
	q->rx_last_ok = false;
}

/*
 * Under d->lock: drop the connection (a back-end restart, removal, a
 * protocol error, a connect that failed).  The carrier goes, TX stops,
 * NAPI and the IRQs are stopped; then the answers already on the rings
 * count once (complete RX packets are delivered), unless the rings
 * broke; then the rings go (vnf_queue_free()).  Idempotent.
 */
static void vnf_disconnect_locked(struct vnf_dev *d)
{
	unsigned int i, nq = d->nr_queues;
	bool ok;

	if (!nq)
		return;
	WRITE_ONCE(d->live, false);
	netif_carrier_off(d->ndev);
	for (i = 0; i < nq; i++) {
		spin_lock_bh(&d->q[i].tx_lock);
		d->q[i].tx_live = false;
		spin_unlock_bh(&d->q[i].tx_lock);
	}
	netif_tx_stop_all_queues(d->ndev);
	for (i = 0; i < nq; i++) {
		struct vnf_queue *q = &d->q[i];

		if (q->napi_on)
			napi_disable(&q->napi);	/* the poll is done */
		q->napi_on = false;
		del_timer_sync(&q->retry);
		if (q->irq > 0)
			vpv_bus_unbind_evtchn(q->irq, q); /* handler done */
		q->irq = 0;
		q->port = 0;
	}
	/* NAPI's context for the skbs built and delivered here */
	local_bh_disable();
	for (i = 0; i < nq; i++) {
		struct vnf_queue *q = &d->q[i];

		if (!q->tx_sring || !q->rx_sring || READ_ONCE(d->broken))
			continue;
		spin_lock(&q->tx_lock);
		ok = vnf_tx_complete(q, 0);
		spin_unlock(&q->tx_lock);
		if (ok)
			vnf_rx(q, INT_MAX, false);
	}
	local_bh_enable();
	for (i = 0; i < nq; i++)
		vnf_queue_free(d, &d->q[i]);
	WRITE_ONCE(d->nr_queues, 0);
}

/* The CPU that polls queue @q: the q-th online one; -1: none. */
static int vnf_queue_cpu(unsigned int q)
{
	unsigned int cpu;

	for_each_online_cpu(cpu)
		if (!q--)
			return cpu;
	return -1;
}

/*
 * Under d->lock, before the queue is live: its persistent TX buffers,
 * VNF_TX_POOL pages granted read-only in batches.  Pages or grants
 * short: fewer (small packets beyond them are granted in place).
 */
static void vnf_tx_pool_fill(struct vnf_dev *d, struct vnf_queue *q)
{
	u16 domid = vpv_bus_otherend_domid(d->bdev);
	unsigned long pfns[VNF_GRANT_BATCH];
	struct page *pg[VNF_GRANT_BATCH];
	int refs[VNF_GRANT_BATCH];
	unsigned int i, k, m;

	for (i = 0; i < VNF_TX_POOL; i += m) {
		m = min_t(unsigned int, VNF_TX_POOL - i, VNF_GRANT_BATCH);
		for (k = 0; k < m; k++) {
			/* process context, not urgent: may reclaim */
			pg[k] = alloc_page(GFP_KERNEL | __GFP_NOWARN);
			if (!pg[k])
				break;
			pfns[k] = page_to_pfn(pg[k]);
		}
		if (k < m || vpv_gnttab_grant_batch(domid, pfns, k, true,
						    refs)) {
			while (k--)
				__free_page(pg[k]);
			break;
		}
		spin_lock_bh(&q->tx_lock);
		for (k = 0; k < m; k++) {
			q->tx_pool[q->tx_pool_nr] = pg[k];
			q->tx_pool_ref[q->tx_pool_nr] = refs[k];
			q->tx_pool_free[q->tx_pool_nfree++] = q->tx_pool_nr++;
		}
		spin_unlock_bh(&q->tx_lock);
	}
}

/* Under d->lock: queue @q's rings, id slots and event channel. */
static int vnf_queue_setup(struct vnf_dev *d, struct vnf_queue *q)
{
	struct vpv_bus_device *bdev = d->bdev;
	struct vnf_slot *ts, *rs;
	unsigned int i;
	void *va;
	int ret;

	ts = kcalloc(d->nents, sizeof(*ts), GFP_KERNEL);
	rs = kcalloc(d->nents, sizeof(*rs), GFP_KERNEL);
	q->tx_buf = kcalloc(d->nents, sizeof(*q->tx_buf), GFP_KERNEL);
	q->rx_buf = kcalloc(d->nents, sizeof(*q->rx_buf), GFP_KERNEL);
	/*
	 * Persistent buffers lend up to half a fill of pages to the stack:
	 * the grants stay within twice the plan's RX share, and the
	 * back-end's BE_VIF_PERSISTENT_MAX (2048) keeps them all.  A full
	 * fill copied fewer large packets (rx_lend_full) but received no
	 * faster (benchmarks.rst, "Where the time goes")
	 */
	q->rx_lend_max = d->rx_persistent ? d->rx_fill / 2 : 0;
	q->rx_lent = kcalloc(q->rx_lend_max ?: 1, sizeof(*q->rx_lent),
			     GFP_KERNEL);
	q->rx_spare = kcalloc(q->rx_lend_max ?: 1, sizeof(*q->rx_spare),
			      GFP_KERNEL);
	spin_lock_bh(&q->tx_lock);
	vnf_slots_init(&q->tx_slots, ts, ts ? d->nents : 0);
	spin_unlock_bh(&q->tx_lock);
	vnf_slots_init(&q->rx_slots, rs, rs ? d->nents : 0);
	if (!ts || !rs || !q->tx_buf || !q->rx_buf || !q->rx_lent ||
	    !q->rx_spare) {
		/* vnf_queue_free() frees what was allocated */
		vpv_bus_dev_fatal(bdev, -ENOMEM, "queue %u's slots", q->id);
		return -ENOMEM;
	}
	for (i = 0; i < d->nents; i++) {
		q->tx_buf[i].gref = -1;
		q->rx_buf[i].gref = -1;
	}
	ret = vpv_bus_alloc_ring(bdev, d->nr_pages, &va, q->tx_refs);
	if (ret)
		return ret;
	spin_lock_bh(&q->tx_lock);
	q->tx_sring = va;
	vpv_ring_init_shared(&q->tx_sring->hdr);
	vpv_front_ring_init(&q->tx, &q->tx_sring->hdr, d->nents);
	q->tx_unpushed = false;
	spin_unlock_bh(&q->tx_lock);
	if (d->tx_persistent)
		vnf_tx_pool_fill(d, q);
	ret = vpv_bus_alloc_ring(bdev, d->nr_pages, &va, q->rx_refs);
	if (ret)
		return ret;
	q->rx_sring = va;
	vpv_ring_init_shared(&q->rx_sring->hdr);
	vpv_front_ring_init(&q->rx, &q->rx_sring->hdr, d->nents);
	q->rx_fill = d->rx_fill;
	q->rx_last_ok = false;
	snprintf(q->irq_name, sizeof(q->irq_name), "vif-%s-q%u", bdev->devid,
		 q->id);
	ret = vpv_bus_bind_evtchn(bdev, vnf_interrupt, NULL, q->irq_name, q,
				  &q->port);
	if (ret < 0)
		return ret;
	q->irq = ret;
	/* the interrupt, hence NAPI, on the CPU of the queue's vector */
	q->cpu = vnf_queue_cpu(q->id);
	if (q->cpu >= 0)
		irq_set_affinity(q->irq, cpumask_of(q->cpu));
	return 0;
}

/* Our keys, in one transaction. */
static int vnf_publish_tx(struct vnf_dev *d, u32 tx, unsigned int mtu)
{
	static const char * const on[] = {
		"request-rx-copy", "feature-sg", "feature-csum",
		"feature-gso-tcpv4", "feature-gso-tcpv6",
	};
	struct vpv_bus_device *bdev = d->bdev;
	unsigned int q, p, i;
	char key[40];
	int ret, vec;

	ret = vpv_bus_printf(bdev, tx, "multi-queue-num-queues", "%u",
			     d->nr_queues);
	if (!ret)
		ret = vpv_bus_printf(bdev, tx, "ring-page-order", "%u",
				     ilog2(d->nr_pages));
	for (q = 0; !ret && q < d->nr_queues; q++) {
		struct vnf_queue *vq = &d->q[q];

		for (p = 0; !ret && p < d->nr_pages; p++) {
			snprintf(key, sizeof(key), "q%u-tx-ring-ref%u", q, p);
			ret = vpv_bus_printf(bdev, tx, key, "%d",
					     vq->tx_refs[p]);
			snprintf(key, sizeof(key), "q%u-rx-ring-ref%u", q, p);
			if (!ret)
				ret = vpv_bus_printf(bdev, tx, key, "%d",
						     vq->rx_refs[p]);
		}
		snprintf(key, sizeof(key), "q%u-event-channel", q);
		if (!ret)
			ret = vpv_bus_printf(bdev, tx, key, "%u", vq->port);
		/*
		 * q<q>-vector (ABI 1.5): the answers interrupt the CPU that
		 * polls the queue; a key an earlier connection left (with the
		 * feature then, not now) goes: the back-end would ring a
		 * vector nobody handles.
		 */
		vec = vq->cpu < 0 ? -ENOENT : vpv_evtchn_cpu_vector(vq->cpu);
		snprintf(key, sizeof(key), "q%u-vector", q);
		if (!ret && vec >= 0)
			ret = vpv_bus_printf(bdev, tx, key, "%d", vec);
		else if (!ret)
			ret = vpv_bus_rm(bdev, tx, key);
	}
	for (i = 0; !ret && i < ARRAY_SIZE(on); i++)
		ret = vpv_bus_write(bdev, tx, on[i], "1");
	/* off: an earlier connection's key goes (netif.rst) */
	if (!ret && d->rx_persistent)
		ret = vpv_bus_write(bdev, tx, "feature-persistent", "1");
	else if (!ret)
		ret = vpv_bus_rm(bdev, tx, "feature-persistent");
	if (!ret)
		ret = vpv_bus_printf(bdev, tx, "mtu", "%u", mtu);
	return ret;
}

static int vnf_publish(struct vnf_dev *d, unsigned int mtu)
{
	int ret, tries;
	u32 tx;

	/* -EAGAIN: a node read changed under the transaction, retry */
	for (tries = 0; tries < 10; tries++) {
		ret = vpv_store_tx_start(&tx);
		if (ret)
			return ret;
		ret = vnf_publish_tx(d, tx, mtu);
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

/* The back-end's "mac", parsed. */
static int vnf_read_mac(struct vnf_dev *d, u8 *mac)
{
	char buf[32];
	int ret = vpv_bus_read(d->bdev, 0, true, "mac", buf, sizeof(buf));

	return ret < 0 ? ret : vnf_parse_mac(buf, mac);
}

/* The back-end's "mtu": 1500 when absent, -EINVAL out of range. */
static int vnf_read_be_mtu(struct vnf_dev *d, unsigned int *mtu)
{
	char buf[16];
	int ret = vpv_bus_read(d->bdev, 0, true, "mtu", buf, sizeof(buf));

	if (ret == -ENOENT) {
		*mtu = VPV_NETIF_DEFAULT_MTU;
		return 0;
	}
	if (ret < 0)
		return ret;
	return vnf_parse_uint(buf, VPV_NETIF_MIN_MTU, VPV_NETIF_MAX_MTU, mtu);
}

/*
 * Register the netdev once the back-end's "mac" can be read (at probe,
 * or at the first connect when the host had not written it yet).
 * Under the device lock.
 */
static int vnf_register(struct vnf_dev *d)
{
	struct net_device *ndev = d->ndev;
	unsigned int mtu;
	int ret;

	ret = vnf_read_mac(d, d->mac);
	if (ret)
		return ret;
	eth_hw_addr_set(ndev, d->mac);
	if (!vnf_read_be_mtu(d, &mtu)) {
		ndev->max_mtu = mtu;
		ndev->mtu = min_t(unsigned int, mtu, VPV_NETIF_DEFAULT_MTU);
	}
	ret = register_netdev(ndev);
	if (ret)
		return ret;
	d->registered = true;
	netdev_info(ndev, "%pM on %s\n", d->mac, dev_name(&d->bdev->dev));
	return 0;
}

/*
 * Under d->lock: what the back-end offers now (it may change at each
 * connect, "mac" excepted) and the plan for this connection.
 */
static int vnf_read_backend(struct vnf_dev *d, struct vnf_be_features *be,
			    unsigned int *be_mtu)
{
	struct vpv_bus_device *bdev = d->bdev;
	struct vnf_plan plan;
	unsigned int n;
	u8 mac[ETH_ALEN];
	int ret;

	ret = vnf_read_be_mtu(d, be_mtu);
	if (ret)
		return ret;
	if (!d->registered) {
		ret = vnf_register(d);
		if (ret)
			return ret;
	} else if (!vnf_read_mac(d, mac) && !ether_addr_equal(mac, d->mac)) {
		netdev_warn(d->ndev, "the back-end's mac is now %pM: keeping %pM\n",
			    mac, d->mac);
	}
	be->sg = !!vpv_bus_read_feature(bdev, "feature-sg", 0);
	be->csum = !!vpv_bus_read_feature(bdev, "feature-csum", 0);
	be->gso4 = !!vpv_bus_read_feature(bdev, "feature-gso-tcpv4", 0);
	be->gso6 = !!vpv_bus_read_feature(bdev, "feature-gso-tcpv6", 0);
	/* NAPI is off: it reads it lock-free once the rings are live */
	WRITE_ONCE(d->rx_persistent, persistent &&
		   vpv_bus_read_feature(bdev, "feature-persistent", 0));
	/* TX reads it under tx_lock once the queues are live */
	WRITE_ONCE(d->tx_persistent, persistent &&
		   vpv_bus_read_feature(bdev, "feature-persistent-tx", 0));
	n = vpv_bus_read_feature(bdev, "multi-queue-max-queues", 1);
	WRITE_ONCE(d->be_queues, clamp(n, 1u, (unsigned int)VPV_NETIF_MAX_QUEUES));
	WRITE_ONCE(d->nr_queues,
		   vnf_nr_queues(max_queues, num_online_cpus(), n));
	n = vpv_bus_read_feature(bdev, "max-ring-page-order", 0);
	/* the persistent TX buffers first: granted for the connection */
	vnf_plan(d->nr_queues, min(ring_order, n), VNF_GRANTS_DEV -
		 (d->tx_persistent ? d->nr_queues * VNF_TX_POOL : 0), &plan);
	d->nr_pages = 1u << plan.order;
	d->nents = plan.entries;
	d->rx_fill = plan.rx_fill;
	return 0;
}

/*
 * Under d->lock: the netdev follows the connection (rtnl): features,
 * max_mtu (the MTU lowered to it, logged), the queue count.
 */
static int vnf_apply(struct vnf_dev *d, const struct vnf_be_features *be,
		     unsigned int be_mtu)
{
	struct net_device *ndev = d->ndev;
	unsigned int max;
	int ret;

	rtnl_lock();
	d->be = *be;
	WRITE_ONCE(d->be_mtu, be_mtu);
	d->tx_sg = be->sg;
	d->tx_csum = be->csum;
	d->tx_gso4 = be->gso4 && be->csum && be->sg;
	d->tx_gso6 = be->gso6 && be->csum && be->sg;
	d->rx_cfg = (struct vnf_rx_cfg){
		.sg = true, .csum = true, .gso4 = true, .gso6 = true,
		.be_mtu = be_mtu,
	};
	max = vnf_max_mtu(be_mtu, be->sg);
	ndev->max_mtu = max;
	if (ndev->mtu > max) {
		netdev_info(ndev, "the back-end carries at most MTU %u: lowering the MTU from %u\n",
			    max, ndev->mtu);
		if (dev_set_mtu(ndev, max))
			WRITE_ONCE(ndev->mtu, max);
	}
	netdev_update_features(ndev);
	ret = netif_set_real_num_queues(ndev, d->nr_queues, d->nr_queues);
	rtnl_unlock();
	return ret;
}

/* vpv_fe_ops.connect: the back-end waits; rings, ports, keys. */
static int vnf_connect(struct vpv_bus_device *bdev)
{
	struct vnf_dev *d = dev_get_drvdata(&bdev->dev);
	struct vnf_be_features be;
	unsigned int i, be_mtu, mtu;
	int ret;

	mutex_lock(&d->lock);
	if (d->broken || d->dead) {
		ret = -EPROTO;
		vpv_bus_dev_fatal(bdev, ret, "the device broke the ring protocol before");
		goto out;
	}
	vnf_disconnect_locked(d);	/* nothing left of a failed attempt */
	ret = vnf_read_backend(d, &be, &be_mtu);
	if (!ret)
		ret = vnf_apply(d, &be, be_mtu);
	if (ret) {
		vpv_bus_dev_fatal(bdev, ret, "reading the back-end's keys");
		goto out;
	}
	d->last_queues = d->nr_queues;
	for (i = 0; i < d->nr_queues; i++) {
		ret = vnf_queue_setup(d, &d->q[i]);
		if (ret)
			goto out;	/* reported; the bus calls disconnect */
	}
	/* XPS: a CPU sends on the queue it polls */
	for (i = 0; d->nr_queues > 1 && i < d->nr_queues; i++)
		if (d->q[i].cpu >= 0)
			netif_set_xps_queue(d->ndev, cpumask_of(d->q[i].cpu), i);
	mtu = READ_ONCE(d->ndev->mtu);
	ret = vnf_publish(d, mtu);
	if (ret) {
		vpv_bus_dev_fatal(bdev, ret, "writing the ring keys");
		goto out;
	}
	/* changed while we published: the work writes it again */
	if (READ_ONCE(d->ndev->mtu) != mtu)
		schedule_work(&d->mtu_work);
	if (d->connects++)
		d->reconnects++;
out:
	mutex_unlock(&d->lock);
	return ret;	/* on error the bus calls vnf_disconnect() */
}

/* vpv_fe_ops.connected: both ends Connected: buffers, carrier, TX. */
static void vnf_connected(struct vpv_bus_device *bdev)
{
	struct vnf_dev *d = dev_get_drvdata(&bdev->dev);
	struct net_device *ndev = d->ndev;
	unsigned int i;

	mutex_lock(&d->lock);
	if (!d->nr_queues || d->broken || d->dead) {
		mutex_unlock(&d->lock);
		return;
	}
	for (i = 0; i < d->nr_queues; i++) {
		struct vnf_queue *q = &d->q[i];

		if (q->napi_on)		/* connected twice: cannot happen */
			continue;
		/* NAPI is off: the RX ring is ours; process context */
		vnf_rx_refill(q, GFP_KERNEL);
		spin_lock_bh(&q->tx_lock);
		q->tx_live = true;
		spin_unlock_bh(&q->tx_lock);
		napi_enable(&q->napi);
		q->napi_on = true;
	}
	WRITE_ONCE(d->live, true);
	local_bh_disable();
	for (i = 0; i < d->nr_queues; i++)
		napi_schedule(&d->q[i].napi);	/* what came meanwhile */
	netif_carrier_on(ndev);
	netif_tx_wake_all_queues(ndev);
	local_bh_enable();
	mutex_unlock(&d->lock);
	/* gratuitous ARP / unsolicited NA (with arp_notify, ndisc_notify) */
	netdev_notify_peers(ndev);
}

/* vpv_fe_ops.disconnect: restart, close or failure. */
static void vnf_disconnect(struct vpv_bus_device *bdev, int err)
{
	struct vnf_dev *d = dev_get_drvdata(&bdev->dev);

	mutex_lock(&d->lock);
	vnf_disconnect_locked(d);
	mutex_unlock(&d->lock);
}

static const struct vpv_fe_ops vnf_fe_ops = {
	.connect = vnf_connect,
	.connected = vnf_connected,
	.disconnect = vnf_disconnect,
};

/*
 * A protocol error: Closing (vpv_bus_dev_fatal() under the device lock,
 * retried while someone else holds it), and the connection dropped.
 */
static void vnf_fatal_work(struct work_struct *w)
{
	struct vnf_dev *d = container_of(to_delayed_work(w), struct vnf_dev,
					 fatal_work);
	struct vpv_bus_device *bdev = d->bdev;

	if (!device_trylock(&bdev->dev)) {
		/* remove() holds it and cancels this work: give up */
		if (!READ_ONCE(d->dead))
			schedule_delayed_work(&d->fatal_work, VNF_FATAL_RETRY);
		return;
	}
	vpv_bus_dev_fatal(bdev, -EPROTO, "the back-end broke the ring protocol");
	mutex_lock(&d->lock);
	vnf_disconnect_locked(d);
	mutex_unlock(&d->lock);
	device_unlock(&bdev->dev);
}

/* ---- debugfs ---- */

static int vnf_stats_show(struct seq_file *m, void *v)
{
	struct vnf_dev *d = m->private;
	struct net_device *ndev = d->ndev;
	u64 rx[VNF_RXS_NR], tx[VNF_TXS_NR];
	unsigned int i;

	mutex_lock(&d->lock);
	seq_printf(m, "state %d\nregistered %d\nlive %d\nbroken %d\nqueues %u\nring_pages %u\nring_entries %u\nrx_fill %u\n",
		   d->bdev->state, d->registered, d->live, d->broken,
		   d->nr_queues, d->nr_pages, d->nents, d->rx_fill);
	seq_printf(m, "mac %pM\nmtu %u\nmax_mtu %u\nbe_mtu %u\nbe_sg %d\nbe_csum %d\nbe_gso_tcpv4 %d\nbe_gso_tcpv6 %d\n",
		   d->mac, READ_ONCE(ndev->mtu), READ_ONCE(ndev->max_mtu),
		   d->be_mtu, d->be.sg, d->be.csum, d->be.gso4, d->be.gso6);
	seq_printf(m, "rx_persistent %d\n", d->rx_persistent);
	seq_printf(m, "tx_persistent %d\n", d->tx_persistent);
	seq_printf(m, "tx_sg %d\ntx_csum %d\ntx_tso %d\ntx_tso6 %d\n",
		   !!(ndev->features & NETIF_F_SG),
		   !!(ndev->features & NETIF_F_HW_CSUM),
		   !!(ndev->features & NETIF_F_TSO),
		   !!(ndev->features & NETIF_F_TSO6));
	for (i = 0; i < VNF_DS_NR; i++)
		seq_printf(m, "%s %llu\n", vnf_ds_names[i], vnf_dev_stat(d, i));
	seq_printf(m, "gnttab_free %u\n", vpv_gnttab_free_count());
	mutex_unlock(&d->lock);
	vnf_totals(d, rx, tx);
	for (i = 0; i < VNF_RXS_NR; i++)
		seq_printf(m, "%s %llu\n", vnf_rxs_names[i], rx[i]);
	for (i = 0; i < VNF_TXS_NR; i++)
		seq_printf(m, "%s %llu\n", vnf_txs_names[i], tx[i]);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vnf_stats);

/* The queues of the last connection: where they run, what is in flight. */
static int vnf_queues_show(struct seq_file *m, void *v)
{
	struct vnf_dev *d = m->private;
	u64 rx[VNF_RXS_NR], tx[VNF_TXS_NR];
	unsigned int i, j;

	mutex_lock(&d->lock);
	for (i = 0; i < d->last_queues && i < VPV_NETIF_MAX_QUEUES; i++) {
		struct vnf_queue *q = &d->q[i];
		unsigned int tx_busy = 0, rx_posted = 0;

		spin_lock_bh(&q->tx_lock);
		if (q->tx_sring)
			tx_busy = q->tx_slots.nr - q->tx_slots.nfree;
		spin_unlock_bh(&q->tx_lock);
		/* NAPI changes it: a snapshot */
		if (q->rx_sring)
			rx_posted = READ_ONCE(q->rx_slots.nr) -
				    READ_ONCE(q->rx_slots.nfree);
		seq_printf(m, "q%u_cpu %d\nq%u_irq %d\nq%u_port %u\nq%u_tx_in_flight %u\nq%u_rx_posted %u\n",
			   i, q->cpu, i, q->irq, i, q->port, i, tx_busy, i,
			   rx_posted);
		vnf_q_read(q, rx, tx);
		for (j = 0; j < VNF_RXS_NR; j++)
			seq_printf(m, "q%u_%s %llu\n", i, vnf_rxs_names[j], rx[j]);
		for (j = 0; j < VNF_TXS_NR; j++)
			seq_printf(m, "q%u_%s %llu\n", i, vnf_txs_names[j], tx[j]);
	}
	mutex_unlock(&d->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vnf_queues);

/* Test hook: one of vnf_inj_names (Documentation/netfront.rst). */
static ssize_t vnf_inject_write(struct file *f, const char __user *ubuf,
				size_t len, loff_t *ppos)
{
	struct vnf_dev *d = file_inode(f)->i_private;
	char cmd[24], *word, *qs;
	unsigned int q;
	int i, want = -1;

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = '\0';
	/* "WORD" (any queue) or "WORD Q" (queue Q's rings only) */
	qs = strim(cmd);
	word = strsep(&qs, " ");
	if (qs) {
		if (kstrtouint(strim(qs), 10, &q) || q >= VPV_NETIF_MAX_QUEUES)
			return -EINVAL;
		want = q;
	}
	i = match_string(vnf_inj_names, ARRAY_SIZE(vnf_inj_names), word);
	if (i < 0)
		return -EINVAL;
	WRITE_ONCE(d->inject_q, want);
	/* the queue before the word: vnf_inject_take() reads them so */
	smp_wmb();
	WRITE_ONCE(d->inject, i);
	return len;
}

static const struct file_operations vnf_inject_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = vnf_inject_write,
	.llseek = noop_llseek,
};

/* ---- the driver ---- */

/* A vif device appeared: its netdev (registered if the mac is known). */
static int vnf_probe(struct vpv_bus_device *bdev,
		     const struct vpv_bus_device_id *id)
{
	struct net_device *ndev;
	struct vnf_dev *d;
	unsigned int i;
	int ret;

	ndev = alloc_netdev_mqs(sizeof(*d), "pvn%d", NET_NAME_ENUM,
				ether_setup, VPV_NETIF_MAX_QUEUES,
				VPV_NETIF_MAX_QUEUES);
	if (!ndev)
		return -ENOMEM;
	d = netdev_priv(ndev);
	d->ndev = ndev;
	d->bdev = bdev;
	d->inject_q = -1;
	mutex_init(&d->lock);
	atomic64_set(&d->tx_timeouts, 0);
	INIT_DELAYED_WORK(&d->fatal_work, vnf_fatal_work);
	INIT_WORK(&d->mtu_work, vnf_mtu_work);
	spin_lock_init(&d->linger_lock);
	INIT_LIST_HEAD(&d->linger);
	INIT_DELAYED_WORK(&d->linger_work, vnf_linger_work);
	for (i = 0; i < VPV_NETIF_MAX_QUEUES; i++) {
		struct vnf_queue *q = &d->q[i];

		q->d = d;
		q->id = i;
		q->cpu = -1;
		spin_lock_init(&q->tx_lock);
		u64_stats_init(&q->rxs.syncp);
		u64_stats_init(&q->txs.syncp);
		timer_setup(&q->retry, vnf_retry, 0);
		netif_napi_add(ndev, &q->napi, vnf_poll);
	}
	SET_NETDEV_DEV(ndev, &bdev->dev);
	ndev->netdev_ops = &vnf_netdev_ops;
	ndev->ethtool_ops = &vnf_ethtool_ops;
	/* vnf_ndo_fix_features() keeps what the back-end offers */
	ndev->hw_features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO |
			    NETIF_F_TSO6 | NETIF_F_RXCSUM;
	ndev->features = ndev->hw_features | NETIF_F_HIGHDMA;
	ndev->vlan_features = NETIF_F_SG | NETIF_F_HW_CSUM | NETIF_F_TSO |
			      NETIF_F_TSO6 | NETIF_F_HIGHDMA;
	/* xmit may checksum an skb in place: no shared skbs (pktgen) */
	ndev->priv_flags &= ~IFF_TX_SKB_SHARING;
	ndev->min_mtu = VPV_NETIF_MIN_MTU;
	ndev->max_mtu = VPV_NETIF_DEFAULT_MTU;
	ndev->mtu = VPV_NETIF_DEFAULT_MTU;
	ndev->watchdog_timeo = 5 * HZ;
	netif_set_tso_max_size(ndev, VPV_NETIF_MAX_PACKET);
	netif_set_tso_max_segs(ndev, VNF_TSO_MAX_SEGS);
	ret = netif_set_real_num_queues(ndev, 1, 1);
	if (ret)
		goto err;
	netif_carrier_off(ndev);
	dev_set_drvdata(&bdev->dev, d);
	d->dir = debugfs_create_dir(bdev->devid, vnf_root);
	debugfs_create_file("stats", 0444, d->dir, d, &vnf_stats_fops);
	debugfs_create_file("queues", 0444, d->dir, d, &vnf_queues_fops);
	debugfs_create_file("inject", 0200, d->dir, d, &vnf_inject_fops);
	/* without a "mac" yet, the first connect registers it */
	ret = vnf_register(d);
	if (ret)
		dev_dbg(&bdev->dev, "netdev not registered yet: %d\n", ret);
	return 0;
err:
	free_netdev(ndev);
	return ret;
}

/*
 * The device goes away (hot-unplug, unbind, rmmod): the connection
 * first (unanswered TX dropped, buffers back), then the netdev, then
 * the work items and the skbs whose grants the back-end still maps.
 */
static void vnf_remove(struct vpv_bus_device *bdev)
{
	struct vnf_dev *d = dev_get_drvdata(&bdev->dev);
	unsigned int i;

	debugfs_remove_recursive(d->dir);
	WRITE_ONCE(d->dead, true);
	mutex_lock(&d->lock);
	vnf_disconnect_locked(d);
	mutex_unlock(&d->lock);
	cancel_delayed_work_sync(&d->fatal_work);
	if (d->registered)
		unregister_netdev(d->ndev);
	cancel_work_sync(&d->mtu_work);
	for (i = 0; i < VPV_NETIF_MAX_QUEUES; i++)
		del_timer_sync(&d->q[i].retry);
	vnf_linger_drain(d);
	mutex_destroy(&d->lock);
	free_netdev(d->ndev);
}

static const struct vpv_bus_device_id vnf_ids[] = {
	{ "vif" },
	{ }
};

VPV_BUS_MODULE_ALIAS("vif");

static struct vpv_bus_driver vnf_driver = {
	.ids = vnf_ids,
	.probe = vnf_probe,
	.remove = vnf_remove,
	.fe = &vnf_fe_ops,
};

static int __init vnf_init(void)
{
	int ret;

	ring_order = min_t(unsigned int, ring_order, VPV_NETIF_MAX_RING_ORDER);
	rx_copybreak = min_t(unsigned int, rx_copybreak, VNF_FRAME);
	vnf_root = debugfs_create_dir("vnetfront", NULL);
	ret = vpv_bus_register_driver(&vnf_driver);
	if (ret)
		debugfs_remove_recursive(vnf_root);
	return ret;
}

static void __exit vnf_exit(void)
{
	vpv_bus_unregister_driver(&vnf_driver);
	debugfs_remove_recursive(vnf_root);
}

module_init(vnf_init);
module_exit(vnf_exit);

MODULE_DESCRIPTION("pvkit split network device front-end (pvn*)");
MODULE_LICENSE("GPL");
