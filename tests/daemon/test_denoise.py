#!/usr/bin/python3
"""drsnd's [denoise] section: classify_on = denoised, the vad event's speech
value, the PCM socket (byte count, slow readers dropped), config errors.

Audio goes in on stdin as raw s16le, written as fast as the pipe takes it,
after the test's clients are connected (a file: source starts reading as soon
as the daemon listens, before a client could be there)."""
import os
import select
import socket
import subprocess
import time
import wave

from drsndtest import DRSN, DRSND, MODEL, ROOT, connect_unix, feed, main, log, raw_s16, stdin_daemon

SAMPLE = os.path.join(ROOT, "samples", "keywords-clean.wav")
RATE = 16000


def read_pcm(s, want, timeout=60):
    """Read until EOF or want bytes."""
    s.setblocking(False)
    buf = bytearray()
    end = time.time() + timeout
    while len(buf) < want and time.time() < end:
        r, _, _ = select.select([s], [], [], 0.5)
        if r:
            b = s.recv(1 << 16)
            if not b:
                break
            buf += b
    return bytes(buf)


def read_all(socks, want, timeout=60):
    """Read every socket until EOF (or want bytes), all at once."""
    bufs = {s: bytearray() for s in socks}
    live = list(socks)
    end = time.time() + timeout
    while live and time.time() < end:
        r, _, _ = select.select(live, [], [], 0.5)
        for s in r:
            b = s.recv(1 << 16)
            bufs[s] += b
            if not b or len(bufs[s]) >= want:
                live.remove(s)
    return [bytes(bufs[s]) for s in socks]


def scores_run(*args, data):
    """(scores, detections, vad events) of one stdin run to its end."""
    d = stdin_daemon("--exit-on-eof", "--set", "detect.threshold=0.2",
                     "--set", "detect.refractory_ms=500", *args)
    c = d.client()
    r = c.request({"type": "subscribe", "events": ["detection", "scores", "vad"]})
    assert r["type"] == "subscribed", r
    feed(d, data)
    sc, det, vad = [], [], []
    end = time.time() + 120
    while time.time() < end:
        m = c.recv(1)
        if m is None:
            if c.eof:
                break
            continue
        {"scores": sc, "detection": det, "vad": vad}.get(m["type"], []).append(m)
    assert d.p.wait(15) == 0, d.stderr()
    d.err.close()
    return sc, det, vad


def wait_pcm_clients(c, n):
    """Until status (over client c) counts n pcm_socket readers, for at most 2 s."""
    for _ in range(100):
        st = c.request({"type": "status"})
        if st["pcm_clients"] == n:
            return
        time.sleep(0.02)
    assert st["pcm_clients"] == n, st


def test_classify_on_denoised():
    data = raw_s16(SAMPLE)
    secs = len(data) / 2 / RATE
    # without the RMS gate every inference runs: comparable time grids
    raw_sc, raw_det, _ = scores_run(data=data)
    _, _, raw_vad = scores_run("--set", "detect.vad=yes", data=data)
    # strength 0 passes the audio through: with the latency accounted for,
    # the same scores at the same stream times as the raw run
    pt_sc, pt_det, _ = scores_run("--set", "denoise.classify_on=denoised",
                                       "--set", "denoise.strength=0", data=data)
    dn_sc, dn_det, dn_vad = scores_run("--set", "denoise.classify_on=denoised",
                                       "--set", "denoise.strength=30",
                                       "--set", "detect.vad=yes", data=data)
    log("raw: %d scores %d detections; denoised: %d scores %d detections %s" %
        (len(raw_sc), len(raw_det), len(dn_sc), len(dn_det), [m["label"] for m in dn_det]))
    assert len(raw_sc) > secs * 5, (len(raw_sc), secs)
    assert [m["stream_time"] for m in pt_sc] == [m["stream_time"] for m in raw_sc]
    worst = max(abs(a - b) for x, y in zip(pt_sc, raw_sc) for a, b in zip(x["scores"], y["scores"]))
    log("strength 0 vs raw: largest score difference %.2g" % worst)
    assert worst < 2e-3, worst
    key = lambda m: (m["label"], round(m["start"], 3))  # noqa: E731
    assert [key(m) for m in pt_det] == [key(m) for m in raw_det], (pt_det, raw_det)
    # strength 30 changes what the network hears, on the same time grid (the
    # RMS gate, measured on the denoised audio, may skip other inferences)
    t0 = raw_sc[0]["stream_time"]
    for m in dn_sc:
        k = (m["stream_time"] - t0) / 0.1
        assert abs(k - round(k)) < 1e-6, (m["stream_time"], t0)
    raw_at = {round(m["stream_time"], 4): m["scores"] for m in raw_sc}
    common = [(m["scores"], raw_at[round(m["stream_time"], 4)]) for m in dn_sc
              if round(m["stream_time"], 4) in raw_at]
    assert len(common) > len(raw_sc) // 2, (len(common), len(raw_sc))
    assert any(abs(a - b) > 1e-3 for x, y in common for a, b in zip(x, y))
    assert len(dn_det) >= 1, dn_det
    for m in dn_det:
        assert 0.2 <= m["score"] <= 1 and m["end"] - m["start"] < 1.0 and m["end"] <= secs + 0.01, m
    # vad events carry the denoiser's speech presence only when it runs
    assert raw_vad and all("speech" not in m for m in raw_vad), raw_vad
    assert dn_vad and all(0 <= m["speech"] <= 1 for m in dn_vad), dn_vad
    log("vad speech values: %s" % [(m["active"], m["speech"]) for m in dn_vad])


def test_pcm_socket_bytes():
    data = raw_s16(SAMPLE)
    pcm = os.path.join(os.environ["TMPDIR"], "pcm-bytes.sock")
    # The audio goes in ~300x faster than real time, so a reader the OS leaves
    # unscheduled for a few ms falls seconds behind and is dropped as slow
    # (CI saw all three cut at 201280 bytes). A queue longer than the whole
    # sample (10.2 s) keeps this test about byte counts, not reader speed.
    d = stdin_daemon("--exit-on-eof", "--set", "denoise.pcm_socket=" + pcm,
                     "--set", "denoise.pcm_queue_ms=20000")
    readers = [connect_unix(pcm) for _ in range(3)]
    c = d.client()
    for _ in range(100):   # all three accepted before the audio starts
        st = c.request({"type": "status"})
        if st["pcm_clients"] == 3:
            break
        time.sleep(0.02)
    assert st["pcm_clients"] == 3 and st["classify_on"] == "raw", st
    t0 = time.time()
    feed(d, data)
    got = read_all(readers, len(data) + 1)
    wall = time.time() - t0
    assert d.p.wait(15) == 0, d.stderr()
    log("PCM: %d bytes in, %s out (%.2f s for %.1f s of audio)" %
        (len(data), [len(g) for g in got], wall, len(data) / 2 / RATE))
    for g in got:
        assert len(g) == len(data), (len(g), len(data))
        assert g == got[0]
    assert got[0] != data   # denoised (strength 20), not a copy
    # sample i of the stream is input sample i: a strong correlation at lag 0
    import array
    x = array.array("h", data)
    y = array.array("h", got[0])
    def corr(lag):
        n = len(x) - 4000
        return sum(x[i] * y[i + lag] for i in range(2000, n, 3))
    c0, c1 = corr(0), max(abs(corr(512)), abs(corr(256)))
    assert c0 > 3 * c1, (c0, c1)
    # exactly what `drsn denoise` writes for the same file: the same samples
    # at the same times, rounded to 16 bits the same way (to nearest)
    out = os.path.join(os.environ["TMPDIR"], "pcm-bytes-cli.wav")
    r = subprocess.run([DRSN, "denoise", SAMPLE, out], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with wave.open(out) as w:
        cli = w.readframes(w.getnframes())
    z = array.array("h", cli)
    diff = [i for i in range(len(y)) if y[i] != z[i]] if len(z) == len(y) else ["length %d" % len(z)]
    assert not diff, "PCM socket and drsn denoise differ at %d samples, first %s: %s" % (
        len(diff), diff[:3], [(y[i], z[i]) for i in diff[:3] if isinstance(i, int)])


def test_pcm_slow_reader_dropped():
    secs = 40
    import math
    import struct
    one = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / RATE)))
                   for i in range(RATE))
    data = one * secs
    pcm = os.path.join(os.environ["TMPDIR"], "pcm-slow.sock")
    d = stdin_daemon("--set", "denoise.pcm_socket=" + pcm, "--set", "denoise.pcm_queue_ms=3000")
    lazy = connect_unix(pcm)
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    good = connect_unix(pcm)
    c = d.client()
    wait_pcm_clients(c, 2)
    # 8x real time: a source as fast as the pipe would outrun any reader
    # (audio never waits), which is not what this test is about
    import threading
    def paced():
        step = RATE // 10 * 2
        t = time.time()
        for i in range(0, len(data), step):
            d.p.stdin.write(data[i:i + step])
            d.p.stdin.flush()
            t += 0.1 / 8
            time.sleep(max(0, t - time.time()))
        d.p.stdin.close()
    th = threading.Thread(target=paced)
    t0 = time.time()
    th.start()
    got = read_pcm(good, len(data), timeout=120)
    th.join()
    wall = time.time() - t0
    assert len(got) == len(data), (len(got), len(data), d.stderr()[-2000:])
    st = c.request({"type": "status"})
    log("slow reader: good reader got %d bytes in %.2f s; status pcm_clients=%d pcm_dropped=%d" %
        (len(got), wall, st["pcm_clients"], st["pcm_dropped"]))
    assert st["pcm_dropped"] == 1 and st["pcm_clients"] == 1, st
    assert st["source"]["overflows"] == 0, st
    # the dropped reader sees the end of its stream
    lazy.setblocking(False)
    total = 0
    end = time.time() + 10
    while time.time() < end:
        r, _, _ = select.select([lazy], [], [], 0.5)
        if r:
            try:
                b = lazy.recv(1 << 16)
            except ConnectionResetError:
                b = b""
            if not b:
                break
            total += len(b)
    else:
        raise AssertionError("the dropped reader was not disconnected")
    assert total < len(data) // 2, total
    assert d.stop() == 0
    # the log names the socket: PCM readers and [socket] clients count apart
    assert "[denoise] pcm_socket reader 1: output queue full" in d.stderr(), d.stderr()[-2000:]


def test_pcm_reader_over_max_clients_logged():
    """A reader past [socket] max_clients is closed at once; it cannot be
    sent a reason, so the log has it."""
    pcm = os.path.join(os.environ["TMPDIR"], "pcm-full.sock")
    d = stdin_daemon("--set", "denoise.pcm_socket=" + pcm, "--set", "socket.max_clients=2")
    readers = [connect_unix(pcm) for _ in range(2)]
    c = d.client()
    wait_pcm_clients(c, 2)
    extra = connect_unix(pcm)
    extra.settimeout(10)
    assert extra.recv(16) == b""   # closed, nothing sent
    want = "[denoise] pcm_socket: 2 readers connected ([socket] max_clients), closing a new one (1 so far)"
    for _ in range(100):
        if want in d.stderr():
            break
        time.sleep(0.05)
    assert want in d.stderr(), d.stderr()[-2000:]
    assert c.request({"type": "status"})["pcm_clients"] == 2
    for r in readers + [extra]:
        r.close()
    assert d.stop() == 0


def test_reload_new_strength_keeps_pcm_aligned():
    """A reload that changes the strength swaps the denoiser mid-stream: the
    PCM stream keeps its length, and the scores their time grid."""
    import threading
    data = raw_s16(SAMPLE)
    tmp = os.environ["TMPDIR"]
    conf = os.path.join(tmp, "reload-denoise.conf")
    pcm = os.path.join(tmp, "pcm-reload.sock")
    with open(conf, "w") as f:
        f.write("[denoise]\nclassify_on = denoised\nstrength = 10\npcm_socket = %s\n" % pcm)
    d = stdin_daemon("--config", conf, "--exit-on-eof")
    reader = connect_unix(pcm)
    c = d.client()
    c.request({"type": "subscribe", "events": ["scores"]})
    with open(conf, "w") as f:
        f.write("[denoise]\nclassify_on = denoised\nstrength = 25\npcm_socket = %s\n" % pcm)

    def paced():   # 4x real time, reload half-way
        step = RATE // 10 * 2
        for k, i in enumerate(range(0, len(data), step)):
            d.p.stdin.write(data[i:i + step])
            d.p.stdin.flush()
            time.sleep(0.1 / 4)
            if k == 50:
                c.send({"type": "reload", "id": "r"})
        d.p.stdin.close()
    th = threading.Thread(target=paced)
    th.start()
    got = read_pcm(reader, len(data) + 1)
    th.join()
    msgs = []
    while True:
        m = c.recv(5)
        if m is None:
            break
        msgs.append(m)
    assert d.p.wait(15) == 0, d.stderr()
    rel = [m for m in msgs if m["type"] == "reload"]
    assert rel and rel[0]["ok"], (rel, d.stderr())
    t = [m["stream_time"] for m in msgs if m["type"] == "scores"]
    log("reload mid-stream: %d PCM bytes of %d; %d scores" % (len(got), len(data), len(t)))
    assert len(got) == len(data), (len(got), len(data))
    # the grid restarts at the reload, on input time: no step back, no gap
    steps = [b - a for a, b in zip(t, t[1:])]
    assert all(0 < x < 0.2 + 1e-6 for x in steps), steps


def test_check_config_rejects_bad_denoise():
    tmp = os.environ["TMPDIR"]
    conf = os.path.join(tmp, "bad-denoise.conf")
    with open(conf, "w") as f:
        f.write("[denoise]\n; comment\nstrength = 10\nclassify_on = cleaned\nstrength = -3\n")
    r = subprocess.run([DRSND, "--check-config", "--config", conf, "--model", MODEL],
                       capture_output=True, text=True, timeout=60)
    log(r.stderr.strip())
    assert r.returncode == 1, r
    assert "%s:4: [denoise] classify_on: 'cleaned' is not 'raw' or 'denoised'" % conf in r.stderr, r.stderr
    assert "%s:5: [denoise] strength: '-3'" % conf in r.stderr, r.stderr
    with open(conf, "w") as f:
        f.write("[denoise]\nclassify_on = denoised\nstrength = 12.5\npcm_socket = %s/p.sock\n" % tmp)
    r = subprocess.run([DRSND, "--check-config", "--config", conf, "--model", MODEL],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r


if __name__ == "__main__":
    main([test_check_config_rejects_bad_denoise, test_pcm_socket_bytes,
          test_pcm_slow_reader_dropped, test_pcm_reader_over_max_clients_logged, test_classify_on_denoised,
          test_reload_new_strength_keeps_pcm_aligned])
