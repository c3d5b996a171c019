#!/usr/bin/python3
"""The shipped model on the shipped stream sample, against its ground truth
(samples/stream-noisy.truth.csv, samples/README.md): 10 keywords and 2 other
words from held-out voices in recorded noise at 10 dB SNR.

1. Through the daemon as fast as the audio arrives (stdin source): a socket
   client gets the keywords, each within 0.3 s of the truth (the
   centre of the word lies inside the detection's window [start, end]
   widened by 0.3 s on each side; the window is the model's 0.995 s window
   that gave the label its highest probability), and nothing else: no false
   alarm, no wrong label, no keyword missed (see MAX_MISSED).
   `drsn detect` on the file gives the same.
2. Live, end to end through PortAudio: a private PulseAudio server (null sink
   at 16 kHz mono, one silent pacat stream held open), paplay feeding the
   sample at real-time pace, drsnd capturing the sink's monitor through the
   ALSA `pulse` device. The same detections arrive; the latency from the end
   of each keyword (as played) to its event on the socket is measured and
   printed, with the part the pipeline itself needs (stream time from the end
   of the word to the inference that fired) and the rest (capture buffers,
   loop, socket).
3. A file that ends with its keyword: the clean keyword clips of samples/clips
   cut right after the word. `drsn detect` and drsnd (stdin, to end of
   file) score the last second in full (one window of silence after the
   audio, as before it), so each word is found, with the window's end at
   the end of the file.

The model is DRSN_TRUTH_MODEL (meson: the source tree's
models/kws20-drsn-cw.safetensors)."""
import array
import csv
import glob
import os
import signal
import time
import wave

from drsndtest import ROOT, Daemon, collect, feed, main, log, needs, raw_s16, run_detect, stdin_daemon
from test_live import Pulse, bursts

SAMPLE = os.path.join(ROOT, "samples", "stream-noisy.wav")
TRUTH_CSV = os.path.join(ROOT, "samples", "stream-noisy.truth.csv")
MODEL = os.environ.get("DRSN_TRUTH_MODEL") or os.path.join(ROOT, "models", "kws20-drsn-cw.safetensors")
TOL = 0.3
RATE = 16000
# Live, the stream time of the playback's start is read from the first rise
# of the level events (100 ms apart), so it is known to about +-0.2 s; in one
# ASan run every live window sat 0.15-0.25 s early against the file's, and
# the weakest keyword's 0.35 s. The keyword centres are at least 1.7 s apart
# and no keyword repeats, so 0.5 s cannot pair a detection with the wrong
# word.
TOL_LIVE = 0.5
# The shipped model finds all 10 keywords of the file at its default threshold
# (0.8), with no false alarm; the weakest, "up", peaks at 0.818. The file is
# read in the same hops on every run, so none may be missed.
MAX_MISSED = 0
# Live, the 100 ms inference hop falls at a random phase against the words,
# so a keyword near the threshold may come or go.
MAX_MISSED_LIVE = 2


def truth():
    with open(TRUTH_CSV) as f:
        rows = list(csv.DictReader(f))
    return [(r["label"], float(r["start"]), float(r["end"])) for r in rows if not r["label"].startswith("_")]


def late(t, gaps):
    """How much later file time t played: gaps is [(file time, seconds)]."""
    return sum(n for at, n in gaps if at <= t)


def player_gaps(path, rate=RATE, min_s=0.01):
    """Where the player stalled: runs of digital silence (>= min_s) in a
    recording of the sink (s16le mono), after the start of the playback.
    samples/stream-noisy.wav never has two zero samples in a row; a player
    that is not scheduled in time leaves the sink playing zeros for it,
    which moves every later word. Returns [(file time, seconds)]."""
    pcm = array.array("h")
    with open(path, "rb") as f:
        data = f.read()
    pcm.frombytes(data[:len(data) // 2 * 2])
    gaps, played, run, started = [], 0, 0, False
    for v in pcm:
        if v == 0:
            run += 1
            continue
        if started and run >= min_s * rate:
            gaps.append((played / rate, run / rate))
        elif started:
            played += run
        started = True
        played += 1
        run = 0
    return gaps


def match(dets, offset=0.0, tol=TOL, gaps=()):
    """Pair detections (dicts with label, start, end) with truth words: a
    word whose centre lies in the window, give or take tol seconds (gaps:
    player_gaps(), which move the words).
    Returns (pairs [(truth, det)], missed truths, extra detections)."""
    want = truth()
    pairs, extra = [], []
    left = list(want)
    for d in dets:
        a, b = d["start"] - offset, d["end"] - offset
        hit = [t for t in left if t[0] == d["label"]
               and a - tol <= (t[1] + t[2]) / 2 + late((t[1] + t[2]) / 2, gaps) <= b + tol]
        if hit:
            pairs.append((hit[0], d))
            left.remove(hit[0])
        else:
            extra.append(d)
    return pairs, left, extra


def check(dets, what, offset=0.0, max_missed=None, tol=TOL, gaps=()):
    """Every detection is a truth keyword (no false alarm, no wrong label, each
    within tol), and at most max_missed (MAX_MISSED) keywords are missed."""
    max_missed = MAX_MISSED if max_missed is None else max_missed
    pairs, missed, extra = match(dets, offset, tol, gaps)
    for t, d in pairs:
        shift = late((t[1] + t[2]) / 2, gaps)
        log("%s: %-6s truth %.2f-%.2f, window %.2f-%.2f, score %.3f"
            % (what, t[0], t[1], t[2], d["start"] - offset - shift, d["end"] - offset - shift, d["score"]))
    log("%s: %d of %d keywords found, missed %s, %d false or misplaced detections"
        % (what, len(pairs), len(pairs) + len(missed), [m[0] for m in missed], len(extra)))
    assert not extra, "%s: detections that match no keyword of the truth: %s" % (what, extra)
    assert len(missed) <= max_missed, "%s: missed %s" % (what, missed)
    return pairs


def test_model_present():
    assert os.path.exists(MODEL), "the shipped model %s is missing (models/README.md)" % MODEL


def daemon_detections(wav):
    """The detections a socket client gets from drsnd reading wav on stdin
    to its end (the daemon exits there)."""
    d = stdin_daemon("--set", "audio.raw_channels=1", "--exit-on-eof", model=MODEL)
    c = d.client()
    c.request({"type": "subscribe", "events": ["detection"]})
    # stdin: the audio starts only when written, so no detection is missed
    feed(d, raw_s16(wav))
    dets = collect(c)
    assert d.p.wait(10) == 0, d.stderr()
    return dets


def test_stream_sample_through_daemon():
    ref = [d for d in run_detect("--model", MODEL, SAMPLE)]
    check(ref, "drsn detect")
    dets = daemon_detections(SAMPLE)
    check(dets, "drsnd stdin")
    assert [(m["label"], m["start"], m["end"]) for m in dets] == \
        [(m["label"], m["start"], m["end"]) for m in ref], "daemon and drsn detect differ"


def test_reload_mid_word_changes_nothing():
    """A reload that changes nothing, sent while a keyword is being said,
    gives the detections of a run without it: the new pipeline hears the
    last window again (the old pipeline's audio is replayed into it), so the
    word is found with its whole window, and the status counters go on
    counting from where they were."""
    ref = daemon_detections(SAMPLE)
    data = raw_s16(SAMPLE)
    tmp = os.environ["TMPDIR"]
    conf = os.path.join(tmp, "reload-same.conf")
    with open(conf, "w") as f:
        f.write("[detect]\nthreshold = 0.8\n")
    # cut in the middle of the third keyword, on the 100 ms hop grid
    word = truth()[2]
    cut = int((word[1] + word[2]) / 2 * 10) * 1600 * 2
    d = stdin_daemon("--set", "audio.raw_channels=1", "--exit-on-eof", "--config", conf, model=MODEL)
    c = d.client()
    c.request({"type": "subscribe", "events": ["detection"]})
    dets, ids = [], iter(range(1000))

    def ask(obj, timeout=15):   # a request, keeping the detections that come first
        obj["id"] = "q%d" % next(ids)
        c.send(obj)
        m, seen = c.wait_for(lambda m: m.get("id") == obj["id"], timeout, "reply to %s" % obj["type"])
        dets.extend(x for x in seen if x["type"] == "detection")
        return m
    d.p.stdin.write(data[:cut])
    d.p.stdin.flush()
    end = time.time() + 60
    while True:   # every sample written is in the pipeline before the reload
        st = ask({"type": "status"})
        if st["source"]["samples"] >= cut // 2 or time.time() > end:
            break
        time.sleep(0.05)
    assert st["source"]["samples"] == cut // 2, st
    before = st
    r = ask({"type": "reload"}, timeout=30)
    assert r["ok"] is True, r
    after = ask({"type": "status"})
    log("reload at %.2f s, in %s (%.2f-%.2f); frames %d -> %d, inferences %d -> %d"
        % (cut / 2 / RATE, word[0], word[1], word[2], before["frames"], after["frames"],
           before["inferences"], after["inferences"]))
    assert after["frames"] >= before["frames"] and after["inferences"] >= before["inferences"], (before, after)
    assert after["reloads"] == 1
    feed(d, data[cut:])
    dets += collect(c)
    assert d.p.wait(10) == 0, d.stderr()
    check(dets, "drsnd, reload mid-word")
    key = [(m["label"], round(m["start"], 2), round(m["end"], 2)) for m in dets]
    want = [(m["label"], round(m["start"], 2), round(m["end"], 2)) for m in ref]
    assert key == want, "a reload that changes nothing changed the detections:\n%s\n%s" % (key, want)


@needs("portaudio")
def test_stream_sample_live(Server=None, args=()):
    """Server: the sound server class (test_live.Pulse); args: more drsnd
    flags."""
    tmp = os.environ["TMPDIR"]
    pulse = (Server or Pulse)(tmp)
    pulse.start()
    d = Daemon(*args, model=MODEL, source="pa:pulse", env=pulse.env).wait_listening()
    try:
        c = d.client()
        c.request({"type": "subscribe", "events": ["detection", "level"]})
        c.wait_for(lambda m: m["type"] == "level", 15, "first level event")
        time.sleep(0.5)
        c.lines()
        c.buf = b""
        # what the sink played, to see where the player stalled
        recorder = pulse.record(os.path.join(tmp, "sink.raw"))
        time.sleep(0.3)
        t_play = time.time()
        player = pulse.play(SAMPLE)
        levels, dets = [], []
        end = time.time() + 26.5
        while time.time() < end:
            m = c.recv(0.2)
            if m is None:
                continue
            if m["type"] == "level":
                levels.append((m["stream_time"], m["rms_dbfs"]))
            elif m["type"] == "detection":
                dets.append((time.time(), m))
        assert player.wait(10) == 0
        recorder.send_signal(signal.SIGINT)
        recorder.wait(5)
        gaps = player_gaps(os.path.join(tmp, "sink.raw"))
        log("player stalls (digital silence in the sink's audio): %s"
            % (["%.2f s at %.2f" % (n, at) for at, n in gaps] or "none"))
        # the sample starts with noise: the first rise of the level is its start
        on = bursts(levels)
        assert on, levels[:50]
        offset = on[0] - 0.05          # a level event covers the 100 ms ending at stream_time
        log("playback started at stream time %.2f" % offset)
        pairs = check([m for _, m in dets], "live", offset, MAX_MISSED_LIVE, TOL_LIVE, gaps)
        recv = {id(m): w for w, m in dets}
        total, algo = [], []
        for t, m in pairs:
            shift = late((t[1] + t[2]) / 2, gaps)
            total.append(recv[id(m)] - (t_play + t[2] + shift))
            algo.append(m["stream_time"] - (offset + t[2] + shift))
        total.sort()
        algo.sort()
        med = total[len(total) // 2]
        med_algo = algo[len(algo) // 2]
        log("end of keyword -> detection on the socket over %d keywords: median %.0f ms (min %.0f, max %.0f); "
            "of which the pipeline's own stream-time delay (window + %s smoothing + threshold) median %.0f ms; "
            "capture/loop/socket and paplay start-up: median %.0f ms"
            % (len(total), med * 1000, total[0] * 1000, total[-1] * 1000, "300 ms", med_algo * 1000,
               (med - med_algo) * 1000))
        log("target: median <= 150 ms beyond the 300 ms smoothing span: %+.0f ms" % ((med - 0.3) * 1000))
        assert med < 2.0, total
    finally:
        d.stop()
        pulse.kill()


def cut_after_word(src, dst):
    """src (16 kHz mono s16) up to its last sample above 1% of its peak;
    returns the new length in seconds."""
    with wave.open(src, "rb") as w:
        params = w.getparams()
        x = array.array("h", w.readframes(w.getnframes()))
    peak = max(abs(v) for v in x)
    end = max(i for i, v in enumerate(x) if abs(v) > 0.01 * peak) + 1
    with wave.open(dst, "wb") as w:
        w.setparams(params)
        w.writeframes(x[:end].tobytes())
    return end / params.framerate


def test_keyword_at_the_end_of_a_file():
    tmp = os.environ["TMPDIR"]
    clips = sorted(glob.glob(os.path.join(ROOT, "samples", "clips", "*-clean.wav")))
    assert clips, "samples/clips/*-clean.wav are missing"
    cut = {}
    for c in clips:
        dst = os.path.join(tmp, "end-" + os.path.basename(c))
        cut[dst] = (os.path.basename(c).split("-")[0], cut_after_word(c, dst))
    dets = run_detect("-q", "--model", MODEL, *cut)
    for f, (word, seconds) in cut.items():
        got = [d for d in dets if d["file"] == f]
        log("drsn detect %s (%.2f s): %s" % (os.path.basename(f), seconds,
                                             [(d["label"], d["score"], d["end"]) for d in got]))
        assert [d["label"] for d in got] == [word], "%s: want one '%s', got %s" % (f, word, got)
        assert got[0]["end"] <= seconds + 1e-3, "%s: window ends after the audio: %s" % (f, got[0])
    f = sorted(cut)[0]
    got = daemon_detections(f)
    want = [(m["label"], m["start"], m["end"]) for m in dets if m["file"] == f]
    assert [(m["label"], m["start"], m["end"]) for m in got] == want, \
        "drsnd stdin %s: %s, drsn detect: %s" % (f, got, want)


if __name__ == "__main__":
    main([test_model_present, test_stream_sample_through_daemon, test_reload_mid_word_changes_nothing,
          test_keyword_at_the_end_of_a_file, test_stream_sample_live])
