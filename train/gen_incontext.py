#!/usr/bin/python3
"""Keywords said inside running speech, as 1 s clips labelled with the
keyword, for train.py --extra-clips.

  /usr/bin/python3 train/gen_incontext.py --out /tmp/incontext --clips 4000

The corpus says every keyword alone, in its own second. On recorded speech
(models/human/) the models find only one keyword in six when it is said
inside a sentence ("press 1 for ..."). Running speech without keywords as
`_unknown_` (gen_running.py) halved even that: training never heard a
keyword with other words around it. This renders phrases of 0-3 words, a
keyword, then 0-3 words (other words from gen_running.vocabulary(): no
keyword, no homophone of one; at least one word on one side) as one
utterance, with the espeak-ng training voices only (corpusgen/voices.py:
the test and validation voices stay unheard), or with --engine flite the
flite training voices (kal, kal16, awb, slt). espeak-ng's library reports
where each word starts (corpusgen/espeak_timed.py), and flite the end of
every phone (corpusgen/flite_timed.py), so the keyword's span is known; a
1 s window holding all of it at a random place, and as much of its neighbours
as fits, becomes a clip of that keyword. Phrases where espeak-ng joins the
keyword to a neighbour (no word event of its own), or flite's phones are
not the words' own, and keywords longer than the window, are drawn again.
Then the corpus's training recipe, as gen_corpus.py's training clips: room
reverb half the time, -35 to -15 dBFS over the keyword, and 85% of the time
noise at -5 to 30 dB SNR (--clean: the level only). Deterministic from
--seed; two worker processes by default. Writes
OUT/<keyword>/incontext_NNNNN.wav (16 kHz mono 16-bit) and
OUT/incontext.csv (file, kind, keyword, voice, phrase, start, end: the
keyword's span in the clip, in samples; rt60, level, noise, snr).

--near-misses also cuts from every phrase a window that holds the keyword's
neighbours and at most a quarter of the keyword (its first part or its
last), as OUT/_unknown_/nearmiss_NNNNN.wav (kind near-miss; start and end
give the keyword's part in it): the same voice and words, without the
keyword, so that the neighbours alone are no evidence.
"""
import argparse
import csv
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from corpusgen import augment, espeak_timed, flite_timed, recipe, voices, wavio, words  # noqa: E402
import gen_running  # noqa: E402
import numpy as np  # noqa: E402

RATE = augment.RATE
MAX_TRIES = 8
MISS_MOST = 0.25      # a near miss holds at most this part of the keyword


def plan(n, voice_ids, keywords):
    """[(index, voice, keyword)] of n clips: keywords and voices in turn."""
    return [(i, voice_ids[i % len(voice_ids)], keywords[i % len(keywords)]) for i in range(n)]


def phrase_for(rng, keyword, vocab):
    """(words, position of the keyword): 0-3 words either side, not both 0."""
    while True:
        a, b = int(rng.integers(0, 4)), int(rng.integers(0, 4))
        if a + b > 0:
            break
    ws = [str(w) for w in rng.choice(vocab, a + b, replace=True)]
    return ws[:a] + [keyword] + ws[a:], a


def sound_end(y, a, b, floor_db=40.0, hop=160):
    """b moved back to the end of the last 10 ms frame of y[a:b] within
    floor_db of the utterance's loudest frame: espeak-ng's last word runs
    to the clause's end event, through the pause after it."""
    n = y.size // hop
    e = 10 * np.log10(np.mean(y[:n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(e[a // hop:b // hop] > e.max() - floor_db)
    return min(b, (a // hop + int(loud[-1]) + 1) * hop) if loud.size else b


def find_phrase(task, seed, vocab):
    """The rendering of task (index, voice, keyword): (words, float32
    samples, rate, (start, end) of the keyword in samples), or None when
    MAX_TRIES phrases all failed (keyword joined to a neighbour, or not
    between 10 ms and the window less 10 ms long). Needs no torch: the pool
    workers that run it stay small, and the process they fork for each
    utterance (espeak_timed) starts fast."""
    i, v, kw = task
    rng = recipe.clip_rng(seed, f'incontext|{i}')
    for t in range(MAX_TRIES):
        ws, k = phrase_for(rng, kw, vocab)
        params = voices.render_params(v, ' '.join(ws), i * MAX_TRIES + t, seed)
        x, sr, spans = (flite_timed if v.startswith('flite:') else espeak_timed).render(v, ws, params)
        if spans[k] is None:
            continue
        hop = sr // 100
        a, b = spans[k][0], sound_end(x, spans[k][0], min(spans[k][1], x.size), hop=hop)
        if hop <= b - a <= sr - hop:
            return ws, x, sr, (a, b)
    return None


def at_rate(found):
    """find_phrase()'s result with the utterance resampled to 16 kHz and
    the keyword's span moved with it: (words, samples, (start, end))."""
    ws, x, sr, (a, b) = found
    y = wavio.resample(x, sr)
    return ws, y, (int(a * RATE // sr), min(y.size, int(-(-b * RATE // sr))))


def cut(task, seed, said, clean=False):
    """(float32 1 s window at 16 kHz, csv row) of at_rate()'s result: a
    window that holds the whole keyword at a random place (the whole
    utterance if it is shorter than 1 s); then the corpus's training recipe
    (recipe.room_level_noise: reverb, level over the keyword, noise), or
    with clean only the level."""
    i, v, kw = task
    ws, y, (a, b) = said
    rng = recipe.clip_rng(seed, f'incontext-window|{i}')
    if y.size <= RATE:
        win, off, _ = augment.place(y, rng)
        s, e = a + off, b + off
    else:
        off = int(rng.integers(max(0, b - RATE), min(a, y.size - RATE) + 1))
        win, s, e = y[off:off + RATE].copy(), a - off, b - off
    row = {'kind': 'keyword', 'keyword': kw, 'voice': v, 'phrase': ' '.join(ws), 'start': s, 'end': e}
    return _finish(win, (s, e), rng, row, clean)


def cut_miss(task, seed, said, clean=False):
    """(float32 1 s window at 16 kHz, csv row) of a near miss of
    at_rate()'s result, for `_unknown_`: the window of the same
    utterance that ends inside the keyword's first MISS_MOST (neighbours
    before it) or starts inside its last (neighbours after it), on a side
    that has neighbours; silence where the window passes the utterance's
    ends. Start and end in the row are the keyword's part in the window.
    Then the recipe as cut(), the level over the window's speech. Its own
    random stream: the keyword clips are the same with or without it."""
    i, v, kw = task
    ws, y, (a, b) = said
    k = ws.index(kw)
    rng = recipe.clip_rng(seed, f'incontext-miss|{i}')
    sides = [side for side, has in (('before', k > 0), ('after', k < len(ws) - 1)) if has]
    side = sides[int(rng.integers(len(sides)))]
    part = int(rng.uniform(0, MISS_MOST) * (b - a))
    start = a + part - RATE if side == 'before' else b - part
    s, e = (RATE - part, RATE) if side == 'before' else (0, part)
    lo, hi = max(0, start), min(y.size, start + RATE)
    win = np.zeros(RATE, np.float32)
    win[lo - start:hi - start] = y[lo:hi]
    row = {'kind': 'near-miss', 'keyword': kw, 'voice': v, 'phrase': ' '.join(ws), 'start': s, 'end': e}
    return _finish(win, (lo - start, hi - start), rng, row, clean)


def _finish(win, span, rng, row, clean):
    """The recipe (recipe.room_level_noise), or with clean only the level,
    over span of win; (window, row with what was applied)."""
    if clean:
        lvl = float(rng.uniform(-35, -15))
        return augment.protect(augment.set_level(win, lvl, span)), {**row, 'level': round(lvl, 2)}
    win, info = recipe.room_level_noise(win, span, rng, 'training')
    return win, {**row, **info}


_ctx = {}


def _run(task):
    return find_phrase(task, _ctx['seed'], _ctx['vocab'])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--clips', type=int, default=4000)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--keywords', default=','.join(words.TARGETS),
                    help='comma-separated (default: the 20 keywords)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--clean', action='store_true',
                    help='no reverb and no noise: only the level (by default the corpus training recipe)')
    ap.add_argument('--engine', choices=('espeak', 'flite'), default='espeak',
                    help="whose training voices say the phrases (default espeak: espeak-ng's 320)")
    ap.add_argument('--near-misses', action='store_true',
                    help='also a window of every phrase without the keyword, as _unknown_')
    ap.add_argument('--max-voices', type=int, default=0, help='use only the first N training voices (tests)')
    a = ap.parse_args(argv)
    kws = [k for k in a.keywords.split(',') if k]
    if a.clips < 1 or a.workers < 1:
        sys.exit(f'gen_incontext: --clips {a.clips} --workers {a.workers}: want at least 1 each')
    bad = [k for k in kws if k not in words.TARGETS]
    if bad or not kws:
        sys.exit(f'gen_incontext: --keywords: {", ".join(bad) or "none"}: want some of {", ".join(words.TARGETS)}')
    t0 = time.time()
    vids = [v for v in voices.voices_by_split()['training'] if v.startswith(f'{a.engine}:')]
    if a.max_voices > 0:
        vids = vids[:a.max_voices]
    vocab = gen_running.vocabulary()
    tasks = plan(a.clips, vids, kws)
    _ctx.update(seed=a.seed, vocab=vocab)
    for k in kws + ['_unknown_'] * a.near_misses:
        os.makedirs(os.path.join(a.out, k), exist_ok=True)
    if a.workers == 1:
        results = map(_run, tasks)
        pool = None
    else:
        pool = mp.get_context('fork').Pool(a.workers)
        results = pool.imap(_run, tasks, chunksize=16)
    rows, failed = [], 0
    try:
        for task, found in zip(tasks, results):
            if found is None:
                failed += 1
                continue
            said = at_rate(found)
            cuts = [(cut, task[2], 'incontext')] + [(cut_miss, '_unknown_', 'nearmiss')] * a.near_misses
            for fn, folder, stem in cuts:
                win, row = fn(task, a.seed, said, a.clean)
                name = os.path.join(folder, f'{stem}_{task[0]:05d}.wav')
                wavio.write_wav16(os.path.join(a.out, name), win)
                rows.append({'file': name, **row})
    except (RuntimeError, OSError) as e:     # a synthesizer or the output folder failed (also in a worker)
        sys.exit(f'gen_incontext: {e}')
    finally:
        if pool:
            pool.close()
            pool.join()
    with open(os.path.join(a.out, 'incontext.csv'), 'w', newline='') as f:
        wr = csv.DictWriter(f, fieldnames=['file', 'kind', 'keyword', 'voice', 'phrase', 'start', 'end', 'rt60',
                                           'level', 'noise', 'snr'], lineterminator='\n')
        wr.writeheader()
        wr.writerows(rows)
    misses = sum(r['kind'] == 'near-miss' for r in rows)
    print(f'gen_incontext: {len(rows)} clips{f" ({misses} near misses)" if misses else ""} from '
          f'{len(set(r["voice"] for r in rows))} voices in {a.out}'
          f'{f" ({failed} keywords never got a span of their own)" if failed else ""}, '
          f'{time.time() - t0:.0f} s', file=sys.stderr)
    return 0 if rows else 1


if __name__ == '__main__':
    sys.exit(main())
