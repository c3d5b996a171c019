#!/usr/bin/python3
"""check_docs.py: the user docs against the code (meson test docs, ~1 s).

  check_docs.py SOURCE_ROOT DRSN DRSND

- every relative link and image in README.md, docs/*.md, samples/README.md
  and models/**/README.md leads to a file or folder of the tree;
- README's "Command line" block names every command `drsn --help` lists, and
  every --option on a line of it is one the program (`drsn CMD --help`,
  `drsnd --help`) accepts;
- every range config/drsnd.conf gives a key of drsnd's own sections ("(10..60000)"
  in the comment over it) is the one drsnd checks, as its error names it;
- the model window samples/README.md quotes ("the model's N s window") is
  the shipped model's: (frames - 1) x hop + win_length, from `drsn info --json`.
(docs/protocol.md's JSON examples against drsnd's events: test_protocol.py.)"""
import glob
import json
import os
import re
import subprocess
import sys

fails = []


def fail(msg):
    fails.append(msg)
    print("FAIL:", msg)


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


def check_links(root):
    pages = ["README.md", "samples/README.md"] + sorted(glob.glob("docs/*.md", root_dir=root)) + \
        sorted(glob.glob("models/**/README.md", root_dir=root, recursive=True))
    n = 0
    for page in pages:
        text = open(os.path.join(root, page)).read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            target = target.split("#", 1)[0]
            if not target or re.match(r"[a-z]+:", target):
                continue
            n += 1
            if not os.path.exists(os.path.join(root, os.path.dirname(page), target)):
                fail("%s: the link %s leads nowhere" % (page, target))
    print("links: %d relative links in %d pages" % (n, len(pages)))


def check_command_line(root, drsn, drsnd):
    readme = open(os.path.join(root, "README.md")).read()
    block = readme.split("\n## Command line\n", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    listed = re.findall(r"^  (\w+) ", run([drsn, "--help"]).split("commands:", 1)[1], re.M)
    assert listed, "no commands in drsn --help"
    for cmd in listed:
        if not re.search(r"^drsn %s\b" % cmd, block, re.M):
            fail("README Command line: no line for `drsn %s` (drsn --help lists it)" % cmd)
    helps = {}
    for line in block.splitlines():
        m = re.match(r"(drsnd|drsn (\w+))\b", line)
        if not m:
            continue
        argv = [drsnd, "--help"] if m.group(1) == "drsnd" else [drsn, m.group(2), "--help"]
        key = " ".join(argv)
        helps.setdefault(key, run(argv))
        for opt in re.findall(r"(--[a-z][a-z-]*)", line.split("#", 1)[0]):
            if not re.search(r"(^|[\s,\[|])%s\b" % re.escape(opt), helps[key]):
                fail("README Command line: `%s` has no option %s (%s)" % (m.group(1), opt, key))
    print("command line: %d drsn commands, %d help texts" % (len(listed), len(helps)))


def check_window(root, drsn):
    info = json.loads(run([drsn, "info", os.path.join(root, "models", "kws20-drsn-cw.safetensors"), "--json"]))
    fe = info["frontend"]
    window = ((info["frames"] - 1) * fe["hop_length"] + fe["win_length"]) / fe["sample_rate"]
    text = open(os.path.join(root, "samples", "README.md")).read()
    quoted = re.findall(r"model's\s+(\d+\.\d+)\s+s\s+window", text)
    if not quoted:
        fail("samples/README.md: no \"the model's N s window\" to check")
    for q in quoted:
        if abs(float(q) - window) > 5e-4:
            fail("samples/README.md: the model's window is %s s, drsn info says %.3f s" % (q, window))
    print("window: %.3f s" % window)


def check_conf_ranges(root, drsnd):
    documented, comment, section = {}, [], None
    for line in open(os.path.join(root, "config", "drsnd.conf")):
        line = line.rstrip("\n")
        m = re.match(r"\[(\w+)\]$", line)
        if m:
            section, comment = m.group(1), []
            if section == "plugins":
                break
        elif line.startswith(";"):
            comment.append(line[1:])
        elif "=" in line and section:
            r = re.findall(r"(-?\d+(?:\.\d+)?)\.\.(-?\d+(?:\.\d+)?)", " ".join(comment))
            if len(r) == 1:
                documented["%s.%s" % (section, line.split("=")[0].strip())] = r[0]
            comment = []
    argv = [drsnd, "--model", "", "--check-config"]
    for key in documented:
        argv += ["--set", key + "=x"]
    out = run(argv)
    for key, (lo, hi) in sorted(documented.items()):
        section, name = key.split(".")
        m = re.search(r"\[%s\] %s: 'x' is not an? \w+ in \[(\S+), (\S+)\]" % (section, name), out)
        if not m:
            fail("config/drsnd.conf: [%s] %s: drsnd named no range for 'x':\n%s" % (section, name, out))
        elif (float(m.group(1)), float(m.group(2))) != (float(lo), float(hi)):
            fail("config/drsnd.conf: [%s] %s is documented as %s..%s, drsnd takes [%s, %s]" % (
                section, name, lo, hi, m.group(1), m.group(2)))
    print("config ranges: %d keys" % len(documented))


def main():
    root, drsn, drsnd = sys.argv[1:4]
    check_links(root)
    check_command_line(root, drsn, drsnd)
    check_conf_ranges(root, drsnd)
    check_window(root, drsn)
    if fails:
        print("%d problem(s)" % len(fails))
        return 1
    print("docs: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
