#!/usr/bin/python3
"""test_tune.py: `drsn tune` against `drsn detect` (meson test drsn-tune).

  test_tune.py DRSN SAMPLES_DIR

- counts: at thresholds P, `drsn tune --threshold P --json`'s false alarms
  and keywords found per label are those of `drsn detect --threshold P`'s
  output matched by train/evaluate_stream.py's match() (with and without
  --truth, with other smoothing/refractory/VAD options), and a label's
  "lowest" threshold gives, through `drsn detect --label-threshold`, the
  counts tune says;
- the suggested [thresholds] block, run through `drsn detect
  --label-threshold`, gives the false alarms tune says, <= F an hour, on
  samples/stream-noisy.wav taken as holding no keyword and on a noise file
  made here (a sample clip's real noise with a tone, repeated);
- truth for several files: one --truth for each FILE in order, or a CSV
  with a file column (named as given or from the CSV's folder): counts are
  detect's matched file by file;
- bad input: an unreadable file, a malformed --truth CSV (the line named), a
  truth row naming a file that is no input, a file without truth when others
  have it, the two kinds of CSV mixed, one CSV without a file column for
  several files.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import wave

DRSN, SAMPLES = sys.argv[1], sys.argv[2]
WAV = os.path.join(SAMPLES, "stream-noisy.wav")
TRUTH = os.path.join(SAMPLES, "stream-noisy.truth.csv")
fails = []

# the matcher of train/evaluate_stream.py itself (it needs numpy, as /usr/bin/python3 has)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "train"))
try:
    from evaluate_stream import match
except ImportError as e:
    print("train/evaluate_stream.py cannot be imported: %s" % e)
    sys.exit(1 if os.environ.get("CI") == "true" else 77)


def check(cond, msg):
    if not cond:
        fails.append(msg)
        print("FAIL:", msg)


def run(args):
    return subprocess.run([DRSN] + args, capture_output=True, text=True, timeout=300)


def detect(files, args):
    r = run(["detect", "-q"] + args + files)
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in r.stdout.splitlines()]


def tune(files, args):
    r = run(["tune", "-q", "--json"] + args + files)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def load_truth(path):
    rows = [x.split(",") for x in open(path).read().splitlines()[1:] if x]
    return [(r[0], float(r[2]), float(r[3])) for r in rows]


def per_label(dets, truth):
    found, _, extra = match(dets, truth)
    fa, fo = {}, {}
    for d in extra:
        fa[d['label']] = fa.get(d['label'], 0) + 1
    for t in found:
        fo[t[0]] = fo.get(t[0], 0) + 1
    return fa, fo


def lt_args(thresholds):
    return [a for k, v in thresholds.items() for a in ("--label-threshold", "%s=%s" % (k, v))]


def compare_counts(files, truth_path, opts, p, what):
    truth = load_truth(truth_path) if truth_path else []
    targs = ["--truth", truth_path] if truth_path else []
    fa, fo = per_label(detect(files, opts + ["--threshold", p]), truth)
    t = tune(files, opts + targs + ["--threshold", p])
    for e in t["labels"]:
        check(e["false_alarms"] == fa.get(e["label"], 0),
              "%s P=%s %s: tune %d false alarms, detect %d" % (what, p, e["label"], e["false_alarms"],
                                                              fa.get(e["label"], 0)))
        if truth_path:
            check(e["found"] == fo.get(e["label"], 0),
                  "%s P=%s %s: tune found %d, detect %d" % (what, p, e["label"], e["found"], fo.get(e["label"], 0)))
    check(t["false_alarms"] == sum(fa.values()), "%s P=%s: total false alarms" % (what, p))
    return t


def compare_counts_files(files, truth_by_file, targs, p, what):
    """counts with truth for several files: detect's, matched file by file"""
    dets = detect(files, ["--threshold", p])
    fa, fo = {}, {}
    for f in files:
        a, b = per_label([d for d in dets if d["file"] == f], truth_by_file.get(f, []))
        for k, v in a.items():
            fa[k] = fa.get(k, 0) + v
        for k, v in b.items():
            fo[k] = fo.get(k, 0) + v
    t = tune(files, targs + ["--threshold", p])
    fires = set(e["label"] for e in t["labels"])   # not _unknown_
    want = sum(1 for x in truth_by_file.values() for w in x if w[0] in fires)
    check(t["keywords"] == want, "%s: %d keywords, want %d" % (what, t["keywords"], want))
    check(sum(fo.values()) > 0, "%s: detect finds no keyword at %s: the test proves nothing" % (what, p))
    for e in t["labels"]:
        check(e["false_alarms"] == fa.get(e["label"], 0) and e["found"] == fo.get(e["label"], 0),
              "%s P=%s %s: tune %d false alarms %d found, detect %d %d" % (
                  what, p, e["label"], e["false_alarms"], e["found"], fa.get(e["label"], 0),
                  fo.get(e["label"], 0)))
    check(t["found"] == sum(fo.values()) and t["false_alarms"] == sum(fa.values()),
          "%s P=%s: total found %d, false alarms %d; detect %d %d" % (
              what, p, t["found"], t["false_alarms"], sum(fo.values()), sum(fa.values())))
    return t


def check_suggestion(files, truth_path, opts, f_max, what):
    truth = load_truth(truth_path) if truth_path else []
    targs = ["--truth", truth_path] if truth_path else []
    t = tune(files, opts + targs + ["--max-fa-per-hour", str(f_max)])
    hours = t["seconds"] / 3600
    dets = detect(files, opts + lt_args(t["thresholds"]))
    fa, fo = per_label(dets, truth)
    check(sum(fa.values()) == t["suggested_false_alarms"],
          "%s: with the block detect gives %d false alarms, tune says %d" % (what, sum(fa.values()),
                                                                            t["suggested_false_alarms"]))
    for e in t["labels"]:
        n = fa.get(e["label"], 0)
        check(n == e["suggested_false_alarms"], "%s %s: block: detect %d, tune %d" % (
            what, e["label"], n, e["suggested_false_alarms"]))
        if e["suggested"] < 1:
            check(n <= f_max * hours, "%s %s: %d false alarms > %g an hour over %.4f h" % (
                what, e["label"], n, f_max, hours))
    # one label's "lowest", the others as now: detect agrees
    raised = [e for e in t["labels"] if e["lowest"] > t["threshold"]]
    for e in raised[:3]:
        fa1, fo1 = per_label(detect(files, opts + ["--label-threshold", "%s=%.2f" % (e["label"], e["lowest"])]), truth)
        check(fa1.get(e["label"], 0) == e["lowest_false_alarms"],
              "%s %s at %.2f: detect %d, tune %d" % (what, e["label"], e["lowest"], fa1.get(e["label"], 0),
                                                     e["lowest_false_alarms"]))
    return t


def write_noise(path):
    """A keyword-free file that sets the detector off: samples/stream-noisy.wav
    played backwards (speech-like, no word of the model's), then a noise
    clip's 0.2 s before its word with tones, repeated: 30 s in all (short:
    under ASan+UBSan every second of audio costs about 0.2 s per run)."""
    with wave.open(WAV) as w:
        rate, n = w.getframerate(), w.getnframes()
        out = list(struct.unpack("<%dh" % n, w.readframes(n))[::-1])
    with wave.open(os.path.join(SAMPLES, "clips", "yes-0-real-0db.wav")) as w:
        n = w.getnframes()
        x = struct.unpack("<%dh" % n, w.readframes(n))[:int(0.2 * rate)]
    k = 0
    while len(out) < 30 * rate:
        f = 300 + 150 * (k % 7)
        for i, s in enumerate(x):
            out.append(int(max(-32767, min(32767, 3 * s + 4000 * math.sin(2 * math.pi * f * i / rate)))))
        k += 1
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<%dh" % len(out), *out))


def main():
    with tempfile.TemporaryDirectory(prefix="drsn-tune-") as tmp:
        return run_all(tmp)


def run_all(tmp):
    noise = os.path.join(tmp, "noise.wav")
    write_noise(noise)

    # exactness of the replay: counts at a threshold are detect's
    for p in ("0.55", "0.8", "0.93"):
        compare_counts([WAV], TRUTH, [], p, "truth")
        compare_counts([WAV], None, [], p, "no truth")
    compare_counts([WAV, noise], None, ["--smoothing-ms", "500", "--refractory-ms", "400"], "0.6", "opts")
    for p in ("0.5", "0.8"):
        compare_counts([noise], None, [], p, "noise")
    compare_counts([WAV], None, ["--vad", "--vad-threshold-db", "-30", "--inference-hop-ms", "50"], "0.7", "vad")
    compare_counts([WAV], None, ["--smoothing-ms", "0", "--refractory-ms", "0"], "0.5", "raw")

    # the suggestions hold through drsn detect
    t = check_suggestion([WAV], None, [], 150, "stream as no keyword")   # 1 a label over 24 s
    check(len(t["thresholds"]) > 0, "stream as no keyword: no label raised (%s)" % t["thresholds"])
    check_suggestion([WAV], TRUTH, [], 1, "stream with truth")
    for f_max in (30, 1):   # F is per label
        t = check_suggestion([noise], None, [], f_max, "noise F=%d" % f_max)
        worst = max(e["false_alarms"] for e in t["labels"])
        check(worst > f_max * t["seconds"] / 3600 and t["thresholds"],
              "noise F=%d: nothing to tune: %d false alarms of one label now, block %s" % (
                  f_max, worst, t["thresholds"]))
    check_suggestion([noise], None, ["--threshold", "0.5", "--smoothing-ms", "0"], 60, "noise raw")
    check_suggestion([WAV, noise], None, ["--refractory-ms", "300"], 120, "stream and noise")

    # the text output: the block and the options
    r = run(["tune", "-q", "--max-fa-per-hour", "150", WAV])
    check(r.returncode == 0 and "[thresholds]\n" in r.stdout and "--label-threshold " in r.stdout,
          "text output: %r" % r.stdout[-400:])
    check(not [x for x in r.stdout.splitlines() if x != x.rstrip()], "text output: a line ends in a blank")
    silence = os.path.join(tmp, "silence.wav")
    with wave.open(silence, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000 * 5)
    r = run(["tune", "-q", silence])
    check(r.returncode == 0 and r.stdout.endswith("# drsn detect\n(no option needed)\n"),
          "nothing to raise: %r" % r.stdout[-120:])
    # a failed write is an exit status, text and JSON alike
    for extra in ([], ["--json"]):
        with open("/dev/full", "w") as full:
            r = subprocess.run([DRSN, "tune", "-q"] + extra + [WAV], stdout=full, stderr=subprocess.PIPE,
                               text=True, timeout=300)
        check(r.returncode == 1 and "write error" in r.stderr, "tune %s > /dev/full: rc %d %r" % (
            extra, r.returncode, r.stderr))

    # bad input
    r = run(["tune", "-q", WAV, os.path.join(tmp, "missing.wav")])
    check(r.returncode != 0 and "missing.wav" in r.stderr, "unreadable file: rc %d %r" % (r.returncode, r.stderr))
    for body, want in (("label,word,start,end\nyes,yes,1.0\n", ":2: 3 fields"),
                       ("label,word,start,end\nyes,yes,1.0,0.5\n", ":2: start"),
                       ("label,word,start,end\n\nyse,yes,1.0,1.5\n", ":3: no such label 'yse'"),
                       ("word,from,to\n", ":1: the header"),
                       ("label,word,start,end\nyes,yes,x,1\n", ":2: start 'x'")):
        bad = os.path.join(tmp, "bad.csv")
        open(bad, "w").write(body)
        r = run(["tune", "-q", "--truth", bad, WAV])
        check(r.returncode != 0 and want in r.stderr and r.stdout == "",
              "truth %r: rc %d, stderr %r (want %r)" % (body, r.returncode, r.stderr, want))
    r = run(["tune", "-q", "--truth", TRUTH, WAV, noise])
    check(r.returncode == 2 and "one FILE" in r.stderr, "truth with two files: %r" % r.stderr)

    # truth for several files: the stream twice (a copy), and the noise file with no keyword
    copy = os.path.join(tmp, "copy.wav")
    open(copy, "wb").write(open(WAV, "rb").read())
    truth = load_truth(TRUTH)
    rows = open(TRUTH).read().splitlines()
    empty = os.path.join(tmp, "empty.csv")
    open(empty, "w").write(rows[0] + "\n")
    for p in ("0.55", "0.8"):
        compare_counts_files([WAV, noise, copy], {WAV: truth, copy: truth},
                             ["--truth", TRUTH, "--truth", empty, "--truth", TRUTH], p, "truth in order")
    both = os.path.join(tmp, "both.csv")   # a file column: named as given, and from the CSV's folder
    open(both, "w").write("file," + rows[0] + "\n" + "".join("%s,%s\n" % (f, x) for f in (WAV, "copy.wav")
                                                              for x in rows[1:]) + "noise.wav,,,,,\n")
    t = compare_counts_files([copy, WAV, noise], {WAV: truth, copy: truth}, ["--truth", both], "0.8",
                             "truth with a file column")
    t1 = tune([WAV], ["--truth", TRUTH])
    check(t["found"] == 2 * t1["found"], "file column: %d found, one file alone %d" % (t["found"], t1["found"]))
    # a copy's keywords are its own: truth for the stream only, its copy without
    only = os.path.join(tmp, "only.csv")
    open(only, "w").write("file," + rows[0] + "\n" + "".join("%s,%s\n" % (WAV, x) for x in rows[1:]) +
                          "%s,,,,,\n" % copy)
    compare_counts_files([WAV, copy], {WAV: truth}, ["--truth", only], "0.8", "truth for one of two")

    # errors in truth for several files: usage errors, the culprit named, nothing on stdout
    stray = os.path.join(tmp, "stray.csv")
    open(stray, "w").write("file,label,start,end\n%s,yes,1,1.5\nelse.wav,yes,2,2.5\n" % WAV)
    for args, want in ((["--truth", stray, WAV], "stray.csv:3: 'else.wav' is not one of the input files"),
                       (["--truth", only, WAV, copy, noise], "no row for %s" % noise),
                       (["--truth", both, "--truth", TRUTH, WAV, copy, noise], "has no file column"),
                       (["--truth", TRUTH, "--truth", TRUTH, WAV, copy, noise], "2 given for 3 files"),
                       (["--truth", TRUTH, "--truth", TRUTH, WAV], "2 given for 1 file")):
        r = run(["tune", "-q"] + args)
        check(r.returncode == 2 and want in r.stderr and r.stdout == "",
              "truth %s: rc %d, stderr %r (want %r)" % (args, r.returncode, r.stderr, want))

    print("%d failures" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
