#!/usr/bin/python3
"""drsnd soak: weeks of an edge box's events compressed into minutes (a
program that prints figures, not a test).

  /usr/bin/python3 tests/daemon/soak_daemon.py --drsnd build/src/daemon/drsnd \\
      --model build/tests/daemon/random-cw-small.safetensors --plugin-dir build/plugins [--cycles 2000]

One drsnd reads raw PCM from stdin (a generator thread writes noise bursts
at twice real time) with the recorder and wyoming plugins loaded. Each cycle
runs a mix of socket clients: connect and leave, an abrupt reset (RST), a
half-close after a command, a flood of bad lines, one that subscribes to
everything and never reads (up to 8 held open at once, the oldest dropped),
and a Wyoming connection that streams a little audio and resets. Every
--hup-every cycles the config file is rewritten (model A/B, threshold, VAD
on/off, denoiser on/off, and every fourth time a bad file) and drsnd gets a
SIGHUP. At checkpoints it prints the daemon's open fds, RSS, threads, socket
files in its folder, recordings, and the bytes it logged at the default
level (warning). Anything that grows with the cycle count is a leak.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RATE = 16000
EVENTS = ["detection", "scores", "level", "vad", "status"]


def noise(n, seed):
    r = random.Random(seed)
    return b"".join(struct.pack("<h", int((8000 if (i // 8000) % 3 == 0 else 300) * r.uniform(-1, 1)))
                    for i in range(n))


def proc(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def write_conf(path, tmp, plugin_dir, i, model_a, model_b):
    """The i-th config: every fourth one (i % 4 == 3) is bad."""
    rec = os.path.join(tmp, "rec")
    body = ("[daemon]\nstatus_interval_ms = 200\n"
            "[model]\npath = %s\n"
            "[detect]\nthreshold = %.2f\nvad = %s\n"
            "[denoise]\nclassify_on = %s\nstrength = %d\n"
            "[plugins]\ndir = %s\nload = recorder, wyoming\n"
            "[plugin recorder]\ndir = %s\nmax_mb = 1\npre_roll_ms = 200\npost_roll_ms = 200\n"
            "[plugin wyoming]\nuri = unix://%s\nmax_clients = 8\n"
            % (model_a if i % 2 else model_b, 0.05 + 0.1 * (i % 3), "yes" if i % 3 == 1 else "no",
               "denoised" if i % 2 == 0 else "raw", 10 + 5 * (i % 3), plugin_dir, rec,
               os.path.join(tmp, "wy.sock")))
    if i % 4 == 3:
        body += "[detect]\nthreshold = lots\n"
    with open(path, "w") as f:
        f.write(body)


class Soak:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="drsnd-soak-")
        os.makedirs(os.path.join(self.tmp, "rec"))
        self.pdir = os.path.join(self.tmp, "plugins")
        os.mkdir(self.pdir, 0o755)
        for n in ("recorder", "wyoming"):
            shutil.copy(os.path.join(a.plugin_dir, n, n + ".so"), self.pdir)
        self.conf = os.path.join(self.tmp, "drsnd.conf")
        self.model_b = a.model_b or os.path.join(ROOT, "models", "kws20-drsn-cw.safetensors")
        write_conf(self.conf, self.tmp, self.pdir, 0, a.model, self.model_b)
        self.sock = os.path.join(self.tmp, "drsnd.sock")
        self.errpath = os.path.join(self.tmp, "stderr.txt")
        self.err = open(self.errpath, "wb")
        self.p = subprocess.Popen([a.drsnd, "--config", self.conf, "--socket", self.sock,
                                   "--source", "stdin"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=self.err)
        self.stop_feed = False
        self.feeder = threading.Thread(target=self.feed, daemon=True)
        self.feeder.start()
        self.held = []
        self.t0 = time.time()
        self.hups = 0
        self.clients = 0

    def feed(self):
        blocks = [noise(RATE // 10, s) for s in range(10)]
        i = 0
        t0 = time.time()
        try:
            while not self.stop_feed:
                self.p.stdin.write(blocks[i % 10])
                self.p.stdin.flush()
                i += 1
                ahead = i * 0.1 / self.a.speed - (time.time() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        except (BrokenPipeError, ValueError):
            pass

    def connect(self, path=None):
        for _ in range(500):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path or self.sock)
                s.settimeout(10)
                return s
            except OSError:
                s.close()
                time.sleep(0.02)
        raise RuntimeError("cannot connect to %s" % (path or self.sock))

    def read_until(self, s, pred):
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                return None
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = json.loads(line)
                if pred(m):
                    return m

    def status(self):
        s = self.connect()
        s.sendall(b'{"type":"status","id":7}\n')
        m = self.read_until(s, lambda m: m.get("id") == 7)
        s.close()
        return m

    def cycle(self, i):
        r = random.Random(i)
        # connect, read hello, leave
        s = self.connect()
        s.recv(4096)
        s.close()
        # abrupt reset after a command
        s = self.connect()
        s.sendall(b'{"type":"ping"}\n')
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        # half-close: a command, EOF (drsnd goes on sending), its reply, leave
        s = self.connect()
        s.sendall(b'{"type":"status","id":3}\n')
        s.shutdown(socket.SHUT_WR)
        self.read_until(s, lambda m: m.get("id") == 3)
        s.close()
        # bad lines
        s = self.connect()
        s.sendall(b"nonsense\n" * r.randrange(1, 5) + b'{"type":"nope"}\n')
        s.close()
        # subscribe to everything, never read
        s = self.connect()
        s.sendall((json.dumps({"type": "subscribe", "events": EVENTS}) + "\n").encode())
        self.held.append(s)
        if len(self.held) > 8:
            self.held.pop(0).close()
        # wyoming: stream a little audio, then reset or close
        wy = os.path.join(self.tmp, "wy.sock")
        if os.path.exists(wy):
            try:
                w = self.connect(wy)
                fmt = {"rate": 16000, "width": 2, "channels": 1}
                w.sendall(json.dumps({"type": "audio-start", "data": fmt}).encode() + b"\n")
                pcm = noise(1024, i)
                w.sendall(json.dumps({"type": "audio-chunk", "data": fmt,
                                      "payload_length": len(pcm)}).encode() + b"\n" + pcm)
                if i % 2:
                    w.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                w.close()
            except OSError:
                pass
        self.clients += 6
        if i % self.a.hup_every == 0:
            self.hups += 1
            write_conf(self.conf, self.tmp, self.pdir, self.hups, self.a.model, self.model_b)
            self.p.send_signal(signal.SIGHUP)

    def sample(self, i):
        pid = self.p.pid
        fds = len(os.listdir("/proc/%d/fd" % pid))
        socks = len([f for f in os.listdir(self.tmp) if f.endswith(".sock") or ".sock." in f or f.startswith(".")])
        recs = len(os.listdir(os.path.join(self.tmp, "rec")))
        self.err.flush()
        logged = os.path.getsize(self.errpath)
        st = self.status() or {}
        print("%6d %6.0f %6d %5d %5d %8d %7d %6d %5d %5d %8d %8.1f %s" % (
            i, time.time() - self.t0, self.clients, self.hups, fds, proc(pid, "VmRSS"), proc(pid, "Threads"),
            socks, recs,
            st.get("clients", -1), logged, st.get("stream_time", -1),
            "reloads=%s/%s" % (st.get("reloads"), st.get("reload_failures"))), flush=True)
        return fds, proc(pid, "VmRSS"), proc(pid, "Threads")

    def close(self):
        self.stop_feed = True
        for s in self.held:
            s.close()
        self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.err.close()
        return rc


def print_kinds(lines):
    kinds = {}
    for line in lines:
        k = re.sub(r"\d+", "N", line)[:100]
        kinds[k] = kinds.get(k, 0) + 1
    for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:8]:
        print("  %6d  %s" % (n, k))


def pa_soak(a):
    """drsnd on PortAudio -> ALSA pulse -> a private PulseAudio that is killed
    and restarted a.pa_cycles times: a USB microphone unplugged and back."""
    from test_live import Pulse
    tmp = tempfile.mkdtemp(prefix="drsnd-soak-pa-")
    pulse = Pulse(tmp)
    pulse.start()
    sock = os.path.join(tmp, "drsnd.sock")
    errpath = os.path.join(tmp, "stderr.txt")
    p = subprocess.Popen([a.drsnd, "--socket", sock, "--model", a.model, "--source", "pa:pulse",
                          "--set", "audio.retry_min_ms=100", "--set", "audio.retry_max_ms=400",
                          "--set", "audio.stall_ms=500", "--set", "daemon.status_interval_ms=0"],
                         env=pulse.env, stdout=subprocess.DEVNULL, stderr=open(errpath, "wb"))

    def state():
        for _ in range(500):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                c.connect(sock)
                break
            except OSError:
                c.close()
                time.sleep(0.02)
        c.settimeout(10)
        c.sendall(b'{"type":"status","id":1}\n')
        buf = b""
        while True:
            buf += c.recv(65536)
            for line in buf.split(b"\n")[:-1]:
                m = json.loads(line)
                if m.get("id") == 1:
                    c.close()
                    return m["source"]

    def wait(what, end=30):
        end = time.time() + end
        while time.time() < end:
            st = state()
            if st["state"] == what:
                return st
            time.sleep(0.05)
        raise RuntimeError("source not %s: %s" % (what, st))

    def sample(i, st):
        print("pa %4d %5d %8d %7d restarts=%d" % (
            i, len(os.listdir("/proc/%d/fd" % p.pid)), proc(p.pid, "VmRSS"), proc(p.pid, "Threads"),
            st["restarts"]), flush=True)
        return len(os.listdir("/proc/%d/fd" % p.pid)), proc(p.pid, "VmRSS"), proc(p.pid, "Threads")

    try:
        print("pa %4s %5s %8s %7s" % ("loss", "fds", "rss_kb", "threads"))
        first = sample(0, wait("running"))
        for i in range(1, a.pa_cycles + 1):
            pulse.kill()
            wait("retrying")
            pulse.start()
            st = wait("running")
            if i % max(1, a.pa_cycles // 5) == 0:
                last = sample(i, st)
        print("growth over %d device losses: fds %+d, rss %+d kB, threads %+d" % (
            a.pa_cycles, last[0] - first[0], last[1] - first[1], last[2] - first[2]))
        with open(errpath, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        print("log lines at the default level: %d (%.1f per loss); most frequent:"
              % (len(lines), len(lines) / a.pa_cycles))
        print_kinds(lines)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(60)
        pulse.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--drsnd", default=os.path.join(ROOT, "build", "src", "daemon", "drsnd"))
    ap.add_argument("--model", default=os.path.join(ROOT, "build", "tests", "daemon",
                                                    "random-cw-small.safetensors"))
    ap.add_argument("--model-b", help="the other model reloads alternate with (default: the shipped one)")
    ap.add_argument("--plugin-dir", default=os.path.join(ROOT, "build", "plugins"),
                    help="build folder holding recorder/recorder.so and wyoming/wyoming.so")
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--hup-every", type=int, default=10)
    ap.add_argument("--checkpoints", type=int, default=8)
    ap.add_argument("--speed", type=float, default=2.0, help="audio fed at this many times real time")
    ap.add_argument("--pa-cycles", type=int, default=0,
                    help="then this many PulseAudio kills and restarts under a pa: source")
    a = ap.parse_args()
    if a.pa_cycles:
        pa_soak(a)
    if not a.cycles:
        return
    s = Soak(a)
    try:
        time.sleep(3)
        print("%6s %6s %6s %5s %5s %8s %7s %6s %5s %5s %8s %8s" % (
            "cycle", "wall_s", "conns", "hups", "fds", "rss_kb", "threads", "socks", "recs", "cli", "log_B",
            "stream_s"))
        first = s.sample(0)
        every = max(1, a.cycles // a.checkpoints)
        for i in range(1, a.cycles + 1):
            s.cycle(i)
            if i % every == 0:
                time.sleep(0.5)   # let closes and the reload settle
                last = s.sample(i)
        print("growth over %d cycles: fds %+d, rss %+d kB, threads %+d" % (
            a.cycles, last[0] - first[0], last[1] - first[1], last[2] - first[2]))
        with open(s.errpath, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        print("log lines at the default level: %d; most frequent:" % len(lines))
        print_kinds(lines)
    finally:
        rc = s.close()
        print("drsnd exit %d; folder %s" % (rc, s.tmp))
        if rc == 0:
            shutil.rmtree(s.tmp, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
