#!/usr/bin/python3
"""Several drsnd on one box, and drsnd in a container.

Instances: two drsnd side by side (each its own socket, recorder folder),
one that finds its socket path taken, and one whose socket file was
removed and remade by another drsnd while it ran (it must not remove the
other one's live socket at stop).

Container (podman/docker without systemd): no journal, no XDG_RUNTIME_DIR,
no HOME (env -i), an arbitrary uid with no passwd entry (setpriv), a
read-only root with only the socket folder writable (a private mount
namespace, unshare -m: nothing outside the test sees it). These need root
(unshare, mount, setpriv); as another user they are skipped, saying so.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drsndtest   # noqa: E402
from drsndtest import Daemon, main, log, MODEL, DRSND, RUNNING   # noqa: E402

RECORDER = os.environ.get("DRSN_RECORDER_MODULE", "")
UID = 54321   # no passwd entry (checked)


def wav(tmp, seconds=1.0):
    path = os.path.join(tmp, "noise.wav")
    drsndtest.write_wav(path, drsndtest.noise_bursts(seconds))
    return path


def ping(path):
    c = drsndtest.Client(path)
    try:
        return c.request({"type": "ping"})["type"]
    finally:
        c.close()


def test_two_instances_side_by_side():
    """Two drsnd, each with its own config, socket and recorder folder, run
    together; stopping one leaves the other (and its socket) alone."""
    tmp = os.environ["TMPDIR"]
    w = wav(tmp)
    ds = []
    for name in ("mic1", "mic2"):
        rec = os.path.join(tmp, "rec-" + name)
        os.mkdir(rec)
        conf = os.path.join(tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write("[audio]\nsource = file:%s\n" % w)
            if RECORDER:
                f.write("[plugins]\ndir = %s\nload = recorder\n\n[plugin recorder]\ndir = %s\n"
                        % (os.path.dirname(RECORDER), rec))
        ds.append(Daemon(config=conf).wait_listening())
    a, b = ds
    assert a.sock != b.sock
    for d in ds:
        assert ping(d.sock) == "pong", d.stderr()
    assert a.stop() == 0, a.stderr()
    assert not os.path.exists(a.sock)
    assert os.path.exists(b.sock) and ping(b.sock) == "pong", b.stderr()
    assert b.stop() == 0, b.stderr()
    if RECORDER:
        for d, name in zip(ds, ("mic1", "mic2")):
            assert "rec-" + name in d.stderr(), d.stderr()


def test_stop_leaves_another_daemons_socket():
    """A's socket file is removed (by hand, tmpfiles, a script) and B makes
    its own at the same path: A stopping used to unlink B's live socket,
    leaving B running but unreachable."""
    w = wav(os.environ["TMPDIR"])
    a = Daemon(source="file:" + w).wait_listening()
    os.unlink(a.sock)
    b = Daemon(source="file:" + w, tmp=a.tmp).wait_listening()
    assert ping(b.sock) == "pong"
    assert a.stop() == 0, a.stderr()
    assert os.path.exists(b.sock), "drsnd A removed drsnd B's live socket at stop"
    assert ping(b.sock) == "pong", b.stderr()
    assert b.stop() == 0, b.stderr()
    assert not os.path.exists(b.sock), "B left its own socket behind"


def test_second_instance_on_the_same_socket():
    """Same [socket] path twice: the second fails naming the path, the first
    keeps its socket (also after the second has gone)."""
    w = wav(os.environ["TMPDIR"])
    a = Daemon(source="file:" + w).wait_listening()
    ino = os.stat(a.sock).st_ino
    b = Daemon(source="file:" + w, tmp=a.tmp)
    assert b.p.wait(20) == 1, b.stderr()
    assert "%s: another daemon is listening there" % a.sock in b.stderr(), b.stderr()
    assert os.stat(a.sock).st_ino == ino and ping(a.sock) == "pong"
    assert a.stop() == 0


# ---- container --------------------------------------------------------------

def container_ok():
    if os.getuid() != 0:
        log("--- skip: the container checks need root (unshare -m, mount, setpriv)")
        return False
    for tool in ("unshare", "setpriv", "mount"):
        if not shutil.which(tool):
            raise AssertionError("%s not found (util-linux / mount)" % tool)
    # root in a container without CAP_SYS_ADMIN may not make a mount
    # namespace (as pausing_strace when ptrace is forbidden: say so, go on)
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        log("--- skip: unshare -m is not permitted here (%s)" % probe.stderr.strip()[:200])
        return False
    import pwd
    try:
        pwd.getpwuid(UID)
        raise AssertionError("uid %d has a passwd entry; the test needs one that has none" % UID)
    except KeyError:
        pass
    return True


class Box:
    """A drsnd "in a container": a private mount namespace where every
    mount is read-only but the folders in rw, run as UID (no passwd
    entry, no groups) with an empty environment."""

    def __init__(self, tmp, args, rw=()):
        self.tmp = tmp
        self.errpath = os.path.join(tmp, "box-stderr-%d.txt" % int(time.time() * 1000))
        script = "set -e\n"
        for d in rw:   # bound onto itself first: its own mount stays writable
            script += "mount --bind '%s' '%s'\n" % (d, d)
        script += ("for m in $(awk '$3 !~ /^(proc|sysfs|devtmpfs|devpts|cgroup2?|mqueue)$/ "
                   "{print $2}' /proc/self/mounts); do\n"
                   "  case \" %s \" in *\" $m \"*) continue ;; esac\n"
                   "  mount -o remount,bind,ro \"$m\" 2>/dev/null || true\n"
                   "done\n" % " ".join(rw))
        script += "touch / 2>/dev/null && { echo 'root is still writable' >&2; exit 99; }\n"
        script += ("exec setpriv --reuid %d --regid %d --clear-groups env -i %s\n"
                   % (UID, UID, " ".join("'%s'" % a for a in [DRSND] + list(args))))
        with open(self.errpath, "wb") as err:
            self.p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        RUNNING.append(self.p)

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def wait(self, timeout=30):
        return self.p.wait(timeout)


def container_dirs():
    """A folder tree uid UID can reach: the test's TMPDIR is 0700."""
    tmp = os.environ["TMPDIR"]
    os.chmod(tmp, 0o711)
    box = tempfile.mkdtemp(prefix="box-", dir=tmp)
    os.chmod(box, 0o755)
    sock = os.path.join(box, "run")
    os.mkdir(sock, 0o700)
    os.chown(sock, UID, UID)
    w = os.path.join(box, "noise.wav")
    drsndtest.write_wav(w, drsndtest.noise_bursts(1.0))
    os.chmod(w, 0o644)
    model = os.path.join(box, "model.safetensors")
    shutil.copy(MODEL, model)
    os.chmod(model, 0o644)
    return box, sock, w, model


def test_container_starts_and_logs_to_stderr():
    if not container_ok():
        return
    box, sock, w, model = container_dirs()
    path = os.path.join(sock, "drsnd.sock")
    b = Box(box, ["--socket", path, "--model", model, "--source", "file:" + w,
                  "--log-level", "info"], rw=[sock])
    end = time.time() + 30
    while not os.path.exists(path):
        assert b.p.poll() is None, "drsnd exited %s:\n%s" % (b.p.returncode, b.stderr())
        assert time.time() < end, b.stderr()
        time.sleep(0.05)
    assert ping(path) == "pong"
    st = os.stat(path)
    assert st.st_uid == UID, st
    b.p.send_signal(signal.SIGTERM)
    assert b.wait() == 0, b.stderr()
    err = b.stderr()
    lines = [l for l in err.splitlines() if l]
    assert lines, "nothing logged"
    # plain lines on stderr (no journal "<N>" prefixes), nothing else
    bad = [l for l in lines if not l.startswith("drsnd: ")]
    assert not bad, err
    assert not os.path.exists(path), "socket left behind:\n" + err


def test_container_socket_folder_not_writable():
    """Socket folder read-only (not in rw) or not the uid's: each says which
    path and why, and drsnd exits 1."""
    if not container_ok():
        return
    box, sock, w, model = container_dirs()
    path = os.path.join(sock, "drsnd.sock")
    common = ["--socket", path, "--model", model, "--source", "file:" + w]
    b = Box(box, common, rw=[])   # everything read-only
    assert b.wait() == 1, b.stderr()
    assert "%s: cannot bind: read-only file system (%s is on a read-only mount: the socket " \
        "directory must be writable)" % (path, sock) in b.stderr(), b.stderr()
    os.chown(sock, 0, 0)   # writable, but not by the uid
    b = Box(box, common, rw=[sock])
    assert b.wait() == 1, b.stderr()
    assert "%s: cannot bind: permission denied (uid %d may not create files in %s)" \
        % (path, UID, sock) in b.stderr(), b.stderr()
    # no socket folder at all (a volume not mounted)
    b = Box(box, ["--socket", os.path.join(box, "nodir", "drsnd.sock")] + common[2:], rw=[sock])
    assert b.wait() == 1, b.stderr()
    assert "nodir: socket directory does not exist" in b.stderr(), b.stderr()


@drsndtest.needs("plugin_recorder")   # -Dplugin_recorder=disabled: skipped (failed under CI=true)
def test_container_recorder_folder_read_only():
    if not container_ok():
        return
    if not RECORDER:
        raise AssertionError("the recorder plugin was not built (DRSN_RECORDER_MODULE)")
    box, sock, w, model = container_dirs()
    rec = os.path.join(box, "rec")
    os.mkdir(rec, 0o755)
    os.chown(rec, UID, UID)
    conf = os.path.join(box, "drsnd.conf")
    with open(conf, "w") as f:
        f.write("[plugins]\ndir = %s\nload = recorder\n\n[plugin recorder]\ndir = %s\n"
                % (os.path.dirname(RECORDER), rec))
    os.chmod(conf, 0o644)
    path = os.path.join(sock, "drsnd.sock")
    # the plugin is refused, naming the folder and why; drsnd runs on without
    # it (--check-config creates the plugin too and says the same: README "Plugins")
    b = Box(box, ["--config", conf, "--socket", path, "--model", model, "--source", "file:" + w],
            rw=[sock])
    want = "[plugin recorder] dir: '%s' is not a writable directory: Read-only file system" % rec
    end = time.time() + 30
    while want not in b.stderr() or not os.path.exists(path):
        assert b.p.poll() is None, "drsnd exited %s:\n%s" % (b.p.returncode, b.stderr())
        assert time.time() < end, b.stderr()
        time.sleep(0.05)
    b.p.send_signal(signal.SIGTERM)
    assert b.wait() == 0, b.stderr()


if __name__ == "__main__":
    main([test_two_instances_side_by_side, test_stop_leaves_another_daemons_socket,
          test_second_instance_on_the_same_socket, test_container_starts_and_logs_to_stderr,
          test_container_socket_folder_not_writable, test_container_recorder_folder_read_only])
