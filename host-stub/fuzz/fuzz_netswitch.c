// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: vpv-netswitch's frame check and forwarding decision
 * (nsw_decide(), backend/netswitch.c) over packets as a compromised
 * vpv-netback could write them on its port.  The input is a sequence
 * of records: a port byte (its low 2 bits: one of 4 ports; bit 7: the
 * port is removed and added again first), a time step byte (ms, x 4096
 * with bit 7 of it: ageing comes into play), a length (2 bytes, little
 * endian, cut to what is left), then that many bytes: the packet,
 * handed over from a heap copy of exactly its size (ASan: no read past
 * it).  Checked after each: the verdict is NSW_BAD exactly when
 * nsw_frame_check() refuses it, and an accepted packet obeys the rules
 * re-checked here from its bytes; a unicast goes to another used port
 * which holds the destination, a flood is for a group address or one
 * no port holds fresh, a local drop's destination is on the source
 * port; no MAC is learned on two ports, none more than
 * NSW_MACS_PER_PORT on one; each port's counters add up (in = bad +
 * unicast + flooded + local).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "netswitch.h"

#define NPORTS	4u

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_netswitch: %s (line %d)\n", \
				#cond, __LINE__);			\
			abort();					\
		}							\
	} while (0)

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* The rules of nsw_frame_check(), written again from netswitch.h. */
static bool rules_ok(const uint8_t *b, size_t n)
{
	const uint8_t *src = b + NSW_VNET_HDR + 6;
	uint8_t fl, gso;
	size_t len;
	bool csum;

	if (n < NSW_VNET_HDR + 14 || n > NSW_PKT_MAX)
		return false;
	len = n - NSW_VNET_HDR;
	fl = b[0];
	gso = b[1];
	csum = fl & VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (fl & ~3u || fl == 3)
		return false;
	if (csum && (le16(b + 6) < 14 ||
		     (size_t)le16(b + 6) + le16(b + 8) + 2 > len))
		return false;
	if (!csum && (le16(b + 6) || le16(b + 8)))
		return false;
	if (gso == 1 || gso == 4) {
		if (!csum || le16(b + 4) < 48 || le16(b + 4) > 9000)
			return false;
	} else if (gso || le16(b + 4) || len > 9018) {
		return false;
	}
	if (le16(b + 2) > len)
		return false;
	return !(src[0] & 1) && (src[0] | src[1] | src[2] | src[3] | src[4] |
				 src[5]);
}

/* Which port holds key fresh at now (-1: none), checking uniqueness. */
static int holder(const struct nsw *s, uint64_t key, uint64_t now)
{
	int found = -1;
	uint32_t i, j;

	for (i = 0; i < NPORTS; i++)
		for (j = 0; j < NSW_MACS_PER_PORT; j++)
			if (s->port[i].mac[j] == key &&
			    now - s->port[i].seen_ms[j] < NSW_MAC_AGE_MS) {
				CHECK(found < 0);	/* on one port only */
				found = i;
			}
	return found;
}

/* Counters of each port as they must add up. */
static uint64_t in[NPORTS], bad[NPORTS], uni[NPORTS], fl[NPORTS];
static uint64_t loc[NPORTS];

static void forget(uint32_t p)
{
	in[p] = 0;
	bad[p] = 0;
	uni[p] = 0;
	fl[p] = 0;
	loc[p] = 0;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static struct nsw s;
	uint64_t now = 1000000;
	size_t pos = 0;
	uint32_t i;

	memset(&s, 0, sizeof(s));
	memset(in, 0, sizeof(in));
	memset(bad, 0, sizeof(bad));
	memset(uni, 0, sizeof(uni));
	memset(fl, 0, sizeof(fl));
	memset(loc, 0, sizeof(loc));
	for (i = 0; i < NPORTS; i++) {
		s.port[i].used = true;
		s.port[i].fd = -1;
		s.port[i].id = i + 1;
	}
	while (pos + 4 <= size) {
		uint32_t p = data[pos] % NPORTS, dst = ~0u;
		uint8_t step = data[pos + 1];
		size_t n = le16(data + pos + 2);
		enum nsw_verdict v;
		uint8_t *b;
		int h;

		if (data[pos] & 0x80) {
			nsw_port_reset(&s, p);
			forget(p);
		}
		now += step & 0x80 ? (uint64_t)(step & 0x7f) * 4096 : step;
		pos += 4;
		if (n > size - pos)
			n = size - pos;
		b = malloc(n ? n : 1);
		CHECK(b);
		memcpy(b, data + pos, n);
		pos += n;
		v = nsw_decide(&s, p, b, n, now, &dst);
		in[p]++;
		CHECK((v == NSW_BAD) == (nsw_frame_check(b, n) != 0));
		if (v == NSW_BAD) {
			CHECK(!rules_ok(b, n));
			bad[p]++;
			free(b);
			goto counters;
		}
		CHECK(rules_ok(b, n));
		/* the source is learned on p now */
		CHECK(holder(&s, nsw_mac_key(b + NSW_VNET_HDR + 6), now) ==
		      (int)p);
		h = holder(&s, nsw_mac_key(b + NSW_VNET_HDR), now);
		switch (v) {
		case NSW_UNICAST:
			CHECK(!(b[NSW_VNET_HDR] & 1));
			CHECK(dst < NPORTS && dst != p && (int)dst == h);
			uni[p]++;
			break;
		case NSW_LOCAL:
			CHECK(!(b[NSW_VNET_HDR] & 1) && h == (int)p);
			loc[p]++;
			break;
		case NSW_FLOOD:
			CHECK((b[NSW_VNET_HDR] & 1) || h < 0);
			fl[p]++;
			break;
		default:
			CHECK(0);
		}
		free(b);
counters:
		for (i = 0; i < NPORTS; i++) {
			const struct nsw_port_stats *st = &s.port[i].st;

			CHECK(nsw_port_macs(&s, i) <= NSW_MACS_PER_PORT);
			CHECK(st->in == in[i] && st->bad == bad[i] &&
			      st->unicast == uni[i] && st->flooded == fl[i] &&
			      st->local == loc[i]);
			CHECK(st->in == st->bad + st->unicast + st->flooded +
			      st->local);
		}
	}
	return 0;
}
