// SPDX-License-Identifier: GPL-2.0
/*
 * vloopfront: the front-end of the vloop loopback device (a bus
 * driver for type "vloop", see abi/vpv_vloop.h), and a debugfs
 * interface to the config store and grant tables for the guest tests.
 *
 *   /sys/kernel/debug/vloopfront/ID/run      write N: run N requests
 *   /sys/kernel/debug/vloopfront/ID/results  "requests N ok N failed N"
 *   /sys/kernel/debug/vloopfront/ID/stats    totals and state
 *   /sys/kernel/debug/vloopfront/ID/hold     write "hold": a grant held
 *	by the back-end (VPV_VLOOP_OP_HOLD) cannot be ended, and can after
 *	RELEASE; read the outcome ("hold 0 end_while_held -16 release 0
 *	release_again -2 end_after_release 0")
 *   /sys/kernel/debug/vloopfront/store       write a command, read the
 *	answer ("OK ..." or "ERR -errno"): read P, write P V, mkdir P,
 *	rm P, ls P, watch P, unwatch, events, tx P V, txabort P V,
 *	domid, gntcopy, gntbusy
 *
 * Requests are XOR or CSUM on random data in granted pages, up to the
 * ring's depth in flight; every response's checksum is checked against
 * FNV-1a computed here, and the XOR output byte by byte.  A back-end
 * restart (Closed, then InitWait) fails what was in flight, and the
 * front-end reconnects with new grants and a new port; a run waits for
 * that and goes on.  Removal (back-end Closing) fails in-flight
 * requests with -ENODEV and ends the run.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

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
#include "hypercall/split_logic.h"
#include "hypercall/vhypercall_logic.h"

#define VLF_MAX_DEPTH	64
#define VLF_WAIT	(10 * HZ)
#define VLF_RECONNECT_S	30
#define VLF_HOLD_IDX	0xffff		/* id & 0xffff of HOLD/RELEASE */

static unsigned int depth = 32;
module_param(depth, uint, 0444);
MODULE_PARM_DESC(depth, "Requests in flight at most (1..64, default 32)");

struct vlf_slot {
	struct page *in, *out;
	int gref_in, gref_out;
	bool busy;
	u64 id;
	u32 op, seed;
	u16 off, len;
};

struct vlf_dev {
	struct vpv_bus_device *bdev;
	struct mutex lock;		/* everything below */
	bool connected;			/* ring set up, keys published */
	bool live;			/* both sides Connected */
	bool dead;			/* removed */
	struct page *ring_page;
	struct vpv_vloop_sring *sring;
	struct vpv_front_ring front;
	int ring_ref;
	unsigned int port;
	unsigned int nslots;
	unsigned int inflight;
	struct vlf_slot slots[VLF_MAX_DEPTH];
	u32 gen;
	struct rnd_state rnd;
	/* the last (or current) run */
	u64 r_requests, r_ok, r_failed;
	/* totals */
	u64 connects, bogus, bad_data;
	/* the HOLD/RELEASE request in flight */
	bool h_pending;
	u64 h_id;
	s32 h_status;
	char h_result[128];

	atomic_t events;
	wait_queue_head_t wq;
	struct mutex run_lock;		/* one run at a time */
	struct dentry *dir;
};

static struct dentry *vlf_root;

static void vlf_irq(unsigned int port, void *data)
{
	struct vlf_dev *d = data;

	atomic_inc(&d->events);
	wake_up(&d->wq);
}

static void vlf_kick(struct vlf_dev *d)
{
	atomic_inc(&d->events);
	wake_up_all(&d->wq);
}

/* Under d->lock: drop the connection; in-flight requests fail. */
static void vlf_disconnect(struct vlf_dev *d, int err)
{
	unsigned int i;

	d->live = false;
	if (d->port) {
		vpv_evtchn_close(d->port);
		d->port = 0;
	}
	for (i = 0; i < d->nslots; i++) {
		struct vlf_slot *s = &d->slots[i];

		if (s->busy) {
			s->busy = false;
			d->r_failed++;
		}
		/* the host may still hold them: end when it lets go */
		if (s->in)
			vpv_gnttab_end_deferred(s->gref_in, s->in);
		if (s->out)
			vpv_gnttab_end_deferred(s->gref_out, s->out);
		s->in = NULL;
		s->out = NULL;
	}
	if (d->inflight)
		pr_info("%s: %u requests failed (%d)\n", d->bdev->nodename,
			d->inflight, err);
	d->inflight = 0;
	if (d->h_pending) {
		d->h_pending = false;
		d->h_status = err;
	}
	if (d->ring_page)
		vpv_gnttab_end_deferred(d->ring_ref, d->ring_page);
	d->ring_page = NULL;
	d->sring = NULL;
	d->nslots = 0;
	d->connected = false;
	vlf_kick(d);
}

static int vlf_publish(struct vlf_dev *d)
{
	char path[VPV_STORE_PATH_MAX + 1];
	const char *node = d->bdev->nodename;
	u32 tx;
	int ret, tries;

	for (tries = 0; tries < 10; tries++) {
		ret = vpv_store_tx_start(&tx);
		if (ret)
			return ret;
		vpv_store_join(path, sizeof(path), node, "ring-ref");
		ret = vpv_store_printf(tx, path, "%d", d->ring_ref);
		if (!ret) {
			vpv_store_join(path, sizeof(path), node,
				       "event-channel");
			ret = vpv_store_printf(tx, path, "%u", d->port);
		}
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

/* Under d->lock: new ring, grants and port; publish; Initialised. */
static int vlf_connect(struct vlf_dev *d)
{
	u32 nents;
	unsigned int i;
	int ret;

	d->ring_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!d->ring_page)
		return -ENOMEM;
	d->sring = page_address(d->ring_page);
	vpv_ring_init_shared(&d->sring->hdr);
	nents = VPV_RING_ENTRIES(sizeof(d->sring->ring[0]), PAGE_SIZE);
	vpv_front_ring_init(&d->front, &d->sring->hdr, nents);
	ret = vpv_gnttab_grant(VPV_DOMID_HOST, page_to_pfn(d->ring_page),
			       false);
	if (ret < 0) {
		__free_page(d->ring_page);
		d->ring_page = NULL;
		d->sring = NULL;
		return ret;
	}
	d->ring_ref = ret;
	d->connected = true;

	d->nslots = min3(clamp(depth, 1u, (unsigned int)VLF_MAX_DEPTH), nents,
			 (u32)VLF_MAX_DEPTH);
	for (i = 0; i < d->nslots; i++) {
		struct vlf_slot *s = &d->slots[i];

		s->busy = false;
		s->in = alloc_page(GFP_KERNEL | __GFP_ZERO);
		s->out = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!s->in || !s->out) {
			ret = -ENOMEM;
			goto err;
		}
		ret = vpv_gnttab_grant(VPV_DOMID_HOST, page_to_pfn(s->in),
				       true);
		if (ret < 0)
			goto err;
		s->gref_in = ret;
		ret = vpv_gnttab_grant(VPV_DOMID_HOST, page_to_pfn(s->out),
				       false);
		if (ret < 0) {
			vpv_gnttab_end(s->gref_in);
			goto err;
		}
		s->gref_out = ret;
	}
	ret = vpv_evtchn_alloc(VPV_DOMID_HOST, vlf_irq, d);
	if (ret < 0)
		goto err_slots;
	d->port = ret;
	ret = vlf_publish(d);
	if (ret)
		goto err_slots;
	ret = vpv_bus_switch_state(d->bdev, VPV_BUS_INITIALISED);
	if (ret)
		goto err_slots;
	d->connects++;
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
err_slots:
	pr_warn("%s: connect failed: %d\n", d->bdev->nodename, ret);
	vlf_disconnect(d, ret);
	return ret;
}

static void vlf_otherend_changed(struct vpv_bus_device *dev, int state)
{
	struct vlf_dev *d = dev->priv;

	mutex_lock(&d->lock);
	if (d->dead)
		goto out;
	switch (vpv_fe_decide(dev->state, state)) {
	case VPV_FE_RECONNECT:
		vlf_disconnect(d, -ENOTCONN);
		fallthrough;
	case VPV_FE_CONNECT:
		if (vlf_connect(d))
			vpv_bus_switch_state(dev, VPV_BUS_CLOSED);
		break;
	case VPV_FE_CONNECTED:
		if (!vpv_bus_switch_state(dev, VPV_BUS_CONNECTED)) {
			d->live = true;
			vlf_kick(d);
		}
		break;
	case VPV_FE_CLOSE:
		vlf_disconnect(d, state == VPV_BUS_CLOSING ? -ENODEV :
			       -ENOTCONN);
		vpv_bus_switch_state(dev, VPV_BUS_CLOSED);
		break;
	case VPV_FE_NONE:
		break;
	}
out:
	mutex_unlock(&d->lock);
}

/* Under d->lock: check one response against what was asked. */
static bool vlf_check(struct vlf_slot *s, s32 status, u32 csum)
{
	const u8 *in = page_address(s->in) + s->off;
	const u8 *out = page_address(s->out) + s->off;
	u8 k = s->seed & 0xff;
	u32 h = 0x811c9dc5u;
	unsigned int i;

	if (status)
		return false;
	if (s->op == VPV_VLOOP_OP_CSUM)
		return csum == vpv_fnv1a32(in, s->len);
	for (i = 0; i < s->len; i++) {
		u8 want = in[i] ^ k;

		if (out[i] != want)
			return false;
		h ^= want;
		h *= 0x01000193u;
	}
	return csum == h;
}

/* Under d->lock: consume responses; false on a protocol error. */
static bool vlf_consume(struct vlf_dev *d)
{
	long n = vpv_front_unconsumed_responses(&d->front);

	if (n < 0) {
		d->bogus++;
		pr_err("%s: back-end produced more responses than requests\n",
		       d->bdev->nodename);
		return false;
	}
	while (n--) {
		struct vpv_vloop_rsp *r =
			&VPV_RING_ENTRY(d->sring, &d->front,
					d->front.rsp_cons)->rsp;
		u64 id = READ_ONCE(r->id);
		s32 status = READ_ONCE(r->status);
		u32 csum = READ_ONCE(r->csum);
		unsigned int idx = id & 0xffff;
		struct vlf_slot *s = &d->slots[idx];

		d->front.rsp_cons++;
		if (idx == VLF_HOLD_IDX && d->h_pending && id == d->h_id) {
			d->h_pending = false;
			d->h_status = status;
			continue;
		}
		if (idx >= d->nslots || !s->busy || s->id != id) {
			d->bogus++;
			continue;
		}
		s->busy = false;
		d->inflight--;
		if (vlf_check(s, status, csum)) {
			d->r_ok++;
		} else {
			d->r_failed++;
			if (d->bad_data++ < 5)
				pr_warn("%s: request %llx op %u off %u len %u: status %d csum %#x wrong\n",
					d->bdev->nodename, id, s->op, s->off,
					s->len, status, csum);
		}
	}
	return true;
}

/* Under d->lock: queue one request in free slot @s (index @idx). */
static void vlf_submit(struct vlf_dev *d, unsigned int idx)
{
	struct vlf_slot *s = &d->slots[idx];
	struct vpv_vloop_req *req;
	u8 *in = page_address(s->in), *out = page_address(s->out);
	unsigned int i;

	s->op = prandom_u32_state(&d->rnd) & 1;
	s->off = prandom_u32_state(&d->rnd) % PAGE_SIZE;
	s->len = 1 + prandom_u32_state(&d->rnd) % (PAGE_SIZE - s->off);
	s->seed = prandom_u32_state(&d->rnd);
	prandom_bytes_state(&d->rnd, in + s->off, s->len);
	if (s->op == VPV_VLOOP_OP_XOR) {
		/* every byte must be rewritten to pass */
		for (i = 0; i < s->len; i++)
			out[s->off + i] = ~(in[s->off + i] ^ (s->seed & 0xff));
	}
	d->gen++;
	s->id = ((u64)d->gen << 16) | idx;
	s->busy = true;
	d->inflight++;
	d->r_requests++;

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
				vlf_disconnect(d, -EIO);
				mutex_unlock(&d->lock);
				ret = -EIO;
				break;
			}
			for (i = 0; left && i < d->nslots; i++) {
				if (d->slots[i].busy)
					continue;
				vlf_submit(d, i);
				left--;
			}
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
	mutex_unlock(&d->run_lock);
	return ret;
}

/*
 * Send one HOLD or RELEASE of @ref and wait for its response: its
 * status, or -errno (not connected, disconnected meanwhile, timeout).
 * Under d->run_lock: no run uses the ring meanwhile.
 */
static int vlf_hold_req(struct vlf_dev *d, u32 op, int ref)
{
	struct vpv_vloop_req *req;
	int seen, ret;

	mutex_lock(&d->lock);
	if (!d->live || d->dead) {
		mutex_unlock(&d->lock);
		return -ENOTCONN;
	}
	if (!vpv_front_free_requests(&d->front)) {
		mutex_unlock(&d->lock);
		return -EBUSY;
	}
	d->gen++;
	d->h_id = ((u64)d->gen << 16) | VLF_HOLD_IDX;
	d->h_pending = true;
	req = &VPV_RING_ENTRY(d->sring, &d->front, d->front.req_prod_pvt)->req;
	memset(req, 0, sizeof(*req));
	req->id = d->h_id;
	req->op = op;
	req->gref_in = ref;
	d->front.req_prod_pvt++;
	if (vpv_front_push_requests(&d->front))
		vpv_evtchn_notify(d->port);
	mutex_unlock(&d->lock);

	for (;;) {
		seen = atomic_read(&d->events);
		mutex_lock(&d->lock);
		if (d->live && !vlf_consume(d))
			vlf_disconnect(d, -EIO);
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
	ref = vpv_gnttab_grant(VPV_DOMID_HOST, page_to_pfn(pg), true);
	if (ref < 0) {
		__free_page(pg);
		snprintf(d->h_result, sizeof(d->h_result), "ERR grant %d\n",
			 ref);
		return;
	}
	hold = vlf_hold_req(d, VPV_VLOOP_OP_HOLD, ref);
	busy = vpv_gnttab_end(ref);
	if (!busy) {
		/* ended already: the reference is free, do not name it */
		rel = -EINVAL;
		rel2 = -EINVAL;
		end = 0;
	} else {
		rel = vlf_hold_req(d, VPV_VLOOP_OP_RELEASE, ref);
		rel2 = vlf_hold_req(d, VPV_VLOOP_OP_RELEASE, ref);
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

static ssize_t vlf_hold_write(struct file *f, const char __user *ubuf,
			      size_t len, loff_t *ppos)
{
	struct vlf_dev *d = file_inode(f)->i_private;
	char cmd[8];

	if (len >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, len))
		return -EFAULT;
	cmd[len] = '\0';
	if (strcmp(strim(cmd), "hold"))
		return -EINVAL;
	mutex_lock(&d->run_lock);
	vlf_hold_test(d);
	mutex_unlock(&d->run_lock);
	return len;
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
	seq_printf(m, "state %d\nlive %d\nconnects %llu\nbogus %llu\nbad_data %llu\ninflight %u\ndepth %u\nring_ref %d\nport %u\n",
		   d->bdev->state, d->live, d->connects, d->bogus, d->bad_data,
		   d->inflight, d->nslots, d->connected ? d->ring_ref : -1,
		   d->port);
	mutex_unlock(&d->lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vlf_stats);

static int vlf_probe(struct vpv_bus_device *dev)
{
	struct vlf_dev *d = kzalloc(sizeof(*d), GFP_KERNEL);

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
	dev->priv = d;
	return 0;
}

static void vlf_remove(struct vpv_bus_device *dev)
{
	struct vlf_dev *d = dev->priv;

	mutex_lock(&d->lock);
	d->dead = true;
	vlf_disconnect(d, -ENODEV);
	mutex_unlock(&d->lock);
	/* waits for a run in progress, which sees dead and returns */
	debugfs_remove_recursive(d->dir);
	mutex_destroy(&d->lock);
	mutex_destroy(&d->run_lock);
	kfree(d);
}

static struct vpv_bus_driver vlf_driver = {
	.type = "vloop",
	.probe = vlf_probe,
	.remove = vlf_remove,
	.otherend_changed = vlf_otherend_changed,
};

/* ---- store and grant test interface ---- */

static DEFINE_MUTEX(vlf_st_lock);
static char vlf_st_answer[VPV_STORE_PAYLOAD_MAX + 64];
static struct vpv_store_watch vlf_st_watch;
static bool vlf_st_watching;
static atomic_t vlf_st_events = ATOMIC_INIT(0);
static char vlf_st_last[VPV_STORE_PATH_MAX + 1];

static void vlf_st_watch_cb(struct vpv_store_watch *w, const char *path)
{
	strscpy(vlf_st_last, path, sizeof(vlf_st_last));
	atomic_inc(&vlf_st_events);
}

#define vlf_answer(fmt, ...) \
	snprintf(vlf_st_answer, sizeof(vlf_st_answer), fmt, ##__VA_ARGS__)

static int vlf_tx(const char *path, const char *val, bool commit)
{
	char buf[64];
	u32 tx;
	int ret;

	ret = vpv_store_tx_start(&tx);
	if (ret)
		return ret;
	ret = vpv_store_tx_write(tx, path, val);
	if (!ret) {
		ret = vpv_store_tx_read(tx, path, buf, sizeof(buf));
		if (ret >= 0)
			ret = strcmp(buf, val) ? -EIO : 0;
	}
	if (ret) {
		vpv_store_tx_end(tx, false);
		return ret;
	}
	return vpv_store_tx_end(tx, commit);
}

/* Self-grants and VPV_GNTTABOP_COPY: RW, RO read, RO write refused. */
static void vlf_gntcopy(void)
{
	struct vpv_gnttab_copy *op = kzalloc(sizeof(*op), GFP_KERNEL);
	u8 *src = kmalloc(64, GFP_KERNEL);
	struct page *pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	u16 self = vpv_domid();
	long r_rw = -1, r_ro_read = -1, r_ro_write = -1;
	s64 s_rw = 1, s_ro_read = 1, s_ro_write = 1;
	int ref_rw = -1, ref_ro = -1;
	bool data_ok = false;

	if (!op || !src || !pg) {
		vlf_answer("ERR %d\n", -ENOMEM);
		goto out;
	}
	memset(src, 0xa5, 64);
	ref_rw = vpv_gnttab_grant(self, page_to_pfn(pg), false);
	ref_ro = vpv_gnttab_grant(self, page_to_pfn(pg), true);
	if (ref_rw < 0 || ref_ro < 0) {
		vlf_answer("ERR grant %d %d\n", ref_rw, ref_ro);
		goto out;
	}
	/* own memory -> RW grant */
	op->source.gpa_or_ref = virt_to_phys(src);
	op->dest.gpa_or_ref = ref_rw;
	op->dest.domid = self;
	op->dest.offset = 100;
	op->len = 64;
	op->flags = VPV_GNTCOPY_DEST_GREF;
	r_rw = vpv_gnttab_copy(op, 1);
	s_rw = op->status;
	data_ok = !memcmp(page_address(pg) + 100, src, 64);
	/* own memory -> RO grant: refused */
	op->dest.gpa_or_ref = ref_ro;
	op->status = 0;
	r_ro_write = vpv_gnttab_copy(op, 1);
	s_ro_write = op->status;
	/* RO grant -> own memory */
	memset(src, 0, 64);
	memset(op, 0, sizeof(*op));
	op->source.gpa_or_ref = ref_ro;
	op->source.domid = self;
	op->source.offset = 100;
	op->dest.gpa_or_ref = virt_to_phys(src);
	op->len = 64;
	op->flags = VPV_GNTCOPY_SOURCE_GREF;
	r_ro_read = vpv_gnttab_copy(op, 1);
	s_ro_read = op->status;
	data_ok = data_ok && src[0] == 0xa5 && src[63] == 0xa5;
	vlf_answer("OK rw %ld/%lld ro_write %ld/%lld ro_read %ld/%lld data %d\n",
		   r_rw, s_rw, r_ro_write, s_ro_write, r_ro_read, s_ro_read,
		   data_ok);
out:
	if (ref_rw >= 0)
		vpv_gnttab_end(ref_rw);
	if (ref_ro >= 0)
		vpv_gnttab_end(ref_ro);
	if (pg)
		__free_page(pg);
	kfree(src);
	kfree(op);
}

/*
 * End of a grant the host is using: the host's READING bit is set by
 * hand here (the guest owns the table's memory), end is refused, the
 * deferred end waits, and completes (freeing ref and page) once the
 * bit is gone.
 */
/* what a hostile host could put there after probe: far outside the BAR */
#define VLF_BAD_GNTTAB_OFFSET	0xfffff000u

static void vlf_gntbusy(bool badhdr)
{
	struct vpv_shared_header *hdr = vpv_shared_base(NULL);
	struct page *pg = alloc_page(GFP_KERNEL);
	u32 off = 0;
	unsigned int free0 = vpv_gnttab_free_count(), i;
	struct vpv_grant_entry *e;
	int ref, busy, again;

	if (!pg) {
		vlf_answer("ERR %d\n", -ENOMEM);
		return;
	}
	ref = vpv_gnttab_grant(VPV_DOMID_HOST, page_to_pfn(pg), true);
	if (ref < 0) {
		__free_page(pg);
		vlf_answer("ERR %d\n", ref);
		return;
	}
	/*
	 * The validated table, not the header's gnttab_offset again; with
	 * badhdr the header says something else meanwhile (put back after).
	 */
	if (badhdr && hdr) {
		off = READ_ONCE(hdr->gnttab_offset);
		WRITE_ONCE(hdr->gnttab_offset, VLF_BAD_GNTTAB_OFFSET);
	}
	e = vpv_gnttab_entry(ref);
	if (badhdr && hdr)
		WRITE_ONCE(hdr->gnttab_offset, off);
	if (!e) {
		vpv_gnttab_end(ref);
		__free_page(pg);
		vlf_answer("ERR %d\n", -EIO);
		return;
	}
	sync_set_bit(3, (unsigned long *)&e->flags);	/* READING */
	busy = vpv_gnttab_end(ref);
	vpv_gnttab_end_deferred(ref, pg);
	msleep(300);
	again = vpv_gnttab_free_count() == free0;
	sync_clear_bit(3, (unsigned long *)&e->flags);
	for (i = 0; i < 30 && vpv_gnttab_free_count() != free0; i++)
		msleep(100);
	vlf_answer("OK end %d held_while_busy %d freed_after %d\n", busy,
		   !again, vpv_gnttab_free_count() == free0);
}

static void vlf_st_cmd(char *cmd)
{
	char *op = strsep(&cmd, " "), *path = strsep(&cmd, " ");
	char *val = cmd, *buf, *p;
	int ret, n;
	size_t l;

	buf = kmalloc(VPV_STORE_PAYLOAD_MAX + 1, GFP_KERNEL);
	if (!buf) {
		vlf_answer("ERR %d\n", -ENOMEM);
		return;
	}
	if (!strcmp(op, "gntcopy")) {
		vlf_gntcopy();
		goto out;
	}
	if (!strcmp(op, "gntbusy") || !strcmp(op, "gntbusy_badhdr")) {
		vlf_gntbusy(!strcmp(op, "gntbusy_badhdr"));
		goto out;
	}
	if (!strcmp(op, "domid")) {
		vlf_answer("OK %u\n", vpv_domid());
		goto out;
	}
	if (!strcmp(op, "events")) {
		vlf_answer("OK %d %s\n", atomic_read(&vlf_st_events),
			   vlf_st_last);
		goto out;
	}
	if (!strcmp(op, "unwatch")) {
		if (vlf_st_watching)
			vpv_store_unwatch(&vlf_st_watch);
		vlf_st_watching = false;
		vlf_answer("OK\n");
		goto out;
	}
	if (!path) {
		vlf_answer("ERR %d\n", -EINVAL);
		goto out;
	}
	if (!strcmp(op, "read")) {
		ret = vpv_store_read(path, buf, VPV_STORE_PAYLOAD_MAX + 1);
		if (ret >= 0)
			vlf_answer("OK %s\n", buf);
	} else if (!strcmp(op, "write") && val) {
		ret = vpv_store_write(path, val);
	} else if (!strcmp(op, "mkdir")) {
		ret = vpv_store_mkdir(path);
	} else if (!strcmp(op, "rm")) {
		ret = vpv_store_rm(path);
	} else if (!strcmp(op, "ls")) {
		ret = vpv_store_directory(path, buf, VPV_STORE_PAYLOAD_MAX);
		if (ret >= 0) {
			/* NUL-separated names: each NUL becomes a space */
			for (p = buf, n = ret; p < buf + n; p += l + 1) {
				l = strlen(p);
				p[l] = ' ';
			}
			buf[n ? n - 1 : 0] = '\0';
			vlf_answer("OK %s\n", buf);
		}
	} else if (!strcmp(op, "watch")) {
		if (vlf_st_watching)
			vpv_store_unwatch(&vlf_st_watch);
		atomic_set(&vlf_st_events, 0);
		ret = vpv_store_watch(&vlf_st_watch, path, vlf_st_watch_cb);
		vlf_st_watching = !ret;
	} else if ((!strcmp(op, "tx") || !strcmp(op, "txabort")) && val) {
		ret = vlf_tx(path, val, !strcmp(op, "tx"));
	} else {
		ret = -EINVAL;
	}
	if (ret < 0)
		vlf_answer("ERR %d\n", ret);
	else if (strcmp(op, "read") && strcmp(op, "ls"))
		vlf_answer("OK\n");
out:
	kfree(buf);
}

static ssize_t vlf_st_write(struct file *f, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	char *cmd;

	if (len > VPV_STORE_PAYLOAD_MAX)
		return -E2BIG;
	cmd = memdup_user_nul(ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	strim(cmd);
	mutex_lock(&vlf_st_lock);
	vlf_st_cmd(cmd);
	mutex_unlock(&vlf_st_lock);
	kfree(cmd);
	return len;
}

static ssize_t vlf_st_read(struct file *f, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&vlf_st_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, vlf_st_answer,
				      strlen(vlf_st_answer));
	mutex_unlock(&vlf_st_lock);
	return ret;
}

static const struct file_operations vlf_st_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = vlf_st_read,
	.write = vlf_st_write,
	.llseek = default_llseek,
};

static int __init vlf_init(void)
{
	int ret;

	vlf_root = debugfs_create_dir("vloopfront", NULL);
	debugfs_create_file("store", 0600, vlf_root, NULL, &vlf_st_fops);
	ret = vpv_bus_register_driver(&vlf_driver);
	if (ret)
		debugfs_remove_recursive(vlf_root);
	return ret;
}

static void __exit vlf_exit(void)
{
	vpv_bus_unregister_driver(&vlf_driver);
	mutex_lock(&vlf_st_lock);
	if (vlf_st_watching)
		vpv_store_unwatch(&vlf_st_watch);
	vlf_st_watching = false;
	mutex_unlock(&vlf_st_lock);
	debugfs_remove_recursive(vlf_root);
}

module_init(vlf_init);
module_exit(vlf_exit);

MODULE_DESCRIPTION("pvkit vloop front-end and split-driver test interface");
MODULE_LICENSE("GPL");
