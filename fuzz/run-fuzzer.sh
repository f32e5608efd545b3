#!/bin/sh
# Run one libFuzzer target for $FUZZ_SECONDS (default 20) over a scratch
# copy of its committed seed corpus (new inputs never land in the tree).
#   run-fuzzer.sh FUZZER SEED_DIR [FILE...]
# A FILE ending in .dict is passed as the fuzzer's dictionary; any other
# FILE is added to the corpus as a seed. Crash inputs are kept in the build
# tree as <fuzzer>-crash-<sha1> for reproduction. A finding exits 1:
# libFuzzer's own default (77) is what meson counts as a skip.
set -eu
fuzzer=$1 seeds=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
dict=""
for f in "$@"; do
    case "$f" in
        *.dict) dict="-dict=$f" ;;
        *) cp "$f" "$work/corpus/" ;;
    esac
done
prefix="${XENON_BUILD_ROOT:-$PWD}/$(basename "$fuzzer")-"
exec "$fuzzer" ${dict:+"$dict"} -max_total_time="${FUZZ_SECONDS:-20}" \
     -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
     -error_exitcode=1 -timeout_exitcode=1 \
     -artifact_prefix="$prefix" "$work/corpus"
