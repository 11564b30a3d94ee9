# Tandem: `make run` (tandemd on the embedded default) and `make test` (the whole suite).
# Both install the Debian packages they need first.

SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin

APT_PACKAGES := libzstd-dev liblz4-dev libssl-dev libgcrypt20-dev libxxhash-dev zlib1g-dev libfuse3-dev libsqlite3-dev pkg-config systemd util-linux curl
# Tests also check the metrics page with promtool, the unit with systemd-analyze, and the NBD
# export with libnbd (nbdinfo, nbdcopy) and qemu (qemu-img, qemu-io), and dumps with GNU tar and
# bsdtar (libarchive-tools); getfattr (attr) reads xattrs back; fuse3's fusermount3 mounts as a
# tenant's uid.
TEST_PACKAGES := prometheus e2fsprogs libnbd-bin qemu-utils libarchive-tools attr unzip python3 fuse3
BENCH_PACKAGES := restic borgbackup python3-numpy
SWIFT_TEST_FLAGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX ?= /usr/local
DESTDIR ?=
SYSTEMD_UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DOCDIR ?= $(PREFIX)/share/doc/tandem

.PHONY: deps test-deps bench-deps build release run demo test install bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

test-deps: deps
	@missing=""; for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

bench-deps: deps
	@missing=""; for p in $(BENCH_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build

release: deps
	swift build -c release

# The three-site demo on loopback (Config/demo: home-a, home-b, remote; state under
# .tandem-demo/; each near site home to one tenant and twin of the other). Ctrl-C stops all.
run: release
	scripts/run-demo-daemon.sh

# The storage engine alone, offline: an image and a directory backed up twice, restored and
# compared byte for byte, and a full check.
demo: release
	scripts/demo.sh .build/release/tandemctl

# The S3 backend is tested against a real Ceph RADOS Gateway on loopback
# (scripts/ceph/rgw-start.sh installs and starts it; ~30 s the first time, ~5 s after). It
# starts while the tests build, so a fresh machine waits for the slower of the two only.
test: test-deps
	@mkdir -p .build; scripts/ceph/rgw-start.sh > .build/rgw.env 2> .build/rgw-start.log & rgw=$$!; \
	built=0; swift build --build-tests || built=$$?; \
	started=0; wait $$rgw || started=$$?; cat .build/rgw-start.log >&2; \
	if [ $$built != 0 ] || [ $$started != 0 ]; then \
	  [ $$started != 0 ] && echo "make test: the Ceph RADOS Gateway did not start (exit $$started)" >&2; \
	  scripts/ceph/rgw-stop.sh >&2 || true; exit 1; \
	fi; \
	eval "$$(cat .build/rgw.env)"; \
	status=0; TANDEM_REQUIRE_S3=1 TANDEM_LONG_TESTS=1 swift test $(SWIFT_TEST_FLAGS) || status=$$?; \
	scripts/ceph/rgw-stop.sh >&2 || true; exit $$status

# Speed, memory and size against restic and Borg on the standard data sets (see README).
bench: bench-deps release
	scripts/bench.sh

# Binaries, the systemd unit, sysusers and tmpfiles entries, and example configuration.
# Then: edit /etc/tandem/tandem.yaml, add policies to /etc/tandem/tenants.d, and
# `systemctl enable --now tandemd`.
install: release
	install -D -m 0755 .build/release/tandemd $(DESTDIR)$(PREFIX)/bin/tandemd
	install -D -m 0755 .build/release/tandemctl $(DESTDIR)$(PREFIX)/bin/tandemctl
	install -d -m 0755 $(DESTDIR)$(SYSTEMD_UNITDIR)
	sed 's#/usr/local/bin/#$(PREFIX)/bin/#g' systemd/tandemd.service > $(DESTDIR)$(SYSTEMD_UNITDIR)/tandemd.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/tandemd.service
	install -D -m 0644 systemd/sysusers.d/tandem.conf $(DESTDIR)$(SYSUSERSDIR)/tandem.conf
	install -D -m 0644 systemd/tmpfiles.d/tandem.conf $(DESTDIR)$(TMPFILESDIR)/tandem.conf
	install -D -m 0644 systemd/tandemd.service.d/block-devices.conf.example $(DESTDIR)$(DOCDIR)/examples/block-devices.conf.example
	install -D -m 0644 Config/tandem.yaml $(DESTDIR)$(DOCDIR)/examples/tandem.yaml
	install -D -m 0644 Config/tenants.d/finance.yaml $(DESTDIR)$(DOCDIR)/examples/tenants.d/finance.yaml
	install -D -m 0644 Config/tenants.d/records.yaml $(DESTDIR)$(DOCDIR)/examples/tenants.d/records.yaml
	@if [ ! -e $(DESTDIR)/etc/tandem/tandem.yaml ]; then \
	  install -D -m 0640 Config/tandem.yaml $(DESTDIR)/etc/tandem/tandem.yaml && \
	  install -d -m 0750 $(DESTDIR)/etc/tandem/tenants.d; \
	fi
	@if [ -z "$(DESTDIR)" ]; then \
	  systemd-sysusers $(SYSUSERSDIR)/tandem.conf && \
	  systemd-tmpfiles --create $(TMPFILESDIR)/tandem.conf && \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	fi

clean:
	rm -rf .build
