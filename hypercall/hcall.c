// SPDX-License-Identifier: GPL-2.0
/*
 * Hypercall slots with adaptive completion (spin, then sleep for the
 * VPV_VEC_HCALL interrupt), multicall, the multicall batch helper and
 * the raw doorbell probe.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/interrupt.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "vhypercall_internal.h"
#include "vhypercall_logic.h"

unsigned int vpv_spin_us = 20;
module_param_named(spin_us, vpv_spin_us, uint, 0644);
MODULE_PARM_DESC(spin_us,
		 "Microseconds a hypercall spins before sleeping for the completion interrupt (default 20)");

unsigned int vpv_timeout_ms = 10000;
module_param_named(timeout_ms, vpv_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms,
		 "Hypercall timeout in milliseconds; the slot is retired (default 10000)");

unsigned int vpv_set_spin_us(unsigned int us)
{
	return xchg(&vpv_spin_us, us);
}
EXPORT_SYMBOL_GPL(vpv_set_spin_us);

int vpv_hcall_setup(struct vpv_dev *vd)
{
	u8 *base = vd->shm + READ_ONCE(vd->hdr->slot_offset);
	u32 stride = READ_ONCE(vd->hdr->slot_size);
	unsigned int i;
	u32 state;

	vd->slots = kcalloc(vd->nr_slots, sizeof(*vd->slots), GFP_KERNEL);
	if (!vd->slots)
		return -ENOMEM;
	for (i = 0; i < vd->nr_slots; i++) {
		struct vpv_slot *s = &vd->slots[i];

		mutex_init(&s->lock);
		init_waitqueue_head(&s->wq);
		s->shm = (struct vpv_hc_slot *)(base + (size_t)i * stride);
		/* go on from the previous instance's seq: no done_seq repeats */
		s->seq = READ_ONCE(s->shm->seq);
		/* acquire: pairs with the host's DONE, as in vpv_slot_done() */
		state = smp_load_acquire(&s->shm->state);
		if (vpv_slot_host_owned(state)) {
			/* NEGOTIATE cancels it, or the host completes it */
			s->poisoned = true;
			vpv_stat_inc(slots_inherited);
		} else {
			WRITE_ONCE(s->shm->state, VPV_SLOT_IDLE);
		}
	}
	return 0;
}

void vpv_hcall_teardown(struct vpv_dev *vd)
{
	unsigned int i;

	if (!vd->slots)
		return;
	for (i = 0; i < vd->nr_slots; i++)
		mutex_destroy(&vd->slots[i].lock);
	kfree(vd->slots);
	vd->slots = NULL;
}

irqreturn_t vpv_hcall_irq(int irq, void *data)
{
	struct vpv_dev *vd = data;
	unsigned int i;

	vpv_stat_inc(hcall_irqs);
	for (i = 0; i < vd->nr_slots; i++) {
		struct vpv_slot *s = &vd->slots[i];
		/* pairs with the host's xchg to DONE */
		u32 state = smp_load_acquire(&s->shm->state);

		/*
		 * wq_has_sleeper()'s full barrier pairs with the one in
		 * wait_event_timeout()'s queueing: either we see the waiter
		 * or it sees DONE after queueing itself.
		 */
		if ((state & VPV_SLOT_STATE_MASK) == VPV_SLOT_DONE &&
		    wq_has_sleeper(&s->wq))
			wake_up(&s->wq);
	}
	if (wq_has_sleeper(&vd->raw_wq))
		wake_up(&vd->raw_wq);
	return IRQ_HANDLED;
}

static bool vpv_slot_done(struct vpv_hc_slot *hs)
{
	/* DONE (acquire): the host's ret and done_seq are visible */
	return (smp_load_acquire(&hs->state) & VPV_SLOT_STATE_MASK) ==
	       VPV_SLOT_DONE;
}

/*
 * Take a slot: the one of this CPU, or the next usable one if that was
 * retired after a timeout.  A retired slot the host has completed since
 * is usable again.  Return: the locked slot, or NULL if none is usable.
 */
static struct vpv_slot *vpv_slot_lock(struct vpv_dev *vd)
{
	unsigned int i, idx = raw_smp_processor_id() % vd->nr_slots;
	u32 state;

	for (i = 0; i < vd->nr_slots; i++) {
		struct vpv_slot *s = &vd->slots[(idx + i) % vd->nr_slots];

		mutex_lock(&s->lock);
		/* acquire: pairs with the host's DONE */
		state = smp_load_acquire(&s->shm->state);
		switch (vpv_slot_use(s->poisoned, state)) {
		case VPV_SLOT_RECLAIM:
			/*
			 * The late completion is dropped; release: our reads
			 * of the slot are done before the host may reuse it.
			 */
			smp_store_release(&s->shm->state, VPV_SLOT_IDLE);
			s->poisoned = false;
			vpv_stat_inc(slots_reclaimed);
			fallthrough;
		case VPV_SLOT_USE:
			return s;
		case VPV_SLOT_SKIP:
			break;
		}
		mutex_unlock(&s->lock);
	}
	return NULL;
}

#define VPV_SPIN_BATCH	32

/*
 * The longest single sleep of a waiting call, in ms.  The guest's clock
 * can jump: a vCPU that did not run for a while (an overloaded or
 * stopped host, QEMU holding its big lock) catches its ticks up at
 * once, and one sleep of timeout_ms could then end before the host,
 * stalled with it, has run again.  A jump ends at most the slice it
 * falls in; the next slice counts from the caught-up clock.  1 s: far
 * above an honest completion (< 200 ms measured under heavy load),
 * and a timeout still takes timeout_ms of running time.
 */
#define VPV_WAIT_SLICE_MS	1000u

/*
 * How often a call that found every slot retired looks again: the
 * host's completion is noticed within a few ms, and the wakeups cost
 * only while every slot is retired.
 */
#define VPV_RETIRED_POLL_US	1000

/*
 * Take a slot (vpv_slot_lock()); if every slot is retired, ring the
 * doorbell so that the host scans the slots again (one may hold a call
 * it has not seen, left by a previous driver instance), and look again
 * until it has completed one, for up to timeout_ms of sliced time (see
 * VPV_WAIT_SLICE_MS).  Return: the locked slot, or NULL.
 */
static struct vpv_slot *vpv_slot_get(struct vpv_dev *vd)
{
	u64 left = READ_ONCE(vpv_timeout_ms) ?: 1;
	unsigned long deadline;
	struct vpv_slot *s;
	unsigned int ms;

	s = vpv_slot_lock(vd);
	if (s)
		return s;
	vpv_stat_inc(slot_waits);
	for (; left; left -= ms) {
		ms = min_t(u64, left, VPV_WAIT_SLICE_MS);
		vpv_ring(vd, VPV_VEC_HCALL);
		deadline = jiffies + msecs_to_jiffies(ms);
		do {
			usleep_range(VPV_RETIRED_POLL_US,
				     2 * VPV_RETIRED_POLL_US);
			s = vpv_slot_lock(vd);
			if (s)
				return s;
		} while (time_before(jiffies, deadline));
	}
	return NULL;
}

/*
 * Spin for up to spin_us.  Reading the clock costs more than polling the
 * slot (a lot more under TCG), so look at it only every VPV_SPIN_BATCH
 * polls, and not at all for calls that complete quickly.
 */
static bool vpv_slot_spin(struct vpv_hc_slot *hs)
{
	u64 spin_ns = (u64)READ_ONCE(vpv_spin_us) * NSEC_PER_USEC;
	unsigned int i;
	u64 start = 0;

	while (spin_ns) {
		for (i = 0; i < VPV_SPIN_BATCH; i++) {
			if (vpv_slot_done(hs))
				return true;
			cpu_relax();
		}
		cond_resched();
		if (!start)
			start = ktime_get_ns();
		else if (ktime_get_ns() - start >= spin_ns)
			break;
	}
	return false;
}

/* Sleep up to @ms for DONE: for the interrupt, or polling without it. */
static bool vpv_slot_sleep(struct vpv_dev *vd, struct vpv_slot *s,
			   unsigned int ms)
{
	struct vpv_hc_slot *hs = s->shm;
	unsigned long deadline;

	/*
	 * wait_event_timeout() checks DONE once more when the time is up:
	 * a lost wakeup makes a call slow, never failed.
	 */
	if (vd->irq_completion)
		return wait_event_timeout(s->wq, vpv_slot_done(hs),
					  msecs_to_jiffies(ms));
	deadline = jiffies + msecs_to_jiffies(ms);
	while (time_before(jiffies, deadline)) {
		if (vpv_slot_done(hs))
			return true;
		usleep_range(20, 100);
	}
	return vpv_slot_done(hs);
}

/*
 * Wait for DONE; returns 0, or -ETIMEDOUT leaving the slot retired.
 * @rung: false if vpv_hcall_kick() skipped the doorbell because the
 * host was polling.  Then a call still not done after the spin gets its
 * doorbell after all: the host serves a call it sees within a few
 * microseconds while it polls, so one it has not served by then was
 * likely missed, and the doorbell bounds that loss at spin_us instead of
 * the timeout.  One was missed (a 10 s timeout in one benchmark run of
 * six) on a one-vCPU TCG guest: without parallel vCPUs TCG translates a
 * LOCKed instruction with no host barrier, and QEMU before 8.1 (unless
 * its stable branch took "tcg: Do not elide memory barriers for
 * !CF_PARALLEL in system mode") drops MFENCE as well, so no guest
 * instruction orders its PENDING store before its hc_poll load.
 */
static int vpv_slot_wait(struct vpv_dev *vd, struct vpv_slot *s, bool rung)
{
	u64 timeout_ms = READ_ONCE(vpv_timeout_ms) ?: 1;
	struct vpv_hc_slot *hs = s->shm;
	unsigned int ms;
	u64 left;
	u32 old;

	if (vpv_slot_spin(hs)) {
		vpv_stat_inc(spins);
		return 0;
	}
	if (!rung) {
		vpv_stat_inc(doorbells_late);
		vpv_ring(vd, VPV_VEC_HCALL);
	}
	if (vd->irq_completion) {
		/*
		 * Locked even on a one-CPU kernel (cmpxchg() loses its LOCK
		 * prefix there): atomic against the host's xchg to DONE, so
		 * either the host sees WANT_IRQ and interrupts, or this
		 * fails because the call has completed.
		 */
		old = sync_cmpxchg(&hs->state, VPV_SLOT_PENDING,
				   VPV_SLOT_PENDING | VPV_SLOT_WANT_IRQ);
		if (old != VPV_SLOT_PENDING) {
			/* DONE seen: read ret and done_seq after it */
			smp_rmb();
			vpv_stat_inc(spins);
			return 0;
		}
	}
	for (left = timeout_ms; left; left -= ms) {
		ms = min_t(u64, left, VPV_WAIT_SLICE_MS);
		if (!vpv_slot_sleep(vd, s, ms))
			continue;
		if (vd->irq_completion)
			vpv_stat_inc(sleeps);
		else
			vpv_stat_inc(polls);
		return 0;
	}
	s->poisoned = true;
	vpv_stat_inc(timeouts);
	/* the state tells a host that never answered from a lost wakeup */
	dev_err_once(&vd->pdev->dev,
		     "hypercall %u timed out after %llu ms (slot %td state %#x), slot retired\n",
		     READ_ONCE(hs->nr), timeout_ms, s - vd->slots,
		     READ_ONCE(hs->state));
	return -ETIMEDOUT;
}

/*
 * Ring VPV_VEC_HCALL for a call just published, unless the host polls
 * the slots and said so in hc_poll (VPV_F_HC_POLL).  Return: false if
 * the doorbell was skipped.
 */
static bool vpv_hcall_kick(struct vpv_dev *vd)
{
	if (vd->features & VPV_F_HC_POLL) {
		/*
		 * Full barrier: the PENDING store before the hc_poll load.
		 * Pairs with the host's fence between clearing hc_poll and
		 * its last scan of the slots: either that scan sees PENDING,
		 * or we see the flag clear and ring.  mb() (MFENCE), not
		 * virt_mb() (a LOCKed add): it holds on a one-CPU kernel,
		 * and a TCG without parallel vCPUs emulates a LOCKed add
		 * with no host barrier.  Where even MFENCE is dropped (see
		 * vpv_slot_wait()), a late doorbell covers a missed call.
		 */
		mb();
		if (!vpv_hc_need_ring(vd->features,
				      READ_ONCE(vd->hdr->hc_poll))) {
			vpv_stat_inc(doorbells_skipped);
			return false;
		}
	}
	vpv_ring(vd, VPV_VEC_HCALL);
	return true;
}

long vpv_hcall_do(struct vpv_dev *vd, unsigned int nr, const u64 *args)
{
	struct vpv_hc_slot *hs;
	struct vpv_slot *s;
	unsigned int i;
	bool rung;
	long ret;
	u32 state;

	might_sleep();
	if (!vpv_hc_nr_valid(nr))
		return -EINVAL;

	s = vpv_slot_get(vd);
	if (!s) {
		/* every slot still the host's after timeout_ms */
		vpv_stat_inc(timeouts);
		return -ETIMEDOUT;
	}
	hs = s->shm;

	/* guest-owned IDLE state; acquire orders the slot reuse */
	state = smp_load_acquire(&hs->state);
	if (state != VPV_SLOT_IDLE) {
		vpv_stat_inc(protocol_errors);
		dev_err_ratelimited(&vd->pdev->dev,
				    "slot %td not idle (state %#x), retired\n",
				    s - vd->slots, state);
		s->poisoned = true;
		ret = -EIO;
		goto out;
	}

	WRITE_ONCE(hs->nr, nr);
	for (i = 0; i < VPV_HC_NR_ARGS; i++)
		WRITE_ONCE(hs->args[i], args[i]);
	WRITE_ONCE(hs->ret, 0);
	WRITE_ONCE(hs->seq, ++s->seq);
	/* publish nr/args/seq before the host can see PENDING */
	smp_store_release(&hs->state, VPV_SLOT_PENDING);
	rung = vpv_hcall_kick(vd);
	vpv_stat_inc(hypercalls);

	ret = vpv_slot_wait(vd, s, rung);
	if (ret)
		goto out;

	ret = READ_ONCE(hs->ret);
	if (READ_ONCE(hs->done_seq) != s->seq) {
		vpv_stat_inc(protocol_errors);
		dev_err_ratelimited(&vd->pdev->dev,
				    "slot %td: host echoed seq %llu, want %llu\n",
				    s - vd->slots, READ_ONCE(hs->done_seq),
				    s->seq);
		ret = -EIO;
	} else if (ret < -MAX_ERRNO) {
		vpv_stat_inc(protocol_errors);
		ret = -EIO;
	}
	if (ret < 0)
		vpv_stat_inc(hc_errors);
	/* ret and done_seq are read before the slot is handed back */
	smp_store_release(&hs->state, VPV_SLOT_IDLE);
out:
	mutex_unlock(&s->lock);
	return ret;
}

long vpv_hypercall(unsigned int nr, const u64 args[VPV_HC_NR_ARGS])
{
	struct vpv_dev *vd;
	long ret;

	might_sleep();
	if (!vpv_hc_nr_valid(nr))
		return -EINVAL;
	vd = vpv_get();
	if (!vd)
		return -ENODEV;
	ret = vpv_hcall_do(vd, nr, args);
	vpv_put();
	/* a caller restarted the session: its clients start afresh */
	if (nr == VPV_HC_NEGOTIATE && ret >= 0)
		vpv_clients_restart();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_hypercall);

unsigned int vpv_multicall_max(void)
{
	struct vpv_dev *vd;
	unsigned int max = 0;

	rcu_read_lock();
	vd = vpv_get_rcu();
	if (vd)
		max = vd->multicall_max;
	rcu_read_unlock();
	return max;
}
EXPORT_SYMBOL_GPL(vpv_multicall_max);

static void vpv_mc_account(unsigned int count)
{
	unsigned int b = min_t(unsigned int, ilog2(count),
			       VPV_MC_HIST_BUCKETS - 1);

	vpv_stat_inc(multicalls);
	atomic64_add(count, &vpv_stats.mc_entries);
	atomic64_inc(&vpv_stats.mc_hist[b]);
}

long vpv_multicall(struct vpv_multicall_entry *entries, unsigned int count,
		   unsigned int flags)
{
	u64 args[VPV_HC_NR_ARGS] = { 0 };
	struct vpv_dev *vd;
	long ret;

	might_sleep();
	if (!entries || !IS_ALIGNED((unsigned long)entries, 8) ||
	    !virt_addr_valid(entries))
		return -EINVAL;
	vd = vpv_get();
	if (!vd)
		return -ENODEV;
	if (!vd->multicall_max) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	ret = vpv_mc_check(count, flags, vd->multicall_max);
	if (ret)
		goto out;

	args[0] = virt_to_phys(entries);
	args[1] = count;
	args[2] = flags;
	vpv_mc_account(count);
	ret = vpv_hcall_do(vd, VPV_HC_MULTICALL, args);
	if (ret > count) {
		vpv_stat_inc(protocol_errors);
		ret = -EIO;
	}
out:
	vpv_put();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_multicall);

int vpv_mc_batch_init(struct vpv_mc_batch *b, unsigned int cap,
		      unsigned int flags, gfp_t gfp)
{
	unsigned int max = vpv_multicall_max();
	struct vpv_multicall_entry *e;

	if (!max)
		return -EOPNOTSUPP;
	if (!cap || (flags & ~VPV_MC_FLAGS_ALL))
		return -EINVAL;
	cap = min(cap, max);
	/* kmalloc: physically contiguous, as the host reads it by GPA */
	e = kmalloc_array(cap, sizeof(*e), gfp);
	if (!e)
		return -ENOMEM;
	__vpv_mc_batch_setup(b, e, cap, flags, vpv_multicall);
	return 0;
}
EXPORT_SYMBOL_GPL(vpv_mc_batch_init);

void vpv_mc_batch_destroy(struct vpv_mc_batch *b)
{
	WARN_ON_ONCE(b->count);
	kfree(b->entries);
	b->entries = NULL;
	b->cap = 0;
	b->count = 0;
}
EXPORT_SYMBOL_GPL(vpv_mc_batch_destroy);

int vpv_mc_batch_add(struct vpv_mc_batch *b, unsigned int op,
		     const u64 args[VPV_HC_NR_ARGS])
{
	return __vpv_mc_batch_add(b, op, args);
}
EXPORT_SYMBOL_GPL(vpv_mc_batch_add);

long vpv_mc_batch_flush(struct vpv_mc_batch *b)
{
	return __vpv_mc_batch_flush(b);
}
EXPORT_SYMBOL_GPL(vpv_mc_batch_flush);

static bool vpv_raw_answered(struct vpv_dev *vd, u32 val)
{
	return READ_ONCE(vd->hdr->raw_pong) == val;
}

/*
 * Spin until the host has copied @val into *@pong (it writes nothing
 * else there), or -ETIMEDOUT after VPV_RAW_TIMEOUT_MS.  @resched: let
 * other tasks run between reads (a raw ping may wait for a busy host);
 * the echo is a timed minimal round trip and does not.
 */
static int vpv_spin_for(const u32 *pong, u32 val, bool resched)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(VPV_RAW_TIMEOUT_MS);

	while (READ_ONCE(*pong) != val) {
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		cpu_relax();
		if (resched)
			cond_resched();
	}
	return 0;
}

int vpv_raw_ping(bool irq)
{
	struct vpv_shared_header *hdr;
	struct vpv_dev *vd;
	unsigned long timeout = msecs_to_jiffies(VPV_RAW_TIMEOUT_MS);
	int ret = 0;
	u32 val;

	might_sleep();
	vd = vpv_get();
	if (!vd)
		return -ENODEV;
	hdr = vd->hdr;
	mutex_lock(&vd->raw_lock);

	/* a value the host has not echoed yet */
	val = (READ_ONCE(hdr->raw_pong) + 1 + (vd->raw_seq++ & 0xff)) &
	      0x7fffffff;
	WRITE_ONCE(hdr->raw_ping, irq ? val | BIT(31) : val);
	vpv_ring(vd, VPV_VEC_HCALL);

	if (irq) {
		vpv_stat_inc(raw_pings_irq);
		if (!wait_event_timeout(vd->raw_wq, vpv_raw_answered(vd, val),
					timeout))
			ret = -ETIMEDOUT;
	} else {
		vpv_stat_inc(raw_pings);
		ret = vpv_spin_for(&hdr->raw_pong, val, true);
	}

	mutex_unlock(&vd->raw_lock);
	vpv_put();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_raw_ping);

int vpv_echo_ping(void)
{
	struct vpv_dev *vd;
	int ret = 0;
	u32 val;

	might_sleep();
	vd = vpv_get();
	if (!vd)
		return -ENODEV;
	if (!(vd->features & VPV_F_ECHO)) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	mutex_lock(&vd->raw_lock);
	/* a value the host has not echoed yet */
	val = READ_ONCE(vd->hdr->echo_pong) + 1;
	WRITE_ONCE(vd->hdr->echo_ping, val);
	vpv_ring(vd, VPV_VEC_ECHO);
	vpv_stat_inc(echoes);
	/* the host copies the value back; nothing else travels with it */
	ret = vpv_spin_for(&vd->hdr->echo_pong, val, false);
	mutex_unlock(&vd->raw_lock);
out:
	vpv_put();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_echo_ping);
