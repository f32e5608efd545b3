#!/bin/sh
# Run one libFuzzer target for $FUZZ_SECONDS (default 20) over a copy of its
# committed seed corpus (new inputs go to a scratch directory, not the tree).
# usage: run-fuzz.sh FUZZER SEED_DIR [DICT]
set -eu
fuzzer=$1 seeds=$2 dict=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp -r "$seeds"/. "$work/corpus/"
set --
[ -n "$dict" ] && set -- -dict="$dict"
# crash inputs are kept in the build tree as <target>-crash-<sha1>
prefix="${XENON_BUILD_ROOT:-$PWD}/$(basename "$fuzzer")-"
"$fuzzer" "$@" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$prefix" \
    "$work/corpus"
