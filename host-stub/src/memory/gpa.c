// SPDX-License-Identifier: GPL-2.0
/*
 * Guest physical address translation for the q35 machine.
 *
 * The guest RAM is one shared file (memory-backend-file, share=on) that
 * both QEMU and the stub map.  QEMU 7.2 hw/i386/pc_q35.c, pc_q35_init():
 *
 *	if (machine->ram_size >= 0xb0000000) {
 *		lowmem = 0x80000000;
 *	} else {
 *		lowmem = 0xb0000000;
 *	}
 *	... (lowmem is capped at max-ram-below-4g, default 4 GiB)
 *	if (machine->ram_size >= lowmem) {
 *		above_4g_mem_size = ram_size - lowmem;
 *		below_4g_mem_size = lowmem;
 *	} else {
 *		above_4g_mem_size = 0;
 *		below_4g_mem_size = ram_size;
 *	}
 *
 * pc_memory_init() then maps file offsets [0, below) at GPA 0 and file
 * offsets [below, size) at GPA 4 GiB.  So RAM is either entirely below
 * 4 GiB (ram_size < 0xb0000000) or split at 2 GiB.  The stub never
 * passes max-ram-below-4g; a --qemu-arg that does breaks this mapping.
 * The legacy VGA/BIOS holes below 1 MiB are still backed by the file
 * at the same offsets, so the host treats them as RAM.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vpv_host.h"

#define GPA_4G		0x100000000ull

uint64_t gpa_lowmem(uint64_t ram_size)
{
	uint64_t lowmem = ram_size >= 0xb0000000ull ? 0x80000000ull :
						       0xb0000000ull;

	return ram_size >= lowmem ? lowmem : ram_size;
}

/*
 * Translate [gpa, gpa + len) to a file offset.  len == 0 is treated as
 * len == 1 (the address itself must be RAM).  Fails with -VPV_EFAULT on
 * overflow, on any byte outside RAM, and on ranges that straddle the
 * PCI hole (the two RAM blocks are contiguous in the file but not in
 * GPA space).
 */
int gpa_to_offset(uint64_t ram_size, uint64_t lowmem, uint64_t gpa,
		  uint64_t len, uint64_t *off)
{
	uint64_t last;

	if (!len)
		len = 1;
	if (gpa + (len - 1) < gpa)
		return -VPV_EFAULT;
	last = gpa + (len - 1);

	if (last < lowmem) {
		*off = gpa;
		return 0;
	}
	if (gpa >= GPA_4G && ram_size > lowmem &&
	    last - GPA_4G < ram_size - lowmem) {
		*off = lowmem + (gpa - GPA_4G);
		return 0;
	}
	return -VPV_EFAULT;
}

void *gpa_ptr(struct guest *g, uint64_t gpa, size_t len)
{
	uint64_t off;

	if (!g->ram)
		return NULL;
	if (gpa_to_offset(g->ram_size, g->lowmem, gpa, len, &off))
		return NULL;
	return g->ram + off;
}

/*
 * ---- recovering from SIGBUS on guest RAM ----
 *
 * Guest RAM is a shared file.  A page of it that has no backing (a
 * hole the balloon punched, or a page nobody touched yet) is allocated
 * on first access; if the file system is full that fault is SIGBUS,
 * which by default kills vpv-host and every guest with it.  So every
 * access the stub makes to guest RAM runs inside gpa_guard_run(): a
 * per-thread guard that the SIGBUS handler, installed once, turns into
 * a siglongjmp() back to the guard when the faulting address lies in a
 * RAM mapping the guard declared.  The call then returns -VPV_EFAULT
 * and counts ram_faults.  Any other SIGBUS (no guard on this thread,
 * an address outside guest RAM, a signal sent with kill) goes to the
 * disposition that was there before (the default, or the sanitizer's
 * reporter), so a real bug still crashes.
 *
 * Rules for guarded code (fn): it only reads and writes memory; it
 * takes no lock, allocates nothing and calls nothing that might (a
 * longjmp out of it must not leave anything half done).  Locks the
 * caller needs are taken around gpa_guard_run(), never inside.
 *
 * The handler is installed with SA_NODEFER and an empty sa_mask, and
 * the guard uses sigsetjmp(env, 0): the signal mask at the fault is
 * the thread's normal mask, so jumping out without restoring a saved
 * mask leaves SIGBUS unblocked, with no sigprocmask() per access.
 */
struct gpa_guard {
	sigjmp_buf env;
	struct guest *charge;		/* the guest answered with the error */
	uintptr_t lo[2], hi[2];		/* RAM mappings fn may touch */
	struct gpa_guard *prev;		/* an outer guard of this thread */
};

static __thread struct gpa_guard *gpa_cur;
static struct sigaction gpa_old_bus;
static pthread_once_t gpa_once = PTHREAD_ONCE_INIT;
static bool gpa_installed;	/* fast path: gpa_once has run */

static bool guard_covers(const struct gpa_guard *gd, uintptr_t a)
{
	return (a >= gd->lo[0] && a < gd->hi[0]) ||
	       (a >= gd->lo[1] && a < gd->hi[1]);
}

static void gpa_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct gpa_guard *gd = __atomic_load_n(&gpa_cur, __ATOMIC_RELAXED);

	(void)uc;
	/* si_code > 0: raised by a fault, si_addr is the address */
	if (gd && si->si_code > 0 && guard_covers(gd, (uintptr_t)si->si_addr))
		siglongjmp(gd->env, 1);
	/*
	 * Not ours: put the previous disposition back.  Returning re-runs
	 * the faulting access, which faults again and reaches it; a signal
	 * sent by someone is sent again.
	 */
	sigaction(SIGBUS, &gpa_old_bus, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void gpa_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = gpa_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &gpa_old_bus) < 0)
		perror("vpv-host: sigaction(SIGBUS)");
	/* pairs with the acquire load in guard_run() */
	__atomic_store_n(&gpa_installed, true, __ATOMIC_RELEASE);
}

static void guard_range(struct gpa_guard *gd, int i, const struct guest *g)
{
	gd->lo[i] = g && g->ram ? (uintptr_t)g->ram : 0;
	gd->hi[i] = g && g->ram ? (uintptr_t)g->ram + g->ram_size : 0;
}

static void ram_fault(struct guest *g)
{
	if (!STAT_INC(g, ram_faults))
		fprintf(stderr,
			"vpv-host: %s: a guest RAM page could not be backed (SIGBUS; file system full?); answering -EFAULT, counted in ram_faults\n",
			g->name);
}

/*
 * Run fn(arg), which may touch the RAM of a and of b (NULL: none).
 * Returns 0, or -VPV_EFAULT if a page of that RAM faulted (fn stopped
 * there; what it had copied so far stays copied); the fault is counted
 * in the ram_faults of g, the guest whose request this is.
 */
static int guard_run(struct guest *g, const struct guest *a,
		     const struct guest *b, void (*fn)(void *arg), void *arg)
{
	struct gpa_guard gd;

	if (!__atomic_load_n(&gpa_installed, __ATOMIC_ACQUIRE))
		pthread_once(&gpa_once, gpa_install);	/* first guard */
	gd.charge = g;
	guard_range(&gd, 0, a);
	guard_range(&gd, 1, b);
	gd.prev = gpa_cur;
	if (sigsetjmp(gd.env, 0)) {
		/* from gpa_sigbus(); gd is in memory, not clobbered */
		__atomic_store_n(&gpa_cur, gd.prev, __ATOMIC_RELAXED);
		ram_fault(gd.charge);
		return -VPV_EFAULT;
	}
	__atomic_store_n(&gpa_cur, &gd, __ATOMIC_RELAXED);
	/* the guard is visible to the handler before fn's first access */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fn(arg);
	/* ... and stays until fn's last access is done */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&gpa_cur, gd.prev, __ATOMIC_RELAXED);
	return 0;
}

/* The same for fn touching the RAM of g and of other (NULL: none). */
int gpa_guard_run(struct guest *g, const struct guest *other,
		  void (*fn)(void *arg), void *arg)
{
	return guard_run(g, g, other, fn, arg);
}

struct copy_args {
	void *dst;
	const void *src;
	size_t len;
};

static void copy_fn(void *arg)
{
	const struct copy_args *a = arg;

	memmove(a->dst, a->src, a->len);
}

/*
 * memmove for a request of g from src, in the RAM of src_ram (NULL: host
 * memory), to dst, in the RAM of dst_ram (grant maps, gpa_ptr()); 0 or
 * -VPV_EFAULT as gpa_guard_run().
 */
int gpa_copy(struct guest *g, const struct guest *dst_ram, void *dst,
	     const struct guest *src_ram, const void *src, size_t len)
{
	struct copy_args a = { dst, src, len };

	return guard_run(g, dst_ram, src_ram, copy_fn, &a);
}

/*
 * Copy helpers.  Guest memory may change under us at any time, so
 * callers copy once and validate the copy; memcpy on a shared mapping
 * is fine for that (no data-dependent control flow inside).  Both fail
 * with -VPV_EFAULT for an address range that is not RAM and for a page
 * that faulted (counted in ram_faults).
 */
int gpa_read(struct guest *g, uint64_t gpa, void *buf, size_t len)
{
	void *p = gpa_ptr(g, gpa, len);

	if (!p)
		return -VPV_EFAULT;
	return gpa_copy(g, NULL, buf, g, p, len);
}

int gpa_write(struct guest *g, uint64_t gpa, const void *buf, size_t len)
{
	void *p = gpa_ptr(g, gpa, len);

	if (!p)
		return -VPV_EFAULT;
	return gpa_copy(g, g, p, NULL, buf, len);
}

struct store_args {
	uint64_t *p;
	uint64_t val;
};

static void store_fn(void *arg)
{
	const struct store_args *a = arg;

	/* results and counters the guest polls: publish after our work */
	__atomic_store_n(a->p, a->val, __ATOMIC_RELEASE);
}

/* One aligned 64-bit store into guest RAM (single-copy atomic). */
int gpa_store_u64(struct guest *g, uint64_t gpa, uint64_t val)
{
	struct store_args a = { gpa_ptr(g, gpa, sizeof(val)), val };

	if (!a.p || (gpa & 7))
		return -VPV_EFAULT;
	return gpa_guard_run(g, NULL, store_fn, &a);
}
