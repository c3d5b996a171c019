"""Signal-level augmentation of one utterance (float32 at 16 kHz).

trim      cut the synthesizer's leading/trailing silence
speed     change speed (tempo and pitch together, like sox `speed`) by
          band-limited resampling
reverb    convolve with a synthetic room impulse response: a direct path
          plus exponentially decaying Gaussian noise with a random RT60
place     put the utterance at a random offset in the 1 s window (time shift)
set_level scale so the utterance has a given RMS in dBFS
Every random choice comes from the numpy Generator passed in.
"""
import numpy as np

from . import wavio

RATE = wavio.RATE
WINDOW = RATE   # 1 s clips


def trim(x, floor_db=40.0, pad=320):
    """Drop leading/trailing parts more than floor_db below the loudest 10 ms
    frame; keep `pad` samples of margin."""
    x = np.asarray(x, dtype=np.float32)
    hop = 160
    n = x.size // hop
    if n == 0:
        return x
    e = 10 * np.log10(np.mean(x[:n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1) + 1e-12)
    on = np.nonzero(e > e.max() - floor_db)[0]
    a, b = on[0] * hop, (on[-1] + 1) * hop
    return x[max(0, a - pad):min(x.size, b + pad)]


def speed(x, factor):
    """Play `factor` times faster (factor > 1 shortens and raises pitch)."""
    new = int(round(RATE / factor / 100.0)) * 100
    if new == RATE:
        return np.asarray(x, dtype=np.float32)
    return wavio.resample(x, RATE, new)


def fit(x, n=WINDOW - 480):
    """Speed up an utterance longer than n samples until it fits."""
    while x.size > n:
        x = speed(x, x.size / n * 1.01)
    return x


def room_ir(rng, rt60=None):
    """Synthetic room impulse response, unit energy."""
    if rt60 is None:
        rt60 = float(rng.uniform(0.15, 0.8))
    n = int(rt60 * RATE)
    t = np.arange(n) / RATE
    h = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)   # -60 dB at rt60
    pre = int(rng.integers(40, 160))                           # direct -> first reflections
    h[:pre] = 0.0
    drr = 10 ** (float(rng.uniform(-3.0, 12.0)) / 20.0)        # direct-to-reverberant ratio
    h *= 1.0 / (np.sqrt(np.sum(h * h)) + 1e-12)
    h[0] = drr
    return (h / np.sqrt(np.sum(h * h))).astype(np.float32)


def reverb(x, rng, rt60=None):
    """x convolved with a random room; the tail is kept (output is longer)."""
    h = room_ir(rng, rt60)
    n = x.size + h.size - 1
    m = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, m) * np.fft.rfft(h, m), m)[:n]
    return y.astype(np.float32)


def place(x, rng, n=WINDOW):
    """(window, start, end): x at a random offset inside n zeros; x must fit."""
    if x.size > n:
        raise ValueError(f'utterance of {x.size} samples does not fit in {n}')
    off = int(rng.integers(0, n - x.size + 1))
    out = np.zeros(n, dtype=np.float32)
    out[off:off + x.size] = x
    return out, off, off + x.size


def rms_db(x):
    x = np.asarray(x, dtype=np.float64)
    return 10 * np.log10(np.mean(x * x) + 1e-20)


def set_level(x, db, span=None):
    """Scale x so that its RMS over span (all of x if None) is `db` dBFS."""
    seg = x if span is None else x[span[0]:span[1]]
    return (x * 10 ** ((db - rms_db(seg)) / 20.0)).astype(np.float32)


def protect(x, peak=0.99):
    """Scale down so |x| <= peak (no clipping when quantized)."""
    m = float(np.max(np.abs(x))) if x.size else 0.0
    return (x * (peak / m)).astype(np.float32) if m > peak else x
