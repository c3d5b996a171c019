"""Throughput of the mqtt plugin: detections/s sustained at QoS 1 with none
lost, through a real mosquitto broker on loopback to a QoS 1 subscriber.

mqtt-drive loads mqtt.so like drsnd does and calls on_event() with
detection JSON (the size drsnd sends) at a fixed rate, so the figure is the
plugin + libmosquitto + broker path, not the model (which finds a few
keywords per second of audio at most).

  1. A ladder of rates, each for --seconds: a rate is sustained when every
     detection arrived (by sequence number, none lost, none missing) and the
     last one arrived within 0.5 s of when it was sent (no growing backlog).
     The ladder runs --runs times; the figure is the median of the highest
     sustained rate (the machine is shared: one ladder is noisy).
  2. A burst: --burst detections in one loop turn (queue_max as large), the
     median over --runs of received/(last arrival - first send).
  3. A fleet: --fleet plugin instances in one mqtt-drive (one connection,
     client id and topic prefix each), the ladder over the total rate.
The broker runs with max_queued_messages 0 (no per-subscriber drop limit), so
what is lost is lost on the publishing side.
Also, from the bursts, the driving process's CPU time per detection (plugin
+ libmosquitto + the driver's JSON formatting, less the driver's fixed cost
measured with one detection), which is what a box pays. (Not from the
ladder: there the driver's own 1 ms tick dominates at low rates.)

  mqtt_bench.py [--seconds 3] [--runs 3] [--burst 20000] [--rates 500,1000,...]
                [--fleet 500] [--fleet-rates 1000,2000,...]
(or: meson test -C BUILD --benchmark plugin-mqtt-bench -v)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mqtttest import MQTT_DRIVE, PLUGIN, Broker, Sub, kill_all  # noqa: E402


def run(broker, sub, rate, count, tag, extra=(), instances=1):
    """One mqtt-drive run; returns a dict of what arrived. instances > 1: a
    fleet, one connection per instance, detections round-robin."""
    wait = 300 if instances == 1 else 3000   # time to connect them all
    if instances == 1:
        topics = ["drsnd/bench-%s/detection" % tag]
        ids = ["client_id=bench-%s" % tag, "topic_prefix=drsnd/bench-%s" % tag]
    else:
        topics = ["drsnd/bench-%s-%d/detection" % (tag, i) for i in range(instances)]
        ids = ["client_id=bench-%s-%%n" % tag, "topic_prefix=drsnd/bench-%s-%%n" % tag]
    errf = tempfile.TemporaryFile()
    t0 = time.time()
    p = subprocess.Popen([MQTT_DRIVE, PLUGIN, "--count", str(count), "--rate", str(rate), "--wait-ms", str(wait),
                          "--linger-ms", "1500", "--instances", str(instances), "port=%d" % broker.port]
                         + ids + list(extra),
                         stdout=subprocess.PIPE, stderr=errf, text=True)
    _, status, ru = os.wait4(p.pid, 0)   # (its log goes to a file: a pipe would fill and block it)
    p.returncode = os.waitstatus_to_exitcode(status)
    out = p.stdout.read()
    errf.seek(0)
    err = errf.read().decode(errors="replace")
    errf.close()
    if p.returncode != 0:
        raise SystemExit("mqtt-drive failed:\n%s%s" % (out, err))
    # sent N detections in T s: the driver's own clock, from its first send
    sent_s = float(out.split(" in ")[1].split()[0])
    time.sleep(0.3)
    tset = set(topics)
    got = sub.where(lambda m: m[2] in tset)
    seqs = [json.loads(m[3])["seq"] for m in got]
    first_send = t0 + wait / 1000   # --wait-ms; refined below from the first arrival
    if got:
        first_send = min(first_send, got[0][0])
    last = got[-1][0] if got else first_send
    return {
        "received": len(set(seqs)), "dups": len(seqs) - len(set(seqs)),
        "missing": count - len(set(seqs)), "in_order": seqs == sorted(seqs),
        "send_s": sent_s, "span_s": last - first_send, "lag_s": (last - first_send) - sent_s,
        "cpu_s": ru.ru_utime + ru.ru_stime, "log": err,
        "dropped": sum(int(l.split("plugin mqtt: ")[1].split()[0]) for l in err.splitlines()
                       if "detections were dropped in all" in l),
    }


def ladder(b, sub, rates, seconds, tag, instances=1):
    """Rates in order until one is not sustained; the highest sustained."""
    best = 0
    for i, rate in enumerate(rates):
        count = max(500, int(rate * seconds))
        r = run(b, sub, rate, count, "%s-%d" % (tag, i), instances=instances)
        ok = r["missing"] == 0 and r["lag_s"] < 0.5
        print("  rate %6d/s: %6d sent in %.2f s, %6d arrived (%d missing, %d dup), last %.2f s after its send: %s"
              % (rate, count, r["send_s"], r["received"], r["missing"], r["dups"], max(0.0, r["lag_s"]),
                 "sustained" if ok else "NOT sustained"), flush=True)
        if r["dropped"]:
            print("    the plugin dropped %d (queue_max 1000 waiting + 1000 unacknowledged: the broker fell behind)"
                  % r["dropped"])
        if not ok:
            break
        best = rate
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--burst", type=int, default=20000)
    ap.add_argument("--rates", default="500,1000,2000,5000,10000,14000,20000,28000,40000")
    ap.add_argument("--fleet", type=int, default=500, help="connections in the fleet run (1: none)")
    ap.add_argument("--fleet-rates", default="1000,2000,5000,10000,14000,20000")
    a = ap.parse_args()
    rates = [int(r) for r in a.rates.split(",")]
    # the broker holds whatever the subscriber has not taken yet (by default
    # it drops QoS 1 messages beyond 1000 queued per client): a loss counted
    # here is then the publisher's
    b = Broker(["max_queued_messages 0"])
    sub = Sub(b, topic="drsnd/#", args=["-q", "1"]).ready(b)
    print("mosquitto %s on 127.0.0.1:%d, subscriber at QoS 1, publisher QoS 1, detection JSON ~150 bytes"
          % (subprocess.run([os.environ.get("MOSQUITTO", "mosquitto"), "-h"], capture_output=True,
                            text=True).stdout.split("\n")[0].split()[-1], b.port))
    # the driver's fixed cost (load, connect, linger), taken off the CPU figures
    base = statistics.median(run(b, sub, 1000, 1, "base%d" % k)["cpu_s"] for k in range(3))
    print("driver alone (1 detection): %.1f ms CPU, subtracted from the burst's" % (base * 1e3))
    bests = []
    for k in range(a.runs):
        print("ladder %d:" % (k + 1))
        bests.append(ladder(b, sub, rates, a.seconds, "l%d" % k))
    tputs, cpus = [], []
    for k in range(a.runs):
        r = run(b, sub, 0, a.burst, "b%d" % k, ["queue_max=%d" % a.burst])
        if r["missing"]:
            print("burst run %d: %d lost (%d dropped by the plugin)" % (k, r["missing"], r["dropped"]))
            continue
        tputs.append(r["received"] / max(r["span_s"], 1e-6))
        cpus.append((r["cpu_s"] - base) * 1e6 / a.burst)
    if tputs:
        print("burst of %d at once (queue_max %d), %d runs without loss: median %.0f detections/s delivered"
              " (runs: %s); %.1f us CPU/detection" % (a.burst, a.burst, len(tputs), statistics.median(tputs),
                                                       ", ".join("%.0f" % t for t in tputs), statistics.median(cpus)))
    print("sustained at QoS 1 with no loss: median %d detections/s (highest rate each ladder kept up with: %s)"
          % (statistics.median(bests), ", ".join(str(x) for x in bests)))
    if a.fleet > 1:
        frates = [int(r) for r in a.fleet_rates.split(",")]
        fbests = []
        for k in range(a.runs):
            print("fleet of %d connections (one plugin instance each, detections round-robin), ladder %d:"
                  % (a.fleet, k + 1))
            fbests.append(ladder(b, sub, frates, a.seconds, "f%d" % k, instances=a.fleet))
        print("fleet of %d boxes into one broker at QoS 1 with no loss: median %d detections/s in all, %.1f per"
              " box (highest each ladder kept up with: %s)"
              % (a.fleet, statistics.median(fbests), statistics.median(fbests) / a.fleet,
                 ", ".join(str(x) for x in fbests)))
    sub.stop()
    b.stop()
    kill_all()


if __name__ == "__main__":
    try:
        main()
    finally:
        kill_all()   # the broker and subscriber, also after a failure
