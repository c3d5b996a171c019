#!/usr/bin/python3
"""drsnd benchmark: prints the issue's targets (a program, not a test).

  /usr/bin/python3 tests/daemon/bench_daemon.py --drsnd build/src/daemon/drsnd [--runs 3]

1. CPU of a live 16 kHz stream with 10 inferences/s on the default-size model
   (a random-init export: same cost as the trained one), as % of one core:
   drsnd reads raw PCM from stdin paced at real time; CPU = the daemon's
   cpu_time over the run. Baseline in the same run: the same stream with no
   model (level metering only), so the difference is the pipeline's cost.
   Median of --runs runs.
2. Processing latency: from the moment the last sample of an inference window
   is written to drsnd's stdin to the moment its `scores` event is read from
   the socket (median and 95th percentile). Device buffering (see the live
   test: ~110 ms through PulseAudio) and the smoothing span come on top.
3. Memory: RSS after start, and over one hour of audio pushed as fast as
   possible (sampled every 6 minutes of stream time): growth must be ~0.
"""
import argparse
import json
import os
import random
import select
import socket
import struct
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RATE = 16000


def audio_block(n, seed):
    r = random.Random(seed)
    return b"".join(struct.pack("<h", int(3000 * r.uniform(-1, 1))) for _ in range(n))


class Run:
    def __init__(self, drsnd, model, tmp, extra=()):
        self.sock = os.path.join(tmp, "bench-%d.sock" % random.randrange(1 << 30))
        self.p = subprocess.Popen([drsnd, "--socket", self.sock, "--model", model, "--source", "stdin",
                                   "--set", "daemon.status_interval_ms=0"] + list(extra),
                                  stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _ in range(1000):
            try:
                self.c = socket.socket(socket.AF_UNIX)
                self.c.connect(self.sock)
                break
            except OSError:
                time.sleep(0.01)
        self.buf = b""
        self.next_msg()  # hello

    def send(self, obj):
        self.c.sendall((json.dumps(obj) + "\n").encode())

    def next_msg(self, timeout=30):
        end = time.time() + timeout
        while b"\n" not in self.buf:
            r, _, _ = select.select([self.c], [], [], max(0, end - time.time()))
            if not r:
                return None
            d = self.c.recv(1 << 16)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def status(self):
        self.send({"type": "status", "id": "st"})
        while True:
            m = self.next_msg()
            if m is None or m.get("id") == "st":
                return m

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        self.p.terminate()
        self.p.wait()


def cpu_run(drsnd, model, tmp, seconds, seed):
    """CPU % of one core at real-time pace, and the scores latencies."""
    r = Run(drsnd, model, tmp)
    if model:
        r.send({"type": "subscribe", "events": ["scores"]})
    block = 160  # 10 ms
    data = audio_block(RATE, seed)  # 1 s, repeated
    written = {}   # samples written -> wall time
    lat = []
    st0 = r.status()
    t0 = time.time()
    n = 0
    while n < seconds * RATE:
        due = t0 + n / RATE
        now = time.time()
        if due > now:
            # read events while waiting
            rd, _, _ = select.select([r.c], [], [], due - now)
            if rd:
                d = r.c.recv(1 << 16)
                r.buf += d
                while b"\n" in r.buf:
                    line, r.buf = r.buf.split(b"\n", 1)
                    m = json.loads(line)
                    if m["type"] == "scores":
                        # the block that completed the window's last sample
                        k = int(round(m["stream_time"] * RATE))
                        k = -(-k // block) * block
                        if k in written:
                            lat.append(time.time() - written[k])
            continue
        off = (n % RATE) * 2
        r.p.stdin.write(data[off:off + block * 2])
        r.p.stdin.flush()
        n += block
        written[n] = time.time()
    t1 = time.time()
    st1 = r.status()
    r.close()
    cpu = (st1["cpu_time"] - st0["cpu_time"]) / (t1 - t0)
    return cpu, lat, st1


def memory_run(drsnd, model, tmp, seconds):
    r = Run(drsnd, model, tmp)
    samples = []
    chunk = audio_block(RATE * 6, 5)   # 6 s
    step = 360 * RATE                  # sample RSS every 6 minutes of stream
    n = 0
    t0 = time.time()
    rss0 = r.status()["rss_kb"]
    while n < seconds * RATE:
        r.p.stdin.write(chunk)
        n += len(chunk) // 2
        if n % step == 0:
            r.p.stdin.flush()
            # wait until the daemon has consumed it
            while True:
                st = r.status()
                if st["source"]["samples"] >= n - RATE:
                    break
                time.sleep(0.05)
            samples.append((st["stream_time"], st["rss_kb"], st["inferences"]))
    wall = time.time() - t0
    r.close()
    return rss0, samples, wall


def median(x):
    x = sorted(x)
    return x[len(x) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--drsnd", default=os.path.join(ROOT, "build", "src", "daemon", "drsnd"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=20, help="length of each real-time CPU run")
    ap.add_argument("--hours", type=float, default=1.0, help="stream length of the memory run")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="drsnd-bench-")
    model = os.path.join(tmp, "default.safetensors")
    subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "train", "export.py"), "--random", "--variant", "cw",
                    "--arch", "default", "--seed", "1", "-o", model], check=True, stdout=subprocess.DEVNULL)
    info = subprocess.run([os.path.join(os.path.dirname(a.drsnd), "..", "cli", "drsn"), "info", model],
                          capture_output=True, text=True).stdout
    print("model: random-init default architecture (%s)" % " ".join(l.strip() for l in info.splitlines()
                                                                    if "MAC" in l or "param" in l))
    cpus, bases, lats, infs = [], [], [], []
    for i in range(a.runs):
        base, _, _ = cpu_run(a.drsnd, "", tmp, a.seconds, i)
        cpu, lat, st = cpu_run(a.drsnd, model, tmp, a.seconds, i)
        bases.append(base)
        cpus.append(cpu)
        lats += lat
        infs.append(st["inference_cpu_time"] / max(1, st["inferences"]))
        print("run %d: with model %.2f%% of a core, without %.2f%%; %d inferences, %.3f ms CPU each"
              % (i + 1, 100 * cpu, 100 * base, st["inferences"], 1000 * infs[-1]), flush=True)
    lats.sort()
    print("CPU, 16 kHz live stream, 10 inferences/s (median of %d x %d s): %.2f%% of one core "
          "(baseline without a model %.2f%%; pipeline alone %.2f%%); target <= 2%%"
          % (a.runs, a.seconds, 100 * median(cpus), 100 * median(bases), 100 * (median(cpus) - median(bases))))
    print("inference: median %.3f ms CPU per window" % (1000 * median(infs)))
    if lats:
        print("processing latency, last sample written -> scores event read: median %.1f ms, p95 %.1f ms (n=%d)"
              % (1000 * median(lats), 1000 * lats[int(0.95 * (len(lats) - 1))], len(lats)))
    rss0, samples, wall = memory_run(a.drsnd, model, tmp, int(a.hours * 3600))
    print("memory: RSS %.1f MB after start; over %.1f h of audio (%.0fx real time):" % (rss0 / 1024, a.hours,
                                                                                        a.hours * 3600 / wall))
    for t, rss, n in samples:
        print("  stream %6.0f s  RSS %6.1f MB  inferences %d" % (t, rss / 1024, n))
    growth = samples[-1][1] - samples[0][1]
    print("RSS growth from the first to the last sample: %+d kB; peak %.1f MB; target <= 20 MB"
          % (growth, max(s[1] for s in samples) / 1024))


if __name__ == "__main__":
    main()
