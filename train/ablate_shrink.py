#!/usr/bin/python3
"""Which residual shrinkage unit lets music through as a word? An ablation
of a DRSN's soft thresholds, in PyTorch.

  /usr/bin/python3 train/ablate_shrink.py --data CORPUS \\
      models/kws20-drsn-cw.safetensors

The music (lincity-ng-data's tracks, or --music-dir DIR, repeatable) is cut
into 5 s pieces, each set to -24 dBFS as evaluate_events.py plays them, and
then into 1 s windows every 0.1 s. A window "fires" when a keyword's
probability reaches --threshold (no smoothing: the raw windows that
drsn detect averages). The speech is --speech keyword clips of the test
split (held-out voices, clean), drawn with a fixed seed; "right" means the
true keyword's probability reaches the threshold.

For each model, then once per unit with that unit's soft thresholding
turned off (tau = 0, so y = f + shortcut: what that unit would be in the
ResNet), it reports the windows that fire per track, how many of the
windows that fired before still fire, and the speech clips right. It also
gives each unit's mean alpha (tau / mean|f|) on the windows that fire, on
the other music windows and on the speech. A unit whose thresholds the
false alarms depend on is one whose ablation removes them while the speech
stays right. Nothing is retrained: an ablated network is one the weights
were not trained for, so this points at where to look, not at a cause.

Writes <out-dir>/ablate-shrink.md and .json.
"""
import argparse
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import evaluate  # noqa: E402
from corpusgen import events, layout, words  # noqa: E402
from drsn import frontend  # noqa: E402

RATE = events.RATE
LEVEL_DBFS = -24.0


def music_windows(pieces, hop_s=0.1):
    """{track: float32 [N, RATE]}: each piece set to LEVEL_DBFS, cut into
    1 s windows every hop_s."""
    hop = int(round(hop_s * RATE))
    out = {}
    for track, x in pieces:
        x = x.astype(np.float64)
        x *= 10 ** (LEVEL_DBFS / 20) / max(np.sqrt(np.mean(x ** 2)), 1e-9)
        w = [x[i:i + RATE] for i in range(0, x.size - RATE + 1, hop)]
        if w:
            out.setdefault(track, []).extend(w)
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def speech_clips(root, n, seed=0):
    """(float32 [n, RATE], labels): n keyword clips of root's test split."""
    with open(os.path.join(root, 'testing_list.txt')) as f:
        test = [ln.strip() for ln in f if ln.split('/')[0] in words.TARGETS]
    if not test:
        raise ValueError(f'{root}: no keyword clip in testing_list.txt')
    pick = np.random.default_rng(seed).choice(len(test), min(n, len(test)), replace=False)
    paths = [test[i] for i in sorted(pick)]
    return (np.stack([np.asarray(layout.read_clip(os.path.join(root, p)), dtype=np.float32) for p in paths]),
            [p.split('/')[0] for p in paths])


class _Off(torch.nn.Module):
    """A unit's soft thresholding turned off: f passes as it is."""

    def forward(self, f):
        return f


def forward(model, x, off=None):
    """(probabilities [B, classes], [mean alpha per clip [B] per unit with a
    threshold branch]) of log-mels x, with the shrinkage of unit `off`
    (an index) turned off. The model is left as it was."""
    alphas = []

    def keep(mod, inp, _out):
        alphas.append(mod.alpha(inp[0].abs().mean(dim=2)).mean(dim=1))

    hooks = [u.shrink.register_forward_hook(keep) for i, u in enumerate(model.units)
             if u.shrink is not None and i != off]
    saved = None
    if off is not None:
        saved, model.units[off].shrink = model.units[off].shrink, _Off()
    try:
        with torch.no_grad():
            p = torch.softmax(model(x), dim=1)
    finally:
        for h in hooks:
            h.remove()
        if off is not None:
            model.units[off].shrink = saved
    return p, alphas


def ablate(model, labels, music, speech, speech_y, threshold):
    """The report of one model (dict): `music` {track: log-mels}, `speech`
    log-mels with label names speech_y."""
    kw = [i for i, lab in enumerate(labels) if lab in words.TARGETS]
    tracks = sorted(music)
    mx = torch.cat([music[t] for t in tracks])
    owner = np.concatenate([[t] * len(music[t]) for t in tracks])
    sy = torch.tensor([labels.index(lab) for lab in speech_y])
    shrink_units = [i for i, u in enumerate(model.units) if u.shrink is not None]

    def measure(off=None):
        pm, am = forward(model, mx, off)
        ps, as_ = forward(model, speech, off)
        fire = (pm[:, kw].max(dim=1).values >= threshold).numpy()
        right = float((ps.gather(1, sy[:, None])[:, 0] >= threshold).float().mean())
        return fire, right, pm, am, as_

    fire0, right0, pm0, am0, as0 = measure()
    top = {}
    for j in pm0[torch.from_numpy(fire0)][:, kw].argmax(dim=1).tolist():
        top[labels[kw[j]]] = top.get(labels[kw[j]], 0) + 1
    rep = {'windows': {t: int((owner == t).sum()) for t in tracks},
           'fired': {t: int(fire0[owner == t].sum()) for t in tracks},
           'labels_fired': dict(sorted(top.items(), key=lambda kv: -kv[1])),
           'speech_right': round(right0, 4), 'alpha': [], 'ablations': []}
    for k, u in enumerate(shrink_units):
        a, s = am0[k].numpy(), as0[k].numpy()
        rep['alpha'].append({'unit': u, 'music_fired': round(float(a[fire0].mean()), 3) if fire0.any() else None,
                             'music_other': round(float(a[~fire0].mean()), 3) if (~fire0).any() else None,
                             'speech': round(float(s.mean()), 3)})
    for u in shrink_units:
        fire, right, *_ = measure(u)
        rep['ablations'].append({'unit': u, 'fired': {t: int(fire[owner == t].sum()) for t in tracks},
                                 'still_fired': int((fire & fire0).sum()), 'speech_right': round(right, 4)})
    return rep


def report_md(res, info, cmd):
    pct = lambda a, b: f'{100.0 * a / b:.1f}' if b else '–'   # noqa: E731
    out = ['# Soft thresholds turned off one unit at a time: music windows that fire, speech that stays right', '',
           f'Command: `{cmd}`', '',
           f'Music: {info["music"]}; 1 s windows every 0.1 s of 5 s pieces at {LEVEL_DBFS:g} dBFS. '
           f'Speech: {info["speech"]} clean keyword clips of the test split ({info["data"]}). '
           f'Threshold {info["threshold"]} on the raw window probabilities (no smoothing).', '']
    for name, r in res.items():
        tracks = list(r['windows'])
        total = sum(r['windows'].values())
        fired = sum(r['fired'].values())
        out += [f'## {name}', '',
                f'Windows that fire: {fired} of {total} ({pct(fired, total)}%); labels: '
                + (', '.join(f'{k} {v}' for k, v in r['labels_fired'].items()) or 'none')
                + f'. Speech right: {100 * r["speech_right"]:.1f}%.', '']
        if not r['ablations']:
            out += ['No unit has a threshold branch (ResNet): nothing to turn off.', '']
            continue
        out += ['| soft thresholds off in | ' + ' | '.join(f'{t} fire %' for t in tracks)
                + ' | windows that fired and still fire | speech right % |',
                '|---' * (len(tracks) + 3) + '|',
                '| none (the model) | ' + ' | '.join(pct(r['fired'][t], r['windows'][t]) for t in tracks)
                + f' | {fired} of {fired} | {100 * r["speech_right"]:.1f} |']
        for a in r['ablations']:
            out.append(f'| unit {a["unit"]} | ' + ' | '.join(pct(a['fired'][t], r['windows'][t]) for t in tracks)
                       + f' | {a["still_fired"]} of {fired} | {100 * a["speech_right"]:.1f} |')
        out += ['', '| unit | mean alpha: music windows that fire | other music windows | speech |',
                '|---|---|---|---|']
        for a in r['alpha']:
            f3 = lambda v: '–' if v is None else f'{v:.3f}'   # noqa: E731
            out.append(f'| {a["unit"]} | {f3(a["music_fired"])} | {f3(a["music_other"])} | {f3(a["speech"])} |')
        out.append('')
    return '\n'.join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('models', nargs='+', help='exported .safetensors models or train.py checkpoints')
    ap.add_argument('--data', required=True, help="the corpus whose test split gives the speech")
    ap.add_argument('--music-dir', action='append', metavar='DIR',
                    help="music files (.ogg, .oga, .wav, .flac) under DIR (repeatable; default lincity-ng-data's)")
    ap.add_argument('--speech', type=int, default=400, help='keyword clips of the test split (default 400)')
    ap.add_argument('--threshold', type=float, default=0.8)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out-dir', default='.')
    a = ap.parse_args(argv)
    if not 0 < a.threshold <= 1:
        sys.exit(f'ablate_shrink: --threshold {a.threshold}: want 0 < T <= 1')
    if a.speech < 1:
        sys.exit(f'ablate_shrink: --speech {a.speech}: want at least 1 clip')
    torch.set_num_threads(a.threads)
    t0 = time.time()
    dirs = a.music_dir or [events.RECORDED_MUSIC_DIR]
    try:
        pieces = [p for d in dirs for p in events.recorded_music(d)]
        speech, speech_y = speech_clips(a.data, a.speech)
    except (OSError, ValueError) as e:
        sys.exit(f'ablate_shrink: {e}')
    windows = music_windows(pieces)
    res = {}
    for path in a.models:
        try:
            model, labels, fe_d, name, _ = evaluate.load_model(path)
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            sys.exit(f'ablate_shrink: {path}: {e}')
        missing = sorted(set(speech_y) - set(labels))
        if missing:
            sys.exit(f'ablate_shrink: {path}: the model has no label {", ".join(missing)}')
        fe = frontend.FrontEnd(frontend.FrontEndParams.from_dict(fe_d))
        with torch.no_grad():
            music = {t: fe(torch.from_numpy(w)) for t, w in windows.items()}
            res[name] = ablate(model, labels, music, fe(torch.from_numpy(speech)), speech_y, a.threshold)
    info = {'music': ', '.join(os.path.abspath(d) for d in dirs), 'speech': len(speech_y),
            'data': os.path.abspath(a.data), 'threshold': a.threshold,
            'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}
    cmd = ' '.join(['ablate_shrink.py'] + list(sys.argv[1:] if argv is None else argv))
    md = report_md(res, info, cmd)
    print(md)
    evaluate.write_report(a.out_dir, 'ablate-shrink', md + '\n', {'info': info, 'command': cmd, 'models': res})
    print(f'ablate_shrink: {len(res)} model(s), {sum(len(w) for w in windows.values())} music windows, '
          f'{time.time() - t0:.1f} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
