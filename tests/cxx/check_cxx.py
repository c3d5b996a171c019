#!/usr/bin/env python3
"""libdrsn from C++, as a program that embeds it meets it (suite 'cxx').

    check_cxx.py MESON BUILD_DIR SOURCE_DIR DRSN DRSND CC_ID

With g++ and clang++, each at -std=c++11 and -std=c++20 and
-Wall -Wextra -Wpedantic -Werror, against a `meson install --destdir` of
BUILD_DIR (the headers and libraries a user gets, found through drsn.pc):

  1. every public header alone, and all of them together, compiles; a TU
     that takes the address of every function a header declares references
     only unmangled names (the header's extern "C" guard works);
  2. tests/cxx/embed.cpp, linked with the shared and with the static
     libdrsn, detects on samples/keywords-clean.wav exactly what
     `drsn detect` prints, and denoises;
  3. tests/cxx/plugin.cpp, a drsnd plugin in C++ (DRSN_PLUGIN_DEFINE),
     is loaded by drsnd and logs every detection of a file source.

Without g++ or clang++ it fails under CI=true, else it checks with the one
there is (exit 77, a skip, with neither). In a sanitizer build (b_sanitize)
the programs get the sanitizer too and are built by the C++ compiler of the
library's C compiler (CC_ID, meson's: gcc or clang) only: GCC's and Clang's
ASan runtimes cannot share a process. ~6 s (~25 s under ASan).
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

STDS = ("c++11", "c++20")
WARN = ["-Wall", "-Wextra", "-Wpedantic", "-Werror"]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def attempt(what, cmd, **kw):
    """None, or a failure naming what, the command and its output."""
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        return "%s: `%s` exited %d:\n%s%s" % (what, " ".join(cmd), r.returncode, r.stdout[-1500:],
                                            r.stderr[-1500:])
    return None


def functions(header_text):
    """The drsn_ functions a header declares (DRSN_API ... drsn_x(...))."""
    return re.findall(r"DRSN_API\b[^;(]*?\b(drsn_[a-z0-9_]+)\s*\(", header_text)


def header_tu(includes, funcs):
    refs = "".join("\treinterpret_cast<fn>(&%s),\n" % f for f in funcs)
    return ("".join("#include <drsn/%s>\n" % h for h in includes) +
            "typedef void (*fn)(void);\nextern const fn drsn_refs[];\n"
            "const fn drsn_refs[] = {\n%s\tnullptr,\n};\nint main() { return 0; }\n" % refs)


def main():
    meson, build, source, drsn, drsnd, cc_id = sys.argv[1:7]
    ci = os.environ.get("CI") == "true"
    compilers = []
    for name in ("g++", "clang++"):
        path = shutil.which(name)
        if path:
            compilers.append(path)
        elif ci:
            print("FAIL: %s not found (CI=true): apt-get install %s" % (
                name, {"g++": "g++", "clang++": "clang"}[name]))
            return 1
        else:
            print("%s not found: checking without it" % name)
    if not compilers:
        print("no C++ compiler (g++, clang++): skipped")
        return 77

    opts = {o["name"]: o["value"] for o in json.loads(run([meson, "introspect", "--buildoptions", build]))}
    sanitize = ["-fsanitize=" + opts["b_sanitize"]] if opts.get("b_sanitize", "none") != "none" else []
    model = os.path.join(source, "models", "kws20-drsn-cw.safetensors")
    wav = os.path.join(source, "samples", "keywords-clean.wav")
    fails = []
    with tempfile.TemporaryDirectory(prefix="drsn-cxx-") as tmp:
        run([meson, "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", os.path.join(tmp, "dest")])
        root = os.path.join(tmp, "dest", opts["prefix"].lstrip("/"))
        libdir = os.path.join(root, opts["libdir"])
        incdir = os.path.join(root, opts["includedir"])
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"), LD_LIBRARY_PATH=libdir)
        pkg = ["pkg-config", "--define-variable=prefix=" + root]
        cflags = run(pkg + ["--cflags", "drsn"], env=env).split()
        shared = run(pkg + ["--libs", "drsn"], env=env).split()
        # static: libdrsn.a, the packages drsn.pc requires privately and its
        # Libs.private; not --static, which also wants each of those packages'
        # own private libraries (-lmp3lame for sndfile), whose .so Debian lacks
        private = run(pkg + ["--print-requires-private", "drsn"], env=env).split()
        with open(os.path.join(libdir, "pkgconfig", "drsn.pc")) as f:
            libs_private = re.findall(r"^Libs\.private:(.*)$", f.read(), re.M)[0].split()
        static = [os.path.join(libdir, "libdrsn.a") if f == "-ldrsn" else f
                  for f in run(pkg + ["--libs", "drsn"] + private, env=env).split()] + libs_private

        # what each job does: (description, command, check of its output or None)
        jobs = []
        headers = sorted(os.listdir(os.path.join(incdir, "drsn")))
        decl = {h: functions(open(os.path.join(incdir, "drsn", h)).read()) for h in headers}
        for h in headers + ["*"]:
            inc = headers if h == "*" else [h]
            src = os.path.join(tmp, "h-%s.cpp" % ("all" if h == "*" else h[:-2]))
            with open(src, "w") as f:
                f.write(header_tu(inc, [fn for i in inc for fn in decl[i]]))
            for cxx in compilers:
                for std in STDS:
                    obj = "%s-%s-%s.o" % (src[:-4], os.path.basename(cxx), std)
                    jobs.append(("drsn/%s as %s -std=%s" % (h, os.path.basename(cxx), std),
                                 [cxx, "-std=" + std] + WARN + cflags + ["-c", src, "-o", obj], obj))

        # embed.cpp: each compiler, one standard with the shared library, the other static
        embeds = []
        linkers = compilers
        if sanitize:
            linkers = [c for c in compilers if os.path.basename(c) == {"gcc": "g++", "clang": "clang++"}.get(cc_id)]
            print("b_sanitize=%s: embed.cpp built with %s only (the library's compiler is %s)" % (
                opts["b_sanitize"], ", ".join(os.path.basename(c) for c in linkers) or "none", cc_id))
        for i, cxx in enumerate(linkers):
            for j, std in enumerate(STDS):
                kind = ("shared", "static")[(i + j) % 2]
                exe = os.path.join(tmp, "embed-%s-%s-%s" % (os.path.basename(cxx), std, kind))
                embeds.append(exe)
                jobs.append(("embed.cpp (%s -std=%s, %s libdrsn)" % (os.path.basename(cxx), std, kind),
                             [cxx, "-std=" + std] + WARN + sanitize + cflags +
                             [os.path.join(source, "tests", "cxx", "embed.cpp"), "-o", exe] +
                             (shared if kind == "shared" else static), None))
        # plugin.cpp: a module per compiler (the standards alternate)
        plugin_dirs = []
        for i, cxx in enumerate(compilers):
            d = os.path.join(tmp, "plugins-" + os.path.basename(cxx))
            os.mkdir(d)
            plugin_dirs.append(d)
            jobs.append(("plugin.cpp (%s -std=%s)" % (os.path.basename(cxx), STDS[i % 2]),
                         [cxx, "-std=" + STDS[i % 2]] + WARN + ["-fPIC", "-shared"] + cflags +
                         [os.path.join(source, "tests", "cxx", "plugin.cpp"), "-o",
                          os.path.join(d, "cxxdemo.so")], None))

        def do(job):
            what, cmd, obj = job
            err = attempt(what, cmd, env=env)
            if err or not obj:
                return err
            # a mangled drsn_ name: the header's declarations lack extern "C"
            mangled = [s for s in run(["nm", "-u", obj]).split() if s.startswith("_Z") and "drsn_" in s]
            if mangled:
                return "%s: C++ (mangled) names for the library's functions, no extern \"C\": %s" % (
                    what, " ".join(mangled[:5]))
            return None
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            fails += [f for f in pool.map(do, jobs) if f]

        # the C CLI's detections, as the reference
        want = [{k: v for k, v in json.loads(ln).items() if k != "file"}
                for ln in run([drsn, "detect", wav], env=dict(os.environ, DRSN_MODEL=model)).splitlines()]
        if len(want) < 3:
            fails.append("drsn detect %s found %d keywords (expected several)" % (wav, len(want)))
        for exe in embeds:
            if not os.path.exists(exe):
                continue   # its build failed (above)
            r = subprocess.run([exe, model, wav], capture_output=True, text=True, env=env)
            lines = r.stdout.splitlines()
            got = [json.loads(ln) for ln in lines if ln.startswith("{")]
            if r.returncode or got != want or not any(ln.startswith("denoise: ") and "energy > 0" in ln
                                                      for ln in lines):
                fails.append("%s exited %d: printed\n%s%s\nexpected (drsn detect):\n%s" % (
                    os.path.basename(exe), r.returncode, r.stdout, r.stderr,
                    "\n".join(json.dumps(w) for w in want)))
            else:
                print("%s: the same %d detections as drsn detect; %s" % (
                    os.path.basename(exe), len(got), lines[-1]))
        for d in plugin_dirs:
            if not os.path.exists(os.path.join(d, "cxxdemo.so")):
                continue
            r = subprocess.run([drsnd, "-c", os.devnull, "-s", os.path.join(tmp, "drsnd.sock"), "-m", model,
                                "-i", "file:" + wav, "--no-realtime", "--exit-on-eof", "-v",
                                "--set", "plugins.dir=" + d, "--set", "plugins.load=cxxdemo",
                                "--set", "plugin cxxdemo.greeting=hi from C++"],
                               capture_output=True, text=True, env=env, timeout=60)
            logged = re.findall(r"plugin cxxdemo: hi from C\+\+: (\S+) on ", r.stderr)
            if r.returncode or logged != [w["label"] for w in want]:
                fails.append("drsnd with the C++ plugin %s exited %d, the plugin logged %s (expected %s):\n%s" % (
                    os.path.join(d, "cxxdemo.so"), r.returncode, logged, [w["label"] for w in want],
                    r.stderr[-2000:]))
            else:
                print("drsnd loaded %s: it logged the %d detections" % (os.path.basename(d) + "/cxxdemo.so",
                                                                       len(logged)))
    for f in fails:
        print("FAIL:", f)
    print("%d C++ builds with %s: %s" % (len(jobs), ", ".join(os.path.basename(c) for c in compilers),
                                         "%d problem(s)" % len(fails) if fails else "ok"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
