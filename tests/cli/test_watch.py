#!/usr/bin/python3
"""drsn watch against a running drsnd (tests/meson.build: drsn-watch).

The detections it prints for samples/keywords-clean.wav, read by a
--no-realtime --wait-for-client drsnd, are drsn detect's (label, score and
times, as text and as --json lines); --count N exits 0 after N; --timeout on
a silent source exits 1 saying so; --levels to a pipe prints at most a line
a second, with the source's health, and a hint for digital silence and for
clipping; on a terminal one live line drawn over itself, erased at Ctrl-C
(exit 0); every error names the socket: none there, not a socket, not
drsnd's, permission denied (its group; its folder), drsnd stopping, a
protocol error event; usage errors exit 2.

Uses the daemon tests' helpers (tests/daemon/drsndtest.py) and their
environment (DRSND, DRSN, DRSN_TEST_MODEL: tests/daemon/meson.build)."""
import fcntl
import grp
import json
import os
import pty
import re
import select
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from drsndtest import DRSN, MODEL, ROOT, RUNNING, Daemon, log, main, run_detect, write_wav  # noqa: E402

SAMPLE = os.path.join(ROOT, "samples", "keywords-clean.wav")
DET = ["--set", "detect.threshold=0.2", "--set", "detect.refractory_ms=500"]
DET_CLI = ["--model", MODEL, "--threshold", "0.2", "--refractory-ms", "500"]
QUIET = ["--set", "detect.threshold=0.99"]   # the random model: no detection at all
LINE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d)  (\S+) +(\d\.\d\d)  \[(\d+\.\d\d)-(\d+\.\d\d) s\]  (.+)$")
CLOCK = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d)  ")


def watch(*args, timeout=60):
    r = subprocess.run([DRSN, "watch"] + list(args), capture_output=True, text=True, timeout=timeout)
    log("drsn watch %s -> %d\n%s%s" % (" ".join(args), r.returncode, r.stdout[-1500:], r.stderr[-800:]))
    return r


def file_daemon(*args, source=SAMPLE):
    """A drsnd that reads source as fast as it can once drsn watch subscribes."""
    return Daemon(*DET, *args, "--no-realtime", "--exit-on-eof", "--wait-for-client",
                  source="file:" + source).wait_listening()


def version():
    return subprocess.run([DRSN, "version"], capture_output=True, text=True).stdout.split()[1]


def seconds_of_day(m):
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) + int(m.group(4)) / 1000


def check_hello(line, d, n_labels):
    """The hello as one line: version, socket, model, label count, source."""
    want = "drsnd %s on %s: model %s, %d labels (keywords: " % (
        version(), d.sock, os.path.basename(MODEL)[:-len(".safetensors")], n_labels)
    assert line.startswith(want), (line, want)
    assert "source file:%s, 16000 Hz" % SAMPLE in line, line


def model_labels():
    info = json.loads(subprocess.run([DRSN, "info", MODEL, "--json"], capture_output=True, text=True,
                                     check=True).stdout)
    return info["labels"]


def test_detections_equal_drsn_detect():
    ref = run_detect(*DET_CLI, SAMPLE)
    assert len(ref) >= 5, ref
    d = file_daemon()
    t0 = time.time()
    r = watch("--socket", d.sock)
    assert d.p.wait(10) == 0, d.stderr()
    # all of the file was read and sent: then drsnd ended, and the connection with it
    assert r.returncode == 1, r.returncode
    assert r.stderr == "drsn: watch: %s: drsnd closed the connection (stopped or restarted)\n" % d.sock, r.stderr
    lines = r.stdout.splitlines()
    check_hello(lines[0], d, len(model_labels()))
    got = [LINE.match(s) for s in lines[1:]]
    assert all(got), lines
    assert len(got) == len(ref), (len(got), len(ref))
    for m, e in zip(got, ref):
        assert m.group(5) == e["label"], (m.group(0), e)
        assert abs(float(m.group(6)) - e["score"]) <= 0.0051, (m.group(0), e)
        assert abs(float(m.group(7)) - e["start"]) <= 0.0051 and abs(float(m.group(8)) - e["end"]) <= 0.0051, \
            (m.group(0), e)
        assert m.group(9) == "file:" + SAMPLE, m.group(0)
        # the wall-clock time, local
        lt = time.localtime(t0)
        off = seconds_of_day(m) - (lt.tm_hour * 3600 + lt.tm_min * 60 + lt.tm_sec)
        assert -2 <= off % 86400 <= 60 or off % 86400 >= 86398, (m.group(0), time.ctime(t0))
    log("%d detections, each drsn detect's" % len(got))


def test_json_lines():
    ref = run_detect(*DET_CLI, SAMPLE)
    d = file_daemon()
    r = watch("--socket", d.sock, "--json")
    assert d.p.wait(10) == 0
    assert r.returncode == 1 and "drsnd closed the connection" in r.stderr, r.stderr
    events = [json.loads(s) for s in r.stdout.splitlines()]
    assert events[0]["type"] == "hello" and events[0]["model"]["labels"] == model_labels(), events[0]
    assert all(e["version"] == 1 for e in events), events
    types = {e["type"] for e in events}
    assert types <= {"hello", "subscribed", "detection"}, types
    dets = [e for e in events if e["type"] == "detection"]
    key = lambda e: (e["label"], round(e["start"], 3), round(e["end"], 3))  # noqa: E731
    assert [key(e) for e in dets] == [key(e) for e in ref], (dets, ref)
    for a, b in zip(dets, ref):
        assert abs(a["score"] - b["score"]) < 1e-3, (a, b)
    log("--json: %d detection lines, each drsn detect's" % len(dets))


def test_count():
    d = file_daemon()
    r = watch("--socket", d.sock, "--count", "3")
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr)
    lines = r.stdout.splitlines()
    assert len(lines) == 4 and all(LINE.match(s) for s in lines[1:]), lines
    d.stop()
    # with --json too, and --timeout that is not reached
    d = file_daemon()
    r = watch("--socket", d.sock, "--json", "--count", "2", "--timeout", "30")
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr)
    assert [json.loads(s)["type"] for s in r.stdout.splitlines()].count("detection") == 2, r.stdout
    d.stop()


def test_timeout_on_silence():
    tmp = os.environ["TMPDIR"]
    silent = os.path.join(tmp, "silent.wav")
    write_wav(silent, [0.0] * (16000 * 8))
    assert run_detect("--model", MODEL, silent) == []
    d = Daemon(source="file:" + silent).wait_listening()   # at real time: 8 s
    t0 = time.time()
    r = watch("--socket", d.sock, "--count", "1", "--timeout", "1")
    took = time.time() - t0
    assert r.returncode == 1, r.returncode
    assert r.stderr == "drsn: watch: no detection within 1 s on %s\n" % d.sock, r.stderr
    assert 0.9 < took < 4, took
    assert r.stdout.startswith("drsnd "), r.stdout
    d.stop()


def test_no_socket():
    path = os.path.join(os.environ["TMPDIR"], "none", "drsnd.sock")
    r = watch("--socket", path)
    assert r.returncode == 1 and r.stdout == "", r
    assert r.stderr == ("drsn: watch: %s: no such socket: is drsnd running? (systemctl status drsnd; "
                        "drsnd --socket %s)\n" % (path, path)), r.stderr
    # the default path is drsnd's default [socket] path
    h = subprocess.run([DRSN, "watch", "--help"], capture_output=True, text=True)
    conf = open(os.path.join(ROOT, "config", "drsnd.conf")).read()
    default = re.search(r"^path = (\S+)$", conf, re.M).group(1)
    assert "(default %s, drsnd's [socket] path)" % default in h.stdout, h.stdout


def test_not_a_socket():
    path = os.path.join(os.environ["TMPDIR"], "plain")
    open(path, "w").close()
    r = watch("--socket", path)
    assert r.returncode == 1
    assert r.stderr.startswith("drsn: watch: %s: not a socket (a regular file)" % path), r.stderr
    r = watch("--socket", os.environ["TMPDIR"])
    assert r.returncode == 1 and "%s: not a socket (a folder)" % os.environ["TMPDIR"] in r.stderr, r.stderr


def test_not_drsnd():
    """A socket where something else answers (drsnd's PCM socket: raw audio)."""
    import socket
    import threading
    path = os.path.join(os.environ["TMPDIR"], "other.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(10)

    def serve():
        try:
            c, _ = srv.accept()   # (a drsn watch that never connects: not forever)
        except socket.timeout:
            return
        c.sendall(b"\x00\x01" * 100 + b"\n")
        time.sleep(2)
        c.close()
    t = threading.Thread(target=serve)
    t.start()
    r = watch("--socket", path, timeout=10)
    t.join()
    srv.close()
    assert r.returncode == 1 and r.stdout == "", r
    assert r.stderr == ("drsn: watch: %s: not drsnd's event socket (it did not send a hello; drsnd's PCM "
                        "socket?)\n" % path), r.stderr


def test_full_backlog_timeout():
    """A drsnd that does not accept (hung, its listen backlog full): connect()
    would wait for ever; --timeout bounds it and says why."""
    import socket
    path = os.path.join(os.environ["TMPDIR"], "hung.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(0)
    held = []
    while True:   # fill the backlog: the next connect() would block
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(path)
        except BlockingIOError:
            c.close()
            break
        held.append(c)
        assert len(held) < 100, "the backlog never fills"
    t0 = time.time()
    r = watch("--socket", path, "--timeout", "1", timeout=10)
    took = time.time() - t0
    assert r.returncode == 1 and r.stdout == "" and took < 5, (r, took)
    assert r.stderr == ("drsn: watch: %s: drsnd did not accept the connection within 1 s (--timeout; its "
                        "listen backlog is full?)\n" % path), r.stderr
    log("full backlog: --timeout 1 ended it in %.2f s" % took)
    # without --timeout: said after 2 s, and the wait goes on until drsnd
    # accepts (here: a slot freed), then Ctrl-C ends it as ever
    errpath = os.path.join(os.environ["TMPDIR"], "hung.err")
    with open(errpath, "w") as err:
        p = subprocess.Popen([DRSN, "watch", "--socket", path], stdout=subprocess.DEVNULL, stderr=err)
        RUNNING.append(p)
        time.sleep(3)
        note = open(errpath).read()
        assert p.poll() is None and note == (
            "drsn: watch: %s: drsnd has not accepted the connection in 2 s (its listen backlog is full: "
            "is it hung, or swamped with clients?); still waiting (Ctrl-C stops, --timeout S gives up)\n"
            % path), note
        c, _ = srv.accept()   # its connect() completes
        time.sleep(0.5)
        assert p.poll() is None
        p.send_signal(signal.SIGINT)
        assert p.wait(10) == 0
        c.close()
    for c in held:
        c.close()
    srv.close()
    log("full backlog without --timeout: said after 2 s, still waiting; Ctrl-C: exit 0")


def test_permission_denied():
    # a folder anyone may enter, with drsnd's socket of mode 0660
    top = tempfile.mkdtemp(prefix="drsn-watch-", dir="/tmp")
    try:
        os.chmod(top, 0o755)
        if os.geteuid() != 0:
            d = Daemon(*QUIET, source="file:" + SAMPLE, tmp=top).wait_listening()
            os.chmod(d.sock, 0o000)   # not even its owner's
            r = watch("--socket", d.sock)
            assert r.returncode == 1 and r.stdout == "", r
            assert r.stderr.startswith("drsn: watch: %s: permission denied: the socket is mode 0000, group " % d.sock)
            assert r.stderr.endswith("; its mode lets no group in: set [socket] mode = 0660\n"), r.stderr
            d.stop()
            log("--- (not root: the socket's group and folder as another user not checked)")
            return
        # as nobody, in no group: the socket's group is not one's own
        argv = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", DRSN, "watch", "--socket"]
        for group, fix in (("audio", "add yourself to the group: sudo usermod -aG audio nobody, then log out and "
                                     "in again"),
                           ("root", "give it a group of its own (drsnd --set socket.group=audio, or [socket] "
                                    "group) and add yourself to that one: sudo usermod -aG audio nobody, then log "
                                    "out and in again")):
            sock = os.path.join(top, group + ".sock")
            d = Daemon(*QUIET, "--set", "socket.group=" + group, source="file:" + SAMPLE, tmp=top,
                       sock_name=group + ".sock").wait_listening()
            st = os.stat(sock)
            assert stat.S_IMODE(st.st_mode) == 0o660 and grp.getgrgid(st.st_gid).gr_name == group, st
            r = subprocess.run(argv + [sock], capture_output=True, text=True, timeout=30)
            log(r.stderr)
            assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout)
            assert r.stderr == ("drsn: watch: %s: permission denied: the socket is mode 0660, group %s ([socket] "
                                "mode and group in drsnd.conf; the systemd unit sets group audio); %s\n"
                                % (sock, group, fix)), r.stderr
            d.stop()
        # a folder one may not enter
        d = Daemon(*QUIET, source="file:" + SAMPLE, tmp=top).wait_listening()
        os.chmod(top, 0o700)
        r = subprocess.run(argv + [d.sock], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, r
        assert r.stderr == "drsn: watch: %s: permission denied: its folder %s is not open to you\n" % (
            d.sock, top), r.stderr
        d.stop()
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_daemon_stops():
    d = Daemon(*QUIET, source="file:" + SAMPLE).wait_listening()
    p = subprocess.Popen([DRSN, "watch", "--socket", d.sock], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    RUNNING.append(p)
    hello = p.stdout.readline()
    assert hello.startswith("drsnd "), hello
    assert d.stop() == 0
    out, err = p.communicate(timeout=10)
    assert p.returncode == 1, p.returncode
    assert err == "drsn: watch: %s: drsnd closed the connection (stopped or restarted)\n" % d.sock, err


def test_error_event_and_sigint():
    tmp = os.environ["TMPDIR"]
    model = os.path.join(tmp, "model.safetensors")
    shutil.copy(MODEL, model)
    d = Daemon(*QUIET, source="file:" + SAMPLE, model=model).wait_listening()
    errpath = os.path.join(tmp, "watch-err.txt")
    with open(errpath, "w") as err:
        p = subprocess.Popen([DRSN, "watch", "--socket", d.sock], stdout=subprocess.PIPE, stderr=err, text=True)
    RUNNING.append(p)
    assert p.stdout.readline().startswith("drsnd ")
    with open(model, "r+b") as f:   # a reload that fails: every client gets an error event
        f.write(b"\xff" * 64)
    d.signal(signal.SIGHUP)
    end = time.time() + 15
    while "reload_failed" not in open(errpath).read() and time.time() < end:
        time.sleep(0.05)
    text = open(errpath).read()
    assert text.startswith("drsn: watch: drsnd error reload_failed: ") and model in text, text
    assert p.poll() is None, "drsn watch ended at an error event"
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 0, p.returncode
    assert open(errpath).read() == text, "more on stderr after Ctrl-C"
    d.stop()


def test_usage_errors():
    for args, msg in [
            (["--count", "0"], "--count: '0' is not an integer >= 1"),
            (["--count", "x"], "--count: 'x' is not an integer >= 1"),
            (["--timeout", "0"], "--timeout: '0' is not a number of seconds"),
            (["--timeout", "soon"], "--timeout: 'soon' is not a number of seconds"),
            (["--socket", ""], "--socket: '' is not a socket path"),
            (["--socket", "/" + "x" * 120], "is not a socket path (1 to 107 bytes)"),
            (["--bogus"], "unknown or ambiguous option '--bogus'"),
            (["extra"], "unexpected argument 'extra'"),
            (["--count"], "option '--count' needs a value")]:
        r = watch(*args)
        assert r.returncode == 2 and r.stdout == "", (args, r.returncode)
        assert r.stderr.startswith("drsn: watch: ") and msg in r.stderr, (args, r.stderr)


def test_levels_to_a_pipe():
    d = Daemon(*QUIET, "--set", "daemon.status_interval_ms=0", source="file:" + SAMPLE).wait_listening()
    p = subprocess.Popen([DRSN, "watch", "--socket", d.sock, "--levels"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    RUNNING.append(p)
    time.sleep(3.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    log(out, err)
    assert p.returncode == 0 and err == "", (p.returncode, err)
    lines = out.splitlines()
    assert lines[0].startswith("drsnd "), lines
    levels = [s for s in lines[1:] if "  level  " in s]
    assert len(levels) == len(lines) - 1, lines   # no detection, no hint
    # ~35 level events in 3.5 s: a line a second of them, each with the health
    assert 3 <= len(levels) <= 5, levels
    for s in levels:
        assert re.search(r"  level  rms -?\d+\.\d dBFS, peak -?\d+\.\d dBFS; health unknown "
                         r"\(loudest -?\d+\.\d dBFS so far\), running$", s), s
    t = [seconds_of_day(CLOCK.match(s)) for s in levels]
    assert all(b - a >= 0.99 for a, b in zip(t, t[1:])), t
    d.stop()


def hints_of(path, kind):
    """drsn watch --levels's hint lines for a drsnd that reads the WAV path as
    a file (file:PATH) or its samples on stdin, as fast as it can."""
    if kind == "file":
        d = file_daemon(*QUIET, source=path)
    else:
        import wave
        with wave.open(path) as w:   # stdin is raw s16le
            raw = w.readframes(w.getnframes())
        with open(path + ".raw", "wb") as f:
            f.write(raw)
        with open(path + ".raw", "rb") as f:
            d = Daemon(*DET, *QUIET, "--no-realtime", "--exit-on-eof", "--wait-for-client", source="stdin",
                       stdin=f).wait_listening()
    r = watch("--socket", d.sock, "--levels")
    assert r.returncode == 1 and "drsnd closed the connection" in r.stderr, r.stderr
    d.stop()
    return [s for s in r.stdout.splitlines() if s.startswith("hint: ")]


def test_silence_hint():
    """By kind of source, as drsnd's own warnings: no mixer advice for a file,
    which no setting changes; for stdin the program that feeds drsnd."""
    silent = os.path.join(os.environ["TMPDIR"], "silent12.wav")
    write_wav(silent, [0.0] * (16000 * 12))   # exact zeros for more than 10 s: "silent"
    hints = hints_of(silent, "file")
    assert hints == ["hint: the file is digital silence here (every sample 0): a recording of a muted or "
                     "unplugged input?"], hints
    hints = hints_of(silent, "stdin")
    assert hints == ["hint: drsnd hears digital silence (every sample 0): the program that feeds it records "
                     "from a muted or wrong input: unmute it (alsamixer, F4: capture, M; pactl set-source-mute "
                     "@DEFAULT_SOURCE@ 0) or have it record from another (arecord -l, pactl list short "
                     "sources)"], hints


def test_clipping_hint():
    import array
    import wave
    with wave.open(SAMPLE) as w:
        x = array.array("h", w.readframes(w.getnframes()))
    loud = os.path.join(os.environ["TMPDIR"], "loud.wav")
    write_wav(loud, [max(-1.0, min(1.0, 10 * v / 32768)) for v in x])   # 20 dB up, clipped
    share = r"hint: the input clips \(\d+\.\d\d % of the last window's samples at full scale\): "
    hints = hints_of(loud, "file")
    assert len(hints) == 1 and re.match(share + r"the file was recorded with too much gain, and no setting "
                                        r"undoes that: record it again with less$", hints[0]), hints
    hints = hints_of(loud, "stdin")
    assert len(hints) == 1 and re.match(share + r"lower the capture level of the program that feeds drsnd "
                                        r"\(alsamixer, F4: capture; pactl set-source-volume @DEFAULT_SOURCE@ "
                                        r"50%\)$", hints[0]), hints


def test_terminal_live_line():
    d = Daemon(*QUIET, source="file:" + SAMPLE).wait_listening()
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    p = subprocess.Popen([DRSN, "watch", "--socket", d.sock, "--levels", "--scores"], stdout=slave,
                         stderr=slave)
    RUNNING.append(p)
    os.close(slave)
    out = b""
    end = time.time() + 2.5
    while time.time() < end:
        if select.select([master], [], [], 0.1)[0]:
            out += os.read(master, 65536)
    p.send_signal(signal.SIGINT)
    assert p.wait(10) == 0, p.returncode
    while select.select([master], [], [], 0.3)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    os.close(master)
    text = out.decode()
    head, _, live = text.partition("\r\n")
    assert head.startswith("drsnd "), text[:300]
    assert "\n" not in live, "a live line became lines: %r" % live[:500]
    draws = [s[:-len("\x1b[K")] for s in live.split("\r") if s.endswith("\x1b[K")]
    assert len(draws) >= 10, live[:500]
    # the meter, the health and the three best labels, in one line
    full = [s for s in draws if re.match(r"^ *-?\d+\.\d dBFS \[[#-]{16}\] peak +-?\d+\.\d  health unknown, "
                                         r"max -?\d+\.\d  \| \S+ \d\.\d\d  \S+ \d\.\d\d  \S+ \d\.\d\d$", s)]
    assert full, draws[-5:]
    assert all(len(s) < 200 for s in draws), max(draws, key=len)
    assert text.endswith("\r\x1b[K"), repr(text[-80:])   # Ctrl-C: the live line erased
    log("%d live lines drawn, e.g. %r" % (len(draws), full[-1]))
    d.stop()


def test_stalled_gone_reader_and_nohup():
    """A reader that stalls (stdout's pipe full): SIGTERM still ends drsn
    watch at once, exit 0 (it used to wait for the reader for ever). A
    reader that goes away (drsn watch | head): exit 0, nothing on stderr
    (it used to die of SIGPIPE, 141). SIGHUP ignored by who started it
    (nohup) stays ignored."""
    import fcntl
    d = Daemon(*QUIET, source="file:" + SAMPLE).wait_listening()
    try:
        r, w = os.pipe()
        fcntl.fcntl(w, 1031, 4096)   # F_SETPIPE_SZ: full after a few lines
        p = subprocess.Popen([DRSN, "watch", "--socket", d.sock, "--json", "--scores"], stdout=w,
                             stderr=subprocess.PIPE, text=True)
        RUNNING.append(p)
        os.close(w)
        time.sleep(2.0)   # 10 scores events a second, ~400 bytes each: the pipe is full
        assert p.poll() is None, p.returncode
        t0 = time.time()
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(5)
        except subprocess.TimeoutExpired:
            raise AssertionError("drsn watch blocked on a full stdout ignored SIGTERM")
        os.close(r)
        assert rc == 0 and p.stderr.read() == "", rc
        log("stalled reader: SIGTERM ended it in %.2f s, exit 0" % (time.time() - t0))

        p = subprocess.Popen([DRSN, "watch", "--socket", d.sock, "--scores"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        RUNNING.append(p)
        assert p.stdout.readline().startswith("drsnd ")
        p.stdout.close()   # the reader goes: the next line meets EPIPE
        rc = p.wait(10)
        err = p.stderr.read()
        assert rc == 0 and err == "", (rc, err)
        log("reader gone: exit 0, nothing on stderr")

        p = subprocess.Popen([DRSN, "watch", "--socket", d.sock], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
        RUNNING.append(p)
        time.sleep(0.5)
        p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert p.poll() is None, "SIGHUP ignored by its parent (nohup) ended drsn watch"
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
        log("nohup: SIGHUP stays ignored; SIGTERM: exit 0")
    finally:
        d.stop()


if __name__ == "__main__":
    main([test_detections_equal_drsn_detect, test_json_lines, test_count, test_timeout_on_silence,
          test_no_socket, test_not_a_socket, test_not_drsnd, test_full_backlog_timeout, test_permission_denied,
          test_daemon_stops, test_error_event_and_sigint, test_usage_errors, test_levels_to_a_pipe, test_silence_hint,
          test_clipping_hint, test_terminal_live_line, test_stalled_gone_reader_and_nohup])
