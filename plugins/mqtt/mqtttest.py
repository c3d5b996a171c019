"""Helpers for the MQTT plugin's test and benchmark: a mosquitto broker on a
free loopback port, mosquitto_sub subscribers read on a thread, and
mqtt-drive (plugins/mqtt/mqtt_drive.c). Standard library only.

Environment (set by plugins/mqtt/meson.build): MOSQUITTO, MOSQUITTO_SUB,
MOSQUITTO_PASSWD, OPENSSL, MQTT_DRIVE, MQTT_PLUGIN_DIR.
"""
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import threading
import time

MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")
MOSQUITTO_SUB = os.environ.get("MOSQUITTO_SUB", "mosquitto_sub")
MOSQUITTO_PUB = os.environ.get("MOSQUITTO_PUB", "mosquitto_pub")
MOSQUITTO_PASSWD = os.environ.get("MOSQUITTO_PASSWD", "mosquitto_passwd")
OPENSSL = os.environ.get("OPENSSL", "openssl")
MQTT_DRIVE = os.environ.get("MQTT_DRIVE", "mqtt-drive")
PLUGIN_DIR = os.environ.get("MQTT_PLUGIN_DIR", "")
PLUGIN = os.path.join(PLUGIN_DIR, "mqtt.so")

try:   # drsndtest.main() kills these after each test
    from drsndtest import RUNNING as PROCS
except ImportError:
    PROCS = []


def kill_all():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()
    del PROCS[:]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


class Broker:
    """mosquitto on 127.0.0.1:port with a temp config. extra: config lines.
    persistence: keep sessions and retained messages over a restart (in a
    temp dir), so a persistent subscriber loses nothing while it
    reconnects."""

    def __init__(self, extra=(), persistence=False, port=None):
        self.dir = tempfile.mkdtemp(prefix="mosquitto-")
        self.port = port or free_port()
        # as root, mosquitto drops to user mosquitto, which cannot read our
        # temp files: stay who we are
        lines = ["user " + pwd.getpwuid(os.getuid()).pw_name, "listener %d 127.0.0.1" % self.port]
        lines += list(extra)
        if not any(l.startswith("allow_anonymous") for l in extra):
            lines += ["allow_anonymous true"]
        if persistence:
            lines += ["persistence true", "persistence_location %s/" % self.dir, "autosave_interval 1"]
        else:
            lines += ["persistence false"]
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.logpath = os.path.join(self.dir, "broker.log")
        self.p = None
        self.start()

    def start(self, timeout=10):
        self.log = open(self.logpath, "ab")
        self.p = subprocess.Popen([MOSQUITTO, "-c", self.conf, "-v"], stdout=self.log, stderr=self.log)
        PROCS.append(self.p)
        end = time.time() + timeout
        while not port_open(self.port):
            if self.p.poll() is not None or time.time() > end:
                raise AssertionError("mosquitto did not start:\n" + self.text())
            time.sleep(0.02)
        return self

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        self.p.wait(10)
        self.log.close()

    def text(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")


class Sub:
    """mosquitto_sub -F '%r %t %p' on topic; lines collected on a thread as
    (time, retained, topic, payload). args: more mosquitto_sub options."""

    def __init__(self, broker, topic="drsnd/#", args=(), auth=()):
        self.msgs = []
        self.topic = topic
        self.auth = list(auth)
        self.cv = threading.Condition()
        cmd = [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic,
               "-F", "%r %t %p"] + list(args) + self.auth
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        PROCS.append(self.p)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            parts = line.split(" ", 2)
            if len(parts) < 2:
                continue
            with self.cv:
                self.msgs.append((time.time(), parts[0] == "1", parts[1], parts[2] if len(parts) > 2 else ""))
                self.cv.notify_all()

    def wait(self, pred, timeout=10, what="message"):
        """The first message m (time, retained, topic, payload) with pred(m)."""
        end = time.time() + timeout
        with self.cv:
            while True:
                for m in self.msgs:
                    if pred(m):
                        return m
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("no %s within %ss; got %s" % (what, timeout, self.msgs[-8:]))
                self.cv.wait(left)

    def count(self, pred):
        with self.cv:
            return sum(1 for m in self.msgs if pred(m))

    def wait_count(self, pred, n, timeout=10, what="messages"):
        end = time.time() + timeout
        with self.cv:
            while sum(1 for m in self.msgs if pred(m)) < n:
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("%d of %d %s within %ss" % (sum(1 for m in self.msgs if pred(m)), n,
                                                                    what, timeout))
                self.cv.wait(left)

    def ready(self, broker, timeout=10):
        """Wait until the subscription is live: a probe published on its
        topic comes back."""
        assert self.topic.endswith("/#"), "ready() needs a topic/# subscription"
        probe = self.topic[:-1] + "probe-%d" % self.p.pid
        end = time.time() + timeout
        while time.time() < end:
            subprocess.run([MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(broker.port), "-t", probe, "-m", "probe"]
                           + list(self.auth), timeout=10, check=True)
            try:
                self.wait(lambda m: m[2] == probe, 0.5, "probe")
                return self
            except AssertionError:
                pass
        raise AssertionError("subscriber not ready within %ss" % timeout)

    def where(self, pred):
        with self.cv:
            return [m for m in self.msgs if pred(m)]

    def on(self, topic):
        with self.cv:
            return [m for m in self.msgs if m[2] == topic]

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            self.p.wait(5)


def retained(broker, topic, args=()):
    """The retained message on topic (payload), or None."""
    r = subprocess.run([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic,
                        "--retained-only", "-C", "1", "-W", "2", "-F", "%r %p"] + list(args),
                       capture_output=True, text=True, timeout=20)
    out = r.stdout.strip()
    if not out:
        return None
    flag, _, payload = out.partition(" ")
    assert flag == "1", out
    return payload


def drive(*args, check=False, timeout=120):
    """mqtt-drive PLUGIN args...; returns the CompletedProcess."""
    r = subprocess.run([MQTT_DRIVE, PLUGIN] + list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError("mqtt-drive %s failed (%d):\n%s%s" % (args, r.returncode, r.stdout, r.stderr))
    return r


def drive_async(*args):
    p = subprocess.Popen([MQTT_DRIVE, PLUGIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    PROCS.append(p)
    return p
