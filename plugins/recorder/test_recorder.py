"""The recorder plugin end to end: drsnd with a file source of
samples/keywords-clean.wav (plus 2 s of silence, so the last keyword's
post-roll exists), a trained model, and the recorder loaded.

  1. one WAV (and one -denoised.wav) per detection, named
     <seq>-<UTC time>-<label>-<score>.wav; its length is the detection's window plus
     pre- and post-roll, and its samples are the source's samples at those
     stream times (max difference <= 1 LSB, correlation > 0.9999);
  2. max_mb: the oldest recordings are deleted first, only the recorder's own
     files (a foreign file of the same directory stays);
  3. a bad key is refused with a message naming it and its place, and drsnd
     runs on without the plugin;
  4. a full disk (RLIMIT_FSIZE in the test): every clip that does not fit is
     logged with the reason, no .part file is left behind, drsnd runs on;
  5. at start, its own .part files (a crash mid-write) are deleted, nothing else;
  6. (recorder-drive, no daemon) a sample rate change while a clip is being
     written re-sizes the buffers once, logged once, and later clips have the
     new rate; a rate whose buffers do not fit in memory turns recording off
     cleanly (logged once, no use of freed buffers) until the rate changes;
  7. (recorder-drive) a wall clock that steps back (a box without an RTC
     booting in 1970, NTP): the clips keep their order (the sequence number,
     continued across restarts), the cap deletes the oldest, names never
     collide; old-pattern names (no sequence number) go first;
  8. (recorder-drive) a host that set a decimal-comma locale (de_DE.UTF-8,
     which .ci/deps generates): the score in the name is still "0.90";
  9. (recorder-drive) a break in the stream (DRSN_PLUGIN_EVENT_RESET: a host
     suspend): no clip holds audio from both sides of it.

usage: test_recorder.py RECORDER_SO MODEL   (DRSN_TEST_MODEL overrides MODEL)
"""
import glob
import os
import re
import sys
import tempfile
import time
import wave

import numpy as np

ROOT = os.environ.get("DRSN_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "daemon"))
import drsndtest as dt  # noqa: E402

MODULE = os.path.abspath(sys.argv[1])
MODEL = os.environ.get("DRSN_TEST_MODEL") or sys.argv[2]
RATE = 16000
PRE_MS, POST_MS = 1000, 800
NAME = re.compile(r"^(?P<seq>\d{8,18})-\d{8}T\d{6}\.\d{3}Z-(?P<label>[A-Za-z0-9_]+)-(?P<score>\d\.\d\d)(?P<dn>-denoised)?\.wav$")


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def padded_source(tmp):
    rate, x = read_wav(os.path.join(ROOT, "samples", "keywords-clean.wav"))
    assert rate == RATE
    x = np.concatenate([x, np.zeros(2 * RATE)])
    path = os.path.join(tmp, "source.wav")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(x.astype("<i2").tobytes())
    return path, x


def config(tmp, out, **keys):
    path = os.path.join(tmp, "drsnd-%d.conf" % int(time.time() * 1e6))
    kv = {"dir": out, "pre_roll_ms": PRE_MS, "post_roll_ms": POST_MS, "denoised": "yes"}
    kv.update(keys)
    with open(path, "w") as f:
        f.write("[plugins]\ndir = %s\nload = recorder\n\n[plugin recorder]\n" % os.path.dirname(MODULE))
        for k, v in kv.items():
            f.write("%s = %s\n" % (k, v))
    return path


def own_files(out):
    return sorted(n for n in os.listdir(out) if NAME.match(n))


def test_one_clip_per_detection():
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    src, x = padded_source(tmp)
    d = dt.Daemon("--realtime", model=MODEL, source="file:" + src, config=config(tmp, out))
    d.wait_listening()
    c = d.client()
    c.request({"type": "subscribe", "events": ["detection"]})
    st = c.request({"type": "status"})
    assert st["plugins"] == ["recorder"], st
    # every detection of the stream (the file is 12.2 s at real time)
    dets = []
    end = time.time() + 60
    while time.time() < end:
        m = c.recv(1)
        if m and m["type"] == "detection":
            dt.log("detection", m)
            dets.append(m)
        if m is None and dets and "end of file" in d.stderr():
            break
    labels = [m["label"] for m in dets]
    truth = ["yes", "no", "stop", "go", "left", "right"]
    assert [l for l in labels if l in truth] == truth, labels
    # the last clip is written once its post-roll has streamed in
    end = time.time() + 20
    while time.time() < end and len([n for n in own_files(out) if "-denoised" not in n]) < len(dets):
        time.sleep(0.2)
    assert d.stop() == 0
    err = d.stderr()
    assert "plugin recorder (%s): loaded" % MODULE in err, err
    files = own_files(out)
    dt.log("files:", files)
    raw = [n for n in files if not NAME.match(n).group("dn")]
    assert len(raw) == len(dets) and len(files) == 2 * len(dets), files
    assert not glob.glob(os.path.join(out, "*.part")), os.listdir(out)
    for m, name in zip(dets, raw):
        g = NAME.match(name)
        assert g.group("label") == m["label"] and g.group("score") == "%.2f" % m["score"], (name, m)
        frm = max(0, round((m["start"] * 1000 - PRE_MS) * RATE / 1000))
        to = round((m["end"] * 1000 + POST_MS) * RATE / 1000)
        rate, y = read_wav(os.path.join(out, name))
        assert rate == RATE
        window = m["end"] - m["start"]
        dt.log("%s: %d samples, expected %d (pre %d ms + window %.3f s + post %d ms)"
               % (name, len(y), to - frm, PRE_MS, window, POST_MS))
        assert abs(len(y) - (to - frm)) <= 1, (len(y), to - frm)
        ref = x[frm:frm + len(y)]
        diff = float(np.max(np.abs(y - ref)))
        corr = float(np.dot(y, ref) / np.sqrt(np.dot(y, y) * np.dot(ref, ref)))
        dt.log("  max |diff| %g LSB, correlation %.6f" % (diff, corr))
        assert diff <= 1 and corr > 0.9999, (diff, corr)
        # the denoised twin: same span, mostly the same speech
        rate, yd = read_wav(os.path.join(out, name[:-4] + "-denoised.wav"))
        assert len(yd) == len(y), (len(yd), len(y))
        cd = float(np.dot(yd, ref) / np.sqrt(np.dot(yd, yd) * np.dot(ref, ref) + 1e-9))
        dd = float(np.max(np.abs(yd - y)))
        dt.log("  denoised: correlation with the source %.6f, max |denoised - raw| %g LSB" % (cd, dd))
        assert cd > 0.8 and dd > 0, (cd, dd)   # the denoiser's output, not a copy


def test_size_cap_deletes_oldest_own_files():
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    src, _ = padded_source(tmp)
    # an old recording of ours and a foreign file: only the first may go
    old = os.path.join(out, "20000101T000000.000Z-yes-0.99.wav")
    with open(old, "wb") as f:
        f.write(b"\0" * 300000)
    foreign = os.path.join(out, "notes-0.99.wav")
    with open(foreign, "wb") as f:
        f.write(b"\0" * 2000000)
    d = dt.Daemon("--no-realtime", "--exit-on-eof", model=MODEL, source="file:" + src,
                  config=config(tmp, out, max_mb=1))
    rc = d.p.wait(120)
    err = d.stderr()
    assert rc == 0, err
    files = own_files(out)
    dt.log("after the cap:", files)
    written = re.findall(r"plugin recorder: wrote \S+/(\S+)\.wav", err)
    n_det = len(re.findall(r"drsnd: info: detection: ", err))
    assert n_det >= 6 and len(written) == n_det, err
    total = sum(os.path.getsize(os.path.join(out, n)) for n in files)
    assert total <= 1024 * 1024, total
    assert not os.path.exists(old)
    assert os.path.getsize(foreign) == 2000000
    # what is left is the newest: a suffix of what was written, the last one whole
    left = sorted({NAME.match(n).group(0).replace("-denoised", "") for n in files})
    assert left and left[-1] == written[-1] + ".wav", (left, written)
    assert [w + ".wav" for w in written[-len(left):]] == left, (left, written)
    assert "deleted older recordings over max_mb" in err


def test_bad_key_refused_daemon_runs_on():
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    cfg = config(tmp, out)
    d = dt.Daemon("--set", "plugin recorder.colour=red", model=MODEL, source="file:" + padded_source(tmp)[0],
                  config=cfg)
    d.wait_listening()
    c = d.client()
    st = c.request({"type": "status"})
    assert st["plugins"] == [], st
    assert d.stop() == 0
    err = d.stderr()
    want = ("plugin recorder (%s): create failed: command line: [plugin recorder] unknown key 'colour' "
            "(known: dir, pre_roll_ms, post_roll_ms, denoised, max_mb); drsnd runs on without it") % MODULE
    assert want in err, err
    # a directory that is not there: named with its place
    cfg = config(tmp, os.path.join(tmp, "missing"))
    d = dt.Daemon(model=MODEL, source="file:" + padded_source(tmp)[0], config=cfg)
    d.wait_listening()
    assert d.stop() == 0
    assert "%s:6: [plugin recorder] dir: '%s' is not a writable directory" % (cfg, os.path.join(tmp, "missing")) \
        in d.stderr(), d.stderr()


def test_disk_full_leaves_no_part_files():
    """Files over RLIMIT_FSIZE fail with EFBIG like a full disk fails with
    ENOSPC (SIGXFSZ ignored). 20 bytes: the WAV header written by sf_open
    fails (the old code left the .part file sf_open had made); 30000 bytes:
    the samples fail (the old message said "short write", not why)."""
    import resource
    import signal
    import subprocess
    tmp = tempfile.mkdtemp()
    src, _ = padded_source(tmp)
    for limit, why in ((20, "File too large"), (30000, "short write")):
        out = os.path.join(tmp, "rec-%d" % limit)
        os.mkdir(out)
        cfg = config(tmp, out, denoised="no")

        def fsize_limit(limit=limit):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        # stderr to a pipe: the limit applies to a log file too
        p = subprocess.run([dt.DRSND, "--config", cfg, "--model", MODEL, "--source", "file:" + src,
                            "--socket", os.path.join(tmp, "s-%d.sock" % limit), "--log-level", "info",
                            "--set", "audio.realtime=no", "--set", "audio.on_eof=exit",
                            "--set", "daemon.status_interval_ms=0"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           preexec_fn=fsize_limit, timeout=120)
        err = p.stderr.decode(errors="replace")
        failed = re.findall(r"plugin recorder: (\S+): not written: (.*)", err)
        dt.log("limit %d bytes: exit %d, %d clips not written, e.g. %s; left: %s"
               % (limit, p.returncode, len(failed), failed[:1], os.listdir(out)))
        assert p.returncode == 0, err[-3000:]
        assert len(failed) >= 6 and "plugin recorder: wrote " not in err, err[-3000:]
        assert all(why in msg and "File too large" in msg for _, msg in failed), failed
        assert not os.listdir(out), os.listdir(out)


def test_stale_part_files_deleted_at_start():
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    stale = ["20261128T101502.123Z-yes-0.93.wav.part", "20261128T101502.123Z-yes-0.93-denoised.wav.part"]
    keep = ["20261128T101502.123Z-yes-0.93.wav", "notes.wav.part", "20261128T101502.123Z-yes.wav.part"]
    for n in stale + keep:
        with open(os.path.join(out, n), "wb") as f:
            f.write(b"RIFF")
    # --check-config creates the plugin to check its keys: it deletes nothing
    r = dt.subprocess.run([dt.DRSND, "--check-config", "--config", config(tmp, out), "--model", MODEL],
                          capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "OK" in r.stdout, (r.stdout, r.stderr)
    assert sorted(os.listdir(out)) == sorted(stale + keep), os.listdir(out)
    d = dt.Daemon(model=MODEL, source="file:" + padded_source(tmp)[0], config=config(tmp, out))
    d.wait_listening()
    assert d.stop() == 0
    left = sorted(os.listdir(out))
    dt.log("left:", left)
    # (a clip of the stream may have been written meanwhile on a slow machine)
    assert set(keep) <= set(left) and not set(stale) & set(left), left
    assert "plugin recorder: deleted 2 unfinished .part file(s) in %s" % out in d.stderr(), d.stderr()


def test_reload_keeps_plugins_and_check_config():
    """SIGHUP: the model is handed over (recording goes on), changed plugin
    keys need a restart (logged). --check-config sees missing modules and
    stray sections."""
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    src, _ = padded_source(tmp)
    cfg = config(tmp, out)
    d = dt.Daemon("--realtime", model=MODEL, source="file:" + src, config=cfg)
    d.wait_listening()
    c = d.client()
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "a") as f:
        f.write("max_mb = 7\n")
    r = c.request({"type": "reload"})
    assert r["ok"] and r["message"].endswith("; needs a restart to apply: [plugin recorder]"), r
    # back to what runs, with a comment line that moves every key's place:
    # no warning
    with open(cfg, "w") as f:
        f.write("; moved\n" + text)
    r = c.request({"type": "reload"})
    assert r["ok"], r
    st = c.request({"type": "status"})
    assert st["plugins"] == ["recorder"] and st["reloads"] == 2, st
    end = time.time() + 40
    while time.time() < end and "end of file" not in d.stderr():
        time.sleep(0.2)
    time.sleep(POST_MS / 1000 + 0.5)
    assert d.stop() == 0
    err = d.stderr()
    assert err.count("reload: needs a restart to apply: [plugin recorder]") == 1, err
    wrote = re.findall(r"plugin recorder: wrote ", err)
    assert len(wrote) >= 6 and len(wrote) == len(re.findall(r"drsnd: info: detection: ", err)), err

    # --check-config: a module that is not in dir, a section nobody loads
    bad = os.path.join(tmp, "check.conf")
    with open(bad, "w") as f:
        f.write("[plugins]\ndir = %s\nload = recorder, nosuch\n[plugin stray]\nx = 1\n"
                % os.path.dirname(MODULE))
    r = dt.subprocess.run([dt.DRSND, "--check-config", "--config", bad, "--model", MODEL],
                          capture_output=True, text=True, timeout=60)
    dt.log(r.stderr)
    assert r.returncode == 1, r
    assert ("%s:3: [plugins] load: no plugin 'nosuch' in %s (%s/nosuch.so: No such file or directory)"
            % (bad, os.path.dirname(MODULE), os.path.dirname(MODULE))) in r.stderr, r.stderr
    assert ("warning: %s:5: [plugin stray]: 'stray' is not in [plugins] load: its keys are not used" % bad) \
        in r.stderr, r.stderr
    r = dt.subprocess.run([dt.DRSND, "--config", bad, "--list-plugins"], capture_output=True, text=True,
                          timeout=60)
    dt.log(r.stdout)
    assert r.returncode == 0, r
    assert re.search(r"^  recorder +\(load\) +writes the audio around each detection", r.stdout, re.M), r.stdout
    assert re.search(r"^  nosuch +\(load\) +missing: no ", r.stdout, re.M), r.stdout
    # no config: the default folder, absent in a build tree, is no plugin (not an error);
    # a folder the config names must exist
    empty = os.path.join(tmp, "empty.conf")
    open(empty, "w").close()
    r = dt.subprocess.run([dt.DRSND, "--config", empty, "--list-plugins"], capture_output=True, text=True,
                          timeout=60)
    dt.log(r.stdout, r.stderr)
    assert r.returncode == 0, r
    folder = re.match(r"plugins in (.*) \(ABI", r.stdout).group(1)
    assert os.path.isdir(folder) or "none (no such folder: no plugin is installed" in r.stdout, r.stdout
    with open(empty, "w") as f:
        f.write("[plugins]\ndir = %s/nosuchdir\n" % tmp)
    r = dt.subprocess.run([dt.DRSND, "--config", empty, "--list-plugins"], capture_output=True, text=True,
                          timeout=60)
    assert r.returncode == 1 and "[plugins] dir %s/nosuchdir: No such file or directory" % tmp in r.stderr, r
    # the plugin is created (not started): its keys are checked as at a
    # start, each error names its line, exit 1
    for keys, want in (("dir = /nonexistent\n",
                        ":5: [plugin recorder] dir: '/nonexistent' is not a writable directory"),
                       ("dir = %s\npre_roll_ms = 99999\n" % out,
                        ":6: [plugin recorder] pre_roll_ms: '99999' is not an integer in [0, 30000]"),
                       ("dir = %s\ndenoise = yes\n" % out,
                        ":6: [plugin recorder] unknown key 'denoise' (known: dir, pre_roll_ms, post_roll_ms, "
                        "denoised, max_mb); did you mean 'denoised'?"),
                       ("", "[plugin recorder] dir: required")):
        with open(bad, "w") as f:
            f.write("[plugins]\ndir = %s\nload = recorder\n[plugin recorder]\n%s"
                    % (os.path.dirname(MODULE), keys))
        r = dt.subprocess.run([dt.DRSND, "--check-config", "--config", bad, "--model", MODEL],
                              capture_output=True, text=True, timeout=60)
        dt.log(r.stderr.strip())
        assert r.returncode == 1 and "OK" not in r.stdout, (keys, r.stdout, r.stderr)
        assert "plugin recorder: " + (bad if want.startswith(":") else "") + want in r.stderr, (want, r.stderr)
    with open(bad, "w") as f:
        f.write("[plugins]\ndir = %s\nload = recorder\n[plugin recorder]\ndir = %s\n"
                % (os.path.dirname(MODULE), out))
    r = dt.subprocess.run([dt.DRSND, "--check-config", "--config", bad, "--model", MODEL],
                          capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "OK" in r.stdout, (r.stdout, r.stderr)


def rec_dir(name="rec"):
    """A new empty folder for the clips, in a new temp folder."""
    out = os.path.join(tempfile.mkdtemp(), name)
    os.mkdir(out)
    return out


def drive(out, keys, steps, env=None):
    """recorder-drive (plugins/recorder/recorder_drive.c): exit code, stderr."""
    r = dt.subprocess.run([os.environ["RECORDER_DRIVE"], MODULE, out] + keys + ["--"] + steps,
                          capture_output=True, text=True, timeout=120, env=env)
    dt.log(r.stderr.strip())
    return r.returncode, r.stderr


def test_rate_change_while_writing():
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    # a clip at 16 kHz is submitted (its write is queued), then 50 blocks at
    # 8 kHz come before the loop can finish it: the old plugin logged two
    # lines per block ("cannot re-plan ... audio ignored" as an error)
    rc, err = drive(out, ["pre_roll_ms=100", "post_roll_ms=100"],
                    ["audio:16000:0.5", "det:0.2:0.3", "audio:8000:0.5", "run",
                     "audio:8000:0.5", "det:1.2:1.3", "audio:8000:0.3", "run"])
    assert rc == 0, err
    assert "[error]" not in err, err
    assert err.count("audio at 8000 Hz") == 2, err   # waiting for the write, then re-sized
    assert "re-sizing the buffers once the 1 recording(s) being written are done" in err, err
    assert "audio at 8000 Hz (was 16000 Hz): buffers re-sized" in err, err
    files = own_files(out)
    assert len(files) == 2, files
    for name, rate in zip(files, (16000, 8000)):
        r, y = read_wav(os.path.join(out, name))
        assert r == rate and len(y) == round(0.3 * rate), (name, r, len(y))


def test_pre_roll_not_across_reset():
    # a host suspend (drsnd: DRSN_PLUGIN_EVENT_RESET): the audio of before it,
    # minutes or hours ago, is never glued to the audio after it in one clip.
    # The old plugin wrote the clip of a detection 50 ms after the resume with
    # 1 s of pre-roll from before the suspend (2.05 s instead of 1.1 s), and a
    # clip waiting for its post-roll at the suspend got it from after (2.1 s).
    out = rec_dir()
    rc, err = drive(out, ["pre_roll_ms=1000", "post_roll_ms=1000"],
                    ["audio:16000:2.6", "det:2.5:2.6:before", "audio:16000:0.4", "reset",
                     "audio:16000:0.05", "det:3.05:3.1:after", "audio:16000:1.2", "run"])
    assert rc == 0, err
    assert "[error]" not in err and "[warn]" not in err, err
    files = own_files(out)
    assert len(files) == 2 and "-before-" in files[0] and "-after-" in files[1], files
    # before: [1.5, 3.6) cut at the break (3.0); after: [2.05, 4.1) from 3.0 on
    for name, want in zip(files, (1.5, 1.1)):
        r, y = read_wav(os.path.join(out, name))
        assert r == 16000 and len(y) == round(want * r), (name, len(y) / r, want)
    # the same steps without the reset: the clips reach across (the test's own check)
    out2 = rec_dir()
    rc, err = drive(out2, ["pre_roll_ms=1000", "post_roll_ms=1000"],
                    ["audio:16000:3.05", "det:2.5:2.6:before", "det:3.05:3.1:after", "audio:16000:1.2", "run"])
    assert rc == 0, err
    lens = [len(read_wav(os.path.join(out2, n))[1]) for n in own_files(out2)]
    assert lens == [round(2.1 * 16000), round(2.05 * 16000)], lens


def test_labels_of_ones_own_in_file_names():
    """A model of one's own names its labels as it likes: the clip's name
    keeps a label's letters in any script (UTF-8, cut at a whole character
    after 48 bytes), blanks and everything else a file name should not hold
    ('/', '.', '-') become '_': no path out of the folder, names ours."""
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    ko = "\u3053\u3093\u306b\u3061\u306f"
    labels = [ko, "../../etc/passwd", "hey box", "Licht an", "\u3042" * 20, "a\u00e9-b"]
    steps = ["audio:16000:0.3"]
    for i, label in enumerate(labels):
        steps += ["det:%.1f:%.1f:%s" % (0.1 + i * 0.3, 0.2 + i * 0.3, label), "audio:16000:0.3", "run"]
    rc, err = drive(out, ["pre_roll_ms=100", "post_roll_ms=100"], steps)
    assert rc == 0, err
    assert os.listdir(tmp) == ["rec"], os.listdir(tmp)
    names = sorted(os.listdir(out))
    got = [re.match(r"^\d{8,18}-\d{8}T\d{6}\.\d{3}Z-(.+)-0\.90\.wav$", n).group(1) for n in names]
    assert got == [ko, "______etc_passwd", "hey_box", "Licht_an", "\u3042" * 16, "a\u00e9_b"], got


def test_score_in_name_in_comma_locale():
    """A plugin host other than drsnd may have called setlocale(LC_ALL, "")
    in a German locale: the clip's name keeps "-0.90", not "-0,90"."""
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    # whole seconds: the drive reads the steps after locale: in that locale
    rc, err = drive(out, ["pre_roll_ms=100", "post_roll_ms=100"],
                    ["locale:de_DE.UTF-8", "audio:16000:1", "det:0:1", "audio:16000:1", "run"])
    if rc == 3 and "is not installed" in err:
        msg = "locale de_DE.UTF-8 is not installed (Debian's locales; .ci/deps generates it)"
        assert os.environ.get("CI") != "true", msg + " (CI=true)"
        dt.log("--- skip: " + msg)
        return
    assert rc == 0, err
    names = sorted(os.listdir(out))
    assert len(names) == 1, names
    assert re.match(r"^\d{8,18}-\d{8}T\d{6}\.\d{3}Z-yes-0\.90\.wav$", names[0]), names


def test_planted_symlinks_and_file_mode():
    """Someone who may write in the recordings' folder plants symlinks at the
    names the recorder will use (the time, label and score are predictable):
    the old plugin wrote the clip through NAME.wav.part into the link's
    target (any file drsnd may write; at start it deletes such .part names,
    so they are planted after), and the size cap counted and deleted
    symlinks by their target's size. Now the link is replaced by a new file,
    the target is untouched; the cap ignores symlinks. Recordings are not
    readable by others (the old ones were 0644 under umask 022)."""
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    victim = os.path.join(tmp, "victim.conf")
    with open(victim, "w") as f:
        f.write("precious\n")
    big = os.path.join(tmp, "big.bin")
    with open(big, "wb") as f:
        f.write(b"\0" * 3 * 1024 * 1024)
    # recorder-drive's wall clock starts at 2025-12-01T00:00:00Z; the
    # detection comes after 0.5 s of audio, score 0.90, label "yes"; the
    # first clip in a folder without one is number 0
    name = "00000000-20251201T000000.500Z-yes-0.90"
    old_link = os.path.join(out, "20251130T000000.000Z-yes-0.90.wav")   # "oldest": first to go
    os.symlink(big, old_link)
    umask = os.umask(0o022)
    try:
        rc, err = drive(out, ["pre_roll_ms=100", "post_roll_ms=100", "max_mb=1"],
                        ["symlink:%s:%s.wav.part" % (victim, name),   # after start(): not stale
                         "audio:16000:0.5", "det:0.2:0.3", "audio:16000:0.5", "run"])
    finally:
        os.umask(umask)
    assert rc == 0, err
    with open(victim, "rb") as f:
        got = f.read()
    assert got == b"precious\n", "the symlink's target was written: %r..." % got[:12]
    assert os.path.islink(old_link) and os.path.getsize(big) == 3 * 1024 * 1024, os.listdir(out)
    files = own_files(out)
    dt.log("files:", files, "modes:", [oct(os.lstat(os.path.join(out, n)).st_mode) for n in files])
    assert name + ".wav" in files, (files, err)
    for n in (name + ".wav",):
        st = os.lstat(os.path.join(out, n))
        assert not os.path.islink(os.path.join(out, n)) and st.st_mode & 0o777 == 0o640, (n, oct(st.st_mode))
        r, y = read_wav(os.path.join(out, n))
        assert r == RATE and len(y) == round(0.3 * RATE), (n, r, len(y))
    assert not glob.glob(os.path.join(out, "*.part")), os.listdir(out)


def test_wall_clock_steps_back():
    """The old names began with the UTC time, and the size cap deleted the
    lowest name first: with the clock stepped back to 1970 (no RTC, or NTP)
    it deleted the newest clips and kept the older one, and two clips at the
    same wall time had one name (the second replaced the first)."""
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    # an old-pattern recording (no sequence number) dated in the future: still the oldest
    old = os.path.join(out, "20991231T000000.000Z-yes-0.99.wav")
    with open(old, "wb") as f:
        f.write(b"\0" * 1000)
    # 16.1 s clips, 515 kB: three do not fit in 1 MiB, two do
    keys = ["pre_roll_ms=8000", "post_roll_ms=8000", "max_mb=1", "denoised=no"]
    rc, err = drive(out, keys,
                    ["audio:16000:9", "det:8.5:8.6", "audio:16000:8.5", "run",      # A, 2025
                     "wall:0",                                                        # 1970 from here
                     "audio:16000:9", "det:26.0:26.1", "audio:16000:8.5", "run",    # B
                     "audio:16000:9", "det:43.5:43.6", "audio:16000:8.5", "run"])   # C
    assert rc == 0 and "[error]" not in err, err
    files = own_files(out)
    dt.log("after a step back to 1970:", files)
    assert not os.path.exists(old), files
    assert [n[:8] for n in files] == ["00000001", "00000002"], files   # A (0) went, B and C stayed
    assert [n[9:13] for n in files] == ["1970", "1970"], files
    # restart, the clock in 1970 again: the numbers go on from the highest,
    # and the cap deletes B, the oldest (C and D are "older" by the clock)
    rc, err = drive(out, keys, ["wall:0", "audio:16000:9", "det:8.5:8.6", "audio:16000:8.5", "run"])
    assert rc == 0 and "[error]" not in err, err
    files = own_files(out)
    dt.log("after a restart:", files)
    assert [n[:8] for n in files] == ["00000002", "00000003"], files
    assert files[1].startswith("00000003-19700101T00000"), files
    r, y = read_wav(os.path.join(out, files[1]))
    assert r == RATE and len(y) == round(16.1 * RATE), (r, len(y))
    # two clips with one wall time: two files
    out2 = os.path.join(tmp, "rec2")
    os.mkdir(out2)
    rc, err = drive(out2, ["pre_roll_ms=100", "post_roll_ms=100"],
                    ["audio:16000:1", "det:0.5:0.6", "audio:16000:0.5", "run",
                     "wall:1764547201", "det:1.0:1.1", "audio:16000:0.5", "run"])
    assert rc == 0 and "[error]" not in err, err
    files = own_files(out2)
    assert len(files) == 2 and files[0][8:] == files[1][8:], files


def test_rate_out_of_memory():
    # 1 GHz with 30 s pre- and post-roll: 256 GB of ring, which malloc
    # refuses (over RAM + swap; under ASan over max_allocation_size_mb). The
    # old plugin set the rate anyway and the next block went into the freed
    # (NULL) ring: a crash. Now recording is off, logged once, and comes back
    # at the next rate change.
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "rec")
    os.mkdir(out)
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":allocator_may_return_null=1:max_allocation_size_mb=8192"
    rc, err = drive(out, ["pre_roll_ms=30000", "post_roll_ms=30000", "denoised=no"],
                    ["audio:16000:0.5", "audio:1000000000:0.03", "det:0.5:0.51", "audio:1000000000:0.01",
                     "audio:16000:31.5", "det:31.2:31.3", "audio:16000:30.1", "run"], env=env)
    assert rc == 0, err
    oom = [l for l in err.splitlines() if "[error]" in l]
    assert len(oom) == 1 and "out of memory for 64 s of audio: recording is off until the sample rate " \
        "changes again" in oom[0], err
    assert "yes detection not recorded: recording is off (out of memory)" in err, err
    assert "audio at 16000 Hz (was 1000000000 Hz): buffers re-sized" in err, err
    files = own_files(out)
    assert len(files) == 1, files
    r, y = read_wav(os.path.join(out, files[0]))
    assert r == 16000 and len(y) > 16000 * 30, (r, len(y))


def test_key_typo_named():
    # a key's typo: the message names the key meant (recorder-drive: no daemon)
    tmp = tempfile.mkdtemp()
    for key, end in (("pre_rol_ms=5", "max_mb); did you mean 'pre_roll_ms'?\n"), ("colour=red", "max_mb)\n")):
        r = dt.subprocess.run([os.environ["RECORDER_DRIVE"], MODULE, tmp, key, "--", "run"],
                              capture_output=True, text=True, timeout=60)   # create's message: on stdout
        assert r.returncode == 1 and "create failed: argv: [plugin recorder] unknown key '%s'" % key.split("=")[0] \
            in r.stdout and r.stdout.endswith(end), (r.stdout, r.stderr)


if __name__ == "__main__":
    if not os.path.exists(MODEL):
        print("model %s is missing (set DRSN_TEST_MODEL to a trained model)" % MODEL)
        sys.exit(1)
    dt.main([test_one_clip_per_detection, test_size_cap_deletes_oldest_own_files,
             test_bad_key_refused_daemon_runs_on, test_disk_full_leaves_no_part_files,
             test_stale_part_files_deleted_at_start,
             test_reload_keeps_plugins_and_check_config, test_rate_change_while_writing,
             test_pre_roll_not_across_reset,
             test_labels_of_ones_own_in_file_names, test_score_in_name_in_comma_locale,
             test_planted_symlinks_and_file_mode, test_wall_clock_steps_back, test_rate_out_of_memory,
             test_key_typo_named])
