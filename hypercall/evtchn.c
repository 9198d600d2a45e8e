// SPDX-License-Identifier: GPL-2.0
/*
 * Event channels, Xen 2-level style: a selector word plus pending and
 * mask bitmaps per direction in the shared region.
 *
 * Handlers run with interrupts disabled: from the VPV_VEC_EVTCHN
 * interrupt, or from vpv_evtchn_unmask() when it re-raises a port that
 * became pending while masked.  Scans are serialized device-wide, and
 * each handler runs under port_lock, so vpv_evtchn_close() returning
 * means the handler of that port is not running and will not run again.
 * Handlers may call vpv_evtchn_notify(), _mask() and _unmask(), but not
 * _alloc() or _close() (those sleep).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/interrupt.h>
#include <linux/irqflags.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>

#include "vhypercall_internal.h"
#include "vhypercall_logic.h"

/* The shared bitmaps are __u64 arrays; the bitops want unsigned long. */
static_assert(sizeof(unsigned long) == sizeof(u64));
#define VPV_BITMAP(words)	((unsigned long *)(words))

int vpv_evtchn_setup(struct vpv_dev *vd)
{
	if (!vd->evt)
		return 0;
	vd->ports = kcalloc(vd->nr_ports, sizeof(*vd->ports), GFP_KERNEL);
	if (!vd->ports)
		return -ENOMEM;
	/* Every port is masked until it is allocated. */
	memset(vd->evt->guest_mask, 0xff, sizeof(vd->evt->guest_mask));
	return 0;
}

/* After negotiation, which closed all ports of a previous session. */
void vpv_evtchn_start(struct vpv_dev *vd)
{
	unsigned int i;

	if (!vd->evt)
		return;
	xchg(&vd->evt->to_guest.sel, 0);
	for (i = 0; i < VPV_EVTCHN_WORDS; i++)
		xchg(&vd->evt->to_guest.pending[i], 0);
}

/* Called after the interrupts are freed: nothing scans any more. */
void vpv_evtchn_teardown(struct vpv_dev *vd)
{
	unsigned int port;
	u64 args[VPV_HC_NR_ARGS] = { VPV_EVTCHNOP_CLOSE };

	if (!vd->ports)
		return;
	for (port = 1; port < vd->nr_ports; port++) {
		if (!vd->ports[port].handler)
			continue;
		dev_warn(&vd->pdev->dev, "port %u still open at removal\n",
			 port);
		sync_set_bit(port, VPV_BITMAP(vd->evt->guest_mask));
		args[1] = port;
		vpv_hcall_do(vd, VPV_HC_EVTCHN_OP, args);
		WRITE_ONCE(vd->ports[port].handler, NULL);
		atomic64_dec(&vpv_stats.ports_open);
	}
	kfree(vd->ports);
	vd->ports = NULL;
}

static void vpv_evtchn_dispatch(void *ctx, unsigned int port)
{
	struct vpv_dev *vd = ctx;
	struct vpv_port *p = &vd->ports[port];

	spin_lock(&vd->port_lock);
	if (p->handler) {
		vpv_stat_inc(events_received);
		p->handler(port, p->data);
	} else {
		vpv_stat_inc(events_spurious);
	}
	spin_unlock(&vd->port_lock);
}

/*
 * Interrupts disabled.  The first CPU in scans; anyone arriving while a
 * scan runs (another CPU, or a handler unmasking a port) only bumps the
 * count, and the scanning CPU goes round again.
 */
static void vpv_evtchn_do_upcall(struct vpv_dev *vd)
{
	struct vpv_evtchn_dir *d = &vd->evt->to_guest;

	lockdep_assert_irqs_disabled();
	if (atomic_inc_return(&vd->upcall_count) > 1)
		return;
	do {
		atomic_set(&vd->upcall_count, 1);
		vpv_evtchn_scan(&d->sel, d->pending, vd->evt->guest_mask,
				vd->nr_ports, vpv_evtchn_dispatch, vd);
	} while (atomic_dec_return(&vd->upcall_count) > 0);
}

irqreturn_t vpv_evtchn_irq(int irq, void *data)
{
	struct vpv_dev *vd = data;

	vpv_stat_inc(evtchn_irqs);
	if (!vd->evt || !vd->ports)
		return IRQ_NONE;
	vpv_evtchn_do_upcall(vd);
	return IRQ_HANDLED;
}

/* Look up the bound device for @port; NULL if none or out of range. */
static struct vpv_dev *vpv_evtchn_dev_rcu(unsigned int port)
{
	struct vpv_dev *vd = vpv_get_rcu();

	if (!vd || !vd->evt || !vpv_port_valid(port, vd->nr_ports))
		return NULL;
	return vd;
}

long vpv_evtchn_op(u32 cmd, u64 a1, u64 a2)
{
	const u64 args[VPV_HC_NR_ARGS] = { cmd, a1, a2 };

	return vpv_hypercall(VPV_HC_EVTCHN_OP, args);
}
EXPORT_SYMBOL_GPL(vpv_evtchn_op);

int vpv_evtchn_alloc(u32 remote, vpv_evtchn_handler_t handler, void *data)
{
	u64 args[VPV_HC_NR_ARGS] = { VPV_EVTCHNOP_ALLOC, remote };
	struct vpv_dev *vd;
	unsigned long flags;
	unsigned int port;
	long ret;

	might_sleep();
	if (!handler)
		return -EINVAL;
	vd = vpv_get();
	if (!vd)
		return -ENODEV;
	if (!vd->evt) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	ret = vpv_hcall_do(vd, VPV_HC_EVTCHN_OP, args);
	if (ret < 0)
		goto out;
	port = ret;
	if (!vpv_port_valid(port, vd->nr_ports) || ret != port) {
		dev_err_ratelimited(&vd->pdev->dev,
				    "host allocated invalid port %ld\n", ret);
		ret = -EIO;
		goto out;
	}

	spin_lock_irqsave(&vd->port_lock, flags);
	if (vd->ports[port].handler) {
		spin_unlock_irqrestore(&vd->port_lock, flags);
		dev_err_ratelimited(&vd->pdev->dev,
				    "host allocated port %u twice\n", port);
		ret = -EIO;
		goto out;
	}
	vd->ports[port].handler = handler;
	vd->ports[port].data = data;
	spin_unlock_irqrestore(&vd->port_lock, flags);

	/* Stale bits of a previous user of the port are dropped. */
	sync_clear_bit(port, VPV_BITMAP(vd->evt->to_guest.pending));
	sync_clear_bit(port, VPV_BITMAP(vd->evt->to_host.pending));
	atomic64_inc(&vpv_stats.ports_open);
	vpv_evtchn_unmask(port);
out:
	vpv_put();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_evtchn_alloc);

void vpv_evtchn_close(unsigned int port)
{
	u64 args[VPV_HC_NR_ARGS] = { VPV_EVTCHNOP_CLOSE, port };
	struct vpv_dev *vd;
	unsigned long flags;
	bool open;

	might_sleep();
	vd = vpv_get();
	if (!vd)
		return;
	if (!vd->evt || !vpv_port_valid(port, vd->nr_ports))
		goto out;

	sync_set_bit(port, VPV_BITMAP(vd->evt->guest_mask));
	spin_lock_irqsave(&vd->port_lock, flags);
	open = vd->ports[port].handler;
	vd->ports[port].handler = NULL;
	vd->ports[port].data = NULL;
	spin_unlock_irqrestore(&vd->port_lock, flags);
	if (!open) {
		dev_warn_ratelimited(&vd->pdev->dev,
				     "closing port %u that is not open\n", port);
		goto out;
	}
	atomic64_dec(&vpv_stats.ports_open);
	vpv_hcall_do(vd, VPV_HC_EVTCHN_OP, args);
	sync_clear_bit(port, VPV_BITMAP(vd->evt->to_guest.pending));
out:
	vpv_put();
}
EXPORT_SYMBOL_GPL(vpv_evtchn_close);

/* A new session closed @port on the host: drop it here, no CLOSE. */
void vpv_evtchn_forget(struct vpv_dev *vd, unsigned int port)
{
	unsigned long flags;
	bool open;

	if (!vd->evt || !vpv_port_valid(port, vd->nr_ports))
		return;
	sync_set_bit(port, VPV_BITMAP(vd->evt->guest_mask));
	spin_lock_irqsave(&vd->port_lock, flags);
	open = vd->ports[port].handler;
	vd->ports[port].handler = NULL;
	vd->ports[port].data = NULL;
	spin_unlock_irqrestore(&vd->port_lock, flags);
	if (open)
		atomic64_dec(&vpv_stats.ports_open);
	sync_clear_bit(port, VPV_BITMAP(vd->evt->to_guest.pending));
}

void vpv_evtchn_notify(unsigned int port)
{
	struct vpv_evtchn_dir *d;
	struct vpv_dev *vd;

	rcu_read_lock();
	vd = vpv_evtchn_dev_rcu(port);
	if (vd) {
		d = &vd->evt->to_host;
		sync_set_bit(port, VPV_BITMAP(d->pending));
		sync_set_bit(port / 64, VPV_BITMAP(&d->sel));
		vpv_ring(vd, VPV_VEC_EVTCHN);
		vpv_stat_inc(events_sent);
	}
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(vpv_evtchn_notify);

void vpv_evtchn_mask(unsigned int port)
{
	struct vpv_dev *vd;

	rcu_read_lock();
	vd = vpv_evtchn_dev_rcu(port);
	if (vd)
		sync_set_bit(port, VPV_BITMAP(vd->evt->guest_mask));
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(vpv_evtchn_mask);

void vpv_evtchn_unmask(unsigned int port)
{
	struct vpv_evtchn_dir *d;
	struct vpv_dev *vd;
	unsigned long flags;

	rcu_read_lock();
	vd = vpv_evtchn_dev_rcu(port);
	if (!vd)
		goto out;
	d = &vd->evt->to_guest;
	sync_clear_bit(port, VPV_BITMAP(vd->evt->guest_mask));
	/* pairs with the host's set pending / read mask */
	smp_mb__after_atomic();
	if (!sync_test_bit(port, VPV_BITMAP(d->pending)))
		goto out;
	/* Raised while masked: the host did not select it; do it here. */
	sync_set_bit(port / 64, VPV_BITMAP(&d->sel));
	local_irq_save(flags);
	vpv_evtchn_do_upcall(vd);
	local_irq_restore(flags);
out:
	rcu_read_unlock();
}
EXPORT_SYMBOL_GPL(vpv_evtchn_unmask);
