"""What the corpus holds (the plan) and how each clip is made.

The plan is a list of clips; each clip names its split, label folder, word,
voice, rendering number and output path. Every random choice for a clip
comes from a generator seeded by (seed, clip path), so the corpus does not
depend on how the work is spread over processes: the same seed gives the
same bytes.

Counts (N = --per-word, the training clips per keyword):
  training    N clips per keyword, drawn round-robin from every rendering of
              the word by the training voices (espeak-ng voices `renderings`
              times each with different rate/pitch, flite/festival voices
              6x as often since there are few of them); unknown_ratio*N
              _unknown_ clips spread over UNKNOWN_WORDS (train_unknown_ratio*N
              if given); silence_ratio*N _silence_ clips.
  validation, testing  one clip per rendering of each keyword by each
              held-out voice, plus _unknown_ and _silence_ in the same
              ratios to that count.
Augmentation: training and validation clips get speed 0.85-1.15, a random
time shift, room reverb (p=0.5, RT60 0.15-0.8 s), a speech level of -35 to
-15 dBFS and noise (p=0.85; Gaussian, pink, Laplacian 20% each, recorded
40%) at an SNR uniform in [-5, 30] dB. Testing clips are clean (speed 0.9-1.1,
shift, level -30 to -18 dBFS, no reverb, no noise): evaluate.py adds each
noise type at each SNR itself (see make_condition).
"""
import hashlib

import numpy as np

from . import augment, noise, voices
from .words import SILENCE, TARGETS, UNKNOWN_WORDS

FEW_VOICE_BOOST = 6          # flite/festival renderings per espeak rendering
NOISE_P = {'gaussian': 0.2, 'pink': 0.2, 'laplacian': 0.2, 'real': 0.4}
SNR_RANGE = (-5.0, 30.0)
EVAL_SNRS = (20, 10, 5, 0, -5)
EVAL_CONDITIONS = [('clean', None)] + [(k, s) for k in noise.KINDS for s in EVAL_SNRS]
REF_SPEECH_DB = -25.0        # speech level assumed when scaling noise into _silence_ test clips


def clip_rng(seed, key):
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], 'little')
    return np.random.default_rng(np.random.SeedSequence([seed & 0xffffffff, seed >> 32, h]))


def _renderings(voice_ids, renderings):
    out = []
    for v in voice_ids:
        k = renderings if v.startswith('espeak:') else renderings * FEW_VOICE_BOOST
        out += [(v, r) for r in range(k)]
    return out


def _slug(voice_id):
    return hashlib.sha1(voice_id.encode()).hexdigest()[:8]


def plan(seed=1, per_word=2000, targets=TARGETS, unknown_words=UNKNOWN_WORDS,
         unknown_ratio=2.0, silence_ratio=1.0, renderings=None, voice_split=None,
         train_unknown_ratio=None):
    """The list of clips: dicts with keys split, label, word, voice, r, path.
    voice_split: {split: [voice ids]} (default voices.voices_by_split()).
    train_unknown_ratio: the training split's _unknown_ ratio, if not
    unknown_ratio. Each split draws from its own generator and the extra
    clips come last, so a corpus with more training _unknown_ clips plans
    every clip of one with fewer the same way (same word, voice, rendering
    and augmentation), and its validation and test splits are the same
    files. (The training audio can still differ slightly: espeak-ng renders
    all of a voice's words in one batch, cut at its pauses, and more words
    move the cuts.)"""
    renderings = renderings or {'training': 2, 'validation': 3, 'testing': 3}
    vs = voice_split or voices.voices_by_split()
    clips = []
    counters = {}

    def add(split, label, word, voice, r):
        k = (label, voice)
        counters[k] = counters.get(k, 0) + 1
        clips.append({'split': split, 'label': label, 'word': word, 'voice': voice, 'r': r,
                      'path': f'{label}/{_slug(voice) if voice else "noise"}_nohash_{counters[k] - 1}.wav'})

    for split in voices.SPLITS:
        pool = _renderings(vs[split], renderings[split])
        rng = clip_rng(seed, f'plan|{split}')
        if split == 'training':
            n_kw = per_word
        else:
            n_kw = len(pool)
        for w in targets:
            order = rng.permutation(len(pool))
            for i in range(n_kw):
                v, r = pool[order[i % len(pool)]]
                add(split, w, w, v, r)
        ratio = train_unknown_ratio if split == 'training' and train_unknown_ratio is not None else unknown_ratio
        n_unk = int(round(ratio * n_kw))
        for i in range(n_unk):
            w = unknown_words[int(rng.integers(len(unknown_words)))]
            v, r = pool[int(rng.integers(len(pool)))]
            add(split, w, w, v, r)
        for i in range(int(round(silence_ratio * n_kw))):
            add(split, SILENCE, None, None, None)
    return clips


def render_key(clip):
    return (clip['voice'], clip['word'], clip['r'])


def make_clip(clip, seed, speech):
    """One clip: (float32 window of 16000 samples, info dict). `speech` is the
    trimmed rendering for render_key(clip) (None for _silence_)."""
    rng = clip_rng(seed, clip['path'])
    split = clip['split']
    info = {}
    if clip['label'] == SILENCE:
        kinds = list(NOISE_P)
        k = kinds[int(rng.choice(len(kinds), p=list(NOISE_P.values())))]
        if split == 'testing':
            lvl = float(rng.uniform(-65, -45))
        else:
            lvl = float(rng.uniform(-55, -20))
        x = noise.make(k, augment.WINDOW, rng, split) * 10 ** (lvl / 20)
        if split != 'testing' and rng.random() < 0.3:
            k2 = kinds[int(rng.integers(len(kinds)))]
            x = x + noise.make(k2, augment.WINDOW, rng, split) * 10 ** (float(rng.uniform(-60, -25)) / 20)
            k = k + '+' + k2
        info.update(noise=k, level=round(lvl, 2), start=0, end=0)
        return augment.protect(x.astype(np.float32)), info
    test = split == 'testing'
    f = float(rng.uniform(0.9, 1.1) if test else rng.uniform(0.85, 1.15))
    x = augment.fit(augment.speed(speech, f))
    win, a, b = augment.place(x, rng)
    info.update(speed=round(f, 3), start=a, end=b)
    win, more = room_level_noise(win, (a, b), rng, split)
    info.update(more)
    return win, info


def room_level_noise(win, span, rng, split):
    """The rest of a speech clip's recipe, for a 1 s window whose word is at
    span: in training, room reverb half the time; a level over the word
    (-35 to -15 dBFS; -30 to -18 in the test split); in training, noise of
    a random kind (NOISE_P) at an SNR in SNR_RANGE 85% of the time; scaled
    down if it would clip. Returns (float32 window, info: rt60, level,
    noise, snr as they apply)."""
    test = split == 'testing'
    info = {}
    if not test and rng.random() < 0.5:
        rt60 = float(rng.uniform(0.15, 0.8))
        win = augment.reverb(win, rng, rt60)[:augment.WINDOW]
        info['rt60'] = round(rt60, 3)
    lvl = float(rng.uniform(-30, -18) if test else rng.uniform(-35, -15))
    win = augment.set_level(win, lvl, span)
    info['level'] = round(lvl, 2)
    if not test and rng.random() < 0.85:
        kinds = list(NOISE_P)
        k = kinds[int(rng.choice(len(kinds), p=list(NOISE_P.values())))]
        snr = float(rng.uniform(*SNR_RANGE))
        win = noise.mix_at_snr(win, noise.make(k, augment.WINDOW, rng, split), snr, span)
        info.update(noise=k, snr=round(snr, 2))
    return augment.protect(win), info


def make_condition(x, span, kind, snr, seed, key, split='testing'):
    """An evaluation condition applied to a clean test clip x (float32):
    noise `kind` at `snr` dB over the utterance span; for a clip with no
    speech (span None or empty) noise at REF_SPEECH_DB - snr dBFS is added.
    kind 'clean' returns x. Seeded by (seed, key, kind, snr)."""
    if kind == 'clean':
        return np.asarray(x, dtype=np.float32)
    rng = clip_rng(seed, f'eval|{key}|{kind}|{snr}')
    n = noise.make(kind, len(x), rng, split)
    if span is None or span[1] <= span[0]:
        y = x + n * 10 ** ((REF_SPEECH_DB - snr) / 20)
    else:
        y = noise.mix_at_snr(x, n, snr, span)
    return augment.protect(np.asarray(y, dtype=np.float32))
