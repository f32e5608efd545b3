#!/bin/sh
# Every examples/*.cfg must build a domain config without a message (but
# the warnings that name what Xenon does not implement yet)
# and render to valid JSON. usage: check_examples.sh XLCFG_JSON
set -eu
tool=$1
root=${XENON_SOURCE_ROOT:?}
n=0
for cfg in "$root"/examples/*.cfg; do
    err=$("$tool" "$cfg" 2>&1 >/dev/null) || { echo "FAIL $cfg"; echo "$err"; exit 1; }
    extra=$(printf '%s\n' "$err" | grep -v -e '^Parsing config from ' -e 'is not implemented in Xenon yet' || true)
    if [ -n "$extra" ]; then echo "FAIL $cfg: unexpected messages"; echo "$extra"; exit 1; fi
    "$tool" "$cfg" 2>/dev/null | python3 -c 'import json,sys; json.load(sys.stdin)' ||
        { echo "FAIL $cfg: invalid JSON"; exit 1; }
    echo "ok $cfg"
    n=$((n + 1))
done
[ "$n" -ge 2 ] || { echo "FAIL: expected the example configs"; exit 1; }
