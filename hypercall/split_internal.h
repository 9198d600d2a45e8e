/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The split-driver layer's internals (split.c, gnttab.c, store.c,
 * bus.c, frontend.c).  The layer uses only the transport's public API
 * (<pvkit/vhypercall.h>, <pvkit/vtransport.h>), never its internals.
 */
#ifndef VPV_SPLIT_INTERNAL_H
#define VPV_SPLIT_INTERNAL_H

#include <pvkit/vbus.h>
#include <pvkit/vtransport.h>

struct dentry;

/*
 * Session start and end, from split.c's transport notifier, in this
 * order (and the reverse).  A feature the host did not offer is
 * skipped; an init returns an errno only when memory runs out.
 */
int vpv_gnttab_init(const struct vpv_transport_info *t);
void vpv_gnttab_exit(const struct vpv_transport_info *t);
int vpv_store_init(const struct vpv_transport_info *t);
void vpv_store_exit(const struct vpv_transport_info *t);
void vpv_store_renegotiated(void);
void vpv_store_debugfs(struct dentry *dir);
/* vpv_store_printf() with a va_list (vpv_bus_printf() builds the path) */
__printf(3, 0)
int vpv_store_vprintf(u32 tx, const char *path, const char *fmt, va_list ap);
int vpv_bus_init(const struct vpv_transport_info *t);
void vpv_bus_exit(const struct vpv_transport_info *t);

/* frontend.c: drop a previous instance's error/ node (bus.c) */
void vpv_bus_clear_error(struct vpv_bus_device *dev);

/* split.c: the layer's entry points, for module.c */
int vpv_split_register(void);
void vpv_split_unregister(void);
void vpv_split_debugfs(struct dentry *dir);

/* bus.c: the bus type, registered for the module's lifetime */
int vpv_bus_type_register(void);
void vpv_bus_type_unregister(void);

#endif /* VPV_SPLIT_INTERNAL_H */
