// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: a guest's config store ring.  The input is a little
 * program: each step is an opcode byte and its operand; the bytes go
 * into the request ring, indices are set to arbitrary values, the port
 * is notified and responses consumed; other steps call the store as
 * the guest (transactions, big writes) or as the host.  Every input
 * starts a new session (NEGOTIATE + CONNECT).
 *
 * Invariants, checked after every step (abort() on a violation): the
 * guest's nodes, watches, open transactions, transaction bytes and
 * output queue stay within their bounds, and every message the host
 * puts in the response ring has a valid type and at most
 * VPV_STORE_PAYLOAD_MAX payload bytes.  Memory and time are bounded by
 * the Makefile's -rss_limit_mb and -timeout.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"

static struct guest fg;

/* the response stream as the guest would parse it */
static struct {
	struct vpv_store_msg h;
	uint32_t hgot, bgot;
	uint32_t cons;		/* how far we parsed */
	bool off;		/* indices were scribbled: stop checking */
	char body[VPV_STORE_PAYLOAD_MAX + 1];
} rs;
static uint32_t last_tx;

static uint64_t call4(uint32_t nr, uint64_t a0, uint64_t a1)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { a0, a1 };

	return hc_dispatch(&fg, nr, args);
}

static void setup(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	hc_init();
	/* RAM in a memfd, as vpv-host has it: nothing left behind */
	if (guest_init(&fg, "fz", 8 << 20, 1, VPV_SHM_MIN_SIZE, NULL))
		abort();
}

static void check_bounds(void)
{
	struct store_guest_info si;

	if (store_guest_info(fg.domid, &si))
		abort();
	if (si.nodes > VPV_STORE_NODES_MAX ||
	    si.watches > VPV_STORE_WATCHES_MAX ||
	    si.tx > VPV_STORE_TX_MAX || si.tx_bytes > STORE_TX_BYTES_MAX ||
	    si.outq > STORE_OUTQ_MAX) {
		fprintf(stderr, "store bound broken: nodes %u watches %u\n",
			si.nodes, si.watches);
		fprintf(stderr, "  tx %u tx_bytes %u outq %u\n", si.tx,
			si.tx_bytes, si.outq);
		abort();
	}
}

static void rsp_byte(char b)
{
	if (rs.hgot < sizeof(rs.h)) {
		((char *)&rs.h)[rs.hgot++] = b;
		if (rs.hgot < sizeof(rs.h))
			return;
		if (rs.h.type < VPV_STORE_DIRECTORY ||
		    rs.h.type > VPV_STORE_ERROR ||
		    rs.h.len > VPV_STORE_PAYLOAD_MAX) {
			fprintf(stderr, "bad reply: type %u len %u\n",
				rs.h.type, rs.h.len);
			abort();
		}
		rs.bgot = 0;
	} else {
		rs.body[rs.bgot++] = b;
	}
	if (rs.bgot < rs.h.len)
		return;
	rs.body[rs.bgot] = '\0';
	if (rs.h.type == VPV_STORE_TRANSACTION_START)
		last_tx = strtoul(rs.body, NULL, 10);
	rs.hgot = 0;
}

/* Take all answers, checking each message. */
static void consume(struct vpv_store_ring *r)
{
	uint32_t prod = __atomic_load_n(&r->rsp_prod, __ATOMIC_ACQUIRE);

	if (prod - rs.cons > VPV_STORE_RING_SIZE)
		rs.off = true;	/* disconnected, or our garbage */
	if (!rs.off)
		for (; rs.cons != prod; rs.cons++)
			rsp_byte(r->rsp[rs.cons % VPV_STORE_RING_SIZE]);
	__atomic_store_n(&r->rsp_cons, prod, __ATOMIC_RELEASE);
}

/* A relative path of up to 200 bytes from the input. */
static size_t take_path(const uint8_t *d, size_t n, char *path)
{
	size_t i;

	for (i = 0; i < n && i < 200 && d[i]; i++)
		path[i] = d[i];
	path[i] = '\0';
	return i < n ? i + 1 : i;
}

/* Store calls as the guest: sub-op, flags (bit 0: in last_tx), path. */
static size_t api_op(const uint8_t *d, size_t n)
{
	static char val[4000];
	uint32_t tx = 0, len;
	char path[256], *out;
	size_t used = 2;
	uint8_t sub;

	if (n < 2)
		return n;
	sub = d[0] % 9;
	if (d[1] & 1)
		tx = last_tx;
	used += take_path(d + 2, n - 2, path);
	switch (sub) {
	case 0:
		store_write(fg.domid, tx, path, val, d[1] >> 1);
		break;
	case 1:
		store_mkdir(fg.domid, tx, path);
		break;
	case 2:
		store_rm(fg.domid, tx, path);
		break;
	case 3:
		if (!store_read(fg.domid, tx, path, &out, &len))
			free(out);
		break;
	case 4:
		if (!store_directory(fg.domid, tx, path, &out, &len))
			free(out);
		break;
	case 5:
		store_tx_start(fg.domid, &last_tx);
		break;
	case 6:
	case 7:
		store_tx_end(fg.domid, last_tx, sub == 6);
		break;
	case 8:	/* a stream of 4000-byte writes, as an attacker would */
		for (len = 0; len < 8u * (d[1] >> 1); len++) {
			snprintf(path, sizeof(path), "s/%u", len);
			store_write(fg.domid, tx, path, val, sizeof(val));
		}
		break;
	}
	return used;
}

/* The host writes a node the guest may read. */
static size_t host_op(const uint8_t *d, size_t n)
{
	char path[256], rel[256];
	uint32_t reader = fg.domid;
	size_t used = take_path(d, n, rel);

	snprintf(path, sizeof(path), "/local/domain/0/fz/%s", rel);
	if (!store_write(STORE_DOMID_HOST, 0, path, rel, strlen(rel)))
		store_set_perms(path, STORE_DOMID_HOST, &reader, 1);
	return used;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct vpv_store_ring *r;
	uint32_t port, v;
	size_t i = 0, n;

	setup();
	r = (struct vpv_store_ring *)(fg.shm + VPV_STORE_OFFSET);
	store_rm(STORE_DOMID_HOST, 0, "/local/domain/0/fz");
	call4(VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES);
	port = call4(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST);
	call4(VPV_HC_STORE_OP, VPV_STOREOP_CONNECT, port);
	memset(&rs, 0, sizeof(rs));
	last_tx = 0;
	while (i < size) {
		uint8_t op = data[i++];

		switch (op % 8) {
		case 0:	/* produce n bytes */
			n = i < size ? data[i++] : 0;
			if (n > size - i)
				n = size - i;
			for (v = r->req_prod; n; n--, v++)
				r->req[v % VPV_STORE_RING_SIZE] = data[i++];
			__atomic_store_n(&r->req_prod, v, __ATOMIC_RELEASE);
			break;
		case 1:
			call4(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port);
			break;
		case 2:	/* arbitrary index */
		case 3:
			v = 0;
			n = size - i < 4 ? size - i : 4;
			memcpy(&v, data + i, n);
			i += n;
			if (op % 8 == 2) {
				r->req_prod = v;
			} else {
				r->rsp_cons = v;
				rs.off = true;
			}
			break;
		case 4:	/* consume all answers */
			consume(r);
			break;
		case 5:
			i += api_op(data + i, size - i);
			break;
		case 6:
			i += host_op(data + i, size - i);
			break;
		case 7:	/* the guest's relative-path nodes go */
			store_rm(fg.domid, 0, "s");
			break;
		}
		check_bounds();
	}
	call4(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port);
	consume(r);
	check_bounds();
	return 0;
}
