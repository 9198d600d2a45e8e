// SPDX-License-Identifier: GPL-2.0
/*
 * Front-end helpers (xenbus_client.c reduced): store keys relative to
 * a device, error reporting into the store, rings granted to the
 * back-end, event channels bound to IRQs, and the shared front-end
 * state machine.  The error contract is in <pvkit/vbus.h>.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "split_internal.h"
#include "split_logic.h"

/* @key below our node or the other end's, into @path (the full path). */
static int vpv_bus_path(struct vpv_bus_device *dev, bool otherend,
			const char *key, char *path, size_t size)
{
	int ret;

	if (!key || key[0] == '/')
		return -EINVAL;
	ret = vpv_store_join(path, size, otherend ? dev->otherend :
			     dev->nodename, key);
	if (ret < 0)
		return ret;
	return vpv_store_path_check(path);
}

int vpv_bus_read(struct vpv_bus_device *dev, u32 tx, bool otherend,
		 const char *key, char *buf, size_t len)
{
	char path[VPV_STORE_PATH_MAX + 1];
	int ret = vpv_bus_path(dev, otherend, key, path, sizeof(path));

	return ret ? ret : vpv_store_tx_read(tx, path, buf, len);
}
EXPORT_SYMBOL_GPL(vpv_bus_read);

int vpv_bus_write(struct vpv_bus_device *dev, u32 tx, const char *key,
		  const char *value)
{
	char path[VPV_STORE_PATH_MAX + 1];
	int ret = vpv_bus_path(dev, false, key, path, sizeof(path));

	return ret ? ret : vpv_store_tx_write(tx, path, value);
}
EXPORT_SYMBOL_GPL(vpv_bus_write);

int vpv_bus_rm(struct vpv_bus_device *dev, u32 tx, const char *key)
{
	char path[VPV_STORE_PATH_MAX + 1];
	int ret = vpv_bus_path(dev, false, key, path, sizeof(path));

	ret = ret ? ret : vpv_store_tx_rm(tx, path);
	return ret == -ENOENT ? 0 : ret;
}
EXPORT_SYMBOL_GPL(vpv_bus_rm);

int vpv_bus_printf(struct vpv_bus_device *dev, u32 tx, const char *key,
		   const char *fmt, ...)
{
	char path[VPV_STORE_PATH_MAX + 1];
	int ret = vpv_bus_path(dev, false, key, path, sizeof(path));
	va_list ap;

	if (ret)
		return ret;
	va_start(ap, fmt);
	ret = vpv_store_vprintf(tx, path, fmt, ap);
	va_end(ap);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_bus_printf);

int vpv_bus_scanf(struct vpv_bus_device *dev, u32 tx, bool otherend,
		  const char *key, const char *fmt, ...)
{
	va_list ap;
	char *buf;
	int ret;

	buf = kmalloc(VPV_STORE_PAYLOAD_MAX + 1, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = vpv_bus_read(dev, tx, otherend, key, buf,
			   VPV_STORE_PAYLOAD_MAX + 1);
	if (ret >= 0) {
		va_start(ap, fmt);
		ret = vsscanf(buf, fmt, ap);
		va_end(ap);
		if (ret <= 0)
			ret = -ERANGE;
	}
	kfree(buf);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_bus_scanf);

unsigned int vpv_bus_read_feature(struct vpv_bus_device *dev,
				  const char *key, unsigned int def)
{
	char buf[16];
	unsigned int val;

	if (vpv_bus_read(dev, 0, true, key, buf, sizeof(buf)) < 0 ||
	    kstrtouint(buf, 10, &val))
		return def;
	return val;
}
EXPORT_SYMBOL_GPL(vpv_bus_read_feature);

/* "error/device/TYPE/ID" in our home, for @dev. */
static int vpv_bus_error_path(struct vpv_bus_device *dev, char *path,
			      size_t size)
{
	return vpv_bus_error_node(path, size, dev->type, dev->devid);
}

/* A new device: the error a previous instance reported is history. */
void vpv_bus_clear_error(struct vpv_bus_device *dev)
{
	char path[VPV_STORE_PATH_MAX + 1];

	if (!vpv_bus_error_path(dev, path, sizeof(path)))
		vpv_store_rm(path);
}

static __printf(3, 0)
void vpv_bus_va_error(struct vpv_bus_device *dev, int err, const char *fmt,
		      va_list ap)
{
	char path[VPV_STORE_PATH_MAX + 1];
	char *msg, *val = NULL;
	int ret;

	msg = kvasprintf(GFP_KERNEL, fmt, ap);
	dev_err(&dev->dev, "%d %s\n", err, msg ? msg : fmt);
	if (msg)
		val = kasprintf(GFP_KERNEL, "%d %s", abs(err), msg);
	ret = val ? vpv_bus_error_path(dev, path, sizeof(path)) : -ENOMEM;
	if (!ret) {
		strlcat(path, "/error", sizeof(path));
		ret = vpv_store_write(path, val);
	}
	if (ret)
		dev_err(&dev->dev, "cannot write the error to the store: %d\n",
			ret);
	kfree(val);
	kfree(msg);
}

void vpv_bus_dev_error(struct vpv_bus_device *dev, int err,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpv_bus_va_error(dev, err, fmt, ap);
	va_end(ap);
}
EXPORT_SYMBOL_GPL(vpv_bus_dev_error);

void vpv_bus_dev_fatal(struct vpv_bus_device *dev, int err,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpv_bus_va_error(dev, err, fmt, ap);
	va_end(ap);
	vpv_bus_switch_state(dev, VPV_BUS_CLOSING);
}
EXPORT_SYMBOL_GPL(vpv_bus_dev_fatal);

int vpv_bus_alloc_ring(struct vpv_bus_device *dev, unsigned int nr_pages,
		       void **vaddr, int *grefs)
{
	unsigned int i;
	void *ring;
	int ret;

	if (!nr_pages || nr_pages > VPV_BUS_RING_PAGES_MAX) {
		ret = -EINVAL;
		goto fatal;
	}
	/* split into order-0 pages: each can be freed on its own later */
	ring = alloc_pages_exact(nr_pages * PAGE_SIZE,
				 GFP_KERNEL | __GFP_ZERO);
	if (!ring) {
		ret = -ENOMEM;
		goto fatal;
	}
	for (i = 0; i < nr_pages; i++) {
		ret = vpv_gnttab_grant(vpv_bus_otherend_domid(dev),
				       PHYS_PFN(virt_to_phys(ring + i * PAGE_SIZE)),
				       false);
		if (ret < 0)
			goto err_grant;
		grefs[i] = ret;
	}
	*vaddr = ring;
	return 0;

err_grant:
	/* nobody knows these references yet: they end at once */
	while (i--)
		vpv_gnttab_end(grefs[i]);
	free_pages_exact(ring, nr_pages * PAGE_SIZE);
fatal:
	vpv_bus_dev_fatal(dev, ret, "granting a ring of %u pages", nr_pages);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_bus_alloc_ring);

void vpv_bus_free_ring(struct vpv_bus_device *dev, void *vaddr,
		       unsigned int nr_pages, const int *grefs)
{
	unsigned int i;

	if (!vaddr)
		return;
	/* the back-end may still map a page: each is freed once it is not */
	for (i = 0; i < nr_pages; i++)
		vpv_gnttab_end_deferred(grefs[i],
					virt_to_page(vaddr + i * PAGE_SIZE));
}
EXPORT_SYMBOL_GPL(vpv_bus_free_ring);

int vpv_bus_bind_evtchn(struct vpv_bus_device *dev, irq_handler_t handler,
			irq_handler_t thread_fn, const char *name, void *data,
			unsigned int *port)
{
	int irq = vpv_evtchn_bind_irq(vpv_bus_otherend_domid(dev), handler, thread_fn,
				      thread_fn && !handler ? IRQF_ONESHOT : 0,
				      name, data, port);

	if (irq < 0)
		vpv_bus_dev_fatal(dev, irq, "binding an event channel");
	return irq;
}
EXPORT_SYMBOL_GPL(vpv_bus_bind_evtchn);

void vpv_bus_unbind_evtchn(int irq, void *data)
{
	vpv_evtchn_unbind_irq(irq, data);
}
EXPORT_SYMBOL_GPL(vpv_bus_unbind_evtchn);

/* CONNECT: the driver sets up and publishes, then we are Initialised. */
static void vpv_bus_fe_connect(struct vpv_bus_device *dev,
			       const struct vpv_fe_ops *fe)
{
	int ret = fe->connect(dev);

	if (!ret)
		ret = vpv_bus_switch_state(dev, VPV_BUS_INITIALISED);
	if (!ret)
		return;
	fe->disconnect(dev, ret);
	/* after vpv_bus_dev_fatal() the device stays in Closing */
	if (dev->state != VPV_BUS_CLOSING)
		vpv_bus_switch_state(dev, VPV_BUS_CLOSED);
}

void vpv_bus_frontend_changed(struct vpv_bus_device *dev, int theirs)
{
	const struct vpv_fe_ops *fe;

	if (!dev->dev.driver)
		return;
	fe = to_vpv_bus_driver(dev->dev.driver)->fe;
	if (!fe)
		return;
	switch (vpv_fe_decide(dev->state, theirs)) {
	case VPV_FE_RECONNECT:
		fe->disconnect(dev, -ENOTCONN);
		fallthrough;
	case VPV_FE_CONNECT:
		vpv_bus_fe_connect(dev, fe);
		break;
	case VPV_FE_CONNECTED:
		if (!vpv_bus_switch_state(dev, VPV_BUS_CONNECTED))
			fe->connected(dev);
		break;
	case VPV_FE_CLOSE:
		fe->disconnect(dev, theirs == VPV_BUS_CLOSING ? -ENODEV :
			       -ENOTCONN);
		vpv_bus_switch_state(dev, VPV_BUS_CLOSED);
		break;
	case VPV_FE_FAILED:
		fe->disconnect(dev, -EIO);
		break;
	case VPV_FE_NONE:
		break;
	}
}
EXPORT_SYMBOL_GPL(vpv_bus_frontend_changed);
