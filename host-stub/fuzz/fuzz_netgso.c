// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: vpv-netback's software TCP segmentation (net_gso_segment(),
 * backend/netback.c), what it does to a GSO frame a switch port brings
 * for a front-end that does not take GSO: the frame comes from another
 * guest's netback, so any bytes.  The input: a byte (bit 0: the GSO
 * type, TCPv4 or TCPv6), gso_size (2 bytes, little endian), then the
 * frame, handed over from a heap copy of exactly its size (ASan: no
 * read past it).  Checked: the result is -EINVAL with nothing emitted,
 * or the number of segments emitted (at most NET_GSO_SEGS_MAX); each
 * segment at most NET_FRAME_MAX bytes and at most the frame's length,
 * its Ethernet header the frame's, an IPv4 segment's header checksum
 * right; the segments hold the frame's bytes at least once
 * (their lengths add up to the frame's or more: the headers repeat).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netback.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "fuzz_netgso: %s (line %d)\n",	\
				#cond, __LINE__);			\
			abort();					\
		}							\
	} while (0)

struct seen {
	const uint8_t *frame;
	uint32_t len, n;
	uint64_t bytes;
};

static uint32_t fold(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0, i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

static void emit(void *ctx, const uint8_t *seg, uint32_t len)
{
	struct seen *a = ctx;

	CHECK(len <= NET_FRAME_MAX && len <= a->len && len >= 14 + 40);
	CHECK(!memcmp(seg, a->frame, 14));
	if (seg[12] == 0x08)
		CHECK(fold(seg + 14, (seg[14] & 0xf) * 4u) == 0xffff);
	a->n++;
	a->bytes += len;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct seen a = { 0 };
	uint8_t *f;
	uint32_t len;
	int ret;

	if (size < 3 || size - 3 > NET_FRAME_MAX)
		return 0;
	len = size - 3;
	f = malloc(len ? len : 1);
	CHECK(f);
	memcpy(f, data + 3, len);
	a.frame = f;
	a.len = len;
	ret = net_gso_segment(f, len, (data[0] & 1) ? VPV_NETIF_GSO_TCPV6 :
				      VPV_NETIF_GSO_TCPV4,
			      (uint16_t)(data[1] | data[2] << 8), emit, &a);
	CHECK(ret == -EINVAL || ret > 0);
	CHECK(ret < 0 ? a.n == 0 : (uint32_t)ret == a.n);
	CHECK(ret <= (int)NET_GSO_SEGS_MAX);
	if (ret > 0)
		CHECK(a.bytes >= len);
	free(f);
	return 0;
}
