#!/usr/bin/env python3
"""Build the web console into OUT: the pages as written (plain ES modules,
no bundler) and xterm.js with its stylesheet from the modules that
`npm ci` installed from package-lock.json: MODULES (a node_modules
directory) if given, else xapi/web/node_modules, else the oracle cache's
npm-web/node_modules (scripts/oracles.py npm). Without them the page
still works and shows the console as plain text (term-fallback.js).
Each text file also gets a gzip copy (NAME.gz) for clients that take it.

    build.py OUT [MODULES]
"""
import gzip
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PAGES = ["index.html", "app.js", "api.js", "create.js", "graph.js", "style.css", "term-fallback.js", "icon.svg"]


def modules_dir(arg):
    cache = os.environ.get("XENON_ORACLES") or os.path.join(
        os.path.expanduser("~"), ".cache", "xenon-oracles")
    for d in ([arg] if arg else []) + [os.path.join(HERE, "node_modules"),
                                       os.path.join(cache, "npm-web", "node_modules")]:
        if os.path.isfile(os.path.join(d, "@xterm", "xterm", "lib", "xterm.js")):
            return d
    return None


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for p in PAGES:
        shutil.copyfile(os.path.join(HERE, p), os.path.join(out, p))
    mods = modules_dir(sys.argv[2] if len(sys.argv) > 2 else None)
    x = os.path.join(mods, "@xterm", "xterm") if mods else None
    if x:
        shutil.copyfile(os.path.join(x, "lib", "xterm.js"), os.path.join(out, "xterm.js"))
        shutil.copyfile(os.path.join(x, "css", "xterm.css"), os.path.join(out, "xterm.css"))
    else:
        print("web: xterm.js not found (scripts/oracles.py npm): the console is plain text",
              file=sys.stderr)
        with open(os.path.join(out, "xterm.js"), "w") as f:
            f.write("/* xterm.js was not available at build time: term-fallback.js serves */\n")
        with open(os.path.join(out, "xterm.css"), "w") as f:
            f.write("/* no xterm.js */\n")


def compress(out):
    """NAME.gz beside each text file, byte-for-byte the same on every build
    (mtime 0): xenon-xapi sends it to clients that accept gzip."""
    for name in sorted(os.listdir(out)):
        if name.endswith((".html", ".js", ".css", ".svg")):
            with open(os.path.join(out, name), "rb") as f:
                data = f.read()
            with open(os.path.join(out, name + ".gz"), "wb") as f:
                f.write(gzip.compress(data, 9, mtime=0))


main()
compress(sys.argv[1])
