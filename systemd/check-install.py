#!/usr/bin/python3
"""check-install.py MESON BUILDDIR [PLUGIN,...]: what `meson install` would write, from
`meson introspect --installed` (nothing is installed). Every file goes under
the prefix, or an absolute sysconfdir/localstatedir (/etc and /var of
--prefix=/usr; a scratch --prefix must not write /lib or /etc); the systemd unit
and its template drsnd@.service are installed only when drsnd has sd_notify (it is Type=notify with a
watchdog), and then its ExecStart runs the installed drsnd with the installed
drsnd.conf (drsnd@.service: <sysconfdir>/drsnd/%i.conf); the man pages go to <prefix>/<mandir>/man{1,5,8}; the plugins built (PLUGIN,...) go
to drsn.pc's plugindir, and no other plugin does."""
import json
import os
import re
import subprocess
import sys


def introspect(meson, build, what):
    return json.loads(subprocess.run([meson, "introspect", what, build], check=True,
                                     capture_output=True, text=True).stdout)


def main():
    meson, build = sys.argv[1], sys.argv[2]
    built = [n for n in (sys.argv[3] if len(sys.argv) > 3 else "").split(",") if n]
    installed = introspect(meson, build, "--installed")
    opts = {o["name"]: o["value"] for o in introspect(meson, build, "--buildoptions")}
    prefix = opts["prefix"].rstrip("/")
    fails = []
    # meson makes sysconfdir /etc and localstatedir /var for --prefix=/usr (a
    # distribution's build): an absolute one is a place chosen on purpose
    roots = [prefix] + [opts[k].rstrip("/") for k in ("sysconfdir", "localstatedir")
                        if opts.get(k, "").startswith("/")]
    outside = sorted(d for d in installed.values() if not any(d.startswith(r + "/") for r in roots))
    if outside:
        fails.append("installed outside the prefix %s%s: %s" % (
            prefix, "".join(" and " + r for r in roots[1:]), ", ".join(outside)))
    by_name = {}
    for dest in installed.values():
        by_name.setdefault(os.path.basename(dest), []).append(dest)
    with open(os.path.join(build, "drsn_config.h")) as f:
        notify = re.search(r"#define DRSN_HAVE_SYSTEMD 1\b", f.read()) is not None
    want = (by_name.get("drsnd", ["?"])[0], by_name.get("drsnd.conf", ["?"])[0])
    for name in ("drsnd.service", "drsnd@.service"):
        units = by_name.get(name, [])
        if not notify:
            if units:
                fails.append("drsnd is built without sd_notify but the Type=notify unit is installed: "
                             + ", ".join(units))
            continue
        if len(units) != 1:
            fails.append("%s: installed %d times (want once)" % (name, len(units)))
            continue
        unit = units[0]
        if not unit.startswith(prefix + "/lib/systemd/system/"):
            fails.append("%s goes to %s, not %s/lib/systemd/system" % (name, unit, prefix))
        with open(os.path.join(build, "systemd", name)) as f:
            exec_start = re.search(r"^ExecStart=(\S+) --config (\S+)", f.read(), re.M)
        # the template: <sysconfdir>/drsnd/%i.conf beside the installed drsnd.conf
        conf = want[1] if name == "drsnd.service" else os.path.join(os.path.dirname(want[1]), "%i.conf")
        if not exec_start or exec_start.groups() != (want[0], conf):
            fails.append("%s: ExecStart=%s --config %s is not the installed %s, %s" % (
                name, exec_start.group(1) if exec_start else "?",
                exec_start.group(2) if exec_start else "?", want[0], conf))
    for page, section in (("drsn.1", 1), ("drsnd.conf.5", 5), ("drsnd.8", 8)):
        want = "%s/%s/man%d/%s" % (prefix, opts.get("mandir", "share/man"), section, page)
        if by_name.get(page, []) != [want]:
            fails.append("man page %s: installed as %s, not %s" % (page, by_name.get(page) or "nothing", want))
    # drsn.pc's plugindir (for plugins built elsewhere) is where ours go:
    # each plugin built (PLUGINS, from plugins/meson.build) once, and no other
    # (-Dplugin_NAME=disabled installs nothing of NAME)
    with open(os.path.join(build, "meson-private", "drsn.pc")) as f:
        pc = dict(re.findall(r"^(\w+)=(.*)$", f.read(), re.M))
    plugindir = pc.get("plugindir", "")
    while "${" in plugindir:
        plugindir = re.sub(r"\$\{(\w+)\}", lambda m: pc.get(m.group(1), "?"), plugindir)
    for name in built:
        if by_name.get(name + ".so", []) != [plugindir + "/" + name + ".so"]:
            fails.append("plugin %s: installed as %s, not %s/%s.so (drsn.pc's plugindir)" % (
                name, by_name.get(name + ".so") or "nothing", plugindir, name))
    extra = sorted(d for d in installed.values()
                   if os.path.dirname(d) == plugindir and os.path.basename(d)[:-3] not in built)
    if extra:
        fails.append("installed in %s but not a plugin built (%s): %s" % (
            plugindir, ", ".join(built) or "none", ", ".join(extra)))
    for f in fails:
        print("FAIL:", f)
    if not fails:
        print("install layout OK: %d files under %s%s" % (len(installed), prefix,
                                                          "" if notify else " (no systemd unit)"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
