// SPDX-License-Identifier: GPL-2.0
/*
 * The "vpv" bus, front-end side (xenbus_probe.c and
 * xenbus_probe_frontend.c reduced): a watch on the guest's "device"
 * directory finds devices device/TYPE/ID; each becomes a struct device
 * "TYPE-ID" on vpv_bus_type, a child of the ivshmem PCI device, and
 * the driver core matches it against the drivers' id tables (uevent
 * MODALIAS=vpv:TYPE for autoloading).  A watch on each back-end's
 * "state" reports its changes to the driver.
 *
 * Threads: the store's watch thread only records what happened to a
 * device (VPV_BUS_EV_*) and queues the device's own work item on an
 * unbound workqueue.  The work item adds the device (the driver core
 * probes it there), reports state changes under the device lock and
 * removes the device; a work item never runs twice at once, so one
 * device's events stay in order, while different devices (a slow
 * probe included) proceed in parallel.  vpv_bus_lock guards only the
 * device list and is never held around a driver callback.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "split_internal.h"
#include "split_logic.h"

/* what the watch thread saw happen to a device, for its work item */
#define VPV_BUS_EV_ADD		BIT(0)
#define VPV_BUS_EV_STATE	BIT(1)
#define VPV_BUS_EV_REMOVE	BIT(2)

static DEFINE_MUTEX(vpv_bus_lock);	/* the list and the flags below */
static LIST_HEAD(vpv_bus_devices);
static struct vpv_store_watch vpv_bus_watch;
static bool vpv_bus_up;
static u32 vpv_bus_domid;
static struct device *vpv_bus_parent;
static struct workqueue_struct *vpv_bus_wq;
/*
 * Devices in device_del(): off the bus's klist (bus_find_device*() no
 * longer sees them) but their sysfs directory still there until it
 * returns, their driver's remove() maybe running; vpv_bus_wait_old()
 * waits for a name to leave this list.
 */
struct vpv_bus_rm {
	struct list_head node;
	const char *name;
};

static LIST_HEAD(vpv_bus_removing);
static DEFINE_SPINLOCK(vpv_bus_rm_lock);
static DECLARE_WAIT_QUEUE_HEAD(vpv_bus_rm_wq);
/* a remove() that takes longer is stuck: the add then fails as before */
#define VPV_BUS_RM_WAIT		(60 * HZ)

static const char * const vpv_bus_state_names[] = {
	[VPV_BUS_UNKNOWN] = "Unknown",
	[VPV_BUS_INITIALISING] = "Initialising",
	[VPV_BUS_INITWAIT] = "InitWait",
	[VPV_BUS_INITIALISED] = "Initialised",
	[VPV_BUS_CONNECTED] = "Connected",
	[VPV_BUS_CLOSING] = "Closing",
	[VPV_BUS_CLOSED] = "Closed",
};

static const char *vpv_bus_state_name(int state)
{
	if (state < 0 || state >= ARRAY_SIZE(vpv_bus_state_names))
		return "Invalid";
	return vpv_bus_state_names[state];
}

int vpv_bus_switch_state(struct vpv_bus_device *dev, int state)
{
	int ret;

	if (dev->state == state)
		return 0;
	ret = vpv_bus_printf(dev, 0, "state", "%d", state);
	if (ret) {
		dev_warn(&dev->dev, "cannot switch to %s: %d\n",
			 vpv_bus_state_name(state), ret);
		return ret;
	}
	WRITE_ONCE(dev->state, state);
	return 0;
}
EXPORT_SYMBOL_GPL(vpv_bus_switch_state);

int vpv_bus_read_otherend_state(struct vpv_bus_device *dev)
{
	char buf[16];
	int ret;

	ret = vpv_bus_read(dev, 0, true, "state", buf, sizeof(buf));
	if (ret == -ENOENT)
		return VPV_BUS_CLOSED;
	if (ret < 0)
		return VPV_BUS_UNKNOWN;
	return vpv_bus_state_parse(buf);
}
EXPORT_SYMBOL_GPL(vpv_bus_read_otherend_state);

/* ---- sysfs and uevents ---- */

static ssize_t nodename_show(struct device *d, struct device_attribute *a,
			     char *buf)
{
	return sysfs_emit(buf, "%s\n", to_vpv_bus_device(d)->nodename);
}
static DEVICE_ATTR_RO(nodename);

static ssize_t devtype_show(struct device *d, struct device_attribute *a,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", to_vpv_bus_device(d)->type);
}
static DEVICE_ATTR_RO(devtype);

static ssize_t modalias_show(struct device *d, struct device_attribute *a,
			     char *buf)
{
	return sysfs_emit(buf, VPV_BUS_MODALIAS_PREFIX "%s\n",
			  to_vpv_bus_device(d)->type);
}
static DEVICE_ATTR_RO(modalias);

static ssize_t state_show(struct device *d, struct device_attribute *a,
			  char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  vpv_bus_state_name(READ_ONCE(to_vpv_bus_device(d)->state)));
}
static DEVICE_ATTR_RO(state);

static ssize_t otherend_show(struct device *d, struct device_attribute *a,
			     char *buf)
{
	return sysfs_emit(buf, "%s\n", to_vpv_bus_device(d)->otherend);
}
static DEVICE_ATTR_RO(otherend);

static ssize_t otherend_id_show(struct device *d, struct device_attribute *a,
				char *buf)
{
	return sysfs_emit(buf, "%u\n", to_vpv_bus_device(d)->otherend_id);
}
static DEVICE_ATTR_RO(otherend_id);

static ssize_t otherend_state_show(struct device *d,
				   struct device_attribute *a, char *buf)
{
	struct vpv_bus_device *dev = to_vpv_bus_device(d);

	return sysfs_emit(buf, "%s\n",
			  vpv_bus_state_name(READ_ONCE(dev->otherend_state)));
}
static DEVICE_ATTR_RO(otherend_state);

static struct attribute *vpv_bus_dev_attrs[] = {
	&dev_attr_nodename.attr,
	&dev_attr_devtype.attr,
	&dev_attr_modalias.attr,
	&dev_attr_state.attr,
	&dev_attr_otherend.attr,
	&dev_attr_otherend_id.attr,
	&dev_attr_otherend_state.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vpv_bus_dev);

static int vpv_bus_uevent(struct device *d, struct kobj_uevent_env *env)
{
	struct vpv_bus_device *dev = to_vpv_bus_device(d);

	if (add_uevent_var(env, "MODALIAS=" VPV_BUS_MODALIAS_PREFIX "%s",
			   dev->type) ||
	    add_uevent_var(env, "VPV_TYPE=%s", dev->type) ||
	    add_uevent_var(env, "VPV_PATH=%s", dev->nodename))
		return -ENOMEM;
	return 0;
}

/* ---- matching, probe and remove (the driver core, device locked) ---- */

static const struct vpv_bus_device_id *
vpv_bus_match_id(const struct vpv_bus_device_id *ids, const char *type)
{
	for (; ids && ids->type[0]; ids++)
		if (!strcmp(ids->type, type))
			return ids;
	return NULL;
}

static int vpv_bus_match(struct device *d, struct device_driver *drv)
{
	return !!vpv_bus_match_id(to_vpv_bus_driver(drv)->ids,
				  to_vpv_bus_device(d)->type);
}

/*
 * Under ev_lock: queue the device's work.  A queued work holds a
 * reference (dropped at the end of vpv_bus_work()), so the device, and
 * the work_struct in it, outlive every queued or running instance; the
 * put here is never the last: a work already pending holds its own.
 * Without it a REMOVE could free the device with its work queued again
 * (KASAN: use-after-free in process_one_work, debug-kernel run).
 */
static void vpv_bus_kick(struct vpv_bus_device *dev)
{
	get_device(&dev->dev);
	if (!queue_work(vpv_bus_wq, &dev->work))
		put_device(&dev->dev);
}

static void vpv_bus_queue(struct vpv_bus_device *dev, unsigned int ev)
{
	spin_lock(&dev->ev_lock);
	if (!dev->gone) {
		dev->events |= ev;
		vpv_bus_kick(dev);
	}
	spin_unlock(&dev->ev_lock);
}

static int vpv_bus_probe(struct device *d)
{
	struct vpv_bus_device *dev = to_vpv_bus_device(d);
	struct vpv_bus_driver *drv = to_vpv_bus_driver(d->driver);
	int ret;

	/*
	 * A fresh front-end: after a previous driver's Closed, the
	 * back-end waits again (InitWait) once it sees Initialising.
	 */
	vpv_bus_switch_state(dev, VPV_BUS_INITIALISING);
	dev->reported = false;
	ret = drv->probe(dev, vpv_bus_match_id(drv->ids, dev->type));
	if (ret)
		return ret;
	/* the driver learns the back-end's state, after probe */
	vpv_bus_queue(dev, VPV_BUS_EV_STATE);
	return 0;
}

static void vpv_bus_remove(struct device *d)
{
	struct vpv_bus_device *dev = to_vpv_bus_device(d);
	struct vpv_bus_driver *drv = to_vpv_bus_driver(d->driver);

	if (drv->remove)
		drv->remove(dev);
	/* tell the back-end this front-end is gone (unless the node is) */
	if (!READ_ONCE(dev->gone))
		vpv_bus_switch_state(dev, VPV_BUS_CLOSED);
}

struct bus_type vpv_bus_type = {
	.name		= "vpv",
	.match		= vpv_bus_match,
	.uevent		= vpv_bus_uevent,
	.probe		= vpv_bus_probe,
	.remove		= vpv_bus_remove,
	.dev_groups	= vpv_bus_dev_groups,
};
EXPORT_SYMBOL_GPL(vpv_bus_type);

int __vpv_bus_register_driver(struct vpv_bus_driver *drv,
			      struct module *owner, const char *name)
{
	if (!drv->ids || !drv->probe)
		return -EINVAL;
	drv->driver.name = name;
	drv->driver.owner = owner;
	drv->driver.bus = &vpv_bus_type;
	return driver_register(&drv->driver);
}
EXPORT_SYMBOL_GPL(__vpv_bus_register_driver);

void vpv_bus_unregister_driver(struct vpv_bus_driver *drv)
{
	driver_unregister(&drv->driver);
}
EXPORT_SYMBOL_GPL(vpv_bus_unregister_driver);

/* ---- a device's life, in its work item ---- */

static void vpv_bus_release(struct device *d)
{
	kfree(to_vpv_bus_device(d));
}

/*
 * Under the device lock: report the back-end's state to the driver,
 * once per change.  The kick after probe and the watch's first event
 * may both find the same state: reporting InitWait twice would make a
 * front-end that already published its ring reconnect under a
 * back-end that may be mapping the first one.
 */
static void vpv_bus_report_state(struct vpv_bus_device *dev)
{
	struct vpv_bus_driver *drv;
	int state = vpv_bus_read_otherend_state(dev);
	bool again = dev->reported && state == dev->otherend_state;

	WRITE_ONCE(dev->otherend_state, state);
	if (!dev->dev.driver || again)
		return;
	dev->reported = true;
	drv = to_vpv_bus_driver(dev->dev.driver);
	if (drv->otherend_changed)
		drv->otherend_changed(dev, state);
	else if (drv->fe)
		vpv_bus_frontend_changed(dev, state);
}

static void vpv_bus_otherend_cb(struct vpv_store_watch *w, const char *path)
{
	vpv_bus_queue(container_of(w, struct vpv_bus_device, otherend_watch),
		      VPV_BUS_EV_STATE);
}

/*
 * A device of @dev's name removed just before (the host removed TYPE/ID
 * and added it again) may still be in its own work's device_del(), its
 * driver's remove() maybe waiting on the other end: its name is taken
 * in sysfs until then, and device_add() would fail -EEXIST (with
 * sysfs's duplicate-name warning) and never be tried again.  The works
 * of the bus run concurrently (an unbound queue): wait for that one.
 * Only a device already off the list can have the name (vpv_bus_add()
 * makes a new one only then), so its work has the REMOVE queued or
 * running, and nothing it does waits for us.  Once device_del() has
 * taken it off the bus's klist (before the driver's remove()) the bus
 * no longer finds it: vpv_bus_removing has it until device_del()
 * returns.
 */
static bool vpv_bus_is_removing(const char *name)
{
	struct vpv_bus_rm *rm;
	bool found = false;

	spin_lock(&vpv_bus_rm_lock);
	list_for_each_entry(rm, &vpv_bus_removing, node)
		found |= !strcmp(rm->name, name);
	spin_unlock(&vpv_bus_rm_lock);
	return found;
}

static void vpv_bus_wait_old(struct vpv_bus_device *dev)
{
	struct device *d = bus_find_device_by_name(&vpv_bus_type, NULL,
						   dev_name(&dev->dev));

	if (d) {
		if (d != &dev->dev)
			flush_work(&to_vpv_bus_device(d)->work);
		put_device(d);
	}
	wait_event_timeout(vpv_bus_rm_wq,
			   !vpv_bus_is_removing(dev_name(&dev->dev)),
			   VPV_BUS_RM_WAIT);
}

/* The device's work: read its keys, add it (probe), watch the other end. */
static void vpv_bus_do_add(struct vpv_bus_device *dev)
{
	char path[VPV_STORE_PATH_MAX + 1];
	unsigned int val;
	int ret;

	vpv_store_join(path, sizeof(path), dev->nodename, "backend");
	ret = vpv_store_read(path, dev->otherend, sizeof(dev->otherend));
	if (ret < 0 || vpv_store_path_check(dev->otherend)) {
		/* not complete yet: a later event on it tries again */
		dev->otherend[0] = '\0';
		return;
	}
	if (!vpv_bus_scanf(dev, 0, false, "backend-id", "%u", &val))
		dev->otherend_id = val;
	if (vpv_bus_scanf(dev, 0, false, "state", "%u", &val) != 1 ||
	    val > VPV_BUS_CLOSED)
		val = VPV_BUS_UNKNOWN;
	dev->state = val;
	/* a fresh front-end, whatever a previous instance left behind */
	vpv_bus_switch_state(dev, VPV_BUS_INITIALISING);
	vpv_bus_clear_error(dev);

	vpv_bus_wait_old(dev);
	ret = device_add(&dev->dev);	/* probes a matching driver */
	if (ret) {
		dev_err(&dev->dev, "cannot add: %d\n", ret);
		return;
	}
	dev->added = true;
	/*
	 * Fires once now: the driver learns the back-end's state.  The
	 * directory, not its "state", which the back-end may not have
	 * written yet (a node that does not exist cannot be watched).
	 */
	ret = vpv_store_watch(&dev->otherend_watch, dev->otherend,
			      vpv_bus_otherend_cb);
	if (ret)
		dev_warn(&dev->dev, "cannot watch %s: %d\n", dev->otherend,
			 ret);
	dev_info(&dev->dev, "%s (back-end %s)\n", dev->nodename,
		 dev->otherend);
}

/* The device's work: off the list; unwatch, delete, drop the list's ref. */
static void vpv_bus_do_remove(struct vpv_bus_device *dev)
{
	/* on this work's stack: listed only during device_del() */
	struct vpv_bus_rm rm = { .name = dev_name(&dev->dev) };

	if (dev->otherend_watch.path)
		vpv_store_unwatch(&dev->otherend_watch);
	if (dev->added) {
		dev_info(&dev->dev, "removed\n");
		spin_lock(&vpv_bus_rm_lock);
		list_add(&rm.node, &vpv_bus_removing);
		spin_unlock(&vpv_bus_rm_lock);
		device_del(&dev->dev);	/* the driver's remove() */
		spin_lock(&vpv_bus_rm_lock);
		list_del(&rm.node);
		spin_unlock(&vpv_bus_rm_lock);
		wake_up_all(&vpv_bus_rm_wq);
	}
	put_device(&dev->dev);
}

static void vpv_bus_work(struct work_struct *work)
{
	struct vpv_bus_device *dev =
		container_of(work, struct vpv_bus_device, work);
	unsigned int ev;

	spin_lock(&dev->ev_lock);
	ev = dev->events;
	dev->events = 0;
	spin_unlock(&dev->ev_lock);

	if (ev & VPV_BUS_EV_REMOVE) {
		vpv_bus_do_remove(dev);	/* drops the list's reference */
		goto out;
	}
	if ((ev & VPV_BUS_EV_ADD) && !dev->added)
		vpv_bus_do_add(dev);
	if ((ev & VPV_BUS_EV_STATE) && dev->added) {
		device_lock(&dev->dev);
		vpv_bus_report_state(dev);
		device_unlock(&dev->dev);
	}
out:
	/* this instance's reference (vpv_bus_kick()): may free dev */
	put_device(&dev->dev);
}

/* Under vpv_bus_lock. */
static struct vpv_bus_device *vpv_bus_find(const char *type, const char *id)
{
	struct vpv_bus_device *dev;

	list_for_each_entry(dev, &vpv_bus_devices, list)
		if (!strcmp(dev->type, type) && !strcmp(dev->devid, id))
			return dev;
	return NULL;
}

/* Under vpv_bus_lock: off the list; its work removes it. */
static void vpv_bus_del(struct vpv_bus_device *dev)
{
	list_del(&dev->list);
	spin_lock(&dev->ev_lock);
	dev->events |= VPV_BUS_EV_REMOVE;
	WRITE_ONCE(dev->gone, true);
	vpv_bus_kick(dev);
	spin_unlock(&dev->ev_lock);
}

/* Under vpv_bus_lock: device/TYPE/ID seen; new, or not complete before. */
static void vpv_bus_add(const char *type, const char *id)
{
	struct vpv_bus_device *dev = vpv_bus_find(type, id);

	if (dev) {
		if (!dev->added)
			vpv_bus_queue(dev, VPV_BUS_EV_ADD);
		return;
	}
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return;
	strscpy(dev->type, type, sizeof(dev->type));
	strscpy(dev->devid, id, sizeof(dev->devid));
	snprintf(dev->nodename, sizeof(dev->nodename),
		 "/local/domain/%u/device/%s/%s", vpv_bus_domid, type, id);
	spin_lock_init(&dev->ev_lock);
	INIT_WORK(&dev->work, vpv_bus_work);
	device_initialize(&dev->dev);
	dev->dev.bus = &vpv_bus_type;
	dev->dev.parent = vpv_bus_parent;
	dev->dev.release = vpv_bus_release;
	if (dev_set_name(&dev->dev, "%s-%s", type, id)) {
		put_device(&dev->dev);
		return;
	}
	list_add_tail(&dev->list, &vpv_bus_devices);
	vpv_bus_queue(dev, VPV_BUS_EV_ADD);
}

/* Under vpv_bus_lock: re-check one device. */
static void vpv_bus_check(const char *type, const char *id)
{
	struct vpv_bus_device *dev = vpv_bus_find(type, id);
	char path[VPV_STORE_PATH_MAX + 1];
	char c;

	snprintf(path, sizeof(path), "device/%s/%s", type, id);
	if (vpv_store_directory(path, &c, 0) == -ENOENT) {
		if (dev)
			vpv_bus_del(dev);
		return;
	}
	if (!dev || !dev->added)
		vpv_bus_add(type, id);
}

/* A directory's child names, each checked; false ends the walk. */
static bool vpv_bus_name_ok(const char *p, const char *end)
{
	return *p && strnlen(p, end - p) < end - p &&
	       strlen(p) < VPV_BUS_NAME_MAX;
}

/* Under vpv_bus_lock: walk device/ (and drop devices no longer there). */
static void vpv_bus_scan(void)
{
	char *types, *ids, *t, *i, *end_t, *end_i;
	struct vpv_bus_device *dev, *tmp;
	char path[VPV_STORE_PATH_MAX + 1];
	int nt, ni;

	types = kmalloc(VPV_STORE_PAYLOAD_MAX, GFP_KERNEL);
	ids = kmalloc(VPV_STORE_PAYLOAD_MAX, GFP_KERNEL);
	if (!types || !ids)
		goto out;
	nt = vpv_store_directory("device", types, VPV_STORE_PAYLOAD_MAX);
	end_t = types + max(nt, 0);
	for (t = types; t < end_t && vpv_bus_name_ok(t, end_t);
	     t += strlen(t) + 1) {
		snprintf(path, sizeof(path), "device/%s", t);
		ni = vpv_store_directory(path, ids, VPV_STORE_PAYLOAD_MAX);
		end_i = ids + max(ni, 0);
		for (i = ids; i < end_i && vpv_bus_name_ok(i, end_i);
		     i += strlen(i) + 1)
			vpv_bus_add(t, i);
	}
	list_for_each_entry_safe(dev, tmp, &vpv_bus_devices, list) {
		snprintf(path, sizeof(path), "device/%s/%s", dev->type,
			 dev->devid);
		if (vpv_store_directory(path, ids, 0) == -ENOENT)
			vpv_bus_del(dev);
	}
out:
	kfree(types);
	kfree(ids);
}

static void vpv_bus_watch_cb(struct vpv_store_watch *w, const char *path)
{
	char type[VPV_BUS_NAME_MAX], id[VPV_BUS_NAME_MAX];
	const char *rel = vpv_store_rel(path, vpv_bus_domid);
	int n = vpv_bus_parse(rel, type, sizeof(type), id, sizeof(id));

	mutex_lock(&vpv_bus_lock);
	if (vpv_bus_up) {
		if (n == 3)
			vpv_bus_check(type, id);
		else if (n)
			vpv_bus_scan();
	}
	mutex_unlock(&vpv_bus_lock);
}

int vpv_bus_init(const struct vpv_transport_info *t)
{
	int ret;

	if (!vpv_store_available())
		return 0;
	vpv_bus_domid = READ_ONCE(t->hdr->domid);
	vpv_bus_parent = t->dev;
	mutex_lock(&vpv_bus_lock);
	vpv_bus_up = true;
	mutex_unlock(&vpv_bus_lock);
	ret = vpv_store_watch(&vpv_bus_watch, "device", vpv_bus_watch_cb);
	if (ret) {
		dev_err(t->dev, "bus: cannot watch device/: %d, bus disabled\n",
			ret);
		mutex_lock(&vpv_bus_lock);
		vpv_bus_up = false;
		mutex_unlock(&vpv_bus_lock);
	}
	return 0;
}

void vpv_bus_exit(const struct vpv_transport_info *t)
{
	struct vpv_bus_device *dev, *tmp;
	bool up;

	mutex_lock(&vpv_bus_lock);
	up = vpv_bus_up;
	vpv_bus_up = false;
	mutex_unlock(&vpv_bus_lock);
	if (!up)
		return;
	/* no new devices; waits for a running scan */
	vpv_store_unwatch(&vpv_bus_watch);

	mutex_lock(&vpv_bus_lock);
	list_for_each_entry_safe(dev, tmp, &vpv_bus_devices, list)
		vpv_bus_del(dev);
	mutex_unlock(&vpv_bus_lock);
	/* every device's work: removed, drivers' remove() done */
	flush_workqueue(vpv_bus_wq);
	vpv_bus_parent = NULL;
}

int vpv_bus_type_register(void)
{
	int ret;

	/* unbound: one device's slow probe does not hold up the others */
	vpv_bus_wq = alloc_workqueue("vpv_bus", WQ_UNBOUND, 0);
	if (!vpv_bus_wq)
		return -ENOMEM;
	ret = bus_register(&vpv_bus_type);
	if (ret)
		destroy_workqueue(vpv_bus_wq);
	return ret;
}

void vpv_bus_type_unregister(void)
{
	bus_unregister(&vpv_bus_type);
	destroy_workqueue(vpv_bus_wq);
}
