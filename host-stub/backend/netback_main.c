// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-netback: the vif device's back-end process, started by vpv-host
 * (src/devices/beproc.c) with its socket as fd 3.
 */
#include <malloc.h>

#include "belib.h"
#include "netback.h"

/*
 * The heap this process keeps when it frees, rather than giving it back
 * to the kernel.  Every frame read from the tap gets a buffer of up to
 * 64 KiB (rx_read()), freed once delivered; with glibc's default (128
 * KiB) the top of the heap went back with brk() after each batch of
 * frames, so the next batch's read()s faulted its pages in again and
 * each shrink flushed TLBs on the other CPU: 30 % of the process's
 * samples during a receive job, which took 3 times the CPU (perf,
 * 2026-12-02).  It is above what the process can hold at once: every
 * queue's backlog (VPV_NETIF_RX_BACKLOG_MAX each), NET_RX_READS frames
 * being read and the TX buffer, about 8.3 MiB; what it keeps is never
 * more than that peak.
 */
#define NET_TRIM_THRESHOLD	(16 << 20)
/* a frame's buffer stays on the heap (glibc's default, made fixed) */
#define NET_MMAP_THRESHOLD	(1 << 20)

static_assert(VPV_NETIF_MAX_QUEUES * VPV_NETIF_RX_BACKLOG_MAX +
	      (NET_RX_READS + 1) * (NET_FRAME_MAX + 4096) < NET_TRIM_THRESHOLD,
	      "the trim threshold is above the most the process holds");
static_assert(NET_FRAME_MAX + 4096 < NET_MMAP_THRESHOLD,
	      "frame buffers come from the heap");

int main(void)
{
	/* before the first allocation; a refusal only costs speed */
	mallopt(M_TRIM_THRESHOLD, NET_TRIM_THRESHOLD);
	mallopt(M_MMAP_THRESHOLD, NET_MMAP_THRESHOLD);
	return be_main(&net_be_ops);
}
