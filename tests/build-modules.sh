#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-modules.sh KDIR OUTDIR [make args]: build every pvkit guest
# module against KDIR in a copy of the sources under OUTDIR, so modules
# for several kernels can coexist.  Prints nothing on success but the
# kbuild output on stderr.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kdir=$1
out=$2
shift 2
mkdir -p "$out"
rsync -a --delete --exclude='*.o' --exclude='*.ko' --exclude='*.mod*' \
	--exclude='.*.cmd' --exclude='Module.symvers' --exclude=modules.order \
	--include='/Kbuild' --include='/abi/***' --include='/include/***' \
	--include='/hypercall/***' --include='/balloon/***' \
	--include='/pvmmu/***' --include='/vloop/***' --include='/blkfront/***' \
	--include='/netfront/***' --include='/tests/' \
	--include='/tests/modules/***' --exclude='*' \
	"$repo"/ "$out"/
# rsync keeps mtimes, so kbuild rebuilds only what changed
make -s -C "$kdir" M="$out" "$@" modules >&2
