// SPDX-License-Identifier: GPL-2.0
/*
 * The device API of belib.h on the core's own functions, for the unit
 * tests and fuzz harnesses only: a back-end's device code (vloopback.c,
 * blkback.c, netback.c)
 * runs in the test process, registered as an ordinary bus driver, so
 * its ring parsing is tested and fuzzed under ASan/UBSan with the real
 * grant table, store and event channels.  vpv-host never links this:
 * it serves every device from a back-end process (src/devices/beproc.c).
 *
 * Callbacks run under the bus lock, in the guest's hypercall thread
 * (events) or the thread that changed the front-end's state.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "beproc.h"
#include "belib.h"

/* device types registered in-process: vloop, vbd and vif */
#define INPROC_TYPES_MAX	3

struct inproc_type {
	const struct be_device_ops *ops;
	struct bus_driver drv;
};

static struct inproc_type ip_types[INPROC_TYPES_MAX];
static unsigned int ip_ntypes;

/* one device, from the bus's add to its remove */
struct inproc {
	struct bus_dev *dev;
	const struct be_device_ops *ops;
	struct be_maptab mt;
	struct be_params params;
	struct be_blk_stats blk;
	struct be_net_stats net;
	bool connected;
	uint32_t sw_port;	/* a vif on a switch: its port, 0: none */
	struct be_dev bd;
	struct inproc *next;	/* ip_list, bus lock */
};

static struct inproc *ip_list;

static struct inproc *ip_of(struct be_dev *bd)
{
	return bd->impl;
}

int be_store_read(struct be_dev *bd, bool fe, const char *key, char *buf,
		  unsigned int size)
{
	struct bus_dev *dev = ip_of(bd)->dev;
	char path[160], *v;
	uint32_t len;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", fe ? dev->fe : dev->be, key);
	ret = store_read(STORE_DOMID_HOST, 0, path, &v, &len);
	if (ret)
		return ret;
	if (len >= size)
		len = size - 1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	free(v);
	return (int)len;
}

int be_store_write(struct be_dev *bd, const char *key, const char *val)
{
	struct bus_dev *dev = ip_of(bd)->dev;
	char path[160];

	snprintf(path, sizeof(path), "%s/%s", dev->be, key);
	return store_write(STORE_DOMID_HOST, 0, path, val, strlen(val));
}

int be_grant_map(struct be_dev *bd, struct be_gmap *m, unsigned int n)
{
	struct inproc *ip = ip_of(bd);
	unsigned int i;
	uint32_t h;

	if (!n || n > BE_MAP_BATCH)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		m[i].ptr = NULL;
		m[i].status = be_maptab_map(&ip->mt, ip->dev->g, m[i].ref,
					    m[i].write, &h);
		if (m[i].status)
			continue;
		m[i].handle = h;
		m[i].ptr = ip->mt.maps[h].ptr;
	}
	return 0;
}

void be_grant_unmap(struct be_dev *bd, struct be_gmap *m, unsigned int n)
{
	struct inproc *ip = ip_of(bd);
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (m[i].status || !m[i].ptr ||
		    be_maptab_unmap(&ip->mt, m[i].handle))
			continue;
		m[i].ptr = NULL;
		m[i].status = -ENOENT;
	}
}

bool be_unmap_barrier(struct be_dev *bd)
{
	(void)bd;	/* be_grant_unmap() unmapped at once */
	return false;
}

/* As the core's do_bind(): the first port, then up to BUS_XPORTS more. */
int be_bind(struct be_dev *bd, uint32_t port)
{
	struct bus_dev *dev = ip_of(bd)->dev;
	unsigned int i;
	int ret;

	for (i = 0; dev->port && i < BUS_XPORTS && dev->xport[i]; i++)
		;
	if (dev->port && i == BUS_XPORTS)
		return -EEXIST;
	ret = evtchn_bind_backend(dev->g, port);
	if (ret)
		return ret;
	if (dev->port)
		dev->xport[i] = port;
	else
		dev->port = port;
	return 0;
}

void be_unbind(struct be_dev *bd)
{
	struct bus_dev *dev = ip_of(bd)->dev;
	unsigned int i;

	if (dev->port)
		evtchn_unbind_backend(dev->g, dev->port);
	for (i = 0; i < BUS_XPORTS; i++)
		if (dev->xport[i])
			evtchn_unbind_backend(dev->g, dev->xport[i]);
}

/* the core's raise, on the vector belib.c's would ring */
void be_notify_port(struct be_dev *bd, uint32_t port, uint32_t vector)
{
	struct bus_dev *dev = ip_of(bd)->dev;

	if (!bus_dev_has_port(dev, port))
		return;
	evtchn_notify_guest_backend_vec(dev->g, port,
					be_is_cpu_vector(vector) ?
					vector : VPV_VEC_EVTCHN);
}

void be_notify_vector(struct be_dev *bd, uint32_t vector)
{
	be_notify_port(bd, ip_of(bd)->dev->port, vector);
}

void be_notify(struct be_dev *bd)
{
	be_notify_vector(bd, VPV_VEC_EVTCHN);
}

void be_again(struct be_dev *bd)
{
	struct bus_dev *dev = ip_of(bd)->dev;

	evtchn_kick_host(dev->g, dev->port);
}

int be_guard(struct be_dev *bd, void (*fn)(void *arg), void *arg)
{
	return gpa_guard_run(ip_of(bd)->dev->g, NULL, fn, arg);
}

void be_count(struct be_dev *bd, uint64_t requests, uint64_t refused)
{
	struct bus_dev *dev = ip_of(bd)->dev;

	dev->requests += requests;
	if (!strcmp(dev->drv->type, "vloop")) {
		STAT_ADD(dev->g, vloop_requests, requests);
		STAT_ADD(dev->g, vloop_refused, refused);
	}
}

void be_blk_report(struct be_dev *bd, const struct be_blk_stats *s)
{
	be_blk_stats_add(&ip_of(bd)->blk, s);
}

void be_net_report(struct be_dev *bd, const struct be_net_stats *s)
{
	be_net_stats_add(&ip_of(bd)->net, s);
}

static const struct be_device_ops *ops_of(const struct bus_dev *dev)
{
	const struct inproc_type *t = (const void *)((const char *)dev->drv -
		offsetof(struct inproc_type, drv));

	return t->ops;
}

static void ip_free(struct inproc *ip)
{
	struct inproc **pp;

	for (pp = &ip_list; *pp; pp = &(*pp)->next)
		if (*pp == ip) {
			*pp = ip->next;
			break;
		}
	if (ip->sw_port)
		vswitch_port_remove(ip->params.vif.tap, ip->sw_port);
	be_maptab_destroy(&ip->mt);
	be_params_close(&ip->params);
	free(ip);
}

static int ip_add(struct bus_dev *dev)
{
	struct inproc *ip = calloc(1, sizeof(*ip));
	struct be_sandbox_extra x;	/* no sandbox in-process */
	int ret;

	if (!ip)
		return -ENOMEM;
	ip->dev = dev;
	ip->ops = ops_of(dev);
	ip->bd.domid = dev->domid;
	ip->bd.id = dev->id;
	ip->bd.impl = ip;
	ip->bd.params = &ip->params;
	ip->bd.poll_fd = -1;
	ip->bd.sync = true;
	ret = be_maptab_init(&ip->mt, beproc_maps_max(dev->drv->type));
	if (!ret)
		ret = beproc_setup(dev, dev->params);
	if (!ret)
		ret = be_params_dup(&ip->params, dev->params);
	if (!ret)	/* a vif on a switch: as the process driver does */
		ret = beproc_switch_port(&ip->params, dev, &ip->sw_port);
	memset(&x, 0, sizeof(x));
	if (!ret && ip->ops->init)
		ret = ip->ops->init(&ip->bd, &x);
	if (ret) {
		ip_free(ip);
		return ret;
	}
	dev->priv = ip;
	ip->next = ip_list;
	ip_list = ip;
	return 0;
}

static void ip_remove(struct bus_dev *dev)
{
	struct inproc *ip = dev->priv;

	if (!ip)
		return;
	if (ip->ops->fini)
		ip->ops->fini(&ip->bd);
	ip_free(ip);
	dev->priv = NULL;
}

static int ip_connect(struct bus_dev *dev)
{
	struct inproc *ip = dev->priv;
	int ret;

	if (!ip)
		return -ENODEV;
	ret = ip->ops->connect(&ip->bd);
	ip->connected = !ret;
	return ret;
}

static void ip_disconnect(struct bus_dev *dev)
{
	struct inproc *ip = dev->priv;

	if (!ip || !ip->connected)
		return;
	ip->ops->disconnect(&ip->bd);
	ip->connected = false;
	be_maptab_release(&ip->mt);	/* the device's leftovers */
}

static int ip_event(struct bus_dev *dev)
{
	struct inproc *ip = dev->priv;

	return ip && ip->connected ? ip->ops->event(&ip->bd) : 0;
}

/* resized at once (bus lock held); the size checks as the process's */
static int ip_resize(struct bus_dev *dev, uint64_t size)
{
	struct inproc *ip = dev->priv;
	int ret;

	if (!ip)
		return -ENODEV;
	ret = vbd_resize_check(&ip->params, size);
	if (!ret)
		ret = ip->ops->resize ? ip->ops->resize(&ip->bd, size) :
					-EOPNOTSUPP;
	if (!ret)
		ip->params.vbd.size = size;
	return ret;
}

static void ip_info(const struct bus_dev *dev, struct bus_dev_info *i)
{
	const struct inproc *ip = dev->priv;

	if (ip && !strcmp(dev->drv->type, "vif")) {
		i->has_net = true;
		i->net = ip->net;
		snprintf(i->tap, sizeof(i->tap), "%s", ip->params.vif.tap);
		i->on_switch = ip->params.vif.flags & BE_VIF_SWITCH;
	}
	if (!ip || strcmp(dev->drv->type, "vbd"))
		return;
	i->has_blk = true;
	i->blk = ip->blk;
	i->resize_result = 1;
}

int be_inproc_complete(const char *type, uint32_t domid, uint32_t id)
{
	struct inproc *ip;
	int ret;

	bus_enter();
	for (ip = ip_list; ip; ip = ip->next)
		if (ip->dev->domid == domid && ip->dev->id == id &&
		    !strcmp(ip->dev->drv->type, type))
			break;
	if (!ip) {
		bus_leave();
		return -ENOENT;
	}
	ret = ip->connected && ip->ops->complete ?
	      ip->ops->complete(&ip->bd) : 0;
	if (ret < 0 && ip->dev->connected)
		bus_protocol_error(ip->dev);
	bus_leave();
	return ret;
}

int be_inproc_register(const struct be_device_ops *ops)
{
	struct inproc_type *t;

	if (ip_ntypes >= INPROC_TYPES_MAX)
		return -ENOSPC;
	t = &ip_types[ip_ntypes++];
	t->ops = ops;
	t->drv.type = ops->type;
	t->drv.features = beproc_features(ops->type);
	t->drv.connect = ip_connect;
	t->drv.disconnect = ip_disconnect;
	t->drv.event = ip_event;
	t->drv.add = ip_add;
	t->drv.remove = ip_remove;
	t->drv.info = ip_info;
	t->drv.resize = ip_resize;
	return bus_register_driver(&t->drv);
}

