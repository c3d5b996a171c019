"""A private PipeWire sound server for the live tests: what Debian 12 and
Raspberry Pi OS bookworm run on a desktop (pipewire, the wireplumber
session manager, pipewire-pulse), with no sound card.

The same interface as test_live.Pulse (env, start(), kill(), record(),
play()): a sink "drsn" at 16 kHz mono that is the default, so the default
source is its monitor "drsn.monitor", which drsnd records through ALSA's
`pulse` device (libasound2-plugins) talking to pipewire-pulse. The sink is
in PipeWire's own configuration (a support.null-audio-sink node), so it
exists before any client can connect, also after a restart.

Everything is private: HOME, XDG_RUNTIME_DIR, XDG_CONFIG_HOME and a session
D-Bus of its own (wireplumber exits without one; pipewire and
pipewire-pulse only log that they miss it). ALSA's `pipewire` device
(pipewire-alsa) is not used: in Debian 12 that package conflicts with
pulseaudio, which the other live tests need."""
import os
import shutil
import subprocess
import time

from drsndtest import RUNNING, record_monitor

PROGRAMS = ["dbus-daemon", "pipewire", "wireplumber", "pipewire-pulse", "pactl", "paplay", "parec"]

SINK_CONF = """\
context.properties = {{
    default.clock.rate = {rate}
    default.clock.allowed-rates = [ {rate} ]
}}
context.objects = [
    {{ factory = adapter
      args = {{
          factory.name = support.null-audio-sink
          node.name = drsn
          node.description = "drsnd test sink"
          media.class = Audio/Sink
          audio.rate = {rate}
          audio.channels = 1
          audio.position = [ MONO ]
          object.linger = true
          monitor.channel-volumes = true
      }}
    }}
]
"""


def missing_programs():
    return [p for p in PROGRAMS if shutil.which(p) is None]


class PipeWire:
    RATE = 16000   # the graph's and the sink's: no resampling between paplay and drsnd

    def __init__(self, tmp):
        miss = missing_programs()
        assert not miss, ("PipeWire tests need %s (Debian: pipewire pipewire-bin pipewire-pulse wireplumber "
                          "dbus-daemon pulseaudio-utils; .ci/deps)" % " ".join(miss))
        base = os.path.join(tmp, "pipewire")
        self.env = dict(os.environ)
        self.env["HOME"] = os.path.join(base, "home")
        self.env["XDG_RUNTIME_DIR"] = os.path.join(base, "run")
        self.env["XDG_CONFIG_HOME"] = os.path.join(base, "config")
        for k in ("PULSE_SERVER", "PIPEWIRE_REMOTE", "PIPEWIRE_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS",
                  "DISPLAY", "WAYLAND_DISPLAY"):
            self.env.pop(k, None)
        # as in test_live.Pulse: ALSA's dlopen()ed plugins leak a little per open
        self.env["ASAN_OPTIONS"] = self.env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        os.makedirs(self.env["HOME"], exist_ok=True)
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
        conf = os.path.join(self.env["XDG_CONFIG_HOME"], "pipewire", "pipewire.conf.d")
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "drsn-sink.conf"), "w") as f:
            f.write(SINK_CONF.format(rate=self.RATE))
        self.bus = os.path.join(self.env["XDG_RUNTIME_DIR"], "bus")
        self.env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=" + self.bus
        self.log = os.path.join(base, "pipewire.log")
        self.procs = []
        self.server = None   # pipewire-pulse: what a pulse client talks to

    def _spawn(self, argv):
        p = subprocess.Popen(argv, env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))
        RUNNING.append(p)
        self.procs.append(p)
        return p

    def _wait(self, what, ok, timeout=20):
        end = time.time() + timeout
        while not ok():
            for p in self.procs:
                assert p.poll() is None, "%s exited (%s) while waiting for %s: %s" % (
                    p.args[0], p.returncode, what, open(self.log, errors="replace").read()[-3000:])
            assert time.time() < end, "no %s after %d s: %s" % (what, timeout, open(self.log).read()[-3000:])
            time.sleep(0.05)

    def start(self):
        for f in ("bus", "pipewire-0", "pipewire-0.lock"):
            with_path = os.path.join(self.env["XDG_RUNTIME_DIR"], f)
            if os.path.exists(with_path):
                os.unlink(with_path)
        self._spawn(["dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=unix:path=" + self.bus])
        self._wait("session bus", lambda: os.path.exists(self.bus))
        self._spawn(["pipewire"])
        self._wait("pipewire socket", lambda: os.path.exists(os.path.join(self.env["XDG_RUNTIME_DIR"], "pipewire-0")))
        self._spawn(["wireplumber"])
        self.server = self._spawn(["pipewire-pulse"])

        def ready():
            r = subprocess.run(["pactl", "info"], env=self.env, capture_output=True, text=True)
            return r.returncode == 0 and "Default Source: drsn.monitor" in r.stdout
        self._wait("pipewire-pulse with the drsn sink as the default", ready)

    def kill(self):
        """The whole sound server at once (a crash, `systemctl --user
        restart pipewire`): clients lose their streams."""
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs = []

    def record(self, path):
        return record_monitor(self.env, path)

    def play(self, path):
        # 1 s, not Pulse's 20 ms: a player that is not scheduled in time plays
        # gaps into the sink, which move every later word (with 20 ms and 7
        # builds on 2 cores: gaps of 10 ms, and once of 1.6 s)
        p = subprocess.Popen(["paplay", "--latency-msec=1000", "--device=drsn", path], env=self.env)
        RUNNING.append(p)
        return p
