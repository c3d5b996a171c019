#!/usr/bin/python3
"""Make the shipped samples/ from held-out (testing) voices, so the shipped
model never heard them:

  samples/clips/<word>-<n>-clean.wav       1 s clips, one keyword each
  samples/clips/<word>-<n>-pink-5db.wav    the same clip, pink noise at 5 dB SNR
  samples/clips/<word>-<n>-real-0db.wav    the same clip, recorded noise at 0 dB
  samples/stream-noisy.wav                 ~25 s: keywords and two other words
                                           in recorded background noise
  samples/stream-noisy.truth.csv           its ground truth: label,word,start,end,voice

  /usr/bin/python3 train/make_samples.py [--seed 1] [--out samples]

Deterministic from --seed (synthesizers are deterministic; noise and choices
come from generators seeded by (seed, name)). SNR is speech power over each
word against noise power, as in the corpus (corpusgen/noise.py).
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from corpusgen import augment, noise, recipe, voices, wavio  # noqa: E402
from corpusgen.words import TARGETS, UNKNOWN_WORDS  # noqa: E402

RATE = wavio.RATE
CLIP_WORDS = ('yes', 'stop', 'seven', 'left')
STREAM_KEYWORDS = 10
STREAM_OTHER = ('bird', 'house')     # Speech Commands auxiliary words: must NOT fire
STREAM_SNR_DB = 10.0
STREAM_SPEECH_DB = -24.0


def render(voice, word, seed):
    p = voices.render_params(voice, word, 0, seed)
    x = voices.synthesize([(voice, word, p)])[0]
    return augment.fit(augment.trim(x))


def write(path, x):
    wavio.write_wav16(path, augment.protect(np.asarray(x, dtype=np.float32)))


def clips(out, seed, test_voices):
    rng = recipe.clip_rng(seed, 'samples|clips')
    os.makedirs(os.path.join(out, 'clips'), exist_ok=True)
    rows = []
    for i, w in enumerate(CLIP_WORDS):
        v = test_voices[int(rng.integers(len(test_voices)))]
        win, a, b = augment.place(render(v, w, seed), rng)
        win = augment.set_level(win, -24.0, (a, b))
        base = os.path.join(out, 'clips', f'{w}-{i}')
        write(base + '-clean.wav', win)
        for kind, snr, tag in (('pink', 5, 'pink-5db'), ('real', 0, 'real-0db')):
            nz = noise.make(kind, win.size, recipe.clip_rng(seed, f'samples|{w}|{kind}'), 'testing')
            write(f'{base}-{tag}.wav', noise.mix_at_snr(win, nz, snr, (a, b)))
        rows.append((w, v, a / RATE, b / RATE))
    return rows


def stream(out, seed, test_voices):
    rng = recipe.clip_rng(seed, 'samples|stream')
    kws = [TARGETS[int(i)] for i in rng.choice(len(TARGETS), STREAM_KEYWORDS, replace=False)]
    words = kws[:]
    for j, w in enumerate(STREAM_OTHER):   # the other words go at fixed places, not first
        assert w in UNKNOWN_WORDS
        words.insert(3 + 5 * j, w)
    t = 1.0
    parts = []
    for w in words:
        v = test_voices[int(rng.integers(len(test_voices)))]
        x = augment.set_level(render(v, w, seed), STREAM_SPEECH_DB)
        a = int(t * RATE)
        parts.append((w, v, a, x))
        t += x.size / RATE + float(rng.uniform(1.2, 1.6))
    n = int((t + 0.5) * RATE)
    speech = np.zeros(n, dtype=np.float64)
    for _, _, a, x in parts:
        speech[a:a + x.size] += x
    # noise scaled so that each word, at STREAM_SPEECH_DB, is STREAM_SNR_DB above it
    nz = noise.make('real', n, recipe.clip_rng(seed, 'samples|stream-noise'), 'testing').astype(np.float64)
    g = 10 ** ((STREAM_SPEECH_DB - STREAM_SNR_DB) / 20)
    write(os.path.join(out, 'stream-noisy.wav'), speech + g * nz)
    rows = []
    for w, v, a, x in parts:
        lab = w if w in TARGETS else '_unknown_'
        rows.append((lab, w, round(a / RATE, 3), round((a + x.size) / RATE, 3), v))
    with open(os.path.join(out, 'stream-noisy.truth.csv'), 'w', newline='') as f:
        cw = csv.writer(f)
        cw.writerow(('label', 'word', 'start', 'end', 'voice'))
        cw.writerows(rows)
    return rows, n / RATE


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out', default=os.path.join(os.path.dirname(here), 'samples'))
    a = ap.parse_args()
    test_voices = sorted(voices.voices_by_split()['testing'])
    for w, v, s, e in clips(a.out, a.seed, test_voices):
        print(f'clip {w}: {v}, word at {s:.2f}-{e:.2f} s')
    rows, dur = stream(a.out, a.seed, test_voices)
    print(f'stream-noisy.wav: {dur:.1f} s, recorded noise, {STREAM_SNR_DB:g} dB SNR')
    for r in rows:
        print('  ' + ','.join(str(c) for c in r))
    return 0


if __name__ == '__main__':
    sys.exit(main())
