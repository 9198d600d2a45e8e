// SPDX-License-Identifier: GPL-2.0
/*
 * The split-driver layer as a client of the transport: it comes up
 * (grant table, config store, bus) when a host session starts, goes
 * down before it ends, and the store starts afresh when a caller
 * renegotiated the session.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/notifier.h>

#include "split_internal.h"

static void vpv_split_down(const struct vpv_transport_info *t)
{
	vpv_bus_exit(t);
	vpv_store_exit(t);
	vpv_gnttab_exit(t);
}

static int vpv_split_up(const struct vpv_transport_info *t)
{
	int ret;

	ret = vpv_gnttab_init(t);
	if (!ret)
		ret = vpv_store_init(t);
	if (!ret)
		ret = vpv_bus_init(t);
	if (ret)
		vpv_split_down(t);
	return ret;
}

static int vpv_split_event(struct notifier_block *nb, unsigned long event,
			   void *data)
{
	const struct vpv_transport_info *t = data;

	switch (event) {
	case VPV_TRANSPORT_UP:
		return notifier_from_errno(vpv_split_up(t));
	case VPV_TRANSPORT_RESTART:
		vpv_store_renegotiated();
		break;
	case VPV_TRANSPORT_DOWN:
		vpv_split_down(t);
		break;
	}
	return NOTIFY_OK;
}

static struct notifier_block vpv_split_nb = {
	.notifier_call = vpv_split_event,
};

int vpv_split_register(void)
{
	int ret = vpv_bus_type_register();

	if (ret)
		return ret;
	ret = vpv_transport_register_notifier(&vpv_split_nb);
	if (ret)
		vpv_bus_type_unregister();
	return ret;
}

void vpv_split_unregister(void)
{
	vpv_transport_unregister_notifier(&vpv_split_nb);
	vpv_bus_type_unregister();
}

void vpv_split_debugfs(struct dentry *dir)
{
	if (dir)
		vpv_store_debugfs(dir);
}
