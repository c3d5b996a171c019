"""Helpers for drsnd's integration tests (standard library only).

Environment (set by tests/daemon/meson.build): DRSND, DRSN (executables),
DRSN_TEST_MODEL (a random-init model from train/export.py), DRSN_SOURCE_ROOT,
DRSND_FEATURES (what this drsnd was built with: "portaudio", "systemd",
"plugin_recorder" when the recorder plugin is built).
"""
import json
import os
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import wave

DRSND = os.environ.get("DRSND", "drsnd")
DRSN = os.environ.get("DRSN", "drsn")
MODEL = os.environ.get("DRSN_TEST_MODEL", "")
ROOT = os.environ.get("DRSN_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))


def log(*a):
    print(*a, flush=True)


def needs(feature):
    """Mark a test that needs a drsnd built with an optional feature
    (meson_options.txt): main() skips it, naming the feature, when
    $DRSND_FEATURES lacks it (an 'auto' build without the -dev package)."""
    def mark(t):
        t.needs = feature
        return t
    return mark


def write_wav(path, samples, rate=16000):
    """samples: floats in [-1, 1] -> 16-bit mono WAV."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", max(-32767, min(32767, int(x * 32767)))) for x in samples))


def noise_bursts(seconds, rate=16000, seed=1):
    """Deterministic test audio: noisy tone bursts over quiet noise."""
    import math
    import random
    r = random.Random(seed)
    out = []
    for i in range(int(seconds * rate)):
        t = i / rate
        env = 0.3 if (t % 1.3) < 0.5 else 0.01
        out.append(env * (r.uniform(-1, 1) * 0.7 + 0.3 * math.sin(2 * math.pi * (300 + 200 * (t % 2)) * t)))
    return out


RUNNING = []   # every process a test started; killed after each test


class Daemon:
    """A drsnd in a private temp dir. Extra args are appended."""

    def __init__(self, *args, model=None, source=None, config=None, env=None, tmp=None, stdin=None,
                 sock_name="drsnd.sock", log_level="info", wrap=()):
        """wrap: a command line drsnd runs under (strace ...)."""
        self.tmp = tmp or tempfile.mkdtemp(prefix="drsnd-test-")
        self.sock = os.path.join(self.tmp, sock_name)
        cmd = list(wrap) + [DRSND, "--socket", self.sock, "--log-level", log_level,
               "--set", "daemon.status_interval_ms=0"]
        if config is not None:
            cmd += ["--config", config]
        cmd += ["--model", model if model is not None else MODEL]
        if source is not None:
            cmd += ["--source", source]
        cmd += list(args)
        self.cmd = cmd
        self.errpath = os.path.join(self.tmp, "stderr-%d.txt" % int(time.time() * 1000))
        self.err = open(self.errpath, "wb")
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        e.pop("WATCHDOG_USEC", None)
        if env:
            e.update(env)
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL if stdin is None else stdin,
                                  stdout=subprocess.DEVNULL,
                                  stderr=self.err, env=e)
        RUNNING.append(self.p)

    def wait_listening(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.p.poll() is not None:
                raise AssertionError("drsnd exited with %s:\n%s" % (self.p.returncode, self.stderr()))
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock)
                s.close()
                return self
            except OSError:
                time.sleep(0.02)
        raise AssertionError("drsnd did not listen within %ss:\n%s" % (timeout, self.stderr()))

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def rss_kb(self):
        with open("/proc/%d/status" % self.p.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def signal(self, sig):
        self.p.send_signal(sig)

    def stop(self, timeout=15):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("drsnd did not stop on SIGTERM:\n" + self.stderr())
        self.err.close()
        return rc

    def client(self, **kw):
        return Client(self.sock, **kw)


def connect_unix(path, timeout=20):
    """A stream socket connected to path. drsnd's socket file appears once it
    listens: retry missing (and refused: a stale file) for up to timeout s."""
    end = time.time() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except (ConnectionRefusedError, FileNotFoundError):
            s.close()
            if time.time() > end:
                raise
            time.sleep(0.02)


# ---- watching a socket file being made ----------------------------------------

# the calls that make a socket file and change its mode, group or name
SOCKET_FILE_CALLS = "bind,chmod,fchmodat,chown,fchownat,listen,link,linkat,rename,renameat2"


def pausing_strace(calls=SOCKET_FILE_CALLS, delay_us=300000):
    """A Daemon wrap that holds drsnd delay_us after each of calls, so a
    watcher sees every step; and the env it needs (LeakSanitizer cannot run
    under ptrace). strace is a test dependency (.ci/deps): missing, the first
    use fails like any other; but a machine may forbid ptrace (a container's
    seccomp), and then ([], {}): the socket is watched without the pauses,
    which still sees the final mode."""
    wrap = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + calls,
            "-e", "inject=%s:delay_exit=%d" % (calls, delay_us)]
    probe = subprocess.run(wrap + ["true"], capture_output=True, text=True)
    if probe.returncode != 0:
        log("strace cannot trace here (%s): watching without pauses" % probe.stderr.strip()[:200])
        return [], {}
    return wrap, {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}


def watch_socket_files(d, directory, path, timeout=30):
    """Every socket file in directory, as (name, mode, gid), seen until path
    accepts a connection (or d exits); and how many connections to path were
    refused (it was there before it listened)."""
    seen, refused, connected = set(), 0, False
    end = time.time() + timeout
    while not connected and time.time() < end and d.p.poll() is None:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()
            connected = True
        except FileNotFoundError:
            pass
        except ConnectionRefusedError:
            refused += 1
        # after the connect: path is among what one that succeeded sees
        for name in os.listdir(directory):
            try:
                st = os.lstat(os.path.join(directory, name))
            except FileNotFoundError:
                continue
            if stat.S_ISSOCK(st.st_mode):
                seen.add((name, stat.S_IMODE(st.st_mode), st.st_gid))
    log("socket files seen: %s; connections refused: %d"
        % (sorted((n, oct(m), g) for n, m, g in seen), refused))
    return seen, refused


def check_socket_files(seen, refused, name, mode, gid):
    """What watch_socket_files saw: name among the files, none wider than mode
    nor giving its group bits to another group than gid, no refusal."""
    assert any(n == name for n, _, _ in seen), seen
    for n, m, g in seen:
        assert m & ~mode == 0, "%s had mode %o, wider than %o" % (n, m, mode)
        assert not m & 0o070 or g == gid, "%s gave group %d access" % (n, g)
    assert not refused, "%s connections refused before it listened" % refused


def stop_wrapped(d, wrap):
    """SIGTERM to drsnd itself (strace's child, if under strace; strace ends
    with it); drsnd's exit status."""
    pids = [d.p.pid]
    if wrap:
        with open("/proc/%d/task/%d/children" % (d.p.pid, d.p.pid)) as f:
            pids = [int(pid) for pid in f.read().split()]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    d.p.wait(30)
    return d.stop()


class Client:
    def __init__(self, path, read_hello=True):
        self.s = connect_unix(path)
        self.buf = b""
        self.eof = False
        self.hello = self.recv(5) if read_hello else None
        if read_hello:
            assert self.hello and self.hello["type"] == "hello", self.hello

    def fileno(self):
        return self.s.fileno()

    def send(self, obj):
        data = obj if isinstance(obj, bytes) else (json.dumps(obj) + "\n").encode()
        self.s.sendall(data)

    def pump(self):
        """Read what is available (non-blocking); False at EOF."""
        try:
            data = self.s.recv(1 << 16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def lines(self):
        out = []
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            assert "type" in msg and msg.get("version") == 1, msg
            out.append(msg)
        return out

    def recv(self, timeout=5):
        """The next message, or None on timeout/EOF."""
        end = time.time() + timeout
        while True:
            if b"\n" in self.buf:
                return self.lines_one()
            left = end - time.time()
            if left <= 0 or self.eof:
                return None
            r, _, _ = select.select([self.s], [], [], left)
            if r and not self.pump():
                if b"\n" not in self.buf:
                    return None

    def lines_one(self):
        line, self.buf = self.buf.split(b"\n", 1)
        msg = json.loads(line)
        assert "type" in msg and msg.get("version") == 1, msg
        return msg

    def wait_for(self, pred, timeout=10, what="message"):
        """Read until pred(msg); return (msg, skipped messages)."""
        end = time.time() + timeout
        seen = []
        while time.time() < end:
            m = self.recv(max(0.01, end - time.time()))
            if m is None:
                if self.eof:
                    break
                continue
            if pred(m):
                return m, seen
            seen.append(m)
        raise AssertionError("no %s within %ss (eof=%s); got %s" % (what, timeout, self.eof, seen[-5:]))

    def request(self, obj, timeout=15):
        """Send a command with an id and wait for the reply carrying it."""
        rid = obj.setdefault("id", int(time.time() * 1e6) % 1000000007)
        self.send(obj)
        m, _ = self.wait_for(lambda m: m.get("id") == rid, timeout, "reply to %s" % obj["type"])
        return m

    def close(self):
        self.s.close()


def raw_s16(path):
    """The samples of a 16 kHz mono 16-bit WAV, as raw s16le bytes."""
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1 and w.getframerate() == 16000
        return w.readframes(w.getnframes())


def record_monitor(env, path):
    """parec of the test sink's monitor (drsn.monitor, PulseAudio or
    pipewire-pulse at env) into a raw 16 kHz s16le file; the running parec,
    once it has written something."""
    with open(path, "wb") as out:
        p = subprocess.Popen(["parec", "--raw", "--device=drsn.monitor", "--rate=16000", "--channels=1",
                              "--format=s16le", "--latency-msec=50"], env=env,
                             stdout=out, stderr=subprocess.DEVNULL)
    RUNNING.append(p)
    for _ in range(100):
        if os.path.getsize(path) > 0:
            return p
        time.sleep(0.05)
    raise AssertionError("parec recorded nothing from drsn.monitor")


def stdin_daemon(*args, model=None):
    """A drsnd reading raw s16le 16 kHz from a pipe (d.p.stdin): its audio
    starts only when feed() writes it, so a client connected before misses
    nothing."""
    return Daemon("--set", "audio.raw_format=s16le", "--set", "audio.raw_rate=16000", *args,
                  model=model, source="stdin", stdin=subprocess.PIPE).wait_listening()


def feed(d, data):
    d.p.stdin.write(data)
    d.p.stdin.close()


def collect(c, timeout=60):
    """Detections until the daemon closes the connection."""
    out = []
    end = time.time() + timeout
    while time.time() < end:
        m = c.recv(max(0.01, end - time.time()))
        if m is None:
            if c.eof:
                return out
            continue
        if m["type"] == "detection":
            out.append(m)
    raise AssertionError("daemon did not finish within %ss" % timeout)


def run_detect(*args):
    """drsn detect ... -> list of detection dicts."""
    r = subprocess.run([DRSN, "detect"] + list(args), capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise AssertionError("drsn detect failed (%d): %s" % (r.returncode, r.stderr))
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]


def main(tests):
    """Run test functions in order; print a summary; exit 1 on failure."""
    failed = 0
    tmp = tempfile.TemporaryDirectory(prefix="drsnd-it-")
    os.environ["TMPDIR"] = tmp.name
    tempfile.tempdir = tmp.name
    features = os.environ.get("DRSND_FEATURES", "portaudio systemd").split()
    for t in tests:
        log("=== %s" % t.__name__)
        need = getattr(t, "needs", None)
        if need and need not in features:
            if os.environ.get("CI") == "true":   # .ci/run forces every feature on: no skips
                log("--- FAIL %s: drsnd was built without %s (CI=true)" % (t.__name__, need))
                failed += 1
            else:
                log("--- skip %s: drsnd was built without %s" % (t.__name__, need))
            continue
        t0 = time.time()
        try:
            t()
            log("--- ok %s (%.1f s)" % (t.__name__, time.time() - t0))
        except Exception:
            import traceback
            traceback.print_exc(file=sys.stdout)
            log("--- FAIL %s" % t.__name__)
            failed += 1
        for p in RUNNING:   # a failed test may leave its processes behind
            if p.poll() is None:
                p.kill()
                p.wait()
        del RUNNING[:]
    log("%d/%d passed" % (len(tests) - failed, len(tests)))
    tmp.cleanup()
    sys.exit(1 if failed else 0)
