#!/usr/bin/python3
"""check_package.py MESON BUILDDIR CC...: what a distribution package gets from
`meson install --destdir` into a scratch folder, checked as a packager would:

- no file that the build made names the source or build tree (reproducible
  builds: the same files whatever folder they were built in; an installed
  program never reads a source tree). ELF files and archives are checked
  without their debug info, which distributions map with -ffile-prefix-map
  and ship apart; files of the source tree installed as they are are not;
  the installed drsn looks for the default model where the package puts it;
- libdrsn.a has machine code, not only GCC's LTO bytecode (-Db_lto=true);
- file modes: nothing group/world-writable, programs and libraries executable,
  data not;
- every symbolic link resolves inside the package (models/default.safetensors);
- libdrsn.so exports the public drsn_ API only (no drsn__ internals, no SIMD
  kernels of the static archive);
- a program that includes <drsn/drsn.h> builds from drsn.pc alone (shared and
  --static), runs against the installed library, and loads the installed
  default model; the library it runs with has the headers' version
  (drsn/version.h);
- every installed header compiles on its own (nothing else included) as
  C99 and C11 with -Wall -Wextra -pedantic -Werror.
C++ (the headers, a program and a plugin, with g++ and clang++; failing
under CI=true without them) is tests/cxx/check_cxx.py's."""
import json
import os
import stat
import subprocess
import sys
import tempfile

CONSUMER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <drsn/drsn.h>
int main(void)
{
	drsn_model *m = NULL;
	drsn_error e = {0};
	if (drsn_model_load(&m, getenv("DRSN_MODEL"), &e) < 0) {
		fprintf(stderr, "consumer: %s\n", e.msg);
		return 1;
	}
	printf("%d labels\n", drsn_model_n_labels(m));
	if (strcmp(drsn_version(), DRSN_VERSION_STRING) || drsn_version_number() != DRSN_VERSION_NUMBER)
		printf("version mismatch: library %s (%d), headers %s (%d)\n", drsn_version(),
		       drsn_version_number(), DRSN_VERSION_STRING, DRSN_VERSION_NUMBER);
	drsn_model_free(m);
	return 0;
}
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def is_archive(path):
    with open(path, "rb") as f:
        return f.read(8) == b"!<arch>\n"


def contents_without_debug(path, scratch):
    if not is_elf(path) and not is_archive(path):
        with open(path, "rb") as f:
            return f.read()
    out = os.path.join(scratch, "stripped")
    # LTO bytecode carries its own debug info (with -flto, the Debian default now)
    run(["objcopy", "--strip-debug", "--remove-section=.gnu.lto_*", "--remove-section=.gnu.debuglto_*",
         path, out])
    with open(out, "rb") as f:
        return f.read()


def main():
    meson, build, cc = sys.argv[1], sys.argv[2], sys.argv[3:]
    opts = {o["name"]: o["value"] for o in json.loads(run([meson, "introspect", "--buildoptions", build]))}
    prefix, libdir = opts["prefix"], opts["libdir"]
    # a sanitizer build's libdrsn needs its runtime in the consumer too
    sanitize = ["-fsanitize=" + opts["b_sanitize"]] if opts.get("b_sanitize", "none") != "none" else []
    with open(os.path.join(build, "meson-info", "meson-info.json")) as f:
        dirs = json.load(f)["directories"]
    trees = {os.path.realpath(build), dirs["build"], dirs["source"]}
    installed = json.loads(run([meson, "introspect", "--installed", build]))
    def under(path, tree):
        return os.path.realpath(path).startswith(os.path.realpath(tree) + "/")
    shipped = {dest for src, dest in installed.items()
               if under(src, dirs["source"]) and not under(src, dirs["build"])}
    fails = []
    with tempfile.TemporaryDirectory(prefix="drsn-package-") as tmp:
        dest = os.path.join(tmp, "destdir")
        run([meson, "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest])
        root = os.path.join(dest, prefix.lstrip("/"))
        files = []
        for d, _, names in os.walk(dest):
            files += [os.path.join(d, n) for n in names]
        for path in sorted(files):
            rel = path[len(dest):]
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                target = os.path.realpath(os.path.join(os.path.dirname(path), os.readlink(path)))
                if not target.startswith(dest + "/") or not os.path.isfile(target):
                    fails.append("%s -> %s does not resolve inside the package" % (rel, os.readlink(path)))
                continue
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                fails.append("%s is group/world-writable (%o)" % (rel, st.st_mode & 0o7777))
            want_x = is_elf(path) and (".so" in os.path.basename(path) or "/bin/" in rel or "/sbin/" in rel)
            if want_x != bool(st.st_mode & stat.S_IXUSR) and not path.endswith(".a"):
                fails.append("%s: mode %o (%s)" % (rel, st.st_mode & 0o777,
                                                   "not executable" if want_x else "data marked executable"))
            if rel in shipped:
                continue   # a file of the source tree, installed as it is
            if is_archive(path) and "__gnu_lto_slim" in run(["readelf", "-sW", path]):
                fails.append("%s holds GCC LTO bytecode only (slim objects): no other compiler or GCC "
                             "version can link it; build it with -ffat-lto-objects" % rel)
            data = contents_without_debug(path, tmp)
            for tree in trees:
                if tree.encode() in data:
                    fails.append("%s names the build machine's folder %s" % (rel, tree))
        # the installed drsn, without a model of its own, looks where drsnd's
        # package puts it, never in the tree it was built from
        env = {k: v for k, v in os.environ.items() if k not in ("DRSN_MODEL", "DRSN_SOURCE_ROOT")}
        env["LD_LIBRARY_PATH"] = os.path.join(root, libdir)
        info = subprocess.run([os.path.join(root, opts["bindir"], "drsn"), "info"], env=env,
                              capture_output=True, text=True)
        installed_model = os.path.join(prefix, opts["datadir"], "drsnd", "models", "default.safetensors")
        if installed_model not in info.stdout + info.stderr:
            fails.append("installed drsn info (no $DRSN_MODEL) does not read %s: %s" % (
                installed_model, (info.stdout + info.stderr).splitlines()[:1]))
        lib = os.path.join(root, libdir, "libdrsn.so")
        exported = run(["nm", "-D", "--defined-only", lib]).split()
        names = [n for n in exported[2::3]]
        bad = sorted(n for n in names if not n.startswith("drsn_") or n.startswith("drsn__"))
        if not names:
            fails.append("libdrsn.so exports nothing")
        if bad:
            fails.append("libdrsn.so exports %d names outside the drsn_ API: %s" % (len(bad), " ".join(bad[:10])))
        src = os.path.join(tmp, "consumer.c")
        with open(src, "w") as f:
            f.write(CONSUMER)
        pcdir = os.path.join(root, libdir, "pkgconfig")
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir, LD_LIBRARY_PATH=os.path.join(root, libdir),
                   DRSN_MODEL=os.path.join(root, "share", "drsnd", "models", "default.safetensors"))
        pkg_config = ["pkg-config", "--define-variable=prefix=" + root]
        for kind in ("shared", "static"):
            try:
                flags = run(pkg_config + ["--cflags", "--libs", "drsn"], env=env).split()
                if kind == "static":
                    # libdrsn.a and what drsn.pc says it needs (Requires.private,
                    # Libs.private); the libraries under it stay shared, so
                    # --static, which wants every one's own archive deps, is not used
                    flags = [os.path.join(root, libdir, "libdrsn.a") if f == "-ldrsn" else f for f in flags]
                    private = run(pkg_config + ["--print-requires-private", "drsn"], env=env).split()
                    flags += run(pkg_config + ["--libs"] + private, env=env).split()
                    with open(os.path.join(pcdir, "drsn.pc")) as f:
                        flags += [ln.split(":", 1)[1] for ln in f if ln.startswith("Libs.private:")][0].split()
                exe = os.path.join(tmp, "consumer-" + kind)
                run(cc + ["-std=c11", "-Wall", "-Werror", src, "-o", exe] + sanitize + flags, env=env)
                out = run([exe], env=env)
                if "labels" not in out or "mismatch" in out:
                    fails.append("consumer (%s): printed %r" % (kind, out))
            except subprocess.CalledProcessError as e:
                fails.append("consumer (%s): %s failed:\n%s%s" % (kind, " ".join(e.cmd), e.stdout, e.stderr))
        # each installed header alone, as C and as C++
        incdir = os.path.join(root, opts["includedir"])
        headers = sorted(os.listdir(os.path.join(incdir, "drsn")))
        if "version.h" not in headers:
            fails.append("drsn/version.h is not installed")
        for h in headers:
            for std in ("-std=c99", "-std=c11"):
                src = os.path.join(tmp, "h.c")
                with open(src, "w") as f:
                    f.write("#include <drsn/%s>\nint main(void) { return 0; }\n" % h)
                r = subprocess.run(cc + [std, "-Wall", "-Wextra", "-pedantic", "-Werror", "-I" + incdir,
                                         "-c", src, "-o", os.path.join(tmp, "h.o")],
                                   capture_output=True, text=True)
                if r.returncode:
                    fails.append("drsn/%s alone does not compile with %s %s:\n%s" % (
                        h, os.path.basename(cc[0]), std, r.stderr[:800]))
        # README's library example ("Using the library"), built as it says and
        # run on the sample it names: it finds the keywords
        readme = open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read()
        src = os.path.join(tmp, "detect.c")
        with open(src, "w") as f:
            f.write(readme.split("```c\n", 1)[1].split("```", 1)[0])
        exe = os.path.join(tmp, "detect")
        sample = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "keywords-clean.wav")
        try:
            flags = run(pkg_config + ["--cflags", "--libs", "drsn"], env=env).split()
            run(cc + ["-std=c11", "-Wall", "-Werror", src, "-o", exe] + sanitize + flags, env=env)
            out = run([exe, sample], env=env)
            if not out.startswith("yes ") or " at " not in out:
                fails.append("README's detect.c: printed %r" % out)
        except subprocess.CalledProcessError as e:
            fails.append("README's detect.c: %s failed:\n%s%s" % (" ".join(e.cmd), e.stdout, e.stderr))
    for f in fails:
        print("FAIL:", f)
    print("%d installed files checked: %s" % (len(files), "%d problem(s)" % len(fails) if fails else "ok"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
