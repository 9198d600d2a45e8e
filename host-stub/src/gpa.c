// SPDX-License-Identifier: GPL-2.0
/*
 * Guest physical address translation for the q35 machine.
 *
 * The guest RAM is one shared file (memory-backend-file, share=on) that
 * both QEMU and the stub map.  QEMU 7.2 hw/i386/pc_q35.c, pc_q35_init():
 *
 *	if (machine->ram_size >= 0xb0000000) {
 *		lowmem = 0x80000000;
 *	} else {
 *		lowmem = 0xb0000000;
 *	}
 *	... (lowmem is capped at max-ram-below-4g, default 4 GiB)
 *	if (machine->ram_size >= lowmem) {
 *		above_4g_mem_size = ram_size - lowmem;
 *		below_4g_mem_size = lowmem;
 *	} else {
 *		above_4g_mem_size = 0;
 *		below_4g_mem_size = ram_size;
 *	}
 *
 * pc_memory_init() then maps file offsets [0, below) at GPA 0 and file
 * offsets [below, size) at GPA 4 GiB.  So RAM is either entirely below
 * 4 GiB (ram_size < 0xb0000000) or split at 2 GiB.  The stub never
 * passes max-ram-below-4g; a --qemu-arg that does breaks this mapping.
 * The legacy VGA/BIOS holes below 1 MiB are still backed by the file
 * at the same offsets, so the host treats them as RAM.
 */
#include <string.h>

#include "vpv_host.h"

#define GPA_4G		0x100000000ull

uint64_t gpa_lowmem(uint64_t ram_size)
{
	uint64_t lowmem = ram_size >= 0xb0000000ull ? 0x80000000ull :
						       0xb0000000ull;

	return ram_size >= lowmem ? lowmem : ram_size;
}

/*
 * Translate [gpa, gpa + len) to a file offset.  len == 0 is treated as
 * len == 1 (the address itself must be RAM).  Fails with -VPV_EFAULT on
 * overflow, on any byte outside RAM, and on ranges that straddle the
 * PCI hole (the two RAM blocks are contiguous in the file but not in
 * GPA space).
 */
int gpa_to_offset(uint64_t ram_size, uint64_t lowmem, uint64_t gpa,
		  uint64_t len, uint64_t *off)
{
	uint64_t last;

	if (!len)
		len = 1;
	if (gpa + (len - 1) < gpa)
		return -VPV_EFAULT;
	last = gpa + (len - 1);

	if (last < lowmem) {
		*off = gpa;
		return 0;
	}
	if (gpa >= GPA_4G && ram_size > lowmem &&
	    last - GPA_4G < ram_size - lowmem) {
		*off = lowmem + (gpa - GPA_4G);
		return 0;
	}
	return -VPV_EFAULT;
}

void *gpa_ptr(struct guest *g, uint64_t gpa, size_t len)
{
	uint64_t off;

	if (!g->ram)
		return NULL;
	if (gpa_to_offset(g->ram_size, g->lowmem, gpa, len, &off))
		return NULL;
	return g->ram + off;
}

/*
 * Copy helpers.  Guest memory may change under us at any time, so
 * callers copy once and validate the copy; memcpy on a shared mapping
 * is fine for that (no data-dependent control flow inside).
 */
int gpa_read(struct guest *g, uint64_t gpa, void *buf, size_t len)
{
	void *p = gpa_ptr(g, gpa, len);

	if (!p)
		return -VPV_EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int gpa_write(struct guest *g, uint64_t gpa, const void *buf, size_t len)
{
	void *p = gpa_ptr(g, gpa, len);

	if (!p)
		return -VPV_EFAULT;
	memcpy(p, buf, len);
	return 0;
}
