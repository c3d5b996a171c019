"""Minimal safetensors reader/writer (the format is simple; Debian has no package).

Layout: 8-byte little-endian header length N, N bytes of JSON header, then the
raw little-endian tensor bytes. The header maps each tensor name to
{"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
start of the data section) and may hold "__metadata__": {str: str}.
We write float32 ("F32") only, tensors in name order, contiguous, and pad the
header with spaces to a multiple of 8 bytes (allowed by the spec) so the data
section is aligned.
"""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "F16": np.dtype("<f2"),
           "I64": np.dtype("<i8"), "I32": np.dtype("<i4")}


def _as_f32(t):
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.ascontiguousarray(np.asarray(t, dtype="<f4"))


def dumps(tensors, metadata=None):
    """bytes of a safetensors file holding tensors (name -> array/tensor)."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("safetensors metadata must map str to str (got %r: %r)" % (k, type(v)))
        header["__metadata__"] = dict(metadata)
    chunks, off = [], 0
    for name in sorted(tensors):
        a = _as_f32(tensors[name])
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)


def save(path, tensors, metadata=None):
    data = dumps(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)


def loads(data):
    """(tensors: name -> numpy array, metadata: dict) from safetensors bytes."""
    if len(data) < 8:
        raise ValueError("safetensors: file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("safetensors: header length %d exceeds file size %d" % (n, len(data)))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError("safetensors: tensor %r has unsupported dtype %r" % (name, info["dtype"]))
        b, e = info["data_offsets"]
        if not 0 <= b <= e <= len(body):
            raise ValueError("safetensors: tensor %r offsets out of range" % name)
        a = np.frombuffer(body[b:e], dtype=dt).reshape(info["shape"])
        out[name] = a.copy()
    return out, meta


def load(path):
    with open(path, "rb") as f:
        return loads(f.read())
