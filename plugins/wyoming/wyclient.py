"""A minimal Wyoming client (standard library only), for test_wyoming.py and
bench_wyoming.py."""
import json
import os
import select
import socket
import sys
import time
import wave

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "daemon"))
from drsndtest import connect_unix  # noqa: E402


class Wy:
    """One connection: to host:port (127.0.0.1 by default), or to a Unix socket path."""

    def __init__(self, port=None, path=None, host="127.0.0.1"):
        if path:
            self.s = connect_unix(path, 10)
        else:
            self.s = socket.create_connection((host, port), timeout=10)
        self.buf = b""

    def send(self, type_, data=None, payload=b"", split_data=False):
        hdr = {"type": type_}
        extra = b""
        if data is not None and split_data:   # data as a data_length block
            extra = json.dumps(data).encode()
            hdr["data_length"] = len(extra)
        elif data is not None:
            hdr["data"] = data
        if payload:
            hdr["payload_length"] = len(payload)
        self.s.sendall(json.dumps(hdr).encode() + b"\n" + extra + payload)

    def send_wyoming(self, type_, data=None, payload=b""):
        """Frame an event exactly as the wyoming package's write_event does
        (rhasspy/wyoming, wyoming/event.py): a "version" in the header, data
        (when not empty) only in a data_length block, nulls kept."""
        hdr = {"type": type_, "version": "1.5.4"}
        extra = json.dumps(data, ensure_ascii=False).encode() if data else b""
        if extra:
            hdr["data_length"] = len(extra)
        if payload:
            hdr["payload_length"] = len(payload)
        self.s.sendall(json.dumps(hdr, ensure_ascii=False).encode() + b"\n" + extra + payload)

    def _fill(self, timeout):
        r, _, _ = select.select([self.s], [], [], timeout)
        if not r:
            return None
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            d = b""
        self.buf += d
        return d

    def _need(self, n, end):
        while len(self.buf) < n:
            d = self._fill(max(0.0, end - time.time()))
            if not d:
                return False
        return True

    def recv(self, timeout=30):
        """(type, data, payload); None on EOF; raises on timeout."""
        end = time.time() + timeout
        while b"\n" not in self.buf:
            d = self._fill(max(0.0, end - time.time()))
            if d is None:
                raise AssertionError("no event within %ss" % timeout)
            if not d:
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        h = json.loads(line)
        data = h.get("data") or {}
        dl, pl = h.get("data_length") or 0, h.get("payload_length") or 0
        assert self._need(dl + pl, end), "event cut short"
        if dl:
            data.update(json.loads(self.buf[:dl]))
        payload = self.buf[dl:dl + pl]
        self.buf = self.buf[dl + pl:]
        return h["type"], data, payload

    def close(self):
        self.s.close()


def read_wav(path):
    with wave.open(path) as w:
        return w.getframerate(), w.getsampwidth(), w.getnchannels(), w.readframes(w.getnframes())


def stream(c, pcm, rate=16000, width=2, channels=1, names=None, chunk=1024, pace=0.0, ts0=0):
    """detect?, audio-start, 1024-frame chunks, audio-stop, ping; returns
    the events before the pong."""
    if names is not None:
        c.send("detect", {"names": names})
    fmt = {"rate": rate, "width": width, "channels": channels}
    c.send("audio-start", dict(fmt, timestamp=ts0))
    step = chunk * width * channels
    for i in range(0, len(pcm), step):
        ts = ts0 + (i // (width * channels)) * 1000 // rate
        c.send("audio-chunk", dict(fmt, timestamp=ts), pcm[i:i + step], split_data=(i // step) % 2 == 1)
        if pace:
            time.sleep(pace)
    c.send("audio-stop", {"timestamp": ts0 + len(pcm) // (width * channels) * 1000 // rate})
    c.send("ping", {"text": "end"})
    out = []
    while True:
        e = c.recv(120)
        assert e is not None, "closed before pong; got %s" % out
        if e[0] == "pong":
            assert e[1].get("text") == "end", e
            return out
        out.append(e)


def detections(events):
    return [(d["name"], d["timestamp"]) for t, d, _ in events if t == "detection"]
