#!/usr/bin/python3
"""bench-wyoming: how much audio one drsnd classifies for Wyoming clients.

N clients at once each stream samples/keywords-clean.wav REPEAT times over
(10.2 s each, 1024-sample chunks, as fast as drsnd takes them) and wait for
their last event. Prints,
per N, the median over RUNS of: wall time, audio seconds per wall second
(all clients together), and audio seconds per second of drsnd's CPU time
(utime + stime from /proc: the figure that does not depend on what else the
shared machine runs). Each client's detections are checked against the
first client's (the same audio must give the same detections).

  /usr/bin/python3 plugins/wyoming/bench_wyoming.py --build build \\
      --model models/kws20-drsn-cw.safetensors [--clients 1,4,16] [--runs 3] [--repeat 10]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wyclient import Wy, read_wav, stream, detections  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "kws20-drsn-cw.safetensors"))
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=10,
                    help="the sample this many times per stream (CPU time is counted in 10 ms ticks)")
    a = ap.parse_args()
    drsnd = os.path.join(a.build, "src", "daemon", "drsnd")
    plugdir = os.path.abspath(os.path.join(a.build, "plugins", "wyoming"))
    sample = os.path.join(ROOT, "samples", "keywords-clean.wav")
    _, _, _, pcm = read_wav(sample)
    pcm *= a.repeat
    audio_s = len(pcm) / 32000

    tmp = tempfile.mkdtemp(prefix="bench-wyoming-")
    silence = os.path.join(tmp, "silence.wav")
    with wave.open(silence, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000)
    conf = os.path.join(tmp, "drsnd.conf")
    with open(conf, "w") as f:
        f.write("[plugins]\ndir = %s\nload = wyoming\n\n[plugin wyoming]\nuri = tcp://127.0.0.1:0\n"
                "max_clients = 64\n" % plugdir)
    err = open(os.path.join(tmp, "stderr"), "w+")
    p = subprocess.Popen([drsnd, "--config", conf, "--socket", os.path.join(tmp, "s.sock"),
                          "--model", a.model, "--source", "file:" + silence, "--log-level", "info"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        port = None
        end = time.time() + 20
        while port is None:
            assert p.poll() is None and time.time() < end, open(err.name).read()
            m = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", open(err.name).read())
            port = int(m.group(1)) if m else None
            time.sleep(0.05)
        print("bench-wyoming: %s, %.1f s of audio per client (the sample %d times), model %s, %d runs (median)"
              % (drsnd, audio_s, a.repeat, os.path.basename(a.model), a.runs))
        print("| clients | wall s | audio s / wall s | audio s / drsnd CPU s |")
        print("| ---: | ---: | ---: | ---: |")
        for n in [int(x) for x in a.clients.split(",")]:
            walls, cpus = [], []
            for _ in range(a.runs):
                res = [None] * n
                conns = [Wy(port) for _ in range(n)]

                def run(i):
                    res[i] = detections(stream(conns[i], pcm))

                c0, t0 = cpu_s(p.pid), time.time()
                ths = [threading.Thread(target=run, args=(i,)) for i in range(n)]
                for t in ths:
                    t.start()
                for t in ths:
                    t.join()
                walls.append(time.time() - t0)
                cpus.append(cpu_s(p.pid) - c0)
                for c in conns:
                    c.close()
                assert all(r == res[0] for r in res), res
            w, c = statistics.median(walls), statistics.median(cpus)
            print("| %d | %.2f | %.0f | %.0f |" % (n, w, n * audio_s / w, n * audio_s / max(c, 1e-3)))
        print("detections per stream: %d, the first: %s" % (len(res[0]), res[0][:8]))
    finally:
        p.terminate()
        p.wait(15)


if __name__ == "__main__":
    main()
