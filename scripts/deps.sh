#!/bin/sh
# Install the Debian packages that building and running Xenon needs, and
# nothing else: compilers and build tools, Xen's public headers (libxen-dev,
# which brings Xen's client libraries with it), cmocka for the unit tests,
# the decompression libraries a bzImage's payload needs (the VMM links them),
# liburing (blkback's disk I/O), libnbd and qemu-utils (disks in qcow2,
# vhd, ...: qemu-nbd exports them, blkback is its client), iproute2 (`ip`, which the vif-bridge
# hotplug script and the network tests use), the XenAPI server's libraries
# (HTTP, JSON, XML, GnuTLS, PAM), and debhelper to build the .deb.
# The test oracles (Debian's cloud kernel, GRUB's Xen image, Xen's tools,
# QEMU) are not installed: scripts/oracles.py unpacks them into a cache.
# Idempotent: apt is only touched when something is missing.
set -eu

PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev python3
      libxen-dev libcmocka-dev libseccomp-dev
      zlib1g-dev libbz2-dev liblzma-dev liblzo2-dev liblz4-dev libzstd-dev
      liburing-dev libnbd-dev qemu-utils iproute2
      binutils
      libmicrohttpd-dev libjson-c-dev libxml2-dev libgnutls28-dev libpam0g-dev
      debhelper dpkg-dev fakeroot"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
    exit 1
fi
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
