#!/bin/sh
# Install the Debian packages Xenon builds, tests and benchmarks with.
# Idempotent: apt is only touched when something is missing.
set -eu

PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev python3
      libxen-dev libcmocka-dev libseccomp-dev
      zlib1g-dev libbz2-dev liblzma-dev liblzo2-dev liblz4-dev libzstd-dev
      gzip bzip2 xz-utils lzop lz4 zstd
      xenstore-utils xen-utils-4.17 grub-xen-host
      linux-image-cloud-amd64 binutils
      qemu-system-x86"

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
# xen-utils pulls in a xen hypervisor package; we only want its tools.
apt-get install -y -q --no-install-recommends $missing
