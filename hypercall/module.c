// SPDX-License-Identifier: GPL-2.0
/*
 * vhypercall.ko's entry points: the module holds two layers, the
 * transport (core.c, hcall.c, evtchn.c, debugfs.c: include
 * vhypercall_internal.h) and above it the split-driver layer (split.c,
 * gnttab.c, store.c, bus.c, frontend.c: include split_internal.h and
 * only the transport's public API).  This file only orders them: the
 * split layer registers for the transport's session events before
 * the transport probes, and goes after it is gone.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

#include "split_internal.h"
#include "vhypercall_internal.h"

static int __init vpv_module_init(void)
{
	int ret;

	ret = vpv_split_register();
	if (ret)
		return ret;
	ret = vpv_transport_init();
	if (ret) {
		vpv_split_unregister();
		return ret;
	}
	vpv_split_debugfs(vpv_debugfs_root());
	return 0;
}

static void __exit vpv_module_exit(void)
{
	vpv_transport_exit();
	vpv_split_unregister();
}

module_init(vpv_module_init);
module_exit(vpv_module_exit);

MODULE_DESCRIPTION("pvkit hypercall and event channel transport (ivshmem-doorbell) and split-driver layer");
MODULE_LICENSE("GPL");
