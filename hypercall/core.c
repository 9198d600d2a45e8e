// SPDX-License-Identifier: GPL-2.0
/*
 * vhypercall: pvkit hypercall transport over QEMU's ivshmem-doorbell.
 *
 * PCI probe/remove, shared header checks, feature negotiation and the
 * module entry points.  Exactly one bound device serves the API.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/rwsem.h>
#include <linux/slab.h>

#include "vhypercall_internal.h"
#include "vhypercall_logic.h"

/* Features this driver can negotiate on behalf of the pvkit modules. */
#define VPV_F_KNOWN	(VPV_F_MULTICALL | VPV_F_EVTCHN |		\
			 VPV_F_IRQ_COMPLETION | VPV_F_ECHO |		\
			 VPV_F_HC_POLL | VPV_F_DEV_DOORBELL |		\
			 VPV_F_CPU_VECTORS | VPV_F_BALLOON |		\
			 VPV_F_BALLOON_2M | VPV_F_PAGE_REPORTING |	\
			 VPV_F_PVMMU | VPV_F_GRANT | VPV_F_STORE)

static ulong features_mask = ~0UL;
module_param(features_mask, ulong, 0444);
MODULE_PARM_DESC(features_mask,
		 "VPV_F_* bits the guest may negotiate (default: all known)");

static DECLARE_RWSEM(vpv_rwsem);
static struct vpv_dev __rcu *vpv_cur;

/* Process context: pin the bound device; vpv_put() when done. */
struct vpv_dev *vpv_get(void)
{
	struct vpv_dev *vd;

	down_read(&vpv_rwsem);
	vd = rcu_dereference_protected(vpv_cur, lockdep_is_held(&vpv_rwsem));
	if (!vd)
		up_read(&vpv_rwsem);
	return vd;
}

void vpv_put(void)
{
	up_read(&vpv_rwsem);
}

/* Any context, inside rcu_read_lock(). */
struct vpv_dev *vpv_get_rcu(void)
{
	return rcu_dereference(vpv_cur);
}

void vpv_ring(struct vpv_dev *vd, unsigned int vec)
{
	iowrite32(VPV_DOORBELL(vd->host_peer, vec),
		  vd->regs + VPV_REG_DOORBELL);
}

u64 vpv_features(void)
{
	struct vpv_dev *vd;
	u64 f = 0;

	rcu_read_lock();
	vd = vpv_get_rcu();
	if (vd)
		f = vd->features;
	rcu_read_unlock();
	return f;
}
EXPORT_SYMBOL_GPL(vpv_features);

void *vpv_shared_base(size_t *size)
{
	struct vpv_dev *vd;
	void *base = NULL;

	rcu_read_lock();
	vd = vpv_get_rcu();
	if (vd) {
		base = vd->shm;
		if (size)
			*size = vd->shm_size;
	}
	rcu_read_unlock();
	return base;
}
EXPORT_SYMBOL_GPL(vpv_shared_base);

/* Is [off, off + len) inside the shared region and 8-byte aligned? */
bool vpv_shm_range_ok(struct vpv_dev *vd, u64 off, u64 len)
{
	return !(off & 7) && off >= sizeof(struct vpv_shared_header) &&
	       off <= vd->shm_size && len <= vd->shm_size - off;
}

static int vpv_check_header(struct vpv_dev *vd)
{
	struct vpv_shared_header *hdr = vd->hdr;
	struct device *dev = &vd->pdev->dev;
	u32 magic = READ_ONCE(hdr->magic);
	u32 abi = READ_ONCE(hdr->abi_version);
	u32 status = READ_ONCE(hdr->host_status);
	u64 shm_size = READ_ONCE(hdr->shm_size);

	if (magic != VPV_MAGIC) {
		dev_err(dev, "ivshmem device without a pvkit host (magic %#x, want %#x)\n",
			magic, VPV_MAGIC);
		return -ENODEV;
	}
	if ((abi >> 16) != VPV_ABI_MAJOR) {
		dev_err(dev, "pvkit host speaks ABI %u.%u, guest needs %u.x\n",
			abi >> 16, abi & 0xffff, VPV_ABI_MAJOR);
		return -ENODEV;
	}
	if (status != VPV_HOST_READY) {
		dev_err(dev, "pvkit host not ready (host_status %u)\n", status);
		return -ENODEV;
	}
	if (shm_size < VPV_SHM_MIN_SIZE || shm_size > vd->shm_size) {
		dev_err(dev, "bad shm_size %llu (BAR2 is %zu bytes)\n",
			shm_size, vd->shm_size);
		return -ENODEV;
	}
	vd->shm_size = shm_size;

	vd->host_peer = READ_ONCE(hdr->host_peer_id);
	if (vd->host_peer > 0xffff || vd->host_peer == vd->own_peer) {
		dev_err(dev, "bad host peer id %u (own id %u)\n",
			vd->host_peer, vd->own_peer);
		return -ENODEV;
	}
	vd->host_features = READ_ONCE(hdr->host_features);
	return 0;
}

static int vpv_check_layout(struct vpv_dev *vd)
{
	struct vpv_shared_header *hdr = vd->hdr;
	struct device *dev = &vd->pdev->dev;
	u32 nr_slots = READ_ONCE(hdr->nr_slots);
	u32 slot_off = READ_ONCE(hdr->slot_offset);
	u32 slot_size = READ_ONCE(hdr->slot_size);
	u32 mc_max = READ_ONCE(hdr->multicall_max);
	u32 nr_ports = READ_ONCE(hdr->evtchn_nr_ports);
	u32 evt_off = READ_ONCE(hdr->evtchn_offset);

	if (!nr_slots || slot_size < sizeof(struct vpv_hc_slot) ||
	    slot_size % 8 ||
	    !vpv_shm_range_ok(vd, slot_off, (u64)nr_slots * slot_size)) {
		dev_err(dev, "bad slot layout: %u slots of %u bytes at %#x\n",
			nr_slots, slot_size, slot_off);
		return -ENODEV;
	}
	vd->nr_slots = min(nr_slots, VPV_MAX_SLOTS);

	if (vd->host_features & VPV_F_MULTICALL) {
		if (!mc_max || mc_max > VPV_MULTICALL_MAX) {
			dev_err(dev, "bad multicall_max %u\n", mc_max);
			return -ENODEV;
		}
		vd->multicall_max = mc_max;
	}

	if (vd->host_features & VPV_F_EVTCHN) {
		if (nr_ports < 2 || nr_ports > VPV_EVTCHN_MAX_PORTS ||
		    !vpv_shm_range_ok(vd, evt_off,
				      sizeof(struct vpv_evtchn_shared))) {
			dev_err(dev, "bad event channel layout: %u ports at %#x\n",
				nr_ports, evt_off);
			return -ENODEV;
		}
		vd->nr_ports = nr_ports;
		vd->evt = vd->shm + evt_off;
	}
	return 0;
}

static int vpv_negotiate(struct vpv_dev *vd)
{
	struct device *dev = &vd->pdev->dev;
	u64 want = vd->host_features & VPV_F_KNOWN & features_mask &
		   ~(vd->nr_cpu_vectors ? 0 : VPV_F_CPU_VECTORS);
	/*
	 * A new instance: calls a previous one left pending are cancelled,
	 * not run in this session (hosts before ABI 1.2 ignore the flag and
	 * complete them late; their slots stay retired until then).
	 */
	u64 args[VPV_HC_NR_ARGS] = { VPV_ABI_VERSION, want,
				     VPV_NEGOTIATE_CANCEL_SLOTS };
	long ret;

	WRITE_ONCE(vd->hdr->guest_features, want);
	ret = vpv_hcall_do(vd, VPV_HC_NEGOTIATE, args);
	if (ret < 0) {
		dev_err(dev, "negotiation failed: %ld\n", ret);
		return ret == -EPROTO ? -ENODEV : (int)ret;
	}
	if ((u64)ret & ~want) {
		dev_err(dev, "host accepted features %#lx, offered only %#llx\n",
			ret, want);
		return -EPROTO;
	}
	vd->features = ret;
	if (!(vd->features & VPV_F_CPU_VECTORS))
		vd->nr_cpu_vectors = 0;	/* requested, never rung */
	vd->irq_completion = !!(vd->features & VPV_F_IRQ_COMPLETION);
	if (!(vd->features & VPV_F_MULTICALL))
		vd->multicall_max = 0;
	if (!(vd->features & VPV_F_EVTCHN))
		vd->evt = NULL;
	return 0;
}

static const char * const vpv_irq_names[VPV_NR_VECTORS] = {
	[VPV_VEC_HCALL] = "vhypercall-hcall",
	[VPV_VEC_EVTCHN] = "vhypercall-evtchn",
};

static void vpv_free_irqs(struct vpv_dev *vd)
{
	int i, irq;

	for (i = 0; i < ARRAY_SIZE(vd->irqs_requested); i++) {
		if (!vd->irqs_requested[i])
			continue;
		irq = pci_irq_vector(vd->pdev, i);
		if (i >= VPV_VEC_CPU0)	/* free_irq() wants no hint left */
			irq_update_affinity_hint(irq, NULL);
		free_irq(irq, vd);
		vd->irqs_requested[i] = false;
	}
}

/*
 * Per-CPU vectors (ABI 1.5): CPU i's vector runs the event-channel
 * upcall on CPU i.  The affinity is a hint too, so irqbalance leaves it;
 * a CPU offline now only costs locality (the kernel moves the vector).
 */
static int vpv_request_cpu_irqs(struct vpv_dev *vd)
{
	unsigned int i, v;
	int irq, ret;

	for (i = 0; i < vd->nr_cpu_vectors; i++) {
		v = VPV_VEC_CPU0 + i;
		irq = pci_irq_vector(vd->pdev, v);
		snprintf(vd->cpu_irq_names[i], sizeof(vd->cpu_irq_names[i]),
			 "vhypercall-cpu%u", i);
		ret = request_irq(irq, vpv_evtchn_irq, 0, vd->cpu_irq_names[i],
				  vd);
		if (ret)
			return ret;
		vd->irqs_requested[v] = true;
		irq_set_affinity_and_hint(irq, cpumask_of(i));
	}
	return 0;
}

static int vpv_request_irqs(struct vpv_dev *vd)
{
	static const irq_handler_t handlers[VPV_NR_VECTORS] = {
		[VPV_VEC_HCALL] = vpv_hcall_irq,
		[VPV_VEC_EVTCHN] = vpv_evtchn_irq,
	};
	int i, ret;

	for (i = 0; i < VPV_NR_VECTORS; i++) {
		ret = request_irq(pci_irq_vector(vd->pdev, i), handlers[i], 0,
				  vpv_irq_names[i], vd);
		if (ret) {
			vpv_free_irqs(vd);
			return ret;
		}
		vd->irqs_requested[i] = true;
	}
	ret = vpv_request_cpu_irqs(vd);
	if (ret)
		vpv_free_irqs(vd);
	return ret;
}

/*
 * The layers above the transport (the split-driver layer) follow the
 * session through this chain; the transport never calls into them.
 * vpv_client_lock orders registration against probe and removal, so
 * a client sees UP and DOWN in pairs.
 */
static BLOCKING_NOTIFIER_HEAD(vpv_clients);
static DEFINE_MUTEX(vpv_client_lock);
static struct vpv_transport_info vpv_info;
static bool vpv_info_up;

static void vpv_info_fill(struct vpv_dev *vd)
{
	vpv_info.dev = &vd->pdev->dev;
	vpv_info.hdr = vd->hdr;
	vpv_info.shm = vd->shm;
	vpv_info.shm_size = vd->shm_size;
	vpv_info.features = vd->features;
	vpv_info.evtchn = !!vd->evt;
}

/* After the device is published: the clients' API calls work. */
static int vpv_clients_up(struct vpv_dev *vd)
{
	int ret;

	mutex_lock(&vpv_client_lock);
	vpv_info_fill(vd);
	ret = blocking_notifier_call_chain_robust(&vpv_clients,
						  VPV_TRANSPORT_UP,
						  VPV_TRANSPORT_DOWN,
						  &vpv_info);
	ret = notifier_to_errno(ret);
	vpv_info_up = !ret;
	mutex_unlock(&vpv_client_lock);
	return ret;
}

static void vpv_clients_down(void)
{
	mutex_lock(&vpv_client_lock);
	if (vpv_info_up)
		blocking_notifier_call_chain(&vpv_clients, VPV_TRANSPORT_DOWN,
					     &vpv_info);
	vpv_info_up = false;
	mutex_unlock(&vpv_client_lock);
}

/* A caller renegotiated through vpv_hypercall(): process context. */
void vpv_clients_restart(void)
{
	mutex_lock(&vpv_client_lock);
	if (vpv_info_up)
		blocking_notifier_call_chain(&vpv_clients,
					     VPV_TRANSPORT_RESTART, &vpv_info);
	mutex_unlock(&vpv_client_lock);
}

int vpv_transport_register_notifier(struct notifier_block *nb)
{
	int ret = 0;

	mutex_lock(&vpv_client_lock);
	if (vpv_info_up)
		ret = notifier_to_errno(nb->notifier_call(nb, VPV_TRANSPORT_UP,
							  &vpv_info));
	if (!ret)
		ret = blocking_notifier_chain_register(&vpv_clients, nb);
	mutex_unlock(&vpv_client_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(vpv_transport_register_notifier);

void vpv_transport_unregister_notifier(struct notifier_block *nb)
{
	mutex_lock(&vpv_client_lock);
	blocking_notifier_chain_unregister(&vpv_clients, nb);
	if (vpv_info_up)
		nb->notifier_call(nb, VPV_TRANSPORT_DOWN, &vpv_info);
	mutex_unlock(&vpv_client_lock);
}
EXPORT_SYMBOL_GPL(vpv_transport_unregister_notifier);

/*
 * The PCI side: BAR0 (registers) and BAR2 (the shared region), checked
 * to be a pvkit host's (header and layout).  Undone by vpv_unmap().
 */
static int vpv_map(struct vpv_dev *vd)
{
	struct pci_dev *pdev = vd->pdev;
	int ret;

	ret = pci_enable_device(pdev);
	if (ret)
		return ret;
	ret = pci_request_regions(pdev, VPV_DRV_NAME);
	if (ret)
		goto err_disable;
	vd->regs = pci_iomap(pdev, 0, 0);
	if (!vd->regs) {
		ret = -ENOMEM;
		goto err_regions;
	}
	vd->shm_size = pci_resource_len(pdev, 2);
	if (vd->shm_size < VPV_SHM_MIN_SIZE) {
		dev_err(&pdev->dev, "ivshmem device without a pvkit host (BAR2 is %zu bytes)\n",
			vd->shm_size);
		ret = -ENODEV;
		goto err_iounmap;
	}
	vd->shm = memremap(pci_resource_start(pdev, 2), vd->shm_size,
			   MEMREMAP_WB);
	if (!vd->shm) {
		ret = -ENOMEM;
		goto err_iounmap;
	}
	vd->hdr = vd->shm;
	vd->own_peer = ioread32(vd->regs + VPV_REG_IVPOSITION);
	ret = vpv_check_header(vd);
	if (!ret)
		ret = vpv_check_layout(vd);
	if (ret)
		goto err_memunmap;
	return 0;

err_memunmap:
	memunmap(vd->shm);
err_iounmap:
	pci_iounmap(pdev, vd->regs);
err_regions:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
	return ret;
}

static void vpv_unmap(struct vpv_dev *vd)
{
	memunmap(vd->shm);
	pci_iounmap(vd->pdev, vd->regs);
	pci_release_regions(vd->pdev);
	pci_disable_device(vd->pdev);
}

/*
 * Per-CPU vectors to ask for: one per possible CPU (at most
 * VPV_NR_CPU_VECTORS) when the host offers them with event channels,
 * the mask allows them and the device has the MSI-X entries; else none
 * (VPV_VEC_EVTCHN serves every CPU, as before ABI 1.5).
 */
static unsigned int vpv_cpu_vectors_want(struct vpv_dev *vd)
{
	int msix = pci_msix_vec_count(vd->pdev);

	if (!(vd->host_features & features_mask & VPV_F_CPU_VECTORS) ||
	    !vd->evt || msix < 0)
		return 0;
	return vpv_cpu_vectors_wanted(nr_cpu_ids, msix);
}

/*
 * The transport: MSI-X vectors, hypercall slots, event channels, their
 * IRQs and the ABI negotiation, then the guest is up.  Undone by
 * vpv_transport_down().
 */
static int vpv_transport_up(struct vpv_dev *vd)
{
	struct pci_dev *pdev = vd->pdev;
	int ret;

	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, VPV_NR_VECTORS,
				    VPV_VEC_CPU0 + vpv_cpu_vectors_want(vd),
				    PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(&pdev->dev, "cannot get %d MSI-X vectors: %d\n",
			VPV_NR_VECTORS, ret);
		goto err_master;
	}
	/* vectors 2 .. VPV_VEC_CPU0 - 1 are guest->host only */
	vd->nr_cpu_vectors = ret > VPV_VEC_CPU0 ? ret - VPV_VEC_CPU0 : 0;
	ret = vpv_hcall_setup(vd);
	if (ret)
		goto err_vectors;
	ret = vpv_evtchn_setup(vd);
	if (ret)
		goto err_hcall;
	ret = vpv_request_irqs(vd);
	if (ret)
		goto err_evtchn;
	ret = vpv_negotiate(vd);
	if (ret)
		goto err_irqs;
	vpv_evtchn_start(vd);
	WRITE_ONCE(vd->hdr->guest_status, VPV_GUEST_UP);
	return 0;

err_irqs:
	vpv_free_irqs(vd);
err_evtchn:
	vpv_evtchn_teardown(vd);
err_hcall:
	vpv_hcall_teardown(vd);
err_vectors:
	pci_free_irq_vectors(pdev);
err_master:
	pci_clear_master(pdev);
	return ret;
}

static void vpv_transport_down(struct vpv_dev *vd)
{
	WRITE_ONCE(vd->hdr->guest_status, VPV_GUEST_DOWN);
	/* No interrupts from here on: hypercalls poll for completion. */
	vpv_free_irqs(vd);
	vd->irq_completion = false;
	vpv_evtchn_teardown(vd);
	vpv_hcall_teardown(vd);
	pci_free_irq_vectors(vd->pdev);
	pci_clear_master(vd->pdev);
}

static int vpv_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vpv_dev *vd;
	int ret;

	if (rcu_access_pointer(vpv_cur)) {
		dev_info(&pdev->dev, "another pvkit host is already bound, ignoring\n");
		return -EBUSY;
	}

	vd = kzalloc(sizeof(*vd), GFP_KERNEL);
	if (!vd)
		return -ENOMEM;
	vd->pdev = pdev;
	mutex_init(&vd->raw_lock);
	init_waitqueue_head(&vd->raw_wq);
	spin_lock_init(&vd->port_lock);
	atomic_set(&vd->upcall_count, 0);
	pci_set_drvdata(pdev, vd);

	ret = vpv_map(vd);
	if (ret)
		goto err_free;
	ret = vpv_transport_up(vd);
	if (ret)
		goto err_unmap;

	down_write(&vpv_rwsem);
	if (rcu_access_pointer(vpv_cur)) {
		up_write(&vpv_rwsem);
		ret = -EBUSY;
		goto err_down;
	}
	rcu_assign_pointer(vpv_cur, vd);
	up_write(&vpv_rwsem);

	dev_info(&pdev->dev, "pvkit host peer %u (own %u), ABI %#x, features %#llx, %u slots, %u ports, multicall max %u\n",
		 vd->host_peer, vd->own_peer, READ_ONCE(vd->hdr->abi_version),
		 vd->features, vd->nr_slots, vd->evt ? vd->nr_ports : 0,
		 vd->multicall_max);

	/* The clients (the split-driver layer) use the published API. */
	ret = vpv_clients_up(vd);
	if (ret)
		goto err_unpublish;
	return 0;

err_unpublish:
	down_write(&vpv_rwsem);
	RCU_INIT_POINTER(vpv_cur, NULL);
	up_write(&vpv_rwsem);
	synchronize_rcu();
err_down:
	vpv_transport_down(vd);
err_unmap:
	vpv_unmap(vd);
err_free:
	kfree(vd);
	return ret;
}

static void vpv_remove(struct pci_dev *pdev)
{
	struct vpv_dev *vd = pci_get_drvdata(pdev);

	/* while the API still works: the clients talk to the host */
	vpv_clients_down();

	down_write(&vpv_rwsem);
	if (rcu_access_pointer(vpv_cur) == vd)
		RCU_INIT_POINTER(vpv_cur, NULL);
	up_write(&vpv_rwsem);
	synchronize_rcu();

	vpv_transport_down(vd);
	vpv_unmap(vd);
	kfree(vd);
}

static const struct pci_device_id vpv_pci_ids[] = {
	{ PCI_DEVICE(VPV_PCI_VENDOR, VPV_PCI_DEVICE) },
	{ }
};
MODULE_DEVICE_TABLE(pci, vpv_pci_ids);

static struct pci_driver vpv_pci_driver = {
	.name = VPV_DRV_NAME,
	.id_table = vpv_pci_ids,
	.probe = vpv_probe,
	.remove = vpv_remove,
	/* Dependent modules pin us; a sysfs unbind must not pull the rug. */
	.driver.suppress_bind_attrs = true,
};

int __init vpv_transport_init(void)
{
	int ret;

	ret = pci_register_driver(&vpv_pci_driver);
	if (ret)
		return ret;
	if (!rcu_access_pointer(vpv_cur)) {
		pci_unregister_driver(&vpv_pci_driver);
		pr_err("no pvkit host found (ivshmem-doorbell device with a vpv-host server)\n");
		return -ENODEV;
	}
	vpv_debugfs_init();
	return 0;
}

void vpv_transport_exit(void)
{
	vpv_debugfs_exit();
	pci_unregister_driver(&vpv_pci_driver);
}
