#!/usr/bin/env python3
"""Fetch the test oracles as Debian packages unpacked into a cache
directory: `apt-get download` and `dpkg-deb -x`, never installed, so the
host's boot entries, services and /usr stay as they were.

    scripts/oracles.py [--list] [GROUP...]      (default: every group)

Groups and what they are for:
  kernel  linux-image-cloud-amd64 and the image it depends on: the Linux
          PVH boot tests take its vmlinuz from the cache's boot/
  grub    grub-xen-host: GRUB's Xen PVH image (grub-i386-xen_pvh.bin)
  xen     xen-utils-4.17 and xenstore-utils with the Xen libraries they
          link: test-xenstore, xenstore-*, xenstore-control, verify-stream-v2
  qemu    qemu-system-x86 with its libraries, firmware and data: the
          benchmarks' peer
  fio     fio with the libraries it links (Ceph's, Gluster's, RDMA's...):
          the block benchmark's host peer (bench/blk/)
  compress  the compressors Linux can build a kernel payload with (bzip2,
          xz, lzma, lzop, lz4, zstd; gzip is on every Debian system): the
          bzImage test wraps a guest in each
  npm     not Debian packages: npm modules, `npm install`ed into the cache's
          npm/ directory (never the tree, never globally): Xen Orchestra's
          XenAPI client `xen-api`, the judge of tests/xapi; puppeteer-core,
          which drives the chromium group's browser; and the web console's
          own modules (xapi/web/package-lock.json, `npm ci`ed into
          npm-web/), which the build copies into the pages it serves
  chromium  Debian's chromium with its libraries: the headless browser of
          the web console's test (tests/xapi/web_console.py)

A package's Depends are fetched too, recursively, except what every Debian
system has (the Essential packages and everything they depend on), python3
(installed by scripts/deps.sh) and what a group leaves out on purpose. The
cache is tests/lib/oracles.py's cache_dir() (~/.cache/xenon-oracles unless
XENON_ORACLES says otherwise): debs/ keeps the downloaded packages, root/
the merged unpacked tree, root/.packages what it holds. A second run with
the same candidate versions does nothing. --list prints the packages a
group needs without fetching anything.
"""
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "lib"))
import oracles  # noqa: E402

# group: (packages, Depends followed (a regex, or None for all), skipped)
GROUPS = {
    "kernel": (["linux-image-cloud-amd64"], r"^linux-image-", []),
    "grub": (["grub-xen-host"], r"^$", []),
    # xen-utils-common holds Xen's init scripts and the xl wrapper: none of
    # it is an oracle, and it would drag in ucf and perl.
    "xen": (["xen-utils-4.17", "xenstore-utils"], None, ["xen-utils-common"]),
    "qemu": (["qemu-system-x86"], None, []),
    # The block benchmark's peer: fio on the host, on the guest's image.
    "fio": (["fio"], None, []),
    # Their libraries are installed already: the VMM links them.
    "compress": (["bzip2", "xz-utils", "lzop", "lz4", "zstd"], r"^$", []),
    # The web console's judge, run headless (no X server, no GPU): the
    # session bus, systemd's PAM module and Mesa's drivers (with LLVM) it
    # would pull in are not needed for that.
    "chromium": (["chromium"], None,
                 ["adduser", "dbus", "dbus-user-session", "libpam-systemd", "systemd",
                  "dconf-gsettings-backend", "dconf-service", "libgl1-mesa-dri",
                  "dmsetup", "systemd-sysv", "systemd-timesyncd"]),
}

# npm group: module specs installed with npm into CACHE/npm.
NPM_MODULES = ["xen-api@4.7.6", "puppeteer-core@24.43.1"]
# Not @xen-orchestra/xapi (issue 15): the registry we reach has only its
# 8.10.5, whose dependencies @vates/task and @vates/parse-duration it
# lacks (404) and whose peer xen-api ^4.9.0 it lacks (4.7.6 at most);
# its index.mjs imports parse-duration, so it neither installs nor loads.
# The web console's own modules, from its committed lockfile, into
# CACHE/npm-web (xapi/web/build.py copies xterm.js from there).
WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "xapi", "web")


def fetch_npm_web():
    dest = os.path.join(oracles.cache_dir(), "npm-web")
    lock = os.path.join(WEB_DIR, "package-lock.json")
    have = os.path.join(dest, "package-lock.json")
    if os.path.exists(have) and open(have, "rb").read() == open(lock, "rb").read() and \
            os.path.isdir(os.path.join(dest, "node_modules")):
        print(f"oracles: npm-web (xapi/web/package-lock.json) up to date in {dest}")
        return
    if not shutil.which("npm"):
        print("oracles: npm missing (apt-get install npm): the web console is built without xterm.js")
        return
    os.makedirs(dest, exist_ok=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copyfile(os.path.join(WEB_DIR, f), os.path.join(dest, f))
    print(f"oracles: npm ci (xapi/web/package-lock.json) into {dest}")
    subprocess.run(["npm", "ci", "--prefix", dest, "--no-audit", "--no-fund"],
                   check=True, stdout=subprocess.DEVNULL)


def fetch_npm():
    import json
    dest = os.path.join(oracles.cache_dir(), "npm")
    os.makedirs(dest, exist_ok=True)
    want = {m.rsplit("@", 1)[0]: m.rsplit("@", 1)[1] for m in NPM_MODULES}
    have = {}
    for name in want:
        try:
            with open(os.path.join(dest, "node_modules", name, "package.json")) as f:
                have[name] = json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            pass
    if have == want:
        print(f"oracles: npm {' '.join(NPM_MODULES)} up to date in {dest}")
        return
    if not shutil.which("npm"):
        print("oracles: npm missing (apt-get install npm): the xen-api client tests will skip")
        return
    print(f"oracles: npm install {' '.join(NPM_MODULES)} into {dest}")
    subprocess.run(["npm", "install", "--prefix", dest, "--no-audit", "--no-fund",
                    "--no-save"] + NPM_MODULES, check=True, stdout=subprocess.DEVNULL)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def dependency_graph(roots):
    """{package: [its Depends/Pre-Depends: the first alternative, a virtual
    package resolved to its first provider]} for roots and everything they
    reach, from one `apt-cache depends --recurse` (each apt-cache run costs
    seconds on a loaded machine)."""
    out = run(["apt-cache", "depends", "--recurse", "--no-recommends",
               "--no-suggests", "--no-conflicts", "--no-breaks",
               "--no-replaces", "--no-enhances"] + sorted(roots)).stdout
    deps, cur, alt, virtual = {}, None, False, False
    for line in out.splitlines():
        if not line.startswith(" "):
            cur = line.strip()
            deps.setdefault(cur, [])
            virtual, alt = False, False
            continue
        m = re.match(r"\s*(\|)?(Pre)?Depends: (<)?([^ >]+)", line)
        if m:
            if not alt:                   # first of a | group only
                if m.group(3):            # virtual: take the next provider
                    virtual = True
                else:
                    deps[cur].append(m.group(4))
            alt = bool(m.group(1))
            continue
        if virtual and line.startswith("    "):
            deps[cur].append(line.strip())
            virtual = False
        elif not re.match(r"\s*\w", line):
            virtual = False
    return deps


def closure(graph, roots, follow=None, skip=()):
    """roots plus every package they depend on (follow: a regex a Depends
    must match to be followed), minus skip, as a set."""
    seen, todo = set(), [p for p in roots if p not in skip]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for d in graph.get(p, []):
            d = d.split(":")[0]           # libfoo:amd64
            if d not in seen and d not in skip and \
                    (not follow or re.search(follow, d)):
                todo.append(d)
    return seen


def packages(groups):
    """{group: sorted packages} for groups. The base left out is what every
    Debian system has: the Essential packages and their dependencies, and
    python3 (which scripts/deps.sh installs)."""
    out = run(["dpkg-query", "-W", "-f", "${Package}\t${Essential}\n"]).stdout
    essential = [l.split("\t")[0] for l in out.splitlines() if l.endswith("\tyes")]
    roots = [r for g in groups for r in GROUPS[g][0]]
    graph = dependency_graph(essential + ["python3"] + roots)
    base = closure(graph, essential + ["python3"])
    res = {}
    for g in groups:
        roots, follow, skip = GROUPS[g]
        res[g] = sorted(closure(graph, roots, follow, set(skip) | base))
    return res


def candidates(pkgs):
    """{package: candidate version} from the apt lists."""
    out = run(["apt-cache", "show", "--no-all-versions"] + pkgs).stdout
    vers, name = {}, None
    for line in out.splitlines():
        if line.startswith("Package: "):
            name = line.split()[1]
        elif line.startswith("Version: ") and name:
            vers[name] = line.split()[1]
    return vers


def fix_symlinks(root):
    """Absolute symlinks in a package point into /: aim them at the same
    path inside root when it is there (e.g. QEMU's firmware links into
    /usr/share/seabios), so nothing reads the host's copy."""
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            if not os.path.islink(p):
                continue
            t = os.readlink(p)
            if t.startswith("/") and os.path.lexists(root + t):
                os.unlink(p)
                os.symlink(os.path.relpath(root + t, d), p)


def load_state(root):
    """What root/ holds: ({package: version}, {group: [packages]})."""
    pkgs, groups = {}, {}
    try:
        for line in open(os.path.join(root, ".packages")):
            w = line.split()
            if len(w) == 2:
                pkgs[w[0]] = w[1]
            elif w and w[0] == "group":
                groups[w[1]] = w[2:]
    except OSError:
        pass
    return pkgs, groups


def lists_changed_since(path):
    """True when apt's package lists are newer than path (or path is
    missing): only then can a candidate version have changed."""
    try:
        t = os.stat(path).st_mtime
    except OSError:
        return True
    lists = glob.glob("/var/lib/apt/lists/*_Packages*")
    return any(os.stat(f).st_mtime > t for f in lists)


def resolve(groups, held_groups, held):
    """({group: packages}, {package: candidate version}) for groups,
    resolving Depends again only when a version moved or a group is new."""
    by_group = {g: held_groups[g] for g in groups if g in held_groups}
    vers = {}
    if len(by_group) == len(groups):
        vers = candidates(sorted({p for ps in by_group.values() for p in ps}))
        if any(vers.get(p) != held.get(p) for ps in by_group.values() for p in ps):
            by_group = {}
    if len(by_group) < len(groups):
        by_group = packages(groups)
        vers = candidates(sorted({p for ps in by_group.values() for p in ps}))
    return by_group, vers


def fetch(groups):
    cache = oracles.cache_dir()
    debs = os.path.join(cache, "debs")
    cur = os.path.join(cache, "root")
    stamp = os.path.join(cur, ".packages")
    os.makedirs(debs, exist_ok=True)
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # one fetch at a time
        held, held_groups = load_state(cur)
        if all(g in held_groups for g in groups) and not lists_changed_since(stamp):
            print(f"oracles: {' '.join(groups)} up to date in {cur}")
            return
        by_group, vers = resolve(groups, held_groups, held)
        want = sorted({p for ps in by_group.values() for p in ps})
        if any(p not in vers for p in want) and os.geteuid() == 0:
            print("oracles: packages missing from apt's lists; apt-get update")
            subprocess.run(["apt-get", "update", "-q"], check=True)
            by_group, vers = resolve(groups, {}, held)
            want = sorted({p for ps in by_group.values() for p in ps})
        missing = [p for p in want if p not in vers]
        if missing:
            sys.exit(f"oracles: no candidate for {' '.join(missing)}")
        # Keep what the cache holds for other groups, add these.
        all_groups = dict(held_groups)
        all_groups.update(by_group)
        keep = {p for ps in all_groups.values() for p in ps}
        pkgs = {p: v for p, v in held.items() if p in keep}
        pkgs.update({p: vers[p] for p in want})
        if pkgs == held and set(all_groups) == set(held_groups):
            os.utime(stamp)
            print(f"oracles: {' '.join(groups)} up to date in {cur}")
            return
        prefix = {p: f"{p}_{v.replace(':', '%3a')}_" for p, v in pkgs.items()}
        have = os.listdir(debs)
        get = [f"{p}={pkgs[p]}" for p in sorted(pkgs)
               if not any(f.startswith(prefix[p]) for f in have)]
        if get:
            print(f"oracles: apt-get download {len(get)} packages into {debs}")
            subprocess.run(["apt-get", "download", "-q",
                            "-o", "APT::Sandbox::User=root"] + get,
                           cwd=debs, check=True, stdout=subprocess.DEVNULL)
        have = os.listdir(debs)
        new = tempfile.mkdtemp(prefix="root.", dir=cache)
        for p in sorted(pkgs):
            deb = [f for f in have if f.startswith(prefix[p]) and f.endswith(".deb")]
            if not deb:
                sys.exit(f"oracles: {p} {pkgs[p]} was not downloaded")
            run(["dpkg-deb", "-x", os.path.join(debs, deb[0]), new])
        fix_symlinks(new)
        with open(os.path.join(new, ".packages"), "w") as f:
            f.write("".join(f"{p} {pkgs[p]}\n" for p in sorted(pkgs)))
            f.write("".join(f"group {g} {' '.join(ps)}\n"
                            for g, ps in sorted(all_groups.items())))
        os.chmod(new, 0o755)
        if os.path.exists(cur):             # swap, so readers see old or new
            gone = cur + ".old"
            shutil.rmtree(gone, ignore_errors=True)
            os.rename(cur, gone)
            os.rename(new, cur)
            shutil.rmtree(gone, ignore_errors=True)
        else:
            os.rename(new, cur)
        for f in os.listdir(debs):           # drop .debs the tree no longer has
            if not f.startswith(tuple(prefix.values())):
                os.unlink(os.path.join(debs, f))
        print(f"oracles: {len(pkgs)} packages unpacked in {cur} "
              f"({' '.join(sorted(all_groups))})")


def main():
    args = sys.argv[1:]
    listing = "--list" in args
    groups = [a for a in args if a != "--list"] or list(GROUPS) + ["npm"]
    npm = "npm" in groups
    groups = [g for g in groups if g != "npm"]
    bad = [g for g in groups if g not in GROUPS]
    if bad:
        sys.exit(f"oracles: unknown group {' '.join(bad)} (groups: {' '.join(GROUPS)})")
    if listing:
        for g, ps in packages(groups).items() if groups else []:
            print(f"{g}: {' '.join(ps)}")
        if npm:
            print(f"npm: {' '.join(NPM_MODULES)}")
        return
    if groups:
        fetch(groups)
    if npm:
        fetch_npm()
        fetch_npm_web()


if __name__ == "__main__":
    main()
