#!/usr/bin/python3
"""Live capture end to end through PortAudio: a private PulseAudio server
(null sink at 16 kHz mono, one silent pacat stream held open so the sink runs
in real time), drsnd recording the sink's monitor through the ALSA `pulse`
device (PortAudio -> ring -> resampler -> pipeline), paplay feeding the
shipped keyword sample at real-time pace.

Checks: the six keywords of samples/keywords-clean.wav arrive as six bursts
of level, spaced in drsnd's stream time as they are in the sink's own audio
(recorded alongside with parec: on a loaded machine paplay underruns and the
sink plays a little silence mid-file, which moves every later keyword; that
is the player's timing, not drsnd's); detections flow; no overflows; and the
capture-to-socket latency (from the moment a 100 ms block of audio has been
played to the moment its `level` event is read by the client) is measured and
printed (median/max). Then the PulseAudio server is killed: drsnd stays up,
tells its clients, retries, and captures again once the server is back.
With the random test model the detections themselves are not compared with
ground truth (that needs the trained default model)."""
import array
import contextlib
import math
import os
import re
import select
import signal
import socket
import subprocess
import struct
import tempfile
import threading
import time
import wave

from drsndtest import DRSND, RUNNING, ROOT, Daemon, main, log, record_monitor

SAMPLE = os.path.join(ROOT, "samples", "keywords-clean.wav")
TRUTH_STARTS = [0.30, 2.01, 3.71, 5.47, 7.12, 8.83]   # samples/README.md
LOG_LINE = re.compile(r"drsnd: (error|warning|notice|info|debug): \S")   # daemon/log.h


class Pulse:
    def __init__(self, tmp):
        self.env = dict(os.environ)
        self.env["HOME"] = os.path.join(tmp, "home")
        self.env["XDG_RUNTIME_DIR"] = os.path.join(tmp, "run")
        self.env.pop("PULSE_SERVER", None)
        # ALSA's dlopen()ed plugins (pulse, jack probing) leak a little per
        # open, and are dlclose()d by exit, so LeakSanitizer cannot even name
        # them. drsnd's own leak checking is done by every other test file.
        self.env["ASAN_OPTIONS"] = self.env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        os.makedirs(self.env["HOME"], exist_ok=True)
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
        self.log = os.path.join(tmp, "pulse.log")
        self.server = self.silence = None

    def start(self):
        self.server = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit",
             "--disable-shm=yes", "--log-target=stderr",
             # the sink first: clients must never see a server without it
             "--load=module-null-sink sink_name=drsn rate=16000 channels=1 format=s16le",
             "--load=module-native-protocol-unix"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))
        RUNNING.append(self.server)
        for _ in range(200):
            r = subprocess.run(["pactl", "info"], env=self.env, capture_output=True, text=True)
            if r.returncode == 0 and "Default Source: drsn.monitor" in r.stdout:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("pulseaudio did not start: " + open(self.log).read()[-2000:])
        # one silent stream held open all the time: the sink runs in real time
        self.silence = subprocess.Popen(["pacat", "-p", "--device=drsn", "--rate=16000", "--channels=1",
                                         "--format=s16le", "/dev/zero"], env=self.env,
                                        stderr=subprocess.DEVNULL)
        RUNNING.append(self.silence)

    def kill(self):
        for p in (self.silence, self.server):
            if p and p.poll() is None:
                p.kill()
                p.wait()

    def record(self, path):
        """parec of the sink's monitor into a raw 16 kHz s16le file: the
        reference for what the sink really played, and when."""
        return record_monitor(self.env, path)

    def pipe_source(self, fifo):
        """A source "fifo" fed through the named pipe fifo: what is written
        there is what it records; while a writer holds the pipe open and
        writes nothing, it records nothing at all (a device that opens but
        never delivers)."""
        subprocess.run(["pactl", "load-module", "module-pipe-source", "source_name=fifo", "file=" + fifo,
                        "rate=16000", "channels=1", "format=s16le"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        return os.open(fifo, os.O_WRONLY)

    def play(self, path):
        p = subprocess.Popen(["paplay", "--latency-msec=20", "--device=drsn", path], env=self.env)
        RUNNING.append(p)
        return p


@contextlib.contextmanager
def fifo_device():
    """A PulseAudio server whose default source is Pulse.pipe_source(): yields
    (the env for drsnd, the fd that feeds it: 1 s is 32000 bytes of s16le
    16 kHz mono)."""
    tmp = os.environ["TMPDIR"]
    pulse = Pulse(tmp)
    pulse.start()
    fd = None
    try:
        # a fifo of its own: module-pipe-source will not take one that exists
        fd = pulse.pipe_source(os.path.join(tempfile.mkdtemp(prefix="fifo-"), "fifo"))
        yield dict(pulse.env, PULSE_SOURCE="fifo"), fd
    finally:
        if fd is not None:
            os.close(fd)
        pulse.kill()


def bursts(levels, thr=-50.0):
    """Stream times where the level rises above thr after >= 0.3 s below."""
    out, quiet_since = [], None
    for t, rms in levels:
        if rms > thr:
            if quiet_since is not None and t - quiet_since >= 0.3:
                out.append(t)
            quiet_since = None
        elif quiet_since is None:
            quiet_since = t
    return out


def raw_levels(path, rate=16000, win=0.1, hop=0.01):
    """(window end time, dBFS) of s16le mono audio: 100 ms windows every 10 ms,
    the level events' measure at a finer step."""
    pcm = array.array("h")
    with open(path, "rb") as f:
        data = f.read()
    pcm.frombytes(data[:len(data) // 2 * 2])
    acc = [0.0]
    for v in pcm:
        acc.append(acc[-1] + (v / 32768.0) ** 2)
    n, h = int(rate * win), int(rate * hop)
    return [(e / rate, 20 * math.log10(math.sqrt((acc[e] - acc[e - n]) / n) + 1e-10))
            for e in range(n, len(pcm) + 1, h)]


def test_live_capture_and_device_loss(Server=None):
    tmp = os.environ["TMPDIR"]
    pulse = (Server or Pulse)(tmp)
    pulse.start()
    env = pulse.env
    d = Daemon("--set", "audio.retry_min_ms=200", "--set", "audio.retry_max_ms=1000",
               "--set", "audio.stall_ms=1000", "--set", "detect.threshold=0.2",
               source="pa:pulse", env=env).wait_listening()
    try:
        c = d.client()
        c.request({"type": "subscribe", "events": ["detection", "level", "status"]})
        # wait until audio flows
        c.wait_for(lambda m: m["type"] == "level", 15, "first level event")
        time.sleep(0.5)
        c.lines()
        c.buf = b""
        ref_path = os.path.join(tmp, "monitor.raw")
        recorder = pulse.record(ref_path)
        time.sleep(0.5)   # quiet before the first keyword in the reference too
        t_play = time.time()
        player = pulse.play(SAMPLE)
        levels, recv, dets = [], [], []
        end = time.time() + 11.5
        while time.time() < end:
            m = c.recv(0.2)
            if m is None:
                continue
            now = time.time()
            if m["type"] == "level":
                levels.append((m["stream_time"], m["rms_dbfs"]))
                recv.append(now)
            elif m["type"] == "detection":
                dets.append(m)
        assert player.wait(10) == 0
        recorder.send_signal(signal.SIGINT)
        recorder.wait(5)
        on = bursts(levels)
        ref = bursts(raw_levels(ref_path))
        log("bursts at stream time", ["%.2f" % t for t in on])
        log("bursts in the sink's audio (parec)", ["%.2f" % t for t in ref])
        assert len(ref) == 6, ("the sink did not play the six keywords", ref)
        assert len(on) == 6, on
        # paplay's stalls: how much later than in the file each keyword played
        stalls = [(r - ref[0]) - (truth - TRUTH_STARTS[0]) for r, truth in zip(ref, TRUTH_STARTS)]
        log("player stalls (sink audio vs file) up to %.0f ms" % (max(stalls) * 1000))
        # drsnd's stream time keeps the sink's spacing; levels come in 100 ms
        # blocks, the reference in 10 ms steps
        for t, r in zip(on, ref):
            assert abs((t - on[0]) - (r - ref[0])) < 0.15, (t - on[0], r - ref[0])
        offset = on[0] - TRUTH_STARTS[0]
        # latency: a level event covers the 100 ms ending at stream_time; that
        # audio had been played at t_play + (stream_time - offset)
        lat = sorted(r - (t_play + (st - offset)) for (st, _), r in zip(levels, recv)
                     if TRUTH_STARTS[0] <= st - offset <= 10.0)
        med, worst = lat[len(lat) // 2], lat[-1]
        log("capture-to-socket latency over %d level events: median %.0f ms, max %.0f ms "
            "(includes paplay start-up; PulseAudio 20 ms + ALSA pulse plugin + PortAudio buffers)"
            % (len(lat), med * 1000, worst * 1000))
        assert med < 0.5, med
        log("%d detections during playback (random model)" % len(dets))
        assert len(dets) >= 1
        st = c.request({"type": "status"})
        assert st["overflows"] == 0 and st["source"]["state"] == "running", st

        # device loss: the daemon stays up, tells clients, retries
        pulse.kill()
        e, _ = c.wait_for(lambda m: m["type"] == "error" and m["code"] == "source", 10, "source error")
        log("after killing the sound server:", e["message"])
        assert c.request({"type": "ping"})["type"] == "pong"
        time.sleep(1.5)
        pulse.start()
        st, _ = c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] == "running", 20,
                           "source running again")
        c.wait_for(lambda m: m["type"] == "level", 5, "levels after restart")
        st = c.request({"type": "status"})
        log("after restart: restarts=%d" % st["source"]["restarts"])
        assert st["source"]["restarts"] >= 1, st
    except Exception:
        log("drsnd exit status:", d.p.poll())
        log("\n".join(l for l in d.stderr().splitlines() if l.startswith("drsnd") or "ERROR" in l or "#" in l)[-3000:])
        raise
    finally:
        rc = d.stop()
        pulse.kill()
    assert rc == 0, d.stderr()[-2000:]
    # the journal that has the loss has the recovery too, at any level but error
    err = d.stderr()
    lost = err.index("drsnd: warning: pa:")
    assert re.search(r"drsnd: notice: pa:\S*: capturing from", err[lost:]), err[-3000:]
    # every line in drsnd's format, with a level: PortAudio's ALSA stream
    # thread traced the loss ("Expression '...' failed in ...") raw to stderr
    raw = [ln for ln in err.splitlines() if not LOG_LINE.match(ln)]
    assert not raw, "stderr lines not in drsnd's log format: %r" % raw[:20]


def tone_wav(path, seconds, amp=0.5, freq=440.0, rate=16000):
    """A 16 kHz mono 16-bit WAV of a sine tone."""
    n = int(seconds * rate)
    x = array.array("h", (int(amp * 32767 * math.sin(2 * math.pi * freq * k / rate)) for k in range(n)))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.tobytes())


def test_host_suspend_resets_pipeline_and_recorder(Server=None):
    """A host suspend (lid closed, systemctl suspend) right after a sound:
    drsnd, unchanged, runs with tests/daemon/slept_clock.c preloaded, whose
    CLOCK_BOOTTIME runs on by what the test writes to a file while
    CLOCK_MONOTONIC does not (what a suspend does). The sink plays a tone,
    then digital silence; as soon as drsnd's levels show the silence, the
    host "sleeps" a minute. Then:
      - status (at once, to subscribers) counts it: source.suspends 1,
        suspended and last_suspend 60 s; its stream_time is the break T;
      - the pipeline starts afresh at T: every window scored after T holds
        only digital silence (its raw scores are those of the silence before
        the tone, to 1e-4), although the tone ended less than a model window
        before T (without the reset the windows after T still hear it);
      - the stream time runs on (no jump, scores in order);
      - the recorder (3 s of pre-roll) writes each detection made after T
        from the audio after T only: silence, not the tone of before;
      - the same for a device lost mid-tone (the sound server killed) and
        opened again: the clips after it hold none of the tone."""
    if "DRSN_SLEPT_CLOCK" not in os.environ:
        raise AssertionError("DRSN_SLEPT_CLOCK (tests/daemon/meson.build: slept_clock.so) is not set")
    module = os.environ.get("DRSN_RECORDER_MODULE")
    if not module:
        raise AssertionError("the recorder plugin was not built (DRSN_RECORDER_MODULE)")
    tmp = os.environ["TMPDIR"]
    pulse = (Server or Pulse)(tmp)
    pulse.start()
    rec = os.path.join(tmp, "suspend-rec")
    os.mkdir(rec)
    conf = os.path.join(tmp, "suspend.conf")
    with open(conf, "w") as f:
        f.write("[plugins]\ndir = %s\nload = recorder\n\n[plugin recorder]\ndir = %s\n"
                "pre_roll_ms = 3000\npost_roll_ms = 300\n" % (os.path.dirname(module), rec))
    slept = os.path.join(tmp, "slept-ms")
    with open(slept, "w") as f:
        f.write("0\n")
    tone = os.path.join(tmp, "tone.wav")
    tone_wav(tone, 1.5)
    env = dict(pulse.env)
    env["LD_PRELOAD"] = os.environ["DRSN_SLEPT_CLOCK"]
    env["DRSN_TEST_SLEPT_FILE"] = slept
    # the preloaded shim comes before the sanitizers' runtime (as libfaketime)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
    # a threshold any window passes, smoothing off: detections all the time
    d = Daemon("--set", "detect.threshold=0.001", "--set", "detect.smoothing_ms=0",
               "--set", "detect.refractory_ms=300", "--set", "audio.stall_ms=3000",
               config=conf, source="pa:pulse", env=env).wait_listening()
    try:
        c = d.client()
        c.request({"type": "subscribe", "events": ["detection", "level", "status", "scores"]})
        c.wait_for(lambda m: m["type"] == "level", 15, "first level event")
        msgs = []

        def collect(seconds, until=None):
            end = time.time() + seconds
            while time.time() < end:
                m = c.recv(0.1)
                if m is None:
                    continue
                msgs.append(m)
                if until and until(m):
                    return m
            return None

        collect(2.0)   # silence: over a model window of it
        silent = [m["scores"] for m in msgs if m["type"] == "scores"][-5:]
        assert len(silent) == 5, msgs[-5:]
        quiet = silent[-1]
        assert all(max(abs(a - b) for a, b in zip(v, quiet)) < 1e-4 for v in silent), silent
        player = pulse.play(tone)
        loud = collect(10, lambda m: m["type"] == "level" and m["rms_dbfs"] > -20)
        assert loud, "the tone was not heard"
        gone = collect(10, lambda m: m["type"] == "level" and m["rms_dbfs"] < -150)
        assert gone, "no silence after the tone"
        with open(slept, "w") as f:   # the host sleeps a minute, now
            f.write("60000\n")
        st = collect(5, lambda m: m["type"] == "status" and m["source"]["suspends"] >= 1)
        assert st, "no status with the suspend within 5 s"
        assert st["source"]["suspends"] == 1, st["source"]
        assert abs(st["source"]["suspended"] - 60) < 0.5 and abs(st["source"]["last_suspend"] - 60) < 0.5, \
            st["source"]
        T = st["stream_time"]
        i_break = len(msgs)
        collect(2.5)
        assert player.wait(10) == 0
        last_loud = max(m["stream_time"] for m in msgs[:i_break] if m["type"] == "level" and m["rms_dbfs"] > -100)
        log("tone heard until stream time %.2f s, suspend noticed at %.2f s" % (last_loud, T))
        # the tone's last 100 ms block ends last_loud: the windows right after
        # T still hold it unless the pipeline started afresh
        assert T - last_loud < 0.8, (T, last_loud)
        before = [m for m in msgs[:i_break] if m["type"] == "scores"]
        after = [m for m in msgs[i_break:] if m["type"] == "scores"]
        assert any(max(abs(a - b) for a, b in zip(m["scores"], quiet)) > 1e-3 for m in before), \
            "the tone did not change the scores: the test cannot tell"
        assert len(after) > 15, len(after)   # a hop of 100 ms
        times = [m["stream_time"] for m in before + after]
        assert times == sorted(times) and after[0]["stream_time"] > T, (T, times[-len(after) - 3:][:6])
        assert after[-1]["stream_time"] > T + 2.0   # no jump back, none ahead: audio since T
        heard = [(m["stream_time"], max(abs(a - b) for a, b in zip(m["scores"], quiet))) for m in after]
        bad = [(t, dv) for t, dv in heard if dv > 1e-4]
        assert not bad, "windows after the suspend at %.2f s heard the audio of before: %s" % (T, bad[:5])
        # a lost device opened again (the sound server killed mid-tone and
        # started again) is a break too: no suspend, the stream time stands
        # still meanwhile, the clips after it hold none of the tone
        i_tone2 = len(msgs)
        player = pulse.play(tone)
        assert collect(10, lambda m: m["type"] == "level" and m["rms_dbfs"] > -20), "the second tone"
        pulse.kill()
        player.wait(10)
        assert collect(10, lambda m: m["type"] == "error" and m["code"] == "source"), "no source error"
        pulse.start()
        assert collect(20, lambda m: m["type"] == "status" and m["source"]["state"] == "running"), \
            "the source did not come back"
        i_run = len(msgs)
        collect(2.0)
        # the keyword pipeline started afresh when the device came back:
        # no window after it holds the tone from before the loss
        after2 = [(m["stream_time"], max(abs(a - b) for a, b in zip(m["scores"], quiet)))
                  for m in msgs[i_run:] if m["type"] == "scores"]
        assert len(after2) > 10, len(after2)
        bad = [(t, dv) for t, dv in after2 if dv > 1e-4]
        assert not bad, "windows after the device came back heard the audio of before its loss: %s" % bad[:5]
        tone2 = min(m["stream_time"] for m in msgs[i_tone2:] if m["type"] == "level" and m["rms_dbfs"] > -20)
        st2 = c.request({"type": "status"})
        assert st2["source"]["suspends"] == 1 and st2["source"]["state"] == "running", st2["source"]
        assert st2["source"]["restarts"] >= 1, st2["source"]
    finally:
        rc = d.stop()
        pulse.kill()
        err = d.stderr()
        log("drsnd exited with %s; its log:\n%s" % (rc, "\n".join(
            ln for ln in err.splitlines() if ln.startswith("drsnd") and "detection:" not in ln)[-3000:]))
    assert rc == 0, err[-2000:]
    assert err.count("the host was suspended for 60.0 s") == 1, err[-3000:]
    assert "did not run" not in err, err[-3000:]
    # one clip per detection (drsnd logs each), in order (<seq>): those made
    # after the suspend come from the audio after T alone, digital silence;
    # the tone is minutes (here: within the 3 s of pre-roll) before
    lines = err.splitlines()
    i_lost = max(i for i, ln in enumerate(lines) if "retrying in" in ln)
    i_back = max(i for i, ln in enumerate(lines) if re.search(r"pa:pulse: opened '.*'; waiting for its audio", ln))
    assert i_back > i_lost, lines[i_lost:i_lost + 5]
    dets, phase = [], 0   # 1: after the suspend, 2: after the device came back
    for i, line in enumerate(lines):
        phase = 2 if i > i_back else 1 if phase or "the host was suspended" in line else 0
        m = re.search(r"drsnd: info: detection: \S+ [0-9.]+ \[([0-9.]+), ([0-9.]+)\] s", line)
        if m:
            dets.append((float(m.group(1)), float(m.group(2)), phase))
    clips = sorted(n for n in os.listdir(rec) if n.endswith(".wav"))
    assert len(clips) == len(dets), (len(clips), len(dets), clips[-3:])
    # after the suspend: the clips that end before the second tone
    late = [(n, dt) for n, dt in zip(clips, dets) if dt[2] == 1 and dt[1] + 0.3 < tone2 - 0.1]
    back = [(n, dt) for n, dt in zip(clips, dets) if dt[2] == 2]
    assert late, "no detection after the suspend"
    assert back, "no detection after the device came back"
    for what, got in (("the suspend", late), ("the device's loss", back)):
        for name, (start, end, phase) in got:
            with wave.open(os.path.join(rec, name)) as w:
                x = array.array("h", w.readframes(w.getnframes()))
            peak = max(abs(v) for v in x) if x else 0
            assert peak <= 2, "%s (detection [%.2f, %.2f]): peak %d: the pre-roll holds audio from " \
                "before %s" % (name, start, end, peak, what)
            if phase == 1:
                assert len(x) / 16000 <= end + 0.3 - T + 0.05, (name, len(x) / 16000, end, T)
        log("%d detections after %s, their clips silence only" % (len(got), what))


def foreign_lines(text):
    """stderr lines that drsnd's own log did not write."""
    return [l for l in text.splitlines() if l.strip() and not l.startswith("drsnd")]


def test_device_selection(Server=None):
    tmp = os.environ["TMPDIR"]
    pulse = (Server or Pulse)(tmp)
    pulse.start()
    try:
        r = subprocess.run([os.environ["DRSND"], "--list-devices"], env=pulse.env, capture_output=True,
                           text=True, timeout=30)
        log(r.stdout)
        assert r.returncode == 0 and "pulse" in r.stdout, r.stdout
        assert not foreign_lines(r.stderr), "host-library noise on stderr: %r" % r.stderr[:2000]
        index = [l.split()[1] if l.startswith("*") else l.split()[0] for l in r.stdout.splitlines()[1:]
                 if "pulse" in l][0]
        # by index: captures
        d = Daemon(source="pa:" + index, env=pulse.env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level"]})
        c.wait_for(lambda m: m["type"] == "level", 15, "level from pa:%s" % index)
        assert d.stop() == 0
        # a device that does not exist: drsnd starts anyway, says why, retries
        d = Daemon("--set", "audio.retry_min_ms=100", source="pa:nosuchdevice", env=pulse.env).wait_listening()
        c = d.client()
        st = c.request({"type": "status"})
        end = time.time() + 15
        while st["source"]["state"] == "starting" and time.time() < end:   # the first open runs on the threadpool
            time.sleep(0.05)
            st = c.request({"type": "status"})
        assert st["source"]["state"] == "retrying", st
        c.request({"type": "subscribe", "events": ["status"]})
        e, _ = c.wait_for(lambda m: m["type"] == "error", 5, "source error")
        assert e["code"] == "source" and "no input device whose name contains 'nosuchdevice'" in e["message"], e
        time.sleep(1.0)   # several more retries, each a Pa_Initialize that probes ALSA and JACK
        assert d.stop() == 0
        err = d.stderr()
        assert err.count("no input device whose name contains 'nosuchdevice'") >= 2, err[-2000:]
        # alsa-lib's and libjack's probing goes to the debug log, not to the journal
        assert not foreign_lines(err), "host-library noise on stderr: %r" % foreign_lines(err)[:20]
    finally:
        pulse.kill()


def test_lost_audio_is_counted_and_logged(Server=None):
    """Stop drsnd (SIGSTOP) for a moment: the backlog PulseAudio delivers
    after SIGCONT does not fit a 20 ms ring; the loss is counted, logged and
    reported, and capture goes on. (Whether a given stop overflows depends on
    how the backlog arrives, so up to 5 stops are tried.)"""
    tmp = os.environ["TMPDIR"]
    pulse = (Server or Pulse)(tmp)
    pulse.start()
    try:
        d = Daemon("--set", "audio.ring_ms=20", source="pa:pulse", env=pulse.env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level"]})
        c.wait_for(lambda m: m["type"] == "level", 15, "first level event")
        time.sleep(1.0)
        # (on a loaded machine the start-up burst may already overflow a
        # ring this small: count from here)
        before = c.request({"type": "status"})["overflows"]
        for attempt in range(5):
            d.signal(signal.SIGSTOP)
            time.sleep(1.0)
            d.signal(signal.SIGCONT)
            time.sleep(1.5)
            st = c.request({"type": "status"})
            log("after stop %d: %s" % (attempt + 1, st["source"]))
            if st["overflows"] > before:
                break
        assert st["overflows"] > before, (before, st)
        assert st["overflows"] == st["source"]["overflows"] + st["source"]["device_overflows"], st
        assert st["source"]["state"] == "running"
        c.lines()
        c.wait_for(lambda m: m["type"] == "level", 5, "levels after the stop")
        assert d.stop() == 0
        assert "audio lost:" in d.stderr(), d.stderr()[-2000:]
    finally:
        pulse.kill()


def test_long_stop_counts_what_the_server_dropped(Server=None):
    """drsnd stopped for 30 s (SIGSTOP; a paused VM) while capturing: the
    sound server keeps only so much of the audio meanwhile (PulseAudio: some
    24 s of a record stream) and drops the rest without a word (no PortAudio
    input overflow). That loss used to go uncounted: `lost` 0, the stream
    time short of the wall clock by seconds. Now every second of the gap is
    processed, lost (status source.lost) or waiting (behind), the loss is
    logged once, the device is not taken for stalled, and capture goes on."""
    stop_s = 30.0
    tmp = os.environ["TMPDIR"]
    pulse = (Server or Pulse)(tmp)
    pulse.start()
    try:
        d = Daemon(source="pa:pulse", env=pulse.env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level"]})
        c.wait_for(lambda m: m["type"] == "level", 15, "first level event")
        time.sleep(1.0)
        a = c.request({"type": "status"})
        d.signal(signal.SIGSTOP)
        time.sleep(stop_s)
        d.signal(signal.SIGCONT)
        time.sleep(4.0)   # the server's backlog comes, the check settles
        b = c.request({"type": "status"})
        wall = b["uptime"] - a["uptime"]
        acc = [b["stream_time"] - a["stream_time"], b["source"]["lost"] - a["source"]["lost"],
               b["source"]["behind"] - a["source"]["behind"]]
        log("stopped %.0f s: in %.2f s of uptime %.2f s processed, %.2f s lost, %.2f s more waiting"
            % (stop_s, wall, acc[0], acc[1], acc[2]))
        assert abs(sum(acc) - wall) < 1.0, (acc, wall, b)
        assert b["source"]["state"] == "running" and b["source"]["restarts"] == 0, b
        # a stopped drsnd is not a suspended host: both clocks ran on
        assert (b["source"]["suspends"], b["source"]["suspended"], b["source"]["last_suspend"]) == (0, 0, 0), b
        c.lines()
        c.wait_for(lambda m: m["type"] == "level", 5, "levels after the stop")
        assert d.stop() == 0
        err = d.stderr()
        assert "retrying" not in err, err[-2000:]
        assert "suspended" not in err, err[-2000:]
        if acc[1] > 0:
            assert "audio lost:" in err, err[-2000:]
        assert err.count("while drsnd did not run") + err.count("drsnd did not run for") == 1, err[-2000:]
    finally:
        pulse.kill()


def test_box_too_slow_for_real_time():
    """A box slower than real time: the mock_slow plugin (tests/plugins/mock.c)
    takes 3x each block's duration while a file exists, so the loop can never
    keep up, on any machine. drsnd must keep serving its clients and feeding
    the watchdog, drop what does not fit the ring (counted, logged), keep its
    backlog within ring_ms (status source.behind), and once the slowness is
    gone catch up without a restart. (It used to drain the ring until empty,
    which on such a box never happens: no replies, no watchdog pings, SIGTERM
    ignored.)"""
    tmp = os.environ["TMPDIR"]
    pulse = Pulse(tmp)
    pulse.start()
    slow = os.path.join(tmp, "slow")
    nsock = os.path.join(tmp, "notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(nsock)
    env = dict(pulse.env, NOTIFY_SOCKET=nsock, WATCHDOG_USEC="4000000")
    try:
        d = Daemon("--set", "audio.ring_ms=1000", "--set", "plugins.dir=" + os.environ["DRSN_MOCK_PLUGIN_DIR"],
                   "--set", "plugins.load=mock_slow", "--set", "plugin mock_slow.slow_while=" + slow,
                   source="pa:pulse", env=env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level"]})
        c.wait_for(lambda m: m["type"] == "level", 15, "first level event")
        time.sleep(1.0)
        before = c.request({"type": "status"})
        t_before = time.time()
        open(slow, "w").close()
        pings, rtts, sts = [], [], []
        end = time.time() + 6
        while time.time() < end:
            t = time.time()
            sts.append(c.request({"type": "status"}, 10))
            rtts.append(time.time() - t)
            while select.select([ns], [], [], 0)[0]:
                if b"WATCHDOG=1" in ns.recv(4096):
                    pings.append(time.time())
            time.sleep(0.3)
        st = sts[-1]
        t_after = time.time()
        # every second captured is either processed (stream_time), lost or waiting (behind)
        acc = [st["stream_time"] - before["stream_time"], st["source"]["lost"] - before["source"]["lost"],
               st["source"]["behind"] - before["source"]["behind"]]
        log("in %.2f s of wall time: %.2f s processed, %.2f s lost, %.2f s more waiting"
            % (t_after - t_before, acc[0], acc[1], acc[2]))
        assert acc[1] > 0 and abs(sum(acc) - (t_after - t_before)) < 1.0, (acc, t_after - t_before)
        log("too slow: status replies in %.2f..%.2f s; %d watchdog pings in 6 s; behind up to %.2f s; "
            "%d overflows (%d samples)" % (min(rtts), max(rtts), len(pings),
                                           max(s["source"]["behind"] for s in sts),
                                           st["overflows"] - before["overflows"],
                                           st["source"]["overflow_samples"] - before["source"]["overflow_samples"]))
        assert max(rtts) < 3, rtts
        assert len(pings) >= 2, pings
        assert st["overflows"] > before["overflows"], (before, st)
        # the backlog is what the ring holds, never more
        assert all(s["source"]["behind"] <= 1.0 + 0.05 for s in sts), [s["source"]["behind"] for s in sts]
        # recovery: no restart, the backlog goes, no more loss
        os.unlink(slow)
        end = time.time() + 15
        while True:
            st = c.request({"type": "status"})
            if st["source"]["behind"] < 0.3:
                break
            assert time.time() < end, st
            time.sleep(0.2)
        time.sleep(1.0)
        a = c.request({"type": "status"})
        time.sleep(2.0)
        b = c.request({"type": "status"})
        log("recovered: behind %.3f s, overflows %d -> %d over 2 s" %
            (b["source"]["behind"], a["overflows"], b["overflows"]))
        assert b["overflows"] == a["overflows"] and b["source"]["behind"] < 0.3, (a, b)
        assert d.stop() == 0
        assert "audio lost:" in d.stderr(), d.stderr()[-2000:]
    finally:
        ns.close()
        pulse.kill()


def test_silent_device_is_not_running():
    """A stream that opens but delivers no audio is "starting", not
    "running" (it was "running" for up to 5 s, until the stall detector
    reopened it); its first audio makes it "running"."""
    with fifo_device() as (env, fd):
        # no stall reopening within the test
        d = Daemon("--set", "audio.stall_ms=60000", source="pa:pulse", env=env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["status", "level"]})
        end = time.time() + 15
        while "waiting for its audio" not in d.stderr():   # the open is over
            st = c.request({"type": "status"})["source"]
            assert st["state"] == "starting" and time.time() < end, (st, d.stderr()[-2000:])
            time.sleep(0.1)
        for _ in range(3):
            st = c.request({"type": "status"})["source"]
            assert st["state"] == "starting" and st["samples"] == 0, st
            time.sleep(0.5)
        os.write(fd, b"\x00\x10" * 16000)   # 1 s of audio
        st, _ = c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] != "starting", 10,
                           "state change after the first audio")
        assert st["source"]["state"] == "running" and st["source"]["samples"] > 0, st
        c.wait_for(lambda m: m["type"] == "level", 5, "level events")
        assert d.stop() == 0
        assert re.search(r"drsnd: info: pa:pulse: capturing from 'pulse'", d.stderr()), d.stderr()[-2000:]


def test_restarts_count_audio_not_opens():
    """source.restarts counted a reopening as soon as the device opened, also
    one that never delivered audio (it stays "starting"): a silent device
    reopened by the stall detector counted up every few seconds. A restart is
    now a return to "running" after a failure: audio again."""
    with fifo_device() as (env, fd):
        d = Daemon("--set", "audio.retry_min_ms=200", "--set", "audio.retry_max_ms=1000",
                   "--set", "audio.stall_ms=1000", source="pa:pulse", env=env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["status"]})

        def state(want, timeout=20):
            """The source in the status sent when it became want."""
            st, _ = c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] == want,
                               timeout, "state " + want)
            return st["source"]

        def audio_until_running():
            """1 s of audio at a time (some may go before the stream is back)."""
            end = time.time() + 20
            while True:
                os.write(fd, b"\x00\x10" * 16000)
                try:
                    return state("running", 2)
                except AssertionError:
                    assert time.time() < end, d.stderr()[-2000:]

        # silent: opened, stalled (5 s without a first audio), reopened
        state("retrying")
        src = state("starting")
        log("silent device reopened: %s" % src)
        assert src["restarts"] == 0, src
        src = audio_until_running()
        assert src["restarts"] == 0, src   # the first time it runs
        # the audio stops: stalled, reopened; no restart until audio again
        state("retrying")
        src = state("starting")
        assert src["restarts"] == 0, src
        src = audio_until_running()
        log("audio again: %s" % src)
        assert src["restarts"] == 1, src
        assert d.stop() == 0


def test_hung_sound_server():
    """The sound server hangs (SIGSTOP): closing the stalled stream blocks
    inside alsa-lib's pulse plugin for as long as the server is stopped.
    drsnd does that on the threadpool: it tells its clients, keeps answering
    them, and captures again once the server goes on. (The old code closed
    the stream on the loop thread and answered nothing until SIGCONT; under
    systemd the watchdog would have killed it.)"""
    tmp = os.environ["TMPDIR"]
    pulse = Pulse(tmp)
    pulse.start()
    stopped = False
    try:
        d = Daemon("--set", "audio.retry_min_ms=200", "--set", "audio.retry_max_ms=1000",
                   "--set", "audio.stall_ms=1000", source="pa:pulse", env=pulse.env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level", "status"]})
        c.wait_for(lambda m: m["type"] == "level", 15, "first level event")
        pulse.server.send_signal(signal.SIGSTOP)
        stopped = True
        e, _ = c.wait_for(lambda m: m["type"] == "error" and m["code"] == "source", 15, "source error")
        log("server stopped:", e["message"])
        assert "no audio for 1000 ms" in e["message"], e
        # the stall is handled; the close (and the retries) hang meanwhile
        for _ in range(8):
            assert c.request({"type": "ping"}, 10)["type"] == "pong"
            st = c.request({"type": "status"}, 10)
            assert st["source"]["state"] == "retrying", st
            time.sleep(0.5)
        pulse.server.send_signal(signal.SIGCONT)
        stopped = False
        c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] == "running", 30,
                   "source running again")
        c.lines()
        c.buf = b""
        c.wait_for(lambda m: m["type"] == "level", 10, "levels after SIGCONT")
        assert d.stop() == 0

        # Started while the server is stopped: the first open hangs on the
        # threadpool, with fd 2 hushed for the host libraries' chatter.
        # drsnd's own log lines still come out at once (they used to wait in
        # the hush's capture until the open returned).
        pulse.server.send_signal(signal.SIGSTOP)
        stopped = True
        d = Daemon(source="pa:pulse", env=pulse.env, sock_name="hung.sock").wait_listening()
        c = d.client()
        time.sleep(1)
        assert c.request({"type": "status"}, 10)["source"]["state"] == "starting"
        d.p.send_signal(signal.SIGHUP)
        end = time.time() + 15
        while "SIGHUP: reloading" not in d.stderr():
            assert time.time() < end, "no log line while the open hangs:\n" + d.stderr()[-2000:]
            time.sleep(0.1)
        assert c.request({"type": "status"}, 10)["source"]["state"] == "starting"   # still hung
        pulse.server.send_signal(signal.SIGCONT)
        stopped = False
        c.request({"type": "subscribe", "events": ["level"]})
        c.wait_for(lambda m: m["type"] == "level", 30, "levels once the server goes on")
        assert d.stop() == 0
    finally:
        if stopped:
            pulse.server.send_signal(signal.SIGCONT)
        pulse.kill()


def test_unplugged_device_retries_do_not_grow():
    """A microphone that stays unplugged for days: every retry runs
    Pa_Initialize, whose ALSA probing loaded and unloaded some 60 libraries
    (alsa-lib's a52 plugin -> libavcodec), leaking their constructors'
    memory each time (~13 kB per retry). Retry every 10 ms and compare the
    lowest RSS of two 2 s windows, per retry made in between. ASan's
    allocator keeps freed pages, so there LeakSanitizer judges at exit
    (Pulse() turns it off for the tests that open a device).
    The journal gets one warning for it, not one per retry (the rest are
    info; a reminder comes every 10 minutes)."""
    tmp = os.environ["TMPDIR"]
    pulse = Pulse(tmp)   # no server: its environment only keeps the user's away
    pulse.env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=1"
    with open(DRSND, "rb") as f:
        asan = b"__asan_init" in f.read()
    d = Daemon("--set", "audio.retry_min_ms=10", "--set", "audio.retry_max_ms=10", model="",
               source="pa:no-such-microphone", env=pulse.env, log_level="info").wait_listening()

    def low_rss(seconds):
        end, low = time.time() + seconds, None
        while time.time() < end:
            r = d.rss_kb()
            low = r if low is None else min(low, r)
            time.sleep(0.02)
        return low

    def retries():
        return d.stderr().count("no input device whose name contains 'no-such-microphone'")

    low_rss(3)   # the first retries load what stays
    a, n_a = low_rss(2), retries()
    time.sleep(8)
    b, n_b = low_rss(2), retries()
    per = (b - a) / max(1, n_b - n_a)
    log("%d retries, lowest RSS %d -> %d kB: %.2f kB per retry" % (n_b - n_a, a, b, per))
    assert n_b - n_a >= 20, d.stderr()[-2000:]
    assert asan or per < 3, "RSS grows by %.1f kB per retry" % per
    warned = [ln for ln in d.stderr().splitlines() if "warning:" in ln and "no-such-microphone" in ln]
    assert len(warned) == 1, "%d retry warnings, want 1: %s" % (len(warned), warned[:3])
    assert d.stop() == 0, d.stderr()[-3000:]


def stereo_mic(pulse=None, fmt="s16le", blocks=None):
    """A PulseAudio server (pulse, or a new one) with a 2-channel source
    "stereo" (a pipe source) that records 0.1 s blocks of a 440 Hz tone at
    -20 dBFS RMS on the left and zeros on the right, fed in real time:
    returns (pulse, stop), stop() ends the feed. fmt: the source's sample
    format; blocks(k): the k-th block's bytes instead."""
    pulse = pulse or Pulse(os.environ["TMPDIR"])
    pulse.start()
    fifo = os.path.join(tempfile.mkdtemp(prefix="fifo-"), "fifo")
    subprocess.run(["pactl", "load-module", "module-pipe-source", "source_name=stereo", "file=" + fifo,
                    "rate=16000", "channels=2", "format=" + fmt, "channel_map=front-left,front-right"],
                   env=pulse.env, check=True, stdout=subprocess.DEVNULL)
    fd = os.open(fifo, os.O_WRONLY)
    amp = 0.1 * math.sqrt(2)
    block = b"".join(struct.pack("<hh", int(32767 * amp * math.sin(2 * math.pi * 440 * i / 16000)), 0)
                     for i in range(1600))
    ev = threading.Event()

    def feed():
        t, k = time.time(), 0
        while not ev.is_set():
            try:
                os.write(fd, blocks(k) if blocks else block)
            except OSError:
                return
            t, k = t + 0.1, k + 1
            time.sleep(max(0.0, t - time.time()))
    th = threading.Thread(target=feed, daemon=True)
    th.start()

    def stop():
        if not ev.is_set():
            ev.set()
            os.close(fd)
            th.join(5)
    return pulse, stop


def test_stereo_mic_channels():
    """A USB microphone that reports 2 channels and records on the left one
    (a 2-channel PulseAudio pipe source, right channel zero): with channel =
    mix drsnd hears the left one at its own level, not 6 dB down (drsnd
    asked for mono, and the server averaged in the dead channel); channel =
    2 is the dead one, channel = 1 the live one; a channel the device does
    not have is not taken (pulse offers 32 channels: a 2-channel source's
    channel 3 is silence, as the server maps it)."""
    pulse, stop = stereo_mic()
    env = dict(pulse.env, PULSE_SOURCE="stereo")

    def level(channel):
        d = Daemon("--set", "audio.channel=" + channel, source="pa:pulse", env=env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level"]})
        got = []
        end = time.time() + 20
        while len(got) < 10 and time.time() < end:
            m = c.recv(0.5)
            if m and m["type"] == "level":
                got.append(m["rms_dbfs"])
        assert d.stop() == 0, d.stderr()[-2000:]
        assert len(got) == 10, (channel, got, d.stderr()[-2000:])
        v = sorted(x if x is not None else -200.0 for x in got[5:])[2]   # settled: the median of the last 5
        log("channel = %s: level %.1f dBFS" % (channel, v))
        return v
    try:
        left, right, mix = level("1"), level("2"), level("mix")
        assert -23 < left < -17, left
        assert right < -80, right
        assert abs(mix - left) < 1.0, "mix %.1f dBFS, the live channel %.1f" % (mix, left)
    finally:
        stop()
        pulse.kill()


def test_missing_channel_is_reported():
    """[audio] channel = 3 on a 2-channel PulseAudio source, through the
    ALSA pulse device, which says it has 32 channels and fills channel 3 with
    zeros: drsnd cannot refuse it at open (PortAudio sees 32), but after 3 s
    of channel 3 all zeros while channel 1 is not it warns once, naming the
    channel, the device and its 32; the status says which channels are used
    (source.channels, device_channels) and which are silent. The same after
    the sound server is lost and back (a reopened stream), without a second
    warning. With channel = 1: no warning, no silent channel."""
    pulse, stop = stereo_mic()
    env = dict(pulse.env, PULSE_SOURCE="stereo")
    try:
        d = Daemon("--set", "audio.channel=1", source="pa:pulse", env=env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level"]})
        c.wait_for(lambda m: m["type"] == "level", 10, "levels")
        time.sleep(4)
        src = c.request({"type": "status"})["source"]
        assert d.stop() == 0, d.stderr()[-2000:]
        assert src["channels"] == [1] and src["device_channels"] == 2 and src["silent_channels"] == [], src
        assert "digital silence" not in d.stderr(), d.stderr()[-2000:]

        d = Daemon("--set", "audio.channel=3", "--set", "audio.retry_min_ms=200",
                   "--set", "audio.retry_max_ms=1000", source="pa:pulse", env=env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["status"]})
        want = ("pa:pulse: channel 3 ([audio] channel) has been digital silence for 3 s while channel 1 "
                "carries sound: 'pulse' says it has 32 input channels")
        end = time.time() + 15
        while want not in d.stderr() and time.time() < end:
            time.sleep(0.2)
        assert want in d.stderr(), d.stderr()[-2000:]
        src = c.request({"type": "status"})["source"]
        log("channel = 3 of 2: status source %s" % src)
        assert src["state"] == "running" and src["channels"] == [3] and src["device_channels"] == 3, src
        assert src["silent_channels"] == [3], src
        # the device lost and back: a new stream, the same channels
        stop()
        pulse.kill()
        c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] == "retrying", 10, "retrying")
        time.sleep(1)
        pulse, stop = stereo_mic(pulse)
        c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] == "running", 20, "running again")
        time.sleep(4)
        src = c.request({"type": "status"})["source"]
        assert src["restarts"] >= 1 and src["channels"] == [3] and src["silent_channels"] == [3], src
        assert d.stop() == 0, d.stderr()[-2000:]
        assert d.stderr().count("digital silence") == 1, d.stderr()[-3000:]
    finally:
        stop()
        pulse.kill()


def test_float_device_nan_and_inf():
    """A float32 2-channel device with a broken driver: its right channel is
    NaN and infinities all the time, its left one a 440 Hz tone at -20 dBFS
    RMS with a NaN, +Inf and -Inf every 100 samples for the first 3 s. With
    channel = mix drsnd hears the left channel at its level (the bad samples
    are taken as 0 before the downmix, as for files: they used to turn every
    mixed sample into NaN, then 0, and drsnd heard silence for as long as the
    channel stayed broken); every level is a number; source.bad_samples
    counts them; one warning in the log, not one per sample."""
    amp = 0.1 * math.sqrt(2)
    nan, inf = float("nan"), float("inf")
    tone = [amp * math.sin(2 * math.pi * 440 * i / 16000) for i in range(1600)]

    def blocks(k):
        left = list(tone)
        if k < 30:
            for i in range(0, 1600, 100):
                left[i:i + 3] = [nan, inf, -inf]
        right = [(nan, inf, -inf)[i % 3] for i in range(1600)]
        return struct.pack("<3200f", *[v for lr in zip(left, right) for v in lr])
    pulse, stop = stereo_mic(fmt="float32le", blocks=blocks)
    env = dict(pulse.env, PULSE_SOURCE="stereo")
    try:
        # at the source's rate: the sound server's resampler would spread
        # the bad samples over the good ones before drsnd sees them
        d = Daemon("--set", "audio.device_rate=16000", source="pa:pulse", env=env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level", "detection"]})
        got = []
        end = time.time() + 25
        while len(got) < 60 and time.time() < end:
            m = c.recv(0.5)
            if m and m["type"] == "level":
                got.append(m["rms_dbfs"])
        src = c.request({"type": "status"})["source"]
        assert d.stop() == 0, d.stderr()[-2000:]
        assert len(got) == 60, (got, d.stderr()[-2000:])
        v = sorted(x if x is not None else -200.0 for x in got[-10:])[5]
        log("float device, right channel NaN/Inf: level %.1f dBFS, bad_samples %d" % (v, src["bad_samples"]))
        assert all(x is not None for x in got), got
        assert -23 < v < -17, got
        assert src["bad_samples"] >= 3 * 16000, src
        assert d.stderr().count("NaN, infinite or out-of-range samples") == 1, d.stderr()[-2000:]
    finally:
        stop()
        pulse.kill()


def test_muted_microphone_is_warned():
    """The commonest first-run failure: the capture is muted. The sink's
    monitor, muted in PulseAudio (pactl set-source-mute), delivers exact
    zeros through the ALSA pulse device while the keywords play: after 10 s
    one warning names the source, the device, the causes and the fix, and the
    status says "silent"; unmuted, the keywords come through, a notice says
    so, and the status no longer says "silent"."""
    tmp = os.environ["TMPDIR"]
    pulse = Pulse(tmp)
    pulse.start()
    try:
        subprocess.run(["pactl", "set-source-mute", "drsn.monitor", "1"], env=pulse.env, check=True)
        d = Daemon(source="pa:pulse", env=pulse.env).wait_listening()
        c = d.client()
        c.request({"type": "subscribe", "events": ["level"]})
        c.wait_for(lambda m: m["type"] == "level", 15, "first level event")
        player = pulse.play(SAMPLE)
        want = ("drsnd: warning: pa:pulse: the capture from 'pulse' has been digital silence (every sample "
                "exactly 0) for 10 s: the keyword spotter hears nothing. The input is muted, or it is the "
                "wrong device: unmute it (alsamixer, F4: capture, M; pactl set-source-mute @DEFAULT_SOURCE@ 0), "
                "or pick another device (drsnd --list-devices")
        end = time.time() + 20
        while want not in d.stderr() and time.time() < end:
            time.sleep(0.2)
        assert want in d.stderr(), d.stderr()[-2000:]
        assert player.wait(10) == 0
        src = c.request({"type": "status"})["source"]
        log("muted monitor while the keywords played: status %s"
            % {k: src[k] for k in ("state", "health", "peak_dbfs", "silence")})
        assert src["state"] == "running" and src["health"] == "silent" and src["silence"] >= 10, src
        assert src["peak_dbfs"] == -200, src
        subprocess.run(["pactl", "set-source-mute", "drsn.monitor", "0"], env=pulse.env, check=True)
        player = pulse.play(SAMPLE)
        end = time.time() + 15
        while "sound again after" not in d.stderr() and time.time() < end:
            time.sleep(0.2)
        assert player.wait(15) == 0
        src = c.request({"type": "status"})["source"]
        assert d.stop() == 0, d.stderr()[-2000:]
        err = d.stderr()
        assert re.search(r"drsnd: notice: pa:pulse: sound again after \d+\.\d s of digital silence", err), err[-2000:]
        assert err.count("digital silence") == 2, err[-3000:]   # the warning, the notice
        assert src["health"] != "silent" and src["silence"] < 1, src
        log("unmuted: a notice; status health %s" % src["health"])
    finally:
        pulse.kill()


if __name__ == "__main__":
    main([test_device_selection, test_lost_audio_is_counted_and_logged, test_live_capture_and_device_loss,
          test_box_too_slow_for_real_time, test_silent_device_is_not_running,
          test_restarts_count_audio_not_opens, test_hung_sound_server,
          test_unplugged_device_retries_do_not_grow, test_long_stop_counts_what_the_server_dropped,
          test_stereo_mic_channels, test_missing_channel_is_reported, test_float_device_nan_and_inf,
          test_host_suspend_resets_pipeline_and_recorder, test_muted_microphone_is_warned])
