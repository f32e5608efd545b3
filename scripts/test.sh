#!/bin/sh
# The whole test suite: installs dependencies (scripts/deps.sh), unpacks the
# test oracles into their cache (scripts/oracles.py: nothing installed),
# builds three ways and runs every test in each.
#   build/       the normal build (gcc, -Werror)
#   build-asan/  the same tree under ASan + UBSan, running the same suite
#   build-fuzz/  clang + libFuzzer targets, each fuzzed for a short time
# Ends with one line "N passed, N failed, N skipped"; exits non-zero on failure.
# FUZZ_SECONDS (default 20) sets how long each fuzz target runs.
set -eu
cd "$(dirname "$0")/.."

scripts/deps.sh
# Without the network the cache stays as it is; tests whose oracle is
# missing are skipped, with the reason printed.
python3 scripts/oracles.py ||
    echo "test.sh: the oracle cache could not be filled; tests needing it skip" >&2

setup() { # dir, extra meson args...
    dir=$1; shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
    echo "== building $dir"
    meson compile -C "$dir" >"$dir.buildlog" 2>&1 || { cat "$dir.buildlog"; exit 1; }
}

setup build
setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export FUZZ_SECONDS="${FUZZ_SECONDS:-20}"

rc=0
echo "== tests: normal build"
meson test -C build --no-suite fuzz --print-errorlogs || rc=1
echo "== tests: ASan + UBSan build"
meson test -C build-asan --no-suite fuzz --no-suite nosan --no-suite package --print-errorlogs || rc=1
echo "== tests: fuzz targets (${FUZZ_SECONDS}s each)"
meson test -C build-fuzz --suite fuzz --print-errorlogs --timeout-multiplier 0 || rc=1

python3 scripts/summarize-tests.py build build-asan build-fuzz || rc=1
exit $rc
