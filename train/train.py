#!/usr/bin/python3
"""Train a keyword spotter: DRSN-CW (default), DRSN-CS or the plain ResNet
baseline, from the same code, data, schedule and seed.

  /usr/bin/python3 train/train.py --data train/corpus --variant cw
  /usr/bin/python3 train/train.py --data train/corpus --variant cw --resume
  /usr/bin/python3 train/train.py --data ~/speech_commands_v0.02 --variant resnet --noise-p 0.8
  /usr/bin/python3 train/train.py --data train/corpus --init M.safetensors --events 0.5 --epochs 6 --lr 1e-3 --warmup-epochs 0
      (fine-tune a trained model, here with sound events: how the shipped models were finished)

Reads a Speech Commands layout (train/gen_corpus.py's, or a real download:
any rate/format, resampled to 16 kHz; see train/corpusgen/layout.py);
features are train/drsn/frontend.py's log-mels, the ones the C front end
computes. Writes into --out (default train/runs/<name>/): last.pt (a
checkpoint after every epoch, what --resume continues from), best.pt (best
validation accuracy; of equal accuracies the lowest validation loss),
log.jsonl (one line per epoch) and, at the end,
<name>.safetensors exported from best.pt by train/export.py.

Resuming gives the same model as an uninterrupted run: each epoch's batch
order and augmentation are drawn from generators seeded by (seed, epoch).
"""
import argparse
import contextlib
import copy
import datetime
import functools
import hashlib
import json
import math
import os
import secrets
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from corpusgen import events, layout, noise, recipe, words  # noqa: E402
from drsn import frontend  # noqa: E402
from drsn import model as M  # noqa: E402

try:
    from tqdm import tqdm   # Debian python3-tqdm
except ImportError:          # pragma: no cover - .ci/deps installs it
    tqdm = None

NAMES = {'cw': 'drsn-cw', 'cs': 'drsn-cs', 'resnet': 'resnet'}


def progress(it, total, desc, quiet, unit='batch'):
    if quiet or tqdm is None:
        return it
    return tqdm(it, total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def unknown_cap(n_per_keyword, ratio):
    """How many _unknown_ clips --max-unknown-ratio allows beside keywords
    with these clip counts."""
    return int(ratio * max(1, int(np.mean(n_per_keyword)))) if len(n_per_keyword) else 0


def to_int16(x):
    """float audio in [-1, 1] -> int16 steps, as train.py keeps its clips."""
    return np.clip(np.rint(np.asarray(x) * 32768.0), -32768, 32767).astype(np.int16)


def load_data(root, keywords, labels, seed, max_unknown_ratio, quiet, per_word=0, cap_training=True):
    """{split: (audio int16 [N, 16000], targets int64 [N], relpaths)}.
    per_word > 0 keeps at most that many training clips of each keyword and
    of _silence_ (a random subset; _unknown_ then follows max_unknown_ratio):
    how the README measures how many clips per word a model needs.
    cap_training=False keeps every training _unknown_ clip (--fresh-unknown
    draws from them per epoch); validation and test stay capped.
    Raises ValueError (OSError for a missing list or folder) naming what is
    wrong with the corpus: a keyword without a training clip, no validation
    clip, an unreadable clip; warns of list entries that name no clip. A
    corpus without _silence_ clips or _background_noise_ gets synthetic
    noise-only ones (synthetic_silence), as many as a keyword has clips."""
    unmatched = {}
    items = layout.scan(root, keywords, unmatched)
    check_corpus(root, keywords, items, unmatched)
    rng = np.random.default_rng(seed)
    out = {}
    for split in ('training', 'validation', 'testing'):
        its = items[split]
        if split == 'training' and per_word > 0:
            keep = []
            for lab in sorted({lab for _, lab in its}):
                idx = [i for i, (_, lb) in enumerate(its) if lb == lab]
                if lab != words.UNKNOWN and len(idx) > per_word:
                    idx = sorted(rng.choice(idx, per_word, replace=False).tolist())
                keep += idx
            its = [its[i] for i in sorted(keep)]
        n_kw = [sum(1 for _, lab in its if lab == k) for k in keywords]
        mean_kw = max(1, int(np.mean(n_kw))) if its else 0
        unk = [i for i, (_, lab) in enumerate(its) if lab == words.UNKNOWN]
        cap = unknown_cap(n_kw, max_unknown_ratio)
        if max_unknown_ratio and len(unk) > cap and (cap_training or split != 'training'):
            keep = set(rng.choice(unk, cap, replace=False).tolist())
            its = [it for i, it in enumerate(its) if i not in unk or i in keep]
        audio = np.zeros((len(its), 16000), dtype=np.int16)
        for i, (rel, _) in enumerate(progress(its, len(its), f'read {split}', quiet, 'clip')):
            try:
                x = layout.read_clip(os.path.join(root, rel))
            except (OSError, ValueError, RuntimeError, EOFError) as e:
                raise ValueError(f'{os.path.join(root, rel)}: not a readable audio clip ({e})') from e
            audio[i] = to_int16(x)
        tg = [labels.index(lab) for _, lab in its]
        paths = [rel for rel, _ in its]
        if not any(lab == words.SILENCE for _, lab in its):
            bg = layout.background_clips(root, mean_kw, rng)
            if bg:
                cut = [f'{layout.BACKGROUND}/cut_{i}' for i in range(len(bg))]
            elif mean_kw:
                # without them the model never hears a clip without a word and
                # calls silence (drsn detect's padding, the pauses between
                # words) one of the keywords
                cut = [f'{words.SILENCE}/synthetic_{i}' for i in range(mean_kw)]
                bg = synthetic_silence(cut, split, seed)
                if split == 'training':
                    print(f'train: {root}: no {words.SILENCE}/ clips and no {layout.BACKGROUND}/ recording of '
                          f'1 s or more: made {len(cut)} noise-only {words.SILENCE} clips, as many as a keyword '
                          'has (synthetic noise 20-65 dB below full scale, a tenth digital silence); a few '
                          f'recorded in your room, in {os.path.join(root, words.SILENCE)}/, teach it better',
                          file=sys.stderr)
            if bg:
                audio = np.concatenate([audio, to_int16(np.stack(bg))])
                tg += [labels.index(words.SILENCE)] * len(bg)
                paths += cut
        out[split] = (torch.from_numpy(audio), torch.tensor(tg, dtype=torch.int64), paths)
    return out


def synthetic_silence(paths, split, seed):
    """A noise-only _silence_ clip for each of paths, as gen_corpus.py makes
    them (recipe.make_clip: Gaussian, pink, Laplacian or recorded noise at a
    random level), every tenth digital silence; the same for the same seed."""
    out = []
    for i, p in enumerate(paths):
        if i % 10 == 9:
            out.append(np.zeros(16000, dtype=np.float32))
            continue
        x, _ = recipe.make_clip({'label': words.SILENCE, 'split': split, 'path': p}, seed, None)
        out.append(x)
    return out


def check_corpus(root, keywords, items, unmatched):
    """load_data's checks of a scanned corpus (layout.scan's items and
    unmatched list entries): a keyword with no training clip would be a
    class the network never hears (often a folder named 'Yes' for 'yes',
    which counts as _unknown_), and without validation clips best.pt would
    be chosen on nothing."""
    trained = {lab for _, lab in items['training']}
    folders = sorted(f for f in os.listdir(root) if os.path.isdir(os.path.join(root, f)))
    for k in keywords:
        if k not in trained:
            near = [f for f in folders if f != k and f.casefold() == k.casefold()]
            hint = f" (there is a folder {near[0]!r}: folder names must match --keywords exactly)" if near else ''
            raise ValueError(f'{os.path.join(root, k)}: keyword {k!r} has no training clips{hint}')
    for split, name in (('validation', 'validation_list.txt'), ('testing', 'testing_list.txt')):
        miss = unmatched.get(split) or []
        if miss:
            print(f'train: {os.path.join(root, name)}: {len(miss)} entries name no clip of the corpus '
                  f'(first: {miss[0]!r}); they are ignored', file=sys.stderr)
    if not items['validation']:
        raise ValueError(f'{os.path.join(root, "validation_list.txt")}: names none of the clips: with no '
                         'validation clip there is nothing to choose the best epoch by')

    def speakers(its):      # Speech Commands names a clip <speaker>_nohash_<n>
        return {os.path.basename(rel).split('_nohash_')[0] for rel, lab in its
                if '_nohash_' in rel and lab != words.SILENCE}
    heard = speakers(items['training'])
    for split, name in (('validation', 'validation_list.txt'), ('testing', 'testing_list.txt')):
        both = sorted(heard & speakers(items[split]))
        if both:
            print(f'train: {os.path.join(root, name)}: {len(both)} of its speakers also speak training clips '
                  f'(first: {both[0]!r}); its accuracy then overstates what unheard speakers get', file=sys.stderr)


def wav_paths(directory):
    """The relpaths of every .wav under directory, sorted. Raises OSError
    naming the folder when it holds none."""
    paths = sorted(os.path.relpath(os.path.join(d, f), directory)
                   for d, _, fs in os.walk(directory) for f in fs if f.lower().endswith('.wav'))
    if not paths:
        raise OSError(f'{directory}: no .wav file')
    return paths


def extra_clips(directory, paths=None):
    """(int16 [N, 16000], relpaths) of every .wav under directory (sorted),
    or of these relpaths, each read as a corpus clip (centre-cropped or
    padded to 1 s). Raises OSError naming the folder when it holds none, or
    a file it cannot read."""
    if paths is None:
        paths = wav_paths(directory)
    audio = np.zeros((len(paths), 16000), dtype=np.int16)
    for i, p in enumerate(paths):
        try:
            x = layout.read_clip(os.path.join(directory, p))
        except (OSError, ValueError, RuntimeError, EOFError) as e:
            raise OSError(f'{os.path.join(directory, p)}: not a readable WAV ({e})')
        audio[i] = to_int16(x)
    return audio, paths


def labelled_extra_clips(directory, labels):
    """(int16 [N, 16000], targets [N], relpaths) of every DIR/<label>/*.wav,
    labelled by its folder (e.g. keywords inside running speech from
    gen_incontext.py). Raises OSError naming a folder that is no label of
    the model, a .wav outside the label folders, or what extra_clips() names."""
    audio, paths = extra_clips(directory)
    tg = []
    for p in paths:
        parts = p.split(os.sep)
        if len(parts) != 2:
            raise OSError(f'{os.path.join(directory, p)}: not in a label folder (want DIR/<label>/*.wav)')
        if parts[0] not in labels:
            raise OSError(f'{os.path.join(directory, parts[0])}: {parts[0]!r} is no label of this model '
                          f'({", ".join(labels)})')
        tg.append(labels.index(parts[0]))
    return audio, np.array(tg, dtype=np.int64), paths


def features(fe, audio, batch=512):
    """log-mels [N, frames, bands] of int16 audio [N, samples]."""
    out = []
    with torch.no_grad():
        for i in range(0, audio.shape[0], batch):
            out.append(fe(audio[i:i + batch].to(torch.float32) / 32768.0))
    return torch.cat(out) if out else torch.zeros(0)


def cached_features(fe, audio, cache_dir):
    """features(), kept in cache_dir under a hash of the front-end
    parameters and the audio itself (so the three variants and every
    --resume of a run compute them once). cache_dir None: no cache."""
    if not cache_dir:
        return features(fe, audio)
    h = hashlib.sha1(fe.params.to_json().encode())
    h.update(str(tuple(audio.shape)).encode())
    h.update(audio.numpy().tobytes())
    path = os.path.join(cache_dir, f'features-{h.hexdigest()[:20]}.pt')
    if os.path.exists(path):
        return torch.load(path)
    f = features(fe, audio)
    try:
        os.makedirs(cache_dir, exist_ok=True)
        save(path, f)
    except OSError as e:    # a cache it cannot write (read-only checkout, disk full) only costs time
        print(f'train: --feature-cache {cache_dir}: not kept ({e.strerror or e})', file=sys.stderr)
    return f


class OnlineNoise:
    """Training-time augmentation for corpora without noise in them (a real
    Speech Commands download): random shift of up to +-100 ms and, with
    probability p, noise of a random kind at an SNR in [-5, 30] dB."""

    def __init__(self, p, seed):
        self.p, self.seed = p, seed

    def __call__(self, x, epoch, step):
        rng = recipe.clip_rng(self.seed, f'online|{epoch}|{step}')
        x = x.to(torch.float32) / 32768.0
        out = torch.empty_like(x)
        kinds = list(recipe.NOISE_P)
        pk = list(recipe.NOISE_P.values())
        for i in range(x.shape[0]):
            s = int(rng.integers(-1600, 1601))
            out[i] = torch.roll(x[i], s)
            if s > 0:
                out[i, :s] = 0
            elif s < 0:
                out[i, s:] = 0
            if rng.random() < self.p:
                xi = out[i].numpy()
                k = kinds[int(rng.choice(len(kinds), p=pk))]
                span = layout.estimate_span(xi) if np.any(xi) else None
                nz = noise.make(k, xi.size, rng, 'training')
                out[i] = torch.from_numpy(noise.mix_at_snr(xi, nz, float(rng.uniform(*recipe.SNR_RANGE)), span))
        return out.clamp(-1, 1)


def mel_mix(x, off, use, bank, gain_of):
    """Add bank [B, frames, bands] (mel power) to the log-mels x of the
    clips where `use`, at gain_of(loud) each, loud being a clip's mean
    power over its loudest 40% of frames: log(M + gain * bank + off), M =
    exp(x) - off. The other clips stay bit-exact. MelNoise and MelEvents."""
    m = (x.exp() - off).clamp_min(0)
    k = max(1, int(0.4 * x.shape[1]))
    gain = gain_of(m.sum(2).topk(k, dim=1).values.mean(1))
    mixed = torch.log(m + gain[:, None, None] * bank + off)
    return torch.where(use[:, None, None], mixed, x)


class MelNoise:
    """Fresh noise every epoch, added in the mel-power domain of the cached
    features: log(M_clip + g*M_noise + o), M = exp(logmel) - o. The power
    spectra of a clip and of independent noise add in expectation (the
    cross terms average out inside each mel band), so this is the mix the C
    front end would see for waveform noise, at the price of one exp and one
    log per batch instead of an FFT per clip. The bank holds `per_kind` 1 s
    segments of each training noise kind (recipe.NOISE_P: the paper's three
    synthetic noises and the training split of the recorded ambience), unit
    RMS. The SNR is taken against the clip's loudest 40% of frames, an
    estimate of the word's span like the one the corpus and the test
    conditions use. The corpus bakes one noise draw into each clip; without
    fresh draws the network sees each clip at one SNR for every epoch."""

    def __init__(self, fe, seed, per_kind=400):
        rng = recipe.clip_rng(seed, 'mel-noise-bank')
        segs = [noise.make(k, 16000, rng, 'training') * 0.05 for k in recipe.NOISE_P for _ in range(per_kind)]
        self.p = torch.tensor(list(recipe.NOISE_P.values()), dtype=torch.float64)
        self.off = fe.params.log_offset
        with torch.no_grad():
            lm = fe(torch.from_numpy(np.stack(segs)).to(torch.float32))
        self.bank = (lm.exp() - self.off).clamp_min(0)          # [K, frames, bands]
        self.bank_power = self.bank.sum(2).mean(1)               # [K]
        self.per_kind = per_kind

    def __call__(self, x, g, p, snr_range):
        b = x.shape[0]
        use = torch.rand(b, generator=g) < p
        kind = torch.multinomial(self.p, b, replacement=True, generator=g)
        idx = kind * self.per_kind + torch.randint(0, self.per_kind, (b,), generator=g)
        lo, hi = snr_range
        snr = lo + (hi - lo) * torch.rand(b, generator=g)
        return mel_mix(x, self.off, use, self.bank[idx],
                       lambda ps: ps / (self.bank_power[idx] * torch.pow(10.0, snr / 10.0)))


class MelEvents:
    """Non-speech sound events (corpusgen/events.py: clicks, knocks, beeps,
    chirps, noise bursts, chimes), added in the mel-power domain of the
    cached features like MelNoise. The bank holds `size` 1 s segments, each
    with one synthetic event at a random offset, drawn from the generator's
    training stream (evaluate_events.py draws from another, and tests on
    recorded sounds no run trains on). The level of an event is that of its
    loudest frame, against the clip's loudest 40% of frames: on a
    `_silence_` clip (noise only) the event stands `silence_db` above the
    background, so the label stays `_silence_` and the network learns that
    a lone knock or beep is not a word; on any other clip it sits
    `word_db` against the word, so the word's label still holds with a
    sound event under it. `families`: which of corpusgen/events.py's to
    draw from (default its six FAMILIES; add MUSIC for 1 s of synthetic
    instrumental music, RECORDED_MUSIC for 1 s excerpts of `tracks`,
    float32 16 kHz arrays of recorded music)."""

    SIZE = 1200     # segments in the bank unless asked (train.py --event-bank)

    def __init__(self, fe, seed, size=SIZE, silence_db=(0.0, 40.0), word_db=(-10.0, 6.0),
                 families=events.FAMILIES, tracks=None):
        rng = recipe.clip_rng(seed, 'events|train')
        segs = np.zeros((size, 16000), dtype=np.float32)
        for i in range(size):
            ev = events.make(rng, families=families, tracks=tracks)
            at = int(rng.integers(0, 16000 - ev.size + 1))
            segs[i, at:at + ev.size] = ev
        self.off = fe.params.log_offset
        with torch.no_grad():   # in slices: a large bank's spectrogram would not fit at once
            lm = torch.cat([fe(torch.from_numpy(segs[i:i + 1000])) for i in range(0, size, 1000)])
        self.bank = (lm.exp() - self.off).clamp_min(0)          # [K, frames, bands]
        self.peak = self.bank.sum(2).amax(1).clamp_min(1e-12)    # [K]
        self.silence_db, self.word_db = silence_db, word_db

    def __call__(self, x, y, g, p_silence, p_word, silence):
        b = x.shape[0]
        is_sil = y == silence
        use = torch.rand(b, generator=g) < torch.where(is_sil, torch.tensor(p_silence), torch.tensor(p_word))
        idx = torch.randint(0, self.bank.shape[0], (b,), generator=g)
        u = torch.rand(b, generator=g)
        lo = torch.where(is_sil, torch.tensor(self.silence_db[0]), torch.tensor(self.word_db[0]))
        hi = torch.where(is_sil, torch.tensor(self.silence_db[1]), torch.tensor(self.word_db[1]))
        db = lo + (hi - lo) * u
        return mel_mix(x, self.off, use, self.bank[idx],
                       lambda ref: ref * torch.pow(10.0, db / 10.0) / self.peak[idx])


def _hz_to_mel(f):
    """HTK mel scale (the front end's, frontend.FIXED['mel_scale']), of a float64 tensor."""
    return 2595.0 * torch.log10(1.0 + f / 700.0)


@functools.lru_cache(maxsize=None)
def _mel_band_axis(f_min, f_max, bands):
    """(mel of f_min, mel step between band centres, band centres in Hz):
    the HTK triangles' centres, equally spaced in mel between f_min and f_max."""
    m_lo, m_hi = (float(_hz_to_mel(torch.tensor(f, dtype=torch.float64))) for f in (f_min, f_max))
    step = (m_hi - m_lo) / (bands + 1)
    centres_mel = m_lo + step * torch.arange(1, bands + 1, dtype=torch.float64)
    return m_lo, step, 700.0 * (torch.pow(10.0, centres_mel / 2595.0) - 1.0)


def band_warp(x, g, max_warp, params):
    """Vocal tract length perturbation (Jaitly & Hinton 2013) on log-mels
    x [B, frames, bands]: each clip's spectrum is scaled in frequency by a
    factor a in [1-max_warp, 1+max_warp], S'(f) = S(f/a), by reading each
    band's centre frequency f/a off the clip's own mel bands (linear
    interpolation on the HTK mel scale, clamped at the edges). Synthetic
    voices come in few vocal tract sizes; this makes more of them."""
    b, frames, bands = x.shape
    m_lo, step, centres_hz = _mel_band_axis(params.f_min, params.f_max, bands)
    a = 1.0 + (2.0 * torch.rand(b, generator=g, dtype=torch.float64) - 1.0) * max_warp
    src_mel = _hz_to_mel(centres_hz[None, :] / a[:, None])
    pos = ((src_mel - m_lo) / step - 1.0).clamp(0, bands - 1).to(torch.float32)
    i0 = pos.floor().long().clamp(max=bands - 2)
    w = (pos - i0.to(torch.float32))[:, None, :]
    lo = torch.gather(x, 2, i0[:, None, :].expand(b, frames, bands))
    hi = torch.gather(x, 2, (i0 + 1)[:, None, :].expand(b, frames, bands))
    return lo + w * (hi - lo)


BAND_LIMIT_HZ = (3400.0, 7500.0)   # --band-limit: range of the cut-off


def band_limit_mask(b, bands, g, p, params, cutoff_hz=BAND_LIMIT_HZ):
    """[B, bands] bool: True for the bands --band-limit empties. Each clip
    is narrowband with probability p (a Bluetooth headset or telephone at
    8 kHz, or some other low rate, resampled up to 16 kHz), with a cut-off
    uniform in cutoff_hz; a band whose HTK triangle's centre is above the
    cut-off has more than half of its weight above it, and a resampler's
    low-pass leaves it (nearly) empty. Bands of the other clips, and the
    bands below the cut-off, are False."""
    _, _, centres_hz = _mel_band_axis(params.f_min, params.f_max, bands)
    use = torch.rand(b, generator=g) < p
    lo, hi = cutoff_hz
    cut = lo + (hi - lo) * torch.rand(b, generator=g, dtype=torch.float64)
    return use[:, None] & (centres_hz[None, :] > cut[:, None])


def apply_band_limit(x, mask, log_offset):
    """Log-mels x [B, frames, bands] with the bands where mask [B, bands]
    set to what the front end gives a band with no energy: log(0 +
    log_offset), in float32 like the front end. Other values stay bit-exact."""
    floor = torch.log(torch.tensor(log_offset, dtype=torch.float32))
    return torch.where(mask[:, None, :], floor.to(x.dtype), x)


def time_stretch(x, g, max_stretch):
    """Speaking rate on log-mels x [B, frames, bands]: each clip's time axis
    is scaled about its centre by a factor r uniform in 1 +- max_stretch
    (r > 1: slower speech, the word lasts r times as long), by linear
    interpolation between frames; frames read from outside the clip get
    the clip's quietest level in each band. The corpus' speed 0.85-1.15
    changes pitch with rate; this changes the rate alone. Words of the
    held-out flite rms voice last 0.55 s (median) against 0.35-0.47 s for
    the training voices."""
    r = 1.0 + (2.0 * torch.rand(x.shape[0], generator=g) - 1.0) * max_stretch
    return stretch_frames(x, r)


def stretch_frames(x, r):
    """x [B, frames, bands] with clip i's time axis scaled by r[i] about the
    centre (time_stretch's interpolation and padding)."""
    b, frames, bands = x.shape
    c = (frames - 1) / 2.0
    src = c + (torch.arange(frames, dtype=torch.float32)[None, :] - c) / r[:, None]     # [B, frames]
    inside = (src >= 0) & (src <= frames - 1)
    s = src.clamp(0, frames - 1)
    i0 = s.floor().long().clamp(max=frames - 2)
    w = (s - i0.to(torch.float32))[:, :, None]
    lo = torch.gather(x, 1, i0[:, :, None].expand(b, frames, bands))
    hi = torch.gather(x, 1, (i0 + 1)[:, :, None].expand(b, frames, bands))
    floor = x.min(dim=1, keepdim=True).values.expand(b, frames, bands)
    return torch.where(inside[:, :, None], lo + w * (hi - lo), floor)


def random_eq(x, g, max_db, terms=3):
    """A random channel (microphone, loudspeaker, room colouring) on log-mels
    x [B, frames, bands]: each clip gets a smooth gain curve over its bands,
    sum_k a_k cos(pi k b / (bands-1)) for k = 1..terms with a_k uniform in
    +-max_db/terms dB, added to every frame (a linear filter is a constant
    offset per band in the log-mel domain). The synthetic voices differ in
    spectral tilt as much as in vocal tract length; this covers the tilts
    between them."""
    b, _, bands = x.shape
    k = torch.arange(1, terms + 1, dtype=torch.float32)
    basis = torch.cos(math.pi * k[:, None] * torch.arange(bands, dtype=torch.float32)[None, :] / (bands - 1))
    amp = (2.0 * torch.rand(b, terms, generator=g) - 1.0) * (max_db / terms)
    curve_db = amp @ basis                                    # [B, bands]
    return x + (curve_db * (math.log(10.0) / 10.0))[:, None, :]


def voice_weights(root, paths, targets, beta):
    """Sampling weight of each training clip so that, within each label, a
    voice group with n clips is drawn in proportion to n**(1-beta) instead of
    n (beta 0: as is; 1: every voice equally often). Labels keep their share.
    The group is the synthesizer voice from the generator's clips.csv
    ('espeak:en-us', 'flite:rms': variants of a voice are one group), else
    the Speech Commands speaker id (the file name before '_nohash_').
    Returns (weights [N] float64, {group: clips})."""
    rows = layout.clip_rows(root)

    def group(rel):
        r = rows.get(rel)
        if r is not None:
            return (r.get('voice') or '').split('+')[0]
        base = os.path.basename(rel)
        return base.split('_nohash_')[0] if '_nohash_' in base else ''
    groups = [group(rel) for rel in paths]
    counts = {}
    for gr, t in zip(groups, targets.tolist()):
        counts[(t, gr)] = counts.get((t, gr), 0) + 1
    w = np.array([counts[(t, gr)] ** -beta for gr, t in zip(groups, targets.tolist())], dtype=np.float64)
    tg = targets.numpy()
    for t in np.unique(tg):
        sel = tg == t
        w[sel] *= sel.sum() / w[sel].sum()
    per_group = {}
    for gr in groups:
        per_group[gr] = per_group.get(gr, 0) + 1
    return w, per_group


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------
def epoch_order(g, n, sample_w=None, fixed=None, unk_pool=None):
    """The training clips (indices) of one epoch, in the order shown: a
    permutation of all n; or n weighted draws with replacement
    (--balance-voices); or (--fresh-unknown) every clip of `fixed` once plus
    a fresh draw without replacement of n - len(fixed) clips of `unk_pool`."""
    if unk_pool is not None:
        chosen = torch.cat([fixed, unk_pool[torch.randperm(len(unk_pool), generator=g)[:n - len(fixed)]]])
        return chosen[torch.randperm(n, generator=g)]
    if sample_w is not None:    # n draws with replacement, weighted: an epoch is still n clips
        return torch.multinomial(sample_w, n, replacement=True, generator=g)
    return torch.randperm(n, generator=g)


def validate(model, feats, targets, batch=512):
    """(accuracy, mean cross entropy) of model on these clips, in one pass."""
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, feats.shape[0], batch):
            logits = model(feats[i:i + batch])
            correct += (logits.argmax(1) == targets[i:i + batch]).sum().item()
            loss += F.cross_entropy(logits, targets[i:i + batch], reduction='sum').item()
    n = max(1, feats.shape[0])
    return correct / n, loss / n


def accuracy(model, feats, targets, batch=512):
    return validate(model, feats, targets, batch)[0]


def better_epoch(va, vl, best, best_loss):
    """Whether an epoch of validation accuracy va and loss vl replaces
    best.pt: a higher accuracy, or the same accuracy with a lower loss. With
    few validation clips many epochs score 100%; the first of them is an
    under-trained model, the one the loss prefers a better calibrated one."""
    return va > best or (va == best and vl < best_loss)


def spec_augment(x, g, masks):
    """SpecAugment (Park et al. 2019) on log-mels x [B, frames, bands]:
    masks = (n_freq, max_freq_width, n_time, max_time_width); each mask
    replaces a random band (or frame) range of each clip with the clip's
    mean log-mel. Drawn from generator g, so --resume stays exact. The
    corpus bakes one noise draw into each clip; masking is what keeps the
    network from memorising the training voices (val accuracy on held-out
    voices stalled at 0.74 with train accuracy at 0.92 without it)."""
    return apply_mask(x, spec_mask(x.shape, g, masks))


def spec_mask(shape, g, masks):
    """spec_augment's masks for log-mels of `shape` [B, frames, bands]:
    True where a band or frame range is masked."""
    n_f, w_f, n_t, w_t = masks
    b, frames, bands = shape
    mask = torch.zeros(b, frames, bands, dtype=torch.bool)
    for count, width, size, dim in ((n_f, w_f, bands, 2), (n_t, w_t, frames, 1)):
        ar = torch.arange(size)
        for _ in range(count):
            w = torch.randint(0, width + 1, (b, 1), generator=g)
            s0 = (torch.rand(b, 1, generator=g) * (size - w + 1).to(torch.float32)).long()
            m = (ar >= s0) & (ar < s0 + w)
            mask |= m[:, None, :] if dim == 2 else m[:, :, None]
    return mask


def apply_mask(x, mask):
    """Each masked cell of x [B, frames, bands] takes its clip's mean log-mel."""
    return torch.where(mask, x.mean(dim=(1, 2), keepdim=True), x)


def consistency_loss(logits, y, weight):
    """Noise consistency: logits [2B, classes] are B clips as the corpus
    has them, then the same B clips with fresh noise (the same masks, warp
    and events). Cross-entropy on both halves (on average the same share
    of noisy clips as --mel-noise 0.5), plus `weight` times the KL
    divergence of the noisy half's prediction from the other half's, which
    is held fixed: the network is asked to give noisy audio the answer it
    gives the same audio without that noise, not only the right label."""
    b = y.shape[0]
    ce = 0.5 * (F.cross_entropy(logits[:b], y) + F.cross_entropy(logits[b:], y))
    target = F.softmax(logits[:b].detach(), dim=1)
    kl = F.kl_div(F.log_softmax(logits[b:], dim=1), target, reduction='batchmean')
    return ce + weight * kl


def load_teachers(paths, arch, labels, fe_params):
    """Frozen models (eval mode) to distil from: train.py checkpoints or
    exported .safetensors with the same labels and front end as the student
    (their architecture may differ: e.g. other seeds, or the ResNet)."""
    import evaluate
    teachers = []
    for p in paths:
        if not os.path.exists(p):
            raise ValueError(f'--teacher {p}: no such file')
        m, lab, fe, _, _ = evaluate.load_model(p)
        if list(lab) != list(labels):
            raise ValueError(f'--teacher {p}: its labels differ from the student\'s')
        if fe != fe_params.to_dict():
            raise ValueError(f'--teacher {p}: its front end differs from the student\'s')
        if m.arch['frames'] != arch['frames'] or m.arch['bands'] != arch['bands']:
            raise ValueError(f'--teacher {p}: its input is {m.arch["frames"]}x{m.arch["bands"]}, '
                             f'not {arch["frames"]}x{arch["bands"]}')
        for q in m.parameters():
            q.requires_grad_(False)
        teachers.append(m)
    return teachers


def distill_loss(logits, targets, teachers, xb, weight, temp):
    """Knowledge distillation (Hinton et al. 2015): (1 - weight) * cross
    entropy on the labels + weight * T^2 * KL(teacher || student) at
    temperature T, where the teacher's distribution is the mean of the
    teachers' softened softmaxes on the same augmented batch."""
    ce = F.cross_entropy(logits, targets)
    with torch.no_grad():
        p_t = torch.stack([torch.softmax(t(xb) / temp, 1) for t in teachers]).mean(0)
    kl = F.kl_div(F.log_softmax(logits / temp, 1), p_t, reduction='batchmean')
    return (1 - weight) * ce + weight * temp * temp * kl


def mixup(x, y, seed, epoch, step, alpha):
    """mixup (Zhang et al. 2018) of a batch of log-mels x [B, frames, bands]
    with labels y: each clip is blended with another clip of the batch,
    x_i' = lam_i * x_i + (1 - lam_i) * x_j, lam_i ~ Beta(alpha, alpha), and
    the loss is lam_i * CE(y_i) + (1 - lam_i) * CE(y_j) (mixup_loss). The
    partner permutation and lam come from a numpy generator seeded by
    (seed, epoch, step), so --resume stays exact. Returns (x', y_j, lam)."""
    rng = np.random.default_rng([seed, epoch, step, 0x6d6978])
    b = x.shape[0]
    lam = torch.from_numpy(rng.beta(alpha, alpha, size=b)).to(x.dtype)
    j = torch.from_numpy(rng.permutation(b))
    return lam[:, None, None] * x + (1 - lam[:, None, None]) * x[j], y[j], lam


def mixup_loss(logits, y, y2, lam):
    return (lam * F.cross_entropy(logits, y, reduction='none')
            + (1 - lam) * F.cross_entropy(logits, y2, reduction='none')).mean()


class WeightAverage:
    """Exponential moving average of a model's weights (Polyak averaging;
    the 'EMA' of e.g. Tan & Le's EfficientNet training): after every step,
    shadow = d * shadow + (1 - d) * weights, with d = min(decay, (1 + k) /
    (10 + k)) at step k, so the early shadow does not hold on to the random
    initialisation. BatchNorm's running statistics are averaged alike (they
    are floats in the state dict); integer buffers (num_batches_tracked) are
    copied. The shadow is what validation scores, best.pt keeps and the
    export writes; the optimizer keeps stepping the raw weights."""

    def __init__(self, model, decay):
        self.model = copy.deepcopy(model).eval()
        for q in self.model.parameters():
            q.requires_grad_(False)
        self.decay, self.updates = decay, 0

    @torch.no_grad()
    def update(self, model):
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        src = model.state_dict()
        for k, v in self.model.state_dict().items():
            if v.dtype.is_floating_point:
                v.mul_(d).add_(src[k], alpha=1 - d)
            else:
                v.copy_(src[k])


def lr_at(step, total, warmup, base):
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * t))


def save(path, obj):
    """torch.save to path atomically. The temporary file's name is unique,
    so runs started together on a fresh feature cache (the three variants,
    or seeds) can write the same cache file at once."""
    tmp = f'{path}.{os.getpid()}-{secrets.token_hex(4)}.tmp'
    try:
        with open(tmp, 'xb') as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# flags that do not change what a run learns: --resume may give them anew
# (--epochs extends the schedule and --teacher is reported on its own)
RESUME_FREE = ('resume', 'overwrite', 'stop_after', 'threads', 'quiet', 'no_export', 'feature_cache', 'out', 'name',
               'epochs', 'teacher', 'init')


def resume_changes(was, now):
    """The training flags of a --resume (vars of the arguments) that differ
    from the checkpoint's, as 'flag old -> new' strings; [] if none."""
    out = []
    for k in sorted(now):
        if k in RESUME_FREE or k not in was or was[k] == now[k]:
            continue
        if k == 'data' and os.path.abspath(was[k]) == os.path.abspath(now[k]):
            continue
        out.append(f'--{k.replace("_", "-")} {was[k]!r} -> {now[k]!r}')
    return out


def write_log(path, history):
    """log.jsonl: one line per epoch of the checkpoint's history, rewritten
    whole after the checkpoint is saved, so that it says what last.pt holds:
    an epoch that a kill cut short before its checkpoint, and that --resume
    runs again, appears once; a new run in an old folder starts a new log."""
    tmp = f'{path}.{os.getpid()}.tmp'
    try:
        with open(tmp, 'w') as f:
            f.writelines(json.dumps(rec) + '\n' for rec in history)
        os.replace(tmp, path)
    except BaseException:       # a full disk, Ctrl-C, SIGTERM: no temporary file left
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def frontend_params(path):
    """--frontend FILE -> FrontEndParams (None: the defaults). load_params
    validates them and names the file and key of an error. The corpus is
    16 kHz audio in 1 s clips, so sample_rate stays 16000."""
    if path is None:
        return frontend.default_params()
    p = frontend.load_params(path)
    if p.sample_rate != 16000:
        raise ValueError(f'{path}: sample_rate {p.sample_rate}: the training clips are 16000 Hz; '
                         f'drsn resamples its input to the model\'s rate, so train at 16000')
    return p


def main(argv=None):
    made = []     # the run folder, when this call created it
    try:
        return train_main(argv, made)
    except BaseException:
        for d in made:      # a run that stopped before writing anything leaves no empty folder
            try:
                os.rmdir(d)
            except OSError:
                pass        # not empty: its checkpoints stay
        raise


def train_main(argv, made):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default=os.path.join(here, 'corpus'), help='Speech Commands layout (default train/corpus)')
    ap.add_argument('--variant', default='cw', choices=M.VARIANTS, help='cw (default), cs, or resnet (the baseline)')
    ap.add_argument('--arch', default='default',
                    help='layer plan: %s (default: the shipped size), or a JSON file '
                         '{"stem": {"channels", "kernel", "stride"}, "units": [{...}, ...]}'
                         % '|'.join(M.ARCHS))
    ap.add_argument('--input', default='log', choices=M.INPUTS,
                    help='what the stem sees: log (the log-mels, default) or pcen (a trainable '
                         'per-channel energy normalisation of each window, computed from them)')
    ap.add_argument('--pool', default='mean', choices=M.POOLS,
                    help='how the head pools its frames: mean (default) or attention (a learnt score '
                         'per frame, softmax over time)')
    ap.add_argument('--frontend', metavar='FILE',
                    help='front-end parameters: a JSON object with any of the keys `drsn features --params` '
                         'prints (n_mels, f_min, f_max, win_length, hop_length, n_fft, log_offset); the rest '
                         'keep their defaults. The model file carries them, so drsn and drsnd compute the same')
    ap.add_argument('--keywords', help='comma-separated keywords (default: the 20 of the 22-class task)')
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--weight-decay', type=float, default=1e-2)
    ap.add_argument('--warmup-epochs', type=float, default=1.0)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--noise-p', type=float, default=0.0,
                    help='online noise augmentation probability (default 0: our corpus has noise in it)')
    ap.add_argument('--per-word', type=int, default=0,
                    help='use at most N training clips per keyword (and of _silence_); default 0: all')
    ap.add_argument('--max-unknown-ratio', type=float, default=2.0,
                    help='keep at most this many _unknown_ clips per keyword clip (default 2)')
    ap.add_argument('--fresh-unknown', action='store_true',
                    help='keep every training _unknown_ clip, and show each epoch a fresh random draw of '
                         '--max-unknown-ratio of them per keyword clip: more words at the same class prior')
    ap.add_argument('--specaug', default='2,6,2,10',
                    help="SpecAugment masks 'n_freq,max_width,n_time,max_frames' (default 2,6,2,10), or 'none'")
    ap.add_argument('--mel-noise', type=float, default=0.5,
                    help='probability of fresh noise on each training clip, mixed into the cached '
                         'features (MelNoise; default 0.5; 0 turns it off)')
    ap.add_argument('--mel-snr', default='-5,20', help="SNR range of that noise in dB (default '-5,20')")
    ap.add_argument('--events', type=float, default=0.0,
                    help='probability that a _silence_ clip gets a synthetic sound event (a click, knock, beep, '
                         'chirp, noise burst or chime; MelEvents) 0-40 dB above its background, so lone '
                         'sounds are learnt as no word (default 0: off)')
    ap.add_argument('--event-words', type=float, default=None,
                    help='with --events: probability that any other clip gets one under its word, '
                         '-10 to +6 dB against it (default: a quarter of --events)')
    ap.add_argument('--event-families', default=','.join(events.FAMILIES),
                    help='with --events: the families to draw from, comma-separated (default %(default)s; '
                         "'music' adds synthetic instrumental music, 'recorded-music' excerpts of --event-music; "
                         'a family listed twice is drawn twice as often)')
    ap.add_argument('--event-bank', type=int, default=MelEvents.SIZE,
                    help='with --events: how many 1 s event segments to draw before training and mix from '
                         '(default %(default)s; more gives recorded music more of its seconds)')
    ap.add_argument('--event-music', metavar='DIR',
                    help='with --events: recorded music to draw 1 s excerpts from (every .ogg, .oga, .wav and '
                         ".flac file under DIR), family 'recorded-music', added to --event-families once "
                         'unless listed there')
    ap.add_argument('--band-limit', type=float, default=0.0, metavar='P',
                    help='make each training clip narrowband with probability P (default 0: off), after the noise is '
                         'mixed: the mel bands above a cut-off uniform in 3.4-7.5 kHz get the log-mel of an empty '
                         'band, as audio from an 8 kHz headset or telephone resampled to 16 kHz has')
    ap.add_argument('--warp', type=float, default=0.1,
                    help='vocal tract length perturbation: frequency scale in 1 +- WARP (default 0.1; 0: off)')
    ap.add_argument('--stretch', type=float, default=0.0,
                    help='speaking rate: time axis scaled by 1 +- STRETCH about the centre (default 0: off)')
    ap.add_argument('--eq', type=float, default=0.0,
                    help='random channel EQ: a smooth gain curve over the mel bands of up to +-EQ dB '
                         '(default 0: off)')
    ap.add_argument('--balance-voices', type=float, default=0.0,
                    help='draw each voice group within a label in proportion to clips**(1-B) instead of '
                         'clips (default 0: as is; 1: every voice equally often); see voice_weights()')
    ap.add_argument('--teacher', action='append', default=[], metavar='MODEL',
                    help='distil from this model (.pt or .safetensors, same labels and front end); '
                         'repeat for an ensemble, whose softmaxes are averaged')
    ap.add_argument('--distill', type=float, default=0.7,
                    help='with --teacher: weight of the teacher term, the rest is cross entropy (default 0.7); '
                         'the logged train loss is then this mixed loss')
    ap.add_argument('--distill-temp', type=float, default=2.0,
                    help='with --teacher: softmax temperature of the teacher term (default 2)')
    ap.add_argument('--mixup', type=float, default=0.0, metavar='ALPHA',
                    help='mixup: blend each training clip with another of its batch, weight ~ Beta(ALPHA, ALPHA), '
                         'and the loss alike, e.g. 0.4 (default 0: off)')
    ap.add_argument('--extra-unknown', metavar='DIR',
                    help='add every .wav under DIR to the training clips as _unknown_, beyond the '
                         '--max-unknown-ratio cap (e.g. running speech from gen_running.py)')
    ap.add_argument('--extra-unknown-capped', metavar='DIR',
                    help='add .wav files under DIR to the training clips as _unknown_ within the '
                         '--max-unknown-ratio cap: a random subset (from --seed) fills what the corpus\'s own '
                         '_unknown_ clips leave of it (e.g. a gen_corpus.py folder beside your recordings; its '
                         'folders _silence_, _background_noise_ and those named as a keyword are left out)')
    ap.add_argument('--extra-clips', metavar='DIR',
                    help='add every DIR/<label>/*.wav to the training clips as that label, beyond the '
                         '--max-unknown-ratio cap (e.g. keywords inside running speech from gen_incontext.py)')
    ap.add_argument('--consistency', type=float, default=0.0, metavar='W',
                    help='train on each batch twice, as it is and with fresh --mel-noise on every clip, and add W '
                         'times the KL divergence between the two predictions to the loss, e.g. 1 '
                         '(default 0: off; each step costs about twice as much)')
    ap.add_argument('--ema', type=float, default=0.0, metavar='DECAY',
                    help='score, keep and export an exponential moving average of the weights with this decay '
                         'per step, e.g. 0.999 (default 0: off, the raw weights)')
    ap.add_argument('--init', metavar='MODEL',
                    help='start from the weights of this model (.pt or exported .safetensors with the same '
                         'architecture, labels and front end), e.g. to fine-tune a shipped model with '
                         'another augmentation; a new schedule of --epochs starts from them')
    ap.add_argument('--name', help='run name (default kws<N>-<variant name>)')
    ap.add_argument('--out', help='run folder (default train/runs/<name>)')
    ap.add_argument('--resume', action='store_true', help='continue from <out>/last.pt')
    ap.add_argument('--overwrite', action='store_true',
                    help='start afresh in a run folder that already holds a run (else that is an error)')
    ap.add_argument('--stop-after', type=int, default=0,
                    help='stop (resumably) after this epoch, e.g. to split a long run over sessions')
    ap.add_argument('--feature-cache', default=os.path.join(here, 'runs', 'feature-cache'),
                    help="folder for computed features, or 'none' (default train/runs/feature-cache)")
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--no-export', action='store_true')
    ap.add_argument('--quiet', action='store_true', help='no progress bars')
    a = ap.parse_args(argv)
    for flag, val, ok, want in (('--epochs', a.epochs, a.epochs >= 1, 'at least 1'),
                                ('--batch', a.batch, a.batch >= 1, 'at least 1'),
                                ('--threads', a.threads, a.threads >= 1, 'at least 1'),
                                ('--lr', a.lr, a.lr >= 0, 'a learning rate >= 0'),
                                ('--weight-decay', a.weight_decay, a.weight_decay >= 0, '>= 0'),
                                ('--warmup-epochs', a.warmup_epochs, a.warmup_epochs >= 0, '>= 0'),
                                ('--noise-p', a.noise_p, 0 <= a.noise_p <= 1, 'a probability in [0, 1]'),
                                ('--per-word', a.per_word, a.per_word >= 0, '>= 0 (0: all clips)'),
                                ('--max-unknown-ratio', a.max_unknown_ratio, a.max_unknown_ratio >= 0,
                                 '>= 0 (0: keep all)'),
                                ('--stop-after', a.stop_after, a.stop_after >= 0, '>= 0 (0: run to --epochs)')):
        if not ok:
            sys.exit(f'train: {flag} {val}: want {want}')
    torch.set_num_threads(a.threads)
    try:
        mel_snr = tuple(float(v) for v in a.mel_snr.split(','))
        if len(mel_snr) != 2 or not mel_snr[0] <= mel_snr[1]:
            raise ValueError
    except ValueError:
        sys.exit(f"train: --mel-snr {a.mel_snr!r}: want 'low,high' in dB, low <= high")
    if not 0 <= a.mel_noise <= 1:
        sys.exit(f'train: --mel-noise {a.mel_noise}: want a probability in [0, 1]')
    if a.event_words is None:
        a.event_words = a.events / 4
    if not (0 <= a.events <= 1 and 0 <= a.event_words <= 1):
        sys.exit(f'train: --events {a.events} / --event-words {a.event_words}: want probabilities in [0, 1]')
    a.event_families = a.event_families.split(',')
    known = events.FAMILIES + (events.MUSIC, events.RECORDED_MUSIC)
    bad = [f for f in a.event_families if f not in known]
    if bad or not a.event_families:
        sys.exit(f'train: --event-families: {",".join(bad) or "empty"}: want some of {", ".join(known)}')
    if not 1 <= a.event_bank <= 100000:
        sys.exit(f'train: --event-bank {a.event_bank}: want 1 to 100000 segments')
    tracks = None
    if a.event_music:
        try:
            tracks = events.load_tracks(a.event_music)
        except OSError as e:
            sys.exit(f'train: --event-music: {e}')
        if events.RECORDED_MUSIC not in a.event_families:
            a.event_families.append(events.RECORDED_MUSIC)
    elif events.RECORDED_MUSIC in a.event_families:
        sys.exit(f'train: --event-families: {events.RECORDED_MUSIC} needs --event-music DIR')
    if a.init and a.resume:
        sys.exit('train: --init starts a run from other weights, --resume continues this one; use one of them')
    if not 0 <= a.warp < 0.5:
        sys.exit(f'train: --warp {a.warp}: want 0 <= WARP < 0.5')
    if not 0 <= a.stretch < 0.5:
        sys.exit(f'train: --stretch {a.stretch}: want 0 <= STRETCH < 0.5')
    if not 0 <= a.eq <= 20:
        sys.exit(f'train: --eq {a.eq}: want 0 <= EQ <= 20 dB')
    if not 0 <= a.balance_voices <= 1:
        sys.exit(f'train: --balance-voices {a.balance_voices}: want 0 <= B <= 1')
    if a.fresh_unknown and not a.max_unknown_ratio > 0:
        sys.exit('train: --fresh-unknown draws --max-unknown-ratio clips per keyword clip each epoch; want a ratio > 0')
    if a.fresh_unknown and a.balance_voices > 0:
        sys.exit('train: --fresh-unknown and --balance-voices both choose the clips of an epoch; use one of them')
    if not 0 <= a.mixup <= 10:
        sys.exit(f'train: --mixup {a.mixup}: want a Beta parameter in (0, 10], or 0 for off')
    if a.mixup > 0 and a.teacher:
        sys.exit('train: --mixup and --teacher both change the loss; use one of them')
    if not 0 <= a.consistency <= 100:
        sys.exit(f'train: --consistency {a.consistency}: want a weight in (0, 100], or 0 for off')
    for opt, val in (('--extra-unknown', a.extra_unknown), ('--extra-unknown-capped', a.extra_unknown_capped),
                     ('--extra-clips', a.extra_clips)):
        if val and (a.fresh_unknown or a.balance_voices > 0):
            sys.exit(f'train: {opt} adds clips that --fresh-unknown and --balance-voices do not know how to '
                     'draw; use one of them')
    if a.consistency > 0 and (a.mixup > 0 or a.teacher):
        sys.exit('train: --consistency, --mixup and --teacher each change the loss; use one of them')
    if not 0 <= a.band_limit <= 1:
        sys.exit(f'train: --band-limit {a.band_limit}: want a probability in [0, 1]')
    if a.consistency > 0 and not a.mel_noise > 0:
        sys.exit('train: --consistency compares clips with and without --mel-noise; want --mel-noise > 0')
    if not (a.ema == 0 or 0.5 <= a.ema < 1):
        sys.exit(f'train: --ema {a.ema}: want a decay in [0.5, 1), or 0 for off')
    if not 0 < a.distill <= 1:
        sys.exit(f'train: --distill {a.distill}: want 0 < W <= 1')
    if not 0 < a.distill_temp <= 20:
        sys.exit(f'train: --distill-temp {a.distill_temp}: want 0 < T <= 20')
    try:
        M.layers(a.arch)
    except ValueError as e:
        sys.exit(f'train: --arch: {e}')
    try:
        masks = None if a.specaug == 'none' else tuple(int(v) for v in a.specaug.split(','))
    except ValueError:
        masks = ()
    if masks is not None and (len(masks) != 4 or min(masks) < 0):
        sys.exit(f"train: --specaug {a.specaug!r}: want 'n_freq,max_width,n_time,max_frames' or 'none'")

    keywords = [k.strip() for k in a.keywords.split(',')] if a.keywords else list(words.TARGETS)
    labels = [words.SILENCE, words.UNKNOWN] + keywords
    bad = sorted({k for k in keywords if not k or labels.count(k) > 1})
    if bad:   # one class per label: drsn refuses a model whose labels repeat
        sys.exit(f'train: --keywords {a.keywords!r}: empty, repeated or reserved ({", ".join(map(repr, bad))})')
    import export   # what the C loader refuses, refused before the training
    try:
        export.check_labels(labels)
    except ValueError as e:
        sys.exit(f'train: --keywords {a.keywords!r}: {e}')
    name = a.name or f'kws{len(keywords)}-{NAMES[a.variant]}'
    out = a.out or os.path.join(here, 'runs', name)
    d = os.path.abspath(out)
    while not os.path.isdir(d):      # the folders makedirs is about to make, deepest first
        made.append(d)
        d = os.path.dirname(d)
    try:
        os.makedirs(out, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        sys.exit(f'train: --out {out}: cannot write there ({e.strerror or e})')
    last = os.path.join(out, 'last.pt')
    held = sorted(f for f in os.listdir(out) if f in ('last.pt', 'best.pt', 'log.jsonl') or f.endswith('.safetensors'))
    if not a.resume and not a.overwrite and held:
        # a second run under the same --name would replace the first one's checkpoints and model
        sys.exit(f'train: {out} already holds a run ({", ".join(held)}): --resume continues it, --overwrite '
                 'starts afresh there, --name or --out picks another folder')
    cmd = ' '.join(['train.py'] + list(sys.argv[1:] if argv is None else argv))

    try:
        fe_params = frontend_params(a.frontend)
    except (OSError, ValueError) as e:
        sys.exit(f'train: --frontend: {e}')
    fe = frontend.FrontEnd(fe_params)
    frames = fe_params.frames_for(16000)
    arch = M.make_arch(a.arch, a.variant, bands=fe_params.n_mels, frames=frames, classes=len(labels),
                       input=a.input, pool=a.pool)
    torch.manual_seed(a.seed)
    model = M.DRSN(arch)
    if model.pcen is None:
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    else:   # PCEN's log-parameters: weight decay would pull s, alpha, delta, r towards 1
        pcen = set(id(q) for q in model.pcen.parameters())
        opt = torch.optim.AdamW([{'params': [q for q in model.parameters() if id(q) not in pcen]},
                                 {'params': list(model.pcen.parameters()), 'weight_decay': 0.0}],
                                lr=a.lr, weight_decay=a.weight_decay)
    if a.init:
        try:
            import evaluate
            src, lab, fe_init, _, init_prov = evaluate.load_model(a.init)
        except evaluate.LOAD_ERRORS as e:
            sys.exit(f'train: --init {a.init}: {e}')
        if list(lab) != labels:     # the likeliest: a shipped model and one's own --keywords
            sys.exit(f'train: --init {a.init}: its labels ({",".join(lab)}) differ from this run\'s '
                     f'({",".join(labels)}); --keywords must list its keywords in its order')
        if src.arch != arch or fe_init != fe_params.to_dict():
            what = [w for w, same in (('architecture (--variant, --arch, --input, --pool)', src.arch == arch),
                                      ('front end (--frontend)', fe_init == fe_params.to_dict())) if not same]
            sys.exit(f'train: --init {a.init}: its {" and ".join(what)} differ from this run\'s')
        model.load_state_dict(src.state_dict())
        print(f'train: starting from the weights of {a.init}', file=sys.stderr)
    start, best, best_loss, history = 0, -1.0, math.inf, []
    # schedule: one segment per (re)start with another --epochs; a longer
    # --epochs on --resume recomputes the cosine for the new length, so the
    # learning rate rises again from where the old schedule had ended
    schedule = [{'epochs': a.epochs, 'start': 0}]
    if a.resume:
        if not os.path.exists(last):
            sys.exit(f'train: --resume: {last}: no checkpoint')
        ck = torch.load(last, map_location='cpu')
        if ck['arch'] != arch or ck['labels'] != labels:
            sys.exit(f'train: --resume: {last} was trained with another architecture or label set')
        if ck['frontend'] != fe_params.to_dict():
            sys.exit(f'train: --resume: {last} was trained with other front-end parameters (--frontend)')
        model.load_state_dict(ck.get('raw_state_dict', ck['state_dict']))
        opt.load_state_dict(ck['optimizer'])
        start, best, history = ck['epoch'] + 1, ck['best_val'], ck['history']
        best_loss = ck.get('best_val_loss', math.inf)    # (a run from before ties were broken by it)
        schedule = ck.get('schedule') or [{'epochs': ck['args']['epochs'], 'start': 0}]
        print(f'train: resuming {name} after epoch {start} (best validation accuracy {best:.4f})', file=sys.stderr)
        if a.stop_after and a.stop_after <= start and start < a.epochs:
            sys.exit(f'train: --stop-after {a.stop_after}: the run is already past epoch {a.stop_after}; '
                     'give a later epoch, or leave it out to run to --epochs')
        changed = resume_changes(ck.get('args') or {}, vars(a))
        if changed:
            print(f'train: --resume: {"; ".join(changed)}: these epochs differ from the run so far, so the model '
                  'will not be the one an uninterrupted run gives', file=sys.stderr)
        if a.epochs != schedule[-1]['epochs'] and a.epochs > start:
            schedule = schedule + [{'epochs': a.epochs, 'start': start}]
            print(f'train: --epochs {a.epochs} instead of {schedule[-2]["epochs"]}: the learning rate schedule is '
                  f'recomputed for {a.epochs} epochs (a warm restart at epoch {start + 1})', file=sys.stderr)

    try:
        teachers = load_teachers(a.teacher, arch, labels, fe_params)
    except ValueError as e:
        sys.exit(f'train: {e}')
    if a.resume:
        was = (ck.get('provenance') or {}).get('distill', {}).get('teachers', [])
        if was != [os.path.abspath(p) for p in a.teacher]:
            print(f'train: --resume: the run so far was distilled from {len(was)} teacher(s), these epochs from '
                  f'{len(teachers)}; the provenance records only these', file=sys.stderr)
    ema = None
    if a.ema > 0:
        ema = WeightAverage(model, a.ema)
        if a.resume and 'raw_state_dict' in ck:     # the run had one: continue it
            ema.model.load_state_dict(ck['state_dict'])
            ema.updates = ck.get('ema_updates', 0)
        elif a.resume:
            print('train: --resume --ema: the run so far kept no average; it starts from the current weights',
                  file=sys.stderr)
    if (a.mel_noise > 0 or a.noise_p > 0) and 'real' in recipe.NOISE_P:
        try:    # before the data: the recorded noise they mix in is a Debian package of its own
            noise.real_bank()
        except (OSError, RuntimeError, ValueError) as e:
            sys.exit(f'train: --mel-noise / --noise-p: {e}')
    if a.extra_unknown_capped:     # (listed before the data is read: a mistake shows at once)
        # a corpus folder (gen_corpus.py's) as it is: its _silence_ and this run's keywords are no _unknown_
        skip = set(keywords) | {words.SILENCE, layout.BACKGROUND}
        try:
            cap_paths = [p for p in wav_paths(a.extra_unknown_capped) if p.split(os.sep)[0] not in skip]
        except OSError as e:
            sys.exit(f'train: --extra-unknown-capped: {e}')
        if not cap_paths:
            sys.exit(f'train: --extra-unknown-capped: {a.extra_unknown_capped}: no .wav file outside the folders '
                     f'{", ".join(sorted(skip))}')
        n_offered = len(cap_paths)
    t0 = time.time()
    try:
        data = load_data(a.data, keywords, labels, a.seed, a.max_unknown_ratio, a.quiet, a.per_word,
                         cap_training=not a.fresh_unknown)
    except (OSError, ValueError) as e:
        sys.exit(f'train: --data: {e}')
    tr_audio, tr_y, tr_paths = data['training']
    if a.extra_unknown_capped:
        unk_i = labels.index(words.UNKNOWN)
        have = int((tr_y == unk_i).sum())
        room = len(cap_paths)
        if a.max_unknown_ratio > 0:
            room = max(0, unknown_cap([int((tr_y == labels.index(k)).sum()) for k in keywords],
                                      a.max_unknown_ratio) - have)
        if room < len(cap_paths):       # a subset from the seed, independent of the corpus draw
            pick = np.random.default_rng([a.seed, 0x756e6b]).choice(len(cap_paths), room, replace=False)
            cap_paths = [cap_paths[i] for i in sorted(pick.tolist())]
        try:
            cap_audio, _ = extra_clips(a.extra_unknown_capped, cap_paths)
        except OSError as e:
            sys.exit(f'train: --extra-unknown-capped: {e}')
        tr_audio = torch.cat([tr_audio, torch.from_numpy(cap_audio)])
        tr_y = torch.cat([tr_y, torch.full((len(cap_paths),), unk_i, dtype=torch.int64)])
        tr_paths = tr_paths + [os.path.join('extra-unknown-capped', p) for p in cap_paths]
        print(f'train: --extra-unknown-capped: {len(cap_paths)} of its {n_offered} clips as _unknown_ '
              f'(--max-unknown-ratio {a.max_unknown_ratio:g}: {have + len(cap_paths)} _unknown_ training clips, '
              f'{have} of them from --data)', file=sys.stderr)
    if a.extra_unknown:
        try:
            ex_audio, ex_paths = extra_clips(a.extra_unknown)
        except OSError as e:
            sys.exit(f'train: --extra-unknown: {e}')
        tr_audio = torch.cat([tr_audio, torch.from_numpy(ex_audio)])
        tr_y = torch.cat([tr_y, torch.full((len(ex_paths),), labels.index(words.UNKNOWN), dtype=torch.int64)])
        tr_paths = tr_paths + [os.path.join('extra-unknown', p) for p in ex_paths]
        print(f'train: --extra-unknown: {len(ex_paths)} more _unknown_ clips', file=sys.stderr)
    if a.extra_clips:
        try:
            xc_audio, xc_y, xc_paths = labelled_extra_clips(a.extra_clips, labels)
        except OSError as e:
            sys.exit(f'train: --extra-clips: {e}')
        tr_audio = torch.cat([tr_audio, torch.from_numpy(xc_audio)])
        tr_y = torch.cat([tr_y, torch.from_numpy(xc_y)])
        tr_paths = tr_paths + [os.path.join('extra-clips', p) for p in xc_paths]
        xc_counts = {lab: int((xc_y == i).sum()) for i, lab in enumerate(labels) if (xc_y == i).any()}
        print(f'train: --extra-clips: {len(xc_paths)} more clips ({len(xc_counts)} labels)', file=sys.stderr)
    unk_pool = fixed = None
    if a.fresh_unknown:     # every epoch: all other clips, plus a fresh draw of `quota` _unknown_ clips
        is_unk = tr_y == labels.index(words.UNKNOWN)
        unk_pool, fixed = torch.nonzero(is_unk).flatten(), torch.nonzero(~is_unk).flatten()
        quota = min(len(unk_pool), unknown_cap([int((tr_y == labels.index(k)).sum()) for k in keywords],
                                               a.max_unknown_ratio))
        print(f'train: --fresh-unknown: {quota} of {len(unk_pool)} _unknown_ clips each epoch', file=sys.stderr)
    sample_w = None
    if a.balance_voices > 0:
        w, per_group = voice_weights(a.data, tr_paths, tr_y, a.balance_voices)
        sample_w = torch.from_numpy(w)
        print(f'train: --balance-voices {a.balance_voices}: {len(per_group)} voice groups, '
              f'{min(per_group.values())}..{max(per_group.values())} clips each', file=sys.stderr)
    cache = None if a.feature_cache == 'none' else a.feature_cache
    va_feats = cached_features(fe, data['validation'][0], cache)
    va_y = data['validation'][1]
    online = OnlineNoise(a.noise_p, a.seed) if a.noise_p > 0 else None
    tr_feats = None if online else cached_features(fe, tr_audio, cache)
    mel_noise = MelNoise(fe, a.seed) if a.mel_noise > 0 else None
    events_on = a.events > 0 or a.event_words > 0
    mel_events = (MelEvents(fe, a.seed, size=a.event_bank, families=tuple(a.event_families),
                            tracks=[x for _, x in tracks or []])
                  if events_on else None)
    n = tr_y.shape[0] if unk_pool is None else len(fixed) + quota     # clips per epoch
    print(f'train: {name}: {model.n_params()} parameters, {model.macs()} MACs/window; '
          f'{n} training / {va_y.shape[0]} validation clips, {len(labels)} labels; '
          f'data ready in {time.time() - t0:.1f} s', file=sys.stderr)
    steps_per_epoch = (n + a.batch - 1) // a.batch
    total = steps_per_epoch * a.epochs
    warmup = int(a.warmup_epochs * steps_per_epoch)
    prov_base = {'training_data': os.path.abspath(a.data), 'command': cmd, 'seed': a.seed,
                 'variant': a.variant, 'epochs': a.epochs, 'specaug': a.specaug, 'per_word': a.per_word,
                 'mel_noise': a.mel_noise, 'mel_snr': a.mel_snr, 'warp': a.warp, 'stretch': a.stretch, 'eq': a.eq,
                 'balance_voices': a.balance_voices, 'fresh_unknown': a.fresh_unknown, 'ema': a.ema,
                 'mixup': a.mixup, 'consistency': a.consistency, 'events': a.events, 'event_words': a.event_words, 'schedule': schedule}
    if events_on and tuple(a.event_families) != events.FAMILIES:
        prov_base['event_families'] = a.event_families
    if a.band_limit > 0:
        prov_base['band_limit'] = {'p': a.band_limit, 'cutoff_hz': list(BAND_LIMIT_HZ)}
    if events_on and a.event_bank != MelEvents.SIZE:
        prov_base['event_bank'] = a.event_bank
    if events_on and tracks:
        prov_base['event_music'] = {'dir': os.path.abspath(a.event_music), 'files': [n for n, _ in tracks],
                                    'seconds': round(sum(x.size for _, x in tracks) / events.RATE, 1)}
    if a.extra_unknown:
        prov_base['extra_unknown'] = {'dir': os.path.abspath(a.extra_unknown), 'clips': len(ex_paths)}
    if a.extra_unknown_capped:
        prov_base['extra_unknown_capped'] = {'dir': os.path.abspath(a.extra_unknown_capped), 'clips': len(cap_paths),
                                             'of': n_offered}
    if a.extra_clips:
        prov_base['extra_clips'] = {'dir': os.path.abspath(a.extra_clips), 'clips': len(xc_paths),
                                    'per_label': xc_counts}
    if a.init:
        prov_base['init'] = {'model': os.path.abspath(a.init), 'provenance': init_prov}
    if teachers:
        prov_base['distill'] = {'teachers': [os.path.abspath(p) for p in a.teacher],
                                'weight': a.distill, 'temperature': a.distill_temp}
    corpus_json = os.path.join(a.data, 'corpus.json')
    if os.path.exists(corpus_json):
        with open(corpus_json) as f:
            cj = json.load(f)
        prov_base['corpus'] = {k: cj.get(k) for k in ('generator', 'seed', 'per_word', 'unknown_ratio',
                                                         'cross_language_voices', 'synthesizers')}

    for epoch in range(start, a.epochs):
        te = time.time()
        model.train()
        g = torch.Generator().manual_seed(a.seed * 100003 + epoch)
        perm = epoch_order(g, n, sample_w, fixed, unk_pool)
        tot_loss, tot_ok, seen = 0.0, 0, 0
        bar = progress(range(steps_per_epoch), steps_per_epoch, f'{name} epoch {epoch + 1}/{a.epochs}', a.quiet)
        for step in bar:
            idx = perm[step * a.batch:(step + 1) * a.batch]
            if online:
                with torch.no_grad():
                    xb = fe(online(tr_audio[idx], epoch, step))
            else:
                xb = tr_feats[idx]
            if a.warp > 0:
                xb = band_warp(xb, g, a.warp, fe_params)
            if a.stretch > 0:
                xb = time_stretch(xb, g, a.stretch)
            if a.eq > 0:
                xb = random_eq(xb, g, a.eq)
            if mel_events:
                xb = mel_events(xb, tr_y[idx], g, a.events, a.event_words, labels.index(words.SILENCE))
            yb = tr_y[idx]
            if a.consistency > 0:   # [as it is; with fresh noise], the same masks on both
                xb = torch.cat([xb, mel_noise(xb, g, 1.0, mel_snr)])
                if a.band_limit > 0:    # the same cut-off on both halves
                    bl = band_limit_mask(yb.shape[0], xb.shape[2], g, a.band_limit, fe_params)
                    xb = apply_band_limit(xb, bl.repeat(2, 1), fe_params.log_offset)
                if masks:
                    xb = apply_mask(xb, spec_mask((yb.shape[0],) + xb.shape[1:], g, masks).repeat(2, 1, 1))
            else:
                if mel_noise:
                    xb = mel_noise(xb, g, a.mel_noise, mel_snr)
                if a.band_limit > 0:
                    xb = apply_band_limit(xb, band_limit_mask(xb.shape[0], xb.shape[2], g, a.band_limit, fe_params),
                                          fe_params.log_offset)
                if masks:
                    xb = spec_augment(xb, g, masks)
            if a.mixup > 0:
                xb, yb2, lam = mixup(xb, yb, a.seed, epoch, step, a.mixup)
            for grp in opt.param_groups:
                grp['lr'] = lr_at(epoch * steps_per_epoch + step, total, warmup, a.lr)
            logits = model(xb)
            if teachers:
                loss = distill_loss(logits, yb, teachers, xb, a.distill, a.distill_temp)
            elif a.consistency > 0:
                loss = consistency_loss(logits, yb, a.consistency)
                logits = logits[yb.shape[0]:]       # the noisy half, for the logged accuracy
            elif a.mixup > 0:
                loss = mixup_loss(logits, yb, yb2, lam)
                yb = torch.where(lam >= 0.5, yb, yb2)      # the larger part, for the logged accuracy
            else:
                loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema:
                ema.update(model)
            tot_loss += loss.item() * yb.shape[0]
            tot_ok += (logits.argmax(1) == yb).sum().item()
            seen += yb.shape[0]
            if hasattr(bar, 'set_postfix') and step % 20 == 0:
                bar.set_postfix(loss=f'{tot_loss / seen:.3f}', acc=f'{tot_ok / seen:.3f}')
        va, vl = validate(ema.model if ema else model, va_feats, va_y)
        rec = {'epoch': epoch + 1, 'train_loss': round(tot_loss / seen, 5), 'train_acc': round(tot_ok / seen, 5),
               'val_acc': round(va, 5), 'val_loss': round(vl, 5), 'seconds': round(time.time() - te, 1)}
        history.append(rec)
        print(f'train: {name} epoch {epoch + 1}/{a.epochs}: loss {rec["train_loss"]:.4f} '
              f'train acc {rec["train_acc"]:.4f} val acc {va:.4f} val loss {vl:.4f} ({rec["seconds"]} s)',
              file=sys.stderr)
        is_best = better_epoch(va, vl, best, best_loss)
        if is_best:
            best, best_loss = va, vl
        prov = dict(prov_base, date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
                    accuracy={'validation': round(va, 5), 'epoch': epoch + 1})
        ck = {'arch': arch, 'state_dict': (ema.model if ema else model).state_dict(), 'labels': labels,
              'frontend': fe_params.to_dict(), 'provenance': prov,
              'optimizer': opt.state_dict(), 'epoch': epoch, 'best_val': best, 'best_val_loss': best_loss,
              'history': history, 'args': vars(a), 'schedule': schedule}
        if ema:     # state_dict is the average (scored, exported); the optimizer continues from these
            ck['raw_state_dict'], ck['ema_updates'] = model.state_dict(), ema.updates
        try:
            if is_best:
                save(os.path.join(out, 'best.pt'), ck)
            save(last, ck)
            write_log(os.path.join(out, 'log.jsonl'), history)
        except OSError as e:
            sys.exit(f'train: {out}: cannot write the checkpoint of epoch {epoch + 1} ({e})')
        if a.stop_after and epoch + 1 >= a.stop_after and epoch + 1 < a.epochs:
            print(f'train: stopped after epoch {epoch + 1} (--stop-after); continue with --resume', file=sys.stderr)
            return 0

    if not a.no_export:
        import export
        best_path = os.path.join(out, 'best.pt')
        ck = torch.load(best_path, map_location='cpu')
        m = M.DRSN(ck['arch'])
        m.load_state_dict(ck['state_dict'])
        m.eval()
        path = os.path.join(out, name + '.safetensors')
        export.export(m, path, ck['frontend'], ck['labels'], ck['provenance'])
        print(f'train: exported {path} (best validation accuracy {ck["best_val"]:.4f}, epoch {ck["epoch"] + 1})',
              file=sys.stderr)
    return 0


def exit_on_sigterm():
    """SIGTERM (kill, systemd, a batch queue's time limit) ends the run as
    Ctrl-C does, through Python's unwinding: a checkpoint or feature cache
    file being written is removed (save()), where the default action left
    its temporary file behind (a cache file can be gigabytes)."""
    def term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, term)


if __name__ == '__main__':
    exit_on_sigterm()
    sys.exit(main())
