// SPDX-License-Identifier: GPL-2.0
/*
 * test_netback's checks against the real build-san/vpv-netback process
 * (src/devices/beproc.c spawns it, as vpv-host does), plus what only a
 * process has: its sandbox, NET_STATS from the process, kill -9 and
 * the reconnect after each.
 */
#define NET_PROC 1
#include "test_netback.c"
