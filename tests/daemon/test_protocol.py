#!/usr/bin/python3
"""drsnd's socket protocol: hello, commands, errors, limits, socket file
handling, --check-config, graceful stop."""
import glob
import grp
import json
import os
import re
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

from drsndtest import RUNNING, DRSN, DRSND, MODEL, ROOT, Daemon, Client, main, log, write_wav, noise_bursts
from drsndtest import pausing_strace, watch_socket_files, check_socket_files, stop_wrapped
from drsndtest import stdin_daemon, feed, raw_s16


def setup_wav(tmp, seconds=4):
    path = os.path.join(tmp, "in.wav")
    write_wav(path, noise_bursts(seconds))
    return path


def test_hello_and_commands():
    d = Daemon(source="file:/dev/null", model=MODEL)
    # /dev/null is not audio: drsnd must refuse to start and say why
    rc = d.p.wait(20)
    assert rc != 0 and "/dev/null" in d.stderr(), d.stderr()
    wav = setup_wav(d.tmp)
    # the kernel path forced through the environment, as in a systemd Environment= line
    d = Daemon(source="file:" + wav, tmp=d.tmp, env={"DRSN_SIMD": "scalar"}).wait_listening()
    try:
        c = d.client()
        h = c.hello
        log("hello:", h)
        assert h["daemon"] == "drsnd" and h["daemon_version"]
        m = h["model"]
        assert m["labels"][:3] == ["_silence_", "_unknown_", "yes"], m
        assert m["sample_rate"] == 16000 and abs(m["hop"] - 0.01) < 1e-9
        assert abs(m["window"] - 0.995) < 1e-6 and abs(m["inference_hop"] - 0.1) < 1e-9
        assert set(h["events"]) == {"detection", "scores", "level", "vad", "status"}

        r = c.request({"type": "ping", "id": "p1"})
        assert r["type"] == "pong" and r["id"] == "p1"
        r = c.request({"type": "ping", "id": {"nested": [1, 2]}})
        assert r["id"] == {"nested": [1, 2]}
        # ids come back as sent: big ones were rounded (2^53 + 1 came back as
        # 9.00719925474099e+15, a time in ns too), so no reply matched
        for big in (2 ** 53 + 1, time.time_ns(), 2 ** 64 - 1, [1.0, {"n": -(2 ** 63)}]):
            r = c.request({"type": "ping", "id": big}, timeout=5)
            assert r["type"] == "pong" and r["id"] == big, (big, r)
        c.send(b'{"type":"nosuch","id":9007199254740993}\n')
        e, _ = c.wait_for(lambda m: m["type"] == "error", 5)
        assert e["id"] == 9007199254740993 and e["code"] == "unknown_command", e
        r = c.request({"type": "status", "id": 7})
        assert r["type"] == "status" and r["clients"] == 1 and r["source"]["name"] == "file:" + wav, r
        for k in ("frames", "inferences", "overflows", "dropped_clients", "cpu_time", "rss_kb"):
            assert k in r, k
        assert r["simd"] == "scalar", r   # which kernels the network runs on
        r = c.request({"type": "subscribe", "events": ["scores", "level"], "id": 8})
        assert r["type"] == "subscribed" and sorted(r["events"]) == ["level", "scores"], r
        sc, _ = c.wait_for(lambda m: m["type"] == "scores", 5, "scores event")
        assert len(sc["scores"]) == 12 and abs(sum(sc["scores"]) - 1) < 1e-3, sc
        lv, _ = c.wait_for(lambda m: m["type"] == "level", 5, "level event")
        assert lv["rms_dbfs"] < 0 and lv["peak_dbfs"] >= lv["rms_dbfs"], lv
        r = c.request({"type": "subscribe", "events": [], "id": 9})
        assert r["events"] == []

        # errors: each gets an error event, the connection stays up
        cases = [
            (b"this is not json\n", "bad_json"),
            (b'{"type":"ping"} trailing\n', "bad_json"),
            (b'[1,2,3]\n', "bad_request"),
            (b'{"notype":1}\n', "bad_request"),
            (b'{"type":"frobnicate","id":3}\n', "unknown_command"),
            (b'{"type":"subscribe","events":["nosuch"]}\n', "bad_request"),
            (b'{"type":"subscribe"}\n', "bad_request"),
            (b'{"type":"ping","version":99}\n', "bad_request"),
            (b"x" * 5000 + b"\n", "line_too_long"),
            # the protocol is UTF-8: such an id was echoed raw (the reply
            # was no UTF-8); a non-finite number came back as null, a
            # string with \u0000 cut short
            (b'{"type":"ping","id":"\xff"}\n', "bad_json"),
            (b'{"type":"ping","id":1e400}\n', "bad_request"),
            (b'{"type":"ping","id":"a\\u0000b"}\n', "bad_request"),
            # a raw NUL byte cut the id short ("a"), or was skipped as space
            (b'{"type":"ping","id":"a\x00b"}\n', "bad_json"),
            (b'\x00{"type":"ping","id":2}\n', "bad_json"),
        ]
        for raw, code in cases:
            c.send(raw)
            e, _ = c.wait_for(lambda m: m["type"] == "error", 5, "error for %r" % raw[:30])
            assert e["code"] == code, (raw[:40], e)
            assert e["message"]
            if b'"ping","id"' in raw:
                assert "id" not in e, e   # it could not be echoed as sent
        r = c.request({"type": "ping", "id": "caf\u00e9 \U0001f3a4"})
        assert r["type"] == "pong" and r["id"] == "caf\u00e9 \U0001f3a4", r
        e = c.request({"type": "nosuch", "id": 41})
        assert e["type"] == "error" and e["code"] == "unknown_command" and e["id"] == 41
        # a long line split over many writes, then a good command
        for _ in range(10):
            c.send(b"y" * 1000)
        c.send(b"\n")
        e, _ = c.wait_for(lambda m: m["type"] == "error", 5)
        assert e["code"] == "line_too_long"
        r = c.request({"type": "ping", "id": "after"})
        assert r["type"] == "pong"
        # blank lines and CRLF are fine
        c.send(b"\n\r\n")
        c.send(b'{"type":"ping","id":"crlf"}\r\n')
        r, _ = c.wait_for(lambda m: m.get("id") == "crlf", 5)
        assert r["type"] == "pong"
        # a line of max_line bytes is fine, one more byte is not
        ping = b'{"type":"ping","id":"max"}'
        c.send(ping + b" " * (4096 - len(ping)) + b"\n" + ping + b" " * (4097 - len(ping)) + b"\n")
        assert c.recv(5)["id"] == "max"
        assert c.recv(5)["code"] == "line_too_long"
        # many requests in one write, whose replies (2000 x ~0.8 kB) are far
        # more than the client's 256 KiB queue: all answered, in order (the
        # client was dropped as slow after ~300 replies)
        c.send(b"".join(b'{"type":"status","id":%d}\n' % i for i in range(2000)))
        ids = [c.recv(10) for _ in range(2000)]
        assert [m and m.get("id") for m in ids] == list(range(2000)), (c.eof, ids[-1])
        assert c.request({"type": "ping", "id": "alive"})["type"] == "pong"
        c.close()
    finally:
        assert d.stop() == 0


def test_subscribe_warns_of_events_that_never_come():
    """A subscription to vad while [detect] vad = no was accepted silently, and the
    client waited for events that never came: the subscribed reply now warns of
    each event that cannot come as configured (and why); the subscription
    stands, for a reload may change that."""
    wav = setup_wav(os.environ["TMPDIR"])

    def warned(d, events):
        c = d.client()
        r = c.request({"type": "subscribe", "events": events})
        c.close()
        assert r["type"] == "subscribed" and sorted(r["events"]) == sorted(events), r
        w = r.get("warnings", [])
        assert all(x["message"] for x in w), r
        return {x["event"]: x["message"] for x in w}

    d = Daemon(source="file:" + wav).wait_listening()   # [detect] vad = no, the default
    try:
        w = warned(d, ["detection", "vad", "level"])
        assert list(w) == ["vad"] and "vad = no" in w["vad"], w
        assert warned(d, ["detection", "scores", "level", "status"]) == {}
    finally:
        assert d.stop() == 0
    d = Daemon("--set", "detect.vad=yes", source="file:" + wav).wait_listening()
    try:
        assert warned(d, ["vad"]) == {}
    finally:
        assert d.stop() == 0
    d = Daemon(model="", source="file:" + wav).wait_listening()   # level and status only
    try:
        w = warned(d, ["detection", "scores", "level", "vad", "status"])
        assert sorted(w) == ["detection", "scores", "vad"], w
        assert all("no model" in m for m in w.values()), w
    finally:
        assert d.stop() == 0


def test_vad_and_periodic_status():
    wav = setup_wav(os.environ["TMPDIR"], 6)
    d = Daemon("--set", "detect.vad=yes", "--set", "detect.vad_threshold_db=-30",
               "--set", "detect.vad_hangover_ms=200", "--set", "daemon.status_interval_ms=300",
               source="file:" + wav).wait_listening()
    try:
        c = d.client()
        c.request({"type": "subscribe", "events": ["vad", "status"]})
        vads, statuses = [], []
        end = time.time() + 4
        while time.time() < end:
            m = c.recv(0.5)
            if m and m["type"] == "vad":
                vads.append((m["stream_time"], m["active"]))
            elif m and m["type"] == "status":
                statuses.append(m)
        log("vad:", vads)
        # noise_bursts: loud 0.5 s every 1.3 s, quiet (-40 dBFS) between
        # (the very first change may predate the subscription)
        assert len(vads) >= 4 and all(a != b for (_, a), (_, b) in zip(vads, vads[1:])), vads
        on = [t for t, a in vads if a]
        assert abs(on[1] - on[0] - 1.3) < 0.05, on
        # voice lasts the 0.5 s burst plus the 200 ms hangover
        for (t, a), (t2, _) in zip(vads, vads[1:]):
            if a:
                assert abs(t2 - t - 0.7) < 0.05, vads
        assert len(statuses) >= 8, len(statuses)      # every 300 ms
        st = statuses[-1]
        assert st["vad_skipped"] > 0 and st["inferences"] > 0, st
    finally:
        assert d.stop() == 0


def test_wall_clock_steps():
    """A box without a real-time clock: NTP steps the wall clock forward by
    a year, then (a bad server) back by ten, while drsnd runs. libfaketime
    (a test dependency, .ci/deps) steps drsnd's CLOCK_REALTIME alone, never
    its monotonic clock. The `time` of what is sent after a step follows
    the new wall clock; the timers (here the status interval) neither fire
    all at once nor stop; the stream time goes on as the audio does."""
    libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1"))
    assert libs, "libfaketime is missing (.ci/deps installs the faketime package)"
    rc = os.path.join(os.environ["TMPDIR"], "faketime.rc")
    with open(rc, "w") as f:
        f.write("+0\n")
    env = {"LD_PRELOAD": libs[0], "FAKETIME_TIMESTAMP_FILE": rc, "FAKETIME_NO_CACHE": "1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "DONT_FAKE_MONOTONIC": "1",
           # the preloaded library comes before ASan's runtime in a sanitized build
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    wav = setup_wav(os.environ["TMPDIR"], 30)
    t_start = time.time()
    d = Daemon("--set", "daemon.status_interval_ms=200", source="file:" + wav, env=env).wait_listening()
    c = d.client()
    c.request({"type": "subscribe", "events": ["status"]})
    for step_s in (0, 400 * 86400, -3650 * 86400):
        with open(rc, "w") as f:
            f.write("%+ds\n" % step_s)
        offset = step_s
        pong = c.request({"type": "ping"})
        assert abs(pong["time"] - time.time() - offset) < 5, (step_s, pong, time.time())
        c.lines()
        t0 = time.time()
        sts = []
        while time.time() - t0 < 2.0:
            m = c.recv(0.2)
            if m and m["type"] == "status":
                sts.append((time.time(), m["uptime"], m["stream_time"]))
        # every 200 ms: about 10 in 2 s; a timer on the wall clock would
        # send a burst (a year of intervals) or none at all
        assert 4 <= len(sts) <= 14, (step_s, sts)
        log("wall clock %+d s: %d statuses in 2 s, uptime %.2f..%.2f, stream time %.2f..%.2f"
            % (step_s, len(sts), sts[0][1], sts[-1][1], sts[0][2], sts[-1][2]))
        # uptime is on the monotonic clock: no step in it either
        assert all(b[1] > a[1] and b[2] >= a[2] for a, b in zip(sts, sts[1:])), sts
        assert sts[-1][1] < time.time() - t_start + 5 and sts[-1][1] - sts[0][1] < 2.5, sts
    assert d.stop() == 0


def test_flood_and_max_clients():
    d = Daemon("--set", "socket.max_clients=3", "--set", "socket.flood_errors=5",
               source="file:" + setup_wav(os.environ.get("TMPDIR", "/tmp"))).wait_listening()
    time.sleep(0.3)   # let the daemon notice wait_listening's probe went away
    try:
        a, b = d.client(), d.client()
        c3 = d.client()
        # a 4th is refused with an error, then closed
        x = Client(d.sock, read_hello=False)
        e = x.recv(5)
        assert e and e["type"] == "error" and e["code"] == "too_many_clients", e
        assert x.recv(2) is None and x.eof
        x.close()
        c3.close()
        time.sleep(0.2)
        y = d.client()   # a slot is free again
        # flood: 5 errors within 10 s are answered, the 6th disconnects
        for i in range(8):
            try:
                a.send(b"bad\n")
            except OSError:
                break
        codes = []
        while True:
            m = a.recv(3)
            if m is None:
                break
            codes.append(m.get("code"))
        assert codes[:5] == ["bad_json"] * 5 and codes[5] == "flood", codes
        assert a.eof
        st = b.request({"type": "status"})
        assert st["dropped_flood"] == 1 and st["rejected_clients"] == 1, st
        assert st["protocol_errors"] >= 5
        y.close()
    finally:
        assert d.stop() == 0


def test_gone_clients_do_not_fill_the_server():
    """Connections that came in while drsnd was busy are all accepted in one
    loop turn, before any is read: clients that asked and went (a health
    check in a loop) held their slots, and a client with the server to
    itself got too_many_clients (38 of 1000 ping/hello/close rounds). Now a
    full server first lets the gone ones go. drsnd is stopped (SIGSTOP)
    while 63 clients connect, send a ping and close, and a 64th connects:
    one live client plus those fill the 64 slots."""
    d = Daemon(source="file:" + setup_wav(os.environ.get("TMPDIR", "/tmp"))).wait_listening()
    try:
        live = d.client()
        d.signal(signal.SIGSTOP)
        try:
            for _ in range(63):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(d.sock)
                s.sendall(b'{"type":"ping"}\n')
                s.close()
            new = Client(d.sock, read_hello=False)
        finally:
            d.signal(signal.SIGCONT)
        m = new.recv(10)
        assert m and m["type"] == "hello", m
        assert new.request({"type": "ping"})["type"] == "pong"
        st = live.request({"type": "status"})
        assert st["rejected_clients"] == 0 and st["clients"] <= 2, st
        log("63 gone clients and a new one at once: the new one served, %d clients, none rejected" % st["clients"])
        new.close()
        live.close()
    finally:
        assert d.stop() == 0


def test_socket_file_handling():
    wav = setup_wav(os.environ.get("TMPDIR", "/tmp"))
    d = Daemon(source="file:" + wav).wait_listening()
    try:
        st = os.stat(d.sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
        # a second daemon on a live socket refuses and leaves it alone
        d2 = Daemon(source="file:" + wav, tmp=d.tmp)
        rc = d2.p.wait(20)
        assert rc == 1 and "another daemon is listening" in d2.stderr(), d2.stderr()
        c = d.client()
        assert c.request({"type": "ping"})["type"] == "pong"
        c.close()
    finally:
        d.p.kill()   # no cleanup: leaves a stale socket
        d.p.wait()
    assert os.path.exists(d.sock)
    d3 = Daemon("--set", "socket.mode=0600", source="file:" + wav, tmp=d.tmp).wait_listening()
    try:
        assert "removed a stale socket" in d3.stderr(), d3.stderr()
        assert stat.S_IMODE(os.stat(d3.sock).st_mode) == 0o600
    finally:
        assert d3.stop() == 0
    assert not os.path.exists(d3.sock), "socket not removed at stop"
    # a regular file in the way is never removed
    with open(d.sock, "w") as f:
        f.write("precious")
    d4 = Daemon(source="file:" + wav, tmp=d.tmp)
    assert d4.p.wait(20) == 1 and "is not a socket" in d4.stderr()
    assert open(d.sock).read() == "precious"
    os.unlink(d.sock)
    # an unknown group is an error naming it
    d5 = Daemon("--set", "socket.group=nosuchgroup-drsnd", source="file:" + wav, tmp=d.tmp)
    assert d5.p.wait(20) == 1 and "nosuchgroup-drsnd" in d5.stderr()
    # a missing socket directory says so (libuv reports it as "permission
    # denied", even to root); so does a file where the directory should be
    d6 = Daemon(source="file:" + wav, tmp=d.tmp, sock_name="nodir/x.sock")
    assert d6.p.wait(20) == 1, d6.stderr()
    assert os.path.join(d.tmp, "nodir") + ": socket directory does not exist (create it, or set " \
        "[socket] path)" in d6.stderr(), d6.stderr()
    assert "permission denied" not in d6.stderr(), d6.stderr()
    open(os.path.join(d.tmp, "afile"), "w").close()
    d7 = Daemon(source="file:" + wav, tmp=d.tmp, sock_name="afile/x.sock")
    assert d7.p.wait(20) == 1 and "afile: is not a directory" in d7.stderr(), d7.stderr()
    d8 = Daemon("--set", "denoise.pcm_socket=" + os.path.join(d.tmp, "nodir", "pcm.sock"),
                source="file:" + wav, tmp=d.tmp)
    assert d8.p.wait(20) == 1 and "socket directory does not exist (create it, or set " \
        "[denoise] pcm_socket)" in d8.stderr(), d8.stderr()
    if os.getuid() != 0:
        # a real permission problem is still one
        ro = os.path.join(d.tmp, "ro")
        os.mkdir(ro, 0o500)
        d9 = Daemon(source="file:" + wav, tmp=d.tmp, sock_name="ro/x.sock")
        assert d9.p.wait(20) == 1 and "cannot bind: permission denied" in d9.stderr(), d9.stderr()


def test_socket_never_wider_than_configured():
    """The socket file used to be bound with the umask's mode and chmod'ed
    (and chown'ed) after: with umask 000 it was 0777, in the daemon's group,
    for a moment. strace holds drsnd after each of those calls while every
    socket file in the directory is watched: none may ever give more than
    mode 0660 in the configured group, nor be reachable before it listens."""
    wav = setup_wav(os.environ.get("TMPDIR", "/tmp"))
    tmp = tempfile.mkdtemp(prefix="drsnd-mode-")
    args = ["--set", "socket.mode=0660"]
    gid = os.getgid()
    if os.getuid() == 0:   # root may give it a group it is not in
        gid = next(g.gr_gid for g in grp.getgrall() if g.gr_gid != os.getgid())
        args += ["--set", "socket.group=" + grp.getgrgid(gid).gr_name]
    wrap, env = pausing_strace()
    old = os.umask(0)
    try:
        d = Daemon(*args, source="file:" + wav, tmp=tmp, wrap=wrap, env=env)
    finally:
        os.umask(old)
    seen, refused = watch_socket_files(d, tmp, d.sock)
    try:
        check_socket_files(seen, refused, "drsnd.sock", 0o660, gid)
        st = os.stat(d.sock)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid, (oct(st.st_mode), st.st_gid)
        c = d.client()
        assert c.request({"type": "ping"})["type"] == "pong"
        c.close()
    finally:
        assert stop_wrapped(d, wrap) == 0, d.stderr()
    assert os.listdir(tmp) == [os.path.basename(d.errpath)], os.listdir(tmp)   # no temporary name left


def test_line_limit_without_terminator():
    """max_line counts a line's bytes without its "\\n" or "\\r\\n": a
    line of exactly max_line bytes ending in CRLF was line_too_long, the
    same line with LF was fine."""
    wav = setup_wav(os.environ.get("TMPDIR", "/tmp"))
    limit = 100
    d = Daemon("--set", "socket.max_line=%d" % limit, source="file:" + wav).wait_listening()
    try:
        c = d.client()
        for end in (b"\n", b"\r\n"):
            for n in (limit - 1, limit, limit + 1):
                rid = "%d-%d" % (len(end), n)
                ping = b'{"type":"ping","id":"%s"}' % rid.encode()
                line = ping + b" " * (n - len(ping))
                # whole, then with its terminator in a separate write
                for parts in ([line + end], [line + end[:-1], end[-1:]]):
                    for part in parts:
                        c.send(part)
                        time.sleep(0.05)
                    m = c.recv(5)
                    if n <= limit:
                        assert m and m["type"] == "pong" and m["id"] == rid, (n, end, parts, m)
                    else:
                        assert m and m["code"] == "line_too_long", (n, end, parts, m)
                        assert "longer than %d bytes" % limit in m["message"], m
        assert c.request({"type": "ping", "id": "after"})["type"] == "pong"
        # the last line of a client that shuts down its sending side
        c.send(b'{"type":"ping","id":"last"}'.ljust(limit) + b"\r")
        c.s.shutdown(socket.SHUT_WR)
        m = c.recv(5)
        assert m and m["type"] == "pong" and m["id"] == "last", m
        c.close()
    finally:
        assert d.stop() == 0


def test_graceful_stop_flushes_clients():
    wav = setup_wav(os.environ.get("TMPDIR", "/tmp"), 30)
    d = Daemon(source="file:" + wav).wait_listening()
    cs = [d.client() for _ in range(5)]
    for c in cs:
        assert c.request({"type": "ping"})["type"] == "pong"
    d.signal(signal.SIGTERM)
    assert d.p.wait(10) == 0
    for c in cs:
        assert c.recv(5) is None and c.eof, "client not closed"
    assert not os.path.exists(d.sock)
    assert "SIGTERM: stopping" in d.stderr()
    d.err.close()
    # SIGINT too
    d = Daemon(source="file:" + wav).wait_listening()
    d.signal(signal.SIGINT)
    assert d.p.wait(10) == 0


def damaged_model(path, value, column=None):
    """The test model with fc.weight set to value (only in that column, the
    rest 0, if column is given): finite weights that overflow float32."""
    with open(MODEL, "rb") as f:
        data = bytearray(f.read())
    (n,) = struct.unpack("<Q", data[:8])
    info = json.loads(data[8:8 + n])["fc.weight"]
    rows, cols = info["shape"]
    w = [value if column is None or j == column else 0.0 for _ in range(rows) for j in range(cols)]
    b, e = info["data_offsets"]
    data[8 + n + b:8 + n + e] = struct.pack("<%df" % len(w), *w)
    with open(path, "wb") as f:
        f.write(data)


def test_overflowing_model():
    """A damaged model whose weights are finite but huge loaded, passed
    --check-config, and then every inference failed silently (no scores, no
    detections, inferences 0). It is refused at load now, naming it. One
    that overflows only on louder audio than silence is warned of at its
    first failed inference, once, and status counts them."""
    tmp = os.environ.get("TMPDIR", "/tmp")
    huge = os.path.join(tmp, "huge.safetensors")
    damaged_model(huge, 1e38)
    want = "huge.safetensors: the network's output on silence is not finite"
    for extra in (["--check-config"], []):
        r = subprocess.run([DRSND, "--socket", os.path.join(tmp, "huge.sock"), "--model", huge,
                            "--source", "stdin"] + extra, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 1 and want in r.stderr, (extra, r.returncode, r.stderr)
    log("every fc weight 1e38: refused at load and by --check-config")
    # drsn detect loads it (it makes no test run), and says that the
    # windows were skipped, exit 1: no line is not "no keyword"
    wav = setup_wav(tmp, 3)
    r = subprocess.run([DRSN, "detect", "-q", "--model", huge, wav], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == "" and re.search(
        r"detect: .*: \d+ of the network's runs gave a non-finite output and were skipped", r.stderr), r
    # one column of fc.weight at 3e38: the logits stay finite while that
    # feature is < 1 (silence) and overflow when it is above (some audio)
    col = os.path.join(tmp, "column.safetensors")
    for c in range(40):
        damaged_model(col, 3e38, c)
        d = Daemon("--no-realtime", model=col, source="file:" + wav)
        try:
            d.wait_listening()
        except AssertionError:
            assert "the network's output on silence is not finite" in d.stderr(), d.stderr()
            continue   # overflows on silence already
        c0 = d.client()
        end = time.time() + 30
        while time.time() < end:
            st = c0.request({"type": "status"})
            if st["source"]["state"] == "ended":
                break
            time.sleep(0.05)
        assert d.stop() == 0
        if st["failed_inferences"]:
            err = d.stderr()
            assert err.count("model column: an inference failed: the network's output is not finite") == 1, err
            log("fc.weight column %d at 3e38: %d inferences failed, %d ran; warned once" % (
                c, st["failed_inferences"], st["inferences"]))
            return
        assert "an inference failed" not in d.stderr(), d.stderr()
    raise AssertionError("no column of fc.weight at 3e38 overflows on this audio but not on silence")


def test_check_config():
    tmp = os.environ.get("TMPDIR", "/tmp")
    conf = os.path.join(tmp, "drsnd-test-bad.conf")
    with open(conf, "w") as f:
        f.write("[detect]\nthreshold = 2\n[socket]\nmode = 9\nbogus = 1\n[thresholds]\nnosuchlabel = 0.5\n")
    r = subprocess.run([DRSND, "--config", conf, "--check-config", "--model", MODEL],
                       capture_output=True, text=True, timeout=60)
    log(r.stderr)
    assert r.returncode == 1
    assert conf + ":2: [detect] threshold: '2'" in r.stderr
    assert conf + ":4: [socket] mode: '9'" in r.stderr
    assert conf + ":5: [socket] unknown key 'bogus'" in r.stderr
    # the label problem is found against the model only when the rest is valid
    with open(conf, "w") as f:
        f.write("[thresholds]\nyes = 0.5\nnosuchlabel = 0.5\n")
    r = subprocess.run([DRSND, "--config", conf, "--check-config", "--model", MODEL],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and conf + ":3: [thresholds] nosuchlabel: no such label" in r.stderr, r.stderr
    assert "did you mean" not in r.stderr, r.stderr
    # a typo of a label: the label meant, before the model's list
    with open(conf, "w") as f:
        f.write("[thresholds]\nYse = 0.5\n")
    r = subprocess.run([DRSND, "--config", conf, "--check-config", "--model", MODEL],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and (conf + ":2: [thresholds] Yse: no such label in %s; did you mean 'yes'? (labels: "
                                  % MODEL) in r.stderr, r.stderr
    # the shipped config is valid (with the test model)
    shipped = os.path.join(os.environ["DRSN_SOURCE_ROOT"], "config", "drsnd.conf")
    r = subprocess.run([DRSND, "--config", shipped, "--check-config", "--model", MODEL],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr
    # ... and without --model it finds the default model, as an empty file
    # would: the shipped file must not pin a path that depends on the prefix
    env = {k: v for k, v in os.environ.items() if k != "DRSN_MODEL"}
    outs = []
    for c in (shipped, conf):
        with open(conf, "w") as f:
            f.write("")
        r = subprocess.run([DRSND, "--config", c, "--check-config", "--print-config"], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (c, r.stderr)
        outs.append([ln for ln in r.stdout.splitlines() if ln.startswith("path = ") and "safetensors" in ln])
    assert outs[0] == outs[1] and len(outs[0]) == 1, outs
    # command-line flags override the file
    r = subprocess.run([DRSND, "--config", shipped, "--print-config", "--set", "detect.threshold=0.5",
                        "--source", "stdin", "-v"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "threshold = 0.5\n" in r.stdout and "source = stdin\n" in r.stdout and "log_level = info" in r.stdout
    r = subprocess.run([DRSND, "--set", "detect.nokey=1", "--check-config"], capture_output=True, text=True)
    assert r.returncode == 1 and "command line: [detect] unknown key 'nokey'" in r.stderr
    r = subprocess.run([DRSND, "--bogus-flag"], capture_output=True, text=True)
    assert r.returncode == 2 and "did you mean" not in r.stderr, r.stderr
    # a typo: getopt's message, then the option meant, then the usage
    r = subprocess.run([DRSND, "--wait-for-clint"], capture_output=True, text=True)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and lines[0].endswith(": unrecognized option '--wait-for-clint'"), r.stderr
    assert lines[1] == "drsnd: did you mean '--wait-for-client'?" and lines[2].startswith("usage: drsnd"), r.stderr
    r = subprocess.run([DRSND, "--config", "/nonexistent.conf", "--check-config"], capture_output=True, text=True)
    assert r.returncode == 1 and "/nonexistent.conf: cannot open" in r.stderr
    # what start-up would refuse: an unknown group (the unit passes
    # socket.group=audio), a missing audio file, a closed descriptor; each
    # with start-up's message, after where the key was set
    empty = os.path.join(tmp, "drsnd-test-empty.conf")
    open(empty, "w").close()
    for key, value, msg in [
            ("socket.group", "nosuchgroup-drsnd", "[socket] group: no group named 'nosuchgroup-drsnd'"),
            ("audio.source", "file:/nonexistent.wav", "[audio] source: /nonexistent.wav: no such file"),
            ("audio.source", "fd:99999", "[audio] source: fd:99999: not an open file descriptor")]:
        r = subprocess.run([DRSND, "--config", empty, "--check-config", "--model", MODEL,
                            "--set", key + "=" + value], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "command line: " + msg in r.stderr, (key, value, r.stderr)
        d = Daemon("--set", key + "=" + value, config=empty,
                   source=None if key != "socket.group" else "file:" + setup_wav(tmp))
        assert d.p.wait(20) == 1 and msg.split(": ", 1)[1] in d.stderr(), d.stderr()
    for source in ("file:" + setup_wav(tmp), "fd:0"):
        r = subprocess.run([DRSND, "--config", empty, "--check-config", "--model", MODEL,
                            "--set", "audio.source=" + source], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
    # errors name their line: a bad source, two keys out of order, a key
    # given twice; a label the model lacks is a config error, not "[model] path"
    with open(conf, "w") as f:
        f.write("[audio]\nsource = http://x\nretry_min_ms = 5000\nretry_max_ms = 1000\n"
                "[detect]\nthreshold = 0.5\nthreshold = 0.6\n")
    r = subprocess.run([DRSND, "--config", conf, "--check-config", "--model", MODEL],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert conf + ":2: [audio] source: 'http://x' is not" in r.stderr, r.stderr
    assert conf + ":4: [audio] retry_min_ms (5000) is larger than retry_max_ms (1000)" in r.stderr
    assert conf + ":7: [detect] threshold: duplicate key, also set at line 6" in r.stderr
    with open(conf, "w") as f:
        f.write("[thresholds]\nbogus = 0.5\n")
    r = subprocess.run([DRSND, "--config", conf, "--check-config", "--model", MODEL],
                       capture_output=True, text=True, timeout=60)
    line = [l for l in r.stderr.splitlines() if "bogus" in l]
    assert r.returncode == 1 and line and line[0].startswith(conf + ":2: [thresholds] bogus: no such label"), r.stderr
    assert line[0].endswith(")"), line
    # --print-config reads back the same, " ;" and all
    r = subprocess.run([DRSND, "--config", empty, "--print-config", "--set", "audio.source=file:/tmp/a ;b.wav"],
                       capture_output=True, text=True, timeout=60)
    with open(conf, "w") as f:
        f.write(r.stdout)
    r2 = subprocess.run([DRSND, "--config", conf, "--print-config"], capture_output=True, text=True, timeout=60)
    assert r2.returncode == 0 and r2.stdout == r.stdout and 'source = "file:/tmp/a ;b.wav"\n' in r2.stdout, r2


def test_documented_python_client():
    """The ~20-line client in docs/protocol.md works as shown."""
    doc = open(os.path.join(os.environ["DRSN_SOURCE_ROOT"], "docs", "protocol.md")).read()
    code = doc.split("```python\n", 1)[1].split("```", 1)[0]
    assert 15 <= len(code.strip().splitlines()) <= 25, len(code.splitlines())
    tmp = os.environ["TMPDIR"]
    client_py = os.path.join(tmp, "client.py")
    with open(client_py, "w") as f:
        f.write(code)
    sock = os.path.join(tmp, "doc.sock")
    d = subprocess.Popen([DRSND, "--socket", sock, "--model", MODEL, "--source", "stdin", "--exit-on-eof",
                          "--set", "detect.threshold=0"], stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    RUNNING.append(d)
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.02)
    cl = subprocess.Popen(["/usr/bin/python3", client_py, sock], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    import struct
    d.stdin.write(b"".join(struct.pack("<h", int(8000 * ((i * 7919) % 200 - 100) / 100)) for i in range(48000)))
    d.stdin.close()
    out, _ = cl.communicate(timeout=30)
    assert d.wait(10) == 0
    lines = out.splitlines()
    log("documented client printed:", lines[:3])
    assert lines[0].startswith("connected to drsnd") and "source stdin" in lines[0], lines
    assert len(lines) >= 3 and all(" at " in l and l.rstrip().endswith(" s") for l in lines[1:]), lines


def test_half_closed_client_keeps_receiving():
    """A client that shuts down its sending side (socat when its stdin ends,
    as in docs/protocol.md's `printf ... | socat -t 3600 - UNIX-CONNECT:...`)
    still gets its replies and events, and its last line needs no newline;
    so does a PCM reader. It was disconnected at its EOF. Its slot is freed
    soon after it closes for good, even when nothing is written to it."""
    tmp = os.environ["TMPDIR"]
    pcm = os.path.join(tmp, "half-pcm.sock")
    d = Daemon("--set", "denoise.pcm_socket=" + pcm, "--set", "detect.level_interval_ms=50",
               source="file:" + setup_wav(tmp, 30)).wait_listening()
    try:
        c = d.client()
        c.send(b'{"type":"subscribe","events":["level"]}\n{"type":"status","id":"last"}')
        c.s.shutdown(socket.SHUT_WR)
        st, _ = c.wait_for(lambda m: m.get("id") == "last", 5, "reply to the last line, sent without newline")
        assert st["type"] == "status", st
        # events go on (every 50 ms; waited for, not counted in a window: a
        # loaded or sanitizer build is slower, a dropped client gets none)
        end, levels = time.time() + 20, 0
        while levels < 15 and time.time() < end and not c.eof:
            m = c.recv(max(0.01, end - time.time()))
            levels += bool(m and m["type"] == "level")
        assert levels >= 15 and not c.eof, (levels, c.eof)
        # the PCM reader that sends nothing and says so still gets audio
        r = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        r.connect(pcm)
        r.shutdown(socket.SHUT_WR)
        r.settimeout(10)
        got, end = 0, time.time() + 20
        while got < 16000 and time.time() < end:
            x = r.recv(65536)
            if not x:
                break
            got += len(x)
        r.close()
        assert got >= 16000, got   # 0.5 s at 32000 bytes/s
        # the documented socat line, as written, for 2 s
        doc = open(os.path.join(os.environ["DRSN_SOURCE_ROOT"], "docs", "protocol.md")).read()
        block = doc.split("## Quick look with socat", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
        cmd = [para for para in block.split("\n\n") if "printf" in para][0]
        cmd = "\n".join(ln for ln in cmd.splitlines() if not ln.startswith("#"))
        assert "-t 3600" in cmd, cmd
        sh = subprocess.Popen(["sh", "-c", cmd.replace("/run/drsnd/drsnd.sock", d.sock)],
                              stdout=subprocess.PIPE, start_new_session=True)
        RUNNING.append(sh)
        types, end = [], time.time() + 30
        while (types.count("level") < 10 or types.count("scores") < 10) and time.time() < end:
            if select.select([sh.stdout], [], [], max(0.01, end - time.time()))[0]:
                ln = sh.stdout.readline()
                if not ln:
                    break
                types.append(json.loads(ln)["type"])
        os.killpg(sh.pid, signal.SIGTERM)
        sh.communicate(timeout=10)
        log("documented socat session: %d lines, %d level" % (len(types), types.count("level")))
        assert types[:3] == ["hello", "subscribed", "status"], types[:5]
        assert types.count("level") >= 10 and types.count("scores") >= 10, types
        # closed for good after its EOF: the slot is freed without a write
        q = d.client()

        def clients_soon(want):
            for _ in range(40):   # socat's slot goes at the next level event
                n = q.request({"type": "status"})["clients"]
                if n == want:
                    break
                time.sleep(0.1)
            return n
        assert clients_soon(2) == 2   # c, q
        h = d.client()
        h.request({"type": "subscribe", "events": []})
        h.s.shutdown(socket.SHUT_WR)
        time.sleep(0.7)   # past a check of the half-closed
        assert q.request({"type": "status"})["clients"] == 3   # c, q, h
        h.close()
        assert clients_soon(2) == 2
    finally:
        assert d.stop() == 0


def test_level_interval_at_48k():
    """A 48 kHz model with level_interval_ms = 60000: samples per level event
    (2.88e9) overflowed an int and every sample sent one. 2 s of audio must
    bring none."""
    tmp = tempfile.mkdtemp()
    fe, model = os.path.join(tmp, "fe48.json"), os.path.join(tmp, "m48.safetensors")
    with open(fe, "w") as f:
        json.dump({"sample_rate": 48000}, f)
    subprocess.run([sys.executable, os.path.join(ROOT, "train", "export.py"), "--random", "--arch", "small",
                    "--seed", "1", "--frontend", fe, "-o", model], check=True, capture_output=True)
    d = Daemon("--set", "audio.raw_format=s16le", "--set", "audio.raw_rate=48000",
               "--set", "detect.level_interval_ms=60000", model=model, source="stdin",
               stdin=subprocess.PIPE).wait_listening()
    c = d.client()
    c.request({"type": "subscribe", "events": ["level", "status"]})
    d.p.stdin.write(b"\x10\x00" * 96000)
    d.p.stdin.close()
    _, seen = c.wait_for(lambda m: m["type"] == "status" and m["source"]["state"] == "ended", 20, "end of stream")
    levels = [m for m in seen if m["type"] == "level"]
    assert not levels, "%d level events, first %s" % (len(levels), levels[:1])
    assert c.request({"type": "status"})["stream_time"] == 2.0
    assert d.stop() == 0, d.stderr()[-2000:]


def key_paths(obj, prefix=""):
    """Every key of a JSON object, nested ones as "source.name", in a list of
    objects as "warnings[].event"."""
    out = set()
    for k, v in obj.items():
        out.add(prefix + k)
        for x in (v if isinstance(v, list) else [v]):
            if isinstance(x, dict):
                out |= key_paths(x, prefix + k + ("[]." if isinstance(v, list) else "."))
    return out


def test_documented_fields_are_sent():
    """Every field of every JSON example in docs/protocol.md is one drsnd sends
    in that event, and every field drsnd sends is in the example of its event
    (a renamed or new field must be documented). ~3 s."""
    doc = open(os.path.join(ROOT, "docs", "protocol.md")).read()
    documented = {}
    for block in doc.split("```json\n")[1:]:
        obj = json.loads(block.split("```", 1)[0].replace(",...", ""))
        documented.setdefault(obj["type"], set()).update(key_paths(obj))
    assert {"hello", "detection", "scores", "level", "vad", "status", "error", "subscribed"} <= set(documented)
    tmp = os.environ["TMPDIR"]
    # every optional field on: vad events (with speech: the denoiser runs), pcm counters
    d = stdin_daemon("--set", "detect.vad=yes", "--set", "detect.threshold=0", "--set", "denoise.classify_on=denoised",
                     "--set", "denoise.pcm_socket=" + os.path.join(tmp, "fields-pcm.sock"), model=MODEL)
    quiet = stdin_daemon(model=MODEL)   # vad = no: its subscribed reply warns
    sent = {}
    try:
        c = d.client()
        msgs = [c.hello, c.request({"type": "subscribe", "events": ["detection", "scores", "level", "vad", "status"]}),
                quiet.client().request({"type": "subscribe", "events": ["vad"]})]
        c.send(b'{"type":"nosuch","id":7}\n')   # an error event
        feed(d, raw_s16(os.path.join(ROOT, "samples", "keywords-clean.wav")))
        end = time.time() + 30
        while time.time() < end and not all(t in sent for t in documented):
            m = c.recv(max(0.01, end - time.time()))
            for x in msgs + ([m] if m else []):
                sent.setdefault(x["type"], set()).update(key_paths(x))
            msgs = []
    finally:
        assert quiet.stop() == 0 and d.stop() == 0
    wrong = []
    for t, keys in sorted(documented.items()):
        if t not in sent:
            wrong.append("docs/protocol.md shows a %r event that drsnd did not send" % t)
            continue
        if keys - sent[t]:
            wrong.append("docs/protocol.md's %r example has fields drsnd does not send: %s" % (
                t, sorted(keys - sent[t])))
        if sent[t] - keys - {"id"}:
            wrong.append("drsnd's %r event has fields docs/protocol.md's example does not show: %s" % (
                t, sorted(sent[t] - keys - {"id"})))
    assert not wrong, "\n".join(wrong)

if __name__ == "__main__":
    main([test_documented_python_client, test_hello_and_commands, test_subscribe_warns_of_events_that_never_come,
          test_vad_and_periodic_status, test_flood_and_max_clients, test_gone_clients_do_not_fill_the_server,
          test_socket_file_handling,
          test_socket_never_wider_than_configured, test_line_limit_without_terminator,
          test_graceful_stop_flushes_clients, test_check_config, test_overflowing_model, test_half_closed_client_keeps_receiving,
          test_level_interval_at_48k, test_documented_fields_are_sent, test_wall_clock_steps])
