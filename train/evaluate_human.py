#!/usr/bin/python3
"""Keywords and false alarms in recorded human speech: Asterisk's English
voice prompts, through the streaming pipeline (drsn detect).

  /usr/bin/python3 train/evaluate_human.py --drsn build/src/cli/drsn --fetch /tmp/asterisk \\
      models/kws20-drsn-cw.safetensors models/kws20-resnet.safetensors

Every clip the models train and test on elsewhere is synthetic. Debian's
asterisk-core-sounds-en-wav (CC-BY-SA 3.0) holds about 570 prompts of a
telephone system recorded by one professional speaker (Allison Smith,
en-US, 8 kHz, 16-bit): isolated digits, letters, numbers and whole
sentences ("press 1 for ...", "the number you have dialed is not in
service"). asterisk-core-sounds-en-g722 holds the same prompts in G.722,
the 16 kHz wideband telephone codec (50-7000 Hz), which ffmpeg decodes.
asterisk-core-sounds-en holds their transcripts. --fetch DIR downloads the
three with `apt-get download` into DIR and unpacks them there (no root,
nothing installed); without it the installed packages' paths are used
(--sounds, --transcripts).

--bands picks the versions: narrow (the 8 kHz WAVs: nothing above 4 kHz,
as a phone line or a Bluetooth headset in its narrowband mode delivers)
and wide (G.722 decoded to 16 kHz WAVs). Each prompt is one file to
`drsn detect` (the daemon's pipeline, which resamples to the model's
rate). Its transcript says which keywords it
holds: words of the model's labels, with the digits 0-9 read as words.
Prompts whose transcript has a numeral of two or more digits are left out
(how it is read is not written), and so are the tone-only ones ("[beep]").
Per model and threshold:

  found        prompts x keywords in the transcript: the keyword was
               detected at least once in that prompt (%)
  false alarm  a detection whose label is not in the prompt's transcript;
               per hour of prompts. Detections of a label whose homophone
               is in the transcript ("no" on "know", "four" on "for", "two"
               on "to") are counted apart, neither found nor false.
  digits       the ten isolated digits (digits/0.wav ... 9.wav): what fired,
               and the label `drsn classify` gives each (one window)

Writes <out-dir>/human.eval.md and .json.
"""
import collections
import datetime
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import evaluate  # noqa: E402
import evaluate_stream as es  # noqa: E402
import fetch_music  # noqa: E402
from corpusgen import words as corpus_words  # noqa: E402

SOUNDS = '/usr/share/asterisk/sounds/en_US_f_Allison'
TRANSCRIPTS = '/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz'
PACKAGES = ('asterisk-core-sounds-en-wav', 'asterisk-core-sounds-en', 'asterisk-core-sounds-en-g722')
BANDS = {'narrow': '.wav', 'wide': '.g722'}     # band -> the prompts' file suffix
DIGITS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
HOMOPHONES = corpus_words.HOMOPHONES     # word in a transcript -> the keyword it sounds like


def read_transcripts(path):
    """{prompt name ('digits/1', 'activated'): text} of Asterisk's
    core-sounds-<lang>.txt (plain or .gz): 'name: text' lines, ';' comments."""
    opener = gzip.open if path.endswith('.gz') else open
    out = {}
    with opener(path, 'rt', encoding='utf-8', errors='replace') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(';'):
                continue
            name, sep, text = line.partition(':')
            if sep and name.strip() and ' ' not in name.strip():
                out[name.strip()] = text.strip()
    if not out:
        raise ValueError(f'{path}: no "name: text" line')
    return out


def tokens(text):
    """Lower-case words of a transcript, the digits 0-9 read as words;
    None when it cannot be scored: a numeral of two or more digits, or no
    word (a tone)."""
    text = re.sub(r'\[[^\]]*\]', ' ', text.lower())
    out = []
    for t in re.findall(r"[a-z']+|[0-9]+", text):
        if t.isdigit():
            if len(t) > 1:
                return None
            t = DIGITS[int(t)]
        out.append(t.strip("'"))
    return out or None


def prompts(sounds, transcripts, keywords, suffix='.wav'):
    """[(path, name, keywords it holds (set), homophone labels (set))] of
    the scorable prompts that have a file name+suffix, in name order, and
    the number of transcripts left out."""
    out, left_out = [], 0
    for name in sorted(transcripts):
        wav = os.path.join(sounds, name + suffix)
        words = tokens(transcripts[name])
        if not os.path.isfile(wav):
            continue
        if words is None:
            left_out += 1
            continue
        out.append((wav, name, set(words) & set(keywords),
                    {HOMOPHONES[w] for w in words if w in HOMOPHONES} & set(keywords)))
    return out, left_out


def seconds(wav):
    with wave.open(wav, 'rb') as w:
        return w.getnframes() / w.getframerate()


def score(items, dets):
    """One row: items from prompts(), dets drsn detect's JSON lines."""
    by_file = collections.defaultdict(list)
    for d in dets:
        by_file[d['file']].append(d)
    pairs = found = homophone = 0
    fa = []
    missed = collections.Counter()
    for wav, name, kws, homs in items:
        got = {d['label'] for d in by_file[wav]}
        pairs += len(kws)
        found += len(kws & got)
        missed.update(kws - got)
        for d in by_file[wav]:
            if d['label'] in kws:
                continue
            if d['label'] in homs:
                homophone += 1
            else:
                fa.append((name, d['label']))
    return {'keywords': pairs, 'found': found, 'missed_by_label': dict(sorted(missed.items())),
            'false_alarms': len(fa), 'homophone_detections': homophone,
            'false_alarm_labels': dict(collections.Counter(lab for _, lab in fa).most_common()),
            'false_alarm_prompts': [f'{n}: {lab}' for n, lab in fa]}


def decode(items, dest):
    """items with their G.722 files decoded by ffmpeg to 16 kHz WAVs under
    dest (same relative names; a WAV already there is kept). Raises OSError
    naming a file ffmpeg cannot decode, or ffmpeg's absence."""
    out = []
    for path, name, kws, homs in items:
        wav = os.path.join(dest, name + '.wav')
        os.makedirs(os.path.dirname(wav), exist_ok=True)
        try:
            if os.path.exists(wav):
                out.append((wav, name, kws, homs))
                continue
            fetch_music.run(['ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'g722',
                             '-i', path, '-ar', '16000', wav])
        except FileNotFoundError:
            raise OSError('ffmpeg: not found; the wide band needs it to decode G.722 (apt-get install ffmpeg)')
        except OSError as e:
            raise OSError(f'{path}: ffmpeg cannot decode it: {e}')
        if not os.path.exists(wav) or seconds(wav) == 0:
            raise OSError(f'{path}: ffmpeg cannot decode it: no audio')
        out.append((wav, name, kws, homs))
    return out


def classify(drsn, model, files):
    """{file: label} of `drsn classify` (each file one window)."""
    r = subprocess.run([drsn, 'classify', '--model', model, '--top', '1'] + list(files),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f'{drsn} classify exited {r.returncode}: {r.stderr.strip()[:500]}')
    return {o['file']: o['label'] for o in map(json.loads, r.stdout.splitlines())}


def report_md(res, info, cmd):
    out = ['# Recorded human speech: keywords and false alarms in Asterisk\'s English prompts', '',
           f'Command: `{cmd}`', '',
           f'{info["prompts"]} prompts (in each band) of one speaker (Allison Smith, en-US; asterisk-core-sounds-en '
           f'{info["version"]}), {info["seconds"] / 60:.1f} min; {info["left_out"]} transcripts left out (a '
           f'numeral of two or more digits, or tones only). {info["keyword_prompts"]} prompts hold '
           f'{info["keywords"]} keyword occurrences of the model\'s labels (each counted once per prompt). '
           'Bands: narrow = the 8 kHz WAVs (nothing above 4 kHz), wide = the G.722 files (16 kHz, 50-7000 Hz). '
           '`drsn detect` with its default [detect] settings but the threshold.', '',
           '| model | band | threshold | keywords found % | false alarms / per hour | on a homophone ("for", "to", "know") |',
           '|---|---|---|---|---|---|']
    for name, bands in res.items():
        for band, rows in bands.items():
            for r in rows:
                pct = 100.0 * r['found'] / r['keywords'] if r['keywords'] else float('nan')
                out.append(f'| {name} | {band} | {r["threshold"]:g} | {pct:.1f} ({r["found"]} of {r["keywords"]}) | '
                           f'{r["false_alarms"]} / {r["false_alarms"] / (r["seconds"] / 3600):.0f} | '
                           f'{r["homophone_detections"]} |')
    out += ['', 'At threshold 0.8 (the default), or the nearest measured:', '']
    for name, bands in res.items():
        for band, rows in bands.items():
            r = min(rows, key=lambda r: abs(r['threshold'] - 0.8))
            labs = ', '.join(f'{k} {v}' for k, v in r['false_alarm_labels'].items()) or 'none'
            missed = ', '.join(f'{k} {v}' for k, v in r['missed_by_label'].items()) or 'none'
            right = sum(d == lab for d, lab in r['digits_classify'].items())
            out += [f'- **{name}**, {band} ({r["threshold"]:g}): false alarms by label: {labs}. '
                    f'Keywords missed: {missed}.',
                    '  Isolated digits through `drsn detect` (what fired): '
                    + ', '.join(f'{d}: {"+".join(v) or "nothing"}' for d, v in r['digits'].items()) + '.',
                    f'  The same through `drsn classify` (one window each): {right} of {len(r["digits_classify"])} '
                    'right; ' + ', '.join(f'{d}: {lab}' for d, lab in r['digits_classify'].items()) + '.']
    return '\n'.join(out)


def main(argv=None):
    ap = es.detect_parser(__doc__)
    ap.add_argument('--fetch', metavar='DIR', help='download and unpack the three packages into DIR and use them')
    ap.add_argument('--sounds', default=SOUNDS, help=f'the prompts (default {SOUNDS})')
    ap.add_argument('--transcripts', default=TRANSCRIPTS, help=f'their transcripts (default {TRANSCRIPTS})')
    ap.add_argument('--bands', default='narrow,wide', help="narrow, wide or both (default 'narrow,wide')")
    ap.add_argument('--thresholds', default='0.5,0.8,0.9,0.95')
    a = ap.parse_args(argv)
    try:
        thresholds = [float(t) for t in a.thresholds.split(',')]
        if any(not 0 <= t <= 1 for t in thresholds):
            raise ValueError
    except ValueError:
        print(f'evaluate_human: --thresholds {a.thresholds!r}: want values in [0, 1]', file=sys.stderr)
        return 2
    bands = a.bands.split(',')
    if not bands or any(b not in BANDS for b in bands) or len(set(bands)) != len(bands):
        print(f'evaluate_human: --bands {a.bands!r}: want narrow, wide or narrow,wide', file=sys.stderr)
        return 2
    try:
        es.check_detect_args(a)
        loaded = es.load_models(a.models, a.label_threshold)
    except ValueError as e:
        print(f'evaluate_human: {e}', file=sys.stderr)
        return 2
    t0 = time.time()
    sounds, transcripts, version = a.sounds, a.transcripts, 'as installed'
    res, info = {}, None
    try:
        if a.fetch:
            os.makedirs(a.fetch, exist_ok=True)
            want = PACKAGES[:2] + ((PACKAGES[2],) if 'wide' in bands else ())
            for p in want:
                deb = fetch_music.unpack(p, a.fetch, os.path.join(a.fetch, 'root'))
                if p == PACKAGES[1]:
                    version = deb.split('_')[1]
            root = os.path.join(a.fetch, 'root')
            sounds, transcripts = root + SOUNDS, root + TRANSCRIPTS
        if not os.path.isdir(sounds):
            raise OSError(f'{sounds}: no such folder (install {PACKAGES[0]}, or use --fetch DIR)')
        if not os.path.isfile(transcripts):
            raise OSError(f'{transcripts}: no such file (install {PACKAGES[1]}, or use --fetch DIR)')
        text = read_transcripts(transcripts)
        with tempfile.TemporaryDirectory(prefix='drsn-human-') as tmp:
            for m, (_, labels, _, name, _) in zip(a.models, loaded):
                keywords = [lab for lab in labels if not lab.startswith('_')]
                res[name] = {}
                for band in bands:
                    items, left_out = prompts(sounds, text, keywords, BANDS[band])
                    if not items:
                        raise OSError(f'{sounds}: no {BANDS[band]} prompt has a transcript')
                    if info is not None and len(items) != info['prompts']:
                        raise OSError(f'{sounds}: {len(items)} {BANDS[band]} prompts, but {info["prompts"]} '
                                      f'{BANDS[bands[0]]} ones: the bands would not compare')
                    if band == 'wide':
                        items = decode(items, os.path.join(tmp, 'wide'))
                    secs = sum(seconds(w) for w, *_ in items)
                    if info is None:
                        info = {'prompts': len(items), 'left_out': left_out, 'seconds': secs,
                                'keyword_prompts': sum(1 for it in items if it[2]),
                                'keywords': sum(len(it[2]) for it in items), 'version': version,
                                'sounds': os.path.abspath(sounds)}
                    digits = sorted(((it[0], DIGITS[int(it[1][-1])]) for it in items
                                     if re.fullmatch(r'digits/[0-9]', it[1])), key=lambda wd: DIGITS.index(wd[1]))
                    res[name][band] = []
                    clip = classify(a.drsn, m, [w for w, _ in digits]) if digits else {}
                    for t in thresholds:
                        dets = es.detect(a.drsn, m, [w for w, *_ in items], t, a.label_threshold)
                        row = score(items, dets)
                        fired = collections.defaultdict(list)
                        for d in dets:
                            fired[d['file']].append(d['label'])
                        row['threshold'] = t
                        row['prompts'], row['seconds'] = len(items), secs
                        row['digits'] = {word: fired.get(w, []) for w, word in digits}
                        row['digits_classify'] = {word: clip[w] for w, word in digits}
                        res[name][band].append(row)
                        print(f'{name} {band} threshold {t:g}: {row["found"]}/{row["keywords"]} keywords found, '
                              f'{row["false_alarms"]} false alarms, {row["homophone_detections"]} on homophones',
                              file=sys.stderr)
    except (OSError, ValueError, RuntimeError, EOFError, wave.Error) as e:
        print(f'evaluate_human: {e}', file=sys.stderr)
        return 1
    cmd = ' '.join(['evaluate_human.py'] + list(sys.argv[1:] if argv is None else argv))
    md = report_md(res, info, cmd)
    evaluate.write_report(a.out_dir, 'human.eval', md,
                          {'results': res, 'prompts': info, 'thresholds': thresholds, 'bands': bands,
                           'label_thresholds': a.label_threshold, 'command': cmd,
                           'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')})
    print(md)
    print(f'evaluate_human: {len(a.models)} model(s), {time.time() - t0:.1f} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
