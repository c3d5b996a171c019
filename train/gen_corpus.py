#!/usr/bin/python3
"""Generate the noisy keyword corpus in the Speech Commands layout.

  /usr/bin/python3 train/gen_corpus.py [--out train/corpus] [--seed 1] [--per-word 2000]

Writes one folder per word (the 20 keywords, each _unknown_ word, as in
Speech Commands) plus _silence_/, all 1 s, 16 kHz, mono 16-bit WAVs;
validation_list.txt and testing_list.txt (speaker-disjoint: held-out
voices only); clips.csv (every clip's voice, speed, reverb, noise, SNR and
where the word is in the window) and corpus.json (the settings, the voice
split). Same seed, same bytes. The recipe is in train/corpusgen/.
"""
import argparse
import csv
import json
import multiprocessing as mp
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from corpusgen import augment, noise, recipe, voices, wavio, words  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
CSV_FIELDS = ['path', 'split', 'label', 'word', 'voice', 'r', 'speed', 'rt60', 'level',
              'noise', 'snr', 'start', 'end']


def _init_worker():
    import torch
    torch.set_num_threads(1)


def run_task(task):
    """Render the speech that the task's clips need (each (voice, word,
    rendering) once), then make and write every clip. Returns csv rows."""
    out, seed, clips = task
    keys = sorted({recipe.render_key(c) for c in clips if c['word'] is not None})
    reqs = [(v, w, voices.render_params(v, w, r, seed)) for v, w, r in keys]
    speech = {k: augment.trim(x) for k, x in zip(keys, voices.synthesize(reqs))}
    rows = []
    for c in clips:
        x, info = recipe.make_clip(c, seed, speech.get(recipe.render_key(c)))
        path = os.path.join(out, c['path'])
        wavio.write_wav16(path, x)
        row = {k: c.get(k) for k in ('path', 'split', 'label', 'word', 'voice', 'r')}
        row.update(info)
        rows.append(row)
    return rows


def tasks_of(out, seed, clips, chunk=400):
    """One task per voice (each synthesizer process then renders every word
    that voice says, and each rendering is made once), _silence_ in chunks.
    Largest first, for an even spread over the workers."""
    by_voice = {}
    for c in clips:
        by_voice.setdefault(c['voice'] or '', []).append(c)
    tasks = []
    for v in sorted(by_voice):
        cs = by_voice[v]
        step = chunk if v == '' else len(cs)
        tasks += [cs[i:i + step] for i in range(0, len(cs), step)]
    tasks.sort(key=len, reverse=True)
    return [(out, seed, t) for t in tasks]


def tool_versions():
    v = {}
    for cmd in (['espeak-ng', '--version'], ['flite', '--version'], ['festival', '--version']):
        try:
            v[cmd[0]] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            v[cmd[0]] = None
    return v


def list_voices(cross_language=False):
    vs = voices.voices_by_split(cross_language)
    for s in voices.SPLITS:
        print(f'{s} ({len(vs[s])} voices):')
        print('  ' + ' '.join(vs[s]))
    for s in voices.SPLITS:
        print(f'{s} espeak-ng variants: ' + ' '.join(sorted(
            {v for v in voices.espeak_variants() if voices.variant_split(v) == s})))
    bank = noise.real_bank()
    for s, fl in bank.files.items():
        print(f'{s} background recordings ({noise.REAL_NOISE_PACKAGE}): ' + ' '.join(n for n, _ in fl))


def prepare_out(out, force):
    if os.path.exists(out) and os.listdir(out):
        if not force:
            sys.exit(f'gen_corpus: {out}: exists and is not empty (use --force to replace a corpus made by this script)')
        if not os.path.exists(os.path.join(out, 'corpus.json')):
            sys.exit(f'gen_corpus: {out}: --force only replaces a corpus made by this script (no corpus.json there)')
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', default=DEFAULT_OUT, help='output folder, created, must be empty (default train/corpus, git-ignored)')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--per-word', type=int, default=2000, help='training clips per keyword (default 2000)')
    ap.add_argument('--workers', type=int, default=2, help='processes (default 2)')
    ap.add_argument('--words', help='comma-separated keyword subset (default: all 20)')
    ap.add_argument('--unknown-words', help='comma-separated _unknown_ vocabulary (default: built-in list)')
    ap.add_argument('--unknown-ratio', type=float, default=2.0,
                    help='training _unknown_ clips per training clip of a keyword (default 2); validation and '
                         'testing keep 2, so a larger ratio adds training clips and leaves the validation and '
                         'test sets as they are, file for file')
    ap.add_argument('--renderings', type=int, default=2,
                    help='renderings per (word, espeak-ng training voice) (default 2)')
    ap.add_argument('--eval-renderings', type=int, default=3,
                    help='renderings per (word, held-out espeak-ng voice) in validation and testing (default 3)')
    ap.add_argument('--max-voices', type=int, default=0,
                    help='use at most this many voices per split (0: all; for quick tests)')
    ap.add_argument('--cross-language-voices', action='store_true',
                    help='add training speakers: festival voices of other languages (Italian, Czech, '
                         'Finnish) saying the English words with an accent (voices.XLANG_VOICES; their '
                         'Debian packages must be installed). Validation and testing stay as they are')
    ap.add_argument('--force', action='store_true', help='replace an existing corpus')
    ap.add_argument('--list-voices', action='store_true', help='print the voice and noise split and exit')
    ap.add_argument('--quiet', action='store_true', help='no progress bar')
    a = ap.parse_args(argv)
    if a.list_voices:
        list_voices(a.cross_language_voices)
        return 0
    targets = a.words.split(',') if a.words else words.TARGETS
    bad = [w for w in targets if w not in words.TARGETS]
    if bad:
        ap.error(f'--words: not keywords: {",".join(bad)} (keywords: {" ".join(words.TARGETS)})')
    unk = a.unknown_words.split(',') if a.unknown_words else words.UNKNOWN_WORDS
    if min(a.per_word, a.workers, a.renderings, a.eval_renderings) < 1:
        ap.error('--per-word, --workers, --renderings and --eval-renderings must be >= 1')
    if not 0 <= a.unknown_ratio <= 100:
        ap.error(f'--unknown-ratio {a.unknown_ratio}: want 0 to 100')

    t0 = time.time()
    vs = voices.voices_by_split(a.cross_language_voices)
    if a.max_voices:
        # keep every engine represented: espeak first-n plus all others
        vs = {s: ([v for v in l if v.startswith('espeak:')][:a.max_voices] +
                  [v for v in l if not v.startswith('espeak:')]) for s, l in vs.items()}
    clips = recipe.plan(a.seed, a.per_word, targets, unk,
                        renderings={'training': a.renderings, 'validation': a.eval_renderings,
                                    'testing': a.eval_renderings},
                        voice_split=vs, train_unknown_ratio=a.unknown_ratio)
    prepare_out(a.out, a.force)
    for d in sorted({os.path.dirname(c['path']) for c in clips}):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
    tasks = tasks_of(a.out, a.seed, clips)
    rows = []
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    bar = None if a.quiet or tqdm is None else tqdm(total=len(clips), unit='clip', desc='corpus')
    if a.workers == 1:
        _init_worker()
        it = map(run_task, tasks)
        pool = None
    else:
        pool = mp.get_context('fork').Pool(a.workers, initializer=_init_worker)
        it = pool.imap_unordered(run_task, tasks)
    try:
        for r in it:
            rows += r
            if bar:
                bar.update(len(r))
    finally:
        if pool:
            pool.close()
            pool.join()
        if bar:
            bar.close()
    rows.sort(key=lambda r: r['path'])
    for split, name in (('validation', 'validation_list.txt'), ('testing', 'testing_list.txt')):
        with open(os.path.join(a.out, name), 'w') as f:
            f.writelines(r['path'] + '\n' for r in rows if r['split'] == split)
    with open(os.path.join(a.out, 'clips.csv'), 'w', newline='') as f:
        w = csv.DictWriter(f, CSV_FIELDS, lineterminator='\n')
        w.writeheader()
        for r in rows:
            w.writerow({k: ('' if r.get(k) is None else r.get(k)) for k in CSV_FIELDS})
    counts = {}
    for r in rows:
        lab = r['label'] if r['label'] in words.LABELS else words.UNKNOWN
        counts.setdefault(r['split'], {}).setdefault(lab, 0)
        counts[r['split']][lab] += 1
    elapsed = time.time() - t0
    meta = {
        'generator': 'train/gen_corpus.py',
        'seed': a.seed, 'per_word': a.per_word, 'renderings': a.renderings,
        'eval_renderings': a.eval_renderings, 'unknown_ratio': a.unknown_ratio,
        'keywords': targets, 'unknown_words': unk, 'labels': words.LABELS,
        'voices': vs, 'cross_language_voices': a.cross_language_voices, 'counts': counts,
        'noise': {'kinds': list(noise.KINDS), 'recorded': noise.REAL_NOISE_PACKAGE,
                  'recorded_files': {s: [n for n, _ in fl] for s, fl in noise.real_bank().files.items()}},
        'synthesizers': tool_versions(),
        'python': platform.python_version(), 'numpy': __import__('numpy').__version__,
        'torch': __import__('torch').__version__,
    }
    # corpus.json holds no timing, so that it too is byte-identical across runs
    with open(os.path.join(a.out, 'corpus.json'), 'w') as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write('\n')
    print(f'gen_corpus: {len(rows)} clips in {a.out} '
          f'({", ".join(f"{s} {sum(c.values())}" for s, c in counts.items())}) '
          f'in {elapsed:.1f} s with {a.workers} worker(s)', file=sys.stderr)
    return 0


if __name__ == '__main__':
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `--list-voices | head` ends quietly
    sys.exit(main())
