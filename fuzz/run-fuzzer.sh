#!/bin/sh
# Run one libFuzzer target for $FUZZ_SECONDS (default 20) over a copy of its
# committed seed corpus plus any seed files given after it.
#   run-fuzzer.sh FUZZER CORPUS_DIR [SEED_FILE...]
set -eu
fuzzer=$1 corpus=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/ 2>/dev/null || true
for seed in "$@"; do cp "$seed" "$work"/; done
exec "$fuzzer" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 \
     -rss_limit_mb=2048 -print_final_stats=1 "$work"
