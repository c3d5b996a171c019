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
             and, not among the FAMILIES that make() draws from unless
             asked (MUSIC, RECORDED_MUSIC):
               music   1 s of synthetic instrumental music: a melody of
                       harmonic notes with vibrato, a chord pad, a bass
                       line and drums, each layer there or not, in a
                       random key, scale, tempo and timbre
               recorded-music  1 s from a random place in recorded
                       tracks the caller loads with load_tracks(DIR)
                       (train.py --event-music DIR)
  recorded   recorded(): the desktop event sounds of the freedesktop.org
             sound theme (Debian package sound-theme-freedesktop: bells,
             chimes, camera shutter, phone tones; its audio-channel-* files
             are spoken and left out). recorded_music(): the three
             instrumental tracks of lincity-ng-data (9.4 min). Used only to
             evaluate: no model trains on them.

Every event is float32 at 16 kHz, at most 1 s, peak-normalised to 0.5.
"""
import glob
import os
import subprocess

import numpy as np

RATE = 16000
FAMILIES = ('click', 'knock', 'beep', 'chirp', 'burst', 'chime')
MUSIC = 'music'
RECORDED_MUSIC = 'recorded-music'
AUDIO_EXT = ('.ogg', '.oga', '.wav', '.flac')
RECORDED_MUSIC_DIR = '/usr/share/games/lincity-ng/music/default'
RECORDED_MUSIC_PACKAGE = 'lincity-ng-data'
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
    if shape == 'square':   # odd partials only; the sawtooth has them all
        k = k[k % 2 == 1]
    return np.sum(np.sin(np.outer(ph, k)) / k, axis=1)


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


def _note(f, n, rng, slope_db, vibrato):
    """One harmonic note of n samples at f Hz: partials below 7 kHz falling
    slope_db per partial, vibrato (rate Hz, depth as a fraction of f)."""
    t = np.arange(n) / RATE
    rate, depth = vibrato
    phase = 2 * np.pi * f * (t + depth * np.sin(2 * np.pi * rate * t) / (2 * np.pi * rate))
    x = np.zeros(n)
    for k in range(1, max(1, int(7000 // (f * (1 + depth)))) + 1):
        x += 10 ** (-slope_db * (k - 1) / 20) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    return x * _envelope(n, rng)


def _music(rng):
    n = RATE
    beat = 60.0 / rng.uniform(60, 180)
    root = rng.uniform(110, 440)
    scale = [0, 2, 4, 7, 9] if rng.random() < 0.5 else [0, 3, 5, 7, 10]     # major / minor pentatonic
    pitch = lambda step: root * 2 ** ((12 * (step // 5) + scale[step % 5]) / 12)   # noqa: E731
    out = np.zeros(n)
    layers = 0
    if rng.random() < 0.8:      # melody
        slope, vib = rng.uniform(2, 12), (rng.uniform(4, 7), rng.uniform(0, 0.01))
        t = 0
        while t < n:
            d = int(beat * rng.choice([0.25, 0.5, 1.0, 2.0]) * RATE)
            out[t:t + d] += _note(pitch(int(rng.integers(0, 10))), min(d, n - t), rng, slope, vib)
            t += d
        layers += 1
    if rng.random() < 0.6:      # chord pad, softer
        base = int(rng.integers(0, 5))
        for step in (base, base + 2, base + 4):
            out += 0.3 * _note(pitch(step) / 2, n, rng, rng.uniform(6, 15), (5.0, 0.002))
        layers += 1
    if rng.random() < 0.6 or not layers:     # bass on the beat
        t = 0
        while t < n:
            d = int(beat * RATE)
            out[t:t + d] += 0.6 * _note(pitch(int(rng.integers(0, 5))) / 4, min(d, n - t), rng, 8.0, (5.0, 0.0))
            t += d
    if rng.random() < 0.6:      # drums: kick, snare, hi-hat on a beat grid
        for i, t in enumerate(range(0, n, max(1, int(beat * RATE / 2)))):
            m = min(int(0.15 * RATE), n - t)
            if i % 4 == 0:
                f = np.geomspace(120, 45, m)
                out[t:t + m] += 0.8 * np.sin(2 * np.pi * np.cumsum(f) / RATE) * _decay(m, 0.05)
            elif i % 4 == 2:
                out[t:t + m] += 0.4 * rng.standard_normal(m) * _decay(m, 0.04)
            else:
                h = min(int(0.03 * RATE), m)
                out[t:t + h] += 0.15 * np.diff(rng.standard_normal(h + 1)) * _decay(h, 0.008)
    return out


_MAKERS = {'click': _click, 'knock': _knock, 'beep': _beep, 'chirp': _chirp, 'burst': _burst,
           'chime': _chime, MUSIC: _music}


def _peak(x):
    x = np.asarray(x, dtype=np.float64)[:RATE]
    p = np.max(np.abs(x)) if x.size else 0.0
    return (0.5 * x / p).astype(np.float32) if p > 0 else x.astype(np.float32)


def excerpt(rng, tracks):
    """1 s from a random place in tracks (float32 arrays of at least 1 s;
    each second of music equally likely), drawn again, up to 20 times, while
    it is silent."""
    sizes = np.array([t.size - RATE + 1 for t in tracks], dtype=np.float64)
    for _ in range(20):
        t = tracks[int(rng.choice(len(tracks), p=sizes / sizes.sum()))]
        at = int(rng.integers(0, t.size - RATE + 1))
        x = t[at:at + RATE].astype(np.float64)
        if np.sqrt(np.mean(x ** 2)) > 1e-4:
            break
    return x


def make(rng, family=None, families=FAMILIES, tracks=None):
    """One event (float32, <= 1 s, peak 0.5) of `family`, or of a random
    one of `families` (a family listed twice is drawn twice as often).
    RECORDED_MUSIC draws from `tracks` (load_tracks())."""
    fam = family or families[int(rng.integers(len(families)))]
    if fam == RECORDED_MUSIC:
        if not tracks:
            raise ValueError(f'event family {fam!r} needs recorded tracks (train.py --event-music DIR)')
        return _peak(excerpt(rng, tracks))
    if fam not in _MAKERS:
        raise ValueError(f'event family {fam!r}: one of {", ".join(list(_MAKERS) + [RECORDED_MUSIC])}')
    return _peak(_MAKERS[fam](rng))


def _decode(path):
    """float32 16 kHz mono samples of any file sox reads."""
    cmd = ['sox', path, '-t', 'raw', '-e', 'floating-point', '-b', '32', '-r', str(RATE), '-c', '1', '-']
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0 or not r.stdout:
        raise OSError(f'{path}: sox could not decode it: {r.stderr.decode(errors="replace").strip()[:200]}')
    return np.frombuffer(r.stdout, dtype=np.float32)


def music_files(directory):
    """The audio files (AUDIO_EXT) under directory and its subfolders,
    sorted. Raises OSError when there are none, naming the package for the
    default evaluation tracks."""
    files = sorted(f for f in glob.glob(os.path.join(directory, '**', '*'), recursive=True)
                   if f.lower().endswith(AUDIO_EXT) and os.path.isfile(f))
    if not files:
        hint = (f'install Debian package {RECORDED_MUSIC_PACKAGE}' if directory == RECORDED_MUSIC_DIR
                else 'want ' + ', '.join(AUDIO_EXT) + ' files')
        raise OSError(f'{directory}: no music ({hint})')
    return files


def load_tracks(directory):
    """[(file name, float32 16 kHz mono samples)] of music_files(directory)
    that last at least 1 s, decoded by sox. Raises OSError naming a file
    sox cannot decode, or the folder when no track is long enough."""
    out = [(os.path.basename(f), _decode(f)) for f in music_files(directory)]
    out = [(n, x) for n, x in out if x.size >= RATE]
    if not out:
        raise OSError(f'{directory}: no music file lasts 1 s')
    return out


def recorded_music(directory=RECORDED_MUSIC_DIR, piece_s=5.0):
    """[(track name, float32 piece)] : the instrumental tracks cut into
    piece_s pieces (the last partial piece and silent pieces dropped).
    Raises OSError naming the package when they are missing."""
    out = []
    n = int(piece_s * RATE)
    for f, x in load_tracks(directory):
        name = os.path.splitext(f)[0]
        out += [(name, x[i:i + n].copy()) for i in range(0, x.size - n + 1, n)
                if np.sqrt(np.mean(x[i:i + n].astype(np.float64) ** 2)) > 1e-4]     # no silent piece
    return out


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
    return [(os.path.basename(f)[:-4], _peak(_decode(f))) for f in files]
