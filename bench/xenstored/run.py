#!/usr/bin/env python3
"""Benchmark xenon-xenstored against a bare unix-socket round trip.

Usage: bench/xenstored/run.py [--build DIR] [--n N] [--data-dir DIR|none]

Starts the daemon (durable, on a temporary data dir unless told otherwise)
and xsbench's echo server, then prints reads/s, writes/s, transaction
commits/s and watch latency, each beside the bare unix-socket
request/response round trip measured in the same run, as a ratio.
Writes and commits are durable (fdatasync before the reply), so one
client's sequential writes measure the disk's sync latency; "pipelined
writes" (64 in flight) shows group commit (one sync per event-loop turn);
--data-dir none shows the in-memory cost."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def wait_sock(path, proc):
    for _ in range(1000):
        if proc.poll() is not None:
            raise SystemExit('%s exited' % proc.args[0])
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.close()
            return
        except OSError:
            time.sleep(0.01)
    raise SystemExit('no socket at %s' % path)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.environ.get(
        'XENON_BUILD_ROOT', os.path.join(root, 'build')))
    ap.add_argument('--n', type=int, default=20000,
                    help='round trips per measurement (default 20000)')
    ap.add_argument('--json', action='store_true',
                    help='print benchlib JSON records (for bench/run.py)')
    ap.add_argument('--data-dir', default=None,
                    help='daemon data dir (default: a temporary one; '
                         '"none" = in memory)')
    a = ap.parse_args()
    daemon = os.path.join(a.build, 'xenstored', 'xenon-xenstored')
    xsbench = os.path.join(a.build, 'bench', 'xenstored', 'xsbench')
    tmp = tempfile.mkdtemp(prefix='xs-bench-')
    data = a.data_dir or os.path.join(tmp, 'data')
    xs_sock = os.path.join(tmp, 'xs.sock')
    echo_sock = os.path.join(tmp, 'echo.sock')
    procs = []
    try:
        d = subprocess.Popen([daemon, '-N', '--socket', xs_sock,
                              '--pid-file', '', '--data-dir', data,
                              '--log-file', os.path.join(tmp, 'log')])
        procs.append(d)
        e = subprocess.Popen([xsbench, 'echo', echo_sock])
        procs.append(e)
        wait_sock(xs_sock, d)
        wait_sock(echo_sock, e)

        def run(mode, sock, n):
            out = subprocess.run([xsbench, mode, sock, str(n)], check=True,
                                 capture_output=True, text=True).stdout
            return float(out)

        n = a.n
        nw = max(100, n // 20) if data != 'none' else n
        bare = run('rtt', echo_sock, n)
        bare_ns = 1e9 / bare
        print('data dir: %s' % data)
        print('%-22s %12.0f /s   (%.1f us per round trip)' %
              ('bare unix-socket rtt', bare, bare_ns / 1000))
        rows = [('reads', run('read', xs_sock, n)),
                ('writes', run('write', xs_sock, nw)),
                ('pipelined writes', run('pwrite', xs_sock, n)),
                ('txn commits', run('txn', xs_sock, nw))]
        lat = run('watch', xs_sock, nw)
        if a.json:
            durable = 'durable' if data != 'none' else 'in memory'
            goals = {'reads': '>= 0.5'}
            for name, v in rows:
                print(json.dumps({
                    'bench': 'xenstored', 'metric': 'xenstored %s (%s)' % (name, durable),
                    'value': round(v), 'unit': '/s',
                    'peer': 'bare unix-socket request/response', 'peer_value': round(bare),
                    'ratio': round(v / bare, 2), 'ratio_means': 'xenstored / bare',
                    'goal': goals.get(name)}))
            print(json.dumps({
                'bench': 'xenstored', 'metric': 'xenstored watch-event latency (%s)' % durable,
                'value': round(lat / 1000, 1), 'unit': 'us',
                'peer': 'bare unix-socket round trip', 'peer_value': round(bare_ns / 1000, 1),
                'ratio': round(bare_ns / lat, 2), 'ratio_means': 'bare rtt / latency'}))
            return
        for name, v in rows:
            print('%-22s %12.0f /s   ratio to bare rtt: %.2f' %
                  (name, v, v / bare))
        print('%-22s %12.1f us   ratio bare rtt / latency: %.2f' %
              ('watch latency', lat / 1000, bare_ns / lat))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
