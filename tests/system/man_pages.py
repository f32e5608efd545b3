#!/usr/bin/env python3
"""The man pages and the bash completion agree with the program.

    man_pages.py XL XL_1 XL_CFG_5 COMPLETION

- every command `xl help` lists as implemented has an entry in xl(1), and every command
  xl(1) documents under COMMANDS is one `xl help CMD` knows: the page
  follows the command table when commands are added;
- the keys xl.cfg(5) says Xenon acts on are read without a warning naming
  them (xl's dry run);
- the completion offers exactly the commands `xl help` lists, and the
  options `xl help create` lists for create;
- both pages render with man(1) without warnings, where man is installed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""))
    if not ok:
        failures.append(what)


def help_commands(xl, implemented_only=False):
    """The commands `xl help` lists; with implemented_only, not those under
    its "Not implemented in Xenon yet" heading (xl(1) names those apart)."""
    out = subprocess.run([xl, "help"], capture_output=True, text=True).stdout
    if implemented_only:
        out = out.split("Not implemented in Xenon yet:")[0]
    return [l.split()[0] for l in out.splitlines() if re.match(r"^ [a-z]", l)] + ["help"]


def unroff(s):
    return s.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace("\\fI", "")


def section(page, name):
    m = re.search(r"^\.SH " + re.escape(name) + r"\n(.*?)(?=^\.SH )", page, re.S | re.M)
    return m.group(1) if m else ""


def documented_commands(page):
    """Commands named at the start of a .TP entry under COMMANDS
    (`\\fBpause\\fR DOMAIN, \\fBunpause\\fR DOMAIN` names two)."""
    cmds = []
    lines = section(page, "COMMANDS").splitlines()
    for i, l in enumerate(lines):
        if l == ".TP" and i + 1 < len(lines):
            cmds += [unroff(c) for c in re.findall(r"(?:^|, )\\fB([a-z\\-]+)\\fR", lines[i + 1])]
    return cmds


def acted_on_keys(page):
    keys = []
    lines = section(page, "KEYS XENON ACTS ON").splitlines()
    for i, l in enumerate(lines):
        if l == ".TP" and i + 1 < len(lines) and lines[i + 1].startswith(".B "):
            keys += [k for k in re.split(r"\\f[BR]|,|\s", lines[i + 1][3:]) if k]
    return keys


def completion(script, xl, words):
    """COMPREPLY for the command line `words` (the last one being
    completed), from the completion script run by bash."""
    line = " ".join(f"'{w}'" for w in [xl] + words)
    prog = (f"source '{script}'; COMP_WORDS=({line}); COMP_CWORD={len(words)}; "
            "_xenon_xl; printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True)
    return [w for w in r.stdout.split("\n") if w]


def main():
    xl, man1, man5, script = sys.argv[1:5]
    page1, page5 = open(man1).read(), open(man5).read()

    cmds = help_commands(xl)
    check("xl help lists commands", len(cmds) > 5, str(cmds))
    documented = documented_commands(page1)
    for c in help_commands(xl, implemented_only=True):
        check(f"xl(1) documents `{c}'", c in documented)
    for c in documented:
        if c == "help":
            continue            # `xl help help` is the command list itself
        r = subprocess.run([xl, "help", c], capture_output=True, text=True)
        check(f"`{c}' documented in xl(1) is a command xl has",
              r.stdout.startswith("Usage:") and f" {c} " in r.stdout.splitlines()[0],
              r.stdout[:200])

    keys = acted_on_keys(page5)
    print(f"xl.cfg(5) keys Xenon acts on: {' '.join(keys)}")
    check("xl.cfg(5) lists the keys Xenon acts on", "memory" in keys and "kernel" in keys,
          str(keys))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "all.cfg")
        values = {"name": '"all"', "type": '"pvh"', "builder": '"generic"',
                  "uuid": '"00112233-4455-6677-8899-aabbccddeeff"',
                  "vcpus": "1", "maxvcpus": "2", "memory": "16", "maxmem": "32",
                  "cmdline": '"x"', "root": '"/dev/xvda"', "extra": '"y"',
                  "disk": '["/d.img,raw,xvda,rw"]', "vif": '["bridge=xenbr0"]'}
        with open(cfg, "w") as f:
            for k in keys:
                f.write(f"{k} = {values.get(k, chr(34) + 'destroy' + chr(34) if k.startswith('on_') else chr(34) + '/k' + chr(34))}\n")
        r = subprocess.run([xl, "-N", "create", cfg], capture_output=True, text=True)
        warned = [k for k in keys for l in r.stderr.splitlines()
                  if re.search(r"warn", l, re.I) and re.search(r"\b%s\b" % re.escape(k), l)
                  and k not in ("root", "extra", "cmdline", "builder")]
        check("the keys xl.cfg(5) says Xenon acts on get no warning",
              r.returncode == 0 and not warned, f"rc {r.returncode} {warned} {r.stderr}")

    got = completion(script, xl, [""])
    check("completion offers every command of xl help", sorted(got) == sorted(cmds),
          f"{sorted(got)} vs {sorted(cmds)}")
    check("completion of a prefix", completion(script, xl, ["cr"]) == ["create"],
          str(completion(script, xl, ["cr"])))
    opts = completion(script, xl, ["create", "-"])
    check("completion offers create's options", "-c" in opts and "--quiet" in opts, str(opts))
    check("completion of help's argument",
          sorted(completion(script, xl, ["help", ""])) == sorted(cmds))

    if shutil.which("man"):
        for p in (man1, man5):
            r = subprocess.run(["man", "--warnings", "-l", p], capture_output=True,
                               text=True, env=dict(os.environ, MANWIDTH="80"))
            check(f"{os.path.basename(p)} renders without warnings",
                  r.returncode == 0 and not r.stderr.strip() and "NAME" in r.stdout,
                  r.stderr[:500])
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
