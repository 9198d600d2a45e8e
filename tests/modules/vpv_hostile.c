// SPDX-License-Identifier: GPL-2.0
/*
 * vpv_hostile: a hostile guest.  Throws every malformed request a guest
 * can make through the hypercall interface and the shared region at
 * the host stub, checks that each one gets the error that
 * Documentation/abi.rst documents, and that the host keeps serving the
 * guest afterwards.  Runs on load, writes KTAP-style results to
 * /sys/kernel/debug/vpv_hostile/results and stays loaded (returns 0).
 *
 * The module writes only into the shared region (BAR2) and into its own
 * kmalloc'ed buffers.  A request that would make the host write guest
 * memory (a multicall writes every entry's result back) only ever names
 * a buffer of this module; addresses of other guest memory are only
 * passed to VPV_HC_MEMCHK, which reads.  Grant copies only ever write
 * into this module's buffers and into a page it granted to itself; the
 * grants of other guests (module parameter victims) are only probed, and
 * the host must refuse every copy from and to them.  Run it with no
 * other pvkit module loaded: the negotiate test renegotiates, which
 * closes every event channel of the guest.
 *
 * The last test takes the config store ring away from vhypercall's
 * client (VPV_STOREOP_CONNECT on a port of its own) and breaks it on
 * purpose: the store of this guest stays unusable (-EIO) until
 * vhypercall is reloaded.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <pvkit/vbus.h>
#include <pvkit/vhypercall.h>

#include "hypercall/vhypercall_logic.h"
#include "pvkit_ktap.h"

#define HV_TIMEOUT	msecs_to_jiffies(5000)
#define NOP_MASK	0x7fffffffffffffffULL
#define HV_SENTINEL	(-0x5a5a5a5aLL)
#define HV_GPA_4G	0x100000000ULL
#define HV_PCI_HOLE	0xfee00000ULL	/* the local APIC, never RAM */

static unsigned int flood = 2000;
module_param(flood, uint, 0444);
MODULE_PARM_DESC(flood, "Event channel notifications per flood (default 2000)");

static unsigned int pings = 10000;
module_param(pings, uint, 0444);
MODULE_PARM_DESC(pings, "Raw pings in the raw ping flood (default 10000)");

static unsigned int victims[8];
static unsigned int nr_victims;
module_param_array(victims, uint, &nr_victims, 0444);
MODULE_PARM_DESC(victims, "Domain ids of other guests, whose grants must stay out of reach");

static unsigned int victim_ms;
module_param(victim_ms, uint, 0444);
MODULE_PARM_DESC(victim_ms, "Keep probing the victims' grants this long (default 0: once)");

static struct vpv_shared_header *hv_hdr(void)
{
	return vpv_shared_base(NULL);
}

static long hv_hc(unsigned int nr, u64 a0, u64 a1, u64 a2)
{
	const u64 args[VPV_HC_NR_ARGS] = { a0, a1, a2 };

	return vpv_hypercall(nr, args);
}

/* One NOP round trip with a value of its own: the host still serves. */
static bool hv_alive(const char *what)
{
	u64 v = get_random_u64();

	return kt_check(vpv_hypercall2(VPV_HC_NOP, v, ~v) == (long)(v & NOP_MASK),
			"%s: NOP round trip failed", what);
}

/* Guest RAM facts from the header, read before anything scribbles it. */
static u64 hv_ram_size;
static u64 hv_lowmem;		/* RAM below 4 GiB: [0, hv_lowmem) */
static u64 hv_ram_end;		/* first GPA after the last RAM byte */
static u32 hv_nr_ports;
static u32 hv_nr_slots;
static u32 hv_slot_offset;
static u32 hv_slot_size;
static u32 hv_evt_offset;
static u32 hv_gnt_nr;
static u32 hv_gnt_offset;
static u32 hv_store_offset;
static u32 hv_domid;
static size_t hv_shm_size;

/* Documentation/abi.rst, "Guest memory": QEMU's q35 layout. */
static void hv_layout(void)
{
	struct vpv_shared_header *hdr = vpv_shared_base(&hv_shm_size);
	u64 lowmem;

	hv_ram_size = READ_ONCE(hdr->guest_ram_size);
	lowmem = hv_ram_size >= 0xb0000000ULL ? 0x80000000ULL : 0xb0000000ULL;
	if (hv_ram_size > lowmem) {
		hv_lowmem = lowmem;
		hv_ram_end = HV_GPA_4G + hv_ram_size - lowmem;
	} else {
		hv_lowmem = hv_ram_size;
		hv_ram_end = hv_ram_size;
	}
	hv_nr_ports = READ_ONCE(hdr->evtchn_nr_ports);
	hv_nr_slots = READ_ONCE(hdr->nr_slots);
	hv_slot_offset = READ_ONCE(hdr->slot_offset);
	hv_slot_size = READ_ONCE(hdr->slot_size);
	hv_evt_offset = READ_ONCE(hdr->evtchn_offset);
	hv_gnt_nr = READ_ONCE(hdr->gnttab_nr);
	hv_gnt_offset = READ_ONCE(hdr->gnttab_offset);
	hv_store_offset = READ_ONCE(hdr->store_offset);
	hv_domid = READ_ONCE(hdr->domid);
}

static struct vpv_multicall_entry *hv_entries(unsigned int n)
{
	return kcalloc(n, sizeof(struct vpv_multicall_entry), GFP_KERNEL);
}

static void hv_fill_nops(struct vpv_multicall_entry *e, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		e[i].op = VPV_HC_NOP;
		e[i].flags = 0;
		e[i].args[0] = get_random_u64();
		e[i].args[1] = i;
		e[i].result = HV_SENTINEL;
	}
}

static bool hv_nops_ok(struct vpv_multicall_entry *e, unsigned int n,
		       const char *what)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!kt_check(e[i].result == (s64)(e[i].args[0] & NOP_MASK),
			      "%s: entry %u result %lld", what, i,
			      e[i].result))
			return false;
	return true;
}

/* No result field of e[0..n) was written. */
static bool hv_untouched(struct vpv_multicall_entry *e, unsigned int n,
			 const char *what)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!kt_check(e[i].result == HV_SENTINEL,
			      "%s: host wrote entry %u (%lld) of a refused call",
			      what, i, e[i].result))
			return false;
	return true;
}

/* ---------------------------------------------------------------- */
/* 1. Raw hypercalls with hostile arguments                          */

static int t_mc_args(void)
{
	const unsigned int n = 4;
	struct vpv_multicall_entry *e;
	unsigned int max = vpv_multicall_max();
	u64 gpa, a0;
	const struct {
		bool rel;	/* gpa is an offset into the buffer */
		u64 gpa;
		u64 count, flags;
		long want;
		const char *what;
	} cases[] = {
		{ false, HV_PCI_HOLE, 1, 0, -VPV_EFAULT, "gpa in the PCI hole" },
		{ false, ~0ULL - 63, 1, 0, -VPV_EFAULT, "gpa ~0 - 63" },
		{ false, ~0ULL - 63, 2, 0, -VPV_EFAULT, "gpa ~0 - 63, wrapping" },
		{ false, ~0ULL & ~7ULL, 1, 0, -VPV_EFAULT, "gpa ~7" },
		{ false, hv_ram_end, 1, 0, -VPV_EFAULT, "gpa at the end of RAM" },
		{ false, hv_ram_end + 64, 1, 0, -VPV_EFAULT,
		  "gpa past the end of RAM" },
		{ false, 1ULL << 63, 1, 0, -VPV_EFAULT, "gpa 2^63" },
		{ true, 0, ~0ULL, 0, -VPV_E2BIG, "count ~0" },
		{ true, 0, 1ULL << 32, 0, -VPV_E2BIG, "count 2^32" },
		{ true, 0, (1ULL << 32) | 1, 0, -VPV_E2BIG, "count 2^32 + 1" },
		{ true, 0, (1ULL << 58) | 1, 0, -VPV_E2BIG,
		  "count 2^58 + 1 (size wraps to 64)" },
		{ true, 0, 1ULL << 63, 0, -VPV_E2BIG, "count 2^63" },
		{ true, 0, max + 1, 0, -VPV_E2BIG, "count multicall_max + 1" },
		{ true, 0, VPV_MULTICALL_MAX + 1, 0, -VPV_E2BIG,
		  "count VPV_MULTICALL_MAX + 1" },
		{ true, 0, 0, 0, -VPV_EINVAL, "count 0" },
		{ true, 4, 1, 0, -VPV_EFAULT, "gpa + 4 (misaligned)" },
		{ true, 1, 1, 0, -VPV_EFAULT, "gpa + 1 (misaligned)" },
		{ true, 0, 1, ~0ULL, -VPV_EINVAL, "flags ~0" },
		{ true, 0, 1, 2, -VPV_EINVAL, "flags 2" },
		{ true, 0, 1, 1ULL << 32, -VPV_EINVAL, "flags 2^32" },
		{ true, 0, 1, 1ULL << 63, -VPV_EINVAL, "flags 2^63" },
	};
	char what[80];
	unsigned int i;
	long ret;

	if (!max)
		return kt_skip("multicall not negotiated");
	e = hv_entries(n);
	if (!kt_check(e, "no memory"))
		return 0;
	gpa = virt_to_phys(e);
	kt_out("# %s: guest_ram_size %#llx, RAM ends at GPA %#llx, multicall_max %u\n",
	       kt_name, hv_ram_size, hv_ram_end, max);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		hv_fill_nops(e, n);
		a0 = cases[i].gpa;
		if (cases[i].rel)
			a0 += gpa;
		ret = hv_hc(VPV_HC_MULTICALL, a0, cases[i].count,
			    cases[i].flags);
		snprintf(what, sizeof(what), "MULTICALL %s", cases[i].what);
		kt_eq(ret, cases[i].want, what);
		hv_untouched(e, n, what);
	}
	/* the same buffer, correctly described, works */
	hv_fill_nops(e, n);
	if (kt_eq(hv_hc(VPV_HC_MULTICALL, gpa, n, 0), n, "MULTICALL valid"))
		hv_nops_ok(e, n, "MULTICALL valid");
	kfree(e);
	return 0;
}

/*
 * A multicall array full of garbage: each bad entry gets its own error,
 * the good ones run, and the call returns the number executed.
 */
enum { MC_GARBAGE_N = 24 };

static void hv_bad(struct vpv_multicall_entry *e, long *want, u32 op,
		   long result)
{
	e->op = op;
	*want = result;
}

static int t_mc_garbage(void)
{
	struct vpv_multicall_entry *e, *copy;
	long want[MC_GARBAGE_N];
	unsigned int i;
	u8 *data;
	long ret;

	if (!vpv_multicall_max())
		return kt_skip("multicall not negotiated");
	if (vpv_multicall_max() < MC_GARBAGE_N)
		return kt_skip("multicall_max too small");
	e = hv_entries(MC_GARBAGE_N);
	copy = hv_entries(MC_GARBAGE_N);
	data = kmalloc(512, GFP_KERNEL);
	if (!kt_check(e && copy && data, "no memory"))
		goto out;
	get_random_bytes(data, 512);

	hv_fill_nops(e, MC_GARBAGE_N);
	for (i = 0; i < MC_GARBAGE_N; i++)
		want[i] = e[i].args[0] & NOP_MASK;

	hv_bad(&e[0], &want[0], 0xffffffff, -VPV_ENOSYS);
	/* nested: must not run, so it cannot write our array either */
	hv_bad(&e[1], &want[1], VPV_HC_MULTICALL, -VPV_EINVAL);
	e[1].args[0] = virt_to_phys(e);
	e[1].args[1] = 1;
	hv_bad(&e[2], &want[2], VPV_HC_MEMORY_OP, -VPV_ENOSYS);
	hv_bad(&e[3], &want[3], 15, -VPV_ENOSYS);
	hv_bad(&e[4], &want[4], VPV_HC_MAX, -VPV_ENOSYS);	/* never reaches it singly */
	hv_bad(&e[5], &want[5], 0x80000000, -VPV_ENOSYS);
	/* NOP with entry flags set */
	e[6].flags = 0xdeadbeef;
	want[6] = -VPV_EINVAL;
	hv_bad(&e[7], &want[7], VPV_HC_MEMCHK, -VPV_EFAULT);
	e[7].args[0] = HV_PCI_HOLE;
	e[7].args[1] = 16;
	hv_bad(&e[8], &want[8], VPV_HC_MEMCHK, -VPV_E2BIG);
	e[8].args[1] = ~0ULL;
	hv_bad(&e[9], &want[9], VPV_HC_EVTCHN_OP, -VPV_ENOSYS);
	e[9].args[0] = 999;
	hv_bad(&e[10], &want[10], VPV_HC_EVTCHN_OP, -VPV_EINVAL);
	e[10].args[0] = VPV_EVTCHNOP_STATUS;
	e[10].args[1] = 1ULL << 40;
	hv_bad(&e[11], &want[11], VPV_HC_NEGOTIATE, -VPV_EPROTO);
	e[11].args[0] = ~0ULL;
	hv_bad(&e[12], &want[12], VPV_HC_MEMCHK, vpv_fnv1a32(data, 512));
	e[12].args[0] = virt_to_phys(data);
	e[12].args[1] = 512;
	hv_bad(&e[13], &want[13], VPV_HC_MULTICALL, -VPV_EINVAL);
	e[13].args[0] = ~0ULL;
	e[13].args[1] = ~0ULL;
	e[13].args[2] = ~0ULL;
	e[13].flags = 1;
	/* ALLOC with a remote that truncates to VPV_DOMID_HOST */
	hv_bad(&e[14], &want[14], VPV_HC_EVTCHN_OP, -VPV_EINVAL);
	e[14].args[0] = VPV_EVTCHNOP_ALLOC;
	e[14].args[1] = (1ULL << 32) | VPV_DOMID_HOST;
	/* 15..23: random garbage numbers 10..15 with random arguments */
	for (i = 15; i < MC_GARBAGE_N; i += 2) {
		hv_bad(&e[i], &want[i], 10 + get_random_u32() % 6, -VPV_ENOSYS);
		get_random_bytes(e[i].args, sizeof(e[i].args));
	}

	memcpy(copy, e, MC_GARBAGE_N * sizeof(*e));
	ret = vpv_multicall(e, MC_GARBAGE_N, 0);
	kt_eq(ret, MC_GARBAGE_N, "garbage multicall executed");
	for (i = 0; i < MC_GARBAGE_N; i++) {
		kt_check(e[i].result == want[i],
			 "entry %u (op %#x): result %lld, want %ld", i,
			 e[i].op, e[i].result, want[i]);
		copy[i].result = e[i].result;
	}
	/* only the result fields are written back */
	kt_check(!memcmp(copy, e, MC_GARBAGE_N * sizeof(*e)),
		 "host wrote more than the result fields");

	/* STOP_ON_ERROR: entry 0 fails, everything after is -EAGAIN */
	for (i = 0; i < MC_GARBAGE_N; i++)
		e[i].result = HV_SENTINEL;
	ret = vpv_multicall(e, MC_GARBAGE_N, VPV_MC_STOP_ON_ERROR);
	kt_eq(ret, 1, "garbage multicall, STOP_ON_ERROR");
	kt_eq(e[0].result, -VPV_ENOSYS, "first entry, STOP_ON_ERROR");
	for (i = 1; i < MC_GARBAGE_N; i++)
		if (!kt_eq(e[i].result, -VPV_EAGAIN, "later entry, STOP_ON_ERROR"))
			break;
	hv_alive("after garbage multicall");
out:
	kfree(data);
	kfree(copy);
	kfree(e);
	return 0;
}

static int t_memchk_args(void)
{
	const struct {
		u64 gpa, len;
		long want;
		const char *what;
	} cases[] = {
		{ hv_ram_end - 16, 32, -VPV_EFAULT, "straddling the end of RAM" },
		{ hv_ram_end - 1, 2, -VPV_EFAULT, "last byte + 1" },
		{ hv_ram_end, 1, -VPV_EFAULT, "first byte after RAM" },
		{ HV_PCI_HOLE, 16, -VPV_EFAULT, "PCI hole" },
		{ 0, ~0ULL, -VPV_E2BIG, "len ~0" },
		{ 0, (1ULL << 32) | 1, -VPV_E2BIG, "len 2^32 + 1" },
		{ 0, VPV_MEMCHK_MAX + 1, -VPV_E2BIG, "len VPV_MEMCHK_MAX + 1" },
		{ 0, 0, -VPV_EINVAL, "len 0" },
		{ ~0ULL - 15, 32, -VPV_EFAULT, "gpa + len wraps past 2^64" },
		{ ~0ULL, 1, -VPV_EFAULT, "gpa ~0" },
		{ ~0ULL, VPV_MEMCHK_MAX, -VPV_EFAULT, "gpa ~0, len max" },
		{ 1ULL << 63, 4096, -VPV_EFAULT, "gpa 2^63" },
		{ HV_GPA_4G - 8, 16, -VPV_EFAULT, "straddling 4 GiB" },
	};
	unsigned int i;
	char what[80];
	long ret;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(what, sizeof(what), "MEMCHK %s", cases[i].what);
		kt_eq(hv_hc(VPV_HC_MEMCHK, cases[i].gpa, cases[i].len, 0),
		      cases[i].want, what);
	}
	if (hv_lowmem < hv_ram_size)
		/* RAM split at 2 GiB: a range running into the PCI hole */
		kt_eq(hv_hc(VPV_HC_MEMCHK, hv_lowmem - 16, 32, 0), -VPV_EFAULT,
		      "MEMCHK straddling the end of low RAM");
	else
		/* one block: guest_ram_size is the first GPA after it */
		kt_eq(hv_hc(VPV_HC_MEMCHK, hv_ram_size, 4096, 0), -VPV_EFAULT,
		      "MEMCHK gpa = guest_ram_size");

	/* the edges themselves are RAM (read only: MEMCHK never writes) */
	ret = hv_hc(VPV_HC_MEMCHK, 0, 4096, 0);
	kt_check(ret >= 0 && ret <= U32_MAX, "MEMCHK(0, 4096) = %ld", ret);
	ret = hv_hc(VPV_HC_MEMCHK, hv_ram_end - 4096, 4096, 0);
	kt_check(ret >= 0 && ret <= U32_MAX, "MEMCHK(last page) = %ld", ret);
	ret = hv_hc(VPV_HC_MEMCHK, hv_ram_end - 1, 1, 0);
	kt_check(ret >= 0 && ret <= U32_MAX, "MEMCHK(last byte) = %ld", ret);
	hv_alive("after MEMCHK");
	return 0;
}

static atomic_t hv_hits;
static atomic_t hv_wrong_port;
static DECLARE_WAIT_QUEUE_HEAD(hv_wq);

struct hv_port {
	int port;
};

static void hv_handler(unsigned int port, void *data)
{
	struct hv_port *p = data;

	if (READ_ONCE(p->port) != port)
		atomic_inc(&hv_wrong_port);
	atomic_inc(&hv_hits);
	wake_up(&hv_wq);
}

static bool hv_hits_reached(int want)
{
	return atomic_read(&hv_hits) >= want;
}

static bool hv_evtchn_ok(void)
{
	return vpv_features() & VPV_F_EVTCHN;
}

/* Allocate a port with hv_handler; with echo, bind the echo service. */
static int hv_port_open(struct hv_port *p, bool echo)
{
	int port;

	WRITE_ONCE(p->port, -1);
	port = vpv_evtchn_alloc(VPV_DOMID_HOST, hv_handler, p);
	if (!kt_check(port > 0, "vpv_evtchn_alloc: %d", port))
		return -EIO;
	WRITE_ONCE(p->port, port);
	if (echo && !kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_BIND_ECHO, port, 0), 0,
			   "BIND_ECHO")) {
		vpv_evtchn_close(port);
		return -EIO;
	}
	return 0;
}

static int t_evtchn_args(void)
{
	unsigned int nr = hv_nr_ports;
	u64 never = nr - 1;	/* ports are handed out lowest first */
	struct hv_port p;
	int base;

	if (!hv_evtchn_ok())
		return kt_skip("event channels not negotiated");

	/* unknown sub-commands, also ones that truncate to a valid one */
	kt_eq(vpv_evtchn_op(999, 1, 1), -VPV_ENOSYS, "cmd 999");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE + 1, 1, 1), -VPV_ENOSYS,
	      "cmd FIRE + 1");
	kt_eq(hv_hc(VPV_HC_EVTCHN_OP, ~0ULL, 1, 1), -VPV_ENOSYS, "cmd ~0");
	kt_eq(hv_hc(VPV_HC_EVTCHN_OP, (1ULL << 32) | VPV_EVTCHNOP_STATUS, 1, 0),
	      -VPV_ENOSYS, "cmd 2^32 + STATUS");

	/* ports outside 1 .. nr_ports - 1 */
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, 0, 0), -VPV_EINVAL,
	      "STATUS port 0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_CLOSE, 0, 0), -VPV_EINVAL,
	      "CLOSE port 0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_SEND, 0, 0), -VPV_EINVAL,
	      "SEND port 0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, 0, 1), -VPV_EINVAL,
	      "FIRE port 0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, (u64)-1, 0), -VPV_EINVAL,
	      "STATUS port -1");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_BIND_ECHO, (u64)-1, 0), -VPV_EINVAL,
	      "BIND_ECHO port -1");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, VPV_EVTCHN_MAX_PORTS, 0),
	      -VPV_EINVAL, "STATUS port 4096");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_SEND, VPV_EVTCHN_MAX_PORTS, 0),
	      -VPV_EINVAL, "SEND port 4096");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, nr, 0), -VPV_EINVAL,
	      "STATUS port evtchn_nr_ports");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, 1ULL << 40, 0), -VPV_EINVAL,
	      "STATUS port 2^40");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_CLOSE, 1ULL << 40, 0), -VPV_EINVAL,
	      "CLOSE port 2^40");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, (1ULL << 32) | 1, 1),
	      -VPV_EINVAL, "FIRE port 2^32 + 1");

	/* ALLOC with a remote that is not the host (or truncates to it) */
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_ALLOC, 0, 0), -VPV_EINVAL,
	      "ALLOC remote 0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_ALLOC, ~0ULL, 0), -VPV_EINVAL,
	      "ALLOC remote ~0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_ALLOC, (1ULL << 32) | VPV_DOMID_HOST,
			    0), -VPV_EINVAL, "ALLOC remote 2^32 + DOMID_HOST");

	/* a port that was never allocated */
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, never, 0),
	      VPV_EVTCHN_STAT_CLOSED, "STATUS of a never allocated port");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_CLOSE, never, 0), -VPV_ENOENT,
	      "CLOSE of a never allocated port");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_BIND_ECHO, never, 0), -VPV_ENOENT,
	      "BIND_ECHO of a never allocated port");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_SEND, never, 0), -VPV_ENOENT,
	      "SEND on a never allocated port");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, never, 1), -VPV_ENOENT,
	      "FIRE on a never allocated port");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, never, 0),
	      VPV_EVTCHN_STAT_CLOSED, "STATUS after the bad calls");

	/* FIRE counts outside 1..65536 on a real port: nothing is raised */
	if (hv_port_open(&p, false))
		return 0;
	base = atomic_read(&hv_hits);
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, p.port, 0), -VPV_EINVAL,
	      "FIRE count 0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, p.port, 65537), -VPV_EINVAL,
	      "FIRE count 65537");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, p.port, ~0ULL), -VPV_EINVAL,
	      "FIRE count ~0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, p.port, (1ULL << 32) | 1),
	      -VPV_EINVAL, "FIRE count 2^32 + 1");
	msleep(20);
	kt_eq(atomic_read(&hv_hits) - base, 0, "events after bad FIRE");
	/* binding twice */
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_BIND_ECHO, p.port, 0), 0,
	      "BIND_ECHO");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_BIND_ECHO, p.port, 0), -VPV_EEXIST,
	      "BIND_ECHO twice");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, p.port, 0),
	      VPV_EVTCHN_STAT_ECHO, "STATUS after BIND_ECHO twice");
	vpv_evtchn_close(p.port);
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_CLOSE, p.port, 0), -VPV_ENOENT,
	      "CLOSE twice");
	hv_alive("after EVTCHN_OP");
	return 0;
}

static int t_hc_numbers(void)
{
	static const struct {
		unsigned int nr;
		u64 feature;
	} reserved[] = {
		{ VPV_HC_MEMORY_OP, VPV_F_BALLOON },
		{ VPV_HC_MMU_UPDATE, VPV_F_PVMMU },
		{ VPV_HC_MMUEXT_OP, VPV_F_PVMMU },
		{ VPV_HC_GRANT_TABLE_OP, VPV_F_GRANT },
		{ VPV_HC_STORE_OP, VPV_F_STORE },
	};
	u64 f = vpv_features();
	unsigned int nr, i;
	char what[40];

	for (nr = VPV_HC_MEMORY_OP; nr < VPV_HC_MAX; nr++) {
		for (i = 0; i < ARRAY_SIZE(reserved); i++)
			if (reserved[i].nr == nr && (f & reserved[i].feature))
				break;
		if (i < ARRAY_SIZE(reserved)) {
			kt_out("# %s: %u implemented, not probed\n", kt_name, nr);
			continue;
		}
		snprintf(what, sizeof(what), "hypercall %u", nr);
		kt_eq(hv_hc(nr, ~0ULL, ~0ULL, ~0ULL), -VPV_ENOSYS, what);
		kt_eq(hv_hc(nr, 0, 0, 0), -VPV_ENOSYS, what);
	}
	/* refused by the guest driver before the host sees them */
	kt_eq(hv_hc(VPV_HC_MAX, 0, 0, 0), -EINVAL, "hypercall 16 (local)");
	kt_eq(hv_hc(~0U, 0, 0, 0), -EINVAL, "hypercall ~0 (local)");
	hv_alive("after unknown numbers");
	return 0;
}

static int t_negotiate_args(void)
{
	u64 f = vpv_features();
	long ret;

	kt_eq(hv_hc(VPV_HC_NEGOTIATE, (VPV_ABI_MAJOR + 1) << 16, f, 0),
	      -VPV_EPROTO, "NEGOTIATE major + 1");
	kt_eq(hv_hc(VPV_HC_NEGOTIATE, ~0ULL, f, 0), -VPV_EPROTO,
	      "NEGOTIATE version ~0");
	kt_eq(hv_hc(VPV_HC_NEGOTIATE, (1ULL << 32) | VPV_ABI_VERSION, f, 0),
	      -VPV_EPROTO, "NEGOTIATE version 2^32 + ABI_VERSION");
	kt_eq(hv_hc(VPV_HC_NEGOTIATE, 0, f, 0), -VPV_EPROTO,
	      "NEGOTIATE version 0");
	/* every feature bit: only what the host offers, never bit 63 */
	ret = hv_hc(VPV_HC_NEGOTIATE, VPV_ABI_VERSION, ~0ULL, 0);
	kt_check(ret >= 0 && !((u64)ret & ~READ_ONCE(hv_hdr()->host_features)),
		 "NEGOTIATE(~0 features) = %#lx, host offers %#llx", ret,
		 READ_ONCE(hv_hdr()->host_features));
	/* back to what the driver negotiated */
	kt_eq(hv_hc(VPV_HC_NEGOTIATE, VPV_ABI_VERSION, f, 0), f,
	      "NEGOTIATE the driver's features again");
	hv_alive("after NEGOTIATE");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 2. Scribbling over the shared region                              */

/*
 * Overwrite every host-owned header field; the host must keep using its
 * private copies.  The guest driver read the layout at probe time too.
 */
static int t_shm_header(void)
{
	struct vpv_shared_header *hdr = hv_hdr(), *save;
	struct vpv_multicall_entry *e;
	unsigned int i;
	u8 *data;

	save = kmalloc(sizeof(*save), GFP_KERNEL);
	e = hv_entries(8);
	data = kmalloc(256, GFP_KERNEL);
	if (!kt_check(save && e && data, "no memory"))
		goto out;
	get_random_bytes(data, 256);
	memcpy(save, hdr, sizeof(*save));

	WRITE_ONCE(hdr->magic, 0xdeadbeef);
	WRITE_ONCE(hdr->abi_version, 0xffff0000);
	WRITE_ONCE(hdr->host_peer_id, 0xffffffff);
	WRITE_ONCE(hdr->host_status, 0x7f);
	WRITE_ONCE(hdr->shm_size, ~0ULL);
	WRITE_ONCE(hdr->host_features, ~0ULL);
	WRITE_ONCE(hdr->nr_slots, 0xffffffff);
	WRITE_ONCE(hdr->slot_offset, 0xfffffff0);
	WRITE_ONCE(hdr->slot_size, 1);
	WRITE_ONCE(hdr->multicall_max, 0xffffffff);
	WRITE_ONCE(hdr->evtchn_nr_ports, 0xffffffff);
	WRITE_ONCE(hdr->evtchn_offset, 0xfffffff8);
	WRITE_ONCE(hdr->reserved0, 0xffffffff);
	WRITE_ONCE(hdr->guest_ram_size, ~0ULL);
	for (i = 0; i < ARRAY_SIZE(hdr->reserved); i++)
		WRITE_ONCE(hdr->reserved[i], ~0ULL);

	/* each call rings the hypercall doorbell over the garbage */
	kt_eq(vpv_hypercall2(VPV_HC_NOP, 0x1234567, 0), 0x1234567,
	      "NOP over a garbage header");
	hv_fill_nops(e, 8);
	if (kt_eq(vpv_multicall(e, 8, 0), 8, "multicall over a garbage header"))
		hv_nops_ok(e, 8, "multicall over a garbage header");
	kt_eq(hv_hc(VPV_HC_MULTICALL, virt_to_phys(e), VPV_MULTICALL_MAX + 1, 0),
	      -VPV_E2BIG, "MULTICALL count 513 with multicall_max ~0");
	kt_eq(hv_hc(VPV_HC_MULTICALL, hv_ram_end, 1, 0), -VPV_EFAULT,
	      "MULTICALL past RAM with guest_ram_size ~0");
	kt_eq(hv_hc(VPV_HC_MEMCHK, hv_ram_end - 8, 16, 0), -VPV_EFAULT,
	      "MEMCHK past RAM with guest_ram_size ~0");
	kt_eq(hv_hc(VPV_HC_MEMCHK, virt_to_phys(data), 256, 0),
	      vpv_fnv1a32(data, 256), "MEMCHK over a garbage header");
	if (hv_evtchn_ok()) {
		kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, hv_nr_ports, 0),
		      -VPV_EINVAL, "STATUS port nr_ports with nr_ports ~0");
		kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, 0xfffffffe, 0),
		      -VPV_EINVAL, "STATUS port 2^32 - 2 with nr_ports ~0");
		kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, hv_nr_ports - 1, 0),
		      VPV_EVTCHN_STAT_CLOSED, "STATUS over a garbage header");
	}
	kt_eq(vpv_raw_ping(false), 0, "raw ping over a garbage header");
	kt_eq(vpv_raw_ping(true), 0, "raw ping (irq) over a garbage header");

	/* restore (keeping the live raw probe words) and verify */
	save->raw_ping = READ_ONCE(hdr->raw_ping);
	save->raw_pong = READ_ONCE(hdr->raw_pong);
	memcpy(hdr, save, sizeof(*save));
	kt_check(!memcmp(hdr, save, sizeof(*save)), "header not restored");
	kt_eq(READ_ONCE(hdr->magic), VPV_MAGIC, "magic restored");
	hv_alive("after restoring the header");
out:
	kfree(data);
	kfree(e);
	kfree(save);
	return 0;
}

static struct vpv_evtchn_shared *hv_evt(void)
{
	return (void *)hv_hdr() + hv_evt_offset;
}

/* Every bit of to_host.pending and the whole selector set. */
static void hv_to_host_all(struct vpv_evtchn_shared *ev)
{
	unsigned int w;

	for (w = 0; w < VPV_EVTCHN_WORDS; w++)
		WRITE_ONCE(ev->to_host.pending[w], ~0ULL);
	/* pending before sel, as the real send path does */
	smp_wmb();
	WRITE_ONCE(ev->to_host.sel, ~0ULL);
}

static bool hv_to_host_empty(struct vpv_evtchn_shared *ev)
{
	unsigned int w;

	if (READ_ONCE(ev->to_host.sel))
		return false;
	for (w = 0; w < VPV_EVTCHN_WORDS; w++)
		if (READ_ONCE(ev->to_host.pending[w]))
			return false;
	return true;
}

static int t_shm_evtchn_flood(void)
{
	struct vpv_evtchn_shared *ev;
	unsigned long deadline;
	unsigned int i, r, bad = 0;
	struct hv_port p;
	int base;
	long ret;

	if (!hv_evtchn_ok())
		return kt_skip("event channels not negotiated");
	if (hv_evt_offset < sizeof(struct vpv_shared_header) ||
	    (u64)hv_evt_offset + sizeof(*ev) > hv_shm_size)
		return kt_skip("event channel area outside the shared region");
	ev = hv_evt();
	if (hv_port_open(&p, true))
		return 0;
	atomic_set(&hv_wrong_port, 0);

	/* every port pending, every selector bit, and a doorbell storm */
	for (r = 0; r < 10; r++) {
		hv_to_host_all(ev);
		for (i = 0; i < flood / 10; i++)
			vpv_evtchn_notify(p.port);
	}
	/* the same through the hypercall path */
	hv_to_host_all(ev);
	for (i = 0; i < flood; i++) {
		ret = vpv_evtchn_op(VPV_EVTCHNOP_SEND, p.port, 0);
		if (ret)
			bad++;
	}
	kt_eq(bad, 0, "SEND calls that failed during the flood");
	/* one more doorbell for the bits the SEND storm left */
	vpv_evtchn_notify(p.port);

	/* the host consumes (drops) everything */
	deadline = jiffies + HV_TIMEOUT;
	while (!hv_to_host_empty(ev) && time_before(jiffies, deadline)) {
		vpv_evtchn_notify(p.port);
		usleep_range(1000, 2000);
	}
	kt_check(hv_to_host_empty(ev), "to_host bits left: sel %#llx",
		 READ_ONCE(ev->to_host.sel));
	msleep(50);
	kt_out("# %s: %d echoes for the flood\n", kt_name,
	       atomic_read(&hv_hits));
	kt_check(atomic_read(&hv_hits) > 0, "no echo during the flood");

	/* and the echo service still answers exactly once per event */
	base = atomic_read(&hv_hits);
	vpv_evtchn_notify(p.port);
	wait_event_timeout(hv_wq, hv_hits_reached(base + 1), HV_TIMEOUT);
	msleep(20);
	kt_eq(atomic_read(&hv_hits) - base, 1, "echoes after the flood");
	base = atomic_read(&hv_hits);
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, p.port, 1), 1,
	      "FIRE after the flood");
	wait_event_timeout(hv_wq, hv_hits_reached(base + 1), HV_TIMEOUT);
	kt_eq(atomic_read(&hv_hits) - base, 1, "FIRE events after the flood");
	kt_eq(atomic_read(&hv_wrong_port), 0, "events for the wrong port");
	vpv_evtchn_close(p.port);
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, p.port, 0),
	      VPV_EVTCHN_STAT_CLOSED, "STATUS after close");
	hv_alive("after the event channel flood");
	return 0;
}

static bool hv_pong_is(u32 want)
{
	return READ_ONCE(hv_hdr()->raw_pong) == want;
}

static int t_raw_ping_flood(void)
{
	struct vpv_shared_header *hdr = hv_hdr();
	unsigned int i, bad = 0;
	unsigned long deadline;
	int ret;

	for (i = 0; i < pings; i++) {
		ret = vpv_raw_ping(false);
		if (!kt_check(!ret, "raw ping %u: %d", i, ret) && ++bad > 4)
			return 0;
	}
	for (i = 0; i < pings / 50; i++) {
		ret = vpv_raw_ping(true);
		if (!kt_check(!ret, "raw ping (irq) %u: %d", i, ret) &&
		    ++bad > 4)
			return 0;
	}

	/*
	 * The guest writes the host's pong word and a ping with every bit
	 * set; the host answers the new value once (with an interrupt).
	 */
	WRITE_ONCE(hdr->raw_pong, 0x5a5a5a5a);
	WRITE_ONCE(hdr->raw_ping, 0xffffffff);
	deadline = jiffies + HV_TIMEOUT;
	while (!hv_pong_is(0x7fffffff) && time_before(jiffies, deadline)) {
		/* any doorbell on VPV_VEC_HCALL checks raw_ping first */
		vpv_hypercall2(VPV_HC_NOP, 0, 0);
		usleep_range(1000, 2000);
	}
	kt_eq(READ_ONCE(hdr->raw_pong), 0x7fffffff, "pong for ping ~0");

	/*
	 * A ping equal to the pong is not new: no answer.  Ping first, so
	 * that a doorbell still in flight answers with the same value.
	 */
	WRITE_ONCE(hdr->raw_ping, 0x80001234);
	WRITE_ONCE(hdr->raw_pong, 0x1234);
	usleep_range(10000, 20000);
	hv_alive("after a stale ping");
	kt_eq(READ_ONCE(hdr->raw_pong), 0x1234, "pong for a stale ping");

	for (i = 0; i < 10; i++) {
		kt_eq(vpv_raw_ping(false), 0, "raw ping after garbage");
		kt_eq(vpv_raw_ping(true), 0, "raw ping (irq) after garbage");
	}
	hv_alive("after the raw ping flood");
	return 0;
}

static struct vpv_hc_slot *hv_slot(unsigned int i)
{
	return (void *)hv_hdr() + hv_slot_offset + (size_t)i * hv_slot_size;
}

static bool hv_slots_in_shm(void)
{
	return hv_nr_slots && hv_slot_size >= sizeof(struct vpv_hc_slot) &&
	       hv_slot_offset >= sizeof(struct vpv_shared_header) &&
	       (u64)hv_slot_offset + (u64)hv_nr_slots * hv_slot_size <=
	       hv_shm_size;
}

/*
 * The reserved words of every slot: neither the guest driver nor the
 * host uses them, so they can be scribbled while the driver runs.
 */
#define HV_SLOT_RSV	ARRAY_SIZE(((struct vpv_hc_slot *)NULL)->reserved)

static int t_slot_reserved(void)
{
	struct vpv_multicall_entry *e;
	unsigned int i, k;
	u64 *save;

	if (!hv_slots_in_shm())
		return kt_skip("slot layout outside the shared region");
	save = kcalloc(hv_nr_slots * HV_SLOT_RSV, sizeof(*save), GFP_KERNEL);
	e = hv_entries(16);
	if (!kt_check(save && e, "no memory"))
		goto out;
	for (i = 0; i < hv_nr_slots; i++)
		for (k = 0; k < HV_SLOT_RSV; k++) {
			save[i * HV_SLOT_RSV + k] =
				READ_ONCE(hv_slot(i)->reserved[k]);
			WRITE_ONCE(hv_slot(i)->reserved[k],
				   k & 1 ? ~0ULL : get_random_u64());
		}
	for (i = 0; i < 100; i++)
		if (!hv_alive("NOP with garbage in reserved slot words"))
			break;
	hv_fill_nops(e, 16);
	if (kt_eq(vpv_multicall(e, 16, 0), 16, "multicall with garbage slots"))
		hv_nops_ok(e, 16, "multicall with garbage slots");
	for (i = 0; i < hv_nr_slots; i++)
		for (k = 0; k < HV_SLOT_RSV; k++)
			WRITE_ONCE(hv_slot(i)->reserved[k],
				   save[i * HV_SLOT_RSV + k]);
out:
	kfree(e);
	kfree(save);
	return 0;
}

/* Wait for a slot the driver never uses to reach @state, ringing. */
static bool hv_slot_wait(struct vpv_hc_slot *s, u32 state)
{
	unsigned long deadline = jiffies + HV_TIMEOUT;

	/* acquire: pairs with the host's xchg of the state word */
	while ((smp_load_acquire(&s->state) & VPV_SLOT_STATE_MASK) != state &&
	       time_before(jiffies, deadline)) {
		vpv_hypercall2(VPV_HC_NOP, 0, 0);
		usleep_range(1000, 2000);
	}
	/* acquire: ret and done_seq of the host are visible */
	return (smp_load_acquire(&s->state) & VPV_SLOT_STATE_MASK) == state;
}

/*
 * A slot in an invalid state, then a forged request in it.  The driver
 * owns every slot it may pick (cpu % nr_slots), so this needs a slot
 * index no CPU maps to: vpv-host offers one slot per vCPU and a spare,
 * and the spare is it.  (After a hypercall timeout the driver may also
 * fall back to the spare; none timed out if the earlier tests passed.)
 */
static int t_slot_rogue(void)
{
	struct vpv_hc_slot *s;
	unsigned int idx, i;
	char why[96];

	if (!hv_slots_in_shm())
		return kt_skip("slot layout outside the shared region");
	if (hv_nr_slots <= nr_cpu_ids) {
		snprintf(why, sizeof(why),
			 "all %u slots may be in use by the driver (nr_cpu_ids %u)",
			 hv_nr_slots, nr_cpu_ids);
		return kt_skip(why);
	}
	idx = hv_nr_slots - 1;
	s = hv_slot(idx);
	kt_out("# %s: using slot %u of %u\n", kt_name, idx, hv_nr_slots);

	/* invalid state: ignored, nothing written */
	WRITE_ONCE(s->nr, 0xffffffff);
	for (i = 0; i < VPV_HC_NR_ARGS; i++)
		WRITE_ONCE(s->args[i], get_random_u64());
	WRITE_ONCE(s->ret, 0x55);
	WRITE_ONCE(s->seq, 0x1234);
	WRITE_ONCE(s->done_seq, 0);
	/* release: nr and args before the state, as the driver does */
	smp_store_release(&s->state, 0x7f);
	for (i = 0; i < 10; i++)
		hv_alive("NOP next to a slot in state 0x7f");
	msleep(20);
	kt_eq(READ_ONCE(s->state), 0x7f, "state 0x7f left alone");
	kt_eq(READ_ONCE(s->ret), 0x55, "ret of a state 0x7f slot");
	kt_eq(READ_ONCE(s->done_seq), 0, "done_seq of a state 0x7f slot");
	/* release: as above */
	smp_store_release(&s->state, 0x7f00 | VPV_SLOT_DONE);
	hv_alive("NOP next to a forged DONE slot");
	kt_eq(READ_ONCE(s->done_seq), 0, "done_seq of a forged DONE slot");

	/* a forged PENDING request with a garbage number is answered */
	/* release: the garbage nr and args are published with it */
	smp_store_release(&s->state, VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ);
	if (kt_check(hv_slot_wait(s, VPV_SLOT_DONE), "forged slot not done")) {
		kt_eq(READ_ONCE(s->ret), -VPV_ENOSYS, "forged nr ~0");
		kt_eq(READ_ONCE(s->done_seq), 0x1234, "forged done_seq");
	}
	WRITE_ONCE(s->nr, VPV_HC_MEMCHK);
	WRITE_ONCE(s->args[0], HV_PCI_HOLE);
	WRITE_ONCE(s->args[1], 64);
	WRITE_ONCE(s->seq, 0x5678);
	/* release: the new nr, args and seq are published with it */
	smp_store_release(&s->state, VPV_SLOT_PENDING);
	if (kt_check(hv_slot_wait(s, VPV_SLOT_DONE), "forged slot not done")) {
		kt_eq(READ_ONCE(s->ret), -VPV_EFAULT, "forged MEMCHK");
		kt_eq(READ_ONCE(s->done_seq), 0x5678, "forged done_seq");
	}

	/* hand the slot back as the driver left it at probe */
	WRITE_ONCE(s->nr, 0);
	for (i = 0; i < VPV_HC_NR_ARGS; i++)
		WRITE_ONCE(s->args[i], 0);
	WRITE_ONCE(s->ret, 0);
	WRITE_ONCE(s->seq, 0);
	WRITE_ONCE(s->done_seq, 0);
	/* release: the cleared fields are visible before IDLE */
	smp_store_release(&s->state, VPV_SLOT_IDLE);
	hv_alive("after the rogue slot");
	return 0;
}

/* ---------------------------------------------------------------- */
/* 3. The host still serves this guest                               */

static int t_after_nop(void)
{
	static const u64 vals[] = {
		0, 1, 0x1234, 0xdeadbeefcafe, NOP_MASK,
		0x8000000000000001ULL, ~0ULL,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vals); i++)
		kt_check(vpv_hypercall4(VPV_HC_NOP, vals[i], ~vals[i], 1, 2) ==
			 (long)(vals[i] & NOP_MASK), "NOP(%#llx)", vals[i]);
	for (i = 0; i < 1000; i++)
		if (!hv_alive("NOP"))
			break;
	return 0;
}

static int t_after_multicall(void)
{
	struct vpv_multicall_entry *e;

	if (vpv_multicall_max() < 64)
		return kt_skip("multicall_max below 64");
	e = hv_entries(64);
	if (!kt_check(e, "no memory"))
		return 0;
	hv_fill_nops(e, 64);
	if (kt_eq(vpv_multicall(e, 64, 0), 64, "multicall(64)"))
		hv_nops_ok(e, 64, "multicall(64)");
	hv_fill_nops(e, 64);
	if (kt_eq(vpv_multicall(e, 64, VPV_MC_STOP_ON_ERROR), 64,
		  "multicall(64, STOP_ON_ERROR)"))
		hv_nops_ok(e, 64, "multicall(64, STOP_ON_ERROR)");
	kfree(e);
	return 0;
}

static int t_after_evtchn(void)
{
	const unsigned int rounds = 16;
	struct hv_port p;
	unsigned int r;
	int base;

	if (!hv_evtchn_ok())
		return kt_skip("event channels not negotiated");
	if (hv_port_open(&p, true))
		return 0;
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, p.port, 0),
	      VPV_EVTCHN_STAT_ECHO, "STATUS of the fresh port");
	atomic_set(&hv_wrong_port, 0);
	base = atomic_read(&hv_hits);
	for (r = 1; r <= rounds; r++) {
		vpv_evtchn_notify(p.port);
		wait_event_timeout(hv_wq, hv_hits_reached(base + r),
				   HV_TIMEOUT);
		if (!kt_check(hv_hits_reached(base + r), "round %u: %d echoes",
			      r, atomic_read(&hv_hits) - base))
			break;
	}
	msleep(20);
	kt_eq(atomic_read(&hv_hits) - base, rounds, "echoes");
	kt_eq(atomic_read(&hv_wrong_port), 0, "events for the wrong port");
	vpv_evtchn_close(p.port);
	return 0;
}

/* ---------------------------------------------------------------- */
/* 4. The split-driver platform: grant copy and the config store     */

#define HV_NO_DOMID	0x7fefU		/* no guest has this domain id */
#define HV_NR_DOMIDS	320		/* domain ids swept (1 ..) */
#define HV_RING_MASK	(VPV_STORE_RING_SIZE - 1)
#define HV_IDX_JUNK	0x80000000U	/* more than a ring's worth */

static bool hv_grant_ok(void)
{
	return (vpv_features() & VPV_F_GRANT) &&
	       hv_gnt_nr > VPV_GNTTAB_RESERVED &&
	       hv_gnt_offset >= sizeof(struct vpv_shared_header) &&
	       (u64)hv_gnt_offset + (u64)hv_gnt_nr *
	       sizeof(struct vpv_grant_entry) <= hv_shm_size;
}

static long hv_gcopy(struct vpv_gnttab_copy *ops, u64 count)
{
	return hv_hc(VPV_HC_GRANT_TABLE_OP, VPV_GNTTABOP_COPY,
		     virt_to_phys(ops), count);
}

/* A copy out of grant (@dom, @ref) at @off into our @gpa, or (@to) back. */
static void hv_gop(struct vpv_gnttab_copy *op, bool to, u16 dom, u64 ref,
		   u16 off, u64 gpa, u32 len)
{
	struct vpv_gnttab_copy_ptr g = {
		.gpa_or_ref = ref, .domid = dom, .offset = off,
	};
	struct vpv_gnttab_copy_ptr m = { .gpa_or_ref = gpa };

	memset(op, 0, sizeof(*op));
	op->source = to ? m : g;
	op->dest = to ? g : m;
	op->len = len;
	op->flags = to ? VPV_GNTCOPY_DEST_GREF : VPV_GNTCOPY_SOURCE_GREF;
	op->status = HV_SENTINEL;
}

static bool hv_gstatus_untouched(struct vpv_gnttab_copy *ops, unsigned int n,
				 const char *what)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!kt_check(ops[i].status == HV_SENTINEL,
			      "%s: host wrote status %u (%lld) of a refused call",
			      what, i, ops[i].status))
			return false;
	return true;
}

/* A reference of our own table that is not granted to anybody. */
static u32 hv_free_ref(void)
{
	struct vpv_grant_entry *t = (void *)hv_hdr() + hv_gnt_offset;
	u32 ref;

	for (ref = hv_gnt_nr - 1; ref >= VPV_GNTTAB_RESERVED; ref--)
		if (!(READ_ONCE(t[ref].flags) & VPV_GTF_PERMIT_ACCESS))
			return ref;
	return hv_gnt_nr - 1;
}

/*
 * @n copies that name grants of other domains: none may succeed, each
 * fails -EPERM (the domain exists) or -ENOENT (it does not).
 */
static bool hv_foreign(struct vpv_gnttab_copy *ops, unsigned int n,
		       const char *what, unsigned int *perm,
		       unsigned int *noent)
{
	unsigned int i;

	if (!kt_eq(hv_gcopy(ops, n), 0, what))
		return false;
	for (i = 0; i < n; i++) {
		const struct vpv_gnttab_copy_ptr *g =
			ops[i].flags & VPV_GNTCOPY_DEST_GREF ? &ops[i].dest :
							      &ops[i].source;

		if (ops[i].status == -VPV_EPERM)
			(*perm)++;
		else if (ops[i].status == -VPV_ENOENT)
			(*noent)++;
		else
			return kt_check(false, "%s: domid %u ref %#llx: status %lld",
					what, g->domid, g->gpa_or_ref,
					ops[i].status);
	}
	return true;
}

/* Every reference of @dom out, random ones in: all refused. */
static bool hv_victim(struct vpv_gnttab_copy *ops, u64 gpa, u16 dom,
		      unsigned int *perm, unsigned int *noent)
{
	unsigned int i, r;
	char what[48];

	snprintf(what, sizeof(what), "copies from domid %u", dom);
	for (r = 0; r < hv_gnt_nr; r += VPV_GNTTAB_COPY_MAX) {
		for (i = 0; i < VPV_GNTTAB_COPY_MAX; i++)
			hv_gop(&ops[i], false, dom, r + i, 0, gpa, 64);
		if (!hv_foreign(ops, VPV_GNTTAB_COPY_MAX, what, perm, noent))
			return false;
	}
	snprintf(what, sizeof(what), "copies into domid %u", dom);
	for (r = 0; r < 8; r++) {
		for (i = 0; i < VPV_GNTTAB_COPY_MAX; i++)
			hv_gop(&ops[i], true, dom,
			       i & 1 ? get_random_u64() :
			       get_random_u32() % hv_gnt_nr,
			       get_random_u32() % 4032, gpa, 64);
		if (!hv_foreign(ops, VPV_GNTTAB_COPY_MAX, what, perm, noent))
			return false;
	}
	return true;
}

/* The victims' grants, for victim_ms (while they run their devices). */
static void hv_victims(struct vpv_gnttab_copy *ops, u64 gpa)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(victim_ms);
	unsigned int perm, noent, rounds, i;

	for (i = 0; i < nr_victims; i++) {
		if (!victims[i] || victims[i] == hv_domid)
			continue;
		perm = 0;
		noent = 0;
		rounds = 0;
		do {
			if (!hv_victim(ops, gpa, victims[i], &perm, &noent))
				break;
			rounds++;
		} while (time_before(jiffies, deadline));
		kt_out("# %s: domid %u: %u rounds, %u copies refused, %u EPERM, %u ENOENT\n",
		       kt_name, victims[i], rounds, perm + noent, perm, noent);
	}
}

/* Single bad copies, one per call and then all in one call. */
static void hv_gcopy_cases(struct vpv_gnttab_copy *ops, u64 gpa, int rw,
			   int ro)
{
	u16 me = hv_domid;
	u32 free_ref = hv_free_ref();
	const struct {
		bool to;
		u16 dom;
		u64 ref;
		u16 off;
		u64 gpa;
		u32 len, flags;	/* flags 0: the direction's GREF bit */
		long want;
		const char *what;
	} cases[] = {
		{ false, me, hv_gnt_nr, 0, gpa, 64, 0, -VPV_EPERM,
		  "from ref gnttab_nr" },
		{ true, me, hv_gnt_nr, 0, gpa, 64, 0, -VPV_EPERM,
		  "into ref gnttab_nr" },
		{ false, me, U32_MAX, 0, gpa, 64, 0, -VPV_EPERM,
		  "from ref 2^32 - 1" },
		{ false, me, (1ULL << 32) | rw, 0, gpa, 64, 0, -VPV_EPERM,
		  "from ref 2^32 + a granted ref" },
		{ true, me, ~0ULL, 0, gpa, 64, 0, -VPV_EPERM, "into ref ~0" },
		{ false, me, free_ref, 0, gpa, 64, 0, -VPV_EPERM,
		  "from a ref not granted" },
		{ true, me, free_ref, 0, gpa, 64, 0, -VPV_EPERM,
		  "into a ref not granted" },
		{ true, me, ro, 0, gpa, 64, 0, -VPV_EPERM,
		  "into a read-only grant" },
		{ false, HV_NO_DOMID, rw, 0, gpa, 64, 0, -VPV_ENOENT,
		  "from domid 0x7fef (no such guest)" },
		{ true, HV_NO_DOMID, rw, 0, gpa, 64, 0, -VPV_ENOENT,
		  "into domid 0x7fef (no such guest)" },
		{ false, 0, rw, 0, gpa, 64, 0, -VPV_ENOENT, "from domid 0" },
		{ true, VPV_DOMID_HOST, rw, 0, gpa, 64, 0, -VPV_ENOENT,
		  "into domid DOMID_HOST" },
		{ false, 0xffff, rw, 0, gpa, 64, 0, -VPV_ENOENT,
		  "from domid 0xffff" },
		{ false, me, rw, 0, gpa, 0, 0, -VPV_EINVAL, "len 0" },
		{ true, me, rw, 0, gpa, 0, 0, -VPV_EINVAL, "len 0 (into)" },
		{ false, me, rw, 0, gpa, PAGE_SIZE + 1, 0, -VPV_EINVAL,
		  "len 4097" },
		{ false, me, rw, 0, gpa, U32_MAX, 0, -VPV_EINVAL, "len ~0" },
		{ false, me, rw, 4095, gpa, 2, 0, -VPV_EINVAL,
		  "offset 4095 + len 2" },
		{ false, me, rw, 4000, gpa, 200, 0, -VPV_EINVAL,
		  "offset 4000 + len 200" },
		{ true, me, rw, 1, gpa, PAGE_SIZE, 0, -VPV_EINVAL,
		  "offset 1 + len 4096 (into)" },
		{ true, me, rw, 0xffff, gpa, 1, 0, -VPV_EINVAL,
		  "offset 0xffff (into)" },
		{ false, me, rw, 0, gpa, 64, 4, -VPV_EINVAL, "flags 4" },
		{ false, me, rw, 0, gpa, 64, ~0U, -VPV_EINVAL, "flags ~0" },
		{ false, me, rw, 0, HV_PCI_HOLE, 64, 0, -VPV_EFAULT,
		  "into our GPA in the PCI hole" },
		{ true, me, rw, 0, hv_ram_end - 16, 32, 0, -VPV_EFAULT,
		  "from our GPA straddling the end of RAM" },
		{ true, me, rw, 0, ~0ULL - 15, 32, 0, -VPV_EFAULT,
		  "from our GPA ~0 - 15 (wraps)" },
	};
	const unsigned int nc = ARRAY_SIZE(cases);
	char what[96];
	unsigned int i;

	BUILD_BUG_ON(ARRAY_SIZE(cases) > VPV_GNTTAB_COPY_MAX);
	kt_out("# %s: domid %u, gnttab_nr %u, own grants rw %d ro %d, free ref %u\n",
	       kt_name, me, hv_gnt_nr, rw, ro, free_ref);
	for (i = 0; i < nc; i++) {
		hv_gop(&ops[i], cases[i].to, cases[i].dom, cases[i].ref,
		       cases[i].off, cases[i].gpa, cases[i].len);
		if (cases[i].flags)
			ops[i].flags = cases[i].flags;
		snprintf(what, sizeof(what), "GNTTABOP_COPY %s", cases[i].what);
		kt_eq(hv_gcopy(&ops[i], 1), 0, what);
		kt_eq(ops[i].status, cases[i].want, what);
		ops[i].status = HV_SENTINEL;
	}
	kt_eq(hv_gcopy(ops, nc), 0, "GNTTABOP_COPY all bad copies at once");
	for (i = 0; i < nc; i++)
		kt_check(ops[i].status == cases[i].want,
			 "batched copy %u (%s): status %lld, want %ld", i,
			 cases[i].what, ops[i].status, cases[i].want);

	/* the reserved references, in both directions */
	for (i = 0; i < 2 * VPV_GNTTAB_RESERVED; i++)
		hv_gop(&ops[i], i & 1, me, i / 2, 0, gpa, 64);
	if (kt_eq(hv_gcopy(ops, 2 * VPV_GNTTAB_RESERVED), 0,
		  "GNTTABOP_COPY reserved refs 0..7"))
		for (i = 0; i < 2 * VPV_GNTTAB_RESERVED; i++)
			kt_check(ops[i].status == -VPV_EPERM,
				 "reserved ref %u (%s): status %lld", i / 2,
				 i & 1 ? "into" : "from", ops[i].status);
}

/* Whole-call errors: nothing is copied, no status written. */
static void hv_gcopy_calls(struct vpv_gnttab_copy *ops, u64 gpa, int rw)
{
	u64 opa = virt_to_phys(ops);
	const struct {
		u64 cmd, gpa, count;
		long want;
		const char *what;
	} calls[] = {
		{ VPV_GNTTABOP_COPY, opa, 0, -VPV_EINVAL, "count 0" },
		{ VPV_GNTTABOP_COPY, opa, VPV_GNTTAB_COPY_MAX + 1, -VPV_E2BIG,
		  "count 65" },
		{ VPV_GNTTABOP_COPY, opa, ~0ULL, -VPV_E2BIG, "count ~0" },
		{ VPV_GNTTABOP_COPY, opa, 1ULL << 32, -VPV_E2BIG,
		  "count 2^32" },
		{ VPV_GNTTABOP_COPY, opa, (1ULL << 32) | 1, -VPV_E2BIG,
		  "count 2^32 + 1" },
		{ VPV_GNTTABOP_COPY, opa + 4, 1, -VPV_EFAULT,
		  "array misaligned" },
		{ VPV_GNTTABOP_COPY, HV_PCI_HOLE, 1, -VPV_EFAULT,
		  "array in the PCI hole" },
		{ VPV_GNTTABOP_COPY, hv_ram_end - 48, 2, -VPV_EFAULT,
		  "array straddling the end of RAM" },
		{ VPV_GNTTABOP_COPY, ~0ULL & ~7ULL, 1, -VPV_EFAULT,
		  "array at ~7" },
		{ 1, opa, 1, -VPV_ENOSYS, "cmd 1" },
		{ ~0ULL, opa, 1, -VPV_ENOSYS, "cmd ~0" },
		{ (1ULL << 32) | VPV_GNTTABOP_COPY, opa, 1, -VPV_ENOSYS,
		  "cmd 2^32 + COPY" },
	};
	unsigned int i, k;
	char what[80];

	for (i = 0; i < ARRAY_SIZE(calls); i++) {
		for (k = 0; k <= VPV_GNTTAB_COPY_MAX; k++)
			hv_gop(&ops[k], false, hv_domid, rw, 0, gpa, 64);
		snprintf(what, sizeof(what), "GRANT_TABLE_OP %s",
			 calls[i].what);
		kt_eq(hv_hc(VPV_HC_GRANT_TABLE_OP, calls[i].cmd, calls[i].gpa,
			    calls[i].count), calls[i].want, what);
		hv_gstatus_untouched(ops, VPV_GNTTAB_COPY_MAX + 1, what);
	}
}

/* The same operation, correctly made, works: the host checks, not refuses. */
static void hv_gcopy_valid(struct vpv_gnttab_copy *ops, u8 *buf, u8 *pa,
			   int rw, int ro)
{
	u64 gpa = virt_to_phys(buf);
	u16 me = hv_domid;

	get_random_bytes(buf, PAGE_SIZE);
	hv_gop(&ops[0], false, me, ro, 0, gpa, PAGE_SIZE);
	if (kt_eq(hv_gcopy(&ops[0], 1), 1, "copy out of our read-only grant"))
		kt_check(!memcmp(buf, pa, PAGE_SIZE), "copied data differs");
	get_random_bytes(buf, PAGE_SIZE);
	hv_gop(&ops[0], true, me, rw, 100, gpa + 8, 200);
	if (kt_eq(hv_gcopy(&ops[0], 1), 1, "copy into our read-write grant"))
		kt_check(!memcmp(pa + 100, buf + 8, 200), "copied data differs");
	/* grant to grant: (me, ro) at 0 into (me, rw) at 3000 */
	hv_gop(&ops[0], true, me, rw, 3000, 0, 1000);
	ops[0].flags |= VPV_GNTCOPY_SOURCE_GREF;
	ops[0].source.gpa_or_ref = ro;
	ops[0].source.domid = me;
	if (kt_eq(hv_gcopy(&ops[0], 1), 1, "copy from grant to grant"))
		kt_check(!memcmp(pa + 3000, pa, 1000),
			 "grant to grant data differs");
	ops[0].dest.gpa_or_ref = ro;
	kt_eq(hv_gcopy(&ops[0], 1), 0, "copy from grant into a read-only grant");
	kt_eq(ops[0].status, -VPV_EPERM, "grant into a read-only grant");
}

static int t_gnt_copy_args(void)
{
	unsigned int perm = 0, noent = 0, i, d;
	struct vpv_gnttab_copy *ops;
	struct page *pg = NULL;
	int rw = -1, ro = -1;
	u16 me = hv_domid;
	u8 *buf, *pa;
	u64 gpa;

	if (!hv_grant_ok())
		return kt_skip("grant tables not negotiated");
	ops = kcalloc(VPV_GNTTAB_COPY_MAX + 1, sizeof(*ops), GFP_KERNEL);
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	pg = alloc_page(GFP_KERNEL);
	if (!kt_check(ops && buf && pg, "no memory"))
		goto out;
	pa = page_address(pg);
	get_random_bytes(pa, PAGE_SIZE);
	rw = vpv_gnttab_grant(me, page_to_pfn(pg), false);
	ro = vpv_gnttab_grant(me, page_to_pfn(pg), true);
	if (!kt_check(rw >= VPV_GNTTAB_RESERVED && ro >= VPV_GNTTAB_RESERVED,
		      "grants to ourselves: %d, %d", rw, ro))
		goto out;
	gpa = virt_to_phys(buf);
	hv_gcopy_cases(ops, gpa, rw, ro);
	hv_gcopy_calls(ops, gpa, rw);

	/* every other domain id: none of them granted us anything */
	for (d = 1; d <= HV_NR_DOMIDS; d += VPV_GNTTAB_COPY_MAX) {
		for (i = 0; i < VPV_GNTTAB_COPY_MAX; i++)
			hv_gop(&ops[i], false, d + i == me ? HV_NO_DOMID : d + i,
			       VPV_GNTTAB_RESERVED + get_random_u32() %
			       (hv_gnt_nr - VPV_GNTTAB_RESERVED), 0, gpa, 64);
		if (!hv_foreign(ops, VPV_GNTTAB_COPY_MAX,
				"copies from other domids", &perm, &noent))
			break;
	}
	kt_out("# %s: domids 1..%u: %u EPERM, %u ENOENT\n", kt_name,
	       HV_NR_DOMIDS, perm, noent);
	hv_victims(ops, gpa);

	hv_gcopy_valid(ops, buf, pa, rw, ro);
	hv_alive("after GRANT_TABLE_OP");
out:
	/* no READING/WRITING left behind by any of the calls */
	if (rw >= 0)
		kt_eq(vpv_gnttab_end(rw), 0, "end of the read-write grant");
	if (ro >= 0)
		kt_eq(vpv_gnttab_end(ro), 0, "end of the read-only grant");
	if (pg)
		__free_page(pg);
	kfree(buf);
	kfree(ops);
	return 0;
}

static bool hv_store_ok(void)
{
	return vpv_store_available();
}

static long hv_store_connect(u64 port)
{
	return hv_hc(VPV_HC_STORE_OP, VPV_STOREOP_CONNECT, port, 0);
}

/* The one port bound to a host back-end: vhypercall's store port. */
static int hv_find_store_port(void)
{
	unsigned int port;
	int found = 0;

	for (port = 1; port < hv_nr_ports; port++) {
		if (vpv_evtchn_op(VPV_EVTCHNOP_STATUS, port, 0) !=
		    VPV_EVTCHN_STAT_BACKEND)
			continue;
		if (found)
			return -EEXIST;
		found = port;
	}
	return found ?: -ENOENT;
}

/* Failed CONNECTs leave the live connection alone. */
static int t_store_connect_args(void)
{
	struct hv_port e;
	char buf[16];
	int port;

	if (!hv_store_ok() || !hv_evtchn_ok())
		return kt_skip("config store not available");
	kt_eq(hv_hc(VPV_HC_STORE_OP, 1, 1, 0), -VPV_ENOSYS, "sub-command 1");
	kt_eq(hv_hc(VPV_HC_STORE_OP, ~0ULL, 1, 0), -VPV_ENOSYS,
	      "sub-command ~0");
	kt_eq(hv_hc(VPV_HC_STORE_OP, 1ULL << 32, 1, 0), -VPV_ENOSYS,
	      "sub-command 2^32 (truncates to CONNECT)");
	kt_eq(hv_store_connect(0), -VPV_EINVAL, "CONNECT port 0");
	kt_eq(hv_store_connect(hv_nr_ports), -VPV_EINVAL,
	      "CONNECT port evtchn_nr_ports");
	kt_eq(hv_store_connect(VPV_EVTCHN_MAX_PORTS), -VPV_EINVAL,
	      "CONNECT port 4096");
	kt_eq(hv_store_connect((1ULL << 32) | 1), -VPV_EINVAL,
	      "CONNECT port 2^32 + 1");
	kt_eq(hv_store_connect(~0ULL), -VPV_EINVAL, "CONNECT port ~0");
	kt_eq(hv_store_connect(hv_nr_ports - 1), -VPV_ENOENT,
	      "CONNECT a never allocated port");
	if (!hv_port_open(&e, true)) {
		kt_eq(hv_store_connect(e.port), -VPV_EEXIST,
		      "CONNECT a port bound to the echo service");
		kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, e.port, 0),
		      VPV_EVTCHN_STAT_ECHO, "STATUS after CONNECT of an echo port");
		vpv_evtchn_close(e.port);
		kt_eq(hv_store_connect(e.port), -VPV_ENOENT,
		      "CONNECT a closed port");
	}
	port = hv_find_store_port();
	kt_check(port > 0, "no single store port: %d", port);
	/* the store still works on its port */
	kt_eq(vpv_store_write("hostile/connect", "1"), 0,
	      "write after the bad CONNECTs");
	kt_eq(vpv_store_read("hostile/connect", buf, sizeof(buf)), 1,
	      "read after the bad CONNECTs");
	if (port > 0)
		kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, port, 0),
		      VPV_EVTCHN_STAT_BACKEND, "store port still bound");
	hv_alive("after STORE_OP");
	return 0;
}

/* The other guests' homes are out of reach. */
static void hv_store_others(void)
{
	char path[64], buf[16];
	unsigned int i, d;

	for (i = 0; i <= nr_victims; i++) {
		d = i < nr_victims ? victims[i] : hv_domid + 1;
		if (!d || d == hv_domid)
			continue;
		snprintf(path, sizeof(path), "/local/domain/%u/data/hostile", d);
		kt_eq(vpv_store_write(path, "x"), -EACCES,
		      "write into another guest's home");
		snprintf(path, sizeof(path), "/local/domain/%u/data/t1", d);
		kt_eq(vpv_store_read(path, buf, sizeof(buf)), -EACCES,
		      "read of another guest's home");
		snprintf(path, sizeof(path), "/local/domain/%u", d);
		kt_eq(vpv_store_rm(path), -EACCES, "rm of another guest's home");
	}
	kt_eq(vpv_store_write("/local/domain/0/hostile", "x"), -EACCES,
	      "write into the host's home");
	kt_eq(vpv_store_rm("/local"), -EACCES, "rm /local");
}

static int t_store_oversized(void)
{
	const size_t n = VPV_STORE_PAYLOAD_MAX - sizeof("hostile/big");
	char *big, *rd, *path;
	size_t room;
	int ret;

	if (!hv_store_ok())
		return kt_skip("config store not available");
	big = kmalloc(VPV_STORE_PAYLOAD_MAX + 2, GFP_KERNEL);
	rd = kmalloc(VPV_STORE_PAYLOAD_MAX + 2, GFP_KERNEL);
	path = kmalloc(VPV_STORE_PATH_MAX + 64, GFP_KERNEL);
	if (!kt_check(big && rd && path, "no memory"))
		goto out;

	memset(big, 'v', VPV_STORE_PAYLOAD_MAX + 1);
	big[VPV_STORE_PAYLOAD_MAX + 1] = '\0';
	kt_eq(vpv_store_write("hostile/big", big), -E2BIG,
	      "value of 4097 bytes");
	/* path NUL value: 4097 bytes, then exactly 4096 */
	big[n + 1] = '\0';
	kt_eq(vpv_store_write("hostile/big", big), -E2BIG,
	      "payload of 4097 bytes");
	big[n] = '\0';
	kt_eq(vpv_store_write("hostile/big", big), 0, "payload of 4096 bytes");
	ret = vpv_store_read("hostile/big", rd, VPV_STORE_PAYLOAD_MAX + 2);
	if (kt_eq(ret, n, "read back the value of the 4096-byte payload"))
		kt_check(!memcmp(rd, big, n + 1), "the big value differs");
	kt_eq(vpv_store_rm("hostile/big"), 0, "rm hostile/big");

	/* paths: 300 bytes; relative ones that only the home makes too long */
	memset(path, 'a', 300);
	path[300] = '\0';
	kt_eq(vpv_store_write(path, "x"), -E2BIG, "write, path of 300 bytes");
	kt_eq(vpv_store_read(path, rd, 16), -E2BIG, "read, path of 300 bytes");
	kt_eq(vpv_store_mkdir(path), -E2BIG, "mkdir, path of 300 bytes");
	room = VPV_STORE_PATH_MAX - snprintf(rd, 32, "/local/domain/%u/",
					     hv_domid);
	memset(path, 'b', room + 1);
	path[room + 1] = '\0';
	kt_eq(vpv_store_write(path, "x"), -E2BIG,
	      "relative path one byte over the limit with the home");
	path[room] = '\0';
	kt_eq(vpv_store_write(path, "x"), 0,
	      "relative path at the limit with the home");
	kt_eq(vpv_store_rm(path), 0, "rm of the longest path");
	kt_eq(vpv_store_write("hostile/a b", "x"), -EINVAL, "path with a space");
	kt_eq(vpv_store_write("hostile//x", "x"), -EINVAL, "path with //");
	kt_eq(vpv_store_write("hostile/x/", "x"), -EINVAL, "path ending in /");
	kt_eq(vpv_store_write("", "x"), -EINVAL, "empty path");
	hv_store_others();

	/* the connection survived all of it */
	kt_eq(vpv_store_write("hostile/after", "ok"), 0, "small write after");
	ret = vpv_store_read("hostile/after", rd, 16);
	if (kt_eq(ret, 2, "small read after"))
		kt_check(!strcmp(rd, "ok"), "read back \"%s\"", rd);
	kt_check(hv_store_ok(), "store no longer available");
out:
	kfree(path);
	kfree(rd);
	kfree(big);
	return 0;
}

static int t_store_limits(void)
{
	u32 tx[VPV_STORE_TX_MAX + 1];
	unsigned int i, n;
	char path[48];
	int ret = 0;

	if (!hv_store_ok())
		return kt_skip("config store not available");
	for (n = 0; n <= VPV_STORE_TX_MAX; n++) {
		ret = vpv_store_tx_start(&tx[n]);
		if (ret)
			break;
	}
	kt_eq(ret, -EBUSY, "transaction beyond VPV_STORE_TX_MAX");
	kt_eq(n, VPV_STORE_TX_MAX, "transactions opened");
	if (n)
		kt_eq(vpv_store_tx_write(tx[0], "hostile/tx", "x"), 0,
		      "write in a transaction");
	for (i = 0; i < n; i++)
		kt_eq(vpv_store_tx_end(tx[i], false), 0, "abort");
	if (n)
		kt_eq(vpv_store_tx_end(tx[0], false), -EINVAL,
		      "end of an ended transaction");
	kt_eq(vpv_store_tx_write(0x7eadbeef, "hostile/tx", "x"), -EINVAL,
	      "write in an unknown transaction");
	kt_eq(vpv_store_read("hostile/tx", path, sizeof(path)), -ENOENT,
	      "aborted write not there");
	ret = vpv_store_tx_start(&tx[0]);
	if (kt_eq(ret, 0, "transaction after the aborts"))
		kt_eq(vpv_store_tx_end(tx[0], true), 0, "empty commit");

	/* nodes until ENOSPC */
	for (n = 0; n <= VPV_STORE_NODES_MAX; n++) {
		snprintf(path, sizeof(path), "hostile/n/%u", n);
		ret = vpv_store_write(path, "x");
		if (ret)
			break;
	}
	kt_out("# %s: %u nodes written before %d\n", kt_name, n, ret);
	kt_eq(ret, -ENOSPC, "node beyond VPV_STORE_NODES_MAX");
	kt_check(n < VPV_STORE_NODES_MAX, "%u nodes written", n);
	kt_eq(vpv_store_rm("hostile/n"), 0, "rm of the nodes");
	kt_eq(vpv_store_write("hostile/n/0", "x"), 0, "write after the rm");
	kt_eq(vpv_store_rm("hostile/n"), 0, "rm again");
	return 0;
}

static atomic_t hv_wevents;

static void hv_watch_cb(struct vpv_store_watch *w, const char *path)
{
	atomic_inc(&hv_wevents);
}

/* Wait until no watch event came for 200 ms; the number seen. */
static int hv_wevents_settle(void)
{
	unsigned long deadline = jiffies + HV_TIMEOUT;
	int n;

	do {
		n = atomic_read(&hv_wevents);
		msleep(200);
	} while (n != atomic_read(&hv_wevents) &&
		 time_before(jiffies, deadline));
	return atomic_read(&hv_wevents);
}

enum { HV_WATCHES = VPV_STORE_WATCHES_MAX + 8, HV_BURST = 32 };

static int t_store_watch_flood(void)
{
	struct vpv_store_watch *w;
	unsigned int i, n, again = 0;
	char buf[16];
	int ret = 0, got;

	if (!hv_store_ok())
		return kt_skip("config store not available");
	w = kcalloc(HV_WATCHES, sizeof(*w), GFP_KERNEL);
	if (!kt_check(w, "no memory"))
		return 0;
	kt_eq(vpv_store_write("hostile/wf/x", "0"), 0, "write hostile/wf/x");
	atomic_set(&hv_wevents, 0);
	for (n = 0; n < HV_WATCHES; n++) {
		ret = vpv_store_watch(&w[n], "hostile/wf", hv_watch_cb);
		if (ret)
			break;
	}
	kt_out("# %s: %u watches registered, then %d\n", kt_name, n, ret);
	kt_eq(ret, -ENOSPC, "watch beyond VPV_STORE_WATCHES_MAX");
	kt_check(n > 0 && n <= VPV_STORE_WATCHES_MAX, "%u watches accepted", n);
	got = hv_wevents_settle();
	kt_check(got > 0 && got <= n, "%d events for %u new watches", got, n);

	/* each write fires every watch: more than the host queues */
	atomic_set(&hv_wevents, 0);
	for (i = 0; i < HV_BURST; i++)
		if (!kt_eq(vpv_store_printf(0, "hostile/wf/x", "%u", i), 0,
			   "write during the event flood"))
			break;
	kt_eq(vpv_store_read("hostile/wf/x", buf, sizeof(buf)), 2,
	      "read during the event flood");
	got = hv_wevents_settle();
	kt_out("# %s: %d of %u events arrived (the host drops the oldest)\n",
	       kt_name, got, n * HV_BURST);
	kt_check(got > 0 && got <= n * HV_BURST, "%d events for the burst", got);

	for (i = 0; i < n; i++)
		vpv_store_unwatch(&w[i]);
	hv_wevents_settle();
	atomic_set(&hv_wevents, 0);
	kt_eq(vpv_store_write("hostile/wf/x", "z"), 0, "write after unwatch");
	kt_eq(hv_wevents_settle(), 0, "events after unwatch");

	/* the host forgot them all: as many again */
	for (i = 0; i < n; i++) {
		ret = vpv_store_watch(&w[i], "hostile/wf", hv_watch_cb);
		if (!kt_eq(ret, 0, "watch again"))
			break;
		again++;
	}
	for (i = 0; i < again; i++)
		vpv_store_unwatch(&w[i]);
	kt_eq(vpv_store_rm("hostile/wf"), 0, "rm hostile/wf");
	kt_check(hv_store_ok(), "store no longer available");
	kfree(w);
	return 0;
}

/*
 * The store ring by hand: this guest's side of the protocol, written
 * by the test instead of vhypercall's client.
 */
struct hv_raw {
	struct vpv_store_ring *r;
	struct hv_port p;
	u32 req_prod;	/* ours */
	u32 rsp_cons;	/* ours */
	u32 id;
};

static bool hv_raw_connect(struct hv_raw *s, const char *what)
{
	struct vpv_store_ring *r = s->r;

	if (!kt_eq(hv_store_connect(s->p.port), 0, what))
		return false;
	s->req_prod = 0;
	s->rsp_cons = 0;
	return kt_check(!READ_ONCE(r->req_cons) && !READ_ONCE(r->req_prod) &&
			!READ_ONCE(r->rsp_cons) && !READ_ONCE(r->rsp_prod),
			"%s: indices not zeroed", what);
}

/* Stream @len bytes into the request ring, waiting for room. */
static bool hv_raw_put(struct hv_raw *s, const void *data, u32 len)
{
	unsigned long deadline = jiffies + HV_TIMEOUT;
	const u8 *p = data;
	u32 cons, n, off;

	while (len) {
		cons = READ_ONCE(s->r->req_cons);
		if (!kt_check(s->req_prod - cons <= VPV_STORE_RING_SIZE,
			      "host req_cons %u, req_prod %u", cons,
			      s->req_prod))
			return false;
		n = VPV_STORE_RING_SIZE - (s->req_prod - cons);
		if (!n) {
			if (!kt_check(time_before(jiffies, deadline),
				      "request ring stays full"))
				return false;
			usleep_range(1000, 2000);
			continue;
		}
		/* req_cons read before overwriting the bytes it released */
		smp_mb();
		off = s->req_prod & HV_RING_MASK;
		n = min3(n, len, VPV_STORE_RING_SIZE - off);
		memcpy(s->r->req + off, p, n);
		/* the bytes before the index */
		smp_wmb();
		s->req_prod += n;
		WRITE_ONCE(s->r->req_prod, s->req_prod);
		vpv_evtchn_notify(s->p.port);
		p += n;
		len -= n;
	}
	return true;
}

/* Read @len bytes of the response ring, waiting for them. */
static bool hv_raw_get(struct hv_raw *s, void *data, u32 len)
{
	unsigned long deadline = jiffies + HV_TIMEOUT;
	u32 prod, n, off;
	u8 *p = data;

	while (len) {
		prod = READ_ONCE(s->r->rsp_prod);
		n = prod - s->rsp_cons;
		if (!kt_check(n <= VPV_STORE_RING_SIZE,
			      "host rsp_prod %u, rsp_cons %u", prod,
			      s->rsp_cons))
			return false;
		if (!n) {
			if (!kt_check(time_before(jiffies, deadline),
				      "no answer from the store"))
				return false;
			usleep_range(1000, 2000);
			continue;
		}
		/* the index before the bytes */
		smp_rmb();
		off = s->rsp_cons & HV_RING_MASK;
		n = min3(n, len, VPV_STORE_RING_SIZE - off);
		memcpy(p, s->r->rsp + off, n);
		/* the bytes read before they are released */
		smp_mb();
		s->rsp_cons += n;
		WRITE_ONCE(s->r->rsp_cons, s->rsp_cons);
		vpv_evtchn_notify(s->p.port);
		p += n;
		len -= n;
	}
	return true;
}

static bool hv_raw_send(struct hv_raw *s, u32 type, u32 tx, const void *pay,
			u32 plen)
{
	struct vpv_store_msg m = {
		.type = type, .req_id = ++s->id, .tx_id = tx, .len = plen,
	};

	return hv_raw_put(s, &m, sizeof(m)) && hv_raw_put(s, pay, plen);
}

/* The next message that is not a watch event, its body NUL-terminated. */
static bool hv_raw_recv(struct hv_raw *s, struct vpv_store_msg *m, char *body,
			u32 size)
{
	for (;;) {
		if (!hv_raw_get(s, m, sizeof(*m)))
			return false;
		if (!kt_check(m->len < size, "answer of %u bytes (type %u)",
			      m->len, m->type))
			return false;
		if (!hv_raw_get(s, body, m->len))
			return false;
		body[m->len] = '\0';
		if (m->type != VPV_STORE_WATCH_EVENT)
			return true;
	}
}

/* One request; its answer must be @type with the string @want. */
static bool hv_raw_expect(struct hv_raw *s, u32 type, u32 tx, const void *pay,
			  u32 plen, u32 want_type, const char *want,
			  const char *what)
{
	struct vpv_store_msg m;
	char body[64];

	if (!hv_raw_send(s, type, tx, pay, plen) ||
	    !hv_raw_recv(s, &m, body, sizeof(body)))
		return kt_check(false, "%s: no answer", what);
	return kt_check(m.req_id == s->id && m.type == want_type &&
			!strcmp(body, want),
			"%s: answer type %u id %u \"%.32s\", want type %u id %u \"%s\"",
			what, m.type, m.req_id, body, want_type, s->id, want);
}

#define HV_RAW_PATH	"hostile/raw"
#define HV_RAW_VAL	"r4w"

static bool hv_raw_read_ok(struct hv_raw *s, const char *what)
{
	return hv_raw_expect(s, VPV_STORE_READ, 0, HV_RAW_PATH,
			     sizeof(HV_RAW_PATH), VPV_STORE_READ, HV_RAW_VAL,
			     what);
}

/* The host dropped the ring: our port is no longer its back-end's. */
static bool hv_raw_dropped(struct hv_raw *s, const char *what)
{
	unsigned long deadline = jiffies + HV_TIMEOUT;
	long st;

	for (;;) {
		st = vpv_evtchn_op(VPV_EVTCHNOP_STATUS, s->p.port, 0);
		if (st != VPV_EVTCHN_STAT_BACKEND ||
		    !time_before(jiffies, deadline))
			break;
		usleep_range(1000, 2000);
	}
	return kt_check(st == VPV_EVTCHN_STAT_UNBOUND,
			"%s: store port status %ld, want UNBOUND", what, st);
}

static void hv_raw_abuse(struct hv_raw *s, u8 *junk)
{
	static const char watch[] = HV_RAW_PATH "\0hvtok";
	struct vpv_store_ring *r = s->r;
	struct vpv_store_msg m;
	unsigned int i;

	/* framed but malformed: each gets its documented error */
	hv_raw_expect(s, VPV_STORE_WATCH, 0, watch, sizeof(watch),
		      VPV_STORE_WATCH, "OK", "WATCH");
	hv_raw_expect(s, VPV_STORE_WATCH, 0, watch, sizeof(watch),
		      VPV_STORE_ERROR, "EEXIST", "the same WATCH twice");
	hv_raw_expect(s, VPV_STORE_UNWATCH, 0, watch, sizeof(watch),
		      VPV_STORE_UNWATCH, "OK", "UNWATCH");
	hv_raw_expect(s, 0xdeadbeef, 0, "abc", 4, VPV_STORE_ERROR, "EINVAL",
		      "type 0xdeadbeef");
	hv_raw_expect(s, 0, 0, "abc", 4, VPV_STORE_ERROR, "EINVAL", "type 0");
	hv_raw_expect(s, VPV_STORE_WATCH_EVENT, 0, watch, sizeof(watch),
		      VPV_STORE_ERROR, "EINVAL", "a WATCH_EVENT from the guest");
	hv_raw_expect(s, VPV_STORE_ERROR, 0, "ENOENT", 7, VPV_STORE_ERROR,
		      "EINVAL", "an ERROR from the guest");
	hv_raw_expect(s, VPV_STORE_READ, 0x12345, HV_RAW_PATH,
		      sizeof(HV_RAW_PATH), VPV_STORE_ERROR, "EINVAL",
		      "READ in an unknown transaction");
	hv_raw_expect(s, VPV_STORE_TRANSACTION_END, 0, "T", 2,
		      VPV_STORE_ERROR, "EINVAL", "TRANSACTION_END of tx 0");
	hv_raw_expect(s, VPV_STORE_READ, 0, NULL, 0, VPV_STORE_ERROR,
		      "EINVAL", "READ with no path");
	hv_raw_expect(s, VPV_STORE_READ, 0, "/local/domain/0/x", 18,
		      VPV_STORE_ERROR, "EACCES", "READ outside the home");
	memset(junk, 'a', 300);
	junk[300] = '\0';
	hv_raw_expect(s, VPV_STORE_READ, 0, junk, 301, VPV_STORE_ERROR,
		      "E2BIG", "READ of a 300-byte path");
	hv_raw_read_ok(s, "READ after the malformed requests");

	/* a header announcing 5000 bytes: E2BIG, the 5000 skipped */
	m = (struct vpv_store_msg){ .type = VPV_STORE_WRITE,
				    .req_id = ++s->id, .len = 5000 };
	get_random_bytes(junk, 5000);
	if (hv_raw_put(s, &m, sizeof(m)) && hv_raw_put(s, junk, 5000)) {
		char body[16];

		if (hv_raw_recv(s, &m, body, sizeof(body)))
			kt_check(m.type == VPV_STORE_ERROR && m.req_id == s->id &&
				 !strcmp(body, "E2BIG"),
				 "len 5000: type %u id %u \"%s\"", m.type,
				 m.req_id, body);
		hv_raw_read_ok(s, "READ after a skipped 5000-byte payload");
	}

	/* a header announcing 1 GiB: E2BIG, then everything is skipped */
	m = (struct vpv_store_msg){ .type = VPV_STORE_READ,
				    .req_id = ++s->id, .len = 1U << 30 };
	if (hv_raw_put(s, &m, sizeof(m))) {
		char body[16];

		if (hv_raw_recv(s, &m, body, sizeof(body)))
			kt_check(m.type == VPV_STORE_ERROR && m.req_id == s->id &&
				 !strcmp(body, "E2BIG"),
				 "len 2^30: type %u id %u \"%s\"", m.type,
				 m.req_id, body);
		get_random_bytes(junk, 3000);
		hv_raw_put(s, junk, 3000);
		msleep(50);
		kt_eq(READ_ONCE(r->rsp_prod), s->rsp_cons,
		      "no answer while the payload is skipped");
	}
	hv_alive("after a 1 GiB store message");
	if (hv_raw_connect(s, "CONNECT again while skipping"))
		hv_raw_read_ok(s, "READ after a reconnect");

	/* more than a ring's worth produced: disconnected */
	WRITE_ONCE(r->req_prod, s->req_prod + 5000);
	vpv_evtchn_notify(s->p.port);
	hv_raw_dropped(s, "req_prod = req_cons + 5000");
	hv_alive("after req_prod + 5000");
	if (hv_raw_connect(s, "CONNECT after an index overflow"))
		hv_raw_read_ok(s, "READ after an index overflow");

	/* req_prod behind req_cons */
	WRITE_ONCE(r->req_prod, s->req_prod - 1);
	vpv_evtchn_notify(s->p.port);
	hv_raw_dropped(s, "req_prod = req_cons - 1");
	hv_alive("after req_prod - 1");

	/* rsp_cons ahead of what the host produced */
	if (hv_raw_connect(s, "CONNECT after req_prod - 1")) {
		WRITE_ONCE(r->rsp_cons, HV_IDX_JUNK);
		hv_raw_send(s, VPV_STORE_READ, 0, HV_RAW_PATH,
			    sizeof(HV_RAW_PATH));
		hv_raw_dropped(s, "rsp_cons = 2^31");
		hv_alive("after rsp_cons 2^31");
	}

	/* a ring full of random bytes, sixteen times */
	for (i = 0; i < 16; i++) {
		if (!hv_raw_connect(s, "CONNECT for random bytes"))
			break;
		get_random_bytes(r->req, VPV_STORE_RING_SIZE);
		/* the bytes before the index */
		smp_wmb();
		WRITE_ONCE(r->req_prod, VPV_STORE_RING_SIZE);
		vpv_evtchn_notify(s->p.port);
		usleep_range(2000, 4000);
		/* throw the answers away */
		WRITE_ONCE(r->rsp_cons, READ_ONCE(r->rsp_prod));
		vpv_evtchn_notify(s->p.port);
		if (!hv_alive("after a ring of random bytes"))
			break;
	}

	/* and a clean connection still works */
	if (hv_raw_connect(s, "CONNECT after the abuse"))
		hv_raw_read_ok(s, "READ after the abuse");
}

/*
 * Last test: takes the store ring from vhypercall's client, abuses it,
 * and breaks that client, which must reconnect by itself.
 */
static int t_store_ring_abuse(void)
{
	struct hv_raw s = { };
	u32 save_req, save_rsp;
	char buf[16];
	int old;
	u8 *junk;

	if (!hv_store_ok() || !hv_evtchn_ok())
		return kt_skip("config store not available");
	if (hv_store_offset < sizeof(struct vpv_shared_header) ||
	    (u64)hv_store_offset + sizeof(*s.r) > hv_shm_size)
		return kt_skip("store ring outside the shared region");
	junk = kmalloc(5000, GFP_KERNEL);
	if (!kt_check(junk, "no memory"))
		return 0;
	if (!kt_eq(vpv_store_write(HV_RAW_PATH, HV_RAW_VAL), 0,
		   "write " HV_RAW_PATH))
		goto out;
	old = hv_find_store_port();
	kt_check(old > 0, "no single store port: %d", old);
	s.r = (void *)hv_hdr() + hv_store_offset;
	/* vhypercall's client is idle: its private indices are these */
	save_req = READ_ONCE(s.r->req_prod);
	save_rsp = READ_ONCE(s.r->rsp_cons);
	if (hv_port_open(&s.p, false))
		goto out;
	kt_out("# %s: taking the store ring from port %d to port %d\n",
	       kt_name, old, s.p.port);
	if (!hv_raw_connect(&s, "CONNECT a port of our own"))
		goto close;
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, s.p.port, 0),
	      VPV_EVTCHN_STAT_BACKEND, "the new store port is bound");
	if (old > 0)
		kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, old, 0),
		      VPV_EVTCHN_STAT_UNBOUND, "the old store port is released");
	if (hv_raw_read_ok(&s, "READ by hand"))
		hv_raw_abuse(&s, junk);

	/* leave the host disconnected, then break vhypercall's client */
	WRITE_ONCE(s.r->req_prod, s.req_prod + 5000);
	vpv_evtchn_notify(s.p.port);
	hv_raw_dropped(&s, "final req_prod + 5000");
	WRITE_ONCE(s.r->req_cons, save_req + HV_IDX_JUNK);
	WRITE_ONCE(s.r->rsp_prod, save_rsp + HV_IDX_JUNK);
	if (old > 0) {
		unsigned long deadline = jiffies + HV_TIMEOUT;

		/* its port rings: it finds rsp_prod broken */
		vpv_evtchn_op(VPV_EVTCHNOP_FIRE, old, 1);
		while (hv_store_ok() && time_before(jiffies, deadline))
			usleep_range(1000, 2000);
		kt_check(!hv_store_ok(),
			 "vhypercall's client accepted a broken rsp_prod");
	}
	/* the API waits for the reconnect (100 ms after the error) */
	kt_eq(vpv_store_read(HV_RAW_PATH, buf, sizeof(buf)),
	      (int)strlen(HV_RAW_VAL), "API read after the client reconnected");
	kt_check(hv_store_ok(), "the store client did not recover");
close:
	vpv_evtchn_close(s.p.port);
	hv_alive("after the store ring abuse");
out:
	kfree(junk);
	return 0;
}

/* ---------------------------------------------------------------- */

static const struct kt_test hv_tests[] = {
	{ "hostile_multicall_args", t_mc_args },
	{ "hostile_multicall_garbage_entries", t_mc_garbage },
	{ "hostile_memchk_args", t_memchk_args },
	{ "hostile_evtchn_args", t_evtchn_args },
	{ "hostile_hypercall_numbers", t_hc_numbers },
	{ "hostile_negotiate_args", t_negotiate_args },
	{ "shm_header_scribble", t_shm_header },
	{ "shm_evtchn_flood", t_shm_evtchn_flood },
	{ "raw_ping_flood", t_raw_ping_flood },
	{ "shm_slot_reserved_garbage", t_slot_reserved },
	{ "shm_slot_rogue_state", t_slot_rogue },
	{ "after_nop", t_after_nop },
	{ "after_multicall_64", t_after_multicall },
	{ "after_evtchn_echo_fresh_port", t_after_evtchn },
	{ "split_gnttab_copy_args", t_gnt_copy_args },
	{ "split_store_connect_args", t_store_connect_args },
	{ "split_store_oversized", t_store_oversized },
	{ "split_store_limits", t_store_limits },
	{ "split_store_watch_flood", t_store_watch_flood },
	/* last: breaks this guest's store until vhypercall is reloaded */
	{ "split_store_ring_abuse", t_store_ring_abuse },
};

/* Before the first test: the RAM layout, read before anything scribbles it. */
static const char *hv_setup(void)
{
	if (!hv_hdr())
		return "no pvkit host bound";
	hv_layout();
	return NULL;
}

static int __init hv_init(void)
{
	int nr = kt_run(hv_tests, ARRAY_SIZE(hv_tests), NULL, hv_setup,
			"vpv_hostile");

	return nr < 0 ? nr : 0;
}

static void __exit hv_exit(void)
{
	kt_cleanup();
}

module_init(hv_init);
module_exit(hv_exit);

MODULE_DESCRIPTION("pvkit hostile guest test: the host stub survives a malicious guest");
MODULE_LICENSE("GPL");
