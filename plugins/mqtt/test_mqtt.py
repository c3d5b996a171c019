"""The mqtt plugin against a real mosquitto broker on loopback.

drsnd runs the plugin on samples/keywords-clean.wav at real time with a
trained model; mosquitto_sub subscribers check what reaches the broker:
every detection a socket client sees, with the same JSON; the retained
status and availability; "offline" on a clean stop and the last will after
SIGKILL; no detection lost over a broker restart in the middle of the
stream; at 200 detections/s over a broker restart (in-flight ones resent),
the bounded queue and a broker that never answers (mqtt-drive, no model);
username/password and TLS errors and retries.

  test_mqtt.py --model PATH     drsnd with the plugin (DRSN_MQTT_TEST_MODEL
                                overrides PATH)
  test_mqtt.py --drive-only     the plugin alone through mqtt-drive (no model)
  either with --only NAME,...   a subset
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drsndtest import Daemon, log, main  # noqa: E402
from mqtttest import (OPENSSL, MOSQUITTO_PASSWD, MQTT_DRIVE, PLUGIN, PLUGIN_DIR, PROCS, Broker, Sub,  # noqa: E402
                      drive, drive_async, retained)

ROOT = os.environ.get("DRSN_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(ROOT, "samples", "keywords-clean.wav")
MODEL = None
HOST = socket.gethostname()
PREFIX = "drsnd/" + HOST


def mqtt_daemon(port, keys=(), realtime=True, extra_args=()):
    """drsnd with the plugin ([plugin mqtt] port + keys) on the sample."""
    tmp = tempfile.mkdtemp(prefix="drsnd-mqtt-")
    conf = os.path.join(tmp, "drsnd.conf")
    with open(conf, "w") as f:
        f.write("[plugins]\ndir = %s\nload = mqtt\n\n[plugin mqtt]\nport = %d\n" % (PLUGIN_DIR, port))
        for k in keys:
            f.write(k + "\n")
    args = ["--set", "daemon.status_interval_ms=500"] + (["--realtime"] if realtime else []) + list(extra_args)
    return Daemon(*args, model=MODEL, source="file:" + SAMPLE, config=conf, tmp=tmp)


def collect_detections(c, timeout=40):
    """Detections a socket client sees until the stream ends (status says
    the source ended)."""
    out = []
    c.request({"type": "subscribe", "events": ["detection", "status"]})
    end = time.time() + timeout
    while time.time() < end:
        m = c.recv(max(0.01, end - time.time()))
        if m is None:
            continue
        if m["type"] == "detection":
            out.append(m)
        elif m["type"] == "status" and m["source"]["state"] in ("ended", "failed"):
            return out
    raise AssertionError("the stream did not end within %ss" % timeout)


def detections_on(sub):
    return [json.loads(m[3]) for m in sub.on(PREFIX + "/detection")]


def check_same(socket_dets, mqtt_dets):
    """Every detection the socket client saw reached MQTT, in order and with
    the same JSON; MQTT may have one more at the start (before the client
    connected)."""
    assert len(socket_dets) >= 3, "the model found only %s" % socket_dets
    n = len(socket_dets)
    assert 0 <= len(mqtt_dets) - n <= 1, "socket %s\n mqtt %s" % (socket_dets, mqtt_dets)
    assert mqtt_dets[-n:] == socket_dets, "socket %s\n mqtt %s" % (socket_dets, mqtt_dets)


def test_config_errors():
    # create() checks every key: the message names key, value and place
    for args, needles in [
        (["hots=x"], ["argv[3]", "unknown key 'hots'", "known: host, port", "queue_max); did you mean 'host'?"]),
        (["colour=x"], ["argv[3]", "unknown key 'colour'", "reconnect_max_ms, queue_max)\n"]),
        (["port=70000"], ["argv[3]", "port", "'70000'"]),
        (["qos=3"], ["qos", "'3'"]),
        (["tls=maybe"], ["tls", "'maybe'", "boolean"]),
        (["keepalive_s=1"], ["keepalive_s", "'1'"]),
        (["topic_prefix=site/+/x"], ["topic_prefix", "site/+/x"]),
        (["cafile=/etc/hostname"], ["cafile is set but tls is off"]),
        (["tls=yes", "cafile=/nonexistent.crt"], ["argv[4]", "cafile", "/nonexistent.crt"]),
        (["tls=yes", "certfile=/etc/hostname"], ["keyfile"]),
        (["password=x"], ["password", "needs a username"]),
        (["username=u", "password=x", "password_file=/etc/hostname"], ["password_file", "together with password"]),
        (["username=u", "password_file=/nonexistent"], ["password_file", "/nonexistent"]),
        (["reconnect_min_ms=5000", "reconnect_max_ms=1000"], ["reconnect_max_ms", "1000"]),
    ]:
        r = drive("--check", *args)
        assert r.returncode == 1 and "create failed" in r.stdout, (args, r.stdout, r.stderr)
        for n in needles:
            assert n in r.stdout, (args, n, r.stdout)
    r = drive("--check", check=True)
    assert "create ok" in r.stdout
    log("config errors name key, value and place")


def test_config_error_in_drsnd():
    # the loader reports the plugin's message and drsnd runs on without it
    d = mqtt_daemon(1, ["hots = 127.0.0.1"], realtime=False).wait_listening()
    c = d.client()
    st = c.request({"type": "status"})
    assert st.get("plugins") == [], st
    d.stop()
    err = d.stderr()
    assert "unknown key 'hots'" in err and "drsnd.conf:" in err, err


def test_check_config_in_drsnd():
    # drsnd --check-config creates the plugin (not started: no broker is
    # needed): every key checked as at a start, the error names its line, exit 1
    tmp = tempfile.mkdtemp(prefix="drsnd-mqtt-check-")
    conf = os.path.join(tmp, "drsnd.conf")
    for keys, args, want in [
            ("hots = x", [], ":5: [plugin mqtt] unknown key 'hots' (known: host, port"),
            ("port = 99999", [], ":5: [plugin mqtt] port: '99999' is not an integer in [1, 65535]"),
            ("client_id = x-%i", [], ":5: [plugin mqtt] client_id: 'x-%i' uses %i, but this drsnd has no instance name"),
            ("client_id = x-%i", ["--instance", "kitchen"], None),
            ("port = 1", [], None)]:
        with open(conf, "w") as f:
            f.write("[plugins]\ndir = %s\nload = mqtt\n[plugin mqtt]\n%s\n" % (PLUGIN_DIR, keys))
        r = subprocess.run([os.environ["DRSND"], "--check-config", "--config", conf, "--model", MODEL] + args,
                           capture_output=True, text=True, timeout=60)
        if want:
            assert r.returncode == 1 and ("plugin mqtt: " + conf + want) in r.stderr, (keys, r.stdout, r.stderr)
            log("--check-config: " + r.stderr.strip())
        else:
            assert r.returncode == 0 and "OK" in r.stdout, (keys, args, r.stdout, r.stderr)


def test_stream_status_and_clean_stop():
    b = Broker()
    sub = Sub(b).ready(b)
    d = mqtt_daemon(b.port).wait_listening()
    c = d.client()
    dets = collect_detections(c)
    sub.wait(lambda m: m[2] == PREFIX + "/status", 5, "status")
    time.sleep(1)   # the last detection's PUBACK round trip
    check_same(dets, detections_on(sub))
    # the status is retained, with "online": true
    st = json.loads(retained(b, PREFIX + "/status"))
    assert st["type"] == "status" and st["online"] is True and st["plugins"] == ["mqtt"], st
    assert retained(b, PREFIX + "/availability") == "online"
    assert retained(b, PREFIX + "/detection") is None   # retain_detections = no
    # clean stop: final status with "online": false, then "offline", once (no will)
    assert d.stop() == 0
    sub.wait(lambda m: m[2] == PREFIX + "/availability" and m[3] == "offline", 5, "offline")
    time.sleep(0.5)
    assert [m[3] for m in sub.on(PREFIX + "/availability")] == ["online", "offline"], sub.on(PREFIX + "/availability")
    assert json.loads(sub.on(PREFIX + "/status")[-1][3])["online"] is False
    assert retained(b, PREFIX + "/availability") == "offline"
    assert json.loads(retained(b, PREFIX + "/status"))["online"] is False
    log("%d detections on MQTT equal to the socket's; retained status; clean offline" % len(dets))


def test_will_on_sigkill():
    b = Broker()
    sub = Sub(b).ready(b)
    d = mqtt_daemon(b.port).wait_listening()
    sub.wait(lambda m: m[2] == PREFIX + "/status", 10, "status")
    assert retained(b, PREFIX + "/availability") == "online"
    d.signal(signal.SIGKILL)
    d.p.wait(10)
    t0 = time.time()
    sub.wait(lambda m: m[2] == PREFIX + "/availability" and m[3] == "offline", 10, "the last will")
    log("last will 'offline' %.2f s after SIGKILL" % (time.time() - t0))
    assert retained(b, PREFIX + "/availability") == "offline"
    # no final status after a crash: the retained one still says online
    # (availability is the liveness topic; README)
    assert json.loads(retained(b, PREFIX + "/status"))["online"] is True


def test_broker_restart_mid_stream():
    # A persistent subscriber session (-c, QoS 1) on a broker with
    # persistence: what drsnd publishes after the restart reaches the
    # subscriber even before the subscriber has reconnected.
    b = Broker(persistence=True)
    sub = Sub(b, args=["-c", "-i", "mqtt-test-sub-%d" % os.getpid(), "-q", "1"]).ready(b)
    d = mqtt_daemon(b.port).wait_listening()
    c = d.client()
    c.request({"type": "subscribe", "events": ["detection", "status"]})
    dets = []
    down = up = None
    end = time.time() + 40
    while time.time() < end:
        m = c.recv(0.1)
        if m is None:
            continue
        if m["type"] == "detection":
            dets.append(m)
            log("  socket: %s at %.2f" % (m.get("label"), time.time()))
            if len(dets) == 1 and down is None:
                sub.wait(lambda x: x[2] == PREFIX + "/detection", 5, "the first detection")
                b.stop()
                down = time.time()
                log("  broker stopped")
            elif len(dets) == 3 and up is None:
                b.start()
                up = time.time()
                log("  broker restarted after %.1f s" % (up - down))
        elif m["type"] == "status" and m["source"]["state"] in ("ended", "failed"):
            break
    assert down and up, "the stream had too few detections to restart the broker in it: %s" % dets
    while_down = [x for x in dets if down <= x["time"] <= up]
    assert while_down, "no detection while the broker was down"
    # all of them arrive (QoS 1 may duplicate: at least once)
    sub.wait_count(lambda m: m[2] == PREFIX + "/detection", len(dets), 40, "detections")
    got = detections_on(sub)
    for x in dets:
        assert x in got, "lost over the restart: %s\n got %s" % (x, got)
    dup = len(got) - len(dets)
    err = d.stderr()
    assert "lost" in err and "reconnecting" in err, err
    assert err.count("connected to 127.0.0.1") >= 2, err
    # the journal that has the loss has the recovery (a notice)
    assert "drsnd: notice: plugin mqtt: connected to 127.0.0.1:%d again (after " % b.port in err, err
    d.stop()
    log("%d detections, %d while the broker was down: all arrived after the restart (%d duplicates)"
        % (len(dets), len(while_down), max(0, dup)))


def test_restart_under_load():
    # mqtt-drive at 200 detections/s over a broker restart: what was in
    # flight when the broker went (sent, not acknowledged) is resent by
    # libmosquitto, what came while it was down waits in the queue; every
    # sequence number arrives
    b = Broker(persistence=True)
    sub = Sub(b, args=["-c", "-i", "mqtt-load-sub-%d" % os.getpid(), "-q", "1"]).ready(b)
    n = 1200
    p = drive_async("--count", str(n), "--rate", "200", "--wait-ms", "300", "--linger-ms", "6000",
                    "port=%d" % b.port, "reconnect_min_ms=100", "reconnect_max_ms=400",
                    "topic_prefix=drsnd/load", "client_id=drive-load")
    topic = "drsnd/load/detection"
    sub.wait_count(lambda m: m[2] == topic, 300, 15, "detections before the restart")
    b.stop()
    down = time.time()
    time.sleep(1.5)
    b.start()
    log("  broker down %.1f s" % (time.time() - down))
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    sub.wait_count(lambda m: m[2] == topic, n, 30, "detections")
    seqs = [json.loads(m[3])["seq"] for m in sub.on(topic)]
    missing = sorted(set(range(n)) - set(seqs))
    assert not missing, "lost over the restart: %s" % missing[:20]
    assert "lost" in err and "connected to" in err[err.index("lost"):], err
    log("%d at 200/s over a broker restart: none lost, %d duplicates (QoS 1 is at least once)"
        % (n, len(seqs) - n))


def test_queue_bound_while_down():
    # mqtt-drive: 25 detections while the broker is down, queue_max = 10:
    # the newest 10 arrive, in order, once it is back; 15 drops are logged
    b = Broker(persistence=True)
    sub = Sub(b, args=["-c", "-i", "mqtt-q-sub-%d" % os.getpid(), "-q", "1"]).ready(b)
    b.stop()
    p = drive_async("--count", "25", "--rate", "0", "--wait-ms", "300", "--linger-ms", "4000",
                    "port=%d" % b.port, "queue_max=10", "reconnect_min_ms=100", "reconnect_max_ms=400",
                    "topic_prefix=drsnd/driveq", "client_id=drive-q")
    line = p.stdout.readline()
    assert line.startswith("sent 25"), line
    b.start()
    sub.wait_count(lambda m: m[2] == "drsnd/driveq/detection", 10, 15, "queued detections")
    time.sleep(0.5)
    seqs = [json.loads(m[3])["seq"] for m in sub.on("drsnd/driveq/detection")]
    assert seqs == list(range(15, 25)), seqs
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "15 detections were dropped" in err, err
    log("queue_max 10: 15 dropped and counted, the newest 10 delivered in order")


def test_broker_down_warned_once():
    # a broker that stays down: the first failed attempt is a warning, the
    # retries (every 10-20 ms here) are info, not one warning each; the
    # connection at last is a notice (host table version 3: --instance-name)
    b = Broker()
    b.stop()
    p = drive_async("--count", "1", "--wait-ms", "2000", "--linger-ms", "300", "--instance-name", "down",
                    "port=%d" % b.port, "reconnect_min_ms=10", "reconnect_max_ms=20",
                    "topic_prefix=drsnd/down", "client_id=drive-down")
    time.sleep(1.2)
    b.start()
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    fails = [l for l in err.splitlines() if "cannot connect to 127.0.0.1:%d" % b.port in l]
    warned = [l for l in err.splitlines() if l.startswith("[warn]") or l.startswith("[error]")]
    assert len(fails) >= 5 and fails[0].startswith("[warn]"), err
    assert all(l.startswith("[info]") for l in fails[1:]), fails
    assert warned == fails[:1], warned
    again = [l for l in err.splitlines() if "connected to 127.0.0.1:%d again" % b.port in l]
    assert len(again) == 1 and again[0].startswith("[notice]"), err
    assert "again (after %d failed attempts)" % len(fails) in again[0], (again, len(fails))
    log("broker down %d attempts: 1 warning, %d at info; back: %s"
        % (len(fails), len(fails) - 1, again[0].split("plugin mqtt: ")[-1]))


def test_retain_qos0_and_host_expansion():
    # retain_detections = yes keeps the last detection on the broker; QoS 0
    # works too; %h in topic_prefix is the host name
    b = Broker()
    sub = Sub(b, topic="site/#").ready(b)
    r = drive("--count", "5", "--rate", "100", "--linger-ms", "500", "port=%d" % b.port, "qos=0",
              "retain_detections=yes", "topic_prefix=site/%h", "client_id=drive-%h", check=True)
    topic = "site/%s/detection" % HOST
    sub.wait_count(lambda m: m[2] == topic, 5, 10, "detections")
    assert [json.loads(m[3])["seq"] for m in sub.on(topic)] == list(range(5))
    assert json.loads(retained(b, topic))["seq"] == 4
    assert retained(b, "site/%s/availability" % HOST) == "offline"
    assert "as drive-%s;" % HOST in r.stderr, r.stderr


def test_silent_broker():
    # a listener that accepts TCP (the kernel's backlog) but never answers
    # CONNECT: after keepalive_s the attempt is abandoned and retried
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    t0 = time.time()
    r = drive("--count", "2", "--rate", "10", "--linger-ms", "7500", "port=%d" % port, "keepalive_s=5",
              "reconnect_min_ms=100", "topic_prefix=drsnd/silent", check=True)
    srv.close()
    # drsnd's own timer or libmosquitto's keepalive check, whichever is first
    assert "no answer from 127.0.0.1:%d within 5 s" % port in r.stderr or \
        "no answer from the broker within keepalive_s" in r.stderr, r.stderr
    first = r.stderr.index("no answer from")
    assert "reconnecting to" in r.stderr[first:], r.stderr
    assert "2 queued detections are lost" in r.stderr, r.stderr
    log("silent broker: gave up after keepalive_s and retried (%.1f s)" % (time.time() - t0))


def takeovers(b):
    """Times the broker threw a client off for another with its client id."""
    return b.text().count("already connected, closing old connection")


def test_instance_defaults():
    # drsnd --instance NAME (drsnd@NAME.service) gives the plugin
    # host->instance: the default client id and topic prefix carry it, so
    # two instances on one host never share them; %i names it explicitly;
    # without an instance (a plain drsnd.service, or a host table of version
    # 1) the defaults stay drsnd-%h and drsnd/%h
    b = Broker()
    sub = Sub(b).ready(b)
    common = ["--count", "3", "--rate", "100", "--wait-ms", "300", "--linger-ms", "1500", "port=%d" % b.port]
    ps = {name: drive_async("--instance-name", name, *common) for name in ("kitchen", "garage")}
    for name, p in ps.items():
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "as drsnd-%s-%s;" % (HOST, name) in err and err.count("connected to") == 1, err
        assert "lost" not in err, err
    for name in ps:
        topic = "%s/%s/detection" % (PREFIX, name)
        sub.wait_count(lambda m: m[2] == topic, 3, 10, "detections on " + topic)
        assert [m[3] for m in sub.on("%s/%s/availability" % (PREFIX, name))] == ["online", "offline"], sub.msgs
    assert takeovers(b) == 0, b.text()
    assert sub.count(lambda m: m[2].startswith(PREFIX + "/") and m[2].count("/") == 2) == 0, sub.msgs
    # explicit %i, and %i without an instance: an error naming key and value
    r = drive("--instance-name", "mic1", "--count", "1", "--rate", "0", "--wait-ms", "300", "--linger-ms", "300",
              "port=%d" % b.port, "client_id=box-%i", "topic_prefix=site/%h/%i", check=True)
    assert "as box-mic1; publishing to site/%s/mic1/" % HOST in r.stderr, r.stderr
    r = drive("--check", "topic_prefix=site/%i")
    assert r.returncode == 1 and "argv[3]" in r.stdout and "topic_prefix: 'site/%i' uses %i" in r.stdout \
        and "no instance name" in r.stdout, r.stdout
    r = drive("--count", "1", "--rate", "0", "--wait-ms", "300", "--linger-ms", "300", "port=%d" % b.port,
              check=True)
    assert "as drsnd-%s; publishing to %s/" % (HOST, PREFIX) in r.stderr, r.stderr
    log("instances kitchen and garage: ids drsnd-%s-{kitchen,garage}, topics %s/{kitchen,garage}/, no takeover"
        % (HOST, PREFIX))


def test_client_id_clash_warning():
    # two clients with one client id (two drsnd instances, client_id set to
    # the same value by hand): the broker closes the older connection
    # whenever the other one connects, so each is thrown off right after
    # connecting, over and over. The plugin says once what this looks like.
    b = Broker()
    args = ["--count", "0", "--wait-ms", "0", "--linger-ms", "6000", "port=%d" % b.port, "client_id=clash",
            "topic_prefix=drsnd/clash", "reconnect_min_ms=100", "reconnect_max_ms=400"]
    ps = [drive_async(*args), drive_async(*args)]
    errs = []
    for p in ps:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        errs.append(err)
    warn = "is another client using client id 'clash'?"
    n = [e.count(warn) for e in errs]
    assert max(n) == 1 and min(n) >= 0, (n, errs)   # once per process at most, at least one says it
    line = [l for e in errs for l in e.splitlines() if warn in l][0]
    assert "closed the connection 3 times right after connecting" in line, line
    log("clash: %d takeovers by the broker in 6 s, %s connects; warned: %s"
        % (takeovers(b), [e.count("connected to") for e in errs], line.split("plugin mqtt: ")[-1]))


def test_two_instances_in_drsnd():
    # the user's case: drsnd@kitchen and drsnd@garage with one copied config
    # (defaults for client_id and topic_prefix) on one broker. Each keeps its
    # one connection, and publishes status, availability and detections
    # under its own prefix; a clean stop says offline on its own topic only.
    b = Broker()
    sub = Sub(b).ready(b)
    ds = {name: mqtt_daemon(b.port, extra_args=["--instance", name]).wait_listening()
          for name in ("kitchen", "garage")}
    for name in ds:
        p = "%s/%s" % (PREFIX, name)
        sub.wait(lambda m: m[2] == p + "/detection", 20, "a detection on " + p)
        sub.wait(lambda m: m[2] == p + "/status", 10, "status on " + p)
    time.sleep(3)   # two reconnect rounds, were they throwing each other off
    for name, d in ds.items():
        assert retained(b, "%s/%s/availability" % (PREFIX, name)) == "online"
        err = d.stderr()
        assert err.count("connected to") == 1 and "lost" not in err, err
        assert "as drsnd-%s-%s;" % (HOST, name) in err, err
    assert takeovers(b) == 0, b.text()
    assert not sub.on(PREFIX + "/availability") and not sub.on(PREFIX + "/detection"), sub.msgs
    assert ds["kitchen"].stop() == 0
    sub.wait(lambda m: m[2] == PREFIX + "/kitchen/availability" and m[3] == "offline", 5, "kitchen offline")
    assert retained(b, PREFIX + "/garage/availability") == "online"
    assert ds["garage"].stop() == 0
    log("drsnd --instance kitchen / garage: one connection each, %d and %d detections under their own prefixes"
        % (len(sub.on(PREFIX + "/kitchen/detection")), len(sub.on(PREFIX + "/garage/detection"))))


def wait_text(path, needle, timeout, p=None):
    """Wait until the file at path contains needle (p: give up if it exits)."""
    end = time.time() + timeout
    while True:
        with open(path, errors="replace") as f:
            text = f.read()
        if needle in text:
            return text
        if time.time() > end or (p is not None and p.poll() is not None):
            raise AssertionError("no %r within %ss (exit %s):\n%s" % (needle, timeout, p and p.poll(), text))
        time.sleep(0.05)


def drive_hanging_dns(tmp, name, *args):
    """mqtt-drive with host = name, whose lookup hangs until tmp/release-name
    exists (mqtt_drive.c); stdout and stderr go to files."""
    release = os.path.join(tmp, "release-" + name)
    out, err = os.path.join(tmp, name + ".out"), os.path.join(tmp, name + ".err")
    env = dict(os.environ, MQTT_DRIVE_DNS_BLOCK="%s:%s" % (name, release))
    with open(out, "w") as fo, open(err, "w") as fe:
        p = subprocess.Popen([MQTT_DRIVE, PLUGIN, "host=" + name] + list(args), stdout=fo, stderr=fe, env=env)
    PROCS.append(p)
    return p, release, out, err


def test_hanging_resolver():
    # A DNS server that never answers: the old plugin resolved the broker's
    # name on the loop thread, so start() itself hung (no detection, no
    # timer, no watchdog ping until the resolver gave up). Now the lookup
    # runs on the threadpool: the loop goes on and detections queue.
    tmp = tempfile.mkdtemp(prefix="mqtt-dns-")
    p, release, out, err = drive_hanging_dns(tmp, "hang.example", "--count", "20", "--rate", "100",
                                             "--wait-ms", "0", "--linger-ms", "3000", "reconnect_min_ms=100",
                                             "reconnect_max_ms=400", "topic_prefix=drsnd/dns")
    wait_text(out, "sent 20 detections", 60, p)
    assert p.poll() is None
    assert "cannot resolve" not in wait_text(err, "", 0)
    # the lookup fails: an error naming the host, then retries with backoff
    open(release, "w").close()
    text = wait_text(err, "reconnecting to hang.example", 60, p)
    assert "cannot connect to hang.example:1883: cannot resolve the host name 'hang.example'" in text, text
    assert p.wait(60) == 0, wait_text(err, "", 0)
    text = wait_text(err, "", 0)
    assert "20 queued detections are lost" in text, text
    log("hanging resolver: 20 detections queued while it hung; then: %s"
        % [l for l in text.splitlines() if "cannot resolve" in l][0].split("plugin")[-1])
    # stopping while a lookup hangs: destroy() waits for it (or cancels it)
    # and frees everything once it ends (ASan: no leak, no use after free)
    p, release, out, err = drive_hanging_dns(tmp, "stop.example", "--count", "1", "--rate", "0",
                                             "--wait-ms", "0", "--linger-ms", "100")
    wait_text(out, "sent 1 detections", 60, p)
    time.sleep(0.5)
    text = wait_text(err, "", 0)
    if "waiting for the lookup" in text:
        assert p.poll() is None, text
    open(release, "w").close()
    assert p.wait(60) == 0, wait_text(err, "", 0)
    text = wait_text(err, "", 0)
    assert "1 queued detections are lost" in text and "cannot resolve" not in text, text
    log("stop during a hanging lookup: %s" % ("waited for it" if "waiting for the lookup" in text else "cancelled"))


def test_host_name_in_drsnd():
    # host = localhost (resolved on the threadpool): connects, and the daemon
    # answers its socket meanwhile; a name that does not resolve is a clear
    # error naming it, and drsnd serves on
    b = Broker()
    sub = Sub(b).ready(b)
    d = mqtt_daemon(b.port, ["host = localhost"], realtime=False).wait_listening()
    c = d.client()
    st = c.request({"type": "status"})
    assert st["plugins"] == ["mqtt"], st
    sub.wait(lambda m: m[2] == PREFIX + "/availability" and m[3] == "online", 20, "online via localhost")
    assert "connected to localhost:%d" % b.port in d.stderr(), d.stderr()
    assert d.stop() == 0
    d = mqtt_daemon(b.port, ["host = no-such-broker.invalid", "reconnect_min_ms = 100"],
                    realtime=False).wait_listening()
    end = time.time() + 60
    while "reconnecting to no-such-broker.invalid" not in d.stderr():
        assert time.time() < end, d.stderr()
        time.sleep(0.05)
    st = d.client().request({"type": "status"})
    assert st["plugins"] == ["mqtt"], st
    assert d.stop() == 0
    err = d.stderr()
    assert "cannot resolve the host name 'no-such-broker.invalid'" in err, err
    log("host = localhost connects; an unknown name: %s"
        % [l for l in err.splitlines() if "cannot resolve" in l][0].split("plugin")[-1])


def test_password():
    tmp = tempfile.mkdtemp(prefix="mqtt-auth-")
    pw = os.path.join(tmp, "passwd")
    subprocess.run([MOSQUITTO_PASSWD, "-b", "-c", pw, "drsnd", "s3cret"], check=True, capture_output=True)
    subprocess.run([MOSQUITTO_PASSWD, "-b", pw, "watcher", "w"], check=True, capture_output=True)
    os.chmod(pw, 0o600)
    b = Broker(["allow_anonymous false", "password_file " + pw])
    auth = ["-u", "watcher", "-P", "w"]
    sub = Sub(b, auth=auth).ready(b)
    # wrong password: a clear error, and retries with backoff
    d = mqtt_daemon(b.port, ["username = drsnd", "password = wrong"], realtime=False).wait_listening()
    end = time.time() + 10
    while time.time() < end and d.stderr().count("refused the connection") < 3:
        time.sleep(0.1)
    d.stop()
    err = d.stderr()
    refusals = [l for l in err.splitlines() if "refused the connection" in l]
    assert len(refusals) >= 3, err
    assert "check username and password" in refusals[0] and "127.0.0.1:%d" % b.port in refusals[0], refusals
    assert "wrong" not in err   # the password is never logged
    delays = [int(l.split(" in ")[-1].split()[0]) for l in err.splitlines() if "reconnecting to" in l]
    assert len(delays) >= 3 and delays[1] > delays[0] and delays[2] > delays[1], delays   # backoff
    assert sub.count(lambda m: m[2].startswith(PREFIX)) == 0
    log("wrong password: %s; retried after %s ms" % (refusals[0].split("plugin")[-1], delays))
    # the right one from password_file
    pwf = os.path.join(tmp, "drsnd.pw")
    with open(pwf, "w") as f:
        f.write("s3cret\n")
    d = mqtt_daemon(b.port, ["username = drsnd", "password_file = " + pwf], realtime=False).wait_listening()
    sub.wait(lambda m: m[2] == PREFIX + "/availability" and m[3] == "online", 10, "online")
    d.stop()


def make_ca(tmp, name):
    """A self-signed CA and a server certificate for 127.0.0.1 it signs."""
    def ossl(*a):
        subprocess.run([OPENSSL] + list(a), check=True, capture_output=True, cwd=tmp)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ossl("req", "-x509", *ec, "-keyout", name + "-ca.key", "-out", name + "-ca.crt", "-days", "2",
         "-subj", "/CN=drsnd test CA " + name)
    ossl("req", *ec, "-keyout", name + "-server.key", "-out", name + "-server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(tmp, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", name + "-server.csr", "-CA", name + "-ca.crt", "-CAkey", name + "-ca.key",
         "-CAcreateserial", "-out", name + "-server.crt", "-days", "2", "-extfile", "san.ext")
    return {k: os.path.join(tmp, "%s-%s" % (name, k.replace("_", "."))) for k in ("ca_crt", "server_crt", "server_key")}


def test_tls():
    tmp = tempfile.mkdtemp(prefix="mqtt-tls-")
    good = make_ca(tmp, "good")
    other = make_ca(tmp, "other")
    from mqtttest import free_port
    tls_port = free_port()
    b = Broker(["listener %d 127.0.0.1" % tls_port, "cafile " + good["ca_crt"],
                "certfile " + good["server_crt"], "keyfile " + good["server_key"]])
    sub = Sub(b).ready(b)   # on the plain listener
    # a CA that did not sign the server: refused, logged, retried
    d = mqtt_daemon(tls_port, ["tls = yes", "cafile = " + other["ca_crt"]], realtime=False).wait_listening()
    end = time.time() + 10
    while time.time() < end and d.stderr().count("reconnecting to") < 2:
        time.sleep(0.1)
    d.stop()
    err = d.stderr()
    assert err.count("reconnecting to") >= 2 and "certificate verify failed" in err, err
    assert sub.count(lambda m: m[2].startswith(PREFIX)) == 0
    log("TLS with the wrong CA: %s" % [l for l in err.splitlines() if "certificate" in l][0].split("plugin")[-1])
    # the right CA: detections over TLS
    d = mqtt_daemon(tls_port, ["tls = yes", "cafile = " + good["ca_crt"]]).wait_listening()
    sub.wait(lambda m: m[2] == PREFIX + "/availability" and m[3] == "online", 10, "online over TLS")
    c = d.client()
    dets = collect_detections(c)
    time.sleep(1)
    check_same(dets, detections_on(sub))
    d.stop()
    log("TLS: %d detections" % len(dets))


DRIVE_TESTS = [test_config_errors, test_restart_under_load, test_queue_bound_while_down,
               test_broker_down_warned_once, test_retain_qos0_and_host_expansion, test_silent_broker, test_hanging_resolver,
               test_instance_defaults, test_client_id_clash_warning]
DAEMON_TESTS = [test_config_error_in_drsnd, test_check_config_in_drsnd, test_stream_status_and_clean_stop, test_will_on_sigkill,
                test_broker_restart_mid_stream, test_host_name_in_drsnd, test_password, test_tls,
                test_two_instances_in_drsnd]

if __name__ == "__main__":
    a = sys.argv[1:]
    if "--drive-only" in a:   # the plugin through mqtt-drive: no drsnd, no model
        tests = DRIVE_TESTS
    else:
        if "--model" in a:
            MODEL = a[a.index("--model") + 1]
        MODEL = os.environ.get("DRSN_MQTT_TEST_MODEL") or MODEL
        if not MODEL or not os.path.exists(MODEL):
            print("no model: %s (set DRSN_MQTT_TEST_MODEL to test with another one)" % MODEL)
            sys.exit(1)
        tests = DAEMON_TESTS
    if "--only" in a:   # --only NAME[,NAME]: a subset, for debugging
        names = a[a.index("--only") + 1].split(",")
        tests = [t for t in DRIVE_TESTS + DAEMON_TESTS if t.__name__ in names or t.__name__[5:] in names]
    main(tests)
