# Install libmprapi (library, header, pkg-config file) and the binaries.
#   make install                      # release build into /usr/local
#   make install PREFIX=/opt/openrras
#   make install NO_BUILD=1 LIBDIR=target/debug/deps PREFIX=/tmp/x   # copy an existing build (tests)
PREFIX ?= /usr/local
PROFILE ?= release
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
TARGET := target/$(PROFILE)
LIBDIR ?= $(TARGET)

.PHONY: build install uninstall

build:
ifeq ($(NO_BUILD),)
ifeq ($(PROFILE),release)
	cargo build --release -p mprapi -p rrasd -p rasctl
else
	cargo build -p mprapi -p rrasd -p rasctl
endif
endif

install: build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 0644 $(LIBDIR)/libmprapi.so $(DESTDIR)$(PREFIX)/lib/libmprapi.so
	install -m 0644 crates/mprapi/include/mprapi.h $(DESTDIR)$(PREFIX)/include/mprapi.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' crates/mprapi/mprapi.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mprapi.pc
	for b in rrasd rasctl; do [ ! -x $(TARGET)/$$b ] || install -m 0755 $(TARGET)/$$b $(DESTDIR)$(PREFIX)/bin/$$b; done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libmprapi.so $(DESTDIR)$(PREFIX)/include/mprapi.h \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/mprapi.pc $(DESTDIR)$(PREFIX)/bin/rrasd $(DESTDIR)$(PREFIX)/bin/rasctl
