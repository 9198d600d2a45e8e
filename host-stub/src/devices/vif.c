// SPDX-License-Identifier: GPL-2.0
/*
 * The core's part of the split network device (vif.h): the tap is
 * opened here, by vpv-host (root, in its own network namespace), and
 * handed to the sandboxed back-end process in INIT (it can open
 * nothing itself); the static keys of abi/vpv_netif.h are written here
 * before the device's InitWait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "vpv_host.h"
#include "nsw_proto.h"

const struct bus_feature vif_features[] = {
	{ "feature-sg", 1 },
	{ "feature-csum", 1 },
	{ "feature-gso-tcpv4", 1 },
	{ "feature-gso-tcpv6", 1 },
	{ "multi-queue-max-queues", VIF_QUEUES },
	{ "max-ring-page-order", VIF_RING_ORDER },
	/* RX buffers kept mapped (BE_VIF_PERSISTENT_MAX) if it agrees */
	{ "feature-persistent", 1 },
	/* TX slots flagged PERSISTENT kept mapped: the same bound */
	{ "feature-persistent-tx", 1 },
	{ NULL, 0 }
};

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vif_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int i, any = 0;
	int hi, lo;

	if (strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		hi = hex(s[3 * i]);
		lo = hex(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = hi << 4 | lo;
		any |= mac[i];
	}
	/* unicast (the group bit clear) and not 00:00:00:00:00:00 */
	return (mac[0] & 1) || !any ? -EINVAL : 0;
}

void vif_default_mac(uint32_t domid, uint32_t id, uint8_t mac[6])
{
	mac[0] = 0x02;		/* locally administered, unicast */
	mac[1] = 0x76;		/* 'v' */
	mac[2] = domid >> 8;
	mac[3] = domid;
	mac[4] = id >> 8;
	mac[5] = id;
}

int vif_parse_rate(const char *s, uint64_t *rate)
{
	uint64_t v;

	if (!s || cfg_parse_size(s, &v) ||
	    (v && (v < BE_VIF_RATE_MIN || v > BE_VIF_RATE_MAX)))
		return -EINVAL;
	*rate = v;
	return 0;
}

/* A name TUNSETIFF takes and dev_valid_name() accepts, of ours only. */
static bool tap_name_ok(const char *n)
{
	size_t i, len = n ? strlen(n) : 0;

	if (!len || len >= BE_VIF_IFNAMSIZ || !strcmp(n, ".") ||
	    !strcmp(n, ".."))
		return false;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		      (n[i] >= 'A' && n[i] <= 'Z') ||
		      (n[i] >= '0' && n[i] <= '9') || n[i] == '_' ||
		      n[i] == '-' || n[i] == '.'))
			return false;
	return true;
}

/* Each end's send buffer: the bound of what it queues (nsw_proto.h). */
static int port_bufs(int fd)
{
	int v = NSW_PORT_SNDBUF;

	/* root: past net.core.wmem_max; else as much as that allows */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)))
		return -errno;
	/* not charged by AF_UNIX (the sender is), set for clarity */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)))
		return -errno;
	return 0;
}

static int switch_open(const struct vif_opts *o, struct be_params *p)
{
	int sv[2], ret;

	if (!vswitch_name_ok(o->sw))
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv) < 0)
		return -errno;
	ret = port_bufs(sv[0]);
	if (!ret)
		ret = port_bufs(sv[1]);
	if (ret) {
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	p->vif.flags |= BE_VIF_SWITCH;
	snprintf(p->vif.tap, sizeof(p->vif.tap), "%s", o->sw);
	p->fds[0] = sv[0];
	p->fds[1] = sv[1];
	p->nr_fds = 2;
	return 0;
}

int vif_open(const struct vif_opts *o, struct be_params *p)
{
	struct ifreq ifr;
	int hdr = VIF_VNET_HDR_LEN, fd, ret;

	memset(p, 0, sizeof(*p));
	p->fds[0] = -1;
	p->fds[1] = -1;
	p->vif.mtu = o->mtu ?: VPV_NETIF_DEFAULT_MTU;
	p->vif.flags = BE_VIF_VNET_HDR;
	p->vif.rate = o->rate;
	if (!o->tap == !o->sw)
		return -EINVAL;
	p->vif.max_queues = o->queues ?: VIF_QUEUES;
	if (p->vif.max_queues > VPV_NETIF_MAX_QUEUES)
		return -EINVAL;
	if (p->vif.mtu < VPV_NETIF_MIN_MTU || p->vif.mtu > VPV_NETIF_MAX_MTU ||
	    (o->rate &&
	     (o->rate < BE_VIF_RATE_MIN || o->rate > BE_VIF_RATE_MAX)))
		return -EINVAL;
	if (o->mac) {
		if (vif_parse_mac(o->mac, p->vif.mac))
			return -EINVAL;
		p->vif.flags |= BE_VIF_MAC_SET;
	}
	if (o->sw)
		return switch_open(o, p);
	if (!tap_name_ok(o->tap))
		return -EINVAL;
	/* non-blocking: the back-end polls it (the flag is the file's) */
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tap);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	snprintf(p->vif.tap, sizeof(p->vif.tap), "%s", ifr.ifr_name);
	p->fds[0] = fd;
	p->nr_fds = 1;
	return 0;
}

/*
 * The tap's MTU: the back-end's "mtu", so that the host side sends the
 * guest no larger frame than the device carries (GSO aside) and
 * answers "packet too big" for it.  SIOCSIFMTU needs a socket and
 * CAP_NET_ADMIN, which the sandboxed process has neither of: the core
 * sets it once here, and the front-end's own "mtu" does not change
 * it (Documentation/host-stub.rst, vpv-netback).
 */
static int tap_set_mtu(int tap, uint32_t mtu)
{
	struct ifreq ifr;
	int s, ret = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(tap, TUNGETIFF, &ifr) < 0)
		return -errno;
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR))
		return -EINVAL;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	ifr.ifr_mtu = mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		ret = -errno;
	close(s);
	return ret;
}

static int key_str(struct bus_dev *d, const char *k, const char *v)
{
	char path[160];

	if (snprintf(path, sizeof(path), "%s/%s", d->be, k) >=
	    (int)sizeof(path))
		return -E2BIG;
	return store_writef(path, "%s", v);
}

int vif_setup(struct bus_dev *d, const struct be_params *p)
{
	const struct be_vif_init *v;
	uint32_t nq;
	char buf[48];
	uint8_t mac[6];
	int ret;

	if (!p || p->fds[0] < 0 ||
	    p->nr_fds != (p->vif.flags & BE_VIF_SWITCH ? 2u : 1u))
		return -EINVAL;
	v = &p->vif;
	if (!(v->flags & BE_VIF_VNET_HDR) || v->mtu < VPV_NETIF_MIN_MTU ||
	    v->mtu > VPV_NETIF_MAX_MTU || (v->rate &&
	    (v->rate < BE_VIF_RATE_MIN || v->rate > BE_VIF_RATE_MAX)) ||
	    v->max_queues > VPV_NETIF_MAX_QUEUES)
		return -EINVAL;
	nq = v->max_queues ?: VIF_QUEUES;
	memcpy(mac, v->mac, sizeof(mac));
	if (!(v->flags & BE_VIF_MAC_SET))
		vif_default_mac(d->domid, d->id, mac);
	else if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] |
				   mac[4] | mac[5]))
		return -EINVAL;
	ret = v->flags & BE_VIF_SWITCH ? 0 : tap_set_mtu(p->fds[0], v->mtu);
	if (ret)
		return ret;
	snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5]);
	ret = key_str(d, "mac", buf);
	snprintf(buf, sizeof(buf), "%u", v->mtu);
	if (!ret)
		ret = key_str(d, "mtu", buf);
	/* over vif_features' default: the back-end reads it at connect */
	snprintf(buf, sizeof(buf), "%u", nq);
	if (!ret)
		ret = key_str(d, "multi-queue-max-queues", buf);
	/*
	 * Xen's "rate" key, "BYTES,USEC": the credit per period; for the
	 * guest to see (the back-end has it from INIT)
	 */
	snprintf(buf, sizeof(buf), "%llu,%u",
		 (unsigned long long)(v->rate * BE_VIF_CREDIT_MS / 1000 ?: 1),
		 BE_VIF_CREDIT_MS * 1000);
	if (!ret && v->rate)
		ret = key_str(d, "rate", buf);
	return ret;
}
