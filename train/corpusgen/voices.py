"""Every English voice of Debian's synthesizers, the speaker-disjoint split,
and rendering one word with one voice.

A voice identity ("speaker") is one of:
  espeak:<accent>+<variant>  espeak-ng (package espeak-ng): 8 English accents
                             x its voice variants (m1-m8, f1-f5, klatt*, and
                             the named ones), plus each accent's own default
  flite:<voice>              flite (package flite): kal, kal16, awb, rms, slt
  festival:<voice>           festival (packages festvox-kallpc16k,
                             festvox-kdlpc16k, festvox-us-slt-hts):
                             kal_diphone, ked_diphone, cmu_us_slt_arctic_hts
  festx:<voice>              only with cross_language=True (gen_corpus.py
                             --cross-language-voices): a festival voice of
                             another language saying English words with an
                             accent (see XLANG_VOICES); training only

Split (fixed, independent of the corpus seed, so every corpus built by this
code holds out the same speakers):
  espeak: an identity is in a split only if BOTH its accent and its variant
    belong to that split; mixed identities are not used at all, so a held-out
    speaker shares neither accent nor variant with any training speaker.
    Accents: validation = en-gb-x-gbcwmd; testing = en-029, en-us-nyc;
    training = en, en-us, en-gb-scotland, en-gb-x-gbclan, en-gb-x-rp.
    Variants: split by a stable hash of the name (~14% each to validation and
    testing); `gen_corpus.py --list-voices` prints the lists.
  flite/festival: grouped by the recorded person (kal = flite kal, kal16 and
    festival kal_diphone; slt = flite slt and festival cmu_us_slt_arctic_hts):
    testing = rms, validation = ked, training = kal, slt, awb.
"""
import hashlib
import os
import re
import subprocess
import tempfile

import numpy as np

from . import wavio

ESPEAK_ACCENTS = {
    'en': 'training', 'en-us': 'training', 'en-gb-scotland': 'training',
    'en-gb-x-gbclan': 'training', 'en-gb-x-rp': 'training',
    'en-gb-x-gbcwmd': 'validation',
    'en-029': 'testing', 'en-us-nyc': 'testing',
}
# Variants that are not a speaking voice (whisper, a demon effect, a speed
# preset) or whose file name espeak-ng cannot take on the command line.
ESPEAK_EXCLUDED = {'whisper', 'whisperf', 'Demonic', 'fast', 'Mr serious'}
ESPEAK_DEFAULT = 'default'   # the accent with no variant

FLITE_VOICES = {'kal': 'kal', 'kal16': 'kal', 'awb': 'awb', 'rms': 'rms', 'slt': 'slt'}
FESTIVAL_VOICES = {'kal_diphone': 'kal', 'ked_diphone': 'ked', 'cmu_us_slt_arctic_hts': 'slt'}
PERSON_SPLIT = {'kal': 'training', 'slt': 'training', 'awb': 'training',
                'ked': 'validation', 'rms': 'testing'}
# flite's f0 target (Hz) range per voice; rms ignores int_f0_target_mean.
FLITE_F0 = {'kal': (85, 130), 'kal16': (85, 130), 'awb': (90, 135), 'rms': (100, 100), 'slt': (150, 215)}

# Festival voices of other languages, made to speak English: festival's
# English front end (kal_diphone: lexicon, letter-to-sound rules, durations,
# intonation) gives each word's phones, stress and pitch; XLANG_MAPS maps
# the phones into the voice's own phone set, and the voice's diphones say
# them (a Segments utterance). The result is English with an Italian, Czech
# or Finnish accent from eight more recorded people: new speakers for the
# training split only. Each entry: (phone map, pause phone, pitch factor
# against kal's ~100 Hz, Debian package).
XLANG_VOICES = {
    'pc_diphone': ('italian', '#', 1.0, 'festvox-itapc16k'),
    'lp_diphone': ('italian', '#', 1.8, 'festvox-italp16k'),
    'czech_machac': ('czech', '_', 1.0, 'festvox-czech-machac'),
    'czech_ph': ('czech', '_', 1.0, 'festvox-czech-ph'),
    'czech_dita': ('czech', '_', 1.9, 'festvox-czech-dita'),
    'czech_krb': ('czech', '_', 2.2, 'festvox-czech-krb'),
    'hy_fi_mv_diphone': ('finnish', '#', 1.0, 'festvox-suopuhe-mv'),
    'suo_fi_lj_diphone': ('finnish', '#', 1.8, 'festvox-suopuhe-lj'),
}
# English (festival's radio phone set) -> each voice's phones; a phone not
# listed keeps its name, '' drops it. Italian marks stressed vowels with 1.
_XV = dict(aa='a:', ae='e', ah='a', ao='o:', aw='a u', ax='e', axr='e r', ay='a j', eh='e',
           er='e r', ey='e j', ih='i', iy='i:', ow='o u', oy='o j', uh='u', uw='u:',
           nx='n', el='e l', em='e m', en='e n')
XLANG_MAPS = {
    'czech': dict(_XV, ch='c~', jh='dz~', sh='s~', zh='z~', dh='d', th='t', hh='h', w='u',
                  y='j', ng='n'),
    'italian': dict(aa='a1', ae='E1', ah='a1', ao='O1', aw='a1 u', ax='e', axr='e r', ay='a1 i',
                    eh='E1', er='e1 r', ey='e1 i', ih='i1', iy='i1', ow='o1 u', oy='O1 i',
                    uh='u1', uw='u1', ch='tS', jh='dZ', sh='S', zh='Z', dh='d', th='t', hh='',
                    y='j', nx='n', el='e l', em='e m', en='e n'),
    'finnish': dict(_XV, ae='&', ay='a i', ey='e i', oy='o i', ch='t S', jh='t S', sh='S',
                    zh='S', dh='d', th='T', hh='h', y='j', ng='N', z='s'),
}

SPLITS = ('training', 'validation', 'testing')
_WORD_RE = re.compile(r"^[a-z][a-z' -]*$")


def variant_split(name):
    """Stable split of an espeak-ng variant name: hash bucket 0..99."""
    h = int.from_bytes(hashlib.sha256(('drsn-variant:' + name).encode()).digest()[:4], 'big') % 100
    return 'validation' if h < 14 else 'testing' if h < 28 else 'training'


def espeak_variants():
    """Variant file names shipped by espeak-ng-data, sorted, minus exclusions,
    plus ESPEAK_DEFAULT."""
    out = subprocess.run(['espeak-ng', '--voices=variant'], capture_output=True,
                         text=True, check=True).stdout.splitlines()[1:]
    names = set()
    for line in out:
        f = line.split()
        # columns: Pty Language Age/Gender VoiceName File; File is "!v/<name>"
        files = [c for c in f if c.startswith('!v/')]
        if files:
            names.add(files[0][3:])
    # A name with a space shows as its first word: drop any not resolvable.
    names = {n for n in names if n not in ESPEAK_EXCLUDED and not any(
        e.startswith(n + ' ') for e in ESPEAK_EXCLUDED)}
    return [ESPEAK_DEFAULT] + sorted(names)


def all_voices(cross_language=False):
    """Every voice identity with its split: list of (voice_id, split).
    cross_language adds the XLANG_VOICES to training."""
    out = []
    for acc, asplit in ESPEAK_ACCENTS.items():
        for var in espeak_variants():
            if variant_split(var) == asplit:
                out.append((f'espeak:{acc}+{var}', asplit))
    for v, person in FLITE_VOICES.items():
        out.append((f'flite:{v}', PERSON_SPLIT[person]))
    for v, person in FESTIVAL_VOICES.items():
        out.append((f'festival:{v}', PERSON_SPLIT[person]))
    if cross_language:
        out += [(f'festx:{v}', 'training') for v in XLANG_VOICES]
    return out


def voices_by_split(cross_language=False):
    d = {s: [] for s in SPLITS}
    for v, s in all_voices(cross_language):
        d[s].append(v)
    return d


def render_params(voice_id, word, rendering, seed):
    """The synthesizer settings for one rendering, drawn from a hash of
    (seed, voice, word, rendering): a dict of engine options."""
    h = hashlib.sha256(f'{seed}|{voice_id}|{word}|{rendering}'.encode()).digest()
    rng = np.random.default_rng(int.from_bytes(h[:8], 'little'))
    engine, name = voice_id.split(':', 1)
    if engine == 'espeak':
        # SSML prosody, relative to the voice's own rate (175 wpm) and pitch
        return {'rate': int(rng.integers(70, 121)), 'pitch': int(rng.integers(-30, 31))}
    if engine == 'flite':
        lo, hi = FLITE_F0[name]
        return {'stretch': round(float(rng.uniform(0.85, 1.3)), 3),
                'f0': int(rng.integers(lo, hi + 1))}
    if engine == 'festx':
        return {'stretch': round(float(rng.uniform(0.85, 1.3)), 3),
                'pitch': round(float(rng.uniform(0.85, 1.15)), 3)}
    return {'stretch': round(float(rng.uniform(0.85, 1.3)), 3)}


def _check_word(word):
    if not _WORD_RE.match(word):
        raise ValueError(f'word {word!r}: only lower-case letters, spaces, hyphens and apostrophes')


def _run(cmd, what, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f'{what}: {cmd[0]} exited {r.returncode}: '
                           f'{r.stderr.decode(errors="replace").strip()[:300]}')
    return r.stdout


def _espeak_cmd(name):
    acc, var = name.split('+', 1)
    return acc if var == ESPEAK_DEFAULT else f'{acc}+{var}'


def _espeak_ssml(word, p):
    return (f'<prosody rate="{p["rate"]}%" pitch="{p["pitch"]:+d}%">{word}.</prosody>'
            f'<break time="{_BREAK_MS}ms"/>')


_BREAK_MS = 700


def _espeak_one(name, word, p):
    v = _espeak_cmd(name)
    data = _run(['espeak-ng', '-m', '-v', v, '--stdout', '<speak>' + _espeak_ssml(word, p) + '</speak>'],
                f'espeak:{name} "{word}"')
    return wavio.parse_wav_bytes(data, f'espeak-ng -v {v} "{word}"')


def _split_on_pauses(x, n, min_gap, hop=110, floor_db=45.0):
    """Cut x in the middle of its n-1 longest pauses (runs of hop-sample
    frames more than floor_db below the loudest frame, at least min_gap
    samples long): the SSML breaks between words. None unless there are
    n-1 such pauses and every piece has sound in it."""
    m = x.size // hop
    e = 10 * np.log10(np.mean(x[:m * hop].reshape(m, hop).astype(np.float64) ** 2, axis=1) + 1e-20)
    quiet = np.concatenate(([False], e < e.max() - floor_db, [False]))
    d = np.diff(quiet.astype(np.int8))
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    runs = [(a, b) for a, b in zip(starts, ends) if (b - a) * hop >= min_gap and a > 0 and b < m]
    if len(runs) < n - 1:
        return None
    runs = sorted(sorted(runs, key=lambda r: r[0] - r[1])[:n - 1])
    cuts = [0] + [(a + b) * hop // 2 for a, b in runs] + [x.size]
    segs = [x[cuts[i]:cuts[i + 1]] for i in range(n)]
    return segs if all(np.max(np.abs(s)) > 0 for s in segs) else None


def _espeak_batch(name, items):
    """All (word, params) of one espeak-ng voice from one process (SSML, a
    break after each word, cut at the breaks); falls back to one process
    per word if the cut does not give exactly one piece per word."""
    v = _espeak_cmd(name)
    text = '<speak>' + ''.join(_espeak_ssml(w, p) for w, p in items) + '</speak>'
    data = _run(['espeak-ng', '-m', '-v', v, '--stdout', text], f'espeak:{name}')
    x, sr = wavio.parse_wav_bytes(data, f'espeak-ng -v {v}')
    segs = _split_on_pauses(x, len(items), int(sr * _BREAK_MS / 1000 * 0.6))
    if segs is None:
        return [_espeak_one(name, w, p) for w, p in items]
    return [(s, sr) for s in segs]


def _flite(name, word, p):
    return flite_say(name, word, p)[:2]


def flite_say(name, text, p, *flags):
    """flite voice name saying text with render_params() settings p, and
    extra command-line flags (flite_timed.py: -psdur): (float32 samples,
    rate, flite's stdout)."""
    with tempfile.TemporaryDirectory(prefix='drsn-flite-') as d:
        out = os.path.join(d, 'o.wav')
        said = _run(['flite', '-voice', name, '--setf', f'duration_stretch={p["stretch"]}',
                     '--setf', f'int_f0_target_mean={p["f0"]}', *flags, '-t', text, '-o', out],
                    f'flite:{name} "{text}"')
        with open(out, 'rb') as f:
            return (*wavio.parse_wav_bytes(f.read(), f'flite -voice {name} "{text}"'), said)


def _festival(d, lines, what):
    """Run lines as a festival script (written into folder d); its stdout.
    what labels errors."""
    script = os.path.join(d, 'r.scm')
    with open(script, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return _run(['festival', '-b', script], what)


def _festival_run(name, d, lines, words):
    """Run a festival script whose i-th utterance is saved as d/i.wav; the
    waves in order. name labels errors."""
    _festival(d, lines, name)
    res = []
    for i, word in enumerate(words):
        path = f'{d}/{i}.wav'
        if not os.path.exists(path):
            raise RuntimeError(f'{name} "{word}": no output (is the voice installed?)')
        with open(path, 'rb') as f:
            res.append(wavio.parse_wav_bytes(f.read(), f'{name} "{word}"'))
    return res


def _festival_batch(name, items):
    """One festival process renders every (word, params) of one voice."""
    with tempfile.TemporaryDirectory(prefix='drsn-festival-') as d:
        lines = [f'(voice_{name})']
        for i, (word, p) in enumerate(items):
            lines += [f"(Parameter.set 'Duration_Stretch {p['stretch']})",
                      f'(set! u (Utterance Text "{word}"))', '(utt.synth u)',
                      f'(utt.save.wave u "{d}/{i}.wav" \'riff)']
        return _festival_run(f'festival:{name}', d, lines, [w for w, _ in items])


_ENGLISH_DUMP = """(define (drsn-dump i word)
  (let ((u (SynthText word)))
    (format t "UTT %d\\n" i)
    (mapcar (lambda (s)
      (format t "%s %f %s %s\\n" (item.name s) (item.feat s 'segment_duration)
              (item.feat s "R:SylStructure.parent.stress")
              (item.feat s "R:Target.daughter1.f0")))
      (utt.relation.items u 'Segment))))"""


def english_phones(items):
    """festival's English analysis (voice kal_diphone) of each (word,
    duration stretch): a list per item of (phone, seconds, stressed, f0 Hz
    or 0)."""
    with tempfile.TemporaryDirectory(prefix='drsn-festx-') as d:
        lines = ['(voice_kal_diphone)', _ENGLISH_DUMP]
        for i, (word, stretch) in enumerate(items):
            lines += [f"(Parameter.set 'Duration_Stretch {stretch})", f'(drsn-dump {i} "{word}")']
        text = _festival(d, lines, 'festival English analysis').decode()
    res = [[] for _ in items]
    cur = None
    for line in text.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == 'UTT':
            cur = res[int(f[1])]
        elif len(f) == 4 and cur is not None:
            cur.append((f[0], float(f[1]), f[2] == '1', float(f[3])))
    for (word, _), segs in zip(items, res):
        if not any(p != 'pau' for p, *_ in segs):
            raise RuntimeError(f'festival English analysis of "{word}": no phones')
    return res


def xlang_phones(segs, voice, pitch=1.0):
    """English segments -> [(phone, seconds, f0 Hz or 0)] in voice's phone
    set, pitch scaled by the voice's factor times pitch. A phone that maps
    to several shares its duration."""
    mapname, pause, f0k, _ = XLANG_VOICES[voice]
    m = XLANG_MAPS[mapname]
    out = []
    for ph, dur, stressed, f0 in segs:
        tgt = [pause] if ph == 'pau' else m.get(ph, ph).split()
        if mapname == 'italian' and not stressed:
            tgt = [t.rstrip('1') for t in tgt]
        out += [(t, dur / len(tgt), f0 * f0k * pitch) for t in tgt]
    return out


def segments_scm(phones):
    """The body of a festival Segments utterance: (phone dur (mid f0))..."""
    return ' '.join(f'({t} {d:.4f} ({d / 2:.4f} {f0:.1f}))' if f0 > 0 else f'({t} {d:.4f})'
                    for t, d, f0 in phones)


def _festx_batch(name, items):
    """Every (word, params) of one XLANG voice: one festival process for the
    English analysis, one for the voice."""
    eng = english_phones([(w, p['stretch']) for w, p in items])
    with tempfile.TemporaryDirectory(prefix='drsn-festx-') as d:
        lines = [f'(voice_{name})']
        for i, ((word, p), segs) in enumerate(zip(items, eng)):
            lines += [f'(set! u (Utterance Segments ({segments_scm(xlang_phones(segs, name, p["pitch"]))})))',
                      '(utt.synth u)', f'(utt.save.wave u "{d}/{i}.wav" \'riff)']
        return _festival_run(f'festx:{name} (Debian package {XLANG_VOICES[name][3]})', d, lines,
                             [w for w, _ in items])


def synthesize(requests):
    """Render a list of (voice_id, word, params) -> list of float32 arrays at
    16 kHz (untrimmed synthesizer output), in request order. Each call starts
    fresh synthesizer processes (one per espeak-ng or festival voice, one
    per flite word), so results do not depend on what else is rendered."""
    out = [None] * len(requests)
    batches = {}
    for i, (vid, word, p) in enumerate(requests):
        _check_word(word)
        engine, name = vid.split(':', 1)
        if engine == 'flite':
            x, sr = _flite(name, word, p)
            out[i] = wavio.resample(x, sr)
        elif engine in ('espeak', 'festival', 'festx'):
            batches.setdefault((engine, name), []).append(i)
        else:
            raise ValueError(f'voice {vid!r}: unknown engine {engine!r}')
    for (engine, name), idx in batches.items():
        fn = {'espeak': _espeak_batch, 'festival': _festival_batch, 'festx': _festx_batch}[engine]
        for i, (x, sr) in zip(idx, fn(name, [requests[i][1:] for i in idx])):
            out[i] = wavio.resample(x, sr)
    return out
