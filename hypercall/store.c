// SPDX-License-Identifier: GPL-2.0
/*
 * Config store client: requests and replies over the byte rings in the
 * shared region, like xenbus_xs.c/xenbus_comms.c.  Writers stream a
 * message into the request ring under a mutex (waiting for space); the
 * event channel handler only wakes things up: a work item parses the
 * responses in process context, hands replies to their waiters by
 * req_id, and queues watch events for the watch thread, which runs the
 * callbacks one at a time.  Everything the host writes is checked;
 * broken indices or types, or a host that stops answering, are a
 * protocol error: every pending request fails with -EIO, and a work
 * item reconnects on a new port (after a growing delay while errors
 * repeat) and registers the watches again, each of which then fires
 * once.  A reply longer than VPV_STORE_PAYLOAD_MAX fails only its
 * request (-E2BIG).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/kthread.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <pvkit/vbus.h>

#include "split_internal.h"
#include "split_logic.h"

#define VPV_STORE_TIMEOUT	(30 * HZ)
/* reconnect delays after a protocol error: 100 ms doubling to 30 s */
#define VPV_STORE_RESET_MIN	(HZ / 10)
#define VPV_STORE_RESET_MAX	(30 * HZ)

struct vpv_store_req {
	struct list_head list;
	u32 req_id;
	u32 type;
	bool done;
	int err;
	char *body;		/* reply, NUL-terminated */
	u32 len;
};

struct vpv_store_event {
	struct list_head list;
	struct vpv_store_watch *w;
	char path[];
};

static struct {
	struct vpv_store_chan chan;
	struct vpv_store_rx rx;
	unsigned int port;
	u32 domid;

	struct mutex wlock;		/* one writer of the request ring */
	spinlock_t lock;		/* reqs, up, broken, next_id */
	bool up;
	bool broken;
	struct list_head reqs;
	u32 next_id;
	wait_queue_head_t wq;		/* ring space and replies */
	struct work_struct rx_work;

	spinlock_t watch_lock;		/* watches, events, next_token */
	struct list_head watches;
	struct list_head events;
	u32 next_token;
	wait_queue_head_t watch_wq;
	struct mutex watch_mutex;	/* held while a callback runs */
	struct task_struct *watch_task;

	struct delayed_work reset_work;	/* reconnect after an error */
	unsigned long reset_delay;	/* under lock */

	atomic64_t unknown_replies;
	atomic64_t protocol_errors;
	atomic64_t oversize_replies;
	atomic64_t reconnects;
} st = {
	.wlock = __MUTEX_INITIALIZER(st.wlock),
	.lock = __SPIN_LOCK_UNLOCKED(st.lock),
	.reqs = LIST_HEAD_INIT(st.reqs),
	.wq = __WAIT_QUEUE_HEAD_INITIALIZER(st.wq),
	.watch_lock = __SPIN_LOCK_UNLOCKED(st.watch_lock),
	.watches = LIST_HEAD_INIT(st.watches),
	.events = LIST_HEAD_INIT(st.events),
	.watch_wq = __WAIT_QUEUE_HEAD_INITIALIZER(st.watch_wq),
	.watch_mutex = __MUTEX_INITIALIZER(st.watch_mutex),
};

bool vpv_store_available(void)
{
	bool up;

	spin_lock(&st.lock);
	up = st.up && !st.broken;
	spin_unlock(&st.lock);
	return up;
}
EXPORT_SYMBOL_GPL(vpv_store_available);

/*
 * The host broke the protocol: fail everything until the reset work
 * has reconnected.
 */
static void vpv_store_fail(const char *why)
{
	struct vpv_store_req *req, *tmp;
	unsigned long delay = 0;

	spin_lock(&st.lock);
	if (!st.broken && st.up) {
		delay = st.reset_delay;
		st.reset_delay = min_t(unsigned long, 2 * delay,
				       VPV_STORE_RESET_MAX);
		pr_err_ratelimited("config store protocol error (%s): reconnecting in %u ms\n",
				   why, jiffies_to_msecs(delay));
	}
	st.broken = true;
	list_for_each_entry_safe(req, tmp, &st.reqs, list) {
		list_del_init(&req->list);
		req->err = -EIO;
		req->done = true;
	}
	/* under the lock: vpv_store_exit() clears up, then cancels */
	if (delay)
		schedule_delayed_work(&st.reset_work, delay);
	spin_unlock(&st.lock);
	atomic64_inc(&st.protocol_errors);
	wake_up_all(&st.wq);
}

static void vpv_store_evtchn(unsigned int port, void *data)
{
	wake_up(&st.wq);
	schedule_work(&st.rx_work);
}

static void vpv_store_watch_event(const char *body, u32 len)
{
	size_t plen = strnlen(body, len);
	const char *token = body + plen + 1;
	struct vpv_store_event *ev;
	struct vpv_store_watch *w;

	if (plen + 1 >= len) {
		pr_warn_ratelimited("malformed watch event dropped\n");
		return;
	}
	ev = kmalloc(struct_size(ev, path, plen + 1), GFP_KERNEL);
	if (!ev)
		return;
	memcpy(ev->path, body, plen + 1);
	spin_lock(&st.watch_lock);
	list_for_each_entry(w, &st.watches, list) {
		if (!strcmp(w->token, token)) {
			ev->w = w;
			list_add_tail(&ev->list, &st.events);
			ev = NULL;
			break;
		}
	}
	spin_unlock(&st.watch_lock);
	if (ev) {
		/* an unwatched token: a late event, harmless */
		kfree(ev);
		return;
	}
	wake_up(&st.watch_wq);
}

static void vpv_store_reply(const struct vpv_store_msg *hdr,
			    const char *body, bool oversize)
{
	struct vpv_store_req *req;
	char *copy = NULL;
	int err = -E2BIG;

	if (!oversize) {
		copy = kmemdup(body, hdr->len + 1, GFP_KERNEL);
		err = copy ? 0 : -ENOMEM;
	}
	spin_lock(&st.lock);
	list_for_each_entry(req, &st.reqs, list) {
		if (req->req_id != hdr->req_id)
			continue;
		list_del_init(&req->list);
		if (oversize)
			;	/* err is -E2BIG */
		else if (hdr->type == VPV_STORE_ERROR)
			err = vpv_store_errno(body, hdr->len);
		else if (hdr->type != req->type)
			err = -EIO;
		if (!err)
			st.reset_delay = VPV_STORE_RESET_MIN;	/* healthy */
		if (!err) {
			req->body = copy;
			req->len = hdr->len;
			copy = NULL;
		}
		req->err = err;
		req->done = true;
		spin_unlock(&st.lock);
		kfree(copy);
		wake_up_all(&st.wq);
		return;
	}
	spin_unlock(&st.lock);
	kfree(copy);
	atomic64_inc(&st.unknown_replies);
	pr_warn_ratelimited("store reply with unknown req_id %u dropped\n",
			    hdr->req_id);
}

static void vpv_store_rx_fn(struct work_struct *work)
{
	u32 cons0 = st.chan.rsp_cons;
	int ret;

	for (;;) {
		spin_lock(&st.lock);
		ret = st.broken || !st.up;
		spin_unlock(&st.lock);
		if (ret)
			return;
		ret = vpv_store_rx_feed(&st.rx, &st.chan);
		if (ret < 0) {
			vpv_store_fail("response ring");
			return;
		}
		if (!ret)
			break;
		if (st.rx.oversize)
			atomic64_inc(&st.oversize_replies);
		if (st.rx.hdr.type == VPV_STORE_WATCH_EVENT) {
			if (!st.rx.oversize)
				vpv_store_watch_event(st.rx.body,
						      st.rx.hdr.len);
		} else {
			vpv_store_reply(&st.rx.hdr, st.rx.body,
					st.rx.oversize);
		}
		vpv_store_rx_reset(&st.rx);
	}
	/* the host may be waiting for room in the response ring */
	if (st.chan.rsp_cons != cons0)
		vpv_evtchn_notify(st.port);
}

static bool vpv_store_req_space(void)
{
	u32 cons = READ_ONCE(st.chan.r->req_cons);

	/* garbage also wakes the writer, which then sees the error */
	return st.chan.req_prod - cons != VPV_STORE_RING_SIZE || st.broken;
}

/* Stream @len bytes into the request ring; under st.wlock. */
static int vpv_store_write_all(const void *data, u32 len)
{
	const u8 *p = data;
	int n;

	while (len) {
		if (READ_ONCE(st.broken))
			return -EIO;
		n = vpv_store_put(&st.chan, p, len);
		if (n < 0) {
			vpv_store_fail("request ring");
			return -EIO;
		}
		if (n) {
			vpv_evtchn_notify(st.port);
			p += n;
			len -= n;
			continue;
		}
		if (!wait_event_timeout(st.wq, vpv_store_req_space(),
					VPV_STORE_TIMEOUT)) {
			/* half a message in the ring: nothing can follow */
			vpv_store_fail("request ring full");
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/*
 * Send one request and wait for its reply.  On success *reply (if
 * asked for) is the kmalloc'ed NUL-terminated body, *rlen its length.
 */
static int vpv_store_talk(u32 type, u32 tx, const struct kvec *vec,
			  unsigned int nvec, char **reply, u32 *rlen)
{
	struct vpv_store_msg msg = { .type = type, .tx_id = tx };
	struct vpv_store_req req = { .type = type };
	unsigned int i;
	int ret;

	might_sleep();
	for (i = 0; i < nvec; i++)
		msg.len += vec[i].iov_len;
	if (msg.len > VPV_STORE_PAYLOAD_MAX)
		return -E2BIG;

	/* a reconnect after an error is usually done within 100 ms */
	wait_event_timeout(st.wq, !READ_ONCE(st.broken), HZ);
	spin_lock(&st.lock);
	if (!st.up || st.broken) {
		ret = st.up ? -EIO : (vpv_features() ? -EOPNOTSUPP : -ENODEV);
		spin_unlock(&st.lock);
		return ret;
	}
	do {
		req.req_id = ++st.next_id;
	} while (!req.req_id);
	msg.req_id = req.req_id;
	list_add_tail(&req.list, &st.reqs);
	spin_unlock(&st.lock);

	mutex_lock(&st.wlock);
	ret = vpv_store_write_all(&msg, sizeof(msg));
	for (i = 0; !ret && i < nvec; i++)
		ret = vpv_store_write_all(vec[i].iov_base, vec[i].iov_len);
	mutex_unlock(&st.wlock);

	if (!ret && !wait_event_timeout(st.wq, READ_ONCE(req.done),
					VPV_STORE_TIMEOUT))
		vpv_store_fail("no reply");	/* fails req too */
	spin_lock(&st.lock);
	if (!req.done) {
		list_del(&req.list);
		req.err = ret ?: -ETIMEDOUT;
	}
	spin_unlock(&st.lock);
	if (req.err) {
		kfree(req.body);
		return req.err;
	}
	if (reply) {
		*reply = req.body;
		*rlen = req.len;
	} else {
		kfree(req.body);
	}
	return 0;
}

static int vpv_store_path_op(u32 type, u32 tx, const char *path,
			     char **reply, u32 *rlen)
{
	struct kvec vec;
	int ret = vpv_store_path_check(path);

	if (ret)
		return ret;
	vec.iov_base = (void *)path;
	vec.iov_len = strlen(path) + 1;
	return vpv_store_talk(type, tx, &vec, 1, reply, rlen);
}

int vpv_store_tx_read(u32 tx, const char *path, char *buf, size_t len)
{
	char *body;
	u32 blen;
	int ret = vpv_store_path_op(VPV_STORE_READ, tx, path, &body, &blen);

	if (ret)
		return ret;
	if (blen >= len) {
		ret = -EOVERFLOW;
	} else {
		memcpy(buf, body, blen + 1);
		ret = blen;
	}
	kfree(body);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_store_tx_read);

int vpv_store_tx_write(u32 tx, const char *path, const char *value)
{
	struct kvec vec[2];
	int ret = vpv_store_path_check(path);

	if (ret)
		return ret;
	vec[0].iov_base = (void *)path;
	vec[0].iov_len = strlen(path) + 1;
	vec[1].iov_base = (void *)value;
	vec[1].iov_len = strlen(value);
	return vpv_store_talk(VPV_STORE_WRITE, tx, vec, 2, NULL, NULL);
}
EXPORT_SYMBOL_GPL(vpv_store_tx_write);

int vpv_store_tx_mkdir(u32 tx, const char *path)
{
	return vpv_store_path_op(VPV_STORE_MKDIR, tx, path, NULL, NULL);
}
EXPORT_SYMBOL_GPL(vpv_store_tx_mkdir);

int vpv_store_tx_rm(u32 tx, const char *path)
{
	return vpv_store_path_op(VPV_STORE_RM, tx, path, NULL, NULL);
}
EXPORT_SYMBOL_GPL(vpv_store_tx_rm);

int vpv_store_tx_directory(u32 tx, const char *path, char *buf, size_t len)
{
	char *body;
	u32 blen;
	int ret = vpv_store_path_op(VPV_STORE_DIRECTORY, tx, path, &body,
				    &blen);

	if (ret)
		return ret;
	if (blen > len) {
		ret = -EOVERFLOW;
	} else {
		memcpy(buf, body, blen);
		ret = blen;
	}
	kfree(body);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_store_tx_directory);

int vpv_store_tx_start(u32 *tx)
{
	struct kvec vec = { .iov_base = "", .iov_len = 1 };
	char *body;
	u32 blen;
	int ret;

	ret = vpv_store_talk(VPV_STORE_TRANSACTION_START, 0, &vec, 1, &body,
			     &blen);
	if (ret)
		return ret;
	if (kstrtou32(body, 10, tx) || !*tx)
		ret = -EIO;
	kfree(body);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_store_tx_start);

int vpv_store_tx_end(u32 tx, bool commit)
{
	struct kvec vec = { .iov_base = commit ? "T" : "F", .iov_len = 2 };

	if (!tx)
		return -EINVAL;
	return vpv_store_talk(VPV_STORE_TRANSACTION_END, tx, &vec, 1, NULL,
			      NULL);
}
EXPORT_SYMBOL_GPL(vpv_store_tx_end);

int vpv_store_vprintf(u32 tx, const char *path, const char *fmt, va_list ap)
{
	char *val = kvasprintf(GFP_KERNEL, fmt, ap);
	int ret;

	if (!val)
		return -ENOMEM;
	ret = vpv_store_tx_write(tx, path, val);
	kfree(val);
	return ret;
}

int vpv_store_printf(u32 tx, const char *path, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vpv_store_vprintf(tx, path, fmt, ap);
	va_end(ap);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_store_printf);

int vpv_store_read_uint(u32 tx, const char *path, unsigned int *val)
{
	char buf[16];
	int ret = vpv_store_tx_read(tx, path, buf, sizeof(buf));

	if (ret == -EOVERFLOW)
		return -EINVAL;
	if (ret < 0)
		return ret;
	return kstrtouint(buf, 10, val);
}
EXPORT_SYMBOL_GPL(vpv_store_read_uint);

/* Drop the queued events of @w; under st.watch_lock. */
static void vpv_store_purge_events(struct vpv_store_watch *w)
{
	struct vpv_store_event *ev, *tmp;

	list_for_each_entry_safe(ev, tmp, &st.events, list) {
		if (ev->w == w) {
			list_del(&ev->list);
			kfree(ev);
		}
	}
}

static int vpv_store_watch_op(u32 type, struct vpv_store_watch *w)
{
	struct kvec vec[2] = {
		{ .iov_base = w->path, .iov_len = strlen(w->path) + 1 },
		{ .iov_base = w->token, .iov_len = strlen(w->token) + 1 },
	};

	return vpv_store_talk(type, 0, vec, 2, NULL, NULL);
}

int vpv_store_watch(struct vpv_store_watch *w, const char *path,
		    vpv_store_watch_fn cb)
{
	int ret = vpv_store_path_check(path);

	if (ret)
		return ret;
	if (!cb)
		return -EINVAL;
	w->path = kstrdup(path, GFP_KERNEL);
	if (!w->path)
		return -ENOMEM;
	w->cb = cb;
	spin_lock(&st.watch_lock);
	snprintf(w->token, sizeof(w->token), "w%u", ++st.next_token);
	list_add_tail(&w->list, &st.watches);
	spin_unlock(&st.watch_lock);

	ret = vpv_store_watch_op(VPV_STORE_WATCH, w);
	if (ret) {
		spin_lock(&st.watch_lock);
		list_del(&w->list);
		vpv_store_purge_events(w);
		spin_unlock(&st.watch_lock);
		kfree(w->path);
		w->path = NULL;
	}
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_store_watch);

void vpv_store_unwatch(struct vpv_store_watch *w)
{
	spin_lock(&st.watch_lock);
	list_del(&w->list);
	vpv_store_purge_events(w);
	spin_unlock(&st.watch_lock);

	/* events for the token from here on find no watch */
	vpv_store_watch_op(VPV_STORE_UNWATCH, w);

	/* a callback of @w may be running: wait, unless we are it */
	if (current != st.watch_task) {
		mutex_lock(&st.watch_mutex);
		mutex_unlock(&st.watch_mutex);
	}
	kfree(w->path);
	w->path = NULL;
}
EXPORT_SYMBOL_GPL(vpv_store_unwatch);

static int vpv_store_watch_thread(void *arg)
{
	struct vpv_store_event *ev;

	for (;;) {
		wait_event_interruptible(st.watch_wq,
					 !list_empty_careful(&st.events) ||
					 kthread_should_stop());
		if (kthread_should_stop())
			break;
		mutex_lock(&st.watch_mutex);
		spin_lock(&st.watch_lock);
		ev = list_first_entry_or_null(&st.events,
					      struct vpv_store_event, list);
		if (ev)
			list_del(&ev->list);
		spin_unlock(&st.watch_lock);
		if (ev)
			ev->w->cb(ev->w, ev->path);
		mutex_unlock(&st.watch_mutex);
		kfree(ev);
	}
	return 0;
}

/* Under st.wlock, st.up: reset the rings and CONNECT on a new port. */
static int vpv_store_connect_new(void)
{
	int ret;

	vpv_evtchn_forget(st.port);
	cancel_work_sync(&st.rx_work);
	memset(st.chan.r, 0, sizeof(*st.chan.r));
	st.chan.req_prod = 0;
	st.chan.rsp_cons = 0;
	vpv_store_rx_reset(&st.rx);
	ret = vpv_evtchn_alloc(VPV_DOMID_HOST, vpv_store_evtchn, NULL);
	if (ret > 0) {
		st.port = ret;
		ret = vpv_hypercall2(VPV_HC_STORE_OP, VPV_STOREOP_CONNECT,
				     st.port);
	}
	return ret < 0 ? ret : 0;
}

/*
 * Start a new store session: fail what was pending with @err,
 * connect on a new port and register the watches again (UNWATCH
 * first: after a protocol error only we knew of, the host kept them),
 * so each fires once and its owner reads the state afresh.
 */
static void vpv_store_reconnect(int err)
{
	struct vpv_store_watch *w, **ws;
	struct vpv_store_req *req, *tmp;
	unsigned int n = 0, i;
	int ret;

	ws = kcalloc(VPV_STORE_WATCHES_MAX, sizeof(*ws), GFP_KERNEL);
	mutex_lock(&st.wlock);
	spin_lock(&st.lock);
	if (!st.up) {
		spin_unlock(&st.lock);
		mutex_unlock(&st.wlock);
		kfree(ws);
		return;
	}
	list_for_each_entry_safe(req, tmp, &st.reqs, list) {
		list_del_init(&req->list);
		req->err = err;
		req->done = true;
	}
	spin_unlock(&st.lock);
	wake_up_all(&st.wq);
	ret = vpv_store_connect_new();
	if (!ret) {
		spin_lock(&st.lock);
		st.broken = false;
		spin_unlock(&st.lock);
		wake_up_all(&st.wq);	/* callers waiting for it */
	}
	mutex_unlock(&st.wlock);
	if (ret) {
		pr_err("config store reconnect failed: %d\n", ret);
		vpv_store_fail("reconnect");	/* tries again, later */
		kfree(ws);
		return;
	}
	atomic64_inc(&st.reconnects);
	if (!ws)
		return;
	spin_lock(&st.watch_lock);
	list_for_each_entry(w, &st.watches, list)
		if (n < VPV_STORE_WATCHES_MAX)
			ws[n++] = w;
	spin_unlock(&st.watch_lock);
	/* watches are not unregistered while the session restarts */
	for (i = 0; i < n; i++) {
		vpv_store_watch_op(VPV_STORE_UNWATCH, ws[i]);
		vpv_store_watch_op(VPV_STORE_WATCH, ws[i]);
	}
	kfree(ws);
}

/*
 * A caller renegotiated (VPV_HC_NEGOTIATE through the API): the host
 * closed our port, disconnected the ring and dropped our watches and
 * transactions.  Pending requests fail with -EAGAIN.
 */
void vpv_store_renegotiated(void)
{
	vpv_store_reconnect(-EAGAIN);
}

static void vpv_store_reset_fn(struct work_struct *work)
{
	vpv_store_reconnect(-EIO);
}

/* /sys/kernel/debug/vhypercall/store: counters; writes inject errors */
static int vpv_store_dbg_show(struct seq_file *m, void *v)
{
	spin_lock(&st.lock);
	seq_printf(m, "up %d\nbroken %d\nport %u\n", st.up, st.broken,
		   st.port);
	spin_unlock(&st.lock);
	seq_printf(m, "protocol_errors %lld\nreconnects %lld\n",
		   atomic64_read(&st.protocol_errors),
		   atomic64_read(&st.reconnects));
	seq_printf(m, "unknown_replies %lld\noversize_replies %lld\n",
		   atomic64_read(&st.unknown_replies),
		   atomic64_read(&st.oversize_replies));
	return 0;
}

static int vpv_store_dbg_open(struct inode *inode, struct file *file)
{
	return single_open(file, vpv_store_dbg_show, NULL);
}

/*
 * Test hooks, as a broken host would leave the ring: "rsp" makes
 * rsp_prod run a ring ahead (found by this client), "req" makes
 * req_prod do so (found by the host, which disconnects).
 */
static ssize_t vpv_store_dbg_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	char cmd[8] = "";
	bool rsp;

	if (copy_from_user(cmd, ubuf, min(len, sizeof(cmd) - 1)))
		return -EFAULT;
	rsp = !strncmp(cmd, "rsp", 3);
	if (!rsp && strncmp(cmd, "req", 3))
		return -EINVAL;
	mutex_lock(&st.wlock);
	if (!vpv_store_available()) {
		mutex_unlock(&st.wlock);
		return -ENODEV;
	}
	if (rsp)
		WRITE_ONCE(st.chan.r->rsp_prod,
			   st.chan.rsp_cons + 2 * VPV_STORE_RING_SIZE);
	else
		WRITE_ONCE(st.chan.r->req_prod,
			   st.chan.req_prod + 2 * VPV_STORE_RING_SIZE);
	vpv_evtchn_notify(st.port);
	if (rsp)
		schedule_work(&st.rx_work);
	mutex_unlock(&st.wlock);
	return len;
}

static const struct file_operations vpv_store_dbg_fops = {
	.owner = THIS_MODULE,
	.open = vpv_store_dbg_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = vpv_store_dbg_write,
};

void vpv_store_debugfs(struct dentry *dir)
{
	debugfs_create_file("store", 0600, dir, NULL, &vpv_store_dbg_fops);
}

int vpv_store_init(const struct vpv_transport_info *t)
{
	struct device *dev = t->dev;
	u32 off = READ_ONCE(t->hdr->store_offset);
	int ret;

	if (!(t->features & VPV_F_STORE))
		return 0;
	if (!t->evtchn) {
		dev_err(dev, "config store needs event channels, store disabled\n");
		return 0;
	}
	if (!vpv_transport_range_ok(t, off, sizeof(struct vpv_store_ring))) {
		dev_err(dev, "bad config store ring offset %#x, store disabled\n",
			off);
		return 0;
	}
	INIT_WORK(&st.rx_work, vpv_store_rx_fn);
	INIT_DELAYED_WORK(&st.reset_work, vpv_store_reset_fn);
	st.reset_delay = VPV_STORE_RESET_MIN;
	st.rx.body = kmalloc(VPV_STORE_PAYLOAD_MAX + 1, GFP_KERNEL);
	if (!st.rx.body)
		return -ENOMEM;
	vpv_store_rx_reset(&st.rx);
	st.chan.r = t->shm + off;
	memset(st.chan.r, 0, sizeof(*st.chan.r));
	st.chan.req_prod = 0;
	st.chan.rsp_cons = 0;
	st.domid = READ_ONCE(t->hdr->domid);
	st.broken = false;

	st.watch_task = kthread_run(vpv_store_watch_thread, NULL,
				    "vpv-store-watch");
	if (IS_ERR(st.watch_task)) {
		ret = PTR_ERR(st.watch_task);
		st.watch_task = NULL;
		goto err_body;
	}

	ret = vpv_evtchn_alloc(VPV_DOMID_HOST, vpv_store_evtchn, NULL);
	if (ret < 0)
		goto err_thread;
	st.port = ret;
	spin_lock(&st.lock);
	st.up = true;
	spin_unlock(&st.lock);
	ret = vpv_hypercall2(VPV_HC_STORE_OP, VPV_STOREOP_CONNECT, st.port);
	if (ret < 0) {
		dev_err(dev, "config store connect failed: %d, store disabled\n",
			ret);
		ret = 0;
		goto err_port;
	}
	dev_info(dev, "config store connected on port %u\n", st.port);
	return 0;

err_port:
	spin_lock(&st.lock);
	st.up = false;
	spin_unlock(&st.lock);
	vpv_evtchn_close(st.port);
	st.port = 0;
	cancel_work_sync(&st.rx_work);
err_thread:
	kthread_stop(st.watch_task);
	st.watch_task = NULL;
err_body:
	kfree(st.rx.body);
	st.rx.body = NULL;
	return ret;
}

void vpv_store_exit(const struct vpv_transport_info *t)
{
	struct vpv_store_req *req, *rtmp;
	struct vpv_store_event *ev, *tmp;
	struct vpv_store_watch *w;

	spin_lock(&st.lock);
	if (!st.up) {
		spin_unlock(&st.lock);
		return;
	}
	st.up = false;
	/* nobody waits for a reply any more (a reconnect's watches too) */
	list_for_each_entry_safe(req, rtmp, &st.reqs, list) {
		list_del_init(&req->list);
		req->err = -ENODEV;
		req->done = true;
	}
	spin_unlock(&st.lock);
	wake_up_all(&st.wq);
	/* a reconnect in flight finishes first; none is queued after */
	cancel_delayed_work_sync(&st.reset_work);

	vpv_evtchn_close(st.port);
	st.port = 0;
	cancel_work_sync(&st.rx_work);
	kthread_stop(st.watch_task);
	st.watch_task = NULL;

	spin_lock(&st.watch_lock);
	list_for_each_entry(w, &st.watches, list)
		dev_warn(t->dev, "store watch %s still registered at removal\n",
			 w->path);
	INIT_LIST_HEAD(&st.watches);
	list_for_each_entry_safe(ev, tmp, &st.events, list) {
		list_del(&ev->list);
		kfree(ev);
	}
	spin_unlock(&st.watch_lock);
	kfree(st.rx.body);
	st.rx.body = NULL;
	st.chan.r = NULL;
}
