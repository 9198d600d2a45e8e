# SPDX-License-Identifier: GPL-2.0
#
# pvkit: guest paravirtual driver modules and the host stub.
#
#   make                 modules (against KDIR) and the host stub
#   make modules         guest modules only
#   make host            host stub only (host-stub/build/vpv-host, vpv-ctl)
#   make check           sparse, checkpatch --strict, W=1: zero warnings
#   make test            every test (see README.md)
#   make demo            boot a guest with the host stub and the modules
#   make htmldocs        Documentation/ as HTML in build/htmldocs (Sphinx)
#
# KDIR defaults to the running kernel's build tree and, where there is
# none (as on a host without /lib/modules), to the newest installed
# Debian linux-headers-*-amd64.

KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))

all: modules host

modules:
	@test -n "$(KDIR)" || { echo "no kernel build tree: set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

host:
	$(MAKE) -C host-stub

check:
	bash tests/check.sh

test:
	bash tests/run-tests.sh

demo:
	bash tests/demo.sh

deps:
	bash tests/install-deps.sh

# -W: a Sphinx warning is an error; -n: so is a reference to nothing
htmldocs:
	sphinx-build -b html -W -n --keep-going -q Documentation build/htmldocs

clean:
	@test -z "$(KDIR)" || $(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C host-stub clean
	rm -rf build

.PHONY: all modules host check test demo deps htmldocs clean
