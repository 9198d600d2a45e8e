// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/vhypercall/stats: one "name value" line per counter.
 * /sys/kernel/debug/vhypercall/info: the bound device's configuration.
 * /sys/kernel/debug/vhypercall/store: the config store client (store.c,
 * created by the split layer).
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "vhypercall_internal.h"

struct vpv_stats vpv_stats;

static struct dentry *vpv_debugfs_dir;

#define VPV_STAT(name) { #name, &vpv_stats.name }

static const struct {
	const char *name;
	atomic64_t *val;
} vpv_stat_list[] = {
	VPV_STAT(hypercalls),
	VPV_STAT(hc_errors),
	VPV_STAT(spins),
	VPV_STAT(sleeps),
	VPV_STAT(polls),
	VPV_STAT(timeouts),
	VPV_STAT(protocol_errors),
	VPV_STAT(slot_waits),
	VPV_STAT(slots_inherited),
	VPV_STAT(slots_reclaimed),
	VPV_STAT(hcall_irqs),
	VPV_STAT(multicalls),
	VPV_STAT(mc_entries),
	VPV_STAT(raw_pings),
	VPV_STAT(raw_pings_irq),
	VPV_STAT(echoes),
	VPV_STAT(doorbells_skipped),
	VPV_STAT(doorbells_late),
	VPV_STAT(evtchn_irqs),
	VPV_STAT(events_received),
	VPV_STAT(events_sent),
	VPV_STAT(events_spurious),
	VPV_STAT(ports_open),
};

static int vpv_stats_show(struct seq_file *m, void *v)
{
	s64 mcs = atomic64_read(&vpv_stats.multicalls);
	s64 ents = atomic64_read(&vpv_stats.mc_entries);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vpv_stat_list); i++)
		seq_printf(m, "%s %lld\n", vpv_stat_list[i].name,
			   atomic64_read(vpv_stat_list[i].val));
	/* average entries per multicall, two decimals */
	seq_printf(m, "mc_avg_entries_x100 %lld\n",
		   mcs ? ents * 100 / mcs : 0);
	/* bucket b counts multicalls of 2^b .. 2^(b+1)-1 entries */
	for (i = 0; i < VPV_MC_HIST_BUCKETS; i++)
		seq_printf(m, "mc_hist_%u %lld\n", 1u << i,
			   atomic64_read(&vpv_stats.mc_hist[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vpv_stats);

static int vpv_info_show(struct seq_file *m, void *v)
{
	struct vpv_dev *vd = vpv_get();

	if (!vd) {
		seq_puts(m, "bound 0\n");
		return 0;
	}
	seq_puts(m, "bound 1\n");
	seq_printf(m, "abi_version %#x\n", READ_ONCE(vd->hdr->abi_version));
	seq_printf(m, "own_peer %u\n", vd->own_peer);
	seq_printf(m, "host_peer %u\n", vd->host_peer);
	seq_printf(m, "host_features %#llx\n", vd->host_features);
	seq_printf(m, "features %#llx\n", vd->features);
	seq_printf(m, "shm_size %zu\n", vd->shm_size);
	seq_printf(m, "nr_slots %u\n", vd->nr_slots);
	seq_printf(m, "multicall_max %u\n", vd->multicall_max);
	seq_printf(m, "evtchn_nr_ports %u\n", vd->evt ? vd->nr_ports : 0);
	seq_printf(m, "spin_us %u\n", READ_ONCE(vpv_spin_us));
	seq_printf(m, "timeout_ms %u\n", READ_ONCE(vpv_timeout_ms));
	vpv_put();
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(vpv_info);

void vpv_debugfs_init(void)
{
	vpv_debugfs_dir = debugfs_create_dir("vhypercall", NULL);
	debugfs_create_file("stats", 0444, vpv_debugfs_dir, NULL,
			    &vpv_stats_fops);
	debugfs_create_file("info", 0444, vpv_debugfs_dir, NULL,
			    &vpv_info_fops);
}

/* The directory, for the split layer's files; NULL before init. */
struct dentry *vpv_debugfs_root(void)
{
	return vpv_debugfs_dir;
}

void vpv_debugfs_exit(void)
{
	debugfs_remove_recursive(vpv_debugfs_dir);
	vpv_debugfs_dir = NULL;
}
