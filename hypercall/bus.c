// SPDX-License-Identifier: GPL-2.0
/*
 * The bus, front-end side (xenbus_probe.c/xenbus_client.c reduced): a
 * watch on the guest's "device" directory finds devices
 * device/TYPE/ID, drivers registered for TYPE probe them, and a watch
 * on each back-end's "state" reports its changes to the driver.
 * Devices live on a list under vpv_bus_lock; they are created and
 * destroyed only by the store's watch thread (and at removal), so a
 * device's watch callback never races with its freeing.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/mutex.h>
#include <linux/slab.h>
#include <pvkit/vbus.h>

#include "vhypercall_internal.h"
#include "split_logic.h"

static DEFINE_MUTEX(vpv_bus_lock);
static LIST_HEAD(vpv_bus_devices);
static LIST_HEAD(vpv_bus_drivers);
static struct vpv_store_watch vpv_bus_watch;
static bool vpv_bus_up;
static u32 vpv_bus_domid;

int vpv_bus_switch_state(struct vpv_bus_device *dev, int state)
{
	char path[VPV_STORE_PATH_MAX + 1];
	int ret;

	if (dev->state == state)
		return 0;
	ret = vpv_store_join(path, sizeof(path), dev->nodename, "state");
	if (ret < 0)
		return ret;
	ret = vpv_store_printf(0, path, "%d", state);
	if (ret) {
		pr_warn("%s: cannot switch to state %d: %d\n", dev->nodename,
			state, ret);
		return ret;
	}
	dev->state = state;
	return 0;
}
EXPORT_SYMBOL_GPL(vpv_bus_switch_state);

int vpv_bus_read_otherend_state(struct vpv_bus_device *dev)
{
	char path[VPV_STORE_PATH_MAX + 1];
	char buf[16];
	int ret;

	if (vpv_store_join(path, sizeof(path), dev->otherend, "state") < 0)
		return VPV_BUS_CLOSED;
	ret = vpv_store_read(path, buf, sizeof(buf));
	if (ret == -ENOENT)
		return VPV_BUS_CLOSED;
	if (ret < 0)
		return VPV_BUS_UNKNOWN;
	return vpv_bus_state_parse(buf);
}
EXPORT_SYMBOL_GPL(vpv_bus_read_otherend_state);

/* Under vpv_bus_lock. */
static void vpv_bus_bind(struct vpv_bus_device *dev,
			 struct vpv_bus_driver *drv, bool kick)
{
	int ret;

	ret = drv->probe(dev);
	if (ret) {
		pr_warn("%s: probe failed: %d\n", dev->nodename, ret);
		return;
	}
	dev->drv = drv;
	if (kick && drv->otherend_changed)
		drv->otherend_changed(dev, vpv_bus_read_otherend_state(dev));
}

/* Under vpv_bus_lock. */
static void vpv_bus_unbind(struct vpv_bus_device *dev)
{
	struct vpv_bus_driver *drv = dev->drv;

	if (!drv)
		return;
	if (drv->remove)
		drv->remove(dev);
	dev->drv = NULL;
	dev->priv = NULL;
}

static void vpv_bus_otherend_cb(struct vpv_store_watch *w, const char *path)
{
	struct vpv_bus_device *dev =
		container_of(w, struct vpv_bus_device, otherend_watch);

	mutex_lock(&vpv_bus_lock);
	if (!dev->gone && dev->drv && dev->drv->otherend_changed)
		dev->drv->otherend_changed(dev,
					   vpv_bus_read_otherend_state(dev));
	mutex_unlock(&vpv_bus_lock);
}

static struct vpv_bus_device *vpv_bus_find(const char *type, const char *id)
{
	struct vpv_bus_device *dev;

	list_for_each_entry(dev, &vpv_bus_devices, list)
		if (!strcmp(dev->type, type) && !strcmp(dev->devid, id))
			return dev;
	return NULL;
}

/* Under vpv_bus_lock, in the watch thread (or at removal). */
static void vpv_bus_del(struct vpv_bus_device *dev)
{
	dev->gone = true;
	vpv_bus_unbind(dev);
	list_del(&dev->list);
	if (dev->otherend_watch.path)
		vpv_store_unwatch(&dev->otherend_watch);
	kfree(dev);
}

/* Under vpv_bus_lock: device/TYPE/ID appeared (if it has a back-end). */
static void vpv_bus_add(const char *type, const char *id)
{
	char path[VPV_STORE_PATH_MAX + 1];
	struct vpv_bus_driver *drv;
	struct vpv_bus_device *dev;
	unsigned int val;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return;
	strscpy(dev->type, type, sizeof(dev->type));
	strscpy(dev->devid, id, sizeof(dev->devid));
	snprintf(dev->nodename, sizeof(dev->nodename),
		 "/local/domain/%u/device/%s/%s", vpv_bus_domid, type, id);

	vpv_store_join(path, sizeof(path), dev->nodename, "backend");
	ret = vpv_store_read(path, dev->otherend, sizeof(dev->otherend));
	if (ret < 0 || vpv_store_path_check(dev->otherend)) {
		/* not complete yet: a later event on it tries again */
		kfree(dev);
		return;
	}
	vpv_store_join(path, sizeof(path), dev->nodename, "backend-id");
	if (!vpv_store_read_uint(0, path, &val))
		dev->otherend_id = val;
	vpv_store_join(path, sizeof(path), dev->nodename, "state");
	if (vpv_store_read_uint(0, path, &val) || val > VPV_BUS_CLOSED)
		val = VPV_BUS_UNKNOWN;
	dev->state = val;
	list_add_tail(&dev->list, &vpv_bus_devices);
	/* a fresh front-end, whatever a previous instance left behind */
	vpv_bus_switch_state(dev, VPV_BUS_INITIALISING);

	list_for_each_entry(drv, &vpv_bus_drivers, list) {
		if (!strcmp(drv->type, type)) {
			vpv_bus_bind(dev, drv, false);
			break;
		}
	}
	/* fires once now: the driver learns the back-end's state */
	vpv_store_join(path, sizeof(path), dev->otherend, "state");
	ret = vpv_store_watch(&dev->otherend_watch, path,
			      vpv_bus_otherend_cb);
	if (ret)
		pr_warn("%s: cannot watch %s: %d\n", dev->nodename, path, ret);
	pr_info("device %s/%s (back-end %s)\n", type, id, dev->otherend);
}

/* Under vpv_bus_lock: re-check one device. */
static void vpv_bus_check(const char *type, const char *id)
{
	struct vpv_bus_device *dev = vpv_bus_find(type, id);
	char path[VPV_STORE_PATH_MAX + 1];
	char c;
	int ret;

	snprintf(path, sizeof(path), "device/%s/%s", type, id);
	ret = vpv_store_directory(path, &c, 0);
	if (ret == -ENOENT) {
		if (dev) {
			pr_info("device %s/%s removed\n", type, id);
			vpv_bus_del(dev);
		}
		return;
	}
	if (!dev)
		vpv_bus_add(type, id);
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
	if (nt < 0)
		nt = 0;
	end_t = types + nt;
	for (t = types; t < end_t; t += strlen(t) + 1) {
		if (!*t || strnlen(t, end_t - t) == end_t - t ||
		    strlen(t) >= VPV_BUS_NAME_MAX)
			break;
		snprintf(path, sizeof(path), "device/%s", t);
		ni = vpv_store_directory(path, ids, VPV_STORE_PAYLOAD_MAX);
		if (ni < 0)
			continue;
		end_i = ids + ni;
		for (i = ids; i < end_i; i += strlen(i) + 1) {
			if (!*i || strnlen(i, end_i - i) == end_i - i ||
			    strlen(i) >= VPV_BUS_NAME_MAX)
				break;
			if (!vpv_bus_find(t, i))
				vpv_bus_add(t, i);
		}
	}
	list_for_each_entry_safe(dev, tmp, &vpv_bus_devices, list) {
		snprintf(path, sizeof(path), "device/%s/%s", dev->type,
			 dev->devid);
		if (vpv_store_directory(path, ids, 0) == -ENOENT) {
			pr_info("device %s/%s removed\n", dev->type,
				dev->devid);
			vpv_bus_del(dev);
		}
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
	if (n == 3)
		vpv_bus_check(type, id);
	else if (n)
		vpv_bus_scan();
	mutex_unlock(&vpv_bus_lock);
}

int vpv_bus_register_driver(struct vpv_bus_driver *drv)
{
	struct vpv_bus_device *dev;

	if (!drv->type || !drv->probe)
		return -EINVAL;
	mutex_lock(&vpv_bus_lock);
	if (!vpv_bus_up) {
		mutex_unlock(&vpv_bus_lock);
		return vpv_features() ? -EOPNOTSUPP : -ENODEV;
	}
	list_add_tail(&drv->list, &vpv_bus_drivers);
	list_for_each_entry(dev, &vpv_bus_devices, list)
		if (!dev->drv && !strcmp(dev->type, drv->type))
			vpv_bus_bind(dev, drv, true);
	mutex_unlock(&vpv_bus_lock);
	return 0;
}
EXPORT_SYMBOL_GPL(vpv_bus_register_driver);

void vpv_bus_unregister_driver(struct vpv_bus_driver *drv)
{
	struct vpv_bus_device *dev;

	mutex_lock(&vpv_bus_lock);
	list_for_each_entry(dev, &vpv_bus_devices, list) {
		if (dev->drv != drv)
			continue;
		vpv_bus_unbind(dev);
		/* tell the back-end this front-end is gone */
		vpv_bus_switch_state(dev, VPV_BUS_CLOSED);
	}
	list_del(&drv->list);
	mutex_unlock(&vpv_bus_lock);
}
EXPORT_SYMBOL_GPL(vpv_bus_unregister_driver);

int vpv_bus_init(struct vpv_dev *vd)
{
	int ret;

	if (!vpv_store_available())
		return 0;
	vpv_bus_domid = READ_ONCE(vd->hdr->domid);
	mutex_lock(&vpv_bus_lock);
	vpv_bus_up = true;
	mutex_unlock(&vpv_bus_lock);
	ret = vpv_store_watch(&vpv_bus_watch, "device", vpv_bus_watch_cb);
	if (ret) {
		dev_err(&vd->pdev->dev, "bus: cannot watch device/: %d, bus disabled\n",
			ret);
		mutex_lock(&vpv_bus_lock);
		vpv_bus_up = false;
		mutex_unlock(&vpv_bus_lock);
	}
	return 0;
}

void vpv_bus_exit(struct vpv_dev *vd)
{
	struct vpv_bus_device *dev, *tmp;
	LIST_HEAD(devs);

	mutex_lock(&vpv_bus_lock);
	if (!vpv_bus_up) {
		mutex_unlock(&vpv_bus_lock);
		return;
	}
	vpv_bus_up = false;
	mutex_unlock(&vpv_bus_lock);

	/* no new devices; waits for a running scan */
	vpv_store_unwatch(&vpv_bus_watch);

	mutex_lock(&vpv_bus_lock);
	list_for_each_entry(dev, &vpv_bus_devices, list) {
		dev->gone = true;
		vpv_bus_unbind(dev);
	}
	list_splice_init(&vpv_bus_devices, &devs);
	mutex_unlock(&vpv_bus_lock);

	/* unlocked: a device's running state callback may need the lock */
	list_for_each_entry_safe(dev, tmp, &devs, list) {
		if (dev->otherend_watch.path)
			vpv_store_unwatch(&dev->otherend_watch);
		list_del(&dev->list);
		kfree(dev);
	}
}
