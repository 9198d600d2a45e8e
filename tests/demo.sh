#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: boot a guest under vpv-host, load the pvkit modules, and
# show both sides (the guest's TAP and counters, the host's vpv-ctl).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
make -s -C host-stub
exec /usr/bin/python3 tests/demo.py "$@"
