#!/usr/bin/python3
"""Audio sources through the daemon, compared with `drsn detect` on the same
audio (the same pipeline must give the same detections): file: at real time,
stdin raw s16le as fast as it comes, fd:N raw f32le 48 kHz stereo."""
import array
import json
import math
import os
import signal
import struct
import subprocess
import time
import wave

from drsndtest import (RUNNING, DRSND, MODEL, ROOT, Daemon, Client, collect, feed, main, log, noise_bursts,
                       raw_s16, run_detect, stdin_daemon, write_wav)

SAMPLE = os.path.join(ROOT, "samples", "keywords-clean.wav")
DET = ["--set", "detect.threshold=0.2", "--set", "detect.refractory_ms=500"]
DET_CLI = ["--model", MODEL, "--threshold", "0.2", "--refractory-ms", "500"]


def same(daemon_dets, cli_dets, t_min=0.0):
    """The detections whose window ends at or after t_min agree."""
    key = lambda d: (d["label"], round(d["start"], 3), round(d["end"], 3))  # noqa: E731
    a = [key(d) for d in daemon_dets if d["end"] >= t_min]
    b = [key(d) for d in cli_dets if d["end"] >= t_min]
    assert a == b, "daemon %s\n  !=  drsn detect %s" % (a, b)
    for d in daemon_dets:
        for c in cli_dets:
            if key(c) == key(d):
                assert abs(c["score"] - d["score"]) < 1e-3, (c, d)
    return len(a)


def test_file_realtime_matches_drsn_detect():
    ref = run_detect(*DET_CLI, SAMPLE)
    assert len(ref) >= 3, ref   # threshold 0.2 on the random model: enough events to compare
    for d in ref:
        assert d["file"] == SAMPLE and d["end"] - d["start"] <= 0.9951 and d["score"] >= 0.2, d
    d = Daemon(*DET, "--exit-on-eof", source="file:" + SAMPLE).wait_listening()
    c = d.client()
    t0 = time.time()
    dets = collect(c)
    wall = time.time() - t0
    assert d.p.wait(10) == 0
    n = same(dets, ref, t_min=0.6)   # the client connects within ~0.1 s
    log("file: %d detections equal to drsn detect's; %.1f s of audio took %.1f s" % (n, 10.2, wall))
    assert n >= 3
    assert 9.0 < wall < 14, "not paced at real time: %.1f s" % wall
    for m in dets:
        assert m["stream"] == "file:" + SAMPLE and abs(m["time"] - time.time()) < 30, m


def test_stdin_matches_drsn_detect():
    ref = run_detect(*DET_CLI, SAMPLE)
    d = stdin_daemon("--exit-on-eof", *DET)
    c = d.client()
    assert c.hello["source"] == "stdin"
    # the audio starts only now: every detection reaches the client
    feed(d, raw_s16(SAMPLE))
    dets = collect(c)
    assert d.p.wait(10) == 0, d.stderr()
    n = same(dets, ref)
    assert n == len(ref), (n, len(ref))
    log("stdin: all %d detections equal to drsn detect's" % n)


def test_fd_f32_48k_stereo():
    tmp = os.environ["TMPDIR"]
    # 48 kHz stereo version of the sample (sox), and its raw f32le interleaved samples
    wav48 = os.path.join(tmp, "k48.wav")
    subprocess.run(["sox", SAMPLE, "-r", "48000", "-c", "2", "-b", "32", "-e", "floating-point", wav48],
                   check=True)
    with wave.open(SAMPLE) as w:
        n16 = w.getnframes()
    raw = subprocess.run(["sox", wav48, "-t", "f32", "-"], check=True, capture_output=True).stdout
    assert len(raw) == 8 * (n16 * 3), (len(raw), n16)
    ref = run_detect(*DET_CLI, wav48)
    r, w = os.pipe()
    sock = os.path.join(tmp, "fd.sock")
    p = subprocess.Popen([DRSND, "--socket", sock, "--model", MODEL, "--source", "fd:%d" % r,
                          "--set", "audio.raw_format=f32le", "--set", "audio.raw_rate=48000",
                          "--set", "audio.raw_channels=2", "--exit-on-eof"] + DET,
                         pass_fds=(r,), stderr=subprocess.PIPE)
    RUNNING.append(p)
    os.close(r)
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.02)
    c = Client(sock)
    c.request({"type": "subscribe", "events": ["detection", "status"]})
    with os.fdopen(w, "wb") as f:
        f.write(raw)
    dets = collect(c)
    assert p.wait(10) == 0, p.stderr.read()
    n = same(dets, ref)
    assert n == len(ref) and n >= 3, (n, len(ref))
    log("fd:N 48 kHz stereo f32: all %d detections equal to drsn detect's on the same audio" % n)


def write_f32_wav(path, samples, rate=16000):
    """float32 mono WAV (WAVE_FORMAT_IEEE_FLOAT): any value, NaN too."""
    data = array.array("f", samples).tobytes()
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
                struct.pack("<IHHIIHH", 16, 3, 1, rate, rate * 4, 4, 32) +
                b"data" + struct.pack("<I", len(data)) + data)


def test_stdin_f32_nan_samples():
    """A float capture that sends NaN and infinities now and then (a broken
    driver or plugin): each such sample is taken as 0 where it enters, so
    the detections are those of the same audio with 0 there, every "level"
    event holds numbers (they were null: the RMS of a NaN), the status
    counts them, and the log warns once."""
    with wave.open(SAMPLE) as w:
        x = [v / 32768.0 for v in array.array("h", w.readframes(w.getnframes()))]
    zeroed = list(x)
    for i in range(4000, len(x), 8000):   # every 0.5 s
        x[i], x[i + 1], x[i + 2] = float("nan"), float("inf"), float("-inf")
        zeroed[i] = zeroed[i + 1] = zeroed[i + 2] = 0.0
    n_bad = 3 * len(range(4000, len(x), 8000))
    ref_wav = os.path.join(os.environ["TMPDIR"], "zeroed.wav")
    write_f32_wav(ref_wav, zeroed)
    ref = run_detect(*DET_CLI, ref_wav)
    d = Daemon("--set", "audio.raw_format=f32le", "--set", "audio.raw_rate=16000", "--exit-on-eof",
               "--set", "detect.level_interval_ms=100", *DET, source="stdin",
               stdin=subprocess.PIPE).wait_listening()
    c = d.client()
    c.request({"type": "subscribe", "events": ["detection", "level", "status"]})
    feed(d, array.array("f", x).tobytes())
    msgs = []
    end = time.time() + 60
    while not c.eof and time.time() < end:
        m = c.recv(1)
        if m is not None:
            msgs.append(m)
    assert d.p.wait(10) == 0, d.stderr()
    levels = [m for m in msgs if m["type"] == "level"]
    assert len(levels) >= 10 * (len(x) // 16000), len(levels)
    for m in levels:
        assert all(isinstance(m[k], (int, float)) for k in ("rms_dbfs", "peak_dbfs")), m
    n = same([m for m in msgs if m["type"] == "detection"], ref)
    assert n == len(ref) and n >= 3, (n, len(ref))
    st = [m for m in msgs if m["type"] == "status"][-1]
    assert st["source"]["bad_samples"] == n_bad, (st, n_bad)
    err = d.stderr()
    assert err.count("NaN, infinite or out-of-range samples") == 1, err
    log("stdin f32 with %d NaN/Inf samples: %d detections as with 0 there, %d level events, "
        "one warning" % (n_bad, n, len(levels)))


def test_stdin_starting_until_audio():
    """A pipe that sends nothing yet is "starting" (it said "running" from the
    start, as a PortAudio stream that delivers nothing did); its first audio
    makes it "running", in a status whose samples count it; an empty stream
    ends."""
    d = stdin_daemon()
    c = d.client()
    c.request({"type": "subscribe", "events": ["status"]})
    for _ in range(3):   # a second and more: still nothing has come
        st = c.request({"type": "status"})["source"]
        assert st["state"] == "starting" and st["samples"] == 0, st
        time.sleep(0.5)
    d.p.stdin.write(b"\x00\x01" * 1600)   # 0.1 s, the pipe stays open
    d.p.stdin.flush()
    st, seen = c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] != "starting", 10,
                          "state change after the first audio")
    assert st["source"]["state"] == "running" and st["source"]["samples"] > 0, st
    d.p.stdin.close()
    st, _ = c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] != "running", 10, "end")
    assert st["source"]["state"] == "ended" and st["source"]["samples"] == 1600, st
    assert d.stop() == 0
    # nothing at all: from "starting" to "ended"
    d = stdin_daemon("--exit-on-eof")
    c = d.client()
    d.p.stdin.close()
    assert d.p.wait(10) == 0, d.stderr()
    assert "end of stream after 0.000 s" in d.stderr(), d.stderr()


def test_stdin_container_refused():
    """stdin and fd: are raw PCM, a live stream: a file piped in (FLAC, a
    WAV that does not declare the raw settings) is not spooled nor read as
    noise (its header too): the source fails naming the container and the
    fix, and the daemon keeps serving. A WAV that declares them (arecord
    without -t raw) has its header dropped: the same detections as the raw
    samples."""
    for args, name, want in (
            (["-t", "flac"], "FLAC", "stdin: a FLAC stream, but stdin and fd: sources are raw PCM"),
            (["-r", "44100", "-c", "2", "-t", "wav"], "WAV 44.1 kHz stereo",
             "stdin: a WAV stream of s16le, 44100 Hz, 2 channel(s), but the raw PCM settings say s16le, "
             "16000 Hz, 1: set [audio] raw_format = s16le, raw_rate = 44100, raw_channels = 2")):
        data = subprocess.run(["sox", SAMPLE] + args + ["-"], check=True, capture_output=True).stdout
        d = stdin_daemon()
        c = d.client()
        c.request({"type": "subscribe", "events": ["status"]})
        d.p.stdin.write(data[:4096])   # the pipe stays open: a live stream
        d.p.stdin.flush()
        st, _ = c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] != "starting", 10,
                           "the source failing")
        assert st["source"]["state"] == "failed" and st["source"]["samples"] == 0, st
        assert c.request({"type": "ping"})["type"] == "pong"
        d.p.stdin.close()
        assert d.stop() == 0
        err = d.stderr()
        assert want in err, err
        log("stdin %s: refused: %s" % (name, want))
    # a WAV of the raw settings, with a LIST chunk before its data, as
    # arecord's streaming header (data length unknown) or sox's
    ref = run_detect(*DET_CLI, SAMPLE)
    raw = raw_s16(SAMPLE)
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    info = b"INFOISFT" + struct.pack("<I", 5) + b"test\0\0"
    wav = (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt +
           b"LIST" + struct.pack("<I", len(info) - 1) + info[:-1] + b"\0" +
           b"data" + struct.pack("<I", 0xFFFFFFFF) + raw)
    d = stdin_daemon("--exit-on-eof", *DET)
    c = d.client()
    feed(d, wav)
    dets = collect(c)
    assert d.p.wait(10) == 0, d.stderr()
    n = same(dets, ref)
    assert n == len(ref), (n, len(ref))
    log("stdin WAV of the raw settings: its header dropped, all %d detections equal to drsn detect's" % n)
    # stdin redirected from a file (drsnd --source stdin < FILE): the same
    tmp = os.environ["TMPDIR"]
    wpath, fpath = os.path.join(tmp, "in-raw-settings.wav"), os.path.join(tmp, "in.flac")
    with open(wpath, "wb") as f:
        f.write(wav)
    subprocess.run(["sox", SAMPLE, fpath], check=True)
    for path, name in ((fpath, "FLAC"), (wpath, "WAV")):
        with open(path, "rb") as f:
            d = Daemon("--set", "audio.raw_format=s16le", "--set", "audio.raw_rate=16000", "--exit-on-eof",
                       source="stdin", stdin=f)
            assert d.p.wait(10) == 1, d.stderr()
        want = "stdin: a %s file, but stdin and fd: sources are raw PCM (raw_format s16le, raw_rate 16000, " \
            "raw_channels 1): read it as a file with source = file:/dev/stdin" % name
        assert want in d.stderr(), d.stderr()
    with open(wpath, "rb") as f:   # as the message says
        d = Daemon("--exit-on-eof", "--wait-for-client", "--no-realtime", *DET, source="file:/dev/stdin", stdin=f).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["detection"]})
        dets = collect(c)
        assert d.p.wait(10) == 0, d.stderr()
    n = same(dets, ref)
    assert n == len(ref), (n, len(ref))
    log("stdin < FILE: FLAC and WAV refused naming file:/dev/stdin, which reads it: all %d detections" % n)


def test_source_failure_exit_is_an_error():
    """With on_eof = exit a source that fails ends drsnd with status 1: that
    is an error, shown at -q and log_level = error too (it used to be a
    warning: at -q drsnd exited 1 without a word). A WAV redirected to stdin
    and a FLAC stream piped in (--exit-on-eof), both refused."""
    path = os.path.join(os.environ["TMPDIR"], "short.wav")
    write_wav(path, noise_bursts(1))
    flac = subprocess.run(["sox", path, "-t", "flac", "-"], check=True, capture_output=True).stdout
    for name, level in (("WAV", None), ("FLAC", "error")):
        args = ("--exit-on-eof",) + (("-q",) if level is None else ())
        with open(path, "rb") as f:
            d = Daemon(*args, source="stdin", log_level=level or "info",
                       stdin=f if name == "WAV" else subprocess.PIPE)
            if name == "FLAC":
                try:   # (fits a pipe's buffer, but drsnd may have closed it)
                    d.p.stdin.write(flac)
                    d.p.stdin.close()
                except BrokenPipeError:
                    pass
            assert d.p.wait(10) == 1, d.stderr()
        want = "drsnd: error: stdin: a %s %s, but stdin and fd: sources are raw PCM" % (
            name, "file" if name == "WAV" else "stream")
        assert want in d.stderr(), d.stderr()
        log("%s: %s" % (" ".join(args) + ("" if level is None else " --log-level error"), want))


def test_file_pauses_over_a_stall():
    """drsnd stopped (SIGSTOP; a paused VM, a box too busy) while it reads a
    file at real time: on SIGCONT it used to deliver the whole gap at once,
    in one loop turn (a minute of audio: seconds without serving a client or
    the watchdog, then a burst of stale detections). Now at most ring_ms of
    the gap is caught up, a chunk per turn, and the file pauses for the rest,
    which is logged."""
    path = os.path.join(os.environ["TMPDIR"], "long.wav")
    write_wav(path, noise_bursts(30))
    stop_s, ring_s = 4.0, 0.5
    d = Daemon("--set", "audio.ring_ms=%d" % (ring_s * 1000), source="file:" + path).wait_listening()
    c = d.client()
    time.sleep(1.0)
    a, ta = c.request({"type": "status"}), time.time()
    d.signal(signal.SIGSTOP)
    time.sleep(stop_s)
    d.signal(signal.SIGCONT)
    time.sleep(1.0)
    b, tb = c.request({"type": "status"}), time.time()
    got = b["stream_time"] - a["stream_time"]
    log("stopped %.1f s: %.2f s of the file in %.2f s of wall time" % (stop_s, got, tb - ta))
    # (+0.5 s: the replies' own delays)
    assert got < tb - ta - stop_s + ring_s + 0.5, (got, tb - ta)
    assert b["source"]["state"] == "running", b
    assert d.stop() == 0
    assert "the file pauses for that long instead of catching up" in d.stderr(), d.stderr()[-2000:]


def test_bad_sources():
    # fd:7 not open when drsnd starts (subprocess closes it): refused, not
    # one of libuv's own descriptors read as audio (it could hang there)
    for src, needle in [("file:/nonexistent.wav", "/nonexistent.wav"), ("mic", "not pa:[DEVICE]"),
                        ("fd:notanumber", "fd:N"), ("fd:7", "descriptor 7 was not open when drsnd started"),
                        ("fd:1000", "descriptor 1000 was not open when drsnd started")]:
        r = subprocess.run([DRSND, "--socket", os.path.join(os.environ["TMPDIR"], "x.sock"),
                            "--model", MODEL, "--source", src], capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and needle in r.stderr, (src, r.stderr)
    # a raw stream that ends in the middle of a sample: the daemon reports the
    # end (or the error) and, with on_eof = stay, keeps serving
    tmp = os.environ["TMPDIR"]
    sock = os.path.join(tmp, "odd.sock")
    p = subprocess.Popen([DRSND, "--socket", sock, "--model", MODEL, "--source", "stdin",
                          "--set", "audio.raw_format=s16le"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    RUNNING.append(p)
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.02)
    c = Client(sock)
    c.request({"type": "subscribe", "events": ["status"]})
    p.stdin.write(b"\x01\x02" * 8000 + b"\x03")
    p.stdin.close()
    st, _ = c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] in ("ended", "failed"), 10)
    log("stdin ended:", st["source"])
    assert c.request({"type": "ping"})["type"] == "pong"
    p.terminate()
    assert p.wait(10) == 0


def test_stop_with_stdin_idle_or_busy():
    """SIGTERM while the stdin reader waits on an idle pipe (the writer holds
    it open and sends nothing), and while audio is streaming in: a clean,
    prompt exit either way (and no leak under ASan)."""
    tmp = os.environ["TMPDIR"]
    for busy in (False, True):
        sock = os.path.join(tmp, "stop-%d.sock" % busy)
        p = subprocess.Popen([DRSND, "--socket", sock, "--model", MODEL, "--source", "stdin", "-v"],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        RUNNING.append(p)
        c = Client(sock)
        if busy:
            import threading

            def stream():   # 10 ms blocks at real time until drsnd goes away
                try:
                    while True:
                        p.stdin.write(b"\0\1" * 160)
                        p.stdin.flush()
                        time.sleep(0.01)
                except (BrokenPipeError, ValueError, OSError):
                    pass
            th = threading.Thread(target=stream, daemon=True)
            th.start()
            time.sleep(0.5)
        c.request({"type": "ping"})
        t0 = time.time()
        p.terminate()
        rc = p.wait(10)
        err = p.stderr.read().decode()
        assert rc == 0, err
        assert time.time() - t0 < 3, time.time() - t0
        assert ("blocked on an idle pipe" in err) == (not busy), err
        if busy:
            th.join(5)
        try:
            p.stdin.close()
        except OSError:
            pass


def test_drsn_detect_errors():
    from drsndtest import DRSN
    def run(*args):
        r = subprocess.run([DRSN, "detect"] + list(args), capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr
    rc, out, err = run("--model", MODEL, "/nonexistent.wav")
    assert rc == 1 and "/nonexistent.wav" in err, (rc, err)
    assert [json.loads(l) for l in out.splitlines()] == [
        {"file": "/nonexistent.wav", "error": "/nonexistent.wav: no such file"}], out
    rc, out, err = run("--model", "/nonexistent.safetensors", SAMPLE)
    assert rc == 1 and "/nonexistent.safetensors" in err, err
    rc, out, err = run("--model", MODEL, "--label-threshold", "banana=0.5", SAMPLE)
    assert rc == 2 and "banana" in err, (rc, err)   # a usage error (README)
    rc, out, err = run("--model", MODEL, "--threshold", "2", SAMPLE)
    assert rc == 2 and "--threshold" in err, err
    rc, out, err = run("--model", MODEL)
    assert rc == 2 and "usage" in err
    # one good and one missing file: the good one's detections, exit 1
    rc, out, err = run("--model", MODEL, "--threshold", "0.2", SAMPLE, "/nonexistent.wav")
    assert rc == 1 and out.count("\n") >= 3 and "/nonexistent.wav" in err
    # per-label thresholds: only "yes" may fire, and never below 0.05
    rc, out, err = run("--model", MODEL, "--threshold", "1", "--label-threshold", "yes=0.05", SAMPLE)
    assert rc == 0 and all(json.loads(l)["label"] == "yes" and json.loads(l)["score"] >= 0.05
                           for l in out.splitlines()), out
    # not a terminal: no progress bar
    assert "[" not in err


def test_json_is_utf8():
    """A file name that is not UTF-8 reaches the JSON as U+FFFD (the bytes
    went out raw: no valid JSON for a strict reader), in drsn detect, drsn
    classify and the daemon's hello; detect's --inference-hop-ms takes what
    drsnd's [detect] inference_hop_ms takes."""
    from drsndtest import DRSN
    tmp = os.environ["TMPDIR"]
    folder = os.path.join(tmp, "names")
    os.makedirs(folder, exist_ok=True)
    bad = os.path.join(os.fsencode(folder), b"bad\xff.wav")
    with open(SAMPLE, "rb") as f, open(bad, "wb") as g:
        g.write(f.read())
    missing = os.path.join(os.fsencode(folder), b"missing\xfe.wav")

    def lines(args):
        r = subprocess.run([os.fsencode(DRSN)] + args, capture_output=True, timeout=300)
        return r.returncode, [json.loads(l.decode("utf-8")) for l in r.stdout.splitlines()]
    rc, dets = lines([b"detect", b"-q", b"--model", os.fsencode(MODEL), b"--threshold", b"0.2",
                      os.fsencode(folder)])
    assert rc == 0 and dets and all(d["file"].endswith("/bad\ufffd.wav") for d in dets), dets
    rc, out = lines([b"classify", b"--model", os.fsencode(MODEL), os.fsencode(folder), missing])
    assert rc == 1 and out[0]["file"].endswith("/bad\ufffd.wav") and "label" in out[0], out
    assert out[1]["file"].endswith("/missing\ufffd.wav") and "missing\ufffd.wav" in out[1]["error"], out
    # the daemon: every line it sends is UTF-8 (Client decodes strictly)
    d = Daemon(source="file:" + os.fsdecode(bad)).wait_listening()
    try:
        c = d.client()
        assert c.hello["source"].endswith("/bad\ufffd.wav"), c.hello
        st = c.request({"type": "status"})
        assert st["source"]["name"] == c.hello["source"], st
        c.close()
    finally:
        assert d.stop() == 0
    # the same range for the same key
    r = subprocess.run([DRSN, "detect", "-q", "--model", MODEL, "--inference-hop-ms", "5", SAMPLE],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "[10, 10000]" in r.stderr, r.stderr
    r = subprocess.run([DRSND, "--check-config", "--model", MODEL, "--set", "detect.inference_hop_ms=5"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "'5' is not an integer in [10, 10000]" in r.stderr, r.stderr
    r = subprocess.run([DRSN, "detect", "-q", "--model", MODEL, "--inference-hop-ms", "10", SAMPLE],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_channels():
    """[audio] channel: stdin s16le stereo with the sample, at a quarter of
    its level, on the left and zeros on the right gives drsn detect's
    detections of the mono audio (mix leaves the dead channel out); with
    the box's playback on the right, channel = 1 does; a channel beyond
    raw_channels, or beyond a file's, stops drsnd at start naming both."""
    tmp = os.environ["TMPDIR"]
    mono = array.array("h", raw_s16(SAMPLE))
    for i in range(len(mono)):
        mono[i] //= 4
    quiet = os.path.join(tmp, "quiet.wav")
    with wave.open(quiet, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(mono.tobytes())
    ref = run_detect(*DET_CLI, quiet)
    assert len(ref) >= 3, ref
    noise = noise_bursts(len(mono) / 16000.0, seed=3)
    for right, channel in [(lambda i: 0, "mix"), (lambda i: int(noise[i] * 20000), "1")]:
        st = array.array("h", [0]) * (2 * len(mono))
        for i in range(len(mono)):
            st[2 * i] = mono[i]
            st[2 * i + 1] = right(i)
        d = stdin_daemon("--exit-on-eof", "--set", "audio.raw_channels=2", "--set", "audio.channel=" + channel,
                         *DET)
        c = d.client()
        feed(d, st.tobytes())
        dets = collect(c)
        assert d.p.wait(10) == 0, d.stderr()
        n = same(dets, ref)
        assert n == len(ref), (channel, n, len(ref))
        log("stdin stereo, channel = %s: all %d detections equal to drsn detect's on the mono audio" % (channel, n))
    # a channel the source does not have
    stereo = os.path.join(tmp, "st.wav")
    subprocess.run(["sox", SAMPLE, "-c", "2", stereo], check=True)
    for args, needle in [(["--source", "stdin", "--set", "audio.raw_channels=2", "--set", "audio.channel=3"],
                          "[audio] channel: channel 3 asked for, but raw_channels is 2"),
                         (["--source", "file:" + stereo, "--set", "audio.channel=1,3"],
                          "st.wav: channel 3 asked for, but it has 2 channels"),
                         (["--source", "file:" + stereo, "--set", "audio.channel=0"],
                          "[audio] channel: '0' is not mix")]:
        r = subprocess.run([DRSND, "--socket", os.path.join(tmp, "x.sock"), "--model", MODEL] + args,
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert r.returncode != 0 and needle in r.stderr, (args, r.returncode, r.stderr)
        r = subprocess.run([DRSND, "--check-config", "--model", MODEL] + args, capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        assert r.returncode != 0 and needle in r.stderr, ("--check-config", args, r.returncode, r.stderr)


def test_narrowband_warned():
    """A source below the model's 16 kHz (8 kHz: telephone, Bluetooth
    hands-free) is warned of once in the log when its audio starts, for a
    file and for raw stdin; 16 and 48 kHz files are not."""
    tmp = os.environ["TMPDIR"]
    warning = "source 8000 Hz is below the model's 16000 Hz: the model hears no sound above 4000 Hz"
    for rate in (8000, 16000, 48000):
        wav = os.path.join(tmp, "k%d.wav" % rate)
        subprocess.run(["sox", SAMPLE, "-r", str(rate), wav], check=True)
        d = Daemon("--exit-on-eof", "--set", "audio.realtime=no", source="file:" + wav)
        assert d.p.wait(60) == 0, d.stderr()
        err = d.stderr()
        if rate == 8000:
            assert err.count("is below the model's") == 1 and ("file:%s: %s" % (wav, warning)) in err, err
        else:
            assert "below the model" not in err, (rate, err)
    raw8 = subprocess.run(["sox", SAMPLE, "-r", "8000", "-t", "s16", "-"], check=True, capture_output=True).stdout
    d = Daemon("--set", "audio.raw_format=s16le", "--set", "audio.raw_rate=8000", "--exit-on-eof",
               source="stdin", stdin=subprocess.PIPE).wait_listening()
    c = d.client()
    assert c.request({"type": "status"})["source"]["rate"] == 8000   # raw_rate: known at once
    d.p.stdin.write(raw8[:3200])   # 0.2 s, the pipe stays open
    d.p.stdin.flush()
    for _ in range(100):
        st = c.request({"type": "status"})["source"]
        if st["state"] == "running":
            break
        time.sleep(0.1)
    assert st["state"] == "running" and st["rate"] == 8000, st
    feed(d, raw8[3200:])
    assert d.p.wait(60) == 0, d.stderr()
    err = d.stderr()
    assert err.count("is below the model's") == 1 and ("stdin: " + warning) in err, err
    log("8 kHz file and stdin: one warning each, status source.rate 8000; 16 and 48 kHz: none")


def wait_socket_file(d, timeout=20):
    """Wait for d's socket to appear without connecting to it (a connection
    is what starts a --wait-for-client source)."""
    end = time.time() + timeout
    while not os.path.exists(d.sock):
        assert d.p.poll() is None and time.time() < end, d.stderr()
        time.sleep(0.02)


def probe(d, msg, linger=0.0):
    """A health check: connect, send one line (half-closing as socat does),
    read the reply, stay connected for linger s, leave; the reply."""
    import socket
    c = Client(d.sock)
    c.send(msg)
    c.s.shutdown(socket.SHUT_WR)
    reply = c.recv(10)
    while reply and reply["type"] == "hello":   # sent again to every client by a reload (SIGHUP)
        reply = c.recv(10)
    time.sleep(linger)
    c.close()
    return reply


def still_waiting(d, what):
    """d is alive and has read nothing (asked by a status probe)."""
    assert d.p.poll() is None, "%s: drsnd read the source and exited:\n%s" % (what, d.stderr())
    st = probe(d, {"type": "status"})
    assert st and st["type"] == "status", (what, st)
    assert st["source"]["state"] == "waiting" and st["source"]["samples"] == 0, (what, st["source"])
    return st


def test_wait_for_client():
    """[audio] wait_for_client (--wait-for-client): a file: read as fast as
    possible, and stdin from a file, are not read until a client wants the
    stream, however late: that client gets every detection drsn detect
    finds (without waiting, --exit-on-eof drsnd has read the whole file and
    gone within a fraction of a second). Health checks do not start it: a
    status probe and a ping probe (socat-like: half-closed, lingering past
    0.25 s), a garbage line, a client gone at once, SIGHUP; the real client
    does: one that subscribes (file:) at once, one that says nothing
    (stdin; it asks for status first, its input open) 0.25 s after its
    last word. systemd hears READY=1 at once, then
    the waiting state; a later client starts nothing again; a pa: source
    is refused."""
    import socket
    ref = run_detect(*DET_CLI, SAMPLE)
    assert len(ref) >= 3, ref
    tmp = os.environ["TMPDIR"]
    raw = os.path.join(tmp, "wait.raw")
    with open(raw, "wb") as f:
        f.write(raw_s16(SAMPLE))
    systemd = "systemd" in os.environ.get("DRSND_FEATURES", "portaudio systemd").split()
    for name, kw, extra in [("file:", {"source": "file:" + SAMPLE}, ["--no-realtime"]),
                            ("stdin", {"source": "stdin", "stdin": open(raw, "rb")},
                             ["--set", "audio.raw_format=s16le", "--set", "audio.raw_rate=16000"])]:
        npath = os.path.join(tmp, "notify-%s.sock" % name.strip(":"))
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(npath)
        ns.settimeout(10)
        d = Daemon(*DET, *extra, "--wait-for-client", "--exit-on-eof", "--set", "daemon.status_interval_ms=200",
                   env={"NOTIFY_SOCKET": npath}, **kw)
        wait_socket_file(d)
        t0 = time.time()
        # probes, each answered; none starts the reading (the old daemon
        # read the file with the first and was gone)
        st = probe(d, {"type": "status"}, linger=0.5)
        assert st["type"] == "status" and st["source"]["state"] == "waiting", st
        assert probe(d, {"type": "ping"}, linger=0.5)["type"] == "pong"
        assert probe(d, b"GET / HTTP/1.0\n", linger=0.5)["code"] == "bad_json"
        Client(d.sock).close()   # connects and leaves before 0.25 s
        gone = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        gone.connect(d.sock)
        gone.shutdown(socket.SHUT_WR)   # ends its input without a word, and goes
        time.sleep(0.01)
        gone.close()
        if name == "file:":
            d.signal(signal.SIGHUP)
            for _ in range(100):
                if still_waiting(d, name)["reloads"] == 1:
                    break
                time.sleep(0.05)
        notes = []
        while time.time() - t0 < 3.0:   # reading the 10.2 s file takes ~0.1 s here
            try:
                ns.settimeout(max(0.01, 3.0 - (time.time() - t0)))
                notes.append(ns.recv(4096).decode())
            except socket.timeout:
                pass
        ns.close()
        st = still_waiting(d, name)
        assert st["reloads"] == (1 if name == "file:" else 0), st
        if systemd:
            assert notes and notes[0].startswith("READY=1\nSTATUS=listening on "), notes
            assert "STATUS=waiting for a client before reading " + kw["source"] in notes, notes
            assert any(n.startswith("STATUS=%s: waiting, 0 s of audio" % kw["source"]) for n in notes), notes
            assert all(("%s: waiting" % kw["source"]) in n for n in notes if n.startswith("STATUS=" + kw["source"])), \
                notes
        t1 = time.time()
        c = Client(d.sock)
        if name == "file:":
            # its first command other than status or ping starts it at once
            assert c.request({"type": "subscribe", "events": ["detection"]})["type"] == "subscribed"
            why = "subscribed"
        else:
            # a listener that asks for status first, then only listens
            # (its input still open): 0.25 s after it asked
            assert c.request({"type": "status"})["source"]["state"] == "waiting"
            t1 = time.time()
            why = "sent nothing for 0.25 s"
        first, _ = c.wait_for(lambda m: m["type"] == "detection", 30, "first detection")
        waited = time.time() - t1
        dets = [first] + collect(c)
        assert d.p.wait(10) == 0, d.stderr()
        n = same(dets, ref)   # from the first detection on: t_min 0
        assert n == len(ref), (n, len(ref))
        err = d.stderr()
        assert err.count("waiting for a client before reading " + kw["source"]) == 1, err
        assert err.count(": reading " + kw["source"]) == 1 and \
            (" %s: reading %s" % (why, kw["source"])) in err, err
        if name == "stdin":   # a silent client: not before its 0.25 s
            assert waited >= 0.2, waited
        log("%s: status, ping and garbage probes, a client gone at once read nothing; the %s client, %.1f s after the "
            "socket appeared, got all %d detections of drsn detect, the first %.2f s after it connected" %
            (name, "subscribing" if name == "file:" else "silent", t1 - t0, n, waited))

    # a client that leaves does not pause the reading; the next one gets the rest
    d = Daemon(*DET, "--wait-for-client", "--no-realtime", source="file:" + SAMPLE)
    wait_socket_file(d)
    c = Client(d.sock)
    c.send({"type": "status"})   # a probe, then a real command: that starts it
    c.send({"type": "subscribe", "events": ["status"]})   # status only: a monitor, still waiting
    c.wait_for(lambda m: m["type"] == "subscribed")
    c.send({"type": "subscribe", "events": ["detection", "status"]})
    c.wait_for(lambda m: m["type"] == "subscribed")
    c.close()
    c = Client(d.sock)
    for _ in range(300):
        st = c.request({"type": "status"})["source"]
        if st["state"] == "ended":
            break
        time.sleep(0.1)
    assert st["state"] == "ended" and st["samples"] >= 160000, st
    assert "client 1 subscribed: reading file:" in d.stderr(), d.stderr()
    d.signal(signal.SIGTERM)
    assert d.p.wait(10) == 0

    # a live microphone cannot wait: --check-config and start-up refuse it
    for argv in (["--check-config"], []):
        r = subprocess.run([DRSND, "--socket", os.path.join(tmp, "pa.sock"), "--model", MODEL,
                            "--source", "pa:", "--wait-for-client"] + argv,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and "[audio] wait_for_client: a live pa: source cannot wait for a client" \
            in r.stderr, (argv, r.returncode, r.stderr)
    r = subprocess.run([DRSND, "--model", MODEL, "--check-config", "--set", "audio.wait_for_client=maybe"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "[audio] wait_for_client: 'maybe' is not a boolean" in r.stderr, r.stderr


NOISY = os.path.join(ROOT, "samples", "stream-noisy.wav")
LEVEL_WARNINGS = ("digital silence", "the loudest sample of the last", "at or near full scale")


def s16_wav(path, ints, rate=16000):
    """Exact 16-bit samples (a list or array of ints) -> mono WAV."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(array.array("h", ints).tobytes())


def ended_status(d, timeout=60):
    """The status once the file or stream has ended (the daemon stays up)."""
    c = d.client()
    end = time.time() + timeout
    while time.time() < end:
        src = c.request({"type": "status"})["source"]
        if src["state"] == "ended":
            c.close()
            return src
        time.sleep(0.1)
    raise AssertionError("the source did not end: %s\n%s" % (src, d.stderr()[-2000:]))


def file_level(ints, name):
    """drsnd reading a 16 kHz WAV of these samples as fast as it can: its
    status at the end, and its log."""
    wav = os.path.join(os.environ["TMPDIR"], name)
    s16_wav(wav, ints)
    d = Daemon("--set", "audio.realtime=no", source="file:" + wav).wait_listening()
    src = ended_status(d)
    assert d.stop() == 0, d.stderr()
    return wav, src, d.stderr()


def test_level_silence_stdin():
    """A capture piped from a muted input (arecord | drsnd): every sample 0.
    After 10 s of it one warning says so, with the causes and the fix; the
    status says "silent" and for how long; when sound comes, a notice says
    after how long, and the status no longer says "silent"."""
    d = stdin_daemon()
    c = d.client()
    st = c.request({"type": "status"})["source"]
    assert st["health"] == "unknown" and st["peak_dbfs"] is None and st["silence"] == 0, st
    d.p.stdin.write(b"\0\0" * 16000 * 12)   # 12 s of digital silence; the pipe stays open
    d.p.stdin.flush()
    end = time.time() + 30
    while time.time() < end:
        st = c.request({"type": "status"})["source"]
        if st["samples"] >= 16000 * 12:
            break
        time.sleep(0.1)
    log("12 s of zeros on stdin: status source %s" % {k: st[k] for k in ("health", "peak_dbfs", "silence")})
    assert st["health"] == "silent" and st["silence"] == 12.0 and st["peak_dbfs"] == -200, st
    err = d.stderr()
    want = ("drsnd: warning: stdin: the stream has been digital silence (every sample exactly 0) for 10 s: "
            "the keyword spotter hears nothing. The program that feeds drsnd records from a muted or wrong input")
    assert err.count("digital silence") == 1 and want in err, err
    assert "pactl set-source-mute @DEFAULT_SOURCE@ 0" in err and "arecord -l" in err, err
    # sound again: 24 s of speech in noise, then the end
    feed(d, raw_s16(NOISY))
    st = ended_status(d)
    err = d.stderr()
    assert d.stop() == 0, err
    assert err.count("drsnd: notice: stdin: sound again after 12.0 s of digital silence") == 1, err
    assert err.count("digital silence") == 2, err   # the warning and the notice, nothing more
    assert st["health"] == "ok" and st["silence"] == 0 and st["peak_dbfs"] > -10, st
    log("then speech: one notice, status health %s, peak %.1f dBFS" % (st["health"], st["peak_dbfs"]))


def test_level_low_file():
    """Noise peaking at -70 dBFS for 35 s (a capture gain far too low): one
    warning with the measured peak and what speech peaks at; status "low",
    peak_dbfs the measured peak."""
    import random
    r = random.Random(3)
    ints = [r.randint(-10, 10) for _ in range(16000 * 35)]   # 10/32768: -70.3 dBFS
    wav, src, err = file_level(ints, "low.wav")
    peak = 20 * math.log10(10 / 32768.0)
    log("-70 dBFS noise: status %s" % {k: src[k] for k in ("health", "peak_dbfs", "clipped")})
    assert src["health"] == "low" and abs(src["peak_dbfs"] - peak) < 0.06 and src["clipped"] == 0, src
    want = ("drsnd: warning: file:%s: the loudest sample of the last 30 s was %.1f dBFS: far too quiet for the "
            "keyword spotter (speech 1 m from a microphone peaks at about -30 to -10 dBFS" % (wav, peak))
    assert err.count("the loudest sample") == 1 and want in err, err
    assert "digital silence" not in err and "full scale" not in err, err


def test_level_quiet_room_after_speech():
    """Speech, then 35 s of noise at -70 dBFS (a quiet room, the microphone
    heard at a normal level before): no warning, status "quiet", not "low"."""
    import random
    r = random.Random(4)
    with wave.open(NOISY) as w:
        x = array.array("h", w.readframes(w.getnframes()))
    ints = list(x)[:16000 * 30] + [r.randint(-10, 10) for _ in range(16000 * 35)]
    wav, src, err = file_level(ints, "quiet.wav")
    log("speech, then a quiet room: status %s" % {k: src[k] for k in ("health", "peak_dbfs")})
    assert src["health"] == "quiet" and src["peak_dbfs"] < -69, src
    assert not any(w in err for w in LEVEL_WARNINGS), err


def test_level_clipping_file():
    """Speech in noise 20 dB too loud, clipped at full scale (47 s): one
    warning with the share of clipped samples in the first 30 s (measured
    here on the same samples) and the advice to lower the gain; status
    "clipping", every clipped sample counted, the last window's share."""
    with wave.open(NOISY) as w:
        x = array.array("h", w.readframes(w.getnframes()))
    ints = [max(-32768, min(32767, v * 10)) for v in list(x) * 2]
    near = [abs(v) / 32768.0 >= 0.98 for v in ints]
    share1 = sum(near[:16000 * 30]) / (16000 * 30)
    share2 = sum(near[16000 * 30:]) / len(near[16000 * 30:])
    wav, src, err = file_level(ints, "clipped.wav")
    log("+20 dB, clipped: %.2f%% then %.2f%% clipped; status %s"
        % (share1 * 100, share2 * 100, {k: src[k] for k in ("health", "peak_dbfs", "clipped", "clipped_share")}))
    assert src["health"] == "clipping" and src["clipped"] == sum(near), (src, sum(near))
    assert abs(src["clipped_share"] - share2) < 1e-5 and src["peak_dbfs"] > -0.1, (src, share2)
    want = ("drsnd: warning: file:%s: %.2f%% of the samples of the last 30 s were at or near full scale "
            "(clipped): the gain is too high" % (wav, share1 * 100))
    assert err.count("full scale") == 1 and want in err, err   # the second window: not again
    assert "record it again with less gain" in err, err


def test_level_speech_no_warning():
    """Ordinary speech in noise (samples/stream-noisy.wav twice, 47 s, with
    quiet stretches between the words): no warning; status "ok"."""
    with wave.open(NOISY) as w:
        x = array.array("h", w.readframes(w.getnframes()))
    wav, src, err = file_level(list(x) * 2, "normal.wav")
    log("speech in noise: status %s" % {k: src[k] for k in ("health", "peak_dbfs", "clipped", "clipped_share")})
    assert src["health"] == "ok" and src["clipped"] == 0 and src["clipped_share"] == 0, src
    assert -3 < src["peak_dbfs"] < -1, src
    assert not any(w in err for w in LEVEL_WARNINGS), err


if __name__ == "__main__":
    main([test_json_is_utf8, test_stop_with_stdin_idle_or_busy, test_stdin_starting_until_audio,
          test_stdin_container_refused, test_source_failure_exit_is_an_error,
          test_drsn_detect_errors,
          test_stdin_matches_drsn_detect, test_stdin_f32_nan_samples, test_fd_f32_48k_stereo, test_bad_sources,
          test_file_pauses_over_a_stall,
          test_file_realtime_matches_drsn_detect, test_channels, test_narrowband_warned,
          test_wait_for_client, test_level_silence_stdin, test_level_low_file, test_level_quiet_room_after_speech, test_level_clipping_file,
          test_level_speech_no_warning])
