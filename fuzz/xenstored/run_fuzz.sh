#!/bin/sh
# Run a libFuzzer target for $FUZZ_SECONDS (default 20) on a scratch copy of
# its seed corpus, so the committed corpus is never modified.
set -eu
target=$1 corpus=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$corpus"/* "$work/corpus/"
exec "$target" -max_total_time="${FUZZ_SECONDS:-20}" -max_len=8192 \
    -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus"
