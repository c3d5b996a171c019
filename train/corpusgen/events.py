"""Non-speech sound events: the short sounds a box in a room hears between
words (a door knock, a keyboard tap, a phone's beep, a clap, a chime), which
a keyword spotter must not take for a word.

The corpus's `_silence_` clips are stationary noise and ambience, so a model
trained on them alone has never heard a lone transient, and it answers one
with the short keyword it resembles most ("up", "on"). Two sources:

  synthetic  make(rng): one event of a random family, drawn afresh from the
             generator passed in (training draws from one seeded stream,
             evaluation from another):
               click   1-3 pulses (one sample to 3 ms), most through a
                       resonance (a tap, a keyboard, a relay)
               knock   damped low resonances with a short noise attack,
                       1-4 times, 90-250 ms apart
               beep    1-4 tones (sine, square or sawtooth, 300-3500 Hz, or
                       two sines at once like a DTMF key), 30-600 ms each
               chirp   a tone sweeping between 200 and 4000 Hz, 50-500 ms
               burst   a white, pink or brown noise burst with an
                       exponential decay, 5-300 ms (a clap, a slam, a hiss)
               chime   inharmonic partials of a struck bar or bell,
                       decaying over 0.2-1 s
  recorded   recorded(): the desktop event sounds of the freedesktop.org
             sound theme (Debian package sound-theme-freedesktop: bells,
             chimes, camera shutter, phone tones; its audio-channel-* files
             are spoken and left out). Used only to evaluate: no model
             trains on them.

Every event is float32 at 16 kHz, at most 1 s, peak-normalised to 0.5.
"""
import glob
import os
import subprocess

import numpy as np

RATE = 16000
FAMILIES = ('click', 'knock', 'beep', 'chirp', 'burst', 'chime')
RECORDED_DIR = '/usr/share/sounds/freedesktop/stereo'
RECORDED_PACKAGE = 'sound-theme-freedesktop'
_SPOKEN = 'audio-channel-'      # "front left", ...: speech, not an event


def _decay(n, tau_s):
    return np.exp(-np.arange(n) / (tau_s * RATE))


def _resonate(x, f, tau_s, rng):
    """x through a damped resonance at f Hz (a two-pole filter, time
    constant tau_s), by convolution with its impulse response."""
    n = min(RATE, int(6 * tau_s * RATE) + 1)
    h = np.sin(2 * np.pi * f * np.arange(n) / RATE + rng.uniform(0, np.pi)) * _decay(n, tau_s)
    return np.convolve(x, h)


def _click(rng):
    out = np.zeros(int(0.3 * RATE))
    t = 0
    for _ in range(int(rng.integers(1, 4))):
        w = int(rng.integers(1, int(0.003 * RATE) + 1))
        out[t:t + w] += rng.choice([-1.0, 1.0]) * np.hanning(w + 2)[1:-1] if w > 2 else rng.choice([-1.0, 1.0])
        t += int(rng.uniform(0.01, 0.08) * RATE)
    if rng.random() < 0.7:
        out = _resonate(out, rng.uniform(500, 6000), rng.uniform(0.0005, 0.01), rng)
    return out


def _knock(rng):
    n = int(0.15 * RATE)
    one = np.zeros(n)
    for _ in range(int(rng.integers(1, 5))):
        f, tau = rng.uniform(80, 800), rng.uniform(0.01, 0.08)
        one += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * np.arange(n) / RATE) * _decay(n, tau)
    m = int(0.004 * RATE)
    one[:m] += rng.uniform(0.2, 1.0) * rng.standard_normal(m) * _decay(m, 0.001)
    out = np.zeros(RATE)
    t = 0
    for _ in range(int(rng.integers(1, 5))):
        if t + n > out.size:
            break
        out[t:t + n] += rng.uniform(0.6, 1.0) * one
        t += int(rng.uniform(0.09, 0.25) * RATE)
    return out[:t - int(0.09 * RATE) + n] if t else one


def _tone(f, n, shape, rng):
    ph = 2 * np.pi * f * np.arange(n) / RATE + rng.uniform(0, 2 * np.pi)
    if shape == 'sine':
        return np.sin(ph)
    top = max(1, int(7000 // f))     # band-limited: partials below 7 kHz
    k = np.arange(1, top + 1)
    if shape == 'square':
        k = k[k % 2 == 1]
        return np.sum(np.sin(np.outer(ph, k)) / k, axis=1)
    return np.sum(np.sin(np.outer(ph, k)) / k, axis=1)      # sawtooth


def _envelope(n, rng):
    a = min(n // 2, int(rng.uniform(0.001, 0.01) * RATE))
    r = min(n - a, int(rng.uniform(0.005, 0.05) * RATE))
    e = np.ones(n)
    if a:
        e[:a] = np.linspace(0, 1, a)
    if r:
        e[n - r:] = np.linspace(1, 0, r)
    return e


def _beep(rng):
    parts = []
    for _ in range(int(rng.integers(1, 5))):
        n = int(rng.uniform(0.03, 0.6) * RATE)
        if rng.random() < 0.2:      # two sines at once, like a DTMF key
            x = _tone(rng.uniform(650, 950), n, 'sine', rng) + _tone(rng.uniform(1200, 1650), n, 'sine', rng)
        else:
            x = _tone(rng.uniform(300, 3500), n, rng.choice(['sine', 'square', 'saw']), rng)
        parts += [x * _envelope(n, rng), np.zeros(int(rng.uniform(0.05, 0.3) * RATE))]
    return np.concatenate(parts)[:RATE]


def _chirp(rng):
    n = int(rng.uniform(0.05, 0.5) * RATE)
    f0, f1 = rng.uniform(200, 4000, size=2)
    f = np.geomspace(f0, f1, n)
    return np.sin(2 * np.pi * np.cumsum(f) / RATE) * _envelope(n, rng)


def _burst(rng):
    n = int(rng.uniform(0.005, 0.3) * RATE)
    x = rng.standard_normal(n)
    colour = rng.choice(['white', 'pink', 'brown'])
    if colour != 'white':
        spec = np.fft.rfft(x)
        f = np.maximum(np.arange(spec.size, dtype=np.float64), 1.0)
        x = np.fft.irfft(spec / (np.sqrt(f) if colour == 'pink' else f), n)
    return x * _decay(n, rng.uniform(0.2, 1.0) * n / RATE)


def _chime(rng):
    n = int(rng.uniform(0.2, 1.0) * RATE)
    f = rng.uniform(300, 2500)
    ratios = [1.0, 2.76, 5.40, 8.93] if rng.random() < 0.5 else [1.0, 2.0, 2.4, 3.0, 4.2]
    x = np.zeros(n)
    for i, r in enumerate(ratios):
        if f * r < 7500:
            x += rng.uniform(0.2, 1.0) / (i + 1) * np.sin(2 * np.pi * f * r * np.arange(n) / RATE) \
                * _decay(n, n / RATE / (2 + i))
    return x * _envelope(n, rng)


_MAKERS = {'click': _click, 'knock': _knock, 'beep': _beep, 'chirp': _chirp, 'burst': _burst,
           'chime': _chime}


def _peak(x):
    x = np.asarray(x, dtype=np.float64)[:RATE]
    p = np.max(np.abs(x)) if x.size else 0.0
    return (0.5 * x / p).astype(np.float32) if p > 0 else x.astype(np.float32)


def make(rng, family=None):
    """One synthetic event (float32, <= 1 s, peak 0.5); family None: a
    random one of FAMILIES."""
    fam = family or FAMILIES[int(rng.integers(len(FAMILIES)))]
    if fam not in _MAKERS:
        raise ValueError(f'event family {fam!r}: one of {", ".join(FAMILIES)}')
    return _peak(_MAKERS[fam](rng))


def recorded_files(directory=RECORDED_DIR):
    """The theme's event sounds, sorted, without the spoken ones."""
    files = sorted(glob.glob(os.path.join(directory, '*.oga')))
    return [f for f in files if not os.path.basename(f).startswith(_SPOKEN)]


def recorded(directory=RECORDED_DIR):
    """[(name, float32 16 kHz mono <= 1 s, peak 0.5)] of recorded_files(),
    decoded by sox. Raises OSError naming the package when they are missing."""
    files = recorded_files(directory)
    if not files:
        raise OSError(f'{directory}: no event sounds (install Debian package {RECORDED_PACKAGE})')
    out = []
    for f in files:
        r = subprocess.run(['sox', f, '-t', 'raw', '-e', 'floating-point', '-b', '32', '-r', str(RATE),
                            '-c', '1', '-'], capture_output=True)
        if r.returncode != 0 or not r.stdout:
            raise OSError(f'{f}: sox could not decode it: {r.stderr.decode(errors="replace").strip()[:200]}')
        out.append((os.path.basename(f)[:-4], _peak(np.frombuffer(r.stdout, dtype=np.float32))))
    return out
