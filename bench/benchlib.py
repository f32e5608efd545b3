"""Shared helpers for Xenon's benchmarks.

A benchmark script prints one JSON object per line on stdout, a "record":
  {"bench": "...", "metric": "...", "value": V, "unit": "...",
   "peer": "...", "peer_value": P, "ratio": R, "ratio_means": "...",
   "goal": "..."}
Every figure stands beside a peer measured in the same run (these machines
are noisy); the ratio is what to read. bench/run.py gathers the records.
"""
import json
import os
import statistics
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("XENON_BUILD", os.path.join(ROOT, "build"))


def vmm():
    return os.path.join(BUILD, "vmm", "xenon-vmm")


def guest(name):
    return os.path.join(BUILD, "guests", "guest-" + name)


def median(xs):
    return statistics.median(xs)


def emit(**record):
    print(json.dumps(record), flush=True)


def need_kvm():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("skipped: /dev/kvm is missing", file=sys.stderr)
        sys.exit(77)
