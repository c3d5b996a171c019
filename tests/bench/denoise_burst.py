#!/usr/bin/python3
"""How long one glitch burst disturbs `drsn denoise` (docs/denoise.md, "Bursts").

Makes SPEECH (default samples/keywords-clean.wav) plus pink noise at --snr dB,
writes it as a 32-bit float WAV twice, without and with a burst of --burst-ms
(one or more lengths, each measured on its own) of +-A samples at --at seconds, runs `drsn denoise` on both and
compares the outputs per 100 ms segment after the burst: the SNR of the
output with the burst against the output without it (the burst-free output is
the reference). Damage lasts until the last segment after the burst whose SNR
is below --ok-db; "recovery" is its end minus the burst's end.

    /usr/bin/python3 tests/bench/denoise_burst.py build/src/cli/drsn [--amp 65536 1 ...] [--burst-ms 10 30 50 100]

Needs numpy (in /usr/bin/python3); drsn reads and writes the float WAVs.
"""
import argparse
import itertools
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np


def read_wav(path):
    """16-bit PCM or 32-bit float mono WAV -> (float64 samples, rate)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] not in (b'RIFF', b'RF64') or data[8:12] != b'WAVE':
        raise SystemExit(f'{path}: not a WAV file')
    pos, fmt, rate, samples = 12, None, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack('<I', data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b'fmt ':
            tag, ch, rate, _, _, bits = struct.unpack('<HHIIHH', body[:16])
            if tag == 0xFFFE:
                tag = struct.unpack('<H', body[24:26])[0]
            if ch != 1:
                raise SystemExit(f'{path}: {ch} channels, want mono')
            fmt = (tag, bits)
        elif cid == b'data':
            if fmt == (1, 16):
                samples = np.frombuffer(body, '<i2').astype(np.float64) / 32768.0
            elif fmt == (3, 32):
                samples = np.frombuffer(body, '<f4').astype(np.float64)
            else:
                raise SystemExit(f'{path}: format {fmt}, want 16-bit PCM or 32-bit float')
        pos += 8 + size + (size & 1)
    if samples is None or rate is None:
        raise SystemExit(f'{path}: no fmt or data chunk')
    return samples, rate


def write_float_wav(path, x, rate):
    x = np.asarray(x, '<f4')
    body = x.tobytes()
    fmt = struct.pack('<HHIIHH', 3, 1, rate, rate * 4, 4, 32)
    with open(path, 'wb') as f:
        f.write(b'RIFF' + struct.pack('<I', 4 + 8 + len(fmt) + 8 + len(body)) + b'WAVE')
        f.write(b'fmt ' + struct.pack('<I', len(fmt)) + fmt)
        f.write(b'data' + struct.pack('<I', len(body)) + body)


def pink(n, rng):
    """Paul Kellet's pink filter on white Gaussian noise (as bench-denoise)."""
    w = rng.standard_normal(n)
    b = np.zeros(7)
    out = np.empty(n)
    for i in range(n):
        v = w[i]
        b[0] = 0.99886 * b[0] + v * 0.0555179
        b[1] = 0.99332 * b[1] + v * 0.0750759
        b[2] = 0.96900 * b[2] + v * 0.1538520
        b[3] = 0.86650 * b[3] + v * 0.3104856
        b[4] = 0.55000 * b[4] + v * 0.5329522
        b[5] = -0.7616 * b[5] - v * 0.0168980
        out[i] = b.sum() + b[6] + v * 0.5362
        b[6] = v * 0.115926
    return out


def denoise(drsn, x, rate, tmp, name, strength, frame_ms):
    src, dst = os.path.join(tmp, name + '.in.wav'), os.path.join(tmp, name + '.out.wav')
    write_float_wav(src, x, rate)
    cmd = [drsn, 'denoise', '-q']
    if strength is not None:
        cmd += ['--strength', str(strength)]
    if frame_ms is not None:
        cmd += ['--frame-ms', str(frame_ms)]
    subprocess.run(cmd + [src, dst], check=True, stderr=subprocess.DEVNULL)
    y, r = read_wav(dst)
    assert r == rate and len(y) == len(x), (r, len(y), len(x))
    return y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('drsn')
    ap.add_argument('--speech', default=os.path.join(os.path.dirname(__file__), '../../samples/keywords-clean.wav'))
    ap.add_argument('--snr', type=float, default=10.0)
    ap.add_argument('--amp', type=float, nargs='+', default=[65536.0, 1.0],
                    help='burst amplitudes; 0 = a dropout of zeros; nan and inf are read as 0 by drsn')
    ap.add_argument('--shape', nargs='+', default=['rand'], choices=['rand', 'alt', 'dc'],
                    help='burst samples: random signs, alternating signs (a Nyquist tone), or constant +A')
    ap.add_argument('--burst-ms', type=float, nargs='+', default=[10.0],
                    help='burst length(s), ms (each measured on its own)')
    ap.add_argument('--at', type=float, nargs='+', default=[2.0],
                    help='burst start(s), seconds (each measured on its own)')
    ap.add_argument('--ok-db', type=float, default=20.0,
                    help='a segment is undamaged when its SNR vs the burst-free output is at least this')
    ap.add_argument('--strength', type=float, default=None)
    ap.add_argument('--frame-ms', type=float, default=None)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--segments', action='store_true', help='print every 100 ms segment after the burst')
    a = ap.parse_args()

    speech, rate = read_wav(a.speech)
    rng = np.random.default_rng(a.seed)
    noise = pink(len(speech), rng)
    ps, pn = np.mean(speech ** 2), np.mean(noise ** 2)
    x = speech + noise * np.sqrt(ps / pn / 10 ** (a.snr / 10))
    seg = rate // 10
    with tempfile.TemporaryDirectory() as tmp:
        ref = denoise(a.drsn, x, rate, tmp, 'ref', a.strength, a.frame_ms)
        print(f'{os.path.basename(a.speech)} + pink noise at {a.snr:g} dB SNR, {rate} Hz, '
              f'{len(x) / rate:.2f} s; damaged = segment SNR vs burst-free output < {a.ok_db:g} dB')
        print(f'{"amplitude":>10} {"ms":>5} {"shape":>5} {"at s":>6} | {"recovery s":>10} {"worst dB":>8} {"dB@+0.5s":>8} {"dB@+1s":>8} {"dB@+3s":>8}')
        for amp, ms, shape, at in itertools.product(a.amp, a.burst_ms, a.shape, a.at):
            b0 = int(at * rate)
            b1 = b0 + int(ms * 1e-3 * rate)
            xb = x.copy()
            m = b1 - b0
            signs = {'rand': np.where(np.random.default_rng(a.seed + 7).random(m) < 0.5, -1.0, 1.0),
                     'alt': np.where(np.arange(m) % 2, -1.0, 1.0), 'dc': np.ones(m)}[shape]
            xb[b0:b1] = amp * signs
            y = denoise(a.drsn, xb, rate, tmp, 'burst', a.strength, a.frame_ms)
            snrs = []
            # segments start at the burst's end
            for s0 in range(b1, len(x) - seg + 1, seg):
                r, d = ref[s0:s0 + seg], y[s0:s0 + seg] - ref[s0:s0 + seg]
                e = np.sum(d * d)
                snrs.append(np.inf if e == 0 else 10 * np.log10(max(np.sum(r * r), 1e-30) / e))
            bad = [i for i, v in enumerate(snrs) if v < a.ok_db]
            rec = (bad[-1] + 1) * seg / rate if bad else 0.0
            pick = lambda t: snrs[int(t * 10)] if int(t * 10) < len(snrs) else float('nan')  # noqa: E731
            print(f'{amp:>10g} {ms:>5g} {shape:>5} {at:>6g} | {rec:>10.1f} {min(snrs):>8.1f} {pick(0.5):>8.1f} {pick(1.0):>8.1f} {pick(3.0):>8.1f}')
            if a.segments:
                print('   ' + ' '.join(f'{v:.0f}' for v in snrs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
