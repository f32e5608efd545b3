#!/usr/bin/env python3
"""Started with the usual soft RLIMIT_NOFILE (1024 under systemd, here 64)
the daemon raises it to the hard limit, so it serves one connection per
domain (each VMM holds one) beyond the soft limit it was given.

At the hard limit itself (here 64), clients beyond it wait in the listen
backlog: the daemon neither spins on the failing accept (its log says so
once per shortage, not once per loop turn) nor drops them, and serves them
once other connections close."""
import resource
import sys
import time

from xsutil import Client, Daemon

SOFT, HARD, CLIENTS = 64, 4096, 300


def at_hard_limit(binary):
    d = Daemon(binary, preexec=lambda: resource.setrlimit(
        resource.RLIMIT_NOFILE, (SOFT, SOFT))).start()
    early, late = [], []
    try:
        early = [Client(d.sock, timeout=10) for _ in range(SOFT)]
        for i, c in enumerate(early[:SOFT // 2]):
            c.write(f"/early/{i}", b"x")
        late = [Client(d.sock, timeout=10) for _ in range(SOFT // 2)]
        time.sleep(1)       # the daemon meets the limit; it must not spin
        for c in early:
            c.close()
        early = []
        for i, c in enumerate(late):
            c.write(f"/late/{i}", b"y")
            assert c.read(f"/late/{i}") == b"y", i
        warnings = d.logtext().count("accept:")
        assert 1 <= warnings <= 5, f"{warnings} accept warnings:\n{d.logtext()[-2000:]}"
        print(f"ok: at the hard limit, {len(late)} waiting clients served after others "
              f"closed; {warnings} accept warning(s)")
    finally:
        for c in early + late:
            c.close()
        d.stop()


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
    at_hard_limit(sys.argv[1])


if __name__ == "__main__":
    main()
