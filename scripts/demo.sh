#!/bin/sh
# The demo: install dependencies, build, and boot a Xen PVH guest under
# Xenon end to end, showing its console. Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."

scripts/deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build >/dev/null
fi
meson compile -C build >/dev/null

if [ ! -w /dev/kvm ]; then
    echo "demo: /dev/kvm is missing or not writable; the demo needs KVM" >&2
    exit 1
fi

echo "== Booting the hello guest (64-bit PVH) under xenon-vmm"
echo "   console: PV console ring; serial: UART and debug port"
start=$(date +%s%N)
set +e
build/vmm/xenon-vmm --name demo --kernel build/guests/guest-hello-64 \
    --console-stdio --serial-stdio
rc=$?
set -e
end=$(date +%s%N)
echo "== Domain ended with status $rc (100 = poweroff) after $(( (end - start) / 1000000 )) ms"
[ "$rc" = 100 ]
