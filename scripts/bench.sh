#!/usr/bin/env bash
# Runs tandem-bench on the standard data sets against restic and Borg, side by side.
# BENCH_DATA: where the data sets live (generated once, ~4.5 GiB); BENCH_OUT: results folder.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${BENCH_DATA:-/tmp/bench-data}
out=${BENCH_OUT:-bench-results}
generator=${BENCH_GENERATOR:-../shared/bench/gen_dataset.py}
bench=.build/release/tandem-bench
[ -f "$data/manifest.json" ] || python3 "$generator" --seed 42 --out "$data"
mkdir -p "$out"
"$bench" primitives | tee "$out/primitives.txt"
"$bench" chunking --image "$data/image-v1.raw" --image2 "$data/image-v2.raw" | tee "$out/chunking.txt"
"$bench" compression --image "$data/image-v1.raw" | tee "$out/compression.txt"
"$bench" memory --data "$data" | tee "$out/memory.txt"
"$bench" run --data "$data" --suite aes256gcm --suite sm4 --vs restic --vs borg --rounds 3 --markdown "$out/run.md" | tee "$out/run.txt"
"$bench" ship --data "$data" --rounds 3 | tee "$out/ship.txt"
"$bench" twin --data "$data" --rounds 5 | tee "$out/twin-shared.txt"
"$bench" twin --data "$data" --rounds 5 --placement split | tee "$out/twin-split.txt"
