#!/usr/bin/env bash
# Demonstrates Tandem on the embedded default: a local repository under $DEMO (default
# /tmp/tandem-demo), one tenant, an image and a directory backed up twice, restored and checked.
set -euo pipefail
tandemctl=${1:-.build/release/tandemctl}
demo=${DEMO:-/tmp/tandem-demo}
export TANDEM_PASSPHRASE=${TANDEM_PASSPHRASE:-demo passphrase}
rm -rf "$demo"
mkdir -p "$demo"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# A 96 MiB "VM image": random, text and zero regions, reproducible.
python3 - "$demo/disk.img" <<'PY'
import random, sys
r = random.Random(42)
words = [b"tenant", b"backup", b"replica", b"site", b"snapshot", b"chunk", b"policy", b"epoch"]
with open(sys.argv[1], "wb") as f:
    for i in range(96):
        kind = i % 3
        if kind == 0: f.write(r.randbytes(1 << 20))
        elif kind == 1: f.write(b" ".join(r.choice(words) for _ in range(200000))[: 1 << 20])
        else: f.write(bytes(1 << 20))
PY
mkdir -p "$demo/etc"
cp -r Sources Makefile "$demo/etc/"

step "$tandemctl" init --repo "$demo/repo"
step "$tandemctl" tenant create --repo "$demo/repo" --tenant finance --compression zstd:1
step "$tandemctl" backup --repo "$demo/repo" --tenant finance "$demo/disk.img" --tag kind=vm
step "$tandemctl" backup --repo "$demo/repo" --tenant finance "$demo/etc"
# Scatter a few writes over the image, as a running VM would, and back both up again.
python3 - "$demo/disk.img" <<'PY'
import os, random, sys
r = random.Random(7)
with open(sys.argv[1], "r+b") as f:
    for _ in range(20):
        f.seek(r.randrange(0, 95 << 20) & ~4095); f.write(r.randbytes(8192))
PY
echo "changed" >> "$demo/etc/Makefile"
step "$tandemctl" backup --repo "$demo/repo" --tenant finance "$demo/disk.img" --tag kind=vm
step "$tandemctl" backup --repo "$demo/repo" --tenant finance "$demo/etc"
step "$tandemctl" snapshots --repo "$demo/repo" --tenant finance
image=$("$tandemctl" snapshots --repo "$demo/repo" --tenant finance --json | python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if s["kind"]=="stream"][-1])')
step "$tandemctl" restore --repo "$demo/repo" --tenant finance "${image:0:12}" --target "$demo/restored.img"
step cmp "$demo/disk.img" "$demo/restored.img"
step "$tandemctl" restore --repo "$demo/repo" --tenant finance latest --target "$demo/restored-etc"
step diff -r "$demo/etc" "$demo/restored-etc"
step "$tandemctl" check --repo "$demo/repo" --read-data
printf '\nDemo complete: repository in %s (passphrase in TANDEM_PASSPHRASE).\n' "$demo/repo"
