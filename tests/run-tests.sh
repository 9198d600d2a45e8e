#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make test: install what is missing, then run every test (tests/run.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
exec /usr/bin/python3 tests/run.py "$@"
