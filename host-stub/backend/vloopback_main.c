// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-vloopback: the vloop device's back-end process, started by
 * vpv-host (src/devices/beproc.c) with its socket as fd 3.
 */
#include "belib.h"

int main(void)
{
	return be_main(&vloop_be_ops);
}
