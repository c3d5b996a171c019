#!/usr/bin/python3
"""Keyword spotting on long streams: keywords found and false alarms per hour,
per detection threshold, through the real streaming pipeline (drsn detect).

  /usr/bin/python3 train/evaluate_stream.py --data CORPUS --drsn build/src/cli/drsn \\
      models/kws20-drsn-cw.safetensors models/kws20-resnet.safetensors

Clip accuracy (evaluate.py) says how often the right label wins on a window
that holds one word. A user of a keyword spotter asks two other things: how
many of the keywords said does it report, and how often does it fire when
nobody said one? This measures both, on the test split only (voices never
heard in training, noise recordings never heard in training), with the
daemon's pipeline: `drsn detect` (posterior smoothing, threshold, refractory
time, default [detect] settings except the threshold).

Two streams per condition, built from the corpus's test clips (each word cut
at its span from clips.csv, set to -24 dBFS over the word):

  keywords  every --every'th keyword test clip, in a seeded random order,
            1.2-1.6 s apart. A keyword counts as found when a detection of
            its label has the word's centre inside the detection's window
            widened by 0.3 s on each side (as tests/daemon/test_truth.py).
            Other detections on this stream: wrong label or repeated.
  others    every _unknown_ test clip (other words, many close to the
            keywords), 3-6 s apart, so most of the stream is background
            alone. Every detection on it is a false alarm; false alarms per
            hour = detections / the stream's length.

Noise is one continuous track under the whole stream (recorded: 4 s pieces of
the held-out lincity-ng-data files, cross-faded; or Gaussian/pink/Laplacian),
scaled so each word is SNR dB above it (speech power over the word, as in
evaluate.py). --conditions takes clean and KIND@SNR.

Models differ in how sure they are, so one threshold is not one operating
point: the table also gives the keywords found at equal false-alarm rates
(60, 120, 240 per hour), linear between the thresholds that bracket them.

Writes <out-dir>/stream.eval.md and .json (default out-dir: models/).
"""
import argparse
import collections
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import evaluate  # noqa: E402
from corpusgen import augment, layout, noise, recipe  # noqa: E402

RATE = augment.RATE
SPEECH_DB = -24.0
TOL = 0.3
PIECE = 4 * RATE          # recorded noise: one file's piece
FADE = RATE // 50         # 20 ms cross-fade between pieces


def parse_conditions(text):
    out = []
    for c in text.split(','):
        c = c.strip()
        if c == 'clean':
            out.append(('clean', None))
            continue
        kind, _, snr = c.partition('@')
        if kind not in noise.KINDS or not snr:
            raise ValueError(f'condition {c!r}: expected clean or KIND@SNR, KIND one of {", ".join(noise.KINDS)}')
        out.append((kind, float(snr)))
    return out


def long_noise(kind, n, rng):
    """n samples of unit-RMS noise; recorded noise is made of PIECE-long
    pieces of random held-out files, cross-faded, so it does not loop one
    short file."""
    if kind != 'real':
        return noise.make(kind, n, rng, 'testing').astype(np.float64)
    out = np.zeros(n + PIECE, dtype=np.float64)
    ramp = np.linspace(0.0, 1.0, FADE)
    pos = 0
    while pos < n:
        p = noise.make('real', PIECE, rng, 'testing').astype(np.float64)
        if pos:
            p[:FADE] *= ramp
            out[pos - FADE:pos] *= ramp[::-1]
            out[pos - FADE:pos - FADE + PIECE] += p
            pos += PIECE - FADE
        else:
            out[:PIECE] = p
            pos = PIECE
    y = out[:n]
    return y / np.sqrt(np.mean(y * y))


def build_stream(words, gap, rng):
    """words: [(label, clip, (a, b))]. Returns (speech float64, truth
    [(label, start_s, end_s)]): each word at SPEECH_DB over its span."""
    t = int(1.0 * RATE)
    placed = []
    for lab, x, (a, b) in words:
        seg = augment.set_level(x[a:b], SPEECH_DB)
        placed.append((lab, t, seg))
        t += seg.size + int(rng.uniform(*gap) * RATE)
    speech = np.zeros(t + RATE, dtype=np.float64)
    truth = []
    for lab, s, seg in placed:
        speech[s:s + seg.size] += seg
        truth.append((lab, s / RATE, (s + seg.size) / RATE))
    return speech, truth


def mix(speech, kind, snr, rng):
    if kind == 'clean':
        return speech.astype(np.float32)
    g = 10 ** ((SPEECH_DB - snr) / 20)
    return augment.protect((speech + g * long_noise(kind, speech.size, rng)).astype(np.float32))


def match(dets, truth):
    """(found, missed, extra): truth words found by a detection of their
    label whose window (widened by TOL) holds the word's centre."""
    left = list(truth)
    found, extra = [], []
    for d in dets:
        a, b = d['start'] - TOL, d['end'] + TOL
        hit = [t for t in left if t[0] == d['label'] and a <= (t[1] + t[2]) / 2 <= b]
        if hit:
            found.append(hit[0])
            left.remove(hit[0])
        else:
            extra.append(d)
    return found, left, extra


def attribute(dets, truth):
    """{word: false alarms} for detections whose window (widened by TOL)
    holds a word's centre, and how many hold none (background alone)."""
    words, background = {}, 0
    for d in dets:
        a, b = d['start'] - TOL, d['end'] + TOL
        hit = [t[0] for t in truth if a <= (t[1] + t[2]) / 2 <= b]
        if hit:
            words[hit[0]] = words.get(hit[0], 0) + 1
        else:
            background += 1
    return dict(sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))), background


def detect(drsn, model, wav, threshold, label_thresholds=()):
    """drsn detect's detections on wav (a path, or a list of them, each a
    stream of its own); label_thresholds: 'LABEL=P' strings passed on as
    --label-threshold."""
    extra = [arg for lt in label_thresholds for arg in ('--label-threshold', lt)]
    wavs = [wav] if isinstance(wav, str) else list(wav)
    r = subprocess.run([drsn, 'detect', '-q', '--model', model, '-t', repr(threshold)] + extra + wavs,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f'{drsn} detect exited {r.returncode}: {r.stderr.strip()[:500]}')
    return [json.loads(s) for s in r.stdout.splitlines()]


def detect_parser(doc):
    """The argument parser of a script that scores exported models through
    drsn detect: its docstring's first paragraph as description and the
    rest as epilog; the models, --drsn, --out-dir (default models/) and
    --label-threshold. The script adds its own options."""
    ap = argparse.ArgumentParser(description=doc.split('\n\n')[0], epilog=doc.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('models', nargs='+', help='exported .safetensors models')
    ap.add_argument('--drsn', required=True, help='the drsn executable (e.g. build/src/cli/drsn)')
    ap.add_argument('--out-dir', default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                      'models'))
    ap.add_argument('--label-threshold', action='append', default=[], metavar='LABEL=P',
                    help="one label's threshold, passed on to drsn detect (repeatable), e.g. no=0.9")
    return ap


def check_label_thresholds(items, labels=None):
    """Raises ValueError naming the first of the 'LABEL=P' strings that is
    not a label and a threshold in [0, 1], or (given the model's labels)
    names no label of the model."""
    for lt in items:
        label, eq, p = lt.partition('=')
        try:
            ok = bool(label) and eq == '=' and 0 <= float(p) <= 1
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f'--label-threshold {lt!r}: want LABEL=P with P in [0, 1]')
        if labels is not None and label not in labels:
            raise ValueError(f'--label-threshold {lt!r}: the model has no label {label!r}')


def check_detect_args(a):
    """The checks every detect_parser() script makes before any work:
    each --label-threshold is LABEL=P, each model an exported
    .safetensors file. Raises ValueError naming the first at fault."""
    check_label_thresholds(a.label_threshold)
    for m in a.models:
        if not m.endswith('.safetensors') or not os.path.exists(m):
            raise ValueError(f'{m}: not an exported .safetensors file')


def load_models(paths, label_thresholds):
    """evaluate.load_model() of each exported model. Raises ValueError
    naming a model that has no label of one of label_thresholds."""
    loaded = []
    for m in paths:
        ld = evaluate.load_model(m)
        try:
            check_label_thresholds(label_thresholds, ld[1])
        except ValueError as e:
            raise ValueError(f'{m}: {e}')
        loaded.append(ld)
    return loaded


def found_at(rows, fa_per_hour):
    """Keywords found (%) at a false-alarm rate, linear between the two
    thresholds whose rates bracket it; None outside the measured range."""
    pts = sorted((r['false_alarms_per_hour'], 100.0 * r['found'] / r['keywords']) for r in rows)
    for (f0, k0), (f1, k1) in zip(pts, pts[1:]):
        if f0 <= fa_per_hour <= f1:
            return k0 if f1 == f0 else k0 + (k1 - k0) * (fa_per_hour - f0) / (f1 - f0)
    if pts and pts[0][0] == fa_per_hour:
        return pts[0][1]
    return None


def table_md(res, thresholds, others_words, equal_fa=(60, 120, 240)):
    lines = []
    for cond, per_model in res.items():
        lines += [f'**{cond}**: keywords found % / false alarms per hour (false alarms per 100 other words; '
                  'of them, in background alone)', '',
                  '| threshold | ' + ' | '.join(per_model) + ' |', '|---|' + '---|' * len(per_model)]
        for i, t in enumerate(thresholds):
            cells = []
            for rows in per_model.values():
                r = rows[i]
                cells.append(f'{100 * r["found"] / r["keywords"]:.1f} / {r["false_alarms_per_hour"]:.0f} '
                             f'({100 * r["false_alarms"] / others_words:.0f}; {r["false_alarms_in_background"]})')
            lines.append(f'| {t:g} | ' + ' | '.join(cells) + ' |')
        for f in equal_fa:
            cells = []
            for rows in per_model.values():
                k = found_at(rows, f)
                cells.append('–' if k is None else f'{k:.1f}')
            lines.append(f'| found at {f} FA/h | ' + ' | '.join(cells) + ' |')
        lines.append('')
    return '\n'.join(lines)


def words_md(res, thresholds, default=0.8):
    """The other words that fire most, at the default threshold."""
    lines = []
    for cond, per_model in res.items():
        for name, rows in per_model.items():
            r = min(rows, key=lambda r: abs(r['threshold'] - default))
            top = ', '.join(f'{w} {n}' for w, n in list(r['false_alarms_on_words'].items())[:12])
            lines.append(f'- {cond}, {name}, threshold {r["threshold"]:g}: {top or "none"}')
    return '\n'.join(lines) + '\n'


def report_md(res, info, thresholds, data, seed, cmd):
    ks, os_ = info['keywords'], info['others']
    return ('# Keywords found and false alarms per hour, by detection threshold\n\n'
            f'`drsn detect` (default [detect] settings but the threshold) on two streams per condition, '
            f'from the test split of {data} (held-out voices and noise recordings), noise seed {seed}:\n\n'
            f'- keywords: {ks["words"]} keywords, {ks["seconds"] / 60:.1f} min; found = a detection of the '
            f'label within {TOL} s of the word;\n'
            f'- others: {os_["words"]} other words (`_unknown_`), {os_["seconds"] / 60:.1f} min; '
            'every detection is a false alarm (FA/h).\n\n'
            f'Command: `{cmd}`\n\n' + table_md(res, thresholds, os_['words'])
            + '\nThe other words that fire most (false alarms per word over the stream):\n\n'
            + words_md(res, thresholds))


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = detect_parser(__doc__)
    ap.add_argument('--data', default=os.path.join(here, 'corpus'))
    ap.add_argument('--conditions', default='clean,real@10,real@0')
    ap.add_argument('--thresholds', default='0.5,0.6,0.7,0.8,0.85,0.9,0.95,0.98')
    ap.add_argument('--every', type=int, default=3, help='use every N-th keyword test clip (default 3)')
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args(argv)
    try:
        conds = parse_conditions(a.conditions)
        thresholds = [float(t) for t in a.thresholds.split(',')]
        if not thresholds or any(not 0 <= t <= 1 for t in thresholds):
            raise ValueError(f'--thresholds {a.thresholds!r}: values in [0, 1]')
        if a.every < 1:
            raise ValueError('--every: at least 1')
        check_detect_args(a)
    except ValueError as e:
        print(f'evaluate_stream: {e}', file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        loaded = load_models(a.models, a.label_threshold)
    except ValueError as e:
        print(f'evaluate_stream: {e}', file=sys.stderr)
        return 2
    labels = loaded[0][1]
    names = [name for _, _, _, name, _ in loaded]
    rows = layout.clip_rows(a.data)
    paths, x, spans, y = evaluate.test_set(a.data, labels, rows)
    rng = recipe.clip_rng(a.seed, 'stream|order')
    kw = [i for i in range(len(y)) if not labels[y[i]].startswith('_')]
    kw = [kw[i] for i in rng.permutation(len(kw))][::a.every]
    other = [i for i in range(len(y)) if labels[y[i]] == '_unknown_']
    other = [other[i] for i in rng.permutation(len(other))]
    streams = {
        'keywords': build_stream([(labels[y[i]], x[i], spans[i]) for i in kw], (1.2, 1.6),
                                 recipe.clip_rng(a.seed, 'stream|keywords')),
        'others': build_stream([(rows.get(paths[i], {}).get('word') or '_unknown_', x[i], spans[i]) for i in other],
                               (3.0, 6.0),
                               recipe.clip_rng(a.seed, 'stream|others')),
    }
    res, info = {}, {}
    hours = streams['others'][0].size / RATE / 3600
    with tempfile.TemporaryDirectory(prefix='drsn-stream-') as tmp:
        for kind, snr in conds:
            cond = 'clean' if kind == 'clean' else f'{kind}@{snr:g}'
            res[cond] = {n: [] for n in names}
            wavs = {}
            for s, (speech, truth) in streams.items():
                wavs[s] = os.path.join(tmp, f'{s}.wav')
                evaluate.write_wav_f32(wavs[s], mix(speech, kind, snr, recipe.clip_rng(a.seed, f'stream|{s}|{cond}')))
                info[s] = {'seconds': speech.size / RATE, 'words': len(truth)}
            for model, name in zip(a.models, names):
                for t in thresholds:
                    found, missed, extra = match(detect(a.drsn, model, wavs['keywords'], t, a.label_threshold),
                                                 streams['keywords'][1])
                    fa = detect(a.drsn, model, wavs['others'], t, a.label_threshold)
                    by_word, background = attribute(fa, streams['others'][1])
                    res[cond][name].append({
                        'threshold': t, 'keywords': len(streams['keywords'][1]), 'found': len(found),
                        'missed_by_label': _count(m[0] for m in missed),
                        'other_detections_on_keyword_stream': len(extra),
                        'false_alarms': len(fa), 'false_alarms_per_hour': len(fa) / hours,
                        'false_alarm_labels': _count(d['label'] for d in fa),
                        'false_alarms_on_words': by_word, 'false_alarms_in_background': background})
                    print(f'{cond} {name} threshold {t:g}: {len(found)}/{len(found) + len(missed)} found, '
                          f'{len(extra)} other detections; {len(fa)} false alarms in {hours * 60:.1f} min '
                          f'({background} in background alone)',
                          file=sys.stderr)
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    cmd = ' '.join(['evaluate_stream.py'] + list(sys.argv[1:] if argv is None else argv))
    md = report_md(res, info, thresholds, a.data, a.seed, cmd)
    evaluate.write_report(a.out_dir, 'stream.eval', md,
                          {'results': res, 'streams': info, 'thresholds': thresholds,
                           'label_thresholds': a.label_threshold, 'seed': a.seed,
                           'data': os.path.abspath(a.data), 'command': cmd, 'date': date})
    print(md)
    print(f'evaluate_stream: {len(a.models)} model(s), {len(conds)} conditions, {time.time() - t0:.1f} s',
          file=sys.stderr)
    return 0


def _count(items):
    """{item: count}, sorted by item (stable JSON)."""
    return dict(sorted(collections.Counter(items).items()))


if __name__ == '__main__':
    sys.exit(main())
