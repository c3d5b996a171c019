"""Audio in and out.

write_wav16 writes a canonical 44-byte-header PCM WAV with nothing else in
it, so the same samples always give the same bytes (the corpus is compared
byte for byte across runs). read_audio reads any file torchaudio can (WAV,
FLAC, OGG, MP3... any rate, any channel count) as mono float32 at the
requested rate.
"""
import struct
import wave

import numpy as np

RATE = 16000


def to_int16(x):
    """float in [-1, 1] -> int16, rounded to nearest and clipped."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float64) * 32767.0),
                   -32768, 32767).astype('<i2')


def write_wav16(path, samples, rate=RATE):
    """Write mono 16-bit PCM. samples: float in [-1, 1] or int16."""
    s = np.asarray(samples)
    if s.dtype != np.int16:
        s = to_int16(s)
    with wave.open(str(path), 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(s.astype('<i2').tobytes())


def parse_wav_bytes(data, what='wav'):
    """(float32 mono samples, rate) from RIFF/WAVE PCM16 bytes, as written by
    espeak-ng --stdout (whose size fields may be 0xffffffff: the data chunk
    is then taken to the end of the buffer)."""
    if len(data) < 12 or data[:4] != b'RIFF' or data[8:12] != b'WAVE':
        raise ValueError(f'{what}: not a RIFF/WAVE stream')
    pos, rate, chans, bits = 12, None, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack('<I', data[pos + 4:pos + 8])[0]
        body = pos + 8
        if cid == b'fmt ':
            fmt, chans, rate = struct.unpack('<HHI', data[body:body + 8])
            bits = struct.unpack('<H', data[body + 14:body + 16])[0]
            if fmt != 1 or bits != 16:
                raise ValueError(f'{what}: only PCM16 is supported (format {fmt}, {bits} bits)')
        elif cid == b'data':
            if rate is None:
                raise ValueError(f'{what}: data chunk before fmt chunk')
            end = len(data) if size == 0xffffffff or body + size > len(data) else body + size
            n = (end - body) // (2 * chans) * chans
            x = np.frombuffer(data[body:body + 2 * n], dtype='<i2').astype(np.float32) / 32768.0
            return x.reshape(-1, chans).mean(axis=1), rate
        pos = body + size + (size & 1)
    raise ValueError(f'{what}: no data chunk')


_resamplers = {}


def resample(x, rate_in, rate_out=RATE):
    """Band-limited (windowed sinc) resampling with torchaudio; deterministic.
    The filter for each rate pair is built once per process and kept."""
    if rate_in == rate_out:
        return np.asarray(x, dtype=np.float32)
    import torch
    import torchaudio.transforms as T
    key = (int(rate_in), int(rate_out))
    if key not in _resamplers:
        _resamplers[key] = T.Resample(*key)
    with torch.no_grad():
        y = _resamplers[key](torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return y.numpy()


def read_audio(path, rate=RATE):
    """Any audio file -> mono float32 numpy array at `rate`."""
    import torchaudio
    try:
        wav, sr = torchaudio.load(str(path))
    except Exception as e:   # torchaudio's messages do not always name the file
        raise ValueError(f'{path}: cannot read audio ({e})') from e
    return resample(wav.mean(dim=0).numpy(), sr, rate)
