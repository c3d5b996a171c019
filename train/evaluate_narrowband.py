#!/usr/bin/python3
"""The shipped model on narrowband audio: the test split at 16 kHz against
the same clips through a lower sample rate (8 kHz: telephone, Bluetooth
hands-free CVSD), scored by `drsn classify`.

  /usr/bin/python3 train/evaluate_narrowband.py --data CORPUS --drsn build/src/cli/drsn \
      [--model models/kws20-drsn-cw.safetensors] [--rates 8000] [--conditions clean,real@0]

Each condition's audio is made as evaluate.py --drsn makes it (the clean
test clips, noise added at --seed, rounded to 16-bit steps, 32-bit float
WAVs at 16 kHz). For each rate in --rates every clip is then converted to
that rate with sox (its default, high-quality `rate`), and drsn classify
reads the lower-rate file and resamples it back to the model's 16 kHz itself
(libsoxr), as it does for a telephone recording: the noise is in the room,
the rate limit in the channel. The 16 kHz files are scored too. Writes
<out-dir>/<model>.narrowband.md and .json (default out-dir: models/).
"""
import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import evaluate  # noqa: E402
from corpusgen import layout  # noqa: E402


def to_rate(src, dst, rate):
    """src converted to rate Hz by sox (same encoding: 32-bit float)."""
    subprocess.run(['sox', src, '-r', str(rate), dst], check=True, capture_output=True)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default=os.path.join(here, 'corpus'))
    ap.add_argument('--drsn', required=True, help='the drsn executable (build/src/cli/drsn)')
    ap.add_argument('--model', default=os.path.join(root, 'models', 'kws20-drsn-cw.safetensors'))
    ap.add_argument('--rates', default='8000', help='lower rates to go through, Hz (default 8000)')
    ap.add_argument('--conditions', default='clean,real@0',
                    help='evaluate.py conditions, e.g. clean,pink@5,real@0 (default clean,real@0)')
    ap.add_argument('--seed', type=int, default=1, help='noise seed (default 1)')
    ap.add_argument('--out-dir', default=os.path.join(root, 'models'))
    a = ap.parse_args(argv)
    try:
        rates = [int(r) for r in a.rates.split(',') if r.strip()]
    except ValueError:
        sys.exit(f'evaluate_narrowband: --rates {a.rates!r}: want rates in Hz, e.g. 8000,11025')
    t0 = time.time()
    try:
        _, labels, _, name, _ = evaluate.load_model(a.model)
    except evaluate.LOAD_ERRORS as e:
        sys.exit(f'evaluate_narrowband: {a.model}: cannot load the model ({e})')
    rows = layout.clip_rows(a.data)
    try:
        paths, x, spans, y = evaluate.test_set(a.data, labels, rows)
    except (OSError, ValueError) as e:
        sys.exit(f'evaluate_narrowband: {e}')
    conds = [c.strip() for c in a.conditions.split(',') if c.strip()]
    res = {}
    with tempfile.TemporaryDirectory(prefix='drsn-narrow-') as tmp:
        for cond in conds:
            kind, snr = (cond.split('@') + [None])[:2]
            snr = None if snr is None else int(snr)
            audio = np.clip(np.rint(evaluate.condition_audio(x, spans, paths, kind, snr, a.seed) * 32768.0),
                            -32768, 32767).astype(np.float32) / 32768.0
            files = {16000: []}
            for i, xi in enumerate(audio):
                files[16000].append(os.path.join(tmp, f'{i:05d}.wav'))
                evaluate.write_wav_f32(files[16000][-1], xi)
            for r in rates:
                files[r] = [f[:-4] + f'-{r}.wav' for f in files[16000]]
                for src, dst in zip(files[16000], files[r]):
                    to_rate(src, dst, r)
            res[cond] = {}
            for r in [16000] + rates:
                pred = evaluate.c_classify(a.drsn, a.model, files[r], labels)
                by_label = {lab: float(np.mean(pred[y == i] == i)) for i, lab in enumerate(labels) if np.any(y == i)}
                res[cond][str(r)] = {'accuracy': float(np.mean(pred == y)), 'by_label': by_label}
                print(f'evaluate_narrowband: {name} {cond} {r} Hz: {100 * res[cond][str(r)]["accuracy"]:.2f}%',
                      file=sys.stderr)
            for f in sum(files.values(), []):
                os.unlink(f)
    cmd = ' '.join(['evaluate_narrowband.py'] + list(sys.argv[1:] if argv is None else argv))
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    cols = [16000] + rates
    lines = [f'# {name}: test accuracy through a lower sample rate', '',
             f'{len(y)} test clips from held-out voices ({a.data}), noise seed {a.seed}; each converted to '
             'the rate with sox, read back by `drsn classify` (libsoxr to 16 kHz).',
             f'Command: `{cmd}`', '',
             '| condition | ' + ' | '.join(f'{r} Hz' for r in cols) + ' |', '|' + '---|' * (len(cols) + 1)]
    for cond in conds:
        lines.append(f'| {cond} | ' + ' | '.join(f'{100 * res[cond][str(r)]["accuracy"]:.2f}' for r in cols) + ' |')
    for r in rates:
        for cond in conds:
            d = {lab: res[cond][str(r)]['by_label'][lab] - res[cond]['16000']['by_label'][lab]
                 for lab in res[cond]['16000']['by_label']}
            worst = sorted(d.items(), key=lambda kv: (kv[1], kv[0]))[:6]
            lines += ['', f'{cond}, {r} Hz against 16 kHz, the labels that lose most (points): '
                      + ', '.join(f'{lab} {100 * v:+.1f}' for lab, v in worst) + '.']
    md = '\n'.join(lines) + '\n'
    evaluate.write_report(a.out_dir, name + '.narrowband', md,
                          {'model': name, 'test_clips': int(len(y)), 'noise_seed': a.seed,
                           'data': os.path.abspath(a.data), 'rates': cols, 'accuracy': res,
                           'command': cmd, 'date': date})
    print(md)
    print(f'evaluate_narrowband: {len(conds)} condition(s), {len(cols)} rates, {len(y)} clips, '
          f'{time.time() - t0:.1f} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
