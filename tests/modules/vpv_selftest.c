// SPDX-License-Identifier: GPL-2.0
/*
 * vpv_selftest: integration tests of vhypercall.ko against a running
 * vpv-host.  Runs on load, writes KTAP-style results to
 * /sys/kernel/debug/vpv_selftest/results and stays loaded (returns 0)
 * so that the caller can read them, then rmmod it.
 *
 *   insmod vpv_selftest.ko [tests=all|name,name,...] [bench=1]
 *
 * The negotiate test renegotiates, which closes every event channel of
 * the guest: run it with no other pvkit module loaded.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <asm/msr.h>
#include <asm/tsc.h>
#include <pvkit/vhypercall.h>

#include "hypercall/vhypercall_logic.h"

#define KT_BUF_SIZE	(128 * 1024)
#include "pvkit_ktap.h"

static char *tests = "all";
module_param(tests, charp, 0444);
MODULE_PARM_DESC(tests,
		 "\"all\" (default) or a comma-separated list of tests");

static bool bench;
module_param(bench, bool, 0444);
MODULE_PARM_DESC(bench, "Also run the benchmarks (default 0)");

static unsigned int nports = 256;
module_param(nports, uint, 0444);
MODULE_PARM_DESC(nports, "Event channel ports used by the evtchn tests");

static unsigned int rounds = 16;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "Echo ping-pong rounds per port");

static unsigned int iters = 2000;
module_param(iters, uint, 0444);
MODULE_PARM_DESC(iters, "Benchmark iterations for single calls");

#define ST_EVT_TIMEOUT	msecs_to_jiffies(5000)
#define NOP_MASK	0x7fffffffffffffffULL
#define BENCH_SPIN_US	1000000	/* "spin mode": never sleep */

static struct vpv_shared_header *st_hdr(void)
{
	return vpv_shared_base(NULL);
}

/* ---------------------------------------------------------------- */

static int t_nop(void)
{
	static const u64 vals[] = {
		0, 1, 0x1234, 0xdeadbeefcafe, NOP_MASK,
		0x8000000000000001ULL, ~0ULL,
	};
	unsigned int i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		ret = vpv_hypercall4(VPV_HC_NOP, vals[i], ~vals[i], 42, 43);
		kt_check(ret == (long)(vals[i] & NOP_MASK),
			 "NOP(%#llx) = %#lx", vals[i], ret);
	}
	return 0;
}

/*
 * "The host polls" forged in hc_poll while the host does not poll:
 * every call skips its doorbell and must still complete, by the late
 * doorbell after spin_us, not by the timeout (which fails the call and
 * retires the slot).  The benchmark lost such a call for real on a
 * one-vCPU TCG guest (see vpv_slot_wait()).  The host may clear the
 * flag meanwhile (it polls in some rounds), so it is set for each call.
 */
#define ST_FORGED_CALLS	5
static int t_poll_forged(void)
{
	struct vpv_shared_header *hdr = st_hdr();
	u64 t0, worst = 0;
	unsigned int i;
	long ret;

	if (!kt_check(hdr, "no shared region") ||
	    !kt_check(vpv_features() & VPV_F_HC_POLL,
		      "HC_POLL not negotiated"))
		return 0;
	for (i = 0; i < ST_FORGED_CALLS; i++) {
		WRITE_ONCE(hdr->hc_poll, VPV_HC_POLL_ACTIVE);
		t0 = ktime_get_ns();
		ret = vpv_hypercall4(VPV_HC_NOP, i, 0, 0, 0);
		worst = max(worst, ktime_get_ns() - t0);
		if (!kt_check(ret == (long)i, "NOP(%u) = %ld", i, ret))
			break;
	}
	WRITE_ONCE(hdr->hc_poll, 0);
	kt_out("# poll_forged: slowest of %u calls %llu us\n", i,
	       worst / NSEC_PER_USEC);
	kt_check(worst < 2 * NSEC_PER_SEC,
		 "a call took %llu ms: not rung late", worst / NSEC_PER_MSEC);
	return 0;
}

static int t_negotiate(void)
{
	struct vpv_shared_header *hdr = st_hdr();
	u64 f = vpv_features();
	u64 offered, wanted;

	if (!kt_check(hdr, "no shared region"))
		return 0;
	offered = READ_ONCE(hdr->host_features);
	wanted = READ_ONCE(hdr->guest_features);
	kt_out("# negotiate: host_features %#llx guest_features %#llx accepted %#llx\n",
	       offered, wanted, f);
	kt_check(f == (offered & wanted), "accepted %#llx != %#llx & %#llx",
		 f, offered, wanted);
	kt_check(!(f & BIT_ULL(63)), "bit 63 set in %#llx", f);
	kt_check(f & VPV_F_MULTICALL, "MULTICALL not negotiated");
	kt_check(f & VPV_F_EVTCHN, "EVTCHN not negotiated");
	kt_eq(READ_ONCE(hdr->magic), VPV_MAGIC, "magic");
	kt_eq(READ_ONCE(hdr->abi_version) >> 16, VPV_ABI_MAJOR, "ABI major");
	kt_eq(READ_ONCE(hdr->guest_status), VPV_GUEST_UP, "guest_status");
	kt_eq(READ_ONCE(hdr->host_status), VPV_HOST_READY, "host_status");

	/* a different major is refused ... */
	kt_eq(vpv_hypercall2(VPV_HC_NEGOTIATE, (VPV_ABI_MAJOR + 1) << 16, f),
	      -EPROTO, "NEGOTIATE(major + 1)");
	/* ... and renegotiating the same set gives it back */
	kt_eq(vpv_hypercall2(VPV_HC_NEGOTIATE, VPV_ABI_VERSION, f), f,
	      "NEGOTIATE again");
	kt_eq(vpv_hypercall2(VPV_HC_NOP, 7, 0), 7, "NOP after renegotiation");
	return 0;
}

static struct vpv_multicall_entry *st_entries(unsigned int n)
{
	return kcalloc(max(n, 1u), sizeof(struct vpv_multicall_entry),
		       GFP_KERNEL);
}

static void st_fill_nops(struct vpv_multicall_entry *e, unsigned int n,
			 u64 tag)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		e[i].op = VPV_HC_NOP;
		e[i].flags = 0;
		e[i].args[0] = (tag << 32) | (i * 7 + 1) |
			       (i & 1 ? BIT_ULL(63) : 0);
		e[i].args[1] = i;
		e[i].result = -12345;
	}
}

static void st_check_nops(struct vpv_multicall_entry *e, unsigned int from,
			  unsigned int to, const char *what)
{
	unsigned int i;

	for (i = from; i < to; i++)
		if (!kt_check(e[i].result == (s64)(e[i].args[0] & NOP_MASK),
			      "%s: entry %u result %lld, want %llu", what, i,
			      e[i].result, e[i].args[0] & NOP_MASK))
			break;
}

static int t_multicall(void)
{
	unsigned int max = vpv_multicall_max();
	unsigned int sizes[] = { 1, 2, 64, max };
	struct vpv_multicall_entry *e;
	char what[32];
	unsigned int i;
	long ret;

	if (!max)
		return kt_skip("multicall not negotiated");
	kt_out("# multicall: multicall_max %u\n", max);
	e = st_entries(max);
	if (!kt_check(e, "no memory"))
		return 0;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		if (sizes[i] > max)
			continue;
		st_fill_nops(e, sizes[i], sizes[i]);
		snprintf(what, sizeof(what), "multicall(%u)", sizes[i]);
		ret = vpv_multicall(e, sizes[i], 0);
		if (kt_eq(ret, sizes[i], what))
			st_check_nops(e, 0, sizes[i], what);
		/* the same with STOP_ON_ERROR and no error */
		st_fill_nops(e, sizes[i], sizes[i] + 1000);
		ret = vpv_multicall(e, sizes[i], VPV_MC_STOP_ON_ERROR);
		if (kt_eq(ret, sizes[i], what))
			st_check_nops(e, 0, sizes[i], what);
	}
	kfree(e);
	return 0;
}

static int t_mc_error(void)
{
	const unsigned int n = 9, bad = 4;
	struct vpv_multicall_entry *e;
	unsigned int i;
	long ret;

	if (!vpv_multicall_max())
		return kt_skip("multicall not negotiated");
	e = st_entries(n);
	if (!kt_check(e, "no memory"))
		return 0;

	/* unknown op in the middle, no STOP_ON_ERROR: all run */
	st_fill_nops(e, n, 1);
	e[bad].op = VPV_HC_MAX - 1;
	ret = vpv_multicall(e, n, 0);
	kt_eq(ret, n, "executed without STOP_ON_ERROR");
	st_check_nops(e, 0, bad, "before bad");
	kt_eq(e[bad].result, -VPV_ENOSYS, "bad entry result");
	st_check_nops(e, bad + 1, n, "after bad");

	/* with STOP_ON_ERROR: stops at the bad one, the rest -EAGAIN */
	st_fill_nops(e, n, 2);
	e[bad].op = VPV_HC_MAX - 1;
	ret = vpv_multicall(e, n, VPV_MC_STOP_ON_ERROR);
	kt_eq(ret, bad + 1, "executed with STOP_ON_ERROR");
	st_check_nops(e, 0, bad, "before bad (stop)");
	kt_eq(e[bad].result, -VPV_ENOSYS, "bad entry result (stop)");
	for (i = bad + 1; i < n; i++)
		kt_eq(e[i].result, -EAGAIN, "skipped entry result");

	/* a nested multicall entry is refused */
	st_fill_nops(e, n, 3);
	e[bad].op = VPV_HC_MULTICALL;
	e[bad].args[0] = virt_to_phys(e);
	e[bad].args[1] = 1;
	ret = vpv_multicall(e, n, 0);
	kt_eq(ret, n, "executed with nested multicall");
	kt_eq(e[bad].result, -EINVAL, "nested multicall entry");
	st_check_nops(e, bad + 1, n, "after nested");

	/* entry flags must be 0 */
	st_fill_nops(e, n, 4);
	e[bad].flags = 1;
	ret = vpv_multicall(e, n, 0);
	kt_eq(ret, n, "executed with bad entry flags");
	kt_eq(e[bad].result, -EINVAL, "entry with flags != 0");

	/* an error entry at the very end and the very start */
	st_fill_nops(e, n, 5);
	e[0].op = VPV_HC_MAX - 1;
	ret = vpv_multicall(e, n, VPV_MC_STOP_ON_ERROR);
	kt_eq(ret, 1, "STOP_ON_ERROR, first entry bad");
	kt_eq(e[n - 1].result, -EAGAIN, "last entry after a bad first");
	kfree(e);
	return 0;
}

static int t_hc_invalid(void)
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
	unsigned int nr;
	char what[32];
	long ret;

	/* refused locally */
	kt_eq(vpv_hypercall2(VPV_HC_MAX, 0, 0), -EINVAL, "nr VPV_HC_MAX");
	kt_eq(vpv_hypercall2(VPV_HC_MAX + 1, 0, 0), -EINVAL, "nr MAX + 1");
	kt_eq(vpv_hypercall2(~0u, 0, 0), -EINVAL, "nr ~0");
	/* unknown to the host */
	for (nr = VPV_HC_STORE_OP + 1; nr < VPV_HC_MAX; nr++) {
		snprintf(what, sizeof(what), "hypercall %u", nr);
		kt_eq(vpv_hypercall2(nr, 0, 0), -VPV_ENOSYS, what);
	}
	/* reserved numbers: -VPV_ENOSYS while the feature is not there */
	for (nr = 0; nr < ARRAY_SIZE(reserved); nr++) {
		if (f & reserved[nr].feature)
			continue;
		ret = vpv_hypercall2(reserved[nr].nr, 0, 0);
		kt_check(ret == -VPV_ENOSYS || ret == -EOPNOTSUPP,
			 "reserved hypercall %u: got %ld, want -VPV_ENOSYS",
			 reserved[nr].nr, ret);
	}
	return 0;
}

static u64 st_ram_size(void)
{
	struct vpv_shared_header *hdr = st_hdr();

	return hdr ? READ_ONCE(hdr->guest_ram_size) : 0;
}

static int t_mc_invalid(void)
{
	unsigned int max = vpv_multicall_max();
	struct vpv_multicall_entry *e;
	u64 gpa, ram = st_ram_size();

	if (!max)
		return kt_skip("multicall not negotiated");
	e = st_entries(max + 1);
	if (!kt_check(e, "no memory"))
		return 0;
	st_fill_nops(e, max + 1, 9);
	gpa = virt_to_phys(e);

	/* refused locally */
	kt_eq(vpv_multicall(e, 0, 0), -EINVAL, "local count 0");
	kt_eq(vpv_multicall(e, max + 1, 0), -E2BIG, "local count max + 1");
	kt_eq(vpv_multicall(e, 1, 2), -EINVAL, "local flags 2");
	kt_eq(vpv_multicall(NULL, 1, 0), -EINVAL, "local NULL entries");

	/* refused by the host (raw hypercall, no local checks) */
	kt_eq(vpv_hypercall4(VPV_HC_MULTICALL, gpa, 0, 0, 0), -EINVAL,
	      "host count 0");
	kt_eq(vpv_hypercall4(VPV_HC_MULTICALL, gpa, max + 1, 0, 0), -E2BIG,
	      "host count max + 1");
	kt_eq(vpv_hypercall4(VPV_HC_MULTICALL, gpa, 1, 2, 0), -EINVAL,
	      "host flags 2");
	/* Documentation/abi.rst: misaligned is -EFAULT like outside RAM */
	kt_eq(vpv_hypercall4(VPV_HC_MULTICALL, gpa + 4, 1, 0, 0), -EFAULT,
	      "host misaligned GPA");
	kt_eq(vpv_hypercall4(VPV_HC_MULTICALL, 1ULL << 46, 1, 0, 0), -EFAULT,
	      "host GPA 1 << 46");
	kt_eq(vpv_hypercall4(VPV_HC_MULTICALL, ~0ULL & ~7ULL, 2, 0, 0),
	      -EFAULT, "host GPA at the top of the address space");
	/* low RAM is one block [0, ram) when it is at most 2 GiB */
	if (ram && ram <= SZ_2G)
		kt_eq(vpv_hypercall4(VPV_HC_MULTICALL, ram - 64, 2, 0, 0),
		      -EFAULT, "host entries straddling the end of RAM");
	kfree(e);
	return 0;
}

static int t_memchk(void)
{
	static const struct {
		unsigned int off, len;
	} cases[] = {
		{ 0, 1 }, { 3, 100 }, { 0, 4096 }, { 100, 8000 },
		{ 4095, 2 }, { 0, 65536 },
	};
	u8 *buf, *big;
	unsigned int i;
	long ret;
	u32 want;

	buf = kmalloc(65536 + 4096, GFP_KERNEL);
	if (!kt_check(buf, "no memory"))
		return 0;
	for (i = 0; i < 65536 + 4096; i++)
		buf[i] = (u8)(i * 131 + (i >> 8));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		want = vpv_fnv1a32(buf + cases[i].off, cases[i].len);
		ret = vpv_hypercall2(VPV_HC_MEMCHK,
				     virt_to_phys(buf + cases[i].off),
				     cases[i].len);
		kt_check(ret == want, "MEMCHK(+%u, %u) = %#lx, want %#x",
			 cases[i].off, cases[i].len, ret, want);
	}
	/* the guest changes the buffer, the host sees the change */
	buf[10] ^= 0xff;
	want = vpv_fnv1a32(buf, 4096);
	ret = vpv_hypercall2(VPV_HC_MEMCHK, virt_to_phys(buf), 4096);
	kt_check(ret == want, "MEMCHK after a change = %#lx, want %#x",
		 ret, want);
	kfree(buf);

	/* the maximum length, if a physically contiguous MiB is available */
	big = kmalloc(VPV_MEMCHK_MAX, GFP_KERNEL | __GFP_NOWARN);
	if (big) {
		for (i = 0; i < VPV_MEMCHK_MAX; i++)
			big[i] = (u8)(i ^ (i >> 11));
		want = vpv_fnv1a32(big, VPV_MEMCHK_MAX);
		ret = vpv_hypercall2(VPV_HC_MEMCHK, virt_to_phys(big),
				     VPV_MEMCHK_MAX);
		kt_check(ret == want, "MEMCHK(1 MiB) = %#lx, want %#x",
			 ret, want);
		kfree(big);
	} else {
		kt_out("# memchk: no contiguous MiB, max length not tested\n");
	}
	return 0;
}

static int t_memchk_invalid(void)
{
	u64 ram = st_ram_size();
	u8 *buf;

	buf = kmalloc(64, GFP_KERNEL);
	if (!kt_check(buf, "no memory"))
		return 0;
	kt_eq(vpv_hypercall2(VPV_HC_MEMCHK, 1ULL << 46, 16), -EFAULT,
	      "MEMCHK at GPA 1 << 46");
	kt_eq(vpv_hypercall2(VPV_HC_MEMCHK, ~0ULL - 7, 16), -EFAULT,
	      "MEMCHK wrapping around");
	if (ram && ram <= SZ_2G)
		kt_eq(vpv_hypercall2(VPV_HC_MEMCHK, ram - 8, 16), -EFAULT,
		      "MEMCHK straddling the end of RAM");
	kt_eq(vpv_hypercall2(VPV_HC_MEMCHK, virt_to_phys(buf), 0), -EINVAL,
	      "MEMCHK len 0");
	kt_eq(vpv_hypercall2(VPV_HC_MEMCHK, virt_to_phys(buf),
			     VPV_MEMCHK_MAX + 1), -E2BIG, "MEMCHK len max + 1");
	kt_eq(vpv_hypercall2(VPV_HC_MEMCHK, virt_to_phys(buf), ~0ULL), -E2BIG,
	      "MEMCHK len ~0");
	kfree(buf);
	return 0;
}

static int t_alive(void)
{
	kt_eq(vpv_hypercall2(VPV_HC_NOP, 0x600d, 0), 0x600d,
	      "NOP after the invalid calls");
	return 0;
}

/* ---------------------------------------------------------------- */
/* Event channels                                                    */

struct st_port {
	int port;
	atomic_t hits;
};

static struct st_port *st_ports;
static unsigned int st_nports;
static atomic_t st_total_hits = ATOMIC_INIT(0);
static atomic_t st_wrong_port = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(st_wq);

static void st_handler(unsigned int port, void *data)
{
	struct st_port *p = data;

	if (READ_ONCE(p->port) != port)
		atomic_inc(&st_wrong_port);
	atomic_inc(&p->hits);
	atomic_inc(&st_total_hits);
	wake_up(&st_wq);
}

static void st_ports_close(void)
{
	unsigned int i;

	for (i = 0; i < st_nports; i++)
		if (st_ports[i].port > 0)
			vpv_evtchn_close(st_ports[i].port);
	kfree(st_ports);
	st_ports = NULL;
	st_nports = 0;
}

static bool st_evtchn_ok(void)
{
	return vpv_features() & VPV_F_EVTCHN;
}

/* Allocate the test ports (once) and bind the echo service to each. */
static int st_ports_get(void)
{
	struct vpv_shared_header *hdr = st_hdr();
	unsigned int i, n = nports;
	long ret;
	int port;

	if (st_ports)
		return 0;
	if (hdr)
		n = min_t(u32, n, READ_ONCE(hdr->evtchn_nr_ports) - 1);
	st_ports = kcalloc(n, sizeof(*st_ports), GFP_KERNEL);
	if (!kt_check(st_ports, "no memory"))
		return -ENOMEM;
	st_nports = n;
	for (i = 0; i < n; i++) {
		port = vpv_evtchn_alloc(VPV_DOMID_HOST, st_handler,
					&st_ports[i]);
		if (!kt_check(port > 0, "alloc %u: %d", i, port))
			return -EIO;
		WRITE_ONCE(st_ports[i].port, port);
		ret = vpv_evtchn_op(VPV_EVTCHNOP_STATUS, port, 0);
		kt_eq(ret, VPV_EVTCHN_STAT_UNBOUND, "STATUS after alloc");
		ret = vpv_evtchn_op(VPV_EVTCHNOP_BIND_ECHO, port, 0);
		if (!kt_eq(ret, 0, "BIND_ECHO"))
			return -EIO;
		ret = vpv_evtchn_op(VPV_EVTCHNOP_STATUS, port, 0);
		kt_eq(ret, VPV_EVTCHN_STAT_ECHO, "STATUS after BIND_ECHO");
	}
	return 0;
}

static bool st_hits_reached(unsigned int want)
{
	return atomic_read(&st_total_hits) >= want;
}

static int t_evtchn_alloc(void)
{
	unsigned int i, j;

	if (!st_evtchn_ok())
		return kt_skip("event channels not negotiated");
	if (st_ports_get())
		return 0;
	for (i = 0; i < st_nports; i++)
		for (j = i + 1; j < st_nports; j++)
			if (!kt_check(st_ports[i].port != st_ports[j].port,
				      "port %d allocated twice",
				      st_ports[i].port))
				return 0;
	kt_out("# evtchn_alloc: %u ports, %d..%d\n", st_nports,
	       st_ports[0].port, st_ports[st_nports - 1].port);
	return 0;
}

static int t_evtchn_echo(void)
{
	unsigned int r, i, base, want;
	u64 t0;

	if (!st_evtchn_ok())
		return kt_skip("event channels not negotiated");
	if (st_ports_get())
		return 0;
	for (i = 0; i < st_nports; i++)
		atomic_set(&st_ports[i].hits, 0);
	atomic_set(&st_wrong_port, 0);
	base = atomic_read(&st_total_hits);
	t0 = ktime_get_ns();
	for (r = 1; r <= rounds; r++) {
		/* every port once per round, then wait for all echoes */
		for (i = 0; i < st_nports; i++)
			vpv_evtchn_notify(st_ports[i].port);
		want = base + r * st_nports;
		wait_event_timeout(st_wq, st_hits_reached(want),
				   ST_EVT_TIMEOUT);
		if (!kt_check(st_hits_reached(want),
			      "round %u: %d of %u echoes", r,
			      atomic_read(&st_total_hits) - base,
			      r * st_nports))
			return 0;
	}
	kt_out("# evtchn_echo: %u ports x %u rounds in %llu us\n", st_nports,
	       rounds, (ktime_get_ns() - t0) / 1000);
	msleep(20);
	for (i = 0; i < st_nports; i++)
		kt_check(atomic_read(&st_ports[i].hits) == rounds,
			 "port %d: %d echoes, want %u", st_ports[i].port,
			 atomic_read(&st_ports[i].hits), rounds);
	kt_eq(atomic_read(&st_wrong_port), 0, "handler called for wrong port");
	return 0;
}

/* FIRE(port, count) and wait for the handler calls it reports. */
static long st_fire(struct st_port *p, unsigned int count)
{
	int before = atomic_read(&p->hits);
	long ret;

	ret = vpv_evtchn_op(VPV_EVTCHNOP_FIRE, p->port, count);
	if (ret < 0)
		return ret;
	wait_event_timeout(st_wq, atomic_read(&p->hits) >= before + ret,
			   ST_EVT_TIMEOUT);
	return atomic_read(&p->hits) - before == ret ? ret : -ETIMEDOUT;
}

static int t_evtchn_fire(void)
{
	unsigned int i, sent = 0;
	int base;
	long ret;

	if (!st_evtchn_ok())
		return kt_skip("event channels not negotiated");
	if (st_ports_get())
		return 0;
	for (i = 0; i < st_nports; i++)
		if (!kt_eq(st_fire(&st_ports[i], 1), 1, "FIRE(port, 1)"))
			return 0;

	/* many raises: delivered == reported, never more */
	ret = st_fire(&st_ports[0], 1000);
	kt_check(ret >= 1 && ret <= 1000, "FIRE(port, 1000) = %ld", ret);
	kt_out("# evtchn_fire: 1000 raises delivered as %ld events\n", ret);

	/* all ports at once, then count */
	base = atomic_read(&st_total_hits);
	for (i = 0; i < st_nports; i++) {
		ret = vpv_evtchn_op(VPV_EVTCHNOP_FIRE, st_ports[i].port, 1);
		if (ret > 0)
			sent += ret;
	}
	kt_eq(sent, st_nports, "FIRE(1) on all ports delivered");
	wait_event_timeout(st_wq, st_hits_reached(base + sent),
			   ST_EVT_TIMEOUT);
	msleep(20);
	kt_eq(atomic_read(&st_total_hits) - base, sent, "handler calls");

	/* count outside 1..65536 */
	ret = vpv_evtchn_op(VPV_EVTCHNOP_FIRE, st_ports[0].port, 0);
	kt_check(ret < 0, "FIRE(port, 0) = %ld, want an error", ret);
	ret = vpv_evtchn_op(VPV_EVTCHNOP_FIRE, st_ports[0].port, 65537);
	kt_check(ret < 0, "FIRE(port, 65537) = %ld, want an error", ret);
	/* nothing arrives for those */
	base = atomic_read(&st_total_hits);
	msleep(20);
	kt_eq(atomic_read(&st_total_hits) - base, 0, "events after bad FIRE");
	return 0;
}

static int t_evtchn_mask(void)
{
	struct st_port *p;
	int before;
	long ret;

	if (!st_evtchn_ok())
		return kt_skip("event channels not negotiated");
	if (st_ports_get())
		return 0;
	p = &st_ports[st_nports / 2];

	/* host -> guest while masked: stays pending, no upcall */
	vpv_evtchn_mask(p->port);
	before = atomic_read(&p->hits);
	ret = vpv_evtchn_op(VPV_EVTCHNOP_FIRE, p->port, 3);
	kt_eq(ret, 1, "FIRE(masked port, 3)");
	msleep(50);
	kt_eq(atomic_read(&p->hits) - before, 0, "upcalls while masked");
	/* unmask re-raises it locally: exactly one upcall */
	vpv_evtchn_unmask(p->port);
	wait_event_timeout(st_wq, atomic_read(&p->hits) > before,
			   ST_EVT_TIMEOUT);
	msleep(20);
	kt_eq(atomic_read(&p->hits) - before, 1, "upcalls after unmask");

	/* echo reply while masked */
	vpv_evtchn_mask(p->port);
	before = atomic_read(&p->hits);
	vpv_evtchn_notify(p->port);
	msleep(50);
	kt_eq(atomic_read(&p->hits) - before, 0, "echo upcalls while masked");
	vpv_evtchn_unmask(p->port);
	wait_event_timeout(st_wq, atomic_read(&p->hits) > before,
			   ST_EVT_TIMEOUT);
	kt_eq(atomic_read(&p->hits) - before, 1, "echo upcalls after unmask");

	/* unmasking a port with nothing pending does nothing */
	before = atomic_read(&p->hits);
	vpv_evtchn_mask(p->port);
	vpv_evtchn_unmask(p->port);
	msleep(20);
	kt_eq(atomic_read(&p->hits) - before, 0, "upcalls after empty unmask");

	/* and the port works normally again */
	kt_eq(st_fire(p, 1), 1, "FIRE after unmask");
	return 0;
}

static void st_null_handler(unsigned int port, void *data)
{
}

static int t_evtchn_close(void)
{
	unsigned int i, n;
	long ret;
	int port;

	if (!st_evtchn_ok())
		return kt_skip("event channels not negotiated");
	if (st_ports_get())
		return 0;
	n = st_nports;
	port = st_ports[0].port;
	for (i = 0; i < n; i++) {
		vpv_evtchn_close(st_ports[i].port);
		ret = vpv_evtchn_op(VPV_EVTCHNOP_STATUS, st_ports[i].port, 0);
		kt_eq(ret, VPV_EVTCHN_STAT_CLOSED, "STATUS of a closed port");
		st_ports[i].port = 0;
	}
	st_ports_close();
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_CLOSE, port, 0), -ENOENT,
	      "CLOSE of a closed port");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_BIND_ECHO, port, 0), -ENOENT,
	      "BIND_ECHO on a closed port");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_FIRE, port, 1), -ENOENT,
	      "FIRE on a closed port");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, 0, 0), -EINVAL,
	      "STATUS of port 0");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_STATUS, VPV_EVTCHN_MAX_PORTS, 0),
	      -EINVAL, "STATUS of port 4096");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_CLOSE, (1ULL << 32) | 1, 0), -EINVAL,
	      "CLOSE of port 2^32 + 1");
	kt_eq(vpv_evtchn_op(VPV_EVTCHNOP_ALLOC, 1, 0), -EINVAL,
	      "ALLOC with remote != VPV_DOMID_HOST");
	kt_eq(vpv_evtchn_alloc(1, st_null_handler, NULL), -EINVAL,
	      "vpv_evtchn_alloc(remote 1)");
	kt_eq(vpv_evtchn_op(99, 0, 0), -VPV_ENOSYS, "unknown EVTCHN_OP");
	return 0;
}

static int t_evtchn_exhaust(void)
{
	struct vpv_shared_header *hdr = st_hdr();
	unsigned int nr, n = 0, i;
	int *ports, port;

	if (!st_evtchn_ok() || !hdr)
		return kt_skip("event channels not negotiated");
	nr = READ_ONCE(hdr->evtchn_nr_ports);
	ports = kcalloc(nr, sizeof(*ports), GFP_KERNEL);
	if (!kt_check(ports, "no memory"))
		return 0;
	for (;;) {
		port = vpv_evtchn_alloc(VPV_DOMID_HOST, st_null_handler, NULL);
		if (port < 0 || n >= nr)
			break;
		ports[n++] = port;
	}
	kt_eq(port, -ENOSPC, "alloc when all ports are in use");
	kt_check(n >= 1 && n <= nr - 1, "%u ports of %u allocated", n, nr);
	kt_out("# evtchn_exhaust: %u of %u ports allocated\n", n, nr);
	for (i = 0; i < n; i++)
		vpv_evtchn_close(ports[i]);
	port = vpv_evtchn_alloc(VPV_DOMID_HOST, st_null_handler, NULL);
	if (kt_check(port > 0, "alloc after closing all: %d", port))
		vpv_evtchn_close(port);
	kfree(ports);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Benchmarks                                                        */

static u64 st_ratio100(u64 a, u64 b)
{
	return b ? div64_u64(a * 100, b) : 0;
}

/*
 * Every variant runs once per iteration, in a fixed order, so the
 * variants compared in a ratio saw the same moments of the host: a
 * host that changes mode half-way shifts all of them, not one.  Each
 * sample is the mean of a batch of bench_batch operations (the clock
 * read costs more than a poll under TCG); each variant reports the
 * median and 99th percentile of its samples and its best chunk of
 * BENCH_CHUNK consecutive samples.  Headline ratios use medians.
 */
static unsigned int bench_batch = 4;
module_param(bench_batch, uint, 0444);
MODULE_PARM_DESC(bench_batch, "Operations per timed sample (default 4)");

/* samples per chunk ("best chunk"): 40 chunks in 1000 samples */
#define BENCH_CHUNK	25
/* untimed iterations first: module, slot and cache warm-up */
#define BENCH_WARMUP	20

enum bench_kind { B_ECHO, B_RAW_SPIN, B_RAW_IRQ, B_NOP, B_MC };

struct bench_item {
	const char *what;
	enum bench_kind kind;
	unsigned int spin_us;	/* vhypercall spin_us while it runs */
	unsigned int size;	/* multicall entries */
	u32 *ns;		/* [n] samples, ns per operation */
	u64 median, p99, best;
};

static bool bench_one(const struct bench_item *it,
		      struct vpv_multicall_entry *e, unsigned int i)
{
	switch (it->kind) {
	case B_ECHO:
		return kt_eq(vpv_echo_ping(), 0, "echo");
	case B_RAW_SPIN:
		return kt_eq(vpv_raw_ping(false), 0, "raw ping (spin)");
	case B_RAW_IRQ:
		return kt_eq(vpv_raw_ping(true), 0, "raw ping (irq)");
	case B_NOP:
		return kt_eq(vpv_hypercall2(VPV_HC_NOP, i, 0), i, "NOP");
	case B_MC:
		return kt_eq(vpv_multicall(e, it->size, 0), it->size,
			     "multicall");
	}
	return false;
}

/*
 * The bench clock: the TSC, in ns.  Under TCG the guest's clocksource
 * is often the HPET, and each ktime_get_ns() is then an emulated MMIO
 * read costing microseconds; QEMU's RDTSC is the host's TSC, read by a
 * helper call.  Without a calibrated TSC, ktime_get_ns().
 */
static u64 bench_now(void)
{
	unsigned int khz = READ_ONCE(tsc_khz);

	if (!khz)
		return ktime_get_ns();
	return mul_u64_u32_div(rdtsc_ordered(), 1000000, khz);
}

/* One timed sample of @it: bench_batch operations; false on error. */
static bool bench_sample(struct bench_item *it, struct vpv_multicall_entry *e,
			 u32 *out)
{
	unsigned int i, b = max(bench_batch, 1u);
	u64 t0;

	vpv_set_spin_us(it->spin_us);
	if (it->kind == B_MC)
		st_fill_nops(e, it->size, it->size);
	t0 = bench_now();
	for (i = 0; i < b; i++)
		if (!bench_one(it, e, i))
			return false;
	*out = min_t(u64, div_u64(bench_now() - t0, b), U32_MAX);
	return true;
}

static int bench_cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* Best chunk, then median and p99 (sorts the samples). */
static void bench_stats(struct bench_item *it, unsigned int n)
{
	unsigned int c, i;
	u64 sum;

	it->best = U64_MAX;
	for (c = 0; c + BENCH_CHUNK <= n; c += BENCH_CHUNK) {
		for (i = 0, sum = 0; i < BENCH_CHUNK; i++)
			sum += it->ns[c + i];
		it->best = min(it->best, div_u64(sum, BENCH_CHUNK));
	}
	sort(it->ns, n, sizeof(u32), bench_cmp_u32, NULL);
	it->median = it->ns[n / 2];
	it->p99 = it->ns[min(n - 1, n * 99 / 100)];
	if (it->best == U64_MAX)
		it->best = it->median;
}

static bool bench_run(struct bench_item *items, unsigned int nr,
		      unsigned int n, struct vpv_multicall_entry *e)
{
	unsigned int i, j;
	u32 dummy;

	for (i = 0; i < BENCH_WARMUP; i++)
		for (j = 0; j < nr; j++)
			if (!bench_sample(&items[j], e, &dummy))
				return false;
	for (i = 0; i < n; i++)
		for (j = 0; j < nr; j++)
			if (!bench_sample(&items[j], e, &items[j].ns[i]))
				return false;
	for (j = 0; j < nr; j++)
		bench_stats(&items[j], n);
	return true;
}

static void st_ratio_line(const char *what, u64 a, u64 b)
{
	unsigned int k = st_ratio100(a, b);

	kt_out("# bench: ratio %s = %u.%02u\n", what, k / 100, k % 100);
}

enum {
	BI_ECHO, BI_RAW_SPIN, BI_NOP_SPIN, BI_RAW_IRQ, BI_NOP_IRQ, BI_NOP_DEF,
	BI_MC1
};

#define BENCH_MC_SIZES	10	/* 1, 2, 4 ... 512 */

static void bench_report(struct bench_item *items, unsigned int nr,
			 unsigned int n, unsigned int spin_us, int mc64)
{
	unsigned int j;

	u64 t0 = bench_now();

	for (j = 0; j < 1000; j++)
		bench_now();
	kt_out("# bench: %u samples of %u ops per variant, interleaved\n",
	       n, max(bench_batch, 1u));
	kt_out("# bench: best: of chunks of %u samples\n", BENCH_CHUNK);
	kt_out("# bench: clock %s at %u kHz, %llu ns per read\n",
	       tsc_khz ? "TSC" : "ktime", tsc_khz,
	       div_u64(bench_now() - t0, 1000));
	kt_out("# bench: spin = spin_us %u, irq = spin_us 0, default spin_us %u\n",
	       BENCH_SPIN_US, spin_us);
	kt_out("# bench: %-22s %8s %8s %8s %9s\n", "what", "median", "p99",
	       "best", "ns/entry");
	for (j = 0; j < nr; j++)
		kt_out("# bench: %-22s %8llu %8llu %8llu %9llu\n",
		       items[j].what, items[j].median, items[j].p99,
		       items[j].best, items[j].kind == B_MC ?
		       div_u64(items[j].median, items[j].size) : 0);
	st_ratio_line("nop_spin/echo", items[BI_NOP_SPIN].median,
		      items[BI_ECHO].median);
	st_ratio_line("raw_spin/echo", items[BI_RAW_SPIN].median,
		      items[BI_ECHO].median);
	st_ratio_line("nop_spin/raw_spin", items[BI_NOP_SPIN].median,
		      items[BI_RAW_SPIN].median);
	st_ratio_line("nop_irq/raw_irq", items[BI_NOP_IRQ].median,
		      items[BI_RAW_IRQ].median);
	if (mc64 >= 0)
		st_ratio_line("mc64/nop_spin", items[mc64].median,
			      items[BI_NOP_SPIN].median);
}

static int t_bench(void)
{
	unsigned int max = vpv_multicall_max(), n = max(iters / 4, 2u * BENCH_CHUNK);
	struct bench_item items[BI_MC1 + BENCH_MC_SIZES] = {
		[BI_ECHO] = { "echo", B_ECHO },
		[BI_RAW_SPIN] = { "raw_spin", B_RAW_SPIN },
		[BI_NOP_SPIN] = { "nop_spin", B_NOP, BENCH_SPIN_US },
		[BI_RAW_IRQ] = { "raw_irq", B_RAW_IRQ },
		[BI_NOP_IRQ] = { "nop_irq", B_NOP, 0 },
		[BI_NOP_DEF] = { "nop_default", B_NOP },
	};
	static char names[BENCH_MC_SIZES][24];
	struct vpv_multicall_entry *e = NULL;
	unsigned int spin_us, size, j, nr = BI_MC1;
	int mc64 = -1, ret = -ENOMEM;
	u32 *ns;

	if (!(vpv_features() & VPV_F_ECHO))
		return kt_skip("host offers no minimal echo (VPV_F_ECHO)");
	spin_us = vpv_set_spin_us(0);
	vpv_set_spin_us(spin_us);
	for (j = 0; j < BI_MC1; j++)
		if (j != BI_NOP_SPIN && j != BI_NOP_IRQ)
			items[j].spin_us = spin_us;
	for (size = 1; size <= max && nr < ARRAY_SIZE(items); size *= 2) {
		snprintf(names[nr - BI_MC1], sizeof(names[0]), "multicall_%u",
			 size);
		items[nr] = (struct bench_item){ names[nr - BI_MC1], B_MC,
			BENCH_SPIN_US, size };
		if (size == 64)
			mc64 = nr;
		nr++;
	}
	ns = vmalloc(array_size(array_size(nr, n), sizeof(u32)));
	if (!ns)
		return -ENOMEM;
	for (j = 0; j < nr; j++)
		items[j].ns = ns + (size_t)j * n;
	if (max) {
		e = st_entries(max);
		if (!e)
			goto out;
	}
	ret = bench_run(items, nr, n, e) ? 0 : -EIO;
	vpv_set_spin_us(spin_us);
	if (!ret)
		bench_report(items, nr, n, spin_us, mc64);
out:
	kfree(e);
	vfree(ns);
	return ret;
}

/*
 * bench_cpu: iters NOPs (spinning) and iters echoes back to back, with
 * nothing else, so that the host's thread CPU time over the module's
 * load divided by the count is the stub's cost of one of each.
 */
static int t_bench_cpu(void)
{
	unsigned int i, spin_us = vpv_set_spin_us(BENCH_SPIN_US);
	int ret = 0;

	for (i = 0; i < iters && !ret; i++)
		if (vpv_hypercall2(VPV_HC_NOP, i, 0) != i)
			ret = -EIO;
	for (i = 0; i < iters && !ret; i++)
		ret = vpv_echo_ping();
	vpv_set_spin_us(spin_us);
	kt_out("# bench_cpu: %u NOPs and %u echoes: %d\n", iters, iters, ret);
	return ret;
}

/* ---------------------------------------------------------------- */

static const struct kt_test st_tests[] = {
	{ "nop", t_nop },
	{ "negotiate", t_negotiate },
	{ "poll_forged", t_poll_forged },
	{ "multicall", t_multicall },
	{ "mc_error", t_mc_error },
	{ "hc_invalid", t_hc_invalid },
	{ "mc_invalid", t_mc_invalid },
	{ "memchk", t_memchk },
	{ "memchk_invalid", t_memchk_invalid },
	{ "alive", t_alive },
	{ "evtchn_alloc", t_evtchn_alloc },
	{ "evtchn_echo", t_evtchn_echo },
	{ "evtchn_fire", t_evtchn_fire },
	{ "evtchn_mask", t_evtchn_mask },
	{ "evtchn_close", t_evtchn_close },
	{ "evtchn_exhaust", t_evtchn_exhaust },
	{ "bench", t_bench },
	{ "bench_cpu", t_bench_cpu },
};

static bool st_selected(const char *name)
{
	/* only when named: not part of "all" */
	if (!strcmp(name, "bench_cpu"))
		return strstr(tests, "bench_cpu");
	return kt_selected(tests, bench, name);
}

static int __init st_init(void)
{
	int nr = kt_run(st_tests, ARRAY_SIZE(st_tests), st_selected, NULL,
			"vpv_selftest");

	if (nr < 0)
		return nr;
	if (st_ports)
		st_ports_close();
	if (!nr)
		kt_out("# no test matches tests=%s\n", tests);
	return 0;
}

static void __exit st_exit(void)
{
	kt_cleanup();
}

module_init(st_init);
module_exit(st_exit);

MODULE_DESCRIPTION("pvkit vhypercall integration self-test");
MODULE_LICENSE("GPL");
