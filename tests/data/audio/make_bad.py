#!/usr/bin/python3
"""Regenerate the bad-audio corpus in tests/data/audio/bad/.

Each file breaks one thing drsn_audio_open must report (by name, with the
reason) instead of crashing or returning garbage. src/audio/audio_bad.test.c
lists what each one must produce. Needs only the Python standard library and
sox (for the FLAC and Ogg files). Deterministic: rerunning gives the same bytes.

    /usr/bin/python3 tests/data/audio/make_bad.py
"""
import math
import os
import random
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "bad")


def tone(n, rate=16000, freq=440.0, order="<"):
    return b"".join(struct.pack(order + "h", int(12000 * math.sin(2 * math.pi * freq * i / rate)))
                    for i in range(n))


def wav(rate=16000, channels=1, bits=16, data=b"", declared=None, fmt_tag=1,
        block_align=None):
    """A RIFF/WAVE file; declared overrides the data chunk's size field."""
    if block_align is None:
        block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate,
                      (rate * block_align) & 0xFFFFFFFF, block_align, bits)
    size = len(data) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + \
        b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", 4 + 24 + 8 + size) + body


def aiff_ext80(rate):
    """IEEE 754 80-bit extended, as AIFF stores its sample rate."""
    if rate == 0:
        return b"\0" * 10
    e = int(math.floor(math.log2(rate)))
    mant = int(rate * (1 << (63 - e)))
    return struct.pack(">HQ", 16383 + e, mant)


def aiff(rate=16000, channels=1, frames=0, data=b""):
    comm = struct.pack(">hIh", channels, frames, 16) + aiff_ext80(rate)
    ssnd_size = 8 + frames * channels * 2   # what the header declares
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm + \
        b"SSND" + struct.pack(">III", ssnd_size, 0, 0) + data
    return b"FORM" + struct.pack(">I", 4 + 8 + len(comm) + 16 + frames * channels * 2) + body


def sox_file(ext, seconds=1.0):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "t." + ext)
        # -R -D: fixed random seed and no dither, so the bytes repeat
        subprocess.run(["sox", "-R", "-D", "-n", "-r", "16000", "-c", "1", p,
                        "synth", str(seconds), "sine", "440", "vol", "0.5"], check=True)
        with open(p, "rb") as f:
            return f.read()


def main():
    os.makedirs(OUT, exist_ok=True)
    good = wav(data=tone(1600))
    files = {
        # zero-length file
        "empty.wav": b"",
        # the first 22 bytes of a valid WAV: the fmt chunk is cut off
        "truncated_header.wav": good[:22],
        # fmt chunk with an unknown format tag and zero block align / bits
        "corrupt_header.wav": wav(data=tone(1600), fmt_tag=0xBEEF, bits=0, block_align=0),
        # a valid header whose data chunk is empty
        "zero_frames.wav": wav(data=b""),
        # not audio at all
        "text.wav": b"This is a text file, not audio.\nIt only has a .wav name.\n" * 4,
        "random.bin": bytes(random.Random(1234).randrange(256) for _ in range(4096)),
        # absurd sample rates in an otherwise valid WAV header
        "rate_0.wav": wav(rate=0, data=tone(1600)),
        "rate_1.wav": wav(rate=1, data=tone(1600)),
        "rate_10mhz.wav": wav(rate=10_000_000, data=tone(1600)),
        # absurd channel counts (data size is a multiple of the frame size)
        "channels_0.wav": wav(channels=0, data=tone(1600), block_align=2),
        "channels_1000.wav": wav(channels=1000, data=tone(2000)),
        # header declares 16000 frames, the file holds 1000
        "truncated_data.wav": wav(data=tone(1000), declared=32000),
        "truncated_data.aiff": aiff(frames=16000, data=tone(1000, order=">")),
    }
    flac = sox_file("flac")
    files["truncated.flac"] = flac[: len(flac) * 6 // 10]
    bad = bytearray(flac)
    mid = len(bad) // 2
    bad[mid:mid + 400] = bytes(random.Random(99).randrange(256) for _ in range(400))
    files["corrupt_data.flac"] = bytes(bad)
    ogg = sox_file("ogg", seconds=2.0)
    files["truncated.ogg"] = ogg[: len(ogg) // 2]
    for name, data in sorted(files.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
