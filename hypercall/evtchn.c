// SPDX-License-Identifier: GPL-2.0
/*
 * Event channels, Xen 2-level style: a selector word plus pending and
 * mask bitmaps per direction in the shared region.
 *
 * A port is either bound to a Linux IRQ (vpv_evtchn_bind_irq(): the
 * irq_chip "vpv-evtchn" over an irq_domain whose hwirq is the port, so
 * the IRQ shows in /proc/interrupts, its handler is an ordinary IRQ
 * handler and its affinity can be set) or has a bare callback
 * (vpv_evtchn_alloc(), for the store client and the tests).
 *
 * The upcall (the VPV_VEC_EVTCHN interrupt) scans the pending bits.  A
 * bound port whose IRQ's affinity names another CPU is handed to that
 * CPU through a per-CPU irq_work (the "steered" bitmap); the others are
 * handled at once with generic_handle_domain_irq().  Callbacks run
 * under port_lock, so vpv_evtchn_close() returning means the callback
 * of that port is not running and will not run again; for an IRQ
 * free_irq() gives the same guarantee.  Scans are serialized
 * device-wide.  Callbacks and handlers may call vpv_evtchn_notify(),
 * _mask() and _unmask(), but not _alloc() or _close() (those sleep).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/irqflags.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/smp.h>

#include "vhypercall_internal.h"
#include "vhypercall_logic.h"

/* The shared bitmaps are __u64 arrays; the bitops want unsigned long. */
static_assert(sizeof(unsigned long) == sizeof(u64));
#define VPV_BITMAP(words)	((unsigned long *)(words))

/* No CPU chosen: a bound port is handled where its upcall arrives. */
#define VPV_PORT_ANY_CPU	UINT_MAX

static int vpv_evtchn_irq_setup(struct vpv_dev *vd);
static void vpv_evtchn_irq_teardown(struct vpv_dev *vd);
static void vpv_evtchn_handle_irq(struct vpv_dev *vd, unsigned int port,
				  unsigned int cpu);

int vpv_evtchn_setup(struct vpv_dev *vd)
{
	if (!vd->evt)
		return 0;
	vd->ports = kcalloc(vd->nr_ports, sizeof(*vd->ports), GFP_KERNEL);
	if (!vd->ports)
		return -ENOMEM;
	/* Every port is masked until it is allocated. */
	memset(vd->evt->guest_mask, 0xff, sizeof(vd->evt->guest_mask));
	return vpv_evtchn_irq_setup(vd);
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
		if (!vd->ports[port].handler && !vd->ports[port].virq)
			continue;
		dev_warn(&vd->pdev->dev, "port %u still open at removal\n",
			 port);
		sync_set_bit(port, VPV_BITMAP(vd->evt->guest_mask));
		args[1] = port;
		vpv_hcall_do(vd, VPV_HC_EVTCHN_OP, args);
		WRITE_ONCE(vd->ports[port].handler, NULL);
		atomic64_dec(&vpv_stats.ports_open);
	}
	vpv_evtchn_irq_teardown(vd);
	kfree(vd->ports);
	vd->ports = NULL;
}

static void vpv_evtchn_dispatch(void *ctx, unsigned int port)
{
	struct vpv_dev *vd = ctx;
	struct vpv_port *p = &vd->ports[port];

	spin_lock(&vd->port_lock);
	if (p->virq) {
		unsigned int cpu = READ_ONCE(p->cpu);

		spin_unlock(&vd->port_lock);
		vpv_stat_inc(events_received);
		vpv_evtchn_handle_irq(vd, port, cpu);
		return;
	}
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
	if (vd->ports[port].handler || vd->ports[port].virq) {
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
void __vpv_evtchn_forget(struct vpv_dev *vd, unsigned int port)
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

void vpv_evtchn_forget(unsigned int port)
{
	struct vpv_dev *vd = vpv_get();

	if (vd) {
		__vpv_evtchn_forget(vd, port);
		vpv_put();
	}
}
EXPORT_SYMBOL_GPL(vpv_evtchn_forget);

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
		/* the locked bit ops order the bits before the MMIO ring */
		vpv_ring(vd, vpv_port_doorbell(vd->features, d->doorbell_port,
					       port));
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

/* ---- ports as Linux IRQs ---- */

/*
 * One per CPU: handles the ports steered to it (vd->steered).  An
 * async call is unlocked before its function runs, so a call refused
 * as busy is one still to run: it will see the bit just set.
 */
static DEFINE_PER_CPU(call_single_data_t, vpv_steer_csd);

/* Hard IRQ, interrupts disabled: the port's IRQ, here or on its CPU. */
static void vpv_evtchn_handle_irq(struct vpv_dev *vd, unsigned int port,
				  unsigned int cpu)
{
	if (cpu != VPV_PORT_ANY_CPU && cpu != smp_processor_id() &&
	    cpu_online(cpu)) {
		set_bit(port, vd->steered);
		smp_call_function_single_async(cpu,
					       per_cpu_ptr(&vpv_steer_csd, cpu));
		return;
	}
	generic_handle_domain_irq(vd->domain, port);
}

/*
 * Hard IRQ on the CPU a port was steered to: handle every steered
 * port (one whose affinity changed again meanwhile is handled here
 * once more, not lost).  After the device is withdrawn (RCU) nothing.
 */
static void vpv_evtchn_steer_fn(void *unused)
{
	struct vpv_dev *vd;
	unsigned int port;

	rcu_read_lock();
	vd = vpv_get_rcu();
	if (vd && vd->steered) {
		for_each_set_bit(port, vd->steered, vd->nr_ports)
			if (test_and_clear_bit(port, vd->steered))
				generic_handle_domain_irq(vd->domain, port);
	}
	rcu_read_unlock();
}

/* irq_work: the upcall a masked context (the chip's unmask) asked for. */
static void vpv_evtchn_retrigger_fn(struct irq_work *work)
{
	struct vpv_dev *vd = container_of(work, struct vpv_dev, retrigger);

	vpv_evtchn_do_upcall(vd);
}

static void vpv_evtchn_raise_later(struct vpv_dev *vd, unsigned int port)
{
	sync_set_bit(port / 64, VPV_BITMAP(&vd->evt->to_guest.sel));
	irq_work_queue(&vd->retrigger);
}

static void vpv_evtchn_chip_ack(struct irq_data *d)
{
	/* the scan took the pending bit before the flow handler ran */
}

static void vpv_evtchn_chip_mask(struct irq_data *d)
{
	struct vpv_dev *vd = irq_data_get_irq_chip_data(d);

	sync_set_bit(irqd_to_hwirq(d), VPV_BITMAP(vd->evt->guest_mask));
}

/* Under the descriptor's lock: an upcall now would deadlock on it. */
static void vpv_evtchn_chip_unmask(struct irq_data *d)
{
	struct vpv_dev *vd = irq_data_get_irq_chip_data(d);
	unsigned int port = irqd_to_hwirq(d);

	sync_clear_bit(port, VPV_BITMAP(vd->evt->guest_mask));
	/* pairs with the host's set pending / read mask */
	smp_mb__after_atomic();
	if (sync_test_bit(port, VPV_BITMAP(vd->evt->to_guest.pending)))
		vpv_evtchn_raise_later(vd, port);
}

static int vpv_evtchn_chip_retrigger(struct irq_data *d)
{
	struct vpv_dev *vd = irq_data_get_irq_chip_data(d);
	unsigned int port = irqd_to_hwirq(d);

	sync_set_bit(port, VPV_BITMAP(vd->evt->to_guest.pending));
	vpv_evtchn_raise_later(vd, port);
	return 1;
}

/*
 * The first online CPU of @dest handles the port from now on, unless
 * @dest has every online CPU (the default): then the CPU its upcall
 * arrives on does.  Passing it on costs an IPI per event, which under
 * TCG was most of a 4 KiB read's time in the guest; a device that wants
 * its events on the submitting CPU names per-CPU vectors instead
 * (vpv_evtchn_cpu_vector()).
 */
static int vpv_evtchn_chip_set_affinity(struct irq_data *d,
					const struct cpumask *dest, bool force)
{
	struct vpv_dev *vd = irq_data_get_irq_chip_data(d);
	unsigned int cpu = cpumask_first_and(dest, cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		return -EINVAL;
	if (cpumask_subset(cpu_online_mask, dest)) {
		WRITE_ONCE(vd->ports[irqd_to_hwirq(d)].cpu, VPV_PORT_ANY_CPU);
		irq_data_update_effective_affinity(d, cpu_online_mask);
	} else {
		WRITE_ONCE(vd->ports[irqd_to_hwirq(d)].cpu, cpu);
		irq_data_update_effective_affinity(d, cpumask_of(cpu));
	}
	return IRQ_SET_MASK_OK_DONE;
}

static struct irq_chip vpv_evtchn_chip = {
	.name			= "vpv-evtchn",
	.irq_ack		= vpv_evtchn_chip_ack,
	.irq_mask		= vpv_evtchn_chip_mask,
	.irq_unmask		= vpv_evtchn_chip_unmask,
	.irq_retrigger		= vpv_evtchn_chip_retrigger,
	.irq_set_affinity	= vpv_evtchn_chip_set_affinity,
};

static int vpv_evtchn_domain_map(struct irq_domain *dom, unsigned int virq,
				 irq_hw_number_t hw)
{
	irq_set_chip_data(virq, dom->host_data);
	irq_set_chip_and_handler_name(virq, &vpv_evtchn_chip, handle_edge_irq,
				      "edge");
	/*
	 * The chip's set_affinity only records the CPU: it may run from
	 * process context, not deferred to the next interrupt's ack (x86's
	 * GENERIC_PENDING_IRQ, which our chip never completes).
	 */
	irq_set_status_flags(virq, IRQ_MOVE_PCNTXT);
	return 0;
}

static const struct irq_domain_ops vpv_evtchn_domain_ops = {
	.map	= vpv_evtchn_domain_map,
	.xlate	= irq_domain_xlate_onecell,
};

static int vpv_evtchn_irq_setup(struct vpv_dev *vd)
{
	unsigned int cpu, port;

	for (port = 0; port < vd->nr_ports; port++)
		vd->ports[port].cpu = VPV_PORT_ANY_CPU;
	init_irq_work(&vd->retrigger, vpv_evtchn_retrigger_fn);
	for_each_possible_cpu(cpu)
		INIT_CSD(per_cpu_ptr(&vpv_steer_csd, cpu), vpv_evtchn_steer_fn,
			 NULL);
	vd->steered = bitmap_zalloc(vd->nr_ports, GFP_KERNEL);
	vd->fwnode = irq_domain_alloc_named_fwnode("vpv-evtchn");
	if (!vd->steered || !vd->fwnode)
		goto err;
	vd->domain = irq_domain_create_linear(vd->fwnode, vd->nr_ports,
					      &vpv_evtchn_domain_ops, vd);
	if (!vd->domain)
		goto err;
	return 0;
err:
	vpv_evtchn_irq_teardown(vd);
	return -ENOMEM;
}

/*
 * After the upcall interrupt is freed and the device withdrawn (a
 * steering call still in flight finds no device); every IRQ port is
 * unbound.
 */
static void vpv_evtchn_irq_teardown(struct vpv_dev *vd)
{
	irq_work_sync(&vd->retrigger);
	if (vd->domain)
		irq_domain_remove(vd->domain);
	vd->domain = NULL;
	if (vd->fwnode)
		irq_domain_free_fwnode(vd->fwnode);
	vd->fwnode = NULL;
	bitmap_free(vd->steered);
	vd->steered = NULL;
}

/* ALLOC a port from the host and check it; the port or -errno. */
static long vpv_evtchn_alloc_port(struct vpv_dev *vd, u32 remote)
{
	u64 args[VPV_HC_NR_ARGS] = { VPV_EVTCHNOP_ALLOC, remote };
	long ret = vpv_hcall_do(vd, VPV_HC_EVTCHN_OP, args);

	if (ret < 0)
		return ret;
	if (!vpv_port_valid(ret, vd->nr_ports) || (unsigned int)ret != ret) {
		dev_err_ratelimited(&vd->pdev->dev,
				    "host allocated invalid port %ld\n", ret);
		return -EIO;
	}
	return ret;
}

static void vpv_evtchn_close_port(struct vpv_dev *vd, unsigned int port)
{
	u64 args[VPV_HC_NR_ARGS] = { VPV_EVTCHNOP_CLOSE, port };

	sync_set_bit(port, VPV_BITMAP(vd->evt->guest_mask));
	vpv_hcall_do(vd, VPV_HC_EVTCHN_OP, args);
	sync_clear_bit(port, VPV_BITMAP(vd->evt->to_guest.pending));
}

/* Under vpv_get(): a fresh port mapped to an IRQ; the IRQ or -errno. */
static int vpv_evtchn_map_port(struct vpv_dev *vd, u32 remote,
			       unsigned int *portp)
{
	unsigned long flags;
	unsigned int virq;
	long port;

	port = vpv_evtchn_alloc_port(vd, remote);
	if (port < 0)
		return port;
	virq = irq_create_mapping(vd->domain, port);
	if (!virq) {
		vpv_evtchn_close_port(vd, port);
		return -ENOMEM;
	}
	spin_lock_irqsave(&vd->port_lock, flags);
	if (vd->ports[port].handler || vd->ports[port].virq) {
		spin_unlock_irqrestore(&vd->port_lock, flags);
		dev_err_ratelimited(&vd->pdev->dev,
				    "host allocated port %ld twice\n", port);
		return -EIO;
	}
	vd->ports[port].virq = virq;
	vd->ports[port].cpu = VPV_PORT_ANY_CPU;
	spin_unlock_irqrestore(&vd->port_lock, flags);
	/* Stale bits of a previous user of the port are dropped. */
	sync_clear_bit(port, VPV_BITMAP(vd->evt->to_guest.pending));
	sync_clear_bit(port, VPV_BITMAP(vd->evt->to_host.pending));
	*portp = port;
	return virq;
}

/* Under vpv_get(): forget @port's IRQ and close it on the host. */
static void vpv_evtchn_unmap_port(struct vpv_dev *vd, unsigned int port,
				  unsigned int virq)
{
	unsigned long flags;

	spin_lock_irqsave(&vd->port_lock, flags);
	vd->ports[port].virq = 0;
	vd->ports[port].cpu = VPV_PORT_ANY_CPU;
	spin_unlock_irqrestore(&vd->port_lock, flags);
	clear_bit(port, vd->steered);
	vpv_evtchn_close_port(vd, port);
	irq_dispose_mapping(virq);
}

int vpv_evtchn_bind_irq(u32 remote, irq_handler_t handler,
			irq_handler_t thread_fn, unsigned long irqflags,
			const char *name, void *dev_id, unsigned int *port)
{
	struct vpv_dev *vd;
	int virq, ret;

	might_sleep();
	if (!handler && !thread_fn)
		return -EINVAL;
	vd = vpv_get();
	if (!vd)
		return -ENODEV;
	ret = -EOPNOTSUPP;
	if (!vd->domain)
		goto out;
	virq = vpv_evtchn_map_port(vd, remote, port);
	ret = virq;
	if (virq < 0)
		goto out;
	/* unmasks the port (the chip's irq_unmask) */
	ret = request_threaded_irq(virq, handler, thread_fn, irqflags, name,
				   dev_id);
	if (ret) {
		vpv_evtchn_unmap_port(vd, *port, virq);
		goto out;
	}
	atomic64_inc(&vpv_stats.ports_open);
	ret = virq;
out:
	vpv_put();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_evtchn_bind_irq);

int vpv_evtchn_cpu_vector(unsigned int cpu)
{
	struct vpv_dev *vd;
	int ret = -ENODEV;

	rcu_read_lock();
	vd = vpv_get_rcu();
	if (vd)
		ret = vpv_cpu_vector(vd->features, READ_ONCE(vd->nr_cpu_vectors),
				     cpu);
	rcu_read_unlock();
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_evtchn_cpu_vector);

void vpv_evtchn_unbind_irq(int irq, void *dev_id)
{
	struct irq_data *d = irq_get_irq_data(irq);
	struct vpv_dev *vd;
	unsigned int port;

	might_sleep();
	if (!d || d->chip != &vpv_evtchn_chip)
		return;
	port = irqd_to_hwirq(d);
	/* masks the port; waits for a running handler */
	free_irq(irq, dev_id);
	vd = vpv_get();
	if (!vd)
		return;
	if (vd->domain && vpv_port_valid(port, vd->nr_ports) &&
	    vd->ports[port].virq == irq) {
		vpv_evtchn_unmap_port(vd, port, irq);
		atomic64_dec(&vpv_stats.ports_open);
	}
	vpv_put();
}
EXPORT_SYMBOL_GPL(vpv_evtchn_unbind_irq);
