#!/usr/bin/python3
"""How much of a margin between variants is the training seed?

  /usr/bin/python3 train/seeds.py --out models/seeds/README.md \
      models/kws20-drsn-cw.eval.json models/seeds/*.eval.json models/kws20-resnet.eval.json

Reads evaluate.py's <name>.eval.json files of several training runs that
differ only in --seed (the variant and seed come from each file's
provenance), groups them by variant and prints, per condition (clean and the
mean over the four noise types at each SNR):

  - each variant's test accuracy over its seeds: mean, sample standard
    deviation, and the range;
  - the difference between two variants (default DRSN-CW minus ResNet): the
    difference of the means with its standard error
    sqrt(sd_a^2/n_a + sd_b^2/n_b), and the difference per seed where both
    variants have a run with that seed (the same seed gives the same
    clip order and noise draws in train.py, not the same weights).

An argument GROUP=FILE puts that run in GROUP instead of its variant, for
arms that share a variant and differ in something else (an input layer, a
layer plan):

  /usr/bin/python3 train/seeds.py --a cw-pcen --b cw \
      cw-pcen=models/pcen/kws20-drsn-cw-pcen.eval.json ... cw=models/18-epochs/kws20-drsn-cw.eval.json ...

A single pair of runs cannot tell a two-point margin from seed noise; this
table can, as far as three or so seeds per variant allow.
"""
import argparse
import json
import math
import sys

VARIANT_TITLE = {'cw': 'DRSN-CW', 'cs': 'DRSN-CS', 'resnet': 'ResNet'}
SNRS = ('20', '10', '5', '0', '-5')


def conditions():
    return ['clean'] + ['%s dB' % s.replace('-', '−') for s in SNRS]


def run_row(ev):
    """One run's accuracies in percent, in conditions() order."""
    return [100.0 * ev['accuracy']['clean']] + [100.0 * ev['mean_over_noises'][s] for s in SNRS]


def voice_row(ev):
    """{test voice: clean accuracy in percent}, from evaluate.py's breakdown."""
    by_voice = (ev.get('clean_breakdown') or {}).get('by_voice') or {}
    return {v: 100.0 * d['accuracy'] for v, d in by_voice.items()}


def load(paths):
    """{variant: {seed: (name, row, voices)}}; a seed given twice for a variant
    is an error. A path GROUP=FILE files the run under GROUP."""
    runs = {}
    for arg in paths:
        group, sep, path = arg.partition('=')
        if not sep:
            group, path = None, arg
        elif not group:
            raise ValueError('%s: empty group name before "="' % arg)
        with open(path) as f:
            ev = json.load(f)
        prov = ev.get('provenance') or {}
        variant, seed = group or ev.get('variant') or prov.get('variant'), prov.get('seed')
        if variant is None or seed is None:
            raise ValueError('%s: no variant or training seed in its provenance' % path)
        by_seed = runs.setdefault(variant, {})
        if seed in by_seed:
            raise ValueError('%s: %s seed %d is already given by %s' % (path, variant, seed, by_seed[seed][0]))
        by_seed[seed] = (ev.get('model', path), run_row(ev), voice_row(ev))
    return runs


def stats(values):
    """(mean, sample sd or nan for one value, min, max)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float('nan')
    return mean, sd, min(values), max(values)


def summarize(runs, a='cw', b='resnet'):
    """Dict with per-variant stats and the a-b difference, per condition."""
    out = {'conditions': conditions(), 'variants': {}, 'difference': None}
    for variant, by_seed in sorted(runs.items()):
        cols = list(zip(*(run[1] for run in by_seed.values())))
        out['variants'][variant] = {
            'seeds': sorted(by_seed), 'runs': sorted(run[0] for run in by_seed.values()),
            'mean': [], 'sd': [], 'min': [], 'max': [], 'clean_by_voice': {}}
        voices = sorted(set().union(*(run[2] for run in by_seed.values())))
        for voice in voices:
            vals = [by_seed[seed][2][voice] for seed in sorted(by_seed) if voice in by_seed[seed][2]]
            mean, sd, _, _ = stats(vals)
            out['variants'][variant]['clean_by_voice'][voice] = {'per_seed': vals, 'mean': mean, 'sd': sd}
        for col in cols:
            mean, sd, lo, hi = stats(list(col))
            v = out['variants'][variant]
            v['mean'].append(mean)
            v['sd'].append(sd)
            v['min'].append(lo)
            v['max'].append(hi)
    if a in runs and b in runs:
        va, vb = out['variants'][a], out['variants'][b]
        na, nb = len(va['seeds']), len(vb['seeds'])
        paired = sorted(set(runs[a]) & set(runs[b]))
        diff = {'a': a, 'b': b, 'mean': [], 'se': [], 'paired_seeds': paired, 'per_seed': {}}
        for i in range(len(out['conditions'])):
            diff['mean'].append(va['mean'][i] - vb['mean'][i])
            if na > 1 and nb > 1:
                diff['se'].append(math.sqrt(va['sd'][i] ** 2 / na + vb['sd'][i] ** 2 / nb))
            else:
                diff['se'].append(float('nan'))
        for seed in paired:
            diff['per_seed'][seed] = [x - y for x, y in zip(runs[a][seed][1], runs[b][seed][1])]
        out['difference'] = diff
    return out


def fmt(x, signed=False):
    if math.isnan(x):
        return '–'
    s = '%+.2f' % x if signed else '%.2f' % x
    return s.replace('-', '−')


def markdown(summary):
    conds = summary['conditions']
    lines = ['Test accuracy (%) over training seeds: mean ± sample sd [min–max]; noise columns are the',
             'mean over Gaussian, pink, Laplacian and recorded noise.', '',
             '| variant | seeds | ' + ' | '.join(conds) + ' |',
             '|---|---|' + '---|' * len(conds)]
    for variant, v in summary['variants'].items():
        cells = ['%s ± %s [%s–%s]' % (fmt(m), fmt(s), fmt(lo), fmt(hi))
                 for m, s, lo, hi in zip(v['mean'], v['sd'], v['min'], v['max'])]
        lines.append('| %s | %s | %s |' % (VARIANT_TITLE.get(variant, variant),
                                          ','.join(str(s) for s in v['seeds']), ' | '.join(cells)))
    d = summary['difference']
    if d:
        ta, tb = VARIANT_TITLE.get(d['a'], d['a']), VARIANT_TITLE.get(d['b'], d['b'])
        lines += ['', '%s − %s (points):' % (ta, tb), '',
                  '| | ' + ' | '.join(conds) + ' |', '|---|' + '---|' * len(conds),
                  '| difference of means ± standard error | ' + ' | '.join(
                      '%s ± %s' % (fmt(m, True), fmt(s)) for m, s in zip(d['mean'], d['se'])) + ' |']
        for seed, row in sorted(d['per_seed'].items()):
            lines.append('| seed %d | %s |' % (seed, ' | '.join(fmt(x, True) for x in row)))
    voices = sorted(set().union(*(v['clean_by_voice'] for v in summary['variants'].values())))
    if voices:
        lines += ['', 'Clean accuracy per test voice (%), each seed in order, then mean ± sd:', '',
                  '| variant | ' + ' | '.join(voices) + ' |', '|---|' + '---|' * len(voices)]
        for variant, v in summary['variants'].items():
            cells = []
            for voice in voices:
                c = v['clean_by_voice'].get(voice)
                cells.append('–' if c is None else '%s (%s ± %s)' % (
                    ' / '.join(fmt(x) for x in c['per_seed']), fmt(c['mean']), fmt(c['sd'])))
            lines.append('| %s | %s |' % (VARIANT_TITLE.get(variant, variant), ' | '.join(cells)))
    return '\n'.join(lines) + '\n'


def _no_nan(x):
    """The summary with NaN (one seed: no sd) as null, so the .json is strict JSON."""
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_no_nan(v) for v in x]
    return None if isinstance(x, float) and math.isnan(x) else x


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 epilog=__doc__.split('\n\n', 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('evals', nargs='+', help="evaluate.py's .eval.json files, each optionally as GROUP=FILE")
    ap.add_argument('--a', default='cw', help='variant on the left of the difference (default cw)')
    ap.add_argument('--b', default='resnet', help='variant on the right (default resnet)')
    ap.add_argument('--out', help='also write the markdown here, and the numbers to the same name with .json')
    args = ap.parse_args(argv)
    try:
        summary = summarize(load(args.evals), args.a, args.b)
    except (OSError, ValueError, KeyError) as e:
        print('seeds: %s' % e, file=sys.stderr)
        return 1
    cmd = ' '.join(['seeds.py'] + list(sys.argv[1:] if argv is None else argv))
    md = '# Test accuracy over training seeds\n\nCommand: `%s`\n\n' % cmd + markdown(summary)
    print(md, end='')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(md)
        base = args.out[:-3] if args.out.endswith('.md') else args.out
        with open(base + '.json', 'w') as f:
            json.dump(_no_nan(summary), f, indent=1, sort_keys=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
