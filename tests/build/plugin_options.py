#!/usr/bin/python3
"""plugin_options.py MESON SOURCE_ROOT: the per-plugin build options
(meson_options.txt plugin_<name>, plugins/meson.build) in scratch builds of
this source tree in a temp folder (configure only, plus the recorder module):

- -Dplugin_mqtt=disabled -Dplugin_wyoming=disabled -Dplugin_exec=disabled:
  recorder is built and
  installed, mqtt, wyoming and exec are neither targets, nor tests, nor installed;
  the summary says why; install-layout (systemd/check-install.py) passes;
- -Dplugins=disabled: no plugin at all, whatever plugin_<name> says (auto);
- libmosquitto missing (a pkg-config folder with every .pc but
  libmosquitto's): plugin_mqtt=auto leaves mqtt out and says so,
  plugin_mqtt=enabled stops meson setup naming libmosquitto-dev.
~15 s."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails.append(what)


# everything this test does not look at is off: a quick configure
QUICK = ["-Dparity=disabled", "-Dbench=disabled", "-Dportaudio=disabled", "-Dfuzz=disabled",
         "-Dsystemd=disabled"]


def setup(meson, src, build, opts, env=None):
    r = subprocess.run([meson, "setup", build, src] + QUICK + opts, capture_output=True, text=True,
                       env=env)
    return r.returncode, r.stdout + r.stderr


def introspect(meson, build, what):
    return json.loads(subprocess.run([meson, "introspect", what, build], check=True,
                                     capture_output=True, text=True).stdout)


def summary_line(out, name):
    m = re.search(r"^\s*%s\s*: (.*)$" % re.escape(name), out, re.M)
    return m.group(1).strip() if m else None


def plugin_targets(meson, build):
    return {t["name"] for t in introspect(meson, build, "--targets")
            if os.path.relpath(os.path.realpath(t["defined_in"]), os.path.realpath(SRC)).startswith("plugins/")}


def main():
    global SRC
    meson, SRC = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="drsn-plugin-options-")
    try:
        # 1. the packager's build: recorder without mqtt and wyoming
        b = os.path.join(tmp, "no-mqtt-wyoming")
        rc, out = setup(meson, SRC, b, ["-Dplugin_mqtt=disabled", "-Dplugin_wyoming=disabled",
                                              "-Dplugin_exec=disabled"])
        check(rc == 0, "-Dplugin_mqtt=disabled -Dplugin_wyoming=disabled -Dplugin_exec=disabled configures (exit %d)" % rc)
        if rc:
            print(out)
            return 1
        targets = plugin_targets(meson, b)
        check("recorder" in targets, "recorder is a target (plugin targets: %s)" % sorted(targets))
        for t in ("mqtt", "mqtt-drive", "wyoming", "wyoming_core", "exec"):
            check(t not in targets, "%s is not a target" % t)
        tests = {t["name"] for t in introspect(meson, b, "--tests")}
        for t in sorted(tests):
            if t.startswith(("plugin-mqtt", "plugin-wyoming", "wyoming-", "plugin-exec")):
                check(False, "test %s of a plugin switched off is registered" % t)
        installed = {os.path.basename(d) for d in introspect(meson, b, "--installed").values()}
        check("recorder.so" in installed, "recorder.so is installed")
        check(not {"mqtt.so", "wyoming.so", "exec.so"} & installed,
              "none of mqtt.so, wyoming.so, exec.so is installed")
        check(summary_line(out, "recorder") == "YES", "summary: recorder: %s" % summary_line(out, "recorder"))
        check(summary_line(out, "mqtt") == "NO (-Dplugin_mqtt=disabled)",
              "summary: mqtt: %s" % summary_line(out, "mqtt"))
        check(summary_line(out, "wyoming") == "NO (-Dplugin_wyoming=disabled)",
              "summary: wyoming: %s" % summary_line(out, "wyoming"))
        check(summary_line(out, "exec") == "NO (-Dplugin_exec=disabled)",
              "summary: exec: %s" % summary_line(out, "exec"))
        r = subprocess.run([sys.executable, os.path.join(SRC, "systemd", "check-install.py"), meson, b, "recorder"],
                           capture_output=True, text=True)
        check(r.returncode == 0, "check-install.py with the recorder only: %s" % (r.stdout + r.stderr).strip())
        r = subprocess.run(["ninja", "-C", b, "-j1", "plugins/recorder/recorder.so"],
                           capture_output=True, text=True)
        check(r.returncode == 0 and os.path.isfile(os.path.join(b, "plugins", "recorder", "recorder.so")),
              "ninja builds plugins/recorder/recorder.so (exit %d)%s" % (
                  r.returncode, "" if r.returncode == 0 else "\n" + r.stdout[-2000:]))

        # 2. the global switch off wins over plugin_<name>=auto
        rc, out = setup(meson, SRC, os.path.join(tmp, "no-plugins"), ["-Dplugins=disabled"])
        check(rc == 0, "-Dplugins=disabled configures (exit %d)" % rc)
        if rc == 0:
            targets = plugin_targets(meson, os.path.join(tmp, "no-plugins"))
            check(not targets, "-Dplugins=disabled: no plugin target (%s)" % sorted(targets))
            for n in ("mqtt", "recorder", "wyoming", "exec"):
                check(summary_line(out, n) == "NO (-Dplugins=disabled)",
                      "summary: %s: %s" % (n, summary_line(out, n)))

        # 3. libmosquitto missing: every .pc pkg-config finds but libmosquitto's
        pc = os.path.join(tmp, "pkgconfig")
        os.mkdir(pc)
        search = subprocess.run(["pkg-config", "--variable", "pc_path", "pkg-config"], check=True,
                                capture_output=True, text=True).stdout.strip().split(":")
        search = os.environ.get("PKG_CONFIG_PATH", "").split(":") + search
        for d in filter(None, search):
            for f in glob.glob(os.path.join(d, "*.pc")):
                name = os.path.basename(f)
                if not name.startswith("libmosquitto") and not os.path.exists(os.path.join(pc, name)):
                    os.symlink(f, os.path.join(pc, name))
        env = dict(os.environ, PKG_CONFIG_LIBDIR=pc, PKG_CONFIG_PATH="")
        rc, out = setup(meson, SRC, os.path.join(tmp, "mqtt-auto"), [], env=env)
        check(rc == 0, "libmosquitto missing, plugin_mqtt=auto configures (exit %d)" % rc)
        if rc == 0:
            targets = plugin_targets(meson, os.path.join(tmp, "mqtt-auto"))
            check("mqtt" not in targets and "recorder" in targets,
                  "libmosquitto missing, auto: no mqtt, recorder built (%s)" % sorted(targets))
            check(summary_line(out, "mqtt") == "NO: libmosquitto not found (Debian package libmosquitto-dev)",
                  "summary: mqtt: %s" % summary_line(out, "mqtt"))
        else:
            print(out[-3000:])
        rc, out = setup(meson, SRC, os.path.join(tmp, "mqtt-enabled"), ["-Dplugin_mqtt=enabled"], env=env)
        err = [line for line in out.splitlines() if "ERROR" in line]
        check(rc != 0, "libmosquitto missing, -Dplugin_mqtt=enabled: meson setup fails (exit %d)" % rc)
        check(any("-Dplugin_mqtt=enabled" in line and "libmosquitto-dev" in line for line in err),
              "its error names the option and the package: %s" % (err or out[-1500:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d problem(s)" % len(fails) if fails else "plugin options OK")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
