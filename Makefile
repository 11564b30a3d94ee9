# Tandem: `make run` (demo on the embedded default) and `make test` (the whole suite).
# Both install the Debian packages they need first.

SHELL := /bin/bash
export PATH := $(PATH):/opt/swift/usr/bin

APT_PACKAGES := libzstd-dev liblz4-dev libssl-dev libsqlite3-dev pkg-config
BENCH_PACKAGES := restic borgbackup python3-numpy
SWIFT_TEST_FLAGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps bench-deps build release run test bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
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

# The main job on the embedded default: a local repository, a backup of a sample image and a
# directory, a second (deduplicated) backup, restores compared byte for byte, and a full check.
run: release
	scripts/demo.sh .build/release/tandemctl

test: deps
	swift build --build-tests
	swift test $(SWIFT_TEST_FLAGS)

# Speed, memory and size against restic and Borg on the standard data sets (see README).
bench: bench-deps release
	scripts/bench.sh

clean:
	rm -rf .build
