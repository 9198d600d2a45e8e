// SPDX-License-Identifier: GPL-2.0
/*
 * vloopfront: the front-end of the vloop loopback device (abi/vpv_vloop.h),
 * pvkit's reference split driver: the small example a new front-end
 * copies (Documentation/split.rst, "Writing a front-end").
 *
 * The driver binds to "vloop" devices on the vpv bus (loaded by
 * udev/mdev through its alias vpv:vloop) and runs on the shared
 * front-end state machine (struct vpv_fe_ops): connect() allocates
 * and grants the ring, binds the event channel to an IRQ, grants the
 * data pages and writes ring-ref and event-channel in one transaction;
 * connected() starts I/O; disconnect() tears it all down.
 *
 *   /sys/kernel/debug/vloopfront/ID/run      write N: run N requests
 *   /sys/kernel/debug/vloopfront/ID/results  "requests N ok N failed N"
 *   /sys/kernel/debug/vloopfront/ID/stats    totals and state
 *   /sys/kernel/debug/vloopfront/ID/features what the back-end offered
 *	at the last connect ("feature-xor 1", "feature-hold 1")
 *   /sys/kernel/debug/vloopfront/ID/hold     write "hold": a grant held
 *	by the back-end (VPV_VLOOP_OP_HOLD) cannot be ended, and can after
 *	RELEASE; read the outcome ("hold 0 end_while_held -16 release 0
 *	release_again -2 end_after_release 0").  Write "force OP": send one
 *	request of op OP (gref_in a fresh grant, len 0) whether offered or
 *	not; read "force OP status S" (a test of the back-end's refusal).
 *	Write "hold_keep": HOLD a fresh grant and keep it ("hold_keep 0
 *	end_while_held -16"); "release_kept": RELEASE and end it ("release_kept
 *	-2 end 0" after a reconnect: the back-end dropped the hold).
 *   /sys/module/vloopfront/parameters/pace_us  test hook (below)
 *
 * Features: the back-end advertises "feature-xor" and "feature-hold"
 * in its directory; connect reads them (vpv_bus_read_feature(), 0 when
 * absent) and the front-end uses only what is offered: runs send XOR
 * requests only with feature-xor, HOLD/RELEASE fail with -EOPNOTSUPP
 * without feature-hold.
 *
 * Requests are XOR or CSUM on random data in granted pages, up to the
 * ring's depth in flight; every response's checksum is checked against
 * FNV-1a computed here, and the XOR output byte by byte.
 *
 * Recovery (Xen blkfront's shadow[] and blkif_recover(); the contract
 * is in Documentation/split.rst, "Recovery"): every request on the ring
 * has a shadow in its slot (op, offset, length, XOR key, the seed of its
 * input bytes, the checksum a good answer carries).  When the back-end
 * goes away (Closing, Closed, a restart seen as InitWait, a connect
 * that failed), disconnect first consumes every answer already on the
 * ring (each completes once), then keeps the rest: not failed, still
 * counted in flight.  The next connect grants new pages, a new ring
 * and a new port; connected() re-issues the kept requests oldest first
 * under new ids before any new request, and a run goes on.  An answer
 * whose id is not in flight completes nothing: it is counted, as a
 * duplicate (an id issued before) or unexpected (never issued).  What
 * fails: everything in flight on removal (the run ends -ENODEV), on
 * our own protocol error or vpv_bus_dev_fatal() (-EIO), and when no
 * reconnect comes within VLF_RECONNECT_S (the run ends -ETIMEDOUT).
 * HOLD and RELEASE are not kept: a hold belongs to one connection (the
 * back-end unmaps what it held when it disconnects), so one in flight
 * fails with the disconnect's error and a RELEASE after the reconnect
 * answers -ENOENT.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <asm/sync_bitops.h>
#include <pvkit/vbus.h>

#include "abi/vpv_vloop.h"
#include "vloopfront_logic.h"

#define VLF_MAX_DEPTH	64
#define VLF_WAIT	(10 * HZ)
#define VLF_RECONNECT_S	30

static unsigned int depth = 32;
module_param(depth, uint, 0444);
MODULE_PARM_DESC(depth, "Requests in flight at most (1..64, default 32)");

/*
 * A test hook: one device's probe is slow (tests/guest/split-bus.sh).
 * It waits until the test writes slow_probe_go, at most slow_probe_ms,
 * so the test need not guess how long "slow" must be on a slow guest.
 */
static char *slow_probe_id;
module_param(slow_probe_id, charp, 0444);
MODULE_PARM_DESC(slow_probe_id, "Test: the id of a device whose probe waits");
static unsigned int slow_probe_ms;
module_param(slow_probe_ms, uint, 0444);
MODULE_PARM_DESC(slow_probe_ms, "Test: the longest that probe waits");
static DECLARE_COMPLETION(slow_probe_done);

static int slow_probe_go_set(const char *val, const struct kernel_param *kp)
{
	complete_all(&slow_probe_done);
	return 0;
}

static const struct kernel_param_ops slow_probe_go_ops = {
	.set = slow_probe_go_set,
};

module_param_cb(slow_probe_go, &slow_probe_go_ops, NULL, 0200);
MODULE_PARM_DESC(slow_probe_go, "Test: write anything to end that probe's wait");

/*
 * A test hook: a run sleeps pace_us (under the device lock) before it
 * pushes the requests it just queued, so that a test's back-end
 * restarts (tests/guest/split-recover.sh) land during one run however
 * fast the machine is, mostly while requests the back-end has not seen
 * are on the ring; the test sets it back to 0 to let the run finish.
 */
static unsigned int pace_us;
module_param(pace_us, uint, 0644);
MODULE_PARM_DESC(pace_us, "Test: a run's pause between passes, in us (0: none)");

struct vlf_dev {
	struct vpv_bus_device *bdev;
	struct mutex lock;		/* everything below */
	bool connected;			/* ring set up, keys published */
	bool live;			/* both sides Connected */
	bool dead;			/* removed */
	struct vpv_vloop_sring *sring;	/* the ring page, granted */
	struct vpv_front_ring front;
	int ring_ref;
	int irq;			/* the event channel's IRQ */
	unsigned int port;
	unsigned int nslots;
	unsigned int inflight;		/* issued, not completed (busy+replay) */
	unsigned int nreplay;		/* of which waiting for a reconnect */
	struct vlf_slot slots[VLF_MAX_DEPTH];
	u32 gen;
	u64 seq;
	struct rnd_state rnd;
	/* the last (or current) run */
	u64 r_requests, r_ok, r_failed, r_replayed;
	/* what the back-end offered at the last connect (0 or 1) */
	unsigned int feat_xor, feat_hold;
	/* totals */
	u64 connects, bogus, bad_data;
	u64 reconnects;			/* connects after the first */
	u64 kept;			/* requests kept across a disconnect */
	u64 replayed;			/* requests re-issued after one */
	u64 duplicates;			/* answers to ids no longer in flight */
	u64 unexpected;			/* answers to ids never issued */
	u64 xor_sent;			/* XOR requests issued */
	u64 refused;			/* answered -VPV_EOPNOTSUPP */
	/* the HOLD/RELEASE request in flight */
	bool h_pending;
	u64 h_id;
	s32 h_status;
	char h_result[128];
	/* a grant held across a reconnect ("hold_keep", "release_kept") */
	struct page *k_page;
	int k_ref;

	atomic_t events;
	wait_queue_head_t wq;
	struct mutex run_lock;		/* one run at a time */
	struct dentry *dir;
};

static struct dentry *vlf_root;

static u32 vlf_fnv1a32(const u8 *p, size_t len)
{
	u32 h = 0x811c9dc5u;	/* FNV-1a, as the back-end computes it */

	while (len--) {
		h ^= *p++;
		h *= 0x01000193u;
	}
	return h;
}

/* An ordinary IRQ handler: the back-end produced responses. */
static irqreturn_t vlf_interrupt(int irq, void *data)
{
	struct vlf_dev *d = data;

	atomic_inc(&d->events);
	wake_up(&d->wq);
	return IRQ_HANDLED;
}

static void vlf_kick(struct vlf_dev *d)
{
	atomic_inc(&d->events);
	wake_up_all(&d->wq);
}

/* Under d->lock: check one answer against the request's shadow. */
static bool vlf_check(struct vlf_slot *s, s32 status, u32 csum)
{
	const u8 *in = page_address(s->in) + s->off;
	const u8 *out = page_address(s->out) + s->off;
	u8 k = s->seed & 0xff;
	unsigned int i;

	if (status || csum != s->want)
		return false;
	if (s->op != VPV_VLOOP_OP_XOR)
		return true;
	for (i = 0; i < s->len; i++)
		if (out[i] != (in[i] ^ k))
			return false;
	return true;
}

/* Under d->lock: @s's request is over, @ok or failed. */
static void vlf_complete(struct vlf_dev *d, struct vlf_slot *s, bool ok)
{
	s->busy = false;
	if (s->replay) {
		s->replay = false;
		d->nreplay--;
	}
	d->inflight--;
	if (ok)
		d->r_ok++;
	else
		d->r_failed++;
}

/* Under d->lock: one answer off the ring. */
static void vlf_answer(struct vlf_dev *d, u64 id, s32 status, u32 csum)
{
	struct vlf_slot *s;

	if (status == -VPV_EOPNOTSUPP)
		d->refused++;
	switch (vlf_judge(d->slots, d->nslots, d->h_pending, d->h_id, id)) {
	case VLF_COMPLETE:
		break;
	case VLF_HOLD_DONE:
		d->h_pending = false;
		d->h_status = status;
		return;
	case VLF_DUPLICATE:
		d->bogus++;
		d->duplicates++;
		return;
	default:
		d->bogus++;
		d->unexpected++;
		return;
	}
	/* VLF_COMPLETE: slot id & 0xffff is below d->nslots, busy */
	s = &d->slots[id & 0xffff];
	if (vlf_check(s, status, csum)) {
		vlf_complete(d, s, true);
		return;
	}
	vlf_complete(d, s, false);
	if (d->bad_data++ < 5)
		dev_warn(&d->bdev->dev,
			 "request %llx op %u off %u len %u: status %d csum %#x wrong\n",
			 id, s->op, s->off, s->len, status, csum);
}

/* Under d->lock: consume answers; false on a protocol error. */
static bool vlf_consume(struct vlf_dev *d)
{
	long n = vpv_front_unconsumed_responses(&d->front);

	if (n < 0) {
		d->bogus++;
		dev_err(&d->bdev->dev,
			"back-end produced more responses than requests\n");
		return false;
	}
	while (n--) {
		struct vpv_vloop_rsp *r =
			&VPV_RING_ENTRY(d->sring, &d->front,
					d->front.rsp_cons)->rsp;

		d->front.rsp_cons++;
		/* each field read once: the back-end may rewrite them */
		vlf_answer(d, READ_ONCE(r->id), READ_ONCE(r->status),
			   READ_ONCE(r->csum));
	}
	return true;
}

/* Under d->lock: every request not completed yet fails. */
static void vlf_fail_pending(struct vlf_dev *d, int err)
{
	unsigned int i, n = d->inflight;

	for (i = 0; i < VLF_MAX_DEPTH; i++) {
		struct vlf_slot *s = &d->slots[i];

		if (s->busy || s->replay)
			vlf_complete(d, s, false);
	}
	if (n)
		dev_info(&d->bdev->dev, "%u requests failed (%d)\n", n, err);
}

/*
 * Under d->lock: the ring went away with requests on it.  Those the
 * back-end answered count once (consumed here, while the ring is still
 * ours); the rest wait in their shadows for the next connect, which
 * re-issues them (vlf_replay()).
 */
static void vlf_keep_pending(struct vlf_dev *d)
{
	unsigned int n;

	if (d->sring && !vlf_consume(d))
		dev_warn(&d->bdev->dev, "the old ring's answers are not trusted\n");
	n = vlf_keep(d->slots, VLF_MAX_DEPTH);
	d->nreplay += n;
	d->kept += n;
	if (d->nreplay)
		dev_dbg(&d->bdev->dev, "%u requests kept for the reconnect\n",
			d->nreplay);
}

/*
 * Under d->lock: drop the connection.  @err -EIO (our protocol error
 * or vpv_bus_dev_fatal()) or a removal (d->dead) fails what is in
 * flight; any other (the back-end restarts, closes or went away, a
 * connect failed) keeps it for the reconnect.  A HOLD or RELEASE in
 * flight is not kept: it fails with @err (the back-end drops its holds
 * when it disconnects).
 */
static void vlf_disconnect_locked(struct vlf_dev *d, int err)
{
	unsigned int i;

	d->live = false;
	if (d->irq > 0)
		vpv_bus_unbind_evtchn(d->irq, d);
	d->irq = 0;
	d->port = 0;
	if (d->dead || err == -EIO)
		vlf_fail_pending(d, err);
	else
		vlf_keep_pending(d);
	for (i = 0; i < d->nslots; i++) {
		struct vlf_slot *s = &d->slots[i];

		/* the host may still hold them: end when it lets go */
		if (s->in)
			vpv_gnttab_end_deferred(s->gref_in, s->in);
		if (s->out)
			vpv_gnttab_end_deferred(s->gref_out, s->out);
		s->in = NULL;
		s->out = NULL;
	}
	if (d->h_pending) {
		d->h_pending = false;
		d->h_status = err;
	}
	vpv_bus_free_ring(d->bdev, d->sring, 1, &d->ring_ref);
	d->sring = NULL;
	d->nslots = 0;
	d->connected = false;
	vlf_kick(d);
}

/* Our keys for the back-end, all or none (a transaction). */
static int vlf_publish(struct vlf_dev *d)
{
	u32 tx;
	int ret, tries;

	for (tries = 0; tries < 10; tries++) {
		ret = vpv_store_tx_start(&tx);
		if (ret)
			return ret;
		ret = vpv_bus_printf(d->bdev, tx, "ring-ref", "%d",
				     d->ring_ref);
		if (!ret)
			ret = vpv_bus_printf(d->bdev, tx, "event-channel", "%u",
					     d->port);
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

/* Under d->lock: grant a data page pair for each slot. */
static int vlf_grant_slots(struct vlf_dev *d, u32 nents)
{
	unsigned int i;
	int ret;

	d->nslots = min3(clamp(depth, 1u, (unsigned int)VLF_MAX_DEPTH), nents,
			 (u32)VLF_MAX_DEPTH);
	for (i = 0; i < d->nslots; i++) {
		struct vlf_slot *s = &d->slots[i];

		/* a kept request's shadow stays: only the pages are new */
		s->in = alloc_page(GFP_KERNEL | __GFP_ZERO);
		s->out = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!s->in || !s->out) {
			ret = -ENOMEM;
			goto err;
		}
		ret = vpv_gnttab_grant(vpv_bus_otherend_domid(d->bdev),
				       page_to_pfn(s->in), true);
		if (ret < 0)
			goto err;
		s->gref_in = ret;
		ret = vpv_gnttab_grant(vpv_bus_otherend_domid(d->bdev),
				       page_to_pfn(s->out), false);
		if (ret < 0) {
			vpv_gnttab_end(s->gref_in);
			goto err;
		}
		s->gref_out = ret;
	}
	return 0;
err:
	/* slot i is partly set up: free what it has, ungranted */
	if (d->slots[i].in)
		__free_page(d->slots[i].in);
	if (d->slots[i].out)
		__free_page(d->slots[i].out);
	d->slots[i].in = NULL;
	d->slots[i].out = NULL;
	d->nslots = i;
	return ret;
}

/*
 * vpv_fe_ops.connect: the back-end waits.  Ring and event channel
 * through the helpers (they report their own errors), the data pages,
 * then the keys; the bus switches to Initialised.
 */
static int vlf_connect(struct vpv_bus_device *dev)
{
	struct vlf_dev *d = dev_get_drvdata(&dev->dev);
	void *ring;
	u32 nents;
	int ret;

	mutex_lock(&d->lock);
	/* only what the back-end offers now; absent (an older one): off */
	d->feat_xor = !!vpv_bus_read_feature(dev, "feature-xor", 0);
	d->feat_hold = !!vpv_bus_read_feature(dev, "feature-hold", 0);
	ret = vpv_bus_alloc_ring(dev, 1, &ring, &d->ring_ref);
	if (ret)
		goto out;
	d->sring = ring;
	vpv_ring_init_shared(&d->sring->hdr);
	nents = VPV_RING_ENTRIES(sizeof(d->sring->ring[0]), PAGE_SIZE);
	vpv_front_ring_init(&d->front, &d->sring->hdr, nents);
	d->connected = true;

	ret = vpv_bus_bind_evtchn(dev, vlf_interrupt, NULL, dev_name(&dev->dev),
				  d, &d->port);
	if (ret < 0)
		goto out;
	d->irq = ret;
	ret = vlf_grant_slots(d, nents);
	if (ret) {
		vpv_bus_dev_fatal(dev, ret, "granting the data pages");
		goto out;
	}
	ret = vlf_publish(d);
	if (ret) {
		vpv_bus_dev_fatal(dev, ret, "writing ring-ref and event-channel");
		goto out;
	}
	if (d->connects++)
		d->reconnects++;
out:
	mutex_unlock(&d->lock);
	return ret;	/* on error the bus calls vlf_disconnect() */
}

/* Under d->lock: the pace_us test hook, when requests wait to be pushed. */
static void vlf_pace(struct vlf_dev *d)
{
	/* at most 0.1 s a pass: a paced run still ends in time */
	unsigned int pace = min(READ_ONCE(pace_us), 100000u);

	if (pace && d->front.req_prod_pvt != d->front.hdr->req_prod)
		usleep_range(pace, pace + pace / 4);
}

/*
 * Under d->lock: the request's data into this connection's pages, from
 * its shadow (the same bytes at every issue), and the checksum a good
 * answer carries.
 */
static void vlf_fill(struct vlf_slot *s)
{
	u8 *in = page_address(s->in) + s->off;
	u8 *out = page_address(s->out) + s->off;
	u8 k = s->seed & 0xff;
	struct rnd_state rnd;
	unsigned int i;

	prandom_seed_state(&rnd, s->dseed);
	prandom_bytes_state(&rnd, in, s->len);
	if (s->op != VPV_VLOOP_OP_XOR) {
		s->want = vlf_fnv1a32(in, s->len);
		return;
	}
	/* every byte must be rewritten to pass */
	for (i = 0; i < s->len; i++)
		out[i] = ~(in[i] ^ k);
	s->want = 0x811c9dc5u;	/* FNV-1a of the output */
	for (i = 0; i < s->len; i++) {
		s->want ^= in[i] ^ k;
		s->want *= 0x01000193u;
	}
}

/*
 * Under d->lock: put slot @idx's request on the ring under a new id
 * (an answer to an older one is then a stray, never a completion).
 * The caller checked there is room.
 */
static void vlf_put(struct vlf_dev *d, unsigned int idx)
{
	struct vlf_slot *s = &d->slots[idx];
	struct vpv_vloop_req *req;

	vlf_fill(s);
	if (s->op == VPV_VLOOP_OP_XOR)
		d->xor_sent++;
	s->id = vlf_make_id(++d->gen, idx);
	s->busy = true;

	req = &VPV_RING_ENTRY(d->sring, &d->front, d->front.req_prod_pvt)->req;
	req->id = s->id;
	req->op = s->op;
	req->gref_in = s->gref_in;
	req->gref_out = s->op == VPV_VLOOP_OP_XOR ? s->gref_out : 0;
	req->offset = s->off;
	req->len = s->len;
	req->seed = s->seed;
	req->pad = 0;
	d->front.req_prod_pvt++;
}

/* Under d->lock: a new request in free slot @idx; its shadow, issued. */
static void vlf_submit(struct vlf_dev *d, unsigned int idx)
{
	struct vlf_slot *s = &d->slots[idx];

	/* XOR only when the back-end offers it */
	s->op = d->feat_xor ? prandom_u32_state(&d->rnd) & 1 :
			      VPV_VLOOP_OP_CSUM;
	s->off = prandom_u32_state(&d->rnd) % PAGE_SIZE;
	s->len = 1 + prandom_u32_state(&d->rnd) % (PAGE_SIZE - s->off);
	s->seed = prandom_u32_state(&d->rnd);
	s->dseed = ((u64)prandom_u32_state(&d->rnd) << 32) |
		   prandom_u32_state(&d->rnd);
	s->seq = d->seq++;
	d->inflight++;
	d->r_requests++;
	vlf_put(d, idx);
}

/*
 * Under d->lock, at connected(): re-issue what the last ring took with
 * it, oldest first (blkif_recover()), before any new request.  A kept
 * XOR request whose feature the back-end no longer offers, or a slot
 * this connection does not have, fails.
 */
static void vlf_replay(struct vlf_dev *d)
{
	int i;

	while ((i = vlf_oldest_replay(d->slots, VLF_MAX_DEPTH)) >= 0) {
		struct vlf_slot *first = &d->slots[i];

		if ((unsigned int)i >= d->nslots || !vpv_front_free_requests(&d->front) ||
		    (first->op == VPV_VLOOP_OP_XOR && !d->feat_xor)) {
			vlf_complete(d, first, false);
			continue;
		}
		first->replay = false;
		d->nreplay--;
		d->replayed++;
		d->r_replayed++;
		vlf_put(d, i);
	}
	if (vpv_front_push_requests(&d->front))
		vpv_evtchn_notify(d->port);
}

/*
 * vpv_fe_ops.connected: both ends Connected.  What the last ring took
 * with it goes first, then a run's new requests may go.
 */
static void vlf_connected(struct vpv_bus_device *dev)
{
	struct vlf_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&d->lock);
	d->live = true;
	vlf_replay(d);
	vlf_kick(d);
	mutex_unlock(&d->lock);
}

/* vpv_fe_ops.disconnect: restart, close or failure. */
static void vlf_disconnect(struct vpv_bus_device *dev, int err)
{
	struct vlf_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&d->lock);
	vlf_disconnect_locked(d, err);
	mutex_unlock(&d->lock);
}

static const struct vpv_fe_ops vlf_fe_ops = {
	.connect = vlf_connect,
	.connected = vlf_connected,
	.disconnect = vlf_disconnect,
};

static int vlf_run(struct vlf_dev *d, u64 n)
{
	unsigned int i, stalls = 0, waits = 0;
	u64 left = n;
	bool done;
	int seen, ret = 0;

	mutex_lock(&d->run_lock);
	mutex_lock(&d->lock);
	d->r_requests = 0;
	d->r_ok = 0;
	d->r_failed = 0;
	d->r_replayed = 0;
	mutex_unlock(&d->lock);

	for (;;) {
		u64 progress;

		seen = atomic_read(&d->events);
		mutex_lock(&d->lock);
		if (d->dead) {
			mutex_unlock(&d->lock);
			ret = -ENODEV;
			break;
		}
		progress = d->r_ok + d->r_failed + d->r_requests;
		if (d->live) {
			waits = 0;
			if (!vlf_consume(d)) {
				vlf_disconnect_locked(d, -EIO);
				mutex_unlock(&d->lock);
				ret = -EIO;
				break;
			}
			for (i = 0; left && i < d->nslots; i++) {
				if (d->slots[i].busy || d->slots[i].replay)
					continue;
				vlf_submit(d, i);
				left--;
			}
			vlf_pace(d);
			if (vpv_front_push_requests(&d->front))
				vpv_evtchn_notify(d->port);
			if (d->inflight &&
			    vpv_front_final_check_responses(&d->front)) {
				mutex_unlock(&d->lock);
				continue;
			}
		}
		done = !left && !d->inflight;
		if (d->r_ok + d->r_failed + d->r_requests != progress)
			stalls = 0;
		mutex_unlock(&d->lock);
		if (done)
			break;
		if (wait_event_timeout(d->wq, atomic_read(&d->events) != seen ||
				       READ_ONCE(d->dead), VLF_WAIT))
			continue;
		mutex_lock(&d->lock);
		done = d->live;
		mutex_unlock(&d->lock);
		if (done ? ++stalls >= 3 : ++waits * 10 >= VLF_RECONNECT_S) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	if (ret) {
		/* what is left (kept for a reconnect that did not come) fails */
		mutex_lock(&d->lock);
		vlf_fail_pending(d, ret);
		mutex_unlock(&d->lock);
	}
	mutex_unlock(&d->run_lock);
	return ret;
}

/* Did the back-end offer @op's feature at connect?  Under d->lock. */
static bool vlf_offered(struct vlf_dev *d, u32 op)
{
	if (op == VPV_VLOOP_OP_XOR)
		return d->feat_xor;
	if (op == VPV_VLOOP_OP_HOLD || op == VPV_VLOOP_OP_RELEASE)
		return d->feat_hold;
	return true;
}

/*
 * Send one request of @op on @ref (len 0: HOLD, RELEASE, or a test
 * request) and wait for its response: its status, or -errno (not
 * connected, -EOPNOTSUPP for a feature not offered unless @force,
 * disconnected meanwhile, timeout).  Under d->run_lock: no run uses
 * the ring meanwhile.
 */
static int vlf_hold_req(struct vlf_dev *d, u32 op, int ref, bool force)
{
	struct vpv_vloop_req *req;
	int seen, ret;

	mutex_lock(&d->lock);
	if (!d->live || d->dead) {
		mutex_unlock(&d->lock);
		return -ENOTCONN;
	}
	if (!force && !vlf_offered(d, op)) {
		mutex_unlock(&d->lock);
		return -EOPNOTSUPP;
	}
	if (!vpv_front_free_requests(&d->front)) {
		mutex_unlock(&d->lock);
		return -EBUSY;
	}
	d->h_id = vlf_make_id(++d->gen, VLF_HOLD_IDX);
	d->h_pending = true;
	req = &VPV_RING_ENTRY(d->sring, &d->front, d->front.req_prod_pvt)->req;
	memset(req, 0, sizeof(*req));
	req->id = d->h_id;
	req->op = op;
	req->gref_in = ref;
	if (op == VPV_VLOOP_OP_XOR)
		d->xor_sent++;
	d->front.req_prod_pvt++;
	if (vpv_front_push_requests(&d->front))
		vpv_evtchn_notify(d->port);
	mutex_unlock(&d->lock);

	for (;;) {
		seen = atomic_read(&d->events);
		mutex_lock(&d->lock);
		if (d->live && !vlf_consume(d))
			vlf_disconnect_locked(d, -EIO);
		if (!d->h_pending) {
			ret = d->h_status;
			mutex_unlock(&d->lock);
			return ret;
		}
		if (d->live && vpv_front_final_check_responses(&d->front)) {
			mutex_unlock(&d->lock);
			continue;
		}
		mutex_unlock(&d->lock);
		if (!wait_event_timeout(d->wq, atomic_read(&d->events) != seen ||
					READ_ONCE(d->dead), VLF_WAIT))
			break;
	}
	mutex_lock(&d->lock);
	d->h_pending = false;
	mutex_unlock(&d->lock);
	return -ETIMEDOUT;
}

/*
 * Under d->run_lock.  A grant the back-end holds: end access is
 * refused (-EBUSY) until the back-end releases it, then succeeds.
 */
static void vlf_hold_test(struct vlf_dev *d)
{
	struct page *pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	int ref, hold, busy, rel, rel2, end = -EBUSY;

	if (!pg) {
		snprintf(d->h_result, sizeof(d->h_result), "ERR %d\n",
			 -ENOMEM);
		return;
	}
	ref = vpv_gnttab_grant(vpv_bus_otherend_domid(d->bdev), page_to_pfn(pg), true);
	if (ref < 0) {
		__free_page(pg);
		snprintf(d->h_result, sizeof(d->h_result), "ERR grant %d\n",
			 ref);
		return;
	}
	hold = vlf_hold_req(d, VPV_VLOOP_OP_HOLD, ref, false);
	busy = vpv_gnttab_end(ref);
	if (!busy) {
		/* ended already: the reference is free, do not name it */
		rel = -EINVAL;
		rel2 = -EINVAL;
		end = 0;
	} else {
		rel = vlf_hold_req(d, VPV_VLOOP_OP_RELEASE, ref, false);
		rel2 = vlf_hold_req(d, VPV_VLOOP_OP_RELEASE, ref, false);
		end = vpv_gnttab_end(ref);
	}
	if (end)
		vpv_gnttab_end_deferred(ref, pg);	/* frees pg later */
	else
		__free_page(pg);
	snprintf(d->h_result, sizeof(d->h_result),
		 "hold %d end_while_held %d release %d release_again %d end_after_release %d\n",
		 hold, busy, rel, rel2, end);
}

/*
 * Under d->run_lock.  One request of @op whether offered or not, on a
 * fresh read-only grant with len 0: the back-end's answer to it.
 */
static void vlf_force_test(struct vlf_dev *d, u32 op)
{
	struct page *pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	int ref, status;

	if (!pg) {
		snprintf(d->h_result, sizeof(d->h_result), "ERR %d\n",
			 -ENOMEM);
		return;
	}
	ref = vpv_gnttab_grant(vpv_bus_otherend_domid(d->bdev),
			       page_to_pfn(pg), true);
	if (ref < 0) {
		__free_page(pg);
		snprintf(d->h_result, sizeof(d->h_result), "ERR grant %d\n",
			 ref);
		return;
	}
	status = vlf_hold_req(d, op, ref, true);
	/* a HOLD the back-end took: ended once it lets go (disconnect) */
	vpv_gnttab_end_deferred(ref, pg);
	snprintf(d->h_result, sizeof(d->h_result), "force %u status %d\n",
		 op, status);
}

/*
 * Under d->run_lock.  A grant the back-end holds, kept across what
 * comes next (a back-end restart, in split-recover.sh): "hold_keep S
 * end_while_held E".
 */
static void vlf_hold_keep(struct vlf_dev *d)
{
	int hold, busy;

	if (d->k_page) {
		snprintf(d->h_result, sizeof(d->h_result), "ERR kept\n");
		return;
	}
	d->k_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!d->k_page) {
		snprintf(d->h_result, sizeof(d->h_result), "ERR %d\n",
			 -ENOMEM);
		return;
	}
	d->k_ref = vpv_gnttab_grant(vpv_bus_otherend_domid(d->bdev),
				    page_to_pfn(d->k_page), true);
	if (d->k_ref < 0) {
		snprintf(d->h_result, sizeof(d->h_result), "ERR grant %d\n",
			 d->k_ref);
		__free_page(d->k_page);
		d->k_page = NULL;
		return;
	}
	hold = vlf_hold_req(d, VPV_VLOOP_OP_HOLD, d->k_ref, false);
	busy = vpv_gnttab_end(d->k_ref);
	if (!busy) {
		/* not held: ended, the reference is free */
		__free_page(d->k_page);
		d->k_page = NULL;
	}
	snprintf(d->h_result, sizeof(d->h_result),
		 "hold_keep %d end_while_held %d\n", hold, busy);
}

/*
 * Under d->run_lock.  Release the kept grant and end it: after a
 * reconnect the back-end no longer holds it ("release_kept -2 end 0").
 */
static void vlf_release_kept(struct vlf_dev *d)
{
	int rel, end;

	if (!d->k_page) {
		snprintf(d->h_result, sizeof(d->h_result), "ERR none kept\n");
		return;
	}
	rel = vlf_hold_req(d, VPV_VLOOP_OP_RELEASE, d->k_ref, false);
	end = vpv_gnttab_end(d->k_ref);
	if (end)
		vpv_gnttab_end_deferred(d->k_ref, d->k_page);	/* frees it */
	else
		__free_page(d->k_page);
	d->k_page = NULL;
	snprintf(d->h_result, sizeof(d->h_result), "release_kept %d end %d\n",
		 rel, end);
}

static ssize_t vlf_hold_write(struct file *f, const char __user *ubuf,
			      size_t len, loff_t *ppos)
{
	struct vlf_dev *d = file_inode(f)->i_private;
	ssize_t ret = len;
	char cmd[16];
	u32 op;

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = '\0';
	if (sscanf(cmd, "force %u", &op) == 1) {
		mutex_lock(&d->run_lock);
		vlf_force_test(d, op);
		mutex_unlock(&d->run_lock);
		return len;
	}
	strim(cmd);
	mutex_lock(&d->run_lock);
	if (!strcmp(cmd, "hold"))
		vlf_hold_test(d);
	else if (!strcmp(cmd, "hold_keep"))
		vlf_hold_keep(d);
	else if (!strcmp(cmd, "release_kept"))
		vlf_release_kept(d);
	else
		ret = -EINVAL;
	mutex_unlock(&d->run_lock);
	return ret;
}

static int vlf_hold_show(struct seq_file *m, void *v)
{
	struct vlf_dev *d = m->private;

	mutex_lock(&d->run_lock);
	seq_puts(m, d->h_result[0] ? d->h_result : "none\n");
	mutex_unlock(&d->run_lock);
	return 0;
}

static int vlf_hold_open(struct inode *inode, struct file *f)
{
	return single_open(f, vlf_hold_show, inode->i_private);
}

static const struct file_operations vlf_hold_fops = {
	.owner = THIS_MODULE,
	.open = vlf_hold_open,
	.read = seq_read,
	.write = vlf_hold_write,
	.llseek = seq_lseek,
	.release = single_release,
};

static ssize_t vlf_run_write(struct file *f, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	struct vlf_dev *d = file_inode(f)->i_private;
	u64 n;
	int ret;

	ret = kstrtou64_from_user(ubuf, len, 10, &n);
	if (ret)
		return ret;
	ret = vlf_run(d, n);
	return ret ? ret : len;
}

static const struct file_operations vlf_run_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = vlf_run_write,
	.llseek = noop_llseek,
};

static int vlf_results_show(struct seq_file *m, void *v)
{
	struct vlf_dev *d = m->private;

	mutex_lock(&d->lock);
	seq_printf(m, "requests %llu ok %llu failed %llu\n", d->r_requests,
		   d->r_ok, d->r_failed);
	mutex_unlock(&d->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vlf_results);

static int vlf_stats_show(struct seq_file *m, void *v)
{
	struct vlf_dev *d = m->private;

	mutex_lock(&d->lock);
	seq_printf(m, "state %d\nlive %d\nconnects %llu\nbogus %llu\nbad_data %llu\ninflight %u\ndepth %u\nring_ref %d\nport %u\nxor_sent %llu\nrefused %llu\n",
		   d->bdev->state, d->live, d->connects, d->bogus, d->bad_data,
		   d->inflight, d->nslots, d->connected ? d->ring_ref : -1,
		   d->port, d->xor_sent, d->refused);
	seq_printf(m, "reconnects %llu\nkept %llu\nreplayed %llu\nrun_replayed %llu\nwaiting_replay %u\nduplicates %llu\nunexpected %llu\n",
		   d->reconnects, d->kept, d->replayed, d->r_replayed,
		   d->nreplay, d->duplicates, d->unexpected);
	mutex_unlock(&d->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vlf_stats);

static int vlf_features_show(struct seq_file *m, void *v)
{
	struct vlf_dev *d = m->private;

	mutex_lock(&d->lock);
	seq_printf(m, "feature-xor %u\nfeature-hold %u\n", d->feat_xor,
		   d->feat_hold);
	mutex_unlock(&d->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vlf_features);

/* A vloop device appeared: per-device state and debugfs, no ring yet. */
static int vlf_probe(struct vpv_bus_device *dev,
		     const struct vpv_bus_device_id *id)
{
	struct vlf_dev *d;

	if (slow_probe_id && !strcmp(dev->devid, slow_probe_id))
		wait_for_completion_timeout(&slow_probe_done,
					    msecs_to_jiffies(slow_probe_ms));
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->bdev = dev;
	mutex_init(&d->lock);
	mutex_init(&d->run_lock);
	init_waitqueue_head(&d->wq);
	atomic_set(&d->events, 0);
	prandom_seed_state(&d->rnd, get_random_u64());
	d->dir = debugfs_create_dir(dev->devid, vlf_root);
	debugfs_create_file("run", 0200, d->dir, d, &vlf_run_fops);
	debugfs_create_file("results", 0444, d->dir, d, &vlf_results_fops);
	debugfs_create_file("stats", 0444, d->dir, d, &vlf_stats_fops);
	debugfs_create_file("hold", 0600, d->dir, d, &vlf_hold_fops);
	debugfs_create_file("features", 0444, d->dir, d, &vlf_features_fops);
	dev_set_drvdata(&dev->dev, d);
	return 0;
}

static void vlf_remove(struct vpv_bus_device *dev)
{
	struct vlf_dev *d = dev_get_drvdata(&dev->dev);

	mutex_lock(&d->lock);
	d->dead = true;
	vlf_disconnect_locked(d, -ENODEV);
	mutex_unlock(&d->lock);
	/* waits for a run in progress, which sees dead and returns */
	debugfs_remove_recursive(d->dir);
	/* no hold command is left: a kept grant ends once it is let go */
	if (d->k_page)
		vpv_gnttab_end_deferred(d->k_ref, d->k_page);
	mutex_destroy(&d->lock);
	mutex_destroy(&d->run_lock);
	kfree(d);
}

static const struct vpv_bus_device_id vlf_ids[] = {
	{ "vloop" },
	{ }
};

VPV_BUS_MODULE_ALIAS("vloop");

static struct vpv_bus_driver vlf_driver = {
	.ids = vlf_ids,
	.probe = vlf_probe,
	.remove = vlf_remove,
	.fe = &vlf_fe_ops,
};

static int __init vlf_init(void)
{
	int ret;

	vlf_root = debugfs_create_dir("vloopfront", NULL);
	ret = vpv_bus_register_driver(&vlf_driver);
	if (ret)
		debugfs_remove_recursive(vlf_root);
	return ret;
}

static void __exit vlf_exit(void)
{
	vpv_bus_unregister_driver(&vlf_driver);
	debugfs_remove_recursive(vlf_root);
}

module_init(vlf_init);
module_exit(vlf_exit);

MODULE_DESCRIPTION("pvkit vloop front-end: the reference split driver");
MODULE_LICENSE("GPL");
