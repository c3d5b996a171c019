#!/usr/bin/python3
"""Own recordings as README "Train your own keywords" describes them: clips
made on a phone or laptop (44.1/48 kHz, stereo, 24-bit, longer than 1 s with
the word anywhere in them), folders named with spaces, capitals and
non-ASCII letters, no _silence_/ or _unknown_ folder. Quick: no synthesizer,
one epoch of the tiny architecture.

usage: test_own_recordings.py [DRSN_EXE]   (without it, the C side is skipped)"""
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get('DRSN_SOURCE_ROOT') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'train'))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import torch.nn.functional as F  # noqa: E402

import train  # noqa: E402
from corpusgen import layout  # noqa: E402
from drsn import frontend  # noqa: E402
from drsn import model as M  # noqa: E402


def write_wav24_stereo(path, x, rate):
    """x: mono float at rate -> a 24-bit stereo WAV, as a phone records it."""
    q = np.clip(np.rint(x * 8388607.0), -8388608, 8388607).astype(np.int32)
    st = np.repeat(q[:, None], 2, axis=1).reshape(-1)
    b = st.astype('<i4').view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    import wave
    with wave.open(path, 'wb') as w:
        w.setnchannels(2)
        w.setsampwidth(3)
        w.setframerate(rate)
        w.writeframes(b)


def recording(rate, length_s, word_at_s, word_s=0.5, level=0.3, seed=0):
    """length_s of faint noise with a 'word' (a 700 Hz burst) at word_at_s."""
    g = np.random.default_rng(seed)
    x = g.normal(0, 1e-4, int(rate * length_s))
    a, n = int(rate * word_at_s), int(rate * word_s)
    t = np.arange(n) / rate
    x[a:a + n] += level * np.sin(2 * np.pi * 700 * t) * np.hanning(n)
    return x


DRSN = None
WORDS = ('lights on', 'Lights Off', 'hey böx')


def corpus(root, lists=True, per_word=6):
    """Folders per word of 2.5 s 48 kHz stereo 24-bit clips, a different
    'word' (tone) for each, said at different places and levels; the first
    clip of each word for validation, the second for testing."""
    for w, word in enumerate(WORDS):
        os.makedirs(os.path.join(root, word))
        for i in range(per_word):
            x = recording(48000, 2.5, 0.2 + 0.3 * i, level=0.05 + 0.1 * i, seed=10 * w + i)
            t = np.arange(x.size) / 48000
            x *= 1.0 + 0.5 * np.sin(2 * np.pi * (3 + 4 * w) * t)     # a per-word rhythm
            write_wav24_stereo(os.path.join(root, word, f'Take {i}.wav'), x / 1.6, 48000)
    if lists:
        for name, i in (('validation_list.txt', 0), ('testing_list.txt', 1)):
            with open(os.path.join(root, name), 'w', encoding='utf-8') as f:
                f.writelines(f'{word}/Take {i}.wav\n' for word in WORDS)


class OwnRecordings(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix='drsn-own-rec-')
        self.addCleanup(self.tmp.cleanup)

    def test_missing_lists_say_what_to_write(self):
        root = os.path.join(self.tmp.name, 'c')
        corpus(root, lists=False, per_word=2)
        with self.assertRaises(SystemExit) as cm:
            train.main(['--data', root, '--keywords', ','.join(WORDS), '--out', os.path.join(self.tmp.name, 'r'),
                        '--quiet'])
        msg = str(cm.exception)
        self.assertIn(os.path.join(root, 'validation_list.txt'), msg)
        self.assertIn('one path a line', msg)
        self.assertIn("'Lights Off/Take 0.wav'", msg)        # an example line from this corpus

    def test_no_silence_folder_gets_synthetic_silence(self):
        root = os.path.join(self.tmp.name, 'c')
        corpus(root)
        labels = ['_silence_', '_unknown_'] + list(WORDS)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            d = train.load_data(root, list(WORDS), labels, 1, 2.0, True)
        self.assertIn('made 4 noise-only _silence_ clips', err.getvalue())
        for split, (audio, tg, paths) in d.items():
            sil = (tg == 0).nonzero().flatten().tolist()
            self.assertEqual(len(sil), 4 if split == 'training' else 1, split)
            self.assertTrue(all(paths[i].startswith('_silence_/synthetic_') for i in sil))
        audio, tg, _ = d['training']
        quiet = audio[tg == 0].float().abs().amax(dim=1) / 32768
        self.assertTrue((quiet < 0.2).all(), quiet)
        d2 = train.load_data(root, list(WORDS), labels, 1, 2.0, True)
        self.assertTrue(torch.equal(d['training'][0], d2['training'][0]))     # same seed, same clips

    @unittest.skipUnless(len(sys.argv) > 1 or DRSN, 'needs the drsn executable')
    def test_labels_reach_c_and_json(self):
        root = os.path.join(self.tmp.name, 'c')
        corpus(root)
        out = os.path.join(self.tmp.name, 'run')
        with contextlib.redirect_stderr(io.StringIO()):
            train.main(['--data', root, '--keywords', ','.join(WORDS), '--out', out, '--name', 'own',
                        '--arch', 'tiny', '--epochs', '1', '--threads', '1', '--quiet',
                        '--feature-cache', os.path.join(self.tmp.name, 'cache')])
        model = os.path.join(out, 'own.safetensors')
        r = subprocess.run([DRSN, 'info', '--json', model], capture_output=True, text=True, check=True)
        self.assertEqual(json.loads(r.stdout)['labels'], ['_silence_', '_unknown_'] + list(WORDS))
        clip = os.path.join(root, 'hey böx', 'Take 1.wav')
        r = subprocess.run([DRSN, 'classify', '--model', model, '--top', '0', clip],
                           capture_output=True, text=True, check=True)
        o = json.loads(r.stdout)
        self.assertEqual(o['file'], clip)
        self.assertEqual(sorted(lab for lab, _ in o['top']), sorted(['_silence_', '_unknown_'] + list(WORDS)))
        r = subprocess.run([DRSN, 'detect', '--model', model, '--threshold', '0', clip],
                           capture_output=True, text=True, check=True)
        got = {json.loads(ln)['label'] for ln in r.stdout.splitlines()}
        self.assertTrue(got and got <= set(WORDS), got)

    def train(self, root, out, *args):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            train.main(['--data', root, '--keywords', ','.join(WORDS), '--out', out, '--arch', 'tiny',
                        '--threads', '1', '--quiet', '--no-export',
                        '--feature-cache', os.path.join(self.tmp.name, 'cache')] + list(args))
        return err.getvalue()

    def test_best_of_equal_accuracies_has_the_lowest_validation_loss(self):
        # 4 validation clips: many epochs score the same accuracy. best.pt used to be the first of them, an
        # under-trained model; now the one of lowest validation loss among them
        root, out = os.path.join(self.tmp.name, 'c'), os.path.join(self.tmp.name, 'r')
        corpus(root)
        self.train(root, out, '--epochs', '30')
        best, last = (torch.load(os.path.join(out, f), map_location='cpu') for f in ('best.pt', 'last.pt'))
        labels = best['labels']
        audio, y, _ = train.load_data(root, list(WORDS), labels, 1, 2.0, True)['validation']
        feats = train.features(frontend.FrontEnd(frontend.FrontEndParams.from_dict(best['frontend'])), audio)

        def score(ck):      # (accuracy, mean cross entropy) on the validation clips, computed here
            m = M.DRSN(ck['arch'])
            m.load_state_dict(ck['state_dict'])
            m.eval()
            with torch.no_grad():
                logits = m(feats)
            return (logits.argmax(1) == y).float().mean().item(), F.cross_entropy(logits, y).item()
        (acc_b, loss_b), (acc_l, loss_l) = score(best), score(last)
        acc = [r['val_acc'] for r in last['history']]
        top = [r['epoch'] for r in last['history'] if r['val_acc'] == max(acc)]
        self.assertGreater(len(top), 1, acc)                     # the case at hand: a tie
        self.assertIn(best['epoch'] + 1, top)                    # still the best accuracy
        self.assertAlmostEqual(acc_b, max(acc), places=4)
        if acc_l == acc_b:
            self.assertLessEqual(loss_b, loss_l + 1e-6, (best['epoch'] + 1, top))
        losses = {r['epoch']: r['val_loss'] for r in last['history']}
        self.assertEqual(best['epoch'] + 1, min(top, key=lambda e: (losses[e], e)), losses)
        self.assertAlmostEqual(losses[best['epoch'] + 1], loss_b, places=3)
        self.assertEqual((best['best_val'], best['best_val_loss']), (last['best_val'], last['best_val_loss']))
        # resumed in the middle of the tie, the same epoch wins
        again = os.path.join(self.tmp.name, 'r2')
        self.train(root, again, '--epochs', '30', '--stop-after', str(top[0]))
        self.train(root, again, '--epochs', '30', '--resume')
        self.assertEqual(torch.load(os.path.join(again, 'best.pt'))['epoch'], best['epoch'])

    def test_generated_unknown_clips_respect_the_cap(self):
        # a folder of other words (gen_corpus.py gives thousands) beside a few recordings per keyword:
        # --extra-unknown-capped takes only what --max-unknown-ratio leaves room for
        root, gen = os.path.join(self.tmp.name, 'c'), os.path.join(self.tmp.name, 'gen')
        corpus(root)                    # 4 training clips per keyword: room for 8 _unknown_
        os.makedirs(os.path.join(root, 'other'))
        for i in range(3):              # 3 of them recorded
            write_wav24_stereo(os.path.join(root, 'other', f'o{i}.wav'), recording(48000, 1.0, 0.3, seed=50 + i), 48000)
        import wave
        for w in range(6):
            os.makedirs(os.path.join(gen, f'word{w}'))
            for i in range(5):
                x = (recording(16000, 1.0, 0.2, seed=100 + 5 * w + i) * 32767).astype('<i2')
                with wave.open(os.path.join(gen, f'word{w}', f'{i}.wav'), 'wb') as f:
                    f.setnchannels(1)
                    f.setsampwidth(2)
                    f.setframerate(16000)
                    f.writeframes(x.tobytes())
        for skip in ('_silence_', 'Lights Off'):     # a gen_corpus.py folder's silence, a keyword: never _unknown_
            os.makedirs(os.path.join(gen, skip))
            with wave.open(os.path.join(gen, skip, 'x.wav'), 'wb') as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(16000)
                f.writeframes(bytes(32000))
        out = os.path.join(self.tmp.name, 'r')
        err = self.train(root, out, '--epochs', '1', '--extra-unknown-capped', gen)
        self.assertIn('--extra-unknown-capped: 5 of its 30 clips as _unknown_ (--max-unknown-ratio 2: '
                      '8 _unknown_ training clips, 3 of them from --data)', err)
        self.assertIn(' 24 training / ', err)    # 3 x 4 keyword + 4 silence + 3 + 5 unknown
        ck = torch.load(os.path.join(out, 'last.pt'))
        self.assertEqual(ck['provenance']['extra_unknown_capped'],
                         {'dir': os.path.abspath(gen), 'clips': 5, 'of': 30})
        # --max-unknown-ratio 0 keeps all, as it does for the corpus's own
        err = self.train(root, os.path.join(self.tmp.name, 'r0'), '--epochs', '1', '--max-unknown-ratio', '0',
                       '--extra-unknown-capped', gen)
        self.assertIn('--extra-unknown-capped: 30 of its 30 clips', err)
        with self.assertRaises(SystemExit) as cm:
            self.train(root, os.path.join(self.tmp.name, 'bad'), '--extra-unknown-capped', gen, '--fresh-unknown')
        self.assertIn('--fresh-unknown', str(cm.exception))
        with self.assertRaises(SystemExit) as cm:
            only = os.path.join(self.tmp.name, 'only-silence')
            os.makedirs(only)
            os.rename(os.path.join(gen, '_silence_'), os.path.join(only, '_silence_'))
            self.train(root, os.path.join(self.tmp.name, 'bad2'), '--extra-unknown-capped', only)
        self.assertIn('no .wav file outside the folders', str(cm.exception))

    def test_long_clip_is_cropped_around_its_word(self):
        # 2.5 s at 48 kHz, the word in the first half second: a centre crop
        # (0.75..1.75 s) would hold none of it
        for rate, at in ((48000, 0.1), (44100, 1.9)):
            p = os.path.join(self.tmp.name, f'r{rate}.wav')
            write_wav24_stereo(p, recording(rate, 2.5, at), rate)
            x = layout.read_clip(p)
            self.assertEqual(x.shape, (16000,))
            word = np.abs(x) > 0.05
            self.assertTrue(word.any(), f'{rate} Hz, word at {at} s: cropped away')
            on = np.nonzero(word)[0]
            # the whole word (0.5 s, of which the loud part is shorter) is inside the window
            self.assertGreater(on[0], 0)
            self.assertLess(on[-1], 15999)

    def test_short_and_one_second_clips_are_unchanged(self):
        x = np.linspace(-0.5, 0.5, 16000).astype(np.float32)
        np.testing.assert_array_equal(layout.fit_word(x), x)
        y = np.ones(9600, dtype=np.float32)
        np.testing.assert_array_equal(layout.fit_word(y), layout.fit_window(y))


if __name__ == '__main__':
    if len(sys.argv) > 1:
        DRSN = sys.argv.pop(1)
    unittest.main()
