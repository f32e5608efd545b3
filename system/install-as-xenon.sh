#!/bin/sh
# meson install with -Dcommand_name=xenon: the program goes in as xenon
# only (the build names it xl; xl/meson.build installs xl and a xenon link).
set -eu
bin="${MESON_INSTALL_DESTDIR_PREFIX}/$1"
rm -f "$bin/xenon"
mv "$bin/xl" "$bin/xenon"
