#!/usr/bin/python3
"""How far each voice's average spectrum is from the training voices'.

  /usr/bin/python3 train/voice_spectra.py --data train/corpus

For each voice group of a generated corpus (clips.csv's voice up to '+':
'espeak:en-us', 'flite:rms'), the mean log-mel of the loudest 30% of frames
of up to --clips word clips, in dB, less its own mean over the bands (so
loudness does not count). Printed against the mean of the training groups:
the RMS deviation over the bands, the least-squares tilt from the lowest to
the highest band, and the mean deviation in the low, middle and high third
of the bands; and the median length of the voice's words (clips.csv's
spans). A held-out voice far from every training voice is a channel
the network has not heard; train.py's --eq and --balance-voices are aimed
at that.

  /usr/bin/python3 train/voice_spectra.py --data train/corpus --model M.safetensors

With --model (a .safetensors or train.py checkpoint; repeatable), each test
voice's clean test accuracy is also scored three ways: as is, with the
voice's spectral deviation taken off its log-mels (what per-speaker
normalisation from unlabelled audio could do), and with its time axis
compressed by 0.9 and 0.8 (faster speech, train.py's stretch_frames). A
voice that gains from one of them is off in that respect. These use the
test voices' own audio: they diagnose, they are not accuracy.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from corpusgen import layout, words  # noqa: E402
from drsn import frontend  # noqa: E402


def profiles(root, clips, seed):
    """{group: (split, profile in dB [bands])} over the corpus' word clips."""
    rows = layout.clip_rows(root)
    if not rows:
        raise ValueError(f'{root}: no clips.csv (only a generated corpus names its voices)')
    fe = frontend.FrontEnd(frontend.default_params())
    groups = {}
    for rel, r in rows.items():
        v = (r.get('voice') or '').split('+')[0]
        if v and r['label'] != words.SILENCE:
            groups.setdefault(v, (r['split'], []))[1].append(rel)
    rng = np.random.default_rng(seed)
    out = {}
    for v, (split, rels) in sorted(groups.items()):
        pick = sorted(rng.choice(len(rels), min(clips, len(rels)), replace=False).tolist())
        x = torch.stack([torch.from_numpy(layout.read_clip(os.path.join(root, rels[i])).astype(np.float32))
                         for i in pick])
        with torch.no_grad():
            lm = fe(x)                                              # [N, frames, bands]
        k = max(1, int(0.3 * lm.shape[1]))
        top = lm.exp().sum(2).topk(k, dim=1).indices                # the loudest frames of each clip
        mean = torch.stack([lm[i, top[i]].mean(0) for i in range(lm.shape[0])]).mean(0)
        db = (mean - mean.mean()).numpy() * (10.0 / np.log(10.0))
        out[v] = (split, db)
    return out


def word_durations(root):
    """{voice group: median length of its words in s} from clips.csv's spans
    (keywords and _unknown_ words; silence has no voice)."""
    rows = layout.clip_rows(root)
    per = {}
    for rel, (start, end) in layout.spans(rows).items():
        v = (rows[rel].get('voice') or '').split('+')[0]
        if v:
            per.setdefault(v, []).append((end - start) / 16000.0)
    return {v: float(np.median(d)) for v, d in per.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--data', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus'))
    ap.add_argument('--clips', type=int, default=150, help='word clips per voice group (default 150)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--model', action='append', default=[],
                    help='also score each test voice as is, spectrum-aligned and time-compressed')
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    try:
        prof = profiles(a.data, a.clips, a.seed)
    except (OSError, ValueError) as e:
        print(f'voice_spectra: {e}', file=sys.stderr)
        return 2
    train_p = [p for s, p in prof.values() if s == 'training']
    if not train_p:
        print(f'voice_spectra: {a.data}: no training voices', file=sys.stderr)
        return 2
    ref = np.mean(train_p, axis=0)
    bands = ref.size
    thirds = np.array_split(np.arange(bands), 3)
    dur = word_durations(a.data)
    print(f'{"voice":34s} {"split":10s} {"rms dev":>8s} {"tilt":>7s} {"low":>6s} {"mid":>6s} {"high":>6s}'
          f' (dB) {"word s":>7s}')
    for v, (split, p) in prof.items():
        d = p - ref
        tilt = np.polyfit(np.arange(bands), d, 1)[0] * (bands - 1)
        lo, mid, hi = (float(d[t].mean()) for t in thirds)
        print(f'{v:34s} {split:10s} {np.sqrt(np.mean(d ** 2)):8.1f} {tilt:+7.1f} {lo:+6.1f} {mid:+6.1f} {hi:+6.1f}'
              f'      {dur.get(v, float("nan")):7.3f}')
    for path in a.model:
        try:
            res = diagnose(a.data, path, {v: p - ref for v, (_, p) in prof.items()})
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            print(f'voice_spectra: {path}: {e}', file=sys.stderr)
            return 2
        print(f'\n{os.path.basename(path)}: clean test accuracy (%)')
        print(f'{"voice":34s} {"clips":>6s} {"as is":>7s} {"aligned":>8s} {"time 0.9":>9s} {"time 0.8":>9s}')
        for v, (n, accs) in res.items():
            print(f'{v:34s} {n:6d} ' + ' '.join(f'{x:{w}.2f}' for x, w in zip(accs, (7, 8, 9, 9))))
    return 0


def diagnose(root, model_path, deviation):
    """{test voice: (clips, [accuracy as is, with deviation[voice] (dB
    [bands]) taken off, time x 0.9, time x 0.8])} on the clean test split."""
    import evaluate
    import train
    m, labels, fe_params, _, _ = evaluate.load_model(model_path)
    rows = layout.clip_rows(root)
    paths, x, _, y = evaluate.test_set(root, labels, rows)
    feats = evaluate.features(frontend.FrontEnd(fe_params), x)
    y = torch.as_tensor(y)
    voice = [(rows.get(p, {}).get('voice') or '').split('+')[0] for p in paths]
    aligned = feats.clone()
    for i, v in enumerate(voice):
        if v in deviation:
            aligned[i] -= torch.from_numpy(deviation[v] * (np.log(10.0) / 10.0)).to(feats.dtype)
    n = feats.shape[0]
    preds = []
    for f in (feats, aligned, train.stretch_frames(feats, torch.full((n,), 0.9)),
              train.stretch_frames(feats, torch.full((n,), 0.8))):
        preds.append(torch.from_numpy(evaluate.predict(m, f)))
    out = {}
    for v in sorted({v for v in voice if v}):
        sel = torch.tensor([u == v for u in voice])
        out[v] = (int(sel.sum()), [float((p[sel] == y[sel]).float().mean()) * 100 for p in preds])
    return out


if __name__ == '__main__':
    sys.exit(main())
