// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-blkback: the vbd device's back-end process, started by vpv-host
 * (src/devices/beproc.c) with its socket as fd 3.
 */
#include "belib.h"

int main(void)
{
	return be_main(&blk_be_ops);
}
