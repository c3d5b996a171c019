#!/usr/bin/python3
"""False alarms on non-speech sound events, through the streaming pipeline
(drsn detect): how often does a model fire on a knock, a click, a beep or a
chime when nobody speaks?

  /usr/bin/python3 train/evaluate_events.py --drsn build/src/cli/drsn \\
      models/kws20-drsn-cw.safetensors models/kws20-resnet.safetensors

One stream per source and condition, made of events 2.5-4 s apart (each
trimmed to where it sounds and set to -24 dBFS over that span, the level
evaluate_stream.py gives its words), under one continuous noise track at
SNR dB below the events (evaluate_stream's conditions: clean, KIND@SNR):

  recorded   the desktop event sounds of Debian's sound-theme-freedesktop
             (corpusgen/events.py), no model trains on them; each --repeat
             times
  synthetic  --per-family fresh draws of each synthetic event family
             (click, knock, beep, chirp, burst, chime) from a stream of
             the generator no training run uses
  music      the three instrumental tracks of lincity-ng-data (9.4 min),
             played through in 5 s pieces (each set to -24 dBFS, no gaps);
             no training run uses them. An "event" here is a piece.
             --music-dir DIR (repeatable) plays the music files under DIR
             instead (.ogg, .oga, .wav, .flac).

Every detection is a false alarm. The report gives, per model, source and
threshold, the events that set off at least one detection (%), false alarms
per hour of stream, and the labels and sources that fire most.

Writes <out-dir>/events.eval.md and .json.
"""
import collections
import datetime
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import evaluate  # noqa: E402
import evaluate_stream as es  # noqa: E402
from corpusgen import augment, events, recipe  # noqa: E402

RATE = augment.RATE


def event_list(source, per_family, repeat, seed, music_dirs=(events.RECORDED_MUSIC_DIR,)):
    """[(name, float32 event trimmed to where it sounds)]; music: the 5 s
    pieces of the tracks in music_dirs as they are."""
    if source == 'music':
        return [p for d in music_dirs for p in events.recorded_music(d)]
    if source == 'recorded':
        out = [(n, x) for n, x in events.recorded() for _ in range(repeat)]
    else:
        rng = recipe.clip_rng(seed, 'events|evaluate')
        out = [(f, events.make(rng, f)) for f in events.FAMILIES for _ in range(per_family)]
    return [(n, augment.trim(x)) for n, x in out]


def build(evs, seed, source):
    """Music plays through in order; events come in a seeded order with
    2.5-4 s of background between them."""
    music = source == 'music'
    order = range(len(evs)) if music else recipe.clip_rng(seed, f'events|order|{source}').permutation(len(evs))
    return es.build_stream([(evs[i][0], evs[i][1], (0, evs[i][1].size)) for i in order],
                           (0.0, 0.0) if music else (2.5, 4.0), recipe.clip_rng(seed, f'events|gaps|{source}'))


def fired(dets, truth, overlap=False):
    """(indices of the events with a detection near them, detections near
    none). Near: the event's centre lies in the detection's window widened
    by TOL; with overlap (long pieces of music), any part of the event."""
    hit = set()
    loose = 0
    for d in dets:
        a, b = d['start'] - es.TOL, d['end'] + es.TOL
        near = [i for i, t in enumerate(truth)
                if (t[1] <= b and a <= t[2] if overlap else a <= (t[1] + t[2]) / 2 <= b)]
        hit.update(near)
        loose += not near
    return sorted(hit), loose


def report_md(res, info, thresholds, cmd):
    lines = ['# False alarms on non-speech sound events', '',
             '`drsn detect` (default [detect] settings but the threshold) on streams of sound events '
             'and no speech; every detection is a false alarm. Cells: events that set off a detection % / '
             'false alarms per hour.', '']
    for s, v in info.items():
        what = '5 s pieces played through' if s == 'music' else 'events'
        lines.append(f'- {s}: {v["events"]} {what}, {v["seconds"] / 60:.1f} min')
    lines += ['', f'Command: `{cmd}`', '']
    for cond, per_src in res.items():
        for src, per_model in per_src.items():
            lines += [f'**{cond}, {src}**', '', '| threshold | ' + ' | '.join(per_model) + ' |',
                      '|---|' + '---|' * len(per_model)]
            for i, t in enumerate(thresholds):
                cells = [f'{100 * r[i]["events_fired"] / r[i]["events"]:.1f} / {r[i]["false_alarms_per_hour"]:.0f}'
                         for r in per_model.values()]
                lines.append(f'| {t:g} | ' + ' | '.join(cells) + ' |')
            lines.append('')
            for name, rows in per_model.items():
                r = min(rows, key=lambda r: abs(r['threshold'] - 0.8))
                top = ', '.join(f'{k} {n}' for k, n in list(r['fired_by_source'].items())[:8])
                lab = ', '.join(f'{k} {n}' for k, n in r['labels'].items())
                lines.append(f'- {name}, threshold {r["threshold"]:g}: fired on {top or "nothing"}; '
                             f'labels {lab or "none"}')
            lines.append('')
    return '\n'.join(lines)


def main(argv=None):
    ap = es.detect_parser(__doc__)
    ap.add_argument('--conditions', default='clean,real@10')
    ap.add_argument('--thresholds', default='0.5,0.8,0.9,0.95')
    ap.add_argument('--sources', default='recorded,synthetic,music')
    ap.add_argument('--per-family', type=int, default=20, help='synthetic events per family (default 20)')
    ap.add_argument('--repeat', type=int, default=3, help='times each recorded event is heard (default 3)')
    ap.add_argument('--music-dir', action='append', metavar='DIR',
                    help='music to play for the music source: the audio files under DIR (repeatable; '
                         f'default {events.RECORDED_MUSIC_DIR})')
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args(argv)
    try:
        conds = es.parse_conditions(a.conditions)
        thresholds = [float(t) for t in a.thresholds.split(',')]
        if any(not 0 <= t <= 1 for t in thresholds):
            raise ValueError(f'--thresholds {a.thresholds!r}: values in [0, 1]')
        sources = a.sources.split(',')
        if not sources or any(s not in ('recorded', 'synthetic', 'music') for s in sources):
            raise ValueError(f'--sources {a.sources!r}: some of recorded, synthetic, music')
        if a.per_family < 1 or a.repeat < 1:
            raise ValueError('--per-family and --repeat: at least 1')
        es.check_detect_args(a)
        music_dirs = a.music_dir or [events.RECORDED_MUSIC_DIR]
        streams = {s: build(event_list(s, a.per_family, a.repeat, a.seed, music_dirs), a.seed, s) for s in sources}
    except (ValueError, OSError) as e:
        print(f'evaluate_events: {e}', file=sys.stderr)
        return 2
    t0 = time.time()
    try:
        names = [ld[3] for ld in es.load_models(a.models, a.label_threshold)]
    except ValueError as e:
        print(f'evaluate_events: {e}', file=sys.stderr)
        return 2
    info = {s: {'events': len(tr), 'seconds': x.size / RATE} for s, (x, tr) in streams.items()}
    res = {}
    with tempfile.TemporaryDirectory(prefix='drsn-events-') as tmp:
        for kind, snr in conds:
            cond = 'clean' if kind == 'clean' else f'{kind}@{snr:g}'
            res[cond] = {}
            for s, (x, truth) in streams.items():
                wav = os.path.join(tmp, f'{s}.wav')
                evaluate.write_wav_f32(wav, es.mix(x, kind, snr, recipe.clip_rng(a.seed, f'events|{s}|{cond}')))
                hours = x.size / RATE / 3600
                res[cond][s] = {n: [] for n in names}
                for model, name in zip(a.models, names):
                    for t in thresholds:
                        dets = es.detect(a.drsn, model, wav, t, a.label_threshold)
                        hit, loose = fired(dets, truth, overlap=s == 'music')
                        by_src = collections.Counter(truth[i][0] for i in hit)
                        res[cond][s][name].append({
                            'threshold': t, 'events': len(truth), 'events_fired': len(hit),
                            'false_alarms': len(dets), 'false_alarms_per_hour': len(dets) / hours,
                            'false_alarms_on_no_event': loose,
                            'fired_by_source': dict(sorted(by_src.items(), key=lambda kv: (-kv[1], kv[0]))),
                            'labels': dict(sorted(collections.Counter(d['label'] for d in dets).items(),
                                                  key=lambda kv: (-kv[1], kv[0])))})
                        print(f'{cond} {s} {name} threshold {t:g}: {len(hit)}/{len(truth)} events fired, '
                              f'{len(dets)} false alarms', file=sys.stderr)
    cmd = ' '.join(['evaluate_events.py'] + list(sys.argv[1:] if argv is None else argv))
    md = report_md(res, info, thresholds, cmd)
    evaluate.write_report(a.out_dir, 'events.eval', md + '\n',
                          {'results': res, 'streams': info, 'thresholds': thresholds,
                           'label_thresholds': a.label_threshold, 'seed': a.seed,
                           'command': cmd,
                           'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')})
    print(md)
    print(f'evaluate_events: {len(a.models)} model(s), {time.time() - t0:.1f} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
