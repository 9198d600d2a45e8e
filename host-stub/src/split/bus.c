// SPDX-License-Identifier: GPL-2.0
/*
 * Bus back-end framework: devices in the config store and the
 * back-end half of the Xen-style state handshake.
 *
 * A device TYPE/ID of guest D has the back-end directory
 * /local/domain/0/backend/TYPE/D/ID (host-owned, readable by D) and the
 * front-end directory /local/domain/D/device/TYPE/ID (owned by D).  A
 * host-internal watch on the front-end's state drives the back-end:
 *   front Initialised/Connected, back InitWait -> connect -> Connected
 *   front Closing                              -> disconnect, Closing
 *   front Closed or gone                       -> disconnect, Closed
 *   front Initialising, back Closed            -> InitWait
 * Removal: back-end Closing, then on front Closed (or after
 * BUS_REMOVE_TIMEOUT_MS, bus_tick()) disconnect and remove both
 * directories.  A driver's protocol error disconnects the device and
 * puts it in Closing (counted).
 *
 * bus_mtx protects the device list, the state machine and ring
 * processing (drivers' event callbacks run under it).  Store calls made
 * under it keep host-watch callbacks queued until it is released.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vpv_host.h"

#define BUS_MAX_DRIVERS	8

static pthread_mutex_t bus_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct bus_dev *devs;
static const struct bus_driver *drivers[BUS_MAX_DRIVERS];

static void bus_lock(void)
{
	pthread_mutex_lock(&bus_mtx);
	store_defer_hold(1);
}

static void bus_unlock(void)
{
	store_defer_hold(-1);
	pthread_mutex_unlock(&bus_mtx);
	store_run_deferred();
}

/* For process back-ends (beproc.c): their thread works under bus_mtx. */
void bus_enter(void)
{
	bus_lock();
}

void bus_leave(void)
{
	bus_unlock();
}

uint64_t bus_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bus_register_driver(const struct bus_driver *drv)
{
	unsigned int i;

	for (i = 0; i < BUS_MAX_DRIVERS; i++) {
		if (drivers[i] == drv || (drivers[i] &&
					  !strcmp(drivers[i]->type, drv->type)))
			return -EEXIST;
		if (!drivers[i]) {
			drivers[i] = drv;
			return 0;
		}
	}
	return -ENOSPC;
}

static const struct bus_driver *find_driver(const char *type)
{
	unsigned int i;

	for (i = 0; i < BUS_MAX_DRIVERS && drivers[i]; i++)
		if (!strcmp(drivers[i]->type, type))
			return drivers[i];
	return NULL;
}

static struct bus_dev *find_dev(struct guest *g, const char *type,
				uint32_t id)
{
	struct bus_dev *d;

	for (d = devs; d; d = d->next)
		if (d->g == g && d->id == id && !strcmp(d->drv->type, type))
			return d;
	return NULL;
}

/* The driver's advertised feature keys (struct bus_feature). */
static int write_features(const struct bus_dev *d)
{
	const struct bus_feature *f;
	char path[160];
	int ret;

	for (f = d->drv->features; f && f->key; f++) {
		if (snprintf(path, sizeof(path), "%s/%s", d->be, f->key) >=
		    (int)sizeof(path))
			return -E2BIG;
		ret = store_writef(path, "%u", f->value);
		if (ret)
			return ret;
	}
	return 0;
}

uint32_t bus_read_feature(const struct bus_dev *d, const char *key,
			  uint32_t def)
{
	char path[160], *v;
	uint32_t len, x;
	int bad;

	if (snprintf(path, sizeof(path), "%s/%s", d->be, key) >=
	    (int)sizeof(path))
		return def;
	if (store_read(STORE_DOMID_HOST, 0, path, &v, &len))
		return def;
	/* v is our copy: nobody changes it while we parse */
	bad = vpv_parse_u32(v, len, &x);
	free(v);
	return bad ? def : x;
}

static int read_state(const char *dir)
{
	char path[128], *v, *end;
	uint32_t len;
	long st;

	snprintf(path, sizeof(path), "%s/state", dir);
	if (store_read(STORE_DOMID_HOST, 0, path, &v, &len))
		return VPV_BUS_UNKNOWN;
	st = strtol(v, &end, 10);
	if (end == v || (*end && *end != '\n') || st < 0 ||
	    st > VPV_BUS_CLOSED)
		st = VPV_BUS_UNKNOWN;
	free(v);
	return st;
}

static void set_be_state(struct bus_dev *d, int st)
{
	char path[128];

	d->be_state = st;
	snprintf(path, sizeof(path), "%s/state", d->be);
	store_writef(path, "%d", st);
}

bool bus_dev_has_port(const struct bus_dev *d, uint32_t port)
{
	unsigned int i;

	if (!port)
		return false;
	if (d->port == port)
		return true;
	for (i = 0; i < BUS_XPORTS; i++)
		if (d->xport[i] == port)
			return true;
	return false;
}

void bus_dev_clear_ports(struct bus_dev *d)
{
	d->port = 0;
	memset(d->xport, 0, sizeof(d->xport));
}

static void do_disconnect(struct bus_dev *d)
{
	if (!d->connected && !d->connecting)
		return;
	d->drv->disconnect(d);
	d->connected = false;
	d->connecting = false;
	bus_dev_clear_ports(d);
}

int bus_protocol_error(struct bus_dev *d)
{
	d->protocol_errors++;
	STAT_INC(d->g, bus_protocol_errors);
	do_disconnect(d);
	set_be_state(d, VPV_BUS_CLOSING);
	return -EPROTO;
}

static void fe_changed(void *ctx, const char *path);

static void finish_remove(struct bus_dev *d)
{
	struct bus_dev **pp;
	char path[128];

	do_disconnect(d);
	if (d->drv->remove)
		d->drv->remove(d);	/* its process: killed, reaped */
	for (pp = &devs; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	snprintf(path, sizeof(path), "%s/state", d->fe);
	store_unwatch_host(path, fe_changed, NULL);
	store_rm(STORE_DOMID_HOST, 0, d->be);
	store_rm(STORE_DOMID_HOST, 0, d->fe);
	free(d);
}

void bus_connect_done(struct bus_dev *d, int ret)
{
	d->connecting = false;
	if (ret) {
		bus_protocol_error(d);
		return;
	}
	d->connected = true;
	set_be_state(d, VPV_BUS_CONNECTED);
}

void bus_backend_gone(struct bus_dev *d, bool failed)
{
	d->connected = false;
	d->connecting = false;
	bus_dev_clear_ports(d);
	if (d->removing)
		return;
	set_be_state(d, VPV_BUS_CLOSING);
	set_be_state(d, VPV_BUS_CLOSED);
	if (!failed)
		set_be_state(d, VPV_BUS_INITWAIT);
}

static void dev_update(struct bus_dev *d)
{
	int fe = read_state(d->fe), ret;

	switch (fe) {
	case VPV_BUS_INITIALISING:
		if (d->be_state == VPV_BUS_CLOSED && !d->removing)
			set_be_state(d, VPV_BUS_INITWAIT);
		break;
	case VPV_BUS_INITWAIT:
		break;
	case VPV_BUS_INITIALISED:
	case VPV_BUS_CONNECTED:
		if (d->be_state != VPV_BUS_INITWAIT || d->removing ||
		    d->connecting)
			break;
		ret = d->drv->connect(d);
		if (ret > 0) {		/* answered by bus_connect_done() */
			d->connecting = true;
			break;
		}
		bus_connect_done(d, ret);
		break;
	case VPV_BUS_CLOSING:
		do_disconnect(d);
		if (d->be_state != VPV_BUS_CLOSED)
			set_be_state(d, VPV_BUS_CLOSING);
		break;
	default:	/* Closed, Unknown, gone */
		do_disconnect(d);
		if (d->removing) {
			finish_remove(d);
			break;
		}
		if (d->be_state != VPV_BUS_CLOSED &&
		    d->be_state != VPV_BUS_INITWAIT)
			set_be_state(d, VPV_BUS_CLOSED);
		break;
	}
}

/* host watch on every front-end's state */
static void fe_changed(void *ctx, const char *path)
{
	struct bus_dev *d;
	char want[128];

	(void)ctx;
	bus_lock();
	for (d = devs; d; d = d->next) {
		snprintf(want, sizeof(want), "%s/state", d->fe);
		if (!strcmp(want, path)) {
			dev_update(d);
			break;
		}
	}
	bus_unlock();
}

int bus_device_add(struct guest *g, const char *type, uint32_t id)
{
	return bus_device_add_params(g, type, id, NULL);
}

int bus_device_add_params(struct guest *g, const char *type, uint32_t id,
			  const struct be_params *params)
{
	const struct bus_driver *drv = find_driver(type);
	uint32_t reader = g->domid;
	struct bus_dev *d;
	char path[160];
	int ret;

	if (!drv)
		return -ENOENT;
	if (!g->domid)
		return -EINVAL;
	bus_lock();
	if (find_dev(g, type, id)) {
		bus_unlock();
		return -EEXIST;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		bus_unlock();
		return -ENOMEM;
	}
	d->drv = drv;
	d->g = g;
	d->domid = g->domid;
	d->id = id;
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/%s/%u/%u",
		 type, g->domid, id);
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/%s/%u",
		 g->domid, type, id);
	store_rm(STORE_DOMID_HOST, 0, d->be);
	store_rm(STORE_DOMID_HOST, 0, d->fe);
	ret = store_mkdir(STORE_DOMID_HOST, 0, d->be);
	if (!ret)
		ret = store_set_perms(d->be, STORE_DOMID_HOST, &reader, 1);
	if (!ret)
		ret = store_mkdir(STORE_DOMID_HOST, 0, d->fe);
	if (!ret)
		ret = store_set_perms(d->fe, g->domid, NULL, 0);
	snprintf(path, sizeof(path), "%s/frontend", d->be);
	if (!ret)
		ret = store_writef(path, "%s", d->fe);
	snprintf(path, sizeof(path), "%s/frontend-id", d->be);
	if (!ret)
		ret = store_writef(path, "%u", g->domid);
	snprintf(path, sizeof(path), "%s/backend", d->fe);
	if (!ret)
		ret = store_writef(path, "%s", d->be);
	snprintf(path, sizeof(path), "%s/backend-id", d->fe);
	if (!ret)
		ret = store_writef(path, "0");
	if (!ret)
		ret = write_features(d);
	snprintf(path, sizeof(path), "%s/state", d->fe);
	if (!ret)
		ret = store_writef(path, "%d", VPV_BUS_INITIALISING);
	if (ret) {
		store_rm(STORE_DOMID_HOST, 0, d->be);
		store_rm(STORE_DOMID_HOST, 0, d->fe);
		free(d);
		bus_unlock();
		return ret;
	}
	if (drv->add) {
		d->params = params;
		ret = drv->add(d);	/* its process */
		d->params = NULL;
		if (ret) {
			store_rm(STORE_DOMID_HOST, 0, d->be);
			store_rm(STORE_DOMID_HOST, 0, d->fe);
			free(d);
			bus_unlock();
			return ret;
		}
	}
	set_be_state(d, VPV_BUS_INITWAIT);
	d->next = devs;
	devs = d;
	STAT_INC(g, bus_devices);
	ret = store_watch_host(path, fe_changed, NULL);
	bus_unlock();
	return ret;
}

/* 0: removed; 1: waiting for the front-end (Closing) */
int bus_device_remove(struct guest *g, const char *type, uint32_t id)
{
	struct bus_dev *d;
	int fe, ret = 0;

	bus_lock();
	d = find_dev(g, type, id);
	if (!d) {
		bus_unlock();
		return -ENOENT;
	}
	fe = read_state(d->fe);
	if (!d->connected && fe != VPV_BUS_INITIALISED &&
	    fe != VPV_BUS_CONNECTED && fe != VPV_BUS_CLOSING) {
		finish_remove(d);
	} else {
		d->removing = true;
		d->remove_deadline_ms = bus_now_ms() + BUS_REMOVE_TIMEOUT_MS;
		do_disconnect(d);
		set_be_state(d, VPV_BUS_CLOSING);
		ret = 1;
	}
	bus_unlock();
	return ret;
}

int bus_device_restart(struct guest *g, const char *type, uint32_t id)
{
	struct bus_dev *d;
	int ret;

	bus_lock();
	d = find_dev(g, type, id);
	if (!d || d->removing) {
		bus_unlock();
		return -ENOENT;
	}
	do_disconnect(d);
	ret = d->drv->restart ? d->drv->restart(d) : 0;
	set_be_state(d, VPV_BUS_CLOSED);
	if (!ret)
		set_be_state(d, VPV_BUS_INITWAIT);
	bus_unlock();
	return ret;
}

int bus_device_resize(struct guest *g, const char *type, uint32_t id,
		      uint64_t size)
{
	struct bus_dev *d;
	int ret;

	bus_lock();
	d = find_dev(g, type, id);
	if (!d || d->removing)
		ret = -ENOENT;
	else if (!d->drv->resize)
		ret = -EOPNOTSUPP;
	else
		ret = d->drv->resize(d, size);
	bus_unlock();
	return ret;
}

void bus_tick(uint64_t now_ms)
{
	struct bus_dev *d, *next;

	bus_lock();
	for (d = devs; d; d = next) {
		next = d->next;
		if (d->removing && now_ms >= d->remove_deadline_ms)
			finish_remove(d);
	}
	bus_unlock();
}

void bus_guest_reset(struct guest *g)
{
	struct bus_dev *d;

	bus_lock();
	for (d = devs; d; d = d->next) {
		if (d->g != g || d->removing)
			continue;
		do_disconnect(d);
		if (d->be_state != VPV_BUS_INITWAIT) {
			set_be_state(d, VPV_BUS_CLOSED);
			set_be_state(d, VPV_BUS_INITWAIT);
		}
	}
	bus_unlock();
}

void bus_guest_remove(struct guest *g)
{
	struct bus_dev *d, *next;

	bus_lock();
	for (d = devs; d; d = next) {
		next = d->next;
		if (d->g == g)
			finish_remove(d);
	}
	bus_unlock();
}

bool bus_port_event(struct guest *g, unsigned int port)
{
	struct bus_dev *d;
	bool found = false;

	bus_lock();
	for (d = devs; d; d = d->next) {
		/* bound: connected, or a process back-end connecting */
		if (d->g == g && bus_dev_has_port(d, port)) {
			found = true;
			if (d->drv->event(d) < 0)
				bus_protocol_error(d);
			break;
		}
	}
	bus_unlock();
	return found;
}

/* The guest closed port: a device bound to it goes on without one. */
void bus_port_closed(struct guest *g, unsigned int port)
{
	struct bus_dev *d;
	unsigned int i;

	bus_lock();
	for (d = devs; d; d = d->next) {
		if (d->g != g || !port)
			continue;
		if (d->port == port)
			d->port = 0;	/* drivers: port 0 is never valid */
		for (i = 0; i < BUS_XPORTS; i++)
			if (d->xport[i] == port)
				d->xport[i] = 0;
	}
	bus_unlock();
}

size_t bus_device_list(uint32_t domid, struct bus_dev_info *out, size_t max)
{
	struct bus_dev *d;
	size_t n = 0;

	bus_lock();
	for (d = devs; d; d = d->next) {
		struct bus_dev_info *i = out + (n < max ? n : 0);

		if (domid && d->domid != domid)
			continue;
		if (n < max) {
			memset(i, 0, sizeof(*i));
			snprintf(i->type, sizeof(i->type), "%s", d->drv->type);
			snprintf(i->guest, sizeof(i->guest), "%s", d->g->name);
			i->domid = d->domid;
			i->id = d->id;
			i->be_state = d->be_state;
			i->fe_state = read_state(d->fe);
			i->connected = d->connected;
			i->port = d->port;
			i->requests = d->requests;
			i->protocol_errors = d->protocol_errors;
			i->be_last_status = -1;
			if (d->drv->info)
				d->drv->info(d, i);
		}
		n++;
	}
	bus_unlock();
	return n;
}

static void bus_subsys_tick(struct host *h, uint64_t now_ms)
{
	(void)h;
	(void)now_ms;
	bus_tick(bus_now_ms());	/* device removal timeouts */
}

const struct guest_subsys_ops bus_subsys = {
	.name = "bus",
	.setup = split_init,	/* the store's tree, the back-end drivers */
	.reset = bus_guest_reset,	/* back-ends to InitWait */
	.tick = bus_subsys_tick,
	.port_event = bus_port_event,
	.port_closed = bus_port_closed,
	.destroy = bus_guest_remove,
};
