// SPDX-License-Identifier: GPL-2.0
/*
 * test_blkback's checks against the real build-san/vpv-blkback process
 * (src/devices/beproc.c spawns it, as vpv-host does), plus what only a
 * process has: its sandbox, BLK_STATS in device list, a kill and the
 * restart.  The request-changed-after-copy check needs the in-process
 * hook and runs in test_blkback only.
 */
#define BLK_PROC 1
#include "test_blkback.c"
