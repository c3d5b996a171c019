"""WAV files for the front-end parity test (tests/parity/features_parity.py),
generated on the spot so CI never compares against stale fixtures.

    /usr/bin/python3 tests/parity/features_wavs.py OUTDIR   # writes OUTDIR/*.wav

Each file targets a way the C and Python front ends could part:
    speech     espeak-ng speech, resampled to 16 kHz by sox (real formants, pauses)
    vowels     synthetic vowels: a gliding glottal pulse train through formant filters
    noise      white Gaussian noise, float32 WAV
    silence    digital silence (every band sits on the log floor)
    square     full-scale square wave, then a 3x overdriven, clipped sine
    dc         vowels on a 0.25 DC offset, then a pure DC stretch
    stereo     two different channels (the front end sees their average)
    odd        a length that leaves a partial frame at the end
    short      399 samples: fewer than one window, so zero frames
Also a minimal RIFF/WAV reader (PCM16 and float32, any channel count) that
decodes exactly as libsndfile does (int16 / 32768).
"""
import math
import os
import shutil
import struct
import subprocess
import sys

import torch
import torchaudio

RATE = 16000


def write_wav(path, x, fmt="pcm16"):
    """x: float tensor [samples] or [channels, samples] in [-1, 1]."""
    x = x.detach().to(torch.float64)
    if x.dim() == 1:
        x = x.unsqueeze(0)
    ch, n = x.shape
    inter = x.t().reshape(-1)
    if fmt == "pcm16":
        q = torch.clamp(torch.round(inter * 32768.0), -32768, 32767).to(torch.int16)
        data, tag, bits = q.numpy().astype("<i2").tobytes(), 1, 16
    elif fmt == "float32":
        data, tag, bits = inter.to(torch.float32).numpy().astype("<f4").tobytes(), 3, 32
    else:
        raise ValueError(fmt)
    block = ch * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", tag, ch, RATE, RATE * block, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    if tag == 3:
        chunks += b"fact" + struct.pack("<II", 4, n)
    chunks += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)


def read_wav(path):
    """-> (rate, float32 tensor [channels, samples]), decoded as libsndfile does."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:4] != b"RIFF" or b[8:12] != b"WAVE":
        raise ValueError("%s: not a RIFF/WAVE file" % path)
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(b):
        cid, size = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        body = b[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
            if fmt[0] == 0xFFFE:   # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
                fmt = (struct.unpack("<H", body[24:26])[0],) + fmt[1:]
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise ValueError("%s: no fmt or data chunk" % path)
    tag, ch, rate, _, _, bits = fmt
    if (tag, bits) == (1, 16):
        x = torch.frombuffer(bytearray(data), dtype=torch.int16).to(torch.float32) / 32768.0
    elif (tag, bits) == (3, 32):
        x = torch.frombuffer(bytearray(data), dtype=torch.float32).clone()
    else:
        raise ValueError("%s: format tag %d, %d bits: only PCM16 and float32 are read" % (path, tag, bits))
    return rate, x.reshape(-1, ch).t().contiguous()


def mono(x):
    """Average of the channels, as drsn_audio delivers it: sum * (1/channels) in float32."""
    if x.shape[0] == 1:
        return x[0]
    return x.sum(0) * torch.tensor(1.0 / x.shape[0], dtype=torch.float32)


def vowels(seconds, g):
    """Glottal pulse train, f0 gliding 100 -> 220 Hz, through three formant
    resonators that move between /a/, /i/ and /u/; 50 ms gaps of silence."""
    n = int(seconds * RATE)
    t = torch.arange(n, dtype=torch.float64) / RATE
    f0 = 100 + 120 * t / seconds
    phase = torch.cumsum(f0 / RATE, 0)
    src = (torch.diff(torch.floor(phase), prepend=torch.zeros(1)) > 0).to(torch.float64)
    src = src + 0.01 * torch.randn(n, generator=g, dtype=torch.float64)  # breath
    formants = [((730, 1090, 2440), 0), ((270, 2290, 3010), 1), ((300, 870, 2240), 2)]
    seg = n // len(formants)
    out = torch.zeros(n, dtype=torch.float64)
    for (fs, i) in formants:
        s = src[i * seg:(i + 1) * seg]
        y = s
        for fc in fs:
            r = math.exp(-math.pi * 80 / RATE)
            a = torch.tensor([1.0, -2 * r * math.cos(2 * math.pi * fc / RATE), r * r], dtype=torch.float64)
            bcoef = torch.tensor([1.0 - r, 0.0, 0.0], dtype=torch.float64)
            y = torchaudio.functional.lfilter(y, a, bcoef, clamp=False)
        y[-800:] = 0.0   # 50 ms pause
        out[i * seg:(i + 1) * seg] = y
    return 0.7 * out / out.abs().max()


def speech(path, tmpdir):
    for tool, pkg in (("espeak-ng", "espeak-ng"), ("sox", "sox")):
        if not shutil.which(tool):
            raise RuntimeError("%s not found: apt-get install %s (listed in .ci/deps)" % (tool, pkg))
    raw = os.path.join(tmpdir, "speech-espeak.wav")
    subprocess.run(["espeak-ng", "-v", "en", "-s", "160", "-w", raw,
                    "Seven quiet zebras jumped over the big fox. Yes, no, stop, go!"], check=True)
    subprocess.run(["sox", "-D", raw, "-r", str(RATE), "-c", "1", "-b", "16", path], check=True)


def generate(outdir):
    """Write every test WAV into outdir; returns {name: path}."""
    os.makedirs(outdir, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    p = lambda name: os.path.join(outdir, name + ".wav")  # noqa: E731
    files = {}
    speech(p("speech"), outdir)
    files["speech"] = p("speech")
    v = vowels(1.5, g)
    write_wav(p("vowels"), v)
    write_wav(p("noise"), 0.3 * torch.randn(RATE, generator=g, dtype=torch.float64), "float32")
    write_wav(p("silence"), torch.zeros(RATE))
    t = torch.arange(RATE, dtype=torch.float64) / RATE
    sq = torch.where(torch.sin(2 * math.pi * 440 * t) >= 0, 1.0, -1.0)
    clipped = torch.clamp(3.0 * torch.sin(2 * math.pi * 300 * t), -1.0, 1.0)
    write_wav(p("square"), torch.cat([sq, clipped]))
    write_wav(p("dc"), torch.cat([0.25 + 0.5 * v, torch.full((RATE // 2,), 0.25, dtype=torch.float64)]))
    write_wav(p("stereo"), torch.stack([v, 0.2 * torch.randn(v.shape[0], generator=g, dtype=torch.float64)]))
    write_wav(p("odd"), vowels(0.5, g)[:RATE // 2 - 77] * 0.1)
    write_wav(p("short"), 0.5 * torch.randn(399, generator=g, dtype=torch.float64))
    for name in ("vowels", "noise", "silence", "square", "dc", "stereo", "odd", "short"):
        files[name] = p(name)
    return files


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: features_wavs.py OUTDIR")
    torch.set_num_threads(1)
    for name, path in generate(sys.argv[1]).items():
        print(name, path)
