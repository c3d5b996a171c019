#!/usr/bin/python3
"""Keyword accuracy of a model with and without the denoiser in front, as
drsnd runs it ([denoise] classify_on = raw | denoised), scored entirely by
the C tools: `drsn denoise` (strength as given) then `drsn classify`.

  /usr/bin/python3 train/evaluate_denoise.py --data train/corpus --drsn build/src/cli/drsn \\
      models/kws20-drsn-cw.safetensors [--snrs 0,5] [--every 2] [--strength 20]

A streaming denoiser has tracked the noise for a while by the time a word
comes, so each test clip gets --lead-in seconds (default 2) of the same noise
before it (evaluate.py's conditions: noise at the SNR over the word, seeded
alike); the denoiser runs over lead-in + clip, and the last second, aligned
with the clip, is classified. The raw column classifies the same last second
without denoising. Writes <out-dir>/<model>.denoise.md and .json.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import evaluate as E  # noqa: E402
from corpusgen import noise, recipe  # noqa: E402


def denoise_all(drsn, files, strength):
    """drsn denoise each (in, out) pair."""
    for src, dst in files:
        r = subprocess.run([drsn, 'denoise', '--strength', str(strength), src, dst],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f'{drsn} denoise {src}: exited {r.returncode}: {r.stderr.strip()[:300]}')


def read_f32(path):
    with open(path, 'rb') as f:
        data = f.read()
    i = data.index(b'data') + 8
    return np.frombuffer(data[i:], dtype='<f4')


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model', help='exported .safetensors')
    ap.add_argument('--data', default=os.path.join(here, 'corpus'))
    ap.add_argument('--drsn', required=True, help='the drsn executable')
    ap.add_argument('--snrs', default='0,5')
    ap.add_argument('--every', type=int, default=1, help='use every Nth test clip (default all)')
    ap.add_argument('--strength', type=float, default=20.0, help='drsn denoise --strength (default 20)')
    ap.add_argument('--lead-in', type=float, default=2.0)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--out-dir', default=os.path.join(os.path.dirname(here), 'models'))
    a = ap.parse_args(argv)
    t0 = time.time()
    m, labels, _, name, _ = E.load_model(a.model)
    paths, x, spans, y = E.test_set(a.data, labels)
    idx = np.arange(0, len(y), a.every)
    paths, x, y = [paths[i] for i in idx], x[idx], y[idx]
    spans = [spans[i] for i in idx]
    lead = int(a.lead_in * 16000)
    snrs = [int(s) for s in a.snrs.split(',')]
    res = {}
    with tempfile.TemporaryDirectory(prefix='drsn-dn-') as tmp:
        for kind in noise.KINDS:
            for snr in snrs:
                longs = []
                for xi, sp, p in zip(x, spans, paths):
                    xl = np.concatenate([np.zeros(lead, dtype=np.float32), xi])
                    spl = None if sp is None else (sp[0] + lead, sp[1] + lead)
                    longs.append(recipe.make_condition(xl, spl, kind, snr, a.seed, 'dn|' + p))
                pairs = []
                for i, xl in enumerate(longs):
                    src = os.path.join(tmp, f'in{i:05d}.wav')
                    E.write_wav_f32(src, xl)
                    pairs.append((src, os.path.join(tmp, f'out{i:05d}.wav')))
                denoise_all(a.drsn, pairs, a.strength)
                raw = np.stack([xl[-16000:] for xl in longs])
                den = np.stack([read_f32(dst)[-16000:] for _, dst in pairs])
                pr = E.c_predict(a.drsn, a.model, raw, labels, tmp)
                pd = E.c_predict(a.drsn, a.model, den, labels, tmp)
                for f in os.listdir(tmp):
                    os.unlink(os.path.join(tmp, f))
                res[f'{kind}@{snr}'] = {'raw': float(np.mean(pr == y)), 'denoised': float(np.mean(pd == y))}
                print(f'evaluate_denoise: {kind} {snr} dB: raw {100 * res[f"{kind}@{snr}"]["raw"]:.2f}%, '
                      f'denoised {100 * res[f"{kind}@{snr}"]["denoised"]:.2f}%', file=sys.stderr)
    lines = [f'# {name}: keyword accuracy with and without the denoiser in front', '',
             f'{len(y)} test clips (held-out voices; every {a.every}), each after {a.lead_in:g} s of the same '
             f'noise; `drsn denoise --strength {a.strength:g}` then `drsn classify`.',
             f'Command: `evaluate_denoise.py {" ".join(sys.argv[1:] if argv is None else argv)}`', '',
             '| noise | ' + ' | '.join(f'{s} dB raw | {s} dB denoised' for s in snrs) + ' |',
             '|---|' + '---|---|' * len(snrs)]
    for kind in noise.KINDS:
        lines.append(f'| {E.KIND_TITLE[kind]} | ' + ' | '.join(
            f'{100 * res[f"{kind}@{s}"]["raw"]:.2f} | {100 * res[f"{kind}@{s}"]["denoised"]:.2f}' for s in snrs) + ' |')
    mean = {s: {k: float(np.mean([res[f'{kd}@{s}'][k] for kd in noise.KINDS])) for k in ('raw', 'denoised')}
            for s in snrs}
    lines.append('| **mean** | ' + ' | '.join(
        f'**{100 * mean[s]["raw"]:.2f}** | **{100 * mean[s]["denoised"]:.2f}**' for s in snrs) + ' |')
    md = '\n'.join(lines) + '\n'
    E.write_report(a.out_dir, name + '.denoise', md,
                   {'model': name, 'clips': int(len(y)), 'every': a.every, 'strength_db': a.strength,
                    'lead_in_s': a.lead_in, 'accuracy': res, 'mean': {str(k): v for k, v in mean.items()}})
    print(md)
    print(f'evaluate_denoise: {time.time() - t0:.1f} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
