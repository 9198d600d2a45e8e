/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the transport (vhypercall's PCI device, hypercalls, event
 * channels) offers the layers above it: a notifier that tells them
 * when a host session starts, restarts and ends, and the validated
 * facts of the session.  The split-driver layer (grant tables, config
 * store, bus) is such a client; the transport never calls into it.
 */
#ifndef PVKIT_VTRANSPORT_H
#define PVKIT_VTRANSPORT_H

#include <linux/interrupt.h>
#include <linux/notifier.h>
#include <linux/types.h>
#include <pvkit/vhypercall.h>

struct device;

/**
 * struct vpv_transport_info - a bound host session, as the transport
 *	validated it at probe
 * @dev: the ivshmem PCI device (the parent of the devices above it)
 * @hdr: the shared region's header (host-writable: copy, then check)
 * @shm: the shared region
 * @shm_size: its validated size
 * @features: the negotiated VPV_F_* bits
 * @evtchn: event channels are available
 */
struct vpv_transport_info {
	struct device *dev;
	struct vpv_shared_header *hdr;
	void *shm;
	size_t shm_size;
	u64 features;
	bool evtchn;
};

/**
 * enum vpv_transport_event - notifier events, with the session's
 *	struct vpv_transport_info as data
 * @VPV_TRANSPORT_UP: a session is bound and its API works; a client
 *	returning an error (notifier_from_errno()) fails the probe
 * @VPV_TRANSPORT_RESTART: a caller renegotiated (VPV_HC_NEGOTIATE): the
 *	host dropped every port, ring and watch of the session
 * @VPV_TRANSPORT_DOWN: the session ends; the API still works until
 *	every client returned
 */
enum vpv_transport_event {
	VPV_TRANSPORT_UP,
	VPV_TRANSPORT_RESTART,
	VPV_TRANSPORT_DOWN,
};

/**
 * vpv_transport_register_notifier() - follow the host session
 * @nb: called in process context, in registration order for UP and
 *	RESTART, in reverse order for DOWN; one event at a time
 *
 * When a session is already up, @nb gets VPV_TRANSPORT_UP at once.
 * Return: 0, or the errno @nb returned for that UP (then it is not
 * registered).
 */
int vpv_transport_register_notifier(struct notifier_block *nb);

/**
 * vpv_transport_unregister_notifier() - stop following the session
 * @nb: registered with vpv_transport_register_notifier()
 *
 * When a session is up, @nb gets VPV_TRANSPORT_DOWN first.
 */
void vpv_transport_unregister_notifier(struct notifier_block *nb);

/**
 * vpv_transport_range_ok() - is a part of the shared region usable?
 * @t: the session
 * @off: offset from the start of the region (8-byte aligned)
 * @len: length in bytes
 *
 * Return: true if [@off, @off + @len) lies after the header, inside the
 * validated region.
 */
static inline bool vpv_transport_range_ok(const struct vpv_transport_info *t,
					  u64 off, u64 len)
{
	return !(off & 7) && off >= sizeof(struct vpv_shared_header) &&
	       off <= t->shm_size && len <= t->shm_size - off;
}

/**
 * vpv_evtchn_forget() - drop a port the host already closed
 * @port: a port of this guest, closed by a session restart
 *
 * Masks it and forgets its handler without a CLOSE to the host.
 * Process context.
 */
void vpv_evtchn_forget(unsigned int port);

/**
 * vpv_evtchn_bind_irq() - allocate an event channel bound to a Linux IRQ
 * @remote: the other end's domain id (VPV_DOMID_HOST for back-ends)
 * @handler: hard IRQ handler, or NULL with @thread_fn
 * @thread_fn: threaded handler, or NULL
 * @irqflags: request_threaded_irq() flags (IRQF_ONESHOT with only a
 *	@thread_fn)
 * @name: the name in /proc/interrupts
 * @dev_id: the handlers' argument, and free_irq()'s cookie
 * @port: receives the port (for the other end, and notify)
 *
 * The IRQ's chip is "vpv-evtchn", its hwirq the port; its affinity may
 * be set (/proc/irq/N/smp_affinity): a mask with every online CPU (the
 * default) has the handler run where the interrupt arrives, any other
 * the first online CPU of the mask.  Each call binds a new port (one per queue).
 * Process context.
 * Return: the IRQ number (> 0), -EINVAL without a handler, -ENODEV (no
 * host), -EOPNOTSUPP (no event channels), -ENOMEM, -EIO (the host gave
 * an invalid port), or the host's -errno.
 */
int vpv_evtchn_bind_irq(u32 remote, irq_handler_t handler,
			irq_handler_t thread_fn, unsigned long irqflags,
			const char *name, void *dev_id, unsigned int *port);

/**
 * vpv_evtchn_cpu_vector() - the per-CPU vector of a CPU (ABI 1.5)
 * @cpu: the CPU that submits a queue's work
 *
 * For a protocol that lets the front-end name, per queue, the vector
 * the host rings for that queue's answers (blkif's "q<q>-vector"): the
 * host->guest vector pointed at @cpu, so those interrupts arrive where
 * the work was submitted instead of on one CPU for every device.  A
 * port's IRQ whose affinity allows every CPU is handled where its
 * interrupt arrives.  Any context.
 * Return: the vector (VPV_VEC_CPU0 + @cpu), or -ENOENT (the host did
 * not offer VPV_F_CPU_VECTORS, it was masked out, the guest has no
 * vector for @cpu) or -ENODEV (no host): name no vector then.
 */
int vpv_evtchn_cpu_vector(unsigned int cpu);

/**
 * vpv_evtchn_unbind_irq() - free the IRQ and close its port
 * @irq: from vpv_evtchn_bind_irq()
 * @dev_id: as given there
 *
 * The handler is not running and will not run again when this returns.
 * Process context.
 */
void vpv_evtchn_unbind_irq(int irq, void *dev_id);

#endif /* PVKIT_VTRANSPORT_H */
