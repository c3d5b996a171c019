#!/usr/bin/python3
"""check-man.py: the man pages against the code (meson test --suite man).

  check-man.py --drsn DRSN --drsnd DRSND --pages DIR [--groff GROFF]
               [--plugins DIR] [--plugins-required NAME,...]

- every option in the usage and option lines of `drsn COMMAND --help` (every
  command `drsn --help` lists) is an item (.TP tag) of that command's section
  of drsn.1, and every option of `drsnd --help` an item of drsnd.8's OPTIONS;
- every section and key `drsnd --print-config` prints (the config parser's
  own table, src/daemon/config.c) is an item of its section of drsnd.conf.5,
  and so is every key a plugin built under DIR accepts: drsnd is run with
  each plugin and an unknown key, and the plugin's error lists its keys;
- `groff -man -ww -z` prints no warning for any page.
A missing groff is a skip (77), a failure with CI=true (.ci/run)."""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

fails = []


def fail(msg):
    fails.append(msg)
    print("FAIL:", msg)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


def plain(line):
    """roff source to plain text: \\- is '-', font and special escapes go."""
    line = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", line)
    line = line.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")
    return re.sub(r"\\\(..", " ", line)


def sections(path, macro):
    """{heading: [lines]} of a page, split at `macro` (.SH or .SS) lines."""
    out, cur = {}, None
    with open(path) as f:
        for raw in f:
            line = plain(raw.rstrip("\n"))
            if line.startswith(macro + " "):
                cur = line[len(macro) + 1:].strip().strip('"')
                out.setdefault(cur, [])
            elif line.startswith(".SH ") or line.startswith(".SS "):
                cur = None
            elif cur is not None:
                out[cur].append(line)
    return out


def tags(lines):
    """The words of every .TP item tag (the line after .TP) in lines."""
    words = set()
    for i, line in enumerate(lines[:-1]):
        if line.startswith(".TP"):
            tag = re.sub(r"^\.[A-Z]+\s*", "", lines[i + 1])
            words.update(re.findall(r"-?-?[A-Za-z][\w.-]*", tag.replace('"', " ")))
    return words


def options(help_text):
    """The options of the usage lines and of the option list (lines that start with one)."""
    opts = set()
    for line in help_text.splitlines():
        if re.match(r"\s*(usage: )?(drsn|drsnd) ", line) or re.match(r"\s+-", line):
            opts |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[A-Za-z](?![\w-]))", line))
    return opts


def check_drsn(drsn, page):
    top = run([drsn, "--help"]).stdout
    commands = re.findall(r"(?m)^  ([a-z]+)\s{2,}", top)
    if not commands:
        fail("drsn --help lists no commands")
    secs = sections(page, ".SS")
    for cmd in commands:
        mine = [h for h in secs if re.match(r"drsn %s\b" % cmd, h)]
        if not mine:
            fail("%s: no section 'drsn %s' for a command drsn --help lists" % (page, cmd))
            continue
        documented = set()
        for h in mine:
            documented |= tags(secs[h])
        for o in sorted(options(run([drsn, cmd, "--help"]).stdout) - {"--help", "-h"}):
            if o not in documented:
                fail("%s: 'drsn %s --help' prints %s, not an item of its section" % (page, cmd, o))


def check_drsnd(drsnd, page):
    documented = tags(sections(page, ".SH").get("OPTIONS", []))
    opts = options(run([drsnd, "--help"]).stdout)
    if "--config" not in opts:
        fail("drsnd --help: no --config in %r" % sorted(opts))
    for o in sorted(opts - documented):
        fail("%s: 'drsnd --help' prints %s, not an item of OPTIONS" % (page, o))


def config_keys(drsnd, tmp):
    """{section: [keys]} as drsnd --print-config prints them."""
    conf = os.path.join(tmp, "empty.conf")
    open(conf, "w").close()
    r = run([drsnd, "--config", conf, "--print-config"])
    if r.returncode:
        fail("drsnd --print-config: exit %d: %s" % (r.returncode, r.stderr))
    keys, sec = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"^\[(.+)\]$", line)
        if m:
            sec = keys.setdefault(m.group(1), [])
        elif sec is not None and "=" in line:
            sec.append(line.split("=")[0].strip())
    return keys


def plugin_keys(drsnd, modules, tmp):
    """{plugin: [keys]}: each plugin refuses an unknown key, listing its keys."""
    names = sorted(os.path.basename(m)[:-3] for m in modules)
    pdir = os.path.join(tmp, "plugins")
    os.mkdir(pdir)
    for m in modules:
        os.symlink(os.path.abspath(m), os.path.join(pdir, os.path.basename(m)))
    conf = os.path.join(tmp, "plugins.conf")
    with open(conf, "w") as f:
        f.write("[socket]\npath = %s/s.sock\n[model]\npath =\n[audio]\nsource = stdin\n"
                "on_eof = exit\n[plugins]\ndir = %s\nload = %s\n" % (tmp, pdir, ", ".join(names)))
        for n in names:
            f.write("[plugin %s]\nzz_not_a_key = 1\n" % n)
    r = run([drsnd, "--config", conf], input="\0" * 3200)
    keys = {}
    for n in names:
        m = re.search(r"\[plugin %s\] unknown key 'zz_not_a_key' \(known: ([^)]*)\)" % re.escape(n),
                      r.stderr)
        if not m:
            fail("plugin %s: no 'unknown key ... (known: ...)' for an unknown key:\n%s" % (n, r.stderr))
            continue
        keys["plugin " + n] = [k.strip() for k in m.group(1).split(",")]
    return keys


def check_conf(keys, page):
    secs = sections(page, ".SS")
    for sec, names in keys.items():
        if "[%s]" % sec not in secs:
            fail("%s: no section [%s]" % (page, sec))
            continue
        documented = tags(secs["[%s]" % sec])
        for k in names:
            if k not in documented:
                fail("%s: [%s] %s is not an item of its section" % (page, sec, k))


def check_groff(groff, pages):
    for p in pages:
        r = run([groff, "-man", "-ww", "-z", p])
        out = (r.stdout + r.stderr).strip()
        if r.returncode or out:
            fail("groff -man -ww -z %s: exit %d\n%s" % (p, r.returncode, out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drsn", required=True)
    ap.add_argument("--drsnd", required=True)
    ap.add_argument("--pages", required=True)
    ap.add_argument("--groff", default="")
    ap.add_argument("--plugins", default="")
    ap.add_argument("--plugins-required", default="",
                    help="NAME,...: the plugins built (plugins/meson.build); only these are checked")
    a = ap.parse_args()
    page = {n: os.path.join(a.pages, n) for n in ("drsn.1", "drsnd.8", "drsnd.conf.5")}
    check_drsn(a.drsn, page["drsn.1"])
    check_drsnd(a.drsnd, page["drsnd.8"])
    with tempfile.TemporaryDirectory() as tmp:
        keys = config_keys(a.drsnd, tmp)
        for sec in ("daemon", "socket", "model", "audio", "detect", "thresholds", "plugins"):
            if sec not in keys:
                fail("drsnd --print-config: no [%s] in %r" % (sec, sorted(keys)))
        required = [n for n in a.plugins_required.split(",") if n]
        if required:
            # a module left in the build folder by a plugin since switched
            # off (-Dplugin_NAME=disabled) is not checked
            modules = [os.path.join(a.plugins, n, n + ".so") for n in required]
            for m in modules:
                if not os.path.isfile(m):
                    fail("plugin module %s not built" % m)
            modules = [m for m in modules if os.path.isfile(m)]
        else:
            modules = sorted(glob.glob(os.path.join(a.plugins, "*", "*.so"))) if a.plugins else []
        if modules:
            keys.update(plugin_keys(a.drsnd, modules, tmp))
        else:
            print("no plugin modules built: [plugin NAME] keys not checked")
        check_conf(keys, page["drsnd.conf.5"])
    n_keys = sum(len(v) for v in keys.values())
    groff = a.groff or shutil.which("groff")
    if groff:
        check_groff(groff, page.values())
    if fails:
        print("%d problem(s)" % len(fails))
        return 1
    print("man pages match the code: drsn commands and options, drsnd options, %d config keys in %d "
          "sections (%d plugins)" % (n_keys, len(keys), len(modules)))
    if not groff:
        if os.environ.get("CI") == "true":
            print("FAIL: groff not found (apt-get install groff-base); CI=true allows no skip")
            return 1
        print("SKIP: groff not found (apt-get install groff-base): pages not rendered")
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
