#!/usr/bin/python3
"""Running speech that holds no keyword, as 1 s `_unknown_` clips for
train.py --extra-unknown.

  /usr/bin/python3 train/gen_running.py --out /tmp/running --clips 4000

The corpus teaches `_unknown_` with other words said alone, each in its own
second. On recorded speech (models/human/) the models then fire about five
times a minute on sentences that hold no keyword: they never heard a second
of running speech. This renders phrases of 4-8 words drawn from the
corpus's `_unknown_` words (corpusgen/words.py; no keyword, no homophone of
one) with the training voices only (corpusgen/voices.py: the test and
validation voices stay unheard), each phrase as one utterance, and cuts
from each a random 1 s window that holds speech. Levels -35 to -15 dBFS,
as the corpus. Deterministic from --seed. Writes OUT/*.wav (16 kHz mono
16-bit) and OUT/running.csv (file, voice, phrase, offset).
"""
import argparse
import csv
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from corpusgen import augment, recipe, voices, wavio, words  # noqa: E402

RATE = augment.RATE
# spoken like a keyword ("oh" is said for zero): never in a phrase labelled _unknown_
HOMOPHONES = set(words.HOMOPHONES) | {'oh'}


def vocabulary():
    return [w for w in words.UNKNOWN_WORDS if w not in words.TARGETS and w not in HOMOPHONES
            and not any(t in w.split() for t in words.TARGETS)]


def plan(n, seed, voice_ids, vocab):
    """[(voice, phrase, params)] of n phrases, voices in turn."""
    rng = recipe.clip_rng(seed, 'running|plan')
    out = []
    for i in range(n):
        v = voice_ids[i % len(voice_ids)]
        phrase = ' '.join(rng.choice(vocab, int(rng.integers(4, 9)), replace=True))
        out.append((v, phrase, voices.render_params(v, phrase, i, seed)))
    return out


def window(x, rng):
    """A 1 s window of x (trimmed speech) at a random offset, zero-padded
    if x is shorter; (window, offset)."""
    if x.size <= RATE:
        return augment.place(x, rng)[0], 0
    off = int(rng.integers(0, x.size - RATE + 1))
    return x[off:off + RATE].copy(), off


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--clips', type=int, default=4000)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--max-voices', type=int, default=0, help='use only the first N training voices (tests)')
    a = ap.parse_args(argv)
    if a.clips < 1:
        sys.exit(f'gen_running: --clips {a.clips}: want at least 1')
    t0 = time.time()
    vids = voices.voices_by_split()['training']
    if a.max_voices > 0:
        vids = vids[:a.max_voices]
    reqs = plan(a.clips, a.seed, vids, vocabulary())
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for k in range(0, len(reqs), 200):      # in slices: the synthesizers start once per voice and slice
        part = reqs[k:k + 200]
        for i, ((v, phrase, _), x) in enumerate(zip(part, voices.synthesize(part)), start=k):
            rng = recipe.clip_rng(a.seed, f'running|{i}')
            w, off = window(augment.trim(x), rng)
            w = augment.set_level(w, float(rng.uniform(-35, -15)))
            name = f'running_{i:05d}.wav'
            wavio.write_wav16(os.path.join(a.out, name), augment.protect(w))
            rows.append({'file': name, 'voice': v, 'phrase': phrase, 'offset': off})
    with open(os.path.join(a.out, 'running.csv'), 'w', newline='') as f:
        wr = csv.DictWriter(f, fieldnames=['file', 'voice', 'phrase', 'offset'])
        wr.writeheader()
        wr.writerows(rows)
    print(f'gen_running: {len(rows)} clips from {len(set(r["voice"] for r in rows))} voices in {a.out}, '
          f'{time.time() - t0:.0f} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
