#!/usr/bin/env python3
"""Started with the usual soft RLIMIT_NOFILE (1024 under systemd, here 64)
the daemon raises it to the hard limit, so it serves one connection per
domain (each VMM holds one) beyond the soft limit it was given."""
import resource
import sys

from xsutil import Client, Daemon

SOFT, HARD, CLIENTS = 64, 4096, 300


def main():
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    if old[1] != resource.RLIM_INFINITY and old[1] < HARD:
        print(f"skipped: hard RLIMIT_NOFILE {old[1]} < {HARD}")
        sys.exit(77)
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, HARD))
    try:
        d = Daemon(sys.argv[1]).start()     # inherits (SOFT, HARD)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (HARD, HARD))
    clients = []
    try:
        with open(f"/proc/{d.proc.pid}/limits") as f:
            line = next(l for l in f if l.startswith("Max open files"))
        soft = int(line.split()[3])
        assert soft == HARD, f"soft limit left at {soft}: {line.strip()}"
        for i in range(CLIENTS):
            c = Client(d.sock, timeout=10)
            clients.append(c)
            c.write(f"/fd/{i}", b"x")
        for i, c in enumerate(clients):
            assert c.read(f"/fd/{i}") == b"x", i
        print(f"ok: {CLIENTS} connections served, soft limit {soft}")
    finally:
        for c in clients:
            c.close()
        d.stop()


if __name__ == "__main__":
    main()
