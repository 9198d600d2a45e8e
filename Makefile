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
#   make man             man pages (rst2man) into build/man
#   make install         guest modules into /lib/modules/KVER/updates/pvkit
#                        (depmod), host programs and man pages into PREFIX
#   make uninstall       what make install put there
#
# KDIR defaults to the running kernel's build tree and, where there is
# none (as on a host without /lib/modules), to the newest installed
# Debian linux-headers-*-amd64.

KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))

# make install: PREFIX/sbin gets the programs people run, PREFIX/lib/pvkit
# the back-end processes vpv-host starts (it looks for them in
# ../lib/pvkit from its own directory, host-stub/src/devices/beproc.c);
# DESTDIR for a staging root (packages)
PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BEDIR ?= $(PREFIX)/lib/pvkit
MANDIR ?= $(PREFIX)/share/man
HOST_PROGS := vpv-host vpv-ctl vpv-cow
HOST_BACKENDS := vpv-vloopback vpv-blkback vpv-netback vpv-netswitch
MAN8 := vpv-host vpv-ctl
# the kernel release KDIR builds for: modules go to /lib/modules/KVER
# (UTS_RELEASE: Debian's headers say 6.1.192 in kernel.release)
KVER = $(shell sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null)

all: modules host

modules:
	@test -n "$(KDIR)" || { echo "no kernel build tree: set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

host:
	$(MAKE) -C host-stub

# DKMS's CLEAN (dkms.conf): the kbuild objects only
modclean:
	@test -n "$(KDIR)" || { echo "no kernel build tree: set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean

man: $(addprefix build/man/,$(addsuffix .8,$(MAN8)))

build/man/%.8: Documentation/man/%.rst
	@mkdir -p $(@D)
	rst2man --halt=warning $< $@

install: install-modules install-host

install-modules:
	@test -n "$(KVER)" || { echo "no kernel release in KDIR=$(KDIR)" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) PVKIT_TEST_MODULES=n modules
	# unsigned: a distribution's signing key is not in its headers
	$(MAKE) -C $(KDIR) M=$(CURDIR) PVKIT_TEST_MODULES=n \
		INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=updates/pvkit \
		CONFIG_MODULE_SIG_ALL= modules_install
	depmod $(if $(DESTDIR),-b $(DESTDIR)) $(KVER)

install-host: host man
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BEDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(addprefix host-stub/build/,$(HOST_PROGS)) $(DESTDIR)$(SBINDIR)
	install -m 755 $(addprefix host-stub/build/,$(HOST_BACKENDS)) $(DESTDIR)$(BEDIR)
	install -m 644 $(addprefix build/man/,$(addsuffix .8,$(MAN8))) $(DESTDIR)$(MANDIR)/man8

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(HOST_PROGS))
	rm -f $(addprefix $(DESTDIR)$(BEDIR)/,$(HOST_BACKENDS))
	-rmdir $(DESTDIR)$(BEDIR)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(addsuffix .8,$(MAN8)))
	@if [ -n "$(KVER)" ] && [ -d $(DESTDIR)/lib/modules/$(KVER)/updates/pvkit ]; then \
		echo rm -rf $(DESTDIR)/lib/modules/$(KVER)/updates/pvkit; \
		rm -rf $(DESTDIR)/lib/modules/$(KVER)/updates/pvkit; \
		echo depmod $(if $(DESTDIR),-b $(DESTDIR)) $(KVER); \
		depmod $(if $(DESTDIR),-b $(DESTDIR)) $(KVER); \
	fi

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

.PHONY: all modules host modclean man install install-modules install-host \
	uninstall check test demo deps htmldocs clean
