#!/bin/sh
# The demo: install dependencies, build, and boot a Xen PVH guest under
# Xenon end to end, as a Xen user would: the store daemon, then
# `xl create -c` with an xl.cfg file, showing the guest's PV console.
# Run as root on Debian 12.
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

# The toolstack finds the VMM here rather than installed under /usr/local.
export XENON_VMM="$PWD/build/vmm/xenon-vmm"
xl=build/xl/xl

if ! $xl list >/dev/null 2>&1; then
    echo "== Starting xenon-xenstored (socket /run/xenon/xenstored/socket)"
    build/xenstored/xenon-xenstored
fi

echo "== xl create -c examples/hello.cfg"
$xl create -c examples/hello.cfg </dev/null
echo "== The domain powered itself off; its console was logged to /var/log/xenon/console/guest-hello.log"
echo "== xl list"
sleep 0.5
$xl list
