#!/usr/bin/env python3
"""Every header in the tree has its own include guard: two headers with one
guard silently hide each other when both are included."""
import os
import re
import sys

root = sys.argv[1]
seen, clashes = {}, []
for top in ("common", "include", "libxenon", "vmm", "xenstored", "xl", "guests", "tests", "fuzz", "bench"):
    for dirpath, _, files in os.walk(os.path.join(root, top)):
        for f in files:
            if not f.endswith(".h"):
                continue
            path = os.path.join(dirpath, f)
            m = re.search(r"^#ifndef\s+(\w+)\s*\n#define\s+\1\b", open(path).read(), re.M)
            if not m:
                continue
            rel = os.path.relpath(path, root)
            if m.group(1) in seen:
                clashes.append(f"{rel} and {seen[m.group(1)]} share {m.group(1)}")
            seen[m.group(1)] = rel
print(f"{len(seen)} include guards checked")
if clashes:
    sys.exit("FAILED: " + "; ".join(clashes))
