#!/usr/bin/env python3
"""Seeds for fuzz-stream and fuzz-savefile from a save file written by
tests/vmm savefile-tool (e.g. `savefile-tool write guest-hello-64 2 2 F`):
the whole file (fuzz-savefile), its libxc image and its HVM blob
(fuzz-stream, behind a selector byte), each also with PAGE_DATA cut to
one small record so the fuzzer spends its time past the memory.

    make_stream_seeds.py FILE"""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
data = open(sys.argv[1], "rb").read()
optlen = struct.unpack_from("<I", data, 44)[0]
libxc = 48 + optlen + 16 + 8
head, off, recs = data[:libxc + 40], libxc + 40, []
while True:
    t, l = struct.unpack_from("<II", data, off)
    size = 8 + ((l + 7) & ~7)
    recs.append((t, data[off:off + size]))
    off += size
    if t == 0:
        break
tail = data[off:]
small_page = struct.pack("<IIII", 1, 8 + 16 + 4096, 2, 0) + \
    struct.pack("<QQ", 0x100, 0xE << 60 | 0x101) + bytes(range(256)) * 16
small = [r for t, r in recs if t != 1]
small.insert(next(i for i, (t, _) in enumerate(recs) if t == 1), small_page)


def write(path, blob):
    with open(path, "wb") as f:
        f.write(blob)


write(os.path.join(here, "corpus-stream", "image-full"),
      b"\0" + data[libxc:off])
write(os.path.join(here, "corpus-stream", "image-small"),
      b"\0" + data[libxc:libxc + 40] + b"".join(small))
hvm = next(r for t, r in recs if t == 9)
write(os.path.join(here, "corpus-stream", "hvm-blob"),
      b"\1" + hvm[8:8 + struct.unpack_from("<I", hvm, 4)[0]])
sf = os.path.join(here, "..", "libxenon", "corpus", "savefile")
write(os.path.join(sf, "xl-full"), data)
write(os.path.join(sf, "xl-small"), head + b"".join(small) + tail)
