"""The parity tests' programs in a cross build: meson runs the tests
natively and names the emulator (qemu-aarch64) in MESON_EXE_WRAPPER."""
import os
import shlex


def under_wrapper(exe, tmp):
    """exe, or in a cross build a script in tmp that runs it under the
    wrapper."""
    wrapper = os.environ.get("MESON_EXE_WRAPPER", "")
    if not wrapper:
        return exe
    script = os.path.join(tmp, os.path.basename(exe) + "-wrapped")
    with open(script, "w") as f:
        f.write('#!/bin/sh\nexec %s %s "$@"\n' % (wrapper, shlex.quote(os.path.abspath(exe))))
    os.chmod(script, 0o755)
    return script
