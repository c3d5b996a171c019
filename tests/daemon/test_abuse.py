#!/usr/bin/python3
"""Abuse: 64 clients at once. One never reads, one sends 10 MB without a
newline, one sends invalid JSON, one disconnects mid-line. The good clients
keep receiving detections, memory stays bounded, nothing crashes."""
import os
import select
import threading
import time

from drsndtest import Daemon, main, log, write_wav, noise_bursts

N_GOOD = 60


def test_abuse():
    tmp = os.environ["TMPDIR"]
    wav = os.path.join(tmp, "long.wav")
    write_wav(wav, noise_bursts(40))
    # threshold 0: a detection every refractory period, so there is a steady
    # flow to check. Scores every 20 ms and levels every 10 ms give the
    # non-reader ~25 kB/s to choke on; its queue is 16 kB.
    d = Daemon("--set", "socket.max_clients=70", "--set", "socket.client_queue=16384",
               "--set", "detect.threshold=0", "--set", "detect.refractory_ms=1000",
               "--set", "detect.inference_hop_ms=20", "--set", "detect.level_interval_ms=10",
               source="file:" + wav).wait_listening()
    time.sleep(0.2)
    rss0 = d.rss_kb()
    good = [d.client() for _ in range(N_GOOD)]

    # never reads: subscribe to everything, then ignore the socket
    lazy = d.client()
    lazy.send({"type": "subscribe", "events": ["detection", "scores", "level", "vad", "status"]})
    # invalid JSON (it, and the flooder below, subscribe to nothing: they do
    # not read during the test, and only the lazy client should overflow)
    bad = d.client()
    bad.request({"type": "subscribe", "events": []})
    # disconnects mid-line
    mid = d.client()
    mid.send(b'{"type":"pi')
    mid.close()
    # 10 MB without a newline, from a thread (it blocks while the daemon reads)
    flood = d.client()
    flood.request({"type": "subscribe", "events": []})
    sent = [0]

    def blast():
        chunk = b"A" * 65536
        try:
            while sent[0] < 10 * 1024 * 1024:
                flood.s.sendall(chunk)
                sent[0] += len(chunk)
        except OSError as e:
            log("flood sender:", e)

    th = threading.Thread(target=blast)
    th.start()
    for _ in range(3):
        bad.send(b"{not json}\n")
    rss_peak = 0
    counts = [0] * N_GOOD
    last_t = [0.0] * N_GOOD
    t_end = time.time() + 12
    # read for 12 s, and on until the flooder has sent its 10 MB (slow under ASan)
    while time.time() < t_end or (th.is_alive() and time.time() < t_end + 60):
        r, _, _ = select.select([c.s for c in good], [], [], 0.2)
        for i, c in enumerate(good):
            if c.s in r:
                assert c.pump(), "good client %d was disconnected" % i
                for m in c.lines():
                    if m["type"] == "detection":
                        counts[i] += 1
                        last_t[i] = m["stream_time"]
        rss_peak = max(rss_peak, d.rss_kb())
    th.join(30)
    assert sent[0] >= 10 * 1024 * 1024, sent[0]
    # the flooder got exactly one line_too_long error and is still connected
    e = flood.recv(5)
    assert e and e["type"] == "error" and e["code"] == "line_too_long", e
    try:
        flood.send(b"\n")
    except OSError:
        raise AssertionError("flooder disconnected: rc=%s %s" % (d.p.poll(), "\n".join(l for l in d.stderr().splitlines() if "client" in l)))
    assert flood.request({"type": "ping"})["type"] == "pong"
    # the invalid-JSON client got its errors and still works
    for _ in range(3):
        e = bad.recv(5)
        assert e["type"] == "error" and e["code"] == "bad_json", e
    assert bad.request({"type": "ping"})["type"] == "pong"
    # the lazy client was dropped, nobody else
    st = good[0].request({"type": "status"})
    log("status:", st)
    log("detections per good client: min %d max %d; last stream time %.2f..%.2f s"
        % (min(counts), max(counts), min(last_t), max(last_t)))
    assert st["dropped_slow"] == 1, st
    assert st["clients"] == N_GOOD + 2, st
    assert min(counts) >= 10, counts
    assert max(last_t) - min(last_t) < 0.5, last_t
    # 12 s of audio were processed in ~12 s: nobody held the loop back
    assert st["stream_time"] > 11, st
    lazy.s.setblocking(False)
    got = b""
    try:
        while True:
            x = lazy.s.recv(1 << 20)
            if not x:
                break
            got += x
    except BlockingIOError:
        raise AssertionError("the lazy client was not disconnected")
    log("lazy client had %d bytes waiting when dropped" % len(got))
    log("RSS: %d kB at start, peak %d kB with %d clients and 10 MB flood" % (rss0, rss_peak, N_GOOD + 4))
    # 10 MB were never buffered; per-client memory is bounded (16 kB queue + 4 kB line)
    assert rss_peak - rss0 < 8 * 1024, (rss0, rss_peak)
    for c in good:
        c.close()
    assert d.stop() == 0
    assert "ERROR" not in d.stderr()


if __name__ == "__main__":
    main([test_abuse])
