// SPDX-License-Identifier: GPL-2.0
/*
 * The device API of belib.h on the core's own functions, for the unit
 * tests and fuzz harnesses only: a back-end's device code (vloopback.c)
 * runs in the test process, registered as an ordinary bus driver, so
 * its ring parsing is tested and fuzzed under ASan/UBSan with the real
 * grant table, store and event channels.  vpv-host never links this:
 * it serves every device from a back-end process (src/devices/beproc.c).
 *
 * Callbacks run under the bus lock, in the guest's hypercall thread
 * (events) or the thread that changed the front-end's state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpv_host.h"
#include "beproc.h"
#include "belib.h"

struct inproc {
	struct bus_dev *dev;
	const struct be_device_ops *ops;
	struct grant_map maps[BE_MAPS_MAX];
	bool used[BE_MAPS_MAX];
	struct be_dev bd;
};

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

static int slot_get(struct inproc *ip)
{
	unsigned int i;

	for (i = 0; i < BE_MAPS_MAX; i++)
		if (!ip->used[i])
			return (int)i;
	return -ENOSPC;
}

int be_grant_map(struct be_dev *bd, struct be_gmap *m, unsigned int n)
{
	struct inproc *ip = ip_of(bd);
	unsigned int i;
	int s;

	if (!n || n > BE_MAP_BATCH)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		s = slot_get(ip);
		m[i].ptr = NULL;
		if (s < 0) {
			m[i].status = -ENOSPC;
			continue;
		}
		m[i].status = grant_map(ip->dev->g, m[i].ref, VPV_DOMID_HOST,
					m[i].write, &ip->maps[s]);
		if (m[i].status)
			continue;
		ip->used[s] = true;
		m[i].handle = s;
		m[i].ptr = ip->maps[s].ptr;
	}
	return 0;
}

void be_grant_unmap(struct be_dev *bd, struct be_gmap *m, unsigned int n)
{
	struct inproc *ip = ip_of(bd);
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (m[i].status || !m[i].ptr || m[i].handle >= BE_MAPS_MAX ||
		    !ip->used[m[i].handle])
			continue;
		grant_unmap(&ip->maps[m[i].handle]);
		ip->used[m[i].handle] = false;
		m[i].ptr = NULL;
		m[i].status = -ENOENT;
	}
}

int be_bind(struct be_dev *bd, uint32_t port)
{
	struct bus_dev *dev = ip_of(bd)->dev;
	int ret = evtchn_bind_backend(dev->g, port);

	if (!ret)
		dev->port = port;
	return ret;
}

void be_unbind(struct be_dev *bd)
{
	struct bus_dev *dev = ip_of(bd)->dev;

	if (dev->port)
		evtchn_unbind_backend(dev->g, dev->port);
}

void be_notify(struct be_dev *bd)
{
	struct bus_dev *dev = ip_of(bd)->dev;

	evtchn_notify_guest_backend(dev->g, dev->port);
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
	STAT_ADD(dev->g, vloop_requests, requests);
	STAT_ADD(dev->g, vloop_refused, refused);
}

static const struct be_device_ops *inproc_ops;

static int ip_connect(struct bus_dev *dev)
{
	struct inproc *ip = calloc(1, sizeof(*ip));
	int ret;

	if (!ip)
		return -ENOMEM;
	ip->dev = dev;
	ip->ops = inproc_ops;
	ip->bd.domid = dev->domid;
	ip->bd.id = dev->id;
	ip->bd.impl = ip;
	dev->priv = ip;
	ret = ip->ops->connect(&ip->bd);
	if (ret) {
		dev->priv = NULL;
		free(ip);
	}
	return ret;
}

static void ip_disconnect(struct bus_dev *dev)
{
	struct inproc *ip = dev->priv;
	unsigned int i;

	if (!ip)
		return;
	ip->ops->disconnect(&ip->bd);
	for (i = 0; i < BE_MAPS_MAX; i++)	/* the device's leftovers */
		if (ip->used[i])
			grant_unmap(&ip->maps[i]);
	free(ip);
	dev->priv = NULL;
}

static int ip_event(struct bus_dev *dev)
{
	struct inproc *ip = dev->priv;

	return ip ? ip->ops->event(&ip->bd) : 0;
}

static struct bus_driver inproc_driver = {
	.connect = ip_connect,
	.disconnect = ip_disconnect,
	.event = ip_event,
};

int be_inproc_register(const struct be_device_ops *ops)
{
	inproc_ops = ops;
	inproc_driver.type = ops->type;
	inproc_driver.features = beproc_features(ops->type);
	return bus_register_driver(&inproc_driver);
}
