#!/usr/bin/python3
"""Test accuracy per noise type x SNR on the held-out voices.

  /usr/bin/python3 train/evaluate.py --data train/corpus \
      train/runs/kws20-drsn-cw/best.pt train/runs/kws20-drsn-cs/best.pt train/runs/kws20-resnet/best.pt

Each model (a train.py checkpoint .pt or an exported .safetensors) is scored
on the test split (testing_list.txt: only voices never heard in training)
under every condition: clean, and Gaussian, pink, Laplacian and recorded
noise (lincity-ng-data files held out from training) at 20, 10, 5, 0 and
-5 dB SNR. The noise is added here, seeded by (--seed, clip, condition), to
the clean test clips, so every model hears exactly the same audio. SNR is
speech power over the word (clips.csv's span; estimated from the clean clip
for other corpora) against noise power over the window; _silence_ test clips
get the noise at -25 dBFS - SNR.

With --drsn PATH (the C command-line tool, e.g. build/src/cli/drsn) each model
is also scored by `drsn classify` (its exported .safetensors; a .pt is
exported to a temporary file first) on the same audio under --c-conditions
(default clean and recorded noise at 0 dB): the clips are rounded to 16-bit
steps (as train.py keeps clips and drsn classify reads them) and written as
32-bit float WAVs, so both sides see identical samples. The C tool's accuracy must
equal PyTorch's to within 0.1 points; the table says how far apart they are
and on how many clips the two predictions differ.

With --split training the same conditions are applied to a sample of the
training split instead (its noise-free clips, --per-label of each keyword
and twice that of _unknown_, seeded by --seed; _silence_ clips all carry
noise and are left out), written as <name>.training.eval.md/.json: voices,
and clips, the model learnt from. Its distance from the test scores is
what held-out voices cost; its own distance from 100% is what the noise
costs even on familiar speech.

With --ensemble NAME the models are scored as one: the mean of their
softmaxes (as train.py --teacher distils from), written as NAME.eval.md/.json.
It bounds what distilling those models into one could give.

Prints the tables and writes <out-dir>/<name>.eval.md and .json per model
(default out-dir: models/), and comparison.eval.md/.json when given several.
"""
import argparse
import collections
import datetime
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from corpusgen import layout, noise, recipe  # noqa: E402
from drsn import frontend  # noqa: E402
from drsn import model as M  # noqa: E402
from drsn import safetensors  # noqa: E402

CONDITIONS = recipe.EVAL_CONDITIONS
KIND_TITLE = {'clean': 'clean', 'gaussian': 'Gaussian', 'pink': 'pink', 'laplacian': 'Laplacian', 'real': 'recorded'}


# what load_model raises for a file that is missing or no model (torch.load
# of a non-checkpoint raises UnpicklingError or EOFError)
LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError, EOFError, pickle.UnpicklingError)


def load_model(path):
    """(model in eval mode, labels, front-end params dict, name, provenance)."""
    if path.endswith('.safetensors'):
        tensors, meta = safetensors.load(path)
        arch = json.loads(meta['architecture'])
        m = M.load_state(M.DRSN(arch), tensors)
        labels, fe = json.loads(meta['labels']), json.loads(meta['frontend'])
        prov = json.loads(meta.get('provenance', '{}'))
        name = os.path.basename(path)[:-len('.safetensors')]
    else:
        ck = torch.load(path, map_location='cpu')
        m = M.DRSN(ck['arch'])
        m.load_state_dict(ck['state_dict'])
        labels, fe, prov = list(ck['labels']), ck.get('frontend'), ck.get('provenance', {})
        name = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return m.eval(), labels, fe, name, prov


class Ensemble(torch.nn.Module):
    """Several models as one: log of the mean of their softmaxes."""

    def __init__(self, models):
        super().__init__()
        self.members = torch.nn.ModuleList(models)
        self.arch = {'variant': 'ensemble of ' + ', '.join(m.arch['variant'] for m in models)}

    def forward(self, x):
        return torch.stack([torch.softmax(m(x), 1) for m in self.members]).mean(0).log()

    def n_params(self):
        return sum(m.n_params() for m in self.members)

    def macs(self):
        return sum(m.macs() for m in self.members)


def ensemble(models, name):
    """load_model() results of several models -> one load_model()-like tuple."""
    labels, fe = models[0][1], models[0][2]
    for _, lab, f, n, _ in models[1:]:
        if lab != labels or f != fe:
            raise ValueError(f'--ensemble: {n}: its labels or front end differ from {models[0][3]}\'s')
    prov = {'ensemble': [{'model': n, 'provenance': p} for _, _, _, n, p in models]}
    return Ensemble([m for m, *_ in models]).eval(), labels, fe, name, prov


def seen_items(items, rows, per_label, seed):
    """A label-stratified sample of training items [(relpath, label)]: the
    noise-free clips only (clips.csv's noise column empty; every clip of a
    corpus without clips.csv), per_label of each label and 2 * per_label of
    _unknown_ (as the test split has), drawn with a generator seeded by seed."""
    by = collections.defaultdict(list)
    for rel, lab in items:
        if not (rows.get(rel) or {}).get('noise'):
            by[lab].append((rel, lab))
    rng = np.random.default_rng(seed)
    out = []
    for lab in sorted(by):
        n = 2 * per_label if lab == '_unknown_' else per_label
        pick = sorted(rng.permutation(len(by[lab]))[:n])
        out += [by[lab][i] for i in pick]
    return out


def test_set(root, labels, rows=None, split='testing', per_label=96, seed=1):
    """(paths, clips [N, 16000], word spans, targets) of the test split, or
    with split 'training' of seen_items() of the training split; rows:
    layout.clip_rows(root), if the caller has read it already."""
    keywords = [lab for lab in labels if not lab.startswith('_')]
    rows = layout.clip_rows(root) if rows is None else rows
    items = layout.scan(root, keywords)[split]
    if split == 'training':
        items = seen_items(items, rows, per_label, seed)
        if not items:
            raise ValueError(f'{root}: the training split has no noise-free clips')
    elif not items:
        raise ValueError(f'{root}: testing_list.txt lists no clips')
    spans = layout.spans(rows)
    x = np.stack([layout.read_clip(os.path.join(root, rel)) for rel, _ in items])
    sp = []
    for (rel, lab), xi in zip(items, x):
        if lab == '_silence_':
            sp.append(None)
        else:
            sp.append(spans.get(rel) or layout.estimate_span(xi))
    y = np.array([labels.index(lab) for _, lab in items])
    return [rel for rel, _ in items], x, sp, y


def condition_audio(x, spans, paths, kind, snr, seed):
    if kind == 'clean':
        return x
    return np.stack([recipe.make_condition(xi, s, kind, snr, seed, p)
                     for xi, s, p in zip(x, spans, paths)])


def features(fe, audio, batch=256):
    out = []
    with torch.no_grad():
        for i in range(0, len(audio), batch):
            out.append(fe(torch.from_numpy(np.ascontiguousarray(audio[i:i + batch], dtype=np.float32))))
    return torch.cat(out)


def predict(model, feats, batch=256):
    with torch.no_grad():
        return torch.cat([model(feats[i:i + batch]).argmax(1) for i in range(0, len(feats), batch)]).numpy()


def write_report(out_dir, stem, md, data):
    """<out_dir>/<stem>.md (md as given) and <stem>.json (data, indented,
    sorted keys, a final newline): the pair every evaluation script writes."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, stem + '.md'), 'w') as f:
        f.write(md)
    with open(os.path.join(out_dir, stem + '.json'), 'w') as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write('\n')


def write_wav_f32(path, x, rate=16000):
    """Mono IEEE-float WAV: libsndfile reads it back bit-exactly."""
    data = np.asarray(x, dtype='<f4').tobytes()
    fmt = struct.pack('<HHIIHH', 3, 1, rate, rate * 4, 4, 32)
    with open(path, 'wb') as f:
        f.write(b'RIFF' + struct.pack('<I', 4 + 8 + len(fmt) + 8 + len(data)) + b'WAVE')
        f.write(b'fmt ' + struct.pack('<I', len(fmt)) + fmt)
        f.write(b'data' + struct.pack('<I', len(data)) + data)


def c_predict(drsn, model_path, audio, labels, tmp):
    """Labels predicted by `drsn classify` for each clip of audio [N, samples]."""
    files = []
    for i, xi in enumerate(audio):
        files.append(os.path.join(tmp, f'{i:05d}.wav'))
        write_wav_f32(files[-1], xi)
    pred = c_classify(drsn, model_path, files, labels)
    for f in files:
        os.unlink(f)
    return pred


def c_classify(drsn, model_path, files, labels):
    """Label index predicted by `drsn classify` for each of files."""
    pred = {}
    for i in range(0, len(files), 400):
        r = subprocess.run([drsn, 'classify', '--model', model_path, '--top', '1'] + files[i:i + 400],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f'{drsn} classify exited {r.returncode}: {r.stderr.strip()[:500]}')
        for line in r.stdout.splitlines():
            o = json.loads(line)
            pred[o['file']] = labels.index(o['label'])
    return np.array([pred[f] for f in files])


def c_scores(a, models, x, spans, paths, y, labels, torch_res):
    """{model name: {condition: {'torch','c','points','differ'}}} via drsn classify."""
    import export
    out = {}
    conds = [c.strip() for c in a.c_conditions.split(',') if c.strip()]
    with tempfile.TemporaryDirectory(prefix='drsn-eval-') as tmp:
        for (m, _, fe_d, name, prov), src, r in zip(models, a.models, torch_res):
            mp = src
            if not src.endswith('.safetensors'):
                mp = os.path.join(tmp, name + '.safetensors')
                export.export(m, mp, fe_d, labels, prov)
            out[name] = {}
            fe = frontend.FrontEnd(fe_d)
            for cond in conds:
                kind, snr = (cond.split('@') + [None])[:2]
                snr = None if snr is None else int(snr)
                # drsn classify rounds each clip to 16-bit steps, as train.py
                # keeps clips: give PyTorch the same samples
                audio = np.clip(np.rint(condition_audio(x, spans, paths, kind, snr, a.seed) * 32768.0),
                                -32768, 32767).astype(np.float32) / 32768.0
                pt = predict(m, features(fe, audio))
                pc = c_predict(a.drsn, mp, audio, labels, tmp)
                acc_t, acc_c = float(np.mean(pt == y)), float(np.mean(pc == y))
                out[name][cond] = {'torch': acc_t, 'c': acc_c, 'points': round(100 * (acc_c - acc_t), 4),
                                   'differ': int(np.sum(pt != pc))}
                print(f'evaluate: {name} {cond}: PyTorch {100 * acc_t:.2f}%, drsn classify {100 * acc_c:.2f}% '
                      f'({out[name][cond]["points"]:+.2f} points; {out[name][cond]["differ"]} of {len(y)} '
                      'predictions differ)', file=sys.stderr)
    return out


def c_table_md(cres):
    lines = ['', 'Scored again by the C tool (`drsn classify`) on the same audio:', '',
             '| condition | PyTorch | drsn classify | difference (points) | clips predicted differently |',
             '|---|---|---|---|---|']
    for cond, v in cres.items():
        lines.append(f'| {cond} | {100 * v["torch"]:.2f} | {100 * v["c"]:.2f} | {v["points"]:+.2f} | {v["differ"]} |')
    return '\n'.join(lines)


def table_md(res, snrs):
    """Markdown table: noise type rows x SNR columns, accuracy in %."""
    head = '| noise | ' + ' | '.join(f'{s} dB' for s in snrs) + ' |'
    lines = [f'clean: **{100 * res["clean"]:.2f}%**', '', head, '|' + '---|' * (len(snrs) + 1)]
    for k in noise.KINDS:
        lines.append(f'| {KIND_TITLE[k]} | ' + ' | '.join(f'{100 * res[f"{k}@{s}"]:.2f}' for s in snrs) + ' |')
    lines.append('| **mean of noises** | ' + ' | '.join(
        f'**{100 * np.mean([res[f"{k}@{s}"] for k in noise.KINDS]):.2f}**' for s in snrs) + ' |')
    return '\n'.join(lines)


def voice_groups(rows, paths):
    """Each test clip's voice group for the breakdown: the synthesizer and
    accent of its clips.csv voice (espeak:en-029+m3 -> espeak:en-029), or
    None for corpora without clips.csv."""
    if not rows:
        return None
    return [((rows.get(rel) or {}).get('voice') or '(noise only)').split('+')[0] for rel in paths]


def breakdown(pred, y, labels, groups, top=10):
    """Clean accuracy per voice group and per label, and the commonest
    confusions: where the errors are."""
    def acc(mask):
        return {'accuracy': float(np.mean(pred[mask] == y[mask])), 'clips': int(np.sum(mask))}
    out = {'by_label': {lab: acc(y == i) for i, lab in enumerate(labels) if np.any(y == i)}}
    if groups is not None:
        g = np.array(groups)
        out['by_voice'] = {v: acc(g == v) for v in sorted(set(groups))}
    pairs = collections.Counter((labels[t], labels[q]) for t, q in zip(y[pred != y], pred[pred != y]))
    out['confusions'] = [[t, q, n] for (t, q), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
    return out


def breakdown_md(b):
    lines = ['', 'Where the clean errors are:', '']
    if 'by_voice' in b:
        lines += ['| voice | clips | accuracy |', '|---|---|---|']
        lines += [f'| {v} | {r["clips"]} | {100 * r["accuracy"]:.2f} |' for v, r in b['by_voice'].items()]
        lines.append('')
    worst = sorted(b['by_label'].items(), key=lambda kv: (kv[1]['accuracy'], kv[0]))
    lines.append('Per label, worst first: ' + ', '.join(f'{lab} {100 * r["accuracy"]:.1f}' for lab, r in worst) + '.')
    if b['confusions']:
        lines += ['', 'Commonest confusions (true → predicted, clips): '
                  + ', '.join(f'{t} → {q} {n}' for t, q, n in b['confusions']) + '.']
    return '\n'.join(lines)


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('models', nargs='+', help='train.py checkpoints (.pt) or exported .safetensors')
    ap.add_argument('--data', default=os.path.join(here, 'corpus'))
    ap.add_argument('--out-dir', default=os.path.join(os.path.dirname(here), 'models'))
    ap.add_argument('--seed', type=int, default=1, help='noise seed (default 1)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--drsn', help='also score through this `drsn` executable (drsn classify)')
    ap.add_argument('--c-conditions', default='clean,real@0',
                    help='conditions for --drsn, e.g. clean,pink@5,real@0 (default clean,real@0)')
    ap.add_argument('--split', default='testing', choices=('testing', 'training'),
                    help='testing (default: held-out voices), or training: a sample of the noise-free '
                         'training clips under the same conditions, written as <name>.training.eval.*')
    ap.add_argument('--per-label', type=int, default=96,
                    help='--split training: clips per keyword (twice as many _unknown_; default 96)')
    ap.add_argument('--ensemble', metavar='NAME',
                    help='score the models as one ensemble (mean of their softmaxes), written as NAME.eval.*')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    models = []
    for p in a.models:
        try:
            models.append(load_model(p))
        except LOAD_ERRORS as e:
            sys.exit(f'evaluate: {p}: cannot load the model ({e})')
    if a.ensemble:
        if a.drsn:
            sys.exit('evaluate: --ensemble and --drsn: drsn classify runs one model file, not an ensemble')
        try:
            models = [ensemble(models, a.ensemble)]
        except ValueError as e:
            sys.exit(f'evaluate: {e}')
    labels = models[0][1]
    for m, lab, fe_d, name, _ in models[1:]:
        if lab != labels:
            sys.exit(f'evaluate: {name}: labels differ from {models[0][3]}\'s; evaluate them separately')
    rows = layout.clip_rows(a.data)
    if a.per_label < 1:
        sys.exit(f'evaluate: --per-label {a.per_label}: want at least 1')
    try:
        paths, x, spans, y = test_set(a.data, labels, rows, a.split, a.per_label, a.seed)
    except (OSError, ValueError) as e:     # no corpus folder or list, an unreadable clip
        sys.exit(f'evaluate: {e}')
    snrs = list(recipe.EVAL_SNRS)
    res = [dict() for _ in models]
    brk = [None for _ in models]
    groups = voice_groups(rows, paths)
    # models with the same front-end parameters share one feature computation
    fe_key = [json.dumps(fe_d, sort_keys=True) for _, _, fe_d, _, _ in models]
    fes = {k: frontend.FrontEnd(json.loads(k)) for k in fe_key}
    for kind, snr in CONDITIONS:
        audio = condition_audio(x, spans, paths, kind, snr, a.seed)
        key = 'clean' if kind == 'clean' else f'{kind}@{snr}'
        feats = {k: features(fe, audio) for k, fe in fes.items()}
        for i, (m, _, _, name, _) in enumerate(models):
            pred = predict(m, feats[fe_key[i]])
            res[i][key] = float(np.mean(pred == y))
            if key == 'clean':
                brk[i] = breakdown(pred, y, labels, groups)
    cres = c_scores(a, models, x, spans, paths, y, labels, res) if a.drsn else {}
    n_by = {lab: int(np.sum(y == i)) for i, lab in enumerate(labels)}
    corpus_meta = {}
    cj = os.path.join(a.data, 'corpus.json')
    if os.path.exists(cj):
        with open(cj) as f:
            c = json.load(f)
        corpus_meta = {'seed': c.get('seed'), 'test_voices': c.get('voices', {}).get('testing'),
                       'test_noise_files': c.get('noise', {}).get('recorded_files', {}).get('testing')}
    date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    os.makedirs(a.out_dir, exist_ok=True)
    cmd = ' '.join(['evaluate.py'] + list(sys.argv[1:] if argv is None else argv))
    if a.split == 'training':
        suffix, what = '.training', 'training-split'
        clips = 'noise-free training clips (voices the model learnt from; a sample of --per-label per keyword)'
    else:
        suffix, what, clips = '', 'test', 'test clips from held-out voices'
    for (m, _, _, name, prov), r, b in zip(models, res, brk):
        body = {'model': name, 'variant': m.arch['variant'], 'params': m.n_params(), 'macs': m.macs(),
                'test_clips': int(len(y)), 'test_clips_per_label': n_by, 'accuracy': r,
                'mean_over_noises': {str(s): float(np.mean([r[f'{k}@{s}'] for k in noise.KINDS])) for s in snrs},
                'noise_seed': a.seed, 'data': os.path.abspath(a.data), 'corpus': corpus_meta, 'split': a.split,
                'clean_breakdown': b, 'provenance': prov, 'command': cmd, 'date': date}
        if name in cres:
            body['drsn_classify'] = cres[name]
        md = (f'# {name}: {what} accuracy by noise type and SNR\n\n'
              f'{m.arch["variant"]}, {m.n_params()} parameters, {m.macs()} MACs per 1 s window. '
              f'{len(y)} {clips} ({a.data}), noise seed {a.seed}.\n'
              f'Command: `{cmd}`\n\n' + table_md(r, snrs) + '\n' + breakdown_md(b) + '\n'
              + (c_table_md(cres[name]) + '\n' if name in cres else ''))
        write_report(a.out_dir, name + suffix + '.eval', md, body)
        print(md)
    if len(models) > 1:
        head = '| model | clean | ' + ' | '.join(f'noise mean {s} dB' for s in snrs) + ' |'
        lines = [f'# Comparison (same {what} audio)', '', head, '|' + '---|' * (len(snrs) + 2)]
        for (m, _, _, name, _), r in zip(models, res):
            lines.append(f'| {name} | {100 * r["clean"]:.2f} | ' + ' | '.join(
                f'{100 * np.mean([r[f"{k}@{s}"] for k in noise.KINDS]):.2f}' for s in snrs) + ' |')
        md = '\n'.join(lines) + '\n'
        write_report(a.out_dir, 'comparison' + suffix + '.eval', md,
                     {name: r for (_, _, _, name, _), r in zip(models, res)})
        print(md)
    print(f'evaluate: {len(models)} model(s), {len(CONDITIONS)} conditions, {len(y)} clips, '
          f'{time.time() - t0:.1f} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
