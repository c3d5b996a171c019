#!/usr/bin/python3
"""CI smoke test of the whole training pipeline, end to end:

  generate (train/gen_corpus.py, 2 keywords, a few clips)
  -> train (train/train.py, default architecture, 1 epoch)
  -> export (train.py's export of the best epoch via train/export.py)
  -> C inference: `drsn features` on each test WAV, then the C engine
     (model-run) on those features.

Then train/evaluate_stream.py runs on it end to end (its counts must add
up). Asserts that C and PyTorch agree (the engine on the same features to 1e-4;
the whole C pipeline, front end included, to 2e-2 on the logits and on the
winning label wherever the top two are not tied) and that every stage ran.
It asserts no accuracy: one epoch on a few clips learns nothing reliable.

  smoke.py MODEL_RUN DRSN
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get('DRSN_SOURCE_ROOT') or os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'train'))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import evaluate_stream  # noqa: E402
import gen_corpus  # noqa: E402
import train  # noqa: E402
from corpusgen import layout  # noqa: E402
from drsn import frontend, safetensors  # noqa: E402
from drsn import model as M  # noqa: E402


def npy_write(path, a):
    np.save(path, np.ascontiguousarray(a, dtype='<f4'))


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: smoke.py MODEL_RUN DRSN')
    model_run, drsn = sys.argv[1:]
    torch.set_num_threads(1)
    t0 = time.time()
    fails = []
    with tempfile.TemporaryDirectory(prefix='drsn-smoke-') as tmp:
        data, run = os.path.join(tmp, 'corpus'), os.path.join(tmp, 'run')
        assert gen_corpus.main(['--out', data, '--words', 'yes,no', '--per-word', '16', '--max-voices', '2',
                                '--unknown-words', 'yet,cup', '--renderings', '1', '--eval-renderings', '1',
                                '--quiet']) == 0
        t1 = time.time()
        assert train.main(['--data', data, '--keywords', 'yes,no', '--epochs', '1', '--batch', '32',
                           '--threads', '1', '--quiet', '--out', run, '--name', 'smoke',
                           '--feature-cache', 'none']) == 0
        t2 = time.time()
        path = os.path.join(run, 'smoke.safetensors')
        tensors, meta = safetensors.load(path)
        arch = json.loads(meta['architecture'])
        model = M.load_state(M.DRSN(arch), tensors).eval()
        fe = frontend.FrontEnd(json.loads(meta['frontend']))
        labels = json.loads(meta['labels'])
        assert labels == ['_silence_', '_unknown_', 'yes', 'no'], labels

        items = layout.scan(data, ['yes', 'no'])['testing']
        c_feats, py_feats = [], []
        for i, (rel, _) in enumerate(items):
            out = os.path.join(tmp, f'f{i}.npy')
            r = subprocess.run([drsn, 'features', os.path.join(data, rel), '-o', out], capture_output=True, text=True)
            if r.returncode:
                sys.exit(f'FAIL drsn features {rel}: exit {r.returncode}: {r.stderr.strip()}')
            c_feats.append(np.load(out))
            py_feats.append(fe(torch.from_numpy(layout.read_clip(os.path.join(data, rel)))).numpy())
        c_feats, py_feats = np.stack(c_feats), np.stack(py_feats)
        if c_feats.shape != py_feats.shape:
            sys.exit(f'FAIL feature shapes: C {c_feats.shape}, PyTorch {py_feats.shape}')
        n, frames, bands = py_feats.shape

        def c_logits(feats, tag):
            inp, out = os.path.join(tmp, tag + '-in.npy'), os.path.join(tmp, tag + '-out.npy')
            npy_write(inp, feats.reshape(n * frames, bands))
            r = subprocess.run([model_run, path, inp, out], capture_output=True, text=True)
            if r.returncode:
                sys.exit(f'FAIL model-run: exit {r.returncode}: {r.stderr.strip()}')
            return np.load(out)

        with torch.no_grad():
            ref = model(torch.from_numpy(py_feats)).numpy()
        same_in = c_logits(py_feats, 'same')
        full_c = c_logits(c_feats, 'full')
        scale = max(1.0, float(np.abs(ref).max()))
        e1 = float(np.abs(same_in - ref).max()) / scale
        e2 = float(np.abs(full_c - ref).max()) / scale
        if e1 > 1e-4:
            fails.append(f'engine vs PyTorch on the same features: max rel error {e1:.2e} > 1e-4')
        if e2 > 2e-2:
            fails.append(f'C pipeline (front end + engine) vs PyTorch: max rel error {e2:.2e} > 2e-2')
        top2 = np.sort(ref, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 4 * e2 * scale + 1e-6
        flips = int(np.sum((full_c.argmax(1) != ref.argmax(1)) & clear))
        if flips:
            fails.append(f'{flips} of {int(clear.sum())} clearly decided clips get another label in C')
        # the stream evaluation runs end to end and its numbers add up
        sdir = os.path.join(tmp, 'stream')
        if evaluate_stream.main(['--data', data, '--drsn', drsn, path, '--every', '1', '--conditions', 'clean,pink@5',
                                 '--thresholds', '0.5,0.9', '--out-dir', sdir]) != 0:
            fails.append('evaluate_stream.py failed')
        else:
            with open(os.path.join(sdir, 'stream.eval.json')) as f:
                sj = json.load(f)
            n_kw = sum(1 for _, lab in items if not lab.startswith('_'))
            for cond in ('clean', 'pink@5'):
                for r in sj['results'][cond]['smoke']:
                    hours = sj['streams']['others']['seconds'] / 3600
                    ok = (r['keywords'] == n_kw and 0 <= r['found'] <= n_kw
                          and r['found'] + sum(r['missed_by_label'].values()) == n_kw
                          and abs(r['false_alarms_per_hour'] - r['false_alarms'] / hours) < 1e-6
                          and sum(r['false_alarms_on_words'].values()) + r['false_alarms_in_background']
                          == r['false_alarms'])
                    if not ok:
                        fails.append(f'evaluate_stream {cond} threshold {r["threshold"]}: numbers do not add up: {r}')
            if not os.path.exists(os.path.join(sdir, 'stream.eval.md')):
                fails.append('evaluate_stream.py wrote no stream.eval.md')
        # a label's own threshold reaches drsn detect: with every other label
        # at 1 and 'yes' at 0, only 'yes' is detected, and it is
        ldir = os.path.join(tmp, 'stream-label')
        if evaluate_stream.main(['--data', data, '--drsn', drsn, path, '--every', '1', '--conditions', 'clean',
                                 '--thresholds', '1', '--label-threshold', 'yes=0', '--out-dir', ldir]) != 0:
            fails.append('evaluate_stream.py --label-threshold failed')
        else:
            with open(os.path.join(ldir, 'stream.eval.json')) as f:
                r = json.load(f)['results']['clean']['smoke'][0]
            n_no = sum(1 for _, lab in items if lab == 'no')
            yes = r['found'] + r['false_alarm_labels'].get('yes', 0)
            if set(r['false_alarm_labels']) - {'yes'} or r['missed_by_label'].get('no', 0) != n_no or not yes:
                fails.append(f'evaluate_stream --thresholds 1 --label-threshold yes=0: not only "yes": {r}')
        t3 = time.time()
        print(f'smoke: {n} test clips; engine rel error {e1:.2e}, full C pipeline rel error {e2:.2e}; '
              f'generate {t1 - t0:.1f} s, train+export {t2 - t1:.1f} s, C inference {t3 - t2:.1f} s')
    for f in fails:
        print('FAIL ' + f)
    print(f'{1 - bool(fails)} passed, {int(bool(fails))} failed')
    return 1 if fails else 0


if __name__ == '__main__':
    sys.exit(main())
