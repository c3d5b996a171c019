"""The exec plugin end to end: drsnd with a file source of
samples/stream-noisy.wav (its keywords, by `drsn detect`: off yes three
eight nine up left stop five no), a trained model, and exec loaded.

  1. a label key runs for its label, `any` for every other label: one
     command per detection, with DRSN_LABEL/SCORE/START/END/TIME/STREAM as the
     detection the daemon logged, in stream order;
  2. timeout_ms: a `sleep 60` gets SIGTERM (logged), a command that ignores
     SIGTERM gets SIGKILL; a non-zero exit status and the command's stdout and
     stderr lines are logged;
  3. max_running: a detection while that many run is skipped (logged);
     min_interval_ms: a label's command does not start again too soon;
  4. a command that floods its output: at most 20 lines logged, a line cut at
     400 bytes, the daemon's RSS and log do not grow with the flood;
  5. a command that is not there, not executable, or a label the model does
     not have: create fails with a message naming the key and its line,
     drsnd runs on without the plugin; bad quoting too; `drsnd
     --check-config` reports the same (exit 1), and OK for a good section;
  6. a reload to a model without a key's label: logged with the key's line;
  7. drsnd as PID 1 of a container without --init (unshare --pid, as root)
     or a child subreaper (prctl, as anyone): the orphans of commands that
     background a job are reaped (no zombie per detection), the commands'
     own exit statuses are still logged; SIGINT/SIGTERM stop it, exit 0;
  8. a second SIGTERM (and a SIGHUP) while drsnd stops waiting for its
     commands: it stops as the first one said (exit 0, commands killed).

usage: test_exec.py EXEC_SO MODEL   (DRSN_TEST_MODEL overrides MODEL)
"""
import os
import re
import signal
import sys
import tempfile
import time
import wave

ROOT = os.environ.get("DRSN_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "daemon"))
import drsndtest as dt  # noqa: E402

MODULE = os.path.abspath(sys.argv[1])
MODEL = os.environ.get("DRSN_TEST_MODEL") or sys.argv[2]
SOURCE = "file:" + os.path.join(ROOT, "samples", "stream-noisy.wav")
TRUTH = ["off", "yes", "three", "eight", "nine", "up", "left", "stop", "five", "no"]
DET = re.compile(r"drsnd: info: detection: (\S+) (\d\.\d+) \[([\d.]+), ([\d.]+)\] s")


def config(tmp, keys):
    path = os.path.join(tmp, "drsnd-%d.conf" % int(time.time() * 1e6))
    with open(path, "w") as f:
        f.write("[plugins]\ndir = %s\nload = exec\n\n[plugin exec]\n" % os.path.dirname(MODULE))
        for k, v in keys:
            f.write("%s = %s\n" % (k, v))
    return path


def run_until(d, cond, timeout=90):
    end = time.time() + timeout
    while time.time() < end:
        if cond(d.stderr()):
            return d.stderr()
        time.sleep(0.1)
    raise AssertionError("timed out; log:\n" + d.stderr()[-4000:])


def test_label_and_any_keys():
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "out.txt")
    line = ('echo "%s $DRSN_START $DRSN_LABEL $DRSN_SCORE $DRSN_END $DRSN_TIME $DRSN_STREAM '
            '${WATCHDOG_PID:-none}" >> ' + out)
    cfg = config(tmp, [("max_running", 32),
                       ("yes", "sh -c '%s'" % (line % "L")),
                       ("stop", "sh -c '%s'" % (line % "L")),
                       ("any", "sh -c '%s'" % (line % "A"))])
    t0 = time.time()
    # a DRSN_LABEL of drsnd's own environment is replaced, systemd's watchdog
    # variables are not handed on
    d = dt.Daemon("--no-realtime", model=MODEL, source=SOURCE, config=cfg,
                  env={"DRSN_LABEL": "stale", "WATCHDOG_PID": "1"})
    d.wait_listening()
    err = run_until(d, lambda e: "end of file" in e)
    dets = DET.findall(err)
    dt.log("detections:", dets)
    assert [x[0] for x in dets] == TRUTH, dets
    end = time.time() + 30
    while time.time() < end and (not os.path.exists(out) or len(open(out).read().splitlines()) < len(dets)):
        time.sleep(0.1)
    time.sleep(0.5)   # no extra line comes
    assert d.stop() == 0
    err = d.stderr()
    assert "plugin exec (%s): loaded" % MODULE in err, err
    rows = [ln.split() for ln in open(out).read().splitlines()]
    dt.log("\n".join(" ".join(r) for r in rows))
    # commands run concurrently: order by DRSN_START, which must be the stream's
    rows.sort(key=lambda r: float(r[1]))
    assert len(rows) == len(dets), (rows, dets)
    for r, (label, score, start, end_) in zip(rows, dets):
        kind, s, lab, sc, e, wall, stream, wd = r
        assert wd == "none", r
        assert lab == label and kind == ("L" if label in ("yes", "stop") else "A"), (r, label)
        assert abs(float(sc) - float(score)) <= 0.0006 and len(sc.split(".")[1]) == 4, (sc, score)
        assert abs(float(s) - float(start)) <= 0.006 and abs(float(e) - float(end_)) <= 0.006, (r, start, end_)
        assert t0 - 1 <= float(wall) <= time.time() + 1, wall
        assert stream, r
    assert err.count("plugin exec: ") >= len(dets) and "exited with status" not in err, err


def test_timeout_kill_exit_status_and_output():
    tmp = tempfile.mkdtemp()
    cfg = config(tmp, [("max_running", 32), ("timeout_ms", 400),
                       ("off", "sleep 60"),
                       ("yes", "sh -c 'trap \"\" TERM; echo armed; sleep 60'"),
                       # a ';' after a blank is a drsnd.conf comment unless the value is quoted
                       ("three", "\"sh -c 'echo to stdout ; echo to stderr >&2 ; exit 3'\"")])
    d = dt.Daemon("--no-realtime", model=MODEL, source=SOURCE, config=cfg)
    d.wait_listening()
    err = run_until(d, lambda e: "yes[" in e and "killed by signal 9" in e and "exited with status 3" in e,
                    timeout=60)
    assert d.stop() == 0
    err = d.stderr()
    dt.log("\n".join(ln for ln in err.splitlines() if "plugin exec" in ln))
    assert re.search(r"plugin exec: off\[\d+\]: still running after timeout_ms = 400: SIGTERM", err), err
    assert re.search(r"plugin exec: off\[\d+\]: killed by signal 15 \(Terminated\), after timeout_ms", err), err
    assert re.search(r"info: plugin exec: yes\[\d+\]: armed", err), err
    assert re.search(r"plugin exec: yes\[\d+\]: still running 2000 ms after SIGTERM: SIGKILL", err), err
    assert re.search(r"plugin exec: yes\[\d+\]: killed by signal 9 \(Killed\)", err), err
    assert re.search(r"info: plugin exec: three\[\d+\]: to stdout", err), err
    assert re.search(r"warning: plugin exec: three\[\d+\]: to stderr", err), err
    assert re.search(r"plugin exec: three\[\d+\]: exited with status 3", err), err


def test_max_running_and_min_interval():
    tmp = tempfile.mkdtemp()
    cfg = config(tmp, [("max_running", 1), ("any", "sleep 30")])
    d = dt.Daemon("--no-realtime", model=MODEL, source=SOURCE, config=cfg)
    d.wait_listening()
    run_until(d, lambda e: "end of file" in e)
    t = time.time()
    assert d.stop() == 0
    err = d.stderr()
    dt.log("stop took %.2f s" % (time.time() - t))
    started = re.findall(r"plugin exec: (\S+) \S+: started sleep", err)
    skipped = re.findall(r"plugin exec: (\S+) \S+: skipped: 1 command\(s\) still running \(max_running = 1\)", err)
    dt.log("started", started, "skipped", skipped)
    assert started == ["off"] and skipped == TRUTH[1:], (started, skipped)
    # at stop the running command gets SIGTERM and is waited for
    assert re.search(r"plugin exec: off\[\d+\]: drsnd stops: SIGTERM", err), err
    assert re.search(r"plugin exec: off\[\d+\]: killed by signal 15", err), err

    # min_interval_ms: the file twice in a row, every label comes again
    twice = os.path.join(tmp, "twice.wav")
    with wave.open(SOURCE[5:], "rb") as r, wave.open(twice, "wb") as w:
        w.setparams(r.getparams())
        x = r.readframes(r.getnframes())
        w.writeframes(x + x)
    out = os.path.join(tmp, "n.txt")
    cfg = config(tmp, [("max_running", 32), ("min_interval_ms", 600000),
                       ("any", "sh -c 'echo $DRSN_LABEL >> %s'" % out)])
    d = dt.Daemon("--no-realtime", model=MODEL, source="file:" + twice, config=cfg)
    d.wait_listening()
    err = run_until(d, lambda e: "end of file" in e)
    assert [x[0] for x in DET.findall(err)] == TRUTH + TRUTH, DET.findall(err)
    time.sleep(1)
    assert d.stop() == 0
    err = d.stderr()
    labels = open(out).read().split()
    again = re.findall(r"plugin exec: (\S+) \S+: skipped: within min_interval_ms = 600000", err)
    dt.log("ran", labels, "skipped", again[:12])
    assert sorted(labels) == sorted(TRUTH), labels
    assert again[:len(TRUTH)] == TRUTH, again


def test_output_flood_is_bounded():
    tmp = tempfile.mkdtemp()
    # yes: lines without end; cat /dev/zero: one endless line (no newline)
    cfg = config(tmp, [("max_running", 32), ("timeout_ms", 3000), ("off", "yes flood"),
                       ("yes", "cat /dev/zero"), ("three", "yes flood")])
    d = dt.Daemon("--realtime", model=MODEL, source=SOURCE, config=cfg)
    d.wait_listening()
    rss0 = d.rss_kb()
    err = run_until(d, lambda e: "three[" in e and e.count("more than 20 lines") == 2
                    and re.search(r"yes\[\d+\]: killed by signal 15", e), timeout=60)
    rss1 = d.rss_kb()
    assert d.stop() == 0
    err = d.stderr()
    size = os.path.getsize(d.errpath)
    flood = re.findall(r"plugin exec: (?:off|three)\[\d+\]: flood$", err, re.M)
    zero = re.findall(r"plugin exec: yes\[\d+\]: (.*)$", err, re.M)
    dt.log("RSS %d -> %d kB, log %d bytes, %d flood lines logged" % (rss0, rss1, size, len(flood)))
    assert len(flood) == 40, len(flood)
    assert re.search(r"plugin exec: off\[\d+\]: more than 20 lines of output: the rest is not logged", err), err
    # yes stops once its stdout is closed: SIGPIPE, or (output still unread
    # when the socket closed: ECONNRESET, no signal) its write error
    assert re.search(r"plugin exec: off\[\d+\]: (killed by signal 13|exited with status 1)", err), err
    # cat /dev/zero: one line, never ended, nothing logged until it is cut
    # by the timeout; the log line is cut at 400 bytes
    assert all(len(z) < 600 for z in zero), [len(z) for z in zero]
    assert rss1 - rss0 < 8 * 1024, (rss0, rss1)
    assert size < 64 * 1024, size


def test_exactly_the_line_cap_is_not_cut():
    tmp = tempfile.mkdtemp()
    # off: exactly 20 lines, all logged, nothing cut; three: 21, the 21st cut
    cfg = config(tmp, [("off", "seq 20"), ("three", "seq 21")])
    d = dt.Daemon("--realtime", model=MODEL, source=SOURCE, config=cfg)
    d.wait_listening()
    run_until(d, lambda e: re.search(r"three\[\d+\]: more than 20 lines", e), timeout=60)
    assert d.stop() == 0
    err = d.stderr()
    off = re.findall(r"plugin exec: off\[\d+\]: (\d+)$", err, re.M)
    three = re.findall(r"plugin exec: three\[\d+\]: (\d+)$", err, re.M)
    assert off == [str(i) for i in range(1, 21)], off
    assert not re.search(r"off\[\d+\]: more than", err), err
    assert three == [str(i) for i in range(1, 21)], three


def test_bad_commands_and_labels_refused():
    tmp = tempfile.mkdtemp()
    noexec = os.path.join(tmp, "script.sh")
    with open(noexec, "w") as f:
        f.write("#!/bin/sh\n")
    os.chmod(noexec, 0o644)
    cases = [
        ([("stop", "/nonexistent/mpc pause")],
         ":6: [plugin exec] stop: '/nonexistent/mpc' is not an executable file: No such file or directory"),
        ([("max_running", 2), ("stop", "true"), ("yes", "no-such-program-xyz --flag")],
         ":8: [plugin exec] yes: 'no-such-program-xyz': no executable of that name in PATH"),
        ([("stop", noexec)],
         ":6: [plugin exec] stop: '%s' is not an executable file: Permission denied" % noexec),
        ([("banana", "true")],
         ":6: [plugin exec] unknown key 'banana' (known: any, timeout_ms, min_interval_ms, max_running, "
         "or a label of the model: _silence_, _unknown_, yes, no, "),
        ([("stop", "echo 'unterminated")], ":6: [plugin exec] stop: unterminated ' in "),
        ([("timeout_ms", "0"), ("stop", "true")], ":6: [plugin exec] timeout_ms: '0' is not an integer"),
        ([], "[plugin exec]: no command"),
    ]
    for keys, want in cases:
        cfg = config(tmp, keys)
        d = dt.Daemon(model=MODEL, source=SOURCE, config=cfg)
        d.wait_listening()
        st = d.client().request({"type": "status"})
        assert d.stop() == 0
        err = d.stderr()
        dt.log(err.splitlines()[-3:])
        assert st["plugins"] == [], st
        assert "plugin exec (%s): create failed: " % MODULE in err and "drsnd runs on without it" in err, err
        assert (cfg + want if want.startswith(":") else want) in err, (want, err)
        # drsnd --check-config creates the plugin (no command is run): the same message
        r = dt.subprocess.run([dt.DRSND, "--check-config", "--config", cfg, "--model", MODEL],
                              capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "OK" not in r.stdout, (r.stdout, r.stderr)
        assert ("plugin exec: " + (cfg + want if want.startswith(":") else want)) in r.stderr, (want, r.stderr)
    # a typo of a label: the close name
    cfg = config(tmp, [("stpo", "true")])
    r = dt.subprocess.run([dt.DRSND, "--check-config", "--config", cfg, "--model", MODEL],
                          capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "unknown key 'stpo'" in r.stderr and r.stderr.endswith(
        "; did you mean 'stop'?\n"), r.stderr
    # a good [plugin exec]: OK, and nothing of it runs
    flag = os.path.join(tmp, "ran")
    cfg = config(tmp, [("stop", "touch " + flag), ("any", "sh -c 'echo \"$DRSN_LABEL\"'")])
    r = dt.subprocess.run([dt.DRSND, "--check-config", "--config", cfg, "--model", MODEL],
                          capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout == "%s: OK\n" % cfg and not r.stderr, (r.stdout, r.stderr)
    assert not os.path.exists(flag)


def test_reload_to_a_model_without_the_label():
    """on_model: a reload to a model without a key's label logs the key and
    its line as an error (drsnd cannot refuse the reload for a plugin), and
    once a model has it again, that too."""
    import shutil
    tmp = tempfile.mkdtemp()
    model = os.path.join(tmp, "model.safetensors")
    other = os.path.join(tmp, "other.safetensors")
    shutil.copy(MODEL, model)
    r = dt.subprocess.run([sys.executable, os.path.join(ROOT, "train", "export.py"), "--random", "--variant", "cw",
                           "--arch", "small", "--labels", "yes,no,lights", "-o", other],
                          capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    cfg = config(tmp, [("stop", "true"), ("yes", "true"), ("any", "true")])
    d = dt.Daemon(model=model, source=SOURCE, config=cfg)
    d.wait_listening()
    c = d.client()
    shutil.copy(other, model)
    rep = c.request({"type": "reload"})
    assert rep["ok"], rep
    shutil.copy(MODEL, model)
    rep = c.request({"type": "reload"})
    assert rep["ok"], rep
    assert c.request({"type": "status"})["plugins"] == ["exec"]
    assert d.stop() == 0
    err = d.stderr()
    dt.log("\n".join(ln for ln in err.splitlines() if "plugin exec" in ln))
    assert ("error: plugin exec: %s:6: [plugin exec] stop: 'stop' is not a label of the new model "
            "(its labels: yes, no, lights): the key does nothing until a model has it" % cfg) in err, err
    assert "[plugin exec] yes: 'yes' is not a label" not in err, err
    assert "plugin exec: %s:6: the new model has label 'stop' again" % cfg in err, err


# PR_SET_CHILD_SUBREAPER (36), kept across the exec: drsnd gets the orphans
# below it as PID 1 does (what a container without --init does to it)
SUBREAPER = [sys.executable, "-c", "import ctypes, os, sys\n"
             "if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0): sys.exit('prctl failed')\n"
             "os.execv(sys.argv[1], sys.argv[1:])"]
PID1 = ["unshare", "--pid", "--fork", "--mount-proc"]


def pid1_ok():
    """unshare --pid works here (root, and a container that allows it)"""
    if os.getuid() != 0:
        dt.log("not root: drsnd as PID 1 is not tried, as a child subreaper only")
        return False
    probe = dt.subprocess.run(PID1 + ["true"], capture_output=True, text=True)
    if probe.returncode != 0:
        dt.log("unshare --pid is not permitted here (%s): as a child subreaper only"
               % probe.stderr.strip()[:200])
        return False
    return True


def drsnd_pid(d, wrap):
    """drsnd's pid (seen from here): unshare's child under PID1"""
    if wrap != PID1:
        return d.p.pid
    end = time.time() + 10
    while time.time() < end:
        with open("/proc/%d/task/%d/children" % (d.p.pid, d.p.pid)) as f:
            kids = f.read().split()
        if kids:
            return int(kids[0])
        time.sleep(0.02)
    raise AssertionError("unshare started no child")


def zombie_children(pid):
    out = []
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        kids = f.read().split()
    for k in kids:
        try:
            with open("/proc/%s/stat" % k) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    out.append(int(k))
        except FileNotFoundError:
            pass
    return out


def test_orphans_reaped_as_pid1():
    """README "Running in a container": a command's background job is
    reparented to drsnd when it is PID 1; libuv waits only for its own
    children, so each detection left a zombie (10 here) until drsnd reaped
    the others. libuv still gets its children's statuses (3)."""
    wraps = [("subreaper", SUBREAPER, signal.SIGTERM)]
    if pid1_ok():
        wraps.append(("PID 1", PID1, signal.SIGINT))
    for name, wrap, sig in wraps:
        dt.log("--- drsnd as %s" % name)
        tmp = tempfile.mkdtemp()
        cfg = config(tmp, [("max_running", 32),
                           # one orphan exits with the command, one later
                           ("any", "sh -c 'true & (sleep 0.3; true) & exit 3'")])
        d = dt.Daemon("--no-realtime", model=MODEL, source=SOURCE, config=cfg, wrap=wrap)
        pid = drsnd_pid(d, wrap)
        d.wait_listening()
        err = run_until(d, lambda e: "end of file" in e and e.count("exited with status 3") == len(TRUTH))
        time.sleep(1.0)   # the late orphans exit
        zombies = zombie_children(pid)
        assert not zombies, "%s: %d zombies: %s\n%s" % (name, len(zombies), zombies, d.stderr()[-3000:])
        os.kill(pid, sig)
        assert d.p.wait(15) == 0, d.stderr()
        assert d.stop() == 0
        err = d.stderr()
        assert "%s: reaping orphaned processes" % name in err, err
        assert "%s: stopping" % sig.name in err and "stopped (exit status 0)" in err, err
        assert not os.path.exists(d.sock), "socket left behind"


def test_second_sigterm_while_stopping():
    """docker stop, then another SIGTERM (or Ctrl-C twice): the stop waits
    for the commands (SIGTERM, SIGKILL 2 s later) and ends with exit 0; the
    second signal does not kill drsnd halfway, leaving its commands."""
    tmp = tempfile.mkdtemp()
    cfg = config(tmp, [("max_running", 32), ("any", "sh -c 'trap \"\" TERM; exec sleep 60'")])
    d = dt.Daemon("--no-realtime", model=MODEL, source=SOURCE, config=cfg)
    d.wait_listening()
    run_until(d, lambda e: e.count(": started sh [") >= 2)
    with open("/proc/%d/task/%d/children" % (d.p.pid, d.p.pid)) as f:
        kids = [int(k) for k in f.read().split()]
    assert kids
    t0 = time.time()
    d.signal(signal.SIGTERM)
    time.sleep(0.3)
    d.signal(signal.SIGTERM)
    d.signal(signal.SIGHUP)
    rc = d.stop()
    took = time.time() - t0
    err = d.stderr()
    dt.log("stop took %.2f s" % took)
    assert rc == 0, "exit status %s\n%s" % (rc, err[-3000:])
    assert "SIGTERM: already stopping" in err and "SIGHUP: already stopping" in err, err
    assert "stopped (exit status 0)" in err, err
    assert re.search(r"plugin exec: \w+\[\d+\]: killed by signal 9 \(Killed\), at drsnd's stop", err), err
    assert "after timeout_ms" not in err, err
    assert 1.5 < took < 10, took
    for k in kids:   # the commands ignored SIGTERM: drsnd's SIGKILL ended them
        assert not os.path.exists("/proc/%d" % k), "command %d still runs" % k


if __name__ == "__main__":
    if not os.path.exists(MODEL):
        print("model %s is missing (set DRSN_TEST_MODEL to a trained model)" % MODEL)
        sys.exit(1)
    only = sys.argv[3:]
    dt.main([t for t in (test_label_and_any_keys, test_timeout_kill_exit_status_and_output,
                         test_max_running_and_min_interval, test_output_flood_is_bounded,
                         test_exactly_the_line_cap_is_not_cut, test_bad_commands_and_labels_refused, test_reload_to_a_model_without_the_label,
                         test_orphans_reaped_as_pid1, test_second_sigterm_while_stopping)
             if not only or t.__name__ in only])
