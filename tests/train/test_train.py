#!/usr/bin/python3
"""Tests of train/train.py and train/evaluate.py on a tiny generated corpus
(the 'tiny' architecture, a few epochs): resuming equals an uninterrupted
run, all three variants train from the same code, the exported file scores
exactly like its checkpoint, and evaluate.py writes every condition.
"""
import collections
import csv
import contextlib
import io
import json
import math
import os
import re
import shutil
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

import ablate_shrink  # noqa: E402
import evaluate  # noqa: E402
import evaluate_events  # noqa: E402
import evaluate_human  # noqa: E402
import evaluate_narrowband  # noqa: E402
import evaluate_stream  # noqa: E402
import export  # noqa: E402
import fetch_music  # noqa: E402
import gen_corpus  # noqa: E402
import gen_incontext  # noqa: E402
import gen_running  # noqa: E402
import seeds  # noqa: E402
import train  # noqa: E402
import voice_spectra  # noqa: E402
from corpusgen import (augment, espeak_timed, events, flite_timed, layout, noise, recipe,  # noqa: E402
                       voices, wavio, words)
from drsn import frontend  # noqa: E402
from drsn import model as M  # noqa: E402
from drsn.safetensors import load as st_load  # noqa: E402


class Train(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix='drsn-train-test-')
        cls.data = os.path.join(cls.tmp.name, 'corpus')
        assert gen_corpus.main(['--out', cls.data, '--words', 'yes,no', '--per-word', '16', '--max-voices', '2',
                                '--unknown-words', 'yet,cup', '--renderings', '1', '--eval-renderings', '1',
                                '--workers', '1', '--quiet']) == 0

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_train(self, out, *extra):
        args = ['--data', self.data, '--keywords', 'yes,no', '--arch', 'tiny', '--batch', '16',
                '--threads', '1', '--quiet', '--out', out,
                '--feature-cache', os.path.join(self.tmp.name, 'cache')] + list(extra)
        self.assertEqual(train.main(args), 0)

    def test_resume_equals_uninterrupted(self):
        a, b = os.path.join(self.tmp.name, 'a'), os.path.join(self.tmp.name, 'b')
        cache = os.path.join(self.tmp.name, 'cache-resume')     # its own: the files are counted below
        self.run_train(a, '--epochs', '3', '--no-export', '--feature-cache', cache)
        self.run_train(b, '--epochs', '3', '--stop-after', '1', '--no-export', '--feature-cache', cache)
        self.assertEqual(torch.load(os.path.join(b, 'last.pt'))['epoch'], 0)
        self.run_train(b, '--epochs', '3', '--resume', '--no-export', '--feature-cache', cache)
        sa, sb = (torch.load(os.path.join(d, 'last.pt')) for d in (a, b))
        self.assertEqual(sa['epoch'], 2)
        self.assertEqual(len(sb['history']), 3)
        for k, v in sa['state_dict'].items():
            self.assertTrue(torch.equal(v, sb['state_dict'][k]), k)
        with open(os.path.join(b, 'log.jsonl')) as f:
            self.assertEqual([json.loads(ln)['epoch'] for ln in f], [1, 2, 3])
        # training and validation features were computed once and reused
        self.assertEqual(len(os.listdir(cache)), 2)
        self.assertEqual(sb['schedule'], [{'epochs': 3, 'start': 0}])
        # a longer --epochs on --resume extends a finished run (a warm restart) and says so in the provenance
        self.run_train(a, '--epochs', '4', '--resume', '--no-export', '--feature-cache', cache)
        s4 = torch.load(os.path.join(a, 'last.pt'))
        self.assertEqual(s4['epoch'], 3)
        self.assertEqual(s4['schedule'], [{'epochs': 3, 'start': 0}, {'epochs': 4, 'start': 3}])
        self.assertEqual(s4['provenance']['schedule'], s4['schedule'])
        c = os.path.join(self.tmp.name, 'run-nocache')
        self.run_train(c, '--epochs', '3', '--no-export', '--feature-cache', 'none')
        sc = torch.load(os.path.join(c, 'last.pt'))
        for k, v in sa['state_dict'].items():
            self.assertTrue(torch.equal(v, sc['state_dict'][k]), k)

    def test_narrowband_files_at_each_rate(self):
        """evaluate_narrowband.py gives drsn classify each clip at 16 kHz and
        through sox at each --rate: a fake drsn that answers by the file's
        rate ("yes" at 16 kHz, "no" below) gets each column's accuracy."""
        model = os.path.join(self.tmp.name, 'nb.safetensors')
        fake = os.path.join(self.tmp.name, 'fake-drsn')
        with open(fake, 'w') as f:
            f.write('#!/usr/bin/python3\nimport json, struct, sys\n'
                    'for a in sys.argv[1:]:\n'
                    '    if a.endswith(".wav"):\n'
                    '        with open(a, "rb") as h:\n'
                    '            rate = struct.unpack("<I", h.read(28)[24:])[0]\n'
                    '        print(json.dumps({"file": a, "label": "yes" if rate == 16000 else "no", "rate": rate}))\n')
        os.chmod(fake, 0o755)
        out = os.path.join(self.tmp.name, 'nb')
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(export.main(['--random', '--variant', 'cw', '--arch', 'tiny', '--labels',
                                          '_silence_,_unknown_,yes,no', '-o', model]), 0)
            self.assertEqual(evaluate_narrowband.main(['--data', self.data, '--drsn', fake, '--model', model,
                                                       '--rates', '8000,12000', '--conditions', 'clean,real@0',
                                                       '--out-dir', out]), 0)
        labels = ['_silence_', '_unknown_', 'yes', 'no']
        _, _, _, y = evaluate.test_set(self.data, labels)
        with open(os.path.join(out, 'nb.narrowband.json')) as f:
            r = json.load(f)
        self.assertEqual(r['rates'], [16000, 8000, 12000])
        for cond in ('clean', 'real@0'):
            self.assertAlmostEqual(r['accuracy'][cond]['16000']['accuracy'], float(np.mean(y == 2)))
            for rate in ('8000', '12000'):
                self.assertAlmostEqual(r['accuracy'][cond][rate]['accuracy'], float(np.mean(y == 3)))
                self.assertEqual(r['accuracy'][cond][rate]['by_label']['no'], 1.0)
        self.assertTrue(os.path.exists(os.path.join(out, 'nb.narrowband.md')))
        with self.assertRaises(SystemExit) as cm:
            evaluate_narrowband.main(['--data', self.data, '--drsn', fake, '--model', model, '--rates', '8k'])
        self.assertIn('--rates', str(cm.exception.code))

    def test_per_word_caps_training_clips(self):
        labels = ['_silence_', '_unknown_', 'yes', 'no']
        full = train.load_data(self.data, ['yes', 'no'], labels, 1, 2.0, True)
        cut = train.load_data(self.data, ['yes', 'no'], labels, 1, 2.0, True, per_word=5)
        n_full = torch.bincount(full['training'][1], minlength=4).tolist()
        n_cut = torch.bincount(cut['training'][1], minlength=4).tolist()
        self.assertEqual(n_cut[2:], [min(5, n) for n in n_full[2:]])
        self.assertLessEqual(n_cut[0], 5)
        self.assertLessEqual(n_cut[1], 2 * 5)                  # _unknown_ follows --max-unknown-ratio
        self.assertLess(sum(n_cut), sum(n_full))
        self.assertTrue(torch.equal(full['validation'][0], cut['validation'][0]))   # only training is cut

    def test_fresh_unknown_draws_each_epoch(self):
        fixed, pool = torch.arange(10), torch.arange(10, 40)
        drawn_any = set()
        for epoch in range(4):
            order = train.epoch_order(torch.Generator().manual_seed(epoch), 16, fixed=fixed, unk_pool=pool).tolist()
            self.assertEqual(len(set(order)), 16)                   # no clip twice in one epoch
            self.assertLessEqual(set(range(10)), set(order))        # every other clip, every epoch
            drawn = set(order) - set(range(10))
            self.assertEqual(len(drawn), 6)
            self.assertLessEqual(drawn, set(range(10, 40)))
            drawn_any |= drawn
        self.assertGreater(len(drawn_any), 6)                       # the draw changes from epoch to epoch
        # load_data keeps every training _unknown_ clip for the draw; validation stays capped
        labels = ['_silence_', '_unknown_', 'yes', 'no']
        capped = train.load_data(self.data, ['yes', 'no'], labels, 1, 0.25, True)
        whole = train.load_data(self.data, ['yes', 'no'], labels, 1, 0.25, True, cap_training=False)
        n_unk = {k: {s: int((d[s][1] == 1).sum()) for s in ('training', 'validation')}
                 for k, d in (('capped', capped), ('whole', whole))}
        self.assertGreater(n_unk['whole']['training'], n_unk['capped']['training'])
        self.assertEqual(n_unk['whole']['validation'], n_unk['capped']['validation'])
        out = os.path.join(self.tmp.name, 'run-fresh')
        self.run_train(out, '--epochs', '1', '--no-export', '--fresh-unknown', '--max-unknown-ratio', '0.25')
        self.assertTrue(torch.load(os.path.join(out, 'last.pt'))['provenance']['fresh_unknown'])
        for bad in (['--max-unknown-ratio', '0'], ['--balance-voices', '0.5']):
            with self.assertRaises(SystemExit) as cm:
                train.main(['--data', self.data, '--fresh-unknown', '--out', out] + bad)
            self.assertIn('--fresh-unknown', str(cm.exception.code))

    def test_feature_augmentation(self):
        fe = frontend.FrontEnd(frontend.default_params())
        t = torch.arange(16000) / 16000.0
        tone = 0.1 * torch.sin(2 * math.pi * 440 * t) * ((t - 0.5).abs() < 0.2)
        x = fe(tone[None].to(torch.float32))
        g = torch.Generator().manual_seed(0)
        self.assertTrue(torch.equal(train.band_warp(x, g, 0.0, fe.params), x))
        w = train.band_warp(x, g, 0.1, fe.params)
        self.assertEqual(w.shape, x.shape)
        self.assertFalse(torch.equal(w, x))
        # 440 Hz scaled by at most 1.1 stays within one band of its own
        peak = lambda f: int(f[0].mean(0).argmax())  # noqa: E731
        self.assertLessEqual(abs(peak(w) - peak(x)), 1)
        mn = train.MelNoise(fe, 1, per_kind=20)
        self.assertTrue(torch.equal(mn(x, g, 0.0, (0.0, 0.0)), x))          # p = 0: untouched
        off = fe.params.log_offset
        for snr in (20.0, 0.0, -5.0):
            y = mn(x, g, 1.0, (snr, snr))
            added = ((y.exp() - off) - (x.exp() - off)).sum(2).mean()
            speech = (x.exp() - off).sum(2).topk(int(0.4 * x.shape[1]), dim=1).values.mean()
            self.assertAlmostEqual(float(added / speech), 10 ** (-snr / 10), delta=0.01 * 10 ** (-snr / 10))
        # the mel-domain mix is the waveform mix's: Gaussian noise at 0 dB over the tone's span
        rng = np.random.default_rng(0)
        mixed = noise.mix_at_snr(tone.numpy(), noise.make('gaussian', 16000, rng), 0.0, (4800, 11200))
        xm = fe(torch.from_numpy(mixed.astype(np.float32))[None])
        mn.p = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)   # Gaussian only
        ym = mn(x, g, 1.0, (0.0, 0.0))
        self.assertAlmostEqual(float(ym.mean()), float(xm.mean()), delta=0.1)
        self.assertGreater(float(ym.mean() - x.mean()), 5.0)

    def test_time_stretch(self):
        fe = frontend.FrontEnd(frontend.default_params())
        t = torch.arange(16000) / 16000.0
        burst = 0.1 * torch.sin(2 * math.pi * 440 * t) * ((t - 0.5).abs() < 0.15)   # 0.3 s at the centre
        x = fe(burst[None].to(torch.float32)).repeat(64, 1, 1)
        g = torch.Generator().manual_seed(0)
        self.assertTrue(torch.equal(train.time_stretch(x, g, 0.0), x))
        y = train.time_stretch(x, g, 0.3)
        self.assertEqual(y.shape, x.shape)
        loud = lambda f: (f.max(2).values > f.max() - 3.0).sum(1).float()  # noqa: E731 frames near the peak
        ratio = loud(y) / loud(x)
        self.assertGreater(float(ratio.min()), 0.6)           # 1 - 0.3, less a frame
        self.assertLess(float(ratio.max()), 1.4)              # 1 + 0.3, plus a frame
        self.assertGreater(float(ratio.max() - ratio.min()), 0.3)   # rates do differ between clips
        self.assertGreaterEqual(float(y.min()), float(x.min()) - 1e-5)   # padding is the clip's own floor
        def centre(f):                                         # mean frame index of the loud frames
            m = (f.max(2).values > f.max() - 3.0).float()
            return (m * torch.arange(f.shape[1])).sum(1) / m.sum(1)
        self.assertLess(float((centre(y) - centre(x)).abs().max()), 1.5)     # stretched about the centre
        out = os.path.join(self.tmp.name, 'run-stretch')
        self.run_train(out, '--epochs', '1', '--no-export', '--stretch', '0.2')
        self.assertEqual(torch.load(os.path.join(out, 'last.pt'))['provenance']['stretch'], 0.2)
        with self.assertRaises(SystemExit) as cm:
            train.main(['--data', self.data, '--stretch', '0.5'])
        self.assertIn('--stretch', str(cm.exception.code))

    def test_random_eq_is_a_channel(self):
        x = torch.randn(8, 98, 40)
        g = torch.Generator().manual_seed(0)
        self.assertTrue(torch.equal(train.random_eq(x, g, 0.0), x))
        y = train.random_eq(x, g, 6.0)
        d = (y - x) * (10.0 / math.log(10.0))                     # the added curve in dB
        self.assertTrue(torch.allclose(d, d[:, :1, :].expand_as(d), atol=1e-4))   # the same in every frame
        self.assertLessEqual(float(d.abs().max()), 6.0 + 1e-4)
        self.assertGreater(float(d.abs().amax(dim=(1, 2)).min()), 0.0)
        # smooth: three cosines over 40 bands move little from one band to the next
        self.assertLess(float((d[:, 0, 1:] - d[:, 0, :-1]).abs().max()), 6.0 * math.pi * 3 / 39)

    def test_voice_weights(self):
        labels = ['_silence_', '_unknown_', 'yes', 'no']
        data = train.load_data(self.data, ['yes', 'no'], labels, 1, 2.0, True)
        _, y, paths = data['training']
        rows = layout.clip_rows(self.data)
        grp = [(rows[p].get('voice') or '').split('+')[0] for p in paths]
        w0, groups = train.voice_weights(self.data, paths, y, 0.0)
        self.assertTrue(np.allclose(w0, 1.0))
        self.assertEqual(sum(groups.values()), len(paths))
        w1, _ = train.voice_weights(self.data, paths, y, 1.0)
        for t in range(len(labels)):
            sel = (y == t).numpy()
            self.assertAlmostEqual(float(w1[sel].sum()), float(sel.sum()), places=6)     # labels keep their share
            per = {}
            for i in np.flatnonzero(sel):
                per[grp[i]] = per.get(grp[i], 0.0) + w1[i]
            self.assertTrue(np.allclose(list(per.values()), sel.sum() / len(per)))    # voices equally often
        # a real Speech Commands layout has no clips.csv: the speaker id groups
        with tempfile.TemporaryDirectory() as d:
            ps = ['yes/aa_nohash_0.wav', 'yes/aa_nohash_1.wav', 'yes/aa_nohash_2.wav', 'yes/bb_nohash_0.wav']
            w, g = train.voice_weights(d, ps, torch.zeros(4, dtype=torch.int64), 1.0)
            self.assertEqual(g, {'aa': 3, 'bb': 1})
            self.assertTrue(np.allclose(w, [2 / 3, 2 / 3, 2 / 3, 2.0]))
        out = os.path.join(self.tmp.name, 'run-eq')
        self.run_train(out, '--epochs', '1', '--no-export', '--eq', '6', '--balance-voices', '0.5')
        prov = torch.load(os.path.join(out, 'last.pt'))['provenance']
        self.assertEqual((prov['eq'], prov['balance_voices']), (6.0, 0.5))
        # and what corpus it learnt from (gen_corpus.py's corpus.json)
        self.assertEqual((prov['corpus']['unknown_ratio'], prov['corpus']['cross_language_voices']), (2.0, False))
        for bad in (['--eq', '-1'], ['--balance-voices', '2']):
            with self.assertRaises(SystemExit) as cm:
                train.main(['--data', self.data] + bad)
            self.assertIn(bad[0], str(cm.exception.code))

    def test_distillation(self):
        from drsn import model as M
        torch.manual_seed(0)
        student = M.DRSN(M.make_arch('tiny', 'cw', frames=98, classes=4)).eval()
        x = torch.randn(8, 98, 40)
        y = torch.randint(0, 4, (8,))
        logits = student(x)
        ce = torch.nn.functional.cross_entropy(logits, y)
        # a teacher identical to the student adds nothing: only (1 - w) * CE is left
        self.assertAlmostEqual(float(train.distill_loss(logits, y, [student], x, 0.7, 2.0)), 0.3 * float(ce), places=5)
        # an ensemble's softmaxes are averaged, and the term is T^2 * KL(teacher || student)
        t1, t2 = (M.DRSN(M.make_arch('tiny', v, frames=98, classes=4)).eval() for v in ('cs', 'resnet'))
        with torch.no_grad():
            p = (torch.softmax(t1(x) / 3, 1) + torch.softmax(t2(x) / 3, 1)) / 2
            q = torch.log_softmax(logits / 3, 1)
            kl = float((p * (p.log() - q)).sum(1).mean())
        self.assertGreater(kl, 0.0)
        self.assertAlmostEqual(float(train.distill_loss(logits, y, [t1, t2], x, 1.0, 3.0)), 9 * kl, places=4)
        # end to end: a student distilled from a trained teacher; provenance names the teacher
        teacher = os.path.join(self.tmp.name, 'teacher')
        self.run_train(teacher, '--epochs', '1', '--no-export')
        tpath = os.path.join(teacher, 'best.pt')
        out = os.path.join(self.tmp.name, 'run-kd')
        self.run_train(out, '--epochs', '1', '--no-export', '--teacher', tpath, '--distill', '0.5')
        prov = torch.load(os.path.join(out, 'last.pt'))['provenance']
        self.assertEqual(prov['distill'], {'teachers': [os.path.abspath(tpath)], 'weight': 0.5, 'temperature': 2.0})
        # resuming without the teacher says that the loss changes
        with contextlib.redirect_stderr(io.StringIO()) as err:
            self.run_train(out, '--epochs', '2', '--no-export', '--resume')
        self.assertIn('distilled from 1 teacher(s), these epochs from 0', err.getvalue())
        # a teacher for other labels, a missing file, bad weights: named errors
        other = os.path.join(self.tmp.name, 'other-labels.safetensors')
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(export.main(['--random', '--variant', 'cw', '--arch', 'tiny', '--labels',
                                          '_silence_,_unknown_,yes,maybe', '-o', other]), 0)
        for bad, says in ((['--teacher', other], 'labels differ'), (['--teacher', 'missing.pt'], 'missing.pt'),
                          (['--teacher', tpath, '--distill', '0'], '--distill'),
                          (['--teacher', tpath, '--distill-temp', '-1'], '--distill-temp')):
            with self.assertRaises(SystemExit) as cm:
                train.main(['--data', self.data, '--keywords', 'yes,no', '--arch', 'tiny'] + bad)
            self.assertIn(says, str(cm.exception.code))

    def test_weight_average(self):
        # the arithmetic, on a layer with a BatchNorm: the first step's decay is 1/10 (warm-up), later ones `decay`
        net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
        avg = train.WeightAverage(net, 0.5)
        w0 = {k: v.clone() for k, v in net.state_dict().items()}
        with torch.no_grad():
            net[0].weight.add_(1.0)
        net(torch.randn(4, 3))      # training mode: moves the running statistics, counts a batch
        w1 = {k: v.clone() for k, v in net.state_dict().items()}
        avg.update(net)
        got = avg.model.state_dict()
        for k in w0:
            want = w1[k] if not w0[k].dtype.is_floating_point else 0.1 * w0[k] + 0.9 * w1[k]
            self.assertTrue(torch.allclose(got[k], want), k)
        self.assertEqual(int(got['1.num_batches_tracked']), 1)
        for _ in range(20):
            avg.update(net)
        self.assertEqual(avg.updates, 21)       # so the next decay is min(0.5, 22 / 31) = `decay`
        with torch.no_grad():
            net[0].weight.add_(2.0)
        before = avg.model[0].weight.clone()
        avg.update(net)
        self.assertTrue(torch.allclose(avg.model[0].weight, 0.5 * before + 0.5 * net[0].weight))
        self.assertFalse(any(q.requires_grad for q in avg.model.parameters()))
        # end to end: the average is what is scored, kept and exported; the raw weights go on training;
        # resuming continues both exactly
        a, b = os.path.join(self.tmp.name, 'ema-a'), os.path.join(self.tmp.name, 'ema-b')
        scored, validate = [], train.validate

        def spy(model, *args):
            scored.append({k: v.clone() for k, v in model.state_dict().items()})
            return validate(model, *args)
        train.validate = spy
        try:
            self.run_train(a, '--epochs', '3', '--ema', '0.9')
        finally:
            train.validate = validate
        self.run_train(b, '--epochs', '3', '--ema', '0.9', '--stop-after', '1', '--no-export')
        self.run_train(b, '--epochs', '3', '--ema', '0.9', '--resume', '--no-export')
        sa, sb = (torch.load(os.path.join(d, 'last.pt')) for d in (a, b))
        for key in ('state_dict', 'raw_state_dict'):
            for k, v in sa[key].items():
                self.assertTrue(torch.equal(v, sb[key][k]), (key, k))
        self.assertEqual(sa['provenance']['ema'], 0.9)
        self.assertEqual(sa['ema_updates'], sb['ema_updates'])
        self.assertGreater(sa['ema_updates'], 3)
        self.assertTrue(any(not torch.equal(v, sa['raw_state_dict'][k]) for k, v in sa['state_dict'].items()))
        self.assertEqual(len(scored), 3)   # validation scored the average each epoch
        for k, v in sa['state_dict'].items():
            self.assertTrue(torch.equal(v, scored[-1][k]), k)
        best = torch.load(os.path.join(a, 'best.pt'))
        m, _, _, _, _ = evaluate.load_model(os.path.join(a, 'kws2-drsn-cw.safetensors'))
        for k, v in m.state_dict().items():
            if v.dtype.is_floating_point:   # (the file has no num_batches_tracked)
                self.assertTrue(torch.allclose(v, best['state_dict'][k]), k)
        va = best['history'][-1]['val_acc']
        cached = train.load_data(self.data, ['yes', 'no'], best['labels'], 1, 2.0, True)['validation']
        fe = frontend.FrontEnd(frontend.FrontEndParams.from_dict(best['frontend']))
        self.assertAlmostEqual(train.accuracy(m, train.features(fe, cached[0]), cached[1]), va, places=4)
        # the average does not change the training itself: an averaged run resumed without --ema ends with
        # the weights of a run that never averaged
        c, d = os.path.join(self.tmp.name, 'ema-c'), os.path.join(self.tmp.name, 'ema-d')
        self.run_train(c, '--epochs', '2', '--ema', '0.9', '--stop-after', '1', '--no-export')
        self.run_train(c, '--epochs', '2', '--resume', '--no-export')
        self.run_train(d, '--epochs', '2', '--no-export')
        sc, sd = (torch.load(os.path.join(x, 'last.pt')) for x in (c, d))
        self.assertNotIn('raw_state_dict', sc)
        for k, v in sd['state_dict'].items():
            self.assertTrue(torch.equal(v, sc['state_dict'][k]), k)
        for bad in ('1.0', '0.2', '-1'):
            with self.assertRaises(SystemExit) as cm:
                train.main(['--data', self.data, '--keywords', 'yes,no', '--arch', 'tiny', '--ema', bad])
            self.assertIn('--ema', str(cm.exception.code))

    def check_loss_option(self, tag, option, value, key, bad_args):
        """End to end with `option value`: resuming is exact, the provenance
        records it as `key`, it changes the training, and each of bad_args
        ((argv, what the message names), ...) is refused."""
        a, b, c = (os.path.join(self.tmp.name, f'{tag}-{n}') for n in 'abc')
        self.run_train(a, '--epochs', '2', option, value, '--no-export')
        self.run_train(b, '--epochs', '2', option, value, '--stop-after', '1', '--no-export')
        self.run_train(b, '--epochs', '2', option, value, '--resume', '--no-export')
        self.run_train(c, '--epochs', '2', '--no-export')
        sa, sb, sc = (torch.load(os.path.join(d, 'last.pt')) for d in (a, b, c))
        for k, v in sa['state_dict'].items():
            self.assertTrue(torch.equal(v, sb['state_dict'][k]), k)
        self.assertTrue(any(not torch.equal(v, sc['state_dict'][k]) for k, v in sa['state_dict'].items()))
        self.assertEqual(sa['provenance'][key], float(value))
        self.assertEqual(sc['provenance'][key], 0.0)
        for bad, says in bad_args(a):
            with self.assertRaises(SystemExit) as cm:
                train.main(['--data', self.data, '--keywords', 'yes,no', '--arch', 'tiny'] + bad)
            self.assertIn(says, str(cm.exception.code))

    def test_mixup(self):
        torch.manual_seed(0)
        x, y = torch.randn(16, 98, 40), torch.randint(0, 4, (16,))
        xm, y2, lam = train.mixup(x, y, 1, 2, 3, 0.4)
        # the same (seed, epoch, step) draws the same mix: --resume stays exact; another step draws another
        xm2, _, lam2 = train.mixup(x, y, 1, 2, 3, 0.4)
        self.assertTrue(torch.equal(xm, xm2) and torch.equal(lam, lam2))
        self.assertFalse(torch.equal(train.mixup(x, y, 1, 2, 4, 0.4)[2], lam))
        self.assertTrue(((lam >= 0) & (lam <= 1)).all())
        # each clip is lam * itself + (1 - lam) * its partner, whose label is y2
        partner = [next(j for j in range(16) if torch.allclose(xm[i], lam[i] * x[i] + (1 - lam[i]) * x[j], atol=1e-6))
                   for i in range(16)]
        self.assertEqual(sorted(partner), list(range(16)))     # a permutation of the batch
        self.assertEqual(y2.tolist(), [y[j].item() for j in partner])
        # the loss weighs the two labels by lam; lam = 1 is plain cross entropy
        logits = torch.randn(16, 4)
        ce = torch.nn.functional.cross_entropy
        self.assertAlmostEqual(float(train.mixup_loss(logits, y, y2, torch.ones(16))), float(ce(logits, y)), places=5)
        half = torch.full((16,), 0.5)
        self.assertAlmostEqual(float(train.mixup_loss(logits, y, y2, half)),
                               0.5 * float(ce(logits, y)) + 0.5 * float(ce(logits, y2)), places=5)
        self.check_loss_option('mix', '--mixup', '0.4', 'mixup', lambda a: (
            (['--mixup', '-1'], '--mixup'), (['--mixup', '11'], '--mixup'),
            (['--mixup', '0.4', '--teacher', os.path.join(a, 'best.pt')], '--teacher')))

    def test_consistency(self):
        torch.manual_seed(0)
        y = torch.randint(0, 4, (8,))
        ce = torch.nn.functional.cross_entropy
        # both halves alike: no divergence, the loss is their cross-entropy
        half = torch.randn(8, 4)
        same = torch.cat([half, half])
        self.assertAlmostEqual(float(train.consistency_loss(same, y, 5.0)), float(ce(half, y)), places=5)
        # otherwise W times KL(clean || noisy), and only the noisy half gets the KL's gradient
        logits = torch.randn(16, 4, requires_grad=True)
        p, q = torch.softmax(logits[:8], 1), torch.softmax(logits[8:], 1)
        kl = float((p * (p.log() - q.log())).sum(1).mean())
        ce_both = 0.5 * (float(ce(logits[:8], y)) + float(ce(logits[8:], y)))
        self.assertGreater(kl, 0)
        self.assertAlmostEqual(float(train.consistency_loss(logits, y, 2.0)), ce_both + 2 * kl, places=5)
        (train.consistency_loss(logits, y, 2.0) - train.consistency_loss(logits, y, 0.0)).backward()
        self.assertTrue(torch.all(logits.grad[:8] == 0) and torch.any(logits.grad[8:] != 0))
        # the two views share the masks: a masked cell is masked in both
        g = torch.Generator().manual_seed(3)
        m = train.spec_mask((8, 98, 40), g, (2, 6, 2, 10))
        self.assertTrue(m.any() and not m.all())
        x = torch.randn(8, 98, 40)
        self.assertTrue(torch.equal(train.apply_mask(x, m), train.spec_augment(x, torch.Generator().manual_seed(3),
                                                                               (2, 6, 2, 10))))
        self.check_loss_option('cons', '--consistency', '1', 'consistency', lambda a: (
            (['--consistency', '-1'], '--consistency'), (['--consistency', '101'], '--consistency'),
            (['--consistency', '1', '--mixup', '0.4'], '--mixup'),
            (['--consistency', '1', '--mel-noise', '0'], '--mel-noise')))

    def test_running_speech_as_extra_unknown(self):
        out = os.path.join(self.tmp.name, 'running')
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(gen_running.main(['--out', out, '--clips', '6', '--max-voices', '2', '--seed', '3']), 0)
        with open(os.path.join(out, 'running.csv')) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 6)
        banned = set(words.TARGETS) | gen_running.HOMOPHONES
        for r in rows:
            self.assertTrue(4 <= len(r['phrase'].split()) <= 8, r)
            self.assertFalse(banned & set(r['phrase'].split()), r)
            self.assertIn(r['voice'], voices.voices_by_split()['training'][:2])
            with wave.open(os.path.join(out, r['file'])) as w:
                self.assertEqual((w.getframerate(), w.getnframes()), (16000, 16000))
        with open(os.path.join(out, rows[0]['file']), 'rb') as f:
            first = f.read()
        again = os.path.join(self.tmp.name, 'running-again')
        with contextlib.redirect_stderr(io.StringIO()):
            gen_running.main(['--out', again, '--clips', '1', '--max-voices', '2', '--seed', '3'])
        with open(os.path.join(again, rows[0]['file']), 'rb') as f:
            self.assertEqual(f.read(), first)                   # deterministic from the seed
        # train.py takes them as _unknown_, beyond the cap, and records it
        run = os.path.join(self.tmp.name, 'extra-unknown')
        self.run_train(run, '--epochs', '1', '--extra-unknown', out, '--no-export')
        ck = torch.load(os.path.join(run, 'last.pt'))
        self.assertEqual(ck['provenance']['extra_unknown'], {'dir': os.path.abspath(out), 'clips': 6})
        audio, paths = train.extra_clips(out)
        self.assertEqual((audio.shape, audio.dtype, paths[0]), ((6, 16000), np.int16, rows[0]['file']))
        empty = os.path.join(self.tmp.name, 'no-wavs')
        os.makedirs(empty, exist_ok=True)
        broken = os.path.join(self.tmp.name, 'broken-wavs')
        os.makedirs(broken, exist_ok=True)
        with open(os.path.join(broken, 'x.wav'), 'w') as f:
            f.write('not a wav')
        with self.assertRaisesRegex(OSError, 'x.wav: not a readable WAV'):
            train.extra_clips(broken)
        for bad, says in ((['--extra-unknown', empty], 'no-wavs: no .wav file'),
                          (['--extra-unknown', out, '--fresh-unknown'], '--fresh-unknown')):
            with self.assertRaises(SystemExit) as cm:
                train.main(['--data', self.data, '--keywords', 'yes,no', '--arch', 'tiny', '--quiet',
                            '--threads', '1', '--feature-cache', 'none', '--no-export',
                            '--out', os.path.join(self.tmp.name, 'bad-extra')] + bad)
            self.assertIn(says, str(cm.exception.code))

    def test_keywords_in_running_speech(self):
        # the library's word times: each word of a phrase starts after the one before, the
        # audio equals the command line's, and a second rendering is the same (fresh library)
        v = voices.voices_by_split()['training'][0]
        ws, p = ['press', 'seven', 'please'], {'rate': 90, 'pitch': 10}
        x, sr, spans = espeak_timed.render(v, ws, p)
        self.assertEqual(sr, 22050)
        self.assertTrue(all(s is not None for s in spans), spans)
        self.assertTrue(all(a < b <= c < d for (a, b), (c, d) in zip(spans, spans[1:])), spans)
        self.assertLessEqual(spans[-1][1], x.size)
        cli = subprocess.run(['espeak-ng', '-m', '-v', voices._espeak_cmd(v.split(':', 1)[1]), '--stdout',
                              '<speak><prosody rate="90%" pitch="+10%">press seven please.</prosody></speak>'],
                             capture_output=True, check=True).stdout
        self.assertTrue(np.array_equal(wavio.parse_wav_bytes(cli, 'cli')[0], x))
        x2, _, spans2 = espeak_timed.render(v, ws, p)
        self.assertTrue(np.array_equal(x, x2))
        self.assertEqual(spans, spans2)
        # "seven" inside the phrase is about as long as said alone (its pause cut: the last
        # word's span runs to the clause's end), not the phrase's rest
        xa, _, ((a0, b0),) = espeak_timed.render(v, ['seven'], p)
        alone = gen_incontext.sound_end(xa, a0, b0) - a0
        self.assertLess(abs((spans[1][1] - spans[1][0]) - alone), 0.15 * sr, (spans, alone))
        for bad, says in (((v, ['Seven'], p), 'only lower-case'), (('flite:kal', ws, p), 'only espeak-ng'),
                          (('espeak:xx-nonesuch+default', ws, p), "no voice 'xx-nonesuch'")):
            with self.assertRaisesRegex((ValueError, RuntimeError), says):
                espeak_timed.render(*bad)
        # sound_end: a span running into silence ends where the sound does
        y = np.zeros(16000, np.float32)
        y[1600:4800] = 0.1 * np.sin(np.arange(3200) * 0.2)
        self.assertEqual(gen_incontext.sound_end(y, 1600, 12000), 4800)
        self.assertEqual(gen_incontext.sound_end(y, 1600, 3200), 3200)
        # the generator: labelled folders, the keyword's span inside its 1 s clip, only
        # training espeak-ng voices, no keyword among the neighbours, deterministic
        out = os.path.join(self.tmp.name, 'incontext')
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(gen_incontext.main(['--out', out, '--clips', '6', '--max-voices', '3', '--seed', '3',
                                                 '--keywords', 'yes,no', '--workers', '2']), 0)
        with open(os.path.join(out, 'incontext.csv')) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 6)
        train_espeak = [u for u in voices.voices_by_split()['training'] if u.startswith('espeak:')][:3]
        banned = set(words.TARGETS) | gen_running.HOMOPHONES
        for r in rows:
            ph = r['phrase'].split()
            self.assertEqual(r['file'].split('/')[0], r['keyword'])
            self.assertIn(r['keyword'], ('yes', 'no'))
            self.assertEqual(ph.count(r['keyword']), 1, r)
            self.assertFalse(banned & (set(ph) - {r['keyword']}), r)
            self.assertTrue(2 <= len(ph) <= 7, r)
            self.assertIn(r['voice'], train_espeak)
            s, e = int(r['start']), int(r['end'])
            self.assertTrue(0 <= s < e <= 16000 and e - s >= 160, r)
            a = wavio.read_audio(os.path.join(out, r['file']))
            self.assertEqual(a.size, 16000)
            # the corpus's training recipe: reverb or not, a level, noise or not
            self.assertTrue(-35 <= float(r['level']) <= -15, r)
            self.assertTrue(r['rt60'] == '' or 0.15 <= float(r['rt60']) <= 0.8, r)
            self.assertTrue((r['noise'], r['snr']) == ('', '') or
                            (r['noise'] in recipe.NOISE_P and -5 <= float(r['snr']) <= 30), r)
        self.assertTrue(any(r['noise'] for r in rows), rows)
        with open(os.path.join(out, rows[0]['file']), 'rb') as f:
            first = f.read()
        again = os.path.join(self.tmp.name, 'incontext-again')
        with contextlib.redirect_stderr(io.StringIO()):
            gen_incontext.main(['--out', again, '--clips', '1', '--max-voices', '3', '--seed', '3',
                                '--keywords', 'yes,no', '--workers', '1'])
        with open(os.path.join(again, rows[0]['file']), 'rb') as f:
            self.assertEqual(f.read(), first)
        # --clean: the same phrase and window, the level over the keyword and nothing else
        clean = os.path.join(self.tmp.name, 'incontext-clean')
        with contextlib.redirect_stderr(io.StringIO()):
            gen_incontext.main(['--out', clean, '--clips', '6', '--max-voices', '3', '--seed', '3',
                                '--keywords', 'yes,no', '--clean'])
        with open(os.path.join(clean, 'incontext.csv')) as f:
            crows = list(csv.DictReader(f))
        for r, c in zip(rows, crows):
            self.assertEqual([c[k] for k in ('file', 'phrase', 'start', 'end')],
                             [r[k] for k in ('file', 'phrase', 'start', 'end')])
            self.assertEqual((c['rt60'], c['noise'], c['snr']), ('', '', ''))
            s, e = int(c['start']), int(c['end'])
            db = augment.rms_db(wavio.read_audio(os.path.join(clean, c['file']))[s:e])
            self.assertAlmostEqual(db, float(c['level']), delta=0.1)
        # --near-misses: the same keyword clips, and from each phrase a window with the
        # neighbours on a side that has them and at most a quarter of the keyword, at that
        # edge of the window; clean, that part is the keyword clip's edge, scaled
        near = os.path.join(self.tmp.name, 'incontext-near')
        with contextlib.redirect_stderr(io.StringIO()):
            gen_incontext.main(['--out', near, '--clips', '6', '--max-voices', '3', '--seed', '3',
                                '--keywords', 'yes,no', '--clean', '--near-misses'])
        with open(os.path.join(near, 'incontext.csv')) as f:
            nrows = list(csv.DictReader(f))
        self.assertEqual([r for r in nrows if r['kind'] == 'keyword'], crows)
        misses = [r for r in nrows if r['kind'] == 'near-miss']
        self.assertEqual(len(misses), 6)
        for c, m in zip(crows, misses):
            self.assertEqual(m['file'], f'_unknown_/nearmiss_{c["file"][-9:]}')
            same = ('keyword', 'voice', 'phrase')
            self.assertEqual([m[k] for k in same], [c[k] for k in same])
            s, e, cs, ce = int(m['start']), int(m['end']), int(c['start']), int(c['end'])
            ph = c['phrase'].split()
            before = e == 16000 and s > 0
            self.assertTrue(before or s == 0, m)
            self.assertTrue(ph[0] != c['keyword'] if before else ph[-1] != c['keyword'], m)
            self.assertLessEqual(e - s, 0.25 * (ce - cs) + 1, (m, c))
            x, y = wavio.read_audio(os.path.join(near, m['file'])), wavio.read_audio(os.path.join(near, c['file']))
            part = y[cs:cs + e - s] if before else y[ce - (e - s):ce]
            if e - s >= 160:
                self.assertGreater(float(np.corrcoef(x[s:e], part)[0, 1]), 0.99, (m, c))
            self.assertGreater(augment.rms_db(x[:s] if before else x[e:]), -60, m)   # the neighbours
        audio, tg, paths = train.labelled_extra_clips(near, ['_silence_', '_unknown_', 'yes', 'no'])
        self.assertEqual(collections.Counter(tg.tolist()), collections.Counter(
            {1: 6, 2: sum(c['keyword'] == 'yes' for c in crows), 3: sum(c['keyword'] == 'no' for c in crows)}))
        for bad in (['--keywords', 'yes,cat'], ['--clips', '0']):
            with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(io.StringIO()):
                gen_incontext.main(['--out', again] + bad)
            self.assertIn('gen_incontext', str(cm.exception.code))
        # a synthesizer that fails, in a worker or not: one line that says so, no traceback
        broken = unittest.mock.patch.object(espeak_timed, 'render',
                                            side_effect=RuntimeError('espeak-ng library: no voice x'))
        for workers in ('1', '2'):
            with broken, self.assertRaises(SystemExit) as cm:
                gen_incontext.main(['--out', again, '--clips', '2', '--max-voices', '1', '--workers', workers])
            self.assertEqual(str(cm.exception.code), 'gen_incontext: espeak-ng library: no voice x')
        # train.py takes them with their folder's label, beyond the cap, and records it
        audio, tg, paths = train.labelled_extra_clips(out, ['_silence_', '_unknown_', 'yes', 'no'])
        self.assertEqual(audio.shape, (6, 16000))
        self.assertEqual(paths, sorted(r['file'] for r in rows))
        kw_of = {r['file']: r['keyword'] for r in rows}
        self.assertEqual([['_silence_', '_unknown_', 'yes', 'no'][t] for t in tg], [kw_of[q] for q in paths])
        run = os.path.join(self.tmp.name, 'extra-clips')
        self.run_train(run, '--epochs', '1', '--extra-clips', out, '--no-export')
        ck = torch.load(os.path.join(run, 'last.pt'))
        want = collections.Counter(r['keyword'] for r in rows)
        self.assertEqual(ck['provenance']['extra_clips'],
                         {'dir': os.path.abspath(out), 'clips': 6, 'per_label': dict(want)})
        flat = os.path.join(self.tmp.name, 'flat-extra')
        os.makedirs(flat, exist_ok=True)
        shutil.copy(os.path.join(out, rows[0]['file']), os.path.join(flat, 'a.wav'))
        odd = os.path.join(self.tmp.name, 'odd-extra', 'cat')
        os.makedirs(odd, exist_ok=True)
        shutil.copy(os.path.join(out, rows[0]['file']), os.path.join(odd, 'a.wav'))
        for d, says in ((flat, 'a.wav: not in a label folder'), (os.path.dirname(odd), "'cat' is no label")):
            with self.assertRaisesRegex(OSError, says):
                train.labelled_extra_clips(d, ['_silence_', '_unknown_', 'yes', 'no'])
        with self.assertRaises(SystemExit) as cm:
            train.main(['--data', self.data, '--keywords', 'yes,no', '--arch', 'tiny', '--quiet', '--threads', '1',
                        '--feature-cache', 'none', '--no-export', '--out', os.path.join(self.tmp.name, 'bad-xc'),
                        '--extra-clips', os.path.dirname(odd)])
        self.assertIn("--extra-clips: ", str(cm.exception.code))

    def test_flite_word_times(self):
        # flite's phone end times, grouped by each word's phones said alone: the spans meet
        # end to start, the audio is the corpus's own rendering, "seven" inside the phrase
        # is a little shorter than alone (no final lengthening) and louder than the lead-in,
        # and a phrase whose phones are not its words' gets no spans
        p = {'stretch': 1.1, 'f0': 180}
        x, sr, spans = flite_timed.render('flite:slt', ['the', 'seven', 'doors'], p)
        self.assertEqual(sr, 16000)
        self.assertTrue(np.array_equal(x, voices._flite('slt', 'the seven doors', p)[0]))
        self.assertTrue(0 < spans[0][0] < spans[0][1] == spans[1][0] < spans[1][1] == spans[2][0] < spans[2][1]
                        <= x.size, spans)
        self.assertEqual(flite_timed.word_phones('slt', 'seven'), ('s', 'eh', 'v', 'ax', 'n'))
        alone, _, ((a0, b0),) = flite_timed.render('flite:slt', ['seven'], p)
        self.assertTrue(0.6 * (b0 - a0) < spans[1][1] - spans[1][0] < 1.1 * (b0 - a0), (spans, a0, b0))
        self.assertGreater(augment.rms_db(x[spans[1][0]:spans[1][1]]), augment.rms_db(x[:spans[0][0]]) + 20)
        with unittest.mock.patch.object(flite_timed, 'word_phones', return_value=('s', 'eh')):
            self.assertEqual(flite_timed.render('flite:slt', ['seven'], p)[2], [None])
        for bad, says in ((('flite:slt', ['Seven'], p), 'only lower-case'),
                          (('espeak:en', ['seven'], p), 'only flite'),
                          (('flite:nonesuch', ['seven'], p), "no flite voice 'nonesuch'")):
            with self.assertRaisesRegex(ValueError, says):
                flite_timed.render(*bad)
        fails = RuntimeError('flite:slt "seven": flite exited 1')
        with unittest.mock.patch.object(voices, '_run', side_effect=fails):
            with self.assertRaisesRegex(RuntimeError, 'flite exited 1'):
                flite_timed.render('flite:slt', ['seven'], p)
        # the generator with --engine flite: only the flite training voices
        out = os.path.join(self.tmp.name, 'incontext-flite')
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(gen_incontext.main(['--out', out, '--clips', '8', '--seed', '3', '--engine', 'flite',
                                                 '--keywords', 'seven,no']), 0)
        with open(os.path.join(out, 'incontext.csv')) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 8)
        self.assertEqual({r['voice'] for r in rows}, {'flite:kal', 'flite:kal16', 'flite:awb', 'flite:slt'})
        for r in rows:
            s, e = int(r['start']), int(r['end'])
            self.assertTrue(0 <= s < e <= 16000 and e - s >= 160, r)
            self.assertEqual(r['phrase'].split().count(r['keyword']), 1, r)

    def test_voice_spectra(self):
        prof = voice_spectra.profiles(self.data, 8, 0)
        rows = layout.clip_rows(self.data)
        want = {(r.get('voice') or '').split('+')[0] for r in rows.values()} - {''}
        self.assertEqual(set(prof), want)
        for split, db in prof.values():
            self.assertIn(split, ('training', 'validation', 'testing'))
            self.assertAlmostEqual(float(db.mean()), 0.0, places=4)   # loudness removed
            self.assertGreater(float(np.abs(db).max()), 1.0)           # speech is not flat
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            self.assertEqual(voice_spectra.main(['--data', self.data, '--clips', '8']), 0)
        self.assertEqual(len(buf.getvalue().splitlines()), 1 + len(want))
        dur = voice_spectra.word_durations(self.data)
        self.assertEqual(set(dur), want)
        self.assertTrue(all(0.1 < d < 1.0 for d in dur.values()))
        with tempfile.TemporaryDirectory() as d, contextlib.redirect_stderr(io.StringIO()) as err:
            self.assertEqual(voice_spectra.main(['--data', d]), 2)
        self.assertIn('no clips.csv', err.getvalue())
        # --model: each test voice scored as is, spectrum-aligned, time-compressed (a random tiny model)
        model = os.path.join(self.tmp.name, 'rand.safetensors')
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(export.main(['--random', '--variant', 'cw', '--arch', 'tiny', '--labels',
                                          '_silence_,_unknown_,yes,no', '-o', model]), 0)
        dev = {v: np.zeros_like(db) for v, (_, db) in prof.items()}
        res = voice_spectra.diagnose(self.data, model, dev)
        test_voices = {v for v, (split, _) in prof.items() if split == 'testing'}
        self.assertEqual(set(res), test_voices)
        n_test = sum(1 for r in rows.values() if r['split'] == 'testing' and r.get('voice'))
        self.assertEqual(sum(n for n, _ in res.values()), n_test)
        for n, accs in res.values():
            self.assertEqual(len(accs), 4)
            self.assertEqual(accs[0], accs[1])                   # a zero deviation changes nothing
            self.assertTrue(all(0.0 <= a <= 100.0 for a in accs))
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            self.assertEqual(voice_spectra.main(['--data', self.data, '--clips', '8', '--model', model]), 0)
        self.assertIn('time 0.8', buf.getvalue())
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            self.assertEqual(voice_spectra.main(['--data', self.data, '--clips', '8', '--model', 'missing.pt']), 2)
        self.assertIn('missing.pt', err.getvalue())

    def test_speech_commands_layout(self):
        """A real Speech Commands download's shape: word folders of clips at
        other rates, channel counts and lengths, <speaker>_nohash_<n> names,
        no _silence_ folder but long _background_noise_ recordings, and no
        noise in the clips (--noise-p adds it while training)."""
        root = os.path.join(self.tmp.name, 'sc')
        rng = np.random.default_rng(3)

        def wav(path, rate, channels, seconds):
            n = int(rate * seconds)
            t = np.arange(n) / rate
            x = 0.3 * np.sin(2 * math.pi * float(rng.uniform(200, 900)) * t) * np.hanning(n)
            data = np.repeat(x[:, None], channels, axis=1)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with wave.open(path, 'wb') as w:
                w.setnchannels(channels)
                w.setsampwidth(2)
                w.setframerate(rate)
                w.writeframes((data * 32767).astype('<i2').tobytes())

        lists = {'validation': [], 'testing': []}
        for word in ('yes', 'no', 'bed', 'marvin'):
            for spk in range(6):
                for k in range(2):
                    rel = f'{word}/{spk:08x}_nohash_{k}.wav'
                    wav(os.path.join(root, rel), (16000, 22050, 44100)[spk % 3], 1 + spk % 2,
                        (0.7, 1.0, 1.3)[k + spk % 2])
                    if spk == 4:
                        lists['validation'].append(rel)
                    elif spk == 5:
                        lists['testing'].append(rel)
        noise_dir = os.path.join(root, '_background_noise_')
        os.makedirs(noise_dir)
        with wave.open(os.path.join(noise_dir, 'white_noise.wav'), 'wb') as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes((rng.normal(0, 0.1, 5 * 16000).clip(-1, 1) * 32767).astype('<i2').tobytes())
        for split, rels in lists.items():
            with open(os.path.join(root, f'{split}_list.txt'), 'w') as f:
                f.write('\n'.join(rels) + '\n')

        labels = ['_silence_', '_unknown_', 'yes', 'no']
        data = train.load_data(root, ['yes', 'no'], labels, 1, 2.0, True)
        audio, y, paths = data['training']
        self.assertEqual(tuple(audio.shape[1:]), (16000,))
        counts = torch.bincount(y, minlength=4).tolist()
        self.assertEqual(counts, [8, 16, 8, 8])      # silence cut from the background file, one per keyword clip
        self.assertTrue(all(p.startswith('_background_noise_/') for p, t in zip(paths, y.tolist()) if t == 0))
        self.assertEqual(data['validation'][0].shape[0], 8 + 2)   # 8 clips + 2 silence cuts
        out = os.path.join(self.tmp.name, 'run-sc')
        self.assertEqual(train.main(['--data', root, '--keywords', 'yes,no', '--arch', 'tiny', '--batch', '8',
                                     '--epochs', '1', '--noise-p', '0.8', '--threads', '1', '--quiet',
                                     '--out', out, '--feature-cache', 'none']), 0)
        self.assertTrue(os.path.exists(os.path.join(out, 'kws2-drsn-cw.safetensors')))

    def test_concurrent_saves_of_one_file(self):
        # two runs started together on a fresh feature cache write the same
        # file: both finish writing before either renames (a barrier in
        # torch.save), and both must succeed (a fixed temporary name failed)
        import threading
        path = os.path.join(self.tmp.name, 'shared-cache', 'features-x.pt')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        barrier, real_save, errors = threading.Barrier(2, timeout=30), torch.save, []

        def slow_save(obj, f):
            real_save(obj, f)
            barrier.wait()

        def one(v):
            try:
                train.save(path, torch.full((3,), float(v)))
            except Exception as e:  # noqa: BLE001 (recorded, asserted below)
                errors.append(e)
        train.torch.save = slow_save
        try:
            ts = [threading.Thread(target=one, args=(v,)) for v in (1, 2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        finally:
            train.torch.save = real_save
        self.assertEqual(errors, [])
        self.assertIn(float(torch.load(path)[0]), (1.0, 2.0))
        self.assertEqual(os.listdir(os.path.dirname(path)), ['features-x.pt'])   # no temporary left

    def test_keywords_must_be_distinct(self):
        # drsn refuses a model whose labels repeat: the trainer says so first
        for kw, named in (('yes,yes', "'yes'"), ('yes,,no', "''"), ('go,_silence_', "'_silence_'"),
                          ('yes, yes', "'yes'")):
            with self.assertRaisesRegex(SystemExit, f"--keywords '{kw}': empty, repeated or reserved \\({named}\\)"):
                train.main(['--data', self.data, '--keywords', kw, '--out', os.path.join(self.tmp.name, 'k')])

    def user_corpus(self, name, words_=('yes', 'no', 'bed'), speakers=4):
        """A small corpus of one's own recordings in the Speech Commands
        layout (tones for words, 8/44.1 kHz, stereo): speaker 2 validates,
        speaker 3 tests. Returns (root, validation relpaths, test relpaths)."""
        root = os.path.join(self.tmp.name, name)
        rng = np.random.default_rng(7)
        lists = {'validation': [], 'testing': []}
        for word in words_:
            os.makedirs(os.path.join(root, word))
            for spk in range(speakers):
                rel = f'{word}/spk{spk}_nohash_0.wav'
                rate, ch = (8000, 44100)[spk % 2], 1 + spk % 2
                t = np.arange(int(0.8 * rate)) / rate
                x = 0.3 * np.sin(2 * math.pi * float(rng.uniform(200, 900)) * t) * np.hanning(t.size)
                with wave.open(os.path.join(root, rel), 'wb') as w:
                    w.setnchannels(ch)
                    w.setsampwidth(2)
                    w.setframerate(rate)
                    w.writeframes((np.repeat(x[:, None], ch, 1) * 32767).astype('<i2').tobytes())
                if spk in (2, 3):
                    lists[('validation', 'testing')[spk - 2]].append(rel)
        return root, lists['validation'], lists['testing']

    def test_list_entries_written_on_windows_or_by_find(self):
        # validation_list.txt with CRLF line ends, './' prefixes (`find .`) or
        # backslashes names the same clips; before, such entries matched
        # nothing and the held-out clips trained silently
        root, va, te = self.user_corpus('lists')
        with open(os.path.join(root, 'validation_list.txt'), 'w', newline='') as f:
            f.write(''.join(f'./{rel}\r\n' for rel in va[:2]) + '.\\' + va[2].replace('/', '\\') + '\r\n')
        with open(os.path.join(root, 'testing_list.txt'), 'w') as f:
            f.write('\n'.join(te + ['bed/nobody_nohash_9.wav']) + '\n')
        unmatched = {}
        split = layout.scan(root, ['yes', 'no'], unmatched)
        self.assertEqual([rel for rel, _ in split['validation']], sorted(va))
        self.assertEqual([rel for rel, _ in split['testing']], sorted(te))
        self.assertEqual(len(split['training']), 6)
        self.assertEqual(unmatched, {'validation': [], 'testing': ['bed/nobody_nohash_9.wav']})
        labels = ['_silence_', '_unknown_', 'yes', 'no']
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            data = train.load_data(root, ['yes', 'no'], labels, 1, 2.0, True)
        self.assertEqual([p for p in data['validation'][2] if not p.startswith('_silence_/synthetic_')], sorted(va))
        self.assertIn("testing_list.txt: 1 entries name no clip of the corpus (first: 'bed/nobody_nohash_9.wav')",
                      err.getvalue())
        self.assertIn('no _silence_/ clips and no _background_noise_/', err.getvalue())
        self.assertNotIn('also speak training clips', err.getvalue())
        # a speaker of the validation list who also speaks training clips: said, since that
        # makes the validation accuracy overstate what new speakers get
        shutil.copy(os.path.join(root, va[0]), os.path.join(root, 'bed', 'spk2_nohash_1.wav'))
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            train.load_data(root, ['yes', 'no'], labels, 1, 2.0, True)
        self.assertIn("validation_list.txt: 1 of its speakers also speak training clips (first: 'spk2')",
                      err.getvalue())

    def test_user_corpus_mistakes_are_named(self):
        # a mistake in one's own corpus ends with a message that names it, not a traceback
        root, va, te = self.user_corpus('mistakes')
        args = ['--data', root, '--keywords', 'yes,no', '--arch', 'tiny', '--epochs', '1', '--threads', '1',
                '--quiet', '--out', os.path.join(self.tmp.name, 'run-mistakes'), '--feature-cache', 'none']
        with self.assertRaisesRegex(SystemExit, r'--data: .*mistakes/validation_list.txt: missing'):
            train.main(args)
        # the run folder made for it goes again: a mistyped --data leaves no empty run behind
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, 'run-mistakes')))
        with self.assertRaisesRegex(SystemExit, r'--data: .*mistakes/validation_list.txt: missing'):
            train.main(args[:-3] + [os.path.join(self.tmp.name, 'new', 'runs', 'x')] + args[-2:])
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, 'new')))    # nor its parents
        for name, rels in (('validation_list.txt', va), ('testing_list.txt', te)):
            with open(os.path.join(root, name), 'w') as f:
                f.write('\n'.join(rels) + '\n')
        with self.assertRaisesRegex(SystemExit, r"mistakes/lights: keyword 'lights' has no training clips"):
            train.main(args[:3] + ['yes,no,lights'] + args[4:])
        os.rename(os.path.join(root, 'yes'), os.path.join(root, 'Yes'))
        with self.assertRaisesRegex(SystemExit, r"keyword 'yes' has no training clips \(there is a folder 'Yes'"):
            train.main(args)
        os.rename(os.path.join(root, 'Yes'), os.path.join(root, 'yes'))
        bad = os.path.join(root, 'bed', 'spk0_nohash_1.wav')
        with open(bad, 'wb') as f:
            f.write(b'RIFF\x00\x00')
        with self.assertRaisesRegex(SystemExit, re.escape(bad) + ': not a readable audio clip'):
            train.main(args)
        os.unlink(bad)
        with open(os.path.join(root, 'validation_list.txt'), 'w') as f:
            f.write('yes/typo.wav\n')
        with self.assertRaisesRegex(SystemExit, 'validation_list.txt: names none of the clips'):
            train.main(args)

    def test_bad_flag_values_are_named(self):
        # checked before any data is read (the --data here does not exist): before,
        # some of these ran a whole training, others ended in a traceback
        base = ['--data', os.path.join(self.tmp.name, 'no-such-corpus'), '--out', os.path.join(self.tmp.name, 'f')]
        for flag, val, msg in (('--epochs', '0', 'at least 1'), ('--batch', '0', 'at least 1'),
                               ('--threads', '0', 'at least 1'), ('--lr', '-1', 'a learning rate >= 0'),
                               ('--noise-p', '2', r'a probability in \[0, 1\]'), ('--per-word', '-3', '>= 0'),
                               ('--max-unknown-ratio', '-1', '>= 0'), ('--warmup-epochs', '-1', '>= 0'),
                               ('--stop-after', '-1', '>= 0'), ('--weight-decay', '-1', '>= 0'),
                               ('--specaug', 'a,b,c,d', 'want .n_freq,max_width,n_time,max_frames. or .none.')):
            with self.subTest(flag=flag):
                with self.assertRaisesRegex(SystemExit, f'train: {flag} .*{msg}'):
                    train.main(base + [flag, val])
        with open(os.path.join(self.tmp.name, 'a-file'), 'w'):
            pass
        with self.assertRaisesRegex(SystemExit, '--out .*a-file/run: cannot write there'):
            train.main(['--data', self.data, '--out', os.path.join(self.tmp.name, 'a-file', 'run')])

    def test_log_follows_the_checkpoint(self):
        # log.jsonl is the checkpoint's history: a new run in an old folder
        # starts a new log (it was appended to), a --resume continues it
        out = os.path.join(self.tmp.name, 'run-log')
        self.run_train(out, '--epochs', '1', '--no-export')
        # a second run there would replace the first one's checkpoints: only with --overwrite
        with self.assertRaisesRegex(SystemExit, 'already holds a run .*--resume continues it, --overwrite'):
            self.run_train(out, '--epochs', '1', '--no-export')
        os.unlink(os.path.join(out, 'last.pt'))     # best.pt and the log are a run too
        with self.assertRaisesRegex(SystemExit, r'already holds a run \(best.pt, log.jsonl\)'):
            self.run_train(out, '--epochs', '1', '--no-export')
        self.run_train(out, '--epochs', '1', '--no-export', '--overwrite')
        with open(os.path.join(out, 'log.jsonl')) as f:
            self.assertEqual([json.loads(ln)['epoch'] for ln in f], [1])
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.run_train(out, '--epochs', '2', '--no-export', '--resume', '--warp', '0.2', '--noise-p', '0.5')
        with open(os.path.join(out, 'log.jsonl')) as f:
            self.assertEqual([json.loads(ln)['epoch'] for ln in f], [1, 2])
        # --resume with other training flags says which, since the result is then no uninterrupted run's
        self.assertIn('train: --resume: --noise-p 0.0 -> 0.5; --warp 0.1 -> 0.2: these epochs differ',
                      err.getvalue())
        # a --stop-after the run has passed would stop after every epoch
        with self.assertRaisesRegex(SystemExit, '--stop-after 1: the run is already past epoch 1'):
            self.run_train(out, '--epochs', '3', '--no-export', '--resume', '--stop-after', '1')

    def test_missing_recorded_noise_is_named(self):
        # --mel-noise (on by default) and --noise-p mix in lincity-ng-data's recordings:
        # without the package the run stops before reading the data, saying what to install
        def missing(*_):
            raise FileNotFoundError('no background recordings in /nowhere (apt-get install lincity-ng-data)')
        with unittest.mock.patch.object(noise, 'real_bank', missing):
            for extra in ([], ['--mel-noise', '0', '--noise-p', '0.8']):
                with self.assertRaisesRegex(SystemExit, '--mel-noise / --noise-p: .*apt-get install lincity-ng-data'):
                    train.main(['--data', os.path.join(self.tmp.name, 'no-such-corpus'),
                                '--out', os.path.join(self.tmp.name, 'f')] + extra)

    def test_evaluate_names_a_bad_model_or_corpus(self):
        # a model file that is missing or no model, and a corpus folder that is
        # missing, end with a message naming it (they were tracebacks)
        junk = os.path.join(self.tmp.name, 'junk.pt')
        with open(junk, 'w') as f:
            f.write('not a checkpoint\n')
        model = os.path.join(self.tmp.name, 'random.safetensors')
        labels = ['_silence_', '_unknown_', 'yes', 'no']
        export.export(M.DRSN(M.make_arch('tiny', 'cw', classes=4)).eval(), model,
                      frontend.default_params().to_dict(), labels, {})
        out = os.path.join(self.tmp.name, 'eval-bad')
        for args, msg in (([junk], 'junk.pt: cannot load the model'),
                          ([os.path.join(self.tmp.name, 'missing.pt')], 'missing.pt: cannot load the model'),
                          (['--data', os.path.join(self.tmp.name, 'no-corpus'), model],
                           'no-corpus: no such corpus')):
            with self.subTest(msg=msg):
                with self.assertRaisesRegex(SystemExit, 'evaluate: .*' + msg):
                    evaluate.main(['--data', self.data, '--out-dir', out, '--threads', '1'] + args)

    def test_sigterm_while_saving_leaves_no_temporary_file(self):
        # kill (SIGTERM) while a checkpoint or feature cache is written: train.py
        # unwinds as for Ctrl-C, so save() removes its temporary file
        d = os.path.join(self.tmp.name, 'sigterm')
        os.makedirs(d)
        code = (f'import os, signal, sys, time; sys.path.insert(0, {os.path.join(ROOT, "train")!r}); import train\n'
                'train.exit_on_sigterm()\n'
                'def slow(obj, f):\n'
                '    f.write(b"partial"); f.flush(); os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)\n'
                'train.torch.save = slow\n'
                f'train.save({os.path.join(d, "last.pt")!r}, {{}})\n')
        r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 128 + 15, r.stderr)
        self.assertEqual(os.listdir(d), [])

    def test_unwritable_feature_cache_only_costs_time(self):
        fe = frontend.FrontEnd(frontend.default_params())
        audio = torch.zeros(2, 16000, dtype=torch.int16)
        with open(os.path.join(self.tmp.name, 'cache-file'), 'w'):
            pass
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            f = train.cached_features(fe, audio, os.path.join(self.tmp.name, 'cache-file', 'sub'))
        self.assertTrue(torch.equal(f, train.features(fe, audio)))
        self.assertIn('cache-file/sub: not kept', err.getvalue())

    def test_arch_file(self):
        # --arch FILE: a layer plan of one's own trains, exports and keeps its layers
        plan = {'stem': {'channels': 4, 'kernel': 5, 'stride': 1},
                'units': [{'channels': 4, 'kernel': 3, 'stride': 2}, {'channels': 6, 'kernel': 1, 'stride': 1}]}
        path = os.path.join(self.tmp.name, 'plan.json')
        with open(path, 'w') as f:
            json.dump(plan, f)
        out = os.path.join(self.tmp.name, 'run-plan')
        self.run_train(out, '--arch', path, '--epochs', '1')
        ck = torch.load(os.path.join(out, 'last.pt'))
        self.assertEqual(ck['arch']['stem'], plan['stem'])
        self.assertEqual(ck['arch']['units'], plan['units'])
        _, meta = st_load(os.path.join(out, 'kws2-drsn-cw.safetensors'))
        self.assertEqual(json.loads(meta['architecture'])['units'], plan['units'])
        # export.py --random takes the same plan file (and still a whole architecture dict)
        rnd = os.path.join(self.tmp.name, 'plan-random.safetensors')
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(export.main(['--random', '--variant', 'cs', '--arch', path, '--labels', 'a,b', '-o', rnd]), 0)
        arch = json.loads(st_load(rnd)[1]['architecture'])
        self.assertEqual((arch['variant'], arch['stem'], arch['units']), ('cs', plan['stem'], plan['units']))
        # what the C engine would refuse is refused before training, and named
        bad = [({'stem': {'channels': 4, 'kernel': 4, 'stride': 1}, 'units': plan['units']}, r'stem\.kernel must be odd'),
               ({'stem': plan['stem'], 'units': [{'channels': 2, 'kernel': 3, 'stride': 1}]},
                r'units\[0\]\.channels = 2 is fewer than its input\'s 4'),
               ({'stem': plan['stem'], 'units': [{'channels': 8, 'kernel': 3, 'stride': 9}]},
                r'units\[0\]\.stride must be an integer from 1 to 8 \(got 9\)'),
               ({'stem': plan['stem'], 'units': [{'channels': 8, 'kernel': 3}]}, r'units\[0\] must be an object'),
               ({'stem': plan['stem'], 'units': []}, 'units must be a list of 1 to 64'),
               ({'stem': plan['stem']}, 'exactly the keys stem and units')]
        for o, msg in bad:
            with open(path, 'w') as f:
                json.dump(o, f)
            with self.assertRaisesRegex(ValueError, msg):
                M.make_arch(path, 'cw')
        with self.assertRaisesRegex(SystemExit, r'--arch: .*stem and units'):
            train.main(['--data', self.data, '--arch', path])
        with self.assertRaisesRegex(ValueError, r"'nope' is not one of default\|small\|tiny"):
            M.layers('nope')
        self.assertEqual(M.layers('default'), M.ARCHS['default'])
        # the limits are the C engine's (src/engine/arch.h), not a copy that drifts
        with open(os.path.join(ROOT, 'src', 'engine', 'arch.h')) as f:
            c = dict(re.findall(r'#define DRSN__MAX_(\w+) (\d+)', f.read()))
        self.assertEqual((M.MAX_UNITS, M.MAX_CHANNELS, M.MAX_KERNEL, M.MAX_STRIDE),
                         tuple(int(c[k]) for k in ('UNITS', 'CHANNELS', 'KERNEL', 'STRIDE')))

    def test_frontend_file(self):
        # --frontend FILE: other front-end parameters train, and the model file carries them
        path = os.path.join(self.tmp.name, 'fe.json')
        self._write(path, {'n_mels': 24, 'f_max': 7000})
        out = os.path.join(self.tmp.name, 'run-fe')
        cache = os.path.join(self.tmp.name, 'cache-fe')   # not the shared cache, whose files other tests count
        self.run_train(out, '--frontend', path, '--epochs', '1', '--feature-cache', cache)
        ck = torch.load(os.path.join(out, 'last.pt'))
        self.assertEqual(ck['arch']['bands'], 24)
        self.assertEqual((ck['frontend']['n_mels'], ck['frontend']['f_max']), (24, 7000.0))
        self.assertEqual(ck['frontend']['hop_length'], frontend.default_params().hop_length)
        tensors, meta = st_load(os.path.join(out, 'kws2-drsn-cw.safetensors'))
        self.assertEqual(json.loads(meta['frontend']), ck['frontend'])
        self.assertEqual(json.loads(meta['architecture'])['bands'], 24)
        m, _, fe, _, _ = evaluate.load_model(os.path.join(out, 'kws2-drsn-cw.safetensors'))
        with torch.no_grad():
            self.assertEqual(tuple(m(frontend.FrontEnd(fe)(torch.zeros(2, 16000))).shape), (2, 4))
        # resuming under other front-end parameters would train on other features: refused
        other = os.path.join(self.tmp.name, 'fe-other.json')
        self._write(other, {'n_mels': 24, 'f_max': 6000})
        with self.assertRaisesRegex(SystemExit, 'other front-end parameters'):
            self.run_train(out, '--frontend', other, '--epochs', '2', '--resume', '--feature-cache', cache)
        # bad files are named before the data loads
        for o, msg in (({'n_mel': 24}, 'unknown key "n_mel"'), ({'n_mels': 900}, r'n_mels: 900 is outside'),
                       ({'sample_rate': 8000, 'f_max': 4000}, 'the training clips are 16000 Hz')):
            self._write(path, o)
            with self.assertRaisesRegex(SystemExit, r'--frontend: .*' + msg):
                train.main(['--data', '/nonexistent', '--frontend', path, '--out', os.path.join(self.tmp.name, 'x')])

    @staticmethod
    def _write(path, o):
        with open(path, 'w') as f:
            json.dump(o, f)

    def test_pcen_input(self):
        # the layer: the one-einsum smoother equals the recursion, per band
        g = torch.Generator().manual_seed(3)
        p = M.PCEN(40)
        M.randomize_pcen(type('m', (), {'pcen': p})(), g)
        x = torch.randn(3, 98, 40, generator=g) * 2 - 3
        e, s = x.exp(), p.log_s.exp()
        a, d, r = p.log_alpha.exp(), p.log_delta.exp(), p.log_r.exp()
        m, want = e[:, 0], []
        for t in range(98):
            m = m if t == 0 else (1 - s) * m + s * e[:, t]
            want.append((e[:, t] / (1e-6 + m) ** a + d) ** r - d ** r)
        with torch.no_grad():
            self.assertTrue(torch.allclose(p(x), torch.stack(want, 1), rtol=1e-5, atol=1e-6))
        p(x).sum().backward()
        for q in (p.log_s, p.log_alpha, p.log_delta, p.log_r):
            self.assertTrue(bool((q.grad != 0).any()))
        # train.py --input pcen: the arch says so, PCEN's parameters are
        # trained without weight decay, the export carries them
        out = os.path.join(self.tmp.name, 'run-pcen')
        self.run_train(out, '--input', 'pcen', '--epochs', '1', '--weight-decay', '0.5')
        ck = torch.load(os.path.join(out, 'last.pt'))
        self.assertEqual(ck['arch']['input'], 'pcen')
        groups = ck['optimizer']['param_groups']
        self.assertEqual([grp['weight_decay'] for grp in groups], [0.5, 0.0])
        self.assertEqual(len(groups[1]['params']), 4)
        self.assertNotEqual(float(ck['state_dict']['pcen.log_r'][0]), math.log(0.5))   # it learnt
        tensors, meta = st_load(os.path.join(out, 'kws2-drsn-cw.safetensors'))
        self.assertEqual(json.loads(meta['architecture'])['input'], 'pcen')
        self.assertEqual(tensors['pcen.log_delta'].shape, (40,))
        a_pt, a_st = (evaluate.load_model(q)[0] for q in (os.path.join(out, 'last.pt'),
                                                          os.path.join(out, 'kws2-drsn-cw.safetensors')))
        with torch.no_grad():
            self.assertTrue(torch.allclose(a_pt(x), a_st(x), atol=1e-6))
        # a log-input run's arch has no "input" key: older files and runs stay valid
        self.assertNotIn('input', M.make_arch('tiny', 'cw'))
        with self.assertRaises(ValueError):
            M.make_arch('tiny', 'cw', input='mfcc')

    def test_attention_pool(self):
        # the head: softmax-weighted frames, by hand; the scores learn
        g = torch.Generator().manual_seed(5)
        m = M.build_random(M.make_arch('tiny', 'cw', classes=3, pool='attention'), 5)
        x = torch.randn(4, 98, 40, generator=g) * 2 - 3
        with torch.no_grad():
            h = m.stem(x.transpose(1, 2))
            for u in m.units:
                h = u(h)
            h = torch.relu(m.bn(h))                                    # [B, C, T]
            s = torch.einsum('bct,c->bt', h, m.att.weight[0, :, 0]) + m.att.bias[0]
            w = torch.exp(s) / torch.exp(s).sum(dim=1, keepdim=True)
            want = m.fc(torch.einsum('bct,bt->bc', h, w))
            self.assertTrue(torch.allclose(m(x), want, rtol=1e-5, atol=1e-6))
            self.assertGreater(float((w.max(dim=1).values * h.shape[2]).min()), 1.5)   # far from the mean
        m(x)[:, 0].sum().backward()
        self.assertTrue(bool((m.att.weight.grad != 0).any()))                          # the scores learn
        self.assertEqual(m.n_params(), M.DRSN(M.make_arch('tiny', 'cw', classes=3)).n_params() + 7 + 1)
        # train.py --pool attention: the arch says so, the export carries the
        # scores, and the .pt and .safetensors give the same logits
        out = os.path.join(self.tmp.name, 'run-att')
        self.run_train(out, '--pool', 'attention', '--epochs', '1')
        ck = torch.load(os.path.join(out, 'last.pt'))
        self.assertEqual(ck['arch']['pool'], 'attention')
        tensors, meta = st_load(os.path.join(out, 'kws2-drsn-cw.safetensors'))
        self.assertEqual(json.loads(meta['architecture'])['pool'], 'attention')
        self.assertEqual(tensors['att.weight'].shape, (1, 7, 1))
        a_pt, a_st = (evaluate.load_model(q)[0] for q in (os.path.join(out, 'last.pt'),
                                                          os.path.join(out, 'kws2-drsn-cw.safetensors')))
        with torch.no_grad():
            self.assertTrue(torch.allclose(a_pt(x), a_st(x), atol=1e-6))
        # a mean-pooled arch has no "pool" key: older files and runs stay valid
        self.assertNotIn('pool', M.make_arch('tiny', 'cw'))
        with self.assertRaisesRegex(ValueError, "pool must be one of"):
            M.make_arch('tiny', 'cw', pool='max')
        for key in ('pool', 'input'):   # a whole architecture dict with a typo (export.py --arch FILE)
            with self.assertRaisesRegex(ValueError, "architecture: %s must be one of" % key):
                M.DRSN({**M.make_arch('tiny', 'cw'), key: 'attn'})

    def test_sound_events(self):
        # MelEvents: a lone event on _silence_ clips, 0-40 dB over the
        # background at its loudest frame; under the word on the others
        fe = frontend.FrontEnd(frontend.default_params())
        t = torch.arange(16000) / 16000.0
        rng = np.random.default_rng(2)
        bg = torch.from_numpy(0.003 * rng.standard_normal(16000).astype(np.float32))
        word = bg + 0.1 * torch.sin(2 * math.pi * 440 * t) * ((t - 0.5).abs() < 0.2)
        x = fe(torch.stack([bg, word]).to(torch.float32))
        y = torch.tensor([0, 2])
        me = train.MelEvents(fe, 1, size=50)
        g = torch.Generator().manual_seed(0)
        self.assertTrue(torch.equal(me(x, y, g, 0.0, 0.0, 0), x))                  # p = 0: untouched
        off = fe.params.log_offset
        power = lambda v: (v.exp() - off).sum(2)                                   # noqa: E731 [B, frames]
        loud = lambda v: power(v).topk(int(0.4 * v.shape[1]), dim=1).values.mean(1)   # noqa: E731
        ratios = []
        for _ in range(40):
            z = me(x, y, g, 1.0, 0.0, 0)
            self.assertTrue(torch.equal(z[1], x[1]))                               # the word's clip: p_word 0
            ratios.append(float(10 * torch.log10((power(z[:1]) - power(x[:1])).amax() / loud(x[:1])[0])))
        self.assertGreaterEqual(min(ratios), -0.1)
        self.assertLessEqual(max(ratios), 40.1)
        self.assertGreater(max(ratios) - min(ratios), 15)                          # drawn, not fixed
        z = me(x, y, g, 0.0, 1.0, 0)
        self.assertTrue(torch.equal(z[0], x[0]))
        added = float(10 * torch.log10((power(z[1:]) - power(x[1:])).amax() / loud(x[1:])[0]))
        self.assertTrue(-10.1 <= added <= 6.1, added)
        # train.py --events: recorded in the provenance; --event-words
        # defaults to a quarter; --init starts from a model's weights (with
        # lr 0 they stay; BN statistics still follow the data)
        src = os.path.join(self.tmp.name, 'run-src')
        self.run_train(src, '--epochs', '1')
        out = os.path.join(self.tmp.name, 'run-events')
        self.run_train(out, '--epochs', '1', '--events', '0.5', '--lr', '0', '--init',
                       os.path.join(src, 'kws2-drsn-cw.safetensors'))
        ck = torch.load(os.path.join(out, 'last.pt'))
        self.assertEqual((ck['provenance']['events'], ck['provenance']['event_words']), (0.5, 0.125))
        self.assertTrue(ck['provenance']['init']['model'].endswith('kws2-drsn-cw.safetensors'))
        self.assertNotIn('event_families', ck['provenance'])      # the default six
        mm = train.MelEvents(fe, 1, size=4, families=('music',))
        self.assertTrue(bool((mm.bank.sum(2) > 0).all()))           # music fills every frame
        # --event-music: recorded tracks join the families, and the
        # provenance names the files
        mdir = os.path.join(self.tmp.name, 'music')
        os.makedirs(mdir, exist_ok=True)
        t = np.arange(40000) / 16000
        wavio.write_wav16(os.path.join(mdir, 'tune.wav'), 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(t * 9)))
        mr = train.MelEvents(fe, 1, size=4, families=(events.RECORDED_MUSIC,),
                             tracks=[x for _, x in events.load_tracks(mdir)])
        self.assertTrue(bool((mr.bank.sum(2) > 0).all()))           # 1 s excerpts fill every frame
        out = os.path.join(self.tmp.name, 'run-music')
        self.run_train(out, '--epochs', '1', '--events', '0.5', '--no-export', '--event-music', mdir,
                       '--event-bank', '8')
        prov = torch.load(os.path.join(out, 'last.pt'))['provenance']
        self.assertEqual(prov['event_bank'], 8)
        self.assertEqual(prov['event_families'], list(events.FAMILIES) + [events.RECORDED_MUSIC])
        self.assertEqual((prov['event_music']['files'], prov['event_music']['seconds']), (['tune.wav'], 2.5))
        was = torch.load(os.path.join(src, 'last.pt'))['state_dict']
        fresh = M.DRSN(ck['arch']).state_dict()
        for k, v in ck['state_dict'].items():
            if 'running' not in k and 'num_batches' not in k and v.is_floating_point():
                self.assertTrue(torch.equal(v, was[k]), k)
        self.assertFalse(all(torch.equal(v, fresh[k]) for k, v in ck['state_dict'].items()))
        for bad, msg in ((['--variant', 'cs'], 'its architecture (--variant, --arch, --input, --pool) differ'),
                         (['--keywords', 'no,yes'], "its labels (_silence_,_unknown_,yes,no) differ from this "
                                                    "run's (_silence_,_unknown_,no,yes)"),
                         (['--init', os.path.join(self.tmp.name, 'none.safetensors')], 'none.safetensors'),
                         (['--events', '2'], '--events 2'), (['--resume'], 'use one of them'),
                         (['--event-families', 'click,cough'], '--event-families: cough'),
                         (['--event-families', 'click,recorded-music'], 'recorded-music needs --event-music'),
                         (['--event-music', os.path.join(self.tmp.name, 'cache')], '--event-music: '),
                         (['--event-bank', '0'], '--event-bank 0')):
            args = ['--epochs', '1', '--init', os.path.join(src, 'kws2-drsn-cw.safetensors')] + bad
            with self.assertRaises(SystemExit) as cm:
                self.run_train(os.path.join(self.tmp.name, 'run-bad'), *args)
            self.assertIn(msg, str(cm.exception.code))

    def test_variants_and_evaluation(self):
        runs = {}
        for v in ('cw', 'cs', 'resnet'):
            runs[v] = os.path.join(self.tmp.name, 'run-' + v)
            self.run_train(runs[v], '--variant', v, '--epochs', '2')
            ck = torch.load(os.path.join(runs[v], 'best.pt'))
            self.assertEqual(ck['arch']['variant'], v)
            self.assertEqual(ck['labels'], ['_silence_', '_unknown_', 'yes', 'no'])
            has_shrink = any('.shrink.' in k for k in ck['state_dict'])
            self.assertEqual(has_shrink, v != 'resnet')
        st = os.path.join(runs['cw'], 'kws2-drsn-cw.safetensors')
        self.assertTrue(os.path.exists(st))
        out = os.path.join(self.tmp.name, 'eval')
        self.assertEqual(evaluate.main(['--data', self.data, '--out-dir', out, '--threads', '1',
                                        os.path.join(runs['cw'], 'best.pt'), st,
                                        os.path.join(runs['resnet'], 'best.pt')]), 0)
        with open(os.path.join(out, 'run-cw.eval.json')) as f:
            pt = json.load(f)
        with open(os.path.join(out, 'kws2-drsn-cw.eval.json')) as f:
            sf = json.load(f)
        self.assertEqual(len(pt['accuracy']), len(recipe.EVAL_CONDITIONS))
        self.assertEqual(pt['accuracy'], sf['accuracy'])      # the exported file is the same model
        self.assertTrue(all(0.0 <= x <= 1.0 for x in pt['accuracy'].values()))
        self.assertEqual(pt['test_clips'], sum(pt['test_clips_per_label'].values()))
        b = pt['clean_breakdown']
        for part in ('by_voice', 'by_label'):
            self.assertEqual(sum(r['clips'] for r in b[part].values()), pt['test_clips'], part)
            ok = sum(round(r['accuracy'] * r['clips']) for r in b[part].values())
            self.assertAlmostEqual(ok / pt['test_clips'], pt['accuracy']['clean'], places=9)
        wrong = round((1 - pt['accuracy']['clean']) * pt['test_clips'])
        self.assertLessEqual(sum(n for _, _, n in b['confusions']), wrong)
        self.assertTrue(all(t != q for t, q, _ in b['confusions']))
        self.assertIn('(noise only)', b['by_voice'])
        for name in ('run-cw.eval.md', 'run-resnet.eval.md', 'comparison.eval.md'):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        # --ensemble: the mean of the softmaxes, scored as one model
        cw, rn = (os.path.join(runs[v], 'best.pt') for v in ('cw', 'resnet'))
        self.assertEqual(evaluate.main(['--data', self.data, '--out-dir', out, '--threads', '1',
                                        '--ensemble', 'same-twice', cw, st]), 0)
        with open(os.path.join(out, 'same-twice.eval.json')) as f:
            same = json.load(f)
        self.assertEqual(same['accuracy'], pt['accuracy'])      # a model and its own copy: the model
        self.assertEqual(same['params'], 2 * pt['params'])
        mods = [evaluate.load_model(p) for p in (cw, rn)]
        ens = evaluate.ensemble(mods, 'cw+resnet')[0]
        x = torch.randn(5, 98, 40)
        with torch.no_grad():
            want = (torch.softmax(mods[0][0](x), 1) + torch.softmax(mods[1][0](x), 1)) / 2
            self.assertTrue(torch.allclose(ens(x).exp(), want, atol=1e-6))
        self.assertEqual(ens.macs(), mods[0][0].macs() + mods[1][0].macs())
        with self.assertRaises(SystemExit) as cm:
            evaluate.main(['--data', self.data, '--ensemble', 'e', '--drsn', 'drsn', cw, rn])
        self.assertIn('--ensemble', str(cm.exception.code))
        # --split training: the same conditions on noise-free training clips, in files of their own
        rows = layout.clip_rows(self.data)
        split = layout.scan(self.data, ['yes', 'no'])
        seen = evaluate.seen_items(split['training'], rows, 3, 1)
        self.assertEqual(seen, evaluate.seen_items(split['training'], rows, 3, 1))      # seeded
        free = collections.Counter(lab for rel, lab in split['training'] if rows[rel]['noise'] == '')
        want = {lab: min(n, 6 if lab == '_unknown_' else 3) for lab, n in free.items()}
        self.assertEqual(collections.Counter(lab for _, lab in seen), want)
        self.assertGreater(want['_unknown_'], 3)      # twice the keywords' share
        self.assertTrue(all(rows[rel]['noise'] == '' and rows[rel]['split'] == 'training' for rel, _ in seen))
        before = os.path.getmtime(os.path.join(out, 'run-cw.eval.json'))
        self.assertEqual(evaluate.main(['--data', self.data, '--out-dir', out, '--threads', '1', '--split', 'training',
                                        '--per-label', '3', os.path.join(runs['cw'], 'best.pt')]), 0)
        with open(os.path.join(out, 'run-cw.training.eval.json')) as f:
            tr = json.load(f)
        self.assertEqual((tr['split'], tr['test_clips'], tr['test_clips_per_label']),
                         ('training', len(seen), dict({'_silence_': 0}, **want)))
        self.assertEqual(len(tr['accuracy']), len(recipe.EVAL_CONDITIONS))
        self.assertEqual(os.path.getmtime(os.path.join(out, 'run-cw.eval.json')), before)
        with self.assertRaises(SystemExit) as cm:
            evaluate.main(['--data', self.data, '--split', 'training', '--per-label', '0', cw])
        self.assertIn('--per-label', str(cm.exception.code))


class Stream(unittest.TestCase):
    """train/evaluate_stream.py's pieces: stream layout, noise, matching."""

    def test_build_stream_places_words_at_level(self):
        rng = np.random.default_rng(3)
        clip = np.zeros(16000, dtype=np.float32)
        clip[4000:8000] = 0.5 * np.sin(np.arange(4000) * 0.3)
        words = [('yes', clip, (4000, 8000)), ('no', clip * 0.1, (4000, 8000))]
        speech, truth = evaluate_stream.build_stream(words, (1.2, 1.6), rng)
        self.assertEqual([t[0] for t in truth], ['yes', 'no'])
        self.assertAlmostEqual(truth[0][1], 1.0)
        self.assertAlmostEqual(truth[0][2] - truth[0][1], 0.25)
        self.assertTrue(1.2 <= truth[1][1] - truth[0][2] <= 1.6)
        for _, a, b in truth:
            seg = speech[int(round(a * 16000)):int(round(b * 16000))]
            self.assertAlmostEqual(10 * np.log10(np.mean(seg ** 2)), evaluate_stream.SPEECH_DB, places=3)
        self.assertEqual(float(np.abs(speech[:16000]).max()), 0.0)   # silence before the first word

    def test_mix_snr_over_the_words(self):
        rng = np.random.default_rng(4)
        speech = np.zeros(5 * 16000)
        speech[16000:24000] = evaluate_stream.augment.set_level(rng.standard_normal(8000).astype(np.float32),
                                                                evaluate_stream.SPEECH_DB)
        for kind in ('gaussian', 'real'):
            y = evaluate_stream.mix(speech, kind, 0.0, np.random.default_rng(5)).astype(np.float64)
            n = y - speech
            word = 10 * np.log10(np.mean(speech[16000:24000] ** 2) / np.mean(n ** 2))
            self.assertAlmostEqual(word, 0.0, delta=0.1, msg=kind)
        self.assertTrue(np.array_equal(evaluate_stream.mix(speech, 'clean', None, rng), speech.astype(np.float32)))

    def test_recorded_noise_does_not_loop_one_file(self):
        n = 60 * 16000
        y = evaluate_stream.long_noise('real', n, np.random.default_rng(6))
        self.assertEqual(y.size, n)
        self.assertAlmostEqual(float(np.sqrt(np.mean(y ** 2))), 1.0, places=6)
        piece = evaluate_stream.PIECE - evaluate_stream.FADE
        a, b = y[piece:2 * piece], y[3 * piece:4 * piece]
        self.assertLess(abs(np.corrcoef(a, b)[0, 1]), 0.5)

    def test_match_and_attribute(self):
        truth = [('yes', 1.0, 1.4), ('no', 3.0, 3.3), ('yes', 5.0, 5.5)]
        dets = [{'label': 'yes', 'start': 0.5, 'end': 1.5},     # found
                {'label': 'yes', 'start': 0.6, 'end': 1.6},     # the same word again: extra
                {'label': 'go', 'start': 2.5, 'end': 3.5},      # wrong label: extra
                {'label': 'yes', 'start': 5.5, 'end': 6.5}]     # centre 5.25 within 0.3 s before the window: found
        found, missed, extra = evaluate_stream.match(dets, truth)
        self.assertEqual(found, [('yes', 1.0, 1.4), ('yes', 5.0, 5.5)])
        self.assertEqual(missed, [('no', 3.0, 3.3)])
        self.assertEqual(len(extra), 2)
        words, background = evaluate_stream.attribute(dets + [{'label': 'up', 'start': 8.0, 'end': 9.0}], truth)
        self.assertEqual(words, {'yes': 3, 'no': 1})
        self.assertEqual(background, 1)

    def test_found_at_equal_false_alarms(self):
        rows = [{'threshold': 0.6, 'keywords': 100, 'found': 90, 'false_alarms_per_hour': 300.0},
                {'threshold': 0.8, 'keywords': 100, 'found': 80, 'false_alarms_per_hour': 100.0},
                {'threshold': 0.9, 'keywords': 100, 'found': 70, 'false_alarms_per_hour': 50.0}]
        self.assertAlmostEqual(evaluate_stream.found_at(rows, 200.0), 85.0)
        self.assertAlmostEqual(evaluate_stream.found_at(rows, 75.0), 75.0)
        self.assertAlmostEqual(evaluate_stream.found_at(rows, 50.0), 70.0)
        self.assertIsNone(evaluate_stream.found_at(rows, 20.0))
        self.assertIsNone(evaluate_stream.found_at(rows, 400.0))
        md = evaluate_stream.table_md({'clean': {'m': [dict(r, false_alarms=r['false_alarms_per_hour'] / 10,
                                                             false_alarms_in_background=0) for r in rows]}},
                                      [0.6, 0.8, 0.9], 100, equal_fa=(200,))
        self.assertIn('| 0.8 | 80.0 / 100 (10; 0) |', md)
        self.assertIn('| found at 200 FA/h | 85.0 |', md)

    def test_bad_options_are_named(self):
        with self.assertRaisesRegex(ValueError, "condition 'loud@5'"):
            evaluate_stream.parse_conditions('clean,loud@5')
        self.assertEqual(evaluate_stream.parse_conditions('clean,real@-5'), [('clean', None), ('real', -5.0)])
        self.assertEqual(evaluate_stream.main(['--drsn', 'x', '--thresholds', '1.5', 'm.safetensors']), 2)
        self.assertEqual(evaluate_stream.main(['--drsn', 'x', 'missing.safetensors']), 2)
        for bad in ('no', 'no=', '=0.9', 'no=1.5', 'no=high'):
            with self.assertRaisesRegex(ValueError, f"--label-threshold '{re.escape(bad)}': want LABEL=P"):
                evaluate_stream.check_label_thresholds(['go=0.95', bad])
        evaluate_stream.check_label_thresholds(['go=0.95', 'no=0', 'on=1'])
        evaluate_stream.check_label_thresholds(['go=0.95'], ['_silence_', 'go'])
        with self.assertRaisesRegex(ValueError, "--label-threshold 'cat=0.9': the model has no label 'cat'"):
            evaluate_stream.check_label_thresholds(['go=0.95', 'cat=0.9'], ['_silence_', 'go'])
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(evaluate_stream.main(['--drsn', 'x', '--label-threshold', 'no', 'm.safetensors']), 2)
            self.assertEqual(evaluate_events.main(['--drsn', 'x', '--label-threshold', 'on=2', 'm.safetensors']), 2)
        self.assertIn("evaluate_stream: --label-threshold 'no': want LABEL=P", err.getvalue())
        self.assertIn("evaluate_events: --label-threshold 'on=2': want LABEL=P", err.getvalue())
        shipped = os.path.join(ROOT, 'models', 'kws20-drsn-cw.safetensors')
        err = io.StringIO()
        with contextlib.redirect_stderr(err):       # a label the model lacks: named before anything runs
            self.assertEqual(evaluate_events.main(['--drsn', 'x', '--sources', 'synthetic', '--per-family', '1',
                                                   '--label-threshold', 'cat=0.9', shipped]), 2)
            self.assertEqual(evaluate_stream.main(['--drsn', 'x', '--label-threshold', 'dog=0.9', shipped]), 2)
        self.assertIn("kws20-drsn-cw.safetensors: --label-threshold 'dog=0.9': the model has no label 'dog'",
                      err.getvalue())
        self.assertIn("kws20-drsn-cw.safetensors: --label-threshold 'cat=0.9': the model has no label 'cat'",
                      err.getvalue())


class Events(unittest.TestCase):
    """train/evaluate_events.py's pieces: the event streams and what fired."""

    def test_streams(self):
        evs = evaluate_events.event_list('synthetic', 3, 1, 1)
        self.assertEqual(len(evs), 3 * 6)
        self.assertEqual([n for n, _ in evs], [f for f in evaluate_events.events.FAMILIES for _ in range(3)])
        again = evaluate_events.event_list('synthetic', 3, 1, 1)
        self.assertTrue(all(np.array_equal(a[1], b[1]) for a, b in zip(evs, again)))
        x, truth = evaluate_events.build(evs, 1, 'synthetic')
        self.assertEqual(sorted(t[0] for t in truth), sorted(n for n, _ in evs))
        for (_, a, b), (_, nxt, _) in zip(truth, truth[1:]):
            self.assertTrue(2.5 <= nxt - b <= 4.0)
            seg = x[int(round(a * 16000)):int(round(b * 16000))]
            self.assertAlmostEqual(10 * np.log10(np.mean(seg ** 2)), evaluate_stream.SPEECH_DB, places=3)
        rec = evaluate_events.event_list('recorded', 1, 2, 1)
        self.assertEqual(len(rec), 2 * len(evaluate_events.events.recorded_files()))
        # music plays through: its pieces in order, with no gaps
        music = evaluate_events.event_list('music', 1, 1, 1)[:4]
        x, truth = evaluate_events.build(music, 1, 'music')
        self.assertEqual([t[0] for t in truth], [n for n, _ in music])
        for (_, _, b), (_, nxt, _) in zip(truth, truth[1:]):
            self.assertAlmostEqual(nxt, b)
        # --music-dir: the pieces of every folder given, in turn
        with tempfile.TemporaryDirectory() as d:
            wavio.write_wav16(os.path.join(d, 'eleven.wav'), 0.2 * np.sin(np.arange(11 * 16000) * 0.2))
            both = evaluate_events.event_list('music', 1, 1, 1, [d, evaluate_events.events.RECORDED_MUSIC_DIR])
            self.assertEqual([n for n, _ in both[:3]], ['eleven', 'eleven', '01 - pronobozo - lincity'])

    def test_fired(self):
        truth = [('click', 1.0, 1.1), ('beep', 4.0, 4.5), ('chime', 8.0, 8.8)]
        dets = [{'label': 'up', 'start': 0.4, 'end': 1.4}, {'label': 'on', 'start': 0.5, 'end': 1.5},
                {'label': 'up', 'start': 8.5, 'end': 9.5}, {'label': 'go', 'start': 6.0, 'end': 6.5}]
        self.assertEqual(evaluate_events.fired(dets, truth), ([0, 2], 1))
        # a long piece: any overlap counts, not only its centre
        piece = [('track', 10.0, 15.0)]
        late = [{'label': 'no', 'start': 14.0, 'end': 15.0}]
        self.assertEqual(evaluate_events.fired(late, piece), ([], 1))
        self.assertEqual(evaluate_events.fired(late, piece, overlap=True), ([0], 0))

    def test_bad_options_are_named(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(evaluate_events.main(['--drsn', 'x', '--sources', 'speech', 'm.safetensors']), 2)
            self.assertEqual(evaluate_events.main(['--drsn', 'x', '--per-family', '0', 'm.safetensors']), 2)
            self.assertEqual(evaluate_events.main(['--drsn', 'x', 'missing.safetensors']), 2)
            shipped = os.path.join(ROOT, 'models', 'kws20-drsn-cw.safetensors')
            with tempfile.TemporaryDirectory() as d:
                self.assertEqual(evaluate_events.main(['--drsn', 'x', '--sources', 'music', '--music-dir', d,
                                                       shipped]), 2)
        self.assertIn("--sources 'speech': some of recorded, synthetic, music", err.getvalue())
        self.assertIn(': no music (want .ogg', err.getvalue())
        self.assertIn('missing.safetensors: not an exported', err.getvalue())


class BandLimit(unittest.TestCase):
    """train.py --band-limit: narrowband clips in the cached log-mel domain."""

    def setUp(self):
        self.params = frontend.default_params()
        self.fe = frontend.FrontEnd(self.params)
        _, _, self.centres = train._mel_band_axis(self.params.f_min, self.params.f_max, self.params.n_mels)
        self.x = torch.randn(64, 98, self.params.n_mels, generator=torch.Generator().manual_seed(3))

    def test_bands_above_the_cutoff_get_the_silence_floor(self):
        g = torch.Generator().manual_seed(1)
        mask = train.band_limit_mask(64, self.params.n_mels, g, 1.0, self.params, cutoff_hz=(4000.0, 4000.0))
        above = (self.centres > 4000.0)
        self.assertTrue(0 < int(above.sum()) < self.params.n_mels)
        self.assertTrue(torch.equal(mask, above[None, :].expand(64, -1)))
        y = train.apply_band_limit(self.x, mask, self.params.log_offset)
        # the value the front end gives a band with no energy (a second of silence)
        with torch.no_grad():
            silence = self.fe(torch.zeros(1, 16000))
        floor = silence[0, 0, 0]
        self.assertTrue(torch.all(silence == floor))
        self.assertTrue(torch.all(y[:, :, above] == floor))
        self.assertTrue(torch.equal(y[:, :, ~above], self.x[:, :, ~above]))

    def test_cutoff_range_and_probability(self):
        g = torch.Generator().manual_seed(2)
        n = 4000
        mask = train.band_limit_mask(n, self.params.n_mels, g, 0.25, self.params)
        emptied = mask.sum(1)
        hit = emptied > 0
        lo, hi = train.BAND_LIMIT_HZ
        top = float(self.centres[-1])      # a cut-off above the top band's centre empties nothing
        self.assertTrue(lo < top < hi)
        self.assertAlmostEqual(hit.float().mean().item(), 0.25 * (top - lo) / (hi - lo), delta=0.03)
        self.assertEqual(int(emptied.max()), int((self.centres > lo).sum()))
        self.assertEqual(int(emptied[hit].min()), 1)
        # the emptied bands are always the top ones
        for row in mask[hit][:50]:
            k = int(row.sum())
            self.assertTrue(bool(row[-k:].all()) and not bool(row[:-k].any()))

    def test_off_leaves_features_unchanged(self):
        g = torch.Generator().manual_seed(1)
        mask = train.band_limit_mask(64, self.params.n_mels, g, 0.0, self.params)
        self.assertFalse(bool(mask.any()))
        self.assertTrue(torch.equal(train.apply_band_limit(self.x, mask, self.params.log_offset), self.x))

    def test_bad_probability_is_named(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as cm:
            train.main(['--band-limit', '1.5', '--data', '/nonexistent'])
        self.assertIn('--band-limit 1.5: want a probability in [0, 1]', str(cm.exception))


class AblateShrink(unittest.TestCase):
    """train/ablate_shrink.py on random tiny models."""

    def model(self, variant):
        arch = M.make_arch('tiny', variant, bands=40, frames=98, classes=4)
        return M.build_random(arch, 5), ['_silence_', '_unknown_', 'yes', 'no']

    def test_forward_turns_one_unit_off_and_restores_it(self):
        m, _ = self.model('cw')
        x = torch.randn(6, 98, 40)
        p0, alphas = ablate_shrink.forward(m, x)
        self.assertEqual(len(alphas), len(m.units))
        self.assertTrue(all(a.shape == (6,) and ((a > 0) & (a < 1)).all() for a in alphas))
        for k in range(len(m.units)):
            p, al = ablate_shrink.forward(m, x, off=k)
            self.assertEqual(len(al), len(m.units) - 1)
            keep = m.units[k].shrink     # the same by hand: that unit's y = f + shortcut
            m.units[k].shrink = torch.nn.Identity()
            with torch.no_grad():
                want = torch.softmax(m(x), dim=1)
            m.units[k].shrink = keep
            self.assertTrue(torch.allclose(p, want, atol=1e-6), k)
            self.assertFalse(torch.allclose(p, p0, atol=1e-6), k)
        self.assertTrue(torch.equal(ablate_shrink.forward(m, x)[0], p0))    # left as it was

    def test_report(self):
        m, labels = self.model('cw')
        g = torch.Generator().manual_seed(1)
        music = {'a': torch.randn(30, 98, 40, generator=g), 'b': torch.randn(20, 98, 40, generator=g)}
        speech, sy = torch.randn(10, 98, 40, generator=g), ['yes', 'no'] * 5
        for t in (0.3, 0.9):
            r = ablate_shrink.ablate(m, labels, music, speech, sy, t)
            p = ablate_shrink.forward(m, torch.cat([music['a'], music['b']]))[0]
            fire = p[:, 2:].max(1).values >= t
            self.assertEqual(r['fired'], {'a': int(fire[:30].sum()), 'b': int(fire[30:].sum())})
            self.assertEqual(sum(r['labels_fired'].values()), int(fire.sum()))
            self.assertEqual(r['windows'], {'a': 30, 'b': 20})
            self.assertEqual([a['unit'] for a in r['ablations']], list(range(len(m.units))))
            for a in r['ablations']:
                self.assertLessEqual(a['still_fired'], min(sum(a['fired'].values()), int(fire.sum())))
            self.assertIn('| unit 0 |', ablate_shrink.report_md({'m': r}, {'music': 'x', 'speech': 10, 'data': 'd',
                                                                         'threshold': t}, 'cmd'))
        rn, _ = self.model('resnet')
        r = ablate_shrink.ablate(rn, labels, music, speech, sy, 0.5)
        self.assertEqual((r['ablations'], r['alpha']), ([], []))
        self.assertIn('nothing to turn off', ablate_shrink.report_md({'r': r}, {'music': 'x', 'speech': 10,
                                                                            'data': 'd', 'threshold': 0.5}, 'c'))

    def test_music_windows_and_bad_input(self):
        x = np.random.default_rng(0).standard_normal(5 * 16000).astype(np.float32)
        w = ablate_shrink.music_windows([('t', x), ('t', 3 * x), ('u', x[:8000])])
        self.assertEqual(list(w), ['t'])                     # a piece under 1 s gives no window
        self.assertEqual(w['t'].shape, (82, 16000))         # 41 windows every 0.1 s per 5 s piece
        rms = np.sqrt(np.mean(w['t'].astype(np.float64) ** 2, axis=1))
        self.assertTrue(np.allclose(20 * np.log10(rms), -24, atol=0.5))
        with tempfile.TemporaryDirectory() as tmp:
            for bad, says in ((['--threshold', '0'], '--threshold'), (['--speech', '0'], '--speech'),
                              (['--music-dir', tmp], tmp), (['--data', tmp], 'testing_list.txt')):
                argv = ['--data', os.path.join(ROOT, 'samples'), 'm.safetensors'] + bad
                with self.assertRaises(SystemExit) as cm, contextlib.redirect_stderr(io.StringIO()):
                    ablate_shrink.main(argv)
                self.assertIn(says, str(cm.exception.code))


class Human(unittest.TestCase):
    """train/evaluate_human.py on hand-made prompts and transcripts, with a
    stand-in drsn that fires given labels per file: transcripts, keywords,
    homophones, scoring, both bands (G.722 made and decoded by ffmpeg), and
    the errors."""

    MODEL = os.path.join(ROOT, 'models', 'kws20-drsn-cw.safetensors')

    def test_transcripts_and_tokens(self):
        with tempfile.TemporaryDirectory() as tmp:
            import gzip
            p = os.path.join(tmp, 'core-sounds-en.txt.gz')
            with gzip.open(p, 'wt') as f:
                f.write('; comment: not a prompt\n\nactivated: Activated.\ndigits/1: one\n'
                        'beep: [this is a simple beep tone]\nnot a line\n')
            self.assertEqual(evaluate_human.read_transcripts(p),
                             {'activated': 'Activated.', 'digits/1': 'one',
                              'beep': '[this is a simple beep tone]'})
            empty = os.path.join(tmp, 'empty.txt')
            open(empty, 'w').close()
            with self.assertRaisesRegex(ValueError, 'empty.txt: no "name: text" line'):
                evaluate_human.read_transcripts(empty)
        self.assertEqual(evaluate_human.tokens("Press 1 for sales, or 0; don't wait."),
                         ['press', 'one', 'for', 'sales', 'or', 'zero', "don't", 'wait'])
        self.assertIsNone(evaluate_human.tokens('[ascending tones]'))
        self.assertIsNone(evaluate_human.tokens('extension 162'))

    def prompts_dir(self, tmp):
        sounds = os.path.join(tmp, 'sounds')
        os.makedirs(os.path.join(sounds, 'digits'))
        text = {'digits/1': 'one', 'digits/2': 'two', 'press': 'Press 4 for more, or stop.',
                'know': 'I know.', 'calling': 'Calling.', 'tones': '[beep]', 'ext': 'Dial 162.',
                'gone': 'Not on disk.'}
        t = np.arange(8000) / 8000.0
        for name in text:
            if name != 'gone':
                with wave.open(os.path.join(sounds, name + '.wav'), 'wb') as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(8000)
                    w.writeframes((8000 * np.sin(2 * np.pi * 440 * t)).astype('<i2').tobytes())
        tr = os.path.join(tmp, 'core-sounds-en.txt')
        with open(tr, 'w') as f:
            f.write(''.join(f'{k}: {v}\n' for k, v in text.items()))
        return sounds, tr

    def test_prompts_and_score(self):
        with tempfile.TemporaryDirectory() as tmp:
            sounds, tr = self.prompts_dir(tmp)
            kws = ['one', 'two', 'four', 'stop', 'no', 'on']
            items, left_out = evaluate_human.prompts(sounds, evaluate_human.read_transcripts(tr), kws)
            self.assertEqual(left_out, 2)                 # the tone and the two-digit numeral
            by = {name: (k, h) for _, name, k, h in items}
            self.assertEqual(sorted(by), ['calling', 'digits/1', 'digits/2', 'know', 'press'])
            self.assertEqual(by['press'], ({'four', 'stop'}, {'four'}))     # 4 read as "four"; "for" sounds alike
            self.assertEqual(by['know'], (set(), {'no'}))
            path = {name: w for w, name, _, _ in items}
            dets = [{'file': path['press'], 'label': 'four'}, {'file': path['press'], 'label': 'four'},
                    {'file': path['know'], 'label': 'no'}, {'file': path['calling'], 'label': 'on'},
                    {'file': path['digits/1'], 'label': 'one'}, {'file': path['digits/2'], 'label': 'one'}]
            r = evaluate_human.score(items, dets)
            self.assertEqual((r['keywords'], r['found']), (4, 2))        # one; four (stop, two missed)
            self.assertEqual(r['missed_by_label'], {'stop': 1, 'two': 1})
            self.assertEqual((r['false_alarms'], r['homophone_detections']), (2, 1))
            self.assertEqual(r['false_alarm_labels'], {'on': 1, 'one': 1})
            self.assertEqual(r['false_alarm_prompts'], ['calling: on', 'digits/2: one'])

    def test_main(self):
        with tempfile.TemporaryDirectory() as tmp:
            sounds, tr = self.prompts_dir(tmp)
            for name in ('digits/1', 'digits/2', 'press', 'know', 'calling'):   # the wide band: the same in G.722
                subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-i',
                                os.path.join(sounds, name + '.wav'), '-ar', '16000', '-c:a', 'g722', '-f', 'g722',
                                os.path.join(sounds, name + '.g722')], check=True)
            fake = os.path.join(tmp, 'drsn')
            with open(fake, 'w') as f:      # fires "one" on digits/1, "four" on press, "on" on calling
                f.write('#!/usr/bin/python3\nimport json, os, sys, wave\n'
                        'fire = {"1": "one", "press": "four", "calling": "on"}\n'
                        'for a in sys.argv[1:]:\n'
                        '    if a.endswith(".wav"):\n'
                        '        assert wave.open(a).getframerate() in (8000, 16000)\n'
                        '        lab = fire.get(os.path.basename(a)[:-4])\n'
                        '        if sys.argv[1] == "classify":\n'
                        '            print(json.dumps({"file": a, "label": lab or "_unknown_"}))\n'
                        '        elif lab:\n'
                        '            print(json.dumps({"file": a, "label": lab, "score": 0.9, "start": 0, "end": 1}))\n')
            os.chmod(fake, 0o755)
            out = os.path.join(tmp, 'out')
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                rc = evaluate_human.main(['--drsn', fake, '--sounds', sounds, '--transcripts', tr,
                                          '--thresholds', '0.8', '--out-dir', out, self.MODEL])
            self.assertEqual(rc, 0)
            with open(os.path.join(out, 'human.eval.json')) as f:
                res = json.load(f)['results']['kws20-drsn-cw']
            narrow, wide = res['narrow'][0], res['wide'][0]
            self.assertEqual((narrow['keywords'], narrow['found'], narrow['false_alarms']), (4, 2, 1))
            self.assertEqual(narrow['digits'], {'one': ['one'], 'two': []})
            self.assertEqual(narrow['digits_classify'], {'one': 'one', 'two': '_unknown_'})
            self.assertEqual((wide['keywords'], wide['found'], wide['false_alarms']), (4, 2, 1))
            self.assertEqual((narrow['prompts'], wide['prompts']), (5, 5))
            self.assertAlmostEqual(wide['seconds'], 5.0, places=2)
            with open(os.path.join(out, 'human.eval.md')) as f:
                md = f.read()
            self.assertIn('| kws20-drsn-cw | narrow | 0.8 | 50.0 (2 of 4) |', md)
            self.assertIn('(one window each): 1 of 2 right; one: one, two: _unknown_.', md)
            for argv, code, says in ((['--bands', 'fm'], 2, '--bands'), (['--thresholds', '2'], 2, '--thresholds'),
                                     (['--label-threshold', 'cat=0.9'], 2, "no label 'cat'"),
                                     (['--sounds', os.path.join(tmp, 'nope')], 1, 'nope: no such folder'),
                                     (['--transcripts', os.path.join(tmp, 'nope.txt')], 1, 'nope.txt: no such file')):
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
                    rc = evaluate_human.main(['--drsn', fake, '--sounds', sounds, '--transcripts', tr,
                                              '--out-dir', out] + argv + [self.MODEL])
                self.assertEqual(rc, code, argv)
                self.assertIn(says, err.getvalue())
            with open(os.path.join(sounds, 'calling.g722'), 'wb') as f:
                f.write(b'')
            os.remove(os.path.join(sounds, 'know.g722'))
            for bands, says in (('wide', 'calling.g722: ffmpeg cannot decode it'),
                                ('narrow,wide', '4 .g722 prompts, but 5 .wav ones')):
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
                    rc = evaluate_human.main(['--drsn', fake, '--sounds', sounds, '--transcripts', tr,
                                              '--bands', bands, '--out-dir', out, self.MODEL])
                self.assertEqual(rc, 1)
                self.assertIn(says, err.getvalue())

    def test_fetch(self):
        """--fetch DIR: hand-made .debs of the three packages from a stand-in
        apt-get, unpacked once; a package apt cannot find is named."""
        import gzip
        with tempfile.TemporaryDirectory() as tmp:
            sounds, tr = self.prompts_dir(tmp)
            debs, bindir = os.path.join(tmp, 'debs'), os.path.join(tmp, 'bin')
            os.makedirs(debs)
            os.makedirs(bindir)
            for pkg, files in (('asterisk-core-sounds-en-wav', {evaluate_human.SOUNDS + '/digits/1.wav':
                                                                os.path.join(sounds, 'digits', '1.wav'),
                                                                evaluate_human.SOUNDS + '/press.wav':
                                                                os.path.join(sounds, 'press.wav')}),
                               ('asterisk-core-sounds-en', {evaluate_human.TRANSCRIPTS: tr})):
                root = os.path.join(tmp, 'pkg-' + pkg)
                for dst, src in files.items():
                    os.makedirs(os.path.dirname(root + dst), exist_ok=True)
                    if dst.endswith('.gz'):
                        with open(src, 'rb') as f, gzip.open(root + dst, 'wb') as g:
                            g.write(f.read())
                    else:
                        shutil.copy(src, root + dst)
                os.makedirs(os.path.join(root, 'DEBIAN'))
                with open(os.path.join(root, 'DEBIAN', 'control'), 'w') as f:
                    f.write(f'Package: {pkg}\nVersion: 1.2-3\nArchitecture: all\nMaintainer: t <t@t>\n'
                            'Description: test\n')
                subprocess.run(['dpkg-deb', '--build', '--root-owner-group', root,
                                os.path.join(debs, f'{pkg}_1.2-3_all.deb')], check=True, capture_output=True)
            with open(os.path.join(bindir, 'apt-get'), 'w') as f:
                f.write(f'#!/bin/sh\n[ "$1" = download ] && [ -e {debs}/"$2"_1.2-3_all.deb ] && '
                        f'exec cp {debs}/"$2"_1.2-3_all.deb .\necho "E: Unable to locate package $2" >&2; exit 100\n')
            os.chmod(os.path.join(bindir, 'apt-get'), 0o755)
            fake = os.path.join(bindir, 'drsn')
            with open(fake, 'w') as f:
                f.write('#!/bin/sh\n[ "$1" = classify ] || exit 0\nfor a; do case $a in *.wav) '
                        'echo "{\\"file\\": \\"$a\\", \\"label\\": \\"one\\"}";; esac; done\n')
            os.chmod(fake, 0o755)
            work, out = os.path.join(tmp, 'fetch'), os.path.join(tmp, 'out')
            argv = ['--drsn', fake, '--fetch', work, '--bands', 'narrow', '--thresholds', '0.8',
                    '--out-dir', out, self.MODEL]
            with unittest.mock.patch.dict(os.environ, {'PATH': bindir + os.pathsep + os.environ['PATH']}):
                press = os.path.join(work, 'root') + evaluate_human.SOUNDS + '/press.wav'
                for run in range(2):
                    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                        self.assertEqual(evaluate_human.main(argv), 0)
                    with open(os.path.join(out, 'human.eval.json')) as f:
                        info = json.load(f)['prompts']
                    self.assertEqual((info['prompts'], info['version']), (2, '1.2-3'))
                    self.assertTrue(info['sounds'].startswith(os.path.join(work, 'root')))
                    if run == 0:    # the second run neither downloads nor unpacks again
                        os.remove(os.path.join(debs, 'asterisk-core-sounds-en-wav_1.2-3_all.deb'))
                        os.utime(press, (1, 1))
                self.assertEqual(os.stat(press).st_mtime, 1)
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
                    rc = evaluate_human.main(argv[:5] + ['wide'] + argv[6:])
                self.assertEqual(rc, 1)
                self.assertIn('Unable to locate package asterisk-core-sounds-en-g722', err.getvalue())


class FetchMusic(unittest.TestCase):
    """train/fetch_music.py against a hand-made .deb and a stand-in apt-get
    (no download): the chosen files are copied, the rest left, and a
    missing package or pattern is named."""

    def test_fetch(self):
        with tempfile.TemporaryDirectory() as tmp:
            pkg = os.path.join(tmp, 'pkg')
            for rel in ('usr/share/games/g/music/a.ogg', 'usr/share/games/g/music/notes.txt',
                        'usr/share/games/g/sfx/boom.ogg'):
                os.makedirs(os.path.dirname(os.path.join(pkg, rel)), exist_ok=True)
                with open(os.path.join(pkg, rel), 'w') as f:
                    f.write(rel)
            os.makedirs(os.path.join(pkg, 'DEBIAN'))
            with open(os.path.join(pkg, 'DEBIAN', 'control'), 'w') as f:
                f.write('Package: good-music\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\n'
                        'Description: test\n')
            deb = os.path.join(tmp, 'good-music_1_all.deb')
            subprocess.run(['dpkg-deb', '--build', '--root-owner-group', pkg, deb], check=True,
                           capture_output=True)
            bindir = os.path.join(tmp, 'bin')
            os.makedirs(bindir)
            with open(os.path.join(bindir, 'apt-get'), 'w') as f:
                f.write(f'#!/bin/sh\n[ "$1" = download ] && [ "$2" = good-music ] && exec cp {deb} .\n'
                        'echo "E: Unable to locate package $2" >&2; exit 100\n')
            os.chmod(os.path.join(bindir, 'apt-get'), 0o755)
            with unittest.mock.patch.dict(os.environ, {'PATH': bindir + os.pathsep + os.environ['PATH']}):
                work, dest = os.path.join(tmp, 'work'), os.path.join(tmp, 'out')
                os.makedirs(work)
                got = fetch_music.fetch('good-music', ['usr/share/games/g/music/*.ogg'], dest, work)
                self.assertEqual(got, ['a.ogg'])
                self.assertEqual(os.listdir(dest), ['a.ogg'])
                with self.assertRaisesRegex(OSError, 'Unable to locate package missing-music'):
                    fetch_music.fetch('missing-music', ['*'], dest, work)
                with self.assertRaisesRegex(OSError, 'good-music: no file matches nothing/\\*'):
                    fetch_music.fetch('good-music', ['nothing/*'], dest, work)
                tables = {'TRAIN': {'good-music': ['usr/share/games/g/music/*.ogg']},
                          'TEST': {'good-music': ['usr/share/games/g/sfx/*.ogg']}}
                out = os.path.join(tmp, 'music')
                with unittest.mock.patch.multiple(fetch_music, **tables), \
                        contextlib.redirect_stderr(io.StringIO()):
                    self.assertEqual(fetch_music.main(['--out', out]), 0)
                    self.assertEqual(os.listdir(os.path.join(out, 'train', 'good-music')), ['a.ogg'])
                    self.assertEqual(os.listdir(os.path.join(out, 'test', 'good-music')), ['boom.ogg'])
                with unittest.mock.patch.multiple(fetch_music, TRAIN={'missing-music': ['*']}), \
                        contextlib.redirect_stderr(io.StringIO()) as err:
                    self.assertEqual(fetch_music.main(['--out', out]), 1)
                self.assertIn('fetch_music: apt-get download missing-music', err.getvalue())


class ExportLabels(unittest.TestCase):
    """export.py refuses labels the C loader would refuse (src/engine/model.c),
    naming the label, instead of writing a model file drsn cannot load; the
    labels of one's own (blanks, capitals, '=', quotes, other scripts) go
    through as they are."""

    def meta(self, labels):
        arch = M.make_arch("small", "cw", classes=len(labels))
        return export.metadata(arch, frontend.default_params().to_dict(), labels, {})

    def test_labels_of_ones_own_kept(self):
        labels = ["hey box", "Licht an", "\u3053\u3093\u306b\u3061\u306f", 'say "hi"', "a=b", "k" * 255]
        self.assertEqual(json.loads(self.meta(labels)["labels"]), labels)

    def test_bad_labels_named(self):
        for bad, why in ((["a", ""], "labels\\[1\\] is empty"),
                         (["a", "line\nbreak"], "labels\\[1\\] 'line\\\\nbreak' holds a control character"),
                         (["a", "tab\there"], "labels\\[1\\] 'tab\\\\there' holds a control character"),
                         (["a", "k" * 256], "labels\\[1\\] is 256 bytes in UTF-8 \\(at most 255\\)"),
                         (["a", "\u00e4" * 128], "labels\\[1\\] is 256 bytes in UTF-8"),
                         (["yes", "no", "yes"], "labels\\[2\\] 'yes' repeats labels\\[0\\]"),
                         (["a", "\ud800"], "labels\\[1\\] .* is not valid UTF-8")):
            with self.subTest(bad=bad):
                with self.assertRaisesRegex(ValueError, why):
                    self.meta(bad)

    def test_train_refuses_them_before_training(self):
        for kw, why in (("a\tb,yes", "labels\\[2\\] 'a\\\\tb' holds a control character"),
                        ("k" * 256, "labels\\[2\\] is 256 bytes in UTF-8")):
            with self.subTest(kw=kw):
                with self.assertRaisesRegex(SystemExit, "train: --keywords .*: " + why):
                    train.main(["--data", "/nonexistent", "--keywords", kw])


class Seeds(unittest.TestCase):
    """train/seeds.py on hand-made eval.json files with known numbers."""

    def write(self, tmp, name, variant, seed, clean, noisy):
        path = os.path.join(tmp, name + '.eval.json')
        with open(path, 'w') as f:
            json.dump({'model': name, 'variant': variant, 'provenance': {'variant': variant, 'seed': seed},
                       'accuracy': {'clean': clean},
                       'clean_breakdown': {'by_voice': {'flite:rms': {'accuracy': clean - 0.1, 'clips': 386}}},
                       'mean_over_noises': {s: noisy for s in ('20', '10', '5', '0', '-5')}}, f)
        return path

    def test_mean_sd_difference(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths = [self.write(tmp, 'cw1', 'cw', 1, 0.90, 0.70), self.write(tmp, 'cw2', 'cw', 2, 0.92, 0.74),
                     self.write(tmp, 'cw3', 'cw', 3, 0.94, 0.72),
                     self.write(tmp, 'rn1', 'resnet', 1, 0.95, 0.69), self.write(tmp, 'rn3', 'resnet', 3, 0.93, 0.71)]
            s = seeds.summarize(seeds.load(paths))
            cw, rn = s['variants']['cw'], s['variants']['resnet']
            self.assertEqual(cw['seeds'], [1, 2, 3])
            self.assertAlmostEqual(cw['mean'][0], 92.0)
            self.assertAlmostEqual(cw['sd'][0], 2.0)
            self.assertAlmostEqual(cw['mean'][4], 72.0)
            self.assertAlmostEqual(cw['min'][4], 70.0)
            self.assertAlmostEqual(cw['max'][4], 74.0)
            self.assertAlmostEqual(rn['sd'][0], math.sqrt(2.0))
            d = s['difference']
            self.assertAlmostEqual(d['mean'][0], 92.0 - 94.0)
            self.assertAlmostEqual(d['se'][0], math.sqrt(4.0 / 3 + 2.0 / 2))
            self.assertEqual(d['paired_seeds'], [1, 3])       # seed 2 has no ResNet run
            self.assertAlmostEqual(d['per_seed'][1][4], 1.0)
            self.assertAlmostEqual(d['per_seed'][3][0], 1.0)
            out = os.path.join(tmp, 'seeds.md')
            self.assertEqual(seeds.main(paths + ['--out', out]), 0)
            with open(out) as f:
                md = f.read()
            self.assertIn('| DRSN-CW | 1,2,3 | 92.00 ± 2.00 [90.00–94.00]', md)
            self.assertIn('| seed 3 | +1.00 |', md)
            rms = cw['clean_by_voice']['flite:rms']
            self.assertEqual([round(x, 6) for x in rms['per_seed']], [80.0, 82.0, 84.0])   # seed order
            self.assertAlmostEqual(rms['sd'], 2.0)
            self.assertIn('| DRSN-CW | 80.00 / 82.00 / 84.00 (82.00 ± 2.00) |', md)
            with open(os.path.join(tmp, 'seeds.json')) as f:
                self.assertEqual(json.load(f)['variants']['cw']['seeds'], [1, 2, 3])

    def test_groups_of_one_variant(self):
        # GROUP=FILE: two arms of the same variant (e.g. PCEN and log-mel CW), compared like two variants
        with tempfile.TemporaryDirectory() as tmp:
            paths = ['cw-pcen=' + self.write(tmp, 'p1', 'cw', 1, 0.95, 0.70),
                     'cw-pcen=' + self.write(tmp, 'p2', 'cw', 2, 0.93, 0.72),
                     self.write(tmp, 'c1', 'cw', 1, 0.92, 0.73), self.write(tmp, 'c2', 'cw', 2, 0.94, 0.75)]
            s = seeds.summarize(seeds.load(paths), 'cw-pcen', 'cw')
            self.assertEqual(sorted(s['variants']), ['cw', 'cw-pcen'])
            self.assertAlmostEqual(s['difference']['mean'][0], 1.0)
            self.assertAlmostEqual(s['difference']['mean'][4], -3.0)
            self.assertEqual(s['difference']['paired_seeds'], [1, 2])
            with self.assertRaisesRegex(ValueError, 'cw seed 1 is already given'):
                seeds.load(paths + [self.write(tmp, 'c1b', 'cw', 1, 0.9, 0.7)])
            with self.assertRaisesRegex(ValueError, 'empty group name'):
                seeds.load(['=' + paths[2]])

    def test_one_seed_has_no_sd_and_strict_json(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths = [self.write(tmp, 'cw1', 'cw', 1, 0.9, 0.7), self.write(tmp, 'rn1', 'resnet', 1, 0.9, 0.7)]
            out = os.path.join(tmp, 's.md')
            self.assertEqual(seeds.main(paths + ['--out', out]), 0)
            with open(os.path.join(tmp, 's.json')) as f:
                data = json.load(f, parse_constant=lambda c: self.fail('non-JSON constant %s' % c))
            self.assertIsNone(data['variants']['cw']['sd'][0])

    def test_bad_input_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            a = self.write(tmp, 'cw1', 'cw', 1, 0.9, 0.7)
            b = self.write(tmp, 'cw1-again', 'cw', 1, 0.9, 0.7)
            with self.assertRaisesRegex(ValueError, 'cw seed 1 is already given by cw1'):
                seeds.load([a, b])
            bare = os.path.join(tmp, 'bare.eval.json')
            with open(bare, 'w') as f:
                json.dump({'accuracy': {'clean': 1.0}}, f)
            with self.assertRaisesRegex(ValueError, 'bare.eval.json: no variant or training seed'):
                seeds.load([bare])
            self.assertEqual(seeds.main([bare]), 1)


if __name__ == '__main__':
    unittest.main(verbosity=2)
