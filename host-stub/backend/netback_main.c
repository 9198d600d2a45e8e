// SPDX-License-Identifier: GPL-2.0
/*
 * vpv-netback: the vif device's back-end process, started by vpv-host
 * (src/devices/beproc.c) with its socket as fd 3.
 */
#include "belib.h"

int main(void)
{
	return be_main(&net_be_ops);
}
