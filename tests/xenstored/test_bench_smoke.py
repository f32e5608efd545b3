#!/usr/bin/env python3
"""bench/xenstored/run.py runs and prints every figure (tiny N; no timing
assertions)."""
import os
import re
import subprocess
import sys


def main():
    root = os.environ['XENON_SOURCE_ROOT']
    out = subprocess.run([sys.executable,
                          os.path.join(root, 'bench/xenstored/run.py'),
                          '--n', '300'], check=True, capture_output=True,
                         text=True, timeout=300).stdout
    print(out, end='')
    for name in ('bare unix-socket rtt', 'reads', 'writes',
                 'pipelined writes', 'txn commits', 'watch latency'):
        assert re.search(r'^%s +[0-9.]+ ' % name, out, re.M), name
    assert out.count('ratio') == 5, out


if __name__ == '__main__':
    main()
