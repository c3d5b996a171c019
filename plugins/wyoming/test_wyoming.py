#!/usr/bin/python3
"""The wyoming plugin in a real drsnd, driven by a minimal Wyoming client.

describe -> info lists the model's keywords; samples/keywords-clean.wav in
1024-sample chunks gives the detections `drsn detect` gives on the same file,
at the times of the ground truth (samples/README.md); noise gets
not-detected; malformed framing gets an error and a close while a good
client on another connection still gets all its detections; 48 kHz stereo is
resampled; what Home Assistant sends (wyoming package framing, null
timestamps) gets detections on its clock; slow-trickling and blank-line
clients are timed out. Needs a trained model: --model (the shipped one), or the
environment variable DRSN_WYOMING_TEST_MODEL.
"""
import argparse
import grp
import json
import os
import random
import re
import select
import signal
import socket
import struct
import stat
import subprocess
import sys
import tempfile
import threading
import time

import drsndtest
from drsndtest import Daemon, main, log, run_detect
from drsndtest import pausing_strace, watch_socket_files, check_socket_files, stop_wrapped
from wyclient import Wy, read_wav, stream, detections

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--plugin-dir", required=True)
ap.add_argument("--only", action="append", help="run only this test (repeatable)")
ARGS = ap.parse_args()
MODEL = os.environ.get("DRSN_WYOMING_TEST_MODEL") or ARGS.model
SAMPLE = os.path.join(drsndtest.ROOT, "samples", "keywords-clean.wav")
# samples/README.md, ground truth of keywords-clean.wav (seconds)
TRUTH = [("yes", 0.30, 1.21), ("no", 2.01, 2.91), ("stop", 3.71, 4.67),
         ("go", 5.47, 6.32), ("left", 7.12, 8.03), ("right", 8.83, 9.73)]
TOL_MS = 300


def served(connect):
    """A client from connect() that the plugin serves: "busy" until a slot
    frees (drsnd sees a close a little later), for at most 20 s."""
    end = time.time() + 20
    while True:
        c = connect()
        try:
            c.send("describe")
        except (BrokenPipeError, ConnectionResetError):
            pass   # turned away before it asked: its "busy" waits to be read
        try:
            e = c.recv()
        except ConnectionResetError:
            e = None   # TCP: the reset may drop the "busy"
        if e and e[0] == "info":
            return c
        assert (e is None or e[0] == "error" and e[1]["code"] == "busy") and time.time() < end, e
        c.close()
        time.sleep(0.05)


def check_truth(dets, what, ts0=0):
    """Exactly the six keywords, in order, each within TOL_MS of its span
    (timestamps on a client clock that read ts0 ms at the stream's start)."""
    assert [n for n, _ in dets] == [t[0] for t in TRUTH], "%s: %s" % (what, dets)
    for (name, ts), (_, a, b) in zip(dets, TRUTH):
        ts -= ts0
        assert a * 1000 - TOL_MS <= ts <= b * 1000 + TOL_MS, \
            "%s: %s at %d ms, truth %.2f-%.2f s" % (what, name, ts, a, b)


# ---- the daemon -------------------------------------------------------------

class WyDaemon:
    def __init__(self, extra_conf="", uri="tcp://127.0.0.1:0", wait_port=True, model=None,
                 log_level="info", wrap=(), env=None, wait=True):
        """wait=False: return as soon as drsnd runs (wrap, env: as Daemon's)."""
        tmp = os.environ["TMPDIR"]
        silence = os.path.join(tmp, "silence.wav")
        drsndtest.write_wav(silence, [0.0] * 16000)
        conf = os.path.join(tmp, "drsnd-wy.conf")
        with open(conf, "w") as f:
            f.write("[plugins]\ndir = %s\nload = wyoming\n\n[plugin wyoming]\nuri = %s\n%s"
                    % (os.path.abspath(ARGS.plugin_dir), uri, extra_conf))
        self.conf = conf
        self.d = Daemon(config=conf, model=MODEL if model is None else model,
                        source="file:" + silence, log_level=log_level, wrap=wrap, env=env)
        if not wait:
            return
        self.d.wait_listening()
        if not wait_port:
            return
        end = time.time() + 20
        while time.time() < end:
            m = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", self.d.stderr())
            if m:
                self.port = int(m.group(1))
                return
            assert self.d.p.poll() is None, self.d.stderr()
            time.sleep(0.05)
        raise AssertionError("wyoming did not log its port:\n" + self.d.stderr())

    def client(self):
        return Wy(self.port)

    def stop(self):
        rc = self.d.stop()
        assert rc == 0, "drsnd exit %s:\n%s" % (rc, self.d.stderr())


def model_keywords():
    with open(MODEL, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n))["__metadata__"]
    return [l for l in json.loads(meta["labels"]) if not l.startswith("_")]


def daemon():
    """A fresh drsnd per test (drsndtest.main kills what a test started)."""
    return WyDaemon()


# ---- tests ------------------------------------------------------------------

def test_describe():
    d = daemon()
    c = d.client()
    c.send("describe")
    t, data, _ = c.recv()
    assert t == "info", (t, data)
    wake = data["wake"]
    assert len(wake) == 1 and wake[0]["name"] == "drsnd" and wake[0]["installed"] is True, wake
    names = [m["name"] for m in wake[0]["models"]]
    for m in wake[0]["models"]:
        assert m["installed"] is True and m["languages"] and m["attribution"]["name"], m
    log("info: %d wake models: %s" % (len(names), " ".join(names)))
    assert names == model_keywords(), (names, model_keywords())
    assert len(names) == 20, names
    c.close()
    d.stop()


def test_sample_matches_drsn_detect_and_truth():
    rate, width, ch, pcm = read_wav(SAMPLE)
    assert (rate, width, ch) == (16000, 2, 1)
    ref = run_detect("--model", MODEL, SAMPLE)
    d = daemon()
    c = d.client()
    t0 = time.time()
    ev = stream(c, pcm)
    wall = time.time() - t0
    dets = detections(ev)
    log("all keywords: %s" % dets)
    log("%.1f s of audio through the plugin in %.2f s wall (%.0fx real time)"
        % (len(pcm) / 32000, wall, len(pcm) / 32000 / wall))
    log("drsn detect:  %s" % [(d["label"], d["start"], d["end"]) for d in ref])
    # the same pipeline as drsn detect: same labels; the timestamp is the
    # audio time the pipeline fired at, at or up to the smoothing span after
    # the end of the winning window
    assert [n for n, _ in dets] == [d["label"] for d in ref], (dets, ref)
    for (n, ts), r in zip(dets, ref):
        assert r["end"] * 1000 - 1 <= ts <= r["end"] * 1000 + 400, (n, ts, r)
    assert not [e for e in ev if e[0] == "not-detected"], ev
    # the names filter: only the six keywords of the file
    ev = stream(c, pcm, names=[t[0] for t in TRUTH])
    check_truth(detections(ev), "keywords-clean.wav, names filter")
    c.close()
    d.stop()


def test_noise_not_detected():
    r = random.Random(7)
    pcm = b"".join(struct.pack("<h", int(r.gauss(0, 0.05) * 32767)) for _ in range(16000 * 3))
    d = daemon()
    c = d.client()
    ev = stream(c, pcm)
    assert [e[0] for e in ev] == ["not-detected"], ev
    c.close()
    d.stop()


def test_48k_stereo():
    tmp = os.environ["TMPDIR"]
    out = os.path.join(tmp, "kw-48k-stereo.wav")
    subprocess.run(["sox", SAMPLE, "-r", "48000", "-c", "2", "-b", "16", out], check=True)
    rate, width, ch, pcm = read_wav(out)
    assert (rate, width, ch) == (48000, 2, 2)
    d = daemon()
    c = d.client()
    # timestamps follow the client's clock (audio-start at 123456 ms)
    ev = stream(c, pcm, rate=rate, width=width, channels=ch, names=[t[0] for t in TRUTH], ts0=123456)
    log("48 kHz stereo: %s" % detections(ev))
    check_truth(detections(ev), "48 kHz stereo", ts0=123456)
    c.close()
    d.stop()


def until_closed(c, limit):
    """Read (and drop) events until drsnd closes c (within limit s); close c."""
    end = time.time() + limit
    while True:
        try:
            e = c.recv(max(0.1, end - time.time()))
        except (ConnectionResetError, BrokenPipeError):
            e = None
        if e is None:
            break
    c.close()


def bad_client(port, raw, code, shut=False):
    """Send raw bytes; expect an error event with this code, then EOF."""
    c = Wy(port)
    c.s.sendall(raw)
    if shut:
        c.s.shutdown(socket.SHUT_WR)
    e = c.recv(20)
    assert e is not None and e[0] == "error", (code, e)
    assert e[1].get("code") == code and e[1].get("text"), (code, e)
    until_closed(c, 20)
    return e[1]["text"]


BAD = [
    ("non-JSON line", b"hello wyoming\n", "bad-header", False),
    ("malformed header", b'{"type": "audio-chunk", "data": {"rate": 16000\n', "bad-header", False),
    ("header without type", b'{"data": {}}\n', "bad-header", False),
    ("huge payload_length", b'{"type":"audio-chunk","data":{"rate":16000,"width":2,"channels":1},"payload_length":4000000000}\n',
     "payload-too-long", False),
    ("huge data_length", b'{"type":"audio-start","data_length":100000000}\n', "data-too-long", False),
    ("endless header line", b'{"type":"' + b"x" * 100000, "header-too-long", False),
    ("data not JSON", b'{"type":"audio-start","data_length":5}\nxxxxx', "bad-data", False),
    ("truncated payload", b'{"type":"audio-chunk","data":{"rate":16000,"width":2,"channels":1},"payload_length":4096}\n'
     + b"\0" * 1000, "truncated", True),
]


def test_bad_clients_beside_a_good_one():
    d = daemon()
    _, _, _, pcm = read_wav(SAMPLE)
    result = {}

    def good():
        try:
            c = d.client()
            # paced a little, so the bad clients come while it streams
            result["ev"] = stream(c, pcm, names=[t[0] for t in TRUTH], pace=0.005)
            c.close()
        except Exception as e:   # noqa: BLE001
            result["err"] = e

    th = threading.Thread(target=good)
    th.start()
    for what, raw, code, shut in BAD:
        text = bad_client(d.port, raw, code, shut)
        log("%-20s -> error %s: %s" % (what, code, text))
    th.join(180)
    assert not th.is_alive(), "good client hung"
    assert "err" not in result, result.get("err")
    check_truth(detections(result["ev"]), "good client beside bad ones")
    # a bad audio format is an error for that stream only
    c = d.client()
    c.send("audio-start", {"rate": 16000, "width": 1, "channels": 1})
    t, data, _ = c.recv()
    assert t == "error" and data["code"] == "bad-audio-format", (t, data)
    c.send("audio-chunk", {"rate": 16000, "width": 1, "channels": 1}, b"\0" * 1024)
    c.send("audio-stop")
    t, data, _ = c.recv()
    assert t == "not-detected", (t, data)
    # a rate that would wrap to 16000 in 32 bits, and a fractional width
    for fmt in ({"rate": 2 ** 32 + 16000, "width": 2, "channels": 1},
                {"rate": 16000, "width": 2.5, "channels": 1}):
        c.send("audio-start", fmt)
        t, data, _ = c.recv()
        assert t == "error" and data["code"] == "bad-audio-format", (fmt, t, data)
    c.send("describe")
    assert c.recv()[0] == "info"
    c.close()
    assert d.d.p.poll() is None, d.d.stderr()
    log("drsnd RSS after the abuse: %d kB" % d.d.rss_kb())
    d.stop()


def until_pong(c, text):
    c.send("ping", {"text": text})
    out = []
    while True:
        e = c.recv(120)
        assert e is not None, "closed before pong; got %s" % out
        if e[0] == "pong" and e[1].get("text") == text:
            return out
        out.append(e)


def test_reload_mid_stream():
    """SIGHUP reloads the model: the plugin remakes the stream's pipeline
    and the stream goes on, its timestamps still counting from its start."""
    import signal
    d = daemon()
    _, _, _, pcm = read_wav(SAMPLE)
    c = d.client()
    fmt = {"rate": 16000, "width": 2, "channels": 1}
    c.send("detect", {"names": [t[0] for t in TRUTH]})
    # no timestamp at audio-start: the clock comes from the first chunk
    c.send("audio-start", fmt)
    cut = 25 * 2048   # 1.6 s: between "yes" and "no"
    for i in range(0, cut, 2048):
        c.send("audio-chunk", dict(fmt, timestamp=7000 + i // 32) if i == 0 else fmt, pcm[i:i + 2048])
    ev = until_pong(c, "before")
    d.d.signal(signal.SIGHUP)
    end = time.time() + 30
    while "1 remade for streams in progress" not in d.d.stderr():
        assert time.time() < end, "no reload:\n" + d.d.stderr()
        time.sleep(0.05)
    for i in range(cut, len(pcm), 2048):
        c.send("audio-chunk", fmt, pcm[i:i + 2048])
    c.send("audio-stop")
    ev += until_pong(c, "after")
    log("reload at 1.6 s: %s" % detections(ev))
    check_truth(detections(ev), "reload at 1.6 s", ts0=7000)
    c.close()
    d.stop()


def test_unix_socket_max_clients_and_bad_config():
    tmp = os.environ["TMPDIR"]
    path = os.path.join(tmp, "wy.sock")
    d = WyDaemon(uri="unix://" + path, extra_conf="max_clients = 2\n", wait_port=False)
    end = time.time() + 20
    while not os.path.exists(path):
        assert time.time() < end, d.d.stderr()
        time.sleep(0.05)

    def unix_client():
        return Wy(path=path)

    a, b = unix_client(), unix_client()
    for c in (a, b):
        c.send("describe")
        assert c.recv()[0] == "info"
    third = unix_client()
    e = third.recv()
    assert e and e[0] == "error" and e[1]["code"] == "busy", e
    assert third.recv() is None   # closed
    third.close()
    a.close()
    c = served(unix_client)   # a's slot frees once drsnd has seen it close
    for c in (b, c):
        c.close()
    d.stop()
    assert not os.path.exists(path), "the socket file was left behind"
    # an unknown key: the plugin is refused with a message naming key and
    # line (and the key meant, for a typo), and drsnd runs on without it
    for key, end in (("colour", "language); drsnd runs on without it"),
                     ("langauge", "language); did you mean 'language'?; drsnd runs on without it")):
        d = WyDaemon(extra_conf=key + " = blue\n", wait_port=False)
        until = time.time() + 20
        while "unknown key" not in d.d.stderr() and time.time() < until:
            time.sleep(0.05)
        err = d.d.stderr()
        m = re.search(r".*unknown key '%s'.*" % key, err)
        assert m and (os.path.basename(d.conf) + ":7") in m.group(0) and m.group(0).endswith(end), err
        log("bad key: " + m.group(0))
        assert d.d.p.poll() is None
        d.stop()


def test_check_config():
    """drsnd --check-config creates the plugin (its keys checked as at a
    start, nothing bound): a bad key or value is an error naming its line,
    exit 1; a good section is OK and no socket is made."""
    tmp = tempfile.mkdtemp(dir=os.environ["TMPDIR"])
    conf = os.path.join(tmp, "check.conf")
    sock = os.path.join(tmp, "wy.sock")
    for extra, want in (("uri = http://x\n", ":6: [plugin wyoming] uri 'http://x': expected tcp://HOST:PORT"),
                        ("max_clients = 0\n", ":6: [plugin wyoming] max_clients"),
                        ("langauge = en\n", ":6: [plugin wyoming] unknown key 'langauge'"),
                        ("uri = unix://%s\n" % sock, None)):
        with open(conf, "w") as f:
            f.write("[plugins]\ndir = %s\nload = wyoming\n\n[plugin wyoming]\n%s"
                    % (os.path.abspath(ARGS.plugin_dir), extra))
        r = subprocess.run([drsndtest.DRSND, "--check-config", "--config", conf, "--model", MODEL],
                           capture_output=True, text=True, timeout=60)
        if want:
            assert r.returncode == 1 and ("plugin wyoming: " + conf + want) in r.stderr, (extra, r)
            log("--check-config: " + r.stderr.strip().splitlines()[-1])
        else:
            assert r.returncode == 0 and "OK" in r.stdout, (extra, r)
            assert not os.path.exists(sock), "--check-config made the socket"


def test_unix_socket_another_instance_made_stays():
    """Two drsnd with the same unix:// uri: the second is refused while the
    first listens (and drsnd runs on without it). Once the first one's
    socket file is removed (by hand, a cleanup) a second one makes its own
    there; the first used to unlink that live socket when it stopped."""
    path = os.path.join(os.environ["TMPDIR"], "wy-two.sock")

    def wait_file(d):
        end = time.time() + 20
        while not os.path.exists(path):
            assert time.time() < end and d.d.p.poll() is None, d.d.stderr()
            time.sleep(0.05)

    def describe():
        c = Wy(path=path)
        c.send("describe")
        r = c.recv()
        c.close()
        return r and r[0]

    a = WyDaemon(uri="unix://" + path, wait_port=False)
    wait_file(a)
    b = WyDaemon(uri="unix://" + path, wait_port=False)
    end = time.time() + 20
    while "another daemon is listening there" not in b.d.stderr():
        assert time.time() < end and b.d.p.poll() is None, b.d.stderr()
        time.sleep(0.05)
    assert path in b.d.stderr() and describe() == "info"
    b.stop()
    assert os.path.exists(path), "the refused instance removed the live socket"
    os.unlink(path)
    c = WyDaemon(uri="unix://" + path, wait_port=False)
    wait_file(c)
    a.stop()
    assert os.path.exists(path), "drsnd removed another drsnd's live wyoming socket at stop"
    assert describe() == "info"
    c.stop()
    assert not os.path.exists(path), "the socket file was left behind"


def test_unix_socket_never_wider_than_configured():
    """The plugin's Unix socket was bound with the umask's mode (0777 under
    umask 000: any local user could connect), never given a mode or group, and
    was there before it listened (connections refused). As drsnd's own socket
    (tests/daemon/test_protocol.py): strace holds drsnd after each call that
    makes or changes a socket file while the directory is watched; no file may
    give more than the default mode 0660 in the configured group, nor be
    reachable before it listens, and none is left behind."""
    sockdir = tempfile.mkdtemp(prefix="wy-mode-")
    path = os.path.join(sockdir, "wy.sock")
    gid, extra = os.getgid(), ""
    if os.getuid() == 0:   # root may give it a group it is not in
        gid = next(g.gr_gid for g in grp.getgrall() if g.gr_gid != os.getgid())
        extra = "group = %s\n" % grp.getgrgid(gid).gr_name
    wrap, env = pausing_strace()
    old = os.umask(0)
    try:
        d = WyDaemon(uri="unix://" + path, extra_conf=extra, wrap=wrap, env=env, wait=False)
    finally:
        os.umask(old)
    seen, refused = watch_socket_files(d.d, sockdir, path, timeout=60)
    try:
        check_socket_files(seen, refused, "wy.sock", 0o660, gid)
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid, (oct(st.st_mode), st.st_gid)
        c = Wy(path=path)
        c.send("describe")
        assert c.recv()[0] == "info"
        c.close()
    finally:
        assert stop_wrapped(d.d, wrap) == 0, d.d.stderr()
    assert os.listdir(sockdir) == [], os.listdir(sockdir)   # no socket, no temporary name left
    # mode is honoured
    d = WyDaemon(uri="unix://" + path, extra_conf="mode = 0600\n", wait_port=False)
    end = time.time() + 20
    while not os.path.exists(path):
        assert time.time() < end and d.d.p.poll() is None, d.d.stderr()
        time.sleep(0.05)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    d.stop()


def test_bad_mode_and_group():
    """A bad mode or group refuses the plugin with a message naming the key,
    its value and the line; drsnd runs on without it. With a tcp:// uri they
    are ignored with a warning."""
    for extra, what in (("mode = 0999\n", "mode = '0999': expected an octal mode like 0660"),
                        ("mode = rw\n", "mode = 'rw': expected an octal mode like 0660"),
                        ("group = no-such-group-drsn\n",
                         "group = 'no-such-group-drsn': no group by that name")):
        d = WyDaemon(uri="unix://" + os.path.join(os.environ["TMPDIR"], "wy.sock"), extra_conf=extra,
                     wait_port=False)
        end = time.time() + 20
        while what not in d.d.stderr() and time.time() < end:
            time.sleep(0.05)
        err = d.d.stderr()
        m = re.search(r".*" + re.escape(what) + ".*", err)
        assert m and (os.path.basename(d.conf) + ":7: [plugin wyoming] " + what) in m.group(0), err
        log("bad config: " + m.group(0))
        assert d.d.p.poll() is None
        d.stop()
    # with TCP they mean nothing: a warning naming them, and the plugin runs
    d = WyDaemon(extra_conf="mode = 0600\n")
    assert re.search(r":7: \[plugin wyoming\] mode and group apply to a unix:// uri only", d.d.stderr()), \
        d.d.stderr()
    c = d.client()
    c.send("describe")
    assert c.recv()[0] == "info"
    c.close()
    d.stop()


def test_host_name_uri():
    """uri = tcp://localhost:0: a name is resolved and bound (the old plugin
    wanted an IP address); a name that does not resolve is refused at start
    with a message naming it, and drsnd runs on."""
    d = WyDaemon(uri="tcp://localhost:0", wait_port=False)
    end = time.time() + 20
    while True:
        m = re.search(r"listening on tcp://\[?([0-9a-f.:]+?)\]?:(\d+) \(localhost\)", d.d.stderr())
        if m:
            break
        assert time.time() < end and d.d.p.poll() is None, d.d.stderr()
        time.sleep(0.05)
    log(m.group(0))
    c = Wy(int(m.group(2)), host=m.group(1))
    c.send("describe")
    assert c.recv()[0] == "info"
    c.close()
    d.stop()
    d = WyDaemon(uri="tcp://no-such-host.invalid:0", wait_port=False)
    end = time.time() + 60
    while "no-such-host.invalid" not in d.d.stderr():
        assert time.time() < end and d.d.p.poll() is None, d.d.stderr()
        time.sleep(0.05)
    line = [l for l in d.d.stderr().splitlines() if "no-such-host.invalid" in l][0]
    log(line)
    assert "cannot resolve the host name 'no-such-host.invalid'" in line, line
    assert d.d.p.poll() is None
    d.stop()


def test_home_assistant_client():
    """What Home Assistant's wyoming integration sends (homeassistant/
    components/wyoming/wake_word.py, framed by the wyoming package):
    detect {names: [id]}, audio-start {rate, width, channels, timestamp:
    null}, audio-chunks stamped with its own clock, data in data_length
    blocks, a "version" in every header. The detection's timestamp must be on
    that clock. (The old plugin took the null audio-start timestamp for 0 and
    ignored the chunks' clock: "no" came at ~2.5 s instead of 50002.5 s.)
    The info reply parses as the wyoming package's Info: every field of
    WakeProgram/WakeModel (wyoming/info.py) is there."""
    _, _, _, pcm = read_wav(SAMPLE)
    d = daemon()
    c = d.client()
    c.send_wyoming("describe")
    t, info, _ = c.recv()
    assert t == "info", (t, info)
    prog = info["wake"][0]
    fields = {"name", "attribution", "installed", "description", "version"}
    assert fields <= set(prog) and set(prog["attribution"]) == {"name", "url"}, prog
    for m in prog["models"]:
        assert fields | {"languages", "phrase"} <= set(m) and m["installed"] is True, m
    assert "no" in [m["name"] for m in prog["models"]], prog
    c.close()
    c = d.client()
    fmt = {"rate": 16000, "width": 2, "channels": 1}
    c.send_wyoming("detect", {"names": ["no"]})
    c.send_wyoming("audio-start", dict(fmt, timestamp=None))
    clock = 50000000   # ms
    for i in range(0, len(pcm), 2048):
        c.send_wyoming("audio-chunk", dict(fmt, timestamp=clock + i // 32), pcm[i:i + 2048])
    c.send_wyoming("audio-stop", {"timestamp": None})
    c.send_wyoming("ping", {"text": "end"})
    ev = []
    while True:
        e = c.recv(120)
        assert e is not None, ev
        if e[0] == "pong":
            break
        ev.append(e)
    log("Home Assistant-style stream: %s" % ev)
    assert [e[0] for e in ev] == ["detection"], ev
    name, ts = ev[0][1]["name"], ev[0][1]["timestamp"]
    (_, a, b), = [x for x in TRUTH if x[0] == "no"]
    assert name == "no" and clock + a * 1000 - TOL_MS <= ts <= clock + b * 1000 + TOL_MS, ev
    c.close()
    d.stop()


def test_detect_empty_names_means_all():
    """detect {names: []}: every keyword, as wyoming-openwakeword does
    (handler.py: `if detect.names:` filters, an empty list does not). The
    old plugin reported nothing at all (not-detected)."""
    _, _, _, pcm = read_wav(SAMPLE)
    d = daemon()
    c = d.client()
    ev = stream(c, pcm, names=[])
    check_truth(detections(ev), "detect names=[]")
    c.close()
    d.stop()


def test_idle_timeout():
    """A connection that sends nothing for idle_timeout_ms gets an error
    "idle-timeout" and is closed (logged), freeing its max_clients slot; one
    that keeps sending stays. (The old plugin had no timeout: max_clients
    silent connections locked everyone out.)"""
    d = WyDaemon(extra_conf="max_clients = 2\nidle_timeout_ms = 2000\n")
    silent = d.client()
    busy = d.client()
    # busy pings every 0.1 s for 3 s (longer than the timeout): never idle
    t0 = time.time()
    i = 0
    while time.time() - t0 < 3:
        until_pong(busy, "p%d" % i)
        i += 1
        time.sleep(0.1)
    e = silent.recv(60)
    assert e and e[0] == "error" and e[1]["code"] == "idle-timeout", e
    assert "idle_timeout_ms = 2000" in e[1]["text"], e
    assert silent.recv(30) is None   # closed
    silent.close()
    # its slot is free: a third client is served (not "busy")
    c = served(d.client)
    c.close()
    until_pong(busy, "still open")
    busy.close()
    err = d.d.stderr()
    lines = [l for l in err.splitlines() if "idle-timeout" in l]
    log(lines)
    assert len(lines) == 1 and "no event received for" in lines[0], err
    d.stop()


def test_stopped_daemon_does_not_time_out_its_clients():
    """drsnd stopped (SIGSTOP; a paused VM) for longer than idle_timeout_ms
    and frame_timeout_ms while its clients kept sending: the time went by
    for drsnd, not for them. On SIGCONT the check timer used to run before
    the sockets were read and closed them all ("idle-timeout" to one that
    pinged every 0.1 s, "frame-timeout" to one in the middle of an event).
    They stay; a client that really is silent is still timed out."""
    d = WyDaemon(extra_conf="max_clients = 3\nidle_timeout_ms = 3000\nframe_timeout_ms = 2000\n")
    busy, midway = d.client(), d.client()
    until_pong(busy, "before")
    until_pong(midway, "before")
    midway.s.sendall(b'{"type": "ping", "data_length": 22}\n{"text"')   # the rest after the stop
    stop = threading.Event()

    def pinger():
        while not stop.is_set():
            try:
                busy.send("ping", {"text": "x"})
            except OSError:   # closed: the check below says why
                return
            time.sleep(0.1)
    th = threading.Thread(target=pinger)
    th.start()
    try:
        d.d.signal(signal.SIGSTOP)
        time.sleep(4.5)
        d.d.signal(signal.SIGCONT)
        midway.s.sendall(b': "after_stop"}')
        time.sleep(0.5)
    finally:
        stop.set()
        th.join()
    try:
        until_pong(busy, "after")
        out = until_pong(midway, "midway")
    except (OSError, AssertionError) as e:
        raise AssertionError("a client was closed after the stop (%s):\n%s" % (e, d.d.stderr()[-1500:]))
    assert ["after_stop"] == [e[1].get("text") for e in out if e[0] == "pong"], out
    err = d.d.stderr()
    assert "idle-timeout" not in err and "frame-timeout" not in err, err[-2000:]
    # a silent one is still timed out, from the stop on
    silent = d.client()
    e = silent.recv(60)
    assert e and e[0] == "error" and e[1]["code"] == "idle-timeout", e
    busy.close()
    midway.close()
    silent.close()
    d.stop()


def trickle_until_event(c, byte_gen, every, limit):
    """Send one byte from byte_gen every `every` s until drsnd sends an
    event (returned, with the seconds it took) or limit s pass."""
    t0 = time.time()
    for b in byte_gen:
        assert time.time() - t0 < limit, "no event after %.0f s of trickling" % limit
        try:
            c.s.sendall(b)
        except OSError:
            pass
        r, _, _ = select.select([c.s], [], [], every)
        if r:
            return c.recv(30), time.time() - t0
    raise AssertionError("trickle ran out")


def expect_timeout_close(d, c, byte_gen, code, key, limit_s):
    e, took = trickle_until_event(c, byte_gen, 0.3, 60)
    log("%s after %.1f s of trickling: %s" % (code, took, e))
    assert e and e[0] == "error" and e[1]["code"] == code, e
    assert key in e[1]["text"], e
    assert took >= limit_s * 0.9, took   # not before the limit (timer jitter aside)
    until_closed(c, 30)
    served(d.client).close()   # its max_clients slot is free


def test_blank_line_trickle_idle():
    """A client that sends a blank line every 0.3 s never sends an event:
    it is idle (blank lines are skipped between events) and gets
    idle-timeout. (The old plugin counted any byte as activity: such a
    client held its slot forever.)"""
    d = WyDaemon(extra_conf="max_clients = 1\nidle_timeout_ms = 1500\n")
    c = d.client()
    expect_timeout_close(d, c, iter(lambda: b"\n", None), "idle-timeout", "idle_timeout_ms = 1500", 1.5)
    d.stop()


def test_frame_timeout_trickle():
    """Slowloris: a client that sends its event one byte every 0.3 s (each
    byte well within idle_timeout_ms) gets frame-timeout once the event is
    frame_timeout_ms old, and is closed; its slot frees. (The old plugin
    kept it as long as the bytes came.) Then an event trickled slowly but
    finished within the limit is served."""
    d = WyDaemon(extra_conf="max_clients = 1\nidle_timeout_ms = 60000\nframe_timeout_ms = 1500\n")
    c = d.client()
    slow = json.dumps({"type": "ping", "data": {"text": "x" * 1000}}).encode()
    expect_timeout_close(d, c, (slow[i:i + 1] for i in range(len(slow))), "frame-timeout",
                         "frame_timeout_ms = 1500", 1.5)
    # in the payload too
    c = served(d.client)
    hdr = json.dumps({"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1},
                      "payload_length": 4096}).encode() + b"\n"
    c.s.sendall(hdr)
    expect_timeout_close(d, c, iter(lambda: b"\0", None), "frame-timeout", "frame_timeout_ms = 1500", 1.5)
    # a legit event in 3 pieces 0.2 s apart is fine
    c = served(d.client)
    ping = json.dumps({"type": "ping", "data": {"text": "ok"}}).encode() + b"\n"
    for i in range(3):
        c.s.sendall(ping[i * len(ping) // 3:(i + 1) * len(ping) // 3])
        time.sleep(0.2)
    e = c.recv(30)
    assert e and e[0] == "pong" and e[1]["text"] == "ok", e
    c.close()
    d.stop()


def test_check_timer_runs_only_with_clients():
    """The plugin's check timer (idle/frame/flush) runs only while there
    are connections: started with the first, stopped with the last (DEBUG
    log lines). (The old plugin ran it once a second from start to stop.)"""
    d = WyDaemon(log_level="debug")

    def lines(what):
        return [l for l in d.d.stderr().splitlines() if "check timer " + what in l]

    def wait_for(pred, what):
        end = time.time() + 20
        while not pred():
            assert time.time() < end, "%s:\n%s" % (what, d.d.stderr()[-3000:])
            time.sleep(0.05)

    assert not lines("started"), d.d.stderr()
    a, b = d.client(), d.client()
    for c in (a, b):
        until_pong(c, "hi")
    assert len(lines("started")) == 1 and not lines("stopped"), d.d.stderr()
    a.close()
    wait_for(lambda: "client 1: closed" in d.d.stderr() or "client 2: closed" in d.d.stderr(),
             "first close not seen")
    assert not lines("stopped"), d.d.stderr()   # b is still there
    b.close()
    wait_for(lambda: lines("stopped"), "timer not stopped with the last client")
    c = d.client()
    until_pong(c, "again")
    assert len(lines("started")) == 2 and len(lines("stopped")) == 1, d.d.stderr()
    c.close()
    wait_for(lambda: len(lines("stopped")) == 2, "timer not stopped again")
    log(lines("")[-4:])
    d.stop()


def test_unread_close_frees_slot():
    """A client that never reads: when drsnd closes it (idle-timeout, or a
    framing error) with more events queued than the socket takes, the close
    waits for a flush that never ends. It must still free the max_clients
    slot (FLUSH_MS, 5 s). (The old plugin kept such a connection forever:
    max_clients of them locked everyone out, idle_timeout_ms or not.) A Unix
    socket: its kernel buffer is small and fixed, unlike loopback TCP's."""
    path = os.path.join(os.environ["TMPDIR"], "wy-unread.sock")
    d = WyDaemon(uri="unix://" + path, extra_conf="max_clients = 1\nidle_timeout_ms = 1000\n",
                 wait_port=False)
    end = time.time() + 20
    while not os.path.exists(path):
        assert time.time() < end, d.d.stderr()
        time.sleep(0.05)
    def served_within(limit, what):
        """A client that got info (not "busy"), within limit seconds."""
        t0 = time.time()
        while True:
            c = Wy(path=path)
            try:
                c.send("describe")
                e = c.recv(5)
            except OSError:
                e = None
            if e and e[0] == "info":
                log("%s: a client served after %.1f s" % (what, time.time() - t0))
                return c
            c.close()
            assert time.time() - t0 < limit, "%s: slot still held after %.1f s: %s\n%s" \
                % (what, time.time() - t0, e, d.d.stderr()[-2000:])
            time.sleep(0.2)

    ping = (json.dumps({"type": "ping", "data": {"text": "x" * 16000}}) + "\n").encode()
    for how in ("idle", "bad header"):
        s = served_within(20, "before " + how)
        # 640 kB of pongs: more than the socket buffer, less than the 1 MiB cap
        for _ in range(40):
            s.s.sendall(ping)
        if how == "bad header":
            s.s.sendall(b"not json\n")
        served_within(15, how).close()   # once drsnd has given up on s
        s.close()
    lines = [l for l in d.d.stderr().splitlines() if "does not read its last events" in l]
    assert len(lines) == 2, d.d.stderr()[-3000:]
    d.stop()


def test_flooding_clients_do_not_hold_the_loop():
    """8 clients stream 16 kHz audio as fast as TCP takes it (a 64 KiB
    chunk is 2 s of audio). Another client's ping must still be answered
    quickly: each connection gets one read buffer per loop iteration. (The
    old plugin let libuv read on, 32 buffers per client and iteration: the
    ping waited about 2 s, as long as the daemon's own audio ring, so the
    box's microphone overflowed.) The bound scales with what one chunk
    costs this build (a sanitizer build is some 50 times slower): the ping
    may wait for one chunk per client (8), not for 32 each (256)."""
    d = daemon()
    good = d.client()
    until_pong(good, "warm up")
    chunk = (json.dumps({"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1},
                         "payload_length": 65536}) + "\n").encode() + bytes(65536)
    costs = []
    good.send("audio-start", {"rate": 16000, "width": 2, "channels": 1})
    for i in range(3):
        t0 = time.time()
        good.s.sendall(chunk)
        until_pong(good, "chunk %d" % i)
        costs.append(time.time() - t0)
    good.send("audio-stop")
    until_pong(good, "stopped")
    bound = max(0.8, 64 * min(costs))   # old code: ~256 chunks; now ~8
    log("one 64 KiB chunk: %.0f ms; bound %.0f ms" % (min(costs) * 1000, bound * 1000))
    stop = threading.Event()

    def flood(s):
        while not stop.is_set():
            try:
                s.sendall(chunk)
            except OSError:
                return

    floods = [socket.create_connection(("127.0.0.1", d.port)) for _ in range(8)]
    threads = [threading.Thread(target=flood, args=(s,), daemon=True) for s in floods]
    for t in threads:
        t.start()
    time.sleep(1.5)   # every flood's socket buffers full
    waits = []
    for i in range(5):
        t0 = time.time()
        good.send("ping", {"text": "p%d" % i})
        e = good.recv(60)
        waits.append(time.time() - t0)
        assert e and e[0] == "pong" and e[1]["text"] == "p%d" % i, e
        time.sleep(0.3)
    stop.set()
    for s in floods:
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    for t in threads:
        t.join(10)
    waits.sort()
    log("ping under 8 flooding clients: %s ms" % ", ".join("%.0f" % (w * 1000) for w in waits))
    assert waits[2] < bound, "median ping %.0f ms while 8 clients flood (bound %.0f ms)" \
        % (waits[2] * 1000, bound * 1000)
    until_pong(good, "after")
    good.close()
    d.stop()


def test_no_model():
    """drsnd without a model: no wake words, audio gets an error, the
    connection stays usable."""
    d = WyDaemon(model="")
    c = d.client()
    c.send("describe")
    t, data, _ = c.recv()
    assert t == "info" and data["wake"][0]["models"] == [], data
    c.send("audio-start", {"rate": 16000, "width": 2, "channels": 1})
    t, data, _ = c.recv()
    assert t == "error" and data["code"] == "no-model", (t, data)
    c.send("audio-chunk", {"rate": 16000, "width": 2, "channels": 1}, b"\0" * 2048)
    c.send("audio-stop")
    assert c.recv()[0] == "not-detected"
    c.close()
    d.stop()


def test_clean_shutdown():
    d = daemon()
    c = d.client()   # an open idle client at shutdown
    d.stop()
    c.close()


if __name__ == "__main__":
    if not os.path.exists(MODEL):
        print("model %s does not exist (the shipped model, or set DRSN_WYOMING_TEST_MODEL)" % MODEL)
        sys.exit(1)
    log("model: %s" % MODEL)
    tests = [test_describe, test_sample_matches_drsn_detect_and_truth, test_noise_not_detected,
             test_48k_stereo, test_home_assistant_client, test_detect_empty_names_means_all,
             test_bad_clients_beside_a_good_one, test_reload_mid_stream,
             test_unix_socket_max_clients_and_bad_config, test_check_config,
             test_unix_socket_another_instance_made_stays,
             test_unix_socket_never_wider_than_configured,
             test_bad_mode_and_group, test_host_name_uri, test_idle_timeout,
             test_blank_line_trickle_idle, test_frame_timeout_trickle,
             test_stopped_daemon_does_not_time_out_its_clients,
             test_check_timer_runs_only_with_clients, test_unread_close_frees_slot,
             test_flooding_clients_do_not_hold_the_loop, test_no_model, test_clean_shutdown]
    main([t for t in tests if not ARGS.only or t.__name__ in ARGS.only])
