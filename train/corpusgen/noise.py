"""Noise for augmentation and for the evaluation conditions, and mixing at
a given SNR.

Kinds: the three synthetic noises of the DRSN paper (Zhao et al. 2020) and
recorded background sound:
  gaussian   white Gaussian
  pink       Gaussian shaped to a 1/f power spectrum (-3 dB/octave)
  laplacian  white, i.i.d. Laplacian samples (heavy-tailed, impulsive)
  real       recorded ambience from Debian package lincity-ng-data
             (/usr/share/games/lincity-ng/sounds: city traffic, markets,
             sports crowds, trains, farms, water, industry, schools, wind
             mills, ~8 minutes in 140 files; its interface clicks are left
             out). Files are split by a stable hash of their name: ~20% are
             heard only in testing, ~10% only in validation. Most of them
             are 11025 Hz recordings, so they hold no sound above 5.5 kHz.

Every noise returned has unit RMS. SNR is speech power over the utterance
span (where the word is, not the whole 1 s window) against noise power over
the whole window: mix_at_snr().
"""
import glob
import hashlib
import os

import numpy as np

from . import wavio

KINDS = ('gaussian', 'pink', 'laplacian', 'real')
REAL_NOISE_DIR = '/usr/share/games/lincity-ng/sounds'
REAL_NOISE_PACKAGE = 'lincity-ng-data'
_EXCLUDED = ('Click', 'WindowOpen', 'WindowClose')


def _unit(x):
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    r = np.sqrt(np.mean(x * x))
    return (x / r).astype(np.float32) if r > 0 else x.astype(np.float32)


def gaussian(n, rng):
    return _unit(rng.standard_normal(n))


def laplacian(n, rng):
    return _unit(rng.laplace(0.0, 1.0, n))


def pink(n, rng):
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    return _unit(np.fft.irfft(spec / np.sqrt(f), n))


def real_split(path):
    h = int.from_bytes(hashlib.sha256(('drsn-noise:' + os.path.basename(path)).encode()).digest()[:4], 'big') % 100
    return 'testing' if h < 20 else 'validation' if h < 30 else 'training'


class RealNoise:
    """Recorded background sound, loaded once, resampled to 16 kHz."""

    def __init__(self, dirs=(REAL_NOISE_DIR,)):
        self.files = {s: [] for s in ('training', 'validation', 'testing')}
        paths = []
        for d in dirs:
            paths += [p for p in glob.glob(os.path.join(d, '*'))
                      if os.path.splitext(p)[1].lower() in ('.wav', '.ogg', '.flac')
                      and not os.path.basename(p).startswith(_EXCLUDED)]
        if not paths:
            raise FileNotFoundError(f'no background recordings in {", ".join(dirs)} '
                                    f'(apt-get install {REAL_NOISE_PACKAGE})')
        for p in sorted(paths):
            x = wavio.read_audio(p)
            if x.size >= 1600 and np.sqrt(np.mean(x.astype(np.float64) ** 2)) > 1e-4:
                self.files[real_split(p)].append((os.path.basename(p), x - x.mean()))
        for s, fl in self.files.items():
            if not fl:
                raise RuntimeError(f'background recordings: none fell into split {s}')

    def segment(self, n, rng, split):
        """n samples from a random file of `split` at a random offset (looped
        if the file is shorter), unit RMS."""
        fl = self.files[split]
        for _ in range(20):
            _, x = fl[int(rng.integers(len(fl)))]
            if x.size < n:
                x = np.tile(x, n // x.size + 1)
            off = int(rng.integers(x.size - n + 1))
            seg = x[off:off + n]
            if np.sqrt(np.mean(seg.astype(np.float64) ** 2)) > 1e-4:
                return _unit(seg)
        return _unit(seg)


_bank = {}


def real_bank(dirs=(REAL_NOISE_DIR,)):
    """The per-process RealNoise for these directories (loaded on first use)."""
    key = tuple(dirs)
    if key not in _bank:
        _bank[key] = RealNoise(key)
    return _bank[key]


def make(kind, n, rng, split='training', dirs=(REAL_NOISE_DIR,)):
    """n samples of noise `kind` with unit RMS."""
    if kind == 'gaussian':
        return gaussian(n, rng)
    if kind == 'pink':
        return pink(n, rng)
    if kind == 'laplacian':
        return laplacian(n, rng)
    if kind == 'real':
        return real_bank(dirs).segment(n, rng, split)
    raise ValueError(f'noise kind {kind!r}: expected one of {", ".join(KINDS)}')


def power(x):
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x * x)) if x.size else 0.0


def mix_at_snr(speech, noise, snr_db, span=None):
    """speech + g*noise with g such that 10*log10(P_speech / P_gnoise) =
    snr_db, P_speech taken over speech[span[0]:span[1]] (the whole clip if
    span is None). Returns float32; not clipped."""
    s = np.asarray(speech, dtype=np.float64)
    seg = s if span is None else s[span[0]:span[1]]
    ps, pn = power(seg), power(noise)
    if ps <= 0 or pn <= 0:
        return s.astype(np.float32)
    g = np.sqrt(ps / (pn * 10.0 ** (snr_db / 10.0)))
    return (s + g * np.asarray(noise, dtype=np.float64)).astype(np.float32)


def snr_db(speech, noise_part, span=None):
    """Measured SNR of a mix whose noise part is known (for tests)."""
    s = np.asarray(speech, dtype=np.float64)
    seg = s if span is None else s[span[0]:span[1]]
    return 10.0 * np.log10(power(seg) / power(noise_part))
