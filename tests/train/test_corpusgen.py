#!/usr/bin/python3
"""Tests of the keyword corpus generator (train/gen_corpus.py, train/corpusgen/).

Run: /usr/bin/python3 tests/train/test_corpusgen.py  (meson: suite 'train').
Needs the synthesizers and recordings listed in .ci/deps (espeak-ng, flite,
festival + festvox voices, lincity-ng-data).
"""
import csv
import difflib
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import unittest
import unittest.mock
import wave

ROOT = os.environ.get('DRSN_SOURCE_ROOT') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'train'))

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

import gen_corpus  # noqa: E402
from corpusgen import augment, events, noise, recipe, voices, wavio, words  # noqa: E402

TINY = ['--words', 'yes,no', '--per-word', '12', '--max-voices', '2',
        '--unknown-words', 'yet,cup,heaven', '--renderings', '1', '--eval-renderings', '1', '--quiet']


def phonemes(ws, accent):
    """espeak-ng's phonemes of each word said alone (one clause per line,
    one process for all), stress marks dropped."""
    out = subprocess.run(['espeak-ng', '-q', '-x', '-v', accent], input=''.join(w + '.\n' for w in ws),
                         capture_output=True, text=True, check=True).stdout.split('\n')
    out = [ln.strip().replace("'", '').replace(',', '') for ln in out if ln.strip()]
    assert len(out) == len(ws), (accent, len(out), len(ws))
    return out


class Words(unittest.TestCase):
    def test_labels(self):
        self.assertEqual(len(words.LABELS), 22)
        self.assertEqual(words.LABELS[:2], ['_silence_', '_unknown_'])
        self.assertFalse(set(words.UNKNOWN_WORDS) & set(words.TARGETS))
        self.assertTrue(set(words.SC_AUXILIARY) <= set(words.UNKNOWN_WORDS))

    def test_no_unknown_word_sounds_like_a_target(self):
        # every accent we synthesize with: a homophone would be label noise
        for acc in voices.ESPEAK_ACCENTS:
            targets = dict(zip(phonemes(words.TARGETS, acc), words.TARGETS))
            for w, p in zip(words.UNKNOWN_WORDS, phonemes(words.UNKNOWN_WORDS, acc)):
                self.assertNotIn(p, targets, f'{acc}: "{w}" sounds like "{targets.get(p)}" ({p})')
        # and the check itself can see a homophone
        self.assertEqual(*phonemes(['know', 'no'], 'en-us'))


class Voices(unittest.TestCase):
    def test_split_is_speaker_disjoint(self):
        vs = voices.voices_by_split()
        seen = {}
        for s, l in vs.items():
            self.assertTrue(l, f'no voices in {s}')
            for v in l:
                self.assertNotIn(v, seen)
                seen[v] = s
        for v, s in seen.items():
            eng, name = v.split(':', 1)
            if eng == 'espeak':
                acc, var = name.split('+', 1)
                # neither the accent nor the variant of a held-out voice is trained on
                self.assertEqual(voices.ESPEAK_ACCENTS[acc], s, v)
                self.assertEqual(voices.variant_split(var), s, v)
            else:
                person = (voices.FLITE_VOICES if eng == 'flite' else voices.FESTIVAL_VOICES)[name]
                self.assertEqual(voices.PERSON_SPLIT[person], s, v)
        for s in ('validation', 'testing'):
            self.assertTrue(any(not v.startswith('espeak:') for v in vs[s]))
        self.assertGreaterEqual(len(vs['training']), 300)

    def test_cross_language_voices(self):
        plain, cross = voices.voices_by_split(), voices.voices_by_split(cross_language=True)
        self.assertFalse(any(v.startswith('festx:') for l in plain.values() for v in l))
        for s in ('validation', 'testing'):
            self.assertEqual(plain[s], cross[s])
        self.assertEqual(cross['training'], plain['training'] + [f'festx:{v}' for v in voices.XLANG_VOICES])
        # every phone said for every word is in the voice's own phone set
        # (a phone it lacks would be skipped by its diphone synthesizer)
        ws = words.TARGETS + words.UNKNOWN_WORDS
        eng = voices.english_phones([(w, 1.0) for w in ws])
        for w, segs in zip(ws, eng):
            self.assertGreater(len(segs), 2, w)
        for v in voices.XLANG_VOICES:
            r = subprocess.run(['festival', '--pipe'], capture_output=True, text=True, check=True, input=(
                f"(voice_{v})(print (mapcar car (cadr (assoc 'phones (PhoneSet.description)))))"))
            have = set(r.stdout.strip().strip('()').split())
            self.assertGreater(len(have), 20, (v, r.stdout, r.stderr))
            said = {ph for segs in eng for ph, _, _ in voices.xlang_phones(segs, v)}
            self.assertFalse(said - have, f'{v}: phones not in its phone set')
        # pitch: the voice's factor times the rendering's
        seg = [('s', 0.1, True, 100.0)]
        self.assertEqual(voices.segments_scm(voices.xlang_phones(seg, 'czech_dita', 1.1)),
                         '(s 0.1000 (0.0500 209.0))')
        self.assertEqual(voices.xlang_phones([('eh', 0.1, False, 0.0)], 'pc_diphone'), [('E', 0.1, 0.0)])
        self.assertEqual(voices.xlang_phones([('eh', 0.1, True, 0.0)], 'pc_diphone'), [('E1', 0.1, 0.0)])
        self.assertEqual(voices.xlang_phones([('aw', 0.2, True, 0.0), ('pau', 0.1, False, 0.0)], 'czech_ph'),
                         [('a', 0.1, 0.0), ('u', 0.1, 0.0), ('_', 0.1, 0.0)])
        # a voice that is not installed: the error names its package
        with unittest.mock.patch.dict(voices.XLANG_VOICES, {'nope_diphone': ('czech', '_', 1.0, 'festvox-nope')}):
            with self.assertRaisesRegex(RuntimeError, r'festx:nope_diphone \(Debian package festvox-nope\)'):
                voices.synthesize([('festx:nope_diphone', 'seven', {'stretch': 1.0, 'pitch': 1.0})])

    def test_every_engine_renders(self):
        flite_has = subprocess.run(['flite', '-lv'], capture_output=True, text=True).stdout.split()
        for v in voices.FLITE_VOICES:
            self.assertIn(v, flite_has)
        reqs = [('espeak:en-us+m3', 'seven', {'rate': 100, 'pitch': 0}),
                ('espeak:en-us+m3', 'nine', {'rate': 100, 'pitch': 0}),
                ('espeak:en+f1', 'stop', {'rate': 90, 'pitch': 10})]
        reqs += [(f'flite:{v}', 'seven', voices.render_params(f'flite:{v}', 'seven', 0, 1))
                 for v in voices.FLITE_VOICES]
        reqs += [(f'festival:{v}', 'seven', {'stretch': 1.0}) for v in voices.FESTIVAL_VOICES]
        reqs += [(f'festx:{v}', 'seven', {'stretch': 1.0, 'pitch': 1.0}) for v in voices.XLANG_VOICES]
        out = voices.synthesize(reqs)
        for (v, w, _), x in zip(reqs, out):
            t = augment.trim(x)
            self.assertTrue(0.15 < t.size / 16000 < 1.5, f'{v} "{w}": {t.size} samples')
            self.assertGreater(np.max(np.abs(t)), 0.01, v)
        # batched espeak-ng (one process, cut at the breaks) equals one process per word
        one = voices._espeak_one('en-us+m3', 'nine', {'rate': 100, 'pitch': 0})[0]
        a, b = augment.trim(wavio.resample(one, 22050)), augment.trim(out[1])
        self.assertLess(abs(a.size - b.size), 1600)

    def test_pause_split(self):
        sr = 22050
        tone = lambda n: 0.5 * np.sin(np.arange(n) * 0.1)   # noqa: E731
        gap = np.zeros(int(0.7 * sr))
        closure = np.zeros(int(0.08 * sr))                   # a stop consonant's silence
        x = np.concatenate([tone(5000), closure, tone(3000), gap, tone(6000), gap, tone(4000), gap])
        segs = voices._split_on_pauses(x, 3, int(0.42 * sr))
        self.assertEqual(len(segs), 3)
        self.assertEqual([int(np.sum(np.abs(s) > 0)) > 0 for s in segs], [True] * 3)
        self.assertIsNone(voices._split_on_pauses(x, 5, int(0.42 * sr)))


class Noise(unittest.TestCase):
    def test_kinds(self):
        rng = np.random.default_rng(0)
        n = 64000
        for k in noise.KINDS:
            x = noise.make(k, n, rng)
            self.assertEqual(x.shape, (n,))
            self.assertAlmostEqual(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))), 1.0, places=3)
        lap = noise.laplacian(n, rng)
        kurt = np.mean(lap ** 4) / np.mean(lap ** 2) ** 2
        self.assertTrue(5.0 < kurt < 7.0, kurt)          # Laplacian: 6, Gaussian: 3
        g = noise.gaussian(n, rng)
        self.assertTrue(2.7 < np.mean(g ** 4) < 3.3)
        # pink: power per octave band constant, i.e. -3 dB/octave per Hz
        p = np.abs(np.fft.rfft(noise.pink(1 << 18, rng))) ** 2
        f = np.fft.rfftfreq(1 << 18, 1 / 16000)
        band = lambda lo: p[(f >= lo) & (f < 2 * lo)].sum()   # noqa: E731
        self.assertLess(abs(10 * np.log10(band(2000) / band(250))), 1.5)
        w = np.abs(np.fft.rfft(g)) ** 2
        fw = np.fft.rfftfreq(n, 1 / 16000)
        bw = lambda lo: w[(fw >= lo) & (fw < 2 * lo)].sum()   # noqa: E731
        self.assertGreater(10 * np.log10(bw(2000) / bw(250)), 7.0)   # white: +3 dB/octave per band

    def test_real_noise_split(self):
        bank = noise.real_bank()
        names = {s: {n for n, _ in fl} for s, fl in bank.files.items()}
        self.assertFalse(names['training'] & names['testing'])
        self.assertFalse(names['training'] & names['validation'])
        self.assertGreaterEqual(sum(len(v) for v in names.values()), 100)
        self.assertTrue(all(not n.startswith('Click') for v in names.values() for n in v))

    def test_mix_at_snr(self):
        rng = np.random.default_rng(1)
        speech = np.zeros(16000, np.float32)
        speech[4000:9000] = 0.1 * np.sin(np.arange(5000) * 0.05)
        for snr in (-5, 0, 20):
            nz = noise.gaussian(16000, rng)
            y = noise.mix_at_snr(speech, nz, snr, (4000, 9000))
            self.assertAlmostEqual(noise.snr_db(speech, y - speech, (4000, 9000)), snr, places=3)


class Events(unittest.TestCase):
    def test_families(self):
        def spectrum_peak(x):
            p = np.abs(np.fft.rfft(x.astype(np.float64), 1 << 15)) ** 2
            return float(np.argmax(p) * 16000 / (1 << 15))
        for fam in events.FAMILIES:
            rng = np.random.default_rng(7)
            for _ in range(10):
                x = events.make(rng, fam)
                self.assertEqual(x.dtype, np.float32)
                self.assertTrue(0 < x.size <= 16000, fam)
                self.assertAlmostEqual(float(np.abs(x).max()), 0.5, places=5)
                e = x.astype(np.float64) ** 2
                if fam == 'click':      # a click: most of its energy in a few ms
                    c = np.convolve(e, np.ones(480))
                    self.assertGreater(c.max() / e.sum(), 0.5)
                if fam == 'beep':       # tones of 300-3500 Hz (DTMF pairs: 650-1650 Hz)
                    self.assertTrue(290 <= spectrum_peak(x) <= 3600, spectrum_peak(x))
                if fam in ('chime', 'burst'):   # struck, then decaying
                    q = max(1, x.size // 4)
                    self.assertGreater(e[:q].sum(), e[-q:].sum())
            again = events.make(np.random.default_rng(7), fam)
            self.assertTrue(np.array_equal(again, events.make(np.random.default_rng(7), fam)))
        a = [events.make(np.random.default_rng(s)).size for s in range(30)]
        self.assertGreater(len(set(a)), 10)
        with self.assertRaisesRegex(ValueError, "event family 'cough'"):
            events.make(np.random.default_rng(0), 'cough')

    def test_music(self):
        # music is drawn only when asked; it fills the second, with notes of
        # a pitch (a harmonic spectrum: strong partials, not flat like noise)
        rng = np.random.default_rng(3)
        self.assertNotIn(events.MUSIC, events.FAMILIES)
        for i in range(12):
            x = events.make(rng, events.MUSIC).astype(np.float64)
            self.assertEqual(x.size, 16000)
            self.assertAlmostEqual(float(np.abs(x).max()), 0.5, places=5)
            q = x.reshape(4, 4000)
            self.assertTrue(all(np.sqrt(np.mean(r ** 2)) > 1e-3 for r in q), i)   # sound in every quarter
            p = np.abs(np.fft.rfft(x)) ** 2
            top = np.sort(p)[::-1]
            self.assertGreater(top[:200].sum() / p.sum(), 0.5, i)                 # a few strong partials
        for s in range(4):      # `families` picks what a random draw is
            m = events.make(np.random.default_rng(s), families=(events.MUSIC,)).astype(np.float64)
            self.assertTrue(all(np.sqrt(np.mean(r ** 2)) > 1e-3 for r in m.reshape(4, 4000)), s)
            self.assertLess(events.make(np.random.default_rng(s), families=('click',)).size, 8000)

    def test_recorded_music(self):
        pieces = events.recorded_music()
        self.assertGreaterEqual(len(pieces), 100)          # 9.4 min in 5 s pieces
        self.assertEqual({p.size for _, p in pieces}, {80000})
        self.assertEqual(len({n for n, _ in pieces}), 3)
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(OSError, 'no music'):
                events.recorded_music(d)
            with unittest.mock.patch.object(events, 'RECORDED_MUSIC_DIR', d):     # the default's package named
                with self.assertRaisesRegex(OSError, 'install Debian package lincity-ng-data'):
                    events.recorded_music(d)

    def test_music_tracks(self):
        # recorded music for training: every audio file under a folder,
        # tracks under 1 s dropped, 1 s excerpts never silent
        t = np.arange(16000) / 16000
        tone = np.concatenate([np.zeros(48000), 0.3 * np.sin(2 * np.pi * 440 * t)])    # 3 s silence, 1 s tone
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(OSError, 'no music .want .ogg'):
                events.load_tracks(d)
            os.makedirs(os.path.join(d, 'sub'))
            wavio.write_wav16(os.path.join(d, 'sub', 'a.wav'), tone)
            wavio.write_wav16(os.path.join(d, 'short.wav'), tone[-8000:])
            with open(os.path.join(d, 'notes.txt'), 'w') as f:
                f.write('not music')
            tracks = events.load_tracks(d)
            self.assertEqual([n for n, _ in tracks], ['a.wav'])
            self.assertEqual(tracks[0][1].size, 64000)
            rng = np.random.default_rng(5)
            for _ in range(30):
                x = events.make(rng, events.RECORDED_MUSIC, tracks=[tracks[0][1]])
                self.assertEqual(x.size, 16000)
                self.assertAlmostEqual(float(np.abs(x).max()), 0.5, places=5)     # 2/3 of places are silent
            with self.assertRaisesRegex(ValueError, 'needs recorded tracks'):
                events.make(rng, events.RECORDED_MUSIC)
            self.assertEqual(len(events.recorded_music(d, piece_s=1.0)), 1)    # the silent seconds left out
            with open(os.path.join(d, 'broken.ogg'), 'wb') as f:
                f.write(b'OggS' + bytes(60))
            with self.assertRaisesRegex(OSError, 'broken.ogg: sox could not decode it'):
                events.load_tracks(d)

    def test_recorded(self):
        rec = events.recorded()
        self.assertGreaterEqual(len(rec), 20)
        self.assertFalse([n for n, _ in rec if n.startswith('audio-channel-')])    # spoken: not events
        self.assertIn('bell', [n for n, _ in rec])
        for name, x in rec:
            self.assertTrue(0 < x.size <= 16000, name)
            self.assertAlmostEqual(float(np.abs(x).max()), 0.5, places=5)
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(OSError, 'sound-theme-freedesktop'):
                events.recorded(d)
            with open(os.path.join(d, 'broken.oga'), 'wb') as f:
                f.write(b'OggS' + bytes(60))
            with self.assertRaisesRegex(OSError, 'broken.oga: sox could not decode it'):
                events.recorded(d)


class Augment(unittest.TestCase):
    def test_ops(self):
        rng = np.random.default_rng(2)
        x = np.concatenate([np.zeros(4000), 0.3 * np.sin(np.arange(8000) * 0.2), np.zeros(4000)]).astype(np.float32)
        t = augment.trim(x)
        self.assertTrue(8000 <= t.size <= 8000 + 2 * 320 + 160, t.size)
        fast = augment.speed(t, 1.25)
        self.assertAlmostEqual(fast.size / t.size, 0.8, delta=0.01)
        win, a, b = augment.place(t, rng)
        self.assertEqual(win.size, 16000)
        self.assertTrue(np.array_equal(win[a:b], t))
        self.assertEqual(np.count_nonzero(win[:a]) + np.count_nonzero(win[b:]), 0)
        self.assertAlmostEqual(augment.rms_db(augment.set_level(win, -20, (a, b))[a:b]), -20, places=4)
        r = augment.reverb(win, rng, rt60=0.5)
        self.assertEqual(r.size, 16000 + 8000 - 1)
        self.assertGreater(np.abs(r[b + 1600:b + 3200]).max(), 1e-4)   # a tail after the word ends
        self.assertEqual(augment.fit(np.ones(20000, np.float32)).size <= 16000 - 480, True)

    def test_condition(self):
        x = np.zeros(16000, np.float32)
        x[3000:9000] = 0.05 * np.sin(np.arange(6000) * 0.3)
        y1 = recipe.make_condition(x, (3000, 9000), 'pink', 0, 1, 'k')
        y2 = recipe.make_condition(x, (3000, 9000), 'pink', 0, 1, 'k')
        self.assertTrue(np.array_equal(y1, y2))
        self.assertAlmostEqual(noise.snr_db(x, y1 - x, (3000, 9000)), 0.0, places=3)
        self.assertTrue(np.array_equal(recipe.make_condition(x, (3000, 9000), 'clean', None, 1, 'k'), x))
        s = recipe.make_condition(np.zeros(16000, np.float32), None, 'gaussian', 10, 1, 'k')
        self.assertAlmostEqual(augment.rms_db(s), recipe.REF_SPEECH_DB - 10, places=2)


class Corpus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix='drsn-corpus-test-')
        cls.a = os.path.join(cls.tmp.name, 'a')
        cls.b = os.path.join(cls.tmp.name, 'b')
        assert gen_corpus.main(['--out', cls.a, '--seed', '7', '--workers', '2'] + TINY) == 0
        assert gen_corpus.main(['--out', cls.b, '--seed', '7', '--workers', '1'] + TINY) == 0
        with open(os.path.join(cls.a, 'clips.csv')) as f:
            cls.rows = list(csv.DictReader(f))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_same_seed_same_bytes(self):
        # Every file, byte for byte (dircmp alone would trust equal stat
        # signatures). A failure names each differing file in its message,
        # with the text lines or the WAV samples that differ, so that a run
        # whose log keeps only the assertion still tells what to look for.
        rows = {r['path']: r for r in self.rows}
        problems = []

        def walk(c, pre=''):
            for name in c.left_only + c.right_only:
                problems.append(f'{pre}{name}: only in one corpus')
            for name in sorted(c.common_files):
                rel = pre + name
                with open(os.path.join(c.left, name), 'rb') as fa, open(os.path.join(c.right, name), 'rb') as fb:
                    da, db = fa.read(), fb.read()
                if da == db:
                    continue
                if name.endswith(('.csv', '.txt', '.json')):
                    lines = difflib.unified_diff(da.decode().splitlines(), db.decode().splitlines(),
                                                 rel + ' (2 workers)', rel + ' (1 worker)', n=0, lineterm='')
                    problems.append('\n'.join(list(lines)[:40]))
                else:
                    xa, xb = wavio.parse_wav_bytes(da, rel)[0], wavio.parse_wav_bytes(db, rel)[0]
                    r = rows.get(rel, {})
                    what = (f'max |diff| {np.max(np.abs(xa - xb)):.3g}' if xa.shape == xb.shape
                            else f'{xa.size} against {xb.size} samples')
                    problems.append(f'{rel} ({r.get("label")}, voice {r.get("voice")}, noise '
                                    f'{r.get("noise")}): {what}')
            for name, sub in sorted(c.subdirs.items()):
                walk(sub, pre + name + '/')
        walk(filecmp.dircmp(self.a, self.b))
        self.assertEqual(len(self.rows) + 4, sum(len(fs) for _, _, fs in os.walk(self.a)))
        if problems:
            self.fail('2 workers and 1 worker gave different corpora:\n' + '\n'.join(problems[:60]))

    def test_other_seed_other_corpus(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'c')
            gen_corpus.main(['--out', out, '--seed', '8', '--workers', '1', '--words', 'yes', '--per-word', '3',
                             '--max-voices', '1', '--unknown-words', 'yet', '--eval-renderings', '1', '--quiet'])
            with open(os.path.join(out, 'clips.csv')) as f:
                r = [x for x in csv.DictReader(f) if x['split'] == 'training' and x['label'] == 'yes']
            with open(os.path.join(out, r[0]['path']), 'rb') as f:
                other = f.read()
            with open(os.path.join(self.a, r[0]['path']), 'rb') as f:
                self.assertNotEqual(f.read(), other)

    def test_layout(self):
        self.assertTrue({'yes', 'no', 'yet', 'cup', 'heaven', '_silence_'} <= set(os.listdir(self.a)))
        for r in self.rows:
            with wave.open(os.path.join(self.a, r['path'])) as w:
                self.assertEqual((w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()),
                                 (1, 2, 16000, 16000), r['path'])
        lists = {}
        for s, name in (('validation', 'validation_list.txt'), ('testing', 'testing_list.txt')):
            with open(os.path.join(self.a, name)) as f:
                lists[s] = f.read().split()
            self.assertEqual(sorted(lists[s]), sorted(r['path'] for r in self.rows if r['split'] == s))
            self.assertTrue(lists[s])
        self.assertFalse(set(lists['validation']) & set(lists['testing']))

    def test_speakers_held_out(self):
        split_of = dict(voices.all_voices())
        seen = {}
        for r in self.rows:
            if r['voice']:
                self.assertEqual(split_of[r['voice']], r['split'], r['path'])
                seen.setdefault(r['split'], set()).add(r['voice'])
        self.assertFalse(seen['training'] & (seen['validation'] | seen['testing']))
        # a file name's speaker hash never spans two splits (Speech Commands convention)
        pre = {}
        for r in self.rows:
            if r['voice']:
                p = r['path'].split('/')[1].split('_nohash_')[0]
                self.assertEqual(pre.setdefault(p, r['split']), r['split'])

    def test_augmentation_recorded(self):
        tr = [r for r in self.rows if r['split'] == 'training' and r['voice']]
        te = [r for r in self.rows if r['split'] == 'testing' and r['voice']]
        self.assertTrue(any(r['noise'] for r in tr) and any(r['rt60'] for r in tr))
        self.assertTrue(all(not r['noise'] and not r['rt60'] for r in te))    # test split is clean
        for r in tr:
            if r['snr']:
                self.assertTrue(-5 <= float(r['snr']) <= 30)
            a, b = int(r['start']), int(r['end'])
            self.assertTrue(0 <= a < b <= 16000)
        # the recorded span is where the speech is, in a clean test clip
        r = te[0]
        x = wavio.read_audio(os.path.join(self.a, r['path']))
        a, b = int(r['start']), int(r['end'])
        self.assertGreater(augment.rms_db(x[a:b]), augment.rms_db(np.concatenate([x[:a], x[b:]]) if a or b < 16000 else np.zeros(1)) + 20)

    def test_counts(self):
        c = {}
        for r in self.rows:
            if r['split'] == 'training':
                c[r['label']] = c.get(r['label'], 0) + 1
        self.assertEqual(c['yes'], 12)
        self.assertEqual(c['no'], 12)
        self.assertEqual(c['_silence_'], 12)
        self.assertEqual(c.get('yet', 0) + c.get('cup', 0) + c.get('heaven', 0), 24)

    def test_cross_language_corpus(self):
        # --cross-language-voices: the festx speakers say training clips only, their clips are
        # speech, and the validation and test files are those of the corpus without them
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'x')
            self.assertEqual(gen_corpus.main(['--out', out, '--seed', '7', '--workers', '1',
                                              '--cross-language-voices'] + TINY), 0)
            with open(os.path.join(out, 'clips.csv')) as f:
                rows = list(csv.DictReader(f))
            fx = [r for r in rows if r['voice'].startswith('festx:')]
            self.assertTrue(fx)
            self.assertEqual({r['split'] for r in fx}, {'training'})
            for r in fx[:6]:
                x = wavio.read_audio(os.path.join(out, r['path']))
                a, b = int(r['start']), int(r['end'])
                self.assertGreater(b - a, 0.15 * 16000, r['path'])
                self.assertGreater(np.max(np.abs(x[a:b])), 0.005, r['path'])
            for name in ('validation_list.txt', 'testing_list.txt'):
                self.assertTrue(filecmp.cmp(os.path.join(self.a, name), os.path.join(out, name), shallow=False))
            for r in self.rows:
                if r['split'] != 'training':
                    self.assertTrue(filecmp.cmp(os.path.join(self.a, r['path']), os.path.join(out, r['path']),
                                                shallow=False), r['path'])
            with open(os.path.join(out, 'corpus.json')) as f:
                meta = json.load(f)
            self.assertTrue(meta['cross_language_voices'])
            self.assertTrue(set(meta['voices']['training']) >= {r['voice'] for r in fx})
        self.assertFalse(any(r['voice'].startswith('festx:') for r in self.rows))

    def test_more_unknown_keeps_the_rest(self):
        # --unknown-ratio adds training _unknown_ clips; every clip of the default corpus is planned
        # the same, and the validation and test clips are the same files
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'u')
            self.assertEqual(gen_corpus.main(['--out', out, '--seed', '7', '--workers', '1',
                                              '--unknown-ratio', '4'] + TINY), 0)
            with open(os.path.join(out, 'clips.csv')) as f:
                rows = {r['path']: r for r in csv.DictReader(f)}
            plan = ('split', 'label', 'word', 'voice', 'r', 'speed', 'rt60', 'level', 'noise', 'snr')
            for r in self.rows:
                self.assertEqual([rows[r['path']][k] for k in plan], [r[k] for k in plan], r['path'])
                if r['split'] != 'training':    # (espeak-ng batches a training voice's words: cuts may move)
                    self.assertTrue(filecmp.cmp(os.path.join(self.a, r['path']), os.path.join(out, r['path']),
                                                shallow=False), r['path'])
            extra = [r for p, r in rows.items() if p not in {x['path'] for x in self.rows}]
            self.assertEqual(len(extra), 24)     # 4 * 12 training clips instead of 2 * 12
            self.assertTrue(all(r['split'] == 'training' and r['label'] in ('yet', 'cup', 'heaven') for r in extra))
            for name in ('validation_list.txt', 'testing_list.txt'):
                self.assertTrue(filecmp.cmp(os.path.join(self.a, name), os.path.join(out, name), shallow=False))
            with open(os.path.join(out, 'corpus.json')) as f:
                self.assertEqual(json.load(f)['unknown_ratio'], 4.0)
        with self.assertRaises(SystemExit):
            gen_corpus.main(['--out', os.path.join(self.tmp.name, 'neg'), '--unknown-ratio', '-1'] + TINY)

    def test_refuses_to_overwrite(self):
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, 'mine.txt'), 'w').close()
            with self.assertRaises(SystemExit):
                gen_corpus.main(['--out', d, '--force'] + TINY)
            self.assertTrue(os.path.exists(os.path.join(d, 'mine.txt')))


if __name__ == '__main__':
    unittest.main(verbosity=2)
