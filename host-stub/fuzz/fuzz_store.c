// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer: a guest's config store ring.  The input is a little
 * program: each step is an opcode byte and its operand; the bytes go
 * into the request ring, indices are set to arbitrary values, the port
 * is notified and responses consumed.  Every input starts a new
 * session (NEGOTIATE + CONNECT).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vpv_host.h"

static struct guest fg;

static uint64_t call4(uint32_t nr, uint64_t a0, uint64_t a1)
{
	const uint64_t args[VPV_HC_NR_ARGS] = { a0, a1 };

	return hc_dispatch(&fg, nr, args);
}

static void setup(void)
{
	char dir[] = "/tmp/vpv-fuzz-XXXXXX";
	static bool done;

	if (done)
		return;
	done = true;
	hc_init();
	if (!mkdtemp(dir) ||
	    guest_init(&fg, "fz", 8 << 20, 1, VPV_SHM_MIN_SIZE, dir))
		abort();
	unlink(fg.ram_path);	/* still mapped */
	rmdir(dir);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct vpv_store_ring *r;
	uint32_t port, v;
	size_t i = 0, n;

	setup();
	r = (struct vpv_store_ring *)(fg.shm + VPV_STORE_OFFSET);
	call4(VPV_HC_NEGOTIATE, VPV_ABI_VERSION, VPV_HOST_FEATURES);
	port = call4(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_ALLOC, VPV_DOMID_HOST);
	call4(VPV_HC_STORE_OP, VPV_STOREOP_CONNECT, port);
	while (i < size) {
		uint8_t op = data[i++];

		switch (op % 5) {
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
			if (op % 5 == 2)
				r->req_prod = v;
			else
				r->rsp_cons = v;
			break;
		case 4:	/* consume all answers */
			r->rsp_cons = r->rsp_prod;
			break;
		}
	}
	call4(VPV_HC_EVTCHN_OP, VPV_EVTCHNOP_SEND, port);
	return 0;
}
