#!/usr/bin/python3
"""drsnd life cycle: systemd notifications through a fake NOTIFY_SOCKET
(READY=1 once the socket listens, WATCHDOG=1 at half WATCHDOG_USEC,
RELOADING=1/READY=1 on SIGHUP, STOPPING=1), and SIGHUP/reload with a corrupt
model or a bad config keeping the old ones while the daemon keeps serving."""
import os
import re
import shutil
import signal
import socket
import time

from drsndtest import DRSND, MODEL, Daemon, Client, main, log, needs, write_wav, noise_bursts


def wav(seconds):
    path = os.path.join(os.environ["TMPDIR"], "in-%d.wav" % seconds)
    if not os.path.exists(path):
        write_wav(path, noise_bursts(seconds))
    return path


@needs("systemd")   # sd_notify
def test_notify_ready_watchdog_reload_stop():
    tmp = os.environ["TMPDIR"]
    npath = os.path.join(tmp, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(npath)
    ns.settimeout(10)
    d = Daemon(source="file:" + wav(20), env={"NOTIFY_SOCKET": npath, "WATCHDOG_USEC": "200000"})
    msgs = []

    def next_msg(timeout=10):
        ns.settimeout(timeout)
        m = ns.recv(4096).decode()
        msgs.append((time.time(), m))
        return m

    m = next_msg()
    assert m.startswith("READY=1\nSTATUS=listening on " + d.sock), m
    # READY=1 means the socket already listens: connect must work now
    c = Client(d.sock)
    # watchdog: every 100 ms (half of 200 ms)
    t0 = time.time()
    pings = []
    while time.time() - t0 < 1.2:
        m = next_msg(2)
        if m == "WATCHDOG=1":
            pings.append(time.time())
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    log("watchdog pings: %d in 1.2 s, gaps %.3f..%.3f s" % (len(pings), min(gaps), max(gaps)))
    assert 8 <= len(pings) <= 15, len(pings)
    assert max(gaps) < 0.35, gaps
    # SIGHUP: RELOADING=1 then READY=1
    d.signal(signal.SIGHUP)
    seen = []
    while not any(s.startswith("READY=1") for s in seen):
        m = next_msg(5)
        if m != "WATCHDOG=1":
            seen.append(m)
    assert seen[0].startswith("RELOADING=1"), seen
    assert "reloaded" in seen[-1], seen
    h, _ = c.wait_for(lambda m: m["type"] == "hello", 5, "hello after reload")
    # SIGTERM: STOPPING=1
    d.signal(signal.SIGTERM)
    while True:
        m = next_msg(5)
        if m.startswith("STOPPING=1"):
            break
    assert d.p.wait(10) == 0
    c.close()
    ns.close()
    # Without NOTIFY_SOCKET nothing is sent and nothing breaks (covered by
    # every other test); a NOTIFY_SOCKET nobody listens on is harmless too.
    d = Daemon(source="file:" + wav(20), env={"NOTIFY_SOCKET": npath + ".none", "WATCHDOG_USEC": "100000"})
    d.wait_listening()
    time.sleep(0.3)
    assert d.stop() == 0


def status(c):
    return c.request({"type": "status"})


def test_reload_keeps_old_on_errors():
    tmp = os.environ["TMPDIR"]
    model = os.path.join(tmp, "model.safetensors")
    shutil.copy(MODEL, model)
    conf = os.path.join(tmp, "drsnd.conf")
    good = "[detect]\nthreshold = 0.0\nrefractory_ms = 300\n"
    with open(conf, "w") as f:
        f.write(good)
    d = Daemon(source="file:" + wav(40), model=model, config=conf).wait_listening()
    try:
        c = d.client()
        assert c.hello["model"]["name"] == "model"
        # threshold 0: something fires every refractory period
        c.wait_for(lambda m: m["type"] == "detection", 5, "detection")

        # 1. corrupt model + SIGHUP: old model stays, everyone is told
        with open(model, "r+b") as f:
            f.seek(0)
            f.write(b"\xff" * 64)
        d.signal(signal.SIGHUP)
        e, _ = c.wait_for(lambda m: m["type"] == "error", 10, "reload_failed error")
        log("corrupt model:", e["message"])
        assert e["code"] == "reload_failed" and "model not reloaded" in e["message"] and model in e["message"], e
        n0 = status(c)["inferences"]
        c.wait_for(lambda m: m["type"] == "detection", 5, "detection after failed reload")
        st = status(c)
        assert st["reload_failures"] == 1 and st["reloads"] == 0 and st["inferences"] > n0, st
        assert st["model"] == "model"

        # 2. bad config + reload command: old config stays
        shutil.copy(MODEL, model)
        with open(conf, "w") as f:
            f.write("[detect]\nthreshold = banana\n")
        r = c.request({"type": "reload"}, timeout=10)
        log("bad config:", r["message"])
        assert r["type"] == "reload" and r["ok"] is False, r
        assert conf + ":2: [detect] threshold: 'banana'" in r["message"], r
        c.wait_for(lambda m: m["type"] == "detection", 5, "detection after bad config")
        assert status(c)["reload_failures"] == 2

        # 3. a threshold for a label the model does not have
        with open(conf, "w") as f:
            f.write(good + "[thresholds]\nbanana = 0.5\n")
        r = c.request({"type": "reload"}, timeout=10)
        assert r["ok"] is False and "banana: no such label" in r["message"], r

        # 4. a good config: threshold 1.0 silences detections; hello re-sent
        with open(conf, "w") as f:
            f.write("[detect]\nthreshold = 1.0\n")
        c.send({"type": "reload", "id": "r4"})
        r, before = c.wait_for(lambda m: m.get("id") == "r4", 10, "reload reply")
        assert r["ok"] is True, r
        assert any(m["type"] == "hello" for m in before), "no hello after reload"
        st = status(c)
        assert st["reloads"] == 1 and st["reload_failures"] == 3, st
        n = st["detections"]
        time.sleep(1.0)
        assert status(c)["detections"] == n, "threshold 1.0 still detects"
        # the daemon never dropped the client or stopped the audio
        assert status(c)["source"]["state"] == "running"
        # 5. back to threshold 0: the new pipeline's times continue the
        #    stream's clock (they do not restart at 0). It has heard the last
        #    window again, so the window that fired may end a little before
        #    the reload (it is one of the smoothing span's)
        with open(conf, "w") as f:
            f.write(good)
        t_reload = status(c)["stream_time"]
        assert c.request({"type": "reload"}, timeout=10)["ok"] is True
        det, _ = c.wait_for(lambda m: m["type"] == "detection", 5, "detection after reload")
        log("reload at stream time %.2f s, next detection at %.2f s" % (t_reload, det["stream_time"]))
        assert det["stream_time"] >= t_reload and det["end"] >= det["stream_time"] - 0.31, (t_reload, det)
        c.close()
    finally:
        assert d.stop() == 0
    err = d.stderr()
    assert "model not reloaded" in err and "config not reloaded" in err


def test_reload_names_restart_only_keys():
    """A reload keeps the running value of a key that applies only at start,
    and its reply (and the log) names it, again on the next reload."""
    conf = os.path.join(os.environ["TMPDIR"], "restart.conf")
    with open(conf, "w") as f:
        f.write("[detect]\nthreshold = 0.9\n")
    d = Daemon(source="file:" + wav(20), config=conf).wait_listening()
    try:
        c = d.client()
        r = c.request({"type": "reload"}, timeout=10)
        assert r["ok"] is True and "restart" not in r["message"], r
        with open(conf, "w") as f:
            f.write("[detect]\nthreshold = 0.5\n[socket]\nmax_clients = 3\n[audio]\nring_ms = 100\n")
        for _ in range(2):   # the next reload still says so: not applied yet
            r = c.request({"type": "reload"}, timeout=10)
            assert r["ok"] is True and r["message"].endswith(
                "; needs a restart to apply: [socket] max_clients, [audio] ring_ms"), r
        c.close()
    finally:
        assert d.stop() == 0
    assert "reload: needs a restart to apply: [socket] max_clients, [audio] ring_ms" in d.stderr()


def test_command_line_overrides_are_named():
    """The systemd unit runs drsnd --config drsnd.conf --set socket.group=audio:
    a [socket] group edited in the file is not used. --check-config, the start
    and each reload say so, naming the file's line and both values; a key set
    to the same value on both is not mentioned."""
    import subprocess
    tmp = os.environ["TMPDIR"]
    conf = os.path.join(tmp, "override.conf")
    with open(conf, "w") as f:
        f.write("[socket]\ngroup = staff-nosuch\nmax_clients = 5\n[detect]\nthreshold = 0.5\n")
    want = ("%s:2: [socket] group = 'staff-nosuch' is not used: the command line sets '' "
            "(command-line options override the config file)" % conf)
    r = subprocess.run([DRSND, "--config", conf, "--check-config", "--model", MODEL, "--set", "socket.group=",
                        "--set", "detect.threshold=0.5"], capture_output=True, text=True, timeout=60)
    log(r.stdout, r.stderr)
    assert r.returncode == 0 and "warning: " + want in r.stderr, r
    assert "max_clients" not in r.stderr and "threshold" not in r.stderr, r.stderr
    d = Daemon("--set", "socket.group=", "--set", "detect.threshold=0.5", source="file:" + wav(20),
               config=conf).wait_listening()
    try:
        c = d.client()
        assert c.request({"type": "reload"}, timeout=10)["ok"] is True
        c.close()
    finally:
        assert d.stop() == 0
    err = d.stderr()
    assert err.count("drsnd: warning: " + want) == 2, err
    assert "threshold" not in err, err
    # the start line says which drsnd runs (the journal of an edge box)
    version = subprocess.run([DRSND, "--version"], capture_output=True, text=True).stdout.split()[1]
    assert "drsnd: notice: drsnd %s listening on %s; source file:" % (version, d.sock) in err, err
    # at the default level (warning) too, and the stop; -q (errors only) has neither
    for level, shown in (("warning", True), ("error", False)):
        d = Daemon(source="file:" + wav(2), log_level=level).wait_listening()
        assert d.stop() == 0
        err = d.stderr()
        log(level, err)
        assert ("drsnd: notice: drsnd %s listening on %s" % (version, d.sock) in err) == shown, err
        assert ("drsnd: notice: stopped (exit status 0)" in err) == shown, err
    # --check-config names the file it checked: without --config, the
    # default one (--help names it), or says there is none
    default = re.search(r"config file \(default (\S+) if it exists\)",
                        subprocess.run([DRSND, "--help"], capture_output=True, text=True).stdout).group(1)
    r = subprocess.run([DRSND, "--check-config", "--model", MODEL], capture_output=True, text=True, timeout=60)
    log(r.stdout, r.stderr)
    want = "%s: OK\n" % default if os.path.exists(default) else "no %s, built-in defaults: OK\n" % default
    assert r.returncode == 0 and r.stdout == want, (r, want)


def test_journal_prefix_only_on_the_journal_stream():
    """Lines get the journal's "<N>" priority prefix only when stderr is the
    stream JOURNAL_STREAM names: a child of a service inherits the variable
    with its stderr sent elsewhere (a file here), which gets plain lines."""
    import subprocess
    path = os.path.join(os.environ["TMPDIR"], "journal-stderr.txt")
    for same in (False, True):
        with open(path, "wb") as f:
            st = os.fstat(f.fileno())
            js = "%d:%d" % (st.st_dev, st.st_ino) if same else "%d:%d" % (st.st_dev, st.st_ino + 1)
            env = dict(os.environ, JOURNAL_STREAM=js)
            rc = subprocess.run([DRSND, "--config", "/dev/null", "--model", MODEL, "--set", "detect.threshold=7"],
                                stdin=subprocess.DEVNULL, stderr=f, env=env, timeout=60).returncode
        with open(path) as f:
            err = f.read()
        log(js, err.strip())
        assert rc == 1, rc
        want = "<3>" if same else "drsnd: error: "
        assert err.startswith(want + "command line: [detect] threshold: '7'"), (js, err)


def test_model_named_by_the_file_a_link_leads_to():
    """The installed default.safetensors is a link to the shipped model:
    hello, status and the start line name the model the link leads to."""
    link = os.path.join(os.environ["TMPDIR"], "default.safetensors")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(MODEL, link)
    want = os.path.basename(MODEL)[:-len(".safetensors")]
    d = Daemon("-v", model=link, source="file:" + wav(2)).wait_listening()
    c = d.client()
    assert c.hello["model"]["name"] == want, (c.hello["model"]["name"], want)
    assert c.request({"type": "status"})["model"] == want
    assert d.stop() == 0
    assert "; model %s" % want in d.stderr(), d.stderr()[-2000:]


if __name__ == "__main__":
    main([test_notify_ready_watchdog_reload_stop, test_reload_keeps_old_on_errors,
          test_reload_names_restart_only_keys, test_command_line_overrides_are_named,
          test_journal_prefix_only_on_the_journal_stream, test_model_named_by_the_file_a_link_leads_to])
