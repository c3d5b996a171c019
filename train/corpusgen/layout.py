"""Reading a Speech Commands layout: ours (gen_corpus.py) or a real download.

  DIR/<word>/<speaker>_nohash_<n>.wav   one folder per word, any audio format
  DIR/validation_list.txt               paths (relative to DIR) of validation clips
  DIR/testing_list.txt                  paths of test clips; every other clip trains
  DIR/_silence_/                        (ours) noise-only clips
  DIR/_background_noise_/               (real Speech Commands) long noise
                                        recordings, cut into _silence_ clips
A folder named as a keyword gives that label; _silence_ gives _silence_;
any other word folder is _unknown_. Clips are read as mono float at 16 kHz
(any rate/format -> torchaudio resampling) and centre-padded or cropped to
1 s, the model's window (a longer clip around its word: fit_word).
"""
import csv
import os
import wave

import numpy as np

from . import augment, wavio
from .words import SILENCE, TARGETS, UNKNOWN

AUDIO_EXT = ('.wav', '.flac', '.ogg', '.mp3', '.opus')
BACKGROUND = '_background_noise_'


def label_of(folder, keywords):
    if folder in keywords:
        return folder
    if folder == SILENCE:
        return SILENCE
    return UNKNOWN


def list_entry(line):
    """A line of validation_list.txt / testing_list.txt -> the 'word/file'
    relpath scan() compares: surrounding blanks (and a Windows line end's
    \r) dropped, backslashes read as slashes and a leading './' removed, so
    a list written on Windows or by `find .` names the same clips."""
    e = line.strip().replace('\\', '/')
    while e.startswith('./'):
        e = e[2:].lstrip('/')
    return e


def example_entry(root):
    """'word/file' of the first clip under root, for a message that shows a
    list line; 'word/clip.wav' if there is none."""
    for folder in sorted(os.listdir(root)):
        d = os.path.join(root, folder)
        if os.path.isdir(d) and not folder.startswith('.') and folder != BACKGROUND:
            for fn in sorted(os.listdir(d)):
                if fn.lower().endswith(AUDIO_EXT):
                    return f'{folder}/{fn}'
    return 'word/clip.wav'


def scan(root, keywords=TARGETS, unmatched=None):
    """{'training'|'validation'|'testing': [(relpath, label)]}, sorted.
    unmatched: a dict that receives {split: [list entries that name no
    clip of the corpus]} (a typo there would train on a held-out clip)."""
    if not os.path.isdir(root):
        raise FileNotFoundError(f'{root}: no such corpus folder')
    lists = {}
    for split, name in (('validation', 'validation_list.txt'), ('testing', 'testing_list.txt')):
        p = os.path.join(root, name)
        if not os.path.exists(p):
            raise FileNotFoundError(f'{p}: missing: write there the clips held out for {split} (a few of each '
                                    f'word, from speakers not in training), one path a line relative to {root} '
                                    f'(e.g. {example_entry(root)!r}); every clip in neither {name} nor the '
                                    'other list trains')
        with open(p, encoding='utf-8', errors='surrogateescape') as f:
            lists[split] = {list_entry(ln) for ln in f if ln.strip()}
    out = {'training': [], 'validation': [], 'testing': []}
    for folder in sorted(os.listdir(root)):
        d = os.path.join(root, folder)
        if not os.path.isdir(d) or folder == BACKGROUND or folder.startswith('.'):
            continue
        lab = label_of(folder, keywords)
        for fn in sorted(os.listdir(d)):
            if not fn.lower().endswith(AUDIO_EXT):
                continue
            rel = f'{folder}/{fn}'
            split = 'validation' if rel in lists['validation'] else 'testing' if rel in lists['testing'] else 'training'
            out[split].append((rel, lab))
    if not out['training']:
        raise ValueError(f'{root}: no training clips found')
    if unmatched is not None:
        for split in lists:
            found = {rel for rel, _ in out[split]}
            unmatched[split] = sorted(lists[split] - found)
    return out


def clip_rows(root):
    """{relpath: row} of clips.csv, the generator's per-clip metadata (word,
    voice, augmentation, the word's span); {} for a corpus without it."""
    p = os.path.join(root, 'clips.csv')
    if not os.path.exists(p):
        return {}
    with open(p, newline='') as f:
        return {r['path']: r for r in csv.DictReader(f)}


def spans(rows):
    """{relpath: (start, end)} of the word in each clip, from clip_rows()."""
    return {rel: (int(r['start']), int(r['end'])) for rel, r in rows.items()
            if r.get('start') and r.get('end') and int(r['end']) > int(r['start'])}


def estimate_span(x, floor_db=30.0):
    """Where the word is in a clean clip (for corpora without clips.csv)."""
    hop = 160
    n = x.size // hop
    e = 10 * np.log10(np.mean(x[:n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    on = np.nonzero(e > e.max() - floor_db)[0]
    return (int(on[0] * hop), int((on[-1] + 1) * hop))


def fit_window(x, n=augment.WINDOW):
    """Centre-pad or centre-crop to n samples."""
    if x.size == n:
        return x
    if x.size > n:
        a = (x.size - n) // 2
        return x[a:a + n]
    out = np.zeros(n, dtype=np.float32)
    a = (n - x.size) // 2
    out[a:a + x.size] = x
    return out


WORD_SEARCH = 10   # fit_word looks for the word in clips up to 10 windows (10 s) long


def fit_word(x, n=augment.WINDOW):
    """fit_window, but a clip longer than n is cropped around its word (the
    middle of estimate_span, kept inside the clip) instead of its middle: a
    recording made by hand has the word anywhere in it, and a centre crop of
    a 2.5 s clip cuts off a word said in its first or last second. A clip
    of n samples or fewer is fit_window's, and so is a recording longer than
    WORD_SEARCH windows (not a clip: its centre, as drsn classify streams it
    without holding it in memory)."""
    if x.size <= n or x.size > WORD_SEARCH * n:
        return fit_window(x, n)
    s, e = estimate_span(x)
    a = min(max((s + e) // 2 - n // 2, 0), x.size - n)
    return x[a:a + n]


def read_clip(path):
    """One clip as float32 [16000] (fit_word): 16 kHz mono PCM16 WAV read
    directly (fast path), anything else through torchaudio."""
    try:
        with wave.open(path, 'rb') as w:
            if w.getframerate() == wavio.RATE and w.getsampwidth() == 2 and w.getnchannels() == 1:
                x = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float32) / 32768.0
                return fit_word(x)
    except (wave.Error, EOFError):
        pass
    return fit_word(wavio.read_audio(path))


def background_clips(root, n, rng):
    """n 1 s _silence_ clips cut from DIR/_background_noise_ (real Speech
    Commands), at random gains; [] if that folder does not exist."""
    d = os.path.join(root, BACKGROUND)
    if not os.path.isdir(d) or n <= 0:
        return []
    recs = [wavio.read_audio(os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.lower().endswith(AUDIO_EXT)]
    recs = [r for r in recs if r.size >= augment.WINDOW]
    out = []
    for _ in range(n if recs else 0):
        r = recs[int(rng.integers(len(recs)))]
        off = int(rng.integers(r.size - augment.WINDOW + 1))
        out.append((r[off:off + augment.WINDOW] * float(rng.uniform(0.0, 1.0))).astype(np.float32))
    return out
